//! Sessions in two layers. A session's **plan** (visitor, persona, channel, times, how far
//! down the funnel it goes, whether an abandoned cart comes back and when) takes a handful of
//! draws, so a day can scan weeks of plans cheaply to find resumed carts and the orders whose
//! lifecycle touches it. Its **detail** (events, cart, order lines) is drawn from another
//! stream only when its rows are needed, and always agrees with the plan.

use crate::rng::{Key, Stream, Uuid};
use crate::time::{Date, Timestamp};

use super::Ecommerce;
use super::catalog::ProductBase;
use super::properties::Properties;
use super::tables::{Event, Session};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persona {
    WindowShopper,
    FutureBuyer,
    Buyer,
    Loyal,
}

impl Persona {
    pub const ALL: [Persona; 4] = [
        Persona::WindowShopper,
        Persona::FutureBuyer,
        Persona::Buyer,
        Persona::Loyal,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Persona::WindowShopper => "window_shopper",
            Persona::FutureBuyer => "future_buyer",
            Persona::Buyer => "buyer",
            Persona::Loyal => "loyal",
        }
    }
}

// a persona's discriminant is its position in `ALL` (tables indexed by persona rely on it)
const _: () = {
    let mut i = 0;
    while i < Persona::ALL.len() {
        assert!(Persona::ALL[i] as usize == i);
        i += 1;
    }
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visitor {
    /// Signs up in this session as customer `index`.
    New(u64),
    Returning(u64),
    Anonymous,
}

impl Visitor {
    pub fn customer(self) -> Option<u64> {
        match self {
            Visitor::New(i) | Visitor::Returning(i) => Some(i),
            Visitor::Anonymous => None,
        }
    }
}

/// How far down the funnel a session goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Browse,
    /// Adds to the cart, then leaves.
    Cart,
    /// Starts checkout, then leaves.
    Checkout,
    Order,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub day: Date,
    /// For a resumed cart: the day and index of the session that abandoned it.
    pub resumes: Option<(Date, u32)>,
    pub detail: Key,
    pub id: Uuid,
    pub start: Timestamp,
    pub end: Timestamp,
    pub visitor: Visitor,
    pub persona: Persona,
    pub channel: &'static str,
    pub device: &'static str,
    pub outcome: Outcome,
    /// An abandoned cart resumed in a later session starting then.
    pub returns_at: Option<Timestamp>,
}

impl Plan {
    /// When the visitor of a `New` session becomes a customer: at checkout if it orders,
    /// else when it arrives.
    pub fn signup_at(&self) -> Timestamp {
        if self.outcome == Outcome::Order {
            Timestamp(self.end.0 - 30)
        } else {
            self.start
        }
    }
}

/// A cart line: product, units.
#[derive(Debug, Clone)]
pub struct Line {
    pub product: ProductBase,
    pub quantity: i64,
}

/// A session's detailed simulation.
#[derive(Debug, Clone)]
pub struct Detail {
    pub cart_id: Uuid,
    pub events: Vec<Event>,
    /// The cart when the session ends (for an order: its lines).
    pub cart: Vec<Line>,
}

/// Draws of a fresh session's stream taken by its id, its arrival and its duration, in
/// that order (see [`Ecommerce::funnel`]).
const PLAN_ID_DRAWS: u64 = 2;
const PLAN_ARRIVAL_DRAWS: u64 = 2;
const PLAN_DURATION_DRAWS: u64 = 2;
/// Where a session's anonymous-or-returning draw sits: after the id, arrival, duration,
/// channel and device.
const PLAN_VISITOR_DRAW: u64 = PLAN_ID_DRAWS + PLAN_ARRIVAL_DRAWS + PLAN_DURATION_DRAWS + 2;

/// A fresh session's draws up to its outcome, and its stream positioned after them.
struct Funnel {
    s: Stream,
    /// When it arrives (a new customer's session may start earlier: see `finish_plan`).
    arrival: Timestamp,
    channel: &'static str,
    device: &'static str,
    visitor: Visitor,
    persona: Persona,
    outcome: Outcome,
}

fn lognormal_seconds(s: &mut Stream, median: f64, sigma: f64, lo: i64, hi: i64) -> i64 {
    ((median.ln() + sigma * super::traffic::normal(s)).exp() as i64).clamp(lo, hi)
}

