/*-------------------------------------------------------------------------
 *
 * test/unit/codec_test.c
 *	  Unit tests of the pure-C codec against the Kafka test vectors.
 *
 * Reads the line format produced by vectors.pl from the JSON files in test/data/kafka
 * and checks varint/varlong/uvarint, CRC-32C, murmur2 and RecordBatch v2
 * against every vector, then runs negative tests (bit flips, truncation,
 * bad magic, corrupted varints, length and count mismatches with a valid
 * CRC, random mutations).  Built with ASan+UBSan: buffers handed to the
 * decoder are malloc'd at their exact size so any over-read is caught.
 *
 * Output is TAP-like: "ok N - group" / "not ok N - group" per check group,
 * "# ..." diagnostics, and a summary; exit status 0 only if all pass.
 *
 * Encoding is checked byte for byte against every vector.  Most vectors
 * come straight from MqBatchEncode; three need one of the added helpers,
 * because their bytes are not a plain producer batch:
 *	- log_append_time: the broker's rewrite.  Encode the records with their
 *	  creation times, then MqBatchSetMaxTimestamp(LogAppendTime, T), as
 *	  Kafka's DefaultRecordBatch.setMaxTimestamp does.  (Encoding with the
 *	  LOG_APPEND_TIME attribute and every timestamp set to T, as
 *	  record_batch.h asks a producer-side caller to do, gives a different
 *	  but equivalent batch; checked separately.)
 *	- empty_batch_after_compaction: no records, yet lastOffsetDelta 2 and a
 *	  maxTimestamp; MqBatchEncode cannot invent those from zero records, so
 *	  MqBatchEncodeEmpty writes the header fields as given.
 *	- the two empty sarama crosschecks: baseTimestamp 0 and maxTimestamp 0
 *	  (sarama's choice, not Java's -1); MqBatchEncodeEmpty again.
 * The control batches encode directly (attributes 0x30, key/value are the
 * marker bytes).  Not reproducible, so checked decode-only (plus a
 * semantic re-encode: same records, keys, values, headers, timestamps):
 *	- gzip_multi_records: compression is not supported, and the payload
 *	  depends on the zlib build anyway.
 *	- sarama_uncompressed_record: its only record has timestampDelta 5
 *	  (baseTimestamp is not the first record's timestamp) and maxTimestamp
 *	  0.  Our encoder, like Java's producer, always writes baseTimestamp =
 *	  first record's timestamp, i.e. a first delta of 0.
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "murmur2.h"
#include "record_batch.h"
#include "varint.h"

#include "batch_util.h"

/* crc32c_portable.c: the slice-by-8 path under another name */
extern uint32_t MqTestCrc32cPortable(const void *data, size_t len);
extern uint32_t MqTestCrc32cPortableUpdate(uint32_t crc, const void *data,
										   size_t len);

/* ----------------------------------------------------------------
 *		Minimal TAP-ish harness
 * ----------------------------------------------------------------
 */
static int	n_groups;
static int	n_groups_failed;
static long n_checks;
static long n_checks_failed;
static bool group_ok;
static int	group_diags;
static char group_name[256];

static void
group_begin(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(group_name, sizeof(group_name), fmt, ap);
	va_end(ap);
	group_ok = true;
	group_diags = 0;
}

static void
group_end(void)
{
	n_groups++;
	if (!group_ok)
		n_groups_failed++;
	printf("%sok %d - %s\n", group_ok ? "" : "not ", n_groups, group_name);
	fflush(stdout);
}

