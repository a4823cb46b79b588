# test/t/004_membership.pl
#
# Group membership and rebalancing (consumer-groups issue, §4), measured:
#
#   1. A session-bound member's session ends -- its psql client is killed
#      while idle or while blocked in mq.poll, the backend is terminated,
#      or the client quits -- and its partitions are reassigned within 1 s:
#      mq.group_members shows the other member B owning them, and B, blocked
#      in mq.poll(..., timeout_ms => 10000), returns within 1 s with their
#      records (redelivered from the committed offsets).
#   2. A session killed without running its exit callback (kill -9 of its
#      backend, which restarts the server) is swept by the next poll of the
#      group at the latest (the background worker may be first): the
#      surviving pooler member owns everything and reads on from the
#      committed offsets.
#   3. A pooler member (explicit member_id, session.timeout.ms = 2000) that
#      stops polling is still a member at half the timeout, and is removed
#      by the first poll of another member after the timeout, which then
#      returns its partitions' records; the removed member gets MQ012 and can
#      subscribe again.  A poll never sleeps past half the session timeout.
#   4. Partitions added to a subscribed topic reach the members without
#      re-subscribing: members blocked in mq.poll wake up, and the new
#      partitions are assigned and read.
#   5. A session's exit callback never waits on another transaction's lock
#      (it retries briefly): the session ends, and what it could not clean
#      up is swept.
#
# Latencies are printed in the test names.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use MqTest::Session;
use Test::More;
use Time::HiRes qw(time sleep);

my $BOUND = 1.0;    # seconds: "reassigned within 1 second"

my $node = PostgreSQL::Test::Cluster->new('membership');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mqext'
fsync = on
restart_after_crash = on
max_connections = 30
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION mqext;
SELECT mq.create_topic('m', 4);
-- five records in each partition: p<partition>-<1..5>
SELECT count(*) FROM generate_series(0, 3) p, generate_series(1, 5) i,
       LATERAL mq.produce('m', format('p%s-%s', p, i), partition => p);
});

my $mon = MqTest::Session->new($node, 'monitor');

sub ms { return sprintf('%.0f ms', 1000 * $_[0]); }

# {member => "[partitions]"} of a group's topic m, one string, sorted
sub owners
{
	my ($group, $topic) = @_;
	$topic //= 'm';
	return $mon->query_safe(qq{
		SELECT coalesce(string_agg(member_id || '=' || coalesce(assignment->'$topic', '[]')::text, ' ' ORDER BY member_id), '')
		  FROM mq.group_members WHERE group_id = '$group'});
}

sub partitions_of
{
	my ($group, $member, $topic) = @_;
	$topic //= 'm';
	my $p = $mon->query_safe(qq{
		SELECT string_agg(x, ',' ORDER BY x::int)
		  FROM mq.group_members, jsonb_array_elements_text(assignment->'$topic') x
		 WHERE group_id = '$group' AND member_id = '$member'});
	return split /,/, $p;
}

# --- 1. a session-bound member's session ends ---------------------------------

my $CFG = q{'{"auto.offset.reset": "earliest", "enable.auto.commit": false}'};
my @cases = (
	[ 'client killed while idle',                     'kill_client', 0 ],
	[ 'client killed while blocked in poll',          'kill_client', 1 ],
	[ 'pg_terminate_backend while blocked in poll',   'terminate',   1 ],
	[ 'client quits',                                 'quit',        0 ],);

