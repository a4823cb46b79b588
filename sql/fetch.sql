-- Fetching: ranges, limits, the LSO, aborted records, offsets by time.
CREATE EXTENSION IF NOT EXISTS mqext;
\set VERBOSITY terse
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

SELECT mq.create_topic('f', 2);
SELECT count(*) FROM mq.produce_batch('f', ARRAY['a', 'b', 'c'], partition => 0);
SELECT count(*) FROM mq.produce_batch('f', ARRAY['d', 'e'], partition => 0);
SELECT "offset" FROM mq.produce('f', 'f', partition => 0);

-- from an offset inside a batch, in offset order, across batches
SELECT topic, partition, "offset", convert_from(value, 'UTF8') AS v FROM mq.fetch('f', 0, 1);
-- below the log start: from the log start; past the end: nothing
SELECT "offset" FROM mq.fetch('f', 0, -5, 2);
SELECT count(*) FROM mq.fetch('f', 0, 6);
SELECT count(*) FROM mq.fetch('f', 0, 1000);
-- an empty partition
SELECT count(*) FROM mq.fetch('f', 1, 0);
-- max_records, and max_bytes (at least one record, as in Kafka)
SELECT "offset" FROM mq.fetch('f', 0, 0, max_records => 4);
SELECT count(*) FROM mq.fetch('f', 0, 0, max_records => 0);
SELECT "offset" FROM mq.fetch('f', 0, 0, max_bytes => 2);
SELECT "offset" FROM mq.fetch('f', 0, 2, max_bytes => 0);
-- bad arguments
SELECT pg_temp.err($q$SELECT * FROM mq.fetch('f', 2, 0)$q$);
SELECT pg_temp.err($q$SELECT * FROM mq.fetch('f', -1, 0)$q$);
SELECT pg_temp.err($q$SELECT * FROM mq.fetch('nosuch', 0, 0)$q$);
SELECT pg_temp.err($q$SELECT * FROM mq.fetch('f', 0, 0, -1)$q$);
SELECT count(*) FROM mq.fetch(NULL, 0, 0);

-- earliest and latest (the LSO)
SELECT mq.earliest_offset('f', 0), mq.latest_offset('f', 0), mq.latest_offset('f', 1);

-- an aborted produce leaves a gap and is never returned
BEGIN;
SELECT "offset" FROM mq.produce('f', 'aborted', partition => 0);
ROLLBACK;
SELECT "offset" FROM mq.produce('f', 'g', partition => 0);
SELECT "offset", convert_from(value, 'UTF8') AS v FROM mq.fetch('f', 0, 5);
-- so does a savepoint rolled back
BEGIN;
SELECT "offset" FROM mq.produce('f', 'h', partition => 0);
SAVEPOINT s;
SELECT "offset" FROM mq.produce('f', 'rolled back', partition => 0);
ROLLBACK TO SAVEPOINT s;
SELECT "offset" FROM mq.produce('f', 'i', partition => 0);
COMMIT;
SELECT "offset", convert_from(value, 'UTF8') AS v FROM mq.fetch('f', 0, 7);
SELECT mq.latest_offset('f', 0);

-- a transaction's own records are not readable before it commits: they sit
-- at or above the LSO, which its open append holds
BEGIN;
SELECT "offset" FROM mq.produce('f', 'mine', partition => 1);
SELECT count(*) FROM mq.fetch('f', 1, 0);
SELECT mq.latest_offset('f', 1);
SELECT last_stable_offset FROM mq.partitions WHERE topic = 'f' AND partition = 1;
COMMIT;
SELECT "offset", convert_from(value, 'UTF8') AS v FROM mq.fetch('f', 1, 0);
SELECT mq.latest_offset('f', 1);

-- the partitions view
SELECT partition, log_start_offset, high_watermark, last_stable_offset,
       size_bytes > 0 AS has_bytes, first_ts <= last_ts AS ordered
  FROM mq.partitions WHERE topic = 'f' ORDER BY partition;

-- the log start offset bounds every read (mq.delete_records will move it)
UPDATE mq.partition SET log_start_offset = 2
 WHERE topic_id = (SELECT topic_id FROM mq.topic WHERE name = 'f') AND partition = 0;
SELECT mq.earliest_offset('f', 0);
SELECT "offset" FROM mq.fetch('f', 0, 0, 2);
SELECT log_start_offset FROM mq.partitions WHERE topic = 'f' AND partition = 0;

-- offsets by time: first offset at or after the timestamp; NULL past the end
SELECT mq.create_topic('tt', 1);
SELECT count(*) FROM mq.produce('tt', 'a', ts => '2024-01-01 00:00:01+00');
SELECT count(*) FROM mq.produce('tt', 'b', ts => '2024-01-01 00:00:03+00');
SELECT count(*) FROM mq.produce_batch('tt', ARRAY['c', 'd']);
SELECT mq.offset_for_time('tt', 0, '2000-01-01+00') AS before_all,
       mq.offset_for_time('tt', 0, '2024-01-01 00:00:01+00') AS exact,
       mq.offset_for_time('tt', 0, '2024-01-01 00:00:01.0005+00') AS sub_ms,
       mq.offset_for_time('tt', 0, '2024-01-01 00:00:02+00') AS between,
       mq.offset_for_time('tt', 0, '2030-01-01+00') AS after_all,
       mq.offset_for_time('tt', 0, '-infinity') AS minus_infinity,
       mq.offset_for_time('tt', 0, 'infinity') AS infinity;
-- out-of-order CreateTime: the first offset whose timestamp qualifies
SELECT count(*) FROM mq.produce('tt', 'e', ts => '2024-01-01 00:00:02+00');
SELECT mq.offset_for_time('tt', 0, '2024-01-01 00:00:02+00');
SELECT pg_temp.err($q$SELECT mq.offset_for_time('tt', 1, now())$q$);
SELECT pg_temp.err($q$SELECT * FROM mq._partition_state('tt', 100000000)$q$);
SELECT pg_temp.err($q$SELECT mq.earliest_offset('tt', -100000000)$q$);

SELECT mq.drop_topic(topic) FROM mq.topics ORDER BY topic;
