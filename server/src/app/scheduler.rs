//! The rectification scheduler (整改延时必追责): what is due for a case at
//! a moment, decided here, pure; [`crate::db::schedule`] runs a pass over
//! the stored cases and writes what is due; [`run_forever`] is the loop
//! `serve` starts.
//!
//! **Idempotent and catching up:** everything due is named by a key made of
//! the case, the deadline it is about and (for the daily overdue reminder)
//! the day; the outbox and the case history each take a key once. A pass
//! may run any number of times, and a server that was down across a
//! deadline sends, when it comes back, each notice that is due *now* once:
//! the 催办, the escalation if it is that late, and one overdue reminder
//! for today, not one for every day it missed.

use crate::db::Db;
use crate::db::cases::{RectificationSettings, StoredCase};
use crate::db::outbox::ContactRole;
use crate::rectification::case::CaseState;
use crate::rectification::notice::NoticeKind;
use jiff::{SignedDuration, Timestamp, ZonedDateTime};

/// One thing due for a case now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub kind: NoticeKind,
    /// Once-only key (outbox and case history).
    pub key: String,
    /// Who is told.
    pub roles: Vec<ContactRole>,
    /// The case-history event this writes (`urged`, `escalated`,
    /// `supervised`), once per key; `None` for plain reminders.
    pub event: Option<&'static str>,
    /// Sets the case's 督办 flag.
    pub supervise: bool,
}

/// When the case's time runs out: its deadline, or for 挂账 the end of the
/// target day.
pub fn due_at(case: &StoredCase, now: &ZonedDateTime) -> Option<Timestamp> {
    let c = &case.case;
    match (c.state, c.deferred_until) {
        (CaseState::Deferred, Some(target)) => {
            Some(target.tomorrow().ok()?.to_zoned_datetime(now.time_zone().clone()).ok()?.timestamp())
        }
        _ => c.deadline,
    }
}

/// Everything due for `case` at `now`, in the order it should go out.
pub fn due(case: &StoredCase, s: &RectificationSettings, now: &ZonedDateTime) -> Vec<Due> {
    use ContactRole::*;
    let c = &case.case;
    let mut out = Vec::new();
    if !c.state.awaits_unit() || c.notified_at.is_none() {
        return out;
    }
    let Some(due) = due_at(case, now) else { return out };
    let id = case.id;
    let due_ms = due.as_millisecond();
    let t = now.timestamp();
    if t < due {
        // A reminder before the deadline: `reminder_hours` ahead, but never
        // in the first half of a short deadline's time.
        let notified = c.notified_at.unwrap_or(due);
        let half = SignedDuration::from_millis((due_ms - notified.as_millisecond()) / 2);
        let ahead = SignedDuration::from_hours(i64::from(s.reminder_hours)).min(half);
        if t >= due - ahead {
            out.push(Due {
                kind: NoticeKind::Reminder,
                key: format!("reminder/{id}/{due_ms}"),
                roles: vec![Contact],
                event: None,
                supervise: false,
            });
        }
        return out;
    }
    // Past due: 催办 to the unit, copied to the point's 点长 and the 分管领导.
    out.push(Due {
        kind: NoticeKind::Urge,
        key: format!("urge/{id}/{due_ms}"),
        roles: vec![Contact, PointChief, Leader],
        event: Some("urged"),
        supervise: false,
    });
    let days = c.overdue_days(now).unwrap_or(1);
    // Day 1 is the 催办 itself; one reminder a day after that, up to the cap.
    if days >= 2 && days - 1 <= i64::from(s.overdue_reminder_cap) {
        out.push(Due {
            kind: NoticeKind::Overdue,
            key: format!("overdue/{id}/{due_ms}/{days}"),
            roles: vec![Contact],
            event: None,
            supervise: false,
        });
    }
    if days > i64::from(s.escalate_after_days) {
        out.push(Due {
            kind: NoticeKind::Urge,
            key: format!("escalate/{id}/{due_ms}"),
            roles: vec![Leader],
            event: Some("escalated"),
            supervise: false,
        });
    }
    if days > i64::from(s.supervise_after_overdue_days) && !c.supervised {
        out.push(supervision(id));
    }
    out
}

/// [`due`], plus the 督办 of a case its re-checks already flagged (the
/// notice and event keys make it once-only): what a pass writes.
pub fn due_now(case: &StoredCase, s: &RectificationSettings, now: &ZonedDateTime) -> Vec<Due> {
    let mut out = due(case, s, now);
    if case.case.supervised && case.case.state.awaits_unit() {
        out.push(supervision(case.id));
    }
    out
}

/// 督办 for a case flagged by repeated failed re-checks (the flag is set by
/// the re-check itself) or by a long delay.
pub fn supervision(case_id: i64) -> Due {
    Due {
        kind: NoticeKind::Supervision,
        key: format!("supervision/{case_id}"),
        roles: vec![ContactRole::Leader, ContactRole::Contact],
        event: Some("supervised"),
        supervise: true,
    }
}

/// What one pass did (for the log and the benchmark).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PassReport {
    pub cases_seen: usize,
    pub notified: usize,
    pub digests: usize,
    pub notices: usize,
    pub events: usize,
}

