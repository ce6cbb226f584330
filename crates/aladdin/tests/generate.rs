//! `aladdin generate` end to end: determinism, formats, shards, layouts, atomic rewrites.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use arrow_array::{Array, Date32Array, Decimal128Array, Int64Array, StringArray};
use common::{aladdin, assert_same_tree, ok, read_csv, tree};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

fn generate(out: &Path, extra: &[&str]) {
    let mut args = vec!["generate", "--scenario", "shiny-rocks", "--quiet", "--out"];
    let out = out.to_str().unwrap();
    args.push(out);
    args.extend_from_slice(extra);
    ok(&args);
}

#[test]
fn the_same_seed_gives_the_same_bytes_and_another_seed_does_not() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    generate(&a, &["--from", "2024-02-27", "--to", "2024-03-02"]);
    generate(&b, &["--from", "2024-02-27", "--to", "2024-03-02"]);
    generate(
        &c,
        &["--from", "2024-02-27", "--to", "2024-03-02", "--seed", "7"],
    );
    let (ta, tb, tc) = (tree(&a), tree(&b), tree(&c));
    assert_eq!(ta.len(), 4 * 5 + 1, "4 tables × 5 days + manifest");
    assert_same_tree(&ta, &tb);
    let orders = "orders/date=2024-02-29/part-0.csv";
    assert_ne!(ta[orders], tc[orders]);
    // the row count is the curve's, whatever the seed
    assert_eq!(
        read_csv(&a.join(orders)).1.len(),
        read_csv(&c.join(orders)).1.len()
    );
}

#[test]
fn a_range_equals_its_days_generated_one_by_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (range, daily) = (tmp.path().join("range"), tmp.path().join("daily"));
    generate(&range, &["--from", "2023-12-30", "--to", "2024-01-02"]);
    // out of order on purpose: any day generates alone
    for d in ["2024-01-02", "2023-12-30", "2024-01-01", "2023-12-31"] {
        generate(&daily, &["--date", d]);
    }
    // the manifest of the day-by-day runs accumulates to the range's manifest, too
    assert_same_tree(&tree(&range), &tree(&daily));
}

#[test]
fn one_thread_and_two_threads_write_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    for format in ["csv", "parquet"] {
        let (one, two) = (
            tmp.path().join(format!("1-{format}")),
            tmp.path().join(format!("2-{format}")),
        );
        generate(
            &one,
            &[
                "--from",
                "2024-06-01",
                "--to",
                "2024-06-06",
                "--threads",
                "1",
                "--format",
                format,
            ],
        );
        generate(
            &two,
            &[
                "--from",
                "2024-06-01",
                "--to",
                "2024-06-06",
                "--threads",
                "2",
                "--format",
                format,
            ],
        );
        assert_same_tree(&tree(&one), &tree(&two));
    }
}

#[test]
fn the_shards_of_a_day_concatenated_equal_the_whole_day() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    generate(&whole, &["--date", "2024-03-15"]);
    generate(
        &whole.join("jsonl"),
        &["--date", "2024-03-15", "--format", "jsonl"],
    );
    for n in [2u32, 3, 7] {
        for table in common::tables_of("shiny-rocks") {
            let part = |dir: &Path, i: u32, ext: &str| {
                dir.join(format!("{table}/date=2024-03-15/part-{i}.{ext}"))
            };
            let (header, expected) = read_csv(&part(&whole, 0, "csv"));
            let mut joined = Vec::new();
            let mut joined_jsonl = Vec::new();
            for i in 0..n {
                let dir = tmp.path().join(format!("shards-{n}"));
                let shard = format!("{i}/{n}");
                generate(
                    &dir,
                    &["--date", "2024-03-15", "--tables", table, "--shard", &shard],
                );
                generate(
                    &dir.join("jsonl"),
                    &[
                        "--date",
                        "2024-03-15",
                        "--tables",
                        table,
                        "--shard",
                        &shard,
                        "--format",
                        "jsonl",
                    ],
                );
                let (h, rows) = read_csv(&part(&dir, i, "csv"));
                assert_eq!(h, header);
                joined.extend(rows);
                joined_jsonl.extend(std::fs::read(part(&dir.join("jsonl"), i, "jsonl")).unwrap());
            }
            assert_eq!(joined, expected, "{table}, {n} shards");
            assert_eq!(
                joined_jsonl,
                std::fs::read(part(&whole.join("jsonl"), 0, "jsonl")).unwrap()
            );
        }
    }
}

