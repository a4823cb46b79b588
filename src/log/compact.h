/*-------------------------------------------------------------------------
 *
 * src/log/compact.h
 *	  Log compaction: keep only the newest record of each key.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_COMPACT_H
#define MQ_COMPACT_H

extern int64 MqCompactTopic(const char *topic_name, int ncleanable,
							int64 horizon_ms, double min_dirty_ratio);
extern bool MqCompactPending(const char *topic_name, int ncleanable);
extern void MqCompactEndRound(void);

#endif							/* MQ_COMPACT_H */
