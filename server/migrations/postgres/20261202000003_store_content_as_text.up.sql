-- The content is stored as the JSON text the server wrote and read back as it is, to be sent
-- without being parsed: nothing queries inside it, so jsonb's parsing on every write and
-- printing on every read bought nothing.
ALTER TABLE entries ALTER COLUMN content TYPE text USING content::text;
ALTER TABLE idempotency_keys ALTER COLUMN content TYPE text USING content::text;
