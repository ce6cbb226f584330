#!/usr/bin/env bash
# The PostgreSQL load of bench/postgres_load.sh, two aladdin binaries side by side in one run:
# (a) raw binary COPY of each binary's own rows (pre-generated, untimed, by that commit's
# pg_copy_files example) and (b) `aladdin generate --jobs 1`, alternating old/new so that
# whatever else the machine does falls on both. One line per load, as it finishes.
#
# usage: OLD=DIR NEW=DIR bench/pg_side_by_side.sh [FROM [TO [ROUNDS]]]
#   PHASE=pregen-old / pregen-new  only write that binary's COPY files; PHASE=run  only the
#              timed rounds, over files written before (default: both, then the rounds);
#              STEPS="raw:old load:old load:new …"  those loads instead of the rounds (the
#              database and files are left for more steps)
#   OLD, NEW   target/release folders holding `aladdin` and `examples/pg_copy_files`
#   BENCH_TMP  where the COPY files go (default /tmp/bt-arch)
#   PG         the server (default postgres://postgres@127.0.0.1:5432); a database
#              faux_bench_side is created and dropped on it
set -euo pipefail
export LC_ALL=C # $EPOCHREALTIME and printf with a '.' decimal point

FROM=${1:-2025-01-01}
TO=${2:-2025-12-31}
ROUNDS=${3:-3}
OLD=${OLD:?OLD=target/release folder of the old commit}
NEW=${NEW:?NEW=target/release folder of the new commit}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
TMP=${BENCH_TMP:-/tmp/bt-arch}
DB=faux_bench_side

fresh_db() {
    psql "$PG/postgres" -qAt -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
}
declare -A ROWS
line() { # kind which seconds
    local rate="?"
    if [ -n "${ROWS[$2]:-}" ]; then rate=$(echo "${ROWS[$2]} / $3" | bc -l | xargs printf '%.0f'); fi
    printf '%s  %-8s %-4s %8.1f s  %8s rows/s  load %s\n' "$(date -u +%T)" "$1" "$2" "$3" \
        "$rate" "$(cut -d' ' -f1-3 /proc/loadavg)"
}
raw() { # which
    local dir=$TMP/$1 t0 t1
    fresh_db
    t0=$EPOCHREALTIME
    psql "$PG/$DB" -q -v ON_ERROR_STOP=1 -f "$dir/schema.sql"
    for f in "$dir"/*.bin; do
        psql "$PG/$DB" -q -v ON_ERROR_STOP=1 -c "\\copy public.\"$(basename "$f" .bin)\" FROM '$f' WITH (FORMAT binary)"
    done
    psql "$PG/$DB" -q -v ON_ERROR_STOP=1 -f "$dir/indexes.sql"
    t1=$EPOCHREALTIME
    line raw "$1" "$(echo "$t1 - $t0" | bc -l)"
}
load() { # which
    local bin t0 t1
    if [ "$1" = old ]; then bin=$OLD/aladdin; else bin=$NEW/aladdin; fi
    fresh_db
    t0=$EPOCHREALTIME
    "$bin" generate --quiet --scenario ecommerce --from "$FROM" --to "$TO" --out "$PG/$DB" --jobs 1
    t1=$EPOCHREALTIME
    line aladdin "$1" "$(echo "$t1 - $t0" | bc -l)"
}

pregen() { # which: that binary's rows as COPY files (untimed; may run while the other builds)
    local dir
    if [ "$1" = old ]; then dir=$OLD; else dir=$NEW; fi
    rm -rf "${TMP:?}/$1"
    mkdir -p "$TMP/$1"
    "$dir/examples/pg_copy_files" ecommerce "$FROM" "$TO" "$TMP/$1" >"$TMP/$1.rows"
    echo "$1: $(cat "$TMP/$1.rows") rows, $(du -sm "$TMP/$1" | cut -f1) MB of COPY data ($dir)"
}

case ${PHASE:-all} in
    pregen-old) pregen old; exit 0 ;;
    pregen-new) pregen new; exit 0 ;;
    all) pregen old; pregen new ;;
    run) ;;
esac
for which in old new; do
    if [ -f "$TMP/$which.rows" ]; then ROWS[$which]=$(cat "$TMP/$which.rows"); fi
done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); server $(psql "$PG/postgres" -qAtc 'SHOW server_version')"
if [ -n "${STEPS:-}" ]; then
    # an explicit order, e.g. STEPS="raw:old load:old load:new load:new load:old"
    for step in $STEPS; do
        case $step in
            raw:*) raw "${step#raw:}" ;;
            load:*) load "${step#load:}" ;;
        esac
    done
    exit 0
fi
# each round: (a) then (b) of one binary, then of the other; who goes first alternates
for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2)); then order="old new"; else order="new old"; fi
    for which in $order; do
        raw "$which"
        load "$which"
    done
done
psql "$PG/postgres" -qAtc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
rm -rf "$TMP"
