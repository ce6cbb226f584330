//! The feature store in PostgreSQL (`--database-url`): the same tables as the SQLite store,
//! in a schema `kingfisher` (a database that also holds the shop's own `sessions` or
//! `customers` is left alone), fed by the same logic ([`crate::store::apply_batch`]).
//!
//! The store's API is blocking, as SQLite's is, and is called from async services: the
//! connection is driven by a runtime thread of the store's own, and each call waits for its
//! reply with a minimal executor that only parks the calling thread (a nested `block_on`
//! would panic inside the callers' runtimes).

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row, Statement};

use crate::store::{CartRow, Change, SessionRow, StoreError, Tables};

const SCHEMA: &str = "
CREATE SCHEMA IF NOT EXISTS kingfisher;
CREATE TABLE IF NOT EXISTS kingfisher.progress (id INTEGER PRIMARY KEY CHECK (id = 1), last_seq BIGINT NOT NULL, last_ts BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS kingfisher.sessions (id TEXT PRIMARY KEY, customer_id TEXT, started_at BIGINT NOT NULL,
  channel TEXT NOT NULL, device TEXT NOT NULL, sessions_before BIGINT NOT NULL, product_views BIGINT NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS kingfisher.customers (id TEXT PRIMARY KEY, sessions BIGINT NOT NULL DEFAULT 0,
  orders BIGINT NOT NULL DEFAULT 0, last_order_at BIGINT);
CREATE TABLE IF NOT EXISTS kingfisher.carts (cart_id TEXT PRIMARY KEY, session_id TEXT NOT NULL, day TEXT NOT NULL,
  scored_at BIGINT NOT NULL, seq BIGINT NOT NULL, features TEXT NOT NULL, ordered_at BIGINT, order_session_started_at BIGINT);
CREATE INDEX IF NOT EXISTS carts_by_seq ON kingfisher.carts (seq);
";

/// The URL without its password, for messages.
pub(crate) fn shown(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Polls `f` on this thread until it completes. The futures of a `tokio_postgres::Client`
/// only exchange messages with the connection task, so they need no runtime of their own.
fn wait<F: Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

/// Statements prepared once per connection (a batch runs thousands of them).
#[derive(Debug)]
struct Statements {
    progress: Statement,
    set_progress: Statement,
    customer_session: Statement,
    customer_orders: Statement,
    customer_ordered: Statement,
    insert_session: Statement,
    session: Statement,
    product_view: Statement,
    cart_known: Statement,
    insert_cart: Statement,
    cart_ordered: Statement,
    cart: Statement,
    carts_after: Statement,
    carts: Statement,
}

#[derive(Debug)]
pub(crate) struct PgStore {
    client: Client,
    st: Statements,
    target: String,
    /// Drives the connection; always `Some` until dropped.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // a plain drop of a runtime panics inside the callers' async runtimes
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

fn pg_err(target: &str, e: tokio_postgres::Error) -> StoreError {
    let message = match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => match std::error::Error::source(&e) {
            Some(s) => format!("{e}: {s}"),
            None => e.to_string(),
        },
    };
    StoreError::Postgres {
        target: target.to_string(),
        message,
    }
}

impl PgStore {
    pub(crate) fn connect(url: &str) -> Result<PgStore, StoreError> {
        let target = shown(url);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("kingfisher-pg")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Postgres {
                target: target.clone(),
                message: format!("cannot start its runtime: {e}"),
            })?;
        let url_owned = url.to_string();
        let client = wait(runtime.spawn(async move {
            let (client, conn) = tokio_postgres::connect(&url_owned, NoTls).await?;
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::error!("the feature store's PostgreSQL connection ended: {e}");
                }
            });
            Ok::<_, tokio_postgres::Error>(client)
        }))
        .expect("the connect task does not panic")
        .map_err(|e| pg_err(&target, e))?;
        let err = |e| pg_err(&target, e);
        wait(client.batch_execute(SCHEMA)).map_err(err)?;
        let prep = |sql: &str| wait(client.prepare(sql)).map_err(err);
        const CART: &str = "SELECT cart_id, day, scored_at, features, ordered_at, order_session_started_at, seq FROM kingfisher.carts";
        let st = Statements {
            progress: prep("SELECT last_seq, last_ts FROM kingfisher.progress")?,
            set_progress: prep(
                "INSERT INTO kingfisher.progress (id, last_seq, last_ts) VALUES (1, $1, $2)
                 ON CONFLICT (id) DO UPDATE SET last_seq = excluded.last_seq, last_ts = excluded.last_ts",
            )?,
            customer_session: prep(
                "INSERT INTO kingfisher.customers AS c (id, sessions) VALUES ($1, 1)
                 ON CONFLICT (id) DO UPDATE SET sessions = c.sessions + 1 RETURNING sessions - 1",
            )?,
            customer_orders: prep(
                "SELECT orders, last_order_at FROM kingfisher.customers WHERE id = $1",
            )?,
            customer_ordered: prep(
                "INSERT INTO kingfisher.customers AS c (id, orders, last_order_at) VALUES ($1, 1, $2)
                 ON CONFLICT (id) DO UPDATE SET orders = c.orders + 1, last_order_at = excluded.last_order_at",
            )?,
            insert_session: prep(
                "INSERT INTO kingfisher.sessions (id, customer_id, started_at, channel, device, sessions_before)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
            )?,
            session: prep(
                "SELECT customer_id, started_at, channel, device, sessions_before, product_views
                 FROM kingfisher.sessions WHERE id = $1",
            )?,
            product_view: prep(
                "UPDATE kingfisher.sessions SET product_views = product_views + 1 WHERE id = $1",
            )?,
            cart_known: prep("SELECT EXISTS (SELECT 1 FROM kingfisher.carts WHERE cart_id = $1)")?,
            insert_cart: prep(
                "INSERT INTO kingfisher.carts (cart_id, session_id, day, scored_at, seq, features)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )?,
            cart_ordered: prep(
                "UPDATE kingfisher.carts SET ordered_at = $2, order_session_started_at = $3
                 WHERE cart_id = $1 AND ordered_at IS NULL",
            )?,
            cart: prep(&format!("{CART} WHERE cart_id = $1"))?,
            carts_after: prep(&format!("{CART} WHERE seq > $1 ORDER BY seq LIMIT $2"))?,
            carts: prep(&format!("{CART} ORDER BY seq"))?,
        };
        Ok(PgStore {
            client,
            st,
            target,
            runtime: Some(runtime),
        })
    }

    fn err(&self, e: tokio_postgres::Error) -> StoreError {
        pg_err(&self.target, e)
    }

    fn query(&self, st: &Statement, p: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, StoreError> {
        wait(self.client.query(st, p)).map_err(|e| self.err(e))
    }

    fn query_opt(
        &self,
        st: &Statement,
        p: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        wait(self.client.query_opt(st, p)).map_err(|e| self.err(e))
    }

    fn execute(&self, st: &Statement, p: &[&(dyn ToSql + Sync)]) -> Result<u64, StoreError> {
        wait(self.client.execute(st, p)).map_err(|e| self.err(e))
    }

    pub(crate) fn progress(&self) -> Result<Option<(i64, i64)>, StoreError> {
        Ok(self
            .query_opt(&self.st.progress, &[])?
            .map(|r| (r.get(0), r.get(1))))
    }

    pub(crate) fn apply(&mut self, batch: &[Change]) -> Result<usize, StoreError> {
        wait(self.client.batch_execute("BEGIN")).map_err(|e| self.err(e))?;
        let result = (|| -> Result<usize, StoreError> {
            let last = self.progress()?;
            let (applied, last) = crate::store::apply_batch(&mut PgTables(self), batch, last)?;
            if let Some((seq, ts)) = last {
                self.execute(&self.st.set_progress, &[&seq, &ts])?;
            }
            Ok(applied)
        })();
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = wait(self.client.batch_execute(end)).map_err(|e| self.err(e));
        let applied = result?;
        ended?;
        Ok(applied)
    }

    fn cart_row(r: &Row) -> CartRow {
        (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5))
    }

    pub(crate) fn cart(&self, cart_id: &str) -> Result<Option<CartRow>, StoreError> {
        Ok(self
            .query_opt(&self.st.cart, &[&cart_id])?
            .map(|r| Self::cart_row(&r)))
    }

    pub(crate) fn carts_after(
        &self,
        seq: i64,
        limit: usize,
    ) -> Result<Vec<(CartRow, i64)>, StoreError> {
        Ok(self
            .query(&self.st.carts_after, &[&seq, &(limit as i64)])?
            .iter()
            .map(|r| (Self::cart_row(r), r.get(6)))
            .collect())
    }

    pub(crate) fn carts(&self) -> Result<Vec<CartRow>, StoreError> {
        Ok(self
            .query(&self.st.carts, &[])?
            .iter()
            .map(Self::cart_row)
            .collect())
    }
}

