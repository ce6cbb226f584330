//! `kingfisher run`: the whole loop in one process, no broker. Its online predictions are
//! graded here against the simulation's truth (read from faux directly, not through
//! Kingfisher): each made by a model trained before the cart was scored, one per cart, below
//! the oracle and well above chance.

use std::collections::{HashMap, HashSet};
use std::process::Command;

use kingfisher::registry::Registry;
use kingfisher::store::Store;

const KF: &str = env!("CARGO_BIN_EXE_kingfisher");

fn auc(p: &[f64], y: &[bool]) -> f64 {
    let (mut wins, mut pairs) = (0.0, 0.0);
    for (_, pi) in p.iter().enumerate().filter(|(i, _)| y[*i]) {
        for (j, pj) in p.iter().enumerate() {
            if y[j] {
                continue;
            }
            pairs += 1.0;
            wins += if pi > pj {
                1.0
            } else if pi == pj {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / pairs
}

#[test]
fn run_feeds_trains_promotes_predicts_and_evaluates() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let days = 30;
    let out = Command::new(KF)
        .args(["run", "--days", &days.to_string(), "--train-every", "2"])
        .args(["--no-serve", "--dir"])
        .arg(&run_dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    assert!(text.contains("deployed"), "{text}");
    let oracle_row = text
        .lines()
        .find(|l| l.trim_start().starts_with("oracle "))
        .unwrap_or_else(|| panic!("no evaluation in {text}"));
    assert!(!oracle_row.contains("n/a"), "{oracle_row}");

    // the truth, from the engine itself
    let scenario = faux::Scenario::from_toml(
        "small-shop",
        kingfisher::run::SMALL_SHOP,
        faux::DEFAULT_SEED,
    )
    .unwrap();
    let shop = scenario.as_ecommerce().unwrap();
    let start: faux::Date = "2024-01-01".parse().unwrap();
    let mut truth = HashMap::new();
    for d in 0..days {
        for l in shop.cart_labels(start.add_days(d)) {
            truth.insert(l.cart_id.to_string(), l);
        }
    }

    let registry = Registry::new(&run_dir.join("models"));
    let versions = registry.versions().unwrap();
    assert!(versions.len() >= 5, "{versions:?}");
    let trained_at: HashMap<u32, faux::Timestamp> = versions
        .iter()
        .map(|v| {
            let r = registry.load(*v).unwrap();
            (
                *v,
                faux::Timestamp::parse_flexible(&r.trained_as_of).unwrap(),
            )
        })
        .collect();
    let first_model = trained_at.values().min().copied().unwrap();
    let store = Store::open(&run_dir.join("kingfisher.db")).unwrap();
    let (_, end) = store.progress().unwrap().unwrap();
    let carts = store.carts().unwrap();
    let expected: HashSet<&str> = carts
        .iter()
        .filter(|c| c.scored_at > first_model)
        .map(|c| c.cart_id.as_str())
        .collect();

    let text = std::fs::read_to_string(run_dir.join("models/predictions.jsonl")).unwrap();
    let mut seen = HashSet::new();
    let (mut p, mut oracle, mut y) = (Vec::new(), Vec::new(), Vec::new());
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let id = v["cart_id"].as_str().unwrap().to_string();
        let scored = faux::Timestamp::parse_flexible(v["scored_at"].as_str().unwrap()).unwrap();
        let version = v["model_version"].as_u64().unwrap() as u32;
        assert!(
            trained_at[&version] < scored,
            "{id} scored at {scored} by v{version}, trained at {}",
            trained_at[&version]
        );
        let t = &truth[&id];
        assert_eq!(t.scored_at, scored, "{id}");
        if t.matures_at <= end {
            p.push(v["p"].as_f64().unwrap());
            oracle.push(t.p);
            y.push(t.label);
        }
        assert!(seen.insert(id), "{line}: predicted twice");
    }
    assert_eq!(
        seen.iter().map(String::as_str).collect::<HashSet<_>>(),
        expected,
        "one prediction per cart scored after the first model"
    );
    assert!(y.len() > 1000, "{} graded predictions", y.len());
    let (model_auc, oracle_auc) = (auc(&p, &y), auc(&oracle, &y));
    eprintln!(
        "online predictions: {} graded, AUC {model_auc:.4} (oracle {oracle_auc:.4})",
        y.len()
    );
    assert!(
        model_auc < oracle_auc,
        "leakage? {model_auc} ≥ {oracle_auc}"
    );
    assert!(model_auc > 0.65, "{model_auc}");

    // a second run into the same folder is refused
    let out = Command::new(KF)
        .args(["run", "--no-serve", "--dir"])
        .arg(&run_dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() == Some(2) && err.contains("already holds a run"),
        "{err}"
    );
}

#[test]
fn usage_errors_exit_2_naming_the_values() {
    for (args, says) in [
        (
            &["evaluate", "--from", "2024-01-05", "--to", "2024-01-01"][..],
            "--from 2024-01-05 is after --to 2024-01-01",
        ),
        (
            &["evaluate", "--from", "2024-1-5", "--to", "2024-01-06"],
            "2024-1-5",
        ),
        (&["run", "--days", "3"], "--days"),
        (
            &["run", "--scenario", "missing.toml", "--no-serve"],
            "cannot read scenario file missing.toml",
        ),
        (
            &[
                "serve",
                "--broker",
                "amqp://127.0.0.1:1",
                "--listen",
                "127.0.0.1:0",
            ],
            "give --store too",
        ),
    ] {
        let out = Command::new(KF).args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
