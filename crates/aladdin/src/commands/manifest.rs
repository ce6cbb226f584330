//! `aladdin verify --dirty PROFILE --manifest SOURCE`: the defects a source actually planted,
//! read back instead of regenerated from the seed. SOURCE is a JSON Lines manifest file (the
//! `_defects/…/*.jsonl` of `generate --dirty`, or genie's `DATA_DIR/dirty-manifest.jsonl`),
//! a folder holding `_defects/` (or that folder itself), or a running genie
//! (`http://HOST:PORT`, paging through `GET /v1/dirty/manifest`).
//!
//! Both line formats share `table`, `day`, `key`, `column`, `kind`, `clean` and `dirty`;
//! genie's add `seq` (the change-feed record that served the row version) and `entry`. Genie's
//! log appends the defects of every version it served, so of genie's lines only those of a
//! row's newest version are kept (and of those, the newest entry per column and kind): the row
//! as served now, which is what a load from genie holds and what its endpoint lists.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use faux::dirty::{Defect, DefectKind, Profile};
use faux::{Date, DateRange, TableDef};
use serde::Deserialize;
use serde_json::Value;

use crate::usage::UsageError;

/// Genie's manifest endpoint, under its base URL.
const ENDPOINT: &str = "/v1/dirty/manifest";

/// Where `--manifest` reads the defects planted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestSource {
    /// A JSON Lines file.
    File(PathBuf),
    /// A `_defects` folder: `<table>/date=YYYY-MM-DD/part-<shard>.jsonl`.
    Defects(PathBuf),
    /// Genie's manifest endpoint (`http://HOST:PORT/v1/dirty/manifest`, no query).
    Genie(String),
}

const VALID: &str = "a manifest file (.jsonl), a folder holding _defects/ (what `generate --dirty --out DIR` wrote), or a genie URL http://HOST:PORT";

impl ManifestSource {
    /// The source `--manifest` names; a path that is not there, or a URL with a query, is a
    /// usage error.
    pub fn parse(s: &str) -> Result<ManifestSource, UsageError> {
        if s.starts_with("http://") || s.starts_with("https://") {
            if s.contains('?') || s.contains('#') {
                return Err(UsageError(format!(
                    "--manifest {s}: give genie's URL without a query (http://HOST:PORT or http://HOST:PORT{ENDPOINT}): verify sets the tables and pages itself"
                )));
            }
            let base = s.trim_end_matches('/');
            let url = if base.ends_with(ENDPOINT) {
                base.to_string()
            } else {
                format!("{base}{ENDPOINT}")
            };
            return Ok(ManifestSource::Genie(url));
        }
        if s.contains("://") {
            return Err(UsageError(format!(
                "--manifest {s}: not a manifest source; give {VALID}"
            )));
        }
        let path = Path::new(s);
        let meta = std::fs::metadata(path)
            .map_err(|e| UsageError(format!("--manifest {s}: {e}; give {VALID}")))?;
        if !meta.is_dir() {
            return Ok(ManifestSource::File(path.to_path_buf()));
        }
        let inner = path.join(faux_sinks::defects::DEFECTS_DIR);
        if inner.is_dir() {
            Ok(ManifestSource::Defects(inner))
        } else if path.file_name().and_then(|n| n.to_str())
            == Some(faux_sinks::defects::DEFECTS_DIR)
        {
            Ok(ManifestSource::Defects(path.to_path_buf()))
        } else {
            Err(UsageError(format!(
                "--manifest {s}: the folder holds no {}/ folder; give {VALID}",
                faux_sinks::defects::DEFECTS_DIR
            )))
        }
    }

    pub fn describe(&self) -> String {
        match self {
            ManifestSource::File(p) | ManifestSource::Defects(p) => p.display().to_string(),
            ManifestSource::Genie(url) => url.clone(),
        }
    }
}

