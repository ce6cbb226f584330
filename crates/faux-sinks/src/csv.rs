//! CSV (RFC 4180): a header row of column names, `,` separators, CRLF line ends, fields quoted
//! only when they contain a separator, a quote or a line break — byte for byte what Python's
//! `csv.writer` (the Shiny Rocks original) writes for the same values.

use faux::{FieldVisitor, Row, TableDef, Timestamp, Uuid};

use crate::text::{push_decimal, push_int};

/// Bytes that make a field quoted: the separator, the quote and line breaks.
static NEEDS_QUOTES: [bool; 256] = {
    let mut t = [false; 256];
    t[b',' as usize] = true;
    t[b'"' as usize] = true;
    t[b'\r' as usize] = true;
    t[b'\n' as usize] = true;
    t
};

#[derive(Debug)]
pub struct CsvEncoder {
    pub buf: Vec<u8>,
    scale: Vec<u8>,
    col: usize,
    /// The last date written and its text: a day's rows mostly share one date.
    last_date: (faux::Date, [u8; 10]),
    /// The last hex id written: a Shiny Rocks order's services all repeat its user_id.
    last_hex: (Uuid, [u8; 32]),
    /// Labels known to need no quotes, by address (direct-mapped on the low 6 bits, so the
    /// labels of one column, stored side by side, get slots of their own): skips the byte
    /// scan, whose length-dependent exit mispredicts when labels of different lengths alternate.
    plain_labels: Box<[(usize, usize); 64]>,
}

impl CsvEncoder {
    pub fn new(table: &TableDef) -> CsvEncoder {
        CsvEncoder {
            buf: Vec::with_capacity(crate::FLUSH_BYTES + 4096),
            scale: crate::text::scales(table),
            col: 0,
            last_date: (faux::Date::from_days_since_epoch(0), *b"1970-01-01"),
            last_hex: (Uuid([0; 16]), [b'0'; 32]),
            plain_labels: Box::new([(0, 0); 64]),
        }
    }

    pub fn header(&mut self, table: &TableDef) {
        for c in table.columns {
            self.push_text(c.name);
        }
        self.end_row();
    }

    #[inline]
    pub fn row<R: Row>(&mut self, row: &R) {
        self.col = 0;
        row.visit(self);
        self.end_row();
    }

    #[inline(always)]
    fn end_row(&mut self) {
        // every field is followed by a comma; the last one becomes the line end
        self.buf.pop();
        self.buf.extend_from_slice(b"\r\n");
    }

    #[inline(always)]
    fn push_text(&mut self, v: &str) {
        let needs_quotes = v.bytes().any(|b| NEEDS_QUOTES[b as usize]);
        if needs_quotes {
            self.buf.push(b'"');
            for b in v.bytes() {
                if b == b'"' {
                    self.buf.push(b'"');
                }
                self.buf.push(b);
            }
            self.buf.push(b'"');
        } else {
            self.buf.extend_from_slice(v.as_bytes());
        }
        self.buf.push(b',');
    }
}

impl FieldVisitor for CsvEncoder {
    #[inline(always)]
    fn text(&mut self, v: &str) {
        self.push_text(v);
        self.col += 1;
    }
    #[inline(always)]
    fn label(&mut self, v: &'static str) {
        let key = (v.as_ptr() as usize, v.len());
        let slot = key.0 % self.plain_labels.len();
        if self.plain_labels[slot] == key {
            self.buf.extend_from_slice(v.as_bytes());
            self.buf.push(b',');
        } else {
            if !v.bytes().any(|b| NEEDS_QUOTES[b as usize]) {
                self.plain_labels[slot] = key;
            }
            self.push_text(v);
        }
        self.col += 1;
    }
    #[inline(always)]
    fn hex_uuid(&mut self, v: &Uuid) {
        if self.last_hex.0 != *v {
            self.last_hex = (*v, v.hex());
        }
        self.buf.extend_from_slice(&self.last_hex.1);
        self.buf.push(b',');
        self.col += 1;
    }
    fn uuid(&mut self, v: &Uuid) {
        self.buf.extend_from_slice(&v.hyphenated());
        self.buf.push(b',');
        self.col += 1;
    }
    #[inline(always)]
    fn int(&mut self, v: i64) {
        push_int(&mut self.buf, v);
        self.buf.push(b',');
        self.col += 1;
    }
    fn decimal(&mut self, units: i64) {
        push_decimal(&mut self.buf, units, self.scale[self.col]);
        self.buf.push(b',');
        self.col += 1;
    }
    fn bool(&mut self, v: bool) {
        self.buf
            .extend_from_slice(if v { b"true," } else { b"false," });
        self.col += 1;
    }
    #[inline(always)]
    fn date(&mut self, v: faux::Date) {
        if self.last_date.0 != v {
            self.last_date = (v, v.iso());
        }
        self.buf.extend_from_slice(&self.last_date.1);
        self.buf.push(b',');
        self.col += 1;
    }
    fn timestamp(&mut self, v: Timestamp) {
        self.buf.extend_from_slice(&v.rfc3339());
        self.buf.push(b',');
        self.col += 1;
    }
    fn json(&mut self, v: &str) {
        self.push_text(v);
        self.col += 1;
    }
    fn null(&mut self) {
        self.buf.push(b',');
        self.col += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn quotes_labels_and_text_alike_whatever_was_written_before() {
        // labels of every kind, each written several times, in both orders
        static LABELS: [&str; 6] = ["MAPS", "a,b", "say \"hi\"", "MESSAGE", "two\r\nlines", ""];
        let d1 = Date::from_ymd(2024, 1, 31).unwrap();
        let d2 = d1.succ();
        let u1 = Uuid([0xAB; 16]);
        let u2 = Uuid([0x01; 16]);
        let mut rows = Vec::new();
        for round in 0..3 {
            for (i, l) in LABELS.iter().enumerate() {
                let (d, u) = if (i + round) % 2 == 0 {
                    (d1, u1)
                } else {
                    (d2, u2)
                };
                rows.push(R(l, true, d, u));
                rows.push(R(l, false, d, u));
            }
        }
        let mut enc = CsvEncoder::new(&TABLE);
        for r in &rows {
            enc.row(r);
        }
        let quoted = |l: &str| {
            if l.contains([',', '"', '\r', '\n']) {
                format!("\"{}\"", l.replace('"', "\"\""))
            } else {
                l.to_string()
            }
        };
        let want: String = rows
            .iter()
            .map(|r| {
                let hex: String = r.3.0.iter().map(|b| format!("{b:02x}")).collect();
                format!("{},{},{hex}\r\n", quoted(r.0), r.2)
            })
            .collect();
        assert_eq!(String::from_utf8(enc.buf).unwrap(), want);
        assert!(want.contains("\"a,b\",2024-01-31,"));
        assert!(want.contains("\"say \"\"hi\"\"\",2024-02-01,"));
    }
}
