//! `--dirty`: defects planted over the daily extract, their manifest, and grading a cleaning
//! pipeline with `verify --dirty` — the naive load fails, the example dbt project
//! (examples/dirty_dbt) that cleans the `realistic` profile in PostgreSQL passes.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};

use common::{aladdin, assert_same_tree, ok, parse_csv, stderr, tree};
use test_support::pg::{self, FreshDb};
use test_support::tools::repo_root;

/// The shop's opening week: every order of the range is placed in it, with its lines.
const FROM: &str = "2020-01-01";
const TO: &str = "2020-01-07";

/// `aladdin generate --scenario ecommerce -q` with `args`.
fn shop<'a>(args: &[&'a str]) -> Vec<&'a str> {
    [&["generate", "--scenario", "ecommerce", "-q"][..], args].concat()
}

/// The shop's FROM..TO generated into the folder `out`, with `extra` arguments.
fn generate(out: &Path, extra: &[&str]) {
    let range = ["--from", FROM, "--to", TO, "--out", out.to_str().unwrap()];
    ok(&shop(&[&range[..], extra].concat()));
}

/// `aladdin verify` of the shop's FROM..TO, of `tables` in `against`, with `extra` arguments
/// (its output, whatever its exit).
fn verify_shop(tables: &str, against: &str, extra: &[&str]) -> Output {
    verify_days(FROM, TO, tables, against, extra)
}

/// [`verify_shop`] of the days `from..=to`.
fn verify_days(from: &str, to: &str, tables: &str, against: &str, extra: &[&str]) -> Output {
    let args = [
        "verify",
        "--scenario",
        "ecommerce",
        "--from",
        from,
        "--to",
        to,
        "--tables",
        tables,
        "--against",
        against,
    ];
    aladdin(&[&args[..], extra].concat())
}

/// [`verify_shop`] graded as the dirty profile `profile`.
fn verify_dirty(profile: &str, tables: &str, against: &str, extra: &[&str]) -> Output {
    verify_shop(
        tables,
        against,
        &[&["--dirty", profile][..], extra].concat(),
    )
}

/// Panics unless `out` (of aladdin) is a success, showing what it printed.
fn passed(out: &Output) {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(out)
    );
}

fn sqlite(db: &Path) -> String {
    format!("sqlite://{}", db.display())
}

fn manifest(dir: &Path) -> Vec<serde_json::Value> {
    let mut all = Vec::new();
    for (path, bytes) in tree(&dir.join("_defects")) {
        assert!(path.ends_with(".jsonl"), "{path}");
        for line in String::from_utf8(bytes).unwrap().lines() {
            all.push(serde_json::from_str(line).unwrap());
        }
    }
    all
}

/// The rows of a table's CSV partitions, keyed by day and primary key text (`D/a|b`), every
/// copy.
fn rows_by_key(
    dir: &Path,
    table: &faux::TableDef,
) -> BTreeMap<String, Vec<BTreeMap<String, String>>> {
    let mut out: BTreeMap<String, Vec<BTreeMap<String, String>>> = BTreeMap::new();
    for (path, _) in tree(&dir.join(table.name)) {
        let day = path
            .split('/')
            .next()
            .unwrap()
            .trim_start_matches("date=")
            .to_string();
        let (header, rows) = parse_csv(&std::fs::read(dir.join(table.name).join(&path)).unwrap());
        for r in rows {
            let row: BTreeMap<String, String> = header.iter().cloned().zip(r).collect();
            let key: Vec<&str> = table.primary_key.iter().map(|k| row[*k].as_str()).collect();
            out.entry(format!("{day}/{}", key.join("|")))
                .or_default()
                .push(row);
        }
    }
    out
}

#[test]
fn dirty_off_writes_the_clean_bytes() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let day = |dir: &Path, extra: &[&str]| {
        let rocks = [
            "generate",
            "--scenario",
            "shiny-rocks",
            "--date",
            "2024-03-01",
            "-q",
        ];
        ok(&[&rocks[..], &["--out", dir.to_str().unwrap()], extra].concat());
    };
    day(a.path(), &[]);
    day(b.path(), &["--dirty", "off"]);
    assert_same_tree(&tree(a.path()), &tree(b.path()));
    assert!(!b.path().join("_defects").exists());
    // a clean rerun over a dirty folder leaves no manifest of defects it no longer holds
    day(b.path(), &["--dirty", "nasty"]);
    assert!(
        tree(&b.path().join("_defects"))
            .values()
            .any(|m| !m.is_empty())
    );
    day(b.path(), &[]);
    assert!(tree(&b.path().join("_defects")).is_empty());
    let without_manifest = |t: BTreeMap<String, Vec<u8>>| -> BTreeMap<String, Vec<u8>> {
        t.into_iter()
            .filter(|(p, _)| !p.starts_with("_defects/"))
            .collect()
    };
    assert_same_tree(&tree(a.path()), &without_manifest(tree(b.path())));
}

#[test]
fn the_same_seed_and_profile_plant_the_same_defects_byte_for_byte() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let nasty = [
        "--dirty",
        "nasty",
        "--tables",
        "orders,order_items,customers",
    ];
    let runs = [["--threads", "1"], ["--threads", "3"], ["--seed", "7"]];
    for (dir, run) in dirs.iter().zip(runs) {
        generate(dir.path(), &[&nasty[..], &run].concat());
    }
    let (a, b, c) = (
        tree(dirs[0].path()),
        tree(dirs[1].path()),
        tree(dirs[2].path()),
    );
    assert_same_tree(&a, &b);
    let defects = |t: &BTreeMap<String, Vec<u8>>| -> Vec<u8> {
        t.iter()
            .filter(|(p, _)| p.starts_with("_defects/"))
            .flat_map(|(_, b)| b.clone())
            .collect()
    };
    assert!(!defects(&a).is_empty());
    assert_ne!(
        defects(&a),
        defects(&c),
        "another seed plants other defects"
    );
    // a day generated alone gets the defects it got in the range
    let alone = tempfile::tempdir().unwrap();
    // ... and, as a daily job runs the next days, its late files are rewritten as the range
    // wrote them (corrections come 1 to 3 days later)
    for day in ["2020-01-03", "2020-01-04", "2020-01-05", "2020-01-06"] {
        let out = ["--date", day, "--out", alone.path().to_str().unwrap()];
        ok(&shop(&[&nasty[..], &out].concat()));
    }
    for (path, bytes) in tree(alone.path()) {
        if path.contains("2020-01-03") {
            assert_eq!(Some(&bytes), a.get(&path), "{path}");
        }
    }
}

