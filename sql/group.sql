-- Consumer groups: membership, the three assignment strategies, poll,
-- commits, transactional positions, seek, admin functions, views, and the
-- LISTEN/NOTIFY watch API.
CREATE EXTENSION IF NOT EXISTS mqext;
\set VERBOSITY terse
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- the records a poll returns (never waiting), values as text, in poll's order
CREATE FUNCTION pg_temp.poll(g text, n integer, mid text)
    RETURNS TABLE (topic text, partition integer, "offset" bigint, value text)
    LANGUAGE sql AS $$
    SELECT p.topic, p.partition, p."offset", convert_from(p.value, 'UTF8')
      FROM mq.poll(g, n, 0, mid) p
$$;
-- the members of a group and what they own; session-bound ids contain the
-- backend pid, so they are shown as "session"
CREATE FUNCTION pg_temp.members(g text)
    RETURNS TABLE (member text, session_bound boolean, topics text[], assignment jsonb)
    LANGUAGE sql AS $$
    SELECT CASE WHEN m.session_bound THEN 'session' ELSE m.member_id END,
           m.session_bound, m.topics, m.assignment
      FROM mq.group_members m WHERE m.group_id = g ORDER BY 1
$$;
-- one row per owned partition
CREATE FUNCTION pg_temp.owners(g text)
    RETURNS TABLE (member_id text, topic text, partition integer)
    LANGUAGE sql AS $$
    SELECT m.member_id, a.key, p::integer
      FROM mq.group_members m, jsonb_each(m.assignment) a, jsonb_array_elements_text(a.value) p
     WHERE m.group_id = g
$$;
CREATE FUNCTION pg_temp.lag(g text)
    RETURNS TABLE (topic text, partition integer, committed_offset bigint,
                   high_watermark bigint, lag bigint, member_id text)
    LANGUAGE sql AS $$
    SELECT l.topic, l.partition, l.committed_offset, l.high_watermark, l.lag, l.member_id
      FROM mq.consumer_lag l WHERE l.group_id = g ORDER BY 1, 2
$$;

-------------------------------------------------------------------------------
-- Membership
-------------------------------------------------------------------------------
SELECT mq.create_topic('g.a', 3);
SELECT mq.create_topic('g.b', 2);
SELECT mq.default_consumer_config();

-- no member id: a member bound to this session, whose id names the session
SELECT mq.subscribe('g1', ARRAY['g.a']) AS sm \gset
SELECT :'sm' LIKE 'session-' || pg_backend_pid() || '-%' AS session_member_id;
SELECT * FROM pg_temp.members('g1');
-- subscribing again keeps the id and changes the topics
SELECT mq.subscribe('g1', ARRAY['g.b']) = :'sm' AS same_member;
SELECT * FROM pg_temp.members('g1');
SELECT group_id, state, generation, strategy, members FROM mq.groups WHERE group_id = 'g1';
-- a member id: a member a pooler's sessions share (topics deduplicated, sorted)
SELECT mq.subscribe('g1', ARRAY['g.b', 'g.a', 'g.b'], 'm1');
SELECT * FROM pg_temp.members('g1');
SELECT group_id, state, generation, strategy, members FROM mq.groups WHERE group_id = 'g1';
-- the session member can be named by its id in this session
SELECT count(*) FROM mq.poll('g1', 500, 0, :'sm');

-- config validation: 22023 naming the key
SELECT pg_temp.err($q$SELECT mq.subscribe('g1', ARRAY['g.a'], 'm2', '{"foo": 1}')$q$);
SELECT pg_temp.err($q$SELECT mq.subscribe('g1', ARRAY['g.a'], 'm2', '{"session.timeout.ms": 0}')$q$);
SELECT pg_temp.err($q$SELECT mq.subscribe('g1', ARRAY['g.a'], 'm2', '{"session.timeout.ms": "soon"}')$q$);
SELECT pg_temp.err($q$SELECT mq.subscribe('g1', ARRAY['g.a'], 'm2', '{"max.poll.records": -1}')$q$);
SELECT pg_temp.err($q$SELECT mq.subscribe('g1', ARRAY['g.a'], 'm2', '{"auto.offset.reset": "smallest"}')$q$);
SELECT pg_temp.err($q$SELECT mq.subscribe('g1', ARRAY['g.a'], 'm2', '{"partition.assignment.strategy": "sticky"}')$q$);
SELECT pg_temp.err($q$SELECT mq.subscribe('g1', ARRAY['g.a'], 'm2', '{"enable.auto.commit": "yes"}')$q$);
SELECT pg_temp.err($q$SELECT mq.subscribe('g1', ARRAY['g.a'], 'm2', '[]')$q$);
-- topics: unknown, empty; empty group and member ids
SELECT pg_temp.err($q$SELECT mq.subscribe('g1', ARRAY['g.a', 'nosuch'], 'm2')$q$);
SELECT pg_temp.err($q$SELECT mq.subscribe('g1', ARRAY[]::text[], 'm2')$q$);
SELECT pg_temp.err($q$SELECT mq.subscribe('g1', NULL, 'm2')$q$);
SELECT pg_temp.err($q$SELECT mq.subscribe('', ARRAY['g.a'], 'm2')$q$);
SELECT pg_temp.err($q$SELECT mq.subscribe('g1', ARRAY['g.a'], '')$q$);
-- all members of a group use one strategy
SELECT pg_temp.err($q$SELECT mq.subscribe('g1', ARRAY['g.a'], 'm2', '{"partition.assignment.strategy": "range"}')$q$);
-- none of the failed calls joined
SELECT * FROM pg_temp.members('g1');
-- calls for members that are not in the group
SELECT pg_temp.err($q$SELECT * FROM mq.poll('g1', member_id => 'nobody')$q$);
SELECT pg_temp.err($q$SELECT * FROM mq.poll('nosuch')$q$);
SELECT pg_temp.err($q$SELECT mq.commit('g1', 'nobody')$q$);
SELECT pg_temp.err($q$SELECT mq.unsubscribe('nosuch')$q$);

