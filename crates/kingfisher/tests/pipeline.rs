//! Kingfisher end to end over the real RabbitMQ: `aladdin stream` of a small shop →
//! `kingfisher features` (killed mid-stream and restarted, next to an uninterrupted run, then
//! fed duplicates) → `kingfisher train` graded against the oracle → `kingfisher serve`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use kingfisher::registry::Registry;
use kingfisher::store::{Cart, Store};
use kingfisher::train::read_truth;

const KF: &str = env!("CARGO_BIN_EXE_kingfisher");
const FIRST: &str = "2024-01-01";
const LAST: &str = "2024-01-24";

fn scenario() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/small-shop.toml")
}

/// Kills the child when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("the binary runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

fn features(broker: &str, prefix: &str, queue: &str, store: &Path) -> Command {
    let mut c = Command::new(KF);
    c.args([
        "features", "--broker", broker, "--prefix", prefix, "--queue", queue,
    ])
    .args([
        "--exchange",
        "kingfisher-test",
        "--batch",
        "200",
        "--queue-expires",
        "120",
    ])
    .arg("--store")
    .arg(store);
    c
}

fn stream(aladdin: &Path, broker: &str, prefix: &str, until: &str) -> i64 {
    let out = run(Command::new(aladdin)
        .args(["stream", "--scenario"])
        .arg(scenario())
        .args(["--start", FIRST, "--until", until, "--speed", "0"])
        .args([
            "--tables",
            "sessions,events",
            "--exchange",
            "kingfisher-test",
        ])
        .args(["--out", broker, "--prefix", prefix]));
    // "... seq A to B, ts ..." on stderr: B is the last record sent
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let tail = err.rsplit(" to ").nth(1).map(|_| ()).and(err.find("seq "));
    let at = tail.unwrap_or_else(|| panic!("no seq range in {err}"));
    let words: Vec<&str> = err[at..].split([' ', ',']).collect();
    words[3]
        .parse()
        .unwrap_or_else(|_| panic!("last seq in {err}"))
}

fn progress(store: &Path) -> Option<i64> {
    Store::open(store)
        .ok()?
        .progress()
        .ok()?
        .map(|(seq, _)| seq)
}

