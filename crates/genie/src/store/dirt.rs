//! Dirty data (`genie --dirty PROFILE`): each row version captured from the engine gets the
//! defects the daily extract holding it gets ([`faux::dirty::Live`]), so a warehouse loaded
//! from Genie is graded by `aladdin verify --dirty` as one loaded from files. The profile is
//! bound to the store (a restart with another one is refused). The defects of the rows as
//! served now are kept in `dirty_defects` (a row's newer version replaces its defects) and
//! served by `GET /v1/dirty/manifest`; every defect planted, in the order it was served, is
//! appended to `dirty-manifest.jsonl` in the data folder. The clickstream, not stored, is
//! planted where a day is rendered ([`super::on_read`]); its entries are written by the fill
//! ([`WindowDay`]) and the clock, which pass its rows without storing them.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use faux::dirty::{Defect, Live, OwnedRow, Profile};
use faux::{Op, Row, Scenario};
use rusqlite::types::Value;
use serde::Serialize;

use super::backend::{Arg, Conn, int, text};
use super::capture::{Pending, capture_row};
use super::schema::Resource;
use super::{Store, StoreError};

/// Where a store's resources find its dirt: one cell shared by all of them, set once the
/// profile is bound ([`Store::bind_dirty`]); empty for clean data.
pub type DirtCell = Arc<OnceLock<Dirt>>;

/// A dirty store's planter.
#[derive(Debug)]
pub struct Dirt {
    live: Live,
    scenario: Arc<Scenario>,
    /// `dirty-manifest.jsonl`, appended to.
    log: Option<Mutex<std::fs::File>>,
}

/// What the dirt added to one captured version: rows under keys of their own (an orphan,
/// abandoned cart lines: written to the resource tables, not the feed) and the defects.
#[derive(Debug, Clone, Default)]
pub struct Planted {
    pub extras: Vec<Pending>,
    pub defects: Vec<Defect>,
}

/// One entry of the manifest, as served and logged.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ManifestEntry {
    /// Position in the store's manifest (`after` pages on it).
    pub entry: i64,
    pub table: String,
    /// The day of the extract the row belongs to (its partition column's day): what
    /// `aladdin verify --dirty --from/--to` grades.
    pub day: String,
    /// The primary key as text, `|`-separated (as in `aladdin generate --dirty`'s manifest).
    pub key: String,
    /// The id in URLs (`/v1/{table}/{row_id}`).
    pub row_id: String,
    pub column: Option<String>,
    pub kind: String,
    pub clean: Option<String>,
    pub dirty: Option<String>,
    /// The change feed's record that served it (0: the store's first fill).
    pub seq: i64,
}

/// The manifest log's file name in the data folder.
pub const MANIFEST_FILE: &str = "dirty-manifest.jsonl";

const DDL: &str = "CREATE TABLE IF NOT EXISTS dirty_profile (id INTEGER PRIMARY KEY CHECK (id = 1), profile TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dirty_defects (entry {id}, \"table\" TEXT NOT NULL, day TEXT NOT NULL, key TEXT NOT NULL, \"column\" TEXT, kind TEXT NOT NULL, clean TEXT, dirty TEXT, seq BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS dirty_defects_row ON dirty_defects (\"table\", key);
";

impl Dirt {
    /// `row` of `res` (table number `table`), captured with its defects.
    pub(super) fn capture<R: Row>(
        &self,
        res: &Resource,
        table: usize,
        row: &R,
        seq: i64,
        ts: i64,
        op: Op,
    ) -> Pending {
        // a deletion adds nothing
        if op == Op::Delete {
            return capture_row(res, table, row, seq, ts, op);
        }
        if res.regenerated {
            // not stored (rendered, planted, from its day on read): only its defects count,
            // for the manifest
            let mut p = capture_row(res, table, row, seq, ts, op);
            let mut defects = Vec::new();
            if let Some(planted) = self.plant_regenerated(res, row, &p.key, p.sort, &mut defects) {
                p = capture_row(res, table, &planted, seq, ts, op);
                p.dirt = Some(Box::new(Planted {
                    extras: Vec::new(),
                    defects,
                }));
            }
            return p;
        }
        let mut defects = Vec::new();
        let rows = self.live.plant(
            &self.scenario,
            res.def,
            OwnedRow::capture(res.def, row),
            &mut defects,
        );
        let mut rows = rows.into_iter();
        let first = rows.next().expect("the row itself");
        let mut p = capture_row(res, table, &first, seq, ts, op);
        // a table known by its inserts' seq has no key of its own to add rows under
        let extras: Vec<Pending> = if res.keyless() {
            defects.retain(|d| !d.kind.adds_a_row());
            Vec::new()
        } else {
            rows.map(|r| {
                let mut e = capture_row(res, table, &r, seq, ts, Op::Insert);
                e.ts = e.sort;
                e
            })
            .collect()
        };
        if !defects.is_empty() || !extras.is_empty() {
            p.dirt = Some(Box::new(Planted { extras, defects }));
        }
        p
    }

