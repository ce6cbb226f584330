//! The SQLite load: a generator thread encodes each day's rows into bounded batches, and the
//! writer (the calling thread, SQLite's single writer) applies them with prepared statements
//! in one transaction per day, in WAL mode.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use faux::{
    Date, DateRange, FieldVisitor, Row, RowSink, Scenario, Shard, TableDef, Timestamp, Uuid, View,
};
use rusqlite::Connection;
use rusqlite::types::Value;

use super::{SqliteError, create_table, type_problem};
use crate::sql::{DayGuard, Dialect, Upsert, foreign_keys, ident, partition_index, upserts};

/// Rows per batch sent from the generator to the writer.
const BATCH_ROWS: usize = 1024;

/// One `generate --out sqlite://…` run.
#[derive(Debug)]
pub struct SqliteLoad<'a> {
    pub path: PathBuf,
    pub scenario: &'a Scenario,
    pub tables: Vec<&'static TableDef>,
    pub days: DateRange,
    /// Declare foreign keys on tables this run creates, and enforce them.
    pub foreign_keys: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SqliteSummary {
    pub days: u64,
    pub rows: u64,
    pub seconds: f64,
}

enum Msg {
    Day(Date),
    Table(usize),
    Rows(Vec<Value>),
    EndDay,
    Fail(String),
}

/// Encodes rows as SQLite values (see the module docs of [`super`] for the storage).
struct ValueEncoder {
    out: Vec<Value>,
    scale: Vec<u8>,
    col: usize,
    day: DayGuard,
}

impl ValueEncoder {
    fn new(table: &'static TableDef, day: Date) -> ValueEncoder {
        ValueEncoder {
            out: Vec::with_capacity(BATCH_ROWS * table.columns.len()),
            scale: crate::text::scales(table),
            col: 0,
            day: DayGuard::new(table, day),
        }
    }

    fn push(&mut self, v: Value) {
        self.out.push(v);
        self.col += 1;
    }
}

fn ascii(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl FieldVisitor for ValueEncoder {
    fn text(&mut self, v: &str) {
        self.push(Value::Text(v.to_string()));
    }
    fn hex_uuid(&mut self, v: &Uuid) {
        self.push(Value::Text(ascii(&v.hex())));
    }
    fn uuid(&mut self, v: &Uuid) {
        self.push(Value::Text(ascii(&v.hyphenated())));
    }
    fn int(&mut self, v: i64) {
        self.push(Value::Integer(v));
    }
    fn decimal(&mut self, units: i64) {
        let scale = self.scale[self.col];
        self.push(Value::Real(units as f64 / 10f64.powi(scale as i32)));
    }
    fn bool(&mut self, v: bool) {
        self.push(Value::Integer(v as i64));
    }
    fn date(&mut self, v: Date) {
        self.day.check(self.col, v.start().0);
        self.push(Value::Text(ascii(&v.iso())));
    }
    fn timestamp(&mut self, v: Timestamp) {
        self.day.check(self.col, v.0);
        self.push(Value::Text(ascii(&v.rfc3339())));
    }
    fn json(&mut self, v: &str) {
        self.push(Value::Text(v.to_string()));
    }
    fn null(&mut self) {
        self.push(Value::Null);
    }
}

struct BatchSink<'a> {
    enc: ValueEncoder,
    tx: &'a SyncSender<Msg>,
    rows: usize,
}

enum Stop {
    Closed,
    OutOfDay(String),
}

impl BatchSink<'_> {
    fn flush(&mut self) -> Result<(), Stop> {
        if let Some(why) = self.enc.day.take_out_of_day() {
            return Err(Stop::OutOfDay(why));
        }
        let cap = self.enc.out.capacity();
        let batch = std::mem::replace(&mut self.enc.out, Vec::with_capacity(cap));
        self.rows = 0;
        self.tx.send(Msg::Rows(batch)).map_err(|_| Stop::Closed)
    }
}

impl RowSink for BatchSink<'_> {
    type Error = Stop;
    fn row<R: Row>(&mut self, row: &R) -> Result<(), Stop> {
        self.enc.col = 0;
        row.visit(&mut self.enc);
        self.rows += 1;
        if self.rows >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }
}

