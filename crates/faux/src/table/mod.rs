//! Table definitions: each table is a row struct plus one static [`TableDef`], declared
//! together with [`table!`](crate::table!); a scenario lists its tables with
//! [`scenario_tables!`](crate::scenario_tables!). Both macros are in `table/macros.rs`.
//!
//! Everything a sink needs — CSV headers, Arrow schemas, JSON field names, SQL DDL, docs — is
//! derived from the [`TableDef`]; a row hands its values to a sink through [`Row::visit`], one
//! typed call per column in column order. Sinks are generic over [`FieldVisitor`], so adding a
//! table touches the engine only and adding a sink touches the sinks only.

use crate::rng::Uuid;
use crate::time::{Date, Timestamp};

mod macros;

#[doc(hidden)]
pub use macros::by_method;

/// The logical type of a column; sinks map it to their physical types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogicalType {
    /// UTF-8 text.
    Text,
    /// A UUID written as 32 lowercase hex digits (Python's `uuid4().hex`), stored as text.
    HexUuid,
    /// A UUID written in its canonical hyphenated form.
    Uuid,
    /// A 64-bit signed integer.
    Int,
    /// A fixed-point decimal: values are integers in units of 10^-scale.
    Decimal {
        precision: u8,
        scale: u8,
    },
    Bool,
    /// A calendar day, `YYYY-MM-DD`.
    Date,
    /// A UTC instant in whole seconds, RFC 3339 `YYYY-MM-DDTHH:MM:SSZ`.
    Timestamp,
    /// A JSON document, passed through as its serialised text.
    Json,
}

