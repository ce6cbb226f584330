//! Shared by the API tests: a server spawned in-process on a random port (SQLite in a temp
//! dir, or PostgreSQL in a fresh database), HTTP helpers, and checks that hold on either store.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use genie::{Config, RateLimit, Running, Store};
use reqwest::StatusCode;
use serde_json::Value;

pub const SCENARIO: &str =
    "[shop]\nopened_on = \"2024-01-01\"\n[traffic]\norganic_sessions_per_day = 200.0\n";

/// The scenario the servers of these tests serve (seed 7, as in [`config`]), built once: a
/// scenario works out its traffic for years ahead when it is made, and `id_of` asks per row.
pub fn scenario() -> &'static faux::Scenario {
    static SCENARIO_ONCE: std::sync::OnceLock<faux::Scenario> = std::sync::OnceLock::new();
    SCENARIO_ONCE.get_or_init(|| faux::Scenario::from_toml("shop.toml", SCENARIO, 7).unwrap())
}

/// The names of its tables: the resources served.
pub fn table_names() -> Vec<&'static str> {
    scenario().tables().iter().map(|t| t.name).collect()
}

pub struct App {
    pub run: Running,
    pub base: String,
    pub key: String,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
}

pub struct Opts {
    pub speed: f64,
    pub retention_days: i64,
    pub rate: RateLimit,
    pub chaos: genie::chaos::ChaosSpec,
    pub cursor_ttl: Option<Duration>,
}

/// What `hostile` was before it had data faults and cut bodies: errors, delays and overlaps
/// at hostile strength.
pub fn old_hostile() -> genie::chaos::ChaosSpec {
    "server-errors,outages,throttling,slow-answers,overlapping-pages"
        .parse()
        .unwrap()
}

impl Default for Opts {
    fn default() -> Opts {
        Opts {
            speed: 0.0,
            retention_days: 3650,
            rate: RateLimit {
                burst: 100_000,
                per_second: 100_000.0,
            },
            chaos: genie::chaos::ChaosSpec::default(),
            cursor_ttl: None,
        }
    }
}

pub fn config(dir: &std::path::Path, o: &Opts) -> Config {
    let scenario = dir.join("shop.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    Config {
        data_dir: dir.join("data"),
        scenario: scenario.display().to_string(),
        seed: 7,
        history_days: 3,
        speed: o.speed,
        start: Some(faux::Timestamp::parse_flexible("2024-01-04T06:00:00Z").unwrap()),
        listen: "127.0.0.1:0".into(),
        retention_secs: o.retention_days * 86_400,
        rate: o.rate,
        chaos: o.chaos.clone(),
        cursor_ttl: o.cursor_ttl,
        public_url: None,
        dirty: faux::dirty::Profile::Off,
        header_timeout: genie::serve::HEADER_READ_TIMEOUT,
    }
}

/// A server on the embedded SQLite store in a temp dir.
pub async fn spawn(o: Opts) -> App {
    spawn_with(o, None).await
}

/// A server on PostgreSQL (`url`) or, without one, on SQLite.
pub async fn spawn_with(o: Opts, url: Option<&str>) -> App {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &o);
    spawn_config(cfg, dir, url).await
}

/// A server with `cfg` (its data dir inside `dir`), on PostgreSQL (`url`) or SQLite.
pub async fn spawn_config(cfg: Config, dir: tempfile::TempDir, url: Option<&str>) -> App {
    let store = open(&cfg, url);
    let run = genie::start_on(cfg, store, Box::new(|_| {})).await.unwrap();
    App::new(run, dir)
}

