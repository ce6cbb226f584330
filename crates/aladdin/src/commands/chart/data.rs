//! The numbers a chart plots, from one of three sources: the Shiny Rocks generator itself (in
//! memory), files written by `aladdin generate`, or a PostgreSQL database (the loaded tables,
//! or the dbt mart `mart_marketing_vs_sales`).
//!
//! Every source computes the same thing the same way — orders ⋈ payments grouped by
//! utm_source, marketing spend by platform (`_` + platform, as the blog's staging model does),
//! money as integer cents — so a chart of the same days agrees whatever it was read from.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use faux::Date;
use faux::shiny_rocks::{PLATFORMS, ShinyRocks};

/// Orders per day, one entry for every day of the range, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct OrdersCurve {
    pub days: Vec<(Date, u64)>,
}

/// Marketing cost and attributed sales of one platform over the chart's days.
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformTotals {
    /// The platform's name, without the utm_source's leading underscore: `amazon`.
    pub platform: String,
    /// Cents; `None` when no spend was recorded (the ROI is then undefined).
    pub marketing_cost: Option<i64>,
    /// Cents: the sum of the payments of the orders that came from the platform.
    pub sales_amount: i64,
}

impl PlatformTotals {
    /// The blog's `(sales − cost) / cost`; `None` without a (non-zero) cost.
    pub fn roi(&self) -> Option<f64> {
        match self.marketing_cost {
            Some(cost) if cost != 0 => Some((self.sales_amount - cost) as f64 / cost as f64),
            _ => None,
        }
    }
}

/// Where the numbers come from.
#[derive(Debug)]
pub enum Source {
    /// Generated on the fly, exactly what `aladdin generate --seed N` would write.
    Memory { generator: ShinyRocks, seed: u64 },
    /// CSV files from `aladdin generate`, Hive layout (`DIR/<table>/date=D/part-*.csv`) or
    /// flat (`DIR/<table>.csv`).
    Files(PathBuf),
    /// A PostgreSQL database holding the loaded tables in `schema`, and, when `mart_schema` is
    /// given, the dbt mart `mart_marketing_vs_sales` there.
    Postgres {
        url: String,
        schema: String,
        mart_schema: Option<String>,
    },
}

impl Source {
    /// One line for the chart's footer and the log. Never includes a password.
    pub fn describe(&self) -> String {
        match self {
            Source::Memory { seed, .. } => {
                format!("Source: generated in memory (scenario shiny-rocks, seed {seed})")
            }
            Source::Files(dir) => format!("Source: files in {}", dir.display()),
            Source::Postgres {
                url,
                schema,
                mart_schema,
            } => {
                let db = url
                    .parse::<tokio_postgres::Config>()
                    .ok()
                    .and_then(|c| c.get_dbname().map(str::to_string))
                    .unwrap_or_else(|| "(default)".into());
                match mart_schema {
                    Some(m) => {
                        format!(
                            "Source: PostgreSQL database {db}, dbt mart {m}.mart_marketing_vs_sales"
                        )
                    }
                    None => format!("Source: PostgreSQL database {db}, tables in schema {schema}"),
                }
            }
        }
    }

    pub fn orders_curve(&self, from: Date, to: Date) -> anyhow::Result<OrdersCurve> {
        let counts: BTreeMap<Date, u64> = match self {
            Source::Memory { generator, .. } => days(from, to)
                .map(|d| (d, generator.order_count(d)))
                .collect(),
            Source::Files(dir) => {
                let t = read_table(dir, "orders", "order_date", &["order_date"], from, to)?;
                require_days("orders", &t.days, from, to, &self.describe())?;
                let mut counts = BTreeMap::new();
                for row in &t.rows {
                    *counts.entry(parse_date(&row[0])?).or_insert(0) += 1;
                }
                counts
            }
            Source::Postgres { url, schema, .. } => {
                let pg = Pg::connect(url)?;
                pg.require_table(schema, "orders")?;
                let sql = format!(
                    "SELECT to_char(order_date::date, 'YYYY-MM-DD'), count(*)::text \
                     FROM {}.orders \
                     WHERE order_date::date BETWEEN $1::text::date AND $2::text::date \
                     GROUP BY 1",
                    ident(schema)
                );
                let mut counts = BTreeMap::new();
                for row in pg.query(&sql, from, to)? {
                    let n: u64 = cell(&row, 1)?.parse().context("count(*)")?;
                    counts.insert(parse_date(cell(&row, 0)?)?, n);
                }
                let present = counts.keys().copied().collect();
                require_days("orders", &present, from, to, &self.describe())?;
                counts
            }
        };
        Ok(OrdersCurve {
            days: days(from, to)
                .map(|d| (d, counts.get(&d).copied().unwrap_or(0)))
                .collect(),
        })
    }

