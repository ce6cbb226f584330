//! Snapshots of the first rows of every table for a fixed seed and day. A change here means
//! generated values changed: if deliberate, bump `faux::MODEL_VERSION` and review the snapshot
//! (`cargo insta review`, or `INSTA_UPDATE=always cargo test`).

mod common;

use common::ok;

fn head(path: &std::path::Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.split_inclusive('\n')
        .take(lines)
        .collect::<String>()
        .replace("\r\n", "⏎\n")
}

#[test]
fn first_rows_of_every_shiny_rocks_table() {
    let tmp = tempfile::tempdir().unwrap();
    for format in ["csv", "jsonl"] {
        ok(&[
            "generate",
            "--scenario",
            "shiny-rocks",
            "--quiet",
            "--seed",
            "42",
            "--date",
            "2024-07-10",
            "--format",
            format,
            "--out",
            tmp.path().to_str().unwrap(),
        ]);
    }
    assert_eq!(
        faux::MODEL_VERSION,
        5,
        "model version changed: review the snapshots below"
    );
    for table in common::tables_of("shiny-rocks") {
        let dir = tmp.path().join(format!("{table}/date=2024-07-10"));
        insta::assert_snapshot!(format!("{table}_csv"), head(&dir.join("part-0.csv"), 4));
        insta::assert_snapshot!(format!("{table}_jsonl"), head(&dir.join("part-0.jsonl"), 3));
    }
}

#[test]
fn first_rows_of_every_ecommerce_table() {
    let tmp = tempfile::tempdir().unwrap();
    ok(&[
        "generate",
        "--scenario",
        "ecommerce",
        "--quiet",
        "--seed",
        "42",
        "--date",
        "2024-03-10",
        "--out",
        tmp.path().to_str().unwrap(),
    ]);
    assert_eq!(
        faux::MODEL_VERSION,
        5,
        "model version changed: review the snapshots below"
    );
    for table in faux::ecommerce::tables::TABLES.iter().map(|t| t.name) {
        let path = tmp
            .path()
            .join(format!("{table}/date=2024-03-10/part-0.csv"));
        insta::assert_snapshot!(format!("ecommerce_{table}_csv"), head(&path, 3));
    }
}

/// The snapshot and changes views of the order tables around a midnight: version 2 files an
/// order checked out after midnight under the day it was placed (version 1 filed it under its
/// session's day).
#[test]
fn snapshot_and_changes_views_of_orders() {
    let tmp = tempfile::tempdir().unwrap();
    for view in ["snapshot", "changes"] {
        let mut args = vec![
            "generate",
            "--scenario",
            "ecommerce",
            "--quiet",
            "--seed",
            "42",
            "--from",
            "2024-03-10",
            "--to",
            "2024-03-11",
            "--tables",
            "orders,refunds",
            "--view",
            view,
            "--out",
        ];
        let out = tmp.path().join(view);
        args.push(out.to_str().unwrap());
        if view == "snapshot" {
            args.extend(["--as-of", "2024-03-20T00:00:00Z"]);
        }
        ok(&args);
    }
    assert_eq!(
        faux::MODEL_VERSION,
        5,
        "model version changed: review the snapshots below"
    );
    for view in ["snapshot", "changes"] {
        for table in ["orders", "refunds"] {
            let path = tmp
                .path()
                .join(format!("{view}/{table}/date=2024-03-11/part-0.csv"));
            insta::assert_snapshot!(format!("{view}_{table}_csv"), head(&path, 4));
        }
    }
}
