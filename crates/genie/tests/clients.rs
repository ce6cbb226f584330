//! Real clients against the real `genie` binary: dlt's REST API source (loaded into a fresh
//! PostgreSQL database and checked with `aladdin verify`), the Singer tap
//! `tap-rest-api-msdk`, schemathesis on our own OpenAPI document, and the Airbyte declarative
//! manifest through `source-declarative-manifest`. The servers serve a scenario file (`SHOP`,
//! written next to their data) or, for dlt and schemathesis, also the built-in Shiny Rocks:
//! the clients learn the resources from the OpenAPI document, whatever the scenario.
//!
//! The Python tools live in venvs under `.venv-clients/` (scripts/setup-clients.sh, which
//! `.ci/run` calls). A missing tool, PostgreSQL or aladdin binary skips a test loudly, and
//! fails it when `CI=true` (test-support's rule).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use test_support::pg::FreshDb;
use test_support::tools::repo_root as root;

/// About 19,000 rows a day; refunds start on the 8th day.
const SHOP: &str =
    "[shop]\nopened_on = \"2024-01-01\"\n[traffic]\norganic_sessions_per_day = 200.0\n";

/// One client test at a time: each runs a server, a client and a clock on two cores.
static SERIAL: Mutex<()> = Mutex::new(());

/// A tool of one of the client venvs, or `None` after test-support's SKIP (a failure under
/// `CI=true`).
fn tool(test: &str, venv: &str, name: &str) -> Option<PathBuf> {
    test_support::tools::require_client(test, venv, name)
}

/// The tables of the scenario the servers serve: the resources every client must see.
fn resources() -> Vec<&'static str> {
    faux::Scenario::from_toml("shop.toml", SHOP, faux::DEFAULT_SEED)
        .unwrap()
        .tables()
        .iter()
        .map(|t| t.name)
        .collect()
}

/// The tables of the built-in scenario `name`.
fn resources_of(name: &str) -> Vec<&'static str> {
    faux::Scenario::by_name(name, faux::DEFAULT_SEED)
        .unwrap()
        .tables()
        .iter()
        .map(|t| t.name)
        .collect()
}

fn run(cmd: &mut Command, what: &str) -> Output {
    let t0 = Instant::now();
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    eprintln!("{what}: {:?} in {:.1?}", out.status, t0.elapsed());
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A `genie` process on a random port with its own data dir; killed on drop.
struct Genie {
    child: Child,
    url: String,
    key: String,
    dir: tempfile::TempDir,
}

impl Genie {
    /// A genie serving the `SHOP` scenario file.
    fn start(history: &str, start: &str, speed: &str, extra: &[&str]) -> Genie {
        Genie::serving(None, history, start, speed, extra)
    }

    /// A genie serving the built-in scenario `scenario`, or without one the `SHOP` file.
    fn serving(
        scenario: Option<&str>,
        history: &str,
        start: &str,
        speed: &str,
        extra: &[&str],
    ) -> Genie {
        Genie::launch(scenario, SHOP, "read:all", history, start, speed, extra)
    }

    /// A genie serving the built-in scenario `scenario`, or without one the scenario file
    /// `shop` (written to DIR/shop.toml), and a key with `scopes`.
    fn launch(
        scenario: Option<&str>,
        shop_toml: &str,
        scopes: &str,
        history: &str,
        start: &str,
        speed: &str,
        extra: &[&str],
    ) -> Genie {
        let dir = tempfile::tempdir().unwrap();
        let shop = dir.path().join("shop.toml");
        std::fs::write(&shop, shop_toml).unwrap();
        let data = dir.path().join("data");
        let bin = env!("CARGO_BIN_EXE_genie");
        let out = run(
            Command::new(bin)
                .args(["--data-dir"])
                .arg(&data)
                .args(["keys", "create", "--name", "clients", "--scopes", scopes]),
            "genie keys create",
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let key = text(&out.stdout).trim().to_string();
        assert!(key.starts_with("fg_"), "{key}");
        let mut child = Command::new(bin)
            .arg("--data-dir")
            .arg(&data)
            .arg("--scenario")
            .arg(scenario.map_or(shop.as_os_str(), std::ffi::OsStr::new))
            .args(["--history", history, "--start", start, "--speed", speed])
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            // the access log (status of every request) goes to DIR/genie.log
            .env("RUST_LOG", "genie=info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("genie.log")).unwrap())
            .spawn()
            .expect("start genie");
        let t0 = Instant::now();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("genie exited before serving"))
                .unwrap();
            if let Some(u) = line.strip_prefix("genie is serving live data at ") {
                break u.trim().to_string();
            }
        };
        // keep draining stdout so the server never blocks on a full pipe
        std::thread::spawn(move || for _ in lines {});
        eprintln!("genie: serving at {url} after {:.1?}", t0.elapsed());
        Genie {
            child,
            url,
            key,
            dir,
        }
    }

    fn get(&self, path: &str) -> Value {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let r = reqwest::Client::new()
                .get(format!("{}{path}", self.url))
                .bearer_auth(&self.key)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{path}: {}", r.status());
            r.json().await.unwrap()
        })
    }

    /// The status of every request served so far, from the access log.
    fn statuses(&self) -> Vec<u16> {
        let log = std::fs::read_to_string(self.dir.path().join("genie.log")).unwrap();
        log.lines()
            .filter_map(|l| l.split(" status=").nth(1))
            .filter_map(|rest| rest.split(' ').next()?.parse().ok())
            .collect()
    }

    /// The virtual clock.
    fn now(&self) -> faux::Timestamp {
        let h = self.get("/healthz");
        faux::Timestamp::parse_flexible(h["as_of"].as_str().unwrap()).unwrap()
    }
}