/// Each defect of the manifest is where it says, with the dirty value it names, and the clean
/// data (`--dirty off`, what `aladdin truth` counts) has the clean value it names.
#[test]
fn every_kind_of_planted_defect_is_detectable_from_the_manifest() {
    let (dirty, clean) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    generate(dirty.path(), &["--dirty", "nasty"]);
    generate(clean.path(), &[]);
    let scenario = faux::Scenario::by_name("ecommerce", faux::DEFAULT_SEED).unwrap();
    let defects = manifest(dirty.path());
    let kinds: BTreeSet<&str> = defects
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    let all: BTreeSet<&str> = faux::dirty::DefectKind::ALL
        .iter()
        .map(|k| k.name())
        .collect();
    assert_eq!(kinds, all, "every kind is planted by nasty");
    let mut cache = BTreeMap::new();
    let mut cache_events = None;
    let clean_customers = rows_by_key(clean.path(), scenario.table("customers").unwrap());
    for d in &defects {
        if d["table"] == "legacy_customers_export" {
            legacy_defect_is_detectable(dirty.path(), d, &clean_customers);
            continue;
        }
        let table = scenario.table(d["table"].as_str().unwrap()).unwrap();
        let (dirty_rows, clean_rows) = cache.entry(table.name).or_insert_with(|| {
            (
                rows_by_key(dirty.path(), table),
                rows_by_key(clean.path(), table),
            )
        });
        let key = format!(
            "{}/{}",
            d["day"].as_str().unwrap(),
            d["key"].as_str().unwrap()
        );
        let found = dirty_rows.get(&key).cloned().unwrap_or_default();
        let truth = clean_rows.get(&key).cloned().unwrap_or_default();
        match d["kind"].as_str().unwrap() {
            "orphan" => {
                assert_eq!(found.len(), 1, "{d}");
                assert!(truth.is_empty(), "{d}: the clean data has no such line");
                let parent = table.parent.unwrap();
                let orders = rows_by_key(dirty.path(), scenario.table(parent.table).unwrap());
                let order = &found[0][parent.column];
                assert!(
                    !orders.keys().any(|k| k.ends_with(&format!("/{order}"))),
                    "{d}: its order arrived"
                );
            }
            "abandoned_cart_line" => {
                assert_eq!(found.len(), 1, "{d}");
                assert!(truth.is_empty(), "{d}: the clean data has no such line");
                // the product: added to the order's cart (in its session, or in the session
                // that abandoned the cart it resumed: the same cart_id), and not bought
                let line = &found[0];
                let orders = rows_by_key(clean.path(), scenario.table("orders").unwrap());
                let order = orders
                    .iter()
                    .find(|(k, _)| k.ends_with(&format!("/{}", line["order_id"])))
                    .map(|(_, rows)| rows[0].clone())
                    .expect("the order arrived");
                let all_events = cache_events.get_or_insert_with(|| {
                    rows_by_key(clean.path(), scenario.table("events").unwrap())
                });
                let cart_of = |e: &BTreeMap<String, String>| {
                    let p: serde_json::Value = serde_json::from_str(&e["properties"]).unwrap();
                    p["cart_id"].as_str().map(str::to_string)
                };
                let carts: BTreeSet<String> = all_events
                    .values()
                    .flatten()
                    .filter(|e| e["session_id"] == order["session_id"])
                    .filter_map(cart_of)
                    .collect();
                assert!(!carts.is_empty(), "{d}: the order's session has no cart");
                assert!(
                    all_events
                        .values()
                        .flatten()
                        .any(|e| e["event_type"] == "add_to_cart"
                            && e["product_id"] == line["product_id"]
                            && cart_of(e).is_some_and(|c| carts.contains(&c))),
                    "{d}: never added to the cart"
                );
                let bought: Vec<&BTreeMap<String, String>> = clean_rows
                    .values()
                    .flatten()
                    .filter(|r| r["order_id"] == line["order_id"])
                    .collect();
                assert!(!bought.is_empty(), "{d}");
                assert!(
                    bought.iter().all(|r| r["product_id"] != line["product_id"]),
                    "{d}: bought"
                );
                let subtotal: i64 = bought
                    .iter()
                    .map(|r| {
                        r["quantity"].parse::<i64>().unwrap()
                            * r["unit_price"].replace('.', "").parse::<i64>().unwrap()
                    })
                    .sum();
                assert_eq!(
                    subtotal,
                    order["subtotal"].replace('.', "").parse::<i64>().unwrap(),
                    "{d}: the subtotal sums the bought lines only"
                );
            }
            "late_file" => {
                // a run over the range writes a late file corrected when its correction day is
                // in the range, else as first delivered (missing the row, or stale)
                let corrected: faux::Date = d["corrected_on"].as_str().unwrap().parse().unwrap();
                let pending = corrected > TO.parse().unwrap();
                match (d["column"].as_str(), pending) {
                    (_, false) => assert_eq!(found, truth, "{d}"),
                    (None, true) => {
                        assert!(found.is_empty() && truth.len() == 1, "{d}")
                    }
                    (Some(column), true) => {
                        assert_eq!(found.len(), 1, "{d}");
                        assert_eq!(found[0][column], d["dirty"].as_str().unwrap(), "{d}");
                        assert_eq!(truth[0][column], d["clean"].as_str().unwrap(), "{d}");
                    }
                }
            }
            "exact_duplicate" => {
                assert!(found.len() > truth.len(), "{d}");
                assert!(
                    found.iter().filter(|r| truth.contains(r)).count() >= 2,
                    "{d}"
                );
            }
            _ => {
                let column = d["column"].as_str().unwrap();
                let value = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
                assert!(
                    found.iter().any(|r| r[column] == value(&d["dirty"])),
                    "{d}: not in {found:?}"
                );
                assert!(
                    truth.iter().any(|r| r[column] == value(&d["clean"])),
                    "{d}: not in {truth:?}"
                );
                assert!(
                    !truth.iter().any(|r| r[column] == value(&d["dirty"])),
                    "{d}"
                );
            }
        }
    }
}

/// A defect of the legacy export: the file's encoding is what the manifest says (a BOM, or
/// Latin-1), and a mixed timestamp is in the file where the manifest says, with the clean
/// value in the clean customers of the day.
fn legacy_defect_is_detectable(
    dirty: &Path,
    d: &serde_json::Value,
    clean_customers: &BTreeMap<String, Vec<BTreeMap<String, String>>>,
) {
    let day = d["day"].as_str().unwrap();
    let rel = format!("legacy_customers_export/date={day}/part-0.csv");
    let bytes = std::fs::read(dirty.join(&rel)).unwrap();
    match d["kind"].as_str().unwrap() {
        "utf8_bom" => {
            assert_eq!(d["key"], rel.as_str());
            assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "{d}");
        }
        "latin1_encoding" => {
            assert_eq!(d["key"], rel.as_str());
            assert!(!bytes.starts_with(b"\xEF\xBB\xBF"), "{d}");
            // a file of a few hundred European names has a byte that is not UTF-8
            assert!(std::str::from_utf8(&bytes).is_err(), "{d}");
        }
        "mixed_timestamp" => {
            let rows = legacy_rows(&bytes);
            let column = d["column"].as_str().unwrap();
            let key = d["key"].as_str().unwrap();
            assert!(
                rows.iter()
                    .any(|r| r["id"] == key && r[column] == d["dirty"].as_str().unwrap()),
                "{d}"
            );
            let truth = &clean_customers[&format!("{day}/{key}")];
            assert!(
                truth
                    .iter()
                    .any(|r| r[column] == d["clean"].as_str().unwrap()),
                "{d}: not in {truth:?}"
            );
            assert_eq!(
                legacy_timestamp(d["dirty"].as_str().unwrap()),
                d["clean"].as_str().unwrap()
            );
        }
        other => panic!("{other} in the legacy export: {d}"),
    }
}

/// The text of a legacy export file, as a cleaner reads it: UTF-8 after a BOM, otherwise
/// Latin-1 with its XML character references (`&#269;`) resolved.
fn legacy_text(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return String::from_utf8(rest.to_vec()).unwrap();
    }
    let latin1: String = bytes.iter().map(|&b| b as char).collect();
    let mut out = String::new();
    let mut rest = latin1.as_str();
    while let Some(i) = rest.find("&#") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find(';').unwrap() + i;
        let code: u32 = rest[i + 2..end].parse().unwrap();
        out.push(char::from_u32(code).unwrap());
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn legacy_rows(bytes: &[u8]) -> Vec<BTreeMap<String, String>> {
    let (header, rows) = parse_csv(legacy_text(bytes).as_bytes());
    rows.into_iter()
        .map(|r| header.iter().cloned().zip(r).collect())
        .collect()
}

