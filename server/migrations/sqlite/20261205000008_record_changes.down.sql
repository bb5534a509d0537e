DROP TABLE change_horizons;
DROP TABLE entry_changes;
