//! The "legacy export": the day's customers extract as an old CRM writes it — one CSV file a
//! day, in Latin-1 or in UTF-8 with a byte order mark (a keyed draw per day), with CRLF line
//! ends and its timestamps in mixed formats and zones, one format per row. Every timestamp not
//! written as RFC 3339 UTC is a `mixed_timestamp` defect (the clean value is the RFC 3339 UTC
//! text), and the file's encoding is a defect of the whole file (`latin1_encoding` or
//! `utf8_bom`, keyed by the file's path; in Latin-1, a character it lacks is an XML character
//! reference). The rows are the clean customers of the day: the
//! cleaned export is graded against `customers`.

use crate::ecommerce::tables::CUSTOMERS;
use crate::rng::{Key, Stream};
use crate::scenario::Scenario;
use crate::table::{LogicalType, Shard, TableDef};
use crate::time::{Date, Timestamp};

use super::defect::{Defect, DefectKind};
use super::profile::Profile;
use super::row::Value;

/// The legacy export's name (its folder, its manifest table): the customers' columns.
pub static LEGACY_CUSTOMERS: TableDef = TableDef {
    name: "legacy_customers_export",
    description: "The day's customers as an old CRM exports them: Latin-1 or UTF-8 with a BOM, timestamps in mixed formats (--dirty only).",
    columns: CUSTOMERS.columns,
    primary_key: CUSTOMERS.primary_key,
    cursor: CUSTOMERS.cursor,
    partition: CUSTOMERS.partition,
    created: CUSTOMERS.created,
    parent: None,
    keep: CUSTOMERS.keep,
};

/// The export's path in an output folder, relative (`legacy_customers_export/date=D/part-0.csv`).
pub fn path(day: Date) -> String {
    format!("{}/date={day}/part-0.csv", LEGACY_CUSTOMERS.name)
}

/// Whether `table` is the legacy export.
pub fn is_legacy(table: &TableDef) -> bool {
    std::ptr::eq(table, &LEGACY_CUSTOMERS)
}

/// The scenario's customers table, when it is the shop's (the only one an export is made of).
pub fn source_table(scenario: &Scenario) -> Option<&'static TableDef> {
    scenario
        .tables()
        .iter()
        .copied()
        .find(|t| std::ptr::eq(*t, &CUSTOMERS))
}

/// One day's export: the file's bytes and the defects it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyExport {
    pub bytes: Vec<u8>,
    /// `latin1_encoding` or `utf8_bom`.
    pub encoding: DefectKind,
    pub defects: Vec<Defect>,
}

/// Named zones an old CRM prints after a US-style time, with their fixed UTC offsets in
/// minutes (standard-time abbreviations: they never change with daylight saving).
pub const ZONES: [(&str, i64); 6] = [
    ("UTC", 0),
    ("EST", -300),
    ("PST", -480),
    ("CET", 60),
    ("IST", 330),
    ("JST", 540),
];

/// Offsets an ISO value may carry, in minutes.
const OFFSETS: [i64; 5] = [60, 120, -300, 330, -180];

fn stream(seed: u64, day: Date) -> Key {
    Key::root(seed)
        .named("dirty")
        .named(LEGACY_CUSTOMERS.name)
        .derive(day.days_since_epoch() as u64)
}

/// `t` shifted by `minutes`: (date, hour, minute, second) of the wall clock there.
fn wall(t: Timestamp, minutes: i64) -> (Date, i64, i64, i64) {
    let s = t.seconds() + minutes * 60;
    let day = Date::from_days_since_epoch(s.div_euclid(86_400) as i32);
    let r = s.rem_euclid(86_400);
    (day, r / 3600, r % 3600 / 60, r % 60)
}

fn offset_text(minutes: i64) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let m = minutes.abs();
    format!("{sign}{:02}:{:02}", m / 60, m % 60)
}

