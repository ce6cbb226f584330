//! The e-commerce scenario's rows per table, day and view.
//!
//! Every view is computed from the same entities: customers and products scanned by index,
//! sessions and events from the day's plans, and orders (with their payments, shipments,
//! refunds and lines) from the origins of the last [`MAX_LIFECYCLE_DAYS`] days.

use std::sync::Arc;

use crate::Tunable;
use crate::feed::{ChangeRecord, Op, Record, first_seq};
use crate::table::{RowSink, Shard, TableDef};
use crate::time::{Date, Timestamp};
use crate::view::View;

use super::lifecycle::MAX_LIFECYCLE_DAYS;
use super::tables::*;
use super::{Ecommerce, OrderCtx};

/// The tables whose rows come from orders and their lifecycles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Orders,
    OrderItems,
    Payments,
    Shipments,
    Refunds,
}

impl Family {
    const ALL: [Family; 5] = [
        Family::Orders,
        Family::OrderItems,
        Family::Payments,
        Family::Shipments,
        Family::Refunds,
    ];

    /// The order-family member `t` is, if any.
    fn of(t: Table) -> Option<Family> {
        match t {
            Table::Orders => Some(Family::Orders),
            Table::OrderItems => Some(Family::OrderItems),
            Table::Payments => Some(Family::Payments),
            Table::Shipments => Some(Family::Shipments),
            Table::Refunds => Some(Family::Refunds),
            Table::Customers
            | Table::Products
            | Table::Sessions
            | Table::Events
            | Table::MarketingSpend => None,
        }
    }
}

/// One day of the order tables: the extract, and the versions written that day.
#[derive(Debug, Default)]
pub struct OrderFamily {
    extract: [Vec<Rec>; 5],
}

/// The order family of the orders whose session began on a day, as of an instant: what a live
/// source holds of them ([`Ecommerce::generate_held`]).
#[derive(Debug)]
pub struct HeldFamily {
    at: Timestamp,
    rows: [Vec<Rec>; 5],
}

fn end_of(day: Date) -> Timestamp {
    Timestamp(day.start().0 + 86_399)
}

fn within(t: Timestamp, day: Date) -> bool {
    t.date() == day
}

fn table_of(def: &TableDef) -> Table {
    Table::of(def).expect("an e-commerce table")
}

impl Ecommerce {
    /// The rows of `table` for `day` in the extract or snapshot view (the changes view is
    /// [`Ecommerce::changes`], through [`crate::Scenario::generate`]).
    pub fn generate<S: RowSink>(
        &self,
        table: &'static TableDef,
        day: Date,
        shard: Shard,
        view: View,
        sink: &mut S,
    ) -> Result<(), S::Error> {
        let t = table_of(table);
        let at = match view {
            View::Snapshot(at) if day > at.date() => return Ok(()),
            View::Snapshot(at) => Some(at),
            View::Extract | View::Changes => None,
        };
        if t == Table::Events {
            // the biggest table streams from its sessions (shards cut by session), so a
            // day's events are never all in memory
            let at = at.unwrap_or(end_of(day));
            let plans = self.event_sessions(day);
            for plan in shard.slice(&plans) {
                for e in self.session_detail(plan).events {
                    if within(e.occurred_at, day) && e.occurred_at <= at {
                        sink.row(&e)?;
                    }
                }
            }
            return Ok(());
        }
        match (at, Family::of(t)) {
            (None, Some(f)) => {
                // shared with the cache, not copied
                let family = self.order_family(day);
                let rows = &family.extract[f as usize];
                for rec in shard.slice(rows) {
                    sink.row(rec)?;
                }
            }
            (None, None) => {
                let rows = self.rows_at_end_of(t, day);
                for rec in shard.slice(&rows) {
                    sink.row(rec)?;
                }
            }
            (Some(at), _) => {
                let rows = self.rows_created_on(t, day, at);
                for rec in shard.slice(&rows) {
                    sink.row(rec)?;
                }
            }
        }
        Ok(())
    }

