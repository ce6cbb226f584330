//! Orders: the orders placed on a day with their drawn futures, an order's lines and money,
//! and the rows of an order and its payment, shipment and refund as of an instant.

use std::sync::Arc;

use crate::time::{Date, Timestamp};

use super::Ecommerce;
use super::cache::{ORDER_CACHE_DAYS, cache_get, cache_put};
use super::lifecycle::{self, Lifecycle};
use super::sessions::{Line, Outcome, Plan};
use super::tables::{Order, Payment, Refund, Shipment};

/// An order and its drawn future.
#[derive(Debug, Clone)]
pub struct OrderCtx {
    pub plan: Plan,
    pub lifecycle: Lifecycle,
}

/// An order's cart lines added and not bought (see [`Ecommerce::abandoned_cart_lines`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbandonedCart {
    pub order_id: crate::rng::Uuid,
    /// The order's lines (numbered 1..=bought).
    pub bought: usize,
    /// (product, units, unit price in cents) of each product added and not bought.
    pub lines: Vec<(crate::rng::Uuid, i64, i64)>,
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

impl Ecommerce {
    pub fn lifecycle_of(&self, plan: &Plan) -> Lifecycle {
        self.lifecycle
            .draw(plan.detail.named("lifecycle"), plan.end)
    }

    /// Orders placed on `day`, with their futures (cached).
    pub fn orders_placed(&self, day: Date) -> Arc<Vec<OrderCtx>> {
        if let Some(o) = cache_get(&self.orders, day) {
            return o;
        }
        self.put_orders(day, self.day_plans(day).all())
    }

    /// Caches the orders of `day` among `plans` (its sessions, in [`DayPlans::all`] order).
    pub(super) fn put_orders<'a>(
        &self,
        day: Date,
        plans: impl Iterator<Item = &'a Plan>,
    ) -> Arc<Vec<OrderCtx>> {
        let orders: Arc<Vec<OrderCtx>> = Arc::new(
            plans
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

    /// The orders placed on `day` with what was added to their cart and not bought (removed
    /// again) — in the order's session and, for a resumed cart, in the session that
    /// abandoned it: per order its id, its number of lines, and per product not bought (in
    /// order of first addition) the product, the units added and the unit price the cart
    /// showed (cents). The dirty layer's `abandoned_cart_line` writes these as extra lines,
    /// the original Faux behaviour of order lines holding every item ever added.
    pub fn abandoned_cart_lines(&self, day: Date) -> Vec<AbandonedCart> {
        let mut out = Vec::new();
        for o in self.orders_placed(day).iter() {
            let detail = self.session_detail(&o.plan);
            // a resumed cart was filled first in the session that abandoned it
            let before = self
                .origin_plan(&o.plan)
                .map(|origin| self.detail(&origin, None, None).events)
                .unwrap_or_default();
            let mut lines: Vec<(crate::rng::Uuid, i64, i64)> = Vec::new();
            for e in before
                .iter()
                .chain(detail.events.iter())
                .filter(|e| e.event_type == "add_to_cart")
            {
                let Some(product) = e.product_id else {
                    continue;
                };
                if detail.cart.iter().any(|l| l.product.id == product) {
                    continue;
                }
                match lines.iter_mut().find(|l| l.0 == product) {
                    Some(l) => l.1 += e.quantity.unwrap_or(1),
                    None => {
                        let Some(price) = e.properties.unit_price() else {
                            continue;
                        };
                        lines.push((product, e.quantity.unwrap_or(1), price));
                    }
                }
            }
            out.push(AbandonedCart {
                order_id: o.lifecycle.order_id,
                bought: detail.cart.len(),
                lines,
            });
        }
        out
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
}

#[cfg(test)]
mod tests {
    use crate::{Date, Scenario};

    /// An order from a resumed cart counts among its abandoned lines what the abandoning
    /// session added and nobody bought, not only what its own session added.
    #[test]
    fn a_resumed_carts_abandoned_lines_include_the_first_sessions_additions() {
        let s = Scenario::by_name("ecommerce", 7).unwrap();
        let e = s.as_ecommerce().unwrap();
        let (mut resumed, mut from_origin) = (0, 0);
        let first: Date = "2025-02-03".parse().unwrap();
        for i in 0..4 {
            let day = first.add_days(i);
            let carts = e.abandoned_cart_lines(day);
            for o in e.orders_placed(day).iter() {
                let Some(origin) = e.origin_plan(&o.plan) else {
                    continue;
                };
                resumed += 1;
                let detail = e.session_detail(&o.plan);
                let cart = carts
                    .iter()
                    .find(|c| c.order_id == o.lifecycle.order_id)
                    .expect("every order has its entry");
                assert_eq!(cart.bought, detail.cart.len());
                let own: Vec<_> = detail
                    .events
                    .iter()
                    .filter(|ev| ev.event_type == "add_to_cart")
                    .filter_map(|ev| ev.product_id)
                    .collect();
                for ev in e
                    .detail(&origin, None, None)
                    .events
                    .iter()
                    .filter(|ev| ev.event_type == "add_to_cart")
                {
                    let p = ev.product_id.unwrap();
                    if detail.cart.iter().any(|l| l.product.id == p) {
                        assert!(cart.lines.iter().all(|l| l.0 != p), "bought, not abandoned");
                        continue;
                    }
                    assert!(cart.lines.iter().any(|l| l.0 == p), "{p:?} missing");
                    if !own.contains(&p) {
                        from_origin += 1;
                    }
                }
            }
        }
        assert!(
            resumed > 0 && from_origin > 0,
            "{resumed} resumed orders, {from_origin} lines only the first session added"
        );
    }
}
