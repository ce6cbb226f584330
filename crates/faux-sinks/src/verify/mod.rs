//! `verify`: compare what a pipeline loaded with the truth, row by row, per table and day.
//!
//! The expected rows are generated (daily extracts of the range); the loaded rows come from a
//! [`Source`] — PostgreSQL, SQLite or a folder of files — read by column name, so tables
//! loaded by other tools (with extra columns such as `_dlt_load_id` or `_sdc_*`, other column
//! types, text everywhere) compare just as well. Every row is reduced to a key (its primary
//! key; all columns for a table without one), a version (its cursor, `updated_at`) and a
//! content digest (every column but JSON documents, whose formatting databases rewrite).
//!
//! Two ways to compare a table:
//! - [`Mode::Latest`] (database tables with a cursor): the loaded table holds the current
//!   state, one row per key; the truth is each key's newest version in the range, reported on
//!   the day of that version. A newer version from after the range is not a difference (the
//!   pipeline has loaded more days).
//! - [`Mode::PerDay`] (immutable tables, and every table in files): each day's rows, bucketed by
//!   the partition column, must be exactly that day's extract.
//!
//! Modules: [`values`] (canonical values), [`files`] (reading a folder of files).

pub mod files;
pub mod values;

use std::collections::{BTreeMap, HashMap};

use faux::{Date, DateRange, LogicalType, Row, RowSink, Scenario, Shard, TableDef, View};
use xxhash_rust::xxh3::{xxh3_64, xxh3_128};

pub use values::{Collector, Raw, Val, ValuesRow, canonical, canonical_text};

/// Why a table could not be compared at all.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("table {table} not found in {place}")]
    TableMissing { table: String, place: String },
    #[error("table {table} has no column{} {}", if .columns.len() == 1 { "" } else { "s" }, .columns.join(", "))]
    MissingColumns { table: String, columns: Vec<String> },
    #[error("{0}")]
    Read(String),
}

/// How a table's loaded rows are matched with the truth (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Latest,
    PerDay,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Latest => "latest version per key",
            Mode::PerDay => "rows per day",
        }
    }
}

/// Where loaded rows come from.
pub trait Source: std::fmt::Debug {
    /// Where the data is, for messages (`postgres 127.0.0.1:5432/shop schema public`).
    fn describe(&self) -> String;

    /// How `table` is compared.
    fn mode(&self, table: &TableDef) -> Mode;

    /// Hands every row of `table` to `row` as canonical values in the table's column order
    /// (or the reason a row could not be read). `days`: only rows whose partition column
    /// falls in these days are needed; a source may hand over more.
    fn read(
        &mut self,
        table: &'static TableDef,
        days: Option<(Date, Date)>,
        row: &mut dyn FnMut(Result<Vec<Val>, String>),
    ) -> Result<(), VerifyError>;
}

/// The differences found on one day of one table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayDiff {
    /// Rows the truth has on the day.
    pub expected: u64,
    /// Loaded rows attributed to the day.
    pub found: u64,
    /// Rows of the truth not loaded.
    pub missing: u64,
    /// Extra copies of a row.
    pub duplicated: u64,
    /// Rows loaded in an older version than the truth's.
    pub stale: u64,
    /// Rows loaded in the truth's version, or a newer one within the range, with other values.
    pub changed: u64,
    /// Loaded rows the truth does not have.
    pub unexpected: u64,
}

impl DayDiff {
    pub fn differences(&self) -> u64 {
        self.missing + self.duplicated + self.stale + self.changed + self.unexpected
    }
}

/// How many example rows a report names per kind of difference.
pub const EXAMPLES_PER_KIND: usize = 3;

/// A row that differs, named so it can be looked up: an example for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// `missing`, `duplicated`, `stale`, `changed` or `unexpected`.
    pub kind: &'static str,
    /// The day the difference is counted on.
    pub day: Date,
    /// The row's primary key (every column for a table without one): `id=…`,
    /// `order_id=…, line_number=2`.
    pub key: String,
    /// For `changed`: the columns whose values differ (JSON documents are not compared).
    pub columns: Vec<ColumnDiff>,
}

/// A column of a `changed` row: the truth's value and the loaded one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDiff {
    pub column: &'static str,
    pub expected: String,
    pub found: String,
}

