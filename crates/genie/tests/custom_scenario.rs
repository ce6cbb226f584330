//! A scenario defined here, outside faux's built-ins, flows through files, a database, the
//! live stream and Genie with no code of its own in any of them: the proof that adding a
//! scenario touches faux's `Simulation` only.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use faux::feed::first_seq;
use faux::{
    ChangeRecord, Column, Date, FieldVisitor, Key, LogicalType as T, Op, Parent, Record, Row,
    Scenario, Shard, Simulation, TableDef, Timestamp, Uuid, View,
};

/// A lending library: books are catalogued and repriced; each loan belongs to a book; the
/// visit counter has no key of its own.
#[derive(Debug)]
struct Library;

static BOOKS: TableDef = TableDef {
    name: "books",
    description: "The catalogue; a book is repriced two days after it arrives.",
    columns: &[
        Column::new("id", T::Uuid, "Book id."),
        Column::new("title", T::Text, "Title."),
        Column::new(
            "price",
            T::Decimal {
                precision: 8,
                scale: 2,
            },
            "Replacement price.",
        ),
        Column::new("created_at", T::Timestamp, "When catalogued."),
        Column::new("updated_at", T::Timestamp, "Last change."),
    ],
    primary_key: &["id"],
    cursor: Some("updated_at"),
    partition: "updated_at",
    created: None,
    parent: None,
    keep: faux::Keep::Always,
};

static LOANS: TableDef = TableDef {
    name: "loans",
    description: "A book lent out.",
    columns: &[
        Column::new("id", T::Uuid, "Loan id."),
        Column::new("book_id", T::Uuid, "The book lent."),
        Column::new("days", T::Int, "Loan period."),
        Column::new("created_at", T::Timestamp, "When lent."),
    ],
    primary_key: &["id"],
    cursor: None,
    partition: "created_at",
    created: None,
    parent: Some(Parent {
        table: "books",
        column: "book_id",
        path: "loans",
    }),
    keep: faux::Keep::Window,
};

static VISITS: TableDef = TableDef {
    name: "visits",
    description: "Door counter readings (no key of their own).",
    columns: &[
        Column::new("counted_at", T::Timestamp, "When counted."),
        Column::new("people", T::Int, "People who came in."),
    ],
    primary_key: &[],
    cursor: None,
    partition: "counted_at",
    created: None,
    parent: None,
    keep: faux::Keep::Window,
};

static TABLES: &[&TableDef] = &[&BOOKS, &LOANS, &VISITS];

#[derive(Debug, Clone)]
struct Book {
    id: Uuid,
    title: String,
    price: i64,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl Row for Book {
    fn visit<V: FieldVisitor>(&self, v: &mut V) {
        v.uuid(&self.id);
        v.text(&self.title);
        v.decimal(self.price);
        v.timestamp(self.created_at);
        v.timestamp(self.updated_at);
    }
}

#[derive(Debug)]
struct Loan {
    id: Uuid,
    book_id: Uuid,
    days: i64,
    created_at: Timestamp,
}

impl Row for Loan {
    fn visit<V: FieldVisitor>(&self, v: &mut V) {
        v.uuid(&self.id);
        v.uuid(&self.book_id);
        v.int(self.days);
        v.timestamp(self.created_at);
    }
}

#[derive(Debug)]
struct Visit {
    counted_at: Timestamp,
    people: i64,
}

impl Row for Visit {
    fn visit<V: FieldVisitor>(&self, v: &mut V) {
        v.timestamp(self.counted_at);
        v.int(self.people);
    }
}

const OPENED: &str = "2024-01-01";
const BOOKS_PER_DAY: u64 = 3;

impl Library {
    fn opened() -> Date {
        OPENED.parse().unwrap()
    }

