//! Rows behind photo uploads: announced uploads in progress (one per photo
//! and device), the index of complete, verified photos, and the list of
//! photos no finding references yet. The bytes themselves live in the photo
//! folder (see `crate::photos`).

use super::sql::{Connection, OptionalExtension, params};
use crate::error::AppError;

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

pub(in crate::db) fn photo_exists(conn: &Connection, sha256: &str) -> Result<bool, AppError> {
    Ok(conn.query_row("SELECT EXISTS (SELECT 1 FROM photos WHERE sha256 = ?1)", [sha256], |r| r.get(0))?)
}

/// This device's upload of this photo, if it announced one.
pub(in crate::db) fn upload(conn: &Connection, sha256: &str, device_id: &str) -> Result<Option<Upload>, AppError> {
    Ok(conn
        .query_row("SELECT size FROM uploads WHERE sha256 = ?1 AND device_id = ?2", [sha256, device_id], |r| {
            Ok(Upload { size: r.get::<_, i64>(0)? as u64 })
        })
        .optional()?)
}

/// The device's open uploads other than its upload of `except_sha256`.
pub(in crate::db) fn open_uploads(
    conn: &Connection,
    device_id: &str,
    except_sha256: &str,
) -> Result<OpenUploads, AppError> {
    Ok(conn.query_row(
        "SELECT count(*), coalesce(sum(size), 0) FROM uploads WHERE device_id = ?1 AND sha256 <> ?2",
        [device_id, except_sha256],
        |r| Ok(OpenUploads { count: r.get::<_, i64>(0)? as u64, bytes: r.get::<_, i64>(1)? as u64 }),
    )?)
}

/// Creates this device's upload row, or replaces its own one announced with
/// another size. Never touches another device's row.
pub(in crate::db) fn announce(
    conn: &Connection,
    sha256: &str,
    device_id: &str,
    size: u64,
    now_ms: i64,
) -> Result<(), AppError> {
    conn.execute(
        "INSERT INTO uploads (sha256, device_id, size, touched_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (sha256, device_id) DO UPDATE SET size = excluded.size, touched_ms = excluded.touched_ms",
        params![sha256, device_id, size as i64, now_ms],
    )?;
    Ok(())
}

/// Marks the upload as active, so the expiry counts from now.
pub(in crate::db) fn touch(conn: &Connection, sha256: &str, device_id: &str, now_ms: i64) -> Result<(), AppError> {
    conn.execute(
        "UPDATE uploads SET touched_ms = ?3 WHERE sha256 = ?1 AND device_id = ?2",
        params![sha256, device_id, now_ms],
    )?;
    Ok(())
}

pub(in crate::db) fn forget_upload(conn: &Connection, sha256: &str, device_id: &str) -> Result<(), AppError> {
    conn.execute("DELETE FROM uploads WHERE sha256 = ?1 AND device_id = ?2", [sha256, device_id])?;
    Ok(())
}

