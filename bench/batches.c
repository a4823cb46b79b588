/*
 * bench/batches.c: the batch-level API measurements of scripts/bench.sh, a
 * small libpq client (built by the bench script with gcc, with mqext's
 * codec compiled in: src/codec/ is pure C and includes no PostgreSQL
 * header).  One connection, one process; every timing includes the
 * client's own work (encoding, decoding).
 *
 *   batches produce CONNINFO TOPIC RECORDS PER_BATCH PAYLOAD
 *       RECORDS records of PAYLOAD bytes (null key, no headers, the wall
 *       clock as timestamp) to partition 0 of TOPIC: each call encodes
 *       one RecordBatch v2 of PER_BATCH records (MqBatchEncode, CRC-32C
 *       included) and sends it as a binary parameter of
 *           SELECT base_offset FROM mq.produce_encoded($1, 0, $2)
 *       with PQexecParams, autocommit (one transaction per batch).
 *   batches produce-array CONNINFO TOPIC RECORDS PER_BATCH PAYLOAD
 *       the same with mq.produce_batch: each call sends PER_BATCH values as
 *       one bytea[] parameter in the binary array format,
 *           SELECT min("offset") FROM mq.produce_batch($1, $2::bytea[])
 *       (what a client that binds its arrays in binary pays, against the
 *       array literal that pgbench sends as text)
 *   batches blob CONNINFO LABEL RECORDS PER_BATCH PAYLOAD
 *       Postgres' own floor for storing a batch as one row per
 *       transaction: the same batches as produce, each inserted as one
 *       bytea value (a binary parameter) into raw_blob, whose column is
 *       stored out of line uncompressed as mqext's segments store theirs,
 *           INSERT INTO raw_blob (label, batch) VALUES ($1, $2) RETURNING id
 *       (no decoding, no offsets, no LSO: only the row, its TOAST chunks
 *       and index entries, the WAL and the commit's flush).
 *   batches blob-fetch CONNINFO LABEL RECORDS
 *       the read side of that floor: the rows blob stored under LABEL, one
 *       per call by id, with binary results, each batch decoded as fetch
 *       decodes them.
 *   batches fetch CONNINFO TOPIC RECORDS
 *       reads RECORDS records of partition 0 of TOPIC from offset 0 with
 *           SELECT last_offset, batch FROM mq.fetch_batches($1, 0, $2, 1)
 *       (one stored batch per call), binary results; checks each batch's
 *       CRC and decodes every record (MqBatchDecodeHeader + the record
 *       iterator), touching key and value, and goes on after last_offset.
 *   batches select CONNINFO RECORDS CHUNK
 *       the baseline through the same client: RECORDS rows of raw_copy,
 *           SELECT id, payload FROM raw_copy WHERE id >= $1 AND id < $1 + CHUNK
 *       binary results, touching every value.
 *
 * Prints KEY=VALUE lines on stdout (per_s: records or rows per second);
 * any error ends it with status 1.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "record_batch.h"

#include "bench_util.h"




static uint64_t
get_be64(const char *p)
{
	const unsigned char *u = (const unsigned char *) p;
	uint64_t	v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | u[i];
	return v;
}

static PGresult *
exec(PGconn *c, const char *sql, int n, const char *const *vals,
	 const int *lens, const int *fmts, int result_format)
{
	PGresult   *r = PQexecParams(c, sql, n, NULL, vals, lens, fmts, result_format);

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		die("%s: %s", sql, PQerrorMessage(c));
	return r;
}

/*
 * The second parameter of a produce call (the records, in binary), built
 * into *buf; returns its size.
 */
typedef size_t (*build_fn) (uint8_t **buf, size_t *cap, int n, int payload);

