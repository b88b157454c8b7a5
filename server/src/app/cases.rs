//! Rectification cases: what a unit and the office may ask of a case, and
//! the checks of their input before the state machine
//! ([`crate::rectification::case::apply`]) judges the move.
//!
//! Every move goes through [`Db::case_transition`], which hands the case as
//! stored in the write transaction to a decision built here; so two people
//! acting on one case at once cannot both build on the same state.

use crate::auth::{OfficeCaller, Role};
use crate::db::Db;
use crate::db::cases::{ActorRef, Attachment, AttachmentKind, CaseFacts, NewEvent, StoredCase};
use crate::error::AppError;
use crate::photos::PhotoStore;
use crate::rectification::case::{self, Action, Actor, Case, CaseError, Context};
use anfang_core::error_code::ErrorCode;
use axum::http::StatusCode;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Deserialize;
use serde_json::json;

/// Longest note, reason or written explanation (characters).
pub const MAX_TEXT_CHARS: usize = 2000;
/// Most after-photos in one answer.
pub const MAX_PHOTOS: usize = 9;
/// Largest PDF scan of a written explanation.
pub const MAX_PDF_BYTES: usize = 10 * 1024 * 1024;

/// Input a case action refuses before the state machine sees it.
#[derive(Debug, thiserror::Error)]
pub enum CaseInputError {
    #[error("attachment {0} is not on this server; upload it first (uploads not used within a day are removed)")]
    AttachmentUnknown(String),
    #[error("not an acceptable attachment: {0}")]
    AttachmentInvalid(String),
    #[error("the attachment is too large: photos up to 40 MB, PDF scans up to 10 MB")]
    AttachmentTooLarge,
    #[error("at most {MAX_PHOTOS} photos per answer")]
    TooManyPhotos,
    #[error("{0} is longer than {MAX_TEXT_CHARS} characters")]
    TextTooLong(&'static str),
    #[error("{0} is not a valid date (YYYY-MM-DD)")]
    DateInvalid(&'static str),
}

impl From<CaseInputError> for AppError {
    fn from(e: CaseInputError) -> Self {
        let (status, code, field) = match &e {
            CaseInputError::AttachmentUnknown(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::CaseAttachmentUnknown, "photos")
            }
            CaseInputError::AttachmentInvalid(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::CaseAttachmentInvalid, "file")
            }
            CaseInputError::AttachmentTooLarge => {
                (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::CaseAttachmentTooLarge, "file")
            }
            CaseInputError::TooManyPhotos => (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::CaseTooManyPhotos, "photos"),
            CaseInputError::TextTooLong(f) => (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::CaseTextTooLong, *f),
            CaseInputError::DateInvalid(f) => (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::Invalid, *f),
        };
        AppError::coded(status, code, e.to_string()).with_field(field)
    }
}