static bool
check_at(bool cond, int line, const char *fmt,...)
{
	n_checks++;
	if (cond)
		return true;
	n_checks_failed++;
	group_ok = false;
	if (group_diags++ < 10)
	{
		va_list		ap;

		printf("#   line %d: ", line);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	return false;
}

#define CHECK(cond, ...) check_at((cond), __LINE__, __VA_ARGS__)

/* ----------------------------------------------------------------
 *		Allocation arena: everything is freed at exit (LeakSanitizer)
 * ----------------------------------------------------------------
 */
static void **arena;
static size_t arena_n;
static size_t arena_cap;

static void *
xalloc(size_t n)
{
	void	   *p = calloc(1, n ? n : 1);

	if (p == NULL)
	{
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	if (arena_n == arena_cap)
	{
		arena_cap = arena_cap ? arena_cap * 2 : 1024;
		arena = realloc(arena, arena_cap * sizeof(void *));
		if (arena == NULL)
		{
			fprintf(stderr, "out of memory\n");
			exit(2);
		}
	}
	arena[arena_n++] = p;
	return p;
}

static void
arena_free(void)
{
	size_t		i;

	for (i = 0; i < arena_n; i++)
		free(arena[i]);
	free(arena);
}

static char *
xstrdup(const char *s)
{
	char	   *p = xalloc(strlen(s) + 1);

	memcpy(p, s, strlen(s) + 1);
	return p;
}

/* An exact-size heap copy, so ASan flags any read past the end. */
static uint8_t *
exact_copy(const uint8_t *src, size_t len)
{
	uint8_t    *p = malloc(len ? len : 1);

	if (p == NULL)
		abort();
	if (len > 0)
		memcpy(p, src, len);
	return p;
}

/* ----------------------------------------------------------------
 *		Vector data
 * ----------------------------------------------------------------
 */

/* A byte string; len -1 means null ("~"), data is then NULL. */
typedef struct Bytes
{
	uint8_t    *data;
	int32_t		len;
} Bytes;

typedef struct VInt
{
	char		kind[16];		/* varint, varlong, uvarint */
	int64_t		value;
	uint64_t	zigzag;
	bool		has_zigzag;
	Bytes		hex;
	int			size;
} VInt;

typedef struct VCrc
{
	char	   *label;
	Bytes		input;
	uint32_t	crc;
	bool		has_pub;
	uint32_t	pub;
} VCrc;

typedef struct VMurmur
{
	char	   *label;
	Bytes		key;
	int32_t		murmur2;
	int32_t		positive;
	int			nparts;
	int			n[32];
	int			p[32];
	bool		has_pub;
	int32_t		pub;
} VMurmur;

typedef struct VHeader
{
	Bytes		key;
	Bytes		value;
} VHeader;

typedef struct VRecord
{
	int32_t		offset_delta;
	int64_t		offset;
	int64_t		ts_delta;
	int64_t		ts;
	int64_t		eff_ts;
	int32_t		sequence;
	int			attributes;
	Bytes		key;
	Bytes		value;
	int			nheaders;
	VHeader    *headers;
} VRecord;

typedef struct VSpan
{
	int			start;
	int			end;
	int			length_field;
	Bytes		hex;
} VSpan;

typedef struct VBatch
{
	char	   *kind;
	char	   *name;
	char	   *provenance;
	int64_t		base_offset;
	int32_t		leader_epoch;
	int			magic;
	int			attributes;
	int32_t		last_offset_delta;
	int64_t		base_ts;
	int64_t		max_ts;
	int64_t		producer_id;
	int			producer_epoch;
	int32_t		base_sequence;
	int32_t		records_count;
	Bytes		bytes;
	int			length;
	int			batch_length;
	uint32_t	crc;
	int			records_start;
	int			nrecs;
	VRecord    *recs;
	int			nspans;
	VSpan	   *spans;
	Bytes		uncompressed;
} VBatch;

typedef struct VCross
{
	char	   *name;
	Bytes		ref;
	Bytes		kafkajs;
	uint32_t	crc;
	int			matches;
} VCross;

#define MAX_ITEMS 512

static VInt vints[MAX_ITEMS];
static int	n_vints;
static VCrc vcrcs[MAX_ITEMS];
static int	n_vcrcs;
static VMurmur vmurmurs[MAX_ITEMS];
static int	n_vmurmurs;
static VBatch vbatches[64];
static int	n_vbatches;
static VCross vcross[16];
static int	n_vcross;

static int	parse_errors;

static void
parse_error(int lineno, const char *what)
{
	fprintf(stderr, "vectors line %d: %s\n", lineno, what);
	parse_errors++;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static Bytes
parse_bytes(const char *s, int lineno)
{
	Bytes		b = {NULL, -1};
	size_t		n;
	size_t		i;

	if (s == NULL)
	{
		parse_error(lineno, "missing bytes field");
		return b;
	}
	if (strcmp(s, "~") == 0)
		return b;
	if (strcmp(s, "-") == 0)
	{
		b.data = xalloc(1);
		b.len = 0;
		return b;
	}
	n = strlen(s);
	if (n % 2 != 0)
		parse_error(lineno, "odd hex length");
	b.data = xalloc(n / 2);
	b.len = (int32_t) (n / 2);
	for (i = 0; i < n / 2; i++)
	{
		int			hi = hexval(s[2 * i]);
		int			lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			parse_error(lineno, "bad hex digit");
		b.data[i] = (uint8_t) ((hi << 4) | (lo & 15));
	}
	return b;
}

static int64_t
parse_i64(const char *s, int lineno)
{
	char	   *end;
	long long	v;

	if (s == NULL)
	{
		parse_error(lineno, "missing integer field");
		return 0;
	}
	v = strtoll(s, &end, 10);
	if (*end != '\0')
		parse_error(lineno, "bad integer");
	return (int64_t) v;
}

static uint64_t
parse_u64(const char *s, int lineno)
{
	char	   *end;
	unsigned long long v;

	if (s == NULL)
	{
		parse_error(lineno, "missing integer field");
		return 0;
	}
	v = strtoull(s, &end, 10);
	if (*end != '\0')
		parse_error(lineno, "bad unsigned integer");
	return (uint64_t) v;
}

#define MAX_TOKENS 32

static int
tokenize(char *line, char **tok)
{
	int			n = 0;
	char	   *save = NULL;
	char	   *t;

	for (t = strtok_r(line, " \t\r\n", &save); t != NULL && n < MAX_TOKENS;
		 t = strtok_r(NULL, " \t\r\n", &save))
		tok[n++] = t;
	return n;
}

/* "count TAG N" lines from vectors.pl, checked against what we parsed. */
static struct
{
	char		tag[16];
	long		declared;
	long		seen;
}			tag_counts[32];
static int	n_tag_counts;

static void
count_tag(const char *tag)
{
	int			i;

	for (i = 0; i < n_tag_counts; i++)
		if (strcmp(tag_counts[i].tag, tag) == 0)
			break;
	if (i == n_tag_counts)
	{
		if (n_tag_counts == 32)
			return;
		snprintf(tag_counts[i].tag, sizeof(tag_counts[i].tag), "%s", tag);
		tag_counts[i].declared = -1;
		n_tag_counts++;
	}
	tag_counts[i].seen++;
}

static long
tag_seen(const char *tag)
{
	int			i;

	for (i = 0; i < n_tag_counts; i++)
		if (strcmp(tag_counts[i].tag, tag) == 0)
			return tag_counts[i].seen;
	return 0;
}

static bool
load_vectors(const char *path)
{
	FILE	   *f = fopen(path, "r");
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		got;
	int			lineno = 0;
	VBatch	   *cur = NULL;
	VRecord    *currec = NULL;
	int			cur_hdr = 0;

	if (f == NULL)
	{
		perror(path);
		return false;
	}
	while ((got = getline(&line, &cap, f)) > 0)
	{
		char	   *tok[MAX_TOKENS];
		int			nt;
		const char *tag;

		lineno++;
		nt = tokenize(line, tok);
		if (nt == 0)
			continue;
		tag = tok[0];
		if (strcmp(tag, "count") == 0)
		{
			int			i;

			if (nt != 3)
			{
				parse_error(lineno, "bad count line");
				continue;
			}
			count_tag(tok[1]);
			for (i = 0; i < n_tag_counts; i++)
				if (strcmp(tag_counts[i].tag, tok[1]) == 0)
				{
					tag_counts[i].seen--;	/* undo count_tag's increment */
					tag_counts[i].declared = (long) parse_i64(tok[2], lineno);
				}
			continue;
		}
		count_tag(tag);

		if (strcmp(tag, "varint") == 0 || strcmp(tag, "varlong") == 0)
		{
			VInt	   *v = &vints[n_vints++];

			if (nt != 5 || n_vints >= MAX_ITEMS)
			{
				parse_error(lineno, "bad varint line");
				continue;
			}
			snprintf(v->kind, sizeof(v->kind), "%s", tag);
			v->value = parse_i64(tok[1], lineno);
			v->zigzag = parse_u64(tok[2], lineno);
			v->has_zigzag = true;
			v->hex = parse_bytes(tok[3], lineno);
			v->size = (int) parse_i64(tok[4], lineno);
		}
		else if (strcmp(tag, "uvarint") == 0)
		{
			VInt	   *v = &vints[n_vints++];

			if (nt != 4 || n_vints >= MAX_ITEMS)
			{
				parse_error(lineno, "bad uvarint line");
				continue;
			}
			snprintf(v->kind, sizeof(v->kind), "%s", tag);
			v->value = parse_i64(tok[1], lineno);
			v->hex = parse_bytes(tok[2], lineno);
			v->size = (int) parse_i64(tok[3], lineno);
		}
		else if (strcmp(tag, "kref") == 0)
		{
			VInt	   *v = &vints[n_vints++];

			if (nt != 4 || n_vints >= MAX_ITEMS)
			{
				parse_error(lineno, "bad kref line");
				continue;
			}
			snprintf(v->kind, sizeof(v->kind), "ref-%s", tok[1]);
			v->value = parse_i64(tok[2], lineno);
			v->hex = parse_bytes(tok[3], lineno);
			v->size = v->hex.len;
		}
		else if (strcmp(tag, "crc") == 0)
		{
			VCrc	   *c = &vcrcs[n_vcrcs++];

			if (nt < 4 || nt > 5 || n_vcrcs >= MAX_ITEMS)
			{
				parse_error(lineno, "bad crc line");
				continue;
			}
			c->label = xstrdup(tok[1]);
			c->input = parse_bytes(tok[2], lineno);
			c->crc = (uint32_t) parse_u64(tok[3], lineno);
			if (nt == 5)
			{
				c->has_pub = true;
				c->pub = (uint32_t) parse_u64(tok[4], lineno);
			}
		}
		else if (strcmp(tag, "murmur") == 0)
		{
			VMurmur    *m = &vmurmurs[n_vmurmurs++];
			char	   *save = NULL;
			char	   *pair;

			if (nt < 6 || nt > 7 || n_vmurmurs >= MAX_ITEMS)
			{
				parse_error(lineno, "bad murmur line");
				continue;
			}
			m->label = xstrdup(tok[1]);
			m->key = parse_bytes(tok[2], lineno);
			m->murmur2 = (int32_t) parse_i64(tok[3], lineno);
			m->positive = (int32_t) parse_i64(tok[4], lineno);
			for (pair = strtok_r(tok[5], ",", &save); pair != NULL;
				 pair = strtok_r(NULL, ",", &save))
			{
				char	   *eq = strchr(pair, '=');

				if (eq == NULL || m->nparts == 32)
				{
					parse_error(lineno, "bad partition pair");
					break;
				}
				*eq = '\0';
				m->n[m->nparts] = (int) parse_i64(pair, lineno);
				m->p[m->nparts] = (int) parse_i64(eq + 1, lineno);
				m->nparts++;
			}
			if (nt == 7)
			{
				m->has_pub = true;
				m->pub = (int32_t) parse_i64(tok[6], lineno);
			}
		}
		else if (strcmp(tag, "batch") == 0)
		{
			if (nt != 4 || n_vbatches >= 64)
			{
				parse_error(lineno, "bad batch line");
				continue;
			}
			cur = &vbatches[n_vbatches++];
			cur->kind = xstrdup(tok[1]);
			cur->name = xstrdup(tok[2]);
			cur->provenance = xstrdup(tok[3]);
			cur->recs = xalloc(sizeof(VRecord) * 256);
			cur->spans = xalloc(sizeof(VSpan) * 256);
			cur->uncompressed.len = -1;
			currec = NULL;
		}
		else if (strcmp(tag, "bhdr") == 0 && cur != NULL && nt == 12)
		{
			cur->base_offset = parse_i64(tok[1], lineno);
			cur->leader_epoch = (int32_t) parse_i64(tok[2], lineno);
			cur->magic = (int) parse_i64(tok[3], lineno);
			cur->attributes = (int) parse_i64(tok[4], lineno);
			cur->last_offset_delta = (int32_t) parse_i64(tok[5], lineno);
			cur->base_ts = parse_i64(tok[6], lineno);
			cur->max_ts = parse_i64(tok[7], lineno);
			cur->producer_id = parse_i64(tok[8], lineno);
			cur->producer_epoch = (int) parse_i64(tok[9], lineno);
			cur->base_sequence = (int32_t) parse_i64(tok[10], lineno);
			cur->records_count = (int32_t) parse_i64(tok[11], lineno);
		}
		else if (strcmp(tag, "bexp") == 0 && cur != NULL && nt == 6)
		{
			cur->bytes = parse_bytes(tok[1], lineno);
			cur->length = (int) parse_i64(tok[2], lineno);
			cur->batch_length = (int) parse_i64(tok[3], lineno);
			cur->crc = (uint32_t) parse_u64(tok[4], lineno);
			cur->records_start = (int) parse_i64(tok[5], lineno);
		}
		else if (strcmp(tag, "rec") == 0 && cur != NULL && nt == 11 &&
				 cur->nrecs < 256)
		{
			currec = &cur->recs[cur->nrecs++];
			currec->offset_delta = (int32_t) parse_i64(tok[1], lineno);
			currec->offset = parse_i64(tok[2], lineno);
			currec->ts_delta = parse_i64(tok[3], lineno);
			currec->ts = parse_i64(tok[4], lineno);
			currec->eff_ts = parse_i64(tok[5], lineno);
			currec->sequence = (int32_t) parse_i64(tok[6], lineno);
			currec->attributes = (int) parse_i64(tok[7], lineno);
			currec->key = parse_bytes(tok[8], lineno);
			currec->value = parse_bytes(tok[9], lineno);
			currec->nheaders = (int) parse_i64(tok[10], lineno);
			currec->headers = xalloc(sizeof(VHeader) *
									 (size_t) (currec->nheaders + 1));
			cur_hdr = 0;
		}
		else if (strcmp(tag, "rhdr") == 0 && currec != NULL && nt == 3 &&
				 cur_hdr < currec->nheaders)
		{
			currec->headers[cur_hdr].key = parse_bytes(tok[1], lineno);
			currec->headers[cur_hdr].value = parse_bytes(tok[2], lineno);
			cur_hdr++;
		}
		else if (strcmp(tag, "span") == 0 && cur != NULL && nt == 5 &&
				 cur->nspans < 256)
		{
			VSpan	   *s = &cur->spans[cur->nspans++];

			s->start = (int) parse_i64(tok[1], lineno);
			s->end = (int) parse_i64(tok[2], lineno);
			s->length_field = (int) parse_i64(tok[3], lineno);
			s->hex = parse_bytes(tok[4], lineno);
		}
		else if (strcmp(tag, "uncomp") == 0 && cur != NULL && nt == 2)
			cur->uncompressed = parse_bytes(tok[1], lineno);
		else if (strcmp(tag, "end") == 0 && cur != NULL)
		{
			cur = NULL;
			currec = NULL;
		}
		else if (strcmp(tag, "cross") == 0 && nt == 6 && n_vcross < 16)
		{
			VCross	   *x = &vcross[n_vcross++];

			x->name = xstrdup(tok[1]);
			x->ref = parse_bytes(tok[2], lineno);
			x->kafkajs = parse_bytes(tok[3], lineno);
			x->crc = (uint32_t) parse_u64(tok[4], lineno);
			x->matches = (int) parse_i64(tok[5], lineno);
		}
		else
			parse_error(lineno, "unexpected line");
	}
	free(line);
	fclose(f);
	return parse_errors == 0;
}

/* ----------------------------------------------------------------
 *		Helpers
 * ----------------------------------------------------------------
 */
static bool
bytes_eq(Bytes want, const uint8_t *got, int32_t got_len)
{
	if (want.len != got_len)
		return false;
	if (want.len < 0)
		return got == NULL;
	if (want.len > 0 && got == NULL)
		return false;
	return want.len == 0 || memcmp(want.data, got, (size_t) want.len) == 0;
}

static VBatch *
find_batch(const char *name)
{
	int			i;

	for (i = 0; i < n_vbatches; i++)
		if (strcmp(vbatches[i].name, name) == 0)
			return &vbatches[i];
	return NULL;
}

static int
first_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	size_t		i;

	for (i = 0; i < n; i++)
		if (a[i] != b[i])
			return (int) i;
	return -1;
}

/* Fill MqRecord/MqHeader arrays from a vector's input records. */
static MqRecord *
vector_records(const VBatch *vb)
{
	MqRecord   *recs = xalloc(sizeof(MqRecord) * (size_t) (vb->nrecs + 1));
	int			i;

	for (i = 0; i < vb->nrecs; i++)
	{
		const VRecord *vr = &vb->recs[i];
		MqHeader   *hs = xalloc(sizeof(MqHeader) * (size_t) (vr->nheaders + 1));
		int			j;

		for (j = 0; j < vr->nheaders; j++)
		{
			hs[j].key = vr->headers[j].key.data;
			hs[j].key_len = vr->headers[j].key.len;
			hs[j].value = vr->headers[j].value.data;
			hs[j].value_len = vr->headers[j].value.len;
		}
		recs[i].timestamp = vr->ts;
		recs[i].key = vr->key.data;
		recs[i].key_len = vr->key.len;
		recs[i].value = vr->value.data;
		recs[i].value_len = vr->value.len;
		recs[i].num_headers = vr->nheaders;
		recs[i].headers = hs;
	}
	return recs;
}

static void
check_header_fields(const VBatch *vb, const MqBatchHeader *h)
{
	CHECK(h->base_offset == vb->base_offset, "baseOffset %" PRId64, h->base_offset);
	CHECK(h->batch_length == vb->batch_length, "batchLength %d", (int) h->batch_length);
	CHECK(h->partition_leader_epoch == vb->leader_epoch, "partitionLeaderEpoch");
	CHECK(h->magic == vb->magic, "magic");
	CHECK(h->crc == vb->crc, "crc %08x want %08x", h->crc, vb->crc);
	CHECK(h->attributes == vb->attributes, "attributes %d", h->attributes);
	CHECK(h->last_offset_delta == vb->last_offset_delta, "lastOffsetDelta");
	CHECK(h->base_timestamp == vb->base_ts, "baseTimestamp %" PRId64, h->base_timestamp);
	CHECK(h->max_timestamp == vb->max_ts, "maxTimestamp %" PRId64, h->max_timestamp);
	CHECK(h->producer_id == vb->producer_id, "producerId");
	CHECK(h->producer_epoch == vb->producer_epoch, "producerEpoch");
	CHECK(h->base_sequence == vb->base_sequence, "baseSequence");
	CHECK(h->records_count == vb->records_count, "recordsCount %d", (int) h->records_count);
}

/*
 * Iterate the records of [it] and compare each with the vector.  When buf
 * is given, record spans are checked against the byte offsets too.
 */
static void
check_records(const VBatch *vb, MqRecordIter *it, const uint8_t *buf,
			  bool compare_offsets)
{
	int			i;
	MqDecodedRecord d;
	bool		done;
	MqCodecStatus st;

	for (i = 0; i < vb->nrecs; i++)
	{
		const VRecord *vr = &vb->recs[i];
		const uint8_t *start = it->pos;
		MqHeaderIter hi;
		MqHeader	h;
		int			j;

		st = MqRecordIterNext(it, &d, &done);
		if (!CHECK(st == MQ_CODEC_OK && !done, "record %d: status %d done %d",
				   i, (int) st, (int) done))
			return;
		if (compare_offsets)
			CHECK(d.offset == vr->offset, "record %d offset %" PRId64, i, d.offset);
		else
			CHECK(d.offset - it->hdr->base_offset == vr->offset_delta,
				  "record %d offsetDelta", i);
		CHECK(d.timestamp == vr->eff_ts, "record %d timestamp %" PRId64 " want %" PRId64,
			  i, d.timestamp, vr->eff_ts);
		CHECK(d.attributes == vr->attributes, "record %d attributes", i);
		CHECK(bytes_eq(vr->key, d.key, d.key_len), "record %d key (len %d)", i, (int) d.key_len);
		CHECK(bytes_eq(vr->value, d.value, d.value_len), "record %d value (len %d)", i, (int) d.value_len);
		CHECK(d.num_headers == vr->nheaders, "record %d num_headers %d", i, (int) d.num_headers);
		/* the raw delta is not exposed; read it from the bytes */
		CHECK(mq_test_raw_ts_delta(start, it->end) == vr->ts_delta,
			  "record %d timestampDelta", i);
		if (buf != NULL && i < vb->nspans)
		{
			const VSpan *s = &vb->spans[i];
			int32_t		rlen;

			CHECK(start - buf == s->start, "record %d start %d want %d", i,
				  (int) (start - buf), s->start);
			CHECK(it->pos - buf == s->end, "record %d end", i);
			CHECK(bytes_eq(s->hex, start, (int32_t) (it->pos - start)),
				  "record %d span bytes", i);
			CHECK(MqVarintGet(start, it->pos, &rlen) > 0 &&
				  rlen == s->length_field, "record %d length field", i);
		}

		MqHeaderIterInit(&hi, &d);
		for (j = 0;; j++)
		{
			st = MqHeaderIterNext(&hi, &h, &done);
			if (!CHECK(st == MQ_CODEC_OK, "record %d header %d status %d", i, j, (int) st))
				break;
			if (done)
				break;
			if (!CHECK(j < vr->nheaders, "record %d: extra header", i))
				break;
			CHECK(bytes_eq(vr->headers[j].key, h.key, h.key_len),
				  "record %d header %d key", i, j);
			CHECK(bytes_eq(vr->headers[j].value, h.value, h.value_len),
				  "record %d header %d value (len %d)", i, j, (int) h.value_len);
		}
		CHECK(j == vr->nheaders, "record %d: %d headers, want %d", i, j, vr->nheaders);
		/* after done, stays done */
		st = MqHeaderIterNext(&hi, &h, &done);
		CHECK(st == MQ_CODEC_OK && done, "record %d: header iterator stays done", i);
	}
	st = MqRecordIterNext(it, &d, &done);
	CHECK(st == MQ_CODEC_OK && done, "iterator done after %d records (status %d)",
		  vb->nrecs, (int) st);
}

/* ----------------------------------------------------------------
 *		Varints
 * ----------------------------------------------------------------
 */
static void
test_varint_vectors(const char *kind, const char *title)
{
	int			i;
	int			seen = 0;

	group_begin("%s", title);
	for (i = 0; i < n_vints; i++)
	{
		VInt	   *v = &vints[i];
		const char *k = v->kind;
		uint8_t		out[16];
		uint8_t    *in;
		int			n;
		int			cut;

		if (strcmp(k, kind) != 0)
			continue;
		seen++;
		if (strncmp(k, "ref-", 4) == 0)
			k += 4;
		in = exact_copy(v->hex.data, (size_t) v->hex.len);
		CHECK(v->hex.len == v->size, "%s %" PRId64 ": size field", k, v->value);

		if (strcmp(k, "varint") == 0)
		{
			int32_t		got = 0;
			uint32_t	zz = 0;

			n = MqVarintGet(in, in + v->hex.len, &got);
			CHECK(n == v->size && got == (int32_t) v->value,
				  "varint decode %" PRId64 ": n %d got %d", v->value, n, (int) got);
			CHECK(MqVarintSize((int32_t) v->value) == v->size, "varint size %" PRId64, v->value);
			n = MqVarintPut(out, (int32_t) v->value);
			CHECK(n == v->size && memcmp(out, v->hex.data, (size_t) n) == 0,
				  "varint encode %" PRId64, v->value);
			if (v->has_zigzag)
				CHECK(MqUvarintGet(in, in + v->hex.len, &zz) == v->size &&
					  zz == v->zigzag, "varint zigzag %" PRId64, v->value);
			for (cut = 0; cut < v->hex.len; cut++)
				CHECK(MqVarintGet(in, in + cut, &got) == MQ_VARINT_TRUNCATED,
					  "varint %" PRId64 " cut at %d", v->value, cut);
		}
		else if (strcmp(k, "varlong") == 0)
		{
			int64_t		got = 0;

			n = MqVarlongGet(in, in + v->hex.len, &got);
			CHECK(n == v->size && got == v->value,
				  "varlong decode %" PRId64 ": n %d got %" PRId64, v->value, n, got);
			CHECK(MqVarlongSize(v->value) == v->size, "varlong size %" PRId64, v->value);
			n = MqVarlongPut(out, v->value);
			CHECK(n == v->size && memcmp(out, v->hex.data, (size_t) n) == 0,
				  "varlong encode %" PRId64, v->value);
			if (v->has_zigzag)
			{
				uint64_t	zz = ((uint64_t) v->value << 1) ^
					(0 - ((uint64_t) v->value >> 63));

				CHECK(zz == v->zigzag, "varlong zigzag %" PRId64, v->value);
			}
			for (cut = 0; cut < v->hex.len; cut++)
				CHECK(MqVarlongGet(in, in + cut, &got) == MQ_VARINT_TRUNCATED,
					  "varlong %" PRId64 " cut at %d", v->value, cut);
		}
		else
		{
			uint32_t	got = 0;
			uint32_t	want = (uint32_t) v->value;

			n = MqUvarintGet(in, in + v->hex.len, &got);
			CHECK(n == v->size && got == want, "uvarint decode %" PRIu32 ": n %d got %" PRIu32,
				  want, n, got);
			CHECK(MqUvarintSize(want) == v->size, "uvarint size %" PRIu32, want);
			n = MqUvarintPut(out, want);
			CHECK(n == v->size && memcmp(out, v->hex.data, (size_t) n) == 0,
				  "uvarint encode %" PRIu32, want);
			for (cut = 0; cut < v->hex.len; cut++)
				CHECK(MqUvarintGet(in, in + cut, &got) == MQ_VARINT_TRUNCATED,
					  "uvarint %" PRIu32 " cut at %d", want, cut);
		}
		free(in);
	}
	CHECK(seen > 0, "no %s vectors", kind);
	group_end();
}

/* xorshift64*, for reproducible pseudo-random tests */
static uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(0x2545f4914f6cdd1d);
}

static void
test_varint_edges(void)
{
	static const uint8_t ff11[11] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff};
	uint8_t    *b;
	int32_t		v32;
	int64_t		v64;
	uint32_t	u32;
	int			i;

	group_begin("varint malformed and edge inputs");
	b = exact_copy(ff11, 11);
	CHECK(MqVarintGet(b, b + 11, &v32) == MQ_VARINT_TOO_LONG, "varint ff x11");
	CHECK(MqVarlongGet(b, b + 11, &v64) == MQ_VARINT_TOO_LONG, "varlong ff x11");
	CHECK(MqUvarintGet(b, b + 11, &u32) == MQ_VARINT_TOO_LONG, "uvarint ff x11");
	CHECK(MqVarintGet(b, b + 5, &v32) == MQ_VARINT_TOO_LONG, "varint ff x5");
	CHECK(MqVarlongGet(b, b + 5, &v64) == MQ_VARINT_TRUNCATED, "varlong ff x5");
	CHECK(MqVarlongGet(b, b + 10, &v64) == MQ_VARINT_TOO_LONG, "varlong ff x10");
	CHECK(MqVarintGet(b, b + 4, &v32) == MQ_VARINT_TRUNCATED, "varint ff x4");
	CHECK(MqVarintGet(b, b, &v32) == MQ_VARINT_TRUNCATED, "varint empty");
	CHECK(MqVarlongGet(b, b, &v64) == MQ_VARINT_TRUNCATED, "varlong empty");
	CHECK(MqUvarintGet(b, b, &u32) == MQ_VARINT_TRUNCATED, "uvarint empty");
	free(b);

	/* *out is untouched on failure */
	{
		static const uint8_t c[1] = {0x80};

		b = exact_copy(c, 1);
		v32 = 12345;
		CHECK(MqVarintGet(b, b + 1, &v32) == MQ_VARINT_TRUNCATED && v32 == 12345,
			  "out untouched on error");
		free(b);
	}
	/* Java-compatible leniency: non-minimal encodings are accepted */
	{
		static const uint8_t c[2] = {0x80, 0x00};

		b = exact_copy(c, 2);
		CHECK(MqVarintGet(b, b + 2, &v32) == 2 && v32 == 0, "non-minimal 8000");
		CHECK(MqVarlongGet(b, b + 2, &v64) == 2 && v64 == 0, "non-minimal varlong 8000");
		free(b);
	}
	/* ... and excess bits of the last byte are dropped, as Java's shifts do */
	{
		static const uint8_t c[5] = {0xfe, 0xff, 0xff, 0xff, 0x7f};

		b = exact_copy(c, 5);
		CHECK(MqVarintGet(b, b + 5, &v32) == 5 && v32 == INT32_MAX, "5th byte 0x7f");
		free(b);
	}
	{
		static const uint8_t c[10] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0x7f};

		b = exact_copy(c, 10);
		CHECK(MqVarlongGet(b, b + 10, &v64) == 10 && v64 == INT64_MIN, "10th byte 0x7f");
		free(b);
	}

	/* round trips of boundary and random values */
	for (i = 0; i < 200000; i++)
	{
		uint8_t		out[16];
		uint64_t	r = rng();
		int			shift = (int) (rng() % 64);
		int64_t		x = (int64_t) (r >> shift);
		int			n;

		/* powers of two and their negations first; unsigned math avoids UB */
		if (i < 128)
			x = (int64_t) ((i & 1) ? 0 - (UINT64_C(1) << (i / 2)) :
						   UINT64_C(1) << (i / 2));
		if (i % 3 == 0)
			x = (int64_t) ~(uint64_t) x;	/* -x - 1 */

		n = MqVarlongPut(out, x);
		if (!CHECK(n == MqVarlongSize(x) && MqVarlongGet(out, out + n, &v64) == n &&
				   v64 == x, "varlong round trip %" PRId64, x))
			break;
		n = MqVarintPut(out, (int32_t) x);
		if (!CHECK(n == MqVarintSize((int32_t) x) &&
				   MqVarintGet(out, out + n, &v32) == n && v32 == (int32_t) x,
				   "varint round trip %d", (int) (int32_t) x))
			break;
		n = MqUvarintPut(out, (uint32_t) x);
		if (!CHECK(n == MqUvarintSize((uint32_t) x) &&
				   MqUvarintGet(out, out + n, &u32) == n && u32 == (uint32_t) x,
				   "uvarint round trip %u", (unsigned) (uint32_t) x))
			break;
	}
	group_end();
}

