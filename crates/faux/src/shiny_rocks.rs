//! The Shiny Rocks scenario: the smartphone company of Kestra's "modern data stack" blog.
//!
//! Reproduces the original generator's datasets (`orders`, `payments`, `services`, plus the
//! marketing team's `marketing_investments` sheet) with its exact column names, value formats,
//! probability mixes and daily order curve. Unlike the original it is seeded: every
//! order draws from its own keyed stream, so any day, or any shard of a day, generates alone.

use crate::Tunable;
use crate::feed::{ChangeRecord, Op, Record, SEQ_PER_DAY, first_seq};
use crate::rng::{Categorical, Key, Uuid};
use crate::table::{LogicalType as T, Parent, RowSink, Shard, TableDef};
use crate::time::Date;
use crate::view::View;

/// The original's `pattern_function(x, 800)`: the number of orders on day-of-year `x`.
///
/// Evaluated in f64 in exactly the original's operation order (left to right, as Python does):
/// an algebraically equal form truncates differently on some days (e.g. day 150: 799 vs 800).
pub fn daily_orders(day_of_year: u32) -> u64 {
    use std::f64::consts::PI;
    let x = day_of_year as f64;
    let v = -6.1;
    let t = 1.4;
    let amplitude = 800.0;
    let value = 25.0
        * (2.0 * PI * x / 200.0 + PI / 2.0).sin()
        * v
        * (3.0 * PI * x / 500.0 + PI / 2.0).sin()
        * t
        * (PI * x / 100.0 + PI / 3.0).cos()
        * t
        + amplitude;
    // Python: int(max(0, value)) truncates towards zero
    if value > 0.0 { value as u64 } else { 0 }
}

pub static PRODUCTS: [(i64, f64); 2] = [(3, 0.64), (5, 0.36)];
pub static UTM_SOURCES: [(&str, f64); 4] = [
    ("_instagram", 0.2),
    ("_amazon", 0.6),
    ("_facebook", 0.1),
    ("_youtube", 0.1),
];
pub static PAYMENT_METHODS: [(&str, f64); 3] =
    [("PAYPAL", 0.17), ("CARD", 0.80), ("APPLE_PAY", 0.03)];
pub static SERVICES: [(&str, f64); 4] = [
    ("MAPS", 0.3),
    ("MUSIC", 0.4),
    ("PHONE", 0.1),
    ("MESSAGE", 0.2),
];
/// Price of a product: its id times 99, as in the original.
pub const PRICE_PER_PRODUCT_ID: i64 = 99;
pub const SERVICES_PER_ORDER: (i64, i64) = (0, 10);
pub const SERVICE_DURATION_S: (i64, i64) = (5, 3600);

/// Marketing platforms, the utm_source each one's sales arrive with, and the return on
/// investment the marketing team gets from it on average (`(sales − cost) / cost`).
pub static PLATFORMS: [(&str, &str, f64); 4] = [
    ("instagram", "_instagram", 1.4),
    ("amazon", "_amazon", 2.6),
    ("facebook", "_facebook", 0.35),
    ("youtube", "_youtube", -0.3),
];
/// Day-to-day spend varies uniformly within ± this share of the plan.
pub const SPEND_NOISE: f64 = 0.15;

crate::table! {
    /// An order: one phone bought by one (new) user.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Order {
        pub user_id: Uuid = hex_uuid(
            T::HexUuid,
            "Buyer; a new user for every order, as in the original."
        ),
        pub order_id: Uuid = hex_uuid(T::HexUuid, "Order id, 32 hex digits."),
        pub order_date: Date = date(T::Date, "Day the order was placed."),
        pub product_id: i64 = int(T::Int, "Phone model: 3 (64 %) or 5 (36 %)."),
        pub utm_source: &'static str = label(
            T::Text,
            "Marketing source: _instagram, _amazon, _facebook or _youtube."
        ),
    }
    pub static ORDERS = TableDef {
        name: "orders",
        description: "One row per phone order (orders.csv of the original).",
        primary_key: &["order_id"],
        cursor: None,
        partition: "order_date",
        parent: None,
    };
}

