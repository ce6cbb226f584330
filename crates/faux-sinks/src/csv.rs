//! CSV (RFC 4180): a header row of column names, `,` separators, CRLF line ends, fields quoted
//! only when they contain a separator, a quote or a line break — byte for byte what Python's
//! `csv.writer` (the Shiny Rocks original) writes for the same values.

use faux::{FieldVisitor, Row, TableDef, Timestamp, Uuid};

use crate::text::{push_decimal, push_int};

#[derive(Debug)]
pub struct CsvEncoder {
    pub buf: Vec<u8>,
    scale: Vec<u8>,
    col: usize,
}

impl CsvEncoder {
    pub fn new(table: &TableDef) -> CsvEncoder {
        CsvEncoder {
            buf: Vec::with_capacity(crate::FLUSH_BYTES + 4096),
            scale: crate::text::scales(table),
            col: 0,
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
        let needs_quotes = v.bytes().any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'));
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
    fn hex_uuid(&mut self, v: &Uuid) {
        self.buf.extend_from_slice(&v.hex());
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
        self.buf.extend_from_slice(&v.iso());
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
