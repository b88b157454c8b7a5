//! Re-check visits (复查): a drawn visit that re-checks one answered
//! rectification case (`recheck_visits`, migration 0013), and its result,
//! which arrives as the visiting inspector's signed finding.
//!
//! **Invariants:**
//! - a re-check visit is an ordinary draw (commitment in the evidence log,
//!   reveal after its period) whose one assignment is linked to the case
//!   and to the answer it re-checks in the draw's own transaction; one visit
//!   per answer (a unique index), so drawing twice draws nothing new;
//! - its result is written in the push batch's transaction that stores the
//!   finding: the visit's `finding_id`/`passed`, and the case's move through
//!   [`super::cases::transition`], or none when the case is no longer
//!   waiting for this re-check;
//! - the re-checking inspector is stored with the visit and the case event
//!   (actor `inspector`); nothing here builds a unit's view.

use super::cases::{self, StoredCase};
use super::draws::PlannedDraw;
use super::sql::{Connection, OptionalExtension, params};
use crate::draw::{DrawInspector, DrawPoint};
use crate::error::AppError;
use anfang_core::Card;
use anfang_core::error_code::ErrorCode;
use anfang_core::protocol::RecheckTask;
use axum::http::StatusCode;

/// An answered case without a visit for its current answer.
#[derive(Debug, Clone)]
pub struct AwaitingRecheck {
    pub case_id: i64,
    pub case_ref: String,
    /// The seq of the case's latest `answered` event: what is re-checked.
    pub answer_seq: i64,
    /// The case's point with the case's (current) unit.
    pub point: DrawPoint,
    /// Who made the finding: never drawn for its re-check.
    pub finder_id: i64,
}

/// An active inspector as a re-check draw may pick them.
#[derive(Debug, Clone)]
pub struct PoolInspector {
    pub id: i64,
    pub inspector: DrawInspector,
}

/// What a re-check draw is decided from, read together.
#[derive(Debug, Clone)]
pub struct RecheckFacts {
    pub awaiting: Vec<AwaitingRecheck>,
    pub inspectors: Vec<PoolInspector>,
    /// `recheck_within_days`: the visit falls in the next this many days.
    pub within_days: u16,
}

const LATEST_ANSWER: &str = "(SELECT max(e.seq) FROM case_events e WHERE e.case_id = c.id AND e.event = 'answered')";

