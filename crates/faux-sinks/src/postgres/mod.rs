//! The PostgreSQL sink: idempotent daily loads with binary COPY, and reading tables back for
//! `verify`.
//!
//! - [`copy`]: the binary COPY encoder (a [`faux::FieldVisitor`]) and the type mapping.
//! - [`ddl`]: tables, keys, indexes and foreign keys derived from the table definitions, and
//!   the check that existing tables can be loaded into.
//! - [`load`]: the parallel, per-day transactional load ([`PgLoad`]).
//! - [`read`]: a [`crate::verify::Source`] over a schema, for tables loaded by any tool.
//!
//! Loading a day is one transaction: for each table, rows that never change replace the
//! day's partition (`DELETE` of the day, then `COPY` into the table), and rows that change
//! over days go through a temporary table into `INSERT … ON CONFLICT … DO UPDATE` that keeps
//! the newest version. Loading a day twice, or days in any order, leaves the same contents.

pub mod copy;
pub mod ddl;
pub mod load;
pub mod read;

use std::str::FromStr;
use std::time::Duration;

pub use load::{DayLoaded, LoadSummary, PgLoad};
pub use read::PgSource;

/// Everything that can go wrong talking to PostgreSQL, each naming what it was about.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error(
        "invalid PostgreSQL URL {url}: {reason} (expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE)"
    )]
    Url { url: String, reason: String },
    #[error("cannot connect to PostgreSQL at {target}: {reason}")]
    Connect { target: String, reason: String },
    #[error(
        "schema {schema:?} does not exist in {target}: create it (CREATE SCHEMA {schema};) or use another schema"
    )]
    MissingSchema { schema: String, target: String },
    #[error("the schema name for {target} is empty: name a schema, such as public")]
    EmptySchema { target: String },
    #[error(
        "table {table} in {target} exists with a layout aladdin cannot load into: {}; drop the table, or load into another schema",
        problems.join("; ")
    )]
    Incompatible {
        table: String,
        target: String,
        problems: Vec<String>,
    },
    #[error(
        "another aladdin load into schema {schema:?} of {target} is running: wait for it to finish"
    )]
    Busy { schema: String, target: String },
    #[error("{what} ({target}): {reason}")]
    Sql {
        what: String,
        target: String,
        reason: String,
    },
    #[error("{0}")]
    Generate(String),
    #[error("cannot start the PostgreSQL client runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

/// A database and schema to load into or read from.
#[derive(Debug, Clone)]
pub struct PgTarget {
    config: tokio_postgres::Config,
    /// `host:port/database as user`, never the password.
    display: String,
    pub schema: String,
}

fn is_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

impl PgTarget {
    /// A target from a `postgres://` URL; the user defaults to `$USER` (as with `psql`), the
    /// host to `localhost`, the database to the user's name; `schema` defaults to `public`.
    pub fn parse(url: &str, schema: Option<&str>) -> Result<PgTarget, PgError> {
        let bad = |reason: String| PgError::Url {
            url: crate::destination::redact(url),
            reason,
        };
        if !is_url(url) {
            return Err(bad(
                "it does not start with postgres:// or postgresql://".into()
            ));
        }
        let mut config = tokio_postgres::Config::from_str(url).map_err(|e| bad(describe(&e)))?;
        if config.get_user().is_none() {
            let user = std::env::var("USER").unwrap_or_else(|_| "postgres".into());
            config.user(user);
        }
        if config.get_hosts().is_empty() {
            config.host("localhost");
        }
        if config.get_application_name().is_none() {
            // lets an operator (and the tests) tell aladdin's sessions apart
            config.application_name("aladdin");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        let host = match &config.get_hosts()[0] {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let user = config.get_user().unwrap_or_default().to_string();
        let db = config.get_dbname().unwrap_or(&user).to_string();
        let display = format!("{host}:{port}/{db} as user {user}");
        PgTarget {
            config,
            display,
            schema: "public".to_string(),
        }
        .with_schema(schema)
    }

    /// The same database in `schema` (`None`: unchanged).
    pub fn with_schema(mut self, schema: Option<&str>) -> Result<PgTarget, PgError> {
        match schema {
            Some("") => Err(PgError::EmptySchema {
                target: self.display,
            }),
            Some(s) => {
                self.schema = s.to_string();
                Ok(self)
            }
            None => Ok(self),
        }
    }

    pub fn display(&self) -> &str {
        &self.display
    }

    /// `host:port/db as user, schema S`.
    pub fn describe(&self) -> String {
        format!("{}, schema {}", self.display, self.schema)
    }

    /// Opens a connection and drives it on the current runtime.
    pub async fn connect(&self) -> Result<tokio_postgres::Client, PgError> {
        let (client, connection) =
            self.config
                .connect(tokio_postgres::NoTls)
                .await
                .map_err(|e| PgError::Connect {
                    target: self.display.clone(),
                    reason: describe(&e),
                })?;
        tokio::spawn(async move {
            // errors surface on the client's next request
            let _ = connection.await;
        });
        Ok(client)
    }

    /// An error of `what` on this target.
    pub fn sql_error(&self, what: impl Into<String>, e: &tokio_postgres::Error) -> PgError {
        PgError::Sql {
            what: what.into(),
            target: self.display.clone(),
            reason: describe(e),
        }
    }

    /// Fails with [`PgError::MissingSchema`] unless the schema exists.
    pub async fn check_schema(&self, client: &tokio_postgres::Client) -> Result<(), PgError> {
        let found = client
            .query_opt(
                "SELECT 1 FROM pg_namespace WHERE nspname = $1",
                &[&self.schema],
            )
            .await
            .map_err(|e| self.sql_error("looking up the schema", &e))?;
        match found {
            Some(_) => Ok(()),
            None => Err(PgError::MissingSchema {
                schema: self.schema.clone(),
                target: self.display.clone(),
            }),
        }
    }

    /// `"schema"."table"`.
    pub fn qualified(&self, table: &str) -> String {
        format!(
            "{}.{}",
            crate::sql::ident(&self.schema),
            crate::sql::ident(table)
        )
    }
}

/// A client error as a person wants to read it: the server's message, code, detail and hint,
/// or the I/O cause (`Connection refused`).
pub fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = format!("{} (SQLSTATE {})", db.message(), db.code().code());
        if let Some(d) = db.detail() {
            s.push_str(&format!("; {d}"));
        }
        if let Some(h) = db.hint() {
            s.push_str(&format!("; hint: {h}"));
        }
        return s;
    }
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        s.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_redaction() {
        let t = PgTarget::parse("postgres://ann:secret@db.example:6543/shop", Some("raw")).unwrap();
        assert_eq!(t.display(), "db.example:6543/shop as user ann");
        assert_eq!(t.qualified("orders"), "\"raw\".\"orders\"");
        let e = t.with_schema(Some("")).unwrap_err().to_string();
        assert!(
            e.contains("db.example:6543/shop") && e.contains("empty"),
            "{e}"
        );
        let e = PgTarget::parse("postgres://ann:secret@db:notaport/shop", None).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("postgres://ann:***@db:notaport/shop"), "{msg}");
        assert!(!msg.contains("secret"), "{msg}");
    }
}
