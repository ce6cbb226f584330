//! What a scenario's tables become in the store: one [`Resource`] per table (its keys,
//! keyset and bookkeeping columns), the DDL of the resource tables and of the tables every
//! store has, and how a stored row renders as the JSON the API serves.

use faux::{LogicalType, Scenario, TableDef};
use faux_sinks::sql::{CreateTable, Dialect, Upsert, column_list, create_index, ident, idents};
use rusqlite::types::Value;

use super::backend::{Arg, Conn, int, text};
use super::{Store, StoreError};

/// How the API sees one faux table.
#[derive(Debug)]
pub struct Resource {
    pub def: &'static TableDef,
    /// The column the keyset and `updated_at_*` filters use.
    pub sort_col: &'static str,
    /// The column `created_at_*` filters use.
    pub created_col: &'static str,
    pub has_deleted: bool,
    /// Rows never change once inserted (no `updated_at`).
    pub insert_only: bool,
    /// The owning resource and the column naming its row (`/v1/orders/{id}/items`).
    pub parent: Option<faux::Parent>,
    /// Served from the engine on read, not stored ([`super::on_read`]): an insert-only,
    /// parentless table kept as a [`faux::Keep::TimeKeyedWindow`], keyed by one text id.
    pub regenerated: bool,
    pub(super) pk_idx: Vec<usize>,
    pub(super) sort_idx: usize,
    pub(super) created_idx: usize,
    pub(super) deleted_idx: Option<usize>,
    /// `"name":` of every column, for rendering rows.
    json_names: Vec<String>,
    /// `--dirty`: the planter, shared by the store's resources ([`Store::bind_dirty`]).
    pub(super) dirt: super::dirt::DirtCell,
}

impl Resource {
    pub fn new(def: &'static TableDef) -> Resource {
        let idx = |name: &str| def.columns.iter().position(|c| c.name == name);
        let sort_col = def.cursor.unwrap_or(def.partition);
        // a row's creation time: `created_at`, or a visit's `started_at` (a session's partition
        // is its cursor, updated when it ends); else the partition column
        let created_col = ["created_at", "started_at"]
            .into_iter()
            .find(|c| idx(c).is_some())
            .unwrap_or(def.partition);
        let pk_idx: Vec<usize> = def
            .primary_key
            .iter()
            .map(|k| idx(k).expect("primary key column exists"))
            .collect();
        // a table that does not fit is stored like any other
        let regenerated = def.keep == faux::Keep::TimeKeyedWindow
            && def.cursor.is_none()
            && def.parent.is_none()
            && idx("deleted_at").is_none()
            && matches!(pk_idx.as_slice(), [i] if matches!(def.columns[*i].ty, LogicalType::Uuid));
        Resource {
            def,
            sort_col,
            created_col,
            has_deleted: idx("deleted_at").is_some(),
            insert_only: def.cursor.is_none(),
            parent: def.parent,
            regenerated,
            pk_idx,
            sort_idx: idx(sort_col).expect("sort column exists"),
            created_idx: idx(created_col).expect("created column exists"),
            deleted_idx: idx("deleted_at"),
            json_names: def
                .columns
                .iter()
                .map(|c| format!("{}:", serde_json::to_string(c.name).expect("string")))
                .collect(),
            dirt: Default::default(),
        }
    }

