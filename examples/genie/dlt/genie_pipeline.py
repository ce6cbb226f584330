"""Load every Genie resource with dlt's REST API source, incrementally, merged on the primary key.

The resources, their primary keys and the column to load incrementally by come from genie's
own /openapi.json (x-primary-key and x-incremental-column of each resource's schema), so the
same script loads whatever scenario genie serves.

Configuration (environment variables):

  GENIE_URL        the API, default http://127.0.0.1:8000
  GENIE_API_KEY    the key genie printed (or `genie keys create --name dlt`); required
  GENIE_DESTINATION  postgres (default) or duckdb
  GENIE_DATASET    the schema / dataset to load into, default genie_raw
  GENIE_RESOURCES  comma-separated subset of the resources (default: every one genie serves)
  GENIE_PIPELINES_DIR  where dlt keeps the pipeline state (default: dlt's, ~/.dlt/pipelines)

The destination's credentials use dlt's own settings, e.g.
  DESTINATION__POSTGRES__CREDENTIALS=postgresql://postgres@127.0.0.1:5432/warehouse
  DESTINATION__DUCKDB__CREDENTIALS=genie.duckdb

Run it as often as you like: the first run loads everything, later runs ask for the rows with
updated_at (for append-only resources: their time column) at or after the newest one already
loaded, and merge them on the primary key, so the tables hold each row once, newest version.
A resource without a primary key of its own (Shiny Rocks' services) has nothing to merge on:
it is reloaded whole on every run (replace), the only way its rows stay exactly once.
"""

import json
import os
import re
import sys
import urllib.request

import dlt
from dlt.sources.rest_api import rest_api_source

def resources_of(openapi: dict) -> dict:
    """resource -> (primary key, incremental column), from genie's OpenAPI document."""
    return {
        name: (schema["x-primary-key"], schema["x-incremental-column"])
        for name, schema in openapi["components"]["schemas"].items()
        if "x-primary-key" in schema
    }


def fetch_openapi(base_url: str) -> dict:
    req = urllib.request.Request(base_url.rstrip("/") + "/openapi.json")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def column_hints(openapi: dict, resource: str) -> dict:
    """dlt column hints from the API's OpenAPI schema of a resource, so that columns that are
    still all null (deleted_at, …) exist with their type, money is an exact decimal and JSON
    documents stay JSON instead of becoming child tables."""
    schema = openapi["components"]["schemas"][resource]
    hints = {}
    for name, prop in schema["properties"].items():
        types = prop.get("type", [])
        types = types if isinstance(types, list) else [types]
        nullable = "null" in types
        base = next((t for t in types if t != "null"), None)
        fmt = prop.get("format")
        hint = {"nullable": nullable}
        if base is None:
            hint["data_type"] = "json"
        elif base == "string" and fmt == "date-time":
            hint["data_type"] = "timestamp"
        elif base == "string" and fmt == "date":
            hint["data_type"] = "date"
        elif base == "string":
            hint["data_type"] = "text"
        elif base == "integer":
            hint["data_type"] = "bigint"
        elif base == "boolean":
            hint["data_type"] = "bool"
        elif base == "number":
            m = re.search(r"decimal\((\d+),(\d+)\)", prop.get("description", ""))
            if m:
                hint.update(data_type="decimal", precision=int(m[1]), scale=int(m[2]))
            else:
                hint["data_type"] = "double"
        else:
            hint["data_type"] = "json"
        hints[name] = hint
    return hints


def as_instant(value):
    """The incremental cursor as the API's updated_at_min: a bare date (marketing_spend.date)
    would mean the end of that day, so send its first second instead."""
    if isinstance(value, str) and len(value) == 10:
        return value + "T00:00:00Z"
    return value


def params() -> dict:
    """A new dict per resource: dlt writes the incremental start_param into it."""
    return {"limit": 1000, "include_deleted": "true"}


def genie_source(base_url: str, api_key: str, openapi: dict, resources: list):
    known = resources_of(openapi)
    config = {
        "client": {
            "base_url": base_url.rstrip("/") + "/v1/",
            "auth": {"type": "bearer", "token": api_key},
            # the row shape this pipeline was written for: genie --chaos schema-drift changes
            # the shape of clients that pin no version
            "headers": {"API-Version": "2024-01-01"},
            # next_cursor / has_more: the cursor carries the filters of the pass
            "paginator": {
                "type": "cursor",
                "cursor_path": "next_cursor",
                "cursor_param": "cursor",
            },
        },
        "resource_defaults": {
            # merge (delete-insert) on the primary key; a row updated while a pass pages
            # through the API can come twice in one run: keep its newest version
            "write_disposition": {"disposition": "merge", "strategy": "delete-insert"},
            # no "params" here: dlt adds a resource's incremental start_param to its params
            # dict in place, and a dict shared through the defaults would carry one
            # resource's `updated_at_min` into every other (a keyless resource reloaded with
            # replace then lost every row older than it) — see `params()` below
            "endpoint": {"data_selector": "data"},
        },
        "resources": [],
    }
    for name in resources:
        pk, cursor = known[name]
        columns = column_hints(openapi, name)
        if not pk:
            # nothing to merge on, and a date cursor would read its last day twice: reload
            config["resources"].append(
                {
                    "name": name,
                    "write_disposition": "replace",
                    "columns": columns,
                    "endpoint": {"path": name, "params": params()},
                }
            )
            continue
        columns[cursor]["dedup_sort"] = "desc"
        config["resources"].append(
            {
                "name": name,
                "primary_key": pk,
                "columns": columns,
                "endpoint": {
                    "path": name,
                    "params": params(),
                    "incremental": {
                        "start_param": "updated_at_min",
                        "cursor_path": cursor,
                        "initial_value": "1970-01-01T00:00:00Z",
                        "convert": as_instant,
                    },
                },
            }
        )
    return rest_api_source(config, name="genie", max_table_nesting=0)


def main() -> int:
    base_url = os.environ.get("GENIE_URL", "http://127.0.0.1:8000")
    api_key = os.environ.get("GENIE_API_KEY")
    if not api_key:
        print("set GENIE_API_KEY to the key genie printed", file=sys.stderr)
        return 2
    openapi = fetch_openapi(base_url)
    known = resources_of(openapi)
    if not known:
        print(f"{base_url}/openapi.json lists no resources (x-primary-key)", file=sys.stderr)
        return 2
    wanted = os.environ.get("GENIE_RESOURCES")
    resources = [r.strip() for r in wanted.split(",")] if wanted else list(known)
    unknown = [r for r in resources if r not in known]
    if unknown:
        print(f"unknown resources {unknown}; known: {list(known)}", file=sys.stderr)
        return 2
    pipeline = dlt.pipeline(
        pipeline_name=os.environ.get("GENIE_PIPELINE", "genie"),
        destination=os.environ.get("GENIE_DESTINATION", "postgres"),
        dataset_name=os.environ.get("GENIE_DATASET", "genie_raw"),
        pipelines_dir=os.environ.get("GENIE_PIPELINES_DIR") or None,
    )
    info = pipeline.run(genie_source(base_url, api_key, openapi, resources))
    print(info)
    counts = pipeline.last_trace.last_normalize_info.row_counts
    # one line the tests (and you) can read: rows loaded per table in this run
    print("GENIE_ROWS " + json.dumps({t: counts.get(t, 0) for t in resources}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
