//! The features service's consumer: a durable RabbitMQ queue bound to the `sessions` and
//! `events` records of `aladdin stream`'s exchange, applied to the store in batches. A batch
//! is acknowledged after its transaction commits, so a crash loses nothing (the broker
//! redelivers) and a redelivery changes nothing (the store skips seqs it has applied).

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, QueueBindOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};

use crate::store::{Change, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("RabbitMQ {target}: {source}")]
    Broker {
        target: String,
        source: lapin::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub broker: String,
    pub exchange: String,
    /// `aladdin stream`'s prefix: routing keys `<prefix>.<table>.<op>`.
    pub prefix: String,
    pub queue: String,
    /// Records per transaction at most.
    pub batch: usize,
    /// Stop once no record arrived for this long (None: run until stopped).
    pub exit_when_idle: Option<Duration>,
    /// Stop once the store has applied this seq (the last one a finished stream printed).
    pub stop_at_seq: Option<i64>,
    /// Only declare the queue and its bindings, then stop (so a stream started next is
    /// not missed).
    pub setup_only: bool,
    /// The broker deletes the queue after it has had no consumer for this long (tests).
    pub queue_expires: Option<Duration>,
}

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub received: u64,
    pub applied: u64,
    /// Skipped records with malformed JSON.
    pub malformed: u64,
}

/// The broker URL without its password, for messages.
fn shown(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

pub async fn run(store: &mut Store, opts: &IngestOptions) -> Result<Summary, IngestError> {
    let target = shown(&opts.broker);
    let err = |source| IngestError::Broker {
        target: target.clone(),
        source,
    };
    let conn = Connection::connect(
        &opts.broker,
        ConnectionProperties::default().with_connection_name(
            format!("kingfisher features (pid {})", std::process::id()).into(),
        ),
    )
    .await
    .map_err(err)?;
    let ch = conn.create_channel().await.map_err(err)?;
    crate::amqp::declare_exchange(&ch, &opts.exchange)
        .await
        .map_err(err)?;
    crate::amqp::declare_queue(&ch, &opts.queue, opts.queue_expires)
        .await
        .map_err(err)?;
    // a session's update (its end) is not read, but bound all the same: the store's progress
    // then reaches every seq the stream sent (`--stop-at-seq` is the stream's last)
    for key in ["sessions.insert", "sessions.update", "events.insert"] {
        ch.queue_bind(
            opts.queue.as_str().into(),
            opts.exchange.as_str().into(),
            format!("{}.{key}", opts.prefix).into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(err)?;
    }
    let mut summary = Summary::default();
    if opts.setup_only {
        let _ = conn.close(200, "set up".into()).await;
        return Ok(summary);
    }
    ch.basic_qos(
        (opts.batch * 2).min(u16::MAX as usize) as u16,
        BasicQosOptions::default(),
    )
    .await
    .map_err(err)?;
    let mut consumer = ch
        .basic_consume(
            opts.queue.as_str().into(),
            "kingfisher-features".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(err)?;
    let mut batch: Vec<Change> = Vec::with_capacity(opts.batch);
    let mut last_tag: Option<u64> = None;
    let mut last_message = Instant::now();
    loop {
        let next = tokio::time::timeout(Duration::from_millis(200), consumer.next()).await;
        let flush = match next {
            Ok(Some(delivery)) => {
                let d = delivery.map_err(err)?;
                summary.received += 1;
                last_message = Instant::now();
                last_tag = Some(d.delivery_tag);
                match serde_json::from_slice::<Change>(&d.data) {
                    Ok(c) => batch.push(c),
                    Err(e) => {
                        // a poison message would come back forever: log it and move on
                        summary.malformed += 1;
                        tracing::warn!(
                            "skipping a malformed message on {}: {e}",
                            d.routing_key.as_str()
                        );
                    }
                }
                batch.len() >= opts.batch
            }
            Ok(None) => {
                tracing::warn!("the broker cancelled the consumer");
                break;
            }
            Err(_) => true,
        };
        if flush && let Some(tag) = last_tag.take() {
            summary.applied += store.apply(&batch)? as u64;
            batch.clear();
            ch.basic_ack(tag, BasicAckOptions { multiple: true })
                .await
                .map_err(err)?;
        }
        if let Some(stop) = opts.stop_at_seq
            && last_tag.is_none()
            && store.progress()?.is_some_and(|(seq, _)| seq >= stop)
        {
            break;
        }
        if opts
            .exit_when_idle
            .is_some_and(|idle| last_tag.is_none() && last_message.elapsed() >= idle)
        {
            break;
        }
    }
    if let Some(tag) = last_tag {
        summary.applied += store.apply(&batch)? as u64;
        ch.basic_ack(tag, BasicAckOptions { multiple: true })
            .await
            .map_err(err)?;
    }
    let _ = conn.close(200, "done".into()).await;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            super::shown("amqp://guest:secret@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(super::shown("amqp://localhost"), "amqp://localhost");
    }
}
