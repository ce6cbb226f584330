//! The daily monitor over the real RabbitMQ, end to end, as the README runs the services:
//! `aladdin stream` of the small shop with a planted `[[drift]]` (from DRIFT_FROM, mobile
//! sessions check out at a fifth of their rate) → `kingfisher features` → `kingfisher train
//! --on-request --daily` (the monitor before each daily training) → `kingfisher serve
//! --broker`. The test is the clock: it streams one virtual day at a time, in two parts (the
//! first hour, then the rest), and waits for the trainer's model of the day between them, so
//! each daily training sees the store at the start of its day.
//!
//! Asserted: no `kingfisher.drift.detected` before the change; one within DETECT_WITHIN virtual
//! days of it, published on the events exchange with the window and the reasons; after it a
//! model trained on the changed days only is promoted (`kingfisher.model.deployed`), and serve
//! swaps to every deployed model on the message (its registry poll is an hour, so only the
//! message can do it in time).

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use kingfisher::store::Store;

const KF: &str = env!("CARGO_BIN_EXE_kingfisher");
const FIRST: &str = "2024-01-01";
/// Streamed in one go before the trainer starts: the first model comes on the next day.
const WARM_UNTIL: &str = "2024-01-11";
const DRIFT_FROM: &str = "2024-01-25";
/// A day's labels mature 8 days and 1 hour after it starts, and the window needs a few
/// changed days: in process the same drift is detected 9 days after it (tests/drift.rs).
const DETECT_WITHIN: i32 = 10;
/// Days after the detection within which a model trained on the changed days is deployed.
const RETRAIN_WITHIN: i32 = 4;

/// Kills the child when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn date(s: &str) -> faux::Date {
    s.parse().unwrap()
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

/// The lines a child prints on stdout, as they come.
fn lines(child: &mut Child) -> Receiver<String> {
    let out = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for l in out.map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    rx
}

struct Setup {
    broker: String,
    aladdin: PathBuf,
    scenario: PathBuf,
    /// The stream's exchange and routing-key prefix, Kingfisher's events exchange.
    exchange: String,
    prefix: String,
    events: String,
    store: PathBuf,
}

impl Setup {
    /// Streams [from, until] (RFC 3339 instants); the last seq sent, None when nothing was.
    fn stream(&self, from: &str, until: &str) -> Option<i64> {
        let out = run(Command::new(&self.aladdin)
            .args(["stream", "--scenario"])
            .arg(&self.scenario)
            .args(["--start", from, "--until", until, "--speed", "0"])
            .args(["--tables", "sessions,events", "--exchange", &self.exchange])
            .args(["--out", &self.broker, "--prefix", &self.prefix]));
        // "... messages ... in 0.01 s (...); seq A to B, ts ..." on stderr
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        let at = err.rfind("; seq ")?;
        let words: Vec<&str> = err[at + 2..].split([' ', ',']).collect();
        Some(
            words[3]
                .parse()
                .unwrap_or_else(|_| panic!("last seq in {err}")),
        )
    }

