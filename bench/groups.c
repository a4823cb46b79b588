/*
 * bench/groups.c: the consumer-group measurements of scripts/bench.sh, a
 * small libpq client (built by the bench script with gcc).  One process,
 * one thread: every connection is driven asynchronously from one poll()
 * loop, so nothing is forked and nothing outlives it.
 *
 *   groups latency CONNINFO N
 *       one poller blocked in mq.poll(timeout_ms => 60000) on the idle
 *       single-partition topic "lat"; once pg_stat_activity shows it
 *       waiting, a producer runs BEGIN; mq.produce; COMMIT.  Latency: from
 *       sending that COMMIT to the poller's result (its one record) arriving,
 *       on one monotonic clock; N times after 20 untimed ones.
 *   groups drain-group CONNINFO GROUP TOPIC CONSUMERS BATCH EXPECTED
 *       CONSUMERS session-bound members of a new group (auto.offset.reset
 *       earliest, enable.auto.commit false) each loop on
 *           SELECT * FROM mq.poll(GROUP, BATCH); SELECT mq.commit(GROUP)
 *       (one simple-query message: one transaction) until a poll returns
 *       nothing; the time from the first send to the last member's end.
 *   groups drain-queue CONNINFO CONSUMERS BATCH EXPECTED
 *       the baseline: CONSUMERS sessions each loop on
 *           DELETE FROM mq_queue WHERE id IN (SELECT id FROM mq_queue
 *             ORDER BY id LIMIT BATCH FOR UPDATE SKIP LOCKED)
 *           RETURNING id, payload
 *       (autocommit: one transaction) until it returns nothing.
 *   groups idle CONNINFO GROUP TOPIC MEMBERS CYCLES SECONDS QUIET
 *       MEMBERS sessions (application_name mqbench_idle) join GROUP on
 *       TOPIC; all but the last stay blocked in mq.poll(timeout_ms =>
 *       60000), re-polling whenever a poll returns.  The last one leaves and
 *       joins CYCLES times (each timed, from a settled group: every other
 *       member blocked again); then it polls too, and once all MEMBERS are
 *       blocked, the CPU time of their backends (found in pg_stat_activity
 *       by application_name; /proc/PID/schedstat, else utime + stime of
 *       /proc/PID/stat) is taken over QUIET seconds, then over SECONDS more
 *       (see idle() for why the first QUIET are apart).  At the end the
 *       polls are cancelled and it waits for the backends to exit.
 *
 * Prints KEY=VALUE lines on stdout; any error ends it with status 1.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "bench_util.h"

typedef struct
{
	PGconn	   *c;
	int			pid;
	int			busy;			/* a query is in flight */
	int			repeat;			/* re-send sql when it completes */
	int			canceled;		/* ignore the error of a canceled query */
	const char *sql;
	int			nres;			/* results of the query in flight so far */
	long		first_rows;		/* rows of its first result */
	long		completions;	/* queries completed */
	double		done_at;		/* when the last one completed */
} Conn;




/* run a query synchronously, return the first field of the first row (or "") */
static char *
exec1(PGconn *c, const char *sql)
{
	static char out[256];
	PGresult   *r = PQexec(c, sql);

	if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
		die("%s: %s", sql, PQerrorMessage(c));
	out[0] = '\0';
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && PQnfields(r) > 0)
		snprintf(out, sizeof(out), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return out;
}

static void
conn_open(Conn *k, const char *conninfo, const char *appname)
{
	memset(k, 0, sizeof(*k));
	k->c = connect_db(conninfo, appname);
	k->pid = atoi(exec1(k->c, "SELECT pg_backend_pid()"));
}

static void
send_q(Conn *k, const char *sql)
{
	if (!PQsendQuery(k->c, sql))
		die("send %s: %s", sql, PQerrorMessage(k->c));
	k->sql = sql;
	k->busy = 1;
	k->nres = 0;
	k->first_rows = 0;
}

