//! # genie — the Faux Genie REST API over live e-commerce data
//!
//! An embedded SQLite store, or PostgreSQL (see [`store`]), is backfilled from the faux engine and then kept
//! current by a virtual clock ([`clock`]); [`api`] serves it over HTTP with API keys, rate
//! limits, cursor/page/offset pagination, incremental filters and a change feed, and
//! [`openapi`] documents it from the same table definitions.

pub mod api;
pub mod backfill;
pub mod chaos;
pub mod clock;
pub mod openapi;
pub mod page;
pub mod paging;
pub mod problem;
pub mod serve;
pub mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use faux::{Scenario, Timestamp};
use sha2::Digest;

pub use api::RateLimit;
pub use clock::ClockControl;
pub use store::{Store, StoreError};

/// The fastest clock (virtual seconds per real second) at which the engine's day caches are
/// emptied after each virtual day is loaded: a virtual day then lasts at least ten minutes.
pub const RELEASE_CACHES_MAX_SPEED: f64 = 144.0;

#[derive(Debug, thiserror::Error)]
pub enum GenieError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Scenario(#[from] faux::ScenarioError),
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("background task failed: {0}")]
    Join(String),
    #[error(
        "another genie is serving {} (it holds {}): stop it, or give this one its own --data-dir",
        dir.display(),
        dir.join(DataDirLock::FILE).display()
    )]
    Busy { dir: PathBuf },
}

/// An exclusive lock on a data folder for as long as it lives: a second server on the same
/// store would run a second clock over it. The operating system drops it when the process
/// ends, however it ends, so a killed server leaves no stale lock.
#[derive(Debug)]
pub struct DataDirLock {
    _file: std::fs::File,
}

impl DataDirLock {
    pub const FILE: &'static str = "genie.lock";

    pub fn acquire(dir: &std::path::Path) -> Result<DataDirLock, GenieError> {
        let io = |source| GenieError::Read {
            path: dir.join(Self::FILE),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(Self::FILE))
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => Ok(DataDirLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(GenieError::Busy { dir: dir.into() }),
            Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
        }
    }
}

/// Everything `genie` (serve) is configured with.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    /// A scenario name (`ecommerce`) or a path to a `.toml` scenario file.
    pub scenario: String,
    pub seed: u64,
    /// Days of history backfilled before the start, for a new store.
    pub history_days: i32,
    /// Virtual seconds per real second.
    pub speed: f64,
    /// Where the clock starts; `None`: where a restarted store stopped, or now.
    pub start: Option<Timestamp>,
    pub listen: String,
    /// How long (virtual seconds) the change feed keeps records.
    pub retention_secs: i64,
    pub rate: RateLimit,
    /// Seeded faults on the data endpoints (off by default).
    pub chaos: chaos::ChaosSpec,
    /// Overrides the chaos setting's cursor TTL (`--cursor-ttl`); expired cursors are on
    /// whenever this is set.
    pub cursor_ttl: Option<std::time::Duration>,
    /// The URL clients reach the API at (`https://api.example.com`), for absolute links;
    /// `None`: links are relative (`/v1/orders?cursor=…`), never built from a `Host` header.
    pub public_url: Option<String>,
    /// Dirty data (`--dirty`): the defects planted in the rows served.
    pub dirty: faux::dirty::Profile,
    /// Time a client has to send a request's headers ([`serve::HEADER_READ_TIMEOUT`]).
    pub header_timeout: std::time::Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            data_dir: PathBuf::from("genie-data"),
            scenario: "ecommerce".into(),
            seed: faux::DEFAULT_SEED,
            history_days: 90,
            speed: 1.0,
            start: None,
            listen: "127.0.0.1:8000".into(),
            retention_secs: 7 * 86_400,
            rate: RateLimit {
                burst: 200,
                per_second: 50.0,
            },
            chaos: chaos::ChaosSpec::default(),
            cursor_ttl: None,
            public_url: None,
            dirty: faux::dirty::Profile::Off,
            header_timeout: serve::HEADER_READ_TIMEOUT,
        }
    }
}

/// Loads a scenario by name or from a scenario file; returns it with the identity the store
/// is bound to (a file is identified by its content, so an edited file needs a new store).
pub fn load_scenario(spec: &str, seed: u64) -> Result<(Scenario, String), GenieError> {
    let spec = faux::ScenarioSpec::read(spec)?;
    let identity = match &spec {
        faux::ScenarioSpec::BuiltIn(name) => name.clone(),
        faux::ScenarioSpec::File { text, .. } => {
            let h = sha2::Sha256::digest(text.as_bytes());
            let id: String = h[..8].iter().map(|b| format!("{b:02x}")).collect();
            format!("file:{id}")
        }
    };
    Ok((spec.load(seed)?, identity))
}

pub fn now() -> Timestamp {
    Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
    )
}

/// A running server: its address, store and clock control.
#[derive(Debug)]
pub struct Running {
    pub addr: SocketAddr,
    pub store: Arc<Store>,
    pub clock: Arc<ClockControl>,
    /// Where virtual time stood when serving began.
    pub started_at: Timestamp,
    pub server: tokio::task::JoinHandle<std::io::Result<()>>,
    pub ticker: tokio::task::JoinHandle<Result<(), StoreError>>,
}

