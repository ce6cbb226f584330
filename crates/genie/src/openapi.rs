//! The OpenAPI 3.1 document, built from the same table definitions the store uses, so a new
//! column or table shows up in the contract without anyone editing it.

use faux::LogicalType;
use serde_json::{Value, json};

use crate::paging::{CURSOR_CHARS, DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET, MAX_PAGE, cursor_pattern};
use crate::problem::CODES;
use crate::store::Resource;

fn column_schema(ty: LogicalType, nullable: bool, description: &str) -> Value {
    let mut s = match ty {
        LogicalType::Text => json!({"type": "string"}),
        LogicalType::HexUuid => json!({"type": "string", "pattern": "^[0-9a-f]{32}$"}),
        LogicalType::Uuid => json!({"type": "string", "format": "uuid"}),
        LogicalType::Int => json!({"type": "integer", "format": "int64"}),
        // exact decimals are JSON numbers written from integers, never through a float
        LogicalType::Decimal { precision, scale } => {
            json!({"type": "number", "description": format!("decimal({precision},{scale})")})
        }
        LogicalType::Bool => json!({"type": "boolean"}),
        LogicalType::Date => json!({"type": "string", "format": "date"}),
        LogicalType::Timestamp => json!({"type": "string", "format": "date-time"}),
        LogicalType::Json => json!({}),
    };
    if nullable && let Some(t) = s.get("type").cloned() {
        s["type"] = json!([t, "null"]);
    }
    let d = match s.get("description").and_then(Value::as_str) {
        Some(extra) => format!("{description} ({extra})"),
        None => description.to_string(),
    };
    s["description"] = Value::String(d);
    s
}

fn row_schema(r: &Resource) -> Value {
    let props: serde_json::Map<String, Value> = r
        .def
        .columns
        .iter()
        .map(|c| {
            (
                c.name.to_string(),
                column_schema(c.ty, c.nullable, c.description),
            )
        })
        .collect();
    let required: Vec<&str> = r.def.columns.iter().map(|c| c.name).collect();
    json!({
        "type": "object",
        "description": r.def.description,
        "properties": props,
        "required": required,
        // for loaders, machine-readable: what to merge on (empty: no key of its own, so
        // only a full reload is exact) and what updated_at_min/max filter and the keyset sort by
        "x-primary-key": r.def.primary_key,
        "x-incremental-column": r.sort_col,
    })
}

fn time_param(name: &str, what: &str) -> Value {
    json!({
        "name": name, "in": "query", "required": false,
        "description": format!("{what} Inclusive. RFC 3339 (2024-01-31T12:00:00Z), a date (2024-01-31) or epoch seconds. Instants before 1900 mean 1900-01-01T00:00:00Z (no data is older)."),
        "schema": {"oneOf": [
            {"type": "string", "format": "date-time"},
            {"type": "string", "format": "date"},
            {"type": "string", "pattern": "^[0-9]{1,12}$"}
        ]}
    })
}

/// `API-Version` (schema drift, Stripe-style): the version whose row shape the client wants.
fn version_param() -> Value {
    let v = crate::chaos::API_VERSIONS;
    json!({
        "name": "API-Version", "in": "header", "required": false,
        "description": format!("Under --chaos schema-drift: the API version to answer in. {} is the original shape; {} renames created_at to created and adds object (the resource's name). Without it, a client gets the newest version from the drift date on (realistic: a virtual day after the store first served, kept across restarts; hostile: at once). Pin it to keep your shape. Without schema drift an answer is in the version pinned, or the original shape. An unknown version is a 400.", v[0], v[v.len() - 1]),
        "schema": {"type": "string", "enum": v}
    })
}

/// A row of `name` in either version's shape.
fn any_version(name: &str) -> Value {
    json!({"anyOf": [
        {"$ref": format!("#/components/schemas/{name}")},
        {"$ref": format!("#/components/schemas/{}", drifted_name(name))}
    ]})
}