impl Drop for Genie {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// aladdin, built next to genie by `cargo test --workspace` (which builds every binary of the
/// workspace first).
fn aladdin(test: &str) -> Option<PathBuf> {
    test_support::require(
        test,
        test_support::tools::binary_beside(env!("CARGO_BIN_EXE_genie"), "aladdin"),
    )
}

/// Runs the dlt example once without its lookback (these servers hold no row back, and a
/// second run then reads exactly what changed); returns the rows it loaded per table.
fn dlt_run(python: &Path, g: &Genie, db: &FreshDb, pipelines: &Path) -> BTreeMap<String, u64> {
    dlt_run_with(python, g, db, pipelines, &[("GENIE_LOOKBACK_MINUTES", "0")]).0
}

/// Runs the dlt example once with extra environment `env`; returns the rows it loaded per
/// table and its `GENIE_PASSES` line (passes taken, passes that met an expired cursor).
fn dlt_run_with(
    python: &Path,
    g: &Genie,
    db: &FreshDb,
    pipelines: &Path,
    env: &[(&str, &str)],
) -> (BTreeMap<String, u64>, Value) {
    let script = root().join("examples/genie/dlt/genie_pipeline.py");
    let out = run(
        Command::new(python)
            .arg(&script)
            .envs(env.iter().copied())
            .current_dir(g.dir.path())
            .env("GENIE_URL", &g.url)
            .env("GENIE_API_KEY", &g.key)
            .env("GENIE_DATASET", "genie_raw")
            .env("GENIE_PIPELINES_DIR", pipelines)
            // trust authentication: dlt insists on a password, PostgreSQL ignores it
            .env(
                "DESTINATION__POSTGRES__CREDENTIALS",
                format!("postgresql://postgres:unused@127.0.0.1:5432/{}", db.name),
            )
            .env("RUNTIME__LOG_LEVEL", "WARNING"),
        "dlt pipeline",
    );
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "dlt failed:\n{stdout}\n{}",
        text(&out.stderr)
    );
    let line = |prefix: &str| -> Value {
        let l = stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix}line:\n{stdout}"));
        serde_json::from_str(l).unwrap()
    };
    (
        serde_json::from_value(line("GENIE_ROWS ")).unwrap(),
        line("GENIE_PASSES "),
    )
}

/// What a dlt test needs: dlt's python, aladdin and a fresh database (or `None` after
/// test-support's SKIP, a failure under `CI=true`).
fn dlt_needs(test: &str) -> Option<(PathBuf, PathBuf, FreshDb)> {
    let python = tool(test, "dlt", "python")?;
    let aladdin = aladdin(test)?;
    let db = FreshDb::create(test)?;
    Some((python, aladdin, db))
}

