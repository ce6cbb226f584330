//! Where the data lives: an embedded SQLite file or a PostgreSQL schema, its connections, and
//! one transaction ([`Conn`]) on either, running the same SQL (written with `$N`
//! placeholders, which SQLite reads as `?N`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use faux_sinks::postgres::PgTarget;
use faux_sinks::sql::{Dialect, ident};
use rusqlite::Connection;
use rusqlite::types::{ToSqlOutput, Value};

use super::schema::{Cells, base_schema_sql};
use super::sqlite_rows::SqliteConn;
use super::{Store, StoreError};

/// A statement argument, bindable in both backends (arrays only in PostgreSQL).
#[derive(Debug, Clone)]
pub enum Arg {
    I(i64),
    T(String),
    NullI,
    NullT,
    IArr(Vec<Option<i64>>),
    TArr(Vec<Option<String>>),
}

impl rusqlite::ToSql for Arg {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Arg::I(n) => ToSqlOutput::from(*n),
            Arg::T(t) => ToSqlOutput::from(t.as_str()),
            Arg::NullI | Arg::NullT => ToSqlOutput::from(rusqlite::types::Null),
            Arg::IArr(_) | Arg::TArr(_) => {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    "arrays are bound in PostgreSQL only".into(),
                ));
            }
        })
    }
}

impl Arg {
    fn pg(&self) -> &(dyn tokio_postgres::types::ToSql + Sync) {
        match self {
            Arg::I(n) => n,
            Arg::T(t) => t,
            Arg::NullI => &None::<i64>,
            Arg::NullT => &None::<String>,
            Arg::IArr(v) => v,
            Arg::TArr(v) => v,
        }
    }
}

/// Where the data lives.
#[derive(Debug)]
pub enum Backend {
    Sqlite {
        path: PathBuf,
        // boxed: a connection with its statements is far larger than the PostgreSQL variant
        writer: Box<Mutex<SqliteConn>>,
        readers: Readers,
    },
    Postgres(Box<Pg>),
}

/// SQLite's reader connections: at most [`MAX_READERS`] open, kept between requests; a read that
/// finds them all busy waits for one. Reads are CPU-bound on a few cores, so more connections
/// would only hold more page caches and statements — and a connection opened per request
/// prepares every statement again (a 100-row page at 32 connections cost twice the CPU).
#[derive(Debug, Default)]
pub struct Readers {
    /// The idle connections, and how many are open in all.
    idle: Mutex<(Vec<SqliteConn>, usize)>,
    freed: std::sync::Condvar,
}

/// Caps glibc's malloc at two arenas (unless `MALLOC_ARENA_MAX` says otherwise). By default
/// every thread that allocates may get an arena of its own (up to 8 per core); the first
/// fill's generating threads leave theirs fragmented, and trimming cannot give back a page
/// with one live allocation in it: an idle 90-day genie held 114 MB with the default, 68 MB
/// with two arenas, filling as fast (BENCHMARKS.md). Call before any thread starts.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        #[allow(unsafe_code)]
        // SAFETY: mallopt takes no pointer; it sets a limit of the allocator's own, and runs
        // before other threads exist
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

impl Readers {
    fn take(&self, path: &Path) -> Result<SqliteConn, StoreError> {
        let mut g = self.idle.lock().expect("readers");
        loop {
            if let Some(c) = g.0.pop() {
                return Ok(c);
            }
            if g.1 < MAX_READERS {
                g.1 += 1;
                drop(g);
                return open_conn(path).inspect_err(|_| {
                    self.idle.lock().expect("readers").1 -= 1;
                    self.freed.notify_one();
                });
            }
            g = self.freed.wait(g).expect("readers");
        }
    }

    fn give_back(&self, c: SqliteConn) {
        self.idle.lock().expect("readers").0.push(c);
        self.freed.notify_one();
    }
}

/// PostgreSQL: a small runtime of its own drives the connections, so every store call stays a
/// plain blocking call (as with SQLite), from any thread.
#[derive(Debug)]
pub struct Pg {
    target: PgTarget,
    rt: Option<tokio::runtime::Runtime>,
    pool: Mutex<Vec<Arc<PgClient>>>,
}