fn drifted_name(name: &str) -> String {
    let v = crate::chaos::API_VERSIONS;
    format!("{name}_{}", v[v.len() - 1].replace('-', "_"))
}

/// The newest version's shape of a row schema: `created_at` renamed `created`, `object` added.
fn drifted_schema(mut row: Value, name: &str) -> Value {
    let props = row["properties"].as_object_mut().expect("properties");
    if let Some(c) = props.remove("created_at") {
        props.insert("created".into(), c);
    }
    props.insert("object".into(), json!({"type": "string", "const": name}));
    let required: Vec<Value> = row["required"]
        .as_array()
        .expect("required")
        .iter()
        .map(|r| {
            if r == "created_at" {
                json!("created")
            } else {
                r.clone()
            }
        })
        .chain([json!("object")])
        .collect();
    row["required"] = Value::Array(required);
    // a shape, not another resource: loaders find resources by x-primary-key
    let row_obj = row.as_object_mut().expect("row schema");
    row_obj.remove("x-primary-key");
    row_obj.remove("x-incremental-column");
    row_obj.insert("x-shape-of".into(), json!(name));
    row["description"] = json!(format!(
        "{} (API version {}: --chaos schema-drift)",
        row["description"].as_str().unwrap_or(""),
        crate::chaos::API_VERSIONS[crate::chaos::API_VERSIONS.len() - 1]
    ));
    row
}

/// `tables=`: a comma-separated list of the scenario's resources (the pattern admits only
/// those, so a fuzzer's valid value is a valid request).
fn tables_param(resources: &[Resource], description: &str) -> Value {
    let names: Vec<&str> = resources.iter().map(|r| r.name()).collect();
    let one = format!("({})", names.join("|"));
    json!({
        "name": "tables", "in": "query", "required": false,
        "description": description,
        "schema": {"type": "string", "pattern": format!("^{one}(,{one})*$")},
        "example": names.iter().take(2).copied().collect::<Vec<_>>().join(",")
    })
}

fn limit_param() -> Value {
    json!({
        "name": "limit", "in": "query", "required": false,
        "description": format!("Rows per page, {} to {MAX_LIMIT}; out of range is a 400, never clamped.", 1),
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}
    })
}

fn problem_responses(codes: &[u16]) -> serde_json::Map<String, Value> {
    codes
        .iter()
        .map(|s| {
            let names: Vec<&str> = CODES
                .iter()
                .filter(|(_, st, _)| st == s)
                .map(|(c, _, _)| *c)
                .collect();
            let mut v = json!({
                "description": format!("Problem ({})", names.join(", ")),
                "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
            });
            if *s == 429 || *s == 503 {
                // throttled by the key's bucket or by --chaos: when to come back
                let mut headers = rate_headers();
                headers["Retry-After"] = json!({"description": "Seconds to wait before retrying.", "schema": {"type": "integer", "minimum": 1}});
                v["headers"] = headers;
            }
            (s.to_string(), v)
        })
        .collect()
}

fn rate_headers() -> Value {
    let h = |d: &str| json!({"description": d, "schema": {"type": "integer", "minimum": 0}});
    json!({
        "RateLimit-Policy": {"description": "IETF draft structured field: \"burst\";q=<bucket size>;w=<seconds to refill it>.", "schema": {"type": "string"}},
        "RateLimit": {"description": "IETF draft structured field: \"burst\";r=<requests left>;t=<seconds until the bucket is full>.", "schema": {"type": "string"}},
        "RateLimit-Limit": h("Bucket size (burst)."),
        "RateLimit-Remaining": h("Requests left in the bucket."),
        "RateLimit-Reset": h("Seconds until the bucket is full again."),
        "X-RateLimit-Limit": h("Same as RateLimit-Limit."),
        "X-RateLimit-Remaining": h("Same as RateLimit-Remaining."),
        "X-RateLimit-Reset": h("Same as RateLimit-Reset."),
        "X-Request-Id": {"description": "Request id, also in the access log.", "schema": {"type": "string"}},
    })
}

