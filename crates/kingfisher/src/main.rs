//! `kingfisher`: features from the live stream, training against the oracle, serving.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

use kingfisher::ingest::{self, IngestOptions};
use kingfisher::mlflow::MlflowOptions;
use kingfisher::online::{self, OnlineOptions};
use kingfisher::registry::Registry;
use kingfisher::serve::{AppState, StorePool, router};
use kingfisher::store::{Location, Store};
use kingfisher::train::{self, TrainOptions};

#[derive(Debug, Parser)]
#[command(
    name = "kingfisher",
    version,
    about = "Cart purchase propensity over Faux Genie's live stream: features, training graded against the simulation's true probabilities, a model registry and a prediction API."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Consume `aladdin stream`'s sessions and events from RabbitMQ into the feature store.
    Features(FeaturesArgs),
    /// Train a model on the matured labels, evaluate it on the newest matured day, register it.
    Train(TrainArgs),
    /// Serve predictions over HTTP.
    Serve(ServeArgs),
    /// Grade the deployed model on a range of days next to the baselines and the oracle.
    Evaluate(EvaluateArgs),
    /// Everything in one process, no broker: a shop's days fed in virtual time → features →
    /// daily training and promotion → predictions → evaluation, then the prediction API.
    Run(RunArgs),
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// An ecommerce scenario file [default: the small shop built in, as in the tests].
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Seed of the simulation.
    #[arg(long, default_value_t = faux::DEFAULT_SEED)]
    seed: u64,
    /// The first day fed.
    #[arg(long, default_value = "2024-01-01", value_parser = parse_date)]
    start: faux::Date,
    /// Days fed (labels mature 8 days after theirs: the first model comes on day 10).
    #[arg(long, default_value_t = 45, value_parser = clap::value_parser!(u32).range(10..=3650))]
    days: u32,
    /// Folder of the run: the feature store (kingfisher.db) and the registry (models/, with
    /// predictions.jsonl); it must not hold an earlier run.
    #[arg(long, default_value = "kingfisher-run")]
    dir: PathBuf,
    /// Train at the end of every this many virtual days.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=365))]
    train_every: u32,
    /// Train on at most this many days before the held-out day.
    #[arg(long, default_value_t = 28, value_parser = clap::value_parser!(u32).range(1..=3650))]
    train_days: u32,
    /// Address of the prediction API served at the end.
    #[arg(long, default_value = "127.0.0.1:8780")]
    listen: String,
    /// Exit after the evaluation instead of serving.
    #[arg(long)]
    no_serve: bool,
}

