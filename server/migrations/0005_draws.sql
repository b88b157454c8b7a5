-- 5: random draws (see `db::draws` and `draw`).
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