#[test]
fn stream_features_train_serve() {
    let Some(broker) = test_support::services::RABBITMQ.require("stream_features_train_serve")
    else {
        return;
    };
    let Some(aladdin) = test_support::require(
        "stream_features_train_serve",
        test_support::tools::binary_beside(KF, "aladdin"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("kft{}", std::process::id());
    let (qa, qb) = (format!("{prefix}.a"), format!("{prefix}.b"));
    let (sa, sb) = (dir.path().join("a.db"), dir.path().join("b.db"));
    // the queues exist before the stream starts, so nothing is missed
    run(features(broker, &prefix, &qa, &sa).arg("--setup-only"));
    run(features(broker, &prefix, &qb, &sb).arg("--setup-only"));
    let t0 = Instant::now();
    let last = stream(&aladdin, broker, &prefix, LAST);
    eprintln!(
        "streamed {FIRST} to {LAST} in {:?}, last seq {last}",
        t0.elapsed()
    );

    // A: killed mid-stream, then restarted; B: uninterrupted
    let mut a = Running(
        features(broker, &prefix, &qa, &sa)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    while progress(&sa).is_none_or(|s| s < (last + faux_first_seq()) / 2) {
        assert!(Instant::now() < deadline, "features made no progress");
        std::thread::sleep(Duration::from_millis(50));
    }
    a.0.kill().unwrap();
    a.0.wait().unwrap();
    let at_kill = progress(&sa).unwrap();
    assert!(
        at_kill < last,
        "killed after the end: the test proves nothing"
    );
    run(features(broker, &prefix, &qa, &sa).args(["--stop-at-seq", &last.to_string()]));
    run(features(broker, &prefix, &qb, &sb).args(["--stop-at-seq", &last.to_string()]));
    let carts_a = Store::open(&sa).unwrap().carts().unwrap();
    let carts_b = Store::open(&sb).unwrap().carts().unwrap();
    assert!(carts_a.len() > 1500, "{} carts", carts_a.len());
    assert_eq!(progress(&sa), Some(last));
    assert!(
        carts_a == carts_b,
        "a restarted consumer differs from an uninterrupted one"
    );

    // duplicates (the first day again, same seqs) change nothing
    stream(&aladdin, broker, &prefix, FIRST);
    run(features(broker, &prefix, &qa, &sa).args(["--exit-when-idle", "3"]));
    assert_eq!(progress(&sa), Some(last));
    assert!(
        Store::open(&sa).unwrap().carts().unwrap() == carts_a,
        "duplicates changed the store"
    );
    eprintln!(
        "features: {} carts, restart and duplicates changed nothing ({:?})",
        carts_a.len(),
        t0.elapsed()
    );

    // the truth: every scored cart, scored at the same instant, labelled the same once matured
    let truth_path = dir.path().join("truth.jsonl");
    let out = run(Command::new(&aladdin)
        .args(["truth", "--labels", "--scenario"])
        .arg(scenario())
        .args(["--from", FIRST, "--to", LAST]));
    std::fs::write(&truth_path, &out.stdout).unwrap();
    let truth = read_truth(&truth_path).unwrap();
    let scored: HashMap<String, String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["cart_id"].as_str().unwrap().to_string(),
                v["scored_at"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let as_of = faux::Timestamp::parse_flexible(&format!("{LAST}T23:59:59Z")).unwrap();
    // a session of the last evening may add to its cart after the stream ends
    let streamed = scored.values().filter(|t| **t <= as_of.to_string()).count();
    assert_eq!(
        carts_a.len(),
        streamed,
        "the store scored every cart streamed"
    );
    let mut matured = 0;
    for c in &carts_a {
        assert_eq!(
            scored.get(&c.cart_id),
            Some(&c.scored_at.to_string()),
            "{c:?}"
        );
        if let Some(l) = c.label_at(as_of) {
            matured += 1;
            assert_eq!(l, truth[&c.cart_id].label, "{c:?}");
        }
    }
    assert!(matured > 1500, "{matured} matured carts");

    // train: as of the end of the stream, and earlier (no label before it matured)
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (_conn, mut trained) = rt.block_on(listen(broker, "kingfisher.model.#"));
    let reg = dir.path().join("models");
    let out = run(Command::new(KF)
        .args(["train", "--store"])
        .arg(&sa)
        .arg("--registry")
        .arg(&reg)
        .arg("--truth")
        .arg(&truth_path)
        .args(["--broker", broker, "--events-exchange", "kingfisher-test"]));
    let message = rt.block_on(async {
        use futures_util::StreamExt;
        tokio::time::timeout(Duration::from_secs(10), trained.next())
            .await
            .expect("kingfisher.model.trained within 10 s")
            .unwrap()
            .unwrap()
    });
    assert_eq!(message.routing_key.as_str(), "kingfisher.model.trained");
    let published: serde_json::Value = serde_json::from_slice(&message.data).unwrap();
    eprintln!("{}", String::from_utf8_lossy(&out.stdout));
    let registry = Registry::new(&reg);
    let v1 = registry.load(1).unwrap();
    assert_eq!(
        v1.holdout_day, "2024-01-16",
        "the newest day matured by {LAST} 23:59:59"
    );
    assert!(v1.training_to < v1.holdout_day);
    assert_eq!(published["version"], 1);
    assert_eq!(published["data_digest"], v1.data_digest.as_str());
    let m = &v1.metrics;
    assert_eq!(
        (m.label_mismatches, m.missing_from_truth),
        (Some(0), Some(0))
    );
    let oracle = m.oracle.clone().unwrap();
    let (model_auc, oracle_auc) = (m.model.auc.unwrap(), oracle.auc.unwrap());
    assert!(model_auc > 0.65, "model AUC {model_auc}");
    assert!(m.model.log_loss < m.constant.log_loss, "{m:?}");
    // leakage guard: on the same carts the model may not beat the true probabilities by
    // more than noise (per-cart log-loss differences, 3 standard errors)
    let store = Store::open(&sa).unwrap();
    let hold: Vec<Cart> = store
        .carts()
        .unwrap()
        .into_iter()
        .filter(|c| c.day.to_string() == v1.holdout_day)
        .collect();
    let diffs: Vec<f64> = hold
        .iter()
        .map(|c| {
            let y = c.label_at(as_of).unwrap();
            let ll = |p: f64| {
                let p = p.clamp(1e-6, 1.0 - 1e-6);
                if y { -p.ln() } else { -(1.0 - p).ln() }
            };
            ll(v1.model.predict(&c.features)) - ll(truth[&c.cart_id].p)
        })
        .collect();
    let n = diffs.len() as f64;
    let mean = diffs.iter().sum::<f64>() / n;
    let se = (diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt() / n.sqrt();
    eprintln!(
        "held-out {}: {} carts; model log loss {:.4} AUC {model_auc:.4}; oracle {:.4} AUC {oracle_auc:.4}; constant {:.4}; gap {mean:+.4} ± {se:.4}",
        v1.holdout_day,
        hold.len(),
        m.model.log_loss,
        oracle.log_loss,
        m.constant.log_loss
    );
    assert!(
        mean > -3.0 * se,
        "the model beats the oracle: leakage? gap {mean} ± {se}"
    );

    let out = run(Command::new(KF)
        .args(["train", "--store"])
        .arg(&sa)
        .arg("--registry")
        .arg(&reg)
        .args(["--as-of", "2024-01-20T00:00:00Z"]));
    let v2 = registry.load(2).unwrap();
    assert_eq!(
        v2.holdout_day,
        "2024-01-11",
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(v2.metrics.oracle.is_none());

    serve(&reg, &sa, &carts_a, &v1);
}

/// An exclusive queue on the test exchange bound to `key`, consumed without acks.
async fn listen(broker: &str, key: &str) -> (lapin::Connection, lapin::Consumer) {
    use lapin::options::{
        BasicConsumeOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
    };
    use lapin::types::FieldTable;
    let conn = lapin::Connection::connect(broker, lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.exchange_declare(
        "kingfisher-test".into(),
        lapin::ExchangeKind::Topic,
        ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    let q = ch
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    ch.queue_bind(
        q.name().clone(),
        "kingfisher-test".into(),
        key.into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let consumer = ch
        .basic_consume(
            q.name().clone(),
            "pipeline-test".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    (conn, consumer)
}

/// The first seq of the first day, so "half way" is between it and the last.
fn faux_first_seq() -> i64 {
    faux::feed::first_seq(FIRST.parse().unwrap())
}

fn serve(reg: &Path, store: &Path, carts: &[Cart], v1: &kingfisher::registry::ModelRecord) {
    // a corrupt model file is refused at load, naming the file
    let bad = reg.join("v3");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("model.json"), "{\"version\": 3, \"weights\": [").unwrap();
    let out = Command::new(KF)
        .args(["serve", "--listen", "127.0.0.1:0", "--registry"])
        .arg(reg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("v3/model.json") && err.contains("not a valid model"),
        "{err}"
    );

    let mut child = Running(
        Command::new(KF)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--model-version",
                "1",
                "--registry",
            ])
            .arg(reg)
            .arg("--store")
            .arg(store)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.0.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let http = reqwest::Client::new();
        let post =
            |body: serde_json::Value| http.post(format!("{base}/v1/predict")).json(&body).send();
        let cart = &carts[carts.len() / 2];
        let r = post(serde_json::json!({"cart_id": cart.cart_id}))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().await.unwrap();
        let p = v["p"].as_f64().unwrap();
        assert!((p - v1.model.predict(&cart.features)).abs() < 1e-12, "{v}");
        assert_eq!(v["model_version"], 1);

        let r = post(serde_json::json!({"features": cart.features}))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().await.unwrap();
        assert!((v["p"].as_f64().unwrap() - p).abs() < 1e-12, "{v}");

        let problems = [
            (
                serde_json::json!({"cart_id": "no-such-cart"}),
                404,
                "no-such-cart",
            ),
            (serde_json::json!({}), 400, "exactly one"),
            (
                serde_json::json!({"features": {"channel": "direct"}}),
                400,
                "missing field",
            ),
            (
                {
                    let mut f = serde_json::to_value(&cart.features).unwrap();
                    f["hour"] = 25.into();
                    serde_json::json!({"features": f})
                },
                400,
                "features.hour = 25",
            ),
        ];
        for (body, status, says) in problems {
            let r = post(body.clone()).await.unwrap();
            assert_eq!(r.status(), status, "{body}");
            assert_eq!(
                r.headers()["content-type"],
                "application/problem+json",
                "{body}"
            );
            let v: serde_json::Value = r.json().await.unwrap();
            assert!(v["detail"].as_str().unwrap().contains(says), "{body}: {v}");
        }

        let v: serde_json::Value = http
            .get(format!("{base}/v1/models"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["serving"], 1);
        let models = v["models"].as_array().unwrap();
        assert_eq!(models.len(), 3, "{v}");
        assert!(
            models[2]["error"]
                .as_str()
                .unwrap()
                .contains("not a valid model")
        );
        let r = http
            .get(format!("{base}/v1/models/1"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["data_digest"], v1.data_digest.as_str());
        for (path, status) in [("/v1/models/9", 404), ("/v1/models/abc", 400)] {
            let r = http.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(r.status(), status, "{path}");
            assert_eq!(r.headers()["content-type"], "application/problem+json");
        }
    });
}
