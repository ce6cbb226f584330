//! The PostgreSQL side of a [`RawLoad`](super::RawLoad).

use bytes::Bytes;
use futures_util::SinkExt;

use super::*;
use crate::postgres::{PgError, PgTarget};
use crate::sql::ident;

/// Appends `cells` as one line of COPY's text format (tab-separated, `\N` for null).
fn copy_line(out: &mut Vec<u8>, cells: impl IntoIterator<Item = Option<String>>) {
    for (i, c) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        match c {
            None => out.extend_from_slice(b"\\N"),
            Some(s) => {
                for b in s.bytes() {
                    match b {
                        b'\\' => out.extend_from_slice(b"\\\\"),
                        b'\t' => out.extend_from_slice(b"\\t"),
                        b'\n' => out.extend_from_slice(b"\\n"),
                        b'\r' => out.extend_from_slice(b"\\r"),
                        _ => out.push(b),
                    }
                }
            }
        }
    }
    out.push(b'\n');
}

async fn columns_of(
    target: &PgTarget,
    client: &tokio_postgres::Client,
    table: &str,
) -> Result<Vec<(String, String)>, PgError> {
    let rows = client
        .query(
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
            &[&target.schema, &table],
        )
        .await
        .map_err(|e| target.sql_error(format!("looking up table {table}"), &e))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Checks or creates the raw tables and `_defects`.
async fn prepare(
    target: &PgTarget,
    client: &tokio_postgres::Client,
    tables: &[&'static TableDef],
) -> Result<(), PgError> {
    let wanted = raw_tables(tables);
    let mut ddl = String::new();
    for (name, cols) in &wanted {
        let found = columns_of(target, client, name).await?;
        if found.is_empty() {
            let defs: Vec<String> = cols
                .iter()
                .map(|c| {
                    let ty = match (is_date(name, c), *c == "corrected_on") {
                        (true, false) => "date NOT NULL",
                        (true, true) => "date",
                        _ => "text",
                    };
                    format!("{} {ty}", ident(c))
                })
                .collect();
            ddl.push_str(&format!(
                "CREATE TABLE IF NOT EXISTS {} ({});\n",
                target.qualified(name),
                defs.join(", ")
            ));
            ddl.push_str(&raw_indexes(name, &target.qualified(name)));
            continue;
        }
        // the days are dates: every other column is text
        let (text_cols, date_cols): (Vec<&str>, Vec<&str>) =
            cols.iter().copied().partition(|c| !is_date(name, c));
        let mut problems = layout_problems(
            &text_cols,
            &found
                .iter()
                .filter(|(n, _)| !date_cols.contains(&n.as_str()))
                .cloned()
                .collect::<Vec<_>>(),
            &["text", "character varying"],
        );
        problems.extend(layout_problems(
            &date_cols,
            &found
                .iter()
                .filter(|(n, _)| date_cols.contains(&n.as_str()))
                .cloned()
                .collect::<Vec<_>>(),
            &["date"],
        ));
        if !problems.is_empty() {
            return Err(PgError::Incompatible {
                table: name.clone(),
                target: target.describe(),
                problems,
            });
        }
    }
    if !ddl.is_empty() {
        client
            .batch_execute(&format!("BEGIN;\n{ddl}COMMIT;"))
            .await
            .map_err(|e| target.sql_error("creating the raw tables", &e))?;
    }
    Ok(())
}

/// Replaces `table`'s rows of `day` (`_day`) with `rows`, delivered on `delivered`;
/// returns how many were written.
async fn replace(
    target: &PgTarget,
    client: &tokio_postgres::Client,
    table: &'static TableDef,
    day: Date,
    delivered: Date,
    rows: Vec<Vec<Option<String>>>,
) -> Result<u64, PgError> {
    let at = |what: &str| format!("{what} {} of {day} (day {delivered})", table.name);
    client
        .execute(
            &format!(
                "DELETE FROM {} WHERE {} = $1::text::date",
                target.qualified(table.name),
                ident(DAY_COLUMN)
            ),
            &[&day.to_string()],
        )
        .await
        .map_err(|e| target.sql_error(at("replacing"), &e))?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut data = Vec::new();
    let (d, on) = (day.to_string(), delivered.to_string());
    for r in rows {
        copy_line(
            &mut data,
            r.into_iter().chain([Some(d.clone()), Some(on.clone())]),
        );
    }
    copy(
        target,
        client,
        table.name,
        &raw_columns(table),
        data,
        &at("copying"),
    )
    .await
}

/// Whether the schema holds `table`'s first delivery of the late partition of `day`
/// (its `late_file` defects): what a correction replaces.
async fn holds_late(
    target: &PgTarget,
    client: &tokio_postgres::Client,
    table: &'static TableDef,
    day: Date,
) -> Result<bool, PgError> {
    let row = client
        .query_one(
            &format!(
                "SELECT EXISTS (SELECT 1 FROM {} WHERE \"table\" = $1 AND day = $2::text::date \
                 AND kind = $3)",
                target.qualified(DEFECTS_TABLE)
            ),
            &[&table.name, &day.to_string(), &DefectKind::LateFile.name()],
        )
        .await
        .map_err(|e| {
            target.sql_error(
                format!("looking up the late file {} of {day}", table.name),
                &e,
            )
        })?;
    Ok(row.get(0))
}

/// Whether `table` holds rows of `day` delivered on `on`.
async fn delivered_on(
    target: &PgTarget,
    client: &tokio_postgres::Client,
    table: &'static TableDef,
    day: Date,
    on: Date,
) -> Result<bool, PgError> {
    let row = client
        .query_one(
            &format!(
                "SELECT EXISTS (SELECT 1 FROM {} WHERE {} = $1::text::date AND {} = $2::text::date)",
                target.qualified(table.name),
                ident(DAY_COLUMN),
                ident(DELIVERED_COLUMN)
            ),
            &[&day.to_string(), &on.to_string()],
        )
        .await
        .map_err(|e| target.sql_error(format!("looking up the deliveries of {} of {day}", table.name), &e))?;
    Ok(row.get(0))
}

async fn copy(
    target: &PgTarget,
    client: &tokio_postgres::Client,
    table: &str,
    columns: &[&str],
    data: Vec<u8>,
    what: &str,
) -> Result<u64, PgError> {
    let sql = format!(
        "COPY {} ({}) FROM STDIN",
        target.qualified(table),
        crate::sql::idents(columns)
    );
    let sink = client
        .copy_in::<_, Bytes>(sql.as_str())
        .await
        .map_err(|e| target.sql_error(what, &e))?;
    futures_util::pin_mut!(sink);
    sink.send(Bytes::from(data))
        .await
        .map_err(|e| target.sql_error(what, &e))?;
    sink.finish().await.map_err(|e| target.sql_error(what, &e))
}

impl RawLoad<'_> {
    /// Loads every day in order into `target`'s schema (it must exist); `on_day` is
    /// called as each day commits.
    pub fn run_pg(&self, target: &PgTarget, on_day: &dyn Fn(Date)) -> Result<RawSummary, PgError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(self.load_pg(target, on_day))
    }

    async fn load_pg(
        &self,
        target: &PgTarget,
        on_day: &dyn Fn(Date),
    ) -> Result<RawSummary, PgError> {
        let client = target.connect().await?;
        target.check_schema(&client).await?;
        crate::postgres::ddl::lock(target, &client).await?;
        let tables = self.landed();
        prepare(target, &client, &tables).await?;
        let names: Vec<String> = tables.iter().map(|t| t.name.to_string()).collect();
        let mut summary = RawSummary::default();
        for day in self.days.days() {
            let at = |what: &str| format!("{what} (day {day})");
            client
                .batch_execute("BEGIN")
                .await
                .map_err(|e| target.sql_error(at("starting"), &e))?;
            let mut manifest = Vec::new();
            let mut defects = 0u64;
            for &table in &tables {
                // a rerun of a late partition whose correction is here already keeps it
                let (delivery, delivered) =
                    match correction_of(self.scenario, table, day, self.profile) {
                        Some(c) if delivered_on(target, &client, table, day, c).await? => {
                            (Delivery::Corrected, c)
                        }
                        _ => (Delivery::First, day),
                    };
                let (rows, planted) = day_rows(self.scenario, table, day, self.profile, delivery);
                summary.rows += replace(target, &client, table, day, delivered, rows).await?;
                // the late partitions this day corrects, when their first delivery is here
                for late in corrects(self.scenario, table, day, self.profile) {
                    if holds_late(target, &client, table, late).await? {
                        let (rows, _) = day_rows(
                            self.scenario,
                            table,
                            late,
                            self.profile,
                            Delivery::Corrected,
                        );
                        summary.rows += replace(target, &client, table, late, day, rows).await?;
                    }
                }
                for d in &planted {
                    copy_line(&mut manifest, defect_cells(d));
                }
                defects += planted.len() as u64;
            }
            client
                .execute(
                    &format!(
                        "DELETE FROM {} WHERE day = $1::text::date AND \"table\" = ANY($2)",
                        target.qualified(DEFECTS_TABLE)
                    ),
                    &[&day.to_string(), &names],
                )
                .await
                .map_err(|e| target.sql_error(at("replacing the defects manifest"), &e))?;
            if defects > 0 {
                copy(
                    target,
                    &client,
                    DEFECTS_TABLE,
                    &DEFECT_COLUMNS,
                    manifest,
                    &at("writing the defects manifest"),
                )
                .await?;
            }
            client
                .batch_execute("COMMIT")
                .await
                .map_err(|e| target.sql_error(at("committing"), &e))?;
            summary.days += 1;
            summary.defects += defects;
            on_day(day);
        }
        crate::postgres::ddl::release(target, &client).await?;
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn copy_text_escapes_what_copy_reads_specially() {
        let mut out = Vec::new();
        super::copy_line(
            &mut out,
            [Some("a\tb\\c\nd".to_string()), None, Some(String::new())],
        );
        assert_eq!(out, b"a\\tb\\\\c\\nd\t\\N\t\n");
    }
}
