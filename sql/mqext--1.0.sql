/* sql/mqext--1.0.sql: the partitioned log (topics, produce, fetch) */

\echo Use "CREATE EXTENSION mqext" to load this file. \quit

/*
 * Schema mq holds the catalog and the API; schema mq_data holds the logs.
 * Nothing in mq_data is granted to anybody: records are reached only
 * through the functions below, whose EXECUTE is revoked from PUBLIC.
 */
CREATE SCHEMA mq_data;
REVOKE ALL ON SCHEMA mq_data FROM PUBLIC;
GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;

-------------------------------------------------------------------------------
-- Catalog
-------------------------------------------------------------------------------

CREATE TABLE mq.topic (
    topic_id    integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    partitions  integer NOT NULL CHECK (partitions BETWEEN 1 AND 10000),
    config      jsonb NOT NULL DEFAULT '{}',  -- only the keys set explicitly
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE mq.topic IS 'mqext catalog: one row per topic; config holds only explicitly set keys';

-- Per partition durable state.  log_start_offset only moves forward.
CREATE TABLE mq.partition (
    topic_id          integer NOT NULL REFERENCES mq.topic ON DELETE CASCADE,
    partition         integer NOT NULL,
    log_start_offset  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (topic_id, partition)
);
COMMENT ON TABLE mq.partition IS 'mqext catalog: one row per partition of a topic';

CREATE SEQUENCE mq.segment_id_seq;
CREATE TABLE mq.segment (
    segment_id  bigint PRIMARY KEY DEFAULT pg_catalog.nextval('mq.segment_id_seq'),
    topic_id    integer NOT NULL REFERENCES mq.topic ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX ON mq.segment (topic_id, segment_id);
COMMENT ON TABLE mq.segment IS 'mqext catalog: segments (child tables of mq_data.log) of each topic, oldest first';

-- Idempotent producers: a producer id and its epoch.
CREATE TABLE mq.producer (
    producer_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transactional_id  text UNIQUE,
    epoch             integer NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE mq.producer IS 'mqext catalog: idempotent producer ids and epochs';

-- Per (producer, partition) sequence state; the last five batches are kept
-- so that a retried batch is answered with its original offsets (Kafka keeps
-- five as well).
CREATE TABLE mq.producer_state (
    producer_id    bigint NOT NULL REFERENCES mq.producer ON DELETE CASCADE,
    topic_id       integer NOT NULL REFERENCES mq.topic ON DELETE CASCADE,
    partition      integer NOT NULL,
    epoch          integer NOT NULL,
    last_sequence  integer NOT NULL,
    batch_first_seq    integer[] NOT NULL,
    batch_last_seq     integer[] NOT NULL,
    batch_base_offset  bigint[] NOT NULL,
    batch_ts           timestamptz[] NOT NULL,
    PRIMARY KEY (producer_id, topic_id, partition)
);
COMMENT ON TABLE mq.producer_state IS 'mqext catalog: last sequences of idempotent producers per partition';

-------------------------------------------------------------------------------
-- The log: one partitioned root, a child per topic, a leaf per segment.
-- Producers and readers go straight to the leaves, so creating or dropping
-- a segment never waits for them (see DESIGN.md, Storage).
-------------------------------------------------------------------------------

CREATE TABLE mq_data.log (
    topic_id        integer NOT NULL,
    segment_id      bigint NOT NULL,
    partition       integer NOT NULL,
    base_offset     bigint NOT NULL,
    last_offset     bigint NOT NULL,
    base_ts         timestamptz NOT NULL,
    max_ts          timestamptz NOT NULL,
    record_count    integer NOT NULL,
    producer_id     bigint NOT NULL,
    producer_epoch  smallint NOT NULL,
    base_sequence   integer NOT NULL,
    batch           bytea NOT NULL
) PARTITION BY LIST (topic_id);
-- Batches are already compact binary; compressing them costs CPU for nothing.
ALTER TABLE mq_data.log ALTER COLUMN batch SET STORAGE EXTERNAL;
CREATE INDEX log_partition_offset ON mq_data.log (partition, last_offset);
COMMENT ON TABLE mq_data.log IS 'mqext: all record batches of all topics (Kafka RecordBatch v2 in column batch)';

-- The catalog is read by backends that cache it: tell them when it changes.
CREATE FUNCTION mq._invalidate_cache() RETURNS trigger
    LANGUAGE c
    SET search_path = pg_catalog, pg_temp
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_invalidate_cache';
CREATE TRIGGER topic_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mq.topic
    FOR EACH STATEMENT EXECUTE FUNCTION mq._invalidate_cache();
CREATE TRIGGER segment_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mq.segment
    FOR EACH STATEMENT EXECUTE FUNCTION mq._invalidate_cache();
CREATE TRIGGER partition_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mq.partition
    FOR EACH STATEMENT EXECUTE FUNCTION mq._invalidate_cache();

-------------------------------------------------------------------------------
-- Topic configuration
-------------------------------------------------------------------------------

CREATE FUNCTION mq.default_config() RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN '{"retention.ms": 604800000, "retention.bytes": -1,
             "segment.ms": 604800000, "segment.bytes": 1073741824,
             "max.message.bytes": 1048588,
             "message.timestamp.type": "CreateTime",
             "cleanup.policy": "delete", "notify": false}'::jsonb;
COMMENT ON FUNCTION mq.default_config() IS 'the default topic configuration (Kafka''s names and defaults)';

/*
 * Merge changes into a stored config, validating every key.  A JSON null
 * removes the key (back to its default).  Numbers may be given as JSON
 * numbers or numeric strings, as Kafka configs are strings.
 */
CREATE FUNCTION mq._merge_config(stored jsonb, changes jsonb) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k text;
    v jsonb;
    n numeric;
    s text;
    result jsonb := stored;
    minimum numeric;
BEGIN
    IF changes IS NULL OR jsonb_typeof(changes) <> 'object' THEN
        RAISE EXCEPTION 'topic config must be a JSON object'
            USING ERRCODE = '22023';
    END IF;
    FOR k, v IN SELECT key, value FROM jsonb_each(changes) LOOP
        IF jsonb_typeof(v) = 'null' THEN
            IF NOT mq.default_config() ? k THEN
                RAISE EXCEPTION 'unknown topic config key "%"', k
                    USING ERRCODE = '22023',
                          HINT = 'Valid keys are: ' || (SELECT string_agg(x, ', ' ORDER BY x) FROM jsonb_object_keys(mq.default_config()) x) || '.';
            END IF;
            result := result - k;
            CONTINUE;
        END IF;
        CASE k
        WHEN 'retention.ms', 'retention.bytes', 'segment.ms', 'segment.bytes', 'max.message.bytes' THEN
            s := v #>> '{}';
            IF jsonb_typeof(v) NOT IN ('number', 'string') OR s !~ '^-?[0-9]+$' THEN
                RAISE EXCEPTION 'invalid value for topic config key "%": %', k, v
                    USING ERRCODE = '22023', DETAIL = 'The value must be an integer.';
            END IF;
            n := s::numeric;
            minimum := CASE k WHEN 'retention.ms' THEN -1 WHEN 'retention.bytes' THEN -1
                              WHEN 'segment.ms' THEN 1 WHEN 'segment.bytes' THEN 14
                              ELSE 0 END;
            IF n < minimum OR n > 9223372036854775807
               OR (k = 'max.message.bytes' AND n > 1073741823) THEN
                RAISE EXCEPTION 'invalid value for topic config key "%": %', k, v
                    USING ERRCODE = '22023',
                          DETAIL = format('The value must be at least %s%s.', minimum,
                                          CASE WHEN k = 'max.message.bytes' THEN ' and at most 1073741823' ELSE '' END);
            END IF;
            result := jsonb_set(result, ARRAY[k], to_jsonb(n::bigint));
        WHEN 'message.timestamp.type' THEN
            IF jsonb_typeof(v) <> 'string' OR v #>> '{}' NOT IN ('CreateTime', 'LogAppendTime') THEN
                RAISE EXCEPTION 'invalid value for topic config key "%": %', k, v
                    USING ERRCODE = '22023', DETAIL = 'The value must be "CreateTime" or "LogAppendTime".';
            END IF;
            result := jsonb_set(result, ARRAY[k], v);
        WHEN 'cleanup.policy' THEN
            IF jsonb_typeof(v) <> 'string' THEN
                RAISE EXCEPTION 'invalid value for topic config key "%": %', k, v
                    USING ERRCODE = '22023';
            END IF;
            s := v #>> '{}';
            IF s IN ('compact', 'compact,delete', 'delete,compact') THEN
                RAISE EXCEPTION 'cleanup.policy "%" is not supported yet', s
                    USING ERRCODE = '0A000', HINT = 'Use "delete".';
            ELSIF s <> 'delete' THEN
                RAISE EXCEPTION 'invalid value for topic config key "%": %', k, v
                    USING ERRCODE = '22023', DETAIL = 'The value must be "delete".';
            END IF;
            result := jsonb_set(result, ARRAY[k], v);
        WHEN 'notify' THEN
            IF jsonb_typeof(v) = 'boolean' THEN
                result := jsonb_set(result, ARRAY[k], v);
            ELSIF jsonb_typeof(v) = 'string' AND lower(v #>> '{}') IN ('true', 'false') THEN
                result := jsonb_set(result, ARRAY[k], to_jsonb(lower(v #>> '{}')::boolean));
            ELSE
                RAISE EXCEPTION 'invalid value for topic config key "%": %', k, v
                    USING ERRCODE = '22023', DETAIL = 'The value must be true or false.';
            END IF;
        ELSE
            RAISE EXCEPTION 'unknown topic config key "%"', k
                USING ERRCODE = '22023',
                      HINT = 'Valid keys are: ' || (SELECT string_agg(x, ', ' ORDER BY x) FROM jsonb_object_keys(mq.default_config()) x) || '.';
        END CASE;
    END LOOP;
    RETURN result;
END
$$;

CREATE FUNCTION mq._check_topic_name(topic text) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF topic IS NULL OR topic !~ '^[a-zA-Z0-9._-]{1,249}$' OR topic IN ('.', '..') THEN
        RAISE EXCEPTION 'invalid topic name "%"', topic
            USING ERRCODE = '22023',
                  DETAIL = 'A topic name is 1 to 249 characters of [a-zA-Z0-9._-], and not "." or "..".';
    END IF;
END
$$;

CREATE FUNCTION mq._topic_id(topic text, for_update boolean DEFAULT false) RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id integer;
BEGIN
    IF for_update THEN
        SELECT t.topic_id INTO id FROM mq.topic t WHERE t.name = topic FOR UPDATE;
    ELSE
        SELECT t.topic_id INTO id FROM mq.topic t WHERE t.name = topic;
    END IF;
    IF id IS NULL THEN
        RAISE EXCEPTION 'topic "%" does not exist', topic USING ERRCODE = '42704';
    END IF;
    RETURN id;
END
$$;

/*
 * Create the next segment of a topic: a leaf of mq_data.topic_<id>.
 * Readers read segments in order, so every offset in the new segment must
 * be above every offset in the old one: the SHARE lock on the active
 * segment waits for the appends in flight there and holds new ones off
 * until this transaction commits (see MqAppenderBegin).
 */
CREATE FUNCTION mq._create_segment(p_topic_id integer) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    seg bigint;
    active bigint;
BEGIN
    SELECT max(s.segment_id) INTO active FROM mq.segment s WHERE s.topic_id = p_topic_id;
    IF active IS NOT NULL THEN
        EXECUTE format('LOCK TABLE mq_data.%I IN SHARE MODE', 'seg_' || active);
    END IF;
    INSERT INTO mq.segment (topic_id) VALUES (p_topic_id) RETURNING segment_id INTO seg;
    EXECUTE format('CREATE TABLE mq_data.%I PARTITION OF mq_data.%I FOR VALUES IN (%s)',
                   'seg_' || seg, 'topic_' || p_topic_id, seg);
    RETURN seg;
END
$$;

-------------------------------------------------------------------------------
-- Topics
-------------------------------------------------------------------------------

CREATE FUNCTION mq.create_topic(topic text, partitions integer DEFAULT 1,
                                config jsonb DEFAULT '{}', if_not_exists boolean DEFAULT false)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id integer;
    cfg jsonb;
BEGIN
    PERFORM mq._check_topic_name(topic);
    IF partitions IS NULL OR partitions < 1 OR partitions > 10000 THEN
        RAISE EXCEPTION 'invalid number of partitions: %', partitions
            USING ERRCODE = '22023', DETAIL = 'A topic has 1 to 10000 partitions.';
    END IF;
    cfg := mq._merge_config('{}', coalesce(config, '{}'));
    -- Serialize creators of the same name without failing on the unique index.
    PERFORM pg_advisory_xact_lock(hashtext('mqext.topic'), hashtext(topic));
    IF EXISTS (SELECT 1 FROM mq.topic t WHERE t.name = topic) THEN
        IF if_not_exists THEN
            RAISE NOTICE 'topic "%" already exists, skipping', topic;
            RETURN;
        END IF;
        RAISE EXCEPTION 'topic "%" already exists', topic USING ERRCODE = '42710';
    END IF;
    INSERT INTO mq.topic (name, partitions, config) VALUES (topic, partitions, cfg)
        RETURNING topic_id INTO id;
    INSERT INTO mq.partition (topic_id, partition)
        SELECT id, p FROM generate_series(0, partitions - 1) p;
    EXECUTE format('CREATE TABLE mq_data.%I PARTITION OF mq_data.log FOR VALUES IN (%s) PARTITION BY LIST (segment_id)',
                   'topic_' || id, id);
    PERFORM mq._create_segment(id);
END
$$;
COMMENT ON FUNCTION mq.create_topic(text, integer, jsonb, boolean) IS 'create a topic with the given number of partitions and config';

CREATE FUNCTION mq.drop_topic(topic text, if_exists boolean DEFAULT false) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id integer;
BEGIN
    SELECT t.topic_id INTO id FROM mq.topic t WHERE t.name = topic FOR UPDATE;
    IF id IS NULL THEN
        IF if_exists THEN
            RAISE NOTICE 'topic "%" does not exist, skipping', topic;
            RETURN;
        END IF;
        RAISE EXCEPTION 'topic "%" does not exist', topic USING ERRCODE = '42704';
    END IF;
    -- Dropping the topic's child takes an exclusive lock on every segment,
    -- so no append is in flight when the partition counters are forgotten.
    EXECUTE format('DROP TABLE mq_data.%I', 'topic_' || id);
    DELETE FROM mq.topic t WHERE t.topic_id = id;
    PERFORM mq._forget_topic(id);
END
$$;
COMMENT ON FUNCTION mq.drop_topic(text, boolean) IS 'drop a topic, its log and its catalog rows';

CREATE FUNCTION mq.alter_topic(topic text, config jsonb) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id integer := mq._topic_id(topic, true);
BEGIN
    UPDATE mq.topic t SET config = mq._merge_config(t.config, alter_topic.config)
     WHERE t.topic_id = id;
END
$$;
COMMENT ON FUNCTION mq.alter_topic(text, jsonb) IS 'set topic config keys; a JSON null resets a key to its default';

CREATE FUNCTION mq.add_partitions(topic text, total integer) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id integer := mq._topic_id(topic, true);
    cur integer;
BEGIN
    SELECT t.partitions INTO cur FROM mq.topic t WHERE t.topic_id = id;
    IF total IS NULL OR total <= cur THEN
        RAISE EXCEPTION 'topic "%" has % partitions; the new total must be larger', topic, cur
            USING ERRCODE = '22023', HINT = 'Partitions can be added, never removed.';
    END IF;
    IF total > 10000 THEN
        RAISE EXCEPTION 'invalid number of partitions: %', total
            USING ERRCODE = '22023', DETAIL = 'A topic has 1 to 10000 partitions.';
    END IF;
    UPDATE mq.topic t SET partitions = total WHERE t.topic_id = id;
    INSERT INTO mq.partition (topic_id, partition)
        SELECT id, p FROM generate_series(cur, total - 1) p;
    RAISE WARNING 'records with a key now map to different partitions of topic "%"', topic
        USING DETAIL = format('The topic went from %s to %s partitions; ordering per key holds only within records produced after this change.', cur, total);
END
$$;
COMMENT ON FUNCTION mq.add_partitions(text, integer) IS 'grow a topic to the given total number of partitions';

CREATE FUNCTION mq._forget_topic(topic_id integer) RETURNS void
    LANGUAGE c STRICT
    SET search_path = pg_catalog, pg_temp
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_forget_topic';

CREATE VIEW mq.topics AS
    SELECT t.name AS topic, t.partitions, mq.default_config() || t.config AS config, t.created_at
      FROM mq.topic t;
COMMENT ON VIEW mq.topics IS 'topics with their effective config (defaults included)';

-------------------------------------------------------------------------------
-- Produce
-------------------------------------------------------------------------------

CREATE FUNCTION mq.partition_for(key bytea, partitions integer) RETURNS integer
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_partition_for';
COMMENT ON FUNCTION mq.partition_for(bytea, integer) IS 'the partition Kafka''s Java client chooses for a key: toPositive(murmur2(key)) % partitions';

CREATE FUNCTION mq.init_producer(transactional_id text DEFAULT NULL)
    RETURNS TABLE (producer_id bigint, epoch integer)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    IF init_producer.transactional_id IS NULL THEN
        RETURN QUERY INSERT INTO mq.producer (transactional_id) VALUES (NULL)
            RETURNING mq.producer.producer_id, mq.producer.epoch;
        RETURN;
    END IF;
    RETURN QUERY
        INSERT INTO mq.producer AS p (transactional_id) VALUES (init_producer.transactional_id)
        ON CONFLICT (transactional_id) DO UPDATE SET epoch = p.epoch + 1
        RETURNING p.producer_id, p.epoch;
END
$$;
COMMENT ON FUNCTION mq.init_producer(text) IS 'get an idempotent producer id; again with the same transactional_id bumps the epoch and fences the older one';

CREATE FUNCTION mq.produce(topic text, value bytea, key bytea DEFAULT NULL,
                           headers jsonb DEFAULT NULL, partition integer DEFAULT NULL,
                           ts timestamptz DEFAULT NULL, producer_id bigint DEFAULT NULL,
                           epoch integer DEFAULT NULL, sequence integer DEFAULT NULL)
    RETURNS TABLE (partition integer, "offset" bigint, ts timestamptz)
    LANGUAGE c CALLED ON NULL INPUT VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_produce';
COMMENT ON FUNCTION mq.produce(text, bytea, bytea, jsonb, integer, timestamptz, bigint, integer, integer) IS 'append one record to a topic';

CREATE FUNCTION mq.produce(topic text, value text, key text DEFAULT NULL,
                           headers jsonb DEFAULT NULL, partition integer DEFAULT NULL,
                           ts timestamptz DEFAULT NULL, producer_id bigint DEFAULT NULL,
                           epoch integer DEFAULT NULL, sequence integer DEFAULT NULL)
    RETURNS TABLE (partition integer, "offset" bigint, ts timestamptz)
    LANGUAGE c CALLED ON NULL INPUT VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_produce_text';
COMMENT ON FUNCTION mq.produce(text, text, text, jsonb, integer, timestamptz, bigint, integer, integer) IS 'append one record with a text value and key (stored as UTF-8)';

CREATE FUNCTION mq.produce(topic text, value jsonb, key text DEFAULT NULL,
                           headers jsonb DEFAULT NULL, partition integer DEFAULT NULL,
                           ts timestamptz DEFAULT NULL, producer_id bigint DEFAULT NULL,
                           epoch integer DEFAULT NULL, sequence integer DEFAULT NULL)
    RETURNS TABLE (partition integer, "offset" bigint, ts timestamptz)
    LANGUAGE c CALLED ON NULL INPUT VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_produce_jsonb';
COMMENT ON FUNCTION mq.produce(text, jsonb, text, jsonb, integer, timestamptz, bigint, integer, integer) IS 'append one record with a JSON value (its text, as UTF-8) and a text key';

CREATE FUNCTION mq.produce_batch(topic text, "values" bytea[], keys bytea[] DEFAULT NULL,
                                 headers jsonb[] DEFAULT NULL, partition integer DEFAULT NULL,
                                 producer_id bigint DEFAULT NULL, epoch integer DEFAULT NULL,
                                 sequence integer DEFAULT NULL)
    RETURNS TABLE (partition integer, "offset" bigint)
    LANGUAGE c CALLED ON NULL INPUT VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_produce_batch';
COMMENT ON FUNCTION mq.produce_batch(text, bytea[], bytea[], jsonb[], integer, bigint, integer, integer) IS 'append many records; those of one call that go to one partition form one record batch';

CREATE FUNCTION mq.produce_batch(topic text, "values" text[], keys text[] DEFAULT NULL,
                                 headers jsonb[] DEFAULT NULL, partition integer DEFAULT NULL,
                                 producer_id bigint DEFAULT NULL, epoch integer DEFAULT NULL,
                                 sequence integer DEFAULT NULL)
    RETURNS TABLE (partition integer, "offset" bigint)
    LANGUAGE c CALLED ON NULL INPUT VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_produce_batch_text';
COMMENT ON FUNCTION mq.produce_batch(text, text[], text[], jsonb[], integer, bigint, integer, integer) IS 'append many text records (stored as UTF-8)';

-------------------------------------------------------------------------------
-- Fetch
-------------------------------------------------------------------------------

CREATE FUNCTION mq.fetch(topic text, partition integer, from_offset bigint,
                         max_records integer DEFAULT 500, max_bytes integer DEFAULT 52428800)
    RETURNS TABLE (topic text, partition integer, "offset" bigint, ts timestamptz,
                   key bytea, value bytea, headers jsonb)
    LANGUAGE c STRICT VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_fetch';
COMMENT ON FUNCTION mq.fetch(text, integer, bigint, integer, integer) IS 'records of a partition at or after from_offset and below the last stable offset, in offset order';

CREATE FUNCTION mq.fetch_text(topic text, partition integer, from_offset bigint,
                              max_records integer DEFAULT 500, max_bytes integer DEFAULT 52428800)
    RETURNS TABLE (topic text, partition integer, "offset" bigint, ts timestamptz,
                   key text, value text, headers jsonb)
    LANGUAGE sql STRICT VOLATILE
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        SELECT f.topic, f.partition, f."offset", f.ts,
               pg_catalog.convert_from(f.key, 'UTF8'), pg_catalog.convert_from(f.value, 'UTF8'), f.headers
          FROM mq.fetch(topic, partition, from_offset, max_records, max_bytes) f;
    END;
COMMENT ON FUNCTION mq.fetch_text(text, integer, bigint, integer, integer) IS 'mq.fetch with key and value decoded from UTF-8';

CREATE FUNCTION mq.fetch_json(topic text, partition integer, from_offset bigint,
                              max_records integer DEFAULT 500, max_bytes integer DEFAULT 52428800)
    RETURNS TABLE (topic text, partition integer, "offset" bigint, ts timestamptz,
                   key text, value jsonb, headers jsonb)
    LANGUAGE sql STRICT VOLATILE
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        SELECT f.topic, f.partition, f."offset", f.ts,
               pg_catalog.convert_from(f.key, 'UTF8'), pg_catalog.convert_from(f.value, 'UTF8')::pg_catalog.jsonb, f.headers
          FROM mq.fetch(topic, partition, from_offset, max_records, max_bytes) f;
    END;
COMMENT ON FUNCTION mq.fetch_json(text, integer, bigint, integer, integer) IS 'mq.fetch with the key decoded from UTF-8 and the value parsed as JSON';

CREATE FUNCTION mq.offset_for_time(topic text, partition integer, ts timestamptz) RETURNS bigint
    LANGUAGE c STRICT VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_offset_for_time';
COMMENT ON FUNCTION mq.offset_for_time(text, integer, timestamptz) IS 'first offset whose timestamp is at or after ts, below the last stable offset; NULL if none';

CREATE FUNCTION mq.earliest_offset(topic text, partition integer) RETURNS bigint
    LANGUAGE c STRICT VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_earliest_offset';
COMMENT ON FUNCTION mq.earliest_offset(text, integer) IS 'the log start offset of a partition';

CREATE FUNCTION mq.latest_offset(topic text, partition integer) RETURNS bigint
    LANGUAGE c STRICT VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_latest_offset';
COMMENT ON FUNCTION mq.latest_offset(text, integer) IS 'the last stable offset of a partition: the next offset a reader may wait for';

-- Inspection of stored batches (for operators and tests).
CREATE FUNCTION mq.decode_batch(batch bytea)
    RETURNS TABLE ("offset" bigint, ts timestamptz, key bytea, value bytea, headers jsonb)
    LANGUAGE c STRICT IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_decode_batch';
COMMENT ON FUNCTION mq.decode_batch(bytea) IS 'the records of one Kafka RecordBatch v2, after validating its CRC and structure';

-------------------------------------------------------------------------------
-- Partition view
-------------------------------------------------------------------------------

CREATE FUNCTION mq._partition_state(topic text, partition integer,
                                    OUT log_start_offset bigint, OUT last_stable_offset bigint)
    LANGUAGE c STRICT VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_partition_state';

CREATE VIEW mq.partitions AS
    SELECT t.name AS topic, p.partition,
           s.log_start_offset,
           s.last_stable_offset AS high_watermark,
           s.last_stable_offset,
           coalesce(b.size_bytes, 0) AS size_bytes,
           b.first_ts, b.last_ts
      FROM mq.topic t
      JOIN mq.partition p USING (topic_id)
      CROSS JOIN LATERAL mq._partition_state(t.name, p.partition) s
      LEFT JOIN LATERAL (
            SELECT pg_catalog.sum(pg_catalog.octet_length(l.batch))::bigint AS size_bytes,
                   pg_catalog.min(l.base_ts) AS first_ts, pg_catalog.max(l.max_ts) AS last_ts
              FROM mq_data.log l
             WHERE l.topic_id = t.topic_id AND l.partition = p.partition
               AND l.last_offset >= s.log_start_offset
               AND l.base_offset < s.last_stable_offset) b ON true;
COMMENT ON VIEW mq.partitions IS 'partitions with log start, high watermark (= last stable offset on one broker), size and time range';

-------------------------------------------------------------------------------
-- Privileges: nothing that reads or writes records is open to PUBLIC.
-------------------------------------------------------------------------------

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA mq FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mq.partition_for(bytea, integer) TO PUBLIC;
GRANT EXECUTE ON FUNCTION mq.default_config() TO PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('mq.topic', '');
SELECT pg_catalog.pg_extension_config_dump('mq.partition', '');
SELECT pg_catalog.pg_extension_config_dump('mq.segment', '');
SELECT pg_catalog.pg_extension_config_dump('mq.segment_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mq.producer', '');
SELECT pg_catalog.pg_extension_config_dump('mq.producer_state', '');
