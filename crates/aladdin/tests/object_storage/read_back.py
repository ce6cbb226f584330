"""The independent reader of crates/aladdin/tests/object_storage.rs: pyarrow's file systems
(their own C++ clients for S3 and Azure, not the object_store crate aladdin writes with)
against the local emulator whose address comes in the variables the test sets for aladdin:
AWS_* (moto), AZURITE_BLOB_STORAGE_URL (Azurite).

    read_back.py bucket URL               create a bucket (Azure: a container), URL = s3://NAME
    read_back.py rm URL                   delete one object, URL = s3://BUCKET/KEY
    read_back.py cat URL                  print one object
    read_back.py uploads s3://BUCKET/PREFIX
                                          JSON: the keys of the multipart uploads in progress
                                          (started, neither completed nor aborted) under it
    read_back.py compare URL DIR
        JSON: every object under the prefix URL (bytes, and whether they equal DIR's file of the
        same relative path), DIR's files missing from the store, and per table of Parquet
        partitions the rows and an order-independent checksum, read from the store and from DIR

URLs are s3:// or az:// followed by BUCKET/KEY, as aladdin takes them.
"""

import hashlib
import json
import os
import sys

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

# Azurite's fixed development account (public, documented by Microsoft)
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def store(url: str, create_buckets: bool = False):
    """The file system of URL's scheme, and URL's BUCKET/KEY as a path in it."""
    scheme, path = url.split("://", 1)
    if scheme == "s3":
        http, host = os.environ["AWS_ENDPOINT_URL"].split("://", 1)
        fs = pafs.S3FileSystem(
            access_key=os.environ["AWS_ACCESS_KEY_ID"],
            secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
            region=os.environ["AWS_REGION"],
            endpoint_override=host,
            scheme=http,
            allow_bucket_creation=create_buckets,
        )
    elif scheme == "az":
        http, host = os.environ["AZURITE_BLOB_STORAGE_URL"].split("://", 1)
        fs = pafs.AzureFileSystem(
            account_name=AZURITE_ACCOUNT,
            account_key=AZURITE_KEY,
            blob_storage_authority=host,
            blob_storage_scheme=http,
            # pyarrow asks the Data Lake endpoint whether the account has a hierarchical
            # namespace; Azurite answers that on its blob port
            dfs_storage_authority=host,
            dfs_storage_scheme=http,
        )
    else:
        sys.exit(f"unknown scheme {scheme}://")
    return fs, path.rstrip("/")


def checksum(table: pa.Table) -> str:
    """sha256 of the rows in a canonical order: equal for the same rows in any order."""
    keys = [(c, "ascending") for c in table.column_names]
    table = table.sort_by(keys).combine_chunks()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def local_table(local: str, name: str) -> pa.Table:
    """A table of the CLI's folder, as pyarrow reads it (the reference for every reader)."""
    # the rows carry their own date columns: the folder names are not read as columns
    return ds.dataset(os.path.join(local, name), format="parquet").to_table()


def compare(url: str, local: str) -> dict:
    fs, prefix = store(url)
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
        remote = ds.dataset(f"{prefix}/{name}", filesystem=fs, format="parquet").to_table()
        here = local_table(local, name)
        tables[name] = {
            "rows_store": remote.num_rows,
            "rows_local": here.num_rows,
            "checksum_store": checksum(remote),
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
        fs, bucket = store(sys.argv[2], create_buckets=True)
        fs.create_dir(bucket)
    elif cmd == "rm":
        fs, key = store(sys.argv[2])
        fs.delete_file(key)
    elif cmd == "cat":
        fs, key = store(sys.argv[2])
        with fs.open_input_stream(key) as f:
            sys.stdout.write(f.read().decode())
    elif cmd == "uploads":
        # pyarrow cannot list them; boto3 comes with moto
        import boto3

        bucket, prefix = sys.argv[2].removeprefix("s3://").split("/", 1)
        client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
        found = client.list_multipart_uploads(Bucket=bucket, Prefix=prefix)
        print(json.dumps([u["Key"] for u in found.get("Uploads", [])]))
    elif cmd == "compare":
        print(json.dumps(compare(sys.argv[2], sys.argv[3])))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
