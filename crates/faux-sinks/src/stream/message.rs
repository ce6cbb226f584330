//! The stream's message: one change record as a JSON document.
//!
//! ```json
//! {"table":"orders","op":"update","seq":1973200000037,"ts":"2024-01-10T00:06:07Z","row":{"id":"…",…}}
//! ```
//!
//! `row` holds the table's columns in column order, formatted exactly as the JSON Lines files
//! format them (dates and timestamps as strings, decimals as exact numbers, JSON columns
//! embedded), so a message's `row` equals the matching line of
//! `aladdin generate --view changes --format jsonl` without its `op`, `seq` and `ts`.

use faux::{ChangeRecord, FieldVisitor, Row, TableDef, Timestamp, Uuid};

use crate::jsonl::push_json_string;
use crate::text::{push_decimal, push_int, scales};

/// One change record, encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub table: &'static str,
    pub op: &'static str,
    /// The record's global sequence number: increases with `ts` across all tables.
    pub seq: i64,
    /// When the record was written; the virtual clock releases it at this instant.
    pub ts: Timestamp,
    /// The JSON document, without a trailing newline.
    pub body: Vec<u8>,
}

/// Encodes the change records of one table into [`Message`]s.
#[derive(Debug)]
pub struct MessageEncoder {
    table: &'static str,
    /// `{"table":"<name>","op":` — the fixed start of every message of this table.
    head: Vec<u8>,
    /// `"name":` per column, with a leading `,` from the second column.
    keys: Vec<Vec<u8>>,
    scale: Vec<u8>,
    col: usize,
    body: Vec<u8>,
}

impl MessageEncoder {
    /// An encoder for the change records of `table`.
    pub fn new(table: &'static TableDef) -> MessageEncoder {
        let mut head = b"{\"table\":".to_vec();
        push_json_string(&mut head, table.name);
        head.extend_from_slice(b",\"op\":");
        let keys = table
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut k = Vec::new();
                if i > 0 {
                    k.push(b',');
                }
                push_json_string(&mut k, c.name);
                k.push(b':');
                k
            })
            .collect();
        MessageEncoder {
            table: table.name,
            head,
            keys,
            scale: scales(table),
            col: 0,
            body: Vec::new(),
        }
    }

    /// Encodes one change record of this encoder's table.
    pub fn encode(&mut self, c: &ChangeRecord) -> Message {
        self.col = 0;
        self.body = Vec::with_capacity(self.body.capacity().max(256));
        self.body.extend_from_slice(&self.head);
        push_json_string(&mut self.body, c.op.as_str());
        self.body.extend_from_slice(b",\"seq\":");
        push_int(&mut self.body, c.seq);
        self.body.extend_from_slice(b",\"ts\":");
        self.quoted_ascii(&c.ts.rfc3339());
        self.body.extend_from_slice(b",\"row\":{");
        c.row.visit(self);
        self.body.extend_from_slice(b"}}");
        Message {
            table: self.table,
            op: c.op.as_str(),
            seq: c.seq,
            ts: c.ts,
            body: std::mem::take(&mut self.body),
        }
    }

    /// Writes the key of the current column and moves on.
    #[inline(always)]
    fn key(&mut self) {
        self.body.extend_from_slice(&self.keys[self.col]);
        self.col += 1;
    }

    #[inline(always)]
    fn quoted_ascii(&mut self, v: &[u8]) {
        self.body.push(b'"');
        self.body.extend_from_slice(v);
        self.body.push(b'"');
    }
}

impl FieldVisitor for MessageEncoder {
    fn text(&mut self, v: &str) {
        self.key();
        push_json_string(&mut self.body, v);
    }
    fn hex_uuid(&mut self, v: &Uuid) {
        self.key();
        self.quoted_ascii(&v.hex());
    }
    fn uuid(&mut self, v: &Uuid) {
        self.key();
        self.quoted_ascii(&v.hyphenated());
    }
    fn int(&mut self, v: i64) {
        self.key();
        push_int(&mut self.body, v);
    }
    fn decimal(&mut self, units: i64) {
        let scale = self.scale[self.col];
        self.key();
        push_decimal(&mut self.body, units, scale);
    }
    fn bool(&mut self, v: bool) {
        self.key();
        self.body
            .extend_from_slice(if v { b"true" } else { b"false" });
    }
    fn date(&mut self, v: faux::Date) {
        self.key();
        self.quoted_ascii(&v.iso());
    }
    fn timestamp(&mut self, v: Timestamp) {
        self.key();
        self.quoted_ascii(&v.rfc3339());
    }
    fn json(&mut self, v: &str) {
        self.key();
        self.body.extend_from_slice(v.as_bytes());
    }
    fn null(&mut self) {
        self.key();
        self.body.extend_from_slice(b"null");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faux::{Date, RowSink, Scenario, Shard, View};
    use std::convert::Infallible;

    #[test]
    fn messages_wrap_the_jsonl_line_of_the_same_record() {
        for name in ["shiny-rocks", "ecommerce"] {
            let scenario = Scenario::by_name(name, 7).unwrap();
            let table = scenario.table("orders").unwrap();
            let t = scenario.table_index(table);
            let day = Date::from_ymd(2024, 3, 1).unwrap();
            let mut encoder = MessageEncoder::new(table);
            let messages: Vec<Message> = scenario
                .changes(day)
                .iter()
                .filter(|c| c.table == t)
                .map(|c| encoder.encode(c))
                .collect();
            let mut lines =
                crate::jsonl::JsonlEncoder::new(Scenario::output_table(table, View::Changes));
            struct Lines<'a>(&'a mut crate::jsonl::JsonlEncoder);
            impl RowSink for Lines<'_> {
                type Error = Infallible;
                fn row<R: Row>(&mut self, row: &R) -> Result<(), Infallible> {
                    self.0.row(row);
                    Ok(())
                }
            }
            scenario
                .generate(
                    table,
                    day,
                    Shard::ALL,
                    View::Changes,
                    &mut Lines(&mut lines),
                )
                .unwrap();
            let text = String::from_utf8(lines.buf).unwrap();
            assert!(!messages.is_empty());
            assert_eq!(messages.len(), text.lines().count());
            for (m, line) in messages.iter().zip(text.lines()) {
                // {"op":"insert","seq":N,"ts":"…Z",<columns>} → {"table":"orders",…,"row":{<columns>}}
                let ts = line.find("\"ts\":\"").unwrap() + 6 + 20 + 2;
                let expected = format!(
                    "{{\"table\":\"orders\",{},\"row\":{{{}}}",
                    &line[1..ts - 1],
                    &line[ts..]
                );
                assert_eq!(std::str::from_utf8(&m.body).unwrap(), expected);
                assert!(line.contains(&format!("\"op\":\"{}\",", m.op)));
                assert!(line.contains(&format!("\"seq\":{},", m.seq)));
                assert!(line.contains(&format!("\"ts\":\"{}\"", m.ts)));
            }
        }
    }
}