my $i = 0;
foreach my $c (@cases)
{
	my ($case, $how, $a_blocked) = @$c;
	my $g = 'leave' . ++$i;
	my $A = MqTest::Session->new($node, "A$i");
	my $B = MqTest::Session->new($node, "B$i");
	my $ma = $A->query_safe("SELECT mq.subscribe('$g', ARRAY['m'], config => $CFG)");
	my $mb = $B->query_safe("SELECT mq.subscribe('$g', ARRAY['m'], config => $CFG)");
	my @pa = partitions_of($g, $ma);
	my @pb = partitions_of($g, $mb);
	is(scalar(@pa) . '+' . scalar(@pb), '2+2', "$case: A and B own two partitions each");

	# Both read their partitions to the end; nothing is committed, so A's
	# records go to B again once A is gone.
	is($A->query_safe("SELECT count(*) FROM mq.poll('$g', 100)"), '10', "$case: A read its partitions");
	is($B->query_safe("SELECT count(*) FROM mq.poll('$g', 100)"), '10', "$case: B read its partitions");

	$B->send(qq{SELECT partition, count(*), min("offset"), max("offset")
	              FROM mq.poll('$g', 100, timeout_ms => 10000) GROUP BY 1 ORDER BY 1});
	ok($mon->wait_asleep($B, 30), "$case: B is blocked in poll");
	if ($a_blocked)
	{
		$A->send("SELECT count(*) FROM mq.poll('$g', 100, timeout_ms => 20000)");
		ok($mon->wait_asleep($A, 30), "$case: A is blocked in poll");
	}

	my $a_pid = $A->backend_pid;
	my $t0 = time;
	if ($how eq 'kill_client')
	{
		$A->kill_client;
	}
	elsif ($how eq 'terminate')
	{
		$mon->query_safe("SELECT pg_terminate_backend($a_pid)");
	}
	else
	{
		$A->quit;
	}

	my ($t_assign, $t_poll);
	my $want = "$mb=[0, 1, 2, 3]";
	my $last = '';
	while (time < $t0 + 15 && !(defined $t_assign && defined $t_poll))
	{
		$t_poll = time if !defined $t_poll && $B->done;
		if (!defined $t_assign)
		{
			$last = owners($g);
			$t_assign = time if $last eq $want;
		}
		sleep 0.005;
	}
	ok(defined $t_assign && $t_assign - $t0 <= $BOUND,
		"$case: A's partitions reassigned to B in "
		  . (defined $t_assign ? ms($t_assign - $t0) : 'more than 15 s')
		  . ' (bound ' . ms($BOUND) . ')')
	  or diag("group members after 15 s: $last");
	ok(defined $t_poll && $t_poll - $t0 <= $BOUND,
		"$case: B's blocked poll returned in "
		  . (defined $t_poll ? ms($t_poll - $t0) : 'more than 15 s')
		  . ' (bound ' . ms($BOUND) . ')');
	my $got = $B->wait(20);
	is($got, join("\n", map { "$_|5|0|4" } @pa),
		"$case: B's poll returned A's partitions (@pa) from the committed offsets");

	# leave nothing behind for the next case
	$mon->query_safe("SELECT pg_terminate_backend($a_pid)") if $how ne 'terminate';
	ok($mon->wait_backend_gone($a_pid), "$case: A's backend has ended");
	$A->quit;
	$B->quit;
}

# --- 2. a session killed without its exit callback (server crash) -------------

