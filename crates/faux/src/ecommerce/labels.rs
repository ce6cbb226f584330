//! The answer key of cart propensity (Kingfisher's task): per cart — a fresh session's first
//! `add_to_cart` — the probability the simulation gave it of being checked out within
//! [`LABEL_DAYS`] days, and whether it was.
//!
//! "Within 7 days" means: in the cart's own session, or in the session that resumes the
//! abandoned cart on one of the next [`LABEL_DAYS`] days (a resumed cart comes back on a day
//! drawn uniformly in `1..=max_cart_return_days`, see [`super::sessions`]). The probability is
//! worked out from the same parameters the draws use, so it is exact, not estimated:
//!
//! - anonymous visitors never order (buyers sign up) and their carts never come back: p = 0;
//! - otherwise, with the persona's `checkout` c, `order` o and `cart_return` r, the funnel's
//!   `resumed_cart_order` q and `max_cart_return_days` M:
//!   p = c·o + (1 − c·o) · r · min(7, M)/M · q,
//!   where c is multiplied by the `[[drift]]` factor of the session's day, channel and device.
//!
//! The label is read off the plans that generate the rows (the same plans the `orders` and
//! `events` tables come from; a test checks the two agree).

use crate::rng::Uuid;
use crate::time::{Date, Timestamp};

use super::Ecommerce;
use super::sessions::{Outcome, Plan, Visitor};

/// The label's horizon in days after the cart's day.
pub const LABEL_DAYS: i32 = 7;

/// One cart's truth.
#[derive(Debug, Clone, PartialEq)]
pub struct CartLabel {
    pub cart_id: Uuid,
    pub session_id: Uuid,
    pub customer_id: Option<Uuid>,
    /// The day of the cart's session.
    pub day: Date,
    /// The first `add_to_cart` event: when the cart is scored.
    pub scored_at: Timestamp,
    /// The probability the simulation gave the label (hidden state included).
    pub p: f64,
    /// Checked out within the horizon.
    pub label: bool,
    /// When the order was placed (within the horizon).
    pub ordered_at: Option<Timestamp>,
    /// From this instant the label is known: the last session that could order the cart
    /// (resumed on day + 7, at most an hour long) has ended.
    pub matures_at: Timestamp,
    /// Hidden state, for analysis: the visitor's persona.
    pub persona: &'static str,
}

impl Ecommerce {
    /// The true probability that a fresh session that added to its cart orders it within
    /// [`LABEL_DAYS`] days.
    pub fn cart_probability(&self, plan: &Plan) -> f64 {
        if plan.visitor == Visitor::Anonymous {
            return 0.0;
        }
        let p = self.persona(plan.persona);
        let in_session =
            self.checkout_probability(p, plan.day, plan.channel, plan.device) * p.order;
        let m = self.config.funnel.max_cart_return_days.max(1) as f64;
        let back_in_time = (LABEL_DAYS as f64).min(m) / m;
        in_session
            + (1.0 - in_session)
                * p.cart_return
                * back_in_time
                * self.config.funnel.resumed_cart_order
    }

    /// A fresh session's checkout probability: the persona's, times the `[[drift]]` factor of
    /// its day, channel and device (the draw and the truth both use this).
    pub(crate) fn checkout_probability(
        &self,
        p: &super::config::Persona,
        day: Date,
        channel: &str,
        device: &str,
    ) -> f64 {
        (p.checkout * self.config.conversion_drift(day, channel, device)).min(1.0)
    }

    /// The carts of `day` (fresh sessions that add to the cart), in session order.
    pub fn cart_labels(&self, day: Date) -> Vec<CartLabel> {
        let plans = self.day_plans(day);
        let mut out = Vec::new();
        for (j, plan) in plans.fresh.iter().enumerate() {
            if plan.outcome < Outcome::Cart {
                continue;
            }
            let detail = self.session_detail(plan);
            let Some(first) = detail.events.iter().find(|e| e.event_type == "add_to_cart") else {
                continue; // a cart session always adds (sessions.rs forces the last view)
            };
            let ordered_at = if plan.outcome == Outcome::Order {
                Some(plan.end)
            } else {
                plan.returns_at
                    .filter(|t| t.date() <= day.add_days(LABEL_DAYS))
                    .map(|_| self.resumed_plan(plan, j as u32))
                    .filter(|r| r.outcome == Outcome::Order)
                    .map(|r| r.end)
            };
            out.push(CartLabel {
                cart_id: detail.cart_id,
                session_id: plan.id,
                customer_id: plan.visitor.customer().map(|i| self.customer_core(i).id),
                day,
                scored_at: first.occurred_at,
                p: self.cart_probability(plan),
                label: ordered_at.is_some(),
                ordered_at,
                matures_at: Timestamp(day.add_days(LABEL_DAYS + 1).start().0 + 3600),
                persona: plan.persona.name(),
            });
        }
        out
    }
}
