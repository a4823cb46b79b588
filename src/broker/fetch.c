/*-------------------------------------------------------------------------
 *
 * src/broker/fetch.c
 *	  Fetch records, look up offsets by time, report partition state.
 *
 * All of them read through MqLogReader, so they share its guarantee: what
 * they return lies below the last stable offset and was committed.
 *
 * MqFetch decodes the stored batches and hands out records; MqFetchBatches
 * hands out the stored batches themselves, as Kafka's Fetch does, for
 * clients that decode RecordBatch v2 themselves.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "broker/fetch.h"
#include "log/log_read.h"
#include "log/recovery.h"
#include "log/segment.h"

static size_t
record_bytes(const MqDecodedRecord *rec)
{
	return Max(rec->key_len, 0) + Max(rec->value_len, 0) +
		(rec->headers_end - rec->headers);
}

/*
 * Hand records at or after `from` to sink, in offset order, until
 * max_records or max_bytes is reached.  As in Kafka, the first record is
 * returned even when it alone exceeds max_bytes, so a consumer always
 * makes progress.  Returns the number of records handed out.
 */
int64
MqFetch(MqTopic *topic, int32 partition, int64 from, int32 max_records,
		int64 max_bytes, MqRecordSink sink, void *arg)
{
	MqLogReader r;
	MqLogBatch b;
	int64		count = 0;
	int64		bytes = 0;
	bool		full = false;

	MqCheckPartition(topic, partition);
	if (max_records <= 0)
		return 0;

	MqLogReaderBegin(&r, topic, partition, from);
	while (!full && MqLogReaderNext(&r, &b))
	{
		MqRecordIter it;
		MqDecodedRecord rec;
		MqCodecStatus st;
		bool		done;

		MqLogReaderLoad(&r, &b);
		MqRecordIterInit(&it, b.data, b.len, &b.hdr);
		for (;;)
		{
			st = MqRecordIterNext(&it, &rec, &done);
			if (st != MQ_CODEC_OK)
				MqCodecError(st, topic, partition, b.base_offset);
			if (done)
				break;
			if (rec.offset < r.from)
				continue;
			bytes += record_bytes(&rec);
			if (count > 0 && bytes > max_bytes)
			{
				full = true;
				break;
			}
			sink(arg, &rec);
			if (++count >= max_records)
			{
				full = true;
				break;
			}
		}
	}
	MqPartitionCountFetch(r.pslot, count);
	MqLogReaderEnd(&r);
	return count;
}

/*
 * Hand the stored batches that hold offsets at or after `from` to sink, as
 * they are, in offset order, while their total size stays within
 * max_bytes; the first is handed out even when it alone exceeds it.  The
 * first batch may begin below `from` (or below the log start): the client
 * skips those records, as Kafka's clients do.  Returns the number of
 * batches; the statistics count the records at or after `from`.
 *
 * The batches' bytes are not fetched here, only their TOAST pointers
 * handed on (MqLogReaderStored): what sends them to the client fetches
 * them once, as for a column of a plain SELECT, instead of once here,
 * copied into the result, and read again from there.
 */
int64
MqFetchBatches(MqTopic *topic, int32 partition, int64 from, int64 max_bytes,
			   MqBatchSink sink, void *arg)
{
	MqLogReader r;
	MqLogBatch b;
	int64		nbatches = 0;
	int64		records = 0;
	int64		bytes = 0;

	MqCheckPartition(topic, partition);
	MqLogReaderBegin(&r, topic, partition, from);
	while (MqLogReaderNext(&r, &b))
	{
		bytes += b.size;
		if (nbatches > 0 && bytes > max_bytes)
			break;
		if (b.base_offset >= r.from)
			records += b.record_count;
		else
		{
			/* a batch that straddles `from`: count only what lies after */
			MqRecordIter it;
			MqDecodedRecord rec;
			MqCodecStatus st;
			bool		done;

			MqLogReaderLoad(&r, &b);
			MqRecordIterInit(&it, b.data, b.len, &b.hdr);
			while ((st = MqRecordIterNext(&it, &rec, &done)) == MQ_CODEC_OK && !done)
				if (rec.offset >= r.from)
					records++;
			if (st != MQ_CODEC_OK)
				MqCodecError(st, topic, partition, b.base_offset);
		}
		sink(arg, b.base_offset, b.last_offset, b.record_count, MqLogReaderStored(&r));
		nbatches++;
	}
	MqPartitionCountFetch(r.pslot, records);
	MqLogReaderEnd(&r);
	return nbatches;
}

/*
 * The first offset whose timestamp is at or after ts_ms (Kafka's
 * ListOffsets by time).  Batches whose newest record is older are skipped
 * without decoding.
 */
bool
MqOffsetForTime(MqTopic *topic, int32 partition, int64 ts_ms, int64 *offset)
{
	MqLogReader r;
	MqLogBatch b;
	bool		found = false;
	TimestampTz target = MqMsToTimestamptz(ts_ms);

	MqCheckPartition(topic, partition);
	MqLogReaderBegin(&r, topic, partition, topic->log_start[partition]);
	while (!found && MqLogReaderNext(&r, &b))
	{
		MqRecordIter it;
		MqDecodedRecord rec;
		MqCodecStatus st;
		bool		done;

		if (b.max_ts < target)
			continue;
		MqLogReaderLoad(&r, &b);
		MqRecordIterInit(&it, b.data, b.len, &b.hdr);
		for (;;)
		{
			st = MqRecordIterNext(&it, &rec, &done);
			if (st != MQ_CODEC_OK)
				MqCodecError(st, topic, partition, b.base_offset);
			if (done)
				break;
			if (rec.offset >= r.from && rec.timestamp >= ts_ms)
			{
				*offset = rec.offset;
				found = true;
				break;
			}
		}
	}
	MqLogReaderEnd(&r);
	return found;
}

/* Read an offset of a partition's slot. */
static int64
slot_offset(MqTopic *topic, int32 partition, int64 (*read) (MqPartitionSlot *slot))
{
	MqSegmentRel seg;
	int64		offset;

	MqCheckPartition(topic, partition);
	/* a lock on a segment keeps the slot in place (partition_state.c) */
	MqSegmentOpen(topic, topic->nsegments - 1, AccessShareLock, &seg, false);
	offset = read(MqTopicPartitionSlot(topic, partition));
	MqSegmentClose(&seg);
	return offset;
}

/*
 * The partition's log end offset: the next offset to be handed out, above
 * the records in flight.  A position beyond it is out of range.
 */
int64
MqLogEndOffset(MqTopic *topic, int32 partition)
{
	return slot_offset(topic, partition, MqPartitionLogEnd);
}

int64
MqLastStableOffset(MqTopic *topic, int32 partition)
{
	return slot_offset(topic, partition, MqPartitionLastStable);
}
