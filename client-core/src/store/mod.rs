//! The on-device store: one SQLite database holding reference data, the
//! inspector's findings with their photos, and the outbox that drives sync.
//!
//! Photos are kept as BLOBs in the same database, so that recording a
//! finding — its row, its photos and its outbox entry — is one transaction:
//! a crash or a killed app leaves all of it or none of it. The same file works
//! natively and in the browser (OPFS), which has no other durable file API
//! that joins a SQLite transaction.
//!
//! To change the schema, append a migration to [`MIGRATIONS`]; never edit one
//! that has shipped.

mod assignments;
mod findings;
mod reference;
pub mod schema;

pub use assignments::Visit;
pub use findings::{FindingRecord, NewFinding, OutboxItem, SyncState};
pub use reference::{PointNear, point_from_row};

use crate::domain::ValidationError;
use crate::photo::PhotoError;
use rusqlite::{Connection, OptionalExtension};
use std::path::Path;

/// The device schema. Append only.
pub const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE units (
    id       TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    district TEXT,
    active   INTEGER NOT NULL
) STRICT;

CREATE TABLE points (
    id       TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    kind     TEXT NOT NULL,
    unit_id  TEXT NOT NULL,
    lat      REAL NOT NULL,
    lon      REAL NOT NULL,
    address  TEXT,
    district TEXT,
    active   INTEGER NOT NULL
) STRICT;

CREATE TABLE categories (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT,
    sort        INTEGER NOT NULL,
    active      INTEGER NOT NULL
) STRICT;

