//! `aladdin verify`: compares what a pipeline loaded — into PostgreSQL, SQLite or a folder of
//! files — with the truth, and reports per table and day the rows missing, duplicated, stale
//! (an older version than the truth), changed and unexpected. Exit status 1 when anything
//! differs. The comparison itself is `faux_sinks::verify`.

use anyhow::bail;
use clap::Args;
use faux::dirty::Profile;
use faux_sinks::destination::{Destination, Kind};
use faux_sinks::postgres::PgSource;
use faux_sinks::sqlite::SqliteSource;
use faux_sinks::verify::{
    DayDiff, EXAMPLES_PER_KIND, Example, Source, TableReport, files::FileSource, verify_table,
};
use serde_json::{Value, json};

use crate::commands::common::{Days, ScenarioArgs};
use crate::commands::manifest::{ManifestSource, genie_token};
use crate::usage::{UsageError, usage};
use faux_sinks::destination::Flag;

/// Check a pipeline: compare loaded tables with the truth, per table and day.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    aladdin verify --against postgres://postgres@127.0.0.1:5432/shop --from 2025-01-01 --to 2025-01-31\n  \
    aladdin verify --against postgres://me@db/warehouse --schema raw_shop --from 2025-01-01 --to 2025-01-31 --json\n  \
    aladdin verify --against sqlite://shop.db --date 2025-01-15\n  \
    aladdin verify --against landing/ --scenario shiny-rocks --from 2024-01-01 --to 2024-01-31\n  \
    aladdin verify --against s3://my-bucket/shiny --scenario shiny-rocks --from 2024-01-01 --to 2024-12-31\n  \
    aladdin verify --dirty realistic --against postgres://postgres@127.0.0.1:5432/shop --schema clean --from 2020-01-01 --to 2020-01-07\n  \
    aladdin verify --dirty realistic --manifest landing/ --against postgres://postgres@127.0.0.1:5432/shop --schema clean --from 2020-01-01 --to 2020-01-07\n  \
    aladdin verify --dirty realistic --manifest http://127.0.0.1:8000 --token $GENIE_API_KEY --against postgres://postgres@127.0.0.1:5432/shop --schema clean --from 2026-11-28 --to 2026-12-03\n\n\
    Tables are read by column name: extra columns (_dlt_load_id, _sdc_extracted_at …) are ignored,\n\
    and column types may differ (text, timestamp, numeric, double). In a database, a table with an\n\
    updated_at cursor must hold each row once, in its newest version of the range (a newer version\n\
    from after --to is fine); other tables, and every table in a folder, must hold each day's rows\n\
    exactly once. JSON columns are compared by presence only (databases reformat documents).")]
pub struct VerifyArgs {
    /// What the pipeline loaded: postgres://USER@HOST:PORT/DB, sqlite://PATH.db, or a folder
    /// of CSV / JSON Lines / Parquet files (DIR/<table>/…/*.csv or DIR/<table>.csv), or the
    /// same files in object storage: s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or
    /// az://CONTAINER/PREFIX (credentials from the AWS_*, GOOGLE_* or AZURE_STORAGE_* variables).
    #[arg(long)]
    against: String,

    #[command(flatten)]
    scenario: ScenarioArgs,

    #[command(flatten)]
    days: Days,

    /// Only these tables (comma-separated; default: all). With --dirty, also
    /// legacy_customers_export (the cleaned legacy export; graded only when named).
    #[arg(long, value_delimiter = ',')]
    tables: Vec<String>,

    /// PostgreSQL schema of the tables [default: public].
    #[arg(long)]
    schema: Option<String>,

    /// Worker threads generating the truth (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    threads: Option<u32>,

    /// Print the report as JSON.
    #[arg(long)]
    json: bool,

    /// Grade a cleaning pipeline instead: the tables hold the cleaned data of
    /// `generate --dirty PROFILE` (same scenario, seed and days); every planted defect must be
    /// fixed (or its row removed) and every clean row kept as it was.
    #[arg(long, value_parser = parse_profile)]
    dirty: Option<Profile>,

    /// With --dirty: grade against the defects the source actually planted instead of
    /// regenerating them from the seed — a manifest file (JSON Lines: generate's
    /// _defects/…/*.jsonl, or genie's DATA_DIR/dirty-manifest.jsonl), a folder holding
    /// _defects/ (what `generate --dirty --out DIR` wrote), or a genie URL http://HOST:PORT
    /// (its /v1/dirty/manifest: the rows as served now).
    #[arg(long, value_name = "SOURCE")]
    manifest: Option<String>,