/// The comparison of one table.
#[derive(Debug, Clone)]
pub struct TableReport {
    pub table: &'static str,
    pub mode: Mode,
    /// Every day of the range, differences or not.
    pub days: BTreeMap<Date, DayDiff>,
    /// A few differing rows of each kind ([`EXAMPLES_PER_KIND`]), by kind, day and key.
    pub examples: Vec<Example>,
    /// Rows that could not be read (a bad value), with the first few reasons.
    pub unreadable: u64,
    /// Problems with the table as a whole (missing table or columns, unreadable rows).
    pub problems: Vec<String>,
}

impl TableReport {
    pub fn differences(&self) -> u64 {
        self.days.values().map(DayDiff::differences).sum::<u64>()
            + self.unreadable
            + self.problems.len() as u64
    }
}

/// Which columns make a row's key, version, partition day and content.
#[derive(Debug)]
pub struct Shape {
    key: Vec<usize>,
    cursor: Option<usize>,
    partition: usize,
    partition_is_date: bool,
    content: Vec<usize>,
}

/// A row reduced to what the comparison needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    pub key: u128,
    /// The cursor in epoch seconds (0 for tables without one).
    pub version: i64,
    /// Day of the partition column (`None` if it is null).
    pub day: Option<Date>,
    pub content: u64,
}

fn position(table: &TableDef, name: &str) -> usize {
    table
        .columns
        .iter()
        .position(|c| c.name == name)
        .unwrap_or_else(|| panic!("table {} defines no column {name}", table.name))
}

impl Shape {
    pub fn new(table: &TableDef) -> Shape {
        let key = if table.primary_key.is_empty() {
            (0..table.columns.len()).collect()
        } else {
            table
                .primary_key
                .iter()
                .map(|k| position(table, k))
                .collect()
        };
        let partition = position(table, table.partition);
        Shape {
            key,
            cursor: table.cursor.map(|c| position(table, c)),
            partition,
            partition_is_date: table.columns[partition].ty == LogicalType::Date,
            content: (0..table.columns.len())
                .filter(|&i| table.columns[i].ty != LogicalType::Json)
                .collect(),
        }
    }

    pub fn fingerprint(&self, values: &[Val], buf: &mut Vec<u8>) -> Fingerprint {
        buf.clear();
        for &i in &self.key {
            encode(buf, ValRef::of(&values[i]));
        }
        let key = xxh3_128(buf);
        buf.clear();
        for &i in &self.content {
            encode(buf, ValRef::of(&values[i]));
        }
        let content = xxh3_64(buf);
        let version = match self.cursor.map(|i| &values[i]) {
            Some(Val::Int(s)) => *s,
            _ => 0,
        };
        let partition = match &values[self.partition] {
            Val::Int(v) => Some(*v),
            _ => None,
        };
        self.finish(key, content, version, partition)
    }

    fn finish(&self, key: u128, content: u64, version: i64, partition: Option<i64>) -> Fingerprint {
        let day = partition.map(|v| {
            if self.partition_is_date {
                Date::from_days_since_epoch(v as i32)
            } else {
                faux::Timestamp(v).date()
            }
        });
        Fingerprint {
            key,
            version,
            day,
            content,
        }
    }
}

