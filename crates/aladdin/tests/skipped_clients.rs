//! Which tests of real clients and services skip on this machine, said where it is seen.
//!
//! The tests of dlt, the Singer tap, schemathesis and the Airbyte CDK (crates/genie/tests/
//! clients.rs), dbt (tests/dbt.rs), PostgreSQL, RabbitMQ and NATS skip when what they need is
//! missing, and a skip is a passing test whose message cargo hides. This target has no test
//! harness (`harness = false` in Cargo.toml), so what it prints is not captured: every
//! `cargo test --workspace` ends a run of this crate with the list of what did not really run,
//! and how to set it up. Under `CI=true` a missing requirement fails it (the tests themselves
//! fail too).

use test_support::Requirement;

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
    // the same checks the tests make (test-support's), so this list cannot drift from them
    let missing: Vec<Requirement> = test_support::requirements()
        .into_iter()
        .filter(|r| r.check.is_err())
        .collect();
    if missing.is_empty() {
        println!(
            "\nskipped_clients: every real-client and service test can run here (none skipped)\n"
        );
        return;
    }
    let ci = test_support::in_ci();
    let bar = "!".repeat(78);
    println!("\n{bar}");
    println!(
        "SKIPPED: {} requirement{} of the real-client and service tests {} missing, so these \
         tests passed WITHOUT running:",
        missing.len(),
        if missing.len() == 1 { "" } else { "s" },
        if missing.len() == 1 { "is" } else { "are" }
    );
    for r in &missing {
        if let Err(m) = &r.check {
            println!("  - {}: {}\n      set up: {}", m.problem, r.tests, m.setup);
        }
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