/// Records a verified photo (on the list of unreferenced photos until a
/// finding names it) and closes this device's upload, atomically.
pub(in crate::db) fn complete(
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
pub(in crate::db) fn stale_uploads(
    conn: &Connection,
    cutoff_ms: i64,
    limit: usize,
) -> Result<Vec<(String, String)>, AppError> {
    let mut stmt = conn
        .prepare_cached("SELECT sha256, device_id FROM uploads WHERE touched_ms < ?1 ORDER BY touched_ms LIMIT ?2")?;
    let rows = stmt.query_map(params![cutoff_ms, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deletes the upload row if it is still untouched since before `cutoff_ms`
/// (a device may have resumed it since it was listed); true if it did.
pub(in crate::db) fn expire_upload(
    conn: &Connection,
    sha256: &str,
    device_id: &str,
    cutoff_ms: i64,
) -> Result<bool, AppError> {
    Ok(conn.execute(
        "DELETE FROM uploads WHERE sha256 = ?1 AND device_id = ?2 AND touched_ms < ?3",
        params![sha256, device_id, cutoff_ms],
    )? == 1)
}

/// Up to `limit` photos no finding references, stored before `cutoff_ms`,
/// oldest first.
pub(in crate::db) fn stale_unreferenced_photos(
    conn: &Connection,
    cutoff_ms: i64,
    limit: usize,
) -> Result<Vec<String>, AppError> {
    let mut stmt =
        conn.prepare_cached("SELECT sha256 FROM unreferenced_photos WHERE stored_ms < ?1 ORDER BY stored_ms LIMIT ?2")?;
    let rows = stmt.query_map(params![cutoff_ms, limit as i64], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deletes a photo's rows if it is still unreferenced and stored before
/// `cutoff_ms`; true if it did (the caller then removes its files). A photo a
/// finding names is never deleted: the trigger took it off the list, and the
/// foreign key from `finding_photos` would refuse the delete anyway.
pub(in crate::db) fn expire_photo(conn: &mut Connection, sha256: &str, cutoff_ms: i64) -> Result<bool, AppError> {
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

/// Where an announced upload stands, as the store decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Announced {
    /// The photo is stored already (this device's upload, if any, is gone).
    Stored,
    /// This device's upload, same size: carry on from the partial file.
    Resume,
    /// A new upload of this device (or its own re-announced with another
    /// size): from byte 0.
    Fresh,
}

/// Uploads and stored photos, for `photos::PhotoStore` (which owns the
/// files and the per-photo locks).
impl super::Db {
    /// Announces a photo upload of `size` bytes for a device in one write:
    /// `admit` (the caller's caps) is asked, with the device's other open
    /// uploads, before a new upload is recorded, so two announces cannot
    /// both slip under the cap.
    pub async fn announce_upload(
        &self,
        sha256: String,
        device_id: String,
        size: u64,
        now_ms: i64,
        admit: impl FnOnce(&OpenUploads) -> Result<(), AppError> + Send + 'static,
    ) -> Result<Announced, AppError> {
        self.write(move |c| {
            if photo_exists(c, &sha256)? {
                forget_upload(c, &sha256, &device_id)?;
                return Ok(Announced::Stored);
            }
            let own = upload(c, &sha256, &device_id)?;
            if own.is_some_and(|u| u.size == size) {
                touch(c, &sha256, &device_id, now_ms)?;
                return Ok(Announced::Resume);
            }
            admit(&open_uploads(c, &device_id, &sha256)?)?;
            announce(c, &sha256, &device_id, size, now_ms)?;
            Ok(Announced::Fresh)
        })
        .await
    }

    /// Whether the photo is stored, and this device's upload of it.
    pub async fn upload_state(&self, sha256: String, device_id: String) -> Result<(bool, Option<Upload>), AppError> {
        self.read(move |c| Ok((photo_exists(c, &sha256)?, upload(c, &sha256, &device_id)?))).await
    }

    pub async fn forget_upload(&self, sha256: String, device_id: String) -> Result<(), AppError> {
        self.write(move |c| forget_upload(c, &sha256, &device_id)).await
    }

    /// Records that a device wrote to its upload at `now_ms`.
    pub async fn touch_upload(&self, sha256: String, device_id: String, now_ms: i64) -> Result<(), AppError> {
        self.write(move |c| touch(c, &sha256, &device_id, now_ms)).await
    }

    /// Files a verified photo and closes the device's upload (see [`complete`]).
    #[allow(clippy::too_many_arguments)]
    pub async fn complete_upload(
        &self,
        sha256: String,
        device_id: String,
        byte_len: u64,
        width: u32,
        height: u32,
        now_ms: i64,
    ) -> Result<(), AppError> {
        self.write(move |c| complete(c, &sha256, &device_id, byte_len, width, height, now_ms)).await
    }

    /// Up to `limit` uploads untouched since `cutoff_ms`: (photo, device).
    pub async fn stale_uploads(&self, cutoff_ms: i64, limit: usize) -> Result<Vec<(String, String)>, AppError> {
        self.read(move |c| stale_uploads(c, cutoff_ms, limit)).await
    }

    /// Deletes an upload if still untouched since `cutoff_ms`.
    pub async fn expire_upload(&self, sha256: String, device_id: String, cutoff_ms: i64) -> Result<bool, AppError> {
        self.write(move |c| expire_upload(c, &sha256, &device_id, cutoff_ms)).await
    }

    /// Up to `limit` photos stored before `cutoff_ms` that no finding names.
    pub async fn stale_unreferenced_photos(&self, cutoff_ms: i64, limit: usize) -> Result<Vec<String>, AppError> {
        self.read(move |c| stale_unreferenced_photos(c, cutoff_ms, limit)).await
    }

    /// Deletes an unreferenced photo's rows if still unreferenced.
    pub async fn expire_photo(&self, sha256: String, cutoff_ms: i64) -> Result<bool, AppError> {
        self.write(move |c| expire_photo(c, &sha256, cutoff_ms)).await
    }
}
