//! Training runs logged to MLflow (`--mlflow-uri`) through its REST API: the experiment is
//! found or created by name, each registered model becomes a run named `v<N>` with its
//! training window and sizes as params, its held-out scores (and the oracle's) as metrics,
//! and the registry's `model.json` as the artifact `model/model.json`.
//!
//! Artifacts go through the tracking server's artifact proxy (`mlflow server
//! --serve-artifacts`, the default of MLflow 2 and 3), the only upload MLflow offers over
//! plain HTTP; a server whose runs store artifacts elsewhere (`file:`, `s3:`…) is refused
//! with a message saying so. Plain `http://` only: the HTTP client is built without TLS.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::registry::ModelRecord;

#[derive(Debug, thiserror::Error)]
pub enum MlflowError {
    #[error("--mlflow-uri {uri}: {message}")]
    Usage { uri: String, message: String },
    #[error("MLflow at {uri} ({call}): {source}")]
    Http {
        uri: String,
        call: &'static str,
        source: reqwest::Error,
    },
    #[error("MLflow at {uri} ({call}) answered {status}: {body}")]
    Api {
        uri: String,
        call: &'static str,
        status: u16,
        body: String,
    },
    #[error(
        "MLflow at {uri} stores this run's artifacts at {artifact_uri}, which cannot be uploaded over HTTP: start the server with --serve-artifacts (and no --default-artifact-root)"
    )]
    ArtifactStore { uri: String, artifact_uri: String },
}

#[derive(Debug, Clone)]
pub struct MlflowOptions {
    /// The tracking server, `http://host:port`.
    pub uri: String,
    pub experiment: String,
}

impl MlflowOptions {
    pub fn new(uri: &str, experiment: &str) -> Result<MlflowOptions, MlflowError> {
        let trimmed = uri.trim_end_matches('/');
        let usage = |message: &str| MlflowError::Usage {
            uri: uri.to_string(),
            message: message.to_string(),
        };
        match trimmed.strip_prefix("http://") {
            Some(rest) if !rest.is_empty() => {}
            _ => {
                return Err(usage(
                    "expected http://host:port (the MLflow tracking server)",
                ));
            }
        }
        if experiment.trim().is_empty() {
            return Err(usage("the experiment name is empty"));
        }
        Ok(MlflowOptions {
            uri: trimmed.to_string(),
            experiment: experiment.to_string(),
        })
    }
}

/// Where a run went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRun {
    pub experiment_id: String,
    pub run_id: String,
}

impl LoggedRun {
    /// The run's page in MLflow's UI.
    pub fn url(&self, opts: &MlflowOptions) -> String {
        format!(
            "{}/#/experiments/{}/runs/{}",
            opts.uri, self.experiment_id, self.run_id
        )
    }
}

struct Client<'a> {
    http: reqwest::Client,
    opts: &'a MlflowOptions,
}

