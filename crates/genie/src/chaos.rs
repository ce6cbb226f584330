//! Chaos (`--chaos mild|realistic|hostile`, off by default): seeded faults on the `/v1` data
//! endpoints, so a pipeline meets what production APIs do — server errors, outages with
//! `Retry-After`, throttling, slow answers, pages that overlap — and can be checked on getting
//! every row anyway.
//!
//! Faults are decided after authentication and before the handler runs: a failed request
//! reads and changes nothing, so a client that retries gets exactly the rows it would have got.
//! An overlapping page is a whole, correct page whose `next_cursor` points a few rows back, so
//! the next page repeats them: a client that upserts on the primary key loses nothing.
//! The n-th request the server sees draws from stream n of the seed (`--seed`), so a run's
//! fault sequence is reproducible for a given request order.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use faux::rng::Key;

use crate::problem::Problem;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChaosLevel {
    Off,
    Mild,
    Realistic,
    Hostile,
}

/// Per-request fault probabilities of a level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    /// 500 `internal`.
    pub server_error: f64,
    /// 503 `unavailable` with `Retry-After`.
    pub unavailable: f64,
    /// 429 `rate_limited` with `Retry-After`, as if another client shared the key's quota.
    pub throttled: f64,
    /// A delay before answering, uniform up to `max_delay`.
    pub slow: f64,
    pub max_delay: Duration,
    /// A cursor page whose next page repeats its last 1–3 rows.
    pub overlap: f64,
}

impl ChaosLevel {
    pub const NAMES: &'static str = "off, mild, realistic, hostile";

    pub fn name(self) -> &'static str {
        match self {
            ChaosLevel::Off => "off",
            ChaosLevel::Mild => "mild",
            ChaosLevel::Realistic => "realistic",
            ChaosLevel::Hostile => "hostile",
        }
    }

    pub fn rates(self) -> Rates {
        let (server_error, unavailable, throttled, slow, ms, overlap) = match self {
            ChaosLevel::Off => (0.0, 0.0, 0.0, 0.0, 0, 0.0),
            ChaosLevel::Mild => (0.01, 0.01, 0.01, 0.05, 500, 0.01),
            ChaosLevel::Realistic => (0.02, 0.03, 0.03, 0.10, 2_000, 0.03),
            ChaosLevel::Hostile => (0.08, 0.07, 0.10, 0.20, 5_000, 0.10),
        };
        Rates {
            server_error,
            unavailable,
            throttled,
            slow,
            max_delay: Duration::from_millis(ms),
            overlap,
        }
    }
}

impl std::str::FromStr for ChaosLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<ChaosLevel, String> {
        match s {
            "off" => Ok(ChaosLevel::Off),
            "mild" => Ok(ChaosLevel::Mild),
            "realistic" => Ok(ChaosLevel::Realistic),
            "hostile" => Ok(ChaosLevel::Hostile),
            _ => Err(format!(
                "unknown chaos level {s:?}: valid levels are {}",
                ChaosLevel::NAMES
            )),
        }
    }
}

/// What chaos does to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub delay: Option<Duration>,
    /// Answer with this problem instead of running the handler.
    pub fail: Option<(&'static str, String, Option<u64>)>,
    /// A cursor page's next page repeats this many of its last rows.
    pub overlap: Option<usize>,
}

/// The overlap of a page, handed from the chaos layer to the list handler.
#[derive(Debug, Clone, Copy)]
pub struct Overlap(pub usize);

#[derive(Debug)]
pub struct Chaos {
    level: ChaosLevel,
    key: Key,
    requests: AtomicU64,
}

impl Chaos {
    pub fn new(level: ChaosLevel, seed: u64) -> Chaos {
        Chaos {
            level,
            key: Key::root(seed).named("genie-chaos"),
            requests: AtomicU64::new(0),
        }
    }

    pub fn level(&self) -> ChaosLevel {
        self.level
    }

    /// The fault of the next request.
    pub fn next_fault(&self) -> Fault {
        if self.level == ChaosLevel::Off {
            return Fault {
                delay: None,
                fail: None,
                overlap: None,
            };
        }
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        self.fault(n)
    }