    /// Cost, sales and ROI per platform over the days, platforms in the scenario's order.
    pub fn marketing_roi(&self, from: Date, to: Date) -> anyhow::Result<Vec<PlatformTotals>> {
        let mut acc = Totals::default();
        match self {
            Source::Memory { generator, .. } => {
                for day in days(from, to) {
                    for i in 0..generator.order_count(day) {
                        let order = generator.order(day, i);
                        let payment = generator.payment(&order, i);
                        acc.sale(order.utm_source, payment.amount * 100);
                    }
                    for p in 0..PLATFORMS.len() {
                        let m = generator.marketing_investment(day, p);
                        acc.cost(m.platform, m.amount);
                    }
                }
            }
            Source::Files(dir) => {
                let who = self.describe();
                let orders = read_table(
                    dir,
                    "orders",
                    "order_date",
                    &["order_id", "utm_source"],
                    from,
                    to,
                )?;
                require_days("orders", &orders.days, from, to, &who)?;
                let payments = read_table(
                    dir,
                    "payments",
                    "order_date",
                    &["order_id", "amount"],
                    from,
                    to,
                )?;
                require_days("payments", &payments.days, from, to, &who)?;
                let marketing = read_table(
                    dir,
                    "marketing_investments",
                    "date",
                    &["platform", "amount"],
                    from,
                    to,
                )?;
                require_days("marketing_investments", &marketing.days, from, to, &who)?;
                // the mart's INNER JOIN of orders and payments on order_id
                let source_of: BTreeMap<&str, &str> = orders
                    .rows
                    .iter()
                    .map(|r| (r[0].as_str(), r[1].as_str()))
                    .collect();
                for r in &payments.rows {
                    if let Some(utm) = source_of.get(r[0].as_str()) {
                        acc.sale(utm, parse_cents(&r[1])?);
                    }
                }
                for r in &marketing.rows {
                    acc.cost(&r[0], parse_cents(&r[1])?);
                }
            }
            Source::Postgres {
                url,
                schema,
                mart_schema,
            } => {
                let pg = Pg::connect(url)?;
                let who = self.describe();
                let rows = if let Some(mart) = mart_schema {
                    pg.require_mart(mart)?;
                    let m = format!("{}.mart_marketing_vs_sales", ident(mart));
                    let sql = format!(
                        "SELECT DISTINCT to_char(date::date, 'YYYY-MM-DD') FROM {m} \
                         WHERE date::date BETWEEN $1::text::date AND $2::text::date"
                    );
                    let present = pg.dates(&sql, from, to)?;
                    require_days("mart_marketing_vs_sales", &present, from, to, &who)?;
                    // sums over the days; the ROI of the sums is computed below, like for
                    // every other source (for a single day it is the mart's own ROI)
                    pg.query(
                        &format!(
                            "SELECT platform, sum(sales_amount)::text, sum(marketing_cost)::text \
                             FROM {m} \
                             WHERE date::date BETWEEN $1::text::date AND $2::text::date \
                             GROUP BY platform"
                        ),
                        from,
                        to,
                    )?
                } else {
                    let s = ident(schema);
                    for (table, date) in [
                        ("orders", "order_date"),
                        ("payments", "order_date"),
                        ("marketing_investments", "date"),
                    ] {
                        pg.require_table(schema, table)?;
                        let sql = format!(
                            "SELECT DISTINCT to_char({date}::date, 'YYYY-MM-DD') FROM {s}.{table} \
                             WHERE {date}::date BETWEEN $1::text::date AND $2::text::date"
                        );
                        let present = pg.dates(&sql, from, to)?;
                        require_days(table, &present, from, to, &who)?;
                    }
                    // the blog's mart, summed over the days
                    pg.query(
                        &format!(
                            "WITH sales AS ( \
                               SELECT o.utm_source AS platform, sum(p.amount::numeric) AS amount \
                               FROM {s}.orders o JOIN {s}.payments p ON p.order_id = o.order_id \
                               WHERE o.order_date::date BETWEEN $1::text::date AND $2::text::date \
                               GROUP BY 1), \
                             cost AS ( \
                               SELECT '_' || m.platform AS platform, sum(m.amount::numeric) AS amount \
                               FROM {s}.marketing_investments m \
                               WHERE m.date::date BETWEEN $1::text::date AND $2::text::date \
                               GROUP BY 1) \
                             SELECT coalesce(sales.platform, cost.platform), \
                                    sales.amount::text, cost.amount::text \
                             FROM sales FULL JOIN cost ON cost.platform = sales.platform"
                        ),
                        from,
                        to,
                    )?
                };
                for row in rows {
                    let platform = cell(&row, 0)?;
                    if let Some(sales) = &row[1] {
                        acc.sale(platform, parse_cents(sales)?);
                    }
                    if let Some(cost) = &row[2] {
                        acc.cost(platform, parse_cents(cost)?);
                    }
                }
            }
        }
        Ok(acc.into_platforms())
    }
}