impl Client<'_> {
    async fn call(
        &self,
        call: &'static str,
        req: reqwest::RequestBuilder,
    ) -> Result<(u16, String), MlflowError> {
        let http = |source| MlflowError::Http {
            uri: self.opts.uri.clone(),
            call,
            source,
        };
        let resp = req.send().await.map_err(http)?;
        let status = resp.status().as_u16();
        let body = resp.text().await.map_err(http)?;
        Ok((status, body))
    }

    fn api_error(&self, call: &'static str, status: u16, body: String) -> MlflowError {
        MlflowError::Api {
            uri: self.opts.uri.clone(),
            call,
            status,
            body: body.chars().take(500).collect(),
        }
    }

    /// A JSON call of the tracking API; the parsed answer on 2xx.
    async fn json(
        &self,
        call: &'static str,
        req: reqwest::RequestBuilder,
    ) -> Result<Value, MlflowError> {
        let (status, body) = self.call(call, req).await?;
        if !(200..300).contains(&status) {
            return Err(self.api_error(call, status, body));
        }
        serde_json::from_str(&body)
            .map_err(|e| self.api_error(call, status, format!("{e}: {body}")))
    }

    fn post(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}/api/2.0/mlflow/{path}", self.opts.uri))
            .json(body)
    }

    async fn experiment_id(&self) -> Result<String, MlflowError> {
        let get = || {
            self.http
                .get(format!(
                    "{}/api/2.0/mlflow/experiments/get-by-name",
                    self.opts.uri
                ))
                .query(&[("experiment_name", &self.opts.experiment)])
        };
        // two rounds: another trainer may create it between our get and create
        for _ in 0..2 {
            let (status, body) = self.call("experiments/get-by-name", get()).await?;
            if (200..300).contains(&status) {
                let v: Value = serde_json::from_str(&body).map_err(|e| {
                    self.api_error("experiments/get-by-name", status, e.to_string())
                })?;
                if let Some(id) = v["experiment"]["experiment_id"].as_str() {
                    return Ok(id.to_string());
                }
                return Err(self.api_error("experiments/get-by-name", status, body));
            }
            if !body.contains("RESOURCE_DOES_NOT_EXIST") {
                return Err(self.api_error("experiments/get-by-name", status, body));
            }
            let (status, body) = self
                .call(
                    "experiments/create",
                    self.post("experiments/create", &json!({"name": self.opts.experiment})),
                )
                .await?;
            if (200..300).contains(&status) {
                let v: Value = serde_json::from_str(&body)
                    .map_err(|e| self.api_error("experiments/create", status, e.to_string()))?;
                if let Some(id) = v["experiment_id"].as_str() {
                    return Ok(id.to_string());
                }
            }
            if !body.contains("RESOURCE_ALREADY_EXISTS") {
                return Err(self.api_error("experiments/create", status, body));
            }
        }
        Err(self.api_error(
            "experiments/get-by-name",
            404,
            format!(
                "experiment {:?} neither found nor created",
                self.opts.experiment
            ),
        ))
    }
}

