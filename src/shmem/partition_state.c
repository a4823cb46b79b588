/*-------------------------------------------------------------------------
 *
 * src/shmem/partition_state.c
 *	  Offset counters, in-flight appends and the last stable offset.
 *
 * This is where mqext keeps the core invariant of DESIGN.md: a reader never
 * skips an offset that a live transaction could still commit.
 *
 * Each partition has a slot in a shared hash table.  An append takes its
 * offsets from slot->next_offset and, the first time a transaction appends
 * to the partition, links an in-flight entry (first offset) at the tail of
 * the slot's list in the same critical section.  Offsets are handed out in
 * increasing order, so the list stays sorted and its head is the smallest
 * in-flight offset: the last stable offset (LSO) is the head's first offset,
 * or next_offset when the list is empty.  The entries are unlinked by the
 * transaction's commit or abort callback, which runs after the transaction
 * has left the proc array; a reader that reads the LSO and takes its
 * snapshot afterwards therefore sees every committed record below the LSO.
 * An entry made by a subtransaction is unlinked when that subtransaction
 * rolls back (its callback runs after PostgreSQL marked it aborted and
 * removed its xid from the proc array: readers see its records as
 * aborted), and passes to the parent when it commits.
 *
 * Lock protocol:
 *	- MqShared->partitions_lock (LWLock) guards the hash table's membership:
 *	  shared to look a slot up, exclusive to add or remove one.
 *	- slot->mutex (spinlock) guards every field of the slot and the links of
 *	  the in-flight entries on its list.  Held for a few instructions only.
 *	- MqShared->pool_mutex (spinlock) guards the free list of in-flight
 *	  entries.  Never taken while a slot mutex is held, nor the reverse.
 *	- A heavyweight lock per partition (advisory space, fourth field
 *	  MQ_LOCKTAG_REBUILD) is held while its counter is rebuilt from
 *	  storage, which scans the segments: no LWLock or spinlock then.
 *	- A slot is removed by mq.drop_topic, which holds an exclusive lock on
 *	  every segment of the topic (everybody else touches a slot only while
 *	  holding a lock on one of its topic's segments, so a slot never
 *	  disappears under a user; an appender holds its lock for the top
 *	  transaction, as long as its in-flight entry stays), and by the
 *	  workers once its topic's log or its database is gone.  A slot with
 *	  an entry in flight is never removed.  Removal bumps slots_generation
 *	  so that backends drop cached pointers to removed slots.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlog.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "nodes/pg_list.h"
#include "utils/syscache.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "shmem/partition_state.h"
#include "shmem/shmem.h"

/* Backend-local cache: (topic, partition) -> slot pointer. */

/* fourth field of the advisory locktag that serializes a counter's rebuild */
#define MQ_LOCKTAG_REBUILD	0x4D51	/* "MQ" */

/*
 * How far a raised ceiling lies above the offsets that needed it: one
 * write per this many offsets, and at most this many offsets skipped
 * after a restart (as a sequence skips its cached values after a crash).
 */
#define MQ_CEILING_HEADROOM	4096

typedef struct LocalSlotEntry
{
	int32		key[2];
	MqPartitionSlot *slot;
} LocalSlotEntry;

/* In-flight entries this transaction holds, one per partition. */
typedef struct LocalInflight
{
	MqPartitionSlot *slot;
	int32		entry;
	int			nest_level;		/* (sub)transaction whose append made it */
} LocalInflight;

/* this transaction appended (see MqXactAppended) */
static bool my_xact_appended = false;

static HTAB *local_slots = NULL;
static uint64 local_generation = 0;

static LocalInflight *my_inflight = NULL;
static int	my_ninflight = 0;
static int	my_inflight_cap = 0;

Size
MqInflightPoolSize(int n)
{
	return mul_size(n, sizeof(MqInflight));
}

