//! The e-commerce scenario: an online shop whose rows change after they are
//! created.
//!
//! How a day stays generable on its own:
//! - **Customers** exist by closed form ([`traffic::Population`]): day d signs up a fixed number
//!   of new customers; customer i's attributes, moves and deletion come from its own stream.
//! - **Sessions** are planned cheaply ([`sessions::Plan`]); an abandoned cart's return is
//!   drawn with its plan, so a day finds its resumed carts among the returning carts of the
//!   previous [`config::Funnel::max_cart_return_days`] days (only those are cached).
//! - **Orders** draw their whole lifecycle when placed ([`lifecycle`]); a day finds the order
//!   changes landing on it by looking back [`lifecycle::MAX_LIFECYCLE_DAYS`] days of origins.
//! - **Products** change price at most once per period and are listed at fixed intervals.
//!
//! Modules: [`config`] (scenario file), [`tables`] (rows), [`traffic`] (volumes, marketing,
//! population), [`catalog`] (products), [`people`] (names, countries), [`sessions`] (plans,
//! events, carts), [`lifecycle`] (orders after checkout), [`views`] (extract, snapshot,
//! changes).

pub mod catalog;
pub mod config;
pub mod lifecycle;
pub mod people;
pub mod sessions;
pub mod tables;
pub mod traffic;
pub mod views;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::rng::{Key, Uuid};
use crate::time::{Date, Timestamp};
use crate::{Tunable, scenario::View};

use config::{Config, Persona as PersonaConfig};
use lifecycle::{Lifecycle, LifecycleModel};
use sessions::{Detail, Line, Outcome, Persona, Plan};
use tables::*;
use traffic::{DayTraffic, Population, Traffic};

const DAY: i64 = 86_400;
/// A deleting customer deletes its account this many seconds after its sign-up day starts.
const DELETION_AFTER: (i64, i64) = (30 * DAY, 730 * DAY);
/// How far the customer population is precomputed past the opening day.
const HORIZON_DAYS: i32 = 366 * 60;

#[derive(Debug, Clone)]
struct Keys {
    sessions: Key,
    plan: Key,
    detail: Key,
    resume: Key,
    resume_detail: Key,
    customer: Key,
    moves: Key,
    marketing: Key,
}

/// A day's fresh sessions whose abandoned cart comes back, with their index among the day's
/// sessions.
type Returners = Vec<(u32, Plan)>;

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
    fn channel(&self, u: f64) -> &'static str {
        self.channels
            .iter()
            .find(|(_, c)| u <= *c)
            .or(self.channels.last())
            .map_or("direct", |(n, _)| n)
    }
}

/// A customer's fixed core: what session planning needs, cheaply.
#[derive(Debug, Clone)]
pub struct CustomerCore {
    pub id: Uuid,
    pub persona: Persona,
}

/// An order and its drawn future.
#[derive(Debug, Clone)]
pub struct OrderCtx {
    pub plan: Plan,
    pub lifecycle: Lifecycle,
}

/// Money of an order, in cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    pub subtotal: i64,
    pub discount: i64,
    pub shipping: i64,
    pub tax: i64,
    pub total: i64,
}

