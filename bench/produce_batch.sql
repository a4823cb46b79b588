-- mqext: :n 100-byte records per call (one record batch); the client gets
-- the batch's first offset back, as a Kafka producer does
SELECT min("offset") FROM mq.produce_batch(:topic, :arr::bytea[]);
