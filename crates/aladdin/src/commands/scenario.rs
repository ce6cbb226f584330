//! `aladdin scenario list | show NAME`.

use clap::Subcommand;
use faux::{DEFAULT_SEED, SCENARIOS, Scenario};

use crate::usage::UsageError;

#[derive(Debug, Subcommand)]
pub enum ScenarioCommand {
    /// List the scenarios, with a line each.
    List,
    /// Show a scenario's tables (primary key, partition column), columns with their types and
    /// descriptions, and its tunables with their defaults.
    Show {
        /// Scenario name: ecommerce or shiny-rocks (see `aladdin scenario list`).
        name: String,
    },
}

pub fn run(cmd: ScenarioCommand) -> anyhow::Result<()> {
    match cmd {
        ScenarioCommand::List => {
            let width = SCENARIOS.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
            for (name, description) in SCENARIOS {
                println!("{name:width$}  {description}");
            }
        }
        ScenarioCommand::Show { name } => {
            let scenario =
                Scenario::by_name(&name, DEFAULT_SEED).map_err(|e| UsageError(e.to_string()))?;
            print!("{}", describe(&scenario));
        }
    }
    Ok(())
}

fn describe(s: &Scenario) -> String {
    let mut out = format!("{} — {}\n", s.name(), s.description());
    for t in s.tables() {
        out += &format!("\ntable {} — {}\n", t.name, t.description);
        if !t.primary_key.is_empty() {
            out += &format!("  primary key: {}\n", t.primary_key.join(", "));
        }
        out += &format!("  partitioned by: {}\n", t.partition);
        let name_w = t.columns.iter().map(|c| c.name.len()).max().unwrap_or(0);
        let types: Vec<String> = t
            .columns
            .iter()
            .map(|c| c.ty.describe() + if c.nullable { " null" } else { "" })
            .collect();
        let type_w = types.iter().map(String::len).max().unwrap_or(0);
        for (c, ty) in t.columns.iter().zip(&types) {
            out += &format!("  {:name_w$}  {:type_w$}  {}\n", c.name, ty, c.description);
        }
    }
    out += "\ntunables\n";
    for t in s.tunables() {
        out += &format!("  {} = {}\n      {}\n", t.name, t.value, t.description);
    }
    out
}
