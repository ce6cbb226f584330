//! `aladdin stream` end to end: the real binary, its standard output, the real RabbitMQ on
//! 127.0.0.1:5672 and the real NATS JetStream on 127.0.0.1:4222, consumed with lapin and
//! async-nats.
//!
//! Every replay is compared with the changes view of the same day written by
//! `aladdin generate --view changes --format jsonl`. A test whose broker is unreachable prints
//! a loud SKIP and passes, except under `CI=true`, where it fails: CI starts the brokers.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::{BIN, aladdin, stderr};
use futures_util::StreamExt;
use test_support::services;

const DAY: &str = "2024-01-10";
/// A small shop, so a whole simulated day is ~22 000 records.
const SHOP: &str =
    "[shop]\nopened_on = \"2024-01-01\"\n[traffic]\norganic_sessions_per_day = 200.0\n";
/// What `aladdin stream` carries by default.
const DEFAULT_TABLES: &str = "customers,products,sessions,events,orders,payments,shipments";
const AMQP: &str = services::RABBITMQ.url;
const NATS: &str = services::NATS.url;

/// One record of the changes view, as the message `aladdin stream` should send for it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expected {
    table: String,
    op: String,
    seq: i64,
    ts: i64,
    body: String,
}

/// A scenario file in a temporary folder.
struct Shop {
    _dir: tempfile::TempDir,
    path: String,
}

fn shop() -> Shop {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.toml");
    std::fs::write(&path, SHOP).unwrap();
    Shop {
        path: path.to_str().unwrap().to_string(),
        _dir: dir,
    }
}

fn epoch(ts: &str) -> i64 {
    // YYYY-MM-DDTHH:MM:SSZ on DAY's month: enough for the comparisons below
    let day: i64 = ts[8..10].parse().unwrap();
    let (h, m, s): (i64, i64, i64) = (
        ts[11..13].parse().unwrap(),
        ts[14..16].parse().unwrap(),
        ts[17..19].parse().unwrap(),
    );
    day * 86_400 + h * 3600 + m * 60 + s
}

/// `{"op":…,"seq":…,"ts":"…",<columns>}` of table `t` → `{"table":t,"op":…,"seq":…,"ts":"…","row":{<columns>}}`.
fn as_message(table: &str, line: &str) -> Expected {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let ts = v["ts"].as_str().unwrap().to_string();
    let after_ts = line.find(",\"ts\":\"").unwrap() + 7 + ts.len() + 1;
    assert_eq!(&line[after_ts..after_ts + 1], ",", "{line}");
    Expected {
        table: table.to_string(),
        op: v["op"].as_str().unwrap().to_string(),
        seq: v["seq"].as_i64().unwrap(),
        ts: epoch(&ts),
        body: format!(
            "{{\"table\":\"{table}\",{},\"row\":{{{}}}",
            &line[1..after_ts],
            &line[after_ts + 1..]
        ),
    }
}

/// The changes view of DAY for the default tables, merged in seq order: generated once per
/// test run by `aladdin generate`.
fn expected() -> &'static [Expected] {
    static EXPECTED: OnceLock<Vec<Expected>> = OnceLock::new();
    EXPECTED.get_or_init(|| {
        let shop = shop();
        let out = tempfile::tempdir().unwrap();
        let o = out.path().to_str().unwrap();
        common::ok(&[
            "generate",
            "--scenario",
            &shop.path,
            "--view",
            "changes",
            "--format",
            "jsonl",
            "--date",
            DAY,
            "--tables",
            DEFAULT_TABLES,
            "--layout",
            "flat",
            "--out",
            o,
            "--quiet",
        ]);
        let mut all = Vec::new();
        for table in DEFAULT_TABLES.split(',') {
            let text = std::fs::read_to_string(out.path().join(format!("{table}.jsonl"))).unwrap();
            all.extend(text.lines().map(|l| as_message(table, l)));
        }
        all.sort_by_key(|e| e.seq);
        assert!(all.len() > 10_000, "a day of the small shop: {}", all.len());
        for t in DEFAULT_TABLES.split(',').filter(|t| *t != "products") {
            assert!(all.iter().any(|e| e.table == t), "no {t} records on {DAY}");
        }
        all
    })
}

