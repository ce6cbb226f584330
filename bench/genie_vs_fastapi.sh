#!/usr/bin/env bash
# Genie's REST API against the simplest reference a learner would write instead — FastAPI +
# SQLAlchemy under uvicorn, reading genie's own SQLite file — side by side in one run
# (the performance goal: ≥ 10× the reference). Prints requests/s, p50 and p99 latency of each and the ratio.
#
# usage (from the repository root):  bench/genie_vs_fastapi.sh
# environment (all optional):
#   DURATION=15          seconds of each measured wrk run (after a 2 s warm-up run)
#   SIZES="100 1000"     page sizes (limit=)
#   CONNS="1 32"         wrk connections; 1 = latency of one client, 32 = a loaded server
#   HISTORY=14d          history genie backfills (a new store every run)
#   SPEED=60             genie's clock: virtual seconds per real second (rows keep changing)
#   START=2025-03-01T00:00:00Z   where genie's clock starts
#   SINCE=<START - 3 days>       updated_at_min of every request (> 1000 matching orders)
#   WORKERS=2            uvicorn worker processes (genie: tokio's default, one worker per core)
#   WAIT_IDLE=120        before each run, wait up to this many seconds until other work leaves
#                        >= 90 % of the CPU to idle or to our two servers
#   GENIE=path           a genie binary to measure (default: builds target/release/genie)
#   BENCH_TMP=target/bench-tmp   where the store and logs go (removed at the end; KEEP_TMP=1 keeps)
#
# What is measured: GET /v1/orders?limit=N&updated_at_min=SINCE with `Authorization: Bearer`,
# the first page of an incremental pass (has_more is true for both sizes), against
# (a) genie (release build; rate limit raised out of the way: --rate-limit 1e9 --burst 4e9) and
# (b) bench/reference/genie_fastapi/app.py: uvicorn (uvloop + httptools) with WORKERS processes,
#     access log off (genie's is off by default), reading the same SQLite file read-only.
# genie's clock keeps advancing during the whole run (SPEED), so orders change under both.
# Both servers and wrk share this machine's cores; wrk runs 1 thread for 1 connection, 2 otherwise.
# "CPU/req" is the servers' own CPU time (utime+stime of the process and its children, from /proc)
# during the measured run divided by the requests served: a figure less sensitive to wrk's share.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    "") ;;
    *) echo "genie_vs_fastapi.sh: unexpected argument: $1 (settings are environment variables; see --help)" >&2; exit 2 ;;
esac
if [ ! -f Cargo.toml ] || [ ! -d crates/genie ]; then
    echo "run this from the repository root: bench/genie_vs_fastapi.sh" >&2
    exit 2
fi

DURATION=${DURATION:-15}
SIZES=${SIZES:-100 1000}
CONNS=${CONNS:-1 32}
HISTORY=${HISTORY:-14d}
SPEED=${SPEED:-60}
START=${START:-2025-03-01T00:00:00Z}
WORKERS=${WORKERS:-2}
WAIT_IDLE=${WAIT_IDLE:-120}
TMP=${BENCH_TMP:-target/bench-tmp}/genie
VENV=target/bench-venv-genie
REF_DIR=bench/reference/genie_fastapi
LUA=bench/genie_wrk.lua

bad() { echo "genie_vs_fastapi.sh: $*" >&2; exit 2; }
is_int() { [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -gt 0 ]; }
is_int "$DURATION" || bad "DURATION must be a positive integer (seconds), got '$DURATION'"
is_int "$WORKERS" || bad "WORKERS must be a positive integer, got '$WORKERS'"
[[ $WAIT_IDLE =~ ^[0-9]+$ ]] || bad "WAIT_IDLE must be an integer (seconds), got '$WAIT_IDLE'"
for n in $SIZES; do is_int "$n" && [ "$n" -le 1000 ] || bad "SIZES must be integers from 1 to 1000, got '$n'"; done
for n in $CONNS; do is_int "$n" || bad "CONNS must be positive integers, got '$n'"; done
[[ $HISTORY =~ ^[0-9]+d?$ ]] || bad "HISTORY must be days, e.g. 14d, got '$HISTORY'"
[[ $SPEED =~ ^[0-9]+(\.[0-9]+)?$ ]] || bad "SPEED must be a number >= 0, got '$SPEED'"
start_s=$(date -ud "$START" +%s 2>/dev/null) || bad "START is not a date/time: '$START'"
SINCE=${SINCE:-$(date -ud "@$((start_s - 3 * 86400))" +%Y-%m-%dT%H:%M:%SZ)}
date -ud "$SINCE" +%s >/dev/null 2>&1 || bad "SINCE is not a date/time: '$SINCE'"

