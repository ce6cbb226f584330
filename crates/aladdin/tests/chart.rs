//! `aladdin chart`: real PNG and SVG files for each kind, the numbers they plot checked
//! against independent computations, and the same numbers whatever the source — generated in
//! memory, files in either layout, or a PostgreSQL database loaded by `aladdin generate`.

mod common;
mod shiny_rocks_support;

use std::path::Path;

use common::{aladdin, ok, read_csv, stderr};
use faux::Date;
use serde_json::Value;
use shiny_rocks_support::{roi, roi_inputs};
use test_support::pg::FreshDb;

/// Width, height and RGB pixels of a PNG, decoded by the `png` crate after checking the
/// signature and IHDR chunk by hand (so a file that only looks like a PNG to one reader fails).
fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "first chunk is IHDR");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .expect("decodable PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("PNG frame");
    assert_eq!((info.width, info.height), (w, h));
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    (w, h, buf)
}

/// How many pixels have exactly this colour.
fn pixels_of(rgb: &[u8], color: [u8; 3]) -> usize {
    rgb.chunks_exact(3).filter(|p| *p == color).count()
}

fn chart_json(args: &[&str]) -> Value {
    let out = ok(args);
    serde_json::from_slice(&out.stdout).expect("--print-data prints JSON")
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

// The bar and line colours of the charts (draw.rs), to find them in the pixels.
const COST: [u8; 3] = [230, 126, 34];
const SALES: [u8; 3] = [41, 128, 185];
const GAIN: [u8; 3] = [39, 174, 96];
const LOSS: [u8; 3] = [192, 57, 43];

#[test]
fn marketing_roi_png_and_svg_show_the_plotted_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let png_path = dir.path().join("roi.png");
    let svg_path = dir.path().join("roi.svg");
    let args = [
        "chart",
        "--kind",
        "marketing-roi",
        "--date",
        "2024-07-10",
        "--print-data",
    ];
    let data = chart_json(&[&args[..], &["--output", path(&png_path), "-q"]].concat());
    let svg_data = chart_json(&[&args[..], &["--output", path(&svg_path), "-q"]].concat());
    assert_eq!(data, svg_data, "the format does not change the numbers");

    let (w, h, rgb) = decode_png(&std::fs::read(&png_path).unwrap());
    assert_eq!((w, h), (1200, 700), "default size");
    // four cost bars, four sales bars and ROI bars of both signs (youtube loses money by design)
    for (name, color) in [
        ("cost", COST),
        ("sales", SALES),
        ("gain", GAIN),
        ("loss", LOSS),
    ] {
        assert!(pixels_of(&rgb, color) > 500, "no {name} bars drawn");
    }
    let white = pixels_of(&rgb, [255, 255, 255]);
    assert!(
        white < rgb.len() / 3 * 95 / 100,
        "the chart is nearly empty"
    );

    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains(r#"width="1200" height="700""#));
    for label in [
        "Shiny Rocks — marketing ROI by platform, 2024-07-10",
        "Marketing cost and sales",
        "ROI = (sales − cost) / cost",
        "Marketing cost",
        "Sales",
        "US dollars",
        "Marketing ROI",
        "Platform",
        "instagram",
        "amazon",
        "facebook",
        "youtube",
        "Source: generated in memory (scenario shiny-rocks, seed 42)",
    ] {
        assert!(svg.contains(label), "the SVG lacks {label:?}");
    }
    // every platform's ROI is written on its bar, rounded to two decimals
    let platforms = data["platforms"].as_array().unwrap();
    assert_eq!(platforms.len(), 4);
    for p in platforms {
        let roi = p["marketing_roi"].as_f64().unwrap();
        assert!(svg.contains(&format!("{roi:.2}")), "no ROI label for {p}");
    }
}

#[test]
fn orders_curve_png_and_svg_follow_the_generator() {
    let dir = tempfile::tempdir().unwrap();
    let png_path = dir.path().join("curve.png");
    let svg_path = dir.path().join("curve.svg");
    let range = ["--from", "2024-01-01", "--to", "2024-12-31"];
    let data = chart_json(
        &[
            &["chart", "--kind", "orders-curve", "--print-data", "-q"][..],
            &range,
            &[
                "--output",
                path(&png_path),
                "--width",
                "900",
                "--height",
                "500",
            ],
        ]
        .concat(),
    );
    ok(&[
        &["chart", "--kind", "orders-curve", "-q"][..],
        &range,
        &["-o", path(&svg_path)],
    ]
    .concat());

    // one point per day, each the original's pattern_function of the day of the year
    let days = data["days"].as_array().unwrap();
    assert_eq!(days.len(), 366, "2024 is a leap year");
    let mut total = 0;
    for d in days {
        let date: Date = d["date"].as_str().unwrap().parse().unwrap();
        let orders = d["orders"].as_u64().unwrap();
        assert_eq!(
            orders,
            faux::shiny_rocks::daily_orders(date.day_of_year()),
            "{date}"
        );
        total += orders;
    }
    assert_eq!(data["total_orders"].as_u64(), Some(total));

    let (w, h, rgb) = decode_png(&std::fs::read(&png_path).unwrap());
    assert_eq!((w, h), (900, 500), "--width and --height");
    assert!(pixels_of(&rgb, SALES) > 300, "no curve drawn");

    let svg = std::fs::read_to_string(&svg_path).unwrap();
    let max = days
        .iter()
        .map(|d| d["orders"].as_u64().unwrap())
        .max()
        .unwrap();
    for label in [
        "Shiny Rocks — daily orders, 2024-01-01 to 2024-12-31".to_string(),
        "Orders per day".into(),
        "Order date".into(),
        "Jan 2024".into(),
        "Dec 2024".into(),
        format!("highest: {},{:03}", max / 1000, max % 1000),
        "Mean: ".into(),
    ] {
        assert!(svg.contains(&label), "the SVG lacks {label:?}");
    }
}

#[test]
fn files_in_every_layout_give_the_numbers_recomputed_from_their_rows() {
    let dir = tempfile::tempdir().unwrap();
    let hive = dir.path().join("hive");
    let flat = dir.path().join("flat");
    let daily = dir.path().join("daily");
    ok(&[
        "generate",
        "--scenario",
        "shiny-rocks",
        "--from",
        "2024-07-09",
        "--to",
        "2024-07-11",
        "--layout",
        "daily",
        "--out",
        path(&daily),
        "-q",
    ]);
    ok(&[
        "generate",
        "--scenario",
        "shiny-rocks",
        "--from",
        "2024-07-08",
        "--to",
        "2024-07-12",
        "--out",
        path(&hive),
        "-q",
    ]);
    ok(&[
        "generate",
        "--scenario",
        "shiny-rocks",
        "--date",
        "2024-07-10",
        "--layout",
        "flat",
        "--out",
        path(&flat),
        "-q",
    ]);
    let out = dir.path().join("c.png");
    let roi_of = |source: &[&str]| {
        chart_json(
            &[
                &[
                    "chart",
                    "--kind",
                    "marketing-roi",
                    "--date",
                    "2024-07-10",
                    "--print-data",
                    "-q",
                    "-o",
                    path(&out),
                ][..],
                source,
            ]
            .concat(),
        )
    };
    let from_hive = roi_of(&["--from-dir", path(&hive)]);
    assert_eq!(
        from_hive,
        roi_of(&["--from-dir", path(&flat)]),
        "flat and hive layouts"
    );
    assert_eq!(
        from_hive,
        roi_of(&["--from-dir", path(&daily)]),
        "daily and hive layouts"
    );
    assert_eq!(from_hive, roi_of(&[]), "files and in-memory generation");

    // the blog's mart computed here from the flat files' rows
    let rows = |t: &str| read_csv(&flat.join(format!("{t}.csv"))).1;
    let orders: Vec<_> = rows("orders")
        .into_iter()
        .map(|r| (r[1].clone(), r[2].clone(), r[4].clone()))
        .collect();
    let payments: Vec<_> = rows("payments")
        .into_iter()
        .map(|r| (r[1].clone(), r[4].clone()))
        .collect();
    let marketing: Vec<_> = rows("marketing_investments")
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone(), r[2].clone()))
        .collect();
    let expected = roi_inputs(&orders, &payments, &marketing);
    let platforms = from_hive["platforms"].as_array().unwrap();
    assert_eq!(platforms.len(), expected.len());
    for p in platforms {
        let name = p["platform"].as_str().unwrap();
        let (cost, sales) = expected[&("2024-07-10".to_string(), name.to_string())];
        let cost = cost.expect("spend");
        assert_eq!(
            shiny_rocks_support::cents(p["marketing_cost"].as_str().unwrap()),
            cost,
            "{name}"
        );
        assert_eq!(
            shiny_rocks_support::cents(p["sales_amount"].as_str().unwrap()),
            sales,
            "{name}"
        );
        // serde_json's default float parsing may land one ulp off the printed value
        let (got, want) = (p["marketing_roi"].as_f64().unwrap(), roi(cost, sales));
        assert!(
            (got - want).abs() <= 1e-15 * want.abs().max(1.0),
            "{name}: {got} vs {want}"
        );
    }

    let curve = |source: &[&str]| {
        chart_json(
            &[
                &[
                    "chart",
                    "--kind",
                    "orders-curve",
                    "--from",
                    "2024-07-08",
                    "--to",
                    "2024-07-12",
                    "--print-data",
                    "-q",
                    "-o",
                    path(&out),
                ][..],
                source,
            ]
            .concat(),
        )
    };
    assert_eq!(curve(&["--from-dir", path(&hive)]), curve(&[]));
}

