//! The e-commerce simulation's promises, checked on a small shop over two months: rows are
//! consistent, the views agree (time travel), and the behaviour is realistic.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use faux::{Date, FieldVisitor, Row, RowSink, Scenario, Shard, TableDef, Timestamp, Uuid, View};

/// A row as column name → text (nulls absent; decimals in minor units).
type Rec = BTreeMap<&'static str, String>;

struct Collect {
    table: &'static TableDef,
    rows: Vec<Rec>,
    row: Rec,
    col: usize,
}

impl Collect {
    fn new(table: &'static TableDef) -> Self {
        Collect {
            table,
            rows: Vec::new(),
            row: Rec::new(),
            col: 0,
        }
    }
    fn put(&mut self, v: String) {
        self.row.insert(self.table.columns[self.col].name, v);
        self.col += 1;
    }
}

impl FieldVisitor for Collect {
    fn text(&mut self, v: &str) {
        self.put(v.to_string())
    }
    fn hex_uuid(&mut self, v: &Uuid) {
        self.put(v.to_string())
    }
    fn uuid(&mut self, v: &Uuid) {
        self.put(String::from_utf8(v.hyphenated().to_vec()).unwrap())
    }
    fn int(&mut self, v: i64) {
        self.put(v.to_string())
    }
    fn decimal(&mut self, units: i64) {
        self.put(units.to_string())
    }
    fn bool(&mut self, v: bool) {
        self.put(v.to_string())
    }
    fn date(&mut self, v: Date) {
        self.put(v.to_string())
    }
    fn timestamp(&mut self, v: Timestamp) {
        self.put(v.to_string())
    }
    fn json(&mut self, v: &str) {
        self.put(v.to_string())
    }
    fn null(&mut self) {
        self.col += 1
    }
}

impl RowSink for Collect {
    type Error = std::convert::Infallible;
    fn row<R: Row>(&mut self, row: &R) -> Result<(), Self::Error> {
        self.col = 0;
        self.row = Rec::new();
        row.visit(self);
        self.rows.push(std::mem::take(&mut self.row));
        Ok(())
    }
}

/// A small shop: a few hundred sessions a day, one paid channel.
const SMALL: &str = r#"
[shop]
opened_on = "2024-01-01"
[traffic]
organic_sessions_per_day = 260.0
[marketing.channels.google_ads]
daily_budget = 60.0
scale = 9.0
elasticity = 0.72
cost_per_mille = 9.0
"#;

fn shop() -> Scenario {
    Scenario::from_toml("small.toml", SMALL, 7).unwrap()
}

fn day(s: &str) -> Date {
    s.parse().unwrap()
}

fn rows(s: &Scenario, table: &str, d: Date, view: View) -> Vec<Rec> {
    let def = s.table(table).unwrap();
    let mut c = Collect::new(Scenario::output_table(def, view));
    let Ok(()) = s.generate(def, d, Shard::ALL, view, &mut c);
    c.rows
}

fn days(from: &str, to: &str) -> Vec<Date> {
    let (a, b) = (day(from), day(to));
    (0..=a.days_until(b)).map(|i| a.add_days(i)).collect()
}

/// A row's primary key, from its table's definition (`#`-joined when composite).
fn key_of(s: &Scenario, table: &str, r: &Rec) -> String {
    let def = s.table(table).unwrap();
    assert!(!def.primary_key.is_empty(), "{table} has no key");
    def.primary_key
        .iter()
        .map(|k| r[k].as_str())
        .collect::<Vec<_>>()
        .join("#")
}

/// The names of the scenario's tables.
fn tables(s: &Scenario) -> Vec<&'static str> {
    s.tables().iter().map(|t| t.name).collect()
}

type Tables = BTreeMap<&'static str, BTreeMap<String, Rec>>;

/// The snapshot as of `at` of every table: all creation days from the opening.
fn snapshot(s: &Scenario, at: Timestamp) -> Tables {
    let mut out = BTreeMap::new();
    for table in tables(s) {
        let mut m = BTreeMap::new();
        for d in days("2024-01-01", &at.date().to_string()) {
            for r in rows(s, table, d, View::Snapshot(at)) {
                assert!(
                    m.insert(key_of(s, table, &r), r).is_none(),
                    "{table}: duplicate key in a snapshot"
                );
            }
        }
        out.insert(table, m);
    }
    out
}

fn num(r: &Rec, col: &str) -> i64 {
    r[col].parse().unwrap()
}