/* read what arrived; on completion, count it and re-send if repeating */
static void
service(Conn *k)
{
	if (!PQconsumeInput(k->c))
		die("read: %s", PQerrorMessage(k->c));
	while (k->busy && !PQisBusy(k->c))
	{
		PGresult   *r = PQgetResult(k->c);

		if (r == NULL)
		{
			k->busy = 0;
			k->completions++;
			k->done_at = now();
			if (k->repeat)
				send_q(k, k->sql);
			break;
		}
		if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK &&
			!k->canceled)
			die("%s: %s", k->sql, PQresultErrorMessage(r));
		if (k->nres++ == 0)
			k->first_rows = PQntuples(r);
		PQclear(r);
	}
}

/* wait up to timeout_ms for input on the busy connections, and serve it */
static void
pump(Conn *ks, int n, int timeout_ms)
{
	struct pollfd fds[512];
	int			idx[512];
	int			m = 0;

	for (int i = 0; i < n && m < 512; i++)
		if (ks[i].busy)
		{
			fds[m].fd = PQsocket(ks[i].c);
			fds[m].events = POLLIN;
			idx[m++] = i;
		}
	if (m == 0)
	{
		if (timeout_ms > 0)
			usleep(timeout_ms * 1000);
		return;
	}
	if (poll(fds, m, timeout_ms) < 0 && errno != EINTR)
		die("poll: %s", strerror(errno));
	for (int j = 0; j < m; j++)
		if (fds[j].revents)
			service(&ks[idx[j]]);
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return x < y ? -1 : x > y;
}

/* the value at quantile q (nearest rank) of a sorted array */
static double
quantile(const double *v, int n, double q)
{
	int			i = (int) (q * n + 0.999999) - 1;

	return v[i < 0 ? 0 : (i >= n ? n - 1 : i)];
}

/* ---- latency ----------------------------------------------------------- */

static int
latency(const char *conninfo, int n)
{
	Conn		ks[2];
	Conn	   *prod = &ks[0],
			   *cons = &ks[1];
	char		q[256];
	double	   *lat = calloc(n, sizeof(double));
	double	   *com = calloc(n, sizeof(double));
	int			warm = 20;

	conn_open(prod, conninfo, "mqbench_latency");
	conn_open(cons, conninfo, "mqbench_latency");
	exec1(cons->c, "SELECT mq.subscribe('lat', ARRAY['lat'], config => '{\"session.timeout.ms\": 300000}')");
	/* the first poll after the assignment stores the position and returns */
	exec1(cons->c, "SELECT count(*) FROM mq.poll('lat', 10, 0)");
	exec1(cons->c, "SELECT count(*) FROM mq.poll('lat', 10, 0)");
	snprintf(q, sizeof(q),
			 "SELECT count(*) FROM pg_stat_activity WHERE pid = %d AND wait_event_type = 'Extension'",
			 cons->pid);

	for (int i = -warm; i < n; i++)
	{
		double		t0,
					t_ack = 0,
					t1 = 0,
					give_up;

		send_q(cons, "SELECT * FROM mq.poll('lat', 10, 60000)");
		/* the poller must be asleep in mq.poll before the producer commits */
		give_up = now() + 10;
		while (strcmp(exec1(prod->c, q), "1") != 0)
		{
			pump(cons, 1, 0);
			if (!cons->busy)
				die("latency: the poll returned %ld records before anything was produced", cons->first_rows);
			if (now() > give_up)
				die("latency: the poller did not block within 10 s");
			usleep(100);
		}
		exec1(prod->c, "BEGIN");
		exec1(prod->c, "SELECT 1 FROM mq.produce('lat', '\\x78'::bytea)");
		t0 = now();
		send_q(prod, "COMMIT");
		while (prod->busy || cons->busy)
		{
			pump(ks, 2, 1000);
			if (!prod->busy && t_ack == 0)
				t_ack = prod->done_at;
			if (!cons->busy && t1 == 0)
				t1 = cons->done_at;
			if (now() - t0 > 30)
				die("latency: no record after 30 s");
		}
		if (cons->first_rows != 1)
			die("latency: the poll returned %ld records, expected 1", cons->first_rows);
		if (i >= 0)
		{
			lat[i] = (t1 - t0) * 1000;
			com[i] = (t_ack - t0) * 1000;
		}
	}
	qsort(lat, n, sizeof(double), cmp_double);
	qsort(com, n, sizeof(double), cmp_double);
	printf("lat_n=%d\n", n);
	printf("lat_p50_ms=%.3f\nlat_p99_ms=%.3f\nlat_max_ms=%.3f\n",
		   quantile(lat, n, 0.5), quantile(lat, n, 0.99), lat[n - 1]);
	printf("commit_p50_ms=%.3f\ncommit_p99_ms=%.3f\n",
		   quantile(com, n, 0.5), quantile(com, n, 0.99));
	PQfinish(prod->c);
	PQfinish(cons->c);
	return 0;
}

