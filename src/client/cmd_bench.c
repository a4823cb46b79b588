/*-------------------------------------------------------------------------
 *
 * src/client/cmd_bench.c
 *		mqctl bench produce|consume|latency: a load generator.
 *
 *	produce   N connections (threads) call mq.produce_batch with records of
 *			  a given size, for a duration or a count; throughput and the
 *			  latency of each call.
 *	consume   N connections read the topic's partitions (split among them)
 *			  with mq.fetch from the log start up to the end found at the
 *			  start; throughput and the latency of each fetch.
 *	latency   end to end: one connection produces records (one per call, at
 *			  a rate) carrying their send time, another consumes them as a
 *			  group member with blocking polls; latency from the produce
 *			  call to the record's arrival at the consumer.
 *
 * Latencies go to log-linear histograms (about 0.2% resolution, fixed
 * size), so memory does not grow with the run.  A progress line is
 * rewritten every second when stdout is a terminal, and never otherwise.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mqctl.h"

#define BYTEAARRAYOID	1001
#define LATENCY_MAGIC	"mqctlLAT"

static const char *bench_help =
"mqctl bench - a load generator for mqext\n"
"\n"
"Usage:\n"
"  mqctl bench produce [OPTIONS]\n"
"  mqctl bench consume [OPTIONS]\n"
"  mqctl bench latency [OPTIONS]\n"
"\n"
"produce: CONNECTIONS clients call mq.produce_batch with BATCH records of SIZE\n"
"bytes (null keys) for DURATION seconds or COUNT records in all.\n"
"consume: CONNECTIONS clients read the topic's partitions (split among them)\n"
"with mq.fetch of BATCH records, from the log start to the end at the start\n"
"(or COUNT records, or DURATION).\n"
"latency: one client produces RATE records a second, one a call, each holding\n"
"its send time; another consumes them as a group member (blocking mq.poll);\n"
"prints the latency from produce to consume.\n"
"\n"
"Each prints records/s, MB/s and the p50/p99/p999/max latency (of a call for\n"
"produce and consume, end to end for latency), with a live progress line\n"
"when stdout is a terminal.\n"
"\n"
"Options:\n"
"  -t, --topic=TOPIC       topic (default mqctl-bench; created if missing)\n"
"  -P, --partitions=N      partitions when it is created (default 4)\n"
"  -c, --connections=N     client connections, one thread each (default 4;\n"
"                          latency: always one producer and one consumer)\n"
"  -s, --size=BYTES        value size (default 100)\n"
"  -b, --batch=N           records per call (default 100 for produce, 1000\n"
"                          for consume)\n"
"  -T, --duration=SECONDS  how long (default 10)\n"
"  -n, --count=N           how many records in all (instead of a duration)\n"
"  -r, --rate=N            latency: records per second (default 100)\n"
COMMON_HELP;

/* ---------------------------------------------------------------------
 * Histograms: exact below 1024 us, then 512 sub-buckets per power of 2
 * --------------------------------------------------------------------- */

#define HIST_SUB	512
#define HIST_N		(2 * HIST_SUB + 54 * HIST_SUB)

typedef struct Hist
{
	int64_t		counts[HIST_N];
	int64_t		n;
	int64_t		max;
} Hist;

static int
hist_index(int64_t v)
{
	int			e;

	if (v < 0)
		v = 0;
	if (v < 2 * HIST_SUB)
		return (int) v;
	e = 63 - __builtin_clzll((unsigned long long) v) - 9;
	return 2 * HIST_SUB + (e - 1) * HIST_SUB + (int) ((v >> e) - HIST_SUB);
}

static int64_t
hist_value(int i)
{
	int			e;
	int64_t		sub;

	if (i < 2 * HIST_SUB)
		return i;
	e = (i - 2 * HIST_SUB) / HIST_SUB + 1;
	sub = (i - 2 * HIST_SUB) % HIST_SUB + HIST_SUB;
	/* the middle of the bucket */
	return (sub << e) + ((int64_t) 1 << (e - 1));
}

