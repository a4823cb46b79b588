# test/t/006_housekeeping.pl
#
# The background workers (src/bgw/launcher.c) and what they do
# (mq._housekeeping_topic, mq._housekeeping_sweep), on a cluster with
# mqext.housekeeping_interval = 200ms:
#
#   1. GUCs: mqext.housekeeping_interval (default 10s) and the switches
#      mqext.enable_retention, enable_segment_roll, enable_sweeps (default
#      on), all changed by a reload.
#   2. The launcher starts a worker in every database where mqext is
#      created (within a second or two of CREATE EXTENSION), none lingers in
#      a database without mqext, and the worker leaves when the extension is
#      dropped.  A database with mqext can be dropped.
#   3. A terminated worker is started again; after kill -9 of a worker or
#      of the launcher the postmaster reinitializes and both come back.
#   4. Rolling and retention: a topic with small segment.ms and retention.ms
#      is produced to for a few seconds; its old segments roll and are
#      dropped (LOG "mqext: dropped segment"), the log start offsets move,
#      the relations and their files are gone, mq.fetch from below the log
#      start starts at it, and no record newer than retention.ms is lost.
#      segment.bytes, retention.bytes and mq.delete_records too.
#   4b. A drop never queues readers behind it: while it waits for a slow
#      reader of the segment, other readers of that segment read on; it
#      drops the segment once the slow reader is gone, and gives up after
#      a second if it is not.  An append in flight that commits into the
#      segment meanwhile (a roll does not wait for it) makes the drop leave
#      the segment: nothing is lost.  A reader at the head of the log
#      holds no lock on the old segments it found nothing in.  The same
#      late append makes a compaction of that segment give up.
#   5. Each switch off stops its job, on starts it again; a longer interval
#      set by a reload is obeyed, and a reload back wakes the worker.
#   6. A compaction plan is carried out within one round (mq._compact_more),
#      and its segments are marked cleaned with the last swap.
#
# Latencies are printed in the test names.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use MqTest::Session;
use Test::More;
use Time::HiRes qw(time sleep);

my $INTERVAL = 0.2;    # seconds: mqext.housekeeping_interval below
my $BOUND = 2.0;       # seconds: "within a second or two"

my $node = PostgreSQL::Test::Cluster->new('housekeeping');
$node->init;
# Cluster's defaults turn restart_after_crash off.
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mqext'
mqext.housekeeping_interval = '200ms'
restart_after_crash = on
max_worker_processes = 16
log_line_prefix = '%m [%p] %b %q%a '
});
$node->start;

sub ms { return sprintf('%.0f ms', 1000 * $_[0]); }

# Run $sql in $db until it prints $expected (errors count as "not yet", as
# while the server restarts); the seconds it took, or undef after $timeout.
sub poll_until
{
	my ($db, $sql, $expected, $timeout) = @_;
	my $t0 = time;
	my $last = '';
	while (time < $t0 + $timeout)
	{
		my ($rc, $out, $err) = $node->psql($db, $sql);
		return time - $t0 if $rc == 0 && $out eq $expected;
		$last = $rc == 0 ? $out : $err;
		sleep 0.05;
	}
	diag("after $timeout s, $sql\n  gave: $last\n  expected: $expected");
	return undef;
}

sub within
{
	my ($t, $bound) = @_;
	return defined $t && $t <= $bound;
}

sub took { return defined $_[0] ? ms($_[0]) : 'never'; }

# Is $sql's output $expected on every look for $secs seconds?
sub stays
{
	my ($db, $sql, $expected, $secs) = @_;
	my $t0 = time;
	while (time < $t0 + $secs)
	{
		my $out = $node->safe_psql($db, $sql);
		if ($out ne $expected)
		{
			diag("$sql\n  gave: $out\n  expected: $expected");
			return 0;
		}
		sleep 0.05;
	}
	return 1;
}

my $WORKERS = q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mqext worker' AND datname = };

sub worker_pid
{
	my ($db) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT coalesce(string_agg(pid::text, ','), '') FROM pg_stat_activity
		 WHERE backend_type = 'mqext worker' AND datname = '$db'});
}

sub launcher_pid
{
	return $node->safe_psql('postgres', q{
		SELECT coalesce(string_agg(pid::text, ','), '') FROM pg_stat_activity
		 WHERE backend_type = 'mqext launcher'});
}

sub reload
{
	my ($db, $sql, $guc, $expected) = @_;
	my $launcher = launcher_pid();
	my $workers = worker_pid('postgres');
	$node->psql('postgres', "$sql; SELECT pg_reload_conf();");
	# New sessions see it once the postmaster has reloaded, and by then the
	# postmaster has passed the SIGHUP on to the workers.
	ok(within(poll_until($db, "SHOW $guc", $expected, 30), 30), "reload: SHOW $guc is $expected");
	sleep 3 * $INTERVAL;    # a run started before the reload has ended
	# (if a process crashed on the reload, wait for the restart to end)
	poll_until('postgres', q{SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'mqext worker'},
		't', 30);
	is(launcher_pid() . ' ' . worker_pid('postgres'), "$launcher $workers",
		"reload ($guc $expected): the launcher and the worker took it without a restart");
}

# --- 1. GUCs -------------------------------------------------------------------

is($node->safe_psql('postgres', 'SHOW mqext.housekeeping_interval'), '200ms',
	'SHOW mqext.housekeeping_interval: 200ms (postgresql.conf)');
is($node->safe_psql('postgres', q{
	SELECT string_agg(format('%s=%s%s/%s', name, boot_val, coalesce(unit, ''), context), ' ' ORDER BY name)
	  FROM pg_settings WHERE name IN ('mqext.housekeeping_interval', 'mqext.enable_retention',
	                                  'mqext.enable_segment_roll', 'mqext.enable_sweeps')}),
	'mqext.enable_retention=on/sighup mqext.enable_segment_roll=on/sighup mqext.enable_sweeps=on/sighup mqext.housekeeping_interval=10000ms/sighup',
	'defaults: interval 10 s, every switch on; all changed by a reload');
