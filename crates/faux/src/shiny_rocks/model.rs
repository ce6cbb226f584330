//! The original generator's model: the daily order curve, the probability mixes, prices and
//! the marketing team's return targets, and how `aladdin scenario show` describes them.

use super::ShinyRocks;
use crate::Tunable;

/// The original's `pattern_function(x, 800)`: the number of orders on day-of-year `x`.
///
/// Evaluated in f64 in exactly the original's operation order (left to right, as Python does):
/// an algebraically equal form truncates differently on some days (e.g. day 150: 799 vs 800).
pub fn daily_orders(day_of_year: u32) -> u64 {
    use std::f64::consts::PI;
    let x = day_of_year as f64;
    let v = -6.1;
    let t = 1.4;
    let amplitude = 800.0;
    let value = 25.0
        * (2.0 * PI * x / 200.0 + PI / 2.0).sin()
        * v
        * (3.0 * PI * x / 500.0 + PI / 2.0).sin()
        * t
        * (PI * x / 100.0 + PI / 3.0).cos()
        * t
        + amplitude;
    // Python: int(max(0, value)) truncates towards zero
    if value > 0.0 { value as u64 } else { 0 }
}

pub static PRODUCTS: [(i64, f64); 2] = [(3, 0.64), (5, 0.36)];
pub static UTM_SOURCES: [(&str, f64); 4] = [
    ("_instagram", 0.2),
    ("_amazon", 0.6),
    ("_facebook", 0.1),
    ("_youtube", 0.1),
];
pub static PAYMENT_METHODS: [(&str, f64); 3] =
    [("PAYPAL", 0.17), ("CARD", 0.80), ("APPLE_PAY", 0.03)];
pub static SERVICES: [(&str, f64); 4] = [
    ("MAPS", 0.3),
    ("MUSIC", 0.4),
    ("PHONE", 0.1),
    ("MESSAGE", 0.2),
];
/// Price of a product: its id times 99, as in the original.
pub const PRICE_PER_PRODUCT_ID: i64 = 99;
pub const SERVICES_PER_ORDER: (i64, i64) = (0, 10);
pub const SERVICE_DURATION_S: (i64, i64) = (5, 3600);

/// Marketing platforms, the utm_source each one's sales arrive with, and the return on
/// investment the marketing team gets from it on average (`(sales − cost) / cost`).
pub static PLATFORMS: [(&str, &str, f64); 4] = [
    ("instagram", "_instagram", 1.4),
    ("amazon", "_amazon", 2.6),
    ("facebook", "_facebook", 0.35),
    ("youtube", "_youtube", -0.3),
];
/// Day-to-day spend varies uniformly within ± this share of the plan.
pub const SPEND_NOISE: f64 = 0.15;

impl ShinyRocks {
    pub fn tunables() -> Vec<Tunable> {
        fn mix<K: std::fmt::Display>(items: &[(K, f64)]) -> String {
            items
                .iter()
                .map(|(k, w)| format!("{k}: {w}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
        let roi = PLATFORMS
            .iter()
            .map(|(p, _, r)| format!("{p}: {r}"))
            .collect::<Vec<_>>()
            .join(", ");
        vec![
            Tunable::new(
                "daily_orders",
                "int(max(0, 25·sin(2πx/200+π/2)·v·sin(3πx/500+π/2)·t·cos(πx/100+π/3)·t + 800)), v=-6.1, t=1.4",
                "orders per day, x = day of year (the original's pattern_function)",
            ),
            Tunable::new(
                "product_mix",
                mix(&PRODUCTS),
                "share of orders per product_id",
            ),
            Tunable::new(
                "utm_source_mix",
                mix(&UTM_SOURCES),
                "share of orders per marketing source",
            ),
            Tunable::new(
                "payment_method_mix",
                mix(&PAYMENT_METHODS),
                "share of payments per method",
            ),
            Tunable::new(
                "service_mix",
                mix(&SERVICES),
                "share of service runs per service",
            ),
            Tunable::new(
                "services_per_order",
                "uniform 0..=10",
                "service runs per order",
            ),
            Tunable::new(
                "service_duration_s",
                "uniform 5..=3600",
                "duration of a service run",
            ),
            Tunable::new("price", "product_id × 99", "payment amount"),
            Tunable::new(
                "marketing_target_roi",
                roi,
                "average (sales − cost) / cost per platform",
            ),
            Tunable::new(
                "marketing_spend_noise",
                format!("±{SPEND_NOISE}"),
                "day-to-day variation of planned spend",
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_curve_keeps_the_originals_truncation_on_day_150() {
        assert_eq!(daily_orders(150), 799);
        assert_eq!(daily_orders(1), 658);
    }
}
