//! The store: one table per resource (derived from the faux table definitions), the retained
//! change feed, API keys and the virtual clock — in an embedded SQLite file (the default) or
//! in PostgreSQL (`--database-url`, schema `genie`). [`Backend`] is the only place the two
//! differ; the SQL is shared (written with `$N` placeholders, which SQLite reads as `?N`).
//!
//! Layout, chosen for size (a 90-day store holds millions of clickstream events):
//! - a resource table holds the typed columns once, plus `_sort` (epoch seconds of
//!   `updated_at`, or of the partition column for insert-only tables: the keyset),
//!   `_created` (epoch seconds of `created_at`, only where it differs from `_sort`) and
//!   `_deleted` (only for tables with `deleted_at`). The primary key is the table's own key
//!   column; composite keys get a `_key` column (`a:b`, the id in URLs). The JSON the API
//!   serves is rendered from the typed columns on read ([`render`]), never stored.
//! - the change feed keeps `(seq, table, op, ts, key)` and the row as JSON only for versions
//!   that can be overwritten later (tables with `updated_at`); an insert of an insert-only
//!   table (sessions, events, …) refers to the resource row, which never changes.
//! - the feed is pruned by retention (`--changes-retention`); `seq` grows with `ts`, so the
//!   primary key is the only index it needs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use faux::{
    ChangeRecord, Date, FieldVisitor, LogicalType, Op, Row, Scenario, TableDef, Timestamp, Uuid,
};
use faux_sinks::postgres::PgTarget;
use rusqlite::Connection;
use rusqlite::types::{ToSqlOutput, Value};
use sha2::{Digest, Sha256};

use crate::api::Filters;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Pg(#[from] faux_sinks::postgres::PgError),
    #[error("PostgreSQL ({target}): {reason}")]
    Postgres { target: String, reason: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the store in {location} was created for scenario {stored:?} seed {stored_seed}, not {wanted:?} seed {wanted_seed}: use another --data-dir or --database-url"
    )]
    ScenarioMismatch {
        location: String,
        stored: String,
        stored_seed: i64,
        wanted: String,
        wanted_seed: i64,
    },
    #[error("random number generator: {0}")]
    Random(String),
    #[error("no API key with id {0}")]
    UnknownKey(i64),
}

/// How the API sees one faux table.
#[derive(Debug)]
pub struct Resource {
    pub def: &'static TableDef,
    /// The column the keyset and `updated_at_*` filters use.
    pub sort_col: &'static str,
    /// The column `created_at_*` filters use.
    pub created_col: &'static str,
    pub has_deleted: bool,
    /// Rows never change once inserted (no `updated_at`).
    pub insert_only: bool,
    /// The owning resource and the column naming its row (`/v1/orders/{id}/items`).
    pub parent: Option<faux::Parent>,
    pk_idx: Vec<usize>,
    sort_idx: usize,
    created_idx: usize,
    deleted_idx: Option<usize>,
    /// `"name":` of every column, for rendering rows.
    json_names: Vec<String>,
}

impl Resource {
    pub fn new(def: &'static TableDef) -> Resource {
        let idx = |name: &str| def.columns.iter().position(|c| c.name == name);
        let sort_col = def.cursor.unwrap_or(def.partition);
        let created_col = if idx("created_at").is_some() {
            "created_at"
        } else {
            def.partition
        };
        Resource {
            def,
            sort_col,
            created_col,
            has_deleted: idx("deleted_at").is_some(),
            insert_only: def.cursor.is_none(),
            parent: def.parent,
            pk_idx: def
                .primary_key
                .iter()
                .map(|k| idx(k).expect("primary key column exists"))
                .collect(),
            sort_idx: idx(sort_col).expect("sort column exists"),
            created_idx: idx(created_col).expect("created column exists"),
            deleted_idx: idx("deleted_at"),
            json_names: def
                .columns
                .iter()
                .map(|c| format!("{}:", serde_json::to_string(c.name).expect("string")))
                .collect(),
        }
    }

    pub fn name(&self) -> &'static str {
        self.def.name
    }

    /// How an id in a URL is formed: composite keys are joined with `:`; a table without a
    /// primary key is keyed by the sequence number of the change that inserted the row.
    pub fn id_shape(&self) -> String {
        if self.keyless() {
            return "seq".into();
        }
        self.def.primary_key.join(":")
    }

    /// The primary key columns, quoted and comma-separated, for `ORDER BY` in key order (a
    /// composite key's `_key` text would sort line 10 before line 2).
    fn order_cols(&self) -> String {
        if self.keyless() {
            return self.key_col();
        }
        self.def
            .primary_key
            .iter()
            .map(|k| quote(k))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The table has no primary key of its own (rows are identified by their insert's `seq`).
    pub fn keyless(&self) -> bool {
        self.pk_idx.is_empty()
    }

    /// The column holding the id as text: the key column itself, or `_key` for composite keys.
    pub fn key_col(&self) -> String {
        match self.pk_idx.as_slice() {
            [i] if !is_integer(self.def.columns[*i].ty) => quote(self.def.columns[*i].name),
            _ => "_key".into(),
        }
    }

    fn has_key_col(&self) -> bool {
        // as `key_col() == "_key"`, without building the name
        !matches!(self.pk_idx.as_slice(), [i] if !is_integer(self.def.columns[*i].ty))
    }

    /// The column the `created_at_*` filters compare with.
    pub fn created_expr(&self) -> &'static str {
        if self.has_created_col() {
            "_created"
        } else {
            "_sort"
        }
    }

    fn has_created_col(&self) -> bool {
        self.created_idx != self.sort_idx
    }

    /// The typed columns, quoted and comma-separated (what [`render`] reads).
    fn select_cols(&self) -> String {
        self.def
            .columns
            .iter()
            .map(|c| quote(c.name))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Every stored column, in the order [`Pending::args`] binds them.
    fn stored_cols(&self) -> Vec<(String, bool)> {
        let mut cols = Vec::new();
        if self.has_key_col() {
            cols.push(("_key".to_string(), false));
        }
        cols.push(("_sort".to_string(), true));
        if self.has_created_col() {
            cols.push(("_created".to_string(), true));
        }
        if self.has_deleted {
            cols.push(("_deleted".to_string(), true));
        }
        for c in self.def.columns {
            cols.push((quote(c.name), is_integer(c.ty)));
        }
        cols
    }
}

/// The resources of a scenario, in table order (the order of its change feed's table
/// indexes).
pub fn resources(scenario: &Scenario) -> Vec<Resource> {
    scenario.tables().iter().map(|t| Resource::new(t)).collect()
}

fn is_integer(ty: LogicalType) -> bool {
    matches!(ty, LogicalType::Int | LogicalType::Bool)
}

pub fn sql_type(ty: LogicalType) -> &'static str {
    if is_integer(ty) {
        "INTEGER"
    } else {
        // decimals stay exact text: REAL would round money
        "TEXT"
    }
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Renders a row of `res` (its typed columns, in order) as the JSON object the API serves.
pub fn render<'a>(res: &Resource, cells: impl IntoIterator<Item = &'a Value>) -> String {
    let mut out = String::with_capacity(64 * res.def.columns.len());
    out.push('{');
    for ((i, c), v) in res.def.columns.iter().enumerate().zip(cells) {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&res.json_names[i]);
        match (c.ty, v) {
            (_, Value::Null) => out.push_str("null"),
            (LogicalType::Bool, Value::Integer(b)) => {
                out.push_str(if *b != 0 { "true" } else { "false" })
            }
            (_, Value::Integer(n)) => out.push_str(&n.to_string()),
            (LogicalType::Decimal { .. } | LogicalType::Json, Value::Text(t)) => out.push_str(t),
            (_, Value::Text(t)) => out.push_str(&serde_json::to_string(t).expect("string")),
            (_, Value::Real(f)) => out.push_str(&f.to_string()),
            (_, Value::Blob(_)) => out.push_str("null"),
        }
    }
    out.push('}');
    out
}

