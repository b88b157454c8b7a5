//! Routes for bulletins (compile, edit, recompile, issue, the three formats)
//! and the period exports. Thin: parse, call `app::bulletins`, render
//! (`bulletin`'s formats), answer.
//! Reviewers and admins write; leaders read.

use crate::auth::OfficeCaller;
use crate::bulletin::{self, Period};
use crate::db::bulletins as db;
use crate::error::{AppError, parse_json};
use crate::{AppState, app};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;

fn parse_id(id: &str) -> Result<i64, AppError> {
    id.parse::<i64>().map_err(|_| AppError::NotFound(format!("no bulletin with id {id:?}; ids are numbers")))
}

/// Today in the office's time zone, by the server's clock.
pub fn today(state: &AppState) -> jiff::civil::Date {
    app::bulletins::today(&state.config.timezone, state.clock.now())
}

fn links(id: i64) -> Value {
    let base = format!("/api/v1/bulletins/{id}");
    json!({
        "self": base,
        "html": format!("{base}/bulletin.html"),
        "docx": format!("{base}/bulletin.docx"),
        "json": format!("{base}/bulletin.json"),
    })
}

fn view(row: &db::BulletinRow, with_content: Option<bulletin::Bulletin>) -> Result<Value, AppError> {
    let mut v = serde_json::to_value(row).map_err(AppError::internal)?;
    v["links"] = links(row.id);
    if let Some(b) = with_content {
        v["bulletin"] = serde_json::to_value(b).map_err(AppError::internal)?;
    }
    Ok(v)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    kind: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

pub async fn create(State(state): State<AppState>, caller: OfficeCaller, body: Bytes) -> Result<Response, AppError> {
    let req: CreateRequest = parse_json(&body)?;
    let kind =
        req.kind.ok_or_else(|| AppError::Unprocessable("kind is required: one of day, week, month, custom".into()))?;
    let from =
        req.from.ok_or_else(|| AppError::Unprocessable("from is required: the first day, as YYYY-MM-DD".into()))?;
    let tz = &state.config.timezone;
    let row = app::bulletins::compile_draft(&state.db, tz, &caller, &kind, &from, req.to.as_deref(), state.clock.now())
        .await?;
    let b = bulletin::from_row(&row, today(&state))?;
    Ok((StatusCode::CREATED, Json(view(&row, Some(b))?)).into_response())
}

pub async fn list(State(state): State<AppState>, _caller: OfficeCaller) -> Result<Json<Value>, AppError> {
    let rows = state.db.bulletins(1000).await?;
    let items = rows.iter().map(|r| view(r, None)).collect::<Result<Vec<_>, _>>()?;
    Ok(Json(json!({ "items": items })))
}

pub async fn get(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let row = app::bulletins::load(&state.db, parse_id(&id)?).await?;
    let b = bulletin::from_row(&row, today(&state))?;
    Ok(Json(view(&row, Some(b))?))
}

pub use app::bulletins::Edit;

pub async fn edit(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    let edit: Edit = parse_json(&body)?;
    let row = app::bulletins::edit_text(&state.db, parse_id(&id)?, edit, state.clock.now()).await?;
    let b = bulletin::from_row(&row, today(&state))?;
    Ok(Json(view(&row, Some(b))?))
}

pub async fn recompile(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let row =
        app::bulletins::recompile_draft(&state.db, &state.config.timezone, parse_id(&id)?, state.clock.now()).await?;
    let b = bulletin::from_row(&row, today(&state))?;
    Ok(Json(view(&row, Some(b))?))
}

pub async fn issue(
    State(state): State<AppState>,
    caller: OfficeCaller,
    Path(id): Path<String>,
) -> Result<Json<db::Issued>, AppError> {
    let tz = &state.config.timezone;
    Ok(Json(app::bulletins::issue_draft(&state.db, tz, &caller, parse_id(&id)?, state.clock.now()).await?))
}

/// The bulletin and the thumbnails it shows (a missing file is left out and
/// rendered as missing).
async fn with_thumbnails(
    state: &AppState,
    id: &str,
) -> Result<(db::BulletinRow, bulletin::Bulletin, HashMap<String, Vec<u8>>), AppError> {
    let row = app::bulletins::load(&state.db, parse_id(id)?).await?;
    let b = bulletin::from_row(&row, today(state))?;
    let mut thumbs = HashMap::new();
    for sha in b.photos() {
        if thumbs.contains_key(&sha) {
            continue;
        }
        match state.photos.read(&sha, true).await {
            Ok(bytes) => {
                thumbs.insert(sha, bytes);
            }
            Err(AppError::NotFound(_)) => tracing::warn!(bulletin = row.id, photo = %sha, "photo file missing"),
            Err(e) => return Err(e),
        }
    }
    Ok((row, b, thumbs))
}

fn file_name(row: &db::BulletinRow, ext: &str) -> String {
    match (row.year, row.sequence) {
        (Some(y), Some(s)) => format!("bulletin-{y}-{s}.{ext}"),
        _ => format!("bulletin-draft-{}.{ext}", row.id),
    }
}

fn disposition(kind: &str, name: &str) -> String {
    format!("{kind}; filename=\"{name}\"")
}

pub async fn html(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let (row, b, thumbs) = with_thumbnails(&state, &id).await?;
    let page =
        tokio::task::spawn_blocking(move || bulletin::html::render(&b, &thumbs)).await.map_err(AppError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition("inline", &file_name(&row, "html"))),
            (header::CACHE_CONTROL, "private, no-cache".to_owned()),
        ],
        page,
    )
        .into_response())
}

