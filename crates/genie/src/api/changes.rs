//! `/v1/changes`: the change feed, every version of every row in `seq` order, followed with
//! `after_seq`.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use faux::Timestamp;

use super::auth::{Principal, require_scope};
use super::params::{int_param, only_known, query_pairs, single};
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
    only_known(&pairs, "/v1/changes", &["after_seq", "limit", "tables"])?;
    let limit = int_param(&pairs, "limit", 1, MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
    let after = int_param(&pairs, "after_seq", 0, i64::MAX)?.unwrap_or(0);
    let asked = single(&pairs, "tables")?.map(str::to_string);
    let only = readable_tables(&st, &p, asked.as_deref())?;
    let store = st.store.clone();
    let filtered = only.is_some();
    let (got, applied) = blocking(move || {
        // read before the feed: every record up to it is committed, so a filtered answer
        // that is the last page has looked at them all
        let applied = match filtered {
            true => store
                .clock()
                .map_err(Problem::internal)?
                .map(|c| c.last_seq),
            false => None,
        };
        let got = store
            .changes(after, limit + 1, only.as_deref())
            .map_err(Problem::internal)?;
        Ok((got, applied))
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
    let mut next_after = rows.last().map_or(after, |r| r.seq);
    if !has_more && let Some(applied) = applied {
        // a filtered feed moves past the records it skipped, so a client whose tables
        // change rarely does not fall behind the retention window
        next_after = next_after.max(applied);
    }
    // the next page keeps the filter (`,` is allowed unescaped in a query)
    let tables = asked.map_or(String::new(), |t| format!("&tables={}", t.replace(' ', "")));
    let link = format!(
        "{}/v1/changes?after_seq={next_after}&limit={limit}{tables}",
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

/// The resources an answer about rows (the feed, the dirty manifest) may carry: those
/// `tables` names (comma-separated; all without it) that the key may read — the records of
/// read:all, or of the resources it has read:<resource> for. `None`: every resource.
/// An unknown name is a 400 naming it.
pub(super) fn readable_tables(
    st: &AppState,
    p: &Principal,
    tables: Option<&str>,
) -> Result<Option<Vec<String>>, Problem> {
    let names: Vec<&str> = st.store.resources().iter().map(|r| r.name()).collect();
    let all = p.0.scopes.iter().any(|s| s == "read:all");
    let may_read = |t: &str| {
        all || p
            .0
            .scopes
            .iter()
            .any(|s| s.strip_prefix("read:") == Some(t))
    };
    let Some(list) = tables else {
        return Ok((!all).then(|| {
            names
                .iter()
                .filter(|t| may_read(t))
                .map(|t| t.to_string())
                .collect()
        }));
    };
    let mut asked: Vec<String> = Vec::new();
    for t in list.split(',').map(str::trim) {
        if !names.contains(&t) {
            return Err(Problem::param(
                "tables",
                format!(
                    "unknown table {t:?} in tables={list:?}: give a comma-separated list of {}",
                    names.join(", ")
                ),
            ));
        }
        if !asked.iter().any(|a| a == t) {
            asked.push(t.to_string());
        }
    }
    // a table the key may not read is left out, as it is without the filter
    asked.retain(|t| may_read(t));
    Ok(Some(asked))
}
