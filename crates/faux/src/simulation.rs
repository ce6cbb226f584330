//! Scenarios defined outside faux: a [`Simulation`] gives its tables and, per day, its change
//! feed; the extract and snapshot views are derived from the feed, so files, databases, the
//! stream and Genie serve it with no code of their own.

use std::collections::HashMap;

use crate::feed::{ChangeRecord, Op};
use crate::table::{FieldVisitor, Row, RowSink, Shard, TableDef};
use crate::time::{Date, Timestamp};
use crate::view::View;
use crate::{Tunable, Uuid};

/// A scenario written outside faux (in an application or a test), served by
/// [`crate::Scenario::custom`] under the same contract as the built-in ones.
///
/// The one thing it computes is [`Simulation::changes`]: every version of every row written on
/// a day, all tables, in time order, with sequence numbers from
/// [`crate::feed::first_seq`]`(day)` upwards. Rows are [`crate::Record::dynamic`] values; a
/// row's table is an index into [`Simulation::tables`]. Like the built-in scenarios, a day's
/// changes must be a pure function of the seed and the day.
pub trait Simulation: std::fmt::Debug + Send + Sync {
    /// The scenario's name, as `--scenario` would give it.
    fn name(&self) -> &'static str;
    /// One line on what it simulates.
    fn description(&self) -> &'static str;
    /// Its tables, in table order.
    fn tables(&self) -> &'static [&'static TableDef];
    /// The first day with data (a snapshot starts there).
    fn first_day(&self) -> Date;
    /// The settings a user may change, with their values.
    fn tunables(&self) -> Vec<Tunable> {
        Vec::new()
    }
    /// Every version written on `day`, all tables, in sequence order.
    fn changes(&self, seed: u64, day: Date) -> Vec<ChangeRecord>;
}

/// The primary key of a row, as text (the sequence number for a table without one).
fn key_of(table: &TableDef, c: &ChangeRecord) -> String {
    if table.primary_key.is_empty() {
        return c.seq.to_string();
    }
    let mut k = KeyText {
        table,
        col: 0,
        out: String::new(),
    };
    c.row.visit(&mut k);
    k.out
}

/// Collects the text of a row's primary key columns.
struct KeyText<'a> {
    table: &'a TableDef,
    col: usize,
    out: String,
}

impl KeyText<'_> {
    fn put(&mut self, v: impl std::fmt::Display) {
        let name = self.table.columns[self.col].name;
        if self.table.primary_key.contains(&name) {
            if !self.out.is_empty() {
                self.out.push(':');
            }
            self.out.push_str(&v.to_string());
        }
        self.col += 1;
    }
}

impl FieldVisitor for KeyText<'_> {
    fn text(&mut self, v: &str) {
        self.put(v)
    }
    fn hex_uuid(&mut self, v: &Uuid) {
        self.put(String::from_utf8_lossy(&v.hex()))
    }
    fn uuid(&mut self, v: &Uuid) {
        self.put(String::from_utf8_lossy(&v.hyphenated()))
    }
    fn int(&mut self, v: i64) {
        self.put(v)
    }
    fn decimal(&mut self, units: i64) {
        self.put(units)
    }
    fn bool(&mut self, v: bool) {
        self.put(v)
    }
    fn date(&mut self, v: Date) {
        self.put(v)
    }
    fn timestamp(&mut self, v: Timestamp) {
        self.put(v.0)
    }
    fn json(&mut self, v: &str) {
        self.put(v)
    }
    fn null(&mut self) {
        self.put("")
    }
}

/// The extract (rows changed on `day`, each once, in its last version of the day) or the
/// snapshot (rows created on `day`, in their state as of the instant) of table `t`, derived
/// from the change feed. `feed(d)` gives day `d`'s changes.
pub(crate) fn derived_view<S: RowSink>(
    feed: &dyn Fn(Date) -> std::sync::Arc<Vec<ChangeRecord>>,
    table: &'static TableDef,
    t: usize,
    day: Date,
    shard: Shard,
    view: View,
    sink: &mut S,
) -> Result<(), S::Error> {
    // keys in order of first appearance, with the latest version of each
    let mut order: Vec<String> = Vec::new();
    let mut latest: HashMap<String, ChangeRecord> = HashMap::new();
    match view {
        View::Changes => unreachable!("the changes view is the feed itself"),
        View::Extract => {
            for c in feed(day).iter().filter(|c| c.table == t) {
                let k = key_of(table, c);
                if latest.insert(k.clone(), c.clone()).is_none() {
                    order.push(k);
                }
            }
        }
        View::Snapshot(at) if day > at.date() => {}
        View::Snapshot(at) => {
            for c in feed(day).iter().filter(|c| c.table == t && c.ts <= at) {
                if c.op == Op::Insert {
                    let k = key_of(table, c);
                    if latest.insert(k.clone(), c.clone()).is_none() {
                        order.push(k);
                    }
                } else if let Some(v) = latest.get_mut(&key_of(table, c)) {
                    *v = c.clone();
                }
            }
            // later versions of the day's rows, up to the instant
            let mut d = day.succ();
            while d <= at.date() && !latest.is_empty() {
                for c in feed(d).iter().filter(|c| c.table == t && c.ts <= at) {
                    if let Some(v) = latest.get_mut(&key_of(table, c)) {
                        *v = c.clone();
                    }
                }
                d = d.succ();
            }
        }
    }
    for k in shard.slice(&order) {
        sink.row(&latest[k].row)?;
    }
    Ok(())
}
