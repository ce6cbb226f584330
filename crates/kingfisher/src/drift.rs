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
//! no monitor on matured labels can react sooner (README, "Kingfisher", drift). A change in
//! what the carts look like (prices, a new channel) shows at once in their features:
//! [`feature_check`] compares the last days' features with the deployed model's training days
//! by the population stability index, and needs no labels.

use serde::Serialize;

use faux::{Date, Timestamp};

use crate::evaluate::calibration_error;
use crate::model::auc;
use crate::registry::{ModelRecord, Registry, RegistryError};
use crate::store::{Features, Store, StoreError};
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
    /// The feature monitor's window: the carts scored in this many days before the check.
    pub feature_window_days: u32,
    /// Fewer carts than this in the feature window: no verdict.
    pub feature_min_carts: usize,
    /// Detected when a feature's population stability index (window against the deployed
    /// model's training and held-out days) exceeds this.
    pub max_psi: f64,
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
            feature_window_days: 2,
            feature_min_carts: 300,
            max_psi: 0.1,
        }
    }
}

/// One look at the served predictions (the body of `kingfisher.drift.detected`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftCheck {
    /// Always `"outcomes"` ([`FeatureCheck`]s are the other kind).
    pub kind: &'static str,
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
        kind: "outcomes",
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
    since_day(current, check.from.parse().ok()?, train_days)
}

/// [`since`] for a detection whose window starts on `from` (a [`FeatureCheck`]'s too).
pub fn since_day(current: Option<Date>, from: Date, train_days: Option<u32>) -> Option<Date> {
    match current {
        Some(c) if from.add_days(-(train_days.unwrap_or(28) as i32)) <= c => Some(c),
        _ => Some(from),
    }
}

/// One feature's shift between the reference carts and the window's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureShift {
    pub feature: String,
    /// Population stability index: Σ (w − r) ln(w / r) over the bins (numbers: the reference's
    /// deciles; categories: each value), 0 for the same distribution.
    pub psi: f64,
    /// Means of numeric features (None for categories).
    pub reference_mean: Option<f64>,
    pub window_mean: Option<f64>,
}

/// One look at the inputs served (the body of `kingfisher.drift.detected` with `kind`
/// `"features"`): the features of the carts scored in the last `feature_window_days` against
/// those of the days the deployed model learned from. It needs no labels, so a change in what
/// the shop's carts look like (prices, a new channel) shows the day after it, not nine days
/// later — but a change in who checks out does not show here at all (the outcome monitor,
/// [`check`], sees that).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureCheck {
    /// Always `"features"` (outcome checks are the other kind).
    pub kind: &'static str,
    pub model_version: u32,
    pub as_of: String,
    /// The window: the days of its first and last cart.
    pub from: String,
    pub to: String,
    pub carts: usize,
    /// The reference: the deployed model's training days and held-out day.
    pub reference_from: String,
    pub reference_to: String,
    pub reference_carts: usize,
    pub shifts: Vec<FeatureShift>,
    pub detected: bool,
    pub reasons: Vec<String>,
}

/// The numeric features compared: the first product's unit price, units and their value (the
/// cart's value at scoring time), products viewed before it. Counts of the customer's past
/// (sessions, orders, days since the last order) are left out: they grow as the shop ages,
/// which is no drift; so are hour and weekday (a two-day window is not a week).
type Numeric = fn(&Features) -> f64;
type Categorical = fn(&Features) -> &str;

const NUMERIC: [(&str, Numeric); 4] = [
    ("unit_price", |f| f.unit_price),
    ("cart_value", |f| f.unit_price * f64::from(f.quantity)),
    ("quantity", |f| f64::from(f.quantity)),
    ("product_views", |f| f64::from(f.product_views)),
];
/// The categorical features compared: a new channel or a shift between devices.
const CATEGORICAL: [(&str, Categorical); 2] =
    [("channel", |f| &f.channel), ("device", |f| &f.device)];

/// PSI of two sets of bin counts; each share smoothed by half a cart, so an empty bin on one
/// side gives a large but finite index.
fn psi(reference: &[usize], window: &[usize]) -> f64 {
    let (nr, nw) = (
        reference.iter().sum::<usize>() as f64,
        window.iter().sum::<usize>() as f64,
    );
    let bins = reference.len() as f64;
    reference
        .iter()
        .zip(window)
        .map(|(r, w)| {
            let r = (*r as f64 + 0.5) / (nr + 0.5 * bins);
            let w = (*w as f64 + 0.5) / (nw + 0.5 * bins);
            (w - r) * (w / r).ln()
        })
        .sum()
}

/// PSI of a numeric feature over the reference's deciles (repeated edges merged, so a
/// discrete feature gets a bin per value).
fn numeric_psi(reference: &[f64], window: &[f64]) -> f64 {
    let mut sorted = reference.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut edges: Vec<f64> = (1..10).map(|i| sorted[i * sorted.len() / 10]).collect();
    edges.dedup();
    let count = |xs: &[f64]| {
        let mut c = vec![0; edges.len() + 1];
        for x in xs {
            c[edges.partition_point(|e| e <= x)] += 1;
        }
        c
    };
    psi(&count(reference), &count(window))
}

