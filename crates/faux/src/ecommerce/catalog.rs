//! The product catalogue: a fixed opening range plus one new product every few days; each
//! product's price moves at most once per 30-day period and it may be withdrawn.

use crate::rng::{Key, Uuid};
use crate::time::{Date, Timestamp};

use super::config::Config;
use super::tables::Product;

const DAY: i64 = 86_400;
const PERIOD_DAYS: i64 = 30;

/// (category, sku prefix, nouns, price range in whole currency units)
type Category = (
    &'static str,
    &'static str,
    &'static [&'static str],
    (f64, f64),
);
static CATEGORIES: [Category; 6] = [
    (
        "Home & Kitchen",
        "HOM",
        &[
            "Mug",
            "Teapot",
            "Cutting Board",
            "Chef's Knife",
            "Salad Bowl",
            "Candle",
            "Throw Blanket",
            "Carafe",
        ],
        (8.0, 80.0),
    ),
    (
        "Electronics",
        "ELE",
        &[
            "Wireless Earbuds",
            "Phone Case",
            "USB-C Charger",
            "Bluetooth Speaker",
            "Smart Watch",
            "Power Bank",
            "Desk Lamp",
        ],
        (12.0, 250.0),
    ),
    (
        "Fashion",
        "FAS",
        &[
            "T-Shirt",
            "Hoodie",
            "Sneakers",
            "Scarf",
            "Backpack",
            "Beanie",
            "Sunglasses",
        ],
        (15.0, 120.0),
    ),
    (
        "Beauty",
        "BEA",
        &[
            "Face Cream",
            "Lip Balm",
            "Shampoo",
            "Perfume",
            "Hand Soap",
            "Body Lotion",
        ],
        (5.0, 90.0),
    ),
    (
        "Sports",
        "SPO",
        &[
            "Yoga Mat",
            "Dumbbell Set",
            "Running Shorts",
            "Jump Rope",
            "Water Bottle",
            "Cycling Gloves",
        ],
        (10.0, 150.0),
    ),
    (
        "Books & Stationery",
        "BOO",
        &[
            "Notebook",
            "Cookbook",
            "Planner",
            "Fountain Pen",
            "Sketchbook",
        ],
        (6.0, 45.0),
    ),
];
static ADJECTIVES: [&str; 10] = [
    "Classic", "Organic", "Premium", "Eco", "Vintage", "Compact", "Deluxe", "Everyday", "Urban",
    "Nordic",
];
static MATERIALS: [&str; 8] = [
    "Bamboo", "Ceramic", "Steel", "Cotton", "Leather", "Linen", "Glass", "Recycled",
];

#[derive(Debug, Clone)]
pub struct Catalog {
    key: Key,
    opened: Date,
    initial: u64,
    every: i64,
    change_p: f64,
    discontinue_p: f64,
    pub currency: &'static str,
    /// Products drawn once: sessions pick products by rejection sampling, several draws each.
    bases: Vec<ProductBase>,
    /// `[[drift]]` price changes: (start of the day, factor on every price from then on).
    price_drift: Vec<(Timestamp, f64)>,
}

/// Products drawn ahead (a shop listing one product a day has this many after 130 years).
const PREDRAWN_PRODUCTS: u64 = 50_000;

/// A product's fixed attributes.
#[derive(Debug, Clone)]
pub struct ProductBase {
    pub index: u64,
    pub id: Uuid,
    pub category: usize,
    pub base_price: i64,
    pub created_at: Timestamp,
    pub discontinued_at: Option<Timestamp>,
    /// Relative chance of being looked at, in (0.05, 1].
    pub popularity: f64,
}

/// Rounds to a price ending in .99 (at least 0.99).
fn charm_price(units: f64) -> i64 {
    (units.round().max(1.0) as i64) * 100 - 1
}

/// A product's SKU: the category's prefix, a hyphen, the product's number in at least five
/// digits ([`Catalog::sku`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sku {
    prefix: &'static str,
    number: u64,
}

impl Sku {
    /// The SKU's text appended to `out`.
    pub fn push_to(&self, out: &mut String) {
        out.push_str(self.prefix);
        out.push('-');
        super::properties::push_digits(out, self.number, 5);
    }
}

