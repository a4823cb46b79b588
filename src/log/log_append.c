/*-------------------------------------------------------------------------
 *
 * src/log/log_append.c
 *	  Append record batches to a topic's active segment.
 *
 * One batch is one heap tuple in the active segment plus one entry in its
 * (partition, last_offset) index, written with heap_insert/index_insert
 * rather than through SQL: the append is the hot path and the executor
 * would add nothing but overhead here.  The offsets are taken from the
 * partition's shared counter only after everything that can fail for a
 * bad argument has been checked, so an error leaves at most a gap of
 * offsets (as an aborted Kafka transaction does), never a visible record.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "miscadmin.h"
#include "utils/timestamp.h"

#include "catalog/catalog.h"
#include "log/log_append.h"
#include "log/recovery.h"
#include "broker/watch.h"
#include "shmem/waiters.h"
#include "mqext.h"

/*
 * Look the topic up and lock its active segment for appending; returns the
 * topic, valid until the next MqTopicLookup.
 *
 * Nothing holds a segment roll back: mq._create_segment takes no lock on
 * the active segment, so appends never wait for a roll nor a roll for a
 * long transaction.  If the catalog changed while we waited for our lock
 * (the acquisition reports it by invalidating the cache), we look again;
 * an appender whose view of the catalog is still older than a roll is
 * moved to the new segment by MqAppend when it reserves its offsets.
 */
MqTopic *
MqAppenderBegin(MqAppender *app, const char *topic_name)
{
	/* the heap writes below go around the executor, which would refuse them */
	PreventCommandIfReadOnly("produce");
	PreventCommandIfParallelMode("produce");

	for (;;)
	{
		MqTopic    *topic = MqTopicLookup(topic_name, false);

		MqSegmentOpen(topic, topic->nsegments - 1, RowExclusiveLock, &app->seg, false);
		if (!MqMetadataCacheIsStale())
		{
			app->topic = topic;
			break;
		}
		/* keep the lock: a segment is only ever dropped by retention */
		MqSegmentClose(&app->seg);
	}
	/*
	 * A segment this very transaction rolled to is invisible to every other
	 * producer of the topic; its offsets, reserved ahead of theirs in the
	 * old segment, would break the order between the two, and if it rolled
	 * back the slot would point at a segment that never existed.  (A
	 * topic's first segment is fine: nobody else can see the topic yet.)
	 */
	if (app->seg.heap->rd_createSubid != InvalidSubTransactionId &&
		app->topic->nsegments > 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot produce to topic \"%s\" in the transaction that rolled its segment",
						app->topic->name),
				 errhint("Commit the roll first.")));
	app->seg.index_info = BuildIndexInfo(app->seg.index);
	app->cid = GetCurrentCommandId(true);
	app->held_relid = InvalidOid;
	return app->topic;
}

/*
 * Append one encoded batch (base offset not yet set) to a partition and
 * return its base offset.
 */
int64
MqAppend(MqAppender *app, int32 partition, bytea *batch, const MqBatchHeader *hdr)
{
	MqPartitionSlot *slot;
	Datum		values[Natts_mq_log];
	bool		nulls[Natts_mq_log] = {0};
	Datum		ivalues[INDEX_MAX_KEYS];
	bool		inulls[INDEX_MAX_KEYS] = {0};
	HeapTuple	tup;
	int64		base;

	slot = MqTopicPartitionSlot(app->topic, partition);
	for (;;)
	{
		int64		segment_id = app->seg.segment_id;

		/*
		 * The reservation may register this transaction's in-flight entry
		 * in the slot, which stays till the (sub)transaction that made it
		 * ends, or its parent does: the segment lock that keeps the slot
		 * in place is held for the top transaction (partition_state.c).
		 * Taken before, so that no error can come between the two.
		 */
		if (RelationGetRelid(app->seg.heap) != app->held_relid)
		{
			MqSegmentHoldForTransaction(&app->seg, RowExclusiveLock);
			app->held_relid = RelationGetRelid(app->seg.heap);
		}
		base = MqPartitionReserve(slot, &segment_id, hdr->records_count,
								  VARSIZE(batch) - VARHDRSZ);
		if (base >= 0)
			break;
		if (base == MQ_RESERVE_RAISE_CEILING)
		{
			MqPartitionRaiseCeiling(slot, app->topic->relid, partition,
									hdr->records_count, MqLogWriteCeiling,
									app->topic);
			continue;
		}
		/* someone appended to this partition in a newer segment: go there */
		MqSegmentClose(&app->seg);
		MqSegmentOpenId(app->topic, segment_id, RowExclusiveLock, &app->seg);
		app->seg.index_info = BuildIndexInfo(app->seg.index);
	}
	/*
	 * From here on this transaction holds the partition's LSO back: its
	 * end, commit or abort (even of an insert below that fails), moves the
	 * LSO and must wake the partition's pollers.
	 */
	MqNoteAppend(app->topic->topic_id);
	MqBatchSetBaseOffset((uint8_t *) VARDATA(batch), base);

	values[Anum_mq_log_topic_id - 1] = Int32GetDatum(app->topic->topic_id);
	values[Anum_mq_log_segment_id - 1] = Int64GetDatum(app->seg.segment_id);
	values[Anum_mq_log_partition - 1] = Int32GetDatum(partition);
	values[Anum_mq_log_base_offset - 1] = Int64GetDatum(base);
	values[Anum_mq_log_last_offset - 1] = Int64GetDatum(base + hdr->last_offset_delta);
	values[Anum_mq_log_base_ts - 1] = TimestampTzGetDatum(MqMsToTimestamptz(hdr->base_timestamp));
	values[Anum_mq_log_max_ts - 1] = TimestampTzGetDatum(MqMsToTimestamptz(hdr->max_timestamp));
	values[Anum_mq_log_record_count - 1] = Int32GetDatum(hdr->records_count);
	values[Anum_mq_log_producer_id - 1] = Int64GetDatum(hdr->producer_id);
	values[Anum_mq_log_producer_epoch - 1] = Int16GetDatum(hdr->producer_epoch);
	values[Anum_mq_log_base_sequence - 1] = Int32GetDatum(hdr->base_sequence);
	values[Anum_mq_log_batch - 1] = PointerGetDatum(batch);

	tup = heap_form_tuple(RelationGetDescr(app->seg.heap), values, nulls);
	heap_insert(app->seg.heap, tup, app->cid, 0, NULL);

	ivalues[Anum_mq_log_idx_partition - 1] = Int32GetDatum(partition);
	ivalues[Anum_mq_log_idx_last_offset - 1] = Int64GetDatum(base + hdr->last_offset_delta);
	index_insert(app->seg.index, ivalues, inulls, &tup->t_self, app->seg.heap,
				 UNIQUE_CHECK_NO, false, app->seg.index_info);

	heap_freetuple(tup);

	/* after the insert, as heap_insert checks its own predicate locks */
	if (IsolationIsSerializable())
		MqCeilingConflictIn(app->topic, partition);

	if (app->topic->notify)
		MqWatchNoteAppend(app->topic->name, partition, base + hdr->last_offset_delta);
	return base;
}

void
MqAppenderEnd(MqAppender *app)
{
	MqSegmentClose(&app->seg);
}
