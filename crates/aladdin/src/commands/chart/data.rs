//! The numbers a chart plots, from one of three sources: the Shiny Rocks generator itself (in
//! memory), or loaded rows read back through the readers `aladdin verify` uses — a folder of
//! files (CSV, JSON Lines or Parquet, any layout `aladdin generate` writes) or a PostgreSQL
//! schema (the loaded tables, or the dbt mart `mart_marketing_vs_sales`).
//!
//! Every source computes the same thing the same way — orders ⋈ payments grouped by
//! utm_source, marketing spend by platform (`_` + platform, as the blog's staging model does),
//! money as integer cents — so a chart of the same days agrees whatever it was read from.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::bail;
use faux::shiny_rocks::{MARKETING_INVESTMENTS, ORDERS, PAYMENTS, PLATFORMS, ShinyRocks};
use faux::{Column, Date, LogicalType as T, TableDef};
use faux_sinks::verify::{self, Val};

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
    /// The scenario's tables as loaded somewhere (a folder of files or a PostgreSQL schema),
    /// and, when given, the schema holding the dbt mart `mart_marketing_vs_sales`, which the
    /// ROI chart then reads instead.
    Loaded {
        tables: Box<dyn verify::Source>,
        mart: Option<Box<dyn verify::Source>>,
    },
}

/// The dbt mart's columns that a chart reads (examples/shiny_rocks_dbt).
static MART: TableDef = TableDef {
    name: "mart_marketing_vs_sales",
    description: "The blog's daily marketing report (a dbt model).",
    columns: &[
        Column::new("date", T::Date, "Day."),
        Column::new("platform", T::Text, "Marketing platform (_ + name)."),
        Column::new(
            "marketing_cost",
            T::Decimal {
                precision: 18,
                scale: 2,
            },
            "Spend.",
        ),
        Column::new(
            "sales_amount",
            T::Decimal {
                precision: 18,
                scale: 2,
            },
            "Sales of the orders from the platform.",
        ),
    ],
    primary_key: &["date", "platform"],
    cursor: None,
    partition: "date",
    created: None,
    parent: None,
    keep: faux::Keep::Window,
};

/// The rows of `table` whose partition day falls in the range (every column, canonical, in
/// column order), and the days that have rows.
fn read_rows(
    source: &mut dyn verify::Source,
    table: &'static TableDef,
    from: Date,
    to: Date,
) -> anyhow::Result<(Vec<Vec<Val>>, BTreeSet<Date>)> {
    let at = column(table, table.partition);
    let mut rows = Vec::new();
    let mut present = BTreeSet::new();
    let mut bad = None;
    let read = source.read(table, Some((from, to)), &mut |row| match row {
        Ok(values) => {
            let Val::Int(days) = values[at] else {
                bad.get_or_insert_with(|| format!("a row without {}", table.partition));
                return;
            };
            let day = Date::from_days_since_epoch(days as i32);
            if (from..=to).contains(&day) {
                present.insert(day);
                rows.push(values);
            }
        }
        Err(e) => {
            bad.get_or_insert(e);
        }
    });
    match read {
        Err(verify::VerifyError::TableMissing { place, .. }) if std::ptr::eq(table, &MART) => {
            bail!(
                "no mart_marketing_vs_sales in {place}: run `dbt build` in examples/shiny_rocks_dbt first, or leave out --mart-schema to read the loaded tables"
            )
        }
        Err(verify::VerifyError::TableMissing { table, place }) => bail!(
            "no table {table} in {place}: generate or load it with `aladdin generate --scenario shiny-rocks --out …`"
        ),
        other => other?,
    }
    if let Some(e) = bad {
        bail!("{}: cannot read {}: {e}", source.describe(), table.name);
    }
    Ok((rows, present))
}

/// The position of a column the chart relies on.
fn column(table: &TableDef, name: &str) -> usize {
    table
        .columns
        .iter()
        .position(|c| c.name == name)
        .unwrap_or_else(|| panic!("{} has a column {name}", table.name))
}