/// What a session does, event by event, before times are assigned.
struct Step {
    event_type: &'static str,
    product: Option<usize>,
    quantity: Option<i64>,
    page: Option<&'static str>,
}

impl Ecommerce {
    /// The session of `plan` as of `at` (at or after its start): its end is known only once
    /// it has happened.
    pub fn session_row(&self, plan: &Plan, at: Timestamp) -> Session {
        let landing = if plan.resumes.is_some() { "/cart" } else { "/" };
        let ended = plan.end <= at;
        Session {
            id: plan.id,
            customer_id: plan.visitor.customer().map(|i| self.customer_core(i).id),
            started_at: plan.start,
            ended_at: ended.then_some(plan.end),
            channel: plan.channel,
            device: plan.device,
            landing_page: landing.to_string(),
            updated_at: if ended { plan.end } else { plan.start },
        }
    }

    /// Session `j` of the fresh (non-resumed) sessions of `day`.
    pub(crate) fn fresh_plan(&self, ctx: &super::DayContext, j: u32) -> Plan {
        self.finish_plan(ctx, j, self.funnel(ctx, j))
    }

    /// Session `j` of `day` if it orders or its cart may come back (the sessions a look-back
    /// over weeks keeps), without drawing the rest of the others: their id and duration
    /// (`ln`, `cos`, `exp`) are a third of a plan's cost and tell nothing of the funnel.
    pub(crate) fn fresh_plan_if_kept(&self, ctx: &super::DayContext, j: u32) -> Option<Plan> {
        // an anonymous visitor never orders and its cart never comes back: its draw sits at a
        // fixed position, so nearly half the sessions are dropped before their funnel
        if (j as u64) >= ctx.new_customers {
            let mut s = self.plan_key(ctx.day, j).stream();
            s.seek(PLAN_VISITOR_DRAW);
            if self.anonymous(ctx, &mut s) {
                return None;
            }
        }
        let f = self.funnel(ctx, j);
        let kept = f.outcome == Outcome::Order
            || (matches!(f.outcome, Outcome::Cart | Outcome::Checkout)
                && f.visitor != Visitor::Anonymous);
        kept.then(|| self.finish_plan(ctx, j, f))
    }

    /// Whether a session that is not a sign-up is an anonymous visitor's: the draw at
    /// [`PLAN_VISITOR_DRAW`] (or no customer exists yet).
    fn anonymous(&self, ctx: &super::DayContext, s: &mut Stream) -> bool {
        debug_assert_eq!(s.position(), PLAN_VISITOR_DRAW);
        let cfg = &self.config.traffic;
        s.chance(cfg.anonymous_share / (1.0 - cfg.new_customer_share).max(1e-9))
            || ctx.customers_before == 0
    }

    fn plan_key(&self, day: Date, j: u32) -> Key {
        self.keys
            .plan
            .derive(day.days_since_epoch() as u64)
            .derive(j as u64)
    }

    /// A fresh session's draws up to how far down the funnel it goes. The stream's order is
    /// the model: the id (two draws), the arrival (two), the duration (two), then the funnel;
    /// the id and the duration are skipped here and read by [`Ecommerce::finish_plan`] at
    /// their positions.
    fn funnel(&self, ctx: &super::DayContext, j: u32) -> Funnel {
        let day = ctx.day;
        let mut s = self.plan_key(day, j).stream();
        s.seek(PLAN_ID_DRAWS);
        let arrival = self.traffic.arrival(day, &mut s);
        debug_assert_eq!(s.position(), PLAN_ID_DRAWS + PLAN_ARRIVAL_DRAWS);
        s.seek(PLAN_ID_DRAWS + PLAN_ARRIVAL_DRAWS + PLAN_DURATION_DRAWS);
        let channel = ctx.channel(s.next_f64());
        let device = self.pick_device(s.next_f64());
        let visitor = if (j as u64) < ctx.new_customers {
            Visitor::New(ctx.customers_before + j as u64)
        } else if self.anonymous(ctx, &mut s) {
            Visitor::Anonymous
        } else {
            self.pick_returning(&mut s, ctx, arrival)
        };
        let persona = match visitor {
            Visitor::New(i) | Visitor::Returning(i) => ctx.personas[i as usize],
            Visitor::Anonymous => self.pick_persona(s.next_f64()),
        };
        let p = self.persona(persona);
        let mut outcome = Outcome::Browse;
        if s.chance(p.add_to_cart) {
            outcome = Outcome::Cart;
            if s.chance(self.checkout_probability(p, day, channel, device)) {
                outcome = Outcome::Checkout;
                if s.chance(p.order) {
                    outcome = Outcome::Order;
                }
            }
        }
        if visitor == Visitor::Anonymous && outcome == Outcome::Order {
            // anonymous visitors who would buy are the ones who sign up (New sessions)
            outcome = Outcome::Checkout;
        }
        Funnel {
            s,
            arrival,
            channel,
            device,
            visitor,
            persona,
            outcome,
        }
    }

