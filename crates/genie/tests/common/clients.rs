//! Shared by the real-client tests (`clients.rs`, `hostile_clients.rs`, each including this
//! file as a module): a `genie` binary on a random port, the client venvs' tools, aladdin, and
//! the checks every client test makes (`aladdin verify`, the chaos answer log).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::Instant;

use serde_json::Value;
use test_support::pg::FreshDb;

/// About 19,000 rows a day; refunds start on the 8th day.
pub const SHOP: &str =
    "[shop]\nopened_on = \"2024-01-01\"\n[traffic]\norganic_sessions_per_day = 200.0\n";

/// One client test at a time: each runs a server, a client and a clock on two cores.
pub static SERIAL: Mutex<()> = Mutex::new(());

/// A tool of one of the client venvs, or `None` after test-support's SKIP (a failure under
/// `CI=true`).
pub fn tool(test: &str, venv: &str, name: &str) -> Option<PathBuf> {
    test_support::tools::require_client(test, venv, name)
}

/// The tables of the scenario the servers serve: the resources every client must see.
pub fn resources() -> Vec<&'static str> {
    names(faux::Scenario::from_toml("shop.toml", SHOP, faux::DEFAULT_SEED).unwrap())
}

/// The tables of the built-in scenario `name`.
pub fn resources_of(name: &str) -> Vec<&'static str> {
    names(faux::Scenario::by_name(name, faux::DEFAULT_SEED).unwrap())
}

fn names(scenario: faux::Scenario) -> Vec<&'static str> {
    scenario.tables().iter().map(|t| t.name).collect()
}

pub fn run(cmd: &mut Command, what: &str) -> Output {
    let t0 = Instant::now();
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    eprintln!("{what}: {:?} in {:.1?}", out.status, t0.elapsed());
    out
}

/// [`run`], then a panic unless the command succeeded (showing both its outputs); returns its
/// standard output.
pub fn run_ok(cmd: &mut Command, what: &str) -> String {
    let out = run(cmd, what);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "{what} failed:\n{stdout}\n{}",
        text(&out.stderr)
    );
    stdout
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A `genie` process on a random port with its own data dir; killed on drop.
pub struct Genie {
    pub child: Child,
    pub url: String,
    pub key: String,
    pub dir: tempfile::TempDir,
}

impl Genie {
    /// A genie serving the `SHOP` scenario file.
    pub fn start(history: &str, start: &str, speed: &str, extra: &[&str]) -> Genie {
        Genie::serving(None, history, start, speed, extra)
    }

    /// A genie serving the built-in scenario `scenario`, or without one the `SHOP` file.
    pub fn serving(
        scenario: Option<&str>,
        history: &str,
        start: &str,
        speed: &str,
        extra: &[&str],
    ) -> Genie {
        Genie::launch(scenario, SHOP, "read:all", history, start, speed, extra)
    }

