//! Grading a cleaning pipeline (`aladdin verify --dirty PROFILE`): the defects the profile
//! planted are regenerated (the same manifest `generate --dirty` wrote) or given (the manifest
//! a source actually planted: a folder's, or Genie's, [`grade_table_with`]), and the cleaned
//! tables are compared with the clean truth key by key.
//!
//! A defect is *fixed* when its key holds exactly the truth's row (a copy or an orphan: the
//! key holds nothing more than the truth, nothing for an orphan); *removed* when a value
//! defect's row was dropped (quarantined) instead of repaired; *dropped* when the fix of a
//! copy took the real row with it; *left in* otherwise. Rows no defect touched must come
//! through unchanged: each one dropped, changed or unexpected is counted against the pipeline.
//! A late file's row is fixed when the partition's correction was loaded; one whose
//! correction comes after the graded range is not graded.
//! The grade passes when nothing is left in or dropped and every clean row is intact.

use std::collections::{BTreeMap, HashMap, HashSet};

use faux::dirty::{Defect, DefectKind, Profile};
use faux::{Date, DateRange, Scenario, TableDef};

use super::compare::{bucket, expected_rows};
use super::fingerprint::Shape;
use super::values::{Val, canonical_text};
use super::{Mode, Source};

/// How the defects of one kind fared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KindGrade {
    pub planted: u64,
    pub fixed: u64,
    pub removed: u64,
    pub dropped: u64,
    pub left_in: u64,
}

/// How the rows no defect touched fared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanGrade {
    pub expected: u64,
    pub dropped: u64,
    pub changed: u64,
    pub unexpected: u64,
}

/// One table's grade.
#[derive(Debug, Clone)]
pub struct DirtyReport {
    pub table: &'static str,
    pub mode: Mode,
    pub kinds: BTreeMap<DefectKind, KindGrade>,
    pub clean: CleanGrade,
    /// A few defects left in, described (`orders 1f…: enum_case status "Paid" (clean "paid")`).
    pub examples: Vec<String>,
    pub problems: Vec<String>,
}

impl DirtyReport {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
            && self
                .kinds
                .values()
                .all(|k| k.left_in == 0 && k.dropped == 0)
            && self.clean.dropped + self.clean.changed + self.clean.unexpected == 0
    }
}

/// A manifest value in a message: quoted, or null.
fn shown(v: &Option<String>) -> String {
    v.as_ref().map_or("null".into(), |s| format!("{s:?}"))
}

/// The key hash of a manifest key (`a|b` in primary-key order).
fn key_hash(table: &TableDef, shape: &Shape, key: &str) -> Option<u128> {
    let mut values = vec![Val::Null; table.columns.len()];
    let parts: Vec<&str> = if shape.key.len() == 1 {
        vec![key]
    } else {
        key.splitn(shape.key.len(), '|').collect()
    };
    if parts.len() != shape.key.len() {
        return None;
    }
    for (&c, part) in shape.key.iter().zip(parts) {
        values[c] = canonical_text(table.columns[c].ty, part).ok()?;
    }
    Some(shape.fingerprint(&values, &mut Vec::new()).key)
}

/// Grades `table` as `source` holds it after cleaning the `profile` data of `range`, against
/// the defects the profile plants in the daily extracts (regenerated from the seed).
pub fn grade_table(
    source: &mut dyn Source,
    scenario: &Scenario,
    table: &'static TableDef,
    range: DateRange,
    profile: Profile,
    threads: usize,
) -> DirtyReport {
    let days: Vec<Date> = range.days().collect();
    let defects = crate::pool::map(days.len(), threads, |i| {
        faux::dirty::defects(scenario, table, days[i], profile)
    });
    let defects: Vec<Defect> = defects.into_iter().flatten().collect();
    grade_table_with(source, scenario, table, range, &defects, threads)
}

