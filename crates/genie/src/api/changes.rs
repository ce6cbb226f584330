//! `/v1/changes`: the change feed, every version of every row in `seq` order, followed with
//! `after_seq`.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use faux::Timestamp;

use super::auth::{Principal, require_scope};
use super::params::{int_param, only_known, query_pairs};
use super::{AppState, blocking, json_response};
use crate::paging::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::problem::Problem;
use crate::store::Change;

pub(super) async fn changes(
    State(st): State<AppState>,
    RawQuery(raw): RawQuery,
    axum::Extension(p): axum::Extension<Principal>,
    pin: Option<axum::Extension<crate::chaos::ApiPin>>,
) -> Result<Response, Problem> {
    require_scope(&p, "read:changes")?;
    let pairs = query_pairs(&raw)?;
    only_known(&pairs, "/v1/changes", &["after_seq", "limit"])?;
    let limit = int_param(&pairs, "limit", 1, MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
    let after = int_param(&pairs, "after_seq", 0, i64::MAX)?.unwrap_or(0);
    // the feed carries rows: a key reads through it only the resources it may read
    let only: Option<Vec<String>> = (!p.0.scopes.iter().any(|s| s == "read:all")).then(|| {
        p.0.scopes
            .iter()
            .filter_map(|s| s.strip_prefix("read:"))
            .filter(|r| *r != "changes")
            .map(str::to_string)
            .collect()
    });
    let store = st.store.clone();
    let got = blocking(move || {
        store
            .changes(after, limit + 1, only.as_deref())
            .map_err(Problem::internal)
    })
    .await?;
    let (mut rows, as_of) = match got {
        Ok(x) => x,
        Err(pruned) => {
            return Err(Problem {
                oldest_seq: Some(pruned),
                ..Problem::new(
                    "changes_expired",
                    format!(
                        "changes up to seq {pruned} are no longer retained: reload the resources with the list endpoints, then follow the feed from after_seq={pruned} (oldest_seq) or later"
                    ),
                )
            });
        }
    };
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    // --chaos schema-drift: each record's row in the answer's version
    let mut injected = crate::chaos::Injected::default();
    let pin = pin.map(|p| p.0);
    let mut version = None;
    for c in rows.iter_mut() {
        let mut one = [std::mem::take(&mut c.row)];
        version = super::resources::versioned(&st, pin, as_of, &c.table, &mut one, &mut injected);
        let [row] = one;
        c.row = row;
    }
    // one note per answer, not per record
    injected.notes.truncate(1);
    if version.is_none() {
        version = st
            .chaos
            .version(pin.and_then(|p| p.0), as_of)
            .map(|v| crate::chaos::API_VERSIONS[v]);
    }
    let next_after = rows.last().map_or(after, |r| r.seq);
    let link = format!(
        "{}/v1/changes?after_seq={next_after}&limit={limit}",
        st.link_base
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
    Ok(super::resources::finish(r, version, injected))
}
