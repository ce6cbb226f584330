//! The SQL that the PostgreSQL sink, the SQLite sink and Genie's store all write, written once:
//! identifier quoting, column types and placeholders per [`Dialect`], `CREATE TABLE` /
//! `CREATE INDEX` ([`CreateTable`], [`create_index`]) and upserts ([`Upsert`]); and what the
//! sinks derive from the table definitions (foreign keys, which tables upsert).

use faux::{Date, LogicalType, TableDef, Timestamp};

/// The SQL dialects spoken. They differ in column types and placeholders; everything else
/// built here (quoted identifiers, `ON CONFLICT … DO UPDATE`, `excluded`, `IF NOT EXISTS`)
/// both read alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

impl Dialect {
    /// The declared type of a column holding values of `ty` as the sinks load them.
    ///
    /// PostgreSQL: the binary COPY types (text, uuid, int8, numeric, bool, date, timestamptz,
    /// jsonb). SQLite: text for text, UUIDs, dates, timestamps (RFC 3339 UTC sorts as text)
    /// and JSON; `INTEGER` for integers and booleans (0/1); `NUMERIC(p,s)` for decimals.
    pub fn column_type(self, ty: LogicalType) -> String {
        match self {
            Dialect::Postgres => match ty {
                LogicalType::Text | LogicalType::HexUuid => "text".into(),
                LogicalType::Uuid => "uuid".into(),
                LogicalType::Int => "bigint".into(),
                LogicalType::Decimal { precision, scale } => {
                    format!("numeric({precision},{scale})")
                }
                LogicalType::Bool => "boolean".into(),
                LogicalType::Date => "date".into(),
                LogicalType::Timestamp => "timestamptz".into(),
                LogicalType::Json => "jsonb".into(),
            },
            Dialect::Sqlite => match ty {
                LogicalType::Text
                | LogicalType::HexUuid
                | LogicalType::Uuid
                | LogicalType::Json
                | LogicalType::Date
                | LogicalType::Timestamp => "TEXT".into(),
                LogicalType::Int | LogicalType::Bool => "INTEGER".into(),
                LogicalType::Decimal { precision, scale } => {
                    format!("NUMERIC({precision},{scale})")
                }
            },
        }
    }

    /// The placeholder of the `n`th (1-based) argument of a statement.
    pub fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("${n}"),
            Dialect::Sqlite => format!("?{n}"),
        }
    }

    /// `VALUES (…)` of `n` placeholders: one row bound as arguments, for [`Upsert`].
    pub fn values(self, n: usize) -> String {
        let p: Vec<String> = (1..=n).map(|i| self.placeholder(i)).collect();
        format!("VALUES ({})", p.join(", "))
    }

    /// `CREATE TABLE` `name` (a table as SQL: quoted, maybe schema-qualified) with `table`'s
    /// columns typed by [`Dialect::column_type`] and its primary key.
    pub fn create_table(self, name: &str, table: &TableDef) -> CreateTable {
        let mut t = CreateTable::new(name);
        for c in table.columns {
            t.column(c.name, &self.column_type(c.ty), !c.nullable);
        }
        t.primary_key(table.primary_key);
        t
    }
}

