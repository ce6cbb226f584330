//! aladdin's command line and log as a scheduler or a script meets them.

mod common;

use common::{ok, stderr};

#[test]
fn a_log_that_is_not_a_terminal_has_no_colour_codes() {
    // stderr is a pipe here, as in a scheduler's log file
    let out = ok(&[
        "stream",
        "--speed",
        "0",
        "--start",
        "2025-01-01",
        "--count",
        "3",
        "--tables",
        "orders",
    ]);
    let err = stderr(&out);
    assert!(err.contains("INFO streaming orders"), "{err}");
    assert!(!err.contains('\u{1b}'), "escape codes in {err:?}");
}

#[test]
fn a_bad_stream_speed_is_a_usage_error_naming_the_value() {
    for bad in ["-1", "fast", "inf"] {
        let out = common::aladdin(&["stream", "--speed", bad, "--start", "2025-01-01"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "--speed {bad}: {err}");
        assert!(err.contains(&format!("{bad:?}")), "{err}");
    }
}

#[test]
fn truth_labels_are_one_json_line_per_cart() {
    let out = ok(&[
        "truth",
        "--labels",
        "--from",
        "2025-01-01",
        "--to",
        "2025-01-01",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() > 100, "{} carts", lines.len());
    for l in &lines {
        let p = l["p"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&p), "{l}");
        assert_eq!(
            l["label"].as_bool().unwrap(),
            !l["ordered_at"].is_null(),
            "{l}"
        );
        assert_eq!(l["day"], "2025-01-01");
        assert_eq!(l["matures_at"], "2025-01-09T01:00:00Z");
    }
    // Shiny Rocks has no carts: a usage error naming the scenario
    let out = common::aladdin(&[
        "truth",
        "--labels",
        "--scenario",
        "shiny-rocks",
        "--date",
        "2025-01-01",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("\"shiny-rocks\"") && err.contains("ecommerce"),
        "{err}"
    );
}
