/*
 * bench/ops.c: the coordination soak and the produce-under-retention
 * measurements of scripts/bench.sh, a small libpq client (built by the bench
 * script with gcc).  One process, one thread: every connection is driven
 * asynchronously from one poll() loop, so nothing is forked and nothing
 * outlives it.
 *
 *   ops soak CONNINFO SESSIONS SECONDS
 *       SESSIONS slots, each a session that creates an ephemeral node
 *       /soak/nNNNNNN-sSS (a new path per session) and LISTENs on the
 *       channel of /soak (a membership watch: every member sees the others
 *       come and go).  Each lives 0.2 to 2 s, then is killed, and 0 to 0.2 s
 *       later a new session takes its slot; for SECONDS.  Killed one of three
 *       ways, at random: the socket reset (SO_LINGER 0 and close: what the
 *       kernel does for a crashed client), the socket shut down (FIN, no
 *       Terminate message: a client that exits without closing), or
 *       pg_terminate_backend from a control session.
 *       A separate watcher session LISTENs on each node's channel before the
 *       node's session connects (and UNLISTENs after its deletion), and on
 *       /soak's; every 'deleted' notification is matched to its node, with
 *       the pid of the backend that sent it (the dying session itself, or a
 *       sweep in another one) and the time from the kill.
 *       After SECONDS the killing stops; once every slot lives again and
 *       every killed node's deletion was notified (or 20 s passed), the
 *       nodes under /soak are compared with pg_stat_activity (orphans: a
 *       node whose (owner_pid, owner_start) is no live backend) and with the
 *       slots; then all sessions are killed at once and /soak must end
 *       empty, every deletion notified.
 *   ops produce CONNINFO TOPIC SECONDS WARMUP SLOWFILE
 *       one session producing one 100-byte record per call (autocommit,
 *       prepared) to TOPIC for SECONDS after WARMUP seconds of the same,
 *       untimed; the latency
 *       of every call on the client's monotonic clock.  Calls slower than
 *       10 x the median go to SLOWFILE as "start end ms" (start and end in
 *       Unix seconds, to compare with the server log's %n).
 *
 * Prints KEY=VALUE lines on stdout; any error ends it with status 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "bench_util.h"




static double
urand(double lo, double hi)
{
	return lo + (hi - lo) * (rand() / (RAND_MAX + 1.0));
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

	if (n == 0)
		return 0;
	return v[i < 0 ? 0 : (i >= n ? n - 1 : i)];
}

static void
quiet_notices(void *arg, const char *msg)
{
	(void) arg;
	(void) msg;
}

/* connect_db, with the server's notices silenced */
static PGconn *
connect_quiet(const char *conninfo, const char *appname)
{
	PGconn	   *c = connect_db(conninfo, appname);

	PQsetNoticeProcessor(c, quiet_notices, NULL);
	return c;
}

static PGresult *
exec_ok(PGconn *c, const char *sql)
{
	PGresult   *r = PQexec(c, sql);

	if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
		die("%s: %s", sql, PQerrorMessage(c));
	return r;
}

/* ---- soak --------------------------------------------------------------- */

enum
{
	S_IDLE,						/* no session; a new one starts at `at` */
	S_LISTEN,					/* waiting for the watcher's LISTEN */
	S_CONNECT,					/* connecting */
	S_CREATE,					/* node_create + LISTEN in flight */
	S_ALIVE,					/* holds its node; killed at `at` */
	S_DYING						/* pg_terminate_backend sent, waiting for EOF */
};

enum
{
	K_RST, K_FIN, K_TERM, K_MODES
};

typedef struct
{
	int			state;
	PGconn	   *c;
	short		want;			/* POLLIN / POLLOUT while connecting */
	int			node;			/* its current node */
	double		at;
} Slot;

typedef struct
{
	int			slot;
	int			owner_pid;
	int			created;		/* node_create returned */
	int			killed;
	int			mode;
	double		t_kill;
	int			created_seen;	/* 'created' notifications on its channel */
	int			deleted_seen;	/* 'deleted' notifications on its channel */
	int			deleted_by;		/* be_pid of the first */
	double		t_deleted;
	int			children_deleted;	/* 'children' ... 'deleted' on /soak's */
	int			final;			/* killed in the final kill-all */
} Node;

static Node *nodes;
static int	nnodes,
			maxnodes;
static Slot *slots;
static int	nslots;
static const char *g_conninfo;

