//! Bad input exits non-zero (2 for usage errors), names the problem, and writes nothing.

mod common;

use common::{aladdin, stderr, tree};

fn rejects(args: &[&str], code: i32, needles: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut full = vec!["generate", "--out", out.to_str().unwrap()];
    if !args.contains(&"--scenario") {
        full.extend_from_slice(&["--scenario", "shiny-rocks"]);
    }
    full.extend_from_slice(args);
    let result = aladdin(&full);
    let err = stderr(&result);
    assert_eq!(result.status.code(), Some(code), "{args:?}: {err}");
    for n in needles {
        assert!(
            err.contains(n),
            "{args:?}: message should name {n:?}: {err}"
        );
    }
    assert!(tree(&out).is_empty(), "{args:?} left output behind");
}

#[test]
fn usage_errors_exit_2_and_name_the_bad_value() {
    rejects(&["--date", "2024-02-30"], 2, &["2024-02-30", "YYYY-MM-DD"]);
    rejects(&["--date", "yesterday"], 2, &["yesterday"]);
    rejects(
        &["--from", "2024-05-01", "--to", "2024-04-01"],
        2,
        &["2024-04-01", "before", "2024-05-01"],
    );
    rejects(&["--from", "2024-05-01"], 2, &["--to"]);
    rejects(
        &["--scenario", "moon-shop", "--date", "2024-01-01"],
        2,
        &["moon-shop", "shiny-rocks"],
    );
    rejects(
        &["--scenario", "no/such/file.toml", "--date", "2024-01-01"],
        2,
        &["cannot read scenario file no/such/file.toml: No such file"],
    );
    rejects(
        &["--view", "snapshot", "--date", "2024-01-01"],
        2,
        &["--as-of"],
    );
    rejects(
        &["--as-of", "2024-01-01", "--date", "2024-01-01"],
        2,
        &["--as-of", "snapshot"],
    );
    rejects(
        &["--view", "snapshot", "--as-of", "2024-13-01"],
        2,
        &["2024-13-01"],
    );
    rejects(
        &["--format", "xlsx", "--date", "2024-01-01"],
        2,
        &["xlsx", "csv, jsonl, parquet"],
    );
    rejects(
        &["--layout", "nested", "--date", "2024-01-01"],
        2,
        &["nested", "hive, flat, daily"],
    );
    rejects(
        &["--shard", "3/3", "--date", "2024-01-01"],
        2,
        &["3/3", "0 <= I < N"],
    );
    rejects(&["--shard", "1/0", "--date", "2024-01-01"], 2, &["1/0"]);
    rejects(
        &["--tables", "orders,refunds", "--date", "2024-01-01"],
        2,
        &["refunds", "marketing_investments"],
    );
    rejects(
        &[
            "--layout",
            "flat",
            "--from",
            "2024-01-01",
            "--to",
            "2024-01-03",
        ],
        2,
        &["flat", "single day"],
    );
    rejects(
        &["--threads", "0", "--date", "2024-01-01"],
        2,
        &["--threads", "0"],
    );
    rejects(&[], 2, &["--date"]);
}

