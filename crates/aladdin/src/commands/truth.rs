//! `aladdin truth`: the answer key of a range of days, as JSON on stdout.

use clap::Args;
use faux::{Date, DateRange, Timestamp};
use serde_json::json;

use crate::commands::common::{Days, ScenarioArgs, parse_instant};

/// Print the answer key: per table and day, rows created, updated and deleted, sums of money
/// columns and an order-independent digest of ids and versions.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    aladdin truth --scenario ecommerce --from 2025-01-01 --to 2025-01-31 > truth.json\n  \
    aladdin truth --scenario ecommerce --from 2025-01-01 --to 2025-01-31 --as-of 2025-02-15\n\n\
    aladdin truth --scenario ecommerce --from 2025-01-01 --to 2025-01-31 --labels > carts.jsonl\n\n\
    Without --as-of, each day's figures describe its daily extract (rows whose updated_at falls in\n\
    the day, in their end-of-day state). With --as-of T, they describe the snapshot at T of the\n\
    rows created on each day.")]
pub struct TruthArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,

    #[command(flatten)]
    days: Days,

    /// Describe the state as of this instant (RFC 3339, a date, or epoch seconds).
    #[arg(long, value_parser = parse_instant)]
    as_of: Option<Timestamp>,

    /// Only these tables (comma-separated).
    #[arg(long, value_delimiter = ',')]
    tables: Vec<String>,

    /// Worker threads (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    threads: Option<u32>,

    /// Instead of table figures, one JSON line per cart (a session's first add_to_cart) of
    /// the days: the true probability the simulation gave it of being checked out within 7
    /// days, and the outcome (ecommerce scenarios only).
    #[arg(long, conflicts_with_all = ["as_of", "tables"])]
    labels: bool,
}

pub fn run(args: TruthArgs) -> anyhow::Result<()> {
    let scenario = args.scenario.load()?;
    if args.labels {
        return labels(&scenario, &args);
    }
    let range = args.days.range(
        args.as_of
            .and_then(|t| DateRange::new(scenario.first_day(t.date()), t.date()).ok()),
    )?;
    let tables = super::generate::select_tables(&scenario, &args.tables)?;
    let threads = args
        .threads
        .map(|t| t as usize)
        .unwrap_or_else(faux_sinks::pool::all_cores);
    let out =
        faux_sinks::truth_report::truth_report(&scenario, &tables, range, args.as_of, threads);
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// `--labels`: the carts of the days as JSON Lines, in day and session order.
fn labels(scenario: &faux::Scenario, args: &TruthArgs) -> anyhow::Result<()> {
    use std::io::Write;
    let Some(shop) = scenario.as_ecommerce() else {
        crate::usage::usage!(
            "--labels: scenario {:?} has no carts; cart labels exist for ecommerce scenarios (--scenario ecommerce or an ecommerce .toml file)",
            scenario.name()
        );
    };
    let range = args.days.range(None)?;
    let days: Vec<Date> = range.days().collect();
    let threads = args
        .threads
        .map(|t| t as usize)
        .unwrap_or_else(faux_sinks::pool::all_cores);
    let per_day = faux_sinks::pool::map(days.len(), threads, |i| shop.cart_labels(days[i]));
    let uuid = |u: &faux::Uuid| String::from_utf8_lossy(&u.hyphenated()).into_owned();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for l in per_day.iter().flatten() {
        let line = json!({
            // as the events' properties write it (32 hex digits)
            "cart_id": l.cart_id.to_string(),
            "session_id": uuid(&l.session_id),
            "customer_id": l.customer_id.as_ref().map(uuid),
            "day": l.day.to_string(),
            "scored_at": l.scored_at.to_string(),
            "p": l.p,
            "label": l.label,
            "ordered_at": l.ordered_at.map(|t| t.to_string()),
            "matures_at": l.matures_at.to_string(),
            "persona": l.persona,
        });
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(())
}
