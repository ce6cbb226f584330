//! `kingfisher evaluate`: a model graded on the matured carts of a range of days, next to two
//! baselines (the training rate for every cart; the training rate of the cart's channel) and
//! the oracle (the simulation's true probabilities), by AUC, log loss and calibration error,
//! with each one's gap to the oracle.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use faux::{Date, Timestamp};

use crate::model::{auc, log_loss};
use crate::registry::ModelRecord;
use crate::store::{Cart, Store, StoreError};
use crate::train::{Truth, matured};

#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the feature store is empty: run `kingfisher features` on a stream first")]
    EmptyStore,
    #[error("--from {from} is after --to {to}")]
    Range { from: Date, to: Date },
    #[error(
        "no cart of {from} to {to} has a matured label by {as_of} (the store's last record): a label is known 8 days and 1 hour after its day starts"
    )]
    NothingMatured {
        from: Date,
        to: Date,
        as_of: Timestamp,
    },
    #[error(
        "the truth file lacks {missing} of the {carts} evaluated carts (e.g. {example}): run `aladdin truth --labels` over the same days, scenario and seed"
    )]
    TruthMissing {
        missing: usize,
        carts: usize,
        example: String,
    },
    #[error("model v{version}: {field} = {value:?} is not a valid date or instant")]
    Record {
        version: u32,
        field: &'static str,
        value: String,
    },
}

/// One scorer's grades.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Grade {
    pub name: String,
    /// None when the carts have one outcome only.
    pub auc: Option<f64>,
    pub log_loss: f64,
    /// Expected calibration error: |mean p − rate| over 10 equal-width bins of p, weighted
    /// by the bin's share of carts.
    pub calibration_error: f64,
    /// The oracle's AUC minus this one's (how much ranking is left to learn).
    pub auc_gap: Option<f64>,
    /// This log loss minus the oracle's.
    pub log_loss_gap: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub model_version: u32,
    pub from: String,
    pub to: String,
    /// Labels are those known at this instant (the store's last record).
    pub as_of: String,
    pub carts: usize,
    pub positives: usize,
    /// Days of the range the model was trained on or held out on (its scores there are not
    /// out of sample).
    pub seen_by_model: bool,
    /// Evaluated carts whose stream label differs from the truth file's (should be 0).
    pub label_mismatches: Option<usize>,
    /// model, constant, channel, then oracle when a truth file is given.
    pub grades: Vec<Grade>,
}

impl Report {
    pub fn grade(&self, name: &str) -> Option<&Grade> {
        self.grades.iter().find(|g| g.name == name)
    }
}

/// Expected calibration error over 10 equal-width bins.
pub fn calibration_error(p: &[f64], y: &[bool]) -> f64 {
    let mut bins = [(0usize, 0.0f64, 0usize); 10];
    for (p, y) in p.iter().zip(y) {
        let b = ((p * 10.0) as usize).min(9);
        bins[b].0 += 1;
        bins[b].1 += p;
        bins[b].2 += *y as usize;
    }
    let n = p.len().max(1) as f64;
    bins.iter()
        .filter(|b| b.0 > 0)
        .map(|(k, sp, pos)| (sp / *k as f64 - *pos as f64 / *k as f64).abs() * *k as f64 / n)
        .sum()
}

fn parse_date(r: &ModelRecord, field: &'static str, v: &str) -> Result<Date, EvaluateError> {
    v.parse().map_err(|_| EvaluateError::Record {
        version: r.version,
        field,
        value: v.to_string(),
    })
}

/// The baselines' rates, from the model's own training carts as labelled at its training
/// instant: overall, and per channel (shrunk towards the overall rate by 20 pseudo-carts, so
/// a rare channel does not get an extreme rate).
pub fn baseline_rates(
    carts: &[Cart],
    record: &ModelRecord,
) -> Result<(f64, BTreeMap<String, f64>), EvaluateError> {
    let as_of =
        Timestamp::parse_flexible(&record.trained_as_of).map_err(|_| EvaluateError::Record {
            version: record.version,
            field: "trained_as_of",
            value: record.trained_as_of.clone(),
        })?;
    let from = parse_date(record, "training_from", &record.training_from)?;
    let to = parse_date(record, "training_to", &record.training_to)?;
    let train: Vec<(&Cart, bool)> = matured(carts, as_of)
        .into_iter()
        .filter(|(c, _)| c.day >= from && c.day <= to)
        .collect();
    let n = train.len().max(1) as f64;
    let rate = train.iter().filter(|(_, l)| *l).count() as f64 / n;
    let mut by: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for (c, l) in &train {
        let e = by.entry(c.features.channel.clone()).or_default();
        e.0 += 1.0;
        e.1 += *l as u8 as f64;
    }
    const PRIOR: f64 = 20.0;
    let channels = by
        .into_iter()
        .map(|(ch, (k, pos))| (ch, (pos + PRIOR * rate) / (k + PRIOR)))
        .collect();
    Ok((rate, channels))
}