/// The row's format: 0 RFC 3339 UTC (clean), 1 ISO with an offset, 2 `MM/DD/YYYY hh:mm:ss AM
/// ZONE`, 3 epoch seconds; with the offset or zone it uses.
fn format_ts(t: Timestamp, format: i64, zone: usize) -> String {
    match format {
        1 => {
            let o = OFFSETS[zone % OFFSETS.len()];
            let (d, h, m, s) = wall(t, o);
            format!("{d}T{h:02}:{m:02}:{s:02}{}", offset_text(o))
        }
        2 => {
            let (name, o) = ZONES[zone % ZONES.len()];
            let (d, h, m, s) = wall(t, o);
            let (y, mo, da) = d.ymd();
            let (h12, ampm) = match h {
                0 => (12, "AM"),
                1..=11 => (h, "AM"),
                12 => (12, "PM"),
                _ => (h - 12, "PM"),
            };
            format!("{mo:02}/{da:02}/{y} {h12:02}:{m:02}:{s:02} {ampm} {name}")
        }
        3 => t.seconds().to_string(),
        _ => t.to_string(),
    }
}

/// A CSV cell: quoted when it holds a separator, a quote or a line end.
fn cell(out: &mut String, v: &str) {
    if v.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(v);
    }
}

/// The rows of `day`'s legacy export as its cells (the timestamps in their mixed formats,
/// a null as empty text, as the CSV writes it), with the `mixed_timestamp` defects: what a
/// database load lands (a database has no file encoding). `None` when the profile is off or
/// the scenario has no shop customers.
pub fn export_rows(
    scenario: &Scenario,
    day: Date,
    profile: Profile,
) -> Option<(Vec<Vec<String>>, Vec<Defect>)> {
    if profile == Profile::Off {
        return None;
    }
    let customers = source_table(scenario)?;
    let rows = super::clean_rows(scenario, customers, day, Shard::ALL);
    let table = &LEGACY_CUSTOMERS;
    let key = stream(scenario.seed(), day);
    // the share of rows written in a legacy format grows with the profile
    let mixed = (profile.rate() * 10.0).min(0.9);
    let mut defects = Vec::new();
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let k = row.key(table);
        let mut s: Stream = key.named(&k).stream();
        let format = if s.chance(mixed) {
            s.range_inclusive(1, 3)
        } else {
            0
        };
        let zone = s.range_inclusive(0, 29) as usize;
        let mut cells = Vec::with_capacity(table.columns.len());
        for (c, v) in table.columns.iter().zip(&row.0) {
            cells.push(match (v, c.ty) {
                (Value::Timestamp(t), LogicalType::Timestamp) => {
                    let dirty = format_ts(*t, format, zone);
                    if format != 0 {
                        defects.push(Defect {
                            table: table.name,
                            day,
                            key: k.clone(),
                            column: Some(c.name),
                            kind: DefectKind::MixedTimestamp,
                            clean: Some(t.to_string()),
                            dirty: Some(dirty.clone()),
                            corrected_on: None,
                        });
                    }
                    dirty
                }
                _ => v.render(c.ty).unwrap_or_default(),
            });
        }
        out.push(cells);
    }
    Some((out, defects))
}

