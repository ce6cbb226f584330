//! The feature store: SQLite, fed change records in `seq` order.
//!
//! Features are computed when a cart is scored (its session's first `add_to_cart`) from what
//! the store holds at that instant, and frozen: they are point-in-time by construction. Each
//! batch of records is applied in one transaction together with the last applied `seq`, and
//! records at or below it are skipped, so a redelivered message or a restart changes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use faux::{Date, Timestamp};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("feature store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("feature store (PostgreSQL {target}): {message}")]
    Postgres { target: String, message: String },
    #[error("record seq {seq}: {message}")]
    Record { seq: i64, message: String },
    #[error("stored features of cart {cart}: {source}")]
    Features {
        cart: String,
        source: serde_json::Error,
    },
}

/// One change record as `aladdin stream` publishes it.
#[derive(Debug, Clone, Deserialize)]
pub struct Change {
    pub table: String,
    pub op: String,
    pub seq: i64,
    pub ts: String,
    pub row: serde_json::Value,
}

/// What is known of a cart when it is scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Features {
    pub channel: String,
    pub device: String,
    /// The session belongs to a customer account.
    pub signed_in: bool,
    /// The customer's earlier sessions.
    pub sessions_before: u32,
    /// The customer's orders placed before this instant.
    pub orders_before: u32,
    /// Days since the customer's last order (None: never ordered).
    pub days_since_last_order: Option<f64>,
    /// Products viewed in the session before the first add.
    pub product_views: u32,
    /// The first product added: unit price and units.
    pub unit_price: f64,
    pub quantity: u32,
    pub hour: u32,
    /// 0 = Monday.
    pub weekday: u32,
}

/// A scored cart with its label state.
#[derive(Debug, Clone, PartialEq)]
pub struct Cart {
    pub cart_id: String,
    pub day: Date,
    pub scored_at: Timestamp,
    pub features: Features,
    pub ordered_at: Option<Timestamp>,
    /// When the session that placed the order started.
    pub order_session_started_at: Option<Timestamp>,
}

impl Cart {
    /// The instant the label is known: the last session that can order the cart (resumed on
    /// day + 7, at most an hour long) has ended.
    pub fn matures_at(&self) -> Timestamp {
        Timestamp(self.day.add_days(crate::LABEL_DAYS + 1).start().0 + 3600)
    }

    /// The label as known at `as_of` (None: not matured yet).
    pub fn label_at(&self, as_of: Timestamp) -> Option<bool> {
        if self.matures_at() > as_of {
            return None;
        }
        let horizon = self.day.add_days(crate::LABEL_DAYS + 1).start();
        Some(
            self.ordered_at.is_some_and(|t| t <= as_of)
                && self.order_session_started_at.is_some_and(|s| s < horizon),
        )
    }
}

/// A `carts` row as read: id, day, scored_at, features, ordered_at, order session start.
pub(crate) type CartRow = (String, String, i64, String, Option<i64>, Option<i64>);

/// Where the feature store lives: a SQLite file (the default) or a PostgreSQL database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
    /// A `postgres://…` URL; the store's tables go in its schema `kingfisher`.
    Postgres(String),
}

impl Location {
    /// `--database-url` when given, else the SQLite file `--store`.
    pub fn new(store: &Path, database_url: Option<&str>) -> Location {
        match database_url {
            Some(url) => Location::Postgres(url.to_string()),
            None => Location::Sqlite(store.to_path_buf()),
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Sqlite(p) => write!(f, "{}", p.display()),
            Location::Postgres(url) => f.write_str(&crate::pgstore::shown(url)),
        }
    }
}

#[derive(Debug)]
pub struct Store {
    backend: Backend,
}

