//! The Singer tap and the Airbyte manifest against `genie --chaos hostile` on a running clock,
//! as the dlt example is in `clients.rs`: each sync lands its records in a fresh PostgreSQL
//! database through the example's loader (`examples/genie/{singer,airbyte}/load_postgres.py`,
//! upserting on the stream's key and saving the last state), `examples/genie/apply_deletes.py`
//! applies the change feed's deletes after each sync, and `aladdin verify` then finds every
//! row of the completed days once, in its newest version.
//!
//! Neither client survives every fault inside one run: the tap stops on a 410 or a truncated
//! body (its STATE has moved on as it read: run.sh declares genie's lists sorted), and a CDK
//! stream that meets a 410 starts a new pass from the newest row read but may still fail. The
//! recipe is a scheduler's: run the sync again from the last saved state. The tests do exactly
//! that, and assert the end state (and that the faults were met), not that no run failed.
//!
//! The Singer tap also loads through a real Singer target, MeltanoLabs' `target-postgres`
//! (`load_method: upsert`, examples/genie/singer/target.template.json), its last emitted state
//! saved for the next run.
//!
//! Tools: `.venv-clients/{singer,airbyte}` (scripts/setup-clients.sh, with psycopg2 for the
//! loaders) and `.venv-clients/singer-target`. A missing tool, PostgreSQL or aladdin binary skips loudly, and fails under
//! `CI=true`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use test_support::pg::FreshDb;
use test_support::tools::repo_root as root;

#[path = "common/clients.rs"]
mod shared;
use shared::*;

/// The resources that carry every recipe (as in the dlt test): customers (updated, and deleted:
/// only the change feed tells), orders and payments (updated), order_items. The key reads only
/// them, so the change feed carries only them too.
const TABLES: [&str; 4] = ["customers", "orders", "order_items", "payments"];
const SCOPES: &str = "read:customers,read:orders,read:order_items,read:payments,read:changes";

/// Attempts of one sync (a scheduler's retries) before the test gives up on it.
const ATTEMPTS: usize = 30;

/// A hostile genie: 2023-05-01 … 05-04 noon backfilled, then two virtual minutes per second
/// from the busy middle of a day (late arrivals need rows changing). A cursor's age is
/// wall-clock time and hostile's 5 minutes outlast any pass here: `--cursor-ttl` makes passes
/// expire.
fn hostile_genie(cursor_ttl: &str) -> Genie {
    Genie::launch(
        None,
        OLD_SHOP,
        SCOPES,
        "3d",
        "2023-05-04T12:00:00Z",
        "120",
        &["--chaos", "hostile", "--cursor-ttl", cursor_ttl],
    )
}

/// What a test needs: the client's tool, the venv's python (for the loader), aladdin and a
/// fresh database, or `None` after test-support's SKIP (a failure under `CI=true`).
fn needs(test: &str, venv: &str, tool_name: &str) -> Option<(PathBuf, PathBuf, PathBuf, FreshDb)> {
    let client = tool(test, venv, tool_name)?;
    let python = tool(test, venv, "python")?;
    // the loaders' PostgreSQL driver, which the venvs got after their tools
    let driver = Command::new(&python)
        .args(["-c", "import psycopg2"])
        .output()
        .is_ok_and(|o| o.status.success());
    test_support::require(
        test,
        driver.then_some(()).ok_or_else(|| {
            test_support::Missing::new(
                format!("psycopg2 is missing from .venv-clients/{venv}"),
                "scripts/setup-clients.sh",
            )
        }),
    )?;
    let aladdin = aladdin(test)?;
    let db = FreshDb::create(test)?;
    Some((client, python, aladdin, db))
}

/// `client | loader`: runs both, the client's standard output piped into the loader; returns
/// whether the client succeeded, the standard error of both (the Airbyte loader repeats the
/// source's error messages there) and the loader's standard output. The loader must succeed
/// either way (it keeps what arrived and the last state).
fn pipe(client: &mut Command, loader: &mut Command, what: &str) -> (bool, String, String) {
    let t0 = std::time::Instant::now();
    let mut c = client
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let out = c.stdout.take().unwrap();
    let l = loader
        .stdin(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}'s loader: cannot start: {e}"));
    // the loader's outputs are read meanwhile: a Singer target logs much, and a full pipe
    // would stop it, and with it the client
    let loading = std::thread::spawn(move || l.wait_with_output().unwrap());
    let client_out = c.wait_with_output().unwrap();
    let loaded = loading.join().unwrap();
    let err = text(&client_out.stderr) + &text(&loaded.stderr);
    let stdout = text(&loaded.stdout);
    // a loader's LOADED line, or a Singer target's last state
    eprintln!(
        "{what}: {:?} in {:.1?}, {}",
        client_out.status,
        t0.elapsed(),
        stdout.trim().lines().last().unwrap_or("")
    );
    assert!(
        loaded.status.success(),
        "{what}: the loader failed:\n{}\n{}",
        text(&loaded.stderr),
        err
    );
    (client_out.status.success(), err, stdout)
}

