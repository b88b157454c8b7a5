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