/// `name` as a quoted SQL identifier.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `names`, quoted and comma-separated.
pub fn idents<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> String {
    names
        .into_iter()
        .map(|n| ident(n.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The quoted column names of `table`, comma-separated.
pub fn column_list(table: &TableDef) -> String {
    idents(table.columns.iter().map(|c| c.name))
}

/// A `CREATE TABLE` statement: columns, then table constraints.
#[derive(Debug, Clone)]
pub struct CreateTable {
    name: String,
    if_not_exists: bool,
    parts: Vec<String>,
}

impl CreateTable {
    /// `name`: the table as SQL (quoted, maybe schema-qualified).
    pub fn new(name: &str) -> CreateTable {
        CreateTable {
            name: name.to_string(),
            if_not_exists: false,
            parts: Vec::new(),
        }
    }

    /// Leave an existing table of that name as it is.
    pub fn if_not_exists(&mut self) -> &mut Self {
        self.if_not_exists = true;
        self
    }

    /// Appends column `name` of SQL type `ty`.
    pub fn column(&mut self, name: &str, ty: &str, not_null: bool) -> &mut Self {
        let null = if not_null { " NOT NULL" } else { "" };
        self.parts.push(format!("{} {ty}{null}", ident(name)));
        self
    }

    /// The primary key over `columns` (none if empty).
    pub fn primary_key<S: AsRef<str>>(&mut self, columns: &[S]) -> &mut Self {
        if !columns.is_empty() {
            self.parts
                .push(format!("PRIMARY KEY ({})", idents(columns.iter())));
        }
        self
    }

    /// Appends a table constraint, as SQL.
    pub fn constraint(&mut self, sql: String) -> &mut Self {
        self.parts.push(sql);
        self
    }

    pub fn sql(&self) -> String {
        format!(
            "CREATE TABLE {}{} (\n  {}\n)",
            if self.if_not_exists {
                "IF NOT EXISTS "
            } else {
                ""
            },
            self.name,
            self.parts.join(",\n  ")
        )
    }
}

/// `CREATE INDEX IF NOT EXISTS name ON table (columns)`; `table` as SQL (quoted, maybe
/// schema-qualified), `name` and `columns` as names.
pub fn create_index<S: AsRef<str>>(name: &str, table: &str, columns: &[S]) -> String {
    format!(
        "CREATE INDEX IF NOT EXISTS {} ON {table} ({})",
        ident(name),
        idents(columns.iter())
    )
}

/// The secondary index of a sink's table on its partition column (day deletes, incremental
/// reads, `verify`), unless the primary key already starts with it; `name` as SQL.
pub fn partition_index(name: &str, table: &TableDef) -> Option<String> {
    (table.primary_key.first() != Some(&table.partition)).then(|| {
        create_index(
            &format!("{}_{}_idx", table.name, table.partition),
            name,
            &[table.partition],
        )
    })
}

/// `INSERT … ON CONFLICT (keys) DO UPDATE` of every other column: a row whose key is already
/// there replaces it, or — with [`Upsert::newer_by`] — replaces it unless it is older.
#[derive(Debug, Clone)]
pub struct Upsert {
    into: String,
    columns: Vec<String>,
    keys: Vec<String>,
    newer_by: Option<String>,
}

impl Upsert {
    /// Inserts `columns` into `into` (a table as SQL), conflicting on `keys` (names).
    pub fn new<S: AsRef<str>>(into: &str, columns: &[S], keys: &[S]) -> Upsert {
        let own = |v: &[S]| v.iter().map(|s| s.as_ref().to_string()).collect();
        Upsert {
            into: into.to_string(),
            columns: own(columns),
            keys: own(keys),
            newer_by: None,
        }
    }

    /// A sink's upsert of `table`: its columns on its primary key, keeping per key the newest
    /// version by its cursor (`updated_at`): a row already there that is newer (a later day
    /// loaded first) stays.
    pub fn of_table(into: &str, table: &TableDef) -> Upsert {
        let columns: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
        let mut up = Upsert::new(into, &columns, table.primary_key);
        up.newer_by(table.cursor.unwrap_or(table.partition));
        up
    }

    /// Update a stored row only with a version whose `column` is at least its own.
    pub fn newer_by(&mut self, column: &str) -> &mut Self {
        self.newer_by = Some(column.to_string());
        self
    }

    /// The inserted columns, quoted and comma-separated.
    pub fn columns(&self) -> String {
        idents(&self.columns)
    }

    /// The conflict key, quoted and comma-separated.
    pub fn keys(&self) -> String {
        idents(&self.keys)
    }

    /// The plain insert of `rows` (`VALUES …` or a `SELECT`).
    pub fn insert(&self, rows: &str) -> String {
        format!("INSERT INTO {} ({}) {rows}", self.into, self.columns())
    }

    /// The upsert of `rows` (`VALUES …` or a `SELECT`).
    pub fn sql(&self, rows: &str) -> String {
        let sets: Vec<String> = self
            .columns
            .iter()
            .filter(|c| !self.keys.contains(c))
            .map(|c| format!("{0} = excluded.{0}", ident(c)))
            .collect();
        let guard = match &self.newer_by {
            Some(c) => format!(" WHERE target.{0} <= excluded.{0}", ident(c)),
            None => String::new(),
        };
        format!(
            "INSERT INTO {} AS target ({}) {rows} ON CONFLICT ({}) DO UPDATE SET {}{guard}",
            self.into,
            self.columns(),
            self.keys(),
            sets.join(", ")
        )
    }
}

/// Whether a day's rows of `table` upsert (rows change over days: keep the newest version per
/// key) or replace that day's partition (rows never change).
pub fn upserts(table: &TableDef) -> bool {
    table.cursor.is_some() && !table.primary_key.is_empty()
}

/// A foreign key: `table.column` references `parent.parent_column`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForeignKey {
    pub table: &'static TableDef,
    pub column: &'static str,
    pub parent: &'static TableDef,
    pub parent_column: &'static str,
}

impl ForeignKey {
    pub fn name(&self) -> String {
        format!("{}_{}_fkey", self.table.name, self.column)
    }

    /// The constraint, referencing `parent` (the parent table as SQL). Deferred: a day's
    /// tables load in any order within its transaction.
    pub fn constraint(&self, parent: &str) -> String {
        format!(
            "FOREIGN KEY ({}) REFERENCES {parent} ({}) DEFERRABLE INITIALLY DEFERRED",
            ident(self.column),
            ident(self.parent_column)
        )
    }

    /// The index on the referencing column: without it, every delete or key check on the
    /// parent scans the child table.
    pub fn index(&self, qualified_table: &str) -> String {
        create_index(
            &format!("{}_{}_idx", self.table.name, self.column),
            qualified_table,
            &[self.column],
        )
    }
}

/// The foreign keys among `tables`, derived from names because table definitions carry none:
/// column `C` of one table references another table whose primary key is a single column `P`
/// of the same type when `C` = `P` (`payments.order_id` → `orders.order_id`) or when `P` is
/// `id` and `C` is the parent's singular name + `_id` (`events.session_id` → `sessions.id`).
pub fn foreign_keys(tables: &[&'static TableDef]) -> Vec<ForeignKey> {
    let mut out = Vec::new();
    for &table in tables {
        for c in table.columns {
            if table.primary_key == [c.name] {
                continue;
            }
            for &parent in tables {
                if std::ptr::eq(parent, table) || parent.primary_key.len() != 1 {
                    continue;
                }
                let p = parent.primary_key[0];
                let Some(pc) = parent.column(p) else { continue };
                let singular = parent.name.strip_suffix('s').unwrap_or(parent.name);
                let named = c.name == p || (p == "id" && c.name == format!("{singular}_id"));
                if named && pc.ty == c.ty {
                    out.push(ForeignKey {
                        table,
                        column: c.name,
                        parent,
                        parent_column: p,
                    });
                }
            }
        }
    }
    out
}

/// `[start, end)` of a day as RFC 3339 literals, for partition predicates.
pub fn day_bounds(day: Date) -> (String, String) {
    (day.start().to_string(), day.succ().start().to_string())
}

/// The check that keeps a daily load idempotent. Both database sinks replace a day's rows by
/// their partition column, so a row loaded with a day whose partition value is outside it
/// would survive that day's reload, or be deleted by another day's: the first such row is
/// remembered and fails the load.
#[derive(Debug)]
pub struct DayGuard {
    /// The partition column's position, and `[start, end)` of the day in seconds.
    partition: usize,
    day: (i64, i64),
    table: &'static str,
    out_of_day: Option<String>,
}

impl DayGuard {
    pub fn new(table: &'static TableDef, day: Date) -> DayGuard {
        DayGuard {
            partition: table
                .columns
                .iter()
                .position(|c| c.name == table.partition)
                .unwrap_or(usize::MAX),
            day: (day.start().0, day.succ().start().0),
            table: table.name,
            out_of_day: None,
        }
    }

    /// Checks column `col`'s value, `seconds` since 1970 (a date: its first second).
    #[inline(always)]
    pub fn check(&mut self, col: usize, seconds: i64) {
        if col == self.partition
            && !(self.day.0..self.day.1).contains(&seconds)
            && self.out_of_day.is_none()
        {
            self.out_of_day = Some(format!(
                "a row of {} has {} outside {}",
                self.table,
                Timestamp(seconds),
                Timestamp(self.day.0).date()
            ));
        }
    }

    /// The first row seen outside the day, described; the guard is clear again after.
    pub fn take_out_of_day(&mut self) -> Option<String> {
        self.out_of_day.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faux::Scenario;

    fn names(s: &str) -> Vec<String> {
        let s = Scenario::by_name(s, 1).unwrap();
        foreign_keys(s.tables())
            .iter()
            .map(|f| {
                format!(
                    "{}.{}->{}.{}",
                    f.table.name, f.column, f.parent.name, f.parent_column
                )
            })
            .collect()
    }

    #[test]
    fn statements_per_dialect() {
        let s = Scenario::by_name("ecommerce", 1).unwrap();
        let orders = s.table("orders").unwrap();
        let pg = Dialect::Postgres
            .create_table("\"raw\".\"orders\"", orders)
            .sql();
        assert!(
            pg.starts_with("CREATE TABLE \"raw\".\"orders\" (\n  \"id\" "),
            "{pg}"
        );
        assert!(pg.contains("\"total\" numeric(12,2) NOT NULL"), "{pg}");
        assert!(pg.ends_with(",\n  PRIMARY KEY (\"id\")\n)"), "{pg}");
        let lite = Dialect::Sqlite
            .create_table("\"orders\"", orders)
            .if_not_exists()
            .sql();
        assert!(
            lite.starts_with("CREATE TABLE IF NOT EXISTS \"orders\""),
            "{lite}"
        );
        assert!(lite.contains("\"total\" NUMERIC(12,2) NOT NULL"), "{lite}");
        assert_eq!(Dialect::Sqlite.values(2), "VALUES (?1, ?2)");
        assert_eq!(Dialect::Postgres.values(2), "VALUES ($1, $2)");

        let mut up = Upsert::new("\"t\"", &["k", "a", "v"], &["k"]);
        assert_eq!(
            up.sql("VALUES (?1, ?2, ?3)"),
            "INSERT INTO \"t\" AS target (\"k\", \"a\", \"v\") VALUES (?1, ?2, ?3) \
             ON CONFLICT (\"k\") DO UPDATE SET \"a\" = excluded.\"a\", \"v\" = excluded.\"v\""
        );
        up.newer_by("v");
        assert!(
            up.sql("x")
                .ends_with(" WHERE target.\"v\" <= excluded.\"v\"")
        );
        assert_eq!(
            up.insert("VALUES (1, 2, 3)"),
            "INSERT INTO \"t\" (\"k\", \"a\", \"v\") VALUES (1, 2, 3)"
        );
        let ms = s.table("marketing_spend").unwrap();
        assert_eq!(partition_index("\"marketing_spend\"", ms), None);
        assert_eq!(
            partition_index("\"events\"", s.table("events").unwrap()).unwrap(),
            "CREATE INDEX IF NOT EXISTS \"events_occurred_at_idx\" ON \"events\" (\"occurred_at\")"
        );
    }

    #[test]
    fn foreign_keys_follow_the_naming() {
        assert_eq!(names("shiny-rocks"), ["payments.order_id->orders.order_id"]);
        let e = names("ecommerce");
        for fk in [
            "sessions.customer_id->customers.id",
            "events.session_id->sessions.id",
            "events.product_id->products.id",
            "order_items.order_id->orders.id",
            "refunds.payment_id->payments.id",
            "shipments.order_id->orders.id",
        ] {
            assert!(e.contains(&fk.to_string()), "{fk} not in {e:?}");
        }
        assert!(!e.iter().any(|f| f.starts_with("marketing_spend")));
    }

    #[test]
    fn the_day_guard_remembers_the_first_row_outside_the_day() {
        let orders = Scenario::by_name("ecommerce", 1)
            .unwrap()
            .table("orders")
            .unwrap();
        let col = orders
            .columns
            .iter()
            .position(|c| c.name == orders.partition)
            .unwrap();
        let day: Date = "2025-01-02".parse().unwrap();
        let mut guard = DayGuard::new(orders, day);
        guard.check(col, day.start().0);
        guard.check(col, day.succ().start().0 - 1);
        // other columns may hold any instant
        guard.check(col + 1, 0);
        assert_eq!(guard.take_out_of_day(), None);
        guard.check(col, day.succ().start().0);
        guard.check(col, 0);
        let why = guard.take_out_of_day().unwrap();
        assert_eq!(
            why,
            format!(
                "a row of orders has {} outside 2025-01-02",
                day.succ().start()
            )
        );
        assert_eq!(guard.take_out_of_day(), None);
    }
}