/// A canonical value, borrowed: what is hashed into keys and content digests.
#[derive(Debug, Clone, Copy)]
enum ValRef<'a> {
    Null,
    Int(i64),
    Bool(bool),
    Text(&'a str),
    Uuid(&'a [u8; 16]),
}

impl<'a> ValRef<'a> {
    fn of(v: &'a Val) -> ValRef<'a> {
        match v {
            Val::Null => ValRef::Null,
            Val::Int(i) => ValRef::Int(*i),
            Val::Bool(b) => ValRef::Bool(*b),
            Val::Text(s) => ValRef::Text(s),
            Val::Uuid(u) => ValRef::Uuid(u),
        }
    }
}

fn encode(buf: &mut Vec<u8>, v: ValRef<'_>) {
    match v {
        ValRef::Null => buf.push(0),
        ValRef::Int(i) => {
            buf.push(1);
            buf.extend_from_slice(&i.to_le_bytes());
        }
        ValRef::Bool(b) => buf.extend_from_slice(&[2, b as u8]),
        ValRef::Text(s) => {
            buf.push(3);
            buf.extend_from_slice(&(s.len() as u64).to_le_bytes());
            buf.extend_from_slice(s.as_bytes());
        }
        ValRef::Uuid(u) => {
            buf.push(4);
            buf.extend_from_slice(u);
        }
    }
}

/// Fingerprints generated rows as they are visited, without collecting their values; the
/// same bytes as [`Shape::fingerprint`] of the collected values.
struct Fingerprinter<'s> {
    shape: &'s Shape,
    is_key: Vec<bool>,
    is_content: Vec<bool>,
    col: usize,
    key: Vec<u8>,
    content: Vec<u8>,
    version: i64,
    partition: Option<i64>,
}

impl<'s> Fingerprinter<'s> {
    fn new(shape: &'s Shape, columns: usize) -> Fingerprinter<'s> {
        Fingerprinter {
            shape,
            is_key: (0..columns).map(|i| shape.key.contains(&i)).collect(),
            is_content: (0..columns).map(|i| shape.content.contains(&i)).collect(),
            col: 0,
            key: Vec::new(),
            content: Vec::new(),
            version: 0,
            partition: None,
        }
    }

    fn fingerprint<R: Row>(&mut self, row: &R) -> Fingerprint {
        self.col = 0;
        self.key.clear();
        self.content.clear();
        self.version = 0;
        self.partition = None;
        row.visit(self);
        self.shape.finish(
            xxh3_128(&self.key),
            xxh3_64(&self.content),
            self.version,
            self.partition,
        )
    }

    fn put(&mut self, v: ValRef<'_>) {
        let c = self.col;
        if self.is_key[c] {
            encode(&mut self.key, v);
        }
        if self.is_content[c] {
            encode(&mut self.content, v);
        }
        if let ValRef::Int(i) = v {
            if Some(c) == self.shape.cursor {
                self.version = i;
            }
            if c == self.shape.partition {
                self.partition = Some(i);
            }
        }
        self.col += 1;
    }
}

impl faux::FieldVisitor for Fingerprinter<'_> {
    fn text(&mut self, v: &str) {
        self.put(ValRef::Text(v));
    }
    fn hex_uuid(&mut self, v: &faux::Uuid) {
        self.put(ValRef::Uuid(&v.0));
    }
    fn uuid(&mut self, v: &faux::Uuid) {
        self.put(ValRef::Uuid(&v.0));
    }
    fn int(&mut self, v: i64) {
        self.put(ValRef::Int(v));
    }
    fn decimal(&mut self, units: i64) {
        self.put(ValRef::Int(units));
    }
    fn bool(&mut self, v: bool) {
        self.put(ValRef::Bool(v));
    }
    fn date(&mut self, v: Date) {
        self.put(ValRef::Int(v.days_since_epoch() as i64));
    }
    fn timestamp(&mut self, v: faux::Timestamp) {
        self.put(ValRef::Int(v.0));
    }
    fn json(&mut self, v: &str) {
        self.put(ValRef::Text(v));
    }
    fn null(&mut self) {
        self.put(ValRef::Null);
    }
}

#[derive(Debug, Clone, Copy)]
struct Expected {
    n: u32,
    version: i64,
    content: u64,
    day: Date,
}

#[derive(Debug, Clone, Copy)]
struct Found {
    n: u32,
    /// Some copy equals the truth's version and content.
    matched: bool,
    newest: i64,
    day: Date,
}

/// Bucket of a row: its day in [`Mode::PerDay`], one bucket per key in [`Mode::Latest`].
fn bucket(mode: Mode, day: Date) -> i32 {
    match mode {
        Mode::Latest => i32::MIN,
        Mode::PerDay => day.days_since_epoch(),
    }
}

/// Generates the truth's rows of `table` for the days (daily extracts, on `threads`).
fn expected_rows(
    scenario: &Scenario,
    table: &'static TableDef,
    range: DateRange,
    mode: Mode,
    threads: usize,
) -> HashMap<(i32, u128), Expected> {
    struct Sink<'a> {
        fingerprinter: Fingerprinter<'a>,
        rows: Vec<Fingerprint>,
    }
    impl RowSink for Sink<'_> {
        type Error = std::convert::Infallible;
        fn row<R: Row>(&mut self, row: &R) -> Result<(), Self::Error> {
            let f = self.fingerprinter.fingerprint(row);
            self.rows.push(f);
            Ok(())
        }
    }
    let shape = Shape::new(table);
    let days: Vec<Date> = range.days().collect();
    let per_day = crate::pool::map(days.len(), threads, |i| {
        let day = days[i];
        let mut sink = Sink {
            fingerprinter: Fingerprinter::new(&shape, table.columns.len()),
            rows: Vec::new(),
        };
        let Ok(()) = scenario.generate(table, day, Shard::ALL, View::Extract, &mut sink);
        (day, sink.rows)
    });
    let mut out: HashMap<(i32, u128), Expected> = HashMap::new();
    for (day, rows) in per_day {
        for f in rows {
            // a day's extract is attributed to that day, whatever its partition value says
            let e = out.entry((bucket(mode, day), f.key)).or_insert(Expected {
                n: 0,
                version: f.version,
                content: f.content,
                day,
            });
            match mode {
                Mode::PerDay => e.n += 1,
                Mode::Latest => {
                    e.n = 1;
                    if f.version >= e.version {
                        e.version = f.version;
                        e.content = f.content;
                        e.day = day;
                    }
                }
            }
        }
    }
    out
}

