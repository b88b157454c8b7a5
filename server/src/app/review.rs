//! Review: what a reviewer's decision must satisfy before it becomes the
//! finding's next revision. The rule ([`revise`]) is judged against what
//! the store holds, read in the decision's own transaction
//! ([`Db::record_review`]), so two reviewers deciding at once cannot both
//! build on the same revision.

use crate::auth::OfficeCaller;
use crate::db::Db;
use crate::db::reviews::{ReviewFacts, Revision};
use crate::error::AppError;
use anfang_core::Card;
use serde::{Deserialize, Serialize};

/// Longest reason the office may write (characters).
pub const MAX_REASON_CHARS: usize = 500;

/// Why a review decision is refused. Mapped to an [`AppError`] with its
/// code and field at the edge; the console shows the code's Chinese text.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("decision {0:?}: use accept, correct or reject")]
    UnknownDecision(String),
    #[error("no finding with id {0}")]
    FindingNotFound(String),
    #[error("the reason is longer than {MAX_REASON_CHARS} characters")]
    ReasonTooLong,
    #[error("a reason is required to {0} a finding")]
    ReasonRequired(&'static str),
    #[error("category {0:?} is deactivated; choose an active one")]
    CategoryInactive(String),
    #[error("unknown category {0:?}")]
    CategoryUnknown(String),
    #[error("unit {0:?} is deactivated; choose an active one")]
    UnitInactive(String),
    #[error("unknown unit {0:?}")]
    UnitUnknown(String),
    #[error("{0} takes no category, unit or card; use decision \"correct\" to change them")]
    ChangeWithoutCorrect(&'static str),
    #[error(
        "a correction must change the category, the unit or the card; to agree with the finding as it is, accept it"
    )]
    CorrectionUnchanged,
}

impl From<ReviewError> for AppError {
    fn from(e: ReviewError) -> Self {
        use anfang_core::error_code::ErrorCode as C;
        use axum::http::StatusCode as S;
        let (status, code, field) = match &e {
            ReviewError::UnknownDecision(_) => (S::UNPROCESSABLE_ENTITY, C::ReviewDecisionUnknown, "decision"),
            ReviewError::FindingNotFound(_) => (S::NOT_FOUND, C::FindingNotFound, "id"),
            ReviewError::ReasonTooLong => (S::UNPROCESSABLE_ENTITY, C::ReviewReasonTooLong, "reason"),
            ReviewError::ReasonRequired(_) => (S::UNPROCESSABLE_ENTITY, C::ReviewReasonRequired, "reason"),
            ReviewError::CategoryInactive(_) => (S::UNPROCESSABLE_ENTITY, C::CategoryInactive, "category"),
            ReviewError::CategoryUnknown(_) => (S::UNPROCESSABLE_ENTITY, C::CategoryUnknown, "category"),
            ReviewError::UnitInactive(_) => (S::UNPROCESSABLE_ENTITY, C::UnitInactive, "unit_id"),
            ReviewError::UnitUnknown(_) => (S::UNPROCESSABLE_ENTITY, C::UnitUnknown, "unit_id"),
            ReviewError::ChangeWithoutCorrect(_) => (S::UNPROCESSABLE_ENTITY, C::ReviewChangeNeedsCorrect, "decision"),
            ReviewError::CorrectionUnchanged => (S::UNPROCESSABLE_ENTITY, C::ReviewCorrectionUnchanged, "decision"),
        };
        AppError::coded(status, code, e.to_string()).with_field(field)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Accept,
    Correct,
    Reject,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Accept => "accept",
            Decision::Correct => "correct",
            Decision::Reject => "reject",
        }
    }
}

impl std::str::FromStr for Decision {
    type Err = AppError;
    fn from_str(s: &str) -> Result<Self, AppError> {
        match s {
            "accept" => Ok(Decision::Accept),
            "correct" => Ok(Decision::Correct),
            "reject" => Ok(Decision::Reject),
            other => Err(ReviewError::UnknownDecision(other.to_owned()).into()),
        }
    }
}

