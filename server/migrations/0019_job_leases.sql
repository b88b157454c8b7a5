-- 19: several `serve` processes may share one installation (on one machine
-- over one SQLite file and photo folder; across machines, later, over
-- PostgreSQL and object storage). Requests may go to any of them, but the
-- jobs that act on the whole installation by themselves (the rectification
-- scheduler, the upload sweep, the daily backup) must run on one at a time.
-- Each such job has a row here naming the instance that holds its lease and
-- when the lease runs out; the holder renews it well before then, and when
-- a holder dies another instance takes the lease once it has run out.
-- Times are the database's own clock (not the server's), so instances with
-- different clocks, or a test's stopped clock, still agree on expiry.
CREATE TABLE job_leases (
    job         TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    acquired_ms INTEGER NOT NULL,
    expires_ms  INTEGER NOT NULL
) STRICT;