/// One manifest line, of either format (unknown fields, such as genie's `row_id`, ignored).
#[derive(Debug, Clone, Deserialize)]
struct Line {
    table: String,
    day: String,
    key: String,
    column: Option<String>,
    kind: String,
    clean: Option<String>,
    dirty: Option<String>,
    /// A late file's (files and a database's raw tables).
    corrected_on: Option<String>,
    /// Genie's: the change-feed record that served the row version (0: the first fill).
    seq: Option<i64>,
    /// Genie's: the entry's position in its manifest.
    entry: Option<i64>,
}

/// A line and where it was read (`PATH line N`, `URL entry N`), for errors.
type Read = (String, Line);

/// The lines of JSON Lines `text` read from `origin` (blank lines skipped).
fn parse_lines(origin: &str, text: &str, out: &mut Vec<Read>) -> anyhow::Result<()> {
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("{origin} line {}", i + 1);
        let l: Line = serde_json::from_str(line).with_context(|| {
            format!("--manifest {at}: not a manifest line (a JSON object with table, day, key, column, kind, clean, dirty)")
        })?;
        out.push((at, l));
    }
    Ok(())
}

/// A defect's place in a row: (table, key, column, kind).
type Slot<'a> = (&'a str, &'a str, Option<&'a str>, &'a str);

/// Keeps of genie's lines (those with `seq`) only the row's newest version's, and of those
/// the newest entry per (column, kind); lines without `seq` (a file manifest) all stay.
/// Keeps the order of the lines.
fn newest_only(lines: Vec<Read>) -> Vec<Read> {
    let mut newest: HashMap<(&str, &str), i64> = HashMap::new();
    for (_, l) in &lines {
        if let Some(seq) = l.seq {
            let n = newest.entry((&l.table, &l.key)).or_insert(seq);
            *n = (*n).max(seq);
        }
    }
    // per (table, key, column, kind) of the newest version: the position of its newest entry
    let mut last: HashMap<Slot<'_>, (i64, usize)> = HashMap::new();
    for (i, (_, l)) in lines.iter().enumerate() {
        let Some(seq) = l.seq else { continue };
        if seq < newest[&(l.table.as_str(), l.key.as_str())] {
            continue;
        }
        let k = (
            l.table.as_str(),
            l.key.as_str(),
            l.column.as_deref(),
            l.kind.as_str(),
        );
        // the log's order is the serve order: a later line is newer at an equal entry
        let rank = (l.entry.unwrap_or(i64::MIN), i);
        let best = last.entry(k).or_insert(rank);
        *best = (*best).max(rank);
    }
    let keep: Vec<bool> = lines
        .iter()
        .enumerate()
        .map(|(i, (_, l))| {
            l.seq.is_none()
                || last
                    .get(&(
                        l.table.as_str(),
                        l.key.as_str(),
                        l.column.as_deref(),
                        l.kind.as_str(),
                    ))
                    .is_some_and(|&(_, at)| at == i)
        })
        .collect();
    lines
        .into_iter()
        .zip(keep)
        .filter_map(|(l, k)| k.then_some(l))
        .collect()
}

