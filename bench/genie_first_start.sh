#!/usr/bin/env bash
# Genie's first start: seconds from launch to serving, the store's size on disk, and memory
# and CPU once it serves (idle, --speed 1), for several histories.
#
# usage (from the repository root):
#   bench/genie_first_start.sh                # HISTORIES="7d 30d 90d"
# environment:
#   HISTORIES="7d 30d 90d"   --history values tried, each on a new store
#   START=2026-12-01T00:00:00Z  the clock's start (fixed, so runs compare)
#   IDLE=60                  seconds it is left idle after serving, before memory is read again
#   GENIE=path               the binary (default: builds target/release/genie)
#   BASELINE=path            also run that binary (e.g. a build of an older commit), side by side
#
# Per run it prints: seconds to the "serving" line (the first fill included), the data dir's
# size, RSS when serving, RSS after IDLE seconds, and the CPU it used (user+system) over those
# idle seconds, in per cent of one core.
set -euo pipefail

HISTORIES=${HISTORIES:-7d 30d 90d}
START=${START:-2026-12-01T00:00:00Z}
IDLE=${IDLE:-60}

if [ ! -f Cargo.toml ] || [ ! -d crates/genie ]; then
    echo "run this from the repository root: bench/genie_first_start.sh" >&2
    exit 2
fi
if [ -z "${GENIE:-}" ]; then
    cargo build --release -p genie --quiet
    GENIE=target/release/genie
fi
WORK=target/bench-tmp/first-start
TICK=$(getconf CLK_TCK)

rss_mb() { awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run() {  # LABEL BINARY HISTORY
    local label=$1 bin=$2 history=$3 dir="$WORK/$1-$3"
    rm -rf "$dir"
    mkdir -p "$dir"
    local t0 t1 pid
    t0=$(date +%s.%N)
    "$bin" --data-dir "$dir/data" --history "$history" --start "$START" --speed 1 \
        --listen 127.0.0.1:0 >"$dir/out.log" 2>"$dir/err.log" &
    pid=$!
    until grep -q "genie is serving" "$dir/out.log" 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "$label $history: genie exited before serving:" >&2
            cat "$dir/err.log" >&2
            return 1
        fi
        sleep 0.1
    done
    t1=$(date +%s.%N)
    local size rss0 c0 c1 rss1
    size=$(du -sm "$dir/data" | cut -f1)
    rss0=$(rss_mb "$pid")
    c0=$(cpu_ticks "$pid")
    sleep "$IDLE"
    c1=$(cpu_ticks "$pid")
    rss1=$(rss_mb "$pid")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    local rows
    rows=$(grep -o 'filled [0-9/]* days, [0-9]* rows' "$dir/err.log" | tail -1 | awk '{print $4}')
    printf '| %s | %s | %s | %.1f s | %s MB | %s MB | %s MB | %.1f %% |\n' "$label" "$history" \
        "${rows:-?}" "$(echo "$t1 - $t0" | bc)" "$size" "$rss0" "$rss1" \
        "$(echo "($c1 - $c0) * 100 / $TICK / $IDLE" | bc -l)"
    rm -rf "$dir"
}

echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| binary | history | rows filled | to serving | store | RSS serving | RSS after ${IDLE} s idle | CPU idle (--speed 1) |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
for h in $HISTORIES; do
    run this "$GENIE" "$h"
    if [ -n "${BASELINE:-}" ]; then
        run baseline "$BASELINE" "$h"
    fi
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
