//! Sync: what the server decides about a device's enrollment, pull and
//! push. The rules a pushed finding must pass live here, in the order a
//! device sees them: its content is valid, its device has a key, the
//! signature holds; then, against what the server stores (one transaction
//! per batch, see [`Db::push_batch`]), that it is new or an exact replay,
//! that its point, unit and category exist, that it is not stamped in the
//! future by the server's clock, that a linked visit is the inspector's,
//! at its point, inside its slot and not before the device was enrolled,
//! that a re-check result is on a re-check visit that has none yet, and
//! that its photos are uploaded.

use crate::auth::DeviceCaller;
use crate::db::Db;
use crate::db::findings::{PushFacts, PushRules};
use crate::error::AppError;
use anfang_core::domain::FindingContent;
use anfang_core::error_code::ErrorCode;
use anfang_core::protocol::{
    EnrollRequest, EnrollResponse, MAX_PUSH_BATCH, PullResponse, PushOutcome, PushResult, SignedFinding,
};
use jiff::Timestamp;

/// How far into the future (by the server's clock) an observation may be
/// stamped before it is refused as a wrong phone clock; also how far before
/// the device's enrollment a drawn visit's finding may be stamped.
pub const MAX_CLOCK_SKEW_MS: i64 = 60 * 60 * 1000;

/// A finding linked to a drawn visit must be observed within the visit's
/// slot, give or take this much (phone clocks drift; an inspector finishes
/// writing up just after the slot ends).
pub const SLOT_TOLERANCE_MS: i64 = 15 * 60 * 1000;

fn reject(code: u16, error_code: ErrorCode, reason: impl Into<String>) -> PushOutcome {
    PushOutcome::Rejected { code, reason: reason.into(), error_code: Some(error_code) }
}

fn reject_coded(error_code: ErrorCode, reason: impl Into<String>) -> PushOutcome {
    reject(422, error_code, reason)
}

/// Spends an enrollment code for a new device.
pub async fn enroll(db: &Db, req: EnrollRequest, now: Timestamp) -> Result<EnrollResponse, AppError> {
    if req.code.trim().is_empty() {
        return Err(AppError::coded(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::FieldRequired,
            "the enrollment code is empty; type the code the office gave you",
        )
        .with_field("code"));
    }
    // 64 hex digits can still be no point on the curve: a 422 with the
    // field, not a 400 (the body itself is well-formed).
    if let Err(e) = anfang_core::evidence::parse_public_key(&req.public_key) {
        return Err(AppError::coded(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::DeviceKeyInvalid,
            e.to_string(),
        )
        .with_field("public_key"));
    }
    let enrolled = db.enroll_device(req.code, req.device_label, req.public_key, now).await?;
    tracing::info!(device = %enrolled.device_id, "device enrolled");
    Ok(EnrollResponse { device_id: enrolled.device_id, token: enrolled.token, alias: enrolled.alias })
}

/// Reference data after `cursor`, the inspector's visible visits (from
/// their lead time), and whether the device's token is due for rotation.
pub async fn pull(
    db: &Db,
    device: &DeviceCaller,
    cursor: Option<String>,
    now: Timestamp,
) -> Result<PullResponse, AppError> {
    db.pull(device, cursor, now).await
}

/// Stores a batch of findings for one device: one transaction for the
/// batch, one result per finding in the order sent.
pub async fn push(
    db: &Db,
    device: &DeviceCaller,
    findings: Vec<SignedFinding>,
    now: Timestamp,
    tz: jiff::tz::TimeZone,
) -> Result<Vec<PushResult>, AppError> {
    if findings.len() > MAX_PUSH_BATCH {
        return Err(AppError::TooLarge(format!(
            "this batch has {} findings; send at most {MAX_PUSH_BATCH} per request",
            findings.len()
        )));
    }
    // The checks that need nothing stored run before the batch takes the
    // writer (signature verification is the costly part).
    let mut results: Vec<Option<PushResult>> = Vec::with_capacity(findings.len());
    let mut verified = Vec::with_capacity(findings.len());
    for f in findings {
        match check_signed(device, &f) {
            Some(outcome) => results.push(Some(PushResult::new(f.finding.id, outcome))),
            None => {
                results.push(None);
                verified.push(f);
            }
        }
    }
    let rules = PushRules { judge, recheck: crate::app::cases::recheck_decision, tz };
    let mut stored = db.push_batch(device, verified, now, rules).await?.into_iter();
    results
        .into_iter()
        .map(|r| match r {
            Some(r) => Ok(r),
            None => stored.next().ok_or_else(|| AppError::internal("a push batch lost a result")),
        })
        .collect()
}

/// What can be said of a pushed finding without the store: `Some(refusal)`,
/// or `None` to go on.
pub fn check_signed(device: &DeviceCaller, f: &SignedFinding) -> Option<PushOutcome> {
    if let Err(e) = f.finding.validate() {
        return Some(reject(422, e.code, e.to_string()));
    }
    let Some(public_key) = &device.public_key else {
        return Some(reject(
            422,
            ErrorCode::DeviceWithoutKey,
            "this device enrolled without a signing key; enroll it again with a new code",
        ));
    };
    if let Err(e) = anfang_core::evidence::verify(public_key, &f.finding, &f.signature) {
        return Some(reject(
            422,
            ErrorCode::SignatureInvalid,
            format!("{e}; the finding may have been altered after it was recorded"),
        ));
    }
    None
}

