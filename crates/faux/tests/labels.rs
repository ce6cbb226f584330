//! Cart labels (`Ecommerce::cart_labels`): the true probabilities are calibrated against the
//! outcomes, and the outcomes agree with the rows the shop writes.

use std::collections::{BTreeMap, HashMap};

use faux::ecommerce::labels::{CartLabel, LABEL_DAYS};
use faux::ecommerce::tables::Rec;
use faux::{Date, Record, Scenario, Timestamp, Uuid};

fn shop() -> Scenario {
    // twice the default traffic: more carts per day of generation
    Scenario::from_toml(
        "labels.toml",
        "[shop]\nopened_on = \"2024-01-01\"\n[traffic]\norganic_sessions_per_day = 3000.0\n",
        11,
    )
    .unwrap()
}

fn day(s: &str) -> Date {
    s.parse().unwrap()
}

fn labels(sc: &Scenario, from: Date, days: i32) -> Vec<CartLabel> {
    let e = sc.as_ecommerce().unwrap();
    (0..days)
        .flat_map(|k| e.cart_labels(from.add_days(k)))
        .collect()
}

#[test]
fn true_probabilities_are_calibrated() {
    let sc = shop();
    let all = labels(&sc, day("2024-02-01"), 30);
    assert!(all.len() > 5_000, "only {} carts", all.len());
    // the probabilities take one value per (persona, signed in): bin by value
    let mut bins: BTreeMap<u64, (f64, u64, u64)> = BTreeMap::new();
    for l in &all {
        assert!((0.0..=1.0).contains(&l.p), "{l:?}");
        let b = bins.entry(l.p.to_bits()).or_default();
        b.0 = l.p;
        b.1 += 1;
        b.2 += l.label as u64;
    }
    assert!(bins.len() >= 4, "{bins:?}");
    for (p, n, yes) in bins.values() {
        let rate = *yes as f64 / *n as f64;
        let sd = (p * (1.0 - p) / *n as f64).sqrt();
        eprintln!("p = {p:.4}: {yes} of {n} carts ordered, rate {rate:.4} (sd {sd:.4})");
        if *p == 0.0 {
            assert_eq!(*yes, 0, "anonymous carts never order");
        } else {
            assert!(
                (rate - p).abs() <= 4.0 * sd,
                "p = {p}: observed {rate} over {n} carts"
            );
        }
    }
    let mean_p = all.iter().map(|l| l.p).sum::<f64>() / all.len() as f64;
    let rate = all.iter().filter(|l| l.label).count() as f64 / all.len() as f64;
    let sd = (mean_p * (1.0 - mean_p) / all.len() as f64).sqrt();
    assert!((mean_p - rate).abs() <= 4.0 * sd, "{mean_p} vs {rate}");
}

#[test]
fn labels_agree_with_the_orders_and_events_written() {
    let sc = shop();
    let from = day("2024-03-01");
    let all = labels(&sc, from, 3);
    // every order_placed and add_to_cart event by cart id, over the carts' horizon
    let mut placed: HashMap<String, Vec<Timestamp>> = HashMap::new();
    let mut first_add: HashMap<String, Timestamp> = HashMap::new();
    for k in 0..3 + LABEL_DAYS + 2 {
        for c in sc.changes(from.add_days(k)).iter() {
            let Record::Ecommerce(Rec::Events(e)) = &c.row else {
                continue;
            };
            let props: serde_json::Value = serde_json::from_str(&e.properties.to_string()).unwrap();
            let Some(cart) = props.get("cart_id").and_then(|v| v.as_str()) else {
                continue;
            };
            match e.event_type {
                "order_placed" => placed
                    .entry(cart.to_string())
                    .or_default()
                    .push(e.occurred_at),
                "add_to_cart" => {
                    let t = first_add.entry(cart.to_string()).or_insert(e.occurred_at);
                    *t = (*t).min(e.occurred_at);
                }
                _ => {}
            }
        }
    }
    // events write cart ids as 32 hex digits (Uuid's Display)
    let id = |u: &Uuid| u.to_string();
    let (mut yes, mut no) = (0, 0);
    for l in &all {
        let cart = id(&l.cart_id);
        assert_eq!(first_add.get(&cart), Some(&l.scored_at), "{l:?}");
        let orders = placed.get(&cart).cloned().unwrap_or_default();
        assert!(orders.len() <= 1, "a cart is ordered once: {l:?}");
        match l.ordered_at {
            Some(t) => {
                yes += 1;
                assert!(l.label && orders == vec![t], "{l:?} {orders:?}");
                assert!(t < l.matures_at);
            }
            None => {
                no += 1;
                // an order after the horizon (resumed on day 8 to 14) is allowed
                let horizon = l.day.add_days(LABEL_DAYS + 1).start();
                assert!(orders.iter().all(|t| *t >= horizon), "{l:?} {orders:?}");
            }
        }
    }
    assert!(yes > 50 && no > 200, "{yes} ordered, {no} not");
}
