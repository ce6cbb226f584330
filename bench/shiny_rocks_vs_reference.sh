#!/usr/bin/env bash
# Shiny Rocks: aladdin against the Python Faker reference, side by side in one run.
#
# usage (from the repository root):
#   bench/shiny_rocks_vs_reference.sh [FROM [TO]]      # default 2024-01-01 2024-01-30
# environment:
#   RUNS=3                                    timed runs per command; the fastest is reported
#   YEAR_FROM=2024-01-01 YEAR_TO=2024-12-31   range of the thread-scaling and memory runs
#   BENCH_TMP=target/bench-tmp                where outputs go (deleted at the end)
#   WAIT_IDLE=120                             before each round, wait up to this many seconds
#                                             for the machine to be >= 90% idle (shared hosts)
#   WAIT_DELETED=365                          before the first round, wait until this many
#                                             seconds have passed since this script last
#                                             deleted its outputs (see below; 0: don't wait)
#
# Timed (wall clock to the microsecond, bash's $EPOCHREALTIME read around the command: reading
# it starts no process, where `$(date +%s.%N)` added ~1.7 ms of fork and exec to every timing,
# a tenth of aladdin's month and nothing of the reference's; best of RUNS;
# user+sys CPU from bash's `time` of the same run is shown alongside):
#   (i)   reference: shiny_rocks_faker.py --from FROM --to TO, pinned to core 0
#   (ii)  aladdin generate --format csv --tables orders,payments,services --threads 1, core 0
#   (iii) the same with --threads 2 on cores 0-1
#   (iv)  aladdin, all four tables, YEAR_FROM..YEAR_TO, --threads 1 (core 0) and 2 (cores 0-1)
# then (v) peak RSS (`/usr/bin/time -v`, "Maximum resident set size") of aladdin for 1 day,
# FROM..TO and the year, and of the reference for FROM..TO.
#
# Rows are counted the same way for both tools: the data lines (all lines minus the header) of
# every CSV file written. The reference does not write marketing_investments, so (i)–(iii)
# compare on orders, payments and services only. MB/s = CSV bytes written / wall time.
# The commands are interleaved round by round, each round starting one command further along
# (reference, aladdin ×5; aladdin ×5, reference; …) so that
# they see the same machine state, and every run writes a fresh folder: outputs are deleted
# only at the end. Deleting thousands of files makes the next file creations slower on ext4
# without a journal (as here): the inode allocator steps over every inode deleted in the last
# minute, one by one, and over those deleted in the last six minutes when their block of the
# inode table has unwritten changes, which the run's own new files make (fs/ext4/ialloc.c,
# recently_deleted). perf showed it taking half of aladdin's 30-day run after an earlier run's
# clean-up. So a run starts only WAIT_DELETED seconds after the last deletion (kept in
# target/.shiny-rocks-bench-deleted).
set -euo pipefail
export LC_ALL=C # $EPOCHREALTIME and awk with a '.' decimal point

FROM=${1:-2024-01-01}
TO=${2:-2024-01-30}
RUNS=${RUNS:-3}
YEAR_FROM=${YEAR_FROM:-2024-01-01}
YEAR_TO=${YEAR_TO:-2024-12-31}
TMP=${BENCH_TMP:-target/bench-tmp}
WAIT_IDLE=${WAIT_IDLE:-120}
WAIT_DELETED=${WAIT_DELETED:-365}
DELETED_STAMP=target/.shiny-rocks-bench-deleted

if [ ! -f Cargo.toml ] || [ ! -d crates/aladdin ]; then
    echo "run this from the repository root: bench/shiny_rocks_vs_reference.sh" >&2
    exit 2
fi
REF_DIR=../shared/bench
REF=$REF_DIR/shiny_rocks_faker.py
VENV=target/bench-venv
CMP_TABLES=orders,payments,services

# ---- set-up (not timed) ----------------------------------------------------------------------
echo "== building aladdin (release)" >&2
cargo build --release -p aladdin >&2
echo "== reference virtualenv ($VENV)" >&2
bash "$REF_DIR/setup.sh" "$VENV" >&2
PY=$VENV/bin/python

