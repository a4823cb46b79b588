# test/t/001_crash_safety.pl
#
# Crash safety of the log (DESIGN.md, "Offsets and visibility"): concurrent
# producers (pgbench clients) append single records, batches, multi-topic
# transactions and savepoints, committing or rolling back at random; the
# server then crashes while they run, three ways:
#
#   1. pg_ctl stop -m immediate,
#   2. kill -9 of a busy backend (the postmaster reinitializes shared memory,
#      restart_after_crash = on),
#   3. kill -9 of the postmaster (then a fresh start),
#
# each time with one more session holding appends in flight (uncommitted).
# Every producing transaction writes what it was told (topic, partition,
# offset, value) into the side table "truth" in the same transaction, so
# "truth" is exactly what committed.  Values of transactions (or
# savepoints) that roll back start with "abort-", the others with "ok-".
#
# After every restart:
#   (a) every truth row is fetched by mq.fetch at exactly its offset, with its value;
#   (b) no value appears twice in the log, no offset is given twice;
#   (c) no "abort-" value is in the log, and the log is exactly "truth";
#   (d) offsets are strictly increasing per partition, in fetch order;
#   (e) the last stable offset lies above the last committed offset, and a
#       new produce gets an offset above every committed offset of its
#       partition.
#
# Finally, an aborted tail: offsets a reader saw the last stable offset pass
# (and committed as a group position) are never handed out again after a
# crash, whether the ceiling above them was replayed from the WAL or read
# from a checkpointed page (src/log/recovery.c).
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $CLIENTS = 8;
my $PER_ROUND = 1000;   # committed records to wait for before the crash

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
# Cluster's defaults turn fsync and restart_after_crash off.
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mqext'
fsync = on
restart_after_crash = on
max_connections = 40
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION mqext;
SELECT mq.create_topic('crash', 4);
SELECT mq.create_topic('crash2', 3);

CREATE SEQUENCE ids;
CREATE TABLE truth (topic text NOT NULL, val text NOT NULL, part int NOT NULL, off bigint NOT NULL);
CREATE TABLE seen (topic text, part int, ord int, off bigint, val text);

-- one record: value <tag>-<unique id>; key k or explicit partition p or neither
CREATE FUNCTION put(tp text, tag text, k text, p int) RETURNS void LANGUAGE sql AS $$
    INSERT INTO truth (topic, val, part, off)
    SELECT tp, s.v, r.partition, r."offset"
      FROM (SELECT tag || '-' || nextval('ids') AS v) s,
           LATERAL mq.produce(tp, s.v, k, partition => p) r;
$$;

-- n records in one call: random keys, or explicit partition p, or neither
CREATE FUNCTION put_batch(tp text, tag text, n int, keyed boolean, p int) RETURNS void LANGUAGE sql AS $$
    WITH v AS (SELECT ARRAY(SELECT tag || '-' || nextval('ids') FROM generate_series(1, n)) AS a)
    INSERT INTO truth (topic, val, part, off)
    SELECT tp, v.a[r.i], r.part, r.off
      FROM v, LATERAL ROWS FROM (mq.produce_batch(tp, v.a,
               CASE WHEN keyed THEN ARRAY(SELECT 'k' || (random() * 1000)::int FROM generate_series(1, n)) END,
               partition => p)) WITH ORDINALITY AS r(part, off, i);
$$;

-- the whole log, read the way a consumer reads it: fetch pages from 0 on
CREATE FUNCTION dump_log() RETURNS TABLE (d_topic text, d_part int, d_ord int, d_off bigint, d_val text)
LANGUAGE plpgsql AS $$
DECLARE
    t record;
    r record;
    p int;
    o bigint;
    n int;