/* ---- drains ------------------------------------------------------------ */

static int
drain(Conn *ks, int n, const char *sql, long expected, const char *label)
{
	double		t0,
				t1 = 0;
	long		total = 0;
	int			running = n;

	t0 = now();
	for (int i = 0; i < n; i++)
		send_q(&ks[i], sql);
	while (running > 0)
	{
		pump(ks, n, 1000);
		for (int i = 0; i < n; i++)
			if (!ks[i].busy && ks[i].sql != NULL)
			{
				total += ks[i].first_rows;
				if (ks[i].first_rows > 0)
					send_q(&ks[i], sql);
				else
				{
					ks[i].sql = NULL;	/* drained */
					running--;
					t1 = ks[i].done_at;
				}
			}
		if (now() - t0 > 600)
			die("%s: not drained after 600 s", label);
	}
	if (total != expected)
		die("%s: consumed %ld records, expected %ld", label, total, expected);
	printf("%s_records=%ld\n%s_seconds=%.3f\n%s_per_s=%.0f\n",
		   label, total, label, t1 - t0, label, total / (t1 - t0));
	return 0;
}

static int
drain_group(const char *conninfo, const char *group, const char *topic,
			int n, int batch, long expected)
{
	Conn		ks[64];
	char		sql[512],
				sub[512];

	if (n < 1 || n > 64)
		die("1 to 64 consumers");
	snprintf(sub, sizeof(sub),
			 "SELECT mq.subscribe('%s', ARRAY['%s'], config => "
			 "'{\"auto.offset.reset\": \"earliest\", \"enable.auto.commit\": false}')",
			 group, topic);
	for (int i = 0; i < n; i++)
	{
		conn_open(&ks[i], conninfo, "mqbench_drain");
		exec1(ks[i].c, sub);
	}
	snprintf(sql, sizeof(sql),
			 "SELECT * FROM mq.poll('%s', %d); SELECT mq.commit('%s')", group, batch, group);
	drain(ks, n, sql, expected, "group");
	/* every committed offset is at the end of its partition */
	snprintf(sql, sizeof(sql),
			 "SELECT coalesce(sum(committed_offset), 0) FROM mq.group_offset WHERE group_id = '%s'", group);
	if (atol(exec1(ks[0].c, sql)) != expected)
		die("drain-group: committed offsets add up to %s, expected %ld", exec1(ks[0].c, sql), expected);
	for (int i = 0; i < n; i++)
		PQfinish(ks[i].c);
	return 0;
}

