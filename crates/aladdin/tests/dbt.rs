//! The Shiny Rocks story end to end on a real PostgreSQL: `aladdin generate` loads 90 days into
//! a fresh database, the dbt project in examples/shiny_rocks_dbt builds and tests every model
//! (`dbt build` with dbt-postgres from `.venv`, installed by `.ci/run`), the mart
//! `mart_marketing_vs_sales` is checked against the ROI recomputed here from the loaded rows,
//! and `aladdin chart` draws the same numbers from the mart as from the generator — including
//! with the exact command line of the Kestra flow examples/kestra/marketing_roi_chart.yml.

mod common;
mod shiny_rocks_support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use common::ok;
use faux::Date;
use shiny_rocks_support::{cents, roi, roi_inputs};
use test_support::pg::{self, FreshDb};
use test_support::tools::repo_root;

const FROM: &str = "2024-01-01";
const TO: &str = "2024-03-30"; // 90 days (2024 is a leap year)
const PLATFORMS: [&str; 4] = ["instagram", "amazon", "facebook", "youtube"];
const MODELS: [&str; 7] = [
    "staging_orders",
    "staging_payments",
    "staging_services",
    "staging_marketing_investments",
    "mart_marketing_month_agg",
    "mart_payment_method_month_agg",
    "mart_marketing_vs_sales",
];

fn text(v: &Option<String>) -> String {
    v.clone().expect("no NULL expected")
}

