//! Feature encoding, the two models (logistic regression, gradient-boosted trees) and the
//! metrics models are graded by.

use serde::{Deserialize, Serialize};

use crate::store::Features;

/// Turns [`Features`] into a numeric row: one-hot channel and device (the vocabularies seen
/// in training; an unseen value is all zeros), then standardized numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Encoding {
    pub channels: Vec<String>,
    pub devices: Vec<String>,
    /// Mean and standard deviation of each numeric column (see [`NUMERIC`]).
    pub means: Vec<f64>,
    pub stds: Vec<f64>,
}

/// The numeric columns, in order.
pub const NUMERIC: [&str; 10] = [
    "signed_in",
    "sessions_before",
    "orders_before",
    "ordered_before",
    "days_since_last_order",
    "product_views",
    "log_unit_price",
    "quantity",
    "hour",
    "weekend",
];

fn numbers(f: &Features) -> [f64; 10] {
    [
        f.signed_in as u8 as f64,
        (f.sessions_before as f64).ln_1p(),
        (f.orders_before as f64).ln_1p(),
        f.days_since_last_order.is_some() as u8 as f64,
        // never ordered: as if a year ago
        f.days_since_last_order.unwrap_or(365.0).min(365.0),
        f.product_views as f64,
        f.unit_price.max(0.01).ln(),
        f.quantity as f64,
        f.hour as f64,
        (f.weekday >= 5) as u8 as f64,
    ]
}

impl Encoding {
    /// The encoding of a training set.
    pub fn fit(rows: &[&Features]) -> Encoding {
        let mut channels: Vec<String> = rows.iter().map(|f| f.channel.clone()).collect();
        channels.sort();
        channels.dedup();
        let mut devices: Vec<String> = rows.iter().map(|f| f.device.clone()).collect();
        devices.sort();
        devices.dedup();
        let n = rows.len().max(1) as f64;
        let mut means = vec![0.0; NUMERIC.len()];
        for f in rows {
            for (m, x) in means.iter_mut().zip(numbers(f)) {
                *m += x / n;
            }
        }
        let mut stds = vec![0.0; NUMERIC.len()];
        for f in rows {
            for ((s, m), x) in stds.iter_mut().zip(&means).zip(numbers(f)) {
                *s += (x - m) * (x - m) / n;
            }
        }
        // a constant column stays 0 after centring
        let stds = stds.into_iter().map(|v| v.sqrt().max(1e-9)).collect();
        Encoding {
            channels,
            devices,
            means,
            stds,
        }
    }

    pub fn width(&self) -> usize {
        self.channels.len() + self.devices.len() + NUMERIC.len()
    }

    pub fn encode(&self, f: &Features) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.width());
        out.extend(self.channels.iter().map(|c| (*c == f.channel) as u8 as f64));
        out.extend(self.devices.iter().map(|d| (*d == f.device) as u8 as f64));
        for ((x, m), s) in numbers(f).into_iter().zip(&self.means).zip(&self.stds) {
            out.push((x - m) / s);
        }
        out
    }

    /// `encode(f) · w` without building the encoded row (scoring allocates nothing); the same
    /// terms summed in the same order, so the same bits as the encoded row's dot product.
    pub fn dot(&self, f: &Features, w: &[f64]) -> f64 {
        let channels = self.channels.iter().map(|c| (*c == f.channel) as u8 as f64);
        let devices = self.devices.iter().map(|d| (*d == f.device) as u8 as f64);
        let numeric = numbers(f)
            .into_iter()
            .zip(&self.means)
            .zip(&self.stds)
            .map(|((x, m), s)| (x - m) / s);
        channels
            .chain(devices)
            .chain(numeric)
            .zip(w)
            .map(|(a, b)| a * b)
            .sum()
    }

    fn check(&self) -> Result<(), String> {
        if self.means.len() != NUMERIC.len() || self.stds.len() != NUMERIC.len() {
            return Err(format!(
                "{} means and {} deviations for {} numeric features",
                self.means.len(),
                self.stds.len(),
                NUMERIC.len()
            ));
        }
        if !self.means.iter().chain(&self.stds).all(|v| v.is_finite()) {
            return Err("a parameter is not a finite number".into());
        }
        Ok(())
    }

    /// The names of the encoded columns, for the registry.
    pub fn names(&self) -> Vec<String> {
        self.channels
            .iter()
            .map(|c| format!("channel={c}"))
            .chain(self.devices.iter().map(|d| format!("device={d}")))
            .chain(NUMERIC.iter().map(|n| n.to_string()))
            .collect()
    }
}