/* an asynchronous session that runs queued statements, several per round trip */
typedef struct
{
	PGconn	   *c;
	char	  **q;				/* queued statements */
	int		   *tag;			/* a node index to report when done, or -1 */
	int			n,
				cap,
				sent;			/* q[0 .. sent) are in flight */
	int			pending_results;
} Queue;

static Queue watcher,
			control;

static void
q_push(Queue *w, const char *sql, int tag)
{
	if (w->n == w->cap)
	{
		w->cap = w->cap ? 2 * w->cap : 64;
		w->q = realloc(w->q, w->cap * sizeof(char *));
		w->tag = realloc(w->tag, w->cap * sizeof(int));
	}
	w->q[w->n] = strdup(sql);
	w->tag[w->n++] = tag;
}

static void
q_send(Queue *w)
{
	size_t		len = 1;
	char	   *buf;

	if (w->sent > 0 || w->n == 0)
		return;
	for (int i = 0; i < w->n; i++)
		len += strlen(w->q[i]) + 2;
	buf = malloc(len);
	buf[0] = '\0';
	for (int i = 0; i < w->n; i++)
	{
		strcat(buf, w->q[i]);
		strcat(buf, ";");
	}
	if (!PQsendQuery(w->c, buf))
		die("send %s: %s", buf, PQerrorMessage(w->c));
	free(buf);
	w->sent = w->n;
}

static void node_listened(int k);
static void handle_notifies(PGconn *c, int from_watcher);

/* read what arrived on a queue session; when its batch completes, report its tags */
static void
q_service(Queue *w)
{
	if (!PQconsumeInput(w->c))
		die("read: %s", PQerrorMessage(w->c));
	while (w->sent > 0 && !PQisBusy(w->c))
	{
		PGresult   *r = PQgetResult(w->c);

		if (r == NULL)
		{
			int			done = w->sent;

			for (int i = 0; i < done; i++)
			{
				if (w->tag[i] >= 0)
					node_listened(w->tag[i]);
				free(w->q[i]);
			}
			memmove(w->q, w->q + done, (w->n - done) * sizeof(char *));
			memmove(w->tag, w->tag + done, (w->n - done) * sizeof(int));
			w->n -= done;
			w->sent = 0;
			break;
		}
		if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
			die("%s: %s", w->q[0], PQresultErrorMessage(r));
		/* pg_terminate_backend must have found its backend */
		if (PQresultStatus(r) == PGRES_TUPLES_OK)
			for (int f = 0; f < PQnfields(r); f++)
				if (PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, f), "t") != 0)
					die("pg_terminate_backend did not find a session");
		PQclear(r);
	}
	handle_notifies(w->c, w == &watcher);
}

static int
new_node(int slot)
{
	Node	   *n;

	if (nnodes == maxnodes)
	{
		maxnodes = maxnodes ? 2 * maxnodes : 4096;
		nodes = realloc(nodes, maxnodes * sizeof(Node));
	}
	n = &nodes[nnodes];
	memset(n, 0, sizeof(*n));
	n->slot = slot;
	n->mode = -1;
	return nnodes++;
}

static void
node_path(int k, char *buf, size_t size)
{
	snprintf(buf, size, "/soak/n%06d-s%02d", k, nodes[k].slot);
}

static long notifies_to_sessions,
			unexpected_deletes,
			duplicate_deletes,
			children_deleted;

/* the watcher LISTENs on node k's channel: its session may connect */
static void
node_listened(int k)
{
	Slot	   *s = &slots[nodes[k].slot];

	if (s->state != S_LISTEN || s->node != k)
		return;
	s->c = PQconnectStart(g_conninfo);
	if (s->c == NULL || PQstatus(s->c) == CONNECTION_BAD)
		die("connect: %s", s->c ? PQerrorMessage(s->c) : "out of memory");
	s->want = POLLOUT;
	s->state = S_CONNECT;
}

