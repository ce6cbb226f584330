//! Orders: the orders placed on a day with their drawn futures, an order's lines and money,
//! and the rows of an order and its payment, shipment and refund as of an instant.

use std::sync::Arc;

use crate::time::{Date, Timestamp};

use super::Ecommerce;
use super::cache::{ORDER_CACHE_DAYS, cache_get, cache_put};
use super::lifecycle::{self, Lifecycle};
use super::plans::DayPlans;
use super::sessions::{Line, Outcome, Plan};
use super::tables::{Order, Payment, Refund, Shipment};

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
        self.put_orders(day, &self.day_plans(day))
    }

    pub(super) fn put_orders(&self, day: Date, plans: &DayPlans) -> Arc<Vec<OrderCtx>> {
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
