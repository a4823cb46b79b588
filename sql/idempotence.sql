-- Idempotent producers: ids, epochs, sequences, retries, fencing.
CREATE EXTENSION IF NOT EXISTS mqext;
\set VERBOSITY terse
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

SELECT mq.create_topic('i', 2);
SELECT producer_id AS pid, epoch FROM mq.init_producer() \gset
SELECT :epoch AS epoch;

-- sequences start at 0 per partition
SELECT "offset" FROM mq.produce('i', 'r0', partition => 0, producer_id => :pid, epoch => 0, sequence => 0);
SELECT "offset" FROM mq.produce('i', 'r1', partition => 0, producer_id => :pid, epoch => 0, sequence => 1);
SELECT partition, "offset" FROM mq.produce_batch('i', ARRAY['r2', 'r3', 'r4'], partition => 0,
                                                 producer_id => :pid, epoch => 0, sequence => 2);
-- a retry (ambiguous commit) returns the original offsets and appends nothing
SELECT "offset" FROM mq.produce('i', 'r1', partition => 0, producer_id => :pid, epoch => 0, sequence => 1);
SELECT partition, "offset" FROM mq.produce_batch('i', ARRAY['r2', 'r3', 'r4'], partition => 0,
                                                 producer_id => :pid, epoch => 0, sequence => 2);
SELECT "offset", convert_from(value, 'UTF8') FROM mq.fetch('i', 0, 0);
-- a retry with a different record count is refused
SELECT pg_temp.err($q$SELECT mq.produce_batch('i', ARRAY['x', 'y'], partition => 0, producer_id => $q$ || :pid || $q$, epoch => 0, sequence => 2)$q$);
-- a gap is refused
SELECT pg_temp.err($q$SELECT mq.produce('i', 'gap', partition => 0, producer_id => $q$ || :pid || $q$, epoch => 0, sequence => 7)$q$);
-- partition 1 has its own sequence
SELECT pg_temp.err($q$SELECT mq.produce('i', 'p1', partition => 1, producer_id => $q$ || :pid || $q$, epoch => 0, sequence => 5)$q$);
SELECT "offset" FROM mq.produce('i', 'p1', partition => 1, producer_id => :pid, epoch => 0, sequence => 0);
-- the sequence is kept in the transaction: a rolled back batch may be retried
BEGIN;
SELECT "offset" FROM mq.produce('i', 'r5', partition => 0, producer_id => :pid, epoch => 0, sequence => 5);
ROLLBACK;
SELECT "offset" FROM mq.produce('i', 'r5', partition => 0, producer_id => :pid, epoch => 0, sequence => 5);
SELECT count(*) FROM mq.fetch('i', 0, 0);

-- fencing: a new init_producer with the same transactional id bumps the epoch
SELECT producer_id AS tpid, epoch FROM mq.init_producer('payments-1') \gset
SELECT :epoch AS first_epoch;
SELECT "offset" FROM mq.produce('i', 't0', partition => 1, producer_id => :tpid, epoch => 0, sequence => 0);
SELECT producer_id = :tpid AS same_id, epoch FROM mq.init_producer('payments-1');
SELECT pg_temp.err($q$SELECT mq.produce('i', 't1', partition => 1, producer_id => $q$ || :tpid || $q$, epoch => 0, sequence => 1)$q$);
-- the new epoch starts its sequences afresh
SELECT "offset" FROM mq.produce('i', 't1', partition => 1, producer_id => :tpid, epoch => 1, sequence => 0);
SELECT pg_temp.err($q$SELECT mq.produce('i', 'x', partition => 1, producer_id => $q$ || :tpid || $q$, epoch => 7, sequence => 1)$q$);
-- the epoch is a 16-bit number in a batch: once used up, the transactional
-- id gets a new producer id at epoch 0 (as in Kafka), and the old id stays,
-- fenced: its last instance is told so (not that its id is unknown)
UPDATE mq.producer SET epoch = 32767 WHERE transactional_id = 'payments-1';
SELECT producer_id <> :tpid AS new_id, epoch FROM mq.init_producer('payments-1');
SELECT regexp_replace(pg_temp.err($q$SELECT mq.produce('i', 'old', partition => 1, producer_id => $q$ || :tpid || $q$, epoch => 32767, sequence => 0)$q$),
                      'producer \d+', 'producer N');
-- (an epoch past 16 bits is refused outright)
SELECT pg_temp.err($q$SELECT mq.produce('i', 'old', partition => 1, producer_id => $q$ || :tpid || $q$, epoch => 32768, sequence => 0)$q$);

-- bad arguments
SELECT pg_temp.err($q$SELECT mq.produce('i', 'x', producer_id => 424242, epoch => 0, sequence => 0)$q$);
SELECT pg_temp.err($q$SELECT mq.produce('i', 'x', producer_id => $q$ || :pid || $q$, epoch => 0)$q$);
SELECT pg_temp.err($q$SELECT mq.produce('i', 'x', epoch => 0, sequence => 0)$q$);
SELECT pg_temp.err($q$SELECT mq.produce('i', 'x', partition => 0, producer_id => $q$ || :pid || $q$, epoch => 0, sequence => -1)$q$);
SELECT pg_temp.err($q$SELECT mq.produce_batch('i', ARRAY['a', 'b', 'c', 'd'], keys => ARRAY['k1', 'k2', 'k3', 'k4'], producer_id => $q$ || :pid || $q$, epoch => 0, sequence => 6)$q$);

SELECT count(DISTINCT mq.partition_for(k::bytea, 2)) AS keys_span_partitions FROM unnest(ARRAY['k1', 'k2', 'k3', 'k4']) k;
-- the stored batches carry the producer fields
SELECT partition, base_offset, producer_id = :pid AS pid, producer_epoch, base_sequence, record_count
  FROM mq_data.log l JOIN mq.topic t USING (topic_id)
 WHERE t.name = 'i' AND partition = 0 ORDER BY base_offset;

SELECT mq.drop_topic('i');