/// The run's params: how the model was made.
pub fn params(r: &ModelRecord) -> Vec<(String, String)> {
    let mut p = vec![
        ("version", r.version.to_string()),
        ("kind", r.kind.clone()),
        ("trained_as_of", r.trained_as_of.clone()),
        ("training_from", r.training_from.clone()),
        ("training_to", r.training_to.clone()),
        ("holdout_day", r.holdout_day.clone()),
        ("train_carts", r.train_carts.to_string()),
        ("train_positives", r.train_positives.to_string()),
        ("holdout_carts", r.holdout_carts.to_string()),
        ("holdout_positives", r.holdout_positives.to_string()),
        ("data_digest", r.data_digest.clone()),
        ("features", r.features.join(",")),
    ];
    if let Some(d) = &r.deployed_before {
        p.push(("challenged_version", d.version.to_string()));
    }
    p.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The run's metrics: scores on the held-out day (absent ones, e.g. the AUC of a day with one
/// outcome or the oracle without a truth file, are left out).
pub fn metrics(r: &ModelRecord) -> Vec<(String, f64)> {
    let m = &r.metrics;
    let mut out: Vec<(String, Option<f64>)> = vec![
        ("holdout_log_loss".into(), Some(m.model.log_loss)),
        ("holdout_auc".into(), m.model.auc),
        ("constant_log_loss".into(), Some(m.constant.log_loss)),
        ("constant_auc".into(), m.constant.auc),
        ("promoted".into(), Some(if r.promoted { 1.0 } else { 0.0 })),
    ];
    if let Some(o) = &m.oracle {
        out.push(("oracle_log_loss".into(), Some(o.log_loss)));
        out.push(("oracle_auc".into(), o.auc));
        out.push((
            "gap_to_oracle_log_loss".into(),
            Some(m.model.log_loss - o.log_loss),
        ));
    }
    if let Some(d) = &r.deployed_before {
        out.push(("deployed_before_log_loss".into(), Some(d.scores.log_loss)));
        out.push(("deployed_before_auc".into(), d.scores.auc));
    }
    out.into_iter()
        .filter_map(|(k, v)| v.filter(|v| v.is_finite()).map(|v| (k, v)))
        .collect()
}

/// Logs `record` as a finished run; the artifact is `model_json`, the registry file's bytes.
pub async fn log_model(
    opts: &MlflowOptions,
    record: &ModelRecord,
    model_json: &[u8],
) -> Result<LoggedRun, MlflowError> {
    let c = Client {
        http: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|source| MlflowError::Http {
                uri: opts.uri.clone(),
                call: "client",
                source,
            })?,
        opts,
    };
    let experiment_id = c.experiment_id().await?;
    // MLflow's times are wall-clock milliseconds; the virtual training instant is a param
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let run = c
        .json(
            "runs/create",
            c.post(
                "runs/create",
                &json!({
                    "experiment_id": experiment_id,
                    "run_name": format!("v{}", record.version),
                    "start_time": now,
                    "tags": [
                        {"key": "kingfisher.version", "value": record.version.to_string()},
                        {"key": "kingfisher.kind", "value": record.kind},
                        {"key": "kingfisher.promoted", "value": record.promoted.to_string()},
                    ],
                }),
            ),
        )
        .await?;
    let info = &run["run"]["info"];
    let (Some(run_id), Some(artifact_uri)) =
        (info["run_id"].as_str(), info["artifact_uri"].as_str())
    else {
        return Err(c.api_error("runs/create", 200, run.to_string()));
    };
    let logged = LoggedRun {
        experiment_id,
        run_id: run_id.to_string(),
    };
    let result = async {
        let params: Vec<Value> = params(record)
            .into_iter()
            .map(|(key, value)| json!({"key": key, "value": value}))
            .collect();
        let metrics: Vec<Value> = metrics(record)
            .into_iter()
            .map(|(key, value)| json!({"key": key, "value": value, "timestamp": now, "step": 0}))
            .collect();
        c.json(
            "runs/log-batch",
            c.post(
                "runs/log-batch",
                &json!({"run_id": run_id, "params": params, "metrics": metrics}),
            ),
        )
        .await?;
        let Some(root) = artifact_uri.strip_prefix("mlflow-artifacts:/") else {
            return Err(MlflowError::ArtifactStore {
                uri: opts.uri.clone(),
                artifact_uri: artifact_uri.to_string(),
            });
        };
        let root = root.trim_start_matches('/').trim_end_matches('/');
        let (status, body) = c
            .call(
                "mlflow-artifacts upload",
                c.http
                    .put(format!(
                        "{}/api/2.0/mlflow-artifacts/artifacts/{root}/model/model.json",
                        opts.uri
                    ))
                    .header("Content-Type", "application/json")
                    .body(model_json.to_vec()),
            )
            .await?;
        if !(200..300).contains(&status) {
            return Err(c.api_error("mlflow-artifacts upload", status, body));
        }
        Ok(())
    }
    .await;
    let end = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(now, |d| d.as_millis() as i64);
    let status = if result.is_ok() { "FINISHED" } else { "FAILED" };
    let ended = c
        .json(
            "runs/update",
            c.post(
                "runs/update",
                &json!({"run_id": run_id, "status": status, "end_time": end}),
            ),
        )
        .await;
    result?;
    ended?;
    Ok(logged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_tracking_servers_are_accepted() {
        let o = MlflowOptions::new("http://127.0.0.1:5000/", "kingfisher").unwrap();
        assert_eq!(o.uri, "http://127.0.0.1:5000");
        for bad in [
            "https://mlflow.example",
            "127.0.0.1:5000",
            "http://",
            "file:///tmp/x",
        ] {
            let e = MlflowOptions::new(bad, "kingfisher")
                .unwrap_err()
                .to_string();
            assert!(e.contains(bad) && e.contains("http://host:port"), "{e}");
        }
        assert!(MlflowOptions::new("http://h:1", " ").is_err());
    }
}