#[test]
fn the_snapshot_is_consistent() {
    let s = shop();
    let snap = snapshot(&s, Timestamp::parse_flexible("2024-02-29").unwrap());
    let ids = |t: &str| snap[t].keys().cloned().collect::<BTreeSet<_>>();
    let (customers, products, sessions, orders) = (
        ids("customers"),
        ids("products"),
        ids("sessions"),
        ids("orders"),
    );
    assert!(orders.len() > 300, "only {} orders", orders.len());

    // no dangling foreign keys, ordered timestamps
    for r in snap["sessions"].values() {
        if let Some(c) = r.get("customer_id") {
            assert!(customers.contains(c), "session of unknown customer {c}");
        }
        if let Some(ended) = r.get("ended_at") {
            assert!(&r["started_at"] <= ended);
        }
    }
    let session_of: HashMap<&String, &Rec> =
        snap["sessions"].values().map(|r| (&r["id"], r)).collect();
    for r in snap["events"].values() {
        let session = session_of
            .get(&r["session_id"])
            .unwrap_or_else(|| panic!("event of unknown session {r:?}"));
        if let Some(c) = r.get("customer_id") {
            assert!(customers.contains(c));
        }
        if let Some(p) = r.get("product_id") {
            assert!(products.contains(p));
        }
        assert!(
            r["occurred_at"] >= session["started_at"],
            "event before its session: {r:?}"
        );
    }
    let mut items: HashMap<String, BTreeMap<String, i64>> = HashMap::new();
    let mut subtotal: HashMap<String, i64> = HashMap::new();
    for r in snap["order_items"].values() {
        assert!(orders.contains(&r["order_id"]) && products.contains(&r["product_id"]));
        *items
            .entry(r["order_id"].clone())
            .or_default()
            .entry(r["product_id"].clone())
            .or_default() += num(r, "quantity");
        *subtotal.entry(r["order_id"].clone()).or_default() +=
            num(r, "quantity") * num(r, "unit_price");
    }
    let mut refunded: HashMap<String, i64> = HashMap::new();
    for r in snap["refunds"].values() {
        assert!(orders.contains(&r["order_id"]));
        assert!(snap["payments"].contains_key(&r["payment_id"]));
        *refunded.entry(r["order_id"].clone()).or_default() += num(r, "amount");
    }
    let payments: HashMap<&String, &Rec> = snap["payments"]
        .values()
        .map(|p| (&p["order_id"], p))
        .collect();
    for o in snap["orders"].values() {
        assert!(customers.contains(&o["customer_id"]) && sessions.contains(&o["session_id"]));
        // money adds up
        assert_eq!(num(o, "subtotal"), subtotal[&o["id"]], "order {}", o["id"]);
        assert_eq!(
            num(o, "total"),
            num(o, "subtotal") - num(o, "discount") + num(o, "shipping") + num(o, "tax")
        );
        assert!(o["created_at"] <= o["updated_at"]);
        // the payment and the refunds reconcile with the order's status
        let p = payments[&o["id"]];
        assert_eq!(num(p, "amount"), num(o, "total"));
        let refund = refunded.get(&o["id"]).copied().unwrap_or(0);
        match o["status"].as_str() {
            "refunded" | "returned" => assert_eq!(refund, num(o, "total"), "{o:?}"),
            "partially_refunded" => assert!(refund > 0 && refund < num(o, "total")),
            _ => assert_eq!(refund, 0),
        }
        let expected_payment = match o["status"].as_str() {
            "placed" | "paid" => "authorized",
            "payment_failed" => "failed",
            "cancelled" => "voided",
            "shipped" | "delivered" => "captured",
            "returned" | "refunded" => "refunded",
            "partially_refunded" => "partially_refunded",
            other => panic!("unknown status {other}"),
        };
        assert_eq!(p["status"], expected_payment, "{o:?}");
    }
    for sh in snap["shipments"].values() {
        assert!(orders.contains(&sh["order_id"]));
        if let Some(d) = sh.get("delivered_at") {
            assert!(sh["shipped_at"] < *d && sh["status"] == "delivered");
        }
        assert!(sh["shipped_at"] <= sh["updated_at"]);
    }
    for table in ["customers", "products", "orders", "payments"] {
        for r in snap[table].values() {
            assert!(r["created_at"] <= r["updated_at"], "{table}: {r:?}");
        }
    }

    // order lines are the cart rebuilt from the events
    let mut carts: HashMap<String, BTreeMap<String, i64>> = HashMap::new();
    let mut events: Vec<&Rec> = snap["events"].values().collect();
    events.sort_by(|a, b| a["occurred_at"].cmp(&b["occurred_at"]));
    let mut placed = 0;
    for e in events {
        let props: serde_json::Value = serde_json::from_str(&e["properties"]).unwrap();
        let cart = props
            .get("cart_id")
            .and_then(|c| c.as_str())
            .map(String::from);
        match e["event_type"].as_str() {
            "add_to_cart" | "remove_from_cart" => {
                let sign = if e["event_type"] == "add_to_cart" {
                    1
                } else {
                    -1
                };
                let line = carts
                    .entry(cart.unwrap())
                    .or_default()
                    .entry(e["product_id"].clone())
                    .or_default();
                *line += sign * num(e, "quantity");
                assert!(*line >= 0, "cart line below zero");
            }
            "order_placed" => {
                let order = props["order_id"].as_str().unwrap();
                let mut cart = carts.get(&cart.unwrap()).cloned().unwrap_or_default();
                cart.retain(|_, q| *q > 0);
                assert_eq!(Some(&cart), items.get(order), "order {order}");
                placed += 1;
            }
            _ => {}
        }
    }
    assert_eq!(placed, orders.len(), "one order_placed event per order");
}

