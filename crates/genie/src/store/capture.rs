//! Change capture: the engine's change feed (a [`ChangeRecord`] per version) turned into
//! typed [`Pending`] rows in one pass, and applied to the resource tables and the retained
//! feed in one transaction per batch.

use std::collections::HashMap;

use faux::{
    ChangeRecord, Date, FieldVisitor, LogicalType, Op, Row, RowSink, Scenario, Timestamp, Uuid,
};
use faux_sinks::sql::{Dialect, Upsert, ident};
use rusqlite::types::Value;

use super::backend::{Arg, Conn, unnest};
use super::clock_state::ClockState;
use super::schema::{Resource, is_integer, render};
use super::{Store, StoreError};

/// One change record, captured from the engine and ready to apply.
#[derive(Debug, Clone)]
pub struct Pending {
    pub seq: i64,
    pub ts: i64,
    pub table: usize,
    pub op: &'static str,
    pub key: String,
    pub sort: i64,
    pub created: i64,
    pub deleted: bool,
    /// The table's columns, typed as stored.
    pub values: Vec<Value>,
    /// `--dirty`: the rows and defects planted with this version (none for clean data).
    pub dirt: Option<Box<super::dirt::Planted>>,
}

impl Pending {
    /// The row as the API serves it.
    pub fn json(&self, res: &Resource) -> String {
        render(res, &self.values)
    }

    /// What the change feed stores as the row: nothing for an insert into an insert-only
    /// table (the resource row is that version, for good).
    fn feed_row(&self, res: &Resource) -> Option<String> {
        (!(res.insert_only && self.op == "insert")).then(|| self.json(res))
    }

    /// Binds the stored columns' values, in [`Resource::stored_cols`] order, to an upsert
    /// (SQLite: no copies of the values).
    fn bind(&self, res: &Resource, s: &mut rusqlite::Statement<'_>) -> rusqlite::Result<()> {
        let mut n = 0;
        if res.has_key_col() {
            n += 1;
            s.raw_bind_parameter(n, self.key.as_str())?;
        }
        n += 1;
        s.raw_bind_parameter(n, self.sort)?;
        if res.has_created_col() {
            n += 1;
            s.raw_bind_parameter(n, self.created)?;
        }
        if res.has_deleted {
            n += 1;
            s.raw_bind_parameter(n, self.deleted as i64)?;
        }
        for v in &self.values {
            n += 1;
            s.raw_bind_parameter(n, v)?;
        }
        Ok(())
    }

    /// The stored columns' values, in [`Resource::stored_cols`] order.
    fn args(&self, res: &Resource) -> Vec<Arg> {
        let mut a = Vec::with_capacity(res.def.columns.len() + 4);
        if res.has_key_col() {
            a.push(Arg::T(self.key.clone()));
        }
        a.push(Arg::I(self.sort));
        if res.has_created_col() {
            a.push(Arg::I(self.created));
        }
        if res.has_deleted {
            a.push(Arg::I(self.deleted as i64));
        }
        for (c, v) in res.def.columns.iter().zip(&self.values) {
            a.push(match v {
                Value::Integer(n) => Arg::I(*n),
                Value::Text(t) => Arg::T(t.clone()),
                _ if is_integer(c.ty) => Arg::NullI,
                _ => Arg::NullT,
            });
        }
        a
    }
}

/// A [`FieldVisitor`] turning a row of a change record into typed values, in one pass.
struct Capture<'a> {
    res: &'a Resource,
    col: usize,
    values: Vec<Value>,
    key_parts: Vec<String>,
    sort: i64,
    created: i64,
    deleted: bool,
}

impl Capture<'_> {
    /// Records the value of the current column.
    fn put(&mut self, v: Value, secs: Option<i64>) {
        let c = self.col;
        if self.res.pk_idx.contains(&c) {
            self.key_parts.push(match &v {
                Value::Integer(n) => n.to_string(),
                Value::Text(t) => t.clone(),
                _ => String::new(),
            });
        }
        if c == self.res.sort_idx {
            self.sort = secs.unwrap_or(0);
        }
        if c == self.res.created_idx {
            self.created = secs.unwrap_or(0);
        }
        if Some(c) == self.res.deleted_idx && !matches!(v, Value::Null) {
            self.deleted = true;
        }
        self.values.push(v);
        self.col += 1;
    }
}

