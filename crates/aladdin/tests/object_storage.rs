//! `generate --out s3://…` and `verify --against s3://…` against a local S3-compatible server:
//! moto's (`moto_server`, from PyPI into `.venv-clients/moto` by scripts/setup-clients.sh),
//! started here on a free port. What aladdin wrote is read back by pyarrow's S3FileSystem
//! (tests/s3/read_back.py), a client independent of the object_store crate aladdin uses.
//! (DuckDB's httpfs would need the internet to install; the PyPI packages that ship it are
//! built for DuckDB 1.x, not the 2.x the Python venv has.) A missing venv is a loud skip
//! locally, a failure under CI=true.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const ALADDIN: &str = env!("CARGO_BIN_EXE_aladdin");
const BUCKET: &str = "faux-test";

/// A moto server on a free port, stopped when dropped.
struct Moto {
    child: Child,
    endpoint: String,
    python: PathBuf,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    fn start(test: &str) -> Option<Moto> {
        let server = test_support::tools::require_client(test, "moto", "moto_server")?;
        let python = test_support::tools::require_client(test, "moto", "python")?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            python,
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "moto_server did not listen on {port} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        moto.python(&["bucket", BUCKET]);
        Some(moto)
    }

    /// `cmd` with the server's address and (moto's any-will-do) credentials.
    fn env<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        for var in [
            "AWS_PROFILE",
            "AWS_ENDPOINT",
            "AWS_ENDPOINT_URL_S3",
            "AWS_SESSION_TOKEN",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ALLOW_HTTP", "true")
    }

    fn python(&self, args: &[&str]) -> String {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/s3/read_back.py");
        let out = self
            .env(Command::new(&self.python).arg(script).args(args))
            .output();
        String::from_utf8(ok(out, &format!("read_back.py {args:?}")).stdout).expect("UTF-8")
    }

    /// What read_back.py says of `prefix` against the local folder `local`.
    fn compare(&self, prefix: &str, local: &Path) -> Value {
        let json = self.python(&["compare", &format!("{BUCKET}/{prefix}"), path_str(local)]);
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

fn generate_locally(args: &[&str], out: &Path) {
    let mut all = vec!["--quiet", "generate"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--out", path_str(out)]);
    ok(
        Command::new(ALADDIN).args(&all).output(),
        "generate into a folder",
    );
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

#[test]
fn a_year_of_shiny_rocks_round_trips_through_s3() {
    let Some(moto) = Moto::start("s3::a_year_of_shiny_rocks_round_trips_through_s3") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("local");
    generate_locally(&YEAR, &local);

    let url = format!("s3://{BUCKET}/landing/shiny");
    let mut args = vec!["--quiet", "generate"];
    args.extend_from_slice(&YEAR);
    args.extend_from_slice(&["--out", &url]);
    ok(moto.aladdin(&args).output(), "generate --out s3://");

    let found = moto.compare("landing/shiny", &local);
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
        objects.contains_key("orders/date=2024-07-10/part-0.parquet"),
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
            t["rows_s3"], manifest["tables"][name]["rows"],
            "{name}: {t}"
        );
        assert_eq!(t["rows_s3"], t["rows_local"], "{name}: {t}");
        assert_eq!(t["checksum_s3"], t["checksum_local"], "{name}: {t}");
    }

    // verify reads the store back against the truth
    let verify = |what: &str| {
        moto.aladdin(&[
            "verify",
            "--against",
            &url,
            "--scenario",
            "shiny-rocks",
            "--from",
            "2024-01-01",
            "--to",
            "2024-12-31",
        ])
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"))
    };
    let out = ok(Ok(verify("verify")), "verify --against s3://");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("no differences") && stdout.contains(&url),
        "{stdout}"
    );
    // …and notices a partition gone
    moto.python(&[
        "rm",
        &format!("{BUCKET}/landing/shiny/orders/date=2024-07-10/part-0.parquet"),
    ]);
    let out = verify("verify after a deletion");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("orders") && l.contains("2024-07-10")),
        "{stdout}"
    );
}

/// Big partitions (a day of e-commerce events as CSV is more than object_store's single-PUT
/// size here, so it goes up in parts), one at a time, into `prefix`; the staging folder is
/// under `stage` (TMPDIR), where the test watches for the first complete partition.
fn start_big_upload(moto: &Moto, prefix: &str, stage: &Path) -> Child {
    moto.aladdin(&[
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
        &format!("s3://{BUCKET}/{prefix}"),
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

#[test]
fn an_interrupted_upload_leaves_no_partial_partition() {
    let Some(moto) = Moto::start("s3::an_interrupted_upload_leaves_no_partial_partition") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("local");
    generate_locally(
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
        &local,
    );
    let first = local.join("events/date=2025-03-01/part-0.csv");
    let size = std::fs::metadata(&first).unwrap().len();
    assert!(
        size > 8 * 1024 * 1024,
        "{} is {size} bytes: too small to go up in parts",
        first.display()
    );

    // killed outright (SIGKILL) while uploading: no manifest, and whatever is visible is whole
    let stage = tmp.path().join("stage-kill");
    std::fs::create_dir_all(&stage).unwrap();
    let mut child = start_big_upload(&moto, "killed", &stage);
    wait_for_a_staged_partition(&stage, &mut child);
    std::thread::sleep(Duration::from_millis(30));
    child.kill().unwrap();
    child.wait().unwrap();
    let found = moto.compare("killed", &local);
    assert_every_object_is_complete(&found);
    let objects = found["objects"].as_object().unwrap();
    assert!(!objects.contains_key("_manifest.json"), "{found}");
    assert!(objects.len() < 6, "the run was not interrupted: {found}");

    // stopped (SIGTERM) while uploading: the partition in flight is abandoned, the manifest
    // names exactly the partitions that are there, each whole
    let stage = tmp.path().join("stage-term");
    std::fs::create_dir_all(&stage).unwrap();
    let mut child = start_big_upload(&moto, "stopped", &stage);
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
    let found = moto.compare("stopped", &local);
    assert_every_object_is_complete(&found);
    let objects = found["objects"].as_object().unwrap();
    let data: Vec<&String> = objects.keys().filter(|k| k.ends_with(".csv")).collect();
    assert!(data.len() < 6, "the run was not interrupted: {found}");
    if data.is_empty() {
        // nothing finished: nothing to list either
        assert!(!objects.contains_key("_manifest.json"), "{found}");
    } else {
        let manifest: Value = serde_json::from_str(
            &moto.python(&["cat", &format!("{BUCKET}/stopped/_manifest.json")]),
        )
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
