/*-------------------------------------------------------------------------
 *
 * src/log/log_append.h
 *	  Append record batches to a topic's active segment.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_LOG_APPEND_H
#define MQ_LOG_APPEND_H

#include "codec/record_batch.h"
#include "log/segment.h"

typedef struct MqAppender
{
	MqTopic    *topic;
	MqSegmentRel seg;
	CommandId	cid;
	Oid			held_relid;		/* segment already held for the transaction */
} MqAppender;

extern MqTopic *MqAppenderBegin(MqAppender *app, const char *topic_name);
extern int64 MqAppend(MqAppender *app, int32 partition, bytea *batch,
					  const MqBatchHeader *hdr);
extern void MqAppenderEnd(MqAppender *app);

#endif							/* MQ_LOG_APPEND_H */