-- leaving: the session member's partitions go to m1
SELECT mq.unsubscribe('g1');
SELECT * FROM pg_temp.members('g1');
SELECT pg_temp.err($q$SELECT mq.unsubscribe('g1')$q$);
SELECT mq.unsubscribe('g1', 'm1');
SELECT group_id, state, generation, strategy, members FROM mq.groups WHERE group_id = 'g1';
-- an empty group may change its strategy
SELECT mq.subscribe('g1', ARRAY['g.a'], 'm1', '{"partition.assignment.strategy": "roundrobin"}');
SELECT group_id, state, generation, strategy, members FROM mq.groups WHERE group_id = 'g1';
-- and so may a sole member re-subscribing
SELECT mq.subscribe('g1', ARRAY['g.a'], 'm1', '{"partition.assignment.strategy": "range"}');
SELECT group_id, state, generation, strategy, members FROM mq.groups WHERE group_id = 'g1';
SELECT mq.unsubscribe('g1', 'm1');

-------------------------------------------------------------------------------
-- Assignment strategies
-------------------------------------------------------------------------------
SELECT mq.create_topic('g.twelve', 12);

-- cooperative-sticky (the default): 12 partitions, 2 then 3 members; the
-- third takes 4 and nothing else moves
SELECT mq.subscribe('cs', ARRAY['g.twelve'], 'a');
SELECT mq.subscribe('cs', ARRAY['g.twelve'], 'b');
SELECT * FROM pg_temp.members('cs');
SELECT generation, strategy, members FROM mq.groups WHERE group_id = 'cs';
CREATE TEMP TABLE before AS SELECT * FROM pg_temp.owners('cs');
SELECT mq.subscribe('cs', ARRAY['g.twelve'], 'c');
SELECT * FROM pg_temp.members('cs');
SELECT generation, strategy, members FROM mq.groups WHERE group_id = 'cs';
SELECT count(*) AS moved FROM pg_temp.owners('cs') n JOIN before b USING (topic, partition)
 WHERE n.member_id <> b.member_id;
SELECT member_id, count(*) FROM pg_temp.owners('cs') GROUP BY 1 ORDER BY 1;
-- c leaves: only its 4 partitions move
DROP TABLE before;
CREATE TEMP TABLE before AS SELECT * FROM pg_temp.owners('cs');
SELECT mq.unsubscribe('cs', 'c');
SELECT * FROM pg_temp.members('cs');
SELECT count(*) AS moved FROM pg_temp.owners('cs') n JOIN before b USING (topic, partition)
 WHERE n.member_id <> b.member_id;
SELECT generation FROM mq.groups WHERE group_id = 'cs';
DROP TABLE before;
SELECT mq.unsubscribe('cs', 'a');
SELECT mq.unsubscribe('cs', 'b');

-- more members than partitions: the extras get nothing
SELECT mq.create_topic('g.two', 2);
SELECT mq.subscribe('idle', ARRAY['g.two'], 'a');
SELECT mq.subscribe('idle', ARRAY['g.two'], 'b');
SELECT mq.subscribe('idle', ARRAY['g.two'], 'c');
SELECT * FROM pg_temp.members('idle');
SELECT count(*) FROM mq.poll('idle', member_id => 'c');
SELECT mq.subscribe('idle-range', ARRAY['g.two'], 'a', '{"partition.assignment.strategy": "range"}');
SELECT mq.subscribe('idle-range', ARRAY['g.two'], 'b', '{"partition.assignment.strategy": "range"}');
SELECT mq.subscribe('idle-range', ARRAY['g.two'], 'c', '{"partition.assignment.strategy": "range"}');
SELECT * FROM pg_temp.members('idle-range');

