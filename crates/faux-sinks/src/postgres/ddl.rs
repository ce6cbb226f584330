//! Tables, keys, indexes and foreign keys derived from the table definitions, and the checks
//! that make a load into existing tables safe: the schema exists, no other load runs into it,
//! and every existing table can take our rows (columns, types, a unique key to upsert on).

use faux::{LogicalType, TableDef};
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use super::{PgError, PgTarget};
use crate::sql::{self, Dialect, ForeignKey, Upsert, column_list, foreign_keys, ident, upserts};

/// What the load needs to know about each table once the schema is ready.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Per table (in the order given): the table was empty, so no day of this run can already
    /// be in it — its day partitions need no delete and its secondary index is built at the end.
    pub bulk: Vec<bool>,
}

/// `CREATE TABLE` for `table` (no foreign keys: those are added separately).
pub fn create_table(target: &PgTarget, table: &TableDef) -> String {
    Dialect::Postgres
        .create_table(&target.qualified(table.name), table)
        .sql()
}

/// The secondary index on the partition column, unless the primary key already starts with it.
pub fn partition_index(target: &PgTarget, table: &TableDef) -> Option<String> {
    sql::partition_index(&target.qualified(table.name), table)
}

fn add_foreign_key(target: &PgTarget, fk: &ForeignKey) -> String {
    format!(
        "ALTER TABLE {} ADD CONSTRAINT {} {}",
        target.qualified(fk.table.name),
        ident(&fk.name()),
        fk.constraint(&target.qualified(fk.parent.name))
    )
}

/// Whether an existing column of PostgreSQL type `typname` (`format_type` text `formatted`)
/// takes our binary COPY values of `ty` unchanged; otherwise what we expected.
fn type_problem(ty: LogicalType, typname: &str, formatted: &str) -> Option<String> {
    let ok = match ty {
        LogicalType::Text | LogicalType::HexUuid => matches!(typname, "text" | "varchar"),
        LogicalType::Uuid => typname == "uuid",
        LogicalType::Int => typname == "int8",
        LogicalType::Decimal { precision, scale } => {
            typname == "numeric"
                && (formatted == "numeric"
                    || formatted
                        .strip_prefix("numeric(")
                        .and_then(|r| r.strip_suffix(')'))
                        .and_then(|r| r.split_once(','))
                        .and_then(|(p, s)| Some((p.parse::<u8>().ok()?, s.parse::<u8>().ok()?)))
                        .is_some_and(|(p, s)| s == scale && p >= precision))
        }
        LogicalType::Bool => typname == "bool",
        LogicalType::Date => typname == "date",
        LogicalType::Timestamp => typname == "timestamptz",
        LogicalType::Json => typname == "jsonb",
    };
    (!ok).then(|| format!("expected {}", Dialect::Postgres.column_type(ty)))
}

async fn existing_columns(
    target: &PgTarget,
    client: &Client,
    table: &TableDef,
) -> Result<Option<Vec<(String, String, String, bool, bool)>>, PgError> {
    let name = target.qualified(table.name);
    let exists: bool = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
        .await
        .map_err(|e| target.sql_error(format!("looking up table {name}"), &e))?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let rows = client
        .query(
            "SELECT a.attname::text, t.typname::text, format_type(a.atttypid, a.atttypmod), \
                    a.attnotnull, a.atthasdef \
             FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
             WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum",
            &[&name],
        )
        .await
        .map_err(|e| target.sql_error(format!("reading the columns of {name}"), &e))?;
    Ok(Some(
        rows.iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
            .collect(),
    ))
}

/// What stops us from loading into an existing table; empty if nothing.
async fn layout_problems(
    target: &PgTarget,
    client: &Client,
    table: &TableDef,
    columns: &[(String, String, String, bool, bool)],
) -> Result<Vec<String>, PgError> {
    let mut problems = Vec::new();
    for c in table.columns {
        match columns.iter().find(|x| x.0 == c.name) {
            None => problems.push(format!("column {} is missing", c.name)),
            Some((_, typname, formatted, _, _)) => {
                if let Some(p) = type_problem(c.ty, typname, formatted) {
                    problems.push(format!("column {} is {formatted}, {p}", c.name));
                }
            }
        }
    }
    for (name, _, _, not_null, has_default) in columns {
        if table.column(name).is_none() && *not_null && !has_default {
            problems.push(format!(
                "extra column {name} is NOT NULL without a default, and aladdin does not fill it"
            ));
        }
    }
    if upserts(table) {
        let qualified = target.qualified(table.name);
        let keys: Vec<Vec<String>> = client
            .query(
                "SELECT array_agg(a.attname::text ORDER BY a.attname) \
                 FROM pg_index i \
                 CROSS JOIN LATERAL unnest(i.indkey) AS k(attnum) \
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
                 WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indpred IS NULL \
                 GROUP BY i.indexrelid",
                &[&qualified],
            )
            .await
            .map_err(|e| target.sql_error(format!("reading the keys of {qualified}"), &e))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut want: Vec<String> = table.primary_key.iter().map(|k| k.to_string()).collect();
        want.sort();
        if !keys.contains(&want) {
            problems.push(format!(
                "no primary key or unique index on ({}) to upsert on",
                table.primary_key.join(", ")
            ));
        }
    }
    Ok(problems)
}

