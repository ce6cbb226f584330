//! Comparing a table as a source holds it with the truth: the truth's rows fingerprinted as
//! they are generated, the loaded rows as they are read, both bucketed by day (or by key
//! alone, [`Mode::Latest`]) and counted into a [`TableReport`].

use std::collections::{BTreeMap, HashMap};

use faux::{Date, DateRange, Row, RowSink, Scenario, Shard, TableDef, View};

use super::examples::{Samples, examples};
use super::fingerprint::{Fingerprint, Fingerprinter, Shape};
use super::report::{DayDiff, EXAMPLES_PER_KIND, TableReport};
use super::values::Val;
use super::{Mode, Source};

/// The truth's rows of a bucket and key: how many, and the version counted.
#[derive(Debug, Clone, Copy)]
pub(super) struct Expected {
    pub(super) n: u32,
    pub(super) version: i64,
    pub(super) content: u64,
    pub(super) day: Date,
}

/// The loaded rows of a bucket and key.
#[derive(Debug, Clone, Copy)]
pub(super) struct Found {
    pub(super) n: u32,
    /// Some copy equals the truth's version and content.
    pub(super) matched: bool,
    pub(super) newest: i64,
    pub(super) day: Date,
}

/// Bucket of a row: its day in [`Mode::PerDay`], one bucket per key in [`Mode::Latest`].
pub(super) fn bucket(mode: Mode, day: Date) -> i32 {
    match mode {
        Mode::Latest => i32::MIN,
        Mode::PerDay => day.days_since_epoch(),
    }
}

/// Generates the truth's rows of `table` for the days (daily extracts, on `threads`).
pub(super) fn expected_rows(
    scenario: &Scenario,
    table: &'static TableDef,
    range: DateRange,
    mode: Mode,
    threads: usize,
) -> HashMap<(i32, u128), Expected> {
    struct Sink<'a> {
        fingerprinter: Fingerprinter<'a>,
        rows: Vec<Fingerprint>,
    }
    impl RowSink for Sink<'_> {
        type Error = std::convert::Infallible;
        fn row<R: Row>(&mut self, row: &R) -> Result<(), Self::Error> {
            let f = self.fingerprinter.fingerprint(row);
            self.rows.push(f);
            Ok(())
        }
    }
    let shape = Shape::new(table);
    let days: Vec<Date> = range.days().collect();
    let per_day = crate::pool::map(days.len(), threads, |i| {
        let day = days[i];
        let mut sink = Sink {
            fingerprinter: Fingerprinter::new(&shape, table.columns.len()),
            rows: Vec::new(),
        };
        let Ok(()) = scenario.generate(table, day, Shard::ALL, View::Extract, &mut sink);
        (day, sink.rows)
    });
    let mut out: HashMap<(i32, u128), Expected> = HashMap::new();
    for (day, rows) in per_day {
        for f in rows {
            // a day's extract is attributed to that day, whatever its partition value says
            let e = out.entry((bucket(mode, day), f.key)).or_insert(Expected {
                n: 0,
                version: f.version,
                content: f.content,
                day,
            });
            match mode {
                Mode::PerDay => e.n += 1,
                Mode::Latest => {
                    e.n = 1;
                    if f.version >= e.version {
                        e.version = f.version;
                        e.content = f.content;
                        e.day = day;
                    }
                }
            }
        }
    }
    out
}

