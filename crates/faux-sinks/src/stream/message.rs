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

use faux::{ChangeRecord, TableDef, Timestamp};

use crate::jsonl::{JsonlEncoder, push_json_string, push_quoted_ascii};
use crate::text::push_int;

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
    /// Writes `row`, the same bytes as the JSON Lines files (into its `buf`, the body).
    row: JsonlEncoder,
    /// Room reserved for the next body: the longest of this table's so far (a body is
    /// handed over with its message, so each starts empty; growing it copied it once or
    /// twice).
    room: usize,
}

/// Room for a first message.
const BODY_CAPACITY: usize = 256;
/// The most room reserved ahead for a body.
const MAX_ROOM: usize = 4096;

impl MessageEncoder {
    /// An encoder for the change records of `table`.
    pub fn new(table: &'static TableDef) -> MessageEncoder {
        let mut head = b"{\"table\":".to_vec();
        push_json_string(&mut head, table.name);
        head.extend_from_slice(b",\"op\":");
        MessageEncoder {
            table: table.name,
            head,
            row: JsonlEncoder::with_capacity(table, 0),
            room: BODY_CAPACITY,
        }
    }

    /// Encodes one change record of this encoder's table.
    pub fn encode(&mut self, c: &ChangeRecord) -> Message {
        let body = &mut self.row.buf;
        body.reserve_exact(self.room);
        body.extend_from_slice(&self.head);
        push_json_string(body, c.op.as_str());
        body.extend_from_slice(b",\"seq\":");
        push_int(body, c.seq);
        body.extend_from_slice(b",\"ts\":");
        let ts = self.row.rfc3339(c.ts);
        let body = &mut self.row.buf;
        push_quoted_ascii(body, &ts);
        body.extend_from_slice(b",\"row\":");
        self.row.object(&c.row);
        self.row.buf.push(b'}');
        self.room = self.room.max(self.row.buf.len().min(MAX_ROOM));
        Message {
            table: self.table,
            op: c.op.as_str(),
            seq: c.seq,
            ts: c.ts,
            body: std::mem::take(&mut self.row.buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faux::{Date, Row, RowSink, Scenario, Shard, View};
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