/* Called once, under AddinShmemInitLock, when the pool is created. */
void
MqInflightPoolInit(void)
{
	MqInflight *pool = MqShared->pool;
	int			n = MqShared->pool_size;

	for (int i = 0; i < n; i++)
	{
		pool[i].next = (i + 1 < n) ? i + 1 : -1;
		pool[i].prev = -1;
		pool[i].slot = NULL;
	}
	MqShared->pool_free = n > 0 ? 0 : -1;
}

static void
local_slots_reset(void)
{
	HASHCTL		ctl;

	if (local_slots != NULL)
		hash_destroy(local_slots);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(int32) * 2;
	ctl.entrysize = sizeof(LocalSlotEntry);
	ctl.hcxt = TopMemoryContext;
	local_slots = hash_create("mqext local partition slots", 256, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/*
 * Find or create the slot of a partition and make sure its counter has been
 * rebuilt from storage.  Caller must hold a lock on one of the topic's
 * segments (see the lock protocol above).
 */
MqPartitionSlot *
MqPartitionGet(Oid topic_relid, int32 partition, MqRecoverNextOffset recover,
			   void *arg)
{
	int32		lkey[2] = {(int32) topic_relid, partition};
	LocalSlotEntry *lentry;
	MqPartitionSlot *slot;
	MqPartitionKey key;
	bool		found;
	bool		ready;
	uint64		gen;

	MqRequirePreload();

	/*
	 * A standby sees the primary's committed batches but not its appends in
	 * flight: it cannot tell an offset still in flight from an aborted one,
	 * so it could neither keep records above the last stable offset hidden
	 * nor, once promoted, know where the offsets go on.  Refusing here also
	 * means no slot is ever built during recovery: after a promotion every
	 * slot is rebuilt from storage as after a restart.
	 */
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("mqext cannot read or write a topic's partitions during recovery"),
				 errdetail("A standby cannot tell offsets in flight on the primary from aborted ones, "
						   "so it could return records above the last stable offset."),
				 errhint("Read from the primary.")));

	gen = pg_atomic_read_u64(&MqShared->slots_generation);
	if (local_slots == NULL || gen != local_generation)
	{
		local_slots_reset();
		local_generation = gen;
	}

	lentry = hash_search(local_slots, lkey, HASH_ENTER, &found);
	if (found)
		return lentry->slot;
	lentry->slot = NULL;

	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.topic_relid = topic_relid;
	key.partition = partition;

	LWLockAcquire(MqShared->partitions_lock, LW_SHARED);
	slot = hash_search(MqShared->partitions, &key, HASH_FIND, NULL);
	LWLockRelease(MqShared->partitions_lock);

	if (slot == NULL)
	{
		LWLockAcquire(MqShared->partitions_lock, LW_EXCLUSIVE);
		slot = hash_search(MqShared->partitions, &key, HASH_ENTER_NULL, &found);
		if (slot != NULL && !found)
		{
			SpinLockInit(&slot->mutex);
			slot->initialized = false;
			slot->next_offset = 0;
			slot->ceiling = 0;
			slot->segment_floor = 0;
			slot->segment_floor_start = 0;
			slot->inflight_head = -1;
			slot->inflight_tail = -1;
			slot->ninflight = 0;
			slot->records_appended = 0;
			slot->bytes_appended = 0;
			slot->produce_calls = 0;
			slot->records_fetched = 0;
			slot->fetch_calls = 0;
		}
		LWLockRelease(MqShared->partitions_lock);
		if (slot == NULL)
		{
			hash_search(local_slots, lkey, HASH_REMOVE, NULL);
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("too many partitions in use"),
					 errdetail("mqext keeps state for at most %d partitions across all databases.",
							   MqShared->partitions ? (int) hash_get_num_entries(MqShared->partitions) : 0),
					 errhint("Raise mqext.max_partitions and restart the server.")));
		}
	}

	SpinLockAcquire(&slot->mutex);
	ready = slot->initialized;
	SpinLockRelease(&slot->mutex);

	if (!ready)
	{
		LOCKTAG		tag;

		/*
		 * One backend rebuilds the counter while the others wait for it,
		 * on a heavyweight lock of the partition: the rebuild scans the
		 * segments under relation locks, so the wait must be one the
		 * deadlock detector sees and a cancel can end, and it concerns
		 * this partition alone.  (The key is in the advisory space, with a
		 * fourth field no SQL-level advisory lock uses.)
		 */
		SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, topic_relid, (uint32) partition, MQ_LOCKTAG_REBUILD);
		PG_TRY();
		{
			(void) LockAcquire(&tag, ExclusiveLock, false, false);
			SpinLockAcquire(&slot->mutex);
			ready = slot->initialized;
			SpinLockRelease(&slot->mutex);
			if (!ready)
			{
				/*
				 * Nobody can append before the slot is initialized, so no
				 * in-flight transaction can hide offsets from this scan.
				 */
				int64		next = recover(topic_relid, partition, arg);

				SpinLockAcquire(&slot->mutex);
				slot->next_offset = next;
				/* the first append raises it (recover() saw it below next) */
				slot->ceiling = next;
				slot->initialized = true;
				SpinLockRelease(&slot->mutex);
			}
			LockRelease(&tag, ExclusiveLock, false);
		}
		PG_CATCH();
		{
			/* (an error releases the lock with its transaction) */
			hash_search(local_slots, lkey, HASH_REMOVE, NULL);
			PG_RE_THROW();
		}
		PG_END_TRY();
	}

	lentry->slot = slot;
	return slot;
}

