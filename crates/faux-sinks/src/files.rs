//! Date-partitioned files: layout, atomic partition writes, and the parallel run.
//!
//! Every (table, day, shard) is one partition file, generated and written by one worker from
//! start to end, so the bytes of a file never depend on the number of threads. A partition is
//! written to a hidden temporary name in its final folder and renamed when complete: readers
//! never see a torn file, and a rerun overwrites idempotently.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use faux::dirty::Profile;
use faux::{Date, DateRange, Row, RowSink, Scenario, Shard, TableDef, View};
use xxhash_rust::xxh3::Xxh3;

use crate::csv::CsvEncoder;
use crate::jsonl::JsonlEncoder;
use crate::parquet::ParquetEncoder;
use crate::{FLUSH_BYTES, SinkError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Jsonl,
    Parquet,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Csv, Format::Jsonl, Format::Parquet];

    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Parquet => "parquet",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.extension() == s)
            .ok_or_else(|| format!("unknown format {s:?}: valid formats are csv, jsonl, parquet"))
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.extension())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `OUT/<table>/date=YYYY-MM-DD/part-<shard>.<ext>` (readable by DuckDB, Spark, Trino).
    Hive,
    /// `OUT/<table>.<ext>`, for a single day (the Shiny Rocks original's layout).
    Flat,
    /// `OUT/YYYY-MM-DD/<table>.<ext>`: one flat folder per day, as a scheduler running the
    /// original once per date (or the reference harness) leaves them.
    Daily,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::Hive => "hive",
            Layout::Flat => "flat",
            Layout::Daily => "daily",
        }
    }
}

impl std::str::FromStr for Layout {
    type Err = String;
    fn from_str(s: &str) -> Result<Layout, String> {
        match s {
            "hive" => Ok(Layout::Hive),
            "flat" => Ok(Layout::Flat),
            "daily" => Ok(Layout::Daily),
            _ => Err(format!(
                "unknown layout {s:?}: valid layouts are hive, flat, daily"
            )),
        }
    }
}

/// Where a partition goes, relative to the output folder.
pub fn partition_path(
    layout: Layout,
    table: &TableDef,
    day: Date,
    shard: Shard,
    format: Format,
) -> PathBuf {
    match layout {
        Layout::Hive => PathBuf::from(table.name)
            .join(format!("date={day}"))
            .join(format!("part-{}.{}", shard.index, format.extension())),
        Layout::Flat => PathBuf::from(format!("{}.{}", table.name, format.extension())),
        Layout::Daily if shard == Shard::ALL => {
            PathBuf::from(day.to_string()).join(format!("{}.{}", table.name, format.extension()))
        }
        Layout::Daily => PathBuf::from(day.to_string()).join(format!(
            "{}.part-{}.{}",
            table.name,
            shard.index,
            format.extension()
        )),
    }
}

/// What was written for one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionStats {
    pub table: &'static str,
    pub date: Date,
    pub shard: Shard,
    /// Relative to the output folder, `/`-separated.
    pub path: String,
    pub rows: u64,
    pub bytes: u64,
    /// xxh3-64 of the file's bytes.
    pub checksum: u64,
    /// A late file's (`--dirty`): the day whose generation rewrote it with its corrections,
    /// when this is that rewrite.
    pub rewritten_on: Option<Date>,
}

/// A writer that hashes and counts what passes through it.
struct HashingWriter<W> {
    inner: W,
    hasher: Xxh3,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

enum Encoder {
    Csv(CsvEncoder, HashingWriter<File>),
    Jsonl(JsonlEncoder, HashingWriter<File>),
    Parquet(Box<ParquetEncoder<HashingWriter<BufWriter<File>>>>),
}

/// Encodes one partition's rows into its (temporary) file.
struct PartitionSink<'a> {
    encoder: Encoder,
    rows: u64,
    /// Set by an interrupt (Ctrl-C): the partition is abandoned at its next check.
    stop: &'a AtomicBool,
}

/// A stop flag nobody sets.
static NEVER: AtomicBool = AtomicBool::new(false);

