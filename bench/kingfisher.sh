#!/usr/bin/env bash
# Kingfisher's performance figures (issue 15), release build; prints lines for BENCHMARKS.md.
#
#   1. feature ingestion, records/s on one core (taskset -c 0): the small shop's sessions and
#      events as stream messages, parsed and applied in batches of 500, into the SQLite store
#      and, side by side for the same days, the PostgreSQL store (a throw-away database made
#      through PG_ADMIN_URL; the server is another process, not pinned; PG_ADMIN_URL= skips it);
#   2. memory against the stream's length: the same run over DAYS_LIST days, peak RSS;
#   3. training on 30 days of carts, both cores: each model kind on its own (the logistic
#      regression, the gradient-boosted trees) and both as `kingfisher train` fits them, then
#      `kingfisher train --train-days 30` itself (process wall time and memory);
#   4. `POST /v1/predict` by cart_id at CONNS connections for DURATION s (a tokio client on one
#      worker thread, on the same 2 cores as the server: it costs the server CPU).
#
# Settings: DAYS_LIST="15 30 60" CONNS=32 DURATION=15
#           PG_ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres (empty: SQLite only)
set -euo pipefail
cd "$(dirname "$0")/.."
DAYS_LIST=${DAYS_LIST:-"15 30 60"}
CONNS=${CONNS:-32}
DURATION=${DURATION:-15}
W=target/bench-tmp/kingfisher
CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1} cargo build --release -p kingfisher --bin kingfisher --example kingfisher_bench
KF=target/release/kingfisher
BENCH=target/release/examples/kingfisher_bench
rm -rf "$W" && mkdir -p "$W"

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uptime | sed 's/.*load/load/')"
echo "== git: $(git rev-parse --short HEAD)"

echo "== 1+2. ingestion on one core, memory against the stream's length"
PG_ADMIN_URL=${PG_ADMIN_URL-postgres://postgres@127.0.0.1:5432/postgres}
PG_DB=kfbench_$$
if [ -n "$PG_ADMIN_URL" ]; then
  psql "$PG_ADMIN_URL" -qAtc "CREATE DATABASE $PG_DB"
  trap 'psql "$PG_ADMIN_URL" -qAtc "DROP DATABASE IF EXISTS $PG_DB" || true' EXIT
fi
for d in $DAYS_LIST; do
  echo -n "sqlite:   "; taskset -c 0 "$BENCH" ingest --days "$d" --store "$W/ingest-$d.db"
  if [ -n "$PG_ADMIN_URL" ]; then
    PG_URL="${PG_ADMIN_URL%/*}/$PG_DB"
    psql "$PG_URL" -qAtc "DROP SCHEMA IF EXISTS kingfisher CASCADE" 2>/dev/null
    echo -n "postgres: "; taskset -c 0 "$BENCH" ingest --days "$d" --database-url "$PG_URL"
  fi
done

LAST=${DAYS_LIST##* }
STORE="$W/ingest-$LAST.db"
echo "== 3. training on 30 days of carts ($STORE)"
"$BENCH" train --store "$STORE" --registry "$W/models-kinds" --train-days 30
/usr/bin/time -f "train wall_s=%e user_s=%U sys_s=%S max_rss_mib=%M(KiB)" \
  "$KF" train --store "$STORE" --registry "$W/models" --train-days 30 | sed -n 1,3p

echo "== 4. POST /v1/predict at $CONNS connections"
"$KF" serve --store "$STORE" --registry "$W/models" --listen 127.0.0.1:0 > "$W/serve.out" 2> "$W/serve.err" &
SERVE=$!
trap 'kill $SERVE 2>/dev/null || true; [ -z "$PG_ADMIN_URL" ] || psql "$PG_ADMIN_URL" -qAtc "DROP DATABASE IF EXISTS $PG_DB" || true' EXIT
for _ in $(seq 100); do grep -q listening "$W/serve.out" && break; sleep 0.1; done
URL=$(grep -o 'http://[0-9.:]*' "$W/serve.out")
"$BENCH" predict --url "$URL" --store "$STORE" --conns "$CONNS" --seconds "$DURATION"
"$BENCH" predict --url "$URL" --store "$STORE" --conns 1 --seconds 5
echo "serve cpu: $(ps -o cputime=,rss= -p $SERVE) (cputime, rss KiB)"