#[derive(Debug)]
enum Backend {
    Sqlite(Connection),
    Postgres(Box<crate::pgstore::PgStore>),
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS progress (id INTEGER PRIMARY KEY CHECK (id = 1), last_seq INTEGER NOT NULL, last_ts INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, customer_id TEXT, started_at INTEGER NOT NULL,
  channel TEXT NOT NULL, device TEXT NOT NULL, sessions_before INTEGER NOT NULL, product_views INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS customers (id TEXT PRIMARY KEY, sessions INTEGER NOT NULL DEFAULT 0,
  orders INTEGER NOT NULL DEFAULT 0, last_order_at INTEGER);
CREATE TABLE IF NOT EXISTS carts (cart_id TEXT PRIMARY KEY, session_id TEXT NOT NULL, day TEXT NOT NULL,
  scored_at INTEGER NOT NULL, seq INTEGER NOT NULL, features TEXT NOT NULL, ordered_at INTEGER, order_session_started_at INTEGER);
CREATE INDEX IF NOT EXISTS carts_by_day ON carts (day);
";

fn parse_ts(seq: i64, field: &str, v: Option<&serde_json::Value>) -> Result<Timestamp, StoreError> {
    let text = v
        .and_then(|v| v.as_str())
        .ok_or_else(|| StoreError::Record {
            seq,
            message: format!("{field} is missing or not a string"),
        })?;
    Timestamp::parse_flexible(text).map_err(|e| StoreError::Record {
        seq,
        message: format!("{field} = {text:?}: {e}"),
    })
}

fn text<'a>(seq: i64, row: &'a serde_json::Value, field: &str) -> Result<&'a str, StoreError> {
    row.get(field)
        .and_then(|v| v.as_str())
        .ok_or_else(|| StoreError::Record {
            seq,
            message: format!("row.{field} is missing or not a string"),
        })
}