-- The finding as captured. `content` is the canonical JSON that is pushed and
-- hashed; the other columns are copies for listing and filtering.
CREATE TABLE findings (
    id           TEXT PRIMARY KEY,
    point_id     TEXT NOT NULL,
    card         TEXT NOT NULL,
    category     TEXT NOT NULL,
    observed_at  TEXT NOT NULL,
    content      TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    created_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE photos (
    sha256    TEXT PRIMARY KEY,
    jpeg      BLOB NOT NULL,
    thumbnail BLOB NOT NULL,
    width     INTEGER NOT NULL,
    height    INTEGER NOT NULL,
    -- 1 once the server has confirmed it holds the complete, verified photo.
    uploaded  INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE finding_photos (
    finding_id TEXT NOT NULL REFERENCES findings(id),
    position   INTEGER NOT NULL,
    sha256     TEXT NOT NULL REFERENCES photos(sha256),
    PRIMARY KEY (finding_id, position)
) STRICT;

-- One row per finding, written in the same transaction as the finding. Rows
-- stay after sync: their state is the finding's sync state.
CREATE TABLE outbox (
    finding_id      TEXT PRIMARY KEY REFERENCES findings(id),
    state           TEXT NOT NULL CHECK (state IN ('pending', 'synced', 'rejected')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX outbox_pending ON outbox (state, next_attempt_at);
"#,
    // 2: device signatures over findings (the key itself lives in `meta`).
    r#"
ALTER TABLE findings ADD COLUMN signature TEXT;
"#,
    // 3: drawn visits (assignments) this inspector has received.
    r#"
CREATE TABLE assignments (
    id         TEXT PRIMARY KEY,
    point_id   TEXT NOT NULL,
    date       TEXT NOT NULL,
    slot_label TEXT NOT NULL,
    starts_at  TEXT NOT NULL,
    ends_at    TEXT NOT NULL,
    starts_ms  INTEGER NOT NULL
) STRICT;
CREATE INDEX assignments_date ON assignments (date, starts_ms);
"#,
    // 4: re-check visits (复查): the task as JSON on its assignment, and the
    // case's before-photos, fetched once so the inspector has them offline.
    // Kept apart from `photos`, which are this device's own evidence and
    // drive uploads.
    r#"
ALTER TABLE assignments ADD COLUMN recheck TEXT;
CREATE TABLE recheck_photos (
    sha256 TEXT PRIMARY KEY,
    jpeg   BLOB NOT NULL
) STRICT;
"#,
];

/// Errors of the device store. Callers act differently on each variant: a
/// validation or photo error is shown to the inspector to fix; the others are
/// bugs or a broken device and are reported as such.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Photo(#[from] PhotoError),
    #[error("this device is not enrolled yet: enroll it with a code from the office first")]
    NotEnrolled,
    #[error("no finding with id {0}")]
    NoSuchFinding(String),
    #[error(transparent)]
    Schema(#[from] schema::MigrationError),
    #[error("local database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("local data is damaged: {0}")]
    Corrupt(String),
}

/// The enrolment this device holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrollment {
    pub server_url: String,
    pub device_id: String,
    pub token: String,
    pub alias: String,
}

/// The device database. One per device; not shared between threads.
pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating if needed) the database file at `path` and brings its
    /// schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        // WAL keeps readers off the writer's back natively; the browser's
        // OPFS VFS has no shared memory, so the wasm build stays in rollback
        // journal mode (see `from_connection`).
        conn.pragma_update(None, "journal_mode", "WAL")?;
        Self::from_connection(conn)
    }

    /// A throw-away in-memory store, for tests.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::from_connection(Connection::open_in_memory()?)
    }

    /// Wraps a connection opened by the platform (e.g. on an OPFS VFS in the
    /// browser), sets the PRAGMAs and migrates.
    pub fn from_connection(mut conn: Connection) -> Result<Self, StoreError> {
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Evidence must survive a power cut right after "saved" is shown.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        schema::migrate(&mut conn, MIGRATIONS)?;
        Ok(Self { conn })
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    pub(crate) fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?)
    }

    fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    /// Records the enrolment returned by the server.
    pub fn save_enrollment(&mut self, e: &Enrollment) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        for (k, v) in [
            ("server_url", e.server_url.as_str()),
            ("device_id", &e.device_id),
            ("token", &e.token),
            ("alias", &e.alias),
        ] {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [k, v],
            )?;
        }
        // A new enrolment may be against another server: its cursor is meaningless.
        tx.execute("DELETE FROM meta WHERE key = 'pull_cursor'", [])?;
        tx.commit()?;
        Ok(())
    }

    /// The enrolment, or `None` on a fresh device.
    pub fn enrollment(&self) -> Result<Option<Enrollment>, StoreError> {
        let (Some(server_url), Some(device_id), Some(token), Some(alias)) =
            (self.meta("server_url")?, self.meta("device_id")?, self.meta("token")?, self.meta("alias")?)
        else {
            return Ok(None);
        };
        Ok(Some(Enrollment { server_url, device_id, token, alias }))
    }

    /// This device's signing key, made on first use and kept in this store:
    /// it never leaves the device.
    pub fn device_key(&self) -> Result<crate::evidence::DeviceKey, StoreError> {
        if let Some(secret) = self.meta("device_secret")? {
            return crate::evidence::DeviceKey::from_secret_hex(&secret)
                .map_err(|e| StoreError::Corrupt(e.to_string()));
        }
        let key = crate::evidence::DeviceKey::generate();
        // Insert-or-keep, so two racing first uses agree on one key.
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES ('device_secret', ?1) ON CONFLICT (key) DO NOTHING",
            [key.secret_hex()],
        )?;
        let stored = self.meta("device_secret")?.ok_or_else(|| StoreError::Corrupt("device key vanished".into()))?;
        crate::evidence::DeviceKey::from_secret_hex(&stored).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    /// The server's opaque reference-data cursor from the last pull.
    pub fn pull_cursor(&self) -> Result<Option<String>, StoreError> {
        self.meta("pull_cursor")
    }

    pub(crate) fn set_pull_cursor(&self, cursor: Option<&str>) -> Result<(), StoreError> {
        match cursor {
            Some(c) => self.set_meta("pull_cursor", c),
            None => {
                self.conn.execute("DELETE FROM meta WHERE key = 'pull_cursor'", [])?;
                Ok(())
            }
        }
    }
}
