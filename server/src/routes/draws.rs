//! Routes for the random draw: create (admin), list (reviewer), reveal and
//! export (admin), coverage (reviewer, past slots only).

use crate::AppState;
use crate::auth::{OfficeCaller, Role};
use crate::db::draws;
use crate::error::{AppError, parse_json};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use serde::Deserialize;

pub async fn create(
    State(state): State<AppState>,
    caller: OfficeCaller,
    body: Bytes,
) -> Result<Json<draws::DrawSummary>, AppError> {
    caller.require(Role::Admin)?;
    let req: draws::DrawRequest = parse_json(&body)?;
    let tz = state.config.timezone_name();
    let now_ms = state.clock.now_ms();
    let user = caller.user_id;
    let summary = state
        .db
        .write(move |c| {
            let params = draws::resolve(c, &req, &tz)?;
            draws::create(c, params, Some(user), now_ms)
        })
        .await?;
    tracing::info!(draw = %summary.id, visits = summary.visits, "draw created");
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
    caller: OfficeCaller,
    Query(q): Query<ListQuery>,
) -> Result<Json<serde_json::Value>, AppError> {
    caller.require(Role::Reviewer)?;
    let (from, to) = (q.from.map(|d| d.to_string()), q.to.map(|d| d.to_string()));
    let items = state.db.read(move |c| draws::list(c, from.as_deref(), to.as_deref())).await?;
    Ok(Json(serde_json::json!({ "items": items })))
}

pub async fn reveal(
    State(state): State<AppState>,
    caller: OfficeCaller,
    Path(id): Path<String>,
) -> Result<Json<draws::DrawExport>, AppError> {
    caller.require(Role::Admin)?;
    let now_ms = state.clock.now_ms();
    Ok(Json(state.db.write(move |c| draws::reveal(c, &id, now_ms)).await?))
}

pub async fn export(
    State(state): State<AppState>,
    caller: OfficeCaller,
    Path(id): Path<String>,
) -> Result<Json<draws::DrawExport>, AppError> {
    caller.require(Role::Admin)?;
    Ok(Json(state.db.read(move |c| draws::export(c, &id)).await?))
}

pub async fn coverage(
    State(state): State<AppState>,
    caller: OfficeCaller,
    Path(id): Path<String>,
) -> Result<Json<draws::Coverage>, AppError> {
    caller.require(Role::Reviewer)?;
    let now_ms = state.clock.now_ms();
    Ok(Json(state.db.read(move |c| draws::coverage(c, &id, now_ms)).await?))
}
