//! Reading the store: pages of a resource under the list filters, single rows, an owner's
//! children, and the retained change feed — each from one snapshot, with the clock it is
//! current at.

use std::collections::HashMap;

use faux_sinks::sql::ident;
use rusqlite::types::Value;

use super::backend::{Arg, Conn, int, text};
use super::on_read::Window;
use super::schema::{Cell, Resource, render, render_into};
use super::{Store, StoreError};

/// The list filters a request gives (and a cursor carries): bounds on `updated_at` (the
/// keyset column) and `created_at`, in epoch seconds, and whether deleted rows are listed.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Filters {
    #[serde(rename = "u0", skip_serializing_if = "Option::is_none", default)]
    pub updated_min: Option<i64>,
    #[serde(rename = "u1", skip_serializing_if = "Option::is_none", default)]
    pub updated_max: Option<i64>,
    #[serde(rename = "c0", skip_serializing_if = "Option::is_none", default)]
    pub created_min: Option<i64>,
    #[serde(rename = "c1", skip_serializing_if = "Option::is_none", default)]
    pub created_max: Option<i64>,
    #[serde(rename = "d", default)]
    pub include_deleted: bool,
}

/// What a list request asks the store for.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filters: Filters,
    /// The keyset position to continue after: (`_sort`, key).
    pub after: Option<(i64, String)>,
    /// Rows to return (ask one more than a page to learn `has_more`).
    pub limit: i64,
    pub skip: i64,
    /// Whether to count the rows matching the filters (`page`/`offset` modes).
    pub total: bool,
}

/// A page of rows, read in one snapshot with the clock they are current at. The rows' JSON
/// is one buffer, comma-separated, ready to go into a response body as it is; their keys are
/// another (no allocation per row).
#[derive(Debug, Default)]
pub struct Page {
    pub json: String,
    keys: String,
    pub rows: Vec<PageRow>,
    pub as_of: i64,
    pub total: Option<i64>,
}

/// Where a page's row ends in [`Page::json`], and its keyset position (`_sort`, and its key,
/// which ends at `key_end` in the page's keys: [`Page::key`]).
#[derive(Debug, Clone)]
pub struct PageRow {
    pub end: usize,
    pub sort: i64,
    key_end: usize,
}

impl Page {
    /// An empty page read at `as_of`.
    pub fn empty(as_of: i64, total: Option<i64>) -> Page {
        Page {
            as_of,
            total,
            ..Page::default()
        }
    }

    /// The JSON of row `i`.
    pub fn row_json(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.rows[i - 1].end + 1 };
        &self.json[start..self.rows[i].end]
    }

    /// The key of row `i`.
    pub fn key(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.rows[i - 1].key_end };
        &self.keys[start..self.rows[i].key_end]
    }

    /// Adds a row whose JSON `render` appends to the buffer.
    pub fn push_with(&mut self, sort: i64, key: &str, render: impl FnOnce(&mut String)) {
        if !self.rows.is_empty() {
            self.json.push(',');
        }
        render(&mut self.json);
        self.keys.push_str(key);
        self.rows.push(PageRow {
            end: self.json.len(),
            sort,
            key_end: self.keys.len(),
        });
    }

    /// Keeps the first `n` rows.
    pub fn truncate(&mut self, n: usize) {
        if n < self.rows.len() {
            self.rows.truncate(n);
            self.json.truncate(self.rows.last().map_or(0, |r| r.end));
            self.keys
                .truncate(self.rows.last().map_or(0, |r| r.key_end));
        }
    }
}

/// One retained change.
#[derive(Debug, Clone)]
pub struct Change {
    pub seq: i64,
    pub table: String,
    pub op: String,
    pub ts: i64,
    pub key: String,
    /// The row version as JSON.
    pub row: String,
}

