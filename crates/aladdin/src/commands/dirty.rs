//! `aladdin verify --dirty PROFILE`: grades a cleaning pipeline against the defects the
//! profile planted (`faux_sinks::verify::dirty`) — regenerated from the seed, or read back
//! from the source's manifest (`--manifest`, [`super::manifest`]) — per table and defect kind,
//! in text or JSON.
//! Exit status 1 when a defect is left in, a real row was dropped with its copy, or a clean
//! row was dropped or changed.

use anyhow::bail;
use faux::dirty::{Defect, Profile};
use faux::{DateRange, Scenario, TableDef};
use faux_sinks::verify::Source;
use faux_sinks::verify::dirty::{DirtyReport, grade_table, grade_table_with};
use serde_json::{Value, json};

pub struct Grading<'a> {
    pub scenario: &'a Scenario,
    pub tables: &'a [&'static TableDef],
    pub range: DateRange,
    pub profile: Profile,
    pub threads: usize,
    pub json: bool,
    /// The defects the source planted (`--manifest`) and where they were read; `None`:
    /// regenerated from the seed.
    pub planted: Option<(Vec<Defect>, String)>,
}

fn report_json(r: &DirtyReport) -> Value {
    let kinds: serde_json::Map<String, Value> = r
        .kinds
        .iter()
        .map(|(k, g)| {
            (
                k.name().to_string(),
                json!({
                    "planted": g.planted,
                    "fixed": g.fixed,
                    "removed": g.removed,
                    "dropped": g.dropped,
                    "left_in": g.left_in,
                }),
            )
        })
        .collect();
    json!({
        "passed": r.passed(),
        "mode": r.mode.name(),
        "defects": kinds,
        "clean_rows": {
            "expected": r.clean.expected,
            "dropped": r.clean.dropped,
            "changed": r.clean.changed,
            "unexpected": r.clean.unexpected,
        },
        "examples": r.examples,
        "problems": r.problems,
    })
}

fn print_text(reports: &[DirtyReport]) {
    let w = reports
        .iter()
        .map(|r| r.table.len())
        .max()
        .unwrap_or(5)
        .max(5);
    println!(
        "{:w$}  {:19}  {:>7}  {:>6}  {:>7}  {:>7}  {:>7}",
        "table", "defect", "planted", "fixed", "removed", "dropped", "left in"
    );
    for r in reports {
        for (k, g) in r.kinds.iter().filter(|(_, g)| g.planted > 0) {
            println!(
                "{:w$}  {:19}  {:>7}  {:>6}  {:>7}  {:>7}  {:>7}",
                r.table,
                k.name(),
                g.planted,
                g.fixed,
                g.removed,
                g.dropped,
                g.left_in
            );
        }
    }
    println!(
        "\n{:w$}  {:>12}  {:>7}  {:>7}  {:>10}",
        "table", "clean rows", "dropped", "changed", "unexpected"
    );
    for r in reports {
        println!(
            "{:w$}  {:>12}  {:>7}  {:>7}  {:>10}",
            r.table, r.clean.expected, r.clean.dropped, r.clean.changed, r.clean.unexpected
        );
    }
    let examples: Vec<&String> = reports.iter().flat_map(|r| &r.examples).collect();
    if !examples.is_empty() {
        println!("\ndefects left in (examples):");
        for e in examples {
            println!("  {e}");
        }
    }
    for r in reports {
        for p in &r.problems {
            println!("{}: {p}", r.table);
        }
    }
}

impl Grading<'_> {
    pub fn run(&self, source: &mut dyn Source) -> anyhow::Result<()> {
        let reports: Vec<DirtyReport> = self
            .tables
            .iter()
            .map(|t| match &self.planted {
                Some((defects, _)) => {
                    grade_table_with(source, self.scenario, t, self.range, defects, self.threads)
                }
                None => grade_table(
                    source,
                    self.scenario,
                    t,
                    self.range,
                    self.profile,
                    self.threads,
                ),
            })
            .collect();
        let failed: Vec<&str> = reports
            .iter()
            .filter(|r| !r.passed())
            .map(|r| r.table)
            .collect();
        let (from, to) = (self.range.first(), self.range.last());
        if self.json {
            let per_table: serde_json::Map<String, Value> = reports
                .iter()
                .map(|r| (r.table.to_string(), report_json(r)))
                .collect();
            let out = json!({
                "scenario": self.scenario.name(),
                "seed": self.scenario.seed(),
                "dirty": self.profile.name(),
                "from": from.to_string(),
                "to": to.to_string(),
                "against": source.describe(),
                // where the defects graded come from: the source's manifest, or the seed
                "manifest": self.planted.as_ref().map(|(_, from)| from),
                "passed": failed.is_empty(),
                "tables": per_table,
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
        } else {
            print_text(&reports);
        }
        if !failed.is_empty() {
            bail!(
                "the cleaning of --dirty {} data in {} fails in {} of {} table{}: {}",
                self.profile,
                source.describe(),
                failed.len(),
                reports.len(),
                if reports.len() == 1 { "" } else { "s" },
                failed.join(", ")
            );
        }
        if !self.json {
            let planted: u64 = reports
                .iter()
                .flat_map(|r| r.kinds.values())
                .map(|g| g.planted)
                .sum();
            println!(
                "\npassed: every one of {planted} planted defects fixed or removed, every clean row intact ({} to {}{})",
                from,
                to,
                match &self.planted {
                    Some((_, from)) => format!("; defects of the manifest {from}"),
                    None => String::new(),
                }
            );
        }
        Ok(())
    }
}