fn ok(description: &str, schema: Value, link: bool) -> Value {
    let mut headers = rate_headers();
    headers["API-Version"] = json!({"description": "The API version this answer is in, when the request pinned one or --chaos schema-drift is on (see the API-Version request header).", "schema": {"type": "string", "enum": crate::chaos::API_VERSIONS}});
    if link {
        headers["Link"] = json!({"description": "<next page URL>; rel=\"next\" when has_more.", "schema": {"type": "string"}});
    }
    json!({
        "description": description,
        "headers": headers,
        "content": {"application/json": {"schema": schema}}
    })
}

fn responses(okv: Value, problems: &[u16]) -> Value {
    // any data request may fail on the server's side (and does, with --chaos)
    let problems: Vec<u16> = problems.iter().copied().chain([500, 503]).collect();
    let mut m = problem_responses(&problems);
    m.insert("200".into(), okv);
    Value::Object(m)
}

/// A single row's answers: the row with its validators, or 304 when it has not changed.
fn item_responses(mut okv: Value) -> Value {
    let etag = json!({"description": "The row's version: send it back in If-None-Match.", "schema": {"type": "string"}});
    let cache = json!({"description": "private, no-cache: rows change as the clock runs; revalidate with If-None-Match.", "schema": {"type": "string"}});
    okv["headers"]["ETag"] = etag.clone();
    okv["headers"]["Cache-Control"] = cache.clone();
    // 400: an unknown API-Version
    let mut r = responses(okv, &[400, 401, 403, 404, 429]);
    r["304"] = json!({"description": "Not modified: the row is the version If-None-Match named.",
        "headers": {"ETag": etag, "Cache-Control": cache}});
    r
}

