//! A resource's endpoints: `/v1/<resource>` (a page of rows, by cursor, page or offset),
//! `/v1/<resource>/{id}` (one row) and `/v1/<parent>/{id}/<path>` (a parent's rows of a child
//! resource).

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use faux::Timestamp;

use super::auth::{Principal, require_scope};
use super::params::{parse_list, query_pairs};
use super::{AppState, blocking, json_response};
use crate::chaos::Overlap;
use crate::paging::{CURSOR_KEY_MAX, Cursor};
use crate::problem::Problem;
use crate::store::ListQuery;

/// The row the next page's cursor starts after: the last, or `overlap` rows before it (at
/// most all but the first row are repeated, so a pass always moves on).
fn overlap_row<T>(rows: &[T], overlap: Option<usize>) -> Option<&T> {
    let back = overlap.unwrap_or(0).min(rows.len().saturating_sub(1));
    rows.len().checked_sub(1 + back).map(|i| &rows[i])
}

/// The store's index of `resource`, once it is known to exist and the key may read it.
fn readable(st: &AppState, p: &Principal, resource: &str) -> Result<usize, Problem> {
    let Some((t, _)) = st.store.resource(resource) else {
        return Err(Problem::new(
            "not_found",
            format!("no resource {resource:?}; see /openapi.json"),
        ));
    };
    require_scope(p, &format!("read:{resource}"))?;
    Ok(t)
}

pub(super) async fn list(
    State(st): State<AppState>,
    Path(resource): Path<String>,
    RawQuery(raw): RawQuery,
    axum::Extension(p): axum::Extension<Principal>,
    overlap: Option<axum::Extension<Overlap>>,
) -> Result<Response, Problem> {
    let t = readable(&st, &p, &resource)?;
    let store = st.store.clone();
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
    let base = format!("{}/v1/{resource}", st.link_base);
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

pub(super) async fn one(
    State(st): State<AppState>,
    Path((resource, id)): Path<(String, String)>,
    request_headers: axum::http::HeaderMap,
    axum::Extension(p): axum::Extension<Principal>,
) -> Result<Response, Problem> {
    let t = readable(&st, &p, &resource)?;
    let store = st.store.clone();
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
        Some(j) => Ok(validated(j, &request_headers)),
        None => Err(Problem::new(
            "not_found",
            format!("no {resource} with id {id:?}"),
        )),
    }
}

/// A row with its `ETag` (a digest of its JSON: any change of the row changes it) and
/// `Cache-Control: no-cache` (rows change as the clock runs: revalidate, cheaply), or a 304
/// when the client's `If-None-Match` names the current version.
fn validated(json: String, request: &axum::http::HeaderMap) -> Response {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(json.as_bytes());
    let tag: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    let etag = format!("\"{tag}\"");
    let matches = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*");
    let mut r = if matches {
        axum::http::StatusCode::NOT_MODIFIED.into_response()
    } else {
        json_response(json)
    };
    if let Ok(v) = HeaderValue::from_str(&etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    r
}

/// `/v1/<parent>/{id}/<path>`: the rows of the resource whose table definition names
/// `<parent>` as its parent with that path (an order's `items`).
pub(super) async fn nested(
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
