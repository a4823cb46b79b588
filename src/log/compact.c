/*-------------------------------------------------------------------------
 *
 * src/log/compact.c
 *	  Log compaction: keep only the newest record of each key.
 *
 * For topics with cleanup.policy = compact (or compact,delete), the
 * housekeeping worker rewrites the "cleanable" segments: the inactive ones
 * whose newest record is older than min.compaction.lag.ms, oldest first,
 * up to the first that is not.  The active segment is never touched.
 *
 * 1. A map (partition, key) -> newest offset is built over the cleanable
 *    segments.  Keys are compared byte for byte (no hash-only matching: a
 *    collision must never cost a record).
 * 2. A record is removable when a newer record of its key exists in the
 *    cleanable range, or when it is a tombstone (null value) that is the
 *    newest of its key, in a segment rolled more than delete.retention.ms
 *    ago (mq.segment.rolled_at; not by the record's own timestamp, which
 *    the producer sets: a tombstone stamped an hour back would go at once,
 *    before a consumer that had read the key's older value could see the
 *    delete.  Kafka too counts from cleaning, not from the record.)
 *    Records without a key are kept.  Only what lies below the partition's
 *    LSO counts (Kafka's "first uncleanable offset"), read before the
 *    snapshot as a reader reads it: a record of a transaction still in
 *    flight, even in an older segment, may be the newest of its key once
 *    it commits, so nothing above it may decide (a tombstone removed above
 *    it would bring the key back).  Compaction runs only when the
 *    removable share of the cleanable records reaches
 *    min.cleanable.dirty.ratio.
 * 3. The oldest segment with something to remove is rewritten into a new
 *    relation (one per call, so that the swap's locks are held briefly:
 *    the next waits for the next call), batch by batch: a batch keeps its
 *    base offset and last offset delta, and its kept records their
 *    offsets; a batch with
 *    nothing left stays as an empty batch, so that the last offset of every
 *    partition, which restarts the offset counter after a crash, survives.
 *    Then, in the same transaction, the old relation is dropped and the new
 *    one takes its name and its place under the topic (MqSegmentOpen finds
 *    it by name).  Waiting for the old one's readers is bounded to a
 *    second, and never queues other readers behind us.
 *
 * A roll does not wait for the appends in flight in the old active
 * segment, so an inactive segment may still receive the batches of
 * transactions that began before the roll.  Rather than lock producers
 * out, the swap counts the old segment's batches again under its
 * exclusive lock and gives the round up if one arrived since the snapshot.
 * Locks are taken without queueing (MqSegmentLockPolitely), at most a
 * second each.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "catalog/catalog.h"
#include "catalog/metadata_cache.h"
#include "codec/record_batch.h"
#include "log/compact.h"
#include "log/log_read.h"
#include "log/recovery.h"
#include "log/segment.h"
#include "mqext.h"
#include "shmem/partition_state.h"

typedef struct KeyRef
{
	int32		partition;
	int32		len;
	const uint8_t *bytes;
} KeyRef;

typedef struct KeyEntry
{
	KeyRef		key;			/* must be first */
	int64		newest;
} KeyEntry;

static uint32
keyref_hash(const void *key, Size keysize)
{
	const KeyRef *k = (const KeyRef *) key;

	return hash_combine(hash_bytes_uint32((uint32) k->partition),
						hash_bytes(k->bytes, k->len));
}

static int
keyref_match(const void *key1, const void *key2, Size keysize)
{
	const KeyRef *a = (const KeyRef *) key1;
	const KeyRef *b = (const KeyRef *) key2;

	if (a->partition != b->partition || a->len != b->len)
		return 1;
	return memcmp(a->bytes, b->bytes, a->len);
}

typedef struct Compactor
{
	MqTopic    *topic;
	int			ncleanable;		/* segments 0 .. ncleanable-1 */
	int64		horizon_ms;		/* tombstones in segments inactive since before this go */
	int64	   *inactive_ms;	/* per cleanable segment: when it was rolled */
	int64	   *lso;			/* per partition: what lies at or above stays */
	HTAB	   *newest;
	MemoryContext keys_cxt;
	int64		total;
	int64		removable;
	int64	   *seg_removable;	/* per cleanable segment */
	Snapshot	snapshot;
} Compactor;

/* Call fn for every record of every visible batch of a segment. */
typedef void (*BatchFn) (Compactor *c, int seg, HeapTuple tup, TupleDesc desc,
						 const uint8_t *data, size_t len,
						 const MqBatchHeader *hdr, void *arg);

