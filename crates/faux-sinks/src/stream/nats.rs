//! `--out nats://…`: NATS JetStream through `async-nats`.
//!
//! Messages are published to subject `<prefix>.<table>.<op>` and stored by a JetStream stream
//! (created if missing, subjects `<prefix>.>`); each publish is acknowledged by the stream.
//! The NATS client reconnects by itself; a disconnect makes every unacknowledged publish count
//! as lost at once (rather than after an ack timeout), and [`super::reliable::Reliable`]
//! re-sends the window once the client is connected again.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_nats::connection::State;
use async_nats::jetstream::context::{
    Context, ContextBuilder, CreateStreamErrorKind, PublishError, PublishErrorKind,
};
use async_nats::jetstream::stream::Config;
use async_nats::{Client, ConnectOptions, Event, ServerAddr};
use tokio::sync::watch;

use super::message::Message;
use super::reliable::{Confirm, Connector, Link, LinkError};
use crate::destination::BrokerUrl;

/// How long a connection attempt (or a wait for the client's own reconnection) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for a stream's ack before the publish counts as lost.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// Checks a `nats://` URL and returns it as shown to users (without credentials).
pub fn parse_url(url: &str) -> Result<String, String> {
    if !(url.starts_with("nats://") || url.starts_with("tls://")) {
        return Err("expected nats://host:port (or tls://host:port)".into());
    }
    let addr = ServerAddr::from_str(url).map_err(|e| e.to_string())?;
    if addr.host().is_empty() {
        return Err("no host".into());
    }
    Ok(format!(
        "{}://{}:{}",
        addr.scheme(),
        addr.host(),
        addr.port()
    ))
}

#[derive(Debug)]
pub struct NatsConnector {
    url: BrokerUrl,
    stream: String,
    prefix: String,
    capacity: usize,
    client: Option<Client>,
    /// Counts disconnections, so outstanding acks can fail as soon as the link drops.
    disconnects: Arc<watch::Sender<u64>>,
}

impl NatsConnector {
    /// A connector to `url`, checked by [`crate::destination::Destination::parse`].
    pub fn new(url: BrokerUrl, stream: &str, prefix: &str, capacity: usize) -> NatsConnector {
        NatsConnector {
            url,
            stream: stream.to_string(),
            prefix: prefix.to_string(),
            capacity,
            client: None,
            disconnects: Arc::new(watch::channel(0).0),
        }
    }

    async fn client(&mut self) -> Result<Client, LinkError> {
        if let Some(client) = &self.client {
            // the client reconnects on its own: wait for it
            let waited = tokio::time::Instant::now();
            while client.connection_state() != State::Connected {
                if waited.elapsed() > CONNECT_TIMEOUT {
                    return Err(LinkError::Lost("still reconnecting".into()));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            return Ok(client.clone());
        }
        let disconnects = self.disconnects.clone();
        let client = ConnectOptions::new()
            .name(format!("aladdin stream (pid {})", std::process::id()))
            .connection_timeout(CONNECT_TIMEOUT)
            .max_reconnects(None)
            .event_callback(move |event| {
                let disconnects = disconnects.clone();
                async move {
                    if matches!(event, Event::Disconnected) {
                        disconnects.send_modify(|n| *n += 1);
                    }
                }
            })
            .connect(self.url.url.as_str())
            .await
            .map_err(|e| LinkError::Lost(e.to_string()))?;
        self.client = Some(client.clone());
        Ok(client)
    }
}

impl Connector for NatsConnector {
    type Link = NatsLink;

    async fn connect(&mut self) -> Result<NatsLink, LinkError> {
        let client = self.client().await?;
        let js = ContextBuilder::new()
            .timeout(ACK_TIMEOUT)
            // our own window bounds what is in flight, but after a disconnect the permits of
            // the abandoned acks come back only when those time out: room for a full re-send
            .max_ack_inflight(2 * self.capacity + 16)
            .ack_timeout(ACK_TIMEOUT)
            .backpressure_on_inflight(true)
            .build(client);
        let subjects = format!("{}.>", self.prefix);
        let stream = js
            .get_or_create_stream(Config {
                name: self.stream.clone(),
                subjects: vec![subjects.clone()],
                ..Config::default()
            })
            .await
            .map_err(|e| match e.kind() {
                CreateStreamErrorKind::TimedOut | CreateStreamErrorKind::Response => {
                    LinkError::Lost(e.to_string())
                }
                CreateStreamErrorKind::JetStreamUnavailable => LinkError::Fatal(format!(
                    "JetStream is not enabled on this server (start nats-server with -js): {e}"
                )),
                _ => LinkError::Fatal(format!("creating stream {:?}: {e}", self.stream)),
            })?;
        let have = &stream.cached_info().config.subjects;
        if !have.iter().any(|s| *s == subjects || s == ">") {
            return Err(LinkError::Fatal(format!(
                "stream {:?} exists with subjects {have:?}, which do not take {subjects}: choose another stream name or subject prefix",
                self.stream
            )));
        }
        Ok(NatsLink {
            client: js.client(),
            js,
            prefix: self.prefix.clone(),
            disconnects: self.disconnects.clone(),
        })
    }

    async fn close(&mut self, _link: NatsLink) {
        if let Some(client) = self.client.take() {
            // every publish is acknowledged by now; flush is a formality
            let _ = client.flush().await;
        }
    }

    fn target(&self) -> &str {
        &self.url.shown
    }
}

pub struct NatsLink {
    client: Client,
    js: Context,
    prefix: String,
    disconnects: Arc<watch::Sender<u64>>,
}

impl std::fmt::Debug for NatsLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsLink")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn classify(e: PublishError) -> LinkError {
    match e.kind() {
        PublishErrorKind::MaxPayloadExceeded => LinkError::Fatal(e.to_string()),
        // a stream deleted while streaming is re-created by the reconnection
        _ => LinkError::Lost(e.to_string()),
    }
}

impl Link for NatsLink {
    async fn send(&mut self, msg: &Message) -> Result<Confirm, LinkError> {
        // while the client reconnects it queues publishes and sends them on the new
        // connection, possibly ahead of earlier ones it lost: stop at once instead, so the
        // re-send starts from the first unconfirmed message
        if self.client.connection_state() != State::Connected {
            return Err(LinkError::Lost("disconnected".into()));
        }
        let subject = format!("{}.{}.{}", self.prefix, msg.table, msg.op);
        // a receiver made now sees only disconnections after this publish
        let mut dropped = self.disconnects.subscribe();
        let ack = self
            .js
            .publish(subject, msg.body.clone())
            .await
            .map_err(classify)?;
        Ok(Box::pin(async move {
            tokio::select! {
                acked = ack.into_future() => acked.map(|_| ()).map_err(classify),
                _ = dropped.changed() => Err(LinkError::Lost("disconnected".into())),
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_shown_without_credentials() {
        assert_eq!(
            parse_url("nats://user:pw@127.0.0.1:4222").unwrap(),
            "nats://127.0.0.1:4222"
        );
        assert_eq!(
            parse_url("nats://localhost").unwrap(),
            "nats://localhost:4222"
        );
        assert!(parse_url("nats://localhost:notaport").is_err());
        assert!(parse_url("http://localhost").is_err());
    }
}
