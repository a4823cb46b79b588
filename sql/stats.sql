-- Observability: mq.stats counters and reset, mq.partitions' extra columns,
-- mq.segments.
CREATE EXTENSION IF NOT EXISTS mqext;
\set VERBOSITY terse

SELECT mq.create_topic('obs', 2);
SELECT mq.stats_reset();
SELECT count(*) FROM mq.produce_batch('obs', ARRAY['a', 'bb', 'ccc'], partition => 0);
SELECT count(*) FROM mq.produce('obs', 'dddd', partition => 0);
SELECT count(*) FROM mq.fetch('obs', 0, 0);
SELECT count(*) FROM mq.fetch('obs', 0, 2, 1);
SELECT partition, records_appended, bytes_appended > 0 AS bytes, produce_calls,
       records_fetched, fetch_calls
  FROM mq.stats WHERE topic = 'obs' ORDER BY partition;
SELECT mq.stats_reset();
SELECT partition, records_appended, bytes_appended, produce_calls, records_fetched, fetch_calls
  FROM mq.stats WHERE topic = 'obs' ORDER BY partition;

-- an open append shows its age in mq.partitions
BEGIN;
SELECT count(*) FROM mq.produce('obs', 'open', partition => 1);
SELECT partition, segments, oldest_open_transaction_age IS NOT NULL AS has_open_append
  FROM mq.partitions WHERE topic = 'obs' ORDER BY partition;
COMMIT;
SELECT partition, oldest_open_transaction_age IS NULL AS none_open
  FROM mq.partitions WHERE topic = 'obs' ORDER BY partition;

SELECT segment > 0 AS has_id, relation::text LIKE 'mq_data.seg_%' AS relation, size_bytes > 0 AS sized, active,
       first_ts = (SELECT min(f.ts) FROM generate_series(0, 1) p, mq.fetch('obs', p, 0) f) AS first_ts,
       last_ts = (SELECT max(f.ts) FROM generate_series(0, 1) p, mq.fetch('obs', p, 0) f) AS last_ts
  FROM mq.segments WHERE topic = 'obs';

SELECT mq.drop_topic('obs');
