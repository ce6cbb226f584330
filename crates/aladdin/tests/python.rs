//! The Python package (crates/faux-py) end to end: the wheel is built with maturin and
//! installed into `.venv-clients/python` (both set up by scripts/setup-clients.sh), this
//! test's `aladdin generate` writes a month of orders, customers and events as Parquet, and
//! pytest (crates/faux-py/tests/py) checks the Python reader and the Spark data source in local
//! mode against those files. A missing venv is a loud skip locally, a failure under CI=true.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use test_support::tools::repo_root;

const ALADDIN: &str = env!("CARGO_BIN_EXE_aladdin");

/// The venv's python with the freshly built wheel installed, and the CLI's files.
struct Setup {
    python: PathBuf,
    cli_data: PathBuf,
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

static SETUP: OnceLock<Option<Setup>> = OnceLock::new();

/// Builds and installs the wheel and writes the CLI's files, once for all tests here.
fn setup(test: &str) -> Option<&'static Setup> {
    SETUP
        .get_or_init(|| {
            let maturin = test_support::tools::require_client(test, "python", "maturin")?;
            let python = test_support::tools::require_client(test, "python", "python")?;
            let root = repo_root();
            let wheels = root.join("target/faux-py-wheel");
            // only this build's wheel in the folder: the install below takes the one there
            let _ = std::fs::remove_dir_all(&wheels);
            run(
                Command::new(&maturin)
                    .current_dir(root.join("crates/faux-py"))
                    .args(["build", "--quiet", "--profile", "wheel", "--interpreter"])
                    .arg(&python)
                    .arg("--out")
                    .arg(&wheels),
                "maturin build",
            );
            let wheel = std::fs::read_dir(&wheels)
                .expect("the wheel folder")
                .map(|e| e.expect("a wheel").path())
                .find(|p| p.extension().is_some_and(|e| e == "whl"))
                .expect("maturin wrote a wheel");
            run(
                Command::new(&python)
                    .args([
                        "-m",
                        "pip",
                        "install",
                        "--quiet",
                        "--disable-pip-version-check",
                        "--no-deps",
                        "--force-reinstall",
                    ])
                    .arg(&wheel),
                "pip install the wheel",
            );
            let cli_data = root.join("target/faux-py-cli-data");
            let _ = std::fs::remove_dir_all(&cli_data);
            run(
                Command::new(ALADDIN)
                    .args([
                        "generate",
                        "--scenario",
                        "ecommerce",
                        "--seed",
                        "42",
                        "--from",
                        "2025-01-01",
                        "--to",
                        "2025-01-31",
                        "--tables",
                        "orders,customers,events",
                        "--format",
                        "parquet",
                        "-q",
                        "--out",
                    ])
                    .arg(&cli_data),
                "aladdin generate",
            );
            Some(Setup { python, cli_data })
        })
        .as_ref()
}

fn pytest(setup: &Setup, file: &str) {
    let tests: &Path = &repo_root().join("crates/faux-py/tests/py");
    run(
        Command::new(&setup.python)
            .current_dir(tests)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", file])
            .env("ALADDIN", ALADDIN)
            .env("FAUX_CLI_DATA", &setup.cli_data)
            .env("FAUX_REPO", repo_root()),
        &format!("pytest {file}"),
    );
}

#[test]
fn python_reader_matches_the_cli() {
    let Some(setup) = setup("python_reader_matches_the_cli") else {
        return;
    };
    pytest(setup, "test_reader.py");
}

#[test]
fn spark_data_source_matches_the_cli_and_streams_the_change_feed() {
    let Some(setup) = setup("spark_data_source_matches_the_cli_and_streams_the_change_feed") else {
        return;
    };
    pytest(setup, "test_spark.py");
}
