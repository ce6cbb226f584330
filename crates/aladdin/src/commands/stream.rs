//! `aladdin stream`: change records released by a virtual clock to standard output (JSON
//! Lines), RabbitMQ or NATS JetStream. The streaming itself lives in `faux_sinks::stream`;
//! this module turns flags into a run and reports it.

use clap::Args;
use faux::{Scenario, TableDef, Timestamp};
use faux_sinks::destination::Kind;
use faux_sinks::stream::{
    Bounds, BrokerOptions, Origin, StreamRun, Summary, Target, check_prefix, check_stream_name,
    default_stream_name, reliable::Backoff, wall_clock_now,
};

use crate::commands::common::{ScenarioArgs, parse_instant};
use crate::commands::generate::select_tables;
use crate::usage::{UsageError, usage};
use faux_sinks::destination::Flag;

/// Stream change records, paced by a virtual clock, to stdout, RabbitMQ or NATS JetStream.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    aladdin stream                                          # live, in real time, JSON Lines on stdout\n  \
    aladdin stream --start 2025-01-10 --speed 3600 --out amqp://guest:guest@127.0.0.1:5672\n  \
    aladdin stream --start 2025-01-10 --until 2025-01-10 --speed 0 --out nats://127.0.0.1:4222\n  \
    aladdin stream --tables orders,payments --count 100 --speed 0 --start 2025-01-01 | jq .\n\n\
    Each message is {\"table\",\"op\",\"seq\",\"ts\",\"row\"}: the records of the changes view\n\
    (`aladdin generate --view changes`), all tables merged in seq order. RabbitMQ: durable topic\n\
    exchange --exchange, routing key <prefix>.<table>.<op>, persistent, publisher confirms.\n\
    NATS: JetStream stream --stream on subjects <prefix>.>, acked publishes. After a lost\n\
    connection the stream reconnects and re-sends from the first unconfirmed message (at least\n\
    once; duplicates carry the same seq). Ctrl-C stops it and prints the seq to resume from.")]
pub struct StreamArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,

    /// Where messages go: - (standard output, JSON Lines), amqp://user:password@host:5672/vhost
    /// or nats://host:4222.
    #[arg(long, default_value = "-")]
    out: String,

    /// The first instant streamed, where the virtual clock starts: RFC 3339, a date (its
    /// first second), epoch seconds, or `now` [default: now].
    #[arg(long, value_parser = parse_start)]
    start: Option<Start>,

    /// Virtual seconds per real second: 1 is real time, 3600 an hour a second, 0 as fast as
    /// possible (a replay of history, up to now unless --until or --count).
    #[arg(long, default_value = "1", value_parser = parse_speed, allow_negative_numbers = true)]
    speed: f64,

    /// The last instant streamed, inclusive: RFC 3339, a date (its last second) or epoch
    /// seconds [default: none, or now at --speed 0].
    #[arg(long, value_parser = parse_instant)]
    until: Option<Timestamp>,

    /// Stop after this many messages.
    #[arg(long)]
    count: Option<u64>,

    /// Only these tables (comma-separated) [default: events and every table whose rows
    /// change: customers, products, sessions, orders, payments, shipments].
    #[arg(long, value_delimiter = ',')]
    tables: Vec<String>,

    /// Continue a stopped stream: only records after this seq (the last confirmed one,
    /// printed when a stream stops). --start still sets the clock.
    #[arg(long)]
    resume_from_seq: Option<i64>,

    /// RabbitMQ exchange, declared as a durable topic exchange.
    #[arg(long, default_value = "faux")]
    exchange: String,

    /// First part of routing keys and subjects, <prefix>.<table>.<op> [default: the scenario
    /// name].
    #[arg(long)]
    prefix: Option<String>,

    /// JetStream stream, created if missing with subjects <prefix>.> [default: the prefix in
    /// capitals, e.g. ECOMMERCE].
    #[arg(long)]
    stream: Option<String>,

    /// Messages sent to a broker and not yet confirmed, at most.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    max_in_flight: u64,
}

/// `stream --out`: standard output or a broker.
const OUT: Flag = Flag {
    name: "--out",
    verb: "stream sends to",
    kinds: &[Kind::Stdout, Kind::Amqp, Kind::Nats],
    hint: Some("to write a file, redirect standard output: aladdin stream > FILE"),
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    Now,
    At(Timestamp),
}

/// Like [`parse_instant`], but a date means its first second: the stream starts at the
/// beginning of that day.
fn parse_start(s: &str) -> Result<Start, String> {
    if s.trim().eq_ignore_ascii_case("now") {
        return Ok(Start::Now);
    }
    if let Ok(day) = s.trim().parse::<faux::Date>() {
        return Ok(Start::At(day.start()));
    }
    parse_instant(s).map(Start::At)
}

fn parse_speed(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!(
            "invalid speed {s:?}: expected virtual seconds per real second, a number >= 0 (1 = real time, 0 = as fast as possible)"
        )),
    }
}

/// Events plus every table whose rows change after they are written (it has an `updated_at`
/// cursor): what a streaming pipeline consumes. A scenario with neither streams all tables.
fn default_tables(scenario: &Scenario) -> Vec<&'static TableDef> {
    let picked: Vec<_> = scenario
        .tables()
        .iter()
        .copied()
        .filter(|t| t.name == "events" || t.cursor.is_some())
        .collect();
    if picked.is_empty() {
        scenario.tables().to_vec()
    } else {
        picked
    }
}