/// The end of a failed run's standard error (the reason it stopped).
fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(3)..].join("\n")
}

/// The scenario's recipe around a client's `sync` (one attempt from the last saved state;
/// true when it succeeded): syncs repeated as a scheduler does (a failed attempt is simply run
/// again), each followed by apply_deletes.py; the first, then more while the clock moves until
/// late rows and an expired cursor met the client; then `aladdin verify` over the completed days, and the answer log
/// shows the client's own requests (not the feed's) met every hostile fault. Returns how many
/// attempts failed.
fn survives_hostile(
    g: &Genie,
    db: &FreshDb,
    aladdin: &Path,
    python: &Path,
    sync: &mut dyn FnMut(&str) -> (bool, String),
) -> usize {
    let seq_file = g.dir.path().join("deletes-seq.txt");
    let mut failed = 0;
    let mut deletes = 0;
    let mut round = |what: &str| {
        let mut n = 1;
        loop {
            let (ok, err) = sync(&format!("{what}, attempt {n}"));
            if ok {
                break;
            }
            failed += 1;
            eprintln!("… it stopped:\n{}", tail(&err));
            assert!(
                n < ATTEMPTS,
                "{what}: {ATTEMPTS} attempts failed, the last:\n{err}"
            );
            n += 1;
        }
        let stdout = run_ok(
            Command::new(python)
                .arg(root().join("examples/genie/apply_deletes.py"))
                .arg(db.url())
                .arg("genie_raw")
                .arg(&seq_file)
                .env("GENIE_URL", &g.url)
                .env("GENIE_API_KEY", &g.key),
            "apply_deletes.py",
        );
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("DELETES "))
            .unwrap_or_else(|| panic!("no DELETES line:\n{stdout}"));
        let applied: std::collections::BTreeMap<String, u64> = serde_json::from_str(line).unwrap();
        eprintln!("deletes applied: {applied:?}");
        deletes += applied.values().sum::<u64>();
    };
    round("first sync");
    // the clock started 12 hours after the last day checked: every version of it has arrived
    // (the longest lag is 15 minutes) and every sync can read it
    let last_start = g.now();
    let client_faults = || chaos_kinds_where(g, |path| !path.starts_with("/v1/changes"));
    // (an expired cursor needs a pass of several pages: mostly the first sync's)
    for n in 2..=8 {
        round(&format!("sync {n}"));
        let met = client_faults();
        if n >= 3 && met.contains_key("late_rows") && met.contains_key("cursor_expired") {
            break;
        }
    }
    eprintln!("{failed} attempts failed and were run again; {deletes} deletes applied");
    assert!(deletes > 0, "the change feed carried no delete to apply");
    let to = last_start.date().add_days(-1).to_string();
    assert!(to.as_str() >= "2023-05-03", "{to}");
    let shop = g.dir.path().join("shop.toml");
    verify_agrees(aladdin, shop.as_os_str(), db, ("2023-05-01", &to), &TABLES);
    assert_kinds_hit(&client_faults(), &HOSTILE_FAULTS);
    failed
}

#[test]
fn singer_survives_hostile_chaos_on_a_running_clock_and_verify_agrees() {
    let test = "singer_survives_hostile_chaos_on_a_running_clock_and_verify_agrees";
    let Some((tap, python, aladdin, db)) = needs(test, "singer", "tap-rest-api-msdk") else {
        return;
    };
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // the tap stops on an expired cursor, and its next run goes on from the STATE it reached
    // (run.sh: sorted streams): a short TTL expires many passes without stalling the sync
    let g = hostile_genie("2");
    let state = g.dir.path().join("singer-state.json");
    let subset = TABLES.join(",");
    let mut sync = |what: &str| {
        let mut tap_run = Command::new(root().join("examples/genie/singer/run.sh"));
        tap_run
            .env("TAP", &tap)
            .env("GENIE_URL", &g.url)
            .env("GENIE_API_KEY", &g.key)
            .env("GENIE_STREAMS", &subset)
            // pages of 100 rows: a pass takes long enough for a cursor to expire
            .env("GENIE_PAGE_SIZE", "100")
            // the first day checked: older rows are not compared
            .env("GENIE_START_DATE", "2023-05-01T00:00:00Z");
        if state.exists() {
            tap_run.env("STATE", &state);
        }
        let mut loader = Command::new(&python);
        loader
            .arg(root().join("examples/genie/singer/load_postgres.py"))
            .arg(db.url())
            .arg("genie_raw")
            .arg(&state);
        let (ok, err, _) = pipe(&mut tap_run, &mut loader, &format!("singer {what}"));
        (ok, err)
    };
    let failed = survives_hostile(&g, &db, &aladdin, &python, &mut sync);
    // the tap cannot step past a 410 by itself: it stopped, and was run again
    assert!(failed > 0, "no run of the tap stopped on a fault");
}

