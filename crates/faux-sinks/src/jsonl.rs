//! JSON Lines: one object per row, keys in column order, no spaces.
//!
//! Dates and timestamps are strings (`YYYY-MM-DD`, RFC 3339), integers and decimals are JSON
//! numbers written exactly (`1234.56`, never through a float), nulls are `null`, JSON columns
//! are embedded as documents.

use faux::{FieldVisitor, Row, TableDef, Timestamp, Uuid};

use crate::text::{push_decimal, push_int};

#[derive(Debug)]
pub struct JsonlEncoder {
    pub buf: Vec<u8>,
    /// `"name":` per column, with a leading `,` after the first.
    keys: Vec<Vec<u8>>,
    scale: Vec<u8>,
    col: usize,
    /// The last date and hex id written, and labels known to need no escapes: as in
    /// [`crate::csv::CsvEncoder`].
    last_date: (faux::Date, [u8; 10]),
    last_hex: (Uuid, [u8; 32]),
    plain_labels: Box<[(usize, usize); 64]>,
}

impl JsonlEncoder {
    pub fn new(table: &TableDef) -> JsonlEncoder {
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
            buf: Vec::with_capacity(crate::FLUSH_BYTES + 4096),
            keys,
            scale: crate::text::scales(table),
            col: 0,
            last_date: (faux::Date::from_days_since_epoch(0), *b"1970-01-01"),
            last_hex: (Uuid([0; 16]), [b'0'; 32]),
            plain_labels: Box::new([(0, 0); 64]),
        }
    }

    #[inline]
    pub fn row<R: Row>(&mut self, row: &R) {
        self.col = 0;
        row.visit(self);
        self.buf.extend_from_slice(b"}\n");
    }

    #[inline(always)]
    fn key(&mut self) {
        self.buf.extend_from_slice(&self.keys[self.col]);
        self.col += 1;
    }

    #[inline(always)]
    fn quoted_ascii(&mut self, v: &[u8]) {
        self.buf.push(b'"');
        self.buf.extend_from_slice(v);
        self.buf.push(b'"');
    }
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
        let key = (v.as_ptr() as usize, v.len());
        let slot = key.0 % self.plain_labels.len();
        if self.plain_labels[slot] == key {
            self.quoted_ascii(v.as_bytes());
        } else {
            if needs_no_escapes(v) {
                self.plain_labels[slot] = key;
            }
            push_json_string(&mut self.buf, v);
        }
    }
    #[inline(always)]
    fn hex_uuid(&mut self, v: &Uuid) {
        self.key();
        if self.last_hex.0 != *v {
            self.last_hex = (*v, v.hex());
        }
        let hex = self.last_hex.1;
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
        if self.last_date.0 != v {
            self.last_date = (v, v.iso());
        }
        let iso = self.last_date.1;
        self.quoted_ascii(&iso);
    }
    fn timestamp(&mut self, v: Timestamp) {
        self.key();
        self.quoted_ascii(&v.rfc3339());
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
        use faux::{Column, Date, LogicalType as T};
        static TABLE: TableDef = TableDef {
            name: "t",
            description: "",
            columns: &[
                Column::new("a", T::Text, ""),
                Column::new("b", T::Date, ""),
                Column::new("c", T::HexUuid, ""),
            ],
            primary_key: &[],
            cursor: None,
            partition: "b",
        };
        struct R(&'static str, bool, Date, Uuid);
        impl Row for R {
            fn visit<V: FieldVisitor>(&self, v: &mut V) {
                if self.1 {
                    v.label(self.0)
                } else {
                    v.text(self.0)
                }
                v.date(self.2);
                v.hex_uuid(&self.3);
            }
        }
        static LABELS: [&str; 5] = ["MAPS", "say \"hi\"", "MESSAGE", "back\\slash\n", ""];
        let d1 = Date::from_ymd(2024, 1, 31).unwrap();
        let (u1, u2) = (Uuid([0xAB; 16]), Uuid([0x01; 16]));
        let mut rows = Vec::new();
        for round in 0..3 {
            for (i, l) in LABELS.iter().enumerate() {
                let (d, u) = if (i + round) % 2 == 0 {
                    (d1, u1)
                } else {
                    (d1.succ(), u2)
                };
                rows.push(R(l, true, d, u));
                rows.push(R(l, false, d, u));
            }
        }
        let mut enc = JsonlEncoder::new(&TABLE);
        for r in &rows {
            enc.row(r);
        }
        let got = String::from_utf8(enc.buf).unwrap();
        for (line, r) in got.lines().zip(&rows) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let hex: String = r.3.0.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(v["a"], r.0, "{line}");
            assert_eq!(v["b"], r.2.to_string(), "{line}");
            assert_eq!(v["c"], hex, "{line}");
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
