//! Throughput of the Shiny Rocks generator, one day at a time.
//!
//! Every benchmark does the work of one whole day (all four tables) for a fixed seed and date,
//! and reports rows/s through `Throughput::Elements(rows of the day)`:
//!
//! - `shiny_rocks_day/generate`: pure generation into a sink that only counts rows;
//! - `shiny_rocks_day/csv_mem`: generation + CSV encoding into memory (buffer handed off, i.e.
//!   cleared, at `FLUSH_BYTES`, like the file sink does), header included;
//! - `shiny_rocks_day/jsonl_mem`: the same with JSON Lines;
//! - `shiny_rocks_day/files_csv`, `files_parquet`: `write_partition` of the four tables into a
//!   fresh folder under a temporary directory (Hive layout: 8 folders, 4 files, 4 renames), i.e.
//!   everything `aladdin generate --threads 1` does per day except the manifest. Nothing is
//!   deleted before the end of the run: on ext4 without a journal, the inodes of deleted files
//!   are skipped (one by one, for minutes) by the next creations, which would time the file
//!   system's state instead of the writer;
//! - `shiny_rocks_day/files_csv_rewrite`: the same, rewriting the same four files every time
//!   (an idempotent rerun into an existing output folder: every rename replaces a file).
//!
//! The encoded size of the day is printed once per format so MB/s can be derived from the
//! rows/s criterion prints: MB/s = rows/s × bytes / rows.
//!
//! Files go to a temporary folder under `FAUX_BENCH_DIR` if set (e.g. `/dev/shm` to leave the
//! disk out), else under the system's temporary folder; it is removed at the end.
//!
//!     cargo bench -p faux-sinks --bench generate

use std::cell::Cell;
use std::convert::Infallible;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Bencher, Criterion, Throughput, criterion_group, criterion_main};
use faux::{Date, Row, RowSink, Scenario, Shard, View};
use faux_sinks::csv::CsvEncoder;
use faux_sinks::jsonl::JsonlEncoder;
use faux_sinks::{FLUSH_BYTES, Format, Layout, partition_path, write_partition};

const SEED: u64 = 42;
const SCENARIO: &str = "shiny-rocks";

fn day() -> Date {
    Date::from_ymd(2024, 1, 15).expect("a valid date")
}

fn scenario() -> Scenario {
    Scenario::by_name(SCENARIO, SEED).expect("the shiny-rocks scenario")
}

/// Counts rows and nothing else; `black_box` keeps the row from being optimised away.
#[derive(Debug, Default)]
struct CountingSink {
    rows: u64,
}

impl RowSink for CountingSink {
    type Error = Infallible;

    #[inline]
    fn row<R: Row>(&mut self, row: &R) -> Result<(), Infallible> {
        black_box(row);
        self.rows += 1;
        Ok(())
    }
}

/// Encodes into an in-memory buffer that is "handed off" (cleared) at `FLUSH_BYTES`, as the
/// file sink does, so the buffer stays cache-sized and only encoding is measured.
#[derive(Debug)]
struct MemSink<E> {
    enc: E,
    rows: u64,
    bytes: u64,
}

trait Encode {
    fn encode<R: Row>(&mut self, row: &R);
    fn buf(&mut self) -> &mut Vec<u8>;
}

impl Encode for CsvEncoder {
    #[inline]
    fn encode<R: Row>(&mut self, row: &R) {
        self.row(row);
    }
    fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }
}

impl Encode for JsonlEncoder {
    #[inline]
    fn encode<R: Row>(&mut self, row: &R) {
        self.row(row);
    }
    fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }
}

impl<E: Encode> MemSink<E> {
    fn new(enc: E) -> Self {
        MemSink {
            enc,
            rows: 0,
            bytes: 0,
        }
    }

    fn finish(&mut self) -> u64 {
        let buf = self.enc.buf();
        self.bytes += buf.len() as u64;
        black_box(&buf[..]);
        buf.clear();
        self.bytes
    }
}

impl<E: Encode> RowSink for MemSink<E> {
    type Error = Infallible;

    #[inline]
    fn row<R: Row>(&mut self, row: &R) -> Result<(), Infallible> {
        self.rows += 1;
        self.enc.encode(row);
        let buf = self.enc.buf();
        if buf.len() >= FLUSH_BYTES {
            self.bytes += buf.len() as u64;
            black_box(&buf[..]);
            buf.clear();
        }
        Ok(())
    }
}

/// Generates the whole day into a counting sink; returns the rows.
fn generate_day(s: &Scenario, day: Date) -> u64 {
    let mut sink = CountingSink::default();
    for table in s.tables() {
        let Ok(()) = s.generate(table, day, Shard::ALL, View::Extract, &mut sink);
    }
    sink.rows
}