/// The unit's answer (整改反馈).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    /// SHA-256 of after-photos uploaded with `POST /api/v1/unit/attachments`.
    #[schemars(length(max = 9))]
    pub photos: Vec<String>,
    /// What was done.
    pub note: String,
    /// 书面说明: required for a red card.
    #[serde(default)]
    pub explanation: Option<String>,
    /// SHA-256 of a PDF scan of the written explanation, optional.
    #[serde(default)]
    pub explanation_pdf: Option<String>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnRequest {
    /// Why the case is not this unit's job.
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionRequest {
    /// The new deadline: the end of this day (office time).
    #[schemars(with = "String", extend("format" = "date"))]
    pub until: Date,
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeferralRequest {
    /// 书面说明: why it cannot be fixed by the deadline.
    pub explanation: String,
    /// The date by which it will be.
    #[schemars(with = "String", extend("format" = "date"))]
    pub target: Date,
}

/// What the office decides on a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// Grant the unit's return: the case goes to `unit_id`, its clock restarts.
    Reassign,
    RefuseReturn,
    GrantExtension,
    RefuseExtension,
    /// Accept the 书面说明: the case is 挂账 with the unit's target date.
    AcceptDeferral,
    RefuseDeferral,
    /// Close a yellow card on the unit's evidence (where the office allows it).
    CloseOnEvidence,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OfficeDecision {
    pub decision: DecisionKind,
    /// For `reassign`: the unit the case goes to.
    #[serde(default)]
    pub unit_id: Option<String>,
    /// Required to refuse or to close on evidence.
    #[serde(default)]
    pub reason: Option<String>,
}

fn text(field: &'static str, value: &str) -> Result<String, AppError> {
    let v = value.trim();
    crate::app::reference::check_text(field, v)?;
    if v.chars().count() > MAX_TEXT_CHARS {
        return Err(CaseInputError::TextTooLong(field).into());
    }
    Ok(v.to_owned())
}

fn opt_text(field: &'static str, value: Option<&str>) -> Result<Option<String>, AppError> {
    value.map(|v| text(field, v)).transpose().map(|v| v.filter(|v| !v.is_empty()))
}

fn sha(field: &'static str, v: &str) -> Result<String, AppError> {
    let v = v.trim().to_ascii_lowercase();
    if !anfang_core::domain::is_sha256_hex(&v) {
        return Err(AppError::coded(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Invalid,
            format!("{field}: not a SHA-256"),
        )
        .with_field(field));
    }
    Ok(v)
}

/// The end of `date` in office time: "by 12月4日" means before 12月5日 00:00.
fn end_of(date: Date, tz: &TimeZone) -> Result<Timestamp, AppError> {
    let next = date.tomorrow().map_err(|_| CaseInputError::DateInvalid("until"))?;
    Ok(next.to_zoned_datetime(tz.clone()).map_err(|_| CaseInputError::DateInvalid("until"))?.timestamp())
}

/// Judges `action` by `actor` on the stored case, at `now`.
pub fn judge(
    facts: &CaseFacts,
    actor: Actor<'_>,
    action: &Action<'_>,
    now: Timestamp,
    tz: &TimeZone,
) -> Result<Case, AppError> {
    let zoned = now.to_zoned_datetime(tz.clone());
    let cx = Context { now: &zoned, calendar: &facts.calendar, policy: &facts.policy, rule: facts.rule };
    Ok(case::apply(&facts.stored.case, actor, action, &cx)?)
}

fn found(facts: Option<&CaseFacts>) -> Result<&CaseFacts, AppError> {
    facts.ok_or_else(|| CaseError::NotFound.into())
}

/// A unit account's id and unit.
fn unit_of(caller: &OfficeCaller) -> Result<(i64, String), AppError> {
    Ok((caller.user_id, caller.require_unit()?.to_owned()))
}

/// The unit answers: after-photos, a note, and for a red card a 书面说明.
pub async fn answer(
    db: &Db,
    caller: &OfficeCaller,
    case_ref: String,
    req: AnswerRequest,
    now: Timestamp,
    tz: TimeZone,
) -> Result<StoredCase, AppError> {
    let (user, unit) = unit_of(caller)?;
    if req.photos.len() > MAX_PHOTOS {
        return Err(CaseInputError::TooManyPhotos.into());
    }
    let mut photos = Vec::new();
    for p in &req.photos {
        let p = sha("photos", p)?;
        if !photos.contains(&p) {
            photos.push(p);
        }
    }
    let note = text("note", &req.note)?;
    let explanation = opt_text("explanation", req.explanation.as_deref())?;
    let pdf = req.explanation_pdf.as_deref().map(|p| sha("explanation_pdf", p)).transpose()?;
    db.case_transition(
        case_ref,
        now,
        move |facts| {
            let facts = found(facts)?;
            let action = Action::Answer { photos: photos.len(), note: &note, explanation: explanation.as_deref() };
            let next = judge(facts, Actor::Unit { unit_id: &unit }, &action, now, &tz)?;
            let mut ev = NewEvent::new(ActorRef::Unit(user), action.name());
            ev.note = Some(note.clone());
            ev.explanation = explanation.clone();
            ev.attachments =
                photos.iter().map(|s| Attachment { kind: AttachmentKind::Photo, sha256: s.clone() }).collect();
            if let Some(pdf) = &pdf {
                ev.attachments.push(Attachment { kind: AttachmentKind::Pdf, sha256: pdf.clone() });
            }
            Ok((next, ev))
        },
        true,
    )
    .await
}

/// The unit says the case is not its job (退回), within the window.
pub async fn request_return(
    db: &Db,
    caller: &OfficeCaller,
    case_ref: String,
    req: ReturnRequest,
    now: Timestamp,
    tz: TimeZone,
) -> Result<StoredCase, AppError> {
    let (user, unit) = unit_of(caller)?;
    let reason = text("reason", &req.reason)?;
    db.case_transition(
        case_ref,
        now,
        move |facts| {
            let facts = found(facts)?;
            let action = Action::RequestReturn { reason: &reason };
            let next = judge(facts, Actor::Unit { unit_id: &unit }, &action, now, &tz)?;
            let mut ev = NewEvent::new(ActorRef::Unit(user), action.name());
            ev.reason = Some(reason.clone());
            Ok((next, ev))
        },
        false,
    )
    .await
}

/// The unit asks for a later deadline (延期).
pub async fn request_extension(
    db: &Db,
    caller: &OfficeCaller,
    case_ref: String,
    req: ExtensionRequest,
    now: Timestamp,
    tz: TimeZone,
) -> Result<StoredCase, AppError> {
    let (user, unit) = unit_of(caller)?;
    let reason = text("reason", &req.reason)?;
    let until = end_of(req.until, &tz)?;
    db.case_transition(
        case_ref,
        now,
        move |facts| {
            let facts = found(facts)?;
            let action = Action::RequestExtension { until, reason: &reason };
            let next = judge(facts, Actor::Unit { unit_id: &unit }, &action, now, &tz)?;
            let mut ev = NewEvent::new(ActorRef::Unit(user), action.name());
            ev.reason = Some(reason.clone());
            ev.detail = json!({"until": until.to_string()});
            Ok((next, ev))
        },
        false,
    )
    .await
}

/// The unit cannot fix it in time: a 书面说明 and a target date (挂账).
pub async fn request_deferral(
    db: &Db,
    caller: &OfficeCaller,
    case_ref: String,
    req: DeferralRequest,
    now: Timestamp,
    tz: TimeZone,
) -> Result<StoredCase, AppError> {
    let (user, unit) = unit_of(caller)?;
    let explanation = text("explanation", &req.explanation)?;
    let target = req.target;
    db.case_transition(
        case_ref,
        now,
        move |facts| {
            let facts = found(facts)?;
            let action = Action::RequestDeferral { explanation: &explanation, target };
            let next = judge(facts, Actor::Unit { unit_id: &unit }, &action, now, &tz)?;
            let mut ev = NewEvent::new(ActorRef::Unit(user), action.name());
            ev.explanation = Some(explanation.clone());
            ev.detail = json!({"target": target.to_string()});
            Ok((next, ev))
        },
        false,
    )
    .await
}

/// The office decides a unit's request, or closes a yellow card on evidence.
pub async fn decide(
    db: &Db,
    caller: &OfficeCaller,
    case_ref: String,
    req: OfficeDecision,
    now: Timestamp,
    tz: TimeZone,
) -> Result<StoredCase, AppError> {
    if caller.role < Role::Reviewer {
        return Err(CaseError::NotAllowed.into());
    }
    let (user, role) = (caller.user_id, caller.role);
    let reason = opt_text("reason", req.reason.as_deref())?.unwrap_or_default();
    let target_unit = match (req.decision, req.unit_id.as_deref().map(str::trim)) {
        (DecisionKind::Reassign, Some(u)) if !u.is_empty() => {
            let unit = db.unit_record(u.to_owned()).await?;
            match unit {
                Some(unit) if unit.active => Some(unit.id),
                Some(_) => {
                    return Err(AppError::coded(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        ErrorCode::UnitInactive,
                        format!("unit {u} is deactivated"),
                    )
                    .with_field("unit_id"));
                }
                None => {
                    return Err(AppError::coded(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        ErrorCode::UnitUnknown,
                        format!("unknown unit {u:?}"),
                    )
                    .with_field("unit_id"));
                }
            }
        }
        (DecisionKind::Reassign, _) => {
            return Err(AppError::coded(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::FieldRequired,
                "reassign needs unit_id",
            )
            .with_field("unit_id"));
        }
        _ => None,
    };
    db.case_transition(
        case_ref,
        now,
        move |facts| {
            let facts = found(facts)?;
            let action = match req.decision {
                DecisionKind::Reassign => Action::DecideReturn { reassign_to: target_unit.as_deref(), reason: &reason },
                DecisionKind::RefuseReturn => Action::DecideReturn { reassign_to: None, reason: &reason },
                DecisionKind::GrantExtension => Action::DecideExtension { grant: true, reason: &reason },
                DecisionKind::RefuseExtension => Action::DecideExtension { grant: false, reason: &reason },
                DecisionKind::AcceptDeferral => Action::DecideDeferral { accept: true, reason: &reason },
                DecisionKind::RefuseDeferral => Action::DecideDeferral { accept: false, reason: &reason },
                DecisionKind::CloseOnEvidence => Action::CloseOnEvidence { reason: &reason },
            };
            let next = judge(facts, Actor::Office { role }, &action, now, &tz)?;
            let mut ev = NewEvent::new(ActorRef::Office(user), action.name());
            ev.reason = Some(reason.clone()).filter(|r| !r.is_empty());
            ev.detail = match req.decision {
                DecisionKind::Reassign => json!({"from_unit": facts.stored.case.unit_id, "to_unit": next.unit_id}),
                DecisionKind::GrantExtension => json!({"deadline": next.deadline.map(|d| d.to_string())}),
                DecisionKind::AcceptDeferral => json!({"target": next.deferred_until.map(|d| d.to_string())}),
                _ => json!({}),
            };
            Ok((next, ev))
        },
        false,
    )
    .await
}

/// A re-check visit's result, judged inside the push that carries the
/// inspector's signed finding (see `db::findings`): passed closes the case,
/// not passed sends it back with a new deadline.
pub fn recheck_decision(
    facts: &CaseFacts,
    inspector_id: i64,
    passed: bool,
    finding_id: &str,
    photos: &[String],
    now: Timestamp,
    tz: &TimeZone,
) -> Result<(Case, NewEvent), AppError> {
    let action = Action::Recheck { passed };
    let next = judge(facts, Actor::Inspector { inspector_id }, &action, now, tz)?;
    let mut ev = NewEvent::new(ActorRef::Inspector(inspector_id), action.name());
    ev.attachments = photos.iter().map(|s| Attachment { kind: AttachmentKind::Photo, sha256: s.clone() }).collect();
    ev.detail = json!({
        "finding_id": finding_id,
        "deadline": (!passed).then(|| next.deadline.map(|d| d.to_string())).flatten(),
        "supervised": next.supervised && !facts.stored.case.supervised,
    });
    Ok((next, ev))
}

/// Processes an uploaded after-photo through the shared pipeline (upright,
/// metadata stripped, bounded, hashed) into the photo store; or checks and
/// files a PDF scan. Returns what an answer names it by.
pub async fn store_attachment(db: &Db, photos: &PhotoStore, bytes: Vec<u8>) -> Result<Attachment, AppError> {
    if bytes.starts_with(b"%PDF-") {
        if bytes.len() > MAX_PDF_BYTES {
            return Err(CaseInputError::AttachmentTooLarge.into());
        }
        check_pdf(&bytes)?;
        let sha256 = photos.store_file(db, bytes).await?;
        return Ok(Attachment { kind: AttachmentKind::Pdf, sha256 });
    }
    let opts = anfang_core::photo::PhotoOptions::default();
    if bytes.len() > opts.max_input_bytes {
        return Err(CaseInputError::AttachmentTooLarge.into());
    }
    let processed = tokio::task::spawn_blocking(move || anfang_core::photo::process(&bytes, &opts))
        .await
        .map_err(AppError::internal)?
        .map_err(|e| CaseInputError::AttachmentInvalid(format!("{e} (send a JPEG or PNG photo, or a PDF scan)")))?;
    let sha256 = photos.store_processed(db, processed).await?;
    Ok(Attachment { kind: AttachmentKind::Photo, sha256 })
}

/// A PDF scan must look like one end to end: the header, a cross-reference
/// and an end-of-file marker near the end. Not a full parse: the file is
/// never rendered by the server, only stored and served as a download.
fn check_pdf(bytes: &[u8]) -> Result<(), AppError> {
    let tail = &bytes[bytes.len().saturating_sub(2048)..];
    let has = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    if !has(tail, b"%%EOF") || !(has(bytes, b"startxref")) {
        return Err(CaseInputError::AttachmentInvalid(
            "the PDF is truncated or damaged (no end-of-file marker)".into(),
        )
        .into());
    }
    Ok(())
}

/// The rectification settings must be within their documented ranges.
pub fn check_settings(s: &crate::db::cases::RectificationSettings) -> Result<(), AppError> {
    let bad = |field: &'static str, what: &str| {
        Err(AppError::coded(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::Invalid, format!("{field}: {what}"))
            .with_field(field))
    };
    let within = |v: u32, lo: u32, hi: u32| (lo..=hi).contains(&v);
    if s.digest_hour > 23 {
        return bad("digest_hour", "an hour from 0 to 23");
    }
    for (field, v, lo, hi) in [
        ("reminder_hours", u32::from(s.reminder_hours), 1, 720),
        ("return_window_days", u32::from(s.return_window_days), 1, 30),
        ("rework_days", u32::from(s.rework_days), 1, 60),
        ("supervise_after_failed_rechecks", s.supervise_after_failed_rechecks, 1, 10),
        ("escalate_after_days", u32::from(s.escalate_after_days), 1, 60),
        ("supervise_after_overdue_days", u32::from(s.supervise_after_overdue_days), 1, 365),
        ("overdue_reminder_cap", u32::from(s.overdue_reminder_cap), 0, 60),
        ("recheck_within_days", u32::from(s.recheck_within_days), 1, 30),
    ] {
        if !within(v, lo, hi) {
            return bad(field, &format!("from {lo} to {hi}"));
        }
    }
    let url = s.public_base_url.trim();
    crate::app::reference::check_text("public_base_url", url)?;
    if !(url.starts_with("http://") || url.starts_with("https://"))
        || url.len() > 200
        || url.contains(char::is_whitespace)
    {
        return bad(
            "public_base_url",
            "an http:// or https:// address of at most 200 characters, as units reach the server",
        );
    }
    Ok(())
}

/// A replacement of every category deadline must name known categories,
/// red or yellow only, each (category, card) once, within the calendar's
/// bounds. Shared by the API and the console so both refuse alike.
pub fn check_category_deadlines(
    categories: &[anfang_core::domain::Category],
    items: &[crate::db::cases::CategoryDeadline],
) -> Result<(), AppError> {
    for d in items {
        if !categories.iter().any(|c| c.code == d.category) {
            return Err(AppError::coded(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::CategoryUnknown,
                format!("unknown category {:?}", d.category),
            )
            .with_field("category"));
        }
        if d.card == anfang_core::Card::Green
            || !d.rule().is_valid()
            || !matches!(d.unit.as_str(), "days" | "hours")
            || (d.unit == "hours" && d.amount == 0)
        {
            return Err(AppError::coded(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::DeadlineInvalid,
                format!("{} {}: red or yellow, 1–365 working days or 1–744 working hours", d.category, d.card.as_str()),
            )
            .with_field("amount"));
        }
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(d) = items.iter().find(|d| !seen.insert((d.category.clone(), d.card))) {
        return Err(AppError::coded(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Invalid,
            format!("{} {} is listed twice", d.category, d.card.as_str()),
        )
        .with_field("items"));
    }
    Ok(())
}
