-- Devices can be cut off and their tokens rotate; office sessions end when idle.
--
-- token_issued_at: when the current token was issued (NULL: at enrolment).
-- next_token_hash: a rotated token handed out but not yet used; the first
--   request with it makes it the token and ends the old one.
-- last_seen_at: the last authenticated request (NULL: never since
--   enrolment), for the idle expiry and the console's "last seen".
ALTER TABLE devices ADD COLUMN token_issued_at TEXT;
ALTER TABLE devices ADD COLUMN next_token_hash TEXT;
ALTER TABLE devices ADD COLUMN last_seen_at TEXT;
CREATE UNIQUE INDEX devices_next_token_hash ON devices (next_token_hash) WHERE next_token_hash IS NOT NULL;

-- last_used_at: the session's last request (NULL: since created_at).
-- Sessions open at the upgrade start their idle time now, so upgrading the
-- server signs nobody out (their 12-hour expires_at still holds).
ALTER TABLE sessions ADD COLUMN last_used_at TEXT;
UPDATE sessions SET last_used_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now');
CREATE INDEX sessions_user ON sessions (user_id);
