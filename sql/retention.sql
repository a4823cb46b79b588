-- Housekeeping run by hand (mq._housekeeping_topic): segment rolling by
-- segment.bytes, retention by retention.bytes, retention.ms and the log
-- start, mq.delete_records, fetch and consumer groups below the log start.
--
-- This database's background worker runs the same housekeeping every
-- mqext.housekeeping_interval (10 s here).  The topics below never depend on
-- the clock (segment.ms is left at 7 days, and retention.ms is tested with
-- records whose timestamps are hours old or new), so every state they are
-- left in between two statements is one that another run of housekeeping
-- leaves as it is: whether the worker or pg_temp.hk() gets there first, the
-- result is the same.  pg_temp.hk() locks mq.topic so that it never runs at
-- the same time as one of the worker's runs.
CREATE EXTENSION IF NOT EXISTS mqext;
\set VERBOSITY terse
\set SHOW_CONTEXT never
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- housekeeping of one topic, run until it has nothing left to do: twice,
-- as a segment that a run rolls is up for retention from the next run on;
-- true when it ran on that topic
CREATE FUNCTION pg_temp.hk(tp text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    id integer;
BEGIN
    LOCK TABLE mq.topic IN ACCESS EXCLUSIVE MODE;   -- not alongside the worker
    SELECT t.topic_id INTO id FROM mq.topic t WHERE t.name = tp;
    RETURN mq._housekeeping_topic(id - 1) = id AND mq._housekeeping_topic(id - 1) = id;
END $$;
-- the segments of a topic, oldest first: what each holds, per partition
CREATE FUNCTION pg_temp.segs(tp text)
    RETURNS TABLE (n bigint, active boolean, holds text)
    LANGUAGE sql AS $$
    SELECT row_number() OVER (ORDER BY s.segment), s.active,
           coalesce((SELECT string_agg(format('p%s:%s-%s', x.partition, x.lo, x.hi), ' ' ORDER BY x.partition)
                       FROM (SELECT l.partition, min(l.base_offset) AS lo, max(l.last_offset) AS hi
                               FROM mq_data.log l WHERE l.segment_id = s.segment
                              GROUP BY l.partition) x), '(empty)')
      FROM mq.segments s WHERE s.topic = tp ORDER BY s.segment
$$;
-- log start and high watermark of every partition of a topic
CREATE FUNCTION pg_temp.parts(tp text)
    RETURNS TABLE (partition integer, log_start_offset bigint, high_watermark bigint, segments integer)
    LANGUAGE sql AS $$
    SELECT p.partition, p.log_start_offset, p.high_watermark, p.segments
      FROM mq.partitions p WHERE p.topic = tp ORDER BY 1
$$;
-- the relations of a topic's segments, to check later that they are gone
CREATE TEMP TABLE rels (tag text, rel text, relid oid);
CREATE FUNCTION pg_temp.remember(tag text, tp text) RETURNS bigint LANGUAGE sql AS $$
    INSERT INTO rels SELECT tag, s.relation::text, s.relation::oid
      FROM mq.segments s WHERE s.topic = tp;
    SELECT count(*) FROM rels r WHERE r.tag = remember.tag;
$$;
CREATE FUNCTION pg_temp.gone(tag text)
    RETURNS TABLE (n bigint, segment_gone boolean, relation_gone boolean)
    LANGUAGE sql AS $$
    SELECT row_number() OVER (ORDER BY r.relid),
           NOT EXISTS (SELECT 1 FROM mq.segments s WHERE s.relation::text = r.rel),
           to_regclass(r.rel) IS NULL AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = r.relid)
      FROM rels r WHERE r.tag = gone.tag ORDER BY r.relid
$$;

-- the switches and the interval, with their defaults; they are set in
-- postgresql.conf (a reload), not per session
SHOW mqext.housekeeping_interval;
SHOW mqext.enable_retention;
SHOW mqext.enable_segment_roll;
SHOW mqext.enable_sweeps;
SELECT name, setting, unit, boot_val, context FROM pg_settings
 WHERE name IN ('mqext.housekeeping_interval', 'mqext.enable_retention',
                'mqext.enable_segment_roll', 'mqext.enable_sweeps') ORDER BY name;
