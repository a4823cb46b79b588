-- The batch-level API: mq.produce_encoded appends a RecordBatch v2 the
-- client encoded, mq.fetch_batches returns stored batches as they are.
-- Round trips use the Kafka vectors (test/data/kafka/, as codec_vectors.sql).
CREATE EXTENSION IF NOT EXISTS mqext;
\set VERBOSITY terse
\getenv repo MQ_REPO
CREATE TEMP TABLE v AS
    SELECT x->>'name' AS name, decode(x->'expected'->>'hex', 'hex') AS b, x->'input' AS input
      FROM jsonb_array_elements(replace(pg_read_file(:'repo' || '/test/data/kafka/record_batch_v2.json'),
                                        '\u0000', '')::jsonb->'vectors') x;
CREATE TEMP TABLE gz AS
    SELECT decode(x->'expected'->>'hex', 'hex') AS b
      FROM jsonb_array_elements(replace(pg_read_file(:'repo' || '/test/data/kafka/record_batch_v2.json'),
                                        '\u0000', '')::jsonb->'compressed_vectors') x;
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- header fields: big-endian integers at byte offsets (see record_batch.h)
CREATE FUNCTION pg_temp.field(b bytea, pos int, len int) RETURNS bigint LANGUAGE sql AS $$
    SELECT ('x' || lpad(encode(substr(b, pos + 1, len), 'hex'), 16,
                        CASE WHEN get_byte(b, pos) >= 128 THEN 'f' ELSE '0' END))::bit(64)::bigint $$;
CREATE FUNCTION pg_temp.set_field(b bytea, pos int, len int, val bigint) RETURNS bytea LANGUAGE sql AS $$
    SELECT overlay(b PLACING decode(right(lpad(to_hex(val), 16, '0'), 2 * len), 'hex') FROM pos + 1 FOR len) $$;
-- CRC-32C (Castagnoli, reflected 0x82F63B78), to forge batches that are
-- well formed but break a rule other than the checksum
CREATE FUNCTION pg_temp.crc32c(b bytea) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    c bigint := 4294967295;
BEGIN
    FOR i IN 0 .. length(b) - 1 LOOP
        c := c # get_byte(b, i);
        FOR k IN 1 .. 8 LOOP
            c := CASE WHEN c & 1 = 1 THEN (c >> 1) # 2197175160 ELSE c >> 1 END;
        END LOOP;
    END LOOP;
    RETURN c # 4294967295;
END $$;
CREATE FUNCTION pg_temp.reseal(b bytea) RETURNS bytea LANGUAGE sql AS $$
    SELECT pg_temp.set_field(b, 17, 4, pg_temp.crc32c(substr(b, 22))) $$;
-- the SQL CRC agrees with every vector's
SELECT count(*) AS vectors, count(*) FILTER (WHERE pg_temp.reseal(b) = b) AS crc_agrees FROM v;
-- everything but baseOffset (bytes 0-7) and partitionLeaderEpoch (12-15)
CREATE FUNCTION pg_temp.body(b bytea) RETURNS bytea LANGUAGE sql AS $$
    SELECT substr(b, 9, 4) || substr(b, 17) $$;
-- how mq.fetch shows a header value (as in codec_vectors.sql)
CREATE FUNCTION pg_temp.header_value(v bytea) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    IF v IS NULL THEN
        RETURN NULL;
    END IF;
    IF position('\x00'::bytea IN v) = 0 THEN
        RETURN to_jsonb(convert_from(v, 'UTF8'));
    END IF;
    RETURN jsonb_build_object('base64', replace(encode(v, 'base64'), E'\n', ''));
EXCEPTION WHEN character_not_in_repertoire OR untranslatable_character THEN
    RETURN jsonb_build_object('base64', replace(encode(v, 'base64'), E'\n', ''));
END $$;

SELECT mq.create_topic('rt', 2);
SELECT mq.stats_reset();

-- every plain vector round-trips: offsets assigned in call order, the
-- stored batch byte-identical but for its base offset and leader epoch
CREATE TEMP TABLE produced (name text, base_offset bigint, last_offset bigint);
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM v
              WHERE (input->>'attributes')::int = 0 AND (input->>'recordsCount')::int > 0
                AND (input->>'producerId')::bigint = -1
              ORDER BY name LOOP
        INSERT INTO produced SELECT r.name, p.* FROM mq.produce_encoded('rt', 1, r.b) p;
    END LOOP;
