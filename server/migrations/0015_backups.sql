-- 15: the server's own backups (backup/): every run, scheduled or started
-- from the console, with its outcome, so admins see the last good backup
-- and are warned when it is old. Settings live in office_settings
-- (key 'backup', JSON); the passphrase never does, only the file it is in.
CREATE TABLE backup_runs (
    id           INTEGER PRIMARY KEY,
    started_ms   INTEGER NOT NULL,
    duration_ms  INTEGER NOT NULL CHECK (duration_ms >= 0),
    ok           INTEGER NOT NULL CHECK (ok IN (0, 1)),
    target       TEXT NOT NULL,
    snapshot     TEXT,
    total_bytes  INTEGER NOT NULL DEFAULT 0,
    copied_bytes INTEGER NOT NULL DEFAULT 0,
    message      TEXT NOT NULL DEFAULT '',
    trigger      TEXT NOT NULL CHECK (trigger IN ('schedule', 'console', 'command'))
) STRICT;
