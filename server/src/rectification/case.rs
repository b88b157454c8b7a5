//! A rectification case (整改单) and the only ways it may move.
//!
//! [`apply`] is the whole state machine, pure: it takes what storage knows
//! of the case, who acts, what they ask and the time, and answers with the
//! case as it must become, or the typed reason it may not. Storage writes
//! the result and the event in one transaction; nothing else decides.
//!
//! ```text
//!            notice sent (deadline starts)
//!  Open ─────────────────────────────────┐
//!   │  unit answers (photo + note, 红牌: 书面说明)
//!   ▼
//!  Answered ── re-check passed / yellow closed on evidence ──▶ Closed (销号)
//!   │
//!   └─ re-check not passed ──▶ Rework (返工: new deadline, rework count + 1;
//!                               at the third, 督办) ── unit answers ──▶ Answered
//!  Open/Rework ── unit's 书面说明 accepted ──▶ Deferred (挂账, a target date) ── answers ──▶ Answered
//!  Open ── return (退回) granted: reassigned ──▶ Open for the new unit, clock restarts
//!  any open state ── finding corrected to green or rejected ──▶ Cancelled
//! ```
//!
//! Overdue (逾期) is not a state: it is a fact of the time, see [`Case::overdue_days`].

use super::calendar::{CalendarError, DeadlineRule, OfficeCalendar};
use crate::auth::Role;
use anfang_core::Card;
use anfang_core::error_code::ErrorCode;
use jiff::{Timestamp, ZonedDateTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// 待整改: opened; once the notice is sent the deadline runs.
    Open,
    /// 已反馈: the unit answered with evidence; waiting for the re-check.
    Answered,
    /// 返工: a re-check did not pass; open again with a new deadline.
    Rework,
    /// 挂账: cannot be fixed by the deadline; the office accepted the unit's
    /// written explanation, and the case stays listed with a target date.
    Deferred,
    /// 已整改 (销号): a re-check passed, or a yellow card was closed on evidence.
    Closed,
    /// 已撤销: the finding was corrected to green or rejected.
    Cancelled,
}

impl CaseState {
    pub const ALL: [CaseState; 6] = [
        CaseState::Open,
        CaseState::Answered,
        CaseState::Rework,
        CaseState::Deferred,
        CaseState::Closed,
        CaseState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::Open => "open",
            CaseState::Answered => "answered",
            CaseState::Rework => "rework",
            CaseState::Deferred => "deferred",
            CaseState::Closed => "closed",
            CaseState::Cancelled => "cancelled",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            CaseState::Open => "待整改",
            CaseState::Answered => "已反馈",
            CaseState::Rework => "返工",
            CaseState::Deferred => "挂账",
            CaseState::Closed => "已整改",
            CaseState::Cancelled => "已撤销",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, CaseState::Closed | CaseState::Cancelled)
    }

    /// States in which the unit owes an answer (and the deadline can pass).
    pub fn awaits_unit(self) -> bool {
        matches!(self, CaseState::Open | CaseState::Rework | CaseState::Deferred)
    }
}

impl std::str::FromStr for CaseState {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        CaseState::ALL.into_iter().find(|st| st.as_str() == s).ok_or(())
    }
}

/// A request of the unit's that waits for the office's decision. At most
/// one at a time; the deadline keeps running while it waits (units that
/// bounce cases to gain time is the known failure of comparable systems).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    /// 退回: "this is not our job".
    Return,
    /// 延期: a later deadline.
    Extension { until: Timestamp },
    /// 挂账: cannot be fixed in time; a written explanation and a target date.
    Deferral { target: jiff::civil::Date },
}

/// What storage knows of a case, and all [`apply`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    pub state: CaseState,
    pub card: Card,
    pub unit_id: String,
    /// The inspector whose finding opened the case: never shown to a unit,
    /// only used to keep the re-check independent.
    pub inspector_id: i64,
    /// When the notice went out to the current unit; the deadline runs from it.
    pub notified_at: Option<Timestamp>,
    pub deadline: Option<Timestamp>,
    /// When the unit's latest answer came in (cleared when a re-check fails).
    pub answered_at: Option<Timestamp>,
    pub rework_count: u32,
    pub pending: Option<Pending>,
    /// 挂账's target date (the end of that day, office time).
    pub deferred_until: Option<jiff::civil::Date>,
    /// 督办: flagged for the leaders.
    pub supervised: bool,
    pub reassign_count: u32,
    pub extension_count: u32,
}

