//! The virtual clock: it feeds the engine's change records into the store as virtual time
//! passes their `ts`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use faux::{ChangeRecord, Date, Scenario, Timestamp};

use crate::store::{ClockState, Pending, Store, StoreError, capture};

/// Replays one day's change records at a time into the store.
#[derive(Debug)]
pub struct Feeder {
    scenario: Arc<Scenario>,
    store: Arc<Store>,
    day: Date,
    /// The day's change records, as the engine made them (typed rows, not yet captured:
    /// a tick captures only what it applies).
    records: Arc<Vec<ChangeRecord>>,
    pos: usize,
    loaded: bool,
    last_seq: i64,
    retention: i64,
    /// Empty the engine's caches once a day's records are in hand ([`Feeder::release_caches`]).
    release_caches: bool,
}

impl Feeder {
    /// A feeder continuing a store's clock (a filled store: [`crate::backfill`]).
    pub fn new(
        scenario: Arc<Scenario>,
        store: Arc<Store>,
        retention_secs: i64,
    ) -> Result<Feeder, StoreError> {
        let c = store.clock()?.ok_or(StoreError::NotFilled)?;
        let (day, last_seq) = (Timestamp(c.reached).date(), c.last_seq);
        Ok(Feeder {
            scenario,
            store,
            day,
            records: Arc::default(),
            pos: 0,
            loaded: false,
            last_seq,
            retention: retention_secs,
            release_caches: false,
        })
    }

    /// Whether to empty the engine's day caches (weeks of orders, for their lifecycles) each
    /// time a new day's records are in hand: worth it when a virtual day lasts long in real
    /// time (the idle server keeps only the day it replays), not when days fly by.
    pub fn release_caches(mut self, release: bool) -> Feeder {
        self.release_caches = release;
        self
    }

    /// Applies every change with `ts <= target`, a day per transaction, and moves the clock.
    /// `on_day` is told each day that is finished (for backfill progress).
    pub fn advance_to(
        &mut self,
        target: i64,
        on_day: &mut dyn FnMut(Date),
    ) -> Result<ClockState, StoreError> {
        let retain_after = target.saturating_sub(self.retention);
        // the next day's records, generated while this day's are written (catching up)
        let mut next: Option<Arc<Vec<ChangeRecord>>> = None;
        loop {
            if !self.loaded {
                self.records = match next.take() {
                    Some(r) => r,
                    None => self.scenario.changes(self.day),
                };
                if self.release_caches {
                    self.scenario.release_caches();
                }
                // on restart the clock's day is partly applied already (records are in seq order)
                let last = self.last_seq;
                self.pos = self.records.partition_point(|c| c.seq <= last);
                self.loaded = true;
            }
            let end = self.day.succ().start().0;
            let from = self.pos;
            while self.pos < self.records.len() && self.records[self.pos].ts.0 <= target {
                self.pos += 1;
            }
            let reached = target.min(end - 1);
            let resources = self.store.resources();
            let batch: Vec<Pending> = self.records[from..self.pos]
                .iter()
                .map(|c| capture(&resources[c.table], c))
                .collect();
            let (scenario, store) = (&self.scenario, &self.store);
            let st = if target >= end {
                let following = self.day.succ();
                std::thread::scope(|s| {
                    let generating = s.spawn(|| scenario.changes(following));
                    let st = store.apply(&batch, reached, retain_after);
                    match generating.join() {
                        Ok(r) => next = Some(r),
                        Err(panic) => std::panic::resume_unwind(panic),
                    }
                    st
                })?
            } else {
                store.apply(&batch, reached, retain_after)?
            };
            self.last_seq = st.last_seq;
            if target < end {
                return Ok(st);
            }
            // the day is over: its row counts of the tables regenerated on read
            let counts: Vec<_> = (0..resources.len())
                .filter(|&t| resources[t].regenerated)
                .map(|t| {
                    let n = self.records.iter().filter(|c| c.table == t).count();
                    (t, self.day, Some(n as i64))
                })
                .collect();
            self.store.set_window_days(&counts)?;
            on_day(self.day);
            self.day = self.day.succ();
            self.loaded = false;
            self.records = Arc::default();
        }
    }
}

/// Lets tests (and a future admin endpoint) stop and resume virtual time.
#[derive(Debug, Default)]
pub struct ClockControl {
    pub paused: AtomicBool,
}

