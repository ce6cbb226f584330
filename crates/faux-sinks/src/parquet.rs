//! Parquet through Arrow: typed columns (text, int64, decimal128, bool, date32,
//! timestamp(µs, UTC)), snappy compression, one row group per [`ROW_GROUP_ROWS`] rows so memory
//! stays bounded whatever the size of a day.

use std::io::Write;
use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use faux::{FieldVisitor, LogicalType, Row, TableDef, Timestamp, Uuid};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::SinkError;

pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// The Arrow schema of a table, derived from its definition.
pub fn arrow_schema(table: &TableDef) -> SchemaRef {
    let fields: Vec<Field> = table
        .columns
        .iter()
        .map(|c| Field::new(c.name, arrow_type(c.ty), c.nullable))
        .collect();
    Arc::new(Schema::new(fields))
}

pub fn arrow_type(ty: LogicalType) -> DataType {
    match ty {
        LogicalType::Text | LogicalType::HexUuid | LogicalType::Uuid | LogicalType::Json => {
            DataType::Utf8
        }
        LogicalType::Int => DataType::Int64,
        LogicalType::Decimal { precision, scale } => DataType::Decimal128(precision, scale as i8),
        LogicalType::Bool => DataType::Boolean,
        LogicalType::Date => DataType::Date32,
        LogicalType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
    }
}

#[derive(Debug)]
enum ColumnBuilder {
    Text(StringBuilder),
    Int(Int64Builder),
    Decimal(Decimal128Builder),
    Bool(BooleanBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
}

impl ColumnBuilder {
    fn new(ty: LogicalType) -> ColumnBuilder {
        match ty {
            LogicalType::Text | LogicalType::HexUuid | LogicalType::Uuid | LogicalType::Json => {
                ColumnBuilder::Text(StringBuilder::new())
            }
            LogicalType::Int => ColumnBuilder::Int(Int64Builder::new()),
            LogicalType::Decimal { precision, scale } => ColumnBuilder::Decimal(
                Decimal128Builder::new()
                    .with_precision_and_scale(precision, scale as i8)
                    .expect("table definitions hold valid decimal precisions"),
            ),
            LogicalType::Bool => ColumnBuilder::Bool(BooleanBuilder::new()),
            LogicalType::Date => ColumnBuilder::Date(Date32Builder::new()),
            LogicalType::Timestamp => {
                ColumnBuilder::Timestamp(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
            }
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Text(b) => Arc::new(b.finish()),
            ColumnBuilder::Int(b) => Arc::new(b.finish()),
            ColumnBuilder::Decimal(b) => Arc::new(b.finish()),
            ColumnBuilder::Bool(b) => Arc::new(b.finish()),
            ColumnBuilder::Date(b) => Arc::new(b.finish()),
            ColumnBuilder::Timestamp(b) => Arc::new(b.finish()),
        }
    }

    fn len(&self) -> usize {
        match self {
            ColumnBuilder::Text(b) => b.len(),
            ColumnBuilder::Int(b) => b.len(),
            ColumnBuilder::Decimal(b) => b.len(),
            ColumnBuilder::Bool(b) => b.len(),
            ColumnBuilder::Date(b) => b.len(),
            ColumnBuilder::Timestamp(b) => b.len(),
        }
    }
}

/// Collects rows of one table into Arrow column builders and hands them out as record
/// batches: the one row-to-Arrow conversion, shared by the Parquet encoder and the Python
/// package's readers.
pub struct BatchBuilder {
    schema: SchemaRef,
    columns: Vec<ColumnBuilder>,
    col: usize,
}

impl std::fmt::Debug for BatchBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchBuilder")
            .field("schema", &self.schema)
            .field("rows", &self.len())
            .finish()
    }
}

