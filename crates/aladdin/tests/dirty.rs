//! `--dirty`: defects planted over the daily extract, their manifest, and grading a cleaning
//! pipeline with `verify --dirty` — the naive load fails, the example dbt project
//! (examples/dirty_dbt) that cleans the `realistic` profile in PostgreSQL passes.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use common::{BIN, aladdin, assert_same_tree, ok, parse_csv, stderr, tree};
use test_support::pg::{self, FreshDb};
use test_support::tools::repo_root;

/// The shop's opening week: every order of the range is placed in it, with its lines.
const FROM: &str = "2020-01-01";
const TO: &str = "2020-01-07";

fn generate(out: &Path, extra: &[&str]) {
    let out = out.to_str().unwrap();
    ok(&[
        &[
            "generate",
            "--scenario",
            "ecommerce",
            "--from",
            FROM,
            "--to",
            TO,
            "-q",
            "--out",
            out,
        ][..],
        extra,
    ]
    .concat());
}

fn manifest(dir: &Path) -> Vec<serde_json::Value> {
    let mut all = Vec::new();
    for (path, bytes) in tree(&dir.join("_defects")) {
        assert!(path.ends_with(".jsonl"), "{path}");
        for line in String::from_utf8(bytes).unwrap().lines() {
            all.push(serde_json::from_str(line).unwrap());
        }
    }
    all
}

/// The rows of a table's CSV partitions, keyed by day and primary key text (`D/a|b`), every
/// copy.
fn rows_by_key(
    dir: &Path,
    table: &faux::TableDef,
) -> BTreeMap<String, Vec<BTreeMap<String, String>>> {
    let mut out: BTreeMap<String, Vec<BTreeMap<String, String>>> = BTreeMap::new();
    for (path, _) in tree(&dir.join(table.name)) {
        let day = path
            .split('/')
            .next()
            .unwrap()
            .trim_start_matches("date=")
            .to_string();
        let (header, rows) = parse_csv(&std::fs::read(dir.join(table.name).join(&path)).unwrap());
        for r in rows {
            let row: BTreeMap<String, String> = header.iter().cloned().zip(r).collect();
            let key: Vec<&str> = table.primary_key.iter().map(|k| row[*k].as_str()).collect();
            out.entry(format!("{day}/{}", key.join("|")))
                .or_default()
                .push(row);
        }
    }
    out
}

#[test]
fn dirty_off_writes_the_clean_bytes() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for (dir, extra) in [(&a, &[][..]), (&b, &["--dirty", "off"][..])] {
        let out = dir.path().to_str().unwrap();
        ok(&[
            &[
                "generate",
                "--scenario",
                "shiny-rocks",
                "--date",
                "2024-03-01",
                "-q",
                "--out",
                out,
            ][..],
            extra,
        ]
        .concat());
    }
    assert_same_tree(&tree(a.path()), &tree(b.path()));
    assert!(!b.path().join("_defects").exists());
    // a clean rerun over a dirty folder leaves no manifest of defects it no longer holds
    let out = b.path().to_str().unwrap();
    let day = [
        "generate",
        "--scenario",
        "shiny-rocks",
        "--date",
        "2024-03-01",
        "-q",
        "--out",
        out,
    ];
    ok(&[&day[..], &["--dirty", "nasty"]].concat());
    assert!(
        tree(&b.path().join("_defects"))
            .values()
            .any(|m| !m.is_empty())
    );
    ok(&day);
    assert!(tree(&b.path().join("_defects")).is_empty());
    let without_manifest = |t: BTreeMap<String, Vec<u8>>| -> BTreeMap<String, Vec<u8>> {
        t.into_iter()
            .filter(|(p, _)| !p.starts_with("_defects/"))
            .collect()
    };
    assert_same_tree(&tree(a.path()), &without_manifest(tree(b.path())));
}

#[test]
fn the_same_seed_and_profile_plant_the_same_defects_byte_for_byte() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    generate(
        dirs[0].path(),
        &[
            "--dirty",
            "nasty",
            "--threads",
            "1",
            "--tables",
            "orders,order_items,customers",
        ],
    );
    generate(
        dirs[1].path(),
        &[
            "--dirty",
            "nasty",
            "--threads",
            "3",
            "--tables",
            "orders,order_items,customers",
        ],
    );
    generate(
        dirs[2].path(),
        &[
            "--dirty",
            "nasty",
            "--seed",
            "7",
            "--tables",
            "orders,order_items,customers",
        ],
    );
    let (a, b, c) = (
        tree(dirs[0].path()),
        tree(dirs[1].path()),
        tree(dirs[2].path()),
    );
    assert_same_tree(&a, &b);
    let defects = |t: &BTreeMap<String, Vec<u8>>| -> Vec<u8> {
        t.iter()
            .filter(|(p, _)| p.starts_with("_defects/"))
            .flat_map(|(_, b)| b.clone())
            .collect()
    };
    assert!(!defects(&a).is_empty());
    assert_ne!(
        defects(&a),
        defects(&c),
        "another seed plants other defects"
    );
    // a day generated alone gets the defects it got in the range
    let alone = tempfile::tempdir().unwrap();
    ok(&[
        "generate",
        "--scenario",
        "ecommerce",
        "--date",
        "2020-01-03",
        "-q",
        "--dirty",
        "nasty",
        "--tables",
        "orders,order_items,customers",
        "--out",
        alone.path().to_str().unwrap(),
    ]);
    for (path, bytes) in tree(alone.path()) {
        if path != "_manifest.json" {
            assert_eq!(Some(&bytes), a.get(&path), "{path}");
        }
    }
}

