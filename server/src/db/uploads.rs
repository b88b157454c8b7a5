//! Rows behind photo uploads: announced uploads in progress (one per photo
//! and device), the index of complete, verified photos, and the list of
//! photos no finding references yet. The bytes themselves live in the photo
//! folder (see `crate::photos`).

use crate::error::AppError;
use rusqlite::{Connection, OptionalExtension, params};

/// An announced upload of one device: its declared size.
pub struct Upload {
    pub size: u64,
}

/// What one device has announced and not finished.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct OpenUploads {
    pub count: u64,
    pub bytes: u64,
}

pub fn photo_exists(conn: &Connection, sha256: &str) -> Result<bool, AppError> {
    Ok(conn.query_row("SELECT EXISTS (SELECT 1 FROM photos WHERE sha256 = ?1)", [sha256], |r| r.get(0))?)
}

/// This device's upload of this photo, if it announced one.
pub fn upload(conn: &Connection, sha256: &str, device_id: &str) -> Result<Option<Upload>, AppError> {
    Ok(conn
        .query_row("SELECT size FROM uploads WHERE sha256 = ?1 AND device_id = ?2", [sha256, device_id], |r| {
            Ok(Upload { size: r.get::<_, i64>(0)? as u64 })
        })
        .optional()?)
}

/// The device's open uploads other than its upload of `except_sha256`.
pub fn open_uploads(conn: &Connection, device_id: &str, except_sha256: &str) -> Result<OpenUploads, AppError> {
    Ok(conn.query_row(
        "SELECT count(*), coalesce(sum(size), 0) FROM uploads WHERE device_id = ?1 AND sha256 <> ?2",
        [device_id, except_sha256],
        |r| Ok(OpenUploads { count: r.get::<_, i64>(0)? as u64, bytes: r.get::<_, i64>(1)? as u64 }),
    )?)
}

/// Creates this device's upload row, or replaces its own one announced with
/// another size. Never touches another device's row.
pub fn announce(conn: &Connection, sha256: &str, device_id: &str, size: u64, now_ms: i64) -> Result<(), AppError> {
    conn.execute(
        "INSERT INTO uploads (sha256, device_id, size, touched_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (sha256, device_id) DO UPDATE SET size = excluded.size, touched_ms = excluded.touched_ms",
        params![sha256, device_id, size as i64, now_ms],
    )?;
    Ok(())
}

/// Marks the upload as active, so the expiry counts from now.
pub fn touch(conn: &Connection, sha256: &str, device_id: &str, now_ms: i64) -> Result<(), AppError> {
    conn.execute(
        "UPDATE uploads SET touched_ms = ?3 WHERE sha256 = ?1 AND device_id = ?2",
        params![sha256, device_id, now_ms],
    )?;
    Ok(())
}

pub fn forget_upload(conn: &Connection, sha256: &str, device_id: &str) -> Result<(), AppError> {
    conn.execute("DELETE FROM uploads WHERE sha256 = ?1 AND device_id = ?2", [sha256, device_id])?;
    Ok(())
}

/// Records a verified photo (on the list of unreferenced photos until a
/// finding names it) and closes this device's upload, atomically.
pub fn complete(
    conn: &mut Connection,
    sha256: &str,
    device_id: &str,
    byte_len: u64,
    width: u32,
    height: u32,
    now_ms: i64,
) -> Result<(), AppError> {
    let tx = conn.transaction()?;
    let inserted = tx.execute(
        "INSERT INTO photos (sha256, byte_len, width, height, stored_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (sha256) DO NOTHING",
        params![sha256, byte_len as i64, width, height, super::ms_timestamp(now_ms)?.to_string()],
    )?;
    if inserted == 1 {
        tx.execute(
            "INSERT INTO unreferenced_photos (sha256, stored_ms) VALUES (?1, ?2)
             ON CONFLICT (sha256) DO NOTHING",
            params![sha256, now_ms],
        )?;
    }
    tx.execute("DELETE FROM uploads WHERE sha256 = ?1 AND device_id = ?2", [sha256, device_id])?;
    tx.commit()?;
    Ok(())
}

/// Up to `limit` uploads untouched since before `cutoff_ms`, oldest first:
/// (photo, device).
pub fn stale_uploads(conn: &Connection, cutoff_ms: i64, limit: usize) -> Result<Vec<(String, String)>, AppError> {
    let mut stmt = conn
        .prepare_cached("SELECT sha256, device_id FROM uploads WHERE touched_ms < ?1 ORDER BY touched_ms LIMIT ?2")?;
    let rows = stmt.query_map(params![cutoff_ms, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deletes the upload row if it is still untouched since before `cutoff_ms`
/// (a device may have resumed it since it was listed); true if it did.
pub fn expire_upload(conn: &Connection, sha256: &str, device_id: &str, cutoff_ms: i64) -> Result<bool, AppError> {
    Ok(conn.execute(
        "DELETE FROM uploads WHERE sha256 = ?1 AND device_id = ?2 AND touched_ms < ?3",
        params![sha256, device_id, cutoff_ms],
    )? == 1)
}

/// Up to `limit` photos no finding references, stored before `cutoff_ms`,
/// oldest first.
pub fn stale_unreferenced_photos(conn: &Connection, cutoff_ms: i64, limit: usize) -> Result<Vec<String>, AppError> {
    let mut stmt =
        conn.prepare_cached("SELECT sha256 FROM unreferenced_photos WHERE stored_ms < ?1 ORDER BY stored_ms LIMIT ?2")?;
    let rows = stmt.query_map(params![cutoff_ms, limit as i64], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deletes a photo's rows if it is still unreferenced and stored before
/// `cutoff_ms`; true if it did (the caller then removes its files). A photo a
/// finding names is never deleted: the trigger took it off the list, and the
/// foreign key from `finding_photos` would refuse the delete anyway.
pub fn expire_photo(conn: &mut Connection, sha256: &str, cutoff_ms: i64) -> Result<bool, AppError> {
    let tx = conn.transaction()?;
    let listed = tx.execute(
        "DELETE FROM unreferenced_photos WHERE sha256 = ?1 AND stored_ms < ?2
           AND NOT EXISTS (SELECT 1 FROM finding_photos WHERE sha256 = ?1)",
        params![sha256, cutoff_ms],
    )?;
    if listed == 0 {
        return Ok(false);
    }
    tx.execute("DELETE FROM photos WHERE sha256 = ?1", [sha256])?;
    tx.commit()?;
    Ok(true)
}
