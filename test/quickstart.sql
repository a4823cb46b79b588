-- test/quickstart.sql: the README's quickstart, run by `make run`.
SELECT mq.create_topic('quickstart.orders', partitions => 3, if_not_exists => true);

-- keyed records: the same key always lands in the same partition
SELECT * FROM mq.produce('quickstart.orders', '{"order": 1, "total": 9.5}'::jsonb, key => 'customer-42');
SELECT * FROM mq.produce('quickstart.orders', '{"order": 2, "total": 3.0}'::jsonb, key => 'customer-42');

-- a batch: one record batch per partition touched
SELECT * FROM mq.produce_batch('quickstart.orders', ARRAY['a', 'b', 'c'], keys => ARRAY['k1', 'k2', 'k3']);

-- read it back, as text
SELECT p.partition, f."offset", f.key, f.value
  FROM mq.partitions p,
       LATERAL mq.fetch_text('quickstart.orders', p.partition, 0) f
 WHERE p.topic = 'quickstart.orders'
 ORDER BY p.partition, f."offset";

SELECT topic, partition, log_start_offset, high_watermark, size_bytes
  FROM mq.partitions WHERE topic = 'quickstart.orders' ORDER BY partition;
