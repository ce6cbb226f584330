//! The live stream (`aladdin stream`): change records released by a virtual clock to
//! standard output, RabbitMQ or NATS JetStream.
//!
//! A run carries the changes view of the selected tables (the same rows, in the same order,
//! as `aladdin generate --view changes` writes for that period), merged across tables by their
//! global `seq`, one JSON message per record ([`message`]). A producer thread generates day
//! after day ([`source`]); the publisher releases each record when the virtual clock
//! ([`clock`]) reaches its `ts`, and hands it to the target:
//!
//! - [`stdout`]: JSON Lines;
//! - [`amqp`] (feature `amqp`): a durable topic exchange, routing key `<prefix>.<table>.<op>`,
//!   persistent messages, publisher confirms;
//! - [`nats`] (feature `nats`): a JetStream stream on subjects `<prefix>.>`, acked publishes.
//!
//! Both brokers go through [`reliable`]: a bounded window of unconfirmed messages, reconnection
//! with back-off, and a re-send from the first unconfirmed message — at least once, in order
//! per table.

#[cfg(feature = "amqp")]
pub mod amqp;
pub mod clock;
pub mod message;
#[cfg(feature = "nats")]
pub mod nats;
pub mod reliable;
pub mod source;
pub mod stdout;

use std::time::Duration;

use faux::{Scenario, TableDef, Timestamp};
use tokio::sync::mpsc;
use tokio::time::Instant;

#[cfg(any(feature = "amqp", feature = "nats"))]
use crate::destination::BrokerUrl;
use crate::destination::Destination;
pub use clock::{Origin, VirtualClock, wall_clock_now};
pub use message::Message;
pub use source::Bounds;

/// Why a stream stopped early.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("cannot connect to {target}: {reason}")]
    Connect { target: String, reason: String },
    #[error(
        "lost the connection to {target} and could not reconnect for {secs} s ({reason}){}",
        resume(*confirmed)
    )]
    Lost {
        target: String,
        reason: String,
        secs: u64,
        confirmed: Option<i64>,
    },
    #[error("{target} refused the stream: {reason}{}", resume(*confirmed))]
    Broker {
        target: String,
        reason: String,
        confirmed: Option<i64>,
    },
    #[error("writing to standard output: {0}")]
    Io(std::io::Error),
    #[error("starting the async runtime: {0}")]
    Runtime(std::io::Error),
    /// The reader of standard output went away: the stream ends normally.
    #[error("standard output was closed")]
    ReaderGone,
}

fn resume(confirmed: Option<i64>) -> String {
    match confirmed {
        Some(seq) => {
            format!("; every message up to seq {seq} is confirmed: resume after seq {seq}")
        }
        None => "; no message was confirmed".to_string(),
    }
}

impl StreamError {
    /// The last sequence number the destination confirmed before the stream stopped, if any:
    /// where a new run resumes.
    pub fn confirmed(&self) -> Option<i64> {
        match self {
            StreamError::Lost { confirmed, .. } | StreamError::Broker { confirmed, .. } => {
                *confirmed
            }
            _ => None,
        }
    }
}

/// Where messages go: the destinations a stream can send to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Stdout,
    #[cfg(feature = "amqp")]
    Amqp(BrokerUrl),
    #[cfg(feature = "nats")]
    Nats(BrokerUrl),
}

impl TryFrom<Destination> for Target {
    /// A destination a stream cannot send to, handed back to say what it is.
    type Error = Destination;

    fn try_from(d: Destination) -> Result<Target, Destination> {
        match d {
            Destination::Stdout => Ok(Target::Stdout),
            #[cfg(feature = "amqp")]
            Destination::Amqp(url) => Ok(Target::Amqp(url)),
            #[cfg(feature = "nats")]
            Destination::Nats(url) => Ok(Target::Nats(url)),
            other => Err(other),
        }
    }
}

impl Target {
    /// The target as shown to users (no password).
    pub fn shown(&self) -> &str {
        match self {
            Target::Stdout => "standard output",
            #[cfg(feature = "amqp")]
            Target::Amqp(url) => &url.shown,
            #[cfg(feature = "nats")]
            Target::Nats(url) => &url.shown,
        }
    }
}

/// Checks a routing-key / subject prefix: dot-separated words without wildcards or spaces.
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    let ok = !prefix.is_empty()
        && prefix.split('.').all(|w| {
            !w.is_empty()
                && w.chars()
                    .all(|c| !c.is_whitespace() && !c.is_control() && !"*>#".contains(c))
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid prefix {prefix:?}: expected dot-separated words without spaces or the wildcards * > #, e.g. ecommerce or dev.shop"
        ))
    }
}

/// The JetStream stream name used when none is given: the prefix in capitals, each character
/// a stream name cannot hold replaced by `_` (`ecommerce` → `ECOMMERCE`).
pub fn default_stream_name(prefix: &str) -> String {
    prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Checks a JetStream stream name.
pub fn check_stream_name(name: &str) -> Result<(), String> {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(())
    } else {
        Err(format!(
            "invalid stream name {name:?}: use letters, digits, - and _"
        ))
    }
}

