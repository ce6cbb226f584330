//! A new store holds a whole shop: every customer and product ever created, whole orders, and
//! every row that changed in the history window — so every reference in every served row
//! resolves through the API.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};

use common::App;
use faux::{Scenario, Timestamp};
use serde_json::Value;

/// A shop open since 2024-01-01, served from 2024-03-20 with three days of history: its
/// customers, products and older orders come from long before the window.
async fn old_shop() -> App {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::config(dir.path(), &common::Opts::default());
    cfg.start = Some(Timestamp::parse_flexible("2024-03-20T12:00:00Z").unwrap());
    cfg.history_days = 3;
    cfg.retention_secs = 86_400;
    common::spawn_config(cfg, dir, None).await
}

/// Every row of every resource (deleted ones too), by table, keyed by id.
async fn everything(app: &App, s: &Scenario) -> BTreeMap<&'static str, HashMap<String, Value>> {
    let mut out = BTreeMap::new();
    for def in s.tables() {
        let (rows, _) = app
            .walk(&format!("/v1/{}?limit=1000&include_deleted=true", def.name))
            .await;
        let by_id: HashMap<String, Value> =
            rows.into_iter().map(|r| (common::id(def, &r), r)).collect();
        out.insert(def.name, by_id);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reference_in_every_served_row_resolves() {
    let app = old_shop().await;
    let s = common::scenario();
    let all = everything(&app, s).await;
    // (table, column, the table it names); nullable columns may be null
    let refs = [
        ("sessions", "customer_id", "customers"),
        ("events", "session_id", "sessions"),
        ("events", "customer_id", "customers"),
        ("events", "product_id", "products"),
        ("orders", "customer_id", "customers"),
        ("orders", "session_id", "sessions"),
        ("order_items", "order_id", "orders"),
        ("order_items", "product_id", "products"),
        ("payments", "order_id", "orders"),
        ("shipments", "order_id", "orders"),
        ("refunds", "order_id", "orders"),
        ("refunds", "payment_id", "payments"),
    ];
    for (table, col, target) in refs {
        let mut checked = 0;
        for row in all[table].values() {
            match &row[col] {
                Value::Null => {}
                Value::String(id) => {
                    assert!(
                        all[target].contains_key(id),
                        "{table}.{col} = {id}: no such {target} row is served"
                    );
                    checked += 1;
                }
                other => panic!("{table}.{col} = {other}"),
            }
        }
        assert!(checked > 0, "{table}.{col}: nothing to check");
    }
    // the shop is older than the window: customers and orders from long before it are served
    let window = Timestamp::parse_flexible("2024-03-17T00:00:00Z").unwrap();
    let before = |table: &str, col: &str| {
        all[table]
            .values()
            .filter(|r| Timestamp::parse_flexible(r[col].as_str().unwrap()).unwrap() < window)
            .count()
    };
    assert!(before("customers", "created_at") > 100);
    assert!(before("products", "created_at") > 10);
    assert!(before("orders", "created_at") > 10);
    // every order is whole: its lines, and the payment every order has
    let mut lines: HashMap<&str, usize> = HashMap::new();
    for item in all["order_items"].values() {
        *lines.entry(item["order_id"].as_str().unwrap()).or_default() += 1;
    }
    let paid: HashSet<&str> = all["payments"]
        .values()
        .map(|p| p["order_id"].as_str().unwrap())
        .collect();
    for id in all["orders"].keys() {
        assert!(
            lines.get(id.as_str()).is_some_and(|n| *n > 0),
            "order {id} has no lines"
        );
        assert!(paid.contains(id.as_str()), "order {id} has no payment");
    }
    // … and the API's own look-ups agree, for a sample: nested items and single rows
    for (id, order) in all["orders"].iter().take(25) {
        let items = app.get(&format!("/v1/orders/{id}/items?limit=100")).await;
        assert_eq!(items.status, 200, "{}", items.body);
        assert_eq!(
            items.body["data"].as_array().unwrap().len(),
            lines[id.as_str()]
        );
        for (col, target) in [("customer_id", "customers"), ("session_id", "sessions")] {
            let r = app
                .get(&format!("/v1/{target}/{}", order[col].as_str().unwrap()))
                .await;
            assert_eq!(r.status, 200, "{target} of order {id}: {}", r.body);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_holds_every_row_as_of_its_clock() {
    let app = old_shop().await;
    let s = common::scenario();
    let all = everything(&app, s).await;
    let start = Timestamp::parse_flexible("2024-03-20T12:00:00Z").unwrap();
    // the expected rows come from the change feed — every version since the opening,
    // captured and rendered as the live clock does — the store from the first fill's state
    let res = genie::store::resources(s);
    let mut signed_up = 0;
    let mut latest: HashMap<(usize, String), Value> = HashMap::new();
    let window = start.date().add_days(-3);
    let mut day = faux::Date::from_ymd(2024, 1, 1).unwrap();
    while day <= start.date() {
        for c in s.changes(day).iter().filter(|c| c.ts <= start) {
            let def = s.tables()[c.table];
            if def.name == "customers" && c.op == faux::Op::Insert {
                signed_up += 1;
            }
            if day >= window {
                let p = genie::store::capture(&res[c.table], c);
                let row: Value = serde_json::from_str(&p.json(&res[c.table])).unwrap();
                latest.insert((c.table, common::id(def, &row)), row);
            }
        }
        day = day.succ();
    }
    // every customer who signed up by the start, whenever that was
    assert_eq!(all["customers"].len(), signed_up);
    // every row changed in the window, in its latest state at the start
    assert!(latest.len() > 1000, "{} rows changed", latest.len());
    for ((t, id), row) in latest {
        let name = s.tables()[t].name;
        assert_eq!(all[name].get(&id), Some(&row), "{name} {id}");
    }
}

/// A busy shop, opened the day before genie starts serving it in the afternoon: sessions are
/// going on at the start and while the clock runs.
const BUSY: &str =
    "[shop]\nopened_on = \"2024-01-03\"\n[traffic]\norganic_sessions_per_day = 3000.0\n";

fn ts(v: &Value) -> Timestamp {
    Timestamp::parse_flexible(v.as_str().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_shows_its_end_only_once_it_has_happened() {
    let start = Timestamp::parse_flexible("2024-01-04T14:00:00Z").unwrap();
    // when each session truly ends: the engine's change feed
    let s = Scenario::from_toml("shop.toml", BUSY, 7).unwrap();
    let sessions = s
        .tables()
        .iter()
        .position(|t| t.name == "sessions")
        .unwrap();
    let resources = genie::store::resources(&s);
    let res = &resources[sessions];
    let mut ends: HashMap<String, Timestamp> = HashMap::new();
    for day in [start.date(), start.date().succ()] {
        for c in s.changes(day).iter().filter(|c| c.table == sessions) {
            if c.op == faux::Op::Update {
                let row: Value =
                    serde_json::from_str(&genie::store::capture(res, c).json(res)).unwrap();
                ends.insert(row["id"].as_str().unwrap().to_string(), c.ts);
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let o = common::Opts {
        speed: 3600.0,
        ..common::Opts::default()
    };
    let mut cfg = common::config(dir.path(), &o);
    std::fs::write(&cfg.scenario, BUSY).unwrap();
    cfg.start = Some(start);
    cfg.history_days = 1;
    let app = common::spawn_config(cfg, dir, None).await;
    let seq0 = app.run.store.clock().unwrap().unwrap().last_seq;
    // every page of sessions against its own as_of (the clock runs between pages)
    let mut open: Vec<String> = Vec::new();
    let mut ended = 0;
    let mut url = "/v1/sessions?limit=1000".to_string();
    let mut first_as_of = None;
    loop {
        let r = app.get(&url).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let as_of = ts(&r.body["as_of"]);
        first_as_of.get_or_insert(as_of);
        for row in r.body["data"].as_array().unwrap() {
            let id = row["id"].as_str().unwrap().to_string();
            let end = ends.get(&id).copied();
            match &row["ended_at"] {
                Value::Null => {
                    assert_eq!(row["updated_at"], row["started_at"], "{row}");
                    // served without an end only while it has not ended
                    assert!(end.is_none_or(|e| e > as_of), "ended by {as_of}: {row}");
                    open.push(id);
                }
                e => {
                    assert!(ts(e) <= as_of, "an end after as_of {as_of}: {row}");
                    assert_eq!(row["updated_at"], *e, "{row}");
                    ended += 1;
                }
            }
        }
        if !r.body["has_more"].as_bool().unwrap() {
            break;
        }
        url = r.body["links"]["next"].as_str().unwrap().to_string();
    }
    let first_as_of = first_as_of.unwrap();
    assert!(ended > 1000, "{ended} ended sessions served");
    assert!(!open.is_empty(), "no session going on at {first_as_of}");
    // the clock moves past the end of every session that was going on
    let last_end = open.iter().map(|id| ends[id]).max().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while app.run.store.clock().unwrap().unwrap().reached < last_end.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the clock does not reach {last_end}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    app.run.ticker.abort();
    // an incremental pass from the first one's as_of brings each one's end
    let (rows, _) = app
        .walk(&format!(
            "/v1/sessions?limit=1000&updated_at_min={first_as_of}"
        ))
        .await;
    let by_id: HashMap<String, Value> = rows
        .into_iter()
        .map(|r| (r["id"].as_str().unwrap().to_string(), r))
        .collect();
    for id in &open {
        let row = by_id
            .get(id)
            .unwrap_or_else(|| panic!("session {id} ended, not in updated_at_min={first_as_of}"));
        assert_eq!(ts(&row["ended_at"]), ends[id], "{row}");
        assert_eq!(row["updated_at"], row["ended_at"], "{row}");
    }
    // … and the change feed as an update at its end, after an insert without it
    let mut updates: HashMap<String, Value> = HashMap::new();
    let mut after = seq0;
    loop {
        let r = app
            .get(&format!("/v1/changes?after_seq={after}&limit=1000"))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        for c in r.body["data"].as_array().unwrap() {
            if c["table"] != "sessions" {
                continue;
            }
            let data = &c["data"];
            match c["op"].as_str().unwrap() {
                "insert" => assert!(data["ended_at"].is_null(), "{c}"),
                "update" => {
                    assert_eq!(ts(&data["ended_at"]), ts(&c["ts"]), "{c}");
                    updates.insert(data["id"].as_str().unwrap().to_string(), c.clone());
                }
                op => panic!("{op}: {c}"),
            }
        }
        after = r.body["next_after_seq"].as_i64().unwrap();
        if !r.body["has_more"].as_bool().unwrap() {
            break;
        }
    }
    for id in &open {
        assert!(
            updates.contains_key(id),
            "no update for session {id} in the feed"
        );
    }
}
