//! An order's whole future, drawn when it is placed: payment, cancellation,
//! shipping, delivery attempts, return, refund. Every later change is a pure function of the
//! order's key and creation time, so any day can find the changes that land on it.

use crate::rng::{Key, Uuid};
use crate::time::Timestamp;

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// The longest an order keeps changing after it is placed, in days (a generous bound on the
/// schedule below: payment + shipping + three attempts + return or a 30-day refund window).
pub const MAX_LIFECYCLE_DAYS: i32 = 42;

pub const REFUND_REASONS: [&str; 4] = [
    "damaged",
    "not_as_described",
    "changed_mind",
    "late_delivery",
];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShipmentState {
    pub status: &'static str,
    pub attempts: i64,
    pub delivered_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct RefundPlan {
    pub at: Timestamp,
    pub reason: &'static str,
    /// Share of the total refunded (1.0 for a full refund).
    pub share: f64,
}

#[derive(Debug, Clone)]
pub struct Lifecycle {
    pub order_id: Uuid,
    pub payment_id: Uuid,
    pub shipment_id: Uuid,
    pub refund_id: Uuid,
    pub method: &'static str,
    pub carrier: &'static str,
    pub discounted: bool,
    pub placed_at: Timestamp,
    /// Status versions, oldest first; the first is the creation.
    pub order: Vec<(Timestamp, &'static str)>,
    pub payment: Vec<(Timestamp, &'static str)>,
    pub shipment: Vec<(Timestamp, ShipmentState)>,
    pub refund: Option<RefundPlan>,
    pub payment_failed_at: Option<Timestamp>,
}

/// Probabilities and choices the lifecycle draws from.
#[derive(Debug, Clone)]
pub struct LifecycleModel {
    pub methods: Vec<(&'static str, f64)>,
    pub carriers: Vec<(&'static str, f64)>,
    pub failure: f64,
    pub cancel: f64,
    pub failed_attempt: f64,
    pub refund: f64,
    pub partial_refund: f64,
    pub discount_share: f64,
}

fn pick(items: &[(&'static str, f64)], u: f64) -> &'static str {
    let mut acc = 0.0;
    for (k, w) in items {
        acc += w;
        if u <= acc {
            return k;
        }
    }
    items[items.len() - 1].0
}

impl LifecycleModel {
    pub fn draw(&self, key: Key, placed_at: Timestamp) -> Lifecycle {
        let mut s = key.stream();
        let t0 = placed_at;
        let mut l = Lifecycle {
            order_id: s.uuid_v4(),
            payment_id: s.uuid_v4(),
            shipment_id: s.uuid_v4(),
            refund_id: s.uuid_v4(),
            method: pick(&self.methods, s.next_f64()),
            carrier: pick(&self.carriers, s.next_f64()),
            discounted: s.chance(self.discount_share),
            placed_at: t0,
            order: vec![(t0, "placed")],
            payment: vec![(t0, "authorized")],
            shipment: Vec::new(),
            refund: None,
            payment_failed_at: None,
        };
        let answered = Timestamp(t0.0 + s.range_inclusive(2, 30));
        if s.chance(self.failure) {
            l.payment.push((answered, "failed"));
            l.order.push((answered, "payment_failed"));
            l.payment_failed_at = Some(answered);
            return l;
        }
        l.order.push((answered, "paid"));
        let ship_at = Timestamp(answered.0 + s.range_inclusive(4 * HOUR, 72 * HOUR));
        if s.chance(self.cancel) {
            let at = Timestamp(
                answered.0 + s.range_inclusive(10 * 60, (ship_at.0 - answered.0 - 1).max(10 * 60)),
            );
            l.order.push((at, "cancelled"));
            l.payment.push((at, "voided"));
            return l;
        }
        l.order.push((ship_at, "shipped"));
        l.payment.push((ship_at, "captured"));
        let shipped = |status, attempts, delivered_at| ShipmentState {
            status,
            attempts,
            delivered_at,
        };
        l.shipment.push((ship_at, shipped("shipped", 0, None)));
        let mut at = Timestamp(ship_at.0 + s.range_inclusive(20 * HOUR, 72 * HOUR));
        for attempt in 1..=3 {
            if !s.chance(self.failed_attempt) {
                l.shipment
                    .push((at, shipped("delivered", attempt, Some(at))));
                l.order.push((at, "delivered"));
                if s.chance(self.refund) {
                    let partial = s.chance(self.partial_refund);
                    let share = if partial {
                        0.2 + 0.4 * s.next_f64()
                    } else {
                        1.0
                    };
                    let reason = REFUND_REASONS[s.range_inclusive(0, 3) as usize];
                    let r_at = Timestamp(at.0 + s.range_inclusive(DAY, 30 * DAY));
                    let status = if partial {
                        "partially_refunded"
                    } else {
                        "refunded"
                    };
                    l.order.push((r_at, status));
                    l.payment.push((r_at, status));
                    l.refund = Some(RefundPlan {
                        at: r_at,
                        reason,
                        share,
                    });
                }
                return l;
            }
            l.shipment
                .push((at, shipped("delivery_failed", attempt, None)));
            at = Timestamp(at.0 + s.range_inclusive(20 * HOUR, 30 * HOUR));
        }
        // three failed attempts: back to the warehouse, refunded in full
        let last = l.shipment.last().map_or(ship_at, |(t, _)| *t);
        let back = Timestamp(last.0 + s.range_inclusive(2 * DAY, 5 * DAY));
        l.shipment.push((back, shipped("returned", 3, None)));
        l.order.push((back, "returned"));
        l.payment.push((back, "refunded"));
        l.refund = Some(RefundPlan {
            at: back,
            reason: "returned_undeliverable",
            share: 1.0,
        });
        l
    }
}

/// The last version at or before `t`, if the row exists by then.
pub fn state_at<S: Copy>(versions: &[(Timestamp, S)], t: Timestamp) -> Option<(Timestamp, S)> {
    versions.iter().rev().find(|(at, _)| *at <= t).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecommerce::config::Config;

    #[test]
    fn lifecycles_follow_the_allowed_transitions_within_the_window() {
        let cfg = Config::default_config();
        let model = super::super::lifecycle_model(&cfg);
        let allowed: &[(&str, &str)] = &[
            ("placed", "paid"),
            ("placed", "payment_failed"),
            ("paid", "cancelled"),
            ("paid", "shipped"),
            ("shipped", "delivered"),
            ("shipped", "returned"),
            ("delivered", "refunded"),
            ("delivered", "partially_refunded"),
        ];
        let t0 = Timestamp(1_700_000_000);
        for i in 0..5000 {
            let l = model.draw(Key::root(3).derive(i), t0);
            for w in l.order.windows(2) {
                assert!(allowed.contains(&(w[0].1, w[1].1)), "{:?}", l.order);
                assert!(w[0].0 <= w[1].0);
            }
            let last = l.order.last().unwrap().0;
            assert!(last.0 - t0.0 < MAX_LIFECYCLE_DAYS as i64 * DAY);
            if let Some(r) = &l.refund {
                assert!(r.share > 0.0 && r.share <= 1.0);
            }
        }
    }
}
