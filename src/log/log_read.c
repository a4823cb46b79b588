/*-------------------------------------------------------------------------
 *
 * src/log/log_read.c
 *	  Read a partition's committed batches in offset order, below the LSO.
 *
 * The reader enforces both halves of the visibility rule of DESIGN.md:
 *
 * 1. It reads the partition's last stable offset before it takes its
 *    snapshot and returns nothing at or above it.  Every offset below the
 *    LSO belongs to a transaction that had ended when the LSO was read, or
 *    to a subtransaction of a live one that had rolled back (which is why
 *    batch_visibility asks whether a batch aborted before anything else).
 *
 * 2. A snapshot older than that LSO (REPEATABLE READ, SERIALIZABLE, or a
 *    READ COMMITTED transaction that already produced) may not see some of
 *    those transactions.  So the index is scanned with SnapshotAny and
 *    every batch is checked against the snapshot: a batch of an aborted
 *    transaction is skipped, but one the snapshot cannot see for any other
 *    reason (still running, or committed after the snapshot) ends the read,
 *    since skipping it would lose it for good.
 *
 * In READ COMMITTED the reader takes a fresh snapshot after reading the
 * LSO, so it sees everything below it; in the snapshot isolation levels it
 * uses the transaction snapshot, as any other query there does.
 *
 * Segments are read oldest first; within one the index on
 * (partition, last_offset) finds the first batch that holds `from`.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/heapam.h"
#include "access/relscan.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "access/xact.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "catalog/catalog.h"
#include "errors.h"
#include "log/log_read.h"
#include "log/recovery.h"

void
MqCodecError(MqCodecStatus status, const MqTopic *topic, int32 partition,
			 int64 base_offset)
{
	ereport(ERROR,
			(errcode(ERRCODE_MQ_CORRUPT_BATCH),
			 errmsg("corrupt record batch in topic \"%s\" partition %d at offset " INT64_FORMAT ": %s",
					topic->name, partition, base_offset,
					MqCodecStatusMessage(status))));
}

/*
 * Nothing more to hand out.  But a SERIALIZABLE reader goes on through the
 * rest of the partition without handing anything out: an MVCC scan would
 * have met the batches it stops before (above the LSO, or not visible to
 * its snapshot) and recorded an rw-conflict with their writers, so it
 * meets them (batch_visibility) for the same reason.
 */
static void
stop(MqLogReader *r)
{
	if (IsolationIsSerializable())
		r->tail = true;
	else
		r->done = true;
}

void
MqLogReaderBegin(MqLogReader *r, MqTopic *topic, int32 partition, int64 from)
{
	MqPartitionSlot *pslot;

	memset(r, 0, sizeof(*r));
	r->topic = topic;
	r->partition = partition;
	r->log_start = topic->log_start[partition];
	r->from = Max(from, r->log_start);
	r->seg = -1;

	/*
	 * A lock on a segment keeps the slot from being removed (see there):
	 * take it on the active one, which retention never drops.
	 */
	MqSegmentOpen(topic, topic->nsegments - 1, AccessShareLock, &r->segrel, false);
	MqSegmentClose(&r->segrel);
	r->open = false;
	r->seg = -1;

	pslot = MqTopicPartitionSlot(topic, partition);
	r->pslot = pslot;
	r->lso = MqPartitionLastStable(pslot);

	if (IsolationUsesXactSnapshot())
		r->snapshot = RegisterSnapshot(GetTransactionSnapshot());
	else
		r->snapshot = RegisterSnapshot(GetLatestSnapshot());
	/* detoasting batches needs an active snapshot */
	PushActiveSnapshot(r->snapshot);

	/*
	 * SERIALIZABLE: the read depends on whatever is appended to the
	 * partition later (MqCeilingPredicateLock).
	 */
	if (IsolationIsSerializable())
		MqCeilingPredicateLock(topic, partition, r->snapshot);

	r->batch_cxt = AllocSetContextCreate(CurrentMemoryContext,
										 "mqext batch",
										 ALLOCSET_DEFAULT_SIZES);
	r->scan = NULL;
	if (r->from >= r->lso)
		stop(r);
}