/// A fitted logistic regression: p = σ(w·x + b) on encoded features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Logistic {
    pub encoding: Encoding,
    pub weights: Vec<f64>,
    pub intercept: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum FitError {
    #[error("cannot train on {0} carts: at least 20 are needed")]
    TooFew(usize),
    #[error("every training cart has label {0}: a model needs both outcomes")]
    OneClass(bool),
    #[error("logistic regression: {0}")]
    Linfa(String),
}

fn check_rows(rows: &[(&Features, bool)]) -> Result<(), FitError> {
    if rows.len() < 20 {
        return Err(FitError::TooFew(rows.len()));
    }
    if let Some(first) = rows.first().map(|r| r.1)
        && rows.iter().all(|r| r.1 == first)
    {
        return Err(FitError::OneClass(first));
    }
    Ok(())
}

pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl Logistic {
    /// Fits on (features, label) with linfa's L2-regularized logistic regression.
    pub fn fit(rows: &[(&Features, bool)]) -> Result<Logistic, FitError> {
        use linfa::prelude::*;
        check_rows(rows)?;
        let feats: Vec<&Features> = rows.iter().map(|r| r.0).collect();
        let encoding = Encoding::fit(&feats);
        let w = encoding.width();
        let flat: Vec<f64> = feats.iter().flat_map(|f| encoding.encode(f)).collect();
        let x = ndarray::Array2::from_shape_vec((rows.len(), w), flat)
            .map_err(|e| FitError::Linfa(e.to_string()))?;
        let y = ndarray::Array1::from_iter(rows.iter().map(|r| r.1));
        let data = Dataset::new(x, y);
        let fitted = linfa_logistic::LogisticRegression::default()
            .alpha(1.0)
            .max_iterations(300)
            .fit(&data)
            .map_err(|e| FitError::Linfa(e.to_string()))?;
        // linfa models the probability of its `pos` class: orient the weights to P(true)
        let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
        Ok(Logistic {
            weights: fitted.params().iter().map(|v| sign * v).collect(),
            intercept: sign * fitted.intercept(),
            encoding,
        })
    }

    pub fn predict(&self, f: &Features) -> f64 {
        sigmoid(self.intercept + self.encoding.dot(f, &self.weights))
    }

    /// Checks the parts fit together (a model file may have been edited or cut short).
    pub fn check(&self) -> Result<(), String> {
        let e = &self.encoding;
        e.check()?;
        if self.weights.len() != e.width() {
            return Err(format!(
                "{} weights for {} encoded features",
                self.weights.len(),
                e.width()
            ));
        }
        let finite = self.weights.iter().all(|v| v.is_finite()) && self.intercept.is_finite();
        if !finite {
            return Err("a parameter is not a finite number".into());
        }
        Ok(())
    }
}

/// Gradient-boosted trees (the `gbdt` crate, log-likelihood loss) on the same encoded rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Boosted {
    pub encoding: Encoding,
    pub trees: Trees,
}

/// `gbdt`'s model, shared (it is neither `Clone` nor `Debug`) and compared by its JSON.
#[derive(Clone)]
pub struct Trees(std::sync::Arc<gbdt::gradient_boost::GBDT>);

impl std::fmt::Debug for Trees {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Trees(..)")
    }
}

impl PartialEq for Trees {
    fn eq(&self, other: &Trees) -> bool {
        serde_json::to_value(&*self.0).ok() == serde_json::to_value(&*other.0).ok()
    }
}

