//! The office calendar, and deadlines counted on it.
//!
//! Chinese public holidays move every year and come with make-up working
//! days on weekends (调休), so "Monday to Friday" is only the default: the
//! office imports the State Council's list for the year as dated lines, and
//! every working-day deadline is counted on the result.
//!
//! A deadline is counted from the moment the notice was sent, never from
//! when the unit opened it (a unit that does not look must not gain time):
//! - `WorkingDays(n)`: by the end of the n-th working day after the day of
//!   the notice (a notice sent on Friday evening with 1 working day is due
//!   at the end of Monday);
//! - `WorkingHours(n)`: n hours of the office's working time, counted from
//!   the notice (a notice after hours starts counting at the next opening).

use jiff::ZonedDateTime;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use std::collections::BTreeSet;
use std::fmt;

/// How long a unit has to rectify, as the office configures it per card
/// (and per category where it sets one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "unit", content = "amount", rename_all = "snake_case")]
pub enum DeadlineRule {
    WorkingDays(u16),
    WorkingHours(u16),
}

impl DeadlineRule {
    /// Longest rule the office may set: a year of working days, or a
    /// month of working hours.
    pub const MAX_DAYS: u16 = 365;
    pub const MAX_HOURS: u16 = 744;

    pub fn is_valid(self) -> bool {
        match self {
            // 0 is "the same day" (the card deadlines have always allowed it).
            DeadlineRule::WorkingDays(n) => n <= Self::MAX_DAYS,
            DeadlineRule::WorkingHours(n) => (1..=Self::MAX_HOURS).contains(&n),
        }
    }

    /// How the office reads it: "3个工作日", "5个工作小时".
    pub fn label_zh(self) -> String {
        match self {
            DeadlineRule::WorkingDays(0) => "当日".to_owned(),
            DeadlineRule::WorkingDays(n) => format!("{n}个工作日"),
            DeadlineRule::WorkingHours(n) => format!("{n}个工作小时"),
        }
    }
}

/// What one imported line says about a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// 休: a day off, though it may fall on a weekday (a public holiday).
    Holiday,
    /// 班: a working day, though it may fall on a weekend (调休上班).
    Workday,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarDay {
    pub date: Date,
    pub kind: DayKind,
    /// The holiday's name as imported ("国庆节"), for the console.
    pub note: String,
}

/// One line of an import that cannot be read; nothing is imported then.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ImportLineError {
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficeCalendar {
    holidays: BTreeSet<Date>,
    workdays: BTreeSet<Date>,
    /// The office's working time on a working day, for hour deadlines.
    pub opens: Time,
    pub closes: Time,
}

impl Default for OfficeCalendar {
    /// Monday to Friday, 08:30–17:30, no holidays.
    fn default() -> Self {
        Self {
            holidays: BTreeSet::new(),
            workdays: BTreeSet::new(),
            opens: Time::constant(8, 30, 0, 0),
            closes: Time::constant(17, 30, 0, 0),
        }
    }
}

/// The furthest a deadline search walks: a calendar that declares years of
/// holidays in a row is an import mistake, not a reason to loop.
const MAX_SEARCH_DAYS: usize = 3 * 366;

impl OfficeCalendar {
    pub fn with_days(days: impl IntoIterator<Item = CalendarDay>) -> Self {
        let mut cal = Self::default();
        for d in days {
            cal.set(d.date, d.kind);
        }
        cal
    }

    /// Marks one date; the later of two marks for the same date wins.
    pub fn set(&mut self, date: Date, kind: DayKind) {
        match kind {
            DayKind::Holiday => {
                self.workdays.remove(&date);
                self.holidays.insert(date);
            }
            DayKind::Workday => {
                self.holidays.remove(&date);
                self.workdays.insert(date);
            }
        }
    }

    pub fn is_working_day(&self, date: Date) -> bool {
        if self.workdays.contains(&date) {
            return true;
        }
        if self.holidays.contains(&date) {
            return false;
        }
        !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
    }

    /// When a rule's deadline falls, for a notice sent at `notified`.
    pub fn deadline(&self, notified: &ZonedDateTime, rule: DeadlineRule) -> Result<ZonedDateTime, CalendarError> {
        match rule {
            DeadlineRule::WorkingDays(n) => self.after_working_days(notified, n),
            DeadlineRule::WorkingHours(n) => self.after_working_hours(notified, n),
        }
    }

