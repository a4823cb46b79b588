/*-------------------------------------------------------------------------
 *
 * src/log/log_read.h
 *	  Read a partition's committed batches in offset order, below the LSO.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_LOG_READ_H
#define MQ_LOG_READ_H

#include "access/genam.h"
#include "executor/tuptable.h"
#include "utils/snapshot.h"

#include "codec/record_batch.h"
#include "log/segment.h"

typedef struct MqLogReader
{
	MqTopic    *topic;
	int32		partition;
	int64		from;			/* first offset wanted */
	int64		lso;			/* read before the snapshot was taken */
	int64		log_start;
	struct MqPartitionSlot *pslot;
	Snapshot	snapshot;
	int			seg;			/* current segment, or -1 before the first */
	bool		open;
	bool		used;			/* a batch of the current segment was handed out */
	bool		done;
	bool		tail;			/* SERIALIZABLE: past the end, meeting writers */
	MqSegmentRel segrel;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	MemoryContext batch_cxt;	/* reset for every batch */
	Oid			pinned_relid;	/* segment last locked for the transaction */
} MqLogReader;

/* One batch handed out by MqLogReaderNext; valid until the next call. */
typedef struct MqLogBatch
{
	int64		base_offset;
	int64		last_offset;
	TimestampTz max_ts;
	size_t		size;			/* length of its bytes, known before loading */
	int32		record_count;
	const uint8_t *data;		/* set by MqLogReaderLoad */
	size_t		len;
	MqBatchHeader hdr;
} MqLogBatch;

extern void MqLogReaderBegin(MqLogReader *r, MqTopic *topic, int32 partition,
							 int64 from);
extern bool MqLogReaderNext(MqLogReader *r, MqLogBatch *batch);
extern void MqLogReaderLoad(MqLogReader *r, MqLogBatch *batch);
extern Datum MqLogReaderStored(MqLogReader *r);
extern void MqLogReaderEnd(MqLogReader *r);

extern void MqCodecError(MqCodecStatus status, const MqTopic *topic,
						 int32 partition, int64 base_offset);

#endif							/* MQ_LOG_READ_H */