END $$;
SELECT p.name, p.base_offset, p.last_offset,
       p.last_offset - p.base_offset + 1 = (v.input->>'recordsCount')::int AS count_ok
  FROM produced p JOIN v USING (name) ORDER BY p.base_offset;
SELECT p.name, f.base_offset = p.base_offset AS base_ok, f.last_offset = p.last_offset AS last_ok,
       f.record_count, pg_temp.field(f.batch, 0, 8) AS stored_base_offset,
       pg_temp.field(f.batch, 12, 4) AS leader_epoch,
       pg_temp.body(f.batch) = pg_temp.body(v.b) AS same_bytes
  FROM produced p JOIN v USING (name), LATERAL mq.fetch_batches('rt', 1, p.base_offset, 0) f
 ORDER BY p.base_offset;
-- all of them in one call, in offset order, each a valid batch
SELECT base_offset, last_offset, record_count, length(batch),
       (SELECT count(*) FROM mq.decode_batch(batch)) AS decoded
  FROM mq.fetch_batches('rt', 1, 0);
-- mq.fetch decodes their records: offsets, effective timestamps, keys,
-- values and headers as the vectors give them
CREATE TEMP TABLE expected_records AS
    SELECT (r->>'offset')::bigint - (v.input->>'baseOffset')::bigint + p.base_offset AS "offset",
           to_timestamp((r->>'effectiveTimestamp')::numeric / 1000) AS ts,
           decode(r->'key'->>'hex', 'hex') AS key,
           decode(r->'value'->>'hex', 'hex') AS value,
           (SELECT jsonb_agg(jsonb_build_array(convert_from(decode(h->'key'->>'hex', 'hex'), 'UTF8'),
                                               pg_temp.header_value(decode(h->'value'->>'hex', 'hex')))
                             ORDER BY o)
              FROM jsonb_array_elements(r->'headers') WITH ORDINALITY AS hh(h, o)) AS headers
      FROM produced p JOIN v USING (name), jsonb_array_elements(v.input->'records') r;
CREATE TEMP TABLE fetched_records AS
    SELECT "offset", ts, key, value, headers FROM mq.fetch('rt', 1, 0, 1000);
SELECT (SELECT count(*) FROM expected_records) AS expected,
       (SELECT count(*) FROM fetched_records) AS fetched,
       (SELECT count(*) FROM (SELECT * FROM expected_records EXCEPT SELECT * FROM fetched_records) x) AS missing,
       (SELECT count(*) FROM (SELECT * FROM fetched_records EXCEPT SELECT * FROM expected_records) x) AS extra;
-- statistics: records and bytes appended and one produce call per batch,
-- records fetched (those at or after from_offset) and one call per fetch
SELECT partition, records_appended, bytes_appended = (SELECT sum(length(b)) FROM v JOIN produced USING (name)) AS bytes_ok,
       produce_calls, records_fetched, fetch_calls
  FROM mq.stats WHERE topic = 'rt' AND partition = 1;

-- mixed with mq.produce and mq.produce_batch: one offset sequence
SELECT "offset" FROM mq.produce('rt', 'row-level'::text, partition => 0);
SELECT * FROM mq.produce_encoded('rt', 0, (SELECT b FROM v WHERE name = 'multi_records_increasing_timestamps'));
SELECT "offset" FROM mq.produce_batch('rt', ARRAY['a', 'b'], partition => 0);
SELECT * FROM mq.produce_encoded('rt', 0, (SELECT b FROM v WHERE name = 'null_key'));
SELECT base_offset, last_offset, record_count FROM mq.fetch_batches('rt', 0, 0);
SELECT "offset", convert_from(value, 'UTF8') AS value FROM mq.fetch('rt', 0, 0);
-- a stored batch of mq.produce_batch is a valid client batch too
SELECT * FROM mq.produce_encoded('rt', 0, (SELECT batch FROM mq.fetch_batches('rt', 0, 5, 0)));
SELECT "offset", convert_from(value, 'UTF8') AS value FROM mq.fetch('rt', 0, 9);