#[test]
fn dlt_loads_every_resource_incrementally_and_verify_agrees() {
    let test = "dlt_loads_every_resource_incrementally_and_verify_agrees";
    let Some((python, aladdin, db)) = dlt_needs(test) else {
        return;
    };
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // 12 days backfilled (2024-01-01 …), then 10 virtual minutes per second; with seeded
    // faults (500s, 503s and 429s with Retry-After, slow answers) that dlt's client retries
    let g = Genie::start("12d", "2024-01-13T18:00:00Z", "600", &["--chaos", "mild"]);
    let pipelines = g.dir.path().join("dlt-pipelines");
    let first = dlt_run(&python, &g, &db, &pipelines);
    eprintln!("first run: {first:?}");
    for r in resources() {
        assert!(first[r] > 0, "the first run loaded no {r}: {first:?}");
    }
    // the clock moves on: orders are placed and updated, sessions and events happen
    // … for at least a virtual hour, and past midnight so that 2024-01-13 (which the first run
    // saw part of) is complete before the second run (how far the first run took the clock
    // depends on how fast this machine ran dlt)
    let after_first = g.now();
    let target = (after_first.0 + 3600).max(
        faux::Timestamp::parse_flexible("2024-01-14T00:05:00Z")
            .unwrap()
            .0,
    );
    let deadline = Instant::now() + Duration::from_secs(90);
    while g.now().0 < target {
        assert!(Instant::now() < deadline, "the clock does not advance");
        std::thread::sleep(Duration::from_millis(500));
    }
    // every day up to the one before this instant is complete in the API before the second
    // run starts reading
    let second_start = g.now();
    let second = dlt_run(&python, &g, &db, &pipelines);
    eprintln!("second run: {second:?}");
    // incremental: only the rows created or updated since, but some of them
    for r in ["orders", "payments", "sessions", "events", "order_items"] {
        assert!(
            second[r] > 0 && second[r] < first[r],
            "{r}: second run loaded {} rows, the first {}",
            second[r],
            first[r]
        );
    }
    assert_eq!(second["products"], 0, "products do not change: {second:?}");
    // dlt met the faults and retried past them
    let statuses = g.statuses();
    let faults = statuses
        .iter()
        .filter(|s| [429, 500, 503].contains(*s))
        .count();
    eprintln!("{} requests, {faults} faults", statuses.len());
    assert!(faults > 0, "no fault in {} requests", statuses.len());
    // the loaded tables hold every row of the complete days once, in its newest version (a
    // newer version from after the last day is fine): aladdin compares row by row
    let to = second_start.date().add_days(-1).to_string();
    let shop = g.dir.path().join("shop.toml");
    verify_agrees(
        &aladdin,
        shop.as_os_str(),
        &db,
        ("2024-01-01", &to),
        &resources(),
    );
    // the days checked include the one the first run saw half of
    assert!(to.as_str() >= "2024-01-13", "{to}");
}

/// `aladdin verify` of schema genie_raw of `db` against `scenario` (a name or a file) over
/// the days `from`..=`to` finds no difference, and compared rows of every table of `tables`.
fn verify_agrees(
    aladdin: &Path,
    scenario: &std::ffi::OsStr,
    db: &FreshDb,
    (from, to): (&str, &str),
    tables: &[&str],
) {
    let out = run(
        Command::new(aladdin)
            .args(["verify", "--scenario"])
            .arg(scenario)
            .args(["--against", &db.url(), "--schema", "genie_raw"])
            .args(["--from", from, "--to", to, "--json"])
            .args(["--tables", &tables.join(",")]),
        "aladdin verify",
    );
    let report = text(&out.stdout);
    assert!(
        out.status.success(),
        "aladdin verify found differences ({from} to {to}):\n{report}\n{}",
        text(&out.stderr)
    );
    // … and it looked at every table, each with rows, all found
    let doc: Value = serde_json::from_str(&report).unwrap();
    for r in tables {
        let t = &doc["tables"][r];
        let expected = t["expected"].as_u64();
        assert!(expected > Some(0), "{r}: no rows checked: {doc}");
        assert_eq!(t["found"].as_u64(), expected, "{r}: {doc}");
    }
}

/// The rows a resource serves (`total` of its first page in page mode).
fn total(g: &Genie, resource: &str) -> u64 {
    g.get(&format!(
        "/v1/{resource}?page=1&limit=1&include_deleted=true"
    ))["total"]
        .as_u64()
        .unwrap()
}

