//! Owned rows: a generated row's values captured through the [`FieldVisitor`] contract, so a
//! defect can change them, and replayed to any sink as a [`Row`].

use crate::rng::Uuid;
use crate::table::{FieldVisitor, LogicalType, Row, TableDef};
use crate::time::{Date, Timestamp};

/// One value, typed as the visitor method that delivered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Text(String),
    /// Text from the program's constants (a status, a country): an enum.
    Label(&'static str),
    HexUuid(Uuid),
    Uuid(Uuid),
    Int(i64),
    Decimal(i64),
    Bool(bool),
    Date(Date),
    Timestamp(Timestamp),
    Json(String),
}

impl Value {
    /// The value as a CSV cell would show it (decimals at the column's scale), `None` for
    /// null: the form the defects manifest records clean values and keys in.
    pub fn render(&self, ty: LogicalType) -> Option<String> {
        Some(match self {
            Value::Null => return None,
            Value::Text(s) | Value::Json(s) => s.clone(),
            Value::Label(s) => (*s).to_string(),
            Value::HexUuid(u) => String::from_utf8_lossy(&u.hex()).into_owned(),
            Value::Uuid(u) => String::from_utf8_lossy(&u.hyphenated()).into_owned(),
            Value::Int(i) => i.to_string(),
            Value::Decimal(units) => match ty {
                LogicalType::Decimal { scale, .. } => decimal_text(*units, scale),
                _ => units.to_string(),
            },
            Value::Bool(b) => b.to_string(),
            Value::Date(d) => d.to_string(),
            Value::Timestamp(t) => t.to_string(),
        })
    }
}

/// `units` × 10^-scale as decimal text (`-12.05`).
pub fn decimal_text(units: i64, scale: u8) -> String {
    if scale == 0 {
        return units.to_string();
    }
    let p = 10u64.pow(scale as u32);
    let a = units.unsigned_abs();
    let sign = if units < 0 { "-" } else { "" };
    format!("{sign}{}.{:0w$}", a / p, a % p, w = scale as usize)
}

/// A row of a table as owned values, in column order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedRow(pub Vec<Value>);

impl OwnedRow {
    /// Captures `row`'s values.
    pub fn capture<R: Row>(table: &TableDef, row: &R) -> OwnedRow {
        let mut c = Capture(Vec::with_capacity(table.columns.len()));
        row.visit(&mut c);
        OwnedRow(c.0)
    }

    /// The primary key as text, `|`-separated in key column order (all columns for a table
    /// without a key).
    pub fn key(&self, table: &TableDef) -> String {
        let mut out = String::new();
        let cols: Vec<usize> = if table.primary_key.is_empty() {
            (0..table.columns.len()).collect()
        } else {
            table
                .primary_key
                .iter()
                .filter_map(|k| table.columns.iter().position(|c| c.name == *k))
                .collect()
        };
        for (i, c) in cols.into_iter().enumerate() {
            if i > 0 {
                out.push('|');
            }
            out.push_str(&self.0[c].render(table.columns[c].ty).unwrap_or_default());
        }
        out
    }
}

struct Capture(Vec<Value>);

impl FieldVisitor for Capture {
    fn text(&mut self, v: &str) {
        self.0.push(Value::Text(v.to_string()));
    }
    fn label(&mut self, v: &'static str) {
        self.0.push(Value::Label(v));
    }
    fn hex_uuid(&mut self, v: &Uuid) {
        self.0.push(Value::HexUuid(*v));
    }
    fn uuid(&mut self, v: &Uuid) {
        self.0.push(Value::Uuid(*v));
    }
    fn int(&mut self, v: i64) {
        self.0.push(Value::Int(v));
    }
    fn decimal(&mut self, units: i64) {
        self.0.push(Value::Decimal(units));
    }
    fn bool(&mut self, v: bool) {
        self.0.push(Value::Bool(v));
    }
    fn date(&mut self, v: Date) {
        self.0.push(Value::Date(v));
    }
    fn timestamp(&mut self, v: Timestamp) {
        self.0.push(Value::Timestamp(v));
    }
    fn json(&mut self, v: &str) {
        self.0.push(Value::Json(v.to_string()));
    }
    fn null(&mut self) {
        self.0.push(Value::Null);
    }
}

impl Row for OwnedRow {
    fn visit<V: FieldVisitor>(&self, v: &mut V) {
        for value in &self.0 {
            match value {
                Value::Null => v.null(),
                Value::Text(s) => v.text(s),
                Value::Label(s) => v.label(s),
                Value::HexUuid(u) => v.hex_uuid(u),
                Value::Uuid(u) => v.uuid(u),
                Value::Int(i) => v.int(*i),
                Value::Decimal(u) => v.decimal(*u),
                Value::Bool(b) => v.bool(*b),
                Value::Date(d) => v.date(*d),
                Value::Timestamp(t) => v.timestamp(*t),
                Value::Json(s) => v.json(s),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_render_at_their_scale() {
        assert_eq!(decimal_text(12345, 2), "123.45");
        assert_eq!(decimal_text(-5, 2), "-0.05");
        assert_eq!(decimal_text(7, 0), "7");
    }
}