/* ----------------------------------------------------------------
 *		CRC-32C
 * ----------------------------------------------------------------
 */
static uint32_t
crc32c_bitwise(const uint8_t *p, size_t len)
{
	uint32_t	crc = 0xffffffffU;
	size_t		i;
	int			k;

	for (i = 0; i < len; i++)
	{
		crc ^= p[i];
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78U & (0U - (crc & 1)));
	}
	return ~crc;
}

static void
test_crc32c(void)
{
	int			i;
	uint8_t    *buf;
	size_t		big = 1 << 20;

	group_begin("crc32c vectors (%d)", n_vcrcs);
	for (i = 0; i < n_vcrcs; i++)
	{
		VCrc	   *c = &vcrcs[i];
		uint8_t    *in = exact_copy(c->input.data, (size_t) c->input.len);
		size_t		len = (size_t) c->input.len;
		size_t		split;

		CHECK(MqCrc32c(in, len) == c->crc, "%s: %08x want %08x", c->label,
			  MqCrc32c(in, len), c->crc);
		CHECK(MqTestCrc32cPortable(in, len) == c->crc, "%s: portable", c->label);
		CHECK(crc32c_bitwise(in, len) == c->crc, "%s: bitwise reference", c->label);
		if (c->has_pub)
			CHECK(c->pub == c->crc, "%s: published value", c->label);
		for (split = 0; split <= len; split++)
			CHECK(MqCrc32cUpdate(MqCrc32cUpdate(0, in, split), in + split,
								 len - split) == c->crc,
				  "%s: incremental split at %zu", c->label, split);
		free(in);
	}
	CHECK(n_vcrcs == 13, "expected 13 crc32c vectors, got %d", n_vcrcs);
	group_end();

	group_begin("crc32c hardware vs portable vs bitwise, all alignments");
	buf = malloc(big + 8);
	if (buf == NULL)
		abort();
	for (i = 0; i < (int) (big + 8); i++)
		buf[i] = (uint8_t) rng();
	for (i = 0; i < 8; i++)
	{
		size_t		len;

		for (len = 0; len < 300; len++)
		{
			uint32_t	want = crc32c_bitwise(buf + i, len);

			if (!CHECK(MqCrc32c(buf + i, len) == want &&
					   MqTestCrc32cPortable(buf + i, len) == want,
					   "offset %d len %zu", i, len))
				break;
		}
		CHECK(MqCrc32c(buf + i, big) == MqTestCrc32cPortable(buf + i, big) &&
			  MqCrc32c(buf + i, big) == crc32c_bitwise(buf + i, big),
			  "offset %d len %zu", i, big);
		CHECK(MqCrc32cUpdate(MqCrc32c(buf + i, 12345), buf + i + 12345,
							 big - 12345) == MqCrc32c(buf + i, big),
			  "incremental large");
		CHECK(MqTestCrc32cPortableUpdate(MqTestCrc32cPortable(buf + i, 7),
										 buf + i + 7, big - 7) ==
			  MqCrc32c(buf + i, big), "portable incremental");
	}
	free(buf);
	group_end();
}

