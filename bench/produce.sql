-- mqext: one 100-byte record per transaction (autocommit)
SELECT * FROM mq.produce('produce1', :v::bytea);
