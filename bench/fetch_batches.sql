-- mqext: the stored batch of the next 500 records (:off advances per
-- transaction); max_bytes 1 returns exactly one batch
SELECT * FROM mq.fetch_batches('batch500', 0, :off, 1);
\set off :off + 500
