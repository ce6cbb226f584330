"""Shared by the Python tests: the CLI's files to compare with, and an order-independent
checksum. Run by crates/aladdin/tests/python.rs, which builds and installs the wheel, writes
the CLI's files and sets:
  ALADDIN           the aladdin binary
  FAUX_CLI_DATA     `aladdin generate --format parquet` of MONTH for TABLES (seed 42)
"""

import os

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

import faux_genie

MONTH = ("2025-01-01", "2025-01-31")
TABLES = ("orders", "customers", "events")


def _normal_type(t: pa.DataType) -> pa.DataType:
    # Spark hands timestamps back in its session zone and strings as large strings: the same
    # values, other Arrow types; the checksum compares values
    if pa.types.is_timestamp(t):
        return pa.timestamp("us", tz="UTC")
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    return t


def checksum(table: pa.Table, columns) -> tuple:
    """(rows, wrapping sum of a hash of each row's values): equal for the same rows in any
    order."""
    table = table.select(list(columns))
    schema = pa.schema([pa.field(f.name, _normal_type(f.type)) for f in table.schema])
    table = table.cast(schema)
    con = duckdb.connect()
    con.register("t", table)
    rows, total = con.execute(
        "SELECT count(*), coalesce(sum(hash(t)::HUGEINT) % 18446744073709551616, 0)::VARCHAR FROM t"
    ).fetchone()
    return rows, total


def columns_of(table: str, scenario: str = "ecommerce", view: str = "extract"):
    for t in faux_genie.tables(scenario, view=view):
        if t["name"] == table:
            return [c["name"] for c in t["columns"]]
    raise KeyError(table)


@pytest.fixture(scope="session")
def cli_data():
    path = os.environ.get("FAUX_CLI_DATA")
    if not path:
        pytest.fail("FAUX_CLI_DATA is not set: run these tests through crates/aladdin/tests/python.rs")
    return path


def cli_table(cli_data: str, table: str) -> pa.Table:
    return ds.dataset(os.path.join(cli_data, table), format="parquet", partitioning="hive").to_table()