if [ ! -x /usr/bin/time ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing GNU time (/usr/bin/time)" >&2
    apt-get install -y time >/dev/null 2>&1 ||
        { apt-get update >/dev/null 2>&1 && apt-get install -y time >/dev/null 2>&1; } || true
fi
if [ ! -x /usr/bin/time ] || ! /usr/bin/time -v true >/dev/null 2>&1; then
    echo "error: GNU time (/usr/bin/time -v) is needed for the memory figures: apt-get install time" >&2
    exit 1
fi
command -v taskset >/dev/null || { echo "error: taskset (util-linux) is needed" >&2; exit 1; }
NCPU=$(nproc)
BOTH=0-$((NCPU > 1 ? 1 : 0))
[ "$NCPU" -ge 2 ] || echo "warning: only $NCPU core: the 2-thread runs share one core" >&2

# only ever delete a folder this script made (BENCH_TMP could point anywhere)
MARK=.shiny-rocks-bench
if [ -e "$TMP" ] && [ ! -e "$TMP/$MARK" ] && [ -n "$(ls -A "$TMP" 2>/dev/null)" ]; then
    echo "error: $TMP exists and was not made by this script: choose another BENCH_TMP" >&2
    exit 2
fi
delete_outputs() {
    # only a deletion of files counts (an empty folder left by another script does not)
    if [ -n "$(find "$TMP" -mindepth 1 -not -name "$MARK" -print -quit 2>/dev/null)" ]; then
        date +%s >"$DELETED_STAMP"
    fi
    rm -rf "$TMP"
}
delete_outputs
mkdir -p "$TMP"
touch "$TMP/$MARK"
cleanup() { if [ -e "$TMP/$MARK" ]; then delete_outputs; fi; }
trap cleanup EXIT
# a private copy: a concurrent `cargo build` in the same tree must not swap the binary mid-run
cp target/release/aladdin "$TMP/aladdin"
ALADDIN=$TMP/aladdin
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null)" ]; then COMMIT="$COMMIT+changes"; fi

# idle_pct SECONDS: share of CPU time (all cores) left idle over the next SECONDS.
idle_pct() {
    local u n s i w x y z t1 i1
    read -r _ u n s i w x y z _ </proc/stat
    t1=$((u + n + s + i + w + x + y + z)) i1=$((i + w))
    sleep "$1"
    read -r _ u n s i w x y z _ </proc/stat
    echo $((100 * (i + w - i1) / (u + n + s + i + w + x + y + z - t1)))
}
# wait_idle: waits (up to WAIT_IDLE seconds) until the machine is >= 90% idle over 2 s, so that
# other work on a shared machine does not land in the timings; warns when it gives up.
wait_idle() {
    local waited=0 idle
    while idle=$(idle_pct 2) && [ "$idle" -lt 90 ]; do
        waited=$((waited + 2))
        if [ "$waited" -ge "$WAIT_IDLE" ]; then
            echo "warning: the machine is still busy ($idle% idle) after ${WAIT_IDLE}s: figures will be noisy" >&2
            BUSY_ROUNDS=$((BUSY_ROUNDS + 1))
            return
        fi
    done
}
BUSY_ROUNDS=0
days_in() { echo $((($(date -ud "$2" +%s) - $(date -ud "$1" +%s)) / 86400 + 1)); }

# csv_stats DIR -> "ROWS BYTES": data lines (excluding each file's header) and bytes of all CSVs.
csv_stats() {
    local files lines bytes
    files=$(find "$1" -type f -name '*.csv' | wc -l)
    if [ "$files" -eq 0 ]; then echo "0 0"; return; fi
    lines=$(find "$1" -type f -name '*.csv' -print0 | xargs -0 cat | wc -l)
    bytes=$(find "$1" -type f -name '*.csv' -print0 | xargs -0 cat | wc -c)
    echo "$((lines - files)) $bytes"
}

