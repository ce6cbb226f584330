"""A Spark 4 Python data source named ``faux``: Faux Genie generated on the executors.

    from faux_genie.spark import register
    register(spark)
    orders = (spark.read.format("faux")
              .option("scenario", "ecommerce").option("table", "orders")
              .option("from", "2025-01-01").option("to", "2025-01-31")
              .option("shards", 4).load())

Batch reads plan one partition per (day, shard); each executor generates its partition with
the wheel (no data crosses from the driver). ``readStream`` replays the change feed of a
table (the ``changes`` view) as a virtual clock advances by ``step`` per micro-batch; offsets
are ``{"clock": epoch seconds, "seq": last sequence number delivered}``, so a restarted query
resumes from its checkpoint with neither gaps nor duplicates.

Options (all strings, as Spark passes them):
  scenario  built-in name or a .toml scenario file (default ecommerce)
  seed      default 42
  table     default orders
  from, to  first and last day, YYYY-MM-DD (or ``date`` for one day)
  shards    shards per day (batch; default 1)
  view      extract | snapshot | changes (batch; default extract); snapshot needs asOf
  asOf      the snapshot instant (RFC 3339, a date or epoch seconds)
  step      virtual time per micro-batch (stream): seconds, or with a unit s/m/h/d (default 1h)
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Dict, Iterator, List, Tuple

from pyspark.sql.datasource import (
    DataSource,
    DataSourceReader,
    InputPartition,
    SimpleDataSourceStreamReader,
)
from pyspark.sql.types import (
    BooleanType,
    DataType,
    DateType,
    DecimalType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

import faux_genie

__all__ = ["FauxDataSource", "register", "spark_schema"]


def _spark_type(column: dict) -> DataType:
    ty = column["type"]
    if ty == "int":
        return LongType()
    if ty == "decimal":
        return DecimalType(column["precision"], column["scale"])
    if ty == "bool":
        return BooleanType()
    if ty == "date":
        return DateType()
    if ty == "timestamp":
        return TimestampType()
    # text, uuid, hex_uuid, json: text in Arrow and Parquet too
    return StringType()


def spark_schema(scenario: str, seed: int, table: str, view: str = "extract") -> StructType:
    """The Spark schema of ``table`` in ``view``, from its definition."""
    defs = faux_genie.tables(scenario, seed, view)
    for t in defs:
        if t["name"] == table:
            return StructType(
                [StructField(c["name"], _spark_type(c), c["nullable"]) for c in t["columns"]]
            )
    # the engine's own message (names the valid tables)
    faux_genie.generate(scenario, seed, table)
    raise ValueError(f"scenario {scenario} has no table {table!r}")


def _day(text: str, option: str) -> _dt.date:
    try:
        return _dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"option {option}={text!r} is not a day in YYYY-MM-DD form") from None


def _positive(options: Dict[str, str], name: str, default: int) -> int:
    text = options.get(name, str(default))
    if not re.fullmatch(r"[0-9]+", text.strip()) or int(text) < 1:
        raise ValueError(f"option {name}={text!r} must be a whole number of at least 1")
    return int(text)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _step(text: str) -> int:
    m = re.fullmatch(r"\s*([0-9]+)\s*([smhd]?)\s*", text)
    if not m or int(m.group(1)) < 1:
        raise ValueError(
            f"option step={text!r}: expected a virtual duration such as 3600, 30m, 6h or 1d"
        )
    return int(m.group(1)) * _UNITS[m.group(2) or "s"]


class _Options:
    """The options of a read, checked once on the driver."""

    def __init__(self, options: Dict[str, str]):
        self.scenario = options.get("scenario", "ecommerce")
        seed = options.get("seed", str(faux_genie.DEFAULT_SEED))
        if not re.fullmatch(r"[0-9]+", seed.strip()):
            raise ValueError(f"option seed={seed!r} must be a non-negative whole number")
        self.seed = int(seed)
        self.table = options.get("table", "orders")
        self.view = options.get("view", "extract")
        self.as_of = options.get("asOf", options.get("asof"))
        if "date" in options:
            if "from" in options or "to" in options:
                raise ValueError("give option date, or options from and to, not both")
            self.first = self.last = _day(options["date"], "date")
        elif "from" in options and "to" in options:
            self.first = _day(options["from"], "from")
            self.last = _day(options["to"], "to")
            if self.last < self.first:
                raise ValueError(f"option to={self.last} is before from={self.first}")
        else:
            raise ValueError("no days selected: give option date=D, or options from=A and to=B")
        self.shards = _positive(options, "shards", 1)
        self.step = _step(options.get("step", "1h"))
        # the engine checks the rest (scenario, table, view, asOf) with the CLI's messages
        faux_genie._native.check(
            self.scenario, self.seed, self.table, self.first.isoformat(), 0, self.shards,
            self.view, self.as_of,
        )

    def days(self) -> List[_dt.date]:
        n = (self.last - self.first).days + 1
        return [self.first + _dt.timedelta(days=i) for i in range(n)]


class FauxDataSource(DataSource):
    """``spark.read.format("faux")`` / ``spark.readStream.format("faux")``."""

    @classmethod
    def name(cls) -> str:
        return "faux"

    def __init__(self, options: Dict[str, str]):
        super().__init__(options)
        self.opts = _Options(dict(options))

    def schema(self) -> StructType:
        o = self.opts
        return spark_schema(o.scenario, o.seed, o.table, o.view)

    def reader(self, schema: StructType) -> DataSourceReader:
        return _BatchReader(self.opts)

    def simpleStreamReader(self, schema: StructType) -> SimpleDataSourceStreamReader:
        if self.opts.view != "changes":
            # the schema is asked for before Spark says it is a stream: the option says it
            raise ValueError(
                'readStream replays the change feed: add .option("view", "changes")'
            )
        return _ChangeStream(self.opts)


class _Partition(InputPartition):
    def __init__(self, day: str, shard: int):
        super().__init__((day, shard))
        self.day = day
        self.shard = shard


class _BatchReader(DataSourceReader):
    def __init__(self, opts: _Options):
        self.opts = opts

    def partitions(self) -> List[InputPartition]:
        return [
            _Partition(day.isoformat(), shard)
            for day in self.opts.days()
            for shard in range(self.opts.shards)
        ]

    def read(self, partition: _Partition) -> Iterator:
        # runs on an executor: the wheel generates this (day, shard) there
        import faux_genie as fg

        o = self.opts
        reader = fg.generate(
            o.scenario, o.seed, o.table, partition.day, partition.shard, o.shards, o.view, o.as_of
        )
        yield from reader


def _epoch(day: _dt.date) -> int:
    return int(_dt.datetime(day.year, day.month, day.day, tzinfo=_dt.timezone.utc).timestamp())


class _ChangeStream(SimpleDataSourceStreamReader):
    """The changes view of one table, released as a virtual clock advances ``step`` seconds
    per micro-batch from the start of ``from`` to the end of ``to``. Each batch holds the
    versions with ``clock_before <= ts < clock_after``; the offset also carries the last
    ``seq`` delivered, which replays filter on."""

    def __init__(self, opts: _Options):
        self.opts = opts
        self.start = _epoch(opts.first)
        self.end = _epoch(opts.last + _dt.timedelta(days=1))

    def initialOffset(self) -> dict:
        return {"clock": self.start, "seq": faux_genie._native.first_seq(self.opts.first.isoformat()) - 1}

    def _changes(self, start_clock: int, end_clock: int, after_seq: int, last_seq=None):
        import pyarrow as pa
        import pyarrow.compute as pc

        o = self.opts
        first = _dt.datetime.fromtimestamp(start_clock, _dt.timezone.utc).date()
        last = _dt.datetime.fromtimestamp(end_clock - 1, _dt.timezone.utc).date()
        limit = pa.scalar(end_clock * 1_000_000, type=pa.timestamp("us", tz="UTC"))
        batches = []
        day = first
        while day <= last:
            for batch in faux_genie.generate(
                o.scenario, o.seed, o.table, day, view="changes"
            ):
                keep = pc.and_(pc.greater(batch["seq"], after_seq), pc.less(batch["ts"], limit))
                if last_seq is not None:
                    keep = pc.and_(keep, pc.less_equal(batch["seq"], last_seq))
                batch = batch.filter(keep)
                if batch.num_rows:
                    batches.append(batch)
            day += _dt.timedelta(days=1)
        return batches

    def read(self, start: dict) -> Tuple[Iterator, dict]:
        clock = start["clock"]
        if clock >= self.end:
            return iter([]), start
        after = min(clock + self.opts.step, self.end)
        batches = self._changes(clock, after, start["seq"])
        seq = max([start["seq"]] + [b["seq"][b.num_rows - 1].as_py() for b in batches])
        # a list iterator: Spark copies the prefetched iterator of each batch
        return iter(batches), {"clock": after, "seq": seq}

    def readBetweenOffsets(self, start: dict, end: dict) -> Iterator:
        return iter(self._changes(start["clock"], end["clock"], start["seq"], end["seq"]))


def register(spark) -> None:
    """Makes ``format("faux")`` available in ``spark`` (a SparkSession)."""
    spark.dataSource.register(FauxDataSource)
