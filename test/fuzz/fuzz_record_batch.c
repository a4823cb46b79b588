/*-------------------------------------------------------------------------
 *
 * test/fuzz/fuzz_record_batch.c
 *	  libFuzzer target for the RecordBatch v2 decoder and encoder.
 *
 * Each input is tried twice: as is (almost always a CRC failure once
 * mutated, which exercises the header checks) and with batchLength and the
 * CRC repaired, so that mutations reach the record and header parsers.  It
 * also walks records and headers on unvalidated input, and iterates the
 * bytes after the header as a bare records section.  Whatever validates
 * is re-encoded and compared (see mq_test_reencode in batch_util.h).
 * Properties are enforced with abort(), which libFuzzer reports.
 *
 *-------------------------------------------------------------------------
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_util.h"
#include "record_batch.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
require(int cond, const char *what)
{
	if (!cond)
	{
		fprintf(stderr, "property violated: %s\n", what);
		abort();
	}
}

/* Walk everything the iterator allows; returns the final status. */
static MqCodecStatus
walk(MqRecordIter *it)
{
	MqDecodedRecord d;
	MqCodecStatus st;
	bool		done = false;
	volatile uint32_t sink = 0;

	for (;;)
	{
		MqHeaderIter hi;
		MqHeader	h;
		MqCodecStatus hst;
		const uint8_t *before = it->pos;

		st = MqRecordIterNext(it, &d, &done);
		if (st != MQ_CODEC_OK)
		{
			require(it->pos == before, "iterator advanced on error");
			return st;
		}
		if (done)
		{
			(void) sink;
			return st;
		}
		/* touch every byte the decoder hands out, so ASan checks the spans */
		if (d.key_len > 0)
			sink += d.key[0] + d.key[d.key_len - 1];
		if (d.value_len > 0)
			sink += d.value[0] + d.value[d.value_len - 1];
		require(d.key_len >= -1 && d.value_len >= -1, "lengths");
		MqHeaderIterInit(&hi, &d);
		for (;;)
		{
			hst = MqHeaderIterNext(&hi, &h, &done);
			/* a record the iterator returned has well-formed headers */
			require(hst == MQ_CODEC_OK, "header iteration failed");
			if (done)
				break;
			require(h.key_len >= 0 && h.value_len >= -1, "header lengths");
			if (h.key_len > 0)
				sink += h.key[h.key_len - 1];
			if (h.value_len > 0)
				sink += h.value[h.value_len - 1];
		}
	}
}

static void
one(const uint8_t *buf, size_t len)
{
	MqBatchHeader h;
	MqBatchHeader hv;
	MqRecordIter it;
	MqCodecStatus hst;
	MqCodecStatus vst;
	MqCodecStatus wst;

	hst = MqBatchDecodeHeader(buf, len, false, &h);
	vst = MqBatchValidate(buf, len, &hv);
	(void) MqCodecStatusMessage(vst);
	if (hst != MQ_CODEC_OK)
	{
		require(vst != MQ_CODEC_OK, "validate ok but header not");
		return;
	}

	MqRecordIterInit(&it, buf, len, &h);
	wst = walk(&it);
	if (vst == MQ_CODEC_OK)
	{
		MqTestReencode r;

		require(wst == MQ_CODEC_OK, "validated batch did not iterate");
		if (!mq_test_reencode(buf, len, &r))
		{
			fprintf(stderr, "re-encode: %s\n", r.why);
			abort();
		}
		mq_test_reencode_free(&r);
	}
	else if (vst != MQ_CODEC_BAD_CRC && vst != MQ_CODEC_UNSUPPORTED_COMPRESSION &&
			 vst != MQ_CODEC_BAD_COUNT)
	{
		/* a structural failure must also stop the iterator */
		require(wst != MQ_CODEC_OK, "iterator accepted an invalid batch");
	}

	/* the same bytes as a bare records section, compression ignored */
	MqRecordIterInitRecords(&it, buf + MQ_BATCH_HEADER_SIZE,
							len - MQ_BATCH_HEADER_SIZE, &h);
	(void) walk(&it);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t    *copy;

	/* exact-size copies: ASan then catches reads one past the end */
	copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	if (size > 0)
		memcpy(copy, data, size);
	one(copy, size);

	if (size >= MQ_BATCH_HEADER_SIZE)
	{
		/* magic fixed too, or most inputs stop at the magic check */
		copy[16] = MQ_BATCH_MAGIC;
		mq_test_fixup(copy, size);
		one(copy, size);
	}
	free(copy);
	return 0;
}
