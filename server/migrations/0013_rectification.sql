-- 13: the rectification loop (整改闭环): every accepted yellow or red card opens
-- a case for its unit. A finding never changes; a case is its own record,
-- and its history is append-only events, each also in the evidence log.
-- The state machine is server/src/rectification/case.rs; this schema keeps
-- what it decided and refuses what no decision could produce.

CREATE TABLE rectification_cases (
    id              INTEGER PRIMARY KEY,
    -- What a unit, a notice and a bulletin name the case by: random, like
    -- finding_public_refs, so it does not carry the finding's capture time.
    public_ref      TEXT NOT NULL UNIQUE CHECK (length(public_ref) = 12),
    finding_id      TEXT NOT NULL REFERENCES findings(id),
    unit_id         TEXT NOT NULL REFERENCES units(id),
    card            TEXT NOT NULL CHECK (card IN ('red', 'yellow')),
    state           TEXT NOT NULL CHECK (state IN ('open', 'answered', 'rework', 'deferred', 'closed', 'cancelled')),
    -- Kept for the re-check's independence only; never leaves the office.
    inspector_id    INTEGER NOT NULL REFERENCES inspectors(id),
    opened_ms       INTEGER NOT NULL,
    -- The deadline runs from the notice to the current unit (NULL: not yet sent).
    notified_ms     INTEGER,
    deadline_ms     INTEGER,
    answered_ms     INTEGER,
    closed_ms       INTEGER,
    rework_count    INTEGER NOT NULL DEFAULT 0 CHECK (rework_count >= 0),
    reassign_count  INTEGER NOT NULL DEFAULT 0 CHECK (reassign_count >= 0),
    extension_count INTEGER NOT NULL DEFAULT 0 CHECK (extension_count >= 0),
    -- At most one request of the unit's waits for the office.
    pending         TEXT CHECK (pending IN ('return', 'extension', 'deferral')),
    pending_until_ms INTEGER,
    pending_target  TEXT,
    deferred_until  TEXT,
    supervised      INTEGER NOT NULL DEFAULT 0 CHECK (supervised IN (0, 1)),
    -- Optimistic concurrency: a transition names the version it read.
    version         INTEGER NOT NULL DEFAULT 0,
    CHECK ((notified_ms IS NULL) = (deadline_ms IS NULL)),
    CHECK (pending IS NOT 'extension' OR pending_until_ms IS NOT NULL),
    CHECK (pending IS NOT 'deferral' OR pending_target IS NOT NULL),
    CHECK (state IS NOT 'deferred' OR deferred_until IS NOT NULL)
) STRICT;
-- One live case per finding; a corrected finding cancels its case and may open another.
CREATE UNIQUE INDEX rectification_cases_live ON rectification_cases (finding_id)
    WHERE state NOT IN ('closed', 'cancelled');
CREATE INDEX rectification_cases_unit ON rectification_cases (unit_id, state, deadline_ms);
CREATE INDEX rectification_cases_due ON rectification_cases (state, deadline_ms);

CREATE TABLE case_events (
    case_id     INTEGER NOT NULL REFERENCES rectification_cases(id),
    seq         INTEGER NOT NULL CHECK (seq >= 1),
    at_ms       INTEGER NOT NULL,
    -- Who: an office user, a unit account, an inspector (re-check) or the server.
    actor_kind  TEXT NOT NULL CHECK (actor_kind IN ('office', 'unit', 'inspector', 'system')),
    actor_id    TEXT,
    event       TEXT NOT NULL,
    from_state  TEXT,
    to_state    TEXT NOT NULL,
    reason      TEXT,
    note        TEXT,
    -- The written explanation (书面说明), as text.
    explanation TEXT,
    -- Event-specific data (deadline, requested date, reassigned unit), JSON.
    detail      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail)),
    -- SHA-256 of the event's canonical form, also in the evidence log.
    record_hash TEXT NOT NULL,
    PRIMARY KEY (case_id, seq)
) STRICT, WITHOUT ROWID;
CREATE TRIGGER case_events_no_update BEFORE UPDATE ON case_events
BEGIN
    SELECT RAISE(ABORT, 'case events are append-only');
END;
CREATE TRIGGER case_events_no_delete BEFORE DELETE ON case_events
BEGIN
    SELECT RAISE(ABORT, 'case events are append-only');
END;

-- Photos (after-photos, re-check photos) and PDF scans attached to an event,
-- in the same content-addressed store as findings' photos.
CREATE TABLE case_attachments (
    case_id  INTEGER NOT NULL,
    seq      INTEGER NOT NULL,
    position INTEGER NOT NULL,
    kind     TEXT NOT NULL CHECK (kind IN ('photo', 'pdf')),
    sha256   TEXT NOT NULL CHECK (length(sha256) = 64),
    PRIMARY KEY (case_id, seq, position),
    FOREIGN KEY (case_id, seq) REFERENCES case_events (case_id, seq)
) STRICT, WITHOUT ROWID;
CREATE TRIGGER case_attachments_no_update BEFORE UPDATE ON case_attachments
BEGIN
    SELECT RAISE(ABORT, 'case attachments are append-only');
END;
CREATE TRIGGER case_attachments_no_delete BEFORE DELETE ON case_attachments
BEGIN
    SELECT RAISE(ABORT, 'case attachments are append-only');
END;