    /// The end of the `n`-th working day after `from`'s date (the start of
    /// the following day, so a deadline "by the end of Monday" is Tuesday
    /// 00:00 and an answer at 23:59 on Monday is on time).
    fn after_working_days(&self, from: &ZonedDateTime, n: u16) -> Result<ZonedDateTime, CalendarError> {
        let mut date = from.date();
        if n == 0 {
            let end = date.tomorrow().map_err(|_| CalendarError::OutOfRange)?;
            return start_of(end, from.time_zone());
        }
        let mut left = n;
        for _ in 0..MAX_SEARCH_DAYS {
            date = date.tomorrow().map_err(|_| CalendarError::OutOfRange)?;
            if self.is_working_day(date) {
                left -= 1;
                if left == 0 {
                    let end = date.tomorrow().map_err(|_| CalendarError::OutOfRange)?;
                    return start_of(end, from.time_zone());
                }
            }
        }
        Err(CalendarError::NoWorkingDays)
    }

    fn after_working_hours(&self, from: &ZonedDateTime, n: u16) -> Result<ZonedDateTime, CalendarError> {
        let tz = from.time_zone().clone();
        let mut left = jiff::SignedDuration::from_hours(i64::from(n));
        let mut date = from.date();
        let mut cursor = from.clone();
        for _ in 0..MAX_SEARCH_DAYS {
            if self.is_working_day(date) {
                let opens = at(date, self.opens, &tz)?;
                let closes = at(date, self.closes, &tz)?;
                let start = if cursor > opens { cursor.clone() } else { opens };
                if start < closes {
                    let available = start.duration_until(&closes);
                    if available >= left {
                        return start.checked_add(left).map_err(|_| CalendarError::OutOfRange);
                    }
                    left -= available;
                }
            }
            date = date.tomorrow().map_err(|_| CalendarError::OutOfRange)?;
            cursor = start_of(date, &tz)?;
        }
        Err(CalendarError::NoWorkingDays)
    }

    /// Reads the office's import: one date per line, `YYYY-MM-DD,休|班[,note]`
    /// (also `holiday` / `workday`); blank lines and `#` comments are
    /// skipped. Every bad line is reported at once, and nothing is taken
    /// unless every line reads.
    pub fn parse_import(text: &str) -> Result<Vec<CalendarDay>, Vec<ImportLineError>> {
        let mut days = Vec::new();
        let mut errors = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let trimmed = raw.trim().trim_start_matches('\u{feff}');
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let mut fields = trimmed.splitn(3, [',', '，']).map(str::trim);
            let (date, kind, note) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""), fields.next());
            let date = match date.parse::<Date>() {
                Ok(d) => d,
                Err(_) => {
                    errors.push(ImportLineError { line, message: format!("\"{date}\" is not a date like 2026-10-01") });
                    continue;
                }
            };
            let kind = match kind {
                "休" | "holiday" => DayKind::Holiday,
                "班" | "workday" => DayKind::Workday,
                other => {
                    errors.push(ImportLineError {
                        line,
                        message: format!("\"{other}\" is neither 休 (holiday) nor 班 (working day)"),
                    });
                    continue;
                }
            };
            let note = note.unwrap_or("").to_owned();
            if note.chars().count() > 32 || note.chars().any(anfang_core::text::is_refused) {
                errors.push(ImportLineError {
                    line,
                    message: "the note is longer than 32 characters or has a control character".into(),
                });
                continue;
            }
            days.push(CalendarDay { date, kind, note });
        }
        if errors.is_empty() { Ok(days) } else { Err(errors) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("the calendar has no working day within three years; check the imported holidays")]
    NoWorkingDays,
    #[error("the deadline falls outside the dates the server can represent")]
    OutOfRange,
}

fn at(date: Date, time: Time, tz: &TimeZone) -> Result<ZonedDateTime, CalendarError> {
    date.to_datetime(time).to_zoned_datetime(tz.clone()).map_err(|_| CalendarError::OutOfRange)
}

fn start_of(date: Date, tz: &TimeZone) -> Result<ZonedDateTime, CalendarError> {
    at(date, Time::midnight(), tz)
}

