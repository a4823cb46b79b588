/*-------------------------------------------------------------------------
 *
 * src/log/recovery.c
 *	  Rebuild a partition's offset counter from storage, and keep its
 *	  offset ceiling.
 *
 * Shared memory starts empty after every restart, crash included.  The
 * first time a backend needs a partition's counter, it is set to the last
 * offset of the newest committed batch plus one, or the log start offset,
 * or the partition's offset ceiling, whichever is largest.
 *
 * The ceiling is why no offset is ever handed out twice.  Batches of
 * transactions that never committed are invisible after a restart, yet a
 * reader may have seen the last stable offset pass their offsets, and
 * committed a position there (auto.offset.reset=latest on an idle
 * partition, say); records appended at those offsets again would lie below
 * that position, never to be read.  So the counter never passes the
 * ceiling, which an appender raises, some thousands of offsets at a time,
 * before it passes: an in-place update of the partition's row in
 * mq.offset_ceiling, WAL-logged like any heap change, flushed at once, and
 * checkpointed with its page.  No offset above the old ceiling exists
 * before the new one is on disk, so a crash cannot lose it; a standby
 * replays it, so a promotion keeps it too (but with asynchronous
 * replication, a standby promoted after a failover may lack the primary's
 * last WAL, this included, as it lacks its last commits).  The price is a
 * jump after a restart of at most MQ_CEILING_HEADROOM offsets plus the
 * size of the batch that last raised it, as a sequence skips its cached
 * values after a crash.
 *
 * In place, not by UPDATE: the ceiling is not transactional (an aborted
 * appender's offsets are as handed out as a committed one's), and an
 * UPDATE would be a new row version per raise, and a lock on it till the
 * appender's commit.  Nothing else ever updates these rows (a trigger
 * refuses UPDATE), which is what makes the in-place write safe
 * (PostgreSQL's own in-place updates of pg_class rows race with concurrent
 * UPDATEs of the same row; here there are none).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xlog.h"
#include "executor/tuptable.h"
#include "storage/predicate.h"
#include "utils/fmgroids.h"
#include "utils/snapmgr.h"

#include "catalog/catalog.h"
#include "log/recovery.h"
#include "log/segment.h"

/*
 * mq.offset_ceiling, or an error for SQL objects older than this library
 * (the table came with it; an extension created before has none).
 */
static Relation
open_ceilings(LOCKMODE mode)
{
	Oid			relid = MqCatalogRelid("offset_ceiling");

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table mq.offset_ceiling does not exist"),
				 errdetail("The mqext library is newer than the extension's SQL objects in this database."),
				 errhint("Recreate the extension: DROP EXTENSION mqext; CREATE EXTENSION mqext;")));
	return table_open(relid, mode);
}

/*
 * A copy of the partition's row of mq.offset_ceiling, seen with snap (the
 * latest snapshot: a topic created earlier in this transaction included).
 */
static HeapTuple
ceiling_tuple(Relation rel, const MqTopic *topic, int32 partition, Snapshot snap)
{
	ScanKeyData keys[2];
	SysScanDesc scan;
	HeapTuple	tup;

	ScanKeyInit(&keys[0], Anum_mq_offset_ceiling_topic_id, BTEqualStrategyNumber,
				F_INT4EQ, Int32GetDatum(topic->topic_id));
	ScanKeyInit(&keys[1], Anum_mq_offset_ceiling_partition, BTEqualStrategyNumber,
				F_INT4EQ, Int32GetDatum(partition));
	scan = systable_beginscan(rel, MqCatalogRelid("offset_ceiling_pkey"), true,
							  snap, 2, keys);
	tup = systable_getnext(scan);
	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("partition %d of topic \"%s\" has no row in mq.offset_ceiling",
						partition, topic->name)));
	tup = heap_copytuple(tup);
	systable_endscan(scan);
	return tup;
}

