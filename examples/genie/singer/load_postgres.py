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
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pgupsert import Table, connect  # noqa: E402

BATCH = 1000


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    url, schema, state_file = sys.argv[1:]
    conn = connect(url, schema)
    tables, pending, loaded = {}, {}, {}

    def flush():
        for stream, rows in pending.items():
            tables[stream].upsert(rows)
            loaded[stream] = loaded.get(stream, 0) + len(rows)
        pending.clear()
        conn.commit()

    for line in sys.stdin:
        try:
            message = json.loads(line)
        except ValueError:
            continue  # not a Singer message
        kind = message.get("type")
        if kind == "SCHEMA":
            stream = message["stream"]
            if stream in pending:
                flush()
            columns = list(message["schema"].get("properties", {}))
            tables[stream] = Table(conn, schema, stream, message["key_properties"], columns)
        elif kind == "RECORD":
            stream = message["stream"]
            if stream not in tables:
                print(f"RECORD of {stream} before its SCHEMA", file=sys.stderr)
                return 1
            rows = pending.setdefault(stream, [])
            rows.append(message["record"])
            if len(rows) >= BATCH:
                flush()
        elif kind == "STATE":
            flush()
            tmp = state_file + ".tmp"
            with open(tmp, "w") as f:
                json.dump(message["value"], f)
            os.replace(tmp, state_file)
    flush()
    print("LOADED " + json.dumps(loaded, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