impl Case {
    /// A new case for an accepted yellow or red finding, before its notice.
    pub fn opened(card: Card, unit_id: String, inspector_id: i64) -> Self {
        Case {
            state: CaseState::Open,
            card,
            unit_id,
            inspector_id,
            notified_at: None,
            deadline: None,
            answered_at: None,
            rework_count: 0,
            pending: None,
            deferred_until: None,
            supervised: false,
            reassign_count: 0,
            extension_count: 0,
        }
    }

    /// Whole days past due, counting a started day (one hour late is one
    /// day), if the unit still owes an answer and its time has passed.
    pub fn overdue_days(&self, now: &ZonedDateTime) -> Option<i64> {
        if !self.state.awaits_unit() {
            return None;
        }
        let due = match (self.state, self.deferred_until) {
            (CaseState::Deferred, Some(target)) => {
                target.tomorrow().ok()?.to_zoned_datetime(now.time_zone().clone()).ok()?.timestamp()
            }
            _ => self.deadline?,
        };
        let late = due.duration_until(now.timestamp());
        if late <= jiff::SignedDuration::ZERO {
            return None;
        }
        Some((late.as_secs() + 86_399) / 86_400)
    }

    /// Closed with the (last) answer in by the deadline in force then.
    pub fn closed_on_time(&self) -> Option<bool> {
        if self.state != CaseState::Closed {
            return None;
        }
        Some(match (self.answered_at, self.deadline) {
            (Some(a), Some(d)) => a <= d,
            _ => false,
        })
    }
}

/// Who acts. Office roles are checked by the route table first; the
/// machine still refuses an action to the wrong kind of actor.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    Unit {
        unit_id: &'a str,
    },
    Office {
        role: Role,
    },
    Inspector {
        inspector_id: i64,
    },
    /// The server itself: notices, and cancellation when a review changes.
    System,
}

/// What the actor asks for. Text is already length-bounded by the caller's
/// parser; the machine checks what is required and what is present.
#[derive(Debug, Clone)]
pub enum Action<'a> {
    /// The notice reached the unit's channels: the deadline starts.
    Notify,
    /// The unit's answer: after-photos, a note, and for a red card a 书面说明.
    Answer {
        photos: usize,
        note: &'a str,
        explanation: Option<&'a str>,
    },
    RequestReturn {
        reason: &'a str,
    },
    /// `Some(unit)`: reassigned to that unit (its clock restarts with a new
    /// notice); `None`: refused, with a reason.
    DecideReturn {
        reassign_to: Option<&'a str>,
        reason: &'a str,
    },
    RequestExtension {
        until: Timestamp,
        reason: &'a str,
    },
    DecideExtension {
        grant: bool,
        reason: &'a str,
    },
    RequestDeferral {
        explanation: &'a str,
        target: jiff::civil::Date,
    },
    DecideDeferral {
        accept: bool,
        reason: &'a str,
    },
    /// A re-check visit's result, by an inspector other than the finder.
    Recheck {
        passed: bool,
    },
    /// A reviewer closes a yellow card on the unit's evidence alone.
    CloseOnEvidence {
        reason: &'a str,
    },
    Cancel {
        reason: &'a str,
    },
}

impl Action<'_> {
    /// The event's name in the case history and the evidence log.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Notify => "notified",
            Action::Answer { .. } => "answered",
            Action::RequestReturn { .. } => "return_requested",
            Action::DecideReturn { reassign_to: Some(_), .. } => "reassigned",
            Action::DecideReturn { reassign_to: None, .. } => "return_refused",
            Action::RequestExtension { .. } => "extension_requested",
            Action::DecideExtension { grant: true, .. } => "extension_granted",
            Action::DecideExtension { grant: false, .. } => "extension_refused",
            Action::RequestDeferral { .. } => "deferral_requested",
            Action::DecideDeferral { accept: true, .. } => "deferred",
            Action::DecideDeferral { accept: false, .. } => "deferral_refused",
            Action::Recheck { passed: true } => "recheck_passed",
            Action::Recheck { passed: false } => "recheck_failed",
            Action::CloseOnEvidence { .. } => "closed_on_evidence",
            Action::Cancel { .. } => "cancelled",
        }
    }
}

