//! `kingfisher run`: the whole loop in one process, without a broker. An in-process feed
//! hands the scenario's `sessions` and `events` change records — the same JSON `aladdin
//! stream` publishes — to the feature store day by day in virtual time; at the end of each
//! day a model is trained on the labels matured by then and promoted when it beats the
//! deployed one; every new cart is scored by the deployed model (the predictions a broker
//! would carry as `kingfisher.prediction`, written to `predictions.jsonl` in the registry);
//! before each training the drift monitor grades the deployed model on the newest matured
//! days, and on a detection records `kingfisher.drift.detected` (in `drift.jsonl` in the
//! registry) and trains on the newest days only; at the end the deployed model is graded on
//! the days after its held-out day.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use faux::feed::ChangeRecord;
use faux::{Date, Scenario, Timestamp};
use faux_sinks::jsonl::JsonlEncoder;

use crate::drift::{self, DriftCheck, DriftError, FeatureCheck, MonitorOptions};
use crate::evaluate::{self, EvaluateError, Report};
use crate::registry::{ModelRecord, Registry, RegistryError};
use crate::store::{Change, Store, StoreError};
use crate::train::{self, TrainError, TrainOptions, Truth};

/// The scenario `kingfisher run` uses unless given another: a small shop (~370 sessions a
/// day, carts in about half), also the tests'.
pub const SMALL_SHOP: &str = include_str!("../tests/fixtures/small-shop.toml");

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0} has no carts: kingfisher needs an ecommerce scenario")]
    NotEcommerce(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Evaluate(#[from] EvaluateError),
    #[error(transparent)]
    Drift(#[from] DriftError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("a change record does not read back: {0}")]
    Encode(serde_json::Error),
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub start: Date,
    pub days: u32,
    pub store: PathBuf,
    pub registry: PathBuf,
    /// Train at the end of every this many days (once labels have matured).
    pub train_every: u32,
    /// Train on at most this many days before the held-out day.
    pub train_days: Option<u32>,
    /// The drift monitor's settings (None: no monitoring).
    pub monitor: Option<MonitorOptions>,
}

/// What happened, for the summary and the tests.
#[derive(Debug)]
pub struct RunSummary {
    pub records: u64,
    pub carts: usize,
    pub predictions: usize,
    pub trained: Vec<ModelRecord>,
    /// The monitor's detections (each followed by a retraining on the newest days).
    pub drift: Vec<DriftCheck>,
    /// The monitor's look at the end of each training day (detected or not).
    pub checks: Vec<DriftCheck>,
    /// The feature monitor's detections and all its checks.
    pub feature_drift: Vec<FeatureCheck>,
    pub feature_checks: Vec<FeatureCheck>,
    /// The deployed model on the days after its held-out day (None: no model yet, or no
    /// later day has matured).
    pub evaluation: Option<Report>,
}

/// The feed's change records of one day as [`Change`]s: sessions and events inserts, the
/// row encoded exactly as `aladdin stream` encodes it.
pub fn day_changes(scenario: &Scenario, day: Date) -> Result<Vec<Change>, RunError> {
    let tables = scenario.tables();
    let mut encoders: HashMap<usize, JsonlEncoder> = HashMap::new();
    for name in ["sessions", "events"] {
        if let Some(i) = tables.iter().position(|t| t.name == name) {
            encoders.insert(i, JsonlEncoder::with_capacity(tables[i], 0));
        }
    }
    let changes = scenario.changes(day);
    let mut out = Vec::new();
    for c in changes.iter() {
        let ChangeRecord {
            table, op, seq, ts, ..
        } = c;
        let Some(enc) = encoders.get_mut(table) else {
            continue;
        };
        if *op != faux::feed::Op::Insert {
            continue;
        }
        enc.buf.clear();
        enc.object(&c.row);
        let row = serde_json::from_slice(&enc.buf).map_err(RunError::Encode)?;
        out.push(Change {
            table: tables[*table].name.to_string(),
            op: op.as_str().to_string(),
            seq: *seq,
            ts: ts.to_string(),
            row,
        });
    }
    Ok(out)
}

/// Runs the loop; `say` gets a line per event worth telling (a model trained, promoted…).
pub fn run(
    scenario: &Scenario,
    opts: &RunOptions,
    mut say: impl FnMut(&str),
) -> Result<RunSummary, RunError> {
    let shop = scenario
        .as_ecommerce()
        .ok_or_else(|| RunError::NotEcommerce(scenario.name().to_string()))?;
    let mut store = Store::open(&opts.store)?;
    let registry = Registry::new(&opts.registry);
    std::fs::create_dir_all(&opts.registry).map_err(|source| RunError::Io {
        path: opts.registry.clone(),
        source,
    })?;
    let predictions_path = opts.registry.join("predictions.jsonl");
    let mut predictions =
        std::io::BufWriter::new(std::fs::File::create(&predictions_path).map_err(|source| {
            RunError::Io {
                path: predictions_path.clone(),
                source,
            }
        })?);
    let mut truth: HashMap<String, Truth> = HashMap::new();
    let mut summary = RunSummary {
        records: 0,
        carts: 0,
        predictions: 0,
        trained: Vec::new(),
        drift: Vec::new(),
        checks: Vec::new(),
        feature_drift: Vec::new(),
        feature_checks: Vec::new(),
        evaluation: None,
    };
    let drift_path = opts.registry.join("drift.jsonl");
    let io = |path: &PathBuf| {
        let path = path.clone();
        move |source| RunError::Io { path, source }
    };
    let mut drift_log =
        std::io::BufWriter::new(std::fs::File::create(&drift_path).map_err(io(&drift_path))?);
    let mut cursor = store.progress()?.map_or(0, |(s, _)| s);
    // carts already in the store (a re-run) were predicted before
    let mut predicted_up_to = store
        .carts_after(0, usize::MAX)?
        .last()
        .map_or(0, |(s, _)| *s);
    let mut drift_since: Option<Date> = None;
    for i in 0..opts.days {
        let day = opts.start.add_days(i as i32);
        for l in shop.cart_labels(day) {
            truth.insert(
                l.cart_id.to_string(),
                Truth {
                    p: l.p,
                    label: l.label,
                },
            );
        }
        let changes = day_changes(scenario, day)?;
        summary.records += changes.len() as u64;
        for chunk in changes.chunks(5_000) {
            store.apply(chunk)?;
        }
        cursor = store.progress()?.map_or(cursor, |(s, _)| s);
        // online: the deployed model scores the day's new carts
        let new = store.carts_after(predicted_up_to, usize::MAX)?;
        if let Some((last, _)) = new.last() {
            predicted_up_to = *last;
        }
        if let Ok(model) = registry.serving() {
            for (_, cart) in &new {
                let line = serde_json::json!({
                    "cart_id": cart.cart_id,
                    "p": model.model.predict(&cart.features),
                    "model_version": model.version,
                    "scored_at": cart.scored_at.to_string(),
                });
                writeln!(predictions, "{line}").map_err(|source| RunError::Io {
                    path: predictions_path.clone(),
                    source,
                })?;
                summary.predictions += 1;
            }
        }
        // end of the day in virtual time: train on what has matured
        if (i + 1) % opts.train_every.max(1) != 0 {
            continue;
        }
        // the monitor first: after a detection, models learn from the changed days only
        if let (Some(m), Some((_, as_of))) = (&opts.monitor, store.progress()?)
            && let Some(check) = drift::check(&store, &registry, as_of, m)?
        {
            if check.detected {
                let body = serde_json::to_string(&check).expect("a drift check serializes");
                say(&format!("{day}: kingfisher.drift.detected {body}"));
                writeln!(drift_log, "{body}").map_err(io(&drift_path))?;
                drift_since = drift::since(drift_since, &check, opts.train_days);
                summary.drift.push(check.clone());
            }
            summary.checks.push(check);
        }
        if let (Some(m), Some((_, as_of))) = (&opts.monitor, store.progress()?)
            && let Some(check) = drift::feature_check(&store, &registry, as_of, m)?
        {
            if check.detected {
                let body = serde_json::to_string(&check).expect("a drift check serializes");
                say(&format!("{day}: kingfisher.drift.detected {body}"));
                writeln!(drift_log, "{body}").map_err(io(&drift_path))?;
                let from = check.from.parse().expect("a date this check printed");
                drift_since = drift::since_day(drift_since, from, opts.train_days);
                summary.feature_drift.push(check.clone());
            }
            summary.feature_checks.push(check);
        }
        let topts = TrainOptions {
            as_of: None,
            train_days: opts.train_days,
            truth: Some(truth.clone()),
            kinds: Vec::new(),
            since: drift_since,
        };
        match train::train(&store, &registry, &topts) {
            Ok(r) => {
                say(&format!(
                    "{day}: model v{} trained on {} carts ({} to {}), held-out {} log loss {:.4} AUC {} — {}",
                    r.version,
                    r.train_carts,
                    r.training_from,
                    r.training_to,
                    r.holdout_day,
                    r.metrics.model.log_loss,
                    r.metrics
                        .model
                        .auc
                        .map_or("n/a".into(), |a| format!("{a:.4}")),
                    match (&r.deployed_before, r.promoted) {
                        (None, _) => "deployed".to_string(),
                        (Some(d), true) => format!("deployed (beat v{})", d.version),
                        (Some(d), false) => format!("v{} stays deployed", d.version),
                    }
                ));
                summary.trained.push(r);
            }
            // too early: no label has matured, or only one day has
            Err(TrainError::NothingMatured { .. } | TrainError::OneDay(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    drift_log.flush().map_err(io(&drift_path))?;
    predictions.flush().map_err(|source| RunError::Io {
        path: predictions_path.clone(),
        source,
    })?;
    summary.carts = store.carts()?.len();
    // grade the model that was deployed a week before the end on the days after its
    // held-out day: out of sample, and matured by now
    let end = opts.start.add_days(opts.days as i32 - 1);
    let week_before = end.add_days(-7).add_days(1).start();
    let graded = summary.trained.iter().rfind(|r| {
        r.promoted && Timestamp::parse_flexible(&r.trained_as_of).is_ok_and(|t| t < week_before)
    });
    if let Some(model) = graded {
        let from: Date = model.holdout_day.parse().map_err(|_| RunError::Io {
            path: opts.registry.clone(),
            source: std::io::Error::other(format!("model v{}: bad holdout_day", model.version)),
        })?;
        match evaluate::evaluate(&store, model, from.add_days(1), end, Some(&truth)) {
            Ok(r) => summary.evaluation = Some(r),
            Err(EvaluateError::NothingMatured { .. } | EvaluateError::Range { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(summary)
}
