//! What several commands share: choosing a scenario (by name or file) and a range of days.

use clap::Args;
use faux::{Date, DateRange, Scenario, ScenarioSpec, Timestamp};
use faux_sinks::error_line::one_line;
use faux_sinks::manifest::ScenarioSource;

use crate::usage::{UsageError, usage};

/// A scenario by name (`ecommerce`, `shiny-rocks`) or a path to an e-commerce scenario file.
pub fn load_scenario(name: &str, seed: u64) -> anyhow::Result<Scenario> {
    load_scenario_with_source(name, seed).map(|(s, _)| s)
}

/// [`load_scenario`], with the file it came from and its digest (`None` for a built-in one).
pub fn load_scenario_with_source(
    name: &str,
    seed: u64,
) -> anyhow::Result<(Scenario, Option<ScenarioSource>)> {
    // an unknown name, a missing or a broken file: all usage errors
    let usage = |e: faux::ScenarioError| UsageError(one_line(&e));
    let spec = ScenarioSpec::read(name).map_err(usage)?;
    let scenario = spec.load(seed).map_err(usage)?;
    let source = match &spec {
        ScenarioSpec::BuiltIn(_) => None,
        ScenarioSpec::File { path, text } => Some(ScenarioSource::new(path, text.as_bytes())),
    };
    Ok((scenario, source))
}

/// `--scenario NAME|FILE` and `--seed N`, shared by the commands that generate.
#[derive(Debug, Clone, Args)]
pub struct ScenarioArgs {
    /// Scenario (see `aladdin scenario list`), or a scenario file (.toml).
    #[arg(long, default_value = "ecommerce")]
    pub scenario: String,

    /// Seed of the run: the same seed gives the same rows, byte for byte.
    #[arg(long, default_value_t = faux::DEFAULT_SEED)]
    pub seed: u64,
}

impl ScenarioArgs {
    /// The scenario, bound to the seed; an unknown name or a bad file is a usage error.
    pub fn load(&self) -> anyhow::Result<Scenario> {
        load_scenario(&self.scenario, self.seed)
    }

    /// [`ScenarioArgs::load`], with the scenario file and its digest (`None` when built in).
    pub fn load_with_source(&self) -> anyhow::Result<(Scenario, Option<ScenarioSource>)> {
        load_scenario_with_source(&self.scenario, self.seed)
    }
}

/// `--date D` | `--from A --to B` | `--days N`.
#[derive(Debug, Clone, Args)]
pub struct Days {
    /// A single day, YYYY-MM-DD.
    #[arg(long, conflicts_with_all = ["from", "to", "days"])]
    pub date: Option<Date>,

    /// First day of a range, YYYY-MM-DD (with --to).
    #[arg(long, requires = "to", conflicts_with = "days")]
    pub from: Option<Date>,

    /// Last day of a range, inclusive, YYYY-MM-DD (with --from).
    #[arg(long, requires = "from", conflicts_with = "days")]
    pub to: Option<Date>,

    /// The N days ending yesterday (UTC).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=36_600))]
    pub days: Option<u32>,
}

impl Days {
    /// No day was selected (a command may default).
    pub fn is_empty(&self) -> bool {
        self.date.is_none() && self.from.is_none() && self.to.is_none() && self.days.is_none()
    }

    /// The days selected, or `default` when nothing was given (None: an error).
    pub fn range(&self, default: Option<DateRange>) -> anyhow::Result<DateRange> {
        let yesterday = || {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            Timestamp(now).date().add_days(-1)
        };
        match (self.date, self.from, self.to, self.days) {
            (Some(d), ..) => Ok(DateRange::day(d)),
            (None, Some(from), Some(to), _) => match DateRange::new(from, to) {
                Ok(r) => Ok(r),
                Err(_) => usage!("--to {to} is before --from {from}"),
            },
            (None, _, _, Some(n)) => {
                let end = yesterday();
                Ok(DateRange::new(end.add_days(1 - n as i32), end)?)
            }
            _ => match default {
                Some(r) => Ok(r),
                None => usage!("no days selected: give --date D, --from A --to B, or --days N"),
            },
        }
    }
}

pub fn parse_instant(s: &str) -> Result<Timestamp, String> {
    Timestamp::parse_flexible(s).map_err(|e| e.to_string())
}