/* a RecordBatch v2 of n records of payload bytes, for mq.produce_encoded */
static size_t
build_batch(uint8_t **buf, size_t *cap, int n, int payload)
{
	static MqRecord *recs;
	static uint8_t *value;
	static int	nrecs;
	int64_t		ts = (int64_t) (wall() * 1000);
	MqBatchHeader hdr;
	size_t		size;

	if (n > nrecs)
	{
		recs = realloc(recs, n * sizeof(MqRecord));
		nrecs = n;
		value = realloc(value, payload);
		memset(value, 'x', payload);
	}
	for (int i = 0; i < n; i++)
	{
		recs[i].timestamp = ts;
		recs[i].key = NULL;
		recs[i].key_len = -1;
		recs[i].value = value;
		recs[i].value_len = payload;
		recs[i].num_headers = 0;
		recs[i].headers = NULL;
	}
	size = MqBatchEncodedSize(recs, n);
	if (size > *cap)
	{
		*cap = size;
		*buf = realloc(*buf, size);
	}
	memset(&hdr, 0, sizeof(hdr));
	hdr.partition_leader_epoch = -1;	/* as Kafka producers send it */
	hdr.producer_id = -1;
	hdr.producer_epoch = -1;
	hdr.base_sequence = -1;
	MqBatchEncode(&hdr, recs, n, *buf);
	return size;
}

static uint8_t *
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
	return p + 4;
}

/*
 * A bytea[] of n values of payload bytes in the array binary format, for
 * mq.produce_batch: ndim, has-nulls flag, element type (bytea, 17), then
 * the dimension (n, lower bound 1), then each element as length + bytes.
 */
static size_t
build_array(uint8_t **buf, size_t *cap, int n, int payload)
{
	size_t		size = 20 + (size_t) n * (4 + payload);
	uint8_t    *p;

	if (size > *cap)
	{
		*cap = size;
		*buf = realloc(*buf, size);
	}
	p = put_be32(*buf, 1);
	p = put_be32(p, 0);
	p = put_be32(p, 17);
	p = put_be32(p, n);
	p = put_be32(p, 1);
	for (int i = 0; i < n; i++)
	{
		p = put_be32(p, payload);
		memset(p, 'x', payload);
		p += payload;
	}
	return size;
}

/*
 * RECORDS records in calls of PER_BATCH, each call its own transaction
 * (autocommit: one WAL flush each), its request built by build.
 */
static int
produce(PGconn *c, const char *sql, build_fn build, const char *topic,
		long records, int per_batch, int payload)
{
	uint8_t    *buf = NULL;
	size_t		cap = 0;
	double		t0;
	long		sent = 0;
	const int	fmts[2] = {0, 1};

	t0 = now();
	while (sent < records)
	{
		int			n = records - sent < per_batch ? (int) (records - sent) : per_batch;
		size_t		size = build(&buf, &cap, n, payload);
		const char *vals[2] = {topic, (const char *) buf};
		int			lens[2] = {0, (int) size};

		PQclear(exec(c, sql, 2, vals, lens, fmts, 0));
		sent += n;
	}
	printf("per_s=%.1f\n", records / (now() - t0));
	return 0;
}

/*
 * Check a batch's CRC and decode its records at or after from, touching
 * key and value; returns how many.
 */
static long
decode_batch(const uint8_t *b, size_t len, int64_t from, uint64_t *touched)
{
	MqBatchHeader hdr;
	MqRecordIter it;
	MqDecodedRecord rec;
	MqCodecStatus st;
	bool		done;
	long		n = 0;

	st = MqBatchDecodeHeader(b, len, true, &hdr);
	if (st != MQ_CODEC_OK)
		die("%s", MqCodecStatusMessage(st));
	MqRecordIterInit(&it, b, len, &hdr);
	while ((st = MqRecordIterNext(&it, &rec, &done)) == MQ_CODEC_OK && !done)
	{
		if (rec.offset < from)
			continue;			/* the batch began before what we asked for */
		*touched += (rec.value_len > 0 ? rec.value[0] : 0) + (rec.key_len > 0 ? rec.key[0] : 0);
		n++;
	}
	if (st != MQ_CODEC_OK)
		die("%s", MqCodecStatusMessage(st));
	return n;
}

/*
 * Read RECORDS records, one stored batch per call of sql ($1 = name, $2 =
 * a cursor; the result's first column is a bigint, the second the batch),
 * decoding each batch.  For mq.fetch_batches the cursor is an offset:
 * records below it are skipped and it moves to the batch's last offset
 * + 1; for the floor's raw_blob it is the row id, and every record counts.
 */
