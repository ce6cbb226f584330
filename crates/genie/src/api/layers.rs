//! What wraps every request: an `X-Request-Id` and the access log line, CORS, and under
//! `--chaos` the seeded delays and faults before an authenticated request's handler.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::{ChaosEntry, Injection};
use crate::chaos::{API_VERSIONS, ApiPin, Cut, Injected, Overlap};
use crate::problem::Problem;

/// `--chaos`: delays and fails authenticated requests before their handler runs, cuts bodies
/// short after it, and writes every fault injected (here or by the handler) to the answer log.
pub(super) async fn chaos(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let fault = st.chaos.next_fault();
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let key = req
        .extensions()
        .get::<super::Principal>()
        .map(|p| (p.0.id, p.0.prefix.clone()));
    let (method, path) = (
        req.method().to_string(),
        super::console::loggable(req.uri()),
    );
    let at = super::chaos_log::now_millis();
    if let Some(d) = fault.delay {
        tokio::time::sleep(d).await;
    }
    if let Some(k) = fault.overlap {
        req.extensions_mut().insert(Overlap(k));
    }
    // the API version the client pins, if any (an unknown one is its mistake, chaos or not)
    {
        let given = req
            .headers()
            .get("api-version")
            .map(|v| v.to_str().unwrap_or(""));
        let pin = match given {
            None => None,
            Some(v) => match API_VERSIONS.iter().position(|k| *k == v.trim()) {
                Some(i) => Some(i),
                None => {
                    return Problem::param(
                        "API-Version",
                        format!(
                            "unknown API-Version {v:?}: the versions are {}",
                            API_VERSIONS.join(", ")
                        ),
                    )
                    .into_response();
                }
            },
        };
        req.extensions_mut().insert(ApiPin(pin));
    }
    let mut resp = match fault.problem() {
        Some(p) => p.into_response(),
        None => next.run(req).await,
    };
    let mut faults: Vec<Injection> = Vec::new();
    if let Some((code, ..)) = &fault.fail {
        faults.push(Injection {
            kind: code,
            detail: format!(
                "answered {} instead of running the request",
                resp.status().as_u16()
            ),
        });
    }
    if let Some(d) = fault.delay {
        faults.push(Injection {
            kind: "slow",
            detail: format!("answered {} ms late", d.as_millis()),
        });
    }
    if let Some(inj) = resp.extensions().get::<Injected>() {
        faults.extend(inj.notes.iter().map(|(kind, detail)| Injection {
            kind,
            detail: detail.clone(),
        }));
    }
    if let Some(cut) = fault.cut.filter(|_| resp.status() == StatusCode::OK) {
        let (kept, total);
        (resp, kept, total) = cut_short(resp, cut).await;
        faults.push(Injection {
            kind: cut.name(),
            detail: match cut {
                Cut::Reset { .. } => format!(
                    "the connection was reset after {kept} of the body's {total} bytes: retry"
                ),
                Cut::Truncate { .. } => format!(
                    "Content-Length {total}, but the connection closed after {kept} bytes: retry"
                ),
            },
        });
    }
    if let Some((id, prefix)) = key
        && !faults.is_empty()
    {
        st.chaos_log.record(
            id,
            ChaosEntry {
                at,
                request_id,
                key: prefix,
                method,
                path,
                status: resp.status().as_u16(),
                faults,
            },
        );
    }
    // for the key's request log (the console shows what chaos did)
    resp.extensions_mut().insert(fault);
    resp
}

/// The answer with its body cut short as `cut` says (before compression: a gzip client
/// gets a cut gzip stream), and the bytes kept and the body's whole length.
async fn cut_short(resp: Response, cut: Cut) -> (Response, usize, usize) {
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR.into_response(), 0, 0);
    };
    let total = bytes.len();
    let kept = total * cut.per_mille() as usize / 1000;
    let reason = match cut {
        Cut::Reset { .. } => std::io::ErrorKind::ConnectionReset,
        Cut::Truncate { .. } => std::io::ErrorKind::UnexpectedEof,
    };
    use futures_util::StreamExt;
    let head = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes.slice(..kept))]);
    // a moment between the part and the failure: the head and the part go out first, as
    // when a connection dies mid-body
    let fail = futures_util::stream::once(async move {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        Err(std::io::Error::new(reason, "cut short by --chaos"))
    });
    match cut {
        // a chunked body that never ends: the client sees the connection go
        Cut::Reset { .. } => {
            parts.headers.remove(header::CONTENT_LENGTH);
        }
        // the whole length announced, a part sent
        Cut::Truncate { .. } => {
            parts
                .headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(total));
        }
    }
    let body = axum::body::Body::from_stream(head.chain(fail));
    (Response::from_parts(parts, body), kept, total)
}

/// Headers a browser script may send: the key, a conditional read, a request id.
const CORS_ALLOW_HEADERS: &str =
    "Authorization, X-API-Key, If-None-Match, X-Request-Id, API-Version";
/// Headers a browser script may read besides the CORS-safelisted ones.
const CORS_EXPOSE_HEADERS: &str = "Link, ETag, Retry-After, RateLimit, RateLimit-Policy, \
    RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, X-RateLimit-Limit, \
    X-RateLimit-Remaining, X-RateLimit-Reset, X-Request-Id, API-Version";

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

/// 12 random hex digits drawn once per process: with the request counter after them, ids
/// are unique across restarts without a `getrandom` call and its formatting per request.
fn process_prefix() -> &'static str {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PREFIX.get_or_init(|| {
        let mut r = [0u8; 6];
        let _ = getrandom::fill(&mut r);
        r.iter().map(|b| format!("{b:02x}")).collect()
    })
}

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
        let n = REQUESTS.fetch_add(1, Ordering::Relaxed);
        format!("req_{}{n:x}", process_prefix())
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
