//! Cutting off devices and office users: revoking an inspector's devices
//! (their findings stay, and so do the unsynced ones on the phone),
//! disabling a user (ending their sessions; never the last admin), and a
//! device's own token rotation.

use crate::auth::DeviceCaller;
use crate::db::Db;
use crate::db::accounts::Disabled;
use crate::error::AppError;

/// An inspector's devices; 404 for an inspector that does not exist (an
/// empty list would say "exists, has none").
pub async fn list(db: &Db, inspector_id: i64) -> Result<Vec<crate::db::accounts::DeviceRow>, AppError> {
    db.inspector_devices(inspector_id).await?.ok_or_else(|| {
        AppError::coded(
            axum::http::StatusCode::NOT_FOUND,
            anfang_core::error_code::ErrorCode::InspectorNotFound,
            format!("no inspector with id {inspector_id}"),
        )
    })
}

/// Revokes one device of an inspector (`Some(id)`) or all (`None`) at
/// `now`; the ids revoked now.
pub async fn revoke(
    db: &Db,
    inspector_id: i64,
    device: Option<String>,
    now: jiff::Timestamp,
) -> Result<Vec<String>, AppError> {
    db.revoke_devices(inspector_id, device, now).await
}

/// Revokes each of `devices` of one inspector; how many were revoked.
pub async fn revoke_each(
    db: &Db,
    inspector_id: i64,
    devices: Vec<String>,
    now: jiff::Timestamp,
) -> Result<usize, AppError> {
    db.revoke_each_device(inspector_id, devices, now).await
}

/// Disables an office account and ends all its sessions at once.
pub async fn disable_user(db: &Db, username: String) -> Result<Disabled, AppError> {
    db.disable_user(username).await
}

/// The calling device's next token (the old one works until it is used).
pub async fn rotate_token(db: &Db, device: DeviceCaller) -> Result<String, AppError> {
    db.rotate_device_token(device.device_id).await
}
