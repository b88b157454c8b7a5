//! Findings, their photos, and the outbox rows that drive their sync.
//!
//! **Invariant:** a finding row, its photo rows and its outbox row are written
//! in one transaction; the content stored is the canonical JSON that is
//! pushed, so the device and the server hash the same bytes.

use super::{Store, StoreError};
use crate::clock::Clock;
use crate::domain::{Card, FindingContent, Location, ValidationError};
use crate::photo::ProcessedPhoto;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use uuid::Uuid;

/// What the inspector entered; the store fills in id and time.
#[derive(Debug, Clone)]
pub struct NewFinding {
    pub point_id: String,
    /// The responsible unit; defaults to the point's unit.
    pub unit_id: Option<String>,
    pub category: String,
    pub card: Card,
    pub note: Option<String>,
    /// `None` when the device had no fix: never invent one.
    pub location: Option<Location>,
    /// Photos already run through [`crate::photo::process`].
    pub photos: Vec<ProcessedPhoto>,
}

/// A finding's sync state, as the inspector sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SyncState {
    /// Saved on the device, not tried yet.
    Local,
    /// Tried at least once; will be retried. `last_error` says what went wrong.
    Uploading { attempts: u32, last_error: Option<String> },
    /// The server has it.
    Synced,
    /// The server refused it for good; the reason is the server's.
    Rejected { reason: String },
}

/// A finding on the device with its sync state.
#[derive(Debug, Clone, Serialize)]
pub struct FindingRecord {
    #[serde(flatten)]
    pub content: FindingContent,
    pub content_hash: String,
    pub sync: SyncState,
}

/// A finding waiting to be pushed, with what the engine needs to send it.
#[derive(Debug, Clone)]
pub struct OutboxItem {
    pub content: FindingContent,
    /// The device's signature over `content`.
    pub signature: String,
    pub attempts: u32,
    /// Capture time in ms; with the id, the item's place in the queue.
    pub created_at: i64,
}

fn now_ms(clock: &dyn Clock) -> i64 {
    clock.now().as_millisecond()
}

impl Store {
    /// Validates and saves a finding with its photos and outbox entry, all or
    /// nothing. Works offline; returns the stored content (with its new id).
    pub fn record_finding(&mut self, new: NewFinding, clock: &dyn Clock) -> Result<FindingContent, StoreError> {
        self.record_finding_linked(new, None, None, clock)
    }