/* ----------------------------------------------------------------
 *		murmur2
 * ----------------------------------------------------------------
 */
static void
test_murmur2(void)
{
	int			i;
	int			j;
	int			npub = 0;
	int			nparts = 0;

	group_begin("murmur2 keys (%d) and partitions", n_vmurmurs);
	for (i = 0; i < n_vmurmurs; i++)
	{
		VMurmur    *m = &vmurmurs[i];
		uint8_t    *k = exact_copy(m->key.data, (size_t) m->key.len);
		int32_t		h = MqMurmur2(k, (size_t) m->key.len);

		CHECK(h == m->murmur2, "%s: murmur2 %d want %d", m->label, (int) h, (int) m->murmur2);
		CHECK((int32_t) ((uint32_t) h & 0x7fffffffU) == m->positive, "%s: positive", m->label);
		if (m->has_pub)
		{
			npub++;
			CHECK(m->pub == m->murmur2, "%s: published", m->label);
		}
		for (j = 0; j < m->nparts; j++)
		{
			nparts++;
			CHECK(MqPartitionForKey(k, (size_t) m->key.len, m->n[j]) == m->p[j],
				  "%s: %d partitions -> %d want %d", m->label, m->n[j],
				  MqPartitionForKey(k, (size_t) m->key.len, m->n[j]), m->p[j]);
		}
		CHECK(m->nparts == 9, "%s: 9 partition counts", m->label);
		CHECK(MqPartitionForKey(k, (size_t) m->key.len, 0) == -1, "0 partitions");
		CHECK(MqPartitionForKey(k, (size_t) m->key.len, -3) == -1, "negative partitions");
		free(k);
	}
	CHECK(n_vmurmurs == 84, "expected 84 keys, got %d", n_vmurmurs);
	CHECK(npub == 17, "expected 17 published values, got %d", npub);
	CHECK(nparts == 84 * 9, "partition checks %d", nparts);
	group_end();
}

/* ----------------------------------------------------------------
 *		RecordBatch: positive tests
 * ----------------------------------------------------------------
 */
static void
test_batch_decode(VBatch *vb)
{
	uint8_t    *buf = exact_copy(vb->bytes.data, (size_t) vb->bytes.len);
	size_t		len = (size_t) vb->bytes.len;
	MqBatchHeader h;
	MqRecordIter it;
	MqCodecStatus st;
	int			i;

	group_begin("decode %s", vb->name);
	CHECK((int) len == vb->length && vb->batch_length == vb->length - 12,
		  "vector length fields");
	CHECK(vb->records_start == MQ_BATCH_HEADER_SIZE, "records_start");
	CHECK(vb->nrecs == vb->records_count, "vector record list");
	CHECK(vb->nspans == vb->nrecs, "vector spans");

	memset(&h, 0, sizeof(h));
	st = MqBatchDecodeHeader(buf, len, true, &h);
	CHECK(st == MQ_CODEC_OK, "decode header: %s", MqCodecStatusMessage(st));
	check_header_fields(vb, &h);
	CHECK(MqCrc32c(buf + 21, len - 21) == vb->crc, "crc range [21, len)");
	CHECK((h.attributes & MQ_BATCH_COMPRESSION_MASK) == 0, "uncompressed");

	memset(&h, 0, sizeof(h));
	st = MqBatchValidate(buf, len, &h);
	CHECK(st == MQ_CODEC_OK, "validate: %s", MqCodecStatusMessage(st));
	check_header_fields(vb, &h);

	MqRecordIterInit(&it, buf, len, &h);
	check_records(vb, &it, buf, true);

	/* the iterator stays done */
	{
		MqDecodedRecord d;
		bool		done = false;

		st = MqRecordIterNext(&it, &d, &done);
		CHECK(st == MQ_CODEC_OK && done, "iterator stays done");
	}

	/* effective timestamps and sequences are consistent with the header */
	for (i = 0; i < vb->nrecs; i++)
	{
		const VRecord *r = &vb->recs[i];

		if (vb->attributes & MQ_BATCH_LOG_APPEND_TIME)
			CHECK(r->eff_ts == vb->max_ts, "LogAppendTime effective ts");
		else
			CHECK(r->eff_ts == vb->base_ts + r->ts_delta && r->eff_ts == r->ts,
				  "CreateTime effective ts");
		CHECK(r->sequence == (vb->base_sequence < 0 ? -1 :
							  vb->base_sequence + r->offset_delta), "sequence");
	}

	/* without CRC verification the header decodes the same */
	st = MqBatchDecodeHeader(buf, len, false, &h);
	CHECK(st == MQ_CODEC_OK, "decode header without crc check");
	free(buf);
	group_end();
}