#[test]
fn dlt_loads_every_shiny_rocks_resource_and_verify_agrees() {
    let test = "dlt_loads_every_shiny_rocks_resource_and_verify_agrees";
    let Some((python, aladdin, db)) = dlt_needs(test) else {
        return;
    };
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // 2024-03-01 … 03-04 (a Shiny Rocks day's rows are all there from its first second), the
    // clock stopped: about 21,000 rows
    let g = Genie::serving(Some("shiny-rocks"), "3d", "2024-03-04T06:00:00Z", "0", &[]);
    let pipelines = g.dir.path().join("dlt-pipelines");
    let first = dlt_run(&python, &g, &db, &pipelines);
    eprintln!("first run: {first:?}");
    let tables = resources_of("shiny-rocks");
    for r in &tables {
        assert_eq!(
            first[*r],
            total(&g, r),
            "{r}: every row, in one run: {first:?}"
        );
    }
    // services have no key to merge on: the example reloads them whole (replace) on every
    // run. A second run finds nothing new elsewhere and still leaves every service once
    // (it once loaded only the last day: dlt had written another resource's `updated_at_min`
    // into request parameters shared through the source's defaults)
    let second = dlt_run(&python, &g, &db, &pipelines);
    eprintln!("second run: {second:?}");
    assert_eq!(second["services"], total(&g, "services"), "{second:?}");
    for r in tables.iter().filter(|r| **r != "services") {
        assert_eq!(
            second[*r], 0,
            "{r}: nothing changed, the clock is stopped: {second:?}"
        );
    }
    verify_agrees(
        &aladdin,
        std::ffi::OsStr::new("shiny-rocks"),
        &db,
        ("2024-03-01", "2024-03-04"),
        &tables,
    );
}

#[test]
fn singer_tap_emits_records_for_every_stream() {
    let test = "singer_tap_emits_records_for_every_stream";
    let Some(tap) = tool(test, "singer", "tap-rest-api-msdk") else {
        return;
    };
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // refunds exist from the 8th day on; the tap infers each stream's schema from its rows
    let g = Genie::start("12d", "2024-01-13T18:00:00Z", "0", &[]);
    let out = run(
        Command::new(root().join("examples/genie/singer/run.sh"))
            .env("TAP", &tap)
            .env("GENIE_URL", &g.url)
            .env("GENIE_API_KEY", &g.key),
        "tap-rest-api-msdk",
    );
    assert!(
        out.status.success(),
        "the tap failed:\n{}",
        text(&out.stderr)
    );
    let mut records: BTreeMap<String, u64> = BTreeMap::new();
    let mut schemas = 0;
    let mut state = None;
    for line in text(&out.stdout).lines() {
        let m: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        match m["type"].as_str().unwrap() {
            "RECORD" => {
                *records
                    .entry(m["stream"].as_str().unwrap().into())
                    .or_default() += 1
            }
            "SCHEMA" => schemas += 1,
            "STATE" => state = Some(m["value"].clone()),
            _ => {}
        }
    }
    eprintln!("records: {records:?}");
    assert!(schemas >= resources().len());
    // every row of every resource, exactly (the clock is stopped)
    for r in resources() {
        let want = total(&g, r);
        assert!(want > 0, "{r}: no rows to read");
        assert_eq!(records.get(r).copied(), Some(want), "{r}: {records:?}");
    }
    // bookmarks on the replication keys, for the next incremental run
    let state = state.expect("a STATE message");
    assert_eq!(
        state["bookmarks"]["orders"]["replication_key"], "updated_at",
        "{state}"
    );
}

/// schemathesis on the OpenAPI document of a genie serving `scenario` (a built-in name, or
/// the `SHOP` file) finds no failure.
fn schemathesis_passes(test: &str, scenario: Option<&str>, start: &str) {
    let Some(st) = tool(test, "schemathesis", "schemathesis") else {
        return;
    };
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // a generous rate limit, so the fuzzer reaches the logic behind it (429s are fine too)
    let g = Genie::serving(
        scenario,
        "3d",
        start,
        "0",
        &["--rate-limit", "100000", "--burst", "100000"],
    );
    let out = run(
        Command::new(st)
            .current_dir(g.dir.path())
            .args(["run", &format!("{}/openapi.json", g.url)])
            .args(["-H", &format!("Authorization: Bearer {}", g.key)])
            .args(["--max-examples", "30", "--seed", "1", "--no-color"]),
        "schemathesis",
    );
    let report = text(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{report}\n{}",
        text(&out.stderr)
    );
    assert!(report.contains("passed"), "{report}");
    assert!(!report.contains("failures"), "{report}");
}

#[test]
fn schemathesis_finds_no_failures() {
    schemathesis_passes(
        "schemathesis_finds_no_failures",
        None,
        "2024-01-04T06:00:00Z",
    );
}

