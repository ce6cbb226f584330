//! Reading loaded rows back from a folder of files: `DIR/<table>/…/*.{csv,jsonl,parquet}`
//! (Hive-style partitions, any depth), `DIR/<table>.{csv,jsonl,parquet}` (flat) or
//! `DIR/YYYY-MM-DD/<table>[.part-N].{csv,jsonl,parquet}` (a folder per day). Columns are
//! found by name, so files with extra or reordered columns read as well; rows are attributed
//! to days by their partition column, not by the folder they sit in.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type};
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, TimeUnit};
use faux::{Column, Date, TableDef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::values::{Raw, Val, canonical};
use super::{Mode, Source, VerifyError, column_positions};

const EXTENSIONS: [&str; 3] = ["csv", "jsonl", "parquet"];

/// A folder written by `aladdin generate` or by a pipeline that lands files.
#[derive(Debug)]
pub struct FileSource {
    dir: PathBuf,
}

impl FileSource {
    pub fn new(dir: &Path) -> Result<FileSource, VerifyError> {
        if !dir.is_dir() {
            return Err(VerifyError::Read(format!(
                "{} is not a folder (expected a folder of files, postgres://… or sqlite://…)",
                dir.display()
            )));
        }
        Ok(FileSource {
            dir: dir.to_path_buf(),
        })
    }

    /// The data files of `table`, in a stable order.
    fn files(&self, table: &TableDef) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let hidden = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.') || n.starts_with('_'));
                if hidden {
                    continue;
                }
                if path.is_dir() {
                    walk(&path, out);
                } else if has_data_extension(&path) {
                    out.push(path);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.dir.join(table.name), &mut out);
        for ext in EXTENSIONS {
            let flat = self.dir.join(format!("{}.{ext}", table.name));
            if flat.is_file() {
                out.push(flat);
            }
        }
        for day in self.day_folders() {
            let Ok(entries) = std::fs::read_dir(&day) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
                let part_of_table = stem == table.name
                    || stem
                        .strip_prefix(table.name)
                        .and_then(|r| r.strip_prefix(".part-"))
                        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
                if part_of_table && has_data_extension(&path) && path.is_file() {
                    out.push(path);
                }
            }
        }
        out.sort();
        out
    }

    /// `DIR/YYYY-MM-DD/` folders (the daily layout).
    fn day_folders(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.len() == 10 && n.parse::<Date>().is_ok())
                    && p.is_dir()
            })
            .collect()
    }
}

fn has_data_extension(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.contains(&e))
}

impl Source for FileSource {
    fn describe(&self) -> String {
        format!("folder {}", self.dir.display())
    }

    fn mode(&self, _: &TableDef) -> Mode {
        // files hold daily extracts: a mutable row appears once per day it changed
        Mode::PerDay
    }

    fn read(
        &mut self,
        table: &'static TableDef,
        _: Option<(Date, Date)>,
        row: &mut dyn FnMut(Result<Vec<Val>, String>),
    ) -> Result<(), VerifyError> {
        let files = self.files(table);
        if files.is_empty() {
            return Err(VerifyError::TableMissing {
                table: table.name.to_string(),
                place: self.describe(),
            });
        }
        for f in files {
            let at = |e: String| VerifyError::Read(format!("{}: {e}", f.display()));
            match f.extension().and_then(|e| e.to_str()) {
                Some("csv") => read_csv(&f, table, row).map_err(at)?,
                Some("jsonl") => read_jsonl(&f, table, row).map_err(at)?,
                _ => read_parquet(&f, table, row)?,
            }
        }
        Ok(())
    }
}

fn read_text(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|_| "not UTF-8".to_string())
}

/// Canonical values from text fields; an empty field is null in a nullable column.
fn from_fields(
    columns: &[Column],
    positions: &[usize],
    fields: &[String],
) -> Result<Vec<Val>, String> {
    columns
        .iter()
        .zip(positions)
        .map(|(c, &p)| {
            let f = fields
                .get(p)
                .ok_or_else(|| format!("a row has no field for {}", c.name))?;
            if f.is_empty() && c.nullable {
                Ok(Val::Null)
            } else {
                canonical(c.ty, Raw::Text(f)).map_err(|e| format!("{}: {e}", c.name))
            }
        })
        .collect()
}

fn read_csv(
    path: &Path,
    table: &'static TableDef,
    row: &mut dyn FnMut(Result<Vec<Val>, String>),
) -> Result<(), String> {
    let text = read_text(path)?;
    let mut records = CsvRecords::new(&text);
    let header = match records.next() {
        Some(h) => h?,
        None => return Ok(()),
    };
    let positions = column_positions(table, &header).map_err(|e| e.to_string())?;
    for rec in records {
        row(from_fields(table.columns, &positions, &rec?));
    }
    Ok(())
}

/// RFC 4180 records (CRLF or LF line ends, quoted fields with doubled quotes).
struct CsvRecords<'a> {
    rest: &'a str,
}

impl<'a> CsvRecords<'a> {
    fn new(text: &'a str) -> CsvRecords<'a> {
        CsvRecords { rest: text }
    }
}

impl Iterator for CsvRecords<'_> {
    type Item = Result<Vec<String>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut chars = self.rest.char_indices().peekable();
        let mut quoted = false;
        let mut at_start = true;
        while let Some((i, c)) = chars.next() {
            match (quoted, c) {
                (true, '"') if chars.peek().map(|p| p.1) == Some('"') => {
                    field.push('"');
                    chars.next();
                }
                (true, '"') => quoted = false,
                (true, c) => field.push(c),
                (false, '"') if at_start => quoted = true,
                (false, ',') => {
                    fields.push(std::mem::take(&mut field));
                    at_start = true;
                    continue;
                }
                (false, '\n') => {
                    if field.ends_with('\r') {
                        field.pop();
                    }
                    fields.push(field);
                    self.rest = &self.rest[i + 1..];
                    return Some(Ok(fields));
                }
                (false, c) => field.push(c),
            }
            at_start = false;
        }
        self.rest = "";
        if quoted {
            return Some(Err("unterminated quoted field".into()));
        }
        fields.push(field);
        Some(Ok(fields))
    }
}

