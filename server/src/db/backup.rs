//! What a backup needs from the database: a consistent snapshot of the live
//! file, the facts a backup's manifest records about a snapshot, and the
//! office's backup settings and run log.
//!
//! The snapshot is SQLite's `VACUUM INTO` on a read-only connection: one
//! read transaction, so the copy is the database as of one commit, taken
//! beside a running server (its WAL included), never a file copy of a live
//! WAL database.

use super::Db;
use super::evidence::{self, ChainHead};
use super::sql::{Connection, OptionalExtension, params};
use crate::error::AppError;
// The snapshot and restore steps work on SQLite files themselves.
use rusqlite::{Connection as SqliteFile, OpenFlags};
use std::path::Path;

/// Writes a consistent copy of the database at `db_path` to `out` (which
/// must not exist). Works while the server writes: the copy is one read
/// transaction's view.
pub fn snapshot_into(db_path: &Path, out: &Path) -> Result<(), AppError> {
    let conn = SqliteFile::open_with_flags(db_path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| AppError::Internal(format!("opening {} for a backup: {e}", db_path.display())))?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    let out = out.to_str().ok_or_else(|| AppError::Internal(format!("{} is not UTF-8", out.display())))?;
    conn.execute("VACUUM INTO ?1", [out])
        .map_err(|e| AppError::Internal(format!("snapshot of {} into {out}: {e}", db_path.display())))?;
    Ok(())
}

/// A stored file a snapshot refers to: a photo (with its thumbnail) or a
/// unit's PDF scan, by content hash and length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub sha256: String,
    pub byte_len: u64,
}

/// What a snapshot holds, read from the snapshot file itself, so a manifest
/// can never describe anything but the database beside it.
#[derive(Debug, Clone)]
pub struct SnapshotFacts {
    pub schema_version: i64,
    pub chain: ChainHead,
    pub findings: i64,
    pub cases: i64,
    pub bulletins: i64,
    pub photos: Vec<StoredFile>,
    pub files: Vec<StoredFile>,
}