/// PSI of a categorical feature over the values seen on either side.
fn categorical_psi(reference: &[&str], window: &[&str]) -> f64 {
    let values: std::collections::BTreeSet<&str> =
        reference.iter().chain(window).copied().collect();
    let values: Vec<&str> = values.into_iter().collect();
    let count = |xs: &[&str]| {
        let mut c = vec![0; values.len()];
        for x in xs {
            c[values.binary_search(x).expect("a value seen")] += 1;
        }
        c
    };
    psi(&count(reference), &count(window))
}

/// Compares the features of the carts scored in the `feature_window_days` before `as_of` with
/// those of the deployed model's training and held-out days. None: no model deployed, or too
/// few carts on either side.
pub fn feature_check(
    store: &Store,
    registry: &Registry,
    as_of: Timestamp,
    opts: &MonitorOptions,
) -> Result<Option<FeatureCheck>, DriftError> {
    let deployed = deployments(registry)?;
    let Some((_, model)) = deployed.iter().rfind(|(t, _)| *t <= as_of) else {
        return Ok(None);
    };
    let day = |s: &str| -> Result<Date, DriftError> {
        s.parse().map_err(|_| DriftError::Record {
            version: model.version,
            value: s.to_string(),
        })
    };
    let (ref_from, ref_to) = (day(&model.training_from)?, day(&model.holdout_day)?);
    let since = Timestamp(as_of.0 - i64::from(opts.feature_window_days.max(1)) * 86_400);
    let carts = store.carts()?;
    let reference: Vec<&Features> = carts
        .iter()
        .filter(|c| c.day >= ref_from && c.day <= ref_to)
        .map(|c| &c.features)
        .collect();
    let recent: Vec<&crate::store::Cart> = carts
        .iter()
        .filter(|c| c.scored_at > since && c.scored_at <= as_of)
        .collect();
    let window: Vec<&Features> = recent.iter().map(|c| &c.features).collect();
    if window.len() < opts.feature_min_carts.max(1)
        || reference.len() < opts.min_reference_carts.max(1)
    {
        return Ok(None);
    }
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
    let mut shifts = Vec::new();
    for (name, f) in NUMERIC {
        let r: Vec<f64> = reference.iter().map(|c| f(c)).collect();
        let w: Vec<f64> = window.iter().map(|c| f(c)).collect();
        shifts.push(FeatureShift {
            feature: name.to_string(),
            psi: numeric_psi(&r, &w),
            reference_mean: Some(mean(&r)),
            window_mean: Some(mean(&w)),
        });
    }
    for (name, f) in CATEGORICAL {
        let r: Vec<&str> = reference.iter().map(|c| f(c)).collect();
        let w: Vec<&str> = window.iter().map(|c| f(c)).collect();
        shifts.push(FeatureShift {
            feature: name.to_string(),
            psi: categorical_psi(&r, &w),
            reference_mean: None,
            window_mean: None,
        });
    }
    let reasons: Vec<String> = shifts
        .iter()
        .filter(|s| s.psi > opts.max_psi)
        .map(|s| {
            let means = match (s.reference_mean, s.window_mean) {
                (Some(r), Some(w)) => format!(", mean {r:.2} → {w:.2}"),
                _ => String::new(),
            };
            format!(
                "{}: PSI {:.3} against model v{}'s days (threshold {}){means}",
                s.feature, s.psi, model.version, opts.max_psi
            )
        })
        .collect();
    Ok(Some(FeatureCheck {
        kind: "features",
        model_version: model.version,
        as_of: as_of.to_string(),
        from: recent
            .iter()
            .map(|c| c.day)
            .min()
            .expect("carts")
            .to_string(),
        to: recent
            .iter()
            .map(|c| c.day)
            .max()
            .expect("carts")
            .to_string(),
        carts: window.len(),
        reference_from: ref_from.to_string(),
        reference_to: ref_to.to_string(),
        reference_carts: reference.len(),
        shifts,
        detected: !reasons.is_empty(),
        reasons,
    }))
}

#[cfg(test)]
mod tests {
    use super::{categorical_psi, numeric_psi};

    #[test]
    fn psi_is_small_for_the_same_distribution_and_large_for_a_shift() {
        let r: Vec<f64> = (0..2000).map(|i| f64::from(i % 500)).collect();
        let same: Vec<f64> = (0..400).map(|i| f64::from((i * 7) % 500)).collect();
        let up: Vec<f64> = same.iter().map(|x| x * 1.5).collect();
        assert!(numeric_psi(&r, &same) < 0.03, "{}", numeric_psi(&r, &same));
        assert!(numeric_psi(&r, &up) > 0.1, "{}", numeric_psi(&r, &up));
        // a discrete feature: one bin per value
        let d: Vec<f64> = (0..1000).map(|i| f64::from(i % 3)).collect();
        let all_two = vec![2.0; 100];
        assert!(numeric_psi(&d, &all_two) > 1.0);
        // a category never seen in the reference
        let r = ["a", "b"].repeat(500);
        let mut w = ["a", "b"].repeat(100);
        assert!(categorical_psi(&r, &w) < 0.01);
        w.extend(["new"; 100]);
        assert!(categorical_psi(&r, &w) > 0.5, "{}", categorical_psi(&r, &w));
    }
}
