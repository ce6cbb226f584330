//! `faux_genie._native`: the Rust half of the Python package (`python/faux_genie` wraps it).
//!
//! Rows become Arrow record batches through faux-sinks' [`BatchBuilder`] (the same conversion
//! as the Parquet files) and cross into Python through the Arrow C stream interface
//! (arrow-pyarrow): no row is copied through Python objects. Generation runs with the GIL
//! released.

use std::sync::{Arc, Mutex};

use arrow_array::{RecordBatch, RecordBatchIterator, RecordBatchReader};
use arrow_pyarrow::PyArrowType;
use faux::{
    Date, DateRange, LogicalType, Scenario, ScenarioSpec, Shard, TableDef, Timestamp, View,
};
use faux_sinks::error_line::one_line;
use faux_sinks::parquet::BatchBuilder;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// Rows per record batch handed to Python unless the caller says otherwise.
const BATCH_ROWS: usize = 64 * 1024;

/// Scenarios built recently, by (name or file text, seed): building the shop's catalogue and
/// its change-feed cache are worth keeping between calls (a Spark executor reads many days).
/// Derived data only: results never depend on what is cached.
type Cached = (String, u64, Arc<Scenario>);
static SCENARIOS: Mutex<Vec<Cached>> = Mutex::new(Vec::new());
const CACHED_SCENARIOS: usize = 4;

fn usage(message: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(message.to_string())
}

/// A scenario by name or a path to a scenario file (`.toml`), as the CLI's `--scenario`.
fn load(name: &str, seed: u64) -> PyResult<Arc<Scenario>> {
    let spec = ScenarioSpec::read(name).map_err(|e| usage(one_line(&e)))?;
    let key = match &spec {
        ScenarioSpec::BuiltIn(name) => name.clone(),
        ScenarioSpec::File { text, .. } => text.clone(),
    };
    let mut cache = SCENARIOS.lock().expect("scenario cache");
    if let Some((_, _, s)) = cache.iter().find(|(k, s, _)| *k == key && *s == seed) {
        return Ok(s.clone());
    }
    let scenario = spec
        .load(seed)
        .map_err(|e| usage(one_line(&e)))?
        .with_threads(faux_sinks::pool::all_cores());
    let scenario = Arc::new(scenario);
    if cache.len() >= CACHED_SCENARIOS {
        cache.remove(0);
    }
    cache.push((key, seed, scenario.clone()));
    Ok(scenario)
}

fn parse_date(s: &str) -> PyResult<Date> {
    s.parse::<Date>()
        .map_err(|e| usage(format!("invalid value '{s}' for date: {e}")))
}

fn parse_instant(s: &str) -> PyResult<Timestamp> {
    Timestamp::parse_flexible(s).map_err(usage)
}

/// The view, with the CLI's rules: a snapshot needs `as_of`, and only a snapshot takes it.
fn parse_view(view: &str, as_of: Option<&str>) -> PyResult<View> {
    let as_of = as_of.map(parse_instant).transpose()?;
    match (view, as_of) {
        ("snapshot", Some(t)) => Ok(View::Snapshot(t)),
        ("snapshot", None) => Err(usage(
            "view=\"snapshot\" needs as_of=T (RFC 3339, a date, or epoch seconds)",
        )),
        ("extract" | "changes", Some(_)) => Err(usage("as_of only applies to view=\"snapshot\"")),
        ("changes", None) => Ok(View::Changes),
        ("extract", None) => Ok(View::Extract),
        (other, _) => Err(usage(format!(
            "invalid view {other:?}: valid views are extract, snapshot, changes"
        ))),
    }
}

/// The names and descriptions of the built-in scenarios.
#[pyfunction]
fn scenarios(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    let out = PyList::empty(py);
    for (name, description) in faux::SCENARIOS {
        let d = PyDict::new(py);
        d.set_item("name", name)?;
        d.set_item("description", description)?;
        out.append(d)?;
    }
    Ok(out)
}

fn type_name(ty: LogicalType) -> &'static str {
    match ty {
        LogicalType::Text => "text",
        LogicalType::HexUuid => "hex_uuid",
        LogicalType::Uuid => "uuid",
        LogicalType::Int => "int",
        LogicalType::Decimal { .. } => "decimal",
        LogicalType::Bool => "bool",
        LogicalType::Date => "date",
        LogicalType::Timestamp => "timestamp",
        LogicalType::Json => "json",
    }
}

