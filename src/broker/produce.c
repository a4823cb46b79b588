/*-------------------------------------------------------------------------
 *
 * src/broker/produce.c
 *	  The producer path: partition choice, batching, idempotence, append.
 *
 * One call appends one record batch per partition it touches.  Every
 * check that depends on the arguments (partition range, record size,
 * producer sequence) runs before the first append, so a bad call writes
 * nothing; an error after that aborts the transaction, which discards
 * what was written.
 *
 * Partitioning follows Kafka's Java client: an explicit partition wins; a
 * key goes to toPositive(murmur2(key)) % partitions; records without a key
 * stick to one partition per call, the next call moving on to the next
 * partition (the sticky partitioner of KIP-480, with a call as the batch).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/pg_prng.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "broker/produce.h"
#include "catalog/metadata_cache.h"
#include "codec/murmur2.h"
#include "log/log_append.h"
#include "mqext.h"

static uint32 sticky_next = 0;
static bool sticky_seeded = false;

static int32
sticky_partition(int32 partitions)
{
	if (!sticky_seeded)
	{
		sticky_next = pg_prng_uint32(&pg_global_prng_state);
		sticky_seeded = true;
	}
	return (int32) (sticky_next++ % (uint32) partitions);
}

/*
 * Compaction keeps the newest record of each key: a record without a key
 * would stay for ever.  Kafka refuses it too (INVALID_RECORD).
 */
void
MqRefuseKeylessRecord(const MqTopic *topic)
{
	ereport(ERROR,
			(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
			 errmsg("a record of compacted topic \"%s\" must have a key", topic->name),
			 errdetail("Compaction keeps the newest record of each key; a record without a key would never go.")));
}

static void
check_record_size(const MqTopic *topic, const MqRecord *rec)
{
	size_t		size = MQ_BATCH_HEADER_SIZE + MqRecordEncodedSize(rec, 0, 0);

	if (size > (size_t) topic->max_message_bytes)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("record of %zu bytes is larger than max.message.bytes of topic \"%s\"",
						size, topic->name),
				 errdetail("The topic accepts records of at most " INT64_FORMAT " bytes, batch overhead included.",
						   topic->max_message_bytes),
				 errhint("Raise it with mq.alter_topic('%s', '{\"max.message.bytes\": %zu}').",
						 topic->name, size)));
}

