//! The one worker pool: items `0..n` handed out one at a time, in order, to a few scoped
//! threads, until all are taken or one fails. Work is a day or a (day, table) partition, so a
//! shared counter balances it well; results come back in item order whatever the thread
//! count, which keeps every output deterministic.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Hands out item numbers `0..n` once each, in order, until a worker reports a failure.
#[derive(Debug)]
pub struct Claims {
    next: AtomicUsize,
    n: usize,
    failed: AtomicBool,
}

impl Claims {
    pub fn new(n: usize) -> Claims {
        Claims {
            next: AtomicUsize::new(0),
            n,
            failed: AtomicBool::new(false),
        }
    }

    /// The next unclaimed item, or `None` when all are taken or a worker failed.
    pub fn next(&self) -> Option<usize> {
        if self.failed.load(Ordering::Relaxed) {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        (i < self.n).then_some(i)
    }

    /// Stops handing out items: the run failed.
    pub fn fail(&self) {
        self.failed.store(true, Ordering::Relaxed);
    }

    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }
}

/// The threads to use for `n` items when `threads` were asked for: at least one, at most one
/// per item.
pub fn workers(threads: usize, n: usize) -> usize {
    threads.clamp(1, n.max(1))
}

/// All cores, for a default `--threads`.
pub fn all_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `work(i)` for every item `0..n` on up to `threads` threads (on the calling thread
/// alone when one suffices). Returns every result in item order, or the first error together
/// with the results of the items that finished (in item order): after an error no new item
/// starts.
pub fn run<T: Send, E: Send>(
    n: usize,
    threads: usize,
    work: impl Fn(usize) -> Result<T, E> + Sync,
) -> Result<Vec<T>, (E, Vec<T>)> {
    let claims = Claims::new(n);
    let done: Mutex<Vec<(usize, T)>> = Mutex::new(Vec::with_capacity(n));
    let first_error: Mutex<Option<E>> = Mutex::new(None);
    let worker = || {
        while let Some(i) = claims.next() {
            match work(i) {
                Ok(v) => done.lock().expect("pool results").push((i, v)),
                Err(e) => {
                    claims.fail();
                    first_error.lock().expect("pool error").get_or_insert(e);
                    return;
                }
            }
        }
    };
    let workers = workers(threads, n);
    if workers == 1 {
        worker(); // no thread to start and join for a single worker
    } else {
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(worker);
            }
        });
    }
    let mut done = done.into_inner().expect("pool results");
    done.sort_unstable_by_key(|(i, _)| *i);
    let done: Vec<T> = done.into_iter().map(|(_, v)| v).collect();
    match first_error.into_inner().expect("pool error") {
        Some(e) => Err((e, done)),
        None => Ok(done),
    }
}

/// [`run`] for work that cannot fail.
pub fn map<T: Send>(n: usize, threads: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    match run(n, threads, |i| Ok::<T, std::convert::Infallible>(work(i))) {
        Ok(v) => v,
        Err((never, _)) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_item_order_on_any_thread_count() {
        for threads in [1, 2, 3, 8] {
            let got = map(50, threads, |i| i * i);
            assert_eq!(got, (0..50).map(|i| i * i).collect::<Vec<_>>());
        }
        assert!(map(0, 4, |i| i).is_empty());
    }

    #[test]
    fn an_error_stops_new_items_and_keeps_the_finished_ones() {
        let started = AtomicUsize::new(0);
        let r = run(1000, 1, |i| {
            started.fetch_add(1, Ordering::Relaxed);
            if i == 10 {
                Err(format!("item {i}"))
            } else {
                Ok(i)
            }
        });
        let (e, done) = r.unwrap_err();
        assert_eq!(e, "item 10");
        assert_eq!(done, (0..10).collect::<Vec<_>>());
        assert_eq!(
            started.load(Ordering::Relaxed),
            11,
            "nothing after the failure"
        );
        let r = run(100, 3, |i| if i % 7 == 6 { Err(i) } else { Ok(i) });
        let (e, done) = r.unwrap_err();
        assert_eq!(e % 7, 6);
        assert!(done.windows(2).all(|w| w[0] < w[1]));
    }
}
