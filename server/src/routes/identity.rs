//! Admin-only routes for the real person behind an inspector's alias, and
//! the audit log of every read. Every call goes through `app::identities`;
//! the store logs it in the same transaction.

use crate::auth::OfficeCaller;
use crate::db::identities::{self, Actor, IdentityInput};
use crate::error::{AppError, parse_json};
use crate::{AppState, app};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

fn inspector_id(id: &str) -> Result<i64, AppError> {
    id.parse().map_err(|_| AppError::NotFound(format!("no inspector with id {id}")))
}

/// Who is reading or writing an identity, for the audit log (also used by
/// the console's identity pages).
pub(crate) fn actor(caller: &OfficeCaller, route: &str) -> Actor {
    Actor { user_id: Some(caller.user_id), name: caller.username.clone(), route: route.to_owned() }
}

pub async fn get_identity(
    State(state): State<AppState>,
    caller: OfficeCaller,
    Path(id): Path<String>,
) -> Result<Json<identities::Identity>, AppError> {
    let id = inspector_id(&id)?;
    let who = actor(&caller, "GET /api/v1/inspectors/{id}/identity");
    Ok(Json(app::identities::read(&state.db, id, who, state.clock.now()).await?))
}

pub async fn put_identity(
    State(state): State<AppState>,
    caller: OfficeCaller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<identities::Identity>, AppError> {
    let id = inspector_id(&id)?;
    let input: IdentityInput = parse_json(&body)?;
    let who = actor(&caller, "PUT /api/v1/inspectors/{id}/identity");
    Ok(Json(app::identities::set(&state.db, id, input, who, state.clock.now()).await?))
}

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    inspector: Option<i64>,
    limit: Option<i64>,
}

pub async fn audit_log(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Value>, AppError> {
    let limit = q.limit.unwrap_or(500).clamp(1, 5000);
    let items = state.db.identity_audit_log(q.inspector, limit).await?;
    Ok(Json(json!({"items": items})))
}
