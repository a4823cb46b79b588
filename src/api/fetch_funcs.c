/*-------------------------------------------------------------------------
 *
 * src/api/fetch_funcs.c
 *	  SQL entry points of the reader: mq.fetch, mq.fetch_batches,
 *	  mq.offset_for_time, mq.earliest_offset, mq.latest_offset,
 *	  mq.decode_batch.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "broker/fetch.h"
#include "broker/headers.h"
#include "catalog/metadata_cache.h"
#include "errors.h"
#include "mqext.h"
#include "shmem/shmem.h"

PG_FUNCTION_INFO_V1(mq_fetch);
PG_FUNCTION_INFO_V1(mq_fetch_batches);
PG_FUNCTION_INFO_V1(mq_offset_for_time);
PG_FUNCTION_INFO_V1(mq_earliest_offset);
PG_FUNCTION_INFO_V1(mq_latest_offset);
PG_FUNCTION_INFO_V1(mq_log_end_offset);
PG_FUNCTION_INFO_V1(mq_decode_batch);

typedef struct FetchSink
{
	ReturnSetInfo *rsinfo;
	Datum		topic;			/* NULL for decode_batch's shorter rows */
	int32		partition;
	MemoryContext row_cxt;
} FetchSink;

static Datum
bytes_datum(const uint8_t *p, int32 len)
{
	bytea	   *b = palloc(VARHDRSZ + len);

	SET_VARSIZE(b, VARHDRSZ + len);
	memcpy(VARDATA(b), p, len);
	return PointerGetDatum(b);
}

static void
fetch_sink(void *arg, const MqDecodedRecord *rec)
{
	FetchSink  *s = (FetchSink *) arg;
	MemoryContext old = MemoryContextSwitchTo(s->row_cxt);
	Datum		values[7];
	bool		nulls[7] = {0};
	int			i = 0;

	if (s->topic != (Datum) 0)
	{
		values[i++] = s->topic;
		values[i++] = Int32GetDatum(s->partition);
	}
	values[i++] = Int64GetDatum(rec->offset);
	values[i++] = TimestampTzGetDatum(MqMsToTimestamptz(rec->timestamp));
	if (rec->key_len >= 0)
		values[i] = bytes_datum(rec->key, rec->key_len);
	else
		nulls[i] = true;
	i++;
	if (rec->value_len >= 0)
		values[i] = bytes_datum(rec->value, rec->value_len);
	else
		nulls[i] = true;
	i++;
	if (rec->num_headers > 0)
		values[i] = JsonbPGetDatum(MqHeadersToJsonb(rec));
	else
		nulls[i] = true;

	tuplestore_putvalues(s->rsinfo->setResult, s->rsinfo->setDesc, values, nulls);
	MemoryContextSwitchTo(old);
	MemoryContextReset(s->row_cxt);
}

static void
sink_init(FetchSink *s, FunctionCallInfo fcinfo)
{
	InitMaterializedSRF(fcinfo, 0);
	s->rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	s->row_cxt = AllocSetContextCreate(CurrentMemoryContext, "mqext fetch row",
									   ALLOCSET_DEFAULT_SIZES);
}

