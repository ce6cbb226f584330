//! Chaos (`--chaos`, off by default): seeded faults on the `/v1` data endpoints, so a pipeline
//! meets what production APIs do and can be checked on getting every row anyway.
//!
//! `--chaos` takes a profile (`mild`, `realistic`, `hostile`), single faults
//! (`late-arrivals,expired-cursors`) or both (`mild,hard-deletes`); a fault named alone runs
//! at its `hostile` strength. The faults ([`FaultKind`]):
//! - transport: 500 `internal`, 503 `unavailable` and 429 `rate_limited` (both with
//!   `Retry-After`), slow answers, connection resets mid-body and truncated bodies. They are
//!   decided after authentication; the errors before the handler runs, so a failed request
//!   reads and changes nothing and a client that retries gets exactly the rows it would have;
//! - paging: overlapping pages (`next_cursor` points a few rows back: upsert on the key) and
//!   expired cursors (a cursor older than its TTL, counted from the first page of its pass,
//!   answers 410 `cursor_expired` with the `updated_at_min` to resume from);
//! - data: late-arriving rows (a version shows in the lists only some minutes after its
//!   `updated_at`, like a lagging read replica: a client asking `updated_at_min = newest
//!   updated_at loaded` misses it; a lookback of [`Rates::max_lag_secs`] or the change feed,
//!   which is never late, gets it) and hard deletes (deleted rows leave the lists and the
//!   single-row reads; only the change feed's `op: delete` tells).
//!
//! Per-request faults: the n-th request the server sees draws from stream n of the seed
//! (`--seed`), so a run's fault sequence is reproducible for a given request order. Which row
//! versions arrive late, and how late, is a function of the seed and the version (table,
//! key, `updated_at`) alone. Every fault injected is written to the answer log
//! ([`crate::api`]: `GET /v1/chaos/log`, and `chaos-log.jsonl` in the data folder).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use faux::rng::Key;

use crate::problem::Problem;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChaosLevel {
    Off,
    Mild,
    Realistic,
    Hostile,
}

/// One kind of fault, selectable alone (`--chaos late-arrivals`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    ServerErrors,
    Outages,
    Throttling,
    SlowAnswers,
    OverlappingPages,
    LateArrivals,
    ExpiredCursors,
    ConnectionResets,
    TruncatedResponses,
    HardDeletes,
    SchemaDrift,
}

