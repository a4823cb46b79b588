/*-------------------------------------------------------------------------
 *
 * src/shmem/waiters.c
 *	  Blocking polls: who waits for which topics and groups, and waking them
 *	  when a transaction that appended or rebalanced commits.
 *
 * A backend blocked in mq.poll registers, in its own slot of a shared
 * array (indexed by its pgprocno), the topics it reads and the group it
 * belongs to, then sleeps on its latch.  A transaction remembers which
 * topics it appended to and which groups it rebalanced; its commit
 * callback, which runs once the transaction is visible, sets the latch of
 * every registered waiter that matches.  Nobody polls in a loop, and an
 * idle waiter costs nothing.  A waiter re-checks for records after it
 * registers and before it sleeps, so a commit between its last look and
 * its registration is never missed.
 *
 * Lock protocol: each slot has a spinlock guarding its fields; the waker
 * reads a slot under that spinlock and sets the latch after releasing it.
 * MqShared->nwaiters counts active slots so that a commit with no waiter
 * anywhere does not scan the array.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/twophase.h"
#include "libpq/libpq-be.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/memutils.h"

#include "shmem/shmem.h"
#include "shmem/waiters.h"

typedef struct MqWaiter
{
	slock_t		mutex;
	bool		active;
	Oid			dbid;
	int			ntopics;		/* -1: any topic */
	int32		topics[MQ_WAIT_MAX_TOPICS];
	uint32		group_hash;		/* 0: none */
	bool		group_woken;	/* woken because the group changed */
	Latch	   *latch;
} MqWaiter;

/*
 * Group epochs: bumped (hashed, so shared by unrelated groups now and then)
 * every time a rebalance of a group commits.  A poller reads its group's
 * epoch before it reads its assignment and compares after registering, so
 * a rebalance committed in between is not missed.
 */
#define MQ_GROUP_EPOCHS 1024

typedef struct MqWaiters
{
	pg_atomic_uint32 nwaiters;
	pg_atomic_uint64 group_epoch[MQ_GROUP_EPOCHS];
	int			nslots;
	MqWaiter	slots[FLEXIBLE_ARRAY_MEMBER];
} MqWaiters;

static MqWaiters *Waiters = NULL;

/* what this transaction will announce at commit */
static int32 *noted_topics = NULL;
static int	noted_ntopics = 0;
static int	noted_cap = 0;
static uint32 noted_groups[8];
static int	noted_ngroups = 0;
static bool noted_overflow = false;	/* too many groups: wake every waiter */

static int
total_procs(void)
{
	return MaxBackends + NUM_AUXILIARY_PROCS + max_prepared_xacts;
}

Size
MqWaitersShmemSize(void)
{
	return add_size(offsetof(MqWaiters, slots),
					mul_size(total_procs(), sizeof(MqWaiter)));
}

void
MqWaitersShmemInit(void)
{
	bool		found;

	Waiters = ShmemInitStruct("mqext waiters", MqWaitersShmemSize(), &found);
	if (!found)
	{
		pg_atomic_init_u32(&Waiters->nwaiters, 0);
		for (int i = 0; i < MQ_GROUP_EPOCHS; i++)
			pg_atomic_init_u64(&Waiters->group_epoch[i], 0);
		Waiters->nslots = total_procs();
		for (int i = 0; i < Waiters->nslots; i++)
		{
			SpinLockInit(&Waiters->slots[i].mutex);
			Waiters->slots[i].active = false;
		}
	}
}

static MqWaiter *
my_slot(void)
{
	MqRequirePreload();
	if (MyProc == NULL || MyProc->pgprocno >= Waiters->nslots)
		elog(ERROR, "mqext: no waiter slot for this process");
	return &Waiters->slots[MyProc->pgprocno];
}

void
MqWaitRegister(const int32 *topic_ids, int ntopics, uint32 group_hash)
{
	MqWaiter   *w = my_slot();
	bool		was_active;

	SpinLockAcquire(&w->mutex);
	was_active = w->active;
	w->dbid = MyDatabaseId;
	w->ntopics = ntopics > MQ_WAIT_MAX_TOPICS ? -1 : ntopics;
	for (int i = 0; i < ntopics && i < MQ_WAIT_MAX_TOPICS; i++)
		w->topics[i] = topic_ids[i];
	w->group_hash = group_hash;
	w->group_woken = false;
	w->latch = MyLatch;
	w->active = true;
	SpinLockRelease(&w->mutex);
	if (!was_active)
		pg_atomic_fetch_add_u32(&Waiters->nwaiters, 1);
	/* a wake-up set before we registered is of no use to us */
	ResetLatch(MyLatch);
}

void
MqWaitUnregister(void)
{
	MqWaiter   *w;
	bool		was_active;

	if (Waiters == NULL || MyProc == NULL || MyProc->pgprocno >= Waiters->nslots)
		return;
	w = &Waiters->slots[MyProc->pgprocno];
	SpinLockAcquire(&w->mutex);
	was_active = w->active;
	w->active = false;
	SpinLockRelease(&w->mutex);
	if (was_active)
		pg_atomic_fetch_sub_u32(&Waiters->nwaiters, 1);
}

/*
 * Sleep until woken or timeout; true when woken.  A backend sleeping for
 * its client also watches the client's socket: a client that goes away
 * (killed, say) must end the session now, not when the sleep ends, since
 * its group members and ephemeral nodes leave with the session.
 */