/* mq.fetch(topic, partition, from_offset, max_records, max_bytes) */
Datum
mq_fetch(PG_FUNCTION_ARGS)
{
	text	   *topic_text = PG_GETARG_TEXT_PP(0);
	int32		partition = PG_GETARG_INT32(1);
	int64		from = PG_GETARG_INT64(2);
	int32		max_records = PG_GETARG_INT32(3);
	int32		max_bytes = PG_GETARG_INT32(4);
	MqTopic    *topic;
	FetchSink	sink;

	MqRequirePreload();
	topic = MqTopicLookup(text_to_cstring(topic_text), false);
	if (max_records < 0 || max_bytes < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_records and max_bytes must not be negative")));

	sink_init(&sink, fcinfo);
	sink.topic = PointerGetDatum(topic_text);
	sink.partition = partition;
	MqFetch(topic, partition, from, max_records, max_bytes, fetch_sink, &sink);
	return (Datum) 0;
}

static void
batch_sink(void *arg, int64 base_offset, int64 last_offset, int32 record_count,
		   Datum batch)
{
	FetchSink  *s = (FetchSink *) arg;
	MemoryContext old = MemoryContextSwitchTo(s->row_cxt);
	Datum		values[4];
	bool		nulls[4] = {0};

	values[0] = Int64GetDatum(base_offset);
	values[1] = Int64GetDatum(last_offset);
	values[2] = Int32GetDatum(record_count);
	values[3] = batch;
	tuplestore_putvalues(s->rsinfo->setResult, s->rsinfo->setDesc, values, nulls);
	MemoryContextSwitchTo(old);
	MemoryContextReset(s->row_cxt);
}

/* mq.fetch_batches(topic, partition, from_offset, max_bytes) */
Datum
mq_fetch_batches(PG_FUNCTION_ARGS)
{
	int32		partition = PG_GETARG_INT32(1);
	int64		from = PG_GETARG_INT64(2);
	int32		max_bytes = PG_GETARG_INT32(3);
	MqTopic    *topic;
	FetchSink	sink;

	MqRequirePreload();
	topic = MqTopicLookup(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);
	if (max_bytes < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_bytes must not be negative")));

	sink_init(&sink, fcinfo);
	MqFetchBatches(topic, partition, from, max_bytes, batch_sink, &sink);
	return (Datum) 0;
}

Datum
mq_offset_for_time(PG_FUNCTION_ARGS)
{
	MqTopic    *topic;
	int32		partition = PG_GETARG_INT32(1);
	TimestampTz ts = PG_GETARG_TIMESTAMPTZ(2);
	int64		ms;
	int64		offset;

	MqRequirePreload();
	topic = MqTopicLookup(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);
	/* no record is that late; every record is later than -infinity */
	if (TIMESTAMP_IS_NOEND(ts))
		PG_RETURN_NULL();
	if (TIMESTAMP_IS_NOBEGIN(ts))
		ts = MIN_TIMESTAMP;
	ms = MqTimestamptzToMs(ts);
	/* a timestamp within a millisecond counts as that millisecond */
	if (ts % 1000 != 0)
		ms++;
	if (!MqOffsetForTime(topic, partition, ms, &offset))
		PG_RETURN_NULL();
	PG_RETURN_INT64(offset);
}

Datum
mq_earliest_offset(PG_FUNCTION_ARGS)
{
	MqTopic    *topic = MqTopicLookup(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);
	int32		partition = PG_GETARG_INT32(1);

	MqCheckPartition(topic, partition);
	PG_RETURN_INT64(topic->log_start[partition]);
}

Datum
mq_latest_offset(PG_FUNCTION_ARGS)
{
	MqTopic    *topic;

	MqRequirePreload();
	topic = MqTopicLookup(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);
	PG_RETURN_INT64(MqLastStableOffset(topic, PG_GETARG_INT32(1)));
}

/* mq._log_end_offset(topic, partition): the next offset to be handed out */
Datum
mq_log_end_offset(PG_FUNCTION_ARGS)
{
	MqTopic    *topic;

	MqRequirePreload();
	topic = MqTopicLookup(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);
	PG_RETURN_INT64(MqLogEndOffset(topic, PG_GETARG_INT32(1)));
}

/* mq.decode_batch(batch bytea): validate fully, then list the records */
Datum
mq_decode_batch(PG_FUNCTION_ARGS)
{
	bytea	   *raw = PG_GETARG_BYTEA_PP(0);
	const uint8_t *data = (const uint8_t *) VARDATA_ANY(raw);
	size_t		len = VARSIZE_ANY_EXHDR(raw);
	MqBatchHeader hdr;
	MqRecordIter it;
	MqDecodedRecord rec;
	MqCodecStatus st;
	FetchSink	sink;
	bool		done;

	st = MqBatchDecodeHeader(data, len, true, &hdr);
	if (st == MQ_CODEC_OK)
		st = MqBatchValidate(data, len, &hdr);
	if (st != MQ_CODEC_OK)
		ereport(ERROR,
				(errcode(ERRCODE_MQ_CORRUPT_BATCH),
				 errmsg("invalid record batch: %s", MqCodecStatusMessage(st))));

	sink_init(&sink, fcinfo);
	sink.topic = (Datum) 0;
	MqRecordIterInit(&it, data, len, &hdr);
	while ((st = MqRecordIterNext(&it, &rec, &done)) == MQ_CODEC_OK && !done)
		fetch_sink(&sink, &rec);
	if (st != MQ_CODEC_OK)
		ereport(ERROR,
				(errcode(ERRCODE_MQ_CORRUPT_BATCH),
				 errmsg("invalid record batch: %s", MqCodecStatusMessage(st))));
	return (Datum) 0;
}
