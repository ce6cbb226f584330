//! Real clients against the real `genie` binary: dlt's REST API source (loaded into a fresh
//! PostgreSQL database and checked with `aladdin verify`), the Singer tap
//! `tap-rest-api-msdk`, schemathesis on our own OpenAPI document, and the Airbyte declarative
//! manifest through `source-declarative-manifest`; the Singer tap also into a real Singer
//! target (MeltanoLabs' `target-postgres`), checked with `aladdin verify`. The servers serve a scenario file (`SHOP`,
//! written next to their data) or, for dlt and schemathesis, also the built-in Shiny Rocks:
//! the clients learn the resources from the OpenAPI document, whatever the scenario.
//!
//! The Python tools live in venvs under `.venv-clients/` (scripts/setup-clients.sh, which
//! `.ci/run` calls). A missing tool, PostgreSQL or aladdin binary skips a test loudly, and
//! fails it when `CI=true` (test-support's rule).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use test_support::pg::FreshDb;
use test_support::tools::repo_root as root;

#[path = "common/clients.rs"]
mod shared;
use shared::*;

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
    let stdout = run_ok(
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
    let messages = run_ok(
        Command::new(root().join("examples/genie/singer/run.sh"))
            .env("TAP", &tap)
            .env("GENIE_URL", &g.url)
            .env("GENIE_API_KEY", &g.key),
        "tap-rest-api-msdk",
    );
    let mut records: BTreeMap<String, u64> = BTreeMap::new();
    let mut schemas = 0;
    let mut state = None;
    for line in messages.lines() {
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

/// `run.sh | target-postgres --config CONFIG`, the README's recipe: the tap from `state` when
/// there is one, the target's last state line saved to it; returns the target's standard error.
fn singer_into_target(
    tap: &Path,
    target: &Path,
    config: &Path,
    g: &Genie,
    state: &Path,
    lookback: &str,
) -> String {
    let tap_log = g.dir.path().join("tap.log");
    let mut tap_run = Command::new(root().join("examples/genie/singer/run.sh"));
    tap_run
        .env("TAP", tap)
        .env("GENIE_URL", &g.url)
        .env("GENIE_API_KEY", &g.key)
        .env("GENIE_LOOKBACK_MINUTES", lookback)
        .stdout(std::process::Stdio::piped())
        // to a file: a pipe nobody reads while the target runs would fill and stop the tap
        .stderr(std::fs::File::create(&tap_log).unwrap());
    if state.exists() {
        tap_run.env("STATE", state);
    }
    let t0 = Instant::now();
    let mut tap_child = tap_run.spawn().expect("start run.sh");
    let records = tap_child.stdout.take().unwrap();
    let loaded = Command::new(target)
        .arg("--config")
        .arg(config)
        .stdin(records)
        .output()
        .expect("start target-postgres");
    let tapped = tap_child.wait().unwrap();
    eprintln!(
        "run.sh | target-postgres: {tapped:?} | {:?} in {:.1?}",
        loaded.status,
        t0.elapsed()
    );
    assert!(
        tapped.success(),
        "{}",
        std::fs::read_to_string(&tap_log).unwrap()
    );
    assert!(loaded.status.success(), "{}", text(&loaded.stderr));
    assert!(
        save_last_state(&text(&loaded.stdout), state),
        "the target emitted no state:\n{}",
        text(&loaded.stderr)
    );
    text(&loaded.stderr)
}

#[test]
fn singer_tap_into_target_postgres_and_verify_agrees() {
    let test = "singer_tap_into_target_postgres_and_verify_agrees";
    let Some(tap) = tool(test, "singer", "tap-rest-api-msdk") else {
        return;
    };
    let Some(target) = tool(test, "singer-target", "target-postgres") else {
        return;
    };
    let Some(python) = tool(test, "singer", "python") else {
        return;
    };
    let Some(aladdin) = aladdin(test) else {
        return;
    };
    let Some(db) = FreshDb::create(test) else {
        return;
    };
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // the clock stopped: 2024-01-01 … 01-12 are complete
    let g = Genie::start("12d", "2024-01-13T18:00:00Z", "0", &[]);
    let dir = g.dir.path();
    let config = singer_target_config(dir, &db);
    let state = dir.join("singer-state.json");
    singer_into_target(&tap, &target, &config, &g, &state, "0");
    let saved: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(
        saved["bookmarks"]["orders"]["replication_key"], "updated_at",
        "{saved}"
    );
    // upserted on each stream's key: a second run from the saved state, reading the last
    // hour again (a lookback), stores no row twice
    singer_into_target(&tap, &target, &config, &g, &state, "60");
    run_ok(
        Command::new(&python)
            .arg(root().join("examples/genie/apply_deletes.py"))
            .arg(db.url())
            .arg("genie_raw")
            .arg(dir.join("deletes-seq.txt"))
            .env("GENIE_URL", &g.url)
            .env("GENIE_API_KEY", &g.key),
        "apply_deletes.py",
    );
    let shop = dir.join("shop.toml");
    verify_agrees(
        &aladdin,
        shop.as_os_str(),
        &db,
        ("2024-01-01", "2024-01-12"),
        &resources(),
    );
    // every row of every resource, once: the key is the table's primary key
    let pg = db.connect();
    for r in resources() {
        let stored: u64 = pg
            .one(&format!("SELECT count(*) FROM genie_raw.{r}"))
            .parse()
            .unwrap();
        assert_eq!(stored, total(&g, r), "{r}");
    }
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
    // a failure is a failure schemathesis found
    let report = run_ok(
        Command::new(st)
            .current_dir(g.dir.path())
            .args(["run", &format!("{}/openapi.json", g.url)])
            .args(["-H", &format!("Authorization: Bearer {}", g.key)])
            .args(["--max-examples", "30", "--seed", "1", "--no-color"]),
        "schemathesis",
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
