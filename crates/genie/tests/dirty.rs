//! `genie --dirty`: the rows served carry the defects the manifest names (and nothing it
//! does not), the same seed and profile plant the same defects, a store refuses another
//! profile, and a warehouse loaded from a dirty genie is graded by `aladdin verify --dirty`:
//! a naive load fails, the load cleaned with the manifest passes, and plain `verify` (the
//! clean truth) agrees with the cleaned load.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::Arc;

use common::{App, Opts, spawn_config};
use faux::dirty::Profile;
use serde_json::Value;
use test_support::pg::FreshDb;

#[path = "common/clients.rs"]
mod shared;

/// A served value as the manifest writes it (decimals compared as numbers: the API writes
/// them as JSON numbers).
fn same_value(served: &Value, manifest: &Value) -> bool {
    match (served, manifest) {
        (Value::Null, Value::Null) => true,
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Number(a), Value::String(b)) => {
            b.parse::<f64>().ok() == a.as_f64() || a.to_string() == *b
        }
        (Value::Bool(a), Value::String(b)) => a.to_string() == *b,
        _ => false,
    }
}

async fn dirty_app(profile: Profile) -> App {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::config(dir.path(), &Opts::default());
    cfg.dirty = profile;
    spawn_config(cfg, dir, None).await
}

/// A manifest's entries as a set: `entry` numbers follow the order rows were written in, and
/// a first fill writes days as its threads finish them.
fn without_entry(v: Vec<Value>) -> Vec<Value> {
    let mut v: Vec<Value> = v
        .into_iter()
        .map(|mut e| {
            e.as_object_mut().unwrap().remove("entry");
            e
        })
        .collect();
    v.sort_by_key(|e| e.to_string());
    v
}

/// Every entry of the manifest, paging with `after`.
async fn manifest(app: &App, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let r = app
            .get(&format!(
                "/v1/dirty/manifest?limit=1000&after={after}{query}"
            ))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let data = r.body["data"].as_array().unwrap().clone();
        out.extend(data);
        if !r.body["has_more"].as_bool().unwrap() {
            return out;
        }
        after = r.body["next_after"].as_i64().unwrap();
    }
}