impl BatchBuilder {
    pub fn new(table: &TableDef) -> BatchBuilder {
        BatchBuilder {
            schema: arrow_schema(table),
            columns: table
                .columns
                .iter()
                .map(|c| ColumnBuilder::new(c.ty))
                .collect(),
            col: 0,
        }
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Appends one row.
    #[inline]
    pub fn row<R: Row>(&mut self, row: &R) {
        self.col = 0;
        row.visit(self);
    }

    /// Rows appended since the last [`BatchBuilder::finish`].
    pub fn len(&self) -> usize {
        self.columns.first().map_or(0, ColumnBuilder::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows appended so far as one batch; the builder starts empty again.
    pub fn finish(&mut self) -> Result<RecordBatch, arrow_schema::ArrowError> {
        let arrays = self.columns.iter_mut().map(ColumnBuilder::finish).collect();
        RecordBatch::try_new(self.schema.clone(), arrays)
    }

    #[inline(always)]
    fn next(&mut self) -> &mut ColumnBuilder {
        let c = &mut self.columns[self.col];
        self.col += 1;
        c
    }
}

/// Collects rows into Arrow column builders and writes them as Parquet row groups.
pub struct ParquetEncoder<W: Write + Send> {
    batch: BatchBuilder,
    writer: ArrowWriter<W>,
}

impl<W: Write + Send> std::fmt::Debug for ParquetEncoder<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetEncoder")
            .field("batch", &self.batch)
            .finish()
    }
}

impl<W: Write + Send> ParquetEncoder<W> {
    pub fn new(table: &TableDef, out: W) -> Result<Self, SinkError> {
        let batch = BatchBuilder::new(table);
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_created_by(format!("faux-genie {}", env!("CARGO_PKG_VERSION")))
            .build();
        let writer = ArrowWriter::try_new(out, batch.schema(), Some(props))?;
        Ok(ParquetEncoder { batch, writer })
    }

    #[inline]
    pub fn row<R: Row>(&mut self, row: &R) -> Result<(), SinkError> {
        self.batch.row(row);
        if self.batch.len() >= ROW_GROUP_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = self.batch.finish()?;
        self.writer.write(&batch)?;
        self.writer.flush()?;
        Ok(())
    }

    /// Writes the last row group and the footer; returns the underlying writer.
    pub fn finish(mut self) -> Result<W, SinkError> {
        self.flush()?;
        Ok(self.writer.into_inner()?)
    }
}

// A visit call whose method does not match the column's type is a bug in a table definition;
// the snapshot and round-trip tests cover every table, so mismatches panic loudly there.
fn mismatch(method: &str) -> ! {
    panic!("row visited a column with {method}() that its table defines with another type")
}

impl FieldVisitor for BatchBuilder {
    fn text(&mut self, v: &str) {
        match self.next() {
            ColumnBuilder::Text(b) => b.append_value(v),
            _ => mismatch("text"),
        }
    }
    fn hex_uuid(&mut self, v: &Uuid) {
        match self.next() {
            ColumnBuilder::Text(b) => b.append_value(v.to_string()),
            _ => mismatch("hex_uuid"),
        }
    }
    fn uuid(&mut self, v: &Uuid) {
        match self.next() {
            ColumnBuilder::Text(b) => {
                b.append_value(std::str::from_utf8(&v.hyphenated()).unwrap_or_default())
            }
            _ => mismatch("uuid"),
        }
    }
    fn int(&mut self, v: i64) {
        match self.next() {
            ColumnBuilder::Int(b) => b.append_value(v),
            _ => mismatch("int"),
        }
    }
    fn decimal(&mut self, units: i64) {
        match self.next() {
            ColumnBuilder::Decimal(b) => b.append_value(units as i128),
            _ => mismatch("decimal"),
        }
    }
    fn bool(&mut self, v: bool) {
        match self.next() {
            ColumnBuilder::Bool(b) => b.append_value(v),
            _ => mismatch("bool"),
        }
    }
    fn date(&mut self, v: faux::Date) {
        match self.next() {
            ColumnBuilder::Date(b) => b.append_value(v.days_since_epoch()),
            _ => mismatch("date"),
        }
    }
    fn timestamp(&mut self, v: Timestamp) {
        match self.next() {
            ColumnBuilder::Timestamp(b) => b.append_value(v.seconds() * 1_000_000),
            _ => mismatch("timestamp"),
        }
    }
    fn json(&mut self, v: &str) {
        self.text(v)
    }
    fn null(&mut self) {
        match self.next() {
            ColumnBuilder::Text(b) => b.append_null(),
            ColumnBuilder::Int(b) => b.append_null(),
            ColumnBuilder::Decimal(b) => b.append_null(),
            ColumnBuilder::Bool(b) => b.append_null(),
            ColumnBuilder::Date(b) => b.append_null(),
            ColumnBuilder::Timestamp(b) => b.append_null(),
        }
    }
}
