//! Office routes for review decisions and reference-data management (units,
//! points, categories, settings, inspectors). Thin: parse, authorize, call
//! `app::review` / `app::reference` (or a plain read of `db`), answer.

use crate::auth::OfficeCaller;
use crate::db::reference_admin::{OfficeSettings, PointRecord};
use crate::db::reviews;
use crate::error::{AppError, parse_json};
use crate::reference_csv::LineError;
use crate::{AppState, app};
use anfang_core::domain::{Category, Unit};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

pub async fn review_finding(
    State(state): State<AppState>,
    caller: OfficeCaller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<reviews::Revision>, AppError> {
    let req: reviews::ReviewRequest = parse_json(&body)?;
    Ok(Json(app::review::decide(&state.db, &caller, id, req, state.clock.now()).await?))
}

pub async fn list_units(State(state): State<AppState>, _caller: OfficeCaller) -> Result<Json<Value>, AppError> {
    let items = state.db.units().await?;
    Ok(Json(json!({"items": items})))
}

pub async fn list_points(State(state): State<AppState>, _caller: OfficeCaller) -> Result<Json<Value>, AppError> {
    let items = state.db.points().await?;
    Ok(Json(json!({"items": items})))
}

pub async fn list_categories(State(state): State<AppState>, _caller: OfficeCaller) -> Result<Json<Value>, AppError> {
    let items = state.db.categories().await?;
    Ok(Json(json!({"items": items})))
}

fn same_id(path: &str, body: &str, what: &str) -> Result<(), AppError> {
    if path != body {
        return Err(AppError::coded(
            StatusCode::UNPROCESSABLE_ENTITY,
            anfang_core::error_code::ErrorCode::ReferenceIdMismatch,
            format!("the {what} in the URL ({path:?}) differs from the body's ({body:?})"),
        ));
    }
    Ok(())
}

pub async fn put_unit(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Unit>, AppError> {
    let unit: Unit = parse_json(&body)?;
    same_id(&id, &unit.id, "unit id")?;
    Ok(Json(app::reference::save_unit(&state.db, unit).await?))
}

pub async fn put_point(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<PointRecord>, AppError> {
    let point: PointRecord = parse_json(&body)?;
    same_id(&id, &point.point.id, "point id")?;
    Ok(Json(app::reference::save_point(&state.db, point).await?))
}

pub async fn put_category(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Path(code): Path<String>,
    body: Bytes,
) -> Result<Json<Category>, AppError> {
    let category: Category = parse_json(&body)?;
    same_id(&code, &category.code, "category code")?;
    Ok(Json(app::reference::save_category(&state.db, category).await?))
}

/// 422 listing every line error; nothing was written.
pub fn import_errors(errors: &[LineError]) -> Response {
    let shown: Vec<String> = errors.iter().take(5).map(|e| e.to_string()).collect();
    let more = if errors.len() > 5 { format!(" (and {} more)", errors.len() - 5) } else { String::new() };
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({
            "error": format!("nothing was imported: {}{more}", shown.join("; ")),
            "code": anfang_core::error_code::ErrorCode::ImportInvalid,
            "errors": errors,
        })),
    )
        .into_response()
}

fn csv_text(body: &Bytes) -> Result<&str, AppError> {
    if body.is_empty() {
        return Err(AppError::BadRequest("the request body is empty; send the CSV file as the body".into()));
    }
    std::str::from_utf8(body).map_err(|e| {
        AppError::Unprocessable(format!(
            "the file is not UTF-8 text (byte {}); in Excel save it as \"CSV UTF-8\"",
            e.valid_up_to()
        ))
    })
}

pub async fn import_units(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    body: Bytes,
) -> Result<Response, AppError> {
    Ok(match app::reference::import_units_csv(&state.db, csv_text(&body)?).await? {
        Ok(n) => Json(json!({"imported": n})).into_response(),
        Err(errors) => import_errors(&errors),
    })
}

pub async fn import_points(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    body: Bytes,
) -> Result<Response, AppError> {
    Ok(match app::reference::import_points_csv(&state.db, csv_text(&body)?).await? {
        Ok(n) => Json(json!({"imported": n})).into_response(),
        Err(errors) => import_errors(&errors),
    })
}

pub async fn get_settings(
    State(state): State<AppState>,
    _caller: OfficeCaller,
) -> Result<Json<OfficeSettings>, AppError> {
    Ok(Json(state.db.office_settings().await?))
}

pub async fn put_settings(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    body: Bytes,
) -> Result<Json<OfficeSettings>, AppError> {
    let settings: OfficeSettings = parse_json(&body)?;
    Ok(Json(app::reference::save_settings(&state.db, settings).await?))
}

pub async fn list_inspectors(State(state): State<AppState>, _caller: OfficeCaller) -> Result<Json<Value>, AppError> {
    let items = state.db.inspectors().await?;
    Ok(Json(json!({"items": items})))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInspector {
    alias: String,
    /// Who they work for: city (the default), district or third_party.
    #[serde(default)]
    source: Option<crate::league::Source>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InspectorSource {
    pub source: crate::league::Source,
}

/// Which body an inspector works for, from their next finding on.
pub async fn set_inspector_source(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound(format!("no inspector with id {id}")))?;
    let req: InspectorSource = parse_json(&body)?;
    state.db.set_inspector_source(id, req.source).await?;
    Ok(Json(json!({"id": id, "source": req.source})))
}

/// Where a phone app opens to enroll with `code`: `<origin>/app/#enroll=CODE`.
/// The code sits in the fragment so it never reaches a server log.
pub fn enroll_link(headers: &HeaderMap, code: &str) -> String {
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let https =
        headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()).is_some_and(|p| p.eq_ignore_ascii_case("https"));
    format!("{}://{host}/app/#enroll={code}", if https { "https" } else { "http" })
}

pub async fn add_inspector(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    let req: NewInspector = parse_json(&body)?;
    let alias = req.alias.trim().to_owned();
    let source = req.source.unwrap_or(crate::league::Source::City);
    let (id, code) = app::reference::add_inspector(&state.db, &req.alias, source, state.clock.now()).await?;
    Ok(Json(json!({"id": id, "alias": alias, "code": code, "enroll_url": enroll_link(&headers, &code)})))
}

pub async fn new_inspector_code(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound(format!("no inspector with id {id}")))?;
    let code = app::reference::issue_code(&state.db, id, state.clock.now()).await?;
    Ok(Json(json!({"id": id, "code": code, "enroll_url": enroll_link(&headers, &code)})))
}
