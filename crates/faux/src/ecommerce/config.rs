//! The e-commerce scenario's settings: `scenarios/ecommerce.toml` (compiled in) holds every
//! default; a user's file overrides any subset. Unknown keys, mixes that do not sum to 1 and
//! impossible values are errors naming the key and the value.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::time::Date;

/// The shipped defaults, also what `aladdin scenario show ecommerce` documents.
pub const DEFAULT_TOML: &str = include_str!("../../../../scenarios/ecommerce.toml");

/// Tables whose keys are open (a user's file replaces the whole map rather than merging).
const OPEN_MAPS: &[&str] = &[
    "traffic.devices",
    "customers.countries",
    "payments.methods",
    "shipping.carriers",
    "marketing.channels",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct ConfigError {
    pub source_name: String,
    pub message: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub shop: Shop,
    pub traffic: Traffic,
    pub personas: Personas,
    pub funnel: Funnel,
    pub customers: Customers,
    pub payments: Payments,
    pub shipping: Shipping,
    pub marketing: Marketing,
    /// Behaviour changes from a date (`[[drift]]` entries), in the file's order. None in the
    /// shipped defaults: without them nothing is drawn differently.
    #[serde(default)]
    pub drift: Vec<Drift>,
}

/// One `[[drift]]` entry: from `from` on, the checkout probability of the sessions matching
/// `device` and `channel` (each: any when absent) is multiplied by `conversion` (capped at 1;
/// 1 when absent). Entries that match the same session multiply.
///
/// Two more kinds of change, each keeping the days before `from` as they were drawn:
/// - `price`: every product's price is multiplied by it from the start of `from` on;
/// - `launch`: `channel` is a new paid channel, launched on `from` with this marketing (its
///   spend and the sessions it brings, on top of the others'); with `conversion` its sessions
///   convert differently too.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drift {
    pub from: String,
    #[serde(default)]
    pub device: Option<String>,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default = "one")]
    pub conversion: f64,
    #[serde(default)]
    pub price: Option<f64>,
    #[serde(default)]
    pub launch: Option<Channel>,
    /// `from`, parsed by validation.
    #[serde(skip)]
    pub from_day: Option<Date>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shop {
    pub opened_on: String,
    pub currency: String,
    pub catalogue_size: u32,
    pub new_products_every_days: u32,
    pub tax_rate: f64,
    pub free_shipping_from: f64,
    pub shipping_fee: f64,
    pub discount_share: f64,
    pub discount_rate: f64,
    pub price_change_probability: f64,
    pub discontinue_probability: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    pub organic_sessions_per_day: f64,
    pub yearly_growth: f64,
    pub yearly_amplitude: f64,
    pub weekly: Vec<f64>,
    pub black_friday_multiplier: f64,
    pub cyber_monday_multiplier: f64,
    pub christmas_multiplier: f64,
    pub january_sales_multiplier: f64,
    pub intraday: Vec<f64>,
    pub new_customer_share: f64,
    pub anonymous_share: f64,
    pub devices: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Personas {
    pub mix: PersonaMix,
    pub window_shopper: Persona,
    pub future_buyer: Persona,
    pub buyer: Persona,
    pub loyal: Persona,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonaMix {
    pub window_shopper: f64,
    pub future_buyer: f64,
    pub buyer: f64,
    pub loyal: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Persona {
    pub visit_weight: f64,
    pub add_to_cart: f64,
    pub checkout: f64,
    pub order: f64,
    pub cart_return: f64,
    pub product_views: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Funnel {
    pub max_cart_return_days: u32,
    pub resumed_cart_order: f64,
    pub remove_from_cart: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Customers {
    pub address_change_probability: f64,
    pub deletion_probability: f64,
    pub marketing_opt_in: f64,
    pub countries: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payments {
    pub methods: BTreeMap<String, f64>,
    pub failure_probability: f64,
    pub cancel_probability: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shipping {
    pub carriers: BTreeMap<String, f64>,
    pub failed_attempt_probability: f64,
    pub refund_probability: f64,
    pub partial_refund_share: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Marketing {
    pub channels: BTreeMap<String, Channel>,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    pub daily_budget: f64,
    pub scale: f64,
    pub elasticity: f64,
    pub cost_per_mille: f64,
}

/// Merges `user` into `base`: tables merge key by key, except [`OPEN_MAPS`], which the user's
/// value replaces; a key `base` does not have is an error.
fn merge(base: &mut toml::Table, user: toml::Table, path: &str) -> Result<(), String> {
    for (key, value) in user {
        let full = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        match base.get_mut(&key) {
            None => {
                let valid: Vec<&str> = base.keys().map(String::as_str).collect();
                return Err(format!(
                    "unknown key {full:?} (valid here: {})",
                    valid.join(", ")
                ));
            }
            Some(toml::Value::Table(b)) if !OPEN_MAPS.contains(&full.as_str()) => match value {
                toml::Value::Table(u) => merge(b, u, &full)?,
                other => return Err(format!("{full} must be a table, not {other}")),
            },
            Some(slot) => *slot = value,
        }
    }
    Ok(())
}

impl Config {
    /// The shipped defaults.
    pub fn default_config() -> Config {
        Config::from_toml("scenarios/ecommerce.toml", "").expect("the shipped scenario is valid")
    }

    /// The defaults overridden by `text` (a scenario file's contents), validated.
    pub fn from_toml(source_name: &str, text: &str) -> Result<Config, ConfigError> {
        let err = |message: String| ConfigError {
            source_name: source_name.to_string(),
            message,
        };
        let mut base: toml::Table = DEFAULT_TOML
            .parse()
            .map_err(|e: toml::de::Error| err(e.to_string()))?;
        let user: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| err(e.to_string()))?;
        let mut user = user;
        // `drift` is a list the defaults do not have: it is added, not merged
        let drift = user.remove("drift");
        merge(&mut base, user, "").map_err(err)?;
        if let Some(d) = drift {
            base.insert("drift".into(), d);
        }
        let mut config: Config = base
            .try_into()
            .map_err(|e: toml::de::Error| err(e.to_string()))?;
        config.validate().map_err(err)?;
        for d in &mut config.drift {
            d.from_day = d.from.parse().ok();
        }
        Ok(config)
    }

    pub fn opened_on(&self) -> Date {
        self.shop.opened_on.parse().expect("validated")
    }

    fn validate(&self) -> Result<(), String> {
        fn prob(key: &str, v: f64) -> Result<(), String> {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(format!("{key} = {v} is not a probability (0 to 1)"))
            }
        }
        fn positive(key: &str, v: f64) -> Result<(), String> {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(format!("{key} = {v} must be a positive number"))
            }
        }
        fn non_negative(key: &str, v: f64) -> Result<(), String> {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(format!("{key} = {v} must be zero or more"))
            }
        }
        fn mix<'a>(key: &str, items: impl Iterator<Item = (&'a str, f64)>) -> Result<(), String> {
            let mut sum = 0.0;
            let mut n = 0;
            for (k, v) in items {
                prob(&format!("{key}.{k}"), v)?;
                sum += v;
                n += 1;
            }
            if n == 0 {
                return Err(format!("{key} must not be empty"));
            }
            if (sum - 1.0).abs() > 1e-6 {
                return Err(format!("{key} sums to {sum}, but a mix must sum to 1"));
            }
            Ok(())
        }
        let s = &self.shop;
        s.opened_on
            .parse::<Date>()
            .map_err(|e| format!("shop.opened_on: {e}"))?;
        if s.currency.len() != 3 || !s.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(format!(
                "shop.currency = {:?} must be a 3-letter ISO 4217 code like EUR",
                s.currency
            ));
        }
        if s.catalogue_size == 0 {
            return Err("shop.catalogue_size = 0: a shop needs at least one product".into());
        }
        if s.new_products_every_days == 0 {
            return Err("shop.new_products_every_days = 0 must be at least 1".into());
        }
        non_negative("shop.tax_rate", s.tax_rate)?;
        non_negative("shop.free_shipping_from", s.free_shipping_from)?;
        non_negative("shop.shipping_fee", s.shipping_fee)?;
        prob("shop.discount_share", s.discount_share)?;
        prob("shop.discount_rate", s.discount_rate)?;
        prob("shop.price_change_probability", s.price_change_probability)?;
        prob("shop.discontinue_probability", s.discontinue_probability)?;

        let t = &self.traffic;
        positive(
            "traffic.organic_sessions_per_day",
            t.organic_sessions_per_day,
        )?;
        if !(t.yearly_growth > -1.0 && t.yearly_growth.is_finite()) {
            return Err(format!(
                "traffic.yearly_growth = {} must be above -1",
                t.yearly_growth
            ));
        }
        prob("traffic.yearly_amplitude", t.yearly_amplitude)?;
        if t.weekly.len() != 7 {
            return Err(format!(
                "traffic.weekly has {} values; it needs 7 (Monday to Sunday)",
                t.weekly.len()
            ));
        }
        for (i, w) in t.weekly.iter().enumerate() {
            non_negative(&format!("traffic.weekly[{i}]"), *w)?;
        }
        if t.intraday.len() != 24 {
            return Err(format!(
                "traffic.intraday has {} values; it needs 24 (hours 0 to 23)",
                t.intraday.len()
            ));
        }
        for (i, w) in t.intraday.iter().enumerate() {
            non_negative(&format!("traffic.intraday[{i}]"), *w)?;
        }
        if t.intraday.iter().sum::<f64>() <= 0.0 {
            return Err("traffic.intraday must have a positive hour".into());
        }
        for (k, v) in [
            ("traffic.black_friday_multiplier", t.black_friday_multiplier),
            ("traffic.cyber_monday_multiplier", t.cyber_monday_multiplier),
            ("traffic.christmas_multiplier", t.christmas_multiplier),
            (
                "traffic.january_sales_multiplier",
                t.january_sales_multiplier,
            ),
        ] {
            non_negative(k, v)?;
        }
        prob("traffic.new_customer_share", t.new_customer_share)?;
        prob("traffic.anonymous_share", t.anonymous_share)?;
        if t.new_customer_share + t.anonymous_share > 1.0 {
            return Err(format!(
                "traffic.new_customer_share + traffic.anonymous_share = {} exceeds 1",
                t.new_customer_share + t.anonymous_share
            ));
        }
        mix(
            "traffic.devices",
            t.devices.iter().map(|(k, v)| (k.as_str(), *v)),
        )?;

        let p = &self.personas;
        mix(
            "personas.mix",
            [
                ("window_shopper", p.mix.window_shopper),
                ("future_buyer", p.mix.future_buyer),
                ("buyer", p.mix.buyer),
                ("loyal", p.mix.loyal),
            ]
            .into_iter(),
        )?;
        for (name, persona) in [
            ("window_shopper", &p.window_shopper),
            ("future_buyer", &p.future_buyer),
            ("buyer", &p.buyer),
            ("loyal", &p.loyal),
        ] {
            let k = |f: &str| format!("personas.{name}.{f}");
            positive(&k("visit_weight"), persona.visit_weight)?;
            prob(&k("add_to_cart"), persona.add_to_cart)?;
            prob(&k("checkout"), persona.checkout)?;
            prob(&k("order"), persona.order)?;
            prob(&k("cart_return"), persona.cart_return)?;
            if !(1.0..=50.0).contains(&persona.product_views) {
                return Err(format!(
                    "{} = {} must be between 1 and 50",
                    k("product_views"),
                    persona.product_views
                ));
            }
        }
        if !(1..=28).contains(&self.funnel.max_cart_return_days) {
            return Err(format!(
                "funnel.max_cart_return_days = {} must be between 1 and 28",
                self.funnel.max_cart_return_days
            ));
        }
        prob("funnel.resumed_cart_order", self.funnel.resumed_cart_order)?;
        prob("funnel.remove_from_cart", self.funnel.remove_from_cart)?;

        let c = &self.customers;
        prob(
            "customers.address_change_probability",
            c.address_change_probability,
        )?;
        prob("customers.deletion_probability", c.deletion_probability)?;
        prob("customers.marketing_opt_in", c.marketing_opt_in)?;
        mix(
            "customers.countries",
            c.countries.iter().map(|(k, v)| (k.as_str(), *v)),
        )?;
        for k in c.countries.keys() {
            if crate::ecommerce::people::country(k).is_none() {
                return Err(format!(
                    "customers.countries.{k}: unknown country; known are {}",
                    crate::ecommerce::people::COUNTRY_CODES.join(", ")
                ));
            }
        }
        mix(
            "payments.methods",
            self.payments.methods.iter().map(|(k, v)| (k.as_str(), *v)),
        )?;
        prob(
            "payments.failure_probability",
            self.payments.failure_probability,
        )?;
        prob(
            "payments.cancel_probability",
            self.payments.cancel_probability,
        )?;
        mix(
            "shipping.carriers",
            self.shipping.carriers.iter().map(|(k, v)| (k.as_str(), *v)),
        )?;
        prob(
            "shipping.failed_attempt_probability",
            self.shipping.failed_attempt_probability,
        )?;
        prob(
            "shipping.refund_probability",
            self.shipping.refund_probability,
        )?;
        prob(
            "shipping.partial_refund_share",
            self.shipping.partial_refund_share,
        )?;
        for (name, ch) in &self.marketing.channels {
            ch.validate(&format!("marketing.channels.{name}"))?;
        }
        let launched: Vec<&str> = self
            .drift
            .iter()
            .filter(|d| d.launch.is_some())
            .filter_map(|d| d.channel.as_deref())
            .collect();
        for (i, d) in self.drift.iter().enumerate() {
            let k = |f: &str| format!("drift[{i}].{f}");
            if let Some(l) = &d.launch {
                let Some(ch) = &d.channel else {
                    return Err(format!(
                        "{} needs drift[{i}].channel: the name of the new channel",
                        k("launch")
                    ));
                };
                let clash = crate::ecommerce::traffic::ORGANIC_CHANNELS
                    .iter()
                    .any(|(n, _)| n == ch)
                    || self.marketing.channels.contains_key(ch)
                    || launched.iter().filter(|n| **n == ch.as_str()).count() > 1;
                if clash {
                    return Err(format!(
                        "{} = {ch:?} with launch: the channel exists already; a launched channel needs a new name",
                        k("channel")
                    ));
                }
                l.validate(&k("launch"))?;
            }
            if let Some(f) = d.price {
                if !f.is_finite() || f <= 0.0 {
                    return Err(format!("{} = {f} must be a factor above 0", k("price")));
                }
                if d.device.is_some() || d.channel.is_some() {
                    return Err(format!(
                        "{} applies to every product: drift[{i}] with price takes no device or channel",
                        k("price")
                    ));
                }
            }
            d.from
                .parse::<Date>()
                .map_err(|e| format!("{} = {:?}: {e}", k("from"), d.from))?;
            if let Some(dev) = &d.device
                && !self.traffic.devices.contains_key(dev)
            {
                return Err(format!(
                    "{} = {dev:?} is not a device of traffic.devices ({})",
                    k("device"),
                    self.traffic
                        .devices
                        .keys()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if let Some(ch) = &d.channel {
                let known: Vec<&str> = crate::ecommerce::traffic::ORGANIC_CHANNELS
                    .iter()
                    .map(|(n, _)| *n)
                    .chain(self.marketing.channels.keys().map(String::as_str))
                    .chain(launched.iter().copied())
                    .collect();
                if !known.contains(&ch.as_str()) {
                    return Err(format!(
                        "{} = {ch:?} is not a channel ({})",
                        k("channel"),
                        known.join(", ")
                    ));
                }
            }
            non_negative(&k("conversion"), d.conversion)?;
        }
        Ok(())
    }

    /// The factor on the checkout probability of a session of `day` from `channel` on `device`:
    /// exactly 1.0 without drift, so a scenario without `[[drift]]` draws as before.
    pub fn conversion_drift(&self, day: Date, channel: &str, device: &str) -> f64 {
        self.drift
            .iter()
            .filter(|d| d.from_day.is_some_and(|f| day >= f))
            .filter(|d| d.device.as_deref().is_none_or(|x| x == device))
            .filter(|d| d.channel.as_deref().is_none_or(|x| x == channel))
            .map(|d| d.conversion)
            .product()
    }

    /// The factor on every product's price at the start of `day`: 1.0 without a price drift.
    pub fn price_drift(&self, day: Date) -> f64 {
        self.drift
            .iter()
            .filter(|d| d.from_day.is_some_and(|f| day >= f))
            .filter_map(|d| d.price)
            .product()
    }

    /// The days prices change by drift, with the factor in force from each, in date order.
    pub fn price_drift_days(&self) -> Vec<(Date, f64)> {
        let mut days: Vec<Date> = self
            .drift
            .iter()
            .filter(|d| d.price.is_some())
            .filter_map(|d| d.from_day)
            .collect();
        days.sort();
        days.dedup();
        days.into_iter().map(|d| (d, self.price_drift(d))).collect()
    }

    /// Paid channels launched by drift: (launch day, name, marketing), in the file's order.
    pub fn launched_channels(&self) -> Vec<(Date, &str, &Channel)> {
        self.drift
            .iter()
            .filter_map(|d| Some((d.from_day?, d.channel.as_deref()?, d.launch.as_ref()?)))
            .collect()
    }
}

impl Channel {
    fn validate(&self, k: &str) -> Result<(), String> {
        if !self.daily_budget.is_finite() || self.daily_budget < 0.0 {
            return Err(format!(
                "{k}.daily_budget = {} must be zero or more",
                self.daily_budget
            ));
        }
        for (f, v) in [
            ("scale", self.scale),
            ("cost_per_mille", self.cost_per_mille),
        ] {
            if !v.is_finite() || v <= 0.0 {
                return Err(format!("{k}.{f} = {v} must be a positive number"));
            }
        }
        if !(0.0..=1.0).contains(&self.elasticity) || self.elasticity == 0.0 {
            return Err(format!(
                "{k}.elasticity = {} must be in (0, 1]",
                self.elasticity
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        Config::from_toml("my.toml", text).unwrap_err().to_string()
    }

    #[test]
    fn the_defaults_parse_and_overrides_apply() {
        let c =
            Config::from_toml("my.toml", "[traffic]\norganic_sessions_per_day = 99.5\n").unwrap();
        assert_eq!(c.traffic.organic_sessions_per_day, 99.5);
        assert_eq!(c.shop.currency, "EUR");
        let c = Config::from_toml("my.toml", "[customers]\ncountries = { FR = 1.0 }\n").unwrap();
        assert_eq!(
            c.customers.countries.len(),
            1,
            "open maps are replaced, not merged"
        );
    }

    #[test]
    fn drift_applies_from_its_day_to_the_matching_sessions() {
        let day = |s: &str| s.parse::<Date>().unwrap();
        assert_eq!(
            Config::default_config().conversion_drift(day("2030-01-01"), "email", "mobile"),
            1.0
        );
        let c = Config::from_toml(
            "my.toml",
            "[[drift]]\nfrom = \"2024-02-01\"\ndevice = \"mobile\"\nconversion = 0.5\n\n[[drift]]\nfrom = \"2024-03-01\"\nconversion = 0.8\n",
        )
        .unwrap();
        assert_eq!(
            c.conversion_drift(day("2024-01-31"), "direct", "mobile"),
            1.0
        );
        assert_eq!(
            c.conversion_drift(day("2024-02-01"), "direct", "mobile"),
            0.5
        );
        assert_eq!(
            c.conversion_drift(day("2024-02-01"), "direct", "desktop"),
            1.0
        );
        assert!((c.conversion_drift(day("2024-03-01"), "direct", "mobile") - 0.4).abs() < 1e-12);
    }

    #[test]
    fn errors_name_the_key_and_value() {
        let e = error("[traffic]\norganic_sesions_per_day = 5\n");
        assert!(
            e.contains("traffic.organic_sesions_per_day") && e.contains("my.toml"),
            "{e}"
        );
        let e = error("[payments]\nmethods = { card = 0.5, paypal = 0.4 }\n");
        assert!(
            e.contains("payments.methods") && e.contains("sums to 0.9"),
            "{e}"
        );
        let e = error("[shipping]\nrefund_probability = 1.5\n");
        assert!(e.contains("shipping.refund_probability = 1.5"), "{e}");
        let e = error("[shop]\nopened_on = \"2020-02-30\"\n");
        assert!(
            e.contains("shop.opened_on") && e.contains("2020-02-30"),
            "{e}"
        );
        let e = error("[traffic]\nweekly = [1.0, 2.0]\n");
        assert!(e.contains("traffic.weekly has 2 values"), "{e}");
        let e = error("[customers]\ncountries = { XX = 1.0 }\n");
        assert!(e.contains("customers.countries.XX"), "{e}");
        let e = error("[personas.buyer]\norder = -0.1\n");
        assert!(e.contains("personas.buyer.order = -0.1"), "{e}");
        let e = error("[shop]\ncatalogue_size = \"many\"\n");
        assert!(e.contains("catalogue_size"), "{e}");
        let e = error("[[drift]]\nfrom = \"2024-02-30\"\nconversion = 0.5\n");
        assert!(
            e.contains("drift[0].from") && e.contains("2024-02-30"),
            "{e}"
        );
        let e = error("[[drift]]\nfrom = \"2024-02-01\"\ndevice = \"watch\"\nconversion = 0.5\n");
        assert!(
            e.contains("drift[0].device = \"watch\"") && e.contains("mobile"),
            "{e}"
        );
        let e = error("[[drift]]\nfrom = \"2024-02-01\"\nchannel = \"tv\"\nconversion = 0.5\n");
        assert!(
            e.contains("drift[0].channel = \"tv\"") && e.contains("organic"),
            "{e}"
        );
        let e = error("[[drift]]\nfrom = \"2024-02-01\"\nconversion = -1.0\n");
        assert!(e.contains("drift[0].conversion = -1"), "{e}");
        let e = error("[[drift]]\nfrom = \"2024-02-01\"\nprices = 1.15\n");
        assert!(e.contains("prices"), "{e}");
        let e = error("not toml at all [");
        assert!(e.contains("my.toml"), "{e}");
    }
}
