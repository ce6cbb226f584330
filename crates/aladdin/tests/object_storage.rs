//! `generate --out s3://…|az://…` and `verify --against` them, against local emulators
//! started here on free ports: moto's S3 server (`.venv-clients/moto`) and Azurite's blob
//! service (`.venv-clients/azurite`, from npm), both installed by scripts/setup-clients.sh.
//! What aladdin wrote is read back by pyarrow's file systems (tests/object_storage/
//! read_back.py), clients independent of the object_store crate aladdin uses, and a year of
//! Shiny Rocks on S3 by DuckDB through httpfs (tests/object_storage/duckdb_read.py,
//! `.venv-clients/duckdb`). A missing emulator or reader is a loud skip locally, a failure
//! under CI=true.
//!
//! `gs://` has no test against a server: neither GCS emulator on PyPI speaks the XML API that
//! object_store's GCS client uses (see the README's object storage section).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

const ALADDIN: &str = env!("CARGO_BIN_EXE_aladdin");
const BUCKET: &str = "faux-test";

/// The variables of every service's client that could point aladdin elsewhere than at the
/// emulator: removed from every command the tests run.
const FOREIGN_SETTINGS: [&str; 15] = [
    "AWS_PROFILE",
    "AWS_ENDPOINT",
    "AWS_ENDPOINT_URL_S3",
    "AWS_SESSION_TOKEN",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_SERVICE_ACCOUNT",
    "GOOGLE_SERVICE_ACCOUNT_KEY",
    "GOOGLE_BASE_URL",
    "STORAGE_EMULATOR_HOST",
    "AZURE_STORAGE_ACCOUNT_NAME",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_SAS_KEY",
    "AZURE_STORAGE_TOKEN",
    "AZURE_STORAGE_ENDPOINT",
    "AZURE_STORAGE_CONNECTION_STRING",
];