static int
my_inflight_find(MqPartitionSlot *slot)
{
	/* newest first: a transaction usually appends to one partition again */
	for (int i = my_ninflight - 1; i >= 0; i--)
		if (my_inflight[i].slot == slot)
			return i;
	return -1;
}

static int32
pool_pop(void)
{
	int32		e;

	SpinLockAcquire(&MqShared->pool_mutex);
	e = MqShared->pool_free;
	if (e >= 0)
		MqShared->pool_free = MqShared->pool[e].next;
	SpinLockRelease(&MqShared->pool_mutex);
	return e;
}

static void
pool_push(int32 e)
{
	SpinLockAcquire(&MqShared->pool_mutex);
	MqShared->pool[e].next = MqShared->pool_free;
	MqShared->pool[e].slot = NULL;
	MqShared->pool_free = e;
	SpinLockRelease(&MqShared->pool_mutex);
}

/*
 * Reserve count consecutive offsets in segment *segment_id and return the
 * first.  The first reservation of a transaction in a partition registers
 * it as in flight there, which holds the LSO at that offset until the
 * transaction ends.
 *
 * Readers read a partition's segments one after the other, so every offset
 * in a segment must lie below every offset in the segments after it.  The
 * slot remembers the newest segment a reservation was made in, and refuses
 * one in an older segment: that appender chose its segment from a catalog
 * view that predates a roll someone else has already appended after.  It
 * then gets MQ_RESERVE_NEWER_SEGMENT and, in *segment_id, the segment to
 * append to instead.  This is what lets a segment roll go without locking
 * the active segment: appends that chose the old segment before the roll
 * became visible still land there, below the first offset of the new one.
 *
 * Nor does the counter pass the partition's durable ceiling: a reservation
 * that would gets MQ_RESERVE_RAISE_CEILING, and the caller raises it
 * (MqPartitionRaiseCeiling) and tries again.
 */
