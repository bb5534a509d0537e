DROP INDEX idempotency_keys_by_expiry;
DROP TABLE idempotency_keys;
