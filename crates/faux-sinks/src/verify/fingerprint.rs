//! A row reduced to what the comparison needs — a key hash, a version, a day and a content
//! digest — from collected canonical values (loaded rows) or straight from a generated row.

use faux::{Date, LogicalType, Row, TableDef};
use xxhash_rust::xxh3::{xxh3_64, xxh3_128};

use super::values::Val;

/// Which columns make a row's key, version, partition day and content.
#[derive(Debug)]
pub struct Shape {
    pub(super) key: Vec<usize>,
    cursor: Option<usize>,
    partition: usize,
    partition_is_date: bool,
    content: Vec<usize>,
}

/// A row reduced to what the comparison needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    pub key: u128,
    /// The cursor in epoch seconds (0 for tables without one).
    pub version: i64,
    /// Day of the partition column (`None` if it is null).
    pub day: Option<Date>,
    pub content: u64,
}

fn position(table: &TableDef, name: &str) -> usize {
    table
        .columns
        .iter()
        .position(|c| c.name == name)
        .unwrap_or_else(|| panic!("table {} defines no column {name}", table.name))
}

impl Shape {
    pub fn new(table: &TableDef) -> Shape {
        let key = if table.primary_key.is_empty() {
            (0..table.columns.len()).collect()
        } else {
            table
                .primary_key
                .iter()
                .map(|k| position(table, k))
                .collect()
        };
        let partition = position(table, table.partition);
        Shape {
            key,
            cursor: table.cursor.map(|c| position(table, c)),
            partition,
            partition_is_date: table.columns[partition].ty == LogicalType::Date,
            content: (0..table.columns.len())
                .filter(|&i| table.columns[i].ty != LogicalType::Json)
                .collect(),
        }
    }

    pub fn fingerprint(&self, values: &[Val], buf: &mut Vec<u8>) -> Fingerprint {
        buf.clear();
        for &i in &self.key {
            encode(buf, ValRef::of(&values[i]));
        }
        let key = xxh3_128(buf);
        buf.clear();
        for &i in &self.content {
            encode(buf, ValRef::of(&values[i]));
        }
        let content = xxh3_64(buf);
        let version = match self.cursor.map(|i| &values[i]) {
            Some(Val::Int(s)) => *s,
            _ => 0,
        };
        let partition = match &values[self.partition] {
            Val::Int(v) => Some(*v),
            _ => None,
        };
        self.finish(key, content, version, partition)
    }

    fn finish(&self, key: u128, content: u64, version: i64, partition: Option<i64>) -> Fingerprint {
        let day = partition.map(|v| {
            if self.partition_is_date {
                Date::from_days_since_epoch(v as i32)
            } else {
                faux::Timestamp(v).date()
            }
        });
        Fingerprint {
            key,
            version,
            day,
            content,
        }
    }
}