/// One change record, captured from the engine and ready to apply.
#[derive(Debug, Clone)]
pub struct Pending {
    pub seq: i64,
    pub ts: i64,
    pub table: usize,
    pub op: &'static str,
    pub key: String,
    pub sort: i64,
    pub created: i64,
    pub deleted: bool,
    /// The table's columns, typed as stored.
    pub values: Vec<Value>,
}

impl Pending {
    /// The row as the API serves it.
    pub fn json(&self, res: &Resource) -> String {
        render(res, &self.values)
    }

    /// What the change feed stores as the row: nothing for an insert into an insert-only
    /// table (the resource row is that version, for good).
    fn feed_row(&self, res: &Resource) -> Option<String> {
        (!(res.insert_only && self.op == "insert")).then(|| self.json(res))
    }

    /// Binds the stored columns' values, in [`Resource::stored_cols`] order, to an upsert
    /// (SQLite: no copies of the values).
    fn bind(&self, res: &Resource, s: &mut rusqlite::Statement<'_>) -> rusqlite::Result<()> {
        let mut n = 0;
        if res.has_key_col() {
            n += 1;
            s.raw_bind_parameter(n, self.key.as_str())?;
        }
        n += 1;
        s.raw_bind_parameter(n, self.sort)?;
        if res.has_created_col() {
            n += 1;
            s.raw_bind_parameter(n, self.created)?;
        }
        if res.has_deleted {
            n += 1;
            s.raw_bind_parameter(n, self.deleted as i64)?;
        }
        for v in &self.values {
            n += 1;
            s.raw_bind_parameter(n, v)?;
        }
        Ok(())
    }

    /// The stored columns' values, in [`Resource::stored_cols`] order.
    fn args(&self, res: &Resource) -> Vec<Arg> {
        let mut a = Vec::with_capacity(res.def.columns.len() + 4);
        if res.has_key_col() {
            a.push(Arg::T(self.key.clone()));
        }
        a.push(Arg::I(self.sort));
        if res.has_created_col() {
            a.push(Arg::I(self.created));
        }
        if res.has_deleted {
            a.push(Arg::I(self.deleted as i64));
        }
        for (c, v) in res.def.columns.iter().zip(&self.values) {
            a.push(match v {
                Value::Integer(n) => Arg::I(*n),
                Value::Text(t) => Arg::T(t.clone()),
                _ if is_integer(c.ty) => Arg::NullI,
                _ => Arg::NullT,
            });
        }
        a
    }
}

/// A [`FieldVisitor`] turning a row of a change record into typed values, in one pass.
struct Capture<'a> {
    res: &'a Resource,
    col: usize,
    values: Vec<Value>,
    key_parts: Vec<String>,
    sort: i64,
    created: i64,
    deleted: bool,
}

impl Capture<'_> {
    /// Records the value of the current column.
    fn put(&mut self, v: Value, secs: Option<i64>) {
        let c = self.col;
        if self.res.pk_idx.contains(&c) {
            self.key_parts.push(match &v {
                Value::Integer(n) => n.to_string(),
                Value::Text(t) => t.clone(),
                _ => String::new(),
            });
        }
        if c == self.res.sort_idx {
            self.sort = secs.unwrap_or(0);
        }
        if c == self.res.created_idx {
            self.created = secs.unwrap_or(0);
        }
        if Some(c) == self.res.deleted_idx && !matches!(v, Value::Null) {
            self.deleted = true;
        }
        self.values.push(v);
        self.col += 1;
    }
}

/// A change record of the engine's feed, ready to apply to resource `res`.
pub fn capture(res: &Resource, c: &ChangeRecord) -> Pending {
    let mut cap = Capture {
        res,
        col: 0,
        values: Vec::with_capacity(res.def.columns.len()),
        key_parts: Vec::new(),
        sort: 0,
        created: 0,
        deleted: false,
    };
    c.row.visit(&mut cap);
    Pending {
        seq: c.seq,
        ts: c.ts.0,
        table: c.table,
        op: c.op.as_str(),
        key: if res.keyless() {
            c.seq.to_string()
        } else {
            cap.key_parts.join(":")
        },
        sort: cap.sort,
        created: cap.created,
        deleted: cap.deleted || c.op == Op::Delete,
        values: cap.values,
    }
}

