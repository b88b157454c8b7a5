//! Rectification cases (整改单): storage of what [`crate::rectification::case`]
//! decides.
//!
//! **Invariants:**
//! - a case moves only in [`transition`], which reads the case and the
//!   office's rules in the write transaction, hands them to the service's
//!   decision, and writes the new case row, its event (`case_events`,
//!   append-only by trigger), the event's attachments and the event's
//!   evidence-log entry together: a transition is logged or it did not
//!   happen;
//! - a finding has at most one live case (a partial unique index); a
//!   review opens, keeps or cancels it in the review's own transaction
//!   ([`on_review`]);
//! - a unit's view ([`UnitCase`]) is built here from fields a unit may see:
//!   no inspector, finding id, coordinates, capture time finer than the
//!   part of day, or actor of an office or inspector event.

use super::outbox::{self, ContactRole};
use super::sql::{Connection, OptionalExtension, params};
use crate::error::AppError;
use crate::rectification::calendar::{CalendarDay, DayKind, DeadlineRule, OfficeCalendar};
use crate::rectification::case::{Case, CasePolicy, CaseState, Pending};
use anfang_core::Card;
use anfang_core::domain::sha256_hex;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;
use serde_json::{Value, json};

/// The evidence-log kind of a case event; record id `case/{id}/{seq}`.
pub const LOG_KIND: &str = "case_event";

/// Who an event is by, as stored (`actor_kind`, `actor_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorRef {
    /// An office user (users.id).
    Office(i64),
    /// A unit account (users.id).
    Unit(i64),
    /// An inspector (inspectors.id): a re-check. Never shown beyond the office.
    Inspector(i64),
    System,
}

impl ActorRef {
    fn kind(&self) -> &'static str {
        match self {
            ActorRef::Office(_) => "office",
            ActorRef::Unit(_) => "unit",
            ActorRef::Inspector(_) => "inspector",
            ActorRef::System => "system",
        }
    }

    fn id(&self) -> Option<String> {
        match self {
            ActorRef::Office(id) | ActorRef::Unit(id) | ActorRef::Inspector(id) => Some(id.to_string()),
            ActorRef::System => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    Photo,
    Pdf,
}

impl AttachmentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentKind::Photo => "photo",
            AttachmentKind::Pdf => "pdf",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Attachment {
    pub kind: AttachmentKind,
    pub sha256: String,
}

/// An event the service wants written with a transition.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub actor: ActorRef,
    pub event: &'static str,
    pub reason: Option<String>,
    pub note: Option<String>,
    pub explanation: Option<String>,
    pub detail: Value,
    pub attachments: Vec<Attachment>,
}

impl NewEvent {
    pub fn new(actor: ActorRef, event: &'static str) -> Self {
        NewEvent { actor, event, reason: None, note: None, explanation: None, detail: json!({}), attachments: vec![] }
    }
}

/// A case as stored: the state machine's [`Case`] plus what names it.
#[derive(Debug, Clone)]
pub struct StoredCase {
    pub id: i64,
    pub public_ref: String,
    pub finding_id: String,
    pub point_id: String,
    /// The finding's effective (reviewed) category.
    pub category: String,
    pub opened_at: Timestamp,
    pub closed_at: Option<Timestamp>,
    pub version: i64,
    pub case: Case,
}

/// What a transition is judged by, read in its transaction.
#[derive(Debug, Clone)]
pub struct CaseFacts {
    pub stored: StoredCase,
    /// The case's deadline rule: its category's for its card, else its card's.
    pub rule: DeadlineRule,
    pub calendar: OfficeCalendar,
    pub policy: CasePolicy,
}

/// The office's rectification settings (`office_settings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RectificationSettings {
    /// Local hour (0–23) at which the day's new cases go out, one digest per unit.
    #[schemars(range(max = 23))]
    pub digest_hour: u8,
    /// Hours before the deadline of the reminder (at most half the case's time).
    #[schemars(range(min = 1, max = 720))]
    pub reminder_hours: u16,
    /// Working days after the notice within which a unit may return a case (退回).
    #[schemars(range(min = 1, max = 30))]
    pub return_window_days: u16,
    /// Working days a unit has for rework after a failed re-check (返工).
    /// Days, never hours: the deadline ends a day, so it cannot tell the
    /// unit the minute an inspector re-checked its point.
    #[schemars(range(min = 1, max = 60))]
    pub rework_days: u16,
    /// Whether a reviewer may close a yellow card on the unit's evidence alone.
    pub close_yellow_on_evidence: bool,
    /// Failed re-checks after which a case goes to the leaders (督办).
    #[schemars(range(min = 1, max = 10))]
    pub supervise_after_failed_rechecks: u32,
    /// Days overdue after which the 分管领导 is told and the case escalated.
    #[schemars(range(min = 1, max = 60))]
    pub escalate_after_days: u16,
    /// Days overdue after which the case goes to 督办.
    #[schemars(range(min = 1, max = 365))]
    pub supervise_after_overdue_days: u16,
    /// Most daily overdue reminders per deadline.
    #[schemars(range(max = 60))]
    pub overdue_reminder_cap: u16,
    /// Days within which a re-check visit is drawn.
    #[schemars(range(min = 1, max = 30))]
    pub recheck_within_days: u16,
    /// The address units reach the portal at, for links in notices.
    pub public_base_url: String,
    /// Percent of a unit's ranking score from its on-time rectification
    /// rate (按期整改率); the rest is its point compliance (达标率). Every
    /// bulletin prints the formula with these weights.
    #[schemars(range(max = 100))]
    pub rank_weight_rectification: u8,
}

impl RectificationSettings {
    pub fn policy(&self) -> CasePolicy {
        CasePolicy {
            return_window: DeadlineRule::WorkingDays(self.return_window_days),
            close_yellow_on_evidence: self.close_yellow_on_evidence,
            supervise_after_failed_rechecks: self.supervise_after_failed_rechecks,
            rework: DeadlineRule::WorkingDays(self.rework_days),
        }
    }
}

fn setting(conn: &Connection, key: &str) -> Result<Option<String>, AppError> {
    Ok(conn.query_row("SELECT value FROM office_settings WHERE key = ?1", [key], |r| r.get(0)).optional()?)
}

fn number<T: std::str::FromStr>(conn: &Connection, key: &str, default: T) -> Result<T, AppError> {
    Ok(setting(conn, key)?.and_then(|v| v.trim().parse().ok()).unwrap_or(default))
}