/// A legacy timestamp as RFC 3339 UTC: epoch seconds, RFC 3339 with `Z` or an offset, or
/// `MM/DD/YYYY hh:mm:ss AM ZONE` (fixed standard-time zones).
fn legacy_timestamp(v: &str) -> String {
    let civil = |y: i32, mo: u32, d: u32, h: i64, mi: i64, s: i64| {
        faux::Date::from_ymd(y, mo, d).unwrap().start().0 + h * 3600 + mi * 60 + s
    };
    let num = |s: &str| s.parse::<i64>().unwrap();
    let secs = if v.bytes().all(|b| b.is_ascii_digit()) {
        num(v)
    } else if let Some((date, rest)) = v.split_once(' ') {
        let d: Vec<&str> = date.split('/').collect();
        let parts: Vec<&str> = rest.split(' ').collect();
        let t: Vec<i64> = parts[0].split(':').map(num).collect();
        let h = t[0] % 12 + if parts[1] == "PM" { 12 } else { 0 };
        let offset = match parts[2] {
            "UTC" => 0,
            "EST" => -300,
            "PST" => -480,
            "CET" => 60,
            "IST" => 330,
            "JST" => 540,
            z => panic!("zone {z}"),
        };
        civil(
            num(d[2]) as i32,
            num(d[0]) as u32,
            num(d[1]) as u32,
            h,
            t[1],
            t[2],
        ) - offset * 60
    } else {
        let (y, mo, d) = (num(&v[0..4]), num(&v[5..7]), num(&v[8..10]));
        let base = civil(
            y as i32,
            mo as u32,
            d as u32,
            num(&v[11..13]),
            num(&v[14..16]),
            num(&v[17..19]),
        );
        let zone = &v[19..];
        if zone == "Z" {
            base
        } else {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            base - sign * (num(&zone[1..3]) * 3600 + num(&zone[4..6]) * 60)
        }
    };
    // formatted here, not by faux: the test must not take its expected text from the code
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = faux::Date::from_days_since_epoch(days as i32).ymd();
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The legacy export cleaned (encoding read right, every timestamp as RFC 3339 UTC) passes
/// `verify --dirty` as `legacy_customers_export`; the files as the CRM wrote them fail it, and
/// so do they with the encoding fixed and the timestamps left as they are.
#[test]
fn a_cleaned_legacy_export_passes_verify_dirty_and_the_raw_export_fails() {
    let dirty = tempfile::tempdir().unwrap();
    generate(dirty.path(), &["--dirty", "nasty", "--tables", "customers"]);
    let (cleaned, decoded) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut encodings = BTreeSet::new();
    for (path, bytes) in tree(&dirty.path().join("legacy_customers_export")) {
        encodings.insert(bytes.starts_with(b"\xEF\xBB\xBF"));
        let (header, rows) = parse_csv(legacy_text(&bytes).as_bytes());
        let write = |root: &Path, fix: bool| {
            let mut out = header.join(",") + "\n";
            for r in &rows {
                let cells: Vec<String> = r
                    .iter()
                    .zip(&header)
                    .map(|(v, h)| {
                        let v = if fix && h.ends_with("_at") && !v.is_empty() {
                            legacy_timestamp(v)
                        } else {
                            v.clone()
                        };
                        if v.contains([',', '"']) {
                            format!("\"{}\"", v.replace('"', "\"\""))
                        } else {
                            v
                        }
                    })
                    .collect();
                out.push_str(&(cells.join(",") + "\n"));
            }
            let file = root.join("legacy_customers_export").join(&path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, out).unwrap();
        };
        write(cleaned.path(), true);
        write(decoded.path(), false);
    }
    assert_eq!(encodings.len(), 2, "both a BOM and Latin-1 over the week");
    let grade = |dir: &Path| {
        verify_dirty(
            "nasty",
            "legacy_customers_export",
            dir.to_str().unwrap(),
            &["--json"],
        )
    };
    let good = grade(cleaned.path());
    let report: serde_json::Value = serde_json::from_slice(&good.stdout).unwrap();
    assert!(good.status.success(), "{report:#}\n{}", stderr(&good));
    let t = &report["tables"]["legacy_customers_export"];
    for kind in ["mixed_timestamp", "utf8_bom", "latin1_encoding"] {
        let g = &t["defects"][kind];
        assert!(g["planted"].as_u64().unwrap() > 0, "{kind}: {t:#}");
        assert_eq!(g["fixed"], g["planted"], "{kind}: {t:#}");
    }
    assert!(t["clean_rows"]["expected"].as_u64().unwrap() > 0);

    for naive in [dirty.path(), decoded.path()] {
        let out = grade(naive);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let t = &report["tables"]["legacy_customers_export"];
        assert_eq!(t["passed"], false, "{t:#}");
        assert!(
            t["defects"]["mixed_timestamp"]["fixed"].as_u64().unwrap()
                < t["defects"]["mixed_timestamp"]["planted"].as_u64().unwrap(),
            "{t:#}"
        );
    }
    // the export is dirty data: without --dirty it is not a table to verify
    let usage = aladdin(&[
        "verify",
        "--from",
        FROM,
        "--to",
        TO,
        "--tables",
        "legacy_customers_export",
        "--against",
        cleaned.path().to_str().unwrap(),
    ]);
    assert_eq!(usage.status.code(), Some(2), "{}", stderr(&usage));
    assert!(stderr(&usage).contains("--dirty"), "{}", stderr(&usage));
}

/// The legacy export comes with the shop's customers only, and a clean rerun of the day
/// removes it with its manifest.
#[test]
fn the_legacy_export_comes_with_customers_and_goes_with_a_clean_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let day = shop(&["--date", "2020-01-03", "--out", out, "--tables"]);
    let legacy = dir.path().join("legacy_customers_export");
    ok(&[&day[..], &["orders", "--dirty", "nasty"]].concat());
    assert!(!legacy.exists(), "no customers, no legacy export");
    ok(&[&day[..], &["customers", "--dirty", "nasty"]].concat());
    assert_eq!(
        tree(&legacy).into_keys().collect::<Vec<_>>(),
        ["date=2020-01-03/part-0.csv"]
    );
    assert!(!tree(&dir.path().join("_defects/legacy_customers_export")).is_empty());
    ok(&[&day[..], &["customers"]].concat());
    assert!(tree(&legacy).is_empty());
    assert!(tree(&dir.path().join("_defects/legacy_customers_export")).is_empty());
}

/// Loading the dirty files as they are fails the grade, per kind; the clean data itself (a
/// perfect cleaner) passes it, so the grade can be passed.
#[test]
fn a_naive_load_fails_verify_dirty_and_the_clean_data_passes_it() {
    let (dirty, clean) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let tables = "customers,orders,order_items,payments";
    generate(dirty.path(), &["--dirty", "realistic", "--tables", tables]);
    generate(clean.path(), &["--tables", tables]);
    let grade = |dir: &Path| verify_dirty("realistic", tables, dir.to_str().unwrap(), &["--json"]);
    let naive = grade(dirty.path());
    assert_eq!(naive.status.code(), Some(1), "{}", stderr(&naive));
    let report: serde_json::Value = serde_json::from_slice(&naive.stdout).unwrap();
    assert_eq!(report["passed"], false);
    let mut left_in = BTreeSet::new();
    for (table, t) in report["tables"].as_object().unwrap() {
        for (kind, g) in t["defects"].as_object().unwrap() {
            assert_eq!(
                g["fixed"].as_u64().unwrap() + g["left_in"].as_u64().unwrap(),
                g["planted"].as_u64().unwrap(),
                "{table} {kind}"
            );
            if g["left_in"].as_u64().unwrap() > 0 {
                left_in.insert(kind.clone());
            }
        }
    }
    for kind in [
        "exact_duplicate",
        "orphan",
        "amount_in_cents",
        "enum_case",
        "malformed_email",
        "malformed_phone",
    ] {
        assert!(
            left_in.contains(kind),
            "{kind} left in by the naive load: {report:#}"
        );
    }
    let perfect = grade(clean.path());
    passed(&perfect);
    // usage: off grades nothing
    let off = aladdin(&[
        "verify",
        "--dirty",
        "off",
        "--from",
        FROM,
        "--to",
        TO,
        "--against",
        clean.path().to_str().unwrap(),
    ]);
    assert_eq!(off.status.code(), Some(2));
    assert!(stderr(&off).contains("off"), "{}", stderr(&off));
}

