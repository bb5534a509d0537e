-- Idempotency keys of create requests (Idempotency-Key header). A row is claimed before the
-- entry is created and completed in the same transaction as the insert; repeats are answered
-- from it until it expires. Shared by every server process using this database.
CREATE TABLE idempotency_keys (
    key              text        NOT NULL PRIMARY KEY,
    claimed_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    entry_id         uuid,                -- set once the request created its entry
    entry_created_at timestamptz,
    content          jsonb                -- the entry as created, to compare repeats with
);

CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_at);