-- range: contiguous ranges per topic
SELECT mq.create_topic('g.r1', 3);
SELECT mq.create_topic('g.r2', 3);
SELECT mq.subscribe('rg', ARRAY['g.r1', 'g.r2'], 'x', '{"partition.assignment.strategy": "range"}');
SELECT mq.subscribe('rg', ARRAY['g.r1', 'g.r2'], 'y', '{"partition.assignment.strategy": "range"}');
SELECT * FROM pg_temp.members('rg');
-- a member of one topic only shares that topic alone
SELECT mq.subscribe('rg', ARRAY['g.r2'], 'z', '{"partition.assignment.strategy": "range"}');
SELECT * FROM pg_temp.members('rg');
SELECT generation, strategy, members FROM mq.groups WHERE group_id = 'rg';
SELECT pg_temp.err($q$SELECT mq.subscribe('rg', ARRAY['g.r1'], 'w')$q$);

-- roundrobin: all partitions of all topics, sorted, dealt in turn
SELECT mq.subscribe('rr', ARRAY['g.r1', 'g.r2'], 'x', '{"partition.assignment.strategy": "roundrobin"}');
SELECT mq.subscribe('rr', ARRAY['g.r1', 'g.r2'], 'y', '{"partition.assignment.strategy": "roundrobin"}');
SELECT * FROM pg_temp.members('rr');
-- y re-subscribes to g.r2 only: g.r1 is x's alone
SELECT mq.subscribe('rr', ARRAY['g.r2'], 'y', '{"partition.assignment.strategy": "roundrobin"}');
SELECT * FROM pg_temp.members('rr');
SELECT generation, strategy, members FROM mq.groups WHERE group_id = 'rr';

-- cooperative-sticky with different subscriptions
SELECT mq.subscribe('mix', ARRAY['g.r1', 'g.r2'], 'x');
SELECT mq.subscribe('mix', ARRAY['g.r2'], 'y');
SELECT * FROM pg_temp.members('mix');

-------------------------------------------------------------------------------
-- Poll
-------------------------------------------------------------------------------
SELECT mq.create_topic('g.p', 2);
SELECT count(*) FROM mq.produce_batch('g.p', ARRAY['a0', 'a1', 'a2'], partition => 0);
SELECT count(*) FROM mq.produce_batch('g.p', ARRAY['b0', 'b1'], partition => 1);

-- auto.offset.reset = earliest: from the log start
SELECT mq.subscribe('pe', ARRAY['g.p'], 'e', '{"auto.offset.reset": "earliest"}');
SELECT * FROM pg_temp.poll('pe', 500, 'e');
SELECT * FROM pg_temp.poll('pe', 500, 'e');
-- auto.offset.reset = latest (the default): only what comes after
SELECT mq.subscribe('pl', ARRAY['g.p'], 'l');
SELECT * FROM pg_temp.poll('pl', 500, 'l');
SELECT "offset" FROM mq.produce('g.p', 'a3', partition => 0);
SELECT * FROM pg_temp.poll('pl', 500, 'l');
-- groups read the same topic independently
SELECT * FROM pg_temp.poll('pe', 500, 'e');
-- auto.offset.reset = none: an error until an offset is committed
SELECT mq.subscribe('pn', ARRAY['g.p'], 'n', '{"auto.offset.reset": "none"}');
SELECT pg_temp.err($q$SELECT * FROM mq.poll('pn', member_id => 'n')$q$);
SELECT mq.commit('pn', 'g.p', 0, 2, 'n');
SELECT pg_temp.err($q$SELECT * FROM mq.poll('pn', member_id => 'n')$q$);
SELECT mq.commit('pn', 'g.p', 1, 1, 'n');
SELECT * FROM pg_temp.poll('pn', 500, 'n');
-- a committed offset wins over auto.offset.reset
SELECT * FROM pg_temp.lag('pl');
SELECT mq.unsubscribe('pl', 'l');
SELECT mq.subscribe('pl', ARRAY['g.p'], 'l2', '{"auto.offset.reset": "earliest"}');
SELECT * FROM pg_temp.poll('pl', 500, 'l2');
SELECT "offset" FROM mq.produce('g.p', 'b2', partition => 1);
SELECT * FROM pg_temp.poll('pl', 500, 'l2');

-- max_records, and the least recently served partition comes first
SELECT mq.subscribe('pm', ARRAY['g.p'], 'm', '{"auto.offset.reset": "earliest"}');
SELECT * FROM pg_temp.poll('pm', 2, 'm');
SELECT * FROM pg_temp.poll('pm', 2, 'm');
SELECT * FROM pg_temp.poll('pm', 2, 'm');
SELECT * FROM pg_temp.poll('pm', 2, 'm');
SELECT * FROM pg_temp.poll('pm', 2, 'm');
-- max.poll.records caps max_records
SELECT mq.subscribe('pr', ARRAY['g.p'], 'r', '{"auto.offset.reset": "earliest", "max.poll.records": "1"}');
SELECT * FROM pg_temp.poll('pr', 500, 'r');
SELECT * FROM pg_temp.poll('pr', 500, 'r');
SELECT * FROM pg_temp.poll('pr', 500, 'r');
SELECT pg_temp.err($q$SELECT * FROM mq.poll('pr', 0, 0, 'r')$q$);
SELECT pg_temp.err($q$SELECT * FROM mq.poll('pr', 1, -1, 'r')$q$);
-- a timeout with nothing to read returns nothing; with records, at once
SELECT * FROM pg_temp.poll('pe', 500, 'e');
SELECT count(*) FROM mq.poll('pe', 500, 50, 'e');
SELECT "offset" FROM mq.produce('g.p', 'b3', partition => 1);
SELECT "offset", convert_from(value, 'UTF8') AS value FROM mq.poll('pe', 500, 60000, 'e');

