//! What a scenario's tables become in the store: one [`Resource`] per table (its keys,
//! keyset and bookkeeping columns), the DDL of the resource tables and of the tables every
//! store has, and how a stored row renders as the JSON the API serves.

use faux::{LogicalType, Scenario, TableDef};
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
    pub(super) pk_idx: Vec<usize>,
    pub(super) sort_idx: usize,
    pub(super) created_idx: usize,
    pub(super) deleted_idx: Option<usize>,
    /// `"name":` of every column, for rendering rows.
    json_names: Vec<String>,
}

impl Resource {
    pub fn new(def: &'static TableDef) -> Resource {
        let idx = |name: &str| def.columns.iter().position(|c| c.name == name);
        let sort_col = def.cursor.unwrap_or(def.partition);
        let created_col = if idx("created_at").is_some() {
            "created_at"
        } else {
            def.partition
        };
        Resource {
            def,
            sort_col,
            created_col,
            has_deleted: idx("deleted_at").is_some(),
            insert_only: def.cursor.is_none(),
            parent: def.parent,
            pk_idx: def
                .primary_key
                .iter()
                .map(|k| idx(k).expect("primary key column exists"))
                .collect(),
            sort_idx: idx(sort_col).expect("sort column exists"),
            created_idx: idx(created_col).expect("created column exists"),
            deleted_idx: idx("deleted_at"),
            json_names: def
                .columns
                .iter()
                .map(|c| format!("{}:", serde_json::to_string(c.name).expect("string")))
                .collect(),
        }
    }

    pub fn name(&self) -> &'static str {
        self.def.name
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
        self.def
            .primary_key
            .iter()
            .map(|k| quote(k))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The table has no primary key of its own (rows are identified by their insert's `seq`).
    pub fn keyless(&self) -> bool {
        self.pk_idx.is_empty()
    }

    /// The column holding the id as text: the key column itself, or `_key` for composite keys.
    pub fn key_col(&self) -> String {
        match self.pk_idx.as_slice() {
            [i] if !is_integer(self.def.columns[*i].ty) => quote(self.def.columns[*i].name),
            _ => "_key".into(),
        }
    }

    pub(super) fn has_key_col(&self) -> bool {
        // as `key_col() == "_key"`, without building the name
        !matches!(self.pk_idx.as_slice(), [i] if !is_integer(self.def.columns[*i].ty))
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
        self.def
            .columns
            .iter()
            .map(|c| quote(c.name))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Every stored column, in the order [`Pending::args`] binds them.
    pub(super) fn stored_cols(&self) -> Vec<(String, bool)> {
        let mut cols = Vec::new();
        if self.has_key_col() {
            cols.push(("_key".to_string(), false));
        }
        cols.push(("_sort".to_string(), true));
        if self.has_created_col() {
            cols.push(("_created".to_string(), true));
        }
        if self.has_deleted {
            cols.push(("_deleted".to_string(), true));
        }
        for c in self.def.columns {
            cols.push((quote(c.name), is_integer(c.ty)));
        }
        cols
    }
}

/// The resources of a scenario, in table order (the order of its change feed's table
/// indexes).
pub fn resources(scenario: &Scenario) -> Vec<Resource> {
    scenario.tables().iter().map(|t| Resource::new(t)).collect()
}

pub(super) fn is_integer(ty: LogicalType) -> bool {
    matches!(ty, LogicalType::Int | LogicalType::Bool)
}

pub fn sql_type(ty: LogicalType) -> &'static str {
    if is_integer(ty) {
        "INTEGER"
    } else {
        // decimals stay exact text: REAL would round money
        "TEXT"
    }
}

pub(super) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Renders a row of `res` (its typed columns, in order) as the JSON object the API serves.
pub fn render<'a>(res: &Resource, cells: impl IntoIterator<Item = &'a Value>) -> String {
    let mut out = String::with_capacity(64 * res.def.columns.len());
    out.push('{');
    for ((i, c), v) in res.def.columns.iter().enumerate().zip(cells) {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&res.json_names[i]);
        match (c.ty, v) {
            (_, Value::Null) => out.push_str("null"),
            (LogicalType::Bool, Value::Integer(b)) => {
                out.push_str(if *b != 0 { "true" } else { "false" })
            }
            (_, Value::Integer(n)) => out.push_str(&n.to_string()),
            (LogicalType::Decimal { .. } | LogicalType::Json, Value::Text(t)) => out.push_str(t),
            (_, Value::Text(t)) => out.push_str(&serde_json::to_string(t).expect("string")),
            (_, Value::Real(f)) => out.push_str(&f.to_string()),
            (_, Value::Blob(_)) => out.push_str("null"),
        }
    }
    out.push('}');
    out
}

impl Store {
    /// Before the first backfill of a new embedded store: drops the secondary indexes, which
    /// [`Store::build_indexes`] builds again after the data (much faster than maintaining
    /// them row by row). Opening the store builds missing indexes too, so a backfill that
    /// stops half-way leaves nothing behind. PostgreSQL keeps its indexes.
    pub fn defer_indexes(&self) -> Result<(), StoreError> {
        if self.is_postgres() {
            return Ok(());
        }
        let mut sql = String::new();
        for name in index_names(self.resources()) {
            sql.push_str(&format!("DROP INDEX IF EXISTS {};\n", quote(&name)));
        }
        self.tx(true, |c| match c {
            Conn::Sqlite(tx) => Ok(tx.execute_batch(&sql)?),
            Conn::Pg(..) => Ok(()),
        })
    }