    pub fn name(&self) -> &'static str {
        self.def.name
    }

    /// `"name":` of column `i`.
    pub(super) fn json_name(&self, i: usize) -> &str {
        &self.json_names[i]
    }

    /// How an id in a URL is formed: composite keys are joined with `:`; a table without a
    /// primary key is keyed by the sequence number of the change that inserted the row.
    pub fn id_shape(&self) -> String {
        if self.keyless() {
            return "seq".into();
        }
        self.def.primary_key.join(":")
    }

    /// The primary key columns, quoted and comma-separated, for `ORDER BY` in key order (a
    /// composite key's `_key` text would sort line 10 before line 2).
    pub(super) fn order_cols(&self) -> String {
        if self.keyless() {
            return self.key_col();
        }
        idents(self.def.primary_key)
    }

    /// The table has no primary key of its own (rows are identified by their insert's `seq`).
    pub fn keyless(&self) -> bool {
        self.pk_idx.is_empty()
    }

    /// The column holding the id as text, quoted: the key column itself, or `_key` for
    /// composite, integer or no keys.
    pub fn key_col(&self) -> String {
        ident(self.key_name())
    }

    fn key_name(&self) -> &'static str {
        self.own_key().unwrap_or("_key")
    }

    /// The table's own key column, when it can serve as the id: a single text key.
    fn own_key(&self) -> Option<&'static str> {
        match self.pk_idx.as_slice() {
            [i] if !is_integer(self.def.columns[*i].ty) => Some(self.def.columns[*i].name),
            _ => None,
        }
    }

    pub(super) fn has_key_col(&self) -> bool {
        self.own_key().is_none()
    }

    /// The column the `created_at_*` filters compare with.
    pub fn created_expr(&self) -> &'static str {
        if self.has_created_col() {
            "_created"
        } else {
            "_sort"
        }
    }

    pub(super) fn has_created_col(&self) -> bool {
        self.created_idx != self.sort_idx
    }

    /// The typed columns, quoted and comma-separated (what [`render`] reads).
    pub(super) fn select_cols(&self) -> String {
        column_list(self.def)
    }

    /// Every stored column (name, holds integers), in the order `Pending::args` binds them:
    /// the bookkeeping columns, then the typed ones.
    pub(super) fn stored_cols(&self) -> Vec<(&'static str, bool)> {
        let mut cols = Vec::new();
        if self.has_key_col() {
            cols.push(("_key", false));
        }
        cols.push(("_sort", true));
        if self.has_created_col() {
            cols.push(("_created", true));
        }
        if self.has_deleted {
            cols.push(("_deleted", true));
        }
        for c in self.def.columns {
            cols.push((c.name, is_integer(c.ty)));
        }
        cols
    }

    /// The upsert of a row version: every stored column, on the key; the latest applied
    /// version wins (changes are applied in sequence order).
    pub(super) fn upsert(&self) -> Upsert {
        let names: Vec<&str> = self.stored_cols().iter().map(|(n, _)| *n).collect();
        Upsert::new(&ident(self.name()), &names, &[self.key_name()])
    }

    /// The secondary indexes (name, columns): the keyset, `created_at_*` filters, and the
    /// lookup of an owner's rows (`/v1/<parent>/{id}/<path>`).
    fn indexes(&self) -> Vec<(String, Vec<&'static str>)> {
        let t = self.name();
        let mut out = vec![(format!("{t}_sort"), vec!["_sort", self.key_name()])];
        if self.has_created_col() {
            out.push((format!("{t}_created"), vec!["_created"]));
        }
        if let Some(parent) = self.parent {
            out.push((format!("{t}_parent"), vec![parent.column, self.key_name()]));
        }
        out
    }
}

/// The resources of a scenario, in table order (the order of its change feed's table
/// indexes).
pub fn resources(scenario: &Scenario) -> Vec<Resource> {
    let dirt = super::dirt::DirtCell::default();
    scenario
        .tables()
        .iter()
        .map(|t| Resource {
            dirt: dirt.clone(),
            ..Resource::new(t)
        })
        .collect()
}

pub(super) fn is_integer(ty: LogicalType) -> bool {
    matches!(ty, LogicalType::Int | LogicalType::Bool)
}

/// The type of a stored column: integers (and booleans) as integers, everything else as
/// text — decimals stay exact text, REAL would round money.
fn stored_type(d: Dialect, integer: bool) -> String {
    d.column_type(if integer {
        LogicalType::Int
    } else {
        LogicalType::Text
    })
}

/// One stored cell, borrowed from where the row is (SQLite's row buffer, or a read row).
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    Null,
    Int(i64),
    Text(&'a str),
    /// Text known to be ASCII with no byte JSON escapes (ids, timestamps, most names): it
    /// goes between quotes as it is.
    Plain(&'a str),
}

/// Whether `b` is ASCII with no byte a JSON string must escape: one pass the compiler
/// vectorises, instead of UTF-8 validation and the escaping loop's per-byte branches.
#[inline]
pub fn json_plain(b: &[u8]) -> bool {
    // c - 0x20 wraps for control bytes: one compare for "control byte or not ASCII"
    !b.iter().fold(false, |e, &c| {
        e | (c.wrapping_sub(0x20) >= 0x60) | (c == b'"') | (c == b'\\')
    })
}

/// A row's cells by position.
pub trait Cells {
    fn cell(&self, i: usize) -> Cell<'_>;
}

impl Cells for [Value] {
    fn cell(&self, i: usize) -> Cell<'_> {
        match &self[i] {
            Value::Integer(n) => Cell::Int(*n),
            Value::Text(t) => Cell::Text(t),
            Value::Real(_) | Value::Blob(_) | Value::Null => Cell::Null,
        }
    }
}

