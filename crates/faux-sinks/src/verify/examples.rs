//! The rows a report names for each kind of difference: loaded rows sampled while reading,
//! confirmed by the final counts, and the truth's side generated again for their days only.

use std::collections::{BTreeMap, HashMap};

use faux::{Date, LogicalType, Row, RowSink, Scenario, Shard, TableDef, View};

use super::Mode;
use super::compare::{Expected, Found};
use super::fingerprint::Shape;
use super::report::{ColumnDiff, EXAMPLES_PER_KIND, Example};
use super::values::{Collector, Val};

/// Loaded rows that may become examples, per kind: (bucket and key, day, values).
pub(super) type Samples = BTreeMap<&'static str, Vec<((i32, u128), Date, Values)>>;

/// A row's canonical values.
type Values = Vec<Val>;

/// A row's bucket (its day, or one for all) and key hash.
type BucketKey = (i32, u128);

/// What a difference of `k` finally is, as counted above (`None`: no difference).
fn kind_of(
    k: &(i32, u128),
    expected: &HashMap<(i32, u128), Expected>,
    found: &HashMap<(i32, u128), Found>,
    mode: Mode,
    to: Date,
) -> Vec<&'static str> {
    let mut kinds = Vec::new();
    match (expected.get(k), found.get(k)) {
        (Some(_), None) => kinds.push("missing"),
        (Some(e), Some(a)) => {
            if a.n > e.n {
                kinds.push("duplicated");
            }
            if a.n < e.n {
                kinds.push("missing");
            }
            if !a.matched {
                if a.newest < e.version {
                    kinds.push("stale");
                } else if !(mode == Mode::Latest && a.newest > e.version && a.day > to) {
                    kinds.push("changed");
                }
            }
        }
        (None, Some(_)) => kinds.push("unexpected"),
        (None, None) => {}
    }
    kinds
}

