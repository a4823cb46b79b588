/*-------------------------------------------------------------------------
 *
 * src/api/topic_funcs.c
 *	  C helpers of the topic functions (which are SQL in mqext--*.sql):
 *	  cache invalidation, forgetting a dropped topic, partition state.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "catalog/namespace.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "log/recovery.h"
#include "log/compact.h"
#include "log/segment.h"

#include "bgw/launcher.h"
#include "broker/fetch.h"
#include "catalog/metadata_cache.h"
#include "shmem/partition_state.h"
#include "shmem/shmem.h"
#include "mqext.h"

PG_FUNCTION_INFO_V1(mq_invalidate_cache);
PG_FUNCTION_INFO_V1(mq_forget_topic);
PG_FUNCTION_INFO_V1(mq_partition_state);
PG_FUNCTION_INFO_V1(mq_launcher_wakeup);
PG_FUNCTION_INFO_V1(mq_stats);
PG_FUNCTION_INFO_V1(mq_slots_in_use);
PG_FUNCTION_INFO_V1(mq_forget_vanished);
PG_FUNCTION_INFO_V1(mq_stats_reset);
PG_FUNCTION_INFO_V1(mq_compact_topic);
PG_FUNCTION_INFO_V1(mq_compact_pending);
PG_FUNCTION_INFO_V1(mq_lock_segment);

/* mq._compact_topic(topic, ncleanable, horizon_ms, min_dirty_ratio) -> bytes saved */
Datum
mq_compact_topic(PG_FUNCTION_ARGS)
{
	MqRequirePreload();
	PG_RETURN_INT64(MqCompactTopic(text_to_cstring(PG_GETARG_TEXT_PP(0)),
								   PG_GETARG_INT32(1), PG_GETARG_INT64(2),
								   PG_GETARG_FLOAT8(3)));
}

/* mq._compact_pending(topic, ncleanable): segments left in this backend's plan */
Datum
mq_compact_pending(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(MqCompactPending(text_to_cstring(PG_GETARG_TEXT_PP(0)),
									PG_GETARG_INT32(1)));
}

/* mq._lock_segment(rel, timeout_ms): ACCESS EXCLUSIVE, without queueing */
Datum
mq_lock_segment(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);

	if (get_rel_namespace(relid) != get_namespace_oid(MQ_DATA_SCHEMA, false))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("relation %u is not a relation of schema %s", relid, MQ_DATA_SCHEMA)));
	MqSegmentLockPolitely(relid, AccessExclusiveLock, PG_GETARG_INT32(1));
	PG_RETURN_VOID();
}

/* mq._stats() -> one row per partition of this database that has state */
Datum
mq_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MqPartitionStats *stats;
	int			n;

	MqRequirePreload();
	InitMaterializedSRF(fcinfo, 0);
	stats = MqPartitionStatsCollect(&n);
	for (int i = 0; i < n; i++)
	{
		Datum		values[7];
		bool		nulls[7] = {0};

		values[0] = ObjectIdGetDatum(stats[i].topic_relid);
		values[1] = Int32GetDatum(stats[i].partition);
		values[2] = Int64GetDatum((int64) stats[i].records_appended);
		values[3] = Int64GetDatum((int64) stats[i].bytes_appended);
		values[4] = Int64GetDatum((int64) stats[i].produce_calls);
		values[5] = Int64GetDatum((int64) stats[i].records_fetched);
		values[6] = Int64GetDatum((int64) stats[i].fetch_calls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* mq._slots_in_use() -> partitions with state in shared memory, all databases */
Datum
mq_slots_in_use(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(MqPartitionSlotsInUse());
}

/* mq._forget_vanished(): what the worker does each round, on demand */
Datum
mq_forget_vanished(PG_FUNCTION_ARGS)
{
	MqRequirePreload();
	MqPartitionForgetVanished();
	PG_RETURN_VOID();
}

Datum
mq_stats_reset(PG_FUNCTION_ARGS)
{
	MqPartitionStatsReset();
	PG_RETURN_VOID();
}

/* Called at the end of CREATE EXTENSION: start this database's worker now. */
Datum
mq_launcher_wakeup(PG_FUNCTION_ARGS)
{
	if (MqPreloaded)
		MqLauncherWakeupAtCommit();
	PG_RETURN_VOID();
}

/* Statement trigger on the catalog: every backend drops its topic cache. */
Datum
mq_invalidate_cache(PG_FUNCTION_ARGS)
{
	Oid			relid;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("mq._invalidate_cache() must be called as a trigger")));
	relid = MqCacheSignalRelid();
	if (OidIsValid(relid))
		CacheInvalidateRelcacheByRelid(relid);
	MqMetadataCacheInvalidate();
	return PointerGetDatum(NULL);
}

Datum
mq_forget_topic(PG_FUNCTION_ARGS)
{
	if (MqPreloaded)
		MqPartitionForgetTopic(PG_GETARG_OID(0), PG_GETARG_INT32(1));
	PG_RETURN_VOID();
}

/* mq._partition_state(topic, partition) -> (log_start_offset, last_stable_offset) */
Datum
mq_partition_state(PG_FUNCTION_ARGS)
{
	MqTopic    *topic;
	int32		partition = PG_GETARG_INT32(1);
	TupleDesc	desc;
	Datum		values[3];
	bool		nulls[3] = {0};
	TimestampTz oldest;

	MqRequirePreload();
	topic = MqTopicLookup(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);
	MqCheckPartition(topic, partition);
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = Int64GetDatum(topic->log_start[partition]);
	values[1] = Int64GetDatum(MqLastStableOffset(topic, partition));
	oldest = MqPartitionOldestInflight(MqTopicPartitionSlot(topic, partition));
	values[2] = TimestampTzGetDatum(oldest);
	nulls[2] = (oldest == 0);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}