static void
handle_notifies(PGconn *c, int from_watcher)
{
	PGnotify   *nt;

	while ((nt = PQnotifies(c)) != NULL)
	{
		int			k;

		if (!from_watcher)
			notifies_to_sessions++;
		else if (strcmp(nt->relname, "mq.node./soak") == 0)
		{
			const char *child = strstr(nt->extra, "\"child\" : \"/soak/n");

			if (strstr(nt->extra, "\"child_event\" : \"deleted\"") && child &&
				sscanf(child + strlen("\"child\" : \"/soak/n"), "%d", &k) == 1 &&
				k >= 0 && k < nnodes)
			{
				nodes[k].children_deleted++;
				children_deleted++;
			}
		}
		else if (sscanf(nt->relname, "mq.node./soak/n%d", &k) == 1 && k >= 0 && k < nnodes)
		{
			Node	   *n = &nodes[k];

			if (strstr(nt->extra, "\"event\" : \"created\""))
				n->created_seen++;
			else if (strstr(nt->extra, "\"event\" : \"deleted\""))
			{
				char		sql[128];

				if (n->deleted_seen++ > 0)
					duplicate_deletes++;
				else
				{
					n->deleted_by = nt->be_pid;
					n->t_deleted = now();
					if (!n->killed)
						unexpected_deletes++;
					snprintf(sql, sizeof(sql), "UNLISTEN \"%s\"", nt->relname);
					q_push(&watcher, sql, -1);
				}
			}
		}
		PQfreemem(nt);
	}
}

static void
slot_start(int i)
{
	Slot	   *s = &slots[i];
	char		path[64],
				sql[128];
	int			k = new_node(i);

	node_path(k, path, sizeof(path));
	snprintf(sql, sizeof(sql), "LISTEN \"mq.node.%s\"", path);
	q_push(&watcher, sql, k);
	s->node = k;
	s->state = S_LISTEN;
}

static void
slot_gone(Slot *s, double restart_in)
{
	PQfinish(s->c);
	s->c = NULL;
	s->state = S_IDLE;
	s->at = now() + restart_in;
}

static int	devnull = -1;

static void
slot_kill(int i, int mode, double restart_in)
{
	Slot	   *s = &slots[i];
	Node	   *n = &nodes[s->node];
	int			fd = PQsocket(s->c);

	n->killed = 1;
	n->mode = mode;
	n->t_kill = now();
	if (mode == K_RST)
	{
		/* an abortive close: RST, as for a crashed client.  dup2 closes the
		 * socket and leaves the descriptor pointing at /dev/null, so that
		 * PQfinish's Terminate message goes nowhere */
		struct linger l = {1, 0};

		if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) != 0)
			die("SO_LINGER: %s", strerror(errno));
		if (dup2(devnull, fd) < 0)
			die("dup2: %s", strerror(errno));
		slot_gone(s, restart_in);
	}
	else if (mode == K_FIN)
	{
		/* FIN without a Terminate message: the Terminate PQfinish tries fails */
		if (shutdown(fd, SHUT_RDWR) != 0)
			die("shutdown: %s", strerror(errno));
		slot_gone(s, restart_in);
	}
	else
	{
		char		sql[64];

		snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)", n->owner_pid);
		q_push(&control, sql, -1);
		s->state = S_DYING;
		s->at = restart_in;		/* kept until the connection ends */
	}
}

/* serve one slot's socket */
static void
slot_service(int i, double t_end_life_lo, double t_end_life_hi)
{
	Slot	   *s = &slots[i];

	if (s->state == S_CONNECT)
	{
		PostgresPollingStatusType st = PQconnectPoll(s->c);

		if (st == PGRES_POLLING_FAILED)
			die("connect: %s", PQerrorMessage(s->c));
		if (st == PGRES_POLLING_READING)
			s->want = POLLIN;
		else if (st == PGRES_POLLING_WRITING)
			s->want = POLLOUT;
		else if (st == PGRES_POLLING_OK)
		{
			char		path[64],
						sql[256];

			PQsetNoticeProcessor(s->c, quiet_notices, NULL);
			nodes[s->node].owner_pid = PQbackendPID(s->c);
			node_path(s->node, path, sizeof(path));
			snprintf(sql, sizeof(sql),
					 "SELECT mq.node_create('%s', 'slot %d'::text, ephemeral => true); "
					 "LISTEN \"mq.node./soak\"", path, i);
			if (!PQsendQuery(s->c, sql))
				die("send %s: %s", sql, PQerrorMessage(s->c));
			s->state = S_CREATE;
		}
		return;
	}
	if (!PQconsumeInput(s->c))
	{
		if (s->state == S_DYING)
		{
			slot_gone(s, s->at);
			return;
		}
		die("session %d lost: %s", nodes[s->node].owner_pid, PQerrorMessage(s->c));
	}
	if (s->state == S_CREATE)
		while (!PQisBusy(s->c))
		{
			PGresult   *r = PQgetResult(s->c);

			if (r == NULL)
			{
				nodes[s->node].created = 1;
				s->state = S_ALIVE;
				s->at = now() + urand(t_end_life_lo, t_end_life_hi);
				break;
			}
			if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
				die("node_create: %s", PQresultErrorMessage(r));
			PQclear(r);
		}
	handle_notifies(s->c, 0);
	if (s->state == S_DYING && PQstatus(s->c) == CONNECTION_BAD)
		slot_gone(s, s->at);
}