/// How long a load waits for the lock of the schema before saying another load is running.
const LOCK_GRACE_MS: u32 = 5_000;

fn lock_name(target: &PgTarget) -> String {
    format!("faux-genie load {}", target.schema)
}

/// Releases the load lock [`prepare`] took, so that a load started right after this one
/// finds it free (closing the connection releases it too, but only once the server notices).
pub async fn release(target: &PgTarget, client: &Client) -> Result<(), PgError> {
    client
        .execute(
            "SELECT pg_advisory_unlock(hashtextextended($1, 0))",
            &[&lock_name(target)],
        )
        .await
        .map_err(|e| target.sql_error("releasing the load lock", &e))?;
    Ok(())
}

/// Takes the load lock of the schema (held by `client`'s session until [`release`] or it
/// closes): one load at a time into a schema, clean or dirty.
pub async fn lock(target: &PgTarget, client: &Client) -> Result<(), PgError> {
    // A load that just ended may still hold the lock for a moment: its backend exits after
    // the client has gone. Wait that long, not for a load that is really running.
    client
        .batch_execute(&format!("SET lock_timeout = '{LOCK_GRACE_MS}ms'"))
        .await
        .map_err(|e| target.sql_error("taking the load lock", &e))?;
    let locked = client
        .execute(
            "SELECT pg_advisory_lock(hashtextextended($1, 0))",
            &[&lock_name(target)],
        )
        .await;
    match locked {
        Ok(_) => {}
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE) => {
            return Err(PgError::Busy {
                schema: target.schema.clone(),
                target: target.display().to_string(),
            });
        }
        Err(e) => return Err(target.sql_error("taking the load lock", &e)),
    }
    client
        .batch_execute("RESET lock_timeout")
        .await
        .map_err(|e| target.sql_error("taking the load lock", &e))?;
    Ok(())
}