pub fn open(cfg: &Config, url: Option<&str>) -> Store {
    match url {
        None => Store::open(&cfg.data_dir).unwrap(),
        Some(u) => Store::open_postgres(
            faux_sinks::postgres::PgTarget::parse(u, Some(genie::store::PG_SCHEMA)).unwrap(),
        )
        .unwrap(),
    }
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl App {
    /// A client of `run` with a fresh `read:all` key.
    pub fn new(run: Running, dir: tempfile::TempDir) -> App {
        let (_, key) = run.store.create_key("test", &["read:all".into()]).unwrap();
        App {
            base: format!("http://{}", run.addr),
            run,
            key,
            client: reqwest::Client::new(),
            dir,
        }
    }

    pub async fn get_with(&self, path: &str, key: Option<&str>) -> Resp {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        let mut req = self.client.get(url);
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        // a connection reset before the answer's head (--chaos connection-resets) is a 599 too
        let r = match req.send().await {
            Ok(r) => r,
            Err(e) if e.is_request() || e.is_connect() => {
                return Resp {
                    status: StatusCode::from_u16(599).unwrap(),
                    headers: Default::default(),
                    body: Value::String(format!("no answer: {e}")),
                };
            }
            Err(e) => panic!("{e}"),
        };
        let status = r.status();
        let headers = r.headers().clone();
        // a body cut short (--chaos connection-resets, truncated-responses) is a 599, the
        // status clients give a network read error: retry it
        let (status, text) = match r.text().await {
            Ok(t) => (status, t),
            Err(e) => (
                StatusCode::from_u16(599).unwrap(),
                format!("body cut short: {e}"),
            ),
        };
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.get_with(path, Some(&self.key)).await
    }

    /// Walks a list by following next_cursor; returns every row and the first page's as_of.
    pub async fn walk(&self, first: &str) -> (Vec<Value>, String) {
        let mut rows = Vec::new();
        let mut url = first.to_string();
        let mut as_of = None;
        loop {
            let r = self.get(&url).await;
            assert_eq!(r.status, 200, "{url}: {}", r.body);
            as_of.get_or_insert_with(|| r.body["as_of"].as_str().unwrap().to_string());
            rows.extend(r.body["data"].as_array().unwrap().iter().cloned());
            if !r.body["has_more"].as_bool().unwrap() {
                assert!(r.body["next_cursor"].is_null());
                break;
            }
            let next = r.body["links"]["next"].as_str().unwrap().to_string();
            let link = r.headers["link"].to_str().unwrap();
            assert_eq!(link, format!("<{next}>; rel=\"next\""));
            url = next;
        }
        (rows, as_of.unwrap())
    }

    /// The ids in the store (live rows only unless `include_deleted`).
    pub fn store_ids(
        &self,
        table: &str,
        include_deleted: bool,
        sort: Option<(i64, i64)>,
    ) -> Vec<String> {
        self.run.store.ids(table, include_deleted, sort).unwrap()
    }
}

/// The paths an OpenAPI document lists.
pub fn openapi_paths(doc: &Value) -> std::collections::BTreeSet<String> {
    doc["paths"].as_object().unwrap().keys().cloned().collect()
}

/// The id of `row` of table `def` in URLs: its primary key's values joined with ':'.
pub fn id(def: &faux::TableDef, row: &Value) -> String {
    def.primary_key
        .iter()
        .map(|k| match &row[*k] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(":")
}

/// [`id`] of a row of the test scenario's table `table`.
pub fn id_of(table: &str, row: &Value) -> String {
    id(scenario().table(table).unwrap(), row)
}

pub fn assert_problem(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    assert_eq!(
        r.headers["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    assert_eq!(r.body["code"], code, "{}", r.body);
    assert_eq!(r.body["status"], status);
    assert!(r.body["type"].as_str().unwrap().ends_with(code));
    assert!(r.headers.contains_key("x-request-id"));
}

/// Every version a key had, from the change feed (retention covers all history here).
pub fn versions(app: &App, table: &str) -> HashMap<String, Vec<(i64, String)>> {
    let mut out: HashMap<String, Vec<(i64, String)>> = HashMap::new();
    for c in app.run.store.change_log(table).unwrap() {
        out.entry(c.key).or_default().push((c.ts, c.row));
    }
    out
}

pub async fn check_cursor_walk(app: &App) {
    for table in table_names() {
        let (rows, _) = app.walk(&format!("/v1/{table}?limit=37")).await;
        let ids: Vec<String> = rows.iter().map(|r| id_of(table, r)).collect();
        let unique: HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "{table}: duplicates");
        let want = app.store_ids(table, false, None);
        // a three-day-old shop has refunded nothing yet
        assert!(table == "refunds" || !want.is_empty(), "{table} is empty");
        let want: HashSet<&String> = want.iter().collect();
        assert_eq!(unique, want, "{table}");
        // soft-deleted rows only with include_deleted
        let (all, _) = app
            .walk(&format!("/v1/{table}?limit=1000&include_deleted=true"))
            .await;
        assert_eq!(all.len(), app.store_ids(table, true, None).len(), "{table}");
    }
}

pub async fn check_page_and_offset(app: &App) {
    let want: HashSet<String> = app.store_ids("orders", false, None).into_iter().collect();
    for mode in ["page", "offset"] {
        let mut seen = Vec::new();
        let mut url = format!(
            "/v1/orders?limit=10&{}",
            if mode == "page" { "page=1" } else { "offset=0" }
        );
        loop {
            let r = app.get(&url).await;
            assert_eq!(r.status, 200, "{}", r.body);
            assert_eq!(r.body["total"].as_u64().unwrap() as usize, want.len());
            for row in r.body["data"].as_array().unwrap() {
                seen.push(id_of("orders", row));
            }
            match r.body["links"]["next"].as_str() {
                Some(n) => url = n.to_string(),
                None => break,
            }
        }
        assert_eq!(seen.len(), want.len(), "{mode}");
        assert_eq!(seen.into_iter().collect::<HashSet<_>>(), want, "{mode}");
    }
}

pub async fn check_filters(app: &App) {
    let (lo, hi) = ("2024-01-02T00:00:00Z", "2024-01-03T12:00:00Z");
    let (lo_s, hi_s) = (1_704_153_600i64, 1_704_283_200i64);
    // the cursor carries the filters: follow only next_cursor, never re-send them
    let mut rows = Vec::new();
    let mut url = format!("/v1/orders?limit=5&updated_at_min={lo}&updated_at_max={hi}");
    loop {
        let r = app.get(&url).await;
        assert_eq!(r.status, 200, "{}", r.body);
        rows.extend(r.body["data"].as_array().unwrap().iter().cloned());
        match r.body["next_cursor"].as_str() {
            Some(c) => url = format!("/v1/orders?limit=5&cursor={c}"),
            None => break,
        }
    }
    let want = app.store_ids("orders", false, Some((lo_s, hi_s)));
    assert!(!want.is_empty());
    assert_eq!(rows.len(), want.len());
    for row in &rows {
        let t = faux::Timestamp::parse_flexible(row["updated_at"].as_str().unwrap())
            .unwrap()
            .0;
        assert!((lo_s..=hi_s).contains(&t), "{row}");
    }
    // dates and epoch seconds mean the same instants as RFC 3339
    let a = app
        .get("/v1/orders?limit=1000&created_at_min=1704153600&created_at_max=2024-01-02")
        .await;
    let b = app
        .get("/v1/orders?limit=1000&created_at_min=2024-01-02T00:00:00Z&created_at_max=2024-01-02T23:59:59Z")
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["data"], b.body["data"]);
    assert!(!a.body["data"].as_array().unwrap().is_empty());
    // created_at filters on an insert-only table (its keyset column is its creation time)
    let e = app
        .get("/v1/events?limit=1000&created_at_min=2024-01-03T10:00:00Z&created_at_max=2024-01-03T10:09:59Z")
        .await;
    assert_eq!(e.status, 200, "{}", e.body);
    let events = e.body["data"].as_array().unwrap();
    assert!(!events.is_empty());
    for ev in events {
        let at = ev["occurred_at"].as_str().unwrap();
        assert!(at.starts_with("2024-01-03T10:0"), "{at}");
    }
}

pub async fn check_single_rows(app: &App) {
    let r = app.get("/v1/orders?limit=3").await;
    let order = &r.body["data"][0];
    let id = order["id"].as_str().unwrap();
    let one = app.get(&format!("/v1/orders/{id}")).await;
    assert_eq!(one.status, 200);
    assert_eq!(&one.body, order);
    let items = app.get(&format!("/v1/orders/{id}/items")).await;
    assert_eq!(items.status, 200);
    let items = items.body["data"].as_array().unwrap().clone();
    assert!(!items.is_empty());
    assert!(items.iter().all(|i| i["order_id"] == order["id"]));
    // composite keys are joined with ':'
    let item_id = id_of("order_items", &items[0]);
    let one = app.get(&format!("/v1/order_items/{item_id}")).await;
    assert_eq!(one.body, items[0]);
    assert_problem(&app.get("/v1/orders/nope").await, 404, "not_found");
    assert_problem(&app.get("/v1/orders/nope/items").await, 404, "not_found");
    assert_problem(&app.get("/v1/widgets").await, 404, "not_found");
    assert_problem(&app.get("/nowhere").await, 404, "not_found");
}

/// Two incremental passes while the clock runs (`speed` 7200): the merged result holds, for
/// every key, the version of a consistent snapshot at the second pass's as_of or a later one.
pub async fn check_incremental(app: &App) {
    for (table, limit) in [
        ("orders", 3),
        ("customers", 3),
        ("payments", 3),
        ("events", 250),
    ] {
        let q = format!("limit={limit}&include_deleted=true");
        let (first, as_of1) = app.walk(&format!("/v1/{table}?{q}")).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let (second, as_of2) = app
            .walk(&format!("/v1/{table}?{q}&updated_at_min={as_of1}"))
            .await;
        assert!(as_of2 > as_of1, "the clock moved: {as_of1} {as_of2}");
        assert!(
            !second.is_empty(),
            "{table}: nothing new in two virtual hours"
        );
        // merge as a loader would: upsert by id
        let mut merged: HashMap<String, String> = HashMap::new();
        for r in first.iter().chain(&second) {
            merged.insert(id_of(table, r), r.to_string());
        }
        let a2 = faux::Timestamp::parse_flexible(&as_of2).unwrap().0;
        let all = versions(app, table);
        assert!(!all.is_empty(), "{table}: no versions in the feed");
        for (key, vs) in &all {
            // the version a consistent snapshot at as_of2 has
            let Some(at) = vs.iter().rposition(|(ts, _)| *ts <= a2) else {
                continue;
            };
            let got = merged
                .get(key)
                .unwrap_or_else(|| panic!("{table} {key} missing after two passes"));
            let got: Value = serde_json::from_str(got).unwrap();
            // the loaded version is that one or a later one, never an older one
            let pos = vs
                .iter()
                .position(|(_, row)| serde_json::from_str::<Value>(row).unwrap() == got)
                .unwrap_or_else(|| panic!("{table} {key}: loaded row is no version: {got}"));
            assert!(pos >= at, "{table} {key}: stale version loaded");
        }
    }
}

/// With a one-day retention: 410 for an expired position, then every retained change once.
pub async fn check_changes_feed(app: &App) {
    let r = app.get("/v1/changes?after_seq=0").await;
    assert_problem(&r, 410, "changes_expired");
    let pruned = app.run.store.clock().unwrap().unwrap().pruned_seq;
    assert!(pruned > 0);
    // the answer says where to resume, machine-readably
    assert_eq!(r.body["oldest_seq"].as_i64(), Some(pruned), "{}", r.body);
    let mut after = r.body["oldest_seq"].as_i64().unwrap();
    let mut seqs = Vec::new();
    let mut tables = HashSet::new();
    let names = table_names();
    loop {
        let r = app
            .get(&format!("/v1/changes?after_seq={after}&limit=500"))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        for c in r.body["data"].as_array().unwrap() {
            seqs.push(c["seq"].as_i64().unwrap());
            assert!(["insert", "update", "delete"].contains(&c["op"].as_str().unwrap()));
            let table = c["table"].as_str().unwrap();
            assert!(names.contains(&table), "{table}");
            tables.insert(table.to_string());
            assert!(c["data"].is_object(), "{c}");
            // the row is the change's own version: its id is the changed key
            let ts = faux::Timestamp::parse_flexible(c["ts"].as_str().unwrap()).unwrap();
            if table == "events" {
                let at =
                    faux::Timestamp::parse_flexible(c["data"]["occurred_at"].as_str().unwrap());
                assert_eq!(at.unwrap(), ts, "{c}");
            }
            if table == "orders" {
                let at = faux::Timestamp::parse_flexible(c["data"]["updated_at"].as_str().unwrap());
                assert_eq!(at.unwrap(), ts, "{c}");
            }
        }
        after = r.body["next_after_seq"].as_i64().unwrap();
        if !r.body["has_more"].as_bool().unwrap() {
            break;
        }
    }
    assert!(!seqs.is_empty());
    assert!(
        tables.contains("events") && tables.contains("orders"),
        "{tables:?}"
    );
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "ordered by seq");
    let (retained, distinct) = app.run.store.retained_changes().unwrap();
    assert_eq!(seqs.len() as i64, retained);
    assert_eq!(retained, distinct);
}

/// The `genie` binary, started with `args`; returns it with its URL and the key it printed.
pub struct Genie {
    pub child: Child,
    pub url: String,
    pub first_key: Option<String>,
    pub stderr: std::sync::Arc<std::sync::Mutex<String>>,
    /// Everything it printed on stdout so far.
    pub stdout: std::sync::Arc<std::sync::Mutex<String>>,
}

pub fn start_binary(args: &[&str]) -> Genie {
    start_binary_env(args, &[])
}

/// [`start_binary`] with environment variables set (`RUST_LOG` for the access log).
pub fn start_binary_env(args: &[&str], env: &[(&str, &str)]) -> Genie {
    let mut child = Command::new(env!("CARGO_BIN_EXE_genie"))
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let err = child.stderr.take().unwrap();
    let sink = stderr.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let mut s = sink.lock().unwrap();
            s.push_str(&line);
            s.push('\n');
        }
    });
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = stdout.clone();
    std::thread::spawn(move || {
        // read to the end (kept in `stdout`): a full pipe would block genie
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let mut s = sink.lock().unwrap();
            s.push_str(&line);
            s.push('\n');
            drop(s);
            let _ = tx.send(line);
        }
    });
    let t0 = Instant::now();
    let mut url = None;
    let mut key = None;
    while t0.elapsed() < Duration::from_secs(120) {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                if let Some(u) = line.strip_prefix("genie is serving live data at ") {
                    url = Some(u.trim().to_string());
                }
                if let Some((_, k)) = line.split_once("API key (shown once, store it now): ") {
                    key = Some(k.split_whitespace().next().unwrap().to_string());
                }
                if line.contains("curl ") {
                    break;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if let Ok(Some(st)) = child.try_wait() {
                    panic!("genie exited with {st}: {}", stderr.lock().unwrap());
                }
            }
            Err(_) => break,
        }
    }
    let url = url.unwrap_or_else(|| panic!("genie did not start: {}", stderr.lock().unwrap()));
    Genie {
        child,
        url,
        first_key: key,
        stderr,
        stdout,
    }
}