#[derive(Debug, clap::Args)]
struct EvaluateArgs {
    /// The first day of carts graded.
    #[arg(long, value_parser = parse_date)]
    from: faux::Date,
    /// The last day of carts graded (only carts whose label has matured count).
    #[arg(long, value_parser = parse_date)]
    to: faux::Date,
    /// The feature store `kingfisher features` fills.
    #[arg(long, default_value = "kingfisher.db")]
    store: PathBuf,
    /// A PostgreSQL feature store instead of the SQLite file --store
    /// (`postgres://user@host/db`; its tables go in the database's schema `kingfisher`).
    #[arg(long, value_parser = parse_database_url, conflicts_with = "store")]
    database_url: Option<String>,
    /// The model registry folder.
    #[arg(long, default_value = "models")]
    registry: PathBuf,
    /// `aladdin truth --labels` output covering these days: grades the oracle.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Grade this version [default: the deployed one, else the newest].
    #[arg(long)]
    model_version: Option<u32>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct FeaturesArgs {
    /// RabbitMQ URL.
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    broker: String,
    /// The exchange `aladdin stream` publishes to (its --exchange).
    #[arg(long, default_value = "faux")]
    exchange: String,
    /// The stream's routing-key prefix (its --prefix; by default the scenario name).
    #[arg(long, default_value = "ecommerce")]
    prefix: String,
    /// The durable queue this service reads (kept across restarts).
    #[arg(long, default_value = "kingfisher.features")]
    queue: String,
    /// The feature store (SQLite file, created if missing).
    #[arg(long, default_value = "kingfisher.db")]
    store: PathBuf,
    /// A PostgreSQL feature store instead of the SQLite file --store
    /// (`postgres://user@host/db`; its tables go in the database's schema `kingfisher`).
    #[arg(long, value_parser = parse_database_url, conflicts_with = "store")]
    database_url: Option<String>,
    /// Records applied per transaction at most.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=20_000))]
    batch: u64,
    /// Stop after no record arrived for this many seconds [default: run until stopped].
    #[arg(long, value_parser = parse_seconds)]
    exit_when_idle: Option<Duration>,
    /// Stop once the store has applied this seq (a finished `aladdin stream` prints its last).
    #[arg(long)]
    stop_at_seq: Option<i64>,
    /// Declare the queue and its bindings, then exit (run before the stream starts).
    #[arg(long)]
    setup_only: bool,
    /// Let the broker delete the queue after this many seconds without a consumer (for
    /// throw-away runs; the same value must be given on every run).
    #[arg(long, value_parser = parse_seconds)]
    queue_expires: Option<Duration>,
}

#[derive(Debug, clap::Args)]
struct TrainArgs {
    /// The feature store `kingfisher features` fills.
    #[arg(long, default_value = "kingfisher.db")]
    store: PathBuf,
    /// A PostgreSQL feature store instead of the SQLite file --store
    /// (`postgres://user@host/db`; its tables go in the database's schema `kingfisher`).
    #[arg(long, value_parser = parse_database_url, conflicts_with = "store")]
    database_url: Option<String>,
    /// The model registry folder.
    #[arg(long, default_value = "models")]
    registry: PathBuf,
    /// `aladdin truth --labels` output for the same scenario and seed: scores the oracle on
    /// the held-out carts.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Train as of this instant (RFC 3339, a date or epoch seconds) [default: the last record
    /// in the store].
    #[arg(long, value_parser = parse_instant)]
    as_of: Option<faux::Timestamp>,
    /// Train on at most this many days before the held-out day.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=3650))]
    train_days: Option<u32>,
    /// Publish `kingfisher.model.trained` (the model's summary and metrics) to this RabbitMQ.
    #[arg(long)]
    broker: Option<String>,
    /// The exchange Kingfisher's messages go to (durable, topic).
    #[arg(long, default_value = "kingfisher", requires = "broker")]
    events_exchange: String,
    /// Run as a service: train on every `kingfisher.train.requested` message (body `{}` or
    /// `{"as_of": "<instant>", "train_days": N}`) read from --queue.
    #[arg(long, requires = "broker")]
    on_request: bool,
    /// With --on-request: also train each time the store's last record enters a new day.
    #[arg(long, requires = "on_request")]
    daily: bool,
    /// Log each training run to this MLflow tracking server (`http://host:port`, started
    /// with `mlflow server`, which serves artifacts by default): params, metrics and the
    /// model file as the artifact `model/model.json`.
    #[arg(long)]
    mlflow_uri: Option<String>,
    /// The MLflow experiment the runs go to (created if missing).
    #[arg(long, default_value = "kingfisher", requires = "mlflow_uri")]
    mlflow_experiment: String,
    /// The durable queue of training requests.
    #[arg(long, default_value = "kingfisher.train")]
    queue: String,
    /// With --on-request: stop after this many seconds without a request.
    #[arg(long, value_parser = parse_seconds, requires = "on_request")]
    exit_when_idle: Option<Duration>,
    /// With --on-request: let the broker delete the queue after this many seconds without a
    /// consumer (throw-away runs).
    #[arg(long, value_parser = parse_seconds, requires = "on_request")]
    queue_expires: Option<Duration>,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// The model registry folder.
    #[arg(long, default_value = "models")]
    registry: PathBuf,
    /// The feature store, for predictions by cart_id.
    #[arg(long)]
    store: Option<PathBuf>,
    /// A PostgreSQL feature store instead of the SQLite file --store
    /// (`postgres://user@host/db`; its tables go in the database's schema `kingfisher`).
    #[arg(long, value_parser = parse_database_url, conflicts_with = "store")]
    database_url: Option<String>,
    /// Serve this version and no other [default: the deployed one, else the newest, swapped
    /// when another is deployed].
    #[arg(long)]
    model_version: Option<u32>,
    /// Address to listen on (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8780")]
    listen: String,
    /// RabbitMQ: swap models on `kingfisher.model.deployed` at once, and publish a
    /// `kingfisher.prediction` for every cart the feature store (--store) scores.
    #[arg(long)]
    broker: Option<String>,
    /// The exchange of Kingfisher's messages (durable, topic).
    #[arg(long, default_value = "kingfisher")]
    events_exchange: String,
    /// The prediction publisher's cursor (the last cart's seq confirmed by the broker)
    /// [default: the store's path + `.predictions`].
    #[arg(long)]
    predictions_cursor: Option<PathBuf>,
    /// How often the registry's deployed version is checked, besides the messages.
    #[arg(long, default_value = "2", value_parser = parse_seconds)]
    follow_every: Duration,
}

fn parse_database_url(s: &str) -> Result<String, String> {
    if !(s.starts_with("postgres://") || s.starts_with("postgresql://")) {
        return Err(format!(
            "invalid database URL {s:?}: expected postgres://user@host:port/database"
        ));
    }
    s.parse::<tokio_postgres::Config>()
        .map(|_| s.to_string())
        .map_err(|e| format!("invalid database URL: {e}"))
}

fn parse_seconds(s: &str) -> Result<Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v < 1e9 => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!(
            "invalid duration {s:?}: expected a number of seconds above 0"
        )),
    }
}

