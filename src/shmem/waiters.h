/*-------------------------------------------------------------------------
 *
 * src/shmem/waiters.h
 *	  Blocking polls: who waits for which topics and groups, and waking them
 *	  when a transaction that appended or rebalanced commits.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_WAITERS_H
#define MQ_WAITERS_H

/* A waiter lists at most this many topics; more means "any topic". */
#define MQ_WAIT_MAX_TOPICS	32

extern Size MqWaitersShmemSize(void);
extern void MqWaitersShmemInit(void);

extern void MqWaitRegister(const int32 *topic_ids, int ntopics, uint32 group_hash);
extern bool MqWaitSleep(long timeout_ms);
extern bool MqWaitGroupChanged(void);
extern void MqWaitUnregister(void);

extern void MqNoteAppend(int32 topic_id);
extern void MqNoteGroupChange(uint32 group_hash);
extern uint64 MqGroupEpoch(uint32 group_hash);
extern void MqWakeAtCommit(void);
extern void MqWakeAtAbort(void);
extern void MqWakeAtSubAbort(void);
extern void MqForgetWakeups(void);

#endif							/* MQ_WAITERS_H */
