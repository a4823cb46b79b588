-- mqext: as fetch.sql, but only the two columns select.sql returns
SELECT "offset", value FROM mq.fetch('batch1000', 0, :off, 500);
\set off :off + 500