pub(in crate::db) fn settings(conn: &Connection) -> Result<RectificationSettings, AppError> {
    Ok(RectificationSettings {
        digest_hour: number(conn, "digest_hour", 18u8)?.min(23),
        reminder_hours: number(conn, "reminder_hours", 24)?,
        return_window_days: number(conn, "return_window_days", 2)?,
        rework_days: number(conn, "rework_days", 3)?,
        close_yellow_on_evidence: number(conn, "close_yellow_on_evidence", 0u8)? == 1,
        supervise_after_failed_rechecks: number(conn, "supervise_after_failed_rechecks", 3)?,
        escalate_after_days: number(conn, "escalate_after_days", 3)?,
        supervise_after_overdue_days: number(conn, "supervise_after_overdue_days", 10)?,
        overdue_reminder_cap: number(conn, "overdue_reminder_cap", 5)?,
        recheck_within_days: number(conn, "recheck_within_days", 3)?,
        public_base_url: setting(conn, "public_base_url")?.unwrap_or_else(|| "http://127.0.0.1:8080".into()),
        rank_weight_rectification: number(conn, "rank_weight_rectification", 30u8)?.min(100),
    })
}

fn put_settings(conn: &Connection, s: &RectificationSettings) -> Result<(), AppError> {
    let rows: [(&str, String); 13] = [
        ("digest_hour", s.digest_hour.to_string()),
        ("reminder_hours", s.reminder_hours.to_string()),
        ("return_window_days", s.return_window_days.to_string()),
        ("rework_days", s.rework_days.to_string()),
        ("close_yellow_on_evidence", u8::from(s.close_yellow_on_evidence).to_string()),
        ("supervise_after_failed_rechecks", s.supervise_after_failed_rechecks.to_string()),
        ("escalate_after_days", s.escalate_after_days.to_string()),
        ("supervise_after_overdue_days", s.supervise_after_overdue_days.to_string()),
        ("overdue_reminder_cap", s.overdue_reminder_cap.to_string()),
        ("recheck_within_days", s.recheck_within_days.to_string()),
        ("public_base_url", s.public_base_url.clone()),
        // Both keys, so the bulletin reads the pair it always has.
        ("rank_weight_rectification", s.rank_weight_rectification.to_string()),
        ("rank_weight_compliance", (100 - s.rank_weight_rectification.min(100)).to_string()),
    ];
    for (k, v) in rows {
        conn.execute(
            "INSERT INTO office_settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![k, v],
        )?;
    }
    Ok(())
}

pub(in crate::db) fn calendar(conn: &Connection) -> Result<OfficeCalendar, AppError> {
    Ok(OfficeCalendar::with_days(calendar_days(conn)?))
}