/// A count stored as BIGINT, read back into the features' u32.
fn count(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

struct PgTables<'a>(&'a PgStore);

impl Tables for PgTables<'_> {
    fn customer_session(&mut self, customer: &str) -> Result<u32, StoreError> {
        let row = self.0.query(&self.0.st.customer_session, &[&customer])?;
        Ok(count(row[0].get(0)))
    }

    fn customer_orders(&mut self, customer: &str) -> Result<(u32, Option<i64>), StoreError> {
        Ok(self
            .0
            .query_opt(&self.0.st.customer_orders, &[&customer])?
            .map_or((0, None), |r| (count(r.get(0)), r.get(1))))
    }

    fn customer_ordered(&mut self, customer: &str, at: i64) -> Result<(), StoreError> {
        self.0
            .execute(&self.0.st.customer_ordered, &[&customer, &at])?;
        Ok(())
    }

    fn insert_session(&mut self, id: &str, s: &SessionRow) -> Result<(), StoreError> {
        self.0.execute(
            &self.0.st.insert_session,
            &[
                &id,
                &s.customer_id,
                &s.started_at,
                &s.channel,
                &s.device,
                &i64::from(s.sessions_before),
            ],
        )?;
        Ok(())
    }

    fn session(&mut self, id: &str) -> Result<Option<SessionRow>, StoreError> {
        Ok(self
            .0
            .query_opt(&self.0.st.session, &[&id])?
            .map(|r| SessionRow {
                customer_id: r.get(0),
                started_at: r.get(1),
                channel: r.get(2),
                device: r.get(3),
                sessions_before: count(r.get(4)),
                product_views: count(r.get(5)),
            }))
    }

    fn product_view(&mut self, session: &str) -> Result<(), StoreError> {
        self.0.execute(&self.0.st.product_view, &[&session])?;
        Ok(())
    }

    fn cart_known(&mut self, cart: &str) -> Result<bool, StoreError> {
        Ok(self.0.query(&self.0.st.cart_known, &[&cart])?[0].get(0))
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
        self.0.execute(
            &self.0.st.insert_cart,
            &[&cart, &session, &day, &scored_at, &seq, &features],
        )?;
        Ok(())
    }

    fn cart_ordered(
        &mut self,
        cart: &str,
        at: i64,
        session_started: Option<i64>,
    ) -> Result<(), StoreError> {
        self.0
            .execute(&self.0.st.cart_ordered, &[&cart, &at, &session_started])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            super::shown("postgres://kf:secret@db:5432/shop"),
            "postgres://kf:***@db:5432/shop"
        );
        assert_eq!(
            super::shown("postgres://postgres@127.0.0.1/x"),
            "postgres://postgres@127.0.0.1/x"
        );
    }
}