impl Store {
    /// The SQLite store in `path` (created if missing).
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open(path)?;
        // one writer; WAL lets the API read while features write
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Ingestion slowed as the store grew (120 k records/s at 15 days, 88 k at 60): lookups
        // by random ids (sessions, customers, carts) missed SQLite's default 2 MiB page cache
        // once the file outgrew it, and the WAL was copied back (and synced) every 1000
        // pages. A bounded 16 MiB cache holds the hot pages of a few months' store, and a
        // checkpoint every 4000 pages writes a page changed by many batches once.
        conn.pragma_update(None, "cache_size", -16_384)?;
        conn.pragma_update(None, "wal_autocheckpoint", 4000)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Store {
            backend: Backend::Sqlite(conn),
        })
    }

    /// The PostgreSQL store at `url` (its tables created if missing).
    pub fn connect(url: &str) -> Result<Store, StoreError> {
        Ok(Store {
            backend: Backend::Postgres(Box::new(crate::pgstore::PgStore::connect(url)?)),
        })
    }

    pub fn open_at(location: &Location) -> Result<Store, StoreError> {
        match location {
            Location::Sqlite(p) => Store::open(p),
            Location::Postgres(url) => Store::connect(url),
        }
    }

    /// The last applied seq and its time (None: nothing applied yet).
    pub fn progress(&self) -> Result<Option<(i64, Timestamp)>, StoreError> {
        match &self.backend {
            Backend::Sqlite(conn) => Ok(conn
                .query_row("SELECT last_seq, last_ts FROM progress", [], |r| {
                    Ok((r.get(0)?, Timestamp(r.get(1)?)))
                })
                .optional()?),
            Backend::Postgres(pg) => Ok(pg.progress()?.map(|(s, t)| (s, Timestamp(t)))),
        }
    }

    /// Applies `batch` (in seq order) in one transaction; returns how many were new.
    pub fn apply(&mut self, batch: &[Change]) -> Result<usize, StoreError> {
        let conn = match &mut self.backend {
            Backend::Sqlite(conn) => conn,
            Backend::Postgres(pg) => return pg.apply(batch),
        };
        let tx = conn.transaction()?;
        let last: Option<(i64, i64)> = tx
            .prepare_cached("SELECT last_seq, last_ts FROM progress")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let mut tables = SqliteTables {
            tx: &tx,
            views: BTreeMap::new(),
        };
        let (applied, last) = apply_batch(&mut tables, batch, last)?;
        tables.flush_views()?;
        if let Some((seq, ts)) = last {
            forget_old_sessions(&tx, ts - SESSION_MEMORY_SECS)?;
            tx.prepare_cached(
                "INSERT INTO progress (id, last_seq, last_ts) VALUES (1, ?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET last_seq = excluded.last_seq, last_ts = excluded.last_ts",
            )?
            .execute(params![seq, ts])?;
        }
        tx.commit()?;
        Ok(applied)
    }

    fn cart_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CartRow> {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
        ))
    }

    pub(crate) fn decode(
        (cart_id, day, scored_at, features, ordered_at, started): CartRow,
    ) -> Result<Cart, StoreError> {
        let features = serde_json::from_str(&features).map_err(|source| StoreError::Features {
            cart: cart_id.clone(),
            source,
        })?;
        Ok(Cart {
            day: day.parse().map_err(|e| StoreError::Record {
                seq: 0,
                message: format!("cart {cart_id}: day {day:?}: {e}"),
            })?,
            cart_id,
            scored_at: Timestamp(scored_at),
            features,
            ordered_at: ordered_at.map(Timestamp),
            order_session_started_at: started.map(Timestamp),
        })
    }

    pub(crate) const CART_COLUMNS: &str =
        "cart_id, day, scored_at, features, ordered_at, order_session_started_at";

    /// One cart by id.
    pub fn cart(&self, cart_id: &str) -> Result<Option<Cart>, StoreError> {
        let row = match &self.backend {
            // cached: parsing the statement each time was most of a lookup's cost
            Backend::Sqlite(conn) => conn
                .prepare_cached(
                    "SELECT cart_id, day, scored_at, features, ordered_at, order_session_started_at
                     FROM carts WHERE cart_id = ?1",
                )?
                .query_row([cart_id], Self::cart_from_row)
                .optional()?,
            Backend::Postgres(pg) => pg.cart(cart_id)?,
        };
        row.map(Self::decode).transpose()
    }

    /// Up to `limit` carts scored after `seq`, in scoring order, each with its seq (the
    /// prediction publisher's cursor).
    pub fn carts_after(&self, seq: i64, limit: usize) -> Result<Vec<(i64, Cart)>, StoreError> {
        let rows = match &self.backend {
            Backend::Sqlite(conn) => {
                let mut stmt = conn.prepare(&format!(
                    "SELECT {}, seq FROM carts WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                    Self::CART_COLUMNS
                ))?;
                stmt.query_map(params![seq, limit as i64], |r| {
                    Ok((Self::cart_from_row(r)?, r.get::<_, i64>(6)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?
            }
            Backend::Postgres(pg) => pg.carts_after(seq, limit)?,
        };
        rows.into_iter()
            .map(|(row, seq)| Ok((seq, Self::decode(row)?)))
            .collect()
    }

    /// Every cart, in scoring order (seq).
    pub fn carts(&self) -> Result<Vec<Cart>, StoreError> {
        let rows = match &self.backend {
            Backend::Sqlite(conn) => {
                let mut stmt = conn.prepare(&format!(
                    "SELECT {} FROM carts ORDER BY seq",
                    Self::CART_COLUMNS
                ))?;
                stmt.query_map([], Self::cart_from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()?
            }
            Backend::Postgres(pg) => pg.carts()?,
        };
        rows.into_iter().map(Self::decode).collect()
    }
}

/// Applies the records of `batch` after `last` (the store's progress); returns how many were
/// applied and the new progress.
pub(crate) fn apply_batch(
    t: &mut impl Tables,
    batch: &[Change],
    mut last: Option<(i64, i64)>,
) -> Result<(usize, Option<(i64, i64)>), StoreError> {
    let mut applied = 0;
    let mut moved = false;
    for c in batch {
        if last.is_some_and(|(s, _)| c.seq <= s) {
            continue; // seen: a redelivery or a re-sent duplicate
        }
        let ts = parse_ts(c.seq, "ts", Some(&serde_json::Value::String(c.ts.clone())))?;
        apply_one(t, c, ts)?;
        last = Some((c.seq, ts.0));
        moved = true;
        applied += 1;
    }
    Ok((applied, last.filter(|_| moved)))
}

/// A session as the features read it.
#[derive(Debug, Clone)]
pub(crate) struct SessionRow {
    pub customer_id: Option<String>,
    pub started_at: i64,
    pub channel: String,
    pub device: String,
    pub sessions_before: u32,
    pub product_views: u32,
}

/// The few reads and writes the feature logic makes inside a batch's transaction. SQLite
/// and PostgreSQL implement it; the logic itself ([`apply_one`]) is shared, so both stores
/// compute the same features from the same records by construction.
pub(crate) trait Tables {
    /// Counts a new session of `customer`; returns the sessions it had before.
    fn customer_session(&mut self, customer: &str) -> Result<u32, StoreError>;
    /// The customer's orders so far and the time of the last one.
    fn customer_orders(&mut self, customer: &str) -> Result<(u32, Option<i64>), StoreError>;
    /// Counts an order of `customer` at `at`.
    fn customer_ordered(&mut self, customer: &str, at: i64) -> Result<(), StoreError>;
    fn insert_session(&mut self, id: &str, s: &SessionRow) -> Result<(), StoreError>;
    fn session(&mut self, id: &str) -> Result<Option<SessionRow>, StoreError>;
    fn product_view(&mut self, session: &str) -> Result<(), StoreError>;
    fn cart_known(&mut self, cart: &str) -> Result<bool, StoreError>;
    #[allow(clippy::too_many_arguments)]
    fn insert_cart(
        &mut self,
        cart: &str,
        session: &str,
        day: &str,
        scored_at: i64,
        seq: i64,
        features: &str,
    ) -> Result<(), StoreError>;
    /// Records the first order of `cart` (later ones change nothing).
    fn cart_ordered(
        &mut self,
        cart: &str,
        at: i64,
        session_started: Option<i64>,
    ) -> Result<(), StoreError>;
}

/// How long the SQLite store keeps a session after its start. A session's events all come
/// within its hour (a resumed cart is a new session), so older sessions are never read again;
/// keeping them made the session index, which every product view, add and order looks up
/// by a random id, grow with the stream, and ingestion slow down with it. Customers (history
/// features) and carts (labels) are kept.
const SESSION_MEMORY_SECS: i64 = 2 * 86_400;

/// Deletes the sessions that started before `cutoff`. Sessions are inserted in stream order,
/// so the oldest have the lowest rowids: the rows before the first one that started at or
/// after `cutoff` go (rowid order is only used as a bound, so an out-of-order session is kept).
fn forget_old_sessions(tx: &rusqlite::Transaction<'_>, cutoff: i64) -> Result<(), StoreError> {
    let mut stmt = tx.prepare_cached("SELECT rowid, started_at FROM sessions ORDER BY rowid")?;
    let mut rows = stmt.query([])?;
    let mut keep_from = None;
    let mut old = 0;
    while let Some(r) = rows.next()? {
        if r.get::<_, i64>(1)? >= cutoff {
            keep_from = Some(r.get::<_, i64>(0)?);
            break;
        }
        old += 1;
    }
    drop(rows);
    if old > 0 {
        match keep_from {
            Some(rowid) => tx
                .prepare_cached("DELETE FROM sessions WHERE rowid < ?1")?
                .execute([rowid])?,
            None => tx
                .prepare_cached("DELETE FROM sessions WHERE started_at < ?1")?
                .execute([cutoff])?,
        };
    }
    Ok(())
}

struct SqliteTables<'a, 'c> {
    tx: &'a rusqlite::Transaction<'c>,
    /// Product views not yet written, per session. Views are most of the records, and one
    /// UPDATE each (a lookup by a random id) was most of ingestion's cost once the store
    /// outgrew the page cache; they are summed here and written once per session and batch:
    /// before the session is read or inserted, and at the end of the batch (in id order,
    /// so the file is the same whatever the order of the sessions).
    views: BTreeMap<String, u32>,
}

impl SqliteTables<'_, '_> {
    fn write_views(&self, session: &str, n: u32) -> Result<(), StoreError> {
        self.tx
            .prepare_cached("UPDATE sessions SET product_views = product_views + ?2 WHERE id = ?1")?
            .execute(params![session, n])?;
        Ok(())
    }

    fn flush_session_views(&mut self, session: &str) -> Result<(), StoreError> {
        match self.views.remove(session) {
            Some(n) => self.write_views(session, n),
            None => Ok(()),
        }
    }

    fn flush_views(&mut self) -> Result<(), StoreError> {
        for (session, n) in std::mem::take(&mut self.views) {
            self.write_views(&session, n)?;
        }
        Ok(())
    }
}

impl Tables for SqliteTables<'_, '_> {
    fn customer_session(&mut self, cu: &str) -> Result<u32, StoreError> {
        self.tx
            .prepare_cached(
                "INSERT INTO customers (id, sessions) VALUES (?1, 1)
             ON CONFLICT (id) DO UPDATE SET sessions = sessions + 1",
            )?
            .execute([cu])?;
        Ok(self
            .tx
            .prepare_cached("SELECT sessions - 1 FROM customers WHERE id = ?1")?
            .query_row([cu], |r| r.get(0))?)
    }

    fn customer_orders(&mut self, cu: &str) -> Result<(u32, Option<i64>), StoreError> {
        Ok(self
            .tx
            .prepare_cached("SELECT orders, last_order_at FROM customers WHERE id = ?1")?
            .query_row([cu], |r| {
                Ok((r.get::<_, u32>(0)?, r.get::<_, Option<i64>>(1)?))
            })
            .optional()?
            .unwrap_or((0, None)))
    }

    fn customer_ordered(&mut self, cu: &str, at: i64) -> Result<(), StoreError> {
        self.tx.prepare_cached("INSERT INTO customers (id, orders, last_order_at) VALUES (?1, 1, ?2)
             ON CONFLICT (id) DO UPDATE SET orders = orders + 1, last_order_at = excluded.last_order_at")?.execute(params![cu, at],
        )?;
        Ok(())
    }

    fn insert_session(&mut self, id: &str, s: &SessionRow) -> Result<(), StoreError> {
        // views counted before the session record apply as they did (to a row already there)
        self.flush_session_views(id)?;
        self.tx.prepare_cached("INSERT OR IGNORE INTO sessions (id, customer_id, started_at, channel, device, sessions_before)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?.execute(params![
                id,
                s.customer_id,
                s.started_at,
                s.channel,
                s.device,
                s.sessions_before
            ],
        )?;
        Ok(())
    }

    fn session(&mut self, id: &str) -> Result<Option<SessionRow>, StoreError> {
        self.flush_session_views(id)?;
        Ok(self
            .tx
            .prepare_cached(
                "SELECT customer_id, started_at, channel, device, sessions_before, product_views
                 FROM sessions WHERE id = ?1",
            )?
            .query_row([id], |r| {
                Ok(SessionRow {
                    customer_id: r.get(0)?,
                    started_at: r.get(1)?,
                    channel: r.get(2)?,
                    device: r.get(3)?,
                    sessions_before: r.get(4)?,
                    product_views: r.get(5)?,
                })
            })
            .optional()?)
    }

    fn product_view(&mut self, session: &str) -> Result<(), StoreError> {
        match self.views.get_mut(session) {
            Some(n) => *n += 1,
            None => {
                self.views.insert(session.to_string(), 1);
            }
        }
        Ok(())
    }

    fn cart_known(&mut self, cart: &str) -> Result<bool, StoreError> {
        Ok(self
            .tx
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM carts WHERE cart_id = ?1)")?
            .query_row([cart], |r| r.get(0))?)
    }

    fn insert_cart(
        &mut self,
        cart: &str,
        session: &str,
        day: &str,
        scored_at: i64,
        seq: i64,
        features: &str,
    ) -> Result<(), StoreError> {
        self.tx.prepare_cached("INSERT INTO carts (cart_id, session_id, day, scored_at, seq, features) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?.execute(params![cart, session, day, scored_at, seq, features],
        )?;
        Ok(())
    }

    fn cart_ordered(
        &mut self,
        cart: &str,
        at: i64,
        session_started: Option<i64>,
    ) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "UPDATE carts SET ordered_at = ?2, order_session_started_at = ?3
             WHERE cart_id = ?1 AND ordered_at IS NULL",
            )?
            .execute(params![cart, at, session_started])?;
        Ok(())
    }
}

