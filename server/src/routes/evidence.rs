//! The evidence log's chain head for reviewers: the same `(length, head)`
//! an issued bulletin prints and `anfang-server verify --print-head` shows,
//! to keep outside the server and check a later `verify` against.

use crate::AppState;
use crate::auth::OfficeCaller;
use crate::db::evidence::ChainHead;
use crate::error::AppError;
use axum::Json;
use axum::extract::State;

pub async fn head(State(state): State<AppState>, _caller: OfficeCaller) -> Result<Json<ChainHead>, AppError> {
    Ok(Json(state.db.evidence_head().await?))
}