impl FieldVisitor for Capture<'_> {
    fn text(&mut self, v: &str) {
        self.put(Value::Text(v.to_string()), None);
    }
    fn hex_uuid(&mut self, v: &Uuid) {
        self.put(Value::Text(ascii(&v.hex())), None);
    }
    fn uuid(&mut self, v: &Uuid) {
        self.put(Value::Text(ascii(&v.hyphenated())), None);
    }
    fn int(&mut self, v: i64) {
        self.put(Value::Integer(v), None);
    }
    fn decimal(&mut self, units: i64) {
        let scale = match self.res.def.columns[self.col].ty {
            LogicalType::Decimal { scale, .. } => scale,
            _ => 0,
        };
        self.put(Value::Text(decimal_text(units, scale)), None);
    }
    fn bool(&mut self, v: bool) {
        self.put(Value::Integer(v as i64), None);
    }
    fn date(&mut self, v: Date) {
        self.put(Value::Text(ascii(&v.iso())), Some(v.start().0));
    }
    fn timestamp(&mut self, v: Timestamp) {
        self.put(Value::Text(ascii(&v.rfc3339())), Some(v.0));
    }
    fn json(&mut self, v: &str) {
        self.put(Value::Text(v.to_string()), None);
    }
    fn null(&mut self) {
        self.put(Value::Null, None);
    }
}

/// The engine's ASCII renderings (ids, dates, timestamps) as text, as their `Display` gives
/// them, without going through the formatting machinery.
fn ascii(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap_or_default()
}

/// `units` × 10^-scale as exact decimal text.
pub fn decimal_text(units: i64, scale: u8) -> String {
    if scale == 0 {
        return units.to_string();
    }
    let pow = 10u64.pow(scale as u32);
    let abs = units.unsigned_abs();
    format!(
        "{}{}.{:0width$}",
        if units < 0 { "-" } else { "" },
        abs / pow,
        abs % pow,
        width = scale as usize
    )
}

/// Every change the engine writes on `day`, all resources, in sequence order: the day's
/// change feed, captured. `resources` are the scenario's, in table order.
pub fn day_changes(scenario: &Scenario, resources: &[Resource], day: Date) -> Vec<Pending> {
    scenario
        .changes(day)
        .iter()
        .map(|c| capture(&resources[c.table], c))
        .collect()
}

/// The persisted state of the virtual clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockState {
    /// Every change with `ts <= reached` is applied.
    pub reached: i64,
    /// The last applied sequence number.
    pub last_seq: i64,
    /// Changes with `seq <= pruned_seq` are no longer retained.
    pub pruned_seq: i64,
}

/// An API key as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// Length of the visible part of a key, stored and listed in clear.
const PREFIX_LEN: usize = 12;

pub fn hash_key(secret: &str) -> String {
    let d = Sha256::digest(secret.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

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
        writer: Mutex<Connection>,
        readers: Mutex<Vec<Connection>>,
    },
    Postgres(Box<Pg>),
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
            c.batch_execute(&format!("SET search_path TO {}", quote(PG_SCHEMA)))
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

    fn batch(&self, c: &Arc<PgClient>, sql: &str) -> Result<(), StoreError> {
        let c = c.clone();
        let sql = sql.to_string();
        self.block(async move { c.client.batch_execute(&sql).await })?
            .map_err(|e| self.error(&e))
    }
}

/// One transaction on either backend; the SQL is shared.
pub enum Conn<'a> {
    Sqlite(rusqlite::Transaction<'a>),
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

    fn one_int(&mut self, sql: &str, args: &[Arg]) -> Result<Option<i64>, StoreError> {
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

    fn clock(&mut self) -> Result<Option<ClockState>, StoreError> {
        let rows = self.select(
            "SELECT reached, last_seq, pruned_seq FROM clock WHERE id = 1",
            &[],
        )?;
        Ok(rows.first().map(|r| ClockState {
            reached: int(&r[0]),
            last_seq: int(&r[1]),
            pruned_seq: int(&r[2]),
        }))
    }
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Integer(n) => *n,
        _ => 0,
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Text(t) => t.clone(),
        Value::Integer(n) => n.to_string(),
        _ => String::new(),
    }
}

/// What a list request asks the store for.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filters: Filters,
    /// The keyset position to continue after: (`_sort`, key).
    pub after: Option<(i64, String)>,
    /// Rows to return (ask one more than a page to learn `has_more`).
    pub limit: i64,
    pub skip: i64,
    /// Whether to count the rows matching the filters (`page`/`offset` modes).
    pub total: bool,
}

/// A page of rows, read in one snapshot with the clock they are current at.
#[derive(Debug)]
pub struct Page {
    /// (row JSON, `_sort`, key).
    pub rows: Vec<(String, i64, String)>,
    pub as_of: i64,
    pub total: Option<i64>,
}

/// One retained change.
#[derive(Debug, Clone)]
pub struct Change {
    pub seq: i64,
    pub table: String,
    pub op: String,
    pub ts: i64,
    pub key: String,
    /// The row version as JSON.
    pub row: String,
}

#[derive(Debug)]
pub struct Store {
    /// Where the data lives, for messages (`genie-data/genie.sqlite`, or host/db/schema).
    pub location: String,
    /// The bound scenario's tables ([`Store::bind_scenario`]); none before.
    resources: std::sync::OnceLock<Vec<Resource>>,
    backend: Backend,
}