#[tokio::test]
async fn the_rows_served_carry_the_defects_the_manifest_names_the_same_for_the_same_seed() {
    let app = dirty_app(Profile::Nasty).await;
    let all = manifest(&app, "").await;
    let kinds: BTreeMap<String, usize> = all.iter().fold(BTreeMap::new(), |mut m, e| {
        *m.entry(e["kind"].as_str().unwrap().to_string())
            .or_default() += 1;
        m
    });
    // what a keyed API can serve: no copies under one key, no late files, no legacy export
    let servable: BTreeSet<&str> = [
        "null",
        "malformed_email",
        "malformed_phone",
        "enum_case",
        "amount_in_cents",
        "orphan",
        "abandoned_cart_line",
    ]
    .into();
    for k in kinds.keys() {
        assert!(servable.contains(k.as_str()), "{k} served: {kinds:?}");
    }
    for k in &servable {
        assert!(kinds.contains_key(*k), "no {k} planted: {kinds:?}");
    }

    // each defect is in the row served under its id
    let mut checked = BTreeMap::<String, usize>::new();
    for e in &all {
        let kind = e["kind"].as_str().unwrap();
        if checked.get(kind).copied().unwrap_or(0) >= 25 {
            continue;
        }
        *checked.entry(kind.into()).or_default() += 1;
        let (table, id) = (e["table"].as_str().unwrap(), e["row_id"].as_str().unwrap());
        let r = app.get(&format!("/v1/{table}/{id}")).await;
        assert_eq!(r.status, 200, "{e}: {}", r.body);
        match e["column"].as_str() {
            Some(col) => assert!(
                same_value(&r.body[col], &e["dirty"]) && !same_value(&r.body[col], &e["clean"]),
                "{e}: served {}",
                r.body[col]
            ),
            None => {
                // a row that should not exist: an orphan's order never arrives
                let order = r.body["order_id"].as_str().unwrap();
                let parent = app.get(&format!("/v1/orders/{order}")).await;
                let want = if kind == "orphan" { 404 } else { 200 };
                assert_eq!(parent.status, want, "{e}");
            }
        }
    }

    // scoped to the tables asked (and an unknown one named)
    let orders = manifest(&app, "&tables=orders").await;
    assert!(!orders.is_empty());
    assert!(orders.iter().all(|e| e["table"] == "orders"));
    assert_eq!(
        orders.len(),
        all.iter().filter(|e| e["table"] == "orders").count()
    );
    let bad = app.get("/v1/dirty/manifest?tables=orders,nope").await;
    assert_eq!(bad.status, 400);
    assert!(bad.body["detail"].as_str().unwrap().contains("\"nope\""));
    // and to what the key may read
    let (_, narrow) = app
        .run
        .store
        .create_key("narrow", &["read:customers".into()])
        .unwrap();
    let r = app
        .get_with("/v1/dirty/manifest?limit=1000", Some(&narrow))
        .await;
    let tables: BTreeSet<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["table"].as_str().unwrap())
        .collect();
    assert_eq!(tables, BTreeSet::from(["customers"]));

    // documented: the manifest, and the feed's filter
    let doc = app.get("/openapi.json").await.body;
    assert!(doc["paths"]["/v1/dirty/manifest"]["get"].is_object());
    let params = doc["paths"]["/v1/changes"]["get"]["parameters"]
        .as_array()
        .unwrap();
    assert!(params.iter().any(|p| p["name"] == "tables"), "{params:?}");

    // the data folder's log holds every defect planted
    let log = std::fs::read_to_string(app.dir.path().join("data/dirty-manifest.jsonl")).unwrap();
    assert!(log.lines().count() >= all.len(), "{}", log.lines().count());

    // the same seed and profile: the same defects and rows, byte for byte
    let twin = dirty_app(Profile::Nasty).await;
    assert_eq!(
        without_entry(manifest(&twin, "").await),
        without_entry(all.clone())
    );
    for t in ["customers", "orders", "order_items", "payments"] {
        let page = format!("/v1/{t}?limit=1000&include_deleted=true");
        let (a, b) = (app.get(&page).await, twin.get(&page).await);
        assert_eq!(a.body["data"], b.body["data"], "{t}");
    }
    // another profile plants other defects; off plants none
    let light = dirty_app(Profile::Light).await;
    let fewer = manifest(&light, "").await;
    assert!(
        !fewer.is_empty() && fewer.len() < all.len() / 3,
        "{}",
        fewer.len()
    );
    let clean = dirty_app(Profile::Off).await;
    let r = clean.get("/v1/dirty/manifest").await;
    assert_eq!(r.body["dirty"], "off");
    assert_eq!(r.body["data"], serde_json::json!([]));
}

/// Every entry is in the row served under its id, and says what the row's clean value is.
async fn check_entries_are_served(app: &App, all: &[Value], per_kind: usize) {
    let mut checked = BTreeMap::<String, usize>::new();
    for e in all {
        let kind = e["kind"].as_str().unwrap();
        if checked.get(kind).copied().unwrap_or(0) >= per_kind {
            continue;
        }
        *checked.entry(kind.into()).or_default() += 1;
        let (table, id) = (e["table"].as_str().unwrap(), e["row_id"].as_str().unwrap());
        let r = app.get(&format!("/v1/{table}/{id}")).await;
        assert_eq!(r.status, 200, "{e}: {}", r.body);
        if let Some(col) = e["column"].as_str() {
            assert!(
                same_value(&r.body[col], &e["dirty"]) && !same_value(&r.body[col], &e["clean"]),
                "{e}: served {}",
                r.body[col]
            );
        }
    }
}

