-- 16: the monthly point league (点位达标月评排名, league.rs): the office's
-- versioned rule sets, the issued monthly results and each unit's rank and
-- consequence per issued month (奖惩逐月兑现). Everything here is
-- append-only: a rule change is a new version, an issued month never changes.

-- A month is scored with the newest version whose effective_from (YYYY-MM)
-- is not after it. Before any version is stored, league::RuleSet::default()
-- (version 1) is in force; stored versions start at 2.
CREATE TABLE league_rule_sets (
    version        INTEGER PRIMARY KEY CHECK (version >= 2),
    effective_from TEXT NOT NULL CHECK (effective_from GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]'),
    -- league::RuleSet as JSON (amounts in tenths of a point).
    rules          TEXT NOT NULL CHECK (json_valid(rules)),
    created_by     INTEGER NOT NULL REFERENCES users(id),
    created_at     TEXT NOT NULL
) STRICT;
CREATE TRIGGER league_rule_sets_no_update BEFORE UPDATE ON league_rule_sets
BEGIN
    SELECT RAISE(ABORT, 'league rule sets are append-only: add a new version');
END;
CREATE TRIGGER league_rule_sets_no_delete BEFORE DELETE ON league_rule_sets
BEGIN
    SELECT RAISE(ABORT, 'league rule sets are append-only: add a new version');
END;

-- One issued result per month. `result` is the canonical JSON the report
-- is rendered from; `result_hash` its SHA-256, also in the evidence log
-- (kind league_issue, record id league/{month}).
CREATE TABLE league_months (
    month        TEXT PRIMARY KEY CHECK (month GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]'),
    rule_version INTEGER NOT NULL CHECK (rule_version >= 1),
    result       TEXT NOT NULL CHECK (json_valid(result)),
    result_hash  TEXT NOT NULL CHECK (length(result_hash) = 64),
    issued_by    INTEGER NOT NULL REFERENCES users(id),
    issued_at    TEXT NOT NULL
) STRICT;
CREATE TRIGGER league_months_no_update BEFORE UPDATE ON league_months
BEGIN
    SELECT RAISE(ABORT, 'an issued league month never changes');
END;
CREATE TRIGGER league_months_no_delete BEFORE DELETE ON league_months
BEGIN
    SELECT RAISE(ABORT, 'an issued league month never changes');
END;

-- Each ranked unit of an issued month: its score, rank, whether it was
-- last, and the consequence it received (NULL: none). The history that
-- "three times last in a row" reads, and a unit's consequence history.
CREATE TABLE league_unit_results (
    month       TEXT NOT NULL REFERENCES league_months(month),
    unit_id     TEXT NOT NULL REFERENCES units(id),
    score       INTEGER NOT NULL,
    rank        INTEGER NOT NULL CHECK (rank >= 1),
    last        INTEGER NOT NULL CHECK (last IN (0, 1)),
    consequence TEXT,
    PRIMARY KEY (month, unit_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX league_unit_results_unit ON league_unit_results (unit_id, month);
CREATE TRIGGER league_unit_results_no_update BEFORE UPDATE ON league_unit_results
BEGIN
    SELECT RAISE(ABORT, 'an issued league month never changes');
END;
CREATE TRIGGER league_unit_results_no_delete BEFORE DELETE ON league_unit_results
BEGIN
    SELECT RAISE(ABORT, 'an issued league month never changes');
END;

-- The league reads, per finding of the month, whether its case closed on
-- time and whether it is a re-check: without these, each is a scan of all
-- cases (the live-case index leaves closed ones out), and a month of a
-- 1,000-point city took seconds (league_bench).
CREATE INDEX rectification_cases_by_finding ON rectification_cases (finding_id);
CREATE INDEX recheck_visits_by_finding ON recheck_visits (finding_id);