#[test]
fn chart_from_the_database_plots_the_same_numbers_as_from_files() {
    let Some(db) = FreshDb::create("chart_from_the_database") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("data");
    let days = ["--from", "2024-03-01", "--to", "2024-03-05"];
    ok(&[
        &[
            "generate",
            "--scenario",
            "shiny-rocks",
            "-q",
            "--out",
            path(&files),
        ][..],
        &days,
    ]
    .concat());
    ok(&[
        &[
            "generate",
            "--scenario",
            "shiny-rocks",
            "-q",
            "--out",
            &db.url(),
        ][..],
        &days,
    ]
    .concat());

    let out = dir.path().join("c.svg");
    let url = db.url();
    for kind in [
        &["--kind", "marketing-roi", "--date", "2024-03-03"][..],
        &[
            "--kind",
            "marketing-roi",
            "--from",
            "2024-03-01",
            "--to",
            "2024-03-05",
        ][..],
        &[
            "--kind",
            "orders-curve",
            "--from",
            "2024-03-01",
            "--to",
            "2024-03-05",
        ][..],
    ] {
        let run = |source: &[&str]| {
            chart_json(
                &[
                    &["chart", "--print-data", "-q", "-o", path(&out)][..],
                    kind,
                    source,
                ]
                .concat(),
            )
        };
        let from_files = run(&["--from-dir", path(&files)]);
        let from_db = run(&["--database-url", &url]);
        assert_eq!(from_files, from_db, "{kind:?}");
    }
    // the footer names the database, never a password
    let svg = std::fs::read_to_string(&out).unwrap();
    let footer = svg
        .lines()
        .find(|l| l.contains("Source: PostgreSQL"))
        .unwrap_or_else(|| panic!("no PostgreSQL footer in {svg}"));
    assert!(footer.contains(&db.name), "{footer}");
    assert!(footer.contains("schema public"), "{footer}");

    // days that were never loaded are an error, not a drop to zero
    let gap = aladdin(&[
        "chart",
        "--kind",
        "orders-curve",
        "--from",
        "2024-03-04",
        "--to",
        "2024-03-08",
        "--database-url",
        &url,
        "-o",
        path(&dir.path().join("gap.png")),
    ]);
    assert_eq!(gap.status.code(), Some(1));
    assert!(
        stderr(&gap).contains("orders has no rows for 2024-03-06"),
        "{}",
        stderr(&gap)
    );
    assert!(!dir.path().join("gap.png").exists());

    // without dbt's mart, --mart-schema says what to do
    let no_mart = aladdin(&[
        "chart",
        "--kind",
        "marketing-roi",
        "--date",
        "2024-03-03",
        "--database-url",
        &url,
        "--mart-schema",
        "analytics",
        "-o",
        path(&out),
    ]);
    assert_eq!(no_mart.status.code(), Some(1));
    assert!(
        stderr(&no_mart).contains("run `dbt build`"),
        "{}",
        stderr(&no_mart)
    );
}

