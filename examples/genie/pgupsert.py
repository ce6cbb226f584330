"""Upserting rows into PostgreSQL tables, for the Singer and Airbyte loaders and
apply_deletes.py (imported by them; psycopg2 is the only dependency).

Every column is text: a value is kept as the API wrote it (JSON objects and arrays as JSON),
which is what `aladdin verify` compares (it reads every column as text and canonicalises it by
the column's type). A table's primary key is the stream's key, so a row read twice
(overlapping pages, a lookback, a rerun) is stored once; a table with `updated_at` never takes
an older version over a newer one.
"""
import json
import os

import psycopg2
import psycopg2.extras


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def text(value):
    """A JSON value as the text stored: strings as they are, the rest as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def connect(url: str, schema: str):
    conn = psycopg2.connect(url)
    with conn.cursor() as cur:
        cur.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(schema)}")
    conn.commit()
    return conn


class Table:
    """A table of `schema`, created on first use with primary key `key`."""

    def __init__(self, conn, schema: str, name: str, key: list, columns: list):
        if not key:
            raise SystemExit(f"{name}: no primary key to upsert on")
        self.conn, self.schema, self.name, self.key = conn, schema, name, list(key)
        self.columns = []
        self.qualified = f"{ident(schema)}.{ident(name)}"
        cols = list(dict.fromkeys(list(key) + list(columns)))
        with conn.cursor() as cur:
            defs = ", ".join(f"{ident(c)} text" for c in cols)
            pk = ", ".join(ident(c) for c in key)
            cur.execute(f"CREATE TABLE IF NOT EXISTS {self.qualified} ({defs}, PRIMARY KEY ({pk}))")
        self.columns = existing_columns(conn, schema, name)
        self.add_columns(cols)

    @classmethod
    def existing(cls, conn, schema: str, name: str):
        """The table `name` if the loader made it (its key read from its primary key)."""
        with conn.cursor() as cur:
            cur.execute(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
                "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                "WHERE i.indrelid = to_regclass(%s) AND i.indisprimary ORDER BY a.attnum",
                (f"{ident(schema)}.{ident(name)}",),
            )
            key = [r[0] for r in cur.fetchall()]
        return cls(conn, schema, name, key, []) if key else None

    def add_columns(self, names):
        new = [c for c in names if c not in self.columns]
        with self.conn.cursor() as cur:
            for c in new:
                cur.execute(f"ALTER TABLE {self.qualified} ADD COLUMN IF NOT EXISTS {ident(c)} text")
        self.columns += new

    def upsert(self, rows: list):
        """Inserts or replaces `rows` (dicts) by key; the newest version of a key wins."""
        if not rows:
            return
        newest = {}
        for row in rows:
            k = tuple(text(row.get(c)) for c in self.key)
            old = newest.get(k)
            if old is None or (row.get("updated_at") or "") >= (old.get("updated_at") or ""):
                newest[k] = row
        self.add_columns([c for row in newest.values() for c in row])
        cols = self.columns
        updates = ", ".join(f"{ident(c)} = EXCLUDED.{ident(c)}" for c in cols if c not in self.key)
        sql = (
            f"INSERT INTO {self.qualified} ({', '.join(ident(c) for c in cols)}) VALUES %s "
            f"ON CONFLICT ({', '.join(ident(c) for c in self.key)}) DO "
            + (f"UPDATE SET {updates}" if updates else "NOTHING")
        )
        if updates and "updated_at" in cols:
            # ISO 8601 UTC times as the API writes them order as text
            sql += (
                f" WHERE {self.qualified}.updated_at IS NULL"
                f" OR EXCLUDED.updated_at >= {self.qualified}.updated_at"
            )
        values = [tuple(text(r.get(c)) for c in cols) for r in newest.values()]
        with self.conn.cursor() as cur:
            psycopg2.extras.execute_values(cur, sql, values, page_size=500)


class Loader:
    """What the Singer target and the Airbyte destination share: records batched per stream,
    each batch upserted into its table and committed before a checkpoint is written."""

    BATCH = 1000

    def __init__(self, conn):
        self.conn = conn
        self.tables, self.pending, self.loaded = {}, {}, {}

    def add(self, stream: str, row: dict):
        if stream not in self.tables:
            # a Singer RECORD before its SCHEMA, or an Airbyte stream not in the catalog
            raise SystemExit(f"a RECORD of {stream}, which has no table")
        rows = self.pending.setdefault(stream, [])
        rows.append(row)
        if len(rows) >= self.BATCH:
            self.flush()

    def flush(self):
        for stream, rows in self.pending.items():
            self.tables[stream].upsert(rows)
            self.loaded[stream] = self.loaded.get(stream, 0) + len(rows)
        self.pending.clear()
        self.conn.commit()

    def checkpoint(self, state_file: str, value):
        """Commits what came before, then writes `value` (replacing the file whole, so a
        run cut short leaves the previous checkpoint, never half of one)."""
        self.flush()
        tmp = state_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(value, f)
        os.replace(tmp, state_file)

    def finish(self):
        self.flush()
        print("LOADED " + json.dumps(self.loaded, sort_keys=True))


def messages(lines):
    """The JSON objects among `lines`; the rest (a tap's or the CDK's text logs) is skipped."""
    for line in lines:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict):
            yield message


def existing_columns(conn, schema: str, name: str) -> list:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            (schema, name),
        )
        return [r[0] for r in cur.fetchall()]
