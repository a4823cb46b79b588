/*-------------------------------------------------------------------------
 *
 * src/shmem/xact_hooks.c
 *	  Transaction callbacks for appends.
 *
 * XACT_EVENT_COMMIT and XACT_EVENT_ABORT are delivered after the
 * transaction has left the proc array, i.e. once its rows are visible to
 * (or, for an abort, gone from) every new snapshot.  Only then may the
 * partition's in-flight entry go away and the LSO move past it.
 *
 * The same commit callback wakes the backends blocked in mq.poll that wait
 * for the topics this transaction appended to or the groups it rebalanced
 * (waiters.c); the PRE_COMMIT callback queues the NOTIFYs of topics with
 * notify = true (watch.c), which PostgreSQL then delivers at commit.
 *
 * A subtransaction that rolls back (SUBXACT_EVENT_ABORT_SUB comes after
 * it was marked aborted and its xid left the proc array) releases the
 * in-flight entries it made, and wakes pollers: its records can never
 * commit, so the LSO need not wait for the top transaction.  One that
 * commits hands its entries to its parent.
 *
 * A prepared transaction would outlive the backend that holds its
 * in-flight entries, so PREPARE TRANSACTION after an append is refused.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"

#include "bgw/launcher.h"
#include "broker/watch.h"
#include "log/segment.h"
#include "shmem/partition_state.h"
#include "shmem/waiters.h"
#include "shmem/xact_hooks.h"

static void
mq_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			/*
			 * Also when the appends were all rolled back to savepoints:
			 * prepared, the transaction would keep its segments locked
			 * (held for the whole transaction, log_append.c) for as long
			 * as it stays prepared.
			 */
			if (MqXactAppended())
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot prepare a transaction that has produced to an mqext topic"),
						 errdetail("Its records would hold back every reader of the partition until COMMIT PREPARED.")));
			break;
		case XACT_EVENT_PREPARE:

			/*
			 * What this transaction noted for its end (group and node
			 * wakeups, watch notifications, a launcher wakeup) is decided by
			 * COMMIT PREPARED, perhaps in another session: forget it rather
			 * than let it spill into this session's next transaction, where
			 * it would wake waiters for nothing.  Waiters of a prepared
			 * transaction's changes notice them at their timeout.
			 */
			MqForgetWakeups();
			MqWatchForget();
			MqPartitionXactEnd();
			MqLauncherXactEnd(false);
			MqSegmentXactEnd();
			break;
		case XACT_EVENT_PRE_COMMIT:
			MqWatchNotifyAtPreCommit();
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (MqXactHasInflight())
				MqPartitionReleaseInflight();
			MqPartitionXactEnd();
			MqWakeAtCommit();
			MqLauncherXactEnd(true);
			MqSegmentXactEnd();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			if (MqXactHasInflight())
			{
				MqPartitionReleaseInflight();
				MqWakeAtAbort();
			}
			else
				MqForgetWakeups();
			MqPartitionXactEnd();
			MqWatchForget();
			MqWaitUnregister();
			MqLauncherXactEnd(false);
			MqSegmentXactEnd();
			break;
		default:
			break;
	}
}

static void
mq_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					SubTransactionId parentSubid, void *arg)
{
	switch (event)
	{
		case SUBXACT_EVENT_COMMIT_SUB:
			MqPartitionSubXactCommit(GetCurrentTransactionNestLevel());
			MqWatchSubXactEnd(true);
			break;
		case SUBXACT_EVENT_ABORT_SUB:
			if (MqPartitionSubXactAbort(GetCurrentTransactionNestLevel()))
				MqWakeAtSubAbort();
			MqWatchSubXactEnd(false);
			break;
		default:
			break;
	}
}

void
MqXactHooksInit(void)
{
	RegisterXactCallback(mq_xact_callback, NULL);
	RegisterSubXactCallback(mq_subxact_callback, NULL);
}
