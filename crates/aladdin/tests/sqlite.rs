//! `aladdin generate --out sqlite://…`: the PostgreSQL sink's semantics in a file — loads
//! match the truth, reruns and out-of-order loads change nothing, bad targets give clear
//! errors.

mod common;
mod dbtest;

use std::path::Path;

use common::{aladdin, ok};
use dbtest::{assert_matches_truth, scenario, sqlite_contents};
use faux_sinks::sqlite::SqliteSource;

/// A smaller shop than the PostgreSQL tests' (about 3,400 rows a day: a debug build's SQLite
/// is compiled without optimisation and writes slowly).
const SMALLER_SHOP: &str = "[shop]\nopened_on = \"2024-01-01\"\n[traffic]\norganic_sessions_per_day = 150.0\n\
    [marketing.channels]\n\
    google_ads = { daily_budget = 60.0, scale = 9.0, elasticity = 0.72, cost_per_mille = 9.0 }\n\
    email = { daily_budget = 10.0, scale = 12.0, elasticity = 0.80, cost_per_mille = 0.5 }\n";

fn url(p: &Path) -> String {
    format!("sqlite://{}", p.display())
}

fn load(sc: &str, db: &Path, extra: &[&str]) {
    let u = url(db);
    let mut args = vec!["generate", "--quiet", "--scenario", sc, "--out", &u];
    args.extend_from_slice(extra);
    ok(&args);
}

fn month_round_trip(dir: &Path, sc: &str, from: &str, to: &str) {
    let db = dir.join("in-order.db");
    load(sc, &db, &["--from", from, "--to", to]);
    let mut source = SqliteSource::open(&db).unwrap();
    let checked = assert_matches_truth(&mut source, sc, from, to);
    assert!(checked > 10_000, "{checked} rows");
    drop(source);
    let s = scenario(sc);
    let first = sqlite_contents(&db, &s);

    load(sc, &db, &["--from", from, "--to", to]);
    assert_eq!(
        sqlite_contents(&db, &s),
        first,
        "a second load of the same days changed the tables"
    );

    let reversed = dir.join("sub/reversed.db");
    let from_d: faux::Date = from.parse().unwrap();
    let n = from_d.days_until(to.parse().unwrap());
    for i in (0..=n).rev() {
        load(sc, &reversed, &["--date", &from_d.add_days(i).to_string()]);
    }
    assert_eq!(
        sqlite_contents(&reversed, &s),
        first,
        "loading the days newest first gave other tables"
    );
}

#[test]
fn a_month_of_the_shop_matches_the_truth_in_any_order() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = tmp.path().join("smaller-shop.toml");
    std::fs::write(&sc, SMALLER_SHOP).unwrap();
    month_round_trip(tmp.path(), sc.to_str().unwrap(), "2024-01-01", "2024-01-31");
}

#[test]
fn a_month_of_shiny_rocks_matches_the_truth_in_any_order() {
    let tmp = tempfile::tempdir().unwrap();
    month_round_trip(tmp.path(), "shiny-rocks", "2024-03-01", "2024-03-31");
}

#[test]
fn foreign_keys_hold_in_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = tmp.path().join("smaller-shop.toml");
    std::fs::write(&sc, SMALLER_SHOP).unwrap();
    let sc = sc.to_str().unwrap();
    let db = tmp.path().join("fk.db");
    let range = [
        "--from",
        "2024-01-01",
        "--to",
        "2024-01-03",
        "--foreign-keys",
    ];
    load(sc, &db, &range);
    load(sc, &db, &range);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let fks: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master m, pragma_foreign_key_list(m.name) WHERE m.type = 'table'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(fks >= 10, "{fks} foreign keys");
    conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    let err = conn
        .execute(
            "INSERT INTO payments VALUES ('x', 'no-such-order', 'card', 'captured', 1, 'a', 'b')",
            [],
        )
        .unwrap_err();
    assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
    ok(&[
        "verify",
        "--quiet",
        "--scenario",
        sc,
        "--against",
        &url(&db),
        "--from",
        "2024-01-01",
        "--to",
        "2024-01-03",
    ]);
}

#[test]
fn bad_targets_give_clear_errors_and_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "generate",
            "--quiet",
            "--scenario",
            "shiny-rocks",
            "--date",
            "2024-03-01",
            "--out",
            out,
        ];
        args.extend_from_slice(extra);
        let o = aladdin(&args);
        (o.status.code(), dbtest::stderr(&o))
    };
    let expect = |(code, err): (Option<i32>, String), want_code: i32, needles: &[&str]| {
        assert_eq!(code, Some(want_code), "{err}");
        for n in needles {
            assert!(err.contains(n), "{n:?} not in: {err}");
        }
    };

    let db = tmp.path().join("x.db");
    expect(
        run(&url(&db), &["--schema", "raw"]),
        2,
        &["--schema applies to PostgreSQL only"],
    );
    expect(run(&url(&db), &["--jobs", "2"]), 2, &["--jobs"]);
    expect(
        run("sqlite://", &[]),
        2,
        &["invalid SQLite URL", "no file name"],
    );
    assert!(!db.exists(), "a usage error created the file");

    let not_db = tmp.path().join("notes.db");
    std::fs::write(
        &not_db,
        "these are not the pages you are looking for\n".repeat(100),
    )
    .unwrap();
    expect(
        run(&url(&not_db), &[]),
        1,
        &["cannot open SQLite database", "notes.db", "not a database"],
    );

    let under_file = tmp.path().join("notes.db/inner.db");
    expect(
        run(&url(&under_file), &[]),
        1,
        &["cannot open SQLite database", "inner.db"],
    );

    let existing = tmp.path().join("existing.db");
    let conn = rusqlite::Connection::open(&existing).unwrap();
    conn.execute_batch(
        "CREATE TABLE orders (order_id TEXT PRIMARY KEY, order_date INTEGER, extra TEXT NOT NULL)",
    )
    .unwrap();
    drop(conn);
    expect(
        run(&url(&existing), &[]),
        1,
        &[
            "table orders",
            "order_date: column is declared \"INTEGER\"",
            "column user_id is missing",
            "extra column extra is NOT NULL",
        ],
    );
    let conn = rusqlite::Connection::open(&existing).unwrap();
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 1, "a refused load created tables");

    // a mutable table needs a key to upsert on
    let sc = tmp.path().join("smaller-shop.toml");
    std::fs::write(&sc, SMALLER_SHOP).unwrap();
    conn.execute_batch(
        "CREATE TABLE products (id TEXT, sku TEXT, name TEXT, category TEXT, price NUMERIC, currency TEXT, active INTEGER, created_at TEXT, updated_at TEXT)",
    )
    .unwrap();
    drop(conn);
    let o = aladdin(&[
        "generate",
        "--quiet",
        "--scenario",
        sc.to_str().unwrap(),
        "--date",
        "2024-01-01",
        "--out",
        &url(&existing),
    ]);
    expect(
        (o.status.code(), dbtest::stderr(&o)),
        1,
        &["table products", "no primary key or unique index on (id)"],
    );
}
