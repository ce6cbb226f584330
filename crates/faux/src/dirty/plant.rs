//! Planting defects in a day's rows of a table: each row draws from its own stream, keyed by
//! `(seed, table, day, primary key)`, whether it gets a defect and which, so a day — or a
//! shard of it — gets the same defects whatever else is generated.

use std::collections::HashMap;

use crate::ecommerce::AbandonedCart;
use crate::rng::{Key, Stream, Uuid};
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
                    && c.name != "phone"
                    && matches!(&row.0[*i], Value::Text(s) if !s.is_empty())
            })
            .map(|(i, _)| i)
            .collect(),
        // not a phone: a dropped one cannot be told from a customer who gave none, so no
        // cleaning could restore it
        DefectKind::Null => cols
            .filter(|(i, c)| c.nullable && c.name != "phone" && row.0[*i] != Value::Null)
            .map(|(i, _)| i)
            .collect(),
        DefectKind::MalformedEmail => cols
            .filter(|(i, c)| {
                c.name == "email" && matches!(&row.0[*i], Value::Text(s) if s.contains('@'))
            })
            .map(|(i, _)| i)
            .collect(),
        DefectKind::MalformedPhone => cols
            .filter(|(i, c)| {
                c.name == "phone" && matches!(&row.0[*i], Value::Text(s) if s.starts_with('+'))
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
        // planted per order (abandoned lines), per partition (late files) or per file (legacy)
        DefectKind::AbandonedCartLine
        | DefectKind::LateFile
        | DefectKind::MixedTimestamp
        | DefectKind::Latin1Encoding
        | DefectKind::Utf8Bom => Vec::new(),
    }
}

/// Whether row `key` of `table`'s `day` draws a defect of its own (the first draw of its
/// stream, before any column is looked at): false for most rows, which [`plant_one`] then
/// leaves as they are unless their order has abandoned cart lines.
pub fn draws_a_defect(seed: u64, rate: f64, table: &TableDef, day: Date, key: &str) -> bool {
    stream(seed, table, day, key).chance(rate)
}

/// The columns an abandoned cart line is made of, if `table` has them (the order lines).
fn cart_line_cols(table: &TableDef) -> Option<[usize; 5]> {
    let col = |name: &str| table.columns.iter().position(|c| c.name == name);
    Some([
        col("order_id")?,
        col("line_number")?,
        col("product_id")?,
        col("quantity")?,
        col("unit_price")?,
    ])
}

/// An E.164 phone `e164` as a careless source writes it: as at home in the row's country
/// (`(030) 1234-5678`), without its `+`, with the `00` international prefix, or with an
/// extension (`+49 30 12345678 x12`). Always something else than `e164`, and always
/// something the README's recipe turns back into it, knowing the row's country.
fn malformed_phone(table: &TableDef, row: &OwnedRow, e164: &str, s: &mut Stream) -> String {
    let phones = table
        .columns
        .iter()
        .position(|c| c.name == "country")
        .and_then(|c| match row.0[c] {
            Value::Label(code) => crate::ecommerce::people::country(code),
            _ => None,
        })
        .map(|c| &c.phones)
        .filter(|p| p.split(e164).is_some());
    let style = s.range_inclusive(0, 5) as u8;
    let spaced = |prefix: &str| match phones {
        Some(p) => p.international(e164, prefix).expect("split above"),
        None => format!("{prefix}{}", &e164[1..]),
    };
    match (s.range_inclusive(0, 3), phones) {
        (0, Some(p)) => p.national(e164, style).expect("split above"),
        (0, None) | (1, _) => e164[1..].to_string(),
        (2, _) => spaced("00"),
        _ => {
            let ext = s.range_inclusive(1, 999);
            if style.is_multiple_of(2) {
                format!("{} x{ext}", spaced("+"))
            } else {
                format!("{e164} ext. {ext}")
            }
        }
    }
}

fn pick<T: Copy>(s: &mut Stream, items: &[T]) -> T {
    items[s.range_inclusive(0, items.len() as i64 - 1) as usize]
}

