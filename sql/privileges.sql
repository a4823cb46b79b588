-- Safe by default: nothing that reads or writes records is open to PUBLIC,
-- functions pin search_path, only those that guard a catalog callers may
-- not write directly are SECURITY DEFINER.
CREATE EXTENSION IF NOT EXISTS mqext;
\set VERBOSITY terse
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- functions PUBLIC may execute: only pure ones
SELECT p.oid::regprocedure AS public_function
  FROM pg_proc p
 WHERE p.pronamespace = 'mq'::regnamespace
   AND EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')
 ORDER BY p.oid::regprocedure::text;
-- SECURITY DEFINER only where callers act on the group catalog, the
-- coordination tree or the producer catalog, which they may not write
-- directly (see those sections of the extension script)
SELECT oid::regprocedure AS security_definer FROM pg_proc
 WHERE pronamespace = 'mq'::regnamespace AND prosecdef ORDER BY oid::regprocedure::text;
-- every function pins its search_path
SELECT p.oid::regprocedure AS unpinned
  FROM pg_proc p
 WHERE p.pronamespace = 'mq'::regnamespace
   AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')
 ORDER BY p.oid::regprocedure::text;
-- tables and views are not readable by PUBLIC
SELECT c.oid::regclass AS public_relation
  FROM pg_class c
 WHERE c.relnamespace IN ('mq'::regnamespace, 'mq_data'::regnamespace)
   AND has_table_privilege('public', c.oid, 'SELECT')
 ORDER BY c.oid::regclass::text;

SELECT mq.create_topic('secret', 1);
SELECT count(*) FROM mq.produce('secret', 'classified');

CREATE ROLE regress_mq_nobody;
CREATE ROLE regress_mq_producer;
CREATE ROLE regress_mq_consumer;
-- what the README says to grant
GRANT EXECUTE ON FUNCTION mq.produce(text, bytea, bytea, jsonb, integer, timestamptz, bigint, integer, integer),
                          mq.produce(text, text, text, jsonb, integer, timestamptz, bigint, integer, integer),
                          mq.produce_batch(text, text[], text[], jsonb[], integer, bigint, integer, integer),
                          mq.init_producer(text)
   TO regress_mq_producer;
GRANT EXECUTE ON FUNCTION mq.fetch(text, integer, bigint, integer, integer),
                          mq.fetch_text(text, integer, bigint, integer, integer),
                          mq.latest_offset(text, integer)
   TO regress_mq_consumer;

-- a role that was granted nothing can neither produce nor read
SET ROLE regress_mq_nobody;
SELECT pg_temp.err($q$SELECT mq.produce('secret', 'x'::bytea)$q$);
SELECT pg_temp.err($q$SELECT mq.produce_batch('secret', ARRAY['x'])$q$);
SELECT pg_temp.err($q$SELECT * FROM mq.fetch('secret', 0, 0)$q$);
SELECT pg_temp.err($q$SELECT * FROM mq.fetch_text('secret', 0, 0)$q$);
SELECT pg_temp.err($q$SELECT * FROM mq.decode_batch('\x00')$q$);
SELECT pg_temp.err($q$SELECT mq.create_topic('mine')$q$);
SELECT pg_temp.err($q$SELECT mq.drop_topic('secret')$q$);
SELECT pg_temp.err($q$SELECT * FROM mq.init_producer()$q$);
SELECT pg_temp.err($q$SELECT count(*) FROM mq_data.log$q$);
SELECT pg_temp.err($q$SELECT count(*) FROM mq.topics$q$);
SELECT pg_temp.err($q$SELECT count(*) FROM mq.partitions$q$);
SELECT mq.partition_for('k', 3);
RESET ROLE;

