//! RFC 9457 problem details with a stable machine-readable `code`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Base of the `type` URIs: each code documents itself under it.
pub const PROBLEM_BASE: &str = "https://faux-genie.dev/problems/";

/// Every code the API can answer with, with its status and title (documented in OpenAPI).
pub const CODES: &[(&str, u16, &str)] = &[
    ("invalid_parameter", 400, "Invalid parameter"),
    ("key_in_query", 400, "API key in the query string"),
    ("missing_api_key", 401, "Missing API key"),
    ("invalid_api_key", 401, "Invalid API key"),
    ("revoked_api_key", 401, "Revoked API key"),
    ("insufficient_scope", 403, "Insufficient scope"),
    ("not_found", 404, "Not found"),
    ("method_not_allowed", 405, "Method not allowed"),
    ("malformed_request", 400, "Malformed request"),
    ("uri_too_long", 414, "URI too long"),
    (
        "header_fields_too_large",
        431,
        "Request header fields too large",
    ),
    ("changes_expired", 410, "Changes no longer retained"),
    ("cursor_expired", 410, "Cursor expired"),
    ("rate_limited", 429, "Too many requests"),
    ("internal", 500, "Internal error"),
    ("unavailable", 503, "Service unavailable"),
];

#[derive(Debug, Clone)]
pub struct Problem {
    pub code: &'static str,
    pub detail: String,
    /// The query parameter at fault, for `invalid_parameter`.
    pub param: Option<String>,
    /// For `changes_expired`: the `after_seq` to resume the feed from.
    pub oldest_seq: Option<i64>,
    /// For `cursor_expired`: the list request that resumes the pass (boxed: a `Problem` is
    /// the error of every handler, kept small).
    pub resume: Option<Box<str>>,
    pub headers: Vec<(&'static str, String)>,
}

impl Problem {
    pub fn new(code: &'static str, detail: impl Into<String>) -> Problem {
        Problem {
            code,
            detail: detail.into(),
            param: None,
            oldest_seq: None,
            resume: None,
            headers: Vec::new(),
        }
    }

    pub fn param(name: &str, detail: impl Into<String>) -> Problem {
        Problem {
            param: Some(name.to_string()),
            ..Problem::new("invalid_parameter", detail)
        }
    }

    pub fn internal(e: impl std::fmt::Display) -> Problem {
        tracing::error!(error = %e, "internal error");
        Problem::new("internal", "the server failed to answer; try again")
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Problem {
        self.headers.push((name, value));
        self
    }

    pub fn status(&self) -> StatusCode {
        let s = CODES
            .iter()
            .find(|(c, _, _)| *c == self.code)
            .map_or(500, |(_, s, _)| *s);
        StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn body(&self) -> serde_json::Value {
        let title = CODES
            .iter()
            .find(|(c, _, _)| *c == self.code)
            .map_or("Error", |(_, _, t)| *t);
        let mut v = serde_json::json!({
            "type": format!("{PROBLEM_BASE}{}", self.code),
            "title": title,
            "status": self.status().as_u16(),
            "detail": self.detail,
            "code": self.code,
        });
        if let Some(p) = &self.param {
            v["param"] = serde_json::Value::String(p.clone());
        }
        if let Some(s) = self.oldest_seq {
            v["oldest_seq"] = s.into();
        }
        if let Some(r) = &self.resume {
            v["resume"] = r.to_string().into();
        }
        v
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut r = (self.status(), self.body().to_string()).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        for (k, v) in &self.headers {
            if let Ok(v) = HeaderValue::from_str(v) {
                r.headers_mut().insert(*k, v);
            }
        }
        r
    }
}