/// On a running clock, the rows captured tick by tick are planted too, and a row's newer
/// version replaces its entries: every entry still names what is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_plants_what_it_captures_and_a_new_version_replaces_its_defects() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::config(
        dir.path(),
        &Opts {
            speed: 7200.0,
            ..Opts::default()
        },
    );
    cfg.dirty = Profile::Nasty;
    let app = spawn_config(cfg, dir, None).await;
    let start = app.get("/healthz").await.body["as_of"].clone();
    // a few virtual hours of orders changing
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    app.run
        .clock
        .paused
        .store(true, std::sync::atomic::Ordering::SeqCst);
    // (a tick under way finishes)
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_ne!(app.get("/healthz").await.body["as_of"], start);
    let all = manifest(&app, "").await;
    let live: Vec<Value> = all
        .iter()
        .filter(|e| e["seq"].as_i64() > Some(0))
        .cloned()
        .collect();
    assert!(live.len() > 10, "{} planted by the clock", live.len());
    check_entries_are_served(&app, &live, 50).await;
    // one entry per (row, column) served now: a newer version replaced the older's
    let mut seen = BTreeSet::new();
    for e in &all {
        let k = (
            e["table"].to_string(),
            e["key"].to_string(),
            e["column"].to_string(),
        );
        assert!(seen.insert(k), "twice: {e}");
    }
}

/// A PostgreSQL store plants and serves the same defects as an SQLite one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_store_serves_the_same_defects() {
    let Some(db) = FreshDb::create("a_postgres_store_serves_the_same_defects") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::config(dir.path(), &Opts::default());
    cfg.dirty = Profile::Realistic;
    let pg = spawn_config(cfg, dir, Some(&db.url())).await;
    let lite = dirty_app(Profile::Realistic).await;
    let (a, b) = (manifest(&pg, "").await, manifest(&lite, "").await);
    assert!(!a.is_empty());
    assert_eq!(without_entry(a.clone()), without_entry(b));
    check_entries_are_served(&pg, &a, 10).await;
}

/// A store filled with one profile refuses another, naming both (as a scenario or seed
/// mismatch is refused); a store filled clean refuses a dirty restart.
#[tokio::test]
async fn a_store_refuses_another_dirty_profile() {
    for (filled, wanted) in [
        (Profile::Nasty, Profile::Light),
        (Profile::Off, Profile::Nasty),
    ] {
        let app = dirty_app(filled).await;
        let data = app.dir.path().join("data");
        let (scenario, identity) =
            genie::load_scenario(&app.dir.path().join("shop.toml").display().to_string(), 7)
                .unwrap();
        let store = genie::Store::open(&data).unwrap();
        let scenario = Arc::new(scenario);
        store.bind_scenario(&scenario, &identity).unwrap();
        let e = store
            .bind_dirty(scenario, wanted, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("--dirty {filled}")) && e.contains(wanted.name()),
            "{e}"
        );
    }
}

const TABLES: [&str; 4] = ["customers", "orders", "order_items", "payments"];

