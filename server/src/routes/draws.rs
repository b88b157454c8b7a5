//! Routes for the random draw: create (admin), list (reviewer), reveal and
//! export (admin), coverage (reviewer, past slots only).

use crate::auth::OfficeCaller;
use crate::db::draws;
use crate::error::{AppError, parse_json};
use crate::{AppState, app};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use serde::Deserialize;

pub async fn create(
    State(state): State<AppState>,
    caller: OfficeCaller,
    body: Bytes,
) -> Result<Json<draws::DrawSummary>, AppError> {
    let req: draws::DrawRequest = parse_json(&body)?;
    let summary =
        app::draws::create_as(&state.db, &caller, req, state.config.timezone_name(), state.clock.now_ms()).await?;
    Ok(Json(summary))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    from: Option<jiff::civil::Date>,
    to: Option<jiff::civil::Date>,
}

pub async fn list(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Query(q): Query<ListQuery>,
) -> Result<Json<serde_json::Value>, AppError> {
    let (from, to) = (q.from.map(|d| d.to_string()), q.to.map(|d| d.to_string()));
    let items = state.db.draws(from, to).await?;
    Ok(Json(serde_json::json!({ "items": items })))
}

pub async fn reveal(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Path(id): Path<String>,
) -> Result<Json<draws::DrawExport>, AppError> {
    Ok(Json(app::draws::reveal(&state.db, id, state.clock.now_ms()).await?))
}

pub async fn export(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Path(id): Path<String>,
) -> Result<Json<draws::DrawExport>, AppError> {
    Ok(Json(state.db.draw_export(id).await?))
}

/// Draws a re-check visit for every answered case without one (reviewer):
/// which case, when; never who.
pub async fn draw_rechecks(
    State(state): State<AppState>,
    caller: OfficeCaller,
    body: Bytes,
) -> Result<Json<app::rechecks::RecheckDrawReport>, AppError> {
    // An empty body asks for the defaults.
    let req: app::rechecks::RecheckDrawRequest =
        if body.iter().all(u8::is_ascii_whitespace) { Default::default() } else { parse_json(&body)? };
    let report =
        app::rechecks::draw(&state.db, req, state.config.timezone_name(), Some(caller.user_id), state.clock.now_ms())
            .await?;
    Ok(Json(report))
}

pub async fn coverage(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Path(id): Path<String>,
) -> Result<Json<draws::Coverage>, AppError> {
    Ok(Json(app::draws::coverage(&state.db, id, state.clock.now_ms()).await?))
}