    /// The rows of `table` a live source holds from `day`, in their state as of `at`: the
    /// snapshot view's partition, except that the order tables are grouped by the day of the
    /// order's session, so that a store holding some days holds whole orders (an order with
    /// its lines, payment, shipment and refunds, whenever those were created).
    pub fn generate_held<S: RowSink>(
        &self,
        table: &'static TableDef,
        day: Date,
        at: Timestamp,
        sink: &mut S,
    ) -> Result<(), S::Error> {
        let Some(f) = Family::of(table_of(table)) else {
            return self.generate(table, day, Shard::ALL, View::Snapshot(at), sink);
        };
        if day > at.date() {
            return Ok(());
        }
        let held = match super::cache_get(self.held_family_cache(), day) {
            Some(h) if h.at == at => h,
            _ => {
                let mut rows: [Vec<Rec>; 5] = Default::default();
                for o in self.orders_placed(day).iter() {
                    if o.lifecycle.placed_at > at {
                        continue;
                    }
                    // the lines (the session's detailed simulation) once for the five tables
                    let (lines, money) = self.order_lines(o);
                    for f in Family::ALL {
                        rows[f as usize].extend(self.order_rows_with(f, o, &lines, &money, at));
                    }
                }
                let h = Arc::new(HeldFamily { at, rows });
                // a day per worker thread, its five tables one after the other
                super::cache_put(self.held_family_cache(), day, h.clone(), 8);
                h
            }
        };
        for rec in &held.rows[f as usize] {
            sink.row(rec)?;
        }
        Ok(())
    }

    /// Orders placed in the look-back window of `day`, a list per day (oldest first). Shared
    /// with the cache, not copied: the window holds ~43 days of orders.
    fn orders_in_window(&self, day: Date) -> Vec<Arc<Vec<OrderCtx>>> {
        (0..=MAX_LIFECYCLE_DAYS)
            .rev()
            .map(|back| self.orders_placed(day.add_days(-back)))
            .collect()
    }

    /// Version times of order-family table `f` for order `o`.
    fn order_versions(f: Family, o: &OrderCtx) -> Vec<Timestamp> {
        let l = &o.lifecycle;
        match f {
            Family::Orders => l.order.iter().map(|(at, _)| *at).collect(),
            Family::Payments => l.payment.iter().map(|(at, _)| *at).collect(),
            Family::Shipments => l.shipment.iter().map(|(at, _)| *at).collect(),
            Family::Refunds => l.refund.iter().map(|r| r.at).collect(),
            Family::OrderItems => vec![l.placed_at],
        }
    }

    /// Rows of order-family table `f` for order `o` as of `at`.
    fn order_rows(&self, f: Family, o: &OrderCtx, at: Timestamp) -> Vec<Rec> {
        let (lines, money) = self.order_lines(o);
        self.order_rows_with(f, o, &lines, &money, at)
    }

    fn order_rows_with(
        &self,
        f: Family,
        o: &OrderCtx,
        lines: &[(super::sessions::Line, i64)],
        money: &super::Money,
        at: Timestamp,
    ) -> Vec<Rec> {
        let money = *money;
        match f {
            Family::Orders => self
                .order_row(o, &money, at)
                .map(Rec::Orders)
                .into_iter()
                .collect(),
            Family::Payments => self
                .payment_row(o, &money, at)
                .map(Rec::Payments)
                .into_iter()
                .collect(),
            Family::Shipments => self
                .shipment_row(o, at)
                .map(Rec::Shipments)
                .into_iter()
                .collect(),
            Family::Refunds => self
                .refund_row(o, &money, at)
                .map(Rec::Refunds)
                .into_iter()
                .collect(),
            Family::OrderItems if o.lifecycle.placed_at <= at => lines
                .iter()
                .enumerate()
                .map(|(n, (line, unit_price))| {
                    Rec::OrderItems(OrderItem {
                        order_id: o.lifecycle.order_id,
                        line_number: n as i64 + 1,
                        product_id: line.product.id,
                        quantity: line.quantity,
                        unit_price: *unit_price,
                        created_at: o.lifecycle.placed_at,
                    })
                })
                .collect(),
            Family::OrderItems => Vec::new(),
        }
    }

