/*-------------------------------------------------------------------------
 *
 * src/codec/record_batch.c
 *	  Kafka RecordBatch v2 encoder, validator and record/header iterators.
 *
 * The decoder is written for hostile input: batches arrive from clients,
 * and a malformed one must be rejected with a status, never read past its
 * end, never trip undefined behaviour.  Every length is checked against the
 * bytes that remain before it is used, and all offset/timestamp arithmetic
 * on untrusted values wraps (through uint64_t) as Java's long arithmetic
 * does, rather than overflowing signed integers.
 *
 * The encoder trusts its caller (the sizes come from datums we already
 * hold) and produces what Kafka's Java producer would produce for the same
 * input: baseTimestamp is the first record's timestamp, maxTimestamp the
 * largest, record i has offsetDelta i, record attributes are 0.
 *
 *-------------------------------------------------------------------------
 */
#include "record_batch.h"

#include <string.h>

#include "crc32c.h"
#include "varint.h"

/* Byte offsets of the header fields (see the layout in record_batch.h). */
#define OFF_BASE_OFFSET			0
#define OFF_BATCH_LENGTH		8
#define OFF_LEADER_EPOCH		12
#define OFF_MAGIC				16
#define OFF_LAST_OFFSET_DELTA	23
#define OFF_BASE_TIMESTAMP		27
#define OFF_MAX_TIMESTAMP		35
#define OFF_PRODUCER_ID			43
#define OFF_PRODUCER_EPOCH		51
#define OFF_BASE_SEQUENCE		53
#define OFF_RECORDS_COUNT		57

/* batchLength counts the bytes after itself. */
#define BATCH_LENGTH_OVERHEAD	12

/*
 * Smallest possible record: length, attributes, timestampDelta,
 * offsetDelta, key length, value length and header count, one byte each.
 * Used to reject impossible recordsCount values before walking.
 */
#define MIN_RECORD_SIZE			7

/* Smallest possible header: key length and value length, one byte each. */
#define MIN_HEADER_SIZE			2

/* Special values of MqRecordIter.remaining; a header count is never < 0. */
#define ITER_COMPRESSED			INT32_MIN
#define ITER_TRUNCATED			(INT32_MIN + 1)

const char *
MqCodecStatusMessage(MqCodecStatus status)
{
	switch (status)
	{
		case MQ_CODEC_OK:
			return "ok";
		case MQ_CODEC_TRUNCATED:
			return "record batch is truncated";
		case MQ_CODEC_BAD_LENGTH:
			return "invalid length in record batch";
		case MQ_CODEC_BAD_MAGIC:
			return "unsupported record batch magic (only v2 is supported)";
		case MQ_CODEC_BAD_CRC:
			return "record batch CRC-32C mismatch";
		case MQ_CODEC_BAD_VARINT:
			return "malformed varint in record batch";
		case MQ_CODEC_BAD_COUNT:
			return "record or header count does not match the batch";
		case MQ_CODEC_TRAILING_BYTES:
			return "unexpected trailing bytes in record batch";
		case MQ_CODEC_UNSUPPORTED_COMPRESSION:
			return "compressed record batches are not supported";
	}
	return "unknown record batch codec status";
}

/* Big-endian access, byte by byte so alignment and host order do not matter. */
static inline uint16_t
get_be16(const uint8_t *p)
{
	return (uint16_t) (((uint32_t) p[0] << 8) | p[1]);
}

static inline uint32_t
get_be32(const uint8_t *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) |
		((uint32_t) p[2] << 8) | (uint32_t) p[3];
}

static inline uint64_t
get_be64(const uint8_t *p)
{
	return ((uint64_t) get_be32(p) << 32) | get_be32(p + 4);
}

static inline void
put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t) (v >> 8);
	p[1] = (uint8_t) v;
}

static inline void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) (v >> 24);
	p[1] = (uint8_t) (v >> 16);
	p[2] = (uint8_t) (v >> 8);
	p[3] = (uint8_t) v;
}

static inline void
put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t) (v >> 32));
	put_be32(p + 4, (uint32_t) v);
}

/* Java long addition: wraps instead of being undefined. */
static inline int64_t
add_wrap64(int64_t a, int64_t b)
{
	return (int64_t) ((uint64_t) a + (uint64_t) b);
}

