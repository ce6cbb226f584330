//! `genie --dirty`: the rows served carry the defects the manifest names (and nothing it
//! does not), the same seed and profile plant the same defects, a store refuses another
//! profile, and a warehouse loaded from a dirty genie is graded by `aladdin verify --dirty`:
//! a naive load fails, the load cleaned with the manifest passes, and plain `verify` (the
//! clean truth) agrees with the cleaned load — graded against the defects regenerated from the
//! seed, and against those genie planted (`--manifest` its URL or its log).

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
    verify_with(aladdin, g, db, dirty, &[])
}

/// [`verify`] with `extra` arguments (`--manifest …`); a `GENIE_API_KEY=KEY` among them is
/// set in the environment instead.
fn verify_with(
    aladdin: &std::path::Path,
    g: &shared::Genie,
    db: &FreshDb,
    dirty: bool,
    extra: &[&str],
) -> (bool, Value) {
    let mut cmd = Command::new(aladdin);
    cmd.env_remove("GENIE_API_KEY");
    cmd.args(["verify", "--scenario"])
        .arg(g.dir.path().join("shop.toml"))
        .args(["--against", &db.url(), "--schema", "raw"])
        .args(["--from", "2024-01-01", "--to", "2024-01-03", "--json"])
        .args(["--tables", &TABLES.join(",")]);
    if dirty {
        cmd.args(["--dirty", "realistic"]);
    }
    for a in extra {
        match a.strip_prefix("GENIE_API_KEY=") {
            Some(key) => cmd.env("GENIE_API_KEY", key),
            None => cmd.arg(a),
        };
    }
    let out = shared::run(&mut cmd, "aladdin verify");
    let report = shared::text(&out.stdout);
    let doc = serde_json::from_str(&report)
        .unwrap_or_else(|e| panic!("{e}: {report}\n{}", shared::text(&out.stderr)));
    (out.status.success(), doc)
}

/// The kinds a keyed API cannot serve: copies under one key, and the defects of files.
const FILE_ONLY: [&str; 6] = [
    "exact_duplicate",
    "near_duplicate",
    "late_file",
    "mixed_timestamp",
    "latin1_encoding",
    "utf8_bom",
];

/// How many defects of `kinds` a `verify --dirty --json` report counts as planted.
fn planted(report: &Value, kinds: &[&str]) -> u64 {
    TABLES
        .iter()
        .flat_map(|t| {
            kinds
                .iter()
                .map(move |k| &report["tables"][t]["defects"][k])
        })
        .map(|g| g["planted"].as_u64().unwrap())
        .sum()
}

/// `verify --dirty --manifest` graded against genie's endpoint (the key by `--token`, or by
/// `$GENIE_API_KEY` when `env_key`) and against its data folder's log: the same grade, which
/// plants no file-only kind; returns whether it passed and the report.
fn verify_with_genies_manifest(
    aladdin: &std::path::Path,
    g: &shared::Genie,
    db: &FreshDb,
    env_key: bool,
) -> (bool, Value) {
    let env = format!("GENIE_API_KEY={}", g.key);
    let by_url: Vec<&str> = if env_key {
        vec!["--manifest", &g.url, &env]
    } else {
        vec!["--manifest", &g.url, "--token", &g.key]
    };
    let (passed, mut served) = verify_with(aladdin, g, db, true, &by_url);
    let log = g.dir.path().join("data/dirty-manifest.jsonl");
    let (log_passed, mut logged) =
        verify_with(aladdin, g, db, true, &["--manifest", log.to_str().unwrap()]);
    assert_eq!(
        served["manifest"].as_str(),
        Some(format!("{}/v1/dirty/manifest", g.url).as_str())
    );
    assert_eq!(logged["manifest"].as_str(), log.to_str());
    served.as_object_mut().unwrap().remove("manifest");
    logged.as_object_mut().unwrap().remove("manifest");
    assert_eq!(served, logged, "the endpoint and the log grade differently");
    assert_eq!(passed, log_passed);
    assert_eq!(planted(&served, &FILE_ONLY), 0, "{served}");
    (passed, served)
}