static void
scan_segment(Compactor *c, int seg, BatchFn fn, void *arg)
{
	MqSegmentRel s;
	TableScanDesc scan;
	HeapTuple	tup;
	TupleDesc	desc;
	MemoryContext batch_cxt = AllocSetContextCreate(CurrentMemoryContext,
													"mqext compact batch",
													ALLOCSET_DEFAULT_SIZES);

	if (!MqSegmentOpen(c->topic, seg, AccessShareLock, &s, true))
		return;
	desc = RelationGetDescr(s.heap);
	scan = table_beginscan(s.heap, c->snapshot, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(batch_cxt);
		bool		isnull;
		bytea	   *raw = DatumGetByteaPP(heap_getattr(tup, Anum_mq_log_batch, desc, &isnull));
		const uint8_t *data = (const uint8_t *) VARDATA_ANY(raw);
		size_t		len = VARSIZE_ANY_EXHDR(raw);
		MqBatchHeader hdr;
		MqCodecStatus st = MqBatchDecodeHeader(data, len, false, &hdr);

		if (st != MQ_CODEC_OK)
			MqCodecError(st, c->topic,
						 DatumGetInt32(heap_getattr(tup, Anum_mq_log_partition, desc, &isnull)),
						 DatumGetInt64(heap_getattr(tup, Anum_mq_log_base_offset, desc, &isnull)));
		fn(c, seg, tup, desc, data, len, &hdr, arg);
		MemoryContextSwitchTo(old);
		MemoryContextReset(batch_cxt);
	}
	table_endscan(scan);
	MqSegmentClose(&s);
	MemoryContextDelete(batch_cxt);
}

/* The next record of a batch, false at its end; error on a corrupt one. */
static bool
next_record(Compactor *c, HeapTuple tup, TupleDesc desc, MqRecordIter *it,
			MqDecodedRecord *rec)
{
	bool		done;
	MqCodecStatus st = MqRecordIterNext(it, rec, &done);

	if (st != MQ_CODEC_OK)
	{
		bool		isnull;

		MqCodecError(st, c->topic,
					 DatumGetInt32(heap_getattr(tup, Anum_mq_log_partition, desc, &isnull)),
					 DatumGetInt64(heap_getattr(tup, Anum_mq_log_base_offset, desc, &isnull)));
	}
	return !done;
}

static int32
tuple_partition(HeapTuple tup, TupleDesc desc)
{
	bool		isnull;

	return DatumGetInt32(heap_getattr(tup, Anum_mq_log_partition, desc, &isnull));
}

/*
 * When each of the first n segments stopped being the active one
 * (mq.segment.rolled_at, set by the roll; not the next segment's creation
 * time, which an idle topic's housekeeping keeps moving), in Unix
 * milliseconds as a horizon is.
 */