/// A canonical value, borrowed: what is hashed into keys and content digests.
#[derive(Debug, Clone, Copy)]
enum ValRef<'a> {
    Null,
    Int(i64),
    Bool(bool),
    Text(&'a str),
    Uuid(&'a [u8; 16]),
}

impl<'a> ValRef<'a> {
    fn of(v: &'a Val) -> ValRef<'a> {
        match v {
            Val::Null => ValRef::Null,
            Val::Int(i) => ValRef::Int(*i),
            Val::Bool(b) => ValRef::Bool(*b),
            Val::Text(s) => ValRef::Text(s),
            Val::Uuid(u) => ValRef::Uuid(u),
        }
    }
}

fn encode(buf: &mut Vec<u8>, v: ValRef<'_>) {
    match v {
        ValRef::Null => buf.push(0),
        ValRef::Int(i) => {
            buf.push(1);
            buf.extend_from_slice(&i.to_le_bytes());
        }
        ValRef::Bool(b) => buf.extend_from_slice(&[2, b as u8]),
        ValRef::Text(s) => {
            buf.push(3);
            buf.extend_from_slice(&(s.len() as u64).to_le_bytes());
            buf.extend_from_slice(s.as_bytes());
        }
        ValRef::Uuid(u) => {
            buf.push(4);
            buf.extend_from_slice(u);
        }
    }
}

/// Fingerprints generated rows as they are visited, without collecting their values; the
/// same bytes as [`Shape::fingerprint`] of the collected values.
pub(super) struct Fingerprinter<'s> {
    shape: &'s Shape,
    is_key: Vec<bool>,
    is_content: Vec<bool>,
    col: usize,
    key: Vec<u8>,
    content: Vec<u8>,
    version: i64,
    partition: Option<i64>,
}

impl<'s> Fingerprinter<'s> {
    pub(super) fn new(shape: &'s Shape, columns: usize) -> Fingerprinter<'s> {
        Fingerprinter {
            shape,
            is_key: (0..columns).map(|i| shape.key.contains(&i)).collect(),
            is_content: (0..columns).map(|i| shape.content.contains(&i)).collect(),
            col: 0,
            key: Vec::new(),
            content: Vec::new(),
            version: 0,
            partition: None,
        }
    }

    pub(super) fn fingerprint<R: Row>(&mut self, row: &R) -> Fingerprint {
        self.col = 0;
        self.key.clear();
        self.content.clear();
        self.version = 0;
        self.partition = None;
        row.visit(self);
        self.shape.finish(
            xxh3_128(&self.key),
            xxh3_64(&self.content),
            self.version,
            self.partition,
        )
    }

    fn put(&mut self, v: ValRef<'_>) {
        let c = self.col;
        if self.is_key[c] {
            encode(&mut self.key, v);
        }
        if self.is_content[c] {
            encode(&mut self.content, v);
        }
        if let ValRef::Int(i) = v {
            if Some(c) == self.shape.cursor {
                self.version = i;
            }
            if c == self.shape.partition {
                self.partition = Some(i);
            }
        }
        self.col += 1;
    }
}

impl faux::FieldVisitor for Fingerprinter<'_> {
    fn text(&mut self, v: &str) {
        self.put(ValRef::Text(v));
    }
    fn hex_uuid(&mut self, v: &faux::Uuid) {
        self.put(ValRef::Uuid(&v.0));
    }
    fn uuid(&mut self, v: &faux::Uuid) {
        self.put(ValRef::Uuid(&v.0));
    }
    fn int(&mut self, v: i64) {
        self.put(ValRef::Int(v));
    }
    fn decimal(&mut self, units: i64) {
        self.put(ValRef::Int(units));
    }
    fn bool(&mut self, v: bool) {
        self.put(ValRef::Bool(v));
    }
    fn date(&mut self, v: Date) {
        self.put(ValRef::Int(v.days_since_epoch() as i64));
    }
    fn timestamp(&mut self, v: faux::Timestamp) {
        self.put(ValRef::Int(v.0));
    }
    fn json(&mut self, v: &str) {
        self.put(ValRef::Text(v));
    }
    fn null(&mut self) {
        self.put(ValRef::Null);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::Collector;
    use faux::{RowSink, Scenario, Shard, View};

    #[test]
    fn streamed_and_collected_fingerprints_agree() {
        struct Both<'a>(Fingerprinter<'a>, &'a Shape, &'static TableDef, usize);
        impl RowSink for Both<'_> {
            type Error = std::convert::Infallible;
            fn row<R: Row>(&mut self, row: &R) -> Result<(), Self::Error> {
                let streamed = self.0.fingerprint(row);
                let mut c = Collector::new(self.2);
                let collected = self.1.fingerprint(c.collect(row), &mut Vec::new());
                assert_eq!(streamed, collected, "{}", self.2.name);
                self.3 += 1;
                Ok(())
            }
        }
        for name in ["ecommerce", "shiny-rocks"] {
            let s = Scenario::by_name(name, 3).unwrap();
            let first = s.first_day("2024-06-01".parse().unwrap());
            let mut rows = 0;
            for day in [first, first.add_days(40)] {
                for &t in s.tables() {
                    let shape = Shape::new(t);
                    let mut both = Both(Fingerprinter::new(&shape, t.columns.len()), &shape, t, 0);
                    let Ok(()) = s.generate(t, day, Shard::ALL, View::Extract, &mut both);
                    rows += both.3;
                }
            }
            assert!(rows > 1000, "{name}: {rows} rows");
        }
    }
}
