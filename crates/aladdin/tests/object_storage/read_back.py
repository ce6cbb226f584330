"""The independent reader of crates/aladdin/tests/s3.rs: pyarrow's S3FileSystem (its own C++
S3 client, not the object_store crate aladdin writes with) against the local S3 server, whose
address and credentials come in the AWS_* variables the test sets.

    read_back.py bucket NAME              create a bucket
    read_back.py rm BUCKET/KEY            delete one object
    read_back.py cat BUCKET/KEY           print one object
    read_back.py compare BUCKET/PREFIX DIR
        JSON: every object under the prefix (bytes, and whether they equal DIR's file of the
        same relative path), DIR's files missing from the store, and per table of Parquet
        partitions the rows and an order-independent checksum, read from the store and from DIR
"""

import hashlib
import json
import os
import sys

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs


def store(**options) -> pafs.S3FileSystem:
    scheme, host = os.environ["AWS_ENDPOINT_URL"].split("://", 1)
    return pafs.S3FileSystem(
        access_key=os.environ["AWS_ACCESS_KEY_ID"],
        secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        region=os.environ["AWS_REGION"],
        endpoint_override=host,
        scheme=scheme,
        **options,
    )


def checksum(table: pa.Table) -> str:
    """sha256 of the rows in a canonical order: equal for the same rows in any order."""
    keys = [(c, "ascending") for c in table.column_names]
    table = table.sort_by(keys).combine_chunks()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def compare(prefix: str, local: str) -> dict:
    fs = store()
    objects = {}
    # allow_not_found: an interrupted run may have left nothing at all
    for info in fs.get_file_info(pafs.FileSelector(prefix, recursive=True, allow_not_found=True)):
        if info.type != pafs.FileType.File:
            continue
        rel = info.path[len(prefix) + 1 :]
        with fs.open_input_stream(info.path) as f:
            data = f.read()
        mine = os.path.join(local, rel)
        same = None
        if os.path.isfile(mine):
            with open(mine, "rb") as f:
                same = f.read() == data
        objects[rel] = {"bytes": len(data), "same_as_local": same}
    local_files = []
    for root, _, files in os.walk(local):
        for name in files:
            local_files.append(os.path.relpath(os.path.join(root, name), local))
    tables = {}
    for name in sorted({rel.split("/")[0] for rel in objects if rel.endswith(".parquet")}):
        # the rows carry their own date columns: the folder names are not read as columns
        remote = ds.dataset(f"{prefix}/{name}", filesystem=fs, format="parquet").to_table()
        here = ds.dataset(os.path.join(local, name), format="parquet").to_table()
        tables[name] = {
            "rows_s3": remote.num_rows,
            "rows_local": here.num_rows,
            "checksum_s3": checksum(remote),
            "checksum_local": checksum(here),
        }
    return {
        "objects": objects,
        "missing": sorted(f for f in local_files if f not in objects),
        "tables": tables,
    }


def main() -> None:
    cmd = sys.argv[1]
    if cmd == "bucket":
        store(allow_bucket_creation=True).create_dir(sys.argv[2])
    elif cmd == "rm":
        store().delete_file(sys.argv[2])
    elif cmd == "cat":
        with store().open_input_stream(sys.argv[2]) as f:
            sys.stdout.write(f.read().decode())
    elif cmd == "compare":
        print(json.dumps(compare(sys.argv[2].rstrip("/"), sys.argv[3])))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