static int
read_batches(PGconn *c, const char *sql, const char *name, long records,
			 bool cursor_is_offset)
{
	long		got = 0;
	long		calls = 0;
	uint64_t	touched = 0;
	int64_t		cursor = 0;
	double		t0 = now();

	while (got < records)
	{
		char		off[32];
		const char *vals[2];
		PGresult   *r;
		int			rows;

		snprintf(off, sizeof(off), "%lld", (long long) cursor);
		vals[0] = name;
		vals[1] = off;
		r = exec(c, sql, 2, vals, NULL, NULL, 1);
		rows = PQntuples(r);
		if (rows == 0)
			die("no batch at %lld", (long long) cursor);
		calls++;
		for (int i = 0; i < rows; i++)
		{
			got += decode_batch((const uint8_t *) PQgetvalue(r, i, 1),
								PQgetlength(r, i, 1), cursor_is_offset ? cursor : 0,
								&touched);
			cursor = (int64_t) get_be64(PQgetvalue(r, i, 0)) + (cursor_is_offset ? 1 : 0);
		}
		PQclear(r);
	}
	printf("per_s=%.1f\ncalls=%ld\nrecords=%ld\ntouched=%llu\n",
		   got / (now() - t0), calls, got, (unsigned long long) touched);
	return 0;
}

static int
select_rows(PGconn *c, long records, int chunk)
{
	long		got = 0;
	uint64_t	touched = 0;
	double		t0 = now();
	char		sql[128];

	snprintf(sql, sizeof(sql),
			 "SELECT id, payload FROM raw_copy WHERE id >= $1 AND id < $1 + %d", chunk);
	for (long from = 0; from < records; from += chunk)
	{
		char		off[32];
		const char *vals[1];
		PGresult   *r;

		snprintf(off, sizeof(off), "%ld", from);
		vals[0] = off;
		r = exec(c, sql, 1, vals, NULL, NULL, 1);
		for (int i = 0; i < PQntuples(r); i++)
		{
			const char *v = PQgetvalue(r, i, 1);

			touched += (PQgetlength(r, i, 1) > 0 ? (unsigned char) v[0] : 0) +
				(uint64_t) get_be64(PQgetvalue(r, i, 0));
			got++;
		}
		PQclear(r);
	}
	printf("per_s=%.1f\nrecords=%ld\ntouched=%llu\n",
		   got / (now() - t0), got, (unsigned long long) touched);
	return 0;
}

int
main(int argc, char **argv)
{
	PGconn	   *c;

	bench_prog = "batches";
	if (argc < 3)
	{
		fprintf(stderr, "usage: batches produce|produce-array|blob|fetch|blob-fetch|select CONNINFO ARGS...\n");
		return 2;
	}
	c = connect_db(argv[2], "mqbench_batches");
	if (strcmp(argv[1], "produce") == 0 && argc == 7)
		return produce(c, "SELECT base_offset FROM mq.produce_encoded($1, 0, $2)", build_batch,
					   argv[3], atol(argv[4]), atoi(argv[5]), atoi(argv[6]));
	if (strcmp(argv[1], "blob") == 0 && argc == 7)
		return produce(c, "INSERT INTO raw_blob (label, batch) VALUES ($1, $2) RETURNING id",
					   build_batch, argv[3], atol(argv[4]), atoi(argv[5]), atoi(argv[6]));
	if (strcmp(argv[1], "produce-array") == 0 && argc == 7)
		return produce(c, "SELECT min(\"offset\") FROM mq.produce_batch($1, $2::bytea[])",
					   build_array, argv[3], atol(argv[4]), atoi(argv[5]), atoi(argv[6]));
	if (strcmp(argv[1], "blob-fetch") == 0 && argc == 5)
		return read_batches(c, "SELECT id, batch FROM raw_blob WHERE label = $1 AND id > $2 ORDER BY id LIMIT 1",
							argv[3], atol(argv[4]), false);
	if (strcmp(argv[1], "fetch") == 0 && argc == 5)
		return read_batches(c, "SELECT last_offset, batch FROM mq.fetch_batches($1, 0, $2, 1)",
							argv[3], atol(argv[4]), true);
	if (strcmp(argv[1], "select") == 0 && argc == 5)
		return select_rows(c, atol(argv[3]), atoi(argv[4]));
	fprintf(stderr, "batches: bad arguments\n");
	return 2;
}
