//! The e-commerce tables: each one's row struct, definition and visitor, declared once with
//! [`crate::table!`].

use crate::rng::Uuid;
use crate::table::{Keep, LogicalType as T, Parent};

use super::lifecycle::MAX_LIFECYCLE_DAYS;
use super::properties::Properties;

/// An order changes for up to this many days after it is placed: a store holding the orders
/// placed this long before its history window holds every order that changes in it.
const ORDER_LOOK_BACK: u16 = MAX_LIFECYCLE_DAYS as u16;
/// An order is placed at most a day after its session started (a checkout after midnight).
const SESSION_LOOK_BACK: u16 = ORDER_LOOK_BACK + 1;
use crate::time::{Date, Timestamp};

const MONEY: T = T::Decimal {
    precision: 12,
    scale: 2,
};
const PRICE: T = T::Decimal {
    precision: 10,
    scale: 2,
};

crate::table! {
    #[derive(Debug, Clone, PartialEq)]
    pub struct Customer {
        pub id: Uuid = uuid(T::Uuid, "Customer id."),
        pub created_at: Timestamp = timestamp(T::Timestamp, "Sign-up time."),
        pub updated_at: Timestamp =
            timestamp(T::Timestamp, "Last change (sign-up, move, deletion)."),
        pub deleted_at: Option<Timestamp> =
            timestamp(T::Timestamp, "When the account was deleted (soft delete).").nullable(),
        pub first_name: &'static str = text(T::Text, "First name, from the country's locale."),
        pub last_name: &'static str = text(T::Text, "Last name."),
        pub email: String = text(T::Text, "Unique email, derived from the name."),
        pub phone: Option<String> = text(
            T::Text,
            "E.164 phone number (+, calling code, national number) of the customer's country; null for the 8% who gave none."
        ).nullable(),
        pub username: String = text(T::Text, "Unique user name."),
        pub country: &'static str = label(T::Text, "ISO 3166 alpha-2 country code."),
        pub city: &'static str = text(T::Text, "Current city."),
        pub persona: &'static str =
            label(T::Text, "window_shopper, future_buyer, buyer or loyal."),
        pub marketing_opt_in: bool = bool(T::Bool, "Agreed to marketing emails."),
    }
    pub static CUSTOMERS = TableDef {
        name: "customers",
        description: "Registered customers; a few move or delete their account (soft delete).",
        primary_key: &["id"],
        cursor: Some("updated_at"),
        partition: "updated_at",
        created: Some("created_at"),
        parent: None,
        keep: Keep::Always,
    };
}

crate::table! {
    #[derive(Debug, Clone, PartialEq)]
    pub struct Product {
        pub id: Uuid = uuid(T::Uuid, "Product id."),
        pub sku: String = text(T::Text, "Stock keeping unit, unique."),
        pub name: String = text(T::Text, "Product name."),
        pub category: &'static str = label(T::Text, "Catalogue category."),
        /// Cents.
        pub price: i64 = decimal(PRICE, "Current unit price."),
        pub currency: &'static str = label(T::Text, "ISO 4217 currency."),
        pub active: bool = bool(T::Bool, "false once withdrawn from sale."),
        pub created_at: Timestamp = timestamp(T::Timestamp, "When the product was listed."),
        pub updated_at: Timestamp =
            timestamp(T::Timestamp, "Last change (listing, price change, withdrawal)."),
    }
    pub static PRODUCTS = TableDef {
        name: "products",
        description: "The catalogue: new products now and then, occasional price changes, withdrawals.",
        primary_key: &["id"],
        cursor: Some("updated_at"),
        partition: "updated_at",
        created: Some("created_at"),
        parent: None,
        keep: Keep::Always,
    };
}