    /// The sessions with events on `day`: the day before's that run past midnight, then the
    /// day's own.
    fn event_sessions(&self, day: Date) -> Vec<super::sessions::Plan> {
        let before = self.day_plans(day.add_days(-1));
        let today = self.day_plans(day);
        // a payment failure lands at most 30 s after its session's end
        let spill = before.all().filter(|p| p.end.0 + 60 >= day.start().0);
        spill.chain(today.all()).cloned().collect()
    }

    /// The events of `day`, in session order (the feed works them out in slices, in
    /// parallel: see [`Ecommerce::changes`]).
    fn events_on(&self, day: Date) -> Vec<Event> {
        self.events_of(&self.event_sessions(day), day)
    }

    /// The events on `day` of the sessions `plans`, in session order.
    fn events_of(&self, plans: &[super::sessions::Plan], day: Date) -> Vec<Event> {
        // room for a little more than the default shop's ~5 events a session: growing the
        // list by doubling took fresh memory for each slice several times
        let mut out = Vec::with_capacity(plans.len() * 6);
        for plan in plans {
            out.extend(
                self.session_detail(plan)
                    .events
                    .into_iter()
                    .filter(|e| within(e.occurred_at, day)),
            );
        }
        out
    }

    /// The daily extract: rows of table `t` changed on `day`, in their end-of-day state.
    pub fn rows_at_end_of(&self, t: Table, day: Date) -> Vec<Rec> {
        let end = end_of(day);
        if let Some(f) = Family::of(t) {
            return self.order_family(day).extract[f as usize].clone();
        }
        match t {
            Table::Customers => self
                .customers_touched(day)
                .into_iter()
                .filter(|i| !self.customer_versions(*i, day.start(), end).is_empty())
                .map(|i| Rec::Customers(self.customer_at(i, end)))
                .collect(),
            Table::Products => (0..self.catalog.count_by(day))
                .map(|k| self.catalog.base(k))
                .filter(|p| {
                    !self
                        .catalog
                        .versions_between(p, day.start(), end)
                        .is_empty()
                })
                .map(|p| Rec::Products(self.catalog.row_at(&p, end)))
                .collect(),
            Table::Sessions => {
                // the day's sessions, and the day before's that ended on it (at most a few
                // hours long, none spans two midnights)
                let before = self.day_plans(day.add_days(-1));
                let today = self.day_plans(day);
                before
                    .all()
                    .filter(|p| within(p.end, day))
                    .chain(today.all())
                    .map(|p| Rec::Sessions(self.session_row(p, end)))
                    .collect()
            }
            Table::Events => self.events_on(day).into_iter().map(Rec::Events).collect(),
            Table::MarketingSpend => self
                .marketing_spend(day)
                .into_iter()
                .map(Rec::MarketingSpend)
                .collect(),
            Table::Orders
            | Table::OrderItems
            | Table::Payments
            | Table::Shipments
            | Table::Refunds => unreachable!("order tables are answered above"),
        }
    }

    /// The extract of the five order tables for `day`, computed once (each order's lines need
    /// its session's detailed simulation).
    fn order_family(&self, day: Date) -> Arc<OrderFamily> {
        if let Some(f) = super::cache_get(self.order_family_cache(), day) {
            return f;
        }
        let end = end_of(day);
        let mut family = OrderFamily::default();
        let window = self.orders_in_window(day);
        for o in window.iter().flat_map(|d| d.iter()) {
            let touched: Vec<(Family, Vec<Timestamp>)> = Family::ALL
                .iter()
                .map(|f| (*f, Self::order_versions(*f, o)))
                .collect();
            if !touched
                .iter()
                .any(|(_, v)| v.iter().any(|at| within(*at, day)))
            {
                continue;
            }
            let (lines, money) = self.order_lines(o);
            for (f, versions) in touched {
                if !versions.iter().any(|at| within(*at, day)) {
                    continue;
                }
                family.extract[f as usize].extend(self.order_rows_with(f, o, &lines, &money, end));
            }
        }
        let family = Arc::new(family);
        // the five tables of a day, on at most a day per thread
        super::cache_put(self.order_family_cache(), day, family.clone(), 4);
        family
    }