-- auto-commit: each poll first commits what the previous poll returned
SELECT mq.subscribe('pa', ARRAY['g.p'], 'ac', '{"auto.offset.reset": "earliest"}');
SELECT * FROM pg_temp.lag('pa');
SELECT * FROM pg_temp.poll('pa', 2, 'ac');
SELECT * FROM pg_temp.lag('pa');
SELECT * FROM pg_temp.poll('pa', 2, 'ac');
SELECT * FROM pg_temp.lag('pa');
SELECT * FROM pg_temp.poll('pa', 2, 'ac');
SELECT * FROM pg_temp.lag('pa');
SELECT * FROM pg_temp.poll('pa', 2, 'ac');
SELECT * FROM pg_temp.lag('pa');

-- enable.auto.commit = false: nothing is committed until mq.commit
SELECT mq.subscribe('px', ARRAY['g.p'], 'x', '{"auto.offset.reset": "earliest", "enable.auto.commit": "false"}');
SELECT * FROM pg_temp.poll('px', 2, 'x');
SELECT * FROM pg_temp.poll('px', 2, 'x');
SELECT * FROM pg_temp.lag('px');
SELECT mq.commit('px', 'x');
SELECT * FROM pg_temp.lag('px');

-------------------------------------------------------------------------------
-- Positions and offsets are transactional
-------------------------------------------------------------------------------
SELECT mq.subscribe('tx', ARRAY['g.p'], 't', '{"auto.offset.reset": "earliest"}');
SELECT * FROM pg_temp.poll('tx', 2, 't');
BEGIN;
SELECT * FROM pg_temp.poll('tx', 2, 't');
SELECT * FROM pg_temp.lag('tx');
ROLLBACK;
-- the rolled back poll moved nothing: the same records again
SELECT * FROM pg_temp.lag('tx');
SELECT * FROM pg_temp.poll('tx', 2, 't');
SELECT * FROM pg_temp.lag('tx');
-- offsets committed in a rolled back transaction are not committed
BEGIN;
SELECT mq.commit('tx', 'g.p', 0, 4, 't');
SELECT mq.commit('tx', 't');
SELECT * FROM pg_temp.lag('tx');
ROLLBACK;
SELECT * FROM pg_temp.lag('tx');
-- and a committed transaction commits both
BEGIN;
SELECT * FROM pg_temp.poll('tx', 500, 't');
SELECT mq.commit('tx', 't');
COMMIT;
SELECT * FROM pg_temp.lag('tx');
SELECT * FROM pg_temp.poll('tx', 500, 't');

-------------------------------------------------------------------------------
-- Seek and explicit commits
-------------------------------------------------------------------------------
SELECT mq.create_topic('g.ts', 1);
SELECT "offset" FROM mq.produce('g.ts', 'jan1', ts => '2020-01-01 00:00:00+00');
SELECT "offset" FROM mq.produce('g.ts', 'jan2', ts => '2020-01-02 00:00:00+00');
SELECT "offset" FROM mq.produce('g.ts', 'jan3', ts => '2020-01-03 00:00:00+00');
SELECT mq.subscribe('sk', ARRAY['g.ts'], 's', '{"auto.offset.reset": "earliest"}');
SELECT * FROM pg_temp.poll('sk', 500, 's');
SELECT * FROM pg_temp.poll('sk', 500, 's');
-- by offset
SELECT mq.seek('sk', 'g.ts', 0, 1::bigint, 's');
SELECT * FROM pg_temp.poll('sk', 500, 's');
SELECT pg_temp.err($q$SELECT mq.seek('sk', 'g.ts', 0, -1::bigint, 's')$q$);
-- by timestamp: the first record at or after it
SELECT mq.seek('sk', 'g.ts', 0, '2020-01-02 00:00:00+00'::timestamptz, 's');
SELECT * FROM pg_temp.poll('sk', 500, 's');
SELECT mq.seek('sk', 'g.ts', 0, '2020-01-02 12:00:00+00'::timestamptz, 's');
SELECT * FROM pg_temp.poll('sk', 500, 's');
-- after the last record: the end of the log
SELECT mq.seek('sk', 'g.ts', 0, '2030-01-01 00:00:00+00'::timestamptz, 's');
SELECT pg_temp.err($q$SELECT mq.seek('sk', 'g.ts', 0, NULL::timestamptz, 's')$q$);
SELECT pg_temp.err($q$SELECT mq.seek('sk', 'g.ts', NULL, 1::bigint, 's')$q$);
SELECT * FROM pg_temp.poll('sk', 500, 's');
SELECT "offset" FROM mq.produce('g.ts', 'later', ts => '2020-01-04 00:00:00+00');
SELECT * FROM pg_temp.poll('sk', 500, 's');
-- commit of an explicit offset (the next one to read)
SELECT mq.commit('sk', 'g.ts', 0, 1, 's');
SELECT * FROM pg_temp.lag('sk');
SELECT pg_temp.err($q$SELECT mq.commit('sk', 'g.ts', 0, -1, 's')$q$);
SELECT pg_temp.err($q$SELECT mq.commit('sk', 'nosuch', 0, 1, 's')$q$);

