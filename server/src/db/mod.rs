//! The server's storage seam: every query lives below this module, and the
//! rest of the server calls domain-shaped functions (`findings::push_batch`,
//! `accounts::login`, …). A PostgreSQL backend replaces what is in here and
//! nothing above it.
//!
//! SQLite in WAL mode, one writer connection behind a mutex, and a small pool
//! of readers. All calls run on tokio's blocking pool, never on an async
//! worker, and no connection is held across an `.await`.
//!
//! To change the schema, append to [`MIGRATIONS`]; never edit a shipped one.

pub mod accounts;
pub mod bulletins;
pub mod draws;
pub mod evidence;
pub mod findings;
pub mod reference;
pub mod reference_admin;
pub mod reviews;
pub mod uploads;
pub mod unit_portal;
pub mod identities;

use crate::error::AppError;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
-- The reference-data version counter: every changed reference row takes the
-- next value, inside the writing transaction, so a pull cursor follows
-- commit order.
INSERT INTO meta (key, value) VALUES ('ref_version', '0');

CREATE TABLE units (
    id       TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    district TEXT,
    active   INTEGER NOT NULL DEFAULT 1,
    version  INTEGER NOT NULL UNIQUE
) STRICT;

CREATE TABLE points (
    id       TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    kind     TEXT NOT NULL,
    unit_id  TEXT NOT NULL REFERENCES units(id),
    lat      REAL NOT NULL,
    lon      REAL NOT NULL,
    address  TEXT,
    district TEXT,
    leader   TEXT,
    active   INTEGER NOT NULL DEFAULT 1,
    version  INTEGER NOT NULL UNIQUE
) STRICT;

CREATE TABLE categories (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT,
    sort        INTEGER NOT NULL DEFAULT 0,
    active      INTEGER NOT NULL DEFAULT 1,
    version     INTEGER NOT NULL UNIQUE
) STRICT;

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'reviewer', 'leader')),
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL
) STRICT;

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
) STRICT;

-- Inspectors are known to the server by alias only.
CREATE TABLE inspectors (
    id         INTEGER PRIMARY KEY,
    alias      TEXT NOT NULL UNIQUE,
    active     INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
) STRICT;

CREATE TABLE enrollment_codes (
    code_hash    TEXT PRIMARY KEY,
    inspector_id INTEGER NOT NULL REFERENCES inspectors(id),
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    used_at      TEXT
) STRICT;

CREATE TABLE devices (
    id           TEXT PRIMARY KEY,
    inspector_id INTEGER NOT NULL REFERENCES inspectors(id),
    token_hash   TEXT NOT NULL UNIQUE,
    label        TEXT,
    enrolled_at  TEXT NOT NULL,
    revoked_at   TEXT
) STRICT;

-- Complete, verified photos; the bytes live in the photo folder under their hash.
CREATE TABLE photos (
    sha256    TEXT PRIMARY KEY,
    byte_len  INTEGER NOT NULL,
    width     INTEGER NOT NULL,
    height    INTEGER NOT NULL,
    stored_at TEXT NOT NULL
) STRICT;

-- Announced uploads in progress; the partial file's length is the offset.
CREATE TABLE uploads (
    sha256     TEXT PRIMARY KEY,
    size       INTEGER NOT NULL,
    device_id  TEXT NOT NULL REFERENCES devices(id),
    created_at TEXT NOT NULL
) STRICT;

-- Findings exactly as submitted. Never updated: review decisions and
-- corrections are separate records that point here.
CREATE TABLE findings (
    id                   TEXT PRIMARY KEY,
    seq                  INTEGER NOT NULL UNIQUE,
    device_id            TEXT NOT NULL REFERENCES devices(id),
    inspector_id         INTEGER NOT NULL REFERENCES inspectors(id),
    point_id             TEXT NOT NULL REFERENCES points(id),
    unit_id              TEXT NOT NULL REFERENCES units(id),
    category             TEXT NOT NULL REFERENCES categories(code),
    card                 TEXT NOT NULL CHECK (card IN ('red', 'yellow', 'green')),
    note                 TEXT,
    observed_ms          INTEGER NOT NULL,
    lat                  REAL,
    lon                  REAL,
    accuracy_m           REAL,
    location_captured_at TEXT,
    content              TEXT NOT NULL,
    content_hash         TEXT NOT NULL,
    received_ms          INTEGER NOT NULL
) STRICT;
CREATE INDEX findings_observed ON findings (observed_ms, id);
CREATE INDEX findings_unit ON findings (unit_id, observed_ms);

