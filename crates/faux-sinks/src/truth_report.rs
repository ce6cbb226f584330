//! The answer key as JSON (`aladdin truth` and the Python package's `truth()`): per table and
//! day, rows created, updated and deleted, sums of money columns and the digest, computed once
//! here so both print the same document.

use std::collections::BTreeMap;

use faux::truth::{TableTruth, TruthSink};
use faux::{Date, DateRange, MODEL_VERSION, Scenario, Shard, TableDef, Timestamp, View};
use serde_json::{Value, json};

/// Minor units as a decimal string with `scale` digits after the point.
pub fn money(units: i64, scale: u8) -> String {
    let pow = 10i64.pow(scale as u32);
    let sign = if units < 0 { "-" } else { "" };
    format!(
        "{sign}{}.{:0width$}",
        (units / pow).abs(),
        (units % pow).abs(),
        width = scale as usize
    )
}

fn table_json(t: &TableTruth, def: &TableDef) -> Value {
    let sums: serde_json::Map<String, Value> = t
        .sums
        .iter()
        .map(|(col, units)| {
            let scale = match def.column(col).map(|c| c.ty) {
                Some(faux::LogicalType::Decimal { scale, .. }) => scale,
                _ => 0,
            };
            (col.to_string(), Value::String(money(*units, scale)))
        })
        .collect();
    json!({
        "rows": t.rows,
        "created": t.created,
        "updated": t.updated,
        "deleted": t.deleted,
        "sums": sums,
        "digest": format!("{:016x}", t.digest),
    })
}

/// The truth of `tables` over `range`: the daily extract, or with `as_of` the snapshot at that
/// instant of the rows created each day; days and tables generate on up to `threads` threads.
pub fn truth_report(
    scenario: &Scenario,
    tables: &[&'static TableDef],
    range: DateRange,
    as_of: Option<Timestamp>,
    threads: usize,
) -> Value {
    let view = as_of.map_or(View::Extract, View::Snapshot);
    let days: Vec<Date> = range.days().collect();
    let items: Vec<(Date, usize)> = days
        .iter()
        .flat_map(|d| (0..tables.len()).map(move |t| (*d, t)))
        .collect();
    let truths: Vec<TableTruth> = crate::pool::map(items.len(), threads, |i| {
        let (day, t) = items[i];
        let mut sink = TruthSink::new(tables[t], day);
        let Ok(()) = scenario.generate(tables[t], day, Shard::ALL, view, &mut sink);
        sink.truth
    });
    let results: BTreeMap<(Date, usize), &TableTruth> =
        items.iter().copied().zip(&truths).collect();
    let mut per_day = serde_json::Map::new();
    for day in &days {
        let mut per_table = serde_json::Map::new();
        for (t, def) in tables.iter().enumerate() {
            per_table.insert(def.name.to_string(), table_json(results[&(*day, t)], def));
        }
        per_day.insert(day.to_string(), Value::Object(per_table));
    }
    json!({
        "scenario": scenario.name(),
        "seed": scenario.seed(),
        "model_version": MODEL_VERSION,
        "view": view.name(),
        "as_of": as_of.map(|t| t.to_string()),
        "from": range.first().to_string(),
        "to": range.last().to_string(),
        "days": per_day,
    })
}
