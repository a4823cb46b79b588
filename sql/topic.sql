-- Topics: create, alter, add partitions, drop, config validation, names.
CREATE EXTENSION IF NOT EXISTS mqext;
\set VERBOSITY terse
-- err(q): run q and show its SQLSTATE and message instead of failing
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

SELECT mq.create_topic('orders', 3);
SELECT topic, partitions, config FROM mq.topics;
SELECT topic, partition, log_start_offset, high_watermark, last_stable_offset, size_bytes
  FROM mq.partitions ORDER BY partition;

-- duplicates
SELECT pg_temp.err($q$SELECT mq.create_topic('orders')$q$);
SELECT mq.create_topic('orders', if_not_exists => true);

-- names: Kafka's rule
SELECT pg_temp.err($q$SELECT mq.create_topic('')$q$);
SELECT pg_temp.err($q$SELECT mq.create_topic('.')$q$);
SELECT pg_temp.err($q$SELECT mq.create_topic('..')$q$);
SELECT pg_temp.err($q$SELECT mq.create_topic('has space')$q$);
SELECT pg_temp.err($q$SELECT mq.create_topic('ümlaut')$q$);
SELECT pg_temp.err($q$SELECT mq.create_topic(repeat('x', 250))$q$);
SELECT mq.create_topic(repeat('x', 249));
SELECT mq.create_topic('a.b_c-D9');
SELECT count(*) FROM mq.topics;

-- partitions 1..10000
SELECT pg_temp.err($q$SELECT mq.create_topic('p0', 0)$q$);
SELECT pg_temp.err($q$SELECT mq.create_topic('p10001', 10001)$q$);
SELECT pg_temp.err($q$SELECT mq.create_topic('pnull', NULL)$q$);

-- config: known keys, defaults, bad values (22023 naming the key)
SELECT mq.create_topic('cfg', 1, '{"retention.ms": 1000, "segment.bytes": "1048576", "notify": true, "message.timestamp.type": "LogAppendTime"}');
SELECT config FROM mq.topics WHERE topic = 'cfg';
SELECT pg_temp.err($q$SELECT mq.create_topic('bad', 1, '{"retention.mss": 1}')$q$);
SELECT pg_temp.err($q$SELECT mq.create_topic('bad', 1, '{"retention.ms": "soon"}')$q$);
SELECT pg_temp.err($q$SELECT mq.create_topic('bad', 1, '{"retention.ms": -2}')$q$);
SELECT pg_temp.err($q$SELECT mq.create_topic('bad', 1, '{"segment.bytes": 13}')$q$);
SELECT pg_temp.err($q$SELECT mq.create_topic('bad', 1, '{"max.message.bytes": 1.5}')$q$);
SELECT pg_temp.err($q$SELECT mq.create_topic('bad', 1, '{"message.timestamp.type": "Now"}')$q$);
SELECT pg_temp.err($q$SELECT mq.create_topic('bad', 1, '{"notify": "maybe"}')$q$);
SELECT pg_temp.err($q$SELECT mq.create_topic('bad', 1, '{"min.cleanable.dirty.ratio": 1.5}')$q$);
SELECT pg_temp.err($q$SELECT mq.create_topic('bad', 1, '{"min.cleanable.dirty.ratio": "half"}')$q$);
SELECT pg_temp.err($q$SELECT mq.create_topic('bad', 1, '{"delete.retention.ms": -1}')$q$);
SELECT pg_temp.err($q$SELECT mq.create_topic('bad', 1, '{"min.compaction.lag.ms": -5}')$q$);
SELECT pg_temp.err($q$SELECT mq.create_topic('bad', 1, '{"cleanup.policy": "forever"}')$q$);
SELECT pg_temp.err($q$SELECT mq.create_topic('bad', 1, '[1, 2]')$q$);
SELECT count(*) FROM mq.topics WHERE topic = 'bad';
-- compaction settings (the worker compacts; see sql/compaction.sql)
SELECT mq.create_topic('kv', 1, '{"cleanup.policy": "delete,compact", "min.cleanable.dirty.ratio": "0.25", "delete.retention.ms": 0}');
SELECT config->'cleanup.policy' AS policy, config->'min.cleanable.dirty.ratio' AS ratio,
       config->'delete.retention.ms' AS delete_retention FROM mq.topics WHERE topic = 'kv';
-- hints name what is allowed
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT mq.create_topic('bad', 1, '{"retention.mss": 1}');
\set VERBOSITY terse

