//! The e-commerce scenario's rows per table, day and view.
//!
//! Every view is computed from the same entities: customers and products scanned by index,
//! sessions and events from the day's plans, and orders (with their payments, shipments,
//! refunds and lines) from the origins of the last [`MAX_LIFECYCLE_DAYS`] days.

use std::sync::Arc;

use crate::Tunable;
use crate::table::{Row, RowSink, Shard, TableDef};
use crate::time::{Date, Timestamp};
use crate::view::{Change, SEQ_PER_DAY, View};

use super::lifecycle::MAX_LIFECYCLE_DAYS;
use super::tables::*;
use super::{Ecommerce, OrderCtx};

/// One row of any e-commerce table.
#[derive(Debug, Clone)]
pub enum Rec {
    Customer(Customer),
    Product(Product),
    Session(Session),
    Event(Event),
    Order(Order),
    Item(OrderItem),
    Payment(Payment),
    Shipment(Shipment),
    Refund(Refund),
    Marketing(MarketingSpend),
}

impl Rec {
    fn emit<S: RowSink>(&self, sink: &mut S) -> Result<(), S::Error> {
        match self {
            Rec::Customer(r) => sink.row(r),
            Rec::Product(r) => sink.row(r),
            Rec::Session(r) => sink.row(r),
            Rec::Event(r) => sink.row(r),
            Rec::Order(r) => sink.row(r),
            Rec::Item(r) => sink.row(r),
            Rec::Payment(r) => sink.row(r),
            Rec::Shipment(r) => sink.row(r),
            Rec::Refund(r) => sink.row(r),
            Rec::Marketing(r) => sink.row(r),
        }
    }

    fn emit_change<S: RowSink>(
        &self,
        op: &'static str,
        seq: i64,
        ts: Timestamp,
        sink: &mut S,
    ) -> Result<(), S::Error> {
        fn c<'a, R: Row>(op: &'static str, seq: i64, ts: Timestamp, row: &'a R) -> Change<'a, R> {
            Change { op, seq, ts, row }
        }
        match self {
            Rec::Customer(r) => sink.row(&c(op, seq, ts, r)),
            Rec::Product(r) => sink.row(&c(op, seq, ts, r)),
            Rec::Session(r) => sink.row(&c(op, seq, ts, r)),
            Rec::Event(r) => sink.row(&c(op, seq, ts, r)),
            Rec::Order(r) => sink.row(&c(op, seq, ts, r)),
            Rec::Item(r) => sink.row(&c(op, seq, ts, r)),
            Rec::Payment(r) => sink.row(&c(op, seq, ts, r)),
            Rec::Shipment(r) => sink.row(&c(op, seq, ts, r)),
            Rec::Refund(r) => sink.row(&c(op, seq, ts, r)),
            Rec::Marketing(r) => sink.row(&c(op, seq, ts, r)),
        }
    }
}

/// The tables whose rows come from orders and their lifecycles.
const ORDER_FAMILY: [&str; 5] = ["orders", "order_items", "payments", "shipments", "refunds"];

/// One day of the order tables: the extract, and the versions written that day.
#[derive(Debug, Default)]
pub struct OrderFamily {
    extract: [Vec<Rec>; 5],
}

/// A version of a row written at `ts`.
#[derive(Debug, Clone)]
pub struct Version {
    pub table: usize,
    pub ts: Timestamp,
    pub op: &'static str,
    pub rec: Rec,
}

fn end_of(day: Date) -> Timestamp {
    Timestamp(day.start().0 + 86_399)
}

fn within(t: Timestamp, day: Date) -> bool {
    t.date() == day
}

fn table_index(table: &TableDef) -> usize {
    TABLES
        .iter()
        .position(|t| std::ptr::eq(*t, table))
        .expect("an e-commerce table")
}