SELECT pg_temp.err('SET mqext.enable_retention = off');
SELECT pg_temp.err('SET mqext.housekeeping_interval = ''1s''');

-------------------------------------------------------------------------------
-- Rolling by segment.bytes, retention.bytes
-------------------------------------------------------------------------------
-- segment.bytes 14 (the least): every segment that holds anything rolls
SELECT mq.create_topic('ret.size', 2, '{"segment.bytes": 14, "retention.ms": -1}');
SELECT * FROM pg_temp.segs('ret.size');
-- an empty active segment does not roll
SELECT pg_temp.hk('ret.size');
SELECT * FROM pg_temp.segs('ret.size');
SELECT pg_temp.remember('first', 'ret.size');
-- one transaction: both batches land in the same segment
BEGIN;
SELECT count(*) FROM mq.produce_batch('ret.size', ARRAY['a0', 'a1', 'a2', 'a3', 'a4'], partition => 0);
SELECT count(*) FROM mq.produce_batch('ret.size', ARRAY['b0', 'b1', 'b2'], partition => 1);
COMMIT;
SELECT pg_temp.hk('ret.size');
SELECT * FROM pg_temp.segs('ret.size');
SELECT count(*) FROM mq.produce_batch('ret.size', ARRAY['a5', 'a6', 'a7', 'a8', 'a9'], partition => 0);
SELECT pg_temp.hk('ret.size');
SELECT * FROM pg_temp.segs('ret.size');
-- again: nothing to do (retention.bytes is -1, the active segment is empty)
SELECT pg_temp.hk('ret.size');
SELECT * FROM pg_temp.segs('ret.size');
SELECT * FROM pg_temp.parts('ret.size');
SELECT pg_temp.remember('size', 'ret.size');
-- the segments' sizes are their relations' sizes
SELECT count(*) AS segments, bool_and(size_bytes = pg_total_relation_size(relation)) AS sizes,
       count(*) FILTER (WHERE active) AS active
  FROM mq.segments WHERE topic = 'ret.size';

-- retention.bytes: partition 0 holds two batches of the same size; keep one.
-- The oldest segment goes whole, partition 1's batch with it.
SELECT mq.alter_topic('ret.size', jsonb_build_object('retention.bytes',
         (SELECT octet_length(l.batch) FROM mq_data.log l JOIN mq.topic t USING (topic_id)
           WHERE t.name = 'ret.size' AND l.partition = 0 AND l.base_offset = 5)));
