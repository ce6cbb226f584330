//! Late files: a day's partition first delivered incomplete or with stale values, and
//! rewritten days later with the corrections (files, and a database's raw tables, whose
//! load of the correction day replaces the partition's rows; not an API, which has no files).
//!
//! Whether a partition is late, and on which later day (`D + 1..=3`) it is corrected, is a
//! draw keyed by `(seed, table, D)`; which of its rows are wrong, and how, a draw keyed by
//! `(seed, table, D, key)`. So the first delivery of `D` and its correction depend on the
//! seed and `D` only: a day generated alone is the day of a range.

use crate::rng::Key;
use crate::table::{LogicalType, TableDef};
use crate::time::Date;

use super::defect::{Defect, DefectKind};
use super::profile::Profile;
use super::row::{OwnedRow, Value};

/// The most days a correction comes after its partition.
pub const MAX_DELAY: i32 = 3;

/// The share of a late partition's (otherwise clean) rows that are wrong in it.
const WRONG: f64 = 0.25;

fn key(seed: u64, table: &TableDef, day: Date) -> Key {
    Key::root(seed)
        .named("dirty")
        .named("late_file")
        .named(table.name)
        .derive(day.days_since_epoch() as u64)
}

/// The day whose generation rewrites `table`'s partition of `day` with its corrections, when
/// that partition is a late file with `profile`.
pub fn corrected_on(seed: u64, profile: Profile, table: &TableDef, day: Date) -> Option<Date> {
    if profile == Profile::Off || super::legacy::is_legacy(table) {
        return None;
    }
    let mut s = key(seed, table, day).stream();
    if !s.chance((profile.rate() * 3.0).min(0.5)) {
        return None;
    }
    Some(day.add_days(s.range_inclusive(1, MAX_DELAY as i64) as i32))
}

/// The partitions of `table` that the generation of `day` rewrites: the late files of the
/// previous [`MAX_DELAY`] days corrected on `day`.
pub fn rewritten_on(seed: u64, profile: Profile, table: &TableDef, day: Date) -> Vec<Date> {
    (1..=MAX_DELAY)
        .rev()
        .map(|back| day.add_days(-back))
        .filter(|&d| corrected_on(seed, profile, table, d) == Some(day))
        .collect()
}

/// Marks the wrong rows of a late partition (`rows`: the dirty rows of the day, or a shard of
/// them, after the other defects; `planted`: those defects, whose rows are left alone) and
/// records each as a `late_file` defect. With `first`, the rows are the first delivery: the
/// wrong ones are dropped or carry their stale value; otherwise they are the correction and
/// stay as they are.
#[allow(clippy::too_many_arguments)]
pub(super) fn apply(
    seed: u64,
    table: &'static TableDef,
    day: Date,
    corrected: Date,
    first: bool,
    rows: Vec<OwnedRow>,
    planted: &[Defect],
    defects: &mut Vec<Defect>,
) -> Vec<OwnedRow> {
    let touched: std::collections::HashSet<&str> = planted.iter().map(|d| d.key.as_str()).collect();
    let base = key(seed, table, day);
    let mut out = Vec::with_capacity(rows.len());
    for mut row in rows {
        let k = row.key(table);
        if touched.contains(k.as_str()) {
            out.push(row);
            continue;
        }
        let mut s = base.named(&k).stream();
        if !s.chance(WRONG) {
            out.push(row);
            continue;
        }
        let amounts: Vec<usize> = table
            .columns
            .iter()
            .enumerate()
            .filter(|(i, c)| {
                matches!(c.ty, LogicalType::Decimal { .. })
                    && matches!(row.0[*i], Value::Decimal(u) if u != 0)
            })
            .map(|(i, _)| i)
            .collect();
        let mut defect = Defect {
            table: table.name,
            day,
            key: k,
            column: None,
            kind: DefectKind::LateFile,
            clean: None,
            dirty: None,
            corrected_on: Some(corrected),
        };
        // a stale amount (the value before a correction: 10% off) or the row not there yet
        if !amounts.is_empty() && s.chance(0.5) {
            let c = amounts[s.range_inclusive(0, amounts.len() as i64 - 1) as usize];
            let ty = table.columns[c].ty;
            defect.column = Some(table.columns[c].name);
            defect.clean = row.0[c].render(ty);
            let stale = match row.0[c] {
                Value::Decimal(u) if u / 10 != 0 => Value::Decimal(u - u / 10),
                Value::Decimal(u) => Value::Decimal(u + 1),
                ref v => v.clone(),
            };
            defect.dirty = stale.render(ty);
            if first {
                row.0[c] = stale;
            }
            out.push(row);
        } else if !first {
            out.push(row);
        }
        defects.push(defect);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_partition_is_corrected_within_the_delay_and_found_from_that_day() {
        let s = crate::Scenario::by_name("ecommerce", 7).unwrap();
        let table = s.table("orders").unwrap();
        let day: Date = "2025-02-03".parse().unwrap();
        let mut late = 0;
        for i in 0..60 {
            let d = day.add_days(i);
            assert_eq!(corrected_on(7, Profile::Off, table, d), None);
            if let Some(c) = corrected_on(7, Profile::Nasty, table, d) {
                late += 1;
                assert!(c > d && c <= d.add_days(MAX_DELAY), "{d} {c}");
                assert!(rewritten_on(7, Profile::Nasty, table, c).contains(&d));
            }
        }
        assert!(late > 5 && late < 55, "{late} late partitions of 60");
    }
}
