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
    // land the dirty extracts as a loader that types nothing would: `generate --dirty
    // --out postgres://…` writes every column as text, every day appended, and `_defects`
    let pg = db.connect();
    pg.exec("CREATE SCHEMA raw");
    let landed = [&CLEANED[..], &["products"]].concat();
    let url = db.url();
    ok(&[
        "generate",
        "--scenario",
        "ecommerce",
        "--from",
        FROM,
        "--to",
        TO,
        "-q",
        "--dirty",
        "realistic",
        "--tables",
        &landed.join(","),
        "--out",
        &url,
        "--schema",
        "raw",
    ]);
    let planted = pg.one("SELECT count(*) FROM raw._defects");
    assert_ne!(planted, "0", "the manifest is in the database");
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

// ---- dirty data straight into a database: raw text tables and a `_defects` table ----

const LANDED: &str = "customers,orders,order_items,payments";

/// Rows as text cells (null as `None`), the day last.
type Cells = Vec<Option<String>>;

/// What the raw tables must hold: every row of the dirty CSV files, with its day, per table
/// (sorted); and the manifest files' records as `_defects` rows (sorted).
fn files_as_landed(dir: &Path) -> (BTreeMap<String, Vec<Cells>>, Vec<Cells>) {
    let mut tables = BTreeMap::new();
    for name in LANDED.split(',') {
        let mut rows = Vec::new();
        for (path, bytes) in tree(&dir.join(name)) {
            let day = path.split('/').next().unwrap().trim_start_matches("date=");
            let (_, records) = parse_csv(&bytes);
            for r in records {
                // a CSV cell cannot tell null from empty: the raw tables are compared the same way
                let mut cells: Cells = r.into_iter().map(Some).collect();
                cells.push(Some(day.to_string()));
                rows.push(cells);
            }
        }
        rows.sort();
        tables.insert(name.to_string(), rows);
    }
    let mut defects: Vec<Cells> = manifest(dir)
        .iter()
        .map(|d| {
            ["table", "day", "key", "column", "kind", "clean", "dirty"]
                .iter()
                .map(|c| d[*c].as_str().map(str::to_string))
                .collect()
        })
        .collect();
    defects.sort();
    (tables, defects)
}

/// A query's rows with nulls as empty text (as CSV shows them) — not for `_defects`, whose
/// nulls mean something.
fn as_csv(mut rows: Vec<Cells>) -> Vec<Cells> {
    for r in &mut rows {
        for c in r.iter_mut() {
            c.get_or_insert_with(String::new);
        }
    }
    rows.sort();
    rows
}

fn select_all(table: &faux::TableDef, qualify: &str, day_as_text: &str) -> String {
    let cols: Vec<String> = table
        .columns
        .iter()
        .map(|c| format!("\"{}\"", c.name))
        .collect();
    format!(
        "SELECT {}, {day_as_text} FROM {qualify}\"{}\"",
        cols.join(", "),
        table.name
    )
}

fn dirty_load(url: &str, extra: &[&str]) -> std::process::Output {
    aladdin(
        &[
            &[
                "generate",
                "--scenario",
                "ecommerce",
                "-q",
                "--dirty",
                "nasty",
                "--tables",
                LANDED,
                "--out",
                url,
            ][..],
            extra,
        ]
        .concat(),
    )
}

fn grade_naive(url: &str, extra: &[&str]) -> std::process::Output {
    aladdin(
        &[
            &[
                "verify",
                "--dirty",
                "nasty",
                "--scenario",
                "ecommerce",
                "--from",
                FROM,
                "--to",
                TO,
                "--tables",
                LANDED,
                "--against",
                url,
            ][..],
            extra,
        ]
        .concat(),
    )
}