BEGIN
    FOR t IN SELECT name, partitions FROM mq.topic ORDER BY name LOOP
        FOR p IN 0 .. t.partitions - 1 LOOP
            o := 0;
            d_ord := 0;
            LOOP
                n := 0;
                FOR r IN SELECT f."offset" AS off, f.value AS val FROM mq.fetch_text(t.name, p, o, 700) f LOOP
                    IF r.off < o THEN
                        RAISE EXCEPTION 'fetch of %/% from % returned offset %', t.name, p, o, r.off;
                    END IF;
                    d_topic := t.name; d_part := p; d_ord := d_ord + 1; d_off := r.off; d_val := r.val;
                    RETURN NEXT;
                    o := r.off + 1;
                    n := n + 1;
                END LOOP;
                EXIT WHEN n = 0;
            END LOOP;
        END LOOP;
    END LOOP;
END
$$;
});

# --- the producers -----------------------------------------------------------

my $dir = PostgreSQL::Test::Utils::tempdir;
my %scripts = (
	# one record, random partitioning; 25% roll back
	'single.sql@4' => q{
\set ab random(1, 100)
\set mode random(0, 2)
\set p random(0, 3)
\set kk random(1, 1000)
BEGIN;
SELECT put('crash', CASE WHEN :ab <= 25 THEN 'abort' ELSE 'ok' END || '-' || :round,
           CASE WHEN :mode = 1 THEN 'k' || :kk END, CASE WHEN :mode = 0 THEN :p END);
\if :ab <= 25
ROLLBACK;
\else
COMMIT;
\endif
},
	# produce_batch of 1-20 records, random partitioning; 25% roll back
	'batch.sql@3' => q{
\set ab random(1, 100)
\set mode random(0, 2)
\set p random(0, 3)
\set n random(1, 20)
BEGIN;
SELECT put_batch('crash', CASE WHEN :ab <= 25 THEN 'abort' ELSE 'ok' END || '-' || :round,
                 :n, :mode = 1, CASE WHEN :mode = 0 THEN :p END);
\if :ab <= 25
ROLLBACK;
\else
COMMIT;
\endif
},
	# two topics, several partitions, held open a little; 30% roll back
	'multi.sql@2' => q{
\set ab random(1, 100)
\set p random(0, 3)
\set q random(0, 2)
\set n random(1, 10)
\set kk random(1, 1000)
\set ms random(0, 20)
BEGIN;
SELECT put('crash', CASE WHEN :ab <= 30 THEN 'abort' ELSE 'ok' END || '-' || :round, NULL, :p);
SELECT put_batch('crash2', CASE WHEN :ab <= 30 THEN 'abort' ELSE 'ok' END || '-' || :round, :n, true, NULL);
SELECT put('crash2', CASE WHEN :ab <= 30 THEN 'abort' ELSE 'ok' END || '-' || :round, 'k' || :kk, NULL);
\sleep :ms ms
SELECT put('crash', CASE WHEN :ab <= 30 THEN 'abort' ELSE 'ok' END || '-' || :round, NULL, (:p + 1) % 4);
\if :ab <= 30
ROLLBACK;
\else
COMMIT;
\endif
},
	# savepoints: a rolled-back subtransaction between kept appends
	'savepoint.sql@1' => q{
\set ab random(1, 100)
\set p random(0, 3)
\set q random(0, 2)
\set n random(1, 10)
BEGIN;
SELECT put('crash', CASE WHEN :ab <= 25 THEN 'abort' ELSE 'ok' END || '-' || :round, NULL, :p);
SAVEPOINT a;
SELECT put('crash', 'abort-' || :round, NULL, :p);
SELECT put_batch('crash2', 'abort-' || :round, :n, false, :q);
ROLLBACK TO SAVEPOINT a;
SAVEPOINT b;
SELECT put_batch('crash2', CASE WHEN :ab <= 25 THEN 'abort' ELSE 'ok' END || '-' || :round, :n, false, :q);
RELEASE SAVEPOINT b;
SELECT put('crash', CASE WHEN :ab <= 25 THEN 'abort' ELSE 'ok' END || '-' || :round, NULL, :p);
\if :ab <= 25
ROLLBACK;
\else
COMMIT;
\endif
},);
my @script_args;
foreach my $s (sort keys %scripts)
{
	my ($file) = split /@/, $s;
	PostgreSQL::Test::Utils::append_to_file("$dir/$file", $scripts{$s});
	push @script_args, '-f', "$dir/$s";
}

