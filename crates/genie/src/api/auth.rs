//! Who is asking: the API key from the `Authorization` or `X-API-Key` header (never the URL),
//! its scopes, and its rate limit, reported in the `RateLimit-*` headers.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use super::params::query_pairs;
use crate::problem::Problem;
use crate::store::ApiKey;

/// Query parameters that look like credentials: keys in URLs end up in logs and histories.
pub(super) const KEY_PARAMS: &[&str] = &[
    "api_key",
    "apikey",
    "key",
    "access_token",
    "token",
    "x-api-key",
];

/// The authenticated key, handed to handlers.
#[derive(Debug, Clone)]
pub struct Principal(pub ApiKey);

pub(super) async fn auth(
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
    // a key read in the last second needs no trip to the database (and no blocking hop)
    let key = match st.store.cached_key(&secret) {
        Some(k) => Some(k),
        None => {
            let store = st.store.clone();
            tokio::task::spawn_blocking(move || store.find_key(&secret))
                .await
                .map_err(Problem::internal)?
                .map_err(Problem::internal)?
        }
    };
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
    // a 429 from --chaos plays "another client used up the key's quota": the headers say so
    // as a real 429's do (nothing left, full again after Retry-After)
    let (remaining, reset) = match resp.status() {
        StatusCode::TOO_MANY_REQUESTS => {
            let retry = resp
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                .unwrap_or(1);
            (0, retry)
        }
        _ => (quota.remaining, quota.reset),
    };
    for (k, v) in rate_headers(cfg.burst, remaining, reset, window) {
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
        // the IETF draft's structured fields (draft-ietf-httpapi-ratelimit-headers): a policy
        // named "burst" of `q` requests per `w` seconds, `r` left, full again in `t` seconds
        (
            "ratelimit-policy",
            format!("\"burst\";q={limit};w={window}"),
        ),
        ("ratelimit", format!("\"burst\";r={remaining};t={reset}")),
        // the earlier draft's and the common X- fields, which many clients still read
        ("ratelimit-limit", limit.to_string()),
        ("ratelimit-remaining", remaining.to_string()),
        ("ratelimit-reset", reset.to_string()),
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

pub(super) fn require_scope(p: &Principal, scope: &str) -> Result<(), Problem> {
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
