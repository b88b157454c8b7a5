//! The scheduler's pass over stored cases (see [`crate::app::scheduler`]
//! for what is due when). Candidates are read first, with a reader; each
//! unit's digest and each case's due notices are then written in their own
//! short transaction, which reads the case again: a pass never holds the
//! writer for long, and a case changed meanwhile is judged as it now is.

use super::cases::{self, ActorRef, NewEvent, RectificationSettings, StoredCase};
use super::outbox::{self, ContactRole};
use super::sql::{Connection, params};
use crate::app::scheduler::{self, Due, PassReport};
use crate::error::AppError;
use crate::rectification::case::{Action, Actor};
use crate::rectification::notice::{Notice, NoticeCase, NoticeKind};
use anfang_core::domain::sha256_hex;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::json;

/// "12月4日 24:00前": a deadline as a unit reads it (midnight is the end of
/// the day before, the way offices write it).
pub fn deadline_zh(deadline: Timestamp, tz: &TimeZone) -> String {
    let local = deadline.to_zoned_datetime(tz.clone());
    if local.hour() == 0 && local.minute() == 0 {
        let day = local.date().yesterday().unwrap_or(local.date());
        format!("{}月{}日 24:00前", day.month(), day.day())
    } else {
        format!("{}月{}日 {:02}:{:02}前", local.month(), local.day(), local.hour(), local.minute())
    }
}

fn notice_case(
    conn: &Connection,
    s: &StoredCase,
    tz: &TimeZone,
    now: &jiff::ZonedDateTime,
    base: &str,
) -> Result<NoticeCase, AppError> {
    let (point_name, category_name, observed_ms): (String, Option<String>, i64) = conn.query_row(
        "SELECT p.name, (SELECT name FROM categories WHERE code = ?2), f.observed_ms
         FROM findings f JOIN points p ON p.id = ?1 WHERE f.id = ?3",
        params![s.point_id, s.category, s.finding_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let (date, part_of_day) = crate::redact::coarse_time(observed_ms, tz).map_err(AppError::internal)?;
    let due = scheduler::due_at(s, now);
    Ok(NoticeCase {
        reference: s.public_ref.clone(),
        point_name,
        date,
        part_of_day,
        category_name: category_name.unwrap_or_else(|| s.category.clone()),
        card: s.case.card,
        deadline: due.map(|d| deadline_zh(d, tz)),
        overdue_days: s.case.overdue_days(now),
        link: format!("{}/unit/cases/{}", base.trim_end_matches('/'), s.public_ref),
    })
}

fn unit_name(conn: &Connection, unit_id: &str) -> Result<String, AppError> {
    Ok(conn.query_row("SELECT name FROM units WHERE id = ?1", [unit_id], |r| r.get(0))?)
}

/// Sends one unit's digest: every case of it not yet notified starts its
/// deadline now, and one notice lists them all.
fn digest(conn: &mut Connection, unit_id: &str, now: Timestamp, tz: &TimeZone) -> Result<(usize, usize), AppError> {
    let tx = conn.transaction()?;
    let settings = cases::settings(&tx)?;
    let zoned = now.to_zoned_datetime(tz.clone());
    let mut notified = Vec::new();
    let waiting = cases::list_where(&tx, "c.state = 'open' AND c.notified_ms IS NULL AND c.unit_id = ?1", [unit_id])?;
    for s in waiting {
        let tz2 = tz.clone();
        let s = cases::transition(&tx, s, now, move |facts| {
            let next = crate::app::cases::judge(facts, Actor::System, &Action::Notify, now, &tz2)?;
            let mut ev = NewEvent::new(ActorRef::System, "notified");
            ev.detail = json!({"deadline": next.deadline.map(|d| d.to_string())});
            Ok((next, ev))
        })?;
        notified.push(s);
    }
    if notified.is_empty() {
        return Ok((0, 0));
    }
    let mut list = Vec::new();
    for s in &notified {
        list.push(notice_case(&tx, s, tz, &zoned, &settings.public_base_url)?);
    }
    let notice = Notice {
        kind: NoticeKind::Digest,
        unit_name: unit_name(&tx, unit_id)?,
        cases: list,
        portal_link: format!("{}/unit/", settings.public_base_url.trim_end_matches('/')),
    };
    let ids: Vec<i64> = notified.iter().map(|s| s.id).collect();
    let key = format!(
        "digest/{unit_id}/{}",
        &sha256_hex(ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",").as_bytes())[..16]
    );
    let recipients = outbox::recipients(&tx, unit_id, None, &[ContactRole::Contact])?;
    let sent = outbox::enqueue(&tx, &key, unit_id, &notice, &recipients, &ids, now)?;
    tx.commit()?;
    Ok((notified.len(), sent))
}

fn event_logged(conn: &Connection, case_id: i64, event: &str, key: &str) -> Result<bool, AppError> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM case_events WHERE case_id = ?1 AND event = ?2
                        AND json_extract(detail, '$.key') = ?3)",
        params![case_id, event, key],
        |r| r.get(0),
    )?)
}