/// The defects of `lines` of the graded `tables` and days of `range` (a line of another
/// table or day is not graded); a day, kind or column that does not parse is an error naming
/// the line.
fn resolve(
    lines: Vec<Read>,
    tables: &[&'static TableDef],
    range: DateRange,
) -> anyhow::Result<Vec<Defect>> {
    let mut out = Vec::new();
    for (at, l) in newest_only(lines) {
        let Some(table) = tables.iter().find(|t| t.name == l.table) else {
            continue;
        };
        let day: Date = l
            .day
            .parse()
            .map_err(|e| anyhow::anyhow!("--manifest {at}: day {:?}: {e}", l.day))?;
        if !range.contains(day) {
            continue;
        }
        let kind: DefectKind = l
            .kind
            .parse()
            .map_err(|e| anyhow::anyhow!("--manifest {at}: {e}"))?;
        let column = match &l.column {
            None => None,
            Some(c) => match table.columns.iter().find(|col| col.name == c) {
                Some(col) => Some(col.name),
                None => {
                    let names: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
                    bail!(
                        "--manifest {at}: {c:?} is not a column of {}: its columns are {}",
                        table.name,
                        names.join(", ")
                    )
                }
            },
        };
        let corrected_on = match &l.corrected_on {
            None => None,
            Some(d) => Some(
                d.parse::<Date>()
                    .map_err(|e| anyhow::anyhow!("--manifest {at}: corrected_on {d:?}: {e}"))?,
            ),
        };
        out.push(Defect {
            table: table.name,
            day,
            key: l.key,
            column,
            kind,
            clean: l.clean,
            dirty: l.dirty,
            corrected_on,
        });
    }
    Ok(out)
}

/// The `.jsonl` files of a `_defects` folder for `tables` and the days of `range`, in
/// (table, day, shard) order: the order `generate --dirty` planted them in.
fn defects_files(
    root: &Path,
    tables: &[&'static TableDef],
    range: DateRange,
) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for t in tables {
        for day in range.days() {
            let dir = root.join(t.name).join(format!("date={day}"));
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => bail!("--manifest {}: {e}", dir.display()),
            };
            let mut day_files = Vec::new();
            for e in entries {
                let p = e
                    .with_context(|| format!("--manifest {}", dir.display()))?
                    .path();
                if p.extension().is_some_and(|x| x == "jsonl") {
                    // part-<shard>.jsonl, by shard number (part-10 after part-9)
                    let shard = p
                        .file_stem()
                        .and_then(|s| s.to_str())
                        .and_then(|s| s.strip_prefix("part-"))
                        .and_then(|n| n.parse::<u64>().ok())
                        .unwrap_or(u64::MAX);
                    day_files.push((shard, p));
                }
            }
            day_files.sort();
            files.extend(day_files.into_iter().map(|(_, p)| p));
        }
    }
    Ok(files)
}

/// What a run of `--manifest` reads: the source, genie's key, and what is graded.
pub struct Request<'a> {
    pub source: &'a ManifestSource,
    /// `--token`, else `$GENIE_API_KEY` (for a genie URL only).
    pub token: Option<String>,
    pub profile: Profile,
    pub tables: &'a [&'static TableDef],
    pub range: DateRange,
}

/// Genie's key: `--token`, else `$GENIE_API_KEY` (`env`); neither is a usage error.
pub fn genie_token(flag: Option<&str>, env: Option<&str>, url: &str) -> Result<String, UsageError> {
    flag.or(env)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            UsageError(format!(
                "--manifest {url}: genie needs an API key: give --token KEY or set GENIE_API_KEY"
            ))
        })
}

/// The defects the source planted in the graded tables and days.
pub fn load(req: &Request<'_>) -> anyhow::Result<Vec<Defect>> {
    let mut lines = Vec::new();
    match req.source {
        ManifestSource::File(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("--manifest {}: cannot read it", path.display()))?;
            parse_lines(&path.display().to_string(), &text, &mut lines)?;
        }
        ManifestSource::Defects(root) => {
            for f in defects_files(root, req.tables, req.range)? {
                let text = std::fs::read_to_string(&f)
                    .with_context(|| format!("--manifest {}: cannot read it", f.display()))?;
                parse_lines(&f.display().to_string(), &text, &mut lines)?;
            }
        }
        ManifestSource::Genie(url) => {
            let token = req
                .token
                .as_deref()
                .ok_or_else(|| UsageError(format!("--manifest {url}: no API key")))?;
            // genie serves no legacy export: ask only for its resources
            let names: Vec<&str> = req
                .tables
                .iter()
                .filter(|t| !faux::dirty::legacy::is_legacy(t))
                .map(|t| t.name)
                .collect();
            if !names.is_empty() {
                fetch(url, token, &names, req.profile, &mut lines)?;
            }
        }
    }
    resolve(lines, req.tables, req.range)
}

