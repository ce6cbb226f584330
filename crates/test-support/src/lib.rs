//! What the workspace's tests need from outside their process, found in one place: a fresh
//! PostgreSQL database ([`pg`]), the RabbitMQ and NATS brokers ([`services`]; queues on
//! RabbitMQ: [`amqp`]), the Python
//! client tools and dbt, and binaries built beside the test's own ([`tools`]).
//!
//! Every check returns `Result<T, Missing>`; [`require`] applies the one policy all tests
//! follow: `Some(T)` when it is there; otherwise a failure under `CI=true` (CI sets everything
//! up, so a missing service there is a bug) or, locally, a loud SKIP and `None`, so that a
//! laptop without PostgreSQL still runs the rest of the suite.
//!
//! ```text
//! let Some(db) = test_support::pg::FreshDb::create("my_test") else { return };
//! ```

use std::fmt;
use std::io::Write;

pub mod amqp;
pub mod pg;
pub mod services;
pub mod tools;

/// Something a test needs that is not there, and how to set it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub problem: String,
    pub setup: &'static str,
}

impl Missing {
    pub fn new(problem: impl Into<String>, setup: &'static str) -> Missing {
        Missing {
            problem: problem.into(),
            setup,
        }
    }
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (set up: {})", self.problem, self.setup)
    }
}

/// Whether this run is CI's (`CI=true`), where nothing may skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// `Some(value)` when what `test` needs is there. When it is missing: a panic under
/// `CI=true`, otherwise a loud SKIP on stderr and `None` (the test returns and passes without
/// having run, which the banner says).
pub fn require<T>(test: &str, needed: Result<T, Missing>) -> Option<T> {
    let missing = match needed {
        Ok(v) => return Some(v),
        Err(m) => m,
    };
    if in_ci() {
        panic!(
            "{test}: {}; CI=true requires it (set up: {})",
            missing.problem, missing.setup
        );
    }
    // straight to the process's stderr: the harness captures eprintln! of passing tests, and
    // a skip must be seen
    let bar = "!".repeat(78);
    let _ = writeln!(
        std::io::stderr(),
        "\n{bar}\nSKIP {test}: {}\n  this test did NOT run; set up: {}\n  (under CI=true this is a failure)\n{bar}\n",
        missing.problem,
        missing.setup
    );
    None
}

/// A requirement of some tests, checked now: what `skipped_clients` lists when it is missing.
#[derive(Debug)]
pub struct Requirement {
    /// The tests that need it.
    pub tests: &'static str,
    pub check: Result<(), Missing>,
}

/// Every service and tool a test of the workspace needs (the same checks the tests make).
pub fn requirements() -> Vec<Requirement> {
    let client = |venv, exe, tests| Requirement {
        tests,
        check: tools::client(venv, exe).map(drop),
    };
    vec![
        client(
            "dlt",
            "python",
            "genie clients::dlt_* (dlt's REST API source into PostgreSQL, checked with aladdin verify)",
        ),
        client(
            "singer",
            "tap-rest-api-msdk",
            "genie clients::singer_tap_emits_records_for_every_stream, hostile_clients::singer_survives_hostile_chaos_* (also needs psycopg2 in the venv)",
        ),
        client(
            "schemathesis",
            "schemathesis",
            "genie clients::schemathesis_* (and the OpenAPI validation)",
        ),
        client(
            "airbyte",
            "source-declarative-manifest",
            "genie clients::airbyte_manifest_reads_every_stream, hostile_clients::airbyte_survives_hostile_chaos_* (also needs psycopg2 in the venv)",
        ),
        client(
            "python",
            "maturin",
            "aladdin python::* (the faux_genie wheel: Python reader, Spark data source)",
        ),
        client(
            "moto",
            "moto_server",
            "aladdin object_storage::* (generate --out s3://… and verify against a local S3 server; pyarrow reads every store back)",
        ),
        client(
            "azurite",
            "azurite-blob",
            "aladdin object_storage::azure_* (generate --out az://… and verify against Azurite)",
        ),
        client(
            "duckdb",
            "python",
            "aladdin object_storage::s3_a_year_of_shiny_rocks_round_trips_and_duckdb_reads_it_back (DuckDB with httpfs)",
        ),
        client(
            "mlflow",
            "mlflow",
            "kingfisher mlflow::each_training_run_is_logged_to_mlflow_with_its_model_as_artifact",
        ),
        Requirement {
            tests: "kingfisher ops::* (a private RabbitMQ node started from the installed server)",
            check: if std::path::Path::new("/usr/lib/rabbitmq/bin/rabbitmq-server").is_file() {
                Ok(())
            } else {
                Err(Missing::new(
                    "/usr/lib/rabbitmq/bin/rabbitmq-server is missing",
                    "apt-get install rabbitmq-server (see .ci/run)",
                ))
            },
        },
        Requirement {
            tests: "genie console::the_console_works_in_a_real_browser (Chromium, node, playwright-core)",
            check: tools::browser().map(drop),
        },
        Requirement {
            tests: "aladdin dbt (the Shiny Rocks dbt project, with PostgreSQL); aladdin dirty::the_example_dbt_project_cleans_the_realistic_profile",
            check: tools::dbt().map(drop),
        },
        Requirement {
            tests: "aladdin postgres, verify, dbt, dirty, chart (database parts); genie postgres_store, clients (dlt); kingfisher pgstore",
            check: services::POSTGRES.reachable().map(drop),
        },
        Requirement {
            tests: "aladdin stream (RabbitMQ tests); kingfisher pipeline::stream_features_train_serve",
            check: services::RABBITMQ.reachable().map(drop),
        },
        Requirement {
            tests: "aladdin stream (NATS tests)",
            check: services::NATS.reachable().map(drop),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn present_is_some() {
        assert_eq!(require("t", Ok::<_, Missing>(3)), Some(3));
    }

    #[test]
    fn missing_is_a_skip_outside_ci_and_a_failure_in_ci() {
        let missing = || Err::<(), _>(Missing::new("nothing here", "install it"));
        // prints a SKIP banner locally: this is the banner's own test
        let got = std::panic::catch_unwind(|| require("test_support_self_test", missing()));
        if in_ci() {
            let err = got.expect_err("CI=true must fail");
            let msg = err.downcast_ref::<String>().unwrap();
            assert!(
                msg.contains("nothing here") && msg.contains("install it"),
                "{msg}"
            );
        } else {
            assert_eq!(got.unwrap(), None);
        }
    }
}