    /// Genie's API key for a --manifest http://… URL [default: $GENIE_API_KEY].
    #[arg(long, value_name = "KEY")]
    token: Option<String>,
}

fn parse_profile(s: &str) -> Result<Profile, String> {
    match s.parse()? {
        Profile::Off => Err(
            "--dirty off plants nothing to grade: use light, realistic or nasty (or drop --dirty)"
                .into(),
        ),
        p => Ok(p),
    }
}

/// `verify --against`: what verify can read back.
const AGAINST: Flag = Flag {
    name: "--against",
    verb: "verify reads",
    kinds: &[
        Kind::Folder,
        Kind::ObjectStore,
        Kind::Postgres,
        Kind::Sqlite,
    ],
    hint: None,
};

fn open_source(args: &VerifyArgs) -> anyhow::Result<Box<dyn Source>> {
    let a = args.against.as_str();
    Ok(match AGAINST.parse(a)? {
        Destination::Postgres(target) => {
            let target = target
                .with_schema(args.schema.as_deref())
                .map_err(|e| UsageError(format!("--schema: {e}")))?;
            Box::new(PgSource::open(target)?)
        }
        Destination::Sqlite(_) | Destination::Folder(_) | Destination::ObjectStore(_)
            if args.schema.is_some() =>
        {
            usage!("--schema applies to a postgres:// --against only")
        }
        Destination::Sqlite(path) => Box::new(SqliteSource::open(&path)?),
        Destination::Folder(dir) => {
            Box::new(FileSource::new(&dir).map_err(|e| UsageError(format!("--against: {e}")))?)
        }
        Destination::ObjectStore(url) => Box::new(faux_sinks::object::ObjectSource::open(&url)?),
        other => return Err(AGAINST.refuse(a, &other).into()),
    })
}

fn day_json(d: &DayDiff) -> Value {
    json!({
        "expected": d.expected,
        "found": d.found,
        "missing": d.missing,
        "duplicated": d.duplicated,
        "stale": d.stale,
        "changed": d.changed,
        "unexpected": d.unexpected,
    })
}

fn report_json(r: &TableReport) -> Value {
    let days: serde_json::Map<String, Value> = r
        .days
        .iter()
        .filter(|(_, d)| d.differences() > 0)
        .map(|(day, d)| (day.to_string(), day_json(d)))
        .collect();
    json!({
        "mode": r.mode.name(),
        "expected": r.days.values().map(|d| d.expected).sum::<u64>(),
        "found": r.days.values().map(|d| d.found).sum::<u64>(),
        "differences": r.differences(),
        "problems": r.problems,
        "days": days,
        "examples": r.examples.iter().map(example_json).collect::<Vec<_>>(),
    })
}

fn example_json(e: &Example) -> Value {
    let mut v = json!({
        "kind": e.kind,
        "day": e.day.to_string(),
        "key": e.key,
    });
    if !e.columns.is_empty() {
        v["columns"] = e
            .columns
            .iter()
            .map(|c| json!({"column": c.column, "expected": c.expected, "found": c.found}))
            .collect();
    }
    v
}

