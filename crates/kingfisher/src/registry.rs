//! The model registry: a folder with one `v<N>/model.json` per trained model. A version is
//! written to a temporary folder and renamed into place, so a reader never sees half a model.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::Model;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("model registry {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("model file {path} is not a valid model: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("model version {version} is not in the registry {registry} (versions: {known})")]
    Unknown {
        version: u32,
        registry: PathBuf,
        known: String,
    },
    #[error("the registry {0} holds no model yet: run `kingfisher train` first")]
    Empty(PathBuf),
}

/// Log loss and AUC of one scorer on the held-out carts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    pub log_loss: f64,
    /// None when the held-out day has one outcome only.
    pub auc: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub model: Scores,
    /// The training set's rate for every cart.
    pub constant: Scores,
    /// The simulation's true probabilities (`aladdin truth --labels`) on the same carts.
    pub oracle: Option<Scores>,
    /// Held-out carts whose label from the stream differs from the truth's (should be 0).
    pub label_mismatches: Option<usize>,
    /// Held-out carts missing from the truth file.
    pub missing_from_truth: Option<usize>,
}

/// A registered model and how it was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRecord {
    pub version: u32,
    pub kind: String,
    /// The virtual instant of training: only labels matured by then were used.
    pub trained_as_of: String,
    /// Days of the carts trained on (inclusive).
    pub training_from: String,
    pub training_to: String,
    /// The newest matured day, held out for evaluation.
    pub holdout_day: String,
    pub train_carts: usize,
    pub train_positives: usize,
    pub holdout_carts: usize,
    pub holdout_positives: usize,
    /// SHA-256 of the training rows (cart id, features, label), in scoring order.
    pub data_digest: String,
    pub features: Vec<String>,
    pub metrics: Metrics,
    /// The model deployed when this one was trained, scored on the same held-out carts
    /// (None: nothing was deployed).
    #[serde(default)]
    pub deployed_before: Option<Challenge>,
    /// This model beat the deployed one on its held-out day and was deployed.
    #[serde(default)]
    pub promoted: bool,
    /// The other kinds trained on the same rows and scored on the same held-out carts; the
    /// one with the lowest held-out log loss is this record's model.
    #[serde(default)]
    pub alternatives: Vec<Alternative>,
    pub model: Model,
}

/// A kind trained beside the registered model and not chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alternative {
    pub kind: String,
    pub scores: Scores,
}

/// The deployed model's scores on a new model's held-out carts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Challenge {
    pub version: u32,
    pub scores: Scores,
}

#[derive(Debug, Clone)]
pub struct Registry {
    root: PathBuf,
}

impl Registry {
    pub fn new(root: &Path) -> Registry {
        Registry {
            root: root.to_path_buf(),
        }
    }

    fn io(&self, path: &Path) -> impl FnOnce(std::io::Error) -> RegistryError {
        let path = path.to_path_buf();
        move |source| RegistryError::Io { path, source }
    }

    /// The versions present, ascending.
    pub fn versions(&self) -> Result<Vec<u32>, RegistryError> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io(&self.root)(e)),
        };
        let mut out = Vec::new();
        for e in entries {
            let e = e.map_err(self.io(&self.root))?;
            let name = e.file_name();
            if let Some(v) = name
                .to_str()
                .and_then(|n| n.strip_prefix('v'))
                .and_then(|n| n.parse::<u32>().ok())
                && e.path().join("model.json").is_file()
            {
                out.push(v);
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    pub fn next_version(&self) -> Result<u32, RegistryError> {
        Ok(self.versions()?.last().map_or(1, |v| v + 1))
    }

    /// Writes `record` as its version.
    pub fn register(&self, record: &ModelRecord) -> Result<PathBuf, RegistryError> {
        std::fs::create_dir_all(&self.root).map_err(self.io(&self.root))?;
        let tmp = self.root.join(format!(".tmp-v{}", record.version));
        let dir = self.root.join(format!("v{}", record.version));
        std::fs::create_dir_all(&tmp).map_err(self.io(&tmp))?;
        let file = tmp.join("model.json");
        let text = serde_json::to_string_pretty(record).expect("a model record serializes");
        std::fs::write(&file, text).map_err(self.io(&file))?;
        std::fs::rename(&tmp, &dir).map_err(self.io(&dir))?;
        Ok(dir.join("model.json"))
    }

    /// Reads and checks one version.
    pub fn load(&self, version: u32) -> Result<ModelRecord, RegistryError> {
        let versions = self.versions()?;
        if !versions.contains(&version) {
            return Err(RegistryError::Unknown {
                version,
                registry: self.root.clone(),
                known: if versions.is_empty() {
                    "none".into()
                } else {
                    versions
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            });
        }
        let path = self.root.join(format!("v{version}")).join("model.json");
        let text = std::fs::read_to_string(&path).map_err(self.io(&path))?;
        let corrupt = |message: String| RegistryError::Corrupt {
            path: path.clone(),
            message,
        };
        let record: ModelRecord =
            serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
        if record.version != version {
            return Err(corrupt(format!(
                "it says version {} but is filed as v{version}",
                record.version
            )));
        }
        record.model.check().map_err(corrupt)?;
        Ok(record)
    }

    /// The version promoted last (`deployed.json`; None: nothing promoted yet).
    pub fn deployed(&self) -> Result<Option<u32>, RegistryError> {
        let path = self.root.join("deployed.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(&path)(e)),
        };
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| RegistryError::Corrupt {
                path: path.clone(),
                message: e.to_string(),
            })?;
        match v["version"].as_u64().and_then(|v| u32::try_from(v).ok()) {
            Some(v) => Ok(Some(v)),
            None => Err(RegistryError::Corrupt {
                path,
                message: "expected {\"version\": <number>}".into(),
            }),
        }
    }

    /// Marks `version` as deployed (written aside and renamed: readers see the old or the
    /// new pointer, never half of one).
    pub fn deploy(&self, version: u32) -> Result<(), RegistryError> {
        self.load(version)?;
        let path = self.root.join("deployed.json");
        let tmp = self.root.join(".deployed.json.tmp");
        std::fs::write(&tmp, serde_json::json!({ "version": version }).to_string())
            .map_err(self.io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(self.io(&path))
    }

    /// What serves by default: the deployed version, else the newest.
    pub fn serving(&self) -> Result<ModelRecord, RegistryError> {
        match self.deployed()? {
            Some(v) => self.load(v),
            None => self.latest(),
        }
    }

    /// The newest version.
    pub fn latest(&self) -> Result<ModelRecord, RegistryError> {
        match self.versions()?.last() {
            Some(v) => self.load(*v),
            None => Err(RegistryError::Empty(self.root.clone())),
        }
    }
}