    /// Row `key` (its `_sort` at `sort`) of a table regenerated on read (the clickstream),
    /// planted: the row as served with its defects appended to `defects`, or `None` when it
    /// is served as generated. Most rows draw nothing from their key alone and are never
    /// captured, so a day of events renders about as fast dirty as clean. The rows a defect
    /// adds are not served, as for a keyless table: a regenerated table has neither parents
    /// nor order lines, so only copies under the row's own key could come, and they never do.
    pub(super) fn plant_regenerated<R: Row>(
        &self,
        res: &Resource,
        row: &R,
        key: &str,
        sort: i64,
        defects: &mut Vec<Defect>,
    ) -> Option<OwnedRow> {
        // a regenerated table's keyset column is its partition column (it has no cursor):
        // the row's day is its extract's
        debug_assert_eq!(res.sort_col, res.def.partition);
        let day = faux::Timestamp(sort).date();
        if !self.live.may_plant(&self.scenario, res.def, day, key) {
            return None;
        }
        let start = defects.len();
        let rows = self.live.plant(
            &self.scenario,
            res.def,
            OwnedRow::capture(res.def, row),
            defects,
        );
        let mut planted = defects.split_off(start);
        planted.retain(|d| !d.kind.adds_a_row());
        if planted.is_empty() {
            return None;
        }
        defects.append(&mut planted);
        rows.into_iter().next()
    }

    fn append_log(&self, entries: &[ManifestEntry]) {
        let Some(f) = &self.log else { return };
        let mut f = f.lock().expect("manifest log");
        let mut buf = Vec::new();
        for e in entries {
            serde_json::to_writer(&mut buf, e).expect("json");
            buf.push(b'\n');
        }
        if let Err(e) = f.write_all(&buf) {
            tracing::error!(error = %e, "cannot append to {MANIFEST_FILE}");
        }
    }
}

/// The rows to write for `rows`: each followed by the rows its dirt added.
pub(super) fn with_extras(rows: &[Pending]) -> Option<Vec<Pending>> {
    rows.iter().any(|p| p.dirt.is_some()).then(|| {
        let mut out = Vec::with_capacity(rows.len() + 16);
        for p in rows {
            out.push(p.clone());
            if let Some(d) = &p.dirt {
                out.extend(d.extras.iter().cloned());
            }
        }
        out
    })
}

/// Records the defects of `written` (the versions now served, each key once) in the store's
/// manifest: a version of a table that updates replaces its row's defects.
pub(super) fn record(
    c: &mut Conn<'_>,
    resources: &[Resource],
    written: &[&Pending],
) -> Result<(), StoreError> {
    let Some(dirt) = resources.first().and_then(|r| r.dirt.get()) else {
        return Ok(());
    };
    let mut logged = Vec::new();
    for p in written {
        let res = &resources[p.table];
        if !res.insert_only && p.seq != 0 {
            c.exec(
                "DELETE FROM dirty_defects WHERE \"table\" = $1 AND key = $2",
                &[Arg::T(res.name().into()), Arg::T(p.key.replace(':', "|"))],
            )?;
        }
        let Some(planted) = &p.dirt else { continue };
        for d in &planted.defects {
            logged.push(insert(c, d, p.seq)?);
        }
    }
    dirt.append_log(&logged);
    Ok(())
}

/// Adds defect `d`, served by record `seq`, to the store's manifest.
fn insert(c: &mut Conn<'_>, d: &Defect, seq: i64) -> Result<ManifestEntry, StoreError> {
    let opt = |v: &Option<String>| v.clone().map_or(Arg::NullT, Arg::T);
    let entry = c.one_int(
        "INSERT INTO dirty_defects (\"table\", day, key, \"column\", kind, clean, dirty, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING entry",
        &[
            Arg::T(d.table.into()),
            Arg::T(d.day.to_string()),
            Arg::T(d.key.clone()),
            d.column.map_or(Arg::NullT, |c| Arg::T(c.into())),
            Arg::T(d.kind.name().into()),
            opt(&d.clean),
            opt(&d.dirty),
            Arg::I(seq),
        ],
    )?;
    Ok(entry_of(entry.unwrap_or(0), d, seq))
}

