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