/// `generate --dirty --out sqlite://…` lands exactly the rows and manifest the files hold, a
/// rerun of a day changes nothing, and the naive landing fails `verify --dirty`.
#[test]
fn dirty_data_lands_raw_in_sqlite_as_the_files_hold_it() {
    let files = tempfile::tempdir().unwrap();
    generate(files.path(), &["--dirty", "nasty", "--tables", LANDED]);
    let (expected, expected_defects) = files_as_landed(files.path());
    assert!(!expected_defects.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("raw.db");
    let url = format!("sqlite://{}", db.display());
    let range = ["--from", FROM, "--to", TO];
    let load = dirty_load(&url, &range);
    assert!(load.status.success(), "{}", stderr(&load));
    let scenario = faux::Scenario::by_name("ecommerce", faux::DEFAULT_SEED).unwrap();
    let contents = || {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let query = |sql: &str| -> Vec<Cells> {
            let mut stmt = conn.prepare(sql).unwrap();
            let n = stmt.column_count();
            stmt.query_map([], |r| {
                (0..n)
                    .map(|i| r.get::<_, Option<String>>(i))
                    .collect::<Result<Cells, _>>()
            })
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
        };
        let tables: BTreeMap<String, Vec<Cells>> = LANDED
            .split(',')
            .map(|name| {
                let t = scenario.table(name).unwrap();
                (name.to_string(), as_csv(query(&select_all(t, "", "_day"))))
            })
            .collect();
        let mut defects =
            query("SELECT \"table\", day, key, \"column\", kind, clean, dirty FROM _defects");
        defects.sort();
        (tables, defects)
    };
    let first = contents();
    assert_eq!(first.0, expected, "the raw tables hold the files' rows");
    assert_eq!(first.1, expected_defects, "_defects holds the manifest");
    // a day loaded again (a rerun, an overlapping range) replaces itself
    let again = dirty_load(&url, &["--date", "2020-01-03"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(contents(), first, "a rerun of a day changed the raw tables");

    let naive = grade_naive(&url, &[]);
    assert_eq!(naive.status.code(), Some(1), "{}", stderr(&naive));
    // a clean load cannot mix into the raw tables, nor the raw into clean ones
    let clean_db = dir.path().join("clean.db");
    let clean_url = format!("sqlite://{}", clean_db.display());
    ok(&[
        "generate",
        "--scenario",
        "ecommerce",
        "-q",
        "--date",
        FROM,
        "--tables",
        LANDED,
        "--out",
        &clean_url,
    ]);
    let mixed = dirty_load(&clean_url, &["--date", FROM]);
    assert_eq!(mixed.status.code(), Some(1), "{}", stderr(&mixed));
    assert!(stderr(&mixed).contains("text"), "{}", stderr(&mixed));
    let flags = dirty_load(&url, &["--date", FROM, "--foreign-keys"]);
    assert_eq!(flags.status.code(), Some(2), "{}", stderr(&flags));
}

/// The same into PostgreSQL: the rows and manifest the files hold, idempotent reruns, the
/// naive landing failing `verify --dirty`, a typed (clean) schema refused.
#[test]
fn dirty_data_lands_raw_in_postgres_as_the_files_hold_it() {
    let test = "dirty_data_lands_raw_in_postgres_as_the_files_hold_it";
    let Some(db) = FreshDb::create(test) else {
        return;
    };
    let files = tempfile::tempdir().unwrap();
    generate(files.path(), &["--dirty", "nasty", "--tables", LANDED]);
    let (expected, expected_defects) = files_as_landed(files.path());
    let pg = db.connect();
    pg.exec("CREATE SCHEMA raw");
    let url = db.url();
    let into_raw = ["--schema", "raw"];
    let load = dirty_load(
        &url,
        &[&into_raw[..], &["--from", FROM, "--to", TO]].concat(),
    );
    assert!(load.status.success(), "{}", stderr(&load));
    let scenario = faux::Scenario::by_name("ecommerce", faux::DEFAULT_SEED).unwrap();
    let contents = || {
        let tables: BTreeMap<String, Vec<Cells>> = LANDED
            .split(',')
            .map(|name| {
                let t = scenario.table(name).unwrap();
                (
                    name.to_string(),
                    as_csv(pg.rows(&select_all(t, "raw.", "_day::text"))),
                )
            })
            .collect();
        let mut defects = pg.rows(
            "SELECT \"table\", day::text, key, \"column\", kind, clean, dirty FROM raw._defects",
        );
        defects.sort();
        (tables, defects)
    };
    let first = contents();
    assert_eq!(first.0, expected, "the raw tables hold the files' rows");
    assert_eq!(first.1, expected_defects, "_defects holds the manifest");
    let again = dirty_load(
        &url,
        &[
            &into_raw[..],
            &["--from", "2020-01-03", "--to", "2020-01-04"],
        ]
        .concat(),
    );
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(contents(), first, "a rerun of days changed the raw tables");

    let naive = grade_naive(&url, &into_raw);
    assert_eq!(naive.status.code(), Some(1), "{}", stderr(&naive));
    // the clean load in `public` is typed: dirty rows are refused there, naming why
    ok(&[
        "generate",
        "--scenario",
        "ecommerce",
        "-q",
        "--date",
        FROM,
        "--tables",
        LANDED,
        "--out",
        &url,
    ]);
    let mixed = dirty_load(&url, &["--date", FROM]);
    assert_eq!(mixed.status.code(), Some(1), "{}", stderr(&mixed));
    assert!(
        stderr(&mixed).contains("raw table's columns are text"),
        "{}",
        stderr(&mixed)
    );
}

/// A cleaning done inside SQLite, over the raw landing of `generate --dirty --out sqlite://…`,
/// passes `verify --dirty`; the raw tables themselves fail it. (The customers: copies, padded
/// copies, malformed emails, enum casing — the dbt project's recipes, in SQLite's SQL.)
#[test]
fn a_cleaning_inside_sqlite_passes_verify_dirty() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw.db");
    let clean = dir.path().join("clean.db");
    ok(&[
        "generate",
        "--scenario",
        "ecommerce",
        "-q",
        "--dirty",
        "realistic",
        "--from",
        FROM,
        "--to",
        TO,
        "--tables",
        "customers",
        "--out",
        &format!("sqlite://{}", raw.display()),
    ]);
    let conn = rusqlite::Connection::open(&raw).unwrap();
    let planted: i64 = conn
        .query_row("SELECT count(*) FROM _defects", [], |r| r.get(0))
        .unwrap();
    assert!(planted > 0, "nothing planted in the customers");
    conn.execute("ATTACH DATABASE ?1 AS clean", [clean.to_str().unwrap()])
        .unwrap();
    conn.execute_batch(
        "CREATE TABLE clean.customers AS
         WITH typed AS (
             SELECT DISTINCT id, created_at, updated_at, deleted_at,
                 trim(first_name) AS first_name, trim(last_name) AS last_name,
                 replace(replace(lower(trim(email)), ' at ', '@'), '@@', '@') AS email,
                 trim(username) AS username, upper(trim(country)) AS country,
                 trim(city) AS city, lower(trim(persona)) AS persona, marketing_opt_in
             FROM main.customers
         ),
         newest AS (
             SELECT *, row_number() OVER (PARTITION BY id ORDER BY updated_at DESC) AS n
             FROM typed
         )
         SELECT id, created_at, updated_at, deleted_at, first_name, last_name, email,
             username, country, city, persona, marketing_opt_in
         FROM newest WHERE n = 1;",
    )
    .unwrap();
    drop(conn);
    let grade = |db: &Path| {
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
            "customers",
            "--against",
            &format!("sqlite://{}", db.display()),
        ])
    };
    let naive = grade(&raw);
    assert_eq!(naive.status.code(), Some(1), "{}", stderr(&naive));
    assert!(
        // printed only when a defect is left in
        String::from_utf8_lossy(&naive.stdout).contains("defects left in (examples):"),
        "{}",
        String::from_utf8_lossy(&naive.stdout)
    );
    let cleaned = grade(&clean);
    assert!(
        cleaned.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&cleaned.stdout),
        stderr(&cleaned)
    );
}
