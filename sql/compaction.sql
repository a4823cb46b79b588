-- Log compaction (src/log/compact.c), driven directly rather than by the
-- worker: min.compaction.lag.ms is an hour, so the worker leaves these
-- topics alone, and mq._compact_topic is told how many segments to clean.
CREATE EXTENSION IF NOT EXISTS mqext;
\set VERBOSITY terse
CREATE FUNCTION pg_temp.compact(t text) RETURNS boolean LANGUAGE sql AS $$
    SELECT mq._compact_topic(t, (SELECT count(*)::int - 1 FROM mq.segments s WHERE s.topic = t),
                             (extract(epoch FROM clock_timestamp()) * 1000)::bigint - 1000, 0.0) > 0
$$;
CREATE FUNCTION pg_temp.batch_bytes(t text) RETURNS bigint LANGUAGE sql AS $$
    SELECT sum(octet_length(l.batch)) FROM mq_data.log l JOIN mq.topic x USING (topic_id) WHERE x.name = t
$$;

SELECT mq.create_topic('kv', 2, '{"cleanup.policy": "compact", "min.compaction.lag.ms": 3600000,
                                  "delete.retention.ms": 0}');
-- many updates per key, some tombstones, in several batches
SELECT count(*) FROM mq.produce_batch('kv', ARRAY['a1', 'b1', 'c1', 'd1'], keys => ARRAY['a', 'b', 'c', 'd'], partition => 0);
SELECT count(*) FROM mq.produce_batch('kv', ARRAY['a2', 'b2', 'a3'], keys => ARRAY['a', 'b', 'a'], partition => 0);
SELECT count(*) FROM mq.produce('kv', NULL::bytea, 'c'::bytea, partition => 0, ts => now() - interval '1 hour');
SELECT count(*) FROM mq.produce('kv', NULL::bytea, 'd'::bytea, partition => 0, ts => now() + interval '1 hour');
SELECT count(*) FROM mq.produce_batch('kv', ARRAY['a4', 'e1'], keys => ARRAY['a', 'e'], partition => 0);
-- a record without a key would never go: refused (Kafka's INVALID_RECORD),
-- the whole call with it
\set VERBOSITY default
SELECT count(*) FROM mq.produce_batch('kv', ARRAY['x1', 'x2', 'n1'], keys => ARRAY['x', 'x', NULL], partition => 1);
\set VERBOSITY terse
SELECT count(*) FROM mq.produce_batch('kv', ARRAY['x1', 'x2', 'n1'], keys => ARRAY['x', 'x', 'n'], partition => 1);
-- roll, so that everything above is in an inactive segment; then one more
SELECT mq._create_segment(topic_id) > 0 AS rolled FROM mq.topic WHERE name = 'kv';
SELECT count(*) FROM mq.produce('kv', 'a5', 'a', partition => 0);
SELECT pg_temp.batch_bytes('kv') AS bytes_before \gset

SELECT pg_temp.compact('kv') AS compacted;
-- partition 0: the newest value of each key of the cleaned segment, at its
-- original offset, in offset order; the active segment (a5) is not
-- touched.  The tombstones (c, d) stay: their segment was rolled less than
-- delete.retention.ms ago, whatever their own timestamps say (c's is an
-- hour old)
SELECT "offset", convert_from(key, 'UTF8') AS key, convert_from(value, 'UTF8') AS value
  FROM mq.fetch('kv', 0, 0);
-- once the segment has been inactive for longer (its roll an hour back),
-- they go with their keys, the one stamped an hour ahead (d) too
UPDATE mq.segment s SET rolled_at = s.rolled_at - interval '1 hour'
  FROM mq.topic t WHERE t.topic_id = s.topic_id AND t.name = 'kv' AND s.rolled_at IS NOT NULL;
SELECT pg_temp.compact('kv') AS compacted;
SELECT "offset", convert_from(key, 'UTF8') AS key, convert_from(value, 'UTF8') AS value
  FROM mq.fetch('kv', 0, 0);
-- partition 1
SELECT "offset", convert_from(key, 'UTF8') AS key, convert_from(value, 'UTF8') AS value
  FROM mq.fetch('kv', 1, 0);
-- the storage shrank; batches keep their offsets (an emptied batch stays
-- empty, so the last offset of each partition survives a restart)
SELECT pg_temp.batch_bytes('kv') < :bytes_before AS shrank;
SELECT partition, base_offset, last_offset, record_count
  FROM mq_data.log l JOIN mq.topic t USING (topic_id) WHERE t.name = 'kv' ORDER BY 1, 2;
SELECT bool_and(EXISTS (SELECT 1 FROM mq.decode_batch(l.batch)) OR l.record_count = 0) AS valid_batches
  FROM mq_data.log l JOIN mq.topic t USING (topic_id) WHERE t.name = 'kv';
-- new appends continue above
SELECT "offset" FROM mq.produce('kv', 'e2', 'e', partition => 0);
-- compacting again finds nothing new to remove in the cleaned segment
SELECT pg_temp.compact('kv') AS compacted_again;

-- below min.cleanable.dirty.ratio nothing is rewritten
SELECT mq.create_topic('clean', 1, '{"cleanup.policy": "compact", "min.compaction.lag.ms": 3600000}');
SELECT count(*) FROM mq.produce_batch('clean', ARRAY['1', '2', '3', '4', '5'], keys => ARRAY['a', 'b', 'c', 'd', 'a']);
SELECT mq._create_segment(topic_id) > 0 AS rolled FROM mq.topic WHERE name = 'clean';
SELECT mq._compact_topic('clean', 1, 0, 0.5) AS saved_at_half;
SELECT count(*) FROM mq.fetch('clean', 0, 0);
SELECT mq._compact_topic('clean', 1, 0, 0.2) > 0 AS saved_at_fifth;
SELECT "offset", convert_from(value, 'UTF8') FROM mq.fetch('clean', 0, 0);

-- one segment per call: the swap's locks last until the transaction ends,
-- so the next dirty segment waits for the next call (the worker's next round)
SELECT mq.create_topic('two', 1, '{"cleanup.policy": "compact", "min.compaction.lag.ms": 3600000}');
SELECT count(*) FROM mq.produce_batch('two', ARRAY['a1', 'a2'], keys => ARRAY['a', 'a']);
SELECT mq._create_segment(topic_id) > 0 AS rolled FROM mq.topic WHERE name = 'two';
SELECT count(*) FROM mq.produce_batch('two', ARRAY['b1', 'b2'], keys => ARRAY['b', 'b']);
SELECT mq._create_segment(topic_id) > 0 AS rolled FROM mq.topic WHERE name = 'two';
SELECT string_agg(convert_from(value, 'UTF8'), ' ' ORDER BY "offset") FROM mq.fetch('two', 0, 0);
SELECT pg_temp.compact('two') AS compacted;
SELECT string_agg(convert_from(value, 'UTF8'), ' ' ORDER BY "offset") FROM mq.fetch('two', 0, 0);
SELECT pg_temp.compact('two') AS compacted;
SELECT string_agg(convert_from(value, 'UTF8'), ' ' ORDER BY "offset") FROM mq.fetch('two', 0, 0);
SELECT pg_temp.compact('two') AS compacted;

-- a compaction rolled back is done again: the plan kept between calls
-- takes its segment for done only once the swap is there
SELECT mq.create_topic('undo', 1, '{"cleanup.policy": "compact", "min.compaction.lag.ms": 3600000}');
SELECT count(*) FROM mq.produce_batch('undo', ARRAY['a1', 'a2'], keys => ARRAY['a', 'a']);
SELECT mq._create_segment(topic_id) > 0 AS rolled FROM mq.topic WHERE name = 'undo';
SELECT count(*) FROM mq.produce_batch('undo', ARRAY['b1', 'b2'], keys => ARRAY['b', 'b']);
SELECT mq._create_segment(topic_id) > 0 AS rolled FROM mq.topic WHERE name = 'undo';
BEGIN;
SELECT pg_temp.compact('undo') AS compacted;
SELECT mq._compact_pending('undo', 2) AS more;
ROLLBACK;
SELECT mq._compact_pending('undo', 2) AS more;
SELECT pg_temp.compact('undo') AS compacted;
SELECT string_agg(convert_from(value, 'UTF8'), ' ' ORDER BY "offset") FROM mq.fetch('undo', 0, 0);
SELECT mq._compact_pending('undo', 2) AS more;
SELECT pg_temp.compact('undo') AS compacted;
SELECT string_agg(convert_from(value, 'UTF8'), ' ' ORDER BY "offset") FROM mq.fetch('undo', 0, 0);
SELECT mq._compact_pending('undo', 2) AS more;

-- the map of keys holds at most mqext.compaction_buffer_size: it stops at
-- the end of the batch that filled it, and what lies beyond waits for a
-- later map.  Here the first batch alone (3000 keys) fills 64kB, so k2
-- in the next batch is not seen: k1 stays, d1 (overwritten within the
-- first batch) goes
SELECT mq.create_topic('big', 1, '{"cleanup.policy": "compact", "min.compaction.lag.ms": 3600000}');
SELECT count(*) FROM mq.produce_batch('big',
    ARRAY(SELECT 'x' FROM generate_series(1, 3000)) || ARRAY['k1', 'd1', 'd2'],
    keys => ARRAY(SELECT 'f' || i FROM generate_series(1, 3000) i) || ARRAY['k', 'd', 'd']);
SELECT count(*) FROM mq.produce('big', 'k2', 'k');
SELECT mq._create_segment(topic_id) > 0 AS rolled FROM mq.topic WHERE name = 'big';
SET mqext.compaction_buffer_size = '64kB';
SELECT pg_temp.compact('big') AS compacted;
SELECT convert_from(key, 'UTF8') AS key, convert_from(value, 'UTF8') AS value
  FROM mq.fetch('big', 0, 3000) ORDER BY "offset";
-- with room for the whole segment, k1 goes too
RESET mqext.compaction_buffer_size;
SELECT pg_temp.compact('big') AS compacted;
SELECT convert_from(key, 'UTF8') AS key, convert_from(value, 'UTF8') AS value
  FROM mq.fetch('big', 0, 3000) ORDER BY "offset";
SELECT count(*) FROM mq.fetch('big', 0, 0, 10000);
-- Segments compacted are marked cleaned (no key twice in them) once the
-- plan is carried out, and later maps take only their tombstones: with
-- 64kB again, the map now reaches the next segment past the first one's
-- 3000 keys, so k2 and f1's first value go
SELECT count(*) FROM mq.produce_batch('big', ARRAY['k3', 'y'], keys => ARRAY['k', 'f1']);
SELECT mq._create_segment(topic_id) > 0 AS rolled FROM mq.topic WHERE name = 'big';
SET mqext.compaction_buffer_size = '64kB';
SELECT pg_temp.compact('big') AS compacted;
SELECT convert_from(key, 'UTF8') AS key, convert_from(value, 'UTF8') AS value
  FROM mq.fetch('big', 0, 0, 10000) WHERE convert_from(key, 'UTF8') IN ('k', 'd', 'f1', 'f2')
 ORDER BY "offset";
SELECT pg_temp.compact('big') AS compacted;
SELECT row_number() OVER (ORDER BY segment) AS n, cleaned, active FROM mq.segments WHERE topic = 'big';
RESET mqext.compaction_buffer_size;
-- a tombstone in a cleaned segment still goes after delete.retention.ms
-- (the map takes it, wherever it is)
SELECT mq.create_topic('ct', 1, '{"cleanup.policy": "compact", "min.compaction.lag.ms": 3600000}');
SELECT count(*) FROM mq.produce_batch('ct', ARRAY['x1', NULL, 'z1'], keys => ARRAY['x', 'x', 'z']);
SELECT mq._create_segment(topic_id) > 0 AS rolled FROM mq.topic WHERE name = 'ct';
SELECT pg_temp.compact('ct') AS compacted;
SELECT pg_temp.compact('ct') AS compacted;
SELECT cleaned FROM mq.segments WHERE topic = 'ct' AND NOT active;
SELECT convert_from(key, 'UTF8') AS key, value FROM mq.fetch('ct', 0, 0);
SELECT pg_sleep(1.2);
SELECT pg_temp.compact('ct') AS compacted;
SELECT convert_from(key, 'UTF8') AS key, value FROM mq.fetch('ct', 0, 0);
-- the bound's range
SET mqext.compaction_buffer_size = '32kB';
SHOW mqext.compaction_buffer_size;

-- a topic found not dirty enough is not read again until something
-- changes, a tombstone's delete.retention.ms running out included: here
-- its segment was rolled less than the second pg_temp.compact allows
SELECT mq.create_topic('tomb', 1, '{"cleanup.policy": "compact", "min.compaction.lag.ms": 3600000}');
SELECT count(*) FROM mq.produce('tomb', NULL::bytea, 'k'::bytea);
SELECT mq._create_segment(topic_id) > 0 AS rolled FROM mq.topic WHERE name = 'tomb';
SELECT pg_temp.compact('tomb') AS compacted;
SELECT pg_sleep(1.2);
SELECT pg_temp.compact('tomb') AS compacted;
SELECT count(*) FROM mq.fetch('tomb', 0, 0);

-- a topic at rest is mapped once, then left alone while nothing changes:
-- an append in flight into its active segment changes nothing, one into a
-- cleanable segment would (compaction_inflight.spec)
SELECT mq.create_topic('rest', 2, '{"cleanup.policy": "compact", "min.compaction.lag.ms": 3600000}');
SELECT count(*) FROM mq.produce_batch('rest', ARRAY['a', 'b'], keys => ARRAY['a', 'b'], partition => 0);
SELECT mq._create_segment(topic_id) > 0 AS rolled FROM mq.topic WHERE name = 'rest';
SET client_min_messages = debug1;
SELECT pg_temp.compact('rest') AS compacted;
-- (nothing to remove: the segment is marked cleaned, and no verdict is
-- kept then: the next call maps again, taking only its tombstones)
SELECT cleaned FROM mq.segments WHERE topic = 'rest' AND NOT active;
SELECT pg_temp.compact('rest') AS compacted;
SELECT pg_temp.compact('rest') AS compacted;
RESET client_min_messages;
BEGIN;
SELECT count(*) FROM mq.produce('rest', 'c', 'c', partition => 0);
SET LOCAL client_min_messages = debug1;
SELECT pg_temp.compact('rest') AS compacted;
COMMIT;
-- a new cleanable segment: mapped again, the verdict kept though an
-- append is in flight (into the active segment)
SELECT mq._create_segment(topic_id) > 0 AS rolled FROM mq.topic WHERE name = 'rest';
BEGIN;
SELECT count(*) FROM mq.produce('rest', 'd', 'd', partition => 0);
SET LOCAL client_min_messages = debug1;
SELECT pg_temp.compact('rest') AS compacted;
SELECT pg_temp.compact('rest') AS compacted;
SELECT pg_temp.compact('rest') AS compacted;
COMMIT;

SELECT mq.drop_topic('kv');
SELECT mq.drop_topic('clean');
SELECT mq.drop_topic('two');
SELECT mq.drop_topic('undo');
SELECT mq.drop_topic('big');
SELECT mq.drop_topic('tomb');
SELECT mq.drop_topic('rest');
SELECT mq.drop_topic('ct');
