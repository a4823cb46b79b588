# test/t/008_standby.pl
#
# A streaming standby, and its promotion:
#
#   1. On the standby, reading a partition fails with 0A000 (it cannot tell
#      the primary's appends in flight from aborted ones, so it could
#      return records above the last stable offset), and nothing else
#      breaks: the catalog views that need no partition state still work.
#   2. Promoted, the standby continues every partition's offsets above
#      every offset the primary handed out, rolled-back ones included (the
#      offset ceiling it replayed): none is handed out twice, even though
#      its readers had asked for the partitions before the promotion.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mqext'
fsync = on
});
$primary->start;
$primary->safe_psql('postgres', q{
CREATE EXTENSION mqext;
SELECT mq.create_topic('s', 2);
SELECT count(*) FROM generate_series(1, 10) i, mq.produce('s', 'before-' || i, partition => i % 2);
});

$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;

$primary->wait_for_catchup($standby);

# 1. the standby refuses to read partitions (here while it holds the first
# ten records: a partition state built now would be stale by the promotion)
my ($rc, $out, $err) = $standby->psql('postgres', q{SELECT count(*) FROM mq.fetch('s', 0, 0)},
	extra_params => ['-v', 'VERBOSITY=verbose']);
isnt($rc, 0, 'standby: mq.fetch fails');
like($err, qr/0A000/, 'standby: with 0A000');
like($err, qr/cannot read or write a topic's partitions during recovery/, 'standby: saying why');
($rc, $out, $err) = $standby->psql('postgres', q{SELECT mq.latest_offset('s', 1)});
isnt($rc, 0, 'standby: mq.latest_offset fails too');
for my $q (q{SELECT count(*) FROM mq.fetch_batches('s', 0, 0)},
	q{SELECT count(*) FROM mq.partitions WHERE topic = 's'})
{
	($rc, $out, $err) = $standby->psql('postgres', $q, extra_params => ['-v', 'VERBOSITY=verbose']);
	ok($rc != 0 && $err =~ /0A000/, "standby: $q fails with 0A000");
}
is($standby->safe_psql('postgres', q{SELECT topic || ':' || partitions FROM mq.topics}), 's:2',
	'standby: mq.topics still answers');

# records produced meanwhile reach the standby by streaming; two more of
# partition 0 roll back, and the primary's last stable offset passes them
$primary->safe_psql('postgres',
	q{SELECT count(*) FROM generate_series(1, 6) i, mq.produce('s', 'after-' || i, partition => i % 2)});
$primary->safe_psql('postgres', q{
BEGIN;
SELECT mq.produce('s', 'rolled-back-' || i, partition => 0) FROM generate_series(1, 2) i;
ROLLBACK;
});
is($primary->safe_psql('postgres', q{SELECT mq.latest_offset('s', 0)}), '10',
	'primary: the last stable offset of partition 0 passed the rolled-back records');
$primary->wait_for_catchup($standby);

# 2. promoted, offsets go on above all the primary handed out
$standby->promote;
$standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()')
  or die 'the standby was not promoted';
is($standby->safe_psql('postgres', q{SELECT mq.latest_offset('s', 0) >= 10 AND mq.latest_offset('s', 1) >= 8}),
	't', 'promoted: each partition ends at or above where the primary left it');
my $new = $standby->safe_psql('postgres', q{SELECT "offset" FROM mq.produce('s', 'new', partition => 0)});
cmp_ok($new, '>=', 10, "promoted: the next record of partition 0 lies above the rolled-back offsets ($new)");
is($standby->safe_psql('postgres', q{
	SELECT count(*) || ' ' || count(DISTINCT "offset") || ' ' || max("offset") FROM mq.fetch('s', 0, 0, 100)}),
	"9 9 $new", 'promoted: partition 0 holds 9 records at 9 distinct offsets, the new one last');
is($standby->safe_psql('postgres', q{
	SELECT string_agg(convert_from(value, 'UTF8'), ',' ORDER BY "offset") FROM mq.fetch('s', 0, 6)}),
	'after-4,after-6,new', 'promoted: the streamed records, then the new one');

$standby->stop;
$primary->stop;
done_testing();
