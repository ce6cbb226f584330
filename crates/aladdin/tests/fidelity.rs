//! Fidelity to the Shiny Rocks original: its exact daily order curve, its mixes, its formats.
//!
//! Tolerances come from the sample size: a share estimated from n draws has standard error
//! sqrt(p(1−p)/n); we allow 5 standard errors (a false alarm about once in 1.7 million).

mod common;

use std::collections::{BTreeMap, HashSet};

use common::{ok, read_csv};

/// The original's own daily counts, computed by its `pattern_function` (shared/bench).
fn reference_curve() -> BTreeMap<u32, usize> {
    include_str!("fixtures/daily_orders.csv")
        .lines()
        .skip(1)
        .map(|l| {
            let (x, n) = l.split_once(',').unwrap();
            (x.parse().unwrap(), n.trim().parse().unwrap())
        })
        .collect()
}

#[test]
fn every_day_of_a_leap_and_a_common_year_has_the_originals_order_count() {
    let curve = reference_curve();
    assert_eq!(curve.len(), 366);
    let tmp = tempfile::tempdir().unwrap();
    for (from, to) in [("2024-01-01", "2024-12-31"), ("2023-01-01", "2023-12-31")] {
        ok(&[
            "generate",
            "--scenario",
            "shiny-rocks",
            "--quiet",
            "--tables",
            "orders",
            "--from",
            from,
            "--to",
            to,
            "--out",
            tmp.path().to_str().unwrap(),
        ]);
    }
    let mut checked = 0;
    for year in [2023, 2024] {
        let mut day = faux::Date::from_ymd(year, 1, 1).unwrap();
        while day.year() == year {
            let (_, rows) = read_csv(&tmp.path().join(format!("orders/date={day}/part-0.csv")));
            assert_eq!(
                rows.len(),
                curve[&day.day_of_year()],
                "{day} (day {})",
                day.day_of_year()
            );
            day = day.succ();
            checked += 1;
        }
    }
    assert_eq!(checked, 731);
}

fn assert_share(what: &str, count: usize, n: usize, p: f64) {
    let observed = count as f64 / n as f64;
    let se = (p * (1.0 - p) / n as f64).sqrt();
    assert!(
        (observed - p).abs() <= 5.0 * se,
        "{what}: {observed:.4} observed over {n}, expected {p} ± {:.4}",
        5.0 * se
    );
}

fn shares(what: &str, values: impl Iterator<Item = String>, expected: &[(&str, f64)]) {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut n = 0;
    for v in values {
        *counts.entry(v).or_default() += 1;
        n += 1;
    }
    let allowed: HashSet<&str> = expected.iter().map(|(k, _)| *k).collect();
    for k in counts.keys() {
        assert!(
            allowed.contains(k.as_str()),
            "{what}: unexpected value {k:?}"
        );
    }
    for (k, p) in expected {
        assert_share(
            &format!("{what}={k}"),
            counts.get(*k).copied().unwrap_or(0),
            n,
            *p,
        );
    }
}