/// The stream arguments replaying DAY of the small shop as fast as possible.
fn replay_args<'a>(shop: &'a Shop, out: &'a str) -> Vec<&'a str> {
    vec![
        "stream",
        "--scenario",
        &shop.path,
        "--start",
        DAY,
        "--until",
        DAY,
        "--speed",
        "0",
        "--out",
        out,
    ]
}

/// A name no other test (or earlier run) uses: the tests share the brokers.
fn unique(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "fauxtest_{tag}_{}_{nanos}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs a clean-up when dropped, so a failing test leaves nothing behind on the brokers.
struct Cleanup(Option<Box<dyn FnOnce()>>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

/// Deletes RabbitMQ exchange `name` at the end of the test.
fn delete_exchange_later(name: &str) -> Cleanup {
    let name = name.to_string();
    Cleanup(Some(Box::new(move || {
        runtime().block_on(async {
            let props = lapin::ConnectionProperties::default();
            if let Ok(conn) = lapin::Connection::connect(AMQP, props).await
                && let Ok(ch) = conn.create_channel().await
            {
                let _ = ch
                    .exchange_delete(name.as_str().into(), Default::default())
                    .await;
            }
        })
    })))
}

/// Deletes JetStream stream `name` at the end of the test.
fn delete_stream_later(name: &str) -> Cleanup {
    let name = name.to_string();
    Cleanup(Some(Box::new(move || {
        runtime().block_on(async {
            if let Ok(client) = async_nats::connect(NATS).await {
                let _ = async_nats::jetstream::new(client)
                    .delete_stream(&name)
                    .await;
            }
        })
    })))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Starts `aladdin ARGS…` with stderr in a file (read with [`finish`]).
fn spawn(args: &[&str], stdout: Stdio) -> (Child, tempfile::NamedTempFile) {
    let log = tempfile::NamedTempFile::new().unwrap();
    let child = Command::new(BIN)
        .args(args)
        .env_remove("ALADDIN_LOG")
        .stdout(stdout)
        .stderr(log.reopen().unwrap())
        .spawn()
        .expect("aladdin starts");
    (child, log)
}

/// Waits for the child (at most `limit`) and returns its stderr; panics unless it succeeded.
fn finish(mut child: Child, log: tempfile::NamedTempFile, limit: Duration) -> String {
    let began = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if began.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "aladdin stream did not finish in {limit:?}: {}",
                std::fs::read_to_string(log.path()).unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let err = std::fs::read_to_string(log.path()).unwrap();
    assert!(status.success(), "aladdin stream failed ({status}): {err}");
    err
}

/// A received message: where it was routed and its body.
#[derive(Debug, Clone)]
struct Received {
    key: String,
    body: String,
}

fn seq_of(body: &str) -> i64 {
    serde_json::from_str::<serde_json::Value>(body).unwrap()["seq"]
        .as_i64()
        .unwrap()
}

/// Exactly the expected messages, in order, each routed to `<prefix>.<table>.<op>`.
fn assert_same_replay(got: &[Received], want: &[Expected], prefix: &str) {
    assert_eq!(got.len(), want.len(), "message count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.body, w.body, "message {i} differs");
        assert_eq!(
            g.key,
            format!("{prefix}.{}.{}", w.table, w.op),
            "message {i}"
        );
    }
    // the order per table follows (the total order is already equal); say so explicitly
    let tables: BTreeSet<&str> = want.iter().map(|w| w.table.as_str()).collect();
    for t in tables {
        let g: Vec<i64> = got
            .iter()
            .filter(|r| r.key.split('.').nth_back(1) == Some(t))
            .map(|r| seq_of(&r.body))
            .collect();
        let w: Vec<i64> = want
            .iter()
            .filter(|e| e.table == t)
            .map(|e| e.seq)
            .collect();
        assert_eq!(g, w, "order of {t}");
    }
}

/// At least once after a fault: every expected message arrived (duplicates identical, by
/// seq), and the arrivals end with an in-order re-send of everything after some point, so
/// applying messages in arrival order ends in the right state.
fn assert_at_least_once(got: &[Received], want: &[Expected]) -> usize {
    let by_seq: BTreeMap<i64, &Expected> = want.iter().map(|e| (e.seq, e)).collect();
    let mut seen = BTreeMap::new();
    for r in got {
        let seq = seq_of(&r.body);
        let e = by_seq
            .get(&seq)
            .unwrap_or_else(|| panic!("unexpected seq {seq}"));
        assert_eq!(r.body, e.body, "seq {seq} differs");
        *seen.entry(seq).or_insert(0) += 1;
    }
    let missing: Vec<_> = want.iter().filter(|e| !seen.contains_key(&e.seq)).collect();
    assert!(
        missing.is_empty(),
        "{} messages lost, first {:?}",
        missing.len(),
        missing[0].seq
    );
    // the last run of consecutive expected messages reaches the end and starts at or before
    // the first message that arrived only after the fault
    let seqs: Vec<i64> = got.iter().map(|r| seq_of(&r.body)).collect();
    let index: BTreeMap<i64, usize> = want.iter().enumerate().map(|(i, e)| (e.seq, i)).collect();
    let mut k = seqs.len() - 1;
    while k > 0 && index[&seqs[k - 1]] + 1 == index[&seqs[k]] {
        k -= 1;
    }
    assert_eq!(
        index[&seqs[seqs.len() - 1]],
        want.len() - 1,
        "the stream ends with the last record"
    );
    let resumed_at = index[&seqs[k]];
    let before: BTreeSet<i64> = seqs[..k].iter().copied().collect();
    assert!(
        want[..resumed_at].iter().all(|e| before.contains(&e.seq)),
        "the final in-order run starts at message {resumed_at}, but earlier messages are missing before it"
    );
    got.len() - want.len()
}

// ---------------------------------------------------------------------------------------
// standard output

#[test]
fn stdout_replay_equals_the_changes_view() {
    let want = expected();
    let shop = shop();
    let out = common::ok(&replay_args(&shop, "-"));
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    let got: Vec<&str> = text.lines().collect();
    assert_eq!(got.len(), want.len(), "message count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(*g, w.body, "line {i} differs");
    }
    assert!(
        stderr(&out).contains(&format!("{} messages", group(want.len()))),
        "{}",
        stderr(&out)
    );

    // --count stops early; --resume-from-seq continues right after the last message seen
    let mut args = replay_args(&shop, "-");
    args.extend(["--count", "50"]);
    let first = String::from_utf8(common::ok(&args).stdout).unwrap();
    let first: Vec<&str> = first.lines().collect();
    assert_eq!(
        first,
        want[..50]
            .iter()
            .map(|e| e.body.as_str())
            .collect::<Vec<_>>()
    );
    let after = want[49].seq.to_string();
    let mut args = replay_args(&shop, "-");
    args.extend(["--resume-from-seq", &after]);
    let rest = String::from_utf8(common::ok(&args).stdout).unwrap();
    assert_eq!(rest.lines().count(), want.len() - 50);
    assert!(rest.lines().zip(&want[50..]).all(|(g, w)| g == w.body));

    // a selection of tables is the same records, filtered
    let mut args = replay_args(&shop, "-");
    args.extend(["--tables", "orders,payments"]);
    let some = String::from_utf8(common::ok(&args).stdout).unwrap();
    let subset: Vec<&str> = want
        .iter()
        .filter(|e| e.table == "orders" || e.table == "payments")
        .map(|e| e.body.as_str())
        .collect();
    assert_eq!(some.lines().collect::<Vec<_>>(), subset);
}

fn group(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[test]
fn pacing_follows_the_virtual_clock() {
    // one virtual hour at 3600 virtual seconds per second: about one real second
    let shop = shop();
    let (mut child, log) = spawn(
        &[
            "stream",
            "--scenario",
            &shop.path,
            "--tables",
            "events",
            "--start",
            "2024-01-10T12:00:00Z",
            "--until",
            "2024-01-10T12:59:59Z",
            "--speed",
            "3600",
        ],
        Stdio::piped(),
    );
    let stdout = child.stdout.take().unwrap();
    let mut arrivals: Vec<(Instant, i64)> = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        arrivals.push((Instant::now(), epoch(v["ts"].as_str().unwrap())));
    }
    finish(child, log, Duration::from_secs(30));
    assert!(
        arrivals.len() > 200,
        "{} events in the hour",
        arrivals.len()
    );
    let (t0, v0) = arrivals[0];
    let (t1, v1) = *arrivals.last().unwrap();
    let virtual_span = (v1 - v0) as f64 / 3600.0;
    let real_span = (t1 - t0).as_secs_f64();
    assert!(
        virtual_span > 0.9,
        "the events span most of the hour: {virtual_span}"
    );
    assert!(
        (virtual_span * 0.7..virtual_span * 2.5 + 0.5).contains(&real_span),
        "an hour at 3600x took {real_span:.2} s (expected about {virtual_span:.2} s)"
    );
    // no record leaves noticeably before its time, nor very late
    for (t, v) in &arrivals {
        let due = (v - v0) as f64 / 3600.0;
        let at = (*t - t0).as_secs_f64();
        assert!(
            at > due - 0.25,
            "released {:.2} s before its time",
            due - at
        );
        assert!(at < due + 1.5, "released {:.2} s after its time", at - due);
    }
}

// ---------------------------------------------------------------------------------------
// RabbitMQ

mod rabbit {
    use lapin::{Connection, Consumer};

    use super::*;

    /// A consumer of everything published to `exchange` under `prefix`, declared before the
    /// stream starts so nothing is missed.
    pub async fn consumer(exchange: &str, prefix: &str) -> (Connection, Consumer) {
        test_support::amqp::listen(AMQP, exchange, &format!("{prefix}.#"), "stream-test").await
    }

    /// Receives until `want` messages arrived and the child exited, then a little longer
    /// for duplicates. `on_progress` sees the count after every message.
    pub async fn receive(
        consumer: &mut Consumer,
        child: &mut Child,
        want: usize,
        mut on_progress: impl FnMut(usize),
    ) -> Vec<Received> {
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut exited_at: Option<Instant> = None;
        loop {
            match tokio::time::timeout(Duration::from_millis(100), consumer.next()).await {
                Ok(Some(delivery)) => {
                    let d = delivery.unwrap();
                    assert_eq!(d.properties.delivery_mode(), &Some(2), "persistent");
                    let body = String::from_utf8(d.data.clone()).unwrap();
                    assert_eq!(
                        d.properties.message_id().as_ref().map(|s| s.to_string()),
                        Some(seq_of(&body).to_string())
                    );
                    got.push(Received {
                        key: d.routing_key.to_string(),
                        body,
                    });
                    on_progress(got.len());
                }
                Ok(None) => panic!("the consumer was cancelled"),
                Err(_) => {}
            }
            if exited_at.is_none() && child.try_wait().unwrap().is_some() {
                exited_at = Some(Instant::now());
            }
            if let Some(at) = exited_at
                && got.len() >= want
                && at.elapsed() > Duration::from_millis(300)
            {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "received {} of {want} messages in 60 s",
                got.len()
            );
        }
    }

    /// The broker's id of the connection `aladdin stream` with this pid opened.
    pub fn connection_of(pid: u32) -> Option<String> {
        let name = format!("aladdin stream (pid {pid})");
        // one line per connection: the Erlang pid (in the form close_connection takes), a
        // tab, then the client properties, which hold the connection name
        let list = Command::new("rabbitmqctl")
            .args(["list_connections", "pid", "client_properties", "--quiet"])
            .output()
            .expect("rabbitmqctl runs");
        assert!(
            list.status.success(),
            "{}",
            String::from_utf8_lossy(&list.stderr)
        );
        let text = String::from_utf8(list.stdout).unwrap();
        let line = text.lines().find(|l| l.contains(&format!("\"{name}\"")))?;
        Some(line.split('\t').next().unwrap().to_string())
    }

    /// Closes a connection server-side, as a broker restart or an operator would.
    pub fn close(connection: &str) {
        let closed = Command::new("rabbitmqctl")
            .args([
                "close_connection",
                connection,
                "test: connection closed mid-stream",
            ])
            .output()
            .expect("rabbitmqctl runs");
        assert!(
            closed.status.success(),
            "{}",
            String::from_utf8_lossy(&closed.stderr)
        );
    }
}

#[test]
fn rabbitmq_replay_equals_the_changes_view() {
    if services::RABBITMQ
        .require("rabbitmq_replay_equals_the_changes_view")
        .is_none()
    {
        return;
    }
    let want = expected();
    let shop = shop();
    let (exchange, prefix) = (unique("x"), unique("p"));
    let _cleanup = delete_exchange_later(&exchange);
    runtime().block_on(async {
        let (_conn, mut consumer) = rabbit::consumer(&exchange, &prefix).await;
        let mut args = replay_args(&shop, AMQP);
        args.extend(["--exchange", &exchange, "--prefix", &prefix]);
        let (mut child, log) = spawn(&args, Stdio::null());
        let got = rabbit::receive(&mut consumer, &mut child, want.len(), |_| {}).await;
        let err = finish(child, log, Duration::from_secs(30));
        assert_same_replay(&got, want, &prefix);
        assert!(
            err.contains(&format!("{} messages", group(want.len()))),
            "{err}"
        );
    });
}

#[test]
fn rabbitmq_connection_loss_loses_nothing() {
    if services::RABBITMQ
        .require("rabbitmq_connection_loss_loses_nothing")
        .is_none()
    {
        return;
    }
    let want = expected();
    let shop = shop();
    let (exchange, prefix) = (unique("x"), unique("p"));
    let _cleanup = delete_exchange_later(&exchange);
    runtime().block_on(async {
        let (_conn, mut consumer) = rabbit::consumer(&exchange, &prefix).await;
        // paced, so the stream is still running when the connection is closed: a day in
        // about 8 s, of which rabbitmqctl (an Erlang VM per call) takes one or two
        let args = [
            "stream",
            "--scenario",
            &shop.path,
            "--start",
            DAY,
            "--until",
            DAY,
            "--speed",
            "10000",
            "--out",
            AMQP,
            "--exchange",
            &exchange,
            "--prefix",
            &prefix,
        ];
        let (mut child, log) = spawn(&args, Stdio::null());
        let pid = child.id();
        let received = Arc::new(AtomicUsize::new(0));
        let quarter = want.len() / 4;
        let mut cutter: Option<std::thread::JoinHandle<(usize, usize)>> = None;
        let got = rabbit::receive(&mut consumer, &mut child, want.len(), |n| {
            received.store(n, Ordering::Relaxed);
            if cutter.is_none() {
                // look the connection up as soon as it carries messages; close it a quarter in
                let received = received.clone();
                cutter = Some(std::thread::spawn(move || {
                    let connection = rabbit::connection_of(pid).expect("the stream's connection");
                    while received.load(Ordering::Relaxed) < quarter {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    let before = received.load(Ordering::Relaxed);
                    rabbit::close(&connection);
                    (before, received.load(Ordering::Relaxed))
                }));
            }
        })
        .await;
        let err = finish(child, log, Duration::from_secs(60));
        let (before, after) = cutter.unwrap().join().unwrap();
        assert!(
            after < want.len(),
            "the stream ended before the connection was closed ({before}..{after} of {})",
            want.len()
        );
        assert!(
            err.contains("reconnected"),
            "no reconnection reported: {err}"
        );
        assert!(err.contains(" reconnection"), "{err}");
        let duplicates = assert_at_least_once(&got, want);
        // RabbitMQ delivers a channel's messages in order: the first copies are the day in order
        let mut firsts = Vec::new();
        let mut seen = BTreeSet::new();
        for r in &got {
            if seen.insert(seq_of(&r.body)) {
                firsts.push(r.clone());
            }
        }
        assert_same_replay(&firsts, want, &prefix);
        eprintln!("connection closed mid-stream: {duplicates} duplicates, nothing lost");
    });
}

// ---------------------------------------------------------------------------------------
// NATS JetStream

mod nats {
    use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};

    use super::*;

    /// Every message stored in JetStream stream `name`, in stream order.
    pub async fn read_stream(name: &str) -> Vec<Received> {
        let client = async_nats::connect(NATS).await.unwrap();
        let js = async_nats::jetstream::new(client);
        let mut stream = js.get_stream(name).await.unwrap();
        let total = stream.info().await.unwrap().state.messages as usize;
        let consumer = stream
            .create_consumer(pull::Config {
                deliver_policy: DeliverPolicy::All,
                ack_policy: AckPolicy::None,
                ..pull::Config::default()
            })
            .await
            .unwrap();
        let mut messages = consumer.messages().await.unwrap();
        let mut got = Vec::with_capacity(total);
        while got.len() < total {
            let m = tokio::time::timeout(Duration::from_secs(10), messages.next())
                .await
                .expect("the stream delivers")
                .unwrap()
                .unwrap();
            got.push(Received {
                key: m.subject.to_string(),
                body: String::from_utf8(m.payload.to_vec()).unwrap(),
            });
        }
        got
    }

    /// A TCP proxy to NATS that can drop every connection through it, like a network fault.
    pub struct Proxy {
        pub port: u16,
        conns: Arc<Mutex<Vec<TcpStream>>>,
    }

    impl Proxy {
        pub fn start(upstream: &'static str) -> Proxy {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
            let registry = conns.clone();
            // lives as long as the test process: it only ever serves this test's stream
            std::thread::spawn(move || {
                for client in listener.incoming() {
                    let Ok(client) = client else { continue };
                    let Ok(server) = TcpStream::connect(upstream) else {
                        continue;
                    };
                    let mut r = registry.lock().unwrap();
                    r.push(client.try_clone().unwrap());
                    r.push(server.try_clone().unwrap());
                    drop(r);
                    pump(client.try_clone().unwrap(), server.try_clone().unwrap());
                    pump(server, client);
                }
            });
            Proxy { port, conns }
        }

        /// Drops every connection open through the proxy; returns how many.
        pub fn cut(&self) -> usize {
            let mut conns = self.conns.lock().unwrap();
            for c in conns.iter() {
                let _ = c.shutdown(std::net::Shutdown::Both);
            }
            let n = conns.len() / 2;
            conns.clear();
            n
        }
    }

    fn pump(mut from: TcpStream, mut to: TcpStream) {
        std::thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            loop {
                match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = to.shutdown(std::net::Shutdown::Both);
        });
    }
}

#[test]
fn nats_replay_equals_the_changes_view() {
    if services::NATS
        .require("nats_replay_equals_the_changes_view")
        .is_none()
    {
        return;
    }
    let want = expected();
    let shop = shop();
    let prefix = unique("p");
    let stream = prefix.to_uppercase();
    let _cleanup = delete_stream_later(&stream);
    let mut args = replay_args(&shop, NATS);
    args.extend(["--prefix", &prefix, "--stream", &stream]);
    let (child, log) = spawn(&args, Stdio::null());
    let err = finish(child, log, Duration::from_secs(60));
    assert!(
        err.contains(&format!("{} messages", group(want.len()))),
        "{err}"
    );
    let got = runtime().block_on(nats::read_stream(&stream));
    assert_same_replay(&got, want, &prefix);
}

#[test]
fn nats_connection_loss_loses_nothing() {
    if services::NATS
        .require("nats_connection_loss_loses_nothing")
        .is_none()
    {
        return;
    }
    let want = expected();
    let shop = shop();
    let prefix = unique("p");
    let stream = prefix.to_uppercase();
    let _cleanup = delete_stream_later(&stream);
    let proxy = nats::Proxy::start("127.0.0.1:4222");
    let url = format!("nats://127.0.0.1:{}", proxy.port);
    let args = [
        "stream",
        "--scenario",
        &shop.path,
        "--start",
        DAY,
        "--until",
        DAY,
        "--speed",
        "20000",
        "--out",
        &url,
        "--prefix",
        &prefix,
        "--stream",
        &stream,
    ];
    let got = runtime().block_on(async {
        // watch the stream's progress directly on the server, and cut the proxy a quarter in
        let watcher = async_nats::connect(NATS).await.unwrap();
        let mut live = watcher.subscribe(format!("{prefix}.>")).await.unwrap();
        watcher.flush().await.unwrap();
        let (mut child, log) = spawn(&args, Stdio::null());
        let mut seen = 0;
        let mut cut = 0;
        let deadline = Instant::now() + Duration::from_secs(60);
        while cut == 0 {
            match tokio::time::timeout(Duration::from_millis(100), live.next()).await {
                Ok(Some(_)) => seen += 1,
                Ok(None) => panic!("subscription ended"),
                Err(_) => {}
            }
            if seen >= want.len() / 4 {
                cut = proxy.cut();
            }
            assert!(
                child.try_wait().unwrap().is_none(),
                "the stream ended before the fault"
            );
            assert!(Instant::now() < deadline, "the stream made no progress");
        }
        let err = finish(child, log, Duration::from_secs(60));
        assert!(
            err.contains("reconnected"),
            "no reconnection reported: {err}"
        );
        nats::read_stream(&stream).await
    });
    let duplicates = assert_at_least_once(&got, want);
    eprintln!("connection dropped mid-stream: {duplicates} duplicates, nothing lost");
}

// ---------------------------------------------------------------------------------------
// bad input

fn rejects(args: &[&str], code: i32, needles: &[&str]) -> Output {
    let shop = shop();
    let mut full = vec!["stream", "--scenario", &shop.path];
    if !args.contains(&"--speed") {
        full.extend_from_slice(&["--speed", "0"]);
    }
    if !args.contains(&"--start") {
        full.extend_from_slice(&["--start", DAY]);
    }
    full.extend_from_slice(args);
    let out = aladdin(&full);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
    for n in needles {
        assert!(
            err.contains(n),
            "{args:?}: the message should name {n:?}: {err}"
        );
    }
    assert!(out.stdout.is_empty(), "{args:?} wrote output");
    out
}

#[test]
fn bad_input_gets_a_clear_error() {
    // usage errors: exit 2, naming the bad value and what would be valid
    rejects(&["--tables", "events,widgets"], 2, &["widgets", "orders"]);
    rejects(
        &["--out", "kafka://localhost:9092"],
        2,
        &["kafka://localhost:9092", "amqp://", "nats://"],
    );
    rejects(
        &["--out", "amqp://localhost:notaport"],
        2,
        &["amqp://localhost:notaport"],
    );
    rejects(
        &["--out", "nats://localhost:notaport"],
        2,
        &["nats://localhost:notaport"],
    );
    rejects(&["--speed", "-3"], 2, &["-3"]);
    rejects(&["--until", "2024-01-09"], 2, &["--until", "before"]);
    rejects(&["--start", "tomorrow"], 2, &["tomorrow"]);
    rejects(&["--prefix", "a.*"], 2, &["a.*"]);
    // unreachable brokers: exit 1, naming the target
    let free = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let amqp = format!("amqp://guest:secret@127.0.0.1:{free}");
    let out = rejects(
        &["--until", DAY, "--out", &amqp],
        1,
        &["cannot connect", &format!("127.0.0.1:{free}")],
    );
    assert!(!stderr(&out).contains("secret"), "the password is shown");
    let nats = format!("nats://127.0.0.1:{free}");
    rejects(
        &["--until", DAY, "--out", &nats],
        1,
        &["cannot connect", &nats],
    );
}