/// The virtual time a server's store stands at, from /healthz.
pub async fn as_of(url: &str) -> i64 {
    let h: Value = reqwest::get(format!("{url}/healthz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    faux::Timestamp::parse_flexible(h["as_of"].as_str().unwrap())
        .unwrap()
        .0
}

/// Start the binary on a store (`store_args`), let the clock run, kill it (SIGKILL: no
/// clean shutdown), restart: the printed key still works, the rows are still there, and the
/// clock continues where it stopped — not from now, and without backfilling again.
pub async fn check_binary_restart(store_args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("shop.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let scenario = scenario.display().to_string();
    let mut args: Vec<&str> = store_args.to_vec();
    let data_dir = dir.path().join("data").display().to_string();
    if !args.iter().any(|a| a.starts_with("--database-url")) {
        args.extend(["--data-dir", &data_dir]);
    }
    args.extend([
        "--scenario",
        &scenario,
        "--seed",
        "7",
        "--speed",
        "3600",
        "--listen",
        "127.0.0.1:0",
    ]);
    let mut first = args.clone();
    first.extend(["--history", "2d", "--start", "2024-01-03T06:00:00Z"]);
    let mut g = start_binary(&first);
    let key = g.first_key.clone().expect("a new store prints a key");
    let client = reqwest::Client::new();
    let count = |url: String, key: String| {
        let client = client.clone();
        async move {
            let r = client
                .get(format!("{url}/v1/events?limit=1000&offset=0"))
                .bearer_auth(&key)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let v: Value = r.json().await.unwrap();
            v["total"].as_i64().unwrap()
        }
    };
    let start = faux::Timestamp::parse_flexible("2024-01-03T06:00:00Z")
        .unwrap()
        .0;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before_rows = count(g.url.clone(), key.clone()).await;
    let seen = as_of(&g.url).await;
    assert!(seen > start, "the clock ran: {seen}");
    g.child.kill().unwrap();
    g.child.wait().unwrap();
    let killed_at = Instant::now();
    assert!(
        g.stderr.lock().unwrap().contains("filled "),
        "a progress line of the first fill"
    );

    // --start and --history belong to a new store: on this one they are refused, not ignored
    for extra in [["--start", "2024-01-02"], ["--history", "2d"]] {
        let mut again = args.clone();
        again.extend(extra);
        let out = Command::new(env!("CARGO_BIN_EXE_genie"))
            .args(&again)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(
            err.contains(extra[0]) && err.contains("new store only") && err.contains("clock is at"),
            "{extra:?}: {err}"
        );
        assert!(!err.contains("backfill"), "{err}");
    }

    // no --start: the store's clock decides
    let mut g2 = start_binary(&args);
    assert!(g2.first_key.is_none(), "keys were kept: no new first key");
    let resumed = as_of(&g2.url).await;
    let real = killed_at.elapsed().as_secs_f64() + 1.0;
    assert!(resumed >= seen, "the clock went back: {seen} -> {resumed}");
    // it continues from where it stopped (the 200 ms tick of the last run is lost at most),
    // not from now (2024 is long gone)
    assert!(
        (resumed as f64) <= seen as f64 + (real + 0.5) * 3600.0,
        "the clock jumped: {seen} -> {resumed} in {real:.1} s"
    );
    let after_rows = count(g2.url.clone(), key.clone()).await;
    assert!(after_rows >= before_rows, "{before_rows} -> {after_rows}");
    let me = client
        .get(format!("{}/v1/me", g2.url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    g2.child.kill().unwrap();
    g2.child.wait().unwrap();
    let err2 = g2.stderr.lock().unwrap().clone();
    assert!(!err2.contains("backfilled"), "backfilled again: {err2}");
    assert!(err2.contains("resuming the store at"), "{err2}");
}
