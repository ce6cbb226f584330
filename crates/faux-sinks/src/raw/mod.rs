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

use crate::sql::ident;

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

/// The tables a raw load writes, each with its columns in order: the selected tables, then
/// [`DEFECTS_TABLE`].
fn raw_tables(tables: &[&'static TableDef]) -> Vec<(String, Vec<&'static str>)> {
    let mut wanted: Vec<(String, Vec<&str>)> = tables
        .iter()
        .map(|t| (t.name.to_string(), raw_columns(t)))
        .collect();
    wanted.push((DEFECTS_TABLE.to_string(), DEFECT_COLUMNS.to_vec()));
    wanted
}

/// The indexes of a new raw table `name` (written `table` in the dialect's SQL): by the day
/// that delivered a row and, for a data table, by its delivery day — what an incremental
/// reader of the corrections filters on.
fn raw_indexes(name: &str, table: &str) -> String {
    let day = if name == DEFECTS_TABLE {
        "day"
    } else {
        DAY_COLUMN
    };
    let mut ddl = format!(
        "CREATE INDEX IF NOT EXISTS {} ON {table} ({});\n",
        ident(&format!("{name}_by_day")),
        ident(day)
    );
    if name != DEFECTS_TABLE {
        ddl.push_str(&format!(
            "CREATE INDEX IF NOT EXISTS {} ON {table} ({});\n",
            ident(&format!("{name}_by_delivery")),
            ident(DELIVERED_COLUMN)
        ));
    }
    ddl
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
pub mod pg;

#[cfg(feature = "sqlite")]
pub mod sqlite;

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