impl FaultKind {
    pub const ALL: [FaultKind; 11] = [
        FaultKind::ServerErrors,
        FaultKind::Outages,
        FaultKind::Throttling,
        FaultKind::SlowAnswers,
        FaultKind::OverlappingPages,
        FaultKind::LateArrivals,
        FaultKind::ExpiredCursors,
        FaultKind::ConnectionResets,
        FaultKind::TruncatedResponses,
        FaultKind::HardDeletes,
        FaultKind::SchemaDrift,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::ServerErrors => "server-errors",
            FaultKind::Outages => "outages",
            FaultKind::Throttling => "throttling",
            FaultKind::SlowAnswers => "slow-answers",
            FaultKind::OverlappingPages => "overlapping-pages",
            FaultKind::LateArrivals => "late-arrivals",
            FaultKind::ExpiredCursors => "expired-cursors",
            FaultKind::ConnectionResets => "connection-resets",
            FaultKind::TruncatedResponses => "truncated-responses",
            FaultKind::HardDeletes => "hard-deletes",
            FaultKind::SchemaDrift => "schema-drift",
        }
    }

    /// What a client sees, and the recipe that copes (the OpenAPI document's `x-chaos`).
    pub fn doc(self) -> FaultDoc {
        let d =
            |statuses: &'static [u16], headers: &'static [&'static str], effect, recipe| FaultDoc {
                statuses,
                headers,
                effect,
                recipe,
            };
        match self {
            FaultKind::ServerErrors => d(
                &[500],
                &[],
                "500 internal before the request runs (it read nothing)",
                "retry with backoff",
            ),
            FaultKind::Outages => d(
                &[503],
                &["Retry-After"],
                "503 unavailable with Retry-After (1-3 s)",
                "retry after Retry-After seconds",
            ),
            FaultKind::Throttling => d(
                &[429],
                &["Retry-After", "RateLimit", "RateLimit-Remaining"],
                "429 rate_limited as if another client shared the key's quota",
                "retry after Retry-After seconds",
            ),
            FaultKind::SlowAnswers => d(
                &[200],
                &[],
                "the answer comes up to 0.5/2/5 s late",
                "a read timeout above the delay, or retry on timeout",
            ),
            FaultKind::OverlappingPages => d(
                &[200],
                &["Link"],
                "next_cursor points 1-3 rows back: the next page repeats them",
                "upsert on the primary key",
            ),
            FaultKind::LateArrivals => d(
                &[200],
                &[],
                "a row version shows in the lists only 1 s to 5/15 min (virtual: realistic/hostile) after its updated_at, like a lagging replica: updated_at_min = the newest updated_at loaded misses it",
                "a lookback: updated_at_min = high-water mark minus the profile's maximum lag (15 min covers every profile), upserting on the key; or follow /v1/changes, which is never late",
            ),
            FaultKind::ExpiredCursors => d(
                &[410],
                &[],
                "a cursor whose pass began more than the TTL ago (realistic 30 min, hostile 5 min, --cursor-ttl) answers 410 cursor_expired, with resume: the list request that continues from the updated_at reached",
                "on 410 cursor_expired, start a new pass with updated_at_min = the updated_at of the last row loaded (resume has the URL) and upsert",
            ),
            FaultKind::ConnectionResets => d(
                &[200],
                &[],
                "a 200 whose chunked body stops part way: the connection is reset",
                "treat a failed body read as a failed request: retry",
            ),
            FaultKind::TruncatedResponses => d(
                &[200],
                &["Content-Length"],
                "a 200 whose body stops short of its Content-Length, then the connection closes",
                "treat a short body as a failed request: retry",
            ),
            FaultKind::HardDeletes => d(
                &[404],
                &[],
                "deleted rows leave the lists (include_deleted has no effect) and their single-row reads answer 404; only /v1/changes tells, with op: delete",
                "follow /v1/changes and apply op: delete (its data carries deleted_at), or reload in full",
            ),
            FaultKind::SchemaDrift => d(
                &[200, 400],
                &["API-Version"],
                "from a date (realistic: a virtual day after the store first served, kept across restarts; hostile: at once) a client that sends no API-Version gets version 2025-01-01: created_at renamed created, object added; every answer names its version in API-Version; an unknown API-Version is a 400",
                "pin the version: send API-Version: 2024-01-01 on every request",
            ),
        }
    }

    /// Copies this fault's settings from `from` into `to` (each field the stronger).
    fn raise(self, to: &mut Rates, from: &Rates) {
        let max = |a: &mut f64, b: f64| *a = a.max(b);
        match self {
            FaultKind::ServerErrors => max(&mut to.server_error, from.server_error),
            FaultKind::Outages => max(&mut to.unavailable, from.unavailable),
            FaultKind::Throttling => max(&mut to.throttled, from.throttled),
            FaultKind::SlowAnswers => {
                max(&mut to.slow, from.slow);
                to.max_delay = to.max_delay.max(from.max_delay);
            }
            FaultKind::OverlappingPages => max(&mut to.overlap, from.overlap),
            FaultKind::LateArrivals => {
                max(&mut to.late, from.late);
                to.max_lag_secs = to.max_lag_secs.max(from.max_lag_secs);
            }
            FaultKind::ExpiredCursors => {
                to.cursor_ttl = match (to.cursor_ttl, from.cursor_ttl) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
            FaultKind::ConnectionResets => max(&mut to.reset, from.reset),
            FaultKind::TruncatedResponses => max(&mut to.truncate, from.truncate),
            FaultKind::HardDeletes => to.hard_deletes |= from.hard_deletes,
            FaultKind::SchemaDrift => {
                to.drift_after = match (to.drift_after, from.drift_after) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
        }
    }
}

/// A fault as the OpenAPI document describes it.
#[derive(Debug, Clone, Copy)]
pub struct FaultDoc {
    /// The statuses a client sees because of it.
    pub statuses: &'static [u16],
    /// The headers that matter in those answers.
    pub headers: &'static [&'static str],
    pub effect: &'static str,
    pub recipe: &'static str,
}

