-- Back to one book without tenants. Entries keep their ids (unique across tenants); of keys that
-- several tenants used, the default tenant's stays.
DELETE FROM idempotency_keys AS other
    WHERE tenant <> 'default'
    AND EXISTS (SELECT 1 FROM idempotency_keys AS kept
                WHERE kept.key = other.key AND kept.tenant = 'default');
DELETE FROM idempotency_keys AS other
    WHERE tenant <> 'default'
    AND EXISTS (SELECT 1 FROM idempotency_keys AS kept
                WHERE kept.key = other.key AND kept.tenant < other.tenant AND kept.tenant <> 'default');
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys DROP COLUMN tenant;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (key);

ALTER TABLE entry_terms DROP CONSTRAINT entry_terms_entry_fkey;
DROP INDEX entry_terms_by_entry;
ALTER TABLE entry_terms DROP CONSTRAINT entry_terms_pkey;
ALTER TABLE entry_terms DROP COLUMN tenant;
ALTER TABLE entry_terms ADD PRIMARY KEY (kind, term, entry_id);
CREATE INDEX entry_terms_by_entry ON entry_terms (entry_id, kind, term);

DROP INDEX entries_by_created;
DROP INDEX entries_by_updated;
DROP INDEX entries_by_name;
ALTER TABLE entries DROP CONSTRAINT entries_pkey;
ALTER TABLE entries DROP COLUMN tenant;
ALTER TABLE entries ADD PRIMARY KEY (id);
CREATE UNIQUE INDEX entries_by_created ON entries (created_at, id);
CREATE UNIQUE INDEX entries_by_updated ON entries (updated_at, id);
CREATE UNIQUE INDEX entries_by_name ON entries (sort_name, id);
ALTER TABLE entry_terms ADD CONSTRAINT entry_terms_entry_id_fkey
    FOREIGN KEY (entry_id) REFERENCES entries (id) ON DELETE CASCADE;