static void
test_batch_encode(VBatch *vb)
{
	MqRecord   *recs = vector_records(vb);
	MqBatchHeader h;
	size_t		size;
	uint8_t    *out;
	const char *how;
	int			diff;
	int			i;

	memset(&h, 0x5a, sizeof(h));	/* encoder must set what it computes */
	h.base_offset = vb->base_offset;
	h.partition_leader_epoch = vb->leader_epoch;
	h.attributes = (int16_t) vb->attributes;
	h.producer_id = vb->producer_id;
	h.producer_epoch = (int16_t) vb->producer_epoch;
	h.base_sequence = vb->base_sequence;

	if (vb->nrecs == 0)
	{
		how = "MqBatchEncodeEmpty";
		h.last_offset_delta = vb->last_offset_delta;
		h.base_timestamp = vb->base_ts;
		h.max_timestamp = vb->max_ts;
		size = MQ_BATCH_HEADER_SIZE;
		out = malloc(size);
		MqBatchEncodeEmpty(&h, out);
	}
	else if (vb->attributes & MQ_BATCH_LOG_APPEND_TIME)
	{
		how = "MqBatchEncode + MqBatchSetMaxTimestamp";
		h.attributes = (int16_t) (vb->attributes & ~MQ_BATCH_LOG_APPEND_TIME);
		size = MqBatchEncodedSize(recs, vb->nrecs);
		out = malloc(size);
		MqBatchEncode(&h, recs, vb->nrecs, out);
		MqBatchSetMaxTimestamp(out, size, true, vb->max_ts);
		/* the header fields now come from the rewritten bytes */
		(void) MqBatchDecodeHeader(out, size, true, &h);
	}
	else
	{
		how = "MqBatchEncode";
		size = MqBatchEncodedSize(recs, vb->nrecs);
		out = malloc(size);
		MqBatchEncode(&h, recs, vb->nrecs, out);
	}

	group_begin("encode %s (%s) byte-identical", vb->name, how);
	CHECK(size == (size_t) vb->bytes.len, "size %zu want %d", size, vb->bytes.len);
	diff = first_diff(out, vb->bytes.data, size < (size_t) vb->bytes.len ? size :
					  (size_t) vb->bytes.len);
	CHECK(size == (size_t) vb->bytes.len && diff < 0, "bytes differ at %d", diff);
	check_header_fields(vb, &h);

	/* per-record sizes match the spans */
	for (i = 0; i < vb->nrecs && i < vb->nspans; i++)
		CHECK(MqRecordEncodedSize(&recs[i], vb->recs[i].ts_delta, vb->recs[i].offset_delta) ==
			  (size_t) (vb->spans[i].end - vb->spans[i].start),
			  "MqRecordEncodedSize record %d", i);
	free(out);
	group_end();
}

/* Generic decode -> re-encode, as the fuzzer does. */
static void
test_batch_reencode(const char *name, const uint8_t *bytes, size_t len,
					bool expect_identical)
{
	uint8_t    *buf = exact_copy(bytes, len);
	MqTestReencode r;
	bool		ok;

	group_begin("re-encode from decoded fields: %s", name);
	ok = mq_test_reencode(buf, len, &r);
	CHECK(ok, "%s", r.why);
	if (expect_identical)
		CHECK(r.canonical && r.len == len && memcmp(r.buf, buf, len) == 0,
			  "not byte-identical (canonical %d, len %zu vs %zu)",
			  (int) r.canonical, r.len, len);
	mq_test_reencode_free(&r);
	free(buf);
	group_end();
}

static void
test_compressed(VBatch *vb)
{
	uint8_t    *buf = exact_copy(vb->bytes.data, (size_t) vb->bytes.len);
	size_t		len = (size_t) vb->bytes.len;
	MqBatchHeader h;
	MqRecordIter it;
	MqDecodedRecord d;
	MqCodecStatus st;
	bool		done;
	VBatch	   *plain = find_batch("multi_records_increasing_timestamps");
	uint8_t    *recs;

	group_begin("compressed %s: header decodes, records unsupported", vb->name);
	CHECK((vb->attributes & MQ_BATCH_COMPRESSION_MASK) == 1, "gzip attribute");
	st = MqBatchDecodeHeader(buf, len, true, &h);
	CHECK(st == MQ_CODEC_OK, "decode header: %s", MqCodecStatusMessage(st));
	check_header_fields(vb, &h);
	st = MqBatchValidate(buf, len, &h);
	CHECK(st == MQ_CODEC_UNSUPPORTED_COMPRESSION, "validate: %s", MqCodecStatusMessage(st));
	MqRecordIterInit(&it, buf, len, &h);
	st = MqRecordIterNext(&it, &d, &done);
	CHECK(st == MQ_CODEC_UNSUPPORTED_COMPRESSION && !done, "iterate: %s",
		  MqCodecStatusMessage(st));
	/* a corrupted compressed batch is still caught by the CRC */
	buf[len - 1] ^= 1;
	CHECK(MqBatchValidate(buf, len, &h) == MQ_CODEC_BAD_CRC, "flipped byte");
	free(buf);
	group_end();

	group_begin("compressed %s: inflated records (uncompressed_records_hex)", vb->name);
	if (CHECK(vb->uncompressed.len > 0, "uncompressed_records_hex present"))
	{
		st = MqBatchDecodeHeader(vb->bytes.data, len, true, &h);
		recs = exact_copy(vb->uncompressed.data, (size_t) vb->uncompressed.len);
		MqRecordIterInitRecords(&it, recs, (size_t) vb->uncompressed.len, &h);
		check_records(vb, &it, NULL, true);
		/* same records as the uncompressed vector, as the README says */
		if (CHECK(plain != NULL, "multi_records_increasing_timestamps present"))
		{
			MqRecordIterInitRecords(&it, recs, (size_t) vb->uncompressed.len, &h);
			check_records(plain, &it, NULL, false);
			CHECK(plain->bytes.len - MQ_BATCH_HEADER_SIZE == vb->uncompressed.len &&
				  memcmp(plain->bytes.data + MQ_BATCH_HEADER_SIZE, recs,
						 (size_t) vb->uncompressed.len) == 0,
				  "records section identical to the uncompressed vector");
		}
		free(recs);
	}
	group_end();
}

static void
test_crosscheck(VCross *x)
{
	uint8_t    *buf = exact_copy(x->ref.data, (size_t) x->ref.len);
	size_t		len = (size_t) x->ref.len;
	MqBatchHeader h;
	MqCodecStatus st;

	group_begin("crosscheck %s (sarama)", x->name);
	CHECK(x->matches == 1, "vector says kafkajs matches");
	CHECK(x->ref.len == x->kafkajs.len &&
		  memcmp(x->ref.data, x->kafkajs.data, len) == 0, "reference == kafkajs");
	st = MqBatchValidate(buf, len, &h);
	CHECK(st == MQ_CODEC_OK, "validate: %s", MqCodecStatusMessage(st));
	CHECK(h.crc == x->crc, "crc");
	free(buf);
	group_end();
	/* see the file header: sarama's first record has timestampDelta 5 */
	test_batch_reencode(x->name, x->ref.data, len,
						strcmp(x->name, "sarama_uncompressed_record") != 0);
}

/* The encoder's own LogAppendTime contract: all timestamps = append time. */
static void
test_log_append_time_contract(void)
{
	VBatch	   *vb = find_batch("log_append_time");
	MqRecord   *recs;
	MqBatchHeader h;
	MqBatchHeader h2;
	MqRecordIter it;
	MqDecodedRecord d;
	size_t		size;
	uint8_t    *out;
	bool		done;
	int			i;

	group_begin("encode with LOG_APPEND_TIME attribute (producer-side contract)");
	if (!CHECK(vb != NULL && vb->nrecs > 0, "vector present"))
	{
		group_end();
		return;
	}
	recs = vector_records(vb);
	for (i = 0; i < vb->nrecs; i++)
		recs[i].timestamp = vb->max_ts;
	memset(&h, 0, sizeof(h));
	h.base_offset = vb->base_offset;
	h.attributes = MQ_BATCH_LOG_APPEND_TIME;
	h.producer_id = -1;
	h.producer_epoch = -1;
	h.base_sequence = -1;
	size = MqBatchEncodedSize(recs, vb->nrecs);
	out = malloc(size);
	MqBatchEncode(&h, recs, vb->nrecs, out);
	CHECK(h.base_timestamp == vb->max_ts && h.max_timestamp == vb->max_ts,
		  "base = max = append time");
	CHECK(MqBatchValidate(out, size, &h2) == MQ_CODEC_OK, "validates");
	CHECK(h2.crc == h.crc && h2.last_offset_delta == vb->nrecs - 1, "header");
	MqRecordIterInit(&it, out, size, &h2);
	for (i = 0; i < vb->nrecs; i++)
	{
		CHECK(MqRecordIterNext(&it, &d, &done) == MQ_CODEC_OK && !done, "next");
		CHECK(d.timestamp == vb->recs[i].eff_ts, "effective timestamp");
		CHECK(d.offset == vb->recs[i].offset, "offset");
	}
	/* differs from the broker-stamped vector only in the record deltas */
	CHECK(size == (size_t) vb->bytes.len, "same size as the vector");
	free(out);
	group_end();
}

