-- bench/groups_setup.sql: the topics and the baseline queue of the
-- consumer-group part of scripts/bench.sh (run after the first part, so that
-- its 1000-partition topic is not there while that part runs).  :rows is the
-- drain volume, a multiple of 8000.
-- latency: an idle single-partition topic
SELECT mq.create_topic('lat', 1);
-- rebalances and idle members: 1000 partitions
SELECT mq.create_topic('idle1000', 1000);
-- drain: :rows records of 100 bytes over 8 partitions, in record batches of
-- 1000 (one statement, so one transaction, per batch)
SELECT mq.create_topic('drain8', 8);
SELECT format('SELECT count(*) FROM mq.produce_batch(''drain8'', '
              '(SELECT array_agg(convert_to(repeat(''x'', 100), ''UTF8'')) FROM generate_series(1, 1000)), '
              'partition => %s)', p)
  FROM generate_series(1, :rows / 8000) b, generate_series(0, 7) p
 ORDER BY b, p
\gexec
-- the baseline: a queue table consumed with SELECT ... FOR UPDATE SKIP LOCKED
-- and DELETE (filled before each round)
CREATE TABLE mq_queue (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, payload bytea NOT NULL);