/// Broker settings of a run.
#[derive(Debug, Clone)]
pub struct BrokerOptions {
    /// First part of routing keys and subjects: `<prefix>.<table>.<op>`.
    pub prefix: String,
    /// RabbitMQ exchange (durable, topic).
    pub exchange: String,
    /// JetStream stream.
    pub stream: String,
    /// Messages sent but not yet confirmed, at most.
    pub max_in_flight: usize,
    pub backoff: reliable::Backoff,
}

/// One `aladdin stream` run.
#[derive(Debug)]
pub struct StreamRun<'a> {
    pub scenario: &'a Scenario,
    pub tables: Vec<&'static TableDef>,
    pub bounds: Bounds,
    /// Where virtual time starts (it should be `bounds.start` unless that is now).
    pub origin: Origin,
    /// Virtual seconds per real second; 0: as fast as possible.
    pub speed: f64,
    /// Stop after this many messages.
    pub count: Option<u64>,
    pub target: Target,
    pub broker: BrokerOptions,
    /// Threads generating a day's tables.
    pub threads: usize,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Messages handed to the target (each once, however often it was re-sent).
    pub messages: u64,
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
    /// Every message up to this seq is confirmed by the target: the resume point.
    pub confirmed_seq: Option<i64>,
    pub first_ts: Option<Timestamp>,
    pub last_ts: Option<Timestamp>,
    pub reconnects: u64,
    /// From the first message ready to the last one confirmed.
    pub elapsed: Duration,
    /// Stopped by Ctrl-C / SIGTERM.
    pub interrupted: bool,
    /// Stopped because the reader of standard output went away.
    pub reader_gone: bool,
}

/// A target as the driver sees it. (Crate-internal: the `async fn`s carry no `Send` bound,
/// which suits the single-threaded runtime a run uses.)
#[allow(async_fn_in_trait)]
pub trait Publisher {
    async fn publish(&mut self, msg: Message) -> Result<(), StreamError>;
    /// Called before the stream waits for the clock.
    async fn idle(&mut self) -> Result<(), StreamError>;
    /// Waits until everything is confirmed, then closes.
    async fn finish(&mut self) -> Result<(), StreamError>;
    /// The seq up to which every message is confirmed.
    fn confirmed(&self) -> Option<i64>;
    fn reconnects(&self) -> u64;
}

impl StreamRun<'_> {
    /// Streams until the bounds or the count end, the reader goes away, or a signal.
    pub fn run(self) -> Result<Summary, StreamError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(StreamError::Runtime)?;
        let (tx, rx) = mpsc::channel::<Vec<Message>>(16);
        let StreamRun {
            scenario,
            tables,
            bounds,
            origin,
            speed,
            count,
            target,
            broker,
            threads,
        } = self;
        let tables = &tables;
        std::thread::scope(|s| {
            s.spawn(move || source::produce(scenario, tables, bounds, threads, tx));
            // the receiver is dropped when the run ends, which stops the producer
            runtime.block_on(publish_to(target, broker, rx, origin, speed, count))
        })
    }
}

async fn publish_to(
    target: Target,
    broker: BrokerOptions,
    rx: mpsc::Receiver<Vec<Message>>,
    origin: Origin,
    speed: f64,
    count: Option<u64>,
) -> Result<Summary, StreamError> {
    // (a build without broker features has no use for the broker settings)
    let _ = &broker;
    match target {
        Target::Stdout => {
            let mut p = stdout::Stdout::new();
            drive(&mut p, rx, origin, speed, count).await
        }
        #[cfg(feature = "amqp")]
        Target::Amqp(url) => {
            let shown = url.shown.clone();
            let connector = amqp::AmqpConnector::new(url, &broker.exchange, &broker.prefix);
            let mut p =
                reliable::Reliable::open(connector, broker.max_in_flight, broker.backoff).await?;
            tracing::info!(
                "connected to {}: exchange {:?}, routing keys {}.<table>.<op>",
                shown,
                broker.exchange,
                broker.prefix
            );
            drive(&mut p, rx, origin, speed, count).await
        }
        #[cfg(feature = "nats")]
        Target::Nats(url) => {
            let shown = url.shown.clone();
            let connector =
                nats::NatsConnector::new(url, &broker.stream, &broker.prefix, broker.max_in_flight);
            let mut p =
                reliable::Reliable::open(connector, broker.max_in_flight, broker.backoff).await?;
            tracing::info!(
                "connected to {}: JetStream stream {:?}, subjects {}.<table>.<op>",
                shown,
                broker.stream,
                broker.prefix
            );
            drive(&mut p, rx, origin, speed, count).await
        }
    }
}

