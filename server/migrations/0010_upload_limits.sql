-- Uploads belong to the device that announced them: one row per (photo,
-- device), with its own partial file, so no device can write to, reset or
-- delete another device's upload. Times are milliseconds since the epoch so
-- the sweep compares numbers, not texts. Uploads in progress before this
-- version restart from byte 0 (their old partial files are removed by the
-- start-up sweep): they are resumable state, not evidence.
CREATE TABLE uploads_by_device (
    sha256     TEXT NOT NULL,
    device_id  TEXT NOT NULL REFERENCES devices(id),
    size       INTEGER NOT NULL,
    -- Announced, or last written to: a partial untouched for the expiry
    -- time is swept.
    touched_ms INTEGER NOT NULL,
    PRIMARY KEY (sha256, device_id)
) STRICT;
DROP TABLE uploads;
ALTER TABLE uploads_by_device RENAME TO uploads;
CREATE INDEX uploads_by_device_id ON uploads (device_id);
CREATE INDEX uploads_by_touched ON uploads (touched_ms);

-- Complete photos no finding references yet, with when they were stored: the
-- sweep's work list, so a pass reads only candidates, never every photo.
-- A finding referencing a photo takes it off the list (trigger below), and
-- the foreign key from finding_photos forbids deleting a referenced photo.
CREATE TABLE unreferenced_photos (
    sha256    TEXT PRIMARY KEY REFERENCES photos(sha256),
    stored_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX unreferenced_photos_by_stored ON unreferenced_photos (stored_ms);
-- Deleting a photo makes SQLite look for finding_photos rows naming it (the
-- foreign key): without this index every sweep delete scans the table.
CREATE INDEX finding_photos_by_sha256 ON finding_photos (sha256);
INSERT INTO unreferenced_photos (sha256, stored_ms)
    SELECT sha256, CAST(unixepoch('now') AS INTEGER) * 1000 FROM photos p
    WHERE NOT EXISTS (SELECT 1 FROM finding_photos fp WHERE fp.sha256 = p.sha256);
CREATE TRIGGER finding_photos_reference_photo AFTER INSERT ON finding_photos
BEGIN
    DELETE FROM unreferenced_photos WHERE sha256 = NEW.sha256;
END;