/// `verify --dirty --manifest DIR` grades against the manifest `generate --dirty --out DIR`
/// wrote: the same grade as the defects regenerated from the seed, for a naive load (fails)
/// and a perfect one (passes), with the legacy export graded too.
#[test]
fn verify_dirty_against_the_written_manifest_agrees_with_the_seed() {
    let (dirty, clean) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let tables = "customers,orders,order_items,payments,shipments";
    generate(dirty.path(), &["--dirty", "realistic", "--tables", tables]);
    generate(clean.path(), &["--tables", tables]);
    let dir = dirty.path().to_str().unwrap();
    let defects = dirty.path().join("_defects");
    // (the clean data has no legacy export to grade)
    let with_legacy = format!("{tables},legacy_customers_export");
    for (against, graded, code_wanted) in [
        (dir, with_legacy.as_str(), 1),
        (clean.path().to_str().unwrap(), tables, 0),
    ] {
        let report = |extra: &[&str]| -> (Option<i32>, serde_json::Value) {
            let out = verify_dirty(
                "realistic",
                graded,
                against,
                &[&["--json"][..], extra].concat(),
            );
            let doc = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
            (out.status.code(), doc)
        };
        let (code, mut seeded) = report(&[]);
        assert_eq!(seeded["manifest"], serde_json::Value::Null);
        for source in [dir, defects.to_str().unwrap()] {
            let (mcode, mut read) = report(&["--manifest", source]);
            assert_eq!(read["manifest"].as_str(), Some(defects.to_str().unwrap()));
            read.as_object_mut().unwrap().remove("manifest");
            seeded.as_object_mut().unwrap().remove("manifest");
            assert_eq!(read, seeded, "--manifest {source} against {against}");
            assert_eq!(mcode, code);
        }
        // the naive load fails, the clean data passes; and something was graded
        assert_eq!(code, Some(code_wanted), "{seeded:#}");
        let planted: u64 = seeded["tables"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|t| t["defects"].as_object().unwrap().values())
            .map(|g| g["planted"].as_u64().unwrap())
            .sum();
        assert!(planted > 20, "{seeded:#}");
    }

    // one partition's manifest file: only its defects are planted
    let part = std::fs::read_dir(defects.join("orders"))
        .unwrap()
        .map(|e| e.unwrap().path().join("part-0.jsonl"))
        // (a late file corrected after the range is not graded)
        .find(|p| {
            std::fs::read_to_string(p).is_ok_and(|t| !t.is_empty() && !t.contains("late_file"))
        })
        .unwrap();
    let lines = std::fs::read_to_string(&part).unwrap().lines().count() as u64;
    let out = verify_dirty(
        "realistic",
        "orders",
        clean.path().to_str().unwrap(),
        &["--json", "--manifest", part.to_str().unwrap()],
    );
    passed(&out);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let planted: u64 = doc["tables"]["orders"]["defects"]
        .as_object()
        .unwrap()
        .values()
        .map(|g| g["planted"].as_u64().unwrap())
        .sum();
    assert_eq!(planted, lines, "{doc:#}");
}

/// `--manifest` needs `--dirty`; a genie URL needs a key; `--token` needs a genie URL; a
/// missing path, and a line that does not parse, are errors naming them.
#[test]
fn verify_manifest_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let base = [
            "verify",
            "--scenario",
            "ecommerce",
            "--date",
            FROM,
            "--against",
        ];
        Command::new(env!("CARGO_BIN_EXE_aladdin"))
            .args(base)
            .arg(dir.path())
            .args(args)
            .env_remove("GENIE_API_KEY")
            .env_remove("ALADDIN_LOG")
            .output()
            .unwrap()
    };
    let mdir = tempfile::tempdir().unwrap();
    let m = mdir.path().join("m.jsonl");
    let m = m.to_str().unwrap();
    for (args, says) in [
        (vec!["--manifest", m], vec!["--manifest", "--dirty"]),
        (
            vec!["--dirty", "realistic", "--manifest", "http://127.0.0.1:9"],
            vec!["--token", "GENIE_API_KEY"],
        ),
        (
            vec!["--dirty", "realistic", "--manifest", m, "--token", "k"],
            vec!["--token"],
        ),
        (
            vec!["--dirty", "realistic", "--manifest", m],
            vec!["m.jsonl"],
        ),
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        for s in says {
            assert!(stderr(&out).contains(s), "{args:?}: {}", stderr(&out));
        }
    }
    std::fs::write(
        m,
        "{\"table\":\"orders\",\"day\":\"2020-01-01\",\"key\":\"k\",\"column\":null,\"kind\":\"orphan\",\"clean\":null,\"dirty\":null}\n{\"table\":\"orders\"\n",
    )
    .unwrap();
    let out = run(&["--dirty", "realistic", "--manifest", m]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("m.jsonl line 2"), "{}", stderr(&out));
}

const CLEANED: [&str; 5] = [
    "customers",
    "orders",
    "order_items",
    "payments",
    "shipments",
];

/// The last day the dbt project's test lands and grades: one after TO, as no late partition
/// of the landed tables is still waiting for its correction on it (TO has one: a late
/// partition as first delivered misses orders, whose lines a cleaning drops as orphans, and
/// holds stale amounts that are a key's newest version; a database's current state is
/// graded).
const DBT_TO: &str = "2020-01-08";

#[test]
fn the_example_dbt_project_cleans_the_realistic_profile() {
    let test = "the_example_dbt_project_cleans_the_realistic_profile";
    let scenario = faux::Scenario::by_name("ecommerce", faux::DEFAULT_SEED).unwrap();
    let end: faux::Date = DBT_TO.parse().unwrap();
    for t in CLEANED.iter().chain(&["products"]) {
        for back in 0..faux::dirty::late::MAX_DELAY {
            let day = end.add_days(-back);
            let table = scenario.table(t).unwrap();
            let late = faux::dirty::late::corrected_on(
                faux::DEFAULT_SEED,
                faux::dirty::Profile::Realistic,
                table,
                day,
            );
            assert!(
                late.is_none_or(|c| c <= end),
                "{t} of {day} is corrected on {late:?}, after {DBT_TO}: pick another end"
            );
        }
    }
    let Some(dbt) = test_support::require(test, test_support::tools::dbt()) else {
        return;
    };
    let Some(db) = FreshDb::create(test) else {
        return;
    };
    // land the dirty extracts as a loader that types nothing would: `generate --dirty
    // --out postgres://…` writes every column as text, every day appended, and `_defects`
    let pg = db.connect();
    pg.exec("CREATE SCHEMA raw");
    let landed = [&CLEANED[..], &["products"]].concat();
    let url = db.url();
    let tables = landed.join(",");
    let into_raw = [
        "--dirty",
        "realistic",
        "--tables",
        &tables,
        "--schema",
        "raw",
    ];
    ok(&shop(
        &[
            &["--from", FROM, "--to", DBT_TO, "--out", &url][..],
            &into_raw,
        ]
        .concat(),
    ));
    let planted = pg.one("SELECT count(*) FROM raw._defects");
    assert_ne!(planted, "0", "the manifest is in the database");
    // the database load landed the legacy export's rows (text, the mixed timestamps);
    // replace them with its files as a loader lands files, each read in its encoding (a BOM:
    // UTF-8, otherwise Latin-1, where a character it lacks is `&#NNN;`), every column text
    assert_ne!(
        pg.one("SELECT count(*) FROM raw.legacy_customers_export"),
        "0",
        "a dirty load with customers lands the legacy export"
    );
    pg.exec("TRUNCATE raw.legacy_customers_export");
    let files = tempfile::tempdir().unwrap();
    ok(&shop(&[
        "--from",
        FROM,
        "--to",
        DBT_TO,
        "--out",
        files.path().to_str().unwrap(),
        "--dirty",
        "realistic",
        "--tables",
        "customers",
    ]));
    for (path, bytes) in tree(&files.path().join("legacy_customers_export")) {
        let day = path.split('/').next().unwrap().trim_start_matches("date=");
        let text: String = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
            Some(rest) => String::from_utf8(rest.to_vec()).unwrap(),
            None => bytes.iter().map(|&b| b as char).collect(),
        };
        let (header, rows) = parse_csv(text.as_bytes());
        let values: Vec<String> = rows
            .iter()
            .map(|r| {
                let cells: Vec<String> = r
                    .iter()
                    .map(|v| format!("'{}'", v.replace('\'', "''")))
                    .collect();
                format!("({}, '{day}', '{day}')", cells.join(", "))
            })
            .collect();
        pg.exec(&format!(
            "INSERT INTO raw.legacy_customers_export ({}, _day, _delivered_on) VALUES {}",
            header.join(", "),
            values.join(", ")
        ));
    }
    let project = repo_root().join("examples/dirty_dbt");
    let work = tempfile::tempdir().unwrap();
    let run = Command::new(&dbt)
        .arg("build")
        .arg("--project-dir")
        .arg(&project)
        .arg("--profiles-dir")
        .arg(&project)
        .arg("--target-path")
        .arg(work.path().join("target"))
        .arg("--log-path")
        .arg(work.path().join("logs"))
        .arg("--vars")
        .arg("{legacy_export: true}")
        .env("DIRTY_PG_HOST", pg::HOST)
        .env("DIRTY_PG_PORT", pg::PORT.to_string())
        .env("DIRTY_PG_USER", pg::USER)
        .env("DIRTY_PG_DATABASE", &db.name)
        .env("DIRTY_SCHEMA", "clean")
        .env("DIRTY_RAW_SCHEMA", "raw")
        .env("DO_NOT_TRACK", "1")
        .output()
        .expect("dbt runs");
    assert!(
        run.status.success(),
        "dbt build failed:\n{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let verify_tables = |tables: &str, schema: &str, dirty: bool| {
        let graded: &[&str] = if dirty {
            &["--dirty", "realistic"]
        } else {
            &[]
        };
        verify_days(
            FROM,
            DBT_TO,
            tables,
            &url,
            &[&["--schema", schema][..], graded].concat(),
        )
    };
    let verify = |schema: &str, dirty: bool| verify_tables(&CLEANED.join(","), schema, dirty);
    // the raw landing is the naive load: it fails
    let naive = verify("raw", true);
    assert_eq!(
        naive.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&naive.stdout)
    );
    // the cleaned tables pass the grade, and are the truth's current state, row for row
    let graded = verify("clean", true);
    let report = String::from_utf8_lossy(&graded.stdout);
    assert!(graded.status.success(), "{report}\n{}", stderr(&graded));
    for kind in faux::dirty::DefectKind::ALL
        .into_iter()
        .filter(|k| !k.legacy_only())
    {
        // every kind is planted in the cleaned tables of the range, and graded
        assert!(
            report.contains(&format!(" {kind} ")),
            "no {kind} planted in the test range:\n{report}"
        );
    }
    // the legacy export's model passes its grade: every timestamp and both encodings
    let legacy = verify_tables("legacy_customers_export", "clean", true);
    let report = String::from_utf8_lossy(&legacy.stdout);
    assert!(legacy.status.success(), "{report}\n{}", stderr(&legacy));
    for kind in ["mixed_timestamp", "latin1_encoding", "utf8_bom"] {
        assert!(
            report.contains(&format!(" {kind} ")),
            "no {kind}:\n{report}"
        );
    }
    let plain = verify("clean", false);
    assert!(
        plain.status.success(),
        "{}",
        String::from_utf8_lossy(&plain.stdout)
    );
}

