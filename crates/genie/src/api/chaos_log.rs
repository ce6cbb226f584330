//! The chaos answer log: every fault `--chaos` injected, with the request it hit — so a
//! learner can check a pipeline's own account of what went wrong against what really did.
//! In memory per key (`GET /v1/chaos/log`: the key's own requests, newest first) and appended
//! to `chaos-log.jsonl` in the data folder (one JSON object a line, with the key's prefix).

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::SystemTime;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use serde::Serialize;

use super::auth::Principal;
use super::params::{only_known, query_pairs};
use super::{AppState, json_response};
use crate::problem::Problem;

/// Entries kept per key in memory (the file keeps all).
pub const CHAOS_LOG_CAPACITY: usize = 1000;

/// One injected fault.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Injection {
    /// `internal`, `unavailable`, `rate_limited`, `slow`, `overlapping_page`,
    /// `connection_reset`, `truncated`, `cursor_expired`, `late_rows`, `hard_deletes`.
    pub kind: &'static str,
    pub detail: String,
}

/// The faults injected into one request.
#[derive(Debug, Clone, Serialize)]
pub struct ChaosEntry {
    /// Wall-clock time the request arrived (RFC 3339, milliseconds).
    pub at: String,
    pub request_id: String,
    /// The key's visible prefix.
    pub key: String,
    pub method: String,
    /// Path and query, credential-like values masked.
    pub path: String,
    /// The status sent (a cut body still went out as a 200).
    pub status: u16,
    pub faults: Vec<Injection>,
}

#[derive(Debug)]
pub struct ChaosLog {
    file: Option<Mutex<Option<std::fs::File>>>,
    path: Option<PathBuf>,
    by_key: Mutex<HashMap<i64, VecDeque<ChaosEntry>>>,
}

impl ChaosLog {
    pub const FILE: &'static str = "chaos-log.jsonl";

    /// A log kept in memory, and appended to `file` when given (opened on the first entry).
    pub fn new(file: Option<PathBuf>) -> ChaosLog {
        ChaosLog {
            file: file.as_ref().map(|_| Mutex::new(None)),
            path: file,
            by_key: Mutex::new(HashMap::new()),
        }
    }

    pub fn record(&self, key_id: i64, e: ChaosEntry) {
        if let (Some(f), Some(path)) = (&self.file, &self.path) {
            let mut f = f.lock().expect("chaos log file");
            if f.is_none() {
                match std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                {
                    Ok(file) => *f = Some(file),
                    Err(err) => {
                        tracing::error!(path = %path.display(), error = %err, "cannot open the chaos log")
                    }
                }
            }
            if let Some(file) = f.as_mut() {
                let mut line = serde_json::to_string(&e).expect("json");
                line.push('\n');
                if let Err(err) = file.write_all(line.as_bytes()) {
                    tracing::error!(path = %path.display(), error = %err, "cannot write the chaos log");
                }
            }
        }
        let mut logs = self.by_key.lock().expect("chaos log");
        let log = logs.entry(key_id).or_default();
        if log.len() == CHAOS_LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(e);
    }

    /// The key's entries, newest first.
    pub fn entries(&self, key_id: i64) -> Vec<ChaosEntry> {
        let logs = self.by_key.lock().expect("chaos log");
        logs.get(&key_id)
            .map(|l| l.iter().rev().cloned().collect())
            .unwrap_or_default()
    }
}

pub(super) fn now_millis() -> String {
    super::console::rfc3339_millis(SystemTime::now())
}

/// `GET /v1/chaos/log`: the faults injected into the calling key's requests, newest first.
pub(super) async fn log(
    State(st): State<AppState>,
    RawQuery(raw): RawQuery,
    axum::Extension(p): axum::Extension<Principal>,
) -> Result<Response, Problem> {
    only_known(&query_pairs(&raw)?, "/v1/chaos/log", &[])?;
    Ok(json_response(
        serde_json::json!({
            "object": "list",
            "chaos": st.chaos.spec().name(),
            "data": st.chaos_log.entries(p.0.id),
            "capacity": CHAOS_LOG_CAPACITY,
        })
        .to_string(),
    ))
}
