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

use std::convert::Infallible;

use faux::{FieldVisitor, Row, RowSink, Scenario, TableDef, Timestamp, Uuid, View};

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

/// Encodes the change records of one table (rows of [`faux::view::changes_table`]: `op`,
/// `seq`, `ts`, then the table's columns) into [`Message`]s.
#[derive(Debug)]
pub struct MessageEncoder {
    table: &'static str,
    /// `{"table":"<name>","op":` — the fixed start of every message of this table.
    head: Vec<u8>,
    /// `"name":` per column of the change table, with a leading `,` from the second row column.
    keys: Vec<Vec<u8>>,
    scale: Vec<u8>,
    col: usize,
    op: &'static str,
    seq: i64,
    ts: Timestamp,
    body: Vec<u8>,
    /// Op names seen so far, so a message can carry its op as `&'static str` (the engine
    /// writes three: insert, update, delete).
    ops: Vec<&'static str>,
}

/// The first three columns of a change record.
const CHANGE_PREFIX: usize = 3;

impl MessageEncoder {
    /// An encoder for the change records of `table`.
    pub fn new(table: &'static TableDef) -> MessageEncoder {
        let changes = Scenario::output_table(table, View::Changes);
        debug_assert_eq!(
            changes.columns[..CHANGE_PREFIX]
                .iter()
                .map(|c| c.name)
                .collect::<Vec<_>>(),
            ["op", "seq", "ts"]
        );
        let mut head = b"{\"table\":".to_vec();
        push_json_string(&mut head, table.name);
        head.extend_from_slice(b",\"op\":");
        let keys = changes
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut k = Vec::new();
                if i > CHANGE_PREFIX {
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
            scale: scales(changes),
            col: 0,
            op: "",
            seq: 0,
            ts: Timestamp(0),
            body: Vec::new(),
            ops: vec!["insert", "update", "delete"],
        }
    }

    /// Encodes one change record.
    pub fn encode<R: Row>(&mut self, row: &R) -> Message {
        self.col = 0;
        self.body = Vec::with_capacity(self.body.capacity().max(256));
        self.body.extend_from_slice(&self.head);
        row.visit(self);
        self.body.extend_from_slice(b"}}");
        Message {
            table: self.table,
            op: self.op,
            seq: self.seq,
            ts: self.ts,
            body: std::mem::take(&mut self.body),
        }
    }

    fn intern_op(&mut self, op: &str) -> &'static str {
        if let Some(known) = self.ops.iter().find(|o| **o == op) {
            return known;
        }
        // an op the engine did not write before: kept for the process, once per name
        let leaked: &'static str = Box::leak(op.to_string().into_boxed_str());
        self.ops.push(leaked);
        leaked
    }

    /// Writes the key of the current row column and moves on; the three change columns have
    /// their own fixed places in the document.
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
        if self.col == 0 {
            self.op = self.intern_op(v);
            push_json_string(&mut self.body, v);
            self.col = 1;
            return;
        }
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
        if self.col == 1 {
            self.seq = v;
            self.body.extend_from_slice(b",\"seq\":");
            push_int(&mut self.body, v);
            self.col = 2;
            return;
        }
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
        if self.col == 2 {
            self.ts = v;
            self.body.extend_from_slice(b",\"ts\":");
            self.quoted_ascii(&v.rfc3339());
            self.body.extend_from_slice(b",\"row\":{");
            self.col = CHANGE_PREFIX;
            return;
        }
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

/// Collects the change records of one table as messages.
#[derive(Debug)]
pub struct Collector {
    encoder: MessageEncoder,
    pub messages: Vec<Message>,
}

impl Collector {
    pub fn new(table: &'static TableDef) -> Collector {
        Collector {
            encoder: MessageEncoder::new(table),
            messages: Vec::new(),
        }
    }
}

impl RowSink for Collector {
    type Error = Infallible;

    fn row<R: Row>(&mut self, row: &R) -> Result<(), Infallible> {
        let m = self.encoder.encode(row);
        self.messages.push(m);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faux::{Date, Shard};

    #[test]
    fn messages_wrap_the_jsonl_line_of_the_same_record() {
        let scenario = Scenario::by_name("shiny-rocks", 7).unwrap();
        let table = scenario.table("orders").unwrap();
        let day = Date::from_ymd(2024, 3, 1).unwrap();
        let mut collector = Collector::new(table);
        scenario
            .generate(table, day, Shard::ALL, View::Changes, &mut collector)
            .unwrap();
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
        assert!(!collector.messages.is_empty());
        assert_eq!(collector.messages.len(), text.lines().count());
        for (m, line) in collector.messages.iter().zip(text.lines()) {
            // {"op":"insert","seq":N,"ts":"…Z",<columns>} → {"table":"orders",…,"row":{<columns>}}
            let ts = line.find("\"ts\":\"").unwrap() + 6 + 20 + 2;
            let expected = format!(
                "{{\"table\":\"orders\",{},\"row\":{{{}}}",
                &line[1..ts - 1],
                &line[ts..]
            );
            assert_eq!(std::str::from_utf8(&m.body).unwrap(), expected);
            assert_eq!(m.op, "insert");
            assert!(line.contains(&format!("\"seq\":{},", m.seq)));
            assert!(line.contains(&format!("\"ts\":\"{}\"", m.ts)));
        }
    }
}