/// The loop `serve` runs: a pass at start-up (catching up after downtime),
/// then every `interval`, each only while this instance holds the
/// background lease (`held`, see [`super::jobs`]). A failed pass is logged
/// and tried again.
pub async fn run_forever(
    db: Db,
    clock: crate::clock::Clock,
    tz: jiff::tz::TimeZone,
    interval: std::time::Duration,
    wake: std::sync::Arc<tokio::sync::Notify>,
    mut held: super::jobs::Held,
) {
    loop {
        held.until_held().await;
        match db.schedule_pass(clock.now(), tz.clone()).await {
            Ok(r) => {
                if r.notices > 0 || r.notified > 0 {
                    tracing::info!(?r, "rectification pass");
                    wake.notify_one();
                }
            }
            Err(e) => tracing::warn!(error = %e, "rectification pass failed; trying again later"),
        }
        tokio::time::sleep(interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rectification::case::Case;
    use anfang_core::Card;

    fn at(s: &str) -> ZonedDateTime {
        format!("{s}[Asia/Shanghai]").parse().unwrap()
    }

    fn case(deadline: &str) -> StoredCase {
        let mut c = Case::opened(Card::Red, "u1".into(), 1);
        c.notified_at = Some(at("2026-12-01T18:00").timestamp());
        c.deadline = Some(at(deadline).timestamp());
        StoredCase {
            id: 7,
            public_ref: "abcdefabcdef".into(),
            finding_id: "f".into(),
            point_id: "p".into(),
            category: "c".into(),
            opened_at: at("2026-12-01T10:00").timestamp(),
            closed_at: None,
            version: 1,
            case: c,
        }
    }

    fn settings() -> RectificationSettings {
        RectificationSettings {
            digest_hour: 18,
            reminder_hours: 24,
            return_window_days: 2,
            rework_days: 3,
            close_yellow_on_evidence: false,
            supervise_after_failed_rechecks: 3,
            escalate_after_days: 3,
            supervise_after_overdue_days: 10,
            overdue_reminder_cap: 5,
            recheck_within_days: 3,
            public_base_url: "http://x".into(),
            rank_weight_rectification: 30,
        }
    }

    fn kinds(d: &[Due]) -> Vec<&str> {
        d.iter().map(|d| d.key.split('/').next().unwrap()).collect()
    }

    #[test]
    fn nothing_is_due_early_then_a_reminder_a_day_ahead() {
        let c = case("2026-12-05T00:00");
        assert!(due(&c, &settings(), &at("2026-12-03T23:00")).is_empty());
        assert_eq!(kinds(&due(&c, &settings(), &at("2026-12-04T00:00"))), ["reminder"]);
    }

    #[test]
    fn a_short_deadline_is_reminded_only_in_its_second_half() {
        // Notified 18:00, due 6 hours later: the reminder comes at 21:00, not at once.
        let c = case("2026-12-02T00:00");
        assert!(due(&c, &settings(), &at("2026-12-01T20:59")).is_empty());
        assert_eq!(kinds(&due(&c, &settings(), &at("2026-12-01T21:00"))), ["reminder"]);
    }

    #[test]
    fn past_the_deadline_the_urge_goes_to_unit_point_chief_and_leader() {
        let c = case("2026-12-05T00:00");
        let d = due(&c, &settings(), &at("2026-12-05T00:00:01"));
        assert_eq!(kinds(&d), ["urge"]);
        assert_eq!(d[0].roles, [ContactRole::Contact, ContactRole::PointChief, ContactRole::Leader]);
    }

    #[test]
    fn a_server_back_days_later_sends_urge_escalation_and_one_reminder_for_today() {
        let c = case("2026-12-05T00:00");
        // Due by the end of Friday the 4th; back on Wednesday the 9th, 4 days 9 hours late (day 5).
        let d = due(&c, &settings(), &at("2026-12-09T09:00"));
        assert_eq!(kinds(&d), ["urge", "overdue", "escalate"]);
        assert_eq!(d[1].key, format!("overdue/7/{}/5", at("2026-12-05T00:00").timestamp().as_millisecond()));
    }

    #[test]
    fn daily_reminders_stop_at_the_cap_and_a_long_delay_goes_to_supervision() {
        let c = case("2026-12-05T00:00");
        let d = due(&c, &settings(), &at("2026-12-15T09:00"));
        assert_eq!(kinds(&d), ["urge", "escalate", "supervision"]);
        let mut flagged = c.clone();
        flagged.case.supervised = true;
        assert_eq!(kinds(&due(&flagged, &settings(), &at("2026-12-15T09:00"))), ["urge", "escalate"]);
    }

    #[test]
    fn answered_closed_and_unnotified_cases_owe_nothing() {
        let mut c = case("2026-12-05T00:00");
        c.case.state = CaseState::Answered;
        assert!(due(&c, &settings(), &at("2026-12-09T09:00")).is_empty());
        let mut c = case("2026-12-05T00:00");
        c.case.notified_at = None;
        assert!(due(&c, &settings(), &at("2026-12-09T09:00")).is_empty());
    }
}
