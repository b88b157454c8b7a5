//! Routes for inspector devices: enrollment, pull, push, photo uploads.

use crate::auth::DeviceCaller;
use crate::error::{AppError, parse_json};
use crate::{AppState, app};
use anfang_core::protocol::{
    EnrollRequest, EnrollResponse, PullResponse, PushRequest, PushResponse, UPLOAD_OFFSET_HEADER, UploadCreate,
    UploadStatus,
};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use serde::Deserialize;

pub async fn enroll(State(state): State<AppState>, body: Bytes) -> Result<Json<EnrollResponse>, AppError> {
    let req: EnrollRequest = parse_json(&body)?;
    Ok(Json(app::sync::enroll(&state.db, req, state.clock.now()).await?))
}

#[derive(Deserialize)]
pub struct PullQuery {
    cursor: Option<String>,
}

pub async fn pull(
    State(state): State<AppState>,
    device: DeviceCaller,
    Query(q): Query<PullQuery>,
) -> Result<Json<PullResponse>, AppError> {
    Ok(Json(app::sync::pull(&state.db, &device, q.cursor, state.clock.now()).await?))
}

pub async fn push(
    State(state): State<AppState>,
    device: DeviceCaller,
    body: Bytes,
) -> Result<Json<PushResponse>, AppError> {
    let req: PushRequest = parse_json(&body)?;
    let span = tracing::info_span!("push", device = %device.device_id, n = req.findings.len());
    let results =
        app::sync::push(&state.db, &device, req.findings, state.clock.now(), state.config.timezone.clone()).await?;
    let tally = PushTally::of(&results);
    span.in_scope(|| {
        tracing::info!(
            accepted = tally.accepted,
            duplicate = tally.duplicate,
            missing_photos = tally.missing_photos,
            rejected = tally.rejected,
            "push handled"
        )
    });
    Ok(Json(PushResponse { results }))
}

pub async fn announce_upload(
    State(state): State<AppState>,
    device: DeviceCaller,
    body: Bytes,
) -> Result<Json<UploadStatus>, AppError> {
    let req: UploadCreate = parse_json(&body)?;
    Ok(Json(state.photos.announce(&state.db, &device.device_id, &req.sha256, req.size).await?))
}

pub async fn upload_chunk(
    State(state): State<AppState>,
    device: DeviceCaller,
    Path(sha256): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<UploadStatus>, AppError> {
    let offset = headers
        .get(UPLOAD_OFFSET_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or_else(|| {
            AppError::BadRequest(format!("the {UPLOAD_OFFSET_HEADER} header must give the chunk's starting byte"))
        })?;
    // Only the announcing device's own upload is written to.
    Ok(Json(state.photos.append(&state.db, &device.device_id, &sha256, offset, body).await?))
}

/// A before-photo of one of this inspector's re-check visits (复查), while
/// the visit is on the device; 404 for any other photo, whoever has it.
pub async fn recheck_photo(
    State(state): State<AppState>,
    device: DeviceCaller,
    Path(sha256): Path<String>,
) -> Result<impl IntoResponse, AppError> {
    let sha = sha256.to_ascii_lowercase();
    if !state.db.recheck_photo_allowed(device.inspector_id, sha.clone(), state.clock.now_ms()).await? {
        return Err(AppError::NotFound(format!("no photo {sha} in this inspector's re-check visits")));
    }
    let bytes = state.photos.read(&sha, false).await?;
    Ok(([(header::CONTENT_TYPE, "image/jpeg"), (header::CACHE_CONTROL, "private, max-age=31536000, immutable")], bytes))
}

/// How a push batch went, outcome by outcome, for the log line: an operator
/// reading "accepted=100" must be able to trust that nothing was refused.
#[derive(Debug, Default, PartialEq, Eq)]
struct PushTally {
    accepted: usize,
    duplicate: usize,
    missing_photos: usize,
    rejected: usize,
}

impl PushTally {
    fn of(results: &[anfang_core::protocol::PushResult]) -> Self {
        use anfang_core::protocol::PushOutcome;
        let mut t = PushTally::default();
        for r in results {
            match r.outcome {
                PushOutcome::Accepted => t.accepted += 1,
                PushOutcome::Duplicate => t.duplicate += 1,
                PushOutcome::MissingPhotos { .. } => t.missing_photos += 1,
                PushOutcome::Rejected { .. } => t.rejected += 1,
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::PushTally;
    use anfang_core::protocol::{PushOutcome, PushResult};

    #[test]
    fn the_push_log_line_counts_each_outcome_apart() {
        let result = |outcome| PushResult::new(uuid::Uuid::now_v7(), outcome);
        let results = vec![
            result(PushOutcome::Accepted),
            result(PushOutcome::Duplicate),
            result(PushOutcome::Rejected { code: 422, reason: "bad".into(), error_code: None }),
            result(PushOutcome::Rejected { code: 409, reason: "conflict".into(), error_code: None }),
            result(PushOutcome::MissingPhotos { photos: vec!["ab".into()] }),
        ];
        assert_eq!(PushTally::of(&results), PushTally { accepted: 1, duplicate: 1, missing_photos: 1, rejected: 2 });
    }
}
