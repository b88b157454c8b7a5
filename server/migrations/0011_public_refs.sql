-- What units and the public may use to name a finding (不见面). A finding's id
-- is a UUIDv7: its first 48 bits are the millisecond the phone created it,
-- enough to find the inspector on a unit's own CCTV. So everything a unit or
-- the public gets (unit portal, bulletins) names a finding by a random
-- public reference instead; the office maps it back through this table.
-- 64 random bits from SQLite's CSPRNG (seeded from the OS): not derivable
-- from the id, and a collision is not expected below billions of findings.
CREATE TABLE finding_public_refs (
    finding_id TEXT PRIMARY KEY REFERENCES findings(id),
    public_ref TEXT NOT NULL UNIQUE CHECK (length(public_ref) = 16)
) STRICT, WITHOUT ROWID;
INSERT INTO finding_public_refs (finding_id, public_ref) SELECT id, lower(hex(randomblob(8))) FROM findings;
-- Made in the same transaction as the finding, whoever inserts it.
CREATE TRIGGER findings_public_ref AFTER INSERT ON findings
BEGIN
    INSERT INTO finding_public_refs (finding_id, public_ref) VALUES (NEW.id, lower(hex(randomblob(8))));
END;
-- A reference printed in a bulletin must keep naming the same finding.
CREATE TRIGGER finding_public_refs_no_update BEFORE UPDATE ON finding_public_refs
BEGIN
    SELECT RAISE(ABORT, 'public references are permanent: they are printed in bulletins');
END;
CREATE TRIGGER finding_public_refs_no_delete BEFORE DELETE ON finding_public_refs
BEGIN
    SELECT RAISE(ABORT, 'public references are permanent: they are printed in bulletins');
END;
