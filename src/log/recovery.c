/*-------------------------------------------------------------------------
 *
 * src/log/recovery.c
 *	  Rebuild a partition's offset counter from storage.
 *
 * Shared memory starts empty after every restart, crash included.  The
 * first time a backend needs a partition's counter, it is set to the last
 * offset of the newest committed batch plus one (or the log start offset,
 * if larger).  Batches of transactions that never committed are invisible,
 * so their offsets may be handed out again: no reader ever saw a record at
 * them, but one may have seen the last stable offset pass them, and a
 * position taken from it (auto.offset.reset=latest on an idle partition)
 * then lies above the reissued offsets.  Committed offsets are never
 * reused.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "utils/fmgroids.h"
#include "utils/snapmgr.h"

#include "catalog/catalog.h"
#include "log/recovery.h"
#include "log/segment.h"

int64
MqLogRecoverNextOffset(Oid topic_relid, int32 partition, void *arg)
{
	MqTopic    *topic = (MqTopic *) arg;
	int64		next = topic->log_start[partition];
	Snapshot	snap = RegisterSnapshot(GetLatestSnapshot());

	Assert(topic->relid == topic_relid);

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
