//! Kingfisher: cart purchase propensity over Faux Genie's live stream.
//!
//! - [`amqp`]: the exchange and queues every service declares;
//! - [`store`]: the feature store (SQLite, or PostgreSQL with `--database-url`): point-in-time features per cart, scored at a
//!   session's first `add_to_cart`, and labels as they arrive, idempotent by `seq`;
//! - [`ingest`]: the RabbitMQ consumer feeding the store from `aladdin stream`;
//! - [`mlflow`]: training runs logged to an MLflow tracking server (`--mlflow-uri`);
//! - [`model`]: feature encoding, the logistic regression, metrics;
//! - [`drift`]: the monitors (rolling AUC and calibration of the deployed model on matured
//!   labels; the served features against the model's training days, by PSI) behind
//!   `kingfisher.drift.detected` and retraining;
//! - [`evaluate`]: a model next to the baselines and the oracle on a range of days;
//! - [`train`]: matured labels → training set → fit → evaluation against the oracle;
//! - [`trainer`]: the training service (`kingfisher.train.requested`, daily in virtual time);
//! - [`registry`]: versioned models in a folder;
//! - [`serve`]: the prediction API;
//! - [`online`]: serving's hot swap of the deployed model and its `kingfisher.prediction`s;
//! - [`run`]: everything in one process on an in-process feed (`kingfisher run`);
//! - [`publish`]: Kingfisher's messages (`kingfisher.model.trained`).

pub mod amqp;
pub mod drift;
pub mod evaluate;
pub mod ingest;
pub mod mlflow;
pub mod model;
pub mod online;
mod pgstore;
pub mod publish;
pub mod registry;
pub mod run;
pub mod serve;
pub mod store;
pub mod train;
pub mod trainer;

/// The label's horizon: checked out in the cart's session or in a session resuming it on
/// one of the next 7 days (as `aladdin truth --labels` defines it).
pub const LABEL_DAYS: i32 = faux::ecommerce::labels::LABEL_DAYS;