fn table_dict<'py>(py: Python<'py>, t: &TableDef) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", t.name)?;
    d.set_item("description", t.description)?;
    let columns = PyList::empty(py);
    for c in t.columns {
        let col = PyDict::new(py);
        col.set_item("name", c.name)?;
        col.set_item("type", type_name(c.ty))?;
        if let LogicalType::Decimal { precision, scale } = c.ty {
            col.set_item("precision", precision)?;
            col.set_item("scale", scale)?;
        }
        col.set_item("nullable", c.nullable)?;
        col.set_item("description", c.description)?;
        columns.append(col)?;
    }
    d.set_item("columns", columns)?;
    d.set_item("primary_key", t.primary_key.to_vec())?;
    d.set_item("cursor", t.cursor)?;
    d.set_item("partition", t.partition)?;
    d.set_item("parent", t.parent.map(|p| (p.table, p.column)))?;
    Ok(d)
}

/// The tables of a scenario: columns (type, nullability), primary key, cursor, partition column.
/// With `view`, the definition of what that view writes (the changes view adds op, seq, ts).
#[pyfunction]
#[pyo3(signature = (scenario="ecommerce", seed=faux::DEFAULT_SEED, view="extract"))]
fn tables<'py>(
    py: Python<'py>,
    scenario: &str,
    seed: u64,
    view: &str,
) -> PyResult<Bound<'py, PyList>> {
    let s = load(scenario, seed)?;
    let view = parse_view(view, (view == "snapshot").then_some("0"))?;
    let out = PyList::empty(py);
    for t in s.tables() {
        out.append(table_dict(py, Scenario::output_table(t, view))?)?;
    }
    Ok(out)
}

/// A generation request, checked: everything [`generate`] validates before generating.
struct Request {
    scenario: Arc<Scenario>,
    table: &'static TableDef,
    day: Date,
    shard: Shard,
    view: View,
}

#[allow(clippy::too_many_arguments)] // the keyword arguments of `generate`, checked
fn request(
    scenario: &str,
    seed: u64,
    table: &str,
    date: &str,
    shard: u32,
    shards: u32,
    view: &str,
    as_of: Option<&str>,
) -> PyResult<Request> {
    let s = load(scenario, seed)?;
    let table = s.table(table).map_err(usage)?;
    let day = parse_date(date)?;
    // the CLI's own parser, for its message
    let shard: Shard = format!("{shard}/{shards}").parse().map_err(usage)?;
    let view = parse_view(view, as_of)?;
    Ok(Request {
        scenario: s,
        table,
        day,
        shard,
        view,
    })
}

/// Checks the arguments of [`generate`] without generating: raises its `ValueError`s (the
/// Spark data source runs this on the driver before planning partitions).
#[pyfunction]
#[pyo3(signature = (scenario="ecommerce", seed=faux::DEFAULT_SEED, table="orders", date="2025-01-01", shard=0, shards=1, view="extract", as_of=None))]
#[allow(clippy::too_many_arguments)] // the keyword arguments of the Python function
fn check(
    scenario: &str,
    seed: u64,
    table: &str,
    date: &str,
    shard: u32,
    shards: u32,
    view: &str,
    as_of: Option<&str>,
) -> PyResult<()> {
    request(scenario, seed, table, date, shard, shards, view, as_of).map(|_| ())
}

/// The rows of one table, day and shard in a view, as a `pyarrow.RecordBatchReader`.
#[pyfunction]
#[pyo3(signature = (scenario="ecommerce", seed=faux::DEFAULT_SEED, table="orders", date="2025-01-01", shard=0, shards=1, view="extract", as_of=None, batch_rows=BATCH_ROWS))]
#[allow(clippy::too_many_arguments)] // the keyword arguments of the Python function
fn generate(
    py: Python<'_>,
    scenario: &str,
    seed: u64,
    table: &str,
    date: &str,
    shard: u32,
    shards: u32,
    view: &str,
    as_of: Option<&str>,
    batch_rows: usize,
) -> PyResult<PyArrowType<Box<dyn RecordBatchReader + Send>>> {
    let Request {
        scenario: s,
        table: def,
        day,
        shard,
        view,
    } = request(scenario, seed, table, date, shard, shards, view, as_of)?;
    if batch_rows == 0 {
        return Err(usage("batch_rows must be at least 1"));
    }
    let out = Scenario::output_table(def, view);
    // the engine pushes the day's rows: they are collected as batches with the GIL released
    let (schema, batches) = py
        .detach(|| {
            let mut sink = Batches {
                builder: BatchBuilder::new(out),
                batches: Vec::new(),
                batch_rows,
            };
            s.generate(def, day, shard, view, &mut sink)?;
            sink.flush()?;
            Ok::<_, arrow_schema::ArrowError>((sink.builder.schema(), sink.batches))
        })
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    let reader: Box<dyn RecordBatchReader + Send> = Box::new(RecordBatchIterator::new(
        batches.into_iter().map(Ok),
        schema,
    ));
    Ok(PyArrowType(reader))
}

