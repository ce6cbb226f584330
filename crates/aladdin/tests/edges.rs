//! The rough edges a new user hit in the first hour (issue 14), each pinned by a test.

mod common;

use common::{aladdin, ok, stderr};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn scenario_show_describes_every_tunable() {
    let text = stdout(&ok(&["scenario", "show", "ecommerce"]));
    let tunables = text
        .split("\ntunables\n")
        .nth(1)
        .expect("a tunables section");
    let lines: Vec<&str> = tunables.lines().collect();
    let mut blank = Vec::new();
    for pair in lines.chunks(2) {
        let name = pair[0].trim().split(" = ").next().unwrap();
        if pair.get(1).is_none_or(|d| d.trim().is_empty()) {
            blank.push(name);
        }
    }
    assert!(lines.len() > 80, "{} lines of tunables", lines.len());
    assert!(
        blank.is_empty(),
        "tunables without a description: {blank:?}"
    );
}

#[test]
fn the_scenario_subcommand_has_help() {
    let top = stdout(&ok(&["--help"]));
    let line = top
        .lines()
        .find(|l| l.trim_start().starts_with("scenario "))
        .expect("scenario is listed");
    assert!(
        line.trim_start()["scenario".len()..].trim().len() > 10,
        "no description: {line:?}"
    );
    let help = stdout(&ok(&["scenario", "--help"]));
    assert!(help.contains("aladdin scenario show ecommerce"), "{help}");
    assert!(help.contains("tunables"), "{help}");
}

/// Runs `aladdin generate --out DIR ARGS…`.
fn generate(out: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut full = vec!["generate", "--quiet", "--out", out.to_str().unwrap()];
    full.extend_from_slice(args);
    aladdin(&full)
}

fn rejected(out: &std::process::Output, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for n in needles {
        assert!(err.contains(n), "the message should name {n:?}: {err}");
    }
}

#[test]
fn a_snapshot_without_days_says_how_many_it_would_write() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("state");
    let result = generate(&out, &["--view", "snapshot", "--as-of", "2025-03-31"]);
    rejected(
        &result,
        &["--from 2020-01-01 --to 2025-03-31", "1,917 days", "--date"],
    );
    assert!(!out.exists(), "a rejected command writes nothing");
    // with days it works
    let result = generate(
        &out,
        &[
            "--view",
            "snapshot",
            "--as-of",
            "2025-03-31",
            "--date",
            "2025-03-30",
        ],
    );
    assert!(result.status.success(), "{}", stderr(&result));
}

#[test]
fn an_out_that_looks_like_a_url_is_a_usage_error() {
    // run in an empty folder: an --out taken for a folder would be written there
    let tmp = tempfile::tempdir().unwrap();
    for bad in [
        "postgres:/postgres@127.0.0.1/x",
        "postgresql:postgres@127.0.0.1/x",
        "sqlite:shop.db",
    ] {
        let result = std::process::Command::new(common::BIN)
            .args(["generate", "--date", "2025-01-01", "--out", bad])
            .current_dir(tmp.path())
            .output()
            .unwrap();
        rejected(&result, &[bad, "postgres://", "sqlite://"]);
    }
    assert!(common::tree(tmp.path()).is_empty(), "something was written");
}

#[test]
fn days_before_the_shop_opened_are_refused_or_warned_about() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("early");
    let result = generate(&out, &["--date", "2019-06-01"]);
    rejected(&result, &["2019-06-01", "2020-01-01", "opened_on"]);
    assert!(!out.exists());
    // a range that starts before the opening: the empty days are named, the rest written
    let result = aladdin(&[
        "generate",
        "--out",
        out.to_str().unwrap(),
        "--from",
        "2019-12-30",
        "--to",
        "2020-01-01",
        "--tables",
        "customers",
    ]);
    let err = stderr(&result);
    assert!(result.status.success(), "{err}");
    assert!(
        err.contains("warning") && err.contains("2019-12-30 to 2019-12-31"),
        "{err}"
    );
}

