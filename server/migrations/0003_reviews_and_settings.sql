-- 3: office review and the office's settings.
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