/// Each Parquet column rendered the way the CSV writes it.
fn parquet_rows(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut header = Vec::new();
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        header = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        for r in 0..batch.num_rows() {
            let row = batch
                .columns()
                .iter()
                .map(|col| {
                    let any = col.as_any();
                    if let Some(a) = any.downcast_ref::<StringArray>() {
                        a.value(r).to_string()
                    } else if let Some(a) = any.downcast_ref::<Int64Array>() {
                        a.value(r).to_string()
                    } else if let Some(a) = any.downcast_ref::<Date32Array>() {
                        faux::Date::from_days_since_epoch(a.value(r)).to_string()
                    } else if let Some(a) = any.downcast_ref::<Decimal128Array>() {
                        a.value_as_string(r)
                    } else {
                        panic!("unexpected column type {:?}", col.data_type())
                    }
                })
                .collect();
            rows.push(row);
        }
    }
    (header, rows)
}

fn jsonl_rows(path: &Path, header: &[String]) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let v: serde_json::Map<String, serde_json::Value> = serde_json::from_str(line).unwrap();
            assert_eq!(v.len(), header.len(), "{line}");
            let positions: Vec<usize> = header
                .iter()
                .map(|k| line.find(&format!("\"{k}\":")).unwrap())
                .collect();
            assert!(positions.is_sorted(), "keys in column order: {line}");
            header
                .iter()
                .map(|k| match &v[k] {
                    serde_json::Value::String(s) => s.clone(),
                    // decimals keep their exact text (serde_json's arbitrary precision is off,
                    // so render from the number, which for 2 decimals round-trips)
                    serde_json::Value::Number(n) if n.is_f64() => {
                        format!("{:.2}", n.as_f64().unwrap())
                    }
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

#[test]
fn csv_jsonl_and_parquet_hold_the_same_rows() {
    let tmp = tempfile::tempdir().unwrap();
    for f in ["csv", "jsonl", "parquet"] {
        generate(
            &tmp.path().join(f),
            &["--date", "2024-11-29", "--format", f],
        );
    }
    for table in common::tables_of("shiny-rocks") {
        let p = |f: &str| {
            tmp.path()
                .join(f)
                .join(format!("{table}/date=2024-11-29/part-0.{f}"))
        };
        let (header, csv) = read_csv(&p("csv"));
        assert!(!csv.is_empty());
        let (pq_header, pq) = parquet_rows(&p("parquet"));
        assert_eq!(pq_header, header);
        assert_eq!(pq, csv, "{table}: parquet vs csv");
        assert_eq!(
            jsonl_rows(&p("jsonl"), &header),
            csv,
            "{table}: jsonl vs csv"
        );
    }
}

#[test]
fn parquet_columns_are_typed() {
    let tmp = tempfile::tempdir().unwrap();
    generate(tmp.path(), &["--date", "2024-01-05", "--format", "parquet"]);
    let file = std::fs::File::open(
        tmp.path()
            .join("marketing_investments/date=2024-01-05/part-0.parquet"),
    )
    .unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let schema = builder.schema();
    let types: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| format!("{}:{}", f.name(), f.data_type()))
        .collect();
    assert_eq!(
        types,
        ["date:Date32", "platform:Utf8", "amount:Decimal128(12, 2)"]
    );
}

#[test]
fn the_flat_layout_writes_the_originals_file_names() {
    let tmp = tempfile::tempdir().unwrap();
    generate(tmp.path(), &["--date", "2023-07-10", "--layout", "flat"]);
    let names: Vec<String> = tree(tmp.path()).into_keys().collect();
    assert_eq!(
        names,
        [
            "_manifest.json",
            "marketing_investments.csv",
            "orders.csv",
            "payments.csv",
            "services.csv"
        ]
    );
    let (header, rows) = read_csv(&tmp.path().join("orders.csv"));
    assert_eq!(
        header,
        [
            "user_id",
            "order_id",
            "order_date",
            "product_id",
            "utm_source"
        ]
    );
    assert!(rows.iter().all(|r| r[2] == "2023-07-10"));
}

#[test]
fn the_daily_layout_holds_the_hive_partitions_in_a_folder_per_day() {
    let tmp = tempfile::tempdir().unwrap();
    let (hive, daily, shards) = (
        tmp.path().join("hive"),
        tmp.path().join("daily"),
        tmp.path().join("shards"),
    );
    let range = ["--from", "2024-02-28", "--to", "2024-03-01"];
    generate(&hive, &range);
    generate(&daily, &[&range[..], &["--layout", "daily"]].concat());
    generate(
        &shards,
        &[&range[..], &["--layout", "daily", "--shard", "1/3"]].concat(),
    );
    let hive = tree(&hive);
    let daily = tree(&daily);
    let names: Vec<&str> = daily.keys().map(String::as_str).collect();
    assert_eq!(names.len(), 1 + 3 * 4, "{names:?}");
    assert!(names.contains(&"2024-02-29/orders.csv"), "{names:?}");
    for (path, bytes) in daily.iter().filter(|(p, _)| !p.starts_with('_')) {
        let (day, file) = path.split_once('/').unwrap();
        let table = file.strip_suffix(".csv").unwrap();
        let partition = format!("{table}/date={day}/part-0.csv");
        assert_eq!(Some(bytes), hive.get(&partition), "{path} vs {partition}");
    }
    let shard_names: Vec<String> = tree(&shards).into_keys().collect();
    assert!(
        shard_names.contains(&"2024-03-01/payments.part-1.csv".to_string()),
        "{shard_names:?}"
    );

    // the readers find a folder per day too
    let dir = tmp.path().join("daily");
    let dir = dir.to_str().unwrap();
    let verify = [
        "verify",
        "--quiet",
        "--scenario",
        "shiny-rocks",
        "--against",
        dir,
        "--from",
        "2024-02-28",
        "--to",
        "2024-03-01",
    ];
    ok(&verify);
    std::fs::remove_file(tmp.path().join("daily/2024-02-29/orders.csv")).unwrap();
    let out = aladdin(&verify);
    assert_eq!(out.status.code(), Some(1), "a missing day must be reported");
}

#[test]
fn the_manifest_counts_rows_and_checksums_every_partition() {
    let tmp = tempfile::tempdir().unwrap();
    generate(
        tmp.path(),
        &["--from", "2024-04-01", "--to", "2024-04-03", "--seed", "9"],
    );
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("_manifest.json")).unwrap()).unwrap();
    assert_eq!(m["scenario"], "shiny-rocks");
    assert_eq!(m["seed"], 9);
    assert_eq!(m["model_version"], faux::MODEL_VERSION);
    let parts = m["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 12);
    let mut totals: BTreeMap<String, u64> = BTreeMap::new();
    for p in parts {
        let path = tmp.path().join(p["path"].as_str().unwrap());
        let bytes = std::fs::read(&path).unwrap();
        let (_, rows) = read_csv(&path);
        assert_eq!(p["rows"].as_u64().unwrap(), rows.len() as u64, "{path:?}");
        assert_eq!(p["bytes"].as_u64().unwrap(), bytes.len() as u64);
        let want = format!("xxh3-64:{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes));
        assert_eq!(p["checksum"].as_str().unwrap(), want);
        *totals
            .entry(p["table"].as_str().unwrap().to_string())
            .or_default() += rows.len() as u64;
    }
    for (table, rows) in totals {
        assert_eq!(m["tables"][&table]["rows"].as_u64().unwrap(), rows);
    }
}

#[test]
fn a_rerun_overwrites_torn_and_stale_files_idempotently() {
    let tmp = tempfile::tempdir().unwrap();
    let (fresh, dirty) = (tmp.path().join("fresh"), tmp.path().join("dirty"));
    generate(&fresh, &["--date", "2024-08-08"]);
    // what a crash could leave behind: a torn temp file and a half-written old partition
    let dir = dirty.join("orders/date=2024-08-08");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(".part-0.csv.tmp"), b"user_id,ord").unwrap();
    std::fs::write(dir.join("part-0.csv"), b"garbage").unwrap();
    generate(&dirty, &["--date", "2024-08-08"]);
    generate(&dirty, &["--date", "2024-08-08"]);
    assert_same_tree(&tree(&fresh), &tree(&dirty));
}