impl Cells for Vec<Value> {
    fn cell(&self, i: usize) -> Cell<'_> {
        self.as_slice().cell(i)
    }
}

/// A stored row as the JSON the API serves.
pub fn render(res: &Resource, cells: &[Value]) -> String {
    let mut out = String::with_capacity(64 * res.def.columns.len());
    render_into(res, cells, 0, &mut out);
    out
}

/// Appends the JSON of the row whose typed columns start at cell `first` to `out`: straight
/// from the cells, no value copied on the way (a page is one buffer, not a string per cell).
pub fn render_into<C: Cells + ?Sized>(res: &Resource, cells: &C, first: usize, out: &mut String) {
    out.push('{');
    for (i, c) in res.def.columns.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&res.json_names[i]);
        match (c.ty, cells.cell(first + i)) {
            (_, Cell::Null) => out.push_str("null"),
            (LogicalType::Bool, Cell::Int(b)) => {
                out.push_str(if b != 0 { "true" } else { "false" })
            }
            (_, Cell::Int(n)) => out.push_str(itoa::Buffer::new().format(n)),
            (LogicalType::Decimal { .. } | LogicalType::Json, Cell::Text(t) | Cell::Plain(t)) => {
                out.push_str(t)
            }
            (_, Cell::Plain(t)) => {
                out.push('"');
                out.push_str(t);
                out.push('"');
            }
            (_, Cell::Text(t)) => push_json_str(out, t),
        }
    }
    out.push('}');
}

/// Appends `s` as a JSON string: most stored text (ids, timestamps, names) needs no escape.
pub fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    // the common case (ids, timestamps, names) in one pass the compiler vectorises, instead
    // of the escaping loop's per-byte branches (6 % of a page's CPU in `perf`)
    if json_plain(s.as_bytes()) {
        out.push_str(s);
        out.push('"');
        return;
    }
    let mut done = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[done..i]);
        if esc.is_empty() {
            out.push_str(&format!("\\u{b:04x}"));
        } else {
            out.push_str(esc);
        }
        done = i + 1;
    }
    out.push_str(&s[done..]);
    out.push('"');
}

impl Store {
    /// Before the first fill of a new embedded store (its tables empty): the resource tables
    /// are made again without any index — not even the key's — so the fill appends rows in
    /// the order it writes them, and [`Store::build_indexes`] sorts them into indexes after
    /// the data (much faster than inserting random ids into B-trees row by row). The key
    /// then has a unique index of its own, which upserts conflict on as they would on a
    /// primary key. PostgreSQL keeps its tables and indexes.
    pub fn defer_indexes(&self) -> Result<(), StoreError> {
        if self.is_postgres() {
            return Ok(());
        }
        let mut sql = String::new();
        for r in self.resources() {
            sql.push_str(&format!("DROP TABLE IF EXISTS {};\n", ident(r.name())));
            sql.push_str(&create_table(r, Dialect::Sqlite, false));
        }
        self.tx(true, |c| match c {
            Conn::Sqlite(tx) => Ok(tx.execute_batch(&sql)?),
            Conn::Pg(..) => Ok(()),
        })
    }

    /// Builds the indexes [`Store::defer_indexes`] left out (and any other missing one).
    pub fn build_indexes(&self) -> Result<(), StoreError> {
        if self.is_postgres() {
            return Ok(());
        }
        let mut sql = String::new();
        for r in self.resources() {
            if !self.has_primary_key(r)? {
                sql.push_str(&create_index_sql(
                    &format!("{}_key", r.name()),
                    r,
                    &[r.key_name()],
                    true,
                ));
            }
        }
        sql.push_str(&schema_sql(self.resources(), Dialect::Sqlite));
        self.tx(true, |c| match c {
            Conn::Sqlite(tx) => Ok(tx.execute_batch(&sql)?),
            Conn::Pg(..) => Ok(()),
        })
    }

