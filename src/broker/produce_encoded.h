/*-------------------------------------------------------------------------
 *
 * src/broker/produce_encoded.h
 *	  Append a record batch the client encoded (Kafka's Produce path).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_PRODUCE_ENCODED_H
#define MQ_PRODUCE_ENCODED_H

/*
 * Validate one client-encoded Kafka RecordBatch v2 and append it to a
 * partition; *base_offset and *last_offset receive its offsets (the
 * original ones when it is the retry of an idempotent batch already
 * written).  batch is modified in place: its base offset, its partition
 * leader epoch, and, where the broker restamps it, its max timestamp,
 * timestamp type and CRC.
 */
extern void MqProduceEncoded(const char *topic_name, int32 partition,
							 bytea *batch, int64 *base_offset,
							 int64 *last_offset);

#endif							/* MQ_PRODUCE_ENCODED_H */