impl fmt::Display for DayKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DayKind::Holiday => "休",
            DayKind::Workday => "班",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn shanghai(s: &str) -> ZonedDateTime {
        format!("{s}[Asia/Shanghai]").parse().unwrap()
    }

    /// 2026's National Day week as the State Council publishes it: 1–7
    /// October off (Thursday to Wednesday), with Sunday 27 September and
    /// Saturday 10 October worked.
    fn national_day_2026() -> OfficeCalendar {
        let import = "# 2026 国庆节\n\
                      2026-09-27,班,国庆调休\n\
                      2026-10-01,休,国庆节\n2026-10-02,休\n2026-10-03,休\n2026-10-04,休\n\
                      2026-10-05,休\n2026-10-06,休\n2026-10-07,休\n\
                      2026-10-10，班，国庆调休\n";
        OfficeCalendar::with_days(OfficeCalendar::parse_import(import).unwrap())
    }

    #[test]
    fn weekdays_work_and_weekends_rest_unless_the_calendar_says_otherwise() {
        let cal = national_day_2026();
        assert!(cal.is_working_day(date(2026, 9, 25)), "a Friday");
        assert!(!cal.is_working_day(date(2026, 9, 26)), "a Saturday");
        assert!(cal.is_working_day(date(2026, 9, 27)), "a make-up Sunday");
        assert!(!cal.is_working_day(date(2026, 10, 1)), "National Day, a Thursday");
        assert!(cal.is_working_day(date(2026, 10, 10)), "a make-up Saturday");
    }

    #[test]
    fn a_working_day_deadline_ends_with_the_nth_working_day_after_the_notice() {
        let cal = OfficeCalendar::default();
        // Friday 18:00, one working day: the end of Monday.
        let due = cal.deadline(&shanghai("2026-11-27T18:00:00+08:00"), DeadlineRule::WorkingDays(1)).unwrap();
        assert_eq!(due, shanghai("2026-12-01T00:00:00+08:00"));
        // Tuesday, three working days: the end of Friday.
        let due = cal.deadline(&shanghai("2026-12-01T09:15:00+08:00"), DeadlineRule::WorkingDays(3)).unwrap();
        assert_eq!(due, shanghai("2026-12-05T00:00:00+08:00"));
    }

    #[test]
    fn a_deadline_skips_a_holiday_week_and_counts_its_make_up_days() {
        let cal = national_day_2026();
        // Wednesday 30 September, three working days: 8, 9 and (Saturday) 10 October.
        let due = cal.deadline(&shanghai("2026-09-30T18:00:00+08:00"), DeadlineRule::WorkingDays(3)).unwrap();
        assert_eq!(due, shanghai("2026-10-11T00:00:00+08:00"));
        // Saturday 26 September, one working day: the make-up Sunday.
        let due = cal.deadline(&shanghai("2026-09-26T10:00:00+08:00"), DeadlineRule::WorkingDays(1)).unwrap();
        assert_eq!(due, shanghai("2026-09-28T00:00:00+08:00"));
    }

    #[test]
    fn working_hours_count_only_the_offices_open_hours() {
        let cal = OfficeCalendar::default();
        // Tuesday 16:30, five working hours: one hour on Tuesday, four from 08:30 Wednesday.
        let due = cal.deadline(&shanghai("2026-12-01T16:30:00+08:00"), DeadlineRule::WorkingHours(5)).unwrap();
        assert_eq!(due, shanghai("2026-12-02T12:30:00+08:00"));
        // Friday 19:00, after hours: counting starts on Monday at 08:30.
        let due = cal.deadline(&shanghai("2026-11-27T19:00:00+08:00"), DeadlineRule::WorkingHours(2)).unwrap();
        assert_eq!(due, shanghai("2026-11-30T10:30:00+08:00"));
        // Before opening: from 08:30 the same day.
        let due = cal.deadline(&shanghai("2026-12-01T06:00:00+08:00"), DeadlineRule::WorkingHours(9)).unwrap();
        assert_eq!(due, shanghai("2026-12-01T17:30:00+08:00"));
    }

    #[test]
    fn an_import_with_bad_lines_names_every_one_and_imports_nothing() {
        let errors = OfficeCalendar::parse_import("2026-10-01,休\n2026-13-01,休\n\n2026-10-02,放假\n").unwrap_err();
        assert_eq!(errors.iter().map(|e| e.line).collect::<Vec<_>>(), vec![2, 4]);
        assert!(errors[1].message.contains("放假"), "{errors:?}");
    }

    #[test]
    fn a_calendar_of_endless_holidays_is_an_error_not_a_hang() {
        let mut cal = OfficeCalendar::default();
        let mut d = date(2026, 1, 1);
        for _ in 0..(4 * 366) {
            cal.set(d, DayKind::Holiday);
            d = d.tomorrow().unwrap();
        }
        let err = cal.deadline(&shanghai("2026-01-01T09:00:00+08:00"), DeadlineRule::WorkingDays(1)).unwrap_err();
        assert_eq!(err, CalendarError::NoWorkingDays);
    }

    #[test]
    fn rules_outside_their_bounds_are_invalid() {
        assert!(DeadlineRule::WorkingDays(3).is_valid());
        assert!(DeadlineRule::WorkingDays(0).is_valid(), "the same day");
        assert!(!DeadlineRule::WorkingDays(366).is_valid());
        assert!(!DeadlineRule::WorkingHours(0).is_valid());
        assert!(!DeadlineRule::WorkingHours(745).is_valid());
    }

    #[test]
    fn a_zero_day_deadline_ends_with_the_day_of_the_notice() {
        let cal = OfficeCalendar::default();
        let notified = date(2026, 12, 5).at(19, 0, 0, 0).in_tz("Asia/Shanghai").unwrap();
        let due = cal.deadline(&notified, DeadlineRule::WorkingDays(0)).unwrap();
        assert_eq!(due.datetime(), date(2026, 12, 6).at(0, 0, 0, 0));
    }
}
