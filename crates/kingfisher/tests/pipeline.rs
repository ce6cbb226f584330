//! Kingfisher end to end over the real RabbitMQ: `aladdin stream` of 45 days of a small shop →
//! `kingfisher features` (killed mid-stream and restarted, next to an uninterrupted run, then
//! fed duplicates) → `kingfisher train` graded against the oracle, with promotion → point in
//! time checked against `aladdin generate`'s files → `kingfisher evaluate` → `kingfisher serve`
//! (hot swap, and a `kingfisher.prediction` per cart).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use kingfisher::registry::Registry;
use kingfisher::store::{Cart, Change, Features, Store};
use kingfisher::train::{self as train, TrainOptions, read_truth};

const KF: &str = env!("CARGO_BIN_EXE_kingfisher");
const FIRST: &str = "2024-01-01";
/// 45 days: labels of the first 37 mature within the stream.
const LAST: &str = "2024-02-14";
/// The newest day whose labels have matured by the end of LAST (8 days and 1 hour later).
const NEWEST_MATURED: &str = "2024-02-06";

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
        v1.holdout_day, NEWEST_MATURED,
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

    // promotion: v1 was deployed (nothing was before); v2 is deployed only if it beat v1 on
    // v2's held-out day, scored here again
    assert!(v1.promoted && v1.deployed_before.is_none(), "{v1:?}");
    let challenge = v2.deployed_before.clone().expect("v1 was deployed");
    assert_eq!(challenge.version, 1);
    let day2: Vec<&Cart> = carts_a
        .iter()
        .filter(|c| c.day.to_string() == v2.holdout_day)
        .collect();
    let v2_as_of = faux::Timestamp::parse_flexible(&v2.trained_as_of).unwrap();
    let y2: Vec<bool> = day2.iter().map(|c| c.label_at(v2_as_of).unwrap()).collect();
    let v1_on_day2 = mean_log_loss(
        &day2
            .iter()
            .map(|c| v1.model.predict(&c.features))
            .collect::<Vec<_>>(),
        &y2,
    );
    assert!(
        (challenge.scores.log_loss - v1_on_day2).abs() < 1e-9,
        "{challenge:?} vs {v1_on_day2}"
    );
    assert_eq!(
        v2.promoted,
        v2.metrics.model.log_loss < v1_on_day2,
        "{:?}",
        v2.metrics
    );
    let deployed = if v2.promoted { 2 } else { 1 };
    assert_eq!(registry.deployed().unwrap(), Some(deployed));

    point_in_time(&aladdin, dir.path(), &sa, &carts_a);
    evaluate(&sa, &reg, &truth_path, &truth, deployed);

    serve(&reg, &sa, &carts_a, &v1);
    online(broker, &reg, &sa, &carts_a);
    train_requests(broker, &prefix, &reg, &sa);
}

