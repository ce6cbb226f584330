//! The load: days spread over `jobs` connections, one transaction per day.
//!
//! Each job is a generator thread and a connection. The thread claims the next day, generates
//! its tables and encodes them as binary COPY chunks into a bounded channel; the connection
//! (an async task on one runtime thread) streams them to the server as they come, so
//! generation and the server's COPY work overlap and memory stays flat whatever a day's size.
//! A day commits only when all its tables are in: a failure (a dropped connection, a killed
//! backend) rolls back that day alone, and a rerun completes the range idempotently.

use std::pin::Pin;
use std::sync::Mutex;
use std::time::Instant;

use bytes::Bytes;
use faux::{Date, DateRange, Row, RowSink, Scenario, Shard, TableDef, View};
use futures_util::SinkExt;
use tokio::sync::mpsc;
use tokio_postgres::CopyInSink;

use super::copy::CopyEncoder;
use super::ddl::{self, Prepared};
use super::{PgError, PgTarget};
use crate::pool::Claims;
use crate::sql::{ident, upserts};

/// Bytes of COPY data per message: large enough for few round trips through the channel and
/// the socket, small enough that memory stays flat.
const CHUNK: usize = 1 << 20;
/// Chunks in flight per job.
const IN_FLIGHT: usize = 4;

/// One `generate --out postgres://…` run.
#[derive(Debug)]
pub struct PgLoad<'a> {
    pub target: &'a PgTarget,
    pub scenario: &'a Scenario,
    pub tables: Vec<&'static TableDef>,
    pub days: DateRange,
    /// Connections loading days in parallel.
    pub jobs: usize,
    /// Add foreign keys between the tables (days must then load in order from the first).
    pub foreign_keys: bool,
}

/// A day committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayLoaded {
    pub day: Date,
    pub rows: u64,
    /// Bytes of COPY data sent.
    pub bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadSummary {
    pub days: u64,
    pub rows: u64,
    pub bytes: u64,
    pub seconds: f64,
}

/// What a generator thread tells its connection.
#[derive(Debug)]
enum Msg {
    Day(Date),
    Table(usize),
    Chunk(Bytes),
    EndTable { rows: u64 },
    EndDay,
    Fail(String),
}

/// Why a generator stopped early.
enum Stop {
    /// The connection side is gone (it failed, and says why).
    Closed,
    OutOfDay(String),
}

/// Encodes a table's rows for one day and hands full chunks to the channel.
struct ChunkSink<'a> {
    enc: CopyEncoder,
    tx: &'a mpsc::Sender<Msg>,
    rows: u64,
}

impl ChunkSink<'_> {
    fn flush(&mut self) -> Result<(), Stop> {
        if let Some(why) = self.enc.take_out_of_day() {
            return Err(Stop::OutOfDay(why));
        }
        let chunk = std::mem::replace(&mut self.enc.buf, Vec::with_capacity(CHUNK + CHUNK / 8));
        self.tx
            .blocking_send(Msg::Chunk(Bytes::from(chunk)))
            .map_err(|_| Stop::Closed)
    }
}

impl RowSink for ChunkSink<'_> {
    type Error = Stop;

    #[inline]
    fn row<R: Row>(&mut self, row: &R) -> Result<(), Stop> {
        self.enc.row(row);
        self.rows += 1;
        if self.enc.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(())
    }
}

