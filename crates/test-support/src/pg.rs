//! A fresh PostgreSQL database per test (created under a unique name, dropped when the test
//! ends, even when it fails) and a small blocking client to look into it.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::Missing;
use crate::services::POSTGRES;

pub const HOST: &str = "127.0.0.1";
pub const PORT: u16 = 5432;
pub const USER: &str = "postgres";

/// The URL of database `name` on the test server.
pub fn url(name: &str) -> String {
    format!("{}/{name}", POSTGRES.url)
}

/// Runs `f` to completion on `rt`, on a thread of its own: `block_on` panics on a thread that
/// already runs an async runtime, and the genie tests are async.
fn block<F>(rt: &tokio::runtime::Runtime, f: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    std::thread::scope(|s| match s.spawn(|| rt.block_on(f)).join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// A blocking client of one database.
#[derive(Debug)]
pub struct Pg {
    client: tokio_postgres::Client,
    /// Always `Some` until dropped.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Pg {
    fn drop(&mut self) {
        // a plain drop waits for the runtime's tasks, which panics inside an async runtime
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Pg {
    pub fn connect(url: &str) -> Result<Pg, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let client = block(&runtime, async {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .map_err(|e| match std::error::Error::source(&e) {
                    Some(s) => format!("{e}: {s}"),
                    None => e.to_string(),
                })?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            Ok::<_, String>(client)
        })?;
        Ok(Pg {
            client,
            runtime: Some(runtime),
        })
    }

    fn rt(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().expect("a runtime until dropped")
    }

    /// Runs statements (no results); panics with the statement on failure.
    pub fn exec(&self, sql: &str) {
        self.try_exec(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Runs statements; the server's message on failure.
    pub fn try_exec(&self, sql: &str) -> Result<(), String> {
        block(self.rt(), self.client.batch_execute(sql)).map_err(|e| match e.as_db_error() {
            Some(db) => db.message().to_string(),
            None => e.to_string(),
        })
    }

    /// Every row of a query, every value as PostgreSQL's text (NULL as `None`).
    pub fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let msgs = block(self.rt(), self.client.simple_query(sql))
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
        msgs.into_iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => {
                    Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
                }
                _ => None,
            })
            .collect()
    }

    /// The single value of a query.
    pub fn one(&self, sql: &str) -> String {
        let rows = self.rows(sql);
        assert_eq!(rows.len(), 1, "{sql}: {rows:?}");
        rows[0][0].clone().unwrap_or_default()
    }
}

/// A database created for one test and dropped when it ends.
#[derive(Debug)]
pub struct FreshDb {
    pub name: String,
}

impl FreshDb {
    /// A fresh database for `test`, or `None` under the CI/SKIP policy of [`crate::require`].
    pub fn create(test: &str) -> Option<FreshDb> {
        crate::require(test, FreshDb::try_create(test))
    }

    /// A fresh database named after `tag`, or why there is none.
    pub fn try_create(tag: &str) -> Result<FreshDb, Missing> {
        let admin = Pg::connect(&url("postgres")).map_err(|e| {
            Missing::new(
                format!(
                    "{} at {} (user {USER}) is unreachable: {e}",
                    POSTGRES.name, POSTGRES.addr
                ),
                POSTGRES.setup,
            )
        })?;
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        // unique across tests, processes and runs; within PostgreSQL's 63 bytes
        let tag: String = tag
            .chars()
            .map(|c| match c {
                'a'..='z' | '0'..='9' => c,
                'A'..='Z' => c.to_ascii_lowercase(),
                _ => '_',
            })
            .take(30)
            .collect();
        let name = format!(
            "t_{tag}_{}_{}_{nanos:x}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        admin.exec(&format!("CREATE DATABASE \"{name}\""));
        Ok(FreshDb { name })
    }

    pub fn url(&self) -> String {
        url(&self.name)
    }

    pub fn connect(&self) -> Pg {
        Pg::connect(&self.url()).expect("connect to the fresh database")
    }

    /// [`Pg::rows`] on a connection of its own.
    pub fn query(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        self.connect().rows(sql)
    }
}

impl Drop for FreshDb {
    fn drop(&mut self) {
        let drop = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        if let Err(e) = Pg::connect(&url("postgres")).and_then(|a| a.try_exec(&drop)) {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_database_is_empty_usable_and_gone_afterwards() {
        let Some(db) = FreshDb::create("test_support_fresh_db") else {
            return;
        };
        let pg = db.connect();
        pg.exec("CREATE TABLE t (a int, b text); INSERT INTO t VALUES (1, 'x'), (2, NULL)");
        assert_eq!(
            pg.rows("SELECT a, b FROM t ORDER BY a"),
            [
                vec![Some("1".to_string()), Some("x".to_string())],
                vec![Some("2".to_string()), None]
            ]
        );
        assert!(pg.try_exec("SELECT nope").unwrap_err().contains("nope"));
        drop(pg);
        let name = db.name.clone();
        let second = FreshDb::create("test_support_fresh_db").unwrap();
        assert_ne!(second.name, name, "names are unique");
        drop(db);
        let admin = Pg::connect(&url("postgres")).unwrap();
        let exists = |n: &str| {
            admin.one(&format!(
                "SELECT count(*) FROM pg_database WHERE datname = '{n}'"
            ))
        };
        assert_eq!(exists(&name), "0", "dropped");
        assert_eq!(exists(&second.name), "1");
    }

    #[test]
    fn usable_from_inside_an_async_runtime() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        // created, queried and dropped inside the runtime, as in the genie tests
        rt.block_on(async {
            let Some(db) = FreshDb::create("test_support_async") else {
                return;
            };
            assert_eq!(db.connect().one("SELECT 6 * 7"), "42");
        });
    }
}
