//! `--database-url`: the same API over a PostgreSQL store, each test in a fresh database
//! (127.0.0.1:5432, dropped at the end). Without PostgreSQL these tests SKIP loudly, except
//! under `CI=true`, where they fail.

mod common;

use std::process::Command;

use common::*;

macro_rules! db_or_skip {
    ($name:expr) => {
        match test_support::pg::FreshDb::create($name) {
            Some(db) => db,
            None => return,
        }
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_paginate_and_look_up_like_sqlite() {
    let db = db_or_skip!("lists_paginate_and_look_up_like_sqlite");
    let app = spawn_with(Opts::default(), Some(&db.url())).await;
    assert!(app.run.store.is_postgres());
    check_cursor_walk(&app).await;
    check_page_and_offset(&app).await;
    check_filters(&app).await;
    check_single_rows(&app).await;

    // the same simulation on SQLite serves the same rows
    let lite = spawn(Opts::default()).await;
    for table in table_names() {
        let q = format!("/v1/{table}?limit=1000&include_deleted=true");
        let (pg_rows, pg_as_of) = app.walk(&q).await;
        let (sq_rows, sq_as_of) = lite.walk(&q).await;
        assert_eq!(pg_as_of, sq_as_of);
        assert_eq!(pg_rows, sq_rows, "{table}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_feed_is_ordered_and_expires() {
    let db = db_or_skip!("changes_feed_is_ordered_and_expires");
    let app = spawn_with(
        Opts {
            retention_days: 1,
            ..Opts::default()
        },
        Some(&db.url()),
    )
    .await;
    check_changes_feed(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_passes_follow_the_live_clock() {
    let db = db_or_skip!("incremental_passes_follow_the_live_clock");
    let app = spawn_with(
        Opts {
            speed: 7200.0,
            ..Opts::default()
        },
        Some(&db.url()),
    )
    .await;
    check_incremental(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_hashed_and_managed_by_the_cli() {
    let db = db_or_skip!("keys_are_hashed_and_managed_by_the_cli");
    let genie = env!("CARGO_BIN_EXE_genie");
    let out = Command::new(genie)
        .args([
            "--database-url",
            &db.url(),
            "keys",
            "create",
            "--name",
            "ci",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let secret = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(secret.starts_with("fg_live_"));
    let list = Command::new(genie)
        .args(["--database-url", &db.url(), "keys", "list"])
        .output()
        .unwrap();
    let text = String::from_utf8(list.stdout).unwrap();
    assert!(
        text.contains("ci") && text.contains(&secret[..12]),
        "{text}"
    );
    assert!(!text.contains(&secret), "the secret is never listed");
    // stored as SHA-256 only, in the genie schema
    let store = std::thread::spawn({
        let url = db.url();
        move || {
            genie::Store::open_postgres(
                faux_sinks::postgres::PgTarget::parse(&url, Some(genie::store::PG_SCHEMA)).unwrap(),
            )
            .unwrap()
        }
    })
    .join()
    .unwrap();
    let k = store
        .find_key(&secret)
        .unwrap()
        .expect("the key is found by its hash");
    let hashes = store
        .tx(false, |c| {
            c.select("SELECT hash, name FROM genie.api_keys", &[])
        })
        .unwrap();
    assert_eq!(hashes.len(), 1);
    assert_eq!(
        hashes[0][0],
        rusqlite::types::Value::Text(genie::store::hash_key(&secret))
    );
    let revoke = Command::new(genie)
        .args([
            "--database-url",
            &db.url(),
            "keys",
            "revoke",
            &k.id.to_string(),
        ])
        .output()
        .unwrap();
    assert!(revoke.status.success(), "{revoke:?}");
    assert!(
        store
            .find_key(&secret)
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    let missing = Command::new(genie)
        .args(["--database-url", &db.url(), "keys", "revoke", "999"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no API key with id 999"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_binary_restarts_with_its_keys_rows_and_clock() {
    let db = db_or_skip!("killed_binary_restarts_with_its_keys_rows_and_clock");
    let arg = format!("--database-url={}", db.url());
    check_binary_restart(&[&arg]).await;
}

#[test]
fn a_malformed_url_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_genie"))
        .args(["--database-url", "mysql://nope", "keys", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--database-url"), "{err}");
    assert!(err.contains("postgres://"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_genie"))
        .args(["--database-url", "postgres://u@h:notaport/db"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn an_unreachable_database_is_named_and_changes_nothing() {
    // nothing listens on port 1; the password is never printed
    let out = Command::new(env!("CARGO_BIN_EXE_genie"))
        .args([
            "--database-url",
            "postgres://genie:s3cret@127.0.0.1:1/nowhere",
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot connect to PostgreSQL at 127.0.0.1:1/nowhere"),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "{err}");
    assert!(!err.contains("serving"), "{err}");
}
