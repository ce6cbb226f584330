#!/usr/bin/env python3
"""A small stand-in for an Airbyte destination (Airbyte's own run as Docker images): reads
the Airbyte protocol messages of `source-declarative-manifest read` on standard input and
upserts each stream's records into a PostgreSQL table of the same name, on the primary key of
the configured catalog (`append_dedup`; every column text). After each STATE message, once
the records before it are committed, the state of every stream so far is written to
STATE_FILE: the next sync's `--state`, so a sync that failed part way (a 410) is simply run
again from each stream's last checkpoint.

    source-declarative-manifest read --config config.json --catalog catalog.json [--state state.json] \\
      | .venv-clients/airbyte/bin/python examples/genie/airbyte/load_postgres.py \\
          catalog.json postgresql://postgres@127.0.0.1:5432/warehouse genie_raw state.json

It reads to the end even when the source fails, so what arrived is kept; a STATE_FILE that
exists already is read first and kept for streams this sync did not checkpoint. Needs psycopg2.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pgupsert import Loader, Table, connect, messages  # noqa: E402


def state_key(state: dict) -> str:
    """Which stream a state message is about (per-stream states replace each other)."""
    if state.get("type") == "STREAM":
        d = state["stream"]["stream_descriptor"]
        return f"{d.get('namespace') or ''}.{d['name']}"
    return state.get("type") or "LEGACY"


def main() -> int:
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    catalog_file, url, schema, state_file = sys.argv[1:]
    catalog = json.load(open(catalog_file))
    conn = connect(url, schema)
    loader = Loader(conn)
    for configured in catalog["streams"]:
        stream = configured["stream"]
        # a primary key is a list of field paths; genie's are top-level fields
        key = [path[0] for path in configured.get("primary_key") or []]
        columns = list(stream.get("json_schema", {}).get("properties", {}))
        loader.tables[stream["name"]] = Table(conn, schema, stream["name"], key, columns)
    states = {}
    if os.path.exists(state_file):
        for s in json.load(open(state_file)):
            states[state_key(s)] = s
    for message in messages(sys.stdin):
        kind = message.get("type")
        if kind == "RECORD":
            loader.add(message["record"]["stream"], message["record"]["data"])
        elif kind == "STATE":
            state = message["state"]
            states[state_key(state)] = state
            loader.checkpoint(state_file, list(states.values()))
        elif kind == "TRACE" and message.get("trace", {}).get("type") == "ERROR":
            # why the sync failed, for whoever runs it again
            print(f"source error: {message['trace']['error'].get('message')}", file=sys.stderr)
    loader.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