{
	my $g = 'crash';
	my $A = MqTest::Session->new($node, 'crash-A');
	my $B = MqTest::Session->new($node, 'crash-B');
	my $P = MqTest::Session->new($node, 'crash-P');
	$A->query_safe("SELECT mq.subscribe('$g', ARRAY['m'], config => $CFG)");
	$B->query_safe("SELECT mq.subscribe('$g', ARRAY['m'], config => $CFG)");
	$P->query_safe("SELECT mq.subscribe('$g', ARRAY['m'], 'pooled', $CFG)");
	# each reads its partitions to the end and commits
	foreach my $s ([ $A, 'NULL' ], [ $B, 'NULL' ], [ $P, q{'pooled'} ])
	{
		$s->[0]->query_safe(qq{SELECT count(*) FROM mq.poll('$g', 100, member_id => $s->[1]);
		                       SELECT mq.commit('$g', $s->[1]);});
	}
	is($mon->query_safe(qq{SELECT string_agg(committed_offset::text, ',' ORDER BY partition)
	                          FROM mq.consumer_lag WHERE group_id = '$g'}),
		'5,5,5,5', 'crash: every partition committed at 5');
	like(owners($g), qr/^pooled=\[\d(, \d)*\] session-\S+=\[\d(, \d)*\] session-\S+=\[\d(, \d)*\]$/,
		'crash: three members, each with partitions');
	$mon->query_safe(q{SELECT count(*) FROM generate_series(0, 3) p, generate_series(6, 7) i,
	                         LATERAL mq.produce('m', format('p%s-%s', p, i), partition => p)});

	my $log_offset = -s $node->logfile;
	is(kill('KILL', $A->backend_pid), 1, 'crash: killed the backend of A with SIGKILL');
	$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
	$node->wait_for_log(qr/database system is ready to accept connections/, $log_offset);
	ok(1, 'crash: server reinitialized');
	$_->quit foreach ($A, $B, $P, $mon);

	$mon = MqTest::Session->new($node, 'monitor');
	note('crash: members listed after the restart, before anyone polled: '
		  . $mon->query_safe(qq{SELECT count(*) FROM mq.group_members WHERE group_id = '$g'}));
	my $P2 = MqTest::Session->new($node, 'crash-P2');
	my $got = $P2->query_safe(qq{
		SELECT partition, count(*), min("offset"), max("offset")
		  FROM mq.poll('$g', 100, member_id => 'pooled') GROUP BY 1 ORDER BY 1});
	is(owners($g), 'pooled=[0, 1, 2, 3]',
		"crash: once the pooler member polled, both dead sessions are swept and it owns every partition");
	is($got, "0|2|5|6\n1|2|5|6\n2|2|5|6\n3|2|5|6",
		'crash: that poll read every partition on from the committed offsets');
	$P2->quit;
}

# --- 3. a pooler member that stops polling --------------------------------------

{
	my $g = 'pool';
	my $cfg = q{'{"auto.offset.reset": "earliest", "session.timeout.ms": 2000}'};
	my $W1 = MqTest::Session->new($node, 'worker-1');
	my $W2 = MqTest::Session->new($node, 'worker-2');
	$W1->query_safe("SELECT mq.subscribe('$g', ARRAY['m'], 'p1', $cfg)");
	$W2->query_safe("SELECT mq.subscribe('$g', ARRAY['m'], 'p2', $cfg)");
	my @p1 = partitions_of($g, 'p1');
	is(scalar(@p1), 2, 'pooler: p1 owns two partitions');
	is($W1->query_safe("SELECT count(*) FROM mq.poll('$g', 100, member_id => 'p1')"), '14', 'pooler: p1 read its partitions');
	is($W2->query_safe("SELECT count(*) FROM mq.poll('$g', 100, member_id => 'p2')"), '14', 'pooler: p2 read its partitions');
	# p1 stops polling now; p2 polls every 50 ms
	my $lp = $mon->query_safe(qq{SELECT last_poll FROM mq.group_members WHERE group_id = '$g' AND member_id = 'p1'});
	my @samples;    # [age before p2's poll, age after, p1 present, records p2 got]
	my $removed;
	while (1)
	{
		my $before = $W2->query_safe(qq{SELECT extract(epoch FROM clock_timestamp() - '$lp'::timestamptz)});
		my $n = $W2->query_safe(qq{SELECT count(*) FROM mq.poll('$g', 100, member_id => 'p2')});
		my ($present, $after) = split /\|/, $W2->query_safe(qq{
			SELECT EXISTS (SELECT 1 FROM mq.group_members WHERE group_id = '$g' AND member_id = 'p1'),
			       extract(epoch FROM clock_timestamp() - '$lp'::timestamptz)});
		push @samples, [ $before, $after, $present, $n ];
		if ($present eq 'f')
		{
			$removed = $samples[-1];
			last;
		}
		last if $before > 10;
		sleep 0.05;
	}
	note('p2 polls (age of p1\'s last poll before/after, p1 present, records): '
		  . join(' ', map { sprintf('%.2f/%.2f/%s/%d', @$_) } @samples));

	my @early_gone = grep { $_->[1] < 2.0 && $_->[2] ne 't' } @samples;
	is(scalar(@early_gone), 0, 'pooler: p1 is a member as long as its last poll is younger than session.timeout.ms');
	my ($half) = grep { $_->[1] >= 0.9 && $_->[1] < 2.0 && $_->[2] eq 't' } @samples;
	ok($half, 'pooler: p1 is still a member at half the timeout'
		  . ($half ? sprintf(' (seen at %.2f s)', $half->[1]) : ''));
	my @late_kept = grep { $_->[0] > 2.0 && $_->[2] eq 't' } @samples;
	is(scalar(@late_kept), 0, 'pooler: every poll of p2 after the timeout finds p1 removed');
	ok($removed && $removed->[1] >= 2.0 && $removed->[0] <= 2.0 + 1.0,
		'pooler: p1 removed by the poll of p2 at '
		  . ($removed ? sprintf('%.2f-%.2f s', $removed->[0], $removed->[1]) : 'never')
		  . ' after its last poll (session.timeout.ms = 2 s)');
	is($removed ? $removed->[3] : undef, '14', "pooler: that poll of p2 returned p1's partitions' records (@p1)");
	is(owners($g), 'p2=[0, 1, 2, 3]', 'pooler: p2 owns every partition');

	my ($out, $err) = $W1->query(qq{SELECT count(*) FROM mq.poll('$g', 100, member_id => 'p1')});
	like($err, qr/ERROR:  member "p1" is not in group "pool"/, 'pooler: the removed member gets MQ012 on its next poll');
	$W1->query_safe("SELECT mq.subscribe('$g', ARRAY['m'], 'p1', $cfg)");
	is(scalar(partitions_of($g, 'p1')) . '+' . scalar(partitions_of($g, 'p2')), '2+2',
		'pooler: p1 subscribes again and gets two partitions back');

	# the poll is the heartbeat: it never sleeps past half the session timeout
	$W2->query_safe(qq{SELECT count(*) FROM mq.poll('$g', 100, member_id => 'p2')});
	my $t0 = time;
	$W2->query_safe(qq{SELECT count(*) FROM mq.poll('$g', 100, timeout_ms => 10000, member_id => 'p2')});
	my $slept = time - $t0;
	ok($slept >= 0.9 && $slept < 2.0,
		'pooler: poll(timeout_ms => 10000) returned after ' . ms($slept) . ' (half of session.timeout.ms = 1000 ms)');
	$W1->quit;
	$W2->quit;
}

