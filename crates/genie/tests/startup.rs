//! Starting genie as a newcomer meets it: one server per data folder, a port in use reported
//! before any backfill, a bad scenario refused before a store is made, and `--start` with a
//! date meaning that day's first second.

mod common;

use std::process::Command;

use common::{SCENARIO, start_binary};

fn scenario_file(dir: &std::path::Path) -> String {
    let p = dir.join("shop.toml");
    std::fs::write(&p, SCENARIO).unwrap();
    p.display().to_string()
}

#[tokio::test]
async fn a_second_genie_on_the_same_data_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(dir.path());
    let data = dir.path().join("data").display().to_string();
    let args = [
        "--data-dir",
        &data,
        "--scenario",
        &scenario,
        "--history",
        "1d",
        "--start",
        "2024-01-03",
        "--listen",
        "127.0.0.1:0",
    ];
    let mut first = start_binary(&args);
    let second = Command::new(env!("CARGO_BIN_EXE_genie"))
        .args(["--data-dir", &data, "--scenario", &scenario])
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&second.stderr);
    assert_ne!(second.status.code(), Some(0), "{err}");
    assert!(err.contains("another genie is serving"), "{err}");
    assert!(err.contains(&data), "names the folder: {err}");
    assert!(!err.contains("resuming"), "it went on: {err}");
    // the first one still serves
    let health = reqwest::get(format!("{}/healthz", first.url))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    // a killed server leaves no stale lock: the folder can be served again
    let mut again = start_binary(&[
        "--data-dir",
        &data,
        "--scenario",
        &scenario,
        "--listen",
        "127.0.0.1:0",
    ]);
    again.child.kill().unwrap();
    again.child.wait().unwrap();
}

#[test]
fn a_port_in_use_is_reported_before_the_backfill() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_genie"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["--history", "90d", "--listen", &addr])
        // a Rust developer's shell often sets these: still no backtrace for a user's error
        .env("RUST_BACKTRACE", "full")
        .env("RUST_LIB_BACKTRACE", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
    assert!(
        !err.contains("filled ") && err.contains("new store at"),
        "filled before binding: {err}"
    );
    assert!(err.contains("Address already in use"), "{err}");
    assert!(
        err.lines().count() <= 6 && !err.contains("acktrace") && !err.contains("  0: "),
        "a short message, no backtrace: {err}"
    );
    assert!(
        err.lines()
            .last()
            .is_some_and(|l| l.starts_with("error: cannot listen on")),
        "{err}"
    );
}

#[tokio::test]
async fn a_start_date_is_its_first_second() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(dir.path());
    let data = dir.path().join("data").display().to_string();
    let mut g = start_binary(&[
        "--data-dir",
        &data,
        "--scenario",
        &scenario,
        "--history",
        "0d",
        "--start",
        "2024-01-15",
        "--speed",
        "1",
        "--listen",
        "127.0.0.1:0",
    ]);
    let err = g.stderr.lock().unwrap().clone();
    let at = common::as_of(&g.url).await;
    g.child.kill().unwrap();
    g.child.wait().unwrap();
    let start = faux::Timestamp::parse_flexible("2024-01-15T00:00:00Z")
        .unwrap()
        .0;
    // a second a real second: the clock is within a few seconds of midnight, not of 23:59:59
    assert!(
        (start..start + 60).contains(&at),
        "clock at {at}, start {start}: {err}"
    );
    assert!(err.contains("new store at"), "{err}");
}