impl LogicalType {
    /// A short, human name used in docs and `aladdin scenario show`.
    pub fn describe(&self) -> String {
        match self {
            LogicalType::Text => "text".into(),
            LogicalType::HexUuid => "uuid (32 hex)".into(),
            LogicalType::Uuid => "uuid".into(),
            LogicalType::Int => "int".into(),
            LogicalType::Decimal { precision, scale } => format!("decimal({precision},{scale})"),
            LogicalType::Bool => "bool".into(),
            LogicalType::Date => "date".into(),
            LogicalType::Timestamp => "timestamp (UTC)".into(),
            LogicalType::Json => "json".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub ty: LogicalType,
    pub nullable: bool,
    pub description: &'static str,
}

impl Column {
    pub const fn new(name: &'static str, ty: LogicalType, description: &'static str) -> Column {
        Column {
            name,
            ty,
            nullable: false,
            description,
        }
    }

    pub const fn nullable(self) -> Column {
        Column {
            nullable: true,
            ..self
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct TableDef {
    pub name: &'static str,
    pub description: &'static str,
    pub columns: &'static [Column],
    /// Column names forming the primary key.
    pub primary_key: &'static [&'static str],
    /// The incremental cursor column (`updated_at`), for mutable tables.
    pub cursor: Option<&'static str>,
    /// The column whose day a row is partitioned by.
    pub partition: &'static str,
    /// A mutable table's column holding when each row was first written (it never changes):
    /// a row first appears in its extract on that day. `None` when not known or insert-only
    /// (the partition column is then the row's time).
    pub created: Option<&'static str>,
    /// The table whose rows own this table's rows (an order owns its lines), if any.
    pub parent: Option<Parent>,
    /// Which of its rows a live source holds (Genie's store).
    pub keep: Keep,
}

/// Which rows of a table a live source (Genie's store) holds, given a history window: a real
/// shop's API serves its whole catalogue and every customer, and every order it serves whole,
/// but not its clickstream since the day it opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Every row ever created: other rows refer to them from any time (customers, products).
    Always,
    /// Rows created in the history window or up to this many days before it: rows that can
    /// still change in the window (an order for its whole lifecycle), or that such rows refer
    /// to (the session an order was placed in).
    LookBack(u16),
    /// Rows created in the history window (clickstream events, daily spend).
    Window,
    /// The rows of [`Keep::Window`], from an insert-only table keyed by a UUIDv7 of the
    /// partition column's time (the clickstream): a live source may regenerate a day of them
    /// on read rather than store them, finding a row's day from its id alone.
    TimeKeyedWindow,
}

/// A table's owning table: each row belongs to the `table` row whose primary key equals its
/// `column`. An API lists a parent's rows at `/<table>/{id}/<path>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parent {
    pub table: &'static str,
    pub column: &'static str,
    /// The path segment of the nested listing (`items` for an order's lines).
    pub path: &'static str,
}

impl TableDef {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Receives a row's values, one call per column, in column order.
pub trait FieldVisitor {
    fn text(&mut self, v: &str);
    /// Text from the program's own constants (a category, a status): encoders may remember
    /// what they worked out about each one, since its bytes never change.
    #[inline(always)]
    fn label(&mut self, v: &'static str) {
        self.text(v);
    }
    fn hex_uuid(&mut self, v: &Uuid);
    fn uuid(&mut self, v: &Uuid);
    fn int(&mut self, v: i64);
    /// A decimal in units of 10^-scale of its column.
    fn decimal(&mut self, units: i64);
    fn bool(&mut self, v: bool);
    fn date(&mut self, v: Date);
    fn timestamp(&mut self, v: Timestamp);
    fn json(&mut self, v: &str);
    fn null(&mut self);
}

/// What a `json` field holds: text, or values whose text is written when the row is visited
/// (an event's properties).
pub trait JsonValue {
    /// Hands the JSON text to `v.json`.
    fn visit_json<V: FieldVisitor + ?Sized>(&self, v: &mut V);
}

impl JsonValue for str {
    #[inline(always)]
    fn visit_json<V: FieldVisitor + ?Sized>(&self, v: &mut V) {
        v.json(self)
    }
}

impl JsonValue for String {
    #[inline(always)]
    fn visit_json<V: FieldVisitor + ?Sized>(&self, v: &mut V) {
        v.json(self)
    }
}

/// A visitor behind a reference visits as the visitor itself (rows of scenarios defined
/// outside faux are visited through `&mut dyn FieldVisitor`).
impl<T: FieldVisitor + ?Sized> FieldVisitor for &mut T {
    fn text(&mut self, v: &str) {
        (**self).text(v)
    }
    fn label(&mut self, v: &'static str) {
        (**self).label(v)
    }
    fn hex_uuid(&mut self, v: &Uuid) {
        (**self).hex_uuid(v)
    }
    fn uuid(&mut self, v: &Uuid) {
        (**self).uuid(v)
    }
    fn int(&mut self, v: i64) {
        (**self).int(v)
    }
    fn decimal(&mut self, units: i64) {
        (**self).decimal(units)
    }
    fn bool(&mut self, v: bool) {
        (**self).bool(v)
    }
    fn date(&mut self, v: Date) {
        (**self).date(v)
    }
    fn timestamp(&mut self, v: Timestamp) {
        (**self).timestamp(v)
    }
    fn json(&mut self, v: &str) {
        (**self).json(v)
    }
    fn null(&mut self) {
        (**self).null()
    }
}

/// A typed row of a table.
pub trait Row {
    /// Hands every column's value to the visitor, in [`TableDef::columns`] order, with the
    /// method matching the column's [`LogicalType`] (or `null` for a nullable column).
    fn visit<V: FieldVisitor>(&self, v: &mut V);
}

/// Somewhere rows of one table go (a file encoder, a test collector, …).
pub trait RowSink {
    type Error;
    fn row<R: Row>(&mut self, row: &R) -> Result<(), Self::Error>;
}

/// A contiguous share of a day's work: entities `[start, end)` of `total`, by parent index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based index of this shard.
    pub index: u32,
    /// Number of shards the day is cut into (≥ 1).
    pub count: u32,
}

impl Shard {
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    pub fn new(index: u32, count: u32) -> Option<Shard> {
        (count >= 1 && index < count).then_some(Shard { index, count })
    }

    /// This shard's part of a day's `items` (see [`Shard::range`]).
    pub fn slice<'a, T>(&self, items: &'a [T]) -> &'a [T] {
        let r = self.range(items.len() as u64);
        &items[r.start as usize..r.end as usize]
    }

    /// The entity range of this shard when a day has `n` entities; the ranges of shards
    /// `0..count` are contiguous, in order, and cover `0..n`.
    pub fn range(&self, n: u64) -> std::ops::Range<u64> {
        let lo = n * self.index as u64 / self.count as u64;
        let hi = n * (self.index as u64 + 1) / self.count as u64;
        lo..hi
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// `I/N` with 0 ≤ I < N.
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("invalid shard {s:?}: expected I/N with 0 <= I < N, e.g. 0/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let i: u32 = i.trim().parse().map_err(|_| bad())?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        Shard::new(i, n).ok_or_else(bad)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_the_range_in_order() {
        for n in [0u64, 1, 7, 100, 1013] {
            for count in 1..=5 {
                let mut next = 0;
                for index in 0..count {
                    let r = Shard::new(index, count).unwrap().range(n);
                    assert_eq!(r.start, next);
                    next = r.end;
                }
                assert_eq!(next, n);
            }
        }
    }

    #[test]
    fn parses_shards_and_names_the_bad_value() {
        assert_eq!("1/4".parse::<Shard>(), Ok(Shard { index: 1, count: 4 }));
        for bad in ["4/4", "1/0", "a/2", "1", "-1/2", ""] {
            let e = bad.parse::<Shard>().unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
    }
}
