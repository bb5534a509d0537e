-- Labels are dropped, from the search terms and from every stored content.
DELETE FROM entry_terms WHERE kind = 'label';
UPDATE entries SET content = json_remove(content, '$.labels');
UPDATE idempotency_keys SET content = json_remove(content, '$.labels') WHERE content IS NOT NULL;
