//! What the web console (`/`, [`crate::page`]) reads: `/v1/console/status` (the clock, row
//! counts, the latest changes, orders per day) and `/v1/console/requests` (the calling key's
//! own request log), and the layer that keeps that log.
//!
//! The log is in memory: the last [`LOG_CAPACITY`] requests of each key, filed under the
//! SHA-256 of the key (as the store keeps it), never the key itself. Only requests that got
//! past the key check are filed — a request with no, an unknown or a revoked key belongs to
//! nobody — and the console's own polling is not, or it would drown the learner's requests.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{RawQuery, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use faux::Timestamp;
use serde::Serialize;

use super::auth::{KEY_PARAMS, Principal};
use super::params::{only_known, query_pairs};
use super::{AppState, blocking, json_response};
use crate::chaos::{Fault, Injected};
use crate::problem::Problem;
use crate::store::{ListQuery, Store, hash_key};

/// Requests kept per key.
pub const LOG_CAPACITY: usize = 500;
/// Logged paths (with their query) are cut to this many bytes.
const MAX_LOGGED_PATH: usize = 512;
/// How often the row counts are recounted: a count of a large table scans it (0.7 s for 90
/// days of events), so an open console must not recount on every poll.
const COUNTS_EVERY: Duration = Duration::from_secs(10);
/// How often the clock and the latest changes are read again (the clock ticks every 200 ms).
const STATUS_EVERY: Duration = Duration::from_millis(500);
/// Changes shown, and days in the orders-per-day chart.
const LATEST_CHANGES: usize = 12;
const CHART_DAYS: i32 = 14;

/// One request, as its key's log shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Wall-clock time the request arrived (RFC 3339, milliseconds).
    pub at: String,
    pub request_id: String,
    pub method: String,
    /// Path and query, with the value of any credential-like parameter replaced by `***`.
    pub path: String,
    pub status: u16,
    /// Time to the response head, in milliseconds.
    pub latency_ms: f64,
    /// `RateLimit-Remaining` of the response.
    pub rate_limit_remaining: Option<u32>,
    /// What `--chaos` did to this request, if anything.
    pub chaos: Option<ChaosNote>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChaosNote {
    /// The injected error's code (`internal`, `unavailable`, `rate_limited`).
    pub fault: Option<&'static str>,
    /// The injected delay, in milliseconds.
    pub delay_ms: Option<u64>,
    /// A cursor page whose next page repeats up to this many of its rows.
    pub overlap_rows: Option<usize>,
    /// A body cut short: `connection_reset` or `truncated`.
    pub cut: Option<&'static str>,
    /// What the data faults did: `late_rows`, `hard_deletes`, `cursor_expired`.
    pub data: Vec<&'static str>,
}

/// Per-key request logs, and the console's cached status.
#[derive(Debug)]
pub struct Console {
    /// Virtual seconds per real second, as configured.
    pub speed: f64,
    logs: Mutex<HashMap<String, VecDeque<Entry>>>,
    status: tokio::sync::Mutex<Cached>,
}

#[derive(Debug, Default)]
struct Cached {
    clock: Option<(Instant, Clock)>,
    /// The last row counts, and when they were made.
    counts: Option<(Instant, Counts)>,
    /// A recount is running (in the background: a poll never waits for one).
    counting: bool,
    /// Orders created per finished day: they no longer change.
    days: HashMap<faux::Date, i64>,
}

#[derive(Debug, Clone, Default)]
struct Counts {
    /// Live rows per resource, in store order.
    rows: Vec<i64>,
    /// Orders created per day, when the scenario has orders.
    orders_per_day: Option<Vec<(String, i64)>>,
}

#[derive(Debug, Clone, Default)]
struct Clock {
    as_of: Option<i64>,
    last_seq: i64,
    /// The latest changes of every resource: (seq, table, op, ts, key).
    latest: Vec<(i64, String, String, i64, String)>,
}

impl Console {
    pub fn new(speed: f64) -> Console {
        Console {
            speed,
            logs: Mutex::new(HashMap::new()),
            status: tokio::sync::Mutex::new(Cached::default()),
        }
    }

    fn record(&self, key_hash: String, e: Entry) {
        let mut logs = self.logs.lock().expect("request logs");
        let log = logs.entry(key_hash).or_default();
        if log.len() == LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(e);
    }

