DROP INDEX entries_listing;
DROP TABLE entries;
