//! The web console's page at `/` and its assets (`crates/genie/console/`), built into the
//! binary: nothing is fetched from elsewhere. Assets are served under names that carry a hash
//! of their content, so they are cached for good (`immutable`); the page itself is revalidated
//! with its `ETag`. Every answer carries a strict Content-Security-Policy (scripts, styles and
//! connections to this origin only: no inline code, no third party) and `nosniff`.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::Digest;

use crate::problem::Problem;

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

struct Asset {
    /// The name it is served under: `console.<hash>.js`.
    name: String,
    content_type: &'static str,
    body: &'static [u8],
}

/// (source name, content type, content).
const SOURCES: &[(&str, &str, &[u8])] = &[
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../console/console.js"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_bytes!("../console/console.css"),
    ),
    (
        "icon.svg",
        "image/svg+xml",
        include_bytes!("../console/icon.svg"),
    ),
];

fn short_hash(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .map(|(src, content_type, body)| {
            let (stem, ext) = src.rsplit_once('.').expect("an extension");
            Asset {
                name: format!("{stem}.{}.{ext}", short_hash(body)),
                content_type,
                body,
            }
        })
        .collect()
});

/// The page, with the hashed asset names filled in, and its ETag.
static INDEX: LazyLock<(String, String)> = LazyLock::new(|| {
    let mut html = include_str!("../console/index.html").to_string();
    for ((src, ..), asset) in SOURCES.iter().zip(ASSETS.iter()) {
        html = html.replace(
            &format!("{{{{{src}}}}}"),
            &format!("/console/{}", asset.name),
        );
    }
    // weak: the gzipped and the plain bytes are the same page
    let etag = format!("W/\"{}\"", short_hash(html.as_bytes()));
    (html, etag)
});

/// The headers every console answer carries.
pub fn secure(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // the page's URL never goes elsewhere (it holds no key, but nothing needs it)
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    r
}

fn matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',').any(|t| {
                t.trim() == "*"
                    || t.trim().trim_start_matches("W/") == etag.trim_start_matches("W/")
            })
        })
}

fn answer(
    headers: &HeaderMap,
    content_type: &'static str,
    body: &'static [u8],
    etag: &str,
    cache: &'static str,
) -> Response {
    let mut r = if matches(headers, etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = body.into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        r
    };
    if let Ok(v) = HeaderValue::from_str(etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    secure(r)
}

/// `/`: the console.
pub async fn index(headers: HeaderMap) -> Response {
    let (html, etag) = &*INDEX;
    // revalidated on every load: a new binary may bring new asset names
    answer(
        &headers,
        "text/html; charset=utf-8",
        html.as_bytes(),
        etag,
        "no-cache",
    )
}

/// `/console/{name}`: an asset under its hashed name.
pub async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(a) => answer(
            &headers,
            a.content_type,
            a.body,
            &format!("\"{}\"", a.name),
            // the name changes with the content
            "public, max-age=31536000, immutable",
        ),
        None => secure(
            Problem::new(
                "not_found",
                format!("no console asset {name:?}; the page at / names the current ones"),
            )
            .into_response(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_every_asset_by_its_hash_and_nothing_else() {
        let (html, _) = &*INDEX;
        for a in ASSETS.iter() {
            assert!(html.contains(&format!("/console/{}", a.name)), "{}", a.name);
        }
        assert!(!html.contains("{{"), "an unfilled name: {html}");
        // no inline script or style: the CSP would refuse them
        assert!(!html.contains("<style"), "inline style");
        assert!(!html.contains(" style="), "inline style attribute");
        for tag in html.split("<script").skip(1) {
            assert!(
                tag.trim_start().starts_with("src=") || tag.contains(" src="),
                "inline script: {tag}"
            );
        }
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "a third-party URL"
        );
    }
}
