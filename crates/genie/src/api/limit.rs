//! Rate limits: a token bucket per API key.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    /// Bucket size: the burst a key may send at once.
    pub burst: u32,
    /// Tokens added per second.
    pub per_second: f64,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Per-key token buckets.
#[derive(Debug)]
pub struct Limiter {
    pub(super) cfg: RateLimit,
    buckets: Mutex<HashMap<i64, Bucket>>,
}

/// What a request learned from the limiter, for the `RateLimit-*` headers.
pub(super) struct Quota {
    pub(super) remaining: u32,
    pub(super) reset: u64,
}

impl Limiter {
    pub fn new(cfg: RateLimit) -> Limiter {
        Limiter {
            cfg,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `key`, or says in how many whole seconds one will be there.
    pub(super) fn take(&self, key: i64) -> Result<Quota, u64> {
        let cap = self.cfg.burst.max(1) as f64;
        let rate = self.cfg.per_second.max(1e-6);
        let mut b = self.buckets.lock().expect("buckets");
        let now = Instant::now();
        let e = b.entry(key).or_insert(Bucket {
            tokens: cap,
            last: now,
        });
        e.tokens = (e.tokens + now.duration_since(e.last).as_secs_f64() * rate).min(cap);
        e.last = now;
        if e.tokens >= 1.0 {
            e.tokens -= 1.0;
            Ok(Quota {
                remaining: e.tokens.floor() as u32,
                reset: ((cap - e.tokens) / rate).ceil() as u64,
            })
        } else {
            // Retry-After must be an integer ≥ 1 that is actually enough
            Err(((1.0 - e.tokens) / rate).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_refuses_then_says_when() {
        let l = Limiter::new(RateLimit {
            burst: 2,
            per_second: 0.5,
        });
        assert!(l.take(1).is_ok());
        assert!(l.take(1).is_ok());
        let retry = l.take(1).err().unwrap();
        assert!((1..=2).contains(&retry), "{retry}");
        // buckets are per key
        assert!(l.take(2).is_ok());
    }
}
