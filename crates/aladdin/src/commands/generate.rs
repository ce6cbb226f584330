//! `aladdin generate`: a scenario's tables for a range of days, as date-partitioned files.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use faux::{DateRange, Scenario, Shard, TableDef, Timestamp, View};
use faux_sinks::{FileRun, Format, Layout, PartitionStats};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::commands::common::{Days, ScenarioArgs, parse_instant};
use crate::usage::{UsageError, usage};

/// Generate a scenario's tables for one day or a range of days.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    aladdin generate --scenario shiny-rocks --from 2024-01-01 --to 2024-12-31 --out data/\n  \
    aladdin generate --scenario shiny-rocks --date 2024-07-10 --layout flat --out .\n  \
    aladdin generate --scenario shiny-rocks --days 30 --format parquet --shard 0/4 --out data/\n  \
    aladdin generate --scenario ecommerce --from 2025-01-01 --to 2025-01-31 --view changes --out cdc/\n  \
    aladdin generate --scenario my-shop.toml --view snapshot --as-of 2025-03-31 --out snapshot/\n\n\
    Files are written as OUT/<table>/date=YYYY-MM-DD/part-<shard>.<ext> plus OUT/_manifest.json.")]
pub struct GenerateArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,

    #[command(flatten)]
    days: Days,

    /// extract: rows changed each day, in their end-of-day state; snapshot: rows created each
    /// day, as of --as-of; changes: every version written each day, with op, seq and ts.
    #[arg(long, default_value = "extract", value_parser = ["extract", "snapshot", "changes"])]
    view: String,

    /// The instant of a snapshot: RFC 3339, a date (its last second) or epoch seconds.
    #[arg(long, value_parser = parse_instant)]
    as_of: Option<Timestamp>,

    /// Output format.
    #[arg(long, default_value = "csv", value_parser = parse_format)]
    format: Format,

    /// Output folder, or a database: postgres://USER@HOST:PORT/DB or sqlite://PATH.db.
    #[arg(long, default_value = "data")]
    out: PathBuf,

    // database outputs only (see commands/load.rs)
    #[command(flatten)]
    db: super::load::DbArgs,

    /// hive: OUT/<table>/date=D/part-<shard>.<ext>; flat: OUT/<table>.<ext> (a single day);
    /// daily: OUT/D/<table>.<ext>.
    #[arg(long, default_value = "hive", value_parser = parse_layout)]
    layout: Layout,

    /// Only these tables (comma-separated; default: all).
    #[arg(long, value_delimiter = ',')]
    tables: Vec<String>,

    /// Worker threads (default: all cores). The output does not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    threads: Option<u32>,

    /// Generate only shard I of N of every day (0 <= I < N); the shards of a day, concatenated
    /// in order, are the whole day.
    #[arg(long, default_value = "0/1", value_parser = parse_shard)]
    shard: Shard,
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}
fn parse_layout(s: &str) -> Result<Layout, String> {
    s.parse()
}
fn parse_shard(s: &str) -> Result<Shard, String> {
    s.parse()
}

pub fn select_tables(
    scenario: &Scenario,
    names: &[String],
) -> anyhow::Result<Vec<&'static TableDef>> {
    if names.is_empty() {
        return Ok(scenario.tables().to_vec());
    }
    let mut tables: Vec<&'static TableDef> = Vec::new();
    for name in names {
        let t = scenario
            .table(name.trim())
            .map_err(|e| UsageError(e.to_string()))?;
        if !tables.iter().any(|x| std::ptr::eq(*x, t)) {
            tables.push(t);
        }
    }
    Ok(tables)
}

pub fn run(args: GenerateArgs, quiet: bool) -> anyhow::Result<()> {
    let scenario = args.scenario.load()?;
    let view = match (args.view.as_str(), args.as_of) {
        ("snapshot", Some(t)) => View::Snapshot(t),
        ("snapshot", None) => {
            usage!("--view snapshot needs --as-of T (RFC 3339, a date, or epoch seconds)")
        }
        (_, Some(_)) => usage!("--as-of only applies to --view snapshot"),
        ("changes", None) => View::Changes,
        _ => View::Extract,
    };
    // a snapshot defaults to every day from the scenario's first to the instant's
    let default = match view {
        View::Snapshot(t) => DateRange::new(scenario.first_day(t.date()), t.date()).ok(),
        _ => None,
    };
    let range = args.days.range(default)?;
    let (from, to) = (range.first(), range.last());
    if args.layout == Layout::Flat && from != to {
        usage!(
            "--layout flat holds a single day, but {from} to {to} is {} days: use --date, or --layout hive",
            from.days_until(to) + 1
        );
    }
    let tables = select_tables(&scenario, &args.tables)?;
    // ---- a database --out hands over to commands/load.rs ----
    if let Some(database) = super::load::Database::from_out(&args.out, &args.db)? {
        if view != View::Extract {
            usage!(
                "a database --out loads the daily extract: drop --view {}",
                view.name()
            );
        }
        if args.layout != Layout::Hive || args.shard != Shard::ALL {
            usage!("--layout and --shard apply to folders, not to a database --out");
        }
        let run = super::load::LoadRun {
            scenario: &scenario,
            tables,
            days: range,
        };
        return super::load::run(database, &args.db, run, quiet);
    }
    // ---- end of the database hand-over ----
    let threads = args
        .threads
        .map(|t| t as usize)
        .unwrap_or_else(faux_sinks::pool::all_cores);
    let run = FileRun {
        scenario: &scenario,
        tables,
        days: range,
        shard: args.shard,
        view,
        format: args.format,
        layout: args.layout,
        out: args.out.clone(),
        threads,
    };

    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        // indicatif draws nothing when stderr is not a terminal
        ProgressBar::with_draw_target(
            Some(run.partition_count() as u64),
            ProgressDrawTarget::stderr(),
        )
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} partitions {elapsed_precise} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let on_partition = |_: &PartitionStats| bar.inc(1);
    let stats = run
        .run(&on_partition)
        .with_context(|| format!("generating into {}", args.out.display()))?;
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();

    if !quiet {
        let rows: u64 = stats.iter().map(|s| s.rows).sum();
        let bytes: u64 = stats.iter().map(|s| s.bytes).sum();
        let days = from.days_until(to) + 1;
        eprintln!(
            "{} rows, {:.1} MB in {:.2} s ({:.2} M rows/s, {:.0} MB/s): {} tables × {} day{} of {} (seed {}, shard {}) as {} in {}",
            group_thousands(rows),
            bytes as f64 / 1e6,
            elapsed,
            rows as f64 / elapsed.max(1e-9) / 1e6,
            bytes as f64 / elapsed.max(1e-9) / 1e6,
            run.tables.len(),
            days,
            if days == 1 { "" } else { "s" },
            scenario.name(),
            scenario.seed(),
            args.shard,
            args.format,
            args.out.display()
        );
    }
    Ok(())
}

fn group_thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