#[test]
fn a_scenario_file_is_recorded_and_not_mixed_with_the_defaults() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("my-shop.toml");
    std::fs::write(&file, "[traffic]\norganic_sessions_per_day = 300.0\n").unwrap();
    let file = file.to_str().unwrap();
    let out = tmp.path().join("shop");
    let tables = ["--tables", "sessions"];
    let result = generate(
        &out,
        &[&["--scenario", file, "--date", "2025-01-01"], &tables[..]].concat(),
    );
    assert!(result.status.success(), "{}", stderr(&result));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("_manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["scenario_file"], file);
    let digest = manifest["scenario_digest"].as_str().unwrap();
    assert!(
        digest.starts_with("xxh3-64:") && digest.len() == 24,
        "{digest}"
    );
    let before = common::tree(&out);
    // a day of the built-in defaults into the same folder
    let result = generate(&out, &[&["--date", "2025-01-02"], &tables[..]].concat());
    rejected(
        &result,
        &[file, "built-in ecommerce defaults", "another --out"],
    );
    // another day of the same file is the same dataset
    common::assert_same_tree(&before, &common::tree(&out));
    let result = generate(
        &out,
        &[&["--scenario", file, "--date", "2025-01-02"], &tables[..]].concat(),
    );
    assert!(result.status.success(), "{}", stderr(&result));
    // and the other way round: a file's day into a folder of defaults
    let defaults = tmp.path().join("defaults");
    assert!(
        generate(
            &defaults,
            &[&["--date", "2025-01-01"], &tables[..]].concat()
        )
        .status
        .success()
    );
    let result = generate(
        &defaults,
        &[&["--scenario", file, "--date", "2025-01-02"], &tables[..]].concat(),
    );
    rejected(&result, &[file, "built-in ecommerce defaults"]);
}

#[test]
fn os_errors_are_said_once_and_a_file_is_not_a_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let result = generate(&file, &["--date", "2025-01-01", "--tables", "customers"]);
    rejected(&result, &["a-file", "not a folder"]);
    assert!(
        !stderr(&result).contains("File exists"),
        "{}",
        stderr(&result)
    );
    // a folder below a file: the OS error, once
    let below = file.join("sub");
    let result = generate(&below, &["--date", "2025-01-01", "--tables", "customers"]);
    let err = stderr(&result);
    assert_eq!(result.status.code(), Some(1), "{err}");
    assert_eq!(err.matches("os error").count(), 1, "{err}");
}

#[test]
fn errors_show_no_backtrace_even_when_rust_backtrace_is_set() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    for args in [
        vec![
            "generate",
            "--date",
            "2025-01-01",
            "--out",
            file.join("sub").to_str().unwrap(),
        ],
        vec![
            "verify",
            "--against",
            file.to_str().unwrap(),
            "--date",
            "2025-01-01",
        ],
        vec!["generate", "--date", "2025-02-30"],
    ] {
        let result = std::process::Command::new(common::BIN)
            .args(&args)
            .env("RUST_BACKTRACE", "full")
            .env("RUST_LIB_BACKTRACE", "1")
            .output()
            .unwrap();
        let err = stderr(&result);
        assert!(!result.status.success());
        assert!(
            !err.contains("acktrace") && !err.contains("  0: "),
            "{args:?}: {err}"
        );
    }
}

