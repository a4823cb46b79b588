/*-------------------------------------------------------------------------
 *
 * src/mqext.h
 *	  Project-wide constants of mqext.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQEXT_H
#define MQEXT_H

#define MQ_SCHEMA			"mq"
#define MQ_DATA_SCHEMA		"mq_data"
#define MQ_EXTENSION_NAME	"mqext"

/* Kafka's limits on topic names and our limit on partitions per topic. */
#define MQ_TOPIC_NAME_MAX	249
#define MQ_MAX_PARTITIONS	10000

/* Kafka timestamps are milliseconds since the Unix epoch. */
#define MQ_UNIX_EPOCH_MS_IN_PG	INT64CONST(946684800000)

static inline int64
MqMsToTimestamptz(int64 ms)
{
	return (ms - MQ_UNIX_EPOCH_MS_IN_PG) * INT64CONST(1000);
}

/* Floor division, so that times before 1970 stay ordered. */
static inline int64
MqTimestamptzToMs(int64 ts)
{
	return ts / 1000 - (ts % 1000 < 0 ? 1 : 0) + MQ_UNIX_EPOCH_MS_IN_PG;
}

#endif							/* MQEXT_H */