foreach my $guc (qw(enable_retention enable_segment_roll enable_sweeps))
{
	is($node->safe_psql('postgres', "SHOW mqext.$guc"), 'on', "SHOW mqext.$guc: on");
}
{
	my ($rc, $out, $err) = $node->psql('postgres', 'SET mqext.enable_retention = off');
	like($err, qr/cannot be changed now/, 'the switches are not per session');
}

# --- 2. a worker per database with mqext ----------------------------------------

like(launcher_pid(), qr/^\d+$/, 'one mqext launcher');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mqext launcher' AND datname IS NULL}),
	'1', 'the launcher is connected to no database');
ok(within(poll_until('postgres', "${WORKERS}'postgres'", '0', 10), 10),
	'no worker lingers in a database without mqext');

$node->safe_psql('postgres', 'CREATE DATABASE db2');
foreach my $db ('postgres', 'db2')
{
	my $t0 = time;
	$node->safe_psql($db, 'CREATE EXTENSION mqext');
	my $t = poll_until('postgres', "${WORKERS}'$db'", '1', 10);
	ok(within($t, $BOUND), "CREATE EXTENSION in $db: a worker there in " . took($t));
}

# a database created afterwards, without mqext: its worker (if the launcher
# started one) leaves at once, and no other comes
$node->safe_psql('postgres', 'CREATE DATABASE plain');
sleep 3 * $INTERVAL;
ok(within(poll_until('postgres', "${WORKERS}'plain'", '0', 10), 10), 'database plain: no worker');
ok(stays('postgres', "${WORKERS}'plain'", '0', 1.0), 'database plain: still no worker after 1 s');
ok(stays('postgres', "${WORKERS}'db2'", '1', 0.5), 'database db2: one worker, staying');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_stat_activity a WHERE backend_type = 'mqext worker'
	   AND datname NOT IN ('postgres', 'db2')}), '0', 'no worker elsewhere (templates included)');

# DROP EXTENSION: the worker leaves within an interval, and stays away;
# the partition state of the topics dropped with it goes too
{
	my $pid = worker_pid('db2');
	$node->safe_psql('db2', q{SELECT mq.create_topic('gone', 3);
		SELECT count(*) FROM generate_series(0, 2) p, mq.produce('gone', 'x', partition => p)});
	my $slots = $node->safe_psql('postgres', 'SELECT mq._slots_in_use()');
	$node->safe_psql('db2', 'DROP EXTENSION mqext');
	my $t0 = time;
	my $t = poll_until('postgres', "${WORKERS}'db2'", '0', 10);
	ok(within($t, 5 * $INTERVAL), "DROP EXTENSION: the worker ($pid) left in " . took($t)
		  . ' (interval ' . ms($INTERVAL) . ')');
	is($node->safe_psql('postgres', 'SELECT mq._slots_in_use()'), $slots - 3,
		"DROP EXTENSION: the dropped topic's three partitions no longer hold shared memory");
	ok(stays('postgres', "${WORKERS}'db2'", '0', 1.0), 'DROP EXTENSION: no worker comes back');
	ok(stays('postgres', "${WORKERS}'postgres'", '1', 0.3), 'the worker of postgres is still there');
	# and CREATE EXTENSION again brings one at once
	$node->safe_psql('db2', 'CREATE EXTENSION mqext');
	$t = poll_until('postgres', "${WORKERS}'db2'", '1', 10);
	ok(within($t, $BOUND), 'CREATE EXTENSION again: a worker in ' . took($t));
}

# --- 3. restarts ----------------------------------------------------------------

# a worker ended by pg_terminate_backend: the launcher starts another
{
	my $pid = worker_pid('db2');
	like($pid, qr/^\d+$/, "db2's worker is $pid");
	$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
	my $t = poll_until('postgres', qq{SELECT count(*) FROM pg_stat_activity
		WHERE backend_type = 'mqext worker' AND datname = 'db2' AND pid <> $pid}, '1', 10);
	ok(within($t, $BOUND), "pg_terminate_backend of a worker: a new one in " . took($t));
}

# kill -9 of a worker, then of the launcher: the postmaster reinitializes,
# and the launcher and both workers come back
foreach my $victim ('worker', 'launcher')
{
	my $old_launcher = launcher_pid();
	my $pid = $victim eq 'worker' ? worker_pid('db2') : $old_launcher;
	like($pid, qr/^\d+$/, "kill -9 $victim: its pid is $pid");
	my $log_offset = -s $node->logfile;
	is(kill('KILL', $pid), 1, "kill -9 $victim: killed $pid");
	$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
	my $t0 = time;
	$node->wait_for_log(qr/database system is ready to accept connections/, $log_offset);
	my $t = poll_until('postgres', q{
		SELECT string_agg(backend_type || ':' || coalesce(datname, '-'), ' ' ORDER BY backend_type, datname)
		  FROM pg_stat_activity WHERE backend_type IN ('mqext launcher', 'mqext worker')},
		'mqext launcher:- mqext worker:db2 mqext worker:postgres', 30);
	ok(defined $t, "kill -9 $victim: the launcher and both workers are back "
		  . (defined $t ? ms(time - $t0) . ' after the restart' : 'never'));
	isnt(launcher_pid(), $old_launcher, "kill -9 $victim: a new launcher");
}
like(slurp_file($node->logfile), qr/background worker "mqext launcher" \(PID \d+\) was terminated by signal 9/,
	'the log shows the launcher killed');

# A topic created and produced to by a transaction still open is invisible
# to the worker: its partition state must not look like a dropped topic's
{
	my $s = MqTest::Session->new($node, 'open-topic', dbname => 'db2');
	my $slots = $node->safe_psql('db2', 'SELECT mq._slots_in_use()');
	$s->query_safe(q{BEGIN; SELECT mq.create_topic('open-tx', 1); SELECT count(*) FROM mq.produce('open-tx', 'x')});
	ok(stays('db2', 'SELECT mq._slots_in_use()', $slots + 1, 1.0),
		'an open transaction\'s new topic keeps its partition state through five worker rounds');
	$s->query_safe(q{SELECT count(*) FROM mq.produce('open-tx', 'y'); COMMIT});
	is($node->safe_psql('db2', q{SELECT string_agg("offset" || ':' || value, ',') FROM mq.fetch_text('open-tx', 0, 0)}),
		'0:x,1:y', 'and its records are there, in order, once it commits');
	$s->quit;
}

