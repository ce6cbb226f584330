//! Bad values on genie's command line are usage errors (exit 2) that name the value and what
//! is valid, before anything is opened or written.

use std::process::Command;

fn genie(args: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_genie"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(args)
        .output()
        .unwrap();
    // nothing was created for a refused command line
    assert!(!dir.path().join("data").exists(), "{args:?} opened a store");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_bad_speed_is_a_usage_error_naming_the_value() {
    for bad in ["-1", "fast", "inf", "NaN"] {
        let (code, err) = genie(&["--speed", bad, "--listen", "127.0.0.1:0"]);
        assert_eq!(code, Some(2), "--speed {bad}: {err}");
        assert!(err.contains(&format!("{bad:?}")), "{err}");
        assert!(err.contains(">= 0"), "{err}");
    }
}

#[test]
fn a_bad_public_url_is_a_usage_error_naming_the_value() {
    for bad in ["api.example.com", "ftp://x", "https://", "https://a/b?c=1"] {
        let (code, err) = genie(&["--public-url", bad, "--listen", "127.0.0.1:0"]);
        assert_eq!(code, Some(2), "--public-url {bad}: {err}");
        assert!(err.contains(&format!("{bad:?}")), "{err}");
        assert!(err.contains("http(s)://"), "{err}");
    }
}

#[test]
fn a_bad_database_url_gets_the_message_aladdin_gives() {
    let run = |url: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_genie"))
            .args(["--database-url", url, "keys", "list"])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // the destination parser's words, through the same faux_sinks::destination::Flag
    // aladdin's --against and --database-url use
    let takes = "genie stores its data in postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE";
    for (url, want) in [
        (
            "mysql://nope",
            format!("--database-url: unknown scheme mysql:// in mysql://nope; {takes}"),
        ),
        (
            "sqlite://shop.db",
            format!(
                "--database-url sqlite://shop.db is a SQLite database: {takes} (an SQLite store is a folder: --data-dir)"
            ),
        ),
        (
            "genie-data",
            format!("--database-url genie-data is a file or folder name: {takes}"),
        ),
        (
            "postgres:me@host/db",
            "--database-url: postgres:me@host/db looks like a postgres: URL but is not one".into(),
        ),
    ] {
        let (code, err) = run(url);
        assert_eq!(code, Some(2), "{url}: {err}");
        assert!(err.contains(&want), "{url}: {err}");
    }
    // a password is never echoed, not even by the argument parser
    let (code, err) = run("postgres://ann:s3cret@h:notaport/db");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("postgres://ann:***@h:notaport/db"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
}

#[test]
fn an_unknown_chaos_name_is_a_usage_error_listing_the_valid_ones() {
    let (code, err) = genie(&["--chaos", "mild,late-arivals", "--listen", "127.0.0.1:0"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("\"late-arivals\""), "{err}");
    for valid in [
        "off",
        "mild",
        "realistic",
        "hostile",
        "late-arrivals",
        "expired-cursors",
        "connection-resets",
        "truncated-responses",
        "hard-deletes",
    ] {
        assert!(err.contains(valid), "{valid}: {err}");
    }
}
