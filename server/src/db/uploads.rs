//! Rows behind photo uploads: announced uploads in progress and the index of
//! complete, verified photos. The bytes themselves live in the photo folder
//! (see `crate::photos`).

use crate::error::AppError;
use rusqlite::{Connection, OptionalExtension, params};

/// An announced upload: its declared size and who announced it.
pub struct Upload {
    pub size: u64,
    pub device_id: String,
}

pub fn photo_exists(conn: &Connection, sha256: &str) -> Result<bool, AppError> {
    Ok(conn.query_row("SELECT EXISTS (SELECT 1 FROM photos WHERE sha256 = ?1)", [sha256], |r| r.get(0))?)
}

pub fn upload(conn: &Connection, sha256: &str) -> Result<Option<Upload>, AppError> {
    Ok(conn
        .query_row("SELECT size, device_id FROM uploads WHERE sha256 = ?1", [sha256], |r| {
            Ok(Upload { size: r.get::<_, i64>(0)? as u64, device_id: r.get(1)? })
        })
        .optional()?)
}

/// Creates the upload row, or replaces one announced with another size.
pub fn announce(conn: &Connection, sha256: &str, size: u64, device_id: &str) -> Result<(), AppError> {
    conn.execute(
        "INSERT INTO uploads (sha256, size, device_id, created_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (sha256) DO UPDATE SET size = excluded.size, device_id = excluded.device_id,
           created_at = excluded.created_at",
        params![sha256, size as i64, device_id, super::now_text()],
    )?;
    Ok(())
}

pub fn forget_upload(conn: &Connection, sha256: &str) -> Result<(), AppError> {
    conn.execute("DELETE FROM uploads WHERE sha256 = ?1", [sha256])?;
    Ok(())
}

/// Records a verified photo and closes its upload, atomically.
pub fn complete(conn: &mut Connection, sha256: &str, byte_len: u64, width: u32, height: u32) -> Result<(), AppError> {
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO photos (sha256, byte_len, width, height, stored_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (sha256) DO NOTHING",
        params![sha256, byte_len as i64, width, height, super::now_text()],
    )?;
    tx.execute("DELETE FROM uploads WHERE sha256 = ?1", [sha256])?;
    tx.commit()?;
    Ok(())
}