#[test]
fn schemathesis_finds_no_failures_on_shiny_rocks() {
    schemathesis_passes(
        "schemathesis_finds_no_failures_on_shiny_rocks",
        Some("shiny-rocks"),
        "2024-03-04T06:00:00Z",
    );
}

#[test]
fn airbyte_manifest_reads_every_stream() {
    let test = "airbyte_manifest_reads_every_stream";
    let manifest = root().join("examples/genie/airbyte/manifest.yaml");
    let Some(sdm) = tool(test, "airbyte", "source-declarative-manifest") else {
        return;
    };
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let g = Genie::start("12d", "2024-01-13T18:00:00Z", "0", &[]);
    let dir = g.dir.path();
    let config = dir.join("airbyte-config.json");
    std::fs::write(
        &config,
        serde_json::json!({
            "__injected_declarative_manifest": serde_yaml_manifest(&manifest),
            "api_url": g.url,
            "api_key": g.key,
            "start_date": "2024-01-01T00:00:00Z",
        })
        .to_string(),
    )
    .unwrap();
    // check: the connection works (auth, one page)
    let out = run(
        Command::new(&sdm).args(["check", "--config"]).arg(&config),
        "source-declarative-manifest check",
    );
    let check = text(&out.stdout);
    assert!(
        check.contains("\"SUCCEEDED\""),
        "check failed:\n{check}\n{}",
        text(&out.stderr)
    );
    // discover: every resource is a stream
    let out = run(
        Command::new(&sdm)
            .args(["discover", "--config"])
            .arg(&config),
        "source-declarative-manifest discover",
    );
    let catalog = text(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|m| m["type"] == "CATALOG")
        .unwrap_or_else(|| panic!("no CATALOG:\n{}", text(&out.stderr)));
    let streams = catalog["catalog"]["streams"].as_array().unwrap();
    let configured: Vec<Value> = streams
        .iter()
        .map(|s| {
            serde_json::json!({
                "stream": s,
                "sync_mode": "incremental",
                "destination_sync_mode": "append_dedup",
                "cursor_field": s["default_cursor_field"],
                "primary_key": s["source_defined_primary_key"],
            })
        })
        .collect();
    let names: Vec<&str> = streams
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for r in resources() {
        assert!(names.contains(&r), "{r} not in {names:?}");
    }
    let catalog_file = dir.join("catalog.json");
    std::fs::write(
        &catalog_file,
        serde_json::json!({ "streams": configured }).to_string(),
    )
    .unwrap();
    // read: every row of every stream, incrementally, with a state message per stream
    let out = run(
        Command::new(&sdm)
            .args(["read", "--config"])
            .arg(&config)
            .arg("--catalog")
            .arg(&catalog_file),
        "source-declarative-manifest read",
    );
    let mut records: BTreeMap<String, u64> = BTreeMap::new();
    let mut states = 0;
    let mut errors = Vec::new();
    for line in text(&out.stdout).lines() {
        let Ok(m) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        match m["type"].as_str() {
            Some("RECORD") => {
                *records
                    .entry(m["record"]["stream"].as_str().unwrap().into())
                    .or_default() += 1
            }
            Some("STATE") => states += 1,
            Some("TRACE") if m["trace"]["type"] == "ERROR" => errors.push(m.to_string()),
            _ => {}
        }
    }
    eprintln!("records: {records:?}, {states} states");
    assert!(
        out.status.success() && errors.is_empty(),
        "read failed: {errors:?}\n{}",
        text(&out.stderr)
    );
    for r in resources() {
        let want = total(&g, r);
        assert_eq!(records.get(r).copied(), Some(want), "{r}: {records:?}");
    }
    assert!(states >= resources().len(), "{states} state messages");
}