/// What a chaos setting does: per-request fault probabilities and the data faults.
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
    /// The share of row versions that arrive late, each by 1 s to `max_lag_secs` (virtual).
    pub late: f64,
    pub max_lag_secs: i64,
    /// Cursors older than this (wall time since the first page of their pass) answer 410.
    pub cursor_ttl: Option<Duration>,
    /// A 200 whose connection is reset part way through the body (chunked, no end).
    pub reset: f64,
    /// A 200 whose body stops short of its `Content-Length`, and the connection closes.
    pub truncate: f64,
    /// Deleted rows vanish from lists and single-row reads (the change feed still says so).
    pub hard_deletes: bool,
    /// Virtual seconds after the store first served from which a client that pins no `API-Version`
    /// gets the newest shape of the rows ([`API_VERSIONS`]).
    pub drift_after: Option<i64>,
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
        let (late, max_lag_secs, ttl, reset, truncate, hard_deletes, drift_after) = match self {
            ChaosLevel::Off => (0.0, 0, None, 0.0, 0.0, false, None),
            // mild stays what clients that merely retry survive: no data faults, no cut bodies
            ChaosLevel::Mild => (0.0, 0, None, 0.0, 0.0, false, None),
            ChaosLevel::Realistic => (0.03, 300, Some(1800), 0.01, 0.01, true, Some(86_400)),
            ChaosLevel::Hostile => (0.10, 900, Some(300), 0.03, 0.03, true, Some(0)),
        };
        Rates {
            server_error,
            unavailable,
            throttled,
            slow,
            max_delay: Duration::from_millis(ms),
            overlap,
            late,
            max_lag_secs,
            cursor_ttl: ttl.map(Duration::from_secs),
            reset,
            truncate,
            hard_deletes,
            drift_after,
        }
    }
}

/// The API's versions, oldest first (`API-Version`, Stripe-style). The newest renames
/// `created_at` to `created` and adds `object` (the resource's name) to every row.
pub const API_VERSIONS: [&str; 2] = ["2024-01-01", "2025-01-01"];

/// A row (JSON text, as the store renders it) in the newest version's shape.
pub fn drifted_row(json: &str, resource: &str) -> String {
    let Ok(serde_json::Value::Object(mut m)) = serde_json::from_str(json) else {
        return json.to_string();
    };
    if let Some(v) = m.remove("created_at") {
        m.insert("created".into(), v);
    }
    m.insert("object".into(), resource.into());
    serde_json::Value::Object(m).to_string()
}

/// A `--chaos` setting: a profile plus faults named alone (at their `hostile` strength).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChaosSpec {
    pub profile: ChaosLevel,
    pub faults: Vec<FaultKind>,
}

impl Default for ChaosSpec {
    fn default() -> ChaosSpec {
        ChaosLevel::Off.into()
    }
}

impl From<ChaosLevel> for ChaosSpec {
    fn from(profile: ChaosLevel) -> ChaosSpec {
        ChaosSpec {
            profile,
            faults: Vec::new(),
        }
    }
}

impl ChaosSpec {
    /// Every name `--chaos` takes, for messages.
    pub fn valid_names() -> String {
        let faults: Vec<&str> = FaultKind::ALL.iter().map(|f| f.name()).collect();
        format!(
            "a profile ({}) and/or faults ({}), comma-separated",
            ChaosLevel::NAMES,
            faults.join(", ")
        )
    }

    pub fn is_off(&self) -> bool {
        self.profile == ChaosLevel::Off && self.faults.is_empty()
    }

    /// The setting as `--chaos` takes it (`realistic,expired-cursors`, or `off`).
    pub fn name(&self) -> String {
        let mut parts: Vec<&str> = Vec::new();
        if self.profile != ChaosLevel::Off || self.faults.is_empty() {
            parts.push(self.profile.name());
        }
        parts.extend(self.faults.iter().map(|f| f.name()));
        parts.join(",")
    }

    pub fn rates(&self) -> Rates {
        let mut r = self.profile.rates();
        let hostile = ChaosLevel::Hostile.rates();
        for f in &self.faults {
            f.raise(&mut r, &hostile);
        }
        r
    }
}

impl std::str::FromStr for ChaosSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<ChaosSpec, String> {
        let mut spec = ChaosSpec::default();
        for part in s.split(',').map(str::trim) {
            if let Ok(level) = part.parse::<ChaosLevel>() {
                spec.profile = spec.profile.max(level);
            } else if let Some(f) = FaultKind::ALL.iter().find(|f| f.name() == part) {
                spec.faults.push(*f);
            } else {
                return Err(format!(
                    "unknown chaos {part:?}: --chaos takes {}",
                    ChaosSpec::valid_names()
                ));
            }
        }
        spec.faults.sort();
        spec.faults.dedup();
        Ok(spec)
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

/// How an answer's body is cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Chunked, and the connection is reset after `keep` of the body's bytes (per mille).
    Reset { per_mille: u16 },
    /// `Content-Length` of the whole body, fewer bytes sent, then the connection closes.
    Truncate { per_mille: u16 },
}