impl<'a> PartitionSink<'a> {
    fn new(
        table: &TableDef,
        format: Format,
        file: File,
        stop: &'a AtomicBool,
    ) -> Result<PartitionSink<'a>, SinkError> {
        fn hashing<W>(inner: W) -> HashingWriter<W> {
            HashingWriter {
                inner,
                hasher: Xxh3::new(),
                bytes: 0,
            }
        }
        let encoder = match format {
            Format::Csv => {
                let mut e = CsvEncoder::new(table);
                e.header(table);
                Encoder::Csv(e, hashing(file))
            }
            Format::Jsonl => Encoder::Jsonl(JsonlEncoder::new(table), hashing(file)),
            Format::Parquet => Encoder::Parquet(Box::new(ParquetEncoder::new(
                table,
                hashing(BufWriter::with_capacity(FLUSH_BYTES, file)),
            )?)),
        };
        Ok(PartitionSink {
            encoder,
            rows: 0,
            stop,
        })
    }

    /// Flushes everything; returns (bytes, checksum).
    fn finish(self) -> Result<(u64, u64), SinkError> {
        let mut w = match self.encoder {
            Encoder::Csv(e, mut w) => {
                w.write_all(&e.buf)?;
                w
            }
            Encoder::Jsonl(e, mut w) => {
                w.write_all(&e.buf)?;
                w
            }
            Encoder::Parquet(e) => {
                let w = e.finish()?;
                let file = w.inner.into_inner().map_err(|e| e.into_error())?;
                HashingWriter {
                    inner: file,
                    hasher: w.hasher,
                    bytes: w.bytes,
                }
            }
        };
        w.flush()?;
        Ok((w.bytes, w.hasher.digest()))
    }
}

impl RowSink for PartitionSink<'_> {
    type Error = SinkError;

    #[inline]
    fn row<R: Row>(&mut self, row: &R) -> Result<(), SinkError> {
        if self.rows.is_multiple_of(4096) && self.stop.load(Ordering::Relaxed) {
            return Err(SinkError::Interrupted);
        }
        self.rows += 1;
        match &mut self.encoder {
            Encoder::Csv(e, w) => {
                e.row(row);
                if e.buf.len() >= FLUSH_BYTES {
                    w.write_all(&e.buf)?;
                    e.buf.clear();
                }
            }
            Encoder::Jsonl(e, w) => {
                e.row(row);
                if e.buf.len() >= FLUSH_BYTES {
                    w.write_all(&e.buf)?;
                    e.buf.clear();
                }
            }
            Encoder::Parquet(e) => e.row(row)?,
        }
        Ok(())
    }
}

/// Generates one partition into `out/rel`, atomically.
#[allow(clippy::too_many_arguments)]
pub fn write_partition(
    scenario: &Scenario,
    table: &'static TableDef,
    day: Date,
    shard: Shard,
    view: View,
    format: Format,
    out: &Path,
    rel: &Path,
) -> Result<PartitionStats, SinkError> {
    write_partition_until(
        scenario,
        table,
        day,
        shard,
        view,
        format,
        Profile::Off,
        faux::dirty::Delivery::Corrected,
        out,
        rel,
        &NEVER,
    )
}

