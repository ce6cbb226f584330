//! Serving's background work: following the registry's deployed model (hot swap) and scoring
//! every cart the feature store freezes, publishing `kingfisher.prediction`.
//!
//! Predictions are at least once: a batch is published with publisher confirms and the
//! cursor (the last published cart's seq, in a small file) moves only after the broker has
//! confirmed all of it, so a broker restart or a crash re-sends, never loses. Every message
//! carries `message_id` = the cart id, by which consumers drop the repeats.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use serde_json::json;

use crate::serve::AppState;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
enum OnlineError {
    #[error("RabbitMQ: {0}")]
    Broker(#[from] lapin::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cursor file {0}: {1}")]
    Cursor(PathBuf, std::io::Error),
    #[error("the broker did not confirm a prediction")]
    NotConfirmed,
}

#[derive(Debug, Clone)]
pub struct OnlineOptions {
    pub broker: String,
    /// Kingfisher's exchange (durable topic): `kingfisher.prediction` goes there and
    /// `kingfisher.model.deployed` comes from there.
    pub exchange: String,
    /// The feature store to read new carts from.
    pub store: crate::store::Location,
    /// The publisher's cursor file.
    pub cursor: PathBuf,
    /// How often the store is asked for new carts when it had none.
    pub poll: Duration,
}

fn read_cursor(path: &Path) -> i64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

fn write_cursor(path: &Path, seq: i64) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, seq.to_string())?;
    std::fs::rename(&tmp, path)
}

/// Publishes a prediction for every cart the store scores, forever; broker failures are
/// retried (from the cursor) after a pause.
pub async fn publish_predictions(state: AppState, opts: OnlineOptions) {
    loop {
        match predictions_once(&state, &opts).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!("kingfisher.prediction publisher: {e}; reconnecting in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn predictions_once(state: &AppState, opts: &OnlineOptions) -> Result<(), OnlineError> {
    let store = Store::open_at(&opts.store)?;
    let conn = Connection::connect(
        &opts.broker,
        ConnectionProperties::default().with_connection_name(
            format!("kingfisher serve predictions (pid {})", std::process::id()).into(),
        ),
    )
    .await?;
    let ch = conn.create_channel().await?;
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    crate::amqp::declare_exchange(&ch, &opts.exchange).await?;
    let mut cursor = read_cursor(&opts.cursor);
    loop {
        let carts = store.carts_after(cursor, 500)?;
        let Some((last, _)) = carts.last() else {
            tokio::time::sleep(opts.poll).await;
            continue;
        };
        let last = *last;
        let model = state.current();
        let mut confirms = Vec::with_capacity(carts.len());
        for (seq, cart) in &carts {
            let body = json!({
                "cart_id": cart.cart_id,
                "p": model.model.predict(&cart.features),
                "model_version": model.version,
                "scored_at": cart.scored_at.to_string(),
                "seq": seq,
            });
            confirms.push(
                ch.basic_publish(
                    opts.exchange.as_str().into(),
                    "kingfisher.prediction".into(),
                    BasicPublishOptions::default(),
                    body.to_string().as_bytes(),
                    BasicProperties::default()
                        .with_content_type("application/json".into())
                        .with_message_id(cart.cart_id.as_str().into())
                        .with_delivery_mode(2),
                )
                .await?,
            );
        }
        for c in confirms {
            if !matches!(c.await?, lapin::Confirmation::Ack(_)) {
                return Err(OnlineError::NotConfirmed);
            }
        }
        write_cursor(&opts.cursor, last)
            .map_err(|e| OnlineError::Cursor(opts.cursor.clone(), e))?;
        cursor = last;
    }
}

/// Follows the registry's deployed version: checked every `poll`, and at once on each
/// `kingfisher.model.deployed` message when a broker is given.
pub async fn follow_deployed(state: AppState, broker: Option<(String, String)>, poll: Duration) {
    let mut consumer = None;
    if let Some((url, exchange)) = &broker {
        match deployed_messages(url, exchange).await {
            Ok(c) => consumer = Some(c),
            Err(e) => tracing::warn!(
                "cannot listen for kingfisher.model.deployed ({e}); polling the registry only"
            ),
        }
    }
    let mut tick = tokio::time::interval(poll);
    loop {
        match consumer.as_mut() {
            Some((_, c)) => {
                tokio::select! {
                    m = c.next() => if m.is_none() {
                        tracing::warn!("kingfisher.model.deployed consumer ended; polling the registry only");
                        consumer = None;
                    },
                    _ = tick.tick() => {}
                }
            }
            None => {
                tick.tick().await;
            }
        }
        state.follow_deployed();
    }
}

async fn deployed_messages(
    url: &str,
    exchange: &str,
) -> Result<(Connection, lapin::Consumer), lapin::Error> {
    let conn = Connection::connect(url, ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    crate::amqp::declare_exchange(&ch, exchange).await?;
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
        .await?;
    ch.queue_bind(
        q.name().clone(),
        exchange.into(),
        "kingfisher.model.deployed".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    let consumer = ch
        .basic_consume(
            q.name().clone(),
            "kingfisher-serve".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    Ok((conn, consumer))
}