-- fetch_batches: from_offset inside a batch returns the whole batch
SELECT base_offset, last_offset, record_count FROM mq.fetch_batches('rt', 0, 3, 0);
SELECT base_offset, last_offset, record_count FROM mq.fetch_batches('rt', 0, 4);
-- past the end, and at the end: nothing
SELECT count(*) FROM mq.fetch_batches('rt', 0, 11);
SELECT count(*) FROM mq.fetch_batches('rt', 0, 1000000);
-- max_bytes: the first batch always, then while the total fits
SELECT length(batch) FROM mq.fetch_batches('rt', 0, 0);
SELECT count(*) FROM mq.fetch_batches('rt', 0, 0, 0);
SELECT count(*) FROM mq.fetch_batches('rt', 0, 0, 1);
SELECT count(*) FROM mq.fetch_batches('rt', 0, 0, 77 + 122 - 1);
SELECT count(*) FROM mq.fetch_batches('rt', 0, 0, 77 + 122);
SELECT count(*) FROM mq.fetch_batches('rt', 0, 0, 77 + 122 + 77 + 85 + 77);
SELECT pg_temp.err($q$SELECT * FROM mq.fetch_batches('rt', 0, 0, -1)$q$);
-- below the log start: from the batch that holds the log start, as mq.fetch
-- starts there (the client skips records below from_offset and the log start)
SELECT mq.delete_records('rt', 0, 3);
SELECT base_offset, last_offset FROM mq.fetch_batches('rt', 0, 0, 0);
SELECT "offset" FROM mq.fetch('rt', 0, 0, 2);
-- unknown topic or partition, as mq.fetch
SELECT pg_temp.err($q$SELECT * FROM mq.fetch_batches('rt', 2, 0)$q$);
SELECT pg_temp.err($q$SELECT * FROM mq.fetch_batches('rt', -1, 0)$q$);
SELECT pg_temp.err($q$SELECT * FROM mq.fetch_batches('nope', 0, 0)$q$);
SELECT count(*) FROM mq.fetch_batches('rt', NULL, 0);

-- LogAppendTime: the broker sets the timestamp type and maxTimestamp to
-- the append time and recomputes the CRC; records read the append time
SELECT mq.create_topic('lat', 1, '{"message.timestamp.type": "LogAppendTime"}');
CREATE TEMP TABLE t0 AS SELECT clock_timestamp() AS t;
SELECT * FROM mq.produce_encoded('lat', 0, (SELECT b FROM v WHERE name = 'multi_records_increasing_timestamps'));
CREATE TEMP TABLE t1 AS SELECT clock_timestamp() AS t;
SELECT pg_temp.field(f.batch, 21, 2) AS attributes,
       to_timestamp(pg_temp.field(f.batch, 35, 8) / 1000.0) BETWEEN date_trunc('milliseconds', (SELECT t FROM t0)) AND (SELECT t FROM t1) AS max_ts_is_append_time,
       pg_temp.field(f.batch, 27, 8) AS base_timestamp,
       pg_temp.reseal(f.batch) = f.batch AS crc_valid,
       pg_temp.field(f.batch, 17, 4) <> pg_temp.field(v.b, 17, 4) AS crc_changed,
       substr(f.batch, 9, 4) || substr(f.batch, 17, 1) || substr(f.batch, 24, 12) || substr(f.batch, 44)
         = substr(v.b, 9, 4) || substr(v.b, 17, 1) || substr(v.b, 24, 12) || substr(v.b, 44) AS rest_identical
  FROM mq.fetch_batches('lat', 0, 0) f, v WHERE v.name = 'multi_records_increasing_timestamps';
SELECT "offset", ts = (SELECT to_timestamp(pg_temp.field(batch, 35, 8) / 1000.0) FROM mq.fetch_batches('lat', 0, 0)) AS append_time,
       convert_from(value, 'UTF8') AS value
  FROM mq.fetch('lat', 0, 0);
-- CreateTime keeps the client's timestamps; a LogAppendTime mark from the
-- client is cleared and maxTimestamp set to the largest record timestamp
SELECT * FROM mq.produce_encoded('rt', 0, (SELECT b FROM v WHERE name = 'log_append_time'));
SELECT pg_temp.field(f.batch, 21, 2) AS attributes, pg_temp.field(v.b, 35, 8) AS client_max_ts,
       pg_temp.field(f.batch, 35, 8) AS stored_max_ts, pg_temp.reseal(f.batch) = f.batch AS crc_valid
  FROM mq.fetch_batches('rt', 0, 10, 0) f, v WHERE v.name = 'log_append_time';
