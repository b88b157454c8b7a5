//! Re-checks (复查) by an independent inspector: drawing the visit, and the
//! rule a re-check finding's push is judged by (see `app::sync::judge`).
//!
//! **One draw per case.** Each answered case gets its own verifiable draw
//! (`crate::draw`, unchanged) whose parameters hold exactly that case's
//! point (with the case's current unit), one visit, and the eligible
//! inspectors: every active inspector except the one who made the finding
//! and those excluded from that unit. A batch draw over several points
//! could not say "each point exactly once" (the algorithm spreads visits
//! over districts and points but does not promise one per point), and the
//! finder to leave out differs per case; a draw per case makes both hold by
//! construction, and the published parameters show that the finder was not
//! in the pool. Its commitment goes to the evidence log like every draw's,
//! and the admin reveals it after its period as usual.

use crate::db::Db;
use crate::db::draws::DEFAULT_MAX_VISITS_PER_DAY;
use crate::db::rechecks::{AwaitingRecheck, PoolInspector};
use crate::draw::{self, Params, Slot};
use crate::error::AppError;
use anfang_core::error_code::ErrorCode;
use serde::{Deserialize, Serialize};

/// `POST /api/v1/rechecks/draw`: everything optional.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecheckDrawRequest {
    /// The slots visits are drawn into; default [`draw::default_slots`].
    #[serde(default)]
    pub slots: Option<Vec<Slot>>,
    /// Default: the visit reaches the inspector at 00:00 of its day.
    #[serde(default)]
    pub lead_minutes: Option<u32>,
}

/// A re-check visit drawn: which case, when. Never who: the inspector is
/// the draw's secret until it is revealed (reviewers see who only in the
/// coverage report after the slot, as for every draw).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RecheckDrawn {
    pub case_ref: String,
    pub draw_id: String,
    pub commitment: String,
    /// Office-local date of the visit.
    pub date: String,
    /// The slot's label, e.g. 下班后.
    pub slot: String,
    pub starts_at: String,
    pub ends_at: String,
}

/// A case whose re-check could not be drawn, with the coded reason.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RecheckNotDrawn {
    pub case_ref: String,
    pub code: ErrorCode,
    pub error: String,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RecheckDrawReport {
    pub drawn: Vec<RecheckDrawn>,
    pub not_drawn: Vec<RecheckNotDrawn>,
}

/// The eligible inspectors for one case: active, not its finder, not
/// excluded from its unit; sorted by alias, as the parameters want them.
pub fn eligible(case: &AwaitingRecheck, pool: &[PoolInspector]) -> Vec<draw::DrawInspector> {
    pool.iter()
        .filter(|p| p.id != case.finder_id && !p.inspector.excluded_units.contains(&case.point.unit_id))
        .map(|p| p.inspector.clone())
        .collect()
}

/// The draw parameters of one case's re-check: its point, one visit, the
/// eligible inspectors, the days `from..=to`.
pub fn params(
    case: &AwaitingRecheck,
    inspectors: Vec<draw::DrawInspector>,
    from: jiff::civil::Date,
    to: jiff::civil::Date,
    timezone: &str,
    req: &RecheckDrawRequest,
) -> Result<Params, AppError> {
    let mut p = Params {
        algorithm: draw::ALGORITHM.into(),
        from,
        to,
        timezone: timezone.to_owned(),
        inspectors,
        points: vec![case.point.clone()],
        visits: 1,
        slots: req.slots.clone().unwrap_or_else(draw::default_slots),
        min_days_between_same_unit: 1,
        max_visits_per_inspector_per_day: DEFAULT_MAX_VISITS_PER_DAY,
        lead_minutes: req.lead_minutes,
    };
    p.normalize();
    p.validate().map_err(AppError::Draw)?;
    Ok(p)
}

fn ts(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default()
}

/// Draws one re-check visit for every answered case that has none for its
/// current answer, over the next `recheck_within_days` days (from tomorrow,
/// office time: a draw is made before its period). A case that cannot be
/// drawn is reported with its code; the others are drawn all the same.
/// `by` is the office user, `None` for the command line.
pub async fn draw(
    db: &Db,
    req: RecheckDrawRequest,
    timezone: String,
    by: Option<i64>,
    now_ms: i64,
) -> Result<RecheckDrawReport, AppError> {
    let facts = db.recheck_facts().await?;
    let tz = jiff::tz::TimeZone::get(&timezone).map_err(AppError::internal)?;
    let today = jiff::Timestamp::from_millisecond(now_ms).map_err(AppError::internal)?.to_zoned_datetime(tz).date();
    let from = today.tomorrow().map_err(AppError::internal)?;
    let to =
        today.checked_add(jiff::Span::new().days(i64::from(facts.within_days.max(1)))).map_err(AppError::internal)?;
    let mut report = RecheckDrawReport { drawn: Vec::new(), not_drawn: Vec::new() };
    for case in &facts.awaiting {
        let refuse = |code: ErrorCode, error: String| RecheckNotDrawn { case_ref: case.case_ref.clone(), code, error };
        let inspectors = eligible(case, &facts.inspectors);
        if inspectors.is_empty() {
            report.not_drawn.push(refuse(
                ErrorCode::RecheckNoInspector,
                format!(
                    "no active inspector may re-check case {}: the finder is never drawn, nor anyone excluded from unit {}",
                    case.case_ref, case.point.unit_id
                ),
            ));
            continue;
        }
        let planned =
            params(case, inspectors, from, to, &timezone, &req).and_then(|p| crate::app::draws::plan(p, now_ms));
        let planned = match planned {
            Ok(p) => p,
            Err(e @ (AppError::Draw(_) | AppError::Coded { .. })) => {
                report.not_drawn.push(refuse(e.code(), e.to_string()));
                continue;
            }
            Err(e) => return Err(e),
        };
        match db.create_recheck_draw(planned, case.case_id, case.answer_seq, by, now_ms).await {
            Ok(stored) => {
                tracing::info!(case = %case.case_ref, draw = %stored.draw.id, "re-check drawn");
                report.drawn.push(RecheckDrawn {
                    case_ref: case.case_ref.clone(),
                    draw_id: stored.draw.id.to_string(),
                    commitment: stored.draw.commitment,
                    date: stored.date,
                    slot: stored.slot_label,
                    starts_at: ts(stored.starts_ms),
                    ends_at: ts(stored.ends_ms),
                });
            }
            Err(e @ AppError::Coded { .. }) => report.not_drawn.push(refuse(e.code(), e.to_string())),
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests;
