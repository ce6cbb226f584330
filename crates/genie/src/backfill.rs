//! The first fill of a new store: the state of the shop as of the start, written once — not
//! the history replayed change by change.
//!
//! What a store holds ([`faux::Keep`]): every row ever created of the tables others refer to
//! from any time (customers, products), whole orders (an order, its lines, payment,
//! shipment and refunds) from the history window and the look-back before it in which an
//! order can still change, the sessions those orders were placed in, and the rest (the
//! clickstream, daily spend) from the history window. Each row is written once, in its state
//! as of the start — except the clickstream's, which is regenerated on read: of it only each
//! day's row count is written (and, `--dirty`, its defects' manifest entries). The change feed holds the records of the retention window, as the clock
//! would have left it.
//!
//! Days are generated on worker threads while one thread writes, a transaction per day. The
//! clock is set last: a store without one is incomplete, and the next start empties it and
//! fills it again ([`Store::clear_incomplete`]), so an interrupted fill is never served.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::Instant;

use faux::pool::Claims;
use faux::{Date, Scenario, Timestamp};

use crate::store::{ClockState, Pending, StateSink, Store, StoreError, WindowDay, capture};

/// How far a fill has come, for a progress line.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub days_done: usize,
    pub days: usize,
    /// Rows and feed records written so far.
    pub rows: u64,
    pub elapsed_secs: f64,
}

impl Progress {
    pub fn rows_per_sec(&self) -> f64 {
        self.rows as f64 / self.elapsed_secs.max(1e-9)
    }
}

/// One day's share of the fill: the keyed tables held from it, and whether its change feed
/// is needed (for the retained feed, or for the rows of tables without a key of their own,
/// which are known by the sequence number of their insert).
struct Day {
    day: Date,
    tables: Vec<usize>,
    changes: bool,
}

/// What a day's worker hands the writer.
struct Piece {
    rows: Vec<Pending>,
    feed: Vec<Pending>,
    /// Row counts of the day's regenerated tables (`None`: the start's day, not over).
    window_days: Vec<(usize, Date, Option<i64>)>,
    /// `--dirty`: the defects the regenerated tables' rows of the day are served with.
    window_defects: Vec<faux::dirty::Defect>,
    /// The last sequence number at or before the start, and the last one before the retained
    /// feed begins, among the day's records.
    last_seq: Option<i64>,
    pruned_seq: Option<i64>,
}

