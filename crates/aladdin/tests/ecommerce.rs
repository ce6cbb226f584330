//! The e-commerce scenario through the CLI: determinism across runs, ranges, threads, shards
//! and formats, and `aladdin truth` against the files.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{assert_same_tree, ok, parse_csv, tree};

const SMALL: &str =
    "[shop]\nopened_on = \"2024-01-01\"\n[traffic]\norganic_sessions_per_day = 200.0\n";

fn scenario_file(dir: &Path) -> PathBuf {
    let f = dir.join("small-shop.toml");
    std::fs::write(&f, SMALL).unwrap();
    f
}

fn generate(scenario: &Path, out: &Path, extra: &[&str]) {
    let mut args = vec![
        "generate",
        "--quiet",
        "--scenario",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ok(&args);
}

/// The tables of the scenario file, read from faux.
fn tables() -> Vec<&'static str> {
    faux::Scenario::from_toml("small-shop.toml", SMALL, faux::DEFAULT_SEED)
        .unwrap()
        .tables()
        .iter()
        .map(|t| t.name)
        .collect()
}

#[test]
fn runs_ranges_threads_and_views_are_deterministic() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = scenario_file(tmp.path());
    let p = |n: &str| tmp.path().join(n);
    generate(
        &sc,
        &p("a"),
        &[
            "--from",
            "2024-02-01",
            "--to",
            "2024-02-03",
            "--threads",
            "1",
        ],
    );
    generate(
        &sc,
        &p("b"),
        &[
            "--from",
            "2024-02-01",
            "--to",
            "2024-02-03",
            "--threads",
            "2",
        ],
    );
    for d in ["2024-02-03", "2024-02-01", "2024-02-02"] {
        generate(&sc, &p("days"), &["--date", d]);
    }
    let a = tree(&p("a"));
    assert_eq!(a.len(), 10 * 3 + 1);
    assert_same_tree(&a, &tree(&p("b")));
    assert_same_tree(&a, &tree(&p("days")));
    for view in [
        &["--view", "changes"][..],
        &["--view", "snapshot", "--as-of", "2024-01-20T12:00:00Z"][..],
    ] {
        let mut x = vec!["--from", "2024-01-18", "--to", "2024-01-21"];
        x.extend_from_slice(view);
        generate(&sc, &p("v1"), &x);
        let mut y = x.clone();
        y.extend_from_slice(&["--threads", "1"]);
        generate(&sc, &p("v2"), &y);
        assert_same_tree(&tree(&p("v1")), &tree(&p("v2")));
        std::fs::remove_dir_all(p("v1")).unwrap();
        std::fs::remove_dir_all(p("v2")).unwrap();
    }
}

#[test]
fn shards_concatenate_to_the_day_and_formats_agree() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = scenario_file(tmp.path());
    let whole = tmp.path().join("whole");
    generate(&sc, &whole, &["--date", "2024-02-05"]);
    generate(
        &sc,
        &whole.join("jsonl"),
        &["--date", "2024-02-05", "--format", "jsonl"],
    );
    let shards = tmp.path().join("shards");
    for i in 0..3 {
        generate(
            &sc,
            &shards,
            &["--date", "2024-02-05", "--shard", &format!("{i}/3")],
        );
    }
    for table in tables() {
        let file = |dir: &Path, i: u32, ext: &str| {
            dir.join(format!("{table}/date=2024-02-05/part-{i}.{ext}"))
        };
        let (header, rows) = parse_csv(&std::fs::read(file(&whole, 0, "csv")).unwrap());
        // a quiet day may change no product or refund anything; the busy tables always have rows
        if ["sessions", "events", "orders", "payments"].contains(&table) {
            assert!(rows.len() > 10, "{table} has only {} rows", rows.len());
        }
        let mut joined = Vec::new();
        for i in 0..3 {
            let (h, r) = parse_csv(&std::fs::read(file(&shards, i, "csv")).unwrap());
            assert_eq!(h, header);
            joined.extend(r);
        }
        assert_eq!(joined, rows, "{table}: shards");
        // JSON Lines: the same values (nulls for empty CSV fields, JSON documents parsed)
        let jsonl = std::fs::read_to_string(file(&whole.join("jsonl"), 0, "jsonl")).unwrap();
        let lines: Vec<&str> = jsonl.lines().collect();
        assert_eq!(lines.len(), rows.len(), "{table}: jsonl rows");
        for (line, row) in lines.iter().zip(&rows) {
            let obj: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(line).unwrap();
            for (col, csv) in header.iter().zip(row) {
                let v = &obj[col];
                let same = match v {
                    serde_json::Value::Null => csv.is_empty(),
                    serde_json::Value::String(s) => s == csv,
                    serde_json::Value::Object(_) => {
                        serde_json::from_str::<serde_json::Value>(csv).unwrap() == *v
                    }
                    other => {
                        csv.as_str() == other.to_string().as_str()
                            || csv.parse::<f64>().ok() == other.as_f64()
                    }
                };
                assert!(same, "{table}.{col}: jsonl {v} vs csv {csv}");
            }
        }
    }
}

fn cents(s: &str) -> i64 {
    let (int, frac) = s.split_once('.').unwrap();
    let sign = if int.starts_with('-') { -1 } else { 1 };
    sign * (int.trim_start_matches('-').parse::<i64>().unwrap() * 100
        + frac.parse::<i64>().unwrap())
}

#[test]
fn truth_agrees_with_the_generated_files() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = scenario_file(tmp.path());
    let out = tmp.path().join("out");
    generate(&sc, &out, &["--from", "2024-03-01", "--to", "2024-03-03"]);
    let truth = ok(&[
        "truth",
        "--scenario",
        sc.to_str().unwrap(),
        "--from",
        "2024-03-01",
        "--to",
        "2024-03-03",
    ]);
    let truth: serde_json::Value = serde_json::from_slice(&truth.stdout).unwrap();
    assert_eq!(truth["view"], "extract");
    let mut checked = 0;
    for day in ["2024-03-01", "2024-03-02", "2024-03-03"] {
        for table in tables() {
            let (header, rows) = parse_csv(
                &std::fs::read(out.join(format!("{table}/date={day}/part-0.csv"))).unwrap(),
            );
            let t = &truth["days"][day][table];
            assert_eq!(
                t["rows"].as_u64().unwrap(),
                rows.len() as u64,
                "{table} {day}"
            );
            let col = |name: &str| header.iter().position(|h| h == name);
            if let Some(c) = col("created_at") {
                let created = rows.iter().filter(|r| r[c].starts_with(day)).count() as u64;
                assert_eq!(
                    t["created"].as_u64().unwrap(),
                    created,
                    "{table} {day} created"
                );
                assert_eq!(
                    t["updated"].as_u64().unwrap(),
                    rows.len() as u64 - created,
                    "{table} {day} updated"
                );
            }
            if let Some(c) = col("deleted_at") {
                let deleted = rows.iter().filter(|r| r[c].starts_with(day)).count() as u64;
                assert_eq!(t["deleted"].as_u64().unwrap(), deleted);
            }
            let sums: BTreeMap<String, serde_json::Value> =
                serde_json::from_value(t["sums"].clone()).unwrap();
            for (name, value) in sums {
                let c = col(&name).unwrap();
                let from_files: i64 = rows.iter().map(|r| cents(&r[c])).sum();
                assert_eq!(
                    cents(value.as_str().unwrap()),
                    from_files,
                    "{table}.{name} {day}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 3 * 6, "money columns checked: {checked}");
}
