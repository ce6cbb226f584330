//! The HTTP API: [`router`] and the state its handlers share. One module per concern:
//! `auth` (API keys, scopes, the rate-limit headers), `limit` (the per-key token buckets),
//! `layers` (request ids and the access log, `--chaos` faults), `chaos_log` (the
//! faults injected, per key), `dirty` (the `--dirty` defects manifest), `params` (query
//! parameters),
//! `resources` (a resource's list, one row, nested rows), `changes` (the change feed) and
//! `service` (health, the OpenAPI document, the caller's key). Errors are
//! `application/problem+json` ([`crate::problem`]).

mod auth;
mod changes;
mod chaos_log;
mod console;
mod dirty;
mod layers;
mod limit;
mod params;
mod resources;
mod service;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::chaos::Chaos;
use crate::problem::Problem;
use crate::store::Store;

pub use auth::Principal;
pub use chaos_log::{CHAOS_LOG_CAPACITY, ChaosEntry, ChaosLog, Injection};
pub use console::{Console, LOG_CAPACITY};
pub use limit::{Limiter, RateLimit};

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    /// The served scenario's name and description, for the OpenAPI document.
    pub scenario: (&'static str, &'static str),
    pub limiter: Arc<Limiter>,
    pub chaos: Arc<Chaos>,
    /// What links start with: the configured public URL, or nothing (relative links). Never
    /// the request's `Host`, which any client can set.
    pub link_base: Arc<str>,
    /// The web console's request logs and cached status.
    pub console: Arc<Console>,
    /// Every fault `--chaos` injected.
    pub chaos_log: Arc<ChaosLog>,
}

pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/v1/me", get(service::me))
        .route("/v1/changes", get(changes::changes))
        .route("/v1/{resource}", get(resources::list))
        .route("/v1/{resource}/{id}", get(resources::one))
        .route("/v1/{resource}/{id}/{nested}", get(resources::nested))
        // outermost runs first: a bad key is a 401 even under chaos
        .layer(middleware::from_fn_with_state(state.clone(), layers::chaos))
        .layer(middleware::from_fn_with_state(state.clone(), auth::auth))
        // outside auth: the limiter's own 429s go into the key's log too
        .layer(middleware::from_fn_with_state(
            state.clone(),
            console::log_requests,
        ));
    // the console's own data: a key as for /v1, but no chaos (the page must not break) and
    // not in the request log (its polling would drown the learner's requests)
    let console = Router::new()
        .route("/v1/console/status", get(console::status))
        .route("/v1/console/requests", get(console::requests))
        // the answer log is read like the console's data: never failed by chaos itself
        .route("/v1/chaos/log", get(chaos_log::log))
        // the dirty data's answer key, read like the chaos log
        .route("/v1/dirty/manifest", get(dirty::manifest))
        .layer(middleware::from_fn_with_state(state.clone(), auth::auth))
        .layer(middleware::map_response(secured));
    Router::new()
        .route("/", get(crate::page::index))
        .route("/console/{name}", get(crate::page::asset))
        .route("/healthz", get(service::healthz))
        .route("/openapi.json", get(service::openapi))
        .merge(console)
        .merge(v1)
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(fallback)
        // brotli or gzip, as the client accepts; small bodies (problems, health) stay plain
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(middleware::from_fn(layers::cors))
        .layer(middleware::from_fn(layers::request_id))
        .with_state(state)
}

async fn secured(r: Response) -> Response {
    crate::page::secure(r)
}

async fn fallback() -> Problem {
    Problem::new("not_found", "no such endpoint; see /openapi.json")
}

/// A 405 is a problem like any other error (axum's own has an empty body).
async fn method_not_allowed(method: axum::http::Method) -> Problem {
    Problem {
        headers: vec![("allow", "GET, HEAD".into())],
        ..Problem::new(
            "method_not_allowed",
            format!("{method} is not allowed: the API is read-only (GET)"),
        )
    }
}

/// Runs store work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Problem> + Send + 'static,
) -> Result<T, Problem> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(Problem::internal)?
}

/// A short read of the store (a keyset page, a row, an owner's rows). On SQLite it runs right
/// here, on the async worker: it is a few hundred microseconds of CPU, less than the hop to
/// the blocking pool and back costs in thread wake-ups (`perf`: a quarter of a 100-row page's
/// CPU was the kernel switching threads; 237 → 150 µs of CPU per page, BENCHMARKS.md). Long
/// reads (counts, the feed) and PostgreSQL — whose client waits on a runtime of its own,
/// which cannot run inside this one — still go to the blocking pool.
/// A resource regenerated on read may render a day (~0.1–0.3 s) first: blocking pool too.
async fn short_read<T: Send + 'static>(
    store: &Store,
    t: usize,
    f: impl FnOnce() -> Result<T, Problem> + Send + 'static,
) -> Result<T, Problem> {
    if store.is_postgres() || store.resources()[t].regenerated {
        return blocking(f).await;
    }
    f()
}

/// A 200 with a body that is already JSON text (rows are stored as JSON).
fn json_response(body: String) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}
