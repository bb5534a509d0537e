-- Idempotency keys of create requests (Idempotency-Key header). A row is claimed before the
-- entry is created and completed in the same transaction as the insert; repeats are answered
-- from it until it expires.
CREATE TABLE idempotency_keys (
    key              TEXT    NOT NULL PRIMARY KEY,
    claimed_at       INTEGER NOT NULL,   -- microseconds since the Unix epoch, UTC
    expires_at       INTEGER NOT NULL,
    entry_id         BLOB,               -- set once the request created its entry
    entry_created_at INTEGER,
    content          TEXT                -- the entry as created (JSON), to compare repeats with
) STRICT;

CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_at);
