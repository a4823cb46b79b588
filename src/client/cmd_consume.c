/*-------------------------------------------------------------------------
 *
 * src/client/cmd_consume.c
 *		mqctl consume TOPIC...: print records, in one of two modes.
 *
 * Group mode (-g GROUP): the command is a session-bound member of the
 * group (mq.subscribe); it loops on mq.poll, which blocks on the server
 * until a producer commits to one of its partitions, and prints what each
 * poll returns.  Each poll commits what the previous one returned
 * (enable.auto.commit); at the end (-c, -e or SIGINT/SIGTERM) the command
 * flushes its output, commits its positions (mq.commit) and leaves the
 * group, so that what it printed is committed and nothing else.  SIGINT
 * cancels a poll in progress: the cancelled poll's transaction rolls back,
 * so its records are neither printed nor committed.
 *
 * Assign mode (no -g): given partitions (or all) of one topic from given
 * offsets, with mq.fetch; no group, nothing committed.  When there is
 * nothing new it waits on the connection's socket (LISTEN on the topic's
 * watch channel wakes it at once for topics with "notify": true) with a
 * backoff of 10 ms up to 500 ms.
 *
 * Rows are read in libpq's single-row mode and written through one output
 * buffer, so memory stays bounded by the largest record, whatever is
 * consumed.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/select.h>
#include <unistd.h>

#include "mqctl.h"

/* 2000-01-01 (PostgreSQL's epoch) in Unix milliseconds */
#define PG_EPOCH_MS 946684800000LL

static const char *consume_help =
"mqctl consume - print the records of topics\n"
"\n"
"Usage:\n"
"  mqctl consume TOPIC... -g GROUP [OPTIONS]       (group mode)\n"
"  mqctl consume TOPIC [-p N] [-o OFFSET] [OPTIONS] (assign mode)\n"
"\n"
"Group mode: the command joins GROUP as a member bound to its session,\n"
"shares the topics' partitions with the group's other members, reads from\n"
"the group's committed offsets and commits what it printed; a blocking poll\n"
"waits for new records.  Assign mode: reads partition N (default: all) from\n"
"OFFSET, without a group and without committing.\n"
"\n"
"The command follows new records until interrupted (SIGINT or SIGTERM: it\n"
"finishes printing, commits what it printed and exits with status 0), or\n"
"stops after -c COUNT records or, with -e, at the end of the partitions.\n"
"\n"
"Options:\n"
"  -g, --group=GROUP       group mode: consume as a member of GROUP\n"
"  -p, --partition=N       assign mode: this partition only\n"
"  -o, --offset=OFFSET     where to start: beginning, end, an offset, -N (N\n"
"                          before the end), s@MS (the first record at or after\n"
"                          MS ms since the epoch); default beginning.  In group\n"
"                          mode beginning or end set auto.offset.reset for\n"
"                          partitions without a committed offset\n"
"  -X, --config=KEY=VALUE  group mode: a consumer config, e.g.\n"
"                          -X session.timeout.ms=10000 (repeatable)\n"
"  -f, --format=FORMAT     output format, as kcat's (default '%s\\n'):\n"
"                            %t topic      %p partition   %o offset\n"
"                            %T timestamp (ms since the epoch)\n"
"                            %k key        %K key length (-1: null)\n"
"                            %s value      %S value length (-1: null)\n"
"                            %h headers as name=value,name=value (a header\n"
"                               with a null value prints its name only)\n"
"                            %% a %;  escapes \\n \\t \\r \\0 \\\\ \\xHH\n"
"  -K, --key-delimiter=SEP with no -f: print key SEP value\n"
"  -c, --count=COUNT       stop after COUNT records\n"
"  -e, --exit              stop at the end of the partitions\n"
"  -Z, --null              print null keys and values as NULL (default: nothing)\n"
"      --bytes=MODE        how %k, %s and %h print bytes: raw (default: the bytes\n"
"                          as they are, like kcat), escape (C escapes for\n"
"                          anything but printable ASCII), hex, base64\n"
"      --max-records=N     records per poll or fetch (default 500)\n"
"      --poll-timeout=MS   longest blocking poll (default 5000)\n"
"  -v                      progress on stderr; a summary at the end\n"
"\n"
"Examples:\n"
"  mqctl consume orders -g billing -f '%t/%p/%o key=%k value=%s\\n'\n"
"  mqctl consume orders -p 0 -o -10 -e           # the last 10 records of partition 0\n"
"  mqctl consume images -c 1 -o 0 -p 0 -f '%s' > logo.png\n"
COMMON_HELP;

