/*-------------------------------------------------------------------------
 *
 * src/log/segment.c
 *	  Open a segment relation of a topic together with its offset index.
 *
 * A segment is a leaf of mq_data.log holding the batches of every
 * partition of one topic for a window of time or size.  Producers and
 * readers open leaves directly, never the partitioned parents, so that
 * creating or dropping a segment (which locks the parent) never waits for
 * them.  Locks are kept until the end of the transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/partition.h"

#include "access/genam.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_class.h"
#include "catalog/index.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/resowner.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "catalog/namespace.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "utils/inval.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "mqext.h"

#include "log/segment.h"

/* Open the segment's index (it has exactly one) with the heap's lock mode. */
static void
open_index(MqSegmentRel *out, LOCKMODE mode)
{
	List	   *indexes = RelationGetIndexList(out->heap);

	if (list_length(indexes) != 1)
		elog(ERROR, "segment " INT64_FORMAT " has %d indexes, expected 1",
			 out->segment_id, list_length(indexes));
	out->index = index_open(linitial_oid(indexes), mode);
	list_free(indexes);
	out->index_info = NULL;
}

/* The OID of mq_data.seg_<id> by name (InvalidOid if there is none). */
Oid
MqSegmentRelid(int64 segment_id)
{
	char		relname[NAMEDATALEN];

	snprintf(relname, sizeof(relname), "seg_" INT64_FORMAT, segment_id);
	return get_relname_relid(relname, get_namespace_oid(MQ_DATA_SCHEMA, false));
}

/* The relation mq_data.seg_<id> by name, locked; NULL if there is none. */
static Relation
open_by_name(int64 segment_id, LOCKMODE mode)
{
	Oid			relid = MqSegmentRelid(segment_id);

	return OidIsValid(relid) ? try_relation_open(relid, mode) : NULL;
}

/* A segment we were about to open is gone: by drop_topic or retention. */
static void segment_gone(const MqTopic *topic, int64 segment_id) pg_attribute_noreturn();

static void
segment_gone(const MqTopic *topic, int64 segment_id)
{
	MqMetadataCacheInvalidate();
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("segment " INT64_FORMAT " of topic \"%s\" was dropped concurrently",
					segment_id, topic->name),
			 errhint("Retry the call.")));
}

/*
 * Open segment number seg (0 = oldest) of a topic.  A segment can be
 * dropped by retention between our catalog read and our lock: then return
 * false when missing_ok (its records lie below the new log start).
 */
bool
MqSegmentOpen(const MqTopic *topic, int seg, LOCKMODE mode, MqSegmentRel *out,
			  bool missing_ok)
{
	Assert(seg >= 0 && seg < topic->nsegments);

	out->segment_id = topic->segment_ids[seg];
	out->heap = try_relation_open(topic->segment_relids[seg], mode);

	/*
	 * Compaction replaces a segment with a rewritten relation of the same
	 * name: look for that before concluding it was dropped.
	 */
	if (out->heap == NULL)
		out->heap = open_by_name(out->segment_id, mode);
	if (out->heap == NULL)
	{
		/* dropped while we were not holding a lock */
		if (!missing_ok)
			segment_gone(topic, out->segment_id);
		MqMetadataCacheInvalidate();
		return false;
	}
	open_index(out, mode);
	return true;
}

/*
 * Open a segment by id, for an appender that learnt of it from another
 * backend (MqPartitionReserve) rather than from its own catalog view, which
 * may predate the segment: the catalog snapshot is refreshed first, as the
 * segment's creation has committed.
 */
void
MqSegmentOpenId(const MqTopic *topic, int64 segment_id, LOCKMODE mode, MqSegmentRel *out)
{
	out->segment_id = segment_id;
	for (;;)
	{
		/* see the segment's creation (and any compaction swap since) */
		AcceptInvalidationMessages();
		InvalidateCatalogSnapshot();
		out->heap = open_by_name(segment_id, mode);
		if (out->heap == NULL)
			break;
		/* the name still leads here now that we hold the lock: done */
		if (RelationGetRelid(out->heap) == MqSegmentRelid(segment_id))
			break;
		relation_close(out->heap, mode);
	}
	if (out->heap == NULL)
		segment_gone(topic, segment_id);
	open_index(out, mode);
}

/*
 * Lock a segment for housekeeping (retention, compaction) without ever
 * queueing behind its users: a lock request that waits makes every later
 * conflicting request wait behind it, so a drop waiting for a slow reader
 * would hold off all the segment's other readers.  Instead try every 10 ms
 * for up to timeout_ms; on failure raise lock_not_available (55P03), which
 * the housekeeping steps catch to try again at their next run.
 */