/// A local emulator of one object store on a free port, stopped when dropped.
struct Emulator {
    child: Child,
    /// `s3` or `az`.
    scheme: &'static str,
    /// What aladdin and the readers need to reach it.
    env: Vec<(&'static str, String)>,
    /// The Python of `.venv-clients/moto`, which runs read_back.py.
    python: PathBuf,
    /// Azurite's working folder.
    _dir: tempfile::TempDir,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Emulator {
    /// moto's S3 server.
    fn s3(test: &str) -> Option<Emulator> {
        let server = test_support::tools::require_client(test, "moto", "moto_server")?;
        let port = free_port();
        let mut cmd = Command::new(server);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        let endpoint = format!("http://127.0.0.1:{port}");
        Emulator::start(
            test,
            cmd,
            port,
            "s3",
            vec![
                // moto takes any credentials
                ("AWS_ACCESS_KEY_ID", "testing".into()),
                ("AWS_SECRET_ACCESS_KEY", "testing".into()),
                ("AWS_REGION", "us-east-1".into()),
                ("AWS_ENDPOINT_URL", endpoint),
                ("AWS_ALLOW_HTTP", "true".into()),
            ],
        )
    }

    /// Azurite's blob service (in memory; its well-known development account).
    fn azure(test: &str) -> Option<Emulator> {
        let server = test_support::tools::require_client(test, "azurite", "azurite-blob")?;
        let port = free_port();
        let mut cmd = Command::new(server);
        cmd.args([
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            &port.to_string(),
            "--inMemoryPersistence",
            // it would otherwise report to Microsoft
            "--disableTelemetry",
            // pyarrow's Azure SDK speaks a newer API version than the newest Azurite knows
            "--skipApiVersionCheck",
            "--silent",
        ]);
        Emulator::start(
            test,
            cmd,
            port,
            "az",
            vec![
                ("AZURE_STORAGE_USE_EMULATOR", "true".into()),
                (
                    "AZURITE_BLOB_STORAGE_URL",
                    format!("http://127.0.0.1:{port}"),
                ),
            ],
        )
    }

    fn start(
        test: &str,
        mut cmd: Command,
        port: u16,
        scheme: &'static str,
        env: Vec<(&'static str, String)>,
    ) -> Option<Emulator> {
        let python = test_support::tools::require_client(test, "moto", "python")?;
        let dir = tempfile::tempdir().unwrap();
        let child = cmd
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{cmd:?} does not start: {e}"));
        let emulator = Emulator {
            child,
            scheme,
            env,
            python,
            _dir: dir,
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{cmd:?} did not listen on {port} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        emulator.python(&["bucket", &emulator.url("")]);
        Some(emulator)
    }

    /// `scheme://BUCKET/prefix`.
    fn url(&self, prefix: &str) -> String {
        if prefix.is_empty() {
            format!("{}://{BUCKET}", self.scheme)
        } else {
            format!("{}://{BUCKET}/{prefix}", self.scheme)
        }
    }

    /// `cmd` with the emulator's address and credentials, and nobody else's.
    fn env<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        for var in FOREIGN_SETTINGS {
            cmd.env_remove(var);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    fn python(&self, args: &[&str]) -> String {
        self.script(&self.python, "read_back.py", args)
    }

    fn script(&self, python: &Path, script: &str, args: &[&str]) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/object_storage")
            .join(script);
        let out = self.env(Command::new(python).arg(path).args(args)).output();
        String::from_utf8(ok(out, &format!("{script} {args:?}")).stdout).expect("UTF-8")
    }

    /// What read_back.py says of `prefix` against the local folder `local`.
    fn compare(&self, prefix: &str, local: &Path) -> Value {
        let json = self.python(&["compare", &self.url(prefix), path_str(local)]);
        serde_json::from_str(&json).expect("read_back.py prints JSON")
    }

    fn aladdin(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(ALADDIN);
        self.env(&mut cmd).args(args);
        cmd
    }
}

fn ok(out: std::io::Result<Output>, what: &str) -> Output {
    let out = out.unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temporary path")
}

/// The folder `generate ARGS --out FOLDER` writes, once per test binary (the tests of both
/// stores compare against the same files).
fn generated_locally(cell: &'static OnceLock<tempfile::TempDir>, args: &[&str]) -> PathBuf {
    let dir = cell.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let mut all = vec!["--quiet", "generate"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--out", path_str(dir.path())]);
        ok(
            Command::new(ALADDIN).args(&all).output(),
            "generate into a folder",
        );
        dir
    });
    dir.path().to_path_buf()
}

/// Every partition under the prefix is byte for byte the file `generate` writes into a
/// folder (the manifest is checked by the caller: a partial run's lists fewer partitions).
fn assert_every_object_is_complete(found: &Value) {
    let objects = found["objects"].as_object().expect("objects");
    for (rel, o) in objects.iter().filter(|(k, _)| *k != "_manifest.json") {
        assert_eq!(
            o["same_as_local"],
            Value::Bool(true),
            "{rel} is visible in the store but is not the complete partition: {o}"
        );
    }
}

const YEAR: [&str; 8] = [
    "--scenario",
    "shiny-rocks",
    "--from",
    "2024-01-01",
    "--to",
    "2024-12-31",
    "--format",
    "parquet",
];

const MONTH: [&str; 8] = [
    "--scenario",
    "shiny-rocks",
    "--from",
    "2024-07-01",
    "--to",
    "2024-07-31",
    "--format",
    "parquet",
];

static LOCAL_YEAR: OnceLock<tempfile::TempDir> = OnceLock::new();
static LOCAL_MONTH: OnceLock<tempfile::TempDir> = OnceLock::new();

/// `generate RANGE --out <store>/prefix`, then: the same objects as the folder's files, byte
/// for byte; the same rows and checksums through the independent reader; `verify` finds no
/// difference, and finds the partition `gone` once it is deleted. Returns the store's URL.
fn round_trip(store: &Emulator, range: &[&str], local: &Path, prefix: &str, gone: &str) -> String {
    let url = store.url(prefix);
    let mut args = vec!["--quiet", "generate"];
    args.extend_from_slice(range);
    args.extend_from_slice(&["--out", &url]);
    ok(
        store.aladdin(&args).output(),
        &format!("generate --out {url}"),
    );

    let found = store.compare(prefix, local);
    // the same objects as the folder's files, byte for byte, the manifest included
    assert_eq!(found["missing"], Value::Array(vec![]), "{found}");
    assert_every_object_is_complete(&found);
    let objects = found["objects"].as_object().unwrap();
    assert_eq!(
        objects["_manifest.json"]["same_as_local"],
        Value::Bool(true),
        "{found}"
    );
    assert!(
        objects.contains_key(gone),
        "the Hive layout under the prefix: {found}"
    );
    // read as tables by the independent reader: the rows the manifest counts, and the same
    // rows as the folder's
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(local.join("_manifest.json")).unwrap()).unwrap();
    let tables = found["tables"].as_object().unwrap();
    assert_eq!(
        tables.len(),
        manifest["tables"].as_object().unwrap().len(),
        "{found}"
    );
    for (name, t) in tables {
        assert_eq!(
            t["rows_store"], manifest["tables"][name]["rows"],
            "{name}: {t}"
        );
        assert_eq!(t["rows_store"], t["rows_local"], "{name}: {t}");
        assert_eq!(t["checksum_store"], t["checksum_local"], "{name}: {t}");
    }

    // verify reads the store back against the truth
    let mut verify_args = vec!["verify", "--against", &url];
    verify_args.extend(
        range
            .iter()
            .copied()
            .filter(|a| *a != "--format" && *a != "parquet"),
    );
    let verify = |what: &str| {
        store
            .aladdin(&verify_args)
            .output()
            .unwrap_or_else(|e| panic!("{what}: {e}"))
    };
    let out = ok(Ok(verify("verify")), &format!("verify --against {url}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("no differences") && stdout.contains(&url),
        "{stdout}"
    );
    // …and notices a partition gone
    store.python(&["rm", &store.url(&format!("{prefix}/{gone}"))]);
    let out = verify("verify after a deletion");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    let (table, day) = gone
        .split_once("/date=")
        .map(|(t, rest)| (t, &rest[..10]))
        .expect("TABLE/date=DAY/…");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with(table) && l.contains(day)),
        "{stdout}"
    );
    url
}

#[test]
fn s3_a_year_of_shiny_rocks_round_trips_and_duckdb_reads_it_back() {
    const TEST: &str =
        "object_storage::s3_a_year_of_shiny_rocks_round_trips_and_duckdb_reads_it_back";
    let Some(s3) = Emulator::s3(TEST) else {
        return;
    };
    let Some(duckdb) = test_support::tools::require_client(TEST, "duckdb", "python") else {
        return;
    };
    let local = generated_locally(&LOCAL_YEAR, &YEAR);
    let url = round_trip(
        &s3,
        &YEAR,
        &local,
        "landing/shiny",
        "orders/date=2024-07-10/part-0.parquet",
    );

    // DuckDB (httpfs) reads every table of the year from the S3 server: the manifest's rows
    // and the folder's checksums. (round_trip deleted one orders partition: put it back.)
    ok(
        s3.aladdin(&[
            "--quiet",
            "generate",
            "--scenario",
            "shiny-rocks",
            "--date",
            "2024-07-10",
            "--format",
            "parquet",
            "--out",
            &url,
        ])
        .output(),
        "generate the deleted day again",
    );
    let json = s3.script(&duckdb, "duckdb_read.py", &[&url, path_str(&local)]);
    let read: Value = serde_json::from_str(&json).expect("duckdb_read.py prints JSON");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(local.join("_manifest.json")).unwrap()).unwrap();
    let tables = read["tables"].as_object().unwrap();
    assert_eq!(
        tables.len(),
        manifest["tables"].as_object().unwrap().len(),
        "{read}"
    );
    assert!(tables.contains_key("orders"), "{read}");
    for (name, t) in tables {
        assert_eq!(
            t["rows_duckdb"], manifest["tables"][name]["rows"],
            "{name}: {t}"
        );
        assert_eq!(t["checksum_duckdb"], t["checksum_local"], "{name}: {t}");
    }
}

