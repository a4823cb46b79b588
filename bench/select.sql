-- raw Postgres: the next 500 rows by key range (:off advances per transaction)
SELECT id, payload FROM raw_copy WHERE id >= :off AND id < :off + 500;
\set off :off + 500
