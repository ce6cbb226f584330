//! Reading tables back for `verify`: any tool's tables in a schema, by column name.
//!
//! Every column is read as text (`col::text`, in UTC and ISO date style) and canonicalised by
//! its logical type, so a table typed differently (text everywhere, `timestamp` without time
//! zone, `numeric(38,9)`, `double precision`) compares the same as one aladdin created.

use faux::{Date, LogicalType, TableDef};
use futures_util::StreamExt;
use tokio::runtime::Runtime;
use tokio_postgres::Client;

use super::{PgError, PgTarget, describe};
use crate::sql::{day_bounds, ident};
use crate::verify::{Source, Val, VerifyError, canonical_text, column_positions};

/// A schema of a PostgreSQL database, as a [`Source`] of loaded rows.
#[derive(Debug)]
pub struct PgSource {
    target: PgTarget,
    runtime: Runtime,
    client: Client,
}

impl PgSource {
    /// Connects and checks the schema exists.
    pub fn open(target: PgTarget) -> Result<PgSource, PgError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let client = runtime.block_on(async {
            let client = target.connect().await?;
            target.check_schema(&client).await?;
            client
                .batch_execute("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'")
                .await
                .map_err(|e| target.sql_error("setting up the session", &e))?;
            Ok::<_, PgError>(client)
        })?;
        Ok(PgSource {
            target,
            runtime,
            client,
        })
    }
}

impl Source for PgSource {
    fn describe(&self) -> String {
        format!("PostgreSQL {}", self.target.describe())
    }

    fn read(
        &mut self,
        table: &'static TableDef,
        days: Option<(Date, Date)>,
        row: &mut dyn FnMut(Result<Vec<Val>, String>),
    ) -> Result<(), VerifyError> {
        let name = self.target.qualified(table.name);
        let client = &self.client;
        let read_error = |e: tokio_postgres::Error| {
            VerifyError::Read(format!("reading {name}: {}", describe(&e)))
        };
        self.runtime.block_on(async {
            let columns: Vec<String> = client
                .query(
                    "SELECT a.attname::text FROM pg_attribute a \
                     WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped",
                    &[&name],
                )
                .await
                .map_err(read_error)?
                .iter()
                .map(|r| r.get(0))
                .collect();
            if columns.is_empty() {
                return Err(VerifyError::TableMissing {
                    table: table.name.to_string(),
                    place: format!("PostgreSQL {}", self.target.describe()),
                });
            }
            column_positions(table, &columns)?;
            let select: Vec<String> = table
                .columns
                .iter()
                .map(|c| format!("{}::text", ident(c.name)))
                .collect();
            let mut sql = format!("SELECT {} FROM {name}", select.join(", "));
            if let Some((from, to)) = days {
                let p = ident(table.partition);
                let is_date = table
                    .column(table.partition)
                    .is_some_and(|c| c.ty == LogicalType::Date);
                if is_date {
                    sql.push_str(&format!(" WHERE {p}::date BETWEEN '{from}' AND '{to}'"));
                } else {
                    let (lo, _) = day_bounds(from);
                    let (_, hi) = day_bounds(to);
                    sql.push_str(&format!(
                        " WHERE {p}::timestamptz >= '{lo}' AND {p}::timestamptz < '{hi}'"
                    ));
                }
            }
            let stream = client
                .query_raw(sql.as_str(), Vec::<String>::new())
                .await
                .map_err(read_error)?;
            futures_util::pin_mut!(stream);
            while let Some(r) = stream.next().await {
                let r = r.map_err(read_error)?;
                let values = table
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| match r.get::<_, Option<&str>>(i) {
                        None => Ok(Val::Null),
                        Some(s) => canonical_text(c.ty, s).map_err(|e| format!("{}: {e}", c.name)),
                    })
                    .collect();
                row(values);
            }
            Ok(())
        })
    }
}