int64
MqPartitionReserve(MqPartitionSlot *slot, int64 *segment_id, int32 count, int64 bytes)
{
	int32		entry = -1;
	int64		base = -1;

	Assert(count > 0);

	if (my_inflight_find(slot) < 0)
	{
		if (my_ninflight >= my_inflight_cap)
		{
			int			newcap = Max(16, my_inflight_cap * 2);

			if (my_inflight == NULL)
				my_inflight = MemoryContextAlloc(TopMemoryContext,
												 newcap * sizeof(LocalInflight));
			else
				my_inflight = repalloc(my_inflight, newcap * sizeof(LocalInflight));
			my_inflight_cap = newcap;
		}
		entry = pool_pop();
		if (entry < 0)
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("too many partitions with appends in open transactions"),
					 errdetail("mqext tracks at most %d (transaction, partition) pairs at once.",
							   MqShared->pool_size),
					 errhint("Raise mqext.max_inflight_appends and restart the server, or append to fewer partitions per transaction.")));
		/* from here on nothing may fail until the entry is recorded */
		MqShared->pool[entry].slot = slot;
		MqShared->pool[entry].started = GetCurrentTransactionStartTimestamp();
		MqShared->pool[entry].next = -1;
	}

	SpinLockAcquire(&slot->mutex);
	Assert(slot->initialized);
	if (*segment_id < slot->segment_floor)
	{
		*segment_id = slot->segment_floor;
		base = MQ_RESERVE_NEWER_SEGMENT;
	}
	else if (slot->next_offset + count > slot->ceiling)
		base = MQ_RESERVE_RAISE_CEILING;
	else
	{
		if (*segment_id > slot->segment_floor)
		{
			slot->segment_floor = *segment_id;
			slot->segment_floor_start = slot->next_offset;
		}
		base = slot->next_offset;
		slot->next_offset += count;
		slot->records_appended += count;
		slot->bytes_appended += bytes;
		slot->produce_calls++;
		if (entry >= 0)
		{
			MqInflight *e = &MqShared->pool[entry];

			e->first_offset = base;
			e->prev = slot->inflight_tail;
			e->next = -1;
			if (slot->inflight_tail >= 0)
				MqShared->pool[slot->inflight_tail].next = entry;
			else
				slot->inflight_head = entry;
			slot->inflight_tail = entry;
			slot->ninflight++;
		}
	}
	SpinLockRelease(&slot->mutex);

	if (entry >= 0)
	{
		if (base < 0)
			pool_push(entry);	/* refused: not in flight here after all */
		else
		{
			my_inflight[my_ninflight].slot = slot;
			my_inflight[my_ninflight].entry = entry;
			my_inflight[my_ninflight].nest_level = GetCurrentTransactionNestLevel();
			my_ninflight++;
			my_xact_appended = true;
		}
	}
	return base;
}

/*
 * Raise the partition's ceiling so that count more offsets fit below it,
 * and some thousands more after them: write() makes the new ceiling
 * durable (flushed to the WAL) before the slot lets the counter go past
 * the old one, so no offset above the old ceiling is ever handed out that
 * a crash could hand out again.
 *
 * Appenders that need a higher ceiling queue on the partition's
 * heavyweight lock (the one the rebuild takes) and find it raised.
 */
void
MqPartitionRaiseCeiling(MqPartitionSlot *slot, Oid topic_relid, int32 partition,
						int32 count, MqWriteCeiling write, void *arg)
{
	LOCKTAG		tag;
	int64		target = -1;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, topic_relid, (uint32) partition, MQ_LOCKTAG_REBUILD);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
	SpinLockAcquire(&slot->mutex);
	if (slot->next_offset + count > slot->ceiling)
		target = slot->next_offset + count + MQ_CEILING_HEADROOM;
	SpinLockRelease(&slot->mutex);
	if (target >= 0)
	{
		/* an error here leaves the ceiling as it was (and the lock to abort) */
		write(topic_relid, partition, target, arg);
		SpinLockAcquire(&slot->mutex);
		slot->ceiling = Max(slot->ceiling, target);
		SpinLockRelease(&slot->mutex);
	}
	LockRelease(&tag, ExclusiveLock, false);
}

/* The LSO: the first offset of the oldest append in flight, else the end. */
static inline int64
slot_last_stable(MqPartitionSlot *slot)
{
	return slot->inflight_head >= 0 ?
		MqShared->pool[slot->inflight_head].first_offset : slot->next_offset;
}

int64
MqPartitionLastStable(MqPartitionSlot *slot)
{
	int64		lso;

	SpinLockAcquire(&slot->mutex);
	lso = slot_last_stable(slot);
	SpinLockRelease(&slot->mutex);
	return lso;
}