impl Serialize for Trees {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Trees {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Trees, D::Error> {
        gbdt::gradient_boost::GBDT::deserialize(d).map(|g| Trees(std::sync::Arc::new(g)))
    }
}

/// Boosting settings; [`BoostParams::default`] is what training uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoostParams {
    pub trees: usize,
    pub depth: u32,
    pub shrinkage: f32,
    pub min_leaf: usize,
}

impl Default for BoostParams {
    fn default() -> BoostParams {
        // the best held-out log loss of a small grid on the small shop (BENCHMARKS.md):
        // more or bigger trees overfit ~5,000 carts
        BoostParams {
            trees: 100,
            depth: 5,
            shrinkage: 0.05,
            min_leaf: 200,
        }
    }
}

fn gbdt_row(x: Vec<f64>) -> Vec<f32> {
    x.into_iter().map(|v| v as f32).collect()
}

impl Boosted {
    pub fn fit(rows: &[(&Features, bool)]) -> Result<Boosted, FitError> {
        Boosted::fit_with(rows, &BoostParams::default())
    }

    pub fn fit_with(rows: &[(&Features, bool)], bp: &BoostParams) -> Result<Boosted, FitError> {
        use gbdt::decision_tree::Data;
        check_rows(rows)?;
        let feats: Vec<&Features> = rows.iter().map(|r| r.0).collect();
        let encoding = Encoding::fit(&feats);
        let mut cfg = gbdt::config::Config::new();
        cfg.set_feature_size(encoding.width());
        cfg.set_max_depth(bp.depth);
        cfg.set_iterations(bp.trees);
        cfg.set_shrinkage(bp.shrinkage);
        cfg.set_min_leaf_size(bp.min_leaf);
        cfg.set_loss("LogLikelyhood");
        // no subsampling: gbdt draws it from thread_rng, which would break determinism
        cfg.set_data_sample_ratio(1.0);
        cfg.set_feature_sample_ratio(1.0);
        cfg.set_training_optimization_level(2);
        let mut data: Vec<Data> = rows
            .iter()
            .map(|(f, l)| {
                Data::new_training_data(
                    gbdt_row(encoding.encode(f)),
                    1.0,
                    if *l { 1.0 } else { -1.0 },
                    None,
                )
            })
            .collect();
        let mut model = gbdt::gradient_boost::GBDT::new(&cfg);
        model.fit(&mut data);
        Ok(Boosted {
            encoding,
            trees: Trees(std::sync::Arc::new(model)),
        })
    }

    pub fn predict(&self, f: &Features) -> f64 {
        let row = gbdt::decision_tree::Data::new_test_data(gbdt_row(self.encoding.encode(f)), None);
        self.trees.0.predict(&vec![row])[0] as f64
    }

    /// gbdt asserts (panics) on a tree count that differs from its settings and indexes
    /// features unchecked: both are checked here first.
    pub fn check(&self) -> Result<(), String> {
        self.encoding.check()?;
        let v = serde_json::to_value(&*self.trees.0).map_err(|e| e.to_string())?;
        let iterations = v["conf"]["iterations"].as_u64();
        let trees = v["trees"].as_array().map(Vec::len);
        if iterations != trees.map(|n| n as u64) {
            return Err(format!(
                "{} trees where the settings say {}",
                trees.map_or("no".into(), |n| n.to_string()),
                iterations.map_or("nothing".into(), |n| n.to_string())
            ));
        }
        let width = v["conf"]["feature_size"].as_u64();
        if width != Some(self.encoding.width() as u64) {
            return Err(format!(
                "trees over {width:?} features for {} encoded features",
                self.encoding.width()
            ));
        }
        if !v["bias"].as_f64().is_some_and(f64::is_finite) {
            return Err("the trees' bias is not a finite number".into());
        }
        Ok(())
    }
}

/// A registered model of either kind. Untagged, so model files written before the boosted
/// model existed (a bare logistic regression) still load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Model {
    Logistic(Logistic),
    Boosted(Boosted),
}

