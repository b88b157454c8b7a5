-- 14: the exposure page (曝光台, /public/). Nothing is public until the
-- office publishes it: a reviewer proposes a rectification case, an admin
-- (or, with the four-eyes setting, another reviewer; never the proposer)
-- publishes it with a public title, description and photo selection. What
-- was published is frozen (triggers below) and its hash is in the evidence
-- log (kind exposure_publish); withdrawing keeps the entry with a public
-- note and date (kind exposure_withdraw). The rules are app/exposure.rs.

CREATE TABLE exposure_entries (
    id             INTEGER PRIMARY KEY,
    -- What the public pages name the entry by: random, unrelated to the
    -- case's or the finding's reference (those reach units and notices).
    public_ref     TEXT NOT NULL UNIQUE CHECK (length(public_ref) = 12),
    case_id        INTEGER NOT NULL REFERENCES rectification_cases(id),
    proposed_by    INTEGER NOT NULL REFERENCES users(id),
    proposed_ms    INTEGER NOT NULL,
    -- Set once, at publish, together.
    published_by   INTEGER REFERENCES users(id),
    published_ms   INTEGER,
    -- The day shown publicly (office time zone).
    published_on   TEXT,
    title          TEXT,
    description    TEXT,
    -- JSON array of the selected before-photos' SHA-256, in order.
    photos         TEXT CHECK (photos IS NULL OR json_valid(photos)),
    -- SHA-256 of the frozen publication, also in the evidence log.
    record_hash    TEXT,
    -- Set once, at withdrawal, together.
    withdrawn_by   INTEGER REFERENCES users(id),
    withdrawn_ms   INTEGER,
    withdrawn_on   TEXT,
    withdrawal_note TEXT,
    withdrawal_hash TEXT,
    CHECK ((published_ms IS NULL) = (published_by IS NULL)
       AND (published_ms IS NULL) = (published_on IS NULL)
       AND (published_ms IS NULL) = (title IS NULL)
       AND (published_ms IS NULL) = (description IS NULL)
       AND (published_ms IS NULL) = (photos IS NULL)
       AND (published_ms IS NULL) = (record_hash IS NULL)),
    CHECK ((withdrawn_ms IS NULL) = (withdrawn_by IS NULL)
       AND (withdrawn_ms IS NULL) = (withdrawn_on IS NULL)
       AND (withdrawn_ms IS NULL) = (withdrawal_note IS NULL)
       AND (withdrawn_ms IS NULL) = (withdrawal_hash IS NULL)),
    -- Only a published entry is withdrawn.
    CHECK (withdrawn_ms IS NULL OR published_ms IS NOT NULL),
    -- The proposer never publishes their own proposal.
    CHECK (published_by IS NULL OR published_by <> proposed_by)
) STRICT;
-- One entry in play per case (proposed or published); a withdrawn one may be followed by a new proposal.
CREATE UNIQUE INDEX exposure_entries_live ON exposure_entries (case_id) WHERE withdrawn_ms IS NULL;
CREATE INDEX exposure_entries_published ON exposure_entries (published_ms) WHERE published_ms IS NOT NULL;

-- What was published stays as published: the frozen fields change only
-- from NULL (publishing), the withdrawal fields only from NULL
-- (withdrawing), and nothing else of a row ever changes.
CREATE TRIGGER exposure_entries_frozen BEFORE UPDATE ON exposure_entries
WHEN NEW.id IS NOT OLD.id OR NEW.public_ref IS NOT OLD.public_ref OR NEW.case_id IS NOT OLD.case_id
  OR NEW.proposed_by IS NOT OLD.proposed_by OR NEW.proposed_ms IS NOT OLD.proposed_ms
  OR (OLD.published_ms IS NOT NULL AND (
         NEW.published_by IS NOT OLD.published_by OR NEW.published_ms IS NOT OLD.published_ms
      OR NEW.published_on IS NOT OLD.published_on OR NEW.title IS NOT OLD.title
      OR NEW.description IS NOT OLD.description OR NEW.photos IS NOT OLD.photos
      OR NEW.record_hash IS NOT OLD.record_hash))
  OR (OLD.withdrawn_ms IS NOT NULL AND (
         NEW.withdrawn_by IS NOT OLD.withdrawn_by OR NEW.withdrawn_ms IS NOT OLD.withdrawn_ms
      OR NEW.withdrawn_on IS NOT OLD.withdrawn_on OR NEW.withdrawal_note IS NOT OLD.withdrawal_note
      OR NEW.withdrawal_hash IS NOT OLD.withdrawal_hash))
BEGIN
    SELECT RAISE(ABORT, 'a published exposure entry is frozen; withdraw it with a note instead');
END;
CREATE TRIGGER exposure_entries_no_delete BEFORE DELETE ON exposure_entries
WHEN OLD.published_ms IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'a published exposure entry is never deleted; withdraw it with a note instead');
END;

-- Public commitments (公开承诺): for a published red-card entry, the unit's
-- named responsible person says what will be done by when. One per entry,
-- made in the unit portal, never changed (the outcome is computed from the
-- case: closed by the end of due_on or not), logged as exposure_commitment.
CREATE TABLE exposure_commitments (
    entry_id     INTEGER PRIMARY KEY REFERENCES exposure_entries(id),
    unit_id      TEXT NOT NULL REFERENCES units(id),
    user_id      INTEGER NOT NULL REFERENCES users(id),
    person_name  TEXT NOT NULL,
    person_title TEXT NOT NULL,
    what         TEXT NOT NULL,
    due_on       TEXT NOT NULL CHECK (due_on GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    made_on      TEXT NOT NULL CHECK (made_on GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    made_ms      INTEGER NOT NULL,
    record_hash  TEXT NOT NULL
) STRICT;
CREATE TRIGGER exposure_commitments_no_update BEFORE UPDATE ON exposure_commitments
BEGIN
    SELECT RAISE(ABORT, 'a public commitment is never changed');
END;
CREATE TRIGGER exposure_commitments_no_delete BEFORE DELETE ON exposure_commitments
BEGIN
    SELECT RAISE(ABORT, 'a public commitment is never deleted');
END;

-- Crops (裁剪) made at publishing: a new photo cut from a before-photo (to
-- hide a face or a number plate), shown publicly instead of it; the
-- evidence photo is only read. verify remakes each crop from its source and
-- rectangle (photo::crop_stored is deterministic) and names a mismatch.
CREATE TABLE exposure_crops (
    derived_sha256 TEXT PRIMARY KEY REFERENCES photos(sha256),
    entry_id       INTEGER NOT NULL REFERENCES exposure_entries(id),
    source_sha256  TEXT NOT NULL REFERENCES photos(sha256),
    left_pct       INTEGER NOT NULL,
    top_pct        INTEGER NOT NULL,
    width_pct      INTEGER NOT NULL,
    height_pct     INTEGER NOT NULL,
    CHECK (left_pct >= 0 AND top_pct >= 0 AND width_pct > 0 AND height_pct > 0
       AND left_pct + width_pct <= 100 AND top_pct + height_pct <= 100)
) STRICT;
CREATE TRIGGER exposure_crops_no_update BEFORE UPDATE ON exposure_crops
BEGIN
    SELECT RAISE(ABORT, 'a published crop is never changed');
END;
CREATE TRIGGER exposure_crops_no_delete BEFORE DELETE ON exposure_crops
BEGIN
    SELECT RAISE(ABORT, 'a published crop is never deleted');
END;

-- The four-eyes rule (双人审核): 1 lets a second reviewer publish; 0 leaves publishing to admins.
INSERT INTO office_settings (key, value) VALUES ('exposure_four_eyes', '1');
