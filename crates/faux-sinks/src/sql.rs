//! What the PostgreSQL and SQLite sinks share: identifier quoting, foreign keys derived from
//! the table definitions, and which tables upsert.

use faux::{Date, TableDef};

/// `name` as a quoted SQL identifier.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The quoted column names of `table`, comma-separated.
pub fn column_list(table: &TableDef) -> String {
    table
        .columns
        .iter()
        .map(|c| ident(c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The quoted primary-key columns, comma-separated.
pub fn key_list(table: &TableDef) -> String {
    table
        .primary_key
        .iter()
        .map(|c| ident(c))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether a day's rows of `table` upsert (rows change over days: keep the newest version per
/// key) or replace that day's partition (rows never change).
pub fn upserts(table: &TableDef) -> bool {
    table.cursor.is_some() && !table.primary_key.is_empty()
}

/// A foreign key: `table.column` references `parent.parent_column`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForeignKey {
    pub table: &'static TableDef,
    pub column: &'static str,
    pub parent: &'static TableDef,
    pub parent_column: &'static str,
}

impl ForeignKey {
    pub fn name(&self) -> String {
        format!("{}_{}_fkey", self.table.name, self.column)
    }

    /// The index on the referencing column: without it, every delete or key check on the
    /// parent scans the child table.
    pub fn index(&self, qualified_table: &str) -> String {
        format!(
            "CREATE INDEX IF NOT EXISTS {} ON {qualified_table} ({})",
            ident(&format!("{}_{}_idx", self.table.name, self.column)),
            ident(self.column)
        )
    }
}

/// The foreign keys among `tables`, derived from names because table definitions carry none:
/// column `C` of one table references another table whose primary key is a single column `P`
/// of the same type when `C` = `P` (`payments.order_id` → `orders.order_id`) or when `P` is
/// `id` and `C` is the parent's singular name + `_id` (`events.session_id` → `sessions.id`).
pub fn foreign_keys(tables: &[&'static TableDef]) -> Vec<ForeignKey> {
    let mut out = Vec::new();
    for &table in tables {
        for c in table.columns {
            if table.primary_key == [c.name] {
                continue;
            }
            for &parent in tables {
                if std::ptr::eq(parent, table) || parent.primary_key.len() != 1 {
                    continue;
                }
                let p = parent.primary_key[0];
                let Some(pc) = parent.column(p) else { continue };
                let singular = parent.name.strip_suffix('s').unwrap_or(parent.name);
                let named = c.name == p || (p == "id" && c.name == format!("{singular}_id"));
                if named && pc.ty == c.ty {
                    out.push(ForeignKey {
                        table,
                        column: c.name,
                        parent,
                        parent_column: p,
                    });
                }
            }
        }
    }
    out
}

/// `[start, end)` of a day as RFC 3339 literals, for partition predicates.
pub fn day_bounds(day: Date) -> (String, String) {
    (day.start().to_string(), day.succ().start().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use faux::Scenario;

    fn names(s: &str) -> Vec<String> {
        let s = Scenario::by_name(s, 1).unwrap();
        foreign_keys(s.tables())
            .iter()
            .map(|f| {
                format!(
                    "{}.{}->{}.{}",
                    f.table.name, f.column, f.parent.name, f.parent_column
                )
            })
            .collect()
    }

    #[test]
    fn foreign_keys_follow_the_naming() {
        assert_eq!(names("shiny-rocks"), ["payments.order_id->orders.order_id"]);
        let e = names("ecommerce");
        for fk in [
            "sessions.customer_id->customers.id",
            "events.session_id->sessions.id",
            "events.product_id->products.id",
            "order_items.order_id->orders.id",
            "refunds.payment_id->payments.id",
            "shipments.order_id->orders.id",
        ] {
            assert!(e.contains(&fk.to_string()), "{fk} not in {e:?}");
        }
        assert!(!e.iter().any(|f| f.starts_with("marketing_spend")));
    }
}