/// Grades `record` on the carts of `from..=to` whose labels have matured by the store's
/// last record.
pub fn evaluate(
    store: &Store,
    record: &ModelRecord,
    from: Date,
    to: Date,
    truth: Option<&HashMap<String, Truth>>,
) -> Result<Report, EvaluateError> {
    if from > to {
        return Err(EvaluateError::Range { from, to });
    }
    let (_, as_of) = store.progress()?.ok_or(EvaluateError::EmptyStore)?;
    let carts = store.carts()?;
    let eval: Vec<(&Cart, bool)> = matured(&carts, as_of)
        .into_iter()
        .filter(|(c, _)| c.day >= from && c.day <= to)
        .collect();
    if eval.is_empty() {
        return Err(EvaluateError::NothingMatured { from, to, as_of });
    }
    let y: Vec<bool> = eval.iter().map(|(_, l)| *l).collect();
    let (rate, channels) = baseline_rates(&carts, record)?;
    let mut scorers: Vec<(&str, Vec<f64>)> = vec![
        (
            "model",
            eval.iter()
                .map(|(c, _)| record.model.predict(&c.features))
                .collect(),
        ),
        ("constant", vec![rate; eval.len()]),
        (
            "channel",
            eval.iter()
                .map(|(c, _)| *channels.get(&c.features.channel).unwrap_or(&rate))
                .collect(),
        ),
    ];
    let mut label_mismatches = None;
    if let Some(truth) = truth {
        let missing: Vec<&str> = eval
            .iter()
            .filter(|(c, _)| !truth.contains_key(&c.cart_id))
            .map(|(c, _)| c.cart_id.as_str())
            .collect();
        if let Some(example) = missing.first() {
            return Err(EvaluateError::TruthMissing {
                missing: missing.len(),
                carts: eval.len(),
                example: example.to_string(),
            });
        }
        label_mismatches = Some(
            eval.iter()
                .filter(|(c, l)| truth[&c.cart_id].label != *l)
                .count(),
        );
        scorers.push((
            "oracle",
            eval.iter().map(|(c, _)| truth[&c.cart_id].p).collect(),
        ));
    }
    let mut grades: Vec<Grade> = scorers
        .iter()
        .map(|(name, p)| Grade {
            name: name.to_string(),
            auc: auc(p, &y),
            log_loss: log_loss(p, &y),
            calibration_error: calibration_error(p, &y),
            auc_gap: None,
            log_loss_gap: None,
        })
        .collect();
    if let Some(oracle) = grades.iter().find(|g| g.name == "oracle").cloned() {
        for g in &mut grades {
            g.auc_gap = oracle.auc.zip(g.auc).map(|(o, a)| o - a);
            g.log_loss_gap = Some(g.log_loss - oracle.log_loss);
        }
    }
    let holdout = parse_date(record, "holdout_day", &record.holdout_day)?;
    let train_from = parse_date(record, "training_from", &record.training_from)?;
    Ok(Report {
        model_version: record.version,
        from: from.to_string(),
        to: to.to_string(),
        as_of: as_of.to_string(),
        carts: eval.len(),
        positives: y.iter().filter(|v| **v).count(),
        seen_by_model: from <= holdout && to >= train_from,
        label_mismatches,
        grades,
    })
}

/// The report as a table for people.
pub fn render(r: &Report) -> String {
    let mut out = format!(
        "model v{} on {} to {}: {} carts with matured labels (as of {}), {} checked out ({:.1} %)\n",
        r.model_version,
        r.from,
        r.to,
        r.carts,
        r.as_of,
        r.positives,
        100.0 * r.positives as f64 / r.carts.max(1) as f64
    );
    if r.seen_by_model {
        out.push_str(
            "  warning: the model was trained or held out on some of these days: not out of sample\n",
        );
    }
    out.push_str(
        "  scorer     AUC     log loss  calib. err  AUC gap  log-loss gap (to the oracle)\n",
    );
    let opt = |v: Option<f64>, sign: bool| match (v, sign) {
        (Some(v), true) => format!("{v:+.4}"),
        (Some(v), false) => format!("{v:.4}"),
        (None, _) => "n/a".into(),
    };
    for g in &r.grades {
        out.push_str(&format!(
            "  {:<9} {:>7} {:>9.4} {:>11.4} {:>8} {:>13}\n",
            g.name,
            opt(g.auc, false),
            g.log_loss,
            g.calibration_error,
            opt(g.auc_gap, true),
            opt(g.log_loss_gap, true),
        ));
    }
    match r.label_mismatches {
        None => out.push_str("  oracle: give --truth (aladdin truth --labels) to grade it\n"),
        Some(0) => {}
        Some(n) => out.push_str(&format!(
            "  warning: {n} labels from the stream differ from the truth file\n"
        )),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_error_weighs_bins_by_their_carts() {
        // perfectly calibrated: 0.25 in a bin with a quarter positive
        let p = [0.25; 4];
        assert!(calibration_error(&p, &[true, false, false, false]).abs() < 1e-12);
        // bin 0.1 (2 carts, rate 1: off by 0.9), bin 0.9 (2 carts, rate 1: off by 0.1)
        let e = calibration_error(&[0.1, 0.1, 0.9, 0.9], &[true, true, true, true]);
        assert!((e - 0.5).abs() < 1e-12, "{e}");
        // p = 1 falls in the last bin
        assert!(calibration_error(&[1.0], &[true]).abs() < 1e-12);
    }
}
