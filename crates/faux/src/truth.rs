//! The answer key: per table and day, rows created, updated and deleted, sums of money
//! columns, and an order-independent digest of ids and versions — computed from the rows
//! themselves through the [`FieldVisitor`] contract, for any table.

use std::collections::BTreeMap;

use crate::rng::{Uuid, mix64};
use crate::table::{FieldVisitor, Row, RowSink, TableDef};
use crate::time::{Date, Timestamp};

/// The truth of one table on one day (daily-extract view).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableTruth {
    pub rows: u64,
    /// Rows created on the day.
    pub created: u64,
    /// Rows created earlier and changed on the day.
    pub updated: u64,
    /// Rows deleted (soft) on the day.
    pub deleted: u64,
    /// Sum per money column, in minor units.
    pub sums: BTreeMap<&'static str, i64>,
    /// Wrapping sum of a 64-bit hash of (primary key, cursor value) per row.
    pub digest: u64,
}

/// Accumulates a [`TableTruth`] from rows of one table and day.
#[derive(Debug)]
pub struct TruthSink {
    table: &'static TableDef,
    day: Date,
    pub truth: TableTruth,
    // per-row state
    col: usize,
    key_hash: u64,
    created: Option<Timestamp>,
    cursor: Option<Timestamp>,
    deleted: Option<Timestamp>,
}

impl TruthSink {
    pub fn new(table: &'static TableDef, day: Date) -> TruthSink {
        TruthSink {
            table,
            day,
            truth: TableTruth::default(),
            col: 0,
            key_hash: 0,
            created: None,
            cursor: None,
            deleted: None,
        }
    }

    fn column(&self) -> &'static crate::table::Column {
        &self.table.columns[self.col]
    }

    fn is_key(&self) -> bool {
        let name = self.column().name;
        if self.table.primary_key.is_empty() {
            true
        } else {
            self.table.primary_key.contains(&name)
        }
    }

    fn feed(&mut self, bits: u64) {
        if self.is_key() {
            self.key_hash = mix64(self.key_hash ^ mix64(bits.wrapping_add(self.col as u64)));
        }
        self.col += 1;
    }
}

fn hash_bytes(b: &[u8]) -> u64 {
    b.chunks(8).fold(0xA5A5_A5A5_A5A5_A5A5, |h, c| {
        let mut w = [0u8; 8];
        w[..c.len()].copy_from_slice(c);
        mix64(h ^ u64::from_le_bytes(w))
    })
}

impl FieldVisitor for TruthSink {
    fn text(&mut self, v: &str) {
        self.feed(hash_bytes(v.as_bytes()));
    }
    fn hex_uuid(&mut self, v: &Uuid) {
        self.feed(hash_bytes(&v.0));
    }
    fn uuid(&mut self, v: &Uuid) {
        self.feed(hash_bytes(&v.0));
    }
    fn int(&mut self, v: i64) {
        self.feed(v as u64);
    }
    fn decimal(&mut self, units: i64) {
        *self.truth.sums.entry(self.column().name).or_default() += units;
        self.feed(units as u64);
    }
    fn bool(&mut self, v: bool) {
        self.feed(v as u64);
    }
    fn date(&mut self, v: Date) {
        self.feed(v.days_since_epoch() as u64);
    }
    fn timestamp(&mut self, v: Timestamp) {
        let name = self.column().name;
        if name == "created_at" {
            self.created = Some(v);
        }
        if Some(name) == self.table.cursor {
            self.cursor = Some(v);
        }
        if name == "deleted_at" {
            self.deleted = Some(v);
        }
        self.feed(v.0 as u64);
    }
    fn json(&mut self, v: &str) {
        self.text(v);
    }
    fn null(&mut self) {
        self.feed(0x6E75_6C6C);
    }
}

impl RowSink for TruthSink {
    type Error = std::convert::Infallible;
    fn row<R: Row>(&mut self, row: &R) -> Result<(), Self::Error> {
        self.col = 0;
        self.key_hash = 0;
        self.created = None;
        self.cursor = None;
        self.deleted = None;
        row.visit(self);
        let t = &mut self.truth;
        t.rows += 1;
        match self.created {
            Some(c) if c.date() < self.day => t.updated += 1,
            _ => t.created += 1,
        }
        if self.deleted.is_some_and(|d| d.date() == self.day) {
            t.deleted += 1;
        }
        let version = self.cursor.map_or(0, |c| c.0 as u64);
        t.digest = t.digest.wrapping_add(mix64(self.key_hash ^ mix64(version)));
        Ok(())
    }
}