/// Plants defects in `rows` (a day's extract of `table`, or a shard of it): returns the rows
/// to write, in order, and appends what was planted to `defects`. `carts`: for the order
/// lines, what each order's session added to its cart and did not buy (else empty).
pub fn plant(
    seed: u64,
    rate: f64,
    table: &'static TableDef,
    day: Date,
    rows: Vec<OwnedRow>,
    carts: &[AbandonedCart],
    defects: &mut Vec<Defect>,
) -> Vec<OwnedRow> {
    let mut out = Vec::with_capacity(rows.len() + rows.len() / 16);
    let carts: HashMap<Uuid, &AbandonedCart> = carts.iter().map(|c| (c.order_id, c)).collect();
    for row in rows {
        plant_one(
            seed,
            rate,
            table,
            day,
            row,
            &|id| carts.get(id).copied(),
            &mut out,
            defects,
        );
    }
    out
}

/// [`plant`] for one row, its order's cart looked up by `cart` (a row's defects depend on
/// nothing but its own stream and its order's cart): the row and what it adds go to `out`.
#[allow(clippy::too_many_arguments)]
pub fn plant_one<'c>(
    seed: u64,
    rate: f64,
    table: &'static TableDef,
    day: Date,
    row: OwnedRow,
    cart: &dyn Fn(&Uuid) -> Option<&'c AbandonedCart>,
    out: &mut Vec<OwnedRow>,
    defects: &mut Vec<Defect>,
) {
    {
        let extra = abandoned_lines(seed, rate, table, day, &row, cart);
        plant_row(seed, rate, table, day, row, out, defects);
        for line in extra {
            defects.push(Defect {
                table: table.name,
                day,
                key: line.key(table),
                column: None,
                kind: DefectKind::AbandonedCartLine,
                clean: None,
                dirty: None,
                corrected_on: None,
            });
            out.push(line);
        }
    }
}

/// The extra lines of an order's last line when its order gets the `abandoned_cart_line`
/// defect: one line per product its session added and did not buy, numbered after the
/// order's real lines (so the real lines keep their keys), drawn from the last line's own
/// stream.
fn abandoned_lines<'c>(
    seed: u64,
    rate: f64,
    table: &'static TableDef,
    day: Date,
    row: &OwnedRow,
    cart: &dyn Fn(&Uuid) -> Option<&'c AbandonedCart>,
) -> Vec<OwnedRow> {
    let Some([order, line, product, quantity, price]) = cart_line_cols(table) else {
        return Vec::new();
    };
    let (Value::Uuid(id), Value::Int(n)) = (&row.0[order], &row.0[line]) else {
        return Vec::new();
    };
    let Some(cart) = cart(id) else {
        return Vec::new();
    };
    if cart.lines.is_empty() || *n != cart.bought as i64 {
        return Vec::new();
    }
    // the order's dirt: a stream of its own (named apart from the last line's other defects)
    let mut s = Key::root(seed)
        .named("dirty")
        .named(table.name)
        .derive(day.days_since_epoch() as u64)
        .named(&row.key(table))
        .named("abandoned_cart_line")
        .stream();
    // most orders have nothing abandoned: those that have get it more often, so a profile
    // plants about as many of these as of any other kind
    if !s.chance((rate * 4.0).min(0.6)) {
        return Vec::new();
    }
    cart.lines
        .iter()
        .enumerate()
        .map(|(i, &(p, q, cents))| {
            let mut extra = row.clone();
            extra.0[line] = Value::Int(n + 1 + i as i64);
            extra.0[product] = Value::Uuid(p);
            extra.0[quantity] = Value::Int(q);
            extra.0[price] = Value::Decimal(cents);
            extra
        })
        .collect()
}

/// Plants one row's defect (or none) and writes the row and its copies to `out`.
fn plant_row(
    seed: u64,
    rate: f64,
    table: &'static TableDef,
    day: Date,
    mut row: OwnedRow,
    out: &mut Vec<OwnedRow>,
    defects: &mut Vec<Defect>,
) {
    {
        let key = row.key(table);
        let mut s = stream(seed, table, day, &key);
        if !s.chance(rate) {
            out.push(row);
            return;
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
            corrected_on: None,
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
            DefectKind::MalformedPhone => {
                let c = columns[0];
                if let Value::Text(e) = &row.0[c] {
                    let dirty = malformed_phone(table, &row, e, &mut s);
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
            // planted elsewhere (no row has candidates for them)
            DefectKind::AbandonedCartLine
            | DefectKind::LateFile
            | DefectKind::MixedTimestamp
            | DefectKind::Latin1Encoding
            | DefectKind::Utf8Bom => out.push(row),
        }
    }
}
