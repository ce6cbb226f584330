//! The day caches. They hold derived data only: results never depend on what is cached.
//! Bounded: all session plans only for the few days being generated (a day and the one before
//! it, per thread); for the cart-return window only the sessions whose cart comes back (a few
//! per cent of them); the orders of a day for the order lifecycle window (42 days).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::time::Date;

use super::lifecycle;

/// Days of all session plans kept.
pub(super) const PLAN_CACHE_DAYS: usize = 6;
/// Days of returning carts kept beyond the cart-return window (neighbouring threads' days).
pub(super) const RETURNER_CACHE_SLACK: usize = 8;
/// The lifecycle window and a few days for neighbouring threads.
pub(super) const ORDER_CACHE_DAYS: usize = lifecycle::MAX_LIFECYCLE_DAYS as usize + 6;

pub(crate) fn cache_get<T>(cache: &Mutex<BTreeMap<Date, Arc<T>>>, day: Date) -> Option<Arc<T>> {
    cache.lock().expect("cache").get(&day).cloned()
}

pub(crate) fn cache_put<T>(
    cache: &Mutex<BTreeMap<Date, Arc<T>>>,
    day: Date,
    value: Arc<T>,
    limit: usize,
) {
    let mut c = cache.lock().expect("cache");
    while c.len() >= limit {
        // evict the day furthest from the one being added
        let first = *c.keys().next().expect("non-empty");
        let last = *c.keys().next_back().expect("non-empty");
        let victim = if first.days_until(day).abs() >= last.days_until(day).abs() {
            first
        } else {
            last
        };
        c.remove(&victim);
    }
    c.insert(day, value);
}