/// Compares `table` as loaded in `source` with the truth of the days.
pub fn verify_table(
    source: &mut dyn Source,
    scenario: &Scenario,
    table: &'static TableDef,
    range: DateRange,
    threads: usize,
) -> TableReport {
    // only a table with a cursor has versions to keep the latest of
    let mode = match table.cursor {
        Some(_) => source.mode(table),
        None => Mode::PerDay,
    };
    let expected = expected_rows(scenario, table, range, mode, threads);
    let (from, to) = (range.first(), range.last());
    let mut report = TableReport {
        table: table.name,
        mode,
        days: range.days().map(|d| (d, DayDiff::default())).collect(),
        examples: Vec::new(),
        unreadable: 0,
        problems: Vec::new(),
    };
    let shape = Shape::new(table);
    // loaded rows that may become examples, per kind: (bucket, key) → values
    let mut samples: Samples = BTreeMap::new();
    let mut sample = |kind: &'static str, k: (i32, u128), day: Date, values: &[Val]| {
        let list = samples.entry(kind).or_default();
        if list.len() < 8 * EXAMPLES_PER_KIND && !list.iter().any(|(x, ..)| *x == k) {
            list.push((k, day, values.to_vec()));
        }
    };
    let mut found: HashMap<(i32, u128), Found> = HashMap::with_capacity(expected.len());
    let mut buf = Vec::new();
    let mut reasons: Vec<String> = Vec::new();
    let mut unreadable = 0u64;
    let days = match mode {
        // the current state of a key may be older or newer than the range
        Mode::Latest => None,
        Mode::PerDay => Some((from, to)),
    };
    let read = source.read(table, days, &mut |row| {
        let values = match row {
            Ok(v) => v,
            Err(e) => {
                unreadable += 1;
                if reasons.len() < 3 {
                    reasons.push(e);
                }
                return;
            }
        };
        let f = shape.fingerprint(&values, &mut buf);
        let day = match (mode, f.day) {
            (Mode::Latest, _) => faux::Timestamp(f.version).date(),
            (Mode::PerDay, Some(d)) => d,
            (Mode::PerDay, None) => {
                unreadable += 1;
                if reasons.len() < 3 {
                    reasons.push(format!("a row has no {}", table.partition));
                }
                return;
            }
        };
        if mode == Mode::PerDay && (day < from || day > to) {
            return;
        }
        let k = (bucket(mode, day), f.key);
        let truth = expected.get(&k);
        let matched = truth.is_some_and(|e| e.version == f.version && e.content == f.content);
        match truth {
            None if day >= from && day <= to => sample("unexpected", k, day, &values),
            Some(e) if !matched && f.version < e.version => sample("stale", k, e.day, &values),
            Some(e) if !matched => sample("changed", k, e.day, &values),
            _ => {}
        }
        let e = found.entry(k).or_insert(Found {
            n: 0,
            matched: false,
            newest: f.version,
            day,
        });
        e.n += 1;
        if e.n == 2 {
            sample("duplicated", k, e.day, &values);
        }
        e.matched |= matched;
        if f.version > e.newest {
            e.newest = f.version;
            e.day = day;
        }
    });
    if let Err(e) = read {
        report.problems.push(e.to_string());
    }
    if unreadable > 0 {
        report.unreadable = unreadable;
        report.problems.push(format!(
            "{unreadable} row{} could not be read: {}",
            if unreadable == 1 { "" } else { "s" },
            reasons.join("; ")
        ));
    }
    for (k, e) in &expected {
        let d = report.days.entry(e.day).or_default();
        d.expected += e.n as u64;
        let Some(a) = found.get(k) else {
            d.missing += e.n as u64;
            continue;
        };
        d.found += a.n as u64;
        d.duplicated += a.n.saturating_sub(e.n) as u64;
        d.missing += e.n.saturating_sub(a.n) as u64;
        if a.matched {
            continue;
        }
        if a.newest < e.version {
            d.stale += 1;
        } else if !(mode == Mode::Latest && a.newest > e.version && a.day > to) {
            // a newer version from after the range is the pipeline being ahead, not wrong
            d.changed += 1;
        }
    }
    for (k, a) in &found {
        if expected.contains_key(k) || a.day < from || a.day > to {
            continue;
        }
        let d = report.days.entry(a.day).or_default();
        d.found += a.n as u64;
        d.unexpected += a.n as u64;
    }
    report.examples = examples(
        scenario, table, &shape, mode, &expected, &found, samples, to,
    );
    report
}