static void
test_encode_edges(void)
{
	static const uint8_t k[3] = {'k', 'e', 'y'};
	MqHeader	hs[2];
	MqRecord	recs[3];
	MqBatchHeader h;
	MqBatchHeader h2;
	MqRecordIter it;
	MqDecodedRecord d;
	MqHeaderIter hi;
	MqHeader	hh;
	uint8_t    *out;
	size_t		size;
	bool		done;

	group_begin("encoder edge cases");
	/* zero records through MqBatchEncode */
	memset(&h, 0, sizeof(h));
	h.producer_id = -1;
	out = malloc(MqBatchEncodedSize(NULL, 0));
	CHECK(MqBatchEncodedSize(NULL, 0) == MQ_BATCH_HEADER_SIZE, "empty size");
	MqBatchEncode(&h, NULL, 0, out);
	CHECK(h.records_count == 0 && h.last_offset_delta == -1 &&
		  h.base_timestamp == -1 && h.max_timestamp == -1, "empty header fields");
	CHECK(MqBatchValidate(out, MQ_BATCH_HEADER_SIZE, &h2) == MQ_CODEC_OK, "empty validates");
	free(out);

	/* null key/value, empty header value, null header value, negative deltas */
	hs[0].key = k;
	hs[0].key_len = 3;
	hs[0].value = NULL;
	hs[0].value_len = -1;
	hs[1].key = k;
	hs[1].key_len = 0;
	hs[1].value = k;
	hs[1].value_len = 0;
	memset(recs, 0, sizeof(recs));
	recs[0].timestamp = 1000;
	recs[0].key_len = -1;
	recs[0].value_len = -1;
	recs[1].timestamp = INT64_MIN;	/* delta wraps; must still round-trip */
	recs[1].key = k;
	recs[1].key_len = 3;
	recs[1].value_len = -1;
	recs[1].num_headers = 2;
	recs[1].headers = hs;
	recs[2].timestamp = INT64_MAX;
	recs[2].value = k;
	recs[2].value_len = 2;
	recs[2].key_len = -1;
	recs[2].num_headers = -5;	/* treated as none */
	memset(&h, 0, sizeof(h));
	h.base_offset = INT64_MAX - 1;	/* offsets wrap like Java longs */
	size = MqBatchEncodedSize(recs, 3);
	out = malloc(size);
	MqBatchEncode(&h, recs, 3, out);
	CHECK(h.max_timestamp == INT64_MAX && h.base_timestamp == 1000, "timestamps");
	CHECK(MqBatchValidate(out, size, &h2) == MQ_CODEC_OK, "validates");
	MqRecordIterInit(&it, out, size, &h2);
	CHECK(MqRecordIterNext(&it, &d, &done) == MQ_CODEC_OK &&
		  d.key == NULL && d.key_len == -1 && d.value == NULL && d.value_len == -1 &&
		  d.timestamp == 1000 && d.num_headers == 0, "record 0");
	CHECK(MqRecordIterNext(&it, &d, &done) == MQ_CODEC_OK &&
		  d.key_len == 3 && d.timestamp == INT64_MIN && d.num_headers == 2 &&
		  d.offset == INT64_MAX, "record 1");
	MqHeaderIterInit(&hi, &d);
	CHECK(MqHeaderIterNext(&hi, &hh, &done) == MQ_CODEC_OK && !done &&
		  hh.key_len == 3 && hh.value == NULL && hh.value_len == -1, "null header value");
	CHECK(MqHeaderIterNext(&hi, &hh, &done) == MQ_CODEC_OK && !done &&
		  hh.key_len == 0 && hh.value_len == 0 && hh.value != NULL, "empty header");
	CHECK(MqHeaderIterNext(&hi, &hh, &done) == MQ_CODEC_OK && done, "headers done");
	CHECK(MqRecordIterNext(&it, &d, &done) == MQ_CODEC_OK &&
		  d.timestamp == INT64_MAX && d.num_headers == 0 && d.offset == INT64_MIN,
		  "record 2 (offset wrapped)");
	CHECK(MqRecordIterNext(&it, &d, &done) == MQ_CODEC_OK && done, "done");

	/* in-place rewrites outside the CRC keep the batch valid */
	MqBatchSetBaseOffset(out, 42);
	MqBatchSetPartitionLeaderEpoch(out, 7);
	CHECK(MqBatchValidate(out, size, &h2) == MQ_CODEC_OK &&
		  h2.base_offset == 42 && h2.partition_leader_epoch == 7, "set base offset/epoch");
	MqRecordIterInit(&it, out, size, &h2);
	CHECK(MqRecordIterNext(&it, &d, &done) == MQ_CODEC_OK && d.offset == 42, "offset 42");
	MqBatchSetMaxTimestamp(out, size, true, 5);
	CHECK(MqBatchValidate(out, size, &h2) == MQ_CODEC_OK && h2.max_timestamp == 5 &&
		  (h2.attributes & MQ_BATCH_LOG_APPEND_TIME), "set log append time");
	MqRecordIterInit(&it, out, size, &h2);
	CHECK(MqRecordIterNext(&it, &d, &done) == MQ_CODEC_OK && d.timestamp == 5,
		  "log append time is the effective timestamp");
	MqBatchSetMaxTimestamp(out, size, false, INT64_MAX);
	CHECK(MqBatchValidate(out, size, &h2) == MQ_CODEC_OK &&
		  !(h2.attributes & MQ_BATCH_LOG_APPEND_TIME) &&
		  out[21] == 0 && out[22] == 0, "clear log append time");
	MqBatchSetMaxTimestamp(out, 10, true, 1);	/* too short: no-op, no crash */
	CHECK(MqBatchValidate(out, size, &h2) == MQ_CODEC_OK, "short SetMaxTimestamp is a no-op");
	free(out);

	/* status messages */
	{
		int			s;

		for (s = MQ_CODEC_OK; s <= MQ_CODEC_UNSUPPORTED_COMPRESSION; s++)
			CHECK(MqCodecStatusMessage((MqCodecStatus) s) != NULL &&
				  strlen(MqCodecStatusMessage((MqCodecStatus) s)) > 0, "message %d", s);
		CHECK(MqCodecStatusMessage((MqCodecStatus) 99) != NULL, "unknown status");
	}
	group_end();
}

/* ----------------------------------------------------------------
 *		RecordBatch: negative tests
 * ----------------------------------------------------------------
 */

/* Validate, then iterate whatever the header allows; must never crash. */
static MqCodecStatus
validate_and_walk(const uint8_t *buf, size_t len)
{
	MqBatchHeader h;
	MqCodecStatus vst = MqBatchValidate(buf, len, &h);
	MqCodecStatus st;
	MqRecordIter it;
	MqDecodedRecord d;
	bool		done = false;
	int			guard = 0;

	st = MqBatchDecodeHeader(buf, len, false, &h);
	if (st == MQ_CODEC_OK)
	{
		MqRecordIterInit(&it, buf, len, &h);
		while (guard++ < 100000)
		{
			MqHeaderIter hi;
			MqHeader	hh;

			st = MqRecordIterNext(&it, &d, &done);
			if (st != MQ_CODEC_OK || done)
				break;
			MqHeaderIterInit(&hi, &d);
			while (MqHeaderIterNext(&hi, &hh, &done) == MQ_CODEC_OK && !done)
				;
		}
		/* iteration agrees with validation (CRC aside) */
		if (vst == MQ_CODEC_OK)
			CHECK(st == MQ_CODEC_OK, "validated batch failed to iterate");
	}
	return vst;
}

static void
test_flip_bytes(VBatch *vb)
{
	size_t		len;
	size_t		i;
	uint8_t    *buf;

	if (vb == NULL)
	{
		group_begin("flip every byte: vector missing");
		CHECK(false, "vector missing");
		group_end();
		return;
	}
	len = (size_t) vb->bytes.len;
	group_begin("flip every byte of %s", vb->name);
	for (i = 0; i < len; i++)
	{
		MqBatchHeader h;
		MqCodecStatus st;
		MqCodecStatus want;

		buf = exact_copy(vb->bytes.data, len);
		buf[i] ^= (uint8_t) (1u << (i % 8));
		st = validate_and_walk(buf, len);
		if (i < 8 || (i >= 12 && i < 16))
			want = MQ_CODEC_OK; /* baseOffset, leader epoch: outside the CRC */
		else if (i < 12)
			want = MQ_CODEC_BAD_LENGTH;
		else if (i == 16)
			want = MQ_CODEC_BAD_MAGIC;
		else
			want = MQ_CODEC_BAD_CRC;
		CHECK(st == want, "byte %zu: %s", i, MqCodecStatusMessage(st));
		if (i < 8 && st == MQ_CODEC_OK)
		{
			(void) MqBatchDecodeHeader(buf, len, true, &h);
			CHECK(h.base_offset != vb->base_offset, "byte %zu: base offset changed", i);
		}
		free(buf);
	}
	group_end();
}

static void
test_truncate(VBatch *vb)
{
	size_t		len = (size_t) vb->bytes.len;
	size_t		cut;

	group_begin("truncate %s at every length", vb->name);
	for (cut = 0; cut < len; cut++)
	{
		uint8_t    *buf = exact_copy(vb->bytes.data, cut);
		MqBatchHeader h;
		MqBatchHeader full;
		MqCodecStatus st;
		MqRecordIter it;
		MqDecodedRecord d;
		bool		done = false;
		int			guard = 0;

		st = MqBatchDecodeHeader(buf, cut, false, &h);
		CHECK(st == (cut < MQ_BATCH_HEADER_SIZE ? MQ_CODEC_TRUNCATED : MQ_CODEC_BAD_LENGTH),
			  "cut %zu: header %s", cut, MqCodecStatusMessage(st));
		st = validate_and_walk(buf, cut);
		CHECK(st != MQ_CODEC_OK, "cut %zu: validated", cut);

		/* iterate the short buffer with the full header: must fail, not crash */
		(void) MqBatchDecodeHeader(vb->bytes.data, len, true, &full);
		MqRecordIterInit(&it, buf, cut, &full);
		do
		{
			st = MqRecordIterNext(&it, &d, &done);
		} while (st == MQ_CODEC_OK && !done && guard++ < 1000);
		CHECK(st != MQ_CODEC_OK || (vb->nrecs == 0 && cut >= MQ_BATCH_HEADER_SIZE),
			  "cut %zu: iteration of a short buffer succeeded", cut);

		/* make the header consistent again: records must still be caught */
		if (cut >= MQ_BATCH_HEADER_SIZE)
		{
			mq_test_fixup(buf, cut);
			st = validate_and_walk(buf, cut);
			CHECK(st == MQ_CODEC_BAD_LENGTH || st == MQ_CODEC_TRUNCATED ||
				  st == MQ_CODEC_BAD_COUNT || st == MQ_CODEC_BAD_VARINT,
				  "cut %zu with fixed length/crc: %s", cut, MqCodecStatusMessage(st));
		}
		free(buf);
	}
	/* NULL buffer */
	{
		MqBatchHeader h;
		MqRecordIter it;
		MqDecodedRecord d;
		bool		done;

		CHECK(MqBatchDecodeHeader(NULL, 0, true, &h) == MQ_CODEC_TRUNCATED, "NULL");
		CHECK(MqBatchValidate(NULL, 100, &h) == MQ_CODEC_TRUNCATED, "NULL, len 100");
		memset(&h, 0, sizeof(h));
		h.records_count = 1;
		MqRecordIterInit(&it, NULL, 0, &h);
		CHECK(MqRecordIterNext(&it, &d, &done) == MQ_CODEC_TRUNCATED, "iter NULL");
		MqRecordIterInitRecords(&it, NULL, 0, &h);
		CHECK(MqRecordIterNext(&it, &d, &done) == MQ_CODEC_BAD_COUNT, "iter records NULL");
	}
	group_end();
}

