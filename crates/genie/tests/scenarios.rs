//! Genie serves any scenario under one contract: every table of the scenario (read from faux,
//! not listed here) is a resource with its list, item and nested endpoints and its place in
//! the change feed and the OpenAPI document.

mod common;

use std::collections::{BTreeSet, HashSet};

use common::{App, Opts};
use faux::Scenario;

/// A server for `scenario` (a name, or a path to a scenario file) on a temp SQLite store.
async fn serve(scenario: &str, start: &str) -> App {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::config(dir.path(), &Opts::default());
    cfg.scenario = scenario.to_string();
    cfg.start = Some(faux::Timestamp::parse_flexible(start).unwrap());
    cfg.history_days = 2;
    common::spawn_config(cfg, dir, None).await
}

/// Everything the contract promises, for every table of `scenario`.
async fn check_serves_every_table(app: &App, scenario: &Scenario) {
    let doc = app.get("/openapi.json").await.body;
    let paths = common::openapi_paths(&doc);
    let mut fed = HashSet::new();
    let mut after = 0i64;
    loop {
        let r = app
            .get(&format!("/v1/changes?after_seq={after}&limit=1000"))
            .await;
        if after == 0 && r.status == 410 {
            // the store holds rows older than the feed (a shop's customers): a new client
            // reads the lists, then the feed from where it begins
            after = r.body["oldest_seq"].as_i64().unwrap();
            continue;
        }
        assert_eq!(r.status, 200, "{}", r.body);
        for c in r.body["data"].as_array().unwrap() {
            fed.insert(c["table"].as_str().unwrap().to_string());
        }
        if !r.body["has_more"].as_bool().unwrap() {
            break;
        }
        after = r.body["next_after_seq"].as_i64().unwrap();
    }
    // loaders find the resources by x-primary-key: exactly the tables carry one (the other
    // API version's row shapes do not)
    let keyed: std::collections::BTreeSet<&str> = doc["components"]["schemas"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, s)| s.get("x-primary-key").is_some())
        .map(|(n, _)| n.as_str())
        .collect();
    let tables: std::collections::BTreeSet<&str> =
        scenario.tables().iter().map(|d| d.name).collect();
    assert_eq!(keyed, tables);
    let mut served = 0;
    for def in scenario.tables() {
        let name = def.name;
        assert!(paths.contains(&format!("/v1/{name}")), "{name} in OpenAPI");
        let schema = &doc["components"]["schemas"][name];
        assert!(schema.is_object(), "{name} schema");
        // what a loader merges on and loads incrementally by (the dlt example reads these):
        // the table's key, and its cursor or, for rows that never change, its partition column
        assert_eq!(
            schema["x-primary-key"],
            serde_json::json!(def.primary_key),
            "{name}"
        );
        let incremental = def.cursor.unwrap_or(def.partition);
        assert_eq!(schema["x-incremental-column"], incremental, "{name}");
        let (rows, _) = app
            .walk(&format!("/v1/{name}?limit=500&include_deleted=true"))
            .await;
        let want = app.store_ids(name, true, None);
        assert_eq!(rows.len(), want.len(), "{name}: every row, once");
        if rows.is_empty() {
            // a young shop may have refunded nothing yet
            continue;
        }
        served += 1;
        // … and updated_at_min filters on that column, as the document says
        let instant = |row: &serde_json::Value| {
            let v = row[incremental].as_str().unwrap();
            let v = if v.len() == 10 {
                format!("{v}T00:00:00Z")
            } else {
                v.to_string()
            };
            (faux::Timestamp::parse_flexible(&v).unwrap().0, v)
        };
        let (min, min_text) = instant(&rows[rows.len() / 2]);
        let (newer, _) = app
            .walk(&format!(
                "/v1/{name}?limit=500&include_deleted=true&updated_at_min={min_text}"
            ))
            .await;
        let want = rows.iter().filter(|r| instant(r).0 >= min).count();
        assert_eq!(newer.len(), want, "{name}: updated_at_min={min_text}");
        assert!(newer.iter().all(|r| instant(r).0 >= min), "{name}");
        // the feed reaches back over the history window: a table with a row written in it
        // is in the feed
        let window = app.run.started_at.0 - 2 * 86_400;
        if rows.iter().any(|r| instant(r).0 >= window) {
            assert!(fed.contains(name), "{name} in the change feed");
        }
        for row in rows.iter().take(3) {
            assert_eq!(
                row.as_object().unwrap().len(),
                def.columns.len(),
                "{name}: {row}"
            );
        }
        if def.primary_key.is_empty() {
            assert!(!paths.contains(&format!("/v1/{name}/{{id}}")));
            continue;
        }
        assert!(paths.contains(&format!("/v1/{name}/{{id}}")));
        let one = app
            .get(&format!("/v1/{name}/{}", common::id(def, &rows[0])))
            .await;
        assert_eq!(one.status, 200, "{name}: {}", one.body);
        assert_eq!(one.body, rows[0], "{name}");
        if let Some(parent) = def.parent {
            let path = format!("/v1/{}/{{id}}/{}", parent.table, parent.path);
            assert!(paths.contains(&path), "{path} in OpenAPI");
            let owner = rows[0][parent.column].as_str().unwrap();
            let r = app
                .get(&format!("/v1/{}/{owner}/{}", parent.table, parent.path))
                .await;
            assert_eq!(r.status, 200, "{path}: {}", r.body);
            let children = r.body["data"].as_array().unwrap();
            assert!(children.contains(&rows[0]), "{path}");
            assert!(children.iter().all(|c| c[parent.column] == owner));
            let missing = app
                .get(&format!("/v1/{}/nope/{}", parent.table, parent.path))
                .await;
            common::assert_problem(&missing, 404, "not_found");
        }
    }
    assert!(
        served + 1 >= scenario.tables().len(),
        "only {served} tables have rows"
    );
    // nothing is served that the scenario does not have
    let names: BTreeSet<&str> = scenario.tables().iter().map(|t| t.name).collect();
    for p in &paths {
        if let Some(rest) = p.strip_prefix("/v1/") {
            let first = rest.split('/').next().unwrap();
            assert!(
                names.contains(first)
                    || ["me", "changes", "console", "chaos", "dirty"].contains(&first),
                "{p}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shiny_rocks_is_served_under_the_same_contract() {
    let app = serve("shiny-rocks", "2024-03-04T06:00:00Z").await;
    let scenario = Scenario::by_name("shiny-rocks", 7).unwrap();
    check_serves_every_table(&app, &scenario).await;
    // services have no key of their own: their rows are listed, not addressed
    let r = app.get("/v1/services/123").await;
    common::assert_problem(&r, 404, "not_found");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("no primary key")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_file_is_served_under_the_same_contract() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tiny.toml");
    std::fs::write(&file, common::SCENARIO).unwrap();
    let app = serve(file.to_str().unwrap(), "2024-02-20T06:00:00Z").await;
    let scenario = Scenario::from_toml("tiny.toml", common::SCENARIO, 7).unwrap();
    check_serves_every_table(&app, &scenario).await;
}