static int64 *
segments_rolled_at(MqTopic *topic, int n)
{
	int64	   *out = palloc(sizeof(int64) * n);
	Datum	   *ids = palloc(sizeof(Datum) * n);
	Oid			type = INT8ARRAYOID;
	Datum		arg;
	int			ret;

	for (int seg = 0; seg < n; seg++)
		ids[seg] = Int64GetDatum(topic->segment_ids[seg]);
	arg = PointerGetDatum(construct_array(ids, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* one row per segment, in order; NULL when gone (a drop) or not rolled */
	ret = SPI_execute_with_args("SELECT s.rolled_at"
								"  FROM pg_catalog.unnest($1) WITH ORDINALITY u(id, i)"
								"  LEFT JOIN mq.segment s ON s.segment_id OPERATOR(pg_catalog.=) u.id"
								" ORDER BY u.i",
								1, &type, &arg, NULL, true, 0);
	if (ret != SPI_OK_SELECT || SPI_processed != (uint64) n)
		elog(ERROR, "could not read when the segments of topic \"%s\" were rolled", topic->name);
	for (int seg = 0; seg < n; seg++)
	{
		bool		isnull;
		TimestampTz ts = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[seg],
														   SPI_tuptable->tupdesc, 1, &isnull));

		/* its tombstones stay */
		out[seg] = isnull ? PG_INT64_MAX :
			ts / 1000 + (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000;
	}
	SPI_finish();
	return out;
}

/* Pass 1: the newest offset of every key. */
static void
map_batch(Compactor *c, int seg, HeapTuple tup, TupleDesc desc,
		  const uint8_t *data, size_t len, const MqBatchHeader *hdr, void *arg)
{
	int32		partition = tuple_partition(tup, desc);
	MqDecodedRecord rec;
	MqRecordIter it;

	MqRecordIterInit(&it, data, len, hdr);
	while (next_record(c, tup, desc, &it, &rec))
	{
		KeyRef		k;
		KeyEntry   *e;
		bool		found;

		if (rec.offset >= c->lso[partition])
			continue;			/* not cleanable (yet) */
		c->total++;
		if (rec.key_len < 0)
			continue;
		k.partition = partition;
		k.len = rec.key_len;
		k.bytes = rec.key;
		e = hash_search(c->newest, &k, HASH_ENTER, &found);
		if (!found)
		{
			uint8_t    *copy = MemoryContextAlloc(c->keys_cxt, Max(k.len, 1));

			memcpy(copy, k.bytes, k.len);
			e->key.bytes = copy;
			e->newest = rec.offset;
		}
		else if (rec.offset > e->newest)
			e->newest = rec.offset;
	}
}

static bool
removable(Compactor *c, int seg, int32 partition, const MqDecodedRecord *rec)
{
	KeyRef		k;
	KeyEntry   *e;

	if (rec->key_len < 0 || rec->offset >= c->lso[partition])
		return false;
	k.partition = partition;
	k.len = rec->key_len;
	k.bytes = rec->key;
	e = hash_search(c->newest, &k, HASH_FIND, NULL);
	if (e == NULL)
		return false;			/* cannot happen: pass 1 saw it */
	if (rec->offset < e->newest)
		return true;
	return rec->value_len < 0 && c->inactive_ms[seg] < c->horizon_ms;
}

/* Pass 2: how much would go, per segment. */
static void
count_batch(Compactor *c, int seg, HeapTuple tup, TupleDesc desc,
			const uint8_t *data, size_t len, const MqBatchHeader *hdr, void *arg)
{
	int32		partition = tuple_partition(tup, desc);
	MqDecodedRecord rec;
	MqRecordIter it;

	MqRecordIterInit(&it, data, len, hdr);
	while (next_record(c, tup, desc, &it, &rec))
	{
		if (removable(c, seg, partition, &rec))
		{
			c->removable++;
			c->seg_removable[seg]++;
		}
	}
}

typedef struct Rewriter
{
	Relation	heap;
	Relation	index;
	IndexInfo  *index_info;
	CommandId	cid;
	int64		batches;		/* batches of the old segment read */
	int64		bytes_before;
	int64		bytes_after;
} Rewriter;

static void
insert_row(Rewriter *w, HeapTuple tup)
{
	Datum		ivalues[INDEX_MAX_KEYS];
	bool		inulls[INDEX_MAX_KEYS] = {0};
	bool		isnull;
	TupleDesc	desc = RelationGetDescr(w->heap);

	heap_insert(w->heap, tup, w->cid, 0, NULL);
	ivalues[Anum_mq_log_idx_partition - 1] = heap_getattr(tup, Anum_mq_log_partition, desc, &isnull);
	ivalues[Anum_mq_log_idx_last_offset - 1] = heap_getattr(tup, Anum_mq_log_last_offset, desc, &isnull);
	index_insert(w->index, ivalues, inulls, &tup->t_self, w->heap,
				 UNIQUE_CHECK_NO, false, w->index_info);
}

/* Pass 3: copy a segment's batches, keeping only what stays. */
static void
rewrite_batch(Compactor *c, int seg, HeapTuple tup, TupleDesc desc,
			  const uint8_t *data, size_t len, const MqBatchHeader *hdr, void *arg)
{
	Rewriter   *w = (Rewriter *) arg;
	int32		partition = tuple_partition(tup, desc);
	MqDecodedRecord rec;
	MqRecord   *kept = palloc(sizeof(MqRecord) * Max(hdr->records_count, 1));
	int32	   *deltas = palloc(sizeof(int32) * Max(hdr->records_count, 1));
	int			nkept = 0;
	Datum		values[Natts_mq_log];
	bool		nulls[Natts_mq_log];
	HeapTuple	newtup;
	MqRecordIter it;

	w->batches++;
	w->bytes_before += len;
	MqRecordIterInit(&it, data, len, hdr);
	while (next_record(c, tup, desc, &it, &rec))
	{
		MqHeaderIter hit;
		MqHeader	h;
		MqHeader   *hdrs;
		bool		hdone;
		int			nh = 0;

		if (removable(c, seg, partition, &rec))
			continue;
		hdrs = palloc(sizeof(MqHeader) * Max(rec.num_headers, 1));
		MqHeaderIterInit(&hit, &rec);
		while (MqHeaderIterNext(&hit, &h, &hdone) == MQ_CODEC_OK && !hdone)
			hdrs[nh++] = h;
		kept[nkept].timestamp = rec.timestamp;
		kept[nkept].key = rec.key;
		kept[nkept].key_len = rec.key_len;
		kept[nkept].value = rec.value;
		kept[nkept].value_len = rec.value_len;
		kept[nkept].num_headers = nh;
		kept[nkept].headers = hdrs;
		deltas[nkept] = (int32) (rec.offset - hdr->base_offset);
		nkept++;
	}

	heap_deform_tuple(tup, desc, values, nulls);
	if (nkept < hdr->records_count)
	{
		MqBatchHeader nh = *hdr;
		size_t		size = MqBatchEncodedSizeKept(kept, deltas, nkept);
		bytea	   *b = palloc(VARHDRSZ + size);

		SET_VARSIZE(b, VARHDRSZ + size);
		MqBatchEncodeKept(&nh, kept, deltas, nkept, (uint8_t *) VARDATA(b));
		values[Anum_mq_log_batch - 1] = PointerGetDatum(b);
		values[Anum_mq_log_record_count - 1] = Int32GetDatum(nkept);
		w->bytes_after += size;
	}
	else
	{
		/* untouched: copy the (detoasted) bytes as they are */
		bytea	   *b = palloc(VARHDRSZ + len);

		SET_VARSIZE(b, VARHDRSZ + len);
		memcpy(VARDATA(b), data, len);
		values[Anum_mq_log_batch - 1] = PointerGetDatum(b);
		w->bytes_after += len;
	}
	newtup = heap_form_tuple(RelationGetDescr(w->heap), values, nulls);
	insert_row(w, newtup);
}

static void
spi_exec(const char *sql)
{
	int			ret = SPI_execute(sql, false, 0);

	if (ret < 0)
		elog(ERROR, "SPI_execute failed (%s): %s", SPI_result_code_string(ret), sql);
}

/* Rewrite segment seg into a new relation and swap it in. */
static void
rewrite_segment(Compactor *c, int seg, Rewriter *w)
{
	int64		segid = c->topic->segment_ids[seg];
	char		sql[512];
	Oid			newrel;
	List	   *indexes;

	snprintf(sql, sizeof(sql),
			 "CREATE TABLE mq_data.seg_" INT64_FORMAT "_compacting "
			 "(LIKE mq_data.log INCLUDING DEFAULTS INCLUDING STORAGE); "
			 "CREATE INDEX ON mq_data.seg_" INT64_FORMAT "_compacting (partition, last_offset)",
			 segid, segid);
	spi_exec(sql);
	CommandCounterIncrement();

	snprintf(sql, sizeof(sql), "seg_" INT64_FORMAT "_compacting", segid);
	newrel = get_relname_relid(sql, get_namespace_oid(MQ_DATA_SCHEMA, false));
	w->heap = table_open(newrel, AccessExclusiveLock);
	indexes = RelationGetIndexList(w->heap);
	w->index = index_open(linitial_oid(indexes), AccessExclusiveLock);
	w->index_info = BuildIndexInfo(w->index);
	w->cid = GetCurrentCommandId(true);

	scan_segment(c, seg, rewrite_batch, w);

	index_close(w->index, NoLock);
	table_close(w->heap, NoLock);
	CommandCounterIncrement();

	/*
	 * swap: the old relation goes, the new one takes its name and place.
	 * Dropping a partition locks its parent, the topic's log, too: take
	 * that first, as readers take the two, and without queueing them.
	 */
	MqSegmentLockPolitely(c->topic->relid, AccessExclusiveLock, 1000);
	MqSegmentLockPolitely(MqSegmentRelid(segid), AccessExclusiveLock, 1000);

	/*
	 * A roll does not wait for the appends in flight in the old active
	 * segment, so one may have committed into this segment after our
	 * snapshot: then what we wrote is not all there is, and the segment
	 * waits for the next run (a fresh snapshot: the worker runs in READ
	 * COMMITTED).
	 */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM mq_data.seg_" INT64_FORMAT, segid);
	spi_exec(sql);
	{
		bool		isnull;
		int64		now = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
													  SPI_tuptable->tupdesc, 1, &isnull));

		if (now != w->batches)
			ereport(ERROR,
					(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
					 errmsg("segment " INT64_FORMAT " of topic \"%s\" received appends while it was compacted",
							segid, c->topic->name),
					 errdetail("Compaction retries at its next run.")));
	}
	snprintf(sql, sizeof(sql),
			 "DROP TABLE mq_data.seg_" INT64_FORMAT "; "
			 "ALTER TABLE mq_data.seg_" INT64_FORMAT "_compacting RENAME TO seg_" INT64_FORMAT "; "
			 "ALTER TABLE mq_data.topic_%d ATTACH PARTITION mq_data.seg_" INT64_FORMAT
			 " FOR VALUES IN (" INT64_FORMAT "); "
			 "UPDATE mq.segment SET created_at = created_at WHERE segment_id = " INT64_FORMAT,
			 segid, segid, segid, c->topic->topic_id, segid, segid, segid);
	spi_exec(sql);
}