/// Told how a new store's first fill progresses ([`backfill::Progress`]).
pub type OnProgress = Box<dyn FnMut(backfill::Progress) + Send>;

/// Opens the store, backfills (new store) or catches up nothing (restart: the clock resumes
/// where it stopped), binds the listener and starts serving and ticking.
pub async fn start(cfg: Config, on_progress: OnProgress) -> Result<Running, GenieError> {
    let store = Store::open(&cfg.data_dir)?;
    start_on(cfg, store, on_progress).await
}

/// [`start`] on a store the caller opened (PostgreSQL: [`Store::open_postgres`]);
/// `cfg.data_dir` is not used.
pub async fn start_on(
    cfg: Config,
    store: Store,
    on_progress: OnProgress,
) -> Result<Running, GenieError> {
    let (scenario, identity) = load_scenario(&cfg.scenario, cfg.seed)?;
    // the store takes the feed a day at a time: let a day use every core
    let scenario = scenario.with_threads(faux::pool::all_cores());
    start_scenario(cfg, store, scenario, identity, on_progress).await
}

/// [`start_on`] with a scenario the caller built (e.g. a [`faux::Simulation`] of its own),
/// bound to the store under `identity`; `cfg.scenario` and `cfg.seed` are not used.
pub async fn start_scenario(
    cfg: Config,
    store: Store,
    scenario: Scenario,
    identity: String,
    on_progress: OnProgress,
) -> Result<Running, GenieError> {
    // the port first: a port in use is reported before minutes of backfill, not after
    // (connections wait in the backlog until the backfill is done)
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .map_err(|source| GenieError::Listen {
            addr: cfg.listen.clone(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| GenieError::Listen {
        addr: cfg.listen.clone(),
        source,
    })?;
    let store = Arc::new(store);
    let (scenario_name, scenario_description) = (scenario.name(), scenario.description());
    let scenario = Arc::new(scenario);
    store.bind_scenario(&scenario, &identity)?;
    let prev = store.clock()?;
    let start = match (prev, cfg.start) {
        // the clock never runs backwards: applied changes cannot be unapplied
        (Some(c), Some(s)) => Timestamp(s.0.max(c.reached)),
        (Some(c), None) => Timestamp(c.reached),
        (None, Some(s)) => s,
        (None, None) => now(),
    };
    // the manifest's log beside an SQLite store (a PostgreSQL one keeps it in its schema)
    let manifest_log = (!store.is_postgres()).then(|| cfg.data_dir.join(store::MANIFEST_FILE));
    store.bind_dirty(scenario.clone(), cfg.dirty, manifest_log)?;
    if prev.is_none() {
        let (sc, s) = (scenario.clone(), store.clone());
        let (history, retention) = (cfg.history_days, cfg.retention_secs);
        let mut on_progress = on_progress;
        tokio::task::spawn_blocking(move || {
            // an earlier first fill that never finished is thrown away, not served; the
            // tables are filled without indexes, which are built after the data, and
            // without syncs (a crash loses nothing: the fill starts over)
            s.clear_incomplete()?;
            s.defer_indexes()?;
            s.fast_fill(true)?;
            let st = backfill::fill(
                &sc,
                &s,
                start,
                history,
                retention,
                faux::pool::all_cores(),
                &mut *on_progress,
            )?;
            s.build_indexes()?;
            s.fast_fill(false)?;
            s.finish_fill(&st)
        })
        .await
        .map_err(|e| GenieError::Join(e.to_string()))??;
    }
    // schema drift counts from the store's first serving, so a restart does not move it
    let first_served = store.first_served(start.0)?;
    // a virtual day of ten real minutes or more: keep only the day being replayed, not the
    // engine's weeks of orders (regenerating them once per virtual day costs a few seconds)
    let feeder = clock::Feeder::new(scenario, store.clone(), cfg.retention_secs)?
        .release_caches(cfg.speed <= RELEASE_CACHES_MAX_SPEED);
    let feeder = Arc::new(Mutex::new(feeder));
    let state = api::AppState {
        store: store.clone(),
        scenario: (scenario_name, scenario_description),
        limiter: Arc::new(api::Limiter::new(cfg.rate)),
        chaos: Arc::new(
            chaos::Chaos::new(cfg.chaos.clone(), cfg.seed)
                .with_cursor_ttl(cfg.cursor_ttl)
                .with_start(first_served),
        ),
        // the answer log's file only when there is something to answer for
        chaos_log: Arc::new(api::ChaosLog::new(
            (!cfg.chaos.is_off() || cfg.cursor_ttl.is_some())
                .then(|| cfg.data_dir.join(api::ChaosLog::FILE)),
        )),
        link_base: cfg.public_url.clone().unwrap_or_default().into(),
        console: Arc::new(api::Console::new(cfg.speed)),
    };
    let app = api::router(state);
    let header_timeout = cfg.header_timeout;
    let server = tokio::spawn(serve::serve(listener, app, header_timeout));
    let control = Arc::new(ClockControl::default());
    let ticker = tokio::spawn(clock::run(feeder, start.0, cfg.speed, control.clone()));
    Ok(Running {
        addr,
        store,
        clock: control,
        started_at: start,
        server,
        ticker,
    })
}