/// Moves virtual time forward by `speed` virtual seconds per real second, forever.
pub async fn run(
    feeder: Arc<Mutex<Feeder>>,
    start: i64,
    speed: f64,
    control: Arc<ClockControl>,
) -> Result<(), StoreError> {
    let mut virt = start as f64;
    let mut last = Instant::now();
    // a tick is a write transaction: often enough to look live, rare enough to stay cheap
    let tick = Duration::from_millis(200);
    // every ~30 s, memory the ticks freed (a day's changes, at high speeds) goes back to the
    // system, so a long-running genie stays as small as a new one
    let mut ticks: u64 = 0;
    loop {
        tokio::time::sleep(tick).await;
        ticks += 1;
        if ticks.is_multiple_of(150) {
            let f = feeder.clone();
            let _ = tokio::task::spawn_blocking(move || {
                let store = f.lock().expect("feeder").store.clone();
                if let Err(e) = store.release_memory() {
                    tracing::warn!(error = %e, "releasing memory failed");
                }
            })
            .await;
        }
        let now = Instant::now();
        let dt = now.duration_since(last).as_secs_f64();
        last = now;
        if control.paused.load(Ordering::SeqCst) {
            continue;
        }
        virt += dt * speed;
        let target = virt.floor() as i64;
        let f = feeder.clone();
        let res = tokio::task::spawn_blocking(move || {
            f.lock().expect("feeder").advance_to(target, &mut |_| {})
        })
        .await;
        match res {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, "clock tick failed");
                return Err(e);
            }
            Err(e) => {
                tracing::error!(error = %e, "clock task panicked");
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(dir: &std::path::Path, scenario: &Arc<Scenario>, start: Timestamp) -> Arc<Store> {
        let s = Store::open(dir).unwrap();
        s.bind_scenario(scenario, "small").unwrap();
        s.defer_indexes().unwrap();
        let st = crate::backfill::fill(scenario, &s, start, 1, 3 * 86_400, 1, &mut |_| {}).unwrap();
        s.build_indexes().unwrap();
        s.finish_fill(&st).unwrap();
        Arc::new(s)
    }

    /// A table's retained changes (seq, op, key, row) and its ids.
    type Table = (String, Vec<(i64, String, String, String)>, Vec<String>);

    /// Everything a store serves: every table's retained changes and ids.
    fn contents(s: &Store) -> Vec<Table> {
        s.resources()
            .iter()
            .map(|r| {
                let log = s.change_log(r.name()).unwrap();
                let mut ids = s.ids(r.name(), true, None).unwrap();
                ids.sort();
                let log = log
                    .into_iter()
                    .map(|c| (c.seq, c.op, c.key, c.row))
                    .collect();
                (r.name().to_string(), log, ids)
            })
            .collect()
    }

    #[test]
    fn releasing_the_engine_caches_and_resuming_mid_day_change_nothing() {
        let toml =
            "[shop]\nopened_on = \"2024-01-01\"\n[traffic]\norganic_sessions_per_day = 40.0\n";
        let scenario = || Arc::new(Scenario::from_toml("small.toml", toml, 1).unwrap());
        let start = Timestamp::parse_flexible("2024-02-10T06:00:00Z").unwrap();
        let steps: Vec<i64> = (1..=10).map(|i| start.0 + i * 7 * 3600).collect();

        // kept caches, one feeder throughout
        let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (sa, sb) = (scenario(), scenario());
        let a = filled(da.path(), &sa, start);
        let mut fa = Feeder::new(sa, a.clone(), 3 * 86_400).unwrap();
        for &t in &steps {
            fa.advance_to(t, &mut |_| {}).unwrap();
        }
        // released caches, and a new feeder (a restart) every step, mid-day
        let b = filled(db.path(), &sb, start);
        for &t in &steps {
            let mut fb = Feeder::new(sb.clone(), b.clone(), 3 * 86_400)
                .unwrap()
                .release_caches(true);
            fb.advance_to(t, &mut |_| {}).unwrap();
        }
        assert_eq!(a.clock().unwrap(), b.clock().unwrap());
        let (ca, cb) = (contents(&a), contents(&b));
        assert!(ca.iter().map(|(_, l, _)| l.len()).sum::<usize>() > 1000);
        assert_eq!(ca, cb);
    }
}