# A role that may not drop db2 tries to: db2's worker stays (stopping it
# for the drop is only for who may run the command)
{
	$node->safe_psql('postgres', 'CREATE ROLE regress_not_owner LOGIN');
	my $pid = worker_pid('db2');
	my ($rc, $out, $err) = $node->psql('postgres', 'DROP DATABASE db2',
		extra_params => [ '-U', 'regress_not_owner' ]);
	like($err, qr/must be owner of database db2/, 'DROP DATABASE by a role that does not own it fails');
	ok(stays('postgres', qq{SELECT coalesce(string_agg(pid::text, ','), '') FROM pg_stat_activity
		 WHERE backend_type = 'mqext worker' AND datname = 'db2'}, $pid, 1.0),
		"and db2's worker ($pid) stays");
}

# The worker runs as a superuser: the search_path a database's owner sets
# must not reach its queries (an operator of the owner's would run as the
# superuser)
{
	$node->safe_psql('db2', q{
		CREATE TABLE public.hijacked (who text);
		CREATE FUNCTION public.regress_gt(a int, b int) RETURNS bool LANGUAGE plpgsql AS $$
		BEGIN
			INSERT INTO public.hijacked VALUES (current_user);
			RETURN a OPERATOR(pg_catalog.>) b;
		END $$;
		CREATE OPERATOR public.> (LEFTARG = int, RIGHTARG = int, FUNCTION = public.regress_gt);
		ALTER DATABASE db2 SET search_path = public, pg_catalog;
		SELECT mq.create_topic('search-path', 1);});
	my $pid = worker_pid('db2');
	$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
	my $t = poll_until('postgres', qq{SELECT count(*) FROM pg_stat_activity
		WHERE backend_type = 'mqext worker' AND datname = 'db2' AND pid <> $pid}, '1', 10);
	ok(within($t, $BOUND), "a new worker for db2, under the database's search_path, in " . took($t));
	sleep 10 * $INTERVAL;
	is($node->safe_psql('db2', 'SELECT count(*) FROM public.hijacked'), '0',
		"the worker's queries do not use the database's search_path");
	$node->safe_psql('db2', q{
		ALTER DATABASE db2 RESET search_path;
		SELECT mq.drop_topic('search-path');
		DROP OPERATOR public.> (int, int);
		DROP FUNCTION public.regress_gt(int, int);
		DROP TABLE public.hijacked;});
}

# Database with mqext dropped: its worker must not hold DROP DATABASE off,
# and the launcher forgets its partitions' state
{
	$node->safe_psql('db2', q{SELECT mq.create_topic('dropped-db', 2);
		SELECT count(*) FROM generate_series(0, 1) p, mq.produce('dropped-db', 'x', partition => p)});
	my $slots = $node->safe_psql('postgres', 'SELECT mq._slots_in_use()');
	my $mine = $node->safe_psql('db2', 'SELECT count(*) FROM mq._stats()');
	my $t0 = time;
	my ($rc, $out, $err) = $node->psql('postgres', 'DROP DATABASE db2');
	is($rc, 0, 'DROP DATABASE of a database with mqext succeeds (took ' . ms(time - $t0) . ')')
	  or diag($err);
	$node->safe_psql('postgres', 'DROP DATABASE IF EXISTS db2 WITH (FORCE)') if $rc != 0;
	ok(within(poll_until('postgres', "${WORKERS}'db2'", '0', 10), 10), 'no worker for db2 after it is dropped');
	my $t = poll_until('postgres', 'SELECT mq._slots_in_use()', $slots - $mine, 10);
	ok($mine >= 2 && within($t, 10 * $INTERVAL),
		"DROP DATABASE: its $mine partitions' shared memory was released in " . took($t));
}

# --- 4. rolling and retention -----------------------------------------------------

$node->safe_psql('postgres', q{
CREATE TABLE truth (topic text, part int, off bigint, ts timestamptz);
-- produce one record to every partition of tp every `pause` seconds for
-- `secs` seconds, one transaction each, remembering what was produced
CREATE PROCEDURE produce_for(tp text, secs float8, pause float8) LANGUAGE plpgsql AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + make_interval(secs => secs);
    n int := 0;
BEGIN
    WHILE clock_timestamp() < deadline LOOP
        INSERT INTO truth SELECT tp, r.partition, r."offset", r.ts
          FROM mq.topic t, generate_series(0, t.partitions - 1) p,
               LATERAL mq.produce(tp, tp || '-' || n || '-' || p, partition => p) r
         WHERE t.name = tp;
        COMMIT;
        n := n + 1;
        PERFORM pg_sleep(pause);
    END LOOP;
END $$;
-- the files of a segment: table, toast table, indexes
CREATE FUNCTION seg_files(tp text) RETURNS TABLE (segment bigint, file text) LANGUAGE sql AS $$
    SELECT s.segment, pg_relation_filepath(c.oid)
      FROM mq.segments s
      JOIN pg_class c ON c.oid = s.relation
                      OR c.oid = (SELECT reltoastrelid FROM pg_class x WHERE x.oid = s.relation)
                      OR c.oid IN (SELECT indexrelid FROM pg_index i WHERE i.indrelid = s.relation)
     WHERE s.topic = tp
$$;
});