crate::table! {
    #[derive(Debug, Clone, PartialEq)]
    pub struct Payment {
        pub payment_id: Uuid = hex_uuid(T::HexUuid, "Payment id, 32 hex digits."),
        pub order_id: Uuid = hex_uuid(T::HexUuid, "The order paid."),
        pub order_date: Date = date(T::Date, "Day of the order."),
        pub payment_method: &'static str =
            label(T::Text, "PAYPAL (17 %), CARD (80 %) or APPLE_PAY (3 %)."),
        pub amount: i64 = int(T::Int, "product_id × 99: 297 or 495."),
    }
    pub static PAYMENTS = TableDef {
        name: "payments",
        description: "One payment per order (payments.csv of the original).",
        primary_key: &["payment_id"],
        cursor: None,
        partition: "order_date",
        parent: Some(Parent {
            table: "orders",
            column: "order_id",
            path: "payments",
        }),
    };
}

crate::table! {
    /// One use of a phone service by the buyer of an order.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Service {
        pub service_id: &'static str =
            label(T::Text, "MAPS (30 %), MUSIC (40 %), PHONE (10 %) or MESSAGE (20 %)."),
        pub user_id: Uuid = hex_uuid(T::HexUuid, "The buyer of the order."),
        pub product_id: i64 = int(T::Int, "The phone model of the order."),
        pub duration: i64 = int(T::Int, "Seconds, 5–3600."),
        pub run_date: Date = date(T::Date, "Day of the run (the order's day)."),
    }
    pub static SERVICES_TABLE = TableDef {
        name: "services",
        description: "Phone service runs: 0–10 per order (services.csv of the original).",
        primary_key: &[],
        cursor: None,
        partition: "run_date",
        parent: None,
    };
}

crate::table! {
    /// A day's marketing spend on one platform.
    #[derive(Debug, Clone, PartialEq)]
    pub struct MarketingInvestment {
        pub date: Date = date(T::Date, "Day of the spend."),
        pub platform: &'static str = label(
            T::Text,
            "instagram, amazon, facebook or youtube (utm_source without '_')."
        ),
        /// In cents.
        pub amount: i64 = decimal(
            T::Decimal {
                precision: 12,
                scale: 2,
            },
            "Spend that day, in the shop's currency."
        ),
    }
    pub static MARKETING_INVESTMENTS = TableDef {
        name: "marketing_investments",
        description: "Daily marketing spend per platform (the marketing team's spreadsheet).",
        primary_key: &["date", "platform"],
        cursor: None,
        partition: "date",
        parent: None,
    };
}

crate::scenario_tables! {
    Orders(Order) = ORDERS,
    Payments(Payment) = PAYMENTS,
    Services(Service) = SERVICES_TABLE,
    MarketingInvestments(MarketingInvestment) = MARKETING_INVESTMENTS,
}

/// The Shiny Rocks generator for one seed.
#[derive(Debug, Clone)]
pub struct ShinyRocks {
    orders: Key,
    payments: Key,
    services: Key,
    marketing: Key,
    products: Categorical<i64>,
    utm_sources: Categorical<&'static str>,
    payment_methods: Categorical<&'static str>,
    service_kinds: Categorical<&'static str>,
}

impl ShinyRocks {
    pub const NAME: &'static str = "shiny-rocks";

    pub fn new(seed: u64) -> Self {
        let root = Key::root(seed).named(Self::NAME);
        ShinyRocks {
            orders: root.named("orders"),
            payments: root.named("payments"),
            services: root.named("services"),
            marketing: root.named("marketing_investments"),
            products: Categorical::new(&PRODUCTS),
            utm_sources: Categorical::new(&UTM_SOURCES),
            payment_methods: Categorical::new(&PAYMENT_METHODS),
            service_kinds: Categorical::new(&SERVICES),
        }
    }

    /// Orders placed on `day`.
    pub fn order_count(&self, day: Date) -> u64 {
        daily_orders(day.day_of_year())
    }

    /// Order `index` of `day`, from its own stream.
    #[inline]
    pub fn order(&self, day: Date, index: u64) -> Order {
        self.order_in(&self.day_keys(day), day, index)
    }

    #[inline]
    pub fn payment(&self, order: &Order, index: u64) -> Payment {
        let keys = self.day_keys(order.order_date);
        self.payment_in(
            &keys,
            order.order_id,
            order.product_id,
            order.order_date,
            index,
        )
    }

    /// The services run by the buyer of `order`, in order.
    #[inline]
    pub fn services<E>(
        &self,
        order: &Order,
        index: u64,
        f: impl FnMut(Service) -> Result<(), E>,
    ) -> Result<(), E> {
        let keys = self.day_keys(order.order_date);
        self.services_in(
            &keys,
            order.user_id,
            order.product_id,
            order.order_date,
            index,
            f,
        )
    }