#[test]
fn an_unwritable_out_fails_naming_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    // a path below a regular file cannot be created, even by root
    let file = tmp.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let out = file.join("data");
    let result = aladdin(&[
        "generate",
        "--date",
        "2024-01-01",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(result.status.code(), Some(1));
    assert!(
        stderr(&result).contains(out.to_str().unwrap()),
        "{}",
        stderr(&result)
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
}

/// A scenario file's errors name the file, the key and the value, exit 2, and write nothing.
#[test]
fn scenario_file_errors_name_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: [(&str, &[&str]); 4] = [
        (
            "[traffic]\norganic_sesions_per_day = 10\n",
            &["traffic.organic_sesions_per_day", "unknown key"],
        ),
        (
            "[payments]\nmethods = { card = 0.7 }\n",
            &["payments.methods", "sums to 0.7"],
        ),
        (
            "[shipping]\nrefund_probability = 2\n",
            &["shipping.refund_probability", "2"],
        ),
        (
            "[shop]\nopened_on = \"2020-13-01\"\n",
            &["shop.opened_on", "2020-13-01"],
        ),
    ];
    for (i, (text, needles)) in cases.iter().enumerate() {
        let file = tmp.path().join(format!("shop{i}.toml"));
        std::fs::write(&file, text).unwrap();
        let out = tmp.path().join(format!("out{i}"));
        let result = aladdin(&[
            "generate",
            "--scenario",
            file.to_str().unwrap(),
            "--date",
            "2020-02-01",
            "--out",
            out.to_str().unwrap(),
        ]);
        let err = stderr(&result);
        assert_eq!(result.status.code(), Some(2), "{err}");
        assert!(err.contains(file.to_str().unwrap()), "{err}");
        for n in *needles {
            assert!(err.contains(n), "should name {n:?}: {err}");
        }
        assert!(!out.exists());
    }
}

/// Every command parses destinations the same way, and refuses the kinds it cannot use with
/// a usage error naming its flag, the value (without its password) and what it takes —
/// before connecting to or writing anything.
#[test]
fn a_destination_a_command_cannot_use_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &[&str]); 8] = [
        (
            &[
                "generate",
                "--date",
                "2024-01-01",
                "--out",
                "amqp://guest:secret@127.0.0.1:5672",
            ],
            &[
                "--out amqp://guest:***@127.0.0.1:5672 is a RabbitMQ (AMQP) broker",
                "generate writes to a folder",
                "postgres://",
                "sqlite://",
            ],
        ),
        (
            &["generate", "--date", "2024-01-01", "--out", "-"],
            &["--out - is standard output", "generate writes to a folder"],
        ),
        (
            &[
                "verify",
                "--date",
                "2024-01-01",
                "--against",
                "nats://127.0.0.1:4222",
            ],
            &[
                "--against nats://127.0.0.1:4222 is a NATS server",
                "verify reads a folder",
                "postgres://",
                "sqlite://",
            ],
        ),
        (
            &[
                "verify",
                "--date",
                "2024-01-01",
                "--against",
                "amqp://h:notaport",
            ],
            &[
                "--against amqp://h:notaport is a RabbitMQ (AMQP) broker",
                "verify reads a folder",
            ],
        ),
        (
            &[
                "stream",
                "--start",
                "2024-01-01",
                "--speed",
                "0",
                "--count",
                "1",
                "--out",
                "postgres://postgres@127.0.0.1:5432/postgres",
            ],
            &[
                "--out postgres://postgres@127.0.0.1:5432/postgres is a PostgreSQL database",
                "stream sends to - (standard output), amqp://",
                "nats://",
            ],
        ),
        (
            &[
                "stream",
                "--start",
                "2024-01-01",
                "--speed",
                "0",
                "--count",
                "1",
                "--out",
                "out.jsonl",
            ],
            &[
                "--out out.jsonl is a file or folder name",
                "stream sends to",
                "aladdin stream > FILE",
            ],
        ),
        (
            &[
                "chart",
                "--kind",
                "marketing-roi",
                "--date",
                "2024-07-10",
                "--database-url",
                "sqlite://shop.db",
            ],
            &[
                "--database-url sqlite://shop.db is a SQLite database",
                "chart --database-url reads postgres://",
            ],
        ),
        (
            &[
                "chart",
                "--kind",
                "marketing-roi",
                "--date",
                "2024-07-10",
                "--from-dir",
                "postgres://postgres@127.0.0.1/x",
            ],
            &[
                "--from-dir postgres://postgres@127.0.0.1/x is a PostgreSQL database",
                "chart --from-dir reads a folder",
                "--database-url",
            ],
        ),
    ];
    for (args, needles) in cases {
        let result = std::process::Command::new(common::BIN)
            .args(args)
            .current_dir(tmp.path())
            .output()
            .unwrap();
        let err = stderr(&result);
        assert_eq!(result.status.code(), Some(2), "{args:?}: {err}");
        for n in needles {
            assert!(err.contains(n), "{args:?}: should name {n:?}: {err}");
        }
        assert!(
            !err.contains("secret"),
            "{args:?}: the password is shown: {err}"
        );
        assert!(result.stdout.is_empty(), "{args:?} wrote to stdout");
    }
    assert!(tree(tmp.path()).is_empty(), "something was written");
}
