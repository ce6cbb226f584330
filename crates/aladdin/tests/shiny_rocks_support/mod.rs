//! What the Shiny Rocks story tests (chart, dbt, Kestra flows) share: the services they need
//! (PostgreSQL, dbt), a fresh database per test, plain-text queries, and the numbers a chart
//! should show recomputed straight from rows.
//!
//! A missing service fails the test under CI (`CI=true`) and is skipped with a loud message
//! elsewhere, so a laptop without PostgreSQL or dbt can still run the rest of the suite.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

pub const PG_HOST: &str = "127.0.0.1";
pub const PG_PORT: u16 = 5432;
pub const PG_USER: &str = "postgres";

/// The repository's root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// `true` when `what` is there; otherwise fails under CI, or prints a SKIP and returns false.
pub fn available_or_skip(what: &str, problem: Option<String>) -> bool {
    let Some(problem) = problem else { return true };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what} is required in CI but unavailable: {problem}");
    }
    // written to the process's stderr directly: the test harness captures eprintln! of
    // passing tests, and a skip must be seen
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "\n**********************************************************************\n\
         SKIP: {what} unavailable ({problem}); this test did not run.\n\
         **********************************************************************\n"
    );
    false
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

pub fn url(db: &str) -> String {
    format!("postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{db}")
}

/// Runs `sql` on database `db`; every column must be text (cast in SQL), NULL is `None`.
pub fn query(db: &str, sql: &str) -> Vec<Vec<Option<String>>> {
    let rt = runtime();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&url(db), tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("connect to {db}: {e}"));
        tokio::spawn(conn);
        let rows = client
            .query(sql, &[])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| r.get::<_, Option<String>>(i))
                    .collect()
            })
            .collect()
    })
}

fn execute(db: &str, sql: &str) -> Result<(), String> {
    let rt = runtime();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&url(db), tokio_postgres::NoTls)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        client.batch_execute(sql).await.map_err(|e| e.to_string())
    })
}

/// A database created for one test and dropped when it ends (even when it fails).
pub struct TempDb {
    pub name: String,
}

impl TempDb {
    /// A fresh database, or `None` (after the CI/SKIP policy) when PostgreSQL is unreachable.
    pub fn create(prefix: &str) -> Option<TempDb> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("faux_{prefix}_{}_{nanos}", std::process::id());
        let problem = execute("postgres", &format!("CREATE DATABASE {name}")).err();
        if !available_or_skip(
            &format!("PostgreSQL on {PG_HOST}:{PG_PORT} (user {PG_USER}, trust auth)"),
            problem,
        ) {
            return None;
        }
        Some(TempDb { name })
    }

    pub fn url(&self) -> String {
        url(&self.name)
    }

    pub fn query(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        query(&self.name, sql)
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        if let Err(e) = execute(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        ) {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

/// `dbt` from the repository's virtualenv (`.ci/run` installs it), or `None` after the
/// CI/SKIP policy.
pub fn dbt_or_skip() -> Option<PathBuf> {
    let dbt = repo_root().join(".venv/bin/dbt");
    let problem = (!dbt.is_file()).then(|| {
        format!(
            "{} not found; install it with scripts/setup-clients.sh",
            dbt.display()
        )
    });
    available_or_skip("dbt (dbt-postgres 1.10 in .venv)", problem).then_some(dbt)
}

/// Exact cents of a decimal text: `297` → 29700, `123.45` → 12345.
pub fn cents(s: &str) -> i64 {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let frac = format!("{frac:0<2}");
    assert!(
        frac[2..].bytes().all(|b| b == b'0'),
        "{s} has more than two decimals"
    );
    let sign = if whole.starts_with('-') { -1 } else { 1 };
    whole.parse::<i64>().unwrap() * 100 + sign * frac[..2].parse::<i64>().unwrap()
}

/// Per (day, platform without underscore): (marketing cost, sales) in cents, computed the
/// blog's way from plain rows — orders (order_id, day, utm_source), payments (order_id,
/// amount) and marketing (day, platform, amount).
pub fn roi_inputs(
    orders: &[(String, String, String)],
    payments: &[(String, String)],
    marketing: &[(String, String, String)],
) -> BTreeMap<(String, String), (Option<i64>, i64)> {
    let order_of: BTreeMap<&str, (&str, &str)> = orders
        .iter()
        .map(|(id, day, utm)| (id.as_str(), (day.as_str(), utm.as_str())))
        .collect();
    let mut out: BTreeMap<(String, String), (Option<i64>, i64)> = BTreeMap::new();
    for (order_id, amount) in payments {
        if let Some((day, utm)) = order_of.get(order_id.as_str()) {
            let platform = utm.trim_start_matches('_').to_string();
            out.entry((day.to_string(), platform)).or_default().1 += cents(amount);
        }
    }
    for (day, platform, amount) in marketing {
        let e = out.entry((day.clone(), platform.clone())).or_default();
        e.0 = Some(e.0.unwrap_or(0) + cents(amount));
    }
    out
}

/// `(sales − cost) / cost`.
pub fn roi(cost: i64, sales: i64) -> f64 {
    (sales - cost) as f64 / cost as f64
}
