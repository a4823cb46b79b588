# test/t/003_delivery.pl
#
# Delivery guarantees of consumer groups (consumer-groups issue, §3), each
# proved by killing consumers at the worst moment while several consumers
# of one group share a 6-partition topic that a producer keeps appending to:
#
#   at-most-once  (commit, then process): poll and commit the offsets in one
#       transaction, process (insert into "results") in the next; killed in
#       between, the batch is lost, never repeated.
#   at-least-once (process, then commit; the default, enable.auto.commit):
#       poll, process in a transaction of its own, the next poll commits;
#       killed in between, the batch is repeated, never lost.
#   exactly-once: poll, insert the results and commit the offsets in one
#       transaction; killed before it commits, after crashes (one a kill -9
#       that restarts the server) and rebalances every record is in
#       "results" exactly once.
#
# The producer records every committed record in "produced" in the same
# transaction (the full list of what was produced).  Consumers run
# CALL consume(...), a procedure with a transaction per step; one that is
# told to (table "trap") stops at its worst moment on an advisory lock the
# test holds, and the test records what it holds (table "victim") and kills
# it: pg_terminate_backend, or kill -9 of its backend.  A consumer driven
# statement by statement by the test has its psql client killed between the
# two steps instead, and others are terminated at random moments.  Killed
# consumers are replaced (at-most/least-once: new session-bound members;
# exactly-once: pooler members with explicit ids and session.timeout.ms =
# 3000, restarted under the same id or left to expire), so the group
# rebalances all along.
#
# The oracle for at-most-once is the table "pending": the batch a consumer
# committed but has not processed yet, written in the poll's transaction and
# moved to "results" by the processing one; what a killed consumer leaves in
# it is exactly what is lost.
#
# Two deterministic scenarios follow: a pooler member that crashes after a
# poll and comes back under the same member_id must be given the unprocessed
# batch again (at-least-once: subscribing again starts from the committed
# offsets), and a member joining while an exactly-once transaction is open
# must wait for it, neither side failing.  The concurrent consumers retry a
# transaction that hit a deadlock, as they would one that crashed, and
# count them (there should be none).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use MqTest::Session;
use Test::More;
use Time::HiRes qw(time sleep);

my $PARTITIONS = 6;
my $MAX = 20;              # max_records per poll
my $seed = $ENV{MQ_SEED} // time;
srand($seed);
note("random seed $seed (MQ_SEED)");

my $node = PostgreSQL::Test::Cluster->new('delivery');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mqext'
fsync = on
restart_after_crash = on
max_connections = 40
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION mqext;
CREATE SEQUENCE ids;
-- every record produced (committed with it), the truth to check against
CREATE TABLE produced (topic text, part int, off bigint, val text, PRIMARY KEY (topic, part, off));
-- what the consumers processed
CREATE TABLE results (topic text, part int, off bigint, val text, consumer text, batch int);
-- at-most-once: committed, not yet processed
CREATE TABLE pending (consumer text, batch int, topic text, part int, off bigint, val text);
-- what killed consumers held: kind 'lost' (at-most-once) or 'repeat' (at-least-once)
CREATE TABLE victim (kind text, who text, topic text, part int, off bigint);
CREATE TABLE ctl (topic text PRIMARY KEY, producing boolean NOT NULL DEFAULT true,
                  stop boolean NOT NULL DEFAULT false);
CREATE TABLE trap (consumer text PRIMARY KEY);

CREATE PROCEDURE produce_loop(tp text, per_txn int, pause_ms int) LANGUAGE plpgsql AS $$
BEGIN
    WHILE (SELECT producing FROM ctl WHERE topic = tp) LOOP
        WITH v AS (SELECT ARRAY(SELECT tp || '-' || nextval('ids') FROM generate_series(1, per_txn)) AS a)
        INSERT INTO produced (topic, part, off, val)
        SELECT tp, r.part, r.off, v.a[r.i]
          FROM v, LATERAL ROWS FROM (mq.produce_batch(tp, v.a, v.a)) WITH ORDINALITY AS r(part, off, i);
        COMMIT;
        PERFORM pg_sleep(pause_ms / 1000.0);
    END LOOP;