#[test]
fn azure_a_month_of_shiny_rocks_round_trips() {
    let Some(az) = Emulator::azure("object_storage::azure_a_month_of_shiny_rocks_round_trips")
    else {
        return;
    };
    let local = generated_locally(&LOCAL_MONTH, &MONTH);
    round_trip(
        &az,
        &MONTH,
        &local,
        "landing/shiny",
        "orders/date=2024-07-10/part-0.parquet",
    );
}

/// Big partitions (a day of e-commerce events as CSV is more than 8 MiB, so it goes up in
/// parts where the store has them), one at a time, into `prefix`; the staging folder is
/// under `stage` (TMPDIR), where the test watches for the first complete partition.
fn start_big_upload(store: &Emulator, prefix: &str, stage: &Path) -> Child {
    store
        .aladdin(&[
            "--quiet",
            "generate",
            "--scenario",
            "ecommerce",
            "--tables",
            "events",
            "--from",
            "2025-03-01",
            "--to",
            "2025-03-06",
            "--threads",
            "1",
            "--out",
            &store.url(prefix),
        ])
        .env("TMPDIR", stage)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("aladdin starts")
}

/// Waits until a partition is complete in the staging folder (its upload starts next).
fn wait_for_a_staged_partition(stage: &Path, child: &mut Child) {
    fn any_part(dir: &Path) -> bool {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                let p = e.path();
                if p.is_dir() {
                    any_part(&p)
                } else {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("part-"))
                }
            })
    }
    let started = Instant::now();
    while !any_part(stage) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "aladdin ended before any partition was staged"
        );
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no partition staged within 300 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

