//! Daily volume: trend × yearly seasonality × weekday × events, plus paid marketing whose
//! sessions follow spend with diminishing returns (`scale · spend^elasticity`); the intraday
//! arrival profile; and the customer population, a closed-form function of the day.

use crate::rng::{Key, Stream};
use crate::time::{Date, Timestamp};

use super::config::Config;

/// Channels of unpaid traffic and their shares of it.
pub const ORGANIC_CHANNELS: [(&str, f64); 3] =
    [("direct", 0.40), ("organic", 0.45), ("referral", 0.15)];

#[derive(Debug, Clone)]
pub struct Traffic {
    key: Key,
    opened: Date,
    pub organic: f64,
    growth: f64,
    amplitude: f64,
    weekly: [f64; 7],
    black_friday: f64,
    cyber_monday: f64,
    christmas: f64,
    january: f64,
    /// The paid channels: the configured ones, then those `[[drift]]` launches.
    pub channels: Vec<PaidChannel>,
    /// Cumulative share per hour.
    hours: [f64; 24],
}

/// A paid channel's marketing.
#[derive(Debug, Clone)]
pub struct PaidChannel {
    pub name: &'static str,
    pub daily_budget: f64,
    pub scale: f64,
    pub elasticity: f64,
    pub cost_per_mille: f64,
    /// Launched by `[[drift]]` on this day (None: from the opening).
    pub launched: Option<Date>,
}

/// One day's expected traffic.
#[derive(Debug, Clone)]
pub struct DayTraffic {
    pub organic: f64,
    /// Per paid channel running that day: its index in [`Traffic::channels`], spend in cents
    /// and expected sessions.
    pub paid: Vec<(usize, i64, f64)>,
}

impl DayTraffic {
    pub fn expected_sessions(&self) -> f64 {
        self.organic + self.paid.iter().map(|(_, _, s)| s).sum::<f64>()
    }
}

/// The last Friday of November.
pub fn black_friday(year: i32) -> Date {
    let mut d = Date::from_ymd(year, 11, 30).expect("valid");
    while d.weekday() != 4 {
        d = d.add_days(-1);
    }
    d
}

impl Traffic {
    pub fn new(cfg: &Config, key: Key) -> Traffic {
        let t = &cfg.traffic;
        let total: f64 = t.intraday.iter().sum();
        let mut hours = [0.0; 24];
        let mut acc = 0.0;
        for (h, w) in t.intraday.iter().enumerate() {
            acc += w / total;
            hours[h] = acc;
        }
        Traffic {
            key,
            opened: cfg.opened_on(),
            organic: t.organic_sessions_per_day,
            growth: t.yearly_growth,
            amplitude: t.yearly_amplitude,
            weekly: t.weekly.clone().try_into().expect("validated: 7 values"),
            black_friday: t.black_friday_multiplier,
            cyber_monday: t.cyber_monday_multiplier,
            christmas: t.christmas_multiplier,
            january: t.january_sales_multiplier,
            channels: cfg
                .marketing
                .channels
                .iter()
                .map(|(name, c)| (None, name.as_str(), c))
                .chain(
                    cfg.launched_channels()
                        .into_iter()
                        .map(|(d, name, c)| (Some(d), name, c)),
                )
                .map(|(launched, name, c)| PaidChannel {
                    name: Box::leak(name.to_string().into_boxed_str()),
                    daily_budget: c.daily_budget,
                    scale: c.scale,
                    elasticity: c.elasticity,
                    cost_per_mille: c.cost_per_mille,
                    launched,
                })
                .collect(),
            hours,
        }
    }

    /// Calendar events' multiplier on traffic for `d`.
    pub fn event_multiplier(&self, d: Date) -> f64 {
        let (y, m, day) = d.ymd();
        let bf = black_friday(y);
        if d == bf {
            self.black_friday
        } else if d == bf.add_days(3) {
            self.cyber_monday
        } else if m == 12 && day <= 22 {
            self.christmas
        } else if m == 1 && (2..=15).contains(&day) {
            self.january
        } else {
            1.0
        }
    }

    fn trend(&self, d: Date) -> f64 {
        (1.0 + self.growth).powf(self.opened.days_until(d) as f64 / 365.25)
    }

