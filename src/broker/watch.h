/*-------------------------------------------------------------------------
 *
 * src/broker/watch.h
 *	  The LISTEN/NOTIFY watch API of topics with notify = true.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_WATCH_H
#define MQ_WATCH_H

extern char *MqWatchChannel(const char *topic_name);
extern void MqWatchNoteAppend(const char *topic_name, int32 partition,
							  int64 last_offset);
extern void MqWatchSubXactEnd(bool commit);
extern void MqWatchNotifyAtPreCommit(void);
extern void MqWatchForget(void);
extern void MqWatchForgetTopic(const char *topic_name);

#endif							/* MQ_WATCH_H */