/// Compares `table` as loaded in `source` with the truth of the days.
pub fn verify_table(
    source: &mut dyn Source,
    scenario: &Scenario,
    table: &'static TableDef,
    range: DateRange,
    threads: usize,
) -> TableReport {
    // only a table with a cursor has versions to keep the latest of
    let mode = match table.cursor {
        Some(_) => source.mode(table),
        None => Mode::PerDay,
    };
    let expected = expected_rows(scenario, table, range, mode, threads);
    let (from, to) = (range.first(), range.last());
    let mut report = TableReport {
        table: table.name,
        mode,
        days: range.days().map(|d| (d, DayDiff::default())).collect(),
        examples: Vec::new(),
        unreadable: 0,
        problems: Vec::new(),
    };
    let shape = Shape::new(table);
    // loaded rows that may become examples, per kind: (bucket, key) → values
    let mut samples: Samples = BTreeMap::new();
    let mut sample = |kind: &'static str, k: (i32, u128), day: Date, values: &[Val]| {
        let list = samples.entry(kind).or_default();
        if list.len() < 8 * EXAMPLES_PER_KIND && !list.iter().any(|(x, ..)| *x == k) {
            list.push((k, day, values.to_vec()));
        }
    };
    let mut found: HashMap<(i32, u128), Found> = HashMap::with_capacity(expected.len());
    let mut buf = Vec::new();
    let mut reasons: Vec<String> = Vec::new();
    let mut unreadable = 0u64;
    let days = match mode {
        // the current state of a key may be older or newer than the range
        Mode::Latest => None,
        Mode::PerDay => Some((from, to)),
    };
    let read = source.read(table, days, &mut |row| {
        let values = match row {
            Ok(v) => v,
            Err(e) => {
                unreadable += 1;
                if reasons.len() < 3 {
                    reasons.push(e);
                }
                return;
            }
        };
        let f = shape.fingerprint(&values, &mut buf);
        let day = match (mode, f.day) {
            (Mode::Latest, _) => faux::Timestamp(f.version).date(),
            (Mode::PerDay, Some(d)) => d,
            (Mode::PerDay, None) => {
                unreadable += 1;
                if reasons.len() < 3 {
                    reasons.push(format!("a row has no {}", table.partition));
                }
                return;
            }
        };
        if mode == Mode::PerDay && (day < from || day > to) {
            return;
        }
        let k = (bucket(mode, day), f.key);
        let truth = expected.get(&k);
        let matched = truth.is_some_and(|e| e.version == f.version && e.content == f.content);
        match truth {
            None if day >= from && day <= to => sample("unexpected", k, day, &values),
            Some(e) if !matched && f.version < e.version => sample("stale", k, e.day, &values),
            Some(e) if !matched => sample("changed", k, e.day, &values),
            _ => {}
        }
        let e = found.entry(k).or_insert(Found {
            n: 0,
            matched: false,
            newest: f.version,
            day,
        });
        e.n += 1;
        if e.n == 2 {
            sample("duplicated", k, e.day, &values);
        }
        e.matched |= matched;
        if f.version > e.newest {
            e.newest = f.version;
            e.day = day;
        }
    });
    if let Err(e) = read {
        report.problems.push(e.to_string());
    }
    if unreadable > 0 {
        report.unreadable = unreadable;
        report.problems.push(format!(
            "{unreadable} row{} could not be read: {}",
            if unreadable == 1 { "" } else { "s" },
            reasons.join("; ")
        ));
    }
    for (k, e) in &expected {
        let d = report.days.entry(e.day).or_default();
        d.expected += e.n as u64;
        let Some(a) = found.get(k) else {
            d.missing += e.n as u64;
            continue;
        };
        d.found += a.n as u64;
        d.duplicated += a.n.saturating_sub(e.n) as u64;
        d.missing += e.n.saturating_sub(a.n) as u64;
        if a.matched {
            continue;
        }
        if a.newest < e.version {
            d.stale += 1;
        } else if !(mode == Mode::Latest && a.newest > e.version && a.day > to) {
            // a newer version from after the range is the pipeline being ahead, not wrong
            d.changed += 1;
        }
    }
    for (k, a) in &found {
        if expected.contains_key(k) || a.day < from || a.day > to {
            continue;
        }
        let d = report.days.entry(a.day).or_default();
        d.found += a.n as u64;
        d.unexpected += a.n as u64;
    }
    report.examples = examples(
        scenario, table, &shape, mode, &expected, &found, samples, to,
    );
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::{Collector, Val, VerifyError};
    use faux::{Row, RowSink, Shard, View};

    /// A source holding rows in memory.
    #[derive(Debug)]
    struct Memory {
        rows: Vec<Vec<Val>>,
        mode: Mode,
    }

    impl Source for Memory {
        fn describe(&self) -> String {
            "memory".into()
        }
        fn mode(&self, _: &TableDef) -> Mode {
            self.mode
        }
        fn read(
            &mut self,
            _: &'static TableDef,
            _: Option<(Date, Date)>,
            row: &mut dyn FnMut(Result<Vec<Val>, String>),
        ) -> Result<(), VerifyError> {
            for r in &self.rows {
                row(Ok(r.clone()));
            }
            Ok(())
        }
    }

    fn truth_rows(s: &Scenario, table: &'static TableDef, day: Date) -> Vec<Vec<Val>> {
        struct All(Vec<Vec<Val>>, &'static TableDef);
        impl RowSink for All {
            type Error = std::convert::Infallible;
            fn row<R: Row>(&mut self, row: &R) -> Result<(), Self::Error> {
                let mut c = Collector::new(self.1);
                self.0.push(c.collect(row).to_vec());
                Ok(())
            }
        }
        let mut all = All(Vec::new(), table);
        let Ok(()) = s.generate(table, day, Shard::ALL, View::Extract, &mut all);
        all.0
    }

    #[test]
    fn per_day_comparison_counts_each_kind_of_difference() {
        let s = Scenario::by_name("shiny-rocks", 7).unwrap();
        let table = s.table("services").unwrap();
        let day: Date = "2024-03-01".parse().unwrap();
        let mut rows = truth_rows(&s, table, day);
        let n = rows.len() as u64;
        let mut src = Memory {
            rows: rows.clone(),
            mode: Mode::PerDay,
        };
        let r = verify_table(&mut src, &s, table, DateRange::day(day), 1);
        assert_eq!(r.differences(), 0, "{r:?}");
        assert_eq!(r.days[&day].expected, n);

        rows.remove(0);
        let dup = rows[1].clone();
        rows.push(dup);
        let mut odd = rows[2].clone();
        odd[3] = Val::Int(-1); // duration: a row the truth does not have
        rows[2] = odd;
        let mut src = Memory {
            rows,
            mode: Mode::PerDay,
        };
        let r = verify_table(&mut src, &s, table, DateRange::day(day), 1);
        let d = &r.days[&day];
        // services has no key: a changed row is one missing and one unexpected
        assert_eq!((d.missing, d.duplicated, d.unexpected), (2, 1, 1), "{d:?}");
    }
}