impl Catalog {
    pub fn new(cfg: &Config, key: Key) -> Catalog {
        let mut c = Catalog {
            key,
            opened: cfg.opened_on(),
            initial: cfg.shop.catalogue_size as u64,
            every: cfg.shop.new_products_every_days as i64,
            change_p: cfg.shop.price_change_probability,
            discontinue_p: cfg.shop.discontinue_probability,
            currency: Box::leak(cfg.shop.currency.clone().into_boxed_str()),
            bases: Vec::new(),
            price_drift: cfg
                .price_drift_days()
                .into_iter()
                .map(|(d, f)| (d.start(), f))
                .collect(),
        };
        let n = c
            .count_by(c.opened.add_days(super::HORIZON_DAYS))
            .min(PREDRAWN_PRODUCTS);
        c.bases = (0..n).map(|i| c.draw_base(i)).collect();
        c
    }

    /// Products listed by the end of day `d`.
    pub fn count_by(&self, d: Date) -> u64 {
        let days = self.opened.days_until(d) as i64;
        if days < 0 {
            0
        } else {
            self.initial + (days / self.every) as u64
        }
    }

    fn created_day(&self, index: u64) -> Date {
        if index < self.initial {
            self.opened
        } else {
            self.opened
                .add_days(((index - self.initial + 1) as i64 * self.every) as i32)
        }
    }

    pub fn base(&self, index: u64) -> ProductBase {
        match self.bases.get(index as usize) {
            Some(p) => p.clone(),
            None => self.draw_base(index),
        }
    }

    fn draw_base(&self, index: u64) -> ProductBase {
        let mut s = self.key.derive(index).stream();
        let id = s.uuid_v4();
        let category = s.range_inclusive(0, CATEGORIES.len() as i64 - 1) as usize;
        let (_, _, _, (lo, hi)) = CATEGORIES[category];
        // log-uniform over the category's range: many cheap items, a few dear ones
        let price = lo * (hi / lo).powf(s.next_f64());
        let day = self.created_day(index);
        let created_at = if index < self.initial {
            day.start()
        } else {
            Timestamp(day.start().0 + s.range_inclusive(6 * 3600, 10 * 3600))
        };
        let discontinued_at = s
            .chance(self.discontinue_p)
            .then(|| Timestamp(created_at.0 + s.range_inclusive(365 * DAY, 1095 * DAY)));
        let u = s.next_f64();
        ProductBase {
            index,
            id,
            category,
            base_price: charm_price(price),
            created_at,
            discontinued_at,
            popularity: 0.05 + 0.95 * u * u * u,
        }
    }

    pub fn name(&self, p: &ProductBase) -> String {
        let mut s = self.key.named("name").derive(p.index).stream();
        let nouns = CATEGORIES[p.category].2;
        format!(
            "{} {} {}",
            ADJECTIVES[s.range_inclusive(0, ADJECTIVES.len() as i64 - 1) as usize],
            MATERIALS[s.range_inclusive(0, MATERIALS.len() as i64 - 1) as usize],
            nouns[s.range_inclusive(0, nouns.len() as i64 - 1) as usize]
        )
    }