CREATE TABLE finding_photos (
    finding_id TEXT NOT NULL REFERENCES findings(id),
    position   INTEGER NOT NULL,
    sha256     TEXT NOT NULL REFERENCES photos(sha256),
    PRIMARY KEY (finding_id, position)
) STRICT;

CREATE TRIGGER findings_are_append_only BEFORE UPDATE ON findings
BEGIN
    SELECT RAISE(ABORT, 'findings are evidence and are never updated');
END;
"#,
// 2: device keys, signatures, and the hash-chained evidence log.
r#"
ALTER TABLE devices ADD COLUMN public_key TEXT;
ALTER TABLE findings ADD COLUMN signature TEXT;

-- Append-only and hash-chained: entry_hash = SHA-256 over the previous
-- entry_hash and this entry's fields (see `db::evidence`).
CREATE TABLE evidence_log (
    seq         INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,
    record_id   TEXT NOT NULL,
    record_hash TEXT NOT NULL,
    at          TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    entry_hash  TEXT NOT NULL
) STRICT;
CREATE TRIGGER evidence_log_no_update BEFORE UPDATE ON evidence_log
BEGIN
    SELECT RAISE(ABORT, 'the evidence log is append-only');
END;
CREATE TRIGGER evidence_log_no_delete BEFORE DELETE ON evidence_log
BEGIN
    SELECT RAISE(ABORT, 'the evidence log is append-only');
END;
CREATE TRIGGER findings_are_never_deleted BEFORE DELETE ON findings
BEGIN
    SELECT RAISE(ABORT, 'findings are evidence and are never deleted');
END;
"#,
// 3: office review and the office's settings.
r#"
-- Every review decision is a new revision; the captured finding is never
-- touched. A revision carries the effective category, unit and card after it
-- (equal to the captured ones for a plain accept), so the current state of a
-- finding is its highest revision.
CREATE TABLE finding_reviews (
    id          INTEGER PRIMARY KEY,
    finding_id  TEXT NOT NULL REFERENCES findings(id),
    revision    INTEGER NOT NULL CHECK (revision >= 1),
    decision    TEXT NOT NULL CHECK (decision IN ('accept', 'correct', 'reject')),
    category    TEXT NOT NULL REFERENCES categories(code),
    unit_id     TEXT NOT NULL REFERENCES units(id),
    card        TEXT NOT NULL CHECK (card IN ('red', 'yellow', 'green')),
    reason      TEXT,
    reviewer_id INTEGER NOT NULL REFERENCES users(id),
    decided_at  TEXT NOT NULL,
    UNIQUE (finding_id, revision),
    CHECK (decision = 'accept' OR length(trim(coalesce(reason, ''))) > 0)
) STRICT;
CREATE TRIGGER finding_reviews_no_update BEFORE UPDATE ON finding_reviews
BEGIN
    SELECT RAISE(ABORT, 'review decisions are never changed; record a new revision');
END;
CREATE TRIGGER finding_reviews_no_delete BEFORE DELETE ON finding_reviews
BEGIN
    SELECT RAISE(ABORT, 'review decisions are never deleted; record a new revision');
END;

-- The current state of every finding: 'pending' until reviewed, then the
-- decision, category, unit and card of its latest revision.
CREATE VIEW finding_state AS
SELECT f.id AS finding_id,
       coalesce(r.decision, 'pending') AS status,
       coalesce(r.category, f.category) AS category,
       coalesce(r.unit_id, f.unit_id) AS unit_id,
       coalesce(r.card, f.card) AS card,
       r.revision AS revision,
       r.decided_at AS decided_at
