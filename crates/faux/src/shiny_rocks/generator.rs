//! Drawing Shiny Rocks rows: every order from its own keyed stream, its payment and its
//! services from streams of the same index, and each day's marketing spend per platform.

use crate::rng::{Categorical, Key, Uuid};
use crate::time::Date;

use super::model::{
    PAYMENT_METHODS, PLATFORMS, PRICE_PER_PRODUCT_ID, PRODUCTS, SERVICE_DURATION_S, SERVICES,
    SERVICES_PER_ORDER, SPEND_NOISE, UTM_SOURCES, daily_orders,
};
use super::tables::{MarketingInvestment, Order, Payment, Service};

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
    pub(super) fn day_keys(&self, day: Date) -> DayKeys {
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
    pub(super) fn order_in(&self, keys: &DayKeys, day: Date, index: u64) -> Order {
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
    pub(super) fn order_for_payment(&self, keys: &DayKeys, index: u64) -> (Uuid, i64) {
        let mut s = keys.orders.derive(index).stream();
        s.seek(Self::ORDER_ID_AT);
        let order_id = s.uuid_v4();
        (order_id, self.products.sample(&mut s))
    }

    /// (user_id, product_id) of order `index`, without drawing its other fields.
    #[inline(always)]
    pub(super) fn order_for_services(&self, keys: &DayKeys, index: u64) -> (Uuid, i64) {
        let mut s = keys.orders.derive(index).stream();
        let user_id = s.uuid_v4();
        s.seek(Self::PRODUCT_AT);
        (user_id, self.products.sample(&mut s))
    }

    #[inline(always)]
    pub(super) fn payment_in(
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
    pub(super) fn services_in<E>(
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
}

/// The keys of one day's order, payment and service streams.
#[derive(Debug, Clone, Copy)]
pub(super) struct DayKeys {
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
