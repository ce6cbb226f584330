//! Number formatting and value caches shared by the text encoders.

use faux::{Date, LogicalType, TableDef, Timestamp, Uuid};

/// The text of recently written values, which rows repeat: a day's rows share one date, a
/// Shiny Rocks order's services repeat its user_id, and labels (the scenario's own constant
/// strings) recur endlessly.
#[derive(Debug)]
pub struct Recent {
    date: (Date, [u8; 10]),
    hex: (Uuid, [u8; 32]),
    /// Labels known to need no quoting or escaping, by address, direct-mapped on the low 6
    /// bits so that the labels of one column, stored side by side, get slots of their own.
    /// Remembering them skips a per-byte scan whose exit mispredicts when labels of different
    /// lengths alternate (MAPS, MUSIC, MESSAGE).
    plain_labels: Box<[(usize, usize); 64]>,
}

impl Recent {
    pub fn new() -> Recent {
        Recent {
            date: (Date::from_days_since_epoch(0), *b"1970-01-01"),
            hex: (Uuid([0; 16]), [b'0'; 32]),
            plain_labels: Box::new([(0, 0); 64]),
        }
    }

    #[inline(always)]
    pub fn iso(&mut self, v: Date) -> [u8; 10] {
        if self.date.0 != v {
            self.date = (v, v.iso());
        }
        self.date.1
    }

    /// [`Timestamp::rfc3339`], its date part remembered (a day's rows share it; working it
    /// out from the day number each time was most of a timestamp's cost).
    #[inline(always)]
    pub fn rfc3339(&mut self, v: Timestamp) -> [u8; 20] {
        v.rfc3339_on(self.iso(v.date()))
    }

    #[inline(always)]
    pub fn hex(&mut self, v: &Uuid) -> [u8; 32] {
        if self.hex.0 != *v {
            self.hex = (*v, v.hex());
        }
        self.hex.1
    }

    /// Whether `v` is plain by `is_plain`, asking it only the first time (per slot) for a label.
    #[inline(always)]
    pub fn plain_label(&mut self, v: &'static str, is_plain: impl Fn(&str) -> bool) -> bool {
        let key = (v.as_ptr() as usize, v.len());
        let slot = key.0 % self.plain_labels.len();
        if self.plain_labels[slot] == key {
            return true;
        }
        let plain = is_plain(v);
        if plain {
            self.plain_labels[slot] = key;
        }
        plain
    }
}

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

/// Rows for the encoders' tests: labels and text, with dates and ids that change and repeat.
#[cfg(test)]
pub(crate) mod fixture {
    use faux::{Column, Date, FieldVisitor, LogicalType as T, Row, TableDef, Uuid};

    pub static TABLE: TableDef = TableDef {
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
        created: None,
        parent: None,
        keep: faux::Keep::Window,
    };

    /// (string, written as a label?, date, id)
    pub struct R(pub &'static str, pub bool, pub Date, pub Uuid);

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

    impl R {
        pub fn hex(&self) -> String {
            self.3.0.iter().map(|b| format!("{b:02x}")).collect()
        }
    }

    /// Every string three times over, as a label and as text, alternating two dates and ids.
    pub fn rows(strings: &'static [&'static str]) -> Vec<R> {
        let d1 = Date::from_ymd(2024, 1, 31).expect("a date");
        let (u1, u2) = (Uuid([0xAB; 16]), Uuid([0x01; 16]));
        let mut rows = Vec::new();
        for round in 0..3 {
            for (i, s) in strings.iter().enumerate() {
                let (d, u) = if (i + round) % 2 == 0 {
                    (d1, u1)
                } else {
                    (d1.succ(), u2)
                };
                rows.push(R(s, true, d, u));
                rows.push(R(s, false, d, u));
            }
        }
        rows
    }
}
