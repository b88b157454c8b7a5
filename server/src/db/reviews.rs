//! Office review of findings: accept, correct (category, unit or card) or
//! reject, each decision a new revision.
//!
//! **Invariant:** the captured finding is never touched. A decision is one
//! new `finding_reviews` row (revision = previous + 1) carrying the effective
//! category, unit and card after it, plus an evidence-log entry of kind
//! `review`, both in one transaction: a decision is logged or it did not
//! happen.

use super::sql::{Connection, OptionalExtension, params};
use crate::error::AppError;
use anfang_core::domain::sha256_hex;
use serde::Serialize;

// The request, its decision and its refusals are the review service's;
// named here too for the console, until it calls `app::review`.
pub use crate::app::review::{Decision, MAX_REASON_CHARS, ReviewError, ReviewRequest};

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
pub struct ReviewState {
    pub category: String,
    pub unit_id: String,
    pub card: String,
    pub revision: i64,
}

/// What a decision is judged against, read in its transaction: the
/// finding's effective state (`None`: no such finding) and the category
/// and unit the decision names, if it names them.
#[derive(Debug, Clone)]
pub struct ReviewFacts {
    pub current: Option<ReviewState>,
    pub category: Option<anfang_core::domain::Category>,
    pub unit: Option<anfang_core::domain::Unit>,
}

fn state(conn: &Connection, finding_id: &str) -> Result<Option<ReviewState>, AppError> {
    Ok(conn
        .query_row(
            "SELECT category, unit_id, card, coalesce(revision, 0) FROM finding_state WHERE finding_id = ?1",
            [finding_id],
            |r| Ok(ReviewState { category: r.get(0)?, unit_id: r.get(1)?, card: r.get(2)?, revision: r.get(3)? }),
        )
        .optional()?)
}

/// What the evidence log records for a revision: a hash over every field,
/// so a later edit of the row is detectable.
pub(in crate::db) fn revision_hash(finding_id: &str, r: &Revision, reviewer_id: i64) -> String {
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
pub(in crate::db) fn log_record_id(finding_id: &str, revision: i64) -> String {
    format!("{finding_id}/review/{revision}")
}

/// [`decide_at`] on the system clock: the console's, until merged.
#[doc(hidden)]
pub fn decide(
    conn: &mut Connection,
    finding_id: &str,
    reviewer_id: i64,
    reviewer: &str,
    req: &ReviewRequest,
) -> Result<Revision, AppError> {
    decide_at(conn, finding_id, reviewer_id, reviewer, req, jiff::Timestamp::now())
}

/// A decision at connection level, judged by the review service's rule
/// exactly as [`super::Db::record_review`] does: for callers that still
/// hold a connection (the console, tests), until they are switched over.
#[doc(hidden)]
pub(in crate::db) fn decide_at(
    conn: &mut Connection,
    finding_id: &str,
    reviewer_id: i64,
    reviewer: &str,
    req: &ReviewRequest,
    now: jiff::Timestamp,
) -> Result<Revision, AppError> {
    let names = crate::app::review::names(req);
    let decide = |facts| crate::app::review::revise(finding_id, &facts, req, reviewer, now);
    record(conn, finding_id, reviewer_id, names, decide, now)
}

fn record(
    conn: &mut Connection,
    finding_id: &str,
    reviewer_id: i64,
    (category, unit): (Option<String>, Option<String>),
    decide: impl FnOnce(ReviewFacts) -> Result<Revision, AppError>,
    now: jiff::Timestamp,
) -> Result<Revision, AppError> {
    let tx = conn.transaction()?;
    let facts = ReviewFacts {
        current: state(&tx, finding_id)?,
        category: category.map(|c| super::reference::category(&tx, &c)).transpose()?.flatten(),
        unit: unit.map(|u| super::reference::unit(&tx, &u)).transpose()?.flatten(),
    };
    let revision = decide(facts)?;
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
        now,
    )?;
    // The decision opens, keeps or cancels the finding's rectification case
    // in the same transaction: no accepted card is ever without its case.
    super::cases::on_review(&tx, finding_id, &revision, reviewer_id, now)?;
    tx.commit()?;
    Ok(revision)
}

impl super::Db {
    /// Records a review decision as the finding's next revision, with its
    /// evidence-log entry, in one transaction. `names` are the category and
    /// unit the decision names (read into the [`ReviewFacts`]); `decide` is
    /// the service's rule, which builds the revision or refuses.
    pub async fn record_review(
        &self,
        finding_id: String,
        reviewer_id: i64,
        names: (Option<String>, Option<String>),
        now: jiff::Timestamp,
        decide: impl FnOnce(ReviewFacts) -> Result<Revision, AppError> + Send + 'static,
    ) -> Result<Revision, AppError> {
        self.write(move |c| record(c, &finding_id, reviewer_id, names, decide, now)).await
    }
}

/// Every revision of a finding, oldest first.
pub(in crate::db) fn history(conn: &Connection, finding_id: &str) -> Result<Vec<Revision>, AppError> {
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
pub(in crate::db) fn audit(
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
