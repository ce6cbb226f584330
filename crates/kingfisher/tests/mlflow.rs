//! `kingfisher train --mlflow-uri` against a real MLflow tracking server (`mlflow server` from
//! PyPI, `.venv-clients/mlflow`, installed by scripts/setup-clients.sh), started here on a free
//! port with a throw-away SQLite backend and artifact folder. What MLflow holds is read back
//! through its own REST API and compared with the registry's files.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kingfisher::registry::Registry;

const KF: &str = env!("CARGO_BIN_EXE_kingfisher");

/// An `mlflow server` (it runs uvicorn and a job runner as children), stopped with its
/// children when the test ends.
struct Server {
    child: Child,
    uri: String,
}

/// The pids of `pid`'s children, from /proc.
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid …": comm may hold spaces, so read after the last ')'
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid)
            && let Some(child) = e.file_name().to_str().and_then(|n| n.parse().ok())
        {
            out.push(child);
        }
    }
    out
}

/// SIGTERM to one process, by its own (positive) pid only. Never a negative pid: procps
/// `kill -TERM -1234` is read as kill(-1), which signals every process on the machine.
fn terminate(pid: u32) {
    assert!(pid > 1, "refusing to signal pid {pid}");
    let _ = Command::new("kill")
        .args(["-s", "TERM", "--", &pid.to_string()])
        .status();
}

