//! Office review of findings: accept, correct (category, unit or card) or
//! reject, each decision a new revision.
//!
//! **Invariant:** the captured finding is never touched. A decision is one
//! new `finding_reviews` row (revision = previous + 1) carrying the effective
//! category, unit and card after it, plus an evidence-log entry of kind
//! `review`, both in one transaction: a decision is logged or it did not
//! happen.

use crate::error::AppError;
use anfang_core::Card;
use anfang_core::domain::sha256_hex;
use rusqlite::{Connection, OptionalExtension, params};
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

/// One revision as the office sees it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Revision {
    pub revision: i64,
    pub decision: String,
    pub category: String,
    pub unit_id: String,
    pub card: String,
    pub reason: Option<String>,
    /// The reviewer's username.
    pub reviewer: String,
    pub decided_at: String,
}

/// The effective state of a finding (its latest revision, or as captured).
#[derive(Debug, Clone)]
struct State {
    category: String,
    unit_id: String,
    card: String,
    revision: i64,
}

fn state(conn: &Connection, finding_id: &str) -> Result<Option<State>, AppError> {
    Ok(conn
        .query_row(
            "SELECT category, unit_id, card, coalesce(revision, 0) FROM finding_state WHERE finding_id = ?1",
            [finding_id],
            |r| Ok(State { category: r.get(0)?, unit_id: r.get(1)?, card: r.get(2)?, revision: r.get(3)? }),
        )
        .optional()?)
}

/// What the evidence log records for a revision: a hash over every field,
/// so a later edit of the row is detectable.
pub fn revision_hash(finding_id: &str, r: &Revision, reviewer_id: i64) -> String {
    sha256_hex(
        format!(
            "anfang-review-v1\n{finding_id}\n{}\n{}\n{}\n{}\n{}\n{}\n{reviewer_id}\n{}",
            r.revision,
            r.decision,
            r.category,
            r.unit_id,
            r.card,
            r.reason.as_deref().unwrap_or(""),
            r.decided_at
        )
        .as_bytes(),
    )
}

/// The evidence-log record id of a revision (distinct from the finding's own).
pub fn log_record_id(finding_id: &str, revision: i64) -> String {
    format!("{finding_id}/review/{revision}")
}

/// Records a decision as the next revision of the finding.
pub fn decide(
    conn: &mut Connection,
    finding_id: &str,
    reviewer_id: i64,
    reviewer: &str,
    req: &ReviewRequest,
) -> Result<Revision, AppError> {
    let tx = conn.transaction()?;
    let current = state(&tx, finding_id)?.ok_or_else(|| ReviewError::FindingNotFound(finding_id.to_owned()))?;
    let reason = req.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned);
    if let Some(r) = &reason {
        super::reference_admin::check_text("reason", r)?;
        if r.chars().count() > MAX_REASON_CHARS {
            return Err(ReviewError::ReasonTooLong.into());
        }
    }
    let category = req.category.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let unit_id = req.unit_id.as_deref().map(str::trim).filter(|u| !u.is_empty());
    if let Some(c) = category {
        match super::reference::category(&tx, c)? {
            Some(cat) if cat.active => {}
            Some(_) => {
                return Err(ReviewError::CategoryInactive(c.to_owned()).into());
            }
            None => return Err(ReviewError::CategoryUnknown(c.to_owned()).into()),
        }
    }
    if let Some(u) = unit_id {
        match super::reference::unit(&tx, u)? {
            Some(unit) if unit.active => {}
            Some(_) => return Err(ReviewError::UnitInactive(u.to_owned()).into()),
            None => return Err(ReviewError::UnitUnknown(u.to_owned()).into()),
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
            let category = category.map(str::to_owned).unwrap_or_else(|| current.category.clone());
            let unit_id = unit_id.map(str::to_owned).unwrap_or_else(|| current.unit_id.clone());
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
    let revision = Revision {
        revision: current.revision + 1,
        decision: req.decision.as_str().to_owned(),
        category,
        unit_id,
        card,
        reason,
        reviewer: reviewer.to_owned(),
        decided_at: super::now_text(),
    };
    tx.execute(
        "INSERT INTO finding_reviews (finding_id, revision, decision, category, unit_id, card, reason, reviewer_id, decided_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            finding_id,
            revision.revision,
            revision.decision,
            revision.category,
            revision.unit_id,
            revision.card,
            revision.reason,
            reviewer_id,
            revision.decided_at
        ],
    )?;
    super::evidence::append(
        &tx,
        "review",
        &log_record_id(finding_id, revision.revision),
        &revision_hash(finding_id, &revision, reviewer_id),
    )?;
    tx.commit()?;
    Ok(revision)
}

/// Every revision of a finding, oldest first.
pub fn history(conn: &Connection, finding_id: &str) -> Result<Vec<Revision>, AppError> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.revision, r.decision, r.category, r.unit_id, r.card, r.reason, u.username, r.decided_at
         FROM finding_reviews r JOIN users u ON u.id = r.reviewer_id
         WHERE r.finding_id = ?1 ORDER BY r.revision",
    )?;
    let rows = stmt
        .query_map([finding_id], |r| {
            Ok(Revision {
                revision: r.get(0)?,
                decision: r.get(1)?,
                category: r.get(2)?,
                unit_id: r.get(3)?,
                card: r.get(4)?,
                reason: r.get(5)?,
                reviewer: r.get(6)?,
                decided_at: r.get(7)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Checks every revision against its evidence-log entry; one line per problem.
pub fn audit(
    conn: &Connection,
    logged: &std::collections::HashMap<String, (i64, String)>,
) -> Result<Vec<String>, AppError> {
    let mut problems = Vec::new();
    let mut stmt = conn.prepare(
        "SELECT r.finding_id, r.revision, r.decision, r.category, r.unit_id, r.card, r.reason, r.reviewer_id, r.decided_at
         FROM finding_reviews r ORDER BY r.id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let finding_id: String = r.get(0)?;
        let reviewer_id: i64 = r.get(7)?;
        let rev = Revision {
            revision: r.get(1)?,
            decision: r.get(2)?,
            category: r.get(3)?,
            unit_id: r.get(4)?,
            card: r.get(5)?,
            reason: r.get(6)?,
            reviewer: String::new(),
            decided_at: r.get(8)?,
        };
        let id = log_record_id(&finding_id, rev.revision);
        match logged.get(&id) {
            Some((_, h)) if *h == revision_hash(&finding_id, &rev, reviewer_id) => {}
            Some((seq, _)) => problems.push(format!("review {id}: log entry {seq} records another hash (altered)")),
            None => problems.push(format!("review {id}: is not in the evidence log")),
        }
    }
    Ok(problems)
}
