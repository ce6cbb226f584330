"""Faux Genie in Python: deterministic fake business data as Arrow record batches.

>>> import faux_genie
>>> reader = faux_genie.generate("ecommerce", seed=42, table="orders", date="2025-01-01")
>>> df = reader.read_pandas()

The same seed gives the same rows as ``aladdin generate``; a day (or a shard of one) generates
alone, anywhere: that is what the Spark data source (``faux_genie.spark``) builds on.
"""

from __future__ import annotations

import datetime as _dt
import json as _json
from typing import Iterable, Optional, Union

from . import _native

__all__ = ["scenarios", "tables", "generate", "truth", "MODEL_VERSION", "DEFAULT_SEED"]

MODEL_VERSION = _native.MODEL_VERSION
DEFAULT_SEED = _native.DEFAULT_SEED

DateLike = Union[str, _dt.date]


def _day(value: Optional[DateLike]) -> Optional[str]:
    # a datetime is a date too: take its day, as the CLI's YYYY-MM-DD
    if isinstance(value, _dt.datetime):
        return value.date().isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    return value


def _instant(value) -> Optional[str]:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"as_of {value!r} has no time zone: give an aware datetime (UTC)")
        return str(int(value.timestamp()))
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    raise ValueError(f"as_of {value!r}: expected RFC 3339 text, a date, a datetime or epoch seconds")


def scenarios() -> list:
    """The built-in scenarios: ``[{"name": ..., "description": ...}, ...]``."""
    return _native.scenarios()


def tables(scenario: str = "ecommerce", seed: int = DEFAULT_SEED, view: str = "extract") -> list:
    """The tables of a scenario (a name or a ``.toml`` scenario file): per table its columns
    (name, type, precision/scale for decimals, nullable, description), primary key, cursor and
    partition column. ``view="changes"`` describes the change records (``op``, ``seq``, ``ts``
    first)."""
    return _native.tables(scenario, seed, view)


def generate(
    scenario: str = "ecommerce",
    seed: int = DEFAULT_SEED,
    table: str = "orders",
    date: DateLike = "2025-01-01",
    shard: int = 0,
    shards: int = 1,
    view: str = "extract",
    as_of=None,
    batch_rows: int = 65536,
):
    """The rows of ``table`` for one day (shard ``shard`` of ``shards``) in ``view``
    (``extract``, ``snapshot`` with ``as_of``, or ``changes``) as a
    ``pyarrow.RecordBatchReader``: the same rows as ``aladdin generate`` for the same seed.
    Bad arguments raise ``ValueError``."""
    for name, value in (("seed", seed), ("shard", shard), ("shards", shards)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
    return _native.generate(
        scenario, seed, table, _day(date), shard, shards, view, _instant(as_of), batch_rows
    )


def truth(
    scenario: str = "ecommerce",
    seed: int = DEFAULT_SEED,
    date: Optional[DateLike] = None,
    from_: Optional[DateLike] = None,
    to: Optional[DateLike] = None,
    tables: Optional[Iterable[str]] = None,
    as_of=None,
    threads: Optional[int] = None,
) -> dict:
    """The answer key, as ``aladdin truth`` prints it: per day and table the rows, created,
    updated and deleted counts, sums of money columns (decimal strings) and an
    order-independent digest. Without ``as_of`` it describes each day's extract; with it, the
    snapshot at that instant of the rows created each day."""
    if isinstance(tables, str):
        tables = [t for t in tables.split(",")]
    return _json.loads(
        _native.truth_json(
            scenario,
            seed,
            _day(date),
            _day(from_),
            _day(to),
            list(tables) if tables is not None else None,
            _instant(as_of),
            threads,
        )
    )
