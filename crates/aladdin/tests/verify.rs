//! `aladdin verify`: zero differences on correct loads (by aladdin, or by "another tool" with
//! its own column types and extra columns), and rows deliberately deleted, duplicated, rolled
//! back, changed or invented found and reported per table and day.

mod common;
mod dbtest;

use std::path::Path;

use common::{aladdin, ok};
use dbtest::small_shop;
use serde_json::Value;
use test_support::pg::FreshDb;

/// Runs `verify --json`; returns (exit code, report).
fn verify(sc: &str, against: &str, from: &str, to: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec![
        "verify",
        "--json",
        "--scenario",
        sc,
        "--against",
        against,
        "--from",
        from,
        "--to",
        to,
    ];
    args.extend_from_slice(extra);
    let out = aladdin(&args);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", dbtest::stderr(&out)));
    (out.status.code().unwrap(), report)
}

fn day<'a>(report: &'a Value, table: &str, d: &str) -> &'a Value {
    &report["tables"][table]["days"][d]
}

#[test]
fn verify_finds_what_was_done_to_a_postgres_load() {
    let Some(db) = FreshDb::create("verify_finds_what_was_done_to_a_postgres_load") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let sc = small_shop(tmp.path());
    let sc = sc.to_str().unwrap();
    let url = db.url();
    let (from, to) = ("2024-01-01", "2024-01-10");
    ok(&[
        "generate",
        "--quiet",
        "--scenario",
        sc,
        "--from",
        from,
        "--to",
        to,
        "--out",
        &url,
        "--jobs",
        "2",
    ]);
    let (code, r) = verify(sc, &url, from, to, &[]);
    assert_eq!((code, r["differences"].as_u64()), (0, Some(0)), "{r:#}");
    assert!(r["tables"]["events"]["expected"].as_u64().unwrap() > 10_000);

    // the columns other loaders add are ignored, by verify and by a reload
    let pg = db.connect();
    for t in ["customers", "events", "orders", "payments", "refunds"] {
        pg.exec(&format!(
            "ALTER TABLE {t} ADD COLUMN _dlt_load_id text DEFAULT '1700000000.1', \
             ADD COLUMN _sdc_extracted_at timestamptz, ADD COLUMN _sdc_deleted_at timestamptz"
        ));
    }
    ok(&[
        "generate",
        "--quiet",
        "--scenario",
        sc,
        "--date",
        "2024-01-04",
        "--out",
        &url,
    ]);
    let (code, r) = verify(sc, &url, from, to, &[]);
    assert_eq!((code, r["differences"].as_u64()), (0, Some(0)), "{r:#}");

    // what a broken pipeline does
    pg.exec(
        "DELETE FROM orders WHERE id IN (SELECT id FROM orders \
           WHERE updated_at >= '2024-01-05' AND updated_at < '2024-01-06' ORDER BY id LIMIT 3); \
         ALTER TABLE events DROP CONSTRAINT events_pkey; \
         INSERT INTO events SELECT * FROM events WHERE id IN (SELECT id FROM events \
           WHERE occurred_at >= '2024-01-03' AND occurred_at < '2024-01-04' ORDER BY id LIMIT 2); \
         UPDATE payments SET updated_at = updated_at - interval '1 day', status = 'authorized' \
           WHERE id IN (SELECT id FROM payments WHERE updated_at >= '2024-01-07' \
             AND updated_at < '2024-01-08' AND created_at < '2024-01-07' ORDER BY id LIMIT 2); \
         UPDATE orders SET total = total + 1 WHERE id IN (SELECT id FROM orders \
           WHERE updated_at >= '2024-01-08' AND updated_at < '2024-01-09' ORDER BY id LIMIT 1); \
         INSERT INTO order_items SELECT order_id, 99, product_id, quantity, unit_price, \
           created_at FROM order_items \
           WHERE created_at >= '2024-01-06' AND created_at < '2024-01-07' LIMIT 1;",
    );
    let (code, r) = verify(sc, &url, from, to, &[]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(day(&r, "orders", "2024-01-05")["missing"], 3, "{r:#}");
    assert_eq!(day(&r, "events", "2024-01-03")["duplicated"], 2, "{r:#}");
    assert_eq!(day(&r, "payments", "2024-01-07")["stale"], 2, "{r:#}");
    assert_eq!(day(&r, "orders", "2024-01-08")["changed"], 1, "{r:#}");
    // (an insert-only table: a rerun of its day replaces it)
    assert_eq!(
        day(&r, "order_items", "2024-01-06")["unexpected"],
        1,
        "{r:#}"
    );
    assert_eq!(r["differences"], 3 + 2 + 2 + 1 + 1, "{r:#}");
    for clean in [
        "customers",
        "products",
        "sessions",
        "shipments",
        "marketing_spend",
    ] {
        assert_eq!(r["tables"][clean]["differences"], 0, "{clean}: {r:#}");
    }

    // the text report names them too, and the exit status says so
    let out = aladdin(&[
        "verify",
        "--scenario",
        sc,
        "--against",
        &url,
        "--from",
        from,
        "--to",
        to,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text.lines()
            .any(|l| l.starts_with("payments") && l.contains("2024-01-07")),
        "{text}"
    );
    assert!(
        dbtest::stderr(&out).contains("9 differences in 4 tables"),
        "{}",
        dbtest::stderr(&out)
    );

    // rerunning the days repairs all of it: days are replaced, versions upserted
    ok(&[
        "generate",
        "--quiet",
        "--scenario",
        sc,
        "--from",
        from,
        "--to",
        to,
        "--out",
        &url,
    ]);
    let (code, r) = verify(sc, &url, from, to, &[]);
    assert_eq!((code, r["differences"].as_u64()), (0, Some(0)), "{r:#}");
}

/// Tables as another tool lands them: every column text, plus its own bookkeeping columns.
#[test]
fn verify_reads_tables_loaded_by_another_tool() {
    let Some(db) = FreshDb::create("verify_reads_tables_loaded_by_another_tool") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let files = tmp.path().join("landing");
    let (from, to) = ("2024-05-01", "2024-05-03");
    ok(&[
        "generate",
        "--quiet",
        "--scenario",
        "shiny-rocks",
        "--from",
        from,
        "--to",
        to,
        "--out",
        files.to_str().unwrap(),
    ]);
    let pg = db.connect();
    pg.exec("CREATE SCHEMA raw");
    let s = dbtest::scenario("shiny-rocks");
    for t in s.tables() {
        let cols: Vec<String> = t
            .columns
            .iter()
            .map(|c| format!("{} text", c.name))
            .collect();
        pg.exec(&format!(
            "CREATE TABLE raw.{} (_dlt_id text DEFAULT md5(random()::text), {}, _dlt_load_id text DEFAULT 'x')",
            t.name,
            cols.join(", ")
        ));
        let names: Vec<&str> = t.columns.iter().map(|c| c.name).collect();
        for part in std::fs::read_dir(files.join(t.name)).unwrap() {
            let file = part.unwrap().path().join("part-0.csv");
            let (_, rows) = common::read_csv(&file);
            for chunk in rows.chunks(2000) {
                let values: Vec<String> = chunk
                    .iter()
                    .map(|r| {
                        let v: Vec<String> = r.iter().map(|f| format!("'{f}'")).collect();
                        format!("({})", v.join(", "))
                    })
                    .collect();
                pg.exec(&format!(
                    "INSERT INTO raw.{} ({}) VALUES {}",
                    t.name,
                    names.join(", "),
                    values.join(", ")
                ));
            }
        }
    }
    let url = db.url();
    let (code, r) = verify("shiny-rocks", &url, from, to, &["--schema", "raw"]);
    assert_eq!((code, r["differences"].as_u64()), (0, Some(0)), "{r:#}");
    assert!(r["tables"]["services"]["expected"].as_u64().unwrap() > 5_000);

    pg.exec("DELETE FROM raw.services WHERE ctid IN (SELECT ctid FROM raw.services WHERE run_date = '2024-05-02' LIMIT 4)");
    let (code, r) = verify("shiny-rocks", &url, from, to, &["--schema", "raw"]);
    assert_eq!(code, 1);
    assert_eq!(day(&r, "services", "2024-05-02")["missing"], 4, "{r:#}");

    // and a missing table or column is a difference, named
    pg.exec("ALTER TABLE raw.payments DROP COLUMN amount; DROP TABLE raw.marketing_investments");
    let (code, r) = verify("shiny-rocks", &url, from, to, &["--schema", "raw"]);
    assert_eq!(code, 1);
    let problems = r["tables"]["payments"]["problems"].to_string();
    assert!(problems.contains("no column amount"), "{problems}");
    let problems = r["tables"]["marketing_investments"]["problems"].to_string();
    assert!(problems.contains("not found"), "{problems}");
}

#[test]
fn verify_finds_what_was_done_to_a_sqlite_load() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = small_shop(tmp.path());
    let sc = sc.to_str().unwrap();
    let db = tmp.path().join("shop.db");
    let url = format!("sqlite://{}", db.display());
    let (from, to) = ("2024-01-01", "2024-01-04");
    ok(&[
        "generate",
        "--quiet",
        "--scenario",
        sc,
        "--from",
        from,
        "--to",
        to,
        "--out",
        &url,
    ]);
    let (code, r) = verify(sc, &url, from, to, &[]);
    assert_eq!((code, r["differences"].as_u64()), (0, Some(0)), "{r:#}");

    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "DELETE FROM customers WHERE rowid IN (SELECT rowid FROM customers \
           WHERE updated_at >= '2024-01-02' AND updated_at < '2024-01-03' LIMIT 2); \
         UPDATE orders SET updated_at = '2023-12-31T00:00:00Z', status = 'placed' \
           WHERE rowid IN (SELECT rowid FROM orders WHERE updated_at >= '2024-01-04' LIMIT 1);",
    )
    .unwrap();
    drop(conn);
    let (code, r) = verify(sc, &url, from, to, &[]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(day(&r, "customers", "2024-01-02")["missing"], 2, "{r:#}");
    assert_eq!(day(&r, "orders", "2024-01-04")["stale"], 1, "{r:#}");
    assert_eq!(r["differences"], 3, "{r:#}");
}

fn edit_first_file(dir: &Path, table: &str, day: &str, f: impl FnOnce(Vec<String>) -> Vec<String>) {
    let path = dir
        .join(table)
        .join(format!("date={day}"))
        .join("part-0.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<String> = text.split_terminator("\r\n").map(String::from).collect();
    std::fs::write(&path, f(lines).join("\r\n") + "\r\n").unwrap();
}

#[test]
fn verify_checks_folders_of_files_in_every_format() {
    let tmp = tempfile::tempdir().unwrap();
    let (from, to) = ("2024-02-01", "2024-02-03");
    for format in ["csv", "jsonl", "parquet"] {
        let dir = tmp.path().join(format);
        ok(&[
            "generate",
            "--quiet",
            "--scenario",
            "shiny-rocks",
            "--from",
            from,
            "--to",
            to,
            "--format",
            format,
            "--out",
            dir.to_str().unwrap(),
        ]);
        let (code, r) = verify("shiny-rocks", dir.to_str().unwrap(), from, to, &[]);
        assert_eq!(
            (code, r["differences"].as_u64()),
            (0, Some(0)),
            "{format}: {r:#}"
        );
    }
    let shop = small_shop(tmp.path());
    let shop = shop.to_str().unwrap();
    let dir = tmp.path().join("shop-parquet");
    ok(&[
        "generate",
        "--quiet",
        "--scenario",
        shop,
        "--from",
        "2024-01-01",
        "--to",
        "2024-01-02",
        "--format",
        "parquet",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let (code, r) = verify(shop, dir.to_str().unwrap(), "2024-01-01", "2024-01-02", &[]);
    assert_eq!((code, r["differences"].as_u64()), (0, Some(0)), "{r:#}");

    let csv = tmp.path().join("csv");
    edit_first_file(&csv, "orders", "2024-02-02", |mut l| {
        l.remove(5);
        l
    });
    edit_first_file(&csv, "payments", "2024-02-03", |mut l| {
        let dup = l[1].clone();
        l.push(dup);
        l
    });
    let (code, r) = verify("shiny-rocks", csv.to_str().unwrap(), from, to, &[]);
    assert_eq!(code, 1);
    assert_eq!(day(&r, "orders", "2024-02-02")["missing"], 1, "{r:#}");
    assert_eq!(day(&r, "payments", "2024-02-03")["duplicated"], 1, "{r:#}");
    assert_eq!(r["differences"], 2, "{r:#}");

    // the wrong seed is nothing but differences
    let (code, r) = verify(
        "shiny-rocks",
        csv.to_str().unwrap(),
        from,
        to,
        &["--seed", "7"],
    );
    assert_eq!(code, 1);
    assert!(r["differences"].as_u64().unwrap() > 1000);

    // bad input
    let out = aladdin(&[
        "verify",
        "--against",
        "/no/such/dir",
        "--date",
        "2024-02-01",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(dbtest::stderr(&out).contains("/no/such/dir"));
    let out = aladdin(&["verify", "--against", "ftp://x", "--date", "2024-02-01"]);
    assert_eq!(out.status.code(), Some(2));
    let out = aladdin(&[
        "verify",
        "--against",
        "postgres://postgres@127.0.0.1:1/x",
        "--date",
        "2024-02-01",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(dbtest::stderr(&out).contains("cannot connect to PostgreSQL at 127.0.0.1:1/x"));
}
