//! Dirt for a live source (Genie): one row version at a time, as it is served, with the
//! defects the daily extract holding it gets — the extract of the day of its partition
//! column, drawn from the same `(seed, table, day, primary key)` stream — so a warehouse
//! loaded from the live source is graded by `aladdin verify --dirty` like one loaded from
//! files.
//!
//! What a keyed source cannot serve is left out, not recorded: exact and near duplicates
//! share their row's primary key, and an API serves one row per id (the overlapping pages
//! of `--chaos` are its duplicates); so does an orphan whose parent is not part of its key
//! (a payment keeps its id): only order lines, keyed by (order, line), get orphans. Late files and the legacy export's defects belong to
//! files.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use crate::ecommerce::AbandonedCart;
use crate::rng::Uuid;
use crate::scenario::Scenario;
use crate::table::TableDef;
use crate::time::Date;

use super::defect::Defect;
use super::profile::Profile;
use super::row::{OwnedRow, Value};

/// Days of carts kept (the fill's workers take days out of order; a clock needs one).
const CART_DAYS: usize = 8;

type Carts = Arc<HashMap<Uuid, AbandonedCart>>;

/// A live source's dirtiness: the profile, and the days' abandoned carts (for the order
/// lines' `abandoned_cart_line`), computed once per day.
#[derive(Debug)]
pub struct Live {
    profile: Profile,
    carts: Mutex<BTreeMap<Date, Carts>>,
}