/// The manifest as JSON (source-declarative-manifest takes it injected into the config),
/// converted by the airbyte venv's PyYAML.
fn serde_yaml_manifest(path: &Path) -> Value {
    let python = test_support::tools::client("airbyte", "python").unwrap();
    let out = Command::new(python)
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(path)
        .output()
        .expect("python");
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A shop open two months before the history window (2023-05-01 …), deleting half its customers a month or
/// more after they sign up: deletions happen in the window (`--chaos hard-deletes` bites).
const OLD_SHOP: &str = "[shop]\nopened_on = \"2023-03-01\"\n[traffic]\norganic_sessions_per_day = 200.0\n[customers]\ndeletion_probability = 0.5\n";

/// Every fault the answer log (`chaos-log.jsonl` in the data folder: every request's, the
/// API's `/v1/chaos/log` keeps the last 1,000) recorded, counted by kind.
fn chaos_kinds(g: &Genie) -> BTreeMap<String, usize> {
    let log = std::fs::read_to_string(g.dir.path().join("data/chaos-log.jsonl")).unwrap();
    let mut kinds = BTreeMap::new();
    for line in log.lines() {
        let e: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        for f in e["faults"].as_array().unwrap() {
            *kinds
                .entry(f["kind"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    kinds
}

/// The faults a hostile run must have met for a client test not to pass vacuously.
const HOSTILE_FAULTS: [&str; 7] = [
    "internal",
    "unavailable",
    "rate_limited",
    "slow",
    "late_rows",
    "hard_deletes",
    "cursor_expired",
];

fn assert_faults_hit(g: &Genie, want: &[&str]) {
    let kinds = chaos_kinds(g);
    eprintln!("faults met: {kinds:?}");
    for k in want {
        assert!(
            kinds.contains_key(*k),
            "no {k} fault met the client: {kinds:?}"
        );
    }
    // a cut body is one of two faults (3 % each): either will do
    assert!(
        kinds.contains_key("connection_reset") || kinds.contains_key("truncated"),
        "no cut body met the client: {kinds:?}"
    );
}

#[test]
fn dlt_survives_hostile_chaos_on_a_running_clock_and_verify_agrees() {
    let test = "dlt_survives_hostile_chaos_on_a_running_clock_and_verify_agrees";
    let Some((python, aladdin, db)) = dlt_needs(test) else {
        return;
    };
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // 2023-05-01 … 05-04 noon backfilled, then two virtual minutes per second from the busy
    // middle of a day (late arrivals are versions held back near the clock: they need rows
    // changing), so the rows change while dlt pages. A cursor's age is wall-clock time, and
    // hostile's 5 minutes outlast any pass here: --cursor-ttl 10 makes passes expire
    // the resources that carry every recipe: customers (updated, and deleted: only the
    // change feed tells), orders and payments (updated), order_items (pages enough for a
    // cursor to expire); the key reads only them, so the change feed carries only them too
    let tables = ["customers", "orders", "order_items", "payments"];
    let g = Genie::launch(
        None,
        OLD_SHOP,
        "read:customers,read:orders,read:order_items,read:payments,read:changes",
        "3d",
        "2023-05-04T12:00:00Z",
        "120",
        &["--chaos", "hostile", "--cursor-ttl", "10"],
    );
    let pipelines = g.dir.path().join("dlt-pipelines");
    let mut expired = 0;
    let subset = tables.join(",");
    let mut pass = |what: &str| {
        // pages of 200 rows: a pass over a resource takes long enough for cursors to expire
        let env = [
            ("GENIE_RESOURCES", subset.as_str()),
            ("GENIE_PAGE_SIZE", "200"),
        ];
        let (rows, passes) = dlt_run_with(&python, &g, &db, &pipelines, &env);
        eprintln!("{what}: {rows:?}, {passes}");
        expired += passes["expired"].as_u64().unwrap();
        rows
    };
    let first = pass("first run");
    for r in tables {
        assert!(first[r] > 0, "the first run loaded no {r}: {first:?}");
    }
    // the clock started 12 hours after the last day checked: every version of it has arrived
    // (the longest lag is 15 minutes) and every run can read it
    let last_start = g.now();
    // more incremental runs while the clock moves, until late rows (versions held back near
    // the clock, 10 % of them) have met the client at least once
    for n in 2..=8 {
        pass(&format!("run {n}"));
        if n >= 3 && chaos_kinds(&g).contains_key("late_rows") {
            break;
        }
    }
    eprintln!("{expired} passes met an expired cursor");
    // the complete days hold every row once, in its newest version (customers deleted in
    // them with their deleted_at, from /v1/changes): 0 missing, 0 stale, 0 duplicated
    let to = last_start.date().add_days(-1).to_string();
    assert!(to.as_str() >= "2023-05-03", "{to}");
    let shop = g.dir.path().join("shop.toml");
    verify_agrees(
        &aladdin,
        shop.as_os_str(),
        &db,
        ("2023-05-01", &to),
        &tables,
    );
    // … and the faults really hit it
    assert_faults_hit(&g, &HOSTILE_FAULTS);
    assert!(expired > 0, "no pass met an expired cursor");
}
