#!/usr/bin/env python3
"""Applies genie's hard deletes to tables a Singer or Airbyte sync loaded: with
`--chaos hard-deletes` a deleted row leaves the lists, and only `/v1/changes` tells (as
`op: delete`, its `data` the row with `deleted_at` set). Each such row is upserted into its
table in SCHEMA (a soft delete, as the truth holds it); tables the sync did not load are
left alone. Reads the feed after the seq saved in SEQ_FILE, on a first run (no SEQ_FILE)
from the feed's oldest retained change (the 410's `oldest_seq`: the lists gave the rest), and
saves where it stopped once the rows are committed. Run it after each sync.

    GENIE_URL=http://127.0.0.1:8000 GENIE_API_KEY=fg_live_… python examples/genie/apply_deletes.py \\
      postgresql://postgres@127.0.0.1:5432/warehouse genie_raw deletes-seq.txt

Reads only the records of the tables it can apply deletes to: the tables of SCHEMA that genie
serves (`/v1/changes?tables=…`), or those GENIE_DELETE_TABLES names (comma-separated), so a
`read:all` key does not page through the clickstream's records. Retries 5xx, 429 (after
Retry-After), timeouts and cut bodies, as `--chaos hostile` needs; pins
`API-Version: 2024-01-01` (the row shape the examples load). The key needs read:changes and
read access to those tables. Standard library and psycopg2.
"""
import http.client
import json
import os
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgupsert import Table, connect  # noqa: E402

API_VERSION = "2024-01-01"
TRIES = 10


def get(url: str, key: str):
    """(status, JSON body) of a GET, retrying what a retry can fix."""
    request = urllib.request.Request(
        url, headers={"Authorization": f"Bearer {key}", "API-Version": API_VERSION}
    )
    for attempt in range(TRIES):
        wait = min(2**attempt, 10)
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                # a body shorter than its Content-Length raises here (IncompleteRead)
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            body = e.read()
            if e.code == 429 or e.code >= 500:
                wait = float(e.headers.get("Retry-After") or wait)
            else:
                try:
                    return e.code, json.loads(body)
                except ValueError:
                    print(f"apply_deletes: {url}: {e.code} with a cut body, retrying", file=sys.stderr)
        except (OSError, ValueError, http.client.HTTPException) as e:
            # connection reset, timeout, cut or broken body
            print(f"apply_deletes: {url}: {e!r}, retrying", file=sys.stderr)
        time.sleep(wait)
    raise SystemExit(f"apply_deletes: {url}: no answer after {TRIES} tries")


def resources(base: str) -> set:
    """The resources genie serves: its OpenAPI document's /v1/{name} lists."""
    with urllib.request.urlopen(f"{base}/openapi.json", timeout=30) as r:
        paths = json.loads(r.read())["paths"]
    return {
        p[len("/v1/"):]
        for p in paths
        if p.startswith("/v1/") and p.count("/") == 2 and "{" not in p
    } - {"changes", "me"}


def loaded_tables(conn, schema: str) -> set:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema,),
        )
        return {r[0] for r in cur.fetchall()}


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    url, schema, seq_file = sys.argv[1:]
    base = os.environ.get("GENIE_URL", "http://127.0.0.1:8000").rstrip("/")
    key = os.environ.get("GENIE_API_KEY")
    if not key:
        print("set GENIE_API_KEY to the key genie printed", file=sys.stderr)
        return 2
    conn = connect(url, schema)
    named = os.environ.get("GENIE_DELETE_TABLES")
    if named:
        wanted = sorted(t.strip() for t in named.split(",") if t.strip())
    else:
        wanted = sorted(loaded_tables(conn, schema) & resources(base))
    if not wanted:
        print(f"apply_deletes: no table of {schema} is a genie resource: nothing to apply", file=sys.stderr)
        print("DELETES {}")
        return 0
    after = int(open(seq_file).read()) if os.path.exists(seq_file) else 0
    tables, applied = {}, {}
    while True:
        status, page = get(
            f"{base}/v1/changes?after_seq={after}&limit=1000&tables={','.join(wanted)}", key
        )
        if status == 410 and page.get("code") == "changes_expired" and after == 0:
            after = page["oldest_seq"]  # a first run on a store older than the feed
            continue
        if status != 200:
            print(f"apply_deletes: /v1/changes answered {status}: {page}", file=sys.stderr)
            return 1
        rows = {}
        for change in page["data"]:
            if change["op"] == "delete":
                rows.setdefault(change["table"], []).append(change["data"])
        for name, deleted in rows.items():
            if name not in tables:
                tables[name] = Table.existing(conn, schema, name)
            if tables[name] is not None:
                tables[name].upsert(deleted)
                applied[name] = applied.get(name, 0) + len(deleted)
        conn.commit()
        after = page["next_after_seq"]
        with open(seq_file + ".tmp", "w") as f:
            f.write(str(after))
        os.replace(seq_file + ".tmp", seq_file)
        if not page["has_more"]:
            break
    print("DELETES " + json.dumps(applied, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