pub(crate) fn apply_one(t: &mut impl Tables, c: &Change, ts: Timestamp) -> Result<(), StoreError> {
    if c.op != "insert" {
        // features read inserts only: a session's update (its end) carries nothing they use
        return Ok(());
    }
    let row = &c.row;
    match c.table.as_str() {
        "sessions" => {
            let id = text(c.seq, row, "id")?;
            let customer = row.get("customer_id").and_then(|v| v.as_str());
            let started = parse_ts(c.seq, "row.started_at", row.get("started_at"))?;
            let before = match customer {
                Some(cu) => t.customer_session(cu)?,
                None => 0,
            };
            t.insert_session(
                id,
                &SessionRow {
                    customer_id: customer.map(str::to_string),
                    started_at: started.0,
                    channel: text(c.seq, row, "channel")?.to_string(),
                    device: text(c.seq, row, "device")?.to_string(),
                    sessions_before: before,
                    product_views: 0,
                },
            )?;
        }
        "events" => {
            let kind = text(c.seq, row, "event_type")?;
            let session = text(c.seq, row, "session_id")?;
            let props = row.get("properties");
            let cart_id = props
                .and_then(|p| p.get("cart_id"))
                .and_then(|v| v.as_str());
            match kind {
                "product_view" => t.product_view(session)?,
                "add_to_cart" => {
                    let Some(cart) = cart_id else {
                        return Err(StoreError::Record {
                            seq: c.seq,
                            message: "add_to_cart without properties.cart_id".into(),
                        });
                    };
                    if !t.cart_known(cart)? {
                        score(t, c, ts, session, cart)?;
                    }
                }
                "order_placed" => {
                    let started = t.session(session)?;
                    if let Some(cart) = cart_id {
                        t.cart_ordered(cart, ts.0, started.as_ref().map(|s| s.started_at))?;
                    }
                    let customer = row
                        .get("customer_id")
                        .and_then(|v| v.as_str())
                        .map(str::to_string)
                        .or(started.and_then(|s| s.customer_id));
                    if let Some(cu) = customer {
                        t.customer_ordered(&cu, ts.0)?;
                    }
                }
                _ => {}
            }
        }
        _ => {}
    }
    Ok(())
}