    fn seasonal(&self, d: Date) -> f64 {
        let doy = d.day_of_year() as f64;
        1.0 + self.amplitude * (2.0 * std::f64::consts::PI * (doy - 15.0) / 365.25).cos()
    }

    pub fn day(&self, d: Date) -> DayTraffic {
        let weekly = self.weekly[d.weekday() as usize];
        let event = self.event_multiplier(d);
        let trend = self.trend(d);
        let organic = self.organic * trend * self.seasonal(d) * weekly * event;
        let mut s = self
            .key
            .named("spend")
            .derive(d.days_since_epoch() as u64)
            .stream();
        let paid = self
            .channels
            .iter()
            .enumerate()
            .filter(|(_, c)| c.launched.is_none_or(|l| d >= l))
            .map(|(i, c)| {
                // marketers raise budgets with the trend and, less than traffic, for events
                let u = match c.launched {
                    None => s.next_f64(),
                    // a launched channel draws from its own stream: the configured
                    // channels' draws, and so the days before the launch, stay as they were
                    Some(_) => self
                        .key
                        .named("spend")
                        .named(c.name)
                        .derive(d.days_since_epoch() as u64)
                        .stream()
                        .next_f64(),
                };
                let noise = 0.85 + 0.3 * u;
                let spend = c.daily_budget * trend * event.sqrt() * noise;
                let cents = (spend * 100.0).round() as i64;
                let sessions =
                    c.scale * (cents as f64 / 100.0).powf(c.elasticity) * weekly * event.sqrt();
                (i, cents, sessions)
            })
            .collect();
        DayTraffic { organic, paid }
    }

    /// A uniformly random second of day `d`, following the intraday profile.
    pub fn arrival(&self, d: Date, s: &mut Stream) -> Timestamp {
        let u = s.next_f64();
        let hour = self.hours.iter().position(|c| u <= *c).unwrap_or(23) as i64;
        Timestamp(d.start().0 + hour * 3600 + s.range_inclusive(0, 3599))
    }

    pub fn opened(&self) -> Date {
        self.opened
    }
}

/// A Poisson draw (exact for small means, normal approximation above 30).
pub fn poisson(mean: f64, s: &mut Stream) -> u64 {
    if mean <= 0.0 {
        return 0;
    }
    if mean < 30.0 {
        let limit = (-mean).exp();
        let mut k = 0;
        let mut p = s.next_f64();
        while p > limit {
            k += 1;
            p *= s.next_f64();
        }
        return k;
    }
    let z = normal(s);
    (mean + mean.sqrt() * z).round().max(0.0) as u64
}

/// A standard normal draw (Box–Muller).
pub fn normal(s: &mut Stream) -> f64 {
    let u1 = 1.0 - s.next_f64(); // (0, 1]
    let u2 = s.next_f64();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Customers who exist by the end of each day: `floor(share × Σ expected sessions)` from the
/// opening day, so day d's sign-ups are a pure function of d.
#[derive(Debug, Clone, Default)]
pub struct Population {
    /// cumulative[i] = customers by the end of opened + i.
    cumulative: Vec<u64>,
    sum: f64,
}

impl Population {
    /// Makes sure days up to `d` are known.
    pub fn extend_to(&mut self, traffic: &Traffic, share: f64, d: Date) {
        let want = traffic.opened().days_until(d) + 1;
        while (self.cumulative.len() as i32) < want {
            let day = traffic.opened().add_days(self.cumulative.len() as i32);
            self.sum += traffic.day(day).expected_sessions() * share;
            self.cumulative.push(self.sum.floor() as u64);
        }
    }

    /// Customers who exist by the end of `d` (0 before the opening).
    pub fn by_end_of(&self, traffic: &Traffic, d: Date) -> u64 {
        let i = traffic.opened().days_until(d);
        if i < 0 {
            0
        } else {
            self.cumulative[i as usize]
        }
    }

    /// The day customer `index` signed up, and its position among that day's sign-ups.
    pub fn origin(&self, traffic: &Traffic, index: u64) -> (Date, u64) {
        let i = self.cumulative.partition_point(|&c| c <= index);
        let before = if i == 0 { 0 } else { self.cumulative[i - 1] };
        (traffic.opened().add_days(i as i32), index - before)
    }
}
