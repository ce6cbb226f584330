//! What the Shiny Rocks story tests (chart, dbt, Kestra flows) share: the numbers a chart
//! should show, recomputed straight from rows. (PostgreSQL and dbt, or a loud skip, come from
//! test-support.)
#![allow(dead_code)]

use std::collections::BTreeMap;

/// Exact cents of a decimal text: `297` → 29700, `123.45` → 12345.
pub fn cents(s: &str) -> i64 {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let frac = format!("{frac:0<2}");
    assert!(
        frac[2..].bytes().all(|b| b == b'0'),
        "{s} has more than two decimals"
    );
    let sign = if whole.starts_with('-') { -1 } else { 1 };
    whole.parse::<i64>().unwrap() * 100 + sign * frac[..2].parse::<i64>().unwrap()
}

/// Per (day, platform without underscore): (marketing cost, sales) in cents, computed the
/// blog's way from plain rows — orders (order_id, day, utm_source), payments (order_id,
/// amount) and marketing (day, platform, amount).
pub fn roi_inputs(
    orders: &[(String, String, String)],
    payments: &[(String, String)],
    marketing: &[(String, String, String)],
) -> BTreeMap<(String, String), (Option<i64>, i64)> {
    let order_of: BTreeMap<&str, (&str, &str)> = orders
        .iter()
        .map(|(id, day, utm)| (id.as_str(), (day.as_str(), utm.as_str())))
        .collect();
    let mut out: BTreeMap<(String, String), (Option<i64>, i64)> = BTreeMap::new();
    for (order_id, amount) in payments {
        if let Some((day, utm)) = order_of.get(order_id.as_str()) {
            let platform = utm.trim_start_matches('_').to_string();
            out.entry((day.to_string(), platform)).or_default().1 += cents(amount);
        }
    }
    for (day, platform, amount) in marketing {
        let e = out.entry((day.clone(), platform.clone())).or_default();
        e.0 = Some(e.0.unwrap_or(0) + cents(amount));
    }
    out
}

/// `(sales − cost) / cost`.
pub fn roi(cost: i64, sales: i64) -> f64 {
    (sales - cost) as f64 / cost as f64
}
