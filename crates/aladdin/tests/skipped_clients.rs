//! Which tests of real clients and services skip on this machine, said where it is seen.
//!
//! The tests of dlt, the Singer tap, schemathesis and the Airbyte CDK (crates/genie/tests/
//! clients.rs), dbt (tests/dbt.rs), PostgreSQL, RabbitMQ and NATS skip when what they need is
//! missing, and a skip is a passing test whose message cargo hides. This target has no test
//! harness (`harness = false` in Cargo.toml), so what it prints is not captured: every
//! `cargo test --workspace` ends a run of this crate with the list of what did not really run,
//! and how to set it up. Under `CI=true` a missing requirement fails it (the tests themselves
//! fail too).

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A requirement of some tests: how to check it, and what they are.
struct Need {
    what: String,
    present: bool,
    tests: &'static str,
    setup: &'static str,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tool(rel: &str, tests: &'static str) -> Need {
    let path = root().join(rel);
    Need {
        what: format!("{rel} is missing"),
        present: path.is_file(),
        tests,
        setup: "scripts/setup-clients.sh",
    }
}

fn service(name: &str, addr: &str, tests: &'static str, setup: &'static str) -> Need {
    let sock: SocketAddr = addr.parse().expect("an address");
    Need {
        what: format!("{name} is not reachable on {addr}"),
        present: TcpStream::connect_timeout(&sock, Duration::from_secs(2)).is_ok(),
        tests,
        setup,
    }
}

fn needs() -> Vec<Need> {
    vec![
        tool(
            ".venv-clients/dlt/bin/python",
            "genie clients::dlt_loads_every_resource_incrementally_and_verify_agrees",
        ),
        tool(
            ".venv-clients/singer/bin/tap-rest-api-msdk",
            "genie clients::singer_tap_emits_records_for_every_stream",
        ),
        tool(
            ".venv-clients/schemathesis/bin/schemathesis",
            "genie clients::schemathesis_finds_no_failures",
        ),
        tool(
            ".venv-clients/airbyte/bin/source-declarative-manifest",
            "genie clients::airbyte_manifest_reads_every_stream",
        ),
        tool(
            ".venv/bin/dbt",
            "aladdin dbt (the Shiny Rocks dbt project, with PostgreSQL)",
        ),
        service(
            "PostgreSQL",
            "127.0.0.1:5432",
            "aladdin postgres, verify, dbt, chart (database parts); genie postgres_store, clients (dlt)",
            "start it (user postgres, trust): pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
        ),
        service(
            "RabbitMQ",
            "127.0.0.1:5672",
            "aladdin stream (RabbitMQ tests)",
            "rabbitmq-server -detached (see .ci/run)",
        ),
        service(
            "NATS JetStream",
            "127.0.0.1:4222",
            "aladdin stream (NATS tests)",
            "nats-server -js -a 127.0.0.1 -p 4222 (see .ci/run)",
        ),
    ]
}

fn main() {
    const NAME: &str = "skipped_clients";
    let args: Vec<String> = std::env::args().skip(1).collect();
    // behave like a test binary for `--list` and name filters (cargo test NAME, nextest)
    if args.iter().any(|a| a == "--list") {
        println!("{NAME}: test");
        return;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    if !filters.is_empty() && !filters.iter().any(|f| NAME.contains(f.as_str())) {
        return;
    }
    let missing: Vec<Need> = needs().into_iter().filter(|n| !n.present).collect();
    if missing.is_empty() {
        println!(
            "\nskipped_clients: every real-client and service test can run here (none skipped)\n"
        );
        return;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let bar = "!".repeat(78);
    println!("\n{bar}");
    println!(
        "SKIPPED: {} requirement{} of the real-client and service tests {} missing, so these \
         tests passed WITHOUT running:",
        missing.len(),
        if missing.len() == 1 { "" } else { "s" },
        if missing.len() == 1 { "is" } else { "are" }
    );
    for n in &missing {
        println!("  - {}: {}\n      set up: {}", n.what, n.tests, n.setup);
    }
    println!(
        "(scripts/setup-clients.sh installs every Python client; .ci/run runs it and starts the services)"
    );
    println!("{bar}\n");
    if ci {
        eprintln!("skipped_clients: CI=true requires every client and service");
        std::process::exit(1);
    }
}
