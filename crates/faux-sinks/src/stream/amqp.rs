//! `--out amqp://…`: RabbitMQ (AMQP 0-9-1) through `lapin`.
//!
//! Messages go to a durable topic exchange with routing key `<prefix>.<table>.<op>`, as
//! persistent JSON messages (`message_id` = seq, `timestamp` = ts), on a channel in confirm
//! mode; [`super::reliable::Reliable`] keeps the window of unconfirmed messages and
//! reconnects. The connection is named `aladdin stream (pid N)` so it can be found in the
//! management UI or `rabbitmqctl list_connections`.

use std::str::FromStr;
use std::time::Duration;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::protocol::{AMQPErrorKind, AMQPHardError, AMQPSoftError};
use lapin::types::{FieldTable, ShortString};
use lapin::uri::AMQPUri;
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ErrorKind};

use super::message::Message;
use super::reliable::{Confirm, Connector, Link, LinkError};
use crate::destination::BrokerUrl;

/// How long a connection attempt may take before it counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Checks an `amqp://` URL and returns it as shown to users (without the password).
pub fn parse_url(url: &str) -> Result<String, String> {
    if url.starts_with("amqps://") {
        return Err("amqps:// (TLS) is not supported by this build; use amqp://".into());
    }
    let uri = AMQPUri::from_str(url).map_err(|e| e.to_string())?;
    if uri.authority.host.is_empty() {
        return Err("no host".into());
    }
    let vhost = if uri.vhost == "/" {
        String::new()
    } else {
        format!("/{}", uri.vhost)
    };
    Ok(format!(
        "amqp://{}:{}{vhost}",
        uri.authority.host, uri.authority.port
    ))
}

#[derive(Debug)]
pub struct AmqpConnector {
    url: BrokerUrl,
    exchange: String,
    prefix: String,
    connection_name: String,
}

impl AmqpConnector {
    /// A connector to `url`, checked by [`crate::destination::Destination::parse`].
    pub fn new(url: BrokerUrl, exchange: &str, prefix: &str) -> AmqpConnector {
        AmqpConnector {
            url,
            exchange: exchange.to_string(),
            prefix: prefix.to_string(),
            connection_name: format!("aladdin stream (pid {})", std::process::id()),
        }
    }
}

/// Broker refusals that a retry would meet again.
fn classify(e: lapin::Error) -> LinkError {
    let fatal = match e.kind() {
        ErrorKind::ProtocolError(p) => matches!(
            p.kind(),
            AMQPErrorKind::Soft(AMQPSoftError::ACCESSREFUSED | AMQPSoftError::PRECONDITIONFAILED)
                | AMQPErrorKind::Hard(AMQPHardError::NOTALLOWED | AMQPHardError::INVALIDPATH)
        ),
        _ => false,
    };
    if fatal {
        LinkError::Fatal(e.to_string())
    } else {
        LinkError::Lost(e.to_string())
    }
}

impl Connector for AmqpConnector {
    type Link = AmqpLink;

    async fn connect(&mut self) -> Result<AmqpLink, LinkError> {
        let props = ConnectionProperties::default()
            .with_connection_name(self.connection_name.clone().into());
        let connection =
            tokio::time::timeout(CONNECT_TIMEOUT, Connection::connect(&self.url.url, props))
                .await
                .map_err(|_| {
                    LinkError::Lost(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()))
                })?
                .map_err(classify)?;
        let channel = connection.create_channel().await.map_err(classify)?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(classify)?;
        channel
            .exchange_declare(
                self.exchange.as_str().into(),
                lapin::ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(|e| match classify(e) {
                LinkError::Fatal(r) => LinkError::Fatal(format!(
                    "declaring exchange {:?} as a durable topic exchange: {r}",
                    self.exchange
                )),
                lost => lost,
            })?;
        Ok(AmqpLink {
            connection,
            channel,
            exchange: self.exchange.as_str().into(),
            prefix: self.prefix.clone(),
        })
    }

    async fn close(&mut self, link: AmqpLink) {
        // best effort: every message is confirmed by now
        let _ = link.channel.close(200, "done".into()).await;
        let _ = link.connection.close(200, "done".into()).await;
    }

    fn target(&self) -> &str {
        &self.url.shown
    }
}

#[derive(Debug)]
pub struct AmqpLink {
    connection: Connection,
    channel: Channel,
    exchange: ShortString,
    prefix: String,
}

impl Link for AmqpLink {
    async fn send(&mut self, msg: &Message) -> Result<Confirm, LinkError> {
        let routing_key = format!("{}.{}.{}", self.prefix, msg.table, msg.op);
        let properties = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_delivery_mode(2)
            .with_message_id(msg.seq.to_string().into())
            .with_timestamp(msg.ts.seconds().max(0) as u64)
            .with_app_id("aladdin".into());
        let confirm = self
            .channel
            .basic_publish(
                self.exchange.clone(),
                routing_key.into(),
                BasicPublishOptions::default(),
                &msg.body,
                properties,
            )
            .await
            .map_err(classify)?;
        Ok(Box::pin(async move {
            match confirm.await {
                Ok(Confirmation::Ack(_) | Confirmation::NotRequested) => Ok(()),
                // the broker could not take it: re-send from here on a fresh connection
                Ok(Confirmation::Nack(_)) => Err(LinkError::Lost("message nacked".into())),
                Err(e) => Err(classify(e)),
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_shown_without_password() {
        assert_eq!(
            parse_url("amqp://guest:secret@127.0.0.1:5672/%2f").unwrap(),
            "amqp://127.0.0.1:5672"
        );
        assert_eq!(
            parse_url("amqp://localhost").unwrap(),
            "amqp://localhost:5672"
        );
        assert!(parse_url("amqp://localhost:notaport").is_err());
        assert!(parse_url("amqps://localhost").is_err());
    }
}
