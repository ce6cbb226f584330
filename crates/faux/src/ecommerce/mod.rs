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
//! population), [`catalog`] (products), [`people`] (names, countries), `customers` (customers
//! as of any instant), [`sessions`] (plans, events, carts), `plans` (a day's sessions and
//! resumed carts), `orders` (orders placed, their lines, money and rows), [`lifecycle`]
//! (orders after checkout), `marketing` (spend), `cache` (the day caches), [`views`]
//! (extract, snapshot, changes).

pub mod catalog;
pub mod config;
pub mod labels;
pub mod lifecycle;
pub mod people;
pub mod properties;
pub mod sessions;
pub mod tables;
pub mod traffic;
pub mod views;

mod cache;
mod customers;
mod marketing;
mod orders;
mod plans;

pub(crate) use cache::{cache_get, cache_put};
pub use customers::CustomerCore;
pub use orders::{AbandonedCart, Money, OrderCtx};
pub use plans::{DayContext, DayPlans};

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use crate::rng::Key;
use crate::time::Date;
use crate::{Tunable, scenario::View};

use config::{Config, Persona as PersonaConfig};
use lifecycle::LifecycleModel;
use plans::Returners;
use sessions::Persona;
use traffic::{Population, Traffic};

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
    held_family: Mutex<BTreeMap<Date, Arc<views::HeldFamily>>>,
    /// Customer i's persona at position i, for the customers known so far (derived data,
    /// see [`Ecommerce::personas`]).
    personas: RwLock<Arc<Vec<Persona>>>,
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
            held_family: Mutex::new(BTreeMap::new()),
            personas: RwLock::new(Arc::new(Vec::new())),
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

    fn in_range(&self, day: Date) -> bool {
        day >= self.opened() && day <= self.last_day()
    }

    /// Empties the day caches (the next day asked for regenerates what it needs).
    pub(crate) fn release_caches(&self) {
        self.plans.lock().expect("cache").clear();
        self.returners.lock().expect("cache").clear();
        self.orders.lock().expect("cache").clear();
        self.order_family.lock().expect("cache").clear();
        self.held_family.lock().expect("cache").clear();
    }

    pub(crate) fn order_family_cache(&self) -> &Mutex<BTreeMap<Date, Arc<views::OrderFamily>>> {
        &self.order_family
    }

    pub(crate) fn held_family_cache(&self) -> &Mutex<BTreeMap<Date, Arc<views::HeldFamily>>> {
        &self.held_family
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
