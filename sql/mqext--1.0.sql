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

-- Every offset a partition ever handed out, to a transaction that committed
-- or not, lies below its ceiling.  After a restart (or a promotion) the
-- counter starts at or above it, so an offset a reader saw the last stable
-- offset pass is never handed out again.  Written in place, in the WAL,
-- by the C code only (src/log/recovery.c), never by UPDATE.
CREATE TABLE mq.offset_ceiling (
    topic_id   integer NOT NULL REFERENCES mq.topic ON DELETE CASCADE,
    partition  integer NOT NULL,
    ceiling    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (topic_id, partition)
);
COMMENT ON TABLE mq.offset_ceiling IS 'mqext catalog: per partition, an offset above every offset handed out so far; raised ahead, in place';
-- An UPDATE would make a new row version, and an in-place write racing it
-- would land on the old one and be lost.
CREATE FUNCTION mq._refuse_ceiling_update() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'mq.offset_ceiling cannot be updated'
        USING ERRCODE = '55000',
              DETAIL = 'mqext raises the ceilings itself, in place.';
END
$$;
CREATE TRIGGER offset_ceiling_no_update BEFORE UPDATE ON mq.offset_ceiling
    FOR EACH ROW EXECUTE FUNCTION mq._refuse_ceiling_update();

CREATE SEQUENCE mq.segment_id_seq;
CREATE TABLE mq.segment (
    segment_id  bigint PRIMARY KEY DEFAULT pg_catalog.nextval('mq.segment_id_seq'),
    topic_id    integer NOT NULL REFERENCES mq.topic ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    rolled_at   timestamptz,    -- when it stopped being the active one; NULL while it is
    cleaned     boolean NOT NULL DEFAULT false  -- compacted: no key twice in it and the ones before
);
CREATE INDEX ON mq.segment (topic_id, segment_id);
COMMENT ON TABLE mq.segment IS 'mqext catalog: segments (child tables of mq_data.log) of each topic, oldest first';

-- Idempotent producers: a producer id and its epoch.
CREATE TABLE mq.producer (
    producer_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transactional_id  text UNIQUE,
    epoch             integer NOT NULL DEFAULT 0,
    owner             regrole NOT NULL, -- the role that got it (init_producer); by name in a dump
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
             "cleanup.policy": "delete", "notify": false,
             "delete.retention.ms": 86400000, "min.compaction.lag.ms": 0,
             "min.cleanable.dirty.ratio": 0.5}'::jsonb;
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
        WHEN 'min.cleanable.dirty.ratio' THEN
            s := v #>> '{}';
            IF jsonb_typeof(v) NOT IN ('number', 'string') OR s !~ '^[0-9]*\.?[0-9]+$'
               OR s::numeric > 1 THEN
                RAISE EXCEPTION 'invalid value for topic config key "%": %', k, v
                    USING ERRCODE = '22023', DETAIL = 'The value must be a number from 0 to 1.';
            END IF;
            result := jsonb_set(result, ARRAY[k], to_jsonb(s::numeric));
        WHEN 'retention.ms', 'retention.bytes', 'segment.ms', 'segment.bytes', 'max.message.bytes',
             'delete.retention.ms', 'min.compaction.lag.ms' THEN
            s := v #>> '{}';
            IF jsonb_typeof(v) NOT IN ('number', 'string') OR s !~ '^-?[0-9]+$' THEN
                RAISE EXCEPTION 'invalid value for topic config key "%": %', k, v
                    USING ERRCODE = '22023', DETAIL = 'The value must be an integer.';
            END IF;
            n := s::numeric;
            minimum := CASE k WHEN 'retention.ms' THEN -1 WHEN 'retention.bytes' THEN -1
                              WHEN 'delete.retention.ms' THEN 0 WHEN 'min.compaction.lag.ms' THEN 0
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
            IF s = 'delete,compact' THEN
                s := 'compact,delete';
            END IF;
            IF s NOT IN ('delete', 'compact', 'compact,delete') THEN
                RAISE EXCEPTION 'invalid value for topic config key "%": %', k, v
                    USING ERRCODE = '22023', DETAIL = 'The value must be "delete", "compact" or "compact,delete".';
            END IF;
            result := jsonb_set(result, ARRAY[k], to_jsonb(s));
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
    IF topic IS NULL THEN
        RAISE EXCEPTION 'topic must not be null' USING ERRCODE = '22004';
    END IF;
    IF for_update THEN
        SELECT t.topic_id INTO id FROM mq.topic t WHERE t.name = topic FOR NO KEY UPDATE;
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
 * be above every offset in the old one.  No lock on the active segment is
 * needed for that: appends that chose the old segment before this commits
 * still go there, and once an append has gone to the new segment of a
 * partition, later ones to the old segment are moved to the new one
 * (MqPartitionReserve), so a roll never waits for producers nor they for it.
 */
CREATE FUNCTION mq._create_segment(p_topic_id integer) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    seg bigint;
BEGIN
    UPDATE mq.segment s SET rolled_at = clock_timestamp()
     WHERE s.topic_id = p_topic_id AND s.rolled_at IS NULL;
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
    -- Two creators of the same name: the second waits for the first's
    -- transaction on the unique index, then finds the name taken (or free,
    -- if it rolled back).  (Not an advisory lock: any role can take one and
    -- hold creation off.)
    INSERT INTO mq.topic (name, partitions, config) VALUES (topic, partitions, cfg)
        ON CONFLICT (name) DO NOTHING
        RETURNING topic_id INTO id;
    IF id IS NULL THEN
        IF if_not_exists THEN
            RAISE NOTICE 'topic "%" already exists, skipping', topic;
            RETURN;
        END IF;
        RAISE EXCEPTION 'topic "%" already exists', topic USING ERRCODE = '42710';
    END IF;
    INSERT INTO mq.partition (topic_id, partition)
        SELECT id, p FROM generate_series(0, partitions - 1) p;
    INSERT INTO mq.offset_ceiling (topic_id, partition)
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
    log_relid oid;
BEGIN
    IF topic IS NULL THEN
        RAISE EXCEPTION 'topic must not be null' USING ERRCODE = '22004';
    END IF;
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
    log_relid := format('mq_data.%I', 'topic_' || id)::regclass;
    EXECUTE format('DROP TABLE mq_data.%I', 'topic_' || id);
    DELETE FROM mq.topic t WHERE t.topic_id = id;
    PERFORM mq._forget_topic(log_relid);
    PERFORM mq._watch_forget(drop_topic.topic);
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
    -- notify off: this transaction's appends to it go unannounced
    IF (SELECT (mq.default_config() || t.config)->>'notify' FROM mq.topic t WHERE t.topic_id = id)
       IS DISTINCT FROM 'true' THEN
        PERFORM mq._watch_forget(alter_topic.topic);
    END IF;
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
    INSERT INTO mq.offset_ceiling (topic_id, partition)
        SELECT id, p FROM generate_series(cur, total - 1) p;
    -- counters left by an add_partitions that rolled back must not survive
    PERFORM mq._forget_topic(format('mq_data.%I', 'topic_' || id)::regclass, cur);
    PERFORM mq._note_topic_change(id);
    -- and the groups that read it, so that blocked members rebalance now
    PERFORM mq._note_key_change(m.group_id)
       FROM (SELECT DISTINCT gm.group_id FROM mq.group_member gm WHERE topic = ANY (gm.topics)) m;
    RAISE WARNING 'records with a key now map to different partitions of topic "%"', topic
        USING DETAIL = format('The topic went from %s to %s partitions; ordering per key holds only within records produced after this change.', cur, total);
END
$$;
COMMENT ON FUNCTION mq.add_partitions(text, integer) IS 'grow a topic to the given total number of partitions';

CREATE FUNCTION mq._note_topic_change(topic_id integer) RETURNS void
    LANGUAGE c STRICT VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_note_topic_change';

CREATE FUNCTION mq._forget_topic(topic_relid oid, from_partition integer DEFAULT 0) RETURNS void
    LANGUAGE c STRICT
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

-- In C (src/broker/idempotence.c), which reads and writes the producer
-- catalog as mqext's own: producers may not write it directly (an epoch
-- written by hand would unfence a zombie producer), and the id it returns
-- belongs to the calling role, which only C sees (a SECURITY DEFINER
-- function runs as its owner).
CREATE FUNCTION mq.init_producer(transactional_id text DEFAULT NULL)
    RETURNS TABLE (producer_id bigint, epoch integer)
    LANGUAGE c CALLED ON NULL INPUT VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_init_producer';
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

-- Kafka's own Produce: the client encodes the record batch, the server
-- checks it, sets its offsets and stores its bytes.
CREATE FUNCTION mq.produce_encoded(topic text, partition integer, batch bytea)
    RETURNS TABLE (base_offset bigint, last_offset bigint)
    LANGUAGE c CALLED ON NULL INPUT VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_produce_encoded';
COMMENT ON FUNCTION mq.produce_encoded(text, integer, bytea) IS 'append one client-encoded, uncompressed Kafka RecordBatch v2 to a partition, after validating it; idempotent when its header carries a producer id';

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

-- Kafka's own Fetch: the stored record batches, as they are, for clients
-- that decode RecordBatch v2 themselves.
CREATE FUNCTION mq.fetch_batches(topic text, partition integer, from_offset bigint,
                                 max_bytes integer DEFAULT 52428800)
    RETURNS TABLE (base_offset bigint, last_offset bigint, record_count integer, batch bytea)
    LANGUAGE c STRICT VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_fetch_batches';
COMMENT ON FUNCTION mq.fetch_batches(text, integer, bigint, integer) IS 'stored Kafka RecordBatch v2 batches of a partition holding offsets at or after from_offset and below the last stable offset, in offset order; the first may begin below from_offset';

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

CREATE FUNCTION mq._log_end_offset(topic text, partition integer) RETURNS bigint
    LANGUAGE c STRICT VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_log_end_offset';
COMMENT ON FUNCTION mq._log_end_offset(text, integer) IS 'internal: the next offset to be handed out in a partition (above its records in flight)';

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
                                    OUT log_start_offset bigint, OUT last_stable_offset bigint,
                                    OUT oldest_open_append timestamptz)
    LANGUAGE c STRICT VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_partition_state';

