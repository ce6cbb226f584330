//! Dirty data straight into a database (`aladdin generate --dirty P --out postgres://…|sqlite://…`):
//! the daily extracts with their defects, landed as a careless loader lands them.
//!
//! Layout (why): a dirty row does not fit the typed tables — an exact duplicate breaks the
//! primary key, `PAID` is not an accepted status, `john at example.com` is no email, a `null`
//! may sit where a cleaner must restore a value — so each table is *raw*: every column `text`
//! (nullable), no keys, plus `_day` (the extract the row came from, as a loader records its
//! source file). Values are the CSV cells' text (decimals at their scale, RFC 3339 UTC
//! timestamps), exactly what the defects manifest names. The manifest is the table `_defects`
//! (`table`, `day`, `key`, `column`, `kind`, `clean`, `dirty`, `corrected_on`, as in
//! `OUT/_defects/…jsonl`). With the shop's customers, the legacy export lands too, as
//! `legacy_customers_export` (its cells as its file holds them; no encoding in a database, so
//! only its `mixed_timestamp` defects).
//!
//! Late files, as the files have them: day D's rows land as first delivered (a late
//! partition misses rows or holds a stale amount), and the load of D's correction day C
//! replaces them (`_day = D`) with the corrected partition. `_delivered_on` names the day
//! whose load wrote a row (C for a corrected one), so an incremental reader of
//! `_delivered_on > last` sees the correction where one of `_day > last` does not.
//!
//! A day is one transaction: each table's rows of that `_day` and its `_defects` rows are
//! deleted, then inserted again, and the partitions that day corrects are replaced, so a
//! rerun (of a day, of an overlapping range) leaves the same contents, a daily job ends as a
//! range run, and a failure leaves the days already committed whole.

use std::convert::Infallible;

use faux::dirty::{Defect, DefectKind, Delivery, OwnedRow, Profile, legacy};
use faux::{Date, DateRange, Row, RowSink, Scenario, Shard, TableDef};

/// The column of each raw table naming the daily extract (partition) the row belongs to.
pub const DAY_COLUMN: &str = "_day";
/// The column of each raw table naming the day whose load wrote the row: its `_day`, or the
/// correction day of a late partition rewritten then.
pub const DELIVERED_COLUMN: &str = "_delivered_on";
/// The table of the defects manifest.
pub const DEFECTS_TABLE: &str = "_defects";
/// The columns of [`DEFECTS_TABLE`], in order (`day` and `corrected_on` are dates in
/// PostgreSQL).
pub const DEFECT_COLUMNS: [&str; 8] = [
    "table",
    "day",
    "key",
    "column",
    "kind",
    "clean",
    "dirty",
    "corrected_on",
];

/// Whether `column` of `table` is a date in PostgreSQL (every other column is text).
fn is_date(table: &str, column: &str) -> bool {
    if table == DEFECTS_TABLE {
        column == "day" || column == "corrected_on"
    } else {
        column == DAY_COLUMN || column == DELIVERED_COLUMN
    }
}

/// The columns of `table`'s raw table, in order: its own, `_day`, `_delivered_on`.
fn raw_columns(table: &TableDef) -> Vec<&'static str> {
    let mut cols: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
    cols.extend([DAY_COLUMN, DELIVERED_COLUMN]);
    cols
}

/// The days before `day` whose late partition of `table` the load of `day` replaces with its
/// correction: those [`faux::dirty::late::rewritten_on`] names. (Whether the schema holds the
/// first delivery is the caller's to check.)
fn corrects(
    scenario: &Scenario,
    table: &'static TableDef,
    day: Date,
    profile: Profile,
) -> Vec<Date> {
    if profile == Profile::Off {
        return Vec::new();
    }
    faux::dirty::late::rewritten_on(scenario.seed(), profile, table, day)
}

/// The correction day of `table`'s partition of `day`, when it is a late file.
fn correction_of(
    scenario: &Scenario,
    table: &'static TableDef,
    day: Date,
    profile: Profile,
) -> Option<Date> {
    if profile == Profile::Off {
        return None;
    }
    faux::dirty::late::corrected_on(scenario.seed(), profile, table, day)
}