void
MqLogWriteCeiling(Oid topic_relid, int32 partition, int64 ceiling, void *arg)
{
	MqTopic    *topic = (MqTopic *) arg;
	Snapshot	snap = RegisterSnapshot(GetLatestSnapshot());
	Relation	rel = open_ceilings(RowExclusiveLock);
	HeapTuple	tup = ceiling_tuple(rel, topic, partition, snap);
	FormData_mq_offset_ceiling *row = (FormData_mq_offset_ceiling *) GETSTRUCT(tup);

	Assert(topic->relid == topic_relid);
	if (row->ceiling < ceiling)
	{
		row->ceiling = ceiling;
		heap_inplace_update(rel, tup);

		/*
		 * Flushed now, not with the appender's commit: a rolled-back
		 * appender flushes nothing, and a reader may act on the LSO
		 * without writing any WAL of its own (keep it in memory, or
		 * elsewhere).  One flush per MQ_CEILING_HEADROOM offsets.
		 */
		if (RelationNeedsWAL(rel))
			XLogFlush(XactLastRecEnd);
	}
	heap_freetuple(tup);
	table_close(rel, RowExclusiveLock);
	UnregisterSnapshot(snap);
}

/*
 * SERIALIZABLE transactions: the partition's row of mq.offset_ceiling
 * stands for "whatever is appended to the partition", in any segment (a
 * roll may start a new one).  A reader takes a predicate lock on it, an
 * appender checks it after each append, so PostgreSQL's SSI sees the
 * rw-conflict between them as it would for a table.  (A row of its own,
 * not the topic's log relation: a lock on that would hold off segment
 * rolls, retention and drop_topic.)
 */
void
MqCeilingPredicateLock(const MqTopic *topic, int32 partition, Snapshot snapshot)
{
	Snapshot	snap = RegisterSnapshot(GetLatestSnapshot());
	Relation	rel = open_ceilings(AccessShareLock);
	HeapTuple	tup = ceiling_tuple(rel, topic, partition, snap);

	PredicateLockTID(rel, &tup->t_self, snapshot, HeapTupleHeaderGetXmin(tup->t_data));
	heap_freetuple(tup);
	table_close(rel, AccessShareLock);
	UnregisterSnapshot(snap);
}

void
MqCeilingConflictIn(const MqTopic *topic, int32 partition)
{
	Snapshot	snap = RegisterSnapshot(GetLatestSnapshot());
	Relation	rel = open_ceilings(AccessShareLock);
	HeapTuple	tup = ceiling_tuple(rel, topic, partition, snap);

	CheckForSerializableConflictIn(rel, &tup->t_self,
								   ItemPointerGetBlockNumber(&tup->t_self));
	heap_freetuple(tup);
	table_close(rel, AccessShareLock);
	UnregisterSnapshot(snap);
}

int64
MqLogRecoverNextOffset(Oid topic_relid, int32 partition, void *arg)
{
	MqTopic    *topic = (MqTopic *) arg;
	int64		next = topic->log_start[partition];
	Snapshot	snap = RegisterSnapshot(GetLatestSnapshot());
	Relation	rel;
	HeapTuple	tup;

	Assert(topic->relid == topic_relid);

	rel = open_ceilings(AccessShareLock);
	tup = ceiling_tuple(rel, topic, partition, snap);
	next = Max(next, ((FormData_mq_offset_ceiling *) GETSTRUCT(tup))->ceiling);
	heap_freetuple(tup);
	table_close(rel, AccessShareLock);

	/*
	 * Look at every segment rather than trusting the newest one: a segment
	 * roll may race with an append that chose the older segment.  This runs
	 * once per partition per server start.
	 */
	for (int seg = topic->nsegments - 1; seg >= 0; seg--)
	{
		MqSegmentRel s;
		ScanKeyData key;
		IndexScanDesc scan;
		TupleTableSlot *slot;

		if (!MqSegmentOpen(topic, seg, AccessShareLock, &s, true))
			continue;
		slot = table_slot_create(s.heap, NULL);
		ScanKeyInit(&key, Anum_mq_log_idx_partition, BTEqualStrategyNumber,
					F_INT4EQ, Int32GetDatum(partition));
		scan = index_beginscan(s.heap, s.index, snap, 1, 0);
		index_rescan(scan, &key, 1, NULL, 0);
		if (index_getnext_slot(scan, BackwardScanDirection, slot))
		{
			bool		isnull;
			int64		last = DatumGetInt64(slot_getattr(slot, Anum_mq_log_last_offset,
														  &isnull));

			next = Max(next, last + 1);
		}
		index_endscan(scan);
		ExecDropSingleTupleTableSlot(slot);
		MqSegmentClose(&s);
	}

	UnregisterSnapshot(snap);
	return next;
}