void
MqProduce(const char *topic_name, const MqProduceRecord *recs, int nrecs,
		  int32 partition, const MqProducerArgs *producer,
		  MqProduceResult *results)
{
	MqTopic    *topic;
	int32	   *part = palloc(sizeof(int32) * nrecs);
	MqRecord   *wire = palloc(sizeof(MqRecord) * nrecs);
	int32	   *order = palloc(sizeof(int32) * nrecs);
	int32		sticky = -1;
	TimestampTz now = GetCurrentTimestamp();
	int64		now_ms = MqTimestamptzToMs(now);
	MqAppender	app;
	int32	   *rank;			/* partition -> rank of first appearance, or -1 */
	int32	   *ranked;			/* rank -> partition */
	int32	   *start;			/* rank -> first position in order[] */
	int32		nranked = 0;

	topic = MqAppenderBegin(&app, topic_name);
	if (partition >= 0)
		MqCheckPartition(topic, partition);

	/* choose partitions and timestamps; check sizes */
	for (int i = 0; i < nrecs; i++)
	{
		const MqProduceRecord *r = &recs[i];

		if (topic->compacted && r->key_len < 0)
			MqRefuseKeylessRecord(topic);
		if (partition >= 0)
			part[i] = partition;
		else if (r->key_len >= 0)
			part[i] = MqPartitionForKey(r->key, r->key_len, topic->partitions);
		else
		{
			if (sticky < 0)
				sticky = sticky_partition(topic->partitions);
			part[i] = sticky;
		}

		wire[i].timestamp = (!topic->log_append_time && r->has_ts) ?
			MqTimestamptzToMs(r->ts) : now_ms;
		wire[i].key = r->key;
		wire[i].key_len = r->key_len;
		wire[i].value = r->value;
		wire[i].value_len = r->value_len;
		wire[i].headers = r->headers;
		wire[i].num_headers = r->num_headers;
		check_record_size(topic, &wire[i]);
	}

	if (producer != NULL)
	{
		for (int i = 1; i < nrecs; i++)
			if (part[i] != part[0])
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("an idempotent produce call must write to a single partition"),
						 errdetail("Sequence numbers are per partition."),
						 errhint("Pass partition, or one call per partition.")));
		if (nrecs > 0)
		{
			int64		base;
			TimestampTz first_ts;

			if (MqIdempotenceCheck(producer, topic->topic_id, part[0], nrecs,
								   &base, &first_ts))
			{
				/* a retry of a batch we have: answer with its offsets */
				for (int i = 0; i < nrecs; i++)
				{
					results[i].partition = part[0];
					results[i].offset = base + i;
					results[i].ts = first_ts;
				}
				MqAppenderEnd(&app);
				return;
			}
		}
	}

	/*
	 * Append one batch per partition, partitions in order of first
	 * appearance, records in input order within each: a counting sort of
	 * the records by their partition's rank (linear, where scanning the
	 * records once per partition was records x partitions).
	 */
	rank = palloc(sizeof(int32) * topic->partitions);
	memset(rank, -1, sizeof(int32) * topic->partitions);
	ranked = palloc(sizeof(int32) * Min(nrecs, topic->partitions));
	start = palloc0(sizeof(int32) * (Min(nrecs, topic->partitions) + 1));
	for (int i = 0; i < nrecs; i++)
	{
		if (rank[part[i]] < 0)
		{
			rank[part[i]] = nranked;
			ranked[nranked++] = part[i];
		}
		start[rank[part[i]] + 1]++;
	}
	for (int k = 0; k < nranked; k++)
		start[k + 1] += start[k];
	{
		int32	   *fill = palloc0(sizeof(int32) * Max(nranked, 1));

		for (int i = 0; i < nrecs; i++)
		{
			int32		k = rank[part[i]];

			order[start[k] + fill[k]++] = i;
		}
		pfree(fill);
	}

	for (int k = 0; k < nranked; k++)
	{
		int32		p = ranked[k];
		int			n = start[k + 1] - start[k];
		const int32 *idx = order + start[k];
		MqRecord   *batch_recs;
		MqBatchHeader hdr;
		size_t		size;
		bytea	   *batch;
		int64		base;

		CHECK_FOR_INTERRUPTS();
		batch_recs = palloc(sizeof(MqRecord) * n);
		for (int j = 0; j < n; j++)
			batch_recs[j] = wire[idx[j]];
		size = MqBatchEncodedSize(batch_recs, n);
		if (size > MaxAllocSize - VARHDRSZ)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("record batch of %zu bytes for partition %d of topic \"%s\" is too large",
							size, p, topic->name),
					 errhint("Produce fewer records per call.")));
		batch = palloc(VARHDRSZ + size);
		SET_VARSIZE(batch, VARHDRSZ + size);

		memset(&hdr, 0, sizeof(hdr));
		hdr.partition_leader_epoch = 0;
		hdr.attributes = topic->log_append_time ? MQ_BATCH_LOG_APPEND_TIME : 0;
		hdr.producer_id = producer ? producer->producer_id : -1;
		hdr.producer_epoch = producer ? (int16) producer->epoch : -1;
		hdr.base_sequence = producer ? producer->sequence : -1;
		MqBatchEncode(&hdr, batch_recs, n, (uint8_t *) VARDATA(batch));

		base = MqAppend(&app, p, batch, &hdr);
		if (producer != NULL)
			MqIdempotenceRecord(producer, topic->topic_id, p, n, base,
								MqMsToTimestamptz(batch_recs[0].timestamp));

		for (int j = 0; j < n; j++)
		{
			results[idx[j]].partition = p;
			results[idx[j]].offset = base + j;
			results[idx[j]].ts = MqMsToTimestamptz(batch_recs[j].timestamp);
		}
		pfree(batch);
		pfree(batch_recs);
	}
	MqAppenderEnd(&app);
}