// ---- dirty data straight into a database: raw text tables and a `_defects` table ----

const LANDED: &str = "customers,orders,order_items,payments";

/// Rows as text cells (null as `None`), the day last.
type Cells = Vec<Option<String>>;

/// Files as a database load of FROM..TO lands them: the same range (a late file corrected
/// in the range is written corrected, one corrected after it as first delivered).
fn generate_for_landing(out: &Path) {
    let out = out.to_str().unwrap();
    ok(&shop(&[
        "--from", FROM, "--to", TO, "--dirty", "nasty", "--tables", LANDED, "--out", out,
    ]));
}

/// The columns of a `_defects` row, as the manifest files name them.
const DEFECT_COLUMNS: [&str; 8] = [
    "table",
    "day",
    "key",
    "column",
    "kind",
    "clean",
    "dirty",
    "corrected_on",
];

/// What the raw tables must hold: every row of the dirty CSV files of FROM..TO (see
/// [`generate_for_landing`]), with its day, per table (sorted), the legacy export's rows as
/// its files hold them, decoded; and the manifest files' records as `_defects` rows (sorted)
/// but for the legacy export's encodings (a database has none).
fn files_as_landed(dir: &Path) -> (BTreeMap<String, Vec<Cells>>, Vec<Cells>) {
    let mut tables = BTreeMap::new();
    let in_range = |day: &str| day <= TO;
    for name in LANDED.split(',').chain(["legacy_customers_export"]) {
        let mut rows = Vec::new();
        for (path, bytes) in tree(&dir.join(name)) {
            let day = path.split('/').next().unwrap().trim_start_matches("date=");
            if !in_range(day) {
                continue;
            }
            let text = if name == "legacy_customers_export" {
                legacy_text(&bytes).into_bytes()
            } else {
                bytes
            };
            let (_, records) = parse_csv(&text);
            for r in records {
                // a CSV cell cannot tell null from empty: the raw tables are compared the same way
                let mut cells: Cells = r.into_iter().map(Some).collect();
                cells.push(Some(day.to_string()));
                rows.push(cells);
            }
        }
        rows.sort();
        tables.insert(name.to_string(), rows);
    }
    let mut defects: Vec<Cells> = manifest(dir)
        .iter()
        .filter(|d| in_range(d["day"].as_str().unwrap()))
        .filter(|d| !["latin1_encoding", "utf8_bom"].contains(&d["kind"].as_str().unwrap()))
        .map(|d| {
            DEFECT_COLUMNS
                .iter()
                .map(|c| d[*c].as_str().map(str::to_string))
                .collect()
        })
        .collect();
    defects.sort();
    (tables, defects)
}

/// A query's rows with nulls as empty text (as CSV shows them) — not for `_defects`, whose
/// nulls mean something.
fn as_csv(mut rows: Vec<Cells>) -> Vec<Cells> {
    for r in &mut rows {
        for c in r.iter_mut() {
            c.get_or_insert_with(String::new);
        }
    }
    rows.sort();
    rows
}

fn select_all(table: &faux::TableDef, qualify: &str, day_as_text: &str) -> String {
    let cols: Vec<String> = table
        .columns
        .iter()
        .map(|c| format!("\"{}\"", c.name))
        .collect();
    format!(
        "SELECT {}, {day_as_text} FROM {qualify}\"{}\"",
        cols.join(", "),
        table.name
    )
}

fn dirty_load(url: &str, extra: &[&str]) -> Output {
    let load = ["--dirty", "nasty", "--tables", LANDED, "--out", url];
    aladdin(&shop(&[&load[..], extra].concat()))
}

