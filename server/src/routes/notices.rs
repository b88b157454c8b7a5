//! The delivery log (通知记录) and an admin's retry. Thin: parse, call
//! `app::notices`, answer.

use crate::auth::OfficeCaller;
use crate::db::notices::{NoticeFilter, NoticeState, NoticeView};
use crate::error::AppError;
use crate::{AppState, app};
use anfang_core::error_code::ErrorCode;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    state: Option<String>,
    unit: Option<String>,
    kind: Option<String>,
    /// Created from / to (YYYY-MM-DD in the office time zone, or RFC 3339).
    from: Option<String>,
    to: Option<String>,
    limit: Option<usize>,
    next: Option<String>,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct NoticePage {
    items: Vec<NoticeView>,
    /// Pass as `next` to get the following page; `null` on the last page.
    next: Option<String>,
}

const KINDS: &[&str] = &["digest", "reminder", "urge", "overdue", "supervision", "test"];

pub async fn list(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Query(q): Query<ListQuery>,
) -> Result<Json<NoticePage>, AppError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(AppError::BadRequest(format!("limit={limit}: ask for 1 to 500 notices per page")));
    }
    let bad = |field: &'static str, message: String| AppError::BadRequest(message).with_field(field);
    let notice_state = match q.state.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            NoticeState::parse(s).ok_or_else(|| bad("state", format!("state={s:?}: use pending, sent or failed")))?,
        ),
    };
    let kind = match q.kind.filter(|k| !k.is_empty()) {
        Some(k) if !KINDS.contains(&k.as_str()) => {
            return Err(bad("kind", format!("kind={k:?}: use one of {}", KINDS.join(", "))));
        }
        other => other,
    };
    let before = q
        .next
        .as_deref()
        .map(|n| n.parse::<i64>().map_err(|_| bad("next", "`next` must be a value returned by a previous page".into())))
        .transpose()?;
    let tz = &state.config.timezone;
    let filter = NoticeFilter {
        state: notice_state,
        unit: q.unit.filter(|u| !u.is_empty()),
        kind,
        from_ms: q.from.as_deref().map(|v| super::office::parse_bound(v, tz, false, "from")).transpose()?,
        to_ms: q.to.as_deref().map(|v| super::office::parse_bound(v, tz, true, "to")).transpose()?,
        before,
        limit: limit + 1,
    };
    let mut items = app::notices::list(&state.db, filter).await?;
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|n| n.id.to_string())
    } else {
        None
    };
    Ok(Json(NoticePage { items, next }))
}

pub async fn retry(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Path(id): Path<String>,
) -> Result<Json<NoticeView>, AppError> {
    let id = id
        .parse::<i64>()
        .map_err(|_| AppError::coded(StatusCode::NOT_FOUND, ErrorCode::NoticeNotFound, format!("no notice {id:?}")))?;
    let view = app::notices::retry(&state.db, id, state.clock.now()).await?;
    state.notice_wake.notify_one();
    Ok(Json(view))
}
