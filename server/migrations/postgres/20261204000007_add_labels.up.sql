-- Entries carry labels (contact groups such as `family`). An entry stored before has none: its
-- content gets an empty `labels` list, appended to the stored text so nothing else in it moves,
-- and so does the content kept with each completed idempotency key, which a repeat is compared
-- with and answered from. The `label` filter is answered from entry_terms (kind 'label'), whose
-- primary key already leads with the tenant, kind and term.
UPDATE entries
    SET content = left(content, -1) || ',"labels":[]}'
    WHERE NOT (content::jsonb ? 'labels');
UPDATE idempotency_keys
    SET content = left(content, -1) || ',"labels":[]}'
    WHERE content IS NOT NULL AND NOT (content::jsonb ? 'labels');