enum
{
	OPT_BYTES = OPT_FIRST_COMMAND,
	OPT_MAX_RECORDS,
	OPT_POLL_TIMEOUT
};

typedef struct ConsumeState
{
	PGconn	   *conn;
	MqFormat   *fmt;
	Buf			out;
	long long	count;			/* -c, or -1 */
	long long	printed;
	long long	poll_rows;		/* rows of the last stream_rows call */
	bool		hold;			/* print a call's rows only once it succeeded */
	bool		write_failed;
	int			write_errno;
	int64_t		t0;
} ConsumeState;

static void
flush_out(ConsumeState *cs, bool force)
{
	if (cs->write_failed)
	{
		buf_reset(&cs->out);
		return;
	}
	if (cs->out.len > 0 && (force || cs->out.len >= 64 * 1024))
	{
		if (!write_all(stdout, cs->out.data, cs->out.len))
		{
			cs->write_failed = true;
			cs->write_errno = errno;
		}
		buf_reset(&cs->out);
	}
	if (force && !cs->write_failed && fflush(stdout) != 0)
	{
		cs->write_failed = true;
		cs->write_errno = errno;
	}
}

static int64_t
ts_ms(const char *p)
{
	int64_t		us = get_be64(p);

	/* floor division, so times before 2000 stay ordered */
	return us / 1000 - (us % 1000 < 0 ? 1 : 0) + PG_EPOCH_MS;
}

/*
 * Run a prepared statement in single-row mode and print each row.  Columns
 * (binary): [topic text, partition int4,] offset int8, ts timestamptz,
 * key bytea, value bytea, headers text.  Returns the number of rows, or -1
 * on error (with *err set, to be cleared by the caller).
 */
static long long
stream_rows(ConsumeState *cs, const char *stmt, int nparams,
			const char *const *params, const char *topic, int partition,
			int64_t *last_offset, PGresult **err)
{
	PGresult   *res;
	long long	n = 0;
	int			formats[4] = {0, 0, 0, 0};

	*err = NULL;
	cs->poll_rows = 0;
	if (!PQsendQueryPrepared(cs->conn, stmt, nparams, params, NULL, formats, 1))
		mq_fail(cs->conn, NULL, NULL);
	PQsetSingleRowMode(cs->conn);
	while ((res = PQgetResult(cs->conn)) != NULL)
	{
		ExecStatusType st = PQresultStatus(res);

		if (st == PGRES_SINGLE_TUPLE)
		{
			MqRecordOut r;
			int			c = 0;

			if (topic == NULL)
			{
				r.topic = PQgetvalue(res, 0, c++);
				r.partition = get_be32(PQgetvalue(res, 0, c++));
			}
			else
			{
				r.topic = topic;
				r.partition = partition;
			}
			r.offset = get_be64(PQgetvalue(res, 0, c++));
			r.ts_ms = ts_ms(PQgetvalue(res, 0, c++));
			r.key = PQgetisnull(res, 0, c) ? NULL : PQgetvalue(res, 0, c);
			r.key_len = PQgetlength(res, 0, c++);
			r.value = PQgetisnull(res, 0, c) ? NULL : PQgetvalue(res, 0, c);
			r.value_len = PQgetlength(res, 0, c++);
			r.headers = PQgetisnull(res, 0, c) ? NULL : PQgetvalue(res, 0, c);
			r.headers_len = PQgetlength(res, 0, c++);
			format_record(cs->fmt, &r, &cs->out);
			if (!cs->hold)
				flush_out(cs, false);
			if (last_offset)
				*last_offset = r.offset;
			n++;
			cs->printed++;
			cs->poll_rows++;
			PQclear(res);
		}
		else if (st == PGRES_TUPLES_OK)
			PQclear(res);
		else
		{
			if (*err == NULL)
				*err = res;
			else
				PQclear(res);
		}
	}
	return *err ? -1 : n;
}