    /// The SQLite table of `r` was created with its key as primary key (not by a fresh fill).
    fn has_primary_key(&self, r: &Resource) -> Result<bool, StoreError> {
        self.tx(false, |c| {
            let n = c.one_int(
                &format!(
                    "SELECT count(*) FROM pragma_table_info('{}') WHERE pk > 0",
                    r.name()
                ),
                &[],
            )?;
            Ok(n.unwrap_or(0) > 0)
        })
    }

    /// Records which simulation this store holds (`name`: the scenario's identity), refusing
    /// to mix two in one store, or to serve a store an earlier model version made; creates
    /// the resource tables.
    pub fn bind_scenario(
        &self,
        scenario: &std::sync::Arc<Scenario>,
        name: &str,
    ) -> Result<(), StoreError> {
        let seed = scenario.seed();
        let location = self.location.clone();
        let resources = resources(scenario);
        let ddl = schema_sql(&resources, self.dialect());
        self.tx(true, |c| {
            let stored = c.select("SELECT scenario, seed FROM meta WHERE id = 1", &[])?;
            let model = c.one_int("SELECT model FROM store_format WHERE id = 1", &[])?;
            match stored.first() {
                Some(r) if text(&r[0]) != name || int(&r[1]) != seed as i64 => {
                    return Err(StoreError::ScenarioMismatch {
                        location,
                        stored: text(&r[0]),
                        stored_seed: int(&r[1]),
                        wanted: name.to_string(),
                        wanted_seed: seed as i64,
                    });
                }
                // rows made by another model version are not this one's: a restart would mix
                // them with what the clock adds (and the clickstream is regenerated on read)
                Some(_) if model != Some(faux::MODEL_VERSION as i64) => {
                    return Err(StoreError::OutdatedStore {
                        location,
                        stored: model,
                        wanted: faux::MODEL_VERSION as i64,
                    });
                }
                Some(_) => {}
                None => {
                    c.exec(
                        "INSERT INTO meta (id, scenario, seed) VALUES (1, $1, $2)",
                        &[Arg::T(name.into()), Arg::I(seed as i64)],
                    )?;
                    c.exec(
                        "INSERT INTO store_format (id, model) VALUES (1, $1)",
                        &[Arg::I(faux::MODEL_VERSION as i64)],
                    )?;
                }
            }
            match c {
                Conn::Sqlite(tx) => tx.execute_batch(&ddl)?,
                Conn::Pg(pg, client) => pg.batch(client, &ddl)?,
            }
            Ok(())
        })?;
        if self.resources.set(resources).is_err() {
            panic!("a store is bound to one scenario, once");
        }
        self.on_read.bind(scenario.clone());
        Ok(())
    }
}

