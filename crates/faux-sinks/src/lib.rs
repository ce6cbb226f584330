//! # faux-sinks — where generated rows go
//!
//! Every sink is written against faux's [`faux::FieldVisitor`] contract, generic over the row
//! type: no sink knows a table by name.
//!
//! Modules:
//! - [`csv`]: RFC 4180 encoder (CRLF, minimal quoting, header from the table definition).
//! - [`jsonl`]: JSON Lines encoder.
//! - [`parquet`]: Arrow schema derivation and a Parquet encoder with bounded row groups.
//! - [`defects`]: the defects manifest of a dirty run (`OUT/_defects/`), written and read.
//! - [`error_line`]: an error and its causes on one line, as the binaries print it.
//! - [`destination`]: where rows go or are read from (a folder, a database URL, a broker URL or
//!   standard output), parsed once for every caller.
//! - [`files`]: formats, layouts (Hive-style partitions or flat), atomic partition writes and
//!   the parallel run.
//! - [`manifest`]: the `_manifest.json` describing an output folder.
//! - `object` (features `s3`, `gcs`, `azure`): the same files in object storage
//!   (`s3://BUCKET/PREFIX`, `gs://…`, `az://CONTAINER/PREFIX`), each partition visible complete
//!   or not at all, and read back for `verify`.
//! - [`pool`]: the one worker pool (days or partitions handed out in order to scoped threads).
//! - `raw` (features `postgres`/`sqlite`): dirty data straight into a database, as raw text
//!   tables and a `_defects` table (`generate --dirty … --out postgres://…|sqlite://…`).
//! - `postgres` (feature `postgres`): idempotent daily loads into PostgreSQL with binary COPY,
//!   and reading tables back for `verify`.
//! - `sqlite` (feature `sqlite`): the same semantics for a SQLite file.
//! - [`truth_report`]: the answer key as JSON (`aladdin truth`, Python's `truth()`).
//! - [`verify`]: comparing loaded rows (databases or files) with the truth, per table and day.
//! - `stream` (feature `stream`; brokers with `amqp`, `nats`): the live stream of change
//!   records to standard output, RabbitMQ or NATS JetStream, paced by a virtual clock.

pub mod csv;
pub mod defects;
pub mod destination;
pub mod error_line;
pub mod files;
pub mod jsonl;
pub mod manifest;
#[cfg(feature = "object")]
pub mod object;
pub mod parquet;
/// Dirty data into PostgreSQL or SQLite: raw text tables and a `_defects` table.
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub mod raw;
/// The one worker pool lives in faux (the engine parallelises a day too); re-exported for the
/// sinks that always used it from here.
pub use faux::pool;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub mod sql;
#[cfg(feature = "sqlite")]
pub mod sqlite;
#[cfg(feature = "stream")]
pub mod stream;
mod text;
pub mod truth_report;
pub mod verify;

use std::path::{Path, PathBuf};

pub use files::{FileRun, Format, Layout, PartitionStats, partition_path, write_partition};
pub use manifest::{MANIFEST_FILE, Manifest};

/// Text encoders hand their buffer to the file at this size: big enough for few syscalls,
/// small enough that a huge day keeps memory flat.
pub const FLUSH_BYTES: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("I/O error: {0}")]
    UnnamedIo(#[from] std::io::Error),
    #[error("parquet: {0}")]
    Parquet(#[from] ::parquet::errors::ParquetError),
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    #[error("{0}")]
    Invalid(String),
    /// The run was stopped (Ctrl-C) before this partition was complete.
    #[error("interrupted")]
    Interrupted,
}

impl SinkError {
    pub fn io(path: &Path, source: std::io::Error) -> SinkError {
        SinkError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Names the file an unnamed I/O error happened on.
    pub fn at(self, path: &Path) -> SinkError {
        match self {
            SinkError::UnnamedIo(e) => SinkError::io(path, e),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    /// Library errors describe the problem; the command line that called them adds its flags
    /// (a library used from Python or a server has no `--schema`).
    #[test]
    #[cfg(all(feature = "postgres", feature = "stream"))]
    fn errors_name_no_command_line_flags() {
        use crate::postgres::{PgError, PgTarget};
        use crate::stream::StreamError;
        let messages = [
            PgError::MissingSchema {
                schema: "s".into(),
                target: "t".into(),
            }
            .to_string(),
            PgError::Incompatible {
                table: "orders".into(),
                target: "t".into(),
                problems: vec!["no primary key".into()],
            }
            .to_string(),
            PgTarget::parse("postgres://u@h/db", Some(""))
                .unwrap_err()
                .to_string(),
            crate::destination::Destination::parse("x://")
                .unwrap_err()
                .to_string(),
            crate::destination::Destination::parse("amqp://h:port")
                .unwrap_err()
                .to_string(),
            StreamError::Broker {
                target: "amqp://h".into(),
                reason: "nope".into(),
                confirmed: Some(7),
            }
            .to_string(),
        ];
        for m in messages {
            assert!(!m.contains("--"), "{m}");
        }
    }
}
