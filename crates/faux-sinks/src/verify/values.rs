//! Canonical column values, so rows read back from anywhere — PostgreSQL, SQLite, CSV, JSON
//! Lines, Parquet, loaded by aladdin or by another tool — compare with generated rows.
//!
//! A value is canonicalised by the column's [`LogicalType`], whatever its storage: a timestamp
//! becomes epoch seconds whether it was stored as `timestamptz`, RFC 3339 text or a Parquet
//! timestamp; a decimal becomes integer units at the column's scale whether it was `numeric`,
//! a float or text; a UUID becomes its 16 bytes, hyphenated or not.

use faux::{Date, FieldVisitor, LogicalType, Row, TableDef, Timestamp, Uuid};

/// One canonical value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Val {
    Null,
    /// int; decimal units at the column's scale; date as days since 1970-01-01; timestamp as
    /// seconds since the epoch.
    Int(i64),
    Bool(bool),
    /// text and JSON.
    Text(String),
    Uuid([u8; 16]),
}

/// A stored value as a reader found it, before canonicalisation.
#[derive(Debug, Clone, Copy)]
pub enum Raw<'a> {
    Null,
    /// An integer; for a date column, days since the epoch; for a timestamp, epoch seconds.
    Int(i64),
    Float(f64),
    /// An exact decimal: `units` × 10^-scale.
    Decimal(i128, u8),
    Bool(bool),
    Text(&'a str),
    Bytes(&'a [u8]),
}

/// Collects a generated row's values, canonical, in column order.
#[derive(Debug)]
pub struct Collector<'t> {
    table: &'t TableDef,
    pub values: Vec<Val>,
}

impl<'t> Collector<'t> {
    pub fn new(table: &'t TableDef) -> Collector<'t> {
        Collector {
            table,
            values: Vec::with_capacity(table.columns.len()),
        }
    }

    /// The row's canonical values (the collector is reused).
    pub fn collect<R: Row>(&mut self, row: &R) -> &[Val] {
        self.values.clear();
        row.visit(self);
        debug_assert_eq!(self.values.len(), self.table.columns.len());
        &self.values
    }
}

impl FieldVisitor for Collector<'_> {
    fn text(&mut self, v: &str) {
        self.values.push(Val::Text(v.to_string()));
    }
    fn hex_uuid(&mut self, v: &Uuid) {
        self.values.push(Val::Uuid(v.0));
    }
    fn uuid(&mut self, v: &Uuid) {
        self.values.push(Val::Uuid(v.0));
    }
    fn int(&mut self, v: i64) {
        self.values.push(Val::Int(v));
    }
    fn decimal(&mut self, units: i64) {
        self.values.push(Val::Int(units));
    }
    fn bool(&mut self, v: bool) {
        self.values.push(Val::Bool(v));
    }
    fn date(&mut self, v: Date) {
        self.values.push(Val::Int(v.days_since_epoch() as i64));
    }
    fn timestamp(&mut self, v: Timestamp) {
        self.values.push(Val::Int(v.0));
    }
    fn json(&mut self, v: &str) {
        self.values.push(Val::Text(v.to_string()));
    }
    fn null(&mut self) {
        self.values.push(Val::Null);
    }
}

/// Canonical values presented as a row of `table`, so anything written against the
/// [`FieldVisitor`] contract (e.g. [`faux::truth::TruthSink`]) can consume rows read back.
#[derive(Debug, Clone, Copy)]
pub struct ValuesRow<'a> {
    pub table: &'a TableDef,
    pub values: &'a [Val],
}

impl Row for ValuesRow<'_> {
    fn visit<V: FieldVisitor>(&self, v: &mut V) {
        for (c, val) in self.table.columns.iter().zip(self.values) {
            match (c.ty, val) {
                (_, Val::Null) => v.null(),
                (LogicalType::HexUuid, Val::Uuid(b)) => v.hex_uuid(&Uuid(*b)),
                (LogicalType::Uuid, Val::Uuid(b)) => v.uuid(&Uuid(*b)),
                (LogicalType::Decimal { .. }, Val::Int(u)) => v.decimal(*u),
                (LogicalType::Date, Val::Int(d)) => v.date(Date::from_days_since_epoch(*d as i32)),
                (LogicalType::Timestamp, Val::Int(s)) => v.timestamp(Timestamp(*s)),
                (LogicalType::Json, Val::Text(s)) => v.json(s),
                (_, Val::Int(i)) => v.int(*i),
                (_, Val::Bool(b)) => v.bool(*b),
                (_, Val::Text(s)) => v.text(s),
                (_, Val::Uuid(b)) => v.uuid(&Uuid(*b)),
            }
        }
    }
}

