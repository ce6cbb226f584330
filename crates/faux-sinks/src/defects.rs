//! The defects manifest of a dirty run: one JSON Lines file per partition,
//! `OUT/_defects/<table>/date=YYYY-MM-DD/part-<shard>.jsonl`, one line per planted defect:
//! `{"table", "day", "key", "column", "kind", "clean", "dirty"}` (`key` is the primary key as
//! text, `|`-separated; `column`, `clean` and `dirty` are null for a defect of a whole row;
//! a `late_file` defect adds `corrected_on`, the day the partition is rewritten corrected).
//! A partition written again (a rerun) rewrites its manifest file with it.

use std::path::{Path, PathBuf};

use faux::dirty::Defect;
use faux::{Date, Shard, TableDef};
use serde::{Deserialize, Serialize};

use crate::SinkError;

/// The manifest folder of an output folder.
pub const DEFECTS_DIR: &str = "_defects";

/// One manifest line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DefectRecord {
    pub table: String,
    pub day: String,
    pub key: String,
    pub column: Option<String>,
    pub kind: String,
    pub clean: Option<String>,
    pub dirty: Option<String>,
    /// A `late_file` defect's: the day whose generation rewrites the partition corrected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrected_on: Option<String>,
}

impl From<&Defect> for DefectRecord {
    fn from(d: &Defect) -> DefectRecord {
        DefectRecord {
            table: d.table.to_string(),
            day: d.day.to_string(),
            key: d.key.clone(),
            column: d.column.map(str::to_string),
            kind: d.kind.name().to_string(),
            clean: d.clean.clone(),
            dirty: d.dirty.clone(),
            corrected_on: d.corrected_on.map(|d| d.to_string()),
        }
    }
}

/// The manifest file of a partition, relative to the output folder.
pub fn path(table: &str, day: Date, shard: Shard) -> PathBuf {
    PathBuf::from(DEFECTS_DIR)
        .join(table)
        .join(format!("date={day}"))
        .join(format!("part-{}.jsonl", shard.index))
}

/// The defects as manifest text (what [`write`] writes).
pub fn to_jsonl(defects: &[Defect]) -> String {
    let mut out = String::new();
    for d in defects {
        // a struct of strings always serialises
        out.push_str(&serde_json::to_string(&DefectRecord::from(d)).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// Writes a partition's manifest file (atomically: a temporary name, then a rename).
pub fn write(
    out: &Path,
    table: &TableDef,
    day: Date,
    shard: Shard,
    defects: &[Defect],
) -> Result<(), SinkError> {
    let file = out.join(path(table.name, day, shard));
    let dir = file.parent().unwrap_or(out);
    std::fs::create_dir_all(dir).map_err(|e| SinkError::io(dir, e))?;
    let tmp = dir.join(format!(".part-{}.jsonl.tmp", shard.index));
    std::fs::write(&tmp, to_jsonl(defects)).map_err(|e| SinkError::io(&tmp, e))?;
    std::fs::rename(&tmp, &file).map_err(|e| SinkError::io(&file, e))
}

/// Removes the manifest files of partitions written clean (a rerun without `--dirty` over a
/// dirty folder); nothing to do, and no file system work, when the folder has no manifest.
pub fn forget(out: &Path, written: &[crate::PartitionStats]) -> Result<(), SinkError> {
    if !out.join(DEFECTS_DIR).is_dir() {
        return Ok(());
    }
    for p in written {
        let file = out.join(path(p.table, p.date, p.shard));
        match std::fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(SinkError::io(&file, e));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Every defect recorded under `out/_defects`, sorted (table, day, key, column, kind).
pub fn read(out: &Path) -> Result<Vec<DefectRecord>, SinkError> {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for e in std::fs::read_dir(dir)? {
            let p = e?.path();
            if p.is_dir() {
                walk(&p, files)?;
            } else if p.extension().is_some_and(|x| x == "jsonl") {
                files.push(p);
            }
        }
        Ok(())
    }
    let root = out.join(DEFECTS_DIR);
    let mut files = Vec::new();
    if root.is_dir() {
        walk(&root, &mut files).map_err(|e| SinkError::io(&root, e))?;
    }
    let mut all = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| SinkError::io(&f, e))?;
        for (i, line) in text.lines().enumerate() {
            all.push(
                serde_json::from_str(line).map_err(|e| {
                    SinkError::Invalid(format!("{} line {}: {e}", f.display(), i + 1))
                })?,
            );
        }
    }
    all.sort();
    Ok(all)
}
