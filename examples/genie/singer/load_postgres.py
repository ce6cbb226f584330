#!/usr/bin/env python3
"""A small Singer target: reads the tap's SCHEMA, RECORD and STATE messages on standard input
and upserts each stream's records into a PostgreSQL table of the same name, on the stream's
key_properties (every column text). Each STATE is written to STATE_FILE once the records
before it are committed: the next run starts from it (run.sh's STATE), so a tap that stopped
part way (a 410, a cut body) is simply run again.

    examples/genie/singer/run.sh | .venv-clients/singer/bin/python \\
      examples/genie/singer/load_postgres.py postgresql://postgres@127.0.0.1:5432/warehouse genie_raw state.json

It reads to the end even when the tap fails, so what arrived is kept. Needs psycopg2.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pgupsert import Loader, Table, connect, messages  # noqa: E402


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    url, schema, state_file = sys.argv[1:]
    conn = connect(url, schema)
    loader = Loader(conn)
    for message in messages(sys.stdin):
        kind = message.get("type")
        if kind == "SCHEMA":
            stream = message["stream"]
            if stream in loader.pending:
                loader.flush()
            columns = list(message["schema"].get("properties", {}))
            loader.tables[stream] = Table(conn, schema, stream, message["key_properties"], columns)
        elif kind == "RECORD":
            loader.add(message["stream"], message["record"])
        elif kind == "STATE":
            loader.checkpoint(state_file, message["value"])
    loader.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