SELECT "offset", extract(epoch FROM ts) * 1000 AS ts_ms FROM mq.fetch('rt', 0, 10);

-- bad input is refused with its SQLSTATE and writes nothing
CREATE TEMP TABLE one AS SELECT b FROM v WHERE name = 'headers_multiple_and_duplicate_keys';
CREATE TEMP TABLE before AS SELECT mq.latest_offset('rt', 0) AS lso,
    (SELECT count(*) FROM mq.fetch_batches('rt', 0, 0)) AS batches;
-- corrupt CRC, truncated, trailing byte, wrong magic
SELECT pg_temp.err(format('SELECT mq.produce_encoded(%L, 0, %L::bytea)', 'rt', set_byte(b, 40, get_byte(b, 40) # 1))) FROM one;
SELECT pg_temp.err(format('SELECT mq.produce_encoded(%L, 0, %L::bytea)', 'rt', substr(b, 1, length(b) - 1))) FROM one;
SELECT pg_temp.err(format('SELECT mq.produce_encoded(%L, 0, %L::bytea)', 'rt', b || '\x00'::bytea)) FROM one;
SELECT pg_temp.err(format('SELECT mq.produce_encoded(%L, 0, %L::bytea)', 'rt',
                          pg_temp.reseal(pg_temp.set_field(b || '\x00'::bytea, 8, 4, length(b) + 1 - 12)))) FROM one;
SELECT pg_temp.err(format('SELECT mq.produce_encoded(%L, 0, %L::bytea)', 'rt', set_byte(b, 16, 1))) FROM one;
SELECT count(*) AS truncations,
       count(*) FILTER (WHERE pg_temp.err(format('SELECT mq.produce_encoded(%L, 0, %L::bytea)', 'rt', substr(b, 1, n))) LIKE '22P03: %') AS refused
  FROM one, generate_series(0, length(b) - 1) n;
-- a batch length that agrees with a shortened batch: the records then do not
SELECT pg_temp.err(format('SELECT mq.produce_encoded(%L, 0, %L::bytea)', 'rt',
                          pg_temp.reseal(pg_temp.set_field(substr(b, 1, length(b) - 1), 8, 4, length(b) - 13)))) FROM one;
-- a record count that disagrees with the records
SELECT pg_temp.err(format('SELECT mq.produce_encoded(%L, 0, %L::bytea)', 'rt',
                          pg_temp.reseal(pg_temp.set_field(b, 57, 4, 2)))) FROM one;
-- compressed, control, transactional: not supported
SELECT pg_temp.err(format('SELECT mq.produce_encoded(%L, 0, %L::bytea)', 'rt', b)) FROM gz;
SELECT pg_temp.err(format('SELECT mq.produce_encoded(%L, 0, %L::bytea)', 'rt', b)) FROM v WHERE name = 'control_batch_commit_marker';
SELECT pg_temp.err(format('SELECT mq.produce_encoded(%L, 0, %L::bytea)', 'rt', b)) FROM v WHERE name = 'transactional';
-- no records; lastOffsetDelta or an offsetDelta that disagrees with the
-- records; the delete-horizon bit; a timestamp out of range
SELECT pg_temp.err(format('SELECT mq.produce_encoded(%L, 0, %L::bytea)', 'rt', b)) FROM v WHERE name = 'empty_batch_after_compaction';
SELECT pg_temp.err(format('SELECT mq.produce_encoded(%L, 0, %L::bytea)', 'rt',
                          pg_temp.reseal(pg_temp.set_field(b, 23, 4, 1)))) FROM one;
SELECT get_byte(b, 61) AS record_length, get_byte(b, 63) AS timestamp_delta, get_byte(b, 64) AS offset_delta
  FROM v WHERE name = 'single_record_key_value';
SELECT pg_temp.err(format('SELECT mq.produce_encoded(%L, 0, %L::bytea)', 'rt',
                          pg_temp.reseal(set_byte(b, 64, 2)))) FROM v WHERE name = 'single_record_key_value';
SELECT pg_temp.err(format('SELECT mq.produce_encoded(%L, 0, %L::bytea)', 'rt',
                          pg_temp.reseal(pg_temp.set_field(b, 21, 2, 64)))) FROM one;
SELECT pg_temp.err(format('SELECT mq.produce_encoded(%L, 0, %L::bytea)', 'rt',
                          pg_temp.reseal(pg_temp.set_field(b, 27, 8, 9000000000000000000)))) FROM one;
-- two faults at once: a batch that does not decode is refused as such
-- (the control bit and a record count the records disagree with; an
-- offsetDelta that is wrong and a record count that is too)
SELECT pg_temp.err(format('SELECT mq.produce_encoded(%L, 0, %L::bytea)', 'rt',
                          pg_temp.reseal(pg_temp.set_field(pg_temp.set_field(b, 21, 2, 32), 57, 4, 2)))) FROM one;
SELECT pg_temp.err(format('SELECT mq.produce_encoded(%L, 0, %L::bytea)', 'rt',
                          pg_temp.reseal(pg_temp.set_field(set_byte(b, 64, 2), 57, 4, 2))))
  FROM v WHERE name = 'single_record_key_value';
-- larger than max.message.bytes (the whole batch counts)
SELECT mq.create_topic('small', 1, '{"max.message.bytes": 170}');
SELECT pg_temp.err(format('SELECT mq.produce_encoded(%L, 0, %L::bytea)', 'small', b)) FROM v WHERE name = 'large_key_and_value';
SELECT length(b) FROM one;
SELECT * FROM mq.produce_encoded('small', 0, (SELECT b FROM one));
SELECT mq.alter_topic('small', '{"max.message.bytes": 169}');
SELECT pg_temp.err(format('SELECT mq.produce_encoded(%L, 0, %L::bytea)', 'small', b)) FROM one;
SELECT mq.latest_offset('small', 0);
-- unknown topic or partition, null or negative arguments, as mq.produce
SELECT pg_temp.err(format('SELECT mq.produce_encoded(%L, 2, %L::bytea)', 'rt', b)) FROM one;
SELECT pg_temp.err(format('SELECT mq.produce_encoded(%L, -1, %L::bytea)', 'rt', b)) FROM one;
SELECT pg_temp.err(format('SELECT mq.produce_encoded(%L, NULL, %L::bytea)', 'rt', b)) FROM one;
SELECT pg_temp.err(format('SELECT mq.produce_encoded(%L, 0, %L::bytea)', 'nope', b)) FROM one;
SELECT pg_temp.err(format('SELECT mq.produce_encoded(NULL, 0, %L::bytea)', b)) FROM one;
SELECT pg_temp.err($q$SELECT mq.produce_encoded('rt', 0, NULL)$q$);
SELECT pg_temp.err($q$SELECT mq.produce_encoded('rt', 0, '\x')$q$);
-- nothing was written by any of them
SELECT mq.latest_offset('rt', 0) = lso AS same_lso,
       (SELECT count(*) FROM mq.fetch_batches('rt', 0, 0)) = batches AS same_batches
  FROM before;

-- idempotent producer: producer id, epoch and base sequence come from the
-- batch header and are checked as mq.produce checks its arguments
SELECT mq.create_topic('idem', 1);
CREATE TEMP TABLE pr AS SELECT * FROM mq.init_producer('batches-tx');
CREATE FUNCTION pg_temp.idem(b bytea, pid bigint, epoch int, seq int) RETURNS bytea LANGUAGE sql AS $$
    SELECT pg_temp.reseal(pg_temp.set_field(pg_temp.set_field(pg_temp.set_field(b, 43, 8, pid), 51, 2, epoch), 53, 4, seq)) $$;
CREATE TEMP TABLE ib AS
    SELECT pg_temp.idem(v.b, pr.producer_id, pr.epoch, 0) AS b0,
           pg_temp.idem(v.b, pr.producer_id, pr.epoch, 4) AS b4,
           pg_temp.idem(v.b, pr.producer_id, pr.epoch, 9) AS b9
      FROM v, pr WHERE v.name = 'multi_records_increasing_timestamps';
SELECT * FROM mq.produce_encoded('idem', 0, (SELECT b0 FROM ib));
-- the retry: its original offsets, nothing appended
SELECT * FROM mq.produce_encoded('idem', 0, (SELECT b0 FROM ib));
SELECT mq.latest_offset('idem', 0);
SELECT * FROM mq.produce_encoded('idem', 0, (SELECT b4 FROM ib));
-- mixed with mq.produce's named arguments: one sequence
SELECT "offset" FROM mq.produce('idem', 'named'::text, partition => 0,
                                producer_id => (SELECT producer_id FROM pr), epoch => (SELECT epoch FROM pr), sequence => 8);
SELECT * FROM mq.produce_encoded('idem', 0, (SELECT b4 FROM ib));
SELECT * FROM mq.produce_encoded('idem', 0, (SELECT b0 FROM ib));
SELECT mq.latest_offset('idem', 0);
-- the stored batch keeps the producer fields
SELECT base_offset, pg_temp.field(batch, 43, 8) = (SELECT producer_id FROM pr) AS pid_ok,
       pg_temp.field(batch, 51, 2) AS epoch, pg_temp.field(batch, 53, 4) AS base_sequence
  FROM mq.fetch_batches('idem', 0, 0);
-- a gap, an unknown producer, no producer id but a sequence, a fenced epoch
-- (producer ids depend on the tests run before: shown as N)
SELECT regexp_replace(pg_temp.err(format('SELECT mq.produce_encoded(%L, 0, %L::bytea)', 'idem', pg_temp.idem(b, producer_id, epoch, 20))),
                      'producer \d+', 'producer N')
  FROM v, pr WHERE v.name = 'multi_records_increasing_timestamps';
SELECT pg_temp.err(format('SELECT mq.produce_encoded(%L, 0, %L::bytea)', 'idem', pg_temp.idem(b, 999999, 0, 0)))
  FROM v WHERE v.name = 'multi_records_increasing_timestamps';
SELECT pg_temp.err(format('SELECT mq.produce_encoded(%L, 0, %L::bytea)', 'idem', pg_temp.idem(b, -1, -1, 3)))
  FROM v WHERE v.name = 'multi_records_increasing_timestamps';
SELECT pg_temp.err(format('SELECT mq.produce_encoded(%L, 0, %L::bytea)', 'idem', pg_temp.idem(b, -5, -1, -1)))
  FROM v WHERE v.name = 'multi_records_increasing_timestamps';
SELECT epoch FROM mq.init_producer('batches-tx');
SELECT regexp_replace(pg_temp.err(format('SELECT mq.produce_encoded(%L, 0, %L::bytea)', 'idem', b9)),
                      'producer \d+', 'producer N') FROM ib;
SELECT mq.latest_offset('idem', 0);

-- part of the caller's transaction: invisible until commit, gone on
-- rollback, and PREPARE TRANSACTION is refused as after mq.produce
BEGIN;
SELECT * FROM mq.produce_encoded('idem', 0, (SELECT b FROM one));
SELECT count(*) FROM mq.fetch_batches('idem', 0, 0);
ROLLBACK;
SELECT count(*) FROM mq.fetch_batches('idem', 0, 0);
BEGIN;
SELECT * FROM mq.produce_encoded('idem', 0, (SELECT b FROM one));
PREPARE TRANSACTION 'batches';
SELECT * FROM mq.produce_encoded('idem', 0, (SELECT b FROM one));
SELECT base_offset, last_offset FROM mq.fetch_batches('idem', 0, 9);
-- a compacted topic refuses a batch holding a record without a key
SELECT mq.create_topic('encoded.compact', 1, '{"cleanup.policy": "compact"}');
SELECT count(*) AS keyless FROM v, mq.decode_batch(v.b) d WHERE v.name = 'null_key' AND d.key IS NULL;
SELECT pg_temp.err(format('SELECT mq.produce_encoded(%L, 0, %L::bytea)', 'encoded.compact',
                          (SELECT b FROM v WHERE name = 'null_key')));
-- (with keys, it takes it)
SELECT pg_temp.err(format('SELECT mq.produce_encoded(%L, 0, %L::bytea)', 'encoded.compact', (SELECT b FROM one)));
SELECT mq.drop_topic('encoded.compact');
-- nor does a read-only transaction write
BEGIN READ ONLY;
SELECT pg_temp.err(format('SELECT mq.produce_encoded(%L, 0, %L::bytea)', 'idem', (SELECT b FROM one)));
COMMIT;

-- fetch_batches hands on the stored TOAST pointers, not the bytes: a cursor
-- held past its transaction still has the bytes once the topic is gone
SELECT mq.create_topic('held', 1);
SELECT count(*) FROM mq.produce_batch('held', ARRAY(SELECT repeat(md5(i::text), 4) FROM generate_series(1, 100) i));
CREATE TEMP TABLE held_before AS SELECT md5(batch) AS m, length(batch) AS len FROM mq.fetch_batches('held', 0, 0);
SELECT len > 8192 AS stored_out_of_line FROM held_before;
BEGIN;
DECLARE held CURSOR WITH HOLD FOR SELECT batch FROM mq.fetch_batches('held', 0, 0);
COMMIT;
SELECT mq.drop_topic('held');
DO $$
DECLARE
    c refcursor := 'held';
    b bytea;
BEGIN
    FETCH c INTO b;
    RAISE NOTICE 'same bytes after the drop: %', md5(b) = (SELECT m FROM held_before);
END
$$;
CLOSE held;
-- the transaction that fetched them cannot drop their segment while it
-- may still read them (a cursor still open): refused, as PostgreSQL
-- refuses to drop a table a cursor of the session reads
SELECT mq.create_topic('held2', 1);
SELECT count(*) FROM mq.produce_batch('held2', ARRAY(SELECT repeat(md5(i::text), 4) FROM generate_series(1, 100) i));
SELECT count(*) FROM mq.produce_batch('held2', ARRAY(SELECT repeat(md5(i::text), 4) FROM generate_series(101, 200) i));
BEGIN;
DECLARE held2 CURSOR FOR SELECT base_offset, batch FROM mq.fetch_batches('held2', 0, 0);
MOVE held2;
SAVEPOINT s;
SELECT regexp_replace(pg_temp.err($q$SELECT mq.drop_topic('held2')$q$), 'seg_\d+', 'seg_N');
-- nor truncate it, or the topic's log above it (new, empty files)
SELECT regexp_replace(pg_temp.err(format('TRUNCATE %s', s.relation)), 'seg_\d+', 'seg_N')
  FROM mq.segments s WHERE s.topic = 'held2';
SELECT regexp_replace(pg_temp.err(format('TRUNCATE mq_data.%I', 'topic_' || t.topic_id)), 'seg_\d+', 'seg_N')
  FROM mq.topic t WHERE t.name = 'held2';
ROLLBACK TO SAVEPOINT s;
DO $$
DECLARE
    c refcursor := 'held2';
    o bigint;
    b bytea;
BEGIN
    FETCH c INTO o, b;
    RAISE NOTICE 'the cursor reads on: base offset %, stored out of line: %', o, length(b) > 8192;
END
$$;
COMMIT;
-- the next transaction can
SELECT mq.drop_topic('held2');

-- privileges: like their row-level siblings, not open to PUBLIC
SELECT p.oid::regprocedure, has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute
  FROM pg_proc p WHERE p.proname IN ('produce_encoded', 'fetch_batches') ORDER BY 1;
SELECT encode(b, 'hex') AS one_hex FROM one \gset
CREATE ROLE regress_mq_batches_nobody;
CREATE ROLE regress_mq_batches_consumer;
GRANT EXECUTE ON FUNCTION mq.fetch_batches(text, integer, bigint, integer) TO regress_mq_batches_consumer;
SET ROLE regress_mq_batches_nobody;
SELECT pg_temp.err(format('SELECT mq.produce_encoded(%L, 0, %L::bytea)', 'rt', decode(:'one_hex', 'hex')));
SELECT pg_temp.err($q$SELECT * FROM mq.fetch_batches('rt', 0, 0)$q$);
RESET ROLE;
SET ROLE regress_mq_batches_consumer;
SELECT count(*) FROM mq.fetch_batches('rt', 0, 0);
SELECT pg_temp.err(format('SELECT mq.produce_encoded(%L, 0, %L::bytea)', 'rt', decode(:'one_hex', 'hex')));
RESET ROLE;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA mq FROM regress_mq_batches_consumer;
DROP ROLE regress_mq_batches_nobody, regress_mq_batches_consumer;

SELECT mq.drop_topic('rt');
SELECT mq.drop_topic('lat');
SELECT mq.drop_topic('small');
SELECT mq.drop_topic('idem');