#[test]
fn bad_requests_are_usage_errors_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.png");
    let o = path(&out);
    let missing = dir.path().join("missing");
    for (args, says) in [
        (
            vec![
                "chart",
                "--kind",
                "orders-curve",
                "--date",
                "2024-07-10",
                "-o",
                o,
            ],
            "several days",
        ),
        (
            vec!["chart", "--kind", "marketing-roi", "-o", o],
            "no days selected",
        ),
        (
            vec![
                "chart",
                "--kind",
                "marketing-roi",
                "--date",
                "2024-07-10",
                "--format",
                "svg",
                "-o",
                o,
            ],
            "does not match",
        ),
        (
            vec!["chart", "--kind", "pie", "--date", "2024-07-10", "-o", o],
            "invalid value 'pie'",
        ),
        (
            vec![
                "chart",
                "--kind",
                "marketing-roi",
                "--month",
                "2024-13",
                "-o",
                o,
            ],
            "invalid month",
        ),
        (
            vec![
                "chart",
                "--kind",
                "marketing-roi",
                "--date",
                "2024-07-10",
                "--scenario",
                "ecommerce",
                "-o",
                o,
            ],
            "shiny-rocks scenario",
        ),
        (
            vec![
                "chart",
                "--kind",
                "marketing-roi",
                "--date",
                "2024-07-10",
                "--from-dir",
                path(&missing),
                "-o",
                o,
            ],
            "not a folder",
        ),
        (
            vec![
                "chart",
                "--kind",
                "marketing-roi",
                "--date",
                "2024-07-10",
                "--database-url",
                "mysql://x/y",
                "-o",
                o,
            ],
            "--database-url: unknown scheme mysql:// in mysql://x/y; chart --database-url reads postgres://",
        ),
        (
            vec![
                "chart",
                "--kind",
                "marketing-roi",
                "--date",
                "2024-07-10",
                "--mart-schema",
                "analytics",
                "-o",
                o,
            ],
            "--database-url",
        ),
    ] {
        let run = aladdin(&args);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {}", stderr(&run));
        assert!(stderr(&run).contains(says), "{args:?}: {}", stderr(&run));
        assert!(!out.exists(), "{args:?} wrote a chart");
    }

    // a folder without the days asked for fails (exit 1) without writing either
    let data = dir.path().join("data");
    ok(&[
        "generate",
        "--scenario",
        "shiny-rocks",
        "--date",
        "2024-07-10",
        "--out",
        path(&data),
        "-q",
    ]);
    let run = aladdin(&[
        "chart",
        "--kind",
        "marketing-roi",
        "--date",
        "2024-07-11",
        "--from-dir",
        path(&data),
        "-o",
        o,
    ]);
    assert_eq!(run.status.code(), Some(1));
    assert!(
        stderr(&run).contains("has no rows for 2024-07-11"),
        "{}",
        stderr(&run)
    );
    assert!(!out.exists());
    let jsonl = dir.path().join("jsonl");
    ok(&[
        "generate",
        "--scenario",
        "shiny-rocks",
        "--date",
        "2024-07-10",
        "--format",
        "jsonl",
        "--out",
        path(&jsonl),
        "-q",
    ]);
    let run = aladdin(&[
        "chart",
        "--kind",
        "marketing-roi",
        "--date",
        "2024-07-10",
        "--from-dir",
        path(&jsonl),
        "-o",
        o,
    ]);
    // the chart reads what verify reads: JSON Lines (and Parquet) as well as CSV
    assert!(run.status.success(), "{}", stderr(&run));
    let roi_of = |dir: &Path| {
        chart_json(&[
            "chart",
            "--kind",
            "marketing-roi",
            "--date",
            "2024-07-10",
            "--print-data",
            "-q",
            "-o",
            o,
            "--from-dir",
            path(dir),
        ])
    };
    assert_eq!(roi_of(&jsonl), roi_of(&data));
}

#[test]
fn default_output_is_named_after_the_kind_and_days() {
    let dir = tempfile::tempdir().unwrap();
    let run = std::process::Command::new(common::BIN)
        .args([
            "chart",
            "--kind",
            "marketing-roi",
            "--month",
            "2024-02",
            "--format",
            "svg",
            "-q",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", stderr(&run));
    let svg = std::fs::read_to_string(dir.path().join("marketing-roi-2024-02.svg")).unwrap();
    assert!(svg.contains("marketing ROI by platform, February 2024"));
    // only the chart: the temporary file was renamed into place
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}