#[derive(Debug)]
pub struct PgClient {
    client: tokio_postgres::Client,
    statements: tokio::sync::Mutex<HashMap<String, tokio_postgres::Statement>>,
}

impl Drop for Pg {
    fn drop(&mut self) {
        // may run inside another runtime (tests drop stores in async code): never block
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// The schema genie keeps its tables in, in the database of `--database-url`.
pub const PG_SCHEMA: &str = "genie";

impl Pg {
    fn handle(&self) -> &tokio::runtime::Handle {
        self.rt.as_ref().expect("runtime").handle()
    }

    fn error(&self, e: &tokio_postgres::Error) -> StoreError {
        StoreError::Postgres {
            target: self.target.describe(),
            reason: faux_sinks::postgres::describe(e),
        }
    }

    /// Runs `fut` on the store's runtime and waits for it.
    fn block<T: Send + 'static>(
        &self,
        fut: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle().spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv().map_err(|_| StoreError::Postgres {
            target: self.target.describe(),
            reason: "the PostgreSQL client task stopped".into(),
        })
    }

    fn client(&self) -> Result<Arc<PgClient>, StoreError> {
        if let Some(c) = self.pool.lock().expect("pool").pop()
            && !c.client.is_closed()
        {
            return Ok(c);
        }
        let target = self.target.clone();
        let client = self.block(async move {
            let c = target.connect().await?;
            c.batch_execute(&format!("SET search_path TO {}", ident(PG_SCHEMA)))
                .await
                .map_err(|e| target.sql_error("setting the search path", &e))?;
            Ok::<_, faux_sinks::postgres::PgError>(c)
        })??;
        Ok(Arc::new(PgClient {
            client,
            statements: tokio::sync::Mutex::new(HashMap::new()),
        }))
    }

    fn query(
        &self,
        c: &Arc<PgClient>,
        sql: &str,
        args: &[Arg],
        rows: bool,
    ) -> Result<(Vec<Vec<Value>>, u64), StoreError> {
        let c = c.clone();
        let sql = sql.to_string();
        let args = args.to_vec();
        let r = self.block(async move {
            let stmt = {
                let mut cache = c.statements.lock().await;
                match cache.get(&sql) {
                    Some(s) => s.clone(),
                    None => {
                        let s = c.client.prepare(&sql).await?;
                        cache.insert(sql.clone(), s.clone());
                        s
                    }
                }
            };
            let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                args.iter().map(Arg::pg).collect();
            if !rows {
                let n = c.client.execute(&stmt, &params).await?;
                return Ok((Vec::new(), n));
            }
            let got = c.client.query(&stmt, &params).await?;
            let mut out = Vec::with_capacity(got.len());
            for r in &got {
                let mut vals = Vec::with_capacity(r.len());
                for (i, col) in r.columns().iter().enumerate() {
                    use tokio_postgres::types::Type;
                    let v = match *col.type_() {
                        Type::INT8 => r.try_get::<_, Option<i64>>(i)?.map(Value::Integer),
                        Type::INT4 => r
                            .try_get::<_, Option<i32>>(i)?
                            .map(|n| Value::Integer(n as i64)),
                        Type::BOOL => r
                            .try_get::<_, Option<bool>>(i)?
                            .map(|b| Value::Integer(b as i64)),
                        _ => r.try_get::<_, Option<String>>(i)?.map(Value::Text),
                    };
                    vals.push(v.unwrap_or(Value::Null));
                }
                out.push(vals);
            }
            let n = out.len() as u64;
            Ok::<_, tokio_postgres::Error>((out, n))
        })?;
        r.map_err(|e| self.error(&e))
    }

    pub(super) fn batch(&self, c: &Arc<PgClient>, sql: &str) -> Result<(), StoreError> {
        let c = c.clone();
        let sql = sql.to_string();
        self.block(async move { c.client.batch_execute(&sql).await })?
            .map_err(|e| self.error(&e))
    }
}

/// One transaction on either backend; the SQL is shared.
pub enum Conn<'a> {
    /// A connection inside the transaction [`Store::tx`] began on it.
    Sqlite(&'a SqliteConn),
    Pg(&'a Pg, Arc<PgClient>),
}

impl std::fmt::Debug for Conn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Conn::Sqlite(_) => "Conn::Sqlite",
            Conn::Pg(..) => "Conn::Pg",
        })
    }
}

