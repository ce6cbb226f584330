//! Pre-generates the daily extracts of a range as PostgreSQL binary COPY files, for the
//! raw-COPY baseline of `bench/postgres_load.sh`: the same rows aladdin loads, encoded by the
//! same encoder, so the baseline measures the server's bulk path alone.
//!
//! usage: pg_copy_files SCENARIO FROM TO OUT_DIR
//!
//! Writes OUT_DIR/schema.sql (the tables aladdin creates, except that tables whose rows change
//! over days have no primary key: their extracts hold several versions of a key),
//! OUT_DIR/indexes.sql (the secondary indexes aladdin builds after a first load),
//! OUT_DIR/<table>.bin (one COPY stream per table) and prints the row count.

use std::io::Write;

use faux::{Date, Row, RowSink, Scenario, Shard, View};
use faux_sinks::postgres::PgTarget;
use faux_sinks::postgres::copy::CopyEncoder;
use faux_sinks::postgres::ddl::{create_table, partition_index};
use faux_sinks::sql::Dialect;

struct ToFile<'a> {
    enc: CopyEncoder,
    out: &'a mut std::io::BufWriter<std::fs::File>,
    rows: u64,
}

impl RowSink for ToFile<'_> {
    type Error = std::io::Error;
    fn row<R: Row>(&mut self, row: &R) -> std::io::Result<()> {
        self.enc.row(row);
        self.rows += 1;
        if self.enc.buf.len() > 1 << 20 {
            self.out.write_all(&self.enc.buf)?;
            self.enc.buf.clear();
        }
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [scenario, from, to, out] = args.as_slice() else {
        return Err("usage: pg_copy_files SCENARIO FROM TO OUT_DIR".into());
    };
    let s = Scenario::by_name(scenario, faux::DEFAULT_SEED)?;
    let (from, to): (Date, Date) = (from.parse()?, to.parse()?);
    let out = std::path::Path::new(out);
    std::fs::create_dir_all(out)?;
    let target = PgTarget::parse("postgres://bench@localhost/bench", None)?;
    let mut schema = String::new();
    let mut indexes = String::new();
    let mut total = 0u64;
    for &table in s.tables() {
        if table.cursor.is_some() {
            let cols: Vec<String> = table
                .columns
                .iter()
                .map(|c| format!("\"{}\" {}", c.name, Dialect::Postgres.column_type(c.ty)))
                .collect();
            schema.push_str(&format!(
                "CREATE TABLE {} ({});\n",
                target.qualified(table.name),
                cols.join(", ")
            ));
        } else {
            schema.push_str(&create_table(&target, table));
            schema.push_str(";\n");
        }
        if let Some(i) = partition_index(&target, table) {
            indexes.push_str(&i);
            indexes.push_str(";\n");
        }
        let mut file = std::io::BufWriter::new(std::fs::File::create(
            out.join(format!("{}.bin", table.name)),
        )?);
        let mut header = CopyEncoder::new(table, from, 64);
        header.header();
        file.write_all(&header.buf)?;
        let mut day = from;
        while day <= to {
            let mut sink = ToFile {
                enc: CopyEncoder::new(table, day, (1 << 20) + 4096),
                out: &mut file,
                rows: 0,
            };
            s.generate(table, day, Shard::ALL, View::Extract, &mut sink)?;
            sink.out.write_all(&sink.enc.buf)?;
            total += sink.rows;
            day = day.succ();
        }
        let mut trailer = CopyEncoder::new(table, from, 64);
        trailer.trailer();
        file.write_all(&trailer.buf)?;
        file.flush()?;
    }
    std::fs::write(out.join("schema.sql"), schema)?;
    std::fs::write(out.join("indexes.sql"), indexes)?;
    println!("{total}");
    Ok(())
}
