//! The clickstream (a time-keyed table) is regenerated from the engine on read, not stored:
//! lists, pages and offsets, filters, single rows and the change feed serve exactly the
//! engine's events of the window up to the clock — and the store holds none of them.

mod common;

use std::collections::HashMap;

use common::App;
use faux::{Date, Shard, Timestamp, View};
use serde_json::Value;

const START: &str = "2024-03-20T12:00:00Z";

async fn shop() -> App {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::config(dir.path(), &common::Opts::default());
    cfg.start = Some(Timestamp::parse_flexible(START).unwrap());
    cfg.history_days = 3;
    cfg.retention_secs = 86_400;
    common::spawn_config(cfg, dir, None).await
}

/// The engine's events of `day` up to `at`, as the API renders them, in keyset order.
fn engine_events(day: Date, at: Timestamp) -> Vec<Value> {
    let s = common::scenario();
    let def = s.table("events").unwrap();
    let res = genie::store::resources(s);
    let t = s.tables().iter().position(|d| d.name == "events").unwrap();
    let mut sink = genie::store::StateSink::new(&res[t], t);
    let Ok(()) = s.generate(def, day, Shard::ALL, View::Snapshot(at), &mut sink);
    let mut rows: Vec<(i64, String, Value)> = sink
        .rows
        .iter()
        .filter(|p| p.sort <= at.0)
        .map(|p| {
            let v: Value = serde_json::from_str(&p.json(&res[t])).unwrap();
            (p.sort, p.key.clone(), v)
        })
        .collect();
    rows.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    rows.into_iter().map(|r| r.2).collect()
}

fn ids(rows: &[Value]) -> Vec<&str> {
    rows.iter().map(|r| r["id"].as_str().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clickstream_is_served_from_the_engine_and_not_stored() {
    let app = shop().await;
    let start = Timestamp::parse_flexible(START).unwrap();

    // the store holds no event row, only each finished day's count
    let db = rusqlite::Connection::open(app.run.store.sqlite_path().unwrap()).unwrap();
    let stored: i64 = db
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, 0, "events are regenerated, not stored");
    let days: Vec<(i64, Option<i64>)> = db
        .prepare("SELECT day, rows FROM window_days WHERE resource = 'events' ORDER BY day")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let window = start.date().add_days(-3);
    assert_eq!(days.len(), 4, "{days:?}");
    assert_eq!(days[0].0, window.days_since_epoch() as i64);
    assert_eq!(days[3].1, None, "the start's day is not over");

    // the walk: every event of the window up to the clock, in keyset order
    let mut expected = Vec::new();
    for i in 0..4 {
        let d = window.add_days(i);
        let day = engine_events(d, start);
        if i < 3 {
            assert_eq!(days[i as usize].1, Some(day.len() as i64), "count of {d}");
        }
        expected.extend(day);
    }
    assert!(expected.len() > 1000, "{} events", expected.len());
    let (walked, _) = app.walk("/v1/events?limit=997").await;
    assert_eq!(walked.len(), expected.len());
    assert_eq!(ids(&walked), ids(&expected));
    assert_eq!(walked, expected);
    // nothing past the clock
    let last = Timestamp::parse_flexible(walked.last().unwrap()["occurred_at"].as_str().unwrap());
    assert!(last.unwrap() <= start);

    // page and offset modes: totals from the days' counts, offsets across day boundaries
    let p = app.get("/v1/events?page=1&limit=10").await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(p.body["total"], expected.len() as i64);
    let per_day = days[0].1.unwrap() as usize;
    for off in [0, 5, per_day - 3, per_day, per_day + 1, expected.len() - 2] {
        let r = app.get(&format!("/v1/events?offset={off}&limit=7")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let got = r.body["data"].as_array().unwrap();
        let want = &expected[off..(off + 7).min(expected.len())];
        assert_eq!(ids(got), ids(want), "offset {off}");
    }

    // filters: bounds inside a day and across a midnight
    let lo = format!("{}T18:30:00Z", window.add_days(1));
    let hi = format!("{}T01:15:00Z", window.add_days(2));
    let (filtered, _) = app
        .walk(&format!(
            "/v1/events?limit=500&updated_at_min={lo}&updated_at_max={hi}"
        ))
        .await;
    let (lo_t, hi_t) = (
        Timestamp::parse_flexible(&lo).unwrap(),
        Timestamp::parse_flexible(&hi).unwrap(),
    );
    let want: Vec<&Value> = expected
        .iter()
        .filter(|r| {
            let t = Timestamp::parse_flexible(r["occurred_at"].as_str().unwrap()).unwrap();
            t >= lo_t && t <= hi_t
        })
        .collect();
    assert!(!want.is_empty());
    assert_eq!(filtered.iter().collect::<Vec<_>>(), want);
    let counted = app
        .get(&format!(
            "/v1/events?page=1&limit=1&created_at_min={lo}&created_at_max={hi}"
        ))
        .await;
    assert_eq!(counted.body["total"], want.len() as i64);

    // single rows: their day is in their id
    let by_id: HashMap<&str, &Value> = walked
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r))
        .collect();
    for row in walked.iter().step_by(walked.len() / 40) {
        let id = row["id"].as_str().unwrap();
        let r = app.get(&format!("/v1/events/{id}")).await;
        assert_eq!(r.status, 200, "{id}: {}", r.body);
        assert_eq!(&r.body, row);
    }
    // not served: an event after the clock, one before the window, a v4 id, not an id
    let later = engine_events(start.date(), Timestamp(start.date().succ().start().0 - 1))
        .into_iter()
        .find(|r| Timestamp::parse_flexible(r["occurred_at"].as_str().unwrap()).unwrap() > start)
        .unwrap();
    let before = engine_events(window.add_days(-1), window.start())
        .into_iter()
        .next()
        .unwrap();
    for id in [
        later["id"].as_str().unwrap(),
        before["id"].as_str().unwrap(),
        "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b",
        "not-an-id",
    ] {
        let r = app.get(&format!("/v1/events/{id}")).await;
        common::assert_problem(&r, 404, "not_found");
    }

    // the change feed renders the events' records from the same days
    let mut after = app.run.store.clock().unwrap().unwrap().pruned_seq;
    let mut seen = 0;
    loop {
        let r = app
            .get(&format!("/v1/changes?after_seq={after}&limit=1000"))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let data = r.body["data"].as_array().unwrap();
        for c in data.iter().filter(|c| c["table"] == "events") {
            let id = c["data"]["id"].as_str().expect("an event's row");
            assert_eq!(&&c["data"], by_id.get(id).expect("a served event"));
            seen += 1;
        }
        if !r.body["has_more"].as_bool().unwrap() {
            break;
        }
        after = r.body["next_after_seq"].as_i64().unwrap();
    }
    assert!(seen > 100, "{seen} event records in the feed");
    assert!(app.run.store.days_rendered() >= 4);
}
