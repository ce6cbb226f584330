//! Helpers for the database tests: comparisons of loaded tables with `aladdin truth` (the
//! fresh database per test, and the skip-or-fail rule, are test-support's).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use faux::truth::{TableTruth, TruthSink};
use faux::{Date, LogicalType, RowSink, Scenario, TableDef};
use faux_sinks::verify::{Source, Val, ValuesRow};
use serde_json::Value;

/// The small shop the month-long tests load (about 19,000 rows a day).
pub const SMALL_SHOP: &str =
    "[shop]\nopened_on = \"2024-01-01\"\n[traffic]\norganic_sessions_per_day = 200.0\n";

pub fn small_shop(dir: &Path) -> PathBuf {
    let f = dir.join("small-shop.toml");
    std::fs::write(&f, SMALL_SHOP).unwrap();
    f
}

/// `aladdin truth … --as-of TO --from FROM --to TO`: per day, the rows created that day in
/// their state at the end of the range — what a correct upserted load holds.
pub fn snapshot_truth(scenario: &str, from: &str, to: &str) -> Value {
    truth(scenario, from, to, &["--as-of", to])
}

/// `aladdin truth` of the daily extracts (rows by the day of their partition column).
pub fn extract_truth(scenario: &str, from: &str, to: &str) -> Value {
    truth(scenario, from, to, &[])
}

fn truth(scenario: &str, from: &str, to: &str, extra: &[&str]) -> Value {
    let mut args = vec!["truth", "--scenario", scenario, "--from", from, "--to", to];
    args.extend_from_slice(extra);
    let out = crate::common::ok(&args);
    serde_json::from_slice(&out.stdout).unwrap()
}

pub fn scenario(arg: &str) -> Scenario {
    if arg.ends_with(".toml") {
        Scenario::from_toml(
            arg,
            &std::fs::read_to_string(arg).unwrap(),
            faux::DEFAULT_SEED,
        )
        .unwrap()
    } else {
        Scenario::by_name(arg, faux::DEFAULT_SEED).unwrap()
    }
}

/// Σ over the days of a truth document, per table: rows, sums (minor units) and digest.
pub fn truth_totals(truth: &Value, table: &str) -> (u64, BTreeMap<String, i64>, u64) {
    let mut rows = 0;
    let mut sums: BTreeMap<String, i64> = BTreeMap::new();
    let mut digest = 0u64;
    for day in truth["days"].as_object().unwrap().values() {
        let t = &day[table];
        rows += t["rows"].as_u64().unwrap();
        for (col, v) in t["sums"].as_object().unwrap() {
            *sums.entry(col.clone()).or_default() += units(v.as_str().unwrap());
        }
        digest =
            digest.wrapping_add(u64::from_str_radix(t["digest"].as_str().unwrap(), 16).unwrap());
    }
    (rows, sums, digest)
}

/// "1234.56" → 123456 (our money columns have two decimals).
pub fn units(s: &str) -> i64 {
    let neg = s.starts_with('-');
    let s = s.trim_start_matches('-');
    let (i, f) = s.split_once('.').unwrap_or((s, ""));
    let f = format!("{f:0<2}");
    let v = i.parse::<i64>().unwrap() * 100 + f[..2].parse::<i64>().unwrap();
    if neg { -v } else { v }
}

/// Every loaded row of `table`, as canonical values (panics on unreadable rows).
pub fn loaded_rows(source: &mut dyn Source, table: &'static TableDef) -> Vec<Vec<Val>> {
    let mut rows = Vec::new();
    source
        .read(table, None, &mut |r| rows.push(r.expect("a readable row")))
        .unwrap_or_else(|e| panic!("reading {}: {e}", table.name));
    rows
}