/// Rows cut into record batches of `batch_rows`.
struct Batches {
    builder: BatchBuilder,
    batches: Vec<RecordBatch>,
    batch_rows: usize,
}

impl Batches {
    fn flush(&mut self) -> Result<(), arrow_schema::ArrowError> {
        if !self.builder.is_empty() {
            self.batches.push(self.builder.finish()?);
        }
        Ok(())
    }
}

impl faux::RowSink for Batches {
    type Error = arrow_schema::ArrowError;
    fn row<R: faux::Row>(&mut self, row: &R) -> Result<(), Self::Error> {
        self.builder.row(row);
        if self.builder.len() >= self.batch_rows {
            self.flush()?;
        }
        Ok(())
    }
}

/// The answer key of `aladdin truth`, as the JSON text it prints (the Python side parses it).
#[pyfunction]
#[pyo3(signature = (scenario="ecommerce", seed=faux::DEFAULT_SEED, date=None, from_=None, to=None, tables=None, as_of=None, threads=None))]
#[allow(clippy::too_many_arguments)] // the keyword arguments of the Python function
fn truth_json(
    py: Python<'_>,
    scenario: &str,
    seed: u64,
    date: Option<&str>,
    from_: Option<&str>,
    to: Option<&str>,
    tables: Option<Vec<String>>,
    as_of: Option<&str>,
    threads: Option<usize>,
) -> PyResult<String> {
    let s = load(scenario, seed)?;
    let as_of = as_of.map(parse_instant).transpose()?;
    let range = match (date, from_, to) {
        (Some(d), None, None) => DateRange::day(parse_date(d)?),
        (None, Some(a), Some(b)) => {
            let (a, b) = (parse_date(a)?, parse_date(b)?);
            DateRange::new(a, b).map_err(|_| usage(format!("to {b} is before from {a}")))?
        }
        (None, None, None) => match as_of {
            // the CLI's default with --as-of: every creation day up to the instant
            Some(t) => DateRange::new(s.first_day(t.date()), t.date()).map_err(usage)?,
            None => {
                return Err(usage("no days selected: give date=D, or from_=A and to=B"));
            }
        },
        _ => {
            return Err(usage(
                "give either date=D or both from_=A and to=B, not a mix",
            ));
        }
    };
    let defs: Vec<&'static TableDef> = match tables {
        None => s.tables().to_vec(),
        Some(names) => names
            .iter()
            .map(|n| s.table(n.trim()).map_err(usage))
            .collect::<PyResult<_>>()?,
    };
    let threads = threads.unwrap_or_else(faux_sinks::pool::all_cores).max(1);
    let report =
        py.detach(|| faux_sinks::truth_report::truth_report(&s, &defs, range, as_of, threads));
    serde_json::to_string(&report).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// First sequence number of a day's change feed (`seq` = days since 1970 × 10^8 + position).
#[pyfunction]
fn first_seq(date: &str) -> PyResult<i64> {
    Ok(faux::feed::first_seq(parse_date(date)?))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(scenarios, m)?)?;
    m.add_function(wrap_pyfunction!(tables, m)?)?;
    m.add_function(wrap_pyfunction!(generate, m)?)?;
    m.add_function(wrap_pyfunction!(check, m)?)?;
    m.add_function(wrap_pyfunction!(truth_json, m)?)?;
    m.add_function(wrap_pyfunction!(first_seq, m)?)?;
    m.add("MODEL_VERSION", faux::MODEL_VERSION)?;
    m.add("DEFAULT_SEED", faux::DEFAULT_SEED)?;
    Ok(())
}
