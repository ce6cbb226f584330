//! The drift monitor: the deployed model graded on a rolling window of the newest matured
//! days after its held-out day (out of sample), by AUC and calibration error. Drift is
//! detected when the AUC has fallen more than `auc_drop` below the model's own held-out AUC,
//! or when the calibration error exceeds `max_calibration_error`; the services then publish
//! `kingfisher.drift.detected` (this module's [`DriftCheck`] as JSON) and retrain on the
//! newest days only, so the new model learns the changed behaviour rather than averaging it
//! with the old.
//!
//! A change on day D shows only when D's labels mature, 8 days and 1 hour after D starts:
//! detection cannot come earlier than that (README, "Kingfisher", drift).

use serde::Serialize;

use faux::{Date, Timestamp};

use crate::evaluate::calibration_error;
use crate::model::auc;
use crate::registry::{ModelRecord, Registry, RegistryError};
use crate::store::{Store, StoreError};
use crate::train::matured;

#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("model v{version}: holdout_day = {value:?} is not a date")]
    Record { version: u32, value: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct MonitorOptions {
    /// Matured days in the rolling window.
    pub window_days: u32,
    /// Fewer matured carts than this in the window: no verdict (too noisy).
    pub min_carts: usize,
    /// Detected when the window's AUC is this far below the model's held-out AUC.
    pub auc_drop: f64,
    /// Detected when the window's calibration error (10 bins) exceeds this.
    pub max_calibration_error: f64,
    /// The retraining after a detection uses this many days before its held-out day.
    pub retrain_days: u32,
}

impl Default for MonitorOptions {
    fn default() -> MonitorOptions {
        MonitorOptions {
            window_days: 3,
            min_carts: 300,
            auc_drop: 0.04,
            max_calibration_error: 0.06,
            retrain_days: 4,
        }
    }
}

/// One look at the deployed model (the body of `kingfisher.drift.detected`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftCheck {
    pub model_version: u32,
    /// Labels as known at this instant.
    pub as_of: String,
    /// The window's days (matured, after the model's held-out day).
    pub from: String,
    pub to: String,
    pub carts: usize,
    pub positives: usize,
    pub auc: Option<f64>,
    /// The model's AUC on its own held-out day, the reference.
    pub reference_auc: Option<f64>,
    pub calibration_error: f64,
    /// Mean predicted probability and observed rate in the window.
    pub mean_p: f64,
    pub rate: f64,
    pub detected: bool,
    /// Why, in words (empty when not detected).
    pub reasons: Vec<String>,
}

/// Grades `model` on the window ending with the newest day matured at `as_of`. None: no
/// day after the model's held-out day has matured yet, or too few carts.
pub fn check_model(
    store: &Store,
    model: &ModelRecord,
    as_of: Timestamp,
    opts: &MonitorOptions,
) -> Result<Option<DriftCheck>, DriftError> {
    let holdout: Date = model.holdout_day.parse().map_err(|_| DriftError::Record {
        version: model.version,
        value: model.holdout_day.clone(),
    })?;
    let carts = store.carts()?;
    let ready = matured(&carts, as_of);
    let Some(newest) = ready.iter().map(|(c, _)| c.day).max() else {
        return Ok(None);
    };
    if newest <= holdout {
        return Ok(None);
    }
    let first = newest
        .add_days(1 - opts.window_days.max(1) as i32)
        .max(holdout.add_days(1));
    let window: Vec<_> = ready
        .iter()
        .filter(|(c, _)| c.day >= first && c.day <= newest)
        .collect();
    if window.len() < opts.min_carts {
        return Ok(None);
    }
    let p: Vec<f64> = window
        .iter()
        .map(|(c, _)| model.model.predict(&c.features))
        .collect();
    let y: Vec<bool> = window.iter().map(|(_, l)| *l).collect();
    let n = y.len() as f64;
    let positives = y.iter().filter(|v| **v).count();
    let auc = auc(&p, &y);
    let reference_auc = model.metrics.model.auc;
    let calibration = calibration_error(&p, &y);
    let mut reasons = Vec::new();
    if let (Some(a), Some(r)) = (auc, reference_auc)
        && r - a > opts.auc_drop
    {
        reasons.push(format!(
            "AUC {a:.4} is {:.4} below the model's held-out {r:.4} (threshold {})",
            r - a,
            opts.auc_drop
        ));
    }
    if calibration > opts.max_calibration_error {
        reasons.push(format!(
            "calibration error {calibration:.4} exceeds {}",
            opts.max_calibration_error
        ));
    }
    Ok(Some(DriftCheck {
        model_version: model.version,
        as_of: as_of.to_string(),
        from: first.to_string(),
        to: newest.to_string(),
        carts: window.len(),
        positives,
        auc,
        reference_auc,
        calibration_error: calibration,
        mean_p: p.iter().sum::<f64>() / n,
        rate: positives as f64 / n,
        detected: !reasons.is_empty(),
        reasons,
    }))
}

/// [`check_model`] for the model serving from `registry` (None: no model yet).
pub fn check(
    store: &Store,
    registry: &Registry,
    as_of: Timestamp,
    opts: &MonitorOptions,
) -> Result<Option<DriftCheck>, DriftError> {
    let model = match registry.serving() {
        Ok(m) => m,
        Err(RegistryError::Empty(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    check_model(store, &model, as_of, opts)
}