static LOCAL_EVENTS: OnceLock<tempfile::TempDir> = OnceLock::new();

/// A run killed (SIGKILL) and a run stopped (SIGTERM) while uploading leave only whole
/// partitions visible, and the stopped run's manifest names exactly those.
fn interrupted_uploads_leave_no_partial_partition(store: &Emulator) {
    let local = generated_locally(
        &LOCAL_EVENTS,
        &[
            "--scenario",
            "ecommerce",
            "--tables",
            "events",
            "--from",
            "2025-03-01",
            "--to",
            "2025-03-06",
        ],
    );
    let first = local.join("events/date=2025-03-01/part-0.csv");
    let size = std::fs::metadata(&first).unwrap().len();
    assert!(
        size > 8 * 1024 * 1024,
        "{} is {size} bytes: too small to go up in parts",
        first.display()
    );
    let tmp = tempfile::tempdir().unwrap();

    // killed outright (SIGKILL) while uploading: no manifest, and whatever is visible is whole
    let stage = tmp.path().join("stage-kill");
    std::fs::create_dir_all(&stage).unwrap();
    let mut child = start_big_upload(store, "killed", &stage);
    wait_for_a_staged_partition(&stage, &mut child);
    std::thread::sleep(Duration::from_millis(30));
    child.kill().unwrap();
    child.wait().unwrap();
    let found = store.compare("killed", &local);
    assert_every_object_is_complete(&found);
    let objects = found["objects"].as_object().unwrap();
    assert!(!objects.contains_key("_manifest.json"), "{found}");
    assert!(objects.len() < 6, "the run was not interrupted: {found}");

    // stopped (SIGTERM) while uploading: the partition in flight is abandoned, the manifest
    // names exactly the partitions that are there, each whole
    let stage = tmp.path().join("stage-term");
    std::fs::create_dir_all(&stage).unwrap();
    let mut child = start_big_upload(store, "stopped", &stage);
    wait_for_a_staged_partition(&stage, &mut child);
    ok(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .output(),
        "kill -TERM",
    );
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted after"), "{stderr}");
    let found = store.compare("stopped", &local);
    assert_every_object_is_complete(&found);
    if store.scheme == "s3" {
        // the upload in flight was aborted, not left behind (Azure has no abort: its
        // uncommitted blocks expire)
        assert_eq!(
            store.python(&["uploads", &store.url("stopped/")]).trim(),
            "[]",
            "a multipart upload was left in progress"
        );
    }
    let objects = found["objects"].as_object().unwrap();
    let data: Vec<&String> = objects.keys().filter(|k| k.ends_with(".csv")).collect();
    assert!(data.len() < 6, "the run was not interrupted: {found}");
    if data.is_empty() {
        // nothing finished: nothing to list either
        assert!(!objects.contains_key("_manifest.json"), "{found}");
    } else {
        let manifest: Value =
            serde_json::from_str(&store.python(&["cat", &store.url("stopped/_manifest.json")]))
                .expect("the manifest is JSON");
        let mut listed: Vec<&str> = manifest["partitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["path"].as_str().unwrap())
            .collect();
        listed.sort();
        let mut there: Vec<&str> = data.iter().map(|k| k.as_str()).collect();
        there.sort();
        assert_eq!(listed, there, "{manifest}");
    }
}

#[test]
fn s3_an_interrupted_upload_leaves_no_partial_partition() {
    if let Some(s3) =
        Emulator::s3("object_storage::s3_an_interrupted_upload_leaves_no_partial_partition")
    {
        interrupted_uploads_leave_no_partial_partition(&s3);
    }
}

#[test]
fn azure_an_interrupted_upload_leaves_no_partial_partition() {
    if let Some(az) =
        Emulator::azure("object_storage::azure_an_interrupted_upload_leaves_no_partial_partition")
    {
        interrupted_uploads_leave_no_partial_partition(&az);
    }
}
