//! Routes for the office: sign-in, findings, photos, and the API description.

use crate::auth::{OfficeCaller, Role};
use crate::db::{accounts, findings};
use crate::error::{AppError, parse_json};
use crate::{AppState, app};
use anfang_core::Card;
use anfang_core::error_code::ErrorCode;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

pub async fn openapi() -> Json<Value> {
    Json(super::openapi_document())
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    username: String,
    password: String,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct SessionToken {
    token: String,
    role: Role,
    expires_in_s: i64,
}

pub async fn sign_in(
    State(state): State<AppState>,
    source: crate::signin::Source,
    body: Bytes,
) -> Result<Json<SessionToken>, AppError> {
    let req: SignIn = parse_json(&body)?;
    drop(body); // a waiting sign-in keeps two short strings, not a 2 MiB body
    let signed_in = crate::signin::sign_in(&state, source, &req.username, &req.password).await?;
    Ok(Json(SessionToken {
        token: signed_in.token,
        role: signed_in.role,
        expires_in_s: accounts::SESSION_HOURS * 3600,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    from: Option<String>,
    to: Option<String>,
    unit: Option<String>,
    card: Option<String>,
    category: Option<String>,
    status: Option<String>,
    limit: Option<usize>,
    next: Option<String>,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct FindingPage {
    items: Vec<findings::FindingView>,
    /// Pass as `next` to get the following page; `null` on the last page.
    next: Option<String>,
}

/// A day boundary or an instant: `2026-11-27` is midnight in the office's
/// time zone; RFC 3339 instants are taken as they are. A date whose
/// boundary falls outside what a timestamp can hold (`9999-12-31` as an
/// end, `-009999-01-01`) is the caller's mistake, not the server's: 422
/// naming the field.
pub(super) fn parse_bound(
    value: &str,
    tz: &jiff::tz::TimeZone,
    end: bool,
    field: &'static str,
) -> Result<i64, AppError> {
    if let Ok(ts) = value.parse::<jiff::Timestamp>() {
        return Ok(ts.as_millisecond());
    }
    let date: jiff::civil::Date = value.parse().map_err(|_| {
        AppError::coded(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadDate,
            format!("{field}={value:?} is not a date like 2026-11-27 or an RFC 3339 time"),
        )
        .with_field(field)
    })?;
    let out_of_range = || {
        AppError::coded(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::DateOutOfRange,
            format!(
                "{field}={value:?} is outside the dates the server can handle; use a date from 0001-01-01 to 9998-12-31"
            ),
        )
        .with_field(field)
    };
    let date = if end { date.tomorrow().map_err(|_| out_of_range())? } else { date };
    let zoned = date.to_zoned_datetime(tz.clone()).map_err(|_| out_of_range())?;
    Ok(zoned.timestamp().as_millisecond())
}

pub async fn list_findings(
    State(state): State<AppState>,
    caller: OfficeCaller,
    Query(q): Query<ListQuery>,
) -> Result<Json<FindingPage>, AppError> {
    let tz = &state.config.timezone;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(AppError::BadRequest(format!("limit={limit}: ask for 1 to 500 findings per page")));
    }
    let card =
        q.card.as_deref().map(str::parse::<Card>).transpose().map_err(|e| AppError::BadRequest(e.to_string()))?;
    let before = match &q.next {
        None => None,
        Some(n) => {
            let (ms, id) = n
                .split_once('_')
                .and_then(|(ms, id)| Some((ms.parse::<i64>().ok()?, id.to_owned())))
                .ok_or_else(|| AppError::BadRequest("`next` must be a value returned by a previous page".into()))?;
            Some((ms, id))
        }
    };
    let filter = findings::ListFilter {
        from_ms: q.from.as_deref().map(|v| parse_bound(v, tz, false, "from")).transpose()?,
        to_ms: q.to.as_deref().map(|v| parse_bound(v, tz, true, "to")).transpose()?,
        unit: q.unit,
        card: card.map(|c| c.as_str().to_owned()),
        category: q.category,
        status: q.status.as_deref().map(parse_status).transpose()?.unwrap_or_default(),
        before,
        limit: limit + 1,
    };
    let mut items = app::findings::list(&state.db, &caller, filter).await?;
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|f| format!("{}_{}", f.observed_at.as_millisecond(), f.id))
    } else {
        None
    };
    Ok(Json(FindingPage { items, next }))
}

pub async fn get_finding(
    State(state): State<AppState>,
    caller: OfficeCaller,
    Path(id): Path<String>,
) -> Result<Json<findings::FindingView>, AppError> {
    Ok(Json(app::findings::get(&state.db, &caller, &id).await?))
}

/// `status=pending,accepted` etc.: review states, comma-separated.
pub fn parse_status(value: &str) -> Result<Vec<String>, AppError> {
    let mut out = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let states: &[&str] = match part {
            "pending" => &["pending"],
            "accept" | "accepted" => &["accept"],
            "correct" | "corrected" => &["correct"],
            "reject" | "rejected" => &["reject"],
            "reviewed" => &["accept", "correct", "reject"],
            // What a bulletin counts: accepted as captured or as corrected.
            "valid" => &["accept", "correct"],
            other => {
                return Err(AppError::BadRequest(format!(
                    "status={other:?}: use pending, accepted, corrected, rejected, reviewed or valid (comma-separated)"
                )));
            }
        };
        out.extend(states.iter().map(|s| (*s).to_owned()));
    }
    Ok(out)
}

fn jpeg(bytes: Vec<u8>) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            // Named by content: it can never change under the same URL.
            (header::CACHE_CONTROL, "private, max-age=31536000, immutable"),
        ],
        bytes,
    )
}

pub async fn photo(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Path(sha256): Path<String>,
) -> Result<impl IntoResponse, AppError> {
    Ok(jpeg(state.photos.read(&sha256, false).await?))
}

pub async fn thumbnail(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Path(sha256): Path<String>,
) -> Result<impl IntoResponse, AppError> {
    Ok(jpeg(state.photos.read(&sha256, true).await?))
}