/// A few examples of each kind of difference: loaded rows sampled while reading, and the
/// truth's rows (for `missing` keys and the other side of `changed` rows) generated again for
/// their days only.
#[allow(clippy::too_many_arguments)]
pub(super) fn examples(
    scenario: &Scenario,
    table: &'static TableDef,
    shape: &Shape,
    mode: Mode,
    expected: &HashMap<(i32, u128), Expected>,
    found: &HashMap<(i32, u128), Found>,
    samples: Samples,
    to: Date,
) -> Vec<Example> {
    // the loaded examples, confirmed by the final counts; the smallest (day, key) first
    // (kind, key, day, the loaded row)
    let mut chosen: Vec<(&'static str, BucketKey, Date, Option<Values>)> = Vec::new();
    for (kind, mut list) in samples {
        list.retain(|(k, ..)| kind_of(k, expected, found, mode, to).contains(&kind));
        list.sort_by_key(|(k, day, _)| (*day, k.1));
        for (k, day, values) in list.into_iter().take(EXAMPLES_PER_KIND) {
            chosen.push((kind, k, day, Some(values)));
        }
    }
    // missing keys have no loaded row: the first few by (day, key)
    let mut missing: Vec<(Date, (i32, u128))> = Vec::new();
    for (k, e) in expected {
        if kind_of(k, expected, found, mode, to).contains(&"missing") {
            missing.push((e.day, *k));
            if missing.len() > 64 * EXAMPLES_PER_KIND {
                missing.sort_by_key(|(day, k)| (*day, k.1));
                missing.truncate(EXAMPLES_PER_KIND);
            }
        }
    }
    missing.sort_by_key(|(day, k)| (*day, k.1));
    for (day, k) in missing.into_iter().take(EXAMPLES_PER_KIND) {
        chosen.push(("missing", k, day, None));
    }
    // the truth's rows of the chosen keys, from their days
    let wanted: BTreeMap<u128, ()> = chosen
        .iter()
        .filter(|(kind, ..)| matches!(*kind, "missing" | "changed"))
        .map(|(_, k, ..)| (k.1, ()))
        .collect();
    let mut truth: HashMap<u128, Vec<Val>> = HashMap::new();
    let days: std::collections::BTreeSet<Date> = chosen
        .iter()
        .filter(|(_, k, ..)| wanted.contains_key(&k.1))
        .map(|(_, _, day, _)| *day)
        .collect();
    for day in days {
        struct Find<'a> {
            table: &'static TableDef,
            shape: &'a Shape,
            wanted: &'a BTreeMap<u128, ()>,
            truth: &'a mut HashMap<u128, Vec<Val>>,
            buf: Vec<u8>,
        }
        impl RowSink for Find<'_> {
            type Error = std::convert::Infallible;
            fn row<R: Row>(&mut self, row: &R) -> Result<(), Self::Error> {
                let mut c = Collector::new(self.table);
                let values = c.collect(row);
                let f = self.shape.fingerprint(values, &mut self.buf);
                if self.wanted.contains_key(&f.key) {
                    self.truth.insert(f.key, values.to_vec());
                }
                Ok(())
            }
        }
        let mut sink = Find {
            table,
            shape,
            wanted: &wanted,
            truth: &mut truth,
            buf: Vec::new(),
        };
        let Ok(()) = scenario.generate(table, day, Shard::ALL, View::Extract, &mut sink);
    }
    let mut out: Vec<Example> = chosen
        .into_iter()
        .filter_map(|(kind, k, day, loaded)| {
            let values = loaded.as_ref().or_else(|| truth.get(&k.1))?;
            let columns = match (kind, &loaded, truth.get(&k.1)) {
                ("changed", Some(l), Some(t)) => table
                    .columns
                    .iter()
                    .enumerate()
                    .filter(|(i, c)| c.ty != LogicalType::Json && l[*i] != t[*i])
                    .map(|(i, c)| ColumnDiff {
                        column: c.name,
                        expected: render(c.ty, &t[i]),
                        found: render(c.ty, &l[i]),
                    })
                    .collect(),
                _ => Vec::new(),
            };
            Some(Example {
                kind,
                day,
                key: shape
                    .key
                    .iter()
                    .map(|&i| {
                        let c = &table.columns[i];
                        format!("{}={}", c.name, render(c.ty, &values[i]))
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                columns,
            })
        })
        .collect();
    let order = |k: &str| {
        ["missing", "duplicated", "stale", "changed", "unexpected"]
            .iter()
            .position(|x| *x == k)
    };
    out.sort_by(|a, b| (order(a.kind), a.day, &a.key).cmp(&(order(b.kind), b.day, &b.key)));
    out
}

/// A canonical value as the files write it.
fn render(ty: LogicalType, v: &Val) -> String {
    match (ty, v) {
        (_, Val::Null) => "null".into(),
        (LogicalType::HexUuid, Val::Uuid(b)) => {
            String::from_utf8_lossy(&faux::Uuid(*b).hex()).into_owned()
        }
        (_, Val::Uuid(b)) => String::from_utf8_lossy(&faux::Uuid(*b).hyphenated()).into_owned(),
        (LogicalType::Date, Val::Int(d)) => Date::from_days_since_epoch(*d as i32).to_string(),
        (LogicalType::Timestamp, Val::Int(s)) => faux::Timestamp(*s).to_string(),
        (LogicalType::Decimal { scale, .. }, Val::Int(u)) => {
            let p = 10i64.pow(scale as u32);
            let sign = if *u < 0 { "-" } else { "" };
            if scale == 0 {
                u.to_string()
            } else {
                format!(
                    "{sign}{}.{:0width$}",
                    (u / p).abs(),
                    (u % p).abs(),
                    width = scale as usize
                )
            }
        }
        (_, Val::Int(i)) => i.to_string(),
        (_, Val::Bool(b)) => b.to_string(),
        (_, Val::Text(s)) => s.clone(),
    }
}