/* Map a varint decoder's negative result to a status. */
static inline MqCodecStatus
varint_error(int n, MqCodecStatus if_truncated)
{
	return n == MQ_VARINT_TOO_LONG ? MQ_CODEC_BAD_VARINT : if_truncated;
}

/* ----------------------------------------------------------------
 *		Encoding
 * ----------------------------------------------------------------
 */

/* Size of a nullable bytes field: varint length (-1 for null) + data. */
static inline size_t
bytes_field_size(int32_t len)
{
	if (len < 0)
		return 1;
	return (size_t) MqVarintSize(len) + (size_t) len;
}

static inline uint8_t *
put_bytes_field(uint8_t *p, const uint8_t *data, int32_t len)
{
	if (len < 0)
		return p + MqVarintPut(p, -1);
	p += MqVarintPut(p, len);
	if (len > 0)
		memcpy(p, data, (size_t) len);
	return p + len;
}

/* Size of a record without its own length varint. */
static size_t
record_body_size(const MqRecord *rec, int64_t timestamp_delta,
				 int32_t offset_delta)
{
	size_t		size;
	int32_t		i;

	size = 1;					/* attributes */
	size += (size_t) MqVarlongSize(timestamp_delta);
	size += (size_t) MqVarintSize(offset_delta);
	size += bytes_field_size(rec->key_len);
	size += bytes_field_size(rec->value_len);
	size += (size_t) MqVarintSize(rec->num_headers > 0 ? rec->num_headers : 0);
	for (i = 0; i < rec->num_headers; i++)
	{
		const MqHeader *h = &rec->headers[i];

		/* A header key cannot be null; a negative length is written as empty. */
		size += bytes_field_size(h->key_len > 0 ? h->key_len : 0);
		size += bytes_field_size(h->value_len);
	}
	return size;
}

size_t
MqRecordEncodedSize(const MqRecord *rec, int64_t timestamp_delta,
					int32_t offset_delta)
{
	size_t		body = record_body_size(rec, timestamp_delta, offset_delta);

	return (size_t) MqVarintSize((int32_t) body) + body;
}

size_t
MqBatchEncodedSize(const MqRecord *recs, int nrecs)
{
	size_t		size = MQ_BATCH_HEADER_SIZE;
	int			i;

	for (i = 0; i < nrecs; i++)
		size += MqRecordEncodedSize(&recs[i],
									add_wrap64(recs[i].timestamp,
											   -recs[0].timestamp),
									(int32_t) i);
	return size;
}

static uint8_t *
put_record(uint8_t *p, const MqRecord *rec, int64_t timestamp_delta,
		   int32_t offset_delta)
{
	size_t		body = record_body_size(rec, timestamp_delta, offset_delta);
	int32_t		nheaders = rec->num_headers > 0 ? rec->num_headers : 0;
	int32_t		i;

	p += MqVarintPut(p, (int32_t) body);
	*p++ = 0;					/* record attributes: unused, always 0 */
	p += MqVarlongPut(p, timestamp_delta);
	p += MqVarintPut(p, offset_delta);
	p = put_bytes_field(p, rec->key, rec->key_len);
	p = put_bytes_field(p, rec->value, rec->value_len);
	p += MqVarintPut(p, nheaders);
	for (i = 0; i < nheaders; i++)
	{
		const MqHeader *h = &rec->headers[i];

		p = put_bytes_field(p, h->key, h->key_len > 0 ? h->key_len : 0);
		p = put_bytes_field(p, h->value, h->value_len);
	}
	return p;
}

