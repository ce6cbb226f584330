//! `aladdin generate`: a scenario's tables for a range of days, as date-partitioned files.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use faux::dirty::Profile;
use faux::{Date, DateRange, Scenario, Shard, TableDef, Timestamp, View};
use faux_sinks::manifest::ScenarioSource;
use faux_sinks::{FileRun, Format, Layout, Manifest, PartitionStats, SinkError};
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
    aladdin generate --scenario my-shop.toml --view snapshot --as-of 2025-03-31 --from 2025-01-01 --to 2025-03-31 --out snapshot/\n  \
    aladdin generate --dirty realistic --from 2020-01-01 --to 2020-01-07 --format jsonl --out landing/\n  \
    aladdin generate --scenario shiny-rocks --from 2024-01-01 --to 2024-12-31 --format parquet --out s3://my-bucket/shiny\n\n\
    Files are written as OUT/<table>/date=YYYY-MM-DD/part-<shard>.<ext> plus OUT/_manifest.json.\n\
    An s3://, gs:// or az:// --out gets the same layout; each partition appears complete or not at\n\
    all, the manifest last. Credentials and endpoint come from the usual variables: S3\n\
    AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL, AWS_ALLOW_HTTP=true;\n\
    GCS GOOGLE_APPLICATION_CREDENTIALS (or STORAGE_EMULATOR_HOST for an emulator); Azure\n\
    AZURE_STORAGE_ACCOUNT_NAME, AZURE_STORAGE_ACCOUNT_KEY (or AZURE_STORAGE_USE_EMULATOR=true).")]
pub struct GenerateArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,

    #[command(flatten)]
    days: Days,

    /// extract: rows changed each day, in their end-of-day state; snapshot: rows created each
    /// day, as of --as-of; changes: every version written each day, with op, seq and ts.
    #[arg(long, default_value = "extract", value_parser = ["extract", "snapshot", "changes"])]
    view: String,

    /// The instant of a snapshot: RFC 3339, a date (its last second) or epoch seconds. The days
    /// (--date, --from/--to) are the creation days of the rows to include.
    #[arg(long, value_parser = parse_instant)]
    as_of: Option<Timestamp>,

    /// Output format.
    #[arg(long, default_value = "csv", value_parser = parse_format)]
    format: Format,

    /// Output folder, object storage (s3://BUCKET/PREFIX, gs://BUCKET/PREFIX,
    /// az://CONTAINER/PREFIX), or a database:
    /// postgres://USER@HOST:PORT/DB or sqlite://PATH.db.
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

    /// Plant defects in the daily extract (duplicates, nulls, malformed emails and phones, enum
    /// casing, amounts in cents, orphan lines, abandoned cart lines), each recorded in
    /// OUT/_defects/ (a database --out: raw text tables and a _defects table); off writes the
    /// clean data.
    /// The same seed and profile plant the same defects. Into a folder: late files (a day's
    /// partition rewritten corrected 1-3 days later), and with customers the legacy export
    /// OUT/legacy_customers_export/ (Latin-1 or a BOM, mixed timestamp formats; into a
    /// database, the raw table legacy_customers_export).
    #[arg(long, default_value = "off", value_parser = parse_profile)]
    dirty: Profile,
}

