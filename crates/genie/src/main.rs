//! `genie`: serve the API, or manage API keys.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use faux_sinks::destination::{Destination, Flag, Kind};
use faux_sinks::postgres::PgTarget;
use genie::{Config, RateLimit, Store};

#[derive(Debug, Parser)]
#[command(
    name = "genie",
    version,
    about = "A live REST API over a Faux Genie simulation (e-commerce by default)"
)]
struct Cli {
    /// Where the store (SQLite), keys and clock live.
    #[arg(long, global = true, default_value = "genie-data")]
    data_dir: PathBuf,
    /// Keep the store in PostgreSQL instead (postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE;
    /// tables in schema "genie" of that database), for serving and for `genie keys`.
    /// (Parsed after clap, which would echo the value — password included — in its error.)
    #[arg(long, global = true, conflicts_with = "data_dir")]
    database_url: Option<String>,
    #[command(flatten)]
    serve: ServeArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Scenario name or path to a .toml scenario file.
    #[arg(long, default_value = "ecommerce")]
    scenario: String,
    #[arg(long, default_value_t = faux::DEFAULT_SEED)]
    seed: u64,
    /// History backfilled before the start on a new store, e.g. 30d [default: 90d]. A store
    /// keeps its history: refused on an existing one.
    #[arg(long, value_parser = parse_days)]
    history: Option<i32>,
    /// Virtual seconds per real second (60 = a virtual minute per second).
    #[arg(long, default_value_t = 1.0, value_parser = parse_speed, allow_negative_numbers = true)]
    speed: f64,
    /// Where the clock of a new store starts (RFC 3339, a date for its first second, or epoch
    /// seconds) [default: now]. A restarted store resumes where it stopped: refused on an
    /// existing one.
    #[arg(long, value_parser = parse_time)]
    start: Option<faux::Timestamp>,
    #[arg(long, default_value = "127.0.0.1:8000")]
    listen: String,
    /// The URL clients reach this server at (e.g. https://api.example.com behind a proxy),
    /// for absolute links in pages; default: relative links (/v1/orders?cursor=…).
    #[arg(long, value_parser = parse_public_url)]
    public_url: Option<String>,
    /// How long the change feed keeps records (virtual time), e.g. 7d.
    #[arg(long, default_value = "7d", value_parser = parse_days)]
    changes_retention: i32,
    /// Requests per second per key (token refill rate).
    #[arg(long, default_value_t = 50.0)]
    rate_limit: f64,
    /// Burst per key (token bucket size).
    #[arg(long, default_value_t = 200)]
    burst: u32,
    /// Seeded faults on the data endpoints: a profile (off, mild, realistic, hostile) and/or
    /// single faults, comma-separated (server-errors, outages, throttling, slow-answers,
    /// overlapping-pages, late-arrivals, expired-cursors, connection-resets,
    /// truncated-responses, hard-deletes, schema-drift; a fault named alone runs at its
    /// hostile strength).
    /// Every injected fault is in GET /v1/chaos/log and DATA_DIR/chaos-log.jsonl.
    #[arg(long, default_value = "off", value_parser = parse_chaos)]
    chaos: genie::chaos::ChaosSpec,
    /// Cursors older than this many seconds (since the first page of their pass) answer 410
    /// cursor_expired; overrides the --chaos profile's TTL (realistic 1800, hostile 300).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    cursor_ttl: Option<u64>,
    /// Dirty data: off, light, realistic or nasty. Rows are served with the defects
    /// `aladdin generate --dirty` plants in the same rows (seeded; bound to the store: a
    /// restart with another profile is refused). Manifest: GET /v1/dirty/manifest and
    /// DATA_DIR/dirty-manifest.jsonl; grade a cleaned load with
    /// `aladdin verify --dirty PROFILE --manifest http://HOST:PORT`.
    #[arg(long, default_value = "off", value_parser = parse_dirty)]
    dirty: faux::dirty::Profile,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manage API keys.
    #[command(subcommand)]
    Keys(Keys),
}

#[derive(Debug, Subcommand)]
enum Keys {
    /// Create a key and print it (the only time it is shown).
    Create {
        #[arg(long)]
        name: String,
        /// Space- or comma-separated scopes: read:all, read:<resource>, read:changes.
        #[arg(long, default_value = "read:all")]
        scopes: String,
    },
    /// List keys (prefix, scopes, revocation), never their secrets.
    List,
    /// Revoke a key by id.
    Revoke { id: i64 },
}

fn parse_dirty(s: &str) -> Result<faux::dirty::Profile, String> {
    s.parse()
}

fn parse_days(s: &str) -> Result<i32, String> {
    let n = s.strip_suffix('d').unwrap_or(s);
    n.parse::<i32>()
        .ok()
        .filter(|d| *d >= 0)
        .ok_or_else(|| format!("invalid duration {s:?}: expected days, e.g. 90d"))
}

/// Virtual seconds per real second: a finite number >= 0 (0: as fast as possible).
fn parse_speed(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| {
            format!(
                "invalid speed {s:?}: expected a number >= 0 (virtual seconds per second), e.g. 60"
            )
        })
}