/// The canonical form of a stored value of a column of type `ty`, or why it has none.
pub fn canonical(ty: LogicalType, raw: Raw<'_>) -> Result<Val, String> {
    let bad = |what: &str| Err(format!("{what} is not a valid {}", ty.describe()));
    match raw {
        Raw::Null => return Ok(Val::Null),
        Raw::Text(s) => return canonical_text(ty, s),
        _ => {}
    }
    match (ty, raw) {
        (LogicalType::Int, Raw::Int(i)) => Ok(Val::Int(i)),
        (LogicalType::Int, Raw::Decimal(u, s)) => {
            let p = 10i128.pow(s as u32);
            if u % p != 0 {
                return bad(&format!("{u}e-{s}"));
            }
            i64::try_from(u / p)
                .map(Val::Int)
                .or_else(|_| bad("a huge number"))
        }
        (LogicalType::Int, Raw::Float(f)) if f.fract() == 0.0 => Ok(Val::Int(f as i64)),
        (LogicalType::Decimal { scale, .. }, Raw::Int(i)) => i
            .checked_mul(10i64.pow(scale as u32))
            .map(Val::Int)
            .ok_or_else(|| format!("{i} overflows")),
        (LogicalType::Decimal { scale, .. }, Raw::Float(f)) => {
            Ok(Val::Int((f * 10f64.powi(scale as i32)).round() as i64))
        }
        (LogicalType::Decimal { scale, .. }, Raw::Decimal(u, s)) => rescale(u, s, scale)
            .map(Val::Int)
            .ok_or_else(|| format!("{u}e-{s} does not fit scale {scale}")),
        (LogicalType::Bool, Raw::Bool(b)) => Ok(Val::Bool(b)),
        (LogicalType::Bool, Raw::Int(i)) => Ok(Val::Bool(i != 0)),
        (LogicalType::Date | LogicalType::Timestamp, Raw::Int(i)) => Ok(Val::Int(i)),
        (LogicalType::Uuid | LogicalType::HexUuid, Raw::Bytes(b)) if b.len() == 16 => {
            let mut u = [0u8; 16];
            u.copy_from_slice(b);
            Ok(Val::Uuid(u))
        }
        (LogicalType::Text | LogicalType::Json, Raw::Bytes(b)) => std::str::from_utf8(b)
            .map(|s| Val::Text(s.to_string()))
            .or_else(|_| bad("non-UTF-8 bytes")),
        (_, other) => bad(&format!("{other:?}")),
    }
}

fn rescale(units: i128, from: u8, to: u8) -> Option<i64> {
    let v = if to >= from {
        units.checked_mul(10i128.pow((to - from) as u32))?
    } else {
        let p = 10i128.pow((from - to) as u32);
        if units % p != 0 {
            return None;
        }
        units / p
    };
    i64::try_from(v).ok()
}

/// The canonical form of a value stored as text.
pub fn canonical_text(ty: LogicalType, s: &str) -> Result<Val, String> {
    let bad = || Err(format!("{s:?} is not a valid {}", ty.describe()));
    match ty {
        LogicalType::Text | LogicalType::Json => Ok(Val::Text(s.to_string())),
        LogicalType::Uuid | LogicalType::HexUuid => {
            parse_uuid(s).map(Val::Uuid).ok_or(()).or_else(|_| bad())
        }
        LogicalType::Int => s.trim().parse::<i64>().map(Val::Int).or_else(|_| {
            // "12.0" from a float column
            parse_decimal(s, 0)
                .map(Val::Int)
                .ok_or(())
                .or_else(|_| bad())
        }),
        LogicalType::Decimal { scale, .. } => parse_decimal(s, scale)
            .map(Val::Int)
            .ok_or(())
            .or_else(|_| bad()),
        LogicalType::Bool => match s.trim() {
            "t" | "true" | "TRUE" | "True" | "1" | "y" | "yes" => Ok(Val::Bool(true)),
            "f" | "false" | "FALSE" | "False" | "0" | "n" | "no" => Ok(Val::Bool(false)),
            _ => bad(),
        },
        LogicalType::Date => {
            let t = s.trim();
            t.get(..10)
                .and_then(|d| d.parse::<Date>().ok())
                .map(|d| Val::Int(d.days_since_epoch() as i64))
                .ok_or(())
                .or_else(|_| bad())
        }
        LogicalType::Timestamp => parse_timestamp(s)
            .map(|t| Val::Int(t.0))
            .ok_or(())
            .or_else(|_| bad()),
    }
}

/// 32 hex digits, with or without the hyphens of the canonical form, any case.
pub fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    let mut n = 0;
    for c in s.trim().bytes() {
        if c == b'-' {
            continue;
        }
        let d = (c as char).to_digit(16)? as u8;
        if n >= 32 {
            return None;
        }
        out[n / 2] |= if n % 2 == 0 { d << 4 } else { d };
        n += 1;
    }
    (n == 32).then_some(out)
}