void
MqSegmentLockPolitely(Oid relid, LOCKMODE mode, int timeout_ms)
{
	TimestampTz start = GetCurrentTimestamp();
	bool		woken = false;

	for (;;)
	{
		if (ConditionalLockRelationOid(relid, mode))
			break;
		if (TimestampDifferenceExceeds(start, GetCurrentTimestamp(), timeout_ms))
		{
			if (woken)
				SetLatch(MyLatch);
			ereport(ERROR,
					(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
					 errmsg("could not lock segment relation %u within %d ms", relid, timeout_ms),
					 errdetail("Its readers or writers kept it busy; housekeeping retries at its next run.")));
		}
		if (WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					  10, PG_WAIT_EXTENSION) & WL_LATCH_SET)
		{
			woken = true;
			ResetLatch(MyLatch);
		}
		CHECK_FOR_INTERRUPTS();
	}
	/* a wakeup meant for the caller's own loop (a reload, the launcher) */
	if (woken)
		SetLatch(MyLatch);
}

/*
 * Hold a lock on the segment until the top transaction ends, whatever
 * subtransaction we are in: for what outlives a rolled-back savepoint and
 * relies on the segment staying (an in-flight append's entry in its
 * partition's slot; a TOAST pointer handed to the caller).  Taking a lock
 * this backend already holds only counts it again.
 */
void
MqSegmentHoldForTransaction(MqSegmentRel *seg, LOCKMODE mode)
{
	ResourceOwner save = CurrentResourceOwner;

	CurrentResourceOwner = TopTransactionResourceOwner;
	PG_TRY();
	{
		LockRelationOid(RelationGetRelid(seg->heap), mode);
	}
	PG_FINALLY();
	{
		CurrentResourceOwner = save;
	}
	PG_END_TRY();
}

/*
 * Segments whose stored batches this transaction handed out by reference
 * (MqSegmentHoldReferenced): their relids, in TopTransactionContext,
 * forgotten when the transaction ends (MqSegmentXactEnd).
 */
static List *referenced_relids = NIL;
static object_access_hook_type prev_object_access_hook = NULL;

/*
 * Hold the segment for the top transaction, as above, because a reference
 * to one of its stored batches (a TOAST pointer) goes to the caller; and
 * remember it, so that this transaction cannot drop the segment under the
 * reference (mq_segment_object_access).
 */
void
MqSegmentHoldReferenced(MqSegmentRel *seg)
{
	Oid			relid = RelationGetRelid(seg->heap);
	MemoryContext old;

	MqSegmentHoldForTransaction(seg, AccessShareLock);
	if (!list_member_oid(referenced_relids, relid))
	{
		old = MemoryContextSwitchTo(TopTransactionContext);
		referenced_relids = lappend_oid(referenced_relids, relid);
		MemoryContextSwitchTo(old);
	}
}

/*
 * The lock held for a reference keeps other transactions from dropping the
 * segment, not this one: drop_topic, retention or compaction run after
 * mq.fetch_batches in the same transaction would leave the references it
 * returned pointing at nothing (a cursor still open, or a PL/pgSQL loop
 * over the batches).  PostgreSQL refuses to drop a table that a query of
 * the session still reads (CheckTableNotInUse); this is the same refusal
 * for the references, which it cannot see.  Every drop of a relation comes
 * here, the segments a DROP TABLE of the topic's log cascades to included.
 */
static void
mq_segment_object_access(ObjectAccessType access, Oid classId, Oid objectId,
						 int subId, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);

	if (access == OAT_DROP && classId == RelationRelationId && subId == 0 &&
		list_member_oid(referenced_relids, objectId))
	{
		char	   *relname = get_rel_name(objectId);

		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("cannot drop segment \"%s\" because this transaction fetched record batches from it",
						relname ? relname : "?"),
				 errdetail("mq.fetch_batches returns stored batches by reference, valid until the transaction that fetched them ends."),
				 errhint("Drop the topic, or let retention remove the segment, in another transaction.")));
	}
}

/*
 * TRUNCATE of a relation: refused like a drop when it is, or contains, a
 * segment whose batches this transaction handed out by reference (the
 * segment itself, its topic's log or mq_data.log, which cascade to it):
 * the references would point into the new, empty files.
 */
void
MqSegmentCheckTruncate(Oid relid)
{
	ListCell   *lc;

	foreach(lc, referenced_relids)
	{
		Oid			seg = lfirst_oid(lc);

		if (seg == relid || list_member_oid(get_partition_ancestors(seg), relid))
		{
			char	   *relname = get_rel_name(seg);

			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("cannot truncate segment \"%s\" because this transaction fetched record batches from it",
							relname ? relname : "?"),
					 errdetail("mq.fetch_batches returns stored batches by reference, valid until the transaction that fetched them ends.")));
		}
	}
}

/* Transaction end: the list's memory goes with TopTransactionContext. */
void
MqSegmentXactEnd(void)
{
	referenced_relids = NIL;
}

void
MqSegmentInit(void)
{
	prev_object_access_hook = object_access_hook;
	object_access_hook = mq_segment_object_access;
}

void
MqSegmentClose(MqSegmentRel *seg)
{
	index_close(seg->index, NoLock);
	table_close(seg->heap, NoLock);
}