/// `--database-url`, parsed as aladdin parses its destination flags: a bad value gets the
/// same message.
const DATABASE_URL: Flag = Flag {
    name: "--database-url",
    verb: "genie stores its data in",
    kinds: &[Kind::Postgres],
    hint: Some("an SQLite store is a folder: --data-dir"),
};

fn parse_database_url(s: &str) -> Result<PgTarget, String> {
    match DATABASE_URL.parse(s).map_err(|e| e.to_string())? {
        Destination::Postgres(t) => t
            .with_schema(Some(genie::store::PG_SCHEMA))
            .map_err(|e| format!("{}: {e}", DATABASE_URL.name)),
        other => Err(DATABASE_URL.refuse(s, &other).to_string()),
    }
}

/// An http(s) URL without query or fragment; kept without a trailing `/`.
fn parse_public_url(s: &str) -> Result<String, String> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .filter(|r| !r.is_empty() && !r.starts_with('/'))
        .filter(|r| !r.contains(['?', '#', ' ']));
    match rest {
        Some(_) => Ok(s.trim_end_matches('/').to_string()),
        None => Err(format!(
            "invalid public URL {s:?}: expected http(s)://HOST[:PORT][/PATH], without query or fragment"
        )),
    }
}

fn parse_chaos(s: &str) -> Result<genie::chaos::ChaosSpec, String> {
    s.parse()
}

/// An instant; a date alone is its first second (as for `aladdin stream --start`).
fn parse_time(s: &str) -> Result<faux::Timestamp, String> {
    if let Ok(day) = s.trim().parse::<faux::Date>() {
        return Ok(day.start());
    }
    faux::Timestamp::parse_flexible(s).map_err(|e| e.to_string())
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // never a backtrace, whatever RUST_BACKTRACE says (anyhow's report of `main`'s
            // error printed one: for us, not for users)
            eprintln!("error: {}", faux_sinks::error_line::one_line(e.as_ref()));
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    genie::store::limit_malloc_arenas();
    let cli = Cli::parse();
    let database_url = cli.database_url.as_deref().map(|s| {
        parse_database_url(s).unwrap_or_else(|e| {
            // a usage error: exit 2 with clap's usage hint
            <Cli as clap::CommandFactory>::command()
                .error(clap::error::ErrorKind::ValueValidation, e)
                .exit()
        })
    });
    tracing_subscriber::fmt()
        // logs on stderr: stdout carries the URL, the key and the curl line
        .with_writer(std::io::stderr)
        // plain text when the log goes to a file or a pipe
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    match cli.command {
        Some(Command::Keys(k)) => keys(open_store(&cli.data_dir, database_url.as_ref())?, k),
        None => serve(cli.data_dir, database_url, cli.serve),
    }
}

/// The embedded store in `dir`, or the PostgreSQL one.
fn open_store(dir: &std::path::Path, url: Option<&PgTarget>) -> Result<Store> {
    match url {
        Some(t) => Store::open_postgres(t.clone())
            .with_context(|| format!("opening the store in PostgreSQL ({})", t.describe())),
        None => Store::open(dir).with_context(|| format!("opening the store in {}", dir.display())),
    }
}

fn keys(store: Store, k: Keys) -> Result<()> {
    match k {
        Keys::Create { name, scopes } => {
            let scopes: Vec<String> = scopes
                .split([' ', ','])
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            if scopes.is_empty() {
                eprintln!(
                    "error: --scopes is empty: give read:all, read:changes or read:<resource>"
                );
                std::process::exit(2);
            }
            let (key, secret) = match store.create_key(&name, &scopes) {
                Err(e @ genie::StoreError::UnknownScope { .. }) => {
                    eprintln!("error: --scopes: {e}");
                    std::process::exit(2);
                }
                r => r?,
            };
            println!("{secret}");
            eprintln!(
                "created key {} ({}, scopes {}): store it now, it is not shown again",
                key.id,
                key.prefix,
                key.scopes.join(" ")
            );
        }
        Keys::List => {
            println!(
                "{:>4}  {:<14} {:<20} {:<22} {:<22} SCOPES",
                "ID", "PREFIX", "NAME", "CREATED", "REVOKED"
            );
            for k in store.list_keys()? {
                println!(
                    "{:>4}  {:<14} {:<20} {:<22} {:<22} {}",
                    k.id,
                    format!("{}…", k.prefix),
                    k.name,
                    k.created_at,
                    k.revoked_at.as_deref().unwrap_or("-"),
                    k.scopes.join(" ")
                );
            }
        }
        Keys::Revoke { id } => {
            store.revoke_key(id)?;
            eprintln!("revoked key {id}");
        }
    }
    Ok(())
}

