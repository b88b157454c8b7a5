//! Rectification cases over the API: the office's queue, detail and
//! decisions; a unit's own cases, answers and requests; the office calendar,
//! category deadlines and rectification settings. Thin: parse, call
//! `app::cases`, answer. Roles come from the route table.

use crate::app::cases::{AnswerRequest, DeferralRequest, ExtensionRequest, OfficeDecision, ReturnRequest};
use crate::auth::OfficeCaller;
use crate::db::cases::{CaseQuery, CategoryDeadline, OfficeCaseDetail, RectificationSettings, UnitCaseDetail};
use crate::error::{AppError, parse_json};
use crate::rectification::calendar::OfficeCalendar;
use crate::rectification::case::CaseError;
use crate::{AppState, app};
use anfang_core::error_code::ErrorCode;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};

fn now_zoned(state: &AppState) -> jiff::ZonedDateTime {
    state.clock.now().to_zoned_datetime(state.config.timezone.clone())
}

pub async fn list(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Query(q): Query<CaseQuery>,
) -> Result<Json<Value>, AppError> {
    let items = state.db.office_cases(q, now_zoned(&state)).await?;
    Ok(Json(json!({"items": items})))
}

pub async fn detail(
    State(state): State<AppState>,
    caller: OfficeCaller,
    Path(reference): Path<String>,
) -> Result<Json<OfficeCaseDetail>, AppError> {
    let found = app::cases::office_case(&state.db, caller.role, reference, now_zoned(&state)).await?;
    Ok(Json(found.ok_or(CaseError::NotFound)?))
}

pub async fn decide(
    State(state): State<AppState>,
    caller: OfficeCaller,
    Path(reference): Path<String>,
    body: Bytes,
) -> Result<Json<OfficeCaseDetail>, AppError> {
    let req: OfficeDecision = parse_json(&body)?;
    let tz = state.config.timezone.clone();
    let moved = app::cases::decide(&state.db, &caller, reference, req, state.clock.now(), tz).await?;
    let found = app::cases::office_case(&state.db, caller.role, moved.public_ref, now_zoned(&state)).await?;
    Ok(Json(found.ok_or(CaseError::NotFound)?))
}

pub async fn unit_list(State(state): State<AppState>, caller: OfficeCaller) -> Result<Json<Value>, AppError> {
    let unit = caller.require_unit()?.to_owned();
    let items = state.db.unit_cases(unit.clone(), state.config.timezone.clone(), now_zoned(&state)).await?;
    Ok(Json(json!({"unit_id": unit, "items": items})))
}

async fn unit_detail_of(
    state: &AppState,
    caller: &OfficeCaller,
    reference: String,
) -> Result<UnitCaseDetail, AppError> {
    let unit = caller.require_unit()?.to_owned();
    let found = state.db.unit_case(unit, reference, state.config.timezone.clone(), now_zoned(state)).await?;
    Ok(found.ok_or(CaseError::NotFound)?)
}

pub async fn unit_detail(
    State(state): State<AppState>,
    caller: OfficeCaller,
    Path(reference): Path<String>,
) -> Result<Json<UnitCaseDetail>, AppError> {
    Ok(Json(unit_detail_of(&state, &caller, reference).await?))
}

pub async fn unit_answer(
    State(state): State<AppState>,
    caller: OfficeCaller,
    Path(reference): Path<String>,
    body: Bytes,
) -> Result<Json<UnitCaseDetail>, AppError> {
    let req: AnswerRequest = parse_json(&body)?;
    let tz = state.config.timezone.clone();
    let moved = app::cases::answer(&state.db, &caller, reference, req, state.clock.now(), tz).await?;
    Ok(Json(unit_detail_of(&state, &caller, moved.public_ref).await?))
}

pub async fn unit_return(
    State(state): State<AppState>,
    caller: OfficeCaller,
    Path(reference): Path<String>,
    body: Bytes,
) -> Result<Json<UnitCaseDetail>, AppError> {
    let req: ReturnRequest = parse_json(&body)?;
    let tz = state.config.timezone.clone();
    let moved = app::cases::request_return(&state.db, &caller, reference, req, state.clock.now(), tz).await?;
    Ok(Json(unit_detail_of(&state, &caller, moved.public_ref).await?))
}

pub async fn unit_extension(
    State(state): State<AppState>,
    caller: OfficeCaller,
    Path(reference): Path<String>,
    body: Bytes,
) -> Result<Json<UnitCaseDetail>, AppError> {
    let req: ExtensionRequest = parse_json(&body)?;
    let tz = state.config.timezone.clone();
    let moved = app::cases::request_extension(&state.db, &caller, reference, req, state.clock.now(), tz).await?;
    Ok(Json(unit_detail_of(&state, &caller, moved.public_ref).await?))
}

pub async fn unit_deferral(
    State(state): State<AppState>,
    caller: OfficeCaller,
    Path(reference): Path<String>,
    body: Bytes,
) -> Result<Json<UnitCaseDetail>, AppError> {
    let req: DeferralRequest = parse_json(&body)?;
    let tz = state.config.timezone.clone();
    let moved = app::cases::request_deferral(&state.db, &caller, reference, req, state.clock.now(), tz).await?;
    Ok(Json(unit_detail_of(&state, &caller, moved.public_ref).await?))
}

