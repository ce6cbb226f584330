//! Training: the carts whose label has matured by the training instant, the newest matured
//! day held out, a logistic regression and gradient-boosted trees fitted on the days before
//! it, the one with the lower held-out log loss kept, and its scores next to a constant
//! baseline and the oracle (the simulation's true probabilities).

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use sha2::{Digest, Sha256};

use faux::{Date, Timestamp};

use crate::model::{Boosted, FitError, Logistic, Model, auc, log_loss};
use crate::registry::{
    Alternative, Challenge, Metrics, ModelRecord, Registry, RegistryError, Scores,
};
use crate::store::{Cart, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Fit(#[from] FitError),
    #[error("the feature store is empty: run `kingfisher features` on a stream first")]
    EmptyStore,
    #[error(
        "no label has matured by {as_of}: a cart's label is known 8 days and 1 hour after its day starts; stream more days"
    )]
    NothingMatured { as_of: Timestamp },
    #[error(
        "only one matured day ({0}): training needs earlier days besides the held-out newest one"
    )]
    OneDay(Date),
    #[error("--as-of {as_of} is after the last record in the store ({last})")]
    AsOfAhead { as_of: Timestamp, last: Timestamp },
    #[error("truth file {path}: line {line}: {message}")]
    Truth {
        path: String,
        line: usize,
        message: String,
    },
}

/// One cart of `aladdin truth --labels`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Truth {
    pub p: f64,
    pub label: bool,
}

/// Reads `aladdin truth --labels` output: cart id → true probability and label.
pub fn read_truth(path: &Path) -> Result<HashMap<String, Truth>, TrainError> {
    let err = |line: usize, message: String| TrainError::Truth {
        path: path.display().to_string(),
        line,
        message,
    };
    let file = std::fs::File::open(path).map_err(|e| err(0, e.to_string()))?;
    let mut out = HashMap::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| err(i + 1, e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(&line).map_err(|e| err(i + 1, e.to_string()))?;
        let cart = v["cart_id"].as_str();
        let p = v["p"].as_f64();
        let label = v["label"].as_bool();
        match (cart, p, label) {
            (Some(c), Some(p), Some(label)) => {
                out.insert(c.to_string(), Truth { p, label });
            }
            _ => {
                return Err(err(
                    i + 1,
                    "expected {\"cart_id\": string, \"p\": number, \"label\": bool, …} (aladdin truth --labels)".into(),
                ));
            }
        }
    }
    Ok(out)
}

#[derive(Debug, Default)]
pub struct TrainOptions {
    /// The training instant (default: the last record in the store).
    pub as_of: Option<Timestamp>,
    /// Train on at most this many days before the held-out day.
    pub train_days: Option<u32>,
    pub truth: Option<HashMap<String, Truth>>,
    /// The model kinds to fit (empty: both, logistic regression and boosted trees).
    pub kinds: Vec<Kind>,
    /// Train only on carts of this day and later (after a detected drift: the changed
    /// shop only), unless that leaves fewer than [`MIN_SINCE_CARTS`].
    pub since: Option<Date>,
}

/// Fewer training carts than this since `since`: `since` is ignored (too few to learn from).
pub const MIN_SINCE_CARTS: usize = 200;

/// A kind of model `train` can fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Logistic,
    Boosted,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Logistic, Kind::Boosted];

    fn fit(self, rows: &[(&crate::store::Features, bool)]) -> Result<Model, FitError> {
        Ok(match self {
            Kind::Logistic => Model::Logistic(Logistic::fit(rows)?),
            Kind::Boosted => Model::Boosted(Boosted::fit(rows)?),
        })
    }
}

/// The matured carts at `as_of`, with their labels as known then.
pub fn matured(carts: &[Cart], as_of: Timestamp) -> Vec<(&Cart, bool)> {
    carts
        .iter()
        .filter(|c| c.scored_at <= as_of)
        .filter_map(|c| c.label_at(as_of).map(|l| (c, l)))
        .collect()
}

fn scores(p: &[f64], y: &[bool]) -> Scores {
    Scores {
        log_loss: log_loss(p, y),
        auc: auc(p, y),
    }
}