/// A warehouse loaded from `genie --dirty realistic` as served fails `verify --dirty`; cleaned
/// with the manifest it passes, and plain `verify` finds it equal to the clean truth. Graded
/// against the manifest genie planted (`--manifest` its URL, or its log), the same.
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
    // regenerated from the seed, the files' copies count as planted (and fixed)
    assert!(planted(&naive, &["exact_duplicate"]) > 0, "{naive}");
    let (passed, graded) = verify_with_genies_manifest(&aladdin, &g, &db, false);
    assert!(
        !passed,
        "a naive load passed verify --dirty --manifest: {graded}"
    );
    let left_in: u64 = TABLES
        .iter()
        .flat_map(|t| graded["tables"][t]["defects"].as_object().unwrap().values())
        .map(|k| k["left_in"].as_u64().unwrap())
        .sum();
    assert!(left_in >= 5, "{graded}");
    // what genie served is what its manifest lists: every defect of the naive load is in
    let served: u64 = planted(
        &graded,
        &[
            "null",
            "malformed_email",
            "enum_case",
            "amount_in_cents",
            "orphan",
            "abandoned_cart_line",
        ],
    );
    assert!(served >= 5, "{graded}");
    let (plain_passed, _) = verify(&aladdin, &g, &db, false);
    assert!(!plain_passed, "the dirty load equals the truth");
    // genie's manifest is of its own profile, and of a key it knows
    let refused = |args: &[&str], code: i32, says: &[&str]| {
        let out = shared::run(
            Command::new(&aladdin)
                .args(["verify", "--scenario"])
                .arg(g.dir.path().join("shop.toml"))
                .args(["--against", &db.url(), "--schema", "raw"])
                .args(["--from", "2024-01-01", "--to", "2024-01-03"])
                .args(["--tables", &TABLES.join(",")])
                .args(["--manifest", &g.url])
                .args(args)
                .env_remove("GENIE_API_KEY"),
            "aladdin verify (refused)",
        );
        let err = shared::text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        for s in says {
            assert!(err.contains(s), "{args:?}: {err}");
        }
    };
    refused(
        &["--dirty", "nasty", "--token", &g.key],
        2,
        &["--dirty realistic", "not --dirty nasty"],
    );
    refused(
        &["--dirty", "realistic", "--token", "fg_not_a_key"],
        1,
        &["/v1/dirty/manifest", "401"],
    );

    let fixed = clean_with_manifest(&g, &db);
    assert!(fixed >= 5, "{fixed}");
    let (passed, graded) = verify(&aladdin, &g, &db, true);
    assert!(passed, "the cleaned load fails verify --dirty: {graded}");
    let (passed, graded) = verify_with_genies_manifest(&aladdin, &g, &db, true);
    assert!(
        passed,
        "the cleaned load fails verify --dirty --manifest: {graded}"
    );
    // every entry the cleaning applied is graded, and fixed (or its row removed)
    let fixed_or_removed: u64 = TABLES
        .iter()
        .flat_map(|t| graded["tables"][t]["defects"].as_object().unwrap().values())
        .map(|k| k["fixed"].as_u64().unwrap() + k["removed"].as_u64().unwrap())
        .sum();
    assert!(fixed_or_removed >= 5, "{graded}");
    let (plain_passed, plain) = verify(&aladdin, &g, &db, false);
    assert!(
        plain_passed,
        "the cleaned load differs from the truth: {plain}"
    );
}

/// The window's events (from `common::config`'s start back `history_days`) up to `upto`, as
/// `aladdin generate --dirty PROFILE` writes them in the events' daily extracts (faux's own
/// planting), rendered as the API renders a row, in keyset order; and the defects of those
/// rows an API can serve (a copy under the row's own id is not served, as for every table),
/// as manifest entries without their `entry` and `seq`, keyed by row id.
fn extract_events(profile: Profile, upto: faux::Timestamp) -> (Vec<Value>, Vec<(i64, Value)>) {
    let s = common::scenario();
    let def = s.table("events").unwrap();
    let res = genie::store::resources(s);
    let t = s.table_index(def);
    let start = faux::Timestamp::parse_flexible("2024-01-04T06:00:00Z").unwrap();
    let mut rows: Vec<(i64, String, Value)> = Vec::new();
    let mut defects = Vec::new();
    let mut sort_of = BTreeMap::new();
    let mut day = start.date().add_days(-3);
    while day <= upto.date() {
        let mut sink = genie::store::StateSink::new(&res[t], t);
        let mut planted = Vec::new();
        let Ok(()) = faux::dirty::generate(
            s,
            def,
            day,
            faux::Shard::ALL,
            profile,
            &mut sink,
            &mut planted,
        );
        for p in sink.rows.iter().filter(|p| p.sort <= upto.0) {
            // a copy comes after its row, under its id: the row is served once
            if sort_of.insert(p.key.clone(), p.sort).is_none() {
                let v: Value = serde_json::from_str(&p.json(&res[t])).unwrap();
                rows.push((p.sort, p.key.clone(), v));
            }
        }
        defects.extend(planted);
        day = day.succ();
    }
    rows.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let defects = defects
        .into_iter()
        .filter(|d| !d.kind.adds_a_row())
        .filter_map(|d| {
            let sort = *sort_of.get(&d.key)?;
            let e = serde_json::json!({
                "table": d.table,
                "day": d.day.to_string(),
                "key": d.key,
                "row_id": d.key,
                "column": d.column,
                "kind": d.kind.name(),
                "clean": d.clean,
                "dirty": d.dirty,
            });
            Some((sort, e))
        })
        .collect();
    (rows.into_iter().map(|r| r.2).collect(), defects)
}