FROM findings f
LEFT JOIN finding_reviews r
  ON r.finding_id = f.id
 AND r.revision = (SELECT max(revision) FROM finding_reviews WHERE finding_id = f.id);

-- Rectification deadline per card, in days after the finding is accepted
-- (NULL: no rectification, as for green). Configuration, not code.
CREATE TABLE card_deadlines (
    card TEXT PRIMARY KEY CHECK (card IN ('red', 'yellow', 'green')),
    days INTEGER CHECK (days IS NULL OR days >= 0)
) STRICT;
INSERT INTO card_deadlines (card, days) VALUES ('red', 3), ('yellow', 7), ('green', NULL);

-- The office's own settings: issuing body, distribution list, compiler line.
CREATE TABLE office_settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
INSERT INTO office_settings (key, value) VALUES
    ('issuing_body', '四城同创办'),
    ('distribution', '市委、市政府领导，各责任单位'),
    ('compiler', '四城同创办督查组');
"#,
// (bulletins) numbered inspection bulletins: drafts, and immutable issued snapshots.
r#"
-- A bulletin is a draft until issued. A draft keeps its last compiled body
-- (`compiled`, JSON) and its editable text; issuing freezes the whole
-- bulletin as `snapshot` (JSON) with its SHA-256 `content_hash`, and gives
-- it the next `sequence` of its `year`, gapless among issued bulletins.
CREATE TABLE bulletins (
    id            INTEGER PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('day', 'week', 'month', 'custom')),
    date_from     TEXT NOT NULL,
    date_to       TEXT NOT NULL CHECK (date_to >= date_from),
    status        TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'issued')),
    title         TEXT NOT NULL,
    lead          TEXT NOT NULL,
    closing       TEXT NOT NULL,
    distribution  TEXT NOT NULL,
    issuing_body  TEXT NOT NULL,
    compiler      TEXT NOT NULL,
    compiled      TEXT NOT NULL,
    compiled_at   TEXT NOT NULL,
    created_by    INTEGER NOT NULL REFERENCES users(id),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    year          INTEGER,
    sequence      INTEGER CHECK (sequence >= 1),
    number        TEXT,
    snapshot      TEXT,
    content_hash  TEXT,
    issued_at     TEXT,
    issued_by     INTEGER REFERENCES users(id),
    UNIQUE (year, sequence),
    CHECK ((status = 'draft' AND year IS NULL AND sequence IS NULL AND number IS NULL AND snapshot IS NULL
            AND content_hash IS NULL AND issued_at IS NULL)
        OR (status = 'issued' AND year IS NOT NULL AND sequence IS NOT NULL AND number IS NOT NULL
            AND snapshot IS NOT NULL AND content_hash IS NOT NULL AND issued_at IS NOT NULL))
) STRICT;
CREATE INDEX bulletins_created ON bulletins (created_at);

-- Issued bulletins are documents that went out: never changed, never deleted.
CREATE TRIGGER bulletins_issued_are_immutable BEFORE UPDATE ON bulletins WHEN OLD.status = 'issued'
BEGIN
    SELECT RAISE(ABORT, 'an issued bulletin is never changed');
END;
CREATE TRIGGER bulletins_issued_are_never_deleted BEFORE DELETE ON bulletins WHEN OLD.status = 'issued'
BEGIN
    SELECT RAISE(ABORT, 'an issued bulletin is never deleted');
END;
-- The numbering invariant, held by the database itself: an issue takes
-- exactly the next number of its year.
CREATE TRIGGER bulletins_numbers_are_gapless BEFORE UPDATE OF status ON bulletins
WHEN NEW.status = 'issued' AND NEW.sequence IS NOT
     (SELECT coalesce(max(sequence), 0) + 1 FROM bulletins WHERE status = 'issued' AND year = NEW.year)
