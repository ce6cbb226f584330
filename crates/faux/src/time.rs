//! Calendar days and UTC timestamps, with exact integer arithmetic.
//!
//! Generation never reads the wall clock: every date it sees is passed in. Civil-date
//! conversion uses Howard Hinnant's `days_from_civil` / `civil_from_days` algorithms, valid for
//! the proleptic Gregorian calendar; Faux accepts years 1900–9999.

use std::fmt;
use std::str::FromStr;

/// A calendar day, stored as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i32);

/// Why a date could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid date {input:?}: {reason} (expected YYYY-MM-DD, e.g. 2025-03-31)")]
pub struct DateError {
    pub input: String,
    pub reason: &'static str,
}

pub const MIN_YEAR: i32 = 1900;
pub const MAX_YEAR: i32 = 9999;

const fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

const fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

impl Date {
    /// The date for a valid year, month (1–12) and day; `None` otherwise.
    pub const fn from_ymd(y: i32, m: u32, d: u32) -> Option<Date> {
        if y < MIN_YEAR || y > MAX_YEAR || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m) {
            return None;
        }
        let y = if m <= 2 { y - 1 } else { y };
        let era = if y >= 0 { y } else { y - 399 } / 400;
        let yoe = (y - era * 400) as u32;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Some(Date(era * 146_097 + doe as i32 - 719_468))
    }

    pub const fn from_days_since_epoch(days: i32) -> Date {
        Date(days)
    }

    pub const fn days_since_epoch(self) -> i32 {
        self.0
    }

    /// (year, month, day).
    pub const fn ymd(self) -> (i32, u32, u32) {
        let z = self.0 + 719_468;
        let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
        let doe = (z - era * 146_097) as u32;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe as i32 + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        (if m <= 2 { y + 1 } else { y }, m, d)
    }

    pub const fn year(self) -> i32 {
        self.ymd().0
    }

    /// Day of the year, 1 on January 1st (Python's `tm_yday`).
    pub fn day_of_year(self) -> u32 {
        let jan1 = Date::from_ymd(self.year(), 1, 1).expect("year in range");
        (self.0 - jan1.0) as u32 + 1
    }

    /// ISO weekday: Monday = 0 … Sunday = 6.
    pub const fn weekday(self) -> u32 {
        // 1970-01-01 was a Thursday (3)
        (self.0 + 3).rem_euclid(7) as u32
    }

    pub const fn succ(self) -> Date {
        Date(self.0 + 1)
    }

    pub const fn add_days(self, n: i32) -> Date {
        Date(self.0 + n)
    }

    /// Days from `self` to `other` (negative if `other` is earlier).
    pub const fn days_until(self, other: Date) -> i32 {
        other.0 - self.0
    }

    /// The first second of the day, UTC.
    pub const fn start(self) -> Timestamp {
        Timestamp(self.0 as i64 * 86_400)
    }

    /// `YYYY-MM-DD` as ASCII bytes.
    pub fn iso(self) -> [u8; 10] {
        let (y, m, d) = self.ymd();
        let mut out = *b"0000-00-00";
        let y = y as u32;
        out[0] = b'0' + (y / 1000 % 10) as u8;
        out[1] = b'0' + (y / 100 % 10) as u8;
        out[2] = b'0' + (y / 10 % 10) as u8;
        out[3] = b'0' + (y % 10) as u8;
        out[5] = b'0' + (m / 10) as u8;
        out[6] = b'0' + (m % 10) as u8;
        out[8] = b'0' + (d / 10) as u8;
        out[9] = b'0' + (d % 10) as u8;
        out
    }
}

impl FromStr for Date {
    type Err = DateError;

    /// Strict `YYYY-MM-DD`.
    fn from_str(s: &str) -> Result<Date, DateError> {
        let err = |reason| DateError {
            input: s.to_string(),
            reason,
        };
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(err("not in YYYY-MM-DD form"));
        }
        let num = |r: std::ops::Range<usize>| -> Result<u32, DateError> {
            b[r].iter().try_fold(0u32, |acc, &c| {
                if c.is_ascii_digit() {
                    Ok(acc * 10 + (c - b'0') as u32)
                } else {
                    Err(err("not in YYYY-MM-DD form"))
                }
            })
        };
        let (y, m, d) = (num(0..4)? as i32, num(5..7)?, num(8..10)?);
        if !(MIN_YEAR..=MAX_YEAR).contains(&y) {
            return Err(err("year must be between 1900 and 9999"));
        }
        if !(1..=12).contains(&m) {
            return Err(err("month must be 01–12"));
        }
        Date::from_ymd(y, m, d).ok_or_else(|| err("no such day in that month"))
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::str::from_utf8(&self.iso()).unwrap_or_default())
    }
}