/// Manifest entries as a sorted list without `entry` and `seq`.
fn without_entry_and_seq(v: &[Value]) -> Vec<Value> {
    let v: Vec<Value> = v
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e.as_object_mut().unwrap().remove("seq");
            e
        })
        .collect();
    without_entry(v)
}

fn sorted(mut v: Vec<Value>) -> Vec<Value> {
    v.sort_by_key(|e| e.to_string());
    v
}

/// The clickstream, regenerated on read, is served with the defects `aladdin generate
/// --dirty` plants in the events' daily extracts — in lists, filters and totals, single rows
/// and the change feed alike — and the manifest (paged, narrowed to `tables=events` or not,
/// and the data folder's log) names exactly those; the same seed and profile serve the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clickstream_is_served_with_its_extracts_defects_and_the_manifest_names_them() {
    let app = dirty_app(Profile::Nasty).await;
    let as_of =
        faux::Timestamp::parse_flexible(app.get("/healthz").await.body["as_of"].as_str().unwrap())
            .unwrap();
    let (expected, defects) = extract_events(Profile::Nasty, as_of);
    assert!(expected.len() > 1000, "{} events", expected.len());
    // events have nullable ids and an enum; no decimal, email or parent
    let kinds: BTreeSet<&str> = defects
        .iter()
        .map(|(_, e)| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, BTreeSet::from(["enum_case", "null"]), "{kinds:?}");

    // lists
    let (walked, _) = app.walk("/v1/events?limit=997").await;
    assert_eq!(walked.len(), expected.len());
    assert_eq!(walked, expected);

    // the manifest: exactly those defects, seq 0 (the first fill), with or without tables=
    let events = manifest(&app, "&tables=events").await;
    let all = manifest(&app, "").await;
    let in_all: Vec<Value> = all
        .iter()
        .filter(|e| e["table"] == "events")
        .cloned()
        .collect();
    assert_eq!(in_all, events);
    assert!(events.iter().all(|e| e["seq"] == 0), "{events:?}");
    let want: Vec<Value> = sorted(defects.iter().map(|(_, e)| e.clone()).collect());
    assert!(want.len() > 20, "{} defects", want.len());
    assert_eq!(without_entry_and_seq(&events), want);
    // paged in small pages, the same entries in entry order
    let mut paged = Vec::new();
    let mut after = 0;
    loop {
        let r = app
            .get(&format!(
                "/v1/dirty/manifest?limit=7&after={after}&tables=events"
            ))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        paged.extend(r.body["data"].as_array().unwrap().iter().cloned());
        if !r.body["has_more"].as_bool().unwrap() {
            break;
        }
        after = r.body["next_after"].as_i64().unwrap();
    }
    assert_eq!(paged, events);
    assert!(
        events
            .windows(2)
            .all(|w| w[0]["entry"].as_i64() < w[1]["entry"].as_i64())
    );
    // and the data folder's log, entry for entry
    let log = std::fs::read_to_string(app.dir.path().join("data/dirty-manifest.jsonl")).unwrap();
    let logged: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["table"] == "events")
        .collect();
    assert_eq!(sorted(logged), sorted(events.clone()));

    // single rows: each planted one, as listed and with its defect
    let by_id: BTreeMap<&str, &Value> = walked
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r))
        .collect();
    for e in events.iter().take(60) {
        let id = e["row_id"].as_str().unwrap();
        let r = app.get(&format!("/v1/events/{id}")).await;
        assert_eq!(r.status, 200, "{e}: {}", r.body);
        assert_eq!(&&r.body, by_id.get(id).unwrap(), "{e}");
        let col = e["column"].as_str().unwrap();
        assert!(
            same_value(&r.body[col], &e["dirty"]) && !same_value(&r.body[col], &e["clean"]),
            "{e}: served {}",
            r.body[col]
        );
    }

    // filters and totals: a range across a midnight
    let (lo, hi) = ("2024-01-02T18:30:00Z", "2024-01-03T01:15:00Z");
    let (filtered, _) = app
        .walk(&format!(
            "/v1/events?limit=500&updated_at_min={lo}&updated_at_max={hi}"
        ))
        .await;
    let (lo_t, hi_t) = (
        faux::Timestamp::parse_flexible(lo).unwrap(),
        faux::Timestamp::parse_flexible(hi).unwrap(),
    );
    let in_range: Vec<&Value> = expected
        .iter()
        .filter(|r| {
            let t = faux::Timestamp::parse_flexible(r["occurred_at"].as_str().unwrap()).unwrap();
            t >= lo_t && t <= hi_t
        })
        .collect();
    assert_eq!(filtered.iter().collect::<Vec<_>>(), in_range);
    let total = app.get("/v1/events?page=1&limit=1").await;
    assert_eq!(total.body["total"], expected.len() as i64);

    // the change feed's event records: the rows as served
    let planted: BTreeSet<&str> = events
        .iter()
        .map(|e| e["row_id"].as_str().unwrap())
        .collect();
    let (mut after, mut seen, mut dirty_seen) = (0, 0, 0);
    loop {
        let r = app
            .get(&format!(
                "/v1/changes?after_seq={after}&limit=1000&tables=events"
            ))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        for c in r.body["data"].as_array().unwrap() {
            let id = c["data"]["id"].as_str().expect("an event's row");
            assert_eq!(&&c["data"], by_id.get(id).expect("a served event"));
            seen += 1;
            dirty_seen += planted.contains(id) as usize;
        }
        if !r.body["has_more"].as_bool().unwrap() {
            break;
        }
        after = r.body["next_after_seq"].as_i64().unwrap();
    }
    assert_eq!(seen, expected.len());
    assert!(dirty_seen > 20, "{dirty_seen}");

    // the same seed and profile: the same events, the same entries
    let twin = dirty_app(Profile::Nasty).await;
    let (twin_walked, _) = twin.walk("/v1/events?limit=997").await;
    assert_eq!(twin_walked, walked);
    assert_eq!(
        without_entry(manifest(&twin, "&tables=events").await),
        without_entry(events.clone())
    );
    // another profile, other defects
    let (_, light) = extract_events(Profile::Light, as_of);
    let light_app = dirty_app(Profile::Light).await;
    assert_eq!(
        without_entry_and_seq(&manifest(&light_app, "&tables=events").await),
        sorted(light.into_iter().map(|(_, e)| e).collect())
    );
}

