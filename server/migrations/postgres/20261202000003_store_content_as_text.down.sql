ALTER TABLE idempotency_keys ALTER COLUMN content TYPE jsonb USING content::jsonb;
ALTER TABLE entries ALTER COLUMN content TYPE jsonb USING content::jsonb;