fn awaiting(conn: &Connection) -> Result<Vec<AwaitingRecheck>, AppError> {
    let sql = format!(
        "SELECT * FROM (
           SELECT c.id, c.public_ref, {LATEST_ANSWER} AS answer_seq, f.point_id, c.unit_id,
                  coalesce(p.district, ''), c.inspector_id
           FROM rectification_cases c JOIN findings f ON f.id = c.finding_id JOIN points p ON p.id = f.point_id
           WHERE c.state = 'answered'
         ) w
         WHERE w.answer_seq IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM recheck_visits v WHERE v.case_id = w.id AND v.answer_seq = w.answer_seq)
         ORDER BY w.id"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([], |r| {
        Ok(AwaitingRecheck {
            case_id: r.get(0)?,
            case_ref: r.get(1)?,
            answer_seq: r.get(2)?,
            point: DrawPoint { id: r.get(3)?, unit_id: r.get(4)?, district: r.get(5)? },
            finder_id: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn pool(conn: &Connection) -> Result<Vec<PoolInspector>, AppError> {
    let mut stmt = conn.prepare("SELECT id, alias FROM inspectors WHERE active = 1 ORDER BY alias")?;
    let active: Vec<(i64, String)> = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    let mut excluded =
        conn.prepare("SELECT unit_id FROM inspector_excluded_units WHERE inspector_id = ?1 ORDER BY unit_id")?;
    let mut out = Vec::with_capacity(active.len());
    for (id, alias) in active {
        let excluded_units = excluded.query_map([id], |r| r.get(0))?.collect::<Result<_, _>>()?;
        out.push(PoolInspector { id, inspector: DrawInspector { alias, excluded_units } });
    }
    Ok(out)
}

/// The case's latest answer, if it is still `answered` (else `None`).
fn current_answer(conn: &Connection, case_id: i64) -> Result<Option<i64>, AppError> {
    Ok(conn
        .query_row(
            &format!("SELECT {LATEST_ANSWER} FROM rectification_cases c WHERE c.id = ?1 AND c.state = 'answered'"),
            [case_id],
            |r| r.get::<_, Option<i64>>(0),
        )
        .optional()?
        .flatten())
}

/// A re-check visit as drawn: the draw and the one assignment.
#[derive(Debug, Clone)]
pub struct StoredRecheck {
    pub draw: super::draws::DrawSummary,
    pub assignment_id: String,
    pub date: String,
    pub slot_label: String,
    pub starts_ms: i64,
    pub ends_ms: i64,
}

/// Stores a re-check draw and links its visit to the case's answer, in one
/// transaction; refused if the case moved on since the draw was planned.
fn store(
    conn: &mut Connection,
    planned: PlannedDraw,
    case_id: i64,
    answer_seq: i64,
    created_by: Option<i64>,
    now_ms: i64,
) -> Result<StoredRecheck, AppError> {
    let tx = conn.transaction()?;
    let taken: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM recheck_visits WHERE case_id = ?1 AND answer_seq = ?2)",
        params![case_id, answer_seq],
        |r| r.get(0),
    )?;
    if current_answer(&tx, case_id)? != Some(answer_seq) || taken {
        return Err(AppError::coded(
            StatusCode::CONFLICT,
            ErrorCode::CaseChanged,
            "the case changed while its re-check was drawn; draw again",
        ));
    }
    let (draw, ids) = super::draws::store_in(&tx, planned, created_by, now_ms)?;
    let [assignment_id] = ids.as_slice() else {
        return Err(AppError::internal(format!("a re-check draw made {} visits, not one", ids.len())));
    };
    tx.execute(
        "INSERT INTO recheck_visits (assignment_id, case_id, answer_seq) VALUES (?1, ?2, ?3)",
        params![assignment_id, case_id, answer_seq],
    )?;
    let (date, slot_label, starts_ms, ends_ms) = tx.query_row(
        "SELECT date, slot_label, starts_ms, ends_ms FROM draw_assignments WHERE id = ?1",
        [assignment_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    let out = StoredRecheck { draw, assignment_id: assignment_id.clone(), date, slot_label, starts_ms, ends_ms };
    tx.commit()?;
    Ok(out)
}

/// The re-check behind an assignment, as a push judges a finding on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecheckVisit {
    pub case_id: i64,
    pub answer_seq: i64,
    /// A result is already recorded (by this finding id).
    pub finding_id: Option<String>,
}

pub(in crate::db) fn visit(conn: &Connection, assignment_id: &str) -> Result<Option<RecheckVisit>, AppError> {
    Ok(conn
        .query_row(
            "SELECT case_id, answer_seq, finding_id FROM recheck_visits WHERE assignment_id = ?1",
            [assignment_id],
            |r| Ok(RecheckVisit { case_id: r.get(0)?, answer_seq: r.get(1)?, finding_id: r.get(2)? }),
        )
        .optional()?)
}

/// A recorded re-check's effect on its case.
#[derive(Debug, Clone)]
pub enum RecheckEffect {
    /// The case moved (closed, or back to the unit for rework).
    Moved(Box<StoredCase>),
    /// The case no longer waits for this re-check (closed on evidence,
    /// answered again, cancelled …): the result is kept, the case stays.
    CaseMovedOn { case_ref: String, state: &'static str },
    /// The case service refused the move (its code and sentence): the
    /// result is kept, the case stays, the office sees both.
    NotMoved { case_ref: String, code: ErrorCode, message: String },
}

/// The decision a re-check's result makes on its case: the service's
/// (`app::cases::recheck_decision`), handed the facts read here.
pub type RecheckDecide<'a> =
    &'a dyn Fn(&cases::CaseFacts) -> Result<(crate::rectification::case::Case, cases::NewEvent), AppError>;

/// Records an accepted re-check finding on its visit, and moves the case
/// if it still waits for exactly this re-check. Runs inside the push
/// batch's transaction, after the finding row is written.
pub(in crate::db) fn record_result(
    tx: &Connection,
    assignment_id: &str,
    finding_id: &str,
    passed: bool,
    now: jiff::Timestamp,
    decide: RecheckDecide<'_>,
) -> Result<RecheckEffect, AppError> {
    let Some(v) = visit(tx, assignment_id)? else {
        return Err(AppError::internal("a re-check finding was accepted on no re-check visit"));
    };
    let changed = tx.execute(
        "UPDATE recheck_visits SET finding_id = ?2, passed = ?3 WHERE assignment_id = ?1 AND finding_id IS NULL",
        params![assignment_id, finding_id, i64::from(passed)],
    )?;
    if changed != 1 {
        return Err(AppError::internal("a re-check visit's result was recorded twice"));
    }
    let case_ref: String =
        tx.query_row("SELECT public_ref FROM rectification_cases WHERE id = ?1", [v.case_id], |r| r.get(0))?;
    let stored = cases::by_ref(tx, &case_ref)?.ok_or_else(|| AppError::internal("a re-check visit lost its case"))?;
    if current_answer(tx, v.case_id)? != Some(v.answer_seq) {
        return Ok(RecheckEffect::CaseMovedOn { case_ref: stored.public_ref, state: stored.case.state.as_str() });
    }
    // A refusal from the decision comes before anything is written (see
    // `cases::transition`); storage failures still fail the batch.
    match cases::transition(tx, stored, now, decide) {
        Ok(moved) => Ok(RecheckEffect::Moved(Box::new(moved))),
        Err(e @ (AppError::Internal(_) | AppError::Conflict { .. })) => Err(e),
        Err(e) => Ok(RecheckEffect::NotMoved { case_ref, code: e.code(), message: e.to_string() }),
    }
}

/// The re-check task a visit carries to its inspector's device, if it is one.
pub(in crate::db) fn task(conn: &Connection, assignment_id: &str) -> Result<Option<RecheckTask>, AppError> {
    let row: Option<(String, String, String, String)> = conn
        .query_row(
            "SELECT c.public_ref, s.category, c.card, c.finding_id FROM recheck_visits v
             JOIN rectification_cases c ON c.id = v.case_id
             JOIN finding_state s ON s.finding_id = c.finding_id
             WHERE v.assignment_id = ?1",
            [assignment_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((case_ref, category, card, finding_id)) = row else { return Ok(None) };
    let card: Card = card.parse().map_err(AppError::internal)?;
    let mut stmt = conn.prepare_cached("SELECT sha256 FROM finding_photos WHERE finding_id = ?1 ORDER BY position")?;
    let photos = stmt.query_map([&finding_id], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(Some(RecheckTask { case_ref, category, card, photos }))
}

/// Whether `sha256` is a before-photo of a re-check visit of this inspector
/// that their device may hold now (the same window as the pull feed's).
fn may_fetch_photo(conn: &Connection, inspector_id: i64, sha256: &str, now_ms: i64) -> Result<bool, AppError> {
    Ok(conn.query_row(
        "SELECT EXISTS (
           SELECT 1 FROM recheck_visits v
           JOIN draw_assignments a ON a.id = v.assignment_id
           JOIN rectification_cases c ON c.id = v.case_id
           JOIN finding_photos p ON p.finding_id = c.finding_id
           WHERE a.inspector_id = ?1 AND p.sha256 = ?2 AND a.visible_ms <= ?3 AND a.ends_ms >= ?3 - ?4)",
        params![inspector_id, sha256, now_ms, super::draws::KEEP_MS],
        |r| r.get(0),
    )?)
}

impl super::Db {
    /// The answered cases waiting for a re-check visit, the active
    /// inspectors with their excluded units, and the re-check window.
    pub async fn recheck_facts(&self) -> Result<RecheckFacts, AppError> {
        self.read(|c| {
            Ok(RecheckFacts {
                awaiting: awaiting(c)?,
                inspectors: pool(c)?,
                within_days: cases::settings(c)?.recheck_within_days,
            })
        })
        .await
    }

    /// Stores a planned re-check draw for `case_id`'s answer `answer_seq`.
    pub async fn create_recheck_draw(
        &self,
        planned: PlannedDraw,
        case_id: i64,
        answer_seq: i64,
        created_by: Option<i64>,
        now_ms: i64,
    ) -> Result<StoredRecheck, AppError> {
        self.write(move |c| store(c, planned, case_id, answer_seq, created_by, now_ms)).await
    }

    /// Whether this inspector's device may download a re-check's before-photo.
    pub async fn recheck_photo_allowed(
        &self,
        inspector_id: i64,
        sha256: String,
        now_ms: i64,
    ) -> Result<bool, AppError> {
        self.read(move |c| may_fetch_photo(c, inspector_id, &sha256, now_ms)).await
    }
}
