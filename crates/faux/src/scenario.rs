//! The registry of scenarios and the one entry point sinks and shells call.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::ecommerce::Ecommerce;
use crate::ecommerce::config::{Config, ConfigError};
use crate::feed::ChangeRecord;
use crate::shiny_rocks::{self, ShinyRocks};
use crate::simulation::Simulation;
use crate::table::{Keep, RowSink, Shard, TableDef};
use crate::time::{Date, Timestamp};
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

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario file {path}")]
    Read {
        path: String,
        source: std::io::Error,
    },
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

/// What a `--scenario` argument names: a built-in scenario, or a scenario file and its text
/// (kept for callers that identify a file by its content).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScenarioSpec {
    BuiltIn(String),
    File { path: String, text: String },
}

impl ScenarioSpec {
    /// Reads `spec` as every command's `--scenario` does: a path when it ends in `.toml`,
    /// holds a `/` or names an existing file (the file is read here), a built-in name otherwise.
    pub fn read(spec: &str) -> Result<ScenarioSpec, ScenarioError> {
        let looks_like_file =
            spec.ends_with(".toml") || spec.contains('/') || std::path::Path::new(spec).is_file();
        if !looks_like_file {
            return Ok(ScenarioSpec::BuiltIn(spec.to_string()));
        }
        ScenarioSpec::read_file(spec)
    }

    /// A scenario file, whatever its name looks like.
    pub fn read_file(path: &str) -> Result<ScenarioSpec, ScenarioError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(ScenarioSpec::File {
                path: path.to_string(),
                text,
            }),
            Err(source) => Err(ScenarioError::Read {
                path: path.to_string(),
                source,
            }),
        }
    }

    /// The scenario, bound to `seed`.
    pub fn load(&self, seed: u64) -> Result<Scenario, ScenarioError> {
        match self {
            ScenarioSpec::BuiltIn(name) => Scenario::by_name(name, seed),
            ScenarioSpec::File { path, text } => Scenario::from_toml(path, text, seed),
        }
    }
}

/// A scenario bound to a seed: a pure function from (table, day, shard, view) to rows, and
/// from a day to its change feed.
#[derive(Debug)]
pub struct Scenario {
    kind: Kind,
    seed: u64,
    /// Recent days' change feeds: every table's changes file of a day reads the same list.
    /// Derived data only: results never depend on what is cached.
    changes: Mutex<BTreeMap<Date, Arc<Vec<ChangeRecord>>>>,
    /// Threads [`Scenario::changes`] may use for one day (1 unless set: callers that already
    /// run days in parallel keep their own count).
    threads: usize,
}

/// The built-in simulations.
#[derive(Debug)]
enum Kind {
    ShinyRocks(ShinyRocks),
    Ecommerce(Box<Ecommerce>),
    Custom(Box<dyn Simulation>),
}

