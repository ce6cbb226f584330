"""The Python reader: the same rows as the CLI, straight into pandas, Polars and DuckDB, and
the CLI's messages for bad arguments."""

import datetime as dt
import json
import os
import subprocess

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import faux_genie
from conftest import MONTH, TABLES, checksum, cli_table, columns_of

DAYS = [
    (dt.date.fromisoformat(MONTH[0]) + dt.timedelta(days=i)).isoformat() for i in range(31)
]


def month(table: str, shards: int = 1) -> pa.Table:
    batches = []
    schema = None
    for day in DAYS:
        for shard in range(shards):
            reader = faux_genie.generate("ecommerce", 42, table, day, shard, shards)
            schema = reader.schema
            batches.extend(reader)
    return pa.Table.from_batches(batches, schema=schema)


@pytest.mark.parametrize("table", TABLES)
def test_a_month_matches_the_cli_files(cli_data, table):
    cols = columns_of(table)
    ours = month(table)
    theirs = cli_table(cli_data, table)
    assert ours.num_rows > 0
    assert checksum(ours, cols) == checksum(theirs, cols)
    # typed like the Parquet files (decimals, timestamps, dates), not strings
    assert ours.schema == theirs.select(cols).schema


def test_shards_of_a_day_concatenate_to_the_day():
    whole = faux_genie.generate(table="orders", date="2025-01-15").read_all()
    parts = [
        faux_genie.generate(table="orders", date="2025-01-15", shard=i, shards=3).read_all()
        for i in range(3)
    ]
    assert sum(p.num_rows for p in parts) == whole.num_rows
    assert pa.concat_tables(parts).equals(whole)


def test_typed_columns():
    schema = faux_genie.generate(table="orders", date="2025-01-02").schema
    assert schema.field("total").type == pa.decimal128(12, 2)
    assert schema.field("created_at").type == pa.timestamp("us", tz="UTC")
    orders = [t for t in faux_genie.tables("ecommerce") if t["name"] == "orders"][0]
    assert orders["primary_key"] == ["id"]
    total = [c for c in orders["columns"] if c["name"] == "total"][0]
    assert (total["type"], total["precision"], total["scale"]) == ("decimal", 12, 2)
    assert {s["name"] for s in faux_genie.scenarios()} >= {"ecommerce", "shiny-rocks"}


def test_pandas_polars_duckdb_read_the_reader():
    expected = faux_genie.generate(table="orders", date="2025-01-03").read_all()
    df = faux_genie.generate(table="orders", date="2025-01-03").read_pandas()
    assert isinstance(df, pd.DataFrame) and len(df) == expected.num_rows
    assert df["total"].sum() == expected["total"].to_pandas().sum()
    pdf = pl.from_arrow(faux_genie.generate(table="orders", date="2025-01-03"))
    assert pdf.height == expected.num_rows
    assert pdf["id"].to_list() == expected["id"].to_pylist()
    reader = faux_genie.generate(table="orders", date="2025-01-03")
    [(rows, total)] = duckdb.sql("SELECT count(*), sum(total) FROM reader").fetchall()
    assert rows == expected.num_rows
    assert total == pa.compute.sum(expected["total"]).as_py()


def test_changes_and_snapshot_views():
    changes = faux_genie.generate(table="orders", date="2025-01-04", view="changes").read_all()
    assert changes.column_names[:3] == ["op", "seq", "ts"]
    seqs = changes["seq"].to_pylist()
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    snap = faux_genie.generate(
        table="orders", date="2025-01-04", view="snapshot", as_of="2025-01-10"
    ).read_all()
    assert snap.num_rows > 0


def test_truth_is_the_cli_answer_key():
    ours = faux_genie.truth("ecommerce", 42, from_="2025-01-01", to="2025-01-03", tables=["orders", "customers"])
    out = subprocess.run(
        [os.environ["ALADDIN"], "truth", "--scenario", "ecommerce", "--seed", "42",
         "--from", "2025-01-01", "--to", "2025-01-03", "--tables", "orders,customers"],
        check=True, capture_output=True, text=True,
    ).stdout
    assert ours == json.loads(out)
    assert ours["days"]["2025-01-02"]["orders"]["rows"] > 0


def test_a_scenario_file_generates_as_the_cli(tmp_path):
    scenario = os.path.join(os.environ["FAUX_REPO"], "scenarios", "ecommerce.toml")
    subprocess.run(
        [os.environ["ALADDIN"], "generate", "--scenario", scenario, "--date", "2025-01-05",
         "--tables", "orders", "--format", "parquet", "--out", str(tmp_path), "-q"],
        check=True,
    )
    theirs = cli_table(str(tmp_path), "orders")
    ours = faux_genie.generate(scenario, 42, "orders", "2025-01-05").read_all()
    cols = columns_of("orders")
    assert checksum(ours, cols) == checksum(theirs, cols)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"scenario": "shop"}, 'unknown scenario "shop": valid scenarios are ecommerce, shiny-rocks'),
        ({"table": "invoices"}, 'scenario ecommerce has no table "invoices": its tables are'),
        ({"date": "2025-13-01"}, "2025-13-01"),
        ({"shard": 3, "shards": 2}, 'invalid shard "3/2": expected I/N with 0 <= I < N'),
        ({"view": "history"}, 'invalid view "history": valid views are extract, snapshot, changes'),
        ({"view": "snapshot"}, "needs as_of"),
        ({"as_of": "2025-01-10"}, "as_of only applies"),
        ({"scenario": "missing.toml"}, "cannot read scenario file missing.toml"),
        ({"shard": -1}, "shard must be a non-negative integer"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, message):
    with pytest.raises(ValueError) as err:
        faux_genie.generate(**kwargs)
    assert message in str(err.value)
