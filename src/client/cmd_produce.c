/*-------------------------------------------------------------------------
 *
 * src/client/cmd_produce.c
 *		mqctl produce TOPIC [FILE...]: records from stdin, one a line (or
 *		delimited by -D), or one record per FILE, sent with mq.produce_batch.
 *
 * Every batch is one mq.produce_batch call (autocommit: one transaction),
 * with the values, keys and headers as binary bytea[] / jsonb[] parameters,
 * so any byte value goes through unchanged and the server does not parse
 * array literals.  A batch is sent when it holds --batch records or
 * --batch-bytes bytes, at the end of the input, and when the input pauses
 * (reading would block), so that interactive or tail -f input is sent at
 * once.  Memory is one batch plus one read buffer, whatever the input size.
 *
 * Failures: records larger than the topic's max.message.bytes are found
 * before the batch is sent (computed as the server does: the record
 * encoded alone in a Kafka record batch).  A batch the server refuses is
 * written not at all; the failing record is found by producing the batch's
 * records one by one in a transaction that is rolled back, and reported
 * with its line number.  By default the command stops there; with
 * --keep-going it sends the batch's other records one by one and goes on.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mqctl.h"

#define BYTEAARRAYOID	1001
#define JSONBARRAYOID	3807
#define ARRAY_HDR		20		/* ndim, flags, elemtype, dim, lbound */
#define MQ_BATCH_HEADER_SIZE 61

static const char *produce_help =
"mqctl produce - append records to a topic\n"
"\n"
"Usage:\n"
"  mqctl produce TOPIC [OPTIONS] [FILE...]\n"
"\n"
"Reads records from stdin, one a line (the delimiter is not part of the\n"
"record), or sends each FILE whole as one record.  Any byte value may be\n"
"part of a key or value; use -D to choose a delimiter the data lacks (e.g.\n"
"-D '\\0' for NUL-separated input).  An empty line is an empty record.\n"
"Prints nothing but errors unless -v.\n"
"\n"
"Options:\n"
"  -K, --key-delimiter=SEP split each record into key and value at the first\n"
"                          SEP (as kcat -K); a record without SEP has a null key\n"
"  -k, --key=KEY           the key of every record\n"
"  -D, --delimiter=CHAR    record delimiter, one byte (default \\n)\n"
"  -H, --header=NAME=VALUE a header of every record, repeatable, in order\n"
"                          (NAME alone: a null value)\n"
"  -p, --partition=N       write to partition N (default: by key, Kafka's\n"
"                          murmur2; records without a key stick to a partition\n"
"                          per batch)\n"
"  -Z, --null              empty keys and values are sent as null (a null value\n"
"                          is a tombstone)\n"
"      --batch=N           records per mq.produce_batch call (default 1000)\n"
"      --batch-bytes=N     and at most about N bytes per call (default 16MB)\n"
"      --keep-going        report a failing record and go on with the others;\n"
"                          exit status 1 at the end if any failed\n"
"  -v                      a summary on stderr at the end (records, bytes,\n"
"                          rate, peak memory); -vv also each record's partition\n"
"                          and offset\n"
"\n"
"Escapes \\n \\t \\r \\0 \\\\ \\xHH are understood in SEP, CHAR and KEY.\n"
"\n"
"Failures: a record larger than the topic's max.message.bytes, or one the\n"
"server refuses, is reported with its line number (record number with -D),\n"
"and by default the command stops there: batches before it are written,\n"
"nothing of its batch is.  Exit status 0 when everything was written.\n"
"\n"
"Examples:\n"
"  printf 'user-1:{\"clicks\": 3}\\n' | mqctl produce clicks -K:\n"
"  mqctl produce images -k logo.png logo.png\n"
"  find . -print0 | mqctl produce paths -D '\\0' -H source=find\n"
COMMON_HELP;

enum
{
	OPT_BATCH = OPT_FIRST_COMMAND,
	OPT_BATCH_BYTES,
	OPT_KEEP_GOING
};

typedef struct ProduceOpts
{
	const char *topic;
	const char *partition;		/* NULL: the server chooses */
	char	   *keysep;
	size_t		keysep_len;
	char	   *fixed_key;
	size_t		fixed_key_len;
	char		delim;
	bool		null_empty;
	bool		keep_going;
	int			batch;
	size_t		batch_bytes;
	Buf			headers_json;	/* one jsonb element, binary (version 1) */
	int			nheaders;
	size_t		headers_wire;	/* their bytes in the Kafka record */
	int64_t		max_message;	/* -1 if unknown */
} ProduceOpts;