crate::table! {
    #[derive(Debug, Clone, PartialEq)]
    pub struct Session {
        pub id: Uuid = uuid(T::Uuid, "Session id."),
        pub customer_id: Option<Uuid> =
            uuid(T::Uuid, "The logged-in (or signed-up) customer.").nullable(),
        pub started_at: Timestamp = timestamp(T::Timestamp, "First event."),
        pub ended_at: Option<Timestamp> = timestamp(
            T::Timestamp,
            "When the visit ended; null while it is still going on."
        )
        .nullable(),
        pub channel: &'static str = label(
            T::Text,
            "Acquisition channel (utm_source): organic, direct, referral or a paid channel."
        ),
        pub device: &'static str = label(T::Text, "desktop, mobile or tablet."),
        pub landing_page: String = text(T::Text, "First page viewed."),
        // last, so that the columns before it keep their positions
        pub updated_at: Timestamp =
            timestamp(T::Timestamp, "Last change: the start, then the end."),
    }
    pub static SESSIONS = TableDef {
        name: "sessions",
        description: "Visits to the shop, inserted when they start and updated when they end; customer_id is null for anonymous visitors.",
        primary_key: &["id"],
        cursor: Some("updated_at"),
        // a mutable table's partition is its cursor: a day holds the sessions that started or
        // ended on it, in that day's state (as customers and orders)
        partition: "updated_at",
        created: Some("started_at"),
        parent: None,
        keep: Keep::LookBack(SESSION_LOOK_BACK),
    };
}

crate::table! {
    #[derive(Debug, Clone, PartialEq)]
    pub struct Event {
        pub id: Uuid = uuid(T::Uuid, "Event id."),
        pub session_id: Uuid = uuid(T::Uuid, "Session of the event."),
        pub customer_id: Option<Uuid> =
            uuid(T::Uuid, "Customer, once known in the session.").nullable(),
        pub event_type: &'static str = label(
            T::Text,
            "page_view, product_view, add_to_cart, remove_from_cart, sign_up, checkout_started, order_placed or payment_failed."
        ),
        pub product_id: Option<Uuid> =
            uuid(T::Uuid, "Product of product and cart events.").nullable(),
        pub quantity: Option<i64> =
            int(T::Int, "Units added or removed (cart events).").nullable(),
        pub occurred_at: Timestamp = timestamp(T::Timestamp, "When it happened."),
        pub properties: Properties = json(T::Json, "Details: page, cart_id, unit_price, order_id …"),
    }
    pub static EVENTS = TableDef {
        name: "events",
        description: "Clickstream: the source of truth from which every cart and order can be rebuilt.",
        primary_key: &["id"],
        cursor: None,
        partition: "occurred_at",
        created: None,
        parent: None,
        keep: Keep::TimeKeyedWindow,
    };
}

crate::table! {
    #[derive(Debug, Clone, PartialEq)]
    pub struct Order {
        pub id: Uuid = uuid(T::Uuid, "Order id."),
        pub customer_id: Uuid = uuid(T::Uuid, "Buyer."),
        pub session_id: Uuid = uuid(T::Uuid, "Session of the checkout."),
        pub status: &'static str = label(
            T::Text,
            "placed, paid, payment_failed, cancelled, shipped, delivered, returned, refunded or partially_refunded."
        ),
        pub currency: &'static str = label(T::Text, "ISO 4217 currency."),
        pub subtotal: i64 = decimal(MONEY, "Σ quantity × unit_price of the order items."),
        pub discount: i64 = decimal(MONEY, "Coupon discount."),
        pub shipping: i64 = decimal(MONEY, "Shipping fee."),
        pub tax: i64 = decimal(MONEY, "Tax on subtotal − discount + shipping."),
        pub total: i64 = decimal(MONEY, "subtotal − discount + shipping + tax."),
        pub utm_source: &'static str = label(T::Text, "Channel of the checkout session."),
        pub created_at: Timestamp = timestamp(T::Timestamp, "Checkout time."),
        pub updated_at: Timestamp = timestamp(T::Timestamp, "Last status change."),
    }
    pub static ORDERS = TableDef {
        name: "orders",
        description: "Orders, moving through their lifecycle over days.",
        primary_key: &["id"],
        cursor: Some("updated_at"),
        partition: "updated_at",
        created: Some("created_at"),
        parent: None,
        keep: Keep::LookBack(ORDER_LOOK_BACK),
    };
}

crate::table! {
    #[derive(Debug, Clone, PartialEq)]
    pub struct OrderItem {
        pub order_id: Uuid = uuid(T::Uuid, "The order."),
        pub line_number: i64 =
            int(T::Int, "1, 2, … in the order of first addition to the cart."),
        pub product_id: Uuid = uuid(T::Uuid, "The product."),
        pub quantity: i64 = int(T::Int, "Units."),
        pub unit_price: i64 = decimal(PRICE, "Price at checkout."),
        pub created_at: Timestamp = timestamp(T::Timestamp, "The order's creation time."),
    }
    pub static ORDER_ITEMS = TableDef {
        name: "order_items",
        description: "Order lines: the cart's contents at checkout.",
        primary_key: &["order_id", "line_number"],
        cursor: None,
        partition: "created_at",
        created: None,
        parent: Some(Parent {
            table: "orders",
            column: "order_id",
            path: "items",
        }),
        keep: Keep::LookBack(ORDER_LOOK_BACK),
    };
}