static void
start_scan(MqLogReader *r)
{
	ScanKeyData keys[2];

	ScanKeyInit(&keys[0], Anum_mq_log_idx_partition, BTEqualStrategyNumber,
				F_INT4EQ, Int32GetDatum(r->partition));
	ScanKeyInit(&keys[1], Anum_mq_log_idx_last_offset, BTGreaterEqualStrategyNumber,
				F_INT8GE, Int64GetDatum(r->from));
	r->slot = table_slot_create(r->segrel.heap, NULL);
	r->scan = index_beginscan(r->segrel.heap, r->segrel.index, SnapshotAny, 2, 0);
	index_rescan(r->scan, keys, 2, NULL, 0);
}

/*
 * Done with the current segment.  When it held nothing for us (all of it
 * lies below `from`, as most segments do for a consumer at the head of the
 * log), let go of its lock at once rather than at the end of the
 * transaction: a long poll would otherwise keep every old segment locked,
 * and housekeeping, which never queues behind readers, could not get at
 * them.  Nothing read from it is in use, and what could still be appended
 * there lies above the LSO we stop at.
 */
static void
end_scan(MqLogReader *r)
{
	if (r->scan)
	{
		index_endscan(r->scan);
		ExecDropSingleTupleTableSlot(r->slot);
		r->scan = NULL;
	}
	if (r->open)
	{
		Oid			heap = RelationGetRelid(r->segrel.heap);
		Oid			index = RelationGetRelid(r->segrel.index);

		MqSegmentClose(&r->segrel);
		if (!r->used)
		{
			UnlockRelationOid(index, AccessShareLock);
			UnlockRelationOid(heap, AccessShareLock);
		}
		r->open = false;
		r->used = false;
	}
}

typedef enum BatchVisibility
{
	BATCH_VISIBLE,
	BATCH_ABORTED,				/* never visible to anybody: skip */
	BATCH_NOT_YET				/* may become visible: stop here */
} BatchVisibility;

static BatchVisibility
batch_visibility(MqLogReader *r)
{
	BufferHeapTupleTableSlot *bslot = (BufferHeapTupleTableSlot *) r->slot;
	HeapTuple	tuple = bslot->base.tuple;
	Buffer		buffer = bslot->buffer;
	TransactionId xmin;
	bool		visible;

	LockBuffer(buffer, BUFFER_LOCK_SHARE);
	visible = HeapTupleSatisfiesVisibility(tuple, r->snapshot, buffer);
	/* what an MVCC heap scan does (SnapshotAny skipped it): a batch of a
	 * concurrent serializable transaction is an rw-conflict out */
	HeapCheckForSerializableConflictOut(visible, r->segrel.heap, tuple, buffer,
										r->snapshot);
	xmin = HeapTupleHeaderGetXmin(tuple->t_data);
	LockBuffer(buffer, BUFFER_LOCK_UNLOCK);

	if (visible)
		return BATCH_VISIBLE;
	/* first: an aborted subtransaction of our own is not "in progress" */
	if (TransactionIdDidAbort(xmin))
		return BATCH_ABORTED;
	if (TransactionIdIsCurrentTransactionId(xmin) ||
		TransactionIdIsInProgress(xmin) ||
		TransactionIdDidCommit(xmin))
		return BATCH_NOT_YET;
	return BATCH_ABORTED;
}

/*
 * Hand out the next batch that holds offsets >= from and starts below the
 * LSO, without its bytes (see MqLogReaderLoad).
 */