bool
MqWaitSleep(long timeout_ms)
{
	int			rc;

	if (MyProcPort != NULL && MyProcPort->sock != PGINVALID_SOCKET)
		rc = WaitLatchOrSocket(MyLatch,
							   WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH | WL_SOCKET_CLOSED,
							   MyProcPort->sock, timeout_ms, PG_WAIT_EXTENSION);
	else
		rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					   timeout_ms, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	if (rc & WL_SOCKET_CLOSED)
	{
		/* as the backend's own check does (pq_check_connection) */
		ClientConnectionLost = true;
		InterruptPending = true;
	}
	CHECK_FOR_INTERRUPTS();
	return (rc & WL_LATCH_SET) != 0;
}

void
MqNoteAppend(int32 topic_id)
{
	for (int i = 0; i < noted_ntopics; i++)
		if (noted_topics[i] == topic_id)
			return;
	if (noted_ntopics >= noted_cap)
	{
		int			newcap = Max(8, noted_cap * 2);

		if (noted_topics == NULL)
			noted_topics = MemoryContextAlloc(TopMemoryContext, newcap * sizeof(int32));
		else
			noted_topics = repalloc(noted_topics, newcap * sizeof(int32));
		noted_cap = newcap;
	}
	noted_topics[noted_ntopics++] = topic_id;
}

void
MqNoteGroupChange(uint32 group_hash)
{
	for (int i = 0; i < noted_ngroups; i++)
		if (noted_groups[i] == group_hash)
			return;
	if (noted_ngroups < lengthof(noted_groups))
		noted_groups[noted_ngroups++] = group_hash;
	else
		noted_overflow = true;
}

/* Caller holds w->mutex; sets group_woken when the group is the reason. */
static bool
waiter_matches(MqWaiter *w)
{
	if (!w->active || w->dbid != MyDatabaseId)
		return false;
	if (noted_overflow)
	{
		w->group_woken = true;
		return true;
	}
	for (int g = 0; g < noted_ngroups; g++)
	{
		if (w->group_hash == noted_groups[g])
		{
			w->group_woken = true;
			return true;
		}
	}
	if (noted_ntopics == 0)
		return false;
	if (w->ntopics < 0)
		return true;
	for (int i = 0; i < w->ntopics; i++)
		for (int j = 0; j < noted_ntopics; j++)
			if (w->topics[i] == noted_topics[j])
				return true;
	return false;
}

/* Did a rebalance of our group wake us since we registered? */
bool
MqWaitGroupChanged(void)
{
	MqWaiter   *w = my_slot();
	bool		changed;

	SpinLockAcquire(&w->mutex);
	changed = w->group_woken;
	SpinLockRelease(&w->mutex);
	return changed;
}

uint64
MqGroupEpoch(uint32 group_hash)
{
	MqRequirePreload();
	return pg_atomic_read_u64(&Waiters->group_epoch[group_hash % MQ_GROUP_EPOCHS]);
}

/* Set the latches of the waiters this transaction's notes concern. */
static void
wake_noted(void)
{
	if ((noted_ntopics > 0 || noted_ngroups > 0 || noted_overflow) &&
		Waiters != NULL && pg_atomic_read_u32(&Waiters->nwaiters) > 0)
	{
		for (int i = 0; i < Waiters->nslots; i++)
		{
			MqWaiter   *w = &Waiters->slots[i];
			Latch	   *latch = NULL;

			SpinLockAcquire(&w->mutex);
			if (waiter_matches(w))
				latch = w->latch;
			SpinLockRelease(&w->mutex);
			if (latch)
				SetLatch(latch);
		}
	}
}

/* Commit callback: the transaction is visible; wake who waits for it. */
void
MqWakeAtCommit(void)
{
	if (Waiters != NULL)
	{
		if (noted_overflow)
			for (int i = 0; i < MQ_GROUP_EPOCHS; i++)
				pg_atomic_fetch_add_u64(&Waiters->group_epoch[i], 1);
		else
			for (int g = 0; g < noted_ngroups; g++)
				pg_atomic_fetch_add_u64(&Waiters->group_epoch[noted_groups[g] % MQ_GROUP_EPOCHS], 1);
	}
	wake_noted();
	MqForgetWakeups();
}

/*
 * A subtransaction's appends were rolled back, and with them the in-flight
 * entries of some partitions: their LSO moved.  Wake the pollers of every
 * topic this transaction appended to (a few needless wakeups at most), and
 * keep the notes: the transaction goes on, and its commit or abort wakes
 * them again.  Nothing of the groups: only a commit announces those.
 */
void
MqWakeAtSubAbort(void)
{
	int			ngroups = noted_ngroups;
	bool		overflow = noted_overflow;

	noted_ngroups = 0;
	noted_overflow = false;
	wake_noted();
	noted_ngroups = ngroups;
	noted_overflow = overflow;
}

/*
 * Abort callback of a transaction that had appends in flight: their end
 * moved the LSO of those partitions, which may uncover committed records
 * behind them, so the topics' pollers must look again.  Its rebalances
 * never happened: no group is woken.
 */
void
MqWakeAtAbort(void)
{
	noted_ngroups = 0;
	noted_overflow = false;
	MqWakeAtCommit();
}

void
MqForgetWakeups(void)
{
	noted_ntopics = 0;
	noted_ngroups = 0;
	noted_overflow = false;
}
