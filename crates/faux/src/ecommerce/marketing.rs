//! The daily paid-marketing spend per channel, from the traffic model's planned spend.

use crate::time::Date;

use super::Ecommerce;
use super::tables::MarketingSpend;
use super::traffic;

impl Ecommerce {
    pub fn marketing_spend(&self, day: Date) -> Vec<MarketingSpend> {
        if !self.in_range(day) {
            return Vec::new();
        }
        let t = self.traffic.day(day);
        let (y, m, _) = day.ymd();
        let bf = traffic::black_friday(y);
        let campaign_kind = if (bf.add_days(-4)..=bf.add_days(3)).contains(&day) {
            format!("black-friday-{y}")
        } else if m == 12 {
            format!("holidays-{y}")
        } else {
            format!("always-on-{y}-{m:02}")
        };
        t.paid
            .into_iter()
            .map(|(c, spend, sessions)| {
                let ch = &self.traffic.channels[c];
                let (name, cpm) = (ch.name, ch.cost_per_mille);
                let mut s = self
                    .keys
                    .marketing
                    .derive(day.days_since_epoch() as u64)
                    .derive(c as u64)
                    .stream();
                let clicks = (sessions * (1.02 + 0.1 * s.next_f64())).round() as i64;
                let impressions = (spend as f64 / 100.0 / cpm * 1000.0 * (0.9 + 0.2 * s.next_f64()))
                    .round() as i64;
                MarketingSpend {
                    date: day,
                    channel: name,
                    campaign: format!("{name}-{campaign_kind}"),
                    spend,
                    impressions: impressions.max(clicks),
                    clicks,
                }
            })
            .collect()
    }
}