    /// The plan of session `j` of `day` from its funnel: its id and duration, and whether
    /// and when an abandoned cart comes back.
    fn finish_plan(&self, ctx: &super::DayContext, j: u32, f: Funnel) -> Plan {
        let day = ctx.day;
        let Funnel {
            mut s,
            arrival,
            channel,
            device,
            visitor,
            persona,
            outcome,
        } = f;
        let mut head = self.plan_key(day, j).stream();
        // the id is drawn first, timed by the arrival
        let id = head.uuid_v4().into_v7(arrival.0 * 1000);
        head.seek(PLAN_ID_DRAWS + PLAN_ARRIVAL_DRAWS);
        let duration = lognormal_seconds(&mut head, 420.0, 0.8, 30, 3 * 3600);
        debug_assert_eq!(
            head.position(),
            PLAN_ID_DRAWS + PLAN_ARRIVAL_DRAWS + PLAN_DURATION_DRAWS
        );
        let p = self.persona(persona);
        let duration = if outcome == Outcome::Order {
            duration.max(180)
        } else {
            duration
        };
        // a new customer signs up within the day that counts it
        let start = if matches!(visitor, Visitor::New(_)) {
            Timestamp(arrival.0.min(day.start().0 + 86_399 - duration))
        } else {
            arrival
        };
        let returns_at = (matches!(outcome, Outcome::Cart | Outcome::Checkout)
            && visitor != Visitor::Anonymous
            && s.chance(p.cart_return))
        .then(|| {
            let days = s.range_inclusive(1, self.config.funnel.max_cart_return_days as i64) as i32;
            self.traffic.arrival(day.add_days(days), &mut s)
        });
        Plan {
            day,
            resumes: None,
            detail: self
                .keys
                .detail
                .derive(day.days_since_epoch() as u64)
                .derive(j as u64),
            id,
            start,
            end: Timestamp(start.0 + duration),
            visitor,
            persona,
            channel,
            device,
            outcome,
            returns_at,
        }
    }

    /// The session in which the cart abandoned by `origin` (session `j` of `origin_day`) is
    /// taken up again.
    pub(crate) fn resumed_plan(&self, origin: &Plan, j: u32) -> Plan {
        let start = origin.returns_at.expect("only returning carts resume");
        let mut s = self
            .keys
            .resume
            .derive(origin.day.days_since_epoch() as u64)
            .derive(j as u64)
            .stream();
        let id = s.uuid_v7(start.0 * 1000);
        let duration = lognormal_seconds(&mut s, 240.0, 0.6, 180, 3600);
        let outcome = if s.chance(self.config.funnel.resumed_cart_order) {
            Outcome::Order
        } else {
            Outcome::Cart
        };
        Plan {
            day: start.date(),
            resumes: Some((origin.day, j)),
            detail: self
                .keys
                .resume_detail
                .derive(origin.day.days_since_epoch() as u64)
                .derive(j as u64),
            id,
            start,
            end: Timestamp(start.0 + duration),
            visitor: match origin.visitor {
                Visitor::New(i) => Visitor::Returning(i),
                v => v,
            },
            persona: origin.persona,
            channel: "direct",
            device: self.pick_device(s.next_f64()),
            outcome,
            returns_at: None,
        }
    }