/// The office's rules for cases (settings, with these defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CasePolicy {
    /// How long after the notice a unit may return a case (退回).
    pub return_window: DeadlineRule,
    /// Whether a reviewer may close a yellow card on the unit's evidence
    /// alone; red cards always need a re-check visit.
    pub close_yellow_on_evidence: bool,
    /// Failed re-checks after which the case goes to the leaders (督办).
    pub supervise_after_failed_rechecks: u32,
    /// Deadline for the rework after a failed re-check.
    pub rework: DeadlineRule,
}

impl Default for CasePolicy {
    fn default() -> Self {
        CasePolicy {
            return_window: DeadlineRule::WorkingDays(2),
            close_yellow_on_evidence: false,
            supervise_after_failed_rechecks: 3,
            rework: DeadlineRule::WorkingDays(3),
        }
    }
}

/// The time and the office's rules an action is judged by.
pub struct Context<'a> {
    pub now: &'a ZonedDateTime,
    pub calendar: &'a OfficeCalendar,
    pub policy: &'a CasePolicy,
    /// The case's own deadline rule (its card's, or its category's).
    pub rule: DeadlineRule,
}

/// Why an action may not happen; nothing changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaseError {
    #[error("no such case")]
    NotFound,
    #[error("a {state} case cannot be {action}", state = state.as_str())]
    WrongState { state: CaseState, action: &'static str },
    #[error("this account cannot do that to a case")]
    NotAllowed,
    #[error("the answer needs at least one photo taken after the rectification")]
    PhotoRequired,
    #[error("the answer needs a note saying what was done")]
    NoteRequired,
    #[error("a red card's answer needs a written explanation (书面说明)")]
    ExplanationRequired,
    #[error("a reason is required")]
    ReasonRequired,
    #[error("a return must be asked within {window} of the notice; it was due by {until}", window = window.label_zh())]
    ReturnWindowPassed { window: DeadlineRule, until: Timestamp },
    #[error("an earlier request of the unit's is still waiting for the office's decision")]
    RequestPending,
    #[error("there is no request of the unit's waiting for a decision")]
    NoRequest,
    #[error("an extension must end after the current deadline")]
    ExtensionNotLater,
    #[error("a deferral's target date must be after today")]
    TargetNotLater,
    #[error("the inspector who made the finding cannot re-check it")]
    RecheckNotIndependent,
    #[error("only a yellow card may be closed on the unit's evidence, and only where the office allows it")]
    CloseNeedsVisit,
    #[error("the new unit is the case's own unit")]
    ReassignSameUnit,
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}

impl CaseError {
    pub fn code(&self) -> ErrorCode {
        match self {
            CaseError::NotFound => ErrorCode::CaseNotFound,
            CaseError::WrongState { .. } => ErrorCode::CaseWrongState,
            CaseError::NotAllowed => ErrorCode::Forbidden,
            CaseError::PhotoRequired => ErrorCode::CasePhotoRequired,
            CaseError::NoteRequired => ErrorCode::CaseNoteRequired,
            CaseError::ExplanationRequired => ErrorCode::CaseExplanationRequired,
            CaseError::ReasonRequired => ErrorCode::CaseReasonRequired,
            CaseError::ReturnWindowPassed { .. } => ErrorCode::CaseReturnWindowPassed,
            CaseError::RequestPending => ErrorCode::CaseRequestPending,
            CaseError::NoRequest => ErrorCode::CaseNoRequest,
            CaseError::ExtensionNotLater => ErrorCode::CaseExtensionNotLater,
            CaseError::TargetNotLater => ErrorCode::CaseTargetNotLater,
            CaseError::RecheckNotIndependent => ErrorCode::CaseRecheckNotIndependent,
            CaseError::CloseNeedsVisit => ErrorCode::CaseCloseNeedsVisit,
            CaseError::ReassignSameUnit => ErrorCode::CaseReassignSameUnit,
            CaseError::Calendar(_) => ErrorCode::CalendarInvalid,
        }
    }

