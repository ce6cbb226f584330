"""The Spark 4 data source `faux` in local mode: batch reads equal the CLI's files; a
readStream of the change feed ends with exactly the changes view, and resumes from its
checkpoint."""

import os
import sys

import pyarrow as pa
import pytest
from pyspark.sql import SparkSession
from pyspark.sql.types import DecimalType, TimestampType

import faux_genie
from conftest import MONTH, TABLES, checksum, cli_table, columns_of
from faux_genie.spark import register


@pytest.fixture(scope="module")
def spark():
    # Spark's Python workers (planning and executors) run this interpreter: the one the wheel
    # is installed in
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("faux-genie-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    register(session)
    yield session
    session.stop()


def read(spark, table, **options):
    r = spark.read.format("faux").option("scenario", "ecommerce").option("seed", 42)
    r = r.option("table", table)
    for k, v in options.items():
        r = r.option(k, v)
    return r.load()


@pytest.mark.parametrize("table", TABLES)
def test_a_month_through_the_data_source_matches_the_cli_files(spark, cli_data, table):
    df = read(spark, table, **{"from": MONTH[0], "to": MONTH[1], "shards": 2})
    # one partition per (day, shard)
    assert df.rdd.getNumPartitions() == 31 * 2
    cols = columns_of(table)
    ours = df.toArrow()
    assert ours.num_rows > 0
    assert checksum(ours, cols) == checksum(cli_table(cli_data, table), cols)


def test_schema_is_typed(spark):
    schema = read(spark, "orders", date="2025-01-01").schema
    assert schema["total"].dataType == DecimalType(12, 2)
    assert isinstance(schema["created_at"].dataType, TimestampType)
    assert not schema["id"].nullable


def test_bad_options_fail_with_the_engines_message(spark):
    with pytest.raises(Exception) as err:
        read(spark, "invoices", date="2025-01-01").schema
    assert 'has no table "invoices"' in str(err.value)


DAYS = ("2025-01-01", "2025-01-02")


def changes_view(table):
    batches = []
    for day in DAYS:
        batches.extend(faux_genie.generate("ecommerce", 42, table, day, view="changes"))
    return pa.Table.from_batches(batches)


def stream(spark, table, step):
    return (
        spark.readStream.format("faux")
        .option("scenario", "ecommerce")
        .option("table", table)
        .option("view", "changes")
        .option("from", DAYS[0])
        .option("to", DAYS[1])
        .option("step", step)
        .load()
    )


def test_stream_ends_with_exactly_the_changes_view(spark):
    expected = changes_view("orders")
    query = (
        stream(spark, "orders", "6h")
        .writeStream.format("memory")
        .queryName("faux_orders_changes")
        .outputMode("append")
        .start()
    )
    try:
        query.processAllAvailable()
        batches = [p for p in query.recentProgress if p["numInputRows"] > 0]
    finally:
        query.stop()
    got = spark.sql("SELECT * FROM faux_orders_changes").toArrow()
    cols = columns_of("orders", view="changes")
    # micro-batches as the clock advanced (two days in steps of 6 hours), not one
    assert len(batches) > 1
    assert got.num_rows == expected.num_rows > 0
    assert len(set(got["seq"].to_pylist())) == got.num_rows  # no duplicates
    assert checksum(got, cols) == checksum(expected, cols)


def test_stream_resumes_from_its_checkpoint(spark, tmp_path):
    expected = changes_view("customers")
    out, checkpoint = str(tmp_path / "out"), str(tmp_path / "checkpoint")

    def start(**trigger):
        return (
            stream(spark, "customers", "3h")
            .writeStream.format("parquet")
            .option("path", out)
            .option("checkpointLocation", checkpoint)
            .trigger(**trigger)
            .start()
        )

    # first run: one micro-batch (three virtual hours), then the query ends
    q = start(once=True)
    q.awaitTermination()
    first = spark.read.parquet(out).count()
    assert 0 < first < expected.num_rows
    # restart on the same checkpoint: it carries on from the committed offset
    q = start(processingTime="0 seconds")
    try:
        q.processAllAvailable()
    finally:
        q.stop()
    got = spark.read.parquet(out).toArrow()
    cols = columns_of("customers", view="changes")
    assert got.num_rows == expected.num_rows
    assert len(set(got["seq"].to_pylist())) == got.num_rows
    assert checksum(got, cols) == checksum(expected, cols)
