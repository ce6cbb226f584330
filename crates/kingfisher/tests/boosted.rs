//! The gradient-boosted model on the small shop (fed in process, as `kingfisher run` does):
//! out of sample it beats both baselines and stays below the oracle; it is deterministic,
//! registered and loaded back with the same predictions, hot-swappable like the logistic
//! one, and a damaged model file is refused. Training fits both kinds and keeps the one with
//! the lower held-out log loss.

use std::collections::HashMap;
use std::path::Path;

use kingfisher::evaluate::{self, Report};
use kingfisher::model::{Boosted, Model};
use kingfisher::registry::{ModelRecord, Registry};
use kingfisher::store::Store;
use kingfisher::train::{self, Kind, TrainOptions, Truth};

/// The store and truth of the small shop's first `days` days.
fn feed(dir: &Path, days: i32) -> (Store, HashMap<String, Truth>) {
    let scenario = faux::Scenario::from_toml(
        "small-shop",
        kingfisher::run::SMALL_SHOP,
        faux::DEFAULT_SEED,
    )
    .unwrap();
    let shop = scenario.as_ecommerce().unwrap();
    let start: faux::Date = "2024-01-01".parse().unwrap();
    let mut store = Store::open(&dir.join("kf.db")).unwrap();
    let mut truth = HashMap::new();
    for d in 0..days {
        let day = start.add_days(d);
        for l in shop.cart_labels(day) {
            truth.insert(
                l.cart_id.to_string(),
                Truth {
                    p: l.p,
                    label: l.label,
                },
            );
        }
        let changes = kingfisher::run::day_changes(&scenario, day).unwrap();
        store.apply(&changes).unwrap();
    }
    (store, truth)
}

fn grade(r: &Report, name: &str) -> (f64, f64) {
    let g = r.grade(name).unwrap();
    (g.auc.unwrap(), g.log_loss)
}

#[test]
fn boosted_trees_beat_the_baselines_below_the_oracle_and_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    // 45 days: trained as of day 31 (held-out day 23), graded on days 24 to 37 (matured by
    // the end of day 45), which no model saw
    let (store, truth) = feed(dir.path(), 45);
    let as_of = "2024-01-31T23:59:59Z".parse_timestamp();
    let fit = |kinds: Vec<Kind>, name: &str| -> (Registry, ModelRecord) {
        let registry = Registry::new(&dir.path().join(name));
        let opts = TrainOptions {
            as_of: Some(as_of),
            train_days: Some(28),
            truth: Some(truth.clone()),
            kinds,
            since: None,
        };
        let r = train::train(&store, &registry, &opts).unwrap();
        (registry, r)
    };
    let (_, logistic) = fit(vec![Kind::Logistic], "logistic");
    let (boosted_reg, boosted) = fit(vec![Kind::Boosted], "boosted");
    assert_eq!(logistic.kind, "logistic_regression");
    assert_eq!(boosted.kind, "gradient_boosted_trees");
    assert_eq!(logistic.data_digest, boosted.data_digest, "the same rows");
    assert_eq!(boosted.holdout_day, "2024-01-23");

    let from: faux::Date = "2024-01-24".parse().unwrap();
    let to: faux::Date = "2024-02-06".parse().unwrap();
    let report = |r: &ModelRecord| evaluate::evaluate(&store, r, from, to, Some(&truth)).unwrap();
    let (lr, gb) = (report(&logistic), report(&boosted));
    assert!(!gb.seen_by_model);
    assert_eq!(gb.label_mismatches, Some(0));
    let (gb_auc, gb_ll) = grade(&gb, "model");
    let (lr_auc, lr_ll) = grade(&lr, "model");
    let (const_auc, const_ll) = grade(&gb, "constant");
    let (chan_auc, chan_ll) = grade(&gb, "channel");
    let (oracle_auc, oracle_ll) = grade(&gb, "oracle");
    let gb_cal = gb.grade("model").unwrap().calibration_error;
    let lr_cal = lr.grade("model").unwrap().calibration_error;
    eprintln!(
        "{} carts of {from} to {to}: boosted AUC {gb_auc:.4} log loss {gb_ll:.4} calibration {gb_cal:.4}; \
         logistic AUC {lr_auc:.4} log loss {lr_ll:.4} calibration {lr_cal:.4}; \
         constant AUC {const_auc:.4} log loss {const_ll:.4}; channel AUC {chan_auc:.4} log loss {chan_ll:.4}; \
         oracle AUC {oracle_auc:.4} log loss {oracle_ll:.4}",
        gb.carts
    );
    assert!(gb.carts > 2000, "{} carts", gb.carts);
    // no leakage: nothing knows more than the simulation's own probabilities
    assert!(gb_auc < oracle_auc, "leakage? {gb_auc} ≥ {oracle_auc}");
    assert!(gb_ll > oracle_ll, "leakage? {gb_ll} ≤ {oracle_ll}");
    // clearly above both baselines
    for (name, auc, ll) in [
        ("constant", const_auc, const_ll),
        ("channel", chan_auc, chan_ll),
    ] {
        assert!(gb_auc > auc + 0.1, "AUC {gb_auc} vs {name} {auc}");
        assert!(gb_ll < ll - 0.02, "log loss {gb_ll} vs {name} {ll}");
    }

    // deterministic: the same rows give the same trees
    let (_, again) = fit(vec![Kind::Boosted], "boosted-again");
    assert_eq!(again.model, boosted.model);

    // registered and read back: the same trees and predictions (serde_json may read a
    // float's last bit differently, hence the tolerance on the encoding's effect)
    let loaded = boosted_reg.load(boosted.version).unwrap();
    let (Model::Boosted(Boosted { trees: a, .. }), Model::Boosted(Boosted { trees: b, .. })) =
        (&loaded.model, &boosted.model)
    else {
        panic!("loaded back as {}", loaded.model.kind());
    };
    assert_eq!(a, b);
    let carts = store.carts().unwrap();
    for c in carts.iter().take(500) {
        let (x, y) = (
            loaded.model.predict(&c.features),
            boosted.model.predict(&c.features),
        );
        assert!((x - y).abs() < 1e-6, "{x} vs {y}");
    }

    // a damaged file is refused with the reason, not a panic at the first prediction
    let file = dir.path().join("boosted/v1/model.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    v["model"]["trees"]["trees"].as_array_mut().unwrap().pop();
    std::fs::write(&file, v.to_string()).unwrap();
    let e = boosted_reg.load(1).unwrap_err().to_string();
    assert!(e.contains("model.json") && e.contains("trees"), "{e}");

    // both kinds: the candidate is the one with the lower held-out log loss, the other
    // recorded beside it
    let (_, both) = fit(Vec::new(), "both");
    assert_eq!(both.alternatives.len(), 1);
    let other = &both.alternatives[0];
    assert_ne!(other.kind, both.kind);
    assert!(both.metrics.model.log_loss <= other.scores.log_loss);
    let by_kind = |k: &str| {
        if k == logistic.kind {
            &logistic
        } else {
            &boosted
        }
    };
    assert_eq!(both.model, by_kind(&both.kind).model);
    assert_eq!(other.scores, by_kind(&other.kind).metrics.model);
}

trait ParseTs {
    fn parse_timestamp(&self) -> faux::Timestamp;
}

impl ParseTs for str {
    fn parse_timestamp(&self) -> faux::Timestamp {
        faux::Timestamp::parse_flexible(self).unwrap()
    }
}
