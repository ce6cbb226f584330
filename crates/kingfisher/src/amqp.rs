//! The RabbitMQ topology every Kingfisher service declares before it uses it (declarations
//! are idempotent, so each service can start first): the durable topic exchange that
//! `aladdin stream` and Kingfisher publish to, and durable work queues.

use std::time::Duration;

use lapin::options::{ExchangeDeclareOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};

/// The durable topic exchange `exchange`.
pub async fn declare_exchange(ch: &Channel, exchange: &str) -> Result<(), lapin::Error> {
    ch.exchange_declare(
        exchange.into(),
        ExchangeKind::Topic,
        ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        },
        FieldTable::default(),
    )
    .await
}

/// The durable queue `queue`, deleted by the broker after `expires` without consumers (a test's
/// queue does not outlive it), or kept for good.
pub async fn declare_queue(
    ch: &Channel,
    queue: &str,
    expires: Option<Duration>,
) -> Result<(), lapin::Error> {
    let mut args = FieldTable::default();
    if let Some(d) = expires {
        args.insert(
            "x-expires".into(),
            AMQPValue::LongLongInt(d.as_millis().min(i64::MAX as u128) as i64),
        );
    }
    ch.queue_declare(
        queue.into(),
        QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        },
        args,
    )
    .await
    .map(|_| ())
}
