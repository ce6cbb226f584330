//! The prediction API: `POST /v1/predict`, `GET /v1/models`, `GET /v1/models/{version}`.
//! Errors are RFC 9457 problem details (`application/problem+json`), as Genie's are.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::registry::{ModelRecord, Registry, RegistryError};
use crate::store::{Features, Location, Store, StoreError};

/// A few connections to the feature store for lookups by cart id. One connection behind one
/// mutex made every request queue behind the one in flight (and a worker thread preempted
/// while holding it stalled all the others): p99 4.2 ms at 32 connections. With at least one
/// connection more than the runtime has worker threads, a request finds a free one without
/// waiting; SQLite's WAL lets these readers run alongside the features writer.
#[derive(Debug)]
pub struct StorePool {
    stores: Vec<Mutex<Store>>,
    next: AtomicUsize,
}

impl StorePool {
    /// `size` connections (at least 1) to the store at `location`.
    pub fn open(location: &Location, size: usize) -> Result<StorePool, StoreError> {
        let stores = (0..size.max(1))
            .map(|_| Store::open_at(location).map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(StorePool {
            stores,
            next: AtomicUsize::new(0),
        })
    }

    /// A free connection, trying each in turn from a rotating start; when all are busy
    /// (more concurrent callers than connections), waits for one.
    pub fn get(&self) -> MutexGuard<'_, Store> {
        let n = self.stores.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        for i in 0..n {
            if let Ok(g) = self.stores[(start + i) % n].try_lock() {
                return g;
            }
        }
        self.stores[start].lock().expect("store lock")
    }
}

#[derive(Debug, Clone)]
pub struct AppState {
    pub registry: Registry,
    /// The model serving; swapped whole when another version is deployed.
    model: Arc<RwLock<Arc<ModelRecord>>>,
    /// The feature store, for predictions by cart id (None: explicit features only).
    pub store: Option<Arc<StorePool>>,
    /// Why the deployed version is not the one serving (it failed to load), if it is not.
    swap_error: Arc<Mutex<Option<String>>>,
}

impl AppState {
    pub fn new(registry: Registry, model: ModelRecord, store: Option<Arc<StorePool>>) -> AppState {
        AppState {
            registry,
            model: Arc::new(RwLock::new(Arc::new(model))),
            store,
            swap_error: Arc::default(),
        }
    }

    /// The model serving now.
    pub fn current(&self) -> Arc<ModelRecord> {
        self.model.read().expect("model lock").clone()
    }

    /// Swaps in the registry's deployed version when it is not the one serving. A version
    /// that does not load is refused: the previous model keeps serving and the error is
    /// reported by `GET /v1/models`. Returns the version swapped in.
    pub fn follow_deployed(&self) -> Option<u32> {
        let wanted = match self.registry.deployed() {
            Ok(Some(v)) => v,
            Ok(None) => return None,
            Err(e) => {
                *self.swap_error.lock().expect("swap error lock") = Some(e.to_string());
                return None;
            }
        };
        if self.current().version == wanted {
            *self.swap_error.lock().expect("swap error lock") = None;
            return None;
        }
        match self.registry.load(wanted) {
            Ok(m) => {
                let from = self.current().version;
                *self.model.write().expect("model lock") = Arc::new(m);
                *self.swap_error.lock().expect("swap error lock") = None;
                tracing::info!("serving model v{wanted} (was v{from})");
                Some(wanted)
            }
            Err(e) => {
                let mut last = self.swap_error.lock().expect("swap error lock");
                let message = format!("deployed v{wanted} refused: {e}");
                if last.as_deref() != Some(message.as_str()) {
                    tracing::error!("{message}; v{} keeps serving", self.current().version);
                }
                *last = Some(message);
                None
            }
        }
    }
}

/// A problem+json answer.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    title: &'static str,
    detail: String,
}

impl Problem {
    fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            title,
            detail: detail.into(),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = json!({
            "type": "about:blank",
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response()
    }
}

fn bad_request(detail: impl Into<String>) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, "Bad Request", detail)
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/predict", post(predict))
        .route("/v1/models", get(models))
        .route("/v1/models/{version}", get(model))
        .fallback(|| async {
            Problem::new(
                StatusCode::NOT_FOUND,
                "Not Found",
                "no such endpoint: POST /v1/predict, GET /v1/models and GET /v1/models/{version} exist",
            )
        })
        .with_state(state)
}

/// Checks explicit features beyond their types.
fn check(f: &Features) -> Result<(), String> {
    if f.hour > 23 {
        return Err(format!("features.hour = {} must be 0 to 23", f.hour));
    }
    if f.weekday > 6 {
        return Err(format!(
            "features.weekday = {} must be 0 (Monday) to 6 (Sunday)",
            f.weekday
        ));
    }
    if !f.unit_price.is_finite() || f.unit_price < 0.0 {
        return Err(format!(
            "features.unit_price = {} must be a price of 0 or more",
            f.unit_price
        ));
    }
    if f.days_since_last_order
        .is_some_and(|d| !d.is_finite() || d < 0.0)
    {
        return Err("features.days_since_last_order must be null or 0 or more days".into());
    }
    Ok(())
}

