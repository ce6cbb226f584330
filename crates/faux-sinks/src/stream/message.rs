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

use bytes::Bytes;
use faux::{ChangeRecord, Op, TableDef, Timestamp};

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
    /// The JSON document, without a trailing newline. The messages of a [`Batch`] share one
    /// buffer (a body is a counted view of it, which a broker client takes without copying).
    pub body: Bytes,
}

/// Encodes the change records of one table: the body of each into a buffer it is handed.
#[derive(Debug)]
pub struct MessageEncoder {
    /// `{"table":"<name>","op":` — the fixed start of every message of this table.
    head: Vec<u8>,
    /// Writes `row`, the same bytes as the JSON Lines files.
    row: JsonlEncoder,
}

impl MessageEncoder {
    /// An encoder for the change records of `table`.
    pub fn new(table: &'static TableDef) -> MessageEncoder {
        let mut head = b"{\"table\":".to_vec();
        push_json_string(&mut head, table.name);
        head.extend_from_slice(b",\"op\":");
        MessageEncoder {
            head,
            row: JsonlEncoder::with_capacity(table, 0),
        }
    }

    /// Appends the body of `c`, a change record of this encoder's table, to `out`.
    pub fn write(&mut self, c: &ChangeRecord, out: &mut Vec<u8>) {
        // the row encoder writes into its own buffer: lend it `out` for the record
        std::mem::swap(&mut self.row.buf, out);
        let ts = self.row.rfc3339(c.ts);
        let body = &mut self.row.buf;
        body.extend_from_slice(&self.head);
        push_json_string(body, c.op.as_str());
        body.extend_from_slice(b",\"seq\":");
        push_int(body, c.seq);
        body.extend_from_slice(b",\"ts\":");
        push_quoted_ascii(body, &ts);
        body.extend_from_slice(b",\"row\":");
        self.row.object(&c.row);
        self.row.buf.push(b'}');
        std::mem::swap(&mut self.row.buf, out);
    }
}

/// Messages encoded one after the other into one buffer, of any tables of a scenario.
#[derive(Debug)]
pub struct Batch {
    tables: &'static [&'static TableDef],
    /// By table index, made on the table's first record.
    encoders: Vec<Option<MessageEncoder>>,
    bodies: Vec<u8>,
    /// Each message but its body, and where its body ends in `bodies`.
    heads: Vec<(usize, Op, i64, Timestamp, usize)>,
}

/// Room for a batch's bodies, per record it may hold: a little above the longest tables'
/// average (the buffer grows if the guess is short).
const BODY_ROOM: usize = 512;

impl Batch {
    /// An empty batch for the tables of a scenario, with room for about `records` messages.
    pub fn new(tables: &'static [&'static TableDef], records: usize) -> Batch {
        Batch {
            tables,
            encoders: tables.iter().map(|_| None).collect(),
            bodies: Vec::with_capacity(records * BODY_ROOM),
            heads: Vec::with_capacity(records),
        }
    }

    /// Encodes `c` as the batch's next message.
    pub fn push(&mut self, c: &ChangeRecord) {
        let tables = self.tables;
        self.encoders[c.table]
            .get_or_insert_with(|| MessageEncoder::new(tables[c.table]))
            .write(c, &mut self.bodies);
        self.heads
            .push((c.table, c.op, c.seq, c.ts, self.bodies.len()));
    }

    /// The messages, in the order they were pushed.
    pub fn finish(self) -> Vec<Message> {
        let bodies = Bytes::from(self.bodies);
        let mut start = 0;
        self.heads
            .into_iter()
            .map(|(table, op, seq, ts, end)| {
                let body = bodies.slice(start..end);
                start = end;
                Message {
                    table: self.tables[table].name,
                    op: op.as_str(),
                    seq,
                    ts,
                    body,
                }
            })
            .collect()
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
            let mut batch = Batch::new(scenario.tables(), 1);
            for c in scenario.changes(day).iter().filter(|c| c.table == t) {
                batch.push(c);
            }
            let messages = batch.finish();
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
