//! Time-keyed tables ([`faux::Keep::TimeKeyedWindow`]: the clickstream) are served from the
//! engine on read, not stored: a 90-day store held 6.7 M events, 1.45 GB of table before its
//! indexes, more than everything else together. A day of rows is regenerated when a read
//! needs it, rendered once and sorted by (`_sort`, key), kept in a small cache of days and
//! dropped when idle. The store keeps, per table and day, only how many rows the day has
//! (`window_days`: its first day is where the window starts), and the change feed keeps its
//! small records (the row is rendered from the day when the feed is read).
//!
//! The rows are immutable and the engine deterministic, so a cached day never goes stale; what
//! a read may see of the clock's own day is bounded by the clock (`_sort <= reached`).
//!
//! `--dirty`: a row is rendered with the defects of its daily extract as it is generated
//! (its key draws first, so only the few planted rows are captured and rendered again); the
//! manifest already has them, written when the fill or the clock passed the row.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use faux::{Date, Scenario, Timestamp, Uuid};

use faux::{FieldVisitor, LogicalType, Row, RowSink};

use super::capture::decimal_text;
use super::queries::{Filters, ListQuery, Page};
use super::schema::{Resource, push_json_str};

/// Days kept rendered: a client paging through a table walks one day after another, and the
/// clock's own day is read most; a day of events is ~25 MB rendered.
const CACHED_DAYS: usize = 3;

/// A cached day not read for this long is dropped by [`OnRead::release_idle`].
const IDLE: Duration = Duration::from_secs(30);

/// The rows of one table's day, rendered and in keyset order.
#[derive(Debug, Default)]
pub(super) struct DayRows {
    json: String,
    rows: Vec<DayRow>,
}

#[derive(Debug)]
struct DayRow {
    sort: i64,
    created: i64,
    key: Box<str>,
    start: u32,
    end: u32,
}

impl DayRows {
    /// Regenerates and renders table `t`'s rows of `day`, the whole day: straight from the
    /// engine's rows into one buffer (`perf`: capturing each cell as an owned value first
    /// spent half the time in malloc). The buffer stays in generation order; the index is
    /// sorted.
    fn render(scenario: &Scenario, res: &Resource, day: Date) -> DayRows {
        let end = Timestamp(day.succ().start().0 - 1);
        let mut sink = Renderer {
            res,
            out: DayRows::default(),
            row: RowState::default(),
            defects: Vec::new(),
        };
        let Ok(()) = scenario.generate_held(res.def, day, end, &mut sink);
        let mut out = sink.out;
        out.rows
            .sort_unstable_by(|a, b| (a.sort, &a.key).cmp(&(b.sort, &b.key)));
        out.json.shrink_to_fit();
        out.rows.shrink_to_fit();
        out
    }

    fn json(&self, i: usize) -> &str {
        &self.json[self.rows[i].start as usize..self.rows[i].end as usize]
    }

    /// The first row after keyset position `(sort, key)`.
    fn after(&self, sort: i64, key: &str) -> usize {
        self.rows
            .partition_point(|r| (r.sort, &*r.key) <= (sort, key))
    }

    /// The first row with `_sort >= sort`.
    fn first_at(&self, sort: i64) -> usize {
        self.rows.partition_point(|r| r.sort < sort)
    }

    fn find(&self, sort: i64, key: &str) -> Option<usize> {
        self.rows
            .binary_search_by(|r| (r.sort, &*r.key).cmp(&(sort, key)))
            .ok()
    }
}

type Slot = Arc<OnceLock<Arc<DayRows>>>;

/// A cached day: (table, day), its rows (being rendered while the slot is empty), last read.
type Cached = ((usize, Date), Slot, Instant);

/// The regenerated days of a store's time-keyed tables.
#[derive(Debug, Default)]
pub(super) struct OnRead {
    scenario: OnceLock<Arc<Scenario>>,
    days: Mutex<Vec<Cached>>,
    /// Days rendered, for tests and tools ([`super::Store::days_rendered`]).
    rendered: std::sync::atomic::AtomicUsize,
}

/// What a read of a time-keyed table needs from the store: the clock and the window.
#[derive(Debug, Clone, Copy)]
pub(super) struct Window {
    /// The clock: rows with `_sort` after it are not there yet.
    pub as_of: i64,
    /// The first day the store holds rows of.
    pub from: Date,
}

impl Window {
    fn to(&self) -> Date {
        Timestamp(self.as_of).date()
    }
}

impl OnRead {
    pub(super) fn bind(&self, scenario: Arc<Scenario>) {
        let _ = self.scenario.set(scenario);
    }

