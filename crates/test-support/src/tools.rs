//! Programs the tests run that cargo does not build for them: the Python clients and dbt in
//! the repository's virtualenvs (`scripts/setup-clients.sh`), and binaries of other crates of
//! the workspace.

use std::path::{Path, PathBuf};

use crate::Missing;

const SETUP_CLIENTS: &str = "scripts/setup-clients.sh";

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root")
}

fn file(path: PathBuf, setup: &'static str) -> Result<PathBuf, Missing> {
    if path.is_file() {
        Ok(path)
    } else {
        Err(Missing::new(
            format!("{} is missing", path.display()),
            setup,
        ))
    }
}

/// `NAME` of the client virtualenv `VENV` (`.venv-clients/VENV/bin/NAME`; one venv per tool,
/// their pins clash).
pub fn client(venv: &str, name: &str) -> Result<PathBuf, Missing> {
    file(
        repo_root()
            .join(".venv-clients")
            .join(venv)
            .join("bin")
            .join(name),
        SETUP_CLIENTS,
    )
}

/// [`client`] under the CI/SKIP policy of [`crate::require`].
pub fn require_client(test: &str, venv: &str, name: &str) -> Option<PathBuf> {
    crate::require(test, client(venv, name))
}

/// dbt (dbt-postgres 1.10) in the repository's `.venv`.
pub fn dbt() -> Result<PathBuf, Missing> {
    file(repo_root().join(".venv/bin/dbt"), SETUP_CLIENTS)
}

/// The binary `name` of another crate of the workspace, in the folder of `beside` (a test's
/// own `env!("CARGO_BIN_EXE_…")`): cargo builds only the tested package's binaries, so
/// this one is there after `cargo build --workspace` or `cargo test --workspace`, and may be
/// older than the sources after a `cargo test -p`.
pub fn binary_beside(beside: &str, name: &str) -> Result<PathBuf, Missing> {
    file(
        Path::new(beside).with_file_name(name),
        "cargo build --workspace (cargo test --workspace builds it too)",
    )
}

/// The browser test's tools (`crates/genie/tests/console.rs`): Debian's Chromium, Node.js and
/// the folder whose `node_modules` holds playwright-core (`.venv-clients/playwright`, installed
/// by `scripts/setup-clients.sh`). `CHROMIUM` names another Chromium.
#[derive(Debug, Clone)]
pub struct Browser {
    pub chromium: PathBuf,
    pub node: PathBuf,
    pub playwright_dir: PathBuf,
}

pub fn browser() -> Result<Browser, Missing> {
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let chromium = file(chromium, "apt-get install -y chromium (.ci/run does)")?;
    let on_path = |name: &str| {
        std::env::var_os("PATH")
            .into_iter()
            .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    };
    let node = on_path("node")
        .ok_or_else(|| Missing::new("node is not on PATH", "apt-get install -y nodejs npm"))?;
    // the test runs the console's curl snippet as shown
    on_path("curl")
        .ok_or_else(|| Missing::new("curl is not on PATH", "apt-get install -y curl"))?;
    let playwright_dir = repo_root().join(".venv-clients/playwright");
    file(
        playwright_dir.join("node_modules/playwright-core/package.json"),
        SETUP_CLIENTS,
    )?;
    Ok(Browser {
        chromium,
        node,
        playwright_dir,
    })
}
