-- Producing: partitioner, overloads, headers, timestamps, size limit, batches.
CREATE EXTENSION IF NOT EXISTS mqext;
\set VERBOSITY terse
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

SELECT mq.create_topic('p', 6);

-- a key goes where Kafka's Java client sends it (murmur2; see codec_vectors)
SELECT partition = mq.partition_for('customer-42'::bytea, 6) AS same_as_kafka, "offset"
  FROM mq.produce('p', 'hello'::bytea, 'customer-42'::bytea);
SELECT partition, "offset" FROM mq.produce('p', 'again', 'customer-42');
SELECT mq.partition_for('customer-42', 6);

-- explicit partition wins; out of range fails
SELECT partition, "offset" FROM mq.produce('p', 'x', 'customer-42', partition => 5);
SELECT pg_temp.err($q$SELECT mq.produce('p', 'x'::bytea, partition => 6)$q$);
SELECT pg_temp.err($q$SELECT mq.produce('p', 'x'::bytea, partition => -1)$q$);
SELECT pg_temp.err($q$SELECT mq.produce('nosuch', 'x'::bytea)$q$);
SELECT pg_temp.err($q$SELECT mq.produce(NULL, 'x'::bytea)$q$);
-- a read-only transaction writes nothing, as it would refuse an INSERT
BEGIN READ ONLY;
SELECT pg_temp.err($q$SELECT mq.produce('p', 'x'::bytea)$q$);
SELECT pg_temp.err($q$SELECT mq.produce_batch('p', ARRAY['x', 'y'])$q$);
COMMIT;
SET default_transaction_read_only = on;
SELECT pg_temp.err($q$SELECT mq.produce('p', 'x'::bytea)$q$);
RESET default_transaction_read_only;

-- null keys: one partition per call, the next call moves on (sticky)
CREATE TEMP TABLE sticky AS
    SELECT i, (SELECT partition FROM mq.produce('p', 'n' || i)) AS partition
      FROM generate_series(1, 12) i;
SELECT count(DISTINCT partition) AS partitions_used FROM sticky;
SELECT bool_and(s2.partition = (s1.partition + 1) % 6) AS rotates
  FROM sticky s1 JOIN sticky s2 ON s2.i = s1.i + 1;
-- a batch of null-key records stays on one partition
SELECT count(DISTINCT partition) FROM mq.produce_batch('p', ARRAY['a', 'b', 'c', 'd']);

-- overloads: text and jsonb are stored as UTF-8; null value = tombstone
SELECT mq.create_topic('o', 1);
SELECT "offset" FROM mq.produce('o', 'grüße'::text, 'ключ'::text);
SELECT "offset" FROM mq.produce('o', '{"a": [1, 2]}'::jsonb, 'j');
SELECT "offset" FROM mq.produce('o', NULL::bytea, 'gone'::bytea);
SELECT "offset" FROM mq.produce('o', ''::bytea, ''::bytea);
SELECT "offset", key, value FROM mq.fetch('o', 0, 0);
SELECT "offset", key, value FROM mq.fetch_text('o', 0, 0, 2);
SELECT "offset", value->'a' AS a FROM mq.fetch_json('o', 0, 1, 1);

-- headers: an object, or [name, value] pairs when names repeat; null values
SELECT mq.create_topic('h', 1);
SELECT "offset" FROM mq.produce('h', 'v'::bytea, headers => '{"trace": "abc", "n": "1"}');
SELECT "offset" FROM mq.produce('h', 'v'::bytea, headers => '[["tag", "a"], ["tag", "b"], ["nothing", null]]');
SELECT "offset" FROM mq.produce('h', 'v'::bytea, headers => '[]');
SELECT "offset", headers FROM mq.fetch('h', 0, 0);
SELECT pg_temp.err($q$SELECT mq.produce('h', 'v'::bytea, headers => '"x"')$q$);
SELECT pg_temp.err($q$SELECT mq.produce('h', 'v'::bytea, headers => '{"n": 1}')$q$);
SELECT pg_temp.err($q$SELECT mq.produce('h', 'v'::bytea, headers => '[["a"]]')$q$);
SELECT pg_temp.err($q$SELECT mq.produce('h', 'v'::bytea, headers => '[[1, "a"]]')$q$);
SELECT pg_temp.err($q$SELECT mq.produce('h', 'v'::bytea, headers => '{"n": {"x": "y"}}')$q$);

-- timestamps: CreateTime takes the given ts (millisecond precision) ...
SELECT mq.create_topic('t', 1);
SELECT ts FROM mq.produce('t', 'old'::bytea, ts => '2001-02-03 04:05:06.789+00');
SELECT "offset", ts FROM mq.fetch('t', 0, 0);
-- (a finite one: 22008)
SELECT pg_temp.err($q$SELECT mq.produce('t', 'x'::bytea, ts => 'infinity')$q$);
SELECT pg_temp.err($q$SELECT mq.produce('t', 'x'::text, ts => '-infinity')$q$);
-- ... or the wall clock at append, not the transaction start
BEGIN;
SELECT pg_sleep(0.05);
SELECT ts > now() + interval '40 ms' AS after_xact_start,
       ts <= clock_timestamp() AS not_in_future
  FROM mq.produce('t', 'now'::bytea);
