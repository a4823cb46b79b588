/*-------------------------------------------------------------------------
 *
 * src/broker/idempotence.h
 *	  Idempotent producers: producer id, epoch and per-partition sequences.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_IDEMPOTENCE_H
#define MQ_IDEMPOTENCE_H

#include "datatype/timestamp.h"

typedef struct MqProducerArgs
{
	int64		producer_id;
	int32		epoch;
	int32		sequence;		/* of the first record of the call */
} MqProducerArgs;

extern bool MqIdempotenceCheck(const MqProducerArgs *p, int32 topic_id,
							   int32 partition, int32 count,
							   int64 *base_offset, TimestampTz *first_ts);
extern void MqIdempotenceRecord(const MqProducerArgs *p, int32 topic_id,
								int32 partition, int32 count,
								int64 base_offset, TimestampTz first_ts);

extern void MqInitProducer(const char *transactional_id, int64 *producer_id,
						   int32 *epoch);

#endif							/* MQ_IDEMPOTENCE_H */
