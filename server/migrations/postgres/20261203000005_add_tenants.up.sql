-- Every entry, search term and idempotency key belongs to a tenant, which leads every key and
-- index: no query reaches past its tenant's rows, and the schema is ready to be distributed by
-- tenant (Citus' distribution column must be part of every primary, unique and foreign key).
-- What was stored before tenants existed belongs to the tenant `default`.
ALTER TABLE entry_terms DROP CONSTRAINT entry_terms_entry_id_fkey;

ALTER TABLE entries ADD COLUMN tenant text COLLATE "C" NOT NULL DEFAULT 'default';
ALTER TABLE entries ALTER COLUMN tenant DROP DEFAULT;
ALTER TABLE entries DROP CONSTRAINT entries_pkey;
ALTER TABLE entries ADD PRIMARY KEY (tenant, id);
DROP INDEX entries_by_created;
DROP INDEX entries_by_updated;
DROP INDEX entries_by_name;
CREATE UNIQUE INDEX entries_by_created ON entries (tenant, created_at, id);
CREATE UNIQUE INDEX entries_by_updated ON entries (tenant, updated_at, id);
CREATE UNIQUE INDEX entries_by_name ON entries (tenant, sort_name, id);

ALTER TABLE entry_terms ADD COLUMN tenant text COLLATE "C" NOT NULL DEFAULT 'default';
ALTER TABLE entry_terms ALTER COLUMN tenant DROP DEFAULT;
ALTER TABLE entry_terms DROP CONSTRAINT entry_terms_pkey;
ALTER TABLE entry_terms ADD PRIMARY KEY (tenant, kind, term, entry_id);
ALTER TABLE entry_terms ADD CONSTRAINT entry_terms_entry_fkey
    FOREIGN KEY (tenant, entry_id) REFERENCES entries (tenant, id) ON DELETE CASCADE;
DROP INDEX entry_terms_by_entry;
CREATE INDEX entry_terms_by_entry ON entry_terms (tenant, entry_id, kind, term);

ALTER TABLE idempotency_keys ADD COLUMN tenant text COLLATE "C" NOT NULL DEFAULT 'default';
ALTER TABLE idempotency_keys ALTER COLUMN tenant DROP DEFAULT;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (tenant, key);
