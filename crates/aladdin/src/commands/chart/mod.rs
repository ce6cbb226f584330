//! `aladdin chart`: the Shiny Rocks pictures as PNG or SVG — the daily orders curve (the
//! blog's `pattern_function`) and the marketing team's daily report (cost, sales and ROI per
//! platform) — from generated files, a PostgreSQL database (loaded tables or the dbt mart),
//! or generated in memory.

mod data;
mod draw;

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, ValueEnum};
use faux::{DEFAULT_SEED, Date};
use serde_json::json;

use crate::commands::common::{Days, load_scenario};
use crate::usage::usage;
use data::Source;
use faux_sinks::destination::Flag;
use faux_sinks::destination::{Destination, Kind as DestinationKind};
use faux_sinks::postgres::PgSource;

/// Draw a Shiny Rocks chart (PNG or SVG).
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    aladdin chart --kind orders-curve --from 2024-01-01 --to 2024-12-31 --output orders.png\n  \
    aladdin chart --kind marketing-roi --date 2024-03-15 --from-dir data/ --output roi.svg\n  \
    aladdin chart --kind marketing-roi --month 2024-03 --database-url postgres://postgres@127.0.0.1:5432/shiny_rocks --mart-schema analytics\n\n\
    Without --from-dir or --database-url the data is generated in memory (--scenario shiny-rocks --seed N).")]
pub struct ChartArgs {
    /// orders-curve: orders per day over the days; marketing-roi: marketing cost, sales and
    /// ROI per platform, summed over the days.
    #[arg(long, value_enum)]
    kind: Kind,

    #[command(flatten)]
    days: Days,

    /// A calendar month, YYYY-MM (instead of --date, --from/--to or --days).
    #[arg(long, value_parser = parse_month, conflicts_with_all = ["date", "from", "to", "days"])]
    month: Option<Month>,

    /// Image format (default: from --output's extension, else png).
    #[arg(long, value_enum)]
    format: Option<ImageFormat>,

    /// Output file (default: <kind>-<days>.<format> in the current folder).
    #[arg(long, short)]
    output: Option<PathBuf>,

    /// Width in pixels.
    #[arg(long, default_value_t = 1200, value_parser = clap::value_parser!(u32).range(400..=8000))]
    width: u32,

    /// Height in pixels.
    #[arg(long, default_value_t = 700, value_parser = clap::value_parser!(u32).range(300..=8000))]
    height: u32,

    /// Read the CSV files `aladdin generate` wrote into this folder (Hive or flat layout).
    #[arg(long, conflicts_with = "database_url")]
    from_dir: Option<PathBuf>,

    /// Read a PostgreSQL database, e.g. postgres://postgres@127.0.0.1:5432/shiny_rocks.
    #[arg(long)]
    database_url: Option<String>,

    /// With --database-url: the schema of the loaded tables (orders, payments,
    /// marketing_investments).
    #[arg(long, default_value = "public", requires = "database_url")]
    schema: String,

    /// With --database-url: read marketing-roi from the dbt mart mart_marketing_vs_sales in
    /// this schema instead of the loaded tables.
    #[arg(long, requires = "database_url")]
    mart_schema: Option<String>,

    /// Without --from-dir or --database-url: the scenario to generate in memory (shiny-rocks).
    #[arg(long, default_value = "shiny-rocks", conflicts_with_all = ["from_dir", "database_url"])]
    scenario: String,

    /// Without --from-dir or --database-url: the seed to generate with.
    #[arg(long, default_value_t = DEFAULT_SEED, conflicts_with_all = ["from_dir", "database_url"])]
    seed: u64,

    /// Also print the plotted numbers as JSON on stdout.
    #[arg(long)]
    print_data: bool,
}

/// `chart --from-dir`: generated files.
const FROM_DIR: Flag = Flag {
    name: "--from-dir",
    verb: "chart --from-dir reads",
    kinds: &[DestinationKind::Folder],
    hint: Some("a PostgreSQL database goes to --database-url"),
};

