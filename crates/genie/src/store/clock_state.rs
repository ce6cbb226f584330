//! The persisted state of the virtual clock: how far the store has applied the change feed,
//! and what of the feed it still retains.

use faux_sinks::sql::{Upsert, ident};

use super::backend::{Arg, Conn, int};
use super::{Store, StoreError};

/// The persisted state of the virtual clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockState {
    /// Every change with `ts <= reached` is applied.
    pub reached: i64,
    /// The last applied sequence number.
    pub last_seq: i64,
    /// Changes with `seq <= pruned_seq` are no longer retained.
    pub pruned_seq: i64,
}

impl Conn<'_> {
    pub(super) fn clock(&mut self) -> Result<Option<ClockState>, StoreError> {
        let rows = self.select(
            "SELECT reached, last_seq, pruned_seq FROM clock WHERE id = 1",
            &[],
        )?;
        Ok(rows.first().map(|r| ClockState {
            reached: int(&r[0]),
            last_seq: int(&r[1]),
            pruned_seq: int(&r[2]),
        }))
    }

    pub(super) fn set_clock(&mut self, st: &ClockState) -> Result<(), StoreError> {
        let clock = Upsert::new(
            &ident("clock"),
            &["id", "reached", "last_seq", "pruned_seq"],
            &["id"],
        );
        self.exec(
            &clock.sql("VALUES (1, $1, $2, $3)"),
            &[
                Arg::I(st.reached),
                Arg::I(st.last_seq),
                Arg::I(st.pruned_seq),
            ],
        )?;
        Ok(())
    }
}

impl Store {
    /// The clock, or `None` for a new store.
    pub fn clock(&self) -> Result<Option<ClockState>, StoreError> {
        self.tx(false, |c| c.clock())
    }

    /// The virtual instant this store first served at: `start` the first time it is asked,
    /// the same instant on every restart after (dates counted from the first serving, such
    /// as schema drift's, must not move when genie restarts).
    pub fn first_served(&self, start: i64) -> Result<i64, StoreError> {
        self.tx(true, |c| {
            c.exec(
                "INSERT INTO served_from (id, at) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
                &[Arg::I(start)],
            )?;
            let rows = c.select("SELECT at FROM served_from WHERE id = 1", &[])?;
            Ok(rows.first().map_or(start, |r| int(&r[0])))
        })
    }
}