BEGIN
    SELECT RAISE(ABORT, 'an issued bulletin must take the next number of its year');
END;
CREATE TRIGGER bulletins_are_issued_only_by_update BEFORE INSERT ON bulletins WHEN NEW.status <> 'draft'
BEGIN
    SELECT RAISE(ABORT, 'a bulletin starts as a draft');
END;
"#,
// Random draws (see `db::draws` and `draw`).
r#"
-- Units an inspector must never be sent to (their own employer, …).
CREATE TABLE inspector_excluded_units (
    inspector_id INTEGER NOT NULL REFERENCES inspectors(id),
    unit_id      TEXT NOT NULL REFERENCES units(id),
    PRIMARY KEY (inspector_id, unit_id)
) STRICT;

-- A draw: its canonical parameters, the commitment published at creation
-- and the seed, kept secret until revealed after the period.
CREATE TABLE draws (
    id            TEXT PRIMARY KEY,
    period_from   TEXT NOT NULL,
    period_to     TEXT NOT NULL,
    period_end_ms INTEGER NOT NULL,
    visits        INTEGER NOT NULL,
    params        TEXT NOT NULL,
    commitment    TEXT NOT NULL,
    seed          TEXT NOT NULL,
    created_by    INTEGER REFERENCES users(id),
    created_at    TEXT NOT NULL,
    revealed_at   TEXT
) STRICT;
CREATE INDEX draws_period ON draws (period_from, period_to);
-- Immutable but for the one-time reveal.
CREATE TRIGGER draws_are_immutable BEFORE UPDATE ON draws
WHEN OLD.revealed_at IS NOT NULL OR NEW.revealed_at IS NULL
  OR NEW.id IS NOT OLD.id OR NEW.period_from IS NOT OLD.period_from
  OR NEW.period_to IS NOT OLD.period_to OR NEW.period_end_ms IS NOT OLD.period_end_ms
  OR NEW.visits IS NOT OLD.visits OR NEW.params IS NOT OLD.params
  OR NEW.commitment IS NOT OLD.commitment OR NEW.seed IS NOT OLD.seed
  OR NEW.created_by IS NOT OLD.created_by OR NEW.created_at IS NOT OLD.created_at
BEGIN
    SELECT RAISE(ABORT, 'draws are immutable; only the seed may be revealed, once');
END;
CREATE TRIGGER draws_are_never_deleted BEFORE DELETE ON draws
BEGIN
    SELECT RAISE(ABORT, 'draws are never deleted; every draw of a period stays listed');
END;

CREATE TABLE draw_assignments (
    id           TEXT PRIMARY KEY,
    draw_id      TEXT NOT NULL REFERENCES draws(id),
    idx          INTEGER NOT NULL,
    inspector_id INTEGER NOT NULL REFERENCES inspectors(id),
    point_id     TEXT NOT NULL REFERENCES points(id),
    unit_id      TEXT NOT NULL REFERENCES units(id),
    date         TEXT NOT NULL,
    slot         TEXT NOT NULL,
    slot_label   TEXT NOT NULL,
    starts_ms    INTEGER NOT NULL,
    ends_ms      INTEGER NOT NULL,
    -- From when the inspector's device may receive it.
    visible_ms   INTEGER NOT NULL,
    UNIQUE (draw_id, idx)
) STRICT;
CREATE INDEX draw_assignments_inspector ON draw_assignments (inspector_id, visible_ms);
CREATE TRIGGER draw_assignments_no_update BEFORE UPDATE ON draw_assignments
BEGIN
    SELECT RAISE(ABORT, 'drawn assignments are never changed');
END;
CREATE TRIGGER draw_assignments_no_delete BEFORE DELETE ON draw_assignments
BEGIN
    SELECT RAISE(ABORT, 'drawn assignments are never deleted');
