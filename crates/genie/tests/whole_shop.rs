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