static void
hist_add(Hist *h, int64_t v)
{
	int			i = hist_index(v);

	if (i >= HIST_N)
		i = HIST_N - 1;
	h->counts[i]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

static void
hist_merge(Hist *into, const Hist *from)
{
	for (int i = 0; i < HIST_N; i++)
		into->counts[i] += from->counts[i];
	into->n += from->n;
	if (from->max > into->max)
		into->max = from->max;
}

static double
hist_percentile_ms(const Hist *h, double p)
{
	int64_t		rank = (int64_t) (p * h->n);
	int64_t		seen = 0;

	if (h->n == 0)
		return 0;
	if (rank >= h->n)
		rank = h->n - 1;
	for (int i = 0; i < HIST_N; i++)
	{
		seen += h->counts[i];
		if (seen > rank)
		{
			int64_t		v = hist_value(i);

			return (v > h->max ? h->max : v) / 1000.0;
		}
	}
	return h->max / 1000.0;
}

/* ---------------------------------------------------------------------
 * Shared state of a run
 * --------------------------------------------------------------------- */

typedef enum
{
	BENCH_PRODUCE,
	BENCH_CONSUME,
	BENCH_LATENCY
} BenchKind;

typedef struct Bench
{
	BenchKind	kind;
	const char *topic;
	int			partitions;
	int			connections;
	int			size;
	int			batch;
	double		duration;
	long long	count;			/* -1: by duration */
	double		rate;
	int64_t		start;
	int64_t		deadline;
	/* counters, updated with atomics */
	int64_t		records;
	int64_t		bytes;
	int64_t		calls;
	int64_t		remaining;		/* records still to produce or read */
	volatile int stop;
	volatile int producer_done;
	volatile int consumer_ready;
	const char *error;			/* first error of a thread */
	pthread_mutex_t lock;
	Hist		hist;			/* merged at the end of each thread */
} Bench;

typedef struct Worker
{
	Bench	   *b;
	PGconn	   *conn;
	int			id;
	Hist	   *hist;
} Worker;

static void
bench_error(Bench *b, PGconn *conn, PGresult *res, const char *what)
{
	pthread_mutex_lock(&b->lock);
	if (b->error == NULL)
	{
		print_result_error(res, what);
		b->error = what;
	}
	b->stop = 1;
	pthread_mutex_unlock(&b->lock);
	(void) conn;
}

static bool
bench_over(Bench *b)
{
	return b->stop || interrupted ||
		(b->count < 0 && now_usec() >= b->deadline);
}

/* take up to n records from the remaining count; 0 when none are left */
static int
bench_take(Bench *b, int n)
{
	int64_t		left;

	if (b->count < 0)
		return n;
	left = __atomic_fetch_sub(&b->remaining, n, __ATOMIC_RELAXED);
	if (left <= 0)
		return 0;
	return left < n ? (int) left : n;
}

static void
bench_count(Bench *b, int64_t records, int64_t bytes)
{
	__atomic_fetch_add(&b->records, records, __ATOMIC_RELAXED);
	__atomic_fetch_add(&b->bytes, bytes, __ATOMIC_RELAXED);
	__atomic_fetch_add(&b->calls, 1, __ATOMIC_RELAXED);
}

static void
fill_payload(char *p, int len, unsigned seed)
{
	for (int i = 0; i < len; i++)
	{
		seed = seed * 1103515245 + 12345;
		p[i] = 'a' + (seed >> 16) % 26;
	}
}

/* ---------------------------------------------------------------------
 * produce
 * --------------------------------------------------------------------- */

static void *
produce_worker(void *arg)
{
	Worker	   *w = arg;
	Bench	   *b = w->b;
	Buf			arr;
	char	   *payload = xmalloc(b->size);
	const char *values[2];
	int			lengths[2];
	int			formats[2] = {0, 1};
	Oid			types[2] = {TEXTOID, BYTEAARRAYOID};
	int			built = -1;

	fill_payload(payload, b->size, 7 + w->id);
	buf_init(&arr);
	while (!bench_over(b))
	{
		int			n = bench_take(b, b->batch);
		int64_t		t0;
		PGresult   *res;

		if (n == 0)
			break;
		if (n != built)
		{
			/* binary bytea[] of n copies of the payload */
			buf_reset(&arr);
			buf_put_be32(&arr, 1);
			buf_put_be32(&arr, 0);
			buf_put_be32(&arr, BYTEAOID);
			buf_put_be32(&arr, (uint32_t) n);
			buf_put_be32(&arr, 1);
			for (int i = 0; i < n; i++)
			{
				buf_put_be32(&arr, (uint32_t) b->size);
				buf_append(&arr, payload, b->size);
			}
			built = n;
		}
		values[0] = b->topic;
		lengths[0] = 0;
		values[1] = arr.data;
		lengths[1] = (int) arr.len;
		t0 = now_usec();
		res = PQexecParams(w->conn, "SELECT count(*) FROM mq.produce_batch($1, $2)",
						   2, types, values, lengths, formats, 1);
		if (!result_ok(res))
		{
			bench_error(b, w->conn, res, "produce_batch");
			PQclear(res);
			break;
		}
		PQclear(res);
		hist_add(w->hist, now_usec() - t0);
		bench_count(b, n, (int64_t) n * b->size);
	}
	buf_free(&arr);
	free(payload);
	return NULL;
}

/* ---------------------------------------------------------------------
 * consume
 * --------------------------------------------------------------------- */

static void *
consume_worker(void *arg)
{
	Worker	   *w = arg;
	Bench	   *b = w->b;
	int			nmine = 0;
	int		   *parts = xmalloc(sizeof(int) * (b->partitions + 1));
	int64_t    *pos = xmalloc(sizeof(int64_t) * (b->partitions + 1));
	int64_t    *end = xmalloc(sizeof(int64_t) * (b->partitions + 1));
	char		pbuf[32];
	char		obuf[32];
	char		nbuf[32];
	const char *params[4];
	PGresult   *res;

	for (int p = w->id; p < b->partitions; p += b->connections)
	{
		snprintf(pbuf, sizeof(pbuf), "%d", p);
		params[0] = b->topic;
		params[1] = pbuf;
		res = PQexecParams(w->conn,
						   "SELECT mq.earliest_offset($1, $2::int), mq.latest_offset($1, $2::int)",
						   2, NULL, params, NULL, NULL, 0);
		if (!result_ok(res))
		{
			bench_error(b, w->conn, res, "latest_offset");
			PQclear(res);
			goto out;
		}
		parts[nmine] = p;
		pos[nmine] = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		end[nmine] = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
		nmine++;
		PQclear(res);
	}
	res = PQprepare(w->conn, "fetch",
					"SELECT \"offset\", octet_length(value) FROM mq.fetch($1, $2::int, $3::int8, $4::int)",
					4, NULL);
	if (!result_ok(res))
	{
		bench_error(b, w->conn, res, "prepare");
		PQclear(res);
		goto out;
	}
	PQclear(res);

	while (!bench_over(b))
	{
		bool		any = false;

		for (int i = 0; i < nmine && !bench_over(b); i++)
		{
			int			n;
			int64_t		t0;
			int64_t		bytes = 0;

			if (pos[i] >= end[i])
				continue;
			n = bench_take(b, b->batch);
			if (n == 0)
			{
				b->stop = 1;
				break;
			}
			any = true;
			snprintf(pbuf, sizeof(pbuf), "%d", parts[i]);
			snprintf(obuf, sizeof(obuf), "%lld", (long long) pos[i]);
			snprintf(nbuf, sizeof(nbuf), "%d", n);
			params[0] = b->topic;
			params[1] = pbuf;
			params[2] = obuf;
			params[3] = nbuf;
			t0 = now_usec();
			res = PQexecPrepared(w->conn, "fetch", 4, params, NULL, NULL, 1);
			if (!result_ok(res))
			{
				bench_error(b, w->conn, res, "fetch");
				PQclear(res);
				goto out;
			}
			hist_add(w->hist, now_usec() - t0);
			if (PQntuples(res) == 0)
				pos[i] = end[i];	/* nothing visible up to the end */
			else
				pos[i] = get_be64(PQgetvalue(res, PQntuples(res) - 1, 0)) + 1;
			for (int r = 0; r < PQntuples(res); r++)
				if (!PQgetisnull(res, r, 1))
					bytes += get_be32(PQgetvalue(res, r, 1));
			bench_count(b, PQntuples(res), bytes);
			PQclear(res);
		}
		if (!any)
			break;
	}
out:
	free(parts);
	free(pos);
	free(end);
	return NULL;
}

/* ---------------------------------------------------------------------
 * latency
 * --------------------------------------------------------------------- */

static void *
latency_producer(void *arg)
{
	Worker	   *w = arg;
	Bench	   *b = w->b;
	int			size = b->size < 16 ? 16 : b->size;
	char	   *payload = xmalloc(size);
	const char *values[2];
	int			lengths[2];
	int			formats[2] = {0, 1};
	Oid			types[2] = {TEXTOID, BYTEAOID};
	int64_t		interval = (int64_t) (1e6 / b->rate);
	int64_t		next;

	while (!b->consumer_ready && !bench_over(b))
		sleep_usec(1000);
	fill_payload(payload, size, 11);
	memcpy(payload + 8, LATENCY_MAGIC, 8);
	next = now_usec();
	b->start = next;
	if (b->count < 0)
		b->deadline = next + (int64_t) (b->duration * 1e6);
	while (!bench_over(b) && bench_take(b, 1) == 1)
	{
		int64_t		t0;
		PGresult   *res;

		t0 = now_usec();
		if (t0 < next)
		{
			sleep_usec(next - t0);
			if (bench_over(b))
				break;
		}
		next += interval;
		t0 = now_usec();
		for (int i = 0; i < 8; i++)
			payload[i] = (char) ((uint64_t) t0 >> (56 - 8 * i));
		values[0] = b->topic;
		lengths[0] = 0;
		values[1] = payload;
		lengths[1] = size;
		res = PQexecParams(w->conn, "SELECT 1 FROM mq.produce($1, $2)",
						   2, types, values, lengths, formats, 1);
		if (!result_ok(res))
		{
			bench_error(b, w->conn, res, "produce");
			PQclear(res);
			break;
		}
		PQclear(res);
		__atomic_fetch_add(&b->calls, 1, __ATOMIC_RELAXED);
	}
	b->producer_done = 1;
	free(payload);
	return NULL;
}

static void *
latency_consumer(void *arg)
{
	Worker	   *w = arg;
	Bench	   *b = w->b;
	char		group[64];
	const char *params[3];
	PGresult   *res;
	int64_t		drain_until = 0;

	snprintf(group, sizeof(group), "mqctl-bench-%d", (int) getpid());
	params[0] = group;
	params[1] = b->topic;
	res = PQexecParams(w->conn,
					   "SELECT mq.subscribe($1, ARRAY[$2], config => '{\"auto.offset.reset\": \"latest\"}')",
					   2, NULL, params, NULL, NULL, 0);
	if (!result_ok(res))
	{
		bench_error(b, w->conn, res, "subscribe");
		PQclear(res);
		b->consumer_ready = 1;
		return NULL;
	}
	PQclear(res);
	/* the first polls take the start positions ("latest") */
	for (int i = 0; i < 2; i++)
		PQclear(PQexecParams(w->conn, "SELECT 1 FROM mq.poll($1, 1)", 1, NULL,
							 params, NULL, NULL, 0));
	b->consumer_ready = 1;

	for (;;)
	{
		int64_t		now;

		if (b->stop || interrupted)
			break;
		if (b->producer_done)
		{
			if (b->records >= b->calls)
				break;
			if (drain_until == 0)
				drain_until = now_usec() + 5000000;
			else if (now_usec() > drain_until)
				break;
		}
		params[1] = "500";
		params[2] = "200";
		res = PQexecParams(w->conn, "SELECT value FROM mq.poll($1, $2::int, $3::int)",
						   3, NULL, params, NULL, NULL, 1);
		now = now_usec();
		if (!result_ok(res))
		{
			if (!canceled_by_us(res))
				bench_error(b, w->conn, res, "poll");
			PQclear(res);
			break;
		}
		for (int r = 0; r < PQntuples(res); r++)
		{
			const char *v = PQgetvalue(res, r, 0);
			uint64_t	sent = 0;

			if (PQgetlength(res, r, 0) < 16 || memcmp(v + 8, LATENCY_MAGIC, 8) != 0)
				continue;		/* not one of ours */
			for (int i = 0; i < 8; i++)
				sent = (sent << 8) | (unsigned char) v[i];
			hist_add(w->hist, now - (int64_t) sent);
			__atomic_fetch_add(&b->records, 1, __ATOMIC_RELAXED);
			__atomic_fetch_add(&b->bytes, PQgetlength(res, r, 0), __ATOMIC_RELAXED);
		}
		PQclear(res);
	}
	PQclear(PQexecParams(w->conn, "SELECT mq.unsubscribe($1)", 1, NULL, params, NULL, NULL, 0));
	PQclear(PQexecParams(w->conn, "SELECT mq.delete_group($1)", 1, NULL, params, NULL, NULL, 0));
	return NULL;
}

/* ---------------------------------------------------------------------
 * Driver
 * --------------------------------------------------------------------- */

static void
progress(Bench *b, bool final)
{
	double		secs = (now_usec() - b->start) / 1e6;
	int64_t		records = __atomic_load_n(&b->records, __ATOMIC_RELAXED);
	int64_t		bytes = __atomic_load_n(&b->bytes, __ATOMIC_RELAXED);

	if (secs <= 0)
		secs = 1e-6;
	printf("\r%6.1f s  %12lld records  %10.0f records/s  %8.2f MB/s%s",
		   secs, (long long) records, records / secs, bytes / secs / 1e6,
		   final ? "\n" : "   ");
	fflush(stdout);
}

int
cmd_bench(int argc, char **argv)
{
	static const struct option opts[] = {
		{"topic", required_argument, NULL, 't'},
		{"partitions", required_argument, NULL, 'P'},
		{"connections", required_argument, NULL, 'c'},
		{"size", required_argument, NULL, 's'},
		{"batch", required_argument, NULL, 'b'},
		{"duration", required_argument, NULL, 'T'},
		{"count", required_argument, NULL, 'n'},
		{"rate", required_argument, NULL, 'r'},
		COMMON_LONGOPTS
	};
	Bench	   *b;
	Worker	   *workers;
	pthread_t  *threads;
	int			nthreads;
	const char *sub;
	const char *cmd;
	int			c;
	bool		tty = isatty(STDOUT_FILENO);
	PGconn	   *conn;
	PGresult   *res;
	const char *params[2];
	char		pbuf[32];
	double		secs;
	int			batch = -1;
	bool	   *joined;

	if (argc < 2 || strcmp(argv[1], "--help") == 0)
	{
		fputs(bench_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	sub = argv[1];
	b = xmalloc(sizeof(Bench));
	memset(b, 0, sizeof(Bench));
	if (strcmp(sub, "produce") == 0)
	{
		b->kind = BENCH_PRODUCE;
		cmd = "bench produce";
	}
	else if (strcmp(sub, "consume") == 0)
	{
		b->kind = BENCH_CONSUME;
		cmd = "bench consume";
	}
	else if (strcmp(sub, "latency") == 0)
	{
		b->kind = BENCH_LATENCY;
		cmd = "bench latency";
	}
	else
		usage_error("bench", "unknown sub-command \"%s\" (produce, consume or latency)", sub);

	b->topic = "mqctl-bench";
	b->partitions = 4;
	b->connections = 4;
	b->size = 100;
	b->duration = 10;
	b->count = -1;
	b->rate = 100;
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "t:P:c:s:b:T:n:r:" COMMON_SHORTOPTS, opts, NULL)) != -1)
	{
		switch (c)
		{
			case 't':
				b->topic = optarg;
				break;
			case 'P':
				b->partitions = (int) parse_int(cmd, "partitions", optarg, 1, 10000);
				break;
			case 'c':
				b->connections = (int) parse_int(cmd, "connections", optarg, 1, 1000);
				break;
			case 's':
				b->size = (int) parse_int(cmd, "size", optarg, 0, 100 * 1024 * 1024);
				break;
			case 'b':
				batch = (int) parse_int(cmd, "batch", optarg, 1, 1000000);
				break;
			case 'T':
				b->duration = parse_double(cmd, "duration", optarg, 0.001);
				break;
			case 'n':
				b->count = parse_int(cmd, "count", optarg, 1, INT64_MAX);
				break;
			case 'r':
				b->rate = parse_double(cmd, "rate", optarg, 0.001);
				break;
			default:
				common_option(c, cmd, bench_help);
		}
	}
	if (optind < argc)
		usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
	b->batch = batch > 0 ? batch : (b->kind == BENCH_CONSUME ? 1000 : 100);
	b->remaining = b->count;
	pthread_mutex_init(&b->lock, NULL);

	/* the topic: created if missing; its partition count */
	conn = mq_connect();
	params[0] = b->topic;
	snprintf(pbuf, sizeof(pbuf), "%d", b->partitions);
	params[1] = pbuf;
	res = mq_exec(conn, "SELECT partitions FROM mq.topics WHERE topic = $1", 1, params);
	if (PQntuples(res) == 0)
	{
		PQclear(res);
		res = mq_exec(conn, "SELECT mq.create_topic($1, $2::int, if_not_exists => true)", 2, params);
		PQclear(res);
		res = mq_exec(conn, "SELECT partitions FROM mq.topics WHERE topic = $1", 1, params);
	}
	b->partitions = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);

	nthreads = b->kind == BENCH_LATENCY ? 2 : b->connections;
	workers = xmalloc(sizeof(Worker) * nthreads);
	threads = xmalloc(sizeof(pthread_t) * nthreads);
	for (int i = 0; i < nthreads; i++)
	{
		workers[i].b = b;
		workers[i].id = i;
		workers[i].conn = i == 0 ? conn : mq_connect();
		workers[i].hist = xmalloc(sizeof(Hist));
		memset(workers[i].hist, 0, sizeof(Hist));
	}

	if (b->kind == BENCH_LATENCY)
		printf("mqctl bench latency: topic %s (%d partitions), %.0f records/s of %d bytes, "
			   "one a call; a group member with blocking polls\n",
			   b->topic, b->partitions, b->rate, b->size < 16 ? 16 : b->size);
	else if (b->kind == BENCH_PRODUCE)
		printf("mqctl bench produce: topic %s (%d partitions), %d connections, "
			   "%d-byte values, %d records per call\n",
			   b->topic, b->partitions, b->connections, b->size, b->batch);
	else
		printf("mqctl bench consume: topic %s (%d partitions), %d connections, "
			   "%d records per fetch\n",
			   b->topic, b->partitions, b->connections, b->batch);
	fflush(stdout);

	install_interrupt_handler(NULL);
	b->start = now_usec();
	b->deadline = b->start + (int64_t) (b->duration * 1e6);
	for (int i = 0; i < nthreads; i++)
	{
		void	   *(*fn) (void *);

		if (b->kind == BENCH_PRODUCE)
			fn = produce_worker;
		else if (b->kind == BENCH_CONSUME)
			fn = consume_worker;
		else
			fn = i == 0 ? latency_consumer : latency_producer;
		if (pthread_create(&threads[i], NULL, fn, &workers[i]) != 0)
			fatal("could not start a thread: %s", strerror(errno));
	}

	/* progress, once a second, only on a terminal */
	joined = xmalloc(sizeof(bool) * nthreads);
	memset(joined, 0, sizeof(bool) * nthreads);
	for (;;)
	{
		bool		running = false;

		for (int i = 0; i < 10; i++)
		{
			sleep_usec(100000);
			running = false;
			for (int t = 0; t < nthreads; t++)
			{
				if (!joined[t] && pthread_tryjoin_np(threads[t], NULL) == 0)
					joined[t] = true;
				if (!joined[t])
					running = true;
			}
			if (!running)
				break;
		}
		if (!running)
			break;
		if (tty)
			progress(b, false);
	}
	secs = (now_usec() - b->start) / 1e6;
	if (tty)
		progress(b, true);

	for (int i = 0; i < nthreads; i++)
		hist_merge(&b->hist, workers[i].hist);
	if (b->error)
		return EXIT_ERROR;

	printf("records: %lld\n", (long long) b->records);
	printf("seconds: %.3f\n", secs);
	if (b->kind != BENCH_LATENCY)
	{
		printf("calls: %lld\n", (long long) b->calls);
		printf("records/s: %.0f\n", secs > 0 ? b->records / secs : 0.0);
		printf("MB/s: %.2f\n", secs > 0 ? b->bytes / secs / 1e6 : 0.0);
	}
	printf("latency (%s) ms: p50 %.3f  p99 %.3f  p999 %.3f  max %.3f\n",
		   b->kind == BENCH_LATENCY ? "produce to consume" : "per call",
		   hist_percentile_ms(&b->hist, 0.50), hist_percentile_ms(&b->hist, 0.99),
		   hist_percentile_ms(&b->hist, 0.999), b->hist.max / 1000.0);
	if (b->kind == BENCH_LATENCY && b->records < b->calls)
		printf("lost: %lld of %lld records never arrived\n",
			   (long long) (b->calls - b->records), (long long) b->calls);
	for (int i = 0; i < nthreads; i++)
		PQfinish(workers[i].conn);
	return EXIT_OK;
}