/// An after-photo (JPEG or PNG, processed on the server) or a PDF scan.
pub async fn unit_attachment(
    State(state): State<AppState>,
    caller: OfficeCaller,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<impl IntoResponse, AppError> {
    caller.require_unit()?;
    // Past the route's limit: the attachment's own refusal, which names
    // the sizes allowed, rather than the API's generic one.
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(app::cases::CaseInputError::AttachmentTooLarge.into());
        }
        Err(e) => return Err(AppError::BadRequest(e.body_text())),
    };
    if body.is_empty() {
        return Err(AppError::coded(
            StatusCode::BAD_REQUEST,
            ErrorCode::FieldRequired,
            "the request body is empty; send the photo or PDF bytes",
        )
        .with_field("file"));
    }
    let att = app::cases::store_attachment(&state.db, &state.photos, body.to_vec()).await?;
    Ok((StatusCode::CREATED, Json(att)))
}

/// A photo of one of the unit's own cases (before or after), or 404.
pub async fn unit_photo(
    State(state): State<AppState>,
    caller: OfficeCaller,
    Path(sha256): Path<String>,
) -> Result<impl IntoResponse, AppError> {
    unit_file(state, caller, sha256, false).await
}

pub async fn unit_thumbnail(
    State(state): State<AppState>,
    caller: OfficeCaller,
    Path(sha256): Path<String>,
) -> Result<impl IntoResponse, AppError> {
    unit_file(state, caller, sha256, true).await
}

async fn unit_file(
    state: AppState,
    caller: OfficeCaller,
    sha256: String,
    thumb: bool,
) -> Result<impl IntoResponse, AppError> {
    let unit = caller.require_unit()?.to_owned();
    let sha = sha256.to_ascii_lowercase();
    if !state.db.unit_may_see_photo(unit, sha.clone()).await? {
        return Err(AppError::NotFound(format!("no photo {sha} in your unit's cases")));
    }
    let bytes = state.photos.read(&sha, thumb).await?;
    Ok(([(header::CONTENT_TYPE, "image/jpeg"), (header::CACHE_CONTROL, "private, max-age=31536000, immutable")], bytes))
}

/// A case attachment (photo or PDF) for the office.
pub async fn office_file(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Path(sha256): Path<String>,
) -> Result<impl IntoResponse, AppError> {
    let bytes = state.photos.read_file(&sha256.to_ascii_lowercase()).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"explanation.pdf\""),
        ],
        bytes,
    ))
}

pub async fn calendar(State(state): State<AppState>, _caller: OfficeCaller) -> Result<Json<Value>, AppError> {
    let days = state.db.calendar_days().await?;
    let items: Vec<Value> = days
        .iter()
        .map(|d| {
            json!({"date": d.date.to_string(), "kind": match d.kind {
                crate::rectification::calendar::DayKind::Holiday => "holiday",
                crate::rectification::calendar::DayKind::Workday => "workday",
            }, "note": d.note})
        })
        .collect();
    Ok(Json(json!({"items": items})))
}

/// The year's holidays and make-up working days, one line per date:
/// `YYYY-MM-DD,休|班[,note]`. All or nothing; replaces the years it covers.
pub async fn import_calendar(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    let text =
        std::str::from_utf8(&body).map_err(|_| AppError::BadRequest("the calendar must be UTF-8 text".into()))?;
    let days = OfficeCalendar::parse_import(text).map_err(|errors| {
        let lines: Vec<String> = errors.iter().take(20).map(|e| e.to_string()).collect();
        AppError::coded(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::CalendarImportInvalid, lines.join("; "))
            .with_field("body")
    })?;
    if days.is_empty() {
        return Err(AppError::coded(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::CalendarImportInvalid,
            "no dates in the import",
        )
        .with_field("body"));
    }
    let n = state.db.import_calendar(days).await?;
    Ok(Json(json!({"imported": n})))
}

pub async fn category_deadlines(State(state): State<AppState>, _caller: OfficeCaller) -> Result<Json<Value>, AppError> {
    Ok(Json(json!({"items": state.db.category_deadlines().await?})))
}

pub async fn put_category_deadlines(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        items: Vec<CategoryDeadline>,
    }
    let req: Body = parse_json(&body)?;
    let categories = state.db.categories().await?;
    app::cases::check_category_deadlines(&categories, &req.items)?;
    state.db.put_category_deadlines(req.items).await?;
    Ok(Json(json!({"items": state.db.category_deadlines().await?})))
}

pub async fn rectification_settings(
    State(state): State<AppState>,
    _caller: OfficeCaller,
) -> Result<Json<RectificationSettings>, AppError> {
    Ok(Json(state.db.rectification_settings().await?))
}

pub async fn put_rectification_settings(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    body: Bytes,
) -> Result<Json<RectificationSettings>, AppError> {
    let s: RectificationSettings = parse_json(&body)?;
    app::cases::check_settings(&s)?;
    state.db.put_rectification_settings(s).await?;
    Ok(Json(state.db.rectification_settings().await?))
}