/// A change record of the engine's feed, ready to apply to resource `res`.
pub fn capture(res: &Resource, c: &ChangeRecord) -> Pending {
    match res.dirt.get() {
        Some(d) => d.capture(res, c.table, &c.row, c.seq, c.ts.0, c.op),
        None => capture_row(res, c.table, &c.row, c.seq, c.ts.0, c.op),
    }
}

/// A row of table `table` (resource `res`), captured as version `seq` written at `ts` by `op`.
pub(super) fn capture_row<R: Row>(
    res: &Resource,
    table: usize,
    row: &R,
    seq: i64,
    ts: i64,
    op: Op,
) -> Pending {
    let mut cap = Capture {
        res,
        col: 0,
        values: Vec::with_capacity(res.def.columns.len()),
        key_parts: Vec::new(),
        sort: 0,
        created: 0,
        deleted: false,
    };
    row.visit(&mut cap);
    Pending {
        seq,
        ts,
        table,
        op: op.as_str(),
        key: if res.keyless() {
            seq.to_string()
        } else {
            cap.key_parts.join(":")
        },
        sort: cap.sort,
        created: cap.created,
        deleted: cap.deleted || op == Op::Delete,
        values: cap.values,
        dirt: None,
    }
}

/// Collects the rows of one keyed table's state ([`Scenario::generate_held`]) as rows to
/// write: no sequence number, as of the row's own last change.
#[derive(Debug)]
pub struct StateSink<'a> {
    res: &'a Resource,
    table: usize,
    pub rows: Vec<Pending>,
}

impl<'a> StateSink<'a> {
    pub fn new(res: &'a Resource, table: usize) -> StateSink<'a> {
        StateSink {
            res,
            table,
            rows: Vec::new(),
        }
    }
}

impl RowSink for StateSink<'_> {
    type Error = std::convert::Infallible;
    fn row<R: Row>(&mut self, row: &R) -> Result<(), Self::Error> {
        let mut p = match self.res.dirt.get() {
            Some(d) => d.capture(self.res, self.table, row, 0, 0, Op::Insert),
            None => capture_row(self.res, self.table, row, 0, 0, Op::Insert),
        };
        p.ts = p.sort;
        self.rows.push(p);
        Ok(())
    }
}

impl FieldVisitor for Capture<'_> {
    fn text(&mut self, v: &str) {
        self.put(Value::Text(v.to_string()), None);
    }
    fn hex_uuid(&mut self, v: &Uuid) {
        self.put(Value::Text(ascii(&v.hex())), None);
    }
    fn uuid(&mut self, v: &Uuid) {
        self.put(Value::Text(ascii(&v.hyphenated())), None);
    }
    fn int(&mut self, v: i64) {
        self.put(Value::Integer(v), None);
    }
    fn decimal(&mut self, units: i64) {
        let scale = match self.res.def.columns[self.col].ty {
            LogicalType::Decimal { scale, .. } => scale,
            _ => 0,
        };
        self.put(Value::Text(decimal_text(units, scale)), None);
    }
    fn bool(&mut self, v: bool) {
        self.put(Value::Integer(v as i64), None);
    }
    fn date(&mut self, v: Date) {
        self.put(Value::Text(ascii(&v.iso())), Some(v.start().0));
    }
    fn timestamp(&mut self, v: Timestamp) {
        self.put(Value::Text(ascii(&v.rfc3339())), Some(v.0));
    }
    fn json(&mut self, v: &str) {
        self.put(Value::Text(v.to_string()), None);
    }
    fn null(&mut self) {
        self.put(Value::Null, None);
    }
}

/// The engine's ASCII renderings (ids, dates, timestamps) as text, as their `Display` gives
/// them, without going through the formatting machinery.
fn ascii(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap_or_default()
}

/// `units` × 10^-scale as exact decimal text.
pub fn decimal_text(units: i64, scale: u8) -> String {
    if scale == 0 {
        return units.to_string();
    }
    let pow = 10u64.pow(scale as u32);
    let abs = units.unsigned_abs();
    format!(
        "{}{}.{:0width$}",
        if units < 0 { "-" } else { "" },
        abs / pow,
        abs % pow,
        width = scale as usize
    )
}

/// Every change the engine writes on `day`, all resources, in sequence order: the day's
/// change feed, captured. `resources` are the scenario's, in table order.
pub fn day_changes(scenario: &Scenario, resources: &[Resource], day: Date) -> Vec<Pending> {
    scenario
        .changes(day)
        .iter()
        .map(|c| capture(&resources[c.table], c))
        .collect()
}

