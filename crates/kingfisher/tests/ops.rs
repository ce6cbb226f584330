//! Kingfisher's services under operations: a RabbitMQ restart while `kingfisher serve
//! --broker` publishes predictions loses none (at least once, deduplicated downstream by
//! cart_id + model version), and `kingfisher train --on-request --daily` trains once per
//! virtual day as the feature store crosses midnight.
//!
//! The broker these tests restart is a RabbitMQ node of their own (the installed
//! `rabbitmq-server`, under its own node name, ports, data and log folders in a temp dir),
//! never the machine's shared one on 5672: stopping that would break every other test and
//! user. It is a real broker restart (the node stops, and starts again on the same data),
//! which a TCP proxy cutting connections would only imitate: the durable queue and its
//! persistent messages have to survive it.

use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kingfisher::registry::Registry;
use kingfisher::store::Store;
use lapin::options::BasicGetOptions;
use lapin::{Connection, ConnectionProperties};
use test_support::Missing;

const KF: &str = env!("CARGO_BIN_EXE_kingfisher");
/// The server script itself (`/usr/sbin/rabbitmq-server` is a wrapper that switches to the
/// rabbitmq user and drops the environment that makes this node private).
const RABBITMQ_SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A private RabbitMQ node; stopped (by its own pid) when dropped.
struct Broker {
    dir: tempfile::TempDir,
    name: String,
    port: u16,
    dist_port: u16,
    script: Option<Child>,
}

impl Broker {
    fn start(test: &str) -> Option<Broker> {
        let found = if Path::new(RABBITMQ_SERVER).is_file() {
            Ok(())
        } else {
            Err(Missing::new(
                format!("{RABBITMQ_SERVER} is missing (a private node is started from it)"),
                "apt-get install rabbitmq-server (see .ci/run)",
            ))
        };
        test_support::require(test, found)?;
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut b = Broker {
            dir: tempfile::tempdir().unwrap(),
            name: format!("kftest{}x{n}@localhost", std::process::id()),
            port: free_port(),
            dist_port: free_port(),
            script: None,
        };
        std::fs::create_dir_all(b.dir.path().join("home")).unwrap();
        std::fs::write(b.dir.path().join("enabled_plugins"), "[].\n").unwrap();
        b.boot();
        Some(b)
    }

    fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    fn boot(&mut self) {
        let d = self.dir.path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("out.log"))
            .unwrap();
        let script = Command::new(RABBITMQ_SERVER)
            .env("HOME", d.join("home"))
            .env("RABBITMQ_NODENAME", &self.name)
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("RABBITMQ_MNESIA_BASE", d.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", d.join("log"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", d.join("enabled_plugins"))
            .env("RABBITMQ_CONFIG_FILE", d.join("rabbitmq"))
            .env("RABBITMQ_ADVANCED_CONFIG_FILE", d.join("advanced.config"))
            .env("RABBITMQ_CONF_ENV_FILE", d.join("rabbitmq-env.conf"))
            .env("RABBITMQ_PID_FILE", d.join("pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        self.script = Some(script);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "the private RabbitMQ node did not listen within 90 s:\n{}",
                std::fs::read_to_string(d.join("out.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Stops the node (SIGTERM: RabbitMQ shuts down cleanly) and waits until it is gone.
    fn stop(&mut self) {
        let Some(mut script) = self.script.take() else {
            return;
        };
        let pid = std::fs::read_to_string(self.dir.path().join("pid")).unwrap_or_default();
        let pid = pid.trim();
        let vm: Option<u32> = pid.parse().ok().filter(|p| *p > 1);
        if let Some(vm) = vm {
            signal("TERM", vm);
        }
        let started = Instant::now();
        loop {
            if let Ok(Some(_)) = script.try_wait() {
                break;
            }
            if started.elapsed() > Duration::from_secs(60) {
                if let Some(vm) = vm {
                    signal("KILL", vm);
                }
                let _ = script.kill();
                let _ = script.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = std::fs::remove_file(self.dir.path().join("pid"));
    }
}

/// A signal to one process by its own (positive) pid. Never a negative pid: procps `kill
/// -TERM -1234` is read as kill(-1), which signals every process on the machine.
fn signal(sig: &str, pid: u32) {
    assert!(pid > 1, "refusing to signal pid {pid}");
    let _ = Command::new("kill")
        .args(["-s", sig, "--", &pid.to_string()])
        .status();
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A child process killed when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Every message waiting in `queue`: (message_id, JSON body).
async fn drain(url: &str, queue: &str) -> Vec<(Option<String>, serde_json::Value)> {
    let conn = Connection::connect(url, ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let mut out = Vec::new();
    while let Some(m) = ch
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
    {
        let id = m
            .delivery
            .properties
            .message_id()
            .as_ref()
            .map(|s| s.as_str().to_string());
        out.push((id, serde_json::from_slice(&m.delivery.data).unwrap()));
    }
    let _ = conn.close(200, "drained".into()).await;
    out
}

fn small_shop() -> faux::Scenario {
    faux::Scenario::from_toml(
        "small-shop",
        kingfisher::run::SMALL_SHOP,
        faux::DEFAULT_SEED,
    )
    .unwrap()
}

fn day(n: i32) -> faux::Date {
    "2024-01-01".parse::<faux::Date>().unwrap().add_days(n - 1)
}

/// `kingfisher run` of `days` days into `dir/run`: a feature store and a registry with models.
fn prepared_run(dir: &Path, days: u32) -> PathBuf {
    let out = Command::new(KF)
        .args([
            "run",
            "--days",
            &days.to_string(),
            "--no-serve",
            "--dir",
            "run",
        ])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join("run")
}

#[test]
fn a_broker_restart_while_predictions_are_published_loses_none() {
    let Some(mut broker) = Broker::start("kingfisher broker restart") else {
        return;
    };
    let url = broker.url();
    let dir = tempfile::tempdir().unwrap();
    let run = prepared_run(dir.path(), 12);
    let store_path = run.join("kingfisher.db");
    let rt = rt();
    rt.block_on(test_support::amqp::durable_queue(
        &url,
        "kingfisher",
        "downstream",
        "kingfisher.prediction",
    ));
    let serve = Command::new(KF)
        .args(["serve", "--listen", "127.0.0.1:0", "--follow-every", "0.5"])
        .args(["--broker", &url, "--registry"])
        .arg(run.join("models"))
        .arg("--store")
        .arg(&store_path)
        .arg("--predictions-cursor")
        .arg(dir.path().join("cursor"))
        .env("KINGFISHER_LOG", "info,lapin=off")
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.path().join("serve.log")).unwrap(),
        ))
        .spawn()
        .unwrap();
    let _serve = Running(serve);

    // new days reach the store while the predictions of the first 12 are published; the
    // broker is stopped after day 13 and started again after day 14 has reached the store,
    // so day 14's predictions are attempted while it is down
    let scenario = small_shop();
    let mut store = Store::open(&store_path).unwrap();
    for d in 13..=16 {
        if d == 14 {
            broker.stop();
        }
        for chunk in kingfisher::run::day_changes(&scenario, day(d))
            .unwrap()
            .chunks(400)
        {
            store.apply(chunk).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
        if d == 14 {
            std::thread::sleep(Duration::from_secs(2));
            broker.boot();
        }
    }
    let carts = store.carts().unwrap();
    let last_seq = store.carts_after(0, usize::MAX).unwrap().last().unwrap().0;

    // the publisher's cursor moves only after the broker confirmed: wait for the last cart
    let started = Instant::now();
    let cursor = || {
        std::fs::read_to_string(dir.path().join("cursor"))
            .ok()
            .and_then(|t| t.trim().parse::<i64>().ok())
    };
    while cursor() != Some(last_seq) {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the cursor is at {:?}, the last cart at {last_seq}:\n{}",
            cursor(),
            std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
    assert!(
        log.contains("kingfisher.prediction publisher:") && log.contains("reconnecting"),
        "the publisher should have seen the broker go away:\n{log}"
    );

    let got = rt.block_on(drain(&url, "downstream"));
    // deduplicated downstream by cart and model version
    let mut unique: HashSet<(String, u64)> = HashSet::new();
    let mut per_cart: HashMap<String, usize> = HashMap::new();
    for (id, v) in &got {
        let cart = v["cart_id"].as_str().unwrap().to_string();
        assert_eq!(
            id.as_deref(),
            Some(cart.as_str()),
            "message_id is the cart id"
        );
        unique.insert((cart.clone(), v["model_version"].as_u64().unwrap()));
        *per_cart.entry(cart).or_default() += 1;
    }
    let wanted: HashSet<&str> = carts.iter().map(|c| c.cart_id.as_str()).collect();
    let missing: Vec<&&str> = wanted
        .iter()
        .filter(|c| !per_cart.contains_key(**c))
        .take(5)
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} carts have no prediction, e.g. {missing:?}",
        wanted.len() - wanted.iter().filter(|c| per_cart.contains_key(**c)).count(),
        wanted.len()
    );
    assert!(per_cart.keys().all(|c| wanted.contains(c.as_str())));
    let repeats = got.len() - per_cart.len();
    eprintln!(
        "{} carts, {} messages ({repeats} repeats after the restart), {} unique (cart, model)",
        wanted.len(),
        got.len(),
        unique.len()
    );
    assert!(wanted.len() > 2000, "{} carts", wanted.len());
}

#[test]
fn train_daily_trains_once_per_virtual_day_on_matured_labels_only() {
    let Some(broker) = Broker::start("kingfisher train --daily") else {
        return;
    };
    let url = broker.url();
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("f.db");
    let registry_path = dir.path().join("models");
    let scenario = small_shop();
    let mut store = Store::open(&store_path).unwrap();
    for d in 1..=10 {
        store
            .apply(&kingfisher::run::day_changes(&scenario, day(d)).unwrap())
            .unwrap();
    }
    let rt = rt();
    rt.block_on(test_support::amqp::durable_queue(
        &url,
        "kingfisher",
        "trained",
        "kingfisher.model.trained",
    ));
    let mut trainer = Running(
        Command::new(KF)
            .args(["train", "--on-request", "--daily", "--broker", &url])
            .args(["--exit-when-idle", "600", "--store"])
            .arg(&store_path)
            .arg("--registry")
            .arg(&registry_path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let lines = std::io::BufReader::new(trainer.0.stdout.take().unwrap()).lines();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(60)).unwrap();
    assert!(
        first.contains("waiting for kingfisher.train.requested"),
        "{first}"
    );
    let registry = Registry::new(&registry_path);
    // it trains when the store enters a new day, not for the day it started on
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(registry.versions().unwrap(), Vec::<u32>::new());

    for (i, d) in (11..=14).enumerate() {
        // a day arrives in three parts: the crossing into it trains once, not three times
        let changes = kingfisher::run::day_changes(&scenario, day(d)).unwrap();
        for part in changes.chunks(changes.len() / 3 + 1) {
            store.apply(part).unwrap();
            std::thread::sleep(Duration::from_millis(300));
        }
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no model within 60 s of day {d}"));
        assert!(line.starts_with("daily: model v"), "{line}");
        let version = i as u32 + 1;
        let r = registry.load(version).unwrap();
        let as_of = faux::Timestamp::parse_flexible(&r.trained_as_of).unwrap();
        // as of a record of day d (the part that crossed midnight, or a later one)
        assert_eq!(as_of.date(), day(d), "{r:?}");
        // the held-out day is the newest whose labels had matured by then (day + 8, 01:00)
        let holdout: faux::Date = r.holdout_day.parse().unwrap();
        let matured =
            faux::Timestamp(holdout.add_days(kingfisher::LABEL_DAYS + 1).start().0 + 3600);
        assert!(matured <= as_of, "{r:?}");
        let next = faux::Timestamp(matured.0 + 86_400);
        assert!(next > as_of, "the newest matured day is held out: {r:?}");
        assert!(r.training_to.as_str() < r.holdout_day.as_str(), "{r:?}");
    }
    assert!(
        rx.recv_timeout(Duration::from_secs(3)).is_err(),
        "one model per day"
    );
    assert_eq!(registry.versions().unwrap(), [1, 2, 3, 4]);
    let trained = rt.block_on(drain(&url, "trained"));
    let versions: Vec<u64> = trained
        .iter()
        .map(|(_, v)| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [1, 2, 3, 4]);
}
