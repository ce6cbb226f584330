//! `aladdin truth`: the answer key of a range of days, as JSON on stdout.

use clap::Args;
use faux::{DateRange, Timestamp};

use crate::commands::common::{Days, ScenarioArgs, parse_instant};

/// Print the answer key: per table and day, rows created, updated and deleted, sums of money
/// columns and an order-independent digest of ids and versions.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    aladdin truth --scenario ecommerce --from 2025-01-01 --to 2025-01-31 > truth.json\n  \
    aladdin truth --scenario ecommerce --from 2025-01-01 --to 2025-01-31 --as-of 2025-02-15\n\n\
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
}

pub fn run(args: TruthArgs) -> anyhow::Result<()> {
    let scenario = args.scenario.load()?;
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
