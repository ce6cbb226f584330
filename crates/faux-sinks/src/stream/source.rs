//! Which records a stream carries, day by day, in sequence order.
//!
//! A day's records are the engine's change feed for that day ([`Scenario::changes`]: all
//! tables, in `seq` order), limited to the selected tables and cut to the run's [`Bounds`].
//! The producer thread encodes a day's feed a few slices at a time and hands the messages to
//! the publisher in chunks through a bounded channel, while the next day's feed is worked out
//! beside it; so memory holds about two days' feeds plus a few chunks of messages, whatever
//! the length of the run.

use faux::feed::day_of_seq;
use faux::{ChangeRecord, Date, Scenario, TableDef, Timestamp};

use super::message::{Batch, Message};

/// The part of the simulation a run streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Records written at or after this instant (unless resuming after a sequence number).
    pub start: Timestamp,
    /// Records after this sequence number instead of from `start`: how a stopped stream
    /// continues exactly where its last confirmed message left it.
    pub after_seq: Option<i64>,
    /// Records written at or before this instant (inclusive); `None`: no end.
    pub until: Option<Timestamp>,
}

impl Bounds {
    /// The first day that can hold a record of the run.
    pub fn first_day(&self) -> Date {
        match self.after_seq {
            Some(seq) => day_of_seq(seq),
            None => self.start.date(),
        }
    }

    /// Whether the run carries the record numbered `seq`, written at `ts`.
    pub fn keeps(&self, seq: i64, ts: Timestamp) -> bool {
        let from = match self.after_seq {
            Some(after) => seq > after,
            None => ts >= self.start,
        };
        from && self.until.is_none_or(|u| ts <= u)
    }

    /// Whether `day` is past the end of the run.
    pub fn past(&self, day: Date) -> bool {
        self.until.is_some_and(|u| day > u.date())
    }
}

/// Encodes the change records of a run's tables into [`Message`]s.
struct Encoding<'a> {
    scenario: &'a Scenario,
    /// By table index: whether the run carries the table.
    selected: Vec<bool>,
}

impl<'a> Encoding<'a> {
    fn new(scenario: &'a Scenario, tables: &[&'static TableDef]) -> Encoding<'a> {
        let selected = scenario
            .tables()
            .iter()
            .map(|t| tables.iter().any(|s| std::ptr::eq(*s, *t)))
            .collect();
        Encoding { scenario, selected }
    }

    /// The messages of `records` (in their order) of the selected tables that `bounds` keeps,
    /// encoded on up to `threads` threads in slices; the result does not depend on it.
    fn encode(
        &self,
        records: &[ChangeRecord],
        bounds: Option<&Bounds>,
        threads: usize,
    ) -> Vec<Vec<Message>> {
        let slices = records.len().div_ceil(SLICE);
        crate::pool::map(slices, threads, |i| {
            let part = &records[i * SLICE..((i + 1) * SLICE).min(records.len())];
            let mut batch = Batch::new(self.scenario.tables(), part.len());
            for c in part
                .iter()
                .filter(|c| self.selected[c.table] && bounds.is_none_or(|b| b.keeps(c.seq, c.ts)))
            {
                batch.push(c);
            }
            batch.finish()
        })
    }
}

/// Records encoded as one pool item: a few large slices, as encoding is cheap per record and
/// threads are not; also the most messages handed to the publisher at a time.
const SLICE: usize = 2048;