/* Write the 61 header bytes from *hdr and fill in its crc. */
static void
put_header(MqBatchHeader *hdr, uint8_t *dst, size_t total)
{
	hdr->batch_length = (int32_t) (total - BATCH_LENGTH_OVERHEAD);
	hdr->magic = MQ_BATCH_MAGIC;

	put_be64(dst + OFF_BASE_OFFSET, (uint64_t) hdr->base_offset);
	put_be32(dst + OFF_BATCH_LENGTH, (uint32_t) hdr->batch_length);
	put_be32(dst + OFF_LEADER_EPOCH, (uint32_t) hdr->partition_leader_epoch);
	dst[OFF_MAGIC] = (uint8_t) hdr->magic;
	put_be16(dst + MQ_BATCH_ATTRIBUTES_OFFSET, (uint16_t) hdr->attributes);
	put_be32(dst + OFF_LAST_OFFSET_DELTA, (uint32_t) hdr->last_offset_delta);
	put_be64(dst + OFF_BASE_TIMESTAMP, (uint64_t) hdr->base_timestamp);
	put_be64(dst + OFF_MAX_TIMESTAMP, (uint64_t) hdr->max_timestamp);
	put_be64(dst + OFF_PRODUCER_ID, (uint64_t) hdr->producer_id);
	put_be16(dst + OFF_PRODUCER_EPOCH, (uint16_t) hdr->producer_epoch);
	put_be32(dst + OFF_BASE_SEQUENCE, (uint32_t) hdr->base_sequence);
	put_be32(dst + OFF_RECORDS_COUNT, (uint32_t) hdr->records_count);

	/* The CRC covers attributes through the end, so it is computed last. */
	hdr->crc = MqCrc32c(dst + MQ_BATCH_ATTRIBUTES_OFFSET,
						total - MQ_BATCH_ATTRIBUTES_OFFSET);
	put_be32(dst + MQ_BATCH_CRC_OFFSET, hdr->crc);
}

void
MqBatchEncode(MqBatchHeader *hdr, const MqRecord *recs, int nrecs,
			  uint8_t *dst)
{
	uint8_t    *p = dst + MQ_BATCH_HEADER_SIZE;
	int64_t		base_ts = -1;
	int64_t		max_ts = -1;
	int			i;

	if (nrecs > 0)
	{
		/* Like Java's MemoryRecordsBuilder: base is the first, not the min. */
		base_ts = recs[0].timestamp;
		max_ts = recs[0].timestamp;
		for (i = 1; i < nrecs; i++)
			if (recs[i].timestamp > max_ts)
				max_ts = recs[i].timestamp;
	}
	else
		nrecs = 0;

	for (i = 0; i < nrecs; i++)
		p = put_record(p, &recs[i], add_wrap64(recs[i].timestamp, -base_ts),
					   (int32_t) i);

	hdr->last_offset_delta = nrecs - 1;
	hdr->base_timestamp = base_ts;
	hdr->max_timestamp = max_ts;
	hdr->records_count = nrecs;
	put_header(hdr, dst, (size_t) (p - dst));
}

/*
 * Size and encoding of the records that compaction keeps of a batch: each
 * keeps its offset (offset_deltas[i], increasing), and the batch keeps the
 * caller's base offset and last_offset_delta, as Kafka's log cleaner does.
 */
size_t
MqBatchEncodedSizeKept(const MqRecord *recs, const int32_t *offset_deltas,
					   int nrecs)
{
	size_t		size = MQ_BATCH_HEADER_SIZE;
	int			i;

	for (i = 0; i < nrecs; i++)
		size += MqRecordEncodedSize(&recs[i],
									add_wrap64(recs[i].timestamp,
											   -recs[0].timestamp),
									offset_deltas[i]);
	return size;
}

void
MqBatchEncodeKept(MqBatchHeader *hdr, const MqRecord *recs,
				  const int32_t *offset_deltas, int nrecs, uint8_t *dst)
{
	uint8_t    *p = dst + MQ_BATCH_HEADER_SIZE;
	int64_t		base_ts = -1;
	int64_t		max_ts = -1;
	int			i;

	if (nrecs > 0)
	{
		base_ts = recs[0].timestamp;
		max_ts = recs[0].timestamp;
		for (i = 1; i < nrecs; i++)
			if (recs[i].timestamp > max_ts)
				max_ts = recs[i].timestamp;
	}
	for (i = 0; i < nrecs; i++)
		p = put_record(p, &recs[i], add_wrap64(recs[i].timestamp, -base_ts),
					   offset_deltas[i]);

	/*
	 * hdr->last_offset_delta is the caller's: the batch's offsets stay.  A
	 * LogAppendTime batch keeps its maxTimestamp, which is every record's
	 * timestamp.
	 */
	hdr->base_timestamp = base_ts;
	if (!(hdr->attributes & MQ_BATCH_LOG_APPEND_TIME) || nrecs == 0)
		hdr->max_timestamp = max_ts;
	hdr->records_count = nrecs;
	put_header(hdr, dst, (size_t) (p - dst));
}

void
MqBatchEncodeEmpty(MqBatchHeader *hdr, uint8_t *dst)
{
	hdr->records_count = 0;
	put_header(hdr, dst, MQ_BATCH_HEADER_SIZE);
}