    /// Book `n` (0-based over the library's life), as catalogued.
    fn book(seed: u64, n: u64) -> Book {
        let mut s = Key::root(seed).named("books").derive(n).stream();
        let at = Timestamp(
            Self::opened()
                .add_days((n / BOOKS_PER_DAY) as i32)
                .start()
                .0
                + 3600 * (9 + n % BOOKS_PER_DAY) as i64,
        );
        Book {
            id: s.uuid_v4(),
            title: format!("Volume {n}"),
            price: s.range_inclusive(500, 4000),
            created_at: at,
            updated_at: at,
        }
    }
}

impl Simulation for Library {
    fn name(&self) -> &'static str {
        "library"
    }
    fn description(&self) -> &'static str {
        "A lending library (a test scenario)"
    }
    fn tables(&self) -> &'static [&'static TableDef] {
        TABLES
    }
    fn first_day(&self) -> Date {
        Self::opened()
    }
    fn changes(&self, seed: u64, day: Date) -> Vec<ChangeRecord> {
        let age = Self::opened().days_until(day);
        if age < 0 {
            return Vec::new();
        }
        let mut out: Vec<(Timestamp, usize, Op, Record)> = Vec::new();
        let first = age as u64 * BOOKS_PER_DAY;
        for n in first..first + BOOKS_PER_DAY {
            let b = Self::book(seed, n);
            out.push((b.created_at, 0, Op::Insert, Record::dynamic(b)));
        }
        if age >= 2 {
            // the books of two days ago are repriced at noon
            let back = (age as u64 - 2) * BOOKS_PER_DAY;
            for n in back..back + BOOKS_PER_DAY {
                let mut b = Self::book(seed, n);
                b.updated_at = Timestamp(day.start().0 + 12 * 3600);
                b.price += 100;
                out.push((b.updated_at, 0, Op::Update, Record::dynamic(b)));
            }
        }
        let mut s = Key::root(seed).named("loans").derive(age as u64).stream();
        for i in 0..4 {
            let book = s.range_inclusive(0, first as i64 + BOOKS_PER_DAY as i64 - 1) as u64;
            let at = Timestamp(day.start().0 + 3600 * (10 + i) + 60);
            let loan = Loan {
                id: s.uuid_v4(),
                book_id: Self::book(seed, book).id,
                days: s.range_inclusive(7, 28),
                created_at: at,
            };
            out.push((at, 1, Op::Insert, Record::dynamic(loan)));
        }
        let visit = Visit {
            counted_at: Timestamp(day.start().0 + 18 * 3600),
            people: s.range_inclusive(10, 90),
        };
        out.push((visit.counted_at, 2, Op::Insert, Record::dynamic(visit)));
        out.sort_by_key(|(ts, table, ..)| (*ts, *table));
        out.into_iter()
            .enumerate()
            .map(|(i, (ts, table, op, row))| ChangeRecord {
                table,
                op,
                seq: first_seq(day) + i as i64,
                ts,
                row,
            })
            .collect()
    }
}

fn library() -> Scenario {
    Scenario::custom(Box::new(Library), 11)
}

const FROM: &str = "2024-01-01";
const TO: &str = "2024-01-05";

fn days() -> Vec<Date> {
    let range = faux::DateRange::new(FROM.parse().unwrap(), TO.parse().unwrap()).unwrap();
    range.days().collect()
}

/// Rows of a table in a view, as text lines (a CSV-ish rendering through the visitor).
fn lines(s: &Scenario, def: &'static TableDef, d: Date, view: View) -> Vec<String> {
    struct L(Vec<String>, String);
    impl FieldVisitor for L {
        fn text(&mut self, v: &str) {
            self.1 += &format!("{v}|");
        }
        fn hex_uuid(&mut self, v: &Uuid) {
            self.1 += &format!("{v}|");
        }
        fn uuid(&mut self, v: &Uuid) {
            self.1 += &format!("{}|", String::from_utf8_lossy(&v.hyphenated()));
        }
        fn int(&mut self, v: i64) {
            self.1 += &format!("{v}|");
        }
        fn decimal(&mut self, v: i64) {
            self.1 += &format!("{v}|");
        }
        fn bool(&mut self, v: bool) {
            self.1 += &format!("{v}|");
        }
        fn date(&mut self, v: Date) {
            self.1 += &format!("{v}|");
        }
        fn timestamp(&mut self, v: Timestamp) {
            self.1 += &format!("{v}|");
        }
        fn json(&mut self, v: &str) {
            self.1 += &format!("{v}|");
        }
        fn null(&mut self) {
            self.1 += "|";
        }
    }
    impl faux::RowSink for L {
        type Error = std::convert::Infallible;
        fn row<R: Row>(&mut self, row: &R) -> Result<(), Self::Error> {
            row.visit(self);
            self.0.push(std::mem::take(&mut self.1));
            Ok(())
        }
    }
    let mut l = L(Vec::new(), String::new());
    let Ok(()) = s.generate(def, d, Shard::ALL, view, &mut l);
    l.0
}

#[test]
fn views_are_derived_from_the_feed() {
    let s = library();
    let day: Date = "2024-01-04".parse().unwrap();
    // the extract holds the day's changed books once each, in their last version
    let books = lines(&s, &BOOKS, day, View::Extract);
    assert_eq!(books.len(), 6, "3 new, 3 repriced: {books:#?}");
    assert!(books.iter().all(|b| b.contains("2024-01-04T")));
    // a snapshot at the end of the range shows the day's books repriced later
    let at = Timestamp::parse_flexible("2024-01-06T23:59:59Z").unwrap();
    let snap = lines(&s, &BOOKS, day, View::Snapshot(at));
    assert_eq!(snap.len(), 3);
    assert!(
        snap.iter().all(|b| b.contains("2024-01-06T12:00:00Z")),
        "{snap:#?}"
    );
    // and the changes view is the feed of each table, in order
    let changes = lines(&s, &LOANS, day, View::Changes);
    assert_eq!(changes.len(), 4);
    assert!(changes.iter().all(|c| c.starts_with("insert|")));
    // a snapshot before the repricing shows the first version
    let early = Timestamp::parse_flexible("2024-01-05T00:00:00Z").unwrap();
    let snap = lines(&s, &BOOKS, day, View::Snapshot(early));
    assert!(snap.iter().all(|b| !b.contains("T12:00:00Z")), "{snap:#?}");
}

