/*-------------------------------------------------------------------------
 *
 * src/catalog/metadata_cache.h
 *	  Backend-local cache of topic metadata.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_METADATA_CACHE_H
#define MQ_METADATA_CACHE_H

#include "mqext.h"

typedef struct MqTopic
{
	char		name[MQ_TOPIC_NAME_MAX + 1];	/* hash key */
	int32		topic_id;
	Oid			relid;			/* mq_data.topic_<id>, the topic's log */
	int32		partitions;
	int64		max_message_bytes;
	bool		log_append_time;	/* message.timestamp.type = LogAppendTime */
	bool		notify;
	bool		compacted;		/* cleanup.policy compact or compact,delete */
	int			nsegments;
	int64	   *segment_ids;	/* oldest first; the last one is active */
	Oid		   *segment_relids;
	int64	   *log_start;		/* per partition */
} MqTopic;

/*
 * Look a topic up by name; ERROR if it does not exist (or NULL when
 * missing_ok).  The result stays valid until the next call of
 * MqTopicLookup in this backend, so use it within one SQL function call.
 */
extern MqTopic *MqTopicLookup(const char *name, bool missing_ok);
extern void MqCheckPartition(const MqTopic *topic, int32 partition);
extern void MqMetadataCacheInit(void);
extern void MqMetadataCacheInvalidate(void);
extern bool MqMetadataCacheIsStale(void);
extern Oid	MqCatalogRelid(const char *relname);
extern Oid	MqCacheSignalRelid(void);

typedef struct MqCatalogAccess
{
	Oid			userid;
	int			sec_context;
} MqCatalogAccess;

extern void MqCatalogAccessBegin(MqCatalogAccess *save);
extern void MqCatalogAccessEnd(const MqCatalogAccess *save);

#endif							/* MQ_METADATA_CACHE_H */