    pub(super) fn days_rendered(&self) -> usize {
        self.rendered.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Table `t`'s rows of `day`, rendered once however many readers want them at once.
    pub(super) fn day(&self, res: &Resource, t: usize, day: Date) -> Arc<DayRows> {
        let slot = {
            let mut days = self.days.lock().expect("days");
            let now = Instant::now();
            match days.iter_mut().find(|(k, ..)| *k == (t, day)) {
                Some((_, slot, used)) => {
                    *used = now;
                    slot.clone()
                }
                None => {
                    if days.len() >= CACHED_DAYS
                        && let Some(oldest) = (0..days.len()).min_by_key(|&i| days[i].2)
                    {
                        days.swap_remove(oldest);
                    }
                    let slot = Slot::default();
                    days.push(((t, day), slot.clone(), now));
                    slot
                }
            }
        };
        slot.get_or_init(|| {
            self.rendered
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let scenario = self.scenario.get().expect("a bound store");
            Arc::new(DayRows::render(scenario, res, day))
        })
        .clone()
    }

    /// Drops the days not read for a while (their memory goes back with the next trim).
    pub(super) fn release_idle(&self) {
        let mut days = self.days.lock().expect("days");
        days.retain(|(_, _, used)| used.elapsed() < IDLE);
    }

    /// How many rows of day `day` are visible under `lo..=hi` (`_sort`), given the day's
    /// full count when known: a day wholly inside needs no rendering.
    fn count_in(
        &self,
        res: &Resource,
        t: usize,
        day: Date,
        (lo, hi): (i64, i64),
        f: &Filters,
        full: Option<i64>,
    ) -> i64 {
        let inside = day.start().0 >= lo && day.succ().start().0 - 1 <= hi;
        if let (true, Some(n), false) = (inside, full, created_bounded(res, f)) {
            return n;
        }
        let rows = self.day(res, t, day);
        let (a, b) = (rows.first_at(lo), rows.first_at(hi.saturating_add(1)));
        (a..b.max(a))
            .filter(|&i| created_ok(res, f, rows.rows[i].created))
            .count() as i64
    }

    /// A page of time-keyed table `t` under `q` (see [`super::Store::list`]); `counts` are the
    /// days' full row counts where known.
    pub(super) fn list(
        &self,
        res: &Resource,
        t: usize,
        q: &ListQuery,
        w: Window,
        counts: &HashMap<Date, i64>,
    ) -> Page {
        let f = q.filters;
        let (mut lo, mut hi) = (w.from.start().0, w.as_of);
        lo = lo.max(f.updated_min.unwrap_or(i64::MIN));
        hi = hi.min(f.updated_max.unwrap_or(i64::MAX));
        if !res.has_created_col() {
            lo = lo.max(f.created_min.unwrap_or(i64::MIN));
            hi = hi.min(f.created_max.unwrap_or(i64::MAX));
        }
        let mut page = Page::empty(w.as_of, None);
        if lo > hi {
            page.total = q.total.then_some(0);
            return page;
        }
        let days = || {
            let (a, b) = (Timestamp(lo).date(), Timestamp(hi).date().min(w.to()));
            (0..=a.days_until(b).max(-1)).map(move |i| a.add_days(i))
        };
        if q.total {
            page.total = Some(
                days()
                    .map(|d| self.count_in(res, t, d, (lo, hi), &f, counts.get(&d).copied()))
                    .sum(),
            );
        }
        let first = match &q.after {
            Some((s, _)) if *s > lo => Timestamp(*s).date(),
            _ => Timestamp(lo).date(),
        };
        let mut skip = q.skip.max(0);
        for d in days().filter(|d| *d >= first) {
            if page.rows.len() as i64 >= q.limit {
                break;
            }
            // whole days skipped by their count, without rendering them
            if skip > 0 && q.after.is_none() {
                let n = self.count_in(res, t, d, (lo, hi), &f, counts.get(&d).copied());
                if skip >= n {
                    skip -= n;
                    continue;
                }
            }
            let rows = self.day(res, t, d);
            let mut i = rows.first_at(lo);
            if let Some((s, k)) = &q.after {
                i = i.max(rows.after(*s, k));
            }
            while i < rows.rows.len() && page.rows.len() < q.limit as usize {
                let r = &rows.rows[i];
                if r.sort > hi {
                    break;
                }
                if created_ok(res, &f, r.created) {
                    if skip > 0 {
                        skip -= 1;
                    } else {
                        page.push_with(r.sort, &r.key, |o| o.push_str(rows.json(i)));
                    }
                }
                i += 1;
            }
        }
        page
    }

    /// Row `id` of time-keyed table `t`, if the window holds it: its day is in its id.
    pub(super) fn get(&self, res: &Resource, t: usize, id: &str, w: Window) -> Option<String> {
        let ms = Uuid::parse_hyphenated(id)?.v7_millis()?;
        let sort = ms.div_euclid(1000);
        let day = Timestamp(sort).date();
        if day < w.from || sort > w.as_of {
            return None;
        }
        let rows = self.day(res, t, day);
        rows.find(sort, id).map(|i| rows.json(i).to_string())
    }

    /// The ids of table `t`'s rows in the window, within a `_sort` range.
    pub(super) fn ids(
        &self,
        res: &Resource,
        t: usize,
        w: Window,
        range: Option<(i64, i64)>,
    ) -> Vec<String> {
        let (lo, hi) = range.unwrap_or((i64::MIN, i64::MAX));
        let mut out = Vec::new();
        let mut d = w.from;
        while d <= w.to() {
            let rows = self.day(res, t, d);
            out.extend(
                rows.rows
                    .iter()
                    .filter(|r| r.sort <= w.as_of && r.sort >= lo && r.sort <= hi)
                    .map(|r| r.key.to_string()),
            );
            d = d.succ();
        }
        out
    }
}

fn created_bounded(res: &Resource, f: &Filters) -> bool {
    res.has_created_col() && (f.created_min.is_some() || f.created_max.is_some())
}

fn created_ok(res: &Resource, f: &Filters, created: i64) -> bool {
    !res.has_created_col()
        || (f.created_min.is_none_or(|m| created >= m)
            && f.created_max.is_none_or(|m| created <= m))
}

/// Renders the engine's rows as the API's JSON (what [`super::render`] gives for a stored
/// row), noting each row's keyset position.
struct Renderer<'a> {
    res: &'a Resource,
    out: DayRows,
    row: RowState,
    defects: Vec<faux::dirty::Defect>,
}

