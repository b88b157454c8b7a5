-- 9: evidence anchoring. From this version on, device enrollments and
-- revocations and the identity audit log are entries of the hash-chained
-- evidence log, and findings are logged with their server-side fields
-- (kind `finding_v2`, see `db::evidence`). Records made before this
-- migration have no such entries; these two markers tell `verify` where
-- the new rules begin, so an upgraded data dir still verifies.
INSERT INTO meta (key, value) VALUES
    ('evidence_v2_since', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    ('identity_audit_chained_from', (SELECT coalesce(max(id), 0) + 1 FROM identity_audit_log));

-- `verify` looks entries up by record; so do the checks at push.
CREATE INDEX evidence_log_record ON evidence_log (record_id, kind);

-- Speed bumps for the records the log now covers. An insider with the file
-- can drop them; `verify` still names what was changed.
CREATE TRIGGER finding_photos_no_update BEFORE UPDATE ON finding_photos
BEGIN
    SELECT RAISE(ABORT, 'a finding''s photos are evidence and are never changed');
END;
CREATE TRIGGER finding_photos_no_delete BEFORE DELETE ON finding_photos
BEGIN
    SELECT RAISE(ABORT, 'a finding''s photos are evidence and are never deleted');
END;
CREATE TRIGGER devices_key_is_fixed BEFORE UPDATE OF id, public_key, inspector_id, enrolled_at ON devices
BEGIN
    SELECT RAISE(ABORT, 'a device''s id, key, inspector and enrollment time are evidence and are never changed');
END;
