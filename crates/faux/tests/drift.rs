//! `[[drift]]` beyond conversion: a price change and a new paid channel from a date. The days
//! before the date are the rows the same scenario without the drift makes, byte for byte; from
//! the date on the change shows in the rows.

use std::collections::HashMap;

use faux::ecommerce::tables::Rec;
use faux::{Date, Record, Scenario};

const BASE: &str = "[shop]\nopened_on = \"2024-01-01\"\n";
const FROM: &str = "2024-01-08";

fn drifted() -> String {
    format!(
        "{BASE}
[[drift]]
from = \"{FROM}\"
price = 1.15

[[drift]]
from = \"{FROM}\"
channel = \"tiktok_ads\"
conversion = 0.25
launch = {{ daily_budget = 400.0, scale = 20.0, elasticity = 0.8, cost_per_mille = 6.0 }}
"
    )
}

fn day(s: &str) -> Date {
    s.parse().unwrap()
}

/// Every change record of `d`, as text (Debug shows every field).
fn rows(sc: &Scenario, d: Date) -> Vec<String> {
    sc.changes(d).iter().map(|c| format!("{c:?}")).collect()
}

#[test]
fn days_before_the_drift_are_unchanged() {
    let plain = Scenario::from_toml("plain.toml", BASE, 5).unwrap();
    let drift = Scenario::from_toml("drift.toml", &drifted(), 5).unwrap();
    let from = day(FROM);
    for k in [-7, -2, -1] {
        let d = from.add_days(k);
        let (a, b) = (rows(&plain, d), rows(&drift, d));
        assert!(a.len() > 1000, "{d}: {} records", a.len());
        assert!(a == b, "{d}: the days before {FROM} differ");
    }
    assert!(
        rows(&plain, from) != rows(&drift, from),
        "{FROM} itself is drawn as before: the drift does nothing"
    );
}

#[test]
fn from_the_date_prices_rise_and_the_new_channel_runs() {
    let plain = Scenario::from_toml("plain.toml", BASE, 5).unwrap();
    let drift = Scenario::from_toml("drift.toml", &drifted(), 5).unwrap();
    let de = drift.as_ecommerce().unwrap();
    let from = day(FROM);

    // the products table: every product listed before the date gets a version at its start,
    // its price ~15 % up (rounded to a .99 price); no drawn price change happens in a
    // product's first 30 days, so the opening day's prices are the ones before the drift
    let prices = |d: Date| -> HashMap<String, (i64, i64)> {
        drift
            .changes(d)
            .iter()
            .filter_map(|c| match &c.row {
                Record::Ecommerce(Rec::Products(p)) => {
                    Some((p.id.to_string(), (p.price, p.updated_at.0)))
                }
                _ => None,
            })
            .collect()
    };
    let (opening, after) = (prices(day("2024-01-01")), prices(from));
    let raised: Vec<f64> = after
        .iter()
        .filter(|(_, (_, at))| *at == from.start().0)
        .filter_map(|(id, (p, _))| Some(*p as f64 / opening.get(id)?.0 as f64))
        .collect();
    assert!(
        raised.len() > 100,
        "{} products re-priced at the drift",
        raised.len()
    );
    let mean = raised.iter().sum::<f64>() / raised.len() as f64;
    assert!(
        (1.10..1.20).contains(&mean),
        "mean factor {mean} over {} products",
        raised.len()
    );

    // marketing: the new channel's spend from the date on, not before
    let spend = |sc: &Scenario, d: Date| -> Vec<&'static str> {
        sc.as_ecommerce()
            .unwrap()
            .marketing_spend(d)
            .iter()
            .map(|m| m.channel)
            .collect()
    };
    assert!(!spend(&drift, from.add_days(-1)).contains(&"tiktok_ads"));
    assert!(spend(&drift, from).contains(&"tiktok_ads"));
    assert_eq!(
        spend(&drift, from).len(),
        spend(&plain, from).len() + 1,
        "the other channels keep running"
    );

    // sessions: the new channel brings its own, and its carts convert at a quarter of the
    // others' (the true probabilities of signed-in carts)
    let mut by_channel: HashMap<bool, (f64, usize)> = HashMap::new();
    let mut sessions = 0;
    for k in 0..5 {
        let d = from.add_days(k);
        let channel: HashMap<String, &str> = drift
            .changes(d)
            .iter()
            .filter_map(|c| match &c.row {
                Record::Ecommerce(Rec::Sessions(s)) => Some((s.id.to_string(), s.channel)),
                _ => None,
            })
            .collect();
        sessions += channel.values().filter(|c| **c == "tiktok_ads").count();
        for l in de.cart_labels(d).iter().filter(|l| l.customer_id.is_some()) {
            let tiktok = channel.get(&l.session_id.to_string()) == Some(&"tiktok_ads");
            let e = by_channel.entry(tiktok).or_default();
            e.0 += l.p;
            e.1 += 1;
        }
    }
    assert!(sessions > 200, "{sessions} tiktok_ads sessions in 5 days");
    let mean = |t: bool| by_channel[&t].0 / by_channel[&t].1 as f64;
    assert!(by_channel[&true].1 > 20, "{by_channel:?}");
    assert!(
        mean(true) < 0.6 * mean(false),
        "tiktok_ads carts p {} vs others {}",
        mean(true),
        mean(false)
    );
    // the unit prices carts see are the raised ones
    let unit = |sc: &Scenario| -> f64 {
        let (mut sum, mut n) = (0.0, 0);
        for c in sc.changes(from.add_days(1)).iter() {
            if let Record::Ecommerce(Rec::Events(e)) = &c.row
                && e.event_type == "add_to_cart"
            {
                let v: serde_json::Value = serde_json::from_str(&e.properties.to_string()).unwrap();
                sum += v["unit_price"]
                    .as_str()
                    .unwrap()
                    .parse::<f64>()
                    .unwrap()
                    .ln();
                n += 1;
            }
        }
        sum / n as f64
    };
    let lift = (unit(&drift) - unit(&plain)).exp();
    assert!((1.05..1.25).contains(&lift), "geometric mean lift {lift}");
}

#[test]
fn bad_drift_entries_are_refused_with_the_key() {
    let err = |extra: &str| {
        Scenario::from_toml("x.toml", &format!("{BASE}\n[[drift]]\n{extra}"), 1)
            .unwrap_err()
            .to_string()
    };
    let e = err("from = \"2024-02-01\"\nprice = 0.0\n");
    assert!(e.contains("drift[0].price = 0"), "{e}");
    let e = err("from = \"2024-02-01\"\nprice = 1.1\ndevice = \"mobile\"\n");
    assert!(e.contains("drift[0].price") && e.contains("device"), "{e}");
    let e = err(
        "from = \"2024-02-01\"\nlaunch = { daily_budget = 1.0, scale = 1.0, elasticity = 0.5, cost_per_mille = 1.0 }\n",
    );
    assert!(e.contains("drift[0].launch needs drift[0].channel"), "{e}");
    let e = err(
        "from = \"2024-02-01\"\nchannel = \"direct\"\nlaunch = { daily_budget = 1.0, scale = 1.0, elasticity = 0.5, cost_per_mille = 1.0 }\n",
    );
    assert!(e.contains("drift[0].channel = \"direct\""), "{e}");
    let e = err(
        "from = \"2024-02-01\"\nchannel = \"tiktok_ads\"\nlaunch = { daily_budget = 1.0, scale = 1.0, elasticity = 1.5, cost_per_mille = 1.0 }\n",
    );
    assert!(e.contains("drift[0].launch.elasticity = 1.5"), "{e}");
}
