-- The codecs against vectors made by an independent Kafka client (kafkajs),
-- through the SQL functions that use them.  test/data/kafka/README.md
-- explains the files; the C unit tests (test/unit) cover them field by field.
CREATE EXTENSION IF NOT EXISTS mqext;
\set VERBOSITY terse
\getenv repo MQ_REPO
-- The "utf8" fields spell NUL bytes as \u0000, which Postgres refuses; they
-- are not used (the "hex" fields are), so blank them out.
CREATE TEMP TABLE vec AS
    SELECT replace(pg_read_file(:'repo' || '/test/data/kafka/murmur2_partition.json'), '\u0000', '')::jsonb AS murmur2,
           replace(pg_read_file(:'repo' || '/test/data/kafka/record_batch_v2.json'), '\u0000', '')::jsonb AS batches;
-- how mq.fetch shows a header value: a string when valid UTF-8 without NUL
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

-- mq.partition_for matches Kafka's partitioner for every key and count
SELECT count(*) AS cases,
       count(*) FILTER (WHERE mq.partition_for(decode(k->'key'->>'hex', 'hex'), n.key::int) = n.value::int) AS matching
  FROM vec, jsonb_array_elements(murmur2->'keys') k, jsonb_each_text(k->'partitions') n;
SELECT count(*) FROM vec, jsonb_array_elements(murmur2->'keys') k;

-- mq.decode_batch reads every uncompressed batch vector: record count,
-- offsets, effective timestamps, keys, values and headers (in order)
CREATE TEMP TABLE expected_records AS
    SELECT v->>'name' AS name, (r->>'offset')::bigint AS "offset",
           to_timestamp((r->>'effectiveTimestamp')::numeric / 1000) AS ts,
           decode(r->'key'->>'hex', 'hex') AS key,
           decode(r->'value'->>'hex', 'hex') AS value,
           (SELECT jsonb_agg(jsonb_build_array(convert_from(decode(h->'key'->>'hex', 'hex'), 'UTF8'),
                                               pg_temp.header_value(decode(h->'value'->>'hex', 'hex')))
                             ORDER BY o)
              FROM jsonb_array_elements(r->'headers') WITH ORDINALITY AS hh(h, o)) AS headers
      FROM vec, jsonb_array_elements(batches->'vectors') v, jsonb_array_elements(v->'input'->'records') r;
CREATE TEMP TABLE decoded_records AS
    SELECT v->>'name' AS name, d.*
      FROM vec, jsonb_array_elements(batches->'vectors') v,
           LATERAL mq.decode_batch(decode(v->'expected'->>'hex', 'hex')) d;
SELECT (SELECT count(*) FROM expected_records) AS expected,
       (SELECT count(*) FROM decoded_records) AS decoded,
       (SELECT count(*) FROM (SELECT * FROM expected_records EXCEPT SELECT * FROM decoded_records) x) AS missing,
       (SELECT count(*) FROM (SELECT * FROM decoded_records EXCEPT SELECT * FROM expected_records) x) AS extra;
SELECT count(DISTINCT name) AS vectors_with_records FROM decoded_records;

-- the batches sarama published decode too
SELECT c->>'name' AS name, (SELECT count(*) FROM mq.decode_batch(decode(c->>'reference_hex', 'hex'))) AS records
  FROM vec, jsonb_array_elements(batches->'crosschecks') c ORDER BY 1;

-- corrupt input is refused, never crashes: a flipped byte inside the CRC's
-- range, every truncation, a bad magic, the compressed vector
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE TEMP TABLE one AS
    SELECT decode(v->'expected'->>'hex', 'hex') AS b
      FROM vec, jsonb_array_elements(batches->'vectors') v
     WHERE v->>'name' = 'headers_multiple_and_duplicate_keys';
SELECT pg_temp.err(format('SELECT * FROM mq.decode_batch(%L::bytea)', set_byte(b, 40, get_byte(b, 40) # 1))) FROM one;
SELECT pg_temp.err(format('SELECT * FROM mq.decode_batch(%L::bytea)', set_byte(b, 16, 1))) FROM one;
SELECT count(*) AS truncations,
       count(*) FILTER (WHERE pg_temp.err(format('SELECT * FROM mq.decode_batch(%L::bytea)', substr(b, 1, n))) LIKE 'MQ005: %') AS refused
  FROM one, generate_series(0, length(b) - 1) n;
SELECT pg_temp.err(format('SELECT * FROM mq.decode_batch(%L::bytea)', decode(c->'expected'->>'hex', 'hex')))
  FROM vec, jsonb_array_elements(batches->'compressed_vectors') c;
