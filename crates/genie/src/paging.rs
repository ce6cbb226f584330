//! How lists are paged, shared by the handlers ([`crate::api`]) and their contract
//! ([`crate::openapi`]): the bounds of `limit`, `page` and `offset`, and the cursor — a keyset
//! position plus the filters of its pass, opaque to clients.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::store::Filters;

pub const MAX_LIMIT: i64 = 1000;
pub const DEFAULT_LIMIT: i64 = 100;
/// Keeps `page × limit` inside SQLite's integer range and the documented bounds.
pub const MAX_PAGE: i64 = 1_000_000;
pub const MAX_OFFSET: i64 = 1_000_000_000;

/// A keyset position plus the filters of its pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The resource it belongs to: a cursor of orders is no position in customers.
    pub r: String,
    pub s: i64,
    pub k: String,
    pub f: Filters,
    /// When the pass's first page was answered (wall clock, epoch seconds): a cursor's age,
    /// for `--chaos expired-cursors`; 0 when the server issued it without expiry.
    pub t: i64,
}

/// Bytes of an encoded cursor after its `resource.` prefix: a multiple of 3, so the base64url
/// text has no padding and no spare bits, and every string of [`CURSOR_CHARS`] characters of
/// the alphabet decodes to a valid position (see [`Cursor::decode`]).
const CURSOR_BYTES: usize = 108;
pub const CURSOR_CHARS: usize = CURSOR_BYTES / 3 * 4;
/// The longest primary key (as its `_key` text) a cursor holds.
pub const CURSOR_KEY_MAX: usize = CURSOR_BYTES - 50;

/// The documented shape of the cursors of `resource` (OpenAPI `pattern`).
pub fn cursor_pattern(resource: &str) -> String {
    format!("^{resource}\\.[A-Za-z0-9_-]{{{CURSOR_CHARS}}}$")
}

impl Cursor {
    /// `resource.` + base64url of a fixed layout: sort (i64), flags (bit 0–3: which of
    /// updated_at_min/max, created_at_min/max are set; bit 4: include_deleted), the four
    /// bounds (i64 each), the pass's start (i64), the key's length and the key, zero-padded.
    /// `None` when the key is longer than [`CURSOR_KEY_MAX`] bytes.
    pub fn encode(&self) -> Option<String> {
        let key = self.k.as_bytes();
        if key.len() > CURSOR_KEY_MAX {
            return None;
        }
        let mut b = Vec::with_capacity(CURSOR_BYTES);
        b.extend_from_slice(&self.s.to_be_bytes());
        let f = &self.f;
        let bounds = [f.updated_min, f.updated_max, f.created_min, f.created_max];
        let mut flags = 0u8;
        for (i, v) in bounds.iter().enumerate() {
            if v.is_some() {
                flags |= 1 << i;
            }
        }
        if f.include_deleted {
            flags |= 1 << 4;
        }
        b.push(flags);
        for v in bounds {
            b.extend_from_slice(&v.unwrap_or(0).to_be_bytes());
        }
        b.extend_from_slice(&self.t.to_be_bytes());
        b.push(key.len() as u8);
        b.extend_from_slice(key);
        b.resize(CURSOR_BYTES, 0);
        Some(format!("{}.{}", self.r, URL_SAFE_NO_PAD.encode(b)))
    }

    /// Any string matching [`cursor_pattern`] decodes: unused flag bits are ignored, a key
    /// length over the maximum is cut to it, and key bytes that are not UTF-8 are replaced, so
    /// a made-up cursor is a valid (if arbitrary) position.
    pub fn decode(s: &str, resource: &str) -> Option<Cursor> {
        let body = s.strip_prefix(resource)?.strip_prefix('.')?;
        if body.len() != CURSOR_CHARS {
            return None;
        }
        let b = URL_SAFE_NO_PAD.decode(body).ok()?;
        if b.len() != CURSOR_BYTES {
            return None;
        }
        let int = |at: usize| i64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"));
        let flags = b[8];
        let bound = |i: usize| (flags & (1 << i) != 0).then(|| int(9 + 8 * i));
        let len = (b[49] as usize).min(CURSOR_KEY_MAX);
        Some(Cursor {
            r: resource.to_string(),
            s: int(0),
            k: String::from_utf8_lossy(&b[50..50 + len]).into_owned(),
            f: Filters {
                updated_min: bound(0),
                updated_max: bound(1),
                created_min: bound(2),
                created_max: bound(3),
                include_deleted: flags & (1 << 4) != 0,
            },
            t: int(41),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_with_filters() {
        let c = Cursor {
            r: "orders".into(),
            s: 1_700_000_000,
            k: "abc".into(),
            f: Filters {
                updated_min: Some(5),
                include_deleted: true,
                ..Filters::default()
            },
            t: 1_700_000_123,
        };
        let e = c.encode().unwrap();
        let body = e.strip_prefix("orders.").unwrap();
        assert_eq!(body.len(), CURSOR_CHARS);
        assert!(
            body.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(Cursor::decode(&e, "orders"), Some(c.clone()));
        // another resource's cursor, a wrong length or alphabet is not a cursor
        assert_eq!(Cursor::decode(&e, "customers"), None);
        assert_eq!(Cursor::decode("orders.!!", "orders"), None);
        assert_eq!(Cursor::decode(&e[..e.len() - 1], "orders"), None);
        let long = Cursor {
            k: "x".repeat(CURSOR_KEY_MAX + 1),
            ..c
        };
        assert_eq!(long.encode(), None);
    }

    #[test]
    fn every_string_of_the_documented_shape_is_a_position() {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            let body: String = (0..CURSOR_CHARS)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    ALPHABET[(x % 64) as usize] as char
                })
                .collect();
            let c = Cursor::decode(&format!("refunds.{body}"), "refunds")
                .unwrap_or_else(|| panic!("{body} does not decode"));
            assert!(c.k.len() <= CURSOR_KEY_MAX * 3, "{c:?}");
        }
        for edge in ["A", "_", "-", "9"] {
            let body = edge.repeat(CURSOR_CHARS);
            assert!(Cursor::decode(&format!("orders.{body}"), "orders").is_some());
        }
    }
}