    /// A genie serving the built-in scenario `scenario`, or without one the scenario file
    /// `shop` (written to DIR/shop.toml), and a key with `scopes`.
    pub fn launch(
        scenario: Option<&str>,
        shop_toml: &str,
        scopes: &str,
        history: &str,
        start: &str,
        speed: &str,
        extra: &[&str],
    ) -> Genie {
        let dir = tempfile::tempdir().unwrap();
        let shop = dir.path().join("shop.toml");
        std::fs::write(&shop, shop_toml).unwrap();
        let data = dir.path().join("data");
        let bin = env!("CARGO_BIN_EXE_genie");
        let key = run_ok(
            Command::new(bin)
                .args(["--data-dir"])
                .arg(&data)
                .args(["keys", "create", "--name", "clients", "--scopes", scopes]),
            "genie keys create",
        )
        .trim()
        .to_string();
        assert!(key.starts_with("fg_"), "{key}");
        let mut child = Command::new(bin)
            .arg("--data-dir")
            .arg(&data)
            .arg("--scenario")
            .arg(scenario.map_or(shop.as_os_str(), std::ffi::OsStr::new))
            .args(["--history", history, "--start", start, "--speed", speed])
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            // the access log (status of every request) goes to DIR/genie.log
            .env("RUST_LOG", "genie=info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("genie.log")).unwrap())
            .spawn()
            .expect("start genie");
        let t0 = Instant::now();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("genie exited before serving"))
                .unwrap();
            if let Some(u) = line.strip_prefix("genie is serving live data at ") {
                break u.trim().to_string();
            }
        };
        // keep draining stdout so the server never blocks on a full pipe
        std::thread::spawn(move || for _ in lines {});
        eprintln!("genie: serving at {url} after {:.1?}", t0.elapsed());
        Genie {
            child,
            url,
            key,
            dir,
        }
    }

    pub fn get(&self, path: &str) -> Value {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let r = reqwest::Client::new()
                .get(format!("{}{path}", self.url))
                .bearer_auth(&self.key)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{path}: {}", r.status());
            r.json().await.unwrap()
        })
    }

    /// The status of every request served so far, from the access log.
    pub fn statuses(&self) -> Vec<u16> {
        let log = std::fs::read_to_string(self.dir.path().join("genie.log")).unwrap();
        log.lines()
            .filter_map(|l| l.split(" status=").nth(1))
            .filter_map(|rest| rest.split(' ').next()?.parse().ok())
            .collect()
    }

    /// The virtual clock.
    pub fn now(&self) -> faux::Timestamp {
        let h = self.get("/healthz");
        faux::Timestamp::parse_flexible(h["as_of"].as_str().unwrap()).unwrap()
    }
}

