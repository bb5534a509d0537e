DROP INDEX entry_terms_by_entry;
CREATE INDEX entry_terms_by_entry ON entry_terms (entry_id);