fn read_jsonl(
    path: &Path,
    table: &'static TableDef,
    row: &mut dyn FnMut(Result<Vec<Val>, String>),
) -> Result<(), String> {
    use serde_json::Value;
    let text = read_text(path)?;
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let obj: serde_json::Map<String, Value> = match serde_json::from_str(line) {
            Ok(o) => o,
            Err(e) => {
                row(Err(format!("line {}: {e}", n + 1)));
                continue;
            }
        };
        let values = table
            .columns
            .iter()
            .map(|c| {
                let raw_text;
                let raw = match obj.get(c.name) {
                    None | Some(Value::Null) => Raw::Null,
                    Some(Value::Bool(b)) => Raw::Bool(*b),
                    Some(Value::Number(num)) => match num.as_i64() {
                        Some(i) => Raw::Int(i),
                        None => {
                            // the shortest text of the number reads back exactly
                            raw_text = num.to_string();
                            Raw::Text(&raw_text)
                        }
                    },
                    Some(Value::String(s)) => Raw::Text(s),
                    Some(doc) => {
                        raw_text = doc.to_string();
                        Raw::Text(&raw_text)
                    }
                };
                canonical(c.ty, raw).map_err(|e| format!("line {}: {}: {e}", n + 1, c.name))
            })
            .collect();
        row(values);
    }
    Ok(())
}

fn read_parquet(
    path: &Path,
    table: &'static TableDef,
    row: &mut dyn FnMut(Result<Vec<Val>, String>),
) -> Result<(), VerifyError> {
    let at = |e: &dyn std::fmt::Display| VerifyError::Read(format!("{}: {e}", path.display()));
    let file = File::open(path).map_err(|e| at(&e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| at(&e))?
        .build()
        .map_err(|e| at(&e))?;
    for batch in reader {
        let batch = batch.map_err(|e| at(&e))?;
        let names: Vec<String> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let positions = column_positions(table, &names)?;
        let arrays: Vec<&ArrayRef> = positions.iter().map(|&p| batch.column(p)).collect();
        for i in 0..batch.num_rows() {
            let values = table
                .columns
                .iter()
                .zip(&arrays)
                .map(|(c, a)| {
                    let raw = arrow_raw(a, i).map_err(|e| format!("{}: {e}", c.name))?;
                    canonical(c.ty, raw).map_err(|e| format!("{}: {e}", c.name))
                })
                .collect();
            row(values);
        }
    }
    Ok(())
}

fn arrow_raw(a: &ArrayRef, i: usize) -> Result<Raw<'_>, String> {
    if a.is_null(i) {
        return Ok(Raw::Null);
    }
    Ok(match a.data_type() {
        DataType::Utf8 => Raw::Text(a.as_string::<i32>().value(i)),
        DataType::LargeUtf8 => Raw::Text(a.as_string::<i64>().value(i)),
        DataType::Int64 => Raw::Int(a.as_primitive::<Int64Type>().value(i)),
        DataType::Int32 => Raw::Int(a.as_primitive::<Int32Type>().value(i) as i64),
        DataType::Int16 => Raw::Int(a.as_primitive::<Int16Type>().value(i) as i64),
        DataType::Float64 => Raw::Float(a.as_primitive::<Float64Type>().value(i)),
        DataType::Float32 => Raw::Float(a.as_primitive::<Float32Type>().value(i) as f64),
        DataType::Boolean => Raw::Bool(a.as_boolean().value(i)),
        DataType::Date32 => Raw::Int(a.as_primitive::<Date32Type>().value(i) as i64),
        DataType::Decimal128(_, s) => Raw::Decimal(
            a.as_primitive::<arrow_array::types::Decimal128Type>()
                .value(i),
            (*s).max(0) as u8,
        ),
        DataType::Timestamp(unit, _) => {
            use arrow_array::types::*;
            let (v, per_second) = match unit {
                TimeUnit::Second => (a.as_primitive::<TimestampSecondType>().value(i), 1),
                TimeUnit::Millisecond => {
                    (a.as_primitive::<TimestampMillisecondType>().value(i), 1_000)
                }
                TimeUnit::Microsecond => (
                    a.as_primitive::<TimestampMicrosecondType>().value(i),
                    1_000_000,
                ),
                TimeUnit::Nanosecond => (
                    a.as_primitive::<TimestampNanosecondType>().value(i),
                    1_000_000_000,
                ),
            };
            Raw::Int(v.div_euclid(per_second))
        }
        DataType::Binary => Raw::Bytes(a.as_binary::<i32>().value(i)),
        DataType::FixedSizeBinary(_) => Raw::Bytes(a.as_fixed_size_binary().value(i)),
        other => return Err(format!("unsupported Parquet type {other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_records_with_quotes_and_line_ends() {
        let text = "a,b\r\n\"x,1\",\"say \"\"hi\"\"\"\r\n,2\n";
        let recs: Vec<Vec<String>> = CsvRecords::new(text).map(Result::unwrap).collect();
        assert_eq!(
            recs,
            vec![
                vec!["a".to_string(), "b".into()],
                vec!["x,1".into(), "say \"hi\"".into()],
                vec!["".into(), "2".into()],
            ]
        );
    }
}
