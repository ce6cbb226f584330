//! Planting defects in a day's rows of a table: each row draws from its own stream, keyed by
//! `(seed, table, day, primary key)`, whether it gets a defect and which, so a day — or a
//! shard of it — gets the same defects whatever else is generated.

use crate::rng::{Key, Stream};
use crate::table::{LogicalType, TableDef};
use crate::time::Date;

use super::defect::{Defect, DefectKind};
use super::row::{OwnedRow, Value};

/// The stream of `row`'s dirt.
fn stream(seed: u64, table: &TableDef, day: Date, key: &str) -> Stream {
    Key::root(seed)
        .named("dirty")
        .named(table.name)
        .derive(day.days_since_epoch() as u64)
        .named(key)
        .stream()
}

fn is_key(table: &TableDef, column: usize) -> bool {
    table.primary_key.contains(&table.columns[column].name)
}

/// An enum value whose casing a cleaner can restore: all lower case (`paid`, `apple_pay`) or
/// all upper case (`EUR`, `DE`).
fn enum_casing(v: &str) -> Option<bool> {
    let letters = v.chars().any(|c| c.is_ascii_alphabetic());
    if !letters {
        return None;
    }
    if v.chars()
        .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
    {
        Some(false)
    } else if v
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        Some(true)
    } else {
        None
    }
}

/// The columns of `row` a kind could change (empty: the kind does not apply).
fn candidates(table: &TableDef, row: &OwnedRow, kind: DefectKind) -> Vec<usize> {
    let cols = table.columns.iter().enumerate();
    match kind {
        DefectKind::ExactDuplicate => vec![usize::MAX],
        DefectKind::Orphan => match table.parent {
            Some(p) => cols
                .filter(|(_, c)| c.name == p.column)
                .map(|(i, _)| i)
                .collect(),
            None => Vec::new(),
        },
        DefectKind::NearDuplicate => cols
            .filter(|(i, c)| {
                !is_key(table, *i)
                    && c.name != "email"
                    && matches!(&row.0[*i], Value::Text(s) if !s.is_empty())
            })
            .map(|(i, _)| i)
            .collect(),
        DefectKind::Null => cols
            .filter(|(i, c)| c.nullable && row.0[*i] != Value::Null)
            .map(|(i, _)| i)
            .collect(),
        DefectKind::MalformedEmail => cols
            .filter(|(i, c)| {
                c.name == "email" && matches!(&row.0[*i], Value::Text(s) if s.contains('@'))
            })
            .map(|(i, _)| i)
            .collect(),
        DefectKind::EnumCase => cols
            .filter(|(i, _)| {
                !is_key(table, *i)
                    && matches!(row.0[*i], Value::Label(s) if enum_casing(s).is_some())
            })
            .map(|(i, _)| i)
            .collect(),
        DefectKind::AmountInCents => cols
            .filter(|(i, c)| {
                matches!(c.ty, LogicalType::Decimal { .. })
                    && matches!(row.0[*i], Value::Decimal(u) if u != 0)
            })
            .map(|(i, _)| i)
            .collect(),
        DefectKind::MixedTimestamp | DefectKind::Latin1Encoding | DefectKind::Utf8Bom => Vec::new(),
    }
}

fn pick<T: Copy>(s: &mut Stream, items: &[T]) -> T {
    items[s.range_inclusive(0, items.len() as i64 - 1) as usize]
}

/// Plants defects in `rows` (a day's extract of `table`, or a shard of it): returns the rows
/// to write, in order, and appends what was planted to `defects`.
pub fn plant(
    seed: u64,
    rate: f64,
    table: &'static TableDef,
    day: Date,
    rows: Vec<OwnedRow>,
    defects: &mut Vec<Defect>,
) -> Vec<OwnedRow> {
    let mut out = Vec::with_capacity(rows.len() + rows.len() / 16);
    for mut row in rows {
        let key = row.key(table);
        let mut s = stream(seed, table, day, &key);
        if !s.chance(rate) {
            out.push(row);
            continue;
        }
        let kinds: Vec<(DefectKind, Vec<usize>)> = DefectKind::ALL
            .into_iter()
            .map(|k| (k, candidates(table, &row, k)))
            .filter(|(_, c)| !c.is_empty())
            .collect();
        let (kind, columns) = kinds[s.range_inclusive(0, kinds.len() as i64 - 1) as usize].clone();
        let defect = |key: String, column: Option<usize>, clean: Option<String>, dirty| Defect {
            table: table.name,
            day,
            key,
            column: column.map(|c| table.columns[c].name),
            kind,
            clean,
            dirty,
        };
        let render = |row: &OwnedRow, c: usize| row.0[c].render(table.columns[c].ty);
        match kind {
            DefectKind::ExactDuplicate => {
                defects.push(defect(key, None, None, None));
                out.push(row.clone());
                out.push(row);
            }
            DefectKind::Orphan => {
                let c = columns[0];
                let mut orphan = row.clone();
                let parent = s.uuid_v4();
                orphan.0[c] = match orphan.0[c] {
                    Value::HexUuid(_) => Value::HexUuid(parent),
                    _ => Value::Uuid(parent),
                };
                defects.push(defect(orphan.key(table), None, None, None));
                out.push(row);
                out.push(orphan);
            }
            DefectKind::NearDuplicate => {
                let c = pick(&mut s, &columns);
                let clean = render(&row, c);
                let mut copy = row.clone();
                if let Value::Text(t) = &mut copy.0[c] {
                    t.push_str(if s.chance(0.5) { " " } else { "  " });
                }
                defects.push(defect(key, Some(c), clean, render(&copy, c)));
                out.push(row);
                out.push(copy);
            }
            DefectKind::Null => {
                let c = pick(&mut s, &columns);
                defects.push(defect(key, Some(c), render(&row, c), None));
                row.0[c] = Value::Null;
                out.push(row);
            }
            DefectKind::MalformedEmail => {
                let c = columns[0];
                if let Value::Text(e) = &row.0[c] {
                    let dirty = match s.range_inclusive(0, 2) {
                        0 => format!(" {} ", e.to_uppercase()),
                        1 => e.replacen('@', "@@", 1),
                        _ => e.replacen('@', " at ", 1),
                    };
                    defects.push(defect(key, Some(c), Some(e.clone()), Some(dirty.clone())));
                    row.0[c] = Value::Text(dirty);
                }
                out.push(row);
            }
            DefectKind::EnumCase => {
                let c = pick(&mut s, &columns);
                if let Value::Label(v) = row.0[c] {
                    let dirty = if enum_casing(v) == Some(true) {
                        v.to_lowercase()
                    } else if s.chance(0.5) {
                        v.to_uppercase()
                    } else {
                        let mut cs = v.chars();
                        cs.next()
                            .map(|f| f.to_ascii_uppercase().to_string() + cs.as_str())
                            .unwrap_or_default()
                    };
                    defects.push(defect(
                        key,
                        Some(c),
                        Some(v.to_string()),
                        Some(dirty.clone()),
                    ));
                    row.0[c] = Value::Text(dirty);
                }
                out.push(row);
            }
            DefectKind::AmountInCents => {
                for c in columns {
                    let clean = render(&row, c);
                    if let Value::Decimal(u) = &mut row.0[c] {
                        *u *= 100;
                    }
                    defects.push(defect(key.clone(), Some(c), clean, render(&row, c)));
                }
                out.push(row);
            }
            // the legacy export plants these (no row has candidates for them)
            DefectKind::MixedTimestamp | DefectKind::Latin1Encoding | DefectKind::Utf8Bom => {
                out.push(row)
            }
        }
    }
    out
}