#[cfg(unix)]
#[test]
fn ctrl_c_keeps_complete_days_removes_temporaries_and_says_how_far_it_got() {
    use std::time::{Duration, Instant};
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("shop");
    let args = [
        "generate",
        "--out",
        out.to_str().unwrap(),
        "--from",
        "2025-01-01",
        "--to",
        "2025-03-31",
        "--tables",
        "sessions,orders",
        "--threads",
        "2",
    ];
    let child = std::process::Command::new(common::BIN)
        .args(args)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let partitions = |dir: &std::path::Path| {
        common::file_names(dir)
            .iter()
            .filter(|k| k.ends_with("part-0.csv"))
            .count()
    };
    while partitions(&out) < 6 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let result = child.wait_with_output().unwrap();
    let err = stderr(&result);
    assert_eq!(result.status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted after") && err.contains("of 90 days") && err.contains("rerun"),
        "{err}"
    );
    let files = common::tree(&out);
    let temporaries: Vec<_> = files.keys().filter(|k| k.ends_with(".tmp")).collect();
    assert!(temporaries.is_empty(), "left behind: {temporaries:?}");
    // the manifest lists exactly the partitions on disk
    let manifest: serde_json::Value =
        serde_json::from_slice(&files["_manifest.json"]).expect("a manifest of what completed");
    let listed: Vec<&str> = manifest["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    let on_disk: Vec<&str> = files
        .keys()
        .filter(|k| k.ends_with(".csv"))
        .map(String::as_str)
        .collect();
    assert_eq!(listed, on_disk);
    assert!(listed.len() < 180, "it was not interrupted: {err}");
    // rerunning the same command finishes the range
    let result = aladdin(&args);
    assert!(result.status.success(), "{}", stderr(&result));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("_manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["partitions"].as_array().unwrap().len(), 180);
}

/// `verify` names the rows behind its counts: a few keys of each kind, and for a changed row
/// the columns that differ, in text and in `--json`.
#[test]
fn verify_names_example_rows_and_the_columns_that_differ() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("landed");
    let ran = generate(&out, &["--date", "2025-01-05", "--tables", "orders"]);
    assert!(ran.status.success(), "{}", stderr(&ran));
    let file = out.join("orders/date=2025-01-05/part-0.csv");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines: Vec<String> = text.split_terminator("\r\n").map(String::from).collect();
    let id = |line: &str| line.split(',').next().unwrap().to_string();
    // a missing row, a duplicated one, one with another status and total, one unknown
    let missing = id(&lines.remove(1));
    let duplicated = id(&lines[5]);
    lines.push(lines[5].clone());
    let mut fields: Vec<String> = lines[10].split(',').map(String::from).collect();
    let changed = fields[0].clone();
    let (status, total) = (fields[3].clone(), fields[9].clone());
    fields[3] = "lost".into();
    fields[9] = "1.00".into();
    lines[10] = fields.join(",");
    let mut extra: Vec<String> = lines[20].split(',').map(String::from).collect();
    extra[0] = "00000000-0000-4000-8000-000000000001".into();
    lines.push(extra.join(","));
    std::fs::write(&file, lines.join("\r\n") + "\r\n").unwrap();

    let args = [
        "verify",
        "--against",
        out.to_str().unwrap(),
        "--date",
        "2025-01-05",
        "--tables",
        "orders",
    ];
    let result = aladdin(&args);
    assert_eq!(result.status.code(), Some(1));
    let report = stdout(&result);
    for (kind, key) in [
        ("missing", &missing),
        ("duplicated", &duplicated),
        ("changed", &changed),
        (
            "unexpected",
            &"00000000-0000-4000-8000-000000000001".to_string(),
        ),
    ] {
        assert!(
            report
                .lines()
                .any(|l| l.contains(kind) && l.contains(&format!("id={key}"))),
            "no {kind} example {key}:\n{report}"
        );
    }
    assert!(
        report.contains(&format!("status lost (truth {status})"))
            && report.contains(&format!("total 1.00 (truth {total})")),
        "{report}"
    );

    let json: serde_json::Value =
        serde_json::from_slice(&aladdin(&[&args[..], &["--json"]].concat()).stdout).unwrap();
    let examples = json["tables"]["orders"]["examples"].as_array().unwrap();
    let change = examples
        .iter()
        .find(|e| e["kind"] == "changed")
        .expect("a changed example");
    assert_eq!(change["key"], format!("id={changed}"));
    assert_eq!(
        change["columns"],
        serde_json::json!([
            {"column": "status", "expected": status, "found": "lost"},
            {"column": "total", "expected": total, "found": "1.00"},
        ])
    );
    let kinds: Vec<&str> = examples
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["missing", "duplicated", "changed", "unexpected"]);
}
