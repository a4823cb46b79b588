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

#include "access/genam.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/index.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/lsyscache.h"
#include "catalog/namespace.h"

#include "mqext.h"

#include "log/segment.h"

/*
 * Open segment number seg (0 = oldest) of a topic.  A segment can be
 * dropped by retention between our catalog read and our lock: then return
 * false when missing_ok (its records lie below the new log start).
 */
bool
MqSegmentOpen(const MqTopic *topic, int seg, LOCKMODE mode, MqSegmentRel *out,
			  bool missing_ok)
{
	List	   *indexes;

	Assert(seg >= 0 && seg < topic->nsegments);

	out->segment_id = topic->segment_ids[seg];
	out->heap = try_relation_open(topic->segment_relids[seg], mode);
	if (out->heap == NULL)
	{
		/*
		 * Compaction replaces a segment with a rewritten relation of the
		 * same name: look for that before concluding it was dropped.
		 */
		char		relname[NAMEDATALEN];
		Oid			relid;

		snprintf(relname, sizeof(relname), "seg_" INT64_FORMAT, out->segment_id);
		relid = get_relname_relid(relname, get_namespace_oid(MQ_DATA_SCHEMA, false));
		if (OidIsValid(relid))
			out->heap = try_relation_open(relid, mode);
	}
	if (out->heap == NULL)
	{
		/* dropped while we were not holding a lock: by drop_topic or retention */
		MqMetadataCacheInvalidate();
		if (missing_ok)
			return false;
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("segment " INT64_FORMAT " of topic \"%s\" was dropped concurrently",
						topic->segment_ids[seg], topic->name),
				 errhint("Retry the call.")));
	}

	indexes = RelationGetIndexList(out->heap);
	if (list_length(indexes) != 1)
		elog(ERROR, "segment " INT64_FORMAT " of topic \"%s\" has %d indexes, expected 1",
			 out->segment_id, topic->name, list_length(indexes));
	out->index = index_open(linitial_oid(indexes), mode);
	list_free(indexes);
	out->index_info = NULL;
	return true;
}

void
MqSegmentClose(MqSegmentRel *seg)
{
	index_close(seg->index, NoLock);
	table_close(seg->heap, NoLock);
}