END
$$;

-- The worst moment: if the test asked for it, wait on the advisory lock it
-- holds, to be killed there.
CREATE FUNCTION trap_point(who text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM trap WHERE consumer = who) THEN
        PERFORM pg_advisory_xact_lock_shared(4242);
    END IF;
END
$$;

CREATE FUNCTION consumer_config(mode text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT '{"auto.offset.reset": "earliest"}'::jsonb || CASE mode
        WHEN 'amo' THEN '{"enable.auto.commit": false, "partition.assignment.strategy": "range"}'::jsonb
        WHEN 'alo' THEN '{}'::jsonb     -- the defaults: auto-commit, cooperative-sticky
        ELSE '{"enable.auto.commit": false, "partition.assignment.strategy": "roundrobin",
               "session.timeout.ms": 3000}'::jsonb END;
$$;

-- Deadlocks between a member's transaction and a rebalance: a known issue
-- (see "join during a transaction" below).  The consumers here take one
-- for what it is, a transaction that rolled back, and try again.
CREATE TABLE retried (who text, step text, at timestamptz DEFAULT clock_timestamp());

-- The transactional step of a consumer: the poll, with what goes in its
-- transaction.  Returns the number of records polled, -1 after a deadlock
-- (rolled back).
CREATE FUNCTION poll_step(mode text, member text, who text, b int, max_records int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    n int;
BEGIN
    IF mode = 'amo' THEN
        -- at-most-once: poll and commit in one transaction (process after)
        INSERT INTO pending
        SELECT who, b, p.topic, p.partition, p."offset", convert_from(p.value, 'UTF8')
          FROM mq.poll(mode, max_records, 200, member) p;
        GET DIAGNOSTICS n = ROW_COUNT;
        PERFORM mq.commit(mode, member);
    ELSIF mode = 'alo' THEN
        -- at-least-once: poll (which commits what the previous poll returned)
        DELETE FROM batch;
        INSERT INTO batch
        SELECT p.topic, p.partition, p."offset", convert_from(p.value, 'UTF8')
          FROM mq.poll(mode, max_records, 200, member) p;
        GET DIAGNOSTICS n = ROW_COUNT;
    ELSE
        -- exactly-once: poll, write the results and commit the offsets in one transaction
        INSERT INTO results
        SELECT p.topic, p.partition, p."offset", convert_from(p.value, 'UTF8'), who, b
          FROM mq.poll(mode, max_records, 200, member) p;
        GET DIAGNOSTICS n = ROW_COUNT;
        PERFORM mq.commit(mode, member);
    END IF;
    RETURN n;
EXCEPTION WHEN deadlock_detected THEN
    INSERT INTO retried (who, step) VALUES (who, 'poll');
    RETURN -1;
END
$$;

CREATE PROCEDURE join_group(mode text, member text, who text) LANGUAGE plpgsql AS $$
BEGIN
    LOOP
        BEGIN
            PERFORM mq.subscribe(mode, ARRAY[mode], member, consumer_config(mode));
            EXIT;
        EXCEPTION WHEN deadlock_detected THEN
            INSERT INTO retried (who, step) VALUES (who, 'subscribe');
        END;
    END LOOP;
END
$$;

-- One consumer of group = topic = mode; member NULL: session-bound.
CREATE PROCEDURE consume(mode text, member text, who text, max_records int) LANGUAGE plpgsql AS $$
DECLARE
    n int;
    b int := 0;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS batch (topic text, part int, off bigint, val text);
    CALL join_group(mode, member, who);
    COMMIT;
    LOOP
        b := b + 1;
        n := poll_step(mode, member, who, b, max_records);
        IF mode = 'amo' THEN
            COMMIT;
            IF n > 0 THEN PERFORM trap_point(who); END IF;    -- committed, not processed
            -- process, in a transaction of its own
            WITH d AS (DELETE FROM pending WHERE consumer = who RETURNING *)
            INSERT INTO results SELECT d.topic, d.part, d.off, d.val, d.consumer, d.batch FROM d;
            COMMIT;
        ELSIF mode = 'alo' THEN
            COMMIT;
            IF n > 0 THEN
                -- process, in a transaction of its own; the next poll commits
                INSERT INTO results SELECT topic, part, off, val, who, b FROM batch;
                COMMIT;
                PERFORM trap_point(who);                       -- processed, not committed
            END IF;
        ELSE
            IF n > 0 THEN PERFORM trap_point(who); END IF;    -- all done but COMMIT
            COMMIT;
        END IF;
        EXIT WHEN n = 0 AND (SELECT stop FROM ctl WHERE topic = mode);
    END LOOP;
END
$$;
});