    /// The snapshot partition of `day`: rows of table `t` created that day (up to `at`), in
    /// their state as of `at`.
    pub fn rows_created_on(&self, t: Table, day: Date, at: Timestamp) -> Vec<Rec> {
        if day > at.date() {
            return Vec::new();
        }
        if let Some(f) = Family::of(t) {
            // a row is created by its first version: an order, its lines and its payment when
            // it is placed (possibly after midnight of its session's day), a shipment when it
            // ships, a refund when it is granted
            let window = self.orders_in_window(day);
            return window
                .iter()
                .flat_map(|d| d.iter())
                .filter(|o| {
                    Self::order_versions(f, o)
                        .first()
                        .is_some_and(|c| within(*c, day) && *c <= at)
                })
                .flat_map(|o| self.order_rows(f, o, at))
                .collect();
        }
        match t {
            Table::Customers => {
                let first = self.customer_count(day.add_days(-1));
                (first..self.customer_count(day))
                    .filter(|i| self.customer_created_at(*i) <= at)
                    .map(|i| Rec::Customers(self.customer_at(i, at)))
                    .collect()
            }
            Table::Products => {
                let first = if day == self.opened() {
                    0
                } else {
                    self.catalog.count_by(day.add_days(-1))
                };
                (first..self.catalog.count_by(day))
                    .map(|k| self.catalog.base(k))
                    .filter(|p| p.created_at <= at)
                    .map(|p| Rec::Products(self.catalog.row_at(&p, at)))
                    .collect()
            }
            Table::Sessions => self
                .day_plans(day)
                .all()
                .filter(|p| p.start <= at)
                .map(|p| Rec::Sessions(self.session_row(p, at)))
                .collect(),
            Table::Events => self
                .events_on(day)
                .into_iter()
                .filter(|e| e.occurred_at <= at)
                .map(Rec::Events)
                .collect(),
            Table::MarketingSpend => self
                .marketing_spend(day)
                .into_iter()
                .map(Rec::MarketingSpend)
                .collect(),
            Table::Orders
            | Table::OrderItems
            | Table::Payments
            | Table::Shipments
            | Table::Refunds => unreachable!("order tables are answered above"),
        }
    }

    /// The versions of the five order tables written on `day`, a list per table, each in
    /// window order. One pass over the window: an order's lines (its session's detailed
    /// simulation) are worked out once, and only for orders with a version that day.
    fn order_family_changes(&self, day: Date) -> [Versions; 5] {
        let mut out: [Versions; 5] = Default::default();
        for o in self.orders_in_window(day).iter().flat_map(|d| d.iter()) {
            let mut lines = None;
            for f in Family::ALL {
                for (n, ts) in Self::order_versions(f, o).into_iter().enumerate() {
                    if !within(ts, day) {
                        continue;
                    }
                    let (lines, money) = lines.get_or_insert_with(|| self.order_lines(o));
                    let op = if n == 0 { Op::Insert } else { Op::Update };
                    for rec in self.order_rows_with(f, o, lines, money, ts) {
                        out[f as usize].push((ts, op, rec));
                    }
                }
            }
        }
        out
    }

    /// The customers' versions written on `day`, in customer order.
    fn customer_changes(&self, day: Date) -> Versions {
        let end = end_of(day);
        let mut out = Vec::new();
        for i in self.customers_touched(day) {
            for ts in self.customer_versions(i, day.start(), end) {
                let c = self.customer_at(i, ts);
                let op = if ts == c.created_at {
                    Op::Insert
                } else if c.deleted_at == Some(ts) {
                    Op::Delete
                } else {
                    Op::Update
                };
                out.push((ts, op, Rec::Customers(c)));
            }
        }
        out
    }