/// `--dirty off` serves the clickstream as generated, and names nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_store_serves_the_clickstream_clean() {
    let app = dirty_app(Profile::Off).await;
    let as_of =
        faux::Timestamp::parse_flexible(app.get("/healthz").await.body["as_of"].as_str().unwrap())
            .unwrap();
    let (clean, none) = extract_events(Profile::Off, as_of);
    assert!(none.is_empty());
    let (dirty, _) = extract_events(Profile::Nasty, as_of);
    assert_ne!(clean, dirty);
    let (walked, _) = app.walk("/v1/events?limit=997").await;
    assert_eq!(walked, clean);
    let r = app.get("/v1/dirty/manifest?tables=events").await;
    assert_eq!(r.body["data"], serde_json::json!([]));
}

/// On a running clock, the events captured tick by tick get their manifest entries (with
/// the record that served them), and the rows served past the fill carry their defects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_names_the_defects_of_the_events_it_passes() {
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
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    app.run
        .clock
        .paused
        .store(true, std::sync::atomic::Ordering::SeqCst);
    // (a tick under way finishes)
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let as_of =
        faux::Timestamp::parse_flexible(app.get("/healthz").await.body["as_of"].as_str().unwrap())
            .unwrap();
    let start = faux::Timestamp::parse_flexible("2024-01-04T06:00:00Z").unwrap();
    assert!(as_of > start);
    let (expected, defects) = extract_events(Profile::Nasty, as_of);
    let (walked, _) = app.walk("/v1/events?limit=997").await;
    assert_eq!(walked, expected);
    let events = manifest(&app, "&tables=events").await;
    assert_eq!(
        without_entry_and_seq(&events),
        sorted(defects.iter().map(|(_, e)| e.clone()).collect())
    );
    // the fill's entries have seq 0, the clock's the seq of the event's insert
    let sort_of: BTreeMap<String, i64> = defects
        .iter()
        .map(|(s, e)| (e["key"].as_str().unwrap().to_string(), *s))
        .collect();
    let mut by_clock = 0;
    for e in &events {
        let sort = sort_of[e["key"].as_str().unwrap()];
        let seq = e["seq"].as_i64().unwrap();
        assert_eq!(seq == 0, sort <= start.0, "{e}");
        by_clock += (seq > 0) as usize;
    }
    assert!(by_clock > 5, "{by_clock} entries by the clock");
}
