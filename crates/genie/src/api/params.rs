//! Query parameters: parsed strictly (a repeated or malformed parameter is a 400 naming it),
//! into the paging and filters of a list.

use faux::Timestamp;

use crate::paging::{CURSOR_CHARS, Cursor, DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET, MAX_PAGE};
use crate::problem::Problem;
use crate::store::Filters;

pub(super) fn query_pairs(raw: &Option<String>) -> Result<Vec<(String, String)>, Problem> {
    match raw {
        None => Ok(Vec::new()),
        Some(q) => serde_urlencoded::from_str(q)
            .map_err(|_| Problem::param("query", "the query string is not valid form encoding")),
    }
}

/// The parameters a list takes.
pub(super) const LIST_PARAMS: &[&str] = &[
    "limit",
    "cursor",
    "page",
    "offset",
    "updated_at_min",
    "updated_at_max",
    "created_at_min",
    "created_at_max",
    "include_deleted",
];

/// A parameter the endpoint does not take is a 400 naming it: ignored, a mistyped filter
/// (`updated_since`) would silently turn an incremental pass into a full reload.
pub(super) fn only_known(
    pairs: &[(String, String)],
    endpoint: &str,
    known: &[&str],
) -> Result<(), Problem> {
    match pairs.iter().find(|(k, _)| !known.contains(&k.as_str())) {
        None => Ok(()),
        Some((k, _)) => Err(Problem::param(
            k,
            format!(
                "unknown query parameter {k:?}: {endpoint} takes {}",
                known.join(", ")
            ),
        )),
    }
}

/// Parsed list parameters.
#[derive(Debug, Clone, Default)]
pub(super) struct ListParams {
    pub(super) limit: i64,
    pub(super) cursor: Option<Cursor>,
    pub(super) page: Option<i64>,
    pub(super) offset: Option<i64>,
    pub(super) filters: Filters,
}

pub(super) fn single<'a>(
    pairs: &'a [(String, String)],
    name: &str,
) -> Result<Option<&'a str>, Problem> {
    let mut it = pairs.iter().filter(|(k, _)| k == name);
    let first = it.next().map(|(_, v)| v.as_str());
    if it.next().is_some() {
        return Err(Problem::param(
            name,
            format!("{name} is given more than once"),
        ));
    }
    Ok(first)
}

pub(super) fn int_param(
    pairs: &[(String, String)],
    name: &str,
    min: i64,
    max: i64,
) -> Result<Option<i64>, Problem> {
    let Some(v) = single(pairs, name)? else {
        return Ok(None);
    };
    let n: i64 = v.trim().parse().map_err(|_| {
        Problem::param(
            name,
            format!("{name} must be an integer from {min} to {max}, got {v:?}"),
        )
    })?;
    if n < min || n > max {
        return Err(Problem::param(
            name,
            format!("{name} must be from {min} to {max}, got {n}"),
        ));
    }
    Ok(Some(n))
}

/// An inclusive time bound. A date alone is a whole day: as a lower bound (`_min`) its first
/// second, as an upper bound (`_max`) its last, so `updated_at_min=2025-02-20` (a tap's
/// `start_date`) includes the 20th.
fn time_param(pairs: &[(String, String)], name: &str) -> Result<Option<i64>, Problem> {
    let Some(v) = single(pairs, name)? else {
        return Ok(None);
    };
    if name.ends_with("_min")
        && let Ok(day) = v.trim().parse::<faux::Date>()
    {
        return Ok(Some(day.start().0));
    }
    let second = if name.ends_with("_min") {
        "first"
    } else {
        "last"
    };
    parse_instant(v).map(|t| Some(t.0)).map_err(|e| {
        Problem::param(
            name,
            format!("{name}: {e}; as {name} a date means its {second} second"),
        )
    })
}

/// [`Timestamp::parse_flexible`], and also the RFC 3339 instants and dates of years 0000–1899
/// (valid for the documented `date-time` / `date` formats): no data is older than 1900, so
/// as a bound they all mean 1900-01-01T00:00:00Z.
fn parse_instant(v: &str) -> Result<Timestamp, faux::TimestampError> {
    let t = v.trim();
    let year = t
        .get(..4)
        .filter(|y| y.bytes().all(|b| b.is_ascii_digit()) && t.as_bytes().get(4) == Some(&b'-'))
        .and_then(|y| y.parse::<i32>().ok());
    match year {
        Some(y) if y < 1900 => {
            // check the rest with a stand-in year of the same kind (leap or not)
            let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
            let stand_in = if leap { "2000" } else { "2001" };
            Timestamp::parse_flexible(&format!("{stand_in}{}", &t[4..]))?;
            Timestamp::parse_flexible("1900-01-01T00:00:00Z")
        }
        _ => Timestamp::parse_flexible(v),
    }
}

