//! The drift monitor. It grades the predictions as they were served — each cart scored by
//! the model deployed at its scoring instant (the registry's promotions, in time) — on the
//! carts whose labels have matured: a rolling window of the newest `window_days` matured days
//! against the `reference_days` matured days before it. Drift is detected when, in the
//! window, the predictions are miscalibrated beyond chance (mean predicted probability vs the
//! observed rate, as a z-score under the predictions' own binomial variance), or the AUC has
//! fallen more than `auc_drop` below the reference's. The services then publish
//! `kingfisher.drift.detected` ([`DriftCheck`] as JSON) and train on the days since the
//! window's first day only, so the new model learns the changed behaviour rather than
//! averaging it with the old.
//!
//! A change on day D shows only when D's labels mature, 8 days and 1 hour after D starts:
//! no monitor on matured labels can react sooner (README, "Kingfisher", drift).

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
    #[error("model v{version}: trained_as_of = {value:?} is not an instant")]
    Record { version: u32, value: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct MonitorOptions {
    /// Matured days in the rolling window.
    pub window_days: u32,
    /// Matured days before the window that give the reference AUC.
    pub reference_days: u32,
    /// Fewer scored carts than this in the window: no verdict.
    pub min_carts: usize,
    /// Fewer scored carts than this in the reference days: no verdict (the first models,
    /// trained on a few days, are not a reference to judge by).
    pub min_reference_carts: usize,
    /// Detected when the window's AUC is this far below the reference's.
    pub auc_drop: f64,
    /// Detected when |mean p − rate| exceeds this many binomial standard errors.
    pub max_calibration_z: f64,
}

impl Default for MonitorOptions {
    fn default() -> MonitorOptions {
        MonitorOptions {
            window_days: 3,
            reference_days: 7,
            min_carts: 300,
            min_reference_carts: 1000,
            auc_drop: 0.05,
            max_calibration_z: 3.0,
        }
    }
}

/// One look at the served predictions (the body of `kingfisher.drift.detected`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftCheck {
    /// The model deployed at `as_of`.
    pub model_version: u32,
    /// Labels as known at this instant.
    pub as_of: String,
    /// The window's days (the newest matured).
    pub from: String,
    pub to: String,
    pub carts: usize,
    pub positives: usize,
    pub auc: Option<f64>,
    /// The AUC on the `reference_days` before the window.
    pub reference_auc: Option<f64>,
    /// Expected calibration error (ten bins, as `evaluate`'s).
    pub calibration_error: f64,
    /// Mean predicted probability and observed rate in the window, and their gap in
    /// binomial standard errors.
    pub mean_p: f64,
    pub rate: f64,
    pub calibration_z: f64,
    pub detected: bool,
    /// Why, in words (empty when not detected).
    pub reasons: Vec<String>,
}

/// The deployments in time: (trained_as_of, record) of every promoted model, oldest first.
fn deployments(registry: &Registry) -> Result<Vec<(Timestamp, ModelRecord)>, DriftError> {
    let mut out = Vec::new();
    for v in registry.versions()? {
        let r = match registry.load(v) {
            Ok(r) => r,
            // a damaged file was never served (promotion loads it first)
            Err(RegistryError::Corrupt { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        if !r.promoted {
            continue;
        }
        let t = Timestamp::parse_flexible(&r.trained_as_of).map_err(|_| DriftError::Record {
            version: r.version,
            value: r.trained_as_of.clone(),
        })?;
        out.push((t, r));
    }
    out.sort_by_key(|(t, r)| (*t, r.version));
    Ok(out)
}

/// Looks at the predictions served for the carts matured by `as_of`. None: no model yet,
/// or too few scored carts in the window or the reference.
pub fn check(
    store: &Store,
    registry: &Registry,
    as_of: Timestamp,
    opts: &MonitorOptions,
) -> Result<Option<DriftCheck>, DriftError> {
    let deployed = deployments(registry)?;
    let Some(current) = deployed.iter().rfind(|(t, _)| *t <= as_of) else {
        return Ok(None);
    };
    let carts = store.carts()?;
    let ready = matured(&carts, as_of);
    let Some(newest) = ready.iter().map(|(c, _)| c.day).max() else {
        return Ok(None);
    };
    let first = newest.add_days(1 - opts.window_days.max(1) as i32);
    let ref_first = first.add_days(-(opts.reference_days.max(1) as i32));
    // (p as served, label) of the carts of [from, to]
    let served = |from: Date, to: Date| -> (Vec<f64>, Vec<bool>) {
        let mut p = Vec::new();
        let mut y = Vec::new();
        for (c, l) in ready.iter().filter(|(c, _)| c.day >= from && c.day <= to) {
            if let Some((_, m)) = deployed.iter().rfind(|(t, _)| *t < c.scored_at) {
                p.push(m.model.predict(&c.features));
                y.push(*l);
            }
        }
        (p, y)
    };
    let (p, y) = served(first, newest);
    let (rp, ry) = served(ref_first, first.add_days(-1));
    if p.len() < opts.min_carts || rp.len() < opts.min_reference_carts {
        return Ok(None);
    }
    let n = y.len() as f64;
    let positives = y.iter().filter(|v| **v).count();
    let rate = positives as f64 / n;
    let mean_p = p.iter().sum::<f64>() / n;
    let se = (p.iter().map(|p| p * (1.0 - p)).sum::<f64>()).sqrt() / n;
    let z = (mean_p - rate) / se.max(1e-12);
    let auc = auc(&p, &y);
    let reference_auc = crate::model::auc(&rp, &ry);
    let mut reasons = Vec::new();
    if z.abs() > opts.max_calibration_z {
        reasons.push(format!(
            "mean predicted p {mean_p:.4} vs observed rate {rate:.4}: {z:+.1} standard errors (threshold {})",
            opts.max_calibration_z
        ));
    }
    if let (Some(a), Some(r)) = (auc, reference_auc)
        && r - a > opts.auc_drop
    {
        reasons.push(format!(
            "AUC {a:.4} is {:.4} below the reference days' {r:.4} (threshold {})",
            r - a,
            opts.auc_drop
        ));
    }
    Ok(Some(DriftCheck {
        model_version: current.1.version,
        as_of: as_of.to_string(),
        from: first.to_string(),
        to: newest.to_string(),
        carts: y.len(),
        positives,
        auc,
        reference_auc,
        calibration_error: calibration_error(&p, &y),
        mean_p,
        rate,
        calibration_z: z,
        detected: !reasons.is_empty(),
        reasons,
    }))
}

/// The first day models learn from after `check` detected drift: its window's first day,
/// unless an earlier detection's start is still within `train_days` of it (the drift goes
/// on: keep learning from its start rather than from a window that moves every day).
pub fn since(current: Option<Date>, check: &DriftCheck, train_days: Option<u32>) -> Option<Date> {
    let from: Date = check.from.parse().ok()?;
    match current {
        Some(c) if from.add_days(-(train_days.unwrap_or(28) as i32)) <= c => Some(c),
        _ => Some(from),
    }
}
