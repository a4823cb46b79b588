/*-------------------------------------------------------------------------
 *
 * src/shmem/shmem.h
 *	  mqext's shared memory: one struct, set up at postmaster start.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_SHMEM_H
#define MQ_SHMEM_H

#include "port/atomics.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/hsearch.h"

typedef struct MqSharedState
{
	LWLock	   *partitions_lock;	/* guards the partition hash table */
	slock_t		pool_mutex;		/* guards the in-flight free list */
	int32		pool_free;		/* head of the free list, -1 if empty */
	int32		pool_size;
	struct MqInflight *pool;	/* in-flight entries (partition_state.c) */
	HTAB	   *partitions;		/* MqPartitionKey -> MqPartitionSlot */
	pg_atomic_uint64 slots_generation;	/* bumped when slots are removed */
} MqSharedState;

extern MqSharedState *MqShared;
extern bool MqPreloaded;

extern void MqShmemInit(void);
extern void MqRequirePreload(void);

#endif							/* MQ_SHMEM_H */