/* The next offset to hand out: the log end, in flight appends included. */
int64
MqPartitionLogEnd(MqPartitionSlot *slot)
{
	int64		end;

	SpinLockAcquire(&slot->mutex);
	end = slot->next_offset;
	SpinLockRelease(&slot->mutex);
	return end;
}

/*
 * The LSO and the log end, with the newest segment an append reserved in
 * and the first offset reserved there, read together.  Offsets go to
 * segments in order (MqPartitionReserve), so every offset from floor_start
 * on is in segment floor, and every one below it in an older segment.
 */
void
MqPartitionPositions(MqPartitionSlot *slot, int64 *lso, int64 *end,
					 int64 *floor, int64 *floor_start)
{
	SpinLockAcquire(&slot->mutex);
	*end = slot->next_offset;
	*lso = slot_last_stable(slot);
	*floor = slot->segment_floor;
	*floor_start = slot->segment_floor_start;
	SpinLockRelease(&slot->mutex);
}

void
MqPartitionCountFetch(MqPartitionSlot *slot, int64 records)
{
	SpinLockAcquire(&slot->mutex);
	slot->records_fetched += records;
	slot->fetch_calls++;
	SpinLockRelease(&slot->mutex);
}

/* Copy the statistics of this database's partitions (palloc'd array). */
MqPartitionStats *
MqPartitionStatsCollect(int *n)
{
	HASH_SEQ_STATUS status;
	MqPartitionSlot *slot;
	MqPartitionStats *out;
	int			cap;

	MqRequirePreload();
	*n = 0;
	LWLockAcquire(MqShared->partitions_lock, LW_SHARED);
	cap = Max(1, (int) hash_get_num_entries(MqShared->partitions));
	/* palloc under an LWLock is fine; under a spinlock it would not be */
	out = palloc(sizeof(MqPartitionStats) * cap);
	hash_seq_init(&status, MqShared->partitions);
	while ((slot = hash_seq_search(&status)) != NULL)
	{
		MqPartitionStats *s;

		if (slot->key.dbid != MyDatabaseId || *n >= cap)
			continue;
		s = &out[(*n)++];
		s->topic_relid = slot->key.topic_relid;
		s->partition = slot->key.partition;
		SpinLockAcquire(&slot->mutex);
		s->records_appended = slot->records_appended;
		s->bytes_appended = slot->bytes_appended;
		s->produce_calls = slot->produce_calls;
		s->records_fetched = slot->records_fetched;
		s->fetch_calls = slot->fetch_calls;
		SpinLockRelease(&slot->mutex);
	}
	LWLockRelease(MqShared->partitions_lock);
	return out;
}

void
MqPartitionStatsReset(void)
{
	HASH_SEQ_STATUS status;
	MqPartitionSlot *slot;

	MqRequirePreload();
	LWLockAcquire(MqShared->partitions_lock, LW_SHARED);
	hash_seq_init(&status, MqShared->partitions);
	while ((slot = hash_seq_search(&status)) != NULL)
	{
		if (slot->key.dbid != MyDatabaseId)
			continue;
		SpinLockAcquire(&slot->mutex);
		slot->records_appended = 0;
		slot->bytes_appended = 0;
		slot->produce_calls = 0;
		slot->records_fetched = 0;
		slot->fetch_calls = 0;
		SpinLockRelease(&slot->mutex);
	}
	LWLockRelease(MqShared->partitions_lock);
}

/* Start time of the oldest open transaction appending here, or 0. */
TimestampTz
MqPartitionOldestInflight(MqPartitionSlot *slot)
{
	TimestampTz oldest = 0;

	SpinLockAcquire(&slot->mutex);
	for (int32 e = slot->inflight_head; e >= 0; e = MqShared->pool[e].next)
		if (oldest == 0 || MqShared->pool[e].started < oldest)
			oldest = MqShared->pool[e].started;
	SpinLockRelease(&slot->mutex);
	return oldest;
}

bool
MqXactHasInflight(void)
{
	return my_ninflight > 0;
}

/*
 * Did this transaction append at all, even in subtransactions rolled back
 * since?  Reset by MqPartitionXactEnd.
 */