fn calendar_days(conn: &Connection) -> Result<Vec<CalendarDay>, AppError> {
    let mut stmt = conn.prepare_cached("SELECT date, kind, note FROM office_calendar ORDER BY date")?;
    let rows = stmt.query_map([], |r| {
        let date: String = r.get(0)?;
        let kind: String = r.get(1)?;
        Ok((date, kind, r.get::<_, String>(2)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (date, kind, note) = row?;
        let date: Date = date.parse().map_err(AppError::internal)?;
        let kind = if kind == "workday" { DayKind::Workday } else { DayKind::Holiday };
        out.push(CalendarDay { date, kind, note });
    }
    Ok(out)
}

/// A category's own deadline for a card, where the office set one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryDeadline {
    pub category: String,
    pub card: Card,
    /// `days` (working days) or `hours` (working hours).
    #[schemars(regex(pattern = r"^(days|hours)$"))]
    pub unit: String,
    #[schemars(range(min = 1, max = 744))]
    pub amount: u16,
}

impl CategoryDeadline {
    pub fn rule(&self) -> DeadlineRule {
        stored_rule(&self.unit, self.amount)
    }
}

fn category_deadlines(conn: &Connection) -> Result<Vec<CategoryDeadline>, AppError> {
    let mut stmt =
        conn.prepare_cached("SELECT category, card, unit, amount FROM category_deadlines ORDER BY category, card")?;
    let rows = stmt.query_map([], |r| {
        Ok(CategoryDeadline {
            category: r.get(0)?,
            card: super::parsed(r, 1)?,
            unit: r.get(2)?,
            amount: r.get::<_, i64>(3)?.clamp(1, 744) as u16,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A `category_deadlines` row's rule: `hours` are working hours, else working days.
fn stored_rule(unit: &str, amount: u16) -> DeadlineRule {
    if unit == "hours" { DeadlineRule::WorkingHours(amount) } else { DeadlineRule::WorkingDays(amount) }
}

/// The deadline rule for a card in a category.
pub(in crate::db) fn rule_for(conn: &Connection, category: &str, card: Card) -> Result<DeadlineRule, AppError> {
    let own: Option<(String, i64)> = conn
        .query_row(
            "SELECT unit, amount FROM category_deadlines WHERE category = ?1 AND card = ?2",
            params![category, card.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((unit, amount)) = own {
        return Ok(stored_rule(&unit, amount.clamp(1, 744) as u16));
    }
    let days: Option<i64> = conn
        .query_row("SELECT days FROM card_deadlines WHERE card = ?1", [card.as_str()], |r| r.get(0))
        .optional()?
        .flatten();
    // A card the office gave no deadline still gets the default of its kind:
    // a case without a deadline could never be overdue.
    let days = days.unwrap_or(if card == Card::Red { 3 } else { 7 });
    Ok(DeadlineRule::WorkingDays(days.clamp(0, DeadlineRule::MAX_DAYS as i64) as u16))
}

const CASE_COLUMNS: &str = "c.id, c.public_ref, c.finding_id, f.point_id, s.category, c.opened_ms, c.closed_ms,
    c.version, c.state, c.card, c.unit_id, c.inspector_id, c.notified_ms, c.deadline_ms, c.answered_ms,
    c.rework_count, c.pending, c.pending_until_ms, c.pending_target, c.deferred_until, c.supervised,
    c.reassign_count, c.extension_count";

const CASE_FROM: &str = "FROM rectification_cases c
    JOIN findings f ON f.id = c.finding_id
    JOIN finding_state s ON s.finding_id = c.finding_id";

fn ts(ms: Option<i64>) -> crate::db::sql::Result<Option<Timestamp>> {
    ms.map(|ms| Timestamp::from_millisecond(ms).map_err(|e| crate::db::sql::Error::conversion(e.to_string())))
        .transpose()
}

fn date_col(s: Option<String>) -> crate::db::sql::Result<Option<Date>> {
    s.map(|s| s.parse::<Date>().map_err(|e| crate::db::sql::Error::conversion(e.to_string()))).transpose()
}

fn case_row(r: &crate::db::sql::Row<'_>) -> crate::db::sql::Result<StoredCase> {
    let pending = match r.get::<_, Option<String>>(16)?.as_deref() {
        Some("return") => Some(Pending::Return),
        Some("extension") => ts(r.get(17)?)?.map(|until| Pending::Extension { until }),
        Some("deferral") => date_col(r.get(18)?)?.map(|target| Pending::Deferral { target }),
        _ => None,
    };
    Ok(StoredCase {
        id: r.get(0)?,
        public_ref: r.get(1)?,
        finding_id: r.get(2)?,
        point_id: r.get(3)?,
        category: r.get(4)?,
        opened_at: ts(Some(r.get(5)?))?.expect("some"),
        closed_at: ts(r.get(6)?)?,
        version: r.get(7)?,
        case: Case {
            state: super::parsed(r, 8)?,
            card: super::parsed(r, 9)?,
            unit_id: r.get(10)?,
            inspector_id: r.get(11)?,
            notified_at: ts(r.get(12)?)?,
            deadline: ts(r.get(13)?)?,
            answered_at: ts(r.get(14)?)?,
            rework_count: r.get(15)?,
            pending,
            deferred_until: date_col(r.get(19)?)?,
            supervised: r.get::<_, i64>(20)? == 1,
            reassign_count: r.get(21)?,
            extension_count: r.get(22)?,
        },
    })
}

pub(in crate::db) fn by_ref(conn: &Connection, public_ref: &str) -> Result<Option<StoredCase>, AppError> {
    let sql = format!("SELECT {CASE_COLUMNS} {CASE_FROM} WHERE c.public_ref = ?1");
    Ok(conn.query_row(&sql, [public_ref], case_row).optional()?)
}

fn by_id(conn: &Connection, id: i64) -> Result<Option<StoredCase>, AppError> {
    let sql = format!("SELECT {CASE_COLUMNS} {CASE_FROM} WHERE c.id = ?1");
    Ok(conn.query_row(&sql, [id], case_row).optional()?)
}

/// Every case matching `condition` (over `c`, the cases table), by id: one
/// query, for the scheduler's candidates.
pub(in crate::db) fn list_where(
    conn: &Connection,
    condition: &str,
    params: impl crate::db::sql::Params,
) -> Result<Vec<StoredCase>, AppError> {
    let sql = format!("SELECT {CASE_COLUMNS} {CASE_FROM} WHERE {condition} ORDER BY c.id");
    Ok(conn.prepare_cached(&sql)?.query_map(params, case_row)?.collect::<Result<_, _>>()?)
}

fn live_for_finding(conn: &Connection, finding_id: &str) -> Result<Option<StoredCase>, AppError> {
    let sql =
        format!("SELECT {CASE_COLUMNS} {CASE_FROM} WHERE c.finding_id = ?1 AND c.state NOT IN ('closed', 'cancelled')");
    Ok(conn.query_row(&sql, [finding_id], case_row).optional()?)
}

/// What the evidence log records for a case event: every stored field.
#[allow(clippy::too_many_arguments)]
fn event_hash(
    case_id: i64,
    public_ref: &str,
    finding_id: &str,
    seq: i64,
    at_ms: i64,
    actor_kind: &str,
    actor_id: Option<&str>,
    event: &str,
    from: Option<&str>,
    to: &str,
    reason: Option<&str>,
    note: Option<&str>,
    explanation: Option<&str>,
    detail: &str,
    attachments: &[(String, String)],
) -> String {
    let fields = json!([
        case_id,
        public_ref,
        finding_id,
        seq,
        at_ms,
        actor_kind,
        actor_id,
        event,
        from,
        to,
        reason,
        note,
        explanation,
        detail,
        attachments
    ]);
    sha256_hex(format!("anfang-case-event-v1\n{fields}").as_bytes())
}

fn log_record_id(case_id: i64, seq: i64) -> String {
    format!("case/{case_id}/{seq}")
}

/// Appends one event (with attachments and its evidence-log entry).
fn append_event(
    tx: &Connection,
    stored: &StoredCase,
    from: Option<CaseState>,
    to: CaseState,
    ev: &NewEvent,
    now: Timestamp,
) -> Result<i64, AppError> {
    let seq: i64 =
        tx.query_row("SELECT coalesce(max(seq), 0) + 1 FROM case_events WHERE case_id = ?1", [stored.id], |r| {
            r.get(0)
        })?;
    let at_ms = now.as_millisecond();
    let detail = ev.detail.to_string();
    let actor_id = ev.actor.id();
    let atts: Vec<(String, String)> =
        ev.attachments.iter().map(|a| (a.kind.as_str().to_owned(), a.sha256.clone())).collect();
    let hash = event_hash(
        stored.id,
        &stored.public_ref,
        &stored.finding_id,
        seq,
        at_ms,
        ev.actor.kind(),
        actor_id.as_deref(),
        ev.event,
        from.map(CaseState::as_str),
        to.as_str(),
        ev.reason.as_deref(),
        ev.note.as_deref(),
        ev.explanation.as_deref(),
        &detail,
        &atts,
    );
    tx.execute(
        "INSERT INTO case_events (case_id, seq, at_ms, actor_kind, actor_id, event, from_state, to_state, reason,
                                  note, explanation, detail, record_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            stored.id,
            seq,
            at_ms,
            ev.actor.kind(),
            actor_id,
            ev.event,
            from.map(CaseState::as_str),
            to.as_str(),
            ev.reason,
            ev.note,
            ev.explanation,
            detail,
            hash
        ],
    )?;
    for (position, a) in ev.attachments.iter().enumerate() {
        tx.execute(
            "INSERT INTO case_attachments (case_id, seq, position, kind, sha256) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![stored.id, seq, position as i64, a.kind.as_str(), a.sha256],
        )?;
        if a.kind == AttachmentKind::Photo {
            // Named by a case now: the sweep must keep it.
            tx.execute("DELETE FROM unreferenced_photos WHERE sha256 = ?1", [&a.sha256])?;
        }
    }
    super::evidence::append(tx, LOG_KIND, &log_record_id(stored.id, seq), &hash, now)?;
    Ok(seq)
}

fn write_case(tx: &Connection, stored: &StoredCase, next: &Case, now: Timestamp) -> Result<(), AppError> {
    let ms = |t: Option<Timestamp>| t.map(|t| t.as_millisecond());
    let (pending, until, target) = match &next.pending {
        None => (None, None, None),
        Some(Pending::Return) => (Some("return"), None, None),
        Some(Pending::Extension { until }) => (Some("extension"), Some(until.as_millisecond()), None),
        Some(Pending::Deferral { target }) => (Some("deferral"), None, Some(target.to_string())),
    };
    let closed = if next.state.is_final() && !stored.case.state.is_final() {
        Some(now.as_millisecond())
    } else {
        stored.closed_at.map(|t| t.as_millisecond())
    };
    let changed = tx.execute(
        "UPDATE rectification_cases SET state = ?1, unit_id = ?2, notified_ms = ?3, deadline_ms = ?4,
            answered_ms = ?5, closed_ms = ?6, rework_count = ?7, reassign_count = ?8, extension_count = ?9,
            pending = ?10, pending_until_ms = ?11, pending_target = ?12, deferred_until = ?13, supervised = ?14,
            version = version + 1
         WHERE id = ?15 AND version = ?16",
        params![
            next.state.as_str(),
            next.unit_id,
            ms(next.notified_at),
            ms(next.deadline),
            ms(next.answered_at),
            closed,
            next.rework_count,
            next.reassign_count,
            next.extension_count,
            pending,
            until,
            target,
            next.deferred_until.map(|d| d.to_string()),
            i64::from(next.supervised),
            stored.id,
            stored.version
        ],
    )?;
    if changed != 1 {
        return Err(AppError::coded(
            axum::http::StatusCode::CONFLICT,
            anfang_core::error_code::ErrorCode::CaseChanged,
            "the case changed meanwhile; reload it and try again",
        ));
    }
    Ok(())
}

fn facts(conn: &Connection, stored: StoredCase) -> Result<CaseFacts, AppError> {
    let rule = rule_for(conn, &stored.category, stored.case.card)?;
    Ok(CaseFacts { rule, calendar: calendar(conn)?, policy: settings(conn)?.policy(), stored })
}

/// Moves one case: reads it and the rules, lets `decide` judge, writes the
/// result and its event. `None` from the lookup is the service's to refuse
/// (as "no such case", whoever asks).
pub(in crate::db) fn transition(
    tx: &Connection,
    stored: StoredCase,
    now: Timestamp,
    decide: impl FnOnce(&CaseFacts) -> Result<(Case, NewEvent), AppError>,
) -> Result<StoredCase, AppError> {
    let facts = facts(tx, stored)?;
    let (next, event) = decide(&facts)?;
    write_case(tx, &facts.stored, &next, now)?;
    append_event(tx, &facts.stored, Some(facts.stored.case.state), next.state, &event, now)?;
    Ok(by_id(tx, facts.stored.id)?.expect("just written"))
}

/// Writes an event that does not move the case (a 催办 sent, escalation),
/// optionally setting the 督办 flag.
pub(in crate::db) fn note_event(
    tx: &Connection,
    stored: &StoredCase,
    ev: &NewEvent,
    supervise: bool,
    now: Timestamp,
) -> Result<(), AppError> {
    if supervise {
        let mut next = stored.case.clone();
        next.supervised = true;
        write_case(tx, stored, &next, now)?;
    }
    append_event(tx, stored, Some(stored.case.state), stored.case.state, ev, now)?;
    Ok(())
}

/// The review hook: after a revision is stored, in its transaction. An
/// accepted or corrected yellow or red card has exactly one live case for
/// its unit and card; anything else has none. A correction that changes
/// the unit or the card cancels the old case and opens a new one (its own
/// deadline and history); one that changes only the category keeps it.
pub(in crate::db) fn on_review(
    tx: &Connection,
    finding_id: &str,
    revision: &super::reviews::Revision,
    reviewer_id: i64,
    now: Timestamp,
) -> Result<(), AppError> {
    let (decision, card, unit_id, reason) =
        (revision.decision.as_str(), revision.card.as_str(), revision.unit_id.as_str(), revision.reason.as_deref());
    let card: Option<Card> = card.parse().ok();
    let wants = matches!(decision, "accept" | "correct") && matches!(card, Some(Card::Red | Card::Yellow));
    // A re-check's finding is the verdict on another finding's case, never a case of its own.
    let recheck: bool = tx.query_row(
        "SELECT json_extract(content, '$.recheck') IS NOT NULL FROM findings WHERE id = ?1",
        [finding_id],
        |r| r.get(0),
    )?;
    let wants = wants && !recheck;
    let live = live_for_finding(tx, finding_id)?;
    if let Some(stored) = live {
        let same = wants && card == Some(stored.case.card) && stored.case.unit_id == unit_id;
        if same {
            return Ok(());
        }
        let why = match (decision, card) {
            ("reject", _) => "复核不予采纳，整改单撤销",
            (_, Some(Card::Green)) => "复核更正为绿牌，整改单撤销",
            _ => "复核更正责任单位或牌色，整改单撤销并重新立案",
        };
        let reason = reason.map(|r| format!("{why}：{r}")).unwrap_or_else(|| why.to_owned());
        transition(tx, stored, now, |facts| {
            let mut next = facts.stored.case.clone();
            next.state = CaseState::Cancelled;
            next.pending = None;
            let mut ev = NewEvent::new(ActorRef::Office(reviewer_id), "cancelled");
            ev.reason = Some(reason);
            Ok((next, ev))
        })?;
    }
    if !wants {
        return Ok(());
    }
    let card = card.expect("wants implies a card");
    let inspector_id: i64 =
        tx.query_row("SELECT inspector_id FROM findings WHERE id = ?1", [finding_id], |r| r.get(0))?;
    tx.execute(
        "INSERT INTO rectification_cases (public_ref, finding_id, unit_id, card, state, inspector_id, opened_ms)
         VALUES (lower(hex(randomblob(6))), ?1, ?2, ?3, 'open', ?4, ?5)",
        params![finding_id, unit_id, card.as_str(), inspector_id, now.as_millisecond()],
    )?;
    let stored = by_id(tx, tx.last_insert_rowid())?.expect("just inserted");
    let mut ev = NewEvent::new(ActorRef::Office(reviewer_id), "opened");
    ev.detail = json!({"card": card.as_str(), "unit_id": unit_id});
    append_event(tx, &stored, None, CaseState::Open, &ev, now)?;
    Ok(())
}

/// One event as the office sees it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct CaseEventView {
    pub seq: i64,
    pub at: String,
    /// office | unit | inspector | system
    pub actor_kind: String,
    /// The office user's or unit account's username; for an inspector's
    /// re-check, the alias (office only).
    pub actor: Option<String>,
    pub event: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub reason: Option<String>,
    pub note: Option<String>,
    pub explanation: Option<String>,
    pub detail: Value,
    pub attachments: Vec<Attachment>,
}

/// A case in the office's queue and detail.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct OfficeCase {
    pub reference: String,
    pub finding_id: String,
    pub state: String,
    pub state_label: String,
    pub card: Card,
    pub unit_id: String,
    pub unit_name: String,
    pub point_id: String,
    pub point_name: String,
    pub category: String,
    pub category_name: Option<String>,
    pub opened_at: String,
    pub notified_at: Option<String>,
    pub deadline: Option<String>,
    pub answered_at: Option<String>,
    pub closed_at: Option<String>,
    /// Whole days past due now (`None`: not overdue).
    pub overdue_days: Option<i64>,
    pub rework_count: u32,
    pub reassign_count: u32,
    pub extension_count: u32,
    /// The unit's request waiting for a decision: return | extension | deferral.
    pub pending: Option<String>,
    pub pending_until: Option<String>,
    pub pending_target: Option<String>,
    pub deferred_until: Option<String>,
    pub supervised: bool,
    /// The finding's photos (before).
    pub photos: Vec<String>,
}

/// Filters of the office's case queue (unknown parameters are ignored,
/// as in the other lists, so a shared link with extra ones still opens).
#[derive(Debug, Clone, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct CaseQuery {
    /// open | answered | rework | deferred | closed | cancelled, or `live` (not closed or cancelled).
    pub state: Option<String>,
    pub unit: Option<String>,
    pub card: Option<Card>,
    /// Only cases past due now.
    pub overdue: Option<bool>,
    /// Only cases with a request of the unit's waiting.
    pub pending: Option<bool>,
    /// Page size (default 100, at most 500).
    #[schemars(range(min = 1, max = 500))]
    pub limit: Option<u32>,
    /// Skip this many (ordered by deadline, then reference).
    pub offset: Option<u32>,
}

fn rfc(t: Option<Timestamp>) -> Option<String> {
    t.map(|t| t.to_string())
}

fn office_view(conn: &Connection, s: &StoredCase, now: &jiff::ZonedDateTime) -> Result<OfficeCase, AppError> {
    let (unit_name, point_name, category_name): (String, String, Option<String>) = conn.query_row(
        "SELECT u.name, p.name, (SELECT name FROM categories WHERE code = ?3)
         FROM units u, points p WHERE u.id = ?1 AND p.id = ?2",
        params![s.case.unit_id, s.point_id, s.category],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let (pending, pending_until, pending_target) = match &s.case.pending {
        None => (None, None, None),
        Some(Pending::Return) => (Some("return".to_owned()), None, None),
        Some(Pending::Extension { until }) => (Some("extension".to_owned()), Some(until.to_string()), None),
        Some(Pending::Deferral { target }) => (Some("deferral".to_owned()), None, Some(target.to_string())),
    };
    Ok(OfficeCase {
        reference: s.public_ref.clone(),
        finding_id: s.finding_id.clone(),
        state: s.case.state.as_str().to_owned(),
        state_label: s.case.state.label_zh().to_owned(),
        card: s.case.card,
        unit_id: s.case.unit_id.clone(),
        unit_name,
        point_id: s.point_id.clone(),
        point_name,
        category: s.category.clone(),
        category_name,
        opened_at: s.opened_at.to_string(),
        notified_at: rfc(s.case.notified_at),
        deadline: rfc(s.case.deadline),
        answered_at: rfc(s.case.answered_at),
        closed_at: rfc(s.closed_at),
        overdue_days: s.case.overdue_days(now),
        rework_count: s.case.rework_count,
        reassign_count: s.case.reassign_count,
        extension_count: s.case.extension_count,
        pending,
        pending_until,
        pending_target,
        deferred_until: s.case.deferred_until.map(|d| d.to_string()),
        supervised: s.case.supervised,
        photos: finding_photos(conn, &s.finding_id)?,
    })
}

fn finding_photos(conn: &Connection, finding_id: &str) -> Result<Vec<String>, AppError> {
    let mut stmt = conn.prepare_cached("SELECT sha256 FROM finding_photos WHERE finding_id = ?1 ORDER BY position")?;
    Ok(stmt.query_map([finding_id], |r| r.get(0))?.collect::<Result<_, _>>()?)
}

fn events(conn: &Connection, case_id: i64) -> Result<Vec<CaseEventView>, AppError> {
    Ok(timed_events(conn, case_id)?.into_iter().map(|(_, e)| e).collect())
}

/// The case's events with the millisecond each was written at.
fn timed_events(conn: &Connection, case_id: i64) -> Result<Vec<(i64, CaseEventView)>, AppError> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.seq, e.at_ms, e.actor_kind, e.actor_id, e.event, e.from_state, e.to_state, e.reason, e.note,
                e.explanation, e.detail,
                CASE e.actor_kind
                  WHEN 'office' THEN (SELECT username FROM users WHERE id = CAST(e.actor_id AS INTEGER))
                  WHEN 'unit' THEN (SELECT username FROM users WHERE id = CAST(e.actor_id AS INTEGER))
                  WHEN 'inspector' THEN (SELECT alias FROM inspectors WHERE id = CAST(e.actor_id AS INTEGER))
                END
         FROM case_events e WHERE e.case_id = ?1 ORDER BY e.seq",
    )?;
    let mut atts = conn.prepare_cached(
        "SELECT kind, sha256 FROM case_attachments WHERE case_id = ?1 AND seq = ?2 ORDER BY position",
    )?;
    let rows = stmt.query_map([case_id], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(11)?,
            r.get::<_, String>(4)?,
            r.get::<_, Option<String>>(5)?,
            r.get::<_, String>(6)?,
            r.get::<_, Option<String>>(7)?,
            r.get::<_, Option<String>>(8)?,
            r.get::<_, Option<String>>(9)?,
            r.get::<_, String>(10)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, at_ms, actor_kind, actor, event, from_state, to_state, reason, note, explanation, detail) = row?;
        let attachments = atts
            .query_map(params![case_id, seq], |r| {
                let kind: String = r.get(0)?;
                Ok(Attachment {
                    kind: if kind == "pdf" { AttachmentKind::Pdf } else { AttachmentKind::Photo },
                    sha256: r.get(1)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        out.push((
            at_ms,
            CaseEventView {
                seq,
                at: super::ms_timestamp(at_ms)?.to_string(),
                actor_kind,
                actor,
                event,
                from_state,
                to_state,
                reason,
                note,
                explanation,
                detail: serde_json::from_str(&detail).unwrap_or(Value::Null),
                attachments,
            },
        ));
    }
    Ok(out)
}

/// One state's count in the office's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseStateCount {
    pub state: CaseState,
    pub cases: i64,
    /// Of these, how many wait for a decision on a unit's request.
    pub pending: i64,
}

/// A case with its whole history, for the office.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct OfficeCaseDetail {
    #[serde(flatten)]
    pub case: OfficeCase,
    pub events: Vec<CaseEventView>,
}

fn office_list(conn: &Connection, q: &CaseQuery, now: &jiff::ZonedDateTime) -> Result<Vec<OfficeCase>, AppError> {
    let mut sql = format!("SELECT {CASE_COLUMNS} {CASE_FROM} WHERE 1 = 1");
    let mut args: Vec<Box<dyn crate::db::sql::ToSql>> = Vec::new();
    match q.state.as_deref() {
        None | Some("") => {}
        Some("live") => sql.push_str(" AND c.state NOT IN ('closed', 'cancelled')"),
        Some(st) => {
            args.push(Box::new(st.to_owned()));
            sql.push_str(&format!(" AND c.state = ?{}", args.len()));
        }
    }
    if let Some(unit) = q.unit.as_deref().filter(|u| !u.is_empty()) {
        args.push(Box::new(unit.to_owned()));
        sql.push_str(&format!(" AND c.unit_id = ?{}", args.len()));
    }
    if let Some(card) = q.card {
        args.push(Box::new(card.as_str()));
        sql.push_str(&format!(" AND c.card = ?{}", args.len()));
    }
    if q.pending == Some(true) {
        sql.push_str(" AND c.pending IS NOT NULL");
    }
    let overdue_only = q.overdue == Some(true);
    if overdue_only {
        // Deadline passed (deferred cases are checked against their target below).
        args.push(Box::new(now.timestamp().as_millisecond()));
        sql.push_str(&format!(
            " AND c.state IN ('open', 'rework', 'deferred') AND (c.state = 'deferred' OR c.deadline_ms < ?{})",
            args.len()
        ));
    }
    sql.push_str(" ORDER BY c.deadline_ms IS NULL, c.deadline_ms, c.public_ref");
    let limit = q.limit.unwrap_or(100).clamp(1, 500) as usize;
    let offset = q.offset.unwrap_or(0) as usize;
    if !overdue_only {
        sql.push_str(&format!(" LIMIT {limit} OFFSET {offset}"));
    }
    let mut stmt = conn.prepare(&sql)?;
    let params: Vec<&dyn crate::db::sql::ToSql> = args.iter().map(|a| a.as_ref()).collect();
    let rows: Vec<StoredCase> = stmt.query_map(params.as_slice(), case_row)?.collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    let mut skipped = 0;
    for s in rows {
        if overdue_only {
            if s.case.overdue_days(now).is_none() {
                continue;
            }
            if skipped < offset {
                skipped += 1;
                continue;
            }
            if out.len() == limit {
                break;
            }
        }
        out.push(office_view(conn, &s, now)?);
    }
    Ok(out)
}

/// A case as its unit reads it: nothing about who inspected, where they
/// stood or when to the minute.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct UnitCase {
    pub reference: String,
    pub state: String,
    pub state_label: String,
    pub card: Card,
    pub point_id: String,
    pub point_name: String,
    pub category: String,
    pub category_name: Option<String>,
    /// The date the problem was observed (office time zone).
    #[schemars(with = "String")]
    pub observed_on: Date,
    /// 上午, 下午 or 晚上.
    pub part_of_day: String,
    pub notified_at: Option<String>,
    pub deadline: Option<String>,
    pub overdue_days: Option<i64>,
    pub rework_count: u32,
    pub pending: Option<String>,
    pub pending_until: Option<String>,
    pub pending_target: Option<String>,
    pub deferred_until: Option<String>,
    pub supervised: bool,
    /// The finding's photos (before), as stored: metadata-free.
    pub photos: Vec<String>,
    /// What the unit must do next, in Chinese.
    pub next_step: String,
}

/// One event as a unit reads it: who only as a role.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct UnitCaseEvent {
    /// The day of the event (office time zone). Never the minute: a
    /// re-check's time is when an inspector stood at the point, and the
    /// office's decisions follow their visits.
    #[schemars(with = "String")]
    pub on: Date,
    /// 上午, 下午 or 晚上.
    pub part_of_day: String,
    /// 督查办 | 本单位 | 原责任单位 (before a reassignment) | 复查 | 系统
    pub by: String,
    pub event: String,
    pub to_state: String,
    pub reason: Option<String>,
    pub note: Option<String>,
    pub explanation: Option<String>,
    /// The deadline, requested date or target an event set, where it set one.
    pub detail: Value,
    pub attachments: Vec<Attachment>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct UnitCaseDetail {
    #[serde(flatten)]
    pub case: UnitCase,
    pub events: Vec<UnitCaseEvent>,
}

fn next_step(s: &StoredCase) -> String {
    let c = &s.case;
    if c.pending.is_some() {
        return "申请已提交，等待督查办决定；期限照常计算".into();
    }
    match c.state {
        CaseState::Open if c.rework_count == 0 => {
            if c.card == Card::Red {
                "请整改并上传整改后照片、整改说明和书面说明".into()
            } else {
                "请整改并上传整改后照片和整改说明".into()
            }
        }
        CaseState::Open | CaseState::Rework => "复查未通过，请重新整改并反馈".into(),
        CaseState::Deferred => "已挂账，请在目标日期前完成整改并反馈".into(),
        CaseState::Answered => "已反馈，等待复查".into(),
        CaseState::Closed => "已整改（复查通过），已销号".into(),
        CaseState::Cancelled => "已撤销，无需整改".into(),
    }
}

fn unit_view(
    conn: &Connection,
    s: &StoredCase,
    tz: &TimeZone,
    now: &jiff::ZonedDateTime,
) -> Result<UnitCase, AppError> {
    let o = office_view(conn, s, now)?;
    let observed_ms: i64 =
        conn.query_row("SELECT observed_ms FROM findings WHERE id = ?1", [&s.finding_id], |r| r.get(0))?;
    let (observed_on, part) = crate::redact::coarse_time(observed_ms, tz).map_err(AppError::internal)?;
    Ok(UnitCase {
        reference: o.reference,
        state: o.state,
        state_label: o.state_label,
        card: o.card,
        point_id: o.point_id,
        point_name: o.point_name,
        category: o.category,
        category_name: o.category_name,
        observed_on,
        part_of_day: part.to_owned(),
        notified_at: o.notified_at,
        deadline: o.deadline,
        overdue_days: o.overdue_days,
        rework_count: o.rework_count,
        pending: o.pending,
        pending_until: o.pending_until,
        pending_target: o.pending_target,
        deferred_until: o.deferred_until,
        supervised: o.supervised,
        photos: o.photos,
        next_step: next_step(s),
    })
}

/// Detail keys a unit may read: dates the office set for it, and the unit
/// a case went to. Never a finding id, inspector or draw.
const UNIT_DETAIL_KEYS: &[&str] = &["deadline", "until", "target", "to_unit"];

fn unit_events(conn: &Connection, s: &StoredCase, tz: &TimeZone) -> Result<Vec<UnitCaseEvent>, AppError> {
    // Reviewers know aliases and write reasons (a review's reason becomes a
    // cancellation's): whatever reaches a unit has them masked.
    let mask = super::accounts::alias_mask(conn)?;
    // A reassigned case keeps its history: what the earlier unit did is not
    // "本单位" to the one that has it now.
    let mut stmt = conn.prepare_cached(
        "SELECT e.seq FROM case_events e JOIN users u ON u.id = CAST(e.actor_id AS INTEGER)
         WHERE e.case_id = ?1 AND e.actor_kind = 'unit' AND u.unit_id IS NOT ?2",
    )?;
    let others: std::collections::HashSet<i64> =
        stmt.query_map(params![s.id, s.case.unit_id], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    // The internal bookkeeping of who was told what is the office's.
    for (at_ms, e) in timed_events(conn, s.id)? {
        if e.event == "opened" && e.actor_kind == "inspector" {
            continue;
        }
        let (on, part) = crate::redact::coarse_time(at_ms, tz).map_err(AppError::internal)?;
        out.push((on, part, e));
    }
    Ok(out
        .into_iter()
        .map(|(on, part, e)| {
            let by = match e.actor_kind.as_str() {
                "unit" if others.contains(&e.seq) => "原责任单位",
                "unit" => "本单位",
                "inspector" => "复查",
                "office" => "督查办",
                _ => "系统",
            };
            let detail = match &e.detail {
                Value::Object(map) => Value::Object(
                    map.iter()
                        .filter(|(k, _)| UNIT_DETAIL_KEYS.contains(&k.as_str()))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                ),
                _ => json!({}),
            };
            // An inspector's re-check may carry their own words in a note;
            // the unit is told the result, never the visitor's text.
            let mut note = if e.actor_kind == "inspector" { None } else { e.note };
            let (mut reason, mut explanation) = (e.reason, e.explanation);
            for text in [&mut note, &mut reason, &mut explanation] {
                mask.mask_note(text);
            }
            UnitCaseEvent {
                on,
                part_of_day: part.to_owned(),
                by: by.to_owned(),
                event: e.event,
                to_state: e.to_state,
                reason,
                note,
                explanation,
                detail,
                attachments: e.attachments,
            }
        })
        .collect())
}

/// Unit-visible cases: its own, once notified.
fn unit_list(
    conn: &Connection,
    unit_id: &str,
    tz: &TimeZone,
    now: &jiff::ZonedDateTime,
) -> Result<Vec<UnitCase>, AppError> {
    let sql = format!(
        "SELECT {CASE_COLUMNS} {CASE_FROM} WHERE c.unit_id = ?1 AND c.notified_ms IS NOT NULL
         ORDER BY c.state IN ('closed', 'cancelled'), c.deadline_ms, c.public_ref LIMIT 1000"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows: Vec<StoredCase> = stmt.query_map([unit_id], case_row)?.collect::<Result<_, _>>()?;
    rows.iter().map(|s| unit_view(conn, s, tz, now)).collect()
}

/// Whether a photo is one a unit may fetch: a before-photo of one of its
/// notified cases, or an attachment on one.
fn unit_may_see_photo(conn: &Connection, unit_id: &str, sha256: &str) -> Result<bool, AppError> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM rectification_cases c JOIN finding_photos p ON p.finding_id = c.finding_id
                        WHERE c.unit_id = ?1 AND c.notified_ms IS NOT NULL AND p.sha256 = ?2)
             OR EXISTS (SELECT 1 FROM rectification_cases c JOIN case_attachments a ON a.case_id = c.id
                        WHERE c.unit_id = ?1 AND c.notified_ms IS NOT NULL AND a.sha256 = ?2)",
        params![unit_id, sha256],
        |r| r.get(0),
    )?)
}

/// Checks every case event against its evidence-log entry; one line per problem.
pub(in crate::db) fn audit(
    conn: &Connection,
    logged: &std::collections::HashMap<String, (i64, String)>,
) -> Result<Vec<String>, AppError> {
    let mut problems = Vec::new();
    let mut stmt = conn.prepare(
        "SELECT e.case_id, c.public_ref, c.finding_id, e.seq, e.at_ms, e.actor_kind, e.actor_id, e.event,
                e.from_state, e.to_state, e.reason, e.note, e.explanation, e.detail
         FROM case_events e LEFT JOIN rectification_cases c ON c.id = e.case_id ORDER BY e.case_id, e.seq",
    )?;
    let mut atts =
        conn.prepare("SELECT kind, sha256 FROM case_attachments WHERE case_id = ?1 AND seq = ?2 ORDER BY position")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let case_id: i64 = r.get(0)?;
        let seq: i64 = r.get(3)?;
        let public_ref: Option<String> = r.get(1)?;
        let finding_id: Option<String> = r.get(2)?;
        let attachments: Vec<(String, String)> =
            atts.query_map(params![case_id, seq], |a| Ok((a.get(0)?, a.get(1)?)))?.collect::<Result<_, _>>()?;
        let hash = event_hash(
            case_id,
            public_ref.as_deref().unwrap_or(""),
            finding_id.as_deref().unwrap_or(""),
            seq,
            r.get(4)?,
            &r.get::<_, String>(5)?,
            r.get::<_, Option<String>>(6)?.as_deref(),
            &r.get::<_, String>(7)?,
            r.get::<_, Option<String>>(8)?.as_deref(),
            &r.get::<_, String>(9)?,
            r.get::<_, Option<String>>(10)?.as_deref(),
            r.get::<_, Option<String>>(11)?.as_deref(),
            r.get::<_, Option<String>>(12)?.as_deref(),
            &r.get::<_, String>(13)?,
            &attachments,
        );
        let id = log_record_id(case_id, seq);
        match logged.get(&id) {
            Some((_, h)) if *h == hash => {}
            Some((entry, _)) => {
                problems.push(format!("case event {id}: log entry {entry} records another hash (altered)"))
            }
            None => problems.push(format!("case event {id}: is not in the evidence log")),
        }
    }
    Ok(problems)
}

/// Whether a `case_event` log entry's record still exists.
pub(in crate::db) fn event_exists(conn: &Connection, record_id: &str) -> Result<bool, AppError> {
    let Some((case, seq)) = record_id.strip_prefix("case/").and_then(|r| r.split_once('/')) else {
        return Ok(false);
    };
    let (Ok(case), Ok(seq)) = (case.parse::<i64>(), seq.parse::<i64>()) else {
        return Ok(false);
    };
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM case_events WHERE case_id = ?1 AND seq = ?2)",
        params![case, seq],
        |r| r.get(0),
    )?)
}

