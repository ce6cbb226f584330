//! The PostgreSQL feature store (`--database-url`) against the real server on 127.0.0.1:5432,
//! a fresh database per test: the same stream gives the same features, labels and progress as
//! the SQLite store, and it is idempotent by seq (a redelivery or a restart changes nothing).

use kingfisher::store::{Change, Store};
use test_support::pg::FreshDb;

/// The small shop's first `days` days of `sessions` and `events` records, as the stream
/// publishes them.
fn stream(days: i32) -> Vec<Change> {
    let scenario = faux::Scenario::from_toml(
        "small-shop",
        kingfisher::run::SMALL_SHOP,
        faux::DEFAULT_SEED,
    )
    .unwrap();
    let start: faux::Date = "2024-01-01".parse().unwrap();
    let mut out = Vec::new();
    for d in 0..days {
        out.extend(kingfisher::run::day_changes(&scenario, start.add_days(d)).unwrap());
    }
    out
}

fn feed(store: &mut Store, records: &[Change], batch: usize) -> usize {
    records.chunks(batch).map(|b| store.apply(b).unwrap()).sum()
}

#[test]
fn the_same_stream_gives_the_same_features_in_postgres_and_sqlite() {
    let Some(db) = FreshDb::create("kingfisher pg features") else {
        return;
    };
    let records = stream(10);
    let dir = tempfile::tempdir().unwrap();
    let mut lite = Store::open(&dir.path().join("f.db")).unwrap();
    let mut pg = Store::connect(&db.url()).unwrap();
    assert_eq!(feed(&mut lite, &records, 500), records.len());
    // another batch size: batches are transactions, not part of the result
    assert_eq!(feed(&mut pg, &records, 317), records.len());

    let (a, b) = (lite.carts().unwrap(), pg.carts().unwrap());
    assert!(a.len() > 1000, "{} carts", a.len());
    assert!(
        a.iter().any(|c| c.ordered_at.is_some()) && a.iter().any(|c| c.features.orders_before > 0),
        "the stream should have orders and returning buyers"
    );
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y, "cart {} differs", x.cart_id);
    }
    assert_eq!(lite.progress().unwrap(), pg.progress().unwrap());
    let some = &a[a.len() / 2];
    assert_eq!(pg.cart(&some.cart_id).unwrap().as_ref(), Some(some));
    assert_eq!(pg.cart("no-such-cart").unwrap(), None);
    let after = pg.carts_after(0, 5).unwrap();
    assert_eq!(after.len(), 5);
    assert_eq!(
        after.iter().map(|(_, c)| c).collect::<Vec<_>>(),
        a[..5].iter().collect::<Vec<_>>()
    );
    let (seq, _) = after[2];
    assert_eq!(pg.carts_after(seq, 1).unwrap()[0].1, a[3]);

    // the tables live in their own schema: the database's public schema is untouched
    assert_eq!(
        db.connect()
            .one("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"),
        "0"
    );
}

#[test]
fn postgres_store_is_idempotent_by_seq_across_restarts() {
    let Some(db) = FreshDb::create("kingfisher pg idempotent") else {
        return;
    };
    let records = stream(4);
    let half = records.len() / 2;
    {
        let mut pg = Store::connect(&db.url()).unwrap();
        assert_eq!(feed(&mut pg, &records[..half], 200), half);
    } // a crash: the process and its connection are gone
    let mut pg = Store::connect(&db.url()).unwrap();
    // the broker redelivers everything unacknowledged, and more
    assert_eq!(
        feed(&mut pg, &records[half / 2..], 200),
        records.len() - half
    );
    assert_eq!(feed(&mut pg, &records, 1000), 0);

    let dir = tempfile::tempdir().unwrap();
    let mut once = Store::open(&dir.path().join("once.db")).unwrap();
    feed(&mut once, &records, 1000);
    assert_eq!(pg.carts().unwrap(), once.carts().unwrap());
    assert_eq!(pg.progress().unwrap(), once.progress().unwrap());
}

#[test]
fn a_bad_record_rolls_back_its_whole_batch() {
    let Some(db) = FreshDb::create("kingfisher pg rollback") else {
        return;
    };
    let records = stream(1);
    let mut pg = Store::connect(&db.url()).unwrap();
    feed(&mut pg, &records[..100], 100);
    let before = (pg.progress().unwrap(), pg.carts().unwrap());
    let mut bad = records[100..200].to_vec();
    let last = bad.last_mut().unwrap();
    last.ts = "not a time".into();
    let err = pg.apply(&bad).unwrap_err().to_string();
    assert!(err.contains("not a time"), "{err}");
    assert_eq!((pg.progress().unwrap(), pg.carts().unwrap()), before);
    // and the connection is usable after the rollback
    assert_eq!(pg.apply(&records[100..200]).unwrap(), 100);
}

#[test]
fn an_unreachable_database_is_a_clear_error() {
    let err = Store::connect("postgres://kf:secret@127.0.0.1:9/none")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("PostgreSQL postgres://kf:***@127.0.0.1:9/none"),
        "{err}"
    );
    assert!(!err.contains("secret"), "{err}");
}
