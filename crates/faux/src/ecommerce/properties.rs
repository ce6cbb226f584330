//! An event's `properties`: a small JSON object of string values whose shape follows the
//! event type. A row keeps the values themselves ([`Properties`]) and the text is written when
//! the row is read ([`JsonValue`]): a streamed day has ~100 k events, and a `String` each was
//! an allocation when generated, a copy of memory gone cold by the time it was encoded, and a
//! free when the day was dropped. Also the decimal writers that money, SKUs and the text share.

use std::cell::RefCell;

use crate::rng::Uuid;
use crate::table::{FieldVisitor, JsonValue};

use super::catalog::Sku;

/// What an event's `properties` say; [`Properties::write`] gives the JSON the events have
/// always had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Properties {
    /// `{}`: an event without details (a sign-up).
    Empty,
    /// `{"page":…}`: a page view.
    Page(&'static str),
    /// `{"page":"/products/<sku>","unit_price":…}`: a product view, at the price of the time.
    Product { sku: Sku, unit_price: i64 },
    /// `{"cart_id":…,"unit_price":…}`: a product added to or removed from the cart.
    CartLine { cart_id: Uuid, unit_price: i64 },
    /// `{"cart_id":…}`: a checkout started.
    Checkout { cart_id: Uuid },
    /// `{"cart_id":…,"order_id":…}`: an order placed.
    OrderPlaced {
        cart_id: Uuid,
        order_id: Option<Uuid>,
    },
    /// `{"order_id":…}`: a payment that failed.
    PaymentFailed { order_id: Option<Uuid> },
}

impl Properties {
    /// The `unit_price`, in cents, of a product view or a cart event.
    pub fn unit_price(&self) -> Option<i64> {
        match *self {
            Properties::Product { unit_price, .. } | Properties::CartLine { unit_price, .. } => {
                Some(unit_price)
            }
            _ => None,
        }
    }

    /// The JSON text, appended to `out`: cart ids as 32 hex digits, order ids hyphenated (an
    /// empty string without one), amounts as `units.cents`.
    pub fn write(&self, out: &mut String) {
        let mut o = Object::new(out);
        match *self {
            Properties::Empty => {}
            Properties::Page(page) => o.text("page", page),
            Properties::Product { sku, unit_price } => {
                o.key("page");
                o.0.push_str("\"/products/");
                sku.push_to(o.0);
                o.0.push('"');
                o.money("unit_price", unit_price);
            }
            Properties::CartLine {
                cart_id,
                unit_price,
            } => {
                o.hex("cart_id", &cart_id);
                o.money("unit_price", unit_price);
            }
            Properties::Checkout { cart_id } => o.hex("cart_id", &cart_id),
            Properties::OrderPlaced { cart_id, order_id } => {
                o.hex("cart_id", &cart_id);
                o.order_id(order_id);
            }
            Properties::PaymentFailed { order_id } => o.order_id(order_id),
        }
        o.0.push('}');
    }
}

impl std::fmt::Display for Properties {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::with_capacity(96);
        self.write(&mut s);
        f.write_str(&s)
    }
}

thread_local! {
    /// The text of the properties being visited, reused from row to row.
    static TEXT: RefCell<String> = RefCell::new(String::with_capacity(128));
}

impl JsonValue for Properties {
    #[inline]
    fn visit_json<V: FieldVisitor + ?Sized>(&self, v: &mut V) {
        TEXT.with(|text| match text.try_borrow_mut() {
            Ok(mut s) => {
                s.clear();
                self.write(&mut s);
                v.json(&s);
            }
            // a visitor that visits properties from inside its `json` (none does): its own
            Err(_) => v.json(&self.to_string()),
        })
    }
}

/// A JSON object of string values written into a string, key by key.
struct Object<'a>(&'a mut String);