/// A stored attachment file (a PDF scan), content-addressed.
pub(in crate::db) fn file_known(conn: &Connection, kind: AttachmentKind, sha256: &str) -> Result<bool, AppError> {
    let sql = match kind {
        AttachmentKind::Photo => "SELECT EXISTS (SELECT 1 FROM photos WHERE sha256 = ?1)",
        AttachmentKind::Pdf => "SELECT EXISTS (SELECT 1 FROM case_files WHERE sha256 = ?1)",
    };
    Ok(conn.query_row(sql, [sha256], |r| r.get(0))?)
}

impl super::Db {
    /// A case by its public reference.
    pub async fn case_by_ref(&self, public_ref: String) -> Result<Option<StoredCase>, AppError> {
        self.read(move |c| by_ref(c, &public_ref)).await
    }

    /// Moves the case `public_ref` names, as `decide` judges, in one
    /// transaction with its event and evidence entry. `decide` gets `None`
    /// facts for a reference that names no case.
    pub async fn case_transition(
        &self,
        public_ref: String,
        now: Timestamp,
        decide: impl FnOnce(Option<&CaseFacts>) -> Result<(Case, NewEvent), AppError> + Send + 'static,
        attachments_must_exist: bool,
    ) -> Result<StoredCase, AppError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let Some(stored) = by_ref(&tx, &public_ref)? else {
                decide(None)?;
                return Err(AppError::NotFound(format!("no case {public_ref}")));
            };
            let out = transition(&tx, stored, now, |facts| {
                let (next, ev) = decide(Some(facts))?;
                if attachments_must_exist {
                    for a in &ev.attachments {
                        if !file_known(&tx, a.kind, &a.sha256)? {
                            return Err(crate::app::cases::CaseInputError::AttachmentUnknown(a.sha256.clone()).into());
                        }
                    }
                }
                Ok((next, ev))
            })?;
            tx.commit()?;
            Ok(out)
        })
        .await
    }

    pub async fn office_cases(&self, q: CaseQuery, now: jiff::ZonedDateTime) -> Result<Vec<OfficeCase>, AppError> {
        self.read(move |c| office_list(c, &q, &now)).await
    }

    pub async fn office_case(
        &self,
        public_ref: String,
        now: jiff::ZonedDateTime,
    ) -> Result<Option<OfficeCaseDetail>, AppError> {
        self.read(move |c| {
            let Some(s) = by_ref(c, &public_ref)? else { return Ok(None) };
            Ok(Some(OfficeCaseDetail { case: office_view(c, &s, &now)?, events: events(c, s.id)? }))
        })
        .await
    }

    /// How many cases are in each state, and how many of them wait for a
    /// decision on a unit's request: the console queue's header.
    pub async fn office_case_counts(&self) -> Result<Vec<CaseStateCount>, AppError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT state, count(*), count(pending) FROM rectification_cases GROUP BY state ORDER BY state",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(CaseStateCount { state: super::parsed(r, 0)?, cases: r.get(1)?, pending: r.get(2)? })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Units with live cases and no active 联系人 that can be reached (by
    /// email or a webhook): their digests and reminders reach nobody, so
    /// the office must add one. (unit id, name, live cases), by unit id.
    pub async fn units_without_contacts(&self) -> Result<Vec<(String, String, i64)>, AppError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT u.id, u.name, count(*) FROM rectification_cases rc JOIN units u ON u.id = rc.unit_id
                 WHERE rc.state NOT IN ('closed', 'cancelled')
                   AND NOT EXISTS (SELECT 1 FROM unit_contacts k WHERE k.unit_id = rc.unit_id AND k.active = 1
                                   AND k.role = 'contact' AND (k.email IS NOT NULL OR k.webhook_url IS NOT NULL))
                 GROUP BY u.id ORDER BY u.id",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// The reference of a finding's case: the live one, else the latest
    /// (a finding corrected to green keeps its cancelled case's history).
    pub async fn case_ref_for_finding(&self, finding_id: String) -> Result<Option<String>, AppError> {
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT public_ref FROM rectification_cases WHERE finding_id = ?1
                 ORDER BY state IN ('closed', 'cancelled'), id DESC LIMIT 1",
                [finding_id],
                |r| r.get(0),
            )
            .optional()?)
        })
        .await
    }

    pub async fn unit_cases(
        &self,
        unit_id: String,
        tz: TimeZone,
        now: jiff::ZonedDateTime,
    ) -> Result<Vec<UnitCase>, AppError> {
        self.read(move |c| unit_list(c, &unit_id, &tz, &now)).await
    }

    /// A unit's own, notified case; `None` for any other (indistinguishable).
    pub async fn unit_case(
        &self,
        unit_id: String,
        public_ref: String,
        tz: TimeZone,
        now: jiff::ZonedDateTime,
    ) -> Result<Option<UnitCaseDetail>, AppError> {
        self.read(move |c| {
            let Some(s) = by_ref(c, &public_ref)? else { return Ok(None) };
            if s.case.unit_id != unit_id || s.case.notified_at.is_none() {
                return Ok(None);
            }
            Ok(Some(UnitCaseDetail { case: unit_view(c, &s, &tz, &now)?, events: unit_events(c, &s, &tz)? }))
        })
        .await
    }

    /// A responsible unit by id, active or not.
    pub async fn unit_record(&self, id: String) -> Result<Option<anfang_core::domain::Unit>, AppError> {
        self.read(move |c| super::reference::unit(c, &id)).await
    }

    pub async fn unit_may_see_photo(&self, unit_id: String, sha256: String) -> Result<bool, AppError> {
        self.read(move |c| unit_may_see_photo(c, &unit_id, &sha256)).await
    }

    pub async fn rectification_settings(&self) -> Result<RectificationSettings, AppError> {
        self.read(settings).await
    }

    pub async fn put_rectification_settings(&self, s: RectificationSettings) -> Result<(), AppError> {
        self.write(move |c| {
            let tx = c.transaction()?;
            put_settings(&tx, &s)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    pub async fn calendar_days(&self) -> Result<Vec<CalendarDay>, AppError> {
        self.read(calendar_days).await
    }

    /// Replaces the calendar's entries for the years the import covers
    /// (all or nothing), keeping other years.
    pub async fn import_calendar(&self, days: Vec<CalendarDay>) -> Result<usize, AppError> {
        self.write(move |c| {
            let tx = c.transaction()?;
            let years: std::collections::BTreeSet<i16> = days.iter().map(|d| d.date.year()).collect();
            for y in years {
                tx.execute("DELETE FROM office_calendar WHERE substr(date, 1, 4) = ?1", [format!("{y:04}")])?;
            }
            for d in &days {
                let kind = match d.kind {
                    DayKind::Holiday => "holiday",
                    DayKind::Workday => "workday",
                };
                tx.execute(
                    "INSERT INTO office_calendar (date, kind, note) VALUES (?1, ?2, ?3)
                     ON CONFLICT (date) DO UPDATE SET kind = excluded.kind, note = excluded.note",
                    params![d.date.to_string(), kind, d.note],
                )?;
            }
            tx.commit()?;
            Ok(days.len())
        })
        .await
    }

    pub async fn category_deadlines(&self) -> Result<Vec<CategoryDeadline>, AppError> {
        self.read(category_deadlines).await
    }

    /// Replaces every category deadline (all or nothing).
    pub async fn put_category_deadlines(&self, rows: Vec<CategoryDeadline>) -> Result<(), AppError> {
        self.write(move |c| {
            let tx = c.transaction()?;
            tx.execute("DELETE FROM category_deadlines", [])?;
            for d in &rows {
                tx.execute(
                    "INSERT INTO category_deadlines (category, card, unit, amount) VALUES (?1, ?2, ?3, ?4)",
                    params![d.category, d.card.as_str(), d.unit, d.amount],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Records an uploaded PDF scan (the file is already in place).
    pub async fn record_case_file(&self, sha256: String, byte_len: u64, now: Timestamp) -> Result<(), AppError> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO case_files (sha256, byte_len, stored_ms) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![sha256, byte_len as i64, now.as_millisecond()],
            )?;
            Ok(())
        })
        .await
    }

    /// Records a photo processed on the server (a unit's after-photo) as
    /// stored, unreferenced until an event names it.
    pub async fn record_server_photo(
        &self,
        sha256: String,
        byte_len: u64,
        width: u32,
        height: u32,
        now: Timestamp,
    ) -> Result<(), AppError> {
        self.write(move |c| {
            let tx = c.transaction()?;
            let added = tx.execute(
                "INSERT INTO photos (sha256, byte_len, width, height, stored_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT DO NOTHING",
                params![sha256, byte_len as i64, width, height, now.to_string()],
            )?;
            if added == 1 {
                tx.execute(
                    "INSERT INTO unreferenced_photos (sha256, stored_ms) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                    params![sha256, now.as_millisecond()],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }
}

/// Recipients for a case's notice (re-exported for the scheduler).
pub(in crate::db) fn recipients_for(
    conn: &Connection,
    s: &StoredCase,
    roles: &[ContactRole],
) -> Result<Vec<outbox::Recipient>, AppError> {
    outbox::recipients(conn, &s.case.unit_id, Some(&s.point_id), roles)
}
