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
  GENIE_LOOKBACK_MINUTES  how far before the newest updated_at loaded the next run asks from
                   (default 15: covers the longest late arrival of genie --chaos); 0 is a naive
                   client that misses late-arriving rows for good
  GENIE_PAGE_SIZE  rows a page (limit), 1 to 1000, default 1000
  GENIE_MAX_PASSES how many passes one run may take to get past expired cursors (default 30)

The destination's credentials use dlt's own settings, e.g.
  DESTINATION__POSTGRES__CREDENTIALS=postgresql://postgres@127.0.0.1:5432/warehouse
  DESTINATION__DUCKDB__CREDENTIALS=genie.duckdb

Run it as often as you like: the first run loads everything, later runs ask for the rows with
updated_at (for append-only resources: their time column) at or after the newest one already
loaded minus GENIE_LOOKBACK_MINUTES, and merge them on the primary key, so the tables hold each row once, newest version.
A resource without a primary key of its own (Shiny Rocks' services) has nothing to merge on:
it is reloaded whole on every run (replace), the only way its rows stay exactly once.

What copes with `genie --chaos hostile` (README, "Chaos"), line by line below:
- 500 / 503 / 429 and cut bodies (connection resets, truncated responses): dlt's HTTP client
  retries them, waiting Retry-After when the answer has one, exponential backoff otherwise
  (RUNTIME__REQUEST_MAX_ATTEMPTS, set to 10 here: hostile fails about one request in three);
- slow answers: a read timeout (30 s) well above the slowest (5 s);
- overlapping pages and rows updated while a pass pages: merge on the primary key, newest
  updated_at first (dedup_sort);
- late-arriving rows: incremental `lag` = GENIE_LOOKBACK_MINUTES, so each run asks from the
  newest updated_at loaded minus 15 minutes;
- 410 cursor_expired: the pass stops there (response action), dlt saves the newest updated_at
  it loaded, and the next pass resumes from it (minus the lookback) — the answer's `resume`;
- schema drift: `API-Version: 2024-01-01` pinned on every request;
- hard deletes: resources with deleted_at also read `/v1/changes` from the last seq seen and
  merge each `op: delete` record's row (deleted_at set) into their table — a soft delete in
  the warehouse, which is what the truth (and `aladdin verify`) holds.
"""

import json
import os
import re
import sys
import urllib.request

# dlt's HTTP client reads these when it is created: more attempts than dlt's default 5
# (hostile fails about a third of requests: 5 tries all failing is 1 in 400 requests), a
# read timeout above genie's slowest answer (5 s), and at most 30 s between tries
for name, value in {
    "RUNTIME__REQUEST_MAX_ATTEMPTS": "10",
    "RUNTIME__REQUEST_TIMEOUT": "30",
    "RUNTIME__REQUEST_BACKOFF_FACTOR": "1",
    "RUNTIME__REQUEST_MAX_RETRY_DELAY": "30",
}.items():
    os.environ.setdefault(name, value)

import dlt  # noqa: E402
from dlt.sources.helpers.requests import Client  # noqa: E402
from dlt.sources.helpers.rest_client.exceptions import IgnoreResponseException  # noqa: E402
from dlt.sources.rest_api import rest_api_source  # noqa: E402

API_VERSION = "2024-01-01"

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
    return {"limit": int(os.environ.get("GENIE_PAGE_SIZE", "1000")), "include_deleted": "true"}


def has_deletes(openapi: dict, resource: str) -> bool:
    return "deleted_at" in openapi["components"]["schemas"][resource]["properties"]


class Expired:
    """The resources whose pass met 410 cursor_expired in this run: their pass ends there,
    dlt keeps the newest cursor value they loaded, and the next pass resumes from it."""

    def __init__(self):
        self.resources = set()

    def action(self, name: str):
        def on_410(response, *args, **kwargs):
            try:
                code = response.json().get("code")
            except ValueError:
                code = None
            if code != "cursor_expired":
                return  # any other 410 stays an error
            self.resources.add(name)
            raise IgnoreResponseException

        return {"status_code": 410, "action": on_410}


def deletes(base_url: str, api_key: str, name: str, pk: list, columns: dict):
    """`op: delete` records of `/v1/changes` for `name`, as rows for its table: with --chaos
    hard-deletes a deleted row leaves the lists, and only the feed tells. Reads the feed from
    the last seq this resource saw (dlt's resource state), on the first run from its oldest
    retained record."""
    headers = {"Authorization": f"Bearer {api_key}", "API-Version": API_VERSION}
    url = base_url.rstrip("/") + "/v1/changes"

    @dlt.resource(
        name=f"{name}_deletes",
        table_name=name,
        primary_key=pk,
        columns=columns,
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
    )
    def feed():
        # dlt's HTTP client: retries 5xx, 429 (Retry-After) and cut bodies like the lists do;
        # a 410 is looked at here
        session = Client(raise_for_status=False).session
        state = dlt.current.resource_state()
        after = state.get("after_seq", 0)
        while True:
            r = session.get(url, params={"after_seq": after, "limit": 1000}, headers=headers)
            if r.status_code == 410 and r.json().get("code") == "changes_expired" and after == 0:
                # a first run: the store is older than the feed; the lists gave the rest
                after = r.json()["oldest_seq"]
                continue
            r.raise_for_status()
            page = r.json()
            rows = [c["data"] for c in page["data"] if c["table"] == name and c["op"] == "delete"]
            if rows:
                yield rows
            after = page["next_after_seq"]
            state["after_seq"] = after
            if not page["has_more"]:
                return

    return feed


def genie_source(
    base_url: str,
    api_key: str,
    openapi: dict,
    resources: list,
    expired: Expired,
    lookback_minutes: float,
    with_deletes: bool = True,
):
    known = resources_of(openapi)
    config = {
        "client": {
            "base_url": base_url.rstrip("/") + "/v1/",
            "auth": {"type": "bearer", "token": api_key},
            # the row shape this pipeline was written for: genie --chaos schema-drift changes
            # the shape of clients that pin no version
            "headers": {"API-Version": API_VERSION},
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
        incremental = {
            "start_param": "updated_at_min",
            "cursor_path": cursor,
            "initial_value": "1970-01-01T00:00:00Z",
            "convert": as_instant,
        }
        if lookback_minutes > 0:
            # late-arriving rows: ask from the newest updated_at loaded minus the lookback
            incremental["lag"] = lookback_minutes * 60
        config["resources"].append(
            {
                "name": name,
                "primary_key": pk,
                "columns": columns,
                "endpoint": {
                    "path": name,
                    "params": params(),
                    "incremental": incremental,
                    "response_actions": [expired.action(name)],
                },
            }
        )
    source = rest_api_source(config, name="genie", max_table_nesting=0)
    if with_deletes:
        for name in resources:
            pk, _ = known[name]
            if pk and has_deletes(openapi, name):
                columns = column_hints(openapi, name)
                source.resources.add(deletes(base_url, api_key, name, pk, columns))
    return source


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
    lookback = float(os.environ.get("GENIE_LOOKBACK_MINUTES", "15"))
    max_passes = int(os.environ.get("GENIE_MAX_PASSES", "30"))
    totals = {t: 0 for t in resources}
    todo, passes, expired_passes = resources, 0, 0
    # a pass that meets an expired cursor loads what it read; the next pass resumes the
    # resources that expired from where dlt's state says they got to
    while todo:
        passes += 1
        expired = Expired()
        source = genie_source(
            base_url, api_key, openapi, todo, expired, lookback, with_deletes=passes == 1
        )
        info = pipeline.run(source)
        print(info)
        counts = pipeline.last_trace.last_normalize_info.row_counts
        for t in todo:
            totals[t] += counts.get(t, 0)
        todo = [r for r in resources if r in expired.resources]
        if todo:
            expired_passes += 1
            print(f"cursor expired for {todo}: resuming them from their saved updated_at")
            if passes >= max_passes:
                print(f"still expiring after {passes} passes: {todo}", file=sys.stderr)
                return 1
    # lines the tests (and you) can read: rows loaded per table in this run, and passes
    print("GENIE_ROWS " + json.dumps(totals, sort_keys=True))
    print("GENIE_PASSES " + json.dumps({"passes": passes, "expired": expired_passes}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