/* One batch being built: binary arrays, one element per record. */
/* PostgreSQL's limit on one value (MaxAllocSize): no bytea is longer */
#define MAX_VALUE_BYTES 0x3fffffff

typedef struct Batch
{
	Buf			values;			/* ARRAY_HDR placeholder, then elements */
	Buf			keys;
	Buf			headers;
	int			n;
	bool		has_keys;
	long long	first_line;
	bool		first_is_file;
	char	  **files;			/* file names when records are files */
} Batch;

typedef struct Stats
{
	long long	records;
	long long	bytes;
	long long	batches;
	long long	failed;
} Stats;

/* ---------------------------------------------------------------------
 * Sizes as the server computes them (codec/record_batch.c)
 * --------------------------------------------------------------------- */

static size_t
varint_size(int32_t v)
{
	uint32_t	z = ((uint32_t) v << 1) ^ (uint32_t) (v >> 31);
	size_t		n = 1;

	while (z >= 0x80)
	{
		z >>= 7;
		n++;
	}
	return n;
}

static size_t
field_size(int64_t len)
{
	/* a null field is varint(-1); lengths above 2^31 cannot be sent */
	if (len < 0)
		return 1;
	return varint_size((int32_t) len) + (size_t) len;
}

/* bytes of one record alone in a record batch: what max.message.bytes limits */
static int64_t
record_size(const ProduceOpts *o, int64_t key_len, int64_t value_len)
{
	int64_t		body;

	if (key_len > INT32_MAX || value_len > INT32_MAX)
		return INT64_MAX;
	body = 3 + field_size(key_len) + field_size(value_len) +
		varint_size(o->nheaders) + o->headers_wire;
	return MQ_BATCH_HEADER_SIZE + varint_size((int32_t) body) + body;
}

/* ---------------------------------------------------------------------
 * Batches
 * --------------------------------------------------------------------- */

static void
array_start(Buf *b)
{
	buf_reset(b);
	buf_reserve(b, ARRAY_HDR);
	b->len = ARRAY_HDR;
}

static void
array_finish(Buf *b, Oid elemtype, int n)
{
	unsigned char *h = (unsigned char *) b->data;
	uint32_t	v[5] = {1, 1, elemtype, (uint32_t) n, 1};

	for (int i = 0; i < 5; i++)
	{
		h[i * 4] = v[i] >> 24;
		h[i * 4 + 1] = v[i] >> 16;
		h[i * 4 + 2] = v[i] >> 8;
		h[i * 4 + 3] = v[i];
	}
}

static void
array_add(Buf *b, const char *data, int64_t len)
{
	if (data == NULL)
		buf_put_be32(b, (uint32_t) -1);
	else
	{
		buf_put_be32(b, (uint32_t) len);
		buf_append(b, data, (size_t) len);
	}
}

static void
batch_reset(Batch *b)
{
	array_start(&b->values);
	array_start(&b->keys);
	array_start(&b->headers);
	b->n = 0;
	b->has_keys = false;
}

/* The bytes of the call's arguments so far: what --batch-bytes bounds. */
static size_t
batch_bytes(const Batch *b)
{
	return b->values.len + b->keys.len + b->headers.len;
}

static void
batch_add(Batch *b, const ProduceOpts *o, const char *key, int64_t key_len,
		  const char *value, int64_t value_len)
{
	array_add(&b->values, value, value_len);
	array_add(&b->keys, key, key_len);
	if (key)
		b->has_keys = true;
	if (o->nheaders)
		array_add(&b->headers, o->headers_json.data, (int64_t) o->headers_json.len);
	b->n++;
}

/* Walk the elements of an array being built: returns the next offset. */
static size_t
array_elem(const Buf *b, size_t pos, const char **data, int32_t *len)
{
	*len = get_be32(b->data + pos);
	*data = *len < 0 ? NULL : b->data + pos + 4;
	return pos + 4 + (*len < 0 ? 0 : (size_t) *len);
}

static const char *
where(const Batch *b, long long i, char *buf, size_t size)
{
	if (b->files)
		snprintf(buf, size, "%s", b->files[b->first_line + i - 1]);
	else
		snprintf(buf, size, "line %lld", b->first_line + i);
	return buf;
}