    /// Waits until the features service has applied `seq`.
    fn applied(&self, seq: Option<i64>) {
        let Some(seq) = seq else { return };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let at = Store::open(&self.store)
                .ok()
                .and_then(|s| s.progress().ok().flatten())
                .map(|(s, _)| s);
            if at.is_some_and(|s| s >= seq) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "features did not apply seq {seq} within 60 s (at {at:?})"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The serving version by `GET /v1/models`.
fn serving(rt: &tokio::runtime::Runtime, base: &str) -> serde_json::Value {
    rt.block_on(async {
        reqwest::get(format!("{base}/v1/models"))
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()["serving"]
            .clone()
    })
}

#[test]
fn the_daily_monitor_over_the_broker_detects_drift_and_serve_swaps_to_the_retrained_model() {
    const TEST: &str = "the daily monitor over the broker";
    let Some(broker) = test_support::services::RABBITMQ.require(TEST) else {
        return;
    };
    let Some(aladdin) =
        test_support::require(TEST, test_support::tools::binary_beside(KF, "aladdin"))
    else {
        return;
    };
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("drifted.toml");
    std::fs::write(
        &scenario,
        format!(
            "{}\n[[drift]]\nfrom = \"{DRIFT_FROM}\"\ndevice = \"mobile\"\nconversion = 0.2\n",
            kingfisher::run::SMALL_SHOP
        ),
    )
    .unwrap();
    let id = format!("kfmon{}", std::process::id());
    let s = Setup {
        broker: broker.to_string(),
        aladdin,
        scenario,
        exchange: format!("{id}.faux"),
        prefix: id.clone(),
        events: format!("{id}.events"),
        store: dir.path().join("kf.db"),
    };
    let registry = dir.path().join("models");

    // everything Kingfisher publishes, from before anything is
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (tx, published) = channel::<(String, serde_json::Value)>();
    let (ready_tx, ready) = channel();
    {
        let (broker, events) = (s.broker.clone(), s.events.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let (_conn, mut consumer) =
                    test_support::amqp::listen(&broker, &events, "kingfisher.#", "monitor-test")
                        .await;
                ready_tx.send(()).unwrap();
                while let Some(Ok(d)) = consumer.next().await {
                    let body = serde_json::from_slice(&d.data).unwrap();
                    if tx.send((d.routing_key.to_string(), body)).is_err() {
                        break;
                    }
                }
            });
        });
    }
    ready.recv_timeout(Duration::from_secs(30)).unwrap();

    let features = |setup_only: bool| {
        let mut c = Command::new(KF);
        c.args(["features", "--broker", &s.broker, "--exchange", &s.exchange])
            .args(["--prefix", &s.prefix, "--queue", &format!("{id}.features")])
            .args(["--queue-expires", "120", "--store"])
            .arg(&s.store);
        if setup_only {
            c.arg("--setup-only");
        }
        c
    };
    run(&mut features(true));
    let _features = Running(
        features(false)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let warm = s.stream(
        &format!("{FIRST}T00:00:00Z"),
        &format!("{WARM_UNTIL}T23:59:59Z"),
    );
    s.applied(warm);

    let mut trainer = Running(
        Command::new(KF)
            .args(["train", "--on-request", "--daily", "--broker", &s.broker])
            .args([
                "--events-exchange",
                &s.events,
                "--queue",
                &format!("{id}.train"),
            ])
            .args([
                "--queue-expires",
                "120",
                "--exit-when-idle",
                "3600",
                "--store",
            ])
            .arg(&s.store)
            .arg("--registry")
            .arg(&registry)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let said = lines(&mut trainer.0);
    let first = said.recv_timeout(Duration::from_secs(60)).unwrap();
    assert!(
        first.contains("waiting for kingfisher.train.requested"),
        "{first}"
    );

    let mut serve: Option<(Running, String)> = None;
    let mut detected: Option<(faux::Date, serde_json::Value)> = None;
    let mut retrained: Option<u64> = None;
    let mut deployed = Vec::new();
    let mut day = date(WARM_UNTIL).add_days(1);
    let last_day = date(DRIFT_FROM).add_days(DETECT_WITHIN + RETRAIN_WITHIN);
    while retrained.is_none() {
        assert!(
            day <= last_day,
            "no drift detected and retrained on by {last_day} (detected: {detected:?})"
        );
        // the first hour crosses midnight: the trainer checks and trains on it alone
        let head = s.stream(&format!("{day}T00:00:00Z"), &format!("{day}T00:59:59Z"));
        s.applied(head);
        let rest = |s: &Setup| {
            s.applied(s.stream(&format!("{day}T01:00:00Z"), &format!("{day}T23:59:59Z")))
        };
        if head.is_none() {
            rest(&s);
        }
        let mut drift_lines = Vec::new();
        let model = loop {
            let l = said
                .recv_timeout(Duration::from_secs(120))
                .unwrap_or_else(|_| panic!("no model from the trainer within 120 s of {day}"));
            if let Some(body) = l.strip_prefix("kingfisher.drift.detected: ") {
                drift_lines.push(serde_json::from_str::<serde_json::Value>(body).unwrap());
            } else if l.starts_with("daily: model v") {
                break l;
            }
        };
        if head.is_some() {
            rest(&s);
        }
        // what was published for this day: the broker confirmed each message before the
        // trainer printed the model's line, so they are on their way to this test's queue
        let version: u64 = model["daily: model v".len()..]
            .split(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no version in {model:?}"));
        let last_key = if model.ends_with(", deployed") {
            "kingfisher.model.deployed"
        } else {
            "kingfisher.model.trained"
        };
        let mut msgs = Vec::new();
        loop {
            let m = published
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| {
                    panic!("{day}: {last_key} of v{version} not received: {msgs:?}")
                });
            let done = m.0 == last_key && m.1["version"].as_u64() == Some(version);
            msgs.push(m);
            if done {
                break;
            }
        }
        // and nothing else
        while let Ok(m) = published.recv_timeout(Duration::from_millis(200)) {
            msgs.push(m);
        }
        let trained: Vec<&serde_json::Value> = msgs
            .iter()
            .filter(|(k, _)| k == "kingfisher.model.trained")
            .map(|(_, b)| b)
            .collect();
        assert_eq!(trained.len(), 1, "{day}: {model}: {msgs:?}");
        assert_eq!(trained[0]["version"].as_u64(), Some(version));
        let alarms: Vec<serde_json::Value> = msgs
            .iter()
            .filter(|(k, _)| k == "kingfisher.drift.detected")
            .map(|(_, b)| b.clone())
            .collect();
        // what the trainer said it detected is what it published
        assert_eq!(alarms, drift_lines, "{day}");
        for alarm in &alarms {
            eprintln!("{day}: kingfisher.drift.detected {alarm}");
            let to = date(alarm["to"].as_str().unwrap());
            assert!(
                to >= date(DRIFT_FROM),
                "false alarm before the change: {alarm}"
            );
            assert!(!alarm["reasons"].as_array().unwrap().is_empty(), "{alarm}");
            assert!(alarm["carts"].as_u64().unwrap() >= 300, "{alarm}");
            if detected.is_none() {
                let delay = day.days_since_epoch() - date(DRIFT_FROM).days_since_epoch();
                eprintln!("detected {delay} virtual days after the change");
                assert!(
                    delay <= DETECT_WITHIN,
                    "detected {delay} days after the change"
                );
                detected = Some((day, alarm.clone()));
            }
        }
        let promoted: Vec<&serde_json::Value> = msgs
            .iter()
            .filter(|(k, _)| k == "kingfisher.model.deployed")
            .map(|(_, b)| b)
            .collect();
        eprintln!("{day}: {model}");
        if let Some(d) = promoted.first() {
            assert_eq!(promoted.len(), 1, "{msgs:?}");
            assert_eq!(d["version"].as_u64(), Some(version));
            assert!(model.ends_with(", deployed"), "{model}");
            deployed.push(version);
            if let Some((_, alarm)) = &detected
                && d["training_from"].as_str().unwrap() >= alarm["from"].as_str().unwrap()
            {
                retrained = Some(version);
            }
        }
        match &serve {
            // serve starts once there is a model to serve
            None if !deployed.is_empty() => {
                let mut c = Command::new(KF);
                c.args(["serve", "--listen", "127.0.0.1:0", "--follow-every", "3600"])
                    .args(["--broker", &s.broker, "--events-exchange", &s.events])
                    .arg("--store")
                    .arg(&s.store)
                    .arg("--registry")
                    .arg(&registry)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null());
                let mut child = Running(c.spawn().unwrap());
                let out = lines(&mut child.0);
                let l = out.recv_timeout(Duration::from_secs(30)).unwrap();
                let base = l
                    .split_whitespace()
                    .find(|w| w.starts_with("http://"))
                    .unwrap_or_else(|| panic!("no address in {l:?}"))
                    .to_string();
                assert_eq!(serving(&rt, &base), version, "{l}");
                serve = Some((child, base));
            }
            Some((_, base)) if !promoted.is_empty() => {
                // hot swap on kingfisher.model.deployed
                let deadline = Instant::now() + Duration::from_secs(10);
                while serving(&rt, base) != version {
                    assert!(
                        Instant::now() < deadline,
                        "{day}: serve did not swap to v{version} within 10 s of its kingfisher.model.deployed"
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            _ => {}
        }
        day = day.add_days(1);
    }
    let (at, alarm) = detected.unwrap();
    let v = retrained.unwrap();
    assert!(
        deployed.len() >= 2,
        "serve swapped at least once: {deployed:?}"
    );
    eprintln!(
        "detected on {at} (window {} to {}), v{v} trained on the changed days deployed and served on {}; {:.0?} in all",
        alarm["from"],
        alarm["to"],
        day.add_days(-1),
        started.elapsed()
    );
}