sub start_producers
{
	my ($round) = @_;
	my ($out, $err) = ('', '');
	local $ENV{PGAPPNAME} = 'mq_producer';
	my @cmd = (
		'pgbench', '-n', '-c', $CLIENTS, '-j', $CLIENTS, '-T', 120,
		'-D', "round=$round", @script_args,
		'-h', $node->host, '-p', $node->port, 'postgres');
	my $h = IPC::Run::start(\@cmd, '<', \undef, '>', \$out, '2>', \$err,
		IPC::Run::timeout(180));
	return { h => $h, out => \$out, err => \$err };
}

sub finish_producers
{
	my ($pg, $name) = @_;
	# The crash disconnected every client, so pgbench ends on its own.
	eval { $pg->{h}->finish; };
	if ($@)
	{
		diag("pgbench did not end: $@");
		$pg->{h}->kill_kill;
	}
	my @errors = grep { /ERROR:/ } split /\n/, ${ $pg->{err} };
	is(scalar(@errors), 0, "$name: no producer failed before the crash")
	  or diag(join("\n", @errors[ 0 .. ($#errors < 9 ? $#errors : 9) ]));
}

sub count_truth { return $node->safe_psql('postgres', 'SELECT count(*) FROM truth'); }

# Wait until the producers have committed $n more records, so that the
# crash hits a running workload.
sub wait_for_progress
{
	my ($name, $pg, $n) = @_;
	my $target = count_truth() + $n;
	ok( $node->poll_query_until('postgres', "SELECT count(*) >= $target FROM truth"),
		"$name: producers are committing")
	  or diag("pgbench stderr:\n" . ${ $pg->{err} });
}

# A session with appends in flight on every partition when the crash hits.
sub open_inflight
{
	my ($round) = @_;
	my $bg = $node->background_psql('postgres', on_error_stop => 0);
	$bg->query_safe(qq{BEGIN;
		SELECT put('crash', 'abort-inflight-$round', NULL, p) FROM generate_series(0, 3) p;
		SELECT put_batch('crash2', 'abort-inflight-$round', 5, true, NULL);});
	return $bg;
}

sub close_inflight
{
	my ($bg) = @_;
	eval { $bg->quit; };    # its server connection is gone
	return;
}

# --- checks after a restart ---------------------------------------------------

my %expect_zero = (
	not_fetchable          => q{SELECT count(*) FROM truth t WHERE NOT EXISTS
	                              (SELECT 1 FROM mq.fetch_text(t.topic, t.part, t.off, 1) f
	                                WHERE f."offset" = t.off AND f.value = t.val)},
	dup_values_in_log      => q{SELECT count(*) FROM (SELECT val FROM seen GROUP BY val HAVING count(*) > 1) x},
	dup_offsets_in_log     => q{SELECT count(*) FROM (SELECT 1 FROM seen GROUP BY topic, part, off HAVING count(*) > 1) x},
	dup_offsets_committed  => q{SELECT count(*) FROM (SELECT 1 FROM truth GROUP BY topic, part, off HAVING count(*) > 1) x},
	dup_values_committed   => q{SELECT count(*) FROM (SELECT 1 FROM truth GROUP BY val HAVING count(*) > 1) x},
	aborted_in_log         => q{SELECT count(*) FROM seen WHERE val NOT LIKE 'ok-%'},
	aborted_committed      => q{SELECT count(*) FROM truth WHERE val NOT LIKE 'ok-%'},
	in_log_not_committed   => q{SELECT count(*) FROM (SELECT topic, part, off, val FROM seen
	                              EXCEPT ALL SELECT topic, part, off, val FROM truth) x},
	committed_not_in_log   => q{SELECT count(*) FROM (SELECT topic, part, off, val FROM truth
	                              EXCEPT ALL SELECT topic, part, off, val FROM seen) x},
	not_increasing         => q{SELECT count(*) FROM (SELECT off <= lag(off) OVER w AS bad FROM seen
	                              WINDOW w AS (PARTITION BY topic, part ORDER BY ord)) x WHERE bad},
	lso_not_above_committed => q{SELECT count(*) FROM mq.topic tp, generate_series(0, tp.partitions - 1) p
	                             WHERE mq.latest_offset(tp.name, p) IS NULL
	                                OR mq.latest_offset(tp.name, p) <
	                                   coalesce((SELECT max(off) + 1 FROM truth t
	                                              WHERE t.topic = tp.name AND t.part = p), 0)},);

sub verify
{
	my ($name, $round) = @_;

	$node->safe_psql('postgres', 'TRUNCATE seen; INSERT INTO seen SELECT * FROM dump_log()');

	my $committed = $node->safe_psql('postgres',
		"SELECT count(*) FROM truth WHERE val LIKE 'ok-$round-%'");
	cmp_ok($committed, '>=', $PER_ROUND, "$name: $committed records committed in this round");
	is($node->safe_psql('postgres',
			q{SELECT count(*) FROM mq.topic tp, generate_series(0, tp.partitions - 1) p
			   WHERE NOT EXISTS (SELECT 1 FROM truth t WHERE t.topic = tp.name AND t.part = p)}),
		'0', "$name: every partition has committed records");

	my $all_zero = 1;
	foreach my $check (sort keys %expect_zero)
	{
		my $n = $node->safe_psql('postgres', $expect_zero{$check});
		is($n, '0', "$name: $check = 0") or $all_zero = 0;
	}
	if (!$all_zero)
	{
		diag("committed but not fetchable at their offset:\n"
			  . $node->safe_psql('postgres', q{
				SELECT t.topic, t.part, t.off, t.val, s.off AS seen_at
				  FROM truth t LEFT JOIN seen s USING (val)
				 WHERE NOT EXISTS (SELECT 1 FROM seen x WHERE (x.topic, x.part, x.off, x.val) = (t.topic, t.part, t.off, t.val))
				 ORDER BY 1, 2, 3 LIMIT 10}));
		diag("in the log but not committed:\n"
			  . $node->safe_psql('postgres', q{
				SELECT * FROM seen s WHERE NOT EXISTS
				  (SELECT 1 FROM truth x WHERE (x.topic, x.part, x.off, x.val) = (s.topic, s.part, s.off, s.val))
				 ORDER BY 1, 2, 3 LIMIT 10}));
	}

	# (e) new appends go above everything committed, on every partition,
	# single records and a batch alike.
	my $after = $node->safe_psql('postgres', qq{
		DROP TABLE IF EXISTS high;
		CREATE TABLE high AS SELECT topic, part, max(off) AS m FROM truth GROUP BY 1, 2;
		BEGIN;
		SELECT put(tp.name, 'ok-post-$round', NULL, p) FROM mq.topic tp, generate_series(0, tp.partitions - 1) p;
		SELECT put_batch('crash', 'ok-post-$round', 8, true, NULL);
		COMMIT;
		SELECT count(*) FILTER (WHERE t.off <= h.m), count(*), count(DISTINCT (t.topic, t.part))
		  FROM truth t JOIN high h USING (topic, part)
		 WHERE t.val LIKE 'ok-post-$round-%';});
	my ($below, $total, $parts) = split /\|/, (split /\n/, $after)[-1];
	is($below, '0', "$name: new produces get offsets above every committed offset ($total records)")
	  or diag("new records (topic, partition, offset, highest committed offset before):\n"
		  . $node->safe_psql('postgres', qq{
			SELECT t.topic, t.part, t.off, h.m FROM truth t JOIN high h USING (topic, part)
			 WHERE t.val LIKE 'ok-post-$round-%' ORDER BY 1, 2, 3}));
	is("$total|$parts", '15|7', "$name: new produces reached every partition (7 records + a batch of 8)");
	is($node->safe_psql('postgres',
			qq{SELECT count(*) FROM truth t WHERE t.val LIKE 'ok-post-$round-%' AND NOT EXISTS
			     (SELECT 1 FROM mq.fetch_text(t.topic, t.part, t.off, 1) f
			       WHERE f."offset" = t.off AND f.value = t.val)}),
		'0', "$name: the new records are fetchable at their offsets");
}

# Pids of the postmaster's children (to wait for them after killing it).
sub postmaster_children
{
	my ($ppid) = @_;
	my @kids;
	opendir(my $d, '/proc') or return ();
	foreach my $pid (grep { /^\d+$/ } readdir $d)
	{
		open(my $f, '<', "/proc/$pid/stat") or next;
		my $stat = <$f>;
		close $f;
		next unless defined $stat && $stat =~ /\)\s+\S+\s+(\d+)/;
		push @kids, $pid if $1 == $ppid;
	}
	closedir $d;
	return @kids;
}

sub alive
{
	my ($pid) = @_;
	open(my $f, '<', "/proc/$pid/stat") or return 0;
	my $stat = <$f>;
	close $f;
	return 0 unless defined $stat;
	return $stat !~ /\)\s+Z\s/;    # a zombie holds no shared memory
}

sub postmaster_pid
{
	my $pidfile = $node->data_dir . '/postmaster.pid';
	open(my $f, '<', $pidfile) or die "cannot open $pidfile: $!";
	my $pid = <$f>;
	close $f;
	chomp $pid;
	return $pid;
}

# --- round 1: pg_ctl stop -m immediate ---------------------------------------

{
	my $name = 'stop -m immediate';
	my $pg = start_producers(1);
	wait_for_progress($name, $pg, $PER_ROUND);
	my $bg = open_inflight(1);
	$node->stop('immediate');
	close_inflight($bg);
	finish_producers($pg, $name);
	$node->start;
	verify($name, 1);
}

# --- round 2: kill -9 of a producing backend ---------------------------------

{
	my $name = 'kill -9 backend';
	my $pg = start_producers(2);
	wait_for_progress($name, $pg, $PER_ROUND);
	my $bg = open_inflight(2);
	my $victim = $node->safe_psql('postgres', q{
		SELECT pid FROM pg_stat_activity
		 WHERE application_name = 'mq_producer' AND backend_type = 'client backend'
		 ORDER BY state = 'active' DESC, state = 'idle in transaction' DESC
		 LIMIT 1});
	like($victim, qr/^\d+$/, "$name: found a producing backend");
	my $log_offset = -s $node->logfile;
	is(kill('KILL', $victim), 1, "$name: killed backend $victim");
	$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
	$node->wait_for_log(qr/database system is ready to accept connections/, $log_offset);
	ok(1, "$name: server reinitialized after the crash");
	close_inflight($bg);
	finish_producers($pg, $name);
	verify($name, 2);
}

# --- round 3: kill -9 of the postmaster --------------------------------------

{
	my $name = 'kill -9 postmaster';
	my $pg = start_producers(3);
	wait_for_progress($name, $pg, $PER_ROUND);
	my $bg = open_inflight(3);
	my $pm = postmaster_pid();
	my @kids = postmaster_children($pm);
	cmp_ok(scalar(@kids), '>', $CLIENTS, "$name: postmaster $pm has its children");
	$node->kill9;
	# Orphaned children exit when they notice.  A new postmaster cannot
	# start before the old one is reaped (its pid would still answer
	# kill 0) nor attach the old shared memory before the children are
	# gone (zombies are fine: they hold no shared memory).
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
	while (-e "/proc/$pm" || grep { alive($_) } @kids)
	{
		last if time > $deadline;
		select(undef, undef, undef, 0.1);
	}
	ok(!-e "/proc/$pm" && !grep({ alive($_) } @kids), "$name: all server processes are gone");
	close_inflight($bg);
	finish_producers($pg, $name);
	my $started = $node->start(fail_ok => 1);
	ok($started, "$name: server restarted");
	verify($name, 3);
}

# --- finally: a clean restart keeps everything as it was ---------------------

$node->restart;
$node->safe_psql('postgres', 'TRUNCATE seen; INSERT INTO seen SELECT * FROM dump_log()');
foreach my $check (sort keys %expect_zero)
{
	is($node->safe_psql('postgres', $expect_zero{$check}), '0', "clean restart: $check = 0");
}
note('records committed in all: ' . count_truth());

# --- an aborted tail: its offsets are never handed out again -----------------
#
# Ten records commit, then a batch rolls back: the last stable offset moves
# past it, and a reader takes that position.  Before the offset ceiling, a
# crash made the counter restart right after the ten, and the records
# appended next lay below the reader's position, never to be read by it.
# Three ways:
#   - 'group': a consumer group commits the position (a commit of its own,
#     flushed), and the crash replays the ceiling from the WAL;
#   - 'checkpoint': the same with a CHECKPOINT before the crash, so the
#     ceiling is read from its page;
#   - 'read-only': the rolled-back batch is larger than the ceiling's
#     headroom, so it raises the ceiling itself, in a transaction that
#     flushes nothing when it rolls back, and the reader only looks at the
#     LSO (a read-only query: no WAL).  Nothing else flushes the WAL
#     meanwhile: the WAL writer is stopped (SIGSTOP: the immediate shutdown
#     then kills it), the background writer writes no buffer, autovacuum
#     is off.  Only the ceiling's own flush saves it from the crash.

foreach my $way ('group', 'checkpoint', 'read-only')
{
	my $name = "aborted tail ($way)";
	(my $tp = "tail_$way") =~ s/-/_/g;
	my $aborted = $way eq 'read-only' ? 5000 : 5;
	my $lso_expected = 10 + $aborted;
	$node->safe_psql('postgres', qq{
		SELECT mq.create_topic('$tp', 1);
		SELECT mq.produce('$tp', 'ok-' || i, partition => 0) FROM generate_series(1, 10) i;
	});
	if ($way eq 'read-only')
	{
		$node->safe_psql('postgres', q{
			ALTER SYSTEM SET bgwriter_lru_maxpages = 0;
			ALTER SYSTEM SET autovacuum = off;
			SELECT pg_reload_conf();
		});
		my $walwriter = $node->safe_psql('postgres',
			q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'walwriter'});
		is(kill('STOP', $walwriter), 1, "$name: WAL writer $walwriter stopped");
	}
	$node->safe_psql('postgres', qq{
		BEGIN;
		SELECT count(*) FROM mq.produce_batch('$tp', ARRAY(SELECT 'abort-' || i FROM generate_series(1, $aborted) i), partition => 0);
		ROLLBACK;
	});
	my $lso = $node->safe_psql('postgres', qq{SELECT mq.latest_offset('$tp', 0)});
	is($lso, $lso_expected, "$name: the last stable offset passed the rolled-back records");
	if ($way ne 'read-only')
	{
		$node->safe_psql('postgres', qq{
			SELECT mq.subscribe('g$tp', ARRAY['$tp'], 'm', '{"auto.offset.reset": "latest"}');
			SELECT count(*) FROM mq.poll('g$tp', member_id => 'm');
			SELECT mq.commit('g$tp', '$tp', 0, $lso, 'm');
		});
	}
	$node->safe_psql('postgres', 'CHECKPOINT') if $way eq 'checkpoint';
	$node->stop('immediate');
	$node->start;
	my $off = $node->safe_psql('postgres', qq{SELECT "offset" FROM mq.produce('$tp', 'ok-after', partition => 0)});
	cmp_ok($off, '>=', $lso, "$name: the next record gets an offset at or above the position seen ($off)");
	is($node->safe_psql('postgres', qq{SELECT string_agg(value, ',') FROM mq.fetch_text('$tp', 0, $lso)}),
	   'ok-after', "$name: reading from the position seen returns the new record");
	if ($way eq 'read-only')
	{
		$node->safe_psql('postgres', q{
			ALTER SYSTEM RESET bgwriter_lru_maxpages;
			ALTER SYSTEM RESET autovacuum;
			SELECT pg_reload_conf();
		});
	}
}

$node->stop;
done_testing();