void
MqBatchSetBaseOffset(uint8_t *batch, int64_t base_offset)
{
	put_be64(batch + OFF_BASE_OFFSET, (uint64_t) base_offset);
}

void
MqBatchSetPartitionLeaderEpoch(uint8_t *batch, int32_t epoch)
{
	put_be32(batch + OFF_LEADER_EPOCH, (uint32_t) epoch);
}

void
MqBatchSetMaxTimestamp(uint8_t *batch, size_t len, bool log_append_time,
					   int64_t max_timestamp)
{
	uint16_t	attributes;

	if (len < MQ_BATCH_HEADER_SIZE)
		return;
	attributes = get_be16(batch + MQ_BATCH_ATTRIBUTES_OFFSET);
	if (log_append_time)
		attributes |= MQ_BATCH_LOG_APPEND_TIME;
	else
		attributes &= (uint16_t) ~MQ_BATCH_LOG_APPEND_TIME;
	put_be16(batch + MQ_BATCH_ATTRIBUTES_OFFSET, attributes);
	put_be64(batch + OFF_MAX_TIMESTAMP, (uint64_t) max_timestamp);
	put_be32(batch + MQ_BATCH_CRC_OFFSET,
			 MqCrc32c(batch + MQ_BATCH_ATTRIBUTES_OFFSET,
					  len - MQ_BATCH_ATTRIBUTES_OFFSET));
}

/* ----------------------------------------------------------------
 *		Decoding
 * ----------------------------------------------------------------
 */

MqCodecStatus
MqBatchDecodeHeader(const uint8_t *buf, size_t len, bool verify_crc,
					MqBatchHeader *hdr)
{
	if (buf == NULL || len < MQ_BATCH_HEADER_SIZE)
		return MQ_CODEC_TRUNCATED;

	hdr->base_offset = (int64_t) get_be64(buf + OFF_BASE_OFFSET);
	hdr->batch_length = (int32_t) get_be32(buf + OFF_BATCH_LENGTH);
	hdr->partition_leader_epoch = (int32_t) get_be32(buf + OFF_LEADER_EPOCH);
	hdr->magic = (int8_t) buf[OFF_MAGIC];
	hdr->crc = get_be32(buf + MQ_BATCH_CRC_OFFSET);
	hdr->attributes = (int16_t) get_be16(buf + MQ_BATCH_ATTRIBUTES_OFFSET);
	hdr->last_offset_delta = (int32_t) get_be32(buf + OFF_LAST_OFFSET_DELTA);
	hdr->base_timestamp = (int64_t) get_be64(buf + OFF_BASE_TIMESTAMP);
	hdr->max_timestamp = (int64_t) get_be64(buf + OFF_MAX_TIMESTAMP);
	hdr->producer_id = (int64_t) get_be64(buf + OFF_PRODUCER_ID);
	hdr->producer_epoch = (int16_t) get_be16(buf + OFF_PRODUCER_EPOCH);
	hdr->base_sequence = (int32_t) get_be32(buf + OFF_BASE_SEQUENCE);
	hdr->records_count = (int32_t) get_be32(buf + OFF_RECORDS_COUNT);

	/* Compare in 64 bits: batch_length may be negative, len huge. */
	if ((int64_t) hdr->batch_length !=
		(int64_t) (uint64_t) (len - BATCH_LENGTH_OVERHEAD) ||
		len - BATCH_LENGTH_OVERHEAD > (size_t) INT32_MAX)
		return MQ_CODEC_BAD_LENGTH;

	/* Before the CRC: a v0/v1 message set has no CRC-32C at this offset. */
	if (hdr->magic != MQ_BATCH_MAGIC)
		return MQ_CODEC_BAD_MAGIC;

	if (verify_crc &&
		MqCrc32c(buf + MQ_BATCH_ATTRIBUTES_OFFSET,
				 len - MQ_BATCH_ATTRIBUTES_OFFSET) != hdr->crc)
		return MQ_CODEC_BAD_CRC;

	if (hdr->records_count < 0)
		return MQ_CODEC_BAD_COUNT;

	return MQ_CODEC_OK;
}

/*
 * Read a length-prefixed bytes field inside a record that ends at end.
 * nullable allows length -1.  Running past end means the record's length
 * field was too small for its contents, hence BAD_LENGTH, not TRUNCATED.
 */