/// The web console's data endpoints (the page itself, `/`, is HTML and not part of the API).
fn console_paths(paths: &mut serde_json::Map<String, Value>) {
    let time = json!({"type": "string", "format": "date-time"});
    let fault = json!({"type": ["string", "null"], "enum": ["internal", "unavailable", "rate_limited", null]});
    let cut = json!({"type": ["string", "null"], "enum": ["connection_reset", "truncated", null], "description": "The body was cut short: the connection reset mid-body, or closed before Content-Length bytes."});
    let data = json!({"type": "array", "items": {"type": "string", "enum": ["late_rows", "hard_deletes", "cursor_expired"]}, "description": "Data faults: row versions held back as late, deleted rows hidden, an expired cursor (details in /v1/chaos/log)."});
    paths.insert(
        "/v1/console/status".into(),
        json!({"get": {
            "operationId": "get_console_status",
            "summary": "The console's view of the shop",
            "description": "The virtual clock and its speed, the chaos level and rate limit, and for the resources the key may read: their live rows (recounted every 10 s; null until first counted), the latest retained changes, and orders created per virtual day over the last 14 days (null without orders). Not subject to --chaos, and not in the request log.",
            "tags": ["console"],
            "responses": responses(ok("The status.", json!({
                "type": "object",
                "properties": {
                    "object": {"type": "string", "const": "console_status"},
                    "scenario": {"type": "string"},
                    "clock": {"type": "object", "properties": {
                        "as_of": {"type": ["string", "null"], "format": "date-time"},
                        "speed": {"type": "number", "description": "Virtual seconds per real second."},
                        "last_seq": {"type": "integer"}
                    }, "required": ["as_of", "speed", "last_seq"]},
                    "chaos": {"type": "string", "description": "The --chaos setting: off, a profile (mild, realistic, hostile) and/or single faults, comma-separated."},
                    "rate_limit": {"type": "object", "properties": {"burst": {"type": "integer"}, "per_second": {"type": "number"}}, "required": ["burst", "per_second"]},
                    "key": {"type": "object", "properties": {"name": {"type": "string"}, "prefix": {"type": "string"}, "scopes": {"type": "array", "items": {"type": "string"}}}, "required": ["name", "prefix", "scopes"]},
                    "counts_age_s": {"type": ["integer", "null"], "minimum": 0},
                    "resources": {"type": "array", "items": {"type": "object", "properties": {
                        "name": {"type": "string"}, "rows": {"type": ["integer", "null"], "minimum": 0}
                    }, "required": ["name", "rows"]}},
                    "latest_changes": {"type": "array", "items": {"type": "object", "properties": {
                        "seq": {"type": "integer"}, "table": {"type": "string"},
                        "op": {"type": "string", "enum": ["insert", "update", "delete"]},
                        "ts": time, "id": {"type": "string"}
                    }, "required": ["seq", "table", "op", "ts", "id"]}},
                    "orders_per_day": {"type": ["array", "null"], "items": {"type": "object", "properties": {
                        "day": {"type": "string", "format": "date"}, "orders": {"type": "integer", "minimum": 0}
                    }, "required": ["day", "orders"]}}
                },
                "required": ["object", "scenario", "clock", "chaos", "rate_limit", "key", "counts_age_s", "resources", "latest_changes", "orders_per_day"]
            }), false), &[400, 401, 429]),
        }}),
    );
    paths.insert(
        "/v1/console/requests".into(),
        json!({"get": {
            "operationId": "list_console_requests",
            "summary": "The calling key's own requests",
            "description": format!("The last {} requests made with this key to the other /v1 endpoints (not the console's), newest first, kept in memory since genie started: time, method, path (credential-like query values masked), status, latency, the rate-limit tokens left, and what --chaos did to it. Requests with no, an unknown or a revoked key belong to no key and are not kept. Not subject to --chaos.", crate::api::LOG_CAPACITY),
            "tags": ["console"],
            "responses": responses(ok("The key's requests.", json!({
                "type": "object",
                "properties": {
                    "object": {"type": "string", "const": "list"},
                    "capacity": {"type": "integer"},
                    "data": {"type": "array", "items": {"type": "object", "properties": {
                        "at": {"type": "string", "format": "date-time", "description": "Wall-clock time the request arrived."},
                        "request_id": {"type": "string"},
                        "method": {"type": "string"},
                        "path": {"type": "string"},
                        "status": {"type": "integer"},
                        "latency_ms": {"type": "number", "minimum": 0},
                        "rate_limit_remaining": {"type": ["integer", "null"], "minimum": 0},
                        "chaos": {"oneOf": [{"type": "null"}, {"type": "object", "properties": {
                            "fault": fault,
                            "delay_ms": {"type": ["integer", "null"], "minimum": 0},
                            "overlap_rows": {"type": ["integer", "null"], "minimum": 1},
                            "cut": cut,
                            "data": data
                        }, "required": ["fault", "delay_ms", "overlap_rows", "cut", "data"]}]}
                    }, "required": ["at", "request_id", "method", "path", "status", "latency_ms", "rate_limit_remaining", "chaos"]}}
                },
                "required": ["object", "capacity", "data"]
            }), false), &[400, 401, 429]),
        }}),
    );
}

