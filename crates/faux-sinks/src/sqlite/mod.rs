//! The SQLite sink: the PostgreSQL sink's semantics in one file — tables derived from the
//! definitions, one transaction per day, rows that never change replacing their day's
//! partition, rows that change upserting with the newest version kept — and a reader for
//! `verify`.
//!
//! - [`load`]: the day-by-day load ([`SqliteLoad`]).
//! - [`read`]: a [`crate::verify::Source`] over a SQLite file.
//!
//! Storage: text, UUIDs (hyphenated, or 32 hex digits for hex ids), dates (`YYYY-MM-DD`) and
//! timestamps (RFC 3339 UTC, which sort as text) are `TEXT`; integers and booleans (0/1) are
//! `INTEGER`; decimals are `NUMERIC(p,s)` holding the nearest double — SQLite has no exact
//! decimal, and a double holds every cent value up to 2^53 cents exactly once rounded.

pub mod load;
pub mod read;

use std::path::PathBuf;

use faux::{LogicalType, TableDef};

use crate::sql::{Dialect, ident};

pub use load::{SqliteLoad, SqliteSummary};
pub use read::SqliteSource;

#[derive(Debug, thiserror::Error)]
pub enum SqliteError {
    #[error(
        "invalid SQLite URL {url}: {reason} (expected sqlite://relative/path.db or sqlite:///absolute/path.db)"
    )]
    Url { url: String, reason: String },
    #[error("cannot open SQLite database {path}: {reason}")]
    Open { path: String, reason: String },
    #[error(
        "table {table} in {path} exists with a layout aladdin cannot load into: {}; drop the table, or load into another file",
        problems.join("; ")
    )]
    Incompatible {
        table: String,
        path: String,
        problems: Vec<String>,
    },
    #[error("{what} ({path}): {reason}")]
    Sql {
        what: String,
        path: String,
        reason: String,
    },
    #[error("{0}")]
    Generate(String),
}

/// The file of a `sqlite://` URL: `sqlite://data/shop.db` is relative, `sqlite:///tmp/x.db`
/// absolute.
pub fn path_of(url: &str) -> Result<PathBuf, SqliteError> {
    let bad = |reason: &str| SqliteError::Url {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let rest = url
        .strip_prefix("sqlite://")
        .ok_or_else(|| bad("it does not start with sqlite://"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.ends_with('/') {
        return Err(bad("no file name"));
    }
    Ok(PathBuf::from(path))
}

/// SQLite's type affinity of a declared type (its documented rules, in order).
fn affinity(declared: &str) -> &'static str {
    let d = declared.to_ascii_uppercase();
    if d.contains("INT") {
        "INTEGER"
    } else if d.contains("CHAR") || d.contains("CLOB") || d.contains("TEXT") {
        "TEXT"
    } else if d.contains("BLOB") || d.is_empty() {
        "BLOB"
    } else if d.contains("REAL") || d.contains("FLOA") || d.contains("DOUB") {
        "REAL"
    } else {
        "NUMERIC"
    }
}

/// Whether a column declared `declared` keeps our values of `ty` as we bind them: text in a
/// numeric column would be converted (`"0123"` → 123), numbers in a text column too.
fn type_problem(ty: LogicalType, declared: &str) -> Option<String> {
    let a = affinity(declared);
    let ok = match ty {
        LogicalType::Int | LogicalType::Bool | LogicalType::Decimal { .. } => {
            matches!(a, "INTEGER" | "NUMERIC" | "REAL" | "BLOB")
        }
        _ => matches!(a, "TEXT" | "BLOB"),
    };
    (!ok).then(|| {
        format!(
            "column is declared {declared:?} ({a} affinity), expected {}",
            Dialect::Sqlite.column_type(ty)
        )
    })
}

/// `CREATE TABLE` for `table`, with the foreign keys among `fks` that start from it.
pub(crate) fn create_table(table: &TableDef, fks: &[crate::sql::ForeignKey]) -> String {
    let mut t = Dialect::Sqlite.create_table(&ident(table.name), table);
    t.if_not_exists();
    for fk in fks.iter().filter(|f| std::ptr::eq(f.table, table)) {
        t.constraint(fk.constraint(&ident(fk.parent.name)));
    }
    t.sql()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_types() {
        assert_eq!(
            path_of("sqlite://data/x.db").unwrap(),
            PathBuf::from("data/x.db")
        );
        assert_eq!(
            path_of("sqlite:///tmp/x.db").unwrap(),
            PathBuf::from("/tmp/x.db")
        );
        assert!(path_of("sqlite://").is_err());
        assert_eq!(affinity("NUMERIC(12,2)"), "NUMERIC");
        assert_eq!(affinity("varchar(20)"), "TEXT");
        assert!(type_problem(LogicalType::Text, "INTEGER").is_some());
        assert!(type_problem(LogicalType::Int, "TEXT").is_some());
        assert_eq!(type_problem(LogicalType::Timestamp, "TEXT"), None);
    }
}