/// Resolves on Ctrl-C or (on Unix) SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// How long a stopping stream waits for the last confirmations after a signal.
const FINISH_AFTER_SIGNAL: Duration = Duration::from_secs(10);

/// Releases the messages of `rx` to `p` as the clock reaches them.
pub async fn drive<P: Publisher>(
    p: &mut P,
    rx: mpsc::Receiver<Vec<Message>>,
    origin: Origin,
    speed: f64,
    count: Option<u64>,
) -> Result<Summary, StreamError> {
    let mut summary = Summary::default();
    let mut started = None;
    let outcome = tokio::select! {
        r = release(p, rx, origin, speed, count, &mut summary, &mut started) => r,
        _ = shutdown_signal() => {
            summary.interrupted = true;
            Ok(())
        }
    };
    let finished = match outcome {
        Err(StreamError::ReaderGone) => {
            summary.reader_gone = true;
            Ok(())
        }
        Ok(()) if summary.interrupted => {
            match tokio::time::timeout(FINISH_AFTER_SIGNAL, p.finish()).await {
                Ok(r) => r,
                Err(_) => Ok(()),
            }
        }
        Ok(()) => p.finish().await,
        Err(e) => Err(e),
    };
    let finished = match finished {
        Err(StreamError::ReaderGone) => {
            summary.reader_gone = true;
            Ok(())
        }
        other => other,
    };
    summary.confirmed_seq = p.confirmed();
    summary.reconnects = p.reconnects();
    summary.elapsed = started.map_or(Duration::ZERO, |s: Instant| s.elapsed());
    finished.map(|()| summary)
}

async fn release<P: Publisher>(
    p: &mut P,
    mut rx: mpsc::Receiver<Vec<Message>>,
    origin: Origin,
    speed: f64,
    count: Option<u64>,
    summary: &mut Summary,
    started: &mut Option<Instant>,
) -> Result<(), StreamError> {
    if count == Some(0) {
        return Ok(());
    }
    let mut clock = None;
    while let Some(chunk) = rx.recv().await {
        // virtual time starts with the first records ready, not while the first day generates
        let clock = *clock.get_or_insert_with(|| VirtualClock::start(origin, speed));
        started.get_or_insert_with(Instant::now);
        for msg in chunk {
            if let Some(due) = clock.due(msg.ts) {
                p.idle().await?;
                tokio::time::sleep_until(due).await;
            }
            summary.first_seq.get_or_insert(msg.seq);
            summary.first_ts.get_or_insert(msg.ts);
            summary.last_seq = Some(msg.seq);
            summary.last_ts = Some(msg.ts);
            p.publish(msg).await?;
            summary.messages += 1;
            if Some(summary.messages) == count {
                return Ok(());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_sends_to_standard_output_and_brokers_only() {
        let target = |s: &str| Target::try_from(Destination::parse(s).unwrap());
        assert_eq!(target("-").unwrap(), Target::Stdout);
        #[cfg(feature = "amqp")]
        assert_eq!(target("amqp://h").unwrap().shown(), "amqp://h:5672");
        #[cfg(feature = "nats")]
        assert_eq!(target("nats://h").unwrap().shown(), "nats://h:4222");
        assert!(matches!(target("stdout"), Err(Destination::Folder(_))));
    }

    #[test]
    fn prefixes_and_stream_names() {
        assert!(check_prefix("ecommerce").is_ok());
        assert!(check_prefix("dev.shop-1").is_ok());
        for bad in ["", "a..b", "a.*", "a b", "x.>", "#"] {
            assert!(check_prefix(bad).is_err(), "{bad}");
        }
        assert_eq!(default_stream_name("dev.shop-1"), "DEV_SHOP-1");
        assert!(check_stream_name("DEV_SHOP-1").is_ok());
        assert!(check_stream_name("a.b").is_err());
    }

    fn msg(seq: i64, ts: i64) -> Message {
        Message {
            table: "events",
            op: "insert",
            seq,
            ts: Timestamp(ts),
            body: format!("{{\"seq\":{seq}}}").into_bytes().into(),
        }
    }

    #[test]
    fn writes_json_lines_and_stops_at_the_count() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (tx, rx) = mpsc::channel(4);
        rt.block_on(async {
            tx.send(vec![msg(1, 10), msg(2, 10)]).await.unwrap();
            tx.send(vec![msg(3, 11), msg(4, 12)]).await.unwrap();
            drop(tx);
            let mut out = stdout::Stdout::to(Vec::new());
            let s = drive(&mut out, rx, Origin::At(Timestamp(0)), 0.0, Some(3))
                .await
                .unwrap();
            assert_eq!(s.messages, 3);
            assert_eq!(
                (s.first_seq, s.last_seq, s.confirmed_seq),
                (Some(1), Some(3), Some(3))
            );
            let text = String::from_utf8(out.into_inner().unwrap()).unwrap();
            assert_eq!(text, "{\"seq\":1}\n{\"seq\":2}\n{\"seq\":3}\n");
        });
    }
}
