//! Customers by closed form: customer i's identity, persona, moves and deletion come from its
//! own streams, so any customer is known as of any instant without replaying the days.

use std::sync::Arc;

use crate::rng::Uuid;
use crate::time::{Date, Timestamp};

use super::sessions::Persona;
use super::tables::Customer;
use super::{Ecommerce, people, pick_mix};

const DAY: i64 = 86_400;
/// A deleting customer deletes its account this many seconds after its sign-up day starts.
const DELETION_AFTER: (i64, i64) = (30 * DAY, 730 * DAY);
/// Draws of a customer's stream before its persona: its id.
const CUSTOMER_ID_DRAWS: u64 = 2;
/// Share of customers who gave no phone number.
const NO_PHONE: f64 = 0.08;

/// A customer's fixed core: what session planning needs, cheaply.
#[derive(Debug, Clone)]
pub struct CustomerCore {
    pub id: Uuid,
    pub persona: Persona,
}

impl Ecommerce {
    pub fn customer_core(&self, i: u64) -> CustomerCore {
        let mut s = self.keys.customer.derive(i).stream();
        let id = s.uuid_v4();
        let persona = self.pick_persona(s.next_f64());
        CustomerCore { id, persona }
    }

    /// [`Ecommerce::customer_core`]'s persona alone: the draw after the id's two.
    fn customer_persona(&self, i: u64) -> Persona {
        let mut s = self.keys.customer.derive(i).stream();
        s.seek(CUSTOMER_ID_DRAWS);
        self.pick_persona(s.next_f64())
    }

    /// The personas of customers `0..n` at least, worked out once: a session's funnel asks
    /// for about four (its visitor's, and the candidates of picking a returning customer by
    /// visit weight), which made the customer's stream a tenth of a look-back.
    pub(crate) fn personas(&self, n: u64) -> Arc<Vec<Persona>> {
        let known = self.personas.read().expect("personas").clone();
        if known.len() as u64 >= n {
            return known;
        }
        let mut table = self.personas.write().expect("personas");
        if (table.len() as u64) < n {
            // with room for the sign-ups of the next days, so that a stream of days does
            // not copy the table each day
            let upto = n + n / 64 + 1024;
            let mut more = Vec::with_capacity(upto as usize);
            more.extend_from_slice(&table);
            more.extend((table.len() as u64..upto).map(|i| self.customer_persona(i)));
            *table = Arc::new(more);
        }
        table.clone()
    }

    /// Seconds after its sign-up day's start at which customer `i` deletes its account.
    fn deletion_after(&self, i: u64) -> Option<i64> {
        let mut s = self.keys.customer.named("deletion").derive(i).stream();
        s.chance(self.config.customers.deletion_probability)
            .then(|| s.range_inclusive(DELETION_AFTER.0, DELETION_AFTER.1))
    }

    /// Whether customer `i`, who signed up on `origin`, changes on `day` (cheap: no identity).
    pub(crate) fn customer_touched(&self, i: u64, origin: Date, day: Date) -> bool {
        if origin == day {
            return true;
        }
        let since = day.start().0 - origin.start().0;
        // this runs for every customer every day: draw the deletion only where it can matter
        let deleted = || self.deletion_after(i).map(|after| origin.start().0 + after);
        let can_be_deleted_today = (DELETION_AFTER.0 - DAY..=DELETION_AFTER.1).contains(&since);
        if can_be_deleted_today && deleted().is_some_and(|d| Timestamp(d).date() == day) {
            return true;
        }
        // a move lands on `day` only from the period containing the day's start or end
        let periods = [
            since.div_euclid(90 * DAY),
            (since + DAY - 1).div_euclid(90 * DAY),
        ];
        periods.iter().filter(|p| **p >= 1).any(|&p| {
            self.customer_move(i, origin, p)
                .is_some_and(|at| at.date() == day && deleted().is_none_or(|d| at.0 < d))
        })
    }

    /// Customers with a change on `day`, by index.
    pub(crate) fn customers_touched(&self, day: Date) -> Vec<u64> {
        let mut out = Vec::new();
        let mut o = self.opened();
        let mut first = 0;
        while o <= day {
            let end = self.customer_count(o);
            out.extend((first..end).filter(|&i| self.customer_touched(i, o, day)));
            first = end;
            o = o.succ();
        }
        out
    }

    fn customer_origin(&self, i: u64) -> (Date, u64) {
        self.population.origin(&self.traffic, i)
    }

    pub(crate) fn deleted_at(&self, i: u64) -> Option<Timestamp> {
        let after = self.deletion_after(i)?;
        Some(Timestamp(self.customer_origin(i).0.start().0 + after))
    }

    pub fn customer_created_at(&self, i: u64) -> Timestamp {
        let (day, j) = self.customer_origin(i);
        let ctx = self.context(day);
        self.fresh_plan(&ctx, j as u32).signup_at()
    }