/// Sales and costs per platform name (without underscore).
#[derive(Default)]
struct Totals(BTreeMap<String, (Option<i64>, i64)>);

impl Totals {
    fn entry(&mut self, platform: &str) -> &mut (Option<i64>, i64) {
        let name = platform.strip_prefix('_').unwrap_or(platform);
        self.0.entry(name.to_string()).or_default()
    }
    fn sale(&mut self, utm_source: &str, cents: i64) {
        self.entry(utm_source).1 += cents;
    }
    fn cost(&mut self, platform: &str, cents: i64) {
        let e = self.entry(platform);
        e.0 = Some(e.0.unwrap_or(0) + cents);
    }
    /// The scenario's platforms first, in its order, then any others by name.
    fn into_platforms(self) -> Vec<PlatformTotals> {
        let rank = |name: &str| {
            PLATFORMS
                .iter()
                .position(|(p, ..)| *p == name)
                .unwrap_or(PLATFORMS.len())
        };
        let mut out: Vec<PlatformTotals> = self
            .0
            .into_iter()
            .map(
                |(platform, (marketing_cost, sales_amount))| PlatformTotals {
                    platform,
                    marketing_cost,
                    sales_amount,
                },
            )
            .collect();
        out.sort_by(|a, b| (rank(&a.platform), &a.platform).cmp(&(rank(&b.platform), &b.platform)));
        out
    }
}

pub fn days(from: Date, to: Date) -> impl Iterator<Item = Date> {
    (0..=from.days_until(to)).map(move |i| from.add_days(i))
}

fn parse_date(s: &str) -> anyhow::Result<Date> {
    s.trim().parse::<Date>().map_err(anyhow::Error::from)
}

