/*-------------------------------------------------------------------------
 *
 * src/shmem/shmem.c
 *	  Request and attach mqext's shared memory.
 *
 * Everything mqext shares between backends hangs off MqShared: a fixed
 * hash table of partition slots (see partition_state.c for what they hold
 * and their lock protocol) and a fixed pool of in-flight append entries.
 * Both are sized by GUCs read at postmaster start, so mqext must be in
 * shared_preload_libraries; functions that need the state call
 * MqRequirePreload() first.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"

#include "guc.h"
#include "shmem/partition_state.h"
#include "shmem/shmem.h"
#include "shmem/waiters.h"
#include "bgw/launcher.h"

#define MQ_LWLOCK_TRANCHE	"mqext"

MqSharedState *MqShared = NULL;
bool		MqPreloaded = false;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size
mq_shmem_size(void)
{
	Size		size = MAXALIGN(sizeof(MqSharedState));

	size = add_size(size, MqInflightPoolSize(mq_max_inflight_appends));
	size = add_size(size, hash_estimate_size(mq_max_partitions,
											 sizeof(MqPartitionSlot)));
	size = add_size(size, MqWaitersShmemSize());
	size = add_size(size, MqLauncherShmemSize());
	return size;
}

static void
mq_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(mq_shmem_size());
	RequestNamedLWLockTranche(MQ_LWLOCK_TRANCHE, 1);
}

static void
mq_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);

	MqShared = ShmemInitStruct("mqext state", sizeof(MqSharedState), &found);
	if (!found)
	{
		LWLockPadded *locks = GetNamedLWLockTranche(MQ_LWLOCK_TRANCHE);

		MqShared->partitions_lock = &locks[0].lock;
		SpinLockInit(&MqShared->pool_mutex);
		MqShared->pool_size = mq_max_inflight_appends;
		pg_atomic_init_u64(&MqShared->slots_generation, 0);
	}
	MqShared->pool = ShmemInitStruct("mqext in-flight appends",
									 MqInflightPoolSize(mq_max_inflight_appends),
									 &found);
	if (!found)
		MqInflightPoolInit();

	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(MqPartitionKey);
	info.entrysize = sizeof(MqPartitionSlot);
	MqShared->partitions = ShmemInitHash("mqext partitions",
										 mq_max_partitions, mq_max_partitions,
										 &info, HASH_ELEM | HASH_BLOBS);
	MqWaitersShmemInit();
	MqLauncherShmemInit();

	LWLockRelease(AddinShmemInitLock);
}

void
MqShmemInit(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = mq_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = mq_shmem_startup;
	MqPreloaded = true;
}

/* Fail clearly when called in a server that did not preload mqext. */
void
MqRequirePreload(void)
{
	if (!MqPreloaded || MqShared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("mqext must be loaded via shared_preload_libraries"),
				 errhint("Add mqext to shared_preload_libraries in postgresql.conf and restart the server.")));
}