/// A usage error found after parsing (flags that do not fit together): exit code 2.
#[derive(Debug)]
struct Usage(String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

fn parse_date(s: &str) -> Result<faux::Date, String> {
    s.parse::<faux::Date>()
        .map_err(|e| format!("invalid date {s:?}: {e} (expected YYYY-MM-DD)"))
}

fn parse_instant(s: &str) -> Result<faux::Timestamp, String> {
    faux::Timestamp::parse_flexible(s).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KINGFISHER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,lapin=off")),
        )
        .init();
    let result = match cli.command {
        Command::Features(a) => features(a),
        Command::Train(a) => train_cmd(a),
        Command::Serve(a) => serve(a),
        Command::Evaluate(a) => evaluate(a),
        Command::Run(a) => run_all(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", faux_sinks::error_line::one_line(e.as_ref()));
            ExitCode::from(if e.is::<Usage>() { 2 } else { 1 })
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn features(a: FeaturesArgs) -> anyhow::Result<()> {
    let mut store = Store::open_at(&Location::new(&a.store, a.database_url.as_deref()))?;
    let opts = IngestOptions {
        broker: a.broker,
        exchange: a.exchange,
        prefix: a.prefix,
        queue: a.queue,
        batch: a.batch as usize,
        exit_when_idle: a.exit_when_idle,
        stop_at_seq: a.stop_at_seq,
        setup_only: a.setup_only,
        queue_expires: a.queue_expires,
    };
    let s = runtime()?.block_on(ingest::run(&mut store, &opts))?;
    let progress = store.progress()?;
    tracing::info!(
        "received {} records, applied {} (the rest were seen before), {} malformed; store at seq {}",
        s.received,
        s.applied,
        s.malformed,
        progress.map_or("none".into(), |(seq, ts)| format!("{seq} ({ts})"))
    );
    Ok(())
}

fn train_cmd(a: TrainArgs) -> anyhow::Result<()> {
    let mlflow = a
        .mlflow_uri
        .as_deref()
        .map(|uri| MlflowOptions::new(uri, &a.mlflow_experiment))
        .transpose()
        .map_err(|e| Usage(e.to_string()))?;
    let location = Location::new(&a.store, a.database_url.as_deref());
    let store = Store::open_at(&location)?;
    let registry = Registry::new(&a.registry);
    let truth = a.truth.as_deref().map(train::read_truth).transpose()?;
    if a.on_request {
        let broker = a.broker.clone().expect("clap requires --broker");
        let opts = kingfisher::trainer::TrainerOptions {
            broker,
            exchange: a.events_exchange.clone(),
            queue: a.queue.clone(),
            store: location.clone(),
            registry: a.registry.clone(),
            train_days: a.train_days,
            truth,
            daily: a.daily,
            mlflow,
            exit_when_idle: a.exit_when_idle,
            queue_expires: a.queue_expires,
            // the monitor looks after each daily training
            monitor: a.daily.then(kingfisher::drift::MonitorOptions::default),
        };
        return runtime()?
            .block_on(kingfisher::trainer::run(&opts, |line| {
                use std::io::Write;
                println!("{line}");
                let _ = std::io::stdout().flush();
            }))
            .map_err(Into::into);
    }
    let opts = TrainOptions {
        as_of: a.as_of,
        train_days: a.train_days,
        truth,
        kinds: Vec::new(),
        since: None,
    };
    let r = train::train(&store, &registry, &opts)?;
    let m = &r.metrics;
    let fmt = |s: &kingfisher::registry::Scores| {
        format!(
            "log loss {:.4}, AUC {}",
            s.log_loss,
            s.auc.map_or("n/a".into(), |a| format!("{a:.4}"))
        )
    };
    println!(
        "model v{}: trained on {} carts ({} to {}), held out {} carts of {}",
        r.version, r.train_carts, r.training_from, r.training_to, r.holdout_carts, r.holdout_day
    );
    println!("  model    {}", fmt(&m.model));
    println!("  constant {}", fmt(&m.constant));
    match &m.oracle {
        Some(o) => println!(
            "  oracle   {}  (gap in log loss: {:+.4})",
            fmt(o),
            m.model.log_loss - o.log_loss
        ),
        None => println!("  oracle   (give --truth to score it)"),
    }
    if let Some(n) = m.label_mismatches
        && n > 0
    {
        println!("  warning: {n} held-out labels differ from the truth file");
    }
    match (&r.deployed_before, r.promoted) {
        (None, _) => println!("  deployed: v{} (nothing was deployed)", r.version),
        (Some(d), true) => println!(
            "  deployed: v{} (v{} had log loss {:.4} on the held-out day)",
            r.version, d.version, d.scores.log_loss
        ),
        (Some(d), false) => println!(
            "  not deployed: v{} keeps serving (log loss {:.4} on the held-out day)",
            d.version, d.scores.log_loss
        ),
    }
    println!("{}", serde_json::to_string(&r.metrics)?);
    if let Some(m) = &mlflow {
        let file = a
            .registry
            .join(format!("v{}", r.version))
            .join("model.json");
        let bytes = std::fs::read(&file).with_context(|| file.display().to_string())?;
        let run = runtime()?
            .block_on(kingfisher::mlflow::log_model(m, &r, &bytes))
            .with_context(|| {
                format!(
                    "model v{} is registered, but not logged to MLflow",
                    r.version
                )
            })?;
        println!("logged to MLflow: run {} ({})", run.run_id, run.url(m));
    }
    if let Some(broker) = &a.broker {
        let body = kingfisher::serve::summary(&r);
        runtime()?.block_on(kingfisher::publish::publish(
            broker,
            &a.events_exchange,
            "kingfisher.model.trained",
            &body,
        ))?;
        println!("published kingfisher.model.trained (v{})", r.version);
        if r.promoted {
            runtime()?.block_on(kingfisher::publish::publish(
                broker,
                &a.events_exchange,
                "kingfisher.model.deployed",
                &body,
            ))?;
            println!("published kingfisher.model.deployed (v{})", r.version);
        }
    }
    Ok(())
}

fn evaluate(a: EvaluateArgs) -> anyhow::Result<()> {
    if a.from > a.to {
        return Err(Usage(format!("--from {} is after --to {}", a.from, a.to)).into());
    }
    if a.database_url.is_none() && !a.store.is_file() {
        anyhow::bail!("--store {}: no such feature store", a.store.display());
    }
    let store = Store::open_at(&Location::new(&a.store, a.database_url.as_deref()))?;
    let registry = Registry::new(&a.registry);
    let record = match a.model_version {
        Some(v) => registry.load(v)?,
        None => registry.serving()?,
    };
    let truth = a.truth.as_deref().map(train::read_truth).transpose()?;
    let report = kingfisher::evaluate::evaluate(&store, &record, a.from, a.to, truth.as_ref())?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", kingfisher::evaluate::render(&report));
    }
    Ok(())
}

fn run_all(a: RunArgs) -> anyhow::Result<()> {
    use kingfisher::run::{RunOptions, SMALL_SHOP};
    let scenario = match &a.scenario {
        // a file that cannot be read or parsed is a bad argument (exit 2), as in aladdin
        Some(p) => {
            let usage = |e: faux::ScenarioError| Usage(faux_sinks::error_line::one_line(&e));
            faux::ScenarioSpec::read_file(&p.display().to_string())
                .and_then(|spec| spec.load(a.seed))
                .map_err(usage)?
        }
        None => faux::Scenario::from_toml("small-shop.toml (built in)", SMALL_SHOP, a.seed)?,
    };
    let store = a.dir.join("kingfisher.db");
    let registry = a.dir.join("models");
    if store.exists() || registry.exists() {
        return Err(Usage(format!(
            "--dir {} already holds a run: remove it or give another --dir",
            a.dir.display()
        ))
        .into());
    }
    std::fs::create_dir_all(&a.dir).with_context(|| format!("--dir {}", a.dir.display()))?;
    let opts = RunOptions {
        start: a.start,
        days: a.days,
        store: store.clone(),
        registry: registry.clone(),
        train_every: a.train_every,
        train_days: Some(a.train_days),
        monitor: Some(kingfisher::drift::MonitorOptions::default()),
    };
    println!(
        "feeding {} days of {} from {} (in process, virtual time) into {}",
        a.days,
        a.scenario
            .as_ref()
            .map_or("the built-in small shop".into(), |p| p
                .display()
                .to_string()),
        a.start,
        a.dir.display()
    );
    let started = std::time::Instant::now();
    let s = kingfisher::run::run(&scenario, &opts, |line| println!("{line}"))?;
    println!(
        "fed {} records in {:.1} s: {} carts, {} models trained, {} predictions ({})",
        s.records,
        started.elapsed().as_secs_f64(),
        s.carts,
        s.trained.len(),
        s.predictions,
        registry.join("predictions.jsonl").display()
    );
    match &s.evaluation {
        Some(r) => print!("{}", kingfisher::evaluate::render(r)),
        None => println!("no evaluation: feed more days (a model a week before the end is graded)"),
    }
    if a.no_serve {
        return Ok(());
    }
    serve(ServeArgs {
        registry,
        store: Some(store),
        database_url: None,
        model_version: None,
        listen: a.listen,
        broker: None,
        events_exchange: "kingfisher".into(),
        predictions_cursor: None,
        follow_every: Duration::from_secs(2),
    })
}

fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let location = match (&a.store, &a.database_url) {
        (_, Some(url)) => Some(Location::Postgres(url.clone())),
        (Some(p), None) => Some(Location::Sqlite(p.clone())),
        (None, None) => None,
    };
    if a.broker.is_some() && location.is_none() {
        return Err(Usage(
            "--broker publishes predictions of the feature store's carts: give --store too (or --database-url)".into(),
        )
        .into());
    }
    if a.broker.is_some() && a.database_url.is_some() && a.predictions_cursor.is_none() {
        return Err(Usage(
            "--broker with --database-url: give --predictions-cursor (the file that keeps the last published cart)".into(),
        )
        .into());
    }
    let registry = Registry::new(&a.registry);
    // a corrupt model file is refused here, before anything is served
    let pinned = a.model_version.is_some();
    let model = match a.model_version {
        Some(v) => registry.load(v)?,
        None => registry.serving()?,
    };
    let store = location
        .as_ref()
        .map(|l| {
            if let Location::Sqlite(p) = l
                && !p.is_file()
            {
                anyhow::bail!("--store {}: no such feature store", p.display());
            }
            // more connections than the runtime has workers: a lookup never waits for one
            Ok(Arc::new(StorePool::open(l, 4)?))
        })
        .transpose()?;
    let state = AppState::new(registry, model, store);
    let online = match (&a.broker, &location) {
        (Some(broker), Some(store)) => Some(OnlineOptions {
            broker: broker.clone(),
            exchange: a.events_exchange.clone(),
            store: store.clone(),
            cursor: a.predictions_cursor.clone().unwrap_or_else(|| {
                let mut p = a.store.clone().expect("checked above").into_os_string();
                p.push(".predictions");
                p.into()
            }),
            poll: Duration::from_millis(200),
        }),
        (Some(_), None) => unreachable!("checked above"),
        _ => None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&a.listen)
            .await
            .with_context(|| format!("--listen {}", a.listen))?;
        let addr = listener.local_addr()?;
        println!(
            "listening on http://{addr} (model v{})",
            state.current().version
        );
        if !pinned {
            let broker = a.broker.clone().map(|b| (b, a.events_exchange.clone()));
            tokio::spawn(online::follow_deployed(
                state.clone(),
                broker,
                a.follow_every,
            ));
        }
        if let Some(o) = online {
            tokio::spawn(online::publish_predictions(state.clone(), o));
        }
        use std::io::Write;
        std::io::stdout().flush()?;
        axum::serve(listener, router(state))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        anyhow::Ok(())
    })
}
