-- 2: device keys, signatures, and the hash-chained evidence log.
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