/// Loaded rows that may become examples, per kind: (bucket and key, day, values).
type Samples = BTreeMap<&'static str, Vec<((i32, u128), Date, Values)>>;

/// A row's canonical values.
type Values = Vec<Val>;

/// A row's bucket (its day, or one for all) and key hash.
type BucketKey = (i32, u128);

/// What a difference of `k` finally is, as counted above (`None`: no difference).
fn kind_of(
    k: &(i32, u128),
    expected: &HashMap<(i32, u128), Expected>,
    found: &HashMap<(i32, u128), Found>,
    mode: Mode,
    to: Date,
) -> Vec<&'static str> {
    let mut kinds = Vec::new();
    match (expected.get(k), found.get(k)) {
        (Some(_), None) => kinds.push("missing"),
        (Some(e), Some(a)) => {
            if a.n > e.n {
                kinds.push("duplicated");
            }
            if a.n < e.n {
                kinds.push("missing");
            }
            if !a.matched {
                if a.newest < e.version {
                    kinds.push("stale");
                } else if !(mode == Mode::Latest && a.newest > e.version && a.day > to) {
                    kinds.push("changed");
                }
            }
        }
        (None, Some(_)) => kinds.push("unexpected"),
        (None, None) => {}
    }
    kinds
}

/// A few examples of each kind of difference: loaded rows sampled while reading, and the
/// truth's rows (for `missing` keys and the other side of `changed` rows) generated again for
/// their days only.
#[allow(clippy::too_many_arguments)]
fn examples(
    scenario: &Scenario,
    table: &'static TableDef,
    shape: &Shape,
    mode: Mode,
    expected: &HashMap<(i32, u128), Expected>,
    found: &HashMap<(i32, u128), Found>,
    samples: Samples,
    to: Date,
) -> Vec<Example> {
    // the loaded examples, confirmed by the final counts; the smallest (day, key) first
    // (kind, key, day, the loaded row)
    let mut chosen: Vec<(&'static str, BucketKey, Date, Option<Values>)> = Vec::new();
    for (kind, mut list) in samples {
        list.retain(|(k, ..)| kind_of(k, expected, found, mode, to).contains(&kind));
        list.sort_by_key(|(k, day, _)| (*day, k.1));
        for (k, day, values) in list.into_iter().take(EXAMPLES_PER_KIND) {
            chosen.push((kind, k, day, Some(values)));
        }
    }
    // missing keys have no loaded row: the first few by (day, key)
    let mut missing: Vec<(Date, (i32, u128))> = Vec::new();
    for (k, e) in expected {
        if kind_of(k, expected, found, mode, to).contains(&"missing") {
            missing.push((e.day, *k));
            if missing.len() > 64 * EXAMPLES_PER_KIND {
                missing.sort_by_key(|(day, k)| (*day, k.1));
                missing.truncate(EXAMPLES_PER_KIND);
            }
        }
    }
    missing.sort_by_key(|(day, k)| (*day, k.1));
    for (day, k) in missing.into_iter().take(EXAMPLES_PER_KIND) {
        chosen.push(("missing", k, day, None));
    }
    // the truth's rows of the chosen keys, from their days
    let wanted: BTreeMap<u128, ()> = chosen
        .iter()
        .filter(|(kind, ..)| matches!(*kind, "missing" | "changed"))
        .map(|(_, k, ..)| (k.1, ()))
        .collect();
    let mut truth: HashMap<u128, Vec<Val>> = HashMap::new();
    let days: std::collections::BTreeSet<Date> = chosen
        .iter()
        .filter(|(_, k, ..)| wanted.contains_key(&k.1))
        .map(|(_, _, day, _)| *day)
        .collect();
    for day in days {
        struct Find<'a> {
            table: &'static TableDef,
            shape: &'a Shape,
            wanted: &'a BTreeMap<u128, ()>,
            truth: &'a mut HashMap<u128, Vec<Val>>,
            buf: Vec<u8>,
        }
        impl RowSink for Find<'_> {
            type Error = std::convert::Infallible;
            fn row<R: Row>(&mut self, row: &R) -> Result<(), Self::Error> {
                let mut c = Collector::new(self.table);
                let values = c.collect(row);
                let f = self.shape.fingerprint(values, &mut self.buf);
                if self.wanted.contains_key(&f.key) {
                    self.truth.insert(f.key, values.to_vec());
                }
                Ok(())
            }
        }
        let mut sink = Find {
            table,
            shape,
            wanted: &wanted,
            truth: &mut truth,
            buf: Vec::new(),
        };
        let Ok(()) = scenario.generate(table, day, Shard::ALL, View::Extract, &mut sink);
    }
    let mut out: Vec<Example> = chosen
        .into_iter()
        .filter_map(|(kind, k, day, loaded)| {
            let values = loaded.as_ref().or_else(|| truth.get(&k.1))?;
            let columns = match (kind, &loaded, truth.get(&k.1)) {
                ("changed", Some(l), Some(t)) => table
                    .columns
                    .iter()
                    .enumerate()
                    .filter(|(i, c)| c.ty != LogicalType::Json && l[*i] != t[*i])
                    .map(|(i, c)| ColumnDiff {
                        column: c.name,
                        expected: render(c.ty, &t[i]),
                        found: render(c.ty, &l[i]),
                    })
                    .collect(),
                _ => Vec::new(),
            };
            Some(Example {
                kind,
                day,
                key: shape
                    .key
                    .iter()
                    .map(|&i| {
                        let c = &table.columns[i];
                        format!("{}={}", c.name, render(c.ty, &values[i]))
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                columns,
            })
        })
        .collect();
    let order = |k: &str| {
        ["missing", "duplicated", "stale", "changed", "unexpected"]
            .iter()
            .position(|x| *x == k)
    };
    out.sort_by(|a, b| (order(a.kind), a.day, &a.key).cmp(&(order(b.kind), b.day, &b.key)));
    out
}

/// A canonical value as the files write it.
fn render(ty: LogicalType, v: &Val) -> String {
    match (ty, v) {
        (_, Val::Null) => "null".into(),
        (LogicalType::HexUuid, Val::Uuid(b)) => {
            String::from_utf8_lossy(&faux::Uuid(*b).hex()).into_owned()
        }
        (_, Val::Uuid(b)) => String::from_utf8_lossy(&faux::Uuid(*b).hyphenated()).into_owned(),
        (LogicalType::Date, Val::Int(d)) => Date::from_days_since_epoch(*d as i32).to_string(),
        (LogicalType::Timestamp, Val::Int(s)) => faux::Timestamp(*s).to_string(),
        (LogicalType::Decimal { scale, .. }, Val::Int(u)) => {
            let p = 10i64.pow(scale as u32);
            let sign = if *u < 0 { "-" } else { "" };
            if scale == 0 {
                u.to_string()
            } else {
                format!(
                    "{sign}{}.{:0width$}",
                    (u / p).abs(),
                    (u % p).abs(),
                    width = scale as usize
                )
            }
        }
        (_, Val::Int(i)) => i.to_string(),
        (_, Val::Bool(b)) => b.to_string(),
        (_, Val::Text(s)) => s.clone(),
    }
}

/// Maps each of `table`'s columns to its position among `available` column names (the
/// names a source has), or names the missing ones.
pub fn column_positions(table: &TableDef, available: &[String]) -> Result<Vec<usize>, VerifyError> {
    let mut missing = Vec::new();
    let positions: Vec<usize> = table
        .columns
        .iter()
        .filter_map(|c| {
            let p = available.iter().position(|a| a == c.name);
            if p.is_none() {
                missing.push(c.name.to_string());
            }
            p
        })
        .collect();
    if missing.is_empty() {
        Ok(positions)
    } else {
        Err(VerifyError::MissingColumns {
            table: table.name.to_string(),
            columns: missing,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source holding rows in memory.
    #[derive(Debug)]
    struct Memory {
        rows: Vec<Vec<Val>>,
        mode: Mode,
    }

    impl Source for Memory {
        fn describe(&self) -> String {
            "memory".into()
        }
        fn mode(&self, _: &TableDef) -> Mode {
            self.mode
        }
        fn read(
            &mut self,
            _: &'static TableDef,
            _: Option<(Date, Date)>,
            row: &mut dyn FnMut(Result<Vec<Val>, String>),
        ) -> Result<(), VerifyError> {
            for r in &self.rows {
                row(Ok(r.clone()));
            }
            Ok(())
        }
    }

    fn truth_rows(s: &Scenario, table: &'static TableDef, day: Date) -> Vec<Vec<Val>> {
        struct All(Vec<Vec<Val>>, &'static TableDef);
        impl RowSink for All {
            type Error = std::convert::Infallible;
            fn row<R: Row>(&mut self, row: &R) -> Result<(), Self::Error> {
                let mut c = Collector::new(self.1);
                self.0.push(c.collect(row).to_vec());
                Ok(())
            }
        }
        let mut all = All(Vec::new(), table);
        let Ok(()) = s.generate(table, day, Shard::ALL, View::Extract, &mut all);
        all.0
    }

    #[test]
    fn streamed_and_collected_fingerprints_agree() {
        struct Both<'a>(Fingerprinter<'a>, &'a Shape, &'static TableDef, usize);
        impl RowSink for Both<'_> {
            type Error = std::convert::Infallible;
            fn row<R: Row>(&mut self, row: &R) -> Result<(), Self::Error> {
                let streamed = self.0.fingerprint(row);
                let mut c = Collector::new(self.2);
                let collected = self.1.fingerprint(c.collect(row), &mut Vec::new());
                assert_eq!(streamed, collected, "{}", self.2.name);
                self.3 += 1;
                Ok(())
            }
        }
        for name in ["ecommerce", "shiny-rocks"] {
            let s = Scenario::by_name(name, 3).unwrap();
            let first = s.first_day("2024-06-01".parse().unwrap());
            let mut rows = 0;
            for day in [first, first.add_days(40)] {
                for &t in s.tables() {
                    let shape = Shape::new(t);
                    let mut both = Both(Fingerprinter::new(&shape, t.columns.len()), &shape, t, 0);
                    let Ok(()) = s.generate(t, day, Shard::ALL, View::Extract, &mut both);
                    rows += both.3;
                }
            }
            assert!(rows > 1000, "{name}: {rows} rows");
        }
    }

    #[test]
    fn per_day_comparison_counts_each_kind_of_difference() {
        let s = Scenario::by_name("shiny-rocks", 7).unwrap();
        let table = s.table("services").unwrap();
        let day: Date = "2024-03-01".parse().unwrap();
        let mut rows = truth_rows(&s, table, day);
        let n = rows.len() as u64;
        let mut src = Memory {
            rows: rows.clone(),
            mode: Mode::PerDay,
        };
        let r = verify_table(&mut src, &s, table, DateRange::day(day), 1);
        assert_eq!(r.differences(), 0, "{r:?}");
        assert_eq!(r.days[&day].expected, n);

        rows.remove(0);
        let dup = rows[1].clone();
        rows.push(dup);
        let mut odd = rows[2].clone();
        odd[3] = Val::Int(-1); // duration: a row the truth does not have
        rows[2] = odd;
        let mut src = Memory {
            rows,
            mode: Mode::PerDay,
        };
        let r = verify_table(&mut src, &s, table, DateRange::day(day), 1);
        let d = &r.days[&day];
        // services has no key: a changed row is one missing and one unexpected
        assert_eq!((d.missing, d.duplicated, d.unexpected), (2, 1, 1), "{d:?}");
    }
}