    /// The keys of `day`'s streams, derived once per day rather than once per row.
    #[inline]
    fn day_keys(&self, day: Date) -> DayKeys {
        let d = day_key(day);
        DayKeys {
            orders: self.orders.derive(d),
            payments: self.payments.derive(d),
            services: self.services.derive(d),
        }
    }

    // An order's stream holds, in this order: user_id (2 values), order_id (2), product_id (1),
    // utm_source (1). The stream is seekable, so payments and services read only their part.
    const ORDER_ID_AT: u64 = 2;
    const PRODUCT_AT: u64 = 4;

    #[inline(always)]
    fn order_in(&self, keys: &DayKeys, day: Date, index: u64) -> Order {
        let mut s = keys.orders.derive(index).stream();
        Order {
            user_id: s.uuid_v4(),
            order_id: s.uuid_v4(),
            order_date: day,
            product_id: self.products.sample(&mut s),
            utm_source: self.utm_sources.sample(&mut s),
        }
    }

    /// (order_id, product_id) of order `index`, without drawing its other fields.
    #[inline(always)]
    fn order_for_payment(&self, keys: &DayKeys, index: u64) -> (Uuid, i64) {
        let mut s = keys.orders.derive(index).stream();
        s.seek(Self::ORDER_ID_AT);
        let order_id = s.uuid_v4();
        (order_id, self.products.sample(&mut s))
    }

    /// (user_id, product_id) of order `index`, without drawing its other fields.
    #[inline(always)]
    fn order_for_services(&self, keys: &DayKeys, index: u64) -> (Uuid, i64) {
        let mut s = keys.orders.derive(index).stream();
        let user_id = s.uuid_v4();
        s.seek(Self::PRODUCT_AT);
        (user_id, self.products.sample(&mut s))
    }

    #[inline(always)]
    fn payment_in(
        &self,
        keys: &DayKeys,
        order_id: Uuid,
        product_id: i64,
        day: Date,
        index: u64,
    ) -> Payment {
        let mut s = keys.payments.derive(index).stream();
        Payment {
            payment_id: s.uuid_v4(),
            order_id,
            order_date: day,
            payment_method: self.payment_methods.sample(&mut s),
            amount: product_id * PRICE_PER_PRODUCT_ID,
        }
    }

    #[inline(always)]
    fn services_in<E>(
        &self,
        keys: &DayKeys,
        user_id: Uuid,
        product_id: i64,
        day: Date,
        index: u64,
        mut f: impl FnMut(Service) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut s = keys.services.derive(index).stream();
        let n = s.range_inclusive(SERVICES_PER_ORDER.0, SERVICES_PER_ORDER.1);
        for _ in 0..n {
            f(Service {
                service_id: self.service_kinds.sample(&mut s),
                user_id,
                product_id,
                duration: s.range_inclusive(SERVICE_DURATION_S.0, SERVICE_DURATION_S.1),
                run_date: day,
            })?;
        }
        Ok(())
    }

    /// The planned spend per platform: what the day's expected attributed sales would return
    /// at the platform's target ROI, varied by ±[`SPEND_NOISE`].
    pub fn marketing_investment(&self, day: Date, platform: usize) -> MarketingInvestment {
        let (name, utm, roi) = PLATFORMS[platform];
        let share = UTM_SOURCES
            .iter()
            .find(|(u, _)| *u == utm)
            .map_or(0.0, |(_, w)| *w);
        let mean_amount: f64 = PRODUCTS
            .iter()
            .map(|(p, w)| (p * PRICE_PER_PRODUCT_ID) as f64 * w)
            .sum();
        let expected_sales = self.order_count(day) as f64 * share * mean_amount;
        let mut s = self
            .marketing
            .derive(day_key(day))
            .derive(platform as u64)
            .stream();
        let noise = 1.0 + SPEND_NOISE * (2.0 * s.next_f64() - 1.0);
        let cents = (expected_sales / (1.0 + roi) * noise * 100.0).round() as i64;
        MarketingInvestment {
            date: day,
            platform: name,
            amount: cents,
        }
    }

