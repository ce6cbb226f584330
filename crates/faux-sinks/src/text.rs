//! Number formatting shared by the text encoders.

use faux::{LogicalType, TableDef};

/// The decimal scale of each column (0 for non-decimals), indexed by column position.
pub fn scales(table: &TableDef) -> Vec<u8> {
    table
        .columns
        .iter()
        .map(|c| match c.ty {
            LogicalType::Decimal { scale, .. } => scale,
            _ => 0,
        })
        .collect()
}

#[inline(always)]
pub fn push_int(buf: &mut Vec<u8>, v: i64) {
    buf.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// `units` × 10^-scale as plain decimal text, e.g. (123456, 2) → `1234.56`, (-5, 2) → `-0.05`.
pub fn push_decimal(buf: &mut Vec<u8>, units: i64, scale: u8) {
    if scale == 0 {
        return push_int(buf, units);
    }
    if units < 0 {
        buf.push(b'-');
    }
    let abs = units.unsigned_abs();
    let pow = 10u64.pow(scale as u32);
    buf.extend_from_slice(itoa::Buffer::new().format(abs / pow).as_bytes());
    buf.push(b'.');
    let frac = abs % pow;
    let digits = itoa::Buffer::new().format(frac).len();
    buf.extend(std::iter::repeat_n(b'0', scale as usize - digits));
    buf.extend_from_slice(itoa::Buffer::new().format(frac).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_decimals() {
        let f = |u, s| {
            let mut b = Vec::new();
            push_decimal(&mut b, u, s);
            String::from_utf8(b).unwrap()
        };
        assert_eq!(f(123456, 2), "1234.56");
        assert_eq!(f(-5, 2), "-0.05");
        assert_eq!(f(100, 2), "1.00");
        assert_eq!(f(7, 0), "7");
        assert_eq!(f(i64::MIN, 2), "-92233720368547758.08");
    }
}