/// Fills an empty store with the state at `start` for a history window of `history_days`
/// and a feed retention of `retention_secs`, on `threads` generating threads; sets the clock
/// last. `on_progress` is told after every day written.
pub fn fill(
    scenario: &Scenario,
    store: &Store,
    start: Timestamp,
    history_days: i32,
    retention_secs: i64,
    threads: usize,
    on_progress: &mut dyn FnMut(Progress),
) -> Result<ClockState, StoreError> {
    let began = Instant::now();
    let from = start.date().add_days(-history_days);
    let resources = store.resources();
    let feed_from = (start.0 - retention_secs).max(from.start().0);
    let keyless = resources.iter().any(|r| r.keyless());
    let dirty = store.dirty_profile() != faux::dirty::Profile::Off;
    let mut days: BTreeMap<Date, Day> = BTreeMap::new();
    for (t, def) in scenario.tables().iter().enumerate() {
        if resources[t].keyless() {
            continue;
        }
        for d in scenario.held_days(def, from, start) {
            days.entry(d).or_insert_with(|| Day::new(d)).tables.push(t);
        }
    }
    let mut d = from;
    while d <= start.date() {
        if keyless || d >= Timestamp(feed_from).date() {
            days.entry(d).or_insert_with(|| Day::new(d)).changes = true;
        }
        d = d.succ();
    }
    let days: Vec<Day> = days.into_values().collect();

    let work = |day: &Day| -> Piece {
        let mut rows = Vec::new();
        let mut window_days = Vec::new();
        let mut window_defects = Vec::new();
        for &t in &day.tables {
            let def = scenario.tables()[t];
            // regenerated on read: only the day's row count is kept, and the defects its rows
            // are served with (up to the start, on the start's day)
            if resources[t].regenerated {
                let full = day.day < start.date();
                let mut sink = WindowDay::new(&resources[t], start.0);
                if full || dirty {
                    let Ok(()) = scenario.generate_held(def, day.day, start, &mut sink);
                }
                window_days.push((t, day.day, full.then_some(sink.rows)));
                window_defects.append(&mut sink.defects);
                continue;
            }
            let mut sink = StateSink::new(&resources[t], t);
            let Ok(()) = scenario.generate_held(def, day.day, start, &mut sink);
            rows.append(&mut sink.rows);
        }
        let mut piece = Piece {
            rows,
            feed: Vec::new(),
            window_days,
            window_defects,
            last_seq: None,
            pruned_seq: None,
        };
        if day.changes {
            for c in scenario.changes(day.day).iter() {
                if c.ts > start {
                    break;
                }
                piece.last_seq = Some(c.seq);
                if c.ts.0 < feed_from {
                    piece.pruned_seq = Some(c.seq);
                }
                let res = &resources[c.table];
                let keep_row = res.keyless() && c.ts >= from.start();
                let keep_record = c.ts.0 >= feed_from;
                if keep_row || keep_record {
                    let p = capture(res, c);
                    if keep_row {
                        piece.rows.push(p.clone());
                    }
                    if keep_record {
                        piece.feed.push(p);
                    }
                }
            }
        }
        piece
    };

    // what came before the start's day counts as applied, and what came before the feed's
    // first day as pruned — unless the feed reaches back to the first day the store holds
    // rows of: then it holds every change of every row, and a client may read it from the
    // beginning
    let feed_day = Timestamp(feed_from).date();
    let earliest = days.first().map_or(feed_day, |d| d.day);
    let mut state = ClockState {
        reached: start.0,
        last_seq: faux::first_seq(start.date()) - 1,
        pruned_seq: if feed_day <= earliest {
            0
        } else {
            faux::first_seq(feed_day) - 1
        },
    };
    let mut progress = Progress {
        days_done: 0,
        days: days.len(),
        rows: 0,
        elapsed_secs: 0.0,
    };
    let claims = Claims::new(days.len());
    let workers = faux::pool::workers(threads, days.len());
    std::thread::scope(|s| -> Result<(), StoreError> {
        // a day or two in flight per worker: a day of events is tens of megabytes
        let (tx, rx) = mpsc::sync_channel::<Piece>(workers);
        for _ in 0..workers {
            let tx = tx.clone();
            let (claims, days, work) = (&claims, &days, &work);
            s.spawn(move || {
                while let Some(i) = claims.next() {
                    if tx.send(work(&days[i])).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        // days are batched into transactions of ~25k rows: a commit per day would cost more
        // than the writing on the thousands of small days of a dimension table's past
        let mut batch = Piece {
            rows: Vec::new(),
            feed: Vec::new(),
            window_days: Vec::new(),
            window_defects: Vec::new(),
            last_seq: None,
            pruned_seq: None,
        };
        let mut pending_days = 0;
        let mut pieces = rx.into_iter().peekable();
        while let Some(mut piece) = pieces.next() {
            batch.rows.append(&mut piece.rows);
            batch.feed.append(&mut piece.feed);
            batch.window_days.append(&mut piece.window_days);
            batch.window_defects.append(&mut piece.window_defects);
            state.last_seq = state.last_seq.max(piece.last_seq.unwrap_or(i64::MIN));
            state.pruned_seq = state.pruned_seq.max(piece.pruned_seq.unwrap_or(i64::MIN));
            pending_days += 1;
            let last = pieces.peek().is_none();
            if !last && batch.rows.len() + batch.feed.len() < 25_000 {
                continue;
            }
            let written = store
                .load(&batch.rows, &batch.feed)
                .and_then(|()| store.set_window_days(&batch.window_days))
                .and_then(|()| store.record_window_defects(&batch.window_defects));
            if let Err(e) = written {
                // stop the workers; they finish the day they are on
                claims.fail();
                return Err(e);
            }
            progress.days_done += pending_days;
            progress.rows += (batch.rows.len() + batch.feed.len()) as u64;
            progress.elapsed_secs = began.elapsed().as_secs_f64();
            on_progress(progress);
            pending_days = 0;
            batch.rows.clear();
            batch.feed.clear();
            batch.window_days.clear();
            batch.window_defects.clear();
        }
        Ok(())
    })?;
    Ok(state)
}

impl Day {
    fn new(day: Date) -> Day {
        Day {
            day,
            tables: Vec::new(),
            changes: false,
        }
    }
}