/// Opens a snapshot (a file no server writes to) read-only and reads its
/// facts; refuses one SQLite finds damaged.
pub fn snapshot_facts(path: &Path) -> Result<SnapshotFacts, String> {
    let uri = evidence::read_only_uri(path, true);
    let conn = SqliteFile::open_with_flags(
        &uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map(Connection::from_sqlite)
    .map_err(|e| format!("opening the snapshot {}: {e}", path.display()))?;
    let facts = || -> Result<SnapshotFacts, AppError> {
        let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        if check != "ok" {
            return Err(AppError::Internal(format!("SQLite finds the snapshot damaged: {check}")));
        }
        let schema_version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let count = |table: &str| -> Result<i64, AppError> {
            Ok(conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?)
        };
        let list = |sql: &str| -> Result<Vec<StoredFile>, AppError> {
            let mut stmt = conn.prepare(sql)?;
            let rows =
                stmt.query_map([], |r| Ok(StoredFile { sha256: r.get(0)?, byte_len: r.get::<_, i64>(1)? as u64 }))?;
            Ok(rows.collect::<Result<_, _>>()?)
        };
        Ok(SnapshotFacts {
            schema_version,
            chain: evidence::head(&conn)?,
            findings: count("findings")?,
            cases: count("rectification_cases")?,
            bulletins: count("bulletins")?,
            photos: list("SELECT sha256, byte_len FROM photos ORDER BY sha256")?,
            files: list("SELECT sha256, byte_len FROM case_files ORDER BY sha256")?,
        })
    };
    facts().map_err(|e| format!("reading the snapshot {}: {e}", path.display()))
}

/// Whether the live database still lists a photo (a backup asks when a
/// photo its snapshot lists is gone from the folder: swept, or lost).
pub fn live_has_photo(db_path: &Path, sha256: &str) -> Result<bool, AppError> {
    let conn =
        SqliteFile::open_with_flags(db_path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let conn = Connection::from_sqlite(conn);
    Ok(conn.query_row("SELECT count(*) FROM photos WHERE sha256 = ?1", [sha256], |r| r.get::<_, i64>(0))? > 0)
}

/// In a restored copy (before anything serves it): forgets the photos the
/// sweeper removed while the backup ran, as the sweeper did in the live
/// database. Only unreferenced photos qualify; any other is left listed,
/// and `verify` names it missing.
pub fn drop_swept_photos(db_path: &Path, shas: &[String]) -> Result<(), AppError> {
    let conn = Connection::from_sqlite(SqliteFile::open(db_path)?);
    let tx = conn.transaction()?;
    for sha in shas {
        let unreferenced: i64 =
            tx.query_row("SELECT count(*) FROM unreferenced_photos WHERE sha256 = ?1", [sha], |r| r.get(0))?;
        if unreferenced > 0 {
            tx.execute("DELETE FROM unreferenced_photos WHERE sha256 = ?1", [sha])?;
            tx.execute("DELETE FROM photos WHERE sha256 = ?1", [sha])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Where and when the server backs itself up, set in the console (or by
/// `serve --backup-to …`). The passphrase itself is never stored: only the
/// file it is read from.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct BackupSettings {
    /// The backup folder; empty: no scheduled backup.
    pub target: String,
    /// Local time of day in the office time zone, `HH:MM`.
    pub at: String,
    pub keep_daily: u32,
    pub keep_monthly: u32,
    /// A file holding the passphrase; empty: backups are not encrypted.
    pub passphrase_file: String,
}

impl BackupSettings {
    pub fn defaults() -> Self {
        Self {
            target: String::new(),
            at: "02:00".into(),
            keep_daily: 14,
            keep_monthly: 12,
            passphrase_file: String::new(),
        }
    }
}

/// One backup run, as the console shows it: the stored id and the run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BackupRun {
    pub id: i64,
    #[serde(flatten)]
    pub run: RunRecord,
}

/// What one run did, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunRecord {
    pub started_ms: i64,
    pub duration_ms: i64,
    pub ok: bool,
    pub target: String,
    /// The snapshot's name in the target, when one was written.
    pub snapshot: Option<String>,
    /// Bytes the backup holds (database and every object it lists).
    pub total_bytes: i64,
    /// Bytes copied by this run (the incremental part).
    pub copied_bytes: i64,
    /// What went wrong, or what the run noticed (a photo missing at source).
    pub message: String,
    /// How it was started: `schedule`, `console`.
    pub trigger: String,
}

impl Db {
    pub async fn backup_settings(&self) -> Result<BackupSettings, AppError> {
        self.read(|conn| {
            let value: Option<String> = conn
                .query_row("SELECT value FROM office_settings WHERE key = 'backup'", [], |r| r.get(0))
                .optional()?;
            Ok(match value {
                Some(v) => serde_json::from_str(&v).map_err(AppError::internal)?,
                None => BackupSettings::defaults(),
            })
        })
        .await
    }

    pub async fn save_backup_settings(&self, s: BackupSettings) -> Result<(), AppError> {
        let value = serde_json::to_string(&s).map_err(AppError::internal)?;
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO office_settings (key, value) VALUES ('backup', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [value],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn record_backup_run(&self, run: RunRecord) -> Result<i64, AppError> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO backup_runs (started_ms, duration_ms, ok, target, snapshot, total_bytes, copied_bytes,
                                          message, trigger)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    run.started_ms,
                    run.duration_ms,
                    run.ok,
                    run.target,
                    run.snapshot,
                    run.total_bytes,
                    run.copied_bytes,
                    run.message,
                    run.trigger
                ],
            )?;
            Ok(conn.last_insert_rowid())
        })
        .await
    }

    /// The latest runs, newest first.
    pub async fn backup_runs(&self, limit: u32) -> Result<Vec<BackupRun>, AppError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT id, started_ms, duration_ms, ok, target, snapshot, total_bytes, copied_bytes, message, trigger
                 FROM backup_runs ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = stmt.query_map([limit], |r| {
                Ok(BackupRun {
                    id: r.get(0)?,
                    run: RunRecord {
                        started_ms: r.get(1)?,
                        duration_ms: r.get(2)?,
                        ok: r.get(3)?,
                        target: r.get(4)?,
                        snapshot: r.get(5)?,
                        total_bytes: r.get(6)?,
                        copied_bytes: r.get(7)?,
                        message: r.get(8)?,
                        trigger: r.get(9)?,
                    },
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// When the last successful backup started, if any.
    pub async fn last_good_backup_ms(&self) -> Result<Option<i64>, AppError> {
        self.read(|conn| Ok(conn.query_row("SELECT max(started_ms) FROM backup_runs WHERE ok = 1", [], |r| r.get(0))?))
            .await
    }
}