pub async fn docx(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let (row, b, thumbs) = with_thumbnails(&state, &id).await?;
    let bytes = tokio::task::spawn_blocking(move || bulletin::docx::render(&b, &thumbs))
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::internal)?;
    Ok(docx_answer(&file_name(&row, "docx"), bytes))
}

pub const DOCX_MEDIA: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

/// A Word document as a download (bulletins, the league report).
pub(super) fn docx_answer(name: &str, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, DOCX_MEDIA.to_owned()),
            (header::CONTENT_DISPOSITION, disposition("attachment", name)),
            (header::CACHE_CONTROL, "private, no-cache".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

/// The JSON format. For an issued bulletin these are exactly the frozen
/// snapshot's bytes, so SHA-256 of the response equals its `content_hash`.
pub async fn json(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let row = app::bulletins::load(&state.db, parse_id(&id)?).await?;
    let text = match &row.snapshot {
        Some(s) => s.clone(),
        None => serde_json::to_string(&bulletin::from_row(&row, today(&state))?).map_err(AppError::internal)?,
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::CONTENT_DISPOSITION, disposition("inline", &file_name(&row, "json"))),
        ],
        text,
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    from: Option<String>,
    to: Option<String>,
}

fn export_period(q: &ExportQuery) -> Result<Period, AppError> {
    let from = q
        .from
        .as_deref()
        .ok_or_else(|| AppError::Unprocessable("from is required: the first day, as YYYY-MM-DD".into()))?;
    let to =
        q.to.as_deref()
            .ok_or_else(|| AppError::Unprocessable("to is required: the last day (inclusive), as YYYY-MM-DD".into()))?;
    Period::parse("custom", from, Some(to))
        .map_err(|e| AppError::Unprocessable(e.replace("a custom period", "an export")))
}

/// An export's body, streamed: `head`, then each batch of rows as `render`
/// writes it, as the database hands them over, then `tail`. The first
/// batch is awaited before the answer starts, so a failing query is still
/// a coded error; a failure later cuts the download short (the client sees
/// an incomplete transfer, never a file that looks whole).
async fn export_body(
    state: &AppState,
    period: Period,
    head: String,
    mut render: impl FnMut(&mut String, &[bulletin::export::ExportRow]) + Send + 'static,
    tail: &'static str,
) -> Result<axum::body::Body, AppError> {
    use futures_util::stream::{self, StreamExt};
    let mut batches = app::bulletins::export_rows(&state.db, &state.config.timezone, period).await?;
    let first = batches.recv().await.transpose()?;
    let rest = stream::unfold(batches, |mut batches| async move { batches.recv().await.map(|b| (b, batches)) });
    let rows = stream::iter(first.map(Ok)).chain(rest).map(move |batch| {
        batch
            .map(|rows| {
                let mut out = String::with_capacity(rows.len() * 320);
                render(&mut out, &rows);
                Bytes::from(out)
            })
            .map_err(|e| {
                tracing::error!(error = %e, "an export failed part-way; the download is cut short");
                std::io::Error::other(e.to_string())
            })
    });
    let body = stream::once(async move { Ok(Bytes::from(head)) })
        .chain(rows)
        .chain(stream::once(async move { Ok(Bytes::from_static(tail.as_bytes())) }));
    Ok(axum::body::Body::from_stream(body))
}

pub async fn export_csv(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Query(q): Query<ExportQuery>,
) -> Result<Response, AppError> {
    let period = export_period(&q)?;
    let tz = state.config.timezone.clone();
    let body = export_body(
        &state,
        period,
        bulletin::export::csv_head(),
        move |out, rows| bulletin::export::csv_rows(out, rows, &tz),
        "",
    )
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                disposition("attachment", &format!("findings-{}-{}.csv", period.from, period.to)),
            ),
        ],
        body,
    )
        .into_response())
}

pub async fn export_geojson(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Query(q): Query<ExportQuery>,
) -> Result<Response, AppError> {
    let period = export_period(&q)?;
    let tz = state.config.timezone.clone();
    let mut written = 0;
    let render = move |out: &mut String, rows: &[bulletin::export::ExportRow]| {
        bulletin::export::geojson_features(out, rows, &tz, &mut written)
    };
    let body =
        export_body(&state, period, bulletin::export::GEOJSON_HEAD.to_owned(), render, bulletin::export::GEOJSON_TAIL)
            .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/geo+json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                disposition("attachment", &format!("findings-{}-{}.geojson", period.from, period.to)),
            ),
        ],
        body,
    )
        .into_response())
}
