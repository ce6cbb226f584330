//! The SQLite side of a [`RawLoad`](super::RawLoad): the same tables, `_day` as
//! `YYYY-MM-DD` text.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, params_from_iter};

use super::*;
use crate::sql::{ident, idents};
use crate::sqlite::SqliteError;

fn sql_error(path: &Path, what: String, e: rusqlite::Error) -> SqliteError {
    SqliteError::Sql {
        what,
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

fn prepare(
    path: &Path,
    conn: &Connection,
    tables: &[&'static TableDef],
) -> Result<(), SqliteError> {
    let wanted = raw_tables(tables);
    let mut ddl = String::new();
    for (name, cols) in &wanted {
        let mut stmt = conn
            .prepare("SELECT name, type FROM pragma_table_info(?1)")
            .map_err(|e| sql_error(path, format!("looking up table {name}"), e))?;
        let found: Vec<(String, String)> = stmt
            .query_map([name], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| sql_error(path, format!("looking up table {name}"), e))?;
        if found.is_empty() {
            let defs: Vec<String> = cols.iter().map(|c| format!("{} TEXT", ident(c))).collect();
            ddl.push_str(&format!(
                "CREATE TABLE IF NOT EXISTS {} ({});\n",
                ident(name),
                defs.join(", ")
            ));
            ddl.push_str(&raw_indexes(name, &ident(name)));
            continue;
        }
        let problems = layout_problems(cols, &found, &["TEXT"]);
        if !problems.is_empty() {
            return Err(SqliteError::Incompatible {
                table: name.clone(),
                path: path.display().to_string(),
                problems,
            });
        }
    }
    if !ddl.is_empty() {
        conn.execute_batch(&format!("BEGIN;\n{ddl}COMMIT;"))
            .map_err(|e| sql_error(path, "creating the raw tables".into(), e))?;
    }
    Ok(())
}

/// Replaces `table`'s rows of `day` (`_day`) with `rows`, delivered on `delivered`;
/// returns how many were written.
fn replace(
    path: &Path,
    tx: &rusqlite::Transaction<'_>,
    table: &'static TableDef,
    day: Date,
    delivered: Date,
    rows: Vec<Vec<Option<String>>>,
) -> Result<u64, SqliteError> {
    let what = format!("loading {} of {day} (day {delivered})", table.name);
    let (d, on) = (day.to_string(), delivered.to_string());
    tx.execute(
        &format!(
            "DELETE FROM {} WHERE {} = ?1",
            ident(table.name),
            ident(DAY_COLUMN)
        ),
        [&d],
    )
    .map_err(|e| sql_error(path, what.clone(), e))?;
    let columns = raw_columns(table);
    let mut insert = tx
        .prepare(&format!(
            "INSERT INTO {} ({}) VALUES ({})",
            ident(table.name),
            idents(&columns),
            vec!["?"; columns.len()].join(", ")
        ))
        .map_err(|e| sql_error(path, what.clone(), e))?;
    let mut n = 0;
    for r in rows {
        insert
            .execute(params_from_iter(
                r.into_iter().chain([Some(d.clone()), Some(on.clone())]),
            ))
            .map_err(|e| sql_error(path, what.clone(), e))?;
        n += 1;
    }
    Ok(n)
}

impl RawLoad<'_> {
    /// Loads every day in order into the SQLite file at `path` (created if missing);
    /// `on_day` is called as each day commits.
    pub fn run_sqlite(
        &self,
        path: &Path,
        on_day: &dyn Fn(Date),
    ) -> Result<RawSummary, SqliteError> {
        let open_err = |reason: String| SqliteError::Open {
            path: path.display().to_string(),
            reason,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| open_err(format!("cannot create {}: {e}", parent.display())))?;
        }
        let mut conn = Connection::open(path).map_err(|e| open_err(e.to_string()))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(|e| open_err(e.to_string()))?;
        let _: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| open_err(e.to_string()))?;
        let tables = self.landed();
        prepare(path, &conn, &tables)?;
        let mut summary = RawSummary::default();
        for day in self.days.days() {
            let at = |what: &str| format!("{what} (day {day})");
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(|e| sql_error(path, at("starting"), e))?;
            let d = day.to_string();
            for &table in &tables {
                // a rerun of a late partition whose correction is here already keeps it
                let corrected = match correction_of(self.scenario, table, day, self.profile) {
                    Some(c) => tx
                        .query_row(
                            &format!(
                                "SELECT EXISTS (SELECT 1 FROM {} WHERE {} = ?1 AND {} = ?2)",
                                ident(table.name),
                                ident(DAY_COLUMN),
                                ident(DELIVERED_COLUMN)
                            ),
                            [&d, &c.to_string()],
                            |r| r.get::<_, bool>(0),
                        )
                        .map_err(|e| {
                            sql_error(
                                path,
                                at(&format!("looking up the deliveries of {}", table.name)),
                                e,
                            )
                        })?
                        .then_some(c),
                    None => None,
                };
                let (delivery, delivered) = match corrected {
                    Some(c) => (Delivery::Corrected, c),
                    None => (Delivery::First, day),
                };
                let (rows, planted) = day_rows(self.scenario, table, day, self.profile, delivery);
                summary.rows += replace(path, &tx, table, day, delivered, rows)?;
                // the late partitions this day corrects, when their first delivery is here
                for late in corrects(self.scenario, table, day, self.profile) {
                    let held: bool = tx
                        .query_row(
                            &format!(
                                "SELECT EXISTS (SELECT 1 FROM {} WHERE \"table\" = ?1 \
                                 AND day = ?2 AND kind = ?3)",
                                ident(DEFECTS_TABLE)
                            ),
                            rusqlite::params![
                                table.name,
                                late.to_string(),
                                DefectKind::LateFile.name()
                            ],
                            |r| r.get(0),
                        )
                        .map_err(|e| {
                            sql_error(
                                path,
                                at(&format!(
                                    "looking up the late file {} of {late}",
                                    table.name
                                )),
                                e,
                            )
                        })?;
                    if held {
                        let (rows, _) = day_rows(
                            self.scenario,
                            table,
                            late,
                            self.profile,
                            Delivery::Corrected,
                        );
                        summary.rows += replace(path, &tx, table, late, day, rows)?;
                    }
                }
                let what = at("writing the defects manifest");
                tx.execute(
                    &format!(
                        "DELETE FROM {} WHERE day = ?1 AND \"table\" = ?2",
                        ident(DEFECTS_TABLE)
                    ),
                    rusqlite::params![d, table.name],
                )
                .map_err(|e| sql_error(path, what.clone(), e))?;
                let mut insert = tx
                    .prepare(&format!(
                        "INSERT INTO {} ({}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        ident(DEFECTS_TABLE),
                        idents(DEFECT_COLUMNS)
                    ))
                    .map_err(|e| sql_error(path, what.clone(), e))?;
                for defect in &planted {
                    insert
                        .execute(params_from_iter(defect_cells(defect)))
                        .map_err(|e| sql_error(path, what.clone(), e))?;
                }
                summary.defects += planted.len() as u64;
            }
            tx.commit()
                .map_err(|e| sql_error(path, at("committing"), e))?;
            summary.days += 1;
            on_day(day);
        }
        Ok(summary)
    }
}