fn print_text(reports: &[TableReport]) {
    let width = reports
        .iter()
        .map(|r| r.table.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut header = false;
    for r in reports {
        for (day, d) in r.days.iter().filter(|(_, d)| d.differences() > 0) {
            if !header {
                println!(
                    "{:width$}  {:10}  {:>9}  {:>9}  {:>8}  {:>10}  {:>6}  {:>7}  {:>10}",
                    "table",
                    "day",
                    "expected",
                    "found",
                    "missing",
                    "duplicated",
                    "stale",
                    "changed",
                    "unexpected"
                );
                header = true;
            }
            println!(
                "{:width$}  {:10}  {:>9}  {:>9}  {:>8}  {:>10}  {:>6}  {:>7}  {:>10}",
                r.table,
                day.to_string(),
                d.expected,
                d.found,
                d.missing,
                d.duplicated,
                d.stale,
                d.changed,
                d.unexpected
            );
        }
    }
    let examples: Vec<(&str, &Example)> = reports
        .iter()
        .flat_map(|r| r.examples.iter().map(move |e| (r.table, e)))
        .collect();
    if !examples.is_empty() {
        println!("\nexamples (at most {EXAMPLES_PER_KIND} of each kind per table):");
        for (table, e) in examples {
            let columns: Vec<String> = e
                .columns
                .iter()
                .map(|c| format!("{} {} (truth {})", c.column, c.found, c.expected))
                .collect();
            println!(
                "{table:width$}  {:10}  {:10}  {}{}",
                e.day.to_string(),
                e.kind,
                e.key,
                if columns.is_empty() {
                    String::new()
                } else {
                    format!(": {}", columns.join(", "))
                }
            );
        }
    }
    for r in reports {
        for p in &r.problems {
            println!("{}: {p}", r.table);
        }
    }
}

pub fn run(args: VerifyArgs) -> anyhow::Result<()> {
    let genie = |m: &str| m.starts_with("http://") || m.starts_with("https://");
    if args.token.is_some() && !args.manifest.as_deref().is_some_and(genie) {
        usage!("--token is genie's API key: it applies to a --manifest http://HOST:PORT only");
    }
    let manifest = match (&args.manifest, args.dirty) {
        (None, _) => None,
        (Some(m), None) => usage!(
            "--manifest {m} names the defects a source planted: grade against it with --dirty PROFILE (--manifest applies to --dirty only)"
        ),
        (Some(m), Some(_)) => Some(ManifestSource::parse(m)?),
    };
    let token = match &manifest {
        Some(ManifestSource::Genie(url)) => Some(genie_token(
            args.token.as_deref(),
            std::env::var("GENIE_API_KEY").ok().as_deref(),
            url,
        )?),
        _ => None,
    };
    let scenario = args.scenario.load()?;
    let range = args.days.range(None)?;
    let (from, to) = (range.first(), range.last());
    // the legacy export is graded only when named, and only as dirty data
    let legacy = faux::dirty::legacy::LEGACY_CUSTOMERS.name;
    let named_legacy = args.tables.iter().any(|t| t.trim() == legacy);
    if named_legacy
        && (args.dirty.is_none() || faux::dirty::legacy::source_table(&scenario).is_none())
    {
        return Err(UsageError(format!(
            "{legacy} is the legacy export of `generate --dirty` (shop scenarios only): grade it with --dirty PROFILE"
        ))
        .into());
    }
    let others: Vec<String> = args
        .tables
        .iter()
        .filter(|t| t.trim() != legacy)
        .cloned()
        .collect();
    let mut tables = if named_legacy && others.is_empty() {
        Vec::new()
    } else {
        super::generate::select_tables(&scenario, &others)?
    };
    if named_legacy {
        tables.push(&faux::dirty::legacy::LEGACY_CUSTOMERS);
    }
    let threads = args
        .threads
        .map(|t| t as usize)
        .unwrap_or_else(faux_sinks::pool::all_cores);
    let mut source = open_source(&args)?;
    if let Some(profile) = args.dirty {
        let planted = match &manifest {
            None => None,
            Some(m) => {
                let defects = super::manifest::load(&super::manifest::Request {
                    source: m,
                    token,
                    profile,
                    tables: &tables,
                    range,
                })?;
                Some((defects, m.describe()))
            }
        };
        let run = super::dirty::Grading {
            scenario: &scenario,
            tables: &tables,
            range,
            profile,
            threads,
            json: args.json,
            planted,
        };
        return run.run(source.as_mut());
    }
    let reports: Vec<TableReport> = tables
        .iter()
        .map(|t| verify_table(source.as_mut(), &scenario, t, range, threads))
        .collect();
    let differences: u64 = reports.iter().map(TableReport::differences).sum();
    let expected: u64 = reports
        .iter()
        .flat_map(|r| r.days.values())
        .map(|d| d.expected)
        .sum();
    let tables_differing = reports.iter().filter(|r| r.differences() > 0).count();
    if args.json {
        let per_table: serde_json::Map<String, Value> = reports
            .iter()
            .map(|r| (r.table.to_string(), report_json(r)))
            .collect();
        let out = json!({
            "scenario": scenario.name(),
            "seed": scenario.seed(),
            "from": from.to_string(),
            "to": to.to_string(),
            "against": source.describe(),
            "differences": differences,
            "tables": per_table,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_text(&reports);
        if differences == 0 {
            println!(
                "no differences: {} table{} × {} day{} ({expected} rows) of {} (seed {}) match the truth in {}",
                reports.len(),
                if reports.len() == 1 { "" } else { "s" },
                from.days_until(to) + 1,
                if from == to { "" } else { "s" },
                scenario.name(),
                scenario.seed(),
                source.describe()
            );
        }
    }
    if differences > 0 {
        bail!(
            "{differences} difference{} in {tables_differing} table{} of {} against the truth of {} (seed {}), {from} to {to}",
            if differences == 1 { "" } else { "s" },
            if tables_differing == 1 { "" } else { "s" },
            source.describe(),
            scenario.name(),
            scenario.seed()
        );
    }
    Ok(())
}