/// The truth of loaded rows, per day of their partition column (the truth's own sink, fed
/// with the rows read back).
pub fn loaded_truth(table: &'static TableDef, rows: &[Vec<Val>]) -> BTreeMap<Date, TableTruth> {
    let p = table
        .columns
        .iter()
        .position(|c| c.name == table.partition)
        .unwrap();
    let is_date = table.columns[p].ty == LogicalType::Date;
    let mut sinks: BTreeMap<Date, TruthSink> = BTreeMap::new();
    for r in rows {
        let Val::Int(v) = r[p] else {
            panic!("{}: no partition value", table.name)
        };
        let day = if is_date {
            Date::from_days_since_epoch(v as i32)
        } else {
            faux::Timestamp(v).date()
        };
        let sink = sinks
            .entry(day)
            .or_insert_with(|| TruthSink::new(table, day));
        let Ok(()) = sink.row(&ValuesRow { table, values: r });
    }
    sinks.into_iter().map(|(d, s)| (d, s.truth)).collect()
}

/// Asserts that what `source` holds is exactly the state at the end of `from..=to`: for every
/// table, the rows, money sums and key/version digest equal the snapshot truth's; for tables
/// whose rows never change, also per day against the daily truth. Returns rows checked.
pub fn assert_matches_truth(
    source: &mut dyn Source,
    scenario_arg: &str,
    from: &str,
    to: &str,
) -> u64 {
    let s = scenario(scenario_arg);
    let truth = snapshot_truth(scenario_arg, from, to);
    let daily = extract_truth(scenario_arg, from, to);
    let mut checked = 0;
    for &table in s.tables() {
        let rows = loaded_rows(source, table);
        let per_day = loaded_truth(table, &rows);
        let (want_rows, want_sums, want_digest) = truth_totals(&truth, table.name);
        assert_eq!(rows.len() as u64, want_rows, "{}: row count", table.name);
        assert!(want_rows > 0, "{}: the truth has no rows", table.name);
        let mut sums: BTreeMap<String, i64> = BTreeMap::new();
        let mut digest = 0u64;
        for t in per_day.values() {
            for (c, v) in &t.sums {
                *sums.entry(c.to_string()).or_default() += v;
            }
            digest = digest.wrapping_add(t.digest);
        }
        assert_eq!(sums, want_sums, "{}: money sums", table.name);
        assert_eq!(digest, want_digest, "{}: key/version digest", table.name);
        if table.cursor.is_none() {
            // rows that never change: each day holds exactly that day's extract
            for (day, t) in &per_day {
                let want = &daily["days"][day.to_string()][table.name];
                assert_eq!(
                    t.rows,
                    want["rows"].as_u64().unwrap(),
                    "{} {day}: rows",
                    table.name
                );
                assert_eq!(
                    format!("{:016x}", t.digest),
                    want["digest"].as_str().unwrap(),
                    "{} {day}: digest",
                    table.name
                );
            }
        }
        checked += rows.len() as u64;
    }
    checked
}

/// Row count and an order-independent digest of every column of every table in a schema
/// (computed by the server, independently of aladdin's readers).
pub fn pg_contents(
    pg: &test_support::pg::Pg,
    schema: &str,
    s: &Scenario,
) -> BTreeMap<&'static str, String> {
    s.tables()
        .iter()
        .map(|t| {
            let sql = format!(
                "SELECT count(*) || ' ' || coalesce(md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))), '') \
                 FROM \"{schema}\".\"{}\" t",
                t.name
            );
            (t.name, pg.one(&sql))
        })
        .collect()
}

/// Row count and a digest of every column of every table in a SQLite file, rows in a
/// canonical order (by all columns).
pub fn sqlite_contents(path: &Path, s: &Scenario) -> BTreeMap<&'static str, (usize, u64)> {
    use std::hash::{Hash, Hasher};
    let conn = rusqlite::Connection::open(path).unwrap();
    s.tables()
        .iter()
        .map(|t| {
            let cols = t.columns.len();
            let order: Vec<String> = (1..=cols).map(|i| i.to_string()).collect();
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT * FROM \"{}\" ORDER BY {}",
                    t.name,
                    order.join(", ")
                ))
                .unwrap();
            let mut rows = stmt.query([]).unwrap();
            let mut h = std::collections::hash_map::DefaultHasher::new();
            let mut n = 0;
            while let Some(r) = rows.next().unwrap() {
                for i in 0..cols {
                    format!("{:?}", r.get_ref(i).unwrap()).hash(&mut h);
                }
                n += 1;
            }
            (t.name, (n, h.finish()))
        })
        .collect()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