impl<'a> Object<'a> {
    fn new(out: &'a mut String) -> Object<'a> {
        out.push('{');
        Object(out)
    }

    /// `"name":`, after a comma when a field came before.
    fn key(&mut self, name: &str) {
        if !self.0.ends_with('{') {
            self.0.push(',');
        }
        self.0.push('"');
        self.0.push_str(name);
        self.0.push_str("\":");
    }

    /// A value that needs no escaping (a path, an id, an amount).
    fn text(&mut self, name: &str, value: &str) {
        self.key(name);
        self.0.push('"');
        self.0.push_str(value);
        self.0.push('"');
    }

    /// An id as 32 hex digits (a cart's, as the events have always written it).
    fn hex(&mut self, name: &str, id: &Uuid) {
        // hex digits
        self.text(name, std::str::from_utf8(&id.hex()).unwrap_or_default());
    }

    /// `order_id`: the order's id in its 8-4-4-4-12 form (as every column writes it), or an
    /// empty string without one.
    fn order_id(&mut self, id: Option<Uuid>) {
        match id {
            // hex digits and hyphens
            Some(id) => self.text(
                "order_id",
                std::str::from_utf8(&id.hyphenated()).unwrap_or_default(),
            ),
            None => self.text("order_id", ""),
        }
    }

    fn money(&mut self, name: &str, cents: i64) {
        self.key(name);
        self.0.push('"');
        push_money(self.0, cents);
        self.0.push('"');
    }
}

/// An amount of cents appended to `out` as money: the whole part of `cents / 100` (truncated
/// towards zero, so a negative amount above -1.00 loses its sign, as it always has), a dot,
/// two digits.
pub(crate) fn push_money(out: &mut String, cents: i64) {
    push_int(out, cents / 100);
    out.push('.');
    let frac = (cents % 100).unsigned_abs() as u8;
    out.push((b'0' + frac / 10) as char);
    out.push((b'0' + frac % 10) as char);
}

/// `v` in decimal, appended to `out`.
fn push_int(out: &mut String, v: i64) {
    if v < 0 {
        out.push('-');
    }
    push_digits(out, v.unsigned_abs(), 1);
}

/// `n` in decimal, at least `width` digits (zeros in front), appended to `out`.
pub(crate) fn push_digits(out: &mut String, mut n: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let at = at.min(digits.len() - width.min(digits.len()));
    // ASCII digits
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecommerce::catalog::Catalog;
    use crate::ecommerce::config::Config;
    use crate::rng::Key;

    #[test]
    fn money_is_whole_part_dot_two_digits_as_format_wrote_it() {
        for cents in [
            0,
            5,
            99,
            100,
            6399,
            11_699,
            -5,
            -99,
            -100,
            -6399,
            i64::MAX,
            i64::MIN,
        ] {
            let mut got = String::new();
            push_money(&mut got, cents);
            assert_eq!(
                got,
                format!("{}.{:02}", cents / 100, (cents % 100).abs()),
                "{cents}"
            );
        }
        let mut n = String::new();
        for v in [0, 7, -7, 10, 1_000_000, i64::MAX, i64::MIN] {
            n.clear();
            push_int(&mut n, v);
            assert_eq!(n, v.to_string());
        }
    }

    /// Each shape against the `format!` expression the events were written with before the
    /// values were kept typed.
    #[test]
    fn properties_are_the_json_objects_events_always_had() {
        let id = Uuid([0xAB; 16]);
        let hyphenated = String::from_utf8_lossy(&id.hyphenated()).into_owned();
        let cfg = Config::default_config();
        let catalog = Catalog::new(&cfg, Key::root(1).named("products"));
        let mut p = catalog.base(0);
        p.index = 41;
        let cases = [
            (Properties::Empty, "{}".to_string()),
            (Properties::Page("/cart"), r#"{"page":"/cart"}"#.to_string()),
            (
                Properties::Product {
                    sku: catalog.sku_of(&p),
                    unit_price: 1299,
                },
                format!(
                    r#"{{"page":"/products/{}","unit_price":"12.99"}}"#,
                    catalog.sku(&p)
                ),
            ),
            (
                Properties::CartLine {
                    cart_id: id,
                    unit_price: -5,
                },
                format!(r#"{{"cart_id":"{id}","unit_price":"0.05"}}"#),
            ),
            (
                Properties::Checkout { cart_id: id },
                format!(r#"{{"cart_id":"{id}"}}"#),
            ),
            (
                Properties::OrderPlaced {
                    cart_id: id,
                    order_id: Some(id),
                },
                format!(r#"{{"cart_id":"{id}","order_id":"{hyphenated}"}}"#),
            ),
            (
                Properties::OrderPlaced {
                    cart_id: id,
                    order_id: None,
                },
                format!(r#"{{"cart_id":"{id}","order_id":""}}"#),
            ),
            (
                Properties::PaymentFailed { order_id: None },
                r#"{"order_id":""}"#.to_string(),
            ),
            (
                Properties::PaymentFailed { order_id: Some(id) },
                format!(r#"{{"order_id":"{hyphenated}"}}"#),
            ),
        ];
        for (props, expected) in cases {
            assert_eq!(props.to_string(), expected, "{props:?}");
            // what a visitor is handed is the same text
            let mut seen = Vec::new();
            props.visit_json(&mut Json(&mut seen));
            assert_eq!(seen, [expected]);
        }
    }

    /// Collects what `json` is handed.
    struct Json<'a>(&'a mut Vec<String>);
    impl FieldVisitor for Json<'_> {
        fn text(&mut self, _: &str) {}
        fn hex_uuid(&mut self, _: &Uuid) {}
        fn uuid(&mut self, _: &Uuid) {}
        fn int(&mut self, _: i64) {}
        fn decimal(&mut self, _: i64) {}
        fn bool(&mut self, _: bool) {}
        fn date(&mut self, _: crate::time::Date) {}
        fn timestamp(&mut self, _: crate::time::Timestamp) {}
        fn json(&mut self, v: &str) {
            self.0.push(v.to_string())
        }
        fn null(&mut self) {}
    }
}
