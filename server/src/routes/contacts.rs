//! A unit's contacts, a test notice to one, and the outbox's SMTP settings.
//! Thin: parse, call `app::contacts`, answer. Who may call each is the
//! route table's (admins write, leaders read).

use crate::auth::{OfficeCaller, Role};
use crate::db::contacts::Contact;
use crate::db::smtp::SmtpSettings;
use crate::error::{AppError, parse_json};
use crate::{AppState, app};
use anfang_core::error_code::ErrorCode;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

/// A contact's id from the path: anything but a number names no contact.
pub(super) fn contact_id(id: &str) -> Result<i64, AppError> {
    id.parse::<i64>()
        .map_err(|_| AppError::coded(StatusCode::NOT_FOUND, ErrorCode::ContactNotFound, format!("no contact {id:?}")))
}

/// Below admin, a robot's URL (its key) is shown masked.
fn for_caller(mut c: Contact, caller: &OfficeCaller) -> Contact {
    if caller.role < Role::Admin
        && let (Some(kind), Some(url)) = (c.webhook_kind, c.webhook_url.as_deref())
    {
        c.webhook_url = Some(crate::notify::mask_target(kind.channel(), url));
    }
    c
}

pub async fn list(
    State(state): State<AppState>,
    caller: OfficeCaller,
    Path(unit_id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let items: Vec<Contact> =
        app::contacts::list(&state.db, unit_id).await?.into_iter().map(|c| for_caller(c, &caller)).collect();
    Ok(Json(json!({"items": items})))
}

pub async fn create(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Path(unit_id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Contact>), AppError> {
    let input: app::contacts::ContactInput = parse_json(&body)?;
    Ok((StatusCode::CREATED, Json(app::contacts::create(&state.db, unit_id, input).await?)))
}

pub async fn update(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Contact>, AppError> {
    let id = contact_id(&id)?;
    let input: app::contacts::ContactInput = parse_json(&body)?;
    Ok(Json(app::contacts::update(&state.db, id, input).await?))
}

pub async fn send_test(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let id = contact_id(&id)?;
    let now = state.clock.now();
    let enqueued = app::contacts::send_test(&state.db, id, now).await?;
    state.notice_wake.notify_one();
    Ok(Json(json!({"enqueued": enqueued, "event_key": format!("test/{id}/{}", now.as_millisecond())})))
}

pub async fn get_smtp(State(state): State<AppState>, _caller: OfficeCaller) -> Result<Json<SmtpSettings>, AppError> {
    Ok(Json(state.db.smtp_settings().await?))
}

pub async fn put_smtp(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    body: Bytes,
) -> Result<Json<SmtpSettings>, AppError> {
    let input: app::contacts::SmtpInput = parse_json(&body)?;
    let saved = app::contacts::save_smtp(&state.db, input).await?;
    // Email notices waiting for a server may go out now.
    state.notice_wake.notify_one();
    Ok(Json(saved))
}