impl Live {
    pub fn new(profile: Profile) -> Live {
        Live {
            profile,
            carts: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The day whose extract holds `row`: its partition column's day.
    pub fn day_of(table: &TableDef, row: &OwnedRow) -> Option<Date> {
        let c = table
            .columns
            .iter()
            .position(|c| c.name == table.partition)?;
        match row.0[c] {
            Value::Timestamp(t) => Some(t.date()),
            Value::Date(d) => Some(d),
            _ => None,
        }
    }

    /// Whether [`Live::plant`] may change row `key` of `table`'s `day` (`key` as
    /// [`OwnedRow::key`] writes it): a draw on the row's own stream, without capturing the
    /// row — most rows get nothing, and a source serving many (the clickstream) captures only
    /// the few that may.
    pub fn may_plant(&self, scenario: &Scenario, table: &TableDef, day: Date, key: &str) -> bool {
        self.profile != Profile::Off
            && (has_carts(scenario, table)
                || super::plant::draws_a_defect(
                    scenario.seed(),
                    self.profile.rate(),
                    table,
                    day,
                    key,
                ))
    }

    /// Plants `row`'s defects: returns the rows to serve, `row` (perhaps changed) first, then
    /// the rows it adds under keys of their own (an orphan, abandoned cart lines); appends
    /// the defects served to `defects`.
    pub fn plant(
        &self,
        scenario: &Scenario,
        table: &'static TableDef,
        row: OwnedRow,
        defects: &mut Vec<Defect>,
    ) -> Vec<OwnedRow> {
        if self.profile == Profile::Off {
            return vec![row];
        }
        let Some(day) = Self::day_of(table, &row) else {
            return vec![row];
        };
        let carts = self.carts(scenario, table, day);
        let key = row.key(table);
        let (mut out, mut planted) = (Vec::with_capacity(2), Vec::new());
        super::plant::plant_one(
            scenario.seed(),
            self.profile.rate(),
            table,
            day,
            row,
            &|id| carts.as_ref().and_then(|c| c.get(id)),
            &mut out,
            &mut planted,
        );
        // the row itself is the first of its key; a copy under the same key is not served
        let mut seen_self = false;
        out.retain(|r| {
            let same = r.key(table) == key;
            let keep = !same || !seen_self;
            seen_self |= same;
            keep
        });
        // nor its defect (copies; an orphan whose parent is not part of its key)
        defects.extend(
            planted
                .into_iter()
                .filter(|d| !(d.kind.adds_a_row() && d.key == key)),
        );
        out
    }

    /// The carts of `day`'s orders, for the order lines only.
    fn carts(&self, scenario: &Scenario, table: &TableDef, day: Date) -> Option<Carts> {
        let e = scenario.as_ecommerce()?;
        if !has_carts(scenario, table) {
            return None;
        }
        if let Some(c) = self.carts.lock().expect("carts").get(&day) {
            return Some(c.clone());
        }
        // computed outside the lock: another day's lines need not wait
        let c: Carts = Arc::new(
            e.abandoned_cart_lines(day)
                .into_iter()
                .map(|c| (c.order_id, c))
                .collect(),
        );
        let mut cache = self.carts.lock().expect("carts");
        cache.insert(day, c.clone());
        while cache.len() > CART_DAYS {
            cache.pop_first();
        }
        Some(c)
    }
}

/// `table`'s rows may get abandoned cart lines (drawn per order, not by the row's own draw):
/// the e-commerce order lines.
fn has_carts(scenario: &Scenario, table: &TableDef) -> bool {
    scenario.as_ecommerce().is_some() && std::ptr::eq(table, &crate::ecommerce::tables::ORDER_ITEMS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dirty::DefectKind;
    use crate::table::Shard;

    /// Row by row, a live source plants what the day's extract plants, less the copies.
    #[test]
    fn a_live_row_gets_its_extracts_defects_less_the_copies() {
        let s = Scenario::by_name("ecommerce", 7).unwrap();
        let day: Date = "2025-02-03".parse().unwrap();
        let live = Live::new(Profile::Nasty);
        for name in ["orders", "order_items", "customers", "payments", "events"] {
            let table = s.table(name).unwrap();
            let clean = super::super::clean_rows(&s, table, day, Shard::ALL);
            let mut served = Vec::new();
            let mut rows = 0;
            let keys: std::collections::HashSet<String> =
                clean.iter().map(|r| r.key(table)).collect();
            for row in clean {
                let key = row.key(table);
                let out = live.plant(&s, table, row, &mut served);
                assert_eq!(out[0].key(table), key);
                assert!(out[1..].iter().all(|r| r.key(table) != key));
                rows += out.len();
            }
            let extract: Vec<Defect> = super::super::defects(&s, table, day, Profile::Nasty)
                .into_iter()
                .filter(|d| {
                    d.kind != DefectKind::LateFile
                        && !(d.kind.adds_a_row() && keys.contains(&d.key))
                })
                .collect();
            let (mut a, mut b) = (served.clone(), extract);
            a.sort();
            b.sort();
            assert_eq!(a, b, "{name}");
            assert!(!a.is_empty() && rows > 0, "{name}");
            if name == "customers" {
                assert!(
                    a.iter().any(|d| d.kind == DefectKind::MalformedPhone),
                    "{a:?}"
                );
            }
            if name == "order_items" {
                assert!(
                    a.iter().any(|d| d.kind == DefectKind::AbandonedCartLine),
                    "{a:?}"
                );
            }
        }
    }

    /// A row [`Live::may_plant`] passes over is served as it is, with no defect: a source
    /// may skip capturing it. Most of the clickstream's rows are passed over.
    #[test]
    fn a_row_passed_over_gets_nothing() {
        let s = Scenario::by_name("ecommerce", 7).unwrap();
        let day: Date = "2025-02-03".parse().unwrap();
        for profile in [Profile::Light, Profile::Nasty] {
            let live = Live::new(profile);
            for name in ["events", "orders", "customers"] {
                let table = s.table(name).unwrap();
                let rows = super::super::clean_rows(&s, table, day, Shard::ALL);
                let mut passed = 0;
                for row in rows.iter().cloned() {
                    let key = row.key(table);
                    let day = Live::day_of(table, &row).unwrap();
                    let mut defects = Vec::new();
                    let out = live.plant(&s, table, row.clone(), &mut defects);
                    if !live.may_plant(&s, table, day, &key) {
                        passed += 1;
                        assert_eq!((out, defects), (vec![row], vec![]), "{name} {key}");
                    }
                }
                assert!(passed > 0 && passed < rows.len(), "{name}: {passed}");
            }
        }
        let off = Live::new(Profile::Off);
        let events = s.table("events").unwrap();
        assert!(!off.may_plant(&s, events, day, "x"));
    }
}
