//! Rectification cases: what a unit and the office may ask of a case, and
//! the checks of their input before the state machine
//! ([`crate::rectification::case::apply`]) judges the move.
//!
//! Every move goes through [`Db::case_transition`], which hands the case as
//! stored in the write transaction to a decision built here; so two people
//! acting on one case at once cannot both build on the same state.

use crate::auth::{OfficeCaller, Role};
use crate::db::Db;
use crate::db::cases::{ActorRef, Attachment, AttachmentKind, CaseFacts, NewEvent, OfficeCaseDetail, StoredCase};
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

/// One case as an office caller may read it. Leaders never learn who
/// re-checked (三不三无): an inspector's events lose the alias, and aliases
/// a reviewer or an inspector typed into a reason or note are masked.
pub async fn office_case(
    db: &Db,
    role: Role,
    reference: String,
    now: jiff::ZonedDateTime,
) -> Result<Option<OfficeCaseDetail>, AppError> {
    let Some(mut detail) = db.office_case(reference, now).await? else { return Ok(None) };
    if role < Role::Reviewer {
        redact_case(&mut detail, &db.alias_mask().await?);
    }
    Ok(Some(detail))
}

/// What a leader may not read of a case's history (see [`office_case`]).
pub fn redact_case(detail: &mut OfficeCaseDetail, mask: &crate::redact::AliasMask) {
    for e in &mut detail.events {
        if e.actor_kind == "inspector" {
            e.actor = None;
        }
        mask.mask_note(&mut e.reason);
        mask.mask_note(&mut e.note);
        mask.mask_note(&mut e.explanation);
    }
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
        ("rank_weight_rectification", u32::from(s.rank_weight_rectification), 0, 100),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Role, secret_hash};
    use crate::clock::ManualClock;
    use crate::db::accounts;
    use crate::db::cases::CaseQuery;
    use crate::db::reviews::{Decision, ReviewRequest};
    use crate::rectification::case::CaseState;
    use crate::{AppState, Config};
    use anfang_core::protocol::{PushOutcome, SignedFinding};
    use anfang_core::{Card, FindingContent};

    /// Office time, Asia/Shanghai.
    fn local(s: &str) -> Timestamp {
        format!("{s}[Asia/Shanghai]").parse::<jiff::ZonedDateTime>().unwrap().timestamp()
    }

    struct World {
        state: AppState,
        hand: ManualClock,
        reviewer: OfficeCaller,
        unit: OfficeCaller,
        other_unit: OfficeCaller,
        inspector_id: i64,
        other_inspector_id: i64,
        device: crate::auth::DeviceCaller,
        key: anfang_core::evidence::DeviceKey,
        _dir: tempfile::TempDir,
    }

    fn office(user_id: i64, username: &str, role: Role, unit: Option<&str>) -> OfficeCaller {
        OfficeCaller { user_id, username: username.into(), role, unit_id: unit.map(str::to_owned) }
    }

    /// The demo city on a real SQLite file; it is Tuesday 1 December 2026, 10:00.
    fn world() -> World {
        let dir = tempfile::tempdir().unwrap();
        let hand = ManualClock::new(local("2026-12-01T10:00"));
        let mut config = Config::new(dir.path());
        config.clock = hand.clone().into();
        let state = AppState::open(config).unwrap();
        let creds = crate::demo::load(&state.db).unwrap();
        let key = anfang_core::evidence::DeviceKey::generate();
        let (device, rev, u03, u01, ids) = state
            .db
            .write_blocking(|c| {
                let enrolled = accounts::enroll(c, &creds.inspectors[0].1, None, &key.public_key_hex())?;
                let device = accounts::device_by_token_hash(c, &secret_hash(&enrolled.token))?.unwrap();
                let rev = accounts::add_user(c, "rev", "reviewer-password", Role::Reviewer)?;
                let u03 = accounts::add_unit_user(c, "u03", "unit-password", "U03")?;
                let u01 = accounts::add_unit_user(c, "u01", "unit-password", "U01")?;
                let ids: Vec<i64> =
                    c.prepare("SELECT id FROM inspectors ORDER BY id")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
                c.execute(
                    "INSERT INTO unit_contacts (unit_id, name, role, email) VALUES ('U03', '王联络', 'contact', 'u03@example.cn'),
                     ('U03', '李点长', 'point_chief', 'chief@example.cn'), ('U03', '赵分管', 'leader', 'leader@example.cn')",
                    [],
                )?;
                Ok((device, rev, u03, u01, ids))
            })
            .unwrap();
        let inspector_id = device.inspector_id;
        let other_inspector_id = *ids.iter().find(|i| **i != inspector_id).unwrap();
        World {
            state,
            hand,
            reviewer: office(rev, "rev", Role::Reviewer, None),
            unit: office(u03, "u03", Role::Unit, Some("U03")),
            other_unit: office(u01, "u01", Role::Unit, Some("U01")),
            inspector_id,
            other_inspector_id,
            device,
            key,
            _dir: dir,
        }
    }

    impl World {
        fn now(&self) -> Timestamp {
            self.state.clock.now()
        }

        fn tz(&self) -> TimeZone {
            self.state.config.timezone.clone()
        }

        /// A green finding at P001 (unit U03), then corrected by a reviewer to `card`.
        async fn case_with(&self, card: Card) -> (String, String) {
            let finding = FindingContent {
                id: uuid::Uuid::now_v7(),
                point_id: "P001".into(),
                unit_id: "U03".into(),
                category: "parking".into(),
                card: Card::Green,
                note: None,
                observed_at: self.now(),
                location: None,
                photos: vec![],
                assignment_id: None,
                recheck: None,
            };
            let signed = SignedFinding { signature: self.key.sign(&finding), finding };
            let r = crate::app::sync::push(&self.state.db, &self.device, vec![signed.clone()], self.now(), self.tz())
                .await
                .unwrap();
            assert_eq!(r[0].outcome, PushOutcome::Accepted, "{:?}", r[0]);
            let id = signed.finding.id.to_string();
            let req = ReviewRequest {
                decision: Decision::Correct,
                category: None,
                unit_id: None,
                card: Some(card),
                reason: Some("情节较重".into()),
            };
            crate::app::review::decide(&self.state.db, &self.reviewer, id.clone(), req, self.now()).await.unwrap();
            let q = CaseQuery { state: Some("live".into()), ..Default::default() };
            let zoned = self.now().to_zoned_datetime(self.tz());
            let live = self.state.db.office_cases(q, zoned).await.unwrap();
            let case = live.into_iter().find(|c| c.finding_id == id).expect("the correction opened a case");
            (id, case.reference)
        }

        async fn stored(&self, reference: &str) -> StoredCase {
            self.state.db.case_by_ref(reference.to_owned()).await.unwrap().unwrap()
        }

        async fn pass(&self) -> crate::app::scheduler::PassReport {
            self.state.db.schedule_pass(self.now(), self.tz()).await.unwrap()
        }

        /// A stored photo row, as an upload would leave it.
        fn photo(&self, n: u8) -> String {
            let sha = format!("{:064x}", u64::from(n) + 1000);
            let s = sha.clone();
            self.state
                .db
                .write_blocking(move |c| {
                    c.execute(
                        "INSERT INTO photos (sha256, byte_len, width, height, stored_at) VALUES (?1, 1, 1, 1, '2026-12-01T00:00:00Z')",
                        [&s],
                    )?;
                    Ok(())
                })
                .unwrap();
            sha
        }

        async fn answer(
            &self,
            who: &OfficeCaller,
            reference: &str,
            photos: Vec<String>,
            explanation: Option<&str>,
        ) -> Result<StoredCase, AppError> {
            let req = AnswerRequest {
                photos,
                note: "已清理并设置隔离桩".into(),
                explanation: explanation.map(str::to_owned),
                explanation_pdf: None,
            };
            answer(&self.state.db, who, reference.to_owned(), req, self.now(), self.tz()).await
        }

        fn outbox(&self) -> Vec<(String, String, String, String)> {
            self.state
                .db
                .write_blocking(|c| {
                    Ok(c.prepare("SELECT event_key, kind, target, body FROM notice_outbox ORDER BY id")?
                        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                        .collect::<Result<_, _>>()?)
                })
                .unwrap()
        }

        async fn recheck(&self, reference: &str, inspector: i64, passed: bool) -> Result<StoredCase, AppError> {
            let (now, tz) = (self.now(), self.tz());
            self.state
                .db
                .case_transition(
                    reference.to_owned(),
                    now,
                    move |facts| recheck_decision(facts.unwrap(), inspector, passed, "f", &[], now, &tz),
                    false,
                )
                .await
        }
    }

    fn code(e: &AppError) -> Option<ErrorCode> {
        Some(e.code())
    }

    #[tokio::test]
    async fn a_red_card_is_a_case_the_unit_sees_from_the_evening_digest_and_answers_with_evidence() {
        let w = world();
        let (_, reference) = w.case_with(Card::Red).await;
        assert!(
            w.state.db.unit_cases("U03".into(), w.tz(), w.now().to_zoned_datetime(w.tz())).await.unwrap().is_empty(),
            "not shown before its notice"
        );
        assert_eq!(w.pass().await.notified, 0, "10:00 is before the digest hour");
        w.hand.set(local("2026-12-01T18:00"));
        let report = w.pass().await;
        assert_eq!((report.notified, report.digests), (1, 1));
        let stored = w.stored(&reference).await;
        // Tuesday 18:00 + 3 working days: by the end of Friday.
        assert_eq!(stored.case.deadline, Some(local("2026-12-05T00:00")));
        let outbox = w.outbox();
        assert_eq!(outbox.len(), 1, "one digest to the unit's 联系人 only: {outbox:?}");
        assert_eq!((outbox[0].1.as_str(), outbox[0].2.as_str()), ("digest", "u03@example.cn"));
        for leak in ["督查0", "31.", "10:00", "T02:00"] {
            assert!(!outbox[0].3.contains(leak), "{leak} in the notice: {}", outbox[0].3);
        }
        assert_eq!(w.pass().await.notices, 0, "a second pass sends nothing");

        let e = w.answer(&w.unit, &reference, vec![], Some("书面说明")).await.unwrap_err();
        assert_eq!(code(&e), Some(ErrorCode::CasePhotoRequired));
        let photo = w.photo(1);
        let e = w.answer(&w.unit, &reference, vec![photo.clone()], None).await.unwrap_err();
        assert_eq!(code(&e), Some(ErrorCode::CaseExplanationRequired));
        let e = w.answer(&w.other_unit, &reference, vec![photo.clone()], Some("说明")).await.unwrap_err();
        assert_eq!(code(&e), Some(ErrorCode::CaseNotFound), "another unit's case does not exist for it");
        let e = w.answer(&w.unit, &reference, vec![format!("{:064x}", 7)], Some("说明")).await.unwrap_err();
        assert_eq!(code(&e), Some(ErrorCode::CaseAttachmentUnknown));
        assert_eq!(w.stored(&reference).await.version, stored.version, "no refusal changed the case");

        w.hand.set(local("2026-12-03T09:00"));
        let answered = w.answer(&w.unit, &reference, vec![photo], Some("已落实整改责任人")).await.unwrap();
        assert_eq!(answered.case.state, CaseState::Answered);
        let e = w.answer(&w.unit, &reference, vec![w.photo(2)], Some("再次")).await.unwrap_err();
        assert_eq!(code(&e), Some(ErrorCode::CaseWrongState));

        let e = w.recheck(&reference, w.inspector_id, true).await.unwrap_err();
        assert_eq!(code(&e), Some(ErrorCode::CaseRecheckNotIndependent), "the finder cannot re-check");
        let closed = w.recheck(&reference, w.other_inspector_id, true).await.unwrap();
        assert_eq!((closed.case.state, closed.case.closed_on_time()), (CaseState::Closed, Some(true)));
        let photos = crate::db::evidence::PhotoDir::new(&w.state.config.data_dir);
        let audit = w.state.db.audit_evidence(photos, None).await.unwrap();
        // The test's photo rows have no files; everything else must hold.
        let problems: Vec<_> = audit.problems.iter().filter(|p| !p.contains("photo")).collect();
        assert!(problems.is_empty(), "{problems:?}");
        assert!(audit.log_entries >= 6, "opened, notified, answered, re-checked and the finding/review entries");
    }

    #[tokio::test]
    async fn a_deadline_passed_while_the_server_was_down_is_urged_escalated_and_reminded_once() {
        let w = world();
        let (_, reference) = w.case_with(Card::Yellow).await;
        w.hand.set(local("2026-12-01T18:30"));
        w.pass().await;
        // Yellow: 7 working days from Tuesday 18:30, due by the end of Thursday 10 December.
        assert_eq!(w.stored(&reference).await.case.deadline, Some(local("2026-12-11T00:00")));
        // Down from the 9th to the morning of the 15th (4 days late).
        w.hand.set(local("2026-12-15T09:00"));
        w.pass().await;
        w.pass().await;
        let kinds: Vec<String> =
            w.outbox().iter().map(|o| format!("{}→{}", o.0.split('/').next().unwrap(), o.2)).collect();
        assert_eq!(
            kinds,
            [
                "digest→u03@example.cn",
                "urge→u03@example.cn",
                "urge→chief@example.cn",
                "urge→leader@example.cn",
                "overdue→u03@example.cn",
                "escalate→leader@example.cn",
            ],
            "each notice once, the reminder for today only"
        );
        let detail = w.state.db.office_case(reference, w.now().to_zoned_datetime(w.tz())).await.unwrap().unwrap();
        assert_eq!(detail.case.overdue_days, Some(5));
        let events: Vec<&str> = detail.events.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(events, ["opened", "notified", "urged", "escalated"]);
    }

    #[tokio::test]
    async fn three_failed_rechecks_send_the_case_to_supervision() {
        let w = world();
        let (_, reference) = w.case_with(Card::Yellow).await;
        w.hand.set(local("2026-12-01T18:00"));
        w.pass().await;
        for round in 1..=3u32 {
            w.answer(&w.unit, &reference, vec![w.photo(round as u8)], None).await.unwrap();
            let back = w.recheck(&reference, w.other_inspector_id, false).await.unwrap();
            assert_eq!((back.case.state, back.case.rework_count), (CaseState::Rework, round));
            assert_eq!(back.case.supervised, round == 3);
        }
        w.pass().await;
        let supervision: Vec<_> = w.outbox().into_iter().filter(|o| o.1 == "supervision").collect();
        assert_eq!(supervision.len(), 2, "to the 分管领导 and the 联系人: {supervision:?}");
        w.pass().await;
        assert_eq!(w.outbox().iter().filter(|o| o.1 == "supervision").count(), 2, "once");
    }

    #[tokio::test]
    async fn a_return_reassigns_and_restarts_the_clock_and_green_or_reject_cancels() {
        let w = world();
        let (_, reference) = w.case_with(Card::Red).await;
        w.hand.set(local("2026-12-01T18:00"));
        w.pass().await;
        let ret = ReturnRequest { reason: "该路段由U01负责".into() };
        request_return(&w.state.db, &w.unit, reference.clone(), ret, w.now(), w.tz()).await.unwrap();
        let decision = OfficeDecision { decision: DecisionKind::Reassign, unit_id: Some("U01".into()), reason: None };
        let moved = decide(&w.state.db, &w.reviewer, reference.clone(), decision, w.now(), w.tz()).await.unwrap();
        assert_eq!((moved.case.unit_id.as_str(), moved.case.notified_at, moved.case.reassign_count), ("U01", None, 1));
        let e = w.answer(&w.unit, &reference, vec![w.photo(1)], Some("说明")).await.unwrap_err();
        assert_eq!(code(&e), Some(ErrorCode::CaseNotFound), "the old unit no longer has it");
        w.hand.set(local("2026-12-02T18:00"));
        w.pass().await;
        assert_eq!(
            w.stored(&reference).await.case.deadline,
            Some(local("2026-12-08T00:00")),
            "3 working days from the new notice"
        );
        // U01 reads the history it inherited: the return was U03's, not its own.
        let seen =
            w.state.db.unit_case("U01".into(), reference.clone(), w.tz(), w.now().to_zoned_datetime(w.tz())).await;
        let seen = seen.unwrap().expect("U01 has the case now");
        let by: Vec<(&str, &str)> = seen.events.iter().map(|e| (e.event.as_str(), e.by.as_str())).collect();
        assert!(by.contains(&("return_requested", "原责任单位")), "{by:?}");
        assert!(!by.iter().any(|(_, who)| *who == "本单位"), "{by:?}");

        let (finding, second) = w.case_with(Card::Yellow).await;
        let green = ReviewRequest {
            decision: Decision::Correct,
            category: None,
            unit_id: None,
            card: Some(Card::Green),
            reason: Some("复核为轻微".into()),
        };
        crate::app::review::decide(&w.state.db, &w.reviewer, finding, green, w.now()).await.unwrap();
        let cancelled = w.stored(&second).await;
        assert_eq!(cancelled.case.state, CaseState::Cancelled);
    }

    #[tokio::test]
    async fn an_extension_and_a_deferral_need_the_offices_yes() {
        let w = world();
        let (_, reference) = w.case_with(Card::Yellow).await;
        w.hand.set(local("2026-12-01T18:00"));
        w.pass().await;
        let ext = ExtensionRequest { until: jiff::civil::date(2026, 12, 20), reason: "需采购材料".into() };
        request_extension(&w.state.db, &w.unit, reference.clone(), ext.clone(), w.now(), w.tz()).await.unwrap();
        let e = request_extension(&w.state.db, &w.unit, reference.clone(), ext, w.now(), w.tz()).await.unwrap_err();
        assert_eq!(code(&e), Some(ErrorCode::CaseRequestPending));
        let refuse = OfficeDecision { decision: DecisionKind::RefuseExtension, unit_id: None, reason: None };
        let e = decide(&w.state.db, &w.reviewer, reference.clone(), refuse, w.now(), w.tz()).await.unwrap_err();
        assert_eq!(code(&e), Some(ErrorCode::CaseReasonRequired));
        let grant = OfficeDecision { decision: DecisionKind::GrantExtension, unit_id: None, reason: None };
        let granted = decide(&w.state.db, &w.reviewer, reference.clone(), grant, w.now(), w.tz()).await.unwrap();
        assert_eq!((granted.case.deadline, granted.case.extension_count), (Some(local("2026-12-21T00:00")), 1));

        let def =
            DeferralRequest { explanation: "需市政统一改造".into(), target: jiff::civil::date(2027, 3, 31) };
        request_deferral(&w.state.db, &w.unit, reference.clone(), def, w.now(), w.tz()).await.unwrap();
        let accept = OfficeDecision { decision: DecisionKind::AcceptDeferral, unit_id: None, reason: None };
        let deferred = decide(&w.state.db, &w.reviewer, reference, accept, w.now(), w.tz()).await.unwrap();
        assert_eq!(
            (deferred.case.state, deferred.case.deferred_until),
            (CaseState::Deferred, Some(jiff::civil::date(2027, 3, 31)))
        );
    }
}