#[test]
fn statuses_follow_the_lifecycle_in_the_changes_view() {
    let s = shop();
    let allowed: BTreeSet<(&str, &str)> = [
        ("placed", "paid"),
        ("placed", "payment_failed"),
        ("paid", "cancelled"),
        ("paid", "shipped"),
        ("shipped", "delivered"),
        ("shipped", "returned"),
        ("delivered", "refunded"),
        ("delivered", "partially_refunded"),
    ]
    .into();
    let mut last: HashMap<String, String> = HashMap::new();
    let mut last_seq = i64::MIN;
    let mut transitions = 0;
    for d in days("2024-01-01", "2024-02-15") {
        for r in rows(&s, "orders", d, View::Changes) {
            let seq: i64 = r["seq"].parse().unwrap();
            assert!(seq > last_seq, "seq must grow");
            last_seq = seq;
            assert_eq!(r["ts"], r["updated_at"]);
            match (r["op"].as_str(), last.get(&r["id"])) {
                ("insert", None) => assert_eq!(r["status"], "placed"),
                ("update", Some(prev)) => {
                    assert!(
                        allowed.contains(&(prev.as_str(), r["status"].as_str())),
                        "{prev} -> {}",
                        r["status"]
                    );
                    transitions += 1;
                }
                other => panic!("unexpected change {other:?} for {r:?}"),
            }
            last.insert(r["id"].clone(), r["status"].clone());
        }
    }
    assert!(transitions > 500, "{transitions} transitions");
}

#[test]
fn upserting_daily_extracts_and_replaying_changes_rebuild_the_snapshot() {
    let s = shop();
    let end = "2024-02-10";
    let snap = snapshot(&s, Timestamp::parse_flexible(end).unwrap());
    for table in tables(&s) {
        let mut upserted: BTreeMap<String, Rec> = BTreeMap::new();
        let mut replayed: BTreeMap<String, Rec> = BTreeMap::new();
        for d in days("2024-01-01", end) {
            for r in rows(&s, table, d, View::Extract) {
                upserted.insert(key_of(&s, table, &r), r);
            }
            for mut r in rows(&s, table, d, View::Changes) {
                for c in ["op", "seq", "ts"] {
                    r.remove(c);
                }
                replayed.insert(key_of(&s, table, &r), r);
            }
        }
        assert_eq!(upserted.len(), snap[table].len(), "{table}: row count");
        assert!(
            upserted == snap[table],
            "{table}: upserted extracts differ from the snapshot"
        );
        assert!(
            replayed == snap[table],
            "{table}: replayed changes differ from the snapshot"
        );
    }
}

