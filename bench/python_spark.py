"""Throughput of the Python package, side by side in one run. From the repository root, with
the venv the tests use (scripts/setup-clients.sh), the wheel installed, an aladdin built with
the wheel's profile, and Faker 19.1.0 (the reference shop's pin) in the same venv:

    cargo build --profile wheel -p aladdin
    (cd crates/faux-py && ../../.venv-clients/python/bin/maturin build --profile wheel \
        --interpreter ../../.venv-clients/python/bin/python --out ../../target/faux-py-wheel)
    .venv-clients/python/bin/pip install --force-reinstall --no-deps target/faux-py-wheel/*.whl \
        -r ../shared/bench/requirements.txt
    .venv-clients/python/bin/python bench/python_spark.py all target/wheel/aladdin

Measures:
  1. one core (this process and its children pinned to CPU 0): the reader against
     `aladdin generate --threads 1` writing Parquet, for the same rows (events, orders);
  2. one core: the reader for every e-commerce table against the Faker shop
     (../shared/bench/ecommerce_faker.py) generating customers, orders and order lines in this
     same interpreter (rows into memory, no file written by either);
  3. Spark: the data source in local[1] and local[2]; and in local[2] the data source against
     `aladdin generate` (2 threads) writing Parquet that Spark then reads, for the same rows.
Prints one line per measurement; BENCHMARKS.md records the figures and the machine.
`reader` and `spark` alone run parts 1 (reader only) and 3 (data source only).
"""

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import faux_genie

WEEK = ("2025-01-01", "2025-01-07")
FORTNIGHT = ("2025-01-01", "2025-01-14")


def days(first: str, last: str):
    d, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    while d <= end:
        yield d.isoformat()
        d += dt.timedelta(days=1)


def line(what: str, rows: int, secs: float) -> float:
    print(f"{what}: {rows:,} rows in {secs:.2f} s = {rows / secs:,.0f} rows/s", flush=True)
    return rows / secs


def read_rows(table: str, first: str, last: str) -> int:
    rows = 0
    for day in days(first, last):
        for batch in faux_genie.generate(table=table, date=day):
            rows += batch.num_rows
    return rows


def reader_rate(table: str, first: str, last: str) -> float:
    faux_genie.generate(table=table, date="2024-12-31").read_all()  # warm the caches
    start = time.perf_counter()
    rows = read_rows(table, first, last)
    return line(f"reader {table} {first}..{last}, 1 core", rows, time.perf_counter() - start)


def cli_rate(aladdin: str, table: str, first: str, last: str, threads: int, out: str) -> float:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [aladdin, "--quiet", "generate", "--scenario", "ecommerce", "--tables", table,
           "--from", first, "--to", last, "--threads", str(threads), "--format", "parquet",
           "--out", out]
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    secs = time.perf_counter() - start
    with open(os.path.join(out, "_manifest.json")) as f:
        rows = json.load(f)["tables"][table]["rows"]
    return line(f"aladdin generate {table} {first}..{last} --threads {threads} as Parquet", rows, secs)


def one_core(aladdin: str):
    os.sched_setaffinity(0, {0})  # children (aladdin) inherit it
    with tempfile.TemporaryDirectory() as tmp:
        for table in ("events", "orders"):
            cli_rate(aladdin, table, *WEEK, 1, os.path.join(tmp, "warm"))
            cli = cli_rate(aladdin, table, *WEEK, 1, os.path.join(tmp, table))
            py = reader_rate(table, *WEEK)
            print(f"  reader / CLI on one core, {table}: {py / cli:.2f}x (goal >= 0.8x)", flush=True)


def against_faker():
    os.sched_setaffinity(0, {0})
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "..", "shared", "bench"))
    from faker import Faker

    import ecommerce_faker as ref

    fake = Faker()
    Faker.seed(42)
    start = time.perf_counter()
    customers = ref.make_customers(fake, 5000)
    orders, items = ref.make_orders(fake, customers, 20000)
    faker = line("Faker shop in this interpreter (customers, orders, order lines)",
                 len(customers) + len(orders) + len(items), time.perf_counter() - start)
    names = [t["name"] for t in faux_genie.tables("ecommerce")]
    start, rows = time.perf_counter(), 0
    for name in names:
        rows += read_rows(name, *WEEK)
    ours = line(f"reader, every e-commerce table ({len(names)}), {WEEK[0]}..{WEEK[1]}, one call per table and day",
                rows, time.perf_counter() - start)
    print(f"  reader / Faker in the same interpreter, one core: {ours / faker:.1f}x", flush=True)


def spark(aladdin=None):
    os.sched_setaffinity(0, set(range(os.cpu_count())))
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable  # the workers need the wheel too
    from faux_genie.spark import register

    for cores in (1, 2):
        s = (
            SparkSession.builder.master(f"local[{cores}]")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate()
        )
        register(s)
        df = (
            s.read.format("faux").option("table", "events")
            .option("from", FORTNIGHT[0]).option("to", FORTNIGHT[1]).option("shards", 2).load()
        )
        df.selectExpr("count(*)").collect()  # warm-up: JVM, Python workers
        start = time.perf_counter()
        rows = df.selectExpr("count(*)", "sum(quantity)").collect()[0][0]
        line(f"Spark local[{cores}] data source, events {FORTNIGHT[0]}..{FORTNIGHT[1]} x 2 shards, count and sum",
             rows, time.perf_counter() - start)
        if cores == 2 and aladdin:
            with tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, "cli")
                start = time.perf_counter()
                cli_rate(aladdin, "events", *FORTNIGHT, 2, out)
                pq = s.read.parquet(os.path.join(out, "events"))
                rows = pq.selectExpr("count(*)", "sum(quantity)").collect()[0][0]
                line("  aladdin generate (2 threads) to Parquet, then Spark local[2] reads it, together",
                     rows, time.perf_counter() - start)
        s.stop()


def everything(aladdin: str):
    one_core(aladdin)
    against_faker()
    spark(aladdin)


def reader_only():
    os.sched_setaffinity(0, {0})
    for table in ("orders", "events"):
        reader_rate(table, *WEEK)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "all":
        everything(sys.argv[2])
    elif mode == "reader":
        reader_only()
    elif mode == "spark":
        spark(sys.argv[2] if len(sys.argv) > 2 else None)
    else:
        sys.exit(f"unknown mode {mode}: all ALADDIN, reader or spark [ALADDIN]")
