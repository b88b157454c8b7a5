//! Draws: the random, committed assignment of visits. A draw is made before
//! its period (never after the fact, where it could be chosen to fit): the
//! service checks that, draws a fresh seed, computes the visits
//! (`crate::draw`, pure) and its commitment, and the store keeps them with
//! an evidence-log entry. The seed is revealed only after the period.

use crate::auth::OfficeCaller;
use crate::db::Db;
use crate::db::draws::{Coverage, DrawExport, DrawRequest, DrawSummary, PlannedDraw};
use crate::draw::{self, Params};
use crate::error::AppError;
use anfang_core::error_code::ErrorCode;
use axum::http::StatusCode;

/// Decides a draw over `params` at `now_ms`: refuses a period that has
/// begun, then draws the seed and the visits.
pub fn plan(params: Params, now_ms: i64) -> Result<PlannedDraw, AppError> {
    let tz = params.tz().map_err(AppError::Draw)?;
    let start_ms = crate::db::draws::local_ms(&tz, params.from, jiff::civil::Time::midnight())?;
    if start_ms <= now_ms {
        return Err(AppError::coded(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::DrawPeriodBegun,
            format!(
                "the period must start in the future (from {} has begun); a draw is made before its period",
                params.from
            ),
        )
        .with_field("from"));
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(AppError::internal)?;
    let drawn = draw::compute(&seed, &params).map_err(AppError::Draw)?;
    let commitment = draw::commitment(&seed, &params);
    Ok(PlannedDraw { params, seed, drawn, commitment })
}

/// Makes a draw for `req` at `now_ms`; `created_by` is the office user, or
/// `None` for the command line.
pub async fn create(
    db: &Db,
    req: DrawRequest,
    timezone: String,
    created_by: Option<i64>,
    now_ms: i64,
) -> Result<DrawSummary, AppError> {
    let params = db.draw_params(req, timezone).await?;
    let planned = plan(params, now_ms)?;
    db.create_draw(planned, created_by, now_ms).await
}

/// An admin's draw.
pub async fn create_as(
    db: &Db,
    caller: &OfficeCaller,
    req: DrawRequest,
    timezone: String,
    now_ms: i64,
) -> Result<DrawSummary, AppError> {
    let summary = create(db, req, timezone, Some(caller.user_id), now_ms).await?;
    tracing::info!(draw = %summary.id, visits = summary.visits, "draw created");
    Ok(summary)
}

/// Reveals a draw's seed; refused until its period has ended.
pub async fn reveal(db: &Db, id: String, now_ms: i64) -> Result<DrawExport, AppError> {
    db.reveal_draw(id, now_ms).await
}

/// Planned versus done visits, over the slots that ended by `now_ms`.
pub async fn coverage(db: &Db, id: String, now_ms: i64) -> Result<Coverage, AppError> {
    db.draw_coverage(id, now_ms).await
}