/// The change feed's columns (name, holds integers), in the order `apply` binds them.
const FEED: [(&str, bool); 6] = [
    ("seq", true),
    ("table", false),
    ("op", false),
    ("ts", true),
    ("key", false),
    ("row", false),
];

impl Store {
    /// Applies `changes` (in seq order) and moves the clock to `reached`, in one transaction.
    /// Change records older than `retain_after` are applied to the resources but not kept in
    /// the feed (they count as pruned).
    pub fn apply(
        &self,
        changes: &[Pending],
        reached: i64,
        retain_after: i64,
    ) -> Result<ClockState, StoreError> {
        let resources = self.resources();
        self.tx(true, |c| {
            let mut st = c.clock()?.unwrap_or(ClockState {
                reached,
                last_seq: 0,
                pruned_seq: 0,
            });
            for p in changes {
                st.last_seq = st.last_seq.max(p.seq);
            }
            let retained: Vec<&Pending> = changes.iter().filter(|p| p.ts >= retain_after).collect();
            if let Some(p) = changes.iter().rfind(|p| p.ts < retain_after) {
                st.pruned_seq = st.pruned_seq.max(p.seq);
            }
            write_feed(c, resources, &retained)?;
            write_resources(c, resources, changes)?;
            // prune the feed: the clock moved, older records leave the retention window.
            // seq grows with ts, so the first retained seq bounds what goes
            let first_kept = c.one_int(
                "SELECT seq FROM changes WHERE ts >= $1 ORDER BY seq LIMIT 1",
                &[Arg::I(retain_after)],
            )?;
            let cut = match first_kept {
                Some(f) => {
                    c.one_int("SELECT max(seq) FROM changes WHERE seq < $1", &[Arg::I(f)])?
                }
                None => c.one_int("SELECT max(seq) FROM changes", &[])?,
            };
            if let Some(cut) = cut {
                c.exec("DELETE FROM changes WHERE seq <= $1", &[Arg::I(cut)])?;
                st.pruned_seq = st.pruned_seq.max(cut);
            }
            st.reached = reached.max(st.reached);
            c.set_clock(&st)?;
            Ok(st)
        })
    }

    /// One piece of a new store's first fill, in one transaction: `rows` of the resources'
    /// state and `feed` records of the retained change feed. The clock is not set: a store
    /// without one is incomplete ([`Store::finish_fill`] completes it).
    pub fn load(&self, rows: &[Pending], feed: &[Pending]) -> Result<(), StoreError> {
        let resources = self.resources();
        self.tx(true, |c| {
            write_feed(c, resources, &feed.iter().collect::<Vec<_>>())?;
            match c {
                Conn::Sqlite(_) => append_rows(c, resources, rows),
                Conn::Pg(..) => write_resources(c, resources, rows),
            }
        })
    }

    /// Records how many rows time-keyed resource `t` has on `day` (`None`: the day is not
    /// over yet). The first day recorded is where the resource's window starts.
    pub fn set_window_days(&self, days: &[(usize, Date, Option<i64>)]) -> Result<(), StoreError> {
        if days.is_empty() {
            return Ok(());
        }
        let resources = self.resources();
        let upsert = Upsert::new(
            &ident("window_days"),
            &["resource", "day", "rows"],
            &["resource", "day"],
        );
        let sql = upsert.sql("VALUES ($1, $2, $3)");
        self.tx(true, |c| {
            for (t, day, rows) in days {
                c.exec(
                    &sql,
                    &[
                        Arg::T(resources[*t].name().into()),
                        Arg::I(day.days_since_epoch() as i64),
                        rows.map_or(Arg::NullI, Arg::I),
                    ],
                )?;
            }
            Ok(())
        })
    }

    /// Completes a first fill: from now on the store is served, and resumed on restart.
    pub fn finish_fill(&self, st: &ClockState) -> Result<(), StoreError> {
        self.tx(true, |c| c.set_clock(st))
    }

    /// Empties the resources and the feed of a store whose first fill never finished (it has
    /// no clock): it is filled again from scratch. API keys stay.
    pub fn clear_incomplete(&self) -> Result<(), StoreError> {
        let resources = self.resources();
        self.tx(true, |c| {
            if c.clock()?.is_some() {
                return Ok(());
            }
            c.exec("DELETE FROM changes", &[])?;
            c.exec("DELETE FROM window_days", &[])?;
            for r in resources {
                c.exec(&format!("DELETE FROM {}", ident(r.name())), &[])?;
            }
            Ok(())
        })
    }
}