/// `chart --database-url`: loaded tables or the dbt mart.
const DATABASE_URL: Flag = Flag {
    name: "--database-url",
    verb: "chart --database-url reads",
    kinds: &[DestinationKind::Postgres],
    hint: Some("a folder of generated files goes to --from-dir"),
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Kind {
    OrdersCurve,
    MarketingRoi,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ImageFormat {
    Png,
    Svg,
}

impl ImageFormat {
    fn extension(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::Svg => "svg",
        }
    }
}

/// A calendar month: its first and last day.
#[derive(Debug, Clone, Copy)]
struct Month {
    first: Date,
    last: Date,
}

fn parse_month(s: &str) -> Result<Month, String> {
    let bad = || format!("invalid month {s:?} (expected YYYY-MM, e.g. 2024-07)");
    let (y, m) = s.split_once('-').ok_or_else(bad)?;
    if y.len() != 4 || m.len() != 2 {
        return Err(bad());
    }
    let y: i32 = y.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    let first = Date::from_ymd(y, m, 1).ok_or_else(bad)?;
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let last = Date::from_ymd(ny, nm, 1)
        .map(|d| d.add_days(-1))
        .unwrap_or_else(|| Date::from_ymd(y, 12, 31).expect("valid"));
    Ok(Month { first, last })
}

/// How the chart names its days: `2024-07-10`, `July 2024`, `2024-07-01 to 2024-07-10`.
fn describe_days(from: Date, to: Date, month: bool) -> String {
    const NAMES: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    if month {
        let (y, m, _) = from.ymd();
        format!("{} {y}", NAMES[m as usize - 1])
    } else if from == to {
        from.to_string()
    } else {
        format!("{from} to {to}")
    }
}

pub fn run(args: ChartArgs) -> anyhow::Result<()> {
    // everything is checked before anything is read or written
    let (from, to) = match args.month {
        Some(m) => (m.first, m.last),
        None => {
            let d = &args.days;
            if d.date.is_none() && d.from.is_none() && d.days.is_none() {
                usage!(
                    "no days selected: give --date D, --month YYYY-MM, --from A --to B, or --days N"
                );
            }
            let r = d.range(None)?;
            (r.first(), r.last())
        }
    };
    if args.kind == Kind::OrdersCurve && from == to {
        usage!(
            "--kind orders-curve draws a curve over several days, but {from} is one day: give --from A --to B, --month YYYY-MM or --days N"
        );
    }
    let by_extension = match &args.output {
        Some(p) => match p.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("png") => Some(ImageFormat::Png),
            Some(e) if e.eq_ignore_ascii_case("svg") => Some(ImageFormat::Svg),
            _ => None,
        },
        None => None,
    };
    let format = match (args.format, by_extension) {
        (Some(f), Some(e)) if f != e => usage!(
            "--format {} does not match --output {} (a .{} file)",
            f.extension(),
            args.output.as_deref().unwrap_or(Path::new("")).display(),
            e.extension()
        ),
        (Some(f), _) => f,
        (None, Some(e)) => e,
        (None, None) => ImageFormat::Png,
    };
    let kind_name = match args.kind {
        Kind::OrdersCurve => "orders-curve",
        Kind::MarketingRoi => "marketing-roi",
    };
    let output = args.output.clone().unwrap_or_else(|| {
        let days = match args.month {
            Some(_) => {
                let (y, m, _) = from.ymd();
                format!("{y:04}-{m:02}")
            }
            None if from == to => from.to_string(),
            None => format!("{from}_{to}"),
        };
        PathBuf::from(format!("{kind_name}-{days}.{}", format.extension()))
    });

    let mut source = if let Some(dir) = &args.from_dir {
        let dir = match FROM_DIR.parse_os(dir.as_os_str())? {
            Destination::Folder(dir) => dir,
            other => return Err(FROM_DIR.refuse(&dir.to_string_lossy(), &other).into()),
        };
        if !dir.is_dir() {
            usage!("--from-dir {} is not a folder", dir.display());
        }
        Source::Loaded {
            tables: Box::new(faux_sinks::verify::files::FileSource::new(&dir)?),
            mart: None,
        }
    } else if let Some(url) = &args.database_url {
        let database = match DATABASE_URL.parse(url)? {
            Destination::Postgres(target) => target,
            other => return Err(DATABASE_URL.refuse(url, &other).into()),
        };
        let target = |flag: &str, schema: &str| match database.clone().with_schema(Some(schema)) {
            Ok(t) => Ok(t),
            Err(e) => usage!("{flag}: {e}"),
        };
        let tables = Box::new(PgSource::open(target("--schema", &args.schema)?)?);
        let mart: Option<Box<dyn faux_sinks::verify::Source>> = match &args.mart_schema {
            Some(m) => Some(Box::new(
                PgSource::open(target("--mart-schema", m)?).with_context(|| {
                    format!(
                        "no dbt mart in schema {m:?} (--mart-schema): run `dbt build` in examples/shiny_rocks_dbt first, or leave out --mart-schema to read the loaded tables"
                    )
                })?,
            )),
            None => None,
        };
        Source::Loaded { tables, mart }
    } else {
        let scenario = load_scenario(&args.scenario, args.seed)?;
        match scenario.as_shiny_rocks() {
            Some(generator) => Source::Memory {
                generator: generator.clone(),
                seed: args.seed,
            },
            None => usage!(
                "aladdin chart draws the shiny-rocks scenario, not {}",
                scenario.name()
            ),
        }
    };
    let days_text = describe_days(from, to, args.month.is_some());

    let curve;
    let platforms;
    let (title, picture, data) = match args.kind {
        Kind::OrdersCurve => {
            curve = source.orders_curve(from, to)?;
            let data = json!({
                "kind": kind_name,
                "from": from.to_string(),
                "to": to.to_string(),
                "total_orders": curve.days.iter().map(|(_, o)| o).sum::<u64>(),
                "days": curve.days.iter().map(|(d, o)| json!({
                    "date": d.to_string(),
                    "orders": o,
                })).collect::<Vec<_>>(),
            });
            (
                format!("Shiny Rocks — daily orders, {days_text}"),
                draw::Picture::OrdersCurve(&curve),
                data,
            )
        }
        Kind::MarketingRoi => {
            platforms = source.marketing_roi(from, to)?;
            if platforms.is_empty() {
                anyhow::bail!(
                    "no marketing or sales rows for {days_text} in {}",
                    source.describe()
                );
            }
            let data = json!({
                "kind": kind_name,
                "from": from.to_string(),
                "to": to.to_string(),
                "platforms": platforms.iter().map(|p| json!({
                    "platform": p.platform,
                    "marketing_cost": p.marketing_cost.map(cents_text),
                    "sales_amount": cents_text(p.sales_amount),
                    "marketing_roi": p.roi(),
                })).collect::<Vec<_>>(),
            });
            (
                format!("Shiny Rocks — marketing ROI by platform, {days_text}"),
                draw::Picture::MarketingRoi(&platforms),
                data,
            )
        }
    };
    let spec = draw::Spec {
        title,
        footer: source.describe(),
        picture,
        width: args.width,
        height: args.height,
    };
    let bytes = match format {
        ImageFormat::Png => draw::png(&spec)?,
        ImageFormat::Svg => draw::svg(&spec)?,
    };
    write_atomically(&output, &bytes)?;
    tracing::info!(
        "wrote {} ({}×{} {}): {}; {}",
        output.display(),
        args.width,
        args.height,
        format.extension().to_uppercase(),
        spec.title,
        source.describe()
    );
    if args.print_data {
        let mut stdout = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut stdout, &data)?;
        writeln!(stdout)?;
    }
    Ok(())
}

/// Cents as an exact decimal string: `12345` → `"123.45"`.
fn cents_text(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let a = cents.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

/// Writes a hidden temporary file next to `path` and renames it: no torn chart on failure.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("--output {} names no file", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write {}", path.display())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_have_their_days() {
        let m = parse_month("2024-02").unwrap();
        assert_eq!(
            (m.first.to_string(), m.last.to_string()),
            ("2024-02-01".into(), "2024-02-29".into())
        );
        let m = parse_month("2023-12").unwrap();
        assert_eq!(m.last.to_string(), "2023-12-31");
        assert!(parse_month("2024-13").is_err());
        assert!(parse_month("2024-7").is_err());
        assert!(parse_month("July").is_err());
    }

    #[test]
    fn cents_print_exactly() {
        assert_eq!(cents_text(12_345), "123.45");
        assert_eq!(cents_text(5), "0.05");
        assert_eq!(cents_text(-120), "-1.20");
    }
}