COMMIT;
-- LogAppendTime ignores the given ts
SELECT mq.create_topic('la', 1, '{"message.timestamp.type": "LogAppendTime"}');
SELECT ts > '2020-01-01' AS append_time FROM mq.produce('la', 'x'::bytea, ts => '2001-02-03 04:05:06+00');
SELECT ts > '2020-01-01' AS append_time FROM mq.fetch('la', 0, 0);

-- max.message.bytes: 54000, and nothing of the call is written
SELECT mq.create_topic('small', 2, '{"max.message.bytes": 200}');
SELECT "offset" FROM mq.produce('small', repeat('x', 100)::bytea, partition => 0);
SELECT pg_temp.err($q$SELECT mq.produce('small', repeat('x', 200)::bytea, partition => 0)$q$);
SELECT pg_temp.err($q$SELECT mq.produce_batch('small', ARRAY['ok', repeat('y', 300), 'ok'])$q$);
SELECT pg_temp.err($q$SELECT mq.produce_batch('small', ARRAY['ok', 'ok', repeat('y', 300)], partition => 1)$q$);
SELECT partition, high_watermark FROM mq.partitions WHERE topic = 'small' ORDER BY partition;
SELECT count(*) FROM mq_data.log l JOIN mq.topic t USING (topic_id) WHERE t.name = 'small';
-- raising the limit takes effect at once
SELECT mq.alter_topic('small', '{"max.message.bytes": 1000}');
SELECT "offset" FROM mq.produce('small', repeat('x', 200)::bytea, partition => 0);

-- produce_batch: one row per record in input order; one batch per partition
SELECT mq.create_topic('b', 3);
SELECT i, partition = mq.partition_for(('k' || i)::bytea, 3) AS keyed, "offset"
  FROM mq.produce_batch('b', ARRAY['v1', 'v2', 'v3', 'v4', 'v5', 'v6'],
                        keys => ARRAY['k1', 'k2', 'k3', 'k4', 'k5', 'k6'])
       WITH ORDINALITY AS r(partition, "offset", i);
SELECT partition, record_count, last_offset - base_offset + 1 AS span
  FROM mq_data.log l JOIN mq.topic t USING (topic_id) WHERE t.name = 'b' ORDER BY partition;
SELECT p.partition, f."offset", convert_from(f.value, 'UTF8') AS value
  FROM mq.partitions p, LATERAL mq.fetch('b', p.partition, 0) f
 WHERE p.topic = 'b' ORDER BY 1, 2;
-- bytea, nulls, headers per record, explicit partition
SELECT partition, "offset" FROM mq.produce_batch('b', ARRAY['\x00ff'::bytea, NULL], keys => ARRAY[NULL, 'k'::bytea],
                                                 headers => ARRAY['{"a": "1"}'::jsonb, NULL], partition => 1);
SELECT "offset", key, value, headers FROM mq.fetch('b', 1, 2);
SELECT count(*) FROM mq.produce_batch('b', ARRAY[]::text[]);
SELECT pg_temp.err($q$SELECT mq.produce_batch('b', ARRAY['a', 'b'], keys => ARRAY['k'])$q$);
SELECT pg_temp.err($q$SELECT mq.produce_batch('b', ARRAY['a'], headers => ARRAY['{}'::jsonb, '{}'])$q$);
SELECT pg_temp.err($q$SELECT mq.produce_batch('b', NULL::text[])$q$);
SELECT pg_temp.err($q$SELECT mq.produce_batch('b', ARRAY[['a'], ['b']])$q$);
SELECT pg_temp.err($q$SELECT mq.produce_batch('nosuch', ARRAY['a'])$q$);

-- the stored batches are valid Kafka RecordBatch v2, CRC included
SELECT bool_and(EXISTS (SELECT 1 FROM mq.decode_batch(l.batch))) AS all_decode,
       bool_and(get_byte(l.batch, 16) = 2) AS magic_2
  FROM mq_data.log l;

SELECT mq.drop_topic(topic) FROM mq.topics ORDER BY topic;

-- text in a database that is not UTF-8 is stored as UTF-8: converted from
-- LATIN1; under SQL_ASCII, and the empty string everywhere, as given (the
-- conversion hands those back unconverted, and unterminated)
CREATE DATABASE mq_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
CREATE DATABASE mq_ascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
CREATE EXTENSION dblink;
CREATE FUNCTION pg_temp.in_db(d text, q text) RETURNS SETOF text LANGUAGE sql AS $$
    SELECT x FROM dblink(format('host=%s port=%s dbname=%s user=%s',
                                split_part(current_setting('unix_socket_directories'), ',', 1),
                                current_setting('port'), d, current_user), q) AS t(x text)
$$;
SELECT d, pg_temp.in_db(d, 'CREATE EXTENSION mqext; SELECT mq.create_topic(''enc'')::text'),
       pg_temp.in_db(d, $$SELECT count(*)::text FROM (VALUES ('é', ''), ('', 'abc'), ('abc', NULL)) x(v, k),
                               mq.produce('enc', v, k)$$)
  FROM unnest(ARRAY['mq_latin1', 'mq_ascii']) d;
SELECT d, pg_temp.in_db(d, $$SELECT format('%s: key %s, value %s', "offset", coalesce(encode(key, 'hex'), 'null'),
                                          encode(value, 'hex'))
                              FROM mq.fetch('enc', 0, 0)$$)
  FROM unnest(ARRAY['mq_latin1', 'mq_ascii']) d;
DROP EXTENSION dblink;
DROP DATABASE mq_latin1;
DROP DATABASE mq_ascii;