/// The legacy export of `day` with `profile` (`None` when the profile is off or the scenario
/// has no shop customers). The same seed, profile and day give the same bytes, whatever else
/// is generated.
pub fn export(scenario: &Scenario, day: Date, profile: Profile) -> Option<LegacyExport> {
    let (rows, mut defects) = export_rows(scenario, day, profile)?;
    let table = &LEGACY_CUSTOMERS;
    let key = stream(scenario.seed(), day);
    let mut text = String::new();
    for (i, c) in table.columns.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(c.name);
    }
    text.push_str("\r\n");
    for row in &rows {
        for (i, v) in row.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            cell(&mut text, v);
        }
        text.push_str("\r\n");
    }
    // a day's file is Latin-1 or UTF-8 with a BOM; in Latin-1 a character without a byte
    // (č, ğ) is written as an XML character reference (`&#269;`), as Python's
    // `encode('latin-1', errors='xmlcharrefreplace')` does, so a cleaning can restore it
    let latin1 = key.named("encoding").stream().chance(0.5);
    let (encoding, bytes, name) = if latin1 {
        let mut bytes = Vec::with_capacity(text.len());
        for c in text.chars() {
            match u8::try_from(c as u32) {
                Ok(b) => bytes.push(b),
                Err(_) => bytes.extend_from_slice(format!("&#{};", c as u32).as_bytes()),
            }
        }
        (DefectKind::Latin1Encoding, bytes, "ISO-8859-1")
    } else {
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        bytes.extend_from_slice(text.as_bytes());
        (DefectKind::Utf8Bom, bytes, "UTF-8 with BOM")
    };
    defects.push(Defect {
        table: table.name,
        day,
        key: path(day),
        column: None,
        kind: encoding,
        clean: Some("UTF-8".into()),
        dirty: Some(name.into()),
        corrected_on: None,
    });
    Some(LegacyExport {
        bytes,
        encoding,
        defects,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_format_names_the_same_instant() {
        // 2020-01-02T14:03:05Z
        let t = Timestamp(1_577_973_785);
        assert_eq!(format_ts(t, 0, 0), "2020-01-02T14:03:05Z");
        assert_eq!(format_ts(t, 1, 0), "2020-01-02T15:03:05+01:00");
        assert_eq!(format_ts(t, 1, 2), "2020-01-02T09:03:05-05:00");
        assert_eq!(format_ts(t, 1, 3), "2020-01-02T19:33:05+05:30");
        assert_eq!(format_ts(t, 2, 0), "01/02/2020 02:03:05 PM UTC");
        assert_eq!(format_ts(t, 2, 2), "01/02/2020 06:03:05 AM PST");
        assert_eq!(
            format_ts(Timestamp(1_577_923_200), 2, 2),
            "01/01/2020 04:00:00 PM PST"
        );
        assert_eq!(format_ts(t, 2, 5), "01/02/2020 11:03:05 PM JST");
        assert_eq!(
            format_ts(Timestamp(1_577_923_200), 2, 0),
            "01/02/2020 12:00:00 AM UTC"
        );
        assert_eq!(format_ts(t, 3, 0), "1577973785");
    }

    #[test]
    fn a_day_is_deterministic_and_records_every_legacy_value() {
        let s = Scenario::by_name("ecommerce", 7).unwrap();
        let day: Date = "2025-02-03".parse().unwrap();
        let a = export(&s, day, Profile::Nasty).unwrap();
        assert_eq!(a, export(&s, day, Profile::Nasty).unwrap());
        assert!(export(&s, day, Profile::Off).is_none());
        let text: String = match a.encoding {
            DefectKind::Latin1Encoding => a.bytes.iter().map(|&b| b as char).collect::<String>(),
            _ => {
                assert_eq!(&a.bytes[..3], b"\xEF\xBB\xBF");
                String::from_utf8(a.bytes[3..].to_vec()).unwrap()
            }
        };
        let stamps = a
            .defects
            .iter()
            .filter(|d| d.kind == DefectKind::MixedTimestamp)
            .count();
        assert!(stamps > 0);
        for d in &a.defects[..a.defects.len() - 1] {
            assert!(text.contains(d.dirty.as_deref().unwrap()), "{d:?}");
        }
        assert_eq!(a.defects.last().unwrap().kind, a.encoding);
        // both encodings occur over a few days
        let kinds: std::collections::BTreeSet<DefectKind> = (0..12)
            .map(|i| {
                export(&s, day.add_days(i), Profile::Light)
                    .unwrap()
                    .encoding
            })
            .collect();
        assert_eq!(kinds.len(), 2, "{kinds:?}");
    }
}
