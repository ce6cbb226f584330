"""Throughput of the Python package: the reader on one core, and the Spark data source in
local[1] and local[2]. Run from the repository root with the venv that tests use, after
installing the wheel (crates/aladdin/tests/python.rs does; or `maturin build --profile wheel`
in crates/faux-py and pip install the wheel):

    taskset -c 0 .venv-clients/python/bin/python bench/python_spark.py reader
    .venv-clients/python/bin/python bench/python_spark.py spark

Prints rows, seconds and rows/s per measurement; BENCHMARKS.md records the figures and the
machine.
"""

import datetime as dt
import sys
import time

import faux_genie

DAYS = [(dt.date(2025, 1, 1) + dt.timedelta(days=i)).isoformat() for i in range(7)]


def reader():
    for table in ("orders", "events"):
        faux_genie.generate(table=table, date="2024-12-31").read_all()  # warm the caches
        rows, start = 0, time.perf_counter()
        for day in DAYS:
            for batch in faux_genie.generate(table=table, date=day):
                rows += batch.num_rows
        secs = time.perf_counter() - start
        print(f"reader {table} 7 days: {rows} rows in {secs:.2f} s = {rows / secs:,.0f} rows/s")


def spark():
    import os

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
            .option("from", "2025-01-01").option("to", "2025-01-14").option("shards", 2).load()
        )
        df.selectExpr("count(*)").collect()  # warm-up: JVM, Python workers
        start = time.perf_counter()
        rows = df.selectExpr("count(*)", "sum(quantity)").collect()[0][0]
        secs = time.perf_counter() - start
        print(f"spark local[{cores}] events 14 days: {rows} rows in {secs:.2f} s = {rows / secs:,.0f} rows/s")
        s.stop()


if __name__ == "__main__":
    {"reader": reader, "spark": spark}[sys.argv[1]]()