/// Writes what is due for one case now; re-read and re-judged in the
/// transaction. Returns (notices enqueued, events written).
fn case_dues(
    conn: &mut Connection,
    public_ref: &str,
    now: Timestamp,
    tz: &TimeZone,
    settings: &RectificationSettings,
) -> Result<(usize, usize), AppError> {
    let tx = conn.transaction()?;
    let Some(mut s) = cases::by_ref(&tx, public_ref)? else { return Ok((0, 0)) };
    let zoned = now.to_zoned_datetime(tz.clone());
    let dues = scheduler::due_now(&s, settings, &zoned);
    let (mut notices, mut events) = (0, 0);
    for d in dues {
        if let Some(event) = d.event
            && event_logged(&tx, s.id, event, &d.key)?
        {
            continue;
        }
        notices += enqueue_due(&tx, &s, &d, now, tz, &zoned, settings)?;
        if let Some(event) = d.event {
            let mut ev = NewEvent::new(ActorRef::System, event);
            ev.detail = json!({"key": d.key, "overdue_days": s.case.overdue_days(&zoned)});
            cases::note_event(&tx, &s, &ev, d.supervise && !s.case.supervised, now)?;
            events += 1;
            s = cases::by_ref(&tx, public_ref)?.expect("still there");
        }
    }
    tx.commit()?;
    Ok((notices, events))
}

fn enqueue_due(
    tx: &Connection,
    s: &StoredCase,
    d: &Due,
    now: Timestamp,
    tz: &TimeZone,
    zoned: &jiff::ZonedDateTime,
    settings: &RectificationSettings,
) -> Result<usize, AppError> {
    let notice = Notice {
        kind: d.kind,
        unit_name: unit_name(tx, &s.case.unit_id)?,
        cases: vec![notice_case(tx, s, tz, zoned, &settings.public_base_url)?],
        portal_link: format!("{}/unit/", settings.public_base_url.trim_end_matches('/')),
    };
    let recipients = cases::recipients_for(tx, s, &d.roles)?;
    outbox::enqueue(tx, &d.key, &s.case.unit_id, &notice, &recipients, &[s.id], now)
}

impl super::Db {
    /// One scheduler pass at `now`: the digests (from the digest hour on),
    /// then every case's due reminders, 催办, escalations and 督办.
    pub async fn schedule_pass(&self, now: Timestamp, tz: TimeZone) -> Result<PassReport, AppError> {
        let mut report = PassReport::default();
        let (settings, waiting, open) = self
            .read(move |c| {
                let waiting: Vec<String> = c
                    .prepare(
                        "SELECT DISTINCT unit_id FROM rectification_cases
                         WHERE state = 'open' AND notified_ms IS NULL ORDER BY unit_id",
                    )?
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                let open = cases::list_where(
                    c,
                    "c.state IN ('open', 'rework', 'deferred') AND c.notified_ms IS NOT NULL",
                    [],
                )?;
                Ok((cases::settings(c)?, waiting, open))
            })
            .await?;
        let local = now.to_zoned_datetime(tz.clone());
        if local.hour() >= settings.digest_hour as i8 {
            for unit in waiting {
                let tz = tz.clone();
                let (n, sent) = self.write(move |c| digest(c, &unit, now, &tz)).await?;
                report.notified += n;
                report.notices += sent;
                report.digests += usize::from(n > 0);
            }
        }
        report.cases_seen = open.len();
        for s in open {
            if scheduler::due_now(&s, &settings, &local).is_empty() {
                continue;
            }
            let (tz, settings, r) = (tz.clone(), settings.clone(), s.public_ref.clone());
            let (n, e) = self.write(move |c| case_dues(c, &r, now, &tz, &settings)).await?;
            report.notices += n;
            report.events += e;
        }
        Ok(report)
    }
}
