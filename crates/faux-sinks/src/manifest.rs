//! `_manifest.json`: what an output folder holds and which model made it.
//!
//! Runs into the same folder with the same scenario, seed, model version, format and layout
//! add to one manifest (a backfill run day by day ends with one manifest for all days); a run
//! with different settings replaces it. It holds no wall-clock time, so the same run writes
//! the same manifest.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::SinkError;
use crate::files::{FileRun, PartitionStats};

pub const MANIFEST_FILE: &str = "_manifest.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub generator: String,
    pub scenario: String,
    /// The scenario file a run used instead of the built-in scenario's defaults, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario_file: Option<String>,
    /// `xxh3-64:<16 hex digits>` of that file's bytes: days of another file (or of the
    /// defaults) are another dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario_digest: Option<String>,
    pub seed: u64,
    pub model_version: u32,
    pub format: String,
    pub layout: String,
    /// `extract`, `snapshot` or `changes`.
    pub view: String,
    /// The instant of a snapshot (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
    /// Rows per table over all partitions listed.
    pub tables: BTreeMap<String, TableTotals>,
    /// Sorted by table, date, then path.
    pub partitions: Vec<PartitionEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableTotals {
    pub rows: u64,
    pub bytes: u64,
    pub partitions: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionEntry {
    pub table: String,
    pub date: String,
    pub shard: String,
    pub path: String,
    pub rows: u64,
    pub bytes: u64,
    /// `xxh3-64:<16 hex digits>` of the file's bytes.
    pub checksum: String,
    /// A late file (`--dirty`) as rewritten with its corrections: the day whose generation
    /// rewrote it (a loader that saw the partition before must load it again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewritten_on: Option<String>,
}

/// A scenario file a run used: its name as given and the digest of its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioSource {
    pub file: String,
    pub digest: String,
}

impl ScenarioSource {
    pub fn new(file: &str, bytes: &[u8]) -> ScenarioSource {
        ScenarioSource {
            file: file.to_string(),
            digest: format!("xxh3-64:{:016x}", xxhash_rust::xxh3::xxh3_64(bytes)),
        }
    }
}

impl Manifest {
    pub fn for_run(run: &FileRun<'_>, stats: &[PartitionStats]) -> Manifest {
        let mut m = Manifest {
            generator: format!("faux-genie {}", env!("CARGO_PKG_VERSION")),
            scenario: run.scenario.name().to_string(),
            scenario_file: run.scenario_source.as_ref().map(|s| s.file.clone()),
            scenario_digest: run.scenario_source.as_ref().map(|s| s.digest.clone()),
            seed: run.scenario.seed(),
            model_version: faux::MODEL_VERSION,
            format: run.format.to_string(),
            layout: run.layout.name().to_string(),
            view: run.view.name().to_string(),
            as_of: match run.view {
                faux::View::Snapshot(t) => Some(t.to_string()),
                _ => None,
            },
            tables: BTreeMap::new(),
            partitions: stats
                .iter()
                .map(|s| PartitionEntry {
                    table: s.table.to_string(),
                    date: s.date.to_string(),
                    shard: s.shard.to_string(),
                    path: s.path.clone(),
                    rows: s.rows,
                    bytes: s.bytes,
                    checksum: format!("xxh3-64:{:016x}", s.checksum),
                    rewritten_on: s.rewritten_on.map(|d| d.to_string()),
                })
                .collect(),
        };
        m.normalise();
        m
    }

    pub fn read(dir: &Path) -> Result<Option<Manifest>, SinkError> {
        let path = dir.join(MANIFEST_FILE);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                SinkError::Invalid(format!("{} is not a valid manifest: {e}", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(SinkError::io(&path, e)),
        }
    }

    fn same_dataset(&self, other: &Manifest) -> bool {
        (
            &self.scenario,
            &self.scenario_digest,
            self.seed,
            self.model_version,
            &self.format,
            &self.layout,
        ) == (
            &other.scenario,
            &other.scenario_digest,
            other.seed,
            other.model_version,
            &other.format,
            &other.layout,
        )
    }

    fn normalise(&mut self) {
        self.partitions
            .sort_by(|a, b| (&a.table, &a.date, &a.path).cmp(&(&b.table, &b.date, &b.path)));
        self.partitions.dedup_by(|a, b| a.path == b.path);
        self.tables.clear();
        for p in &self.partitions {
            let t = self.tables.entry(p.table.clone()).or_insert(TableTotals {
                rows: 0,
                bytes: 0,
                partitions: 0,
            });
            t.rows += p.rows;
            t.bytes += p.bytes;
            t.partitions += 1;
        }
    }

    /// Adds this run's partitions to the folder's manifest (or replaces a manifest of another
    /// dataset), written atomically.
    pub fn merge_into(self, dir: &Path) -> Result<(), SinkError> {
        // an unreadable or foreign manifest is replaced, never merged into
        let merged = self.merged_with(Manifest::read(dir).ok().flatten());
        let path = dir.join(MANIFEST_FILE);
        let tmp = dir.join(format!(".{MANIFEST_FILE}.tmp"));
        fs::write(&tmp, merged.to_json()?).map_err(|e| SinkError::io(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| SinkError::io(&path, e))
    }

    /// This run's partitions added to `old`'s when `old` is of the same dataset; else this
    /// run's alone (a foreign manifest is replaced, never merged into).
    pub fn merged_with(mut self, old: Option<Manifest>) -> Manifest {
        if let Some(old) = old
            && old.same_dataset(&self)
        {
            let fresh: std::collections::BTreeSet<String> =
                self.partitions.iter().map(|p| p.path.clone()).collect();
            self.partitions.extend(
                old.partitions
                    .into_iter()
                    .filter(|p| !fresh.contains(&p.path)),
            );
            self.normalise();
        }
        self
    }

    /// The file's bytes: pretty JSON and a final newline.
    pub fn to_json(&self) -> Result<Vec<u8>, SinkError> {
        let mut json =
            serde_json::to_vec_pretty(self).map_err(|e| SinkError::Invalid(e.to_string()))?;
        json.push(b'\n');
        Ok(json)
    }
}