/// The tables every store has, whatever its scenario: the binding, the clock, the change
/// feed and the API keys.
pub(super) fn base_schema_sql(d: Dialect) -> String {
    let int = d.column_type(LogicalType::Int);
    format!(
        "CREATE TABLE IF NOT EXISTS meta (id {int} PRIMARY KEY CHECK (id = 1), scenario TEXT NOT NULL, seed {int} NOT NULL);
CREATE TABLE IF NOT EXISTS clock (id {int} PRIMARY KEY CHECK (id = 1), reached {int} NOT NULL, last_seq {int} NOT NULL, pruned_seq {int} NOT NULL);
CREATE TABLE IF NOT EXISTS served_from (id {int} PRIMARY KEY CHECK (id = 1), at {int} NOT NULL);
CREATE TABLE IF NOT EXISTS changes (seq {int} PRIMARY KEY, \"table\" TEXT NOT NULL, op TEXT NOT NULL, ts {int} NOT NULL, key TEXT NOT NULL, row TEXT);
CREATE TABLE IF NOT EXISTS window_days (resource TEXT NOT NULL, day {int} NOT NULL, rows {int}, PRIMARY KEY (resource, day));
CREATE TABLE IF NOT EXISTS store_format (id {int} PRIMARY KEY CHECK (id = 1), model {int} NOT NULL);
CREATE TABLE IF NOT EXISTS api_keys (id {}, name TEXT NOT NULL, prefix TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, scopes TEXT NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT);
",
        match d {
            Dialect::Postgres => "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
            Dialect::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
        }
    )
}

/// The DDL of a scenario's resource tables and their indexes, derived from the table
/// definitions (tables that exist are left as they are).
pub fn schema_sql(resources: &[Resource], d: Dialect) -> String {
    let mut sql = String::new();
    for r in resources {
        sql.push_str(&create_table(r, d, true));
        for (index, cols) in r.indexes() {
            sql.push_str(&create_index_sql(&index, r, &cols, false));
        }
    }
    sql
}

/// `CREATE TABLE IF NOT EXISTS` for `r`, with its key as primary key or (`keyed` false, for
/// a fresh fill) without any.
fn create_table(r: &Resource, d: Dialect, keyed: bool) -> String {
    let mut table = CreateTable::new(&ident(r.name()));
    table.if_not_exists();
    for (col, integer) in r.stored_cols() {
        // the bookkeeping columns are always set
        let not_null = r.def.column(col).is_none_or(|c| !c.nullable);
        table.column(col, &stored_type(d, integer), not_null);
    }
    if keyed {
        table.primary_key(&[r.key_name()]);
    }
    format!("{};\n", table.sql())
}

fn create_index_sql(index: &str, r: &Resource, cols: &[&str], unique: bool) -> String {
    let sql = create_index(index, &ident(r.name()), cols);
    let sql = if unique {
        sql.replacen("CREATE INDEX", "CREATE UNIQUE INDEX", 1)
    } else {
        sql
    };
    format!("{sql};\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_render_as_typed_json() {
        let res = resources(&Scenario::by_name("ecommerce", 1).unwrap());
        let (_, orders) = res
            .iter()
            .enumerate()
            .find(|(_, r)| r.name() == "orders")
            .unwrap();
        let vals: Vec<Value> = orders
            .def
            .columns
            .iter()
            .map(|c| match c.ty {
                LogicalType::Int => Value::Integer(3),
                LogicalType::Bool => Value::Integer(1),
                LogicalType::Decimal { .. } => Value::Text("12.50".into()),
                LogicalType::Json => Value::Text("{\"a\":[1]}".into()),
                _ if c.nullable => Value::Null,
                _ => Value::Text("a\"b".into()),
            })
            .collect();
        let text = render(orders, &vals);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        for (c, val) in orders.def.columns.iter().zip(&vals) {
            let got = &v[c.name];
            match (c.ty, val) {
                (_, Value::Null) => assert!(got.is_null()),
                (LogicalType::Int, _) => assert_eq!(got, 3),
                (LogicalType::Bool, _) => assert_eq!(got, true),
                (LogicalType::Decimal { .. }, _) => {
                    // exact decimal text, not a float
                    assert!(text.contains(&format!("\"{}\":12.50", c.name)), "{text}")
                }
                (LogicalType::Json, _) => assert_eq!(got["a"][0], 1),
                _ => assert_eq!(got, "a\"b"),
            }
        }
    }

    #[test]
    fn a_store_made_by_another_model_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let scenario = std::sync::Arc::new(Scenario::by_name("ecommerce", 1).unwrap());
        Store::open(dir.path())
            .unwrap()
            .bind_scenario(&scenario, "ecommerce")
            .unwrap();
        // the same version opens again
        Store::open(dir.path())
            .unwrap()
            .bind_scenario(&scenario, "ecommerce")
            .unwrap();
        for (sql, stored) in [
            ("UPDATE store_format SET model = 2", "model version 2"),
            // a store from before customers had a phone (its tables lack the column)
            ("UPDATE store_format SET model = 3", "model version 3"),
            // a store from before the version was recorded
            ("DELETE FROM store_format", "model version 1 or 2"),
        ] {
            let st = Store::open(dir.path()).unwrap();
            st.tx(true, |c| c.exec(sql, &[])).unwrap();
            let err = st.bind_scenario(&scenario, "ecommerce").unwrap_err();
            let msg = err.to_string();
            assert!(matches!(err, StoreError::OutdatedStore { .. }), "{msg}");
            assert!(msg.contains(stored) && msg.contains("--data-dir"), "{msg}");
        }
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        for s in [
            "",
            "plain",
            "a\"b",
            "back\\slash",
            "new\nline\r\t",
            "\u{0}\u{1f}\u{7f}",
            "é 𝄞 \u{2028}",
            "\"\"",
            "end\\",
        ] {
            let mut out = String::from("x");
            push_json_str(&mut out, s);
            assert_eq!(out[1..], serde_json::to_string(s).unwrap(), "{s:?}");
        }
    }
}