bool
MqLogReaderNext(MqLogReader *r, MqLogBatch *out)
{
	MemoryContextReset(r->batch_cxt);

	while (!r->done)
	{
		bool		isnull;

		if (!r->open)
		{
			/* the next segment that still exists */
			if (++r->seg >= r->topic->nsegments)
			{
				r->done = true;
				break;
			}
			if (!MqSegmentOpen(r->topic, r->seg, AccessShareLock, &r->segrel, true))
				continue;
			r->open = true;
		}
		if (r->scan == NULL)
			start_scan(r);

		if (!index_getnext_slot(r->scan, ForwardScanDirection, r->slot))
		{
			end_scan(r);
			continue;
		}
		if (r->tail)
		{
			CHECK_FOR_INTERRUPTS();
			(void) batch_visibility(r);
			continue;
		}

		out->base_offset = DatumGetInt64(slot_getattr(r->slot, Anum_mq_log_base_offset, &isnull));
		if (out->base_offset >= r->lso)
		{
			stop(r);
			if (r->tail)
				(void) batch_visibility(r);
			continue;
		}

		switch (batch_visibility(r))
		{
			case BATCH_VISIBLE:
				break;
			case BATCH_ABORTED:
				continue;
			case BATCH_NOT_YET:
				stop(r);
				continue;
		}

		r->used = true;
		out->last_offset = DatumGetInt64(slot_getattr(r->slot, Anum_mq_log_last_offset, &isnull));
		out->max_ts = DatumGetTimestampTz(slot_getattr(r->slot, Anum_mq_log_max_ts, &isnull));
		out->record_count = DatumGetInt32(slot_getattr(r->slot, Anum_mq_log_record_count, &isnull));
		/* from the TOAST pointer: no need to fetch the bytes to know this */
		out->size = toast_raw_datum_size(slot_getattr(r->slot, Anum_mq_log_batch, &isnull)) - VARHDRSZ;
		out->data = NULL;
		out->len = 0;
		return true;
	}
	return false;
}

/* Detoast the batch MqLogReaderNext returned last and decode its header. */
void
MqLogReaderLoad(MqLogReader *r, MqLogBatch *b)
{
	MemoryContext old = MemoryContextSwitchTo(r->batch_cxt);
	bool		isnull;
	bytea	   *raw = DatumGetByteaPP(slot_getattr(r->slot, Anum_mq_log_batch, &isnull));
	MqCodecStatus st;

	MemoryContextSwitchTo(old);
	b->data = (const uint8_t *) VARDATA_ANY(raw);
	b->len = VARSIZE_ANY_EXHDR(raw);
	st = MqBatchDecodeHeader(b->data, b->len, false, &b->hdr);
	if (st != MQ_CODEC_OK)
		MqCodecError(st, r->topic, r->partition, b->base_offset);
}

/*
 * The batch MqLogReaderNext returned last as it is stored, without
 * fetching its bytes: for all but small batches, a TOAST pointer (copied
 * into the reader's batch memory, valid until the next MqLogReaderNext).
 * A caller may hand it on, as a plain SELECT hands on a column, and let
 * whoever needs the bytes fetch them once (the output function sending
 * them to the client, say).  What it points to stays until the
 * transaction ends: a segment's rows are never updated or deleted, only
 * dropped or rewritten with the whole segment, and that needs a lock this
 * transaction holds on the segment till then.  Held by the top
 * transaction, not the current subtransaction, whose rollback would
 * release it and not what it returned (RETURN QUERY in a PL/pgSQL block
 * with an exception handler, say).  This transaction itself cannot drop
 * the segment either (MqSegmentHoldReferenced), as PostgreSQL refuses to
 * drop a table an open cursor of the session reads.
 */
Datum
MqLogReaderStored(MqLogReader *r)
{
	Oid			relid = RelationGetRelid(r->segrel.heap);
	MemoryContext old;
	bool		isnull;
	Datum		d;

	if (relid != r->pinned_relid)
	{
		MqSegmentHoldReferenced(&r->segrel);
		r->pinned_relid = relid;
	}
	old = MemoryContextSwitchTo(r->batch_cxt);
	d = datumCopy(slot_getattr(r->slot, Anum_mq_log_batch, &isnull), false, -1);
	MemoryContextSwitchTo(old);
	return d;
}

void
MqLogReaderEnd(MqLogReader *r)
{
	end_scan(r);
	PopActiveSnapshot();
	UnregisterSnapshot(r->snapshot);
	MemoryContextDelete(r->batch_cxt);
}