/// The whole document.
pub fn document(resources: &[Resource], scenario: (&str, &str)) -> Value {
    let mut paths = serde_json::Map::new();
    let mut schemas = serde_json::Map::new();
    schemas.insert(
        "Problem".into(),
        json!({
            "type": "object",
            "description": "RFC 9457 problem details.",
            "properties": {
                "type": {"type": "string", "format": "uri"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "code": {"type": "string", "enum": CODES.iter().map(|c| c.0).collect::<Vec<_>>()},
                "param": {"type": "string", "description": "The query parameter at fault (invalid_parameter)."},
                "oldest_seq": {"type": "integer", "description": "changes_expired: the after_seq to resume the feed from (every change after it is retained)."},
                "resume": {"type": "string", "format": "uri-reference", "description": "cursor_expired: the list request that resumes the pass (its filters, updated_at_min = the updated_at the cursor had reached)."}
            },
            "required": ["type", "title", "status", "detail", "code"]
        }),
    );
    for r in resources {
        let name = r.name();
        let cursor = json!({
            "type": "string",
            "pattern": cursor_pattern(name),
            "minLength": name.len() + 1 + CURSOR_CHARS,
            "maxLength": name.len() + 1 + CURSOR_CHARS,
            "description": format!("Opaque: \"{name}.\" and {CURSOR_CHARS} base64url characters carrying the keyset position (updated_at, id) and the filters of the pass. Pass next_cursor back unchanged. Every string of this shape is a valid position. Under --chaos expired-cursors a cursor whose pass began more than the TTL ago answers 410 cursor_expired (resume: the request that continues the pass).")
        });
        schemas.insert(name.to_string(), row_schema(r));
        schemas.insert(drifted_name(name), drifted_schema(row_schema(r), name));
        let mut params = vec![
            limit_param(),
            json!({"name": "cursor", "in": "query", "required": false,
                "description": "next_cursor of the previous page (cursor mode, the default): the next page of the same pass, with the pass's filters. A filter also given in the query replaces the cursor's. With page or offset, rows are skipped from the cursor's position on. An empty cursor (`cursor=`) means the first page, as no cursor does: for clients that always send the parameter.",
                "schema": {"anyOf": [cursor, {"type": "string", "maxLength": 0, "description": "The first page."}]}}),
            json!({"name": "page", "in": "query", "required": false,
                "description": "Page number (page mode, 1-based): skips (page - 1) × limit rows; the response has total.",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}}),
            json!({"name": "offset", "in": "query", "required": false,
                "description": "Rows to skip (offset mode): the response has total. With page, skipped in addition to the page's rows.",
                "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}}),
            time_param(
                "updated_at_min",
                &format!(
                    "Only rows with {} at or after this instant (a date: its first second).",
                    r.sort_col
                ),
            ),
            time_param(
                "updated_at_max",
                &format!(
                    "Only rows with {} at or before this instant (a date: its last second).",
                    r.sort_col
                ),
            ),
            time_param(
                "created_at_min",
                &format!(
                    "Only rows with {} at or after this instant (a date: its first second).",
                    r.created_col
                ),
            ),
            time_param(
                "created_at_max",
                &format!(
                    "Only rows with {} at or before this instant (a date: its last second).",
                    r.created_col
                ),
            ),
        ];
        params.push(json!({"name": "include_deleted", "in": "query", "required": false,
            "description": if r.has_deleted { "Also return soft-deleted rows (deleted_at set)." } else { "Accepted for uniformity; this resource has no deletions." },
            "schema": {"type": "boolean", "default": false}}));
        params.push(version_param());
        let list_schema = json!({
            "type": "object",
            "properties": {
                "object": {"type": "string", "const": "list"},
                "data": {"type": "array", "items": any_version(name)},
                "has_more": {"type": "boolean"},
                "next_cursor": {"oneOf": [cursor, {"type": "null"}]},
                "links": {"type": "object", "properties": {"next": {"type": ["string", "null"], "format": "uri-reference", "description": "The next page: relative (/v1/…), or absolute under --public-url."}}, "required": ["next"]},
                "as_of": {"type": "string", "format": "date-time", "description": "High-water mark: every change up to this instant is in the store this page was read from. Use it as updated_at_min of the next incremental pass."},
                "total": {"type": "integer", "minimum": 0, "description": "Rows matching the filters (page and offset modes only)."},
                "page": {"type": "integer", "minimum": 1},
                "offset": {"type": "integer", "minimum": 0}
            },
            "required": ["object", "data", "has_more", "next_cursor", "links", "as_of"]
        });
        paths.insert(
            format!("/v1/{name}"),
            json!({"get": {
                "operationId": format!("list_{name}"),
                "summary": format!("List {name}"),
                "description": format!("{} Sorted by ({}, {}).", r.def.description, r.sort_col, r.id_shape()),
                "tags": [name],
                "parameters": params,
                "responses": responses(ok(&format!("A page of {name}."), list_schema, true), &[400, 401, 403, 410, 429]),
            }}),
        );
        if r.keyless() {
            // no key of its own: rows are read through the list and the change feed only
            continue;
        }
        paths.insert(
            format!("/v1/{name}/{{id}}"),
            json!({"get": {
                "operationId": format!("get_{name}"),
                "summary": format!("One row of {name}"),
                "tags": [name],
                "parameters": [{"name": "id", "in": "path", "required": true,
                    "description": format!("The primary key ({}); composite keys joined with ':'.", r.id_shape()),
                    "schema": {"type": "string"}},
                    {"name": "If-None-Match", "in": "header", "required": false,
                    "description": "An ETag of this row from an earlier read: 304 when the row has not changed since.",
                    "schema": {"type": "string"}}, version_param()],
                "responses": item_responses(ok("The row.", any_version(name), false)),
            }}),
        );
    }
    for child in resources {
        let Some(parent) = child.parent else { continue };
        let name = child.name();
        paths.insert(
            format!("/v1/{}/{{id}}/{}", parent.table, parent.path),
            json!({"get": {
                "operationId": format!("list_{name}_of_{}", parent.table),
                "summary": format!("The {name} of one row of {}", parent.table),
                "description": format!("Every {name} row whose {} is the id, in key order ({}).", parent.column, child.id_shape()),
                "tags": [parent.table],
                "parameters": [{"name": "id", "in": "path", "required": true, "description": format!("The {} id.", parent.table), "schema": {"type": "string"}}, version_param()],
                "responses": responses(ok(&format!("The {name} rows."), json!({
                    "type": "object",
                    "properties": {
                        "object": {"type": "string", "const": "list"},
                        "data": {"type": "array", "items": any_version(name)},
                        "has_more": {"type": "boolean"},
                        "next_cursor": {"type": "null"},
                        "links": {"type": "object"},
                        "as_of": {"type": "string", "format": "date-time"}
                    },
                    "required": ["object", "data", "has_more", "as_of"]
                }), false), &[400, 401, 403, 404, 429]),
            }}),
        );
    }
    paths.insert(
        "/v1/changes".into(),
        json!({"get": {
            "operationId": "list_changes",
            "summary": "The change feed",
            "description": "Every insert, update and delete of every resource the key may read, ordered by seq: the key needs read:changes, and gets the records of read:all, or of the resources it has read:<resource> for. Follow next_after_seq. 410 when after_seq is older than the retained changes, with oldest_seq: reload with the list endpoints, then follow the feed from after_seq=oldest_seq. A new client does the same: lists first (their as_of), then the feed from oldest_seq (or later). The feed is never late (--chaos late-arrivals) and carries deletions as op: delete (--chaos hard-deletes).",
            "tags": ["changes"],
            "parameters": [
                limit_param(),
                tables_param(resources, "Only the records of these resources (comma-separated), of those the key may read; an unknown name is a 400. The next link keeps the filter, and the last page's next_after_seq moves past the records left out (a client of a rarely changing table stays inside the retention window)."),
                {"name": "after_seq", "in": "query", "required": false, "description": "Return changes with seq greater than this (0 = from the oldest retained).",
                 "schema": {"type": "integer", "minimum": 0, "format": "int64", "default": 0}},
                version_param()
            ],
            "responses": responses(ok("Changes in seq order.", json!({
                "type": "object",
                "properties": {
                    "object": {"type": "string", "const": "list"},
                    "data": {"type": "array", "items": {
                        "type": "object",
                        "properties": {
                            "seq": {"type": "integer"},
                            "table": {"type": "string", "enum": resources.iter().map(|r| r.name()).collect::<Vec<_>>()},
                            "op": {"type": "string", "enum": ["insert", "update", "delete"]},
                            "ts": {"type": "string", "format": "date-time"},
                            "data": {"type": "object"}
                        },
                        "required": ["seq", "table", "op", "ts", "data"]
                    }},
                    "has_more": {"type": "boolean"},
                    "next_after_seq": {"type": "integer"},
                    "links": {"type": "object"},
                    "as_of": {"type": "string", "format": "date-time"}
                },
                "required": ["object", "data", "has_more", "next_after_seq", "as_of"]
            }), true), &[400, 401, 403, 410, 429]),
        }}),
    );
    paths.insert(
        "/v1/me".into(),
        json!({"get": {
            "operationId": "get_me",
            "summary": "The calling API key",
            "tags": ["auth"],
            "responses": responses(ok("The key (never its secret).", json!({
                "type": "object",
                "properties": {
                    "object": {"type": "string", "const": "api_key"},
                    "id": {"type": "integer"}, "name": {"type": "string"}, "prefix": {"type": "string"},
                    "scopes": {"type": "array", "items": {"type": "string"}},
                    "created_at": {"type": "string", "format": "date-time"}
                },
                "required": ["object", "id", "name", "prefix", "scopes", "created_at"]
            }), false), &[401, 429]),
        }}),
    );
    console_paths(&mut paths);
    paths.insert(
        "/v1/chaos/log".into(),
        json!({"get": {
            "operationId": "get_chaos_log",
            "summary": "The faults --chaos injected into this key's requests",
            "description": format!("Newest first, the last {} of the calling key's requests that --chaos did something to, with their request id (X-Request-Id) and each fault: its kind and what it did. The same entries, every key's, are appended to chaos-log.jsonl in genie's data folder. Empty with --chaos off. Not subject to --chaos itself.", crate::api::CHAOS_LOG_CAPACITY),
            "tags": ["chaos"],
            "responses": responses(ok("The key's answer log.", json!({
                "type": "object",
                "properties": {
                    "object": {"type": "string", "const": "list"},
                    "chaos": {"type": "string", "description": "The --chaos setting."},
                    "capacity": {"type": "integer"},
                    "data": {"type": "array", "items": {"type": "object", "properties": {
                        "at": {"type": "string", "format": "date-time"},
                        "request_id": {"type": "string"},
                        "key": {"type": "string", "description": "The key's prefix."},
                        "method": {"type": "string"},
                        "path": {"type": "string"},
                        "status": {"type": "integer"},
                        "faults": {"type": "array", "items": {"type": "object", "properties": {
                            "kind": {"type": "string", "enum": ["internal", "unavailable", "rate_limited", "slow", "connection_reset", "truncated", "cursor_expired", "late_rows", "hard_deletes"]},
                            "detail": {"type": "string"}
                        }, "required": ["kind", "detail"]}}
                    }, "required": ["at", "request_id", "key", "method", "path", "status", "faults"]}}
                },
                "required": ["object", "chaos", "capacity", "data"]
            }), false), &[400, 401, 429]),
        }}),
    );
    paths.insert(
        "/v1/dirty/manifest".into(),
        json!({"get": {
            "operationId": "get_dirty_manifest",
            "summary": "The defects --dirty planted in the rows served",
            "description": "genie --dirty light|realistic|nasty serves rows with the defects aladdin generate --dirty plants in the same rows (their day is the day of their partition column): nulls, malformed emails and phone numbers, enum casing, amounts in cents, orphan order lines, abandoned-cart lines. One entry per defect in the rows as served now (a newer version of a row replaces its entries), for the resources the key may read, in entry order: follow next_after. Every defect planted is also appended to dirty-manifest.jsonl in genie's data folder. Empty with --dirty off. Not subject to --chaos.",
            "tags": ["dirty"],
            "parameters": [
                limit_param(),
                tables_param(resources, "Only the defects of these resources (comma-separated), of those the key may read; an unknown name is a 400."),
                {"name": "after", "in": "query", "required": false, "description": "Return entries after this one (0 = from the first).",
                 "schema": {"type": "integer", "minimum": 0, "format": "int64", "default": 0}}
            ],
            "responses": responses(ok("The manifest's entries.", json!({
                "type": "object",
                "properties": {
                    "object": {"type": "string", "const": "list"},
                    "dirty": {"type": "string", "enum": ["off", "light", "realistic", "nasty"], "description": "The --dirty profile."},
                    "data": {"type": "array", "items": {"type": "object", "properties": {
                        "entry": {"type": "integer"},
                        "table": {"type": "string", "enum": resources.iter().map(|r| r.name()).collect::<Vec<_>>()},
                        "day": {"type": "string", "format": "date", "description": "The day of the extract holding the row (aladdin verify --dirty --from/--to)."},
                        "key": {"type": "string", "description": "The primary key as text, |-separated (as in aladdin's manifest)."},
                        "row_id": {"type": "string", "description": "The id in /v1/{table}/{row_id}."},
                        "column": {"type": ["string", "null"], "description": "null for a defect of the whole row (an orphan, an abandoned-cart line)."},
                        "kind": {"type": "string", "enum": ["null", "malformed_email", "malformed_phone", "enum_case", "amount_in_cents", "orphan", "abandoned_cart_line"]},
                        "clean": {"type": ["string", "null"], "description": "The clean value (null: null, or the row should not exist)."},
                        "dirty": {"type": ["string", "null"], "description": "The value served instead."},
                        "seq": {"type": "integer", "description": "The change feed record that served it (0: the store's first fill)."}
                    }, "required": ["entry", "table", "day", "key", "row_id", "column", "kind", "clean", "dirty", "seq"]}},
                    "has_more": {"type": "boolean"},
                    "next_after": {"type": "integer"},
                    "links": {"type": "object"}
                },
                "required": ["object", "dirty", "data", "has_more", "next_after", "links"]
            }), false), &[400, 401, 429]),
        }}),
    );
    paths.insert(
        "/healthz".into(),
        json!({"get": {
            "operationId": "healthz",
            "summary": "Liveness and the clock",
            "security": [],
            "responses": {"200": {"description": "Up.", "content": {"application/json": {"schema": {
                "type": "object",
                "properties": {"status": {"type": "string", "const": "ok"}, "as_of": {"type": ["string", "null"], "format": "date-time"}},
                "required": ["status", "as_of"]
            }}}}}
        }}),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Faux Genie API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!("Live, changing data of the {} scenario ({}) for practising extraction: API keys, cursor/page/offset pagination, incremental filters on updated_at, a change feed, rate limits and RFC 9457 errors.", scenario.0, scenario.1)
        },
        "servers": [{"url": "/"}],
        // what --chaos can do, fault by fault: a client reading the contract learns what to survive
        "x-chaos": {
            "description": "genie --chaos (off by default) injects seeded faults into the /v1 data endpoints: a profile (mild, realistic, hostile) and/or single faults. Each fault lists the statuses and headers a client sees and the recipe that copes; every injected fault is in GET /v1/chaos/log.",
            "faults": crate::chaos::FaultKind::ALL.iter().map(|f| {
                let d = f.doc();
                json!({"name": f.name(), "statuses": d.statuses, "headers": d.headers, "effect": d.effect, "recipe": d.recipe})
            }).collect::<Vec<_>>(),
        },
        "security": [{"bearer": []}, {"apiKey": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer fg_live_…"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}
            }
        }
    })
}
