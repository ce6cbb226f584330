//! The virtual clock: it feeds the engine's change records into the store as virtual time
//! passes their `ts`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use faux::{Date, Scenario, Timestamp};

use crate::store::{ClockState, Pending, Store, StoreError, day_changes};

/// Replays one day's change records at a time into the store.
#[derive(Debug)]
pub struct Feeder {
    scenario: Arc<Scenario>,
    store: Arc<Store>,
    day: Date,
    pending: Vec<Pending>,
    pos: usize,
    loaded: bool,
    last_seq: i64,
    retention: i64,
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
            pending: Vec::new(),
            pos: 0,
            loaded: false,
            last_seq,
            retention: retention_secs,
        })
    }

    /// Applies every change with `ts <= target`, a day per transaction, and moves the clock.
    /// `on_day` is told each day that is finished (for backfill progress).
    pub fn advance_to(
        &mut self,
        target: i64,
        on_day: &mut dyn FnMut(Date),
    ) -> Result<ClockState, StoreError> {
        let retain_after = target.saturating_sub(self.retention);
        // the next day's changes, generated while this day's are written (backfill)
        let mut next: Option<Vec<Pending>> = None;
        loop {
            if !self.loaded {
                let last = self.last_seq;
                self.pending = match next.take() {
                    Some(p) => p,
                    None => day_changes(&self.scenario, self.store.resources(), self.day),
                };
                // on restart the clock's day is partly applied already
                self.pending.retain(|p| p.seq > last);
                self.pos = 0;
                self.loaded = true;
            }
            let end = self.day.succ().start().0;
            let from = self.pos;
            while self.pos < self.pending.len() && self.pending[self.pos].ts <= target {
                self.pos += 1;
            }
            let reached = target.min(end - 1);
            let (scenario, store, batch) =
                (&self.scenario, &self.store, &self.pending[from..self.pos]);
            let st = if target >= end {
                let following = self.day.succ();
                std::thread::scope(|s| {
                    let generating =
                        s.spawn(|| day_changes(scenario, store.resources(), following));
                    let st = store.apply(batch, reached, retain_after);
                    match generating.join() {
                        Ok(p) => next = Some(p),
                        Err(panic) => std::panic::resume_unwind(panic),
                    }
                    st
                })?
            } else {
                store.apply(batch, reached, retain_after)?
            };
            self.last_seq = st.last_seq;
            if target < end {
                return Ok(st);
            }
            on_day(self.day);
            self.day = self.day.succ();
            self.loaded = false;
            self.pending = Vec::new();
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
