/*-------------------------------------------------------------------------
 *
 * src/codec/record_batch.h
 *	  Kafka RecordBatch v2 (magic 2) encoder and decoder.
 *
 * The codec is pure C: it includes no PostgreSQL header, allocates nothing
 * and never throws, so that the same object file links into the backend,
 * the unit tests and the fuzzers.  Failures are reported as MqCodecStatus
 * values; the backend turns them into ereport()s (see log/).
 *
 * Layout of a batch (all integers big-endian, see Kafka's DefaultRecordBatch):
 *
 *	 0 baseOffset int64          8 batchLength int32      12 partitionLeaderEpoch int32
 *	16 magic int8               17 crc uint32 (CRC-32C of bytes 21..end)
 *	21 attributes int16         23 lastOffsetDelta int32  27 baseTimestamp int64
 *	35 maxTimestamp int64       43 producerId int64       51 producerEpoch int16
 *	53 baseSequence int32       57 recordsCount int32     61 records...
 *
 * Each record: length varint, attributes int8, timestampDelta varlong,
 * offsetDelta varint, key (varint length, -1 = null), value (likewise),
 * header count varint, then per header: key (varint length, never null),
 * value (varint length, -1 = null).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_RECORD_BATCH_H
#define MQ_RECORD_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MQ_BATCH_HEADER_SIZE		61
#define MQ_BATCH_MAGIC				2
#define MQ_BATCH_CRC_OFFSET			17
#define MQ_BATCH_ATTRIBUTES_OFFSET	21

/* attribute bits */
#define MQ_BATCH_COMPRESSION_MASK	0x07
#define MQ_BATCH_LOG_APPEND_TIME	0x08
#define MQ_BATCH_TRANSACTIONAL		0x10
#define MQ_BATCH_CONTROL			0x20
#define MQ_BATCH_DELETE_HORIZON		0x40

typedef enum MqCodecStatus
{
	MQ_CODEC_OK = 0,
	MQ_CODEC_TRUNCATED,			/* input ends before a field or record does */
	MQ_CODEC_BAD_LENGTH,		/* batchLength or a record/key/value length
								 * out of range */
	MQ_CODEC_BAD_MAGIC,			/* magic is not 2 */
	MQ_CODEC_BAD_CRC,			/* stored CRC-32C does not match */
	MQ_CODEC_BAD_VARINT,		/* varint longer than allowed */
	MQ_CODEC_BAD_COUNT,			/* recordsCount disagrees with the records */
	MQ_CODEC_TRAILING_BYTES,	/* bytes after the last record or inside a
								 * record after its last field */
	MQ_CODEC_UNSUPPORTED_COMPRESSION	/* compressed batch */
} MqCodecStatus;

/* A short, lower-case description of a status, for error messages. */
extern const char *MqCodecStatusMessage(MqCodecStatus status);

/* The fixed-size batch header, in host byte order. */
typedef struct MqBatchHeader
{
	int64_t		base_offset;
	int32_t		batch_length;	/* bytes after this field: total - 12 */
	int32_t		partition_leader_epoch;
	int8_t		magic;
	uint32_t	crc;
	int16_t		attributes;
	int32_t		last_offset_delta;
	int64_t		base_timestamp;
	int64_t		max_timestamp;
	int64_t		producer_id;
	int16_t		producer_epoch;
	int32_t		base_sequence;
	int32_t		records_count;
} MqBatchHeader;

/* One record header; value_len -1 means a null value. */
typedef struct MqHeader
{
	const uint8_t *key;
	int32_t		key_len;
	const uint8_t *value;
	int32_t		value_len;
} MqHeader;

/* A record to encode; key_len or value_len -1 means null. */
typedef struct MqRecord
{
	int64_t		timestamp;		/* absolute, in ms since the epoch */
	const uint8_t *key;
	int32_t		key_len;
	const uint8_t *value;
	int32_t		value_len;
	int32_t		num_headers;
	const MqHeader *headers;
} MqRecord;

/*
 * Encoding.  The caller fills the producer fields, partition_leader_epoch,
 * attributes and base_offset of *hdr; MqBatchEncode computes the rest
 * (lengths, deltas, base/max timestamps, records_count, crc) from the
 * records, writes them back into *hdr and writes exactly
 * MqBatchEncodedSize() bytes to dst.  Record i gets offsetDelta i.  When
 * attributes has MQ_BATCH_LOG_APPEND_TIME, the caller sets every record's
 * timestamp to the append time.
 */
extern size_t MqRecordEncodedSize(const MqRecord *rec, int64_t timestamp_delta,
								  int32_t offset_delta);
extern size_t MqBatchEncodedSize(const MqRecord *recs, int nrecs);
extern void MqBatchEncode(MqBatchHeader *hdr, const MqRecord *recs, int nrecs,
						  uint8_t *dst);

/*
 * Re-encode the records compaction keeps of a batch, with their original
 * offset deltas (increasing); base_offset and last_offset_delta of *hdr
 * are kept as the caller sets them.
 */
extern size_t MqBatchEncodedSizeKept(const MqRecord *recs,
									 const int32_t *offset_deltas, int nrecs);
extern void MqBatchEncodeKept(MqBatchHeader *hdr, const MqRecord *recs,
							  const int32_t *offset_deltas, int nrecs,
							  uint8_t *dst);

/* Rewrite baseOffset in place; it lies outside the CRC's range. */
extern void MqBatchSetBaseOffset(uint8_t *batch, int64_t base_offset);