# --- 4. partitions added to a subscribed topic ----------------------------------

{
	my $g = 'grow';
	$mon->query_safe(q{SELECT mq.create_topic('grow', 2)});
	my $cfg = q{'{"auto.offset.reset": "earliest"}'};
	my $A = MqTest::Session->new($node, 'grow-A');
	my $B = MqTest::Session->new($node, 'grow-B');
	my $ma = $A->query_safe("SELECT mq.subscribe('$g', ARRAY['grow'], config => $cfg)");
	my $mb = $B->query_safe("SELECT mq.subscribe('$g', ARRAY['grow'], config => $cfg)");
	$A->query_safe("SELECT count(*) FROM mq.poll('$g')");
	$B->query_safe("SELECT count(*) FROM mq.poll('$g')");
	my ($na, $nb) = (scalar(partitions_of($g, $ma, 'grow')), scalar(partitions_of($g, $mb, 'grow')));
	is("$na+$nb", '1+1', 'grow: one partition each');

	$A->send(q{SELECT count(*) FROM mq.poll('grow', 100, timeout_ms => 10000)});
	$B->send(q{SELECT count(*) FROM mq.poll('grow', 100, timeout_ms => 10000)});
	ok($mon->wait_asleep($A, 30) && $mon->wait_asleep($B, 30), 'grow: both members are blocked in poll');

	my $t0 = time;
	$mon->query(q{SELECT mq.add_partitions('grow', 6)});    # warns that keys map differently
	my ($t_assign, $t_a, $t_b);
	my $last = '';
	while (time < $t0 + 15 && !(defined $t_assign && defined $t_a && defined $t_b))
	{
		$t_a = time if !defined $t_a && $A->done;
		$t_b = time if !defined $t_b && $B->done;
		if (!defined $t_assign)
		{
			$last = $mon->query_safe(q{
				SELECT count(*) FILTER (WHERE x::int >= 2), count(DISTINCT member_id)
				  FROM mq.group_members, jsonb_array_elements_text(assignment->'grow') x
				 WHERE group_id = 'grow'});
			$t_assign = time if $last eq '4|2';
		}
		sleep 0.005;
	}
	ok(defined $t_assign && $t_assign - $t0 <= $BOUND,
		'grow: the new partitions were assigned to the members in '
		  . (defined $t_assign ? ms($t_assign - $t0) : 'more than 15 s')
		  . ' (bound ' . ms($BOUND) . '), without re-subscribing')
	  or diag("new partitions assigned | members: $last");
	my $t_woken = (defined $t_a && defined $t_b) ? ($t_a > $t_b ? $t_a : $t_b) : undef;
	ok(defined $t_woken && $t_woken - $t0 <= $BOUND,
		'grow: both blocked polls returned in '
		  . (defined $t_woken ? ms($t_woken - $t0) : 'more than 15 s')
		  . ' (bound ' . ms($BOUND) . ', poll timeout 10000 ms)');
	$A->wait(20);
	$B->wait(20);
	is(join('+', sort(scalar(partitions_of($g, $ma, 'grow')), scalar(partitions_of($g, $mb, 'grow')))),
		'3+3', 'grow: three partitions each');

	# the new partitions are read
	$mon->query_safe(q{SELECT count(*) FROM generate_series(2, 5) p,
	                         LATERAL mq.produce('grow', 'new-' || p, partition => p)});
	my %got;
	my $deadline = time + 20;
	while (keys(%got) < 4 && time < $deadline)
	{
		foreach my $s ($A, $B)
		{
			my $r = $s->query_safe(q{SELECT partition || ':' || convert_from(value, 'UTF8') FROM mq.poll('grow', 100, timeout_ms => 200)});
			$got{$_}++ foreach grep { length } split /\n/, $r;
		}
	}
	is(join(' ', sort keys %got), '2:new-2 3:new-3 4:new-4 5:new-5',
		'grow: the members read the records of the new partitions');
	is(join(',', values %got), '1,1,1,1', 'grow: each once');
	$A->quit;
	$B->quit;
}