/// Writes `rows` to their resource tables: a row keeps its latest version only, so each key
/// is written once (the last of `rows` wins; rows are in sequence order).
fn write_resources(
    c: &mut Conn<'_>,
    resources: &[Resource],
    rows: &[Pending],
) -> Result<(), StoreError> {
    // --dirty: the rows a version adds are written after it
    let all = rows;
    let expanded = super::dirt::with_extras(rows);
    // time-keyed tables are regenerated on read, never stored
    let rows: Vec<&Pending> = expanded
        .as_deref()
        .unwrap_or(rows)
        .iter()
        .filter(|p| !resources[p.table].regenerated)
        .collect();
    let mut last: HashMap<(usize, &str), usize> = HashMap::with_capacity(rows.len());
    for (i, p) in rows.iter().enumerate() {
        last.insert((p.table, p.key.as_str()), i);
    }
    let is_last = |i: usize, p: &Pending| last[&(p.table, p.key.as_str())] == i;
    if resources.first().is_some_and(|r| r.dirt.get().is_some()) {
        let mut written: Vec<&Pending> = (rows.iter().enumerate())
            .filter(|(i, p)| is_last(*i, p))
            .map(|(_, p)| *p)
            .collect();
        // a time-keyed row is served (rendered from its day) with the defects it was
        // captured with: they go to the manifest though the row is not stored
        written.extend(
            expanded
                .as_deref()
                .unwrap_or(all)
                .iter()
                .filter(|p| resources[p.table].regenerated && p.dirt.is_some()),
        );
        super::dirt::record(c, resources, &written)?;
    }
    if let Conn::Sqlite(tx) = c {
        // statements prepared once per transaction, values bound straight from the rows
        let mut upserts: Vec<Option<rusqlite::CachedStatement<'_>>> =
            resources.iter().map(|_| None).collect();
        for (i, p) in rows.iter().enumerate() {
            if !is_last(i, p) {
                continue;
            }
            let res = &resources[p.table];
            let stmt = match &mut upserts[p.table] {
                Some(s) => s,
                slot => {
                    let values = Dialect::Sqlite.values(res.stored_cols().len());
                    slot.insert(tx.prepare_cached(&res.upsert().sql(&values))?)
                }
            };
            p.bind(res, stmt)?;
            stmt.raw_execute()?;
        }
        return Ok(());
    }
    for (t, res) in resources.iter().enumerate() {
        let cols = res.stored_cols();
        let mut arrays: Vec<Arg> = cols
            .iter()
            .map(|(_, i)| {
                if *i {
                    Arg::IArr(vec![])
                } else {
                    Arg::TArr(vec![])
                }
            })
            .collect();
        let mut any = false;
        for (i, p) in rows.iter().enumerate() {
            if p.table != t || !is_last(i, p) {
                continue;
            }
            any = true;
            for (a, v) in arrays.iter_mut().zip(p.args(res)) {
                match (a, v) {
                    (Arg::IArr(x), Arg::I(n)) => x.push(Some(n)),
                    (Arg::IArr(x), _) => x.push(None),
                    (Arg::TArr(x), Arg::T(s)) => x.push(Some(s)),
                    (Arg::TArr(x), _) => x.push(None),
                    _ => unreachable!("arrays only"),
                }
            }
        }
        if any {
            let integer: Vec<bool> = cols.iter().map(|(_, i)| *i).collect();
            c.exec(&res.upsert().sql(&unnest(&integer)), &arrays)?;
        }
    }
    Ok(())
}

/// Appends `rows` (one per key) to the resource tables of a fresh fill, which have no index
/// yet ([`Store::defer_indexes`]); the unique key index built after the fill checks that
/// each key came once.
fn append_rows(
    c: &mut Conn<'_>,
    resources: &[Resource],
    rows: &[Pending],
) -> Result<(), StoreError> {
    let expanded = super::dirt::with_extras(rows);
    let rows = expanded.as_deref().unwrap_or(rows);
    let Conn::Sqlite(tx) = c else {
        unreachable!("a fresh fill appends to SQLite only")
    };
    let mut inserts: Vec<Option<rusqlite::CachedStatement<'_>>> =
        resources.iter().map(|_| None).collect();
    for p in rows {
        let res = &resources[p.table];
        if res.regenerated {
            continue;
        }
        let stmt = match &mut inserts[p.table] {
            Some(s) => s,
            slot => {
                let names: Vec<&str> = res.stored_cols().iter().map(|(n, _)| *n).collect();
                let sql = format!(
                    "INSERT INTO {} ({}) {}",
                    ident(res.name()),
                    faux_sinks::sql::idents(names.iter()),
                    Dialect::Sqlite.values(names.len())
                );
                slot.insert(tx.prepare_cached(&sql)?)
            }
        };
        p.bind(res, stmt)?;
        stmt.raw_execute()?;
    }
    drop(inserts);
    super::dirt::record(c, resources, &rows.iter().collect::<Vec<_>>())
}