/*
 * Send one batch; NULL result and *errres on failure.  Only the count of
 * records comes back unless each record's offset is to be printed.
 */
static PGresult *
send_batch(PGconn *conn, const ProduceOpts *o, Batch *b, bool want_rows)
{
	const char *values[5];
	int			lengths[5];
	int			formats[5] = {0, 1, 1, 1, 0};
	Oid			types[5] = {TEXTOID, BYTEAARRAYOID, BYTEAARRAYOID, JSONBARRAYOID, INT4OID};

	array_finish(&b->values, BYTEAOID, b->n);
	array_finish(&b->keys, BYTEAOID, b->n);
	array_finish(&b->headers, JSONBOID, b->n);
	values[0] = o->topic;
	lengths[0] = 0;
	values[1] = b->values.data;
	lengths[1] = (int) b->values.len;
	values[2] = b->has_keys ? b->keys.data : NULL;
	lengths[2] = (int) b->keys.len;
	values[3] = o->nheaders ? b->headers.data : NULL;
	lengths[3] = (int) b->headers.len;
	values[4] = o->partition;
	lengths[4] = 0;

	return PQexecParams(conn, want_rows ?
						"SELECT partition, \"offset\" FROM mq.produce_batch($1, $2, $3, $4, $5)" :
						"SELECT count(*) FROM mq.produce_batch($1, $2, $3, $4, $5)",
						5, types, values, lengths, formats, 1);
}

/*
 * The next record of batch b alone in batch one; *pv and *pk walk b's
 * values and keys (start them at ARRAY_HDR).
 */
static void
batch_single(const Batch *b, const ProduceOpts *o, size_t *pv, size_t *pk, Batch *one)
{
	const char *v = NULL;
	const char *k = NULL;
	int32_t		vl = 0;
	int32_t		kl = 0;

	*pv = array_elem(&b->values, *pv, &v, &vl);
	*pk = array_elem(&b->keys, *pk, &k, &kl);
	batch_reset(one);
	batch_add(one, o, k, kl, v, vl);
}

static bool
is_data_error(const PGresult *res)
{
	const char *s = result_sqlstate(res);

	/* data exceptions, program limits, and mqext's Kafka errors */
	return strncmp(s, "22", 2) == 0 || strncmp(s, "54", 2) == 0;
}

static void
print_rows(const PGresult *res, const Batch *b)
{
	char		w[1024];

	for (int r = 0; r < PQntuples(res); r++)
		fprintf(stderr, "%s: %s: partition %d offset %lld\n", progname,
				where(b, r, w, sizeof(w)),
				get_be32(PQgetvalue(res, r, 0)),
				(long long) get_be64(PQgetvalue(res, r, 1)));
}

/*
 * Send the batch.  On failure find the failing record(s) and report them;
 * returns false if the command must stop.
 */