/// Checks the schema, takes the load lock (held by `client`'s session until it closes),
/// creates missing tables, foreign keys and indexes, and finds which tables start empty.
/// Nothing is created unless every existing table can be loaded into.
pub async fn prepare(
    target: &PgTarget,
    client: &Client,
    tables: &[&'static TableDef],
    with_foreign_keys: bool,
) -> Result<Prepared, PgError> {
    target.check_schema(client).await?;
    lock(target, client).await?;

    let mut missing = Vec::new();
    for &table in tables {
        match existing_columns(target, client, table).await? {
            None => missing.push(table),
            Some(cols) => {
                let problems = layout_problems(target, client, table, &cols).await?;
                if !problems.is_empty() {
                    return Err(PgError::Incompatible {
                        table: target.qualified(table.name),
                        target: target.display().to_string(),
                        problems,
                    });
                }
            }
        }
    }

    let mut ddl: Vec<String> = missing.iter().map(|t| create_table(target, t)).collect();
    if with_foreign_keys {
        for fk in foreign_keys(tables) {
            let exists = client
                .query_opt(
                    "SELECT 1 FROM pg_constraint WHERE conname = $1 AND conrelid = to_regclass($2)",
                    &[&fk.name(), &target.qualified(fk.table.name)],
                )
                .await
                .map_err(|e| target.sql_error("looking up foreign keys", &e))?
                .is_some();
            let created = missing.iter().any(|t| std::ptr::eq(*t, fk.table));
            if created || !exists {
                ddl.push(add_foreign_key(target, &fk));
            }
            ddl.push(fk.index(&target.qualified(fk.table.name)));
        }
    }
    if !ddl.is_empty() {
        let script = format!("BEGIN;\n{};\nCOMMIT;", ddl.join(";\n"));
        if let Err(e) = client.batch_execute(&script).await {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(target.sql_error("creating tables", &e));
        }
    }

    let mut bulk = Vec::new();
    for &table in tables {
        let empty: bool = client
            .query_one(
                &format!(
                    "SELECT NOT EXISTS (SELECT 1 FROM {})",
                    target.qualified(table.name)
                ),
                &[],
            )
            .await
            .map_err(|e| target.sql_error(format!("reading {}", table.name), &e))?
            .get(0);
        if !empty {
            // deletes of a day's partition need the index from the start
            create_indexes(target, client, &[table]).await?;
        }
        bulk.push(empty);
    }
    Ok(Prepared { bulk })
}

/// Creates the secondary indexes of `tables` that do not exist yet.
pub async fn create_indexes(
    target: &PgTarget,
    client: &Client,
    tables: &[&'static TableDef],
) -> Result<(), PgError> {
    for &table in tables {
        if let Some(sql) = partition_index(target, table) {
            client
                .batch_execute(&sql)
                .await
                .map_err(|e| target.sql_error(format!("indexing {}", table.name), &e))?;
        }
    }
    Ok(())
}

/// The temporary table a mutable table's day is copied into before the upsert.
pub fn stage_name(table: &TableDef) -> String {
    format!("faux_stage_{}", table.name)
}

pub fn create_stage(table: &TableDef) -> String {
    let cols: Vec<String> = table
        .columns
        .iter()
        .map(|c| format!("{} {}", ident(c.name), Dialect::Postgres.column_type(c.ty)))
        .collect();
    format!(
        "CREATE TEMPORARY TABLE IF NOT EXISTS {} ({}) ON COMMIT DELETE ROWS",
        ident(&stage_name(table)),
        cols.join(", ")
    )
}

/// Moves the staged day into the table, keeping per key the newest version
/// ([`Upsert::of_table`]). Rows are taken in key order so concurrent days lock keys in the same
/// order and cannot deadlock.
pub fn upsert(target: &PgTarget, table: &TableDef) -> String {
    upsert_where(target, table, None)
}

/// [`upsert`] of the staged rows *not* created on `day` (creation column outside it, or
/// null): with [`insert_created`], the load of a day into a table that only days before it
/// filled. Tables without a creation column ([`TableDef::created`]) take the full upsert.
pub fn upsert_older(target: &PgTarget, table: &TableDef, day: faux::Date) -> String {
    let created = created_on(table, day);
    upsert_where(target, table, Some(&format!("({created}) IS NOT TRUE")))
}

fn upsert_where(target: &PgTarget, table: &TableDef, filter: Option<&str>) -> String {
    let up = Upsert::of_table(&target.qualified(table.name), table);
    let cursor = ident(table.cursor.unwrap_or(table.partition));
    let filter = filter.map_or_else(String::new, |f| format!(" WHERE {f}"));
    up.sql(&format!(
        "SELECT DISTINCT ON ({keys}) {cols} FROM pg_temp.{stage}{filter} ORDER BY {keys}, {cursor} DESC",
        keys = up.keys(),
        cols = up.columns(),
        stage = ident(&stage_name(table)),
    ))
}

/// The staged rows created on `day` ([`TableDef::created`] in the day), inserted as they are:
/// no conflict check, no sort. Right only when no version of them can be in the table yet — a
/// first load whose days commit one by one in order (a day's extract holds each key once, and
/// a row created on `day` has no version from an earlier day). A key that is there after all
/// fails with a unique violation, which [`insert_then_upsert`] answers with the full upsert.
/// Why: `ON CONFLICT` (a second index descent per row, a speculative insertion) and the sort
/// for `DISTINCT ON` cost about as much as the insert itself.
pub fn insert_created(target: &PgTarget, table: &TableDef, day: faux::Date) -> String {
    let up = Upsert::of_table(&target.qualified(table.name), table);
    up.insert(&format!(
        "SELECT {cols} FROM pg_temp.{stage} WHERE {created}",
        cols = up.columns(),
        stage = ident(&stage_name(table)),
        created = created_on(table, day),
    ))
}

/// "The row was created on `day`" as SQL. Panics for a table without a creation column.
fn created_on(table: &TableDef, day: faux::Date) -> String {
    let col = table
        .created
        .expect("only tables with a creation column split their upsert");
    on_day(table, col, day)
}

/// Moves a staged day of `table` into it in two statements: the rows created on `day` by
/// [`insert_created`], the versions of older rows by [`upsert_older`]. Inside the day's
/// transaction. `Ok(false)`: a row created on `day` was in the table after all; the insert is
/// undone (nothing changed) and the caller runs the full [`upsert`] instead.
pub async fn insert_then_upsert(
    target: &PgTarget,
    client: &Client,
    table: &TableDef,
    day: faux::Date,
) -> Result<bool, tokio_postgres::Error> {
    // one round trip; the savepoint undoes the insert alone if a key conflicts
    let sql = format!(
        "SAVEPOINT faux_created; {}; RELEASE SAVEPOINT faux_created; {}",
        insert_created(target, table, day),
        upsert_older(target, table, day)
    );
    match client.batch_execute(&sql).await {
        Ok(()) => Ok(true),
        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            client
                .batch_execute("ROLLBACK TO SAVEPOINT faux_created")
                .await?;
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Deletes the rows of a day's partition (for tables whose rows never change).
pub fn delete_day(target: &PgTarget, table: &TableDef, day: faux::Date) -> String {
    format!(
        "DELETE FROM {} WHERE {}",
        target.qualified(table.name),
        on_day(table, table.partition, day)
    )
}

/// "Column `column` falls on `day`", as SQL.
fn on_day(table: &TableDef, column: &str, day: faux::Date) -> String {
    let col = ident(column);
    let is_date = table
        .column(column)
        .is_some_and(|c| c.ty == LogicalType::Date);
    if is_date {
        format!("{col} = '{day}'")
    } else {
        let (lo, hi) = crate::sql::day_bounds(day);
        format!("{col} >= '{lo}' AND {col} < '{hi}'")
    }
}

/// `COPY` of the table's columns into `into` (a qualified table name), binary.
pub fn copy_in(into: &str, table: &TableDef) -> String {
    format!(
        "COPY {into} ({}) FROM STDIN (FORMAT binary)",
        column_list(table)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_from_definitions() {
        let s = faux::Scenario::by_name("ecommerce", 1).unwrap();
        let t = PgTarget::parse("postgres://u@h/d", None).unwrap();
        let orders = s.table("orders").unwrap();
        let sql = create_table(&t, orders);
        assert!(sql.contains("\"total\" numeric(12,2) NOT NULL"), "{sql}");
        assert!(sql.contains("PRIMARY KEY (\"id\")"), "{sql}");
        let up = upsert(&t, orders);
        assert!(
            up.contains("WHERE target.\"updated_at\" <= excluded.\"updated_at\""),
            "{up}"
        );
        assert!(!up.contains("\"id\" = excluded"), "{up}");
        let ms = s.table("marketing_spend").unwrap();
        assert_eq!(partition_index(&t, ms), None);
        assert_eq!(
            delete_day(&t, ms, "2024-01-02".parse().unwrap()),
            "DELETE FROM \"public\".\"marketing_spend\" WHERE \"date\" = '2024-01-02'"
        );
        let ev = s.table("events").unwrap();
        assert!(delete_day(&t, ev, "2024-01-02".parse().unwrap()).ends_with(
            "\"occurred_at\" >= '2024-01-02T00:00:00Z' AND \"occurred_at\" < '2024-01-03T00:00:00Z'"
        ));
    }

    #[test]
    fn a_split_day_load_tells_new_rows_by_their_creation_column() {
        let s = faux::Scenario::by_name("ecommerce", 1).unwrap();
        let t = PgTarget::parse("postgres://u@h/d", None).unwrap();
        let sessions = s.table("sessions").unwrap();
        let day = "2024-01-02".parse().unwrap();
        let on_day =
            "\"started_at\" >= '2024-01-02T00:00:00Z' AND \"started_at\" < '2024-01-03T00:00:00Z'";
        let insert = insert_created(&t, sessions, day);
        assert!(
            insert.starts_with("INSERT INTO \"public\".\"sessions\" (\"id\", "),
            "{insert}"
        );
        assert!(
            insert.ends_with(&format!(
                "FROM pg_temp.\"faux_stage_sessions\" WHERE {on_day}"
            )),
            "{insert}"
        );
        assert!(!insert.contains("ON CONFLICT"), "{insert}");
        let older = upsert_older(&t, sessions, day);
        // rows with a null creation time are not "created on the day": they upsert
        assert!(
            older.contains(&format!("WHERE ({on_day}) IS NOT TRUE ORDER BY")),
            "{older}"
        );
        assert!(older.contains("ON CONFLICT (\"id\") DO UPDATE"), "{older}");
    }

    #[test]
    fn existing_types_we_can_load_into() {
        let money = LogicalType::Decimal {
            precision: 12,
            scale: 2,
        };
        assert_eq!(type_problem(money, "numeric", "numeric(12,2)"), None);
        assert_eq!(type_problem(money, "numeric", "numeric(18,2)"), None);
        assert_eq!(type_problem(money, "numeric", "numeric"), None);
        assert!(type_problem(money, "numeric", "numeric(10,2)").is_some());
        assert!(type_problem(money, "numeric", "numeric(12,4)").is_some());
        assert!(type_problem(LogicalType::Int, "int4", "integer").is_some());
        assert_eq!(
            type_problem(LogicalType::Text, "varchar", "character varying"),
            None
        );
    }
}
