//! Dirty data: a deterministic post-processing layer over a day's typed rows that plants the
//! defects real sources have — exact and near duplicates, nulls where the schema allows,
//! malformed emails and phone numbers, inconsistent enum casing, amounts in cents instead of
//! units, orphan order lines — and records each one (table, key, column, kind, clean value)
//! in a manifest, so a cleaning pipeline can be graded against it.
//!
//! The clean rows are generated as always and never change: the answer key (`truth`) is the
//! clean data. Each row's dirt comes from its own stream keyed by `(seed, table, day, primary
//! key)`, so any day generates alone with the same defects.
//!
//! Modules: [`profile`] (off, light, realistic, nasty), [`defect`] (the kinds and the manifest
//! record), [`row`] (rows as owned values a defect can change), `plant` (the defects),
//! [`legacy`] (the legacy customers export: mixed timestamps, Latin-1 or a BOM), [`live`]
//! (one row version at a time, for a live source: Genie).

pub mod defect;
pub mod late;
pub mod legacy;
pub mod live;
mod plant;
pub mod profile;
pub mod row;

use std::convert::Infallible;

pub use defect::{Defect, DefectKind};
pub use live::Live;
pub use profile::Profile;
pub use row::{OwnedRow, Value};

use crate::scenario::Scenario;
use crate::table::{Row, RowSink, Shard, TableDef};
use crate::time::Date;
use crate::view::View;

/// Generates `table`'s daily extract of `day` (the shard of it) with `profile`'s defects into
/// `sink`, and appends the defects planted to `defects`: every row corrected, no late file
/// (see [`generate_file`] for a partition as delivered). With [`Profile::Off`] this is exactly
/// [`Scenario::generate`] and plants nothing.
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
    for row in dirty_rows(scenario, table, day, shard, profile, defects) {
        sink.row(&row)?;
    }
    Ok(())
}

/// Which delivery of a day's partition a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// As first written on its day: a late file is incomplete or stale.
    First,
    /// As it ends: a late file's rewrite, with the corrections.
    Corrected,
}

/// [`generate`] for a file: the partition as `delivery` (a late file's first delivery misses
/// rows or holds stale values), with every defect of the partition recorded — a late file's
/// `late_file` defects whichever the delivery, with the day they are corrected on.
#[allow(clippy::too_many_arguments)]
pub fn generate_file<S: RowSink>(
    scenario: &Scenario,
    table: &'static TableDef,
    day: Date,
    shard: Shard,
    profile: Profile,
    delivery: Delivery,
    sink: &mut S,
    defects: &mut Vec<Defect>,
) -> Result<(), S::Error> {
    if profile == Profile::Off {
        return scenario.generate(table, day, shard, View::Extract, sink);
    }
    let start = defects.len();
    let mut rows = dirty_rows(scenario, table, day, shard, profile, defects);
    if let Some(corrected) = late::corrected_on(scenario.seed(), profile, table, day) {
        let planted = defects[start..].to_vec();
        rows = late::apply(
            scenario.seed(),
            table,
            day,
            corrected,
            delivery == Delivery::First,
            rows,
            &planted,
            defects,
        );
    }
    for row in rows {
        sink.row(&row)?;
    }
    Ok(())
}

/// The day's rows with the row defects planted.
fn dirty_rows(
    scenario: &Scenario,
    table: &'static TableDef,
    day: Date,
    shard: Shard,
    profile: Profile,
    defects: &mut Vec<Defect>,
) -> Vec<OwnedRow> {
    let rows = clean_rows(scenario, table, day, shard);
    let carts = match scenario.as_ecommerce() {
        Some(e) if std::ptr::eq(table, &crate::ecommerce::tables::ORDER_ITEMS) => {
            e.abandoned_cart_lines(day)
        }
        _ => Vec::new(),
    };
    plant::plant(
        scenario.seed(),
        profile.rate(),
        table,
        day,
        rows,
        &carts,
        defects,
    )
}

