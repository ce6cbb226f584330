//! What wraps every request: an `X-Request-Id` and the access log line, CORS, and under
//! `--chaos` the seeded delays and faults before an authenticated request's handler.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::chaos::Overlap;

/// `--chaos`: delays and fails authenticated requests before their handler runs.
pub(super) async fn chaos(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let fault = st.chaos.next_fault();
    if let Some(d) = fault.delay {
        tokio::time::sleep(d).await;
    }
    if let Some(k) = fault.overlap {
        req.extensions_mut().insert(Overlap(k));
    }
    let mut resp = match fault.problem() {
        Some(p) => p.into_response(),
        None => next.run(req).await,
    };
    // for the key's request log (the console shows what chaos did)
    resp.extensions_mut().insert(fault);
    resp
}

/// Headers a browser script may send: the key, a conditional read, a request id.
const CORS_ALLOW_HEADERS: &str = "Authorization, X-API-Key, If-None-Match, X-Request-Id";
/// Headers a browser script may read besides the CORS-safelisted ones.
const CORS_EXPOSE_HEADERS: &str = "Link, ETag, Retry-After, RateLimit, RateLimit-Policy, \
    RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, X-RateLimit-Limit, \
    X-RateLimit-Remaining, X-RateLimit-Reset, X-Request-Id";

/// CORS for browser clients, from any origin: keys travel in a header a script sets, never in
/// cookies a browser would attach by itself, so letting every origin call the API gives a page
/// nothing its user's key did not already. A preflight (`OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`) is answered here, 204, before authentication — browsers
/// send it without the key; every other response allows any origin and exposes the headers a
/// client reads (links, rate limits, ETag).
pub(super) async fn cors(req: Request, next: Next) -> Response {
    let h = req.headers();
    let preflight = req.method() == Method::OPTIONS
        && h.contains_key(header::ORIGIN)
        && h.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut resp = if preflight {
        let mut r = StatusCode::NO_CONTENT.into_response();
        let rh = r.headers_mut();
        rh.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, HEAD"),
        );
        rh.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(CORS_ALLOW_HEADERS),
        );
        rh.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        );
        r
    } else {
        let mut r = next.run(req).await;
        r.headers_mut().insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(CORS_EXPOSE_HEADERS),
        );
        r
    };
    resp.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    resp
}

static REQUESTS: AtomicU64 = AtomicU64::new(0);

/// A request's id, for handlers and layers inside [`request_id`] (the key's request log).
#[derive(Debug, Clone)]
pub(super) struct RequestId(pub(super) String);

/// Adds `X-Request-Id` (the caller's if it sent a sane one) and writes the access log.
pub(super) async fn request_id(mut req: Request, next: Next) -> Response {
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
    req.extensions_mut().insert(RequestId(id.clone()));
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