crate::table! {
    #[derive(Debug, Clone, PartialEq)]
    pub struct Payment {
        pub id: Uuid = uuid(T::Uuid, "Payment id."),
        pub order_id: Uuid = uuid(T::Uuid, "The order."),
        pub method: &'static str =
            label(T::Text, "card, paypal, apple_pay or bank_transfer (per the scenario)."),
        pub status: &'static str = label(
            T::Text,
            "authorized, captured, failed, voided, refunded or partially_refunded."
        ),
        pub amount: i64 = decimal(MONEY, "The order total."),
        pub created_at: Timestamp = timestamp(T::Timestamp, "Authorisation request."),
        pub updated_at: Timestamp = timestamp(T::Timestamp, "Last status change."),
    }
    pub static PAYMENTS = TableDef {
        name: "payments",
        description: "One payment per order: authorised at checkout, captured at shipping.",
        primary_key: &["id"],
        cursor: Some("updated_at"),
        partition: "updated_at",
        created: Some("created_at"),
        parent: None,
        keep: Keep::LookBack(ORDER_LOOK_BACK),
    };
}

crate::table! {
    #[derive(Debug, Clone, PartialEq)]
    pub struct Shipment {
        pub id: Uuid = uuid(T::Uuid, "Shipment id."),
        pub order_id: Uuid = uuid(T::Uuid, "The order."),
        pub carrier: &'static str = label(T::Text, "Carrier."),
        pub status: &'static str =
            label(T::Text, "shipped, delivery_failed, delivered or returned."),
        pub attempts: i64 = int(T::Int, "Delivery attempts so far (0–3)."),
        pub shipped_at: Timestamp =
            timestamp(T::Timestamp, "Handed to the carrier (the row's creation)."),
        pub delivered_at: Option<Timestamp> =
            timestamp(T::Timestamp, "Delivery time.").nullable(),
        pub updated_at: Timestamp = timestamp(T::Timestamp, "Last status change."),
    }
    pub static SHIPMENTS = TableDef {
        name: "shipments",
        description: "Parcels: up to three delivery attempts, then returned.",
        primary_key: &["id"],
        cursor: Some("updated_at"),
        partition: "updated_at",
        created: Some("shipped_at"),
        parent: None,
        keep: Keep::LookBack(ORDER_LOOK_BACK),
    };
}

crate::table! {
    #[derive(Debug, Clone, PartialEq)]
    pub struct Refund {
        pub id: Uuid = uuid(T::Uuid, "Refund id."),
        pub order_id: Uuid = uuid(T::Uuid, "The order."),
        pub payment_id: Uuid = uuid(T::Uuid, "The payment refunded."),
        pub reason: &'static str = label(
            T::Text,
            "returned_undeliverable, damaged, not_as_described, changed_mind or late_delivery."
        ),
        pub amount: i64 = decimal(MONEY, "Amount refunded."),
        pub created_at: Timestamp = timestamp(T::Timestamp, "When it was issued."),
    }
    pub static REFUNDS = TableDef {
        name: "refunds",
        description: "Refunds of returned parcels (full) and of customer requests (full or partial).",
        primary_key: &["id"],
        cursor: None,
        partition: "created_at",
        created: None,
        parent: None,
        keep: Keep::LookBack(ORDER_LOOK_BACK),
    };
}

crate::table! {
    #[derive(Debug, Clone, PartialEq)]
    pub struct MarketingSpend {
        pub date: Date = date(T::Date, "Day."),
        pub channel: &'static str = label(T::Text, "Paid channel (the sessions' utm_source)."),
        pub campaign: String = text(T::Text, "Campaign name."),
        pub spend: i64 = decimal(MONEY, "Spend that day."),
        pub impressions: i64 = int(T::Int, "Ad impressions."),
        pub clicks: i64 = int(T::Int, "Ad clicks."),
    }
    pub static MARKETING_SPEND = TableDef {
        name: "marketing_spend",
        description: "Daily paid-marketing spend per channel; spend drives sessions with diminishing returns.",
        primary_key: &["date", "channel"],
        cursor: None,
        partition: "date",
        created: None,
        parent: None,
        keep: Keep::Window,
    };
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
