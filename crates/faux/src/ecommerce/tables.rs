//! The e-commerce tables: row structs and their definitions.

use crate::rng::Uuid;
use crate::table::{Column, FieldVisitor, LogicalType as T, Parent, Row, TableDef};
use crate::time::{Date, Timestamp};

const MONEY: T = T::Decimal {
    precision: 12,
    scale: 2,
};

fn opt_ts<V: FieldVisitor>(v: &mut V, t: Option<Timestamp>) {
    match t {
        Some(t) => v.timestamp(t),
        None => v.null(),
    }
}

fn opt_uuid<V: FieldVisitor>(v: &mut V, u: Option<Uuid>) {
    match u {
        Some(u) => v.uuid(&u),
        None => v.null(),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Customer {
    pub id: Uuid,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub deleted_at: Option<Timestamp>,
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub email: String,
    pub username: String,
    pub country: &'static str,
    pub city: &'static str,
    pub persona: &'static str,
    pub marketing_opt_in: bool,
}

pub static CUSTOMERS: TableDef = TableDef {
    name: "customers",
    description: "Registered customers; a few move or delete their account (soft delete).",
    columns: &[
        Column::new("id", T::Uuid, "Customer id."),
        Column::new("created_at", T::Timestamp, "Sign-up time."),
        Column::new(
            "updated_at",
            T::Timestamp,
            "Last change (sign-up, move, deletion).",
        ),
        Column::new(
            "deleted_at",
            T::Timestamp,
            "When the account was deleted (soft delete).",
        )
        .nullable(),
        Column::new(
            "first_name",
            T::Text,
            "First name, from the country's locale.",
        ),
        Column::new("last_name", T::Text, "Last name."),
        Column::new("email", T::Text, "Unique email, derived from the name."),
        Column::new("username", T::Text, "Unique user name."),
        Column::new("country", T::Text, "ISO 3166 alpha-2 country code."),
        Column::new("city", T::Text, "Current city."),
        Column::new(
            "persona",
            T::Text,
            "window_shopper, future_buyer, buyer or loyal.",
        ),
        Column::new("marketing_opt_in", T::Bool, "Agreed to marketing emails."),
    ],
    primary_key: &["id"],
    cursor: Some("updated_at"),
    partition: "updated_at",
    parent: None,
};

impl Row for Customer {
    fn visit<V: FieldVisitor>(&self, v: &mut V) {
        v.uuid(&self.id);
        v.timestamp(self.created_at);
        v.timestamp(self.updated_at);
        opt_ts(v, self.deleted_at);
        v.text(self.first_name);
        v.text(self.last_name);
        v.text(&self.email);
        v.text(&self.username);
        v.text(self.country);
        v.text(self.city);
        v.text(self.persona);
        v.bool(self.marketing_opt_in);
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    pub id: Uuid,
    pub sku: String,
    pub name: String,
    pub category: &'static str,
    /// Cents.
    pub price: i64,
    pub currency: &'static str,
    pub active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

pub static PRODUCTS: TableDef = TableDef {
    name: "products",
    description: "The catalogue: new products now and then, occasional price changes, withdrawals.",
    columns: &[
        Column::new("id", T::Uuid, "Product id."),
        Column::new("sku", T::Text, "Stock keeping unit, unique."),
        Column::new("name", T::Text, "Product name."),
        Column::new("category", T::Text, "Catalogue category."),
        Column::new(
            "price",
            T::Decimal {
                precision: 10,
                scale: 2,
            },
            "Current unit price.",
        ),
        Column::new("currency", T::Text, "ISO 4217 currency."),
        Column::new("active", T::Bool, "false once withdrawn from sale."),
        Column::new("created_at", T::Timestamp, "When the product was listed."),
        Column::new(
            "updated_at",
            T::Timestamp,
            "Last change (listing, price change, withdrawal).",
        ),
    ],
    primary_key: &["id"],
    cursor: Some("updated_at"),
    partition: "updated_at",
    parent: None,
};

impl Row for Product {
    fn visit<V: FieldVisitor>(&self, v: &mut V) {
        v.uuid(&self.id);
        v.text(&self.sku);
        v.text(&self.name);
        v.text(self.category);
        v.decimal(self.price);
        v.text(self.currency);
        v.bool(self.active);
        v.timestamp(self.created_at);
        v.timestamp(self.updated_at);
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: Uuid,
    pub customer_id: Option<Uuid>,
    pub started_at: Timestamp,
    pub ended_at: Timestamp,
    pub channel: &'static str,
    pub device: &'static str,
    pub landing_page: String,
}

pub static SESSIONS: TableDef = TableDef {
    name: "sessions",
    description: "Visits to the shop; customer_id is null for anonymous visitors.",
    columns: &[
        Column::new("id", T::Uuid, "Session id."),
        Column::new(
            "customer_id",
            T::Uuid,
            "The logged-in (or signed-up) customer.",
        )
        .nullable(),
        Column::new("started_at", T::Timestamp, "First event."),
        Column::new("ended_at", T::Timestamp, "Last event."),
        Column::new(
            "channel",
            T::Text,
            "Acquisition channel (utm_source): organic, direct, referral or a paid channel.",
        ),
        Column::new("device", T::Text, "desktop, mobile or tablet."),
        Column::new("landing_page", T::Text, "First page viewed."),
    ],
    primary_key: &["id"],
    cursor: None,
    partition: "started_at",
    parent: None,
};

impl Row for Session {
    fn visit<V: FieldVisitor>(&self, v: &mut V) {
        v.uuid(&self.id);
        opt_uuid(v, self.customer_id);
        v.timestamp(self.started_at);
        v.timestamp(self.ended_at);
        v.text(self.channel);
        v.text(self.device);
        v.text(&self.landing_page);
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: Uuid,
    pub session_id: Uuid,
    pub customer_id: Option<Uuid>,
    pub event_type: &'static str,
    pub product_id: Option<Uuid>,
    pub quantity: Option<i64>,
    pub occurred_at: Timestamp,
    pub properties: String,
}

pub static EVENTS: TableDef = TableDef {
    name: "events",
    description: "Clickstream: the source of truth from which every cart and order can be rebuilt.",
    columns: &[
        Column::new("id", T::Uuid, "Event id."),
        Column::new("session_id", T::Uuid, "Session of the event."),
        Column::new(
            "customer_id",
            T::Uuid,
            "Customer, once known in the session.",
        )
        .nullable(),
        Column::new(
            "event_type",
            T::Text,
            "page_view, product_view, add_to_cart, remove_from_cart, sign_up, checkout_started, order_placed or payment_failed.",
        ),
        Column::new("product_id", T::Uuid, "Product of product and cart events.").nullable(),
        Column::new("quantity", T::Int, "Units added or removed (cart events).").nullable(),
        Column::new("occurred_at", T::Timestamp, "When it happened."),
        Column::new(
            "properties",
            T::Json,
            "Details: page, cart_id, unit_price, order_id …",
        ),
    ],
    primary_key: &["id"],
    cursor: None,
    partition: "occurred_at",
    parent: None,
};

impl Row for Event {
    fn visit<V: FieldVisitor>(&self, v: &mut V) {
        v.uuid(&self.id);
        v.uuid(&self.session_id);
        opt_uuid(v, self.customer_id);
        v.text(self.event_type);
        opt_uuid(v, self.product_id);
        match self.quantity {
            Some(q) => v.int(q),
            None => v.null(),
        }
        v.timestamp(self.occurred_at);
        v.json(&self.properties);
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub session_id: Uuid,
    pub status: &'static str,
    pub currency: &'static str,
    pub subtotal: i64,
    pub discount: i64,
    pub shipping: i64,
    pub tax: i64,
    pub total: i64,
    pub utm_source: &'static str,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

pub static ORDERS: TableDef = TableDef {
    name: "orders",
    description: "Orders, moving through their lifecycle over days.",
    columns: &[
        Column::new("id", T::Uuid, "Order id."),
        Column::new("customer_id", T::Uuid, "Buyer."),
        Column::new("session_id", T::Uuid, "Session of the checkout."),
        Column::new(
            "status",
            T::Text,
            "placed, paid, payment_failed, cancelled, shipped, delivered, returned, refunded or partially_refunded.",
        ),
        Column::new("currency", T::Text, "ISO 4217 currency."),
        Column::new(
            "subtotal",
            MONEY,
            "Σ quantity × unit_price of the order items.",
        ),
        Column::new("discount", MONEY, "Coupon discount."),
        Column::new("shipping", MONEY, "Shipping fee."),
        Column::new("tax", MONEY, "Tax on subtotal − discount + shipping."),
        Column::new("total", MONEY, "subtotal − discount + shipping + tax."),
        Column::new("utm_source", T::Text, "Channel of the checkout session."),
        Column::new("created_at", T::Timestamp, "Checkout time."),
        Column::new("updated_at", T::Timestamp, "Last status change."),
    ],
    primary_key: &["id"],
    cursor: Some("updated_at"),
    partition: "updated_at",
    parent: None,
};

impl Row for Order {
    fn visit<V: FieldVisitor>(&self, v: &mut V) {
        v.uuid(&self.id);
        v.uuid(&self.customer_id);
        v.uuid(&self.session_id);
        v.text(self.status);
        v.text(self.currency);
        v.decimal(self.subtotal);
        v.decimal(self.discount);
        v.decimal(self.shipping);
        v.decimal(self.tax);
        v.decimal(self.total);
        v.text(self.utm_source);
        v.timestamp(self.created_at);
        v.timestamp(self.updated_at);
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderItem {
    pub order_id: Uuid,
    pub line_number: i64,
    pub product_id: Uuid,
    pub quantity: i64,
    pub unit_price: i64,
    pub created_at: Timestamp,
}

pub static ORDER_ITEMS: TableDef = TableDef {
    name: "order_items",
    description: "Order lines: the cart's contents at checkout.",
    columns: &[
        Column::new("order_id", T::Uuid, "The order."),
        Column::new(
            "line_number",
            T::Int,
            "1, 2, … in the order of first addition to the cart.",
        ),
        Column::new("product_id", T::Uuid, "The product."),
        Column::new("quantity", T::Int, "Units."),
        Column::new(
            "unit_price",
            T::Decimal {
                precision: 10,
                scale: 2,
            },
            "Price at checkout.",
        ),
        Column::new("created_at", T::Timestamp, "The order's creation time."),
    ],
    primary_key: &["order_id", "line_number"],
    cursor: None,
    partition: "created_at",
    parent: Some(Parent {
        table: "orders",
        column: "order_id",
        path: "items",
    }),
};

impl Row for OrderItem {
    fn visit<V: FieldVisitor>(&self, v: &mut V) {
        v.uuid(&self.order_id);
        v.int(self.line_number);
        v.uuid(&self.product_id);
        v.int(self.quantity);
        v.decimal(self.unit_price);
        v.timestamp(self.created_at);
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Payment {
    pub id: Uuid,
    pub order_id: Uuid,
    pub method: &'static str,
    pub status: &'static str,
    pub amount: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

pub static PAYMENTS: TableDef = TableDef {
    name: "payments",
    description: "One payment per order: authorised at checkout, captured at shipping.",
    columns: &[
        Column::new("id", T::Uuid, "Payment id."),
        Column::new("order_id", T::Uuid, "The order."),
        Column::new(
            "method",
            T::Text,
            "card, paypal, apple_pay or bank_transfer (per the scenario).",
        ),
        Column::new(
            "status",
            T::Text,
            "authorized, captured, failed, voided, refunded or partially_refunded.",
        ),
        Column::new("amount", MONEY, "The order total."),
        Column::new("created_at", T::Timestamp, "Authorisation request."),
        Column::new("updated_at", T::Timestamp, "Last status change."),
    ],
    primary_key: &["id"],
    cursor: Some("updated_at"),
    partition: "updated_at",
    parent: None,
};

impl Row for Payment {
    fn visit<V: FieldVisitor>(&self, v: &mut V) {
        v.uuid(&self.id);
        v.uuid(&self.order_id);
        v.text(self.method);
        v.text(self.status);
        v.decimal(self.amount);
        v.timestamp(self.created_at);
        v.timestamp(self.updated_at);
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Shipment {
    pub id: Uuid,
    pub order_id: Uuid,
    pub carrier: &'static str,
    pub status: &'static str,
    pub attempts: i64,
    pub shipped_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
    pub updated_at: Timestamp,
}

pub static SHIPMENTS: TableDef = TableDef {
    name: "shipments",
    description: "Parcels: up to three delivery attempts, then returned.",
    columns: &[
        Column::new("id", T::Uuid, "Shipment id."),
        Column::new("order_id", T::Uuid, "The order."),
        Column::new("carrier", T::Text, "Carrier."),
        Column::new(
            "status",
            T::Text,
            "shipped, delivery_failed, delivered or returned.",
        ),
        Column::new("attempts", T::Int, "Delivery attempts so far (0–3)."),
        Column::new(
            "shipped_at",
            T::Timestamp,
            "Handed to the carrier (the row's creation).",
        ),
        Column::new("delivered_at", T::Timestamp, "Delivery time.").nullable(),
        Column::new("updated_at", T::Timestamp, "Last status change."),
    ],
    primary_key: &["id"],
    cursor: Some("updated_at"),
    partition: "updated_at",
    parent: None,
};

impl Row for Shipment {
    fn visit<V: FieldVisitor>(&self, v: &mut V) {
        v.uuid(&self.id);
        v.uuid(&self.order_id);
        v.text(self.carrier);
        v.text(self.status);
        v.int(self.attempts);
        v.timestamp(self.shipped_at);
        opt_ts(v, self.delivered_at);
        v.timestamp(self.updated_at);
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Refund {
    pub id: Uuid,
    pub order_id: Uuid,
    pub payment_id: Uuid,
    pub reason: &'static str,
    pub amount: i64,
    pub created_at: Timestamp,
}

pub static REFUNDS: TableDef = TableDef {
    name: "refunds",
    description: "Refunds of returned parcels (full) and of customer requests (full or partial).",
    columns: &[
        Column::new("id", T::Uuid, "Refund id."),
        Column::new("order_id", T::Uuid, "The order."),
        Column::new("payment_id", T::Uuid, "The payment refunded."),
        Column::new(
            "reason",
            T::Text,
            "returned_undeliverable, damaged, not_as_described, changed_mind or late_delivery.",
        ),
        Column::new("amount", MONEY, "Amount refunded."),
        Column::new("created_at", T::Timestamp, "When it was issued."),
    ],
    primary_key: &["id"],
    cursor: None,
    partition: "created_at",
    parent: None,
};

impl Row for Refund {
    fn visit<V: FieldVisitor>(&self, v: &mut V) {
        v.uuid(&self.id);
        v.uuid(&self.order_id);
        v.uuid(&self.payment_id);
        v.text(self.reason);
        v.decimal(self.amount);
        v.timestamp(self.created_at);
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct MarketingSpend {
    pub date: Date,
    pub channel: &'static str,
    pub campaign: String,
    pub spend: i64,
    pub impressions: i64,
    pub clicks: i64,
}

pub static MARKETING_SPEND: TableDef = TableDef {
    name: "marketing_spend",
    description: "Daily paid-marketing spend per channel; spend drives sessions with diminishing returns.",
    columns: &[
        Column::new("date", T::Date, "Day."),
        Column::new(
            "channel",
            T::Text,
            "Paid channel (the sessions' utm_source).",
        ),
        Column::new("campaign", T::Text, "Campaign name."),
        Column::new("spend", MONEY, "Spend that day."),
        Column::new("impressions", T::Int, "Ad impressions."),
        Column::new("clicks", T::Int, "Ad clicks."),
    ],
    primary_key: &["date", "channel"],
    cursor: None,
    partition: "date",
    parent: None,
};

impl Row for MarketingSpend {
    fn visit<V: FieldVisitor>(&self, v: &mut V) {
        v.date(self.date);
        v.text(self.channel);
        v.text(&self.campaign);
        v.decimal(self.spend);
        v.int(self.impressions);
        v.int(self.clicks);
    }
}

crate::scenario_tables! {
    Customers(Customer) = CUSTOMERS,
    Products(Product) = PRODUCTS,
    Sessions(Session) = SESSIONS,
    Events(Event) = EVENTS,
    Orders(Order) = ORDERS,
    OrderItems(OrderItem) = ORDER_ITEMS,
    Payments(Payment) = PAYMENTS,
    Shipments(Shipment) = SHIPMENTS,
    Refunds(Refund) = REFUNDS,
    MarketingSpend(MarketingSpend) = MARKETING_SPEND,
}
