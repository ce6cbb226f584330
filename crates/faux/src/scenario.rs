//! The registry of scenarios and the one entry point sinks and shells call.

use crate::ecommerce::Ecommerce;
use crate::ecommerce::config::{Config, ConfigError};
use crate::shiny_rocks::{self, ShinyRocks};
use crate::table::{RowSink, Shard, TableDef};
use crate::time::Date;
pub use crate::view::View;

/// A user-visible setting of a scenario, with its value and what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tunable {
    pub name: &'static str,
    pub value: String,
    pub description: &'static str,
}

impl Tunable {
    pub fn new(name: &'static str, value: impl Into<String>, description: &'static str) -> Tunable {
        Tunable {
            name,
            value: value.into(),
            description,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    #[error(
        "unknown scenario {name:?}: valid scenarios are {valid}, or a path to a .toml scenario file"
    )]
    Unknown { name: String, valid: String },
    #[error("scenario {scenario} has no table {table:?}: its tables are {valid}")]
    UnknownTable {
        scenario: &'static str,
        table: String,
        valid: String,
    },
    #[error("scenario file {0}")]
    Config(#[from] ConfigError),
}

/// A scenario bound to a seed: a pure function from (table, day, shard, view) to rows.
#[derive(Debug)]
pub enum Scenario {
    ShinyRocks(ShinyRocks),
    Ecommerce(Box<Ecommerce>),
}

/// Names and one-line descriptions of the scenarios, for `scenario list` and error messages.
pub const SCENARIOS: &[(&str, &str)] = &[
    (
        Ecommerce::NAME,
        "An online shop: customers, products, sessions, events, orders that change over days, payments, shipments, refunds, marketing spend",
    ),
    (
        ShinyRocks::NAME,
        "Kestra's Shiny Rocks smartphone company: orders, payments, services, marketing investments",
    ),
];

impl Scenario {
    pub fn by_name(name: &str, seed: u64) -> Result<Scenario, ScenarioError> {
        match name {
            ShinyRocks::NAME => Ok(Scenario::ShinyRocks(ShinyRocks::new(seed))),
            Ecommerce::NAME => Ok(Scenario::Ecommerce(Box::new(Ecommerce::new(
                Config::default_config(),
                seed,
            )))),
            _ => Err(ScenarioError::Unknown {
                name: name.to_string(),
                valid: SCENARIOS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// The e-commerce scenario with the settings of a scenario file (`text`), over defaults.
    pub fn from_toml(source_name: &str, text: &str, seed: u64) -> Result<Scenario, ScenarioError> {
        let config = Config::from_toml(source_name, text)?;
        Ok(Scenario::Ecommerce(Box::new(Ecommerce::new(config, seed))))
    }

    pub fn name(&self) -> &'static str {
        match self {
            Scenario::ShinyRocks(_) => ShinyRocks::NAME,
            Scenario::Ecommerce(_) => Ecommerce::NAME,
        }
    }

    pub fn description(&self) -> &'static str {
        SCENARIOS
            .iter()
            .find(|(n, _)| *n == self.name())
            .map_or("", |(_, d)| d)
    }

    pub fn tables(&self) -> &'static [&'static TableDef] {
        match self {
            Scenario::ShinyRocks(_) => &shiny_rocks::TABLES,
            Scenario::Ecommerce(_) => &crate::ecommerce::tables::TABLES,
        }
    }

    pub fn table(&self, name: &str) -> Result<&'static TableDef, ScenarioError> {
        self.tables()
            .iter()
            .copied()
            .find(|t| t.name == name)
            .ok_or_else(|| ScenarioError::UnknownTable {
                scenario: self.name(),
                table: name.to_string(),
                valid: self
                    .tables()
                    .iter()
                    .map(|t| t.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    pub fn tunables(&self) -> Vec<crate::Tunable> {
        match self {
            Scenario::ShinyRocks(_) => ShinyRocks::tunables(),
            Scenario::Ecommerce(e) => e.tunables(),
        }
    }

    /// The first day with data, for views that start "from the beginning" (a snapshot).
    pub fn first_day(&self, as_of: Date) -> Date {
        match self {
            Scenario::ShinyRocks(_) => Date::from_ymd(as_of.year(), 1, 1).expect("valid"),
            Scenario::Ecommerce(e) => e.first_day(),
        }
    }

    /// Writes the rows of `table` for `day` in `view` that fall in `shard`, in their canonical
    /// order.
    ///
    /// The rows of shards `0..n` of a day, concatenated in shard order, are the rows of the
    /// whole day; the result never depends on what else is generated, or where. In the
    /// changes view, rows are [`crate::view::Change`] records of
    /// [`crate::view::changes_table`].
    pub fn generate<S: RowSink>(
        &self,
        table: &'static TableDef,
        day: Date,
        shard: Shard,
        view: View,
        sink: &mut S,
    ) -> Result<(), S::Error> {
        match self {
            Scenario::ShinyRocks(s) => s.generate_view(table, day, shard, view, sink),
            Scenario::Ecommerce(e) => e.generate(table, day, shard, view, sink),
        }
    }

    /// The table definition of what [`Scenario::generate`] writes for `table` in `view`.
    pub fn output_table(table: &'static TableDef, view: View) -> &'static TableDef {
        match view {
            View::Changes => crate::view::changes_table(table),
            _ => table,
        }
    }
}