/*
 * Additions to the API above (nothing above changed):
 *
 * MqBatchEncode with nrecs == 0 writes lastOffsetDelta -1 and both
 * timestamps -1 (RecordBatch.NO_TIMESTAMP).  To write the empty batch the
 * log cleaner leaves behind (it keeps lastOffsetDelta and maxTimestamp so
 * that producer state and offsets survive compaction) use
 * MqBatchEncodeEmpty: it writes a 61-byte batch with recordsCount 0 and
 * takes every header field from *hdr as given (Kafka's writeEmptyHeader
 * passes baseTimestamp -1), filling in batch_length, magic and crc.
 */
extern void MqBatchEncodeEmpty(MqBatchHeader *hdr, uint8_t *dst);

/* Rewrite partitionLeaderEpoch in place; also outside the CRC's range. */
extern void MqBatchSetPartitionLeaderEpoch(uint8_t *batch, int32_t epoch);

/*
 * Kafka's DefaultRecordBatch.setMaxTimestamp: set or clear the
 * LogAppendTime attribute bit, store max_timestamp and recompute the CRC.
 * This is what a broker does to stamp LogAppendTime on a batch; records
 * keep their creation-time deltas, which readers then ignore.  Does
 * nothing when len < MQ_BATCH_HEADER_SIZE.
 */
extern void MqBatchSetMaxTimestamp(uint8_t *batch, size_t len,
								   bool log_append_time,
								   int64_t max_timestamp);

/*
 * Decoding.  MqBatchDecodeHeader reads and checks the header (length,
 * magic, and the CRC when verify_crc).  MqBatchCheckHeader is what
 * MqBatchValidate checks before the records: the header with its CRC, no
 * compression, and a record count the bytes can hold.  MqBatchValidate
 * additionally walks every record and checks counts, lengths and trailing
 * bytes; after it returns MQ_CODEC_OK, iteration cannot fail.  (A caller
 * that iterates anyway, to look at each record, can call MqBatchCheckHeader
 * and let the iterator do the rest: the record iterator checks everything
 * MqBatchValidate does, and walking a batch once instead of twice is a
 * fifth of the server's work for a produced batch of small records.)
 * None reads outside [buf, buf + len).
 *
 * Details: buf must hold exactly one batch (batchLength == len - 12, else
 * MQ_CODEC_BAD_LENGTH; len < 61 is MQ_CODEC_TRUNCATED).  Checks run in the
 * order length, magic, CRC, recordsCount >= 0, so a corrupted byte is
 * reported as BAD_CRC rather than as whatever it decodes to.  *hdr is
 * filled whenever len >= 61, even on error, for diagnostics.
 * MqBatchValidate always verifies the CRC, and returns
 * MQ_CODEC_UNSUPPORTED_COMPRESSION for a compressed batch whose header is
 * otherwise fine.  MQ_CODEC_BAD_COUNT also covers a negative or impossible
 * header count inside a record.
 */
extern MqCodecStatus MqBatchDecodeHeader(const uint8_t *buf, size_t len,
										 bool verify_crc, MqBatchHeader *hdr);
extern MqCodecStatus MqBatchCheckHeader(const uint8_t *buf, size_t len,
										MqBatchHeader *hdr);
extern MqCodecStatus MqBatchValidate(const uint8_t *buf, size_t len,
									 MqBatchHeader *hdr);

/* A decoded record; pointers point into the batch. */
typedef struct MqDecodedRecord
{
	int64_t		offset;			/* base_offset + offsetDelta */
	int64_t		timestamp;		/* effective: maxTimestamp for LogAppendTime */
	int8_t		attributes;
	const uint8_t *key;
	int32_t		key_len;		/* -1 = null */
	const uint8_t *value;
	int32_t		value_len;		/* -1 = null */
	int32_t		num_headers;
	const uint8_t *headers;		/* raw header bytes, for MqHeaderIter */
	const uint8_t *headers_end;
} MqDecodedRecord;

typedef struct MqRecordIter
{
	const MqBatchHeader *hdr;
	const uint8_t *pos;
	const uint8_t *end;
	int32_t		remaining;
} MqRecordIter;

/* Start iterating over the records of a batch whose header was decoded. */
extern void MqRecordIterInit(MqRecordIter *it, const uint8_t *buf, size_t len,
							 const MqBatchHeader *hdr);

/*
 * Iterate over a bare records section (the bytes after the 61-byte
 * header), e.g. the inflated payload of a compressed batch.  hdr supplies
 * base_offset, timestamps, attributes and records_count; its compression
 * bits are ignored.
 */
extern void MqRecordIterInitRecords(MqRecordIter *it, const uint8_t *records,
									size_t len, const MqBatchHeader *hdr);

/*
 * Next record.  Returns MQ_CODEC_OK and fills *rec, or sets *done when no
 * record is left; an error status for malformed bytes.
 *
 * Each record is checked completely (its headers included) before it is
 * returned, so the iterator is safe on unvalidated input and MqHeaderIter
 * cannot fail on a record it returned.  After the last record, bytes left
 * over give MQ_CODEC_TRAILING_BYTES instead of *done.  On error the
 * iterator does not advance.  A compressed batch gives
 * MQ_CODEC_UNSUPPORTED_COMPRESSION.
 */
extern MqCodecStatus MqRecordIterNext(MqRecordIter *it, MqDecodedRecord *rec,
									  bool *done);

typedef struct MqHeaderIter
{
	const uint8_t *pos;
	const uint8_t *end;
	int32_t		remaining;
} MqHeaderIter;

extern void MqHeaderIterInit(MqHeaderIter *it, const MqDecodedRecord *rec);
extern MqCodecStatus MqHeaderIterNext(MqHeaderIter *it, MqHeader *h, bool *done);

#endif							/* MQ_RECORD_BATCH_H */