#[test]
fn the_shop_behaves_realistically() {
    let s = shop();
    let snap = snapshot(&s, Timestamp::parse_flexible("2024-02-29").unwrap());
    // customers come back and buy again
    let mut per_customer: HashMap<&String, usize> = HashMap::new();
    for o in snap["orders"].values() {
        *per_customer.entry(&o["customer_id"]).or_default() += 1;
    }
    let repeat =
        per_customer.values().filter(|&&n| n > 1).count() as f64 / per_customer.len() as f64;
    assert!(
        repeat > 0.05,
        "only {:.1} % of buyers ordered twice",
        repeat * 100.0
    );
    // some abandoned carts are resumed on a later day and ordered
    let resumed: BTreeSet<&String> = snap["sessions"]
        .values()
        .filter(|r| r["landing_page"] == "/cart")
        .map(|r| &r["id"])
        .collect();
    let resumed_orders = snap["orders"]
        .values()
        .filter(|o| resumed.contains(&o["session_id"]))
        .count();
    assert!(
        resumed_orders > 5,
        "{resumed_orders} resumed carts converted"
    );
    // mixes match the scenario file, within 5 standard errors
    for (table, col, value, p) in [
        ("sessions", "device", "mobile", 0.55),
        ("payments", "method", "card", 0.68),
        ("shipments", "carrier", "DHL", 0.35),
        ("customers", "country", "US", 0.30),
    ] {
        let n = snap[table].len() as f64;
        let observed = snap[table].values().filter(|r| r[col] == value).count() as f64 / n;
        let se = (p * (1.0 - p) / n).sqrt();
        assert!(
            (observed - p).abs() < 5.0 * se,
            "{table}.{col}={value}: {observed:.3} vs {p} over {n}"
        );
    }
    // weekly seasonality: Saturdays (×1.12) busier than Wednesdays (×0.95)
    let mut by_weekday = [0f64; 7];
    let mut weeks = [0f64; 7];
    for d in days("2024-01-16", "2024-02-29") {
        by_weekday[d.weekday() as usize] += rows(&s, "sessions", d, View::Extract).len() as f64;
        weeks[d.weekday() as usize] += 1.0;
    }
    let (wed, sat) = (by_weekday[2] / weeks[2], by_weekday[5] / weeks[5]);
    assert!(sat > wed * 1.08, "saturday {sat:.0} vs wednesday {wed:.0}");
}

#[test]
fn black_friday_and_the_year_shape_traffic() {
    let s = Scenario::by_name("ecommerce", 3).unwrap();
    let sessions = |d: &str| rows(&s, "sessions", day(d), View::Extract).len() as f64;
    // Black Friday 2025 is 28 November; the Friday before is ordinary
    assert!(sessions("2025-11-28") > 2.0 * sessions("2025-11-21"));
    // winter (yearly peak, plus January sales) busier than summer
    assert!(sessions("2025-01-08") > 1.3 * sessions("2025-07-09"));
}

/// The primary key of a row (by the table definition), or the whole row for a table without
/// one.
fn pk(def: &TableDef, r: &Rec) -> String {
    if def.primary_key.is_empty() {
        return format!("{r:?}");
    }
    def.primary_key
        .iter()
        .map(|k| r[k].clone())
        .collect::<Vec<_>>()
        .join("#")
}

/// A partition holds exactly the rows of its day, in every view: the extract by the table's
/// partition column, the changes by their `ts`, the snapshot by the day a row was inserted —
/// also for orders checked out after midnight by a session that started the day before.
#[test]
fn partitions_hold_exactly_the_rows_of_their_day() {
    let s = shop();
    let range = days("2024-02-01", "2024-02-10");
    let at = Timestamp(range.last().unwrap().succ().start().0 - 1);
    let mut crossed_midnight = 0;
    for def in s.tables() {
        let t = def.name;
        let mut snapshot_keys = BTreeSet::new();
        let mut inserted_keys = BTreeSet::new();
        for &d in &range {
            for r in rows(&s, t, d, View::Extract) {
                let v = &r[def.partition];
                assert_eq!(&v[..10], d.to_string(), "{t} extract of {d}: {r:?}");
            }
            for r in rows(&s, t, d, View::Changes) {
                assert_eq!(&r["ts"][..10], d.to_string(), "{t} changes of {d}");
                if r["op"] == "insert" {
                    let mut row = r.clone();
                    for c in ["op", "seq", "ts"] {
                        row.remove(c);
                    }
                    assert!(inserted_keys.insert((d, pk(def, &row))), "{t}: one insert");
                }
            }
            for r in rows(&s, t, d, View::Snapshot(at)) {
                assert!(snapshot_keys.insert((d, pk(def, &r))), "{t}: once");
            }
        }
        let misfiled: Vec<_> = snapshot_keys.symmetric_difference(&inserted_keys).collect();
        assert!(
            misfiled.is_empty(),
            "{t}: snapshot partitions by insert day; (day, key) in one only: {misfiled:?}"
        );
        if t == "orders" {
            let sessions: HashMap<String, String> = range
                .iter()
                .flat_map(|d| rows(&s, "sessions", d.add_days(-1), View::Extract))
                .map(|r| (r["id"].clone(), r["started_at"][..10].to_string()))
                .collect();
            crossed_midnight = range
                .iter()
                .flat_map(|d| rows(&s, "orders", *d, View::Snapshot(at)))
                .filter(|o| {
                    sessions
                        .get(&o["session_id"])
                        .is_some_and(|started| started.as_str() < &o["created_at"][..10])
                })
                .count();
        }
    }
    assert!(
        crossed_midnight > 0,
        "the range has orders placed after their session's midnight"
    );
}