impl Conn<'_> {
    pub fn is_pg(&self) -> bool {
        matches!(self, Conn::Pg(..))
    }

    /// The rows of a query (integers and text; NULL as [`Value::Null`]).
    pub fn select(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<Vec<Value>>, StoreError> {
        match self {
            Conn::Sqlite(tx) => {
                let mut s = tx.prepare_cached(&sql.replace('$', "?"))?;
                let n = s.column_count();
                let rows = s.query_map(rusqlite::params_from_iter(args), |r| {
                    (0..n).map(|i| r.get::<_, Value>(i)).collect()
                })?;
                Ok(rows.collect::<Result<_, _>>()?)
            }
            Conn::Pg(pg, c) => Ok(pg.query(c, sql, args, true)?.0),
        }
    }

    /// Hands each row of a query to `f` as it is read: from SQLite's row buffer, no value
    /// copied, through the connection's raw statements ([`SqliteConn::each_row`]);
    /// PostgreSQL rows are read first, then handed over.
    pub fn select_each(
        &mut self,
        sql: &str,
        args: &[Arg],
        mut f: impl FnMut(&dyn Cells),
    ) -> Result<(), StoreError> {
        match self {
            Conn::Sqlite(tx) => tx.each_row(sql, args, f)?,
            Conn::Pg(pg, c) => {
                for r in pg.query(c, sql, args, true)?.0 {
                    f(&r);
                }
            }
        }
        Ok(())
    }

    /// Runs a statement; returns the number of rows it changed.
    pub fn exec(&mut self, sql: &str, args: &[Arg]) -> Result<u64, StoreError> {
        match self {
            Conn::Sqlite(tx) => {
                let mut s = tx.prepare_cached(&sql.replace('$', "?"))?;
                Ok(s.execute(rusqlite::params_from_iter(args))? as u64)
            }
            Conn::Pg(pg, c) => Ok(pg.query(c, sql, args, false)?.1),
        }
    }

    pub(super) fn one_int(&mut self, sql: &str, args: &[Arg]) -> Result<Option<i64>, StoreError> {
        Ok(self
            .select(sql, args)?
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .and_then(|v| match v {
                Value::Integer(n) => Some(n),
                _ => None,
            }))
    }
}

/// The rows of a batch as a `SELECT` over one array argument per column (`integer`: the
/// column holds integers): PostgreSQL then plans and ships one statement per batch.
pub(super) fn unnest(integer: &[bool]) -> String {
    let arrays: Vec<String> = integer
        .iter()
        .enumerate()
        .map(|(i, int)| {
            let ty = if *int { "bigint" } else { "text" };
            format!("{}::{ty}[]", Dialect::Postgres.placeholder(i + 1))
        })
        .collect();
    format!("SELECT * FROM unnest({})", arrays.join(", "))
}

pub(super) fn int(v: &Value) -> i64 {
    match v {
        Value::Integer(n) => *n,
        _ => 0,
    }
}

pub(super) fn text(v: &Value) -> String {
    match v {
        Value::Text(t) => t.clone(),
        Value::Integer(n) => n.to_string(),
        _ => String::new(),
    }
}

/// Reader connections open at most ([`Readers`]).
const MAX_READERS: usize = 8;