#[test]
fn files_and_sqlite_hold_the_custom_tables() {
    let s = library();
    let tmp = tempfile::tempdir().unwrap();
    let range = faux::DateRange::new(FROM.parse().unwrap(), TO.parse().unwrap()).unwrap();
    let run = faux_sinks::FileRun {
        scenario: &s,
        tables: s.tables().to_vec(),
        days: range,
        shard: Shard::ALL,
        view: View::Extract,
        format: faux_sinks::Format::Csv,
        layout: faux_sinks::Layout::Hive,
        out: tmp.path().join("files"),
        threads: 2,
        scenario_source: None,
        dirty: faux::dirty::Profile::Off,
    };
    let stats = run.run(&|_| {}).unwrap();
    assert_eq!(stats.len(), days().len() * 3);
    for def in s.tables() {
        for d in days() {
            let path = tmp
                .path()
                .join(format!("files/{}/date={d}/part-0.csv", def.name));
            let text = std::fs::read_to_string(&path).unwrap();
            let header = text.lines().next().unwrap();
            let names: Vec<&str> = def.columns.iter().map(|c| c.name).collect();
            assert_eq!(header, names.join(","));
            assert_eq!(
                text.lines().count() - 1,
                lines(&s, def, d, View::Extract).len(),
                "{path:?}"
            );
        }
    }

    let db = tmp.path().join("library.sqlite");
    let load = faux_sinks::sqlite::SqliteLoad {
        path: db.clone(),
        scenario: &s,
        tables: s.tables().to_vec(),
        days: range,
        foreign_keys: false,
    };
    load.run(&|_, _| {}).unwrap();
    let c = rusqlite::Connection::open(&db).unwrap();
    let count = |t: &str| -> i64 {
        c.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
            .unwrap()
    };
    // upserts by key: each book once; loans and visits as inserted
    assert_eq!(count("books"), days().len() as i64 * 3);
    assert_eq!(count("loans"), days().len() as i64 * 4);
    assert_eq!(count("visits"), days().len() as i64);
    let repriced: i64 = c
        .query_row(
            "SELECT count(*) FROM books WHERE updated_at > created_at",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(repriced, (days().len() as i64 - 2) * 3);
}

#[test]
fn the_stream_carries_every_change() {
    let s = library();
    let d: Date = "2024-01-03".parse().unwrap();
    let messages = faux_sinks::stream::source::day_messages(&s, s.tables(), d, 2);
    assert_eq!(messages.len(), s.changes(d).len());
    let mut per_table: BTreeMap<&str, usize> = BTreeMap::new();
    for m in &messages {
        let v: serde_json::Value = serde_json::from_slice(&m.body).unwrap();
        assert_eq!(v["table"], m.table);
        assert_eq!(v["seq"], m.seq);
        let def = s.table(m.table).unwrap();
        assert_eq!(v["row"].as_object().unwrap().len(), def.columns.len());
        *per_table.entry(m.table).or_default() += 1;
    }
    assert_eq!(
        per_table,
        BTreeMap::from([("books", 6), ("loans", 4), ("visits", 1)])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn genie_serves_the_custom_tables() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::config(dir.path(), &common::Opts::default());
    cfg.start = Some(Timestamp::parse_flexible("2024-01-05T23:00:00Z").unwrap());
    cfg.history_days = 5;
    let store = common::open(&cfg, None);
    let run = genie::start_scenario(cfg, store, library(), "library".into(), Box::new(|_| {}))
        .await
        .unwrap();
    let app = common::App::new(run, dir);
    let paths = common::openapi_paths(&app.get("/openapi.json").await.body);
    for p in [
        "/v1/books",
        "/v1/books/{id}",
        "/v1/books/{id}/loans",
        "/v1/loans",
        "/v1/loans/{id}",
        "/v1/visits",
    ] {
        assert!(paths.contains(p), "{p} in {paths:?}");
    }
    assert!(!paths.contains("/v1/visits/{id}"));
    let (books, _) = app.walk("/v1/books?limit=4").await;
    assert_eq!(books.len(), 15);
    let (loans, _) = app.walk("/v1/loans?limit=7").await;
    assert_eq!(loans.len(), 20);
    let (visits, _) = app.walk("/v1/visits").await;
    assert_eq!(visits.len(), 5);
    let lent = loans[0]["book_id"].as_str().unwrap();
    let of_book = app.get(&format!("/v1/books/{lent}/loans")).await;
    assert_eq!(of_book.status, 200, "{}", of_book.body);
    assert!(of_book.body["data"].as_array().unwrap().contains(&loans[0]));
    let book = app.get(&format!("/v1/books/{lent}")).await;
    assert_eq!(book.status, 200);
    // the repricing is in the change feed as an update
    let feed = app.get("/v1/changes?limit=1000").await;
    let ops: BTreeSet<(String, String)> = feed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["table"].as_str().unwrap().to_string(),
                c["op"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(ops.contains(&("books".into(), "update".into())), "{ops:?}");
}