static void
prepare(PGconn *conn, const char *name, const char *sql, int nparams)
{
	PGresult   *res = PQprepare(conn, name, sql, nparams, NULL);

	if (!result_ok(res))
		mq_fail(conn, res, NULL);
	PQclear(res);
}

static void
summary(ConsumeState *cs)
{
	double		secs = (now_usec() - cs->t0) / 1e6;

	verbose_msg("consumed %lld records in %.3f s: %.0f records/s; peak memory %ld kB",
				cs->printed, secs, secs > 0 ? cs->printed / secs : 0.0, peak_rss_kb());
}

/* text[] literal of the topics */
static void
text_array(Buf *b, char **items, int n)
{
	buf_putc(b, '{');
	for (int i = 0; i < n; i++)
	{
		if (i)
			buf_putc(b, ',');
		buf_putc(b, '"');
		for (const char *p = items[i]; *p; p++)
		{
			if (*p == '"' || *p == '\\')
				buf_putc(b, '\\');
			buf_putc(b, *p);
		}
		buf_putc(b, '"');
	}
	buf_putc(b, '}');
}

/* ---------------------------------------------------------------------
 * Group mode
 * --------------------------------------------------------------------- */

/* mq.commit of the member's positions; false if our SIGINT canceled it */
static bool
commit_positions(PGconn *conn, const char *group)
{
	PGresult   *res = mq_exec_interruptible(conn, "SELECT mq.commit($1)", 1, &group);

	if (res == NULL)
		return false;
	PQclear(res);
	return true;
}