    /// The products' versions written on `day`, in catalogue order.
    fn product_changes(&self, day: Date) -> Versions {
        let end = end_of(day);
        let mut out = Vec::new();
        for k in 0..self.catalog.count_by(day) {
            let p = self.catalog.base(k);
            for ts in self.catalog.versions_between(&p, day.start(), end) {
                let op = if ts == p.created_at {
                    Op::Insert
                } else {
                    Op::Update
                };
                out.push((ts, op, Rec::Products(self.catalog.row_at(&p, ts))));
            }
        }
        out
    }

    /// The sessions written on `day`: inserted when one starts, without its end; updated
    /// when it ends.
    fn session_changes(&self, day: Date) -> Versions {
        let before = self.day_plans(day.add_days(-1));
        let today = self.day_plans(day);
        // each of the day's sessions starts, and nearly all end, on the day (growing the
        // list by doubling took fresh memory several times a day)
        let sessions = today.fresh.len() + today.resumed.len();
        let mut out = Vec::with_capacity(2 * sessions + sessions / 16);
        for p in today.all() {
            out.push((
                p.start,
                Op::Insert,
                Rec::Sessions(self.session_row(p, p.start)),
            ));
        }
        for p in before.all().chain(today.all()) {
            if within(p.end, day) {
                out.push((p.end, Op::Update, Rec::Sessions(self.session_row(p, p.end))));
            }
        }
        out
    }

    fn marketing_changes(&self, day: Date) -> Versions {
        self.marketing_spend(day)
            .into_iter()
            .map(|m| (day.start(), Op::Insert, Rec::MarketingSpend(m)))
            .collect()
    }

    /// Every version written on `day`, all tables, in time order (ties: table order, then
    /// generation order). Position i gets sequence number `day × 10^8 + i`. Up to `threads`
    /// threads share the work; the result does not depend on how many.
    pub fn changes(&self, day: Date, threads: usize) -> Vec<ChangeRecord> {
        self.prepare_window(day, threads);
        // Each table's versions (the order family's five together, the events in slices of
        // sessions) are one item of the pool, the large ones first, so the serial parts run
        // beside the events instead of before them; the items come back in their order.
        const EVENT_SLICE: usize = 1024;
        let event_plans = self.event_sessions(day);
        let slices = event_plans.len().div_ceil(EVENT_SLICE);
        let parts = crate::pool::map(FIXED_PARTS + slices, threads, |i| match i {
            0 => {
                let mut family = self.order_family_changes(day);
                Part::Tables(
                    Table::ALL
                        .iter()
                        .filter_map(|&t| {
                            Family::of(t).map(|f| (t, std::mem::take(&mut family[f as usize])))
                        })
                        .collect(),
                )
            }
            1 => Part::Tables(vec![(Table::Customers, self.customer_changes(day))]),
            2 => Part::Tables(vec![(Table::Sessions, self.session_changes(day))]),
            3 => Part::Tables(vec![(Table::Products, self.product_changes(day))]),
            4 => Part::Tables(vec![(Table::MarketingSpend, self.marketing_changes(day))]),
            _ => {
                let k = i - FIXED_PARTS;
                let slice =
                    &event_plans[k * EVENT_SLICE..((k + 1) * EVENT_SLICE).min(event_plans.len())];
                Part::Events(self.events_of(slice, day))
            }
        });
        let mut by_table: Vec<Versions> = vec![Vec::new(); Table::ALL.len()];
        let mut events: Vec<Vec<Event>> = Vec::new();
        for part in parts {
            match part {
                Part::Tables(tables) => {
                    for (t, versions) in tables {
                        by_table[t.index()] = versions;
                    }
                }
                Part::Events(e) => events.push(e),
            }
        }
        // the day's size, known exactly, so that the list is allocated once (growing it by
        // doubling wrote ~1.5× its size in fresh memory)
        let len = by_table.iter().map(Vec::len).sum::<usize>()
            + events.iter().map(Vec::len).sum::<usize>();
        let mut out: Vec<ChangeRecord> = Vec::with_capacity(len);
        let mut push = |table: Table, ts: Timestamp, op: Op, rec: Rec| {
            out.push(ChangeRecord {
                table: table.index(),
                op,
                seq: 0,
                ts,
                row: Record::Ecommerce(rec),
            })
        };
        for &table in Table::ALL {
            if table == Table::Events {
                for e in std::mem::take(&mut events).into_iter().flatten() {
                    push(table, e.occurred_at, Op::Insert, Rec::Events(e));
                }
            }
            for (ts, op, rec) in std::mem::take(&mut by_table[table.index()]) {
                push(table, ts, op, rec);
            }
        }
        // Sort small keys, then put each record in its place by following the permutation's
        // cycles (in place: no second day-sized buffer). Sorting the records themselves moved
        // each ~log n times (a fifth of a day's cost). (time, position) keeps the order of a
        // stable sort by time: equal times keep table order, then generation order.
        let mut order: Vec<(Timestamp, u32)> = out
            .iter()
            .enumerate()
            .map(|(i, c)| (c.ts, i as u32))
            .collect();
        order.sort_unstable();
        permute(&mut out, order.into_iter().map(|(_, i)| i).collect());
        for (n, c) in out.iter_mut().enumerate() {
            c.seq = first_seq(day) + n as i64;
        }
        out
    }
}