    /// Builds the indexes [`Store::defer_indexes`] dropped (and any other missing one).
    pub fn build_indexes(&self) -> Result<(), StoreError> {
        if self.is_postgres() {
            return Ok(());
        }
        let sql = schema_sql(self.resources(), false);
        self.tx(true, |c| match c {
            Conn::Sqlite(tx) => Ok(tx.execute_batch(&sql)?),
            Conn::Pg(..) => Ok(()),
        })
    }

    /// Records which simulation this store holds (`name`: the scenario's identity), refusing
    /// to mix two in one store, and creates its resource tables.
    pub fn bind_scenario(&self, scenario: &Scenario, name: &str) -> Result<(), StoreError> {
        let seed = scenario.seed();
        let location = self.location.clone();
        let resources = resources(scenario);
        let ddl = schema_sql(&resources, self.is_postgres());
        self.tx(true, |c| {
            let stored = c.select("SELECT scenario, seed FROM meta WHERE id = 1", &[])?;
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
                Some(_) => {}
                None => {
                    c.exec(
                        "INSERT INTO meta (id, scenario, seed) VALUES (1, $1, $2)",
                        &[Arg::T(name.into()), Arg::I(seed as i64)],
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
        Ok(())
    }
}

pub(super) fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn upsert_sql(res: &Resource) -> String {
    let cols = res.stored_cols();
    let names: Vec<&str> = cols.iter().map(|(n, _)| n.as_str()).collect();
    let key = res.key_col();
    let sets: Vec<String> = names
        .iter()
        .filter(|n| **n != key)
        .map(|n| format!("{n} = excluded.{n}"))
        .collect();
    format!(
        "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({key}) DO UPDATE SET {}",
        quote(res.name()),
        names.join(", "),
        placeholders(names.len()),
        sets.join(", ")
    )
}

/// The secondary indexes [`schema_sql`] creates (the primary keys aside).
fn index_names(resources: &[Resource]) -> Vec<String> {
    let mut names = Vec::new();
    for r in resources {
        names.push(format!("{}_sort", r.name()));
        if r.has_created_col() {
            names.push(format!("{}_created", r.name()));
        }
        if r.parent.is_some() {
            names.push(format!("{}_parent", r.name()));
        }
    }
    names
}

/// The tables every store has, whatever its scenario: the binding, the clock, the change
/// feed and the API keys.
pub(super) fn base_schema_sql(pg: bool) -> String {
    let int = if pg { "BIGINT" } else { "INTEGER" };
    format!(
        "CREATE TABLE IF NOT EXISTS meta (id {int} PRIMARY KEY CHECK (id = 1), scenario TEXT NOT NULL, seed {int} NOT NULL);
CREATE TABLE IF NOT EXISTS clock (id {int} PRIMARY KEY CHECK (id = 1), reached {int} NOT NULL, last_seq {int} NOT NULL, pruned_seq {int} NOT NULL);
CREATE TABLE IF NOT EXISTS changes (seq {int} PRIMARY KEY, \"table\" TEXT NOT NULL, op TEXT NOT NULL, ts {int} NOT NULL, key TEXT NOT NULL, row TEXT);
CREATE TABLE IF NOT EXISTS api_keys (id {}, name TEXT NOT NULL, prefix TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, scopes TEXT NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT);
",
        if pg {
            "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
        } else {
            "INTEGER PRIMARY KEY AUTOINCREMENT"
        }
    )
}

/// The DDL of a scenario's resource tables and their indexes, derived from the table
/// definitions.
pub fn schema_sql(resources: &[Resource], pg: bool) -> String {
    let int = if pg { "BIGINT" } else { "INTEGER" };
    let mut sql = String::new();
    for r in resources {
        let t = r.name();
        let mut cols: Vec<String> = r
            .stored_cols()
            .iter()
            .map(|(name, _)| {
                let ty = match r.def.columns.iter().find(|c| quote(c.name) == *name) {
                    Some(c) => format!(
                        "{}{}",
                        if is_integer(c.ty) { int } else { "TEXT" },
                        if c.nullable { "" } else { " NOT NULL" }
                    ),
                    None if name == "_key" => "TEXT NOT NULL".into(),
                    None => format!("{int} NOT NULL"),
                };
                format!("{name} {ty}")
            })
            .collect();
        cols.push(format!("PRIMARY KEY ({})", r.key_col()));
        sql.push_str(&format!(
            "CREATE TABLE IF NOT EXISTS {} ({});\n",
            quote(t),
            cols.join(", ")
        ));
        sql.push_str(&format!(
            "CREATE INDEX IF NOT EXISTS {} ON {} (_sort, {});\n",
            quote(&format!("{t}_sort")),
            quote(t),
            r.key_col()
        ));
        if r.has_created_col() {
            sql.push_str(&format!(
                "CREATE INDEX IF NOT EXISTS {} ON {} (_created);\n",
                quote(&format!("{t}_created")),
                quote(t)
            ));
        }
        if let Some(parent) = r.parent {
            // /v1/<parent>/{id}/<path> looks the rows up by their parent's id
            sql.push_str(&format!(
                "CREATE INDEX IF NOT EXISTS {} ON {} ({}, {});\n",
                quote(&format!("{t}_parent")),
                quote(t),
                quote(parent.column),
                r.key_col()
            ));
        }
    }
    sql
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
}