fn text(v: &Val) -> &str {
    match v {
        Val::Text(s) => s,
        _ => "",
    }
}

fn int(v: &Val) -> i64 {
    match v {
        Val::Int(n) => *n,
        _ => 0,
    }
}

impl Source {
    /// One line for the chart's footer and the log. Never includes a password.
    pub fn describe(&self) -> String {
        match self {
            Source::Memory { seed, .. } => {
                format!("Source: generated in memory (scenario shiny-rocks, seed {seed})")
            }
            Source::Loaded { mart: Some(m), .. } => {
                format!(
                    "Source: dbt mart mart_marketing_vs_sales in {}",
                    m.describe()
                )
            }
            Source::Loaded { tables, .. } => format!("Source: {}", tables.describe()),
        }
    }

    pub fn orders_curve(&mut self, from: Date, to: Date) -> anyhow::Result<OrdersCurve> {
        let counts: BTreeMap<Date, u64> = match self {
            Source::Memory { generator, .. } => days(from, to)
                .map(|d| (d, generator.order_count(d)))
                .collect(),
            Source::Loaded { tables, .. } => {
                let who = format!("Source: {}", tables.describe());
                let (rows, present) = read_rows(tables.as_mut(), &ORDERS, from, to)?;
                require_days("orders", &present, from, to, &who)?;
                let at = column(&ORDERS, "order_date");
                let mut counts = BTreeMap::new();
                for row in &rows {
                    *counts
                        .entry(Date::from_days_since_epoch(int(&row[at]) as i32))
                        .or_insert(0) += 1;
                }
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
    pub fn marketing_roi(&mut self, from: Date, to: Date) -> anyhow::Result<Vec<PlatformTotals>> {
        let who = self.describe();
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
            Source::Loaded {
                mart: Some(mart), ..
            } => {
                let (rows, present) = read_rows(mart.as_mut(), &MART, from, to)?;
                require_days("mart_marketing_vs_sales", &present, from, to, &who)?;
                // sums over the days; the ROI of the sums is computed below, like for every
                // other source (for a single day it is the mart's own ROI)
                for r in &rows {
                    if let Val::Int(sales) = r[3] {
                        acc.sale(text(&r[1]), sales);
                    }
                    if let Val::Int(cost) = r[2] {
                        acc.cost(text(&r[1]), cost);
                    }
                }
            }
            Source::Loaded { tables, .. } => {
                let reader = tables.as_mut();
                let (orders, present) = read_rows(reader, &ORDERS, from, to)?;
                require_days("orders", &present, from, to, &who)?;
                let (payments, present) = read_rows(reader, &PAYMENTS, from, to)?;
                require_days("payments", &present, from, to, &who)?;
                let (marketing, present) = read_rows(reader, &MARKETING_INVESTMENTS, from, to)?;
                require_days("marketing_investments", &present, from, to, &who)?;
                // the mart's INNER JOIN of orders and payments on order_id
                let (id, utm) = (column(&ORDERS, "order_id"), column(&ORDERS, "utm_source"));
                let source_of: std::collections::HashMap<&Val, &str> =
                    orders.iter().map(|r| (&r[id], text(&r[utm]))).collect();
                let (paid, amount) = (column(&PAYMENTS, "order_id"), column(&PAYMENTS, "amount"));
                for r in &payments {
                    if let Some(utm) = source_of.get(&r[paid]) {
                        // the original's amount is whole dollars
                        acc.sale(utm, int(&r[amount]) * 100);
                    }
                }
                let (platform, spend) = (
                    column(&MARKETING_INVESTMENTS, "platform"),
                    column(&MARKETING_INVESTMENTS, "amount"),
                );
                for r in &marketing {
                    acc.cost(text(&r[platform]), int(&r[spend]));
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

#[cfg(test)]
mod tests {
    use super::*;

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
