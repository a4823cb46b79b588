/*-------------------------------------------------------------------------
 *
 * src/group/poll_wait.h
 *	  The blocking part of mq.poll.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_POLL_WAIT_H
#define MQ_POLL_WAIT_H

extern uint32 MqGroupHash(const char *group_id);
extern void MqNoteAssignmentLocked(void);
extern bool MqAssignmentLocked(void);
extern bool MqWaitForRecords(const char *group_id, uint64 group_epoch, int n,
							 char **topics, const int32 *partitions,
							 const int64 *positions, long timeout_ms);

#endif							/* MQ_POLL_WAIT_H */