/// A progress line for a new store's first fill: redrawn in place on a terminal, a line
/// every tenth of the days or every two seconds otherwise (a log file) — the history
/// window's few days hold most of the rows.
fn progress_line() -> genie::OnProgress {
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut shown = 0;
    let mut shown_at = 0.0;
    Box::new(move |p: genie::backfill::Progress| {
        let line = format!(
            "  filled {}/{} days, {} rows, {:.0} rows/s, {:.1} s",
            p.days_done,
            p.days,
            p.rows,
            p.rows_per_sec(),
            p.elapsed_secs
        );
        let done = p.days_done == p.days;
        if tty {
            eprint!("\r{line}{}", if done { "\n" } else { "" });
        } else if done
            || p.days_done * 10 / p.days.max(1) > shown
            || p.elapsed_secs >= shown_at + 2.0
        {
            shown = p.days_done * 10 / p.days.max(1);
            shown_at = p.elapsed_secs;
            eprintln!("{line}");
        }
    })
}

/// The history of a new store when `--history` is not given.
const DEFAULT_HISTORY_DAYS: i32 = 90;

fn serve(data_dir: PathBuf, database_url: Option<PgTarget>, a: ServeArgs) -> Result<()> {
    // an unknown name or a bad scenario file is a usage error, found before the store is
    // created or locked (the server loads it again when it starts: a file's parse is cheap)
    if let Err(e) = genie::load_scenario(&a.scenario, a.seed) {
        <Cli as clap::CommandFactory>::command()
            .error(
                clap::error::ErrorKind::ValueValidation,
                faux_sinks::error_line::one_line(&e),
            )
            .exit()
    }
    // one server per folder: a second one would run its own clock over the same store
    let _lock = match &database_url {
        None => Some(genie::DataDirLock::acquire(&data_dir)?),
        Some(_) => None,
    };
    let explicit = (a.start.is_some(), a.history.is_some());
    let cfg = Config {
        data_dir,
        scenario: a.scenario,
        seed: a.seed,
        history_days: a.history.unwrap_or(DEFAULT_HISTORY_DAYS),
        speed: a.speed,
        start: a.start,
        listen: a.listen,
        retention_secs: a.changes_retention as i64 * 86_400,
        rate: RateLimit {
            burst: a.burst,
            per_second: a.rate_limit,
        },
        chaos: a.chaos,
        cursor_ttl: a.cursor_ttl.map(std::time::Duration::from_secs),
        public_url: a.public_url,
        dirty: a.dirty,
        header_timeout: genie::serve::HEADER_READ_TIMEOUT,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    rt.block_on(async move {
        let store = open_store(&cfg.data_dir, database_url.as_ref())?;
        let chaos = cfg.chaos.clone();
        let dirty = cfg.dirty;
        let scenario_line = format!("{} (seed {})", cfg.scenario, cfg.seed);
        match store.clock()? {
            Some(clock) => {
                let at = faux::Timestamp(clock.reached);
                for (given, flag) in [(explicit.0, "--start"), (explicit.1, "--history")] {
                    if given {
                        eprintln!(
                            "error: {flag} applies to a new store only: {} already holds a store whose clock is at {at}, and it resumes there. Leave out {flag} to resume it, or start over on a new store (another --data-dir, or after removing that one)",
                            store.location
                        );
                        std::process::exit(2);
                    }
                }
                eprintln!("genie: resuming the store at {} from its clock, {at}…", store.location);
            }
            None => eprintln!(
                "genie: new store at {}: filling the shop as of {} ({} days of history)…",
                store.location,
                cfg.start.map_or("now".to_string(), |s| s.to_string()),
                cfg.history_days,
            ),
        }
        let running = genie::start_on(cfg, store, progress_line()).await?;
        let url = format!("http://{}", running.addr);
        let keys = running.store.list_keys()?;
        let active = keys.iter().filter(|k| k.revoked_at.is_none()).count();
        println!("genie is serving live data at {url}");
        println!("  scenario: {scenario_line}");
        println!("  clock:   {} (virtual)", running.started_at);
        println!("  OpenAPI: {url}/openapi.json");
        if !chaos.is_off() {
            println!("  chaos:   {} (seeded faults on /v1: retry on 429/5xx, honour Retry-After; answer log at /v1/chaos/log)", chaos.name());
        }
        if dirty != faux::dirty::Profile::Off {
            println!("  dirty:   {dirty} (planted defects; manifest at /v1/dirty/manifest; grade a cleaned load with aladdin verify --dirty {dirty} --manifest {url})");
        }
        if active == 0 {
            let (k, secret) = running.store.create_key("first key", &["read:all".into()])?;
            println!("  API key (shown once, store it now): {secret}   [id {}]", k.id);
            println!("\n  curl -H 'Authorization: Bearer {secret}' '{url}/v1/orders?limit=5'\n");
        } else {
            println!("  {active} API key(s) exist (genie keys list); create one with: genie keys create --name me");
            println!("\n  curl -H 'Authorization: Bearer <your key>' '{url}/v1/orders?limit=5'\n");
        }
        tokio::select! {
            r = running.server => { r??; }
            r = running.ticker => { r??; }
            _ = tokio::signal::ctrl_c() => { eprintln!("genie: stopping; the clock resumes here on restart"); }
        }
        Ok(())
    })
}
