//! The endpoints about the service rather than the data: `/healthz`, `/openapi.json` and
//! `/v1/me` (the caller's key).

use axum::extract::State;
use axum::response::Response;
use faux::Timestamp;

use super::auth::Principal;
use super::{AppState, blocking, json_response};
use crate::problem::Problem;

pub(super) async fn healthz(State(st): State<AppState>) -> Result<Response, Problem> {
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

pub(super) async fn openapi(State(st): State<AppState>) -> Response {
    json_response(crate::openapi::document(st.store.resources(), st.scenario).to_string())
}

pub(super) async fn me(axum::Extension(p): axum::Extension<Principal>) -> Response {
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
