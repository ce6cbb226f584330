//! `aladdin generate --out postgres://…|sqlite://…`: the daily extracts of a range of days
//! loaded into a database, one idempotent transaction per day (see `faux_sinks::postgres` and
//! `faux_sinks::sqlite`). `generate` hands over here when `--out` is a database URL.

use std::path::Path;
use std::time::Instant;

use clap::Args;
use faux::dirty::Profile;
use faux::{DateRange, Scenario, TableDef};
use faux_sinks::destination::{Destination, Kind};
use faux_sinks::postgres::{PgError, PgLoad, PgTarget};
use faux_sinks::raw::RawLoad;
use faux_sinks::sqlite::SqliteLoad;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::usage::{UsageError, usage};
use faux_sinks::destination::Flag;

/// Flags that only apply when `--out` is a database.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// PostgreSQL schema to load into; it must exist [default: public].
    #[arg(long)]
    pub schema: Option<String>,

    /// PostgreSQL connections loading days in parallel [default: 1].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub jobs: Option<u32>,

    /// Declare foreign keys between the tables they create (then days load in order, on one
    /// connection, and the range must start at the scenario's first day).
    #[arg(long)]
    pub foreign_keys: bool,
}

/// `generate --out`: a folder or a database.
pub const OUT: Flag = Flag {
    name: "--out",
    verb: "generate writes to",
    kinds: &[
        Kind::Folder,
        Kind::ObjectStore,
        Kind::Postgres,
        Kind::Sqlite,
    ],
    hint: None,
};

/// A database `--out`.
#[derive(Debug)]
pub enum Database {
    Postgres(Box<PgTarget>),
    Sqlite(std::path::PathBuf),
}

impl Database {
    /// The database `out` names, `None` for a folder or object storage; the database flags
    /// are checked against it. A bad value is a usage error.
    pub fn from_out(out: &Path, db: &DbArgs) -> anyhow::Result<Option<Database>> {
        match OUT.parse_os(out.as_os_str())? {
            Destination::Postgres(target) => match target.with_schema(db.schema.as_deref()) {
                Ok(t) => Ok(Some(Database::Postgres(Box::new(t)))),
                Err(e) => Err(UsageError(format!("--schema: {e}")).into()),
            },
            Destination::Sqlite(path) => {
                if db.schema.is_some() {
                    usage!("--schema applies to PostgreSQL only: a SQLite file has no schemas");
                }
                if db.jobs.is_some() {
                    usage!("--jobs applies to PostgreSQL only: SQLite has a single writer");
                }
                Ok(Some(Database::Sqlite(path)))
            }
            Destination::Folder(_) | Destination::ObjectStore(_) => {
                if db.schema.is_some() || db.jobs.is_some() || db.foreign_keys {
                    usage!(
                        "--schema, --jobs and --foreign-keys apply to a database --out (postgres://… or sqlite://…), not to {}",
                        out.display()
                    );
                }
                Ok(None)
            }
            other => Err(OUT.refuse(&out.to_string_lossy(), &other).into()),
        }
    }
}

/// What `generate` decided before handing over.
#[derive(Debug)]
pub struct LoadRun<'a> {
    pub scenario: &'a Scenario,
    pub tables: Vec<&'static TableDef>,
    pub days: DateRange,
}

pub fn run(database: Database, db: &DbArgs, run: LoadRun<'_>, quiet: bool) -> anyhow::Result<()> {
    let days = run.days.day_count() as u64;
    let jobs = db.jobs.unwrap_or(1) as usize;
    if db.foreign_keys && jobs > 1 {
        usage!(
            "--foreign-keys loads days in order on one connection: drop --jobs {jobs}, or drop --foreign-keys"
        );
    }
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(Some(days), ProgressDrawTarget::stderr())
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} days {elapsed_precise} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let tables = run.tables.len();
    let (rows, place) = match database {
        Database::Postgres(target) => {
            let load = PgLoad {
                target: &target,
                scenario: run.scenario,
                tables: run.tables,
                days: run.days,
                jobs,
                foreign_keys: db.foreign_keys,
            };
            let summary = load.run(&|_| bar.inc(1)).map_err(|e| {
                let schema_problem = matches!(
                    e,
                    PgError::MissingSchema { .. } | PgError::Incompatible { .. }
                );
                let e = anyhow::Error::new(e);
                if schema_problem {
                    e.context(format!("--schema {}", target.schema))
                } else {
                    e
                }
            })?;
            (summary.rows, format!("PostgreSQL {}", target.describe()))
        }
        Database::Sqlite(path) => {
            let load = SqliteLoad {
                path: path.clone(),
                scenario: run.scenario,
                tables: run.tables,
                days: run.days,
                foreign_keys: db.foreign_keys,
            };
            let summary = load.run(&|_, _| bar.inc(1))?;
            (summary.rows, format!("SQLite {}", path.display()))
        }
    };
    bar.finish_and_clear();
    if !quiet {
        let elapsed = started.elapsed().as_secs_f64();
        eprintln!(
            "{rows} rows in {elapsed:.2} s ({:.0} rows/s): {tables} tables × {days} day{} of {} (seed {}) loaded into {place}",
            rows as f64 / elapsed.max(1e-9),
            if days == 1 { "" } else { "s" },
            run.scenario.name(),
            run.scenario.seed(),
        );
    }
    Ok(())
}

/// `generate --dirty P --out DATABASE`: the dirty extracts landed raw (every column text, no
/// keys, `_day` and `_delivered_on` columns) with the manifest in a `_defects` table
/// (`faux_sinks::raw`), one transaction per day, in order (a late partition replaced on its
/// correction day).
pub fn run_dirty(
    database: Database,
    db: &DbArgs,
    run: LoadRun<'_>,
    profile: Profile,
    quiet: bool,
) -> anyhow::Result<()> {
    if db.foreign_keys {
        usage!(
            "--dirty {profile} lands raw tables without keys (orphan lines and duplicates would break them): drop --foreign-keys"
        );
    }
    if db.jobs.is_some_and(|j| j > 1) {
        usage!("--dirty {profile} loads days in order on one connection: drop --jobs");
    }
    let days = run.days.day_count() as u64;
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(Some(days), ProgressDrawTarget::stderr())
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} days {elapsed_precise} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let tables = run.tables.len();
    let load = RawLoad {
        scenario: run.scenario,
        tables: run.tables,
        days: run.days,
        profile,
    };
    let (summary, place) = match database {
        Database::Postgres(target) => {
            let summary = load.run_pg(&target, &|_| bar.inc(1)).map_err(|e| {
                let schema_problem = matches!(
                    e,
                    PgError::MissingSchema { .. } | PgError::Incompatible { .. }
                );
                let e = anyhow::Error::new(e);
                if schema_problem {
                    e.context(format!("--schema {}", target.schema))
                } else {
                    e
                }
            })?;
            (summary, format!("PostgreSQL {}", target.describe()))
        }
        Database::Sqlite(path) => {
            let summary = load.run_sqlite(&path, &|_| bar.inc(1))?;
            (summary, format!("SQLite {}", path.display()))
        }
    };
    bar.finish_and_clear();
    if !quiet {
        eprintln!(
            "{} rows with {} planted defects (--dirty {profile}): {tables} tables × {days} day{} of {} (seed {}) landed raw in {place}; the defects are listed in its table {}",
            summary.rows,
            summary.defects,
            if days == 1 { "" } else { "s" },
            load.scenario.name(),
            load.scenario.seed(),
            faux_sinks::raw::DEFECTS_TABLE,
        );
    }
    Ok(())
}
