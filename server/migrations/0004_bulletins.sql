-- 4: numbered inspection bulletins: drafts, and immutable issued snapshots.
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