-- alter: set keys, null resets to the default
SELECT mq.alter_topic('cfg', '{"retention.ms": null, "max.message.bytes": 2000}');
SELECT config->'retention.ms' AS retention, config->'max.message.bytes' AS max_bytes,
       config->'notify' AS notify FROM mq.topics WHERE topic = 'cfg';
SELECT pg_temp.err($q$SELECT mq.alter_topic('cfg', '{"nope": 1}')$q$);
SELECT pg_temp.err($q$SELECT mq.alter_topic('nosuch', '{}')$q$);
SELECT pg_temp.err($q$SELECT mq.alter_topic(NULL, '{}')$q$);
SELECT pg_temp.err($q$SELECT mq.drop_topic(NULL)$q$);
SELECT pg_temp.err($q$SELECT mq.add_partitions(NULL, 3)$q$);
-- a failed alter changes nothing
SELECT config->'max.message.bytes' FROM mq.topics WHERE topic = 'cfg';

-- add_partitions: only grows, warns
SELECT mq.add_partitions('orders', 5);
SELECT partitions FROM mq.topics WHERE topic = 'orders';
SELECT count(*) FROM mq.partitions WHERE topic = 'orders';
SELECT pg_temp.err($q$SELECT mq.add_partitions('orders', 5)$q$);
SELECT pg_temp.err($q$SELECT mq.add_partitions('orders', 2)$q$);
SELECT pg_temp.err($q$SELECT mq.add_partitions('orders', 10001)$q$);

-- the catalog and the log hang together
SELECT count(*) FROM mq.segment s JOIN mq.topic t USING (topic_id) WHERE t.name = 'orders';
SELECT count(*) FROM pg_inherits WHERE inhparent = 'mq_data.log'::regclass;

-- drop removes catalog rows and the log
SELECT mq.drop_topic('orders');
SELECT pg_temp.err($q$SELECT mq.drop_topic('orders')$q$);
SELECT mq.drop_topic('orders', if_exists => true);
SELECT count(*) FROM mq.topics WHERE topic = 'orders';
SELECT count(*) FROM pg_inherits WHERE inhparent = 'mq_data.log'::regclass;
SELECT count(*) FROM mq.partition p WHERE NOT EXISTS (SELECT 1 FROM mq.topic t WHERE t.topic_id = p.topic_id);

-- a topic can be created again after a drop, starting from offset 0
SELECT mq.create_topic('orders');
SELECT "offset" FROM mq.produce('orders', 'v'::bytea);
SELECT mq.drop_topic('orders');
SELECT mq.create_topic('orders');
SELECT "offset" FROM mq.produce('orders', 'v'::bytea);

-- a transaction that produced cannot drop the topic (its records hold the LSO)
BEGIN;
SELECT "offset" FROM mq.produce('orders', 'w'::bytea);
SELECT pg_temp.err($q$SELECT mq.drop_topic('orders')$q$);
ROLLBACK;
SELECT "offset", convert_from(value, 'UTF8') FROM mq.fetch('orders', 0, 0);

-- offset ceilings: raised by the first append, ahead of it; never by UPDATE
SELECT mq.create_topic('ceil', 1);
SELECT c.ceiling FROM mq.offset_ceiling c JOIN mq.topic t USING (topic_id) WHERE t.name = 'ceil';
SELECT "offset" FROM mq.produce('ceil', 'a'::bytea);
SELECT c.ceiling > 0 AS raised FROM mq.offset_ceiling c JOIN mq.topic t USING (topic_id) WHERE t.name = 'ceil';
SELECT pg_temp.err($q$UPDATE mq.offset_ceiling SET ceiling = 0$q$);
-- a partition added by a transaction that rolled back leaves no counter
-- behind: added again, it starts at offset 0 and raises its own ceiling
BEGIN;
SELECT mq.add_partitions('ceil', 2);
SELECT "offset" FROM mq.produce('ceil', 'b'::bytea, partition => 1);
ROLLBACK;
SELECT mq.add_partitions('ceil', 2);
SELECT "offset" FROM mq.produce('ceil', 'c'::bytea, partition => 1);
SELECT c.ceiling > 0 AS raised FROM mq.offset_ceiling c JOIN mq.topic t USING (topic_id)
 WHERE t.name = 'ceil' AND c.partition = 1;

SELECT mq.drop_topic(topic) FROM mq.topics ORDER BY topic;
