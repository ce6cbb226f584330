//! The training service: `kingfisher train --on-request` trains on every
//! `kingfisher.train.requested` message (a durable queue, so a request sent while the service
//! is down waits for it), and with `--daily` each time the feature store crosses midnight in
//! virtual time. Each model is published as `kingfisher.model.trained`, and as
//! `kingfisher.model.deployed` when promoted. With the monitor on, each daily training is
//! preceded by the drift checks of the deployed model (its outcomes on matured labels, and
//! the features it is served against those it learned from); a detection is published as
//! `kingfisher.drift.detected` and models are trained on the newest days only from then on.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, QueueBindOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};

use crate::publish::{PublishError, publish};
use crate::registry::{ModelRecord, Registry};
use crate::store::{Store, StoreError};
use crate::train::{TrainOptions, Truth, train};

#[derive(Debug, thiserror::Error)]
pub enum TrainerError {
    #[error("RabbitMQ: {0}")]
    Broker(#[from] lapin::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error(transparent)]
    Drift(#[from] crate::drift::DriftError),
}

#[derive(Debug, Clone)]
pub struct TrainerOptions {
    pub broker: String,
    pub exchange: String,
    pub queue: String,
    pub store: crate::store::Location,
    pub registry: PathBuf,
    pub train_days: Option<u32>,
    pub truth: Option<std::collections::HashMap<String, Truth>>,
    /// Also train when the store's last record moves to a new day.
    pub daily: bool,
    /// Log each model to MLflow (a failure is logged, training goes on).
    pub mlflow: Option<crate::mlflow::MlflowOptions>,
    /// Stop after this long without a request (None: run until stopped).
    pub exit_when_idle: Option<Duration>,
    /// The broker deletes the queue after it has had no consumer for this long (tests).
    pub queue_expires: Option<Duration>,
    /// The drift monitor, run before each daily training (None: off).
    pub monitor: Option<crate::drift::MonitorOptions>,
}

/// A request's body: `{}` or `{"as_of": "<instant>", "train_days": N}`.
fn parse_request(body: &[u8]) -> Result<(Option<faux::Timestamp>, Option<u32>), String> {
    let v: serde_json::Value = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::json!({})
    } else {
        serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?
    };
    let obj = v
        .as_object()
        .ok_or("expected an object: {\"as_of\": \"…\", \"train_days\": N}, both optional")?;
    if let Some(k) = obj.keys().find(|k| *k != "as_of" && *k != "train_days") {
        return Err(format!("unknown field {k:?}: as_of and train_days exist"));
    }
    let as_of = match obj.get("as_of") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => {
            Some(faux::Timestamp::parse_flexible(s).map_err(|e| format!("as_of = {s:?}: {e}"))?)
        }
        Some(v) => return Err(format!("as_of = {v} must be an RFC 3339 string")),
    };
    let train_days = match obj.get("train_days") {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|n| (1..=3650).contains(n))
                .ok_or(format!("train_days = {v} must be 1 to 3650"))? as u32,
        ),
    };
    Ok((as_of, train_days))
}

async fn train_and_publish(
    opts: &TrainerOptions,
    as_of: Option<faux::Timestamp>,
    train_days: Option<u32>,
    since: Option<faux::Date>,
) -> Result<Option<ModelRecord>, TrainerError> {
    let store = Store::open_at(&opts.store)?;
    let registry = Registry::new(&opts.registry);
    let topts = TrainOptions {
        as_of,
        train_days: train_days.or(opts.train_days),
        truth: opts.truth.clone(),
        kinds: Vec::new(),
        since,
    };
    let r = match train(&store, &registry, &topts) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("training request not met: {e}");
            return Ok(None);
        }
    };
    if let Some(m) = &opts.mlflow {
        let bytes = serde_json::to_vec_pretty(&r).expect("a model record serializes");
        match crate::mlflow::log_model(m, &r, &bytes).await {
            Ok(run) => tracing::info!("model v{} logged to MLflow: {}", r.version, run.url(m)),
            Err(e) => tracing::warn!("model v{} not logged to MLflow: {e}", r.version),
        }
    }
    let body = crate::serve::summary(&r);
    publish(
        &opts.broker,
        &opts.exchange,
        "kingfisher.model.trained",
        &body,
    )
    .await?;
    if r.promoted {
        publish(
            &opts.broker,
            &opts.exchange,
            "kingfisher.model.deployed",
            &body,
        )
        .await?;
    }
    Ok(Some(r))
}

fn describe(r: &ModelRecord, why: &str) -> String {
    format!(
        "{why}: model v{} as of {} (held out {}: log loss {:.4}){}",
        r.version,
        r.trained_as_of,
        r.holdout_day,
        r.metrics.model.log_loss,
        if r.promoted { ", deployed" } else { "" }
    )
}

