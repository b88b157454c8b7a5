//! The period a bulletin covers: a kind (day, week, month, custom) and
//! inclusive dates in the office's time zone, validated with messages a
//! compiler can act on, and the previous period it is compared with.

use jiff::ToSpan;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// Longest custom period: a year (366 days for leap years).
pub const MAX_DAYS: i64 = 366;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Day,
    Week,
    Month,
    Custom,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Day => "day",
            Kind::Week => "week",
            Kind::Month => "month",
            Kind::Custom => "custom",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Kind::Day => "日报",
            Kind::Week => "周报",
            Kind::Month => "月报",
            Kind::Custom => "专报",
        }
    }
}

impl std::str::FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "day" => Ok(Kind::Day),
            "week" => Ok(Kind::Week),
            "month" => Ok(Kind::Month),
            "custom" => Ok(Kind::Custom),
            other => Err(format!("kind {other:?} is not one of day, week, month, custom")),
        }
    }
}

/// Inclusive dates in the office's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub kind: Kind,
    pub from: Date,
    pub to: Date,
}

fn parse_date(field: &str, value: &str) -> Result<Date, String> {
    value
        .parse::<Date>()
        .map_err(|_| format!("{field}={value:?} is not a date; write it as YYYY-MM-DD, e.g. 2026-11-27"))
}

impl Period {
    /// Validates a requested period. `to` may be left out for a day (the
    /// same day) and a month (the month's last day).
    pub fn parse(kind: &str, from: &str, to: Option<&str>) -> Result<Period, String> {
        let kind: Kind = kind.parse()?;
        let from = parse_date("from", from)?;
        let to = match to {
            Some(t) => parse_date("to", t)?,
            None => match kind {
                Kind::Day => from,
                Kind::Month => from.last_of_month(),
                Kind::Week => from.checked_add(6.days()).map_err(|e| e.to_string())?,
                Kind::Custom => return Err("a custom period needs both from and to".into()),
            },
        };
        if to < from {
            return Err(format!(
                "to ({to}) is before from ({from}); the period runs from the first to the last day, inclusive"
            ));
        }
        let p = Period { kind, from, to };
        let days = p.days();
        match kind {
            Kind::Day if days != 1 => {
                Err(format!("a day bulletin covers one day: from and to must be equal, not {from} to {to}"))
            }
            Kind::Week if days != 7 => Err(format!(
                "a week bulletin covers 7 days (e.g. from {from} to {}); {from} to {to} is {days} days",
                from.checked_add(6.days()).unwrap_or(from)
            )),
            Kind::Month if from.day() != 1 || to != from.last_of_month() => Err(format!(
                "a month bulletin covers one calendar month: from the 1st to the last day (e.g. {} to {})",
                from.first_of_month(),
                from.last_of_month()
            )),
            Kind::Custom if days > MAX_DAYS => {
                Err(format!("a custom period may cover at most {MAX_DAYS} days; {from} to {to} is {days} days"))
            }
            _ => Ok(p),
        }
    }

    /// Number of days, counting both ends.
    pub fn days(&self) -> i64 {
        (self.to - self.from).get_days() as i64 + 1
    }

    /// The period compared with: the calendar month before for a month, else
    /// the same number of days just before.
    pub fn previous(&self) -> Period {
        if self.kind == Kind::Month {
            let last = self.from.yesterday().unwrap_or(self.from);
            return Period { kind: self.kind, from: last.first_of_month(), to: last };
        }
        let n = self.days();
        let to = self.from.yesterday().unwrap_or(self.from);
        let from = self.from.checked_sub((n as i32).days()).unwrap_or(self.from);
        Period { kind: self.kind, from, to }
    }

    /// [start, end) in epoch milliseconds: from local midnight of `from` to
    /// local midnight after `to`.
    pub fn bounds_ms(&self, tz: &TimeZone) -> (i64, i64) {
        let start = self.from.to_zoned_datetime(tz.clone()).map(|z| z.timestamp().as_millisecond()).unwrap_or(0);
        let end = self
            .to
            .tomorrow()
            .and_then(|d| d.to_zoned_datetime(tz.clone()))
            .map(|z| z.timestamp().as_millisecond())
            .unwrap_or(i64::MAX);
        (start, end)
    }

    /// The period as the bulletin writes it: 2026 年 11 月 / 2026 年 11 月 27 日 /
    /// 2026 年 11 月 23 日至 29 日.
    pub fn label_zh(&self) -> String {
        if self.kind == Kind::Month {
            return format!("{} 年 {} 月", self.from.year(), self.from.month());
        }
        if self.from == self.to {
            return date_zh(self.from);
        }
        let to = if self.from.year() != self.to.year() {
            date_zh(self.to)
        } else if self.from.month() != self.to.month() {
            format!("{} 月 {} 日", self.to.month(), self.to.day())
        } else {
            format!("{} 日", self.to.day())
        };
        format!("{}至 {}", date_zh(self.from), to)
    }
}

/// 2026 年 11 月 27 日, as official documents write dates.
pub fn date_zh(d: Date) -> String {
    format!("{} 年 {} 月 {} 日", d.year(), d.month(), d.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_periods_are_refused_with_a_reason_naming_the_fix() {
        let cases = [
            ("year", "2026-11-01", Some("2026-11-30"), "not one of day, week, month, custom"),
            ("day", "2026-13-01", None, "YYYY-MM-DD"),
            ("day", "2026-11-01", Some("2026-11-02"), "one day"),
            ("week", "2026-11-01", Some("2026-11-05"), "7 days"),
            ("month", "2026-11-02", Some("2026-11-30"), "calendar month"),
            ("month", "2026-11-01", Some("2026-12-31"), "calendar month"),
            ("custom", "2026-11-05", Some("2026-11-01"), "before from"),
            ("custom", "2025-01-01", Some("2026-06-01"), "at most 366"),
            ("custom", "2026-01-01", None, "both from and to"),
        ];
        for (kind, from, to, expect) in cases {
            let err = Period::parse(kind, from, to).unwrap_err();
            assert!(err.contains(expect), "{kind} {from} {to:?}: {err}");
        }
    }

    #[test]
    fn the_previous_period_has_the_same_length_or_is_the_previous_month() {
        let week = Period::parse("week", "2026-11-23", Some("2026-11-29")).unwrap();
        let prev = week.previous();
        assert_eq!((prev.from.to_string(), prev.to.to_string()), ("2026-11-16".into(), "2026-11-22".into()));
        let march = Period::parse("month", "2026-03-01", None).unwrap();
        let prev = march.previous();
        assert_eq!((prev.from.to_string(), prev.to.to_string()), ("2026-02-01".into(), "2026-02-28".into()));
        let day = Period::parse("day", "2026-01-01", None).unwrap().previous();
        assert_eq!(day.from.to_string(), "2025-12-31");
    }

    #[test]
    fn bounds_are_local_midnights() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        let p = Period::parse("day", "2026-11-27", None).unwrap();
        let (a, b) = p.bounds_ms(&tz);
        assert_eq!(jiff::Timestamp::from_millisecond(a).unwrap().to_string(), "2026-11-26T16:00:00Z");
        assert_eq!(b - a, 86_400_000);
        assert_eq!(p.label_zh(), "2026 年 11 月 27 日");
        assert_eq!(Period::parse("week", "2026-11-23", None).unwrap().label_zh(), "2026 年 11 月 23 日至 29 日");
    }
}