/// [`write_partition`], abandoned (its temporary file removed) once `stop` is set.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_partition_until(
    scenario: &Scenario,
    table: &'static TableDef,
    day: Date,
    shard: Shard,
    view: View,
    format: Format,
    dirty: Profile,
    delivery: faux::dirty::Delivery,
    out: &Path,
    rel: &Path,
    stop: &AtomicBool,
) -> Result<PartitionStats, SinkError> {
    let path = out.join(rel);
    let dir = path.parent().unwrap_or(out);
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("part");
    // a fixed temporary name: a rerun after a crash truncates and reuses it
    let tmp = dir.join(format!(".{file_name}.tmp"));
    // the folder is made on first need: most partitions share one with an earlier partition
    let file = match File::create(&tmp) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(|e| SinkError::io(dir, e))?;
            File::create(&tmp)
        }
        other => other,
    }
    .map_err(|e| SinkError::io(&tmp, e))?;
    let result = (|| {
        let mut sink = PartitionSink::new(Scenario::output_table(table, view), format, file, stop)?;
        if dirty == Profile::Off {
            scenario.generate(table, day, shard, view, &mut sink)?;
        } else {
            // the dirty layer post-processes the daily extract (the CLI refuses other views)
            let mut defects = Vec::new();
            faux::dirty::generate_file(
                scenario,
                table,
                day,
                shard,
                dirty,
                delivery,
                &mut sink,
                &mut defects,
            )?;
            crate::defects::write(out, table, day, shard, &defects)?;
        }
        let rows = sink.rows;
        let (bytes, checksum) = sink.finish().map_err(|e| e.at(&tmp))?;
        fs::rename(&tmp, &path).map_err(|e| SinkError::io(&path, e))?;
        Ok(PartitionStats {
            table: table.name,
            date: day,
            shard,
            path: rel.to_string_lossy().replace('\\', "/"),
            rows,
            bytes,
            checksum,
            rewritten_on: match delivery {
                faux::dirty::Delivery::Corrected => {
                    faux::dirty::late::corrected_on(scenario.seed(), dirty, table, day)
                }
                faux::dirty::Delivery::First => None,
            },
        })
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// One `generate` run into files.
#[derive(Debug, Clone)]
pub struct FileRun<'a> {
    pub scenario: &'a Scenario,
    pub tables: Vec<&'static TableDef>,
    pub days: DateRange,
    pub shard: Shard,
    pub view: View,
    pub format: Format,
    pub layout: Layout,
    pub out: PathBuf,
    pub threads: usize,
    /// Defects planted over the daily extract ([`Profile::Off`]: none, the clean bytes), each
    /// partition's recorded in `OUT/_defects/` (see [`crate::defects`]).
    pub dirty: Profile,
    /// The scenario file, when the scenario came from one (recorded in the manifest).
    pub scenario_source: Option<crate::manifest::ScenarioSource>,
}

impl FileRun<'_> {
    pub fn partition_count(&self) -> usize {
        self.days.day_count() * self.tables.len()
    }

    /// Writes every partition (in parallel), then the manifest. `on_partition` is called once
    /// per finished partition, from the worker threads.
    pub fn run(
        &self,
        on_partition: &(dyn Fn(&PartitionStats) + Sync),
    ) -> Result<Vec<PartitionStats>, SinkError> {
        self.run_until(on_partition, &NEVER)
    }

    /// [`FileRun::run`] until `stop` is set (e.g. by Ctrl-C): then the partitions being
    /// written are abandoned and their temporary files removed, the manifest lists the
    /// partitions that were complete, and the result is [`SinkError::Interrupted`].
    pub fn run_until(
        &self,
        on_partition: &(dyn Fn(&PartitionStats) + Sync),
        stop: &AtomicBool,
    ) -> Result<Vec<PartitionStats>, SinkError> {
        self.run_with(on_partition, stop, &|_| Ok(()), &|stats| {
            crate::manifest::Manifest::for_run(self, stats).merge_into(&self.out)
        })
    }

    /// The run, with two hooks for a destination that is not the folder (object storage):
    /// `publish` gets each partition written into `self.out` (before `on_partition`), and
    /// `manifest` gets the partitions complete at the end, also of a failed run.
    pub(crate) fn run_with(
        &self,
        on_partition: &(dyn Fn(&PartitionStats) + Sync),
        stop: &AtomicBool,
        publish: &(dyn Fn(&PartitionStats) -> Result<(), SinkError> + Sync),
        manifest: &dyn Fn(&[PartitionStats]) -> Result<(), SinkError>,
    ) -> Result<Vec<PartitionStats>, SinkError> {
        if self.layout == Layout::Flat && self.days.day_count() > 1 {
            return Err(SinkError::Invalid(format!(
                "the flat layout holds a single day, but {} is {} days: write one day, or use the hive or daily layout",
                self.days,
                self.days.day_count()
            )));
        }
        if self.dirty != Profile::Off && self.view != View::Extract {
            return Err(SinkError::Invalid(format!(
                "dirty data ({}) is planted in the daily extract, not in the {} view",
                self.dirty,
                self.view.name()
            )));
        }
        fs::create_dir_all(&self.out).map_err(|e| SinkError::io(&self.out, e))?;

        let mut items: Vec<(Date, &'static TableDef)> = self
            .days
            .days()
            .flat_map(|d| self.tables.iter().map(move |t| (d, *t)))
            .collect();
        // late files (--dirty): the partitions of days before the range that a day of it
        // corrects are rewritten, when the folder has them (a daily job's earlier days)
        if self.dirty != Profile::Off && self.layout != Layout::Flat {
            let seed = self.scenario.seed();
            for day in self.days.days() {
                for &table in &self.tables {
                    for d in faux::dirty::late::rewritten_on(seed, self.dirty, table, day) {
                        let rel = partition_path(self.layout, table, d, self.shard, self.format);
                        if d < self.days.first() && self.out.join(rel).is_file() {
                            items.push((d, table));
                        }
                    }
                }
            }
        }
        let last = self.days.last();
        let written = crate::pool::run(items.len(), self.threads, |i| {
            if stop.load(Ordering::Relaxed) {
                return Err(SinkError::Interrupted);
            }
            let (day, table) = items[i];
            let rel = partition_path(self.layout, table, day, self.shard, self.format);
            let stats = write_partition_until(
                self.scenario,
                table,
                day,
                self.shard,
                self.view,
                self.format,
                self.dirty,
                // a late file is written corrected when its correction day is in the run
                match faux::dirty::late::corrected_on(self.scenario.seed(), self.dirty, table, day)
                {
                    Some(c) if c > last => faux::dirty::Delivery::First,
                    _ => faux::dirty::Delivery::Corrected,
                },
                &self.out,
                &rel,
                stop,
            )?;
            publish(&stats)?;
            on_partition(&stats);
            Ok(stats)
        });
        let stats = match written {
            Ok(stats) => stats,
            Err((e, done)) => {
                // finished partitions stay: each is complete and correct; the manifest names them
                let _ = manifest(&done);
                return Err(e);
            }
        };
        if self.dirty == Profile::Off {
            // a clean rerun over a dirty folder: the partitions rewritten have no defects now
            crate::defects::forget(&self.out, &stats)?;
        }
        self.legacy_exports(stop)?;
        manifest(&stats)?;
        Ok(stats)
    }

    /// With `--dirty`, the legacy export of each day (`legacy_customers_export/date=D/part-0.csv`)
    /// when the run writes the shop's customers, by shard 0 (the file is a whole day), with
    /// its defects in `OUT/_defects/legacy_customers_export/`; a clean rerun removes the
    /// days' exports. Not listed in the folder's manifest: it is not a table of the scenario.
    fn legacy_exports(&self, stop: &AtomicBool) -> Result<(), SinkError> {
        use faux::dirty::legacy;
        let Some(customers) = legacy::source_table(self.scenario) else {
            return Ok(());
        };
        if self.shard.index != 0 || !self.tables.iter().any(|t| std::ptr::eq(*t, customers)) {
            return Ok(());
        }
        if self.dirty == Profile::Off && !self.out.join(crate::defects::DEFECTS_DIR).is_dir() {
            // a clean run into a folder never written dirty: no export to remove
            return Ok(());
        }
        let days: Vec<Date> = self.days.days().collect();
        let table = &legacy::LEGACY_CUSTOMERS;
        crate::pool::run(days.len(), self.threads, |i| {
            if stop.load(Ordering::Relaxed) {
                return Err(SinkError::Interrupted);
            }
            let day = days[i];
            let file = self.out.join(legacy::path(day));
            let Some(export) = legacy::export(self.scenario, day, self.dirty) else {
                let manifest = self
                    .out
                    .join(crate::defects::path(table.name, day, Shard::ALL));
                for f in [file, manifest] {
                    match fs::remove_file(&f) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                            return Err(SinkError::io(&f, e));
                        }
                        _ => {}
                    }
                }
                return Ok(());
            };
            let dir = file.parent().unwrap_or(&self.out);
            fs::create_dir_all(dir).map_err(|e| SinkError::io(dir, e))?;
            let tmp = dir.join(".part-0.csv.tmp");
            fs::write(&tmp, &export.bytes).map_err(|e| SinkError::io(&tmp, e))?;
            fs::rename(&tmp, &file).map_err(|e| SinkError::io(&file, e))?;
            crate::defects::write(&self.out, table, day, Shard::ALL, &export.defects)
        })
        .map(|_| ())
        .map_err(|(e, _)| e)
    }
}
