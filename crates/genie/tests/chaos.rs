//! `--chaos` data faults against a real server on a random port: late-arriving rows (a naive
//! incremental client misses them, a lookback gets them all), expired cursors (410 and the
//! request that resumes), hard deletes (only the change feed tells), the answer log, and
//! determinism (same seed and setting: the same faults).

mod common;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use genie::Config;
use genie::chaos::ChaosSpec;
use serde_json::Value;

fn spec(s: &str) -> ChaosSpec {
    s.parse().unwrap()
}

/// The column a resource's incremental filter (`updated_at_min`) applies to.
fn sort_col(app: &App, table: &str) -> &'static str {
    app.run.store.resource(table).unwrap().1.sort_col
}

/// One incremental pass over `table` from `updated_at_min` (none: everything), upserting
/// into `have` (key → the version's time); returns the newest time seen.
async fn pass(
    app: &App,
    table: &str,
    from: Option<i64>,
    have: &mut HashMap<String, i64>,
) -> Option<i64> {
    let col = sort_col(app, table);
    let mut url = format!("/v1/{table}?limit=1000&include_deleted=true");
    if let Some(f) = from {
        url.push_str(&format!("&updated_at_min={f}"));
    }
    let mut newest = None;
    loop {
        let r = app.get(&url).await;
        assert_eq!(r.status, 200, "{url}: {}", r.body);
        for row in r.body["data"].as_array().unwrap() {
            // a date column (marketing_spend's) sorts by its day's first second
            let v = row[col].as_str().unwrap();
            let t = match v.parse::<faux::Date>() {
                Ok(d) => d.start().0,
                Err(_) => faux::Timestamp::parse_flexible(v).unwrap().0,
            };
            newest = newest.max(Some(t));
            have.insert(id_of(table, row), t);
        }
        match r.body["links"]["next"].as_str() {
            Some(next) => url = next.to_string(),
            None => return newest,
        }
    }
}

