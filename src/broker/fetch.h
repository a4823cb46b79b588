/*-------------------------------------------------------------------------
 *
 * src/broker/fetch.h
 *	  Fetch records, look up offsets by time, report partition state.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_FETCH_H
#define MQ_FETCH_H

#include "catalog/metadata_cache.h"
#include "codec/record_batch.h"

typedef void (*MqRecordSink) (void *arg, const MqDecodedRecord *rec);

/*
 * One stored batch, as stored: a bytea datum, usually a TOAST pointer
 * (MqLogReaderStored), valid during the call only (what it points to: till
 * the end of the transaction, unless the transaction drops the topic).
 */
typedef void (*MqBatchSink) (void *arg, int64 base_offset, int64 last_offset,
							 int32 record_count, Datum batch);

extern int64 MqFetch(MqTopic *topic, int32 partition, int64 from,
					 int32 max_records, int64 max_bytes,
					 MqRecordSink sink, void *arg);
extern int64 MqFetchBatches(MqTopic *topic, int32 partition, int64 from,
							int64 max_bytes, MqBatchSink sink, void *arg);
extern bool MqOffsetForTime(MqTopic *topic, int32 partition, int64 ts_ms,
							int64 *offset);
extern int64 MqLastStableOffset(MqTopic *topic, int32 partition);
extern int64 MqLogEndOffset(MqTopic *topic, int32 partition);

#endif							/* MQ_FETCH_H */