impl Model {
    pub fn kind(&self) -> &'static str {
        match self {
            Model::Logistic(_) => "logistic_regression",
            Model::Boosted(_) => "gradient_boosted_trees",
        }
    }

    pub fn predict(&self, f: &Features) -> f64 {
        match self {
            Model::Logistic(m) => m.predict(f),
            Model::Boosted(m) => m.predict(f),
        }
    }

    pub fn check(&self) -> Result<(), String> {
        match self {
            Model::Logistic(m) => m.check(),
            Model::Boosted(m) => m.check(),
        }
    }

    pub fn encoding(&self) -> &Encoding {
        match self {
            Model::Logistic(m) => &m.encoding,
            Model::Boosted(m) => &m.encoding,
        }
    }
}

/// Probabilities are clipped away from 0 and 1 so one confident miss is finite.
const EPS: f64 = 1e-6;

/// Mean negative log-likelihood.
pub fn log_loss(p: &[f64], y: &[bool]) -> f64 {
    let n = p.len().max(1) as f64;
    p.iter()
        .zip(y)
        .map(|(p, y)| {
            let p = p.clamp(EPS, 1.0 - EPS);
            if *y { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum::<f64>()
        / n
}

/// Area under the ROC curve (Mann–Whitney, ties counted half); None with one class only.
pub fn auc(p: &[f64], y: &[bool]) -> Option<f64> {
    let mut idx: Vec<usize> = (0..p.len()).collect();
    idx.sort_by(|a, b| p[*a].total_cmp(&p[*b]));
    // average ranks over ties
    let mut ranks = vec![0.0; p.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && p[idx[j + 1]] == p[idx[i]] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            ranks[idx[k]] = r;
        }
        i = j + 1;
    }
    let pos = y.iter().filter(|v| **v).count() as f64;
    let neg = y.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return None;
    }
    let sum: f64 = ranks
        .iter()
        .zip(y)
        .filter(|(_, y)| **y)
        .map(|(r, _)| r)
        .sum();
    Some((sum - pos * (pos + 1.0) / 2.0) / (pos * neg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_pairs_and_ties() {
        assert_eq!(
            auc(&[0.1, 0.2, 0.3, 0.4], &[false, false, true, true]),
            Some(1.0)
        );
        assert_eq!(
            auc(&[0.4, 0.3, 0.2, 0.1], &[false, false, true, true]),
            Some(0.0)
        );
        assert_eq!(auc(&[0.5, 0.5], &[false, true]), Some(0.5));
        // 1 positive above 2 of 3 negatives
        assert!(
            (auc(&[0.1, 0.2, 0.6, 0.5], &[false, false, false, true]).unwrap() - 2.0 / 3.0).abs()
                < 1e-12
        );
        assert_eq!(auc(&[0.1, 0.2], &[true, true]), None);
    }

    #[test]
    fn dot_is_the_encoded_rows_dot_product() {
        let f = |channel: &str, device: &str, last: Option<f64>| Features {
            channel: channel.into(),
            device: device.into(),
            signed_in: last.is_some(),
            sessions_before: 3,
            orders_before: 1,
            days_since_last_order: last,
            product_views: 4,
            unit_price: 19.99,
            quantity: 2,
            hour: 21,
            weekday: 5,
        };
        let rows = [
            f("email", "mobile", Some(2.5)),
            f("organic", "desktop", None),
        ];
        let e = Encoding::fit(&rows.iter().collect::<Vec<_>>());
        let w: Vec<f64> = (0..e.width()).map(|i| 0.3 - 0.07 * i as f64).collect();
        // an unseen channel encodes as all zeros in the channel columns
        for r in rows.iter().chain([&f("tiktok_ads", "tablet", Some(400.0))]) {
            let want: f64 = e.encode(r).iter().zip(&w).map(|(a, b)| a * b).sum();
            assert_eq!(e.dot(r, &w).to_bits(), want.to_bits(), "{r:?}");
        }
    }

    #[test]
    fn log_loss_of_a_coin_is_ln_2() {
        let l = log_loss(&[0.5, 0.5], &[true, false]);
        assert!((l - std::f64::consts::LN_2).abs() < 1e-12);
        assert!(log_loss(&[0.0], &[true]).is_finite());
    }
}