static int
consume_group(ConsumeState *cs, const char *group, char **topics, int ntopics,
			  Buf *config, int max_records, int poll_timeout, bool exit_at_end)
{
	PGconn	   *conn = cs->conn;
	PGresult   *res;
	Buf			arr;
	const char *params[3];
	char		member[256];
	char		want_s[32];
	char		timeout_s[32];
	bool		auto_commit;
	int			empties = 0;
	int			status = EXIT_OK;

	buf_init(&arr);
	text_array(&arr, topics, ntopics);
	params[0] = group;
	params[1] = arr.data;
	params[2] = config->data;
	res = mq_exec(conn, "SELECT mq.subscribe($1, $2::text[], config => $3::jsonb)", 3, params);
	snprintf(member, sizeof(member), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	buf_free(&arr);
	verbose_msg("joined group \"%s\" as member %s", group, member);

	/* the effective config decides whether polls commit by themselves */
	res = mq_exec(conn, "SELECT (mq.default_consumer_config() || $1::jsonb) ->> 'enable.auto.commit'",
				  1, params + 2);
	auto_commit = strcasecmp(PQgetvalue(res, 0, 0), "false") != 0;
	PQclear(res);

	prepare(conn, "poll",
			"SELECT topic, partition, \"offset\", ts, key, value, headers::text"
			"  FROM mq.poll($1, $2::int, $3::int)", 3);

	/*
	 * A poll that fails, or that our SIGINT cancels while its rows arrive,
	 * is rolled back on the server: the positions it advanced and what it
	 * auto-committed.  Its rows must then not be printed either (they come
	 * again), so they stay in memory until the poll succeeded: at most
	 * max.poll.records records, as a Kafka consumer holds one poll.
	 */
	cs->hold = true;
	install_interrupt_handler(conn);
	while (!interrupted && !cs->write_failed)
	{
		long long	want = max_records;
		long long	n;
		PGresult   *err;

		if (cs->count >= 0)
		{
			if (cs->printed >= cs->count)
				break;
			if (cs->count - cs->printed < want)
				want = cs->count - cs->printed;
		}
		snprintf(want_s, sizeof(want_s), "%lld", want);
		snprintf(timeout_s, sizeof(timeout_s), "%d", exit_at_end ? 0 : poll_timeout);
		params[0] = group;
		params[1] = want_s;
		params[2] = timeout_s;
		n = stream_rows(cs, "poll", 3, params, NULL, 0, NULL, &err);
		if (n < 0)
		{
			buf_reset(&cs->out);
			cs->printed -= cs->poll_rows;
			if (canceled_by_us(err))
			{
				PQclear(err);
				break;
			}
			print_result_error(err, "poll");
			PQclear(err);
			status = EXIT_ERROR;
			break;
		}
		flush_out(cs, true);
		if (n > 0)
		{
			empties = 0;
			verbose_msg("%lld records (total %lld)", n, cs->printed);
			/* canceled: the final commit below does it */
			if (!auto_commit && !cs->write_failed && !commit_positions(conn, group))
				break;
			continue;
		}
		if (!exit_at_end)
			continue;

		/*
		 * Nothing: at the end if the member's partitions have no lag.  An
		 * empty poll committed every position (auto-commit), so the
		 * committed offsets are the positions.
		 */
		if (!auto_commit && !commit_positions(conn, group))
			break;
		empties++;
		params[1] = member;
		res = mq_exec_interruptible(conn,
									"SELECT coalesce(sum(lag), 0) = 0 FROM mq.consumer_lag"
									" WHERE group_id = $1 AND member_id = $2",
									2, params);
		if (res == NULL)
			break;
		if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
		{
			PQclear(res);
			break;
		}
		PQclear(res);
		/* (a poll moves past rolled-back records, so the lag does reach 0) */
		if (empties > 50)
			empties = 50;
		sleep_usec(empties * 10000);
	}

	/* commit what was printed, then leave; no more cancels from here */
	forget_interrupt_connection();
	flush_out(cs, true);
	if (PQstatus(conn) == CONNECTION_OK && status == EXIT_OK)
	{
		params[0] = group;
		if (!cs->write_failed)
		{
			res = mq_exec(conn, "SELECT mq.commit($1)", 1, params);
			PQclear(res);
		}
		res = mq_exec(conn, "SELECT mq.unsubscribe($1)", 1, params);
		PQclear(res);
		verbose_msg("committed and left group \"%s\"", group);
	}
	return status;
}

/* ---------------------------------------------------------------------
 * Assign mode
 * --------------------------------------------------------------------- */

typedef struct PartPos
{
	int			partition;
	int64_t		pos;
	int64_t		lso_seen;		/* -1, or an LSO read after the last fetch */
	bool		at_end;
} PartPos;

static int64_t
query_int8(PGconn *conn, const char *sql, int nparams, const char *const *params,
		   bool *isnull)
{
	PGresult   *res = mq_exec(conn, sql, nparams, params);
	int64_t		v;

	*isnull = PQgetisnull(res, 0, 0);
	v = *isnull ? 0 : strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return v;
}

static int64_t
start_offset(PGconn *conn, const char *topic, int partition, const char *spec)
{
	char		pbuf[32];
	const char *params[3];
	bool		isnull;
	int64_t		end;

	snprintf(pbuf, sizeof(pbuf), "%d", partition);
	params[0] = topic;
	params[1] = pbuf;
	if (strcmp(spec, "beginning") == 0)
		return query_int8(conn, "SELECT mq.earliest_offset($1, $2::int)", 2, params, &isnull);
	if (strcmp(spec, "end") == 0)
		return query_int8(conn, "SELECT mq.latest_offset($1, $2::int)", 2, params, &isnull);
	if (strncmp(spec, "s@", 2) == 0)
	{
		int64_t		v;

		params[2] = spec + 2;
		v = query_int8(conn,
					   "SELECT mq.offset_for_time($1, $2::int, to_timestamp($3::numeric / 1000))",
					   3, params, &isnull);
		if (!isnull)
			return v;
		return query_int8(conn, "SELECT mq.latest_offset($1, $2::int)", 2, params, &isnull);
	}
	if (spec[0] == '-')
	{
		int64_t		start;

		end = query_int8(conn, "SELECT mq.latest_offset($1, $2::int)", 2, params, &isnull);
		start = query_int8(conn, "SELECT mq.earliest_offset($1, $2::int)", 2, params, &isnull);
		end -= strtoll(spec + 1, NULL, 10);
		return end > start ? end : start;
	}
	return strtoll(spec, NULL, 10);
}

/*
 * Free the notifications libpq has read (with a result, or in
 * wait_socket): they only wake us, and would pile up in libpq's list while
 * every round returns records.  True if there was one.
 */
static bool
drain_notifies(PGconn *conn)
{
	PGnotify   *nf;
	bool		any = false;

	while ((nf = PQnotifies(conn)) != NULL)
	{
		PQfreemem(nf);
		any = true;
	}
	return any;
}

/* Wait for a notification, data on the socket, a signal or the timeout. */
static void
wait_socket(PGconn *conn, int64_t usec)
{
	int			sock = PQsocket(conn);
	fd_set		rfds;
	struct timeval tv;

	/* one came with the last results: no need to wait */
	if (drain_notifies(conn))
		return;
	if (sock < 0)
	{
		sleep_usec(usec);
		return;
	}
	FD_ZERO(&rfds);
	FD_SET(sock, &rfds);
	tv.tv_sec = usec / 1000000;
	tv.tv_usec = usec % 1000000;
	if (select(sock + 1, &rfds, NULL, NULL, &tv) > 0)
		PQconsumeInput(conn);
	drain_notifies(conn);
}

static int
consume_assign(ConsumeState *cs, const char *topic, int partition,
			   const char *offset_spec, int max_records, bool exit_at_end)
{
	PGconn	   *conn = cs->conn;
	PGresult   *res;
	PartPos    *parts;
	int			nparts;
	const char *params[4];
	char		pbuf[32];
	char		obuf[32];
	char		wbuf[32];
	int64_t		backoff = 10000;
	int			status = EXIT_OK;

	params[0] = topic;
	res = mq_exec(conn, "SELECT partitions FROM mq.topics WHERE topic = $1", 1, params);
	if (PQntuples(res) == 0)
	{
		PQclear(res);
		PQfinish(conn);
		fatal("topic \"%s\" does not exist", topic);
	}
	nparts = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (partition >= nparts)
	{
		PQfinish(conn);
		fatal("partition %d of topic \"%s\" does not exist (the topic has %d)",
			  partition, topic, nparts);
	}
	if (partition >= 0)
		nparts = 1;
	parts = xmalloc(sizeof(PartPos) * nparts);
	for (int i = 0; i < nparts; i++)
	{
		parts[i].partition = partition >= 0 ? partition : i;
		parts[i].pos = start_offset(conn, topic, parts[i].partition, offset_spec);
		parts[i].lso_seen = -1;
		parts[i].at_end = false;
		verbose_msg("partition %d from offset %lld", parts[i].partition,
					(long long) parts[i].pos);
	}

	/* wakes us at once for topics with "notify": true */
	res = mq_exec(conn, "SELECT mq.watch_channel($1)", 1, params);
	{
		char	   *chan = PQescapeIdentifier(conn, PQgetvalue(res, 0, 0),
											  strlen(PQgetvalue(res, 0, 0)));
		Buf			sql;

		buf_init(&sql);
		buf_printf(&sql, "LISTEN %s", chan);
		PQclear(mq_exec(conn, sql.data, 0, NULL));
		PQfreemem(chan);
		buf_free(&sql);
	}
	PQclear(res);

	prepare(conn, "fetch",
			"SELECT \"offset\", ts, key, value, headers::text"
			"  FROM mq.fetch($1, $2::int, $3::int8, $4::int)", 4);

	install_interrupt_handler(conn);
	while (!interrupted && !cs->write_failed)
	{
		bool		any = false;
		bool		all_end = true;

		for (int i = 0; i < nparts && !interrupted; i++)
		{
			PartPos    *pp = &parts[i];
			long long	want = max_records;
			long long	n;
			int64_t		last = -1;
			PGresult   *err;

			if (cs->count >= 0)
			{
				if (cs->printed >= cs->count)
					break;
				if (cs->count - cs->printed < want)
					want = cs->count - cs->printed;
			}
			snprintf(pbuf, sizeof(pbuf), "%d", pp->partition);
			snprintf(obuf, sizeof(obuf), "%lld", (long long) pp->pos);
			snprintf(wbuf, sizeof(wbuf), "%lld", want);
			params[0] = topic;
			params[1] = pbuf;
			params[2] = obuf;
			params[3] = wbuf;
			n = stream_rows(cs, "fetch", 4, params, topic, pp->partition, &last, &err);
			if (n < 0)
			{
				if (canceled_by_us(err))
				{
					PQclear(err);
					break;
				}
				flush_out(cs, true);
				print_result_error(err, "fetch");
				PQclear(err);
				status = EXIT_ERROR;
				goto done;
			}
			if (n > 0)
			{
				pp->pos = last + 1;
				pp->at_end = false;
				pp->lso_seen = -1;
				any = true;
				all_end = false;
				continue;
			}
			if (!exit_at_end)
				continue;

			/*
			 * Nothing from pos.  An LSO read before this fetch that lies
			 * beyond pos means [pos, LSO) holds nothing visible (aborted
			 * records): move past it.  Then pos is the end if the LSO read
			 * now has not moved beyond it.
			 */
			if (pp->lso_seen > pp->pos)
				pp->pos = pp->lso_seen;
			res = mq_exec_interruptible(conn, "SELECT mq.latest_offset($1, $2::int)",
										2, params);
			if (res == NULL)
				break;
			pp->lso_seen = PQgetisnull(res, 0, 0) ? 0 : strtoll(PQgetvalue(res, 0, 0), NULL, 10);
			PQclear(res);
			pp->at_end = pp->lso_seen <= pp->pos;
			if (!pp->at_end)
				all_end = false;
		}
		flush_out(cs, true);
		if (cs->count >= 0 && cs->printed >= cs->count)
			break;
		if (exit_at_end && all_end && !any)
			break;
		if (any)
		{
			/* the notifications read with the records say nothing new */
			drain_notifies(conn);
			backoff = 10000;
			continue;
		}
		if (!interrupted)
		{
			wait_socket(conn, backoff);
			backoff = backoff * 2 > 500000 ? 500000 : backoff * 2;
		}
	}
done:
	forget_interrupt_connection();
	flush_out(cs, true);
	free(parts);
	return status;
}

int
cmd_consume(int argc, char **argv)
{
	static const struct option opts[] = {
		{"group", required_argument, NULL, 'g'},
		{"partition", required_argument, NULL, 'p'},
		{"offset", required_argument, NULL, 'o'},
		{"config", required_argument, NULL, 'X'},
		{"format", required_argument, NULL, 'f'},
		{"key-delimiter", required_argument, NULL, 'K'},
		{"count", required_argument, NULL, 'c'},
		{"exit", no_argument, NULL, 'e'},
		{"null", no_argument, NULL, 'Z'},
		{"bytes", required_argument, NULL, OPT_BYTES},
		{"max-records", required_argument, NULL, OPT_MAX_RECORDS},
		{"poll-timeout", required_argument, NULL, OPT_POLL_TIMEOUT},
		COMMON_LONGOPTS
	};
	const char *group = NULL;
	int			partition = -1;
	const char *offset = NULL;
	const char *format = NULL;
	const char *keysep = NULL;
	bool		exit_at_end = false;
	bool		null_word = false;
	BytesMode	mode = BYTES_RAW;
	int			max_records = 500;
	int			poll_timeout = 5000;
	Buf			config;
	Buf			fmtbuf;
	ConsumeState cs;
	const char *errmsg = NULL;
	int			c;
	int			status;

	memset(&cs, 0, sizeof(cs));
	cs.count = -1;
	buf_init(&config);
	buf_putc(&config, '{');
	while ((c = getopt_long(argc, argv, "g:p:o:X:f:K:c:eZ" COMMON_SHORTOPTS, opts, NULL)) != -1)
	{
		switch (c)
		{
			case 'g':
				group = optarg;
				break;
			case 'p':
				partition = (int) parse_int("consume", "partition", optarg, 0, INT32_MAX);
				break;
			case 'o':
				offset = optarg;
				if (strcmp(offset, "beginning") != 0 && strcmp(offset, "end") != 0)
				{
					const char *num = offset;

					if (strncmp(num, "s@", 2) == 0)
						num += 2;
					else if (num[0] == '-')
						num++;
					parse_int("consume", "offset", num, 0, INT64_MAX);
				}
				break;
			case 'X':
				{
					const char *eq = strchr(optarg, '=');

					if (eq == NULL || eq == optarg)
						usage_error("consume", "config \"%s\" is not KEY=VALUE", optarg);
					if (config.len > 1)
						buf_putc(&config, ',');
					buf_put_json_string(&config, optarg, eq - optarg);
					buf_putc(&config, ':');
					buf_put_json_string(&config, eq + 1, strlen(eq + 1));
					break;
				}
			case 'f':
				format = optarg;
				break;
			case 'K':
				keysep = optarg;
				break;
			case 'c':
				cs.count = parse_int("consume", "count", optarg, 0, INT64_MAX);
				break;
			case 'e':
				exit_at_end = true;
				break;
			case 'Z':
				null_word = true;
				break;
			case OPT_BYTES:
				if (!parse_bytes_mode(optarg, &mode))
					usage_error("consume", "--bytes must be raw, escape, hex or base64");
				break;
			case OPT_MAX_RECORDS:
				max_records = (int) parse_int("consume", "max records", optarg, 1, 1000000);
				break;
			case OPT_POLL_TIMEOUT:
				poll_timeout = (int) parse_int("consume", "poll timeout", optarg, 0, INT32_MAX);
				break;
			default:
				common_option(c, "consume", consume_help);
		}
	}
	if (optind >= argc)
		usage_error("consume", "no topic given");
	if (group == NULL && argc - optind > 1)
		usage_error("consume", "several topics need group mode (-g GROUP)");
	if (group && partition >= 0)
		usage_error("consume", "-p is for assign mode: a group assigns partitions itself");
	if (group == NULL && config.len > 1)
		usage_error("consume", "-X is for group mode (-g GROUP)");
	if (group && offset && strcmp(offset, "beginning") != 0 && strcmp(offset, "end") != 0)
		usage_error("consume", "in group mode -o is beginning or end (auto.offset.reset)");
	if (format && keysep)
		usage_error("consume", "-K and -f cannot be used together");

	buf_init(&fmtbuf);
	if (format == NULL && keysep)
	{
		buf_append(&fmtbuf, "%k", 2);
		for (const char *p = keysep; *p; p++)
		{
			if (*p == '%')
				buf_putc(&fmtbuf, '%');
			buf_putc(&fmtbuf, *p);
		}
		buf_append(&fmtbuf, "%s\\n", 4);
	}
	else
		buf_printf(&fmtbuf, "%s", format ? format : "%s\\n");
	cs.fmt = format_compile(fmtbuf.data, mode, null_word, &errmsg);
	if (cs.fmt == NULL)
		usage_error("consume", "%s", errmsg);
	if (group && offset)
	{
		if (config.len > 1)
			buf_putc(&config, ',');
		buf_printf(&config, "\"auto.offset.reset\":\"%s\"",
				   strcmp(offset, "beginning") == 0 ? "earliest" : "latest");
	}
	buf_putc(&config, '}');

	/* a reader that went away is an output error, not a signal death */
	signal(SIGPIPE, SIG_IGN);
	buf_init(&cs.out);
	cs.conn = mq_connect();

	/*
	 * Each poll or fetch is a transaction of its own, and must see what
	 * was committed since the last: whatever default a role or database
	 * sets, a blocking poll under a fixed snapshot returns at once (and
	 * would leave this loop spinning), and one never moves past
	 * rolled-back records.
	 */
	PQclear(mq_exec(cs.conn, "SET default_transaction_isolation = 'read committed'", 0, NULL));
	cs.t0 = now_usec();
	if (group)
		status = consume_group(&cs, group, argv + optind, argc - optind, &config,
							   max_records, poll_timeout, exit_at_end);
	else
		status = consume_assign(&cs, argv[optind], partition,
								offset ? offset : "beginning", max_records, exit_at_end);
	if (cs.write_failed)
	{
		warn_msg("error: could not write output: %s", strerror(cs.write_errno));
		status = EXIT_ERROR;
	}
	summary(&cs);
	PQfinish(cs.conn);
	buf_free(&cs.out);
	buf_free(&config);
	buf_free(&fmtbuf);
	return status;
}