fn bool_param(pairs: &[(String, String)], name: &str) -> Result<Option<bool>, Problem> {
    match single(pairs, name)? {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(v) => Err(Problem::param(
            name,
            format!("{name} must be true or false, got {v:?}"),
        )),
    }
}

pub(super) fn parse_list(
    resource: &str,
    pairs: &[(String, String)],
) -> Result<ListParams, Problem> {
    only_known(pairs, &format!("/v1/{resource}"), LIST_PARAMS)?;
    let limit = int_param(pairs, "limit", 1, MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
    let page = int_param(pairs, "page", 1, MAX_PAGE)?;
    let offset = int_param(pairs, "offset", 0, MAX_OFFSET)?;
    let given = Filters {
        updated_min: time_param(pairs, "updated_at_min")?,
        updated_max: time_param(pairs, "updated_at_max")?,
        created_min: time_param(pairs, "created_at_min")?,
        created_max: time_param(pairs, "created_at_max")?,
        include_deleted: bool_param(pairs, "include_deleted")?.unwrap_or(false),
    };
    let cursor = match single(pairs, "cursor")? {
        None | Some("") => None,
        Some(c) => Some(Cursor::decode(c, resource).ok_or_else(|| {
            Problem::param(
                "cursor",
                format!(
                    "cursor is not a cursor of {resource} (\"{resource}.\" and {CURSOR_CHARS} base64url characters): pass next_cursor from a previous page unchanged"
                ),
            )
        })?),
    };
    // page, offset and cursor combine (documented): the cursor sets the start, then
    // (page - 1) × limit + offset rows are skipped
    let filters = match &cursor {
        None => given,
        Some(c) => {
            // a cursor carries its pass's filters; a filter given in the query replaces the
            // cursor's (repeating the pass's filters, as most clients do, changes nothing)
            let f = c.f;
            Filters {
                updated_min: given.updated_min.or(f.updated_min),
                updated_max: given.updated_max.or(f.updated_max),
                created_min: given.created_min.or(f.created_min),
                created_max: given.created_max.or(f.created_max),
                include_deleted: match bool_param(pairs, "include_deleted")? {
                    Some(d) => d,
                    None => f.include_deleted,
                },
            }
        }
    };
    Ok(ListParams {
        limit,
        cursor,
        page,
        offset,
        filters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_before_1900_are_the_earliest_bound() {
        let floor = Timestamp::parse_flexible("1900-01-01T00:00:00Z").unwrap();
        for ok in [
            "0001-10-12",
            "0181-06-11T11:28:34.28Z",
            "0000-02-29T00:00:00-00:28",
        ] {
            assert_eq!(parse_instant(ok).unwrap(), floor, "{ok}");
        }
        for bad in [
            "0181-02-29",
            "1899-13-01T00:00:00Z",
            "0500-01-01T25:00:00Z",
            "05-01-01",
        ] {
            assert!(parse_instant(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_instant("2024-01-02").unwrap(),
            Timestamp::parse_flexible("2024-01-02T23:59:59Z").unwrap()
        );
    }

    #[test]
    fn a_date_bound_covers_its_whole_day() {
        let q = |s: &str| -> Vec<(String, String)> {
            s.split('&')
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap();
                    (k.to_string(), v.to_string())
                })
                .collect()
        };
        let t = |s: &str| Some(Timestamp::parse_flexible(s).unwrap().0);
        let p = parse_list(
            "orders",
            &q("updated_at_min=2025-02-20&updated_at_max=2025-02-21&created_at_min=2025-02-01&created_at_max=2025-02-28"),
        )
        .unwrap();
        assert_eq!(p.filters.updated_min, t("2025-02-20T00:00:00Z"));
        assert_eq!(p.filters.updated_max, t("2025-02-21T23:59:59Z"));
        assert_eq!(p.filters.created_min, t("2025-02-01T00:00:00Z"));
        assert_eq!(p.filters.created_max, t("2025-02-28T23:59:59Z"));
        // instants are taken as given
        let p = parse_list("orders", &q("updated_at_min=2025-02-20T10:00:00Z")).unwrap();
        assert_eq!(p.filters.updated_min, t("2025-02-20T10:00:00Z"));
        // a bad bound is named, and told what a date means for it (a lower bound's date
        // is not its last second, whatever other inputs take a date to mean)
        for (name, second) in [
            ("updated_at_min", "first"),
            ("updated_at_max", "last"),
            ("created_at_min", "first"),
            ("created_at_max", "last"),
        ] {
            let e = parse_list("orders", &q(&format!("{name}=2025-13-01"))).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(name));
            assert!(e.detail.contains("\"2025-13-01\""), "{}", e.detail);
            assert!(
                e.detail
                    .ends_with(&format!("as {name} a date means its {second} second")),
                "{}",
                e.detail
            );
            assert!(!e.detail.contains("meaning its last"), "{}", e.detail);
        }
    }
}