pub fn run(args: StreamArgs, quiet: bool) -> anyhow::Result<()> {
    // the feed is taken a day at a time: let a day use every core
    let scenario = args
        .scenario
        .load()?
        .with_threads(faux_sinks::pool::all_cores());
    let target =
        Target::try_from(OUT.parse(&args.out)?).map_err(|other| OUT.refuse(&args.out, &other))?;
    let tables = if args.tables.is_empty() {
        default_tables(&scenario)
    } else {
        select_tables(&scenario, &args.tables)?
    };
    let prefix = args.prefix.unwrap_or_else(|| scenario.name().to_string());
    check_prefix(&prefix).map_err(UsageError)?;
    let stream = args.stream.unwrap_or_else(|| default_stream_name(&prefix));
    check_stream_name(&stream).map_err(UsageError)?;
    if args.exchange.trim().is_empty() {
        usage!("--exchange must not be empty");
    }
    if let Some(seq) = args.resume_from_seq
        && seq < 0
    {
        usage!("invalid --resume-from-seq {seq}: a seq is >= 0");
    }

    let now = wall_clock_now();
    let (start, origin) = match args.start.unwrap_or(Start::Now) {
        Start::Now => (now, Origin::Now),
        Start::At(t) => (t, Origin::At(t)),
    };
    let mut until = args.until;
    if let Some(u) = until
        && u < start
        && args.resume_from_seq.is_none()
    {
        usage!("--until {u} is before --start {start}");
    }
    if args.speed == 0.0 && until.is_none() && args.count.is_none() {
        // an unpaced stream with no end would generate the future as fast as it can
        if start > now && args.resume_from_seq.is_none() {
            usage!(
                "--speed 0 replays history up to now, but --start {start} is not in the past: give --until or --count"
            );
        }
        until = Some(now);
    }

    let threads = faux_sinks::pool::all_cores();
    let names: Vec<&str> = tables.iter().map(|t| t.name).collect();
    let shown = target.shown().to_string();
    if !quiet {
        tracing::info!(
            "streaming {} of {} (seed {}) from {}{} at {} to {shown}",
            names.join(", "),
            scenario.name(),
            scenario.seed(),
            match args.resume_from_seq {
                Some(seq) => format!("after seq {seq}"),
                None => start.to_string(),
            },
            until.map(|u| format!(" until {u}")).unwrap_or_default(),
            if args.speed == 0.0 {
                "full speed".to_string()
            } else {
                format!("{}x", args.speed)
            },
        );
    }
    let run = StreamRun {
        scenario: &scenario,
        tables,
        bounds: Bounds {
            start,
            after_seq: args.resume_from_seq,
            until,
        },
        origin,
        speed: args.speed,
        count: args.count,
        target,
        broker: BrokerOptions {
            prefix,
            exchange: args.exchange,
            stream,
            max_in_flight: args.max_in_flight as usize,
            backoff: Backoff::default(),
        },
        threads,
    };
    let summary = match run.run() {
        Ok(s) => s,
        // every failure names its target and the seq to resume after; the flag is ours
        Err(e) => {
            return Err(match e.confirmed() {
                Some(seq) => anyhow::Error::new(e).context(format!(
                    "the stream stopped; rerun with --resume-from-seq {seq} to continue after the last confirmed message"
                )),
                None => e.into(),
            });
        }
    };
    if !quiet {
        report(&summary, &shown);
    }
    // the process ends now: freeing the engine's cached days (~100 MB of records, one
    // allocation at a time) would only delay the exit by a tenth of a short run
    std::mem::forget(scenario);
    Ok(())
}

fn report(s: &Summary, target: &str) {
    let secs = s.elapsed.as_secs_f64();
    let mut line = format!(
        "{} message{} to {target} in {secs:.2} s ({:.0} msg/s)",
        group_thousands(s.messages),
        if s.messages == 1 { "" } else { "s" },
        s.messages as f64 / secs.max(1e-9),
    );
    if let (Some(a), Some(b), Some(t0), Some(t1)) = (s.first_seq, s.last_seq, s.first_ts, s.last_ts)
    {
        line.push_str(&format!("; seq {a} to {b}, ts {t0} to {t1}"));
    }
    if s.reconnects > 0 {
        line.push_str(&format!(
            "; {} reconnection{}",
            s.reconnects,
            if s.reconnects == 1 { "" } else { "s" }
        ));
    }
    if s.interrupted {
        line.push_str("; interrupted");
    }
    if s.reader_gone {
        line.push_str("; the reader closed standard output");
    }
    eprintln!("{line}");
    if s.interrupted {
        match s.confirmed_seq {
            Some(seq) => eprintln!("continue with --resume-from-seq {seq}"),
            None => eprintln!("no message was confirmed"),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_date_means_its_first_second() {
        assert_eq!(
            parse_start("2024-01-10").unwrap(),
            Start::At(Timestamp::parse_flexible("2024-01-10T00:00:00Z").unwrap())
        );
        assert_eq!(parse_start("now").unwrap(), Start::Now);
        assert!(parse_start("yesterday").unwrap_err().contains("yesterday"));
    }

    #[test]
    fn speeds_are_non_negative_numbers() {
        assert_eq!(parse_speed("3600").unwrap(), 3600.0);
        assert_eq!(parse_speed("0").unwrap(), 0.0);
        for bad in ["-1", "fast", "inf", "NaN"] {
            assert!(parse_speed(bad).unwrap_err().contains(bad), "{bad}");
        }
    }

    #[test]
    fn default_tables_are_events_and_the_mutable_tables() {
        let shop = Scenario::by_name("ecommerce", 1).unwrap();
        let names: Vec<_> = default_tables(&shop).iter().map(|t| t.name).collect();
        assert_eq!(
            names,
            [
                "customers",
                "products",
                "sessions",
                "events",
                "orders",
                "payments",
                "shipments"
            ]
        );
        let rocks = Scenario::by_name("shiny-rocks", 1).unwrap();
        assert_eq!(default_tables(&rocks).len(), rocks.tables().len());
    }
}