/// Appends `records` to the retained change feed.
fn write_feed(
    c: &mut Conn<'_>,
    resources: &[Resource],
    records: &[&Pending],
) -> Result<(), StoreError> {
    if records.is_empty() {
        return Ok(());
    }
    let feed = Upsert::new(&ident("changes"), &FEED.map(|(n, _)| n), &["seq"]);
    if let Conn::Sqlite(tx) = c {
        let mut stmt = tx.prepare_cached(&feed.sql(&Dialect::Sqlite.values(FEED.len())))?;
        for p in records {
            let res = &resources[p.table];
            stmt.execute(rusqlite::params![
                p.seq,
                res.name(),
                p.op,
                p.ts,
                p.key.as_str(),
                p.feed_row(res),
            ])?;
        }
        return Ok(());
    }
    let mut cols = (vec![], vec![], vec![], vec![], vec![], vec![]);
    for p in records {
        let res = &resources[p.table];
        cols.0.push(Some(p.seq));
        cols.1.push(Some(res.name().to_string()));
        cols.2.push(Some(p.op.to_string()));
        cols.3.push(Some(p.ts));
        cols.4.push(Some(p.key.clone()));
        cols.5.push(p.feed_row(res));
    }
    c.exec(
        &feed.sql(&unnest(&FEED.map(|(_, int)| int))),
        &[
            Arg::IArr(cols.0),
            Arg::TArr(cols.1),
            Arg::TArr(cols.2),
            Arg::IArr(cols.3),
            Arg::TArr(cols.4),
            Arg::TArr(cols.5),
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::resources;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(decimal_text(123456, 2), "1234.56");
        assert_eq!(decimal_text(-5, 2), "-0.05");
        assert_eq!(decimal_text(7, 0), "7");
    }

    #[test]
    fn captured_changes_are_ordered_and_keyed() {
        let custom = Scenario::from_toml(
            "t.toml",
            "[shop]\nopened_on = \"2024-01-01\"\n[traffic]\norganic_sessions_per_day = 50.0\n",
            1,
        )
        .unwrap();
        let shiny = Scenario::by_name("shiny-rocks", 1).unwrap();
        for s in [custom, shiny] {
            captured_changes_of(&s);
        }
    }

    fn captured_changes_of(s: &Scenario) {
        let res = resources(s);
        let day: Date = "2024-02-10".parse().unwrap();
        let ch = day_changes(s, &res, day);
        let tables: std::collections::BTreeSet<usize> = ch.iter().map(|p| p.table).collect();
        // a small shop may refund nothing on a given day
        assert!(
            tables.len() + 1 >= res.len(),
            "{} changes {tables:?}",
            s.name()
        );
        assert!(!ch.is_empty());
        assert!(
            ch.windows(2)
                .all(|w| w[0].seq < w[1].seq && w[0].ts <= w[1].ts)
        );
        for p in &ch {
            let r = &res[p.table];
            let json = p.json(r);
            let v: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert!(v.is_object(), "{json}");
            assert_eq!(v.as_object().unwrap().len(), r.def.columns.len());
            assert!(!p.key.is_empty());
            if r.keyless() {
                // no key of its own: the insert's sequence number identifies the row
                assert_eq!(p.key, p.seq.to_string());
                continue;
            }
            // the id in URLs is the primary key's values
            let id: Vec<String> = r
                .def
                .primary_key
                .iter()
                .map(|k| match &v[k] {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            assert_eq!(p.key, id.join(":"));
            // the keyset column is the version's time for mutable tables
            if r.def.cursor.is_some() {
                assert_eq!(p.sort, p.ts, "{} {json}", r.name());
            } else {
                // insert-only tables only ever insert: the feed may refer to the row
                assert_eq!(p.op, "insert", "{}", r.name());
            }
        }
    }
}
