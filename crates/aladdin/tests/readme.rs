//! The README followed literally by a newcomer: it stands alone, leads with what the first
//! command started, installs a tool before using it, and the commands it shows for the first
//! pipeline and for working from files do what it says.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{ok, parse_csv};
use test_support::tools::repo_root as root;

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).unwrap()
}

/// The text of the `## ` section whose heading starts with `heading`.
fn section<'a>(text: &'a str, heading: &str) -> &'a str {
    let start = text
        .find(&format!("\n## {heading}"))
        .unwrap_or_else(|| panic!("no section {heading}"));
    let rest = &text[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    &rest[..end]
}

/// GitHub's anchor of a heading.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn the_readme_stands_alone_and_its_links_resolve() {
    let text = readme();
    assert!(
        !text.contains("](../") && !text.contains("../shared"),
        "a link outside the repository"
    );
    assert!(
        !text.contains("DESIGN"),
        "a design document a clone does not have"
    );
    let anchors: BTreeSet<String> = text
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| slug(l.trim_start_matches('#')))
        .collect();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        let target = &rest[..rest.find(')').unwrap()];
        if let Some(anchor) = target.strip_prefix('#') {
            assert!(anchors.contains(anchor), "no heading for #{anchor}");
        } else if !target.starts_with("http") {
            assert!(root().join(target).exists(), "{target} does not exist");
        }
    }
}

#[test]
fn the_readme_leads_with_genie_and_has_contents() {
    let text = readme();
    let contents = text.find("Contents:").expect("a table of contents");
    let genie = text.find("\n## Genie").expect("a Genie section");
    let files = text.find("\n## aladdin").expect("an aladdin section");
    assert!(
        contents < genie && genie < files,
        "Genie first, then aladdin"
    );
    // the first two commands stay as they are
    assert!(text.starts_with(
        "# Faux Genie\n\n```sh\ncargo run --release -p genie\ncargo test --workspace\n```\n"
    ));
}

#[test]
fn the_first_pipeline_installs_aladdin_first_and_uses_its_own_genie_store() {
    let text = readme();
    let steps = section(&text, "First pipeline in five minutes");
    let commands: Vec<&str> = steps
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    let install = commands
        .iter()
        .position(|l| l.starts_with("cargo install --path crates/aladdin"))
        .expect("aladdin is installed");
    let first_use = commands
        .iter()
        .position(|l| l.starts_with("aladdin "))
        .expect("aladdin is used");
    assert!(
        install < first_use,
        "aladdin is used before it is installed"
    );
    // the first command's store is ./genie-data: a store keeps its start and history
    let genie = commands
        .iter()
        .find(|l| l.starts_with("cargo run --release -p genie"))
        .expect("genie is started");
    let dir = genie
        .split_whitespace()
        .skip_while(|w| *w != "--data-dir")
        .nth(1)
        .expect("genie gets its own --data-dir");
    assert!(
        !dir.trim_end_matches('/').ends_with("genie-data"),
        "{genie}"
    );
    // the Airbyte read gets a catalog the README made
    let read = steps
        .find("read --config config.json --catalog catalog.json")
        .expect("an Airbyte read");
    let made = steps
        .find("> catalog.json")
        .expect("the README makes catalog.json");
    assert!(made < read);
}

/// The catalog script turns `discover` output (log lines and a CATALOG message) into the
/// configured catalog `read` takes: every stream incremental, deduplicated on its key.
#[test]
fn the_airbyte_catalog_script_configures_every_discovered_stream() {
    let discover = r#"{"type":"LOG","log":{"level":"INFO","message":"discovering"}}
not json at all
{"type":"CATALOG","catalog":{"streams":[{"name":"orders","json_schema":{},"supported_sync_modes":["full_refresh","incremental"],"source_defined_cursor":true,"default_cursor_field":["updated_at"],"source_defined_primary_key":[["id"]]},{"name":"order_items","json_schema":{},"supported_sync_modes":["full_refresh","incremental"],"default_cursor_field":["created_at"],"source_defined_primary_key":[["order_id"],["line_number"]]}]}}
"#;
    let script = root().join("examples/genie/airbyte/configured_catalog.py");
    let run = |args: &[&str]| {
        use std::io::Write;
        let mut child = std::process::Command::new("python3")
            .arg(&script)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs (the README's Airbyte steps need it)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(discover.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = run(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let catalog: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let streams = catalog["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 2);
    assert_eq!(streams[0]["stream"]["name"], "orders");
    assert_eq!(streams[0]["sync_mode"], "incremental");
    assert_eq!(streams[0]["destination_sync_mode"], "append_dedup");
    assert_eq!(
        streams[0]["cursor_field"],
        serde_json::json!(["updated_at"])
    );
    assert_eq!(
        streams[1]["primary_key"],
        serde_json::json!([["order_id"], ["line_number"]])
    );
    // a subset, and an unknown stream named
    let out = run(&["order_items"]);
    let catalog: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(catalog["streams"].as_array().unwrap().len(), 1);
    let out = run(&["nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
}

/// "Working from files": a month's extract is one row per version, and joins only against the
/// snapshot of the dimension tables the README shows — its commands, run literally.
#[test]
fn a_months_extract_joins_against_the_readmes_dimension_snapshot() {
    let text = readme();
    let files = section(&text, "Output layout");
    assert!(files.contains("count(DISTINCT id)"));
    let snapshot = files
        .lines()
        .skip_while(|l| !l.starts_with("aladdin generate --view snapshot"))
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
        .replace('\\', " ");
    let mut args: Vec<String> = snapshot
        .split_whitespace()
        .skip(1)
        .map(String::from)
        .collect();
    assert!(
        args.windows(2)
            .any(|w| w[0] == "--tables" && w[1] == "customers,products"),
        "{snapshot}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let dims = tmp.path().join("dims");
    let out = args.iter().position(|a| a == "--out").unwrap();
    args[out + 1] = dims.to_str().unwrap().to_string();
    args.push("--quiet".into());
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let data = tmp.path().join("data");
    ok(&[
        "generate",
        "--quiet",
        "--from",
        "2025-01-01",
        "--to",
        "2025-01-31",
        "--tables",
        "orders,order_items",
        "--out",
        data.to_str().unwrap(),
    ]);
    let ids = |dir: &Path, table: &str, column: &str| -> (usize, BTreeSet<String>) {
        let mut rows = 0;
        let mut ids = BTreeSet::new();
        for day in std::fs::read_dir(dir.join(table)).unwrap() {
            let bytes = std::fs::read(day.unwrap().path().join("part-0.csv")).unwrap();
            let (header, body) = parse_csv(&bytes);
            let i = header.iter().position(|h| h == column).unwrap();
            rows += body.len();
            ids.extend(body.into_iter().map(|r| r[i].clone()));
        }
        (rows, ids)
    };
    let (versions, orders) = ids(&data, "orders", "id");
    assert!(
        versions > orders.len(),
        "one row per version: count(DISTINCT id)"
    );
    let (_, products) = ids(&dims, "products", "id");
    let (_, customers) = ids(&dims, "customers", "id");
    let (_, ordered) = ids(&data, "order_items", "product_id");
    let (_, buyers) = ids(&data, "orders", "customer_id");
    let missing_products: Vec<_> = ordered.difference(&products).collect();
    let missing_customers: Vec<_> = buyers.difference(&customers).collect();
    assert!(missing_products.is_empty(), "{missing_products:?}");
    assert!(missing_customers.is_empty(), "{missing_customers:?}");
}