/*
 * Compact a topic.  ncleanable: how many of its oldest segments may be
 * rewritten (the caller applies min.compaction.lag.ms and keeps the active
 * segment out).  Returns the bytes saved, 0 when below min_dirty_ratio.
 */
int64
MqCompactTopic(const char *topic_name, int ncleanable, int64 horizon_ms,
			   double min_dirty_ratio)
{
	Compactor	c;
	HASHCTL		ctl;
	int64		saved = 0;

	memset(&c, 0, sizeof(c));
	c.topic = MqTopicLookup(topic_name, false);
	c.ncleanable = Min(ncleanable, c.topic->nsegments - 1);
	if (c.ncleanable <= 0)
		return 0;
	c.horizon_ms = horizon_ms;
	c.seg_removable = palloc0(sizeof(int64) * c.ncleanable);
	c.inactive_ms = segments_rolled_at(c.topic, c.ncleanable);
	c.keys_cxt = AllocSetContextCreate(CurrentMemoryContext, "mqext compact keys",
									   ALLOCSET_DEFAULT_SIZES);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(KeyRef);
	ctl.entrysize = sizeof(KeyEntry);
	ctl.hash = keyref_hash;
	ctl.match = keyref_match;
	ctl.hcxt = c.keys_cxt;
	c.newest = hash_create("mqext compact map", 1024, &ctl,
						   HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	/* the LSOs first, then the snapshot: it sees every batch below them */
	c.lso = palloc(sizeof(int64) * c.topic->partitions);
	for (int p = 0; p < c.topic->partitions; p++)
		c.lso[p] = MqPartitionLastStable(MqTopicPartitionSlot(c.topic, p));
	c.snapshot = RegisterSnapshot(GetLatestSnapshot());
	PushActiveSnapshot(c.snapshot);

	for (int seg = 0; seg < c.ncleanable; seg++)
		scan_segment(&c, seg, map_batch, NULL);
	for (int seg = 0; seg < c.ncleanable; seg++)
		scan_segment(&c, seg, count_batch, NULL);

	if (c.total > 0 && c.removable > 0 &&
		(double) c.removable / (double) c.total >= min_dirty_ratio)
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		for (int seg = 0; seg < c.ncleanable; seg++)
		{
			Rewriter	w;

			if (c.seg_removable[seg] == 0)
				continue;
			memset(&w, 0, sizeof(w));
			rewrite_segment(&c, seg, &w);
			saved += w.bytes_before - w.bytes_after;
			ereport(LOG,
					(errmsg("mqext: compacted segment " INT64_FORMAT " of topic \"%s\": " INT64_FORMAT " records removed, " INT64_FORMAT " bytes of batches saved",
							c.topic->segment_ids[seg], c.topic->name,
							c.seg_removable[seg], w.bytes_before - w.bytes_after)));

			/*
			 * One segment per call: the swap's exclusive locks on the old and
			 * new relation (and the topic's log) last until the transaction
			 * ends, and every reader of the topic opens its segments oldest
			 * first.  Rewriting the next one under them would hold all the
			 * topic's readers for as long; the worker's next round (a new
			 * transaction) takes the next segment.
			 */
			break;
		}
		SPI_finish();
	}

	PopActiveSnapshot();
	UnregisterSnapshot(c.snapshot);
	MemoryContextDelete(c.keys_cxt);
	return saved;
}