    /// The move of customer `i` in 90-day period `p` (≥ 1) after its sign-up day, if any.
    fn customer_move(&self, i: u64, origin: Date, p: i64) -> Option<Timestamp> {
        let mut s = self.keys.moves.derive(i).derive(p as u64).stream();
        s.chance(self.config.customers.address_change_probability)
            .then(|| {
                Timestamp(origin.start().0 + p * 90 * DAY + s.range_inclusive(0, 90 * DAY - 1))
            })
    }

    /// Customers who exist by the end of `day`.
    pub fn customer_count(&self, day: Date) -> u64 {
        if day < self.opened() {
            0
        } else {
            self.population
                .by_end_of(&self.traffic, day.min(self.last_day()))
        }
    }

    /// Change times of customer `i` within [from, to] (sign-up, moves, deletion).
    pub fn customer_versions(&self, i: u64, from: Timestamp, to: Timestamp) -> Vec<Timestamp> {
        let (origin, _) = self.customer_origin(i);
        let deleted = self.deleted_at(i);
        let mut out = Vec::new();
        if from.date() <= origin && origin <= to.date() {
            let created = self.customer_created_at(i);
            if (from..=to).contains(&created) {
                out.push(created);
            }
        }
        let first = ((from.0 - origin.start().0).div_euclid(90 * DAY)).max(1);
        let last = (to.0 - origin.start().0).div_euclid(90 * DAY);
        for p in first..=last {
            if let Some(at) = self.customer_move(i, origin, p)
                && (from..=to).contains(&at)
                && deleted.is_none_or(|d| at < d)
            {
                out.push(at);
            }
        }
        if let Some(d) = deleted
            && (from..=to).contains(&d)
        {
            out.push(d);
        }
        out
    }

    /// Customer `i` as of `t`.
    pub fn customer_at(&self, i: u64, t: Timestamp) -> Customer {
        let core = self.customer_core(i);
        let (origin, _) = self.customer_origin(i);
        let created_at = self.customer_created_at(i);
        let mut s = self.keys.customer.named("identity").derive(i).stream();
        let code = pick_mix(&self.countries, s.next_f64());
        let country = people::country(code).expect("validated country");
        let identity = people::identity(country, i, &mut s);
        let opt_in = s.chance(self.config.customers.marketing_opt_in);
        let pick_city = |s: &mut crate::rng::Stream| {
            country.cities[s.range_inclusive(0, country.cities.len() as i64 - 1) as usize]
        };
        let mut city = pick_city(&mut s);
        // a stream of its own: the phone moves no other column's draws
        let mut ps = self.keys.customer.named("phone").derive(i).stream();
        let phone = (!ps.chance(NO_PHONE)).then(|| country.phones.draw(&mut ps));
        let deleted_at = self.deleted_at(i).filter(|d| *d <= t);
        let mut updated_at = created_at;
        // the latest move at or before t (and before any deletion)
        let mut p = (t.0 - origin.start().0).div_euclid(90 * DAY);
        while p >= 1 {
            if let Some(at) = self.customer_move(i, origin, p)
                && at <= t
                && self.deleted_at(i).is_none_or(|d| at < d)
            {
                let mut ms = self
                    .keys
                    .moves
                    .named("city")
                    .derive(i)
                    .derive(p as u64)
                    .stream();
                city = pick_city(&mut ms);
                updated_at = at;
                break;
            }
            p -= 1;
        }
        if let Some(d) = deleted_at {
            updated_at = d;
        }
        Customer {
            id: core.id,
            created_at,
            updated_at,
            deleted_at,
            first_name: identity.first_name,
            last_name: identity.last_name,
            email: identity.email,
            phone,
            username: identity.username,
            country: country.code,
            city,
            persona: core.persona.name(),
            marketing_opt_in: opt_in,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::ecommerce::Ecommerce;
    use crate::ecommerce::config::Config;

    #[test]
    fn the_persona_table_holds_each_customers_own_persona() {
        let shop = Ecommerce::new(Config::default_config(), 11);
        let small = shop.personas(100);
        assert!(small.len() >= 100);
        // a longer table extends the first, and a shorter ask returns what is known
        let large = shop.personas(small.len() as u64 + 5000);
        assert!(large.len() >= small.len() + 5000);
        assert_eq!(&large[..small.len()], &small[..]);
        assert!(std::sync::Arc::ptr_eq(&shop.personas(50), &large));
        for (i, p) in large.iter().enumerate() {
            assert_eq!(*p, shop.customer_core(i as u64).persona, "customer {i}");
        }
        let kinds: std::collections::BTreeSet<_> = large.iter().map(|p| *p as u8).collect();
        assert_eq!(kinds.len(), 4, "every persona occurs");
    }
}
