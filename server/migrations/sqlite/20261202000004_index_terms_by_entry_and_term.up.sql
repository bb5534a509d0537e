-- A search that matches most of the book walks the listing order and asks of each entry whether
-- it has a matching term: that question is a range seek in this index, not a scan of all the
-- entry's terms.
DROP INDEX entry_terms_by_entry;
CREATE INDEX entry_terms_by_entry ON entry_terms (entry_id, kind, term);
