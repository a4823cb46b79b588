# test/t/005_coordination.pl
#
# The coordination tree when sessions die (coordination issue), measured:
#
#   1. Leader election, the leader's client killed: candidates c1..c4 are
#      psql processes; c1 leads, c2..c4 block in
#      mq.elect(..., timeout_ms => 30000).  kill -9 of c1's psql (not its
#      backend): the backend sees EOF and exits, its exit callback deletes
#      c1's node, and c2 leads within 1 s.  A monitor samples all along
#      that at most one candidate holds leadership at any time (c1 while
#      its node exists, or a candidate whose elect returned); c3 and c4 are
#      still asleep after c2 took over, and each, led in turn as its
#      predecessor resigns, reports that it slept exactly once in
#      mq._wait_key (a wake-up by c1's death would have made it look again
#      and sleep a second time): only the successor was woken.  Twice:
#        a. the candidates joined the line first (elect with timeout 0) and
#           call elect again to wait;
#        b. each joins and waits in one call, as the README shows.
#   2. A session-owned ephemeral node is gone within 1 s when its session
#      ends by disconnect, pg_terminate_backend or its client being
#      killed; its watchers are told: a LISTEN session receives "deleted"
#      on the node's channel and "children" on the parent's, sent by the
#      ending backend itself, and a session blocked in mq.node_wait returns
#      "deleted", each within 1 s.
#   3. Fencing: leader L stands on a lease of 2 s, renewed in its loop of
#      fenced writes (BEGIN; INSERT; SELECT mq.fence(...); COMMIT).  Its
#      client is paused (SIGSTOP): the lease expires and B, blocked in
#      elect, takes over -- not before the expiry, and within 1 s of it.  L
#      resumed (SIGCONT): its next transaction fails with MQ027 and its
#      INSERT is rolled back; B's fenced write went through.
#   4. kill -9 of a backend (the server restarts, restart_after_crash = on,
#      fsync = on): no exit callback ran, so the dead sessions' ephemeral
#      nodes are still in mq.node, and the next node_exists /
#      node_children sweeps them; a new candidate leads at once.
#
# The background workers' sweeps are off here (mqext.enable_sweeps), so
# that what removes a node is the exit callback (1, 2) or the node calls'
# own sweep (4), as the tests claim.  Latencies are printed in the test
# names.  Only processes started here are signalled.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use MqTest::Session;
use Test::More;
use Time::HiRes qw(time sleep);

my $BOUND = 1.0;    # seconds: "within 1 second"
my $paused_pid;     # a psql we SIGSTOPped, to SIGCONT whatever happens

END { kill 'CONT', $paused_pid if $paused_pid; }

my $node = PostgreSQL::Test::Cluster->new('coordination');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mqext'
fsync = on
restart_after_crash = on
max_connections = 40
mqext.enable_sweeps = off
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION mqext');

my $mon = MqTest::Session->new($node, 'monitor');

sub ms { return sprintf('%.0f ms', 1000 * $_[0]); }

# End sessions started here: a statement still running is ended by
# terminating that session's own backend.  Waits for the backends to go.
sub finish
{
	my @pids;
	foreach my $s (@_)
	{
		next if $s->{ended};
		if (!$s->done)
		{
			$mon->query("SELECT pg_terminate_backend(" . $s->backend_pid . ")");
			$s->kill_client;
		}
		else
		{
			$s->quit;
		}
		push @pids, $s->backend_pid;
	}
	$mon->wait_backend_gone($_) foreach @pids;
	return;
}

# --- 1. the leader's client is killed ------------------------------------------

# c<n> blocks in elect; its result is "leads|sleeps", sleeps being how often
# it slept in mq._wait_key during that elect (counted after it returned).
sub elect_sql
{
	my ($e, $n) = @_;
	return qq{SELECT x.leads, (SELECT coalesce(sum(calls), 0) FROM pg_stat_xact_user_functions
	                             WHERE funcname = '_wait_key') AS sleeps
	            FROM (SELECT mq.elect('$e', 'c$n'::bytea, timeout_ms => 30000) AS leads OFFSET 0) x};
}

