/*-------------------------------------------------------------------------
 *
 * src/log/recovery.h
 *	  Rebuild a partition's offset counter from storage, and keep its
 *	  offset ceiling.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_RECOVERY_H
#define MQ_RECOVERY_H

#include "catalog/metadata_cache.h"
#include "shmem/partition_state.h"

extern int64 MqLogRecoverNextOffset(Oid topic_relid, int32 partition, void *arg);
extern void MqLogWriteCeiling(Oid topic_relid, int32 partition, int64 ceiling,
							  void *arg);
extern void MqCeilingPredicateLock(const MqTopic *topic, int32 partition,
								   Snapshot snapshot);
extern void MqCeilingConflictIn(const MqTopic *topic, int32 partition);

/* The slot of a partition, its counter rebuilt if need be. */
static inline MqPartitionSlot *
MqTopicPartitionSlot(MqTopic *topic, int32 partition)
{
	return MqPartitionGet(topic->relid, partition, MqLogRecoverNextOffset,
						  topic);
}

#endif							/* MQ_RECOVERY_H */