impl PgLoad<'_> {
    /// Loads every day; `on_day` is called as each day commits. On failure, the days already
    /// committed stay (each is complete), and the error names the day and table.
    pub fn run(&self, on_day: &(dyn Fn(&DayLoaded) + Sync)) -> Result<LoadSummary, PgError> {
        let started = Instant::now();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let days: Vec<Date> = self.days.days().collect();
        let jobs = self.jobs.clamp(1, days.len().max(1));
        // the coordinator holds the load lock for the whole run
        let (coordinator, prepared) = runtime.block_on(async {
            let client = self.target.connect().await?;
            let prepared =
                ddl::prepare(self.target, &client, &self.tables, self.foreign_keys).await?;
            Ok::<_, PgError>((client, prepared))
        })?;

        let claims = Claims::new(days.len());
        let totals = Mutex::new((0u64, 0u64, 0u64));
        let on_committed = |d: &DayLoaded| {
            let mut t = totals.lock().expect("totals");
            t.0 += 1;
            t.1 += d.rows;
            t.2 += d.bytes;
            drop(t);
            on_day(d);
        };
        let results: Vec<Result<(), PgError>> = std::thread::scope(|scope| {
            let mut workers = Vec::new();
            for _ in 0..jobs {
                let (tx, rx) = mpsc::channel::<Msg>(IN_FLIGHT);
                let (days, claims) = (&days, &claims);
                scope.spawn(move || self.generate(days, claims, tx));
                let ordered = jobs == 1;
                workers.push(self.connection(rx, &prepared, ordered, claims, &on_committed));
            }
            runtime.block_on(join_all(workers))
        });
        if let Some(e) = results.into_iter().find_map(Result::err) {
            return Err(e);
        }
        // a first load builds its secondary indexes after the data
        let bulk: Vec<&'static TableDef> = self
            .tables
            .iter()
            .zip(&prepared.bulk)
            .filter(|(_, b)| **b)
            .map(|(t, _)| *t)
            .collect();
        runtime.block_on(async {
            ddl::create_indexes(self.target, &coordinator, &bulk).await?;
            ddl::release(self.target, &coordinator).await
        })?;
        drop(coordinator);
        let (days, rows, bytes) = *totals.lock().expect("totals");
        Ok(LoadSummary {
            days,
            rows,
            bytes,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// A generator thread: claims days until none are left or a job failed.
    fn generate(&self, days: &[Date], claims: &Claims, tx: mpsc::Sender<Msg>) {
        loop {
            let Some(day) = claims.next().map(|i| days[i]) else {
                return;
            };
            if tx.blocking_send(Msg::Day(day)).is_err() {
                return;
            }
            for (t, &table) in self.tables.iter().enumerate() {
                if tx.blocking_send(Msg::Table(t)).is_err() {
                    return;
                }
                let mut sink = ChunkSink {
                    enc: CopyEncoder::new(table, day, CHUNK + CHUNK / 8),
                    tx: &tx,
                    rows: 0,
                };
                sink.enc.header();
                let done = self
                    .scenario
                    .generate(table, day, Shard::ALL, View::Extract, &mut sink)
                    .and_then(|()| {
                        sink.enc.trailer();
                        sink.flush()
                    });
                match done {
                    Ok(()) => {}
                    Err(Stop::Closed) => return,
                    Err(Stop::OutOfDay(why)) => {
                        let _ = tx.blocking_send(Msg::Fail(format!(
                            "cannot load {day} idempotently: {why}"
                        )));
                        return;
                    }
                }
                if tx.blocking_send(Msg::EndTable { rows: sink.rows }).is_err() {
                    return;
                }
            }
            if tx.blocking_send(Msg::EndDay).is_err() {
                return;
            }
        }
    }

    /// A connection: applies what its generator sends, one transaction per day. `ordered`:
    /// it is the only connection, so days commit one by one in order.
    async fn connection(
        &self,
        mut rx: mpsc::Receiver<Msg>,
        prepared: &Prepared,
        ordered: bool,
        claims: &Claims,
        on_committed: &(dyn Fn(&DayLoaded) + Sync),
    ) -> Result<(), PgError> {
        let result = self.apply(&mut rx, prepared, ordered, on_committed).await;
        if result.is_err() {
            claims.fail();
        }
        // dropping the receiver stops the generator
        drop(rx);
        result
    }

    async fn apply(
        &self,
        rx: &mut mpsc::Receiver<Msg>,
        prepared: &Prepared,
        ordered: bool,
        on_committed: &(dyn Fn(&DayLoaded) + Sync),
    ) -> Result<(), PgError> {
        let target = self.target;
        let client = target.connect().await?;
        let mut setup = String::new();
        for table in self.tables.iter().filter(|t| upserts(t)) {
            setup.push_str(&ddl::create_stage(table));
            setup.push_str(";\n");
        }
        if !setup.is_empty() {
            client
                .batch_execute(&setup)
                .await
                .map_err(|e| target.sql_error("creating staging tables", &e))?;
        }
        let copy_sql: Vec<String> = self
            .tables
            .iter()
            .map(|t| {
                let into = if upserts(t) {
                    format!("pg_temp.{}", ident(&ddl::stage_name(t)))
                } else {
                    target.qualified(t.name)
                };
                ddl::copy_in(&into, t)
            })
            .collect();
        let upsert_sql: Vec<Option<String>> = self
            .tables
            .iter()
            .map(|t| upserts(t).then(|| ddl::upsert(target, t)))
            .collect();

        let mut day: Option<Date> = None;
        let mut table = 0usize;
        let mut sink: Option<Pin<Box<CopyInSink<Bytes>>>> = None;
        let (mut rows, mut bytes) = (0u64, 0u64);
        let at = |day: Option<Date>, t: usize, what: &str| {
            let d = day.map_or_else(String::new, |d| format!(" {d}"));
            format!("{what} {}{d}", self.tables[t].name)
        };
        while let Some(msg) = rx.recv().await {
            match msg {
                Msg::Day(d) => {
                    day = Some(d);
                    (rows, bytes) = (0, 0);
                    client
                        .batch_execute("BEGIN")
                        .await
                        .map_err(|e| target.sql_error(format!("starting day {d}"), &e))?;
                }
                Msg::Table(t) => {
                    table = t;
                    let def = self.tables[t];
                    if !upserts(def) && !prepared.bulk[t] {
                        let d = day.expect("a day before its tables");
                        client
                            .batch_execute(&ddl::delete_day(target, def, d))
                            .await
                            .map_err(|e| target.sql_error(at(day, t, "replacing"), &e))?;
                    }
                    let s = client
                        .copy_in::<_, Bytes>(copy_sql[t].as_str())
                        .await
                        .map_err(|e| target.sql_error(at(day, t, "copying"), &e))?;
                    sink = Some(Box::pin(s));
                }
                Msg::Chunk(b) => {
                    bytes += b.len() as u64;
                    let s = sink.as_mut().expect("a table before its chunks");
                    s.send(b)
                        .await
                        .map_err(|e| target.sql_error(at(day, table, "copying"), &e))?;
                }
                Msg::EndTable { rows: sent } => {
                    let mut s = sink.take().expect("a table before its end");
                    let copied = s
                        .as_mut()
                        .finish()
                        .await
                        .map_err(|e| target.sql_error(at(day, table, "copying"), &e))?;
                    if copied != sent {
                        return Err(PgError::Generate(format!(
                            "{}: the server took {copied} rows of {sent}",
                            at(day, table, "copying")
                        )));
                    }
                    rows += sent;
                    if let Some(sql) = &upsert_sql[table]
                        && sent > 0
                    {
                        let d = day.expect("a day before its tables");
                        let def = self.tables[table];
                        // a first load, one day after the other: the day's new rows cannot be
                        // there yet, so they skip the conflict check (see insert_created)
                        let split = ordered && prepared.bulk[table] && def.created.is_some();
                        let done = split
                            && ddl::insert_then_upsert(target, &client, def, d)
                                .await
                                .map_err(|e| target.sql_error(at(day, table, "upserting"), &e))?;
                        if !done {
                            client
                                .execute(sql.as_str(), &[])
                                .await
                                .map_err(|e| target.sql_error(at(day, table, "upserting"), &e))?;
                        }
                    }
                }
                Msg::EndDay => {
                    let d = day.take().expect("a day before its end");
                    client
                        .batch_execute("COMMIT")
                        .await
                        .map_err(|e| target.sql_error(format!("committing day {d}"), &e))?;
                    on_committed(&DayLoaded {
                        day: d,
                        rows,
                        bytes,
                    });
                }
                Msg::Fail(why) => return Err(PgError::Generate(why)),
            }
        }
        Ok(())
    }
}

/// Runs every future to completion on the current task; results in input order.
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, out) in futures.iter_mut().zip(outputs.iter_mut()) {
            if out.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *out = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(|o| o.expect("finished")).collect()
}
