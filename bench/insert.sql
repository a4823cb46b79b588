-- raw Postgres: one 100-byte row per transaction (autocommit)
INSERT INTO raw_insert (payload) VALUES (:v::bytea);