static int
drain_queue(const char *conninfo, int n, int batch, long expected)
{
	Conn		ks[64];
	char		sql[512];

	if (n < 1 || n > 64)
		die("1 to 64 consumers");
	for (int i = 0; i < n; i++)
		conn_open(&ks[i], conninfo, "mqbench_drain");
	snprintf(sql, sizeof(sql),
			 "DELETE FROM mq_queue WHERE id IN (SELECT id FROM mq_queue ORDER BY id LIMIT %d "
			 "FOR UPDATE SKIP LOCKED) RETURNING id, payload", batch);
	drain(ks, n, sql, expected, "queue");
	if (atol(exec1(ks[0].c, "SELECT count(*) FROM mq_queue")) != 0)
		die("drain-queue: rows left in mq_queue");
	for (int i = 0; i < n; i++)
		PQfinish(ks[i].c);
	return 0;
}

/* ---- idle members and rebalances ---------------------------------------- */

/* CPU time of a process so far, in ms */
static double
cpu_ms(int pid)
{
	char		path[64],
				buf[1024];
	FILE	   *f;
	double		ms = -1;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
	if ((f = fopen(path, "r")) != NULL)
	{
		unsigned long long ns;

		if (fscanf(f, "%llu", &ns) == 1)
			ms = ns / 1e6;
		fclose(f);
		if (ms >= 0)
			return ms;
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL || fgets(buf, sizeof(buf), f) == NULL)
		die("cannot read %s", path);
	fclose(f);
	{
		/* fields after the ")" that ends comm: state is the 3rd, utime the 14th */
		char	   *p = strrchr(buf, ')');
		unsigned long ut,
					st;

		if (p == NULL ||
			sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
			die("cannot parse %s", path);
		return (ut + st) * 1000.0 / sysconf(_SC_CLK_TCK);
	}
}

/* voluntary + involuntary context switches of a process so far */
static long
switches(int pid)
{
	char		path[64],
				line[256];
	FILE	   *f;
	long		n = 0,
				v;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		die("cannot read %s", path);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1 ||
			sscanf(line, "nonvoluntary_ctxt_switches: %ld", &v) == 1)
			n += v;
	fclose(f);
	return n;
}

/* serve the pollers until `want` sessions of ours wait in mq.poll and none has a result pending */
static void
settle(Conn *ks, int n, PGconn *ctl, int want)
{
	char		q[256];
	double		give_up = now() + 60;

	snprintf(q, sizeof(q),
			 "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'mqbench_idle' "
			 "AND wait_event_type = 'Extension'");
	for (;;)
	{
		pump(ks, n, 5);
		if (atoi(exec1(ctl, q)) == want)
		{
			/* nothing arrived meanwhile either */
			long		before = 0,
						after = 0;

			for (int i = 0; i < n; i++)
				before += ks[i].completions;
			pump(ks, n, 20);
			for (int i = 0; i < n; i++)
				after += ks[i].completions;
			if (after == before && atoi(exec1(ctl, q)) == want)
				return;
		}
		if (now() > give_up)
			die("idle: the members did not all block within 60 s");
	}
}

/* CPU time, context switches and poll returns of our n backends over secs */
static void
idle_window(Conn *ks, int n, const int *pids, int secs, const char *label)
{
	double		cpu0 = 0,
				cpu1 = 0,
				worst = 0,
				t0,
				t1,
				tick;
	double	   *before = calloc(n, sizeof(double));
	long		sw0 = 0,
				sw1 = 0,
				c0 = 0,
				c1 = 0;
	int			trace = getenv("MQ_GROUPS_TRACE") != NULL;

	for (int i = 0; i < n; i++)
		c0 += ks[i].completions;
	t0 = now();
	tick = t0 + 1;
	for (int i = 0; i < n; i++)
	{
		cpu0 += (before[i] = cpu_ms(pids[i]));
		sw0 += switches(pids[i]);
	}
	while (now() < t0 + secs)
	{
		pump(ks, n, 100);
		if (trace && now() >= tick)
		{
			double		c = 0;
			long		sw = 0;

			for (int i = 0; i < n; i++)
			{
				c += cpu_ms(pids[i]);
				sw += switches(pids[i]);
			}
			fprintf(stderr, "%s +%.0f s: %.2f ms CPU, %ld context switches\n",
					label, now() - t0, c - cpu0, sw - sw0);
			tick += 1;
		}
	}
	for (int i = 0; i < n; i++)
	{
		double		after = cpu_ms(pids[i]);

		cpu1 += after;
		sw1 += switches(pids[i]);
		if (after - before[i] > worst)
			worst = after - before[i];
	}
	t1 = now();
	for (int i = 0; i < n; i++)
		c1 += ks[i].completions;
	printf("%s_seconds=%.1f\n%s_cpu_ms=%.2f\n%s_cpu_max_ms=%.2f\n%s_switches=%ld\n%s_returns=%ld\n",
		   label, t1 - t0, label, cpu1 - cpu0, label, worst, label, sw1 - sw0, label, c1 - c0);
	free(before);
}

