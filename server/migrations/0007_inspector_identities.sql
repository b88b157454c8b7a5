-- Who an alias really is: admin-only, and every read or write of it is
-- recorded in an audit log that nobody (admins included) can edit or delete.
CREATE TABLE inspector_identities (
    inspector_id INTEGER PRIMARY KEY REFERENCES inspectors(id),
    real_name    TEXT NOT NULL CHECK (length(real_name) BETWEEN 1 AND 64),
    contact      TEXT NOT NULL CHECK (length(contact) <= 128),
    updated_at   TEXT NOT NULL
) STRICT;
CREATE TABLE identity_audit_log (
    id           INTEGER PRIMARY KEY,
    at           TEXT NOT NULL,
    -- The office user, or NULL for the command line on the server itself.
    user_id      INTEGER REFERENCES users(id),
    actor        TEXT NOT NULL,
    inspector_id INTEGER NOT NULL REFERENCES inspectors(id),
    action       TEXT NOT NULL CHECK (action IN ('read', 'write')),
    route        TEXT NOT NULL
) STRICT;
CREATE INDEX identity_audit_log_inspector ON identity_audit_log (inspector_id, id);
CREATE TRIGGER identity_audit_log_no_update BEFORE UPDATE ON identity_audit_log
BEGIN
    SELECT RAISE(ABORT, 'the identity audit log is append-only: entries are never changed');
END;
CREATE TRIGGER identity_audit_log_no_delete BEFORE DELETE ON identity_audit_log
BEGIN
    SELECT RAISE(ABORT, 'the identity audit log is append-only: entries are never deleted');
END;