/// A decimal number as integer units of 10^-scale, exactly (`"12.5"` at scale 2 → 1250);
/// `None` if it has more fractional digits than the scale (other than zeros) or overflows.
/// Accepts an exponent (`1.25e1`), as JSON writers sometimes produce.
pub fn parse_decimal(s: &str, scale: u8) -> Option<i64> {
    let s = s.trim();
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (neg, digits) = match mantissa.as_bytes().first()? {
        b'-' => (true, &mantissa[1..]),
        b'+' => (false, &mantissa[1..]),
        _ => (false, mantissa),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut units: i128 = 0;
    let mut frac_digits: i32 = 0;
    for c in int.bytes() {
        units = units
            .checked_mul(10)?
            .checked_add(char::from(c).to_digit(10)? as i128)?;
    }
    for c in frac.bytes() {
        units = units
            .checked_mul(10)?
            .checked_add(char::from(c).to_digit(10)? as i128)?;
        frac_digits += 1;
    }
    // units × 10^(exp − frac_digits) = result × 10^-scale
    let shift = scale as i32 + exp - frac_digits;
    if shift >= 0 {
        units = units.checked_mul(10i128.checked_pow(shift as u32)?)?;
    } else {
        let p = 10i128.checked_pow((-shift) as u32)?;
        if units % p != 0 {
            return None;
        }
        units /= p;
    }
    let v = i64::try_from(units).ok()?;
    Some(if neg { -v } else { v })
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z | ±HH | ±HH:MM | ±HHMM]` (no zone means UTC), or a
/// bare date (its first second). Fractions are truncated: stored timestamps are whole seconds.
pub fn parse_timestamp(s: &str) -> Option<Timestamp> {
    let t = s.trim();
    let date: Date = t.get(..10)?.parse().ok()?;
    if t.len() == 10 {
        return Some(date.start());
    }
    let b = t.as_bytes();
    if !matches!(b.get(10)?, b'T' | b't' | b' ') || b.get(13)? != &b':' || b.get(16)? != &b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = t.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (h, m, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let mut rest = &t[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        rest = &frac[digits..];
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let z = rest[1..].replace(':', "");
            let (oh, om) = match z.len() {
                2 => (z.parse::<i64>().ok()?, 0),
                4 => (z[..2].parse::<i64>().ok()?, z[2..].parse::<i64>().ok()?),
                _ => return None,
            };
            sign * (oh * 3600 + om * 60)
        }
    };
    Some(Timestamp(
        date.start().0 + h * 3600 + m * 60 + sec.min(59) - offset,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_parse_exactly() {
        assert_eq!(parse_decimal("12.5", 2), Some(1250));
        assert_eq!(parse_decimal("12.500000000", 2), Some(1250));
        assert_eq!(parse_decimal("-0.05", 2), Some(-5));
        assert_eq!(parse_decimal("7", 2), Some(700));
        assert_eq!(parse_decimal("1.25e1", 2), Some(1250));
        assert_eq!(parse_decimal("1.255", 2), None);
        assert_eq!(parse_decimal("abc", 2), None);
        assert_eq!(parse_decimal("", 2), None);
    }

    #[test]
    fn timestamps_in_the_forms_databases_print() {
        let want = Some(Timestamp(1_704_110_400)); // 2024-01-01T12:00:00Z
        for s in [
            "2024-01-01T12:00:00Z",
            "2024-01-01 12:00:00+00",
            "2024-01-01 13:00:00+01:00",
            "2024-01-01 12:00:00.000000",
            "2024-01-01T07:00:00-0500",
        ] {
            assert_eq!(parse_timestamp(s), want, "{s}");
        }
        assert_eq!(
            parse_timestamp("2024-01-01"),
            Some(Timestamp(1_704_067_200))
        );
        assert_eq!(parse_timestamp("2024-01-01 12:00"), None);
    }

    #[test]
    fn uuids_with_or_without_hyphens() {
        let a = parse_uuid("0123456789abcdef0123456789ABCDEF").unwrap();
        let b = parse_uuid("01234567-89ab-cdef-0123-456789abcdef").unwrap();
        assert_eq!(a, b);
        assert_eq!(parse_uuid("0123"), None);
        assert_eq!(parse_uuid("0123456789abcdef0123456789abcdefff"), None);
    }

    #[test]
    fn raw_forms_agree() {
        let money = LogicalType::Decimal {
            precision: 12,
            scale: 2,
        };
        for raw in [
            Raw::Text("12.50"),
            Raw::Float(12.5),
            Raw::Decimal(125_000, 4),
        ] {
            assert_eq!(canonical(money, raw), Ok(Val::Int(1250)));
        }
        assert_eq!(
            canonical(LogicalType::Bool, Raw::Int(1)),
            Ok(Val::Bool(true))
        );
        assert_eq!(
            canonical(LogicalType::Bool, Raw::Text("f")),
            Ok(Val::Bool(false))
        );
        assert!(canonical(LogicalType::Int, Raw::Text("x")).is_err());
    }
}
