//! `aladdin generate --out postgres://…` against the real PostgreSQL on 127.0.0.1:5432, each
//! test in a fresh database: loads match the truth, reruns and out-of-order loads change
//! nothing, a killed backend leaves no partial day, and bad targets give clear errors.

mod common;
mod dbtest;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, aladdin, ok};
use dbtest::{assert_matches_truth, pg_contents, scenario, small_shop};
use faux_sinks::postgres::{PgSource, PgTarget};
use test_support::pg::{FreshDb, Pg};

fn load(scenario: &str, url: &str, extra: &[&str]) {
    let mut args = vec!["generate", "--quiet", "--scenario", scenario, "--out", url];
    args.extend_from_slice(extra);
    ok(&args);
}

fn days(from: &str, n: i32) -> Vec<String> {
    let d: faux::Date = from.parse().unwrap();
    (0..n).map(|i| d.add_days(i).to_string()).collect()
}

/// Loads a month in order (two connections), checks it against the truth, reloads it, and
/// loads it again day by day newest first into another schema: all three hold the same rows.
fn month_round_trip(db: &FreshDb, sc: &str, from: &str, to: &str) {
    let url = db.url();
    let pg = db.connect();
    load(sc, &url, &["--from", from, "--to", to, "--jobs", "2"]);

    let mut source = PgSource::open(PgTarget::parse(&url, None).unwrap()).unwrap();
    let checked = assert_matches_truth(&mut source, sc, from, to);
    assert!(checked > 10_000, "{checked} rows");
    let s = scenario(sc);
    let first = pg_contents(&pg, "public", &s);

    load(sc, &url, &["--from", from, "--to", to]);
    assert_eq!(
        pg_contents(&pg, "public", &s),
        first,
        "a second load of the same days changed the tables"
    );

    // one connection, days in order: new rows of changing tables go in by plain insert
    pg.exec("CREATE SCHEMA ordered");
    load(
        sc,
        &url,
        &[
            "--from", from, "--to", to, "--jobs", "1", "--schema", "ordered",
        ],
    );
    assert_eq!(
        pg_contents(&pg, "ordered", &s),
        first,
        "the ordered first load gave other tables"
    );
    assert_each_row_inserted_once(&pg, "ordered", &s);

    pg.exec("CREATE SCHEMA reversed");
    let n = from
        .parse::<faux::Date>()
        .unwrap()
        .days_until(to.parse().unwrap())
        + 1;
    for day in days(from, n).iter().rev() {
        load(sc, &url, &["--date", day, "--schema", "reversed"]);
    }
    assert_eq!(
        pg_contents(&pg, "reversed", &s),
        first,
        "loading the days newest first gave other tables"
    );
}

/// Every table of `schema` took as many inserted tuples as it holds rows: no day's insert of
/// its new rows hit a key already there and was undone (PostgreSQL counts undone inserts).
/// Statistics arrive when the loading backend exits, hence the wait.
fn assert_each_row_inserted_once(pg: &Pg, schema: &str, s: &faux::Scenario) {
    for t in s.tables() {
        let count: u64 = pg
            .one(&format!("SELECT count(*) FROM \"{schema}\".\"{}\"", t.name))
            .parse()
            .unwrap();
        let stat = || -> u64 {
            pg.one(&format!(
                "SELECT coalesce(sum(n_tup_ins), 0) FROM pg_stat_user_tables \
                 WHERE schemaname = '{schema}' AND relname = '{}'",
                t.name
            ))
            .parse()
            .unwrap()
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut inserted = stat();
        while inserted < count && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
            pg.exec("SELECT pg_stat_clear_snapshot()");
            inserted = stat();
        }
        assert_eq!(
            inserted, count,
            "{schema}.{}: {inserted} tuples inserted for {count} rows",
            t.name
        );
    }
}

#[test]
fn a_month_of_the_shop_matches_the_truth_in_any_order() {
    let Some(db) = FreshDb::create("a_month_of_the_shop_matches_the_truth_in_any_order") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let sc = small_shop(tmp.path());
    month_round_trip(&db, sc.to_str().unwrap(), "2024-01-01", "2024-01-31");
}

#[test]
fn a_month_of_shiny_rocks_matches_the_truth_in_any_order() {
    let Some(db) = FreshDb::create("a_month_of_shiny_rocks_matches_the_truth_in_any_order") else {
        return;
    };
    month_round_trip(&db, "shiny-rocks", "2024-03-01", "2024-03-31");
}