/// Counts a day of a table regenerated on read (the clickstream) for a first fill and, for a
/// dirty store, draws the defects its rows are served with ([`Dirt::plant_regenerated`], as
/// the rendering does), for the manifest: the rows themselves are not kept.
#[derive(Debug)]
pub struct WindowDay<'a> {
    res: &'a Resource,
    /// Rows with `_sort` after it are left out (the start's day is not over).
    upto: i64,
    pub rows: i64,
    pub defects: Vec<Defect>,
    key: KeySort,
}

impl<'a> WindowDay<'a> {
    pub fn new(res: &'a Resource, upto: i64) -> WindowDay<'a> {
        WindowDay {
            res,
            upto,
            rows: 0,
            defects: Vec::new(),
            key: KeySort::default(),
        }
    }
}

impl faux::RowSink for WindowDay<'_> {
    type Error = std::convert::Infallible;
    fn row<R: Row>(&mut self, row: &R) -> Result<(), Self::Error> {
        let Some(dirt) = self.res.dirt.get() else {
            self.rows += 1;
            return Ok(());
        };
        self.key = KeySort {
            key_col: self.res.pk_idx[0],
            sort_col: self.res.sort_idx,
            ..KeySort::default()
        };
        row.visit(&mut self.key);
        if self.key.sort > self.upto {
            return Ok(());
        }
        self.rows += 1;
        let key = std::mem::take(&mut self.key.key);
        dirt.plant_regenerated(self.res, row, &key, self.key.sort, &mut self.defects);
        Ok(())
    }
}

/// The id and the keyset time of a regenerated table's row, without capturing the rest.
#[derive(Debug, Default)]
struct KeySort {
    col: usize,
    key_col: usize,
    sort_col: usize,
    key: String,
    sort: i64,
}

impl KeySort {
    fn next(&mut self) -> usize {
        self.col += 1;
        self.col - 1
    }
}

impl faux::FieldVisitor for KeySort {
    fn text(&mut self, v: &str) {
        if self.next() == self.key_col {
            self.key = v.to_string();
        }
    }
    fn uuid(&mut self, v: &faux::Uuid) {
        if self.next() == self.key_col {
            self.key = String::from_utf8_lossy(&v.hyphenated()).into_owned();
        }
    }
    fn hex_uuid(&mut self, v: &faux::Uuid) {
        if self.next() == self.key_col {
            self.key = String::from_utf8_lossy(&v.hex()).into_owned();
        }
    }
    fn int(&mut self, _: i64) {
        self.next();
    }
    fn decimal(&mut self, _: i64) {
        self.next();
    }
    fn bool(&mut self, _: bool) {
        self.next();
    }
    fn date(&mut self, v: faux::Date) {
        if self.next() == self.sort_col {
            self.sort = v.start().0;
        }
    }
    fn timestamp(&mut self, v: faux::Timestamp) {
        if self.next() == self.sort_col {
            self.sort = v.0;
        }
    }
    fn json(&mut self, _: &str) {
        self.next();
    }
    fn null(&mut self) {
        self.next();
    }
}

fn entry_of(entry: i64, d: &Defect, seq: i64) -> ManifestEntry {
    ManifestEntry {
        entry,
        table: d.table.into(),
        day: d.day.to_string(),
        key: d.key.clone(),
        row_id: d.key.replace('|', ":"),
        column: d.column.map(Into::into),
        kind: d.kind.name().into(),
        clean: d.clean.clone(),
        dirty: d.dirty.clone(),
        seq,
    }
}