/// An instant, in whole seconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const fn date(self) -> Date {
        Date(self.0.div_euclid(86_400) as i32)
    }

    pub const fn seconds(self) -> i64 {
        self.0
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` as ASCII bytes.
    pub fn rfc3339(self) -> [u8; 20] {
        self.rfc3339_on(self.date().iso())
    }

    /// [`Timestamp::rfc3339`] given its date's [`Date::iso`] (which a writer of many times
    /// of one day can remember).
    #[inline(always)]
    pub fn rfc3339_on(self, date_iso: [u8; 10]) -> [u8; 20] {
        let mut out = *b"0000-00-00T00:00:00Z";
        out[..10].copy_from_slice(&date_iso);
        let s = self.0.rem_euclid(86_400) as u32;
        let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
        for (i, v) in [(11, h), (14, m), (17, sec)] {
            out[i] = b'0' + (v / 10) as u8;
            out[i + 1] = b'0' + (v % 10) as u8;
        }
        out
    }
}

/// Why an instant could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
// what a date alone means (its first or its last second) depends on the caller, which says so
#[error(
    "invalid time {input:?}: expected RFC 3339 (2025-03-31T12:00:00Z), a date (2025-03-31) or epoch seconds"
)]
pub struct TimestampError {
    pub input: String,
}

impl Timestamp {
    /// Parses RFC 3339 (`Z` or `±HH:MM`, fractions of a second dropped), a date (its last
    /// second), or epoch seconds.
    pub fn parse_flexible(s: &str) -> Result<Timestamp, TimestampError> {
        let err = || TimestampError {
            input: s.to_string(),
        };
        let t = s.trim();
        if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) && t.len() <= 12 {
            return t.parse::<i64>().map(Timestamp).map_err(|_| err());
        }
        if t.len() == 10 {
            let d: Date = t.parse().map_err(|_| err())?;
            return Ok(Timestamp(d.start().0 + 86_399));
        }
        let b = t.as_bytes();
        if b.len() < 20 || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
            return Err(err());
        }
        let d: Date = t[..10].parse().map_err(|_| err())?;
        let num = |r: std::ops::Range<usize>| {
            t.get(r).and_then(|x| x.parse::<i64>().ok()).ok_or_else(err)
        };
        let (h, m, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if h > 23 || m > 59 || sec > 60 {
            return Err(err());
        }
        let mut rest = &t[19..];
        if let Some(frac) = rest.strip_prefix('.') {
            let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(err());
            }
            rest = &frac[digits..];
        }
        let offset = match rest {
            "Z" | "z" => 0,
            _ if rest.len() == 6
                && (rest.starts_with('+') || rest.starts_with('-'))
                && &rest[3..4] == ":" =>
            {
                let oh: i64 = rest[1..3].parse().map_err(|_| err())?;
                let om: i64 = rest[4..6].parse().map_err(|_| err())?;
                // RFC 3339's time-offset: hours 00-23, minutes 00-59
                if !(0..=23).contains(&oh) || !(0..=59).contains(&om) {
                    return Err(err());
                }
                let o = oh * 3600 + om * 60;
                if rest.starts_with('-') { -o } else { o }
            }
            _ => return Err(err()),
        };
        Ok(Timestamp(
            d.start().0 + h * 3600 + m * 60 + sec.min(59) - offset,
        ))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::str::from_utf8(&self.rfc3339()).unwrap_or_default())
    }
}

/// An inclusive range of days, never empty: its last day is on or after its first. Every
/// range a user gives (`--from/--to`, a load, a verify) is validated once, here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateRange {
    first: Date,
    last: Date,
}

/// A range that would end before it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{last} is before {first}: a range of days ends on or after its first day")]
pub struct DateRangeError {
    pub first: Date,
    pub last: Date,
}

impl DateRange {
    pub fn new(first: Date, last: Date) -> Result<DateRange, DateRangeError> {
        if last < first {
            return Err(DateRangeError { first, last });
        }
        Ok(DateRange { first, last })
    }

    /// The range of one day.
    pub const fn day(day: Date) -> DateRange {
        DateRange {
            first: day,
            last: day,
        }
    }

    pub const fn first(self) -> Date {
        self.first
    }

    pub const fn last(self) -> Date {
        self.last
    }

    /// How many days it holds (at least one).
    pub fn day_count(self) -> usize {
        self.first.days_until(self.last) as usize + 1
    }

    /// Its days, in order.
    pub fn days(self) -> impl Iterator<Item = Date> {
        (0..self.day_count() as i32).map(move |i| self.first.add_days(i))
    }

    pub fn contains(self, day: Date) -> bool {
        self.first <= day && day <= self.last
    }
}

impl std::fmt::Display for DateRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{} to {}", self.first, self.last)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_day_of_several_centuries() {
        let start = Date::from_ymd(1900, 1, 1).unwrap();
        let end = Date::from_ymd(2400, 12, 31).unwrap();
        let mut d = start;
        let mut expect = (1900, 1, 1);
        while d <= end {
            assert_eq!(d.ymd(), expect);
            let (y, m, day) = expect;
            expect = if day < days_in_month(y, m) {
                (y, m, day + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
            d = d.succ();
        }
    }

    #[test]
    fn knows_the_epoch_weekdays_and_day_of_year() {
        assert_eq!(Date::from_ymd(1970, 1, 1).unwrap().days_since_epoch(), 0);
        // 2025-03-31 was a Monday
        assert_eq!(Date::from_ymd(2025, 3, 31).unwrap().weekday(), 0);
        assert_eq!(Date::from_ymd(2024, 12, 31).unwrap().day_of_year(), 366);
        assert_eq!(Date::from_ymd(2023, 12, 31).unwrap().day_of_year(), 365);
        assert_eq!(Date::from_ymd(2024, 3, 1).unwrap().day_of_year(), 61);
    }

    #[test]
    fn parses_strictly() {
        assert_eq!(
            "2024-02-29".parse::<Date>().unwrap(),
            Date::from_ymd(2024, 2, 29).unwrap()
        );
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-1-01",
            "24-01-01",
            "2024/01/01",
            "abcd-ef-gh",
            "",
            "0999-01-01",
        ] {
            let e = bad.parse::<Date>().unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
    }

    #[test]
    fn parses_flexible_instants() {
        let p = |s| Timestamp::parse_flexible(s).map(|t| t.to_string());
        assert_eq!(p("2025-03-31T12:00:00Z").unwrap(), "2025-03-31T12:00:00Z");
        assert_eq!(
            p("2025-03-31T12:00:00.123+02:00").unwrap(),
            "2025-03-31T10:00:00Z"
        );
        assert_eq!(p("2025-03-31").unwrap(), "2025-03-31T23:59:59Z");
        assert_eq!(
            p("2025-03-31T12:00:00-23:59").unwrap(),
            "2025-04-01T11:59:00Z"
        );
        assert_eq!(p("0").unwrap(), "1970-01-01T00:00:00Z");
        for bad in [
            "2025-03-31T25:00:00Z",
            "2025-02-30",
            "yesterday",
            "2025-03-31T12:00:00",
            "2025-03-31T12:00:00+25:00",
            "2025-03-31T12:00:00-02:60",
            "-5",
            "",
        ] {
            assert!(p(bad).unwrap_err().to_string().contains(bad), "{bad}");
        }
    }

    #[test]
    fn formats_iso_and_rfc3339() {
        let d = Date::from_ymd(2025, 1, 9).unwrap();
        assert_eq!(d.to_string(), "2025-01-09");
        let t = Timestamp(d.start().0 + 3600 * 13 + 60 * 5 + 7);
        assert_eq!(t.to_string(), "2025-01-09T13:05:07Z");
        assert_eq!(t.date(), d);
    }

    #[test]
    fn ranges_are_never_empty_and_list_their_days() {
        let d = |s: &str| s.parse::<Date>().unwrap();
        let r = DateRange::new(d("2024-02-28"), d("2024-03-01")).unwrap();
        assert_eq!(r.day_count(), 3);
        assert_eq!(
            r.days().collect::<Vec<_>>(),
            [d("2024-02-28"), d("2024-02-29"), d("2024-03-01")]
        );
        assert!(r.contains(d("2024-02-29")) && !r.contains(d("2024-03-02")));
        assert_eq!(DateRange::day(d("2024-01-01")).day_count(), 1);
        let e = DateRange::new(d("2024-05-01"), d("2024-04-01")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "2024-04-01 is before 2024-05-01: a range of days ends on or after its first day"
        );
    }
}
