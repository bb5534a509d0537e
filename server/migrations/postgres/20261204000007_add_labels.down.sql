-- Labels are dropped, from the search terms and from every stored content (rewritten by jsonb,
-- which keeps the members but not the text's spacing and order).
DELETE FROM entry_terms WHERE kind = 'label';
UPDATE entries SET content = (content::jsonb - 'labels')::text;
UPDATE idempotency_keys SET content = (content::jsonb - 'labels')::text WHERE content IS NOT NULL;