    /// The log of the key whose hash is `key_hash`, newest first.
    fn entries(&self, key_hash: &str) -> Vec<Entry> {
        let logs = self.logs.lock().expect("request logs");
        logs.get(key_hash)
            .map(|l| l.iter().rev().cloned().collect())
            .unwrap_or_default()
    }
}

/// The key a request carries, as the store hashes it (the same headers `auth` reads).
fn key_hash(h: &HeaderMap) -> Option<String> {
    let bearer = h
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, k)| k.trim())
        .filter(|k| !k.is_empty());
    let key = bearer.or_else(|| {
        h.get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|k| !k.is_empty())
    })?;
    Some(hash_key(key))
}

/// The path and query to log: credential-like parameters keep their name, not their value.
pub(super) fn loggable(uri: &axum::http::Uri) -> String {
    let mut out = uri.path().to_string();
    if let Some(q) = uri.query() {
        let parts: Vec<String> = q
            .split('&')
            .map(|kv| {
                let name = kv.split('=').next().unwrap_or("");
                let plain = name.replace('+', " ");
                if KEY_PARAMS.contains(&plain.to_ascii_lowercase().as_str()) {
                    format!("{name}=***")
                } else {
                    kv.to_string()
                }
            })
            .collect();
        out.push('?');
        out.push_str(&parts.join("&"));
    }
    if out.len() > MAX_LOGGED_PATH {
        let mut cut = MAX_LOGGED_PATH;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

pub(super) fn rfc3339_millis(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = Timestamp(d.as_secs() as i64).to_string();
    format!("{}.{:03}Z", secs.trim_end_matches('Z'), d.subsec_millis())
}

/// Files each `/v1` request under its key (outside `auth`, so the limiter's own 429s are
/// filed too).
pub(super) async fn log_requests(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path.starts_with("/v1/console/") {
        return next.run(req).await;
    }
    let hash = key_hash(req.headers());
    let request_id = req
        .extensions()
        .get::<super::layers::RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let method = req.method().to_string();
    let logged = loggable(req.uri());
    let pages_by_cursor = path.matches('/').count() == 2
        && path != "/v1/me"
        && path != "/v1/changes"
        && !req.uri().query().is_some_and(|q| {
            q.split('&')
                .any(|kv| kv.starts_with("page=") || kv.starts_with("offset="))
        });
    let (at, t0) = (SystemTime::now(), Instant::now());
    let resp = next.run(req).await;
    let latency_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok());
    // present on every answer that got past the key check (the limiter's 429 included), and
    // on no other: no, unknown or revoked keys are logged for nobody
    let Some(remaining) = header("ratelimit-remaining").and_then(|v| v.parse::<u32>().ok()) else {
        return resp;
    };
    let Some(hash) = hash else { return resp };
    let chaos = resp.extensions().get::<Fault>().and_then(|f| {
        let overlap = f
            .overlap
            // the list handler repeats rows only on a cursor page that has a next one
            .filter(|_| pages_by_cursor && resp.status() == 200 && header("link").is_some());
        let note = ChaosNote {
            fault: f.fail.as_ref().map(|(code, ..)| *code),
            delay_ms: f.delay.map(|d| d.as_millis() as u64),
            overlap_rows: overlap,
            cut: f
                .cut
                .filter(|_| resp.status() == 200 && f.fail.is_none())
                .map(|c| c.name()),
            data: resp
                .extensions()
                .get::<Injected>()
                .map(|i| i.notes.iter().map(|(k, _)| *k).collect())
                .unwrap_or_default(),
        };
        (note.fault.is_some()
            || note.delay_ms.is_some()
            || note.overlap_rows.is_some()
            || note.cut.is_some()
            || !note.data.is_empty())
        .then_some(note)
    });
    let entry = Entry {
        at: rfc3339_millis(at),
        request_id,
        method,
        path: logged,
        status: resp.status().as_u16(),
        latency_ms: (latency_ms * 10.0).round() / 10.0,
        rate_limit_remaining: Some(remaining),
        chaos,
    };
    st.console.record(hash, entry);
    resp
}

/// `/v1/console/requests`: the calling key's log, newest first.
pub(super) async fn requests(
    State(st): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    only_known(&query_pairs(&raw)?, "/v1/console/requests", &[])?;
    // auth has accepted the key in these headers
    let data = key_hash(&headers)
        .map(|h| st.console.entries(&h))
        .unwrap_or_default();
    Ok(json_response(
        serde_json::json!({
            "object": "list",
            "data": data,
            "capacity": LOG_CAPACITY,
        })
        .to_string(),
    ))
}

/// Whether the key may read `table` (`read:all` or `read:<table>`).
fn may_read(p: &Principal, table: &str) -> bool {
    p.0.scopes
        .iter()
        .any(|s| s == "read:all" || s.strip_prefix("read:") == Some(table))
}

/// `/v1/console/status`: the clock, and for the resources the key may read their row counts,
/// latest changes and (for `orders`) orders created per day.
pub(super) async fn status(
    State(st): State<AppState>,
    RawQuery(raw): RawQuery,
    axum::Extension(p): axum::Extension<Principal>,
) -> Result<Response, Problem> {
    only_known(&query_pairs(&raw)?, "/v1/console/status", &[])?;
    let (clock, counts) = {
        // one refresh at a time: other consoles wait for it and share it
        let mut c = st.console.status.lock().await;
        if c.clock
            .as_ref()
            .is_none_or(|(t, _)| t.elapsed() >= STATUS_EVERY)
        {
            let s = st.store.clone();
            let clock = blocking(move || latest_changes(&s).map_err(Problem::internal)).await?;
            c.clock = Some((Instant::now(), clock));
        }
        if !c.counting
            && c.counts
                .as_ref()
                .is_none_or(|(t, _)| t.elapsed() >= COUNTS_EVERY)
        {
            c.counting = true;
            tokio::spawn(recount(st.store.clone(), st.console.clone()));
        }
        let clock = c.clock.as_ref().map(|(_, k)| k.clone()).unwrap_or_default();
        let counts = c.counts.as_ref().map(|(t, n)| (t.elapsed(), n.clone()));
        (clock, counts)
    };
    let resources: Vec<serde_json::Value> = st
        .store
        .resources()
        .iter()
        .enumerate()
        .filter(|(_, r)| may_read(&p, r.name()))
        .map(|(i, r)| {
            let rows = counts.as_ref().and_then(|(_, n)| n.rows.get(i).copied());
            serde_json::json!({"name": r.name(), "rows": rows})
        })
        .collect();
    let latest: Vec<serde_json::Value> = clock
        .latest
        .iter()
        .filter(|(_, table, ..)| may_read(&p, table))
        .map(|(seq, table, op, ts, key)| {
            serde_json::json!({"seq": seq, "table": table, "op": op, "ts": Timestamp(*ts).to_string(), "id": key})
        })
        .collect();
    let days = counts
        .as_ref()
        .and_then(|(_, n)| n.orders_per_day.clone())
        .filter(|_| may_read(&p, "orders"));
    let body = serde_json::json!({
        "object": "console_status",
        "scenario": st.scenario.0,
        "clock": {
            "as_of": clock.as_of.map(|t| Timestamp(t).to_string()),
            "speed": st.console.speed,
            "last_seq": clock.last_seq,
        },
        "chaos": st.chaos.spec().name(),
        "rate_limit": {"burst": st.limiter.cfg.burst, "per_second": st.limiter.cfg.per_second},
        "key": {"name": p.0.name, "prefix": p.0.prefix, "scopes": p.0.scopes},
        "counts_age_s": counts.as_ref().map(|(age, _)| age.as_secs()),
        "resources": resources,
        "latest_changes": latest,
        "orders_per_day": days.map(|d| d.into_iter().map(|(day, n)| serde_json::json!({"day": day, "orders": n})).collect::<Vec<_>>()),
    });
    Ok(json_response(body.to_string()))
}

/// Counts every resource's rows and the orders of the last days, then files the result.
async fn recount(store: std::sync::Arc<Store>, console: std::sync::Arc<Console>) {
    let done = console.status.lock().await.days.clone();
    let got = tokio::task::spawn_blocking(move || count_all(&store, done)).await;
    let mut c = console.status.lock().await;
    c.counting = false;
    match got {
        Ok(Ok((counts, days))) => {
            c.days = days;
            c.counts = Some((Instant::now(), counts));
        }
        Ok(Err(e)) => tracing::error!(error = %e, "console: counting rows failed"),
        Err(e) => tracing::error!(error = %e, "console: counting rows panicked"),
    }
}

fn count_all(
    store: &Store,
    mut done: HashMap<faux::Date, i64>,
) -> Result<(Counts, HashMap<faux::Date, i64>), crate::StoreError> {
    let rows = (0..store.resources().len())
        .map(|t| {
            Ok(store
                .list(t, &count_query(Default::default()))?
                .total
                .unwrap_or(0))
        })
        .collect::<Result<Vec<_>, crate::StoreError>>()?;
    let orders = store.resource("orders").map(|(t, _)| t);
    let now = store.clock()?.map(|c| c.reached);
    let orders_per_day = match (orders, now) {
        (Some(t), Some(now)) => Some(orders_per_day(store, t, now, &mut done)?),
        _ => None,
    };
    Ok((
        Counts {
            rows,
            orders_per_day,
        },
        done,
    ))
}

/// A query that only counts the rows matching `filters`.
fn count_query(filters: crate::store::Filters) -> ListQuery {
    ListQuery {
        filters,
        after: None,
        limit: 0,
        skip: 0,
        total: true,
    }
}

/// The clock, and the last [`LATEST_CHANGES`] retained changes. The feed is read forwards
/// only, so this looks back from the last seq, further each time it finds too few.
fn latest_changes(store: &Store) -> Result<Clock, crate::StoreError> {
    let Some(state) = store.clock()? else {
        return Ok(Clock::default());
    };
    let mut back: i64 = 1_000;
    loop {
        let mut after = (state.last_seq - back).max(state.pruned_seq).max(0);
        let mut got: VecDeque<(i64, String, String, i64, String)> = VecDeque::new();
        loop {
            let rows = match store.changes(after, 1000, None)? {
                Ok((rows, _)) => rows,
                // pruned meanwhile: start from what is retained
                Err(pruned) => {
                    after = pruned;
                    continue;
                }
            };
            let full = rows.len() == 1000;
            for ch in rows {
                after = ch.seq;
                got.push_back((ch.seq, ch.table, ch.op, ch.ts, ch.key));
                if got.len() > LATEST_CHANGES {
                    got.pop_front();
                }
            }
            if !full {
                break;
            }
        }
        let reached_start = state.last_seq - back <= state.pruned_seq.max(0);
        if got.len() >= LATEST_CHANGES || reached_start {
            return Ok(Clock {
                as_of: Some(state.reached),
                last_seq: state.last_seq,
                latest: got.into_iter().rev().collect(),
            });
        }
        back = back.saturating_mul(10);
    }
}

/// Orders created on each of the last [`CHART_DAYS`] virtual days up to `now` (deleted ones
/// included: they were created); finished days are counted once.
fn orders_per_day(
    store: &Store,
    t: usize,
    now: i64,
    done: &mut HashMap<faux::Date, i64>,
) -> Result<Vec<(String, i64)>, crate::StoreError> {
    let today = Timestamp(now).date();
    (0..CHART_DAYS)
        .rev()
        .map(|back| {
            let d = today.add_days(-back);
            let n = match done.get(&d) {
                Some(n) if d != today => *n,
                _ => {
                    let f = crate::store::Filters {
                        created_min: Some(d.start().0),
                        created_max: Some(d.succ().start().0 - 1),
                        include_deleted: true,
                        ..Default::default()
                    };
                    let n = store.list(t, &count_query(f))?.total.unwrap_or(0);
                    if d != today {
                        done.insert(d, n);
                    }
                    n
                }
            };
            Ok((d.to_string(), n))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_the_query_are_not_logged() {
        let uri: axum::http::Uri = "/v1/orders?limit=5&api_key=fg_live_secret&Token=x&cursor=c"
            .parse()
            .unwrap();
        let got = loggable(&uri);
        assert_eq!(got, "/v1/orders?limit=5&api_key=***&Token=***&cursor=c");
        assert!(!got.contains("secret"));
    }

    #[test]
    fn a_log_keeps_the_newest_requests_of_its_key_only() {
        let c = Console::new(1.0);
        let e = |n: usize| Entry {
            at: String::new(),
            request_id: format!("r{n}"),
            method: "GET".into(),
            path: "/v1/me".into(),
            status: 200,
            latency_ms: 0.0,
            rate_limit_remaining: None,
            chaos: None,
        };
        for n in 0..LOG_CAPACITY + 3 {
            c.record("a".into(), e(n));
        }
        c.record("b".into(), e(9999));
        let a = c.entries("a");
        assert_eq!(a.len(), LOG_CAPACITY);
        assert_eq!(a[0].request_id, format!("r{}", LOG_CAPACITY + 2));
        assert_eq!(a.last().unwrap().request_id, "r3");
        assert!(a.iter().all(|x| x.request_id != "r9999"));
        assert_eq!(c.entries("b").len(), 1);
        assert!(c.entries("nobody").is_empty());
    }
}
