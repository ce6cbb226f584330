#!/usr/bin/env bash
# Server CPU per list page, two or more genie binaries side by side in one run (issue 13's
# "≤ 150 µs of server CPU per 100-row page"). Each binary backfills a store of its own once
# (untimed); then, ROUNDS times, each binary in turn is started on its store, warmed up, and
# driven by wrk for DURATION seconds; CPU per request = the server's utime + stime over the
# measured run (/proc/PID/stat) / the requests wrk completed. Alternating rounds put whatever
# else the machine does on every binary alike.
#
# usage: bench/genie_page_cpu.sh GENIE_BIN [GENIE_BIN …]
# environment:
#   HISTORY=14d  START=2025-03-01  SPEED=60   the store and clock (genie's flags)
#   PAGE='/v1/orders?limit=100&updated_at_min=2025-02-26T00:00:00Z'   the request
#   ROUNDS=3  DURATION=10  CONNS=1           wrk runs (a 2 s warm-up before each)
#   BENCH_TMP=/tmp/genie-page-cpu            stores and logs (kept between runs: a store is
#                                            reused when its binary is the same file)
# One line per measured run: binary, round, req/s, p50, CPU µs/req, user µs/req.
set -euo pipefail
export LC_ALL=C

[ $# -ge 1 ] || { sed -n '2,17p' "$0" >&2; exit 2; }
HISTORY=${HISTORY:-14d}
START=${START:-2025-03-01}
SPEED=${SPEED:-60}
PAGE=${PAGE:-'/v1/orders?limit=100&updated_at_min=2025-02-26T00:00:00Z'}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-1}
TMP=${BENCH_TMP:-/tmp/genie-page-cpu}
LUA=$(dirname "$0")/genie_wrk.lua
TICK=$(getconf CLK_TCK)

die() { echo "genie_page_cpu: $*" >&2; exit 1; }
command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"
for b in "$@"; do [ -x "$b" ] || die "not an executable: $b"; done
mkdir -p "$TMP"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_up() { # pid port seconds
    local i
    for i in $(seq $(($3 * 5))); do
        kill -0 "$1" 2>/dev/null || return 1
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$2/healthz" || true)" = 200 ] && return 0
        sleep 0.2
    done
    return 1
}
cpu_ticks() { awk '{print $14 + $15, $14}' "/proc/$1/stat"; }

PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; true' EXIT

start() { # i binary -> PID, PORT
    local dir=$TMP/b$1
    PORT=$(free_port)
    # a new store takes --start and --history; an existing one resumes its own clock
    local new=(--history "$HISTORY" --start "$START")
    [ -e "$dir/data/genie.sqlite" ] && new=()
    "$dir/genie" --data-dir "$dir/data" "${new[@]}" --speed "$SPEED" \
        --listen "127.0.0.1:$PORT" --rate-limit 1e9 --burst 4000000000 \
        >"$dir/genie.out" 2>"$dir/genie.err" &
    PID=$!
    wait_up "$PID" "$PORT" 900 || { tail -20 "$dir/genie.err" >&2; die "$2 did not come up"; }
}
stop() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=; }

# stores: one per binary, made (or reused) before anything is timed
i=0
for b in "$@"; do
    i=$((i + 1)); dir=$TMP/b$i; mkdir -p "$dir"
    if ! cmp -s "$b" "$dir/genie"; then
        rm -rf "$dir/data"; cp "$b" "$dir/genie"
    fi
    echo "$(date -u +%T)  store $i: $b ($HISTORY before $START)" >&2
    start "$i" "$b"
    [ -s "$dir/key" ] || "$dir/genie" --data-dir "$dir/data" keys create --name bench --scopes read:all >"$dir/key" 2>/dev/null \
        || die "keys create failed for $b"
    curl -sf -H "Authorization: Bearer $(cat "$dir/key")" "http://127.0.0.1:$PORT$PAGE" >"$dir/page.json" \
        || die "$b: GET $PAGE failed"
    stop
done
python3 - "$TMP" "$#" <<'EOF' || die "the binaries do not serve pages of the same size (see above)"
import json, sys
sizes = [len(json.load(open(f"{sys.argv[1]}/b{i}/page.json"))["data"]) for i in range(1, int(sys.argv[2]) + 1)]
print("rows per page:", sizes, file=sys.stderr)
sys.exit(0 if len(set(sizes)) == 1 and sizes[0] > 0 else 1)
EOF

printf '%-9s %-40s %5s %9s %8s %11s %11s\n' time binary round req/s p50_us cpu_us/req user_us/req
for r in $(seq "$ROUNDS"); do
    i=0
    for b in "$@"; do
        i=$((i + 1)); dir=$TMP/b$i
        start "$i" "$b"
        export GENIE_KEY; GENIE_KEY=$(cat "$dir/key")
        threads=$(( CONNS > 1 ? 2 : 1 ))
        wrk -t"$threads" -c"$CONNS" -d2s -s "$LUA" "http://127.0.0.1:$PORT$PAGE" >/dev/null
        read -r c0 u0 < <(cpu_ticks "$PID")
        out=$(wrk -t"$threads" -c"$CONNS" -d"${DURATION}s" -s "$LUA" "http://127.0.0.1:$PORT$PAGE" | grep '^RESULT')
        read -r c1 u1 < <(cpu_ticks "$PID")
        stop
        reqs=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$out")
        rps=$(sed -E 's/.*rps=([0-9.]+).*/\1/' <<<"$out")
        p50=$(sed -E 's/.*p50_us=([0-9]+).*/\1/' <<<"$out")
        grep -qE 'non2xx=0$' <<<"$out" || die "$b answered errors: $out"
        printf '%-9s %-40s %5s %9.0f %8s %11.0f %11.0f\n' "$(date -u +%T)" "$b" "$r" "$rps" "$p50" \
            "$(echo "($c1 - $c0) * 1000000 / $TICK / $reqs" | bc -l)" \
            "$(echo "($u1 - $u0) * 1000000 / $TICK / $reqs" | bc -l)"
    done
done
