//! The exposure page (曝光台) over the API: the office proposes a case,
//! publishes an entry with its public text and photos, withdraws it with a
//! note, and sets the four-eyes rule. Thin: parse, call `app::exposure`,
//! answer. Roles come from the route table; who of them may publish is the
//! service's rule (the proposer never, a reviewer only under four eyes).

use crate::app::exposure::{CommitmentRequest, ExposureError, ExposureSettings, PublishRequest, WithdrawRequest};
use crate::auth::OfficeCaller;
use crate::db::exposure::OfficeEntry;
use crate::error::{AppError, parse_json};
use crate::{AppState, app};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};

pub async fn list(State(state): State<AppState>, _caller: OfficeCaller) -> Result<Json<Value>, AppError> {
    Ok(Json(json!({"items": state.db.office_exposures().await?})))
}

pub async fn detail(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Path(reference): Path<String>,
) -> Result<Json<OfficeEntry>, AppError> {
    let found = state.db.office_exposure(reference.clone()).await?;
    Ok(Json(found.ok_or(ExposureError::NotFound(reference))?))
}

pub async fn propose(
    State(state): State<AppState>,
    caller: OfficeCaller,
    Path(reference): Path<String>,
) -> Result<impl IntoResponse, AppError> {
    let entry = app::exposure::propose(&state.db, &caller, reference, state.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(entry)))
}

pub async fn publish(
    State(state): State<AppState>,
    caller: OfficeCaller,
    Path(reference): Path<String>,
    body: Bytes,
) -> Result<Json<OfficeEntry>, AppError> {
    let req: PublishRequest = parse_json(&body)?;
    let tz = state.config.timezone.clone();
    Ok(Json(app::exposure::publish(&state.db, &state.photos, &caller, reference, req, state.clock.now(), &tz).await?))
}

pub async fn withdraw(
    State(state): State<AppState>,
    caller: OfficeCaller,
    Path(reference): Path<String>,
    body: Bytes,
) -> Result<Json<OfficeEntry>, AppError> {
    let req: WithdrawRequest = parse_json(&body)?;
    let tz = state.config.timezone.clone();
    Ok(Json(app::exposure::withdraw(&state.db, &caller, reference, req, state.clock.now(), &tz).await?))
}

pub async fn get_settings(
    State(state): State<AppState>,
    _caller: OfficeCaller,
) -> Result<Json<ExposureSettings>, AppError> {
    Ok(Json(ExposureSettings { four_eyes: state.db.exposure_four_eyes().await? }))
}

pub async fn put_settings(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    body: Bytes,
) -> Result<Json<ExposureSettings>, AppError> {
    let req: ExposureSettings = parse_json(&body)?;
    state.db.set_exposure_four_eyes(req.four_eyes).await?;
    Ok(Json(ExposureSettings { four_eyes: state.db.exposure_four_eyes().await? }))
}

/// A unit's public commitment (公开承诺) on its own published red-card case.
pub async fn unit_commit(
    State(state): State<AppState>,
    caller: OfficeCaller,
    Path(reference): Path<String>,
    body: Bytes,
) -> Result<impl IntoResponse, AppError> {
    let req: CommitmentRequest = parse_json(&body)?;
    let tz = state.config.timezone.clone();
    let made = app::exposure::commit(&state.db, &caller, reference, req, state.clock.now(), &tz).await?;
    Ok((StatusCode::CREATED, Json(made)))
}
