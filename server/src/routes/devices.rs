//! Cutting off devices and office users: list and revoke an inspector's
//! devices, disable a user (ending their sessions), and a device's own token
//! rotation. Thin: parse, authorize, call `app::devices`.

use crate::auth::{DeviceCaller, OfficeCaller};
use crate::error::{AppError, parse_json};
use crate::{AppState, app};
use anfang_core::error_code::ErrorCode;
use anfang_core::protocol::TokenRotation;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

fn inspector_id(id: &str) -> Result<i64, AppError> {
    id.parse().map_err(|_| AppError::NotFound(format!("no inspector with id {id}")))
}

/// `GET /api/v1/inspectors/{id}/devices`
pub async fn list(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let id = inspector_id(&id)?;
    Ok(Json(json!({"items": app::devices::list(&state.db, id).await?})))
}

/// One device (`device_id`) or all (`all: true`), never both.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Revoke {
    #[serde(default)]
    device_id: Option<String>,
    #[serde(default)]
    all: bool,
}

/// `POST /api/v1/inspectors/{id}/devices/revoke` `{device_id}` or `{all: true}`
pub async fn revoke(
    State(state): State<AppState>,
    caller: OfficeCaller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    let id = inspector_id(&id)?;
    let req: Revoke = parse_json(&body)?;
    let device = match (req.device_id, req.all) {
        (Some(d), false) => Some(d),
        (None, true) => None,
        _ => {
            return Err(AppError::coded(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::Invalid,
                "say which device: {\"device_id\": \"…\"} for one, or {\"all\": true} for all of this inspector's, not both",
            )
            .with_field("device_id"));
        }
    };
    let revoked = app::devices::revoke(&state.db, id, device, state.clock.now()).await?;
    tracing::info!(inspector = id, n = revoked.len(), by = %caller.username, "devices revoked");
    Ok(Json(json!({"revoked": revoked})))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableUser {
    username: String,
}

/// `POST /api/v1/users/disable` `{username}`
pub async fn disable_user(
    State(state): State<AppState>,
    caller: OfficeCaller,
    body: Bytes,
) -> Result<Json<crate::db::accounts::Disabled>, AppError> {
    let req: DisableUser = parse_json(&body)?;
    let done = app::devices::disable_user(&state.db, req.username).await?;
    tracing::info!(user = %done.username, sessions = done.sessions_ended, by = %caller.username, "user disabled");
    Ok(Json(done))
}

/// `POST /api/v1/device/token`: the calling device's next token.
pub async fn rotate_token(
    State(state): State<AppState>,
    device: DeviceCaller,
) -> Result<Json<TokenRotation>, AppError> {
    let token = app::devices::rotate_token(&state.db, device).await?;
    Ok(Json(TokenRotation { token }))
}