-- a partition the member does not own: MQ010 naming the generation
SELECT generation FROM mq.groups WHERE group_id = 'idle';
SELECT pg_temp.err($q$SELECT mq.commit('idle', 'g.two', 0, 0, 'c')$q$);
SELECT pg_temp.err($q$SELECT mq.seek('idle', 'g.two', 0, 0::bigint, 'c')$q$);
SELECT pg_temp.err($q$SELECT mq.seek('idle', 'g.two', 0, now(), 'c')$q$);
SELECT pg_temp.err($q$SELECT mq.commit('idle', 'g.two', 7, 0, 'a')$q$);
-- ... or no longer owns after a rebalance
SELECT mq.subscribe('own', ARRAY['g.two'], 'o1', '{"auto.offset.reset": "earliest"}');
SELECT count(*) FROM mq.poll('own', member_id => 'o1');
SELECT mq.commit('own', 'g.two', 1, 0, 'o1');
SELECT mq.subscribe('own', ARRAY['g.two'], 'o2');
SELECT * FROM pg_temp.members('own');
SELECT generation FROM mq.groups WHERE group_id = 'own';
SELECT pg_temp.err($q$SELECT mq.commit('own', 'g.two', 1, 0, 'o1')$q$);
SELECT pg_temp.err($q$SELECT mq.seek('own', 'g.two', 1, 0::bigint, 'o1')$q$);
SELECT mq.commit('own', 'g.two', 1, 0, 'o2');

-------------------------------------------------------------------------------
-- Admin: reset_offsets and delete_group
-------------------------------------------------------------------------------
SELECT pg_temp.err($q$SELECT mq.reset_offsets('pa', 'g.p', 'earliest')$q$);
SELECT pg_temp.err($q$SELECT mq.delete_group('pa')$q$);
SELECT mq.unsubscribe('pa', 'ac');
SELECT group_id, state, members FROM mq.groups WHERE group_id = 'pa';
SELECT mq.reset_offsets('pa', 'g.p', 'earliest');
SELECT * FROM pg_temp.lag('pa');
SELECT mq.reset_offsets('pa', 'g.p', 'latest');
SELECT * FROM pg_temp.lag('pa');
SELECT mq.reset_offsets('pa', 'g.p', '1');
SELECT * FROM pg_temp.lag('pa');
-- an offset past the end is kept within the log, as Kafka's tool does
SELECT mq.reset_offsets('pa', 'g.p', '1000000000000000000000');
SELECT * FROM pg_temp.lag('pa');
SELECT mq.reset_offsets('pa', 'g.p', '1');
SELECT pg_temp.err($q$SELECT mq.reset_offsets('pa', 'g.p', 'bogus')$q$);
SELECT pg_temp.err($q$SELECT mq.reset_offsets('pa', 'g.p', '-1')$q$);
SELECT pg_temp.err($q$SELECT mq.reset_offsets('pa', 'g.p', NULL)$q$);
SELECT pg_temp.err($q$SELECT mq.reset_offsets('nosuch', 'g.p', 'latest')$q$);
SELECT pg_temp.err($q$SELECT mq.reset_offsets('pa', 'nosuch', 'latest')$q$);
-- a member joining starts from the reset offsets
SELECT mq.subscribe('pa', ARRAY['g.p'], 'ac');
SELECT * FROM pg_temp.poll('pa', 500, 'ac');
SELECT mq.unsubscribe('pa', 'ac');
-- by timestamp: the first offset at or after it, the end if none
SELECT mq.unsubscribe('sk', 's');
SELECT mq.reset_offsets('sk', 'g.ts', '2020-01-02 00:00:00+00');
SELECT * FROM pg_temp.lag('sk');
SELECT mq.reset_offsets('sk', 'g.ts', '2030-01-01 00:00:00+00');
SELECT * FROM pg_temp.lag('sk');
-- delete_group: offsets go with it
SELECT pg_temp.err($q$SELECT mq.delete_group('own')$q$);
SELECT mq.delete_group('pa');
SELECT count(*) FROM mq.groups WHERE group_id = 'pa';
SELECT count(*) FROM mq.consumer_lag WHERE group_id = 'pa';
SELECT count(*) FROM mq.group_offset WHERE group_id = 'pa';
SELECT pg_temp.err($q$SELECT mq.delete_group('pa')$q$);
-- a deleted group starts over: auto.offset.reset applies again
SELECT mq.subscribe('pa', ARRAY['g.p'], 'ac', '{"auto.offset.reset": "earliest"}');
SELECT count(*) FROM mq.poll('pa', member_id => 'ac');
SELECT mq.unsubscribe('pa', 'ac');