SELECT pg_temp.hk('ret.size');
SELECT * FROM pg_temp.segs('ret.size');
SELECT * FROM pg_temp.parts('ret.size');
SELECT * FROM pg_temp.gone('size');
-- partition 0 is at retention.bytes, not above it: nothing more goes
SELECT pg_temp.hk('ret.size');
SELECT * FROM pg_temp.segs('ret.size');
-- fetch from below the log start starts at the log start
SELECT "offset", value FROM mq.fetch_text('ret.size', 0, 0);
SELECT "offset", value FROM mq.fetch_text('ret.size', 0, 3, 2);
SELECT count(*) FROM mq.fetch_text('ret.size', 1, 0);
SELECT mq.earliest_offset('ret.size', 0), mq.earliest_offset('ret.size', 1);
-- new records go on from the high watermark
SELECT partition, "offset" FROM mq.produce('ret.size', 'b3', partition => 1);
SELECT "offset", value FROM mq.fetch_text('ret.size', 1, 0);
-- one byte of retention: inactive segments go while some partition keeps
-- at least one byte without them (Kafka's rule), so the segment holding
-- partition 1's only batch stays (and the active one always does)
SELECT pg_temp.hk('ret.size');
SELECT mq.alter_topic('ret.size', '{"retention.bytes": 1}');
SELECT pg_temp.hk('ret.size');
SELECT * FROM pg_temp.segs('ret.size');
SELECT * FROM pg_temp.parts('ret.size');
SELECT * FROM pg_temp.gone('size');
-- -1 disables it again.  (In one transaction that keeps the worker out: a
-- worker's step that read retention.bytes 1 and then found a10 would drop
-- partition 1's segment.)
BEGIN;
LOCK TABLE mq.topic IN ACCESS EXCLUSIVE MODE;
SELECT "offset" FROM mq.produce('ret.size', 'a10', partition => 0);
SELECT mq.alter_topic('ret.size', '{"retention.bytes": -1}');
COMMIT;
SELECT "offset", value FROM mq.fetch_text('ret.size', 0, 0);
SELECT pg_temp.hk('ret.size');
SELECT pg_temp.hk('ret.size');
SELECT * FROM pg_temp.segs('ret.size');

-------------------------------------------------------------------------------
-- retention.ms: a segment goes when its newest record is older
-------------------------------------------------------------------------------
SELECT mq.create_topic('ret.time', 1, '{"segment.bytes": 14, "retention.ms": 3600000}');
-- records two hours old: the segment rolls, then goes
BEGIN;
SELECT "offset" FROM mq.produce('ret.time', 'old0', ts => now() - interval '2 hours');
SELECT "offset" FROM mq.produce('ret.time', 'old1', ts => now() - interval '2 hours');
COMMIT;
SELECT pg_temp.remember('time', 'ret.time');
SELECT pg_temp.hk('ret.time');
SELECT * FROM pg_temp.segs('ret.time');
SELECT * FROM pg_temp.parts('ret.time');
SELECT * FROM pg_temp.gone('time');
-- an old record and a new one: the newest decides, the segment stays
BEGIN;
SELECT "offset" FROM mq.produce('ret.time', 'old2', ts => now() - interval '2 hours');
SELECT "offset" FROM mq.produce('ret.time', 'new3', ts => now());
COMMIT;
SELECT pg_temp.hk('ret.time');
SELECT * FROM pg_temp.segs('ret.time');
-- an old segment after one that stays: retention goes oldest first and
-- stops at the first segment it keeps
SELECT "offset" FROM mq.produce('ret.time', 'old4', ts => now() - interval '3 hours');
SELECT pg_temp.hk('ret.time');
SELECT * FROM pg_temp.segs('ret.time');
SELECT "offset", value FROM mq.fetch_text('ret.time', 0, 0);
-- records from the future stay too
SELECT "offset" FROM mq.produce('ret.time', 'future5', ts => now() + interval '1 day');
SELECT pg_temp.hk('ret.time');
SELECT * FROM pg_temp.segs('ret.time');
-- retention.ms -1: nothing goes by age
SELECT mq.alter_topic('ret.time', '{"retention.ms": -1}');
SELECT "offset" FROM mq.produce('ret.time', 'old6', ts => now() - interval '3 hours');
SELECT pg_temp.hk('ret.time');
SELECT mq.delete_records('ret.time', 0, 4);
SELECT pg_temp.hk('ret.time');
SELECT * FROM pg_temp.segs('ret.time');
SELECT * FROM pg_temp.parts('ret.time');
SELECT "offset", value FROM mq.fetch_text('ret.time', 0, 0);

-------------------------------------------------------------------------------
-- mq.delete_records
-------------------------------------------------------------------------------
SELECT mq.create_topic('ret.del', 2, '{"segment.bytes": 14}');
SELECT count(*) FROM mq.produce_batch('ret.del', ARRAY['x0', 'x1', 'x2', 'x3'], partition => 0);
SELECT pg_temp.hk('ret.del');
SELECT count(*) FROM mq.produce_batch('ret.del', ARRAY['x4', 'x5', 'x6', 'x7'], partition => 0);
SELECT pg_temp.hk('ret.del');
SELECT * FROM pg_temp.segs('ret.del');
SELECT pg_temp.remember('del', 'ret.del');
-- bad arguments
SELECT pg_temp.err($$SELECT mq.delete_records('ret.nope', 0, 0)$$);
SELECT pg_temp.err($$SELECT mq.delete_records('ret.del', 2, 0)$$);
SELECT pg_temp.err($$SELECT mq.delete_records('ret.del', -1, 0)$$);
SELECT pg_temp.err($$SELECT mq.delete_records('ret.del', 0, 9)$$);
SELECT pg_temp.err($$SELECT mq.delete_records('ret.del', 0, -1)$$);
SELECT pg_temp.err($$SELECT mq.delete_records('ret.del', 0, NULL)$$);
SELECT pg_temp.err($$SELECT mq.delete_records('ret.del', NULL, 1)$$);
SELECT pg_temp.err($$SELECT mq.delete_records('ret.del', 1, 1)$$);
SELECT * FROM pg_temp.parts('ret.del');
-- inside a segment: the log start moves, the segment stays (it still holds 3)
SELECT mq.delete_records('ret.del', 0, 3);
SELECT mq.earliest_offset('ret.del', 0);
SELECT "offset", value FROM mq.fetch_text('ret.del', 0, 0, 2);
SELECT pg_temp.hk('ret.del');
SELECT * FROM pg_temp.segs('ret.del');
-- never backwards
SELECT mq.delete_records('ret.del', 0, 1);
SELECT mq.earliest_offset('ret.del', 0);
-- past the first segment: it goes at the next run
SELECT mq.delete_records('ret.del', 0, 6);
SELECT * FROM pg_temp.parts('ret.del');
SELECT pg_temp.hk('ret.del');
SELECT * FROM pg_temp.segs('ret.del');
SELECT * FROM pg_temp.gone('del');
SELECT "offset", value FROM mq.fetch_text('ret.del', 0, 0);
-- up to the high watermark (allowed; an empty partition 1 too)
SELECT mq.delete_records('ret.del', 0, 8);
SELECT mq.delete_records('ret.del', 1, 0);
SELECT count(*) FROM mq.fetch('ret.del', 0, 0);
SELECT pg_temp.hk('ret.del');
SELECT * FROM pg_temp.segs('ret.del');
SELECT * FROM pg_temp.parts('ret.del');
SELECT * FROM pg_temp.gone('del');
SELECT partition, "offset" FROM mq.produce('ret.del', 'x8', partition => 0);
SELECT "offset", value FROM mq.fetch_text('ret.del', 0, 0);

-------------------------------------------------------------------------------
-- Consumer groups whose committed offset fell below the log start
-------------------------------------------------------------------------------
SELECT mq.create_topic('ret.grp', 1, '{"segment.bytes": 14}');
SELECT count(*) FROM mq.produce_batch('ret.grp', ARRAY['g0', 'g1', 'g2', 'g3', 'g4']);
SELECT pg_temp.hk('ret.grp');
SELECT count(*) FROM mq.produce_batch('ret.grp', ARRAY['g5', 'g6', 'g7']);
SELECT pg_temp.hk('ret.grp');
-- three groups commit offset 2 and leave
SELECT mq.subscribe(g, ARRAY['ret.grp'], 'c1', jsonb_build_object('auto.offset.reset', r))
  FROM (VALUES ('ret.g.earliest', 'earliest'), ('ret.g.latest', 'latest'), ('ret.g.none', 'none')) v(g, r)
 ORDER BY 1;
SELECT g, mq.commit(g, 'ret.grp', 0, 2, 'c1') IS NULL AS committed, mq.unsubscribe(g, 'c1') IS NULL AS left
  FROM unnest(ARRAY['ret.g.earliest', 'ret.g.latest', 'ret.g.none']) g ORDER BY 1;
SELECT group_id, committed_offset, high_watermark FROM mq.consumer_lag
 WHERE topic = 'ret.grp' ORDER BY 1;
-- retention (the second batch's size) moves the log start to 5
SELECT mq.alter_topic('ret.grp', jsonb_build_object('retention.bytes',
         (SELECT octet_length(l.batch) FROM mq_data.log l JOIN mq.topic t USING (topic_id)
           WHERE t.name = 'ret.grp' AND l.base_offset = 5)));
SELECT pg_temp.hk('ret.grp');
SELECT * FROM pg_temp.segs('ret.grp');
SELECT * FROM pg_temp.parts('ret.grp');
-- earliest: from the log start
SELECT mq.subscribe('ret.g.earliest', ARRAY['ret.grp'], 'c2', '{"auto.offset.reset": "earliest"}');
SELECT "offset", convert_from(value, 'UTF8') FROM mq.poll('ret.g.earliest', 10, 0, 'c2');
-- latest: from the high watermark
SELECT mq.subscribe('ret.g.latest', ARRAY['ret.grp'], 'c2', '{"auto.offset.reset": "latest"}');
SELECT "offset", convert_from(value, 'UTF8') FROM mq.poll('ret.g.latest', 10, 0, 'c2');
-- none: an error
SELECT mq.subscribe('ret.g.none', ARRAY['ret.grp'], 'c2', '{"auto.offset.reset": "none"}');
SELECT pg_temp.err($$SELECT mq.poll('ret.g.none', 10, 0, 'c2')$$);
\set VERBOSITY default
SELECT mq.poll('ret.g.none', 10, 0, 'c2');
\set VERBOSITY terse
SELECT "offset" FROM mq.produce('ret.grp', 'g8');
SELECT "offset", convert_from(value, 'UTF8') FROM mq.poll('ret.g.latest', 10, 0, 'c2');
SELECT "offset", convert_from(value, 'UTF8') FROM mq.poll('ret.g.earliest', 10, 0, 'c2');
-- a committed offset at or above the log start is where a member starts
SELECT mq.commit('ret.g.none', 'ret.grp', 0, 6, 'c2');
SELECT "offset", convert_from(value, 'UTF8') FROM mq.poll('ret.g.none', 10, 0, 'c2');

-- a member's live position that falls below the log start (here by
-- delete_records) is out of range: auto.offset.reset applies to it too
SELECT "offset" FROM mq.produce('ret.grp', 'g9');
SELECT mq.delete_records('ret.grp', 0, 10);
SELECT "offset" FROM mq.produce('ret.grp', 'g10');
-- earliest: from the log start
SELECT "offset", convert_from(value, 'UTF8') FROM mq.poll('ret.g.earliest', 10, 0, 'c2');
-- latest: from the high watermark, so not g10 but the next one
SELECT "offset", convert_from(value, 'UTF8') FROM mq.poll('ret.g.latest', 10, 0, 'c2');
SELECT "offset" FROM mq.produce('ret.grp', 'g11');
SELECT "offset", convert_from(value, 'UTF8') FROM mq.poll('ret.g.latest', 10, 0, 'c2');
-- none: an error (the committed offset, 6, is below the log start too)
SELECT pg_temp.err($$SELECT mq.poll('ret.g.none', 10, 0, 'c2')$$);

-- no producing in the transaction that rolled the topic's segment: the
-- other producers cannot see the new segment yet
BEGIN;
SELECT mq._create_segment(topic_id) > 0 AS rolled FROM mq.topic WHERE name = 'ret.grp';
SELECT pg_temp.err($$SELECT mq.produce('ret.grp', 'in the roll')$$);
ROLLBACK;
SELECT "offset" FROM mq.produce('ret.grp', 'after the roll rolled back');

-------------------------------------------------------------------------------
-- compact,delete: retention runs before compaction, and a compaction that
-- fails is reported and undone without undoing retention
-------------------------------------------------------------------------------
SELECT mq.create_topic('ret.cd', 1, '{"cleanup.policy": "compact,delete", "retention.ms": 3600000,
                                      "min.compaction.lag.ms": 0}');
SELECT "offset" FROM mq.produce('ret.cd', 'old', 'k', ts => now() - interval '2 hours');
SELECT mq._create_segment(topic_id) > 0 AS rolled FROM mq.topic WHERE name = 'ret.cd';
-- a recent segment with a damaged batch, committed as such (the worker
-- compacts this topic too)
BEGIN;
SELECT "offset" FROM mq.produce('ret.cd', 'new', 'k');
SELECT "offset" FROM mq.produce('ret.cd', 'newer', 'k');
SELECT mq._create_segment(topic_id) > 0 AS rolled FROM mq.topic WHERE name = 'ret.cd';
UPDATE mq_data.log l SET batch = overlay(l.batch PLACING '\xffffffffffffffffffffffffffff'::bytea FROM 62)
  FROM mq.topic t WHERE t.topic_id = l.topic_id AND t.name = 'ret.cd' AND l.base_offset = 1;
COMMIT;
SELECT pg_temp.hk('ret.cd');
-- the old segment went; the damaged one stays as it was
SELECT * FROM pg_temp.segs('ret.cd');

-- cleanup.policy compact alone: no retention limits, but a segment wholly
-- below the log start (mq.delete_records) goes
SELECT mq.create_topic('ret.c', 1, '{"cleanup.policy": "compact", "min.compaction.lag.ms": 3600000}');
SELECT count(*) FROM mq.produce_batch('ret.c', ARRAY['a1', 'b1'], keys => ARRAY['a', 'b']);
SELECT mq._create_segment(topic_id) > 0 AS rolled FROM mq.topic WHERE name = 'ret.c';
SELECT "offset" FROM mq.produce('ret.c', 'a2', 'a');
SELECT mq._create_segment(topic_id) > 0 AS rolled FROM mq.topic WHERE name = 'ret.c';
SELECT pg_temp.hk('ret.c');
SELECT * FROM pg_temp.segs('ret.c');
SELECT mq.delete_records('ret.c', 0, 2);
SELECT pg_temp.hk('ret.c');
SELECT * FROM pg_temp.segs('ret.c');

-- compaction as the worker runs it: mq._housekeeping_topic rewrites the
-- oldest dirty segment and keeps the plan; mq._compact_more rewrites the
-- next, one per call (a transaction each in the worker), and says whether
-- more are left.  min.compaction.lag.ms is lowered only inside the locked
-- transaction, so that the worker leaves the topic alone.
SELECT mq.create_topic('ret.cm', 1, '{"cleanup.policy": "compact", "min.compaction.lag.ms": 3600000,
                                      "min.cleanable.dirty.ratio": 0}');
SELECT count(*) FROM mq.produce_batch('ret.cm', ARRAY['a1', 'a2'], keys => ARRAY['a', 'a']);
SELECT mq._create_segment(topic_id) > 0 AS rolled FROM mq.topic WHERE name = 'ret.cm';
SELECT count(*) FROM mq.produce_batch('ret.cm', ARRAY['b1', 'b2'], keys => ARRAY['b', 'b']);
SELECT mq._create_segment(topic_id) > 0 AS rolled FROM mq.topic WHERE name = 'ret.cm';
SELECT count(*) FROM mq.produce_batch('ret.cm', ARRAY['c1', 'c2'], keys => ARRAY['c', 'c']);
SELECT mq._create_segment(topic_id) > 0 AS rolled FROM mq.topic WHERE name = 'ret.cm';
CREATE FUNCTION pg_temp.compact_steps(tp text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    id integer;
    more boolean;
BEGIN
    LOCK TABLE mq.topic IN ACCESS EXCLUSIVE MODE;   -- not alongside the worker
    SELECT t.topic_id INTO id FROM mq.topic t WHERE t.name = tp;
    PERFORM mq.alter_topic(tp, '{"min.compaction.lag.ms": 0}');
    PERFORM mq._housekeeping_topic(id - 1);
    LOOP
        RETURN NEXT (SELECT string_agg(convert_from(f.value, 'UTF8'), ' ' ORDER BY f."offset")
                       FROM mq.fetch(tp, 0, 0) f);
        more := mq._compact_more(id);
        RETURN NEXT format('more: %s', more);
        EXIT WHEN NOT more;
    END LOOP;
    RETURN NEXT (SELECT string_agg(convert_from(f.value, 'UTF8'), ' ' ORDER BY f."offset")
                   FROM mq.fetch(tp, 0, 0) f);
    RETURN NEXT format('more: %s', mq._compact_more(id));
    PERFORM mq.alter_topic(tp, '{"min.compaction.lag.ms": 3600000}');
END $$;
SELECT * FROM pg_temp.compact_steps('ret.cm');
SELECT mq.drop_topic(t) FROM unnest(ARRAY['ret.cd', 'ret.c', 'ret.cm']) t;

SELECT mq.unsubscribe(g, 'c2') FROM unnest(ARRAY['ret.g.earliest', 'ret.g.latest', 'ret.g.none']) g;
SELECT mq.delete_group(g) FROM unnest(ARRAY['ret.g.earliest', 'ret.g.latest', 'ret.g.none']) g;
SELECT mq.drop_topic(t) FROM unnest(ARRAY['ret.size', 'ret.time', 'ret.del', 'ret.grp']) t;
SELECT count(*) FROM mq.segments WHERE topic LIKE 'ret.%';