/// The records of `tables` written on `day`, in sequence order, before any [`Bounds`] cut:
/// the day's change feed ([`Scenario::changes`], computed once for all tables), encoded.
///
/// The feed is encoded on up to `threads` threads, in slices of the feed; the result does not
/// depend on it.
pub fn day_messages(
    scenario: &Scenario,
    tables: &[&'static TableDef],
    day: Date,
    threads: usize,
) -> Vec<Message> {
    let feed = scenario.changes(day);
    Encoding::new(scenario, tables)
        .encode(&feed, None, threads)
        .into_iter()
        .flatten()
        .collect()
}

/// Generates the run's records from its first day on and sends them in chunks until the
/// bounds end or the receiver goes away (the run stopped: a count reached, an error).
///
/// A pipeline: the next day's change feed is worked out on another thread while the day's
/// records are encoded, a few slices at a time, and handed over; so the cores stay busy
/// between days and a day's messages are never all in memory at once. At the start the
/// first day's look-back (what its feed needs from earlier days) is worked out once, then
/// the first two days' feeds side by side.
pub fn produce(
    scenario: &Scenario,
    tables: &[&'static TableDef],
    bounds: Bounds,
    threads: usize,
    tx: tokio::sync::mpsc::Sender<Vec<Message>>,
) {
    let encoding = Encoding::new(scenario, tables);
    let last = |day: Date| bounds.past(day) || day.year() > faux::time::MAX_YEAR;
    let feed_of = |day: Date| (!last(day)).then_some(day);
    std::thread::scope(|s| {
        let spawn = |d: Date| (d, s.spawn(move || scenario.changes_uncached(d)));
        let Some(first) = feed_of(bounds.first_day()) else {
            return;
        };
        // The first day's look-back once, here; then the first day's feed here while the
        // second day's is worked out beside it (its look-back is then the first day's, kept),
        // not after it: waiting left a core idle while the first day's feed was assembled
        // and sorted.
        scenario.prepare(first);
        let mut next = feed_of(first.succ()).map(spawn);
        let mut current = Some(scenario.changes_uncached(first));
        while let Some(feed) = current.take() {
            for group in feed.chunks(SLICE * threads.max(1)) {
                for chunk in encoding.encode(group, Some(&bounds), threads) {
                    if !chunk.is_empty() && tx.blocking_send(chunk).is_err() {
                        return;
                    }
                }
            }
            drop(feed);
            if let Some((day, worker)) = next.take() {
                current = Some(match worker.join() {
                    Ok(feed) => feed,
                    Err(panic) => std::panic::resume_unwind(panic),
                });
                // the day after starts before this one is encoded
                next = feed_of(day.succ()).map(spawn);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use faux::view::SEQ_PER_DAY;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse_flexible(s).unwrap()
    }

    #[test]
    fn merges_tables_in_sequence_order() {
        let scenario = Scenario::by_name("shiny-rocks", 42).unwrap();
        let tables = scenario.tables().to_vec();
        let day = Date::from_ymd(2024, 5, 2).unwrap();
        let one = day_messages(&scenario, &tables, day, 1);
        let many = day_messages(&scenario, &tables, day, 3);
        assert_eq!(one, many);
        assert!(one.windows(2).all(|w| w[0].seq < w[1].seq));
        let names: std::collections::BTreeSet<_> = one.iter().map(|m| m.table).collect();
        assert_eq!(names.len(), tables.len());
    }

    #[test]
    fn bounds_cut_by_time_or_by_sequence() {
        let b = Bounds {
            start: ts("2024-01-02T10:00:00Z"),
            after_seq: None,
            until: Some(ts("2024-01-02T11:00:00Z")),
        };
        assert!(!b.keeps(1, ts("2024-01-02T09:59:59Z")));
        assert!(b.keeps(2, ts("2024-01-02T10:00:00Z")));
        assert!(b.keeps(3, ts("2024-01-02T11:00:00Z")));
        assert!(!b.keeps(4, ts("2024-01-02T11:00:01Z")));
        assert_eq!(b.first_day(), Date::from_ymd(2024, 1, 2).unwrap());
        assert!(!b.past(Date::from_ymd(2024, 1, 2).unwrap()));
        assert!(b.past(Date::from_ymd(2024, 1, 3).unwrap()));

        let day = Date::from_ymd(2024, 1, 5).unwrap();
        let after = day.days_since_epoch() as i64 * SEQ_PER_DAY + 17;
        let r = Bounds {
            after_seq: Some(after),
            until: None,
            ..b
        };
        assert_eq!(r.first_day(), day);
        assert!(!r.keeps(after, ts("2024-01-05T10:00:00Z")));
        assert!(r.keeps(after + 1, ts("2024-01-05T10:00:00Z")));
        assert!(!r.past(Date::from_ymd(3000, 1, 1).unwrap()));
    }
}