# 5. A session never hangs in its exit callback: while another session's
# open transaction holds the group (a join not yet committed) and the
# parent of its ephemeral node (a sibling created, not yet committed), the
# leaving session retries for half a second each and ends, leaving its
# member and node to the sweeps;
# once that transaction commits, the next poll removes the member and the
# next node call the node.
{
	my $g = 'x';
	my $A = MqTest::Session->new($node, 'exit-a');
	my $B = MqTest::Session->new($node, 'exit-b');
	$mon->query_safe(q{SELECT mq.node_create('/x')});
	$A->query_safe(qq{SELECT mq.subscribe('$g', ARRAY['m']); SELECT mq.node_create('/x/a', ephemeral => true)});
	$B->query_safe(qq{BEGIN; SELECT mq.subscribe('$g', ARRAY['m'], 'pooled'); SELECT mq.node_create('/x/b')});
	my $pid = $A->backend_pid;
	my $t0 = time;
	$A->quit;
	ok($mon->wait_backend_gone($pid), 'exit: the session ended');
	my $took = time - $t0;
	ok($took < 2, 'exit: not held up by the open transaction that holds its group and node parent ('
		  . ms($took) . ', half a second of retries for each)');
	is($mon->query_safe(qq{SELECT count(*) FROM mq.group_member WHERE group_id = '$g'}), '1',
		'exit: its member is left for the sweep (the join is not committed yet)');
	$B->query_safe('COMMIT');
	$B->query_safe(qq{SELECT count(*) FROM mq.poll('$g', member_id => 'pooled')});
	is($mon->query_safe(qq{SELECT string_agg(member_id, ',') FROM mq.group_members WHERE group_id = '$g'}),
		'pooled', 'exit: the next poll swept the member');
	is($mon->query_safe(q{SELECT array_to_string(array(SELECT mq.node_children('/x')), ',')}), 'b',
		'exit: the next node call swept the node');
	$B->quit;
}

$mon->quit;
$node->stop;
done_testing();