    /// Writes `table`'s rows of `day` that belong to `shard`, in order, into `sink`.
    pub fn generate<S: RowSink>(
        &self,
        table: &TableDef,
        day: Date,
        shard: Shard,
        sink: &mut S,
    ) -> Result<(), S::Error> {
        if std::ptr::eq(table, &MARKETING_INVESTMENTS) {
            for p in shard.range(PLATFORMS.len() as u64) {
                sink.row(&self.marketing_investment(day, p as usize))?;
            }
            return Ok(());
        }
        let keys = self.day_keys(day);
        let orders = shard.range(self.order_count(day));
        if std::ptr::eq(table, &ORDERS) {
            for i in orders {
                sink.row(&self.order_in(&keys, day, i))?;
            }
        } else if std::ptr::eq(table, &PAYMENTS) {
            for i in orders {
                let (order_id, product_id) = self.order_for_payment(&keys, i);
                sink.row(&self.payment_in(&keys, order_id, product_id, day, i))?;
            }
        } else {
            for i in orders {
                let (user_id, product_id) = self.order_for_services(&keys, i);
                self.services_in(&keys, user_id, product_id, day, i, |s| sink.row(&s))?;
            }
        }
        Ok(())
    }

    /// [`ShinyRocks::generate`] in the extract or snapshot view. Rows never change after
    /// their day: a snapshot holds every day up to its instant's day. (The changes view is
    /// [`ShinyRocks::changes`], through [`crate::Scenario::generate`].)
    pub fn generate_view<S: RowSink>(
        &self,
        table: &'static TableDef,
        day: Date,
        shard: Shard,
        view: View,
        sink: &mut S,
    ) -> Result<(), S::Error> {
        match view {
            View::Snapshot(t) if day > t.date() => Ok(()),
            _ => self.generate(table, day, shard, sink),
        }
    }

    /// Every row of `day`, all tables, as insert change records stamped with the start of
    /// the day: a table's rows take consecutive sequence numbers from `day × 10^8 + table
    /// index × 10^7`, so the list is in sequence order.
    pub fn changes(&self, day: Date) -> Vec<ChangeRecord> {
        let ts = day.start();
        let mut out = Vec::new();
        let mut push = |table: Table, n: u64, rec: Rec| {
            out.push(ChangeRecord {
                table: table.index(),
                op: Op::Insert,
                seq: first_seq(day) + table.index() as i64 * (SEQ_PER_DAY / 10) + n as i64,
                ts,
                row: Record::ShinyRocks(rec),
            })
        };
        let keys = self.day_keys(day);
        let orders = self.order_count(day);
        for table in Table::ALL {
            match table {
                Table::Orders => {
                    for i in 0..orders {
                        push(*table, i, self.order_in(&keys, day, i).into());
                    }
                }
                Table::Payments => {
                    for i in 0..orders {
                        let (order_id, product_id) = self.order_for_payment(&keys, i);
                        let p = self.payment_in(&keys, order_id, product_id, day, i);
                        push(*table, i, p.into());
                    }
                }
                Table::Services => {
                    let mut n = 0;
                    for i in 0..orders {
                        let (user_id, product_id) = self.order_for_services(&keys, i);
                        let Ok(()) = self.services_in(&keys, user_id, product_id, day, i, |s| {
                            push(*table, n, s.into());
                            n += 1;
                            Ok::<(), std::convert::Infallible>(())
                        });
                    }
                }
                Table::MarketingInvestments => {
                    for p in 0..PLATFORMS.len() {
                        push(*table, p as u64, self.marketing_investment(day, p).into());
                    }
                }
            }
        }
        out
    }

