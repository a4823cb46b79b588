-- mqext: the next 500 records of the partition (:off advances per transaction)
SELECT * FROM mq.fetch('batch1000', 0, :off, 500);
\set off :off + 500
