-- 12: the evidence chain has one appender at a time, enforced by the schema.
-- An entry names its predecessor's hash; two appenders that read the same
-- head would both name it, and the second insert now fails (its transaction
-- rolls back) instead of forking the chain. SQLite's single writer already
-- serialises appends; this makes it the schema's rule, for any backend.
CREATE UNIQUE INDEX evidence_log_one_successor ON evidence_log (prev_hash);
