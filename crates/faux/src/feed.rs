//! The change feed: every version of every row a scenario writes on a day, all tables, in one
//! typed list in sequence order ([`crate::Scenario::changes`]).
//!
//! It is the one source of the changes view, of `aladdin stream` and of Genie's store: they
//! read the table, operation, sequence number and time as fields, and the row through
//! [`Row::visit`], instead of re-merging per-table change files by `seq`.

use std::sync::Arc;

use crate::ecommerce;
use crate::shiny_rocks;
use crate::table::{FieldVisitor, Row};
use crate::time::{Date, Timestamp};

/// What a change did to its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    Insert,
    Update,
    /// A soft delete: the row's `deleted_at` is set; the row stays readable.
    Delete,
}

impl Op {
    pub const ALL: [Op; 3] = [Op::Insert, Op::Update, Op::Delete];

    /// `insert`, `update` or `delete`: the `op` column and routing-key word.
    pub const fn as_str(self) -> &'static str {
        match self {
            Op::Insert => "insert",
            Op::Update => "update",
            Op::Delete => "delete",
        }
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Op {
    type Err = String;
    fn from_str(s: &str) -> Result<Op, String> {
        Op::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| format!("invalid op {s:?}: expected insert, update or delete"))
    }
}

/// Sequence numbers of a day start at `days since 1970 × SEQ_PER_DAY`: they grow with time
/// across all tables and days, and a day's numbers never collide with another day's.
pub const SEQ_PER_DAY: i64 = 100_000_000;

/// The first sequence number a change of `day` can have.
pub fn first_seq(day: Date) -> i64 {
    day.days_since_epoch() as i64 * SEQ_PER_DAY
}

/// The day whose changes hold sequence number `seq`.
pub fn day_of_seq(seq: i64) -> Date {
    Date::from_days_since_epoch(seq.div_euclid(SEQ_PER_DAY) as i32)
}

/// One row of any table of any scenario.
#[derive(Debug, Clone)]
pub enum Record {
    Ecommerce(ecommerce::tables::Rec),
    ShinyRocks(shiny_rocks::Rec),
    /// A row of a scenario defined outside faux ([`crate::Simulation`]).
    Dyn(Arc<dyn DynRow>),
}

impl Record {
    /// A row of a scenario defined outside faux.
    pub fn dynamic<R: Row + std::fmt::Debug + Send + Sync + 'static>(row: R) -> Record {
        Record::Dyn(Arc::new(row))
    }
}

impl Row for Record {
    #[inline]
    fn visit<V: FieldVisitor>(&self, v: &mut V) {
        match self {
            Record::Ecommerce(r) => r.visit(v),
            Record::ShinyRocks(r) => r.visit(v),
            Record::Dyn(r) => r.visit_dyn(v),
        }
    }
}

/// A [`Row`] behind a pointer: what a scenario defined outside faux hands to the feed. The
/// built-in scenarios' rows are visited without dynamic dispatch.
pub trait DynRow: std::fmt::Debug + Send + Sync {
    fn visit_dyn(&self, v: &mut dyn FieldVisitor);
}

impl<R: Row + std::fmt::Debug + Send + Sync> DynRow for R {
    fn visit_dyn(&self, mut v: &mut dyn FieldVisitor) {
        self.visit(&mut v)
    }
}

/// One version of a row: which table (an index into [`crate::Scenario::tables`]), what
/// happened, its global sequence number, when, and the row as it was then.
#[derive(Debug, Clone)]
pub struct ChangeRecord {
    pub table: usize,
    pub op: Op,
    pub seq: i64,
    pub ts: Timestamp,
    pub row: Record,
}

/// A change record as a row of the changes view: `op`, `seq`, `ts`, then the table's
/// columns (see [`crate::view::changes_table`]).
impl Row for ChangeRecord {
    #[inline]
    fn visit<V: FieldVisitor>(&self, v: &mut V) {
        v.label(self.op.as_str());
        v.int(self.seq);
        v.timestamp(self.ts);
        self.row.visit(v);
    }
}
