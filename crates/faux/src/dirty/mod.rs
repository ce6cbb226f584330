//! Dirty data: a deterministic post-processing layer over a day's typed rows that plants the
//! defects real sources have — exact and near duplicates, nulls where the schema allows,
//! malformed emails, inconsistent enum casing, amounts in cents instead of units, orphan
//! order lines — and records each one (table, key, column, kind, clean value) in a manifest,
//! so a cleaning pipeline can be graded against it.
//!
//! The clean rows are generated as always and never change: the answer key (`truth`) is the
//! clean data. Each row's dirt comes from its own stream keyed by `(seed, table, day, primary
//! key)`, so any day generates alone with the same defects.
//!
//! Modules: [`profile`] (off, light, realistic, nasty), [`defect`] (the kinds and the manifest
//! record), [`row`] (rows as owned values a defect can change), `plant` (the defects),
//! [`legacy`] (the legacy customers export: mixed timestamps, Latin-1 or a BOM).

pub mod defect;
pub mod legacy;
mod plant;
pub mod profile;
pub mod row;

use std::convert::Infallible;

pub use defect::{Defect, DefectKind};
pub use profile::Profile;
pub use row::{OwnedRow, Value};

use crate::scenario::Scenario;
use crate::table::{Row, RowSink, Shard, TableDef};
use crate::time::Date;
use crate::view::View;

/// Generates `table`'s daily extract of `day` (the shard of it) with `profile`'s defects into
/// `sink`, and appends the defects planted to `defects`. With [`Profile::Off`] this is
/// exactly [`Scenario::generate`] and plants nothing.
pub fn generate<S: RowSink>(
    scenario: &Scenario,
    table: &'static TableDef,
    day: Date,
    shard: Shard,
    profile: Profile,
    sink: &mut S,
    defects: &mut Vec<Defect>,
) -> Result<(), S::Error> {
    if profile == Profile::Off {
        return scenario.generate(table, day, shard, View::Extract, sink);
    }
    let rows = clean_rows(scenario, table, day, shard);
    for row in plant::plant(scenario.seed(), profile.rate(), table, day, rows, defects) {
        sink.row(&row)?;
    }
    Ok(())
}

/// The defects `profile` plants in `table` on `day` (what [`generate`] records), without
/// writing rows.
pub fn defects(
    scenario: &Scenario,
    table: &'static TableDef,
    day: Date,
    profile: Profile,
) -> Vec<Defect> {
    let mut out = Vec::new();
    if legacy::is_legacy(table) {
        return legacy::export(scenario, day, profile).map_or(out, |e| e.defects);
    }
    if profile != Profile::Off {
        let rows = clean_rows(scenario, table, day, Shard::ALL);
        plant::plant(scenario.seed(), profile.rate(), table, day, rows, &mut out);
    }
    out
}

fn clean_rows(
    scenario: &Scenario,
    table: &'static TableDef,
    day: Date,
    shard: Shard,
) -> Vec<OwnedRow> {
    struct Collect(&'static TableDef, Vec<OwnedRow>);
    impl RowSink for Collect {
        type Error = Infallible;
        fn row<R: Row>(&mut self, row: &R) -> Result<(), Infallible> {
            self.1.push(OwnedRow::capture(self.0, row));
            Ok(())
        }
    }
    let mut c = Collect(table, Vec::new());
    let Ok(()) = scenario.generate(table, day, shard, View::Extract, &mut c);
    c.1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scenario;

    fn day() -> Date {
        "2025-02-03".parse().unwrap()
    }

    /// Every kind is planted somewhere in a few nasty days of the shop, and each defect's row
    /// is found in the output with the dirty value where the manifest says.
    #[test]
    fn nasty_plants_every_kind_and_the_manifest_finds_each() {
        let s = Scenario::by_name("ecommerce", 7).unwrap();
        let mut kinds = std::collections::BTreeSet::new();
        for table in s.tables() {
            let mut defects = Vec::new();
            let mut rows: Vec<OwnedRow> = Vec::new();
            struct Keep<'a>(&'static TableDef, &'a mut Vec<OwnedRow>);
            impl RowSink for Keep<'_> {
                type Error = Infallible;
                fn row<R: Row>(&mut self, row: &R) -> Result<(), Infallible> {
                    self.1.push(OwnedRow::capture(self.0, row));
                    Ok(())
                }
            }
            let Ok(()) = generate(
                &s,
                table,
                day(),
                Shard::ALL,
                Profile::Nasty,
                &mut Keep(table, &mut rows),
                &mut defects,
            );
            assert_eq!(defects, super::defects(&s, table, day(), Profile::Nasty));
            let mut by_key: std::collections::HashMap<String, Vec<&OwnedRow>> =
                std::collections::HashMap::new();
            for r in &rows {
                by_key.entry(r.key(table)).or_default().push(r);
            }
            for d in &defects {
                kinds.insert(d.kind);
                let same_key = by_key.get(&d.key).cloned().unwrap_or_default();
                match d.kind {
                    DefectKind::Orphan => assert_eq!(same_key.len(), 1, "{d:?}"),
                    DefectKind::ExactDuplicate => {
                        assert!(same_key.len() >= 2, "{d:?}");
                        assert_eq!(same_key[0], same_key[1], "{d:?}");
                    }
                    _ => {
                        let c = table
                            .columns
                            .iter()
                            .position(|c| Some(c.name) == d.column)
                            .unwrap();
                        let values: Vec<Option<String>> = same_key
                            .iter()
                            .map(|r| r.0[c].render(table.columns[c].ty))
                            .collect();
                        assert!(values.contains(&d.dirty), "{d:?} not in {values:?}");
                        assert_ne!(d.dirty, d.clean, "{d:?}");
                    }
                }
            }
        }
        let row_kinds: Vec<DefectKind> = DefectKind::ALL
            .into_iter()
            .filter(|k| !k.legacy_only())
            .collect();
        assert_eq!(kinds.into_iter().collect::<Vec<_>>(), row_kinds);
    }

    #[test]
    fn off_is_the_clean_extract() {
        let s = Scenario::by_name("ecommerce", 7).unwrap();
        assert!(super::defects(&s, s.table("orders").unwrap(), day(), Profile::Off).is_empty());
    }

    #[test]
    fn profiles_and_kinds_parse_and_name_the_bad_value() {
        for p in Profile::ALL {
            assert_eq!(p.name().parse::<Profile>(), Ok(p));
        }
        let e = "dirty".parse::<Profile>().unwrap_err();
        assert!(e.contains("\"dirty\"") && e.contains("realistic"), "{e}");
        for k in DefectKind::ALL {
            assert_eq!(k.name().parse::<DefectKind>(), Ok(k));
        }
    }
}