impl Drop for Server {
    fn drop(&mut self) {
        let pid = self.child.id();
        let kids = children(pid);
        terminate(pid);
        for k in kids {
            terminate(k);
        }
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_mlflow(mlflow: &Path, dir: &Path) -> Server {
    let port = free_port();
    let log = std::fs::File::create(dir.join("mlflow.log")).unwrap();
    let child = Command::new(mlflow)
        .arg("server")
        .arg("--backend-store-uri")
        .arg(format!("sqlite:///{}", dir.join("mlflow.db").display()))
        .arg("--artifacts-destination")
        .arg(dir.join("artifacts"))
        .args(["--serve-artifacts", "--host", "127.0.0.1", "--workers", "1"])
        .args(["--port", &port.to_string()])
        .current_dir(dir)
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let server = Server {
        child,
        uri: format!("http://127.0.0.1:{port}"),
    };
    let started = Instant::now();
    loop {
        if let Ok(r) = reqwest::blocking_get(&format!("{}/health", server.uri))
            && r == "OK"
        {
            return server;
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "mlflow server did not come up in 180 s:\n{}",
            std::fs::read_to_string(dir.join("mlflow.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A tiny blocking HTTP helper: reqwest's blocking client is not built in this workspace.
mod reqwest {
    pub fn blocking_get(url: &str) -> Result<String, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let r = ::reqwest::get(url).await.map_err(|e| e.to_string())?;
            let ok = r.status().is_success();
            let text = r.text().await.map_err(|e| e.to_string())?;
            if ok { Ok(text) } else { Err(text) }
        })
    }

    pub fn json(url: &str) -> serde_json::Value {
        let text = blocking_get(url).unwrap_or_else(|e| panic!("GET {url}: {e}"));
        serde_json::from_str(&text).unwrap()
    }
}

fn kf(args: &[&str], dir: &Path) -> String {
    let out = Command::new(KF)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "kingfisher {args:?}:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
fn each_training_run_is_logged_to_mlflow_with_its_model_as_artifact() {
    let Some(mlflow) = test_support::tools::require_client("kingfisher mlflow", "mlflow", "mlflow")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = start_mlflow(&mlflow, dir.path());
    // a feature store and a first model, in process (no broker needed)
    kf(
        &[
            "run",
            "--days",
            "14",
            "--train-every",
            "7",
            "--no-serve",
            "--dir",
            "run",
        ],
        dir.path(),
    );
    let registry = Registry::new(&dir.path().join("run/models"));
    let before = registry.versions().unwrap();
    let common = [
        "train",
        "--store",
        "run/kingfisher.db",
        "--registry",
        "run/models",
        "--mlflow-uri",
        &server.uri,
        "--mlflow-experiment",
        "kf-test",
    ];
    let out1 = kf(&common, dir.path());
    let mut second = common.to_vec();
    second.extend(["--train-days", "3"]);
    let out2 = kf(&second, dir.path());
    let versions = registry.versions().unwrap();
    assert_eq!(versions.len(), before.len() + 2, "{versions:?}");
    for out in [&out1, &out2] {
        assert!(out.contains("logged to MLflow: run "), "{out}");
    }

    let api = format!("{}/api/2.0/mlflow", server.uri);
    let exp = reqwest::json(&format!(
        "{api}/experiments/get-by-name?experiment_name=kf-test"
    ));
    let exp_id = exp["experiment"]["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    for v in &versions[before.len()..] {
        let record = registry.load(*v).unwrap();
        let runs = {
            let body = serde_json::json!({
                "experiment_ids": [exp_id],
                "filter": format!("attributes.run_name = 'v{v}'"),
            });
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                ::reqwest::Client::new()
                    .post(format!("{api}/runs/search"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .json::<serde_json::Value>()
                    .await
                    .unwrap()
            })
        };
        let runs = runs["runs"].as_array().expect("runs");
        assert_eq!(runs.len(), 1, "one run v{v}: {runs:?}");
        let run = &runs[0];
        assert_eq!(run["info"]["status"], "FINISHED");
        let param = |k: &str| {
            run["data"]["params"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["key"] == k)
                .unwrap_or_else(|| panic!("param {k} in {run}"))["value"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(param("data_digest"), record.data_digest);
        assert_eq!(param("training_from"), record.training_from);
        assert_eq!(param("training_to"), record.training_to);
        assert_eq!(param("holdout_day"), record.holdout_day);
        assert_eq!(param("train_carts"), record.train_carts.to_string());
        let metric = |k: &str| {
            run["data"]["metrics"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["key"] == k)
                .unwrap_or_else(|| panic!("metric {k} in {run}"))["value"]
                .as_f64()
                .unwrap()
        };
        assert_eq!(metric("holdout_log_loss"), record.metrics.model.log_loss);
        assert_eq!(
            metric("constant_log_loss"),
            record.metrics.constant.log_loss
        );
        assert_eq!(metric("promoted"), if record.promoted { 1.0 } else { 0.0 });
        // the artifact is the registry's file, byte for byte
        let run_id = run["info"]["run_id"].as_str().unwrap();
        let artifact = reqwest::blocking_get(&format!(
            "{}/get-artifact?run_id={run_id}&path=model/model.json",
            server.uri
        ))
        .unwrap();
        let file = std::fs::read_to_string(dir.path().join(format!("run/models/v{v}/model.json")))
            .unwrap();
        assert_eq!(artifact, file);
    }
    // the second run trained on 3 days only: MLflow tells the two apart
    let (a, b) = (
        registry.load(versions[before.len()]).unwrap(),
        registry.load(versions[before.len() + 1]).unwrap(),
    );
    assert!(b.train_carts < a.train_carts);
}

#[test]
fn a_bad_mlflow_uri_is_a_usage_error_and_trains_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(KF)
        .args(["train", "--store", "none.db", "--registry", "models"])
        .args(["--mlflow-uri", "https://mlflow.example"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("https://mlflow.example") && err.contains("http://host:port"),
        "{err}"
    );
    assert!(!dir.path().join("models").exists());
}

#[test]
fn an_unreachable_mlflow_fails_the_command_after_registering_the_model() {
    let dir = tempfile::tempdir().unwrap();
    kf(
        &[
            "run",
            "--days",
            "12",
            "--train-every",
            "7",
            "--no-serve",
            "--dir",
            "run",
        ],
        dir.path(),
    );
    let registry = Registry::new(&dir.path().join("run/models"));
    let before = registry.versions().unwrap().len();
    let port = free_port(); // nothing listens there
    let out = Command::new(KF)
        .args([
            "train",
            "--store",
            "run/kingfisher.db",
            "--registry",
            "run/models",
        ])
        .args(["--mlflow-uri", &format!("http://127.0.0.1:{port}")])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("is registered, but not logged to MLflow")
            && err.contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    assert_eq!(registry.versions().unwrap().len(), before + 1);
}