/// Loads every row genie serves of `TABLES` into schema `raw` of `db`, text columns, as a
/// plain HTTP loader does (no cleaning).
fn naive_load(g: &shared::Genie, db: &FreshDb) {
    let pg = db.connect();
    pg.exec("CREATE SCHEMA raw");
    let scenario =
        faux::Scenario::from_toml("shop.toml", shared::SHOP, faux::DEFAULT_SEED).unwrap();
    for t in TABLES {
        let def = scenario.table(t).unwrap();
        let cols: Vec<&str> = def.columns.iter().map(|c| c.name).collect();
        pg.exec(&format!(
            "CREATE TABLE raw.{t} ({})",
            cols.iter()
                .map(|c| format!("\"{c}\" TEXT"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let mut path = format!("/v1/{t}?limit=1000&include_deleted=true");
        loop {
            let page = g.get(&path);
            let rows: Vec<String> = page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    let values: Vec<String> = cols
                        .iter()
                        .map(|c| match &r[*c] {
                            Value::Null => "NULL".into(),
                            Value::String(s) => quote(s),
                            other => quote(&other.to_string()),
                        })
                        .collect();
                    format!("({})", values.join(", "))
                })
                .collect();
            if !rows.is_empty() {
                pg.exec(&format!("INSERT INTO raw.{t} VALUES {}", rows.join(", ")));
            }
            match page["next_cursor"].as_str() {
                Some(c) => path = format!("/v1/{t}?limit=1000&include_deleted=true&cursor={c}"),
                None => break,
            }
        }
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Cleans schema `raw` with the manifest: restores each value, drops each row that should
/// not exist.
fn clean_with_manifest(g: &shared::Genie, db: &FreshDb) -> usize {
    let scenario =
        faux::Scenario::from_toml("shop.toml", shared::SHOP, faux::DEFAULT_SEED).unwrap();
    let pg = db.connect();
    let mut after = 0;
    let mut n = 0;
    loop {
        let page = g.get(&format!(
            "/v1/dirty/manifest?limit=1000&after={after}&tables={}",
            TABLES.join(",")
        ));
        for e in page["data"].as_array().unwrap() {
            n += 1;
            let t = e["table"].as_str().unwrap();
            let def = scenario.table(t).unwrap();
            let key = e["key"].as_str().unwrap();
            let cond: Vec<String> = def
                .primary_key
                .iter()
                .zip(key.split('|'))
                .map(|(c, v)| format!("\"{c}\" = {}", quote(v)))
                .collect();
            let cond = cond.join(" AND ");
            match e["column"].as_str() {
                Some(col) => {
                    let clean = e["clean"].as_str().map_or("NULL".into(), quote);
                    pg.exec(&format!(
                        "UPDATE raw.{t} SET \"{col}\" = {clean} WHERE {cond}"
                    ));
                }
                None => pg.exec(&format!("DELETE FROM raw.{t} WHERE {cond}")),
            }
        }
        if !page["has_more"].as_bool().unwrap() {
            return n;
        }
        after = page["next_after"].as_i64().unwrap();
    }
}

fn verify(
    aladdin: &std::path::Path,
    g: &shared::Genie,
    db: &FreshDb,
    dirty: bool,
) -> (bool, Value) {
    let mut cmd = Command::new(aladdin);
    cmd.args(["verify", "--scenario"])
        .arg(g.dir.path().join("shop.toml"))
        .args(["--against", &db.url(), "--schema", "raw"])
        .args(["--from", "2024-01-01", "--to", "2024-01-03", "--json"])
        .args(["--tables", &TABLES.join(",")]);
    if dirty {
        cmd.args(["--dirty", "realistic"]);
    }
    let out = shared::run(&mut cmd, "aladdin verify");
    let report = shared::text(&out.stdout);
    let doc = serde_json::from_str(&report)
        .unwrap_or_else(|e| panic!("{e}: {report}\n{}", shared::text(&out.stderr)));
    (out.status.success(), doc)
}

/// A warehouse loaded from `genie --dirty realistic` as served fails `verify --dirty`; cleaned
/// with the manifest it passes, and plain `verify` finds it equal to the clean truth.
#[test]
fn verify_dirty_grades_a_warehouse_loaded_from_a_dirty_genie() {
    let test = "verify_dirty_grades_a_warehouse_loaded_from_a_dirty_genie";
    let Some(aladdin) = shared::aladdin(test) else {
        return;
    };
    let Some(db) = FreshDb::create(test) else {
        return;
    };
    // the clock at midnight: the days graded are complete
    let g = shared::Genie::start("3d", "2024-01-04T00:00:00Z", "0", &["--dirty", "realistic"]);
    naive_load(&g, &db);
    let (passed, naive) = verify(&aladdin, &g, &db, true);
    assert!(!passed, "a naive load passed verify --dirty: {naive}");
    let left_in: u64 = TABLES
        .iter()
        .flat_map(|t| naive["tables"][t]["defects"].as_object().unwrap().values())
        .map(|k| k["left_in"].as_u64().unwrap())
        .sum();
    assert!(left_in >= 5, "{naive}");
    let (plain_passed, _) = verify(&aladdin, &g, &db, false);
    assert!(!plain_passed, "the dirty load equals the truth");

    let fixed = clean_with_manifest(&g, &db);
    assert!(fixed >= 5, "{fixed}");
    let (passed, graded) = verify(&aladdin, &g, &db, true);
    assert!(passed, "the cleaned load fails verify --dirty: {graded}");
    let (plain_passed, plain) = verify(&aladdin, &g, &db, false);
    assert!(
        plain_passed,
        "the cleaned load differs from the truth: {plain}"
    );
}