-- PDF scans of written explanations (书面说明), content-addressed under
-- the data dir's files/ folder; photos go to the photo store.
CREATE TABLE case_files (
    sha256    TEXT PRIMARY KEY CHECK (length(sha256) = 64),
    byte_len  INTEGER NOT NULL,
    stored_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Deadlines per category, where the office sets one (else the card's).
-- unit: 'days' (working days) or 'hours' (working hours).
CREATE TABLE category_deadlines (
    category TEXT NOT NULL REFERENCES categories(code),
    card     TEXT NOT NULL CHECK (card IN ('red', 'yellow')),
    unit     TEXT NOT NULL CHECK (unit IN ('days', 'hours')),
    amount   INTEGER NOT NULL CHECK (amount >= 1),
    PRIMARY KEY (category, card)
) STRICT, WITHOUT ROWID;

-- The office calendar: dates that differ from Monday–Friday.
CREATE TABLE office_calendar (
    date TEXT PRIMARY KEY CHECK (date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    kind TEXT NOT NULL CHECK (kind IN ('holiday', 'workday')),
    note TEXT NOT NULL DEFAULT ''
) STRICT, WITHOUT ROWID;

-- Who at a unit is told: 联系人, the 点长 of its points, its 分管领导.
CREATE TABLE unit_contacts (
    id       INTEGER PRIMARY KEY,
    unit_id  TEXT NOT NULL REFERENCES units(id),
    name     TEXT NOT NULL,
    role     TEXT NOT NULL CHECK (role IN ('contact', 'point_chief', 'leader')),
    -- A 点长 answers for one point; NULL: for all the unit's points.
    point_id TEXT REFERENCES points(id),
    phone    TEXT,
    email    TEXT,
    -- A group robot or a generic webhook; the secret signs generic webhooks.
    webhook_kind   TEXT CHECK (webhook_kind IN ('wecom', 'dingtalk', 'json')),
    webhook_url    TEXT,
    webhook_secret TEXT,
    active   INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    CHECK ((webhook_kind IS NULL) = (webhook_url IS NULL))
) STRICT;
CREATE INDEX unit_contacts_unit ON unit_contacts (unit_id);

-- The durable outbox: a notice is written here in the same transaction as
-- the change that causes it, and delivered by the server's worker. The
-- event key makes a notice once-only: the scheduler may run any number of
-- times (after a restart, after downtime) and a second insert is ignored.
CREATE TABLE notice_outbox (
    id            INTEGER PRIMARY KEY,
    event_key     TEXT NOT NULL,
    channel       TEXT NOT NULL CHECK (channel IN ('email', 'wecom', 'dingtalk', 'json')),
    target        TEXT NOT NULL,
    contact_id    INTEGER REFERENCES unit_contacts(id),
    unit_id       TEXT NOT NULL REFERENCES units(id),
    kind          TEXT NOT NULL CHECK (kind IN ('digest', 'reminder', 'urge', 'overdue', 'supervision', 'test')),
    subject       TEXT NOT NULL,
    body          TEXT NOT NULL,
    created_ms    INTEGER NOT NULL,
    next_attempt_ms INTEGER NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    state         TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    last_error    TEXT,
    sent_ms       INTEGER,
    -- While a worker delivers it: who, and until when (a crashed worker's
    -- claim lapses and the notice is tried again).
    claimed_until_ms INTEGER,
    UNIQUE (event_key, channel, target)
) STRICT;
CREATE INDEX notice_outbox_due ON notice_outbox (state, next_attempt_ms);

-- Which cases a notice covers (a digest covers many).
CREATE TABLE notice_cases (
    notice_id INTEGER NOT NULL REFERENCES notice_outbox(id),
    case_id   INTEGER NOT NULL REFERENCES rectification_cases(id),
    PRIMARY KEY (notice_id, case_id)
) STRICT, WITHOUT ROWID;

-- Re-check visits (复查): a drawn visit (with the draw's commitment and
-- later reveal) that re-checks one answered case. The result arrives as the
-- visiting inspector's signed finding on that assignment.
CREATE TABLE recheck_visits (
    assignment_id TEXT PRIMARY KEY REFERENCES draw_assignments(id),
    case_id       INTEGER NOT NULL REFERENCES rectification_cases(id),
    -- Which answer it re-checks (the answered event's seq).
    answer_seq    INTEGER NOT NULL,
    finding_id    TEXT REFERENCES findings(id),
    passed        INTEGER CHECK (passed IN (0, 1)),
    CHECK ((finding_id IS NULL) = (passed IS NULL))
) STRICT;
CREATE UNIQUE INDEX recheck_visits_one_per_answer ON recheck_visits (case_id, answer_seq);

-- Card deadlines stay in (working) days; a category may set hours.
INSERT INTO office_settings (key, value) VALUES
    ('digest_hour', '18'),
    ('reminder_hours', '24'),
    ('recheck_within_days', '3'),
    ('supervise_after_overdue_days', '10'),
    ('rank_weight_compliance', '70'),
    ('rank_weight_rectification', '30'),
    ('public_base_url', 'http://127.0.0.1:8080'),
    ('smtp_host', ''),
    ('smtp_port', '25'),
    ('smtp_tls', 'none'),
    ('smtp_username', ''),
    ('smtp_password', ''),
    ('smtp_from', 'anfang@localhost'),
    ('return_window_days', '2'),
    ('rework_days', '3'),
    ('close_yellow_on_evidence', '0'),
    ('supervise_after_failed_rechecks', '3'),
    ('escalate_after_days', '3'),
    ('overdue_reminder_cap', '5');