-- granted EXECUTE: the producer produces, the consumer reads, neither more
SET ROLE regress_mq_producer;
SELECT "offset" FROM mq.produce('secret', 'from producer'::text);
-- an idempotent producer, as the README's grants allow: its id, its first
-- sequence, a retry of it, and an epoch bumped by a second init
SELECT producer_id AS pid, epoch FROM mq.init_producer('regress-app') \gset
SELECT :epoch AS first_epoch;
SELECT "offset" FROM mq.produce('secret', 'idempotent'::text, producer_id => :pid, epoch => :epoch, sequence => 0);
SELECT "offset" FROM mq.produce('secret', 'idempotent'::text, producer_id => :pid, epoch => :epoch, sequence => 0);
SELECT epoch AS second_epoch FROM mq.init_producer('regress-app');
SELECT pg_temp.err($q$UPDATE mq.producer SET epoch = 0$q$);
SELECT pg_temp.err($q$SELECT * FROM mq.fetch('secret', 0, 0)$q$);
SELECT pg_temp.err($q$SELECT count(*) FROM mq_data.log$q$);
RESET ROLE;
-- a producer id, and a transactional id, belong to the role that got them:
-- another producer role can neither produce with the id (its batch would
-- pass for a retry of the owner's next one) nor fence it
CREATE ROLE regress_mq_producer2;
GRANT EXECUTE ON FUNCTION mq.produce(text, text, text, jsonb, integer, timestamptz, bigint, integer, integer),
                          mq.init_producer(text)
   TO regress_mq_producer2;
SET ROLE regress_mq_producer2;
SELECT regexp_replace(pg_temp.err(format($q$SELECT mq.produce('secret', 'hijack'::text, producer_id => %s, epoch => %s, sequence => 1)$q$,
                                         :pid, :epoch + 1)), 'id \d+', 'id N');
SELECT pg_temp.err($q$SELECT * FROM mq.init_producer('regress-app')$q$);
SELECT epoch FROM mq.init_producer('regress-app-2');
RESET ROLE;
-- a member of the owning role may use it
GRANT regress_mq_producer TO regress_mq_producer2;
SET ROLE regress_mq_producer2;
SELECT "offset" > 0 AS produced FROM mq.produce('secret', 'member'::text, producer_id => :pid, epoch => :epoch + 1, sequence => 0);
RESET ROLE;
REVOKE regress_mq_producer FROM regress_mq_producer2;
SET ROLE regress_mq_consumer;
SELECT "offset", value FROM mq.fetch_text('secret', 0, 0);
SELECT mq.latest_offset('secret', 0);
SELECT pg_temp.err($q$SELECT mq.produce('secret', 'x'::bytea)$q$);
RESET ROLE;

-- monitoring, with the README's grants
CREATE ROLE regress_mq_monitor;
GRANT SELECT ON mq.topics, mq.partitions, mq.stats, mq.consumer_lag TO regress_mq_monitor;
GRANT EXECUTE ON FUNCTION mq._partition_state(text, integer), mq._stats(),
    mq.earliest_offset(text, integer), mq.latest_offset(text, integer) TO regress_mq_monitor;
SET ROLE regress_mq_monitor;
SELECT count(*) > 0 AS topics FROM mq.topics;
SELECT count(*) > 0 AS partitions FROM mq.partitions;
SELECT count(*) >= 0 AS stats FROM mq.stats;
SELECT count(*) >= 0 AS consumer_lag FROM mq.consumer_lag;
SELECT pg_temp.err($q$SELECT * FROM mq.fetch('secret', 0, 0)$q$);
RESET ROLE;
REVOKE ALL ON mq.topics, mq.partitions, mq.stats, mq.consumer_lag FROM regress_mq_monitor;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA mq FROM regress_mq_monitor;
DROP ROLE regress_mq_monitor;

-- a fresh session of a role with only those grants (nothing cached by a
-- superuser in the same backend): mqext reads its own catalog itself
\set su :USER
ALTER ROLE regress_mq_producer LOGIN;
ALTER ROLE regress_mq_consumer LOGIN;
\c - regress_mq_producer
SELECT "offset" FROM mq.produce('secret', 'from a fresh session'::text);
\c - regress_mq_consumer
SELECT "offset", value FROM mq.fetch_text('secret', 0, 2);
\c - :su

SELECT mq.drop_topic('secret');
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA mq FROM regress_mq_producer, regress_mq_consumer, regress_mq_producer2;
DROP ROLE regress_mq_nobody, regress_mq_producer, regress_mq_consumer, regress_mq_producer2;