#[test]
fn a_killed_backend_leaves_no_partial_day_and_a_rerun_completes() {
    let Some(db) = FreshDb::create("a_killed_backend_leaves_no_partial_day_and_a_rerun_completes")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let sc = small_shop(tmp.path());
    let sc = sc.to_str().unwrap();
    let (from, to) = ("2024-01-01", "2024-01-12");
    let url = db.url();
    let pg = db.connect();
    let mut child = Command::new(BIN)
        .args([
            "generate",
            "--quiet",
            "--scenario",
            sc,
            "--from",
            from,
            "--to",
            to,
        ])
        .args(["--out", &url])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // wait for a day's transaction that has written rows, and kill its backend
    let started = Instant::now();
    let mut killed = false;
    while started.elapsed() < Duration::from_secs(120) {
        let victims = pg.rows(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{}' AND application_name = 'aladdin' AND backend_xid IS NOT NULL \
             AND query !~ '^(BEGIN;|CREATE)'",
            db.name
        ));
        if victims.iter().any(|r| r[0].as_deref() == Some("t")) {
            killed = true;
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let out = child.wait_with_output().unwrap();
    assert!(killed, "no loading transaction was seen to kill");
    let err = dbtest::stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    // The server's FATAL message reaches the client only if it reads before the socket
    // closes; mid-COPY it is often writing, and then sees the closed socket instead.
    assert!(
        [
            "terminating connection",
            "connection closed",
            "error communicating with the server",
        ]
        .iter()
        .any(|m| err.contains(m)),
        "{err}"
    );

    // every day is all there or not there: per table and day, 0 rows or the truth's count
    let truth = ok(&["truth", "--scenario", sc, "--from", from, "--to", to]);
    let truth: serde_json::Value = serde_json::from_slice(&truth.stdout).unwrap();
    let s = scenario(sc);
    let mut complete = vec![None::<bool>; 12];
    for t in s.tables().iter().filter(|t| t.cursor.is_none()) {
        let day_of = match t.column(t.partition).unwrap().ty {
            faux::LogicalType::Date => format!("\"{}\"::text", t.partition),
            _ => format!("date(\"{}\" AT TIME ZONE 'UTC')::text", t.partition),
        };
        let counts = pg.rows(&format!(
            "SELECT {day_of}, count(*) FROM \"{}\" GROUP BY 1",
            t.name
        ));
        for (i, day) in days(from, 12).iter().enumerate() {
            let want = truth["days"][day][t.name]["rows"].as_u64().unwrap();
            let got = counts
                .iter()
                .find(|r| r[0].as_deref() == Some(day))
                .map_or(0, |r| r[1].as_deref().unwrap().parse::<u64>().unwrap());
            assert!(
                got == 0 || got == want,
                "{} {day}: {got} of {want} rows",
                t.name
            );
            if want > 0 {
                let full = got == want;
                assert_eq!(
                    *complete[i].get_or_insert(full),
                    full,
                    "{day}: {} is {} but other tables are not",
                    t.name,
                    if full { "complete" } else { "empty" }
                );
            }
        }
    }
    let complete: Vec<bool> = complete.into_iter().map(|c| c.unwrap()).collect();
    assert!(
        complete.iter().any(|d| !d),
        "the run was killed, yet every day is there"
    );
    // the days that committed are exactly the truth up to the last of them
    if let Some(last) = complete.iter().rposition(|d| *d) {
        assert!(complete[..=last].iter().all(|d| *d), "{complete:?}");
        ok(&[
            "verify",
            "--quiet",
            "--scenario",
            sc,
            "--against",
            &url,
            "--from",
            from,
            "--to",
            &days(from, 12)[last],
        ]);
    }

    load(sc, &url, &["--from", from, "--to", to]);
    ok(&[
        "verify",
        "--quiet",
        "--scenario",
        sc,
        "--against",
        &url,
        "--from",
        from,
        "--to",
        to,
    ]);
}

#[test]
fn foreign_keys_hold_across_a_load_and_a_rerun() {
    let Some(db) = FreshDb::create("foreign_keys_hold_across_a_load_and_a_rerun") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let sc = small_shop(tmp.path());
    let sc = sc.to_str().unwrap();
    let url = db.url();
    let range = [
        "--from",
        "2024-01-01",
        "--to",
        "2024-01-04",
        "--foreign-keys",
    ];
    load(sc, &url, &range);
    load(sc, &url, &range);
    let pg = db.connect();
    let fks: u32 = pg
        .one("SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND condeferred")
        .parse()
        .unwrap();
    assert!(fks >= 10, "{fks} foreign keys");
    // an orphan is refused
    let err = pg
        .try_exec(
            "INSERT INTO refunds SELECT gen_random_uuid(), order_id, gen_random_uuid(), reason, amount, created_at \
             FROM refunds LIMIT 1; \
             INSERT INTO payments (id, order_id, method, status, amount, created_at, updated_at) \
             VALUES (gen_random_uuid(), gen_random_uuid(), 'card', 'captured', 1, now(), now())",
        )
        .unwrap_err();
    assert!(err.contains("violates foreign key constraint"), "{err}");
    let out = aladdin(&[
        "generate",
        "--quiet",
        "--scenario",
        sc,
        "--out",
        &url,
        "--foreign-keys",
        "--jobs",
        "2",
        "--date",
        "2024-01-02",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", dbtest::stderr(&out));
}

#[test]
fn bad_targets_give_clear_errors_and_change_nothing() {
    let Some(db) = FreshDb::create("bad_targets_give_clear_errors_and_change_nothing") else {
        return;
    };
    let url = db.url();
    let run = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "generate",
            "--quiet",
            "--scenario",
            "shiny-rocks",
            "--date",
            "2024-03-01",
            "--out",
            out,
        ];
        args.extend_from_slice(extra);
        let o = aladdin(&args);
        (o.status.code(), dbtest::stderr(&o))
    };
    let expect = |(code, err): (Option<i32>, String), want_code: i32, needles: &[&str]| {
        assert_eq!(code, Some(want_code), "{err}");
        for n in needles {
            assert!(err.contains(n), "{n:?} not in: {err}");
        }
    };

    expect(
        run("postgres://postgres@127.0.0.1:1/x", &[]),
        1,
        &["cannot connect to PostgreSQL at 127.0.0.1:1/x", "refused"],
    );
    let nobody = format!("postgres://faux_no_such_user@127.0.0.1:5432/{}", db.name);
    expect(
        run(&nobody, &[]),
        1,
        &[
            "cannot connect",
            "role \"faux_no_such_user\" does not exist",
        ],
    );
    expect(
        run("postgres://postgres@127.0.0.1:5432/faux_no_such_db", &[]),
        1,
        &["database \"faux_no_such_db\" does not exist"],
    );
    expect(
        run(&url, &["--schema", "faux_nope"]),
        1,
        &[
            "schema \"faux_nope\" does not exist",
            "CREATE SCHEMA faux_nope",
        ],
    );
    expect(
        run("postgres://postgres:hunter2@127.0.0.1:notaport/x", &[]),
        2,
        &[
            "invalid PostgreSQL URL",
            "postgres://postgres:***@127.0.0.1:notaport/x",
        ],
    );
    expect(
        run(&url, &["--view", "changes"]),
        2,
        &["daily extract", "--view changes"],
    );
    expect(run("mysql://h/db", &[]), 2, &["mysql://", "postgres://"]);

    let pg = db.connect();
    pg.exec("CREATE TABLE orders (order_id text PRIMARY KEY, order_date text, extra int NOT NULL)");
    expect(
        run(&url, &[]),
        1,
        &[
            "table \"public\".\"orders\"",
            "column order_date is text, expected date",
            "column user_id is missing",
            "extra column extra is NOT NULL",
        ],
    );
    let tables = pg.one("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'");
    assert_eq!(tables, "1", "a refused load created tables");

    // a mutable table needs a key to upsert on
    let tmp = tempfile::tempdir().unwrap();
    let sc = small_shop(tmp.path());
    pg.exec("CREATE SCHEMA nokey; CREATE TABLE nokey.products (id uuid, sku text, name text, category text, price numeric(10,2), currency text, active boolean, created_at timestamptz, updated_at timestamptz)");
    let o = aladdin(&[
        "generate",
        "--quiet",
        "--scenario",
        sc.to_str().unwrap(),
        "--date",
        "2024-01-01",
        "--out",
        &url,
        "--schema",
        "nokey",
    ]);
    expect(
        (o.status.code(), dbtest::stderr(&o)),
        1,
        &[
            "\"nokey\".\"products\"",
            "no primary key or unique index on (id)",
        ],
    );

    // one load at a time per schema
    let holder = Pg::connect(&url).unwrap();
    holder.exec("SELECT pg_advisory_lock(hashtextextended('faux-genie load public', 0))");
    pg.exec("DROP TABLE orders");
    expect(
        run(&url, &[]),
        1,
        &["another aladdin load into schema \"public\""],
    );
    holder.exec("SELECT pg_advisory_unlock_all()");
    expect(run(&url, &[]), 0, &[]);
}

/// The split load of a changing table's day (the new rows by plain insert, the older rows'
/// versions by upsert): a key created on the day that is in the table after all undoes the
/// insert alone and leaves the transaction usable for the full upsert; otherwise new rows
/// go in and older rows take their newer versions.
#[test]
fn a_split_day_load_falls_back_when_a_new_key_is_there_already() {
    use faux_sinks::postgres::ddl;
    let Some(db) = FreshDb::create("a_split_day_load_falls_back") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let sc = small_shop(tmp.path());
    let sc = sc.to_str().unwrap();
    let url = db.url();
    load(
        sc,
        &url,
        &["--from", "2024-01-01", "--to", "2024-01-03", "--jobs", "1"],
    );
    let s = scenario(sc);
    let orders = *s.tables().iter().find(|t| t.name == "orders").unwrap();
    assert_eq!(orders.created, Some("created_at"));
    let pg = db.connect();
    let before = pg_contents(&pg, "public", &s);
    let count = |pg: &Pg| -> u64 { pg.one("SELECT count(*) FROM orders").parse().unwrap() };
    let n = count(&pg);
    let day: faux::Date = "2024-01-03".parse().unwrap();
    let target = PgTarget::parse(&url, None).unwrap();
    let stage = format!("pg_temp.{}", ddl::stage_name(orders));
    let fill = |created_on_day: &str, rest: &str| {
        format!(
            "INSERT INTO {stage} SELECT * FROM orders WHERE created_at >= '2024-01-03' AND created_at < '2024-01-04' AND {created_on_day} \
             UNION ALL SELECT * FROM orders WHERE created_at < '2024-01-03' AND {rest}"
        )
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = target.connect().await.unwrap();
        client.batch_execute("BEGIN").await.unwrap();
        client
            .batch_execute(&ddl::create_stage(orders))
            .await
            .unwrap();
        // the day's orders as they are: their keys are there
        client.batch_execute(&fill("true", "false")).await.unwrap();
        let staged: i64 = client
            .query_one(&format!("SELECT count(*) FROM {stage}"), &[])
            .await
            .unwrap()
            .get(0);
        assert!(staged > 10, "{staged} orders staged");
        let split = ddl::insert_then_upsert(&target, &client, orders, day)
            .await
            .unwrap();
        assert!(!split, "a key already there must fail the plain insert");
        // the transaction is still usable: the full upsert runs and changes nothing
        client
            .batch_execute(&ddl::upsert(&target, orders))
            .await
            .unwrap();
        client.batch_execute("COMMIT").await.unwrap();
    });
    assert_eq!(pg_contents(&pg, "public", &s), before);

    // new keys for the day's orders, a newer version of ten older orders
    rt.block_on(async {
        let client = target.connect().await.unwrap();
        client.batch_execute("BEGIN").await.unwrap();
        client
            .batch_execute(&ddl::create_stage(orders))
            .await
            .unwrap();
        client
            .batch_execute(&format!(
                "{}; UPDATE {stage} SET id = gen_random_uuid() WHERE created_at >= '2024-01-03'; \
                 UPDATE {stage} SET updated_at = '2024-01-03 23:59:59', status = 'split-test' \
                 WHERE created_at < '2024-01-03'",
                fill("true", "id IN (SELECT id FROM orders WHERE created_at < '2024-01-03' ORDER BY id LIMIT 10)")
            ))
            .await
            .unwrap();
        let older: i64 = client
            .query_one(&format!("SELECT count(*) FROM {stage} WHERE status = 'split-test'"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(older, 10, "older orders staged");
        let split = ddl::insert_then_upsert(&target, &client, orders, day)
            .await
            .unwrap();
        assert!(split);
        client.batch_execute("COMMIT").await.unwrap();
    });
    let added: u64 = pg
        .one("SELECT count(*) FROM orders WHERE created_at >= '2024-01-03'")
        .parse()
        .unwrap();
    assert_eq!(
        count(&pg),
        n + added / 2,
        "the day's orders, once more under new keys"
    );
    assert_eq!(
        pg.one("SELECT count(*) FROM orders WHERE status = 'split-test'"),
        "10",
        "the older orders took their newer versions"
    );
}