END;
"#, r#"
-- Responsible-unit accounts (责任单位账号): a `unit` role tied to one unit.
-- SQLite cannot alter a CHECK constraint, so `users` is rebuilt with the
-- same rows and ids. foreign_keys is ON and cannot be switched inside the
-- migration's transaction, so the references from sessions, finding_reviews,
-- bulletins and draws are deferred to commit: dropping `users` counts the
-- dangling child rows, re-inserting every row with its own id resolves them,
-- and the commit fails if anything is left unresolved.
PRAGMA defer_foreign_keys = ON;
CREATE TEMP TABLE users_before_unit_role AS SELECT * FROM users;
DROP TABLE users;
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'reviewer', 'leader', 'unit')),
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL,
    -- Set exactly for unit accounts: the one unit whose findings they see.
    unit_id       TEXT REFERENCES units(id),
    CHECK ((role = 'unit') = (unit_id IS NOT NULL))
) STRICT;
INSERT INTO users (id, username, password_hash, role, active, created_at)
SELECT id, username, password_hash, role, active, created_at FROM users_before_unit_role ORDER BY id;
DROP TABLE users_before_unit_role;
"#, r#"
-- Who an alias really is: admin-only, and every read or write of it is
-- recorded in an audit log that nobody (admins included) can edit or delete.
CREATE TABLE inspector_identities (
    inspector_id INTEGER PRIMARY KEY REFERENCES inspectors(id),
    real_name    TEXT NOT NULL CHECK (length(real_name) BETWEEN 1 AND 64),
    contact      TEXT NOT NULL CHECK (length(contact) <= 128),
    updated_at   TEXT NOT NULL
) STRICT;
CREATE TABLE identity_audit_log (
    id           INTEGER PRIMARY KEY,
    at           TEXT NOT NULL,
    -- The office user, or NULL for the command line on the server itself.
    user_id      INTEGER REFERENCES users(id),
    actor        TEXT NOT NULL,
    inspector_id INTEGER NOT NULL REFERENCES inspectors(id),
    action       TEXT NOT NULL CHECK (action IN ('read', 'write')),
    route        TEXT NOT NULL
) STRICT;
CREATE INDEX identity_audit_log_inspector ON identity_audit_log (inspector_id, id);
CREATE TRIGGER identity_audit_log_no_update BEFORE UPDATE ON identity_audit_log
BEGIN
    SELECT RAISE(ABORT, 'the identity audit log is append-only: entries are never changed');
END;
CREATE TRIGGER identity_audit_log_no_delete BEFORE DELETE ON identity_audit_log
BEGIN
    SELECT RAISE(ABORT, 'the identity audit log is append-only: entries are never deleted');
END;
"#];

/// Handle to the server database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(())
}

impl Db {
    /// Opens the database file, switching it to WAL and migrating it.
    pub fn open(path: &Path) -> Result<Self, AppError> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        configure(&conn)?;
        anfang_core::store::schema::migrate(&mut conn, MIGRATIONS)
            .map_err(|e| AppError::Internal(format!("{}: {e}", path.display())))?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer: Mutex::new(conn),
                readers: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Runs `f` with the writer connection on the blocking pool.
    pub async fn write<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, AppError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = inner.writer.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut conn)
        })
        .await
        .map_err(AppError::internal)?
    }

    /// Runs `f` with a reader connection on the blocking pool.
    pub async fn read<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, AppError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let conn = inner.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let conn = match conn {
                Some(c) => c,
                None => {
                    let c = Connection::open(&inner.path)?;
                    configure(&c)?;
                    c
                }
            };
            let result = f(&conn);
            let mut pool = inner.readers.lock().unwrap_or_else(|p| p.into_inner());
            if pool.len() < 8 {
                pool.push(conn);
            }
            result
        })
        .await
        .map_err(AppError::internal)?
    }

    /// Runs `f` with the writer, blocking the calling thread: for the
    /// command-line administration commands, which have no runtime.
    pub fn write_blocking<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T, AppError>) -> Result<T, AppError> {
        let mut conn = self.inner.writer.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn)
    }
}

/// The current time as stored: RFC 3339 UTC.
pub fn now_text() -> String {
    jiff::Timestamp::now().to_string()
}