#[test]
fn no_source_shows_a_session_end_before_it_happens() {
    let s = shop();
    // the change feed: inserted at its start without an end, updated at its end
    let mut inserted: BTreeMap<String, Rec> = BTreeMap::new();
    let mut ended: BTreeMap<String, Rec> = BTreeMap::new();
    for d in days("2024-02-01", "2024-02-03") {
        for r in rows(&s, "sessions", d, View::Changes) {
            let id = r["id"].clone();
            match r["op"].as_str() {
                "insert" => {
                    assert!(!r.contains_key("ended_at"), "inserted with its end: {r:?}");
                    assert_eq!(r["ts"], r["started_at"], "{r:?}");
                    assert_eq!(r["updated_at"], r["started_at"], "{r:?}");
                    assert!(inserted.insert(id, r).is_none(), "one insert");
                }
                "update" => {
                    assert_eq!(
                        r["ts"], r["ended_at"],
                        "the end arrives when it happens: {r:?}"
                    );
                    assert_eq!(r["updated_at"], r["ended_at"], "{r:?}");
                    assert!(ended.insert(id, r).is_none(), "one update");
                }
                op => panic!("a session is inserted, then updated: {op} {r:?}"),
            }
        }
    }
    // every session started in the range ends in it or just after (the last one's midnight)
    let started_late = inserted
        .keys()
        .filter(|id| !ended.contains_key(*id))
        .count();
    assert!(ended.len() > 500, "{} sessions ended", ended.len());
    assert!(started_late < 20, "{started_late} sessions never ended");
    for (id, u) in &ended {
        if let Some(i) = inserted.get(id) {
            assert!(i["ts"] < u["ts"], "the end after the start: {i:?} {u:?}");
            assert_eq!(i["started_at"], u["started_at"]);
        }
    }
    // a snapshot in the middle of the day: sessions still going on have no end yet
    let at = Timestamp::parse_flexible("2024-02-02T14:30:00Z").unwrap();
    let (mut open, mut closed) = (0, 0);
    for d in days("2024-02-01", "2024-02-02") {
        for r in rows(&s, "sessions", d, View::Snapshot(at)) {
            assert!(r["started_at"] <= at.to_string(), "{r:?}");
            let end = &ended[&r["id"]]["ended_at"];
            match r.get("ended_at") {
                Some(e) => {
                    assert!(*e <= at.to_string(), "an end after {at}: {r:?}");
                    assert_eq!(e, end);
                    assert_eq!(&r["updated_at"], e);
                    closed += 1;
                }
                None => {
                    assert!(
                        *end > at.to_string(),
                        "the end {end} is known at {at}: {r:?}"
                    );
                    assert_eq!(r["updated_at"], r["started_at"]);
                    open += 1;
                }
            }
        }
    }
    assert!(
        open > 0 && closed > 500,
        "{open} open, {closed} ended at {at}"
    );
    // a day's extract is its end-of-day state: a session going on past midnight shows no end
    // there, and its end in the next day's extract
    let mut crossed = 0;
    for d in days("2024-02-01", "2024-02-02") {
        let next = d.add_days(1).to_string();
        for r in rows(&s, "sessions", d, View::Extract) {
            match r.get("ended_at") {
                Some(e) => assert!(e[..10] == d.to_string(), "{d}: {r:?}"),
                None => {
                    assert!(ended[&r["id"]]["ended_at"][..10] == next, "{d}: {r:?}");
                    crossed += 1;
                }
            }
        }
    }
    assert!(crossed > 0, "no session went on past midnight");
}