static void
test_header_errors(VBatch *vb)
{
	size_t		len = (size_t) vb->bytes.len;
	uint8_t    *buf;
	uint8_t    *big;
	MqBatchHeader h;
	int			m;

	group_begin("header errors on %s", vb->name);
	/* bad magic: magic is outside the CRC, so only the magic check catches it */
	for (m = 0; m < 256; m++)
	{
		if (m == 2)
			continue;
		buf = exact_copy(vb->bytes.data, len);
		buf[16] = (uint8_t) m;
		CHECK(MqBatchDecodeHeader(buf, len, false, &h) == MQ_CODEC_BAD_MAGIC, "magic %d", m);
		CHECK(MqBatchValidate(buf, len, &h) == MQ_CODEC_BAD_MAGIC, "validate magic %d", m);
		free(buf);
	}

	/* batchLength off by one either way, negative, huge */
	{
		static const uint32_t deltas[] = {1, 0xffffffffU, 0x80000000U, 0x7fffffffU};
		size_t		k;

		for (k = 0; k < sizeof(deltas) / sizeof(deltas[0]); k++)
		{
			uint32_t	bl = (uint32_t) (len - 12) + deltas[k];

			buf = exact_copy(vb->bytes.data, len);
			buf[8] = (uint8_t) (bl >> 24);
			buf[9] = (uint8_t) (bl >> 16);
			buf[10] = (uint8_t) (bl >> 8);
			buf[11] = (uint8_t) bl;
			CHECK(MqBatchDecodeHeader(buf, len, true, &h) == MQ_CODEC_BAD_LENGTH,
				  "batchLength + %u", deltas[k]);
			free(buf);
		}
	}

	/* two batches back to back are not "one batch" */
	big = malloc(2 * len);
	memcpy(big, vb->bytes.data, len);
	memcpy(big + len, vb->bytes.data, len);
	CHECK(MqBatchDecodeHeader(big, 2 * len, true, &h) == MQ_CODEC_BAD_LENGTH,
		  "two batches");
	free(big);

	/* records count: negative, one too many, one too few, huge */
	{
		static const int32_t counts[] = {-1, INT32_MIN, INT32_MAX};
		size_t		k;
		int32_t		c;

		for (k = 0; k < 5; k++)
		{
			MqCodecStatus st;
			MqCodecStatus want;

			if (k < 3)
			{
				c = counts[k];
				want = MQ_CODEC_BAD_COUNT;
			}
			else if (k == 3)
			{
				c = vb->records_count + 1;
				want = MQ_CODEC_BAD_COUNT;
			}
			else
			{
				c = vb->records_count - 1;
				want = vb->records_count > 0 ? MQ_CODEC_TRAILING_BYTES : MQ_CODEC_BAD_COUNT;
			}
			buf = exact_copy(vb->bytes.data, len);
			buf[57] = (uint8_t) ((uint32_t) c >> 24);
			buf[58] = (uint8_t) ((uint32_t) c >> 16);
			buf[59] = (uint8_t) ((uint32_t) c >> 8);
			buf[60] = (uint8_t) c;
			mq_test_fixup(buf, len);
			st = validate_and_walk(buf, len);
			CHECK(st == want, "recordsCount %d: %s", (int) c, MqCodecStatusMessage(st));
			free(buf);
		}
	}

	/* one extra byte after the last record (lengths and CRC fixed up) */
	buf = malloc(len + 1);
	memcpy(buf, vb->bytes.data, len);
	buf[len] = 0;
	mq_test_fixup(buf, len + 1);
	CHECK(validate_and_walk(buf, len + 1) == MQ_CODEC_TRAILING_BYTES, "trailing byte");
	free(buf);
	group_end();
}

/*
 * Build a one-batch buffer from a records section: header from
 * MqBatchEncodeEmpty, then the bytes, then count, batchLength and CRC.
 */
static uint8_t *
make_batch(const uint8_t *records, size_t rlen, int32_t count, size_t *len)
{
	MqBatchHeader h;
	uint8_t    *buf = malloc(MQ_BATCH_HEADER_SIZE + rlen);

	memset(&h, 0, sizeof(h));
	h.producer_id = -1;
	h.producer_epoch = -1;
	h.base_sequence = -1;
	MqBatchEncodeEmpty(&h, buf);
	if (rlen > 0)
		memcpy(buf + MQ_BATCH_HEADER_SIZE, records, rlen);
	buf[57] = (uint8_t) ((uint32_t) count >> 24);
	buf[58] = (uint8_t) ((uint32_t) count >> 16);
	buf[59] = (uint8_t) ((uint32_t) count >> 8);
	buf[60] = (uint8_t) count;
	*len = MQ_BATCH_HEADER_SIZE + rlen;
	mq_test_fixup(buf, *len);
	return buf;
}

typedef struct BadRecord
{
	const char *what;
	const char *hex;
	int32_t		count;
	MqCodecStatus want;			/* from MqBatchValidate */
	int			want_iter;		/* from the iterator; -1: same as want */
} BadRecord;

static void
test_bad_records(void)
{
	/*
	 * The reference record "10 000000026b027600": length 8 (zig-zag 0x10),
	 * then attributes 00, timestampDelta 00, offsetDelta 00, key length 1
	 * (02) "k", value length 1 (02) "v", header count 00.  Each case breaks
	 * one thing; the batch around it always has a correct CRC and
	 * batchLength, so only the structural checks can catch it.
	 */
	static const BadRecord cases[] = {
		{"good record", "10" "000000026b027600", 1, MQ_CODEC_OK, -1},
		{"good record, null and empty header values", "1c" "000000026b0276" "04" "026101" "026300", 1, MQ_CODEC_OK, -1},
		{"good minimal records", "0c000000000000" "0c000000000000", 2, MQ_CODEC_OK, -1},
		{"record length varint ff x11", "ffffffffffffffffffffff", 1, MQ_CODEC_BAD_VARINT, -1},
		{"record length varint ff x5", "ffffffffff00000000", 1, MQ_CODEC_BAD_VARINT, -1},
		/* a cut varint is shorter than any record, so the count check fires first */
		{"record length varint cut at end", "ff", 1, MQ_CODEC_BAD_COUNT, MQ_CODEC_TRUNCATED},
		{"record length varint cut after a record", "0c000000000000" "80", 2, MQ_CODEC_BAD_COUNT, MQ_CODEC_TRUNCATED},
		{"record length negative", "01" "000000026b027600", 1, MQ_CODEC_BAD_LENGTH, -1},
		{"record length -2", "03" "000000026b027600", 1, MQ_CODEC_BAD_LENGTH, -1},
		{"record length too small by 1", "0e" "000000026b027600", 1, MQ_CODEC_BAD_LENGTH, -1},
		{"record length too small by 2", "0c" "000000026b027600", 1, MQ_CODEC_BAD_LENGTH, -1},
		{"record length 0", "00" "000000026b027600", 1, MQ_CODEC_BAD_LENGTH, -1},
		{"record length past the end", "12" "000000026b027600", 1, MQ_CODEC_BAD_LENGTH, -1},
		{"record length too large by 1 (extra byte in record)", "12" "000000026b02760000", 1, MQ_CODEC_TRAILING_BYTES, -1},
		{"record length too large by 3", "16" "000000026b02760000aabb", 1, MQ_CODEC_TRAILING_BYTES, -1},
		{"timestampDelta varlong ff x10", "22" "00ffffffffffffffffffff" "00026b027600", 1, MQ_CODEC_BAD_VARINT, -1},
		{"timestampDelta 10 bytes ok", "22" "00ffffffffffffffffff01" "00026b027600", 1, MQ_CODEC_OK, -1},
		{"offsetDelta varint ff x6", "1a" "0000ffffffffffff" "026b027600", 1, MQ_CODEC_BAD_VARINT, -1},
		{"key length varint ff x6", "1a" "000000ffffffffffff" "6b027600", 1, MQ_CODEC_BAD_VARINT, -1},
		{"key length -2", "10" "000000036b027600", 1, MQ_CODEC_BAD_LENGTH, -1},
		{"key length > record", "10" "000000206b027600", 1, MQ_CODEC_BAD_LENGTH, -1},
		{"key length INT32_MAX", "18" "000000feffffff0f6b027600", 1, MQ_CODEC_BAD_LENGTH, -1},
		{"value length -2", "10" "000000026b037600", 1, MQ_CODEC_BAD_LENGTH, -1},
		{"value length > record", "10" "000000026b067600", 1, MQ_CODEC_BAD_LENGTH, -1},
		{"value length INT32_MIN", "16" "000000026bffffffff0f00", 1, MQ_CODEC_BAD_LENGTH, -1},
		{"header count negative", "10" "000000026b027601", 1, MQ_CODEC_BAD_COUNT, -1},
		{"header count larger than the record", "10" "000000026b027602", 1, MQ_CODEC_BAD_COUNT, -1},
		{"header count huge", "18" "000000026b0276feffffff0f", 1, MQ_CODEC_BAD_COUNT, -1},
		{"header count ff x6", "1a" "000000026b0276ffffffffffff", 1, MQ_CODEC_BAD_VARINT, -1},
		{"header key null", "14" "000000026b0276" "02" "0100", 1, MQ_CODEC_BAD_LENGTH, -1},
		{"header key -2", "14" "000000026b0276" "02" "0300", 1, MQ_CODEC_BAD_LENGTH, -1},
		{"header key > record", "14" "000000026b0276" "02" "0a00", 1, MQ_CODEC_BAD_LENGTH, -1},
		{"header value -2", "16" "000000026b0276" "02" "026103", 1, MQ_CODEC_BAD_LENGTH, -1},
		{"header value > record", "16" "000000026b0276" "02" "026108", 1, MQ_CODEC_BAD_LENGTH, -1},
		{"header value varint cut by record length", "16" "000000026b0276" "02" "026180", 1, MQ_CODEC_BAD_LENGTH, -1},
		{"fewer headers than counted", "18" "000000026b0276" "04" "02610100", 1, MQ_CODEC_BAD_LENGTH, -1},
		{"empty record body", "00", 1, MQ_CODEC_BAD_COUNT, MQ_CODEC_BAD_LENGTH},
		{"empty record body, padded", "00" "000000000000", 1, MQ_CODEC_BAD_LENGTH, -1},
		{"count 2, one record", "10" "000000026b027600", 2, MQ_CODEC_BAD_COUNT, -1},
		{"count 1, two records", "10" "000000026b027600" "10" "000002026b027600", 1, MQ_CODEC_TRAILING_BYTES, -1},
		{"count 0, one record", "10" "000000026b027600", 0, MQ_CODEC_TRAILING_BYTES, -1},
		{"count 0, no records", "", 0, MQ_CODEC_OK, -1},
		{"count 1, no records", "", 1, MQ_CODEC_BAD_COUNT, -1},
		{"second record truncated", "10" "000000026b027600" "10" "000002026b0276", 2, MQ_CODEC_BAD_LENGTH, -1},
	};
	size_t		k;

	group_begin("malformed records with valid CRC (%zu cases)",
				sizeof(cases) / sizeof(cases[0]));
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
	{
		Bytes		rec = parse_bytes(strlen(cases[k].hex) ? cases[k].hex : "-", 0);
		size_t		len;
		uint8_t    *buf = make_batch(rec.data, (size_t) rec.len, cases[k].count, &len);
		MqCodecStatus st = validate_and_walk(buf, len);

		CHECK(st == cases[k].want, "%s: got \"%s\", want \"%s\"", cases[k].what,
			  MqCodecStatusMessage(st), MqCodecStatusMessage(cases[k].want));
		/* the iterator reports the same status and does not advance */
		if (cases[k].want != MQ_CODEC_OK)
		{
			MqCodecStatus want_iter = cases[k].want_iter < 0 ? cases[k].want :
				(MqCodecStatus) cases[k].want_iter;
			MqBatchHeader h;
			MqRecordIter it;
			MqDecodedRecord d;
			bool		done = false;
			const uint8_t *pos;

			(void) MqBatchDecodeHeader(buf, len, true, &h);
			MqRecordIterInit(&it, buf, len, &h);
			do
			{
				pos = it.pos;
				st = MqRecordIterNext(&it, &d, &done);
			} while (st == MQ_CODEC_OK && !done);
			CHECK(st == want_iter && it.pos == pos, "%s: iterator got \"%s\"",
				  cases[k].what, MqCodecStatusMessage(st));
			CHECK(MqRecordIterNext(&it, &d, &done) == st, "%s: error repeats", cases[k].what);
		}
		free(buf);
	}
	CHECK(parse_errors == 0, "case hex parses");
	group_end();
}

