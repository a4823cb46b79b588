# test/perl/MqTest/Session.pm
#
# A psql client of a test cluster that the test drives statement by
# statement, for the consumer tests (003_delivery.pl, 004_membership.pl):
#
#   my $s = MqTest::Session->new($node, 'consumer-1');   # application_name
#   $s->query_safe('SELECT mq.subscribe(...)');          # wait for the result
#   $s->send('SELECT ... FROM mq.poll(..., timeout_ms => 10000)');
#   ... $s->done ...                                      # non-blocking check
#   my ($out, $err) = $s->wait;                           # blocking
#   $s->kill_client;      # SIGKILL the psql process (the backend sees EOF)
#   $s->quit;
#
# Unlike BackgroundPsql, a statement can be left running (send) while the
# test does other things, and the psql process can be killed.  Every
# session is ended when the test script exits, failure included: only psql
# processes started here are signalled.
package MqTest::Session;

use strict;
use warnings;

use IPC::Run;
use Time::HiRes qw(time sleep);
use PostgreSQL::Test::Utils;

my @sessions;

sub new
{
	my ($class, $node, $name, %opt) = @_;
	my $self = bless {
		name => $name,
		in   => '',
		out  => '',
		err  => '',
		n    => 0,
	}, $class;
	local $ENV{PGAPPNAME} = $name;
	$self->{timer} = IPC::Run::timer($PostgreSQL::Test::Utils::timeout_default);
	my @cmd = (
		'psql', '-XAtq', '-v', 'ON_ERROR_STOP=0',
		'-d', $node->connstr($opt{dbname} // 'postgres'));
	$self->{h} = IPC::Run::start(\@cmd, '<', \$self->{in}, '>', \$self->{out},
		'2>', \$self->{err}, $self->{timer});
	push @sessions, $self;
	$self->{backend_pid} = $self->query_safe('SELECT pg_backend_pid()');
	return $self;
}

sub name        { return $_[0]->{name}; }
sub backend_pid { return $_[0]->{backend_pid}; }

# pid of the psql process
sub client_pid
{
	my ($self) = @_;
	return $self->{h}{KIDS}[0]{PID};
}

sub running
{
	my ($self) = @_;
	return !$self->{ended} && $self->{h}->pumpable;
}

# Send a statement (or several) without waiting for the result.
sub send
{
	my ($self, $sql) = @_;
	die "$self->{name}: previous statement still running" if $self->{marker};
	my $n = ++$self->{n};
	$self->{marker} = "mq-session-done-$n";
	$self->{out} = '';
	$self->{err} = '';
	$self->{in} .= "$sql\n;\n\\echo $self->{marker}\n\\warn $self->{marker}\n";
	$self->{sent_at} = time;
	$self->{h}->pump_nb;
	return;
}

# Has the statement sent last finished?  Never blocks.
sub done
{
	my ($self) = @_;
	return 1 unless $self->{marker};
	$self->{h}->pump_nb if $self->{h}->pumpable;
	my $m = $self->{marker};
	# the whole line, newline included: psql's \warn writes the text and
	# the newline to unbuffered stderr in two writes, and a read between
	# them would leave the marker in what the statement printed
	return ($self->{out} =~ /(?:^|\n)\Q$m\E\n/ && $self->{err} =~ /(?:^|\n)\Q$m\E\n/) ? 1 : 0;
}

# Wait for the statement sent last; returns (stdout, stderr) in list
# context, stdout in scalar context.  Dies on timeout or if psql ended.
sub wait
{
	my ($self, $secs) = @_;
	$self->{timer}->start($secs // $PostgreSQL::Test::Utils::timeout_default);
	until ($self->done)
	{
		die "$self->{name}: psql ended while waiting; stderr: $self->{err}"
		  unless $self->{h}->pumpable;
		die "$self->{name}: timed out waiting for the statement; stderr: $self->{err}"
		  if $self->{timer}->is_expired;
		$self->{h}->pump;
	}
	my $m = delete $self->{marker};
	my ($out, $err) = ($self->{out}, $self->{err});
	# psql sometimes starts a line before the marker (after a long statement)
	$out =~ s/(?:^|\n)\Q$m\E\n//;
	$err =~ s/(?:^|\n)\Q$m\E\n//;
	chomp $out;
	return wantarray ? ($out, $err) : $out;
}

sub query
{
	my ($self, $sql, $secs) = @_;
	$self->send($sql);
	return $self->wait($secs);
}

sub query_safe
{
	my ($self, $sql, $secs) = @_;
	my ($out, $err) = $self->query($sql, $secs);
	die "$self->{name}: query failed: $err\nquery: $sql" if $err =~ /ERROR|FATAL|PANIC/;
	return $out;
}

# Wait for psql to end by itself (after its server connection was closed);
# returns what it wrote to stderr since the last statement was sent.
sub wait_end
{
	my ($self, $secs) = @_;
	return $self->{err} if $self->{ended};
	$self->{timer}->start($secs // $PostgreSQL::Test::Utils::timeout_default);
	$self->{in} = '';
	while ($self->{h}->pumpable && !$self->{timer}->is_expired)
	{
		$self->{h}->pump;
	}
	$self->_reap;
	return $self->{err};
}

# SIGKILL the psql process: the client vanishes without a word.
sub kill_client
{
	my ($self) = @_;
	return if $self->{ended};
	kill 'KILL', $self->client_pid;
	$self->{in} = '';
	$self->_reap;
	return;
}

sub quit
{
	my ($self) = @_;
	return if $self->{ended};
	$self->{in} = "\\q\n";
	$self->{timer}->start($PostgreSQL::Test::Utils::timeout_default);
	$self->_reap;
	return;
}

sub _reap
{
	my ($self) = @_;
	eval { $self->{h}->finish; };
	if ($self->{h}->pumpable)
	{
		eval { $self->{h}->kill_kill(grace => 2); };
	}
	$self->{ended} = 1;
	delete $self->{marker};
	return;
}

# End every session still running (the psql processes started above).
sub end_all
{
	foreach my $s (@sessions)
	{
		next if $s->{ended};
		$s->{in} = '';
		eval { $s->{h}->kill_kill(grace => 2); };
		$s->{ended} = 1;
	}
	return;
}

# Called on a monitoring session: wait until session $s's backend sleeps
# on its latch in mqext (wait event Extension), for at most $secs (10).
sub wait_asleep
{
	my ($mon, $s, $secs) = @_;
	my $pid = $s->backend_pid;
	my $deadline = time + ($secs // 10);
	while (time < $deadline)
	{
		return 1 if $mon->query_safe(qq{
			SELECT count(*) FROM pg_stat_activity
			 WHERE pid = $pid AND wait_event_type = 'Extension' AND state = 'active'}) eq '1';
		sleep 0.01;
	}
	return 0;
}

# Called on a monitoring session: wait until backend $pid has ended.
sub wait_backend_gone
{
	my ($mon, $pid) = @_;
	my $deadline = time + 30;
	while (time < $deadline)
	{
		return 1 if $mon->query_safe("SELECT count(*) FROM pg_stat_activity WHERE pid = $pid") eq '0';
		sleep 0.02;
	}
	return 0;
}

END { local $?; end_all(); }

1;