/// Generates and encodes the whole day as CSV (one encoder and header per table, like one file
/// per table); returns (rows, bytes).
fn csv_day(s: &Scenario, day: Date) -> (u64, u64) {
    let (mut rows, mut bytes) = (0, 0);
    for table in s.tables() {
        let mut enc = CsvEncoder::new(table);
        enc.header(table);
        let mut sink = MemSink::new(enc);
        let Ok(()) = s.generate(table, day, Shard::ALL, View::Extract, &mut sink);
        bytes += sink.finish();
        rows += sink.rows;
    }
    (rows, bytes)
}

fn jsonl_day(s: &Scenario, day: Date) -> (u64, u64) {
    let (mut rows, mut bytes) = (0, 0);
    for table in s.tables() {
        let mut sink = MemSink::new(JsonlEncoder::new(table));
        let Ok(()) = s.generate(table, day, Shard::ALL, View::Extract, &mut sink);
        bytes += sink.finish();
        rows += sink.rows;
    }
    (rows, bytes)
}

/// Writes the day's four partitions into `out`; returns (rows, bytes).
fn files_day(s: &Scenario, day: Date, format: Format, out: &Path) -> (u64, u64) {
    let (mut rows, mut bytes) = (0, 0);
    for table in s.tables() {
        let rel = partition_path(Layout::Hive, table, day, Shard::ALL, format);
        let stats = write_partition(s, table, day, Shard::ALL, View::Extract, format, out, &rel)
            .expect("write_partition");
        rows += stats.rows;
        bytes += stats.bytes;
    }
    (rows, bytes)
}

/// Times `files_day` into a fresh folder per iteration (like a first run into an empty output
/// folder). The folders stay until the end of the run.
fn bench_fresh_files(
    b: &mut Bencher,
    s: &Scenario,
    day: Date,
    format: Format,
    base: &Path,
    sample: &Cell<u64>,
) {
    b.iter_custom(|iters| {
        sample.set(sample.get() + 1);
        let dir = base.join(format!("{format}-{}", sample.get()));
        let mut total = Duration::ZERO;
        for i in 0..iters {
            let out = dir.join(i.to_string());
            let started = Instant::now();
            black_box(files_day(s, day, format, &out));
            total += started.elapsed();
        }
        total
    })
}

fn report(what: &str, rows: u64, bytes: u64) {
    println!(
        "{what}: one day ({}) = {rows} rows, {bytes} bytes ({:.1} bytes/row)",
        day(),
        bytes as f64 / rows as f64
    );
}

fn bench_day(c: &mut Criterion) {
    let s = scenario();
    let d = day();
    let rows = generate_day(&s, d);
    let tmp = match std::env::var_os("FAUX_BENCH_DIR") {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .expect("a temporary folder");
    println!("files are written under {}", tmp.path().display());

    let (csv_rows, csv_bytes) = csv_day(&s, d);
    let (jsonl_rows, jsonl_bytes) = jsonl_day(&s, d);
    let (fcsv_rows, fcsv_bytes) = files_day(&s, d, Format::Csv, tmp.path());
    let (fpq_rows, fpq_bytes) = files_day(&s, d, Format::Parquet, tmp.path());
    assert_eq!(csv_rows, rows);
    assert_eq!(jsonl_rows, rows);
    assert_eq!(fcsv_rows, rows);
    assert_eq!(fpq_rows, rows);
    report("csv (memory)", rows, csv_bytes);
    report("jsonl (memory)", rows, jsonl_bytes);
    report("csv (files)", rows, fcsv_bytes);
    report("parquet (files)", rows, fpq_bytes);

    let mut g = c.benchmark_group("shiny_rocks_day");
    g.throughput(Throughput::Elements(rows));
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(4));
    g.sample_size(30);

    g.bench_function("generate", |b| {
        b.iter(|| generate_day(black_box(&s), black_box(d)))
    });
    g.bench_function("csv_mem", |b| {
        b.iter(|| csv_day(black_box(&s), black_box(d)))
    });
    g.bench_function("jsonl_mem", |b| {
        b.iter(|| jsonl_day(black_box(&s), black_box(d)))
    });
    // fewer, shorter samples: every iteration leaves ~0.4 MB and 12 inodes behind
    g.measurement_time(Duration::from_secs(3));
    g.sample_size(20);
    let sample = Cell::new(0);
    g.bench_function("files_csv", |b| {
        bench_fresh_files(b, &s, d, Format::Csv, tmp.path(), &sample)
    });
    g.bench_function("files_parquet", |b| {
        bench_fresh_files(b, &s, d, Format::Parquet, tmp.path(), &sample)
    });
    let rewrite = tmp.path().join("rewrite");
    g.bench_function("files_csv_rewrite", |b| {
        b.iter(|| files_day(&s, black_box(d), Format::Csv, &rewrite))
    });
    g.finish();
}

criterion_group!(benches, bench_day);
criterion_main!(benches);
