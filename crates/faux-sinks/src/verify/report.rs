//! What comparing a table returns: the differences per day, a few differing rows named, and
//! the problems that kept rows from being compared.

use std::collections::BTreeMap;

use faux::Date;

use super::Mode;

/// The differences found on one day of one table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayDiff {
    /// Rows the truth has on the day.
    pub expected: u64,
    /// Loaded rows attributed to the day.
    pub found: u64,
    /// Rows of the truth not loaded.
    pub missing: u64,
    /// Extra copies of a row.
    pub duplicated: u64,
    /// Rows loaded in an older version than the truth's.
    pub stale: u64,
    /// Rows loaded in the truth's version, or a newer one within the range, with other values.
    pub changed: u64,
    /// Loaded rows the truth does not have.
    pub unexpected: u64,
}

impl DayDiff {
    pub fn differences(&self) -> u64 {
        self.missing + self.duplicated + self.stale + self.changed + self.unexpected
    }
}

/// How many example rows a report names per kind of difference.
pub const EXAMPLES_PER_KIND: usize = 3;

/// A row that differs, named so it can be looked up: an example for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// `missing`, `duplicated`, `stale`, `changed` or `unexpected`.
    pub kind: &'static str,
    /// The day the difference is counted on.
    pub day: Date,
    /// The row's primary key (every column for a table without one): `id=…`,
    /// `order_id=…, line_number=2`.
    pub key: String,
    /// For `changed`: the columns whose values differ (JSON documents are not compared).
    pub columns: Vec<ColumnDiff>,
}

/// A column of a `changed` row: the truth's value and the loaded one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDiff {
    pub column: &'static str,
    pub expected: String,
    pub found: String,
}

/// The comparison of one table.
#[derive(Debug, Clone)]
pub struct TableReport {
    pub table: &'static str,
    pub mode: Mode,
    /// Every day of the range, differences or not.
    pub days: BTreeMap<Date, DayDiff>,
    /// A few differing rows of each kind ([`EXAMPLES_PER_KIND`]), by kind, day and key.
    pub examples: Vec<Example>,
    /// Rows that could not be read (a bad value), with the first few reasons.
    pub unreadable: u64,
    /// Problems with the table as a whole (missing table or columns, unreadable rows).
    pub problems: Vec<String>,
}

impl TableReport {
    pub fn differences(&self) -> u64 {
        self.days.values().map(DayDiff::differences).sum::<u64>()
            + self.unreadable
            + self.problems.len() as u64
    }
}