/* one round of the event loop: wait up to timeout_ms, serve what arrived */
static void
soak_pump(int timeout_ms)
{
	struct pollfd *fds = calloc(nslots + 2, sizeof(struct pollfd));
	int		   *idx = calloc(nslots + 2, sizeof(int));
	int			m = 0;

	q_send(&watcher);
	q_send(&control);
	fds[m].fd = PQsocket(watcher.c);
	fds[m].events = POLLIN;
	idx[m++] = -1;
	fds[m].fd = PQsocket(control.c);
	fds[m].events = POLLIN;
	idx[m++] = -2;
	for (int i = 0; i < nslots; i++)
		if (slots[i].state >= S_CONNECT)
		{
			fds[m].fd = PQsocket(slots[i].c);
			fds[m].events = slots[i].state == S_CONNECT ? slots[i].want : POLLIN;
			idx[m++] = i;
		}
	if (poll(fds, m, timeout_ms) < 0 && errno != EINTR)
		die("poll: %s", strerror(errno));
	for (int j = 0; j < m; j++)
	{
		if (!fds[j].revents)
			continue;
		if (idx[j] == -1)
			q_service(&watcher);
		else if (idx[j] == -2)
			q_service(&control);
		else
			slot_service(idx[j], 0.2, 2.0);
	}
	free(fds);
	free(idx);
}

static int
all_deletions_seen(void)
{
	for (int k = 0; k < nnodes; k++)
		if (nodes[k].killed && !nodes[k].deleted_seen)
			return 0;
	return 1;
}