fn open_conn(path: &Path) -> Result<SqliteConn, StoreError> {
    let c = Connection::open(path)?;
    // WAL lets list requests read one consistent snapshot while the clock writes
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "NORMAL")?;
    // after a checkpoint the log file is cut back to this size instead of keeping its largest
    c.pragma_update(None, "journal_size_limit", 64 << 20)?;
    c.busy_timeout(std::time::Duration::from_secs(10))?;
    // every resource's row and count statements, in their filter shapes, besides the clock's
    // and the transactions' own (list pages keep theirs in `SqliteConn`): more than
    // rusqlite's default 16
    c.set_prepared_statement_cache_capacity(128);
    // plans that do not depend on the values bound: otherwise a cached statement whose
    // `OFFSET ?` or range bound changes is compiled again on its next step (`perf`: a tenth of
    // a 100-row page's CPU in `sqlite3Reprepare`). No statement here benefits from value-
    // dependent plans (no LIKE, no partial indexes, no STAT4 tables).
    c.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(c.into())
}

/// Runs `f` between `begin` and `COMMIT` on `c` (`ROLLBACK` if either fails). The two
/// statements come from the connection's statement cache: `Connection::transaction` parses
/// them on every call (3 % of a 100-row page's CPU in `perf`).
fn sqlite_tx<T>(
    c: &SqliteConn,
    begin: &str,
    f: impl FnOnce(&mut Conn<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    c.prepare_cached(begin)?.execute([])?;
    let out = f(&mut Conn::Sqlite(c)).and_then(|v| {
        c.prepare_cached("COMMIT")?.execute([])?;
        Ok(v)
    });
    if out.is_err() && !c.is_autocommit() {
        // a failed statement or commit leaves the transaction open: end it before the
        // connection is used again
        let _ = c.execute_batch("ROLLBACK");
    }
    out
}

impl Store {
    /// Opens (creating if needed) the embedded SQLite store in `dir`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join("genie.sqlite");
        let writer = open_conn(&path)?;
        writer.execute_batch(&base_schema_sql(Dialect::Sqlite))?;
        Ok(Store {
            location: dir.display().to_string(),
            resources: std::sync::OnceLock::new(),
            counts: Default::default(),
            keys: Default::default(),
            on_read: Default::default(),
            backend: Backend::Sqlite {
                path,
                writer: Box::new(Mutex::new(writer)),
                readers: Readers::default(),
            },
        })
    }

    /// Opens (creating if needed) the store in schema [`PG_SCHEMA`] of a PostgreSQL database.
    /// Fails with a clear error when the database cannot be reached.
    pub fn open_postgres(target: PgTarget) -> Result<Store, StoreError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("genie-pg")
            .enable_all()
            .build()
            .map_err(|source| StoreError::Io {
                path: PathBuf::from("<tokio runtime>"),
                source,
            })?;
        let pg = Pg {
            target: target.clone(),
            rt: Some(rt),
            pool: Mutex::new(Vec::new()),
        };
        let c = pg.client()?;
        pg.batch(
            &c,
            &format!(
                "CREATE SCHEMA IF NOT EXISTS {};\n{}",
                ident(PG_SCHEMA),
                base_schema_sql(Dialect::Postgres)
            ),
        )?;
        pg.pool.lock().expect("pool").push(c);
        Ok(Store {
            location: format!("{}, schema {PG_SCHEMA}", target.display()),
            resources: std::sync::OnceLock::new(),
            counts: Default::default(),
            keys: Default::default(),
            on_read: Default::default(),
            backend: Backend::Postgres(Box::new(pg)),
        })
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    pub(super) fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::Sqlite { .. } => Dialect::Sqlite,
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs `f` in one transaction: a snapshot for reads (SQLite WAL read transaction,
    /// PostgreSQL `REPEATABLE READ`), committed if `f` succeeds.
    pub fn tx<T>(
        &self,
        write: bool,
        f: impl FnOnce(&mut Conn<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match &self.backend {
            Backend::Sqlite {
                path,
                writer,
                readers,
            } => {
                if write {
                    let c = writer.lock().expect("writer");
                    return sqlite_tx(&c, "BEGIN IMMEDIATE", f);
                }
                let c = readers.take(path)?;
                let out = sqlite_tx(&c, "BEGIN", f);
                readers.give_back(c);
                out
            }
            Backend::Postgres(pg) => {
                let c = pg.client()?;
                pg.batch(
                    &c,
                    if write {
                        "BEGIN"
                    } else {
                        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
                    },
                )?;
                let mut conn = Conn::Pg(pg, c.clone());
                let out = f(&mut conn);
                drop(conn);
                match out {
                    Ok(v) => {
                        pg.batch(&c, "COMMIT")?;
                        pg.pool.lock().expect("pool").push(c);
                        Ok(v)
                    }
                    Err(e) => {
                        // roll back; a client in an unknown state is not pooled again
                        if pg.batch(&c, "ROLLBACK").is_ok() {
                            pg.pool.lock().expect("pool").push(c);
                        }
                        Err(e)
                    }
                }
            }
        }
    }

    /// During a new store's first fill (`on`): SQLite skips its syncs to disk. A crash
    /// cannot lose anything that counts — a store without a clock is filled again — and a
    /// killed process cannot corrupt the file (the journal still rolls back). Off again
    /// before the clock is set. PostgreSQL is left as configured.
    /// The writer's page cache is large only then (64 MiB: the fill inserts into B-trees
    /// keyed by random ids, whose inner pages should stay resident); afterwards a clock tick
    /// writes a few rows, and the default 2 MiB cache does.
    pub fn fast_fill(&self, on: bool) -> Result<(), StoreError> {
        if let Backend::Sqlite { writer, .. } = &self.backend {
            let c = writer.lock().expect("writer");
            c.pragma_update(None, "synchronous", if on { "OFF" } else { "NORMAL" })?;
            c.pragma_update(None, "cache_size", if on { -65_536 } else { -2_000 })?;
            if !on {
                // the fill went through the write-ahead log, which kept its largest size
                // (hundreds of MB): fold it into the database and empty it
                c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            }
        }
        if !on {
            self.release_memory()?;
        }
        Ok(())
    }

    /// Hands memory not in use back to the system: SQLite's page caches of idle
    /// connections, then the allocator's free heap (glibc keeps freed memory — after a fill,
    /// hundreds of MB — in the process unless asked to return it).
    pub fn release_memory(&self) -> Result<(), StoreError> {
        self.on_read.release_idle();
        if let Backend::Sqlite {
            writer, readers, ..
        } = &self.backend
        {
            writer
                .lock()
                .expect("writer")
                .execute_batch("PRAGMA shrink_memory")?;
            for r in readers.idle.lock().expect("readers").0.iter() {
                r.execute_batch("PRAGMA shrink_memory")?;
            }
        }
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        #[allow(unsafe_code)]
        // SAFETY: malloc_trim takes no pointer and only returns free pages of the allocator's
        // own arenas to the system
        unsafe {
            libc::malloc_trim(0);
        }
        Ok(())
    }

    /// The SQLite file, for the embedded store.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Sqlite { path, .. } => Some(path),
            Backend::Postgres(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A burst of concurrent reads shares at most MAX_READERS connections, which stay open.
    #[test]
    fn a_burst_of_reads_shares_a_bounded_set_of_connections() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (inside, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        std::thread::scope(|s| {
            for _ in 0..3 * MAX_READERS {
                s.spawn(|| {
                    store
                        .tx(false, |_| {
                            let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(n, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(50));
                            inside.fetch_sub(1, Ordering::SeqCst);
                            Ok(())
                        })
                        .unwrap()
                });
            }
        });
        let most = most.into_inner();
        assert!(most > 1 && most <= MAX_READERS, "{most} reads at once");
        let Backend::Sqlite { readers, .. } = &store.backend else {
            unreachable!()
        };
        let idle = readers.idle.lock().unwrap();
        // every connection handed back and kept; as many as were needed at once, or a few
        // more (one can be opened while another read is between its end and its hand-back)
        assert_eq!(idle.0.len(), idle.1);
        assert!(most <= idle.1 && idle.1 <= MAX_READERS, "{} open", idle.1);
        drop(idle);
        store.release_memory().unwrap();
    }
}