/// Every row version in the store with `_sort <= until`: key → time.
fn store_versions(app: &App, table: &str, until: i64) -> HashMap<String, i64> {
    let (t, _) = app.run.store.resource(table).unwrap();
    let q = genie::store::ListQuery {
        filters: genie::store::Filters {
            updated_max: Some(until),
            include_deleted: true,
            ..Default::default()
        },
        after: None,
        limit: i64::MAX / 2,
        skip: 0,
        total: false,
    };
    let page = app.run.store.list(t, &q).unwrap();
    (0..page.rows.len())
        .map(|i| (page.key(i).to_string(), page.rows[i].sort))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_rows_escape_a_naive_client_and_a_lookback_gets_them_all() {
    let chaos = spec("late-arrivals");
    let max_lag = chaos.rates().max_lag_secs;
    let app = spawn(Opts {
        speed: 1200.0,
        chaos,
        ..Opts::default()
    })
    .await;
    let tables = table_names();
    // two clients, pass after pass while the clock runs: one asks from its high-water mark,
    // the other from the high-water mark minus the longest lag
    let mut naive: HashMap<&str, (HashMap<String, i64>, Option<i64>)> = HashMap::new();
    let mut lookback: HashMap<&str, (HashMap<String, i64>, Option<i64>)> = HashMap::new();
    for round in 0..6 {
        for &t in &tables {
            let (have, hwm) = naive.entry(t).or_default();
            let seen = pass(&app, t, *hwm, have).await;
            *hwm = (*hwm).max(seen);
            let (have, hwm) = lookback.entry(t).or_default();
            let seen = pass(&app, t, hwm.map(|h| h - max_lag), have).await;
            *hwm = (*hwm).max(seen);
        }
        if round < 5 {
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
    }
    // a last pass of each with the clock stopped, then compare with the store: every version
    // old enough to have arrived (at least the longest lag before the clock) must be loaded
    app.run.clock.paused.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let as_of = app.run.store.clock().unwrap().unwrap().reached;
    let (mut naive_missed, mut late_seen) = (0, 0);
    for &t in &tables {
        for (clients, is_naive) in [(&mut naive, true), (&mut lookback, false)] {
            let (have, hwm) = clients.get_mut(t).unwrap();
            let from = if is_naive {
                *hwm
            } else {
                hwm.map(|h| h - max_lag)
            };
            pass(&app, t, from, have).await;
        }
        let truth = store_versions(&app, t, as_of - max_lag);
        let missed = |have: &HashMap<String, i64>| {
            truth
                .iter()
                .filter(|(k, s)| have.get(*k) != Some(s))
                .count()
        };
        let (n, l) = (missed(&naive[t].0), missed(&lookback[t].0));
        assert_eq!(
            l,
            0,
            "{t}: the lookback client missed {l} of {} versions",
            truth.len()
        );
        naive_missed += n;
        late_seen += truth.len();
    }
    eprintln!("late arrivals: the naive client missed {naive_missed} of {late_seen} row versions");
    assert!(naive_missed > 0, "late arrivals never bit the naive client");
    // every version held back is in the answer log, with its request
    let log = app.get("/v1/chaos/log").await;
    assert_eq!(log.status, 200, "{}", log.body);
    let entries = log.body["data"].as_array().unwrap();
    assert!(
        entries.iter().any(|e| e["faults"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "late_rows")),
        "{}",
        log.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_cursor_answers_410_with_the_request_that_resumes() {
    let app = spawn(Opts {
        cursor_ttl: Some(Duration::from_secs(1)),
        ..Opts::default()
    })
    .await;
    let mut have: HashMap<String, Value> = HashMap::new();
    let first = app.get("/v1/orders?limit=3").await;
    assert_eq!(first.status, 200, "{}", first.body);
    for r in first.body["data"].as_array().unwrap() {
        have.insert(id_of("orders", r), r.clone());
    }
    let last_updated = first.body["data"][2]["updated_at"]
        .as_str()
        .unwrap()
        .to_string();
    let next = first.body["links"]["next"].as_str().unwrap().to_string();
    // a fresh cursor works; one whose pass began over the TTL ago does not
    assert_eq!(app.get(&next).await.status, 200);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let gone = app.get(&next).await;
    assert_problem(&gone, 410, "cursor_expired");
    let request_id = gone.headers["x-request-id"].to_str().unwrap().to_string();
    let detail = gone.body["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("updated_at_min={last_updated}")),
        "{detail}"
    );
    let resume = gone.body["resume"].as_str().unwrap().to_string();
    assert!(
        resume.starts_with("/v1/orders?limit=3&updated_at_min="),
        "{resume}"
    );
    // the recipe: resume from the updated_at reached, upsert; every order is then loaded
    let mut url = resume;
    loop {
        let r = app.get(&url).await;
        assert_eq!(r.status, 200, "{url}: {}", r.body);
        for row in r.body["data"].as_array().unwrap() {
            have.insert(id_of("orders", row), row.clone());
        }
        match r.body["links"]["next"].as_str() {
            Some(n) => url = n.to_string(),
            None => break,
        }
    }
    let mut got: Vec<String> = have.into_keys().collect();
    let mut want = app.store_ids("orders", false, None);
    got.sort();
    want.sort();
    assert_eq!(got, want);
    // the answer log has it, by request id, in the API and in the data folder's file
    let log = app.get("/v1/chaos/log").await;
    let e = log.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["request_id"] == request_id.as_str())
        .unwrap_or_else(|| panic!("{request_id} not in {}", log.body));
    assert_eq!(e["status"], 410);
    assert_eq!(e["faults"][0]["kind"], "cursor_expired");
    let file = std::fs::read_to_string(app.dir.path().join("data/chaos-log.jsonl")).unwrap();
    assert!(
        file.lines()
            .any(|l| l.contains(&request_id) && l.contains("cursor_expired")),
        "{file}"
    );
    // another key sees none of it
    let (_, other) = app
        .run
        .store
        .create_key("other", &["read:all".into()])
        .unwrap();
    let theirs = app.get_with("/v1/chaos/log", Some(&other)).await;
    assert_eq!(
        theirs.body["data"],
        serde_json::json!([]),
        "{}",
        theirs.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hard_deleted_rows_are_told_only_by_the_change_feed() {
    // customers are deleted a month or more after they sign up: a shop open for a while,
    // deleting often
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(
        dir.path(),
        &Opts {
            chaos: spec("hard-deletes"),
            ..Opts::default()
        },
    );
    let scenario = dir.path().join("old_shop.toml");
    std::fs::write(
        &scenario,
        "[shop]\nopened_on = \"2023-10-01\"\n[traffic]\norganic_sessions_per_day = 100.0\n[customers]\ndeletion_probability = 1.0\n",
    )
    .unwrap();
    cfg.scenario = scenario.display().to_string();
    cfg.history_days = 5;
    let app = spawn_config(cfg, dir, None).await;
    let live = app.store_ids("customers", false, None);
    let all = app.store_ids("customers", true, None);
    let deleted: Vec<&String> = all.iter().filter(|k| !live.contains(k)).collect();
    assert!(!deleted.is_empty(), "the test shop deleted no customer");
    // the list, even with include_deleted, and the row itself: gone
    let (rows, _) = app
        .walk("/v1/customers?limit=1000&include_deleted=true")
        .await;
    let listed: Vec<String> = rows.iter().map(|r| id_of("customers", r)).collect();
    assert!(deleted.iter().all(|d| !listed.contains(d)));
    assert_eq!(listed.len(), live.len());
    let one = app.get(&format!("/v1/customers/{}", deleted[0])).await;
    assert_problem(&one, 404, "not_found");
    // the feed (from its oldest retained record): op delete, with the row (deleted_at set)
    let mut after = app.run.store.clock().unwrap().unwrap().pruned_seq;
    let mut told = Vec::new();
    loop {
        let r = app
            .get(&format!("/v1/changes?after_seq={after}&limit=1000"))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        for c in r.body["data"].as_array().unwrap() {
            if c["table"] == "customers" && c["op"] == "delete" {
                assert!(!c["data"]["deleted_at"].is_null(), "{c}");
                told.push(id_of("customers", &c["data"]));
            }
        }
        after = r.body["next_after_seq"].as_i64().unwrap();
        if !r.body["has_more"].as_bool().unwrap() {
            break;
        }
    }
    assert!(!told.is_empty(), "no deletion in the retained feed");
    assert!(told.iter().all(|d| deleted.contains(&d)), "{told:?}");
}

/// Statuses and fault kinds of a fixed sequence of requests.
async fn fault_trace(seed: u64, chaos: &str) -> Vec<(u16, Vec<String>)> {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(
        dir.path(),
        &Opts {
            chaos: spec(chaos),
            ..Opts::default()
        },
    );
    cfg.seed = seed;
    let app = spawn_config(cfg, dir, None).await;
    let mut trace = Vec::new();
    for i in 0..80 {
        let table = ["orders", "customers", "events", "sessions"][i % 4];
        let r = app.get(&format!("/v1/{table}?limit=50")).await;
        let id = r.headers["x-request-id"].to_str().unwrap().to_string();
        let log = app.get("/v1/chaos/log").await;
        let kinds = log.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["request_id"] == id.as_str())
            .map(|e| {
                e["faults"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f["kind"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default();
        trace.push((r.status.as_u16(), kinds));
    }
    trace
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_and_setting_inject_the_same_faults() {
    // hostile without its delays (up to 5 s each: minutes of waiting, and nothing to compare)
    let hostile = "server-errors,outages,throttling,overlapping-pages,late-arrivals,expired-cursors,connection-resets,truncated-responses,hard-deletes";
    let a = fault_trace(7, hostile).await;
    let b = fault_trace(7, hostile).await;
    assert_eq!(a, b);
    let kinds: std::collections::BTreeSet<&str> = a
        .iter()
        .flat_map(|(_, k)| k.iter().map(String::as_str))
        .collect();
    assert!(kinds.contains("hard_deletes"), "{kinds:?}");
    assert!(a.iter().any(|(s, _)| *s != 200), "{a:?}");
    // another seed: another sequence
    let c = fault_trace(8, hostile).await;
    assert_ne!(a, c);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_every_chaos_status_and_header() {
    let app = spawn(Opts::default()).await;
    let doc = app.get_with("/openapi.json", None).await.body;
    let faults = doc["x-chaos"]["faults"].as_array().unwrap();
    let names: Vec<&str> = faults.iter().map(|f| f["name"].as_str().unwrap()).collect();
    for f in genie::chaos::FaultKind::ALL {
        assert!(names.contains(&f.name()), "{} not in x-chaos", f.name());
    }
    let list = &doc["paths"]["/v1/orders"]["get"]["responses"];
    let one = &doc["paths"]["/v1/orders/{id}"]["get"]["responses"];
    for f in faults {
        for s in f["statuses"].as_array().unwrap() {
            let s = s.as_u64().unwrap().to_string();
            assert!(
                list.get(&s).is_some() || one.get(&s).is_some(),
                "{}: status {s} not documented",
                f["name"]
            );
        }
        for h in f["headers"].as_array().unwrap() {
            let h = h.as_str().unwrap();
            let documented = list
                .as_object()
                .unwrap()
                .values()
                .any(|r| r["headers"].get(h).is_some());
            // Content-Length is HTTP's own
            assert!(
                documented || h == "Content-Length",
                "{}: header {h} not documented",
                f["name"]
            );
        }
    }
    assert!(
        list["410"]["description"]
            .as_str()
            .unwrap()
            .contains("cursor_expired")
    );
    assert!(list["429"]["headers"]["Retry-After"].is_object());
    assert!(list["503"]["headers"]["Retry-After"].is_object());
    assert!(doc["components"]["schemas"]["Problem"]["properties"]["resume"].is_object());
    assert!(doc["paths"]["/v1/chaos/log"]["get"].is_object());
    // with chaos off, API-Version is still checked, and a pinned version honoured
    let bad = app
        .client
        .get(format!("{}/v1/orders", app.base))
        .bearer_auth(&app.key)
        .header("API-Version", "1999-01-01")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let none = app.get("/v1/orders?limit=1").await;
    assert!(none.headers.get("api-version").is_none());
    assert!(none.body["data"][0]["created_at"].is_string());
    // and the log is empty: nothing was injected
    let log = app.get("/v1/chaos/log").await;
    assert_eq!(log.body["data"], serde_json::json!([]), "{}", log.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_drift_renames_a_field_for_clients_that_pin_no_version() {
    // hostile's drift date is when serving began: the newest shape at once
    let app = spawn(Opts {
        chaos: spec("schema-drift"),
        ..Opts::default()
    })
    .await;
    let [old, new] = genie::chaos::API_VERSIONS;
    let get = |path: &'static str, version: Option<&'static str>| {
        let mut req = app
            .client
            .get(format!("{}{path}", app.base))
            .bearer_auth(&app.key);
        if let Some(v) = version {
            req = req.header("API-Version", v);
        }
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let v = r
                .headers()
                .get("api-version")
                .map(|v| v.to_str().unwrap().to_string());
            let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
            (status, v, id, r.json::<Value>().await.unwrap())
        }
    };
    // unpinned: the newest version, created_at renamed, object added
    let (status, v, drifted_id, body) = get("/v1/orders?limit=2", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(v.as_deref(), Some(new));
    let row = &body["data"][0];
    assert!(
        row.get("created_at").is_none() && row["created"].is_string(),
        "{row}"
    );
    assert_eq!(row["object"], "orders");
    // pinned to the old version: the old shape, on lists, rows, nested rows and the feed
    let (status, v, _, body) = get("/v1/orders?limit=2", Some(old)).await;
    assert_eq!((status, v.as_deref()), (200, Some(old)));
    let row = &body["data"][0];
    assert!(
        row["created_at"].is_string() && row.get("object").is_none(),
        "{row}"
    );
    let id = row["id"].as_str().unwrap().to_string();
    for path in [
        format!("/v1/orders/{id}"),
        format!("/v1/orders/{id}/items"),
        "/v1/changes?limit=5".to_string(),
    ] {
        let path: &'static str = Box::leak(path.into_boxed_str());
        let (status, v, _, pinned) = get(path, Some(old)).await;
        assert_eq!((status, v.as_deref()), (200, Some(old)), "{path}: {pinned}");
        let (_, v, _, unpinned) = get(path, None).await;
        assert_eq!(v.as_deref(), Some(new), "{path}");
        assert_ne!(pinned, unpinned, "{path}");
        assert!(
            !pinned.to_string().contains("\"object\":\"orders\""),
            "{path}: {pinned}"
        );
    }
    // an unknown version names the valid ones
    let (status, _, _, body) = get("/v1/orders", Some("2023-01-01")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["param"], "API-Version");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains(old) && detail.contains(new), "{detail}");
    // the answer log names the drifted answer
    let log = app.get("/v1/chaos/log").await;
    let e = log.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["request_id"] == drifted_id.as_str())
        .unwrap_or_else(|| panic!("{}", log.body));
    assert_eq!(e["faults"][0]["kind"], "schema_drift");
    // the document describes both shapes
    let doc = app.get_with("/openapi.json", None).await.body;
    let items = &doc["paths"]["/v1/orders"]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"]["properties"]["data"]["items"];
    assert_eq!(items["anyOf"].as_array().unwrap().len(), 2, "{items}");
    let drifted = &doc["components"]["schemas"]["orders_2025_01_01"]["properties"];
    assert!(drifted["created"].is_object() && drifted["object"].is_object());
    assert!(drifted.get("created_at").is_none());
}

/// The API version a client that pins none gets from `/v1/orders`, retrying the faults
/// `realistic` injects (errors, throttling, cut bodies).
async fn unpinned_version(app: &App) -> String {
    for _ in 0..50 {
        let sent = app
            .client
            .get(format!("{}/v1/orders?limit=1", app.base))
            .bearer_auth(&app.key)
            .send()
            .await;
        let Ok(r) = sent else { continue };
        let v = r.headers().get("api-version").cloned();
        if r.status() == 200
            && r.bytes().await.is_ok()
            && let Some(v) = v
        {
            return v.to_str().unwrap().to_string();
        }
    }
    panic!("50 requests in a row failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_the_schema_drift_date() {
    // realistic drifts a virtual day after the store first served (2024-01-04T06:00 here);
    // a restart whose clock resumes 30 h later must find the drift done, not a day away again
    let [old, new] = genie::chaos::API_VERSIONS;
    let o = Opts {
        chaos: spec("realistic"),
        ..Opts::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &o);
    let first = App::new(
        genie::start_on(cfg.clone(), open(&cfg, None), Box::new(|_| {}))
            .await
            .unwrap(),
        tempfile::tempdir().unwrap(),
    );
    assert_eq!(
        unpinned_version(&first).await,
        old,
        "no drift before its date"
    );
    first.run.server.abort();
    first.run.ticker.abort();
    let _ = first.run.server.await;
    let _ = first.run.ticker.await;

    let resume = faux::Timestamp::parse_flexible("2024-01-05T12:00:00Z").unwrap();
    let cfg = Config {
        start: Some(resume),
        ..config(dir.path(), &o)
    };
    let again = App::new(
        genie::start_on(cfg, open(&config(dir.path(), &o), None), Box::new(|_| {}))
            .await
            .unwrap(),
        tempfile::tempdir().unwrap(),
    );
    // the clock catches up to the resumed instant on its first tick
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while as_of(&again.base).await < resume.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the clock never caught up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        unpinned_version(&again).await,
        new,
        "the drift date moved with the restart"
    );
}
