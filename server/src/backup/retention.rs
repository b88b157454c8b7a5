//! Which snapshots a retention rule keeps: the newest of each of the last
//! `keep_daily` days that have one, and the newest of each of the last
//! `keep_monthly` months that have one (days and months in the office's time
//! zone). The newest snapshot is always kept. Pure, so the rule is tested
//! on its own.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::collections::BTreeSet;

/// A snapshot's name and when it was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    pub name: String,
    pub at: Timestamp,
}

/// The names to keep; every other snapshot may be removed.
pub fn kept(snapshots: &[Taken], keep_daily: u32, keep_monthly: u32, tz: &TimeZone) -> BTreeSet<String> {
    let mut newest_first: Vec<&Taken> = snapshots.iter().collect();
    newest_first.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| b.name.cmp(&a.name)));
    let mut keep = BTreeSet::new();
    if let Some(first) = newest_first.first() {
        keep.insert(first.name.clone());
    }
    let mut pick = |limit: u32, period: &dyn Fn(&Taken) -> (i16, i8, i8)| {
        let mut seen = BTreeSet::new();
        for s in &newest_first {
            let p = period(s);
            if seen.contains(&p) {
                continue;
            }
            if seen.len() as u32 >= limit {
                break;
            }
            seen.insert(p);
            keep.insert(s.name.clone());
        }
    };
    pick(keep_daily, &|s| {
        let d = tz.to_datetime(s.at).date();
        (d.year(), d.month(), d.day())
    });
    pick(keep_monthly, &|s| {
        let d = tz.to_datetime(s.at).date();
        (d.year(), d.month(), 0)
    });
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shanghai() -> TimeZone {
        TimeZone::get("Asia/Shanghai").unwrap()
    }

    /// A snapshot taken at local time `at` (Shanghai), named after it.
    fn taken(at: &str) -> Taken {
        let ts = jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M", at)
            .unwrap()
            .to_zoned_datetime(shanghai())
            .unwrap()
            .timestamp();
        Taken { name: at.to_owned(), at: ts }
    }

    #[test]
    fn keeps_the_newest_of_each_of_the_last_days_and_months() {
        // Nightly at 02:00 from 2026-09-20 to 2026-12-01, plus a second run
        // on 2026-12-01 at 15:30 (a manual one).
        let mut all = Vec::new();
        let mut day = jiff::civil::date(2026, 9, 20);
        while day <= jiff::civil::date(2026, 12, 1) {
            all.push(taken(&format!("{day} 02:00")));
            day = day.tomorrow().unwrap();
        }
        all.push(taken("2026-12-01 15:30"));

        let keep = kept(&all, 3, 2, &shanghai());

        let expected: BTreeSet<String> = [
            // Days: 12-01 (its newest run, 15:30), 11-30, 11-29.
            "2026-12-01 15:30",
            "2026-11-30 02:00",
            "2026-11-29 02:00",
            // Months: December's newest is already kept; November's newest
            // is 11-30 (kept); so the two months add nothing new.
        ]
        .into_iter()
        .map(String::from)
        .collect();
        assert_eq!(keep, expected);

        let keep = kept(&all, 1, 4, &shanghai());
        let expected: BTreeSet<String> =
            ["2026-12-01 15:30", "2026-11-30 02:00", "2026-10-31 02:00", "2026-09-30 02:00"]
                .into_iter()
                .map(String::from)
                .collect();
        assert_eq!(keep, expected, "one day and four months: Dec, Nov, Oct, Sep");
    }

    #[test]
    fn days_are_the_offices_not_utc() {
        // 2026-12-01 07:30 in Shanghai is still 11-30 in UTC: both runs are
        // on one office day, so keeping one day keeps only the later.
        let all = vec![taken("2026-12-01 01:00"), taken("2026-12-01 07:30"), taken("2026-11-30 23:00")];
        let keep = kept(&all, 1, 0, &shanghai());
        assert_eq!(keep, BTreeSet::from(["2026-12-01 07:30".to_owned()]));
        let keep = kept(&all, 2, 0, &shanghai());
        assert_eq!(keep, BTreeSet::from(["2026-12-01 07:30".to_owned(), "2026-11-30 23:00".to_owned()]));
    }

    #[test]
    fn the_newest_is_kept_even_when_nothing_else_is() {
        let all = vec![taken("2026-11-01 02:00"), taken("2026-11-02 02:00")];
        assert_eq!(kept(&all, 0, 0, &shanghai()), BTreeSet::from(["2026-11-02 02:00".to_owned()]));
        assert!(kept(&[], 14, 12, &shanghai()).is_empty());
    }
}
