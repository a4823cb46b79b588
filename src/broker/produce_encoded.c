/*-------------------------------------------------------------------------
 *
 * src/broker/produce_encoded.c
 *	  Append a record batch the client encoded (Kafka's Produce path).
 *
 * A Kafka producer encodes its RecordBatch v2 itself; the broker checks
 * it, stamps what only the broker knows, and stores the bytes as they
 * are.  This file does the same for mq.produce_encoded, following
 * Kafka's LogValidator for an uncompressed v2 batch:
 *
 * - the batch must decode completely (CRC-32C, lengths, varints, record
 *   count, no trailing bytes): MqBatchCheckHeader, then the record
 *   iterator, which checks each record as it goes (one walk over the
 *   records, not one to validate and one to read them);
 * - it must hold records, numbered 0..n-1 by their offset deltas, and
 *   lastOffsetDelta must be n-1 ("inconsistent batch offset range"): the
 *   stored batch then covers exactly the n offsets reserved for it, which
 *   readers, recovery and compaction rely on;
 * - compression, control batches and the transactional bit are refused
 *   (see the messages for why), as is the delete-horizon bit, which only
 *   log compaction sets;
 * - the topic's max.message.bytes applies to the whole batch;
 * - producer id, epoch and base sequence come from the batch header (-1,
 *   -1, -1 for a producer that is not idempotent) and go through the same
 *   idempotence check as mq.produce's arguments;
 * - the broker sets the base offset and the partition leader epoch (both
 *   outside the CRC), and the max timestamp with the timestamp type
 *   (inside it, so the CRC is recomputed): the append time for a
 *   LogAppendTime topic, the largest record timestamp for a CreateTime
 *   one (DefaultRecordBatch.setMaxTimestamp, which rewrites only when
 *   something changes).
 *
 * Everything that can fail for a bad argument is checked before MqAppend
 * reserves offsets, so a refused batch writes nothing.  The append itself
 * is the one mq.produce and mq.produce_batch use (log/log_append.c): same
 * offset reservation, in-flight registration, statistics and wake-ups.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/timestamp.h"

#include "broker/idempotence.h"
#include "broker/produce.h"
#include "broker/produce_encoded.h"
#include "codec/record_batch.h"
#include "log/log_append.h"
#include "mqext.h"

static void refuse(const char *msg, const char *detail) pg_attribute_noreturn();
static void undecodable(MqCodecStatus st, const MqBatchHeader *hdr,
						size_t len) pg_attribute_noreturn();

static void
refuse(const char *msg, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid record batch: %s", msg),
			 detail ? errdetail("%s", detail) : 0));
}

/* A batch that does not decode (what MqBatchValidate would have said). */
static void
undecodable(MqCodecStatus st, const MqBatchHeader *hdr, size_t len)
{
	if (st == MQ_CODEC_UNSUPPORTED_COMPRESSION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("compressed record batches are not supported"),
				 errdetail("The batch's compression attribute is %d; mqext stores batches as they are and reads their records on the server, so it accepts only uncompressed ones.",
						   hdr->attributes & MQ_BATCH_COMPRESSION_MASK),
				 errhint("Produce with compression.type none.")));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid record batch: %s", MqCodecStatusMessage(st)),
			 errdetail("The batch is %zu bytes long.", len)));
}

/* A timestamp in ms must map onto a valid timestamptz. */
static bool
timestamp_in_range(int64 ms)
{
	return ms >= MqTimestamptzToMs(MIN_TIMESTAMP) &&
		ms < MqTimestamptzToMs(END_TIMESTAMP);
}

/*
 * Check the records (the header passed MqBatchCheckHeader) and what the
 * codec does not: attributes, the records' offset deltas and timestamps.
 * Returns the largest record (creation) timestamp, and the first record's
 * in *first_ts.
 *
 * One walk over the records, yet the checks answer in the order of two:
 * a batch that does not decode is refused as such (22P03) whatever else is
 * wrong with it, so the walk goes first and a record it finds wrong for
 * mqext (an offset delta, a timestamp) is only remembered; the header's
 * checks follow, then that record's.
 */