/// Every entry of genie's manifest of `tables`, paging with `after`.
fn fetch(
    url: &str,
    token: &str,
    tables: &[&str],
    profile: Profile,
    out: &mut Vec<Read>,
) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the HTTP client")?;
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(120))
        .build()
        .context("starting the HTTP client")?;
    rt.block_on(async {
        let mut after = 0i64;
        loop {
            let page_url = format!(
                "{url}?limit=1000&after={after}&tables={}",
                tables.join(",")
            );
            let r = client
                .get(&page_url)
                .bearer_auth(token)
                .send()
                .await
                .with_context(|| format!("--manifest {page_url}: cannot reach genie"))?;
            let status = r.status();
            let body = r
                .text()
                .await
                .with_context(|| format!("--manifest {page_url}: reading the answer"))?;
            let doc: Option<Value> = serde_json::from_str(&body).ok();
            if !status.is_success() {
                // genie answers problem+json: its detail says what was wrong
                let detail = doc
                    .as_ref()
                    .and_then(|d| d["detail"].as_str())
                    .map(str::to_string)
                    .unwrap_or_else(|| body.chars().take(300).collect());
                bail!("--manifest {page_url}: genie answered {status}: {detail}");
            }
            let Some(doc) = doc else {
                bail!("--manifest {page_url}: the answer is not JSON: {}", {
                    body.chars().take(300).collect::<String>()
                });
            };
            let served = doc["dirty"].as_str().unwrap_or("");
            if served != profile.name() {
                return Err(UsageError(match served {
                    "off" => format!(
                        "--manifest {url}: genie serves clean data (--dirty off): there is nothing to grade against"
                    ),
                    "" => format!(
                        "--manifest {page_url}: not a genie manifest page (no \"dirty\" profile)"
                    ),
                    other => format!(
                        "--manifest {url}: genie serves --dirty {other}, not --dirty {profile}: grade with --dirty {other}"
                    ),
                })
                .into());
            }
            let Some(data) = doc["data"].as_array() else {
                bail!("--manifest {page_url}: the page has no \"data\" list");
            };
            for (i, e) in data.iter().enumerate() {
                let at = format!("{page_url} entry {}", i + 1);
                let l: Line = serde_json::from_value(e.clone())
                    .with_context(|| format!("--manifest {at}: not a manifest entry"))?;
                out.push((at, l));
            }
            if doc["has_more"].as_bool() != Some(true) {
                return Ok(());
            }
            match doc["next_after"].as_i64() {
                Some(next) if next > after => after = next,
                _ => bail!(
                    "--manifest {page_url}: has_more without a next_after past {after}"
                ),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shop() -> faux::Scenario {
        faux::Scenario::by_name("ecommerce", 42).unwrap()
    }

    fn range(a: &str, b: &str) -> DateRange {
        DateRange::new(a.parse().unwrap(), b.parse().unwrap()).unwrap()
    }

    fn lines(text: &str) -> Vec<Read> {
        let mut out = Vec::new();
        parse_lines("m.jsonl", text, &mut out).unwrap();
        out
    }

    const ID: &str = "6f0e5c1e-0000-4000-8000-000000000001";

    fn file_line(day: &str, column: &str, kind: &str) -> String {
        format!(
            r#"{{"table":"orders","day":"{day}","key":"{ID}","column":"{column}","kind":"{kind}","clean":"paid","dirty":"PAID"}}"#
        )
    }

    fn genie_line(entry: i64, seq: i64, column: Option<&str>, kind: &str) -> String {
        let column = column.map_or("null".to_string(), |c| format!("\"{c}\""));
        format!(
            r#"{{"entry":{entry},"table":"orders","day":"2020-01-02","key":"{ID}","row_id":"{ID}","column":{column},"kind":"{kind}","clean":"paid","dirty":"PAID","seq":{seq}}}"#
        )
    }

    #[test]
    fn reads_the_files_line_format_and_keeps_every_line() {
        let s = shop();
        let orders = s.table("orders").unwrap();
        let text = format!(
            "{}\n{}\n\n{}\n",
            file_line("2020-01-02", "status", "enum_case"),
            // a file manifest may name a key twice: each line is a defect
            file_line("2020-01-02", "status", "enum_case"),
            r#"{"table":"orders","day":"2020-01-03","key":"k","column":null,"kind":"late_file","clean":null,"dirty":null,"corrected_on":"2020-01-05"}"#
        );
        let d = resolve(lines(&text), &[orders], range("2020-01-01", "2020-01-07")).unwrap();
        assert_eq!(d.len(), 3);
        assert_eq!(
            (d[0].table, d[0].column, d[0].kind),
            ("orders", Some("status"), DefectKind::EnumCase)
        );
        assert_eq!(d[0].day, "2020-01-02".parse::<Date>().unwrap());
        assert_eq!(d[0].clean.as_deref(), Some("paid"));
        assert_eq!(d[0].dirty.as_deref(), Some("PAID"));
        assert_eq!(d[2].kind, DefectKind::LateFile);
        assert_eq!(d[2].corrected_on, Some("2020-01-05".parse().unwrap()));
    }

    #[test]
    fn keeps_the_graded_days_and_tables_only() {
        let s = shop();
        let orders = s.table("orders").unwrap();
        let text = [
            file_line("2020-01-01", "status", "enum_case"),
            file_line("2020-01-02", "status", "enum_case"),
            file_line("2020-01-04", "status", "enum_case"),
            r#"{"table":"customers","day":"2020-01-02","key":"k","column":"email","kind":"malformed_email","clean":"a@b.c","dirty":"a at b.c"}"#.into(),
        ]
        .join("\n");
        let d = resolve(lines(&text), &[orders], range("2020-01-02", "2020-01-03")).unwrap();
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].day.to_string(), "2020-01-02");
    }

    /// Genie's log appends every version's defects: only the newest version's count, and of
    /// those the newest entry per (column, kind); an older version's defect of another column
    /// is gone with it.
    #[test]
    fn of_genies_lines_only_the_newest_version_counts() {
        let s = shop();
        let orders = s.table("orders").unwrap();
        let text = [
            genie_line(1, 0, Some("currency"), "enum_case"),
            genie_line(2, 0, Some("status"), "enum_case"),
            genie_line(9, 17, Some("status"), "enum_case"),
            genie_line(10, 17, Some("total"), "amount_in_cents"),
            // the same (column, kind) twice in one version: the newer entry
            genie_line(12, 17, Some("total"), "amount_in_cents").replace("PAID", "PAID2"),
        ]
        .join("\n");
        let d = resolve(lines(&text), &[orders], range("2020-01-01", "2020-01-07")).unwrap();
        let got: Vec<(Option<&str>, DefectKind, Option<&str>)> = d
            .iter()
            .map(|d| (d.column, d.kind, d.dirty.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some("status"), DefectKind::EnumCase, Some("PAID")),
                (Some("total"), DefectKind::AmountInCents, Some("PAID2")),
            ]
        );
        // another row is not touched by this one's versions
        let other = genie_line(3, 0, Some("currency"), "enum_case").replace(ID, "other");
        let d = resolve(
            lines(&format!("{text}\n{other}")),
            &[orders],
            range("2020-01-01", "2020-01-07"),
        )
        .unwrap();
        assert_eq!(d.len(), 3);
        assert_eq!(d[2].key, "other");
    }

    /// A row's newest version on a day after the range: its older version's defects are no
    /// longer served, so none of the row's count.
    #[test]
    fn the_newest_version_is_chosen_before_the_days_are() {
        let s = shop();
        let orders = s.table("orders").unwrap();
        let newer =
            genie_line(5, 9, Some("status"), "enum_case").replace("2020-01-02", "2020-01-09");
        let text = [genie_line(1, 0, Some("status"), "enum_case"), newer].join("\n");
        let d = resolve(lines(&text), &[orders], range("2020-01-01", "2020-01-07")).unwrap();
        assert!(d.is_empty(), "{d:?}");
    }

    #[test]
    fn a_bad_line_is_an_error_naming_the_file_and_line() {
        let s = shop();
        let orders = s.table("orders").unwrap();
        let r = range("2020-01-01", "2020-01-07");
        let mut out = Vec::new();
        let good = file_line("2020-01-02", "status", "enum_case");
        let e =
            parse_lines("m.jsonl", &format!("{good}\n{{\"table\": 1}}\n"), &mut out).unwrap_err();
        assert!(format!("{e:#}").contains("m.jsonl line 2"), "{e:#}");
        let e = parse_lines("m.jsonl", "not json\n", &mut Vec::new()).unwrap_err();
        assert!(format!("{e:#}").contains("m.jsonl line 1"), "{e:#}");

        for (bad, says) in [
            (file_line("2020-01-02", "status", "smudge"), "\"smudge\""),
            (file_line("2020-01-02", "colour", "enum_case"), "\"colour\""),
            (file_line("2020-13-02", "status", "enum_case"), "2020-13-02"),
        ] {
            let e = resolve(lines(&format!("{good}\n{bad}")), &[orders], r).unwrap_err();
            let e = format!("{e:#}");
            assert!(e.contains("m.jsonl line 2") && e.contains(says), "{e}");
        }
    }

    #[test]
    fn sources_and_usage_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = |s: &str| ManifestSource::parse(s);
        assert_eq!(
            p("http://127.0.0.1:8000").unwrap(),
            ManifestSource::Genie("http://127.0.0.1:8000/v1/dirty/manifest".into())
        );
        assert_eq!(
            p("http://h:1/v1/dirty/manifest/").unwrap(),
            ManifestSource::Genie("http://h:1/v1/dirty/manifest".into())
        );
        assert!(
            p("http://h:1/v1/dirty/manifest?after=3")
                .unwrap_err()
                .0
                .contains("query")
        );
        assert!(p("s3://bucket/x").unwrap_err().0.contains("s3://bucket/x"));
        let missing = dir.path().join("nope.jsonl");
        let e = p(missing.to_str().unwrap()).unwrap_err().0;
        assert!(
            e.contains("nope.jsonl") && e.contains("http://HOST:PORT"),
            "{e}"
        );
        // a folder: with _defects/ inside, or _defects itself; without it, an error
        let e = p(dir.path().to_str().unwrap()).unwrap_err().0;
        assert!(e.contains("_defects"), "{e}");
        let defects = dir.path().join("_defects");
        std::fs::create_dir(&defects).unwrap();
        assert_eq!(
            p(dir.path().to_str().unwrap()).unwrap(),
            ManifestSource::Defects(defects.clone())
        );
        assert_eq!(
            p(defects.to_str().unwrap()).unwrap(),
            ManifestSource::Defects(defects.clone())
        );
        let file = dir.path().join("m.jsonl");
        std::fs::write(&file, "").unwrap();
        assert_eq!(
            p(file.to_str().unwrap()).unwrap(),
            ManifestSource::File(file)
        );

        // genie's key: the flag, else the variable, else a usage error naming both
        assert_eq!(genie_token(Some("a"), Some("b"), "u").unwrap(), "a");
        assert_eq!(genie_token(None, Some("b"), "u").unwrap(), "b");
        let e = genie_token(None, Some(" "), "http://h:1").unwrap_err().0;
        assert!(
            e.contains("--token") && e.contains("GENIE_API_KEY") && e.contains("http://h:1"),
            "{e}"
        );
    }

    /// A `_defects` folder is read for the graded tables and days, in (day, shard) order.
    #[test]
    fn a_defects_folder_is_read_by_table_day_and_shard() {
        let s = shop();
        let orders = s.table("orders").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let write = |day: &str, shard: u32, column: &str| {
            let d = dir.path().join(format!("_defects/orders/date={day}"));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(
                d.join(format!("part-{shard}.jsonl")),
                file_line(day, column, "enum_case") + "\n",
            )
            .unwrap();
        };
        write("2020-01-02", 10, "currency");
        write("2020-01-02", 9, "status");
        write("2020-01-01", 0, "status");
        write("2020-01-08", 0, "status");
        let source = ManifestSource::parse(dir.path().to_str().unwrap()).unwrap();
        let d = load(&Request {
            source: &source,
            token: None,
            profile: Profile::Realistic,
            tables: &[orders],
            range: range("2020-01-01", "2020-01-07"),
        })
        .unwrap();
        let got: Vec<(String, Option<&str>)> =
            d.iter().map(|d| (d.day.to_string(), d.column)).collect();
        assert_eq!(
            got,
            vec![
                ("2020-01-01".into(), Some("status")),
                ("2020-01-02".into(), Some("status")),
                ("2020-01-02".into(), Some("currency")),
            ]
        );
    }
}