sub leader_killed
{
	my ($case, $prejoin) = @_;
	my $e = "/elect-$case";
	$mon->query_safe("SELECT mq.node_create('$e')");
	my @c = map { MqTest::Session->new($node, "$case-c$_") } 1 .. 4;
	$_->query_safe("SET track_functions = 'all'") foreach @c;
	my %pid_of = map { $c[$_]->backend_pid => $_ + 1 } 0 .. 3;    # backend pid => candidate number

	is($c[0]->query_safe("SELECT mq.elect('$e', 'c1'::bytea)"), 't', "$case: c1 leads");
	if ($prejoin)
	{
		is(join(',', map { $c[$_]->query_safe("SELECT mq.elect('$e', 'c" . ($_ + 1) . "'::bytea)") } 1 .. 3),
			'f,f,f', "$case: c2, c3, c4 joined the line");
	}
	# in this order, each asleep before the next comes: the line is c1 c2 c3 c4
	foreach my $i (1 .. 3)
	{
		$c[$i]->send(elect_sql($e, $i + 1));
		ok($mon->wait_asleep($c[$i], 5), "$case: c" . ($i + 1) . " is blocked in elect");
	}
	my $line = $mon->query_safe(qq{SELECT string_agg(owner_pid::text, ' ' ORDER BY path) FROM mq.node WHERE parent = '$e'});
	is(join(' ', map { 'c' . ($pid_of{$_} // '?') } split / /, $line), 'c1 c2 c3 c4',
		"$case: the line is c1 c2 c3 c4");

	# kill c1's client; sample who leads until c2 has led for 300 ms
	my $t0 = time;
	$c[0]->kill_client;
	my (%returned, @too_many, $samples, $last_leading);
	while (time < $t0 + 5)
	{
		foreach my $i (1 .. 3)
		{
			$returned{ $i + 1 } //= time if $c[$i]->done;
		}
		# after the done() checks: an elect returns only after its predecessor's
		# deletion committed, which this query then sees
		my $nodes = $mon->query_safe(qq{SELECT string_agg(owner_pid::text, ' ' ORDER BY path) FROM mq.node WHERE parent = '$e'});
		my %has_node = map { ($pid_of{$_} // 0) => 1 } split / /, $nodes;
		my @leading = grep { $has_node{$_} && ($_ == 1 || $returned{$_}) } 1 .. 4;
		$samples++;
		$last_leading = join('+', map { "c$_" } @leading);
		push @too_many, sprintf('%s at +%s', join('+', map { "c$_" } @leading), ms(time - $t0))
		  if @leading > 1;
		last if defined $returned{2} && time > $returned{2} + 0.3;
		sleep 0.005;
	}
	my $t_new = defined $returned{2} ? $returned{2} - $t0 : undef;
	ok(defined $t_new && $t_new <= $BOUND,
		"$case: c1's client killed, c2 leads after "
		  . (defined $t_new ? ms($t_new) : 'more than 5 s')
		  . ' (bound ' . ms($BOUND) . ')');
	is(scalar(@too_many), 0, "$case: at most one leader in each of $samples samples")
	  or diag("more than one leader: @too_many");
	is($last_leading, 'c2', "$case: exactly one leader at the last sample: c2");
	ok(!$returned{3} && !$returned{4}, "$case: c3 and c4 were still blocked 300 ms after c2 took over");
	ok($mon->wait_asleep($c[2], 0.1) && $mon->wait_asleep($c[3], 0.1), "$case: c3 and c4 are asleep");

	if (defined $t_new)
	{
		is($c[1]->wait(5), 't|1', "$case: c2's elect returned true, having slept once");
		is($mon->query_safe("SELECT convert_from(data, 'UTF8') FROM mq.leader('$e')"), 'c2', "$case: mq.leader is c2");
		# c2 resigns: c3 leads; c3 resigns: c4 leads
		foreach my $n (3, 4)
		{
			my $t1 = time;
			$c[ $n - 2 ]->query_safe("SELECT mq.resign('$e')");
			my $got = $c[ $n - 1 ]->wait(10);
			my $dt = time - $t1;
			is($got, 't|1', $n == 3
				? "$case: c2 resigned, c3 leads after " . ms($dt) . ", having slept once (not woken by c1's death)"
				: "$case: c3 resigned, c4 leads after " . ms($dt) . ", having slept once (not woken by c1's or c2's leaving)");
		}
		is($c[3]->query_safe("SELECT mq.resign('$e')"), 't', "$case: c4 resigns");
	}
	finish(@c);
	ok($mon->wait_backend_gone($c[0]->backend_pid), "$case: c1's backend has ended");
	is($mon->query_safe(qq{SELECT count(*) FROM mq.node WHERE parent = '$e'}), '0', "$case: no candidate left");
	return;
}

leader_killed('recall', 1);
leader_killed('first-call', 0);

# --- 2. an ephemeral node's session ends -------------------------------------

$mon->query_safe("SELECT mq.node_create('/svc')");
my @ends = (
	[ 'disconnect',           sub { $_[0]->quit } ],
	[ 'pg_terminate_backend', sub { $mon->query_safe('SELECT pg_terminate_backend(' . $_[0]->backend_pid . ')') } ],
	[ 'client killed',        sub { $_[0]->kill_client } ],);
my $i = 0;
foreach my $end (@ends)
{
	my ($case, $how) = @$end;
	my $path = '/svc/e' . ++$i;
	my $E = MqTest::Session->new($node, "owner-$i");
	is($E->query_safe(qq{SELECT mq.node_create('$path', 'E$i'::text, ephemeral => true)}), $path,
		"$case: ephemeral node $path created");
	my $epid = $E->backend_pid;
	my $L = MqTest::Session->new($node, "listener-$i");
	my $chan = $mon->query_safe("SELECT mq.node_watch('$path')");
	my $pchan = $mon->query_safe("SELECT mq.node_watch('/svc')");
	$L->query_safe(qq{LISTEN "$chan"; LISTEN "$pchan";});
	my $W = MqTest::Session->new($node, "watcher-$i");
	$W->send("SELECT mq.node_wait('$path', 0, 30000)");
	ok($mon->wait_asleep($W), "$case: a watcher is blocked in node_wait");

	my $t0 = time;
	$how->($E);
	my ($t_gone, $t_wait, $t_note, $notes) = (undef, undef, undef, '');
	my $re_node = qr/Asynchronous notification "\Q$chan\E" with payload "(\{[^\n]*"event" : "deleted"[^\n]*\})" received from server process with PID (\d+)/;
	my $re_parent = qr/Asynchronous notification "\Q$pchan\E" with payload "(\{[^\n]*"child_event" : "deleted"[^\n]*\})" received from server process with PID (\d+)/;
	while (time < $t0 + 10 && !(defined $t_gone && defined $t_wait && defined $t_note))
	{
		$t_wait //= time if $W->done;
		$t_gone //= time if $mon->query_safe("SELECT count(*) FROM mq.node WHERE path = '$path'") eq '0';
		if (!defined $t_note)
		{
			$notes .= $L->query_safe('SELECT 1') . "\n";
			$t_note = time if $notes =~ $re_node && $notes =~ $re_parent;
		}
		sleep 0.005;
	}
	foreach my $m ([ 'node is gone', $t_gone ], [ 'the LISTEN session got both notifications', $t_note ],
		[ 'the blocked node_wait returned', $t_wait ])
	{
		ok(defined $m->[1] && $m->[1] - $t0 <= $BOUND,
			"$case: $m->[0] after " . (defined $m->[1] ? ms($m->[1] - $t0) : 'more than 10 s')
			  . ' (bound ' . ms($BOUND) . ')');
	}
	my ($payload, $from) = $notes =~ $re_node;
	is($payload, qq({"path" : "$path", "event" : "deleted", "version" : null}), "$case: the node's channel said deleted");
	is($from, $epid, "$case: sent by the owner's backend as it ended");
	($payload) = $notes =~ $re_parent;
	like($payload // '', qr/^\{"path" : "\/svc", "event" : "children", "cversion" : \d+, "child" : "\Q$path\E", "child_event" : "deleted"\}$/,
		"$case: the parent's channel said a child was deleted");
	is($W->done ? $W->wait : undef, 'deleted', "$case: node_wait returned deleted");
	ok($mon->wait_backend_gone($epid), "$case: the owner's backend has ended");
	finish($E, $L, $W);
}

# --- 3. a paused leader is replaced and fenced ---------------------------------

{
	$mon->query_safe(q{CREATE TABLE ledger (writer text, n integer, token bigint)});
	$mon->query_safe(q{SELECT mq.node_create('/fence')});
	my $L = MqTest::Session->new($node, 'fence-L');
	my $B = MqTest::Session->new($node, 'fence-B');
	$L->query_safe('\set VERBOSITY verbose');
	my $lease = $L->query_safe(q{SELECT mq.lease_grant('2 seconds')});
	is($L->query_safe(qq{SELECT mq.elect('/fence', 'L'::bytea, lease => $lease)}), 't', 'fencing: L leads, on a lease of 2 s');
	my $tok = $L->query_safe(qq{SELECT mq.fencing_token('/fence', $lease)});
	my $lease_b = $B->query_safe(q{SELECT mq.lease_grant('1 minute')});
	is($B->query_safe(qq{SELECT mq.elect('/fence', 'B'::bytea, lease => $lease_b)}), 'f', 'fencing: B is in line');
	$B->send(qq{SELECT mq.elect('/fence', 'B'::bytea, timeout_ms => 30000, lease => $lease_b), clock_timestamp()});
	ok($mon->wait_asleep($B), 'fencing: B is blocked in elect');

	# L's loop: keepalive, fenced write
	my ($expiry, $ok) = (undef, 1);
	foreach my $n (1 .. 4)
	{
		$expiry = $L->query_safe(qq{SELECT mq.lease_keepalive($lease)});
		my ($out, $err) = $L->query(qq{BEGIN; INSERT INTO ledger VALUES ('L', $n, $tok); SELECT mq.fence('/fence', $tok); COMMIT;});
		$ok &&= ($err eq '');
		sleep 0.3;
	}
	ok($ok, 'fencing: L renewed its lease and made four fenced writes');
	ok(!$B->done, 'fencing: B is still waiting while L renews its lease');

	$paused_pid = $L->client_pid;
	kill 'STOP', $paused_pid;
	my $t_stop = time;
	my ($leads, $at) = split /\|/, $B->wait(15);
	my $waited = time - $t_stop;
	is($leads, 't', 'fencing: with L paused, B leads after ' . ms($waited));
	my $late = $mon->query_safe(qq{SELECT round(extract(epoch FROM '$at'::timestamptz - '$expiry'::timestamptz) * 1000)});
	ok($late >= 0 && $late <= 1000 * $BOUND,
		"fencing: B took over ${late} ms after L's lease expired (not before; bound " . ms($BOUND) . ')');
	my $tok_b = $B->query_safe(qq{SELECT mq.fencing_token('/fence', $lease_b)});
	ok($tok_b > $tok, "fencing: B's token $tok_b is above L's $tok");
	my (undef, $err_b) = $B->query(qq{BEGIN; INSERT INTO ledger VALUES ('B', 1, $tok_b); SELECT mq.fence('/fence', $tok_b); COMMIT;});
	is($err_b, '', "fencing: B's fenced write went through");

	kill 'CONT', $paused_pid;
	undef $paused_pid;
	my (undef, $err) = $L->query(qq{BEGIN; INSERT INTO ledger VALUES ('L', 5, $tok); SELECT mq.fence('/fence', $tok); COMMIT;});
	like($err, qr/ERROR:  MQ027: fenced: token $tok is not the current leader's of election "\/fence"/,
		"fencing: L resumed; its next transaction fails with MQ027");
	is($mon->query_safe(q{SELECT string_agg(writer || n || '@' || token, ' ' ORDER BY writer, n) FROM ledger}),
		"B1\@$tok_b L1\@$tok L2\@$tok L3\@$tok L4\@$tok", "fencing: L's INSERT was rolled back");
	(undef, $err) = $L->query(qq{SELECT mq.lease_keepalive($lease)});
	like($err, qr/ERROR:  MQ025: lease $lease does not exist/, "fencing: L's lease is gone");
	$B->query_safe(qq{SELECT mq.lease_revoke($lease_b)});
	finish($L, $B);
}

# --- 4. kill -9 of a backend: the next node calls sweep -------------------------

{
	$mon->query_safe(q{SELECT mq.node_create('/crash'); SELECT mq.node_create('/crash/p', 'persistent'::text)});
	my $K1 = MqTest::Session->new($node, 'crash-k1');
	my $K2 = MqTest::Session->new($node, 'crash-k2');
	$K1->query_safe(q{SELECT mq.node_create('/crash/k1', ephemeral => true)});
	$K2->query_safe(q{SELECT mq.node_create('/crash/k2', ephemeral => true)});
	is($K1->query_safe(q{SELECT mq.elect('/crash-e')}), 't', 'crash: k1 leads /crash-e');
	is($K2->query_safe(q{SELECT mq.elect('/crash-e')}), 'f', 'crash: k2 is in line');

	my $log_offset = -s $node->logfile;
	is(kill('KILL', $K1->backend_pid), 1, "crash: killed k1's backend with SIGKILL");
	$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
	$node->wait_for_log(qr/database system is ready to accept connections/, $log_offset);
	ok(1, 'crash: server reinitialized');
	$_->kill_client foreach ($K1, $K2, $mon);

	$mon = MqTest::Session->new($node, 'monitor');
	is($mon->query_safe(q{SELECT string_agg(path, ' ' ORDER BY path) FROM mq.node WHERE path LIKE '/crash%'}),
		'/crash /crash-e /crash-e/n_0000000000 /crash-e/n_0000000001 /crash/k1 /crash/k2 /crash/p',
		'crash: no exit callback ran, the dead ephemeral nodes are still in mq.node');
	is($mon->query_safe(q{SELECT mq.node_exists('/crash/k1')}), 'f', 'crash: node_exists swept /crash/k1');
	is($mon->query_safe(q{SELECT string_agg(c, ' ' ORDER BY c) FROM mq.node_children('/crash') c}), 'p',
		'crash: node_children lists only the persistent child');
	is($mon->query_safe(q{SELECT count(*) FROM mq.node WHERE owner_pid IS NOT NULL}), '0',
		"crash: every dead session's node is gone");
	my $N = MqTest::Session->new($node, 'crash-new');
	is($N->query_safe(q{SELECT mq.elect('/crash-e')}), 't', 'crash: a new candidate leads at once');
	is($mon->query_safe(q{SELECT right(path, 12) FROM mq.leader('/crash-e')}), 'n_0000000002', 'crash: its node is the leader');
	finish($N);
}

finish($mon);
$node->stop;
done_testing();