/// Each defect of the manifest is where it says, with the dirty value it names, and the clean
/// data (`--dirty off`, what `aladdin truth` counts) has the clean value it names.
#[test]
fn every_kind_of_planted_defect_is_detectable_from_the_manifest() {
    let (dirty, clean) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    generate(dirty.path(), &["--dirty", "nasty"]);
    generate(clean.path(), &[]);
    let scenario = faux::Scenario::by_name("ecommerce", faux::DEFAULT_SEED).unwrap();
    let defects = manifest(dirty.path());
    let kinds: BTreeSet<&str> = defects
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    let all: BTreeSet<&str> = faux::dirty::DefectKind::ALL
        .iter()
        .map(|k| k.name())
        .collect();
    assert_eq!(kinds, all, "every kind is planted by nasty");
    let mut cache = BTreeMap::new();
    for d in &defects {
        let table = scenario.table(d["table"].as_str().unwrap()).unwrap();
        let (dirty_rows, clean_rows) = cache.entry(table.name).or_insert_with(|| {
            (
                rows_by_key(dirty.path(), table),
                rows_by_key(clean.path(), table),
            )
        });
        let key = format!(
            "{}/{}",
            d["day"].as_str().unwrap(),
            d["key"].as_str().unwrap()
        );
        let found = dirty_rows.get(&key).cloned().unwrap_or_default();
        let truth = clean_rows.get(&key).cloned().unwrap_or_default();
        match d["kind"].as_str().unwrap() {
            "orphan" => {
                assert_eq!(found.len(), 1, "{d}");
                assert!(truth.is_empty(), "{d}: the clean data has no such line");
                let parent = table.parent.unwrap();
                let orders = rows_by_key(dirty.path(), scenario.table(parent.table).unwrap());
                let order = &found[0][parent.column];
                assert!(
                    !orders.keys().any(|k| k.ends_with(&format!("/{order}"))),
                    "{d}: its order arrived"
                );
            }
            "exact_duplicate" => {
                assert!(found.len() > truth.len(), "{d}");
                assert!(
                    found.iter().filter(|r| truth.contains(r)).count() >= 2,
                    "{d}"
                );
            }
            _ => {
                let column = d["column"].as_str().unwrap();
                let value = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
                assert!(
                    found.iter().any(|r| r[column] == value(&d["dirty"])),
                    "{d}: not in {found:?}"
                );
                assert!(
                    truth.iter().any(|r| r[column] == value(&d["clean"])),
                    "{d}: not in {truth:?}"
                );
                assert!(
                    !truth.iter().any(|r| r[column] == value(&d["dirty"])),
                    "{d}"
                );
            }
        }
    }
}

/// Loading the dirty files as they are fails the grade, per kind; the clean data itself (a
/// perfect cleaner) passes it, so the grade can be passed.
#[test]
fn a_naive_load_fails_verify_dirty_and_the_clean_data_passes_it() {
    let (dirty, clean) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let tables = "customers,orders,order_items,payments";
    generate(dirty.path(), &["--dirty", "realistic", "--tables", tables]);
    generate(clean.path(), &["--tables", tables]);
    let grade = |dir: &Path| {
        aladdin(&[
            "verify",
            "--dirty",
            "realistic",
            "--scenario",
            "ecommerce",
            "--from",
            FROM,
            "--to",
            TO,
            "--tables",
            tables,
            "--json",
            "--against",
            dir.to_str().unwrap(),
        ])
    };
    let naive = grade(dirty.path());
    assert_eq!(naive.status.code(), Some(1), "{}", stderr(&naive));
    let report: serde_json::Value = serde_json::from_slice(&naive.stdout).unwrap();
    assert_eq!(report["passed"], false);
    let mut left_in = BTreeSet::new();
    for (table, t) in report["tables"].as_object().unwrap() {
        for (kind, g) in t["defects"].as_object().unwrap() {
            assert_eq!(
                g["fixed"].as_u64().unwrap() + g["left_in"].as_u64().unwrap(),
                g["planted"].as_u64().unwrap(),
                "{table} {kind}"
            );
            if g["left_in"].as_u64().unwrap() > 0 {
                left_in.insert(kind.clone());
            }
        }
    }
    for kind in [
        "exact_duplicate",
        "orphan",
        "amount_in_cents",
        "enum_case",
        "malformed_email",
    ] {
        assert!(
            left_in.contains(kind),
            "{kind} left in by the naive load: {report:#}"
        );
    }
    let perfect = grade(clean.path());
    assert!(
        perfect.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&perfect.stdout),
        stderr(&perfect)
    );
    // usage: off grades nothing
    let off = aladdin(&[
        "verify",
        "--dirty",
        "off",
        "--from",
        FROM,
        "--to",
        TO,
        "--against",
        clean.path().to_str().unwrap(),
    ]);
    assert_eq!(off.status.code(), Some(2));
    assert!(stderr(&off).contains("off"), "{}", stderr(&off));
}

