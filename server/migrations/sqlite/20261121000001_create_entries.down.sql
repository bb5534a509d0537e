DROP INDEX entry_terms_by_entry;
DROP TABLE entry_terms;
DROP INDEX entries_by_name;
DROP INDEX entries_by_updated;
DROP INDEX entries_by_created;
DROP TABLE entries;