impl SqliteLoad<'_> {
    fn err(&self, what: impl Into<String>, e: rusqlite::Error) -> SqliteError {
        SqliteError::Sql {
            what: what.into(),
            path: self.path.display().to_string(),
            reason: e.to_string(),
        }
    }

    /// Opens (creating) the file, in WAL mode.
    pub fn open(&self) -> Result<Connection, SqliteError> {
        let open_err = |reason: String| SqliteError::Open {
            path: self.path.display().to_string(),
            reason,
        };
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| open_err(format!("cannot create {}: {e}", parent.display())))?;
        }
        let conn = Connection::open(&self.path).map_err(|e| open_err(e.to_string()))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(|e| open_err(e.to_string()))?;
        // the first statement that reads the file says whether it is a database
        let _: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| open_err(e.to_string()))?;
        conn.execute_batch(&format!(
            // a larger page cache saves most of the page reads and writes of index inserts
            "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -65536; PRAGMA foreign_keys = {};",
            if self.foreign_keys { "ON" } else { "OFF" }
        ))
        .map_err(|e| open_err(e.to_string()))?;
        Ok(conn)
    }

    /// Checks existing tables, then creates missing tables and indexes (nothing is created
    /// unless every existing table can be loaded into).
    fn prepare(&self, conn: &Connection) -> Result<(), SqliteError> {
        let mut ddl = Vec::new();
        let fks = if self.foreign_keys {
            foreign_keys(&self.tables)
        } else {
            Vec::new()
        };
        for &table in &self.tables {
            let mut stmt = conn
                .prepare(&format!("PRAGMA table_info({})", ident(table.name)))
                .map_err(|e| self.err("reading the schema", e))?;
            let cols: Vec<(String, String, bool, bool)> = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)? != 0,
                        r.get::<_, Option<String>>(4)?.is_some(),
                    ))
                })
                .and_then(|rows| rows.collect())
                .map_err(|e| self.err("reading the schema", e))?;
            if cols.is_empty() {
                ddl.push(create_table(table, &fks));
            } else {
                let mut problems = Vec::new();
                for c in table.columns {
                    match cols.iter().find(|x| x.0 == c.name) {
                        None => problems.push(format!("column {} is missing", c.name)),
                        Some((_, declared, _, _)) => {
                            if let Some(p) = type_problem(c.ty, declared) {
                                problems.push(format!("{}: {p}", c.name));
                            }
                        }
                    }
                }
                for (name, _, not_null, has_default) in &cols {
                    if table.column(name).is_none() && *not_null && !has_default {
                        problems.push(format!(
                            "extra column {name} is NOT NULL without a default, and aladdin does not fill it"
                        ));
                    }
                }
                if problems.is_empty() && upserts(table) {
                    // SQLite itself says whether the upsert has a unique key to land on
                    if let Err(e) = conn.prepare(&upsert_sql(table)) {
                        problems.push(format!(
                            "no primary key or unique index on ({}) to upsert on: {e}",
                            table.primary_key.join(", ")
                        ));
                    }
                }
                if !problems.is_empty() {
                    return Err(SqliteError::Incompatible {
                        table: table.name.to_string(),
                        path: self.path.display().to_string(),
                        problems,
                    });
                }
            }
            ddl.extend(partition_index(&ident(table.name), table));
        }
        for fk in &fks {
            ddl.push(fk.index(&ident(fk.table.name)));
        }
        conn.execute_batch(&format!("BEGIN;\n{};\nCOMMIT;", ddl.join(";\n")))
            .map_err(|e| {
                let _ = conn.execute_batch("ROLLBACK");
                self.err("creating tables", e)
            })
    }

    /// Loads every day, in order; `on_day(day, rows)` is called as each day commits.
    pub fn run(&self, on_day: &dyn Fn(Date, u64)) -> Result<SqliteSummary, SqliteError> {
        let started = Instant::now();
        let conn = self.open()?;
        self.prepare(&conn)?;
        let (tx, rx) = sync_channel::<Msg>(4);
        let (days, rows) = std::thread::scope(|scope| {
            scope.spawn(move || self.generate(tx));
            self.write(&conn, rx, on_day)
        })?;
        Ok(SqliteSummary {
            days,
            rows,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    fn generate(&self, tx: SyncSender<Msg>) {
        for day in self.days.days() {
            if tx.send(Msg::Day(day)).is_err() {
                return;
            }
            for (t, &table) in self.tables.iter().enumerate() {
                if tx.send(Msg::Table(t)).is_err() {
                    return;
                }
                let mut sink = BatchSink {
                    enc: ValueEncoder::new(table, day),
                    tx: &tx,
                    rows: 0,
                };
                let done = self
                    .scenario
                    .generate(table, day, Shard::ALL, View::Extract, &mut sink)
                    .and_then(|()| sink.flush());
                match done {
                    Ok(()) => {}
                    Err(Stop::Closed) => return,
                    Err(Stop::OutOfDay(why)) => {
                        let _ =
                            tx.send(Msg::Fail(format!("cannot load {day} idempotently: {why}")));
                        return;
                    }
                }
            }
            if tx.send(Msg::EndDay).is_err() {
                return;
            }
        }
    }

    fn write(
        &self,
        conn: &Connection,
        rx: Receiver<Msg>,
        on_day: &dyn Fn(Date, u64),
    ) -> Result<(u64, u64), SqliteError> {
        let mut inserts = Vec::new();
        let mut deletes = Vec::new();
        for &t in &self.tables {
            let sql = if upserts(t) {
                upsert_sql(t)
            } else {
                insert_sql(t)
            };
            inserts.push(
                conn.prepare(&sql)
                    .map_err(|e| self.err(format!("preparing {}", t.name), e))?,
            );
            deletes.push(
                conn.prepare(&format!(
                    "DELETE FROM {} WHERE {col} >= ?1 AND {col} < ?2",
                    ident(t.name),
                    col = ident(t.partition)
                ))
                .map_err(|e| self.err(format!("preparing {}", t.name), e))?,
            );
        }
        let (mut days, mut total) = (0u64, 0u64);
        let mut day: Option<Date> = None;
        let mut table = 0usize;
        let mut rows = 0u64;
        let result = (|| {
            let at = |what: &str, day: Option<Date>, table: usize| {
                let d = day.map_or_else(String::new, |d| format!(" {d}"));
                format!("{what} {}{d}", self.tables[table].name)
            };
            for msg in rx {
                match msg {
                    Msg::Day(d) => {
                        day = Some(d);
                        rows = 0;
                        conn.execute_batch("BEGIN IMMEDIATE")
                            .map_err(|e| self.err(format!("starting day {d}"), e))?;
                    }
                    Msg::Table(t) => {
                        table = t;
                        if !upserts(self.tables[t]) {
                            let d = day.expect("a day before its tables");
                            deletes[t]
                                .execute([d.to_string(), d.succ().to_string()])
                                .map_err(|e| self.err(at("replacing", day, t), e))?;
                        }
                    }
                    Msg::Rows(values) => {
                        let n = self.tables[table].columns.len();
                        let stmt = &mut inserts[table];
                        for row in values.chunks(n) {
                            for (i, v) in row.iter().enumerate() {
                                stmt.raw_bind_parameter(i + 1, v)
                                    .map_err(|e| self.err(at("inserting", day, table), e))?;
                            }
                            stmt.raw_execute()
                                .map_err(|e| self.err(at("inserting", day, table), e))?;
                            rows += 1;
                        }
                    }
                    Msg::EndDay => {
                        let d = day.take().expect("a day before its end");
                        conn.execute_batch("COMMIT")
                            .map_err(|e| self.err(format!("committing day {d}"), e))?;
                        days += 1;
                        total += rows;
                        on_day(d, rows);
                    }
                    Msg::Fail(why) => return Err(SqliteError::Generate(why)),
                }
            }
            Ok(())
        })();
        if result.is_err() && !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        result.map(|()| (days, total))
    }
}

/// A row bound as arguments (`?1`, …): inserted, or upserted keeping the newest version per key.
fn upsert_of(table: &TableDef) -> Upsert {
    Upsert::of_table(&ident(table.name), table)
}

fn insert_sql(table: &TableDef) -> String {
    upsert_of(table).insert(&Dialect::Sqlite.values(table.columns.len()))
}

fn upsert_sql(table: &TableDef) -> String {
    upsert_of(table).sql(&Dialect::Sqlite.values(table.columns.len()))
}