/// `generate --dirty --out sqlite://…` lands exactly the rows and manifest the files hold, a
/// rerun of a day changes nothing, and the naive landing fails `verify --dirty`.
#[test]
fn dirty_data_lands_raw_in_sqlite_as_the_files_hold_it() {
    let files = tempfile::tempdir().unwrap();
    generate_for_landing(files.path());
    let (expected, expected_defects) = files_as_landed(files.path());
    assert!(!expected_defects.is_empty());
    // late files corrected in the range and after it (the first delivery kept)
    let late: BTreeSet<bool> = expected_defects
        .iter()
        .filter(|d| d[4].as_deref() == Some("late_file"))
        .map(|d| d[7].as_deref().unwrap() <= TO)
        .collect();
    assert_eq!(late.len(), 2, "late files corrected in and after the range");
    assert!(
        expected_defects
            .iter()
            .any(|d| d[0].as_deref() == Some("legacy_customers_export")),
        "the legacy export's mixed timestamps are in the manifest"
    );
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("raw.db");
    let url = sqlite(&db);
    let range = ["--from", FROM, "--to", TO];
    let load = dirty_load(&url, &range);
    assert!(load.status.success(), "{}", stderr(&load));
    let scenario = faux::Scenario::by_name("ecommerce", faux::DEFAULT_SEED).unwrap();
    let contents = || {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let query = |sql: &str| -> Vec<Cells> {
            let mut stmt = conn.prepare(sql).unwrap();
            let n = stmt.column_count();
            stmt.query_map([], |r| {
                (0..n)
                    .map(|i| r.get::<_, Option<String>>(i))
                    .collect::<Result<Cells, _>>()
            })
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
        };
        let tables: BTreeMap<String, Vec<Cells>> = LANDED
            .split(',')
            .map(|name| scenario.table(name).unwrap())
            .chain([&faux::dirty::legacy::LEGACY_CUSTOMERS])
            .map(|t| {
                (
                    t.name.to_string(),
                    as_csv(query(&select_all(t, "", "_day"))),
                )
            })
            .collect();
        let mut defects = query(
            "SELECT \"table\", day, key, \"column\", kind, clean, dirty, corrected_on FROM _defects",
        );
        defects.sort();
        (tables, defects)
    };
    let first = contents();
    assert_eq!(first.0, expected, "the raw tables hold the files' rows");
    assert_eq!(first.1, expected_defects, "_defects holds the manifest");
    // a day loaded again (a rerun, an overlapping range) replaces itself
    let again = dirty_load(&url, &["--date", "2020-01-03"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(contents(), first, "a rerun of a day changed the raw tables");

    let naive = verify_dirty("nasty", LANDED, &url, &[]);
    assert_eq!(naive.status.code(), Some(1), "{}", stderr(&naive));
    legacy_in_sqlite_is_graded(&db, dir.path());
    // a clean load cannot mix into the raw tables, nor the raw into clean ones
    let clean_db = dir.path().join("clean.db");
    let clean_url = sqlite(&clean_db);
    ok(&shop(&[
        "--date", FROM, "--tables", LANDED, "--out", &clean_url,
    ]));
    let mixed = dirty_load(&clean_url, &["--date", FROM]);
    assert_eq!(mixed.status.code(), Some(1), "{}", stderr(&mixed));
    assert!(stderr(&mixed).contains("text"), "{}", stderr(&mixed));
    let flags = dirty_load(&url, &["--date", FROM, "--foreign-keys"]);
    assert_eq!(flags.status.code(), Some(2), "{}", stderr(&flags));
    // raw tables of an older version (no `_delivered_on`) are refused, naming the column
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "DROP INDEX orders_by_delivery; ALTER TABLE orders DROP COLUMN _delivered_on",
    )
    .unwrap();
    drop(conn);
    let old = dirty_load(&url, &["--date", FROM]);
    assert_eq!(old.status.code(), Some(1), "{}", stderr(&old));
    assert!(
        stderr(&old).contains("column _delivered_on is missing (raw tables of an older"),
        "{}",
        stderr(&old)
    );
}

/// The same into PostgreSQL: the rows and manifest the files hold, idempotent reruns, the
/// naive landing failing `verify --dirty`, a typed (clean) schema refused.
#[test]
fn dirty_data_lands_raw_in_postgres_as_the_files_hold_it() {
    let test = "dirty_data_lands_raw_in_postgres_as_the_files_hold_it";
    let Some(db) = FreshDb::create(test) else {
        return;
    };
    let files = tempfile::tempdir().unwrap();
    generate_for_landing(files.path());
    let (expected, expected_defects) = files_as_landed(files.path());
    let pg = db.connect();
    pg.exec("CREATE SCHEMA raw");
    let url = db.url();
    let into_raw = ["--schema", "raw"];
    let load = dirty_load(
        &url,
        &[&into_raw[..], &["--from", FROM, "--to", TO]].concat(),
    );
    assert!(load.status.success(), "{}", stderr(&load));
    let scenario = faux::Scenario::by_name("ecommerce", faux::DEFAULT_SEED).unwrap();
    let contents = || {
        let tables: BTreeMap<String, Vec<Cells>> = LANDED
            .split(',')
            .map(|name| scenario.table(name).unwrap())
            .chain([&faux::dirty::legacy::LEGACY_CUSTOMERS])
            .map(|t| {
                (
                    t.name.to_string(),
                    as_csv(pg.rows(&select_all(t, "raw.", "_day::text"))),
                )
            })
            .collect();
        let mut defects = pg.rows(
            "SELECT \"table\", day::text, key, \"column\", kind, clean, dirty, corrected_on::text \
             FROM raw._defects",
        );
        defects.sort();
        (tables, defects)
    };
    let first = contents();
    assert_eq!(first.0, expected, "the raw tables hold the files' rows");
    assert_eq!(first.1, expected_defects, "_defects holds the manifest");
    let again = dirty_load(
        &url,
        &[
            &into_raw[..],
            &["--from", "2020-01-03", "--to", "2020-01-04"],
        ]
        .concat(),
    );
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(contents(), first, "a rerun of days changed the raw tables");

    let naive = verify_dirty("nasty", LANDED, &url, &into_raw);
    assert_eq!(naive.status.code(), Some(1), "{}", stderr(&naive));
    // the clean load in `public` is typed: dirty rows are refused there, naming why
    ok(&shop(&["--date", FROM, "--tables", LANDED, "--out", &url]));
    let mixed = dirty_load(&url, &["--date", FROM]);
    assert_eq!(mixed.status.code(), Some(1), "{}", stderr(&mixed));
    assert!(
        stderr(&mixed).contains("raw table's columns are text"),
        "{}",
        stderr(&mixed)
    );
}

/// A cleaning done inside SQLite, over the raw landing of `generate --dirty --out sqlite://…`,
/// passes `verify --dirty`; the raw tables themselves fail it. (The customers: copies, padded
/// copies, malformed emails and phones, enum casing — the dbt project's recipes, in SQLite's
/// SQL, which has no regular expressions: the phone's extension is cut at its `x` (` x12`,
/// ` ext. 12`) and its punctuation replaced away.)
#[test]
fn a_cleaning_inside_sqlite_passes_verify_dirty() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw.db");
    let clean = dir.path().join("clean.db");
    let raw_url = sqlite(&raw);
    let customers = ["--dirty", "realistic", "--tables", "customers"];
    ok(&shop(
        &[
            &["--from", FROM, "--to", TO, "--out", &raw_url][..],
            &customers,
        ]
        .concat(),
    ));
    let conn = rusqlite::Connection::open(&raw).unwrap();
    let planted: i64 = conn
        .query_row("SELECT count(*) FROM _defects", [], |r| r.get(0))
        .unwrap();
    assert!(planted > 0, "nothing planted in the customers");
    conn.execute("ATTACH DATABASE ?1 AS clean", [clean.to_str().unwrap()])
        .unwrap();
    // each country's calling code, trunk prefix and longest national number (README)
    let plans = [
        ("BR", "55", "", 11),
        ("CA", "1", "", 10),
        ("DE", "49", "0", 11),
        ("FR", "33", "0", 9),
        ("GB", "44", "0", 10),
        ("IT", "39", "", 10),
        ("NL", "31", "0", 9),
        ("US", "1", "", 10),
    ];
    let by_country: String = plans
        .iter()
        .map(|(cc, code, trunk, longest)| {
            let national = if trunk.is_empty() {
                String::new()
            } else {
                format!("WHEN d LIKE '{trunk}%' THEN '+{code}' || substr(d, 2) ")
            };
            format!(
                "WHEN country = '{cc}' THEN CASE {national}\
                 WHEN length(d) > {longest} THEN '+' || d ELSE '+{code}' || d END "
            )
        })
        .collect();
    conn.execute_batch(&format!(
        "CREATE TABLE clean.customers AS
         WITH typed AS (
             SELECT DISTINCT id, created_at, updated_at, deleted_at,
                 trim(first_name) AS first_name, trim(last_name) AS last_name,
                 replace(replace(lower(trim(email)), ' at ', '@'), '@@', '@') AS email,
                 lower(trim(phone)) AS phone,
                 trim(username) AS username, upper(trim(country)) AS country,
                 trim(city) AS city, lower(trim(persona)) AS persona, marketing_opt_in
             FROM main.customers
         ),
         cut AS (
             SELECT *, CASE WHEN instr(phone, 'x') > 0
                 THEN substr(phone, 1, instr(phone, 'x') - 1) ELSE phone END AS p
             FROM typed
         ),
         digits AS (
             SELECT *, replace(replace(replace(replace(replace(replace(replace(
                 p, ' ', ''), '-', ''), '(', ''), ')', ''), '.', ''), '+', ''), 'e', '') AS d
             FROM cut
         ),
         phoned AS (
             SELECT *, CASE
                 WHEN phone IS NULL OR phone = '' THEN NULL
                 WHEN p LIKE '+%' THEN '+' || d
                 WHEN d LIKE '00%' THEN '+' || substr(d, 3)
                 {by_country}
                 ELSE phone END AS e164
             FROM digits
         ),
         newest AS (
             SELECT *, row_number() OVER (PARTITION BY id ORDER BY updated_at DESC) AS n
             FROM phoned
         )
         SELECT id, created_at, updated_at, deleted_at, first_name, last_name, email,
             e164 AS phone, username, country, city, persona, marketing_opt_in
         FROM newest WHERE n = 1;"
    ))
    .unwrap();
    drop(conn);
    let grade = |db: &Path| verify_dirty("realistic", "customers", &sqlite(db), &[]);
    let naive = grade(&raw);
    assert_eq!(naive.status.code(), Some(1), "{}", stderr(&naive));
    assert!(
        // printed only when a defect is left in
        String::from_utf8_lossy(&naive.stdout).contains("defects left in (examples):"),
        "{}",
        String::from_utf8_lossy(&naive.stdout)
    );
    let cleaned = grade(&clean);
    passed(&cleaned);
}

