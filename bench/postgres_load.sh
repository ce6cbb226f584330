#!/usr/bin/env bash
# PostgreSQL load: aladdin against a raw binary COPY of the same rows, same server, one run
# (goal: ≥ 90 % of raw binary COPY throughput with one connection).
#
# usage (from the repository root):
#   bench/postgres_load.sh [FROM [TO]]                 # default 2025-01-01 2025-12-31
# environment:
#   SCENARIO=ecommerce                                 a built-in scenario
#   PG=postgres://postgres@127.0.0.1:5432              the server (a database faux_bench is
#                                                      created and dropped on it)
#   BENCH_TMP=target/bench-tmp/postgres                where the pre-generated COPY files go
#
# Three loads of the daily extracts of FROM..TO into a fresh database each, timed wall clock
# from the first statement to the last:
#   (a) raw:      psql runs schema.sql, then one `\copy … FROM file (FORMAT binary)` per table
#                 of rows pre-generated (untimed) by crates/faux-sinks/examples/pg_copy_files.rs
#                 with aladdin's own encoder, then builds the same secondary indexes aladdin
#                 builds after a first load. Tables whose rows change over days get no primary
#                 key here (their extracts hold several versions of a key), so the baseline
#                 does strictly less work than an upsert.
#   (b) aladdin generate --out postgres://… --jobs 1: generation, encoding, one transaction per
#                 day, upserts through a temporary table for changing rows, indexes at the end.
#   (c) the same with --jobs 2.
# Rates are rows of the daily extracts per second (the same rows in all three).
set -euo pipefail
# times are read from bash's $EPOCHREALTIME: no process is started around what is timed
export LC_ALL=C # $EPOCHREALTIME and printf with a '.' decimal point

FROM=${1:-2025-01-01}
TO=${2:-2025-12-31}
SCENARIO=${SCENARIO:-ecommerce}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
TMP=${BENCH_TMP:-target/bench-tmp/postgres}
DB=faux_bench

if [ ! -f Cargo.toml ] || [ ! -d crates/aladdin ]; then
    echo "run this from the repository root: bench/postgres_load.sh" >&2
    exit 2
fi
if ! psql "$PG/postgres" -qAtc 'SELECT 1' >/dev/null; then
    echo "error: PostgreSQL at $PG is unreachable" >&2
    exit 1
fi

echo "== building (release)" >&2
cargo build --release -p aladdin >&2
cargo build --release -p faux-sinks --features postgres --example pg_copy_files >&2
ALADDIN=target/release/aladdin

fresh_db() {
    psql "$PG/postgres" -qAt -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
}

rm -rf "$TMP"
mkdir -p "$TMP"
echo "== pre-generating $SCENARIO $FROM..$TO as binary COPY files (not timed)" >&2
t0=$EPOCHREALTIME
ROWS=$(target/release/examples/pg_copy_files "$SCENARIO" "$FROM" "$TO" "$TMP")
t1=$EPOCHREALTIME
BYTES=$(du -cb "$TMP"/*.bin | tail -1 | cut -f1)
echo "   $ROWS rows, $((BYTES / 1000000)) MB of COPY data in $(echo "$t1 - $t0" | bc -l | xargs printf '%.1f') s" >&2

echo "== (a) raw binary COPY with psql" >&2
fresh_db
t0=$EPOCHREALTIME
psql "$PG/$DB" -q -v ON_ERROR_STOP=1 -f "$TMP/schema.sql"
for f in "$TMP"/*.bin; do
    t=$(basename "$f" .bin)
    psql "$PG/$DB" -q -v ON_ERROR_STOP=1 -c "\\copy public.\"$t\" FROM '$f' WITH (FORMAT binary)"
done
psql "$PG/$DB" -q -v ON_ERROR_STOP=1 -f "$TMP/indexes.sql"
t1=$EPOCHREALTIME
RAW=$(echo "$t1 - $t0" | bc -l)
RAW_SIZE=$(psql "$PG/$DB" -qAtc "SELECT pg_size_pretty(pg_database_size('$DB'))")

run_aladdin() {
    fresh_db
    local t0 t1
    t0=$EPOCHREALTIME
    "$ALADDIN" generate --quiet --scenario "$SCENARIO" --from "$FROM" --to "$TO" \
        --out "$PG/$DB" --jobs "$1"
    t1=$EPOCHREALTIME
    echo "$t1 - $t0" | bc -l
}
echo "== (b) aladdin --jobs 1" >&2
ONE=$(run_aladdin 1)
ONE_SIZE=$(psql "$PG/$DB" -qAtc "SELECT pg_size_pretty(pg_database_size('$DB'))")
echo "== (c) aladdin --jobs 2" >&2
TWO=$(run_aladdin 2)
# a sanity check of the last load (its last week: a whole year would hold every row in memory)
WEEK=$(date -d "$TO -6 days" +%F)
if [[ "$WEEK" < "$FROM" ]]; then WEEK=$FROM; fi # a range shorter than a week
echo "== checking the last load: aladdin verify $WEEK..$TO" >&2
"$ALADDIN" verify --quiet --scenario "$SCENARIO" --from "$WEEK" --to "$TO" --against "$PG/$DB" >/dev/null

psql "$PG/postgres" -qAtc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
rm -rf "$TMP"

rate() { echo "$ROWS / $1" | bc -l | xargs printf '%.0f'; }
echo
echo "PostgreSQL load, $SCENARIO $FROM..$TO: $ROWS rows ($((BYTES / 1000000)) MB as binary COPY)"
echo "server: $(psql "$PG/postgres" -qAtc 'SHOW server_version'), machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
printf '  %-34s %8.1f s  %10s rows/s  (database %s)\n' "(a) raw binary COPY (psql \\copy)" "$RAW" "$(rate "$RAW")" "$RAW_SIZE"
printf '  %-34s %8.1f s  %10s rows/s  (database %s)\n' "(b) aladdin --jobs 1" "$ONE" "$(rate "$ONE")" "$ONE_SIZE"
printf '  %-34s %8.1f s  %10s rows/s\n' "(c) aladdin --jobs 2" "$TWO" "$(rate "$TWO")"
printf '  ratio (b)/(a): %.2f   (c)/(b): %.2f\n' "$(echo "$RAW / $ONE" | bc -l)" "$(echo "$ONE / $TWO" | bc -l)"
