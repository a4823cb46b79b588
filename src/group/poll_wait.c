/*-------------------------------------------------------------------------
 *
 * src/group/poll_wait.c
 *	  The blocking part of mq.poll.
 *
 * mq.poll reads what its member's partitions hold; when that is nothing it
 * calls here to wait until a producer commits to one of them, the group is
 * rebalanced, or the timeout passes.  The wait holds no row lock, so a
 * rebalance never queues behind a sleeping member.
 *
 * Order matters: register as a waiter first, then look at the partitions'
 * last stable offsets and the group's epoch, then sleep.  A commit that
 * lands after the look finds us registered and sets our latch; one that
 * landed before it shows in the LSO or in the epoch, which the caller read
 * before reading its assignment.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "storage/proc.h"
#include "utils/timestamp.h"

#include "broker/fetch.h"
#include "catalog/metadata_cache.h"
#include "group/poll_wait.h"
#include "shmem/waiters.h"

/*
 * The transaction that locked assignment rows (a poll that moved or set
 * positions, an auto-commit, a seek or a commit): until it ends, its
 * member's partitions cannot be handed over, so a later blocking poll in it
 * must not sleep (a rebalance would wait for the sleep).
 */
static LocalTransactionId assignment_locked_lxid = InvalidLocalTransactionId;

void
MqNoteAssignmentLocked(void)
{
	assignment_locked_lxid = MyProc->lxid;
}

bool
MqAssignmentLocked(void)
{
	return assignment_locked_lxid == MyProc->lxid;
}

uint32
MqGroupHash(const char *group_id)
{
	uint32		h = hash_bytes((const unsigned char *) group_id, strlen(group_id));

	return h == 0 ? 1 : h;		/* 0 means "no group" to the waiters */
}

static bool
records_available(int n, char **topics, const int32 *partitions,
				  const int64 *positions)
{
	for (int i = 0; i < n; i++)
	{
		MqTopic    *t = MqTopicLookup(topics[i], true);

		/* a dropped topic: let poll find out and rebalance */
		if (t == NULL || partitions[i] >= t->partitions)
			return true;
		if (MqLastStableOffset(t, partitions[i]) > positions[i])
			return true;
	}
	return false;
}

/*
 * Wait until one of the partitions has a record at or after its position
 * (as far as the LSO tells), the group changes, or timeout_ms passes.
 * Returns false only on timeout.
 */
bool
MqWaitForRecords(const char *group_id, uint64 group_epoch, int n,
				 char **topics, const int32 *partitions,
				 const int64 *positions, long timeout_ms)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   timeout_ms);
	int32	   *topic_ids = palloc(sizeof(int32) * Max(n, 1));
	int			ntopics = 0;
	bool		ready = false;

	for (int i = 0; i < n; i++)
	{
		MqTopic    *t = MqTopicLookup(topics[i], true);
		bool		seen = false;

		if (t == NULL)
			return true;
		for (int j = 0; j < ntopics; j++)
			seen |= (topic_ids[j] == t->topic_id);
		if (!seen)
			topic_ids[ntopics++] = t->topic_id;
	}

	MqWaitRegister(topic_ids, ntopics, MqGroupHash(group_id));
	PG_TRY();
	{
		for (;;)
		{
			long		remaining;

			/* rebalanced since the caller read its assignment? */
			if (MqGroupEpoch(MqGroupHash(group_id)) != group_epoch ||
				records_available(n, topics, partitions, positions))
			{
				ready = true;
				break;
			}
			remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
			if (remaining <= 0)
				break;
			if (MqWaitSleep(remaining) && MqWaitGroupChanged())
			{
				/* rebalanced: poll must read its new assignment */
				ready = true;
				break;
			}
			/* else a commit to one of our topics: look again */
		}
	}
	PG_FINALLY();
	{
		MqWaitUnregister();
	}
	PG_END_TRY();
	return ready;
}