    /// The fault of request `n` (0-based).
    pub fn fault(&self, n: u64) -> Fault {
        let r = self.level.rates();
        let mut s = self.key.derive(n).stream();
        let (u, slow, delay, overlap) = (s.next_f64(), s.next_f64(), s.next_f64(), s.next_f64());
        let delay = (slow < r.slow)
            .then(|| Duration::from_millis((delay * r.max_delay.as_millis() as f64) as u64));
        let overlap = (overlap < r.overlap).then(|| 1 + s.range_inclusive(0, 2) as usize);
        let detail = |what: &str| {
            format!(
                "{what} (injected by --chaos {}: retry, honouring Retry-After)",
                self.level.name()
            )
        };
        let fail = if u < r.server_error {
            Some(("internal", detail("the server failed to answer"), None))
        } else if u < r.server_error + r.unavailable {
            let after = 1 + s.range_inclusive(0, 2) as u64;
            Some((
                "unavailable",
                detail("the service is briefly unavailable"),
                Some(after),
            ))
        } else if u < r.server_error + r.unavailable + r.throttled {
            Some(("rate_limited", detail("too many requests"), Some(1)))
        } else {
            None
        };
        Fault {
            delay,
            fail,
            overlap,
        }
    }
}

impl Fault {
    pub fn problem(&self) -> Option<Problem> {
        let (code, detail, after) = self.fail.clone()?;
        let p = Problem::new(code, detail);
        Some(match after {
            Some(s) => p.with_header("retry-after", s.to_string()),
            None => p,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_and_unknown_ones_name_the_valid_ones() {
        for l in [
            ChaosLevel::Off,
            ChaosLevel::Mild,
            ChaosLevel::Realistic,
            ChaosLevel::Hostile,
        ] {
            assert_eq!(l.name().parse::<ChaosLevel>(), Ok(l));
        }
        let e = "wild".parse::<ChaosLevel>().unwrap_err();
        assert!(e.contains("wild") && e.contains(ChaosLevel::NAMES), "{e}");
    }

    #[test]
    fn faults_follow_the_seed_and_the_levels_rates() {
        let n = 20_000u64;
        for level in [ChaosLevel::Mild, ChaosLevel::Realistic, ChaosLevel::Hostile] {
            let a = Chaos::new(level, 1);
            let b = Chaos::new(level, 1);
            let c = Chaos::new(level, 2);
            let fa: Vec<Fault> = (0..n).map(|i| a.fault(i)).collect();
            assert!((0..n).all(|i| b.fault(i) == fa[i as usize]));
            assert!((0..n).any(|i| c.fault(i) != fa[i as usize]));
            let r = level.rates();
            let share = |code: &str| {
                fa.iter()
                    .filter(|f| f.fail.as_ref().is_some_and(|(c, ..)| *c == code))
                    .count() as f64
                    / n as f64
            };
            // binomial: 5 standard deviations
            let near =
                |got: f64, p: f64| (got - p).abs() <= 5.0 * (p * (1.0 - p) / n as f64).sqrt();
            assert!(near(share("internal"), r.server_error), "{level:?}");
            assert!(near(share("unavailable"), r.unavailable), "{level:?}");
            assert!(near(share("rate_limited"), r.throttled), "{level:?}");
            let slow = fa.iter().filter(|f| f.delay.is_some()).count() as f64 / n as f64;
            assert!(near(slow, r.slow), "{level:?}");
            assert!(fa.iter().filter_map(|f| f.delay).all(|d| d <= r.max_delay));
            let overlaps: Vec<usize> = fa.iter().filter_map(|f| f.overlap).collect();
            assert!(
                near(overlaps.len() as f64 / n as f64, r.overlap),
                "{level:?}"
            );
            assert!(overlaps.iter().all(|k| (1..=3).contains(k)));
        }
        let off = Chaos::new(ChaosLevel::Off, 1);
        assert!((0..1000).all(|_| off.next_fault().fail.is_none()));
    }
}
