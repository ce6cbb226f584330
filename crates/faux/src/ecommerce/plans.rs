//! A day's sessions: what the plans of a day need to know about it, its fresh sessions, the
//! abandoned carts of earlier days that resume on it, and the look-back window of days a
//! first day plans (in parallel) before its orders can be found.

use std::sync::{Arc, Mutex};

use crate::time::Date;

use super::cache::{PLAN_CACHE_DAYS, RETURNER_CACHE_SLACK, cache_get, cache_put};
use super::sessions::{Detail, Outcome, Plan};
use super::traffic::{self, DayTraffic};
use super::{Ecommerce, lifecycle};

/// A day's fresh sessions whose abandoned cart comes back, with their index among the day's
/// sessions.
pub(super) type Returners = Vec<(u32, Plan)>;

/// The sessions that start on one day.
#[derive(Debug)]
pub struct DayPlans {
    pub fresh: Arc<Vec<Plan>>,
    /// Resumed carts, by origin day and index.
    pub resumed: Vec<Plan>,
}

impl DayPlans {
    pub fn all(&self) -> impl Iterator<Item = &Plan> {
        self.fresh.iter().chain(self.resumed.iter())
    }
}

/// What the plans of a day need to know about it.
#[derive(Debug, Clone)]
pub struct DayContext {
    pub day: Date,
    pub traffic: DayTraffic,
    /// (channel, cumulative share).
    channels: Vec<(&'static str, f64)>,
    pub sessions: u64,
    pub new_customers: u64,
    pub customers_before: u64,
    /// The personas of the customers known by the day's end, by index.
    pub(super) personas: Arc<Vec<super::sessions::Persona>>,
}

impl DayContext {
    pub(super) fn channel(&self, u: f64) -> &'static str {
        self.channels
            .iter()
            .find(|(_, c)| u <= *c)
            .or(self.channels.last())
            .map_or("direct", |(n, _)| n)
    }
}