/// Grades `table` as `source` holds it after cleaning, against `defects`: what the source
/// planted (a manifest read back). Only the defects of `table` (under the name it is read
/// as: the legacy export's own) and of the days of `range` count.
pub fn grade_table_with(
    source: &mut dyn Source,
    scenario: &Scenario,
    table: &'static TableDef,
    range: DateRange,
    defects: &[Defect],
    threads: usize,
) -> DirtyReport {
    // the legacy export is read under its own name and graded against the clean customers
    let read_as = table;
    let table = if faux::dirty::legacy::is_legacy(table) {
        faux::dirty::legacy::source_table(scenario).unwrap_or(table)
    } else {
        table
    };
    let mode = match table.cursor {
        Some(_) => source.mode(read_as),
        None => Mode::PerDay,
    };
    let shape = Shape::new(table);
    let expected = expected_rows(scenario, table, range, mode, threads);
    let (from, to) = (range.first(), range.last());
    let mut report = DirtyReport {
        table: read_as.name,
        mode,
        kinds: BTreeMap::new(),
        clean: CleanGrade::default(),
        examples: Vec::new(),
        problems: Vec::new(),
    };

    // the loaded rows of the range: (bucket, key) → (version, content) of each copy
    let mut found: HashMap<(i32, u128), Vec<(i64, u64)>> = HashMap::new();
    let mut buf = Vec::new();
    let mut unreadable = Vec::new();
    let read = source.read(read_as, Some((from, to)), &mut |row| {
        let values = match row {
            Ok(v) => v,
            Err(e) => {
                unreadable.push(e);
                return;
            }
        };
        let f = shape.fingerprint(&values, &mut buf);
        let day = match (mode, f.day) {
            (Mode::Latest, _) => faux::Timestamp(f.version).date(),
            (Mode::PerDay, Some(d)) => d,
            (Mode::PerDay, None) => {
                unreadable.push(format!("a row has no {}", table.partition));
                return;
            }
        };
        if day < from || day > to {
            return;
        }
        found
            .entry((bucket(mode, day), f.key))
            .or_default()
            .push((f.version, f.content));
    });
    if let Err(e) = read {
        report.problems.push(e.to_string());
    }
    if !unreadable.is_empty() {
        report.problems.push(format!(
            "{} row(s) could not be read: {}",
            unreadable.len(),
            unreadable[..unreadable.len().min(3)].join("; ")
        ));
    }
    // a key is right when it holds exactly the truth's rows
    let right = |k: &(i32, u128)| -> bool {
        let loaded = found.get(k).map(Vec::as_slice).unwrap_or(&[]);
        match expected.get(k) {
            None => loaded.is_empty(),
            Some(e) => {
                loaded.len() == e.n as usize
                    && loaded
                        .iter()
                        .all(|&(v, c)| v == e.version && c == e.content)
            }
        }
    };

    let mut touched: HashSet<(i32, u128)> = HashSet::new();
    let ours = defects
        .iter()
        .filter(|d| d.table == read_as.name && range.contains(d.day));
    for d in ours {
        if d.corrected_on.is_some_and(|c| c > to) {
            // a late file whose correction comes after the range: the source has not
            // delivered the right row yet, so it is not graded (nor counted as a clean row)
            if let Some(h) = key_hash(table, &shape, &d.key) {
                touched.insert((bucket(mode, d.day), h));
            }
            continue;
        }
        let grade = report.kinds.entry(d.kind).or_default();
        grade.planted += 1;
        if d.kind.of_a_file() {
            // a file's encoding is fixed when every row of its day came back exactly
            let b = bucket(mode, d.day);
            let wrong = expected.keys().filter(|k| k.0 == b && !right(k)).count();
            if wrong == 0 {
                grade.fixed += 1;
            } else {
                grade.left_in += 1;
                if report.examples.len() < 5 {
                    report.examples.push(format!(
                        "{} (day {}): {} ({} row(s) of the day not restored)",
                        d.key, d.day, d.kind, wrong
                    ));
                }
            }
            continue;
        }
        let Some(h) = key_hash(table, &shape, &d.key) else {
            report
                .problems
                .push(format!("defect key {:?} does not parse", d.key));
            continue;
        };
        let k = (bucket(mode, d.day), h);
        touched.insert(k);
        let loaded = found.get(&k).map_or(0, Vec::len);
        if right(&k) {
            grade.fixed += 1;
        } else if loaded == 0 && d.kind.adds_a_row() {
            grade.dropped += 1;
        } else if loaded == 0 && d.kind != DefectKind::LateFile {
            // (a late file's row missing is the defect itself, left in)
            grade.removed += 1;
        } else {
            grade.left_in += 1;
            if report.examples.len() < 5 {
                report.examples.push(format!(
                    "{} {} (day {}): {}{}",
                    table.name,
                    d.key,
                    d.day,
                    d.kind,
                    match d.column {
                        Some(c) => format!(" {c} {} (clean {})", shown(&d.dirty), shown(&d.clean)),
                        None => String::new(),
                    }
                ));
            }
        }
    }
    for kind in DefectKind::ALL {
        // every kind shows, planted or not, so a report compares across tables
        report.kinds.entry(kind).or_default();
    }
    for (k, e) in &expected {
        if touched.contains(k) {
            continue;
        }
        report.clean.expected += e.n as u64;
        if right(k) {
            continue;
        }
        if found.get(k).is_none_or(Vec::is_empty) {
            report.clean.dropped += e.n as u64;
        } else {
            report.clean.changed += e.n as u64;
        }
    }
    for (k, rows) in &found {
        if !expected.contains_key(k) && !touched.contains(k) {
            report.clean.unexpected += rows.len() as u64;
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::{Collector, VerifyError};
    use faux::{Row, RowSink, Shard, View};

    #[derive(Debug)]
    struct Memory(Vec<Vec<Val>>);

    impl Source for Memory {
        fn describe(&self) -> String {
            "memory".into()
        }
        fn mode(&self, _: &TableDef) -> Mode {
            Mode::PerDay
        }
        fn read(
            &mut self,
            _: &'static TableDef,
            _: Option<(Date, Date)>,
            row: &mut dyn FnMut(Result<Vec<Val>, String>),
        ) -> Result<(), VerifyError> {
            self.0.iter().for_each(|r| row(Ok(r.clone())));
            Ok(())
        }
    }

    fn clean_rows(s: &Scenario, table: &'static TableDef, day: Date) -> Vec<Vec<Val>> {
        struct All(Vec<Vec<Val>>, &'static TableDef);
        impl RowSink for All {
            type Error = std::convert::Infallible;
            fn row<R: Row>(&mut self, row: &R) -> Result<(), Self::Error> {
                self.0.push(Collector::new(self.1).collect(row).to_vec());
                Ok(())
            }
        }
        let mut all = All(Vec::new(), table);
        let Ok(()) = s.generate(table, day, Shard::ALL, View::Extract, &mut all);
        all.0
    }

    /// A late file's missing row is *left in* (not removed) once its correction day is in the
    /// graded range, and not graded at all (nor counted as a clean row dropped) before.
    #[test]
    fn a_late_files_missing_row_is_left_in_once_corrected_and_pending_before() {
        let s = Scenario::by_name("ecommerce", 42).unwrap();
        let table = s.table("orders").unwrap();
        let start: Date = "2020-01-03".parse().unwrap();
        let (day, missing, corrected) = (0..30)
            .map(|i| start.add_days(i))
            .find_map(|d| {
                faux::dirty::defects(&s, table, d, Profile::Nasty)
                    .into_iter()
                    .find(|x| x.kind == DefectKind::LateFile && x.column.is_none())
                    .map(|x| (d, x.key, x.corrected_on.unwrap()))
            })
            .unwrap();
        let id = Val::Uuid(super::super::values::parse_uuid(&missing).unwrap());
        let rows = |last: Date| -> Vec<Vec<Val>> {
            DateRange::new(day, last)
                .unwrap()
                .days()
                .flat_map(|d| clean_rows(&s, table, d))
                .filter(|r| r[0] != id)
                .collect()
        };
        let grade = |last: Date| {
            let range = DateRange::new(day, last).unwrap();
            grade_table(&mut Memory(rows(last)), &s, table, range, Profile::Nasty, 1)
        };
        let pending = grade(corrected.add_days(-1));
        assert!(pending.passed(), "{pending:?}");
        assert_eq!(pending.clean.dropped, 0, "{pending:?}");
        let due = grade(corrected);
        assert!(due.kinds[&DefectKind::LateFile].left_in >= 1, "{due:?}");
        assert_eq!(due.kinds[&DefectKind::LateFile].removed, 0, "{due:?}");
        assert!(!due.passed());
    }

    /// The clean rows themselves fix everything; a value defect's row dropped is *removed*
    /// (allowed), a duplicate removed with its real row is *dropped* (fails), and a clean row
    /// altered is *changed* (fails).
    #[test]
    fn grades_fixed_removed_dropped_and_clean_rows_changed() {
        let s = Scenario::by_name("ecommerce", 42).unwrap();
        let table = s.table("orders").unwrap();
        let day: Date = "2020-01-03".parse().unwrap();
        let range = DateRange::day(day);
        let clean = clean_rows(&s, table, day);
        let defects = faux::dirty::defects(&s, table, day, Profile::Nasty);
        let id_of = |key: &str| Val::Uuid(super::super::values::parse_uuid(key).unwrap());
        let value_defect = defects.iter().find(|d| !d.kind.adds_a_row()).unwrap();
        let duplicate = defects
            .iter()
            .find(|d| d.kind == DefectKind::ExactDuplicate && d.key != value_defect.key)
            .unwrap();
        let touched: HashSet<&str> = defects.iter().map(|d| d.key.as_str()).collect();
        let grade = |rows: Vec<Vec<Val>>| {
            grade_table(&mut Memory(rows), &s, table, range, Profile::Nasty, 1)
        };

        let perfect = grade(clean.clone());
        assert!(perfect.passed(), "{perfect:?}");
        let planted: u64 = perfect.kinds.values().map(|g| g.planted).sum();
        let fixed: u64 = perfect.kinds.values().map(|g| g.fixed).sum();
        assert_eq!(
            (planted, fixed),
            (defects.len() as u64, defects.len() as u64)
        );

        let without = |keys: &[&str]| -> Vec<Vec<Val>> {
            let ids: Vec<Val> = keys.iter().map(|k| id_of(k)).collect();
            clean
                .iter()
                .filter(|r| !ids.contains(&r[0]))
                .cloned()
                .collect()
        };
        let quarantined = grade(without(&[&value_defect.key]));
        assert_eq!(
            quarantined.kinds[&value_defect.kind].removed, 1,
            "{quarantined:?}"
        );
        assert!(quarantined.passed(), "{quarantined:?}");

        let both = grade(without(&[&duplicate.key]));
        assert_eq!(
            both.kinds[&DefectKind::ExactDuplicate].dropped,
            1,
            "{both:?}"
        );
        assert!(!both.passed());

        let mut changed = clean.clone();
        let victim = changed
            .iter_mut()
            .find(|r| !touched.iter().any(|k| id_of(k) == r[0]))
            .unwrap();
        victim[4] = Val::Text("XXX".into()); // currency
        let r = grade(changed);
        assert_eq!(r.clean.changed, 1, "{r:?}");
        assert!(!r.passed());
    }
}