    pub(crate) fn record_finding_linked(
        &mut self,
        new: NewFinding,
        assignment_id: Option<Uuid>,
        recheck: Option<crate::domain::RecheckResult>,
        clock: &dyn Clock,
    ) -> Result<FindingContent, StoreError> {
        let point = self.point(&new.point_id)?.ok_or_else(|| {
            ValidationError::new(
                "point_id",
                format!("unknown point {:?}; sync to fetch the current list of points", new.point_id),
            )
            .with_code(crate::error_code::ErrorCode::PointUnknown)
        })?;
        let unit_id = new.unit_id.unwrap_or(point.unit_id);
        if self.unit(&unit_id)?.is_none() {
            return Err(ValidationError::new("unit_id", format!("unknown unit {unit_id:?}"))
                .with_code(crate::error_code::ErrorCode::UnitUnknown)
                .into());
        }
        if !self.categories()?.iter().any(|c| c.code == new.category) {
            return Err(ValidationError::new(
                "category",
                format!("unknown category {:?}; list them with `categories`", new.category),
            )
            .with_code(crate::error_code::ErrorCode::CategoryUnknown)
            .into());
        }
        // Millisecond precision: what a browser clock gives, and what the
        // server stores, so every platform writes the same canonical time.
        let millis = clock.now().as_millisecond();
        let now = jiff::Timestamp::from_millisecond(millis).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let id = Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            millis.div_euclid(1000) as u64,
            (millis.rem_euclid(1000) * 1_000_000) as u32,
        ));
        let content = FindingContent {
            id,
            point_id: new.point_id,
            unit_id,
            category: new.category,
            card: new.card,
            note: new.note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()),
            observed_at: now,
            location: new.location,
            photos: new.photos.iter().map(|p| p.sha256.clone()).collect(),
            assignment_id,
            recheck,
        };
        content.validate()?;
        let signature = self.device_key()?.sign(&content);
        let canonical = content.canonical_json();
        let hash = content.content_hash();

        let tx = self.conn_mut().transaction()?;
        tx.execute(
            "INSERT INTO findings (id, point_id, card, category, observed_at, content, content_hash, created_at, signature)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                content.id.to_string(),
                content.point_id,
                content.card.as_str(),
                content.category,
                content.observed_at.to_string(),
                canonical,
                hash,
                millis,
                signature
            ],
        )?;
        for (position, photo) in new.photos.iter().enumerate() {
            // The same photo attached to two findings is stored once.
            tx.execute(
                "INSERT INTO photos (sha256, jpeg, thumbnail, width, height) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (sha256) DO NOTHING",
                params![photo.sha256, photo.jpeg, photo.thumbnail, photo.width, photo.height],
            )?;
            tx.execute(
                "INSERT INTO finding_photos (finding_id, position, sha256) VALUES (?1, ?2, ?3)",
                params![content.id.to_string(), position as i64, photo.sha256],
            )?;
        }
        tx.execute(
            "INSERT INTO outbox (finding_id, state, updated_at) VALUES (?1, 'pending', ?2)",
            params![content.id.to_string(), millis],
        )?;
        tx.commit()?;
        Ok(content)
    }

    /// All findings on the device, newest first, with their sync state.
    pub fn findings(&self) -> Result<Vec<FindingRecord>, StoreError> {
        let mut stmt = self.conn().prepare(
            "SELECT f.content, f.content_hash, o.state, o.attempts, o.last_error
             FROM findings f JOIN outbox o ON o.finding_id = f.id
             ORDER BY f.created_at DESC, f.id DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, u32>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (content, content_hash, state, attempts, last_error) = row?;
            let content: FindingContent =
                serde_json::from_str(&content).map_err(|e| StoreError::Corrupt(format!("finding content: {e}")))?;
            let sync = match state.as_str() {
                "synced" => SyncState::Synced,
                "rejected" => SyncState::Rejected { reason: last_error.unwrap_or_default() },
                _ if attempts == 0 => SyncState::Local,
                _ => SyncState::Uploading { attempts, last_error },
            };
            out.push(FindingRecord { content, content_hash, sync });
        }
        Ok(out)
    }

    /// Number of findings not yet on the server (pending, not rejected).
    pub fn unsynced_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self.conn().query_row("SELECT count(*) FROM outbox WHERE state = 'pending'", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Findings due for a push, oldest first, after `after` (the last item
    /// of the previous batch in this pass). With `ignore_backoff` (the
    /// inspector pressed "sync"), items waiting out a backoff are included.
    pub fn due_outbox(
        &self,
        clock: &dyn Clock,
        ignore_backoff: bool,
        after: Option<&OutboxItem>,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let horizon = if ignore_backoff { i64::MAX } else { now_ms(clock) };
        let (after_at, after_id) =
            after.map_or((i64::MIN, String::new()), |i| (i.created_at, i.content.id.to_string()));
        let mut stmt = self.conn().prepare_cached(
            "SELECT f.content, o.attempts, f.created_at, f.signature FROM outbox o JOIN findings f ON f.id = o.finding_id
             WHERE o.state = 'pending' AND o.next_attempt_at <= ?1
               AND (f.created_at, f.id) > (?2, ?3)
             ORDER BY f.created_at, f.id LIMIT ?4",
        )?;
        let rows = stmt.query_map(params![horizon, after_at, after_id, limit as i64], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?, r.get::<_, i64>(2)?, r.get::<_, Option<String>>(3)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (content, attempts, created_at, signature) = row?;
            let content =
                serde_json::from_str(&content).map_err(|e| StoreError::Corrupt(format!("finding content: {e}")))?;
            // Findings recorded before signing existed get signed now, by
            // the same device key, rather than never leaving the phone.
            let signature = match signature {
                Some(s) => s,
                None => self.device_key()?.sign(&content),
            };
            out.push(OutboxItem { content, signature, attempts, created_at });
        }
        Ok(out)
    }

    /// Count and bytes of the photos a pass will have to upload.
    pub fn pending_photo_totals(&self, clock: &dyn Clock, ignore_backoff: bool) -> Result<(usize, u64), StoreError> {
        let horizon = if ignore_backoff { i64::MAX } else { now_ms(clock) };
        let (count, bytes): (i64, i64) = self.conn().query_row(
            "SELECT count(*), coalesce(sum(length(jpeg)), 0) FROM photos
             WHERE uploaded = 0 AND sha256 IN (
               SELECT fp.sha256 FROM finding_photos fp JOIN outbox o ON o.finding_id = fp.finding_id
               WHERE o.state = 'pending' AND o.next_attempt_at <= ?1)",
            [horizon],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((count as usize, bytes as u64))
    }

    /// Runs `f` in one transaction: all of its writes land, or none.
    pub(crate) fn in_transaction<T>(&self, f: impl FnOnce(&Self) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.conn().execute_batch("BEGIN IMMEDIATE")?;
        match f(self) {
            Ok(v) => {
                self.conn().execute_batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.conn().execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Stored bytes of a photo, `None` if the device does not have it.
    pub fn photo_jpeg(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.conn().query_row("SELECT jpeg FROM photos WHERE sha256 = ?1", [sha256], |r| r.get(0)).optional()?)
    }

    /// The thumbnail of a photo, for the UI.
    pub fn photo_thumbnail(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT thumbnail FROM photos WHERE sha256 = ?1", [sha256], |r| r.get(0))
            .optional()?)
    }

    /// Whether the server has confirmed holding this photo.
    pub fn photo_uploaded(&self, sha256: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT uploaded FROM photos WHERE sha256 = ?1", [sha256], |r| r.get(0))
            .optional()?
            .unwrap_or(false))
    }

    pub(crate) fn set_photo_uploaded(&self, sha256: &str, uploaded: bool) -> Result<(), StoreError> {
        self.conn().execute("UPDATE photos SET uploaded = ?2 WHERE sha256 = ?1", params![sha256, uploaded])?;
        Ok(())
    }

    pub(crate) fn mark_synced(&self, id: Uuid, clock: &dyn Clock) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE outbox SET state = 'synced', last_error = NULL, updated_at = ?2
             WHERE finding_id = ?1",
            params![id.to_string(), now_ms(clock)],
        )?;
        Ok(())
    }

    pub(crate) fn mark_rejected(&self, id: Uuid, reason: &str, clock: &dyn Clock) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE outbox SET state = 'rejected', last_error = ?2, updated_at = ?3,
               attempts = attempts + 1
             WHERE finding_id = ?1",
            params![id.to_string(), reason, now_ms(clock)],
        )?;
        Ok(())
    }

    /// Notes a failed attempt and when to try again.
    pub(crate) fn mark_retry(
        &self,
        id: Uuid,
        error: &str,
        next_attempt_at_ms: i64,
        clock: &dyn Clock,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3,
               updated_at = ?4
             WHERE finding_id = ?1 AND state = 'pending'",
            params![id.to_string(), error, next_attempt_at_ms, now_ms(clock)],
        )?;
        Ok(())
    }
}