die() { echo "genie_vs_fastapi.sh: error: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }

# ---- tools -----------------------------------------------------------------------------------
for t in curl python3 cargo; do command -v "$t" >/dev/null || die "$t is required"; done
if ! command -v wrk >/dev/null; then
    log "installing wrk (apt-get)"
    { apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }; } >/dev/null 2>&1 \
        || die "wrk is not installed and apt-get install wrk failed; install wrk and rerun"
fi

# ---- clean-up --------------------------------------------------------------------------------
GENIE_PID="" REF_PID=""
cleanup() {
    local rc=$?
    for p in $REF_PID $GENIE_PID; do
        kill "$p" 2>/dev/null || true
    done
    for p in $REF_PID $GENIE_PID; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- set-up (not timed) ----------------------------------------------------------------------
if [ -z "${GENIE:-}" ]; then
    log "building genie (release)"
    cargo build --release -p genie >&2 || die "cargo build --release -p genie failed"
fi
rm -rf "$TMP"; mkdir -p "$TMP"
# a private copy: other work may rebuild target/release/genie while we measure
cp "${GENIE:-target/release/genie}" "$TMP/genie" || die "no genie binary at ${GENIE:-target/release/genie}"

log "python venv $VENV ($REF_DIR/requirements.txt)"
want=$(sha256sum "$REF_DIR/requirements.txt" | cut -d' ' -f1)
if ! { [ -x "$VENV/bin/uvicorn" ] && [ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" = "$want" ]; }; then
    rm -rf "$VENV"
    python3 -m venv "$VENV" || die "python3 -m venv failed (apt-get install python3-venv?)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REF_DIR/requirements.txt" \
        || die "pip install -r $REF_DIR/requirements.txt failed"
    echo "$want" >"$VENV/.requirements.sha256"
fi

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
GP=$(free_port); RP=$(free_port)
while [ "$RP" = "$GP" ]; do RP=$(free_port); done

# wait_for PID URL SECONDS [HEADER]: until URL answers 200, or the process dies, or time is up
wait_for() {
    local pid=$1 url=$2 secs=$3 hdr=${4:-X-Nothing: 1} i
    for i in $(seq $((secs * 5))); do
        kill -0 "$pid" 2>/dev/null || return 1
        [ "$(curl -s -o /dev/null -w '%{http_code}' -H "$hdr" "$url" || true)" = 200 ] && return 0
        sleep 0.2
    done
    return 1
}

log "starting genie on 127.0.0.1:$GP (backfilling $HISTORY before $START, --speed $SPEED)"
"$TMP/genie" --data-dir "$TMP/data" --history "$HISTORY" --speed "$SPEED" --start "$START" \
    --listen "127.0.0.1:$GP" --rate-limit 1e9 --burst 4000000000 >"$TMP/genie.out" 2>"$TMP/genie.err" &
GENIE_PID=$!
wait_for "$GENIE_PID" "http://127.0.0.1:$GP/healthz" 900 \
    || { tail -20 "$TMP/genie.err" >&2; die "genie did not come up on port $GP (log above)"; }
DB=$TMP/data/genie.sqlite
KEY=$("$TMP/genie" --data-dir "$TMP/data" keys create --name bench --scopes read:all 2>/dev/null) \
    || die "genie keys create failed"
[[ $KEY == fg_live_* ]] || die "genie keys create printed no key"
AUTH="Authorization: Bearer $KEY"

log "starting the reference on 127.0.0.1:$RP (uvicorn, $WORKERS workers)"
GENIE_DB=$(realpath "$DB") "$VENV/bin/uvicorn" app:app --app-dir "$REF_DIR" --host 127.0.0.1 --port "$RP" \
    --workers "$WORKERS" --no-access-log --log-level warning >"$TMP/ref.log" 2>&1 &
REF_PID=$!
wait_for "$REF_PID" "http://127.0.0.1:$RP/v1/orders?limit=1" 60 "$AUTH" \
    || { tail -20 "$TMP/ref.log" >&2; die "the reference did not come up on port $RP (log above)"; }

url() { echo "http://127.0.0.1:$1/v1/orders?limit=$2&updated_at_min=$SINCE"; }

# the same page from both, and it is a full page with more to come
for n in $SIZES; do
    curl -sf -H "$AUTH" "$(url "$GP" "$n")" >"$TMP/g.json" || die "genie: GET $(url "$GP" "$n") failed"
    curl -sf -H "$AUTH" "$(url "$RP" "$n")" >"$TMP/r.json" || die "reference: GET $(url "$RP" "$n") failed"
    python3 - "$TMP/g.json" "$TMP/r.json" "$n" <<'EOF' >&2 || die "the two servers do not serve the same page (see above)"
import json, sys
g, r = (json.load(open(p)) for p in sys.argv[1:3])
n = int(sys.argv[3])
def norm(row):  # genie writes money as exact decimal text (0.00), the reference as floats (0.0)
    return {k: float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for k, v in row.items()}
for name, page in (("genie", g), ("reference", r)):
    if len(page["data"]) != n or page["has_more"] is not True or not page["next_cursor"]:
        sys.exit(f"{name}: limit={n} gave {len(page['data'])} rows, has_more={page['has_more']}: widen HISTORY or move SINCE back")
same = sum(norm(a) == norm(b) for a, b in zip(g["data"], r["data"]))
print(f"   limit={n}: {n} rows each, {same} identical (the clock moves between the two requests), "
      f"{len(json.dumps(g)) // n} vs {len(json.dumps(r)) // n} bytes/row")
if same < n * 0.9:
    sys.exit("fewer than 90 % of the rows are identical")
EOF
done

# ---- measurement -----------------------------------------------------------------------------
TCK=$(getconf CLK_TCK)
# cpu_ticks PID: utime+stime of PID and its child processes (uvicorn's workers)
cpu_ticks() {
    local t=0 p
    for p in $1 $(pgrep -P "$1" || true); do
        [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat")))
    done
    echo "$t"
}
own_ticks() { echo $(($(cpu_ticks "$GENIE_PID") + $(cpu_ticks "$REF_PID"))); }
# idle_pct SECONDS: share of CPU time (all cores) over the next SECONDS that is idle or used by
# our own two servers (genie's clock keeps ticking between runs): 100 minus other work's share
idle_pct() {
    local u n s i w x y z t1 i1 o1 o2
    read -r _ u n s i w x y z _ </proc/stat
    t1=$((u + n + s + i + w + x + y + z)) i1=$((i + w)) o1=$(own_ticks)
    sleep "$1"
    read -r _ u n s i w x y z _ </proc/stat
    o2=$(own_ticks)
    echo $((100 * (i + w - i1 + o2 - o1) / (u + n + s + i + w + x + y + z - t1)))
}
BUSY=0
wait_idle() {
    local waited=0 idle
    while idle=$(idle_pct 2) && [ "$idle" -lt 90 ]; do
        waited=$((waited + 2))
        if [ "$waited" -ge "$WAIT_IDLE" ]; then
            echo "warning: other work keeps the machine busy ($idle% idle) after ${WAIT_IDLE}s: figures will be noisy" >&2
            BUSY=$((BUSY + 1))
            return
        fi
    done
}
as_of() { curl -s "http://127.0.0.1:$GP/healthz" | python3 -c 'import json, sys; print(json.load(sys.stdin)["as_of"])'; }

UPTIME_BEFORE=$(uptime)
# genie's own background work: the clock applying changes, no requests
b0=$(cpu_ticks "$GENIE_PID"); sleep 5; b1=$(cpu_ticks "$GENIE_PID")
GENIE_IDLE_PCT=$(echo "($b1 - $b0) * 100 / $TCK / 5" | bc -l)
AS_OF_BEFORE=$(as_of)
declare -A R
for n in $SIZES; do
    for c in $CONNS; do
        th=$((c > 1 ? 2 : 1))
        for who in genie ref; do
            port=$GP pid=$GENIE_PID
            [ "$who" = ref ] && port=$RP pid=$REF_PID
            wait_idle
            GENIE_KEY=$KEY wrk -t"$th" -c"$c" -d2s -s "$LUA" "$(url "$port" "$n")" >/dev/null 2>&1 || true
            c0=$(cpu_ticks "$pid")
            out=$(GENIE_KEY=$KEY wrk -t"$th" -c"$c" -d"${DURATION}s" --timeout 10s --latency -s "$LUA" "$(url "$port" "$n")") \
                || die "wrk failed against $who: $out"
            c1=$(cpu_ticks "$pid")
            line=$(grep '^RESULT ' <<<"$out") || die "no RESULT line from wrk against $who: $out"
            declare -A m=()
            for kv in ${line#RESULT }; do m[${kv%%=*}]=${kv#*=}; done
            [ "${m[non2xx]}" = 0 ] || die "$who answered ${m[non2xx]} non-2xx responses (limit=$n, $c connections)"
            [ "${m[socket_errors]}" = 0 ] || echo "warning: $who: ${m[socket_errors]} socket errors (limit=$n, $c connections)" >&2
            cpu_us=$(echo "($c1 - $c0) * 1000000 / $TCK / ${m[requests]}" | bc -l)
            R[$who,$n,$c]="${m[rps]} ${m[p50_us]} ${m[p99_us]} $cpu_us ${m[bytes_per_req]}"
            printf '   %-9s limit=%-4s c=%-3s %10.1f req/s  p50 %8.2f ms  p99 %8.2f ms  CPU %8.0f us/req\n' \
                "$who" "$n" "$c" "${m[rps]}" "$(echo "${m[p50_us]} / 1000" | bc -l)" "$(echo "${m[p99_us]} / 1000" | bc -l)" "$cpu_us" >&2
        done
    done
done
AS_OF_AFTER=$(as_of)
UPTIME_AFTER=$(uptime)
kill -0 "$GENIE_PID" 2>/dev/null || die "genie exited during the run"
kill -0 "$REF_PID" 2>/dev/null || die "the reference exited during the run"

# ---- report ----------------------------------------------------------------------------------
ms() { echo "$1 / 1000" | bc -l; }
echo
echo "GET /v1/orders?limit=N&updated_at_min=$SINCE, Bearer key; wrk ${DURATION}s per row; genie clock $SPEED× ($AS_OF_BEFORE → $AS_OF_AFTER)"
printf '%-26s %5s %4s %11s %9s %9s %10s %7s\n' server limit conn "req/s" "p50 ms" "p99 ms" "CPU us/req" "KB/resp"
for n in $SIZES; do
    for c in $CONNS; do
        for who in genie ref; do
            read -r rps p50 p99 cpu bytes <<<"${R[$who,$n,$c]}"
            label="genie (axum + SQLite)"; [ "$who" = ref ] && label="FastAPI+SQLAlchemy ×$WORKERS"
            printf '%-26s %5s %4s %11.1f %9.2f %9.2f %10.0f %7.1f\n' "$label" "$n" "$c" "$rps" "$(ms "$p50")" "$(ms "$p99")" "$cpu" "$(echo "$bytes / 1024" | bc -l)"
        done
    done
done
echo
echo "ratio genie/reference (req/s: higher is better for genie; latency and CPU: reference ÷ genie)"
printf '%5s %4s %8s %8s %8s %8s\n' limit conn "req/s" "p50" "p99" "CPU/req"
for n in $SIZES; do
    for c in $CONNS; do
        read -r g_rps g_p50 g_p99 g_cpu _ <<<"${R[genie,$n,$c]}"
        read -r r_rps r_p50 r_p99 r_cpu _ <<<"${R[ref,$n,$c]}"
        printf '%5s %4s %7.1fx %7.1fx %7.1fx %7.1fx\n' "$n" "$c" "$(echo "$g_rps / $r_rps" | bc -l)" \
            "$(echo "$r_p50 / $g_p50" | bc -l)" "$(echo "$r_p99 / $g_p99" | bc -l)" "$(echo "$r_cpu / $g_cpu" | bc -l)"
    done
done
echo
echo "machine: nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'); $(uname -sr); $(date -u +%FT%TZ)"
echo "orders in the store: $(python3 -c "import sqlite3, sys; print(sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True).execute('select count(*) from orders').fetchone()[0])" "$DB"); history $HISTORY; start $START"
printf 'genie with no requests (clock ticking at %s×): %.0f %% of one core\n' "$SPEED" "$GENIE_IDLE_PCT"
echo "uptime before: $UPTIME_BEFORE"
echo "uptime after:  $UPTIME_AFTER"
[ "$BUSY" = 0 ] || echo "warning: $BUSY run(s) started while other work used > 10 % of the CPU: other work shared the cores"