/// The legacy export landed in SQLite (`legacy_customers_export`, text, the mixed
/// timestamps) fails `verify --dirty` as landed, and passes once its timestamps are read as
/// RFC 3339 UTC (the cleaning done here, row by row, with the test's own parser).
fn legacy_in_sqlite_is_graded(raw: &Path, dir: &Path) {
    let grade =
        |db: &Path| verify_dirty("nasty", "legacy_customers_export", &sqlite(db), &["--json"]);
    let naive = grade(raw);
    assert_eq!(naive.status.code(), Some(1), "{}", stderr(&naive));
    let report: serde_json::Value = serde_json::from_slice(&naive.stdout).unwrap();
    // a US-style time in a named zone is no timestamp: the rows do not even read
    let problems = report["tables"]["legacy_customers_export"]["problems"].to_string();
    assert!(problems.contains("is not a valid timestamp"), "{report:#}");

    let clean = dir.join("legacy_clean.db");
    let conn = rusqlite::Connection::open(raw).unwrap();
    conn.execute("ATTACH DATABASE ?1 AS clean", [clean.to_str().unwrap()])
        .unwrap();
    conn.execute_batch(
        "CREATE TABLE clean.legacy_customers_export AS SELECT * FROM main.legacy_customers_export",
    )
    .unwrap();
    let stamps = ["created_at", "updated_at", "deleted_at"];
    for column in stamps {
        let rows: Vec<(i64, String)> = conn
            .prepare(&format!(
                "SELECT rowid, \"{column}\" FROM clean.legacy_customers_export WHERE \"{column}\" <> ''"
            ))
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for (id, v) in rows {
            conn.execute(
                &format!(
                    "UPDATE clean.legacy_customers_export SET \"{column}\" = ?1 WHERE rowid = ?2"
                ),
                rusqlite::params![legacy_timestamp(&v), id],
            )
            .unwrap();
        }
    }
    // an empty cell is a null (the export writes a null as nothing)
    conn.execute_batch(
        "UPDATE clean.legacy_customers_export SET deleted_at = NULL WHERE deleted_at = '';
         UPDATE clean.legacy_customers_export SET phone = NULL WHERE phone = '';",
    )
    .unwrap();
    drop(conn);
    let cleaned = grade(&clean);
    passed(&cleaned);
}

/// Late files in a daily job: `generate --date D` run day after day into one folder rewrites a
/// day's partition on its correction day (its checksum changes in `_manifest.json`, which
/// names the day that rewrote it), and the folder ends as a run over the whole range writes
/// it. A loader that loads each partition once keeps the first deliveries: `verify --dirty`
/// counts their late_file defects left in; one that reloads the partitions whose checksum
/// changed has every one fixed. (Both still hold the other kinds of defect: the grade of the
/// late files is what tells them apart.)
#[test]
fn a_daily_job_sees_late_files_rewritten_and_a_reloading_loader_gets_them_right() {
    let tables = "orders,order_items,payments";
    let nasty = ["--dirty", "nasty", "--tables", tables];
    let (job, naive, reload, range) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let first: faux::Date = FROM.parse().unwrap();
    let last = TO
        .parse::<faux::Date>()
        .unwrap()
        .add_days(faux::dirty::late::MAX_DELAY);
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut rewritten = 0;
    let mut day = first;
    while day <= last {
        let out = job.path().to_str().unwrap();
        ok(&shop(
            &[&nasty[..], &["--date", &day.to_string(), "--out", out]].concat(),
        ));
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(job.path().join("_manifest.json")).unwrap())
                .unwrap();
        for p in m["partitions"].as_array().unwrap() {
            let path = p["path"].as_str().unwrap();
            let checksum = p["checksum"].as_str().unwrap();
            let copy = |to: &Path| {
                let target = to.join(path);
                std::fs::create_dir_all(target.parent().unwrap()).unwrap();
                std::fs::copy(job.path().join(path), target).unwrap();
            };
            match seen.get(path) {
                None => {
                    copy(naive.path());
                    copy(reload.path());
                }
                Some(c) if c != checksum => {
                    // a partition of an earlier day, rewritten today
                    assert!(
                        p["date"].as_str().unwrap() < day.to_string().as_str(),
                        "{p}"
                    );
                    assert_eq!(p["rewritten_on"], day.to_string().as_str(), "{p}");
                    copy(reload.path());
                    rewritten += 1;
                }
                Some(_) => {}
            }
            seen.insert(path.to_string(), checksum.to_string());
        }
        day = day.add_days(1);
    }
    assert!(rewritten > 0, "no late file in the job");
    // the job's folder is the range's, byte for byte (manifest included)
    let (last_day, out) = (last.to_string(), range.path().to_str().unwrap());
    ok(&shop(
        &[
            &nasty[..],
            &["--from", FROM, "--to", &last_day, "--out", out],
        ]
        .concat(),
    ));
    assert_same_tree(&tree(job.path()), &tree(range.path()));

    let grade = |dir: &Path| -> serde_json::Value {
        let out = verify_dirty("nasty", tables, dir.to_str().unwrap(), &["--json"]);
        // the other kinds of defect are in both landings
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let late = |report: &serde_json::Value, what: &str| -> u64 {
        report["tables"]
            .as_object()
            .unwrap()
            .values()
            .map(|t| t["defects"]["late_file"][what].as_u64().unwrap())
            .sum()
    };
    let (once, again) = (grade(naive.path()), grade(reload.path()));
    assert!(late(&once, "planted") > 0, "{once:#}");
    assert!(late(&once, "left_in") > 0, "{once:#}");
    assert_eq!(late(&again, "planted"), late(&once, "planted"));
    assert_eq!(late(&again, "fixed"), late(&again, "planted"), "{again:#}");
    assert_eq!(late(&again, "left_in"), 0, "{again:#}");
    for t in again["tables"].as_object().unwrap().values() {
        // no clean row lost or changed either
        assert_eq!(t["clean_rows"]["dropped"], 0, "{again:#}");
        assert_eq!(t["clean_rows"]["changed"], 0, "{again:#}");
    }
}

// ---- late files in a database: a daily job, the corrections, and two incremental readers ----

/// A raw database a late-file daily job lands in, with the copies its readers make: the
/// tables `{raw}t`, `naive.landed_t`, `reload.landed_t` (and the current state of each
/// copy, `naive.t`, `reload.t`) and a range run's `range.t` reachable by `exec` and `rows`.
struct LateDb<'a> {
    /// `generate` arguments landing in the job's raw tables, and in the range run's
    job: Vec<String>,
    range: Vec<String>,
    /// `verify` arguments reading the naive and the reloading copy
    naive: Vec<String>,
    reload: Vec<String>,
    /// the raw tables' qualifier
    raw: &'static str,
    /// SQL making the empty table `copy` with the columns of `raw`
    create_copy: fn(raw: &str, copy: &str) -> String,
    /// what orders the text of timestamps as time (`COLLATE "C"` in PostgreSQL)
    in_order: &'static str,
    exec: &'a dyn Fn(&str),
    rows: &'a dyn Fn(&str) -> Vec<Cells>,
}