    pub fn category_name(&self, p: &ProductBase) -> &'static str {
        CATEGORIES[p.category].0
    }

    pub fn sku(&self, p: &ProductBase) -> String {
        let mut s = String::with_capacity(16);
        self.push_sku(&mut s, p);
        s
    }

    /// [`Catalog::sku`] appended to `out`.
    pub fn push_sku(&self, out: &mut String, p: &ProductBase) {
        self.sku_of(p).push_to(out);
    }

    /// The product's SKU, to be written later.
    pub fn sku_of(&self, p: &ProductBase) -> Sku {
        Sku {
            prefix: CATEGORIES[p.category].1,
            number: p.index + 1,
        }
    }

    /// The price change in 30-day period `period` (≥ 1) after listing, if any: (time, price).
    fn change(&self, p: &ProductBase, period: i64) -> Option<(Timestamp, i64)> {
        let mut s = self
            .key
            .named("price")
            .derive(p.index)
            .derive(period as u64)
            .stream();
        if !s.chance(self.change_p) {
            return None;
        }
        let at = Timestamp(
            p.created_at.0
                + period * PERIOD_DAYS * DAY
                + s.range_inclusive(0, PERIOD_DAYS * DAY - 1),
        );
        let factor = 0.8 + 0.45 * s.next_f64();
        Some((at, charm_price(p.base_price as f64 / 100.0 * factor)))
    }

    /// (price, time of the last price change) as of `t`: the drawn price, times the
    /// `[[drift]]` price factor in force at `t` (rounded to a .99 price like every price).
    pub fn price_at(&self, p: &ProductBase, t: Timestamp) -> (i64, Timestamp) {
        let (price, at) = self.drawn_price_at(p, t);
        match self.price_drift.iter().rev().find(|(start, _)| *start <= t) {
            Some(&(start, factor)) => (charm_price(price as f64 / 100.0 * factor), at.max(start)),
            None => (price, at),
        }
    }

    fn drawn_price_at(&self, p: &ProductBase, t: Timestamp) -> (i64, Timestamp) {
        let mut period = (t.0 - p.created_at.0).div_euclid(PERIOD_DAYS * DAY);
        while period >= 1 {
            if let Some((at, price)) = self.change(p, period)
                && at <= t
            {
                return (price, at);
            }
            period -= 1;
        }
        (p.base_price, p.created_at)
    }

    pub fn active_at(&self, p: &ProductBase, t: Timestamp) -> bool {
        p.created_at <= t && p.discontinued_at.is_none_or(|d| d > t)
    }

    /// The product row as of `t` (which must be at or after its listing).
    pub fn row_at(&self, p: &ProductBase, t: Timestamp) -> Product {
        let (price, changed) = self.price_at(p, t);
        let discontinued = p.discontinued_at.filter(|d| *d <= t);
        Product {
            id: p.id,
            sku: self.sku(p),
            name: self.name(p),
            category: CATEGORIES[p.category].0,
            price,
            currency: self.currency,
            active: discontinued.is_none(),
            created_at: p.created_at,
            updated_at: changed.max(discontinued.unwrap_or(changed)),
        }
    }

    /// Times within [from, to] at which product `p` changed (listing included).
    pub fn versions_between(
        &self,
        p: &ProductBase,
        from: Timestamp,
        to: Timestamp,
    ) -> Vec<Timestamp> {
        let mut out = Vec::new();
        if (from..=to).contains(&p.created_at) {
            out.push(p.created_at);
        }
        let first = ((from.0 - p.created_at.0).div_euclid(PERIOD_DAYS * DAY)).max(1);
        let last = (to.0 - p.created_at.0).div_euclid(PERIOD_DAYS * DAY);
        for period in first..=last {
            if let Some((at, _)) = self.change(p, period)
                && (from..=to).contains(&at)
            {
                out.push(at);
            }
        }
        if let Some(d) = p.discontinued_at
            && (from..=to).contains(&d)
        {
            out.push(d);
        }
        // a drift's new prices are a version of every product listed before it
        out.extend(
            self.price_drift
                .iter()
                .map(|(start, _)| *start)
                .filter(|start| *start > p.created_at && (from..=to).contains(start)),
        );
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predrawn_products_are_the_drawn_ones() {
        let cfg = Config::default_config();
        let c = Catalog::new(&cfg, Key::root(1).named("products"));
        assert!(c.bases.len() > 1000, "{}", c.bases.len());
        for i in [0, 1, 119, 120, 500, c.bases.len() as u64 - 1] {
            assert_eq!(
                format!("{:?}", c.base(i)),
                format!("{:?}", c.draw_base(i)),
                "{i}"
            );
        }
    }

    #[test]
    fn prices_end_in_99_and_change_only_forward() {
        let cfg = Config::default_config();
        let c = Catalog::new(&cfg, Key::root(1).named("products"));
        for i in 0..50 {
            let p = c.base(i);
            assert_eq!(p.base_price % 100, 99);
            let late = Timestamp(p.created_at.0 + 400 * DAY);
            let (price, at) = c.price_at(&p, late);
            assert!(price % 100 == 99 && at <= late && at >= p.created_at);
            let row = c.row_at(&p, late);
            assert!(row.updated_at <= late && row.created_at <= row.updated_at);
        }
    }

    #[test]
    fn skus_are_the_category_and_the_number_in_five_digits() {
        let cfg = Config::default_config();
        let c = Catalog::new(&cfg, Key::root(1).named("products"));
        for i in [0, 8, 9, 98, 99, 12_344, 99_998, 99_999, 1_234_566] {
            let mut p = c.base(0);
            p.index = i;
            let expected = format!("{}-{:05}", CATEGORIES[p.category].1, i + 1);
            assert_eq!(c.sku(&p), expected);
        }
    }
}
