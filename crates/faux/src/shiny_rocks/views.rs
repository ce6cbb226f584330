//! A Shiny Rocks table's rows of a day in the extract and snapshot views, and a day's change
//! feed: rows never change after their day, so every view is the day's rows as drawn.

use crate::feed::{ChangeRecord, Op, Record, SEQ_PER_DAY, first_seq};
use crate::table::{RowSink, Shard, TableDef};
use crate::time::Date;
use crate::view::View;

use super::ShinyRocks;
use super::model::PLATFORMS;
use super::tables::{Rec, Table};

impl ShinyRocks {
    /// Writes `table`'s rows of `day` that belong to `shard`, in order, into `sink`.
    pub fn generate<S: RowSink>(
        &self,
        table: &TableDef,
        day: Date,
        shard: Shard,
        sink: &mut S,
    ) -> Result<(), S::Error> {
        // exhaustive: a table added to scenario_tables! without its rows here fails the build
        match Table::of(table).expect("a Shiny Rocks table") {
            Table::Orders => {
                let keys = self.day_keys(day);
                for i in shard.range(self.order_count(day)) {
                    sink.row(&self.order_in(&keys, day, i))?;
                }
            }
            Table::Payments => {
                let keys = self.day_keys(day);
                for i in shard.range(self.order_count(day)) {
                    let (order_id, product_id) = self.order_for_payment(&keys, i);
                    sink.row(&self.payment_in(&keys, order_id, product_id, day, i))?;
                }
            }
            Table::Services => {
                let keys = self.day_keys(day);
                for i in shard.range(self.order_count(day)) {
                    let (user_id, product_id) = self.order_for_services(&keys, i);
                    self.services_in(&keys, user_id, product_id, day, i, |s| sink.row(&s))?;
                }
            }
            Table::MarketingInvestments => {
                for p in shard.range(PLATFORMS.len() as u64) {
                    sink.row(&self.marketing_investment(day, p as usize))?;
                }
            }
        }
        Ok(())
    }

    /// [`ShinyRocks::generate`] in the extract or snapshot view. Rows never change after
    /// their day: a snapshot holds every day up to its instant's day. (The changes view is
    /// [`ShinyRocks::changes`], through [`crate::Scenario::generate`].)
    pub fn generate_view<S: RowSink>(
        &self,
        table: &'static TableDef,
        day: Date,
        shard: Shard,
        view: View,
        sink: &mut S,
    ) -> Result<(), S::Error> {
        match view {
            View::Snapshot(t) if day > t.date() => Ok(()),
            _ => self.generate(table, day, shard, sink),
        }
    }

    /// Every row of `day`, all tables, as insert change records stamped with the start of
    /// the day: a table's rows take consecutive sequence numbers from `day × 10^8 + table
    /// index × 10^7`, so the list is in sequence order.
    pub fn changes(&self, day: Date) -> Vec<ChangeRecord> {
        let ts = day.start();
        let mut out = Vec::new();
        let mut push = |table: Table, n: u64, rec: Rec| {
            out.push(ChangeRecord {
                table: table.index(),
                op: Op::Insert,
                seq: first_seq(day) + table.index() as i64 * (SEQ_PER_DAY / 10) + n as i64,
                ts,
                row: Record::ShinyRocks(rec),
            })
        };
        let keys = self.day_keys(day);
        let orders = self.order_count(day);
        for table in Table::ALL {
            match table {
                Table::Orders => {
                    for i in 0..orders {
                        push(*table, i, self.order_in(&keys, day, i).into());
                    }
                }
                Table::Payments => {
                    for i in 0..orders {
                        let (order_id, product_id) = self.order_for_payment(&keys, i);
                        let p = self.payment_in(&keys, order_id, product_id, day, i);
                        push(*table, i, p.into());
                    }
                }
                Table::Services => {
                    let mut n = 0;
                    for i in 0..orders {
                        let (user_id, product_id) = self.order_for_services(&keys, i);
                        let Ok(()) = self.services_in(&keys, user_id, product_id, day, i, |s| {
                            push(*table, n, s.into());
                            n += 1;
                            Ok::<(), std::convert::Infallible>(())
                        });
                    }
                }
                Table::MarketingInvestments => {
                    for p in 0..PLATFORMS.len() {
                        push(*table, p as u64, self.marketing_investment(day, p).into());
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Uuid;
    use crate::shiny_rocks::SERVICES_TABLE;
    use crate::shiny_rocks::tables::{ORDERS, PAYMENTS};
    use crate::table::{FieldVisitor, Row};

    /// Collects every row of a table as its CSV-like field list.
    #[derive(Default)]
    struct Rows(Vec<String>);
    impl FieldVisitor for Rows {
        fn text(&mut self, v: &str) {
            self.0.push(v.to_string());
        }
        fn hex_uuid(&mut self, v: &Uuid) {
            self.0.push(v.to_string());
        }
        fn uuid(&mut self, v: &Uuid) {
            self.0.push(v.to_string());
        }
        fn int(&mut self, v: i64) {
            self.0.push(v.to_string());
        }
        fn decimal(&mut self, v: i64) {
            self.0.push(v.to_string());
        }
        fn bool(&mut self, v: bool) {
            self.0.push(v.to_string());
        }
        fn date(&mut self, v: Date) {
            self.0.push(v.to_string());
        }
        fn timestamp(&mut self, v: crate::time::Timestamp) {
            self.0.push(format!("{v:?}"));
        }
        fn json(&mut self, v: &str) {
            self.0.push(v.to_string());
        }
        fn null(&mut self) {
            self.0.push("NULL".into());
        }
    }
    impl RowSink for Rows {
        type Error = std::convert::Infallible;
        fn row<R: Row>(&mut self, row: &R) -> Result<(), Self::Error> {
            row.visit(self);
            self.0.push("\n".into());
            Ok(())
        }
    }

    #[test]
    fn payments_and_services_read_the_same_orders_as_the_orders_table() {
        // generate() reads only the fields of an order that payments and services need;
        // they must be the fields of the full order, drawn by order()
        let g = ShinyRocks::new(9);
        let day = Date::from_ymd(2024, 3, 9).unwrap();
        let (mut payments, mut services) = (Rows::default(), Rows::default());
        g.generate(&PAYMENTS, day, Shard::ALL, &mut payments)
            .unwrap();
        g.generate(&SERVICES_TABLE, day, Shard::ALL, &mut services)
            .unwrap();
        let (mut want_payments, mut want_services) = (Rows::default(), Rows::default());
        for i in 0..g.order_count(day) {
            let order = g.order(day, i);
            want_payments.row(&g.payment(&order, i)).unwrap();
            g.services(&order, i, |s| want_services.row(&s)).unwrap();
        }
        assert_eq!(payments.0, want_payments.0);
        assert_eq!(services.0, want_services.0);
        let mut orders = Rows::default();
        g.generate(&ORDERS, day, Shard::ALL, &mut orders).unwrap();
        let ids: Vec<&String> = orders.0.chunks(6).map(|r| &r[1]).collect();
        let paid: Vec<&String> = payments.0.chunks(6).map(|r| &r[1]).collect();
        assert_eq!(ids, paid, "payment i pays order i");
        assert!(!services.0.is_empty());
    }
}
