# test/t/002_without_preload.pl
#
# mqext installed but not in shared_preload_libraries: CREATE EXTENSION and
# the SQL-only parts (topics, producers ids, the pure partitioner) work;
# every function that needs mqext's shared memory fails with SQLSTATE 55000,
# the message "mqext must be loaded via shared_preload_libraries" and a hint.
# Following the hint (preload + restart) makes the same calls work.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $MSG  = 'mqext must be loaded via shared_preload_libraries';
my $HINT = 'Add mqext to shared_preload_libraries in postgresql.conf and restart the server.';

my $node = PostgreSQL::Test::Cluster->new('nopreload');
$node->init;
$node->start;

unlike($node->safe_psql('postgres', 'SHOW shared_preload_libraries'),
	qr/mqext/, 'mqext is not preloaded');

# --- what works without preload --------------------------------------------

my ($ret, $out, $err) =
  $node->psql('postgres', 'CREATE EXTENSION mqext', on_error_stop => 1);
is($ret, 0, 'CREATE EXTENSION works without preload') or diag($err);

$node->safe_psql('postgres', q{
	SELECT mq.create_topic('t', 3);
	SELECT mq.create_topic('gone', 1);
});
is($node->safe_psql('postgres',
		q{SELECT topic || ':' || partitions FROM mq.topics ORDER BY topic}),
	"gone:1\nt:3", 'create_topic works and mq.topics lists the topics');

$node->safe_psql('postgres', q{SELECT mq.alter_topic('t', '{"retention.ms": 1000}')});
is($node->safe_psql('postgres', q{SELECT config->>'retention.ms' FROM mq.topics WHERE topic = 't'}),
	'1000', 'alter_topic works');

($ret, $out, $err) = $node->psql('postgres', q{SELECT mq.add_partitions('t', 4)});
is($ret, 0, 'add_partitions works') or diag($err);

is($node->safe_psql('postgres', q{SELECT mq.earliest_offset('t', 3)}),
	'0', 'earliest_offset works (catalog only)');

is($node->safe_psql('postgres', q{SELECT epoch FROM mq.init_producer()}),
	'0', 'init_producer works');

$node->safe_psql('postgres', q{SELECT mq.drop_topic('gone')});
is($node->safe_psql('postgres', q{SELECT count(*) FROM mq.topic WHERE name = 'gone'}),
	'0', 'drop_topic works');

# Kafka's Java client puts key "customer-42" in partition 3 of 6.
is($node->safe_psql('postgres', q{SELECT mq.partition_for('customer-42', 6)}),
	'3', 'partition_for works (pure function)');

# --- what needs shared memory ----------------------------------------------

my @need_shmem = (
	[ 'produce(bytea)',    q{SELECT * FROM mq.produce('t', '\x01'::bytea)} ],
	[ 'produce(bytea, key, partition)',
		q{SELECT * FROM mq.produce('t', '\x01'::bytea, '\x02'::bytea, partition => 1)} ],
	[ 'produce(text)',     q{SELECT * FROM mq.produce('t', 'v'::text)} ],
	[ 'produce(text, key, headers)',
		q{SELECT * FROM mq.produce('t', 'v'::text, 'k', headers => '{"h": "x"}')} ],
	[ 'produce(jsonb)',    q{SELECT * FROM mq.produce('t', '{"a": 1}'::jsonb)} ],
	[ 'produce(idempotent)',
		q{SELECT * FROM mq.produce('t', 'v'::text, producer_id => 1, epoch => 0, sequence => 0)} ],
	[ 'produce_batch(bytea[])',
		q{SELECT * FROM mq.produce_batch('t', ARRAY['\x01', '\x02']::bytea[])} ],
	[ 'produce_batch(text[])',
		q{SELECT * FROM mq.produce_batch('t', ARRAY['a', 'b']::text[], ARRAY['k1', 'k2']::text[])} ],
	[ 'fetch',             q{SELECT * FROM mq.fetch('t', 0, 0)} ],
	[ 'fetch_text',        q{SELECT * FROM mq.fetch_text('t', 0, 0)} ],
	[ 'fetch_json',        q{SELECT * FROM mq.fetch_json('t', 0, 0)} ],
	[ 'latest_offset',     q{SELECT mq.latest_offset('t', 0)} ],
	[ 'offset_for_time',   q{SELECT mq.offset_for_time('t', 0, now())} ],
	[ 'partitions view',   q{SELECT * FROM mq.partitions} ],
	[ '_partition_state',  q{SELECT * FROM mq._partition_state('t', 0)} ],);

# 1. As a client sees it: each call in a fresh session (the library is
#    loaded by that very call), verbose error with SQLSTATE and hint.
foreach my $c (@need_shmem)
{
	my ($name, $sql) = @$c;
	($ret, $out, $err) =
	  $node->psql('postgres', "\\set VERBOSITY verbose\n$sql;");
	isnt($ret, 0, "$name fails without preload");
	like($err, qr/ERROR:  55000: \Q$MSG\E\n/, "$name: SQLSTATE 55000 and message");
	like($err, qr/HINT:  \Q$HINT\E\n/, "$name: hint");
}

# 2. As an application catching it: SQLSTATE, message and hint, all in one
#    session after the library is loaded.
$node->safe_psql('postgres', q{
CREATE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE s text; m text; h text;
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT, h = PG_EXCEPTION_HINT;
    RETURN s || '|' || m || '|' || h;
END
$$;
});
my $calls = join(",\n",
	map { my $q = $_->[1]; $q =~ s/'/''/g; "('$_->[0]', '$q')" } @need_shmem);
my @caught = split /\n/, $node->safe_psql('postgres', qq{
	SELECT name || ' => ' || try(q) FROM (VALUES $calls) v(name, q)});
is(scalar(@caught), scalar(@need_shmem), 'every call was tried in one session');
foreach my $line (@caught)
{
	my ($name) = split / => /, $line;
	is($line, "$name => 55000|$MSG|$HINT", "$name: caught SQLSTATE, message and hint");
}

is($node->safe_psql('postgres', 'SELECT count(*) FROM mq_data.log'),
	'0', 'nothing was written by the failed calls');

# --- following the hint fixes it -----------------------------------------

$node->append_conf('postgresql.conf', "shared_preload_libraries = 'mqext'");
$node->restart;
is($node->safe_psql('postgres', q{
	SELECT "offset" FROM mq.produce('t', 'after'::text, partition => 0);
	SELECT value FROM mq.fetch_text('t', 0, 0);
	SELECT mq.latest_offset('t', 0);
	SELECT count(*) FROM mq.partitions WHERE topic = 't';}),
	"0\nafter\n1\n4", 'with preload the same calls work');

$node->stop;
done_testing();