/// Every day of the range must have data: a chart of days that were never generated or
/// loaded would show a fake drop to zero.
fn require_days(
    table: &str,
    present: &BTreeSet<Date>,
    from: Date,
    to: Date,
    source: &str,
) -> anyhow::Result<()> {
    let missing: Vec<Date> = days(from, to).filter(|d| !present.contains(d)).collect();
    if let Some(first) = missing.first() {
        let source = source.strip_prefix("Source: ").unwrap_or(source);
        bail!(
            "{table} has no rows for {first}{} in {source}: generate or load those days, or chart days that are there",
            if missing.len() > 1 {
                format!(
                    " (and {} more of the {} days asked for)",
                    missing.len() - 1,
                    from.days_until(to) + 1
                )
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

/// Exact money: `297`, `1234.5`, `-12.34` → cents. More than two decimals is an error unless
/// they are zeros (PostgreSQL's `numeric` may print `297.0000`).
pub fn parse_cents(s: &str) -> anyhow::Result<i64> {
    let s = s.trim();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let ok = !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().skip(2).all(|b| b == b'0');
    if !ok {
        bail!("not an amount of money: {s:?}");
    }
    let mut cents: i64 = whole
        .parse::<i64>()
        .with_context(|| format!("amount {s:?}"))?
        .checked_mul(100)
        .with_context(|| format!("amount {s:?} is too large"))?;
    let frac2: String = frac.chars().chain("00".chars()).take(2).collect();
    cents += frac2.parse::<i64>().expect("two digits");
    Ok(if neg { -cents } else { cents })
}

/// The requested columns of a table's rows whose date column falls in the range, and the
/// days that had a partition (Hive or daily layout) or at least one row (flat layout).
struct TableRows {
    rows: Vec<Vec<String>>,
    days: BTreeSet<Date>,
}

fn read_table(
    dir: &Path,
    table: &str,
    date_column: &str,
    columns: &[&str],
    from: Date,
    to: Date,
) -> anyhow::Result<TableRows> {
    let hive = dir.join(table);
    let flat = dir.join(format!("{table}.csv"));
    let mut out = TableRows {
        rows: Vec::new(),
        days: BTreeSet::new(),
    };
    if hive.is_dir() {
        for day in days(from, to) {
            let partition = hive.join(format!("date={day}"));
            if !partition.is_dir() {
                continue;
            }
            let parts = csv_parts(&partition, "part-")?;
            if parts.is_empty() {
                bail!(
                    "{} holds no part-*.csv file: `aladdin chart` reads CSV (generate with --format csv)",
                    partition.display()
                );
            }
            for part in parts {
                read_csv(&part, date_column, columns, from, to, &mut out)?;
            }
            out.days.insert(day);
        }
    } else if flat.is_file() {
        read_csv(&flat, date_column, columns, from, to, &mut out)?;
    } else if days(from, to).any(|d| dir.join(d.to_string()).is_dir()) {
        // the daily layout: DIR/YYYY-MM-DD/<table>.csv (or <table>.part-N.csv per shard)
        for day in days(from, to) {
            let folder = dir.join(day.to_string());
            let whole = folder.join(format!("{table}.csv"));
            let parts = if whole.is_file() {
                vec![whole]
            } else if folder.is_dir() {
                csv_parts(&folder, &format!("{table}.part-"))?
            } else {
                Vec::new()
            };
            if parts.is_empty() {
                continue;
            }
            for part in parts {
                read_csv(&part, date_column, columns, from, to, &mut out)?;
            }
            out.days.insert(day);
        }
    } else {
        bail!(
            "no {table} data in {}: expected {}/date=YYYY-MM-DD/part-*.csv, {} or YYYY-MM-DD/{table}.csv (written by `aladdin generate --scenario shiny-rocks --format csv`)",
            dir.display(),
            hive.display(),
            flat.display()
        );
    }
    Ok(out)
}

/// The `<prefix>*.csv` files of `folder`, in name order (the shards of a day).
fn csv_parts(folder: &Path, prefix: &str) -> anyhow::Result<Vec<PathBuf>> {
    let mut parts: Vec<PathBuf> = std::fs::read_dir(folder)
        .with_context(|| format!("cannot list {}", folder.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with(prefix) && name.ends_with(".csv")
        })
        .collect();
    parts.sort();
    Ok(parts)
}

/// Appends the rows of one CSV file (RFC 4180, header first) in the date range.
fn read_csv(
    path: &Path,
    date_column: &str,
    columns: &[&str],
    from: Date,
    to: Date,
    out: &mut TableRows,
) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut lines = text.lines();
    let header = split_csv_line(lines.next().unwrap_or(""));
    let index = |name: &str| {
        header.iter().position(|h| h == name).with_context(|| {
            format!(
                "{} has no column {name:?} (header: {})",
                path.display(),
                header.join(",")
            )
        })
    };
    let date_at = index(date_column)?;
    let wanted = columns
        .iter()
        .map(|c| index(c))
        .collect::<anyhow::Result<Vec<usize>>>()?;
    for (n, line) in lines.enumerate() {
        if line.is_empty() {
            continue;
        }
        let fields = split_csv_line(line);
        let field = |i: usize| {
            fields
                .get(i)
                .with_context(|| format!("{} line {}: too few fields", path.display(), n + 2))
        };
        let day = parse_date(field(date_at)?)
            .with_context(|| format!("{} line {}", path.display(), n + 2))?;
        if day < from || day > to {
            continue;
        }
        out.days.insert(day);
        let mut row = Vec::with_capacity(wanted.len());
        for &i in &wanted {
            row.push(field(i)?.clone());
        }
        out.rows.push(row);
    }
    Ok(())
}

/// One CSV record on one line: fields split on commas, double quotes honoured (`""` is a
/// quote). Our files never put a line break inside a field.
fn split_csv_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// A quoted SQL identifier: `analytics` → `"analytics"`.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn cell(row: &[Option<String>], i: usize) -> anyhow::Result<&str> {
    row.get(i)
        .and_then(|c| c.as_deref())
        .with_context(|| format!("unexpected NULL in column {}", i + 1))
}

/// A blocking PostgreSQL client: one connection on a single-threaded runtime.
struct Pg {
    rt: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

impl Pg {
    fn connect(url: &str) -> anyhow::Result<Pg> {
        let config: tokio_postgres::Config = url.parse().with_context(
            || "invalid --database-url (expected postgres://user@host:port/database)",
        )?;
        let where_ = format!(
            "database {} on {}",
            config.get_dbname().unwrap_or("(default)"),
            config
                .get_hosts()
                .iter()
                .map(|h| match h {
                    tokio_postgres::config::Host::Tcp(h) => h.clone(),
                    #[cfg(unix)]
                    tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
                })
                .collect::<Vec<_>>()
                .join(",")
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the PostgreSQL client runtime")?;
        let (client, connection) = rt
            .block_on(config.connect(tokio_postgres::NoTls))
            .with_context(|| format!("cannot connect to PostgreSQL {where_}"))?;
        // the connection makes progress whenever the runtime runs a query (block_on)
        rt.spawn(async move {
            if let Err(e) = connection.await {
                tracing::error!("PostgreSQL connection: {e}");
            }
        });
        Ok(Pg { rt, client })
    }

    /// Runs `sql` with the range's dates as `$1` and `$2` (text); every column must be text.
    fn query(&self, sql: &str, from: Date, to: Date) -> anyhow::Result<Vec<Vec<Option<String>>>> {
        let (a, b) = (from.to_string(), to.to_string());
        let rows = self
            .rt
            .block_on(self.client.query(sql, &[&a, &b]))
            .with_context(|| format!("query failed: {sql}"))?;
        Ok(rows
            .iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| r.get::<_, Option<String>>(i))
                    .collect()
            })
            .collect())
    }

    fn dates(&self, sql: &str, from: Date, to: Date) -> anyhow::Result<BTreeSet<Date>> {
        self.query(sql, from, to)?
            .iter()
            .map(|r| parse_date(cell(r, 0)?))
            .collect()
    }

    fn exists(&self, schema: &str, table: &str) -> anyhow::Result<bool> {
        let name = format!("{}.{}", ident(schema), ident(table));
        let row = self
            .rt
            .block_on(
                self.client
                    .query_one("SELECT to_regclass($1::text) IS NOT NULL", &[&name]),
            )
            .context("cannot look up tables")?;
        Ok(row.get(0))
    }

    fn require_table(&self, schema: &str, table: &str) -> anyhow::Result<()> {
        if !self.exists(schema, table)? {
            bail!(
                "no table {schema}.{table} in the database: load it with `aladdin generate --scenario shiny-rocks --out postgres://…` (or give --schema)"
            );
        }
        Ok(())
    }

    fn require_mart(&self, schema: &str) -> anyhow::Result<()> {
        if !self.exists(schema, "mart_marketing_vs_sales")? {
            bail!(
                "no {schema}.mart_marketing_vs_sales in the database: run `dbt build` in examples/shiny_rocks_dbt first, or leave out --mart-schema to read the loaded tables"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_are_exact() {
        assert_eq!(parse_cents("297").unwrap(), 29_700);
        assert_eq!(parse_cents("1234.5").unwrap(), 123_450);
        assert_eq!(parse_cents("1234.56").unwrap(), 123_456);
        assert_eq!(parse_cents("-0.07").unwrap(), -7);
        assert_eq!(parse_cents("12.3400").unwrap(), 1_234);
        assert!(parse_cents("12.345").is_err());
        assert!(parse_cents("abc").is_err());
        assert!(parse_cents("").is_err());
    }

    #[test]
    fn csv_lines_honour_quotes() {
        assert_eq!(split_csv_line("a,\"b,c\",\"d\"\"e\""), ["a", "b,c", "d\"e"]);
        assert_eq!(split_csv_line("a,,b"), ["a", "", "b"]);
    }

    #[test]
    fn platforms_keep_the_scenario_order() {
        let mut t = Totals::default();
        t.sale("_youtube", 1);
        t.sale("_zeta", 1);
        t.cost("amazon", 5);
        t.sale("_instagram", 1);
        let names: Vec<_> = t.into_platforms().into_iter().map(|p| p.platform).collect();
        assert_eq!(names, ["instagram", "amazon", "youtube", "zeta"]);
    }
}