impl Store {
    /// How many `total` counts list requests ran (the others were remembered).
    pub fn counts_run(&self) -> usize {
        self.counts.run.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many days of time-keyed tables were regenerated for reads.
    pub fn days_rendered(&self) -> usize {
        self.on_read.days_rendered()
    }

    /// A page of a resource, and the clock, from one snapshot.
    pub fn list(&self, t: usize, q: &ListQuery) -> Result<Page, StoreError> {
        let res = &self.resources()[t];
        if res.regenerated {
            let (w, counts) = self.tx(false, |c| window(c, res, q.total))?;
            return Ok(self.on_read.list(res, t, q, w, &counts));
        }
        self.tx(false, |c| {
            let clock = c.clock()?;
            let as_of = clock.map_or(0, |s| s.reached);
            let snapshot = clock.map_or(0, |s| s.last_seq);
            let key = res.key_col();
            let mut conds: Vec<String> = Vec::new();
            let mut args: Vec<Arg> = Vec::new();
            let f = q.filters;
            if res.has_deleted && !f.include_deleted {
                conds.push("_deleted = 0".into());
            }
            for (col, op, v) in [
                ("_sort", ">=", f.updated_min),
                ("_sort", "<=", f.updated_max),
                (res.created_expr(), ">=", f.created_min),
                (res.created_expr(), "<=", f.created_max),
            ] {
                if let Some(v) = v {
                    args.push(Arg::I(v));
                    conds.push(format!("{col} {op} ${}", args.len()));
                }
            }
            let where_sql = |conds: &[String]| {
                if conds.is_empty() {
                    String::new()
                } else {
                    format!("WHERE {}", conds.join(" AND "))
                }
            };
            // a count scans every matching row (0.7 s for events): once per table, filters
            // and snapshot of the data (the last applied seq), however many pages read it
            let total = match q.total {
                false => None,
                true => match self.counts.get(t, &f, snapshot) {
                    Some(n) => Some(n),
                    None => {
                        let sql = format!(
                            "SELECT count(*) FROM {} {}",
                            ident(res.name()),
                            where_sql(&conds)
                        );
                        let n = c.one_int(&sql, &args)?.unwrap_or(0);
                        self.counts.put(t, f, snapshot, n);
                        Some(n)
                    }
                },
            };
            if let Some((s, k)) = &q.after {
                args.push(Arg::I(*s));
                args.push(Arg::T(k.clone()));
                conds.push(format!(
                    "(_sort, {key}) > (${}, ${})",
                    args.len() - 1,
                    args.len()
                ));
            }
            args.push(Arg::I(q.limit));
            args.push(Arg::I(q.skip));
            let sql = format!(
                "SELECT {}, _sort, {key} FROM {} {} ORDER BY _sort, {key} LIMIT ${} OFFSET ${}",
                res.select_cols(),
                ident(res.name()),
                where_sql(&conds),
                args.len() - 1,
                args.len()
            );
            let n = res.def.columns.len();
            let mut page = Page {
                json: String::with_capacity(q.limit.clamp(1, 1000) as usize * 64 * n),
                as_of,
                total,
                ..Page::default()
            };
            let mut int_key = itoa::Buffer::new();
            c.select_each(&sql, &args, |r| {
                let sort = match r.cell(n) {
                    Cell::Int(s) => s,
                    _ => 0,
                };
                let key = match r.cell(n + 1) {
                    Cell::Text(k) | Cell::Plain(k) => k,
                    Cell::Int(k) => int_key.format(k),
                    Cell::Null => "",
                };
                page.push_with(sort, key, |out| render_into(res, r, 0, out));
            })?;
            Ok(page)
        })
    }

    /// One row by id (as in URLs).
    pub fn get(&self, t: usize, id: &str) -> Result<Option<String>, StoreError> {
        let res = &self.resources()[t];
        if res.regenerated {
            let (w, _) = self.tx(false, |c| window(c, res, false))?;
            return Ok(self.on_read.get(res, t, id, w));
        }
        self.tx(false, |c| {
            let sql = format!(
                "SELECT {} FROM {} WHERE {} = $1",
                res.select_cols(),
                ident(res.name()),
                res.key_col()
            );
            Ok(c.select(&sql, &[Arg::T(id.into())])?
                .first()
                .map(|r| render(res, r)))
        })
    }

    /// The rows of resource `child` that belong to row `id` of its parent (`None`: no such
    /// parent row), in key order, and the clock, from one snapshot.
    pub fn children(
        &self,
        child: usize,
        id: &str,
    ) -> Result<Option<(Vec<String>, i64)>, StoreError> {
        let res = &self.resources()[child];
        let parent = res.parent.expect("a resource with a parent");
        let (owner_t, owner) = self
            .resource(parent.table)
            .expect("a parent is a table of the same scenario");
        let regenerated_owner = owner.regenerated && self.get(owner_t, id)?.is_some();
        self.tx(false, |c| {
            let as_of = c.clock()?.map_or(0, |s| s.reached);
            let exists = if owner.regenerated {
                if regenerated_owner {
                    vec![vec![]]
                } else {
                    vec![]
                }
            } else {
                c.select(
                    &format!(
                        "SELECT 1 FROM {} WHERE {} = $1",
                        ident(owner.name()),
                        owner.key_col()
                    ),
                    &[Arg::T(id.into())],
                )?
            };
            if exists.is_empty() {
                return Ok(None);
            }
            let rows = c.select(
                &format!(
                    "SELECT {} FROM {} WHERE {} = $1 ORDER BY {}",
                    res.select_cols(),
                    ident(res.name()),
                    ident(parent.column),
                    res.order_cols()
                ),
                &[Arg::T(id.into())],
            )?;
            Ok(Some((rows.iter().map(|r| render(res, r)).collect(), as_of)))
        })
    }

    /// Up to `limit` retained changes after `after`, and the clock, from one snapshot;
    /// `Err(pruned_seq)` when changes after `after` are no longer all retained.
    #[allow(clippy::type_complexity)]
    /// Up to `limit` changes after seq `after`, of the tables `only` names (all with `None`).
    pub fn changes(
        &self,
        after: i64,
        limit: i64,
        only: Option<&[String]>,
    ) -> Result<Result<(Vec<Change>, i64), i64>, StoreError> {
        let resources = self.resources();
        let mut args = vec![Arg::I(after), Arg::I(limit)];
        let mut filter = String::new();
        if let Some(tables) = only {
            let marks: Vec<String> = (0..tables.len()).map(|i| format!("${}", i + 3)).collect();
            // no table at all: an empty list matches nothing
            filter = format!(
                " AND \"table\" IN (NULL{}{})",
                if marks.is_empty() { "" } else { ", " },
                marks.join(", ")
            );
            args.extend(tables.iter().map(|t| Arg::T(t.clone())));
        }
        let sql = format!(
            "SELECT seq, \"table\", op, ts, key, row FROM changes WHERE seq > $1{filter} ORDER BY seq LIMIT $2"
        );
        let got = self.tx(false, |c| {
            let (as_of, pruned) = c.clock()?.map_or((0, 0), |s| (s.reached, s.pruned_seq));
            if after < pruned {
                return Ok(Err(pruned));
            }
            let rows = c.select(&sql, &args)?;
            let mut out: Vec<Change> = rows
                .iter()
                .map(|r| Change {
                    seq: int(&r[0]),
                    table: text(&r[1]),
                    op: text(&r[2]),
                    ts: int(&r[3]),
                    key: text(&r[4]),
                    row: text(&r[5]),
                })
                .collect();
            // inserts of insert-only tables: the version is the resource row
            for res in resources.iter().filter(|r| r.insert_only && !r.regenerated) {
                let wanted: Vec<usize> = (0..out.len())
                    .filter(|&i| out[i].table == res.name() && matches!(rows[i][5], Value::Null))
                    .collect();
                if wanted.is_empty() {
                    continue;
                }
                let mut found: HashMap<String, String> = HashMap::new();
                let key = res.key_col();
                let sql = if c.is_pg() {
                    format!(
                        "SELECT {key}, {} FROM {} WHERE {key} = ANY($1::text[])",
                        res.select_cols(),
                        ident(res.name())
                    )
                } else {
                    format!(
                        "SELECT {key}, {} FROM {} WHERE {key} = $1",
                        res.select_cols(),
                        ident(res.name())
                    )
                };
                if c.is_pg() {
                    let keys = wanted.iter().map(|&i| Some(out[i].key.clone())).collect();
                    for r in c.select(&sql, &[Arg::TArr(keys)])? {
                        found.insert(text(&r[0]), render(res, &r[1..]));
                    }
                } else {
                    for &i in &wanted {
                        for r in c.select(&sql, &[Arg::T(out[i].key.clone())])? {
                            found.insert(text(&r[0]), render(res, &r[1..]));
                        }
                    }
                }
                for i in wanted {
                    out[i].row = found.remove(&out[i].key).unwrap_or_else(|| "null".into());
                }
            }
            let windows = resources
                .iter()
                .filter(|r| r.regenerated && out.iter().any(|o| o.table == r.name()))
                .map(|r| Ok((r.name(), window(c, r, false)?.0)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok(Ok((out, as_of, windows)))
        })?;
        let (mut out, as_of, windows) = match got {
            Ok(g) => g,
            Err(pruned) => return Ok(Err(pruned)),
        };
        // inserts of time-keyed tables: rendered from their regenerated day
        for (name, w) in windows {
            let (t, res) = self.resource(name).expect("a resource");
            for o in out
                .iter_mut()
                .filter(|o| o.table == name && o.row.is_empty())
            {
                // the record is in the feed, so the row is there at its own time
                let w = Window {
                    as_of: w.as_of.max(o.ts),
                    ..w
                };
                o.row = self
                    .on_read
                    .get(res, t, &o.key, w)
                    .unwrap_or_else(|| "null".into());
            }
        }
        Ok(Ok((out, as_of)))
    }

    /// Every retained change of one table, in seq order (for tests and tools).
    pub fn change_log(&self, table: &str) -> Result<Vec<Change>, StoreError> {
        let mut after = self.clock()?.map_or(0, |c| c.pruned_seq);
        let mut out = Vec::new();
        loop {
            let page = match self.changes(after, 10_000, Some(&[table.to_string()]))? {
                Ok((p, _)) => p,
                Err(pruned) => {
                    after = pruned;
                    continue;
                }
            };
            let Some(last) = page.last() else {
                return Ok(out);
            };
            after = last.seq;
            out.extend(page.into_iter().filter(|c| c.table == table));
        }
    }

    /// The ids of a resource's rows, optionally only live ones and within a `_sort` range
    /// (for tests and tools).
    pub fn ids(
        &self,
        table: &str,
        include_deleted: bool,
        sort_range: Option<(i64, i64)>,
    ) -> Result<Vec<String>, StoreError> {
        let (t, res) = self.resource(table).expect("a resource");
        if res.regenerated {
            let (w, _) = self.tx(false, |c| window(c, res, false))?;
            return Ok(self.on_read.ids(res, t, w, sort_range));
        }
        let mut conds = Vec::new();
        if res.has_deleted && !include_deleted {
            conds.push("_deleted = 0".to_string());
        }
        if let Some((lo, hi)) = sort_range {
            conds.push(format!("_sort BETWEEN {lo} AND {hi}"));
        }
        let sql = format!(
            "SELECT {} FROM {} {}",
            res.key_col(),
            ident(table),
            if conds.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", conds.join(" AND "))
            }
        );
        self.tx(false, |c| {
            Ok(c.select(&sql, &[])?.iter().map(|r| text(&r[0])).collect())
        })
    }

    /// Rows in the change feed, and how many distinct seqs they have (for tests and tools).
    pub fn retained_changes(&self) -> Result<(i64, i64), StoreError> {
        self.tx(false, |c| {
            let r = c.select("SELECT count(*), count(DISTINCT seq) FROM changes", &[])?;
            Ok((int(&r[0][0]), int(&r[0][1])))
        })
    }
}

/// The window of time-keyed resource `res` as this snapshot sees it (the clock, the first day
/// it holds rows of) and, with `counts`, the full row counts of its finished days.
fn window(
    c: &mut Conn<'_>,
    res: &Resource,
    counts: bool,
) -> Result<(Window, HashMap<faux::Date, i64>), StoreError> {
    let as_of = c.clock()?.map_or(0, |s| s.reached);
    let name = Arg::T(res.name().into());
    let mut known = HashMap::new();
    let first = if counts {
        let rows = c.select(
            "SELECT day, rows FROM window_days WHERE resource = $1",
            &[name],
        )?;
        for r in &rows {
            if let Value::Integer(n) = r[1] {
                known.insert(day_of(int(&r[0])), n);
            }
        }
        rows.iter().map(|r| int(&r[0])).min()
    } else {
        c.one_int(
            "SELECT min(day) FROM window_days WHERE resource = $1",
            &[name],
        )?
    };
    // no day recorded yet (a store whose window starts today): the clock's day
    let from = first.map_or(faux::Timestamp(as_of).date(), day_of);
    Ok((Window { as_of, from }, known))
}

fn day_of(days_since_epoch: i64) -> faux::Date {
    faux::Date::from_days_since_epoch(days_since_epoch as i32)
}

/// Row counts of recent list requests, valid for one snapshot of the data.
#[derive(Debug, Default)]
pub(super) struct Counts {
    /// (table, filters) → (the last applied seq when counted, the count).
    known: std::sync::Mutex<HashMap<(usize, Filters), (i64, i64)>>,
    /// Counts actually run, for [`Store::counts_run`].
    run: std::sync::atomic::AtomicUsize,
}

impl Counts {
    /// Distinct (table, filters) remembered at most; beyond, the memory starts over.
    const MAX: usize = 1024;

    fn get(&self, t: usize, f: &Filters, snapshot: i64) -> Option<i64> {
        let known = self.known.lock().expect("counts");
        match known.get(&(t, *f)) {
            Some((at, n)) if *at == snapshot => Some(*n),
            _ => None,
        }
    }

    fn put(&self, t: usize, f: Filters, snapshot: i64, n: i64) {
        self.run.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut known = self.known.lock().expect("counts");
        if known.len() >= Self::MAX {
            known.clear();
        }
        known.insert((t, f), (snapshot, n));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_keeps_its_rows_apart_in_one_buffer() {
        let mut p = Page::default();
        for (i, j) in ["{\"a\":1}", "{}", "{\"b\":\"x,y\"}"].iter().enumerate() {
            p.push_with(i as i64, &format!("k{i}"), |o| o.push_str(j));
        }
        assert_eq!(p.json, "{\"a\":1},{},{\"b\":\"x,y\"}");
        assert_eq!(
            (0..3).map(|i| p.row_json(i)).collect::<Vec<_>>(),
            ["{\"a\":1}", "{}", "{\"b\":\"x,y\"}"]
        );
        p.truncate(5);
        assert_eq!(p.rows.len(), 3);
        p.truncate(2);
        assert_eq!(p.json, "{\"a\":1},{}");
        assert_eq!((p.key(0), p.key(1)), ("k0", "k1"));
        p.push_with(7, "again", |o| o.push_str("{}"));
        assert_eq!((p.key(2), p.rows[2].sort), ("again", 7));
        p.truncate(0);
        assert_eq!((p.json.as_str(), p.rows.len()), ("", 0));
    }
}