#[test]
fn dbt_build_passes_and_the_roi_mart_matches_the_loaded_rows() {
    let test = "dbt_build_passes_and_the_roi_mart_matches_the_loaded_rows";
    let Some(dbt) = test_support::require(test, test_support::tools::dbt()) else {
        return;
    };
    let Some(db) = FreshDb::create(test) else {
        return;
    };
    let from: Date = FROM.parse().unwrap();
    let to: Date = TO.parse().unwrap();
    let days: Vec<String> = (0..=from.days_until(to))
        .map(|i| from.add_days(i).to_string())
        .collect();
    assert_eq!(days.len(), 90);

    ok(&[
        "generate",
        "--scenario",
        "shiny-rocks",
        "--from",
        FROM,
        "--to",
        TO,
        "--out",
        &db.url(),
        "-q",
    ]);
    // a partial load would make everything below vacuous: every day has the generator's orders
    let per_day: BTreeMap<String, u64> = db
        .query("SELECT to_char(order_date, 'YYYY-MM-DD'), count(*)::text FROM orders GROUP BY 1")
        .iter()
        .map(|r| (text(&r[0]), text(&r[1]).parse().unwrap()))
        .collect();
    assert_eq!(per_day.len(), 90);
    for (day, n) in &per_day {
        let d: Date = day.parse().unwrap();
        assert_eq!(
            *n,
            faux::shiny_rocks::daily_orders(d.day_of_year()),
            "{day}"
        );
    }

    // dbt build: models into `analytics`, raw tables read from `public`; target/ and logs/ go
    // to a temporary folder so the repository stays clean
    let project = repo_root().join("examples/shiny_rocks_dbt");
    let work = tempfile::tempdir().unwrap();
    let target = work.path().join("target");
    let run = Command::new(&dbt)
        .arg("build")
        .arg("--project-dir")
        .arg(&project)
        .arg("--profiles-dir")
        .arg(&project)
        .arg("--target-path")
        .arg(&target)
        .arg("--log-path")
        .arg(work.path().join("logs"))
        .env("SHINY_ROCKS_PG_HOST", pg::HOST)
        .env("SHINY_ROCKS_PG_PORT", pg::PORT.to_string())
        .env("SHINY_ROCKS_PG_USER", pg::USER)
        .env("SHINY_ROCKS_PG_DATABASE", &db.name)
        .env("SHINY_ROCKS_SCHEMA", "analytics")
        .env("SHINY_ROCKS_RAW_SCHEMA", "public")
        .env("DO_NOT_TRACK", "1")
        .output()
        .expect("dbt runs");
    let log = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "dbt build failed:\n{log}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );

    // every node of the run: the seven models built, every test passed
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(target.join("run_results.json")).unwrap()).unwrap();
    let mut models = BTreeSet::new();
    let mut tests = Vec::new();
    for r in results["results"].as_array().unwrap() {
        let id = r["unique_id"].as_str().unwrap();
        let status = r["status"].as_str().unwrap();
        if let Some(name) = id.strip_prefix("model.shiny_rocks.") {
            assert_eq!(status, "success", "{id}");
            models.insert(name.to_string());
        } else if id.starts_with("test.shiny_rocks.") {
            assert_eq!(status, "pass", "{id}");
            tests.push(id.to_string());
        } else {
            panic!("unexpected node {id}");
        }
    }
    assert_eq!(models, MODELS.iter().map(|m| m.to_string()).collect());
    for kind in [
        "test.shiny_rocks.unique_",
        "test.shiny_rocks.not_null_",
        "test.shiny_rocks.relationships_",
        "test.shiny_rocks.accepted_values_",
        "test.shiny_rocks.unique_combination_mart_marketing_vs_sales_date__platform",
        "test.shiny_rocks.payment_amount_is_product_price",
    ] {
        assert!(
            tests.iter().any(|t| t.starts_with(kind)),
            "no {kind}* test ran"
        );
    }

    // the mart: one row per day and platform…
    let mart = db.query(
        "SELECT to_char(date, 'YYYY-MM-DD'), platform, marketing_cost::text, sales_amount::text, \
                marketing_roi::text \
         FROM analytics.mart_marketing_vs_sales",
    );
    assert_eq!(mart.len(), 90 * 4);
    let keys: BTreeSet<(String, String)> =
        mart.iter().map(|r| (text(&r[0]), text(&r[1]))).collect();
    let expected_keys: BTreeSet<(String, String)> = days
        .iter()
        .flat_map(|d| PLATFORMS.iter().map(move |p| (d.clone(), format!("_{p}"))))
        .collect();
    assert_eq!(keys, expected_keys);

    // …with cost, sales and ROI recomputed here from the loaded rows
    let orders: Vec<_> = db
        .query("SELECT order_id, to_char(order_date, 'YYYY-MM-DD'), utm_source FROM public.orders")
        .iter()
        .map(|r| (text(&r[0]), text(&r[1]), text(&r[2])))
        .collect();
    let payments: Vec<_> = db
        .query("SELECT order_id, amount::text FROM public.payments")
        .iter()
        .map(|r| (text(&r[0]), text(&r[1])))
        .collect();
    let marketing: Vec<_> = db
        .query("SELECT to_char(date, 'YYYY-MM-DD'), platform, amount::text FROM public.marketing_investments")
        .iter()
        .map(|r| (text(&r[0]), text(&r[1]), text(&r[2])))
        .collect();
    let expected = roi_inputs(&orders, &payments, &marketing);
    for row in &mart {
        let (day, platform) = (text(&row[0]), text(&row[1]));
        let (cost, sales) = expected[&(day.clone(), platform[1..].to_string())];
        let cost = cost.expect("spend every day");
        assert_eq!(
            cents(&text(&row[2])),
            cost,
            "{day} {platform} marketing_cost"
        );
        assert_eq!(
            cents(&text(&row[3])),
            sales,
            "{day} {platform} sales_amount"
        );
        let got: f64 = text(&row[4]).parse().unwrap();
        let want = roi(cost, sales);
        // PostgreSQL divides in numeric (≥ 16 significant digits); f64 agrees to rounding
        assert!(
            (got - want).abs() <= 1e-12 * want.abs().max(1.0),
            "{day} {platform}: ROI {got} vs {want}"
        );
    }

    // aladdin chart from the mart plots what the generator says, for a day and a month
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("roi.png");
    for when in [&["--date", "2024-02-14"][..], &["--month", "2024-02"][..]] {
        let chart = |source: &[&str]| {
            let out = ok(&[
                &[
                    "chart",
                    "--kind",
                    "marketing-roi",
                    "--print-data",
                    "-q",
                    "-o",
                    png.to_str().unwrap(),
                ][..],
                when,
                source,
            ]
            .concat());
            serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
        };
        let url = db.url();
        assert_eq!(
            chart(&["--database-url", &url, "--mart-schema", "analytics"]),
            chart(&[]),
            "{when:?}"
        );
    }

    // the Kestra flow's chart command, rendered for this database, works on the mart
    let flow = std::fs::read_to_string(repo_root().join("examples/kestra/marketing_roi_chart.yml"))
        .unwrap();
    let line = flow
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("- aladdin chart "))
        .expect("the flow runs aladdin chart");
    let rendered = line
        .replace("{{ inputs.date }}", "2024-03-30")
        .replace("{{ vars.database_url }}", &db.url());
    assert!(
        !rendered.contains("{{"),
        "unrendered template in {rendered}"
    );
    let run = Command::new(common::BIN)
        .arg("chart")
        .args(rendered.split_whitespace())
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", common::stderr(&run));
    let png = std::fs::read(dir.path().join("marketing_roi.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}
