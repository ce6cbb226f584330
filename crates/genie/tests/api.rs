//! The API spawned in-process on a random port with a temp SQLite store, checked over real
//! HTTP (the checks shared with the PostgreSQL store are in `common`).

mod common;

use std::time::Duration;

use common::*;
use genie::RateLimit;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_rules() {
    let app = spawn(Opts::default()).await;
    let h = app.get_with("/healthz", None).await;
    assert_eq!(h.status, 200);
    assert!(h.headers.contains_key("x-request-id"));

    assert_problem(
        &app.get_with("/v1/orders", None).await,
        401,
        "missing_api_key",
    );
    assert_problem(
        &app.get_with("/v1/orders", Some("fg_live_not_a_key")).await,
        401,
        "invalid_api_key",
    );
    let r = app
        .get_with(&format!("/v1/orders?api_key={}", app.key), None)
        .await;
    assert_problem(&r, 400, "key_in_query");
    // even with a valid header, a key in the URL is refused (it is already in logs)
    let r = app.get(&format!("/v1/orders?api_key={}", app.key)).await;
    assert_problem(&r, 400, "key_in_query");

    // X-API-Key works as well as Bearer
    let r = app
        .client
        .get(format!("{}/v1/me", app.base))
        .header("X-API-Key", &app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let me: Value = r.json().await.unwrap();
    assert_eq!(me["name"], "test");
    assert_eq!(me["scopes"], serde_json::json!(["read:all"]));
    assert!(app.key.starts_with(me["prefix"].as_str().unwrap()));

    let (k, narrow) = app
        .run
        .store
        .create_key("orders only", &["read:orders".into()])
        .unwrap();
    assert_eq!(app.get_with("/v1/orders", Some(&narrow)).await.status, 200);
    assert_problem(
        &app.get_with("/v1/customers", Some(&narrow)).await,
        403,
        "insufficient_scope",
    );
    assert_problem(
        &app.get_with("/v1/changes", Some(&narrow)).await,
        403,
        "insufficient_scope",
    );
    app.run.store.revoke_key(k.id).unwrap();
    assert_problem(
        &app.get_with("/v1/orders", Some(&narrow)).await,
        401,
        "revoked_api_key",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursor_walk_returns_every_row_once() {
    check_cursor_walk(&spawn(Opts::default()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_and_offset_modes_return_every_row_once() {
    check_page_and_offset(&spawn(Opts::default()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_hold_and_cursors_keep_them() {
    let app = spawn(Opts::default()).await;
    check_filters(&app).await;
    let (lo, lo_s) = ("2024-01-02T00:00:00Z", 1_704_153_600i64);
    // repeating the pass's filters with its cursor changes nothing; a filter given in the
    // query replaces the cursor's (every value of the documented shapes is accepted)
    let r = app
        .get(&format!("/v1/orders?limit=5&updated_at_min={lo}"))
        .await;
    let c = r.body["next_cursor"].as_str().unwrap();
    let alone = app.get(&format!("/v1/orders?limit=5&cursor={c}")).await;
    let same = app
        .get(&format!(
            "/v1/orders?limit=5&updated_at_min={lo}&cursor={c}"
        ))
        .await;
    assert_eq!(same.status, 200);
    assert_eq!(same.body["data"], alone.body["data"]);
    let other = app
        .get(&format!(
            "/v1/orders?limit=5&updated_at_max={lo}&cursor={c}"
        ))
        .await;
    assert_eq!(other.status, 200, "{}", other.body);
    for row in other.body["data"].as_array().unwrap() {
        let t = faux::Timestamp::parse_flexible(row["updated_at"].as_str().unwrap())
            .unwrap()
            .0;
        assert!((lo_s..=lo_s).contains(&t), "{row}");
    }
    // page and offset add up: (page - 1) × limit + offset rows are skipped
    let both = app.get("/v1/orders?limit=5&page=2&offset=3").await;
    let plain = app.get("/v1/orders?limit=5&offset=8").await;
    assert_eq!(both.status, 200, "{}", both.body);
    assert_eq!(both.body["data"], plain.body["data"]);
    assert!(!both.body["data"].as_array().unwrap().is_empty());
    // nor in another resource
    let r = app.get(&format!("/v1/customers?cursor={c}")).await;
    assert_eq!(r.body["param"], "cursor");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_parameters_are_named() {
    let app = spawn(Opts::default()).await;
    for (q, param) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("limit=1&limit=2", "limit"),
        ("updated_at_min=yesterday", "updated_at_min"),
        ("updated_at_max=2024-13-01", "updated_at_max"),
        ("created_at_min=2024-01-01T25:00:00Z", "created_at_min"),
        ("created_at_max=x", "created_at_max"),
        ("include_deleted=maybe", "include_deleted"),
        ("cursor=%21%21", "cursor"),
        ("cursor=eyJ4IjoxfQ", "cursor"),
        ("page=0", "page"),
        ("offset=-1", "offset"),
        // a mistyped filter is refused, not ignored (it would reload everything)
        ("updated_since=2025-01-01", "updated_since"),
        ("limit=5&Limit=6", "Limit"),
        (
            "updated_at_min=2025-01-01T00:00:00%2B25:00",
            "updated_at_min",
        ),
    ] {
        let r = app.get(&format!("/v1/orders?{q}")).await;
        assert_problem(&r, 400, "invalid_parameter");
        assert_eq!(r.body["param"], param, "{q}: {}", r.body);
    }
    let r = app.get("/v1/changes?after_seq=-3").await;
    assert_eq!(r.body["param"], "after_seq");
    let r = app.get("/v1/changes?after=3").await;
    assert_problem(&r, 400, "invalid_parameter");
    assert_eq!(r.body["param"], "after", "{}", r.body);
    assert!(
        r.body["detail"].as_str().unwrap().contains("after_seq"),
        "{}",
        r.body
    );
    assert_eq!(app.get("/v1/orders?limit=1000").await.status, 200);
    assert_eq!(app.get("/v1/orders?limit=1").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_rows_items_and_404s() {
    check_single_rows(&spawn(Opts::default()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_passes_follow_the_live_clock() {
    // two virtual hours per real second; small pages so rows with equal updated_at straddle
    // page boundaries while the clock writes between requests
    let app = spawn(Opts {
        speed: 7200.0,
        ..Opts::default()
    })
    .await;
    check_incremental(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_feed_is_ordered_and_expires() {
    let app = spawn(Opts {
        retention_days: 1,
        ..Opts::default()
    })
    .await;
    check_changes_feed(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_bursts_then_recovers() {
    let app = spawn(Opts {
        rate: RateLimit {
            burst: 3,
            per_second: 1.0,
        },
        ..Opts::default()
    })
    .await;
    let mut limited = None;
    for _ in 0..5 {
        let r = app.get("/v1/me").await;
        if r.status == 200 {
            assert_eq!(r.headers["ratelimit-limit"], "3");
            assert_eq!(r.headers["x-ratelimit-limit"], "3");
            assert!(r.headers.contains_key("ratelimit-remaining"));
            assert!(r.headers.contains_key("ratelimit-reset"));
            assert_eq!(r.headers["ratelimit-policy"], "\"burst\";q=3;w=3");
            let now = r.headers["ratelimit"].to_str().unwrap();
            assert!(
                now.starts_with("\"burst\";r=") && now.contains(";t="),
                "{now}"
            );
        } else {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("a burst of 5 over a bucket of 3 is limited");
    assert_problem(&r, 429, "rate_limited");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry));
    assert_eq!(
        r.headers["ratelimit"].to_str().unwrap(),
        format!("\"burst\";r=0;t={retry}")
    );
    tokio::time::sleep(Duration::from_secs(retry)).await;
    assert_eq!(app.get("/v1/me").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_keys_data_and_clock() {
    let dir = tempfile::tempdir().unwrap();
    let o = Opts {
        speed: 3600.0,
        ..Opts::default()
    };
    let run = genie::start(config(dir.path(), &o), Box::new(|_| {}))
        .await
        .unwrap();
    let (_, key) = run.store.create_key("keep", &["read:all".into()]).unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let before = run.store.clock().unwrap().unwrap();
    let orders = run.store.ids("orders", true, None).unwrap().len();
    run.ticker.abort();
    run.server.abort();
    let _ = run.ticker.await;
    let _ = run.server.await;
    let before = run
        .store
        .clock()
        .unwrap()
        .unwrap()
        .reached
        .max(before.reached);
    drop(run.store);

    let mut cfg = config(dir.path(), &o);
    cfg.start = None;
    let run = genie::start(cfg, Box::new(|_| {})).await.unwrap();
    let after = run.store.clock().unwrap().unwrap();
    assert!(
        after.reached >= before,
        "the clock resumed where it stopped"
    );
    let r = reqwest::Client::new()
        .get(format!("http://{}/v1/orders?limit=1000", run.addr))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let n = run.store.ids("orders", true, None).unwrap().len();
    assert!(n >= orders);
    // nothing was applied twice: every seq is in the feed once and the clock is after it
    let (rows, distinct) = run.store.retained_changes().unwrap();
    assert_eq!(rows, distinct);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_documents_every_endpoint_and_parameter() {
    let app = spawn(Opts::default()).await;
    let r = app.get_with("/openapi.json", None).await;
    assert_eq!(r.status, 200);
    let doc = r.body;
    assert_eq!(doc["openapi"], "3.1.0");
    for t in table_names() {
        let list = &doc["paths"][format!("/v1/{t}")]["get"];
        let names: Vec<&str> = list["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        for p in [
            "limit",
            "cursor",
            "page",
            "offset",
            "updated_at_min",
            "updated_at_max",
            "created_at_min",
            "created_at_max",
            "include_deleted",
        ] {
            assert!(names.contains(&p), "{t} {p}");
        }
        // what a date alone means, said right for each bound: a lower bound's date is its
        // first second, an upper bound's its last (and nothing says otherwise)
        for p in list["parameters"].as_array().unwrap() {
            let (name, text) = (p["name"].as_str().unwrap(), p["description"].to_string());
            let (second, not) = match name {
                n if n.ends_with("_min") => ("first", "last"),
                n if n.ends_with("_max") => ("last", "first"),
                _ => continue,
            };
            assert!(
                text.contains(&format!("a date: its {second} second")),
                "{t} {name}: {text}"
            );
            assert!(
                !text.contains(&format!("{not} second")),
                "{t} {name}: {text}"
            );
        }
        assert!(doc["paths"][format!("/v1/{t}/{{id}}")]["get"].is_object());
        assert!(doc["components"]["schemas"][t]["properties"].is_object());
    }
    for p in ["/v1/changes", "/v1/me", "/v1/orders/{id}/items", "/healthz"] {
        assert!(doc["paths"][p]["get"].is_object(), "{p}");
    }
    let limit = &doc["paths"]["/v1/orders"]["get"]["parameters"][0]["schema"];
    assert_eq!(limit["minimum"], 1);
    assert_eq!(limit["maximum"], 1000);
    // every $ref resolves
    let text = doc.to_string();
    for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = &part[..part.find('"').unwrap()];
        assert!(doc["components"]["schemas"][name].is_object(), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_binary_restarts_with_its_keys_rows_and_clock() {
    check_binary_restart(&[]).await;
}

/// A client that retries 429 and 5xx answers, honouring Retry-After; returns the response and
/// the problems it retried past.
async fn get_retrying(app: &App, url: &str, problems: &mut Vec<Resp>) -> Resp {
    loop {
        let r = app.get(url).await;
        match r.status.as_u16() {
            429 | 500 | 503 | 599 => {
                let wait = r
                    .headers
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
                problems.push(r);
                tokio::time::sleep(
                    Duration::from_secs(wait.unwrap_or(0)).max(Duration::from_millis(50)),
                )
                .await;
            }
            _ => return r,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_hostile_chaos_a_retrying_client_still_gets_every_row() {
    // the transport faults at hostile strength (the data faults have tests of their own: the
    // clock stands still here, so late rows would never arrive)
    let mut chaos = common::old_hostile();
    chaos.faults.extend([
        genie::chaos::FaultKind::ConnectionResets,
        genie::chaos::FaultKind::TruncatedResponses,
    ]);
    let app = spawn(Opts {
        chaos,
        ..Opts::default()
    })
    .await;
    // authentication comes first: a bad key is always a 401, never a chaos fault
    for _ in 0..20 {
        let r = app.get_with("/v1/orders", Some("fg_live_not_a_key")).await;
        assert_problem(&r, 401, "invalid_api_key");
    }
    let mut problems = Vec::new();
    let mut answered = 0;
    let mut repeated = 0;
    for (table, limit) in [("orders", 5), ("customers", 100)] {
        let mut ids = Vec::new();
        let mut url = format!("/v1/{table}?limit={limit}");
        loop {
            let r = get_retrying(&app, &url, &mut problems).await;
            answered += 1;
            assert_eq!(r.status, 200, "{url}: {}", r.body);
            ids.extend(
                r.body["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| id_of(table, v)),
            );
            match r.body["links"]["next"].as_str() {
                Some(next) => url = next.to_string(),
                None => break,
            }
        }
        let mut want = app.store_ids(table, false, None);
        let got_len = ids.len();
        ids.sort();
        ids.dedup();
        repeated += got_len - ids.len();
        want.sort();
        assert_eq!(
            ids, want,
            "{table}: the pages hold every row (upserted on the key)"
        );
    }
    eprintln!(
        "chaos walk: {answered} pages, {} faults, {repeated} rows repeated",
        problems.len()
    );
    // overlapping pages: a row seen twice is the same row (the client upserts on the key)
    assert!(repeated >= 1, "no page overlapped in {answered} pages");
    assert!(answered >= 10, "{answered} pages");
    // the fault sequence is seeded: this walk meets several, each a proper problem
    assert!(
        problems.len() >= 2,
        "{} faults in {answered} pages",
        problems.len()
    );
    let cuts = problems.iter().filter(|p| p.status == 599).count();
    assert!(cuts >= 1, "no body was cut short in {answered} pages");
    for p in problems.iter().filter(|p| p.status != 599) {
        let code = match p.status.as_u16() {
            500 => "internal",
            503 => "unavailable",
            _ => "rate_limited",
        };
        assert_problem(p, p.status.as_u16(), code);
        assert!(
            p.body["detail"]
                .as_str()
                .unwrap()
                .contains("--chaos server-errors,")
        );
        if code != "internal" {
            let after: u64 = p.headers["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=3).contains(&after), "{after}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_feed_carries_only_the_resources_a_key_may_read() {
    let app = spawn(Opts::default()).await;
    let tables = |r: &Resp| -> std::collections::BTreeSet<String> {
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["table"].as_str().unwrap().to_string())
            .collect()
    };
    let all = tables(&app.get("/v1/changes?limit=1000").await);
    assert!(all.len() >= 2 && all.contains("customers"), "{all:?}");
    // read:changes alone opens the feed, not the rows of every resource (customer emails…)
    let (_, feed) = app
        .run
        .store
        .create_key("feed only", &["read:changes".into()])
        .unwrap();
    let r = app.get_with("/v1/changes?limit=1000", Some(&feed)).await;
    assert!(tables(&r).is_empty(), "{}", r.body);
    let (_, orders) = app
        .run
        .store
        .create_key(
            "orders feed",
            &["read:changes".into(), "read:orders".into()],
        )
        .unwrap();
    let r = app.get_with("/v1/changes?limit=1000", Some(&orders)).await;
    let seen = tables(&r);
    assert_eq!(
        seen,
        std::collections::BTreeSet::from(["orders".to_string()]),
        "{}",
        r.body
    );
}

/// `tables=` filters the feed to the resources named, intersected with the key's scopes;
/// the next link keeps it; an unknown name is a 400 naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_feed_carries_only_the_tables_asked_for() {
    use std::collections::BTreeSet;
    let app = spawn(Opts::default()).await;
    let tables = |r: &Resp| -> BTreeSet<String> {
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["table"].as_str().unwrap().to_string())
            .collect()
    };
    let both = BTreeSet::from(["customers".to_string(), "orders".to_string()]);
    // the whole feed, read through the filter and the next links
    let mut path = "/v1/changes?limit=500&tables=customers,orders".to_string();
    let (mut seen, mut records, mut pages) = (BTreeSet::new(), 0, 0);
    loop {
        let r = app.get(&path).await;
        seen.extend(tables(&r));
        records += r.body["data"].as_array().unwrap().len();
        pages += 1;
        if !r.body["has_more"].as_bool().unwrap() {
            break;
        }
        path = r.body["links"]["next"].as_str().unwrap().to_string();
        assert!(path.contains("tables=customers,orders"), "{path}");
    }
    assert_eq!(seen, both);
    assert!(pages > 1, "{records} records in one page");
    // … exactly the records of those tables the unfiltered feed holds
    let (mut all, mut after) = (0, 0);
    loop {
        let r = app
            .get(&format!("/v1/changes?limit=1000&after_seq={after}"))
            .await;
        let data = r.body["data"].as_array().unwrap();
        all += data
            .iter()
            .filter(|c| both.contains(c["table"].as_str().unwrap()))
            .count();
        if !r.body["has_more"].as_bool().unwrap() {
            break;
        }
        after = r.body["next_after_seq"].as_i64().unwrap();
    }
    assert_eq!(records, all);
    // intersected with the key's scopes: a table the key may not read is left out
    let (_, customers) = app
        .run
        .store
        .create_key(
            "customers feed",
            &["read:changes".into(), "read:customers".into()],
        )
        .unwrap();
    let r = app
        .get_with(
            "/v1/changes?limit=1000&tables=customers,orders",
            Some(&customers),
        )
        .await;
    assert_eq!(tables(&r), BTreeSet::from(["customers".to_string()]));
    let r = app
        .get_with("/v1/changes?limit=1000&tables=orders", Some(&customers))
        .await;
    assert!(tables(&r).is_empty(), "{}", r.body);
    for bad in ["customers,nope", "", "customers,,orders"] {
        let r = app.get(&format!("/v1/changes?tables={bad}")).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert_eq!(r.body["param"], "tables", "{}", r.body);
        assert!(
            r.body["detail"].as_str().unwrap().contains("unknown table"),
            "{}",
            r.body
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_method_is_a_problem_too() {
    let app = spawn(Opts::default()).await;
    for path in ["/v1/orders", "/healthz", "/openapi.json"] {
        let r = app
            .client
            .post(format!("{}{path}", app.base))
            .bearer_auth(&app.key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405, "{path}");
        assert_eq!(r.headers()["allow"], "GET, HEAD");
        assert_eq!(
            r.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "method_not_allowed", "{body}");
        assert!(body["detail"].as_str().unwrap().contains("POST"), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_never_come_from_the_host_header() {
    let next = |app: &App| {
        let client = app.client.clone();
        let url = format!("{}/v1/events?limit=2", app.base);
        let key = app.key.clone();
        async move {
            let r = client
                .get(url)
                .bearer_auth(key)
                .header("host", "evil.example")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let link = r.headers()["link"].to_str().unwrap().to_string();
            let body: Value = r.json().await.unwrap();
            (body["links"]["next"].as_str().unwrap().to_string(), link)
        }
    };
    // by default links are relative
    let app = spawn(Opts::default()).await;
    let (body, header) = next(&app).await;
    assert!(body.starts_with("/v1/events?"), "{body}");
    assert_eq!(header, format!("<{body}>; rel=\"next\""));
    // with a public URL, absolute on it
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), &Opts::default());
    cfg.public_url = Some("https://api.example.com/shop".into());
    let app = spawn_config(cfg, dir, None).await;
    let (body, _) = next(&app).await;
    assert!(
        body.starts_with("https://api.example.com/shop/v1/events?"),
        "{body}"
    );
    assert!(!body.contains("evil"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_compressed_gzip_or_brotli_as_the_client_accepts() {
    use std::io::Read;
    let app = spawn(Opts::default()).await;
    let url = format!("{}/v1/events?limit=100", app.base);
    let plain = app.get("/v1/events?limit=100").await;
    assert_eq!(plain.status, 200);
    for (accept, encoding) in [("gzip", "gzip"), ("br", "br"), ("gzip, br", "br")] {
        let r = app
            .client
            .get(&url)
            .bearer_auth(&app.key)
            .header("accept-encoding", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-encoding"], encoding, "{accept}");
        let packed = r.bytes().await.unwrap();
        let mut text = String::new();
        match encoding {
            "gzip" => flate2::read::GzDecoder::new(&packed[..])
                .read_to_string(&mut text)
                .unwrap(),
            _ => brotli::Decompressor::new(&packed[..], 4096)
                .read_to_string(&mut text)
                .unwrap(),
        };
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["data"], plain.body["data"], "{accept}");
        assert!(
            packed.len() * 3 < text.len(),
            "{accept}: {} bytes for {}",
            packed.len(),
            text.len()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item_reads_carry_an_etag_and_revalidate() {
    let app = spawn(Opts::default()).await;
    let list = app.get("/v1/customers?limit=1").await;
    let id = list.body["data"][0]["id"].as_str().unwrap().to_string();
    let url = format!("{}/v1/customers/{id}", app.base);
    let r = app
        .client
        .get(&url)
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "private, no-cache");
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
    let again = |tag: String| {
        app.client
            .get(&url)
            .bearer_auth(&app.key)
            .header("if-none-match", tag)
            .send()
    };
    let r = again(etag.clone()).await.unwrap();
    assert_eq!(r.status(), 304);
    assert_eq!(r.headers()["etag"].to_str().unwrap(), etag);
    assert!(r.bytes().await.unwrap().is_empty());
    let r = again("\"stale\"".into()).await.unwrap();
    assert_eq!(r.status(), 200);
    // another row, another tag
    let other = list_second_customer(&app).await;
    let r = app
        .client
        .get(format!("{}/v1/customers/{other}", app.base))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_ne!(r.headers()["etag"].to_str().unwrap(), etag);
}

async fn list_second_customer(app: &App) -> String {
    let r = app.get("/v1/customers?limit=2").await;
    r.body["data"][1]["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_or_silent_connections_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), &Opts::default());
    cfg.header_timeout = Duration::from_millis(500);
    let app = spawn_config(cfg, dir, None).await;
    let addr = app.base.trim_start_matches("http://").to_string();
    // a request whose headers never end, and a connection that never sends anything
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    for s in [&mut slow, &mut silent] {
        let mut buf = Vec::new();
        // the server closes it (maybe after a 408); without a timeout this read would hang
        let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
        assert!(read.is_ok(), "the connection was held open");
    }
    // a prompt client is served as before
    assert_eq!(app.get_with("/healthz", None).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_answers_are_documented_with_their_headers() {
    let app = spawn(Opts::default()).await;
    let doc = app.get_with("/openapi.json", None).await.body;
    let list = &doc["paths"]["/v1/orders"]["get"]["responses"];
    for status in ["429", "503"] {
        let h = &list[status]["headers"];
        for name in ["Retry-After", "RateLimit", "RateLimit-Policy"] {
            assert!(
                h[name].is_object(),
                "{status} lacks {name}: {}",
                list[status]
            );
        }
    }
    assert!(list["200"]["headers"]["RateLimit"].is_object());
}

/// (A stored table: the clickstream's totals come from its days' counts, clickstream.rs.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_total_is_counted_once_per_snapshot() {
    let app = spawn(Opts::default()).await;
    let before = app.run.store.counts_run();
    let first = app.get("/v1/sessions?page=1&limit=10").await;
    let total = first.body["total"].as_i64().unwrap();
    assert!(total > 100, "{total}");
    for q in ["page=2&limit=10", "offset=30&limit=5", "page=3&limit=10"] {
        let r = app.get(&format!("/v1/sessions?{q}")).await;
        assert_eq!(r.body["total"].as_i64(), Some(total), "{q}");
    }
    // other filters are another count
    let r = app
        .get("/v1/sessions?page=1&created_at_min=2024-01-03")
        .await;
    assert!(r.body["total"].as_i64().unwrap() < total);
    assert_eq!(app.run.store.counts_run() - before, 2);
}

/// Sends `request` on a fresh connection and reads the answer until the server closes it.
async fn raw_exchange(app: &App, request: &[u8]) -> (String, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut c = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // the server may answer (and close) before it has read all of an oversized request
    let _ = c.write_all(request).await;
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        let mut chunk = [0u8; 4096];
        loop {
            match c.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the connection stayed open");
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {text:?}"));
    let head = head.to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .unwrap_or_else(|| panic!("no content-length in {head}"))
        .parse()
        .unwrap();
    assert_eq!(body.len(), length, "{head}");
    let body = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
    (head, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_or_malformed_requests_are_problems_too() {
    let app = spawn(Opts::default()).await;
    let long_uri = format!(
        "GET /v1/orders?limit={} HTTP/1.1\r\nHost: x\r\n\r\n",
        "1".repeat(genie::serve::MAX_URI_BYTES)
    );
    let many_headers = format!(
        "GET /v1/orders HTTP/1.1\r\nHost: x\r\n{}\r\n",
        (0..=genie::serve::MAX_HEADERS)
            .map(|i| format!("x-h{i}: {i}\r\n"))
            .collect::<String>()
    );
    let huge_header = format!(
        "GET /v1/orders HTTP/1.1\r\nHost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(600_000)
    );
    for (request, status, code) in [
        (long_uri.as_str(), 414, "uri_too_long"),
        (many_headers.as_str(), 431, "header_fields_too_large"),
        (huge_header.as_str(), 431, "header_fields_too_large"),
        ("NOT HTTP AT ALL\r\n\r\n", 400, "malformed_request"),
    ] {
        let (head, body) = raw_exchange(&app, request.as_bytes()).await;
        assert!(head.starts_with(&format!("http/1.1 {status} ")), "{head}");
        assert!(
            head.contains("\r\ncontent-type: application/problem+json"),
            "{head}"
        );
        assert_eq!(body["code"], code, "{body}");
        assert_eq!(body["status"], status, "{body}");
        assert!(body["detail"].as_str().unwrap().len() > 20, "{body}");
    }
    // every code the server answers with is documented
    let doc = app.get_with("/openapi.json", None).await.body;
    let codes = doc["components"]["schemas"]["Problem"]["properties"]["code"]["enum"].to_string();
    for code in [
        "uri_too_long",
        "header_fields_too_large",
        "malformed_request",
    ] {
        assert!(codes.contains(code), "{code} not in {codes}");
    }
    // … and ordinary requests are served as before
    assert_eq!(app.get("/v1/orders?limit=1").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflights_are_answered_without_a_key() {
    let app = spawn(Opts::default()).await;
    let r = app
        .client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/v1/orders?limit=5", app.base),
        )
        .header("origin", "https://notebook.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let h = r.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    assert_eq!(h["access-control-allow-methods"], "GET, HEAD");
    let allowed = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for name in ["authorization", "x-api-key"] {
        assert!(allowed.contains(name), "{allowed}");
    }
    assert!(h.contains_key("access-control-max-age"));
    // the request itself: any origin may read the answer and the headers a client needs
    let r = app
        .client
        .get(format!("{}/v1/orders?limit=1", app.base))
        .bearer_auth(&app.key)
        .header("origin", "https://notebook.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let exposed = r.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for name in ["link", "ratelimit", "retry-after", "etag", "x-request-id"] {
        assert!(exposed.split(", ").any(|e| e == name), "{exposed}");
    }
    // errors too, so a script can read why; a request without a key is still a 401
    let r = app.get_with("/v1/orders", None).await;
    assert_problem(&r, 401, "missing_api_key");
    assert_eq!(r.headers["access-control-allow-origin"], "*");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_throttling_carries_the_headers_of_real_throttling() {
    let app = spawn(Opts {
        chaos: genie::chaos::ChaosLevel::Mild.into(),
        ..Opts::default()
    })
    .await;
    // mild chaos throttles about one request in a hundred (seeded)
    let mut throttled = None;
    for _ in 0..1000 {
        let r = app.get("/v1/me").await;
        if r.status == 429 {
            throttled = Some(r);
            break;
        }
    }
    let r = throttled.expect("a 429 in 1000 requests under mild chaos");
    assert_problem(&r, 429, "rate_limited");
    assert!(r.body["detail"].as_str().unwrap().contains("--chaos mild"));
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    // as a real 429 (rate_limit_bursts_then_recovers): nothing left until Retry-After
    assert_eq!(
        r.headers["ratelimit"].to_str().unwrap(),
        format!("\"burst\";r=0;t={retry}")
    );
    assert_eq!(r.headers["ratelimit-policy"], "\"burst\";q=100000;w=1");
    for name in ["ratelimit-remaining", "x-ratelimit-remaining"] {
        assert_eq!(r.headers[name], "0", "{name}");
    }
    for name in ["ratelimit-reset", "x-ratelimit-reset"] {
        assert_eq!(
            r.headers[name].to_str().unwrap(),
            retry.to_string(),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_cursor_is_the_first_page() {
    let app = spawn(Opts::default()).await;
    let first = app.get("/v1/orders?limit=3").await;
    let empty = app.get("/v1/orders?limit=3&cursor=").await;
    assert_eq!(empty.status, 200, "{}", empty.body);
    assert_eq!(empty.body["data"], first.body["data"]);
    assert_eq!(empty.body["next_cursor"], first.body["next_cursor"]);
    assert!(first.body["data"].as_array().unwrap().len() == 3);
    // … as the document says, so that a generated client may send it
    let doc = app.get_with("/openapi.json", None).await.body;
    let params = doc["paths"]["/v1/orders"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let cursor = params.iter().find(|p| p["name"] == "cursor").unwrap();
    assert!(
        cursor["description"]
            .as_str()
            .unwrap()
            .contains("empty cursor"),
        "{cursor}"
    );
    let kinds = cursor["schema"]["anyOf"].as_array().unwrap();
    assert!(kinds.iter().any(|k| k["maxLength"] == 0), "{cursor}");
}
