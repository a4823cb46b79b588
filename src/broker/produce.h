/*-------------------------------------------------------------------------
 *
 * src/broker/produce.h
 *	  The producer path: partition choice, batching, idempotence, append.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_PRODUCE_H
#define MQ_PRODUCE_H

#include "datatype/timestamp.h"

#include "broker/idempotence.h"
#include "catalog/metadata_cache.h"
#include "codec/record_batch.h"

typedef struct MqProduceRecord
{
	const uint8_t *key;
	int32		key_len;		/* -1 = null */
	const uint8_t *value;
	int32		value_len;		/* -1 = null (a tombstone) */
	const MqHeader *headers;
	int32		num_headers;
	bool		has_ts;
	TimestampTz ts;				/* CreateTime given by the caller */
} MqProduceRecord;

typedef struct MqProduceResult
{
	int32		partition;
	int64		offset;
	TimestampTz ts;
} MqProduceResult;

/* partition -1 lets the partitioner choose; producer NULL = not idempotent */
extern void MqProduce(const char *topic_name, const MqProduceRecord *recs,
					  int nrecs, int32 partition, const MqProducerArgs *producer,
					  MqProduceResult *results);
extern void MqRefuseKeylessRecord(const MqTopic *topic) pg_attribute_noreturn();

#endif							/* MQ_PRODUCE_H */