static double
timed(Conn *ks, int n, Conn *k, const char *sql)
{
	double		t0 = now();

	send_q(k, sql);
	while (k->busy)
		pump(ks, n, 1000);
	return (k->done_at - t0) * 1000;
}

static int
idle(const char *conninfo, const char *group, const char *topic,
	 int n, int cycles, int secs, int quiet)
{
	Conn	   *ks = calloc(n, sizeof(Conn));
	Conn	   *last = &ks[n - 1];
	PGconn	   *ctl;
	char		sub[512],
				unsub[256],
				pollq[256],
				q[256];
	double	   *join = calloc(cycles + 1, sizeof(double));
	double	   *leave = calloc(cycles + 1, sizeof(double));
	int		   *pids = calloc(n, sizeof(int));
	PGresult   *r;

	if (n < 2 || n > 500)
		die("2 to 500 members");
	ctl = connect_db(conninfo, "mqbench_control");
	snprintf(sub, sizeof(sub),
			 "SELECT mq.subscribe('%s', ARRAY['%s'], config => '{\"session.timeout.ms\": 300000}')",
			 group, topic);
	snprintf(unsub, sizeof(unsub), "SELECT mq.unsubscribe('%s')", group);
	snprintf(pollq, sizeof(pollq), "SELECT * FROM mq.poll('%s', 500, 60000)", group);
	for (int i = 0; i < n; i++)
	{
		conn_open(&ks[i], conninfo, "mqbench_idle");
		if (i < n - 1)
			exec1(ks[i].c, sub);
	}
	/* all but the last poll for ever (a poll that returns is sent again) */
	for (int i = 0; i < n - 1; i++)
	{
		ks[i].repeat = 1;
		send_q(&ks[i], pollq);
	}
	for (int c = 0; c <= cycles; c++)
	{
		settle(ks, n, ctl, n - 1);
		join[c] = timed(ks, n, last, sub);
		if (c == cycles)
			break;
		settle(ks, n, ctl, n - 1);
		leave[c] = timed(ks, n, last, unsub);
	}
	snprintf(q, sizeof(q), "SELECT count(*) FROM mq.group_member WHERE group_id = '%s'", group);
	if (atoi(exec1(ctl, q)) != n)
		die("idle: the group has %s members, expected %d", exec1(ctl, q), n);
	snprintf(q, sizeof(q),
			 "SELECT count(*) FROM mq.group_assignment WHERE group_id = '%s'", group);
	printf("rebalance_partitions=%s\nrebalance_members=%d\n", exec1(ctl, q), n);
	qsort(join, cycles + 1, sizeof(double), cmp_double);
	qsort(leave, cycles, sizeof(double), cmp_double);
	printf("join_p50_ms=%.1f\njoin_max_ms=%.1f\n", quantile(join, cycles + 1, 0.5), join[cycles]);
	printf("leave_p50_ms=%.1f\nleave_max_ms=%.1f\n", quantile(leave, cycles, 0.5), leave[cycles - 1]);

	/* now all n poll, and sit there */
	last->repeat = 1;
	send_q(last, pollq);
	settle(ks, n, ctl, n);
	pump(ks, n, 1000);
	settle(ks, n, ctl, n);
	/* their backends, as pg_stat_activity of this cluster lists them */
	r = PQexec(ctl, "SELECT pid FROM pg_stat_activity WHERE application_name = 'mqbench_idle' ORDER BY pid");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != n)
		die("idle: pg_stat_activity lists %d mqbench_idle backends, expected %d", PQntuples(r), n);
	for (int i = 0; i < n; i++)
		pids[i] = atoi(PQgetvalue(r, i, 0));
	PQclear(r);
	for (int i = 0; i < n; i++)
	{
		int			ours = 0;

		for (int j = 0; j < n; j++)
			ours |= (ks[j].pid == pids[i]);
		if (!ours)
			die("idle: backend %d is not one of ours", pids[i]);
	}
	/*
	 * The first QUIET seconds are left out of the figure: a backend that
	 * went idle between two queries less than a second after its last
	 * statistics flush armed PostgreSQL's 10 s idle-stats timer, and since
	 * PostgreSQL 14 disabling a timeout leaves the interval timer running,
	 * so that SIGALRM still comes, during the next query, and its handler
	 * sets the latch: one spurious wakeup per such backend, within 10 s of
	 * the polls the set-up made in quick succession.  A member in a steady
	 * state (polls far apart) has none.  Both figures are printed.
	 */
	idle_window(ks, n, pids, quiet, "idle_first");
	idle_window(ks, n, pids, secs, "idle");

	/*
	 * Done: cancel the polls (a backend blocked in mq.poll would not notice
	 * its client leaving until the poll ends), disconnect, and wait for the
	 * backends to be gone (each leaves the group on its way out).
	 */
	for (int i = 0; i < n; i++)
	{
		PGcancel   *cc = PQgetCancel(ks[i].c);
		char		err[256];

		ks[i].repeat = 0;
		ks[i].canceled = 1;
		if (cc == NULL || !PQcancel(cc, err, sizeof(err)))
			die("cancel: %s", err);
		PQfreeCancel(cc);
	}
	for (;;)
	{
		int			busy = 0;

		for (int i = 0; i < n; i++)
			busy |= ks[i].busy;
		if (!busy)
			break;
		pump(ks, n, 1000);
	}
	{
		double		t0 = now();

		for (int i = 0; i < n; i++)
			PQfinish(ks[i].c);
		while (atoi(exec1(ctl, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'mqbench_idle'")) > 0)
		{
			if (now() > t0 + 120)
				die("idle: the members' backends did not exit within 120 s");
			usleep(50000);
		}
		printf("all_leave_seconds=%.1f\n", now() - t0);
	}
	PQfinish(ctl);
	return 0;
}

int
main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	bench_prog = "groups";
	if (argc == 4 && strcmp(argv[1], "latency") == 0)
		return latency(argv[2], atoi(argv[3]));
	if (argc == 8 && strcmp(argv[1], "drain-group") == 0)
		return drain_group(argv[2], argv[3], argv[4], atoi(argv[5]), atoi(argv[6]), atol(argv[7]));
	if (argc == 6 && strcmp(argv[1], "drain-queue") == 0)
		return drain_queue(argv[2], atoi(argv[3]), atoi(argv[4]), atol(argv[5]));
	if (argc == 9 && strcmp(argv[1], "idle") == 0)
		return idle(argv[2], argv[3], argv[4], atoi(argv[5]), atoi(argv[6]), atoi(argv[7]),
					atoi(argv[8]));
	fprintf(stderr,
			"usage: groups latency CONNINFO N\n"
			"       groups drain-group CONNINFO GROUP TOPIC CONSUMERS BATCH EXPECTED\n"
			"       groups drain-queue CONNINFO CONSUMERS BATCH EXPECTED\n"
			"       groups idle CONNINFO GROUP TOPIC MEMBERS CYCLES SECONDS QUIET\n");
	return 2;
}