my $RETENTION_MS = 3000;
my $SEGMENT_MS = 500;
{
	my $tp = 'hk.ret';
	$node->safe_psql('postgres',
		"SELECT mq.create_topic('$tp', 2, '{\"segment.ms\": $SEGMENT_MS, \"retention.ms\": $RETENTION_MS}')");
	my $log_offset = -s $node->logfile;
	my $t0 = time;
	$node->safe_psql('postgres', "CALL produce_for('$tp', 2.0, 0.05)");
	# the first segments, rolled, not yet past retention: their files and sizes
	my @early = split /\n/, $node->safe_psql('postgres', qq{
		SELECT s.segment || ' ' || s.relation::oid || ' ' || s.size_bytes || ' '
		       || (SELECT max(l.max_ts) FROM mq_data.log l WHERE l.segment_id = s.segment)
		  FROM mq.segments s WHERE s.topic = '$tp' AND NOT s.active ORDER BY s.segment});
	my %files;
	foreach (split /\n/, $node->safe_psql('postgres', "SELECT segment || ' ' || file FROM seg_files('$tp')"))
	{
		my ($seg, $file) = split / /;
		push @{ $files{$seg} }, $node->data_dir . "/$file";
	}
	my $elapsed = time - $t0;
	cmp_ok(scalar(@early), '>=', 1, "segment.ms: " . scalar(@early) . ' segments rolled in ' . ms($elapsed));
	is($node->safe_psql('postgres', "SELECT count(*) FROM mq.partitions WHERE topic = '$tp' AND log_start_offset > 0"),
		'0', 'nothing dropped before retention.ms');
	my @early_segs = map { (split / /)[0] } @early;
	my $bytes = 0;
	$bytes += (split / /)[2] foreach @early;
	my $file_bytes = 0;
	foreach my $seg (@early_segs) { $file_bytes += (-s $_ || 0) foreach @{ $files{$seg} }; }
	cmp_ok($file_bytes, '>', 0, "the rolled segments take $bytes bytes ($file_bytes in their files)");

	# go on producing while retention drops the first segments
	$node->safe_psql('postgres', "CALL produce_for('$tp', 2.5, 0.05)");
	my $list = join(',', @early_segs);
	my $t = poll_until('postgres', "SELECT count(*) FROM mq.segment WHERE segment_id IN ($list)", '0', 20);
	ok(defined $t, 'retention.ms: the first segments were dropped, ' . ms(time - $t0) . ' after the first record');

	my $log = slurp_file($node->logfile, $log_offset);
	my %dropped = map { $_->[0] => $_->[1] } map { [ /dropped segment (\d+) of topic "hk\.ret" \((\d+) bytes\)/ ] }
	  grep { /dropped segment \d+ of topic "hk\.ret"/ } split /\n/, $log;
	foreach my $seg (@early_segs)
	{
		ok(defined $dropped{$seg} && $dropped{$seg} > 0,
			"LOG: mqext: dropped segment $seg of topic \"hk.ret\" (" . ($dropped{$seg} // '?') . ' bytes)');
	}
	my $rolled = () = $log =~ /topic "hk\.ret" rolled to a new segment/g;
	cmp_ok($rolled, '>=', 4, "LOG: $rolled rolls of hk.ret in about 4.5 s (segment.ms $SEGMENT_MS)");
	is($node->safe_psql('postgres', join(' UNION ALL ', map {
		"SELECT to_regclass('mq_data.seg_$_') IS NULL" } @early_segs) . ' EXCEPT SELECT true'), '',
		'the relations of the dropped segments are gone');
	my $left = 0;
	foreach my $seg (@early_segs) { $left += (-s $_ || 0) foreach @{ $files{$seg} }; }
	is($left, 0, "their files are empty or gone: $file_bytes bytes freed");

	# the log start moved past the dropped segments; fetch from 0 starts there
	my $starts = $node->safe_psql('postgres', qq{
		SELECT string_agg(p.partition || ':' || p.log_start_offset, ' ' ORDER BY p.partition)
		  FROM mq.partitions p WHERE p.topic = '$tp'});
	is($node->safe_psql('postgres', qq{
		SELECT count(*) FROM mq.partitions p WHERE p.topic = '$tp'
		   AND p.log_start_offset > 0
		   AND p.log_start_offset = (SELECT f."offset" FROM mq.fetch('$tp', p.partition, 0, 1) f)
		   AND p.log_start_offset = (SELECT min(l.base_offset) FROM mq_data.log l JOIN mq.topic x USING (topic_id)
		                              WHERE x.name = '$tp' AND l.partition = p.partition)}),
		'2', "log start offsets moved ($starts) to the first record kept; mq.fetch from 0 starts there");

	# nothing newer than retention.ms lost: whatever is below the log start
	# is older than retention.ms now, whatever is above it is all there
	is($node->safe_psql('postgres', qq{
		SELECT count(*) FROM truth t
		 WHERE t.topic = '$tp' AND t.off < mq.earliest_offset('$tp', t.part)
		   AND t.ts >= clock_timestamp() - interval '$RETENTION_MS ms'}),
		'0', 'no record newer than retention.ms is below the log start');
	my $kept = $node->safe_psql('postgres', qq{
		SELECT count(*) FROM truth t WHERE t.topic = '$tp' AND t.off >= mq.earliest_offset('$tp', t.part)});
	cmp_ok($kept, '>', 0, "$kept records newer than the log start");
	is($node->safe_psql('postgres', qq{
		SELECT count(*) FROM truth t
		 WHERE t.topic = '$tp' AND t.off >= mq.earliest_offset('$tp', t.part)
		   AND NOT EXISTS (SELECT 1 FROM mq.fetch('$tp', t.part, t.off, 1) f WHERE f."offset" = t.off)}),
		'0', 'every record at or above the log start is fetchable');
	is($node->safe_psql('postgres', qq{
		SELECT sum(n) FROM (SELECT count(*) AS n FROM generate_series(0, 1) p,
		                      LATERAL mq.fetch('$tp', p, 0, 100000) f) x}),
		$kept, 'and fetching each partition from 0 gives exactly those');
	cmp_ok($node->safe_psql('postgres', "SELECT count(*) FROM mq.segments WHERE topic = '$tp'"), '>=', 2,
		'the segments within retention.ms are kept');
}

# segment.bytes rolls; retention.bytes drops the oldest segments while the
# partition keeps at least that much without them; mq.delete_records moves
# the log start by hand
{
	my $tp = 'hk.bytes';
	my $SEGMENT_BYTES = 150000;
	$node->safe_psql('postgres', qq{SELECT mq.create_topic('$tp', 1,
		'{"segment.bytes": $SEGMENT_BYTES, "retention.ms": -1}')});
	my $segments = "SELECT count(*) FROM mq.segments WHERE topic = '$tp'";
	# 40 records, a batch of about 5.7 kB
	my $batch = qq{SELECT count(*) FROM mq.produce_batch('$tp',
		ARRAY(SELECT md5(i::text) || repeat(chr(65 + i % 26), 100) FROM generate_series(1, 40) i))};
	$node->safe_psql('postgres', $batch);
	ok(stays('postgres', $segments, '1', 1.0), "segment.bytes: a segment below $SEGMENT_BYTES bytes does not roll");
	my $n = 1;
	while ($node->safe_psql('postgres', "SELECT size_bytes FROM mq.segments WHERE topic = '$tp'") <= $SEGMENT_BYTES
		&& $n < 100)
	{
		$node->safe_psql('postgres', $batch);
		$n++;
	}
	my $t = poll_until('postgres', $segments, '2', 10);
	ok(within($t, 10 * $INTERVAL), "segment.bytes: past it ($n batches), the segment rolled in " . took($t));
	# from here, a segment per batch
	$node->safe_psql('postgres', qq{SELECT mq.alter_topic('$tp', '{"segment.bytes": 14}')});
	for my $i (1 .. 4)
	{
		$node->safe_psql('postgres', $batch);
		$n++;
		poll_until('postgres', $segments, 2 + $i, 10);
	}
	is($node->safe_psql('postgres', $segments), '6', 'six segments: the big one, four of a batch each, the active one');
	my $size = $node->safe_psql('postgres', "SELECT size_bytes FROM mq.partitions WHERE topic = '$tp'");
	my $one = $node->safe_psql('postgres', qq{
		SELECT max(octet_length(l.batch)) FROM mq_data.log l JOIN mq.topic t USING (topic_id) WHERE t.name = '$tp'});
	# Kafka's rule: a segment goes only while the partition keeps at least
	# retention.bytes without it, so just under three batches keeps three
	my $limit = 3 * $one - 10;
	my $log_offset = -s $node->logfile;
	$node->safe_psql('postgres', qq{SELECT mq.alter_topic('$tp', '{"retention.bytes": $limit}')});
	$t = poll_until('postgres', qq{SELECT size_bytes <= 3 * $one FROM mq.partitions WHERE topic = '$tp'}, 't', 10);
	ok(within($t, 10 * $INTERVAL), "retention.bytes $limit: the partition went from $size bytes to "
		  . "three batches (at least the limit) in " . took($t));
	is($node->safe_psql('postgres', qq{
		SELECT string_agg((l.last_offset - l.base_offset + 1)::text, ',' ORDER BY l.base_offset)
		  FROM mq_data.log l JOIN mq.topic t USING (topic_id) WHERE t.name = '$tp'}),
		'40,40,40', 'the newest three batches are kept');
	my $hw = 40 * $n;
	is($node->safe_psql('postgres', "SELECT mq.earliest_offset('$tp', 0) || ' ' || mq.latest_offset('$tp', 0)"),
		($hw - 120) . " $hw", 'the log start moved to the first batch kept');
	ok(stays('postgres', $segments, '4', 0.5), 'and no more goes');
	$node->wait_for_log(qr/mqext: dropped segment \d+ of topic "hk\.bytes" \(\d+ bytes\)/, $log_offset);
	ok(1, 'LOG: mqext: dropped segment ... of topic "hk.bytes"');

	# delete_records: the log start moves at once, the segments below it go
	# at the next run; the active segment stays
	$node->safe_psql('postgres', qq{SELECT mq.alter_topic('$tp', '{"retention.bytes": -1}')});
	my $to = $hw - 40;
	is($node->safe_psql('postgres', "SELECT mq.delete_records('$tp', 0, $to)"), $to, "delete_records to $to");
	is($node->safe_psql('postgres', qq{SELECT min("offset") FROM mq.fetch('$tp', 0, 0)}), $to,
		"fetch from 0 starts at $to");
	$t = poll_until('postgres', qq{
		SELECT count(*) FROM mq_data.log l JOIN mq.topic t USING (topic_id)
		 WHERE t.name = '$tp' AND l.last_offset < $to}, '0', 10);
	ok(within($t, 10 * $INTERVAL), 'delete_records: the segments below it were dropped in ' . took($t));
	is($node->safe_psql('postgres', "SELECT count(*) FROM mq.fetch('$tp', 0, 0, 1000)"), '40',
		'the records above it are all there');
	is($node->safe_psql('postgres', $segments), '2', 'the last batch\'s segment and the active one are left');
	my $err = ($node->psql('postgres', "SELECT mq.delete_records('$tp', 0, $hw + 1)"))[2];
	like($err, qr/is out of range/, 'delete_records past the high watermark: an error');
}

# --- 4b. a drop does not queue readers behind it ----------------------------------

{
	my $tp = 'hk.readers';
	my $seg_sql = qq{SELECT min(s.segment_id) FROM mq.segment s JOIN mq.topic t USING (topic_id) WHERE t.name = '$tp'};
	my $drop_sql = qq{SELECT mq._drop_segment(t.topic_id, ($seg_sql), 1) FROM mq.topic t WHERE t.name = '$tp'};
	$node->safe_psql('postgres', qq{
		SELECT mq.create_topic('$tp', 1, '{"retention.ms": -1}');
		SELECT mq.produce('$tp', 'old'::text);
		SELECT mq._create_segment(topic_id) FROM mq.topic WHERE name = '$tp';
		SELECT mq.produce('$tp', 'new'::text);});
	my $mon = MqTest::Session->new($node, 'readers-mon');
	my $slow = MqTest::Session->new($node, 'readers-slow');
	my $d = MqTest::Session->new($node, 'readers-drop');
	my $r = MqTest::Session->new($node, 'readers-other');
	my $read = qq{SELECT string_agg(value, ',' ORDER BY "offset") FROM mq.fetch_text('$tp', 0, 0)};

	# the slow reader stays for a second and a half: the drop gives up
	$slow->query_safe("BEGIN; $read;");
	my $t0 = time;
	$d->send($drop_sql);
	ok($mon->wait_asleep($d), 'the drop waits for the slow reader, retrying (wait event Extension)');
	my $t1 = time;
	is($r->query_safe($read), 'old,new', 'meanwhile another reader reads the segment');
	my $waited = time - $t1;
	ok($waited < 0.5, 'without waiting for the drop (' . ms($waited) . ')');
	is($d->wait, 'f', 'the drop gives up');
	my $gave_up = time - $t0;
	ok($gave_up >= 0.9 && $gave_up < 5, 'after about a second (' . ms($gave_up) . ')');
	$slow->query_safe('COMMIT');
	is($node->safe_psql('postgres', $read), 'old,new', 'nothing was dropped');

	# the slow reader commits while the drop retries: the drop goes through
	$slow->query_safe("BEGIN; $read;");
	$d->send($drop_sql);
	ok($mon->wait_asleep($d), 'the drop waits for the slow reader again');
	is($r->query_safe($read), 'old,new', 'another reader reads on');
	$slow->query_safe('COMMIT');
	is($d->wait, 't', 'once the slow reader committed, the segment is dropped');
	is($node->safe_psql('postgres', "$read; SELECT mq.earliest_offset('$tp', 0)"), "new\n1",
		'its record is gone and the log start moved past it');
	# an append that began before a roll commits into the old segment while
	# a drop waits for it (a roll does not wait for appends in flight): the
	# drop, decided on what it saw before, finds the segment changed under
	# its lock and leaves it
	$node->safe_psql('postgres', qq{
		SELECT mq.produce('$tp', 'before'::text);});
	$slow->query_safe(qq{BEGIN; SELECT mq.produce('$tp', 'late'::text);});
	$node->safe_psql('postgres', qq{
		SELECT mq._create_segment(topic_id) FROM mq.topic WHERE name = '$tp';});
	my $old = qq{SELECT max(s.segment_id) - 1 FROM mq.segment s JOIN mq.topic t USING (topic_id) WHERE t.name = '$tp'};
	my $seen = $node->safe_psql('postgres', qq{
		SELECT count(*) FROM mq_data.log l WHERE l.segment_id = ($old)});
	is($seen, '2', 'the old segment holds two committed batches (new, before)');
	$d->send(qq{SELECT mq._drop_segment(t.topic_id, ($old), $seen) FROM mq.topic t WHERE t.name = '$tp'});
	ok($mon->wait_asleep($d), 'the drop waits for the append in flight');
	$slow->query_safe('COMMIT');
	is($d->wait, 'f', 'it committed into the old segment: the drop leaves the segment');
	is($node->safe_psql('postgres', $read), 'new,before,late', 'nothing is lost');

	# a reader at the head of the log keeps no lock on the segments it found
	# nothing in, so a long transaction there (a waiting poll, say) does not
	# keep them from retention
	my $hw = $node->safe_psql('postgres', "SELECT mq.latest_offset('$tp', 0)");
	$node->safe_psql('postgres', "SELECT mq.produce('$tp', 'head'::text)");
	is($slow->query_safe(qq{BEGIN; SELECT string_agg(value, ',') FROM mq.fetch_text('$tp', 0, $hw);}),
		'head', 'a reader in an open transaction reads the newest record (in the active segment)');
	$seen = $node->safe_psql('postgres', qq{
		SELECT count(*) FROM mq_data.log l WHERE l.segment_id = ($old)});
	my $t2 = time;
	is($d->query_safe(qq{SELECT mq._drop_segment(t.topic_id, ($old), $seen) FROM mq.topic t WHERE t.name = '$tp'}),
		't', 'a reader at the head in an open transaction does not hold the drop of an old segment');
	ok(time - $t2 < 0.9, 'which did not wait for it (' . ms(time - $t2) . ')');
	$slow->query_safe('COMMIT');
	is($node->safe_psql('postgres', "SELECT mq.earliest_offset('$tp', 0)"), $hw, 'the log start moved to the head');

	# the same for compaction: an append in flight that commits into the
	# segment being compacted makes the swap give up, rather than lose it
	# (the worker's compaction is off meanwhile: the test runs it by hand)
	reload('postgres', 'ALTER SYSTEM SET mqext.enable_compaction = off', 'mqext.enable_compaction', 'off');
	my $ct = 'hk.compact';
	$node->safe_psql('postgres', qq{
		SELECT mq.create_topic('$ct', 1, '{"cleanup.policy": "compact", "min.cleanable.dirty.ratio": 0,
		                                   "min.compaction.lag.ms": 0, "segment.ms": 604800000}');
		SELECT mq.produce('$ct', 'v1'::text, 'k'::text);
		SELECT mq.produce('$ct', 'v2'::text, 'k'::text);});
	$slow->query_safe(qq{BEGIN; SELECT mq.produce('$ct', 'v3'::text, 'k'::text);});
	$node->safe_psql('postgres', qq{SELECT mq._create_segment(topic_id) FROM mq.topic WHERE name = '$ct';});
	$d->send(qq{SELECT mq._compact_topic('$ct', 1, 0, 0)});
	ok($mon->wait_asleep($d), 'compaction waits at its swap for the append in flight');
	$slow->query_safe('COMMIT');
	my (undef, $cerr) = $d->wait;
	like($cerr, qr/received appends while it was compacted/, 'which committed into the segment: compaction gives up');
	is($node->safe_psql('postgres', qq{SELECT string_agg(value, ',' ORDER BY "offset") FROM mq.fetch_text('$ct', 0, 0)}),
		'v1,v2,v3', 'nothing is lost');
	is($d->query_safe(qq{SELECT mq._compact_topic('$ct', 1, 0, 0) > 0}), 't', 'the next run compacts');
	is($node->safe_psql('postgres', qq{SELECT string_agg(value, ',' ORDER BY "offset") FROM mq.fetch_text('$ct', 0, 0)}),
		'v3', 'keeping the newest value of the key');
	reload('postgres', 'ALTER SYSTEM RESET mqext.enable_compaction', 'mqext.enable_compaction', 'on');
	$_->quit foreach ($mon, $slow, $d, $r);
}

# --- 4c. a topic whose housekeeping fails ------------------------------------------

# Its step is reported (a WARNING with the topic's name, SQLSTATE and all)
# and rolled back, and the round goes on: the topics after it still roll,
# and the same worker keeps running.  Here the failing topic's active
# segment was renamed by hand, so deciding whether it must roll fails.
{
	my $bad = 'hk.poison';
	my $good = 'hk.after-poison';
	$node->safe_psql('postgres', qq{
		SELECT mq.create_topic('$bad', 1, '{"segment.ms": 604800000}');
		SELECT mq.produce('$bad', 'x');});
	my $seg = $node->safe_psql('postgres', qq{
		SELECT max(s.segment_id) FROM mq.segment s JOIN mq.topic t USING (topic_id) WHERE t.name = '$bad'});
	my $pid = worker_pid('postgres');
	my $log_pos = -s $node->logfile;
	$node->safe_psql('postgres', qq{
		ALTER TABLE mq_data.seg_$seg RENAME TO seg_${seg}_hidden;
		SELECT mq.alter_topic('$bad', '{"segment.ms": 100}');
		SELECT mq.create_topic('$good', 1, '{"segment.ms": 100}');
		SELECT mq.produce('$good', 'y');});
	# (mq.segment, not the view, which would look the hidden relation up)
	my $segments = q{SELECT count(*) FROM mq.segment s JOIN mq.topic t USING (topic_id) WHERE t.name = };
	my $t = poll_until('postgres', "$segments '$good'", '2', 10);
	ok(within($t, 10 * $INTERVAL), "a topic after the failing one still rolls (in " . took($t) . ')');
	my $log = '';
	my $t0 = time;
	until ($log =~ /housekeeping of topic "\Q$bad\E" failed.*\n.*CONTEXT/ || time > $t0 + 10)
	{
		sleep 0.05;
		$log = substr(slurp_file($node->logfile), $log_pos);
	}
	like($log, qr/mqext worker WARNING:  mqext: housekeeping of topic "\Q$bad\E" failed: relation "mq_data.seg_$seg" does not exist/,
		'the failure is reported as a WARNING naming the topic');
	like($log, qr/failed: relation .*\n.*mqext worker CONTEXT:  PL\/pgSQL function mq._housekeeping_topic/,
		'with its context');
	is(worker_pid('postgres'), $pid, 'the worker that reported it is still the one running');
	$node->safe_psql('postgres', qq{ALTER TABLE mq_data.seg_${seg}_hidden RENAME TO seg_$seg});
	$t = poll_until('postgres', "$segments '$bad'", '2', 10);
	ok(within($t, 10 * $INTERVAL), "repaired, the failing topic rolls too (in " . took($t) . ')');
}

# --- 5. the switches and the interval, by reload -----------------------------------

# enable_retention off: rolling goes on, nothing is dropped; on: dropped
{
	reload('postgres', 'ALTER SYSTEM SET mqext.enable_retention = off', 'mqext.enable_retention', 'off');
	my $tp = 'hk.noret';
	$node->safe_psql('postgres', qq{SELECT mq.create_topic('$tp', 1, '{"segment.ms": 200, "retention.ms": 500}')});
	$node->safe_psql('postgres', "CALL produce_for('$tp', 0.8, 0.05)");
	my $t = poll_until('postgres', "SELECT count(*) >= 3 FROM mq.segments WHERE topic = '$tp'", 't', 10);
	ok(defined $t, 'enable_retention off: segments still roll');
	# until the newest record is older than retention.ms, and some runs more
	sleep 0.5 + 5 * $INTERVAL;
	is($node->safe_psql('postgres', qq{
		SELECT mq.earliest_offset('$tp', 0) || ' ' || (SELECT count(*) FROM truth WHERE topic = '$tp')
		       || ' ' || (SELECT count(*) FROM mq.fetch('$tp', 0, 0, 100000))}),
		'0 ' . $node->safe_psql('postgres', "SELECT count(*) || ' ' || count(*) FROM truth WHERE topic = '$tp'"),
		'enable_retention off: nothing dropped past retention.ms');
	unlike(slurp_file($node->logfile), qr/dropped segment \d+ of topic "hk\.noret"/, 'enable_retention off: no drop logged');

	reload('postgres', 'ALTER SYSTEM RESET mqext.enable_retention', 'mqext.enable_retention', 'on');
	$t = poll_until('postgres', "SELECT mq.earliest_offset('$tp', 0) > 0", 't', 10);
	ok(within($t, 10 * $INTERVAL), 'enable_retention on again: segments dropped in ' . took($t));
}

# enable_segment_roll off: no roll past segment.ms; on: a roll
{
	reload('postgres', 'ALTER SYSTEM SET mqext.enable_segment_roll = off', 'mqext.enable_segment_roll', 'off');
	my $tp = 'hk.noroll';
	$node->safe_psql('postgres', qq{SELECT mq.create_topic('$tp', 1, '{"segment.ms": 100}')});
	$node->safe_psql('postgres', "SELECT count(*) FROM mq.produce('$tp', 'x')");
	ok(stays('postgres', "SELECT count(*) FROM mq.segments WHERE topic = '$tp'", '1', 1.0),
		'enable_segment_roll off: no roll for 1 s past segment.ms');
	reload('postgres', 'ALTER SYSTEM RESET mqext.enable_segment_roll', 'mqext.enable_segment_roll', 'on');
	my $t = poll_until('postgres', "SELECT count(*) FROM mq.segments WHERE topic = '$tp'", '2', 10);
	ok(within($t, 10 * $INTERVAL), 'enable_segment_roll on again: rolled in ' . took($t));
}

# enable_sweeps off: a pooler member past session.timeout.ms stays; on: removed
{
	reload('postgres', 'ALTER SYSTEM SET mqext.enable_sweeps = off', 'mqext.enable_sweeps', 'off');
	$node->safe_psql('postgres', q{SELECT mq.subscribe('hk.g', ARRAY['hk.noroll'], 'm1', '{"session.timeout.ms": 300}')});
	my $members = q{SELECT count(*) FROM mq.group_members WHERE group_id = 'hk.g'};
	ok(stays('postgres', $members, '1', 1.0), 'enable_sweeps off: an expired pooler member stays');
	reload('postgres', 'ALTER SYSTEM RESET mqext.enable_sweeps', 'mqext.enable_sweeps', 'on');
	my $t = poll_until('postgres', $members, '0', 10);
	ok(within($t, 10 * $INTERVAL), 'enable_sweeps on again: the member was removed in ' . took($t));
}

# housekeeping_interval 1h by reload: no run for a while; back to 200ms by
# reload: the worker wakes at once
{
	reload('postgres', q{ALTER SYSTEM SET mqext.housekeeping_interval = '1h'}, 'mqext.housekeeping_interval', '1h');
	my $tp = 'hk.slow';
	$node->safe_psql('postgres', qq{SELECT mq.create_topic('$tp', 1, '{"segment.ms": 100}')});
	$node->safe_psql('postgres', "SELECT count(*) FROM mq.produce('$tp', 'x')");
	ok(stays('postgres', "SELECT count(*) FROM mq.segments WHERE topic = '$tp'", '1', 1.5),
		'housekeeping_interval 1h: no roll for 1.5 s past segment.ms');
	$node->safe_psql('postgres', 'ALTER SYSTEM RESET mqext.housekeeping_interval; SELECT pg_reload_conf()');
	my $t = poll_until('postgres', "SELECT count(*) FROM mq.segments WHERE topic = '$tp'", '2', 10);
	ok(within($t, $BOUND), 'housekeeping_interval back to 200ms: rolled in ' . took($t));
	is($node->safe_psql('postgres', 'SHOW mqext.housekeeping_interval'), '200ms', 'SHOW: 200ms again');
}

# A compaction plan is carried out within one round: with the interval at an
# hour, the one round a reload wakes the worker for rewrites all three dirty
# segments of a topic (mq._compact_more, a transaction each, after
# mq._housekeeping_topic did the first) and marks them cleaned.
{
	my $tp = 'hk.plan';
	$node->safe_psql('postgres', qq{
		SELECT mq.create_topic('$tp', 1, '{"cleanup.policy": "compact", "min.compaction.lag.ms": 3600000,
		                                   "min.cleanable.dirty.ratio": 0}')});
	for my $k (qw(a b c))
	{
		$node->safe_psql('postgres', qq{
			SELECT count(*) FROM mq.produce_batch('$tp', ARRAY['${k}1', '${k}2'], keys => ARRAY['$k', '$k'])});
		$node->safe_psql('postgres', qq{SELECT mq._create_segment(topic_id) FROM mq.topic WHERE name = '$tp'});
	}
	reload('postgres', q{ALTER SYSTEM SET mqext.housekeeping_interval = '1h'}, 'mqext.housekeeping_interval', '1h');
	my $log_pos = -s $node->logfile;
	$node->safe_psql('postgres', qq{SELECT mq.alter_topic('$tp', '{"min.compaction.lag.ms": 0}')});
	$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
	my $values = qq{SELECT string_agg(value, ' ' ORDER BY "offset") FROM mq.fetch_text('$tp', 0, 0)};
	my $t = poll_until('postgres', $values, 'a2 b2 c2', 10);
	ok(within($t, $BOUND), 'one round compacted the three dirty segments in ' . took($t));
	my $log = slurp_file($node->logfile, $log_pos);
	my $n = () = $log =~ /compacted segment \d+ of topic "\Q$tp\E"/g;
	is($n, 3, 'each logged');
	my $cleaned = qq{SELECT count(*) FILTER (WHERE cleaned) || '/' || count(*) FROM mq.segments WHERE topic = '$tp'};
	is($node->safe_psql('postgres', $cleaned), '3/4', 'and marked them cleaned with the last swap');
	$log_pos = -s $node->logfile;
	$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
	sleep 3 * $INTERVAL;
	$log = slurp_file($node->logfile, $log_pos);
	unlike($log, qr/compacted segment \d+ of topic "\Q$tp\E"/, 'the next round has nothing to do');
	is($node->safe_psql('postgres', $values), 'a2 b2 c2', 'nothing more removed');
	$node->safe_psql('postgres', 'ALTER SYSTEM RESET mqext.housekeeping_interval; SELECT pg_reload_conf()');
	ok(within(poll_until('postgres', 'SHOW mqext.housekeeping_interval', '200ms', 30), 30), 'interval back to 200ms');
}

# --- the server log ---------------------------------------------------------------

{
	my $log = slurp_file($node->logfile);
	my $restarts = () = $log =~ /all server processes terminated; reinitializing/g;
	is($restarts, 2, 'the server reinitialized twice (the two kill -9), never by itself');
	unlike($log, qr/terminated by signal (?!9:)/, 'no server process died of a signal but the two kill -9');
	my @errors = grep { /mqext (launcher|worker)\s+(ERROR|PANIC|WARNING)/ && !/hk\.poison/ } split /\n/, $log;
	is(scalar(@errors), 0, 'no ERROR or WARNING in the launcher or the workers but of hk.poison') or diag(join("\n", @errors[0 .. ($#errors < 9 ? $#errors : 9)]));
}

$node->stop;
done_testing();
