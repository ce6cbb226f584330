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
        let returners = Arc::new(returners);
        cache_put(
            &self.returners,
            day,
            returners.clone(),
            self.returner_cache_days(),
        );
        returners
    }

    /// The fresh sessions of `day` whose abandoned cart comes back later, with their index
    /// among the day's sessions (cached: each later day of the return window looks for them).
    fn returners(&self, day: Date) -> Arc<Returners> {
        if let Some(r) = cache_get(&self.returners, day) {
            return r;
        }
        self.put_returners(day, &self.fresh_plans(day))
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
        let mut resumed = Vec::new();
        for back in 1..=self.config.funnel.max_cart_return_days as i32 {
            for (j, p) in self.returners(day.add_days(-back)).iter() {
                if p.returns_at.is_some_and(|t| t.date() == day) {
                    resumed.push(self.resumed_plan(p, *j));
                }
            }
        }
        resumed.sort_by_key(|p| p.resumes);
        let plans = Arc::new(DayPlans {
            fresh: Arc::new(fresh),
            resumed,
        });
        cache_put(&self.plans, day, plans.clone(), PLAN_CACHE_DAYS);
        plans
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
        let fresh: Vec<Mutex<Option<Vec<Plan>>>> = crate::pool::map(days.len(), threads, |i| {
            let d = days[i];
            let needed = window.contains(&d);
            let known = cache_get(&self.returners, d).is_some();
            if known && !needed {
                return None;
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
            let plans = self.put_plans(d, fresh.expect("planned above"));
            self.put_orders(d, &plans);
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