async fn predict(State(state): State<AppState>, body: Bytes) -> Result<Response, Problem> {
    let v: Value = serde_json::from_slice(&body)
        .map_err(|e| bad_request(format!("the body is not JSON: {e}")))?;
    let obj = v.as_object().ok_or_else(|| {
        bad_request(r#"expected an object: {"cart_id": "…"} or {"features": {…}}"#)
    })?;
    if let Some(k) = obj.keys().find(|k| *k != "cart_id" && *k != "features") {
        return Err(bad_request(format!(
            "unknown field {k:?}: give cart_id or features"
        )));
    }
    let model = state.current();
    let (features, cart) = match (obj.get("cart_id"), obj.get("features")) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(bad_request(
                "give exactly one of cart_id (scored from the feature store) and features",
            ));
        }
        (Some(id), None) => {
            let id = id
                .as_str()
                .ok_or_else(|| bad_request(format!("cart_id = {id} must be a string")))?;
            let store = state.store.as_ref().ok_or_else(|| {
                bad_request("this server has no feature store (--store): give features")
            })?;
            // the lookup takes microseconds (a cached statement on an indexed key): it runs
            // on the worker, as a spawn_blocking hop would cost more than it saves
            let cart = store
                .get()
                .cart(id)
                .map_err(|e| {
                    Problem::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "Internal Server Error",
                        e.to_string(),
                    )
                })?
                .ok_or_else(|| {
                    Problem::new(
                        StatusCode::NOT_FOUND,
                        "Not Found",
                        format!(
                            "cart {id:?} is not in the feature store (not scored yet, or unknown)"
                        ),
                    )
                })?;
            (None, Some(cart))
        }
        (None, Some(f)) => {
            let f: Features = serde_json::from_value(f.clone())
                .map_err(|e| bad_request(format!("invalid features: {e}")))?;
            check(&f).map_err(bad_request)?;
            (Some(f), None)
        }
    };
    let p = match (&features, &cart) {
        (Some(f), _) => model.model.predict(f),
        (None, Some(c)) => model.model.predict(&c.features),
        (None, None) => unreachable!("features or a cart, matched above"),
    };
    let mut out = json!({"p": p, "model_version": model.version});
    if let Some(c) = cart {
        out["cart_id"] = json!(c.cart_id);
        out["scored_at"] = json!(c.scored_at.to_string());
    }
    Ok(axum::Json(out).into_response())
}

/// A model's summary: what `GET /v1/models` lists and `kingfisher.model.trained` carries.
pub fn summary(r: &ModelRecord) -> Value {
    json!({
        "version": r.version,
        "kind": r.kind,
        "trained_as_of": r.trained_as_of,
        "training_from": r.training_from,
        "training_to": r.training_to,
        "holdout_day": r.holdout_day,
        "data_digest": r.data_digest,
        "metrics": r.metrics,
        "deployed_before": r.deployed_before,
        "promoted": r.promoted,
    })
}

fn registry_problem(e: RegistryError) -> Problem {
    match e {
        RegistryError::Unknown { .. } => {
            Problem::new(StatusCode::NOT_FOUND, "Not Found", e.to_string())
        }
        e => Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error",
            e.to_string(),
        ),
    }
}

async fn models(State(state): State<AppState>) -> Result<Response, Problem> {
    let mut list = Vec::new();
    for v in state.registry.versions().map_err(registry_problem)? {
        match state.registry.load(v) {
            Ok(r) => list.push(summary(&r)),
            // a corrupt version is listed as such, not hidden
            Err(e) => list.push(json!({"version": v, "error": e.to_string()})),
        }
    }
    let deployed = state.registry.deployed().ok().flatten();
    let swap_error = state.swap_error.lock().expect("swap error lock").clone();
    Ok(axum::Json(json!({
        "serving": state.current().version,
        "deployed": deployed,
        "swap_error": swap_error,
        "models": list,
    }))
    .into_response())
}

async fn model(
    State(state): State<AppState>,
    Path(version): Path<String>,
) -> Result<Response, Problem> {
    let v: u32 = version.parse().map_err(|_| {
        bad_request(format!(
            "model version {version:?} must be a positive integer, as GET /v1/models lists them"
        ))
    })?;
    let r = state.registry.load(v).map_err(registry_problem)?;
    let mut out = summary(&r);
    out["features"] = json!(r.features);
    out["model"] = json!(r.model);
    Ok(axum::Json(out).into_response())
}