/// One dirty load.
#[derive(Debug)]
pub struct RawLoad<'a> {
    pub scenario: &'a Scenario,
    pub tables: Vec<&'static TableDef>,
    pub days: DateRange,
    pub profile: Profile,
}

/// What a load wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RawSummary {
    pub days: u64,
    pub rows: u64,
    pub defects: u64,
}

impl RawLoad<'_> {
    /// The tables landed: those asked for, and with the shop's customers the legacy export
    /// (`legacy_customers_export`) when the load is dirty.
    pub fn landed(&self) -> Vec<&'static TableDef> {
        let mut tables = self.tables.clone();
        let customers = legacy::source_table(self.scenario);
        if self.profile != Profile::Off
            && customers.is_some_and(|c| tables.iter().any(|t| std::ptr::eq(*t, c)))
        {
            tables.push(&legacy::LEGACY_CUSTOMERS);
        }
        tables
    }
}

/// A day's dirty rows of `table` as `delivery` (a late partition's first delivery misses
/// rows or holds a stale amount) as the text of their cells (`None`: null), and the defects
/// planted in them — the same rows and manifest `generate --dirty` writes to files (a
/// `late_file` is recorded whichever the delivery). The legacy export's rows are its file's
/// cells (the mixed timestamps, a null as empty text); its encoding defects are of a file
/// and do not apply to a database, so only its `mixed_timestamp` defects are recorded.
pub fn day_rows(
    scenario: &Scenario,
    table: &'static TableDef,
    day: Date,
    profile: Profile,
    delivery: Delivery,
) -> (Vec<Vec<Option<String>>>, Vec<Defect>) {
    if legacy::is_legacy(table) {
        return legacy::export_rows(scenario, day, profile).map_or_else(
            Default::default,
            |(rows, defects)| {
                let rows = rows
                    .into_iter()
                    .map(|r| r.into_iter().map(Some).collect())
                    .collect();
                (rows, defects)
            },
        );
    }
    struct Cells(&'static TableDef, Vec<Vec<Option<String>>>);
    impl RowSink for Cells {
        type Error = Infallible;
        fn row<R: Row>(&mut self, row: &R) -> Result<(), Infallible> {
            let owned = OwnedRow::capture(self.0, row);
            let cells = owned
                .0
                .iter()
                .zip(self.0.columns)
                .map(|(v, c)| v.render(c.ty))
                .collect();
            self.1.push(cells);
            Ok(())
        }
    }
    let mut cells = Cells(table, Vec::new());
    let mut defects = Vec::new();
    let Ok(()) = faux::dirty::generate_file(
        scenario,
        table,
        day,
        Shard::ALL,
        profile,
        delivery,
        &mut cells,
        &mut defects,
    );
    (cells.1, defects)
}

/// A manifest record as the cells of a [`DEFECTS_TABLE`] row.
fn defect_cells(d: &Defect) -> [Option<String>; 8] {
    [
        Some(d.table.to_string()),
        Some(d.day.to_string()),
        Some(d.key.clone()),
        d.column.map(str::to_string),
        Some(d.kind.name().to_string()),
        d.clean.clone(),
        d.dirty.clone(),
        d.corrected_on.map(|c| c.to_string()),
    ]
}

/// The problems of an existing table's columns (name, declared type) for a raw table of
/// `columns`: a typed table (a clean load) cannot take dirty rows.
fn layout_problems(expected: &[&str], found: &[(String, String)], text: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    for name in expected {
        match found.iter().find(|(n, _)| n == name) {
            None if [DELIVERED_COLUMN, "corrected_on"].contains(name) => problems.push(format!(
                "column {name} is missing (raw tables of an older aladdin, which landed late \
                 files corrected at once: load into a new schema or database, or drop them)"
            )),
            None => problems.push(format!("column {name} is missing")),
            Some((_, ty)) if !text.iter().any(|t| ty.eq_ignore_ascii_case(t)) => problems.push(
                format!("column {name} is {ty}, a raw table's columns are text (a typed, clean load is there?)"),
            ),
            Some(_) => {}
        }
    }
    for (n, _) in found {
        if !expected.contains(&n.as_str()) {
            problems.push(format!("column {n} is not one of the table's"));
        }
    }
    problems
}

#[cfg(feature = "postgres")]
pub mod pg {
    //! The PostgreSQL side of a [`RawLoad`](super::RawLoad).

    use bytes::Bytes;
    use futures_util::SinkExt;

    use super::*;
    use crate::postgres::{PgError, PgTarget};
    use crate::sql::ident;

    /// Appends `cells` as one line of COPY's text format (tab-separated, `\N` for null).
    fn copy_line(out: &mut Vec<u8>, cells: impl IntoIterator<Item = Option<String>>) {
        for (i, c) in cells.into_iter().enumerate() {
            if i > 0 {
                out.push(b'\t');
            }
            match c {
                None => out.extend_from_slice(b"\\N"),
                Some(s) => {
                    for b in s.bytes() {
                        match b {
                            b'\\' => out.extend_from_slice(b"\\\\"),
                            b'\t' => out.extend_from_slice(b"\\t"),
                            b'\n' => out.extend_from_slice(b"\\n"),
                            b'\r' => out.extend_from_slice(b"\\r"),
                            _ => out.push(b),
                        }
                    }
                }
            }
        }
        out.push(b'\n');
    }

    async fn columns_of(
        target: &PgTarget,
        client: &tokio_postgres::Client,
        table: &str,
    ) -> Result<Vec<(String, String)>, PgError> {
        let rows = client
            .query(
                "SELECT column_name::text, data_type::text FROM information_schema.columns \
                 WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
                &[&target.schema, &table],
            )
            .await
            .map_err(|e| target.sql_error(format!("looking up table {table}"), &e))?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Checks or creates the raw tables and `_defects`.
    async fn prepare(
        target: &PgTarget,
        client: &tokio_postgres::Client,
        tables: &[&'static TableDef],
    ) -> Result<(), PgError> {
        let mut wanted: Vec<(String, Vec<&str>)> = tables
            .iter()
            .map(|t| (t.name.to_string(), raw_columns(t)))
            .collect();
        wanted.push((DEFECTS_TABLE.to_string(), DEFECT_COLUMNS.to_vec()));
        let mut ddl = String::new();
        for (name, cols) in &wanted {
            let found = columns_of(target, client, name).await?;
            if found.is_empty() {
                let defs: Vec<String> = cols
                    .iter()
                    .map(|c| {
                        let ty = match (is_date(name, c), *c == "corrected_on") {
                            (true, false) => "date NOT NULL",
                            (true, true) => "date",
                            _ => "text",
                        };
                        format!("{} {ty}", ident(c))
                    })
                    .collect();
                ddl.push_str(&format!(
                    "CREATE TABLE IF NOT EXISTS {} ({});\n",
                    target.qualified(name),
                    defs.join(", ")
                ));
                let day = if name == DEFECTS_TABLE {
                    "day"
                } else {
                    DAY_COLUMN
                };
                ddl.push_str(&format!(
                    "CREATE INDEX IF NOT EXISTS {} ON {} ({});\n",
                    ident(&format!("{name}_by_day")),
                    target.qualified(name),
                    ident(day)
                ));
                if name != DEFECTS_TABLE {
                    // what an incremental reader of the corrections filters on
                    ddl.push_str(&format!(
                        "CREATE INDEX IF NOT EXISTS {} ON {} ({});\n",
                        ident(&format!("{name}_by_delivery")),
                        target.qualified(name),
                        ident(DELIVERED_COLUMN)
                    ));
                }
                continue;
            }
            // the days are dates: every other column is text
            let (text_cols, date_cols): (Vec<&str>, Vec<&str>) =
                cols.iter().copied().partition(|c| !is_date(name, c));
            let mut problems = layout_problems(
                &text_cols,
                &found
                    .iter()
                    .filter(|(n, _)| !date_cols.contains(&n.as_str()))
                    .cloned()
                    .collect::<Vec<_>>(),
                &["text", "character varying"],
            );
            problems.extend(layout_problems(
                &date_cols,
                &found
                    .iter()
                    .filter(|(n, _)| date_cols.contains(&n.as_str()))
                    .cloned()
                    .collect::<Vec<_>>(),
                &["date"],
            ));
            if !problems.is_empty() {
                return Err(PgError::Incompatible {
                    table: name.clone(),
                    target: target.describe(),
                    problems,
                });
            }
        }
        if !ddl.is_empty() {
            client
                .batch_execute(&format!("BEGIN;\n{ddl}COMMIT;"))
                .await
                .map_err(|e| target.sql_error("creating the raw tables", &e))?;
        }
        Ok(())
    }

    /// Replaces `table`'s rows of `day` (`_day`) with `rows`, delivered on `delivered`;
    /// returns how many were written.
    async fn replace(
        target: &PgTarget,
        client: &tokio_postgres::Client,
        table: &'static TableDef,
        day: Date,
        delivered: Date,
        rows: Vec<Vec<Option<String>>>,
    ) -> Result<u64, PgError> {
        let at = |what: &str| format!("{what} {} of {day} (day {delivered})", table.name);
        client
            .execute(
                &format!(
                    "DELETE FROM {} WHERE {} = $1::text::date",
                    target.qualified(table.name),
                    ident(DAY_COLUMN)
                ),
                &[&day.to_string()],
            )
            .await
            .map_err(|e| target.sql_error(at("replacing"), &e))?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut data = Vec::new();
        let (d, on) = (day.to_string(), delivered.to_string());
        for r in rows {
            copy_line(
                &mut data,
                r.into_iter().chain([Some(d.clone()), Some(on.clone())]),
            );
        }
        copy(
            target,
            client,
            table.name,
            &raw_columns(table),
            data,
            &at("copying"),
        )
        .await
    }

    /// Whether the schema holds `table`'s first delivery of the late partition of `day`
    /// (its `late_file` defects): what a correction replaces.
    async fn holds_late(
        target: &PgTarget,
        client: &tokio_postgres::Client,
        table: &'static TableDef,
        day: Date,
    ) -> Result<bool, PgError> {
        let row = client
            .query_one(
                &format!(
                    "SELECT EXISTS (SELECT 1 FROM {} WHERE \"table\" = $1 AND day = $2::text::date \
                     AND kind = $3)",
                    target.qualified(DEFECTS_TABLE)
                ),
                &[&table.name, &day.to_string(), &DefectKind::LateFile.name()],
            )
            .await
            .map_err(|e| {
                target.sql_error(
                    format!("looking up the late file {} of {day}", table.name),
                    &e,
                )
            })?;
        Ok(row.get(0))
    }

    /// Whether `table` holds rows of `day` delivered on `on`.
    async fn delivered_on(
        target: &PgTarget,
        client: &tokio_postgres::Client,
        table: &'static TableDef,
        day: Date,
        on: Date,
    ) -> Result<bool, PgError> {
        let row = client
            .query_one(
                &format!(
                    "SELECT EXISTS (SELECT 1 FROM {} WHERE {} = $1::text::date AND {} = $2::text::date)",
                    target.qualified(table.name),
                    ident(DAY_COLUMN),
                    ident(DELIVERED_COLUMN)
                ),
                &[&day.to_string(), &on.to_string()],
            )
            .await
            .map_err(|e| target.sql_error(format!("looking up the deliveries of {} of {day}", table.name), &e))?;
        Ok(row.get(0))
    }

    async fn copy(
        target: &PgTarget,
        client: &tokio_postgres::Client,
        table: &str,
        columns: &[&str],
        data: Vec<u8>,
        what: &str,
    ) -> Result<u64, PgError> {
        let sql = format!(
            "COPY {} ({}) FROM STDIN",
            target.qualified(table),
            crate::sql::idents(columns)
        );
        let sink = client
            .copy_in::<_, Bytes>(sql.as_str())
            .await
            .map_err(|e| target.sql_error(what, &e))?;
        futures_util::pin_mut!(sink);
        sink.send(Bytes::from(data))
            .await
            .map_err(|e| target.sql_error(what, &e))?;
        sink.finish().await.map_err(|e| target.sql_error(what, &e))
    }

    impl RawLoad<'_> {
        /// Loads every day in order into `target`'s schema (it must exist); `on_day` is
        /// called as each day commits.
        pub fn run_pg(
            &self,
            target: &PgTarget,
            on_day: &dyn Fn(Date),
        ) -> Result<RawSummary, PgError> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(self.load_pg(target, on_day))
        }

        async fn load_pg(
            &self,
            target: &PgTarget,
            on_day: &dyn Fn(Date),
        ) -> Result<RawSummary, PgError> {
            let client = target.connect().await?;
            target.check_schema(&client).await?;
            crate::postgres::ddl::lock(target, &client).await?;
            let tables = self.landed();
            prepare(target, &client, &tables).await?;
            let names: Vec<String> = tables.iter().map(|t| t.name.to_string()).collect();
            let mut summary = RawSummary::default();
            for day in self.days.days() {
                let at = |what: &str| format!("{what} (day {day})");
                client
                    .batch_execute("BEGIN")
                    .await
                    .map_err(|e| target.sql_error(at("starting"), &e))?;
                let mut manifest = Vec::new();
                let mut defects = 0u64;
                for &table in &tables {
                    // a rerun of a late partition whose correction is here already keeps it
                    let (delivery, delivered) =
                        match correction_of(self.scenario, table, day, self.profile) {
                            Some(c) if delivered_on(target, &client, table, day, c).await? => {
                                (Delivery::Corrected, c)
                            }
                            _ => (Delivery::First, day),
                        };
                    let (rows, planted) =
                        day_rows(self.scenario, table, day, self.profile, delivery);
                    summary.rows += replace(target, &client, table, day, delivered, rows).await?;
                    // the late partitions this day corrects, when their first delivery is here
                    for late in corrects(self.scenario, table, day, self.profile) {
                        if holds_late(target, &client, table, late).await? {
                            let (rows, _) = day_rows(
                                self.scenario,
                                table,
                                late,
                                self.profile,
                                Delivery::Corrected,
                            );
                            summary.rows +=
                                replace(target, &client, table, late, day, rows).await?;
                        }
                    }
                    for d in &planted {
                        copy_line(&mut manifest, defect_cells(d));
                    }
                    defects += planted.len() as u64;
                }
                client
                    .execute(
                        &format!(
                            "DELETE FROM {} WHERE day = $1::text::date AND \"table\" = ANY($2)",
                            target.qualified(DEFECTS_TABLE)
                        ),
                        &[&day.to_string(), &names],
                    )
                    .await
                    .map_err(|e| target.sql_error(at("replacing the defects manifest"), &e))?;
                if defects > 0 {
                    copy(
                        target,
                        &client,
                        DEFECTS_TABLE,
                        &DEFECT_COLUMNS,
                        manifest,
                        &at("writing the defects manifest"),
                    )
                    .await?;
                }
                client
                    .batch_execute("COMMIT")
                    .await
                    .map_err(|e| target.sql_error(at("committing"), &e))?;
                summary.days += 1;
                summary.defects += defects;
                on_day(day);
            }
            crate::postgres::ddl::release(target, &client).await?;
            Ok(summary)
        }
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn copy_text_escapes_what_copy_reads_specially() {
            let mut out = Vec::new();
            super::copy_line(
                &mut out,
                [Some("a\tb\\c\nd".to_string()), None, Some(String::new())],
            );
            assert_eq!(out, b"a\\tb\\\\c\\nd\t\\N\t\n");
        }
    }
}

#[cfg(feature = "sqlite")]
pub mod sqlite {
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
        let mut wanted: Vec<(String, Vec<&str>)> = tables
            .iter()
            .map(|t| (t.name.to_string(), raw_columns(t)))
            .collect();
        wanted.push((DEFECTS_TABLE.to_string(), DEFECT_COLUMNS.to_vec()));
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
                let day = if name == DEFECTS_TABLE {
                    "day"
                } else {
                    DAY_COLUMN
                };
                ddl.push_str(&format!(
                    "CREATE TABLE IF NOT EXISTS {} ({});\nCREATE INDEX IF NOT EXISTS {} ON {} ({});\n",
                    ident(name),
                    defs.join(", "),
                    ident(&format!("{name}_by_day")),
                    ident(name),
                    ident(day)
                ));
                if name != DEFECTS_TABLE {
                    // what an incremental reader of the corrections filters on
                    ddl.push_str(&format!(
                        "CREATE INDEX IF NOT EXISTS {} ON {} ({});\n",
                        ident(&format!("{name}_by_delivery")),
                        ident(name),
                        ident(DELIVERED_COLUMN)
                    ));
                }
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
                    let (rows, planted) =
                        day_rows(self.scenario, table, day, self.profile, delivery);
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
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows and manifest of a day are those `generate --dirty` writes to files: the same
    /// planting, so a day loaded alone is the day of a range.
    #[test]
    fn day_rows_carry_the_defects_the_manifest_names() {
        let s = Scenario::by_name("ecommerce", 7).unwrap();
        let table = s.table("orders").unwrap();
        let day: Date = "2020-01-03".parse().unwrap();
        let (rows, defects) = day_rows(&s, table, day, Profile::Nasty, Delivery::Corrected);
        let in_files = faux::dirty::defects(&s, table, day, Profile::Nasty);
        assert_eq!(defects, in_files);
        assert!(!defects.is_empty());
        let (clean, none) = day_rows(&s, table, day, Profile::Off, Delivery::First);
        assert!(none.is_empty());
        assert!(rows.len() > clean.len(), "copies and orphans add rows");
        let status = table
            .columns
            .iter()
            .position(|c| c.name == "status")
            .unwrap();
        for d in defects.iter().filter(|d| d.column == Some("status")) {
            assert!(
                rows.iter()
                    .any(|r| r[0].as_deref() == Some(d.key.as_str()) && r[status] == d.dirty)
            );
        }
    }

    /// A late partition's first delivery misses rows or holds stale amounts where its
    /// correction does not; both record the same manifest, with the correction day.
    #[test]
    fn a_late_partitions_first_delivery_differs_from_its_correction() {
        let s = Scenario::by_name("ecommerce", 7).unwrap();
        let table = s.table("orders").unwrap();
        let start: Date = "2020-01-01".parse().unwrap();
        let (day, corrected) = (0..60)
            .map(|i| start.add_days(i))
            .filter(|&d| {
                faux::dirty::defects(&s, table, d, Profile::Nasty)
                    .iter()
                    .any(|x| x.kind == DefectKind::LateFile)
            })
            .find_map(|d| {
                faux::dirty::late::corrected_on(7, Profile::Nasty, table, d).map(|c| (d, c))
            })
            .expect("a late partition with wrong rows in 60 nasty days");
        assert!(corrects(&s, table, corrected, Profile::Nasty).contains(&day));
        assert!(corrects(&s, table, corrected, Profile::Off).is_empty());
        let (first, early) = day_rows(&s, table, day, Profile::Nasty, Delivery::First);
        let (fixed, late) = day_rows(&s, table, day, Profile::Nasty, Delivery::Corrected);
        assert_eq!(early, late);
        let wrong: Vec<&Defect> = late
            .iter()
            .filter(|d| d.kind == DefectKind::LateFile)
            .collect();
        assert!(wrong.iter().all(|d| d.corrected_on == Some(corrected)));
        let missing = wrong.iter().filter(|d| d.column.is_none()).count();
        assert_eq!(fixed.len() - first.len(), missing);
        assert_ne!(first, fixed);
        assert_eq!(defect_cells(wrong[0])[7], Some(corrected.to_string()));
    }

    #[test]
    fn a_typed_table_is_refused_naming_the_column() {
        let found = vec![
            ("id".to_string(), "uuid".to_string()),
            ("extra".to_string(), "text".to_string()),
        ];
        let p = layout_problems(&["id", "status"], &found, &["text"]);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("id is uuid"), "{p:?}");
        assert!(p[1].contains("status is missing"), "{p:?}");
        assert!(p[2].contains("extra"), "{p:?}");
        // a raw table of an older version: told why
        let found = vec![("id".to_string(), "text".to_string())];
        let p = layout_problems(&["id", DELIVERED_COLUMN], &found, &["text"]);
        assert!(
            p[0].contains("_delivered_on is missing (raw tables of an older"),
            "{p:?}"
        );
    }
}
