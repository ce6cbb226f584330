//! Views of a simulation and the change-record row of the changes view.

use std::sync::Mutex;

use crate::table::{Column, LogicalType, TableDef};
use crate::time::Timestamp;

/// Which rows of a day a partition holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Rows whose `updated_at` (or creation) falls in the day, in their end-of-day state —
    /// what an incremental extract on `updated_at` returns from a real OLTP database.
    Extract,
    /// Rows created on the day, in their state as of the instant (nothing for later days).
    Snapshot(Timestamp),
    /// Every version written during the day, oldest first, with `op`, `seq` and `ts`.
    Changes,
}

impl View {
    pub fn name(&self) -> &'static str {
        match self {
            View::Extract => "extract",
            View::Snapshot(_) => "snapshot",
            View::Changes => "changes",
        }
    }
}

pub use crate::feed::SEQ_PER_DAY;

const CHANGE_COLUMNS: [Column; 3] = [
    Column::new("op", LogicalType::Text, "insert, update or delete."),
    Column::new(
        "seq",
        LogicalType::Int,
        "Sequence number: increases with time across all tables.",
    ),
    Column::new(
        "ts",
        LogicalType::Timestamp,
        "When this version was written.",
    ),
];

static CHANGE_TABLES: Mutex<Vec<(usize, &'static TableDef)>> = Mutex::new(Vec::new());

/// The definition of `table`'s change records: `op`, `seq`, `ts`, then the table's columns.
pub fn changes_table(table: &'static TableDef) -> &'static TableDef {
    let key = table as *const TableDef as usize;
    let mut known = CHANGE_TABLES.lock().expect("change tables");
    if let Some((_, t)) = known.iter().find(|(k, _)| *k == key) {
        return t;
    }
    // built once per table and kept for the process: a handful of small definitions
    let columns: Vec<Column> = CHANGE_COLUMNS
        .iter()
        .chain(table.columns)
        .copied()
        .collect();
    let def: &'static TableDef = Box::leak(Box::new(TableDef {
        name: table.name,
        description: table.description,
        columns: Box::leak(columns.into_boxed_slice()),
        primary_key: &["seq"],
        cursor: Some("ts"),
        partition: "ts",
        created: None,
        parent: None,
        keep: table.keep,
    }));
    known.push((key, def));
    def
}