/// The decision on a finding that passed [`check_signed`], given what the
/// store holds ([`PushFacts`], read in the batch's transaction). Only
/// `Accepted` is stored.
pub fn judge(device: &DeviceCaller, f: &FindingContent, facts: &PushFacts, now_ms: i64) -> PushOutcome {
    if let Some(stored) = &facts.stored {
        if stored.device_id != device.device_id {
            return reject(
                409,
                ErrorCode::FindingOtherDevice,
                format!("finding {} was submitted by another device", f.id),
            );
        }
        if stored.content_hash == f.content_hash() {
            return PushOutcome::Duplicate;
        }
        return reject(
            409,
            ErrorCode::FindingConflict,
            format!(
                "finding {} was already received with different content; evidence is never overwritten — record a new finding instead",
                f.id
            ),
        );
    }
    if !facts.point_known {
        return reject(
            422,
            ErrorCode::PointUnknown,
            format!("unknown point {:?}; sync to get the current list of points", f.point_id),
        );
    }
    if !facts.unit_known {
        return reject(422, ErrorCode::UnitUnknown, format!("unknown unit {:?}", f.unit_id));
    }
    if !facts.category_known {
        return reject(
            422,
            ErrorCode::CategoryUnknown,
            format!("unknown category {:?}; sync to get the current categories", f.category),
        );
    }
    if f.observed_at.as_millisecond() > now_ms + MAX_CLOCK_SKEW_MS {
        return reject(
            422,
            ErrorCode::ObservedInFuture,
            format!(
                "observed_at {} is in the future by the server's clock; check the phone's date and time",
                f.observed_at
            ),
        );
    }
    if let Some(a) = f.assignment_id
        && let Some(refused) = check_visit(device, f, &a.to_string(), facts)
    {
        return refused;
    }
    if f.recheck.is_some()
        && let Some(refused) = check_recheck(f, facts)
    {
        return refused;
    }
    if !facts.missing_photos.is_empty() {
        return PushOutcome::MissingPhotos { photos: facts.missing_photos.clone() };
    }
    PushOutcome::Accepted
}

/// A re-check result is taken only on a re-check visit (already checked to
/// be the pushing inspector's, at its point, in its slot), once.
fn check_recheck(f: &FindingContent, facts: &PushFacts) -> Option<PushOutcome> {
    let a = f.assignment_id.map(|a| a.to_string()).unwrap_or_default();
    match &facts.recheck {
        None => Some(reject_coded(
            ErrorCode::RecheckNotARecheckVisit,
            format!(
                "assignment {a} is an ordinary drawn visit, not a re-check; record the finding without a re-check result"
            ),
        )),
        Some(v) if v.finding_id.is_some() => Some(reject_coded(
            ErrorCode::RecheckAlreadyRecorded,
            format!("the re-check visit {a} already has its result; record anything else as an ordinary finding"),
        )),
        Some(_) => None,
    }
}

/// A finding linked to a drawn visit counts as that visit only if it is the
/// visit: the pushing inspector's, at its point, observed in its slot, and
/// not before the device existed. `None`: fine; otherwise the refusal.
fn check_visit(
    device: &DeviceCaller,
    f: &FindingContent,
    assignment_id: &str,
    facts: &PushFacts,
) -> Option<PushOutcome> {
    // Only the inspector's own drawn visits; the reason does not say
    // whether the assignment exists for someone else.
    let Some(visit) = facts.visit.as_ref().filter(|v| v.inspector_id == device.inspector_id) else {
        return Some(reject_coded(
            ErrorCode::VisitNotYours,
            format!("assignment {assignment_id} is not one of this inspector's visits"),
        ));
    };
    if f.point_id != visit.point_id {
        return Some(reject_coded(
            ErrorCode::VisitWrongPoint,
            format!(
                "assignment {assignment_id} is a visit to point {:?}, but this finding is at {:?}; \
                 record it as an ordinary finding, or at the visit's point",
                visit.point_id, f.point_id
            ),
        ));
    }
    let observed_ms = f.observed_at.as_millisecond();
    let ts = |ms: i64| Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default();
    if let Some(enrolled_ms) = facts.device_enrolled_ms.filter(|e| observed_ms < e - MAX_CLOCK_SKEW_MS) {
        return Some(reject_coded(
            ErrorCode::ObservedBeforeEnrollment,
            format!(
                "observed_at {} is before this device was enrolled ({}); check the phone's date and time",
                f.observed_at,
                ts(enrolled_ms)
            ),
        ));
    }
    if observed_ms < visit.starts_ms - SLOT_TOLERANCE_MS || observed_ms > visit.ends_ms + SLOT_TOLERANCE_MS {
        return Some(reject_coded(
            ErrorCode::VisitOutsideSlot,
            format!(
                "observed_at {} is outside the slot of assignment {assignment_id} ({} to {}, {} minutes' \
                 tolerance); record it as an ordinary finding",
                f.observed_at,
                ts(visit.starts_ms),
                ts(visit.ends_ms),
                SLOT_TOLERANCE_MS / 60_000
            ),
        ));
    }
    None
}