impl Drop for Genie {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// aladdin, built next to genie by `cargo test --workspace` (which builds every binary of the
/// workspace first).
pub fn aladdin(test: &str) -> Option<PathBuf> {
    test_support::require(
        test,
        test_support::tools::binary_beside(env!("CARGO_BIN_EXE_genie"), "aladdin"),
    )
}

/// `aladdin verify` of schema genie_raw of `db` against `scenario` (a name or a file) over
/// the days `from`..=`to` finds no difference, and compared rows of every table of `tables`.
pub fn verify_agrees(
    aladdin: &Path,
    scenario: &std::ffi::OsStr,
    db: &FreshDb,
    (from, to): (&str, &str),
    tables: &[&str],
) {
    // a failure is a difference found (or verify could not read the database)
    let report = run_ok(
        Command::new(aladdin)
            .args(["verify", "--scenario"])
            .arg(scenario)
            .args(["--against", &db.url(), "--schema", "genie_raw"])
            .args(["--from", from, "--to", to, "--json"])
            .args(["--tables", &tables.join(",")]),
        &format!("aladdin verify {from}..{to}"),
    );
    // … and it looked at every table, each with rows, all found
    let doc: Value = serde_json::from_str(&report).unwrap();
    for r in tables {
        let t = &doc["tables"][r];
        let expected = t["expected"].as_u64();
        assert!(expected > Some(0), "{r}: no rows checked: {doc}");
        assert_eq!(t["found"].as_u64(), expected, "{r}: {doc}");
    }
}

/// The rows a resource serves (`total` of its first page in page mode).
pub fn total(g: &Genie, resource: &str) -> u64 {
    g.get(&format!(
        "/v1/{resource}?page=1&limit=1&include_deleted=true"
    ))["total"]
        .as_u64()
        .unwrap()
}

/// The manifest as JSON (source-declarative-manifest takes it injected into the config),
/// converted by the airbyte venv's PyYAML.
pub fn serde_yaml_manifest(path: &Path) -> Value {
    let python = test_support::tools::client("airbyte", "python").unwrap();
    let out = Command::new(python)
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(path)
        .output()
        .expect("python");
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A shop open two months before the history window (2023-05-01 …), deleting half its customers a month or
/// more after they sign up: deletions happen in the window (`--chaos hard-deletes` bites).
pub const OLD_SHOP: &str = "[shop]\nopened_on = \"2023-03-01\"\n[traffic]\norganic_sessions_per_day = 200.0\n[customers]\ndeletion_probability = 0.5\n";

/// Every fault the answer log (`chaos-log.jsonl` in the data folder: every request's, the
/// API's `/v1/chaos/log` keeps the last 1,000) recorded, counted by kind.
pub fn chaos_kinds(g: &Genie) -> BTreeMap<String, usize> {
    chaos_kinds_where(g, |_| true)
}

/// [`chaos_kinds`] of the requests whose path (with its query) passes `keep`.
pub fn chaos_kinds_where(g: &Genie, keep: impl Fn(&str) -> bool) -> BTreeMap<String, usize> {
    let log = std::fs::read_to_string(g.dir.path().join("data/chaos-log.jsonl")).unwrap();
    let mut kinds = BTreeMap::new();
    for line in log.lines() {
        let e: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        if !keep(e["path"].as_str().unwrap()) {
            continue;
        }
        for f in e["faults"].as_array().unwrap() {
            *kinds
                .entry(f["kind"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    kinds
}

/// The faults a hostile run must have met for a client test not to pass vacuously.
pub const HOSTILE_FAULTS: [&str; 7] = [
    "internal",
    "unavailable",
    "rate_limited",
    "slow",
    "late_rows",
    "hard_deletes",
    "cursor_expired",
];

pub fn assert_faults_hit(g: &Genie, want: &[&str]) {
    assert_kinds_hit(&chaos_kinds(g), want);
}

/// Every fault of `want`, and a cut body, is among `kinds` (faults met, by kind).
pub fn assert_kinds_hit(kinds: &BTreeMap<String, usize>, want: &[&str]) {
    eprintln!("faults met: {kinds:?}");
    for k in want {
        assert!(
            kinds.contains_key(*k),
            "no {k} fault met the client: {kinds:?}"
        );
    }
    // a cut body is one of two faults (3 % each): either will do
    assert!(
        kinds.contains_key("connection_reset") || kinds.contains_key("truncated"),
        "no cut body met the client: {kinds:?}"
    );
}

/// The Singer target's config for `db`: examples/genie/singer/target.template.json as a user
/// fills it in (the database named in its `sqlalchemy_url`), written to `dir`.
pub fn singer_target_config(dir: &Path, db: &FreshDb) -> PathBuf {
    let template = root_dir().join("examples/genie/singer/target.template.json");
    let mut config: Value = serde_json::from_slice(&std::fs::read(&template).unwrap()).unwrap();
    let url = config["sqlalchemy_url"].as_str().unwrap();
    let (server, name) = url.rsplit_once('/').unwrap();
    assert_eq!(name, "warehouse", "{url}");
    config["sqlalchemy_url"] = Value::from(format!("{server}/{}", db.name));
    // the schema the tests' apply_deletes.py and `aladdin verify --schema` read
    assert_eq!(config["default_target_schema"], "genie_raw", "{config}");
    let path = dir.join("target-config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

/// What the README's `tap | target` recipe does with the target's standard output: the last
/// line is the state the target committed its records up to, saved (whole, or not at all) for
/// the next run's STATE. Returns false when the target emitted no state (the file is kept).
pub fn save_last_state(target_stdout: &str, state: &Path) -> bool {
    let Some(last) = target_stdout.lines().rfind(|l| !l.trim().is_empty()) else {
        return false;
    };
    let value: Value =
        serde_json::from_str(last).unwrap_or_else(|e| panic!("the target's state: {e}: {last}"));
    assert!(value["bookmarks"].is_object(), "the target's state: {last}");
    let tmp = state.with_extension("tmp");
    std::fs::write(&tmp, last).unwrap();
    std::fs::rename(&tmp, state).unwrap();
    true
}

fn root_dir() -> PathBuf {
    test_support::tools::repo_root()
}