/// Serves training requests until idle (or forever); `say` gets a line per model.
pub async fn run(opts: &TrainerOptions, mut say: impl FnMut(&str)) -> Result<(), TrainerError> {
    let conn = Connection::connect(
        &opts.broker,
        ConnectionProperties::default()
            .with_connection_name(format!("kingfisher train (pid {})", std::process::id()).into()),
    )
    .await?;
    let ch = conn.create_channel().await?;
    crate::amqp::declare_exchange(&ch, &opts.exchange).await?;
    crate::amqp::declare_queue(&ch, &opts.queue, opts.queue_expires).await?;
    ch.queue_bind(
        opts.queue.as_str().into(),
        opts.exchange.as_str().into(),
        "kingfisher.train.requested".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    let mut requests = ch
        .basic_consume(
            opts.queue.as_str().into(),
            "kingfisher-train".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    say(&format!(
        "waiting for kingfisher.train.requested on queue {}",
        opts.queue
    ));
    let day_of_store = || -> Result<Option<faux::Date>, TrainerError> {
        Ok(Store::open_at(&opts.store)?
            .progress()?
            .map(|(_, t)| t.date()))
    };
    let mut trained_day = day_of_store()?;
    let mut last_request = Instant::now();
    // after a detected drift, models learn from the changed days only
    let mut drift_since: Option<faux::Date> = None;
    loop {
        match tokio::time::timeout(Duration::from_secs(1), requests.next()).await {
            Ok(Some(d)) => {
                let d = d?;
                last_request = Instant::now();
                match parse_request(&d.data) {
                    Ok((as_of, days)) => {
                        if let Some(r) = train_and_publish(opts, as_of, days, drift_since).await? {
                            say(&describe(&r, "requested"));
                        }
                    }
                    // acknowledged all the same: a bad request would come back forever
                    Err(e) => tracing::warn!("ignoring a kingfisher.train.requested: {e}"),
                }
                ch.basic_ack(d.delivery_tag, BasicAckOptions::default())
                    .await?;
            }
            Ok(None) => break,
            Err(_) => {}
        }
        if opts.daily {
            let now = day_of_store()?;
            if now.is_some() && now > trained_day {
                trained_day = now;
                if let Some(m) = &opts.monitor {
                    let store = Store::open_at(&opts.store)?;
                    let registry = Registry::new(&opts.registry);
                    // both checks as of the same instant (the features service goes on)
                    let as_of = store.progress()?.map(|(_, t)| t);
                    if let Some(as_of) = as_of
                        && let Some(check) = crate::drift::check(&store, &registry, as_of, m)?
                        && check.detected
                    {
                        let body = serde_json::to_value(&check).expect("a drift check serializes");
                        publish(
                            &opts.broker,
                            &opts.exchange,
                            "kingfisher.drift.detected",
                            &body,
                        )
                        .await?;
                        say(&format!("kingfisher.drift.detected: {body}"));
                        drift_since = crate::drift::since(drift_since, &check, opts.train_days);
                    }
                    // the inputs too: a change in what carts look like shows without labels
                    if let Some(as_of) = as_of
                        && let Some(check) =
                            crate::drift::feature_check(&store, &registry, as_of, m)?
                        && check.detected
                    {
                        let body = serde_json::to_value(&check).expect("a drift check serializes");
                        publish(
                            &opts.broker,
                            &opts.exchange,
                            "kingfisher.drift.detected",
                            &body,
                        )
                        .await?;
                        say(&format!("kingfisher.drift.detected: {body}"));
                        let from = check.from.parse().expect("a date this check printed");
                        drift_since = crate::drift::since_day(drift_since, from, opts.train_days);
                    }
                }
                if let Some(r) = train_and_publish(opts, None, None, drift_since).await? {
                    say(&describe(&r, "daily"));
                }
            }
        }
        if opts
            .exit_when_idle
            .is_some_and(|idle| last_request.elapsed() >= idle)
        {
            break;
        }
    }
    let _ = conn.close(200, "done".into()).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_request;

    #[test]
    fn requests_are_checked() {
        assert_eq!(parse_request(b"").unwrap(), (None, None));
        assert_eq!(parse_request(b"{}").unwrap(), (None, None));
        let (at, days) =
            parse_request(br#"{"as_of": "2024-02-01T00:00:00Z", "train_days": 7}"#).unwrap();
        assert_eq!(at.unwrap().to_string(), "2024-02-01T00:00:00Z");
        assert_eq!(days, Some(7));
        for (body, says) in [
            (&b"nope"[..], "not JSON"),
            (br#"{"as_of": 5}"#, "as_of = 5"),
            (br#"{"train_days": 0}"#, "train_days = 0"),
            (br#"{"when": 1}"#, "unknown field \"when\""),
        ] {
            let e = parse_request(body).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
    }
}