impl Ecommerce {
    pub fn generate<S: RowSink>(
        &self,
        table: &'static TableDef,
        day: Date,
        shard: Shard,
        view: View,
        sink: &mut S,
    ) -> Result<(), S::Error> {
        let t = table_index(table);
        if TABLES[t].name == "events" && view != View::Changes {
            // the biggest table streams from its sessions (shards cut by session), so a
            // day's events are never all in memory
            let at = match view {
                View::Snapshot(at) if day > at.date() => return Ok(()),
                View::Snapshot(at) => at,
                _ => end_of(day),
            };
            let plans = self.event_sessions(day);
            let r = shard.range(plans.len() as u64);
            for plan in &plans[r.start as usize..r.end as usize] {
                for e in self.session_detail(plan).events {
                    if within(e.occurred_at, day) && e.occurred_at <= at {
                        sink.row(&e)?;
                    }
                }
            }
            return Ok(());
        }
        match view {
            View::Extract if ORDER_FAMILY.contains(&TABLES[t].name) => {
                // shared with the cache, not copied
                let family = self.order_family(day);
                let rows = &family.extract[Self::family_index(t)];
                let r = shard.range(rows.len() as u64);
                for rec in &rows[r.start as usize..r.end as usize] {
                    rec.emit(sink)?;
                }
            }
            View::Extract => {
                let rows = self.rows_at_end_of(t, day);
                for r in &rows[shard.range(rows.len() as u64).start as usize
                    ..shard.range(rows.len() as u64).end as usize]
                {
                    r.emit(sink)?;
                }
            }
            View::Snapshot(at) => {
                let rows = self.rows_created_on(t, day, at);
                let r = shard.range(rows.len() as u64);
                for rec in &rows[r.start as usize..r.end as usize] {
                    rec.emit(sink)?;
                }
            }
            View::Changes => {
                let all = self.changes(day);
                let mine: Vec<(i64, &Version)> = all
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.table == t)
                    .map(|(i, v)| (day.days_since_epoch() as i64 * SEQ_PER_DAY + i as i64, v))
                    .collect();
                let r = shard.range(mine.len() as u64);
                for (seq, v) in &mine[r.start as usize..r.end as usize] {
                    v.rec.emit_change(v.op, *seq, v.ts, sink)?;
                }
            }
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

    /// Version times of table `t` for order `o`.
    fn order_versions(t: usize, o: &OrderCtx) -> Vec<Timestamp> {
        let l = &o.lifecycle;
        match TABLES[t].name {
            "orders" => l.order.iter().map(|(at, _)| *at).collect(),
            "payments" => l.payment.iter().map(|(at, _)| *at).collect(),
            "shipments" => l.shipment.iter().map(|(at, _)| *at).collect(),
            "refunds" => l.refund.iter().map(|r| r.at).collect(),
            "order_items" => vec![l.placed_at],
            _ => Vec::new(),
        }
    }

    /// Rows of order-family table `t` for order `o` as of `at`.
    fn order_rows(&self, t: usize, o: &OrderCtx, at: Timestamp) -> Vec<Rec> {
        let (lines, money) = self.order_lines(o);
        self.order_rows_with(t, o, &lines, &money, at)
    }

    fn order_rows_with(
        &self,
        t: usize,
        o: &OrderCtx,
        lines: &[(super::sessions::Line, i64)],
        money: &super::Money,
        at: Timestamp,
    ) -> Vec<Rec> {
        let money = *money;
        match TABLES[t].name {
            "orders" => self
                .order_row(o, &money, at)
                .map(Rec::Order)
                .into_iter()
                .collect(),
            "payments" => self
                .payment_row(o, &money, at)
                .map(Rec::Payment)
                .into_iter()
                .collect(),
            "shipments" => self
                .shipment_row(o, at)
                .map(Rec::Shipment)
                .into_iter()
                .collect(),
            "refunds" => self
                .refund_row(o, &money, at)
                .map(Rec::Refund)
                .into_iter()
                .collect(),
            "order_items" if o.lifecycle.placed_at <= at => lines
                .iter()
                .enumerate()
                .map(|(n, (line, unit_price))| {
                    Rec::Item(OrderItem {
                        order_id: o.lifecycle.order_id,
                        line_number: n as i64 + 1,
                        product_id: line.product.id,
                        quantity: line.quantity,
                        unit_price: *unit_price,
                        created_at: o.lifecycle.placed_at,
                    })
                })
                .collect(),
            _ => Vec::new(),
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

    /// The events of `day`, in session order.
    fn events_on(&self, day: Date) -> Vec<Event> {
        let mut out = Vec::new();
        for plan in self.event_sessions(day) {
            out.extend(
                self.session_detail(&plan)
                    .events
                    .into_iter()
                    .filter(|e| within(e.occurred_at, day)),
            );
        }
        out
    }

    /// The daily extract: rows of table `t` changed on `day`, in their end-of-day state.
    pub fn rows_at_end_of(&self, t: usize, day: Date) -> Vec<Rec> {
        let end = end_of(day);
        match TABLES[t].name {
            "customers" => self
                .customers_touched(day)
                .into_iter()
                .filter(|i| !self.customer_versions(*i, day.start(), end).is_empty())
                .map(|i| Rec::Customer(self.customer_at(i, end)))
                .collect(),
            "products" => (0..self.catalog.count_by(day))
                .map(|k| self.catalog.base(k))
                .filter(|p| {
                    !self
                        .catalog
                        .versions_between(p, day.start(), end)
                        .is_empty()
                })
                .map(|p| Rec::Product(self.catalog.row_at(&p, end)))
                .collect(),
            "sessions" => self
                .day_plans(day)
                .all()
                .map(|p| Rec::Session(self.session_row(p)))
                .collect(),
            "events" => self.events_on(day).into_iter().map(Rec::Event).collect(),
            "marketing_spend" => self
                .marketing_spend(day)
                .into_iter()
                .map(Rec::Marketing)
                .collect(),
            _ => self.order_family(day).extract[Self::family_index(t)].clone(),
        }
    }

    fn family_index(t: usize) -> usize {
        ORDER_FAMILY
            .iter()
            .position(|n| *n == TABLES[t].name)
            .expect("an order table")
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
            let touched: Vec<(usize, Vec<Timestamp>)> = ORDER_FAMILY
                .iter()
                .enumerate()
                .map(|(f, name)| {
                    let t = TABLES.iter().position(|x| x.name == *name).expect("table");
                    (f, Self::order_versions(t, o))
                })
                .collect();
            if !touched
                .iter()
                .any(|(_, v)| v.iter().any(|at| within(*at, day)))
            {
                continue;
            }
            let (lines, money) = self.order_lines(o);
            for (f, versions) in touched {
                let t = TABLES
                    .iter()
                    .position(|x| x.name == ORDER_FAMILY[f])
                    .expect("table");
                if !versions.iter().any(|at| within(*at, day)) {
                    continue;
                }
                family.extract[f].extend(self.order_rows_with(t, o, &lines, &money, end));
            }
        }
        let family = Arc::new(family);
        // the five tables of a day, on at most a day per thread
        super::cache_put(self.order_family_cache(), day, family.clone(), 4);
        family
    }

    /// The snapshot partition of `day`: rows of table `t` created that day (up to `at`), in
    /// their state as of `at`.
    pub fn rows_created_on(&self, t: usize, day: Date, at: Timestamp) -> Vec<Rec> {
        if day > at.date() {
            return Vec::new();
        }
        match TABLES[t].name {
            "customers" => {
                let first = self.customer_count(day.add_days(-1));
                (first..self.customer_count(day))
                    .filter(|i| self.customer_created_at(*i) <= at)
                    .map(|i| Rec::Customer(self.customer_at(i, at)))
                    .collect()
            }
            "products" => {
                let first = if day == self.opened() {
                    0
                } else {
                    self.catalog.count_by(day.add_days(-1))
                };
                (first..self.catalog.count_by(day))
                    .map(|k| self.catalog.base(k))
                    .filter(|p| p.created_at <= at)
                    .map(|p| Rec::Product(self.catalog.row_at(&p, at)))
                    .collect()
            }
            "sessions" => self
                .day_plans(day)
                .all()
                .filter(|p| p.start <= at)
                .map(|p| Rec::Session(self.session_row(p)))
                .collect(),
            "events" => self
                .events_on(day)
                .into_iter()
                .filter(|e| e.occurred_at <= at)
                .map(Rec::Event)
                .collect(),
            "marketing_spend" => self
                .marketing_spend(day)
                .into_iter()
                .map(Rec::Marketing)
                .collect(),
            _ => self
                .orders_placed(day)
                .iter()
                .filter(|o| o.lifecycle.placed_at <= at)
                .flat_map(|o| self.order_rows(t, o, at))
                .collect(),
        }
    }

    /// Every version written on `day`, all tables, in time order (ties: table order, then
    /// generation order). Position i gets sequence number `day × 10^8 + i`.
    pub fn changes(&self, day: Date) -> Arc<Vec<Version>> {
        // every table's change file of a day needs the whole merged list: compute it once
        if let Some(c) = super::cache_get(self.changes_cache(), day) {
            return c;
        }
        let mut out: Vec<Version> = Vec::new();
        let end = end_of(day);
        for (t, table) in TABLES.iter().enumerate() {
            let insert_only = |rec: Rec, ts| Version {
                table: t,
                ts,
                op: "insert",
                rec,
            };
            match table.name {
                "customers" => {
                    for i in self.customers_touched(day) {
                        for ts in self.customer_versions(i, day.start(), end) {
                            let c = self.customer_at(i, ts);
                            let op = if ts == c.created_at {
                                "insert"
                            } else if c.deleted_at == Some(ts) {
                                "delete"
                            } else {
                                "update"
                            };
                            out.push(Version {
                                table: t,
                                ts,
                                op,
                                rec: Rec::Customer(c),
                            });
                        }
                    }
                }
                "products" => {
                    for k in 0..self.catalog.count_by(day) {
                        let p = self.catalog.base(k);
                        for ts in self.catalog.versions_between(&p, day.start(), end) {
                            let op = if ts == p.created_at {
                                "insert"
                            } else {
                                "update"
                            };
                            out.push(Version {
                                table: t,
                                ts,
                                op,
                                rec: Rec::Product(self.catalog.row_at(&p, ts)),
                            });
                        }
                    }
                }
                "sessions" => {
                    for p in self.day_plans(day).all() {
                        out.push(insert_only(Rec::Session(self.session_row(p)), p.start));
                    }
                }
                "events" => {
                    for e in self.events_on(day) {
                        let ts = e.occurred_at;
                        out.push(insert_only(Rec::Event(e), ts));
                    }
                }
                "marketing_spend" => {
                    for m in self.marketing_spend(day) {
                        out.push(insert_only(Rec::Marketing(m), day.start()));
                    }
                }
                _ => {
                    let window = self.orders_in_window(day);
                    for o in window.iter().flat_map(|d| d.iter()) {
                        let versions = Self::order_versions(t, o);
                        for (n, ts) in versions.iter().enumerate() {
                            if !within(*ts, day) {
                                continue;
                            }
                            for rec in self.order_rows(t, o, *ts) {
                                out.push(Version {
                                    table: t,
                                    ts: *ts,
                                    op: if n == 0 { "insert" } else { "update" },
                                    rec,
                                });
                            }
                        }
                    }
                }
            }
        }
        // stable: equal times keep table order, then generation order
        out.sort_by_key(|v| v.ts);
        let out = Arc::new(out);
        super::cache_put(self.changes_cache(), day, out.clone(), 2);
        out
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