static bool
flush_batch(PGconn *conn, const ProduceOpts *o, Batch *b, Stats *st)
{
	PGresult   *res;
	Batch		one;
	size_t		pv,
				pk;
	char		w[1024];
	bool		ok = true;

	if (b->n == 0)
		return true;
	res = send_batch(conn, o, b, conn_opts.verbose > 1);
	if (result_ok(res))
	{
		if (conn_opts.verbose > 1)
			print_rows(res, b);
		st->records += b->n;
		st->bytes += (long long) (b->values.len - ARRAY_HDR) - 4LL * b->n;
		st->batches++;
		PQclear(res);
		b->first_line += b->n;
		batch_reset(b);
		return true;
	}

	if (b->n == 1 || !is_data_error(res))
	{
		char		ctx[2200];

		if (b->n == 1)
			where(b, 0, ctx, sizeof(ctx));
		else
		{
			char		w2[1024];

			snprintf(ctx, sizeof(ctx), "%s to %s (one batch, %s)",
					 where(b, 0, w, sizeof(w)), where(b, b->n - 1, w2, sizeof(w2)),
					 PQstatus(conn) == CONNECTION_OK ? "not written" :
					 "written or not: the connection was lost before the answer");
		}
		print_result_error(res, ctx);
		PQclear(res);
		st->failed += b->n;
		if (!o->keep_going || PQstatus(conn) != CONNECTION_OK || b->n > 1)
			return false;
		b->first_line += b->n;
		batch_reset(b);
		return true;
	}
	PQclear(res);

	/*
	 * A data error in a batch of several: find the record.  Without
	 * --keep-going, produce them one by one in a transaction rolled back
	 * (nothing is written; the aborted appends leave a gap of offsets); with
	 * it, produce them one by one for real.
	 */
	buf_init(&one.values);
	buf_init(&one.keys);
	buf_init(&one.headers);
	one.files = b->files;
	if (!o->keep_going)
		PQclear(mq_exec(conn, "BEGIN", 0, NULL));
	pv = pk = ARRAY_HDR;
	for (int i = 0; i < b->n; i++)
	{
		batch_single(b, o, &pv, &pk, &one);
		one.first_line = b->first_line + i;
		res = send_batch(conn, o, &one, o->keep_going && conn_opts.verbose > 1);
		if (result_ok(res))
		{
			if (o->keep_going)
			{
				if (conn_opts.verbose > 1)
					print_rows(res, &one);
				st->records++;
				st->bytes += (long long) (one.values.len - ARRAY_HDR) - 4;
				st->batches++;
			}
			PQclear(res);
			continue;
		}
		print_result_error(res, where(b, i, w, sizeof(w)));
		PQclear(res);
		st->failed++;
		if (!o->keep_going)
		{
			ok = false;
			break;
		}
		if (PQstatus(conn) != CONNECTION_OK)
			return false;
	}
	if (!o->keep_going)
	{
		PQclear(mq_exec(conn, "ROLLBACK", 0, NULL));
		if (ok)
		{
			/* each alone passed: a limit of the whole batch */
			char		w2[1024];

			fprintf(stderr, "%s: error: %s to %s: the batch failed but each record alone is accepted\n",
					progname, where(b, 0, w, sizeof(w)), where(b, b->n - 1, w2, sizeof(w2)));
			st->failed += b->n;
		}
		ok = false;
	}
	buf_free(&one.values);
	buf_free(&one.keys);
	buf_free(&one.headers);
	b->first_line += b->n;
	batch_reset(b);
	return ok;
}

/* ---------------------------------------------------------------------
 * Input
 * --------------------------------------------------------------------- */

typedef struct Reader
{
	int			fd;
	bool		may_block;		/* not a regular file: reads can wait */
	char	   *buf;
	size_t		start;
	size_t		end;
	size_t		cap;
	bool		eof;
	Buf			rec;			/* the record being assembled */
	size_t		limit;			/* longest record kept */
	bool		overlong;		/* rec is past limit: skipped to the delimiter */
	uint64_t	line_len;		/* the whole record's length */
} Reader;

typedef enum
{
	READ_RECORD,
	READ_EOF,
	READ_WOULD_BLOCK
} ReadStatus;

/*
 * Part of a record read: kept while the record stays within r->limit, then
 * only counted, so that input without delimiters (a binary file, a
 * forgotten -D) cannot fill the memory before its size is checked.
 */
static void
take(Reader *r, const char *data, size_t len)
{
	r->line_len += len;
	if (r->overlong)
		return;
	if (r->rec.len + len > r->limit)
	{
		r->overlong = true;
		buf_reset(&r->rec);
		return;
	}
	buf_append(&r->rec, data, len);
}

/*
 * The next record into r->rec (or, past r->limit, r->overlong and its
 * length).  With check_pause, returns READ_WOULD_BLOCK instead of waiting
 * for input, so that the caller sends what it has.
 */
static ReadStatus
read_record(Reader *r, char delim, bool check_pause)
{
	buf_reset(&r->rec);
	r->overlong = false;
	r->line_len = 0;
	for (;;)
	{
		ssize_t		n;

		if (r->start < r->end)
		{
			char	   *p = memchr(r->buf + r->start, delim, r->end - r->start);

			if (p)
			{
				take(r, r->buf + r->start, p - (r->buf + r->start));
				r->start = p - r->buf + 1;
				return READ_RECORD;
			}
			take(r, r->buf + r->start, r->end - r->start);
			r->start = r->end = 0;
		}
		/* everything in the buffer is consumed: start it over */
		r->start = r->end = 0;
		if (r->eof)
			return r->line_len > 0 ? READ_RECORD : READ_EOF;
		/* (an overlong record is not kept to be put back: read it through) */
		if (check_pause && r->may_block && !r->overlong)
		{
			struct pollfd pfd = {r->fd, POLLIN, 0};

			if (poll(&pfd, 1, 0) == 0)
			{
				/* keep the partial record: put it back in front */
				if (r->rec.len > r->cap)
				{
					r->cap = r->rec.len;
					r->buf = xrealloc(r->buf, r->cap);
				}
				memcpy(r->buf, r->rec.data, r->rec.len);
				r->start = 0;
				r->end = r->rec.len;
				buf_reset(&r->rec);
				return READ_WOULD_BLOCK;
			}
		}
		n = read(r->fd, r->buf + r->end, r->cap - r->end);
		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			fatal("could not read standard input: %s", strerror(errno));
		}
		if (n == 0)
			r->eof = true;
		r->end += n;
	}
}

