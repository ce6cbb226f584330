//! JSON Lines: one object per row, keys in column order, no spaces.
//!
//! Dates and timestamps are strings (`YYYY-MM-DD`, RFC 3339), integers and decimals are JSON
//! numbers written exactly (`1234.56`, never through a float), nulls are `null`, JSON columns
//! are embedded as documents.

use faux::{FieldVisitor, Row, TableDef, Timestamp, Uuid};

use crate::text::{Recent, push_decimal, push_int};

#[derive(Debug)]
pub struct JsonlEncoder {
    pub buf: Vec<u8>,
    /// `"name":` per column, with a leading `,` after the first.
    keys: Vec<Vec<u8>>,
    scale: Vec<u8>,
    col: usize,
    recent: Recent,
}

impl JsonlEncoder {
    pub fn new(table: &TableDef) -> JsonlEncoder {
        JsonlEncoder::with_capacity(table, crate::FLUSH_BYTES + 4096)
    }

    /// An encoder whose buffer starts with room for `capacity` bytes (the stream encodes one
    /// small message at a time).
    pub fn with_capacity(table: &TableDef, capacity: usize) -> JsonlEncoder {
        let keys = table
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut k = Vec::new();
                k.push(if i == 0 { b'{' } else { b',' });
                push_json_string(&mut k, c.name);
                k.push(b':');
                k
            })
            .collect();
        JsonlEncoder {
            buf: Vec::with_capacity(capacity),
            keys,
            scale: crate::text::scales(table),
            col: 0,
            recent: Recent::new(),
        }
    }

    /// Appends `row` as a line.
    #[inline]
    pub fn row<R: Row>(&mut self, row: &R) {
        self.object(row);
        self.buf.push(b'\n');
    }

    /// Appends `row` as a JSON object, without a newline: how the stream embeds a row in a
    /// message, byte for byte the line of the files.
    #[inline]
    pub fn object<R: Row>(&mut self, row: &R) {
        self.col = 0;
        row.visit(self);
        self.buf.push(b'}');
    }

    #[inline(always)]
    fn key(&mut self) {
        self.buf.extend_from_slice(&self.keys[self.col]);
        self.col += 1;
    }

    /// `ts` as RFC 3339 text, its date remembered from the last one written.
    #[inline(always)]
    pub fn rfc3339(&mut self, ts: Timestamp) -> [u8; 20] {
        self.recent.rfc3339(ts)
    }

    #[inline(always)]
    fn quoted_ascii(&mut self, v: &[u8]) {
        push_quoted_ascii(&mut self.buf, v);
    }
}

/// Appends `v`, ASCII that needs no escapes (a date, a timestamp, an id), as a JSON string.
#[inline(always)]
pub fn push_quoted_ascii(buf: &mut Vec<u8>, v: &[u8]) {
    buf.push(b'"');
    buf.extend_from_slice(v);
    buf.push(b'"');
}

/// Whether `v` goes into a JSON string as it is.
#[inline(always)]
fn needs_no_escapes(v: &str) -> bool {
    !v.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\')
}

/// Appends `v` as a JSON string literal.
pub fn push_json_string(buf: &mut Vec<u8>, v: &str) {
    buf.push(b'"');
    if needs_no_escapes(v) {
        buf.extend_from_slice(v.as_bytes());
    } else {
        for ch in v.chars() {
            match ch {
                '"' => buf.extend_from_slice(b"\\\""),
                '\\' => buf.extend_from_slice(b"\\\\"),
                '\n' => buf.extend_from_slice(b"\\n"),
                '\r' => buf.extend_from_slice(b"\\r"),
                '\t' => buf.extend_from_slice(b"\\t"),
                c if (c as u32) < 0x20 => {
                    buf.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
                }
                c => {
                    let mut tmp = [0u8; 4];
                    buf.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                }
            }
        }
    }
    buf.push(b'"');
}

impl FieldVisitor for JsonlEncoder {
    #[inline(always)]
    fn text(&mut self, v: &str) {
        self.key();
        push_json_string(&mut self.buf, v);
    }
    #[inline(always)]
    fn label(&mut self, v: &'static str) {
        self.key();
        if self.recent.plain_label(v, needs_no_escapes) {
            self.quoted_ascii(v.as_bytes());
        } else {
            push_json_string(&mut self.buf, v);
        }
    }
    #[inline(always)]
    fn hex_uuid(&mut self, v: &Uuid) {
        self.key();
        let hex = self.recent.hex(v);
        self.quoted_ascii(&hex);
    }
    fn uuid(&mut self, v: &Uuid) {
        self.key();
        self.quoted_ascii(&v.hyphenated());
    }
    #[inline(always)]
    fn int(&mut self, v: i64) {
        self.key();
        push_int(&mut self.buf, v);
    }
    fn decimal(&mut self, units: i64) {
        let scale = self.scale[self.col];
        self.key();
        push_decimal(&mut self.buf, units, scale);
    }
    fn bool(&mut self, v: bool) {
        self.key();
        self.buf
            .extend_from_slice(if v { b"true" } else { b"false" });
    }
    #[inline(always)]
    fn date(&mut self, v: faux::Date) {
        self.key();
        let iso = self.recent.iso(v);
        self.quoted_ascii(&iso);
    }
    fn timestamp(&mut self, v: Timestamp) {
        self.key();
        let text = self.recent.rfc3339(v);
        self.quoted_ascii(&text);
    }
    fn json(&mut self, v: &str) {
        self.key();
        self.buf.extend_from_slice(v.as_bytes());
    }
    fn null(&mut self) {
        self.key();
        self.buf.extend_from_slice(b"null");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_text_dates_and_ids_whatever_was_written_before() {
        use crate::text::fixture::{TABLE, rows};
        static STRINGS: [&str; 5] = ["MAPS", "say \"hi\"", "MESSAGE", "back\\slash\n", ""];
        let rows = rows(&STRINGS);
        let mut enc = JsonlEncoder::new(&TABLE);
        for r in &rows {
            enc.row(r);
        }
        let got = String::from_utf8(enc.buf).unwrap();
        for (line, r) in got.lines().zip(&rows) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["a"], r.0, "{line}");
            assert_eq!(v["b"], r.2.to_string(), "{line}");
            assert_eq!(v["c"], r.hex(), "{line}");
        }
        assert_eq!(got.lines().count(), rows.len());
    }

    #[test]
    fn escapes_strings() {
        let mut b = Vec::new();
        push_json_string(&mut b, "a\"b\\c\nd\u{1}é");
        assert_eq!(String::from_utf8(b).unwrap(), r#""a\"b\\c\nd\u0001é""#);
    }
}