#[derive(Default)]
struct RowState {
    col: usize,
    start: usize,
    key: String,
    sort: i64,
    created: i64,
}

impl RowSink for Renderer<'_> {
    type Error = std::convert::Infallible;
    fn row<R: Row>(&mut self, row: &R) -> Result<(), Self::Error> {
        self.render(row);
        // --dirty: the few rows whose key draws a defect are rendered again, planted
        if let Some(dirt) = self.res.dirt.get()
            && let Some(planted) = dirt.plant_regenerated(
                self.res,
                row,
                &self.row.key,
                self.row.sort,
                &mut self.defects,
            )
        {
            // (the manifest has them: recorded when the fill or the clock passed the row)
            self.defects.clear();
            self.out.json.truncate(self.row.start);
            self.render(&planted);
        }
        let r = std::mem::take(&mut self.row);
        self.out.rows.push(DayRow {
            sort: r.sort,
            created: r.created,
            key: r.key.into_boxed_str(),
            start: r.start as u32,
            end: self.out.json.len() as u32,
        });
        Ok(())
    }
}

impl Renderer<'_> {
    /// Renders `row` at the end of the buffer, noting its keyset position in `self.row`.
    fn render<R: Row>(&mut self, row: &R) {
        self.row = RowState {
            start: self.out.json.len(),
            ..RowState::default()
        };
        self.out.json.push('{');
        row.visit(self);
        self.out.json.push('}');
    }

    /// Starts the current column: its name, and the key/keyset bookkeeping.
    fn begin(&mut self, text: Option<&str>, secs: Option<i64>) {
        let c = self.row.col;
        if c > 0 {
            self.out.json.push(',');
        }
        self.out.json.push_str(self.res.json_name(c));
        if self.res.pk_idx.first() == Some(&c)
            && let Some(t) = text
        {
            self.row.key = t.to_string();
        }
        if c == self.res.sort_idx {
            self.row.sort = secs.unwrap_or(0);
        }
        if c == self.res.created_idx {
            self.row.created = secs.unwrap_or(0);
        }
        self.row.col += 1;
    }

    /// Text, quoted — except in decimal and JSON columns, whose text is JSON already (as
    /// [`super::render`] treats stored text).
    fn string(&mut self, s: &str, secs: Option<i64>) {
        let ty = self.res.def.columns[self.row.col].ty;
        self.begin(Some(s), secs);
        match ty {
            LogicalType::Decimal { .. } | LogicalType::Json => self.out.json.push_str(s),
            _ => push_json_str(&mut self.out.json, s),
        }
    }

    fn raw(&mut self, s: &str) {
        self.begin(None, None);
        self.out.json.push_str(s);
    }
}

impl FieldVisitor for Renderer<'_> {
    fn text(&mut self, v: &str) {
        self.string(v, None);
    }
    fn hex_uuid(&mut self, v: &Uuid) {
        self.string(ascii(&v.hex()), None);
    }
    fn uuid(&mut self, v: &Uuid) {
        self.string(ascii(&v.hyphenated()), None);
    }
    fn int(&mut self, v: i64) {
        let bool_col = matches!(self.res.def.columns[self.row.col].ty, LogicalType::Bool);
        match bool_col {
            true => self.raw(if v != 0 { "true" } else { "false" }),
            false => self.raw(itoa::Buffer::new().format(v)),
        }
    }
    fn decimal(&mut self, units: i64) {
        let scale = match self.res.def.columns[self.row.col].ty {
            LogicalType::Decimal { scale, .. } => scale,
            _ => 0,
        };
        self.raw(&decimal_text(units, scale));
    }
    fn bool(&mut self, v: bool) {
        self.raw(if v { "true" } else { "false" });
    }
    fn date(&mut self, v: Date) {
        self.string(ascii(&v.iso()), Some(v.start().0));
    }
    fn timestamp(&mut self, v: Timestamp) {
        self.string(ascii(&v.rfc3339()), Some(v.0));
    }
    fn json(&mut self, v: &str) {
        self.raw(v);
    }
    fn null(&mut self) {
        self.raw("null");
    }
}

/// The engine's ASCII renderings (ids, dates, timestamps) as text.
fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}