/// The defects `profile` plants in `table`'s files of `day` (what [`generate_file`]
/// records, late files included), without writing rows.
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
    struct Skip;
    impl RowSink for Skip {
        type Error = Infallible;
        fn row<R: Row>(&mut self, _: &R) -> Result<(), Infallible> {
            Ok(())
        }
    }
    if profile != Profile::Off {
        let Ok(()) = generate_file(
            scenario,
            table,
            day,
            Shard::ALL,
            profile,
            Delivery::Corrected,
            &mut Skip,
            &mut out,
        );
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
            let Ok(()) = generate_file(
                &s,
                table,
                day(),
                Shard::ALL,
                Profile::Nasty,
                Delivery::Corrected,
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
                    DefectKind::Orphan | DefectKind::AbandonedCartLine => {
                        assert_eq!(same_key.len(), 1, "{d:?}")
                    }
                    // the corrected delivery holds the right row (see the late-file test)
                    DefectKind::LateFile => assert_eq!(same_key.len(), 1, "{d:?}"),
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

    /// An order's extra lines are products its session added to the cart (its events) and
    /// did not buy, numbered after its real lines, whose sum is still the order's subtotal.
    #[test]
    fn abandoned_cart_lines_are_items_added_and_not_bought() {
        let s = Scenario::by_name("ecommerce", 7).unwrap();
        let items = s.table("order_items").unwrap();
        let (mut extra, mut planted) = (0, 0);
        for i in 0..4 {
            let d = day().add_days(i);
            let defects = super::defects(&s, items, d, Profile::Nasty);
            let carts = s.as_ecommerce().unwrap().abandoned_cart_lines(d);
            let clean = clean_rows(&s, items, d, Shard::ALL);
            let clean_keys: std::collections::HashSet<String> =
                clean.iter().map(|r| r.key(items)).collect();
            for d in defects
                .iter()
                .filter(|d| d.kind == DefectKind::AbandonedCartLine)
            {
                planted += 1;
                assert!(!clean_keys.contains(&d.key), "{d:?} is a real line");
                let (order, n) = d.key.split_once('|').unwrap();
                let cart = carts
                    .iter()
                    .find(|c| c.order_id.hyphenated() == order.as_bytes())
                    .expect("the order has a cart");
                let n: usize = n.parse().unwrap();
                assert!(
                    n > cart.bought && n <= cart.bought + cart.lines.len(),
                    "{d:?}"
                );
            }
            for c in carts.iter().filter(|c| !c.lines.is_empty()) {
                extra += 1;
                let bought: Vec<&OwnedRow> = clean
                    .iter()
                    .filter(|r| r.0[0] == Value::Uuid(c.order_id))
                    .collect();
                assert_eq!(bought.len(), c.bought);
                for (p, q, cents) in &c.lines {
                    assert!(*q > 0 && *cents > 0);
                    assert!(
                        bought.iter().all(|r| r.0[2] != Value::Uuid(*p)),
                        "an abandoned product was bought"
                    );
                }
            }
        }
        assert!(extra > 0 && planted > 0, "{extra} carts, {planted} planted");
    }

    /// A late file's first delivery misses some rows and holds stale amounts in others; its
    /// correction is the partition as it ends; both record the same defects.
    #[test]
    fn a_late_file_is_wrong_first_and_right_once_corrected() {
        let s = Scenario::by_name("ecommerce", 7).unwrap();
        let table = s.table("orders").unwrap();
        let d = (0..40)
            .map(|i| day().add_days(i))
            .find(|&d| late::corrected_on(7, Profile::Nasty, table, d).is_some())
            .unwrap();
        let deliver = |delivery| {
            struct Keep(&'static TableDef, Vec<OwnedRow>);
            impl RowSink for Keep {
                type Error = Infallible;
                fn row<R: Row>(&mut self, row: &R) -> Result<(), Infallible> {
                    self.1.push(OwnedRow::capture(self.0, row));
                    Ok(())
                }
            }
            let (mut keep, mut defects) = (Keep(table, Vec::new()), Vec::new());
            let Ok(()) = generate_file(
                &s,
                table,
                d,
                Shard::ALL,
                Profile::Nasty,
                delivery,
                &mut keep,
                &mut defects,
            );
            (keep.1, defects)
        };
        let (first, first_defects) = deliver(Delivery::First);
        let (last, last_defects) = deliver(Delivery::Corrected);
        assert_eq!(first_defects, last_defects);
        let mut database = Vec::new();
        struct Skip;
        impl RowSink for Skip {
            type Error = Infallible;
            fn row<R: Row>(&mut self, _: &R) -> Result<(), Infallible> {
                Ok(())
            }
        }
        let Ok(()) = generate(
            &s,
            table,
            d,
            Shard::ALL,
            Profile::Nasty,
            &mut Skip,
            &mut database,
        );
        let late: Vec<&Defect> = last_defects
            .iter()
            .filter(|x| x.kind == DefectKind::LateFile)
            .collect();
        assert_eq!(database.len() + late.len(), last_defects.len());
        assert!(late.iter().any(|x| x.column.is_none()), "a missing row");
        assert!(late.iter().any(|x| x.column.is_some()), "a stale value");
        let keys =
            |rows: &[OwnedRow]| -> Vec<String> { rows.iter().map(|r| r.key(table)).collect() };
        let (first_keys, last_keys) = (keys(&first), keys(&last));
        for x in &late {
            assert_eq!(
                x.corrected_on,
                late::corrected_on(7, Profile::Nasty, table, d)
            );
            assert!(last_keys.contains(&x.key));
            match x.column {
                None => assert!(!first_keys.contains(&x.key), "{x:?}"),
                Some(c) => {
                    let c = table.columns.iter().position(|col| col.name == c).unwrap();
                    let value = |rows: &[OwnedRow]| {
                        rows.iter()
                            .find(|r| r.key(table) == x.key)
                            .and_then(|r| r.0[c].render(table.columns[c].ty))
                    };
                    assert_eq!(value(&first), x.dirty, "{x:?}");
                    assert_eq!(value(&last), x.clean, "{x:?}");
                }
            }
        }
        assert_eq!(
            last.len(),
            first.len() + late.iter().filter(|x| x.column.is_none()).count()
        );
    }

    /// A malformed phone is the customer's E.164 number written in each of the careless forms
    /// (at home, no `+`, `00`, an extension), and the README's recipe, knowing the row's
    /// country, turns every one back into the clean value; no phone is ever nulled.
    #[test]
    fn malformed_phones_take_every_form_and_clean_back_to_e164() {
        let s = Scenario::by_name("ecommerce", 7).unwrap();
        let customers = s.table("customers").unwrap();
        let country = customers
            .columns
            .iter()
            .position(|c| c.name == "country")
            .unwrap();
        let mut forms = std::collections::BTreeSet::new();
        for i in 0..4 {
            let d = day().add_days(i);
            let clean = clean_rows(&s, customers, d, Shard::ALL);
            for x in super::defects(&s, customers, d, Profile::Nasty) {
                assert!(
                    !(x.kind == DefectKind::Null && x.column == Some("phone")),
                    "{x:?}"
                );
                if x.kind != DefectKind::MalformedPhone {
                    continue;
                }
                assert_eq!(x.column, Some("phone"));
                let row = clean.iter().find(|r| r.key(customers) == x.key).unwrap();
                let Value::Label(code) = row.0[country] else {
                    panic!("{row:?}")
                };
                let c = crate::ecommerce::people::country(code).unwrap();
                let (clean, dirty) = (x.clean.unwrap(), x.dirty.unwrap());
                assert_ne!(clean, dirty);
                assert_eq!(
                    crate::ecommerce::people::e164_recipe(&dirty, c),
                    clean,
                    "{dirty}"
                );
                forms.insert(if dirty.contains('x') {
                    "extension"
                } else if dirty.starts_with("00") {
                    "00"
                } else if dirty == clean[1..] {
                    "no plus"
                } else {
                    "national"
                });
            }
        }
        assert_eq!(forms.len(), 4, "{forms:?}");
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
