-- bench/setup.sql: the tables and topics of scripts/bench.sh (fresh database).
CREATE EXTENSION mqext;
-- raw Postgres: single-row INSERT target, and the COPY/SELECT table
CREATE TABLE raw_insert (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, payload bytea NOT NULL);
CREATE TABLE raw_copy (id bigint PRIMARY KEY, payload bytea NOT NULL);
-- the floor of one row per batch: each batch one bytea row, stored as
-- mq_data.log stores batches (out of line, uncompressed)
CREATE TABLE raw_blob (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, label text NOT NULL,
                       batch bytea NOT NULL);
ALTER TABLE raw_blob ALTER COLUMN batch SET STORAGE EXTERNAL;
-- mqext: one single-partition topic per workload
SELECT mq.create_topic('produce1', 1);
SELECT mq.create_topic('batch100', 1);
SELECT mq.create_topic('batch1000', 1);
-- the batch-level API: client-encoded batches of 1000 (bench/batches.c), and
-- batches of 500 for mq.fetch_batches to return one chunk per call
SELECT mq.create_topic('encoded1000', 1);
-- mq.produce_batch with its bytea[] bound in binary (bench/batches.c)
SELECT mq.create_topic('array1000', 1);
SELECT mq.create_topic('batch500', 1);
