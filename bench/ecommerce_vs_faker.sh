#!/usr/bin/env bash
# E-commerce: aladdin against the idiomatic Python Faker shop generator, side by side in one
# run. Prints rows/s of each, the ratio, 2-thread scaling and peak memory.
#
# usage (from the repository root):  bench/ecommerce_vs_faker.sh [DAYS]    # default 14
# environment: RUNS=3 (best of), REF_CUSTOMERS=5000 REF_ORDERS=20000, BENCH_TMP=target/bench-tmp
#
# Rows are counted the same way for both: data lines of every CSV written (no JSON value of
# ours contains a line break). The work differs in kind — the reference writes customers,
# 15 products, orders and order lines; aladdin simulates the whole shop (sessions, events,
# lifecycles, payments, shipments, refunds, marketing) — so the ratio is rows/s to rows/s.
set -euo pipefail
DAYS=${1:-14}
RUNS=${RUNS:-3}
TMP=${BENCH_TMP:-target/bench-tmp}/ecommerce
REF=../shared/bench/ecommerce_faker.py
VENV=target/bench-venv
[ -f Cargo.toml ] && [ -d crates/aladdin ] || { echo "run from the repository root" >&2; exit 2; }

cargo build --release -p aladdin >&2
bash ../shared/bench/setup.sh "$VENV" >&2
if [ ! -x /usr/bin/time ]; then apt-get install -y time >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y time >/dev/null; }; fi
rm -rf "$TMP"; mkdir -p "$TMP"; trap 'rm -rf "$TMP"' EXIT
cp target/release/aladdin "$TMP/aladdin"
FROM=2025-03-03
TO=$(date -u -d "$FROM + $((DAYS - 1)) days" +%F)

rows_in() { find "$1" -name '*.csv' -print0 | xargs -0 cat | wc -l | awk -v n="$(find "$1" -name '*.csv' | wc -l)" '{ print $1 - n }'; }
bytes_in() { du -sb "$1" | cut -f1; }
best() { sort -g | head -1; }
timed() { local out=$1; shift; rm -rf "$out"; local a b; a=$(date +%s.%N); "$@" >/dev/null 2>&1; b=$(date +%s.%N); echo "$b - $a" | bc -l; }

declare -A T
for k in ref a1 a2; do T[$k]=""; done
for r in $(seq "$RUNS"); do
    T[ref]+="$(timed "$TMP/ref" taskset -c 0 "$VENV/bin/python" "$REF" --customers "${REF_CUSTOMERS:-5000}" --orders "${REF_ORDERS:-20000}" --seed 42 --out "$TMP/ref")"$'\n'
    T[a1]+="$(timed "$TMP/a1" taskset -c 0 "$TMP/aladdin" generate -q --from "$FROM" --to "$TO" --threads 1 --out "$TMP/a1")"$'\n'
    T[a2]+="$(timed "$TMP/a2" taskset -c 0-1 "$TMP/aladdin" generate -q --from "$FROM" --to "$TO" --threads 2 --out "$TMP/a2")"$'\n'
done
ref_rows=$(rows_in "$TMP/ref"); al_rows=$(rows_in "$TMP/a1")
ref_t=$(printf %s "${T[ref]}" | best); a1_t=$(printf %s "${T[a1]}" | best); a2_t=$(printf %s "${T[a2]}" | best)
ref_rs=$(echo "$ref_rows / $ref_t" | bc -l); a1_rs=$(echo "$al_rows / $a1_t" | bc -l); a2_rs=$(echo "$al_rows / $a2_t" | bc -l)
rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk '/Maximum resident/ { printf "%.0f MB", $6 / 1024 }'; }
rss_day=$(rss "$TMP/aladdin" generate -q --date "$FROM" --out "$TMP/m1")
rss_90=$(rss "$TMP/aladdin" generate -q --from 2025-01-01 --to 2025-03-31 --out "$TMP/m2")
rss_ref=$(rss "$VENV/bin/python" "$REF" --customers "${REF_CUSTOMERS:-5000}" --orders "${REF_ORDERS:-20000}" --seed 42 --out "$TMP/m3")

printf '\n%-44s %12s %10s %14s\n' "run (best of $RUNS)" rows seconds rows/s
printf '%-44s %12d %10.3f %14.0f\n' "reference ecommerce_faker.py, 1 core" "$ref_rows" "$ref_t" "$ref_rs"
printf '%-44s %12d %10.3f %14.0f\n' "aladdin $DAYS days, --threads 1, 1 core" "$al_rows" "$a1_t" "$a1_rs"
printf '%-44s %12d %10.3f %14.0f\n' "aladdin $DAYS days, --threads 2, 2 cores" "$al_rows" "$a2_t" "$a2_rs"
printf '\nratio aladdin/reference (1 core): %.1fx   2-thread scaling: %.2fx\n' "$(echo "$a1_rs / $ref_rs" | bc -l)" "$(echo "$a2_rs / $a1_rs" | bc -l)"
printf 'peak RSS: aladdin 1 day %s, 90 days %s (2 threads); reference %s\n' "$rss_day" "$rss_90" "$rss_ref"
printf 'bytes: reference %s, aladdin %s\n' "$(bytes_in "$TMP/ref")" "$(bytes_in "$TMP/a1")"