/*
 * A record refused before it was sent (reported by the caller): without
 * --keep-going the command stops, nothing of its batch written; with it,
 * what came before is sent and the batch goes on after the record.
 * Returns whether to go on.
 */
static bool
after_refused(PGconn *conn, const ProduceOpts *o, Batch *b, Stats *st, long long lineno)
{
	bool		ok;

	st->failed++;
	if (!o->keep_going)
		return false;
	/* keep the line numbers of the batch contiguous */
	ok = flush_batch(conn, o, b, st);
	b->first_line = lineno + 1;
	return ok;
}

/* One whole file as one record. */
static void
read_file(const ProduceOpts *o, const char *path, Buf *out)
{
	int			fd = open(path, O_RDONLY);
	struct stat sb;

	buf_reset(out);
	if (fd < 0 || fstat(fd, &sb) != 0)
		fatal("could not open file \"%s\": %s", path, strerror(errno));
	if (S_ISREG(sb.st_mode) && o->max_message > 0 &&
		record_size(o, o->fixed_key ? (int64_t) o->fixed_key_len : -1, sb.st_size) > o->max_message)
		fatal("%s: record of %lld bytes is larger than max.message.bytes (%lld) of topic \"%s\"",
			  path, (long long) record_size(o, o->fixed_key ? (int64_t) o->fixed_key_len : -1, sb.st_size),
			  (long long) o->max_message, o->topic);
	for (;;)
	{
		ssize_t		n;

		buf_reserve(out, 65536);
		n = read(fd, out->data + out->len, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fatal("could not read file \"%s\": %s", path, strerror(errno));
		if (n == 0)
			break;
		out->len += n;
		if (out->len > (size_t) INT32_MAX - 1024)
			fatal("file \"%s\" is too large for a record", path);
	}
	close(fd);
}

/* max.message.bytes of the topic, or -1 if we may not read it */
static int64_t
topic_max_message(PGconn *conn, const char *topic)
{
	const char *params[1] = {topic};
	PGresult   *res = PQexecParams(conn,
								   "SELECT (config ->> 'max.message.bytes')::int8 FROM mq.topics WHERE topic = $1",
								   1, NULL, params, NULL, NULL, 0);
	int64_t		v = -1;

	if (result_ok(res))
	{
		if (PQntuples(res) == 0)
		{
			PQclear(res);
			PQfinish(conn);
			fatal("topic \"%s\" does not exist", topic);
		}
		v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	}
	else
		verbose_msg("cannot read max.message.bytes of topic \"%s\" (%s): the server checks record sizes",
					topic, result_sqlstate(res));
	PQclear(res);
	return v;
}

static void
add_header(ProduceOpts *o, const char *arg)
{
	const char *eq = strchr(arg, '=');
	size_t		nlen = eq ? (size_t) (eq - arg) : strlen(arg);
	Buf		   *j = &o->headers_json;

	if (nlen == 0)
		usage_error("produce", "header \"%s\" has no name", arg);
	if (j->len == 0)
	{
		buf_putc(j, 1);			/* jsonb binary format version */
		buf_putc(j, '[');
	}
	else
		j->data[--j->len] = '\0';	/* drop the closing ] */
	if (j->len > 2)
		buf_putc(j, ',');
	buf_putc(j, '[');
	buf_put_json_string(j, arg, nlen);
	buf_putc(j, ',');
	if (eq)
		buf_put_json_string(j, eq + 1, strlen(eq + 1));
	else
		buf_append(j, "null", 4);
	buf_append(j, "]]", 2);
	o->nheaders++;
	o->headers_wire += field_size((int64_t) nlen) + field_size(eq ? (int64_t) strlen(eq + 1) : -1);
}

int
cmd_produce(int argc, char **argv)
{
	static const struct option opts[] = {
		{"key-delimiter", required_argument, NULL, 'K'},
		{"key", required_argument, NULL, 'k'},
		{"delimiter", required_argument, NULL, 'D'},
		{"header", required_argument, NULL, 'H'},
		{"partition", required_argument, NULL, 'p'},
		{"null", no_argument, NULL, 'Z'},
		{"batch", required_argument, NULL, OPT_BATCH},
		{"batch-bytes", required_argument, NULL, OPT_BATCH_BYTES},
		{"keep-going", no_argument, NULL, OPT_KEEP_GOING},
		COMMON_LONGOPTS
	};
	ProduceOpts o;
	Batch		b;
	Stats		st = {0, 0, 0, 0};
	PGconn	   *conn;
	int			c;
	int64_t		t0;
	bool		ok = true;
	char		tmp[8];

	memset(&o, 0, sizeof(o));
	o.delim = '\n';
	o.batch = 1000;
	o.batch_bytes = 16 * 1024 * 1024;
	buf_init(&o.headers_json);

	while ((c = getopt_long(argc, argv, "K:k:D:H:p:Z" COMMON_SHORTOPTS, opts, NULL)) != -1)
	{
		switch (c)
		{
			case 'K':
				o.keysep = xmalloc(strlen(optarg) + 1);
				o.keysep_len = unescape(optarg, o.keysep);
				if (o.keysep_len == 0)
					usage_error("produce", "the key delimiter must not be empty");
				break;
			case 'k':
				o.fixed_key = xmalloc(strlen(optarg) + 1);
				o.fixed_key_len = unescape(optarg, o.fixed_key);
				break;
			case 'D':
				if (strlen(optarg) > 4 || unescape(optarg, tmp) != 1)
					usage_error("produce", "the record delimiter must be one byte (e.g. '\\n', '\\0', ';')");
				o.delim = tmp[0];
				break;
			case 'H':
				add_header(&o, optarg);
				break;
			case 'p':
				parse_int("produce", "partition", optarg, 0, INT32_MAX);
				o.partition = optarg;
				break;
			case 'Z':
				o.null_empty = true;
				break;
			case OPT_BATCH:
				o.batch = (int) parse_int("produce", "batch size", optarg, 1, 1000000);
				break;
			case OPT_BATCH_BYTES:
				o.batch_bytes = (size_t) parse_int("produce", "batch bytes", optarg, 1, 512LL * 1024 * 1024);
				break;
			case OPT_KEEP_GOING:
				o.keep_going = true;
				break;
			default:
				common_option(c, "produce", produce_help);
		}
	}
	if (optind >= argc)
		usage_error("produce", "no topic given");
	o.topic = argv[optind++];
	if (o.keysep && o.fixed_key)
		usage_error("produce", "-K and -k cannot be used together");
	if (o.keysep && optind < argc)
		usage_error("produce", "-K splits lines of stdin; it cannot be used with files");
	if (o.headers_json.len)
		o.headers_json.data[o.headers_json.len] = '\0';

	conn = mq_connect();
	o.max_message = topic_max_message(conn, o.topic);

	buf_init(&b.values);
	buf_init(&b.keys);
	buf_init(&b.headers);
	b.first_line = 1;
	b.files = NULL;
	batch_reset(&b);
	t0 = now_usec();

	if (optind < argc)
	{
		/* one record per file */
		Buf			data;

		buf_init(&data);
		b.files = argv + optind;
		for (int i = optind; i < argc && ok; i++)
		{
			read_file(&o, argv[i], &data);
			if (b.n > 0 && (b.n >= o.batch ||
							batch_bytes(&b) + data.len > o.batch_bytes))
				ok = flush_batch(conn, &o, &b, &st);
			if (!ok)
				break;
			batch_add(&b, &o, o.fixed_key,
					  o.fixed_key ? (int64_t) o.fixed_key_len : -1,
					  data.data ? data.data : "", (int64_t) data.len);
		}
		if (ok)
			ok = flush_batch(conn, &o, &b, &st);
		buf_free(&data);
	}
	else
	{
		Reader		r;
		struct stat sb;
		long long	lineno = 0;

		memset(&r, 0, sizeof(r));
		r.fd = STDIN_FILENO;
		r.cap = 256 * 1024;
		r.buf = xmalloc(r.cap);
		r.may_block = !(fstat(r.fd, &sb) == 0 && S_ISREG(sb.st_mode));
		buf_init(&r.rec);
		/*
		 * A longer line cannot make a record the topic takes (the slack:
		 * lines somewhat too long are kept, to report their record's size)
		 */
		r.limit = o.max_message > 0 ? (size_t) o.max_message + o.keysep_len + 65536 : MAX_VALUE_BYTES;

		while (ok)
		{
			ReadStatus rs = read_record(&r, o.delim, b.n > 0);
			const char *key = o.fixed_key;
			int64_t		key_len = o.fixed_key ? (int64_t) o.fixed_key_len : -1;
			const char *value;
			int64_t		value_len;
			int64_t		size;

			if (rs == READ_WOULD_BLOCK)
			{
				ok = flush_batch(conn, &o, &b, &st);
				continue;
			}
			if (rs == READ_EOF)
				break;
			lineno++;
			if (r.overlong)
			{
				if (o.max_message > 0)
					fprintf(stderr, "%s: error: line %lld: a line of %llu bytes, larger than any record max.message.bytes (%lld) of topic \"%s\" lets through%s\n",
							progname, lineno, (unsigned long long) r.line_len,
							(long long) o.max_message, o.topic,
							o.keep_going ? "" : " (its batch is not written)");
				else
					fprintf(stderr, "%s: error: line %lld: a line of %llu bytes, larger than a value can be (%d bytes)%s\n",
							progname, lineno, (unsigned long long) r.line_len, MAX_VALUE_BYTES,
							o.keep_going ? "" : " (its batch is not written)");
				ok = after_refused(conn, &o, &b, &st, lineno);
				continue;
			}
			value = r.rec.data ? r.rec.data : "";
			value_len = (int64_t) r.rec.len;
			if (o.keysep)
			{
				const char *sep = memmem(value, value_len, o.keysep, o.keysep_len);

				if (sep)
				{
					key = value;
					key_len = sep - value;
					value = sep + o.keysep_len;
					value_len -= key_len + (int64_t) o.keysep_len;
				}
			}
			if (o.null_empty)
			{
				if (key && key_len == 0)
				{
					key = NULL;
					key_len = -1;
				}
				if (value_len == 0)
				{
					value = NULL;
					value_len = -1;
				}
			}
			size = record_size(&o, key ? key_len : -1, value ? value_len : -1);
			if (o.max_message > 0 && size > o.max_message)
			{
				fprintf(stderr, "%s: error: line %lld: record of %lld bytes is larger than max.message.bytes (%lld) of topic \"%s\"%s\n",
						progname, lineno, (long long) size, (long long) o.max_message, o.topic,
						o.keep_going ? "" : " (its batch is not written)");
				ok = after_refused(conn, &o, &b, &st, lineno);
				continue;
			}
			if (b.n > 0 && batch_bytes(&b) + (size_t) size > o.batch_bytes)
			{
				ok = flush_batch(conn, &o, &b, &st);
				if (!ok)
					break;
			}
			if (b.n == 0)
				b.first_line = lineno;
			batch_add(&b, &o, key, key_len, value, value_len);
			if (b.n >= o.batch)
				ok = flush_batch(conn, &o, &b, &st);
		}
		if (ok)
			ok = flush_batch(conn, &o, &b, &st);
		free(r.buf);
		buf_free(&r.rec);
	}

	if (conn_opts.verbose)
	{
		double		secs = (now_usec() - t0) / 1e6;

		fprintf(stderr, "%s: produced %lld records (%lld bytes of values) in %lld calls in %.3f s: "
				"%.0f records/s, %.2f MB/s%s; peak memory %ld kB\n",
				progname, st.records, st.bytes, st.batches, secs,
				secs > 0 ? st.records / secs : 0.0,
				secs > 0 ? st.bytes / secs / 1e6 : 0.0,
				st.failed ? "; some records failed" : "",
				peak_rss_kb());
	}
	PQfinish(conn);
	buf_free(&b.values);
	buf_free(&b.keys);
	buf_free(&b.headers);
	return ok && st.failed == 0 ? EXIT_OK : EXIT_ERROR;
}
