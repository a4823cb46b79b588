/*-------------------------------------------------------------------------
 *
 * test/unit/batch_util.h
 *	  Round-trip helpers shared by the codec unit test and the fuzzers.
 *
 * Header-only (static functions) so that each test program stays a single
 * translation unit plus the codec; uses malloc, which the codec itself
 * never does.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_TEST_BATCH_UTIL_H
#define MQ_TEST_BATCH_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "record_batch.h"
#include "varint.h"

/* Make a patched batch consistent again: batchLength, then the CRC. */
static inline void
mq_test_fixup(uint8_t *buf, size_t len)
{
	uint32_t	bl = (uint32_t) (len - 12);
	uint32_t	crc;

	buf[8] = (uint8_t) (bl >> 24);
	buf[9] = (uint8_t) (bl >> 16);
	buf[10] = (uint8_t) (bl >> 8);
	buf[11] = (uint8_t) bl;
	crc = MqCrc32c(buf + MQ_BATCH_ATTRIBUTES_OFFSET,
				   len - MQ_BATCH_ATTRIBUTES_OFFSET);
	buf[17] = (uint8_t) (crc >> 24);
	buf[18] = (uint8_t) (crc >> 16);
	buf[19] = (uint8_t) (crc >> 8);
	buf[20] = (uint8_t) crc;
}

static inline bool
mq_test_bytes_eq(const uint8_t *a, int32_t alen, const uint8_t *b, int32_t blen)
{
	if (alen != blen)
		return false;
	if (alen <= 0)
		return true;
	return memcmp(a, b, (size_t) alen) == 0;
}

/*
 * The raw (creation-time) timestamp delta of the record starting at p.
 * MqDecodedRecord only carries the effective timestamp, which for
 * LogAppendTime batches hides the delta; re-encoding needs the delta.
 * Only called on records the iterator has already accepted.
 */
static inline int64_t
mq_test_raw_ts_delta(const uint8_t *p, const uint8_t *end)
{
	int32_t		len;
	int64_t		delta = 0;
	int			n = MqVarintGet(p, end, &len);

	if (n < 0)
		return 0;
	p += n + 1;					/* skip length and attributes */
	if (MqVarlongGet(p, end, &delta) < 0)
		return 0;
	return delta;
}

typedef struct MqTestReencode
{
	uint8_t    *buf;			/* malloc'd re-encoded batch */
	size_t		len;
	bool		canonical;		/* input is what our encoder writes */
	char		why[96];		/* first mismatch, when not ok */
	bool		ok;
} MqTestReencode;

static inline void
mq_test_reencode_free(MqTestReencode *r)
{
	free(r->buf);
	r->buf = NULL;
}

/*
 * Re-encode a batch that MqBatchValidate accepted, from what the decoder
 * reports, and check the result: it must validate; records must agree in
 * key, value, headers and effective timestamp (and offset, when the input
 * used offsetDelta i for record i); and when the input is canonical --
 * offsetDelta i, first timestampDelta 0, record attributes 0,
 * lastOffsetDelta n-1, minimal varints (same total length) -- the bytes
 * must be identical.  LogAppendTime and a maxTimestamp other than the
 * records' maximum are restored with MqBatchSetMaxTimestamp, as a broker
 * would.  Returns false with r->why set on any mismatch.
 */
