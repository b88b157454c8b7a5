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
