//! Kingfisher's benchmark tools, run by `bench/kingfisher.sh` (release build):
//!
//! - `ingest --days N --store PATH [--database-url URL]`: the small shop's first N days of
//!   `sessions` and `events` records, encoded as the JSON messages `aladdin stream` publishes,
//!   parsed and applied to a feature store in batches of 500 as `kingfisher features` does.
//!   Only parsing and applying are timed (the simulation runs a day ahead, untimed). Prints
//!   records/s and the process's peak memory.
//! - `predict --url URL --store PATH --conns C --seconds S`: C keep-alive connections posting
//!   `{"cart_id": …}` (carts of the store, in turn) to `URL/v1/predict` for S seconds; prints
//!   requests/s and latency percentiles. Any non-200 answer aborts.
//! - `train --store PATH --registry DIR --train-days N`: one training per model kind (the
//!   logistic regression, the gradient-boosted trees, then both as `kingfisher train` does) as
//!   of the store's last record; prints the carts, wall seconds and held-out scores of each.

use std::time::{Duration, Instant};

use kingfisher::store::{Change, Location, Store};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn ingest(args: &[String]) {
    let days: i32 = arg(args, "--days").map_or(30, |d| d.parse().expect("--days N"));
    let store_path = arg(args, "--store").unwrap_or_else(|| "bench-features.db".into());
    let location = Location::new(
        std::path::Path::new(&store_path),
        arg(args, "--database-url").as_deref(),
    );
    let scenario = faux::Scenario::from_toml(
        "small-shop",
        kingfisher::run::SMALL_SHOP,
        faux::DEFAULT_SEED,
    )
    .expect("the small shop");
    let start: faux::Date = "2024-01-01".parse().unwrap();
    let mut store = Store::open_at(&location).expect("the store");
    let (mut records, mut timed) = (0u64, Duration::ZERO);
    for d in 0..days {
        // the day's messages as the broker delivers them (untimed)
        let messages: Vec<Vec<u8>> = kingfisher::run::day_changes(&scenario, start.add_days(d))
            .unwrap()
            .into_iter()
            .map(|c| {
                serde_json::to_vec(&serde_json::json!({
                    "table": c.table, "op": c.op, "seq": c.seq, "ts": c.ts, "row": c.row,
                }))
                .unwrap()
            })
            .collect();
        let t = Instant::now();
        for chunk in messages.chunks(500) {
            let batch: Vec<Change> = chunk
                .iter()
                .map(|m| serde_json::from_slice(m).expect("a change record"))
                .collect();
            store.apply(&batch).expect("applied");
        }
        timed += t.elapsed();
        records += messages.len() as u64;
    }
    let carts = store.carts().unwrap().len();
    println!(
        "ingest days={days} records={records} carts={carts} seconds={:.3} records_per_s={:.0} peak_rss_mib={:.1}",
        timed.as_secs_f64(),
        records as f64 / timed.as_secs_f64(),
        peak_rss_kib() as f64 / 1024.0
    );
}

fn predict(args: &[String]) {
    let url = arg(args, "--url").expect("--url http://host:port");
    let conns: usize = arg(args, "--conns").map_or(32, |c| c.parse().unwrap());
    let seconds: f64 = arg(args, "--seconds").map_or(10.0, |s| s.parse().unwrap());
    let store = Store::open(std::path::Path::new(
        &arg(args, "--store").expect("--store PATH"),
    ))
    .unwrap();
    let carts: Vec<String> = store
        .carts()
        .unwrap()
        .into_iter()
        .map(|c| c.cart_id)
        .collect();
    assert!(!carts.is_empty(), "the store has no carts");
    let carts = std::sync::Arc::new(carts);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (lat, wall) = rt.block_on(async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(conns)
            .build()
            .unwrap();
        let endpoint = format!("{url}/v1/predict");
        // warm-up: every connection opened once
        let warm = Instant::now() + Duration::from_secs(2);
        let run = |until: Instant, keep: bool, k: usize| {
            let client = client.clone();
            let endpoint = endpoint.clone();
            let carts = carts.clone();
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut i = k;
                while Instant::now() < until {
                    let body = format!("{{\"cart_id\":\"{}\"}}", carts[i % carts.len()]);
                    i += conns;
                    let t = Instant::now();
                    let r = client
                        .post(&endpoint)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await
                        .expect("a response");
                    let status = r.status();
                    let text = r.text().await.expect("a body");
                    assert_eq!(status, 200, "{text}");
                    if keep {
                        lat.push(t.elapsed());
                    }
                }
                lat
            })
        };
        for h in (0..conns).map(|k| run(warm, false, k)).collect::<Vec<_>>() {
            h.await.unwrap();
        }
        let t = Instant::now();
        let until = t + Duration::from_secs_f64(seconds);
        let mut all = Vec::new();
        for h in (0..conns).map(|k| run(until, true, k)).collect::<Vec<_>>() {
            all.extend(h.await.unwrap());
        }
        (all, t.elapsed())
    });
    let mut lat = lat;
    lat.sort();
    let q = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)].as_secs_f64() * 1e3;
    println!(
        "predict conns={conns} requests={} req_per_s={:.0} p50_ms={:.3} p90_ms={:.3} p99_ms={:.3} max_ms={:.3}",
        lat.len(),
        lat.len() as f64 / wall.as_secs_f64(),
        q(0.50),
        q(0.90),
        q(0.99),
        lat.last().unwrap().as_secs_f64() * 1e3
    );
}

fn train(args: &[String]) {
    use kingfisher::train::{Kind, TrainOptions};
    let store = Store::open(std::path::Path::new(
        &arg(args, "--store").expect("--store PATH"),
    ))
    .expect("the store opens");
    let registry = kingfisher::registry::Registry::new(std::path::Path::new(
        &arg(args, "--registry").expect("--registry DIR"),
    ));
    let days: u32 = arg(args, "--train-days").map_or(30, |d| d.parse().expect("--train-days N"));
    for (name, kinds) in [
        ("logistic", vec![Kind::Logistic]),
        ("boosted", vec![Kind::Boosted]),
        ("both", Vec::new()),
    ] {
        let opts = TrainOptions {
            as_of: None,
            train_days: Some(days),
            truth: None,
            kinds,
            since: None,
        };
        let t = Instant::now();
        let r = kingfisher::train::train(&store, &registry, &opts).expect("training");
        println!(
            "train kinds={name} kept={} train_days={}..{} train_carts={} seconds={:.3} holdout_log_loss={:.4} holdout_auc={:.4}",
            r.kind,
            r.training_from,
            r.training_to,
            r.train_carts,
            t.elapsed().as_secs_f64(),
            r.metrics.model.log_loss,
            r.metrics.model.auc.unwrap_or(f64::NAN)
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("ingest") => ingest(&args),
        Some("predict") => predict(&args),
        Some("train") => train(&args),
        _ => {
            eprintln!(
                "usage: kingfisher_bench ingest|predict|train [options] (see the source's header)"
            );
            std::process::exit(2);
        }
    }
}