const CLEANED: [&str; 5] = [
    "customers",
    "orders",
    "order_items",
    "payments",
    "shipments",
];

#[test]
fn the_example_dbt_project_cleans_the_realistic_profile() {
    let test = "the_example_dbt_project_cleans_the_realistic_profile";
    let Some(dbt) = test_support::require(test, test_support::tools::dbt()) else {
        return;
    };
    let Some(db) = FreshDb::create(test) else {
        return;
    };
    // land the dirty JSON Lines as they are: every column text, every day appended
    let files = tempfile::tempdir().unwrap();
    let landed = [&CLEANED[..], &["products"]].concat();
    generate(
        files.path(),
        &[
            "--dirty",
            "realistic",
            "--format",
            "jsonl",
            "--tables",
            &landed.join(","),
        ],
    );
    let scenario = faux::Scenario::by_name("ecommerce", faux::DEFAULT_SEED).unwrap();
    let pg = db.connect();
    pg.exec("CREATE SCHEMA raw");
    for name in &landed {
        let table = scenario.table(name).unwrap();
        let columns: Vec<String> = table
            .columns
            .iter()
            .map(|c| format!("\"{}\" text", c.name))
            .collect();
        pg.exec(&format!("CREATE TABLE raw.{name} ({})", columns.join(", ")));
        for (path, bytes) in tree(&files.path().join(name)) {
            let text = String::from_utf8(bytes).unwrap();
            let rows: Vec<serde_json::Value> = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            assert!(!text.contains("$j$"), "{path}");
            // JSON numbers and booleans land as their text, like a loader that types nothing
            pg.exec(&format!(
                "INSERT INTO raw.{name} SELECT * FROM json_populate_recordset(null::raw.{name}, $j${}$j$)",
                serde_json::Value::Array(rows)
            ));
        }
    }
    let project = repo_root().join("examples/dirty_dbt");
    let work = tempfile::tempdir().unwrap();
    let run = Command::new(&dbt)
        .arg("build")
        .arg("--project-dir")
        .arg(&project)
        .arg("--profiles-dir")
        .arg(&project)
        .arg("--target-path")
        .arg(work.path().join("target"))
        .arg("--log-path")
        .arg(work.path().join("logs"))
        .env("DIRTY_PG_HOST", pg::HOST)
        .env("DIRTY_PG_PORT", pg::PORT.to_string())
        .env("DIRTY_PG_USER", pg::USER)
        .env("DIRTY_PG_DATABASE", &db.name)
        .env("DIRTY_SCHEMA", "clean")
        .env("DIRTY_RAW_SCHEMA", "raw")
        .env("DO_NOT_TRACK", "1")
        .output()
        .expect("dbt runs");
    assert!(
        run.status.success(),
        "dbt build failed:\n{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let verify = |schema: &str, dirty: bool| {
        let url = db.url();
        let tables = CLEANED.join(",");
        let mut args = vec![
            "verify",
            "--scenario",
            "ecommerce",
            "--from",
            FROM,
            "--to",
            TO,
            "--tables",
            &tables,
            "--against",
            &url,
            "--schema",
            schema,
        ];
        if dirty {
            args.extend(["--dirty", "realistic"]);
        }
        Command::new(BIN).args(&args).output().unwrap()
    };
    // the raw landing is the naive load: it fails
    let naive = verify("raw", true);
    assert_eq!(
        naive.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&naive.stdout)
    );
    // the cleaned tables pass the grade, and are the truth's current state, row for row
    let graded = verify("clean", true);
    let report = String::from_utf8_lossy(&graded.stdout);
    assert!(graded.status.success(), "{report}\n{}", stderr(&graded));
    for kind in faux::dirty::DefectKind::ALL {
        // every kind is planted in the cleaned tables of the range, and graded
        assert!(
            report.contains(&format!(" {kind} ")),
            "no {kind} planted in the test range:\n{report}"
        );
    }
    let plain = verify("clean", false);
    assert!(
        plain.status.success(),
        "{}",
        String::from_utf8_lossy(&plain.stdout)
    );
}