/// Freezes the features of `cart` at its first `add_to_cart` (record `c`, at `ts`).
fn score(
    t: &mut impl Tables,
    c: &Change,
    ts: Timestamp,
    session: &str,
    cart: &str,
) -> Result<(), StoreError> {
    let Some(s) = t.session(session)? else {
        return Err(StoreError::Record {
            seq: c.seq,
            message: format!(
                "add_to_cart of session {session}, which the store has not seen: stream the sessions table too (--tables sessions,events)"
            ),
        });
    };
    let (orders_before, last_order_at) = match &s.customer_id {
        Some(cu) => t.customer_orders(cu)?,
        None => (0, None),
    };
    let props = c.row.get("properties");
    let unit_price = props
        .and_then(|p| p.get("unit_price"))
        .and_then(|v| v.as_str().and_then(|s| s.parse().ok()).or(v.as_f64()))
        .unwrap_or(0.0);
    let quantity = c.row.get("quantity").and_then(|v| v.as_u64()).unwrap_or(1) as u32;
    let secs = ts.0.rem_euclid(86_400);
    let day = ts.date();
    let weekday = day.weekday();
    let features = Features {
        signed_in: s.customer_id.is_some(),
        channel: s.channel,
        device: s.device,
        sessions_before: s.sessions_before,
        orders_before,
        days_since_last_order: last_order_at.map(|t| (ts.0 - t) as f64 / 86_400.0),
        product_views: s.product_views,
        unit_price,
        quantity,
        hour: (secs / 3600) as u32,
        weekday,
    };
    t.insert_cart(
        cart,
        session,
        &day.to_string(),
        ts.0,
        c.seq,
        &serde_json::to_string(&features).expect("features serialize"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(seq: i64, ts: &str, table: &str, row: serde_json::Value) -> Change {
        Change {
            table: table.into(),
            op: "insert".into(),
            seq,
            ts: ts.into(),
            row,
        }
    }

    fn session(seq: i64, ts: &str, id: &str, customer: Option<&str>) -> Change {
        change(
            seq,
            ts,
            "sessions",
            serde_json::json!({"id": id, "customer_id": customer, "started_at": ts,
                "channel": "email", "device": "mobile"}),
        )
    }

    fn event(seq: i64, ts: &str, session: &str, kind: &str, cart: Option<&str>) -> Change {
        let props = match cart {
            Some(c) => serde_json::json!({"cart_id": c, "unit_price": "12.50"}),
            None => serde_json::json!({}),
        };
        change(
            seq,
            ts,
            "events",
            serde_json::json!({"session_id": session, "customer_id": null, "event_type": kind,
                "quantity": 2, "occurred_at": ts, "properties": props}),
        )
    }

    /// A customer's first session orders its cart; its second session adds another cart.
    fn records() -> Vec<Change> {
        vec![
            session(1, "2024-01-01T10:00:00Z", "s1", Some("c1")),
            event(2, "2024-01-01T10:00:10Z", "s1", "product_view", None),
            event(3, "2024-01-01T10:01:00Z", "s1", "add_to_cart", Some("k1")),
            event(4, "2024-01-01T10:05:00Z", "s1", "order_placed", Some("k1")),
            session(5, "2024-01-03T09:00:00Z", "s2", Some("c1")),
            event(6, "2024-01-03T09:00:30Z", "s2", "product_view", None),
            event(7, "2024-01-03T09:00:40Z", "s2", "product_view", None),
            event(8, "2024-01-03T09:01:00Z", "s2", "add_to_cart", Some("k2")),
            event(9, "2024-01-03T09:02:00Z", "s2", "add_to_cart", Some("k2")),
        ]
    }

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("f.db")).unwrap();
        (dir, s)
    }

    #[test]
    fn features_are_frozen_at_the_first_add_to_cart() {
        let (_d, mut s) = store();
        assert_eq!(s.apply(&records()).unwrap(), 9);
        let k2 = s.cart("k2").unwrap().unwrap();
        let f = &k2.features;
        assert_eq!(
            (f.sessions_before, f.orders_before, f.product_views),
            (1, 1, 2)
        );
        assert_eq!(
            f.days_since_last_order,
            Some((2 * 86_400 - 65 * 60 + 60) as f64 / 86_400.0)
        );
        assert_eq!(
            (f.unit_price, f.quantity, f.hour, f.weekday),
            (12.5, 2, 9, 2)
        );
        let k1 = s.cart("k1").unwrap().unwrap();
        assert_eq!(
            (k1.features.sessions_before, k1.features.orders_before),
            (0, 0)
        );
        assert_eq!(k1.features.days_since_last_order, None);
    }

    #[test]
    fn redelivered_records_change_nothing() {
        let (_d1, mut once) = store();
        once.apply(&records()).unwrap();
        let (_d2, mut twice) = store();
        let r = records();
        twice.apply(&r[..6]).unwrap();
        // a redelivery of the whole stream after a crash: the first six are skipped
        assert_eq!(twice.apply(&r).unwrap(), 3);
        assert_eq!(twice.apply(&r[2..4]).unwrap(), 0);
        assert_eq!(once.carts().unwrap(), twice.carts().unwrap());
        assert_eq!(once.progress().unwrap(), twice.progress().unwrap());
    }

    #[test]
    fn sessions_are_forgotten_two_days_after_their_start() {
        let (_d, mut s) = store();
        let r = records();
        s.apply(&r).unwrap();
        let ids = |s: &Store| -> Vec<String> {
            let Backend::Sqlite(conn) = &s.backend else {
                unreachable!()
            };
            let mut st = conn.prepare("SELECT id FROM sessions ORDER BY id").unwrap();
            st.query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        // the last record is 2024-01-03T09:02: s1 (2024-01-01T10:00) is within two days
        assert_eq!(ids(&s), ["s1", "s2"]);
        s.apply(&[session(10, "2024-01-03T10:00:01Z", "s3", None)])
            .unwrap();
        assert_eq!(ids(&s), ["s2", "s3"]);
        // what was learnt from s1 stays: the customer's history and the cart's label
        assert!(s.cart("k1").unwrap().unwrap().ordered_at.is_some());
        assert_eq!(s.cart("k2").unwrap().unwrap().features.orders_before, 1);
    }

    #[test]
    fn labels_are_unknown_until_they_mature() {
        let (_d, mut s) = store();
        s.apply(&records()).unwrap();
        let k1 = s.cart("k1").unwrap().unwrap();
        let at = |t: &str| Timestamp::parse_flexible(t).unwrap();
        // day 2024-01-01: known from 2024-01-09T01:00:00Z on
        assert_eq!(k1.label_at(at("2024-01-09T00:59:59Z")), None);
        assert_eq!(k1.label_at(at("2024-01-09T01:00:00Z")), Some(true));
        let k2 = s.cart("k2").unwrap().unwrap();
        assert_eq!(k2.label_at(at("2024-01-11T01:00:00Z")), Some(false));
        // an order seen by the store but after the training instant is not used
        let late = Cart {
            ordered_at: Some(at("2024-01-12T00:00:00Z")),
            order_session_started_at: Some(at("2024-01-09T10:00:00Z")),
            ..k2.clone()
        };
        assert_eq!(late.label_at(at("2024-01-11T12:00:00Z")), Some(false));
        assert_eq!(late.label_at(at("2024-01-12T00:00:00Z")), Some(true));
        // resumed on day + 8: outside the horizon
        let outside = Cart {
            ordered_at: Some(at("2024-01-11T00:10:00Z")),
            order_session_started_at: Some(at("2024-01-11T00:00:00Z")),
            ..k2
        };
        assert_eq!(outside.label_at(at("2024-02-01T00:00:00Z")), Some(false));
    }
}