#[test]
fn singer_into_target_postgres_survives_hostile_chaos_and_verify_agrees() {
    let test = "singer_into_target_postgres_survives_hostile_chaos_and_verify_agrees";
    let Some((tap, python, aladdin, db)) = needs(test, "singer", "tap-rest-api-msdk") else {
        return;
    };
    let Some(target) = tool(test, "singer-target", "target-postgres") else {
        return;
    };
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // as the loader's test: a short TTL expires many passes, each stopped run goes on from
    // the state the target committed
    let g = hostile_genie("2");
    let state = g.dir.path().join("singer-state.json");
    let config = singer_target_config(g.dir.path(), &db);
    let subset = TABLES.join(",");
    let mut states = 0;
    let mut sync = |what: &str| {
        let mut tap_run = Command::new(root().join("examples/genie/singer/run.sh"));
        tap_run
            .env("TAP", &tap)
            .env("GENIE_URL", &g.url)
            .env("GENIE_API_KEY", &g.key)
            .env("GENIE_STREAMS", &subset)
            .env("GENIE_PAGE_SIZE", "100")
            .env("GENIE_START_DATE", "2023-05-01T00:00:00Z");
        if state.exists() {
            tap_run.env("STATE", &state);
        }
        let mut load = Command::new(&target);
        load.arg("--config").arg(&config);
        let (ok, err, stdout) = pipe(&mut tap_run, &mut load, &format!("singer-target {what}"));
        // the target flushed what arrived before it emitted its state, even after a tap that
        // stopped part way: the next attempt goes on from there
        if save_last_state(&stdout, &state) {
            states += 1;
        }
        (ok, err)
    };
    let failed = survives_hostile(&g, &db, &aladdin, &python, &mut sync);
    assert!(failed > 0, "no run of the tap stopped on a fault");
    assert!(
        states > failed,
        "{states} states saved in {failed} failed runs and the rest"
    );
}

#[test]
fn airbyte_survives_hostile_chaos_on_a_running_clock_and_verify_agrees() {
    let test = "airbyte_survives_hostile_chaos_on_a_running_clock_and_verify_agrees";
    let Some((sdm, python, aladdin, db)) = needs(test, "airbyte", "source-declarative-manifest")
    else {
        return;
    };
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // a pass that meets an expired cursor starts again from the newest updated_at it read
    // (pagination_reset): even a 1-second TTL cannot stop it, and expires many
    let g = hostile_genie("1");
    let dir = g.dir.path();
    let config = dir.join("airbyte-config.json");
    std::fs::write(
        &config,
        serde_json::json!({
            "__injected_declarative_manifest":
                serde_yaml_manifest(&root().join("examples/genie/airbyte/manifest.yaml")),
            "api_url": g.url,
            "api_key": g.key,
            // the first day checked: older rows are not compared
            "start_date": "2023-05-01T00:00:00Z",
            // pages of 100 rows: a pass takes long enough for a cursor to expire
            "page_size": 100,
        })
        .to_string(),
    )
    .unwrap();
    // the configured catalog, as a user makes it: discover | configured_catalog.py
    let discovered = run_ok(
        Command::new(&sdm)
            .args(["discover", "--config"])
            .arg(&config),
        "source-declarative-manifest discover",
    );
    let catalog = dir.join("catalog.json");
    let mut make = Command::new(&python)
        .arg(root().join("examples/genie/airbyte/configured_catalog.py"))
        .args(TABLES)
        .stdin(Stdio::piped())
        .stdout(std::fs::File::create(&catalog).unwrap())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut make.stdin.take().unwrap(), discovered.as_bytes()).unwrap();
    assert!(
        make.wait().unwrap().success(),
        "configured_catalog.py failed"
    );
    let configured: Value = serde_json::from_slice(&std::fs::read(&catalog).unwrap()).unwrap();
    assert_eq!(
        configured["streams"].as_array().unwrap().len(),
        TABLES.len()
    );
    let state = dir.join("airbyte-state.json");
    let mut sync = |what: &str| {
        let mut read = Command::new(&sdm);
        read.args(["read", "--config"])
            .arg(&config)
            .arg("--catalog")
            .arg(&catalog);
        if state.exists() {
            read.arg("--state").arg(&state);
        }
        let mut loader = Command::new(&python);
        loader
            .arg(root().join("examples/genie/airbyte/load_postgres.py"))
            .arg(&catalog)
            .arg(db.url())
            .arg("genie_raw")
            .arg(&state);
        let (ok, err, _) = pipe(&mut read, &mut loader, &format!("airbyte {what}"));
        (ok, err)
    };
    survives_hostile(&g, &db, &aladdin, &python, &mut sync);
}