static inline bool
mq_test_reencode(const uint8_t *buf, size_t len, MqTestReencode *r)
{
	MqBatchHeader h;
	MqBatchHeader h2;
	MqBatchHeader h3;
	MqRecordIter it;
	MqRecordIter it2;
	MqDecodedRecord d;
	MqDecodedRecord d2;
	MqRecord   *recs = NULL;
	MqHeader   *hdrs = NULL;
	size_t		nhdrs_total = 0;
	int32_t		n;
	int32_t		i;
	bool		done;
	bool		ok = true;
	bool		offsets_canonical = true;

	memset(r, 0, sizeof(*r));
	if (MqBatchValidate(buf, len, &h) != MQ_CODEC_OK)
	{
		snprintf(r->why, sizeof(r->why), "input does not validate");
		return false;
	}
	n = h.records_count;
	r->canonical = (n == 0) || (h.last_offset_delta == n - 1);

	/* First pass: count headers so one allocation holds them all. */
	MqRecordIterInit(&it, buf, len, &h);
	for (i = 0; i < n; i++)
	{
		if (MqRecordIterNext(&it, &d, &done) != MQ_CODEC_OK || done)
		{
			snprintf(r->why, sizeof(r->why), "iteration failed after validate");
			return false;
		}
		nhdrs_total += (size_t) d.num_headers;
	}
	recs = calloc((size_t) n + 1, sizeof(MqRecord));
	hdrs = calloc(nhdrs_total + 1, sizeof(MqHeader));
	if (recs == NULL || hdrs == NULL)
		abort();

	nhdrs_total = 0;
	MqRecordIterInit(&it, buf, len, &h);
	for (i = 0; i < n; i++)
	{
		const uint8_t *start = it.pos;
		int64_t		delta = mq_test_raw_ts_delta(start, it.end);
		MqHeaderIter hi;
		MqHeader	hh;
		int32_t		j = 0;

		(void) MqRecordIterNext(&it, &d, &done);
		recs[i].timestamp = (int64_t) ((uint64_t) h.base_timestamp +
									   (uint64_t) delta);
		recs[i].key = d.key;
		recs[i].key_len = d.key_len;
		recs[i].value = d.value;
		recs[i].value_len = d.value_len;
		recs[i].num_headers = d.num_headers;
		recs[i].headers = hdrs + nhdrs_total;
		MqHeaderIterInit(&hi, &d);
		while (MqHeaderIterNext(&hi, &hh, &done) == MQ_CODEC_OK && !done)
			hdrs[nhdrs_total + (size_t) j++] = hh;
		if (j != d.num_headers)
		{
			snprintf(r->why, sizeof(r->why), "header iteration short");
			ok = false;
		}
		nhdrs_total += (size_t) d.num_headers;
		if ((int64_t) ((uint64_t) d.offset - (uint64_t) h.base_offset) != i)
			offsets_canonical = false;
		if (d.attributes != 0 || (i == 0 && delta != 0))
			r->canonical = false;
	}
	if (!offsets_canonical)
		r->canonical = false;

	memset(&h2, 0, sizeof(h2));
	h2.base_offset = h.base_offset;
	h2.partition_leader_epoch = h.partition_leader_epoch;
	h2.producer_id = h.producer_id;
	h2.producer_epoch = h.producer_epoch;
	h2.base_sequence = h.base_sequence;
	if (n == 0)
	{
		/* The log cleaner's empty batch: every field as given. */
		h2 = h;
		r->len = MQ_BATCH_HEADER_SIZE;
		r->buf = malloc(r->len);
		if (r->buf == NULL)
			abort();
		MqBatchEncodeEmpty(&h2, r->buf);
	}
	else
	{
		h2.attributes = (int16_t) (h.attributes & ~MQ_BATCH_LOG_APPEND_TIME);
		r->len = MqBatchEncodedSize(recs, n);
		r->buf = malloc(r->len);
		if (r->buf == NULL)
			abort();
		MqBatchEncode(&h2, recs, n, r->buf);
		if ((h.attributes & MQ_BATCH_LOG_APPEND_TIME) ||
			h2.max_timestamp != h.max_timestamp)
			MqBatchSetMaxTimestamp(r->buf, r->len,
								   (h.attributes & MQ_BATCH_LOG_APPEND_TIME) != 0,
								   h.max_timestamp);
	}

	if (ok && MqBatchValidate(r->buf, r->len, &h3) != MQ_CODEC_OK)
	{
		snprintf(r->why, sizeof(r->why), "re-encoded batch does not validate");
		ok = false;
	}
	if (ok && (h3.records_count != n || h3.attributes != h.attributes ||
			   h3.max_timestamp != h.max_timestamp ||
			   h3.producer_id != h.producer_id ||
			   h3.base_sequence != h.base_sequence))
	{
		snprintf(r->why, sizeof(r->why), "re-encoded header differs");
		ok = false;
	}

	/* Compare record by record. */
	if (ok)
	{
		MqRecordIterInit(&it, buf, len, &h);
		MqRecordIterInit(&it2, r->buf, r->len, &h3);
		for (i = 0; i < n && ok; i++)
		{
			MqHeaderIter a;
			MqHeaderIter b;
			MqHeader	ha;
			MqHeader	hb;
			bool		done2;

			(void) MqRecordIterNext(&it, &d, &done);
			if (MqRecordIterNext(&it2, &d2, &done2) != MQ_CODEC_OK || done2)
			{
				snprintf(r->why, sizeof(r->why), "record %d missing", (int) i);
				ok = false;
				break;
			}
			if (!mq_test_bytes_eq(d.key, d.key_len, d2.key, d2.key_len) ||
				!mq_test_bytes_eq(d.value, d.value_len, d2.value, d2.value_len) ||
				d.timestamp != d2.timestamp || d.num_headers != d2.num_headers ||
				(offsets_canonical && d.offset != d2.offset))
			{
				snprintf(r->why, sizeof(r->why), "record %d differs", (int) i);
				ok = false;
				break;
			}
			MqHeaderIterInit(&a, &d);
			MqHeaderIterInit(&b, &d2);
			for (;;)
			{
				MqCodecStatus sa = MqHeaderIterNext(&a, &ha, &done);
				MqCodecStatus sb = MqHeaderIterNext(&b, &hb, &done2);

				if (sa != MQ_CODEC_OK || sb != MQ_CODEC_OK || done != done2)
				{
					ok = false;
					break;
				}
				if (done)
					break;
				if (!mq_test_bytes_eq(ha.key, ha.key_len, hb.key, hb.key_len) ||
					!mq_test_bytes_eq(ha.value, ha.value_len,
									  hb.value, hb.value_len))
				{
					ok = false;
					break;
				}
			}
			if (!ok)
				snprintf(r->why, sizeof(r->why), "record %d headers differ",
						 (int) i);
		}
	}

	if (ok && r->canonical && r->len == len &&
		memcmp(r->buf, buf, len) != 0)
	{
		snprintf(r->why, sizeof(r->why), "canonical batch re-encodes to other bytes");
		ok = false;
	}
	/* Our encoder writes minimal varints, so it can only be shorter. */
	if (ok && r->canonical && r->len > len)
	{
		snprintf(r->why, sizeof(r->why), "canonical batch re-encodes longer");
		ok = false;
	}

	free(recs);
	free(hdrs);
	r->ok = ok;
	return ok;
}

#endif							/* MQ_TEST_BATCH_UTIL_H */