impl Ecommerce {
    pub fn context(&self, day: Date) -> DayContext {
        let traffic = self.traffic.day(day);
        let mut weights: Vec<(&'static str, f64)> = traffic::ORGANIC_CHANNELS
            .iter()
            .map(|(n, s)| (*n, traffic.organic * s))
            .collect();
        for &(i, _, sessions) in &traffic.paid {
            weights.push((self.traffic.channels[i].name, sessions));
        }
        let total: f64 = weights.iter().map(|(_, w)| w).sum();
        let mut acc = 0.0;
        let channels = weights
            .into_iter()
            .map(|(n, w)| {
                acc += w / total.max(1e-9);
                (n, acc)
            })
            .collect();
        let before = self.population.by_end_of(&self.traffic, day.add_days(-1));
        let new_customers = self.population.by_end_of(&self.traffic, day) - before;
        let mut s = self
            .keys
            .sessions
            .derive(day.days_since_epoch() as u64)
            .stream();
        let sessions = traffic::poisson(traffic.expected_sessions(), &mut s).max(new_customers);
        DayContext {
            day,
            traffic,
            channels,
            sessions,
            new_customers,
            customers_before: before,
            personas: self.personas(before + new_customers),
        }
    }

    /// The sessions of `day` that are not resumed carts.
    fn fresh_plans(&self, day: Date) -> Vec<Plan> {
        if !self.in_range(day) {
            return Vec::new();
        }
        let ctx = self.context(day);
        (0..ctx.sessions as u32)
            .map(|j| self.fresh_plan(&ctx, j))
            .collect()
    }

    /// A day looks back over the cart-return window for resumed carts; a first day also
    /// plans the lifecycle window before it, each of those days looking back again.
    fn returner_cache_days(&self) -> usize {
        self.config.funnel.max_cart_return_days as usize
            + lifecycle::MAX_LIFECYCLE_DAYS as usize
            + RETURNER_CACHE_SLACK
    }

    fn put_returners(&self, day: Date, fresh: &[Plan]) -> Arc<Returners> {
        let returners: Returners = fresh
            .iter()
            .enumerate()
            .filter(|(_, p)| p.returns_at.is_some())
            .map(|(j, p)| (j as u32, p.clone()))
            .collect();
        self.cache_returners(day, returners)
    }

    fn cache_returners(&self, day: Date, returners: Returners) -> Arc<Returners> {
        let returners = Arc::new(returners);
        cache_put(
            &self.returners,
            day,
            returners.clone(),
            self.returner_cache_days(),
        );
        returners
    }

    /// Of the fresh sessions of `day`, only those whose cart comes back (with their index)
    /// and those that order, without holding the day's whole list: a look-back over weeks
    /// needs only these (a few per cent of the sessions).
    fn lean_plans(&self, day: Date) -> (Returners, Vec<Plan>) {
        let (mut returners, mut orders) = (Vec::new(), Vec::new());
        if !self.in_range(day) {
            return (returners, orders);
        }
        let ctx = self.context(day);
        for j in 0..ctx.sessions as u32 {
            let Some(p) = self.fresh_plan_if_kept(&ctx, j) else {
                continue;
            };
            // a cart that comes back was not ordered: the two lists never share a session
            if p.returns_at.is_some() {
                returners.push((j, p));
            } else if p.outcome == Outcome::Order {
                orders.push(p);
            }
        }
        (returners, orders)
    }

    /// The fresh sessions of `day` whose abandoned cart comes back later, with their index
    /// among the day's sessions (cached: each later day of the return window looks for them).
    fn returners(&self, day: Date) -> Arc<Returners> {
        if let Some(r) = cache_get(&self.returners, day) {
            return r;
        }
        self.cache_returners(day, self.lean_plans(day).0)
    }

    /// Every session starting on `day`: its fresh sessions, then the carts resumed that day.
    pub fn day_plans(&self, day: Date) -> Arc<DayPlans> {
        if let Some(p) = cache_get(&self.plans, day) {
            return p;
        }
        let fresh = self.fresh_plans(day);
        if cache_get(&self.returners, day).is_none() {
            self.put_returners(day, &fresh);
        }
        self.put_plans(day, fresh)
    }

    /// `day`'s plans from its fresh sessions (the returners of the days before are looked up
    /// or worked out), cached.
    fn put_plans(&self, day: Date, fresh: Vec<Plan>) -> Arc<DayPlans> {
        let plans = Arc::new(DayPlans {
            fresh: Arc::new(fresh),
            resumed: self.resumed_on(day),
        });
        cache_put(&self.plans, day, plans.clone(), PLAN_CACHE_DAYS);
        plans
    }

    /// The carts abandoned on earlier days that are taken up again on `day`, in the order of
    /// their origin (day, index).
    fn resumed_on(&self, day: Date) -> Vec<Plan> {
        let mut resumed = Vec::new();
        for back in 1..=self.config.funnel.max_cart_return_days as i32 {
            for (j, p) in self.returners(day.add_days(-back)).iter() {
                if p.returns_at.is_some_and(|t| t.date() == day) {
                    resumed.push(self.resumed_plan(p, *j));
                }
            }
        }
        resumed.sort_by_key(|p| p.resumes);
        resumed
    }

    /// Works out, on up to `threads` threads, the orders of the days of `day`'s look-back
    /// window that are not cached yet: a first day needs ~43 days of sessions, a next day
    /// finds all but one cached. The same results as planning the days one by one (each day
    /// is keyed on its own); only the time differs.
    pub(crate) fn prepare_window(&self, day: Date, threads: usize) {
        let window: Vec<Date> = (0..=lifecycle::MAX_LIFECYCLE_DAYS)
            .rev()
            .map(|back| day.add_days(-back))
            .filter(|d| cache_get(&self.orders, *d).is_none())
            .collect();
        if threads < 2 || window.len() < 2 {
            return;
        }
        // first each day's fresh sessions (independent of other days), remembering whose
        // cart comes back; then each window day's resumed carts and orders
        let first = window[0].add_days(-(self.config.funnel.max_cart_return_days as i32));
        let days: Vec<Date> = (0..=first.days_until(day))
            .map(|k| first.add_days(k))
            .collect();
        //
        // Of the days before the last two only the sessions that order or come back are
        // kept (a few per cent): the whole lists of ~50 days would be ~100 MB of fresh memory
        // written once and thrown away, and only `day` and the day before are asked for whole
        // (sessions, events).
        let whole_from = day.add_days(-1);
        let fresh: Vec<Mutex<Option<Vec<Plan>>>> = crate::pool::map(days.len(), threads, |i| {
            let d = days[i];
            let needed = window.contains(&d);
            let known = cache_get(&self.returners, d).is_some();
            if known && !needed {
                return None;
            }
            if d < whole_from {
                let (returners, orders) = self.lean_plans(d);
                if !known {
                    self.cache_returners(d, returners);
                }
                return needed.then_some(orders);
            }
            let fresh = self.fresh_plans(d);
            if !known {
                self.put_returners(d, &fresh);
            }
            needed.then_some(fresh)
        })
        .into_iter()
        .map(Mutex::new)
        .collect();
        crate::pool::map(window.len(), threads, |i| {
            let d = window[i];
            let at = days.iter().position(|x| *x == d).expect("a window day");
            let fresh = fresh[at].lock().expect("fresh plans").take();
            let fresh = fresh.expect("planned above");
            if d < whole_from {
                // the day's orders: its fresh sessions that order, then its resumed carts
                // that do (as `DayPlans::all` lists them)
                let resumed = self.resumed_on(d);
                self.put_orders(d, fresh.iter().chain(resumed.iter()));
            } else {
                let plans = self.put_plans(d, fresh);
                self.put_orders(d, plans.all());
            }
        });
    }

    /// The plan of the session `plan` resumes.
    pub(super) fn origin_plan(&self, plan: &Plan) -> Option<Plan> {
        let (day, j) = plan.resumes?;
        let returners = self.returners(day);
        let k = returners.binary_search_by_key(&j, |(i, _)| *i).ok()?;
        Some(returners[k].1.clone())
    }

    /// The session's events and final cart (orders included: lifecycle-dependent events).
    pub fn session_detail(&self, plan: &Plan) -> Detail {
        let lifecycle = (plan.outcome == Outcome::Order).then(|| self.lifecycle_of(plan));
        match self.origin_plan(plan) {
            Some(origin) => {
                let before = self.detail(&origin, None, None);
                self.detail(
                    plan,
                    Some((before.cart_id, &before.cart)),
                    lifecycle.as_ref(),
                )
            }
            None => self.detail(plan, None, lifecycle.as_ref()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::config::Config;
    use super::super::sessions::Outcome;
    use super::*;

    #[test]
    fn a_lean_day_keeps_exactly_the_returning_carts_and_the_orders_of_the_whole_day() {
        let shop = Ecommerce::new(Config::default_config(), 5);
        // the opening day (no customer yet), an early day and a later one
        for day in ["2020-01-01", "2020-01-02", "2021-06-15", "2024-11-29"] {
            let day: Date = day.parse().unwrap();
            let whole = shop.fresh_plans(day);
            let (returners, orders) = shop.lean_plans(day);
            let expected_returners: Vec<String> = whole
                .iter()
                .enumerate()
                .filter(|(_, p)| p.returns_at.is_some())
                .map(|(j, p)| format!("{j} {p:?}"))
                .collect();
            let expected_orders: Vec<String> = whole
                .iter()
                .filter(|p| p.returns_at.is_none() && p.outcome == Outcome::Order)
                .map(|p| format!("{p:?}"))
                .collect();
            let got_returners: Vec<String> = returners
                .iter()
                .map(|(j, p)| format!("{j} {p:?}"))
                .collect();
            let got_orders: Vec<String> = orders.iter().map(|p| format!("{p:?}")).collect();
            assert!(!expected_orders.is_empty() || day == shop.opened(), "{day}");
            assert_eq!(got_returners, expected_returners, "{day}");
            assert_eq!(got_orders, expected_orders, "{day}");
        }
    }
}
