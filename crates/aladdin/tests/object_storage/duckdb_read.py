"""DuckDB reads back what aladdin wrote to the local S3 server (crates/aladdin/tests/
object_storage.rs): through its httpfs extension, loaded from the duckdb-extension-httpfs wheel
(no extension download: the test machine has no internet), with the address and credentials of
the AWS_* variables the test sets for aladdin.

    duckdb_read.py s3://BUCKET/PREFIX DIR
        JSON per Parquet table of DIR (the CLI's folder for the same run): the rows and the
        order-independent checksum of read_back.py, of DuckDB's read of the store and of
        pyarrow's read of DIR
"""

import json
import os
import pathlib
import sys

import duckdb
import duckdb_extension_httpfs

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from read_back import checksum, local_table  # noqa: E402  (the same checksum as the other readers)


def connect() -> duckdb.DuckDBPyConnection:
    # the wheel's extension is built for this very DuckDB version (it pins it)
    ext = next(
        pathlib.Path(duckdb_extension_httpfs.__file__).parent.glob(
            "extensions/v*/httpfs.duckdb_extension"
        )
    )
    # nothing is installed or loaded behind our back (that would reach for the internet)
    con = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    con.execute(f"LOAD '{ext}'")
    http, host = os.environ["AWS_ENDPOINT_URL"].split("://", 1)
    con.execute(
        "CREATE SECRET local_s3 (TYPE s3, KEY_ID ?, SECRET ?, REGION ?, ENDPOINT ?, "
        "URL_STYLE 'path', USE_SSL ?)",
        [
            os.environ["AWS_ACCESS_KEY_ID"],
            os.environ["AWS_SECRET_ACCESS_KEY"],
            os.environ["AWS_REGION"],
            host,
            http == "https",
        ],
    )
    return con


def main() -> None:
    url, local = sys.argv[1].rstrip("/"), sys.argv[2]
    con = connect()
    tables = {}
    for name in sorted(os.listdir(local)):
        if not any(p.suffix == ".parquet" for p in pathlib.Path(local, name).rglob("*")):
            continue
        # hive_partitioning off: the rows carry their own date columns, as in read_back.py
        remote = con.sql(
            "SELECT * FROM read_parquet(?, hive_partitioning = false)",
            params=[f"{url}/{name}/*/*.parquet"],
        ).fetch_arrow_table()
        here = local_table(local, name)
        # DuckDB's Arrow types may spell the same values differently (time zone, string
        # kind); a safe cast to the folder's schema fails on any value it would change
        remote = remote.cast(here.schema)
        tables[name] = {
            "rows_duckdb": remote.num_rows,
            "rows_local": here.num_rows,
            "checksum_duckdb": checksum(remote),
            "checksum_local": checksum(here),
        }
    print(json.dumps({"duckdb": duckdb.__version__, "tables": tables}))


if __name__ == "__main__":
    main()
