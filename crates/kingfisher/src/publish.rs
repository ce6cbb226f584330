//! Kingfisher's own messages on RabbitMQ: a durable topic exchange (default `kingfisher`),
//! persistent JSON messages, each confirmed by the broker before the command reports success.
//! Today: `kingfisher.model.trained` after a model is registered.

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Connection, ConnectionProperties};

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("publishing {key} to RabbitMQ: {source}")]
    Broker { key: String, source: lapin::Error },
    #[error("publishing {key}: the broker did not confirm the message")]
    NotConfirmed { key: String },
}

/// Publishes `body` under `routing_key` and waits for the broker's confirmation.
pub async fn publish(
    broker: &str,
    exchange: &str,
    routing_key: &str,
    body: &serde_json::Value,
) -> Result<(), PublishError> {
    let err = |source| PublishError::Broker {
        key: routing_key.to_string(),
        source,
    };
    let conn = Connection::connect(broker, ConnectionProperties::default())
        .await
        .map_err(err)?;
    let ch = conn.create_channel().await.map_err(err)?;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(err)?;
    crate::amqp::declare_exchange(&ch, exchange)
        .await
        .map_err(err)?;
    let confirm = ch
        .basic_publish(
            exchange.into(),
            routing_key.into(),
            BasicPublishOptions::default(),
            body.to_string().as_bytes(),
            BasicProperties::default()
                .with_content_type("application/json".into())
                .with_delivery_mode(2),
        )
        .await
        .map_err(err)?
        .await
        .map_err(err)?;
    let _ = conn.close(200, "done".into()).await;
    if matches!(confirm, lapin::Confirmation::Ack(_)) {
        Ok(())
    } else {
        Err(PublishError::NotConfirmed {
            key: routing_key.to_string(),
        })
    }
}
