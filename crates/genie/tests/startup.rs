//! Starting genie as a newcomer meets it: one server per data folder, a port in use reported
//! before any backfill, and `--start` with a date meaning that day's first second.

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
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
    assert!(
        !err.contains("backfilled"),
        "backfilled before binding: {err}"
    );
    assert!(err.contains("Address already in use"), "{err}");
    assert!(
        err.lines().count() <= 6,
        "a short message, no backtrace: {err}"
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