# The timed commands; each takes its (fresh, not yet existing) output folder.
run_reference() { taskset -c 0 "$PY" "$REF" --from "$FROM" --to "$TO" --out "$1"; }
run_aladdin_t1() {
    taskset -c 0 "$ALADDIN" generate --scenario shiny-rocks --from "$FROM" --to "$TO" \
        --format csv --tables "$CMP_TABLES" --threads 1 --out "$1"
}
# the reference's own layout (DIR/<date>/<table>.csv): the same files and folders to create
run_daily_t1() {
    taskset -c 0 "$ALADDIN" generate --scenario shiny-rocks --from "$FROM" --to "$TO" \
        --format csv --tables "$CMP_TABLES" --threads 1 --layout daily --out "$1"
}
run_aladdin_t2() {
    taskset -c "$BOTH" "$ALADDIN" generate --scenario shiny-rocks --from "$FROM" --to "$TO" \
        --format csv --tables "$CMP_TABLES" --threads 2 --out "$1"
}
run_year_t1() {
    taskset -c 0 "$ALADDIN" generate --scenario shiny-rocks --from "$YEAR_FROM" --to "$YEAR_TO" \
        --format csv --threads 1 --out "$1"
}
run_year_t2() {
    taskset -c "$BOTH" "$ALADDIN" generate --scenario shiny-rocks --from "$YEAR_FROM" --to "$YEAR_TO" \
        --format csv --threads 2 --out "$1"
}
NAMES=(reference aladdin_t1 daily_t1 aladdin_t2 year_t1 year_t2)
declare -A BEST_S BEST_CPU BEST_ROWS BEST_BYTES BEST_SUMMARY WORST_S