/// What a reviewer decided. For `correct`, absent fields keep the current
/// effective value; at least one must differ from it.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    pub decision: Decision,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub unit_id: Option<String>,
    #[serde(default)]
    pub card: Option<Card>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// The category and unit a request names (trimmed; empty means none), for
/// the store to read into [`ReviewFacts`].
pub fn names(req: &ReviewRequest) -> (Option<String>, Option<String>) {
    let name = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    (name(&req.category), name(&req.unit_id))
}

/// Records a reviewer's decision on a finding at `now`.
pub async fn decide(
    db: &Db,
    caller: &OfficeCaller,
    finding_id: String,
    req: ReviewRequest,
    now: jiff::Timestamp,
) -> Result<Revision, AppError> {
    let names = names(&req);
    let (reviewer, id) = (caller.username.clone(), finding_id.clone());
    db.record_review(finding_id, caller.user_id, names, now, move |facts| revise(&id, &facts, &req, &reviewer, now))
        .await
}

/// The next revision a decision makes, or why it is refused. Checked in
/// this order: the finding exists; the reason is clean text of at most
/// [`MAX_REASON_CHARS`]; a named category and unit exist and are active;
/// accept and reject change nothing, a correction changes something; only
/// an acceptance may come without a reason.
pub fn revise(
    finding_id: &str,
    facts: &ReviewFacts,
    req: &ReviewRequest,
    reviewer: &str,
    now: jiff::Timestamp,
) -> Result<Revision, AppError> {
    let (category, unit_id) = names(req);
    let current = facts.current.as_ref().ok_or_else(|| ReviewError::FindingNotFound(finding_id.to_owned()))?;
    let reason = req.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned);
    if let Some(r) = &reason {
        crate::app::reference::check_text("reason", r)?;
        if r.chars().count() > MAX_REASON_CHARS {
            return Err(ReviewError::ReasonTooLong.into());
        }
    }
    if let Some(c) = &category {
        match &facts.category {
            Some(cat) if cat.active => {}
            Some(_) => return Err(ReviewError::CategoryInactive(c.clone()).into()),
            None => return Err(ReviewError::CategoryUnknown(c.clone()).into()),
        }
    }
    if let Some(u) = &unit_id {
        match &facts.unit {
            Some(unit) if unit.active => {}
            Some(_) => return Err(ReviewError::UnitInactive(u.clone()).into()),
            None => return Err(ReviewError::UnitUnknown(u.clone()).into()),
        }
    }
    let (category, unit_id, card) = match req.decision {
        Decision::Accept | Decision::Reject => {
            if category.is_some() || unit_id.is_some() || req.card.is_some() {
                return Err(ReviewError::ChangeWithoutCorrect(req.decision.as_str()).into());
            }
            (current.category.clone(), current.unit_id.clone(), current.card.clone())
        }
        Decision::Correct => {
            let category = category.unwrap_or_else(|| current.category.clone());
            let unit_id = unit_id.unwrap_or_else(|| current.unit_id.clone());
            let card = req.card.map(|c| c.as_str().to_owned()).unwrap_or_else(|| current.card.clone());
            if (&category, &unit_id, &card) == (&current.category, &current.unit_id, &current.card) {
                return Err(ReviewError::CorrectionUnchanged.into());
            }
            (category, unit_id, card)
        }
    };
    if req.decision != Decision::Accept && reason.is_none() {
        return Err(ReviewError::ReasonRequired(req.decision.as_str()).into());
    }
    Ok(Revision {
        revision: current.revision + 1,
        decision: req.decision.as_str().to_owned(),
        category,
        unit_id,
        card,
        reason,
        reviewer: reviewer.to_owned(),
        decided_at: now.to_string(),
    })
}