fn open_conn(path: &Path) -> Result<Connection, StoreError> {
    let c = Connection::open(path)?;
    // WAL lets list requests read one consistent snapshot while the clock writes
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "NORMAL")?;
    c.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(c)
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
        // the writer inserts into B-trees keyed by random ids: a larger page cache (64 MiB)
        // keeps their inner pages resident during backfill
        writer.pragma_update(None, "cache_size", -65_536)?;
        writer.execute_batch(&base_schema_sql(false))?;
        Ok(Store {
            location: dir.display().to_string(),
            resources: std::sync::OnceLock::new(),
            backend: Backend::Sqlite {
                path,
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
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
                quote(PG_SCHEMA),
                base_schema_sql(true)
            ),
        )?;
        pg.pool.lock().expect("pool").push(c);
        Ok(Store {
            location: format!("{}, schema {PG_SCHEMA}", target.display()),
            resources: std::sync::OnceLock::new(),
            backend: Backend::Postgres(Box::new(pg)),
        })
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// The bound scenario's resources, in table order (empty before
    /// [`Store::bind_scenario`]).
    pub fn resources(&self) -> &[Resource] {
        self.resources.get().map_or(&[], Vec::as_slice)
    }

    pub fn resource(&self, name: &str) -> Option<(usize, &Resource)> {
        self.resources()
            .iter()
            .enumerate()
            .find(|(_, r)| r.name() == name)
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
                    let mut c = writer.lock().expect("writer");
                    let tx =
                        c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                    let mut conn = Conn::Sqlite(tx);
                    let out = f(&mut conn)?;
                    if let Conn::Sqlite(tx) = conn {
                        tx.commit()?;
                    }
                    return Ok(out);
                }
                let pooled = readers.lock().expect("readers").pop();
                let mut c = match pooled {
                    Some(c) => c,
                    None => open_conn(path)?,
                };
                let out = (|| {
                    let tx = c.transaction()?;
                    let mut conn = Conn::Sqlite(tx);
                    let out = f(&mut conn)?;
                    if let Conn::Sqlite(tx) = conn {
                        tx.commit()?;
                    }
                    Ok(out)
                })();
                readers.lock().expect("readers").push(c);
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

    /// Before the first backfill of a new embedded store: drops the secondary indexes, which
    /// [`Store::build_indexes`] builds again after the data (much faster than maintaining
    /// them row by row). Opening the store builds missing indexes too, so a backfill that
    /// stops half-way leaves nothing behind. PostgreSQL keeps its indexes.
    pub fn defer_indexes(&self) -> Result<(), StoreError> {
        if self.is_postgres() {
            return Ok(());
        }
        let mut sql = String::new();
        for name in index_names(self.resources()) {
            sql.push_str(&format!("DROP INDEX IF EXISTS {};\n", quote(&name)));
        }
        self.tx(true, |c| match c {
            Conn::Sqlite(tx) => Ok(tx.execute_batch(&sql)?),
            Conn::Pg(..) => Ok(()),
        })
    }

    /// Builds the indexes [`Store::defer_indexes`] dropped (and any other missing one).
    pub fn build_indexes(&self) -> Result<(), StoreError> {
        if self.is_postgres() {
            return Ok(());
        }
        let sql = schema_sql(self.resources(), false);
        self.tx(true, |c| match c {
            Conn::Sqlite(tx) => Ok(tx.execute_batch(&sql)?),
            Conn::Pg(..) => Ok(()),
        })
    }

    /// The clock, or `None` for a new store.
    pub fn clock(&self) -> Result<Option<ClockState>, StoreError> {
        self.tx(false, |c| c.clock())
    }

    /// Records which simulation this store holds (`name`: the scenario's identity), refusing
    /// to mix two in one store, and creates its resource tables.
    pub fn bind_scenario(&self, scenario: &Scenario, name: &str) -> Result<(), StoreError> {
        let seed = scenario.seed();
        let location = self.location.clone();
        let resources = resources(scenario);
        let ddl = schema_sql(&resources, self.is_postgres());
        self.tx(true, |c| {
            let stored = c.select("SELECT scenario, seed FROM meta WHERE id = 1", &[])?;
            match stored.first() {
                Some(r) if text(&r[0]) != name || int(&r[1]) != seed as i64 => {
                    return Err(StoreError::ScenarioMismatch {
                        location,
                        stored: text(&r[0]),
                        stored_seed: int(&r[1]),
                        wanted: name.to_string(),
                        wanted_seed: seed as i64,
                    });
                }
                Some(_) => {}
                None => {
                    c.exec(
                        "INSERT INTO meta (id, scenario, seed) VALUES (1, $1, $2)",
                        &[Arg::T(name.into()), Arg::I(seed as i64)],
                    )?;
                }
            }
            match c {
                Conn::Sqlite(tx) => tx.execute_batch(&ddl)?,
                Conn::Pg(pg, client) => pg.batch(client, &ddl)?,
            }
            Ok(())
        })?;
        if self.resources.set(resources).is_err() {
            panic!("a store is bound to one scenario, once");
        }
        Ok(())
    }

    /// Applies `changes` (in seq order) and moves the clock to `reached`, in one transaction.
    /// Change records older than `retain_after` are applied to the resources but not kept in
    /// the feed (they count as pruned).
    pub fn apply(
        &self,
        changes: &[Pending],
        reached: i64,
        retain_after: i64,
    ) -> Result<ClockState, StoreError> {
        let resources = self.resources();
        self.tx(true, |c| {
            let mut st = c.clock()?.unwrap_or(ClockState {
                reached,
                last_seq: 0,
                pruned_seq: 0,
            });
            // a resource row keeps its latest version only: write each key once
            let mut last: HashMap<(usize, &str), usize> = HashMap::new();
            for (i, p) in changes.iter().enumerate() {
                last.insert((p.table, p.key.as_str()), i);
                st.last_seq = st.last_seq.max(p.seq);
            }
            let retained: Vec<&Pending> = changes.iter().filter(|p| p.ts >= retain_after).collect();
            if let Some(p) = changes.iter().rfind(|p| p.ts < retain_after) {
                st.pruned_seq = st.pruned_seq.max(p.seq);
            }
            let upsert_changes = "INSERT INTO changes (seq, \"table\", op, ts, key, row) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (seq) DO UPDATE SET \"table\" = excluded.\"table\", op = excluded.op, ts = excluded.ts, key = excluded.key, row = excluded.row";
            if c.is_pg() {
                if !retained.is_empty() {
                    let mut cols = (vec![], vec![], vec![], vec![], vec![], vec![]);
                    for p in &retained {
                        let res = &resources[p.table];
                        cols.0.push(Some(p.seq));
                        cols.1.push(Some(res.name().to_string()));
                        cols.2.push(Some(p.op.to_string()));
                        cols.3.push(Some(p.ts));
                        cols.4.push(Some(p.key.clone()));
                        cols.5.push(p.feed_row(res));
                    }
                    c.exec(
                        &upsert_changes.replace(
                            "VALUES ($1, $2, $3, $4, $5, $6)",
                            "SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[])",
                        ),
                        &[
                            Arg::IArr(cols.0),
                            Arg::TArr(cols.1),
                            Arg::TArr(cols.2),
                            Arg::IArr(cols.3),
                            Arg::TArr(cols.4),
                            Arg::TArr(cols.5),
                        ],
                    )?;
                }
                for (t, res) in resources.iter().enumerate() {
                    let rows: Vec<Vec<Arg>> = changes
                        .iter()
                        .enumerate()
                        .filter(|(i, p)| p.table == t && last[&(t, p.key.as_str())] == *i)
                        .map(|(_, p)| p.args(res))
                        .collect();
                    if rows.is_empty() {
                        continue;
                    }
                    let cols = res.stored_cols();
                    let mut arrays: Vec<Arg> = cols
                        .iter()
                        .map(|(_, i)| if *i { Arg::IArr(vec![]) } else { Arg::TArr(vec![]) })
                        .collect();
                    for row in rows {
                        for (a, v) in arrays.iter_mut().zip(row) {
                            match (a, v) {
                                (Arg::IArr(x), Arg::I(n)) => x.push(Some(n)),
                                (Arg::IArr(x), _) => x.push(None),
                                (Arg::TArr(x), Arg::T(s)) => x.push(Some(s)),
                                (Arg::TArr(x), _) => x.push(None),
                                _ => unreachable!("arrays only"),
                            }
                        }
                    }
                    let unnest: Vec<String> = cols
                        .iter()
                        .enumerate()
                        .map(|(i, (_, int))| {
                            format!("${}::{}[]", i + 1, if *int { "bigint" } else { "text" })
                        })
                        .collect();
                    let sql = upsert_sql(res).replace(
                        &format!("VALUES ({})", placeholders(cols.len())),
                        &format!("SELECT * FROM unnest({})", unnest.join(", ")),
                    );
                    c.exec(&sql, &arrays)?;
                }
            } else if let Conn::Sqlite(tx) = c {
                // statements prepared once per batch, values bound straight from the changes
                let mut feed = tx.prepare_cached(&upsert_changes.replace('$', "?"))?;
                let mut upserts: Vec<Option<rusqlite::CachedStatement<'_>>> =
                    resources.iter().map(|_| None).collect();
                for (i, p) in changes.iter().enumerate() {
                    let res = &resources[p.table];
                    if p.ts >= retain_after {
                        feed.execute(rusqlite::params![
                            p.seq,
                            res.name(),
                            p.op,
                            p.ts,
                            p.key.as_str(),
                            p.feed_row(res),
                        ])?;
                    }
                    if last[&(p.table, p.key.as_str())] == i {
                        let stmt = match &mut upserts[p.table] {
                            Some(s) => s,
                            slot => {
                                slot.insert(tx.prepare_cached(&upsert_sql(res).replace('$', "?"))?)
                            }
                        };
                        p.bind(res, stmt)?;
                        stmt.raw_execute()?;
                    }
                }
            }
            // prune the feed: the clock moved, older records leave the retention window.
            // seq grows with ts, so the first retained seq bounds what goes
            let first_kept = c.one_int(
                "SELECT seq FROM changes WHERE ts >= $1 ORDER BY seq LIMIT 1",
                &[Arg::I(retain_after)],
            )?;
            let cut = match first_kept {
                Some(f) => c.one_int("SELECT max(seq) FROM changes WHERE seq < $1", &[Arg::I(f)])?,
                None => c.one_int("SELECT max(seq) FROM changes", &[])?,
            };
            if let Some(cut) = cut {
                c.exec("DELETE FROM changes WHERE seq <= $1", &[Arg::I(cut)])?;
                st.pruned_seq = st.pruned_seq.max(cut);
            }
            st.reached = reached.max(st.reached);
            c.exec(
                "INSERT INTO clock (id, reached, last_seq, pruned_seq) VALUES (1, $1, $2, $3) \
                 ON CONFLICT (id) DO UPDATE SET reached = excluded.reached, last_seq = excluded.last_seq, pruned_seq = excluded.pruned_seq",
                &[Arg::I(st.reached), Arg::I(st.last_seq), Arg::I(st.pruned_seq)],
            )?;
            Ok(st)
        })
    }

    /// A page of a resource, and the clock, from one snapshot.
    pub fn list(&self, t: usize, q: &ListQuery) -> Result<Page, StoreError> {
        let res = &self.resources()[t];
        self.tx(false, |c| {
            let as_of = c.clock()?.map_or(0, |s| s.reached);
            let key = res.key_col();
            let mut conds: Vec<String> = Vec::new();
            let mut args: Vec<Arg> = Vec::new();
            let f = q.filters;
            if res.has_deleted && !f.include_deleted {
                conds.push("_deleted = 0".into());
            }
            for (col, op, v) in [
                ("_sort", ">=", f.updated_min),
                ("_sort", "<=", f.updated_max),
                (res.created_expr(), ">=", f.created_min),
                (res.created_expr(), "<=", f.created_max),
            ] {
                if let Some(v) = v {
                    args.push(Arg::I(v));
                    conds.push(format!("{col} {op} ${}", args.len()));
                }
            }
            let where_sql = |conds: &[String]| {
                if conds.is_empty() {
                    String::new()
                } else {
                    format!("WHERE {}", conds.join(" AND "))
                }
            };
            let total = if q.total {
                let sql = format!(
                    "SELECT count(*) FROM {} {}",
                    quote(res.name()),
                    where_sql(&conds)
                );
                Some(c.one_int(&sql, &args)?.unwrap_or(0))
            } else {
                None
            };
            if let Some((s, k)) = &q.after {
                args.push(Arg::I(*s));
                args.push(Arg::T(k.clone()));
                conds.push(format!(
                    "(_sort, {key}) > (${}, ${})",
                    args.len() - 1,
                    args.len()
                ));
            }
            args.push(Arg::I(q.limit));
            args.push(Arg::I(q.skip));
            let sql = format!(
                "SELECT {}, _sort, {key} FROM {} {} ORDER BY _sort, {key} LIMIT ${} OFFSET ${}",
                res.select_cols(),
                quote(res.name()),
                where_sql(&conds),
                args.len() - 1,
                args.len()
            );
            let n = res.def.columns.len();
            let rows = c
                .select(&sql, &args)?
                .into_iter()
                .map(|r| (render(res, &r[..n]), int(&r[n]), text(&r[n + 1])))
                .collect();
            Ok(Page { rows, as_of, total })
        })
    }

    /// One row by id (as in URLs).
    pub fn get(&self, t: usize, id: &str) -> Result<Option<String>, StoreError> {
        let res = &self.resources()[t];
        self.tx(false, |c| {
            let sql = format!(
                "SELECT {} FROM {} WHERE {} = $1",
                res.select_cols(),
                quote(res.name()),
                res.key_col()
            );
            Ok(c.select(&sql, &[Arg::T(id.into())])?
                .first()
                .map(|r| render(res, r)))
        })
    }

    /// The rows of resource `child` that belong to row `id` of its parent (`None`: no such
    /// parent row), in key order, and the clock, from one snapshot.
    pub fn children(
        &self,
        child: usize,
        id: &str,
    ) -> Result<Option<(Vec<String>, i64)>, StoreError> {
        let res = &self.resources()[child];
        let parent = res.parent.expect("a resource with a parent");
        let (_, owner) = self
            .resource(parent.table)
            .expect("a parent is a table of the same scenario");
        self.tx(false, |c| {
            let as_of = c.clock()?.map_or(0, |s| s.reached);
            let exists = c.select(
                &format!(
                    "SELECT 1 FROM {} WHERE {} = $1",
                    quote(owner.name()),
                    owner.key_col()
                ),
                &[Arg::T(id.into())],
            )?;
            if exists.is_empty() {
                return Ok(None);
            }
            let rows = c.select(
                &format!(
                    "SELECT {} FROM {} WHERE {} = $1 ORDER BY {}",
                    res.select_cols(),
                    quote(res.name()),
                    quote(parent.column),
                    res.order_cols()
                ),
                &[Arg::T(id.into())],
            )?;
            Ok(Some((rows.iter().map(|r| render(res, r)).collect(), as_of)))
        })
    }

    /// Up to `limit` retained changes after `after`, and the clock, from one snapshot;
    /// `Err(pruned_seq)` when changes after `after` are no longer all retained.
    #[allow(clippy::type_complexity)]
    pub fn changes(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Result<(Vec<Change>, i64), i64>, StoreError> {
        let resources = self.resources();
        self.tx(false, |c| {
            let (as_of, pruned) = c.clock()?.map_or((0, 0), |s| (s.reached, s.pruned_seq));
            if after < pruned {
                return Ok(Err(pruned));
            }
            let rows = c.select(
                "SELECT seq, \"table\", op, ts, key, row FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[Arg::I(after), Arg::I(limit)],
            )?;
            let mut out: Vec<Change> = rows
                .iter()
                .map(|r| Change {
                    seq: int(&r[0]),
                    table: text(&r[1]),
                    op: text(&r[2]),
                    ts: int(&r[3]),
                    key: text(&r[4]),
                    row: text(&r[5]),
                })
                .collect();
            // inserts of insert-only tables: the version is the resource row
            for res in resources.iter().filter(|r| r.insert_only) {
                let wanted: Vec<usize> = (0..out.len())
                    .filter(|&i| out[i].table == res.name() && matches!(rows[i][5], Value::Null))
                    .collect();
                if wanted.is_empty() {
                    continue;
                }
                let mut found: HashMap<String, String> = HashMap::new();
                let key = res.key_col();
                let sql = if c.is_pg() {
                    format!(
                        "SELECT {key}, {} FROM {} WHERE {key} = ANY($1::text[])",
                        res.select_cols(),
                        quote(res.name())
                    )
                } else {
                    format!(
                        "SELECT {key}, {} FROM {} WHERE {key} = $1",
                        res.select_cols(),
                        quote(res.name())
                    )
                };
                if c.is_pg() {
                    let keys = wanted.iter().map(|&i| Some(out[i].key.clone())).collect();
                    for r in c.select(&sql, &[Arg::TArr(keys)])? {
                        found.insert(text(&r[0]), render(res, &r[1..]));
                    }
                } else {
                    for &i in &wanted {
                        for r in c.select(&sql, &[Arg::T(out[i].key.clone())])? {
                            found.insert(text(&r[0]), render(res, &r[1..]));
                        }
                    }
                }
                for i in wanted {
                    out[i].row = found.remove(&out[i].key).unwrap_or_else(|| "null".into());
                }
            }
            Ok(Ok((out, as_of)))
        })
    }

    /// Every retained change of one table, in seq order (for tests and tools).
    pub fn change_log(&self, table: &str) -> Result<Vec<Change>, StoreError> {
        let mut after = self.clock()?.map_or(0, |c| c.pruned_seq);
        let mut out = Vec::new();
        loop {
            let page = match self.changes(after, 10_000)? {
                Ok((p, _)) => p,
                Err(pruned) => {
                    after = pruned;
                    continue;
                }
            };
            let Some(last) = page.last() else {
                return Ok(out);
            };
            after = last.seq;
            out.extend(page.into_iter().filter(|c| c.table == table));
        }
    }

    /// The ids of a resource's rows, optionally only live ones and within a `_sort` range
    /// (for tests and tools).
    pub fn ids(
        &self,
        table: &str,
        include_deleted: bool,
        sort_range: Option<(i64, i64)>,
    ) -> Result<Vec<String>, StoreError> {
        let (_, res) = self.resource(table).expect("a resource");
        let mut conds = Vec::new();
        if res.has_deleted && !include_deleted {
            conds.push("_deleted = 0".to_string());
        }
        if let Some((lo, hi)) = sort_range {
            conds.push(format!("_sort BETWEEN {lo} AND {hi}"));
        }
        let sql = format!(
            "SELECT {} FROM {} {}",
            res.key_col(),
            quote(table),
            if conds.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", conds.join(" AND "))
            }
        );
        self.tx(false, |c| {
            Ok(c.select(&sql, &[])?.iter().map(|r| text(&r[0])).collect())
        })
    }

    /// Rows in the change feed, and how many distinct seqs they have (for tests and tools).
    pub fn retained_changes(&self) -> Result<(i64, i64), StoreError> {
        self.tx(false, |c| {
            let r = c.select("SELECT count(*), count(DISTINCT seq) FROM changes", &[])?;
            Ok((int(&r[0][0]), int(&r[0][1])))
        })
    }

    /// Creates a key; returns its listing and the secret (the only time it exists in clear).
    pub fn create_key(
        &self,
        name: &str,
        scopes: &[String],
    ) -> Result<(ApiKey, String), StoreError> {
        let mut raw = [0u8; 32];
        getrandom::fill(&mut raw).map_err(|e| StoreError::Random(e.to_string()))?;
        use base64::Engine;
        let secret = format!(
            "fg_live_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
        );
        let prefix = secret[..PREFIX_LEN].to_string();
        let now = now_rfc3339();
        let scopes_text = scopes.join(" ");
        let id = self.tx(true, |c| {
            c.one_int(
                "INSERT INTO api_keys (name, prefix, hash, scopes, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &[
                    Arg::T(name.into()),
                    Arg::T(prefix.clone()),
                    Arg::T(hash_key(&secret)),
                    Arg::T(scopes_text),
                    Arg::T(now.clone()),
                ],
            )
        })?;
        Ok((
            ApiKey {
                id: id.unwrap_or(0),
                name: name.to_string(),
                prefix,
                scopes: scopes.to_vec(),
                created_at: now,
                revoked_at: None,
            },
            secret,
        ))
    }

    pub fn list_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        self.tx(false, |c| {
            Ok(c.select(
                "SELECT id, name, prefix, scopes, created_at, revoked_at FROM api_keys ORDER BY id",
                &[],
            )?
            .iter()
            .map(|r| key_row(r))
            .collect())
        })
    }

    pub fn revoke_key(&self, id: i64) -> Result<(), StoreError> {
        let n = self.tx(true, |c| {
            c.exec(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1",
                &[Arg::I(id), Arg::T(now_rfc3339())],
            )
        })?;
        if n == 0 {
            return Err(StoreError::UnknownKey(id));
        }
        Ok(())
    }

    /// The key a secret belongs to (revoked keys included: the caller decides).
    pub fn find_key(&self, secret: &str) -> Result<Option<ApiKey>, StoreError> {
        let h = hash_key(secret);
        self.tx(false, |c| {
            Ok(c.select(
                "SELECT id, name, prefix, scopes, created_at, revoked_at FROM api_keys WHERE hash = $1",
                &[Arg::T(h)],
            )?
            .first()
            .map(|r| key_row(r)))
        })
    }

    /// The SQLite file, for the embedded store.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Sqlite { path, .. } => Some(path),
            Backend::Postgres(_) => None,
        }
    }
}