#[test]
fn the_change_feed_is_the_same_on_any_thread_count() {
    // a first day (its whole look-back window planned in parallel) and the next (one new day)
    let one = shop();
    let many = shop().with_threads(3);
    for d in [day("2024-02-20"), day("2024-02-21")] {
        let (a, b) = (one.changes(d), many.changes(d));
        assert!(a.len() > 1000, "{d}: {} changes", a.len());
        assert_eq!(a.len(), b.len(), "{d}");
        for (x, y) in a.iter().zip(b.iter()) {
            // Debug shows every field of the record and its row
            assert_eq!(format!("{x:?}"), format!("{y:?}"), "{d}");
        }
    }
}

/// A table kept as a time-keyed window is insert-only, and every row's id is a UUIDv7 of its
/// partition column's time: a live source finds a row's day from its id alone.
#[test]
fn time_keyed_tables_carry_their_time_in_their_ids() {
    let s = shop();
    let keyed: Vec<&TableDef> = s
        .tables()
        .iter()
        .copied()
        .filter(|t| t.keep == faux::Keep::TimeKeyedWindow)
        .collect();
    assert!(keyed.iter().any(|t| t.name == "events"));
    for t in keyed {
        assert!(t.cursor.is_none(), "{}: rows must not change", t.name);
        let [key] = t.primary_key else {
            panic!("{}: one key column", t.name)
        };
        let mut n = 0;
        for d in days("2024-02-28", "2024-03-01") {
            for r in rows(&s, t.name, d, View::Snapshot(d.succ().start())) {
                let id = Uuid::parse_hyphenated(&r[key]).expect("a hyphenated uuid");
                let at = Timestamp::parse_flexible(&r[t.partition]).unwrap();
                assert_eq!(id.v7_millis(), Some(at.0 * 1000), "{}: {r:?}", t.name);
                assert_eq!(at.date(), d, "{}: filed under its own day", t.name);
                n += 1;
            }
        }
        assert!(n > 500, "{}: {n} rows", t.name);
    }
}

/// A table's creation column ([`TableDef::created`]) is what loaders rely on to tell a day's
/// new rows from versions of older ones: a row is inserted on its creation day, at its
/// creation time, and no later version moves it.
#[test]
fn creation_columns_hold_when_each_row_was_first_written() {
    let s = shop();
    let mut checked = Vec::new();
    for t in s.tables().iter().copied() {
        let Some(created) = t.created else {
            continue;
        };
        assert!(t.cursor.is_some(), "{}: only mutable tables", t.name);
        assert!(
            t.column(created).is_some(),
            "{}: no column {created}",
            t.name
        );
        let mut first: HashMap<String, String> = HashMap::new();
        let (mut inserts, mut updates) = (0, 0);
        for d in days("2024-02-27", "2024-03-02") {
            for r in rows(&s, t.name, d, View::Changes) {
                let key = key_of(&s, t.name, &r);
                let at = Timestamp::parse_flexible(&r[created]).unwrap();
                if r["op"] == "insert" {
                    assert_eq!(
                        at.date(),
                        d,
                        "{}: inserted on its creation day: {r:?}",
                        t.name
                    );
                    assert_eq!(r[created], r["ts"], "{}: at its creation time", t.name);
                    first.insert(key, r[created].clone());
                    inserts += 1;
                } else if let Some(c) = first.get(&key) {
                    assert_eq!(&r[created], c, "{}: a version moved it: {r:?}", t.name);
                    updates += 1;
                } else {
                    // created before the days looked at
                    assert!(at.date() < day("2024-02-27"), "{}: {r:?}", t.name);
                }
            }
        }
        assert!(inserts > 0, "{}: no inserts", t.name);
        checked.push((t.name, inserts, updates));
    }
    for busy in ["sessions", "orders"] {
        let c = checked.iter().find(|c| c.0 == busy);
        assert!(
            c.is_some_and(|c| c.1 > 50 && c.2 > 50),
            "{busy}: {checked:?}"
        );
    }
}

/// A session's id is a UUIDv7 of its start: time-ordered keys, as a modern shop issues them
/// (and what keeps a database's primary-key index from taking random writes).
#[test]
fn session_ids_carry_their_start() {
    let s = shop();
    let mut n = 0;
    for d in days("2024-02-28", "2024-03-01") {
        for r in rows(&s, "sessions", d, View::Extract) {
            let id = Uuid::parse_hyphenated(&r["id"]).expect("a hyphenated uuid");
            let at = Timestamp::parse_flexible(&r["started_at"]).unwrap();
            assert_eq!(id.v7_millis(), Some(at.0 * 1000), "{r:?}");
            n += 1;
        }
    }
    assert!(n > 500, "{n} sessions");
}