#[derive(Debug)]
pub struct Ecommerce {
    pub config: Config,
    keys: Keys,
    pub traffic: Traffic,
    pub catalog: catalog::Catalog,
    lifecycle: LifecycleModel,
    population: Population,
    devices: Vec<(&'static str, f64)>,
    countries: Vec<(&'static str, f64)>,
    plans: Mutex<BTreeMap<Date, Arc<DayPlans>>>,
    returners: Mutex<BTreeMap<Date, Arc<Returners>>>,
    orders: Mutex<BTreeMap<Date, Arc<Vec<OrderCtx>>>>,
    order_family: Mutex<BTreeMap<Date, Arc<views::OrderFamily>>>,
}

/// Caches hold derived data only: results never depend on what is cached. Bounded: all
/// session plans only for the few days being generated (a day and the one before it, per
/// thread); for the cart-return window only the sessions whose cart comes back (a few per
/// cent of them); the orders of a day for the order lifecycle window (42 days).
const PLAN_CACHE_DAYS: usize = 6;
/// Days of returning carts kept beyond the cart-return window (neighbouring threads' days).
const RETURNER_CACHE_SLACK: usize = 8;
/// The lifecycle window and a few days for neighbouring threads.
const ORDER_CACHE_DAYS: usize = lifecycle::MAX_LIFECYCLE_DAYS as usize + 6;

pub(crate) fn cache_get<T>(cache: &Mutex<BTreeMap<Date, Arc<T>>>, day: Date) -> Option<Arc<T>> {
    cache.lock().expect("cache").get(&day).cloned()
}

pub(crate) fn cache_put<T>(
    cache: &Mutex<BTreeMap<Date, Arc<T>>>,
    day: Date,
    value: Arc<T>,
    limit: usize,
) {
    let mut c = cache.lock().expect("cache");
    while c.len() >= limit {
        // evict the day furthest from the one being added
        let first = *c.keys().next().expect("non-empty");
        let last = *c.keys().next_back().expect("non-empty");
        let victim = if first.days_until(day).abs() >= last.days_until(day).abs() {
            first
        } else {
            last
        };
        c.remove(&victim);
    }
    c.insert(day, value);
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

fn leaked_mix(m: &BTreeMap<String, f64>) -> Vec<(&'static str, f64)> {
    m.iter().map(|(k, v)| (leak(k), *v)).collect()
}

pub(crate) fn lifecycle_model(cfg: &Config) -> LifecycleModel {
    LifecycleModel {
        methods: leaked_mix(&cfg.payments.methods),
        carriers: leaked_mix(&cfg.shipping.carriers),
        failure: cfg.payments.failure_probability,
        cancel: cfg.payments.cancel_probability,
        failed_attempt: cfg.shipping.failed_attempt_probability,
        refund: cfg.shipping.refund_probability,
        partial_refund: cfg.shipping.partial_refund_share,
        discount_share: cfg.shop.discount_share,
    }
}

fn pick_mix(items: &[(&'static str, f64)], u: f64) -> &'static str {
    let mut acc = 0.0;
    for (k, w) in items {
        acc += w;
        if u <= acc {
            return k;
        }
    }
    items[items.len() - 1].0
}

impl Ecommerce {
    pub const NAME: &'static str = "ecommerce";

    pub fn new(config: Config, seed: u64) -> Ecommerce {
        let root = Key::root(seed).named(Self::NAME);
        let traffic = Traffic::new(&config, root.named("traffic"));
        let mut population = Population::default();
        population.extend_to(
            &traffic,
            config.traffic.new_customer_share,
            traffic.opened().add_days(HORIZON_DAYS),
        );
        Ecommerce {
            keys: Keys {
                sessions: root.named("sessions"),
                plan: root.named("plan"),
                detail: root.named("detail"),
                resume: root.named("resume"),
                resume_detail: root.named("resume_detail"),
                customer: root.named("customer"),
                moves: root.named("moves"),
                marketing: root.named("marketing"),
            },
            catalog: catalog::Catalog::new(&config, root.named("products")),
            lifecycle: lifecycle_model(&config),
            devices: leaked_mix(&config.traffic.devices),
            countries: leaked_mix(&config.customers.countries),
            traffic,
            population,
            plans: Mutex::new(BTreeMap::new()),
            returners: Mutex::new(BTreeMap::new()),
            orders: Mutex::new(BTreeMap::new()),
            order_family: Mutex::new(BTreeMap::new()),
            config,
        }
    }

    pub fn opened(&self) -> Date {
        self.traffic.opened()
    }

    /// The last day the scenario can generate.
    pub fn last_day(&self) -> Date {
        self.opened().add_days(HORIZON_DAYS - 1)
    }

    fn persona(&self, p: Persona) -> &PersonaConfig {
        let c = &self.config.personas;
        match p {
            Persona::WindowShopper => &c.window_shopper,
            Persona::FutureBuyer => &c.future_buyer,
            Persona::Buyer => &c.buyer,
            Persona::Loyal => &c.loyal,
        }
    }

    fn pick_persona(&self, u: f64) -> Persona {
        let m = &self.config.personas.mix;
        let mut acc = 0.0;
        for (p, w) in Persona::ALL
            .iter()
            .zip([m.window_shopper, m.future_buyer, m.buyer, m.loyal])
        {
            acc += w;
            if u <= acc {
                return *p;
            }
        }
        Persona::Loyal
    }

    fn pick_device(&self, u: f64) -> &'static str {
        pick_mix(&self.devices, u)
    }

    // ---- days ---------------------------------------------------------------------------

    pub fn context(&self, day: Date) -> DayContext {
        let traffic = self.traffic.day(day);
        let mut weights: Vec<(&'static str, f64)> = traffic::ORGANIC_CHANNELS
            .iter()
            .map(|(n, s)| (*n, traffic.organic * s))
            .collect();
        for ((name, ..), (_, sessions)) in self.traffic.channels.iter().zip(&traffic.paid) {
            weights.push((name, *sessions));
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

    fn in_range(&self, day: Date) -> bool {
        day >= self.opened() && day <= self.last_day()
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

    pub(crate) fn order_family_cache(&self) -> &Mutex<BTreeMap<Date, Arc<views::OrderFamily>>> {
        &self.order_family
    }

    /// The plan of the session `plan` resumes.
    fn origin_plan(&self, plan: &Plan) -> Option<Plan> {
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

    pub fn lifecycle_of(&self, plan: &Plan) -> Lifecycle {
        self.lifecycle
            .draw(plan.detail.named("lifecycle"), plan.end)
    }

    /// Orders placed on `day`, with their futures (cached).
    pub fn orders_placed(&self, day: Date) -> Arc<Vec<OrderCtx>> {
        if let Some(o) = cache_get(&self.orders, day) {
            return o;
        }
        self.put_orders(day, &self.day_plans(day))
    }

    fn put_orders(&self, day: Date, plans: &DayPlans) -> Arc<Vec<OrderCtx>> {
        let orders: Arc<Vec<OrderCtx>> = Arc::new(
            plans
                .all()
                .filter(|p| p.outcome == Outcome::Order)
                .map(|p| OrderCtx {
                    plan: p.clone(),
                    lifecycle: self.lifecycle_of(p),
                })
                .collect(),
        );
        cache_put(&self.orders, day, orders.clone(), ORDER_CACHE_DAYS);
        orders
    }

    /// An order's lines (the cart at checkout, priced then) and money.
    pub fn order_lines(&self, o: &OrderCtx) -> (Vec<(Line, i64)>, Money) {
        let detail = self.session_detail(&o.plan);
        let at = o.lifecycle.placed_at;
        let lines: Vec<(Line, i64)> = detail
            .cart
            .into_iter()
            .map(|l| {
                let price = self.catalog.price_at(&l.product, at).0;
                (l, price)
            })
            .collect();
        let subtotal: i64 = lines.iter().map(|(l, p)| l.quantity * p).sum();
        let shop = &self.config.shop;
        let discount = if o.lifecycle.discounted {
            (subtotal as f64 * shop.discount_rate).round() as i64
        } else {
            0
        };
        let shipping = if (subtotal - discount) as f64 >= shop.free_shipping_from * 100.0 {
            0
        } else {
            (shop.shipping_fee * 100.0).round() as i64
        };
        let tax = ((subtotal - discount + shipping) as f64 * shop.tax_rate).round() as i64;
        let money = Money {
            subtotal,
            discount,
            shipping,
            tax,
            total: subtotal - discount + shipping + tax,
        };
        (lines, money)
    }

    // ---- customers ----------------------------------------------------------------------

    pub fn customer_core(&self, i: u64) -> CustomerCore {
        let mut s = self.keys.customer.derive(i).stream();
        let id = s.uuid_v4();
        let persona = self.pick_persona(s.next_f64());
        CustomerCore { id, persona }
    }

    /// Seconds after its sign-up day's start at which customer `i` deletes its account.
    fn deletion_after(&self, i: u64) -> Option<i64> {
        let mut s = self.keys.customer.named("deletion").derive(i).stream();
        s.chance(self.config.customers.deletion_probability)
            .then(|| s.range_inclusive(DELETION_AFTER.0, DELETION_AFTER.1))
    }

    /// Whether customer `i`, who signed up on `origin`, changes on `day` (cheap: no identity).
    pub(crate) fn customer_touched(&self, i: u64, origin: Date, day: Date) -> bool {
        if origin == day {
            return true;
        }
        let since = day.start().0 - origin.start().0;
        // this runs for every customer every day: draw the deletion only where it can matter
        let deleted = || self.deletion_after(i).map(|after| origin.start().0 + after);
        let can_be_deleted_today = (DELETION_AFTER.0 - DAY..=DELETION_AFTER.1).contains(&since);
        if can_be_deleted_today && deleted().is_some_and(|d| Timestamp(d).date() == day) {
            return true;
        }
        // a move lands on `day` only from the period containing the day's start or end
        let periods = [
            since.div_euclid(90 * DAY),
            (since + DAY - 1).div_euclid(90 * DAY),
        ];
        periods.iter().filter(|p| **p >= 1).any(|&p| {
            self.customer_move(i, origin, p)
                .is_some_and(|at| at.date() == day && deleted().is_none_or(|d| at.0 < d))
        })
    }

    /// Customers with a change on `day`, by index.
    pub(crate) fn customers_touched(&self, day: Date) -> Vec<u64> {
        let mut out = Vec::new();
        let mut o = self.opened();
        let mut first = 0;
        while o <= day {
            let end = self.customer_count(o);
            out.extend((first..end).filter(|&i| self.customer_touched(i, o, day)));
            first = end;
            o = o.succ();
        }
        out
    }

    fn customer_origin(&self, i: u64) -> (Date, u64) {
        self.population.origin(&self.traffic, i)
    }

    pub(crate) fn deleted_at(&self, i: u64) -> Option<Timestamp> {
        let after = self.deletion_after(i)?;
        Some(Timestamp(self.customer_origin(i).0.start().0 + after))
    }

    pub fn customer_created_at(&self, i: u64) -> Timestamp {
        let (day, j) = self.customer_origin(i);
        let ctx = self.context(day);
        self.fresh_plan(&ctx, j as u32).signup_at()
    }

    /// The move of customer `i` in 90-day period `p` (≥ 1) after its sign-up day, if any.
    fn customer_move(&self, i: u64, origin: Date, p: i64) -> Option<Timestamp> {
        let mut s = self.keys.moves.derive(i).derive(p as u64).stream();
        s.chance(self.config.customers.address_change_probability)
            .then(|| {
                Timestamp(origin.start().0 + p * 90 * DAY + s.range_inclusive(0, 90 * DAY - 1))
            })
    }

    /// Customers who exist by the end of `day`.
    pub fn customer_count(&self, day: Date) -> u64 {
        if day < self.opened() {
            0
        } else {
            self.population
                .by_end_of(&self.traffic, day.min(self.last_day()))
        }
    }

    /// Change times of customer `i` within [from, to] (sign-up, moves, deletion).
    pub fn customer_versions(&self, i: u64, from: Timestamp, to: Timestamp) -> Vec<Timestamp> {
        let (origin, _) = self.customer_origin(i);
        let deleted = self.deleted_at(i);
        let mut out = Vec::new();
        if from.date() <= origin && origin <= to.date() {
            let created = self.customer_created_at(i);
            if (from..=to).contains(&created) {
                out.push(created);
            }
        }
        let first = ((from.0 - origin.start().0).div_euclid(90 * DAY)).max(1);
        let last = (to.0 - origin.start().0).div_euclid(90 * DAY);
        for p in first..=last {
            if let Some(at) = self.customer_move(i, origin, p)
                && (from..=to).contains(&at)
                && deleted.is_none_or(|d| at < d)
            {
                out.push(at);
            }
        }
        if let Some(d) = deleted
            && (from..=to).contains(&d)
        {
            out.push(d);
        }
        out
    }

    /// Customer `i` as of `t`.
    pub fn customer_at(&self, i: u64, t: Timestamp) -> Customer {
        let core = self.customer_core(i);
        let (origin, _) = self.customer_origin(i);
        let created_at = self.customer_created_at(i);
        let mut s = self.keys.customer.named("identity").derive(i).stream();
        let code = pick_mix(&self.countries, s.next_f64());
        let country = people::country(code).expect("validated country");
        let identity = people::identity(country, i, &mut s);
        let opt_in = s.chance(self.config.customers.marketing_opt_in);
        let pick_city = |s: &mut crate::rng::Stream| {
            country.cities[s.range_inclusive(0, country.cities.len() as i64 - 1) as usize]
        };
        let mut city = pick_city(&mut s);
        let deleted_at = self.deleted_at(i).filter(|d| *d <= t);
        let mut updated_at = created_at;
        // the latest move at or before t (and before any deletion)
        let mut p = (t.0 - origin.start().0).div_euclid(90 * DAY);
        while p >= 1 {
            if let Some(at) = self.customer_move(i, origin, p)
                && at <= t
                && self.deleted_at(i).is_none_or(|d| at < d)
            {
                let mut ms = self
                    .keys
                    .moves
                    .named("city")
                    .derive(i)
                    .derive(p as u64)
                    .stream();
                city = pick_city(&mut ms);
                updated_at = at;
                break;
            }
            p -= 1;
        }
        if let Some(d) = deleted_at {
            updated_at = d;
        }
        Customer {
            id: core.id,
            created_at,
            updated_at,
            deleted_at,
            first_name: identity.first_name,
            last_name: identity.last_name,
            email: identity.email,
            username: identity.username,
            country: country.code,
            city,
            persona: core.persona.name(),
            marketing_opt_in: opt_in,
        }
    }

    // ---- marketing ----------------------------------------------------------------------

    pub fn marketing_spend(&self, day: Date) -> Vec<MarketingSpend> {
        if !self.in_range(day) {
            return Vec::new();
        }
        let t = self.traffic.day(day);
        let (y, m, _) = day.ymd();
        let bf = traffic::black_friday(y);
        let campaign_kind = if (bf.add_days(-4)..=bf.add_days(3)).contains(&day) {
            format!("black-friday-{y}")
        } else if m == 12 {
            format!("holidays-{y}")
        } else {
            format!("always-on-{y}-{m:02}")
        };
        self.traffic
            .channels
            .iter()
            .zip(t.paid)
            .enumerate()
            .map(|(c, ((name, _, _, _, cpm), (spend, sessions)))| {
                let mut s = self
                    .keys
                    .marketing
                    .derive(day.days_since_epoch() as u64)
                    .derive(c as u64)
                    .stream();
                let clicks = (sessions * (1.02 + 0.1 * s.next_f64())).round() as i64;
                let impressions = (spend as f64 / 100.0 / cpm * 1000.0 * (0.9 + 0.2 * s.next_f64()))
                    .round() as i64;
                MarketingSpend {
                    date: day,
                    channel: name,
                    campaign: format!("{name}-{campaign_kind}"),
                    spend,
                    impressions: impressions.max(clicks),
                    clicks,
                }
            })
            .collect()
    }

    // ---- rows of sessions and orders ------------------------------------------------------

    pub fn session_row(&self, plan: &Plan) -> Session {
        let landing = if plan.resumes.is_some() { "/cart" } else { "/" };
        Session {
            id: plan.id,
            customer_id: plan.visitor.customer().map(|i| self.customer_core(i).id),
            started_at: plan.start,
            ended_at: plan.end,
            channel: plan.channel,
            device: plan.device,
            landing_page: landing.to_string(),
        }
    }

    pub fn order_row(&self, o: &OrderCtx, money: &Money, t: Timestamp) -> Option<Order> {
        let (updated_at, status) = lifecycle::state_at(&o.lifecycle.order, t)?;
        let customer = o.plan.visitor.customer().expect("orders have customers");
        Some(Order {
            id: o.lifecycle.order_id,
            customer_id: self.customer_core(customer).id,
            session_id: o.plan.id,
            status,
            currency: self.catalog.currency,
            subtotal: money.subtotal,
            discount: money.discount,
            shipping: money.shipping,
            tax: money.tax,
            total: money.total,
            utm_source: o.plan.channel,
            created_at: o.lifecycle.placed_at,
            updated_at,
        })
    }

    pub fn payment_row(&self, o: &OrderCtx, money: &Money, t: Timestamp) -> Option<Payment> {
        let (updated_at, status) = lifecycle::state_at(&o.lifecycle.payment, t)?;
        Some(Payment {
            id: o.lifecycle.payment_id,
            order_id: o.lifecycle.order_id,
            method: o.lifecycle.method,
            status,
            amount: money.total,
            created_at: o.lifecycle.placed_at,
            updated_at,
        })
    }

    pub fn shipment_row(&self, o: &OrderCtx, t: Timestamp) -> Option<Shipment> {
        let (updated_at, state) = lifecycle::state_at(&o.lifecycle.shipment, t)?;
        Some(Shipment {
            id: o.lifecycle.shipment_id,
            order_id: o.lifecycle.order_id,
            carrier: o.lifecycle.carrier,
            status: state.status,
            attempts: state.attempts,
            shipped_at: o.lifecycle.shipment[0].0,
            delivered_at: state.delivered_at,
            updated_at,
        })
    }

    pub fn refund_row(&self, o: &OrderCtx, money: &Money, t: Timestamp) -> Option<Refund> {
        let r = o.lifecycle.refund.as_ref().filter(|r| r.at <= t)?;
        let amount = if r.share >= 1.0 {
            money.total
        } else {
            (money.total as f64 * r.share).round() as i64
        };
        Some(Refund {
            id: o.lifecycle.refund_id,
            order_id: o.lifecycle.order_id,
            payment_id: o.lifecycle.payment_id,
            reason: r.reason,
            amount,
            created_at: r.at,
        })
    }

    pub fn tunables(&self) -> Vec<Tunable> {
        views::tunables()
    }

    /// The default view's first day for ranges that start "from the beginning".
    pub fn first_day(&self) -> Date {
        self.opened()
    }

    pub fn view_supported(&self, _view: View) -> bool {
        true
    }
}
