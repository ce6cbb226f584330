//! # aladdin — the Faux Genie command line
//!
//! A thin shell over `faux` (generation) and `faux-sinks` (output): it parses arguments,
//! validates them into a run, and reports. It contains no generation logic.
//!
//! Modules:
//! - [`commands::generate`]: `aladdin generate` — date-partitioned CSV / JSON Lines / Parquet.
//! - [`commands::truth`]: `aladdin truth` — the answer key (counts, sums, digests).
//! - [`commands::load`]: `aladdin generate --out postgres://…|sqlite://…` — idempotent daily
//!   loads into a database.
//! - [`commands::verify`]: `aladdin verify` — a pipeline's loaded tables against the truth.
//! - [`commands::dirty`]: `aladdin verify --dirty` — a cleaning pipeline graded against the
//!   defects `generate --dirty` planted.
//! - [`commands::chart`]: `aladdin chart` — Shiny Rocks charts (PNG/SVG) from files, PostgreSQL or memory.
//! - [`commands::stream`]: `aladdin stream` — change records paced by a virtual clock to stdout,
//!   RabbitMQ or NATS JetStream.
//! - [`commands::common`]: scenario loading and day ranges shared by the commands.
//! - the destination flags (`--out`, `--against`, `--database-url`, `--from-dir`) are
//!   `faux_sinks::destination::Flag`s: which kinds each takes, and the usage error
//!   (`FlagError`) for the rest.
//! - [`commands::scenario`]: `aladdin scenario list|show` — scenarios, tables, columns, tunables.
//! - [`usage`]: the usage-error type that maps to exit code 2.
//! - [`alloc`]: the allocator — glibc's, with large blocks on transparent huge pages.
//!
//! Exit codes: 0 success, 1 failure, 2 usage error (bad flag, date, scenario, format, shard…).

mod alloc;
mod commands;
mod usage;

#[global_allocator]
static ALLOCATOR: alloc::HugePageAlloc = alloc::HugePageAlloc;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::usage::UsageError;

#[derive(Debug, Parser)]
#[command(
    name = "aladdin",
    version,
    about = "Generate realistic, reproducible fake business data",
    long_about = "Generate realistic, reproducible fake business data.\n\n\
        The same scenario, seed and dates always give the same bytes; any day can be generated on its own.",
    after_help = "Examples:\n  \
        aladdin generate --scenario shiny-rocks --from 2024-01-01 --to 2024-12-31 --out data/\n  \
        aladdin generate --scenario shiny-rocks --date 2024-07-10 --layout flat --out .\n  \
        aladdin scenario show shiny-rocks"
)]
struct Cli {
    /// Print nothing but errors.
    #[arg(long, short, global = true)]
    quiet: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Generate(commands::generate::GenerateArgs),
    Truth(commands::truth::TruthArgs),
    Verify(commands::verify::VerifyArgs),
    Chart(commands::chart::ChartArgs),
    Stream(commands::stream::StreamArgs),
    /// List the scenarios, or show one's tables, columns and tunables with their defaults.
    #[command(
        subcommand,
        after_help = "Examples:\n  \
            aladdin scenario list\n  \
            aladdin scenario show ecommerce\n\n\
            The e-commerce tunables are the keys of scenarios/ecommerce.toml; a file of your own\n\
            overrides any subset: aladdin generate --scenario my-shop.toml …"
    )]
    Scenario(commands::scenario::ScenarioCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = if cli.quiet { "error" } else { "info" };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        // plain text when the log goes to a file or a pipe: no colour codes in logs
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ALADDIN_LOG")
                // the broker clients log connection trouble that `aladdin stream` reports
                // itself, with what it does about it
                .unwrap_or_else(|_| {
                    tracing_subscriber::EnvFilter::new(format!("{level},lapin=off,async_nats=off"))
                }),
        )
        .init();

    let result = match cli.command {
        Command::Generate(args) => commands::generate::run(args, cli.quiet),
        Command::Truth(args) => commands::truth::run(args),
        Command::Verify(args) => commands::verify::run(args),
        Command::Chart(args) => commands::chart::run(args),
        Command::Stream(args) => commands::stream::run(args, cli.quiet),
        Command::Scenario(cmd) => commands::scenario::run(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // the command said how far it got
        Err(e)
            if e.downcast_ref::<commands::generate::Interrupted>()
                .is_some() =>
        {
            ExitCode::from(130)
        }
        Err(e)
            if e.downcast_ref::<UsageError>().is_some()
                || e.downcast_ref::<faux_sinks::destination::FlagError>()
                    .is_some() =>
        {
            eprintln!("error: {}", message(&e));
            eprintln!("\nFor more information, try '--help'.");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {}", message(&e));
            ExitCode::from(1)
        }
    }
}

/// The error and its causes on one line, never a backtrace.
fn message(e: &anyhow::Error) -> String {
    faux_sinks::error_line::one_line(e.as_ref())
}