impl Store {
    /// Binds the dirty profile: a new store (no clock yet) takes `profile`; a filled one must
    /// have been filled with it (one filled before profiles existed is clean: `off`). With a
    /// profile other than `off`, every row captured from now on is planted, and the
    /// manifest log `log` is started afresh for a new fill.
    pub fn bind_dirty(
        &self,
        scenario: Arc<Scenario>,
        profile: Profile,
        log: Option<PathBuf>,
    ) -> Result<(), StoreError> {
        let ddl = DDL.replace(
            "{id}",
            if self.is_postgres() {
                "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
            } else {
                "INTEGER PRIMARY KEY AUTOINCREMENT"
            },
        );
        let location = self.location.clone();
        let filled = self.tx(true, |c| {
            match c {
                Conn::Sqlite(tx) => tx.execute_batch(&ddl)?,
                Conn::Pg(pg, client) => pg.batch(client, &ddl)?,
            }
            let filled = c.clock()?.is_some();
            let stored = c.select("SELECT profile FROM dirty_profile WHERE id = 1", &[])?;
            let stored = stored.first().map(|r| text(&r[0]));
            if filled && stored.as_deref().unwrap_or("off") != profile.name() {
                return Err(StoreError::DirtyMismatch {
                    location,
                    stored: stored.unwrap_or_else(|| "off".into()),
                    wanted: profile.name().into(),
                });
            }
            if !filled {
                c.exec("DELETE FROM dirty_profile", &[])?;
                c.exec("DELETE FROM dirty_defects", &[])?;
                c.exec(
                    "INSERT INTO dirty_profile (id, profile) VALUES (1, $1)",
                    &[Arg::T(profile.name().into())],
                )?;
            } else if stored.is_none() {
                c.exec(
                    "INSERT INTO dirty_profile (id, profile) VALUES (1, $1)",
                    &[Arg::T(profile.name().into())],
                )?;
            }
            Ok(filled)
        })?;
        if profile == Profile::Off {
            return Ok(());
        }
        let log = match log {
            None => None,
            Some(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(filled)
                    .write(true)
                    .truncate(!filled)
                    .open(&path)
                    .map_err(|source| StoreError::Io { path, source })?;
                Some(Mutex::new(file))
            }
        };
        let dirt = Dirt {
            live: Live::new(profile),
            scenario,
            log,
        };
        if let Some(first) = self.resources().first()
            && first.dirt.set(dirt).is_err()
        {
            panic!("a store's dirt is bound once");
        }
        Ok(())
    }

    /// Adds the defects a first fill drew for the days of the tables regenerated on read
    /// ([`WindowDay`]) to the manifest, as served by the fill (`seq` 0).
    pub fn record_window_defects(&self, defects: &[Defect]) -> Result<(), StoreError> {
        let Some(dirt) = self.resources().first().and_then(|r| r.dirt.get()) else {
            return Ok(());
        };
        if defects.is_empty() {
            return Ok(());
        }
        let logged = self.tx(true, |c| {
            defects
                .iter()
                .map(|d| insert(c, d, 0))
                .collect::<Result<Vec<_>, _>>()
        })?;
        dirt.append_log(&logged);
        Ok(())
    }

    /// The bound dirty profile (`off` for clean data).
    pub fn dirty_profile(&self) -> Profile {
        self.resources()
            .first()
            .and_then(|r| r.dirt.get())
            .map_or(Profile::Off, |d| d.live.profile())
    }

    /// Up to `limit` manifest entries after entry `after`, of the tables `only` names.
    pub fn manifest(
        &self,
        after: i64,
        limit: i64,
        only: &[String],
    ) -> Result<Vec<ManifestEntry>, StoreError> {
        if self.dirty_profile() == Profile::Off || only.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (0..only.len()).map(|i| format!("${}", i + 3)).collect();
        let sql = format!(
            "SELECT entry, \"table\", day, key, \"column\", kind, clean, dirty, seq FROM dirty_defects WHERE entry > $1 AND \"table\" IN ({}) ORDER BY entry LIMIT $2",
            marks.join(", ")
        );
        let mut args = vec![Arg::I(after), Arg::I(limit)];
        args.extend(only.iter().map(|t| Arg::T(t.clone())));
        let opt = |v: &Value| match v {
            Value::Null => None,
            v => Some(text(v)),
        };
        let rows = self.tx(false, |c| c.select(&sql, &args))?;
        Ok(rows
            .iter()
            .map(|r| ManifestEntry {
                entry: int(&r[0]),
                table: text(&r[1]),
                day: text(&r[2]),
                key: text(&r[3]),
                row_id: text(&r[3]).replace('|', ":"),
                column: opt(&r[4]),
                kind: text(&r[5]),
                clean: opt(&r[6]),
                dirty: opt(&r[7]),
                seq: int(&r[8]),
            })
            .collect())
    }
}
