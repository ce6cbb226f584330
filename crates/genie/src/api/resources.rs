//! A resource's endpoints: `/v1/<resource>` (a page of rows, by cursor, page or offset),
//! `/v1/<resource>/{id}` (one row) and `/v1/<parent>/{id}/<path>` (a parent's rows of a child
//! resource).

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use faux::Timestamp;

use super::auth::{Principal, require_scope};
use super::params::{ListParams, parse_list, query_pairs};
use super::{AppState, blocking, json_response, short_read};
use crate::chaos::{API_VERSIONS, ApiPin, Chaos, Injected, Overlap, drifted_row};
use crate::paging::{CURSOR_KEY_MAX, Cursor};
use crate::problem::Problem;
use crate::store::{ListQuery, Page};

/// The row the next page's cursor starts after: the last, or `overlap` rows before it (at
/// most all but the first row are repeated, so a pass always moves on).
fn overlap_row(rows: usize, overlap: Option<usize>) -> Option<usize> {
    let back = overlap.unwrap_or(0).min(rows.saturating_sub(1));
    rows.checked_sub(1 + back)
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
    pin: Option<axum::Extension<ApiPin>>,
) -> Result<Response, Problem> {
    let pin = pin.map(|p| p.0);
    let t = readable(&st, &p, &resource)?;
    let store = st.store.clone();
    let pairs = query_pairs(&raw)?;
    let mut lp = parse_list(&resource, &pairs)?;
    let rates = *st.chaos.rates();
    let now = crate::now().0;
    let mut injected = Injected::default();
    // --chaos expired-cursors: a pass older than the TTL starts over from where it was
    if let (Some(ttl), Some(c)) = (rates.cursor_ttl, &lp.cursor)
        && now.saturating_sub(c.t) > ttl.as_secs() as i64
    {
        return Ok(expired(&st, &resource, &lp, c, ttl.as_secs()));
    }
    // --chaos hard-deletes: deleted rows are gone (the change feed still says so)
    let res = &store.resources()[t];
    if rates.hard_deletes && res.has_deleted {
        lp.filters.include_deleted = false;
        injected.notes.push((
            "hard_deletes",
            format!("deleted {resource} are not listed (include_deleted has no effect): their deletion is in /v1/changes as op: delete"),
        ));
    }
    let q = ListQuery {
        filters: lp.filters,
        after: lp.cursor.as_ref().map(|c| (c.s, c.k.clone())),
        limit: lp.limit + 1,
        skip: (lp.page.unwrap_or(1) - 1) * lp.limit + lp.offset.unwrap_or(0),
        total: lp.page.is_some() || lp.offset.is_some(),
    };
    let chaos = st.chaos.clone();
    let name = resource.clone();
    // a keyset page is short; page/offset modes count and skip rows, which can take long
    let keyset = !q.total;
    let read = move || list_visible(&store, t, q, &chaos, &name).map_err(Problem::internal);
    let (page, late) = if keyset {
        short_read(&st.store, t, read).await?
    } else {
        blocking(read).await?
    };
    if !late.is_empty() {
        let shown: Vec<String> = late
            .iter()
            .take(10)
            .map(|(k, s, lag)| {
                format!(
                    "{k} (updated_at {}, visible from {})",
                    Timestamp(*s),
                    Timestamp(s + lag)
                )
            })
            .collect();
        injected.notes.push((
            "late_rows",
            format!(
                "{} {resource} version(s) held back as not yet arrived: {}{}",
                late.len(),
                shown.join(", "),
                if late.len() > shown.len() {
                    ", …"
                } else {
                    ""
                }
            ),
        ));
    }
    let mut page = page;
    let has_more = page.rows.len() as i64 > lp.limit;
    page.truncate(lp.limit as usize);
    let base = format!("{}/v1/{resource}", st.link_base);
    let (next_cursor, next_link) = match (lp.page, lp.offset) {
        // --chaos: the next page may start a few rows back, repeating them
        (None, None) => match (
            has_more,
            overlap_row(page.rows.len(), overlap.map(|o| o.0.0)),
        ) {
            (true, Some(i)) => {
                let k = page.key(i);
                let c = Cursor {
                    r: resource.clone(),
                    s: page.rows[i].sort,
                    k: k.to_string(),
                    f: lp.filters,
                    // the pass's age runs from its first page; without expiry no clock goes
                    // in, so a pass's cursors are the same run after run
                    t: match (&lp.cursor, rates.cursor_ttl) {
                        (Some(c), _) => c.t,
                        (None, Some(_)) => now,
                        (None, None) => 0,
                    },
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
    // the rows go into the body as the store rendered them, unless drift reshapes them
    let drifted =
        st.chaos.version(pin.and_then(|p| p.0), page.as_of) == Some(API_VERSIONS.len() - 1);
    let version = if drifted {
        let mut json: Vec<String> = (0..page.rows.len())
            .map(|i| page.row_json(i).to_string())
            .collect();
        let v = versioned(&st, pin, page.as_of, &resource, &mut json, &mut injected);
        page.json = json.join(",");
        v
    } else {
        versioned(&st, pin, page.as_of, &resource, &mut [], &mut injected)
    };
    let mut body = String::with_capacity(page.json.len() + 512);
    body.push_str("{\"object\":\"list\",\"data\":[");
    body.push_str(&page.json);
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
    Ok(finish(r, version, injected))
}

/// Under `--chaos schema-drift`: `rows` in the shape of the answer's API version (read at
/// `as_of`), the version to name in `API-Version`, and a note when the client pinned none
/// and got the newest shape.
pub(super) fn versioned(
    st: &AppState,
    pin: Option<ApiPin>,
    as_of: i64,
    resource: &str,
    rows: &mut [String],
    injected: &mut Injected,
) -> Option<&'static str> {
    let pinned = pin.and_then(|p| p.0);
    let v = st.chaos.version(pinned, as_of)?;
    if v == API_VERSIONS.len() - 1 {
        for r in rows.iter_mut() {
            *r = drifted_row(r, resource);
        }
        if pinned.is_none() {
            injected.notes.push((
                "schema_drift",
                format!(
                    "no API-Version sent: answered version {} (created_at renamed created, object added); send API-Version: {} to keep the old shape",
                    API_VERSIONS[v], API_VERSIONS[0]
                ),
            ));
        }
    }
    Some(API_VERSIONS[v])
}

/// Names the answer's API version, and hands the chaos layer what was injected.
pub(super) fn finish(
    mut r: Response,
    version: Option<&'static str>,
    injected: Injected,
) -> Response {
    if let Some(v) = version {
        r.headers_mut()
            .insert("api-version", HeaderValue::from_static(v));
    }
    if !injected.notes.is_empty() {
        r.extensions_mut().insert(injected);
    }
    r
}

/// A row version held back as late: (key, `_sort`, lag in seconds).
type Held = (String, i64, i64);

/// A page of the store under `q` without the versions `--chaos late-arrivals` holds back
/// (read further to fill it), and those held back: (key, `_sort`, lag).
fn list_visible(
    store: &crate::Store,
    t: usize,
    mut q: ListQuery,
    chaos: &Chaos,
    resource: &str,
) -> Result<(Page, Vec<Held>), crate::StoreError> {
    let want = q.limit as usize;
    let mut page = store.list(t, &q)?;
    if chaos.rates().late <= 0.0 {
        return Ok((page, Vec::new()));
    }
    let (as_of, total) = (page.as_of, page.total);
    let mut late = Vec::new();
    let mut out = Page::empty(as_of, total);
    loop {
        let full = page.rows.len() == q.limit as usize;
        let last =
            (page.rows.len().checked_sub(1)).map(|i| (page.rows[i].sort, page.key(i).to_string()));
        for (i, r) in page.rows.iter().enumerate() {
            let key = page.key(i);
            match chaos.lag(resource, key, r.sort) {
                Some(lag) if r.sort + lag > as_of => late.push((key.to_string(), r.sort, lag)),
                _ => out.push_with(r.sort, key, |o| o.push_str(page.row_json(i))),
            }
        }
        if out.rows.len() >= want || !full {
            break;
        }
        // keyset from the last row read: the skip is spent
        q.after = last;
        q.skip = 0;
        q.total = false;
        q.limit = (want - out.rows.len()) as i64;
        page = store.list(t, &q)?;
    }
    out.truncate(want);
    Ok((out, late))
}

/// The 410 of a cursor older than the TTL, with the request that resumes its pass: the same
/// filters, from the `updated_at` of the last row the client has (it comes again: upsert).
fn expired(st: &AppState, resource: &str, lp: &ListParams, c: &Cursor, ttl: u64) -> Response {
    let mut q: Vec<(&str, String)> = vec![("limit", lp.limit.to_string())];
    let from = c.f.updated_min.map_or(c.s, |m| m.max(c.s));
    q.push(("updated_at_min", Timestamp(from).to_string()));
    for (name, v) in [
        ("updated_at_max", c.f.updated_max),
        ("created_at_min", c.f.created_min),
        ("created_at_max", c.f.created_max),
    ] {
        if let Some(v) = v {
            q.push((name, Timestamp(v).to_string()));
        }
    }
    if c.f.include_deleted {
        q.push(("include_deleted", "true".into()));
    }
    let resume = format!(
        "{}/v1/{resource}?{}",
        st.link_base,
        serde_urlencoded::to_string(&q).unwrap_or_default()
    );
    let detail = format!(
        "this cursor's pass began more than {ttl} s ago and its cursors have expired (--chaos expired-cursors): start a new pass from the updated_at you reached, updated_at_min={} (resume has the request; rows with that updated_at come again: upsert on the primary key)",
        Timestamp(from)
    );
    let mut r = Problem {
        resume: Some(resume.into()),
        ..Problem::new("cursor_expired", detail)
    }
    .into_response();
    r.extensions_mut().insert(Injected {
        notes: vec![(
            "cursor_expired",
            format!("a cursor older than {ttl} s answered 410"),
        )],
    });
    r
}

pub(super) async fn one(
    State(st): State<AppState>,
    Path((resource, id)): Path<(String, String)>,
    request_headers: axum::http::HeaderMap,
    axum::Extension(p): axum::Extension<Principal>,
    pin: Option<axum::Extension<ApiPin>>,
) -> Result<Response, Problem> {
    let pin = pin.map(|p| p.0);
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
    let (row, as_of) = short_read(&st.store, t, move || {
        let row = store.get(t, &key).map_err(Problem::internal)?;
        let clock = store.clock().map_err(Problem::internal)?;
        Ok((row, clock.map_or(0, |c| c.reached)))
    })
    .await?;
    // --chaos hard-deletes: a deleted row is gone
    let gone = st.chaos.rates().hard_deletes
        && row
            .as_deref()
            .and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok())
            .is_some_and(|v| !v["deleted_at"].is_null());
    match row {
        Some(_) if gone => {
            let mut r =
                Problem::new("not_found", format!("no {resource} with id {id:?}")).into_response();
            r.extensions_mut().insert(Injected {
                notes: vec![(
                    "hard_deletes",
                    format!("{resource} {id} is deleted: answered 404 (its deletion is in /v1/changes as op: delete)"),
                )],
            });
            Ok(r)
        }
        Some(j) => {
            let mut injected = Injected::default();
            let mut one = [j];
            let version = versioned(&st, pin, as_of, &resource, &mut one, &mut injected);
            let [j] = one;
            Ok(finish(validated(j, &request_headers), version, injected))
        }
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
    pin: Option<axum::Extension<ApiPin>>,
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
    let found = short_read(&st.store, child, move || {
        store.children(child, &key).map_err(Problem::internal)
    })
    .await?;
    let Some((mut rows, as_of)) = found else {
        return Err(Problem::new(
            "not_found",
            format!("no {resource} with id {id:?}"),
        ));
    };
    let mut injected = Injected::default();
    let version = versioned(
        &st,
        pin.map(|p| p.0),
        as_of,
        child_name,
        &mut rows,
        &mut injected,
    );
    let r = json_response(format!(
        "{{\"object\":\"list\",\"data\":[{}],\"has_more\":false,\"next_cursor\":null,\"links\":{{\"next\":null}},\"as_of\":\"{}\"}}",
        rows.join(","),
        Timestamp(as_of)
    ));
    Ok(finish(r, version, injected))
}