fn key_row(r: &[Value]) -> ApiKey {
    ApiKey {
        id: int(&r[0]),
        name: text(&r[1]),
        prefix: text(&r[2]),
        scopes: text(&r[3]).split_whitespace().map(str::to_string).collect(),
        created_at: text(&r[4]),
        revoked_at: match &r[5] {
            Value::Null => None,
            v => Some(text(v)),
        },
    }
}

pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    Timestamp(secs).to_string()
}

fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn upsert_sql(res: &Resource) -> String {
    let cols = res.stored_cols();
    let names: Vec<&str> = cols.iter().map(|(n, _)| n.as_str()).collect();
    let key = res.key_col();
    let sets: Vec<String> = names
        .iter()
        .filter(|n| **n != key)
        .map(|n| format!("{n} = excluded.{n}"))
        .collect();
    format!(
        "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({key}) DO UPDATE SET {}",
        quote(res.name()),
        names.join(", "),
        placeholders(names.len()),
        sets.join(", ")
    )
}

/// The secondary indexes [`schema_sql`] creates (the primary keys aside).
fn index_names(resources: &[Resource]) -> Vec<String> {
    let mut names = Vec::new();
    for r in resources {
        names.push(format!("{}_sort", r.name()));
        if r.has_created_col() {
            names.push(format!("{}_created", r.name()));
        }
        if r.parent.is_some() {
            names.push(format!("{}_parent", r.name()));
        }
    }
    names
}