/// `kingfisher train --on-request`: a request trains as of its instant, publishes
/// `kingfisher.model.trained` and — the deployed v3 being corrupt — is promoted; a bad
/// request is skipped.
fn train_requests(broker: &str, prefix: &str, reg: &Path, store: &Path) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (_conn, mut models) = rt.block_on(listen(broker, "kingfisher.model.*"));
    let mut child = Running(
        Command::new(KF)
            .args(["train", "--on-request", "--exit-when-idle", "5"])
            .args(["--queue-expires", "60"])
            .args(["--broker", broker, "--events-exchange", "kingfisher-test"])
            .args(["--queue", &format!("{prefix}.train"), "--store"])
            .arg(store)
            .arg("--registry")
            .arg(reg)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut out = std::io::BufReader::new(child.0.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert!(
        line.starts_with("waiting for kingfisher.train.requested"),
        "{line}"
    );
    rt.block_on(async {
        for body in [
            serde_json::json!("not an object"),
            serde_json::json!({"as_of": "2024-02-01T00:00:00Z"}),
        ] {
            kingfisher::publish::publish(
                broker,
                "kingfisher-test",
                "kingfisher.train.requested",
                &body,
            )
            .await
            .unwrap();
        }
        let mut keys = Vec::new();
        while keys.len() < 2 {
            use futures_util::StreamExt;
            let d = tokio::time::timeout(Duration::from_secs(60), models.next())
                .await
                .expect("the trainer's messages within 60 s")
                .unwrap()
                .unwrap();
            let v: serde_json::Value = serde_json::from_slice(&d.data).unwrap();
            assert_eq!(v["version"], 4, "{v}");
            assert_eq!(v["trained_as_of"], "2024-02-01T00:00:00Z", "{v}");
            keys.push(d.routing_key.as_str().to_string());
        }
        assert_eq!(
            keys,
            ["kingfisher.model.trained", "kingfisher.model.deployed"]
        );
    });
    let status = child.0.wait().unwrap();
    assert!(status.success(), "the trainer ended with {status}");
    let registry = Registry::new(reg);
    let v4 = registry.load(4).unwrap();
    // day D is known from D + 8 days 01:00: by 2024-02-01T00:00 the newest is 2024-01-23
    // (known from 2024-01-31T01:00)
    assert_eq!(v4.holdout_day, "2024-01-23");
    assert!(v4.promoted && v4.deployed_before.is_none(), "{v4:?}");
    assert_eq!(registry.deployed().unwrap(), Some(4));
    assert_eq!(
        registry.versions().unwrap(),
        [1, 2, 3, 4],
        "the bad request trained nothing"
    );
}

async fn next_json(
    c: &mut lapin::Consumer,
    within: Duration,
) -> Option<(String, serde_json::Value)> {
    use futures_util::StreamExt;
    let d = tokio::time::timeout(within, c.next()).await.ok()??.unwrap();
    let id = d
        .properties
        .message_id()
        .as_ref()
        .map(|s| s.as_str().to_string())
        .expect("a prediction has a message_id");
    Some((id, serde_json::from_slice(&d.data).unwrap()))
}

/// `kingfisher serve --broker`: a prediction for every cart of the store, then hot swaps on
/// `kingfisher.model.deployed`, a corrupt deployed model refused while the previous serves.
fn online(broker: &str, reg: &Path, store: &Path, carts: &[Cart]) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (_conn, mut predictions) = rt.block_on(listen(broker, "kingfisher.prediction"));
    let registry = Registry::new(reg);
    let serving = registry.deployed().unwrap().unwrap();
    let mut child = Running(
        Command::new(KF)
            .args(["serve", "--listen", "127.0.0.1:0", "--follow-every", "0.3"])
            .args(["--broker", broker, "--events-exchange", "kingfisher-test"])
            .arg("--registry")
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
    let model = registry.load(serving).unwrap();
    let by_id: HashMap<&str, &Cart> = carts.iter().map(|c| (c.cart_id.as_str(), c)).collect();
    let mut seen: HashMap<String, f64> = HashMap::new();
    rt.block_on(async {
        while seen.len() < carts.len() {
            let (id, v) = next_json(&mut predictions, Duration::from_secs(60))
                .await
                .unwrap_or_else(|| panic!("{} of {} predictions", seen.len(), carts.len()));
            let cart = by_id[id.as_str()];
            assert_eq!(v["cart_id"], id.as_str());
            assert_eq!(v["model_version"], serving);
            assert_eq!(v["scored_at"], cart.scored_at.to_string());
            let p = v["p"].as_f64().unwrap();
            assert!(
                (p - model.model.predict(&cart.features)).abs() < 1e-12,
                "{v}"
            );
            seen.insert(id, p);
        }
        // nothing more: every cart once (repeats would carry a seen message_id)
        assert!(
            next_json(&mut predictions, Duration::from_secs(2))
                .await
                .is_none()
        );

        let http = reqwest::Client::new();
        let models = || async {
            http.get(format!("{base}/v1/models"))
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        };
        assert_eq!(models().await["serving"], serving);
        // hot swap: deploy the other good version and say so
        let other = if serving == 1 { 2 } else { 1 };
        registry.deploy(other).unwrap();
        let body = serde_json::json!({"version": other});
        kingfisher::publish::publish(
            broker,
            "kingfisher-test",
            "kingfisher.model.deployed",
            &body,
        )
        .await
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while models().await["serving"] != other {
            assert!(Instant::now() < deadline, "v{other} not swapped in");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let cart = &carts[0];
        let r: serde_json::Value = http
            .post(format!("{base}/v1/predict"))
            .json(&serde_json::json!({"cart_id": cart.cart_id}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["model_version"], other);
        let expected = registry.load(other).unwrap().model.predict(&cart.features);
        assert!((r["p"].as_f64().unwrap() - expected).abs() < 1e-12, "{r}");

        // a corrupt model deployed (the pointer written by hand: deploy() refuses it) is
        // refused; the previous one keeps serving
        std::fs::write(reg.join("deployed.json"), r#"{"version": 3}"#).unwrap();
        kingfisher::publish::publish(
            broker,
            "kingfisher-test",
            "kingfisher.model.deployed",
            &serde_json::json!({"version": 3}),
        )
        .await
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let v = loop {
            let v = models().await;
            if v["swap_error"].is_string() {
                break v;
            }
            assert!(Instant::now() < deadline, "no swap error: {v}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(v["serving"], other, "{v}");
        assert!(
            v["swap_error"]
                .as_str()
                .unwrap()
                .contains("not a valid model"),
            "{v}"
        );
        let r = http
            .post(format!("{base}/v1/predict"))
            .json(&serde_json::json!({"cart_id": cart.cart_id}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    });
    assert!(
        registry.deploy(3).is_err(),
        "deploy() accepted a corrupt model"
    );
    eprintln!(
        "online: {} predictions, hot swap v{serving} → v{other}, corrupt v3 refused",
        seen.len(),
        other = if serving == 1 { 2 } else { 1 }
    );
}

fn mean_log_loss(p: &[f64], y: &[bool]) -> f64 {
    p.iter()
        .zip(y)
        .map(|(p, y)| {
            let p = p.clamp(1e-6, 1.0 - 1e-6);
            if *y { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum::<f64>()
        / p.len() as f64
}

/// AUC by counting pairs (ties half): slow, plain, and independent of the crate's.
fn pair_auc(p: &[f64], y: &[bool]) -> f64 {
    let (mut wins, mut pairs) = (0.0, 0.0);
    for (i, pi) in p.iter().enumerate() {
        if !y[i] {
            continue;
        }
        for (j, pj) in p.iter().enumerate() {
            if y[j] {
                continue;
            }
            pairs += 1.0;
            wins += if pi > pj {
                1.0
            } else if pi == pj {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / pairs
}

/// The change records of `aladdin generate --view changes --format jsonl` (sessions and
/// events), as the stream would carry them, in seq order.
fn file_changes(root: &Path) -> Vec<Change> {
    let mut out = Vec::new();
    for table in ["sessions", "events"] {
        let mut stack = vec![root.join(table)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                for line in std::fs::read_to_string(&p).unwrap().lines() {
                    let mut row: serde_json::Map<String, serde_json::Value> =
                        serde_json::from_str(line).unwrap();
                    let op = row.remove("op").unwrap().as_str().unwrap().to_string();
                    let seq = row.remove("seq").unwrap().as_i64().unwrap();
                    let ts = row.remove("ts").unwrap().as_str().unwrap().to_string();
                    out.push(Change {
                        table: table.into(),
                        op,
                        seq,
                        ts,
                        row: serde_json::Value::Object(row),
                    });
                }
            }
        }
    }
    out.sort_by_key(|c| c.seq);
    out
}

fn at(v: &serde_json::Value) -> faux::Timestamp {
    faux::Timestamp::parse_flexible(v.as_str().unwrap()).unwrap()
}

/// Each cart's features worked out from the files as of its scoring instant (the first
/// `add_to_cart` of its id): whole histories filtered by time, not running counters.
fn features_from_files(changes: &[Change]) -> HashMap<String, Features> {
    let str_of = |v: &serde_json::Value| v.as_str().map(str::to_string);
    // session id -> (seq, row)
    let mut sessions: HashMap<String, (i64, &serde_json::Value)> = HashMap::new();
    let mut by_customer: HashMap<String, Vec<i64>> = HashMap::new();
    let mut events: HashMap<String, Vec<&Change>> = HashMap::new();
    for c in changes.iter().filter(|c| c.op == "insert") {
        if c.table == "sessions" {
            let id = str_of(&c.row["id"]).unwrap();
            if let Some(cu) = str_of(&c.row["customer_id"]) {
                by_customer.entry(cu).or_default().push(c.seq);
            }
            sessions.insert(id, (c.seq, &c.row));
        } else {
            events
                .entry(str_of(&c.row["session_id"]).unwrap())
                .or_default()
                .push(c);
        }
    }
    let mut orders: HashMap<String, Vec<(i64, faux::Timestamp)>> = HashMap::new();
    for c in events.values().flatten() {
        if c.row["event_type"] == "order_placed" {
            let session = &sessions[c.row["session_id"].as_str().unwrap()];
            let cu = str_of(&c.row["customer_id"]).or(str_of(&session.1["customer_id"]));
            if let Some(cu) = cu {
                orders
                    .entry(cu)
                    .or_default()
                    .push((c.seq, at(&c.row["occurred_at"])));
            }
        }
    }
    let mut out: HashMap<String, (i64, Features)> = HashMap::new();
    for (sid, evs) in &events {
        let (session_seq, s) = sessions[sid];
        let Some(add) = evs
            .iter()
            .filter(|e| e.row["event_type"] == "add_to_cart")
            .min_by_key(|e| e.seq)
        else {
            continue;
        };
        let props = match &add.row["properties"] {
            serde_json::Value::String(text) => serde_json::from_str(text).unwrap(),
            v => v.clone(),
        };
        let cart = props["cart_id"].as_str().unwrap().to_string();
        let t = at(&add.row["occurred_at"]);
        let customer = str_of(&s["customer_id"]);
        let before = |list: Option<&Vec<i64>>, seq: i64| {
            list.map_or(0, |l| l.iter().filter(|x| **x < seq).count() as u32)
        };
        let past_orders: Vec<&(i64, faux::Timestamp)> = customer
            .as_ref()
            .and_then(|cu| orders.get(cu))
            .map(|l| l.iter().filter(|(seq, _)| *seq < add.seq).collect())
            .unwrap_or_default();
        let unit_price = match &props["unit_price"] {
            serde_json::Value::String(s) => s.parse().unwrap(),
            v => v.as_f64().unwrap(),
        };
        let f = Features {
            channel: str_of(&s["channel"]).unwrap(),
            device: str_of(&s["device"]).unwrap(),
            signed_in: customer.is_some(),
            sessions_before: before(
                customer.as_ref().and_then(|c| by_customer.get(c)),
                session_seq,
            ),
            orders_before: past_orders.len() as u32,
            days_since_last_order: past_orders
                .iter()
                .map(|(_, ts)| ts.0)
                .max()
                .map(|last| (t.0 - last) as f64 / 86_400.0),
            product_views: evs
                .iter()
                .filter(|e| e.row["event_type"] == "product_view" && e.seq < add.seq)
                .count() as u32,
            unit_price,
            quantity: add.row["quantity"].as_u64().unwrap() as u32,
            hour: (t.0.rem_euclid(86_400) / 3600) as u32,
            weekday: t.date().weekday(),
        };
        // a cart id is scored once: at its first add, whichever session
        match out.get(&cart) {
            Some((seq, _)) if *seq < add.seq => {}
            _ => {
                out.insert(cart, (add.seq, f));
            }
        }
    }
    out.into_iter().map(|(k, (_, f))| (k, f)).collect()
}

/// Point in time: the features the stream built equal those computed from the files as of
/// each scoring instant; a model trained as of an instant is the same whether the store
/// also holds everything after it or only what came before (no label used before it matured,
/// no feature from the future).
fn point_in_time(aladdin: &Path, dir: &Path, streamed: &Path, carts: &[Cart]) {
    let files = dir.join("files");
    run(Command::new(aladdin)
        .args(["generate", "--scenario"])
        .arg(scenario())
        .args(["--from", FIRST, "--to", LAST, "--view", "changes"])
        .args(["--format", "jsonl", "--tables", "sessions,events", "--out"])
        .arg(&files));
    let changes = file_changes(&files);
    let expected = features_from_files(&changes);
    assert_eq!(
        expected.len(),
        carts.len(),
        "carts in the files and the stream"
    );
    for c in carts {
        let mut want = expected
            .get(&c.cart_id)
            .unwrap_or_else(|| panic!("{} not in the files", c.cart_id))
            .clone();
        // the store keeps features as JSON text: a float may come back one ulp off
        if let (Some(a), Some(b)) = (want.days_since_last_order, c.features.days_since_last_order)
            && (a - b).abs() < 1e-9
        {
            want.days_since_last_order = Some(b);
        }
        assert_eq!(want, c.features, "{}", c.cart_id);
    }

    let cut = faux::Timestamp::parse_flexible("2024-01-20T00:00:00Z").unwrap();
    let before: Vec<Change> = changes
        .iter()
        .filter(|c| faux::Timestamp::parse_flexible(&c.ts).unwrap() <= cut)
        .cloned()
        .collect();
    assert!(before.len() < changes.len());
    let last = faux::Timestamp::parse_flexible(&before.last().unwrap().ts).unwrap();
    let mut early = Store::open(&dir.join("until-cut.db")).unwrap();
    for chunk in before.chunks(5000) {
        early.apply(chunk).unwrap();
    }
    let opts = TrainOptions {
        as_of: Some(last),
        ..TrainOptions::default()
    };
    let full = Store::open(streamed).unwrap();
    let a = train::train(&full, &Registry::new(&dir.join("pit-a")), &opts).unwrap();
    let b = train::train(&early, &Registry::new(&dir.join("pit-b")), &opts).unwrap();
    assert_eq!(a.holdout_day, "2024-01-11");
    assert_eq!(
        (a.train_carts, &a.data_digest, &a.model),
        (b.train_carts, &b.data_digest, &b.model),
        "training as of {last} used something the store learned after it"
    );
    eprintln!(
        "point in time: {} carts' features match the files; training as of {last} ignores the {} later records",
        carts.len(),
        changes.len() - before.len()
    );
}

/// `kingfisher evaluate` of v2 (trained as of 2024-01-20, held out 2024-01-11) on all the days
/// after its held-out day: below the oracle, clearly above both baselines.
fn evaluate(
    store: &Path,
    reg: &Path,
    truth_path: &Path,
    truth: &HashMap<String, kingfisher::train::Truth>,
    deployed: u32,
) {
    let (from, to) = ("2024-01-12", NEWEST_MATURED);
    let out = run(Command::new(KF)
        .args([
            "evaluate",
            "--from",
            from,
            "--to",
            to,
            "--model-version",
            "2",
        ])
        .args(["--json", "--store"])
        .arg(store)
        .arg("--registry")
        .arg(reg)
        .arg("--truth")
        .arg(truth_path));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let grade = |name: &str| {
        r["grades"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {r}"))
            .clone()
    };
    assert_eq!(r["seen_by_model"], false, "{r}");
    assert_eq!(r["label_mismatches"], 0, "{r}");

    // the same carts and grades, worked out here
    let st = Store::open(store).unwrap();
    let (_, as_of) = st.progress().unwrap().unwrap();
    let v2 = Registry::new(reg).load(2).unwrap();
    let graded: Vec<(Cart, bool)> = st
        .carts()
        .unwrap()
        .into_iter()
        .filter(|c| (from..=to).contains(&c.day.to_string().as_str()))
        .filter_map(|c| c.label_at(as_of).map(|l| (c, l)))
        .collect();
    assert_eq!(r["carts"], graded.len(), "{r}");
    let y: Vec<bool> = graded.iter().map(|(_, l)| *l).collect();
    let model_p: Vec<f64> = graded
        .iter()
        .map(|(c, _)| v2.model.predict(&c.features))
        .collect();
    let oracle_p: Vec<f64> = graded.iter().map(|(c, _)| truth[&c.cart_id].p).collect();
    let (model, oracle, constant, channel) = (
        grade("model"),
        grade("oracle"),
        grade("constant"),
        grade("channel"),
    );
    let f = |g: &serde_json::Value, k: &str| g[k].as_f64().unwrap();
    assert!(
        (f(&model, "auc") - pair_auc(&model_p, &y)).abs() < 1e-9,
        "{r}"
    );
    assert!(
        (f(&oracle, "auc") - pair_auc(&oracle_p, &y)).abs() < 1e-9,
        "{r}"
    );
    assert!((f(&model, "log_loss") - mean_log_loss(&model_p, &y)).abs() < 1e-9);
    assert!((f(&oracle, "log_loss") - mean_log_loss(&oracle_p, &y)).abs() < 1e-9);
    assert!(
        (f(&model, "auc_gap") - (f(&oracle, "auc") - f(&model, "auc"))).abs() < 1e-12,
        "{r}"
    );

    // the model below the oracle (above it: leakage), clearly above both baselines
    assert!(f(&model, "auc") < f(&oracle, "auc"), "leakage? {r}");
    for base in [&constant, &channel] {
        assert!(f(&model, "auc") > f(base, "auc") + 0.05, "{r}");
        assert!(f(&model, "log_loss") < f(base, "log_loss"), "{r}");
    }
    eprintln!(
        "evaluate v2 on {from} to {to}: {} carts; AUC model {:.4} oracle {:.4} constant {:.4} channel {:.4}; log loss model {:.4} oracle {:.4} constant {:.4} channel {:.4}; calibration error model {:.4} oracle {:.4}",
        r["carts"],
        f(&model, "auc"),
        f(&oracle, "auc"),
        f(&constant, "auc"),
        f(&channel, "auc"),
        f(&model, "log_loss"),
        f(&oracle, "log_loss"),
        f(&constant, "log_loss"),
        f(&channel, "log_loss"),
        f(&model, "calibration_error"),
        f(&oracle, "calibration_error"),
    );

    // the default: the deployed model, as a table
    let out = run(Command::new(KF)
        .args(["evaluate", "--from", from, "--to", to, "--store"])
        .arg(store)
        .arg("--registry")
        .arg(reg));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(&format!("model v{deployed} on {from} to {to}")),
        "{text}"
    );
    assert!(text.contains("give --truth"), "{text}");
    // a range with no matured label is refused, naming the range
    let out = Command::new(KF)
        .args(["evaluate", "--from", "2024-02-08", "--to", LAST, "--store"])
        .arg(store)
        .arg("--registry")
        .arg(reg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains(&format!("2024-02-08 to {LAST}")),
        "{err}"
    );
}

/// An exclusive queue on the test exchange bound to `key`, consumed without acks.
async fn listen(broker: &str, key: &str) -> (lapin::Connection, lapin::Consumer) {
    test_support::amqp::listen(broker, "kingfisher-test", key, "pipeline-test").await
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
        .args(["serve", "--listen", "127.0.0.1:0", "--model-version", "3"])
        .arg("--registry")
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