bool
MqXactAppended(void)
{
	return my_xact_appended;
}

void
MqPartitionXactEnd(void)
{
	my_xact_appended = false;
}

/* Unlink one in-flight entry from its slot and free it; must not fail. */
static void
release_entry(const LocalInflight *li)
{
	MqPartitionSlot *slot = li->slot;
	MqInflight *e = &MqShared->pool[li->entry];

	SpinLockAcquire(&slot->mutex);
	if (e->prev >= 0)
		MqShared->pool[e->prev].next = e->next;
	else
		slot->inflight_head = e->next;
	if (e->next >= 0)
		MqShared->pool[e->next].prev = e->prev;
	else
		slot->inflight_tail = e->prev;
	slot->ninflight--;
	SpinLockRelease(&slot->mutex);

	pool_push(li->entry);
}

/*
 * Unlink every in-flight entry of this transaction.  Called at commit, after
 * the transaction became visible, and at abort; must not fail.
 */
void
MqPartitionReleaseInflight(void)
{
	for (int i = 0; i < my_ninflight; i++)
		release_entry(&my_inflight[i]);
	my_ninflight = 0;
}

/*
 * A subtransaction at nest_level committed: what it appended is now its
 * parent's, to be rolled back with it.
 */
void
MqPartitionSubXactCommit(int nest_level)
{
	for (int i = 0; i < my_ninflight; i++)
		if (my_inflight[i].nest_level >= nest_level)
			my_inflight[i].nest_level = nest_level - 1;
}

/*
 * A subtransaction at nest_level rolled back (ROLLBACK TO SAVEPOINT, an
 * exception caught in PL/pgSQL): the entries of partitions it appended to
 * first, or its committed children did, cover only records that can never
 * commit now, so the LSO may pass them at once instead of at the top
 * transaction's end.  Called after AbortSubTransaction marked the
 * subtransaction aborted and removed its xid from the proc array, so a
 * reader that passes them sees its batches as aborted.  (An entry made by
 * an outer level stays, though the subtransaction appended under it too:
 * it still covers the outer level's records.)  Returns whether any went;
 * must not fail.
 */
bool
MqPartitionSubXactAbort(int nest_level)
{
	int			kept = 0;
	bool		released = false;

	for (int i = 0; i < my_ninflight; i++)
	{
		if (my_inflight[i].nest_level >= nest_level)
		{
			release_entry(&my_inflight[i]);
			released = true;
		}
		else
			my_inflight[kept++] = my_inflight[i];
	}
	my_ninflight = kept;
	return released;
}

/*
 * Remove the slots of database dbid whose topic's log is in relids (NIL:
 * every one of the database) and whose partition is from_partition or
 * above, and make backends drop their cached pointers if any went.  A
 * slot with an append in flight stays (see below).
 */
static void
remove_slots(Oid dbid, List *relids, int32 from_partition)
{
	HASH_SEQ_STATUS status;
	MqPartitionSlot *slot;
	bool		removed = false;

	LWLockAcquire(MqShared->partitions_lock, LW_EXCLUSIVE);
	hash_seq_init(&status, MqShared->partitions);
	while ((slot = hash_seq_search(&status)) != NULL)
	{
		bool		busy;

		if (slot->key.dbid != dbid ||
			(relids != NIL && !list_member_oid(relids, slot->key.topic_relid)) ||
			slot->key.partition < from_partition)
			continue;

		/*
		 * The callers' locks should rule out appends in flight, but a slot
		 * with one must stay whatever they believe: the entry is unlinked
		 * from it only when its (sub)transaction ends.  The next round of
		 * the worker removes the slot then.
		 */
		SpinLockAcquire(&slot->mutex);
		busy = slot->ninflight > 0;
		/*
		 * Kept, it must not trust a ceiling it raised for rows that may be
		 * gone (a partition added again whose ceiling row starts at 0):
		 * the next append raises it anew.
		 */
		if (busy)
			slot->ceiling = slot->next_offset;
		SpinLockRelease(&slot->mutex);
		if (!busy)
		{
			hash_search(MqShared->partitions, &slot->key, HASH_REMOVE, NULL);
			removed = true;
		}
	}
	if (removed)
		pg_atomic_fetch_add_u64(&MqShared->slots_generation, 1);
	LWLockRelease(MqShared->partitions_lock);
}