impl Cut {
    pub fn name(self) -> &'static str {
        match self {
            Cut::Reset { .. } => "connection_reset",
            Cut::Truncate { .. } => "truncated",
        }
    }
    pub fn per_mille(self) -> u16 {
        match self {
            Cut::Reset { per_mille } | Cut::Truncate { per_mille } => per_mille,
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
    /// A successful answer's body is cut short.
    pub cut: Option<Cut>,
}

/// The `API-Version` a request pinned (an index into [`API_VERSIONS`]), handed from the chaos
/// layer to the handlers under schema drift.
#[derive(Debug, Clone, Copy)]
pub struct ApiPin(pub Option<usize>);

/// The overlap of a page, handed from the chaos layer to the list handler.
#[derive(Debug, Clone, Copy)]
pub struct Overlap(pub usize);

/// What a handler did under chaos that the request's fault did not decide up front (rows
/// held back as late or hard-deleted, an expired cursor), for the answer log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Injected {
    /// (kind, detail) per fault.
    pub notes: Vec<(&'static str, String)>,
}

#[derive(Debug)]
pub struct Chaos {
    spec: ChaosSpec,
    rates: Rates,
    key: Key,
    late_key: Key,
    requests: AtomicU64,
    /// Virtual time from which the newest API version is the default (schema drift).
    drift_from: Option<i64>,
}

impl Chaos {
    pub fn new(spec: impl Into<ChaosSpec>, seed: u64) -> Chaos {
        let spec = spec.into();
        Chaos {
            rates: spec.rates(),
            spec,
            key: Key::root(seed).named("genie-chaos"),
            late_key: Key::root(seed).named("genie-chaos-late"),
            requests: AtomicU64::new(0),
            drift_from: None,
        }
    }

    /// Schema drift dates from `start` (epoch seconds, virtual), when the store first served
    /// (kept across restarts).
    pub fn with_start(mut self, start: i64) -> Chaos {
        self.drift_from = self.rates.drift_after.map(|d| start.saturating_add(d));
        self
    }

    /// The API version of an answer read at `as_of` for a client that pinned `pinned` (an
    /// index into [`API_VERSIONS`]): the pinned one, or under schema drift the newest from the
    /// drift date on; `None` (the original shape, unnamed) without either.
    pub fn version(&self, pinned: Option<usize>, as_of: i64) -> Option<usize> {
        let Some(from) = self.drift_from else {
            return pinned;
        };
        Some(pinned.unwrap_or(if as_of >= from {
            API_VERSIONS.len() - 1
        } else {
            0
        }))
    }

    /// Expired cursors with this TTL, whatever the setting says (`--cursor-ttl`).
    pub fn with_cursor_ttl(mut self, ttl: Option<Duration>) -> Chaos {
        if ttl.is_some() {
            self.rates.cursor_ttl = ttl;
        }
        self
    }

    pub fn spec(&self) -> &ChaosSpec {
        &self.spec
    }

    pub fn rates(&self) -> &Rates {
        &self.rates
    }

    pub fn is_off(&self) -> bool {
        self.spec.is_off()
    }

    /// The fault of the next request.
    pub fn next_fault(&self) -> Fault {
        if self.is_off() {
            return Fault {
                delay: None,
                fail: None,
                overlap: None,
                cut: None,
            };
        }
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        self.fault(n)
    }

    /// How many virtual seconds after its `updated_at` (its `_sort`) a row version of `table`
    /// becomes visible in the lists; `None`: at once. A function of the seed and the version.
    pub fn lag(&self, table: &str, key: &str, sort: i64) -> Option<i64> {
        let r = &self.rates;
        if r.late <= 0.0 {
            return None;
        }
        let mut s = self
            .late_key
            .named(table)
            .named(key)
            .derive(sort as u64)
            .stream();
        (s.next_f64() < r.late).then(|| s.range_inclusive(1, r.max_lag_secs.max(1)))
    }

    /// The fault of request `n` (0-based).
    pub fn fault(&self, n: u64) -> Fault {
        let r = &self.rates;
        let mut s = self.key.derive(n).stream();
        let (u, slow, delay, overlap) = (s.next_f64(), s.next_f64(), s.next_f64(), s.next_f64());
        let delay = (slow < r.slow)
            .then(|| Duration::from_millis((delay * r.max_delay.as_millis() as f64) as u64));
        let overlap = (overlap < r.overlap).then(|| 1 + s.range_inclusive(0, 2) as usize);
        let detail = |what: &str| {
            format!(
                "{what} (injected by --chaos {}: retry, honouring Retry-After)",
                self.spec.name()
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
        // drawn from a second stream: the draws above stay what they were before cuts existed
        let mut c = self.key.named("cut").derive(n).stream();
        let (v, at) = (c.next_f64(), c.next_f64());
        let per_mille = (at * 900.0) as u16 + 50;
        let cut = if fail.is_some() {
            None
        } else if v < r.reset {
            Some(Cut::Reset { per_mille })
        } else if v < r.reset + r.truncate {
            Some(Cut::Truncate { per_mille })
        } else {
            None
        };
        Fault {
            delay,
            fail,
            overlap,
            cut,
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
            assert_eq!(l.name().parse::<ChaosSpec>(), Ok(l.into()));
        }
        let e = "wild".parse::<ChaosLevel>().unwrap_err();
        assert!(e.contains("wild") && e.contains(ChaosLevel::NAMES), "{e}");
        let e = "mild,late-arivals".parse::<ChaosSpec>().unwrap_err();
        assert!(e.contains("\"late-arivals\""), "{e}");
        for f in FaultKind::ALL {
            assert!(e.contains(f.name()), "{e}");
        }
    }

    #[test]
    fn profiles_and_single_faults_combine() {
        let s: ChaosSpec = "expired-cursors, mild,late-arrivals,expired-cursors"
            .parse()
            .unwrap();
        assert_eq!(s.profile, ChaosLevel::Mild);
        assert_eq!(
            s.faults,
            vec![FaultKind::LateArrivals, FaultKind::ExpiredCursors]
        );
        assert_eq!(s.name(), "mild,late-arrivals,expired-cursors");
        assert_eq!(s.name().parse::<ChaosSpec>(), Ok(s.clone()));
        let (r, mild, hostile) = (
            s.rates(),
            ChaosLevel::Mild.rates(),
            ChaosLevel::Hostile.rates(),
        );
        // the named faults at hostile strength, the rest as the profile has them
        assert_eq!(
            (r.late, r.max_lag_secs),
            (hostile.late, hostile.max_lag_secs)
        );
        assert_eq!(r.cursor_ttl, hostile.cursor_ttl);
        assert_eq!(r.server_error, mild.server_error);
        assert!(!r.hard_deletes);
        // a fault alone: nothing else
        let alone: ChaosSpec = "hard-deletes".parse().unwrap();
        let r = alone.rates();
        assert!(r.hard_deletes && r.server_error == 0.0 && r.late == 0.0);
        assert!(!alone.is_off() && ChaosSpec::default().is_off());
        assert_eq!(
            "hostile,mild".parse::<ChaosSpec>().unwrap().profile,
            ChaosLevel::Hostile
        );
    }

    #[test]
    fn late_versions_follow_the_seed_and_the_rate() {
        let spec: ChaosSpec = "late-arrivals".parse().unwrap();
        let (a, b, c) = (
            Chaos::new(spec.clone(), 1),
            Chaos::new(spec.clone(), 1),
            Chaos::new(spec, 2),
        );
        let r = *a.rates();
        let n = 20_000;
        let lags: Vec<Option<i64>> = (0..n)
            .map(|i| a.lag("orders", &format!("k{i}"), 1_700_000_000 + i))
            .collect();
        assert!(
            (0..n)
                .all(|i| b.lag("orders", &format!("k{i}"), 1_700_000_000 + i) == lags[i as usize])
        );
        assert!(
            (0..n)
                .any(|i| c.lag("orders", &format!("k{i}"), 1_700_000_000 + i) != lags[i as usize])
        );
        let late = lags.iter().flatten().count() as f64 / n as f64;
        assert!(
            (late - r.late).abs() <= 5.0 * (r.late * (1.0 - r.late) / n as f64).sqrt(),
            "{late}"
        );
        assert!(
            lags.iter()
                .flatten()
                .all(|l| (1..=r.max_lag_secs).contains(l))
        );
        assert_eq!(Chaos::new(ChaosLevel::Off, 1).lag("orders", "k", 1), None);
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
            // cuts only on answers that are not failed already
            let failed = fa.iter().filter(|f| f.fail.is_some()).count() as f64 / n as f64;
            let cut = |reset: bool| {
                fa.iter()
                    .filter(|f| {
                        matches!(f.cut, Some(Cut::Reset { .. })) == reset && f.cut.is_some()
                    })
                    .count() as f64
                    / n as f64
            };
            assert!(near(cut(true), r.reset * (1.0 - failed)), "{level:?}");
            assert!(near(cut(false), r.truncate * (1.0 - failed)), "{level:?}");
            assert!(fa.iter().all(|f| f.fail.is_none() || f.cut.is_none()));
            assert!(
                fa.iter()
                    .filter_map(|f| f.cut)
                    .all(|c| (50..950).contains(&c.per_mille()))
            );
        }
        let off = Chaos::new(ChaosLevel::Off, 1);
        assert!((0..1000).all(|_| off.next_fault().fail.is_none()));
    }
}