/// Days of change feeds kept: the day being written and its neighbour.
const CHANGES_CACHE_DAYS: usize = 2;

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
    fn new(kind: Kind, seed: u64) -> Scenario {
        Scenario {
            kind,
            seed,
            changes: Mutex::new(BTreeMap::new()),
            threads: 1,
        }
    }

    /// Lets [`Scenario::changes`] work out a day on up to `threads` threads, for callers that
    /// take the feed a day at a time (the stream, Genie). The feed is the same on any count.
    pub fn with_threads(mut self, threads: usize) -> Scenario {
        self.threads = threads.max(1);
        self
    }

    pub fn by_name(name: &str, seed: u64) -> Result<Scenario, ScenarioError> {
        match name {
            ShinyRocks::NAME => Ok(Scenario::new(Kind::ShinyRocks(ShinyRocks::new(seed)), seed)),
            Ecommerce::NAME => Ok(Scenario::new(
                Kind::Ecommerce(Box::new(Ecommerce::new(Config::default_config(), seed))),
                seed,
            )),
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
        Ok(Scenario::new(
            Kind::Ecommerce(Box::new(Ecommerce::new(config, seed))),
            seed,
        ))
    }

    /// A scenario defined outside faux, bound to `seed`.
    pub fn custom(simulation: Box<dyn Simulation>, seed: u64) -> Scenario {
        Scenario::new(Kind::Custom(simulation), seed)
    }

    /// The seed every value is drawn from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The Shiny Rocks generator, when this is that scenario (for its charts).
    pub fn as_shiny_rocks(&self) -> Option<&ShinyRocks> {
        match &self.kind {
            Kind::ShinyRocks(s) => Some(s),
            Kind::Ecommerce(_) | Kind::Custom(_) => None,
        }
    }

    /// The e-commerce simulation (for its answer keys beyond tables, e.g. cart labels).
    pub fn as_ecommerce(&self) -> Option<&Ecommerce> {
        match &self.kind {
            Kind::Ecommerce(e) => Some(e),
            Kind::ShinyRocks(_) | Kind::Custom(_) => None,
        }
    }

    pub fn name(&self) -> &'static str {
        match &self.kind {
            Kind::ShinyRocks(_) => ShinyRocks::NAME,
            Kind::Ecommerce(_) => Ecommerce::NAME,
            Kind::Custom(c) => c.name(),
        }
    }

    pub fn description(&self) -> &'static str {
        if let Kind::Custom(c) = &self.kind {
            return c.description();
        }
        SCENARIOS
            .iter()
            .find(|(n, _)| *n == self.name())
            .map_or("", |(_, d)| d)
    }

    pub fn tables(&self) -> &'static [&'static TableDef] {
        match &self.kind {
            Kind::ShinyRocks(_) => shiny_rocks::TABLES,
            Kind::Ecommerce(_) => crate::ecommerce::tables::TABLES,
            Kind::Custom(c) => c.tables(),
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
        match &self.kind {
            Kind::ShinyRocks(_) => ShinyRocks::tunables(),
            Kind::Ecommerce(e) => e.tunables(),
            Kind::Custom(c) => c.tunables(),
        }
    }

    /// The first day with data, for views that start "from the beginning" (a snapshot).
    pub fn first_day(&self, as_of: Date) -> Date {
        match &self.kind {
            Kind::ShinyRocks(_) => Date::from_ymd(as_of.year(), 1, 1).expect("valid"),
            Kind::Ecommerce(e) => e.first_day(),
            Kind::Custom(c) => c.first_day(),
        }
    }

    /// Writes the rows of `table` for `day` in `view` that fall in `shard`, in their canonical
    /// order.
    ///
    /// The rows of shards `0..n` of a day, concatenated in shard order, are the rows of the
    /// whole day; the result never depends on what else is generated, or where. In the
    /// changes view, rows are [`ChangeRecord`]s of `table` from [`Scenario::changes`]
    /// (columns: [`crate::view::changes_table`]), cut into shards by position.
    pub fn generate<S: RowSink>(
        &self,
        table: &'static TableDef,
        day: Date,
        shard: Shard,
        view: View,
        sink: &mut S,
    ) -> Result<(), S::Error> {
        match (view, &self.kind) {
            (View::Changes, _) => {
                let t = self.table_index(table);
                let all = self.changes(day);
                let mine: Vec<&ChangeRecord> = all.iter().filter(|c| c.table == t).collect();
                for c in shard.slice(&mine) {
                    sink.row(*c)?;
                }
                Ok(())
            }
            (_, Kind::ShinyRocks(s)) => s.generate_view(table, day, shard, view, sink),
            (_, Kind::Ecommerce(e)) => e.generate(table, day, shard, view, sink),
            (_, Kind::Custom(_)) => crate::simulation::derived_view(
                &|d| self.changes(d),
                table,
                self.table_index(table),
                day,
                shard,
                view,
                sink,
            ),
        }
    }

    /// The creation days of `table` whose rows a live source holds at `at` when its history
    /// window starts on `from` ([`TableDef::keep`]): every day since the first for
    /// [`Keep::Always`], from `n` days before the window for [`Keep::LookBack`]`(n)`, the
    /// window's days for [`Keep::Window`] and [`Keep::TimeKeyedWindow`]. Oldest first; empty when `from` is after `at`.
    pub fn held_days(&self, table: &TableDef, from: Date, at: Timestamp) -> Vec<Date> {
        let first = self.first_day(at.date());
        let start = match table.keep {
            Keep::Always => first,
            Keep::LookBack(n) => from.add_days(-(n as i32)).max(first),
            Keep::Window | Keep::TimeKeyedWindow => from.max(first),
        };
        let end = at.date();
        if start > end {
            return Vec::new();
        }
        (0..=start.days_until(end))
            .map(|i| start.add_days(i))
            .collect()
    }

    /// Writes the rows of `table` from creation day `day` of [`Scenario::held_days`] in their
    /// state as of `at`: together, over those days, the state of the table a live source
    /// holds. The snapshot view's partitions, except where a scenario groups rows by their
    /// owner (an e-commerce order's family goes by the day of the order's session).
    pub fn generate_held<S: RowSink>(
        &self,
        table: &'static TableDef,
        day: Date,
        at: Timestamp,
        sink: &mut S,
    ) -> Result<(), S::Error> {
        match &self.kind {
            Kind::Ecommerce(e) => e.generate_held(table, day, at, sink),
            _ => self.generate(table, day, Shard::ALL, View::Snapshot(at), sink),
        }
    }

    /// The position of `table` in [`Scenario::tables`] (by identity).
    ///
    /// # Panics
    /// When `table` is not one of this scenario's tables: a caller mixing scenarios.
    pub fn table_index(&self, table: &TableDef) -> usize {
        self.tables()
            .iter()
            .position(|t| std::ptr::eq(*t, table))
            .unwrap_or_else(|| panic!("{} is not a table of {}", table.name, self.name()))
    }

    /// Every version of every row written on `day`, all tables, in sequence order: the one
    /// source of the changes view, the live stream and Genie's store. Computed once per day
    /// (two recent days are kept) and shared.
    pub fn changes(&self, day: Date) -> Arc<Vec<ChangeRecord>> {
        if let Some(c) = self.changes.lock().expect("changes cache").get(&day) {
            return c.clone();
        }
        let feed = self.changes_uncached(day);
        crate::ecommerce::cache_put(&self.changes, day, feed.clone(), CHANGES_CACHE_DAYS);
        feed
    }

    /// [`Scenario::changes`] without keeping the day: for a caller that reads each day once
    /// (a stream), whose cached days would only hold memory.
    pub fn changes_uncached(&self, day: Date) -> Arc<Vec<ChangeRecord>> {
        if let Some(c) = self.changes.lock().expect("changes cache").get(&day) {
            return c.clone();
        }
        Arc::new(match &self.kind {
            Kind::ShinyRocks(s) => s.changes(day),
            Kind::Ecommerce(e) => e.changes(day, self.threads),
            Kind::Custom(c) => c.changes(self.seed, day),
        })
    }

    /// Works out, and keeps, what the change feed of `day` needs from earlier days (the shop:
    /// the orders of the ~50 days before whose lifecycles still change; other scenarios need
    /// nothing). [`Scenario::changes`] does it anyway; a caller that is about to ask for `day`
    /// and the day after on two threads does it first, so that the two do not both work out
    /// the same earlier days.
    pub fn prepare(&self, day: Date) {
        if let Kind::Ecommerce(e) = &self.kind {
            e.prepare_window(day, self.threads);
        }
    }

    /// Empties the engine's day caches and cached change feeds, for a long-running caller
    /// that asks for a new day rarely (a live clock): what it already holds stays valid, and
    /// the next day asked for is regenerated — the same rows, at the cost of the work the
    /// caches saved.
    pub fn release_caches(&self) {
        self.changes.lock().expect("changes cache").clear();
        if let Kind::Ecommerce(e) = &self.kind {
            e.release_caches();
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

#[cfg(test)]
mod tests {
    use super::{ScenarioError, ScenarioSpec};

    #[test]
    fn a_scenario_argument_is_a_name_or_a_file() {
        assert_eq!(
            ScenarioSpec::read("shiny-rocks").unwrap(),
            ScenarioSpec::BuiltIn("shiny-rocks".into())
        );
        let e = ScenarioSpec::read("shiny-rock")
            .unwrap()
            .load(1)
            .unwrap_err();
        assert!(matches!(e, ScenarioError::Unknown { .. }), "{e}");
        assert!(e.to_string().contains("ecommerce, shiny-rocks"), "{e}");

        // a file is read whatever its name: `.toml`, a `/`, or an existing file
        let dir = std::env::temp_dir().join(format!("faux-spec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let plain = dir.join("myshop");
        std::fs::write(&plain, "[shop]\ncurrency = \"USD\"\n").unwrap();
        let plain = plain.display().to_string();
        let spec = ScenarioSpec::read(&plain).unwrap();
        assert!(matches!(&spec, ScenarioSpec::File { text, .. } if text.contains("USD")));
        assert_eq!(spec.load(3).unwrap().name(), "ecommerce");
        assert_eq!(spec.load(3).unwrap().seed(), 3);

        for missing in ["missing.toml", "no/such/shop"] {
            let e = ScenarioSpec::read(missing).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("cannot read scenario file {missing}")
            );
            // the cause is kept as the source, not flattened into the message
            let source = std::error::Error::source(&e).expect("the io error");
            assert!(source.to_string().contains("No such file"), "{source}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
