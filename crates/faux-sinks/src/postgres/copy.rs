//! PostgreSQL's binary COPY format, written through the [`FieldVisitor`] contract.
//!
//! A stream is a header, then per row a 16-bit field count and per field a 32-bit length (−1
//! for NULL) and the type's binary "send" representation, then a −1 trailer. Types follow
//! [`crate::sql::Dialect::column_type`]: text, uuid, int8, numeric, bool, date, timestamptz,
//! jsonb.

use faux::{Date, FieldVisitor, Row, TableDef, Timestamp, Uuid};

use crate::sql::DayGuard;

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";
/// 2000-01-01, PostgreSQL's epoch, in days and seconds since 1970-01-01.
const PG_EPOCH_DAYS: i32 = 10_957;
const PG_EPOCH_SECONDS: i64 = 946_684_800;

/// Encodes rows of one table and day into a binary COPY stream.
#[derive(Debug)]
pub struct CopyEncoder {
    pub buf: Vec<u8>,
    scale: Vec<u8>,
    fields: i16,
    col: usize,
    day: DayGuard,
}

impl CopyEncoder {
    pub fn new(table: &'static TableDef, day: Date, capacity: usize) -> CopyEncoder {
        CopyEncoder {
            buf: Vec::with_capacity(capacity),
            scale: crate::text::scales(table),
            fields: table.columns.len() as i16,
            col: 0,
            day: DayGuard::new(table, day),
        }
    }

    /// The first row encoded whose partition value is outside the day, described (see
    /// [`DayGuard`]).
    pub fn take_out_of_day(&mut self) -> Option<String> {
        self.day.take_out_of_day()
    }

    pub fn header(&mut self) {
        self.buf.extend_from_slice(SIGNATURE);
        self.buf.extend_from_slice(&0i32.to_be_bytes()); // flags
        self.buf.extend_from_slice(&0i32.to_be_bytes()); // header extension length
    }

    pub fn trailer(&mut self) {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
    }

    #[inline]
    pub fn row<R: Row>(&mut self, row: &R) {
        self.buf.extend_from_slice(&self.fields.to_be_bytes());
        self.col = 0;
        row.visit(self);
    }

    #[inline(always)]
    fn field(&mut self, bytes: &[u8]) {
        self.buf
            .extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        self.buf.extend_from_slice(bytes);
        self.col += 1;
    }
}

impl FieldVisitor for CopyEncoder {
    #[inline(always)]
    fn text(&mut self, v: &str) {
        self.field(v.as_bytes());
    }
    #[inline(always)]
    fn hex_uuid(&mut self, v: &Uuid) {
        self.field(&v.hex());
    }
    #[inline(always)]
    fn uuid(&mut self, v: &Uuid) {
        self.field(&v.0);
    }
    #[inline(always)]
    fn int(&mut self, v: i64) {
        self.field(&v.to_be_bytes());
    }
    fn decimal(&mut self, units: i64) {
        let mut tmp = [0u8; 64];
        let n = numeric(units, self.scale[self.col], &mut tmp);
        self.field(&tmp[..n]);
    }
    fn bool(&mut self, v: bool) {
        self.field(&[v as u8]);
    }
    fn date(&mut self, v: Date) {
        self.day.check(self.col, v.start().0);
        self.field(&(v.days_since_epoch() - PG_EPOCH_DAYS).to_be_bytes());
    }
    #[inline(always)]
    fn timestamp(&mut self, v: Timestamp) {
        self.day.check(self.col, v.0);
        self.field(&((v.0 - PG_EPOCH_SECONDS) * 1_000_000).to_be_bytes());
    }
    fn json(&mut self, v: &str) {
        // jsonb's binary form: a version byte, then the text
        self.buf
            .extend_from_slice(&(v.len() as i32 + 1).to_be_bytes());
        self.buf.push(1);
        self.buf.extend_from_slice(v.as_bytes());
        self.col += 1;
    }
    fn null(&mut self) {
        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
        self.col += 1;
    }
}

/// `units` × 10^-scale in numeric's binary form (ndigits, weight, sign, dscale, then base-10000
/// digits, most significant first) into `out`; returns the length.
pub fn numeric(units: i64, scale: u8, out: &mut [u8; 64]) -> usize {
    // pad the fraction to whole base-10000 digits so the point falls between two of them
    let pad = (4 - scale as u32 % 4) % 4;
    let mut n = units.unsigned_abs() as u128 * 10u128.pow(pad);
    let frac_groups = (scale as i32 + pad as i32) / 4;
    let mut groups = [0u16; 12];
    let mut len = 0;
    while n > 0 {
        groups[len] = (n % 10_000) as u16;
        n /= 10_000;
        len += 1;
    }
    // groups[..len] is least significant first
    let weight = len as i32 - 1 - frac_groups;
    let mut low = 0;
    while low < len && groups[low] == 0 {
        low += 1;
    }
    let ndigits = len - low;
    let sign: u16 = if units < 0 { 0x4000 } else { 0 };
    let head = [
        (ndigits as i16).to_be_bytes(),
        (if ndigits == 0 { 0 } else { weight as i16 }).to_be_bytes(),
        sign.to_be_bytes(),
        (scale as i16).to_be_bytes(),
    ];
    let mut at = 0;
    for h in head {
        out[at..at + 2].copy_from_slice(&h);
        at += 2;
    }
    for g in groups[low..len].iter().rev() {
        out[at..at + 2].copy_from_slice(&g.to_be_bytes());
        at += 2;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(units: i64, scale: u8) -> Vec<i16> {
        let mut out = [0u8; 64];
        let n = numeric(units, scale, &mut out);
        out[..n]
            .chunks(2)
            .map(|c| i16::from_be_bytes([c[0], c[1]]))
            .collect()
    }

    #[test]
    fn numerics_in_binary() {
        // [ndigits, weight, sign, dscale, digits…]
        assert_eq!(enc(123_456, 2), [2, 0, 0, 2, 1234, 5600]);
        assert_eq!(enc(5, 2), [1, -1, 0, 2, 500]);
        assert_eq!(enc(100, 2), [1, 0, 0, 2, 1]);
        assert_eq!(enc(0, 2), [0, 0, 0, 2]);
        assert_eq!(enc(-100_000_000, 2), [1, 1, 0x4000, 2, 100]);
        assert_eq!(enc(123_456_789, 0), [3, 2, 0, 0, 1, 2345, 6789]);
        assert_eq!(enc(12_345, 5), [2, -1, 0, 5, 1234, 5000]);
        assert_eq!(enc(i64::MIN, 2).len(), 4 + 6);
    }
}
