/*-------------------------------------------------------------------------
 *
 * src/shmem/partition_state.h
 *	  Per-partition offset counters and in-flight appends in shared memory.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_PARTITION_STATE_H
#define MQ_PARTITION_STATE_H

#include "datatype/timestamp.h"
#include "storage/spin.h"

typedef struct MqPartitionKey
{
	Oid			dbid;
	Oid			topic_relid;	/* mq_data.topic_<id>: one per incarnation of
								 * a topic, unlike its id, which a dropped and
								 * re-created extension hands out again */
	int32		partition;
} MqPartitionKey;

typedef struct MqPartitionSlot
{
	MqPartitionKey key;			/* hash key, must be first */
	slock_t		mutex;			/* guards every field below */
	bool		initialized;	/* next_offset rebuilt from storage */
	int64		next_offset;	/* next offset to hand out */
	int64		ceiling;		/* durable bound: next_offset never passes it */
	int64		segment_floor;	/* newest segment an append reserved in */
	int64		segment_floor_start;	/* the first offset reserved in it */
	int32		inflight_head;	/* oldest in-flight append, -1 if none */
	int32		inflight_tail;	/* newest in-flight append, -1 if none */
	int32		ninflight;
	/* statistics since the last mq.stats_reset(), kept only here */
	uint64		records_appended;
	uint64		bytes_appended;
	uint64		produce_calls;
	uint64		records_fetched;
	uint64		fetch_calls;
} MqPartitionSlot;

typedef struct MqPartitionStats
{
	Oid			topic_relid;
	int32		partition;
	uint64		records_appended;
	uint64		bytes_appended;
	uint64		produce_calls;
	uint64		records_fetched;
	uint64		fetch_calls;
} MqPartitionStats;

/* An append of a still-open transaction, linked into its partition's list. */
typedef struct MqInflight
{
	int32		prev;			/* neighbours in the partition's list, or in */
	int32		next;			/* the free list (next only); -1 ends a list */
	MqPartitionSlot *slot;
	int64		first_offset;
	TimestampTz started;
} MqInflight;

/* Computes a partition's next offset from storage (log/recovery.c). */
typedef int64 (*MqRecoverNextOffset) (Oid topic_relid, int32 partition, void *arg);

/* Makes a partition's offset ceiling durable (log/recovery.c). */
typedef void (*MqWriteCeiling) (Oid topic_relid, int32 partition, int64 ceiling,
								void *arg);

/* MqPartitionReserve's answers other than an offset */
#define MQ_RESERVE_NEWER_SEGMENT	(-1)
#define MQ_RESERVE_RAISE_CEILING	(-2)

extern Size MqInflightPoolSize(int n);
extern void MqInflightPoolInit(void);

extern MqPartitionSlot *MqPartitionGet(Oid topic_relid, int32 partition,
									   MqRecoverNextOffset recover, void *arg);
extern int64 MqPartitionReserve(MqPartitionSlot *slot, int64 *segment_id,
								int32 count, int64 bytes);
extern void MqPartitionRaiseCeiling(MqPartitionSlot *slot, Oid topic_relid,
									int32 partition, int32 count,
									MqWriteCeiling write, void *arg);
extern void MqPartitionCountFetch(MqPartitionSlot *slot, int64 records);
extern MqPartitionStats *MqPartitionStatsCollect(int *n);
extern void MqPartitionStatsReset(void);
extern int64 MqPartitionLastStable(MqPartitionSlot *slot);
extern int64 MqPartitionLogEnd(MqPartitionSlot *slot);
extern void MqPartitionPositions(MqPartitionSlot *slot, int64 *lso, int64 *end,
								 int64 *floor, int64 *floor_start);
extern TimestampTz MqPartitionOldestInflight(MqPartitionSlot *slot);
extern bool MqXactHasInflight(void);
extern bool MqXactAppended(void);
extern void MqPartitionXactEnd(void);
extern void MqPartitionReleaseInflight(void);
extern void MqPartitionSubXactCommit(int nest_level);
extern bool MqPartitionSubXactAbort(int nest_level);
extern void MqPartitionForgetTopic(Oid topic_relid, int32 from_partition);
extern void MqPartitionForgetDatabase(Oid dbid);
extern void MqPartitionForgetVanished(void);
extern int	MqPartitionSlotsInUse(void);

#endif							/* MQ_PARTITION_STATE_H */