    pub fn tunables() -> Vec<Tunable> {
        fn mix<K: std::fmt::Display>(items: &[(K, f64)]) -> String {
            items
                .iter()
                .map(|(k, w)| format!("{k}: {w}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
        let roi = PLATFORMS
            .iter()
            .map(|(p, _, r)| format!("{p}: {r}"))
            .collect::<Vec<_>>()
            .join(", ");
        vec![
            Tunable::new(
                "daily_orders",
                "int(max(0, 25·sin(2πx/200+π/2)·v·sin(3πx/500+π/2)·t·cos(πx/100+π/3)·t + 800)), v=-6.1, t=1.4",
                "orders per day, x = day of year (the original's pattern_function)",
            ),
            Tunable::new(
                "product_mix",
                mix(&PRODUCTS),
                "share of orders per product_id",
            ),
            Tunable::new(
                "utm_source_mix",
                mix(&UTM_SOURCES),
                "share of orders per marketing source",
            ),
            Tunable::new(
                "payment_method_mix",
                mix(&PAYMENT_METHODS),
                "share of payments per method",
            ),
            Tunable::new(
                "service_mix",
                mix(&SERVICES),
                "share of service runs per service",
            ),
            Tunable::new(
                "services_per_order",
                "uniform 0..=10",
                "service runs per order",
            ),
            Tunable::new(
                "service_duration_s",
                "uniform 5..=3600",
                "duration of a service run",
            ),
            Tunable::new("price", "product_id × 99", "payment amount"),
            Tunable::new(
                "marketing_target_roi",
                roi,
                "average (sales − cost) / cost per platform",
            ),
            Tunable::new(
                "marketing_spend_noise",
                format!("±{SPEND_NOISE}"),
                "day-to-day variation of planned spend",
            ),
        ]
    }
}

/// The keys of one day's order, payment and service streams.
#[derive(Debug, Clone, Copy)]
struct DayKeys {
    orders: Key,
    payments: Key,
    services: Key,
}

#[inline(always)]
fn day_key(day: Date) -> u64 {
    day.days_since_epoch() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{FieldVisitor, Row};

    #[test]
    fn the_curve_keeps_the_originals_truncation_on_day_150() {
        assert_eq!(daily_orders(150), 799);
        assert_eq!(daily_orders(1), 658);
    }

    /// Collects every row of a table as its CSV-like field list.
    #[derive(Default)]
    struct Rows(Vec<String>);
    impl FieldVisitor for Rows {
        fn text(&mut self, v: &str) {
            self.0.push(v.to_string());
        }
        fn hex_uuid(&mut self, v: &Uuid) {
            self.0.push(v.to_string());
        }
        fn uuid(&mut self, v: &Uuid) {
            self.0.push(v.to_string());
        }
        fn int(&mut self, v: i64) {
            self.0.push(v.to_string());
        }
        fn decimal(&mut self, v: i64) {
            self.0.push(v.to_string());
        }
        fn bool(&mut self, v: bool) {
            self.0.push(v.to_string());
        }
        fn date(&mut self, v: Date) {
            self.0.push(v.to_string());
        }
        fn timestamp(&mut self, v: crate::time::Timestamp) {
            self.0.push(format!("{v:?}"));
        }
        fn json(&mut self, v: &str) {
            self.0.push(v.to_string());
        }
        fn null(&mut self) {
            self.0.push("NULL".into());
        }
    }
    impl RowSink for Rows {
        type Error = std::convert::Infallible;
        fn row<R: Row>(&mut self, row: &R) -> Result<(), Self::Error> {
            row.visit(self);
            self.0.push("\n".into());
            Ok(())
        }
    }

    #[test]
    fn payments_and_services_read_the_same_orders_as_the_orders_table() {
        // generate() reads only the fields of an order that payments and services need;
        // they must be the fields of the full order, drawn by order()
        let g = ShinyRocks::new(9);
        let day = Date::from_ymd(2024, 3, 9).unwrap();
        let (mut payments, mut services) = (Rows::default(), Rows::default());
        g.generate(&PAYMENTS, day, Shard::ALL, &mut payments)
            .unwrap();
        g.generate(&SERVICES_TABLE, day, Shard::ALL, &mut services)
            .unwrap();
        let (mut want_payments, mut want_services) = (Rows::default(), Rows::default());
        for i in 0..g.order_count(day) {
            let order = g.order(day, i);
            want_payments.row(&g.payment(&order, i)).unwrap();
            g.services(&order, i, |s| want_services.row(&s)).unwrap();
        }
        assert_eq!(payments.0, want_payments.0);
        assert_eq!(services.0, want_services.0);
        let mut orders = Rows::default();
        g.generate(&ORDERS, day, Shard::ALL, &mut orders).unwrap();
        let ids: Vec<&String> = orders.0.chunks(6).map(|r| &r[1]).collect();
        let paid: Vec<&String> = payments.0.chunks(6).map(|r| &r[1]).collect();
        assert_eq!(ids, paid, "payment i pays order i");
        assert!(!services.0.is_empty());
    }

    #[test]
    fn rows_are_a_function_of_seed_day_and_index() {
        let a = ShinyRocks::new(1);
        let day = Date::from_ymd(2024, 5, 1).unwrap();
        assert_eq!(a.order(day, 3), ShinyRocks::new(1).order(day, 3));
        assert_ne!(a.order(day, 3), a.order(day, 4));
        assert_ne!(a.order(day, 3), ShinyRocks::new(2).order(day, 3));
        assert_ne!(a.order(day, 3).order_id, a.order(day.succ(), 3).order_id);
    }
}