/// A daily job (`generate --dirty nasty --date D`, D after D, into one schema) over the week
/// and the [`MAX_DELAY`](faux::dirty::late::MAX_DELAY) days after it: the load of a late
/// partition's correction day replaces its rows, delivered on that day. A reader copying
/// `_day > last` keeps the first deliveries (`verify --dirty` counts late_file defects left
/// in); one copying `_delivered_on > last`, replacing the `_day` partitions it gets, ends with
/// the source's rows, every correction in. The job ends as a range run does, and a rerun
/// changes nothing. (`verify` grades a database by the current state of each key, the newest
/// version, which is what each copy's `t` holds: a versioned row's late file is graded with
/// whatever its newest version carries, so only the lines, graded per day as files are, have
/// every late file fixed by the reload; the others have fewer left in.)
fn late_files_in_a_daily_job(db: &LateDb) {
    let tables = ["orders", "order_items", "payments"];
    let nasty = [
        "--dirty",
        "nasty",
        "--tables",
        "orders,order_items,payments",
    ];
    let load = |target: &[String], days: &[&str]| {
        let target: Vec<&str> = target.iter().map(String::as_str).collect();
        ok(&shop(&[&nasty[..], days, &target].concat()));
    };
    let first: faux::Date = FROM.parse().unwrap();
    let last = TO
        .parse::<faux::Date>()
        .unwrap()
        .add_days(faux::dirty::late::MAX_DELAY);
    let mut copied = "1970-01-01".to_string();
    let mut corrections = 0;
    let mut day = first;
    while day <= last {
        let d = day.to_string();
        load(&db.job, &["--date", &d]);
        for t in tables {
            let raw = format!("{}{t}", db.raw);
            if day == first {
                (db.exec)(&(db.create_copy)(&raw, &format!("naive.landed_{t}")));
                (db.exec)(&(db.create_copy)(&raw, &format!("reload.landed_{t}")));
            }
            // an earlier day's partition, delivered again today
            let rewritten = (db.rows)(&format!(
                "SELECT count(*) FROM {raw} WHERE _delivered_on = '{d}' AND _day < '{d}'"
            ));
            corrections += rewritten[0][0].as_deref().unwrap().parse::<u64>().unwrap();
            (db.exec)(&format!(
                "INSERT INTO naive.landed_{t} SELECT * FROM {raw} WHERE _day > '{copied}'"
            ));
            (db.exec)(&format!(
                "DELETE FROM reload.landed_{t} WHERE _day IN \
                 (SELECT _day FROM {raw} WHERE _delivered_on > '{copied}');
                 INSERT INTO reload.landed_{t} SELECT * FROM {raw} WHERE _delivered_on > '{copied}'"
            ));
        }
        copied = d;
        day = day.add_days(1);
    }
    assert!(corrections > 0, "no late partition corrected in the job");

    let contents = |qualify: &str| -> Vec<Vec<Cells>> {
        let mut all: Vec<Vec<Cells>> = tables
            .iter()
            .map(|t| as_csv((db.rows)(&format!("SELECT * FROM {qualify}{t}"))))
            .collect();
        let mut defects = (db.rows)(&format!(
            "SELECT \"table\", day, key, \"column\", kind, clean, dirty, corrected_on \
             FROM {qualify}_defects"
        ));
        defects.sort();
        assert!(
            defects
                .iter()
                .any(|d| d[4].as_deref() == Some("late_file") && d[7].is_some()),
            "_defects records the late files with their correction day"
        );
        all.push(defects);
        all
    };
    let (from, to) = (FROM.to_string(), last.to_string());
    load(&db.range, &["--from", &from, "--to", &to]);
    let job = contents(db.raw);
    assert!(
        job == contents("range."),
        "a daily job and a range run end with different contents"
    );
    // a rerun of the last day, of a late partition's day, of the whole range: no change
    load(&db.job, &["--date", &to]);
    load(&db.job, &["--from", &from, "--to", &to]);
    assert!(job == contents(db.raw), "a rerun changed the raw tables");
    let late_day = job[3]
        .iter()
        .find(|d| d[4].as_deref() == Some("late_file"))
        .map(|d| d[1].clone().unwrap())
        .unwrap();
    load(&db.job, &["--date", &late_day]);
    assert!(
        job == contents(db.raw),
        "a rerun of {late_day} changed the raw tables"
    );

    // what a warehouse makes of each copy: the newest version of each key (a table without
    // versions as landed), which `verify` grades a database by
    let scenario = faux::Scenario::by_name("ecommerce", faux::DEFAULT_SEED).unwrap();
    for copy in ["naive", "reload"] {
        for t in tables {
            let def = scenario.table(t).unwrap();
            let select = match def.cursor {
                Some(cursor) => format!(
                    "SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY {} \
                     ORDER BY {cursor}{} DESC) AS _n FROM {copy}.landed_{t}) latest WHERE _n = 1",
                    def.primary_key.join(", "),
                    db.in_order
                ),
                None => format!("SELECT * FROM {copy}.landed_{t}"),
            };
            (db.exec)(&format!("CREATE TABLE {copy}.{t} AS {select}"));
        }
    }
    let grade = |against: &[String]| -> serde_json::Value {
        let args = [
            "verify",
            "--scenario",
            "ecommerce",
            "--from",
            &from,
            "--to",
            &to,
            "--tables",
            "orders,order_items,payments",
            "--dirty",
            "nasty",
            "--json",
        ];
        let against: Vec<&str> = against.iter().map(String::as_str).collect();
        let out = aladdin(&[&args[..], &against].concat());
        // the other kinds of defect are in both copies
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let late = |report: &serde_json::Value, what: &str| -> u64 {
        report["tables"]
            .as_object()
            .unwrap()
            .values()
            .map(|t| t["defects"]["late_file"][what].as_u64().unwrap())
            .sum()
    };
    let (once, again) = (grade(&db.naive), grade(&db.reload));
    assert!(late(&once, "planted") > 0, "{once:#}");
    assert_eq!(late(&again, "planted"), late(&once, "planted"));
    assert!(
        late(&again, "left_in") < late(&once, "left_in"),
        "{once:#}\n{again:#}"
    );
    let lines = |report: &serde_json::Value, what: &str| {
        report["tables"]["order_items"]["defects"]["late_file"][what]
            .as_u64()
            .unwrap()
    };
    assert!(lines(&once, "left_in") > 0, "{once:#}");
    assert_eq!(lines(&again, "left_in"), 0, "{again:#}");
    assert_eq!(
        lines(&again, "fixed"),
        lines(&again, "planted"),
        "{again:#}"
    );
    // the reloading copy holds the source's rows, corrections in; the naive one does not
    for t in tables {
        let landed = |copy: &str| as_csv((db.rows)(&format!("SELECT * FROM {copy}.landed_{t}")));
        let source = as_csv((db.rows)(&format!("SELECT * FROM {}{t}", db.raw)));
        assert!(
            landed("reload") == source,
            "the reloading copy of {t} differs"
        );
        assert!(
            landed("naive") != source,
            "the naive copy of {t} got the corrections"
        );
    }
    for t in again["tables"].as_object().unwrap().values() {
        assert_eq!(t["clean_rows"]["dropped"], 0, "{again:#}");
        assert_eq!(t["clean_rows"]["changed"], 0, "{again:#}");
    }
}

#[test]
fn late_files_in_a_sqlite_daily_job_reach_a_reader_of_delivered_on() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str| dir.path().join(format!("{name}.db"));
    let target = |name: &str| vec!["--out".to_string(), sqlite(&file(name))];
    let connect = || {
        let conn = rusqlite::Connection::open(file("raw")).unwrap();
        for name in ["naive", "reload", "range"] {
            conn.execute(
                "ATTACH DATABASE ?1 AS ?2",
                [file(name).to_str().unwrap(), name],
            )
            .unwrap();
        }
        conn
    };
    let exec = |sql: &str| connect().execute_batch(sql).unwrap();
    let rows = |sql: &str| -> Vec<Cells> {
        let conn = connect();
        let mut stmt = conn.prepare(sql).unwrap();
        let n = stmt.column_count();
        stmt.query_map([], |r| {
            (0..n)
                .map(|i| match r.get_ref(i)? {
                    rusqlite::types::ValueRef::Null => Ok(None),
                    rusqlite::types::ValueRef::Integer(v) => Ok(Some(v.to_string())),
                    _ => r.get::<_, Option<String>>(i),
                })
                .collect::<Result<Cells, _>>()
        })
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
    };
    late_files_in_a_daily_job(&LateDb {
        job: target("raw"),
        range: target("range"),
        naive: vec!["--against".into(), sqlite(&file("naive"))],
        reload: vec!["--against".into(), sqlite(&file("reload"))],
        raw: "main.",
        create_copy: |raw, copy| format!("CREATE TABLE {copy} AS SELECT * FROM {raw} WHERE 0"),
        in_order: "",
        exec: &exec,
        rows: &rows,
    });
}

#[test]
fn late_files_in_a_postgres_daily_job_reach_a_reader_of_delivered_on() {
    let test = "late_files_in_a_postgres_daily_job_reach_a_reader_of_delivered_on";
    let Some(fresh) = FreshDb::create(test) else {
        return;
    };
    let pg = fresh.connect();
    pg.exec("CREATE SCHEMA raw; CREATE SCHEMA naive; CREATE SCHEMA reload; CREATE SCHEMA range");
    let url = fresh.url();
    let into = |schema: &str| -> Vec<String> {
        ["--out", &url, "--schema", schema]
            .map(str::to_string)
            .to_vec()
    };
    let against = |schema: &str| -> Vec<String> {
        ["--against", &url, "--schema", schema]
            .map(str::to_string)
            .to_vec()
    };
    let exec = |sql: &str| pg.exec(sql);
    let rows = |sql: &str| pg.rows(sql);
    late_files_in_a_daily_job(&LateDb {
        job: into("raw"),
        range: into("range"),
        naive: against("naive"),
        reload: against("reload"),
        raw: "raw.",
        create_copy: |raw, copy| format!("CREATE TABLE {copy} (LIKE {raw})"),
        in_order: " COLLATE \"C\"",
        exec: &exec,
        rows: &rows,
    });
}
