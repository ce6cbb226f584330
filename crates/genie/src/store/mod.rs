//! The store: one table per resource (derived from the faux table definitions), the retained
//! change feed, API keys and the virtual clock — in an embedded SQLite file (the default) or
//! in PostgreSQL (`--database-url`, schema `genie`). [`Backend`] is the only place the two
//! differ; the SQL is shared (written with `$N` placeholders, which SQLite reads as `?N`).
//!
//! Layout, chosen for size:
//! - time-keyed tables (the clickstream: millions of events in 90 days) are not stored at all:
//!   `on_read` regenerates a day of them from the engine when a read needs it; the store keeps
//!   each finished day's row count (`window_days`) and the feed's records.
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
//!
//! Modules, one concept each: `schema` (resources and their DDL), `capture` (change
//! records → [`Pending`] rows, applied), `queries` (lists, rows, children, the feed),
//! `on_read` (the regenerated days of time-keyed tables),
//! `keys` (API keys), `dirt` (`--dirty`: defects planted as rows are captured, and
//! their manifest), `backend` (SQLite / PostgreSQL connections and transactions),
//! `sqlite_rows` (a list page's rows read straight from SQLite's statement) and
//! `clock_state` (how far the feed is applied).

mod backend;
mod capture;
mod clock_state;
mod dirt;
mod keys;
mod on_read;
mod queries;
mod schema;
mod sqlite_rows;

use std::path::PathBuf;

pub use backend::{Arg, Backend, Conn, PG_SCHEMA, Pg, PgClient, limit_malloc_arenas};
pub use capture::{Pending, StateSink, capture, day_changes, decimal_text};
pub use clock_state::ClockState;
pub use dirt::{MANIFEST_FILE, ManifestEntry, WindowDay};
pub use keys::{ApiKey, KEY_CACHE_TTL, hash_key, now_rfc3339};
pub use queries::{Change, Filters, ListQuery, Page, PageRow};
pub use schema::{Resource, render, resources, schema_sql};

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
    #[error(
        "the store in {location} was filled with --dirty {stored}, not {wanted}: use another --data-dir or --database-url (or --dirty {stored})"
    )]
    DirtyMismatch {
        location: String,
        stored: String,
        wanted: String,
    },
    #[error("random number generator: {0}")]
    Random(String),
    #[error("the store has no clock: its first fill has not finished")]
    NotFilled,
    #[error(
        "the store in {location} was made by an earlier genie (model version {}; this one is {wanted}), whose rows differ: delete it or use another --data-dir or --database-url",
        stored.map_or("1 or 2".to_string(), |v| v.to_string())
    )]
    OutdatedStore {
        location: String,
        stored: Option<i64>,
        wanted: i64,
    },
    #[error("no API key with id {0}")]
    UnknownKey(i64),
    #[error("unknown scope {scope:?}: a key takes {valid}")]
    UnknownScope { scope: String, valid: String },
}

#[derive(Debug)]
pub struct Store {
    /// Where the data lives, for messages (`genie-data/genie.sqlite`, or host/db/schema).
    pub location: String,
    /// The bound scenario's tables ([`Store::bind_scenario`]); none before.
    resources: std::sync::OnceLock<Vec<Resource>>,
    /// Counts for page and offset modes, per snapshot.
    counts: queries::Counts,
    /// API keys read recently ([`Store::cached_key`]).
    keys: keys::KeyCache,
    /// The time-keyed tables' days, regenerated on read.
    on_read: on_read::OnRead,
    backend: Backend,
}

impl Store {
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
}