    fn pick_returning(&self, s: &mut Stream, ctx: &super::DayContext, at: Timestamp) -> Visitor {
        let population = ctx.customers_before;
        let max_weight = Persona::ALL
            .iter()
            .map(|p| self.persona(*p).visit_weight)
            .fold(0.0, f64::max);
        // each persona's chance of being taken, worked out once instead of per draw (the
        // same quotients, so the same draws)
        let accept = Persona::ALL.map(|p| self.persona(p).visit_weight / max_weight);
        // rejection sampling by visit weight; deleted customers never come back
        for _ in 0..256 {
            let i = s.range_inclusive(0, population as i64 - 1) as u64;
            if s.chance(accept[ctx.personas[i as usize] as usize])
                && self.deleted_at(i).is_none_or(|d| d > at)
            {
                return Visitor::Returning(i);
            }
        }
        Visitor::Anonymous
    }

    /// The session's events and cart, consistent with its plan. `resumed_cart` is the cart
    /// abandoned by the session a resumed session continues.
    pub(crate) fn detail(
        &self,
        plan: &Plan,
        resumed: Option<(Uuid, &[Line])>,
        lifecycle: Option<&super::lifecycle::Lifecycle>,
    ) -> Detail {
        let mut s = plan.detail.stream();
        let own_cart_id = s.uuid_v4();
        let (cart_id, mut cart) = match resumed {
            Some((id, lines)) => (id, lines.to_vec()),
            None => (own_cart_id, Vec::new()),
        };
        let mut steps: Vec<Step> = Vec::new();
        let step = |event_type, product, quantity, page| Step {
            event_type,
            product,
            quantity,
            page,
        };
        let landing = if resumed.is_some() {
            "/cart"
        } else {
            match s.range_inclusive(0, 2) {
                0 => "/",
                1 => "/collections",
                _ => "/products",
            }
        };
        steps.push(step("page_view", None, None, Some(landing)));
        let is_new = matches!(plan.visitor, Visitor::New(_));
        if is_new && plan.outcome != Outcome::Order {
            steps.push(step("sign_up", None, None, None));
        }
        let p = self.persona(plan.persona);
        let views = if resumed.is_some() {
            s.range_inclusive(0, 2) as usize
        } else {
            1 + super::traffic::poisson(p.product_views - 1.0, &mut s).min(29) as usize
        };
        let wants_cart = resumed.is_none() && plan.outcome >= Outcome::Cart;
        let mut added_any = false;
        for v in 0..views {
            let product = self.pick_product(&mut s, plan.start);
            let at = self.remember(&mut cart, &product, 0);
            steps.push(step("product_view", Some(at), None, None));
            let add = wants_cart && (s.chance(0.35) || (!added_any && v == views - 1));
            if add {
                added_any = true;
                let q = match s.range_inclusive(0, 9) {
                    0..=6 => 1,
                    7 | 8 => 2,
                    _ => 3,
                };
                let at = self.remember(&mut cart, &product, q);
                steps.push(step("add_to_cart", Some(at), Some(q), None));
            }
        }
        // lines remembered for views only (quantity 0) are not in the cart
        if wants_cart {
            let lines = cart.iter().filter(|l| l.quantity > 0).count();
            for i in 0..cart.len() {
                if cart[i].quantity == 0 || !s.chance(self.config.funnel.remove_from_cart) {
                    continue;
                }
                let in_cart = cart.iter().filter(|l| l.quantity > 0).count();
                if in_cart > 1 && lines > 1 && s.chance(0.5) {
                    let q = cart[i].quantity;
                    cart[i].quantity = 0;
                    steps.push(step("remove_from_cart", Some(i), Some(q), None));
                } else if cart[i].quantity > 1 {
                    cart[i].quantity -= 1;
                    steps.push(step("remove_from_cart", Some(i), Some(1), None));
                }
            }
        }
        if plan.outcome >= Outcome::Checkout
            || (resumed.is_some() && plan.outcome == Outcome::Order)
        {
            steps.push(step("checkout_started", None, None, None));
        }
        if plan.outcome == Outcome::Order {
            if is_new {
                steps.push(step("sign_up", None, None, None));
            }
            steps.push(step("order_placed", None, None, None));
        }

        // times: the first event at the start, an order at the end (its sign-up 30 s and its
        // checkout 60 s before), the rest spread in between
        let n = steps.len();
        let fixed_tail = match plan.outcome {
            Outcome::Order if is_new => 3,
            Outcome::Order => 2,
            _ => 0,
        };
        let free_end = if fixed_tail > 0 {
            plan.end.0 - 90
        } else {
            plan.end.0
        };
        let free = n - fixed_tail;
        let gaps: Vec<f64> = (0..free.saturating_sub(1))
            .map(|_| 0.2 + 1.6 * s.next_f64())
            .collect();
        let total: f64 = gaps.iter().sum::<f64>().max(1e-9);
        let span = (free_end - plan.start.0).max(0) as f64;
        let mut times = Vec::with_capacity(n);
        times.push(plan.start);
        let mut acc = 0.0;
        for g in &gaps {
            acc += g;
            times.push(Timestamp(plan.start.0 + (span * acc / total) as i64));
        }
        match fixed_tail {
            3 => times.extend([
                Timestamp(plan.end.0 - 60),
                Timestamp(plan.end.0 - 30),
                plan.end,
            ]),
            2 => times.extend([Timestamp(plan.end.0 - 60), plan.end]),
            _ => {}
        }

        let customer_uuid = plan.visitor.customer().map(|i| self.customer_core(i).id);
        let mut known = matches!(plan.visitor, Visitor::Returning(_));
        let order_id = lifecycle.map(|l| l.order_id);
        let mut events = Vec::with_capacity(n + 1);
        for (step, at) in steps.into_iter().zip(times) {
            if step.event_type == "sign_up" {
                known = true;
            }
            let product = step.product.map(|i| &cart[i].product);
            let properties = match step.event_type {
                "page_view" => Properties::Page(step.page.unwrap_or("/")),
                "product_view" => {
                    let p = product.expect("a view has a product");
                    Properties::Product {
                        sku: self.catalog.sku_of(p),
                        unit_price: self.catalog.price_at(p, at).0,
                    }
                }
                "add_to_cart" | "remove_from_cart" => {
                    let p = product.expect("a cart event has a product");
                    Properties::CartLine {
                        cart_id,
                        unit_price: self.catalog.price_at(p, at).0,
                    }
                }
                "checkout_started" => Properties::Checkout { cart_id },
                "order_placed" => Properties::OrderPlaced { cart_id, order_id },
                _ => Properties::Empty,
            };
            events.push(Event {
                id: s.uuid_v7(at.0 * 1000),
                session_id: plan.id,
                customer_id: if known { customer_uuid } else { None },
                event_type: step.event_type,
                product_id: product.map(|p| p.id),
                quantity: step.quantity,
                occurred_at: at,
                properties,
            });
        }
        if let Some(at) = lifecycle.and_then(|l| l.payment_failed_at) {
            events.push(Event {
                id: s.uuid_v7(at.0 * 1000),
                session_id: plan.id,
                customer_id: customer_uuid,
                event_type: "payment_failed",
                product_id: None,
                quantity: None,
                occurred_at: at,
                properties: Properties::PaymentFailed { order_id },
            });
        }
        cart.retain(|l| l.quantity > 0);
        Detail {
            cart_id,
            events,
            cart,
        }
    }

    /// The index of `product` among the cart lines (added with `quantity` units; 0 only
    /// remembers it for events).
    fn remember(&self, cart: &mut Vec<Line>, product: &ProductBase, quantity: i64) -> usize {
        if let Some(i) = cart.iter().position(|l| l.product.index == product.index) {
            cart[i].quantity += quantity;
            return i;
        }
        cart.push(Line {
            product: product.clone(),
            quantity,
        });
        cart.len() - 1
    }

    fn pick_product(&self, s: &mut Stream, at: Timestamp) -> ProductBase {
        let n = self.catalog.count_by(at.date());
        let mut fallback = None;
        for _ in 0..256 {
            let p = self.catalog.base(s.range_inclusive(0, n as i64 - 1) as u64);
            if self.catalog.active_at(&p, at) {
                if s.chance(p.popularity) {
                    return p;
                }
                fallback.get_or_insert(p);
            }
        }
        fallback.unwrap_or_else(|| self.catalog.base(0))
    }
}