#[test]
fn sixty_days_match_the_blogs_mixes_and_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    ok(&[
        "generate",
        "--scenario",
        "shiny-rocks",
        "--quiet",
        "--from",
        "2024-03-01",
        "--to",
        "2024-04-29",
        "--out",
        out.to_str().unwrap(),
    ]);
    let mut orders = Vec::new();
    let mut payments = Vec::new();
    let mut services = Vec::new();
    let mut day = faux::Date::from_ymd(2024, 3, 1).unwrap();
    for _ in 0..60 {
        let p = |t: &str| out.join(format!("{t}/date={day}/part-0.csv"));
        let (h, rows) = read_csv(&p("orders"));
        assert_eq!(
            h,
            [
                "user_id",
                "order_id",
                "order_date",
                "product_id",
                "utm_source"
            ]
        );
        assert!(rows.iter().all(|r| r[2] == day.to_string()));
        orders.extend(rows);
        let (h, rows) = read_csv(&p("payments"));
        assert_eq!(
            h,
            [
                "payment_id",
                "order_id",
                "order_date",
                "payment_method",
                "amount"
            ]
        );
        payments.extend(rows);
        let (h, rows) = read_csv(&p("services"));
        assert_eq!(
            h,
            [
                "service_id",
                "user_id",
                "product_id",
                "duration",
                "run_date"
            ]
        );
        assert!(rows.iter().all(|r| r[4] == day.to_string()));
        services.extend(rows);
        day = day.succ();
    }

    // ids: 32 lowercase hex digits, version-4 shaped, unique
    let is_hex_id = |s: &str| {
        s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            && &s[12..13] == "4"
    };
    let mut ids = HashSet::new();
    for r in &orders {
        assert!(is_hex_id(&r[0]) && is_hex_id(&r[1]), "{r:?}");
        assert!(
            ids.insert(r[0].clone()) && ids.insert(r[1].clone()),
            "duplicate id in {r:?}"
        );
    }
    for r in &payments {
        assert!(is_hex_id(&r[0]), "{r:?}");
        assert!(ids.insert(r[0].clone()), "duplicate payment id {}", r[0]);
    }

    // mixes
    shares(
        "product_id",
        orders.iter().map(|r| r[3].clone()),
        &[("3", 0.64), ("5", 0.36)],
    );
    shares(
        "utm_source",
        orders.iter().map(|r| r[4].clone()),
        &[
            ("_instagram", 0.2),
            ("_amazon", 0.6),
            ("_facebook", 0.1),
            ("_youtube", 0.1),
        ],
    );
    shares(
        "payment_method",
        payments.iter().map(|r| r[3].clone()),
        &[("PAYPAL", 0.17), ("CARD", 0.80), ("APPLE_PAY", 0.03)],
    );
    shares(
        "service_id",
        services.iter().map(|r| r[0].clone()),
        &[
            ("MAPS", 0.3),
            ("MUSIC", 0.4),
            ("PHONE", 0.1),
            ("MESSAGE", 0.2),
        ],
    );

    // every payment pays exactly one existing order, with amount = product_id × 99
    let by_order: BTreeMap<&str, &Vec<String>> =
        orders.iter().map(|r| (r[1].as_str(), r)).collect();
    assert_eq!(payments.len(), orders.len());
    let mut paid = HashSet::new();
    for p in &payments {
        let o = by_order
            .get(p[1].as_str())
            .unwrap_or_else(|| panic!("payment {} of unknown order", p[0]));
        assert!(paid.insert(p[1].clone()), "order {} paid twice", p[1]);
        assert_eq!(p[2], o[2]);
        let product: i64 = o[3].parse().unwrap();
        assert_eq!(p[4], (product * 99).to_string());
    }

    // services: belong to an existing order's buyer and phone, 0–10 per order, 5–3600 s
    let buyers: BTreeMap<&str, &Vec<String>> = orders.iter().map(|r| (r[0].as_str(), r)).collect();
    let mut per_order: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &services {
        let o = buyers
            .get(s[1].as_str())
            .unwrap_or_else(|| panic!("service of unknown user {}", s[1]));
        assert_eq!(s[2], o[3], "service product differs from the order's");
        let d: i64 = s[3].parse().unwrap();
        assert!((5..=3600).contains(&d), "duration {d}");
        *per_order.entry(s[1].as_str()).or_default() += 1;
    }
    // services per order ~ uniform on 0..=10: chi-square with 10 degrees of freedom;
    // 35.6 is its 0.9999 quantile
    let mut hist = [0usize; 11];
    for o in &orders {
        let k = per_order.get(o[0].as_str()).copied().unwrap_or(0);
        assert!(k <= 10, "{k} services for one order");
        hist[k] += 1;
    }
    let expected = orders.len() as f64 / 11.0;
    let chi2: f64 = hist
        .iter()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum();
    assert!(
        chi2 < 35.6,
        "services per order not uniform on 0..=10: {hist:?}, chi2 {chi2:.1}"
    );
    // durations ~ uniform on 5..=3600: mean 1802.5, sd ≈ 1038
    let mean = services
        .iter()
        .map(|s| s[3].parse::<f64>().unwrap())
        .sum::<f64>()
        / services.len() as f64;
    assert!(
        (mean - 1802.5).abs() < 5.0 * 1038.0 / (services.len() as f64).sqrt(),
        "mean duration {mean}"
    );
}

#[test]
fn marketing_spend_gives_each_platform_a_different_plausible_roi() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    ok(&[
        "generate",
        "--scenario",
        "shiny-rocks",
        "--quiet",
        "--from",
        "2024-01-01",
        "--to",
        "2024-03-31",
        "--out",
        out.to_str().unwrap(),
    ]);
    // the blog's mart: sales per (day, utm_source) from orders ⋈ payments, spend per (day, platform)
    let mut sales: BTreeMap<String, f64> = BTreeMap::new();
    let mut cost: BTreeMap<String, f64> = BTreeMap::new();
    let mut rows_per_day: BTreeMap<String, usize> = BTreeMap::new();
    let mut day = faux::Date::from_ymd(2024, 1, 1).unwrap();
    while day <= faux::Date::from_ymd(2024, 3, 31).unwrap() {
        let p = |t: &str| out.join(format!("{t}/date={day}/part-0.csv"));
        let (_, orders) = read_csv(&p("orders"));
        let (_, payments) = read_csv(&p("payments"));
        let utm: BTreeMap<&str, &str> = orders
            .iter()
            .map(|o| (o[1].as_str(), o[4].as_str()))
            .collect();
        for pay in &payments {
            *sales
                .entry(utm[pay[1].as_str()].trim_start_matches('_').to_string())
                .or_default() += pay[4].parse::<f64>().unwrap();
        }
        let (h, spend) = read_csv(&p("marketing_investments"));
        assert_eq!(h, ["date", "platform", "amount"]);
        for s in &spend {
            assert_eq!(s[0], day.to_string());
            let (_, cents) = s[2].split_once('.').expect("two decimals");
            assert_eq!(cents.len(), 2);
            let amount: f64 = s[2].parse().unwrap();
            assert!(amount > 0.0);
            *cost.entry(s[1].clone()).or_default() += amount;
            *rows_per_day.entry(day.to_string()).or_default() += 1;
        }
        day = day.succ();
    }
    assert!(
        rows_per_day.values().all(|&n| n == 4),
        "one row per day and platform"
    );
    let roi: BTreeMap<&str, f64> = cost
        .iter()
        .map(|(p, c)| (p.as_str(), (sales[p] - c) / c))
        .collect();
    assert_eq!(
        roi.keys().copied().collect::<Vec<_>>(),
        ["amazon", "facebook", "instagram", "youtube"]
    );
    // plausible: between losing 90 % and earning 10×, and clearly different per platform
    for (p, r) in &roi {
        assert!((-0.9..10.0).contains(r), "{p}: roi {r}");
    }
    let mut sorted: Vec<f64> = roi.values().copied().collect();
    sorted.sort_by(f64::total_cmp);
    assert!(
        sorted.windows(2).all(|w| w[1] - w[0] > 0.2),
        "ROIs too close: {roi:?}"
    );
}