/// The pool items of a day's feed before the first slice of events: the order family,
/// customers, sessions, products, marketing spend.
const FIXED_PARTS: usize = 5;

/// A table's versions written on a day: when, what happened, the row as it was then.
type Versions = Vec<(Timestamp, Op, Rec)>;

/// One pool item's share of a day's feed.
enum Part {
    /// Whole tables' versions: the five order tables together, or one other table.
    Tables(Vec<(Table, Versions)>),
    /// The events of a slice of the day's sessions.
    Events(Vec<Event>),
}

/// Reorders `items` so that position n holds what was at `from[n]` (`from` is a permutation
/// of the positions), each cycle of the permutation walked once with swaps.
fn permute<T>(items: &mut [T], mut from: Vec<u32>) {
    debug_assert_eq!(items.len(), from.len());
    for start in 0..items.len() {
        let mut cur = start;
        loop {
            let next = from[cur] as usize;
            from[cur] = cur as u32; // placed
            if next == start {
                break;
            }
            // `cur` takes its record; what `cur` held (the start's record) moves on to `next`
            items.swap(cur, next);
            cur = next;
        }
    }
}

pub fn tunables() -> Vec<Tunable> {
    // every key of the shipped scenario file, with its default and its comment
    let mut out = Vec::new();
    let mut section = String::new();
    for line in super::config::DEFAULT_TOML.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            section = line.trim_matches(|c| c == '[' || c == ']').to_string();
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some((key, rest)) = line.split_once('=') {
            let (value, comment) = match rest.split_once(" #") {
                Some((v, c)) => (v.trim(), c.trim()),
                None => (rest.trim(), ""),
            };
            let name: &'static str =
                Box::leak(format!("{section}.{}", key.trim()).into_boxed_str());
            let description: &'static str = Box::leak(comment.to_string().into_boxed_str());
            out.push(Tunable::new(name, value, description));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::permute;

    #[test]
    fn permute_places_each_item_where_the_permutation_says() {
        // permutations with fixed points, one long cycle and many short ones
        let mut s = crate::rng::Key::root(3).stream();
        for n in [0usize, 1, 2, 7, 1000] {
            let mut from: Vec<u32> = (0..n as u32).collect();
            // a shuffle by sorting on random keys
            let keys: Vec<u64> = (0..n).map(|_| s.next_u64()).collect();
            from.sort_by_key(|&i| keys[i as usize]);
            let items: Vec<String> = (0..n).map(|i| format!("item {i}")).collect();
            let expected: Vec<String> = from.iter().map(|&i| items[i as usize].clone()).collect();
            let mut got = items.clone();
            permute(&mut got, from.clone());
            assert_eq!(got, expected, "n = {n}");
        }
        let mut cycle = vec!['a', 'b', 'c', 'd'];
        permute(&mut cycle, vec![1, 2, 3, 0]);
        assert_eq!(cycle, ['b', 'c', 'd', 'a']);
    }
}
