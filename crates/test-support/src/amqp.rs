//! Queues the tests declare on RabbitMQ to watch what the services publish. Exchanges are
//! declared as the services declare theirs (durable topic exchanges), so whichever side comes
//! first, the declarations agree. Failures panic: these are test helpers.

use lapin::options::{
    BasicConsumeOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties, Consumer, ExchangeKind};

async fn channel(url: &str) -> (Connection, Channel) {
    let conn = Connection::connect(url, ConnectionProperties::default())
        .await
        .unwrap_or_else(|e| panic!("RabbitMQ at {url}: {e}"));
    let ch = conn.create_channel().await.unwrap();
    (conn, ch)
}

async fn declare_exchange(ch: &Channel, exchange: &str) {
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
    .unwrap();
}

/// Declares `exchange`, then queue `queue` (`""`: a name the broker picks) with `options`,
/// bound to `key` on it; returns the queue's name.
async fn bound_queue(
    ch: &Channel,
    exchange: &str,
    queue: &str,
    options: QueueDeclareOptions,
    key: &str,
) -> lapin::types::ShortString {
    declare_exchange(ch, exchange).await;
    let q = ch
        .queue_declare(queue.into(), options, FieldTable::default())
        .await
        .unwrap();
    ch.queue_bind(
        q.name().clone(),
        exchange.into(),
        key.into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    q.name().clone()
}

/// A consumer (no acks) of a fresh exclusive queue bound to `key` on `exchange`, declared
/// before anything is published so nothing is missed. Keep the connection while consuming.
pub async fn listen(url: &str, exchange: &str, key: &str, tag: &str) -> (Connection, Consumer) {
    let (conn, ch) = channel(url).await;
    let exclusive = QueueDeclareOptions {
        exclusive: true,
        auto_delete: true,
        ..QueueDeclareOptions::default()
    };
    let q = bound_queue(&ch, exchange, "", exclusive, key).await;
    let consumer = ch
        .basic_consume(
            q,
            tag.into(),
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

/// Declares `exchange` and a durable `queue` bound to `key` on it (messages wait in it, across
/// a broker restart too, until the test reads them).
pub async fn durable_queue(url: &str, exchange: &str, queue: &str, key: &str) {
    let (conn, ch) = channel(url).await;
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    bound_queue(&ch, exchange, queue, durable, key).await;
    let _ = conn.close(200, "declared".into()).await;
}