#[test]
fn a_bad_scenario_is_a_usage_error_before_any_store_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "[funnel\n").unwrap();
    let broken = broken.display().to_string();
    for (scenario, says) in [
        ("no-such-shop", "no-such-shop"),
        (
            "missing.toml",
            "cannot read scenario file missing.toml: No such file",
        ),
        (broken.as_str(), "broken.toml"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_genie"))
            .args(["--data-dir", &data.display().to_string()])
            .args(["--scenario", scenario, "--listen", "127.0.0.1:0"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{scenario}: {err}");
        assert!(err.contains(says), "{scenario}: {err}");
        assert!(!err.contains("new store"), "{scenario}: {err}");
        assert!(!data.exists(), "{scenario}: a store was made: {err}");
    }
}

#[test]
fn keys_take_only_scopes_a_request_can_match() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").display().to_string();
    let keys = |scopes: &str| {
        Command::new(env!("CARGO_BIN_EXE_genie"))
            .args(["--data-dir", &data, "keys", "create", "--name", "k"])
            .args(["--scopes", scopes])
            .output()
            .unwrap()
    };
    // a store not served yet: the form is checked
    let out = keys("write:everything");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("\"write:everything\"") && err.contains("read:all"),
        "{err}"
    );
    // once it serves a scenario, its resources are the valid ones
    let mut g = start_binary(&[
        "--data-dir",
        &data,
        "--history",
        "0d",
        "--start",
        "2025-01-03",
        "--listen",
        "127.0.0.1:0",
    ]);
    let out = keys("read:changes read:order");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("\"read:order\"") && err.contains("orders"),
        "{err}"
    );
    let out = keys("read:changes,read:orders");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("fg_live_"));
    g.child.kill().unwrap();
    g.child.wait().unwrap();
}

/// Totals of every resource, and the clock, of a served store.
async fn contents(url: &str, key: &str) -> Vec<(String, u64)> {
    let client = reqwest::Client::new();
    let mut out = Vec::new();
    for table in common::table_names() {
        let body: serde_json::Value = client
            .get(format!(
                "{url}/v1/{table}?page=1&limit=1&include_deleted=true"
            ))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        out.push((table.to_string(), body["total"].as_u64().unwrap()));
    }
    out.push(("clock".into(), common::as_of(url).await as u64));
    out
}

#[tokio::test]
async fn an_interrupted_first_fill_is_done_again_never_served_half_filled() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(dir.path());
    let args = |data: &str| -> Vec<String> {
        [
            "--data-dir",
            data,
            "--scenario",
            &scenario,
            "--history",
            "30d",
            "--start",
            "2024-06-01T12:00:00Z",
            "--speed",
            "0",
            "--listen",
            "127.0.0.1:0",
        ]
        .map(String::from)
        .to_vec()
    };
    // killed (as hard as Ctrl-C: no handler runs during the fill) after its first commit
    let broken = dir.path().join("broken").display().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_genie"))
        .args(args(&broken))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = std::io::BufRead::read_line(&mut err, &mut line).unwrap();
        assert!(n > 0, "the fill ended without progress: {seen}");
        seen.push_str(&line);
        if line.contains("filled ") {
            assert!(
                !line.contains("filled 1/1 "),
                "too small to interrupt: {seen}"
            );
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let rows: u64 = seen
        .lines()
        .find_map(|l| l.split(" days, ").nth(1)?.split(' ').next()?.parse().ok())
        .unwrap();
    assert!(rows > 0, "{seen}");
    // the next start fills it again, from scratch, and says so
    let mut again = start_binary(&args(&broken).iter().map(String::as_str).collect::<Vec<_>>());
    let restarted = again.stderr.lock().unwrap().clone();
    assert!(restarted.contains("new store at"), "{restarted}");
    let got = contents(&again.url, &again.first_key.clone().unwrap()).await;
    again.child.kill().unwrap();
    again.child.wait().unwrap();
    // … to the same contents as a fill that was never interrupted
    let clean = dir.path().join("clean").display().to_string();
    let mut whole = start_binary(&args(&clean).iter().map(String::as_str).collect::<Vec<_>>());
    let want = contents(&whole.url, &whole.first_key.clone().unwrap()).await;
    whole.child.kill().unwrap();
    whole.child.wait().unwrap();
    assert_eq!(got, want);
}