static int
soak(const char *conninfo, int n, int secs)
{
	char		ci[1024];
	double		t0,
				t_end,
				give_up,
				t_final = 0;
	long		kills[K_MODES] = {0},
				created = 0,
				created_seen = 0,
				deleted_seen = 0,
				by_owner = 0,
				missing = 0,
				killed = 0,
				orphans_mid = 0,
				strays_mid = 0,
				absent_mid = 0,
				nodes_mid = 0,
				orphans_end,
				children_left;
	double	   *delay;
	int			nd = 0;
	double		final_max = 0;
	PGresult   *r;

	if (n < 1 || n > 100)
		die("1 to 100 sessions");
	signal(SIGPIPE, SIG_IGN);
	srand(20240601);
	devnull = open("/dev/null", O_RDWR);
	if (devnull < 0)
		die("/dev/null: %s", strerror(errno));
	snprintf(ci, sizeof(ci), "%s application_name=mqbench_soak", conninfo);
	g_conninfo = ci;

	watcher.c = connect_quiet(conninfo, "mqbench_soak_watcher");
	control.c = connect_quiet(conninfo, "mqbench_soak_control");
	PQclear(exec_ok(control.c, "SELECT mq.node_create_all('/soak')"));
	PQclear(exec_ok(watcher.c, "LISTEN \"mq.node./soak\""));

	nslots = n;
	slots = calloc(n, sizeof(Slot));
	t0 = now();
	for (int i = 0; i < n; i++)
		slots[i].at = t0 + urand(0, 0.5);	/* staggered start */
	t_end = t0 + secs;

	/* churn: start, kill, restart */
	while (now() < t_end)
	{
		double		t = now();

		for (int i = 0; i < n; i++)
		{
			if (slots[i].state == S_IDLE && t >= slots[i].at)
				slot_start(i);
			else if (slots[i].state == S_ALIVE && t >= slots[i].at)
			{
				int			mode = rand() % K_MODES;

				kills[mode]++;
				slot_kill(i, mode, urand(0, 0.2));
			}
		}
		soak_pump(5);
	}

	/* settle: no more kills; every slot lives again, every killed node's deletion is notified */
	give_up = now() + 20;
	for (;;)
	{
		int			alive = 0;

		for (int i = 0; i < n; i++)
		{
			if (slots[i].state == S_IDLE)
				slot_start(i);
			alive += slots[i].state == S_ALIVE;
		}
		if (alive == n && all_deletions_seen() && watcher.n == 0 && control.n == 0)
			break;
		if (now() > give_up)
			break;
		soak_pump(5);
	}
	/* compare the nodes under /soak with pg_stat_activity and with the slots */
	r = exec_ok(control.c,
				"SELECT n.path, n.owner_pid, a.pid IS NOT NULL FROM mq.node n "
				"LEFT JOIN pg_stat_activity a ON a.pid = n.owner_pid AND a.backend_start = n.owner_start "
				"WHERE n.parent = '/soak'");
	nodes_mid = PQntuples(r);
	for (int j = 0; j < PQntuples(r); j++)
	{
		int			k = -1,
					mine = 0;

		if (strcmp(PQgetvalue(r, j, 2), "t") != 0)
			orphans_mid++;
		if (sscanf(PQgetvalue(r, j, 0), "/soak/n%d", &k) == 1 && k >= 0 && k < nnodes)
		{
			Slot	   *s = &slots[nodes[k].slot];

			mine = s->state == S_ALIVE && s->node == k && nodes[k].owner_pid == atoi(PQgetvalue(r, j, 1));
		}
		if (!mine)
			strays_mid++;
	}
	PQclear(r);
	absent_mid = n - (nodes_mid - strays_mid);

	/* the end: kill all at once, in turn each way */
	t_final = now();
	for (int i = 0; i < n; i++)
		if (slots[i].state == S_ALIVE)
		{
			nodes[slots[i].node].final = 1;
			kills[i % K_MODES]++;
			slot_kill(i, i % K_MODES, 0);
		}
	give_up = now() + 20;
	for (;;)
	{
		int			gone = 0;

		for (int i = 0; i < n; i++)
			gone += slots[i].state == S_IDLE;
		if (gone == n && all_deletions_seen() && watcher.n == 0 && control.n == 0)
			break;
		if (now() > give_up)
			break;
		soak_pump(5);
	}
	r = exec_ok(control.c,
				"SELECT (SELECT count(*) FROM mq.node WHERE parent = '/soak'), "
				"(SELECT num_children FROM mq.node WHERE path = '/soak')");
	orphans_end = atol(PQgetvalue(r, 0, 0));
	children_left = atol(PQgetvalue(r, 0, 1));
	PQclear(r);

	delay = calloc(nnodes + 1, sizeof(double));
	for (int k = 0; k < nnodes; k++)
	{
		Node	   *x = &nodes[k];

		created += x->created;
		created_seen += x->created_seen > 0;
		if (x->killed)
		{
			killed++;
			if (!x->deleted_seen)
				missing++;
		}
		if (x->deleted_seen)
		{
			deleted_seen++;
			by_owner += x->deleted_by == x->owner_pid;
			if (x->killed && !x->final)
				delay[nd++] = (x->t_deleted - x->t_kill) * 1000;
			if (x->killed && x->final && (x->t_deleted - t_final) * 1000 > final_max)
				final_max = (x->t_deleted - t_final) * 1000;
		}
	}
	qsort(delay, nd, sizeof(double), cmp_double);
	printf("soak_sessions=%d\nsoak_seconds=%d\n", n, secs);
	printf("soak_created=%ld\nsoak_created_notified=%ld\n", created, created_seen);
	printf("soak_killed=%ld\nsoak_killed_rst=%ld\nsoak_killed_fin=%ld\nsoak_killed_terminate=%ld\n",
		   killed, kills[K_RST], kills[K_FIN], kills[K_TERM]);
	printf("soak_deleted_notified=%ld\nsoak_deleted_by_owner=%ld\nsoak_missing=%ld\n",
		   deleted_seen, by_owner, missing);
	printf("soak_unexpected=%ld\nsoak_duplicates=%ld\nsoak_children_deleted=%ld\n",
		   unexpected_deletes, duplicate_deletes, children_deleted);
	printf("soak_nodes_mid=%ld\nsoak_orphans_mid=%ld\nsoak_strays_mid=%ld\nsoak_absent_mid=%ld\n",
		   nodes_mid, orphans_mid, strays_mid, absent_mid);
	printf("soak_orphans_end=%ld\nsoak_children_left=%ld\n", orphans_end, children_left);
	printf("soak_delay_n=%d\nsoak_delay_p50_ms=%.1f\nsoak_delay_p99_ms=%.1f\nsoak_delay_max_ms=%.1f\n",
		   nd, quantile(delay, nd, 0.5), quantile(delay, nd, 0.99), nd ? delay[nd - 1] : 0);
	printf("soak_final_max_ms=%.1f\nsoak_session_notifies=%ld\n", final_max, notifies_to_sessions);

	/* no backend of ours outlives us */
	if (orphans_end == 0)
		PQclear(exec_ok(control.c, "SELECT mq.node_delete('/soak')"));
	PQfinish(watcher.c);
	give_up = now() + 30;
	while (atoi(PQgetvalue(r = exec_ok(control.c,
									   "SELECT count(*) FROM pg_stat_activity "
									   "WHERE application_name LIKE 'mqbench_soak%' AND pid <> pg_backend_pid()"),
						   0, 0)) > 0)
	{
		PQclear(r);
		if (now() > give_up)
			die("soak: sessions still there 30 s after the end");
		usleep(50000);
	}
	PQclear(r);
	PQfinish(control.c);
	return 0;
}