/* A record-length mismatch inside a real vector, CRC recomputed. */
static void
test_record_length_mismatch(VBatch *vb)
{
	size_t		len = (size_t) vb->bytes.len;
	int			i;

	group_begin("record length mismatch in %s (CRC recomputed)", vb->name);
	for (i = 0; i < vb->nspans; i++)
	{
		const VSpan *s = &vb->spans[i];
		int32_t		rlen;
		int			n;
		uint8_t    *buf;
		uint8_t		tmp[8];
		int			delta;

		n = MqVarintGet(vb->bytes.data + s->start, vb->bytes.data + s->end, &rlen);
		for (delta = -3; delta <= 3; delta++)
		{
			MqCodecStatus st;

			/* keep the varint's size so the rest of the batch stays put */
			if (delta == 0 || rlen + delta < 0 || MqVarintSize(rlen + delta) != n)
				continue;
			buf = exact_copy(vb->bytes.data, len);
			MqVarintPut(tmp, rlen + delta);
			memcpy(buf + s->start, tmp, (size_t) n);
			mq_test_fixup(buf, len);
			st = validate_and_walk(buf, len);
			CHECK(st == MQ_CODEC_BAD_LENGTH || st == MQ_CODEC_TRAILING_BYTES ||
				  st == MQ_CODEC_BAD_VARINT || st == MQ_CODEC_BAD_COUNT,
				  "record %d length %+d: %s", i, delta, MqCodecStatusMessage(st));
			free(buf);
		}
	}
	group_end();
}

/* Random mutations; half of them with batchLength and CRC repaired. */
static void
test_mutations(int iterations)
{
	int			i;
	long		validated = 0;
	long		canonical = 0;

	group_begin("random mutations of all vectors (%d)", iterations);
	for (i = 0; i < iterations; i++)
	{
		VBatch	   *vb = &vbatches[rng() % (uint64_t) n_vbatches];
		size_t		len = (size_t) vb->bytes.len;
		uint8_t    *buf;
		int			nmut = 1 + (int) (rng() % 4);
		int			k;

		if (rng() % 4 == 0 && len > MQ_BATCH_HEADER_SIZE)
			len = MQ_BATCH_HEADER_SIZE + (size_t) (rng() % (len - MQ_BATCH_HEADER_SIZE));
		buf = exact_copy(vb->bytes.data, len);
		for (k = 0; k < nmut; k++)
		{
			size_t		pos = len > MQ_BATCH_HEADER_SIZE && rng() % 8 != 0 ?
				MQ_BATCH_HEADER_SIZE + (size_t) (rng() % (len - MQ_BATCH_HEADER_SIZE)) :
				(size_t) (rng() % len);

			switch (rng() % 4)
			{
				case 0:
					buf[pos] ^= (uint8_t) (1u << (rng() % 8));
					break;
				case 1:
					buf[pos] = (uint8_t) rng();
					break;
				case 2:
					buf[pos] = 0xff;
					break;
				default:
					buf[pos] = (uint8_t) (rng() % 3);	/* small varints */
					break;
			}
		}
		if (rng() % 2 == 0)
			mq_test_fixup(buf, len);
		if (validate_and_walk(buf, len) == MQ_CODEC_OK)
		{
			MqTestReencode r;

			validated++;
			if (!CHECK(mq_test_reencode(buf, len, &r), "iteration %d (%s): %s", i,
					   vb->name, r.why))
			{
				mq_test_reencode_free(&r);
				free(buf);
				break;
			}
			if (r.canonical)
				canonical++;
			mq_test_reencode_free(&r);
		}
		free(buf);
	}
	printf("# mutations: %d, still valid: %ld, of which canonical: %ld\n",
		   iterations, validated, canonical);
	CHECK(validated > 0, "some mutations stay valid");
	group_end();
}

/* ----------------------------------------------------------------
 *		main
 * ----------------------------------------------------------------
 */
static void
check_vector_counts(void)
{
	int			i;
	int			nvec = 0;
	int			ncomp = 0;
	int			nrec = 0;
	int			nhdr = 0;
	int			nnullhv = 0;

	group_begin("vector file complete");
	for (i = 0; i < n_tag_counts; i++)
		CHECK(tag_counts[i].declared == tag_counts[i].seen,
			  "tag %s: declared %ld, read %ld", tag_counts[i].tag,
			  tag_counts[i].declared, tag_counts[i].seen);
	CHECK(tag_seen("varint") == 24, "24 varint");
	CHECK(tag_seen("varlong") == 36, "36 varlong");
	CHECK(tag_seen("uvarint") == 11, "11 uvarint");
	CHECK(tag_seen("kref") == 78, "78 kafka_reference");
	CHECK(tag_seen("crc") == 13, "13 crc32c");
	CHECK(tag_seen("murmur") == 84, "84 murmur2 keys");
	CHECK(tag_seen("cross") == 3, "3 crosschecks");
	for (i = 0; i < n_vbatches; i++)
	{
		int			j;
		int			k;

		if (strcmp(vbatches[i].kind, "vector") == 0)
			nvec++;
		else
			ncomp++;
		for (j = 0; j < vbatches[i].nrecs; j++)
		{
			nrec++;
			nhdr += vbatches[i].recs[j].nheaders;
			for (k = 0; k < vbatches[i].recs[j].nheaders; k++)
				if (vbatches[i].recs[j].headers[k].value.len < 0)
					nnullhv++;
		}
	}
	CHECK(nvec == 18, "18 batch vectors, got %d", nvec);
	CHECK(ncomp == 1, "1 compressed vector");
	CHECK(nnullhv >= 1, "a null header value");
	printf("# vectors: %d batches (%d records, %d headers), %d compressed, %d crosschecks\n",
		   nvec, nrec, nhdr, ncomp, n_vcross);
	group_end();
}

int
main(int argc, char **argv)
{
	int			i;
	int			mutations = 20000;

	if (argc < 2)
	{
		fprintf(stderr, "usage: %s VECTORS.txt [mutations]\n", argv[0]);
		return 2;
	}
	if (argc > 2)
		mutations = atoi(argv[2]);
	if (!load_vectors(argv[1]))
	{
		fprintf(stderr, "could not load %s\n", argv[1]);
		return 2;
	}

	check_vector_counts();
	test_varint_vectors("varint", "varint vectors (int32 zigzag)");
	test_varint_vectors("varlong", "varlong vectors (int64 zigzag)");
	test_varint_vectors("uvarint", "uvarint vectors");
	test_varint_vectors("ref-varint", "kafka_reference varint (ByteUtilsTest)");
	test_varint_vectors("ref-varlong", "kafka_reference varlong (ByteUtilsTest)");
	test_varint_vectors("ref-uvarint", "kafka_reference uvarint (ByteUtilsTest)");
	test_varint_edges();
	test_crc32c();
	test_murmur2();

	for (i = 0; i < n_vbatches; i++)
	{
		VBatch	   *vb = &vbatches[i];

		if (strcmp(vb->kind, "compressed") == 0)
		{
			test_compressed(vb);
			continue;
		}
		test_batch_decode(vb);
		test_batch_encode(vb);
		test_batch_reencode(vb->name, vb->bytes.data, (size_t) vb->bytes.len, true);
	}
	for (i = 0; i < n_vcross; i++)
		test_crosscheck(&vcross[i]);
	test_log_append_time_contract();
	test_encode_edges();

	for (i = 0; i < n_vbatches; i++)
	{
		VBatch	   *vb = &vbatches[i];

		if (strcmp(vb->kind, "compressed") == 0)
			continue;
		test_truncate(vb);
		test_header_errors(vb);
		test_record_length_mismatch(vb);
	}
	test_flip_bytes(find_batch("single_record_key_value"));
	test_flip_bytes(find_batch("headers_multiple_and_duplicate_keys"));
	test_flip_bytes(find_batch("header_null_value"));
	test_flip_bytes(find_batch("many_records_offset_delta_over_63"));
	test_bad_records();
	test_mutations(mutations);

	printf("1..%d\n", n_groups);
	printf("# %d groups, %d failed; %ld checks, %ld failed\n",
		   n_groups, n_groups_failed, n_checks, n_checks_failed);
	printf("# %s\n", n_groups_failed == 0 ? "ALL PASSED" : "FAILED");
	arena_free();
	return n_groups_failed == 0 && n_groups > 0 ? 0 : 1;
}