CREATE VIEW mq.partitions AS
    SELECT t.name AS topic, p.partition,
           s.log_start_offset,
           s.last_stable_offset AS high_watermark,
           s.last_stable_offset,
           coalesce(b.size_bytes, 0) AS size_bytes,
           b.first_ts, b.last_ts,
           (SELECT pg_catalog.count(*) FROM mq.segment sg WHERE sg.topic_id = t.topic_id)::integer AS segments,
           pg_catalog.now() - s.oldest_open_append AS oldest_open_transaction_age
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
-- Consumer groups
--
-- A group shares the partitions of its members' topics among them; each
-- partition has exactly one owner (a row of mq.group_assignment) and a
-- position (the next offset that owner reads).  Positions and committed
-- offsets are ordinary rows, so they are transactional: a poll rolled back
-- does not move the position, offsets committed in a rolled back
-- transaction are not committed.
--
-- Ownership is fenced with row locks rather than long-held group locks:
-- poll reads without locks, then moves its positions with
--   UPDATE ... WHERE member_id = me AND generation = <the one it read>,
-- and drops the records of any partition where that matched nothing (it
-- was moved meanwhile).  The updated row stays locked until the poll's
-- transaction ends, and a rebalance moving that partition waits for it, so
-- the new owner starts after the old one's transaction, from its committed
-- offset.  A poll blocks only when it wrote nothing yet, so a sleeping
-- member never holds up a rebalance.
--
-- Functions that members call are SECURITY DEFINER: members must be able
-- to use the group catalog only through them (a member with direct write
-- access could take over partitions or rewrite another group's offsets).
-- Each pins search_path and checks that the caller is the member it names.
-------------------------------------------------------------------------------

CREATE TABLE mq.consumer_group (
    group_id    text PRIMARY KEY,
    generation  integer NOT NULL DEFAULT 0,
    strategy    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE mq.consumer_group IS 'mqext catalog: consumer groups and their generation';

CREATE TABLE mq.group_member (
    group_id       text NOT NULL REFERENCES mq.consumer_group ON DELETE CASCADE,
    member_id      text NOT NULL,
    session_bound  boolean NOT NULL,
    session_pid    integer,        -- owning session of a session-bound member:
    session_start  timestamptz,    -- (pid, backend start), a pid can be reused
    topics         text[] NOT NULL,
    config         jsonb NOT NULL,  -- effective consumer config
    joined_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    last_poll      timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    seen_generation integer,        -- newest assignment its polls read; NULL: none yet
    incarnation    bigint,          -- a given member id: which subscribe made it (NULL: session-bound)
    PRIMARY KEY (group_id, member_id)
);
COMMENT ON TABLE mq.group_member IS 'mqext catalog: members of consumer groups';

-- The last incarnation of each given member id (mq.subscribe): kept when
-- the member is swept or leaves, so that a number is never given twice to
-- one id while its group lives (an old instance still holding it would
-- pass the fence); deleted with the group (mq.delete_group).
CREATE TABLE mq.member_incarnation (
    group_id     text NOT NULL,
    member_id    text NOT NULL,
    incarnation  bigint NOT NULL,
    PRIMARY KEY (group_id, member_id)
);
COMMENT ON TABLE mq.member_incarnation IS 'mqext catalog: the last incarnation of each given member id, for fencing';

CREATE TABLE mq.group_assignment (
    group_id    text NOT NULL,
    member_id   text NOT NULL,
    topic_id    integer NOT NULL REFERENCES mq.topic ON DELETE CASCADE,
    partition   integer NOT NULL,
    generation  integer NOT NULL,   -- the generation that gave it to member_id
    position    bigint,             -- next offset to read; NULL: not started
    last_fetch  timestamptz,        -- for fairness between partitions
    PRIMARY KEY (group_id, topic_id, partition),
    FOREIGN KEY (group_id, member_id) REFERENCES mq.group_member ON DELETE CASCADE
);
CREATE INDEX ON mq.group_assignment (group_id, member_id);
COMMENT ON TABLE mq.group_assignment IS 'mqext catalog: the owner and position of every partition a group reads';

CREATE TABLE mq.group_offset (
    group_id          text NOT NULL REFERENCES mq.consumer_group ON DELETE CASCADE,
    topic_id          integer NOT NULL REFERENCES mq.topic ON DELETE CASCADE,
    partition         integer NOT NULL,
    committed_offset  bigint NOT NULL,
    committed_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (group_id, topic_id, partition)
);
COMMENT ON TABLE mq.group_offset IS 'mqext catalog: committed offsets (the next offset to read) per group and partition';

CREATE FUNCTION mq._key_epoch(key text) RETURNS bigint
    LANGUAGE c STRICT VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_key_epoch';
CREATE FUNCTION mq._wait_key(key text, epoch bigint, timeout_ms integer) RETURNS boolean
    LANGUAGE c STRICT VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_wait_key';
CREATE FUNCTION mq._wait_for_records(group_id text, epoch bigint, topics text[], partitions integer[],
                                     positions bigint[], timeout_ms integer) RETURNS boolean
    LANGUAGE c STRICT VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_wait_for_records';
CREATE FUNCTION mq._bind_session() RETURNS void
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_bind_session';
CREATE FUNCTION mq._session_start() RETURNS timestamptz
    LANGUAGE c STABLE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_session_start';
CREATE FUNCTION mq._session_alive(pid integer, started timestamptz) RETURNS boolean
    LANGUAGE c STRICT VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_session_alive';
CREATE FUNCTION mq._note_key_change(key text) RETURNS void
    LANGUAGE c STRICT VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_note_key_change';

-- this transaction locked assignment rows: its later polls do not sleep
CREATE FUNCTION mq._note_assignment_locked() RETURNS void
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_note_assignment_locked';
CREATE FUNCTION mq._assignment_locked() RETURNS boolean
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_assignment_locked';

CREATE FUNCTION mq.watch_channel(topic text) RETURNS text
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_watch_channel';
COMMENT ON FUNCTION mq.watch_channel(text) IS 'the LISTEN channel of a topic with notify = true (at most 63 bytes, for any topic name)';

CREATE FUNCTION mq._watch_forget(topic text) RETURNS void
    LANGUAGE c VOLATILE STRICT
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_watch_forget';

CREATE FUNCTION mq.default_consumer_config() RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN '{"session.timeout.ms": 45000, "max.poll.interval.ms": 300000,
             "auto.offset.reset": "latest",
             "partition.assignment.strategy": "cooperative-sticky",
             "enable.auto.commit": true, "max.poll.records": 500}'::jsonb;
COMMENT ON FUNCTION mq.default_consumer_config() IS 'the default consumer configuration (Kafka''s names and defaults)';

CREATE FUNCTION mq._consumer_config(changes jsonb) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k text;
    v jsonb;
    s text;
    result jsonb := mq.default_consumer_config();
BEGIN
    IF changes IS NULL OR jsonb_typeof(changes) <> 'object' THEN
        RAISE EXCEPTION 'consumer config must be a JSON object' USING ERRCODE = '22023';
    END IF;
    FOR k, v IN SELECT key, value FROM jsonb_each(changes) LOOP
        s := v #>> '{}';
        CASE k
        WHEN 'session.timeout.ms', 'max.poll.interval.ms', 'max.poll.records' THEN
            IF jsonb_typeof(v) NOT IN ('number', 'string') OR s !~ '^[0-9]{1,9}$' OR s::integer < 1 THEN
                RAISE EXCEPTION 'invalid value for consumer config key "%": %', k, v
                    USING ERRCODE = '22023', DETAIL = 'The value must be a positive integer.';
            END IF;
            result := jsonb_set(result, ARRAY[k], to_jsonb(s::integer));
        WHEN 'auto.offset.reset' THEN
            IF jsonb_typeof(v) <> 'string' OR s NOT IN ('latest', 'earliest', 'none') THEN
                RAISE EXCEPTION 'invalid value for consumer config key "%": %', k, v
                    USING ERRCODE = '22023', DETAIL = 'The value must be "latest", "earliest" or "none".';
            END IF;
            result := jsonb_set(result, ARRAY[k], v);
        WHEN 'partition.assignment.strategy' THEN
            IF jsonb_typeof(v) <> 'string' OR s NOT IN ('cooperative-sticky', 'range', 'roundrobin') THEN
                RAISE EXCEPTION 'invalid value for consumer config key "%": %', k, v
                    USING ERRCODE = '22023', DETAIL = 'The value must be "cooperative-sticky", "range" or "roundrobin".';
            END IF;
            result := jsonb_set(result, ARRAY[k], v);
        WHEN 'enable.auto.commit' THEN
            IF jsonb_typeof(v) = 'boolean' THEN
                result := jsonb_set(result, ARRAY[k], v);
            ELSIF jsonb_typeof(v) = 'string' AND lower(s) IN ('true', 'false') THEN
                result := jsonb_set(result, ARRAY[k], to_jsonb(lower(s)::boolean));
            ELSE
                RAISE EXCEPTION 'invalid value for consumer config key "%": %', k, v
                    USING ERRCODE = '22023', DETAIL = 'The value must be true or false.';
            END IF;
        ELSE
            RAISE EXCEPTION 'unknown consumer config key "%"', k
                USING ERRCODE = '22023',
                      HINT = 'Valid keys are: ' || (SELECT string_agg(x, ', ' ORDER BY x) FROM jsonb_object_keys(mq.default_consumer_config()) x) || '.';
        END CASE;
    END LOOP;
    RETURN result;
END
$$;

/*
 * A member id as a client passes it: the id, and the incarnation that
 * mq.subscribe appended to it ("worker-1#42"), NULL when there is none.
 */
CREATE FUNCTION mq._member_token(p_member text, OUT base text, OUT incarnation bigint)
    LANGUAGE sql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(pg_catalog.substring(p_member, '^(.*)#[1-9][0-9]{0,17}$'), p_member),
           pg_catalog.substring(p_member, '#([1-9][0-9]{0,17})$')::bigint
$$;

/*
 * The member a call acts for: the given member id, or this session's
 * session-bound member.  A session-bound member answers only to its own
 * session.  A member id with its incarnation ("worker-1#42", as
 * mq.subscribe returns it) answers only while no later subscribe with the
 * same id came (Kafka's static membership fences the old instance:
 * FENCED_INSTANCE_ID); p_lock keeps such a subscribe waiting until the
 * caller's transaction ends, so that what the call writes comes before it
 * (only with an incarnation: a bare id is not fenced, and two instances
 * sharing one would deadlock upgrading the lock).
 */
CREATE FUNCTION mq._member(p_group text, p_member text, p_lock boolean DEFAULT false)
    RETURNS mq.group_member
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m mq.group_member;
    tok record := mq._member_token(p_member);
BEGIN
    IF p_group IS NULL THEN
        RAISE EXCEPTION 'group_id must not be null' USING ERRCODE = '22004';
    END IF;
    IF p_member IS NULL THEN
        SELECT * INTO m FROM mq.group_member gm
         WHERE gm.group_id = p_group AND gm.session_bound
           AND gm.session_pid = pg_backend_pid() AND gm.session_start = mq._session_start();
        IF NOT FOUND THEN
            RAISE EXCEPTION 'this session is not a member of group "%"', p_group
                USING ERRCODE = 'MQ012', HINT = 'Call mq.subscribe() first, or pass member_id.';
        END IF;
    ELSE
        IF p_lock AND tok.incarnation IS NOT NULL THEN
            SELECT * INTO m FROM mq.group_member gm
             WHERE gm.group_id = p_group AND gm.member_id = tok.base FOR SHARE;
        ELSE
            SELECT * INTO m FROM mq.group_member gm
             WHERE gm.group_id = p_group AND gm.member_id = tok.base;
        END IF;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'member "%" is not in group "%"', tok.base, p_group
                USING ERRCODE = 'MQ012',
                      DETAIL = 'It never joined, left, or was removed after session.timeout.ms or max.poll.interval.ms without a poll.',
                      HINT = 'Call mq.subscribe() again.';
        END IF;
        IF m.session_bound AND (m.session_pid <> pg_backend_pid() OR m.session_start <> mq._session_start()) THEN
            RAISE EXCEPTION 'member "%" of group "%" belongs to another session', tok.base, p_group
                USING ERRCODE = 'MQ012';
        END IF;
        IF tok.incarnation IS NOT NULL AND m.incarnation IS DISTINCT FROM tok.incarnation THEN
            IF m.incarnation IS NULL OR tok.incarnation > m.incarnation THEN
                RAISE EXCEPTION 'member "%" of group "%" has no such incarnation', p_member, p_group
                    USING ERRCODE = 'MQ014',
                          DETAIL = format('Its current incarnation is %s.', coalesce(m.incarnation::text, 'none')),
                          HINT = 'Pass the member id as mq.subscribe returned it.';
            END IF;
            RAISE EXCEPTION 'member "%" of group "%" was fenced: a newer instance subscribed with its id',
                            p_member, p_group
                USING ERRCODE = 'MQ014',
                      DETAIL = format('The member''s current incarnation is %s.', m.incarnation),
                      HINT = 'Stop this instance: another one consumes as this member now.';
        END IF;
    END IF;
    RETURN m;
END
$$;

/*
 * Compute and store a new assignment, bumping the generation.  Caller holds
 * the group row FOR NO KEY UPDATE (not FOR UPDATE: the foreign keys of
 * committed offsets take KEY SHARE on it, and a member committing while a
 * rebalance waits for its rows must not deadlock).  Partitions that keep
 * their owner keep their row (position, lock) untouched; moved ones get a
 * new row whose position starts from the committed offset.
 *
 * cooperative-sticky: current owners keep what they own up to their fair
 * share (n/m, the first n%m members by current load one more); what is
 * over it, new or orphaned goes to the least loaded eligible member.  So a
 * member joining a two-member group of 12 partitions takes 4 and nothing
 * else moves.  range: per topic, contiguous ranges over the members that
 * subscribe to it.  roundrobin: all partitions, sorted, dealt in turn.
 */
CREATE FUNCTION mq._rebalance(p_group text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    strat text;
    gen integer;
    mids text[];                  -- members, sorted; referred to by index
    nm integer;
    elig jsonb;                   -- topic name -> [indexes of its subscribers]
    e integer[];
    p_tid integer[];              -- partitions, sorted by (topic, partition)
    p_name text[];
    p_part integer[];
    p_owner integer[];            -- index into mids, 0 = none
    n integer;
    cnt integer[];
    cap integer[];
    base integer;
    extra integer;
    i integer;
    j integer;
    best integer;
    rr integer := 0;
    tname text;
BEGIN
    UPDATE mq.consumer_group g SET generation = g.generation + 1
     WHERE g.group_id = p_group RETURNING g.generation, g.strategy INTO gen, strat;

    SELECT coalesce(array_agg(m.member_id ORDER BY m.member_id), '{}')
      INTO mids FROM mq.group_member m WHERE m.group_id = p_group;
    nm := cardinality(mids);
    SELECT coalesce(jsonb_object_agg(x.topic, x.idx), '{}') INTO elig
      FROM (SELECT s.topic, jsonb_agg(s.idx ORDER BY s.idx) AS idx
              FROM (SELECT unnest(m.topics) AS topic, array_position(mids, m.member_id) AS idx
                      FROM mq.group_member m WHERE m.group_id = p_group) s
             GROUP BY s.topic) x;

    -- every partition of every subscribed topic, with its current owner
    -- if that owner is still a member subscribed to the topic
    SELECT coalesce(array_agg(t.topic_id ORDER BY t.name, p.partition), '{}'),
           coalesce(array_agg(t.name ORDER BY t.name, p.partition), '{}'),
           coalesce(array_agg(p.partition ORDER BY t.name, p.partition), '{}'),
           coalesce(array_agg(CASE WHEN elig->t.name @> to_jsonb(array_position(mids, a.member_id))
                                   THEN array_position(mids, a.member_id) ELSE 0 END
                              ORDER BY t.name, p.partition), '{}')
      INTO p_tid, p_name, p_part, p_owner
      FROM mq.topic t
      JOIN mq.partition p ON p.topic_id = t.topic_id
      LEFT JOIN mq.group_assignment a
             ON a.group_id = p_group AND a.topic_id = t.topic_id AND a.partition = p.partition
     WHERE elig ? t.name;
    n := cardinality(p_tid);

    IF nm > 0 AND n > 0 THEN
        IF strat = 'range' THEN
            FOR tname IN SELECT DISTINCT x FROM unnest(p_name) x LOOP
                DECLARE
                    subs integer[] := ARRAY(SELECT jsonb_array_elements_text(elig->tname)::integer);
                    idx integer[] := ARRAY(SELECT g FROM generate_subscripts(p_name, 1) g
                                            WHERE p_name[g] = tname ORDER BY p_part[g]);
                    per integer := cardinality(idx) / cardinality(subs);
                    rem integer := cardinality(idx) % cardinality(subs);
                    pos integer := 1;
                BEGIN
                    FOR mi IN 1 .. cardinality(subs) LOOP
                        FOR q IN 1 .. per + CASE WHEN mi <= rem THEN 1 ELSE 0 END LOOP
                            p_owner[idx[pos]] := subs[mi];
                            pos := pos + 1;
                        END LOOP;
                    END LOOP;
                END;
            END LOOP;
        ELSIF strat = 'roundrobin' THEN
            FOR i IN 1 .. n LOOP
                e := ARRAY(SELECT jsonb_array_elements_text(elig->p_name[i])::integer);
                -- the first subscriber after the member that got the last one
                best := coalesce((SELECT min(x) FROM unnest(e) x WHERE x > rr), e[1]);
                p_owner[i] := best;
                rr := best;
            END LOOP;
        ELSE
            -- cooperative-sticky
            cnt := array_fill(0, ARRAY[nm]);
            FOR i IN 1 .. n LOOP
                IF p_owner[i] > 0 THEN
                    cnt[p_owner[i]] := cnt[p_owner[i]] + 1;
                END IF;
            END LOOP;
            -- fair shares: base each, one more for the `extra` most loaded
            base := n / nm;
            extra := n % nm;
            cap := array_fill(base, ARRAY[nm]);
            FOR j IN SELECT g FROM generate_subscripts(cnt, 1) g ORDER BY cnt[g] DESC, g LIMIT extra LOOP
                cap[j] := base + 1;
            END LOOP;
            -- release what is over the share, highest partitions first, but
            -- only where another subscriber of the topic has room for it
            -- (members may subscribe to different topics)
            FOR i IN REVERSE n .. 1 LOOP
                IF p_owner[i] > 0 AND cnt[p_owner[i]] > cap[p_owner[i]] THEN
                    e := ARRAY(SELECT jsonb_array_elements_text(elig->p_name[i])::integer);
                    IF EXISTS (SELECT 1 FROM unnest(e) x WHERE x <> p_owner[i] AND cnt[x] < cap[x]) THEN
                        cnt[p_owner[i]] := cnt[p_owner[i]] - 1;
                        p_owner[i] := 0;
                    END IF;
                END IF;
            END LOOP;
            -- the rest goes to the least loaded subscriber
            FOR i IN 1 .. n LOOP
                CONTINUE WHEN p_owner[i] > 0;
                e := ARRAY(SELECT jsonb_array_elements_text(elig->p_name[i])::integer);
                best := e[1];
                FOREACH j IN ARRAY e LOOP
                    IF cnt[j] < cnt[best] THEN
                        best := j;
                    END IF;
                END LOOP;
                p_owner[i] := best;
                cnt[best] := cnt[best] + 1;
            END LOOP;
        END IF;
    END IF;

    -- store: drop rows whose owner changed or whose partition is gone, add
    -- the new ones; rows that keep their owner are not touched (nor locked)
    DELETE FROM mq.group_assignment a
     WHERE a.group_id = p_group
       AND NOT EXISTS (SELECT 1 FROM unnest(p_tid, p_part, p_owner) x(t, p, o)
                        WHERE x.t = a.topic_id AND x.p = a.partition AND mids[x.o] = a.member_id);
    -- (NOT EXISTS, not just ON CONFLICT: a conflicting row that a member's
    -- open transaction updated would make the insertion wait for it)
    INSERT INTO mq.group_assignment (group_id, member_id, topic_id, partition, generation)
    SELECT p_group, mids[x.o], x.t, x.p, gen
      FROM unnest(p_tid, p_part, p_owner) x(t, p, o)
     WHERE x.o > 0
       AND NOT EXISTS (SELECT 1 FROM mq.group_assignment a
                        WHERE a.group_id = p_group AND a.topic_id = x.t AND a.partition = x.p)
    ON CONFLICT (group_id, topic_id, partition) DO NOTHING;

    PERFORM mq._note_key_change(p_group);
END
$$;

/*
 * Has a member failed?  A session-bound member when its session ended, or
 * when it stopped polling for max.poll.interval.ms while its session lives
 * on (Kafka's rule for a consumer stuck between two polls); a pooler
 * member, whose poll is its only heartbeat, when it did not poll within
 * session.timeout.ms or max.poll.interval.ms.
 */
CREATE FUNCTION mq._member_expired(m mq.group_member) RETURNS boolean
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
    RETURN m.last_poll < clock_timestamp() - make_interval(secs =>
               CASE WHEN m.session_bound THEN (m.config->>'max.poll.interval.ms')::numeric
                    ELSE least((m.config->>'session.timeout.ms')::numeric,
                               (m.config->>'max.poll.interval.ms')::numeric) END / 1000)
           OR (m.session_bound AND NOT mq._session_alive(m.session_pid, m.session_start));

/* Does the group's assignment cover other than its topics' partitions? */
CREATE FUNCTION mq._group_resized(p_group text) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT (SELECT count(*) FROM mq.group_assignment a WHERE a.group_id = p_group)
           <> (SELECT coalesce(sum(t.partitions), 0) FROM mq.topic t
                WHERE t.name IN (SELECT DISTINCT unnest(m.topics) FROM mq.group_member m
                                  WHERE m.group_id = p_group));
END;

/*
 * Remove failed members (mq._member_expired), and rebalance when that or a
 * topic's partition count changed.  Returns true when it rebalanced.
 *
 * Called by every poll, so it must leave nothing behind when it does
 * nothing: whatever it locks, it locks in a subtransaction that it rolls
 * back unless it rebalanced (MQ099, never seen outside), so that a poll in
 * a long transaction does not hold the group, and with it every join and
 * leave, until it ends.
 */
CREATE FUNCTION mq._sweep(p_group text) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    expired boolean;
    resized boolean;
    removed integer;
    waited boolean := false;
    saved text := current_setting('lock_timeout');
    wait text := coalesce(current_setting('mqext.poll_rebalance_wait', true), '200ms');
BEGIN
    -- the common case, nothing to do, without a subtransaction
    expired := EXISTS (SELECT 1 FROM mq.group_member m
                        WHERE m.group_id = p_group AND mq._member_expired(m));
    resized := mq._group_resized(p_group);
    IF NOT expired AND NOT resized THEN
        RETURN false;
    END IF;
    BEGIN
        LOOP
            PERFORM 1 FROM mq.consumer_group g WHERE g.group_id = p_group FOR NO KEY UPDATE SKIP LOCKED;
            EXIT WHEN FOUND;
            IF waited OR wait = '0' THEN
                RAISE SQLSTATE 'MQ099';     -- the group is gone, or no wait
            END IF;
            -- Another transaction is changing the group (a join, a leave,
            -- the worker's sweep), likely rebalancing for the same reason:
            -- wait a moment (mqext.poll_rebalance_wait), then look again, so
            -- that our caller sees the new assignment now rather than at its
            -- next poll.  Only a moment, and giving up quietly: it may be waiting for
            -- assignment rows that our own transaction holds (an earlier
            -- poll in it), and it will rebalance anyway.  (Under REPEATABLE
            -- READ its update of the group is a serialization failure for
            -- us: the same, give up.)
            waited := true;
            PERFORM set_config('lock_timeout', wait, true);
            PERFORM 1 FROM mq.consumer_group g WHERE g.group_id = p_group FOR NO KEY UPDATE;
            PERFORM set_config('lock_timeout', saved, true);
        END LOOP;
        -- under the group's lock: what is there to do now?
        resized := mq._group_resized(p_group);
        -- A row locked by its member's open transaction (one that polled)
        -- is a member alive: never wait for it.  Its assignment rows may
        -- still be locked by that transaction (a seek, a commit): waiting
        -- for those is bounded too, by the same setting.
        PERFORM set_config('lock_timeout', CASE WHEN wait = '0' THEN '1ms' ELSE wait END, true);
        DELETE FROM mq.group_member m
         WHERE m.ctid = ANY (ARRAY(SELECT x.ctid FROM mq.group_member x
                                    WHERE x.group_id = p_group AND mq._member_expired(x)
                                      FOR UPDATE SKIP LOCKED));
        GET DIAGNOSTICS removed = ROW_COUNT;
        IF removed = 0 AND NOT resized THEN
            RAISE SQLSTATE 'MQ099';         -- nothing to do: let go of the group
        END IF;
        -- The rebalance moves partitions whose assignment rows another
        -- member's open transaction may hold (it polled them): bounded by
        -- the same setting.  A poll (or the worker's round, which sweeps
        -- every group) must not wait for a transaction that may stay open
        -- for as long as it likes; the member expired is removed at a later
        -- sweep, once the rows are free.
        PERFORM mq._rebalance(p_group);
        PERFORM set_config('lock_timeout', saved, true);
    EXCEPTION WHEN SQLSTATE 'MQ099' OR lock_not_available OR deadlock_detected OR serialization_failure THEN
        RETURN false;
    END;
    RETURN true;
END
$$;

/* Called from the exit callback of a session with session-bound members. */
CREATE FUNCTION mq._session_exit() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g text;
    want integer;
    got integer;
BEGIN
    -- The session is ending, with interrupts held off: nothing here may
    -- wait on a lock, since neither pg_terminate_backend nor lock_timeout
    -- could end the wait and the backend would hang on until the holder's
    -- transaction ended; nor can an error be caught (it is FATAL by now).
    -- So every row this would change is locked with SKIP LOCKED, and if
    -- some were held it is tried again every 10 ms for half a second (the
    -- holder is usually a short transaction: another session creating a
    -- sibling node, a poll); what is held longer is left to the sweeps,
    -- which remove a dead session's nodes and members all the same.
    -- (mq.node is created further down; the body is only parsed when
    -- called.)
    FOR attempt IN 1 .. 50 LOOP
        SELECT count(*) + count(DISTINCT n.parent) INTO want FROM mq.node n
         WHERE n.owner_pid = pg_backend_pid() AND n.owner_start = mq._session_start();
        EXIT WHEN want = 0;
        SELECT count(*) INTO got FROM (
            SELECT 1 FROM mq.node n
             WHERE n.owner_pid = pg_backend_pid() AND n.owner_start = mq._session_start()
               FOR UPDATE SKIP LOCKED) x;
        -- and their parents' children counts
        SELECT got + count(*) INTO got FROM (
            SELECT 1 FROM mq.node p
             WHERE p.path IN (SELECT n.parent FROM mq.node n
                               WHERE n.owner_pid = pg_backend_pid() AND n.owner_start = mq._session_start())
               FOR NO KEY UPDATE SKIP LOCKED) x;
        IF got = want THEN
            DELETE FROM mq.node n WHERE n.owner_pid = pg_backend_pid() AND n.owner_start = mq._session_start();
            EXIT;
        END IF;
        PERFORM pg_sleep(0.01);
    END LOOP;
    FOR g IN SELECT DISTINCT m.group_id FROM mq.group_member m
              WHERE m.session_bound AND m.session_pid = pg_backend_pid()
                AND m.session_start = mq._session_start() ORDER BY 1 LOOP
        FOR attempt IN 1 .. 50 LOOP
            -- the group and everything its rebalance may change: its
            -- members, its assignment, and (share-locked by the new
            -- assignment rows' foreign keys) its topics
            SELECT 1 + (SELECT count(*) FROM mq.group_member m WHERE m.group_id = g)
                     + (SELECT count(*) FROM mq.group_assignment a WHERE a.group_id = g)
                     + (SELECT count(*) FROM mq.topic t
                         WHERE t.name IN (SELECT unnest(m.topics) FROM mq.group_member m WHERE m.group_id = g))
              INTO want;
            SELECT (SELECT count(*) FROM (SELECT 1 FROM mq.consumer_group cg WHERE cg.group_id = g
                                             FOR NO KEY UPDATE SKIP LOCKED) x)
                 + (SELECT count(*) FROM (SELECT 1 FROM mq.group_member m WHERE m.group_id = g
                                             FOR UPDATE SKIP LOCKED) x)
                 + (SELECT count(*) FROM (SELECT 1 FROM mq.group_assignment a WHERE a.group_id = g
                                             FOR UPDATE SKIP LOCKED) x)
                 + (SELECT count(*) FROM (SELECT 1 FROM mq.topic t
                                           WHERE t.name IN (SELECT unnest(m.topics) FROM mq.group_member m
                                                             WHERE m.group_id = g)
                                             FOR KEY SHARE SKIP LOCKED) x)
              INTO got;
            IF got = want THEN
                DELETE FROM mq.group_member m
                 WHERE m.group_id = g AND m.session_bound AND m.session_pid = pg_backend_pid()
                   AND m.session_start = mq._session_start();
                PERFORM mq._rebalance(g);
                EXIT;
            END IF;
            PERFORM pg_sleep(0.01);
        END LOOP;
    END LOOP;
END
$$;

CREATE FUNCTION mq.subscribe(group_id text, topics text[], member_id text DEFAULT NULL,
                             config jsonb DEFAULT '{}') RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    cfg jsonb := mq._consumer_config(coalesce(subscribe.config, '{}'));
    strat text := cfg->>'partition.assignment.strategy';
    missing text;
    grp mq.consumer_group;
    existing mq.group_member;
    tok record := mq._member_token(subscribe.member_id);
    mid text := tok.base;
    inc bigint;
    nmembers integer;
BEGIN
    IF subscribe.group_id IS NULL OR subscribe.group_id = '' THEN
        RAISE EXCEPTION 'group_id must not be empty' USING ERRCODE = '22023';
    END IF;
    IF subscribe.topics IS NULL OR cardinality(subscribe.topics) = 0 THEN
        RAISE EXCEPTION 'topics must not be empty' USING ERRCODE = '22023';
    END IF;
    SELECT x INTO missing FROM unnest(subscribe.topics) x
     WHERE x IS NULL OR NOT EXISTS (SELECT 1 FROM mq.topic t WHERE t.name = x) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'topic "%" does not exist', missing USING ERRCODE = '42704';
    END IF;
    IF mid = '' THEN
        RAISE EXCEPTION 'member_id must not be empty' USING ERRCODE = '22023';
    END IF;

    INSERT INTO mq.consumer_group (group_id, strategy) VALUES (subscribe.group_id, strat)
        ON CONFLICT DO NOTHING;
    SELECT * INTO grp FROM mq.consumer_group g WHERE g.group_id = subscribe.group_id FOR NO KEY UPDATE;
    PERFORM mq._sweep(subscribe.group_id);

    IF mid IS NULL THEN
        SELECT * INTO existing FROM mq.group_member m
         WHERE m.group_id = subscribe.group_id AND m.session_bound
           AND m.session_pid = pg_backend_pid() AND m.session_start = mq._session_start();
        mid := coalesce(existing.member_id,
                        'session-' || pg_backend_pid() || '-' || left(gen_random_uuid()::text, 8));
    ELSE
        SELECT * INTO existing FROM mq.group_member m
         WHERE m.group_id = subscribe.group_id AND m.member_id = mid;
        IF FOUND AND existing.session_bound
           AND (existing.session_pid <> pg_backend_pid() OR existing.session_start <> mq._session_start()) THEN
            RAISE EXCEPTION 'member "%" of group "%" belongs to another session', mid, subscribe.group_id
                USING ERRCODE = 'MQ012';
        END IF;
        -- with its incarnation: the same instance changing its topics, if
        -- it is still the member's (else fenced, or gone)
        IF tok.incarnation IS NOT NULL THEN
            IF existing.member_id IS NULL THEN
                RAISE EXCEPTION 'member "%" is not in group "%"', mid, subscribe.group_id
                    USING ERRCODE = 'MQ012',
                          DETAIL = 'It left, or was removed after session.timeout.ms or max.poll.interval.ms without a poll.',
                          HINT = 'Subscribe with the bare member_id to join as a new instance.';
            END IF;
            PERFORM mq._member(subscribe.group_id, subscribe.member_id);
        END IF;
    END IF;

    SELECT count(*) INTO nmembers FROM mq.group_member m
     WHERE m.group_id = subscribe.group_id AND m.member_id <> mid;
    IF grp.strategy <> strat THEN
        IF nmembers > 0 THEN
            RAISE EXCEPTION 'group "%" uses partition.assignment.strategy "%", not "%"',
                            subscribe.group_id, grp.strategy, strat
                USING ERRCODE = 'MQ011', HINT = 'All members of a group must use the same strategy.';
        END IF;
        UPDATE mq.consumer_group g SET strategy = strat WHERE g.group_id = subscribe.group_id;
    END IF;

    -- A bare member id: a new instance of its client (the old one may have
    -- crashed after a poll).  It starts from the committed offsets, as a
    -- restarted Kafka consumer does, not from the positions of a client
    -- that is gone (reset before the member row is locked: a poll locks
    -- its assignment rows, then the member row), and gets a new
    -- incarnation, which fences the older ones.  (Numbers that a
    -- subscribe rolled back gave out come again: its caller was told it
    -- failed.)
    IF subscribe.member_id IS NOT NULL AND tok.incarnation IS NULL THEN
        IF existing.member_id IS NOT NULL THEN
            UPDATE mq.group_assignment ga SET position = NULL
             WHERE ga.group_id = subscribe.group_id AND ga.member_id = mid;
        END IF;
        INSERT INTO mq.member_incarnation AS i (group_id, member_id, incarnation)
        VALUES (subscribe.group_id, mid, 1)
        ON CONFLICT (group_id, member_id) DO UPDATE SET incarnation = i.incarnation + 1
        RETURNING i.incarnation INTO inc;
    ELSIF tok.incarnation IS NOT NULL THEN
        inc := tok.incarnation;
    END IF;
    INSERT INTO mq.group_member AS m (group_id, member_id, session_bound, session_pid, session_start,
                                      topics, config, incarnation)
    VALUES (subscribe.group_id, mid, subscribe.member_id IS NULL,
            CASE WHEN subscribe.member_id IS NULL THEN pg_backend_pid() END,
            CASE WHEN subscribe.member_id IS NULL THEN mq._session_start() END,
            ARRAY(SELECT DISTINCT x FROM unnest(subscribe.topics) x ORDER BY 1), cfg, inc)
    ON CONFLICT (group_id, member_id) DO UPDATE
       SET topics = EXCLUDED.topics, config = EXCLUDED.config, last_poll = clock_timestamp(),
           seen_generation = CASE WHEN subscribe.member_id IS NOT NULL AND tok.incarnation IS NULL
                                  THEN NULL ELSE m.seen_generation END,
           incarnation = EXCLUDED.incarnation;
    IF subscribe.member_id IS NULL THEN
        PERFORM mq._bind_session();
    END IF;
    PERFORM mq._rebalance(subscribe.group_id);
    RETURN CASE WHEN inc IS NULL THEN mid ELSE mid || '#' || inc END;
END
$$;
COMMENT ON FUNCTION mq.subscribe(text, text[], text, jsonb) IS 'join a consumer group (or change the member''s topics); returns the member id';

CREATE FUNCTION mq.unsubscribe(group_id text, member_id text DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    m mq.group_member := mq._member(unsubscribe.group_id, unsubscribe.member_id);
BEGIN
    -- the group row next, as subscribe takes them; then the member (and
    -- its incarnation) is checked again under that lock
    PERFORM 1 FROM mq.consumer_group g WHERE g.group_id = m.group_id FOR NO KEY UPDATE;
    m := mq._member(unsubscribe.group_id, unsubscribe.member_id);
    DELETE FROM mq.group_member gm WHERE gm.group_id = m.group_id AND gm.member_id = m.member_id;
    PERFORM mq._rebalance(m.group_id);
END
$$;
COMMENT ON FUNCTION mq.unsubscribe(text, text) IS 'leave a consumer group; its partitions go to the other members';

/* Where a member starts reading a partition it has no position in. */
/*
 * Does a partition hold a batch with records in [from_offset, to_offset),
 * as a snapshot taken now sees it?  Each segment is locked before its
 * statement's snapshot is taken (so a compaction swap has committed or is
 * waited for), and only the segments are read, never their partitioned
 * parents, which rolls and topic creation lock exclusively.
 */
CREATE FUNCTION mq._records_in_range(p_topic_id integer, p_partition integer,
                                     from_offset bigint, to_offset bigint) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    seg bigint;
    found boolean;
BEGIN
    FOR seg IN SELECT s.segment_id FROM mq.segment s WHERE s.topic_id = p_topic_id ORDER BY 1 LOOP
        BEGIN
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM mq_data.%I l WHERE l.partition = $1
                                              AND l.last_offset >= $2 AND l.base_offset < $3
                                              AND l.record_count > 0)', 'seg_' || seg)
               INTO found USING p_partition, from_offset, to_offset;
        EXCEPTION WHEN undefined_table THEN
            found := false;     -- dropped since it was listed
        END;
        IF found THEN
            RETURN true;
        END IF;
    END LOOP;
    RETURN false;
END
$$;

CREATE FUNCTION mq._start_position(p_group text, p_topic text, p_topic_id integer,
                                   p_partition integer, p_reset text) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    committed bigint;
    log_start bigint := mq.earliest_offset(p_topic, p_partition);
    log_end bigint := mq._log_end_offset(p_topic, p_partition);
BEGIN
    SELECT o.committed_offset INTO committed FROM mq.group_offset o
     WHERE o.group_id = p_group AND o.topic_id = p_topic_id AND o.partition = p_partition;
    -- out of range either way (Kafka's OFFSET_OUT_OF_RANGE): below the log
    -- start (retention), or beyond its end (committed by hand, or the
    -- topic dropped and created again)
    IF committed IS NOT NULL AND committed >= log_start AND committed <= log_end THEN
        RETURN committed;
    END IF;
    CASE p_reset
    WHEN 'earliest' THEN RETURN log_start;
    WHEN 'latest' THEN RETURN mq.latest_offset(p_topic, p_partition);
    ELSE
        RAISE EXCEPTION 'group "%" has no valid committed offset for topic "%" partition %',
                        p_group, p_topic, p_partition
            USING ERRCODE = 'MQ013',
                  DETAIL = CASE WHEN committed IS NULL THEN 'Nothing was committed.'
                                WHEN committed > log_end THEN format('The committed offset %s is beyond the log end offset %s.', committed, log_end)
                                ELSE format('The committed offset %s is below the log start offset %s.', committed, log_start) END,
                  HINT = 'auto.offset.reset is "none": commit or seek to an offset first.';
    END CASE;
END
$$;

CREATE TYPE mq._polled AS (topic text, partition integer, "offset" bigint, ts timestamptz,
                           key bytea, value bytea, headers jsonb);

CREATE FUNCTION mq.poll(group_id text, max_records integer DEFAULT 500, timeout_ms integer DEFAULT 0,
                        member_id text DEFAULT NULL)
    RETURNS TABLE (topic text, partition integer, "offset" bigint, ts timestamptz,
                   key bytea, value bytea, headers jsonb)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    m mq.group_member;
    want integer;
    deadline timestamptz;
    a record;
    recs mq._polled[];
    got mq._polled[];
    rebalanced boolean;
    wrote boolean;
    pos bigint;
    n integer;
    w_topics text[];
    w_parts integer[];
    w_pos bigint[];
    c_tid integer[];
    c_part integer[];
    c_pos bigint[];
    c_gen integer[];
    l_gen integer[] := '{}';   -- generations of the assignment rows this poll locked
    epoch bigint;
    lso bigint;
    seen bigint;
    read_committed boolean := current_setting('transaction_isolation') = 'read committed';
    s_tid integer[];
    s_part integer[];
    s_gen integer[];
    s_seen bigint[];
    s_from bigint[];
    s_to bigint[];
BEGIN
    IF poll.max_records IS NULL OR poll.max_records < 1 THEN
        RAISE EXCEPTION 'max_records must be at least 1' USING ERRCODE = '22023';
    END IF;
    IF poll.timeout_ms IS NULL OR poll.timeout_ms < 0 THEN
        RAISE EXCEPTION 'timeout_ms must not be negative' USING ERRCODE = '22023';
    END IF;
    m := mq._member(poll.group_id, poll.member_id);
    want := least(poll.max_records, (m.config->>'max.poll.records')::integer);
    -- the poll is also the heartbeat: never sleep past half the session
    -- timeout or half the poll interval, counted from the member's last
    -- poll (the one the others see), not from this one's start: a member
    -- that comes back late from its work must not sleep into its expiry
    deadline := least(clock_timestamp() + make_interval(secs => least(poll.timeout_ms,
                          (m.config->>'session.timeout.ms')::integer / 2,
                          (m.config->>'max.poll.interval.ms')::integer / 2) / 1000.0),
                      m.last_poll + make_interval(secs =>
                          CASE WHEN m.session_bound THEN (m.config->>'max.poll.interval.ms')::numeric
                               ELSE least((m.config->>'session.timeout.ms')::numeric,
                                          (m.config->>'max.poll.interval.ms')::numeric) END / 2000));

    LOOP
        epoch := mq._key_epoch(m.group_id);
        rebalanced := mq._sweep(m.group_id);
        m := mq._member(m.group_id, poll.member_id);
        wrote := rebalanced;
        got := '{}';
        w_topics := '{}'; w_parts := '{}'; w_pos := '{}';
        c_tid := '{}'; c_part := '{}'; c_pos := '{}'; c_gen := '{}';
        s_tid := '{}'; s_part := '{}'; s_gen := '{}'; s_seen := '{}'; s_from := '{}'; s_to := '{}';

        -- read, without locks, from the partitions we own, least recently served first
        FOR a IN SELECT t.name, ga.topic_id, ga.partition, ga.position, ga.generation,
                        ga.xmin AS row_xmin
                   FROM mq.group_assignment ga JOIN mq.topic t ON t.topic_id = ga.topic_id
                  WHERE ga.group_id = m.group_id AND ga.member_id = m.member_id
                  ORDER BY ga.last_fetch NULLS FIRST, t.name, ga.partition LOOP
            pos := a.position;
            -- the position as this poll found it: the fence below moves it
            -- only from there, so that two polls of one member (two clients
            -- with the same member id) never both return the same records
            seen := a.position;
            -- retention or delete_records passed the position: out of range,
            -- which Kafka's consumer answers with auto.offset.reset too
            -- (or a seek or commit put it beyond the log's end: out of range
            -- too; the reset may move it back)
            IF pos < mq.earliest_offset(a.name, a.partition)
               OR pos > mq._log_end_offset(a.name, a.partition) THEN
                pos := NULL;
            END IF;
            IF pos IS NULL THEN
                BEGIN
                    pos := mq._start_position(m.group_id, a.name, a.topic_id, a.partition,
                                              m.config->>'auto.offset.reset');
                EXCEPTION WHEN SQLSTATE 'MQ013' THEN
                    -- auto.offset.reset none, and this transaction's own
                    -- rebalance (this poll's, or a subscribe before it) gave
                    -- the partition: raising would roll the rebalance back
                    -- with it, and the member could never commit or seek to
                    -- start the partition (it would not own it).  Let the
                    -- assignment commit; the next poll raises.
                    IF mq._xid_is_mine(a.row_xmin) THEN
                        CONTINUE;
                    END IF;
                    RAISE;
                END;
                -- remember where we start, or "latest" would move on by itself
                -- (a row a rebalance is moving is locked by it: leave it)
                PERFORM 1 FROM mq.group_assignment ga
                 WHERE ga.group_id = m.group_id AND ga.topic_id = a.topic_id
                   AND ga.partition = a.partition AND ga.member_id = m.member_id
                   AND ga.generation = a.generation
                   AND ga.position IS NOT DISTINCT FROM a.position
                   FOR NO KEY UPDATE SKIP LOCKED;
                IF FOUND THEN
                    l_gen := l_gen || a.generation;
                    UPDATE mq.group_assignment ga SET position = pos
                     WHERE ga.group_id = m.group_id AND ga.topic_id = a.topic_id
                       AND ga.partition = a.partition
                       AND (ga.position IS NULL OR ga.position < pos
                            OR ga.position > mq._log_end_offset(a.name, a.partition));
                    SELECT ga.position INTO seen FROM mq.group_assignment ga
                     WHERE ga.group_id = m.group_id AND ga.topic_id = a.topic_id
                       AND ga.partition = a.partition;
                END IF;
                wrote := true;
            END IF;
            c_tid := c_tid || a.topic_id;
            c_part := c_part || a.partition;
            c_pos := c_pos || pos;
            c_gen := c_gen || a.generation;
            w_topics := w_topics || a.name;
            w_parts := w_parts || a.partition;
            IF cardinality(got) >= want THEN
                w_pos := w_pos || pos;
                CONTINUE;
            END IF;
            -- read before the fetch: if the fetch finds nothing, everything
            -- below it was rolled back, and the wait must be for more than that
            lso := mq.latest_offset(a.name, a.partition);
            w_pos := w_pos || greatest(pos, lso);
            recs := ARRAY(SELECT ROW(f.topic, f.partition, f."offset", f.ts, f.key, f.value, f.headers)::mq._polled
                            FROM mq.fetch(a.name, a.partition, pos, want - cardinality(got)) f);
            IF cardinality(recs) = 0 THEN
                -- Nothing from pos, and yet the LSO read before the fetch
                -- lies beyond it: in READ COMMITTED the fetch saw every
                -- transaction below that LSO end, so what lies between holds
                -- only records rolled back (or offsets never used, as after
                -- a restart).  The position moves past it when the poll
                -- returns (not now: the row would stay locked through a
                -- sleep), as Kafka's consumer skips aborted data, or the
                -- partition keeps a lag that never goes away.  (An older
                -- snapshot may just not see them yet.)
                IF lso > pos AND read_committed THEN
                    s_tid := s_tid || a.topic_id; s_part := s_part || a.partition;
                    s_gen := s_gen || a.generation; s_seen := s_seen || seen;
                    s_from := s_from || pos; s_to := s_to || lso;
                END IF;
                CONTINUE;
            END IF;
            -- fence: move the position only if the partition is still ours;
            -- a row locked by someone else is being moved by a rebalance,
            -- which waits for us if we lock first: never wait for it, so
            -- that the two can never wait for each other
            PERFORM 1 FROM mq.group_assignment ga
             WHERE ga.group_id = m.group_id AND ga.topic_id = a.topic_id
               AND ga.partition = a.partition AND ga.member_id = m.member_id
               AND ga.generation = a.generation
               AND ga.position IS NOT DISTINCT FROM seen
               FOR NO KEY UPDATE SKIP LOCKED;
            wrote := true;
            IF FOUND THEN
                l_gen := l_gen || a.generation;
                UPDATE mq.group_assignment ga
                   SET position = recs[cardinality(recs)]."offset" + 1, last_fetch = clock_timestamp()
                 WHERE ga.group_id = m.group_id AND ga.topic_id = a.topic_id
                   AND ga.partition = a.partition;
                got := got || recs;
            END IF;
        END LOOP;

        -- (a lock taken by an earlier statement of this transaction, which
        -- holds until it ends, is one too)
        -- (a snapshot that does not move, REPEATABLE READ or SERIALIZABLE,
        -- would never see what woke it: no sleeping there either)
        EXIT WHEN cardinality(got) > 0 OR wrote OR mq._assignment_locked()
                  OR NOT read_committed OR clock_timestamp() >= deadline;
        -- nothing, and no lock taken: sleep until a producer commits to one
        -- of our partitions, the group is rebalanced, or the time is up
        PERFORM mq._wait_for_records(m.group_id, epoch, w_topics, w_parts, w_pos,
                    greatest(1, (extract(epoch FROM deadline - clock_timestamp()) * 1000)::integer));
    END LOOP;

    -- past the rolled-back tails the last round found (fenced as above).
    -- First make sure, with a snapshot taken now, that no record with a
    -- batch in the range is there after all: a fetch also stops early at a
    -- batch committed after its snapshot (a segment compaction swapped in
    -- meanwhile writes every batch anew), which must not be taken for a
    -- rolled-back one.
    FOR n IN 1 .. cardinality(s_tid) LOOP
        CONTINUE WHEN mq._records_in_range(s_tid[n], s_part[n], s_from[n], s_to[n]);
        PERFORM 1 FROM mq.group_assignment ga
         WHERE ga.group_id = m.group_id AND ga.topic_id = s_tid[n]
           AND ga.partition = s_part[n] AND ga.member_id = m.member_id
           AND ga.generation = s_gen[n]
           AND ga.position IS NOT DISTINCT FROM s_seen[n]
           FOR NO KEY UPDATE SKIP LOCKED;
        IF FOUND THEN
            l_gen := l_gen || s_gen[n];
            UPDATE mq.group_assignment ga SET position = s_to[n]
             WHERE ga.group_id = m.group_id AND ga.topic_id = s_tid[n]
               AND ga.partition = s_part[n];
            wrote := true;
        END IF;
    END LOOP;

    -- auto-commit: what the previous poll returned, i.e. the positions
    -- before this poll moved them.  The rows are locked so that a rebalance
    -- cannot hand them over before this transaction ends; the committed
    -- offsets move in this transaction, so a rollback undoes both.
    IF (m.config->>'enable.auto.commit')::boolean AND cardinality(c_tid) > 0 THEN
        -- only the rows this statement locked: one locked by a rebalance
        -- (which deleted it, uncommitted) is being handed over, and its new
        -- owner reads the committed offset
        INSERT INTO mq.group_offset AS o (group_id, topic_id, partition, committed_offset)
        SELECT m.group_id, c.t, c.p, c.pos
          FROM mq.group_assignment ga
          JOIN unnest(c_tid, c_part, c_pos, c_gen) c(t, p, pos, gen)
            ON c.t = ga.topic_id AND c.p = ga.partition
           -- still the assignment we read the position from: a partition
           -- that went away and came back meanwhile has a newer one
           AND ga.generation = c.gen
         WHERE ga.group_id = m.group_id AND ga.member_id = m.member_id
           FOR KEY SHARE OF ga SKIP LOCKED
        ON CONFLICT (group_id, topic_id, partition) DO UPDATE
           SET committed_offset = EXCLUDED.committed_offset, committed_at = now()
         WHERE o.committed_offset IS DISTINCT FROM EXCLUDED.committed_offset;
        PERFORM mq._note_assignment_locked();
    END IF;
    IF wrote THEN
        PERFORM mq._note_assignment_locked();
    END IF;
    UPDATE mq.group_member gm
       SET last_poll = clock_timestamp(),
           -- only from rows this poll holds: one it could not lock (a
           -- rebalance moving it) was not read under its assignment
           seen_generation = greatest(gm.seen_generation, (SELECT max(g) FROM unnest(l_gen) g))
     WHERE gm.group_id = m.group_id AND gm.member_id = m.member_id
       AND gm.incarnation IS NOT DISTINCT FROM m.incarnation;
    -- A newer instance subscribed with this member id since the check
    -- above: this poll's commits and moves are undone with the error.
    -- (From here the row lock orders any later subscribe after us; one
    -- already waiting for our assignment rows waits for our end anyway.)
    IF NOT FOUND AND (mq._member_token(poll.member_id)).incarnation IS NOT NULL THEN
        PERFORM mq._member(m.group_id, poll.member_id);
    END IF;

    RETURN QUERY SELECT g.* FROM unnest(got) g;
END
$$;
COMMENT ON FUNCTION mq.poll(text, integer, integer, text) IS 'records from the member''s partitions, advancing its positions; waits up to timeout_ms for records; also the heartbeat';

/* Lock a partition's assignment row if the member owns it, else fail as Kafka's CommitFailedException. */
CREATE FUNCTION mq._owned(m mq.group_member, p_topic text, p_partition integer, for_update boolean,
                          action text DEFAULT 'commit')
    RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tid integer;
    gen integer;
BEGIN
    SELECT t.topic_id INTO tid FROM mq.topic t WHERE t.name = p_topic;
    IF tid IS NULL THEN
        RAISE EXCEPTION 'topic "%" does not exist', p_topic USING ERRCODE = '42704';
    END IF;
    IF p_partition IS NULL THEN
        RAISE EXCEPTION 'partition must not be null' USING ERRCODE = '22004';
    END IF;
    IF for_update THEN
        PERFORM 1 FROM mq.group_assignment ga
         WHERE ga.group_id = m.group_id AND ga.topic_id = tid AND ga.partition = p_partition
           AND ga.member_id = m.member_id FOR NO KEY UPDATE SKIP LOCKED;
    ELSE
        -- locked by someone else: a rebalance is moving it away
        PERFORM 1 FROM mq.group_assignment ga
         WHERE ga.group_id = m.group_id AND ga.topic_id = tid AND ga.partition = p_partition
           AND ga.member_id = m.member_id FOR KEY SHARE SKIP LOCKED;
    END IF;
    IF NOT FOUND THEN
        SELECT g.generation INTO gen FROM mq.consumer_group g WHERE g.group_id = m.group_id;
        RAISE EXCEPTION '% failed: member "%" of group "%" does not own topic "%" partition % in generation %',
                        action, m.member_id, m.group_id, p_topic, p_partition, gen
            USING ERRCODE = 'MQ010',
                  DETAIL = 'The group was rebalanced and the partition now belongs to another member, or never belonged to this one.',
                  HINT = 'Poll again to get the current assignment; records not committed will be delivered again.';
    END IF;
    PERFORM mq._note_assignment_locked();
    RETURN tid;
END
$$;

CREATE FUNCTION mq.commit(group_id text, member_id text DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    m mq.group_member := mq._member(commit.group_id, commit.member_id, true);
BEGIN
    -- SKIP LOCKED: a row locked by another transaction is being moved by a
    -- rebalance (which waits for the rows we hold); its position equals
    -- its committed offset unless this transaction polled it, and then we
    -- hold its lock ourselves
    INSERT INTO mq.group_offset AS o (group_id, topic_id, partition, committed_offset)
    SELECT ga.group_id, ga.topic_id, ga.partition, ga.position
      FROM mq.group_assignment ga
     WHERE ga.group_id = m.group_id AND ga.member_id = m.member_id AND ga.position IS NOT NULL
       FOR KEY SHARE SKIP LOCKED
    ON CONFLICT (group_id, topic_id, partition) DO UPDATE
       SET committed_offset = EXCLUDED.committed_offset, committed_at = now()
     WHERE o.committed_offset IS DISTINCT FROM EXCLUDED.committed_offset;
    PERFORM mq._note_assignment_locked();
END
$$;
COMMENT ON FUNCTION mq.commit(text, text) IS 'commit the member''s positions of the partitions it owns';

CREATE FUNCTION mq.commit(group_id text, topic text, partition integer, "offset" bigint,
                          member_id text DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    m mq.group_member := mq._member(commit.group_id, commit.member_id, true);
    tid integer;
BEGIN
    IF commit."offset" IS NULL OR commit."offset" < 0 THEN
        RAISE EXCEPTION 'offset must not be negative' USING ERRCODE = '22023';
    END IF;
    tid := mq._owned(m, commit.topic, commit.partition, false);
    -- Owned now, but assigned by a rebalance this member's polls have not
    -- seen yet, and not read since: what it read of the partition came from
    -- an earlier assignment, and another member may have processed and
    -- committed it since (Kafka refuses a commit from a member that has not
    -- rejoined: ILLEGAL_GENERATION).  A member that never polled may commit
    -- (to set where it starts, with auto.offset.reset none).
    -- (Only when there is a committed offset: without one nobody has
    -- processed the partition, and the commit sets where reading starts,
    -- as auto.offset.reset none asks.)
    IF EXISTS (SELECT 1 FROM mq.group_assignment ga
                WHERE ga.group_id = m.group_id AND ga.topic_id = tid
                  AND ga.partition = commit.partition AND ga.position IS NULL
                  AND ga.generation > m.seen_generation)
       AND EXISTS (SELECT 1 FROM mq.group_offset o
                    WHERE o.group_id = m.group_id AND o.topic_id = tid
                      AND o.partition = commit.partition
                      -- (one out of range is as good as none: MQ013 asks
                      -- for this very commit)
                      AND o.committed_offset BETWEEN mq.earliest_offset(commit.topic, commit.partition)
                                                 AND mq._log_end_offset(commit.topic, commit.partition)) THEN
        RAISE EXCEPTION 'commit failed: member "%" of group "%" has not polled topic "%" partition % since it was assigned',
                        m.member_id, m.group_id, commit.topic, commit.partition
            USING ERRCODE = 'MQ010',
                  DETAIL = 'The partition was assigned anew by a rebalance: records read before it belong to an earlier assignment, which another member may have processed since.',
                  HINT = 'Poll, then process and commit what that poll returns.';
    END IF;
    INSERT INTO mq.group_offset AS o (group_id, topic_id, partition, committed_offset)
    VALUES (m.group_id, tid, commit.partition, commit."offset")
    ON CONFLICT (group_id, topic_id, partition) DO UPDATE
       SET committed_offset = EXCLUDED.committed_offset, committed_at = now();
END
$$;
COMMENT ON FUNCTION mq.commit(text, text, integer, bigint, text) IS 'commit an explicit offset (the next one to read) of a partition the member owns';

CREATE FUNCTION mq.seek(group_id text, topic text, partition integer, "offset" bigint,
                        member_id text DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    m mq.group_member := mq._member(seek.group_id, seek.member_id, true);
    tid integer;
BEGIN
    IF seek."offset" IS NULL OR seek."offset" < 0 THEN
        RAISE EXCEPTION 'offset must not be negative' USING ERRCODE = '22023';
    END IF;
    tid := mq._owned(m, seek.topic, seek.partition, true, 'seek');
    UPDATE mq.group_assignment ga SET position = seek."offset"
     WHERE ga.group_id = m.group_id AND ga.topic_id = tid AND ga.partition = seek.partition;
END
$$;
COMMENT ON FUNCTION mq.seek(text, text, integer, bigint, text) IS 'set the member''s position in a partition it owns';

CREATE FUNCTION mq.seek(group_id text, topic text, partition integer, ts timestamptz,
                        member_id text DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    m mq.group_member := mq._member(seek.group_id, seek.member_id, true);
    tid integer;
BEGIN
    IF seek.ts IS NULL THEN
        RAISE EXCEPTION 'ts must not be null' USING ERRCODE = '22004';
    END IF;
    tid := mq._owned(m, seek.topic, seek.partition, true, 'seek');
    UPDATE mq.group_assignment ga
       SET position = coalesce(mq.offset_for_time(seek.topic, seek.partition, seek.ts),
                               mq.latest_offset(seek.topic, seek.partition))
     WHERE ga.group_id = m.group_id AND ga.topic_id = tid AND ga.partition = seek.partition;
END
$$;
COMMENT ON FUNCTION mq.seek(text, text, integer, timestamptz, text) IS 'set the member''s position to the first offset at or after ts (the end if none)';

CREATE FUNCTION mq._is_timestamptz(s text) RETURNS boolean
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM s::timestamptz;
    RETURN true;
EXCEPTION WHEN others THEN
    RETURN false;
END
$$;

CREATE FUNCTION mq.reset_offsets(group_id text, topic text, "to" text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    tid integer := mq._topic_id(reset_offsets.topic);
    nparts integer;
    target text := btrim(reset_offsets."to");
BEGIN
    PERFORM 1 FROM mq.consumer_group g WHERE g.group_id = reset_offsets.group_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'group "%" does not exist', reset_offsets.group_id USING ERRCODE = '42704';
    END IF;
    PERFORM mq._sweep(reset_offsets.group_id);
    IF EXISTS (SELECT 1 FROM mq.group_member m WHERE m.group_id = reset_offsets.group_id) THEN
        RAISE EXCEPTION 'cannot reset the offsets of group "%" while it has members', reset_offsets.group_id
            USING ERRCODE = '55006', HINT = 'Stop its consumers (or wait for session.timeout.ms) first, as Kafka requires.';
    END IF;
    SELECT t.partitions INTO nparts FROM mq.topic t WHERE t.topic_id = tid;
    IF target IS NULL OR NOT (target IN ('earliest', 'latest') OR target ~ '^[0-9]+$'
                              OR mq._is_timestamptz(target)) THEN
        RAISE EXCEPTION 'invalid reset target "%"', reset_offsets."to"
            USING ERRCODE = '22023', HINT = 'Use earliest, latest, an offset or a timestamp.';
    END IF;
    INSERT INTO mq.group_offset AS o (group_id, topic_id, partition, committed_offset)
    SELECT reset_offsets.group_id, tid, p,
           CASE WHEN target = 'earliest' THEN mq.earliest_offset(reset_offsets.topic, p)
                WHEN target = 'latest' THEN mq.latest_offset(reset_offsets.topic, p)
                -- an offset is kept within the log, as Kafka's tool does
                WHEN target ~ '^[0-9]+$' THEN greatest(mq.earliest_offset(reset_offsets.topic, p),
                                                       least(target::numeric,
                                                             mq.latest_offset(reset_offsets.topic, p))::bigint)
                ELSE coalesce(mq.offset_for_time(reset_offsets.topic, p, target::timestamptz),
                              mq.latest_offset(reset_offsets.topic, p)) END
      FROM generate_series(0, nparts - 1) p
    ON CONFLICT (group_id, topic_id, partition) DO UPDATE
       SET committed_offset = EXCLUDED.committed_offset, committed_at = now();
END
$$;
COMMENT ON FUNCTION mq.reset_offsets(text, text, text) IS 'set a group''s committed offsets of a topic to earliest, latest, an offset or a timestamp; only while the group has no members';

CREATE FUNCTION mq.delete_group(group_id text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    PERFORM 1 FROM mq.consumer_group g WHERE g.group_id = delete_group.group_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'group "%" does not exist', delete_group.group_id USING ERRCODE = '42704';
    END IF;
    PERFORM mq._sweep(delete_group.group_id);
    IF EXISTS (SELECT 1 FROM mq.group_member m WHERE m.group_id = delete_group.group_id) THEN
        RAISE EXCEPTION 'cannot delete group "%" while it has members', delete_group.group_id
            USING ERRCODE = '55006';
    END IF;
    DELETE FROM mq.consumer_group g WHERE g.group_id = delete_group.group_id;
    -- (a member id's instance numbers start again in a new group of that
    -- name: its old instances were swept, and are refused as not members
    -- until a new one has subscribed as often)
    DELETE FROM mq.member_incarnation i WHERE i.group_id = delete_group.group_id;
END
$$;
COMMENT ON FUNCTION mq.delete_group(text) IS 'delete a group without members, with its committed offsets';

CREATE VIEW mq.groups AS
    SELECT g.group_id,
           CASE WHEN count(m.member_id) = 0 THEN 'Empty' ELSE 'Stable' END AS state,
           g.generation, g.strategy, count(m.member_id)::integer AS members
      FROM mq.consumer_group g
      LEFT JOIN mq.group_member m ON m.group_id = g.group_id
     GROUP BY g.group_id;
COMMENT ON VIEW mq.groups IS 'consumer groups: state (Empty or Stable), generation, assignment strategy, member count';

CREATE VIEW mq.group_members AS
    SELECT m.group_id, m.member_id, m.session_bound, m.topics,
           coalesce((SELECT jsonb_object_agg(x.name, x.parts)
                       FROM (SELECT t.name, jsonb_agg(ga.partition ORDER BY ga.partition) AS parts
                               FROM mq.group_assignment ga JOIN mq.topic t ON t.topic_id = ga.topic_id
                              WHERE ga.group_id = m.group_id AND ga.member_id = m.member_id
                              GROUP BY t.name) x), '{}') AS assignment,
           m.last_poll, m.incarnation
      FROM mq.group_member m;
COMMENT ON VIEW mq.group_members IS 'members of consumer groups with their assignment ({"topic": [partitions]}) and, for a given member id, the incarnation of its latest subscribe';

CREATE VIEW mq.consumer_lag AS
    SELECT k.group_id, t.name AS topic, k.partition, o.committed_offset,
           mq.latest_offset(t.name, k.partition) AS high_watermark,
           mq.latest_offset(t.name, k.partition) - coalesce(o.committed_offset, mq.earliest_offset(t.name, k.partition)) AS lag,
           ga.member_id
      FROM (SELECT group_id, topic_id, partition FROM mq.group_offset
            UNION SELECT group_id, topic_id, partition FROM mq.group_assignment) k
      JOIN mq.topic t ON t.topic_id = k.topic_id
      LEFT JOIN mq.group_offset o
             ON o.group_id = k.group_id AND o.topic_id = k.topic_id AND o.partition = k.partition
      LEFT JOIN mq.group_assignment ga
             ON ga.group_id = k.group_id AND ga.topic_id = k.topic_id AND ga.partition = k.partition;
COMMENT ON VIEW mq.consumer_lag IS 'per group and partition: committed offset, high watermark, lag and owning member';

-------------------------------------------------------------------------------
-- Coordination tree
--
-- A tree of nodes with ZooKeeper's semantics.  Every node has data, a data
-- version (bumped by each set) and a children version (bumped by each
-- child created or deleted).  Ephemeral nodes belong to a session (bound
-- the way session-bound group members are: by (pid, backend start), gone
-- from the session's exit callback or, after a crash, at the next sweep)
-- or to a lease (a TTL renewed by keepalive, for connection poolers).
-- Several changes in one transaction are atomic, as ZooKeeper's multi.
--
-- Watches: a trigger sends one NOTIFY per change on the node's channel
-- (mq.node_watch) and on its parent's, delivered at commit, and wakes the
-- backends blocked in mq.node_wait on either key.
--
-- The node functions are SECURITY DEFINER for the same reason as the
-- group functions: the tree may only be changed through them, since they
-- enforce ownership of ephemeral nodes and the versions.
-------------------------------------------------------------------------------

CREATE TABLE mq.lease (
    lease_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ttl         interval NOT NULL,
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    implicit    boolean NOT NULL DEFAULT false  -- granted by node_create(ttl =>):
                                                -- ends with its last node
);
COMMENT ON TABLE mq.lease IS 'mqext catalog: leases that keep ephemeral nodes alive without a session';

CREATE TABLE mq.node (
    path          text COLLATE "C" PRIMARY KEY,
    parent        text COLLATE "C",        -- NULL for the root
    data          bytea,
    version       integer NOT NULL DEFAULT 0,
    cversion      integer NOT NULL DEFAULT 0,
    num_children  integer NOT NULL DEFAULT 0,
    next_seq      bigint NOT NULL DEFAULT 0,    -- counter of sequential children
    owner_pid     integer,                 -- owning session of an ephemeral
    owner_start   timestamptz,             -- node: (pid, backend start)
    lease_id      bigint REFERENCES mq.lease ON DELETE CASCADE,
    ctime         timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    mtime         timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
CREATE INDEX ON mq.node (parent, path);
CREATE INDEX ON mq.node (owner_pid) WHERE owner_pid IS NOT NULL;
CREATE INDEX ON mq.node (lease_id) WHERE lease_id IS NOT NULL;
INSERT INTO mq.node (path, parent) VALUES ('/', NULL);
COMMENT ON TABLE mq.node IS 'mqext catalog: the coordination tree';

CREATE FUNCTION mq.node_watch(path text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN CASE WHEN octet_length('mq.node.' || path) <= 63 THEN 'mq.node.' || path
                ELSE 'mq.node.' || md5(path) END;
COMMENT ON FUNCTION mq.node_watch(text) IS 'the LISTEN channel of a node: its data changes, creation, deletion and children changes';

/* Paths: absolute, /-separated, no empty, "." or ".." component, no trailing slash, at most 1024 bytes. */
CREATE FUNCTION mq._check_path(path text) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF path IS NULL THEN
        RAISE EXCEPTION 'node path must not be null' USING ERRCODE = '22004';
    END IF;
    IF octet_length(path) > 1024 THEN
        RAISE EXCEPTION 'node path is longer than 1024 bytes' USING ERRCODE = '22023';
    END IF;
    IF path = '/' THEN
        RETURN;
    END IF;
    IF left(path, 1) <> '/' OR right(path, 1) = '/' OR path ~ '//'
       OR path ~ '/\.\.?(/|$)' OR path ~ '[\x00-\x1f\x7f]' THEN
        RAISE EXCEPTION 'invalid node path "%"', path
            USING ERRCODE = '22023',
                  DETAIL = 'A path is absolute and /-separated, without empty, "." or ".." components, control characters or a trailing slash.';
    END IF;
END
$$;

CREATE FUNCTION mq._parent(path text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT
    SET search_path = pg_catalog, pg_temp
    RETURN CASE WHEN path = '/' THEN NULL
                WHEN position('/' IN substr(path, 2)) = 0 THEN '/'
                ELSE regexp_replace(path, '/[^/]*$', '') END;

CREATE FUNCTION mq._node_max_data() RETURNS integer
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    RETURN coalesce((SELECT s.setting::integer FROM pg_settings s WHERE s.name = 'mqext.node_max_data_bytes'), 1048576);

CREATE FUNCTION mq._check_data(data bytea) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF octet_length(data) > mq._node_max_data() THEN
        RAISE EXCEPTION 'node data of % bytes is larger than the limit of % bytes', octet_length(data), mq._node_max_data()
            USING ERRCODE = '22023', HINT = 'Raise mqext.node_max_data_bytes.';
    END IF;
END
$$;

/* Who owns an ephemeral node, as node_get shows it. */
CREATE FUNCTION mq._owner(n mq.node) RETURNS text
    LANGUAGE sql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    RETURN CASE WHEN n.lease_id IS NOT NULL THEN 'lease:' || n.lease_id
                WHEN n.owner_pid IS NOT NULL
                THEN 'session:' || n.owner_pid || ':' || (extract(epoch FROM n.owner_start) * 1000000)::bigint
           END;

/* Delete ephemeral nodes of ended sessions and of expired leases. */
/* Sessions that own ephemeral nodes but have ended. */
CREATE FUNCTION mq._dead_owners() RETURNS TABLE (owner_pid integer, owner_start timestamptz)
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    -- (_session_alive is volatile: it is not pushed below the DISTINCT)
    SELECT s.owner_pid, s.owner_start
      FROM (SELECT DISTINCT n.owner_pid, n.owner_start FROM mq.node n WHERE n.owner_pid IS NOT NULL) s
     WHERE NOT mq._session_alive(s.owner_pid, s.owner_start);
END;

CREATE FUNCTION mq._sweep_nodes() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s record;
BEGIN
    -- Rows another transaction holds are skipped: it is deleting them
    -- (another sweep, their session's exit) or working with them.  Waiting
    -- for them, holding the parents of what we deleted already, is how two
    -- sweeps of the same dead sessions would deadlock.
    FOR s IN SELECT * FROM mq._dead_owners() LOOP
        DELETE FROM mq.node n
         WHERE n.ctid = ANY (ARRAY(SELECT x.ctid FROM mq.node x
                                    WHERE x.owner_pid = s.owner_pid AND x.owner_start = s.owner_start
                                      FOR UPDATE SKIP LOCKED));
    END LOOP;
    IF EXISTS (SELECT 1 FROM mq.lease l WHERE l.expires_at < clock_timestamp()) THEN
        DELETE FROM mq.lease l
         WHERE l.ctid = ANY (ARRAY(SELECT x.ctid FROM mq.lease x
                                    WHERE x.expires_at < clock_timestamp() FOR UPDATE SKIP LOCKED));
    END IF;
END
$$;

CREATE FUNCTION mq._xid_is_mine(x xid) RETURNS boolean
    LANGUAGE c STRICT VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_xid_is_mine';

/* Has this transaction (or a subtransaction of it) changed the tree? */
CREATE FUNCTION mq._xact_changed_nodes() RETURNS boolean
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    -- every change writes a row version: the node's own, or its parent's
    -- (num_children) when it is created or deleted
    SELECT EXISTS (SELECT 1 FROM mq.node n WHERE mq._xid_is_mine(n.xmin));
END;

/*
 * The sweep for functions that read the tree or wait on it: in a
 * transaction of its own, and only when there is something to sweep.  A
 * sweep in the caller's transaction would keep the parents of what it
 * deleted locked until that transaction ends: a reader in a long
 * transaction would hold up every change under them, and a waiter the very
 * change it waits for (a holder's unlock).  Where the caller could not see
 * that transaction's work (its snapshot is the transaction's) or that
 * transaction would wait for the caller's own changes, the caller sweeps
 * itself, as functions that change the tree always do; so does one that
 * holds a leader's node locked (mq.fence sets mq.fenced for the rest of
 * its transaction), which the sweep might delete.
 */
CREATE FUNCTION mq._sweep_nodes_aside() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- A read-only transaction writes nothing, not even aside; a standby
    -- can write nothing, and sees no session of the primary (all would
    -- look dead).  What they read then may still hold nodes of sessions
    -- that ended, until the primary's next sweep (the worker's, or a
    -- read-write caller's).
    IF current_setting('transaction_read_only') = 'on' OR pg_is_in_recovery() THEN
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM mq.lease l WHERE l.expires_at < clock_timestamp())
       AND NOT EXISTS (SELECT 1 FROM mq._dead_owners()) THEN
        RETURN;
    END IF;
    IF current_setting('transaction_isolation') <> 'read committed' OR mq._xact_changed_nodes()
       OR current_setting('mq.fenced', true) = 'on' THEN
        PERFORM mq._sweep_nodes();
        RETURN;
    END IF;
    BEGIN
        PERFORM mq._autonomous('sweep_nodes', NULL);
    EXCEPTION WHEN configuration_limit_exceeded THEN   -- no worker slot free
        PERFORM mq._sweep_nodes();
    END;
END
$$;

/*
 * What every function that waits on the tree needs of its transaction: a
 * fresh snapshot per statement, to see others come and go; and, for one
 * that joins or leaves a line (in a transaction of its own, which the
 * caller waits for), no change of its own to the tree, which that
 * transaction could wait for in turn.
 */
CREATE FUNCTION mq._check_can_wait(fn text, joins boolean) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION '% cannot wait in a % transaction', fn, upper(current_setting('transaction_isolation'))
            USING ERRCODE = '0A000',
                  DETAIL = 'It must see the tree change while it waits, which a transaction snapshot hides.',
                  HINT = 'Call it in a READ COMMITTED transaction.';
    END IF;
    IF joins AND current_setting('transaction_read_only') = 'on' THEN
        -- (its own transactions would write all the same)
        RAISE EXCEPTION 'cannot execute % in a read-only transaction', fn
            USING ERRCODE = '25006';
    END IF;
    IF joins AND (mq._xact_changed_nodes() OR current_setting('mq.fenced', true) = 'on') THEN
        RAISE EXCEPTION '% cannot wait in a transaction that changed or fenced the coordination tree', fn
            USING ERRCODE = '55000',
                  DETAIL = 'It joins and leaves its line in transactions of their own, which would wait for this one.',
                  HINT = 'Commit those changes first.';
    END IF;
END
$$;

/* Keep num_children and cversion of the parent, send the watches. */
CREATE FUNCTION mq._node_changed() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n mq.node;
    event text;
    pcv integer;
BEGIN
    IF TG_OP = 'DELETE' THEN
        n := OLD;
        event := 'deleted';
    ELSE
        n := NEW;
        event := CASE TG_OP WHEN 'INSERT' THEN 'created' ELSE 'changed' END;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.version = NEW.version THEN
        RETURN NULL;   -- only num_children/cversion/next_seq moved: the
                       -- children event below already told the watchers
    END IF;
    PERFORM pg_notify(mq.node_watch(n.path),
                      json_build_object('path', n.path, 'event', event,
                                        'version', CASE WHEN event = 'deleted' THEN NULL ELSE n.version END)::text);
    PERFORM mq._note_key_change('node:' || n.path);
    IF TG_OP IN ('INSERT', 'DELETE') AND n.parent IS NOT NULL THEN
        UPDATE mq.node p
           SET num_children = p.num_children + CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END,
               cversion = p.cversion + 1
         WHERE p.path = n.parent
        RETURNING p.cversion INTO pcv;
        IF FOUND THEN
            PERFORM pg_notify(mq.node_watch(n.parent),
                              json_build_object('path', n.parent, 'event', 'children',
                                                'cversion', pcv, 'child', n.path,
                                                'child_event', event)::text);
            PERFORM mq._note_key_change('node:' || n.parent);
        END IF;
    END IF;
    -- a ttl's lease was the node's alone: it goes with its last node (else
    -- it would linger, unused, until it expired)
    IF TG_OP = 'DELETE' AND n.lease_id IS NOT NULL THEN
        DELETE FROM mq.lease l
         WHERE l.lease_id = n.lease_id AND l.implicit
           AND NOT EXISTS (SELECT 1 FROM mq.node x WHERE x.lease_id = n.lease_id);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER node_changed AFTER INSERT OR UPDATE OR DELETE ON mq.node
    FOR EACH ROW EXECUTE FUNCTION mq._node_changed();

CREATE FUNCTION mq.lease_grant(ttl interval) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id bigint;
BEGIN
    IF ttl IS NULL OR ttl <= interval '0' THEN
        RAISE EXCEPTION 'lease ttl must be positive' USING ERRCODE = '22023';
    END IF;
    INSERT INTO mq.lease (ttl, expires_at) VALUES (ttl, clock_timestamp() + ttl)
        RETURNING lease_id INTO id;
    RETURN id;
END
$$;
COMMENT ON FUNCTION mq.lease_grant(interval) IS 'a lease that keeps its ephemeral nodes alive for ttl after each keepalive';

CREATE FUNCTION mq.lease_keepalive(lease bigint) RETURNS timestamptz
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    exp timestamptz;
BEGIN
    PERFORM mq._sweep_nodes();
    UPDATE mq.lease l SET expires_at = clock_timestamp() + l.ttl
     WHERE l.lease_id = lease RETURNING l.expires_at INTO exp;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'lease % does not exist', lease
            USING ERRCODE = 'MQ025', DETAIL = 'It expired or was revoked; its nodes are gone.';
    END IF;
    RETURN exp;
END
$$;
COMMENT ON FUNCTION mq.lease_keepalive(bigint) IS 'renew a lease; returns its new expiry; fails if it already expired';

CREATE FUNCTION mq.lease_revoke(lease bigint) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM mq.lease l WHERE l.lease_id = lease;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'lease % does not exist', lease USING ERRCODE = 'MQ025';
    END IF;
END
$$;
COMMENT ON FUNCTION mq.lease_revoke(bigint) IS 'end a lease now, deleting its nodes';

CREATE FUNCTION mq._no_node(path text) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'node "%" does not exist', path USING ERRCODE = 'MQ022';
END
$$;

/* The caller may change an ephemeral node only if it owns it. */
CREATE FUNCTION mq._check_owner(n mq.node, lease bigint) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF (n.owner_pid IS NOT NULL
        AND (n.owner_pid <> pg_backend_pid() OR n.owner_start <> mq._session_start()))
       OR (n.lease_id IS NOT NULL AND n.lease_id IS DISTINCT FROM lease) THEN
        RAISE EXCEPTION 'node "%" is ephemeral and owned by %', n.path, mq._owner(n)
            USING ERRCODE = 'MQ026', HINT = 'Only its owner may change or delete it (pass lease => for a leased node).';
    END IF;
END
$$;

/* node_create for a given owning session (see mq._join_line). */
CREATE FUNCTION mq._node_create(path text, data bytea, ephemeral boolean, sequential boolean,
                                ttl interval, lease bigint, owner_pid integer,
                                owner_start timestamptz) RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    par text;
    p mq.node;
    actual text := path;
    seq bigint;
    lid bigint := lease;
    now_ts timestamptz;
BEGIN
    PERFORM mq._check_path(path);
    PERFORM mq._check_data(data);
    IF path = '/' THEN
        RAISE EXCEPTION 'node "/" already exists' USING ERRCODE = 'MQ021';
    END IF;
    IF ttl IS NOT NULL AND lid IS NOT NULL THEN
        RAISE EXCEPTION 'give ttl or lease, not both' USING ERRCODE = '22023';
    END IF;
    PERFORM mq._sweep_nodes();
    IF ttl IS NOT NULL THEN
        lid := mq.lease_grant(ttl);
        UPDATE mq.lease l SET implicit = true WHERE l.lease_id = lid;
    ELSIF lid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM mq.lease l WHERE l.lease_id = lid) THEN
        RAISE EXCEPTION 'lease % does not exist', lid USING ERRCODE = 'MQ025';
    END IF;
    par := mq._parent(path);
    -- lock the parent: sequential numbers and children counts are its own
    SELECT * INTO p FROM mq.node n WHERE n.path = par FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'parent node "%" does not exist', par
            USING ERRCODE = 'MQ022', HINT = 'Create it first, or use mq.node_create_all().';
    END IF;
    IF p.owner_pid IS NOT NULL OR p.lease_id IS NOT NULL THEN
        RAISE EXCEPTION 'ephemeral node "%" cannot have children', par USING ERRCODE = 'MQ024';
    END IF;
    -- the recipes' places in line come from the sequence only: a name of
    -- theirs given by hand would jump a line (mq._in_line)
    -- (a persistent node is never one: mq._in_line ignores it)
    IF NOT sequential AND (ephemeral OR lid IS NOT NULL)
       AND path ~ '/(n_|lock-|p-)[0-9]{10}$' THEN
        RAISE EXCEPTION 'node name "%" is reserved', path
            USING ERRCODE = '22023',
                  DETAIL = 'Names of n_, lock- or p- and ten digits are the places in line of elections, locks and barriers.',
                  HINT = 'Create such nodes with sequential => true, or use mq.elect, mq.lock or mq.barrier.';
    END IF;
    IF sequential THEN
        UPDATE mq.node n SET next_seq = n.next_seq + 1 WHERE n.path = par RETURNING n.next_seq - 1 INTO seq;
        actual := path || lpad(seq::text, 10, '0');
        PERFORM mq._check_path(actual);
    END IF;
    IF EXISTS (SELECT 1 FROM mq.node n WHERE n.path = actual) THEN
        RAISE EXCEPTION 'node "%" already exists', actual USING ERRCODE = 'MQ021';
    END IF;
    now_ts := clock_timestamp();   -- one reading: a new node has mtime = ctime
    INSERT INTO mq.node (path, parent, data, owner_pid, owner_start, lease_id, ctime, mtime)
    VALUES (actual, par, data,
            CASE WHEN ephemeral AND lid IS NULL THEN owner_pid END,
            CASE WHEN ephemeral AND lid IS NULL THEN owner_start END,
            lid, now_ts, now_ts);
    RETURN actual;
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'node "%" already exists', actual USING ERRCODE = 'MQ021';
END
$$;

CREATE FUNCTION mq.node_create(path text, data bytea DEFAULT NULL, ephemeral boolean DEFAULT false,
                               sequential boolean DEFAULT false, ttl interval DEFAULT NULL,
                               lease bigint DEFAULT NULL) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    created text := mq._node_create(path, data, ephemeral, sequential, ttl, lease,
                                    pg_backend_pid(), mq._session_start());
BEGIN
    IF ephemeral AND ttl IS NULL AND lease IS NULL THEN
        PERFORM mq._bind_session();
    END IF;
    RETURN created;
END
$$;
COMMENT ON FUNCTION mq.node_create(text, bytea, boolean, boolean, interval, bigint) IS 'create a node (persistent, ephemeral, leased; optionally sequential); returns the path created';

CREATE FUNCTION mq.node_create(path text, data text, ephemeral boolean DEFAULT false,
                               sequential boolean DEFAULT false, ttl interval DEFAULT NULL,
                               lease bigint DEFAULT NULL) RETURNS text
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    RETURN mq.node_create(path, convert_to(data, 'UTF8'), ephemeral, sequential, ttl, lease);
COMMENT ON FUNCTION mq.node_create(text, text, boolean, boolean, interval, bigint) IS 'node_create with text data (stored as UTF-8)';

CREATE FUNCTION mq.node_create(path text, data jsonb, ephemeral boolean DEFAULT false,
                               sequential boolean DEFAULT false, ttl interval DEFAULT NULL,
                               lease bigint DEFAULT NULL) RETURNS text
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    RETURN mq.node_create(path, convert_to(data::text, 'UTF8'), ephemeral, sequential, ttl, lease);
COMMENT ON FUNCTION mq.node_create(text, jsonb, boolean, boolean, interval, bigint) IS 'node_create with JSON data';

CREATE FUNCTION mq.node_create_all(path text, data bytea DEFAULT NULL, ephemeral boolean DEFAULT false,
                                   sequential boolean DEFAULT false, ttl interval DEFAULT NULL,
                                   lease bigint DEFAULT NULL) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    prefix text := '';
    parts text[];
BEGIN
    PERFORM mq._check_path(path);
    parts := string_to_array(substr(path, 2), '/');
    FOR i IN 1 .. cardinality(parts) - 1 LOOP
        prefix := prefix || '/' || parts[i];
        IF NOT EXISTS (SELECT 1 FROM mq.node n WHERE n.path = prefix) THEN
            BEGIN
                PERFORM mq.node_create(prefix);
            EXCEPTION WHEN SQLSTATE 'MQ021' THEN
                NULL;   -- created concurrently: fine
            END;
        END IF;
    END LOOP;
    RETURN mq.node_create(path, data, ephemeral, sequential, ttl, lease);
END
$$;
COMMENT ON FUNCTION mq.node_create_all(text, bytea, boolean, boolean, interval, bigint) IS 'node_create, creating missing parents as persistent nodes';

CREATE FUNCTION mq.node_create_all(path text, data text, ephemeral boolean DEFAULT false,
                                   sequential boolean DEFAULT false, ttl interval DEFAULT NULL,
                                   lease bigint DEFAULT NULL) RETURNS text
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    RETURN mq.node_create_all(path, convert_to(data, 'UTF8'), ephemeral, sequential, ttl, lease);
COMMENT ON FUNCTION mq.node_create_all(text, text, boolean, boolean, interval, bigint) IS 'node_create_all with text data (stored as UTF-8)';

CREATE FUNCTION mq.node_create_all(path text, data jsonb, ephemeral boolean DEFAULT false,
                                   sequential boolean DEFAULT false, ttl interval DEFAULT NULL,
                                   lease bigint DEFAULT NULL) RETURNS text
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    RETURN mq.node_create_all(path, convert_to(data::text, 'UTF8'), ephemeral, sequential, ttl, lease);
COMMENT ON FUNCTION mq.node_create_all(text, jsonb, boolean, boolean, interval, bigint) IS 'node_create_all with JSON data';

CREATE FUNCTION mq._node_get(p text) RETURNS SETOF mq.node
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM mq._check_path(p);
    PERFORM mq._sweep_nodes_aside();
    RETURN QUERY SELECT * FROM mq.node n WHERE n.path = p;
    IF NOT FOUND THEN
        PERFORM mq._no_node(p);
    END IF;
END
$$;

-- SQL, not PL/pgSQL: the parameter and an output column are both "path"
CREATE FUNCTION mq.node_get(path text)
    RETURNS TABLE (path text, data bytea, version integer, cversion integer, num_children integer,
                   ephemeral_owner text, ctime timestamptz, mtime timestamptz)
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT n.path, n.data, n.version, n.cversion, n.num_children, mq._owner(n), n.ctime, n.mtime
      FROM mq._node_get(node_get.path) n;
END;
COMMENT ON FUNCTION mq.node_get(text) IS 'a node with its data and versions';

CREATE FUNCTION mq.node_exists(path text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
    PERFORM mq._check_path(path);
    PERFORM mq._sweep_nodes_aside();
    RETURN EXISTS (SELECT 1 FROM mq.node n WHERE n.path = path);
END
$$;
COMMENT ON FUNCTION mq.node_exists(text) IS 'whether a node exists';

CREATE FUNCTION mq.node_children(path text) RETURNS SETOF text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
    PERFORM mq._check_path(path);
    PERFORM mq._sweep_nodes_aside();
    IF NOT EXISTS (SELECT 1 FROM mq.node n WHERE n.path = path) THEN
        PERFORM mq._no_node(path);
    END IF;
    RETURN QUERY SELECT substr(n.path, length(path) + CASE WHEN path = '/' THEN 1 ELSE 2 END)
                   FROM mq.node n WHERE n.parent = path ORDER BY n.path;
END
$$;
COMMENT ON FUNCTION mq.node_children(text) IS 'the names of a node''s children, sorted';

CREATE FUNCTION mq.node_set(path text, data bytea, expected_version integer DEFAULT -1,
                            lease bigint DEFAULT NULL) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    n mq.node;
BEGIN
    PERFORM mq._check_path(path);
    PERFORM mq._check_data(data);
    PERFORM mq._sweep_nodes();
    SELECT * INTO n FROM mq.node x WHERE x.path = path FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        PERFORM mq._no_node(path);
    END IF;
    PERFORM mq._check_owner(n, lease);
    IF expected_version IS NOT NULL AND expected_version <> -1 AND expected_version <> n.version THEN
        RAISE EXCEPTION 'version mismatch on node "%": expected %, found %', path, expected_version, n.version
            USING ERRCODE = 'MQ020';
    END IF;
    UPDATE mq.node x SET data = node_set.data, version = x.version + 1, mtime = clock_timestamp()
     WHERE x.path = path RETURNING x.version INTO n.version;
    RETURN n.version;
END
$$;
COMMENT ON FUNCTION mq.node_set(text, bytea, integer, bigint) IS 'set a node''s data if its version is expected_version (-1: any); returns the new version';

CREATE FUNCTION mq.node_set(path text, data text, expected_version integer DEFAULT -1,
                            lease bigint DEFAULT NULL) RETURNS integer
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    RETURN mq.node_set(path, convert_to(data, 'UTF8'), expected_version, lease);
COMMENT ON FUNCTION mq.node_set(text, text, integer, bigint) IS 'node_set with text data (stored as UTF-8)';

CREATE FUNCTION mq.node_set(path text, data jsonb, expected_version integer DEFAULT -1,
                            lease bigint DEFAULT NULL) RETURNS integer
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    RETURN mq.node_set(path, convert_to(data::text, 'UTF8'), expected_version, lease);
COMMENT ON FUNCTION mq.node_set(text, jsonb, integer, bigint) IS 'node_set with JSON data';

CREATE FUNCTION mq.node_delete(path text, expected_version integer DEFAULT -1, recursive boolean DEFAULT false,
                               lease bigint DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    n mq.node;
    d mq.node;
BEGIN
    PERFORM mq._check_path(path);
    IF path = '/' THEN
        RAISE EXCEPTION 'the root node cannot be deleted' USING ERRCODE = '22023';
    END IF;
    PERFORM mq._sweep_nodes();
    SELECT * INTO n FROM mq.node x WHERE x.path = path FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM mq._no_node(path);
    END IF;
    PERFORM mq._check_owner(n, lease);
    IF expected_version IS NOT NULL AND expected_version <> -1 AND expected_version <> n.version THEN
        RAISE EXCEPTION 'version mismatch on node "%": expected %, found %', path, expected_version, n.version
            USING ERRCODE = 'MQ020';
    END IF;
    IF n.num_children > 0 AND NOT recursive THEN
        RAISE EXCEPTION 'node "%" has % children', path, n.num_children
            USING ERRCODE = 'MQ023', HINT = 'Delete them first, or pass recursive => true.';
    END IF;
    -- deepest first, so that every parent still exists when its child goes
    FOR d IN SELECT * FROM mq.node x WHERE x.path LIKE replace(replace(replace(path, '\', '\\'), '%', '\%'), '_', '\_') || '/%'
              ORDER BY length(x.path) DESC, x.path FOR UPDATE LOOP
        PERFORM mq._check_owner(d, lease);
        DELETE FROM mq.node x WHERE x.path = d.path;
    END LOOP;
    DELETE FROM mq.node x WHERE x.path = path;
END
$$;
COMMENT ON FUNCTION mq.node_delete(text, integer, boolean, bigint) IS 'delete a node if its version is expected_version (-1: any); with its subtree when recursive';

CREATE FUNCTION mq.node_wait(path text, known_version integer, timeout_ms integer) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    deadline timestamptz;
    ep bigint;
    v integer;
    next_expiry timestamptz;
BEGIN
    PERFORM mq._check_path(path);
    IF known_version IS NULL OR timeout_ms IS NULL THEN
        RAISE EXCEPTION 'known_version and timeout_ms must not be null' USING ERRCODE = '22004';
    END IF;
    PERFORM mq._check_can_wait('mq.node_wait', false);
    deadline := clock_timestamp() + make_interval(secs => greatest(timeout_ms, 0) / 1000.0);
    LOOP
        ep := mq._key_epoch('node:' || path);
        PERFORM mq._sweep_nodes_aside();
        SELECT x.version INTO v FROM mq.node x WHERE x.path = path;
        IF NOT FOUND AND known_version <> -1 THEN
            RETURN 'deleted';
        ELSIF FOUND AND known_version = -1 THEN
            RETURN 'created';
        ELSIF FOUND AND v <> known_version THEN
            RETURN 'changed';
        END IF;
        EXIT WHEN clock_timestamp() >= deadline;
        -- wake for a change of this node, or when a lease may have expired
        SELECT min(l.expires_at) INTO next_expiry FROM mq.lease l;
        PERFORM mq._wait_key('node:' || path, ep,
                    greatest(1, least(3600000, (extract(epoch FROM least(deadline, coalesce(next_expiry, deadline)) - clock_timestamp()) * 1000)::bigint + 1))::integer);
    END LOOP;
    RETURN 'timeout';
END
$$;
COMMENT ON FUNCTION mq.node_wait(text, integer, integer) IS 'wait until the node''s version differs from known_version (-1: until it exists), it is deleted or created; returns created, changed, deleted or timeout';

-------------------------------------------------------------------------------
-- Recipes: leader election, lock, barrier, fencing tokens
--
-- Candidates (and lock waiters) queue as ephemeral sequential children of
-- a directory node; the first in line leads (holds the lock).  Each waits
-- only for its predecessor's node to go, so a leader's death wakes its
-- successor alone (no herd effect).  The fencing token of a leader is the
-- sequence number of its node: it grows with every new leader.
-------------------------------------------------------------------------------

CREATE FUNCTION mq._autonomous(statement text, args text[]) RETURNS text
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_autonomous';

/*
 * Run by a background worker in a transaction of its own (see
 * src/coord/autonomous.c): create the line's directory if missing and the
 * caller's ephemeral sequential node in it, owned by the caller's session
 * or lease.
 */
CREATE FUNCTION mq._join_line(dir text, base text, data_hex text, owner_pid text,
                              owner_start text, lease text) RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM mq.node n WHERE n.path = dir) THEN
        BEGIN
            PERFORM mq.node_create_all(dir);
        EXCEPTION WHEN SQLSTATE 'MQ021' THEN
            NULL;
        END;
    END IF;
    RETURN mq._node_create(base, decode(data_hex, 'hex'), true, true, NULL, lease::bigint,
                           owner_pid::integer, owner_start::timestamptz);
END
$$;

CREATE FUNCTION mq._leave_line(path text) RETURNS void
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    DELETE FROM mq.node n WHERE n.path = _leave_line.path;
END;

/*
 * Join a line, committed at once: others must see us in it before we wait
 * (they look for their predecessor among committed nodes), and our
 * waiting transaction must hold no lock a leaving predecessor needs.
 */
CREATE FUNCTION mq._join_line_now(dir text, base text, data bytea, lease bigint) RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    mine text;
BEGIN
    PERFORM mq._check_path(dir);
    PERFORM mq._check_data(data);
    IF lease IS NOT NULL AND NOT EXISTS (SELECT 1 FROM mq.lease l WHERE l.lease_id = lease) THEN
        RAISE EXCEPTION 'lease % does not exist', lease USING ERRCODE = 'MQ025';
    END IF;
    mine := mq._autonomous('join_line',
                           ARRAY[dir, base, encode(data, 'hex'), pg_backend_pid()::text,
                                 -- ISO 8601 in UTC: read back the same whatever
                                 -- the worker's DateStyle and TimeZone
                                 to_char(mq._session_start() AT TIME ZONE 'UTC',
                                         'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                                 lease::text]);
    IF lease IS NULL THEN
        PERFORM mq._bind_session();
    END IF;
    RETURN mine;
END
$$;

/*
 * Is a node a place in the line whose names start with base: base and a
 * sequence number, owned by a session or a lease, as the recipes create
 * them?  The recipes ignore any other child, which whoever may create
 * nodes could otherwise place to jump the line, block it for good (a
 * persistent "lock-" sorts first) or be counted at a barrier.
 */
/* The path prefix of a line's places: dir's child name prefix. */
CREATE FUNCTION mq._line_base(dir text, prefix text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN dir || CASE WHEN dir = '/' THEN '' ELSE '/' END || prefix;

CREATE FUNCTION mq._in_line(path text, base text, owner_pid integer, lease_id bigint) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN starts_with(path, base) AND length(path) = length(base) + 10
       AND substr(path, length(base) + 1) ~ '^[0-9]{10}$'
       AND (owner_pid IS NOT NULL OR lease_id IS NOT NULL);

/* This session's (or this lease's) node in the queue under dir, if any. */
CREATE FUNCTION mq._queue_mine(dir text, prefix text, lease bigint) RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT n.path FROM mq.node n
     WHERE n.parent = dir
       AND mq._in_line(n.path, mq._line_base(dir, prefix), n.owner_pid, n.lease_id)
       AND CASE WHEN lease IS NULL
                THEN n.owner_pid = pg_backend_pid() AND n.owner_start = mq._session_start()
                ELSE n.lease_id = lease END
     ORDER BY n.path LIMIT 1;
END;

/*
 * Join the queue under dir (unless already in it) and wait up to
 * timeout_ms (-1: for ever) to be first.  Returns whether we are first;
 * on false our node stays in line unless leave_on_timeout.
 */
CREATE FUNCTION mq._queue_wait(dir text, prefix text, data bytea, timeout_ms integer,
                               lease bigint, leave_on_timeout boolean) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    base text := mq._line_base(dir, prefix);
    mine text;
    pred text;
    ep bigint;
    deadline timestamptz;
    next_expiry timestamptz;
BEGIN
    IF timeout_ms IS NULL OR timeout_ms < -1 THEN
        RAISE EXCEPTION 'timeout_ms must be -1 (no limit) or more' USING ERRCODE = '22023';
    END IF;
    deadline := CASE WHEN timeout_ms = -1 THEN 'infinity'::timestamptz
                     ELSE clock_timestamp() + make_interval(secs => timeout_ms / 1000.0) END;
    PERFORM mq._check_path(dir);
    PERFORM mq._check_can_wait(CASE WHEN leave_on_timeout THEN 'mq.lock' ELSE 'mq.elect' END, true);
    PERFORM mq._sweep_nodes_aside();
    BEGIN
        mine := mq._queue_mine(dir, prefix, lease);
        IF mine IS NULL THEN
            mine := mq._join_line_now(dir, base, data, lease);
        END IF;
        LOOP
            SELECT n.path INTO pred FROM mq.node n
             WHERE n.parent = dir AND mq._in_line(n.path, base, n.owner_pid, n.lease_id)
               AND n.path < mine
             ORDER BY n.path DESC LIMIT 1;
            IF pred IS NULL THEN
                RETURN true;
            END IF;
            -- read the predecessor's epoch, then make sure it is still there
            ep := mq._key_epoch('node:' || pred);
            PERFORM mq._sweep_nodes_aside();
            IF NOT EXISTS (SELECT 1 FROM mq.node n WHERE n.path = pred) THEN
                CONTINUE;
            END IF;
            IF NOT EXISTS (SELECT 1 FROM mq.node n WHERE n.path = mine) THEN
                RAISE EXCEPTION 'our node "%" is gone', mine
                    USING ERRCODE = 'MQ025', DETAIL = 'Its lease expired or it was deleted.';
            END IF;
            IF clock_timestamp() >= deadline THEN
                IF leave_on_timeout THEN
                    PERFORM mq._autonomous('leave_line', ARRAY[mine]);
                END IF;
                RETURN false;
            END IF;
            SELECT min(l.expires_at) INTO next_expiry FROM mq.lease l;
            PERFORM mq._wait_key('node:' || pred, ep,
                        greatest(1, least(3600000, (extract(epoch FROM least(deadline, coalesce(next_expiry, deadline)) - clock_timestamp()) * 1000)::bigint + 1))::integer);
        END LOOP;
    EXCEPTION WHEN query_canceled OR others THEN
        -- a lock waiter cancelled (statement_timeout, a cancel request) or
        -- failed leaves the line, or its node would take the lock later
        -- with nobody knowing; a candidate keeps its place, as after a
        -- timeout.  Cancelled while joining, it may have joined or not:
        -- the joining worker is gone by now (MqRunAutonomous), so look.
        IF leave_on_timeout THEN
            mine := coalesce(mine, mq._queue_mine(dir, prefix, lease));
            IF mine IS NOT NULL THEN
                PERFORM mq._autonomous('leave_line', ARRAY[mine]);
            END IF;
        END IF;
        RAISE;
    END;
END
$$;

CREATE FUNCTION mq.elect(election text, data bytea DEFAULT NULL, timeout_ms integer DEFAULT 0,
                         lease bigint DEFAULT NULL) RETURNS boolean
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    RETURN mq._queue_wait(election, 'n_', data, timeout_ms, lease, false);
COMMENT ON FUNCTION mq.elect(text, bytea, integer, bigint) IS 'stand for leader of an election (or keep one''s place in line) and wait up to timeout_ms to lead; true when leading';

CREATE FUNCTION mq.leader(election text) RETURNS TABLE (path text, data bytea)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    PERFORM mq._check_path(election);
    PERFORM mq._sweep_nodes_aside();
    RETURN QUERY SELECT n.path::text, n.data FROM mq.node n
                  WHERE n.parent = election
                    AND mq._in_line(n.path, mq._line_base(election, 'n_'), n.owner_pid, n.lease_id)
                  ORDER BY n.path LIMIT 1;
END
$$;
COMMENT ON FUNCTION mq.leader(text) IS 'the current leader''s node and data (no row when nobody stands)';

CREATE FUNCTION mq.resign(election text, lease bigint DEFAULT NULL) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    mine text := mq._queue_mine(election, 'n_', lease);
BEGIN
    IF mine IS NULL THEN
        RETURN false;
    END IF;
    DELETE FROM mq.node n WHERE n.path = mine;
    RETURN true;
END
$$;
COMMENT ON FUNCTION mq.resign(text, bigint) IS 'leave the line of an election (stepping down if leading); false if not a candidate';

CREATE FUNCTION mq.fencing_token(election text, lease bigint DEFAULT NULL) RETURNS bigint
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    RETURN right(mq._queue_mine(election, 'n_', lease), 10)::bigint;
COMMENT ON FUNCTION mq.fencing_token(text, bigint) IS 'this candidate''s fencing token (its node''s sequence number); NULL if not a candidate';

CREATE FUNCTION mq.fence(election text, token bigint) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    lead text;
BEGIN
    PERFORM mq._check_path(election);
    PERFORM mq._sweep_nodes_aside();
    -- lock the leader's node: it cannot be deleted (nor a successor lead)
    -- before the caller's transaction ends
    SELECT n.path INTO lead FROM mq.node n
     WHERE n.parent = election
       AND mq._in_line(n.path, mq._line_base(election, 'n_'), n.owner_pid, n.lease_id)
     ORDER BY n.path LIMIT 1 FOR KEY SHARE;
    -- the lock lasts until the transaction ends: later sweeps in it must
    -- not be left to a transaction that would wait for it
    PERFORM set_config('mq.fenced', 'on', true);
    IF lead IS NULL OR token IS NULL OR right(lead, 10)::bigint <> token THEN
        RAISE EXCEPTION 'fenced: token % is not the current leader''s of election "%"', token, election
            USING ERRCODE = 'MQ027',
                  DETAIL = CASE WHEN lead IS NULL THEN 'Nobody leads.'
                                ELSE format('The leader''s token is %s.', right(lead, 10)::bigint) END,
                  HINT = 'A deposed leader must stop writing.';
    END IF;
END
$$;
COMMENT ON FUNCTION mq.fence(text, bigint) IS 'fail unless token is the current leader''s; the leader cannot change before the caller''s transaction ends';

CREATE FUNCTION mq.lock(path text, timeout_ms integer DEFAULT -1, lease bigint DEFAULT NULL) RETURNS boolean
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    RETURN mq._queue_wait(path, 'lock-', NULL, timeout_ms, lease, true);
COMMENT ON FUNCTION mq.lock(text, integer, bigint) IS 'take the lock at path, waiting up to timeout_ms (-1: for ever); released by mq.unlock or the end of the session (or lease)';

CREATE FUNCTION mq.unlock(path text, lease bigint DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    mine text := mq._queue_mine(path, 'lock-', lease);
BEGIN
    IF mine IS NULL THEN
        RAISE EXCEPTION '% does not hold or wait for the lock "%"',
                        CASE WHEN lease IS NULL THEN 'this session' ELSE format('lease %s', lease) END, path
            USING ERRCODE = 'MQ028';
    END IF;
    DELETE FROM mq.node n WHERE n.path = mine;
END
$$;
COMMENT ON FUNCTION mq.unlock(text, bigint) IS 'release the lock at path';

/*
 * Run by a background worker (mq._autonomous) for a participant giving up
 * on a barrier: under the barrier node's lock, which every arrival takes,
 * either all have arrived by now, and it stays and passes like the others
 * (who may already have counted it), or it leaves.
 */
/* Who arrived at a barrier: its own children ("p-" and a sequence number). */
CREATE FUNCTION mq._barrier_arrived(path text) RETURNS integer
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT count(*)::integer FROM mq.node n
     WHERE n.parent = _barrier_arrived.path
       AND mq._in_line(n.path, mq._line_base(_barrier_arrived.path, 'p-'), n.owner_pid, n.lease_id);
END;

CREATE FUNCTION mq._leave_barrier(path text, mine text, participants text) RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    arrived integer;
BEGIN
    PERFORM 1 FROM mq.node n WHERE n.path = _leave_barrier.path FOR NO KEY UPDATE;
    arrived := mq._barrier_arrived(_leave_barrier.path);
    IF arrived >= participants::integer THEN
        RETURN 'passed';
    END IF;
    DELETE FROM mq.node n WHERE n.path = mine;
    RETURN 'left';
END
$$;

CREATE FUNCTION mq.barrier(path text, participants integer, timeout_ms integer DEFAULT -1,
                           lease bigint DEFAULT NULL) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    mine text;
    arrived integer;
    ep bigint;
    deadline timestamptz;
BEGIN
    IF participants IS NULL OR participants < 1 THEN
        RAISE EXCEPTION 'participants must be at least 1' USING ERRCODE = '22023';
    END IF;
    IF timeout_ms IS NULL OR timeout_ms < -1 THEN
        RAISE EXCEPTION 'timeout_ms must be -1 (no limit) or more' USING ERRCODE = '22023';
    END IF;
    deadline := CASE WHEN timeout_ms = -1 THEN 'infinity'::timestamptz
                     ELSE clock_timestamp() + make_interval(secs => timeout_ms / 1000.0) END;
    PERFORM mq._check_path(path);
    PERFORM mq._check_can_wait('mq.barrier', true);
    PERFORM mq._sweep_nodes_aside();
    BEGIN
        mine := mq._queue_mine(path, 'p-', lease);
        IF mine IS NULL THEN
            mine := mq._join_line_now(path, mq._line_base(path, 'p-'), NULL, lease);
        END IF;
        LOOP
            ep := mq._key_epoch('node:' || path);
            PERFORM mq._sweep_nodes_aside();
            arrived := mq._barrier_arrived(barrier.path);
            IF arrived >= participants THEN
                RETURN true;
            END IF;
            IF clock_timestamp() >= deadline THEN
                RETURN mq._autonomous('leave_barrier',
                                      ARRAY[path, mine, participants::text]) = 'passed';
            END IF;
            PERFORM mq._wait_key('node:' || path, ep,
                        greatest(1, least(3600000, (extract(epoch FROM deadline - clock_timestamp()) * 1000)::bigint + 1))::integer);
        END LOOP;
    EXCEPTION WHEN query_canceled OR others THEN
        -- cancelled or failed: leave, or the others would count us (if we
        -- joined at all: cancelled while joining, the worker is gone by now)
        mine := coalesce(mine, mq._queue_mine(path, 'p-', lease));
        IF mine IS NOT NULL THEN
            PERFORM mq._autonomous('leave_barrier',
                                   ARRAY[path, mine, participants::text]);
        END IF;
        RAISE;
    END;
END
$$;
COMMENT ON FUNCTION mq.barrier(text, integer, integer, bigint) IS 'arrive at the barrier at path and wait until participants have arrived; on timeout leave it and return false (unless all arrived meanwhile)';

-------------------------------------------------------------------------------
-- Housekeeping: segment rolling, retention, sweeps.  Run by the database's
-- background worker (src/bgw/launcher.c), one topic per transaction so
-- that no lock outlives the step that needed it.
-------------------------------------------------------------------------------

/*
 * Drop one segment whole (never DELETE: no bloat, and O(1)), after moving
 * each partition's log start past the segment's last offset.  Gives up,
 * returning false, rather than wait more than a second for its readers,
 * and never queues other readers behind its lock request.
 *
 * The caller decided from the nbatches batches it saw.  Appends that began
 * before the segment's roll may still commit into it while we wait for the
 * lock (a roll does not wait for them); if any did, the decision is no
 * longer sound and the segment waits for the next run.  (The recount needs
 * a fresh snapshot: the worker runs in READ COMMITTED whatever the
 * database's default.)
 */
CREATE FUNCTION mq._drop_segment(p_topic_id integer, p_segment bigint, nbatches bigint) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel text := format('mq_data.%I', 'seg_' || p_segment);
    bytes bigint;
    topic text;
    n bigint;
BEGIN
    BEGIN
        -- the topic's log first (DROP TABLE of a partition locks its
        -- parent), then the segment: the order in which a query on
        -- mq_data.log takes them, and neither request queues anyone
        PERFORM mq._lock_segment(format('mq_data.%I', 'topic_' || p_topic_id)::regclass, 1000);
        PERFORM mq._lock_segment(rel::regclass, 1000);
        -- a bound on anything else this step could wait for (a row of
        -- mq.partition held by an open delete_records)
        PERFORM set_config('lock_timeout', '1000', true);
        EXECUTE format('SELECT count(*) FROM %s', rel) INTO n;
        IF n <> nbatches THEN
            RAISE EXCEPTION USING ERRCODE = 'lock_not_available';   -- undo, release: next run
        END IF;
        EXECUTE format('UPDATE mq.partition p SET log_start_offset = greatest(p.log_start_offset, x.last + 1)
                          FROM (SELECT l.partition, max(l.last_offset) AS last FROM %s l GROUP BY l.partition) x
                         WHERE p.topic_id = %s AND p.partition = x.partition', rel, p_topic_id);
        bytes := pg_total_relation_size(rel::regclass);
        DELETE FROM mq.segment s WHERE s.segment_id = p_segment;
        EXECUTE format('DROP TABLE %s', rel);
        PERFORM set_config('lock_timeout', '0', true);
    EXCEPTION WHEN lock_not_available OR deadlock_detected OR undefined_table THEN
        -- undefined_table: someone dropped it (or its topic) first
        PERFORM set_config('lock_timeout', '0', true);
        RETURN false;
    END;
    SELECT t.name INTO topic FROM mq.topic t WHERE t.topic_id = p_topic_id;
    RAISE LOG 'mqext: dropped segment % of topic "%" (% bytes)', p_segment, topic, bytes;
    RETURN true;
END
$$;

/*
 * Housekeeping of the first topic whose id is above `after`; returns that
 * id, or NULL when there is none left.
 *
 * Rolling: the active segment is replaced when it passed segment.ms or
 * segment.bytes and holds anything (an idle topic's empty segment just
 * restarts its clock).  A run that rolls does nothing else, so that its
 * transaction ends at once and producers see the new segment; compaction
 * and retention come at the next run.
 *
 * Retention drops the oldest inactive segments, in order, while any of:
 * its newest record is older than retention.ms; some partition of the
 * topic would still hold at least retention.bytes without it (Kafka's rule;
 * a segment holds every partition of its topic, so accounting is per
 * partition but dropping is per segment: a partition may keep less than
 * retention.bytes when a sibling is larger); every batch in it lies below
 * its partition's log start (moved by mq.delete_records); it is empty.
 * -1 disables each limit.  The last two apply to compacted topics too
 * (cleanup.policy compact alone), the limits only with delete.
 */
CREATE FUNCTION mq._housekeeping_topic(after integer) RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t record;
    cfg jsonb;
    active record;
    seg record;
    rel text;
    has_rows boolean;
    newest timestamptz;
    below boolean;
    nbatches bigint;
    over boolean;
    retention_ms bigint;
    retention_bytes bigint;
BEGIN
    SELECT x.topic_id, x.name, mq.default_config() || x.config AS cfg INTO t
      FROM mq.topic x WHERE x.topic_id > after ORDER BY x.topic_id LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    cfg := t.cfg;
    retention_ms := (cfg->>'retention.ms')::bigint;
    retention_bytes := (cfg->>'retention.bytes')::bigint;
    SELECT s.segment_id, s.created_at INTO active
      FROM mq.segment s WHERE s.topic_id = t.topic_id ORDER BY s.segment_id DESC LIMIT 1;
    IF active.segment_id IS NULL THEN
        RETURN t.topic_id;                  -- dropped since we read its row
    END IF;
    rel := format('mq_data.%I', 'seg_' || active.segment_id);
    -- the rest reads relations that a drop_topic committing meanwhile takes
    -- away (undefined_table, or undefined_object from the topic's lookup):
    -- then there is nothing left to keep
    BEGIN
        IF coalesce(current_setting('mqext.enable_segment_roll', true), 'on') <> 'off'
           AND (clock_timestamp() - active.created_at > make_interval(secs => (cfg->>'segment.ms')::numeric / 1000)
                OR pg_total_relation_size(rel::regclass) > (cfg->>'segment.bytes')::bigint) THEN
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s)', rel) INTO has_rows;
            IF has_rows THEN
                -- the roll's CREATE TABLE ... PARTITION OF takes the topic's
                -- log exclusively: take it politely, never queued behind a
                -- long reader of it with every later reader queued behind
                -- us, and leave the roll to a later round meanwhile
                -- (the topic's row first, as drop_topic takes them, without
                -- waiting: the new segment's row references it)
                BEGIN
                    PERFORM 1 FROM mq.topic x WHERE x.topic_id = t.topic_id FOR KEY SHARE NOWAIT;
                    PERFORM mq._lock_segment(format('mq_data.%I', 'topic_' || t.topic_id)::regclass, 1000);
                EXCEPTION WHEN lock_not_available THEN
                    RAISE LOG 'mqext: topic "%" not rolled yet: its log is in use', t.name;
                    RETURN t.topic_id;
                END;
                -- another run may have rolled it while we waited
                IF (SELECT max(s.segment_id) FROM mq.segment s WHERE s.topic_id = t.topic_id)
                   IS DISTINCT FROM active.segment_id THEN
                    RETURN t.topic_id;
                END IF;
                PERFORM mq._create_segment(t.topic_id);
                RAISE LOG 'mqext: topic "%" rolled to a new segment after segment %', t.name, active.segment_id;
                -- commit now: producers move to the new segment once they see it
                RETURN t.topic_id;
            ELSE
                UPDATE mq.segment s SET created_at = now() WHERE s.segment_id = active.segment_id;
            END IF;
        END IF;

        -- Retention before compaction: a compaction that fails must not
        -- hold off retention (a full disk is when retention is needed
        -- most), and compaction's exclusive locks on the segments it
        -- rewrote are best held to the end of the step for the shortest time.
        IF coalesce(current_setting('mqext.enable_retention', true), 'on') <> 'off' THEN
            FOR seg IN SELECT s.segment_id FROM mq.segment s
                        WHERE s.topic_id = t.topic_id AND s.segment_id < active.segment_id
                        ORDER BY s.segment_id LOOP
                rel := format('mq_data.%I', 'seg_' || seg.segment_id);
                BEGIN
                    EXECUTE format('SELECT max(l.max_ts), bool_and(l.last_offset < p.log_start_offset), count(*)
                                      FROM %s l JOIN mq.partition p ON p.topic_id = %s AND p.partition = l.partition',
                                   rel, t.topic_id) INTO newest, below, nbatches;
                EXCEPTION WHEN undefined_table THEN
                    -- dropped since we listed it (another drop, a drop_topic)
                    CONTINUE;
                END;
                IF newest IS NOT NULL AND NOT below THEN
                    -- records above the log start: only the delete policy's
                    -- limits drop them (a compacted topic keeps its keys)
                    EXIT WHEN cfg->>'cleanup.policy' NOT IN ('delete', 'compact,delete');
                    IF retention_ms < 0 OR newest >= clock_timestamp() - make_interval(secs => retention_ms / 1000.0) THEN
                        IF retention_bytes < 0 THEN
                            EXIT;
                        END IF;
                        -- Kafka's rule: only while some partition keeps at
                        -- least retention.bytes without the segment
                        EXECUTE format('SELECT coalesce(bool_or(a.sz - coalesce(x.sz, 0) >= %s), false)
                                          FROM (SELECT l.partition, sum(octet_length(l.batch)) AS sz
                                                  FROM mq_data.%I l GROUP BY l.partition) a
                                          LEFT JOIN (SELECT l.partition, sum(octet_length(l.batch)) AS sz
                                                       FROM %s l GROUP BY l.partition) x USING (partition)',
                                       retention_bytes, 'topic_' || t.topic_id, rel) INTO over;
                        EXIT WHEN NOT over;
                    END IF;
                END IF;
                EXIT WHEN NOT mq._drop_segment(t.topic_id, seg.segment_id, nbatches);
            END LOOP;
        END IF;

        IF coalesce(current_setting('mqext.enable_compaction', true), 'on') <> 'off'
           AND cfg->>'cleanup.policy' IN ('compact', 'compact,delete') THEN
            PERFORM mq._compact(t.topic_id, t.name, cfg, active.segment_id);
        END IF;
    EXCEPTION WHEN undefined_table OR undefined_object THEN
        IF EXISTS (SELECT 1 FROM mq.topic x WHERE x.topic_id = t.topic_id) THEN
            RAISE;
        END IF;
    END;
    RETURN t.topic_id;
END
$$;

CREATE FUNCTION mq._lock_segment(rel regclass, timeout_ms integer) RETURNS void
    LANGUAGE c STRICT VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_lock_segment';
COMMENT ON FUNCTION mq._lock_segment(regclass, integer) IS 'internal: ACCESS EXCLUSIVE lock on a relation of mq_data (a segment or a topic''s log), retried without queueing for up to timeout_ms (55P03 then)';

CREATE FUNCTION mq._compact_topic(topic text, ncleanable integer, horizon_ms bigint,
                                  min_dirty_ratio double precision) RETURNS bigint
    LANGUAGE c STRICT VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_compact_topic';

CREATE FUNCTION mq._compact_pending(topic text, ncleanable integer) RETURNS boolean
    LANGUAGE c STRICT VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_compact_pending';

/*
 * Compact a topic (src/log/compact.c): the cleanable segments are the
 * oldest inactive ones whose newest record is older than
 * min.compaction.lag.ms, up to the first that is not.  Rewrites one
 * segment; returns whether more are left in the plan (mq._compact_more).
 * Gives up for this round rather than wait more than a second for a
 * segment's readers.
 */
CREATE FUNCTION mq._compact(p_topic_id integer, p_topic text, cfg jsonb, active bigint) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    seg record;
    newest timestamptz;
    n integer := 0;
    lag interval := make_interval(secs => (cfg->>'min.compaction.lag.ms')::numeric / 1000);
BEGIN
    FOR seg IN SELECT s.segment_id FROM mq.segment s
                WHERE s.topic_id = p_topic_id AND s.segment_id < active ORDER BY s.segment_id LOOP
        EXECUTE format('SELECT max(l.max_ts) FROM mq_data.%I l', 'seg_' || seg.segment_id) INTO newest;
        EXIT WHEN newest IS NOT NULL AND newest > clock_timestamp() - lag;
        n := n + 1;
    END LOOP;
    IF n = 0 THEN
        RETURN false;
    END IF;
    BEGIN
        PERFORM set_config('lock_timeout', '1000', true);
        PERFORM mq._compact_topic(p_topic, n,
                    ((extract(epoch FROM clock_timestamp()) * 1000)::bigint
                     - (cfg->>'delete.retention.ms')::bigint),
                    (cfg->>'min.cleanable.dirty.ratio')::double precision);
        PERFORM set_config('lock_timeout', '0', true);
    EXCEPTION
        WHEN lock_not_available OR deadlock_detected THEN
            PERFORM set_config('lock_timeout', '0', true);
            RETURN false;
        WHEN OTHERS THEN
            -- A compaction that fails (a full disk while it copies, a batch
            -- it cannot decode, memory) is undone and reported; the round
            -- goes on with retention already done and the other topics.
            PERFORM set_config('lock_timeout', '0', true);
            DECLARE
                state text;
                msg text;
            BEGIN
                GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
                RAISE WARNING 'mqext: compaction of topic "%" failed: %', p_topic, msg
                    USING DETAIL = format('SQLSTATE %s.  It is retried at the next round.', state);
            END;
            RETURN false;
    END;
    RETURN mq._compact_pending(p_topic, n);
END
$$;

/*
 * The next segment of a topic's compaction plan, in a transaction of its
 * own (the worker calls it after mq._housekeeping_topic while it returns
 * true, for up to mqext.housekeeping_interval): the plan's map is built
 * once, and each swap's locks are released as soon as it is done.
 */
CREATE FUNCTION mq._compact_more(p_topic_id integer) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t record;
BEGIN
    SELECT x.name, mq.default_config() || x.config AS cfg INTO t
      FROM mq.topic x WHERE x.topic_id = p_topic_id;
    IF NOT FOUND
       OR coalesce(current_setting('mqext.enable_compaction', true), 'on') = 'off'
       OR t.cfg->>'cleanup.policy' NOT IN ('compact', 'compact,delete')
       OR NOT mq._compact_pending(t.name, 2147483647) THEN
        RETURN false;
    END IF;
    RETURN mq._compact(p_topic_id, t.name, t.cfg,
                       (SELECT max(s.segment_id) FROM mq.segment s WHERE s.topic_id = p_topic_id));
EXCEPTION WHEN undefined_table OR undefined_object THEN
    -- the topic dropped meanwhile: nothing to report
    IF EXISTS (SELECT 1 FROM mq.topic x WHERE x.topic_id = p_topic_id) THEN
        RAISE;
    END IF;
    RETURN false;
END
$$;

/* Sweep expired group members, leases and ephemeral nodes of ended sessions. */
CREATE FUNCTION mq._housekeeping_sweep() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g text;
BEGIN
    IF coalesce(current_setting('mqext.enable_sweeps', true), 'on') = 'off' THEN
        RETURN;
    END IF;
    PERFORM mq._sweep_nodes();
    FOR g IN SELECT cg.group_id FROM mq.consumer_group cg ORDER BY 1 LOOP
        PERFORM mq._sweep(g);
    END LOOP;
END
$$;

CREATE FUNCTION mq.delete_records(topic text, partition integer, before_offset bigint) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    id integer := mq._topic_id(topic);
    lso bigint;
    result bigint;
BEGIN
    IF partition IS NULL THEN
        RAISE EXCEPTION 'partition must not be null' USING ERRCODE = '22004';
    END IF;
    lso := mq.latest_offset(topic, partition);   -- checks the partition
    IF before_offset IS NULL OR before_offset < 0 OR before_offset > lso THEN
        RAISE EXCEPTION 'offset % is out of range for topic "%" partition %', before_offset, topic, partition
            USING ERRCODE = '22023', DETAIL = format('The high watermark is %s.', lso);
    END IF;
    UPDATE mq.partition p SET log_start_offset = greatest(p.log_start_offset, before_offset)
     WHERE p.topic_id = id AND p.partition = delete_records.partition
    RETURNING p.log_start_offset INTO result;
    RETURN result;
END
$$;
COMMENT ON FUNCTION mq.delete_records(text, integer, bigint) IS 'move a partition''s log start to before_offset (Kafka''s deleteRecords); returns the new log start; the space goes with the segments';

CREATE VIEW mq.segments AS
    SELECT t.name AS topic, s.segment_id AS segment,
           format('mq_data.%I', 'seg_' || s.segment_id)::regclass AS relation,
           s.created_at, r.first_ts, r.last_ts,
           pg_catalog.pg_total_relation_size(format('mq_data.%I', 'seg_' || s.segment_id)::regclass) AS size_bytes,
           s.segment_id = (SELECT max(s2.segment_id) FROM mq.segment s2 WHERE s2.topic_id = s.topic_id) AS active,
           s.cleaned
      FROM mq.segment s JOIN mq.topic t ON t.topic_id = s.topic_id
      -- the time range of its records (run-time pruning reads only this segment)
      CROSS JOIN LATERAL (SELECT pg_catalog.min(l.base_ts) AS first_ts, pg_catalog.max(l.max_ts) AS last_ts
                            FROM mq_data.log l
                           WHERE l.topic_id = s.topic_id AND l.segment_id = s.segment_id) r;
COMMENT ON VIEW mq.segments IS 'segments of every topic: relation, creation time, time range of its records, size, whether active, whether compaction cleaned it';

-------------------------------------------------------------------------------
-- Statistics (kept in shared memory, never written on the hot path; they
-- start again from zero at a server restart or mq.stats_reset())
-------------------------------------------------------------------------------

CREATE FUNCTION mq._stats(OUT topic_relid oid, OUT partition integer, OUT records_appended bigint,
                          OUT bytes_appended bigint, OUT produce_calls bigint,
                          OUT records_fetched bigint, OUT fetch_calls bigint)
    RETURNS SETOF record
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_stats';

CREATE FUNCTION mq._slots_in_use() RETURNS integer
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_slots_in_use';
COMMENT ON FUNCTION mq._slots_in_use() IS 'internal: partitions with state in shared memory, in all databases (at most mqext.max_partitions)';

CREATE FUNCTION mq._forget_vanished() RETURNS void
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_forget_vanished';
COMMENT ON FUNCTION mq._forget_vanished() IS 'internal: release the shared state of partitions whose topic is gone (the worker does it every round)';

CREATE VIEW mq.stats AS
    SELECT t.name AS topic, p.partition,
           coalesce(s.records_appended, 0) AS records_appended,
           coalesce(s.bytes_appended, 0) AS bytes_appended,
           coalesce(s.records_fetched, 0) AS records_fetched,
           coalesce(s.produce_calls, 0) AS produce_calls,
           coalesce(s.fetch_calls, 0) AS fetch_calls
      FROM mq.topic t
      JOIN mq.partition p ON p.topic_id = t.topic_id
      -- the topic's log by name in pg_class (readable by all), not by a
      -- regclass lookup, which needs USAGE on the closed schema mq_data
      LEFT JOIN (SELECT c.oid, c.relname FROM pg_catalog.pg_class c
                   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = 'mq_data') r ON r.relname = 'topic_' || t.topic_id
      LEFT JOIN mq._stats() s
             ON s.topic_relid = r.oid AND s.partition = p.partition;
COMMENT ON VIEW mq.stats IS 'per partition: records and bytes appended, records fetched, produce and fetch calls since the last reset';

CREATE FUNCTION mq.stats_reset() RETURNS void
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_stats_reset';
COMMENT ON FUNCTION mq.stats_reset() IS 'zero the statistics of this database''s partitions';

-------------------------------------------------------------------------------
-- Privileges: nothing that reads or writes records is open to PUBLIC.
-------------------------------------------------------------------------------

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA mq FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mq.partition_for(bytea, integer) TO PUBLIC;
GRANT EXECUTE ON FUNCTION mq.default_config() TO PUBLIC;
GRANT EXECUTE ON FUNCTION mq.default_consumer_config() TO PUBLIC;
GRANT EXECUTE ON FUNCTION mq.watch_channel(text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION mq.node_watch(text) TO PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('mq.topic', '');
SELECT pg_catalog.pg_extension_config_dump('mq.partition', '');
SELECT pg_catalog.pg_extension_config_dump('mq.offset_ceiling', '');
SELECT pg_catalog.pg_extension_config_dump('mq.segment', '');
SELECT pg_catalog.pg_extension_config_dump('mq.segment_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mq.producer', '');
SELECT pg_catalog.pg_extension_config_dump('mq.producer_state', '');
SELECT pg_catalog.pg_extension_config_dump('mq.consumer_group', '');
SELECT pg_catalog.pg_extension_config_dump('mq.group_member', '');
SELECT pg_catalog.pg_extension_config_dump('mq.member_incarnation', '');
SELECT pg_catalog.pg_extension_config_dump('mq.group_assignment', '');
SELECT pg_catalog.pg_extension_config_dump('mq.group_offset', '');
SELECT pg_catalog.pg_extension_config_dump('mq.lease', '');
SELECT pg_catalog.pg_extension_config_dump('mq.node', 'WHERE path <> ''/''');

-- start this database's background worker now rather than at the
-- launcher's next scan
CREATE FUNCTION mq._launcher_wakeup() RETURNS void
    LANGUAGE c
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_launcher_wakeup';
REVOKE EXECUTE ON FUNCTION mq._launcher_wakeup() FROM PUBLIC;
SELECT mq._launcher_wakeup();