#[test]
fn an_interrupted_run_leaves_only_complete_partitions() {
    let tmp = tempfile::tempdir().unwrap();
    let (full, killed) = (tmp.path().join("full"), tmp.path().join("killed"));
    let args = [
        "--from",
        "2023-01-01",
        "--to",
        "2024-12-31",
        "--format",
        "jsonl",
        "--threads",
        "2",
    ];
    let mut child = std::process::Command::new(common::BIN)
        .args([
            "generate",
            "--scenario",
            "shiny-rocks",
            "--quiet",
            "--out",
            killed.to_str().unwrap(),
        ])
        .args(args)
        .spawn()
        .unwrap();
    // let it write some partitions, then kill it mid-run
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while common::file_names(&killed).len() < 40 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    generate(&full, &args);
    let full_tree = tree(&full);
    let killed_tree = tree(&killed);
    assert!(killed_tree.len() >= 40);
    for (name, bytes) in &killed_tree {
        let file = name.rsplit('/').next().unwrap();
        if file.starts_with('.') || name == "_manifest.json" {
            continue; // hidden temporaries are never a partition
        }
        assert!(
            full_tree.get(name) == Some(bytes),
            "{name} is torn or wrong"
        );
    }
}

#[test]
fn scenario_list_and_show_describe_tables_and_tunables() {
    let list = String::from_utf8(ok(&["scenario", "list"]).stdout).unwrap();
    assert!(list.contains("shiny-rocks"));
    let show = String::from_utf8(ok(&["scenario", "show", "shiny-rocks"]).stdout).unwrap();
    for needle in [
        "table orders",
        "table payments",
        "table services",
        "table marketing_investments",
        "utm_source",
        "decimal(12,2)",
        "tunables",
        "payment_method_mix",
    ] {
        assert!(show.contains(needle), "missing {needle:?} in:\n{show}");
    }
    let bad = aladdin(&["scenario", "show", "nope"]);
    assert_eq!(bad.status.code(), Some(2));
}
