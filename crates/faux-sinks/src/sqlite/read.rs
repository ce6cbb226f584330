//! Reading a SQLite file back for `verify`: tables by column name, values by their storage
//! class (integer, real, text, blob) canonicalised by the column's logical type.

use std::path::{Path, PathBuf};

use faux::{Date, TableDef};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::SqliteError;
use crate::sql::ident;
use crate::verify::{Raw, Source, Val, VerifyError, canonical, column_positions};

#[derive(Debug)]
pub struct SqliteSource {
    path: PathBuf,
    conn: Connection,
}

impl SqliteSource {
    /// Opens an existing file, read-only.
    pub fn open(path: &Path) -> Result<SqliteSource, SqliteError> {
        let err = |reason: String| SqliteError::Open {
            path: path.display().to_string(),
            reason,
        };
        if !path.is_file() {
            return Err(err("no such file".into()));
        }
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| err(e.to_string()))?;
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(|e| err(e.to_string()))?;
        Ok(SqliteSource {
            path: path.to_path_buf(),
            conn,
        })
    }
}

impl Source for SqliteSource {
    fn describe(&self) -> String {
        format!("SQLite {}", self.path.display())
    }

    fn read(
        &mut self,
        table: &'static TableDef,
        _: Option<(Date, Date)>,
        row: &mut dyn FnMut(Result<Vec<Val>, String>),
    ) -> Result<(), VerifyError> {
        let read_err = |e: rusqlite::Error| {
            VerifyError::Read(format!(
                "reading {} from {}: {e}",
                table.name,
                self.path.display()
            ))
        };
        let columns: Vec<String> = self
            .conn
            .prepare(&format!("PRAGMA table_info({})", ident(table.name)))
            .and_then(|mut s| {
                s.query_map([], |r| r.get::<_, String>(1))
                    .and_then(|rows| rows.collect())
            })
            .map_err(read_err)?;
        if columns.is_empty() {
            return Err(VerifyError::TableMissing {
                table: table.name.to_string(),
                place: self.describe(),
            });
        }
        column_positions(table, &columns)?;
        let select: Vec<String> = table.columns.iter().map(|c| ident(c.name)).collect();
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {} FROM {}",
                select.join(", "),
                ident(table.name)
            ))
            .map_err(read_err)?;
        let mut rows = stmt.query([]).map_err(read_err)?;
        while let Some(r) = rows.next().map_err(read_err)? {
            let values = table
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let v = r.get_ref(i).map_err(|e| e.to_string())?;
                    let text;
                    let raw = match v {
                        ValueRef::Null => Raw::Null,
                        ValueRef::Integer(i) => Raw::Int(i),
                        ValueRef::Real(f) => Raw::Float(f),
                        ValueRef::Text(t) => {
                            text = String::from_utf8_lossy(t);
                            Raw::Text(&text)
                        }
                        ValueRef::Blob(b) => Raw::Bytes(b),
                    };
                    canonical(c.ty, raw).map_err(|e| format!("{}: {e}", c.name))
                })
                .collect();
            row(values);
        }
        Ok(())
    }
}