/// Trains, evaluates and registers the next version.
pub fn train(
    store: &Store,
    registry: &Registry,
    opts: &TrainOptions,
) -> Result<ModelRecord, TrainError> {
    let (_, last) = store.progress()?.ok_or(TrainError::EmptyStore)?;
    let as_of = match opts.as_of {
        Some(t) if t > last => return Err(TrainError::AsOfAhead { as_of: t, last }),
        Some(t) => t,
        None => last,
    };
    let carts = store.carts()?;
    let ready = matured(&carts, as_of);
    let holdout_day = ready
        .iter()
        .map(|(c, _)| c.day)
        .max()
        .ok_or(TrainError::NothingMatured { as_of })?;
    let first_day = match opts.train_days {
        Some(n) => holdout_day.add_days(-(n as i32)),
        None => Date::from_days_since_epoch(i32::MIN / 2),
    };
    let window = |first: Date| -> Vec<(&Cart, bool)> {
        ready
            .iter()
            .filter(|(c, _)| c.day < holdout_day && c.day >= first)
            .copied()
            .collect()
    };
    let train = match opts.since {
        Some(since) if since > first_day => {
            let recent = window(since);
            if recent.len() >= MIN_SINCE_CARTS {
                recent
            } else {
                window(first_day)
            }
        }
        _ => window(first_day),
    };
    let holdout: Vec<(&Cart, bool)> = ready
        .iter()
        .filter(|(c, _)| c.day == holdout_day)
        .copied()
        .collect();
    if train.is_empty() {
        return Err(TrainError::OneDay(holdout_day));
    }
    let rows: Vec<_> = train.iter().map(|(c, l)| (&c.features, *l)).collect();
    let y: Vec<bool> = holdout.iter().map(|(_, l)| *l).collect();
    let kinds: &[Kind] = if opts.kinds.is_empty() {
        &Kind::ALL
    } else {
        &opts.kinds
    };
    // every kind on the same rows, scored on the same held-out day; the best log loss wins
    let mut fitted: Vec<(Model, Scores)> = Vec::new();
    for kind in kinds {
        let m = kind.fit(&rows)?;
        let p: Vec<f64> = holdout
            .iter()
            .map(|(c, _)| m.predict(&c.features))
            .collect();
        fitted.push((m, scores(&p, &y)));
    }
    let best = (0..fitted.len())
        .min_by(|a, b| fitted[*a].1.log_loss.total_cmp(&fitted[*b].1.log_loss))
        .expect("at least one kind");
    let (model, model_scores) = fitted.remove(best);
    let alternatives = fitted
        .into_iter()
        .map(|(m, scores)| Alternative {
            kind: m.kind().to_string(),
            scores,
        })
        .collect();

    let mut digest = Sha256::new();
    for (c, l) in &train {
        digest.update(c.cart_id.as_bytes());
        digest.update(serde_json::to_vec(&c.features).expect("features serialize"));
        digest.update([*l as u8, b'\n']);
    }
    let data_digest = format!(
        "sha256:{}",
        digest
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );

    let train_pos = train.iter().filter(|(_, l)| *l).count();
    let rate = train_pos as f64 / train.len() as f64;
    let constant = scores(&vec![rate; y.len()], &y);
    let (oracle, label_mismatches, missing) = match &opts.truth {
        Some(truth) => {
            let mut op = Vec::new();
            let mut oy = Vec::new();
            let mut mismatches = 0;
            let mut missing = 0;
            for (c, l) in &holdout {
                match truth.get(&c.cart_id) {
                    Some(t) => {
                        op.push(t.p);
                        oy.push(*l);
                        mismatches += (t.label != *l) as usize;
                    }
                    None => missing += 1,
                }
            }
            (Some(scores(&op, &oy)), Some(mismatches), Some(missing))
        }
        None => (None, None, None),
    };
    // promotion: the new model must beat the deployed one on the newest matured day; a
    // deployed model that no longer loads is replaced
    let deployed_before = match registry.deployed()? {
        Some(v) => match registry.load(v) {
            Ok(d) => {
                let dp: Vec<f64> = holdout
                    .iter()
                    .map(|(c, _)| d.model.predict(&c.features))
                    .collect();
                Some(Challenge {
                    version: v,
                    scores: scores(&dp, &y),
                })
            }
            Err(e) => {
                tracing::warn!("the deployed model cannot be loaded, replacing it: {e}");
                None
            }
        },
        None => None,
    };
    let promoted = deployed_before
        .as_ref()
        .is_none_or(|d| model_scores.log_loss < d.scores.log_loss);
    let record = ModelRecord {
        version: registry.next_version()?,
        kind: model.kind().into(),
        trained_as_of: as_of.to_string(),
        training_from: train
            .iter()
            .map(|(c, _)| c.day)
            .min()
            .expect("not empty")
            .to_string(),
        training_to: train
            .iter()
            .map(|(c, _)| c.day)
            .max()
            .expect("not empty")
            .to_string(),
        holdout_day: holdout_day.to_string(),
        train_carts: train.len(),
        train_positives: train_pos,
        holdout_carts: holdout.len(),
        holdout_positives: y.iter().filter(|v| **v).count(),
        data_digest,
        features: model.encoding().names(),
        metrics: Metrics {
            model: model_scores,
            constant,
            oracle,
            label_mismatches,
            missing_from_truth: missing,
        },
        deployed_before,
        promoted,
        alternatives,
        model,
    };
    registry.register(&record)?;
    if promoted {
        registry.deploy(record.version)?;
    }
    Ok(record)
}
