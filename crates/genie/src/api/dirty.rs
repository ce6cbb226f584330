//! `/v1/dirty/manifest`: the defects `--dirty` planted in the rows as served now (the
//! answer key of a cleaning pipeline), for the tables the key may read, paged by `after`.

use axum::extract::{RawQuery, State};
use axum::response::Response;
use serde_json::json;

use super::auth::Principal;
use super::changes::readable_tables;
use super::params::{int_param, only_known, query_pairs, single};
use super::{AppState, blocking, json_response};
use crate::paging::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::problem::Problem;

pub(super) async fn manifest(
    State(st): State<AppState>,
    RawQuery(raw): RawQuery,
    axum::Extension(p): axum::Extension<Principal>,
) -> Result<Response, Problem> {
    let pairs = query_pairs(&raw)?;
    only_known(&pairs, "/v1/dirty/manifest", &["after", "limit", "tables"])?;
    let limit = int_param(&pairs, "limit", 1, MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
    let after = int_param(&pairs, "after", 0, i64::MAX)?.unwrap_or(0);
    let asked = single(&pairs, "tables")?.map(str::to_string);
    let tables = readable_tables(&st, &p, asked.as_deref())?.unwrap_or_else(|| {
        st.store
            .resources()
            .iter()
            .map(|r| r.name().to_string())
            .collect()
    });
    let store = st.store.clone();
    let mut rows = blocking(move || {
        store
            .manifest(after, limit + 1, &tables)
            .map_err(Problem::internal)
    })
    .await?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_after = rows.last().map_or(after, |e| e.entry);
    let tables = asked.map_or(String::new(), |t| format!("&tables={}", t.replace(' ', "")));
    let link = format!(
        "{}/v1/dirty/manifest?after={next_after}&limit={limit}{tables}",
        st.link_base
    );
    let body = json!({
        "object": "list",
        "dirty": st.store.dirty_profile().name(),
        "data": rows,
        "has_more": has_more,
        "next_after": next_after,
        "links": {"next": if has_more { Some(link) } else { None }},
    });
    Ok(json_response(body.to_string()))
}