/*
 * Remove the slots of a topic of this database, of its partitions
 * from_partition and above.  Called by mq.drop_topic (from 0) while it
 * holds an exclusive lock on all the topic's segments, and by
 * mq.add_partitions (from the first new partition): a slot of a partition
 * that an add_partitions rolled back may remain, its counter and ceiling
 * describing rows that no longer exist, and the partition added again must
 * start from its new rows.  Nobody else can have appended there: the
 * partitions do not exist for anyone else.
 */
void
MqPartitionForgetTopic(Oid topic_relid, int32 from_partition)
{
	MqRequirePreload();

	/*
	 * Nobody else can have an append in flight here (see above), but our
	 * own transaction may.  Its entry must keep holding the LSO should the
	 * drop be rolled back to a savepoint, so refuse rather than forget it.
	 */
	for (int i = 0; i < my_ninflight; i++)
	{
		MqPartitionSlot *mine = my_inflight[i].slot;

		if (mine->key.dbid == MyDatabaseId && mine->key.topic_relid == topic_relid &&
			mine->key.partition >= from_partition)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("cannot drop a topic this transaction has produced to"),
					 errhint("Commit or roll back the transaction first.")));
	}

	remove_slots(MyDatabaseId, list_make1_oid(topic_relid), from_partition);
}

/*
 * Remove every slot of a database that is gone.  Called by the launcher
 * once DROP DATABASE has removed it: nobody is connected there any more,
 * so nothing can be in flight.
 */
void
MqPartitionForgetDatabase(Oid dbid)
{
	remove_slots(dbid, NIL, 0);
}

/*
 * Remove the slots of this database whose topic's log no longer exists:
 * DROP EXTENSION drops every topic without mq.drop_topic.  Called by the
 * database's worker in a transaction.  A relation that is gone has no
 * appends in flight (dropping it waited for them), and its OID will not
 * come back for a long while: a slot found gone stays gone.  But a topic
 * created by a transaction still open is invisible to us too, and may
 * have appends in flight: its creator holds an exclusive lock on its log
 * until it ends, so a relation we cannot lock at once is left alone.
 */
void
MqPartitionForgetVanished(void)
{
	HASH_SEQ_STATUS status;
	MqPartitionSlot *slot;
	List	   *gone = NIL;
	ListCell   *lc;
	Oid			last = InvalidOid;

	/* look up the relations without holding the LWLock */
	LWLockAcquire(MqShared->partitions_lock, LW_SHARED);
	hash_seq_init(&status, MqShared->partitions);
	while ((slot = hash_seq_search(&status)) != NULL)
		if (slot->key.dbid == MyDatabaseId && slot->key.topic_relid != last)
		{
			last = slot->key.topic_relid;
			gone = list_append_unique_oid(gone, last);
		}
	LWLockRelease(MqShared->partitions_lock);

	foreach(lc, gone)
	{
		Oid			relid = lfirst_oid(lc);
		bool		exists = true;

		if (ConditionalLockRelationOid(relid, AccessShareLock))
		{
			/* (the lock read the pending invalidations) */
			exists = SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid));
			UnlockRelationOid(relid, AccessShareLock);
		}
		if (exists)
			gone = foreach_delete_current(gone, lc);
	}
	if (gone != NIL)
		remove_slots(MyDatabaseId, gone, 0);
	list_free(gone);
}

/* Slots in use, in every database (against mqext.max_partitions). */
int
MqPartitionSlotsInUse(void)
{
	int			n;

	MqRequirePreload();
	LWLockAcquire(MqShared->partitions_lock, LW_SHARED);
	n = (int) hash_get_num_entries(MqShared->partitions);
	LWLockRelease(MqShared->partitions_lock);
	return n;
}