fn parse_profile(s: &str) -> Result<Profile, String> {
    s.parse()
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
    let (scenario, scenario_source) = args.scenario.load_with_source()?;
    let view = match (args.view.as_str(), args.as_of) {
        ("snapshot", Some(t)) => View::Snapshot(t),
        ("snapshot", None) => {
            usage!("--view snapshot needs --as-of T (RFC 3339, a date, or epoch seconds)")
        }
        (_, Some(_)) => usage!("--as-of only applies to --view snapshot"),
        ("changes", None) => View::Changes,
        _ => View::Extract,
    };
    if let (View::Snapshot(t), true) = (view, args.days.is_empty()) {
        // every row from the first day is often far more than wanted: say what it would be
        let (first, last) = (scenario.first_day(t.date()), t.date());
        usage!(
            "--view snapshot --as-of {t} needs the creation days of the rows to include: \
             --from {first} --to {last} for every row ({} days of {}), or --date D / \
             --from A --to B for fewer",
            group_thousands(first.days_until(last).max(0) as u64 + 1),
            scenario.name()
        );
    }
    let range: DateRange = args.days.range(None)?;
    let (from, to) = (range.first(), range.last());
    // days before the scenario's first day (the shop's opening) hold no rows
    let first = scenario.first_day(from);
    if to < first {
        usage!(
            "{} has no data before its first day {first} (a scenario file can move it: \
             [shop] opened_on): {from} to {to} would be empty; choose days from {first} on",
            scenario.name()
        );
    }
    if from < first && !quiet {
        eprintln!(
            "warning: the {} days from {from} to {} are before {}'s first day {first} and hold no rows",
            from.days_until(first),
            first.add_days(-1),
            scenario.name()
        );
    }
    if args.layout == Layout::Flat && from != to {
        usage!(
            "--layout flat holds a single day, but {from} to {to} is {} days: use --date, or --layout hive",
            from.days_until(to) + 1
        );
    }
    let tables = select_tables(&scenario, &args.tables)?;
    if args.dirty != Profile::Off && view != View::Extract {
        usage!(
            "--dirty plants defects in the daily extract: drop --view {} (or --dirty)",
            view.name()
        );
    }
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
        if args.dirty != Profile::Off {
            return super::load::run_dirty(database, &args.db, run, args.dirty, quiet);
        }
        return super::load::run(database, &args.db, run, quiet);
    }
    // ---- end of the database hand-over ----
    let object = match super::load::OUT.parse_os(args.out.as_os_str())? {
        faux_sinks::destination::Destination::ObjectStore(url) => Some(url),
        _ => None,
    };
    if let Some(url) = &object
        && args.dirty != Profile::Off
    {
        // the defects manifest is written beside the files, which object storage does not get
        usage!(
            "--dirty {} writes to a folder for now, not to {url}: give a folder --out",
            args.dirty
        );
    }
    if object.is_none() && args.out.exists() && !args.out.is_dir() {
        usage!(
            "--out {} is a file, not a folder: give a folder (created if missing) or a database URL",
            args.out.display()
        );
    }
    if object.is_none() {
        refuse_mixed_scenarios(&args.out, &scenario, scenario_source.as_ref())?;
    }
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
        scenario_source,
        dirty: args.dirty,
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
    // partitions finished per day, to tell how far an interrupted run got
    let finished: Mutex<BTreeMap<Date, usize>> = Mutex::new(BTreeMap::new());
    let on_partition = |p: &PartitionStats| {
        bar.inc(1);
        *finished
            .lock()
            .expect("progress lock")
            .entry(p.date)
            .or_default() += 1;
    };
    let stop = interrupt_flag();
    let result = match &object {
        Some(url) => faux_sinks::object::run_until(&run, url, &on_partition, stop),
        None => run.run_until(&on_partition, stop),
    };
    // where the manifest is, for messages
    let manifest_at = match &object {
        Some(url) => format!("{url}/{}", faux_sinks::MANIFEST_FILE),
        None => args
            .out
            .join(faux_sinks::MANIFEST_FILE)
            .display()
            .to_string(),
    };
    bar.finish_and_clear();
    let stats = match result {
        Err(SinkError::Interrupted) => {
            let finished = finished.into_inner().expect("progress lock");
            let complete = finished
                .values()
                .filter(|&&n| n == run.tables.len())
                .count();
            let partial = finished.len() - complete;
            eprintln!(
                "interrupted after {complete} of {} days{}; the complete partitions are kept and \
                 listed in {}; rerun the same command to finish",
                from.days_until(to) + 1,
                if partial > 0 {
                    format!(" (and {partial} partly)")
                } else {
                    String::new()
                },
                manifest_at
            );
            return Err(anyhow::Error::new(Interrupted));
        }
        other => other.with_context(|| format!("generating into {}", args.out.display()))?,
    };
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
        if args.dirty != Profile::Off {
            eprintln!(
                "--dirty {}: the defects planted are listed in {}",
                args.dirty,
                args.out.join(faux_sinks::defects::DEFECTS_DIR).display()
            );
        }
    }
    Ok(())
}

/// Ctrl-C (or SIGTERM) stopped a run; it has said so itself (exit code 130).
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// A flag set by the first Ctrl-C or SIGTERM; a second one ends the process at once.
fn interrupt_flag() -> &'static AtomicBool {
    static STOP: AtomicBool = AtomicBool::new(false);
    let waiter = || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return; // no handler: Ctrl-C ends the process as it always would
        };
        rt.block_on(async {
            #[cfg(unix)]
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            for _ in 0..2 {
                #[cfg(unix)]
                match term.as_mut() {
                    Some(term) => tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    },
                    None => {
                        let _ = tokio::signal::ctrl_c().await;
                    }
                }
                #[cfg(not(unix))]
                let _ = tokio::signal::ctrl_c().await;
                if STOP.swap(true, Ordering::SeqCst) {
                    eprintln!("interrupted twice: stopping now, temporary files may remain");
                    std::process::exit(130);
                }
                eprintln!("stopping: finishing nothing new, removing unfinished files…");
            }
        });
    };
    // the thread lives as long as the process; its runtime only waits for signals
    let _ = std::thread::Builder::new()
        .name("signals".into())
        .spawn(waiter);
    &STOP
}

/// A folder holds one dataset: days of a scenario file and days of the built-in defaults (or
/// of another file) would look alike and merge into one manifest.
fn refuse_mixed_scenarios(
    out: &std::path::Path,
    scenario: &Scenario,
    source: Option<&ScenarioSource>,
) -> anyhow::Result<()> {
    let Ok(Some(old)) = Manifest::read(out) else {
        return Ok(());
    };
    let digest = source.map(|s| s.digest.clone());
    if old.scenario != scenario.name() || old.scenario_digest == digest {
        return Ok(());
    }
    let describe = |file: Option<&str>, digest: Option<&str>| match (file, digest) {
        (Some(f), Some(d)) => format!("the scenario file {f} ({d})"),
        _ => format!("the built-in {} defaults", old.scenario),
    };
    usage!(
        "{} holds days of {}; this run uses {}: write into another --out (or remove {})",
        out.display(),
        describe(old.scenario_file.as_deref(), old.scenario_digest.as_deref()),
        describe(source.map(|s| s.file.as_str()), digest.as_deref()),
        out.display()
    )
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