static MqCodecStatus
get_bytes_field(const uint8_t **pp, const uint8_t *end, bool nullable,
				const uint8_t **data, int32_t *len)
{
	const uint8_t *p = *pp;
	int32_t		n;
	int			r = MqVarintGet(p, end, &n);

	if (r < 0)
		return varint_error(r, MQ_CODEC_BAD_LENGTH);
	p += r;
	if (n < -1 || (n == -1 && !nullable))
		return MQ_CODEC_BAD_LENGTH;
	if (n == -1)
	{
		*data = NULL;
		*len = -1;
	}
	else
	{
		if ((size_t) n > (size_t) (end - p))
			return MQ_CODEC_BAD_LENGTH;
		*data = p;
		*len = n;
		p += n;
	}
	*pp = p;
	return MQ_CODEC_OK;
}

/*
 * One header: non-null key, nullable value.  *pp moves only on success, so
 * that a failing iterator stays where it was.
 */
static MqCodecStatus
get_header(const uint8_t **pp, const uint8_t *end, MqHeader *h)
{
	const uint8_t *p = *pp;
	MqCodecStatus st;

	st = get_bytes_field(&p, end, false, &h->key, &h->key_len);
	if (st != MQ_CODEC_OK)
		return st;
	st = get_bytes_field(&p, end, true, &h->value, &h->value_len);
	if (st != MQ_CODEC_OK)
		return st;
	*pp = p;
	return MQ_CODEC_OK;
}

/*
 * Decode and fully check the record at *pp (end is the end of the records
 * section).  On success fills *rec and advances *pp past the record.
 */
static MqCodecStatus
get_record(const uint8_t **pp, const uint8_t *end, const MqBatchHeader *hdr,
		   MqDecodedRecord *rec)
{
	const uint8_t *p = *pp;
	const uint8_t *rend;
	int32_t		length;
	int64_t		timestamp_delta;
	int32_t		offset_delta;
	int32_t		nheaders;
	int32_t		i;
	int			r;
	MqCodecStatus st;

	r = MqVarintGet(p, end, &length);
	if (r < 0)
		return varint_error(r, MQ_CODEC_TRUNCATED);
	p += r;
	if (length < 0 || (size_t) length > (size_t) (end - p))
		return MQ_CODEC_BAD_LENGTH;
	rend = p + length;

	/* From here on everything must fit in [p, rend). */
	if (p >= rend)
		return MQ_CODEC_BAD_LENGTH;
	rec->attributes = (int8_t) *p++;

	r = MqVarlongGet(p, rend, &timestamp_delta);
	if (r < 0)
		return varint_error(r, MQ_CODEC_BAD_LENGTH);
	p += r;

	r = MqVarintGet(p, rend, &offset_delta);
	if (r < 0)
		return varint_error(r, MQ_CODEC_BAD_LENGTH);
	p += r;

	st = get_bytes_field(&p, rend, true, &rec->key, &rec->key_len);
	if (st != MQ_CODEC_OK)
		return st;
	st = get_bytes_field(&p, rend, true, &rec->value, &rec->value_len);
	if (st != MQ_CODEC_OK)
		return st;

	r = MqVarintGet(p, rend, &nheaders);
	if (r < 0)
		return varint_error(r, MQ_CODEC_BAD_LENGTH);
	p += r;
	/* Reject absurd counts before looping over them. */
	if (nheaders < 0 ||
		(size_t) nheaders > (size_t) (rend - p) / MIN_HEADER_SIZE)
		return MQ_CODEC_BAD_COUNT;

	rec->headers = p;
	for (i = 0; i < nheaders; i++)
	{
		MqHeader	h;

		st = get_header(&p, rend, &h);
		if (st != MQ_CODEC_OK)
			return st;
	}
	if (p != rend)
		return MQ_CODEC_TRAILING_BYTES;

	rec->num_headers = nheaders;
	rec->headers_end = rend;
	rec->offset = add_wrap64(hdr->base_offset, offset_delta);
	if (hdr->attributes & MQ_BATCH_LOG_APPEND_TIME)
		rec->timestamp = hdr->max_timestamp;
	else
		rec->timestamp = add_wrap64(hdr->base_timestamp, timestamp_delta);

	*pp = rend;
	return MQ_CODEC_OK;
}