    /// The one input at fault, where there is one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            CaseError::PhotoRequired => Some("photos"),
            CaseError::NoteRequired => Some("note"),
            CaseError::ExplanationRequired => Some("explanation"),
            CaseError::ReasonRequired => Some("reason"),
            CaseError::ExtensionNotLater => Some("until"),
            CaseError::TargetNotLater => Some("target"),
            CaseError::ReassignSameUnit => Some("unit_id"),
            _ => None,
        }
    }

    pub fn status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        match self {
            CaseError::NotFound => StatusCode::NOT_FOUND,
            CaseError::NotAllowed => StatusCode::FORBIDDEN,
            CaseError::WrongState { .. }
            | CaseError::ReturnWindowPassed { .. }
            | CaseError::RequestPending
            | CaseError::NoRequest
            | CaseError::RecheckNotIndependent
            | CaseError::CloseNeedsVisit => StatusCode::CONFLICT,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

fn required(text: &str, err: CaseError) -> Result<(), CaseError> {
    if text.trim().is_empty() { Err(err) } else { Ok(()) }
}

/// Judges one action on one case: the case as it must become, or why not.
pub fn apply(case: &Case, actor: Actor<'_>, action: &Action<'_>, cx: &Context<'_>) -> Result<Case, CaseError> {
    let now = cx.now.timestamp();
    let wrong_state = || CaseError::WrongState { state: case.state, action: action.name() };
    // A unit sees only its own cases, and only once notified: anything else
    // is "no such case", so a unit cannot probe for others' or early ones.
    let is_unit = |actor: &Actor<'_>| match actor {
        Actor::Unit { unit_id } => {
            if *unit_id == case.unit_id && case.notified_at.is_some() {
                Ok(())
            } else {
                Err(CaseError::NotFound)
            }
        }
        _ => Err(CaseError::NotAllowed),
    };
    let is_office = |actor: &Actor<'_>| match actor {
        Actor::Office { role } if *role >= Role::Reviewer => Ok(()),
        _ => Err(CaseError::NotAllowed),
    };
    let mut next = case.clone();
    if case.state.is_final() {
        // Only checked after the actor may see the case at all.
        if let Actor::Unit { .. } = actor {
            is_unit(&actor)?;
        }
        return Err(wrong_state());
    }
    match *action {
        Action::Notify => {
            if !matches!(actor, Actor::System) {
                return Err(CaseError::NotAllowed);
            }
            if case.state != CaseState::Open || case.notified_at.is_some() {
                return Err(wrong_state());
            }
            next.notified_at = Some(now);
            next.deadline = Some(cx.calendar.deadline(cx.now, cx.rule)?.timestamp());
        }
        Action::Answer { photos, note, explanation } => {
            is_unit(&actor)?;
            if !case.state.awaits_unit() {
                return Err(wrong_state());
            }
            if photos == 0 {
                return Err(CaseError::PhotoRequired);
            }
            required(note, CaseError::NoteRequired)?;
            if case.card == Card::Red {
                required(explanation.unwrap_or(""), CaseError::ExplanationRequired)?;
            }
            next.state = CaseState::Answered;
            next.answered_at = Some(now);
            // An answer settles whatever the unit had asked.
            next.pending = None;
        }
        Action::RequestReturn { reason } => {
            is_unit(&actor)?;
            if case.state != CaseState::Open {
                return Err(wrong_state());
            }
            if case.pending.is_some() {
                return Err(CaseError::RequestPending);
            }
            required(reason, CaseError::ReasonRequired)?;
            let notified = case.notified_at.ok_or_else(wrong_state)?.to_zoned_datetime(cx.now.time_zone().clone());
            let until = cx.calendar.deadline(&notified, cx.policy.return_window)?.timestamp();
            if now > until {
                return Err(CaseError::ReturnWindowPassed { window: cx.policy.return_window, until });
            }
            next.pending = Some(Pending::Return);
        }
        Action::DecideReturn { reassign_to, reason } => {
            is_office(&actor)?;
            if case.pending != Some(Pending::Return) {
                return Err(CaseError::NoRequest);
            }
            next.pending = None;
            match reassign_to {
                Some(unit) => {
                    if unit == case.unit_id {
                        return Err(CaseError::ReassignSameUnit);
                    }
                    // The new unit's clock starts with its own notice.
                    next.unit_id = unit.to_owned();
                    next.notified_at = None;
                    next.deadline = None;
                    next.reassign_count += 1;
                }
                None => required(reason, CaseError::ReasonRequired)?,
            }
        }
        Action::RequestExtension { until, reason } => {
            is_unit(&actor)?;
            if !matches!(case.state, CaseState::Open | CaseState::Rework) {
                return Err(wrong_state());
            }
            if case.pending.is_some() {
                return Err(CaseError::RequestPending);
            }
            required(reason, CaseError::ReasonRequired)?;
            if case.deadline.is_some_and(|d| until <= d) || until <= now {
                return Err(CaseError::ExtensionNotLater);
            }
            next.pending = Some(Pending::Extension { until });
        }
        Action::DecideExtension { grant, reason } => {
            is_office(&actor)?;
            let Some(Pending::Extension { until }) = case.pending else {
                return Err(CaseError::NoRequest);
            };
            next.pending = None;
            if grant {
                next.deadline = Some(until);
                next.extension_count += 1;
            } else {
                required(reason, CaseError::ReasonRequired)?;
            }
        }
        Action::RequestDeferral { explanation, target } => {
            is_unit(&actor)?;
            if !matches!(case.state, CaseState::Open | CaseState::Rework) {
                return Err(wrong_state());
            }
            if case.pending.is_some() {
                return Err(CaseError::RequestPending);
            }
            required(explanation, CaseError::ExplanationRequired)?;
            if target <= cx.now.date() {
                return Err(CaseError::TargetNotLater);
            }
            next.pending = Some(Pending::Deferral { target });
        }
        Action::DecideDeferral { accept, reason } => {
            is_office(&actor)?;
            let Some(Pending::Deferral { target }) = case.pending else {
                return Err(CaseError::NoRequest);
            };
            next.pending = None;
            if accept {
                next.state = CaseState::Deferred;
                next.deferred_until = Some(target);
            } else {
                required(reason, CaseError::ReasonRequired)?;
            }
        }
        Action::Recheck { passed } => {
            let Actor::Inspector { inspector_id } = actor else {
                return Err(CaseError::NotAllowed);
            };
            if inspector_id == case.inspector_id {
                return Err(CaseError::RecheckNotIndependent);
            }
            if case.state != CaseState::Answered {
                return Err(wrong_state());
            }
            if passed {
                next.state = CaseState::Closed;
            } else {
                next.state = CaseState::Rework;
                next.rework_count += 1;
                next.answered_at = None;
                next.deadline = Some(cx.calendar.deadline(cx.now, cx.policy.rework)?.timestamp());
                if next.rework_count >= cx.policy.supervise_after_failed_rechecks {
                    next.supervised = true;
                }
            }
        }
        Action::CloseOnEvidence { reason } => {
            is_office(&actor)?;
            if case.state != CaseState::Answered {
                return Err(wrong_state());
            }
            if case.card != Card::Yellow || !cx.policy.close_yellow_on_evidence {
                return Err(CaseError::CloseNeedsVisit);
            }
            required(reason, CaseError::ReasonRequired)?;
            next.state = CaseState::Closed;
        }
        Action::Cancel { reason } => {
            if !matches!(actor, Actor::System) {
                is_office(&actor)?;
            }
            required(reason, CaseError::ReasonRequired)?;
            next.state = CaseState::Cancelled;
            next.pending = None;
        }
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> ZonedDateTime {
        format!("{s}[Asia/Shanghai]").parse().unwrap()
    }

    struct World {
        calendar: OfficeCalendar,
        policy: CasePolicy,
    }

    impl World {
        fn new() -> Self {
            World { calendar: OfficeCalendar::default(), policy: CasePolicy::default() }
        }
        fn act(&self, case: &Case, actor: Actor<'_>, action: Action<'_>, now: &str) -> Result<Case, CaseError> {
            let now = at(now);
            let cx = Context {
                now: &now,
                calendar: &self.calendar,
                policy: &self.policy,
                rule: DeadlineRule::WorkingDays(3),
            };
            apply(case, actor, &action, &cx)
        }
    }

    const UNIT: Actor<'static> = Actor::Unit { unit_id: "U01" };
    const REVIEWER: Actor<'static> = Actor::Office { role: Role::Reviewer };
    const ANSWER: Action<'static> = Action::Answer { photos: 1, note: "已清理", explanation: Some("情况说明") };

    /// A red case for unit U01 found by inspector 7, notified on Tuesday 1 December 2026 at 18:00.
    fn notified(w: &World) -> Case {
        let case = Case::opened(Card::Red, "U01".into(), 7);
        w.act(&case, Actor::System, Action::Notify, "2026-12-01T18:00:00+08:00").unwrap()
    }

    #[test]
    fn the_deadline_runs_from_the_notice_and_the_unit_cannot_see_the_case_before_it() {
        let w = World::new();
        let case = Case::opened(Card::Red, "U01".into(), 7);
        assert_eq!(w.act(&case, UNIT, ANSWER, "2026-12-01T17:00:00+08:00"), Err(CaseError::NotFound));
        let case = notified(&w);
        assert_eq!(case.deadline, Some(at("2026-12-05T00:00:00+08:00").timestamp()), "end of Friday");
        assert_eq!(
            w.act(&case, Actor::System, Action::Notify, "2026-12-01T19:00:00+08:00").unwrap_err(),
            CaseError::WrongState { state: CaseState::Open, action: "notified" },
            "a notice goes out once"
        );
    }

    #[test]
    fn a_passed_recheck_by_another_inspector_closes_the_case_on_time() {
        let w = World::new();
        let answered = w.act(&notified(&w), UNIT, ANSWER, "2026-12-03T10:00:00+08:00").unwrap();
        assert_eq!(answered.state, CaseState::Answered);
        let by_finder = w.act(
            &answered,
            Actor::Inspector { inspector_id: 7 },
            Action::Recheck { passed: true },
            "2026-12-07T10:00:00+08:00",
        );
        assert_eq!(by_finder, Err(CaseError::RecheckNotIndependent));
        let closed = w
            .act(
                &answered,
                Actor::Inspector { inspector_id: 8 },
                Action::Recheck { passed: true },
                "2026-12-07T10:00:00+08:00",
            )
            .unwrap();
        assert_eq!((closed.state, closed.closed_on_time()), (CaseState::Closed, Some(true)));
        assert_eq!(
            w.act(&closed, UNIT, ANSWER, "2026-12-08T10:00:00+08:00"),
            Err(CaseError::WrongState { state: CaseState::Closed, action: "answered" })
        );
    }

    #[test]
    fn an_answer_needs_a_photo_a_note_and_for_a_red_card_a_written_explanation() {
        let w = World::new();
        let case = notified(&w);
        let now = "2026-12-02T10:00:00+08:00";
        let answer = |photos, note, explanation| Action::Answer { photos, note, explanation };
        assert_eq!(w.act(&case, UNIT, answer(0, "已清理", Some("说明")), now), Err(CaseError::PhotoRequired));
        assert_eq!(w.act(&case, UNIT, answer(1, " ", Some("说明")), now), Err(CaseError::NoteRequired));
        assert_eq!(w.act(&case, UNIT, answer(1, "已清理", Some("")), now), Err(CaseError::ExplanationRequired));
        assert_eq!(w.act(&case, UNIT, answer(1, "已清理", None), now), Err(CaseError::ExplanationRequired));
        let mut yellow = case.clone();
        yellow.card = Card::Yellow;
        assert_eq!(w.act(&yellow, UNIT, answer(1, "已清理", None), now).unwrap().state, CaseState::Answered);
    }

    #[test]
    fn a_unit_acting_on_another_units_case_finds_no_such_case() {
        let w = World::new();
        let case = notified(&w);
        let other = Actor::Unit { unit_id: "U02" };
        assert_eq!(w.act(&case, other, ANSWER, "2026-12-02T10:00:00+08:00"), Err(CaseError::NotFound));
        let closed = Case { state: CaseState::Closed, ..case };
        assert_eq!(w.act(&closed, other, ANSWER, "2026-12-02T10:00:00+08:00"), Err(CaseError::NotFound));
    }

    #[test]
    fn three_failed_rechecks_send_the_case_to_the_leaders() {
        let w = World::new();
        let mut case = notified(&w);
        let other = Actor::Inspector { inspector_id: 9 };
        for (round, day) in [(1, "2026-12-03"), (2, "2026-12-08"), (3, "2026-12-11")] {
            case = w.act(&case, UNIT, ANSWER, &format!("{day}T09:00:00+08:00")).unwrap();
            case = w.act(&case, other, Action::Recheck { passed: false }, &format!("{day}T15:00:00+08:00")).unwrap();
            assert_eq!((case.state, case.rework_count), (CaseState::Rework, round));
            assert_eq!(case.supervised, round >= 3, "round {round}");
            assert_eq!(case.answered_at, None);
        }
        // The third rework's deadline: three working days from Friday 11 December.
        assert_eq!(case.deadline, Some(at("2026-12-17T00:00:00+08:00").timestamp()));
    }

    #[test]
    fn a_return_inside_its_window_reassigns_and_restarts_the_clock() {
        let w = World::new();
        let case = notified(&w);
        let asked = w
            .act(&case, UNIT, Action::RequestReturn { reason: "不属于本单位职责" }, "2026-12-02T09:00:00+08:00")
            .unwrap();
        assert_eq!(asked.pending, Some(Pending::Return));
        assert_eq!(
            w.act(
                &asked,
                UNIT,
                Action::RequestExtension { until: at("2026-12-20T00:00:00+08:00").timestamp(), reason: "x" },
                "2026-12-02T10:00:00+08:00"
            ),
            Err(CaseError::RequestPending)
        );
        let moved = w
            .act(
                &asked,
                REVIEWER,
                Action::DecideReturn { reassign_to: Some("U02"), reason: "" },
                "2026-12-02T11:00:00+08:00",
            )
            .unwrap();
        assert_eq!((moved.unit_id.as_str(), moved.notified_at, moved.deadline), ("U02", None, None));
        assert_eq!(
            w.act(&moved, UNIT, ANSWER, "2026-12-02T12:00:00+08:00"),
            Err(CaseError::NotFound),
            "the old unit lost it"
        );
        let renotified = w.act(&moved, Actor::System, Action::Notify, "2026-12-02T18:00:00+08:00").unwrap();
        assert_eq!(renotified.deadline, Some(at("2026-12-08T00:00:00+08:00").timestamp()));
    }

    #[test]
    fn a_return_after_its_window_is_refused_and_a_refusal_needs_a_reason() {
        let w = World::new();
        let case = notified(&w);
        // Notified Tuesday evening: two working days run to the end of Thursday.
        let late = w.act(&case, UNIT, Action::RequestReturn { reason: "不归我们管" }, "2026-12-04T08:00:00+08:00");
        assert!(matches!(late, Err(CaseError::ReturnWindowPassed { .. })), "{late:?}");
        let asked =
            w.act(&case, UNIT, Action::RequestReturn { reason: "不归我们管" }, "2026-12-03T23:00:00+08:00").unwrap();
        let refuse = |reason| Action::DecideReturn { reassign_to: None, reason };
        assert_eq!(w.act(&asked, REVIEWER, refuse(""), "2026-12-04T09:00:00+08:00"), Err(CaseError::ReasonRequired));
        let kept = w.act(&asked, REVIEWER, refuse("属于本单位门前责任区"), "2026-12-04T09:00:00+08:00").unwrap();
        assert_eq!((kept.unit_id.as_str(), kept.pending.clone(), kept.deadline), ("U01", None, case.deadline));
        assert_eq!(w.act(&kept, REVIEWER, refuse("再次"), "2026-12-04T09:00:00+08:00"), Err(CaseError::NoRequest));
    }

    #[test]
    fn an_extension_must_be_later_and_moves_the_deadline_only_when_granted() {
        let w = World::new();
        let case = notified(&w);
        let ask = |until: &str| Action::RequestExtension { until: at(until).timestamp(), reason: "需采购材料" };
        assert_eq!(
            w.act(&case, UNIT, ask("2026-12-04T00:00:00+08:00"), "2026-12-02T09:00:00+08:00"),
            Err(CaseError::ExtensionNotLater)
        );
        let asked = w.act(&case, UNIT, ask("2026-12-12T00:00:00+08:00"), "2026-12-02T09:00:00+08:00").unwrap();
        let granted = w
            .act(&asked, REVIEWER, Action::DecideExtension { grant: true, reason: "" }, "2026-12-02T10:00:00+08:00")
            .unwrap();
        assert_eq!((granted.deadline, granted.extension_count), (Some(at("2026-12-12T00:00:00+08:00").timestamp()), 1));
        let unit_decides =
            w.act(&asked, UNIT, Action::DecideExtension { grant: true, reason: "" }, "2026-12-02T10:00:00+08:00");
        assert_eq!(unit_decides, Err(CaseError::NotAllowed));
        let leader = Actor::Office { role: Role::Leader };
        assert_eq!(
            w.act(&asked, leader, Action::DecideExtension { grant: true, reason: "" }, "2026-12-02T10:00:00+08:00"),
            Err(CaseError::NotAllowed)
        );
    }

    #[test]
    fn overdue_is_a_fact_of_time_counted_in_started_days_and_a_deferral_moves_it() {
        let w = World::new();
        let case = notified(&w);
        assert_eq!(case.overdue_days(&at("2026-12-04T23:59:00+08:00")), None);
        assert_eq!(case.overdue_days(&at("2026-12-05T01:00:00+08:00")), Some(1));
        assert_eq!(case.overdue_days(&at("2026-12-07T00:00:00+08:00")), Some(2));
        let asked = w
            .act(
                &case,
                UNIT,
                Action::RequestDeferral {
                    explanation: "需拆除重建，预计月底完成",
                    target: jiff::civil::date(2026, 12, 31),
                },
                "2026-12-03T09:00:00+08:00",
            )
            .unwrap();
        let deferred = w
            .act(&asked, REVIEWER, Action::DecideDeferral { accept: true, reason: "" }, "2026-12-03T10:00:00+08:00")
            .unwrap();
        assert_eq!(deferred.state, CaseState::Deferred);
        assert_eq!(deferred.overdue_days(&at("2026-12-20T09:00:00+08:00")), None);
        assert_eq!(deferred.overdue_days(&at("2027-01-01T09:00:00+08:00")), Some(1));
        // An answered case waits on the office, not the unit.
        let answered = w.act(&case, UNIT, ANSWER, "2026-12-06T09:00:00+08:00").unwrap();
        assert_eq!(answered.overdue_days(&at("2026-12-09T09:00:00+08:00")), None);
        let closed = w
            .act(
                &answered,
                Actor::Inspector { inspector_id: 2 },
                Action::Recheck { passed: true },
                "2026-12-09T09:00:00+08:00",
            )
            .unwrap();
        assert_eq!(closed.closed_on_time(), Some(false), "answered after the deadline");
    }

    #[test]
    fn a_yellow_card_closes_on_evidence_only_where_the_office_allows_and_never_a_red_one() {
        let mut w = World::new();
        let red = w.act(&notified(&w), UNIT, ANSWER, "2026-12-02T09:00:00+08:00").unwrap();
        let yellow = Case { card: Card::Yellow, ..red.clone() };
        let close = Action::CloseOnEvidence { reason: "照片显示已整改" };
        assert_eq!(
            w.act(&yellow, REVIEWER, close.clone(), "2026-12-02T10:00:00+08:00"),
            Err(CaseError::CloseNeedsVisit)
        );
        w.policy.close_yellow_on_evidence = true;
        assert_eq!(
            w.act(&yellow, REVIEWER, close.clone(), "2026-12-02T10:00:00+08:00").unwrap().state,
            CaseState::Closed
        );
        assert_eq!(w.act(&red, REVIEWER, close, "2026-12-02T10:00:00+08:00"), Err(CaseError::CloseNeedsVisit));
    }

    #[test]
    fn a_cancelled_case_stays_cancelled() {
        let w = World::new();
        let cancelled = w
            .act(&notified(&w), Actor::System, Action::Cancel { reason: "审核更正为绿牌" }, "2026-12-02T09:00:00+08:00")
            .unwrap();
        assert_eq!(cancelled.state, CaseState::Cancelled);
        let again = w.act(&cancelled, Actor::System, Action::Cancel { reason: "再次" }, "2026-12-02T09:00:00+08:00");
        assert_eq!(again, Err(CaseError::WrongState { state: CaseState::Cancelled, action: "cancelled" }));
    }

    #[test]
    fn every_case_error_has_a_code_with_chinese_text() {
        for e in [
            CaseError::NotFound,
            CaseError::WrongState { state: CaseState::Open, action: "x" },
            CaseError::PhotoRequired,
            CaseError::NoteRequired,
            CaseError::ExplanationRequired,
            CaseError::ReasonRequired,
            CaseError::RequestPending,
            CaseError::NoRequest,
            CaseError::ExtensionNotLater,
            CaseError::TargetNotLater,
            CaseError::RecheckNotIndependent,
            CaseError::CloseNeedsVisit,
            CaseError::ReassignSameUnit,
            CaseError::Calendar(CalendarError::NoWorkingDays),
        ] {
            assert!(ErrorCode::ALL.contains(&e.code()), "{e:?}");
            assert!(!e.code().zh().is_empty());
        }
    }
}