static int64
check_batch(const uint8_t *data, size_t len, const MqBatchHeader *hdr,
			int64 *first_ts, bool *keyless)
{
	MqBatchHeader create_time = *hdr;
	MqRecordIter it;
	MqDecodedRecord rec;
	int64		max_ts = PG_INT64_MIN;
	int32		i = 0;
	bool		done;
	const char *bad_record = NULL;
	char	   *bad_detail = NULL;

	/* read creation times, whatever timestamp type the client marked */
	create_time.attributes &= ~MQ_BATCH_LOG_APPEND_TIME;
	MqRecordIterInit(&it, data, len, &create_time);
	for (;;)
	{
		MqCodecStatus st = MqRecordIterNext(&it, &rec, &done);

		if (st != MQ_CODEC_OK)
			undecodable(st, hdr, len);
		if (done)
			break;
		if (bad_record == NULL &&
			(uint64) rec.offset - (uint64) hdr->base_offset != (uint64) i)
		{
			bad_record = "offset deltas are not 0, 1, 2, ...";
			bad_detail = psprintf("Record %d has offsetDelta " INT64_FORMAT ".",
								  i, (int64) ((uint64) rec.offset - (uint64) hdr->base_offset));
		}
		if (bad_record == NULL && !timestamp_in_range(rec.timestamp))
		{
			bad_record = "record timestamp is out of range";
			bad_detail = psprintf("Record %d has timestamp " INT64_FORMAT " ms.",
								  i, rec.timestamp);
		}
		if (rec.key_len < 0)
			*keyless = true;
		if (i == 0)
			*first_ts = rec.timestamp;
		max_ts = Max(max_ts, rec.timestamp);
		i++;
	}

	if (hdr->attributes & MQ_BATCH_CONTROL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("control record batches cannot be produced"),
				 errdetail("Control batches (transaction markers) are written by Kafka's transaction coordinator, never by producers; mqext has no such markers.")));
	if (hdr->attributes & MQ_BATCH_TRANSACTIONAL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("transactional record batches are not supported"),
				 errdetail("A Kafka transaction would need commit and abort markers; in mqext every append is already part of the calling PostgreSQL transaction, visible at its commit and gone on rollback."),
				 errhint("Clear the transactional attribute (0x10) and group the calls in one PostgreSQL transaction.")));
	if (hdr->attributes & MQ_BATCH_DELETE_HORIZON)
		refuse("the delete-horizon attribute is set", "Only log compaction sets it.");
	if (hdr->records_count == 0)
		refuse("the batch holds no records", NULL);
	if (hdr->last_offset_delta != hdr->records_count - 1)
		refuse("inconsistent batch offset range",
			   psprintf("lastOffsetDelta is %d but the batch holds %d records.",
						hdr->last_offset_delta, hdr->records_count));
	if (!timestamp_in_range(hdr->base_timestamp))
		refuse("baseTimestamp is out of range",
			   psprintf("baseTimestamp is " INT64_FORMAT " ms.", hdr->base_timestamp));
	if (bad_record != NULL)
		refuse(bad_record, bad_detail);
	return max_ts;
}

/*
 * The producer of the batch: NULL when not idempotent.  All three fields
 * are -1 or none is, as mq.produce takes all three arguments or none.
 */
static MqProducerArgs *
batch_producer(const MqBatchHeader *hdr, MqProducerArgs *out)
{
	if (hdr->producer_id == -1 && hdr->producer_epoch == -1 &&
		hdr->base_sequence == -1)
		return NULL;
	if (hdr->producer_id < 0)
		refuse("producerId must be -1 or a producer id",
			   psprintf("producerId is " INT64_FORMAT ", producerEpoch %d, baseSequence %d.",
						hdr->producer_id, hdr->producer_epoch, hdr->base_sequence));
	out->producer_id = hdr->producer_id;
	out->epoch = hdr->producer_epoch;
	out->sequence = hdr->base_sequence;
	return out;
}

void
MqProduceEncoded(const char *topic_name, int32 partition, bytea *batch,
				 int64 *base_offset, int64 *last_offset)
{
	uint8_t    *data = (uint8_t *) VARDATA(batch);
	size_t		len = VARSIZE(batch) - VARHDRSZ;
	MqBatchHeader hdr;
	MqCodecStatus st;
	MqProducerArgs pargs;
	MqProducerArgs *producer;
	MqAppender	app;
	MqTopic    *topic;
	int64		max_ts;
	int64		first_ts = 0;
	bool		keyless = false;

	st = MqBatchCheckHeader(data, len, &hdr);
	if (st != MQ_CODEC_OK)
		undecodable(st, &hdr, len);
	max_ts = check_batch(data, len, &hdr, &first_ts, &keyless);
	producer = batch_producer(&hdr, &pargs);

	topic = MqAppenderBegin(&app, topic_name);
	MqCheckPartition(topic, partition);
	if (topic->compacted && keyless)
		MqRefuseKeylessRecord(topic);
	if (len > (size_t) topic->max_message_bytes)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("record batch of %zu bytes is larger than max.message.bytes of topic \"%s\"",
						len, topic->name),
				 errdetail("The topic accepts record batches of at most " INT64_FORMAT " bytes.",
						   topic->max_message_bytes),
				 errhint("Send fewer records per batch, or raise it with mq.alter_topic('%s', '{\"max.message.bytes\": %zu}').",
						 topic->name, len)));

	if (producer != NULL)
	{
		int64		dup_base;
		TimestampTz dup_ts;

		if (MqIdempotenceCheck(producer, topic->topic_id, partition,
							   hdr.records_count, &dup_base, &dup_ts))
		{
			/* a retry of a batch we have: answer with its offsets */
			*base_offset = dup_base;
			*last_offset = dup_base + hdr.records_count - 1;
			MqAppenderEnd(&app);
			return;
		}
	}

	/* what the broker stamps */
	MqBatchSetPartitionLeaderEpoch(data, 0);
	if (topic->log_append_time)
	{
		int64		now_ms = MqTimestamptzToMs(GetCurrentTimestamp());

		MqBatchSetMaxTimestamp(data, len, true, now_ms);
		hdr.attributes |= MQ_BATCH_LOG_APPEND_TIME;
		hdr.max_timestamp = now_ms;
		/* every record's timestamp is the append time: so is the row's first */
		hdr.base_timestamp = now_ms;
		first_ts = now_ms;
	}
	else
	{
		if ((hdr.attributes & MQ_BATCH_LOG_APPEND_TIME) || hdr.max_timestamp != max_ts)
		{
			MqBatchSetMaxTimestamp(data, len, false, max_ts);
			hdr.attributes &= ~MQ_BATCH_LOG_APPEND_TIME;
			hdr.max_timestamp = max_ts;
		}
	}

	*base_offset = MqAppend(&app, partition, batch, &hdr);
	*last_offset = *base_offset + hdr.last_offset_delta;
	if (producer != NULL)
		MqIdempotenceRecord(producer, topic->topic_id, partition,
							hdr.records_count, *base_offset,
							MqMsToTimestamptz(first_ts));
	MqAppenderEnd(&app);
}
