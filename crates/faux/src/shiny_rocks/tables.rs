//! The Shiny Rocks tables, with the original's column names and value formats.

use crate::rng::Uuid;
use crate::table::{Keep, LogicalType as T, Parent};
use crate::time::Date;

crate::table! {
    /// An order: one phone bought by one (new) user.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Order {
        pub user_id: Uuid = hex_uuid(
            T::HexUuid,
            "Buyer; a new user for every order, as in the original."
        ),
        pub order_id: Uuid = hex_uuid(T::HexUuid, "Order id, 32 hex digits."),
        pub order_date: Date = date(T::Date, "Day the order was placed."),
        pub product_id: i64 = int(T::Int, "Phone model: 3 (64 %) or 5 (36 %)."),
        pub utm_source: &'static str = label(
            T::Text,
            "Marketing source: _instagram, _amazon, _facebook or _youtube."
        ),
    }
    pub static ORDERS = TableDef {
        name: "orders",
        description: "One row per phone order (orders.csv of the original).",
        primary_key: &["order_id"],
        cursor: None,
        partition: "order_date",
        created: None,
        parent: None,
        keep: Keep::Window,
    };
}

crate::table! {
    #[derive(Debug, Clone, PartialEq)]
    pub struct Payment {
        pub payment_id: Uuid = hex_uuid(T::HexUuid, "Payment id, 32 hex digits."),
        pub order_id: Uuid = hex_uuid(T::HexUuid, "The order paid."),
        pub order_date: Date = date(T::Date, "Day of the order."),
        pub payment_method: &'static str =
            label(T::Text, "PAYPAL (17 %), CARD (80 %) or APPLE_PAY (3 %)."),
        pub amount: i64 = int(T::Int, "product_id × 99: 297 or 495."),
    }
    pub static PAYMENTS = TableDef {
        name: "payments",
        description: "One payment per order (payments.csv of the original).",
        primary_key: &["payment_id"],
        cursor: None,
        partition: "order_date",
        created: None,
        parent: Some(Parent {
            table: "orders",
            column: "order_id",
            path: "payments",
        }),
        keep: Keep::Window,
    };
}

crate::table! {
    /// One use of a phone service by the buyer of an order.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Service {
        pub service_id: &'static str =
            label(T::Text, "MAPS (30 %), MUSIC (40 %), PHONE (10 %) or MESSAGE (20 %)."),
        pub user_id: Uuid = hex_uuid(T::HexUuid, "The buyer of the order."),
        pub product_id: i64 = int(T::Int, "The phone model of the order."),
        pub duration: i64 = int(T::Int, "Seconds, 5–3600."),
        pub run_date: Date = date(T::Date, "Day of the run (the order's day)."),
    }
    pub static SERVICES_TABLE = TableDef {
        name: "services",
        description: "Phone service runs: 0–10 per order (services.csv of the original).",
        primary_key: &[],
        cursor: None,
        partition: "run_date",
        created: None,
        parent: None,
        keep: Keep::Window,
    };
}

crate::table! {
    /// A day's marketing spend on one platform.
    #[derive(Debug, Clone, PartialEq)]
    pub struct MarketingInvestment {
        pub date: Date = date(T::Date, "Day of the spend."),
        pub platform: &'static str = label(
            T::Text,
            "instagram, amazon, facebook or youtube (utm_source without '_')."
        ),
        /// In cents.
        pub amount: i64 = decimal(
            T::Decimal {
                precision: 12,
                scale: 2,
            },
            "Spend that day, in the shop's currency."
        ),
    }
    pub static MARKETING_INVESTMENTS = TableDef {
        name: "marketing_investments",
        description: "Daily marketing spend per platform (the marketing team's spreadsheet).",
        primary_key: &["date", "platform"],
        cursor: None,
        partition: "date",
        created: None,
        parent: None,
        keep: Keep::Window,
    };
}

crate::scenario_tables! {
    Orders(Order) = ORDERS,
    Payments(Payment) = PAYMENTS,
    Services(Service) = SERVICES_TABLE,
    MarketingInvestments(MarketingInvestment) = MARKETING_INVESTMENTS,
}