/// The tables every store has, whatever its scenario: the binding, the clock, the change
/// feed and the API keys.
fn base_schema_sql(pg: bool) -> String {
    let int = if pg { "BIGINT" } else { "INTEGER" };
    format!(
        "CREATE TABLE IF NOT EXISTS meta (id {int} PRIMARY KEY CHECK (id = 1), scenario TEXT NOT NULL, seed {int} NOT NULL);
CREATE TABLE IF NOT EXISTS clock (id {int} PRIMARY KEY CHECK (id = 1), reached {int} NOT NULL, last_seq {int} NOT NULL, pruned_seq {int} NOT NULL);
CREATE TABLE IF NOT EXISTS changes (seq {int} PRIMARY KEY, \"table\" TEXT NOT NULL, op TEXT NOT NULL, ts {int} NOT NULL, key TEXT NOT NULL, row TEXT);
CREATE TABLE IF NOT EXISTS api_keys (id {}, name TEXT NOT NULL, prefix TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, scopes TEXT NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT);
",
        if pg {
            "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
        } else {
            "INTEGER PRIMARY KEY AUTOINCREMENT"
        }
    )
}

/// The DDL of a scenario's resource tables and their indexes, derived from the table
/// definitions.
pub fn schema_sql(resources: &[Resource], pg: bool) -> String {
    let int = if pg { "BIGINT" } else { "INTEGER" };
    let mut sql = String::new();
    for r in resources {
        let t = r.name();
        let mut cols: Vec<String> = r
            .stored_cols()
            .iter()
            .map(|(name, _)| {
                let ty = match r.def.columns.iter().find(|c| quote(c.name) == *name) {
                    Some(c) => format!(
                        "{}{}",
                        if is_integer(c.ty) { int } else { "TEXT" },
                        if c.nullable { "" } else { " NOT NULL" }
                    ),
                    None if name == "_key" => "TEXT NOT NULL".into(),
                    None => format!("{int} NOT NULL"),
                };
                format!("{name} {ty}")
            })
            .collect();
        cols.push(format!("PRIMARY KEY ({})", r.key_col()));
        sql.push_str(&format!(
            "CREATE TABLE IF NOT EXISTS {} ({});\n",
            quote(t),
            cols.join(", ")
        ));
        sql.push_str(&format!(
            "CREATE INDEX IF NOT EXISTS {} ON {} (_sort, {});\n",
            quote(&format!("{t}_sort")),
            quote(t),
            r.key_col()
        ));
        if r.has_created_col() {
            sql.push_str(&format!(
                "CREATE INDEX IF NOT EXISTS {} ON {} (_created);\n",
                quote(&format!("{t}_created")),
                quote(t)
            ));
        }
        if let Some(parent) = r.parent {
            // /v1/<parent>/{id}/<path> looks the rows up by their parent's id
            sql.push_str(&format!(
                "CREATE INDEX IF NOT EXISTS {} ON {} ({}, {});\n",
                quote(&format!("{t}_parent")),
                quote(t),
                quote(parent.column),
                r.key_col()
            ));
        }
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(decimal_text(123456, 2), "1234.56");
        assert_eq!(decimal_text(-5, 2), "-0.05");
        assert_eq!(decimal_text(7, 0), "7");
    }

    #[test]
    fn captured_changes_are_ordered_and_keyed() {
        let custom = Scenario::from_toml(
            "t.toml",
            "[shop]\nopened_on = \"2024-01-01\"\n[traffic]\norganic_sessions_per_day = 50.0\n",
            1,
        )
        .unwrap();
        let shiny = Scenario::by_name("shiny-rocks", 1).unwrap();
        for s in [custom, shiny] {
            captured_changes_of(&s);
        }
    }

    fn captured_changes_of(s: &Scenario) {
        let res = resources(s);
        let day: Date = "2024-02-10".parse().unwrap();
        let ch = day_changes(s, &res, day);
        let tables: std::collections::BTreeSet<usize> = ch.iter().map(|p| p.table).collect();
        // a small shop may refund nothing on a given day
        assert!(
            tables.len() + 1 >= res.len(),
            "{} changes {tables:?}",
            s.name()
        );
        assert!(!ch.is_empty());
        assert!(
            ch.windows(2)
                .all(|w| w[0].seq < w[1].seq && w[0].ts <= w[1].ts)
        );
        for p in &ch {
            let r = &res[p.table];
            let json = p.json(r);
            let v: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert!(v.is_object(), "{json}");
            assert_eq!(v.as_object().unwrap().len(), r.def.columns.len());
            assert!(!p.key.is_empty());
            if r.keyless() {
                // no key of its own: the insert's sequence number identifies the row
                assert_eq!(p.key, p.seq.to_string());
                continue;
            }
            // the id in URLs is the primary key's values
            let id: Vec<String> = r
                .def
                .primary_key
                .iter()
                .map(|k| match &v[k] {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            assert_eq!(p.key, id.join(":"));
            // the keyset column is the version's time for mutable tables
            if r.def.cursor.is_some() {
                assert_eq!(p.sort, p.ts, "{} {json}", r.name());
            } else {
                // insert-only tables only ever insert: the feed may refer to the row
                assert_eq!(p.op, "insert", "{}", r.name());
            }
        }
    }

    #[test]
    fn rows_render_as_typed_json() {
        let res = resources(&Scenario::by_name("ecommerce", 1).unwrap());
        let (_, orders) = res
            .iter()
            .enumerate()
            .find(|(_, r)| r.name() == "orders")
            .unwrap();
        let vals: Vec<Value> = orders
            .def
            .columns
            .iter()
            .map(|c| match c.ty {
                LogicalType::Int => Value::Integer(3),
                LogicalType::Bool => Value::Integer(1),
                LogicalType::Decimal { .. } => Value::Text("12.50".into()),
                LogicalType::Json => Value::Text("{\"a\":[1]}".into()),
                _ if c.nullable => Value::Null,
                _ => Value::Text("a\"b".into()),
            })
            .collect();
        let text = render(orders, &vals);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        for (c, val) in orders.def.columns.iter().zip(&vals) {
            let got = &v[c.name];
            match (c.ty, val) {
                (_, Value::Null) => assert!(got.is_null()),
                (LogicalType::Int, _) => assert_eq!(got, 3),
                (LogicalType::Bool, _) => assert_eq!(got, true),
                (LogicalType::Decimal { .. }, _) => {
                    // exact decimal text, not a float
                    assert!(text.contains(&format!("\"{}\":12.50", c.name)), "{text}")
                }
                (LogicalType::Json, _) => assert_eq!(got["a"][0], 1),
                _ => assert_eq!(got, "a\"b"),
            }
        }
    }

    #[test]
    fn keys_are_hashed_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let st = Store::open(dir.path()).unwrap();
        st.bind_scenario(&Scenario::by_name("ecommerce", 1).unwrap(), "ecommerce")
            .unwrap();
        let (k, secret) = st.create_key("ci", &["read:all".into()]).unwrap();
        assert!(secret.starts_with("fg_live_") && secret.len() > 40);
        assert!(secret.starts_with(&k.prefix));
        // neither the database nor its WAL holds the secret
        let needle = secret.as_bytes();
        for f in std::fs::read_dir(dir.path()).unwrap() {
            let raw = std::fs::read(f.unwrap().path()).unwrap();
            assert!(!raw.windows(needle.len()).any(|w| w == needle));
        }
        let hash = hash_key(&secret);
        assert_eq!(st.ids("customers", true, None).unwrap().len(), 0);
        let stored = st
            .tx(false, |c| c.select("SELECT hash FROM api_keys", &[]))
            .unwrap();
        assert_eq!(stored, vec![vec![Value::Text(hash)]]);
        assert_eq!(st.find_key(&secret).unwrap().unwrap().id, k.id);
        st.revoke_key(k.id).unwrap();
        assert!(st.find_key(&secret).unwrap().unwrap().revoked_at.is_some());
        assert!(st.find_key("fg_live_nope").unwrap().is_none());
    }
}
