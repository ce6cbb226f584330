//! The HTTP API: routing, auth, rate limits, request ids, lists, single rows, changes feed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use faux::Timestamp;

use crate::chaos::{Chaos, Overlap};
use crate::paging::{
    CURSOR_CHARS, CURSOR_KEY_MAX, Cursor, DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET, MAX_PAGE,
};
use crate::problem::Problem;
use crate::store::{ApiKey, Change, Filters, ListQuery, Store};

/// Query parameters that look like credentials: keys in URLs end up in logs and histories.
const KEY_PARAMS: &[&str] = &[
    "api_key",
    "apikey",
    "key",
    "access_token",
    "token",
    "x-api-key",
];

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
    cfg: RateLimit,
    buckets: Mutex<HashMap<i64, Bucket>>,
}

/// What a request learned from the limiter, for the `RateLimit-*` headers.
struct Quota {
    remaining: u32,
    reset: u64,
}

impl Limiter {
    pub fn new(cfg: RateLimit) -> Limiter {
        Limiter {
            cfg,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `key`, or says in how many whole seconds one will be there.
    fn take(&self, key: i64) -> Result<Quota, u64> {
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

#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    /// The served scenario's name and description, for the OpenAPI document.
    pub scenario: (&'static str, &'static str),
    pub limiter: Arc<Limiter>,
    pub chaos: Arc<Chaos>,
}

pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/v1/me", get(me))
        .route("/v1/changes", get(changes))
        .route("/v1/{resource}", get(list))
        .route("/v1/{resource}/{id}", get(one))
        .route("/v1/{resource}/{id}/{nested}", get(nested))
        // outermost runs first: a bad key is a 401 even under chaos
        .layer(middleware::from_fn_with_state(state.clone(), chaos))
        .layer(middleware::from_fn_with_state(state.clone(), auth));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/openapi.json", get(openapi))
        .merge(v1)
        .fallback(fallback)
        .layer(middleware::from_fn(request_id))
        .with_state(state)
}

/// `--chaos`: delays and fails authenticated requests before their handler runs.
async fn chaos(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let fault = st.chaos.next_fault();
    if let Some(d) = fault.delay {
        tokio::time::sleep(d).await;
    }
    if let Some(k) = fault.overlap {
        req.extensions_mut().insert(Overlap(k));
    }
    match fault.problem() {
        Some(p) => p.into_response(),
        None => next.run(req).await,
    }
}

static REQUESTS: AtomicU64 = AtomicU64::new(0);

/// Adds `X-Request-Id` (the caller's if it sent a sane one) and writes the access log.
async fn request_id(req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        .map(str::to_string);
    let id = given.unwrap_or_else(|| {
        let mut r = [0u8; 6];
        let _ = getrandom::fill(&mut r);
        let n = REQUESTS.fetch_add(1, Ordering::Relaxed);
        format!(
            "req_{}{n:x}",
            r.iter().map(|b| format!("{b:02x}")).collect::<String>()
        )
    });
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let t0 = Instant::now();
    let mut resp = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    tracing::info!(
        request_id = %id,
        method = %method,
        path = %path,
        status = resp.status().as_u16(),
        micros = t0.elapsed().as_micros() as u64,
        "request"
    );
    resp
}

async fn fallback() -> Problem {
    Problem::new("not_found", "no such endpoint; see /openapi.json")
}

fn query_pairs(raw: &Option<String>) -> Result<Vec<(String, String)>, Problem> {
    match raw {
        None => Ok(Vec::new()),
        Some(q) => serde_urlencoded::from_str(q)
            .map_err(|_| Problem::param("query", "the query string is not valid form encoding")),
    }
}

/// The authenticated key, handed to handlers.
#[derive(Debug, Clone)]
pub struct Principal(pub ApiKey);

async fn auth(
    State(st): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, Problem> {
    let raw = req.uri().query().map(str::to_string);
    if let Ok(pairs) = query_pairs(&raw)
        && let Some((k, _)) = pairs
            .iter()
            .find(|(k, _)| KEY_PARAMS.contains(&k.to_ascii_lowercase().as_str()))
    {
        return Err(Problem::new(
            "key_in_query",
            format!(
                "query parameter {k:?} looks like an API key: send keys in the Authorization (Bearer) or X-API-Key header, never in URLs"
            ),
        )
        .with_header("www-authenticate", "Bearer".into()));
    }
    let secret = bearer(req.headers());
    let Some(secret) = secret else {
        return Err(Problem::new(
            "missing_api_key",
            "send an API key as `Authorization: Bearer <key>` or `X-API-Key: <key>`",
        )
        .with_header("www-authenticate", "Bearer".into()));
    };
    let store = st.store.clone();
    let key = tokio::task::spawn_blocking(move || store.find_key(&secret))
        .await
        .map_err(Problem::internal)?
        .map_err(Problem::internal)?;
    let key = match key {
        None => {
            return Err(Problem::new("invalid_api_key", "this API key is not known")
                .with_header("www-authenticate", "Bearer error=\"invalid_token\"".into()));
        }
        Some(k) if k.revoked_at.is_some() => {
            return Err(Problem::new(
                "revoked_api_key",
                format!("API key {} was revoked", k.prefix),
            )
            .with_header("www-authenticate", "Bearer error=\"invalid_token\"".into()));
        }
        Some(k) => k,
    };
    let cfg = st.limiter.cfg;
    let window = (cfg.burst as f64 / cfg.per_second.max(1e-6)).ceil() as u64;
    let quota = match st.limiter.take(key.id) {
        Ok(q) => q,
        Err(retry) => {
            let mut p = Problem::new(
                "rate_limited",
                format!(
                    "rate limit of {} requests per second (burst {}) exceeded; retry in {retry} s",
                    cfg.per_second, cfg.burst
                ),
            )
            .with_header("retry-after", retry.to_string());
            for (k, v) in rate_headers(cfg.burst, 0, retry, window) {
                p = p.with_header(k, v);
            }
            return Err(p);
        }
    };
    req.extensions_mut().insert(Principal(key));
    let mut resp = next.run(req).await;
    for (k, v) in rate_headers(cfg.burst, quota.remaining, quota.reset, window) {
        if let Ok(v) = HeaderValue::from_str(&v) {
            resp.headers_mut().insert(k, v);
        }
    }
    Ok(resp)
}

fn rate_headers(
    limit: u32,
    remaining: u32,
    reset: u64,
    window: u64,
) -> Vec<(&'static str, String)> {
    vec![
        ("ratelimit-limit", limit.to_string()),
        ("ratelimit-remaining", remaining.to_string()),
        ("ratelimit-reset", reset.to_string()),
        ("ratelimit-policy", format!("{limit};w={window}")),
        ("x-ratelimit-limit", limit.to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-reset", reset.to_string()),
    ]
}

fn bearer(h: &HeaderMap) -> Option<String> {
    if let Some(v) = h.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let v = v.trim();
        if let Some((scheme, rest)) = v.split_once(' ')
            && scheme.eq_ignore_ascii_case("bearer")
            && !rest.trim().is_empty()
        {
            return Some(rest.trim().to_string());
        }
    }
    h.get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn require_scope(p: &Principal, scope: &str) -> Result<(), Problem> {
    let ok = p.0.scopes.iter().any(|s| s == "read:all" || s == scope);
    if ok {
        Ok(())
    } else {
        Err(Problem::new(
            "insufficient_scope",
            format!(
                "API key {} lacks scope {scope:?} (it has {:?}); create a key with --scopes {scope} or read:all",
                p.0.prefix, p.0.scopes
            ),
        ))
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Problem> + Send + 'static,
) -> Result<T, Problem> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(Problem::internal)?
}

fn json_response(body: String) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

async fn healthz(State(st): State<AppState>) -> Result<Response, Problem> {
    let store = st.store.clone();
    let clock = blocking(move || store.clock().map_err(Problem::internal)).await?;
    Ok(json_response(
        serde_json::json!({
            "status": "ok",
            "as_of": clock.map(|c| Timestamp(c.reached).to_string()),
        })
        .to_string(),
    ))
}

async fn openapi(State(st): State<AppState>) -> Response {
    json_response(crate::openapi::document(st.store.resources(), st.scenario).to_string())
}

async fn me(axum::Extension(p): axum::Extension<Principal>) -> Response {
    json_response(
        serde_json::json!({
            "object": "api_key",
            "id": p.0.id,
            "name": p.0.name,
            "prefix": p.0.prefix,
            "scopes": p.0.scopes,
            "created_at": p.0.created_at,
        })
        .to_string(),
    )
}

/// Parsed list parameters.
#[derive(Debug, Clone, Default)]
struct ListParams {
    limit: i64,
    cursor: Option<Cursor>,
    page: Option<i64>,
    offset: Option<i64>,
    filters: Filters,
}

fn single<'a>(pairs: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, Problem> {
    let mut it = pairs.iter().filter(|(k, _)| k == name);
    let first = it.next().map(|(_, v)| v.as_str());
    if it.next().is_some() {
        return Err(Problem::param(
            name,
            format!("{name} is given more than once"),
        ));
    }
    Ok(first)
}

fn int_param(
    pairs: &[(String, String)],
    name: &str,
    min: i64,
    max: i64,
) -> Result<Option<i64>, Problem> {
    let Some(v) = single(pairs, name)? else {
        return Ok(None);
    };
    let n: i64 = v.trim().parse().map_err(|_| {
        Problem::param(
            name,
            format!("{name} must be an integer from {min} to {max}, got {v:?}"),
        )
    })?;
    if n < min || n > max {
        return Err(Problem::param(
            name,
            format!("{name} must be from {min} to {max}, got {n}"),
        ));
    }
    Ok(Some(n))
}

fn time_param(pairs: &[(String, String)], name: &str) -> Result<Option<i64>, Problem> {
    let Some(v) = single(pairs, name)? else {
        return Ok(None);
    };
    parse_instant(v)
        .map(|t| Some(t.0))
        .map_err(|e| Problem::param(name, format!("{name}: {e}")))
}

/// [`Timestamp::parse_flexible`], and also the RFC 3339 instants and dates of years 0000–1899
/// (valid for the documented `date-time` / `date` formats): no data is older than 1900, so
/// as a bound they all mean 1900-01-01T00:00:00Z.
fn parse_instant(v: &str) -> Result<Timestamp, faux::TimestampError> {
    let t = v.trim();
    let year = t
        .get(..4)
        .filter(|y| y.bytes().all(|b| b.is_ascii_digit()) && t.as_bytes().get(4) == Some(&b'-'))
        .and_then(|y| y.parse::<i32>().ok());
    match year {
        Some(y) if y < 1900 => {
            // check the rest with a stand-in year of the same kind (leap or not)
            let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
            let stand_in = if leap { "2000" } else { "2001" };
            Timestamp::parse_flexible(&format!("{stand_in}{}", &t[4..]))?;
            Timestamp::parse_flexible("1900-01-01T00:00:00Z")
        }
        _ => Timestamp::parse_flexible(v),
    }
}

fn bool_param(pairs: &[(String, String)], name: &str) -> Result<Option<bool>, Problem> {
    match single(pairs, name)? {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(v) => Err(Problem::param(
            name,
            format!("{name} must be true or false, got {v:?}"),
        )),
    }
}

fn parse_list(resource: &str, pairs: &[(String, String)]) -> Result<ListParams, Problem> {
    let limit = int_param(pairs, "limit", 1, MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
    let page = int_param(pairs, "page", 1, MAX_PAGE)?;
    let offset = int_param(pairs, "offset", 0, MAX_OFFSET)?;
    let given = Filters {
        updated_min: time_param(pairs, "updated_at_min")?,
        updated_max: time_param(pairs, "updated_at_max")?,
        created_min: time_param(pairs, "created_at_min")?,
        created_max: time_param(pairs, "created_at_max")?,
        include_deleted: bool_param(pairs, "include_deleted")?.unwrap_or(false),
    };
    let cursor = match single(pairs, "cursor")? {
        None | Some("") => None,
        Some(c) => Some(Cursor::decode(c, resource).ok_or_else(|| {
            Problem::param(
                "cursor",
                format!(
                    "cursor is not a cursor of {resource} (\"{resource}.\" and {CURSOR_CHARS} base64url characters): pass next_cursor from a previous page unchanged"
                ),
            )
        })?),
    };
    // page, offset and cursor combine (documented): the cursor sets the start, then
    // (page - 1) × limit + offset rows are skipped
    let filters = match &cursor {
        None => given,
        Some(c) => {
            // a cursor carries its pass's filters; a filter given in the query replaces the
            // cursor's (repeating the pass's filters, as most clients do, changes nothing)
            let f = c.f;
            Filters {
                updated_min: given.updated_min.or(f.updated_min),
                updated_max: given.updated_max.or(f.updated_max),
                created_min: given.created_min.or(f.created_min),
                created_max: given.created_max.or(f.created_max),
                include_deleted: match bool_param(pairs, "include_deleted")? {
                    Some(d) => d,
                    None => f.include_deleted,
                },
            }
        }
    };
    Ok(ListParams {
        limit,
        cursor,
        page,
        offset,
        filters,
    })
}

fn base_url(h: &HeaderMap) -> String {
    let host = h
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// The row the next page's cursor starts after: the last, or `overlap` rows before it (at
/// most all but the first row are repeated, so a pass always moves on).
fn overlap_row<T>(rows: &[T], overlap: Option<usize>) -> Option<&T> {
    let back = overlap.unwrap_or(0).min(rows.len().saturating_sub(1));
    rows.len().checked_sub(1 + back).map(|i| &rows[i])
}

async fn list(
    State(st): State<AppState>,
    Path(resource): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    axum::Extension(p): axum::Extension<Principal>,
    overlap: Option<axum::Extension<Overlap>>,
) -> Result<Response, Problem> {
    let store = st.store.clone();
    let Some((t, _)) = store.resource(&resource) else {
        return Err(Problem::new(
            "not_found",
            format!("no resource {resource:?}; see /openapi.json"),
        ));
    };
    require_scope(&p, &format!("read:{resource}"))?;
    let pairs = query_pairs(&raw)?;
    let lp = parse_list(&resource, &pairs)?;
    let q = ListQuery {
        filters: lp.filters,
        after: lp.cursor.as_ref().map(|c| (c.s, c.k.clone())),
        limit: lp.limit + 1,
        skip: (lp.page.unwrap_or(1) - 1) * lp.limit + lp.offset.unwrap_or(0),
        total: lp.page.is_some() || lp.offset.is_some(),
    };
    let page = blocking(move || store.list(t, &q).map_err(Problem::internal)).await?;
    let mut rows = page.rows;
    let has_more = rows.len() as i64 > lp.limit;
    rows.truncate(lp.limit as usize);
    let base = format!("{}/v1/{resource}", base_url(&headers));
    let (next_cursor, next_link) = match (lp.page, lp.offset) {
        // --chaos: the next page may start a few rows back, repeating them
        (None, None) => match (has_more, overlap_row(&rows, overlap.map(|o| o.0.0))) {
            (true, Some((_, s, k))) => {
                let c = Cursor {
                    r: resource.clone(),
                    s: *s,
                    k: k.clone(),
                    f: lp.filters,
                }
                .encode()
                .ok_or_else(|| {
                    Problem::internal(format!(
                        "the key {k:?} is longer than a cursor holds ({CURSOR_KEY_MAX} bytes)"
                    ))
                })?;
                let link = format!("{base}?limit={}&cursor={c}", lp.limit);
                (Some(c), Some(link))
            }
            _ => (None, None),
        },
        (page, offset) => {
            let link = has_more.then(|| {
                let mut kept: Vec<(String, String)> = pairs
                    .iter()
                    .filter(|(k, _)| k != "page" && k != "offset")
                    .cloned()
                    .collect();
                match (page, offset) {
                    (Some(p), o) => {
                        kept.push(("page".into(), (p + 1).to_string()));
                        if let Some(o) = o {
                            kept.push(("offset".into(), o.to_string()));
                        }
                    }
                    (None, Some(o)) => kept.push(("offset".into(), (o + lp.limit).to_string())),
                    (None, None) => {}
                }
                format!(
                    "{base}?{}",
                    serde_urlencoded::to_string(&kept).unwrap_or_default()
                )
            });
            (None, link)
        }
    };
    let mut body = String::with_capacity(rows.iter().map(|r| r.0.len() + 1).sum::<usize>() + 256);
    body.push_str("{\"object\":\"list\",\"data\":[");
    for (i, (j, _, _)) in rows.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(j);
    }
    body.push_str("],\"has_more\":");
    body.push_str(if has_more { "true" } else { "false" });
    body.push_str(",\"next_cursor\":");
    body.push_str(&serde_json::to_string(&next_cursor).expect("json"));
    body.push_str(",\"links\":{\"next\":");
    body.push_str(&serde_json::to_string(&next_link).expect("json"));
    body.push_str("},\"as_of\":");
    body.push_str(&serde_json::to_string(&Timestamp(page.as_of).to_string()).expect("json"));
    if let Some(t) = page.total {
        body.push_str(&format!(",\"total\":{t}"));
        if let Some(p) = lp.page {
            body.push_str(&format!(",\"page\":{p}"));
        }
        if let Some(o) = lp.offset {
            body.push_str(&format!(",\"offset\":{o}"));
        }
    }
    body.push('}');
    let mut r = json_response(body);
    if let Some(l) = next_link
        && let Ok(v) = HeaderValue::from_str(&format!("<{l}>; rel=\"next\""))
    {
        r.headers_mut().insert(header::LINK, v);
    }
    Ok(r)
}

async fn one(
    State(st): State<AppState>,
    Path((resource, id)): Path<(String, String)>,
    axum::Extension(p): axum::Extension<Principal>,
) -> Result<Response, Problem> {
    let store = st.store.clone();
    let Some((t, _)) = store.resource(&resource) else {
        return Err(Problem::new(
            "not_found",
            format!("no resource {resource:?}; see /openapi.json"),
        ));
    };
    require_scope(&p, &format!("read:{resource}"))?;
    if store.resources()[t].keyless() {
        return Err(Problem::new(
            "not_found",
            format!(
                "{resource} rows have no primary key: read them through /v1/{resource} or /v1/changes"
            ),
        ));
    }
    let key = id.clone();
    let row = blocking(move || store.get(t, &key).map_err(Problem::internal)).await?;
    match row {
        Some(j) => Ok(json_response(j)),
        None => Err(Problem::new(
            "not_found",
            format!("no {resource} with id {id:?}"),
        )),
    }
}

/// `/v1/<parent>/{id}/<path>`: the rows of the resource whose table definition names
/// `<parent>` as its parent with that path (an order's `items`).
async fn nested(
    State(st): State<AppState>,
    Path((resource, id, path)): Path<(String, String, String)>,
    axum::Extension(p): axum::Extension<Principal>,
) -> Result<Response, Problem> {
    let store = st.store.clone();
    let child = store.resources().iter().position(|r| {
        r.parent
            .is_some_and(|q| q.table == resource && q.path == path)
    });
    let Some(child) = child else {
        return Err(Problem::new(
            "not_found",
            format!("no endpoint /v1/{resource}/{{id}}/{path}; see /openapi.json"),
        ));
    };
    let child_name = store.resources()[child].name();
    require_scope(&p, &format!("read:{resource}"))?;
    require_scope(&p, &format!("read:{child_name}"))?;
    let key = id.clone();
    let found = blocking(move || store.children(child, &key).map_err(Problem::internal)).await?;
    let Some((rows, as_of)) = found else {
        return Err(Problem::new(
            "not_found",
            format!("no {resource} with id {id:?}"),
        ));
    };
    Ok(json_response(format!(
        "{{\"object\":\"list\",\"data\":[{}],\"has_more\":false,\"next_cursor\":null,\"links\":{{\"next\":null}},\"as_of\":\"{}\"}}",
        rows.join(","),
        Timestamp(as_of)
    )))
}

async fn changes(
    State(st): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    axum::Extension(p): axum::Extension<Principal>,
) -> Result<Response, Problem> {
    require_scope(&p, "read:changes")?;
    let pairs = query_pairs(&raw)?;
    let limit = int_param(&pairs, "limit", 1, MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
    let after = int_param(&pairs, "after_seq", 0, i64::MAX)?.unwrap_or(0);
    let store = st.store.clone();
    let got = blocking(move || store.changes(after, limit + 1).map_err(Problem::internal)).await?;
    let (mut rows, as_of) = match got {
        Ok(x) => x,
        Err(pruned) => {
            return Err(Problem::new(
                "changes_expired",
                format!(
                    "changes up to seq {pruned} are no longer retained: reload the resources with the list endpoints, then follow the feed from after_seq={pruned} or later"
                ),
            ));
        }
    };
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_after = rows.last().map_or(after, |r| r.seq);
    let link = format!(
        "{}/v1/changes?after_seq={next_after}&limit={limit}",
        base_url(&headers)
    );
    let mut body = String::from("{\"object\":\"list\",\"data\":[");
    for (
        i,
        Change {
            seq,
            table,
            op,
            ts,
            row,
            ..
        },
    ) in rows.iter().enumerate()
    {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!(
            "{{\"seq\":{seq},\"table\":\"{table}\",\"op\":\"{op}\",\"ts\":\"{}\",\"data\":{row}}}",
            Timestamp(*ts)
        ));
    }
    body.push_str(&format!(
        "],\"has_more\":{has_more},\"next_after_seq\":{next_after},\"links\":{{\"next\":{}}},\"as_of\":\"{}\"}}",
        serde_json::to_string(&link).expect("json"),
        Timestamp(as_of)
    ));
    let mut r = json_response(body);
    if has_more && let Ok(v) = HeaderValue::from_str(&format!("<{link}>; rel=\"next\"")) {
        r.headers_mut().insert(header::LINK, v);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_before_1900_are_the_earliest_bound() {
        let floor = Timestamp::parse_flexible("1900-01-01T00:00:00Z").unwrap();
        for ok in [
            "0001-10-12",
            "0181-06-11T11:28:34.28Z",
            "0000-02-29T00:00:00-00:28",
        ] {
            assert_eq!(parse_instant(ok).unwrap(), floor, "{ok}");
        }
        for bad in [
            "0181-02-29",
            "1899-13-01T00:00:00Z",
            "0500-01-01T25:00:00Z",
            "05-01-01",
        ] {
            assert!(parse_instant(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_instant("2024-01-02").unwrap(),
            Timestamp::parse_flexible("2024-01-02T23:59:59Z").unwrap()
        );
    }

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