/* ---- produce latency ------------------------------------------------------ */

static PGresult *
exec_prepared(PGconn *c, const char *const *params)
{
	PGresult   *r = PQexecPrepared(c, "p", 2, params, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		die("produce: %s", PQerrorMessage(c));
	return r;
}

static int
produce(const char *conninfo, const char *topic, int secs, int warmup, const char *slowfile)
{
	PGconn	   *c = connect_quiet(conninfo, "mqbench_produce");
	char		value[101];
	const char *params[2];
	double	   *lat,
			   *start,
			   *sorted,
				t_end,
				w0,
				w1,
				med,
				slow_t = 0;
	int			n = 0,
				cap = 1 << 16,
				slow = 0;
	FILE	   *f;
	PGresult   *r;

	memset(value, 'x', 100);
	value[100] = '\0';
	params[0] = topic;
	params[1] = value;
	r = PQprepare(c, "p", "SELECT 1 FROM mq.produce($1::text, $2::bytea)", 2, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		die("prepare: %s", PQerrorMessage(c));
	PQclear(r);
	lat = malloc(cap * sizeof(double));
	start = malloc(cap * sizeof(double));
	t_end = now() + warmup;		/* untimed */
	while (now() < t_end)
		PQclear(exec_prepared(c, params));
	t_end = now() + secs;
	w0 = wall();
	while (now() < t_end)
	{
		double		t0,
					ws;

		ws = wall();
		t0 = now();
		r = exec_prepared(c, params);
		PQclear(r);
		if (n == cap)
		{
			cap *= 2;
			lat = realloc(lat, cap * sizeof(double));
			start = realloc(start, cap * sizeof(double));
		}
		lat[n] = (now() - t0) * 1000;
		start[n++] = ws;
	}
	w1 = wall();
	sorted = malloc(n * sizeof(double));
	memcpy(sorted, lat, n * sizeof(double));
	qsort(sorted, n, sizeof(double), cmp_double);
	med = quantile(sorted, n, 0.5);
	if ((f = fopen(slowfile, "w")) == NULL)
		die("%s: %s", slowfile, strerror(errno));
	for (int i = 0; i < n; i++)
		if (lat[i] > 10 * med)
		{
			slow++;
			slow_t += lat[i];
			fprintf(f, "%.6f %.6f %.3f\n", start[i], start[i] + lat[i] / 1000, lat[i]);
		}
	fclose(f);
	printf("n=%d\nseconds=%.1f\nper_s=%.0f\n", n, w1 - w0, n / (w1 - w0));
	printf("p50_ms=%.3f\np99_ms=%.3f\np999_ms=%.3f\nmax_ms=%.3f\nratio=%.1f\n",
		   med, quantile(sorted, n, 0.99), quantile(sorted, n, 0.999), sorted[n - 1],
		   sorted[n - 1] / med);
	printf("slow=%d\nslow_ms=%.1f\nstart=%.6f\nend=%.6f\n", slow, slow_t, w0, w1);
	PQfinish(c);
	return 0;
}

int
main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	bench_prog = "ops";
	if (argc == 5 && strcmp(argv[1], "soak") == 0)
		return soak(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc == 7 && strcmp(argv[1], "produce") == 0)
		return produce(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), argv[6]);
	fprintf(stderr,
			"usage: ops soak CONNINFO SESSIONS SECONDS\n"
			"       ops produce CONNINFO TOPIC SECONDS WARMUP SLOWFILE\n");
	return 2;
}