# timed_once NAME ROUND: one run of run_NAME into a fresh folder; keeps the fastest per NAME.
timed_once() {
    local name=$1 round=$2 out="$TMP/$1-$2" t0 t1 s cpu stats
    sync # earlier runs' dirty pages are written back outside the timing
    local TIMEFORMAT='%3U %3S'
    t0=$EPOCHREALTIME
    if ! { time "run_$name" "$out" >"$TMP/$name.stdout" 2>"$TMP/$name.stderr"; } 2>"$TMP/$name.cpu"; then
        echo "error: $name failed:" >&2
        cat "$TMP/$name.stderr" >&2
        exit 1
    fi
    t1=$EPOCHREALTIME
    s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
    cpu=$(awk '{ printf "%.3f+%.3f", $1, $2 }' "$TMP/$name.cpu")
    stats=$(csv_stats "$out")
    printf '   round %d  %-11s %8.4f s wall  %13s s cpu (user+sys)  %8s rows\n' \
        "$round" "$name" "$s" "$cpu" "${stats% *}" >&2
    if [ -z "${BEST_S[$name]:-}" ] || awk -v a="$s" -v b="${BEST_S[$name]}" 'BEGIN { exit !(a < b) }'; then
        BEST_S[$name]=$s
        BEST_CPU[$name]=$cpu
        BEST_ROWS[$name]=${stats% *}
        BEST_BYTES[$name]=${stats#* }
        BEST_SUMMARY[$name]=$(tail -n 1 "$TMP/$name.stderr")
    fi
    if [ -z "${WORST_S[$name]:-}" ] || awk -v a="$s" -v b="${WORST_S[$name]}" 'BEGIN { exit !(a > b) }'; then
        WORST_S[$name]=$s
    fi
}

# max_rss_kb CMD... : peak resident set size of CMD in kB (GNU time's "Maximum resident set size").
max_rss_kb() {
    /usr/bin/time -v "$@" >/dev/null 2>"$TMP/time.log" || { cat "$TMP/time.log" >&2; exit 1; }
    awk -F': ' '/Maximum resident set size/ { print $2 }' "$TMP/time.log"
}

# ---- timed runs ------------------------------------------------------------------------------
echo "== $RUNS rounds of: reference and aladdin on $FROM..$TO, aladdin on $YEAR_FROM..$YEAR_TO" >&2
sync
if [ -f "$DELETED_STAMP" ]; then
    since=$(($(date +%s) - $(cat "$DELETED_STAMP")))
    if [ "$since" -lt "$WAIT_DELETED" ]; then
        echo "== waiting $((WAIT_DELETED - since)) s: files were deleted here ${since} s ago, and creating files is slow until their inodes are six minutes old (WAIT_DELETED=0 to skip)" >&2
        sleep $((WAIT_DELETED - since))
    fi
fi
IDLE_BEFORE=$(idle_pct 2)
for ((round = 1; round <= RUNS; round++)); do
    wait_idle
    # each round starts one command further along, so no command always runs right after
    # the reference (whose 1 s of Python leaves the caches and the file system busiest)
    for ((k = 0; k < ${#NAMES[@]}; k++)); do
        timed_once "${NAMES[(k + round - 1) % ${#NAMES[@]}]}" "$round"
    done
done

echo "== peak memory (max RSS, /usr/bin/time -v)" >&2
RSS_DAY=$(max_rss_kb "$ALADDIN" generate --scenario shiny-rocks --format csv --threads 2 \
    --from "$YEAR_FROM" --to "$YEAR_FROM" --out "$TMP/rss-day")
RSS_RANGE=$(max_rss_kb "$ALADDIN" generate --scenario shiny-rocks --format csv --threads 2 \
    --from "$FROM" --to "$TO" --out "$TMP/rss-range")
RSS_YEAR=$(max_rss_kb "$ALADDIN" generate --scenario shiny-rocks --format csv --threads 2 \
    --from "$YEAR_FROM" --to "$YEAR_TO" --out "$TMP/rss-year")
RSS_YEAR_PQ=$(max_rss_kb "$ALADDIN" generate --scenario shiny-rocks --format parquet --threads 2 \
    --from "$YEAR_FROM" --to "$YEAR_TO" --out "$TMP/rss-year-parquet")
RSS_REF=$(max_rss_kb taskset -c 0 "$PY" "$REF" --from "$FROM" --to "$TO" --out "$TMP/rss-ref")
IDLE_AFTER=$(idle_pct 2)

# ---- report ----------------------------------------------------------------------------------
DAYS=$(days_in "$FROM" "$TO")
YDAYS=$(days_in "$YEAR_FROM" "$YEAR_TO")
echo
echo "Shiny Rocks to CSV, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $COMMIT, $NCPU cores, best of $RUNS runs" \
    "(idle before: $IDLE_BEFORE%, after: $IDLE_AFTER%; rounds started on a busy machine: $BUSY_ROUNDS)"
echo "rows = data lines of every CSV written (headers excluded); MB = 10^6 bytes of CSV;"
echo "s = wall clock of the best run (slowest run in brackets), cpu = user+sys seconds of the best run"
echo
awk -v rw="${WORST_S[reference]}" -v rs="${BEST_S[reference]}" -v rc="${BEST_CPU[reference]}" -v rr="${BEST_ROWS[reference]}" -v rb="${BEST_BYTES[reference]}" \
    -v a1w="${WORST_S[aladdin_t1]}" -v a1s="${BEST_S[aladdin_t1]}" -v a1c="${BEST_CPU[aladdin_t1]}" -v a1r="${BEST_ROWS[aladdin_t1]}" -v a1b="${BEST_BYTES[aladdin_t1]}" \
    -v d1w="${WORST_S[daily_t1]}" -v d1s="${BEST_S[daily_t1]}" -v d1c="${BEST_CPU[daily_t1]}" -v d1r="${BEST_ROWS[daily_t1]}" -v d1b="${BEST_BYTES[daily_t1]}" \
    -v a2w="${WORST_S[aladdin_t2]}" -v a2s="${BEST_S[aladdin_t2]}" -v a2c="${BEST_CPU[aladdin_t2]}" -v a2r="${BEST_ROWS[aladdin_t2]}" -v a2b="${BEST_BYTES[aladdin_t2]}" \
    -v y1w="${WORST_S[year_t1]}" -v y1s="${BEST_S[year_t1]}" -v y1c="${BEST_CPU[year_t1]}" -v y1r="${BEST_ROWS[year_t1]}" -v y1b="${BEST_BYTES[year_t1]}" \
    -v y2w="${WORST_S[year_t2]}" -v y2s="${BEST_S[year_t2]}" -v y2c="${BEST_CPU[year_t2]}" -v y2r="${BEST_ROWS[year_t2]}" -v y2b="${BEST_BYTES[year_t2]}" \
    -v days="$DAYS" -v ydays="$YDAYS" -v from="$FROM" -v to="$TO" -v yfrom="$YEAR_FROM" -v yto="$YEAR_TO" 'BEGIN {
    head = "| %-50s | %9s | %7s | %17s | %13s | %12s | %7s | %9s |\n"
    rule = "|%s|%s|%s|%s|%s|%s|%s|%s|\n"
    row  = "| %-50s | %9d | %7.1f | %17s | %13s | %12.0f | %7.1f | %9s |\n"
    printf head, "same work: " from ".." to " (" days " days), 3 tables", "rows", "CSV MB", "s (slowest)", "cpu user+sys", "rows/s", "MB/s", "vs ref"
    printf rule, "----------------------------------------------------", "----------:", "--------:", "------------------:", "--------------:", "-------------:", "--------:", "----------:"
    printf row, "reference (Python Faker), taskset -c 0", rr, rb / 1e6, sprintf("%.4f (%.4f)", rs, rw), rc, rr / rs, rb / 1e6 / rs, "1.0x"
    printf row, "aladdin --threads 1, taskset -c 0", a1r, a1b / 1e6, sprintf("%.4f (%.4f)", a1s, a1w), a1c, a1r / a1s, a1b / 1e6 / a1s, sprintf("%.1fx", (a1r / a1s) / (rr / rs))
    printf row, "aladdin --threads 1 --layout daily, taskset -c 0", d1r, d1b / 1e6, sprintf("%.4f (%.4f)", d1s, d1w), d1c, d1r / d1s, d1b / 1e6 / d1s, sprintf("%.1fx", (d1r / d1s) / (rr / rs))
    printf row, "aladdin --threads 2, 2 cores", a2r, a2b / 1e6, sprintf("%.4f (%.4f)", a2s, a2w), a2c, a2r / a2s, a2b / 1e6 / a2s, sprintf("%.1fx", (a2r / a2s) / (rr / rs))
    printf "\n"
    printf head, "aladdin: " yfrom ".." yto " (" ydays " days), 4 tables", "rows", "CSV MB", "s (slowest)", "cpu user+sys", "rows/s", "MB/s", "scaling"
    printf rule, "----------------------------------------------------", "----------:", "--------:", "------------------:", "--------------:", "-------------:", "--------:", "----------:"
    printf row, "aladdin --threads 1, taskset -c 0", y1r, y1b / 1e6, sprintf("%.4f (%.4f)", y1s, y1w), y1c, y1r / y1s, y1b / 1e6 / y1s, "1.00x"
    printf row, "aladdin --threads 2, 2 cores", y2r, y2b / 1e6, sprintf("%.4f (%.4f)", y2s, y2w), y2c, y2r / y2s, y2b / 1e6 / y2s, sprintf("%.2fx", (y2r / y2s) / (y1r / y1s))
    printf "\n"
    printf "aladdin / reference, same work, one core each: %.1fx (aladdin on 2 cores: %.1fx)\n", (a1r / a1s) / (rr / rs), (a2r / a2s) / (rr / rs)
    printf "thread scaling, 2 threads / 1 thread: year %.2fx (%.0f%% of linear), %d days %.2fx\n", (y2r / y2s) / (y1r / y1s), 50 * (y2r / y2s) / (y1r / y1s), days, (a2r / a2s) / (a1r / a1s)
}'
echo
awk -v d="$RSS_DAY" -v r="$RSS_RANGE" -v y="$RSS_YEAR" -v yp="$RSS_YEAR_PQ" -v ref="$RSS_REF" \
    -v days="$DAYS" -v ydays="$YDAYS" 'BEGIN {
    printf "| %-46s | %12s |\n", "peak memory (max RSS)", "MB"
    printf "|%s|%s|\n", "------------------------------------------------", "-------------:"
    printf "| %-46s | %12.1f |\n", "aladdin csv --threads 2, 1 day", d / 1024
    printf "| %-46s | %12.1f |\n", "aladdin csv --threads 2, " days " days", r / 1024
    printf "| %-46s | %12.1f |\n", "aladdin csv --threads 2, " ydays " days", y / 1024
    printf "| %-46s | %12.1f |\n", "aladdin parquet --threads 2, " ydays " days", yp / 1024
    printf "| %-46s | %12.1f |\n", "reference, " days " days", ref / 1024
}'
echo
echo "aladdin's own summary lines (best runs):"
for name in aladdin_t1 aladdin_t2 year_t1 year_t2; do
    echo "  $name: ${BEST_SUMMARY[$name]}"
done