-------------------------------------------------------------------------------
-- Partitions added to a subscribed topic reach the members on their next
-- poll, without subscribing again
-------------------------------------------------------------------------------
SELECT mq.create_topic('g.grow', 2);
SELECT mq.subscribe('grow', ARRAY['g.grow'], 'a1', '{"auto.offset.reset": "earliest"}');
SELECT mq.subscribe('grow', ARRAY['g.grow'], 'a2', '{"auto.offset.reset": "earliest"}');
SELECT * FROM pg_temp.members('grow');
SELECT generation FROM mq.groups WHERE group_id = 'grow';
SELECT mq.add_partitions('g.grow', 4);
SELECT "offset" FROM mq.produce('g.grow', 'new', partition => 3);
SELECT * FROM pg_temp.poll('grow', 500, 'a1');
SELECT * FROM pg_temp.members('grow');
SELECT generation FROM mq.groups WHERE group_id = 'grow';
SELECT * FROM pg_temp.poll('grow', 500, 'a2');

-------------------------------------------------------------------------------
-- A member that comes back late from its work (past half its session
-- timeout since its last poll) is not put to sleep into its expiry: its
-- poll returns at once; the next one waits as usual
-------------------------------------------------------------------------------
SELECT mq.create_topic('g.late', 1);
SELECT mq.subscribe('late', ARRAY['g.late'], 'm', '{"session.timeout.ms": 4000}');
SELECT count(*) FROM mq.poll('late', member_id => 'm');
SELECT pg_sleep(2.2);
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FROM mq.poll('late', timeout_ms => 3000, member_id => 'm');
SELECT clock_timestamp() - :'t0'::timestamptz < interval '1 s' AS returned_at_once;
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FROM mq.poll('late', timeout_ms => 300, member_id => 'm');
SELECT clock_timestamp() - :'t0'::timestamptz >= interval '290 ms' AS waited;
-- in a transaction that already locked its partitions' rows (a poll that
-- read, a seek, a commit), a poll does not sleep: a rebalance would wait
-- for the sleep
SELECT "offset" FROM mq.produce('g.late', 'r');
BEGIN;
SELECT count(*) FROM mq.poll('late', member_id => 'm');
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FROM mq.poll('late', timeout_ms => 3000, member_id => 'm');
SELECT clock_timestamp() - :'t0'::timestamptz < interval '1 s' AS returned_at_once;
COMMIT;
BEGIN;
SELECT mq.seek('late', 'g.late', 0, 1::bigint, 'm');
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FROM mq.poll('late', timeout_ms => 3000, member_id => 'm');
SELECT clock_timestamp() - :'t0'::timestamptz < interval '1 s' AS returned_at_once;
COMMIT;
-- nor in REPEATABLE READ: its snapshot would never see what woke it
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FROM mq.poll('late', timeout_ms => 3000, member_id => 'm');
SELECT clock_timestamp() - :'t0'::timestamptz < interval '1 s' AS returned_at_once;
COMMIT;
-- a rolled-back tail: the position moves past it, so the lag goes to 0
-- (Kafka's consumer skips aborted data the same way)
SELECT count(*) FROM mq.poll('late', member_id => 'm');
BEGIN;
SELECT "offset" FROM mq.produce('g.late', 'rolled back');
SELECT "offset" FROM mq.produce('g.late', 'rolled back too');
ROLLBACK;
SELECT lag FROM mq.consumer_lag WHERE group_id = 'late';
SELECT count(*) FROM mq.poll('late', member_id => 'm');
SELECT count(*) FROM mq.poll('late', member_id => 'm');
SELECT committed_offset, high_watermark, lag FROM mq.consumer_lag WHERE group_id = 'late';
SELECT mq.unsubscribe('late', 'm');
SELECT mq.drop_topic('g.late');

-------------------------------------------------------------------------------
-- A position or committed offset beyond the log end is out of range, as
-- one below its start: reset per auto.offset.reset
-------------------------------------------------------------------------------
SELECT mq.create_topic('g.end', 1);
SELECT "offset" FROM mq.produce('g.end', 'e0');
SELECT mq.subscribe('end', ARRAY['g.end'], 'm', '{"auto.offset.reset": "earliest"}');
SELECT count(*) FROM mq.poll('end', member_id => 'm');
SELECT * FROM pg_temp.poll('end', 500, 'm');
SELECT mq.seek('end', 'g.end', 0, 1000000::bigint, 'm');
SELECT "offset" FROM mq.produce('g.end', 'e1');
-- reset: the committed offset (1) is valid, so from there
SELECT * FROM pg_temp.poll('end', 500, 'm');
SELECT mq.commit('end', 'g.end', 0, 1000000, 'm');
SELECT mq.unsubscribe('end', 'm');
SELECT mq.subscribe('end', ARRAY['g.end'], 'n', '{"auto.offset.reset": "none"}');
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT * FROM mq.poll('end', member_id => 'n');
\set SHOW_CONTEXT errors
\set VERBOSITY terse
SELECT mq.unsubscribe('end', 'n');
SELECT mq.delete_group('end');
SELECT mq.drop_topic('g.end');

-------------------------------------------------------------------------------
-- auto.offset.reset none: a partition added after the member polled has no
-- committed offset, and the member may commit one to start it (nobody has
-- processed it: not a stale commit)
-------------------------------------------------------------------------------
SELECT mq.create_topic('g.none', 1);
SELECT mq.subscribe('none', ARRAY['g.none'], 'np', '{"auto.offset.reset": "none"}');
SELECT mq.commit('none', 'g.none', 0, 0, 'np');
SELECT count(*) FROM mq.poll('none', member_id => 'np');
SELECT mq.add_partitions('g.none', 2);
-- the poll that rebalances keeps the new assignment (and reads nothing of
-- partition 1); the next one raises MQ013 for it
SELECT count(*) FROM mq.poll('none', member_id => 'np');
SELECT * FROM pg_temp.members('none');
SELECT pg_temp.err($q$SELECT count(*) FROM mq.poll('none', member_id => 'np')$q$);
SELECT mq.commit('none', 'g.none', 1, 0, 'np');
SELECT count(*) FROM mq.poll('none', member_id => 'np');
SELECT mq.unsubscribe('none', 'np');
SELECT mq.delete_group('none');
SELECT mq.drop_topic('g.none');

-------------------------------------------------------------------------------
-- A member with a member id that stops polling leaves after
-- session.timeout.ms
-------------------------------------------------------------------------------
SELECT mq.subscribe('to', ARRAY['g.two'], 'fast');
SELECT mq.subscribe('to', ARRAY['g.two'], 'slow', '{"session.timeout.ms": 1}');
SELECT * FROM pg_temp.members('to');
SELECT pg_sleep(0.1);
SELECT count(*) FROM mq.poll('to', member_id => 'fast');
SELECT * FROM pg_temp.members('to');
SELECT pg_temp.err($q$SELECT * FROM mq.poll('to', member_id => 'slow')$q$);
-- ... or after max.poll.interval.ms, when that is shorter
SELECT mq.subscribe('to', ARRAY['g.two'], 'slow2', '{"max.poll.interval.ms": 1}');
SELECT pg_sleep(0.1);
SELECT count(*) FROM mq.poll('to', member_id => 'fast');
SELECT * FROM pg_temp.members('to');
SELECT pg_temp.err($q$SELECT * FROM mq.poll('to', member_id => 'slow2')$q$);
SELECT pg_temp.err($q$SELECT mq.subscribe('to', ARRAY['g.two'], 'x', '{"max.poll.interval.ms": 0}')$q$);

-------------------------------------------------------------------------------
-- A session-bound member whose session lives on but that stops polling
-- leaves after max.poll.interval.ms (Kafka's rule for a stuck consumer)
-------------------------------------------------------------------------------
SELECT mq.subscribe('stuck', ARRAY['g.two'], NULL, '{"max.poll.interval.ms": 1}') LIKE 'session-%' AS session_bound;
SELECT mq.subscribe('stuck', ARRAY['g.two'], 'other');
SELECT pg_sleep(0.1);
SELECT count(*) >= 0 AS polled FROM mq.poll('stuck', member_id => 'other');
SELECT member_id, session_bound, assignment FROM mq.group_members WHERE group_id = 'stuck';
SELECT pg_temp.err($q$SELECT * FROM mq.poll('stuck')$q$);
SELECT mq.unsubscribe('stuck', 'other');

-------------------------------------------------------------------------------
-- Watch API
-------------------------------------------------------------------------------
-- a channel for every topic name, at most 63 bytes
SELECT mq.watch_channel('orders');
-- cut at a character boundary, whatever the text
SELECT length(c), octet_length(c) FROM mq.watch_channel(repeat('é', 30)) c;
SELECT c, octet_length(c) FROM mq.watch_channel(repeat('x', 54)) c;
SELECT c, octet_length(c) FROM mq.watch_channel(repeat('x', 55)) c;
SELECT c, octet_length(c),
       c = 'mq.topic.' || left(n, 21) || '#' || md5(n) AS prefix_and_md5
  FROM (SELECT repeat('abcdefghij', 24) || 'abcdefghi' AS n) x, mq.watch_channel(n) c;
SELECT mq.watch_channel(repeat('a', 249)) <> mq.watch_channel(repeat('a', 248) || 'b') AS distinct_channels;
-- '#' is not a character of topic names: a name of 54 characters shaped
-- like a long name's channel does not share it
SELECT mq.watch_channel('abcdefghijabcdefghija.' || md5(repeat('abcdefghij', 24) || 'abcdefghi'))
       <> mq.watch_channel(repeat('abcdefghij', 24) || 'abcdefghi') AS distinct_channels;

SELECT mq.create_topic('g.w', 3, '{"notify": true}');
SELECT mq.create_topic('g.w2', 1, '{"notify": true}');
SELECT mq.create_topic('g.quiet', 1);
LISTEN "mq.topic.g.w";
LISTEN "mq.topic.g.w2";
LISTEN "mq.topic.g.quiet";
SELECT pg_listening_channels() ORDER BY 1;
-- psql shows a notification with the sender's pid, so the statements that
-- may receive one print through sed, which masks it.
-- One transaction appending to two partitions: one notification, with the
-- last offset it wrote in each partition
BEGIN;
SELECT count(*) FROM mq.produce_batch('g.w', ARRAY['x', 'y'], partition => 0);
SELECT "offset" FROM mq.produce('g.w', 'z', partition => 2);
SELECT "offset" FROM mq.produce('g.w', 'zz', partition => 2);
\o | sed -e 's/PID [0-9]*/PID N/'
COMMIT;
\o
-- rolled back: nothing
BEGIN;
SELECT "offset" FROM mq.produce('g.w', 'gone', partition => 1);
\o | sed -e 's/PID [0-9]*/PID N/'
ROLLBACK;
\o
-- notify = false: nothing
BEGIN;
SELECT "offset" FROM mq.produce('g.quiet', 'shh');
\o | sed -e 's/PID [0-9]*/PID N/'
COMMIT;
\o
-- appends rolled back to a savepoint are not announced: nothing when the
-- only append was rolled back; only the kept partition when another commits
BEGIN;
SAVEPOINT s;
SELECT "offset" FROM mq.produce('g.w', 'gone', partition => 2);
ROLLBACK TO SAVEPOINT s;
\o | sed -e 's/PID [0-9]*/PID N/'
COMMIT;
\o
BEGIN;
SAVEPOINT s;
SELECT "offset" FROM mq.produce('g.w', 'gone', partition => 2);
ROLLBACK TO SAVEPOINT s;
SELECT "offset" FROM mq.produce('g.w2', 'kept');
\o | sed -e 's/PID [0-9]*/PID N/'
COMMIT;
\o
-- outside a transaction block (offset 0 of partition 1 went to the rolled
-- back record)
\o | sed -e 's/PID [0-9]*/PID N/'
SELECT "offset" AS auto_offset FROM mq.produce('g.w', 'auto', partition => 1) \gset
\o
\echo :auto_offset
-- each append in a savepoint of its own, released: one notification, the
-- last offset of each partition
BEGIN;
SAVEPOINT a;
SELECT "offset" FROM mq.produce('g.w', 's1', partition => 0);
RELEASE SAVEPOINT a;
SAVEPOINT b;
SELECT "offset" FROM mq.produce('g.w', 's2', partition => 0);
SAVEPOINT c;
SELECT "offset" FROM mq.produce('g.w', 's3', partition => 1);
RELEASE SAVEPOINT c;
RELEASE SAVEPOINT b;
\o | sed -e 's/PID [0-9]*/PID N/'
COMMIT;
\o
-- notify turned off after appending, in the same transaction: nothing
BEGIN;
SELECT "offset" FROM mq.produce('g.w2', 'off');
SELECT mq.alter_topic('g.w2', '{"notify": false}');
\o | sed -e 's/PID [0-9]*/PID N/'
COMMIT;
\o
SELECT mq.alter_topic('g.w2', '{"notify": true}');
-- two notify topics in one transaction: one notification each, in the
-- order of their first append
BEGIN;
SELECT "offset" FROM mq.produce('g.w2', 'one');
SELECT "offset" FROM mq.produce('g.w', 'two', partition => 0);
SELECT "offset" FROM mq.produce('g.quiet', 'three');
SELECT "offset" FROM mq.produce('g.w2', 'four');
\o | sed -e 's/PID [0-9]*/PID N/'
COMMIT;
\o
UNLISTEN *;

-------------------------------------------------------------------------------
-- A session-bound member leaves when its session ends
-------------------------------------------------------------------------------
SELECT mq.subscribe('sess', ARRAY['g.two']) LIKE 'session-%' AS session_bound;
SELECT mq.subscribe('sess', ARRAY['g.two'], 'pooled');
SELECT * FROM pg_temp.members('sess');
\c
-- the session's exit callback removes its member at once (no sweep runs
-- here: the view does not sweep), and its partition goes to "pooled"
DO $$
BEGIN
    FOR i IN 1 .. 100 LOOP
        EXIT WHEN NOT EXISTS (SELECT 1 FROM mq.group_members WHERE group_id = 'sess' AND session_bound);
        PERFORM pg_sleep(0.05);
    END LOOP;
END $$;
SELECT CASE WHEN session_bound THEN 'session' ELSE member_id END AS member,
       session_bound, topics, assignment
  FROM mq.group_members WHERE group_id = 'sess' ORDER BY 1;
SELECT generation, members FROM mq.groups WHERE group_id = 'sess';
-- a session that is gone is swept by the next poll anyway
SELECT count(*) FROM mq.poll('sess', member_id => 'pooled');
SELECT CASE WHEN session_bound THEN 'session' ELSE member_id END AS member,
       session_bound, topics, assignment
  FROM mq.group_members WHERE group_id = 'sess' ORDER BY 1;
SELECT generation, members FROM mq.groups WHERE group_id = 'sess';