void
MqRecordIterInit(MqRecordIter *it, const uint8_t *buf, size_t len,
				 const MqBatchHeader *hdr)
{
	it->hdr = hdr;
	if (buf == NULL || len < MQ_BATCH_HEADER_SIZE)
	{
		it->pos = it->end = NULL;
		it->remaining = ITER_TRUNCATED;
	}
	else if (hdr->attributes & MQ_BATCH_COMPRESSION_MASK)
	{
		it->pos = it->end = NULL;
		it->remaining = ITER_COMPRESSED;
	}
	else
	{
		it->pos = buf + MQ_BATCH_HEADER_SIZE;
		it->end = buf + len;
		it->remaining = hdr->records_count;
	}
}

void
MqRecordIterInitRecords(MqRecordIter *it, const uint8_t *records, size_t len,
						const MqBatchHeader *hdr)
{
	it->hdr = hdr;
	it->remaining = hdr->records_count;
	if (records == NULL)
	{
		/* NULL + 0 is undefined in C; leave both NULL. */
		it->pos = it->end = NULL;
	}
	else
	{
		it->pos = records;
		it->end = records + len;
	}
}

MqCodecStatus
MqRecordIterNext(MqRecordIter *it, MqDecodedRecord *rec, bool *done)
{
	MqCodecStatus st;

	*done = false;
	if (it->remaining < 0)
	{
		if (it->remaining == ITER_COMPRESSED)
			return MQ_CODEC_UNSUPPORTED_COMPRESSION;
		if (it->remaining == ITER_TRUNCATED)
			return MQ_CODEC_TRUNCATED;
		return MQ_CODEC_BAD_COUNT;
	}
	if (it->remaining == 0)
	{
		if (it->pos != it->end)
			return MQ_CODEC_TRAILING_BYTES;
		*done = true;
		return MQ_CODEC_OK;
	}
	/* Records left but no bytes: the count is wrong, not the data. */
	if (it->pos == it->end)
		return MQ_CODEC_BAD_COUNT;

	st = get_record(&it->pos, it->end, it->hdr, rec);
	if (st != MQ_CODEC_OK)
		return st;
	it->remaining--;
	return MQ_CODEC_OK;
}

MqCodecStatus
MqBatchCheckHeader(const uint8_t *buf, size_t len, MqBatchHeader *hdr)
{
	MqCodecStatus st;

	st = MqBatchDecodeHeader(buf, len, true, hdr);
	if (st != MQ_CODEC_OK)
		return st;
	if (hdr->attributes & MQ_BATCH_COMPRESSION_MASK)
		return MQ_CODEC_UNSUPPORTED_COMPRESSION;
	/* Cheap rejection of counts the bytes cannot hold. */
	if ((size_t) hdr->records_count >
		(len - MQ_BATCH_HEADER_SIZE) / MIN_RECORD_SIZE)
		return MQ_CODEC_BAD_COUNT;
	return MQ_CODEC_OK;
}

MqCodecStatus
MqBatchValidate(const uint8_t *buf, size_t len, MqBatchHeader *hdr)
{
	MqCodecStatus st;
	MqRecordIter it;
	MqDecodedRecord rec;
	bool		done = false;

	st = MqBatchCheckHeader(buf, len, hdr);
	if (st != MQ_CODEC_OK)
		return st;

	MqRecordIterInit(&it, buf, len, hdr);
	while (!done)
	{
		st = MqRecordIterNext(&it, &rec, &done);
		if (st != MQ_CODEC_OK)
			return st;
	}
	return MQ_CODEC_OK;
}

void
MqHeaderIterInit(MqHeaderIter *it, const MqDecodedRecord *rec)
{
	it->pos = rec->headers;
	it->end = rec->headers_end;
	it->remaining = rec->num_headers;
}

MqCodecStatus
MqHeaderIterNext(MqHeaderIter *it, MqHeader *h, bool *done)
{
	MqCodecStatus st;

	*done = false;
	if (it->remaining <= 0)
	{
		if (it->pos != it->end)
			return MQ_CODEC_TRAILING_BYTES;
		*done = true;
		return MQ_CODEC_OK;
	}
	/* Re-checked although get_record did: the caller may fill rec itself. */
	st = get_header(&it->pos, it->end, h);
	if (st != MQ_CODEC_OK)
		return st;
	it->remaining--;
	return MQ_CODEC_OK;
}
