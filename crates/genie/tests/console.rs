//! The web console: its data endpoints and their security (any machine), and the page itself
//! in headless Chromium driven by playwright-core (`tests/browser/console.mjs`; skipped
//! locally without Chromium, node or playwright-core, a failure under `CI=true`).

mod common;

use std::process::Command;

use common::{SCENARIO, assert_problem, start_binary_env};
use serde_json::Value;

/// A key's log, as `/v1/console/requests` gives it.
async fn log_of(app: &common::App, key: &str) -> Vec<Value> {
    let r = app.get_with("/v1/console/requests", Some(key)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["data"].as_array().unwrap().clone()
}

fn ids(log: &[Value]) -> Vec<&str> {
    log.iter()
        .map(|e| e["request_id"].as_str().unwrap())
        .collect()
}

async fn request_id(app: &common::App, path: &str, key: &str) -> (u16, String, Value) {
    let r = app.get_with(path, Some(key)).await;
    let id = r.headers["x-request-id"].to_str().unwrap().to_string();
    (r.status.as_u16(), id, r.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_key_sees_its_own_requests_with_what_chaos_did() {
    let app = common::spawn(common::Opts {
        chaos: common::old_hostile(),
        ..Default::default()
    })
    .await;
    let (_, other) = app
        .run
        .store
        .create_key("other", &["read:orders".into()])
        .unwrap();
    let (_, a1, _) = request_id(&app, "/v1/customers?limit=2", &app.key).await;
    let (_, b1, _) = request_id(&app, "/v1/orders?limit=1", &other).await;
    // a request that needs a scope the key lacks is still the key's request
    let (status, b2, _) = request_id(&app, "/v1/customers", &other).await;
    // hostile chaos fails about a quarter of requests: the first injected fault
    let mut fault = None;
    for _ in 0..200 {
        let (status, id, body) = request_id(&app, "/v1/products?limit=1", &app.key).await;
        if status != 200 {
            assert!(
                body["detail"].as_str().unwrap().contains("--chaos"),
                "{body}"
            );
            fault = Some((id, body["code"].as_str().unwrap().to_string(), status));
            break;
        }
    }
    let (fault_id, code, fault_status) = fault.expect("a chaos fault in 200 requests");
    // a key in the query string belongs to nobody's log, and its value is never shown
    let r = app
        .get_with("/v1/orders?api_key=fg_live_nothere", Some(&app.key))
        .await;
    assert_problem(&r, 400, "key_in_query");

    let a = log_of(&app, &app.key).await;
    let b = log_of(&app, &other).await;
    assert!(ids(&a).contains(&a1.as_str()) && ids(&a).contains(&fault_id.as_str()));
    assert!(!ids(&a).contains(&b1.as_str()) && !ids(&a).contains(&b2.as_str()));
    assert_eq!(
        ids(&b),
        [b2.as_str(), b1.as_str()],
        "newest first, B's only"
    );
    assert_eq!(b[0]["status"], status);
    assert_eq!(b[0]["path"], "/v1/customers");
    assert_eq!(b[1]["path"], "/v1/orders?limit=1");
    assert!(b[1]["rate_limit_remaining"].as_u64().is_some(), "{}", b[1]);
    let f = a.iter().find(|e| e["request_id"] == fault_id).unwrap();
    assert_eq!(f["status"], fault_status);
    assert_eq!(f["chaos"]["fault"], code.as_str(), "{f}");
    assert!(a.iter().all(|e| !e.to_string().contains("fg_live_nothere")));
    // the console's own endpoints are neither logged nor failed by chaos
    for _ in 0..30 {
        let r = app.get("/v1/console/status").await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let again = log_of(&app, &app.key).await;
    assert_eq!(again.len(), a.len(), "console requests were logged");
    assert!(
        again
            .iter()
            .all(|e| !e["path"].as_str().unwrap().starts_with("/v1/console"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_endpoints_refuse_missing_unknown_and_revoked_keys() {
    let app = common::spawn(common::Opts::default()).await;
    let (revoked, secret) = app
        .run
        .store
        .create_key("gone", &["read:all".into()])
        .unwrap();
    app.run.store.revoke_key(revoked.id).unwrap();
    for path in ["/v1/console/status", "/v1/console/requests"] {
        assert_problem(&app.get_with(path, None).await, 401, "missing_api_key");
        assert_problem(
            &app.get_with(path, Some("fg_live_nosuchkey")).await,
            401,
            "invalid_api_key",
        );
        let r = app.get_with(path, Some(&secret)).await;
        assert_problem(&r, 401, "revoked_api_key");
        assert!(r.headers.contains_key("content-security-policy"), "{path}");
        let r = app
            .get_with(&format!("{path}?token={}", app.key), Some(&app.key))
            .await;
        assert_problem(&r, 400, "key_in_query");
        assert_problem(
            &app.get(&format!("{path}?limit=5")).await,
            400,
            "invalid_parameter",
        );
        let ok = app.get(path).await;
        assert_eq!(ok.status, 200, "{path}: {}", ok.body);
        assert_eq!(ok.headers["x-content-type-options"], "nosniff");
    }
    // what the page shows of the shop: the clock, every resource's rows, orders per day
    // (counted in the background: null until then)
    let mut s = app.get("/v1/console/status").await.body;
    for _ in 0..100 {
        if !s["counts_age_s"].is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        s = app.get("/v1/console/status").await.body;
    }
    assert_eq!(s["clock"]["as_of"], "2024-01-04T06:00:00Z", "{s}");
    let names: Vec<&str> = s["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, common::table_names());
    let orders = s["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "orders")
        .unwrap()["rows"]
        .as_i64()
        .unwrap();
    assert_eq!(orders as usize, app.store_ids("orders", false, None).len());
    let days = s["orders_per_day"].as_array().unwrap();
    assert_eq!(days.len(), 14);
    assert_eq!(days.last().unwrap()["day"], "2024-01-04");
    let per_day: i64 = days.iter().map(|d| d["orders"].as_i64().unwrap()).sum();
    assert_eq!(
        per_day as usize,
        app.store_ids("orders", true, None).len(),
        "every order was created in the last 14 days"
    );
    let latest = s["latest_changes"].as_array().unwrap();
    assert!(!latest.is_empty());
    let seqs: Vec<i64> = latest.iter().map(|c| c["seq"].as_i64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seqs:?}"
    );
    assert!(seqs[0] <= s["clock"]["last_seq"].as_i64().unwrap());
    // a key sees the resources it may read, nothing else
    let (_, narrow) = app
        .run
        .store
        .create_key("narrow", &["read:customers".into()])
        .unwrap();
    let s = app.get_with("/v1/console/status", Some(&narrow)).await.body;
    let names: Vec<&str> = s["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["customers"]);
    assert!(s["orders_per_day"].is_null());
    assert!(
        s["latest_changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["table"] == "customers")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_its_assets_are_secured_compressed_and_cached() {
    let app = common::spawn(common::Opts::default()).await;
    let get = |path: String, headers: Vec<(&'static str, String)>| {
        let client = app.client.clone();
        let base = app.base.clone();
        async move {
            let mut r = client.get(format!("{base}{path}"));
            for (k, v) in headers {
                r = r.header(k, v);
            }
            r.send().await.unwrap()
        }
    };
    let page = get("/".into(), vec![]).await;
    assert_eq!(page.status(), 200);
    let h = page.headers().clone();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"));
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["cache-control"], "no-cache");
    let etag = h["etag"].to_str().unwrap().to_string();
    let html = page.text().await.unwrap();
    assert!(html.contains("Faux Genie"));
    let again = get("/".into(), vec![("if-none-match", etag.clone())]).await;
    assert_eq!(again.status(), 304);
    // every asset the page names: hashed, immutable, gzipped for a browser
    let assets: Vec<String> = html
        .split('"')
        .filter(|s| s.starts_with("/console/"))
        .map(str::to_string)
        .collect();
    assert!(assets.iter().any(|a| a.ends_with(".js")), "{assets:?}");
    assert!(assets.iter().any(|a| a.ends_with(".css")), "{assets:?}");
    for a in &assets {
        let r = get(a.clone(), vec![("accept-encoding", "gzip".into())]).await;
        assert_eq!(r.status(), 200, "{a}");
        let h = r.headers();
        assert_eq!(h["cache-control"], "public, max-age=31536000, immutable");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(h.contains_key("content-security-policy"));
        assert!(h.contains_key("etag"));
        assert_eq!(h["content-encoding"], "gzip", "{a}");
    }
    let gone = get("/console/console.0000.js".into(), vec![]).await;
    assert_eq!(gone.status(), 404);
    assert_eq!(gone.headers()["x-content-type-options"], "nosniff");
    // the API reference's source lists the console's endpoints
    let doc = app.get("/openapi.json").await.body;
    for p in ["/v1/console/status", "/v1/console/requests"] {
        assert!(doc["paths"][p]["get"].is_object(), "{p}");
    }
}

/// `genie keys …` on the data folder; stdout.
fn genie_keys(data: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_genie"))
        .args(["--data-dir", data, "keys"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_works_in_a_real_browser() {
    let test = "console::the_console_works_in_a_real_browser";
    let Some(tools) = test_support::require(test, test_support::tools::browser()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("shop.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let data = dir.path().join("data").display().to_string();
    // keys made before the server starts: it prints none of them
    let key_a = genie_keys(&data, &["create", "--name", "a"])
        .trim()
        .to_string();
    let key_b = genie_keys(&data, &["create", "--name", "b"])
        .trim()
        .to_string();
    let revoked = genie_keys(&data, &["create", "--name", "c"])
        .trim()
        .to_string();
    genie_keys(&data, &["revoke", "3"]);
    let mut g = start_binary_env(
        &[
            "--data-dir",
            &data,
            "--scenario",
            scenario.to_str().unwrap(),
            "--seed",
            "7",
            "--history",
            "3d",
            "--start",
            "2024-01-04T06:00:00Z",
            "--speed",
            "600",
            "--chaos",
            "hostile",
            "--listen",
            "127.0.0.1:0",
        ],
        // the access log on: no key may appear in it
        &[("RUST_LOG", "genie=info")],
    );
    let client = reqwest::Client::new();
    let get = |path: &str, key: &str| {
        let req = client.get(format!("{}{path}", g.url)).bearer_auth(key);
        async move {
            let r = req.send().await.unwrap();
            let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (status, id, body)
        }
    };
    let (_, a1, _) = get("/v1/customers?limit=7", &key_a).await;
    let mut chaos = None;
    for _ in 0..200 {
        let (status, id, body) = get("/v1/products?limit=3", &key_a).await;
        if status != 200
            && body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("--chaos"))
        {
            chaos = Some(serde_json::json!({"id": id, "fault": body["code"]}));
            break;
        }
    }
    let chaos = chaos.expect("a chaos fault in 200 requests");
    let (_, b1, _) = get("/v1/sessions?limit=2", &key_b).await;
    let expect = serde_json::json!({"a": [a1], "b": [b1], "chaos": chaos});

    let script = test_support::tools::repo_root().join("crates/genie/tests/browser/console.mjs");
    let mut node = Command::new(&tools.node);
    node.arg(&script)
        .env("GENIE_URL", &g.url)
        .env("KEY_A", &key_a)
        .env("KEY_B", &key_b)
        .env("KEY_REVOKED", &revoked)
        .env("EXPECT", expect.to_string())
        .env("CHROMIUM", &tools.chromium)
        .env("PLAYWRIGHT_DIR", &tools.playwright_dir);
    // CONSOLE_SCREENSHOT=docs/console.png saves what the browser saw (the README's picture)
    if let Some(path) = std::env::var_os("CONSOLE_SCREENSHOT") {
        node.env("SCREENSHOT", path);
    }
    let out = tokio::task::spawn_blocking(move || node.output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    g.child.kill().unwrap();
    g.child.wait().unwrap();
    assert!(
        out.status.success(),
        "the browser test failed:\n{stdout}\n{stderr}"
    );
    let result: Value = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_else(|| panic!("no RESULT line:\n{stdout}\n{stderr}"));
    let ms = result["interactive_ms"].as_f64().unwrap();
    let bytes = result["first_load_bytes"].as_u64().unwrap();
    // measurements, reported (BENCHMARKS.md records them); the size budget is the issue's
    println!(
        "console: first load {bytes} bytes over the wire in {} requests, interactive after {ms:.0} ms ({} the 1 s budget), complete (API reference drawn) after {} ms; {} operations in the reference",
        result["first_load_requests"],
        if ms < 1000.0 { "within" } else { "OVER" },
        result["complete_ms"],
        result["operations"]
    );
    println!("console: what the browser measured: {result}");
    assert!(bytes <= 1024 * 1024, "{bytes} bytes");
    // no key in any line genie printed or logged (the access log was on)
    let logs = format!("{}{}", g.stdout.lock().unwrap(), g.stderr.lock().unwrap());
    assert!(logs.contains("request"), "the access log was off:\n{logs}");
    for k in [&key_a, &key_b, &revoked] {
        assert!(!logs.contains(k.as_str()), "a key in genie's output");
        let prefix_free = &k[k.len() - 16..];
        assert!(
            !logs.contains(prefix_free),
            "part of a key in genie's output"
        );
    }
}