my ($mon, $locker);

# Sessions that need the server: the monitor, and the holder of the
# advisory lock trapped consumers wait on.
sub open_helpers
{
	$mon = MqTest::Session->new($node, 'monitor');
	$locker = MqTest::Session->new($node, 'locker');
	$locker->query_safe('SELECT pg_advisory_lock(4242)');
	return;
}
open_helpers();

my %live;        # who => { s => session, member => ... } of the running consumers
my %stats;
my $producer;

sub start_producer
{
	my ($mode) = @_;
	$producer = MqTest::Session->new($node, "$mode-producer");
	$producer->send("CALL produce_loop('$mode', 10, 20)");
	return;
}

sub start_consumer
{
	my ($mode, $who, $member) = @_;
	my $s = MqTest::Session->new($node, $who);
	$s->send(sprintf("CALL consume('%s', %s, '%s', %d)",
			$mode, defined $member ? "'$member'" : 'NULL', $who, $MAX));
	$live{$who} = { s => $s, member => $member };
	$stats{$mode}{started}++;
	return;
}

sub wait_until
{
	my ($sql, $secs) = @_;
	my $deadline = time + ($secs // 60);
	while (time < $deadline)
	{
		my $r = $mon->query_safe($sql);
		return $r if $r ne '' && $r ne 'f' && $r ne '0';
		check_consumers_alive();
		sleep 0.02;
	}
	return undef;
}

# A consumer whose CALL ended before it was told to stop failed.
sub check_consumers_alive
{
	foreach my $who (sort keys %live)
	{
		my $s = $live{$who}{s};
		next unless $s->done;
		my ($out, $err) = $s->wait;
		fail("consumer $who ended on its own") or diag("its stderr:\n$err");
		delete $live{$who};
		$s->quit;    # its member leaves, the others take its partitions
	}
	return;
}

sub backend_pid_of
{
	my ($who) = @_;
	return $mon->query_safe("SELECT pid FROM pg_stat_activity WHERE application_name = '$who'");
}

sub backend_gone
{
	my ($pid) = @_;
	return wait_until("SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid", 30);
}

# What a consumer held when it was stopped at the worst moment.
sub record_victim
{
	my ($mode, $who) = @_;
	my $n;
	if ($mode eq 'amo')
	{
		$n = $mon->query_safe(qq{
			WITH i AS (INSERT INTO victim SELECT 'lost', consumer, topic, part, off
			             FROM pending WHERE consumer = '$who' RETURNING 1)
			SELECT count(*) FROM i});
		cmp_ok($n, '>', 0, "$mode: $who had committed $n records it had not processed");
	}
	elsif ($mode eq 'alo')
	{
		$n = $mon->query_safe(qq{
			WITH i AS (INSERT INTO victim SELECT 'repeat', consumer, topic, part, off
			             FROM results WHERE consumer = '$who'
			              AND batch = (SELECT max(batch) FROM results WHERE consumer = '$who') RETURNING 1)
			SELECT count(*) FROM i});
		cmp_ok($n, '>', 0, "$mode: $who had processed $n records it had not committed");
	}
	$stats{$mode}{victims}++;
	return;
}

# Stop $who at its worst moment, record what it holds, then kill it:
# 'terminate' (pg_terminate_backend) or 'kill9' (server crash and restart).
sub trap_and_kill
{
	my ($mode, $who, $how) = @_;
	$mon->query_safe("INSERT INTO trap VALUES ('$who')");
	my $pid = wait_until(qq{
		SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		 WHERE l.locktype = 'advisory' AND NOT l.granted AND a.application_name = '$who'}, 30);
	ok($pid, "$mode: $who stopped at its worst moment") or return;
	record_victim($mode, $who);
	my $s = $live{$who}{s};
	delete $live{$who};
	if ($how eq 'terminate')
	{
		$mon->query_safe("SELECT pg_terminate_backend($pid)");
		ok(backend_gone($pid), "$mode: $who terminated (pg_terminate_backend)");
		$s->wait_end(30);
		$mon->query_safe("DELETE FROM trap WHERE consumer = '$who'");
	}
	else
	{
		crash($mode, $pid, $who);
	}
	return;
}

# kill -9 of a backend: the postmaster kills every session and restarts.
sub crash
{
	my ($mode, $pid, $who) = @_;
	my $log_offset = -s $node->logfile;
	is(kill('KILL', $pid), 1, "$mode: killed the backend of $who with SIGKILL");
	$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
	$node->wait_for_log(qr/database system is ready to accept connections/, $log_offset);
	ok(1, "$mode: server reinitialized after the crash");
	# every session was disconnected: the running CALLs end, idle psqls quit
	foreach my $w (sort keys %live)
	{
		$live{$w}{s}->wait_end(30);
		$stats{$mode}{crashed}++;
	}
	%live = ();
	$producer->wait_end(30);
	$_->quit foreach ($mon, $locker);
	open_helpers();
	$mon->query_safe("DELETE FROM trap");
	return;
}

# Terminate a running consumer at a random moment.
sub random_kill
{
	my ($mode) = @_;
	my @who = sort keys %live;
	my $who = $who[ int(rand(@who)) ];
	sleep(rand(0.3));
	my $pid = backend_pid_of($who);
	my $s = delete $live{$who};
	$mon->query_safe("SELECT pg_terminate_backend($pid)");
	ok(backend_gone($pid), "$mode: $who terminated at a random moment");
	$s->{s}->wait_end(30);
	$stats{$mode}{random_kills}++;
	return $who;
}

# A consumer driven statement by statement; its psql client is killed
# between the two steps.
sub step_victim
{
	my ($mode, $who, $member) = @_;
	my $s = MqTest::Session->new($node, $who);
	my $m = defined $member ? "'$member'" : 'NULL';
	$s->query_safe("CREATE TEMP TABLE batch (topic text, part int, off bigint, val text); CALL join_group('$mode', $m, '$who')");
	my $n = 0;
	for (my $try = 0; $try < 50 && $n <= 0; $try++)
	{
		if ($mode eq 'amo')
		{
			# poll and commit in one transaction (the batch kept in "pending")
			$n = $s->query_safe("SELECT poll_step('$mode', $m, '$who', 1, $MAX)");
		}
		elsif ($mode eq 'alo')
		{
			# poll, then process in a transaction of its own
			$n = $s->query_safe("SELECT poll_step('$mode', $m, '$who', 1, $MAX)");
			$s->query_safe("INSERT INTO results SELECT topic, part, off, val, '$who', 1 FROM batch") if $n > 0;
		}
		else
		{
			# poll, write the results, commit the offsets; no COMMIT yet
			$n = $s->query_safe("BEGIN; SELECT poll_step('$mode', $m, '$who', 1, $MAX)");
			$s->query_safe('COMMIT') unless $n > 0;
		}
	}
	cmp_ok($n, '>', 0, "$mode: $who got a batch of $n records");
	record_victim($mode, $who);
	my $pid = $s->backend_pid;
	$s->kill_client;
	ok(backend_gone($pid), "$mode: $who\'s psql killed between the two steps, its backend ended");
	return;
}

sub drained_sql
{
	my ($mode) = @_;
	my $delivered =
	  $mode eq 'amo'
	  ? "SELECT part, off FROM results WHERE topic = '$mode' UNION SELECT part, off FROM pending WHERE topic = '$mode'"
	  : "SELECT DISTINCT part, off FROM results WHERE topic = '$mode'";
	return qq{SELECT (SELECT count(*) FROM produced WHERE topic = '$mode')
	                 = (SELECT count(*) FROM ($delivered) x)};
}

# Stop the producer, wait until everything produced reached the consumers
# (or was lost), stop the consumers.
sub finish_phase
{
	my ($mode) = @_;
	$mon->query_safe("UPDATE ctl SET producing = false WHERE topic = '$mode'");
	my (undef, $err) = $producer->wait(60);
	is($err, '', "$mode: the producer ran without error");
	my $t0 = time;
	ok(wait_until(drained_sql($mode), 60), "$mode: every produced record reached a consumer")
	  or diag($mon->query_safe(qq{SELECT (SELECT count(*) FROM produced WHERE topic = '$mode'), (SELECT count(DISTINCT (part, off)) FROM results WHERE topic = '$mode')}));
	note(sprintf('%s: drained %.1f s after the producer stopped', $mode, time - $t0));
	$mon->query_safe("UPDATE ctl SET stop = true WHERE topic = '$mode'");
	foreach my $who (sort keys %live)
	{
		my (undef, $e) = $live{$who}{s}->wait(60);
		is($e, '', "$mode: consumer $who ran to the end without error");
		$live{$who}{s}->quit;
	}
	%live = ();
	my $retried = $mon->query_safe("SELECT count(*) FROM retried WHERE who LIKE '$mode-%'");
	$stats{$mode}{deadlocks_retried} = $retried;
	note("$mode: $retried transactions retried after a deadlock");
	return;
}

# Rebalances happened while records flowed: generation, and partitions
# whose records were processed by more than one consumer.
sub check_rebalanced
{
	my ($mode) = @_;
	my $gen = $mon->query_safe("SELECT generation FROM mq.groups WHERE group_id = '$mode'");
	cmp_ok($gen, '>=', $stats{$mode}{started}, "$mode: the group went through $gen generations");
	my $shared = $mon->query_safe(qq{
		SELECT count(*) FROM (SELECT part FROM results WHERE topic = '$mode'
		                       GROUP BY part HAVING count(DISTINCT consumer) > 1) x});
	cmp_ok($shared, '>', 0, "$mode: $shared of $PARTITIONS partitions were read by more than one consumer");
	return;
}

sub count { return $mon->query_safe($_[0]); }

sub begin_phase
{
	my ($mode) = @_;
	$mon->query_safe("SELECT mq.create_topic('$mode', $PARTITIONS); INSERT INTO ctl (topic) VALUES ('$mode')");
	start_producer($mode);
	return;
}

# --- at-most-once ---------------------------------------------------------------

{
	my $mode = 'amo';
	begin_phase($mode);
	my $k = 0;
	for (1 .. 3) { start_consumer($mode, "amo-c" . ++$k); sleep 0.2; }
	sleep 0.5;
	trap_and_kill($mode, 'amo-c1', 'terminate');
	start_consumer($mode, "amo-c" . ++$k);
	sleep 0.3;
	step_victim($mode, 'amo-step');
	sleep 0.3;
	random_kill($mode);
	start_consumer($mode, "amo-c" . ++$k);
	sleep 0.3;
	trap_and_kill($mode, (sort keys %live)[0], 'terminate');
	start_consumer($mode, "amo-c" . ++$k);
	sleep 0.5;
	finish_phase($mode);

	my $produced = count("SELECT count(*) FROM produced WHERE topic = '$mode'");
	my $delivered = count("SELECT count(*) FROM results WHERE topic = '$mode'");
	my $lost = count("SELECT count(*) FROM pending WHERE topic = '$mode'");
	is(count(qq{SELECT count(*) FROM (SELECT 1 FROM results WHERE topic = '$mode'
	                                    GROUP BY part, off HAVING count(*) > 1) x}),
		'0', "$mode: no record processed twice ($delivered processed of $produced produced)");
	is(count(qq{SELECT count(*) FROM results r WHERE topic = '$mode' AND NOT EXISTS
	              (SELECT 1 FROM produced p WHERE (p.topic, p.part, p.off, p.val) = (r.topic, r.part, r.off, r.val))}),
		'0', "$mode: every record processed is a produced record, with its value");
	is(count(qq{SELECT count(*) FROM (SELECT topic, part, off, val FROM produced WHERE topic = '$mode'
	                                  EXCEPT ALL SELECT topic, part, off, val FROM results WHERE topic = '$mode'
	                                  EXCEPT ALL SELECT topic, part, off, val FROM pending WHERE topic = '$mode') x}),
		'0', "$mode: every produced record was processed or lost by a killed consumer");
	is(count(qq{SELECT count(*) FROM pending p JOIN results r USING (topic, part, off) WHERE p.topic = '$mode'}),
		'0', "$mode: no lost record was processed by anyone");
	is(count(qq{SELECT count(*) FROM victim v WHERE kind = 'lost' AND topic = '$mode' AND EXISTS
	              (SELECT 1 FROM results r WHERE (r.topic, r.part, r.off) = (v.topic, v.part, v.off))}),
		'0', "$mode: the batches of the consumers killed at the worst moment were lost (never repeated)");
	my $victim_lost = count("SELECT count(*) FROM victim WHERE kind = 'lost' AND topic = '$mode'");
	cmp_ok($lost, '>=', $victim_lost, "$mode: the crashes lost $lost records ($victim_lost at the worst moment)");
	check_rebalanced($mode);
}

# --- at-least-once --------------------------------------------------------------

{
	my $mode = 'alo';
	begin_phase($mode);
	my $k = 0;
	for (1 .. 3) { start_consumer($mode, "alo-c" . ++$k); sleep 0.2; }
	sleep 0.5;
	trap_and_kill($mode, 'alo-c1', 'terminate');
	start_consumer($mode, "alo-c" . ++$k);
	sleep 0.3;
	step_victim($mode, 'alo-step');
	sleep 0.3;
	random_kill($mode);
	start_consumer($mode, "alo-c" . ++$k);
	sleep 0.3;
	trap_and_kill($mode, (sort keys %live)[0], 'terminate');
	start_consumer($mode, "alo-c" . ++$k);
	sleep 0.5;
	finish_phase($mode);

	my $produced = count("SELECT count(*) FROM produced WHERE topic = '$mode'");
	my $processed = count("SELECT count(*) FROM results WHERE topic = '$mode'");
	is(count(qq{SELECT count(*) FROM produced p WHERE topic = '$mode' AND NOT EXISTS
	              (SELECT 1 FROM results r WHERE (r.topic, r.part, r.off, r.val) = (p.topic, p.part, p.off, p.val))}),
		'0', "$mode: no produced record was lost ($processed processed of $produced produced)");
	is(count(qq{SELECT count(*) FROM results r WHERE topic = '$mode' AND NOT EXISTS
	              (SELECT 1 FROM produced p WHERE (p.topic, p.part, p.off, p.val) = (r.topic, r.part, r.off, r.val))}),
		'0', "$mode: every record processed is a produced record, with its value");
	is(count(qq{SELECT count(*) FROM victim v WHERE kind = 'repeat' AND topic = '$mode' AND
	              (SELECT count(*) FROM results r WHERE (r.topic, r.part, r.off) = (v.topic, v.part, v.off)) < 2}),
		'0', "$mode: the batches of the consumers killed at the worst moment were processed again");
	my $victim_rep = count("SELECT count(*) FROM victim WHERE kind = 'repeat' AND topic = '$mode'");
	my $dups = count(qq{SELECT coalesce(sum(c - 1), 0) FROM (SELECT count(*) c FROM results WHERE topic = '$mode'
	                                                            GROUP BY part, off) x});
	cmp_ok($dups, '>=', $victim_rep, "$mode: the crashes repeated $dups records ($victim_rep at the worst moment)");
	check_rebalanced($mode);

	# A pooler member (explicit member_id) whose client crashes after a
	# poll, before processing it, and that comes back under the same id
	# must be given that batch again.
	my $g = 'alo-pooled';
	my $cfg = q{'{"auto.offset.reset": "earliest"}'};
	my $w = MqTest::Session->new($node, 'alo-pooled-1');
	$w->query_safe("SELECT mq.subscribe('$g', ARRAY['alo'], 'worker', $cfg)");
	$w->query_safe("SELECT count(*) FROM mq.poll('$g', $MAX, member_id => 'worker')");  # processed
	my @batch = split /\n/, $w->query_safe(qq{SELECT partition || ':' || "offset" FROM mq.poll('$g', $MAX, member_id => 'worker')});
	cmp_ok(scalar(@batch), '>', 0, 'alo, pooler member: polled a batch (the poll committed the previous one)');
	$w->kill_client;    # crashed before processing it
	$w = MqTest::Session->new($node, 'alo-pooled-2');
	$w->query_safe("SELECT mq.subscribe('$g', ARRAY['alo'], 'worker', $cfg)");
	my %again;
	while (1)
	{
		my $r = $w->query_safe(qq{SELECT partition || ':' || "offset" FROM mq.poll('$g', 500, member_id => 'worker')});
		last if $r eq '';
		$again{$_} = 1 foreach split /\n/, $r;
	}
	my @missing = grep { !$again{$_} } @batch;
	is(scalar(@missing), 0,
		'alo, pooler member: after the restart under the same member_id the unprocessed batch is delivered again')
	  or diag('never delivered again: ' . join(' ', @missing));
	$w->quit;
}

# --- exactly-once ---------------------------------------------------------------

{
	my $mode = 'eos';
	begin_phase($mode);
	my %inc;    # incarnations of each member id
	my $start = sub {
		my ($member) = @_;
		start_consumer($mode, "eos-$member." . ++$inc{$member}, $member);
	};
	my $who_of = sub {
		my ($member) = @_;
		return "eos-$member.$inc{$member}";
	};
	for my $m (qw(e1 e2 e3)) { $start->($m); sleep 0.2; }
	sleep 0.5;
	trap_and_kill($mode, $who_of->('e1'), 'terminate');
	$start->('e1');    # back under the same member id
	sleep 0.3;
	step_victim($mode, 'eos-step', 'e4');    # joins, is killed, and expires
	sleep 0.3;
	my $killed = random_kill($mode);
	my ($member) = $killed =~ /^eos-(e\d)\./;
	$start->($member);
	sleep 0.3;
	trap_and_kill($mode, $who_of->('e3'), 'kill9');
	# the server restarted: producer and consumers come back
	start_producer($mode);
	$start->($_) foreach qw(e1 e2 e3);
	sleep 1;
	trap_and_kill($mode, $who_of->('e2'), 'terminate');    # left to expire
	sleep 0.5;
	finish_phase($mode);

	my $produced = count("SELECT count(*) FROM produced WHERE topic = '$mode'");
	is(count("SELECT count(*) FROM results WHERE topic = '$mode'"), $produced,
		"$mode: as many results as records produced ($produced)");
	is(count(qq{SELECT count(*) FROM (SELECT 1 FROM results WHERE topic = '$mode'
	                                    GROUP BY part, off HAVING count(*) > 1) x}),
		'0', "$mode: no record in the results twice");
	is(count(qq{SELECT count(*) FROM (SELECT topic, part, off, val FROM produced WHERE topic = '$mode'
	                                  EXCEPT ALL SELECT topic, part, off, val FROM results WHERE topic = '$mode') x}),
		'0', "$mode: every produced record is in the results, with its value");
	is(count(qq{SELECT count(*) FROM (SELECT topic, part, off, val FROM results WHERE topic = '$mode'
	                                  EXCEPT ALL SELECT topic, part, off, val FROM produced WHERE topic = '$mode') x}),
		'0', "$mode: every result is a produced record");
	is(count(qq{SELECT count(*) FROM mq.consumer_lag WHERE group_id = '$mode' AND lag <> 0}),
		'0', "$mode: the committed offsets are at the end of every partition");
	check_rebalanced($mode);

	# A member joins while an exactly-once transaction is open: the
	# rebalance waits for it (README: "a rebalance that moves one of them
	# waits for that transaction"), neither side fails.  roundrobin moves
	# partitions 1 and 3; the open transaction has moved the position of 3.
	my $g = 'eos-join';
	my $cfg = q{'{"auto.offset.reset": "earliest", "enable.auto.commit": false,
	              "partition.assignment.strategy": "roundrobin"}'};
	my $eos_txn = sub {
		my ($member, $commit) = @_;
		return qq{BEGIN;
			INSERT INTO results SELECT p.topic, p.partition, p."offset", convert_from(p.value, 'UTF8'), '$member', 0
			  FROM mq.poll('$g', 100, member_id => '$member') p;}
		  . ($commit ? qq{SELECT mq.commit('$g', '$member'); COMMIT;} : '');
	};
	$mon->query_safe(q{SELECT mq.create_topic('eosj', 4);
		SELECT count(*) FROM generate_series(0, 3) p, LATERAL mq.produce('eosj', 'a-' || p, partition => p);});
	my $P = MqTest::Session->new($node, 'eosj-w1');
	my $R = MqTest::Session->new($node, 'eosj-w2');
	$P->query_safe("SELECT mq.subscribe('$g', ARRAY['eosj'], 'w1', $cfg)");
	$P->query_safe($eos_txn->('w1', 1));
	$mon->query_safe(q{SELECT count(*) FROM mq.produce('eosj', 'b-3', partition => 3)});
	$P->query_safe($eos_txn->('w1', 0));    # open, the position of partition 3 moved
	$R->send("SELECT mq.subscribe('$g', ARRAY['eosj'], 'w2', $cfg)");
	my $rpid = $R->backend_pid;
	ok(wait_until("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $rpid", 30),
		'eos, join during a transaction: the join waits for the open transaction');
	my (undef, $perr) = $P->query(qq{SELECT mq.commit('$g', 'w1'); COMMIT;});
	is($perr, '', 'eos, join during a transaction: the transaction commits its offsets');
	my (undef, $rerr) = $R->wait(30);
	is($rerr, '', 'eos, join during a transaction: the join completes after it');
	is(count(qq{SELECT string_agg(member_id || '=' || jsonb_array_length(assignment->'eosj'), ' ' ORDER BY member_id)
	              FROM mq.group_members WHERE group_id = '$g'}),
		'w1=2 w2=2', 'eos, join during a transaction: w1 and w2 own two partitions each');
	# both read on: nothing is delivered again
	$P->query($eos_txn->('w1', 1));
	$R->query($eos_txn->('w2', 1));
	is(count(q{SELECT string_agg(val || ':' || n, ' ' ORDER BY val)
	             FROM (SELECT val, count(*) n FROM results WHERE topic = 'eosj' GROUP BY val) x}),
		'a-0:1 a-1:1 a-2:1 a-3:1 b-3:1', 'eos, join during a transaction: every record once');
	$P->quit;
	$R->quit;
}

note(join("\n", map {
	my $m = $_;
	"$m: " . join(', ', map { "$_ $stats{$m}{$_}" } sort keys %{ $stats{$m} })
} sort keys %stats));

$mon->quit;
$locker->quit;
$node->stop;
done_testing();
