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
//! Modules: [`values`] (canonical values), [`files`] (reading a folder of files),
//! `fingerprint` (a row reduced to key, version, day and content digest), `compare` (the
//! truth against a source, counted per day), `examples` (the differing rows a report names),
//! `report` (what a comparison returns), [`dirty`] (grading a cleaning pipeline against the
//! defects a dirty profile planted).

mod compare;
pub mod dirty;
mod examples;
pub mod files;
mod fingerprint;
mod report;
pub mod values;

use faux::{Date, TableDef};

pub use compare::verify_table;
pub use fingerprint::{Fingerprint, Shape};
pub use report::{ColumnDiff, DayDiff, EXAMPLES_PER_KIND, Example, TableReport};
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

    /// How `table` is compared; by default as a database holds it, loaded by upsert
    /// ([`Mode::Latest`]).
    fn mode(&self, _table: &TableDef) -> Mode {
        Mode::Latest
    }

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
