//! CSV (RFC 4180): a header row of column names, `,` separators, CRLF line ends, fields quoted
//! only when they contain a separator, a quote or a line break — byte for byte what Python's
//! `csv.writer` (the Shiny Rocks original) writes for the same values.

use faux::{FieldVisitor, Row, TableDef, Timestamp, Uuid};

use crate::text::{Recent, push_decimal, push_int};

/// Bytes that make a field quoted: the separator, the quote and line breaks.
static NEEDS_QUOTES: [bool; 256] = {
    let mut t = [false; 256];
    t[b',' as usize] = true;
    t[b'"' as usize] = true;
    t[b'\r' as usize] = true;
    t[b'\n' as usize] = true;
    t
};

#[inline(always)]
fn needs_quotes(v: &str) -> bool {
    v.bytes().any(|b| NEEDS_QUOTES[b as usize])
}

#[derive(Debug)]
pub struct CsvEncoder {
    pub buf: Vec<u8>,
    scale: Vec<u8>,
    col: usize,
    recent: Recent,
}

impl CsvEncoder {
    pub fn new(table: &TableDef) -> CsvEncoder {
        CsvEncoder {
            buf: Vec::with_capacity(crate::FLUSH_BYTES + 4096),
            scale: crate::text::scales(table),
            col: 0,
            recent: Recent::new(),
        }
    }

    pub fn header(&mut self, table: &TableDef) {
        for c in table.columns {
            self.push_text(c.name, needs_quotes(c.name));
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

    /// `v` and its comma, quoted if `quote` (whether it needs quotes, worked out by the caller).
    #[inline(always)]
    fn push_text(&mut self, v: &str, quote: bool) {
        if quote {
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
        self.push_text(v, needs_quotes(v));
        self.col += 1;
    }
    #[inline(always)]
    fn label(&mut self, v: &'static str) {
        let plain = self.recent.plain_label(v, |v| !needs_quotes(v));
        self.push_text(v, !plain);
        self.col += 1;
    }
    #[inline(always)]
    fn hex_uuid(&mut self, v: &Uuid) {
        let hex = self.recent.hex(v);
        self.buf.extend_from_slice(&hex);
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
        let iso = self.recent.iso(v);
        self.buf.extend_from_slice(&iso);
        self.buf.push(b',');
        self.col += 1;
    }
    fn timestamp(&mut self, v: Timestamp) {
        let text = self.recent.rfc3339(v);
        self.buf.extend_from_slice(&text);
        self.buf.push(b',');
        self.col += 1;
    }
    fn json(&mut self, v: &str) {
        self.push_text(v, needs_quotes(v));
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
    use crate::text::fixture::{TABLE, rows};

    #[test]
    fn quotes_labels_and_text_alike_whatever_was_written_before() {
        static STRINGS: [&str; 6] = ["MAPS", "a,b", "say \"hi\"", "MESSAGE", "two\r\nlines", ""];
        let rows = rows(&STRINGS);
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
            .map(|r| format!("{},{},{}\r\n", quoted(r.0), r.2, r.hex()))
            .collect();
        assert_eq!(String::from_utf8(enc.buf).unwrap(), want);
        assert!(want.contains("\"a,b\",2024-01-31,"));
        assert!(want.contains("\"say \"\"hi\"\"\",2024-02-01,"));
    }
}
