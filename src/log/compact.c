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
 *    segments, oldest first (of those already cleaned, only their
 *    tombstones: see below), until it holds mqext.compaction_buffer_size
 *    (Kafka's log.cleaner.dedupe.buffer.size): the map stops at the end of
 *    the batch that filled it, and what lies beyond is left for a later
 *    map.  Keys are compared byte for byte (no hash-only matching: a
 *    collision must never cost a record).
 * 2. A record is removable when a newer record of its key is in the map,
 *    or when it is a tombstone (null value), the newest of its key in the
 *    map, in a segment rolled more than delete.retention.ms ago
 *    (mq.segment.rolled_at; not by the record's own timestamp, which the
 *    producer sets: a tombstone stamped an hour back would go at once,
 *    before a consumer that had read the key's older value could see the
 *    delete.  Kafka too counts from cleaning, not from the record.)
 *    Records without a key are kept.  Only what lies below the partition's
 *    LSO counts (Kafka's "first uncleanable offset"), read before the
 *    snapshot as a reader reads it: a record of a transaction still in
 *    flight, even in an older segment, may be the newest of its key once
 *    it commits, so nothing above it may decide (a tombstone removed above
 *    it would bring the key back).  Compaction runs only when the
 *    removable share of the records reaches min.cleanable.dirty.ratio.
 *
 *    A map that stops early is still sound: a record goes only for a
 *    newer one, which stays (or is a tombstone whose older records all go
 *    with it).  For a tombstone that goes, every older record of its key
 *    is in its segment or an older one, since a partition's offsets grow
 *    from one segment to the next (an appender moves on to the newer
 *    segment once anyone appended to its partition there), and those
 *    segments are rewritten first (see 3); the rewrite looks every record
 *    up, so the key's older records where the map did not reach go too.
 * 3. The segments with something to remove are rewritten one per call,
 *    oldest first, never one before an older one is done (a tombstone
 *    must not go while an older value stays), each into a new relation:
 *    a batch keeps its base offset and last offset delta, and its kept
 *    records their offsets; a batch with nothing left stays as an empty
 *    batch, so that the last offset of every partition, which restarts the
 *    offset counter after a crash, survives.  Then, in the same
 *    transaction, the old relation is dropped and the new one takes its
 *    name and its place under the topic (MqSegmentOpen finds it by name).
 *    Waiting for the old one's readers is bounded to a second, and never
 *    queues other readers behind us.
 *
 * The plan.  One segment per call, because the swap's exclusive locks last
 * until the transaction ends; the map, though, is kept between calls (and
 * so between transactions) as a plan: rewriting k of n segments reads the
 * n twice and the k once more, where a map per rewrite read them 2kn
 * times.  The worker calls again, in a transaction of its own, for as long
 * as the plan has segments left (mq._compact_more).  The map stays sound
 * over time: what it decides, it decides from committed records below the
 * LSOs it read, and those only ever gain newer versions.  A segment is
 * done once its relation is the one our swap made (a swap rolled back
 * leaves the old one, so the segment is tried again); one that another
 * backend rewrote, or that is no longer cleanable, ends the plan, and the
 * next call maps afresh.  One plan at a time: a topic that needs a map
 * frees another topic's plan.  A backend other than the worker (a
 * superuser calling mq._compact_topic) keeps its plan until it is done,
 * another topic needs a map, or the session ends.
 *
 * Cleaned segments.  When a plan is carried out (with its last swap), the
 * segments its map read whole hold no key twice below the LSOs it read,
 * and are marked so (mq.segment.cleaned, a prefix of the topic's
 * segments): later maps take only their tombstones and spend the budget on
 * the segments after them, as Kafka's cleaner maps from its checkpoint on.
 * They are still counted and rewritten when the map supersedes something
 * in them.  An append begun before a roll that commits into a cleaned
 * segment later can only leave a key twice there, never bring a deleted
 * one back: a tombstone is mapped wherever it is.
 *
 * Verdicts.  When a topic is not dirty enough, that is remembered too, so
 * that a compacted topic at rest is not read again every round: until its
 * cleanable segments change, the ratio asked for changes, a tombstone's
 * delete.retention.ms runs out, or an append (begun before a roll) goes
 * into one of its cleanable segments, which the partitions' shared state
 * tells (MqPartitionPositions: in which segment offsets were reserved).
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
#include "guc.h"
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

/*
 * What a map found, kept from one call to the next.  Everything lives in
 * cxt; topic, snapshot and horizon_ms are the current call's.
 */
typedef struct CompactPlan
{
	MemoryContext cxt;
	int32		topic_id;
	int			nsegs;			/* segments the map reached, oldest first */
	int			nwhole;			/* of which it read whole */
	int			nclean;			/* of which cleaned before (a prefix) */
	bool	   *seg_above_lso;	/* saw a record at or above an LSO in it */
	int64	   *segment_ids;
	Oid		   *relids;			/* each one's relation when mapped */
	Oid		   *rewritten;		/* and the one our swap gave it */
	int64	   *inactive_ms;	/* when each was rolled (Unix ms) */
	int64	   *seg_removable;
	int			npartitions;
	int64	   *lso;			/* per partition: what lies at or above stays */
	int64	   *end;			/* per partition: the log end, in flight included */
	HTAB	   *newest;
	MemoryContext keys_cxt;		/* the map: what the budget counts */
	int64		budget;
	int64		total;
	int64		removable;
	bool		above_lso;		/* saw a record at or above an LSO */
	bool		appends_in_flight;	/* some into a segment of the plan's */
	int64		tombstones_inactive_ms; /* the oldest roll of a tombstone kept
										 * for delete.retention.ms alone */
	bool		used;			/* by a call since the worker's last round */
	bool		marked;			/* its segments marked cleaned */

	MqTopic    *topic;
	Snapshot	snapshot;
	int64		horizon_ms;		/* tombstones in segments rolled before go */
} CompactPlan;

/* The plan of this backend's last compaction with work left; NULL if none. */
static CompactPlan *current_plan = NULL;

static void plan_free(void);
static bool appended_since(MqPartitionSlot *slot, int64 end, const int64 *segment_ids, int n);

/*
 * "Not dirty enough": the last verdict per topic, and what it was reached
 * on.  Kept in verdict_cxt, a few bytes per cleanable segment.
 */
typedef struct CompactVerdict
{
	int32		topic_id;
	double		ratio;
	int64		budget;
	int64		valid_while_horizon_le;
	int			n;
	int64	   *segment_ids;
	Oid		   *relids;
	int			npartitions;
	int64	   *end;			/* each partition's log end */
} CompactVerdict;

static MemoryContext verdict_cxt = NULL;
static List *verdicts = NIL;

#define MQ_COMPACT_MAX_VERDICTS 1024

/* Call fn for every visible batch of a segment; false if fn stopped it. */
typedef bool (*BatchFn) (CompactPlan *c, int seg, HeapTuple tup, TupleDesc desc,
						 const uint8_t *data, size_t len,
						 const MqBatchHeader *hdr, void *arg);

/* Where a segment is among n segment ids, or -1. */
static int
segment_index(const int64 *segment_ids, int n, int64 segment_id)
{
	for (int i = 0; i < n; i++)
		if (segment_ids[i] == segment_id)
			return i;
	return -1;
}

/*
 * Open a segment of the plan where the topic has it now, under its current
 * relation; false when it is gone.
 */
static bool
open_planned(CompactPlan *c, int seg, MqSegmentRel *s)
{
	int			i = segment_index(c->topic->segment_ids, c->topic->nsegments,
									  c->segment_ids[seg]);

	return i >= 0 && MqSegmentOpen(c->topic, i, AccessShareLock, s, true);
}

/*
 * A segment of the plan's under another relation than the one it mapped:
 * swapped by another compaction, whose rows are invisible to a snapshot
 * older than that swap.  Taking it for empty could let a tombstone go
 * while an older value stays in it: give up (the plan with it).
 */
static void
swapped_under_us(CompactPlan *c, int seg) pg_attribute_noreturn();

static void
swapped_under_us(CompactPlan *c, int seg)
{
	int64		segid = c->segment_ids[seg];
	const char *name = c->topic->name;	/* the metadata cache's, not the plan's */

	if (c == current_plan)
		plan_free();
	ereport(ERROR,
			(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
			 errmsg("segment " INT64_FORMAT " of topic \"%s\" was compacted concurrently", segid, name),
			 errdetail("Compaction retries at its next run.")));
}

static bool
scan_segment(CompactPlan *c, int seg, BatchFn fn, void *arg)
{
	MqSegmentRel s;
	TableScanDesc scan;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		whole = true;
	MemoryContext batch_cxt;

	if (!open_planned(c, seg, &s))
	{
		/* dropped, or swapped twice while we waited for it */
		if (OidIsValid(MqSegmentRelid(c->segment_ids[seg])))
			swapped_under_us(c, seg);
		return true;
	}
	if (RelationGetRelid(s.heap) != c->relids[seg])
		swapped_under_us(c, seg);
	batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "mqext compact batch",
									  ALLOCSET_DEFAULT_SIZES);
	desc = RelationGetDescr(s.heap);
	scan = table_beginscan(s.heap, c->snapshot, 0, NULL);
	while (whole && (tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
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
		whole = fn(c, seg, tup, desc, data, len, &hdr, arg);
		MemoryContextSwitchTo(old);
		MemoryContextReset(batch_cxt);
	}
	table_endscan(scan);
	MqSegmentClose(&s);
	MemoryContextDelete(batch_cxt);
	return whole;
}

/* The next record of a batch, false at its end; error on a corrupt one. */
static bool
next_record(CompactPlan *c, HeapTuple tup, TupleDesc desc, MqRecordIter *it,
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

/* n segment ids as an int8[] Datum, for a query's parameter */
static Datum
segment_id_array(const int64 *segment_ids, int n)
{
	Datum	   *ids = palloc(sizeof(Datum) * n);

	for (int seg = 0; seg < n; seg++)
		ids[seg] = Int64GetDatum(segment_ids[seg]);
	return PointerGetDatum(construct_array(ids, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * The mq.segment rows of the first n segments: when each stopped being the
 * active one (rolled_at, set by the roll; not the next segment's creation
 * time, which an idle topic's housekeeping keeps moving), in Unix
 * milliseconds as a horizon is, returned; and in *nclean how many of them,
 * from the first, are marked cleaned.
 */
static int64 *
segment_rows(MqTopic *topic, int n, int *nclean)
{
	int64	   *out = palloc(sizeof(int64) * n);
	Oid			type = INT8ARRAYOID;
	Datum		arg;
	int			ret;

	arg = segment_id_array(topic->segment_ids, n);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/*
	 * One row per segment, in order; NULL when gone (a drop) or not rolled.
	 * Not read-only: a fresh snapshot sees the cleaned marks this very call
	 * may just have set (plan_mark_clean).
	 */
	ret = SPI_execute_with_args("SELECT s.rolled_at, s.cleaned"
								"  FROM pg_catalog.unnest($1) WITH ORDINALITY u(id, i)"
								"  LEFT JOIN mq.segment s ON s.segment_id OPERATOR(pg_catalog.=) u.id"
								" ORDER BY u.i",
								1, &type, &arg, NULL, false, 0);
	if (ret != SPI_OK_SELECT || SPI_processed != (uint64) n)
		elog(ERROR, "could not read when the segments of topic \"%s\" were rolled", topic->name);
	for (int seg = 0; seg < n; seg++)
	{
		bool		isnull;
		TimestampTz ts = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[seg],
														   SPI_tuptable->tupdesc, 1, &isnull));

		bool		cleaned;

		/* its tombstones stay */
		out[seg] = isnull ? PG_INT64_MAX :
			ts / 1000 + (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000;
		cleaned = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[seg],
											 SPI_tuptable->tupdesc, 2, &isnull));
		if (*nclean == seg && !isnull && cleaned)
			*nclean = seg + 1;
	}
	SPI_finish();
	return out;
}

/*
 * Whether any of a partition's offsets from `from` up to its log end `end`
 * may lie in one of n segments, from where its appends were reserved
 * (MqPartitionPositions): offsets go to segments in order, so those from
 * floor_start on are in the floor segment, and only those below it in
 * older ones.
 */
static bool
offsets_may_lie_in(int64 from, int64 end, int64 floor, int64 floor_start,
				   const int64 *segment_ids, int n)
{
	if (from >= end)
		return false;
	return segment_index(segment_ids, n, floor) >= 0 || from < floor_start;
}

/*
 * Whether a record may count: below its partition's LSO as the plan read
 * it (a partition added since has none).
 */
static inline bool
below_lso(CompactPlan *c, int32 partition, int64 offset)
{
	return partition < c->npartitions && offset < c->lso[partition];
}

/* Pass 1: the newest offset of every key, until the map holds its budget. */
static bool
map_batch(CompactPlan *c, int seg, HeapTuple tup, TupleDesc desc,
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

		if (!below_lso(c, partition, rec.offset))
		{
			c->above_lso = true;
			c->seg_above_lso[seg] = true;
			continue;			/* not cleanable (yet) */
		}
		if (rec.key_len < 0)
			continue;
		/* cleaned: no key twice, so only a tombstone has anything to decide */
		if (seg < c->nclean && rec.value_len >= 0)
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
	return MemoryContextMemAllocated(c->keys_cxt, true) < (Size) c->budget;
}

static bool
removable(CompactPlan *c, int seg, int32 partition, const MqDecodedRecord *rec,
		  bool *kept_tombstone)
{
	KeyRef		k;
	KeyEntry   *e;

	if (rec->key_len < 0 || !below_lso(c, partition, rec->offset))
		return false;
	k.partition = partition;
	k.len = rec->key_len;
	k.bytes = rec->key;
	e = hash_search(c->newest, &k, HASH_FIND, NULL);
	if (e == NULL)
		return false;			/* beyond where the map stopped */
	if (rec->offset < e->newest)
		return true;
	if (rec->value_len >= 0 || rec->offset != e->newest)
		return false;
	if (c->inactive_ms[seg] < c->horizon_ms)
		return true;
	if (kept_tombstone)
		*kept_tombstone = true;
	return false;
}

/* Pass 2: how much would go, per segment. */
static bool
count_batch(CompactPlan *c, int seg, HeapTuple tup, TupleDesc desc,
			const uint8_t *data, size_t len, const MqBatchHeader *hdr, void *arg)
{
	int32		partition = tuple_partition(tup, desc);
	MqDecodedRecord rec;
	MqRecordIter it;

	MqRecordIterInit(&it, data, len, hdr);
	while (next_record(c, tup, desc, &it, &rec))
	{
		bool		kept_tombstone = false;

		if (below_lso(c, partition, rec.offset))
			c->total++;
		if (removable(c, seg, partition, &rec, &kept_tombstone))
		{
			c->removable++;
			c->seg_removable[seg]++;
		}
		else if (kept_tombstone)
			c->tombstones_inactive_ms = Min(c->tombstones_inactive_ms,
											c->inactive_ms[seg]);
	}
	return true;
}

typedef struct Rewriter
{
	Relation	heap;
	Relation	index;
	IndexInfo  *index_info;
	CommandId	cid;
	Oid			newrel;
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
static bool
rewrite_batch(CompactPlan *c, int seg, HeapTuple tup, TupleDesc desc,
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

		if (removable(c, seg, partition, &rec, NULL))
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
	return true;
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
rewrite_segment(CompactPlan *c, int seg, Rewriter *w)
{
	int64		segid = c->segment_ids[seg];
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
	w->newrel = newrel;
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
		{
			const char *name = c->topic->name;

			/* what the map knew of the segment is not all there is now */
			plan_free();
			ereport(ERROR,
					(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
					 errmsg("segment " INT64_FORMAT " of topic \"%s\" received appends while it was compacted",
							segid, name),
					 errdetail("Compaction retries at its next run.")));
		}
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

/* Forget the plan (its map and all). */
static void
plan_free(void)
{
	if (current_plan != NULL)
	{
		MemoryContextDelete(current_plan->cxt);
		current_plan = NULL;
	}
}

#define PLAN_DONE	(-1)
#define PLAN_STALE	(-2)

/*
 * The oldest segment of the plan still to rewrite: one with something to
 * remove, still under the relation the map read.  PLAN_DONE when there is
 * none left; PLAN_STALE when the plan no longer holds: a segment before it
 * was rewritten by someone else, or is no longer among the first n of the
 * topic (not cleanable any more), so that going on could remove a
 * tombstone while an older value of its key stays.  (A dropped segment
 * took all its records with it.)
 */
static int
plan_next(CompactPlan *c, int n)
{
	for (int seg = 0; seg < c->nsegs; seg++)
	{
		Oid			relid;

		if (c->seg_removable[seg] == 0)
			continue;
		relid = MqSegmentRelid(c->segment_ids[seg]);
		if (!OidIsValid(relid) || relid == c->rewritten[seg])
			continue;
		return segment_index(c->topic->segment_ids, n, c->segment_ids[seg]) >= 0 &&
			relid == c->relids[seg] ? seg : PLAN_STALE;
	}
	return PLAN_DONE;
}

/*
 * The plan is carried out: in the segments its map read whole, no key is
 * left twice below the LSOs it read (each was removed for a newer one in
 * the map), so they are marked cleaned, and later maps take only their
 * tombstones (Kafka's cleaner checkpoint).  Not past a segment with a
 * record the map could not count, nor with an append in flight into a
 * segment of the plan's.  (An append begun before a roll that commits
 * into a cleaned segment later can only leave a key twice there, never
 * bring one back: a tombstone is mapped wherever it is.)
 */
static bool
plan_mark_clean(CompactPlan *c)
{
	int			k = 0;
	Datum		arg;
	Oid			type = INT8ARRAYOID;

	if (c->appends_in_flight || c->marked)
		return false;
	while (k < c->nwhole && !c->seg_above_lso[k])
		k++;
	if (k <= c->nclean)
		return false;
	/* nor after an append begun before a roll reserved in one since the map */
	for (int p = 0; p < c->npartitions; p++)
		if (appended_since(MqTopicPartitionSlot(c->topic, p), c->end[p], c->segment_ids, k))
			return false;
	arg = segment_id_array(c->segment_ids, k);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("UPDATE mq.segment s SET cleaned = true"
							  " WHERE s.segment_id OPERATOR(pg_catalog.=) ANY ($1) AND NOT s.cleaned",
							  1, &type, &arg, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not mark the segments of topic \"%s\" cleaned", c->topic->name);
	SPI_finish();
	c->marked = true;
	return true;
}

/*
 * Map the first n segments of a topic and count what would go.  The plan
 * is made in the caller's memory context (a failure leaves nothing
 * behind); its snapshot is registered and the caller's to release.
 */
static CompactPlan *
plan_build(MqTopic *topic, int n, int64 horizon_ms)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "mqext compaction plan",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	CompactPlan *c = palloc0(sizeof(CompactPlan));
	HASHCTL		ctl;

	c->cxt = cxt;
	c->topic = topic;
	c->topic_id = topic->topic_id;
	c->horizon_ms = horizon_ms;
	c->budget = (int64) mq_compaction_buffer_kb * 1024;
	c->tombstones_inactive_ms = PG_INT64_MAX;
	c->segment_ids = palloc(sizeof(int64) * n);
	c->relids = palloc(sizeof(Oid) * n);
	c->rewritten = palloc0(sizeof(Oid) * n);
	for (int seg = 0; seg < n; seg++)
	{
		c->segment_ids[seg] = topic->segment_ids[seg];
		c->relids[seg] = MqSegmentRelid(topic->segment_ids[seg]);
	}
	c->seg_removable = palloc0(sizeof(int64) * n);
	c->seg_above_lso = palloc0(sizeof(bool) * n);
	c->inactive_ms = segment_rows(topic, n, &c->nclean);
	c->keys_cxt = AllocSetContextCreate(cxt, "mqext compaction map", ALLOCSET_DEFAULT_SIZES);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(KeyRef);
	ctl.entrysize = sizeof(KeyEntry);
	ctl.hash = keyref_hash;
	ctl.match = keyref_match;
	ctl.hcxt = c->keys_cxt;
	c->newest = hash_create("mqext compaction map", 64, &ctl,
							HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	/* the LSOs first, then the snapshot: it sees every batch below them */
	c->npartitions = topic->partitions;
	c->lso = palloc(sizeof(int64) * c->npartitions);
	c->end = palloc(sizeof(int64) * c->npartitions);
	for (int p = 0; p < c->npartitions; p++)
	{
		int64		floor;
		int64		floor_start;

		MqPartitionPositions(MqTopicPartitionSlot(topic, p), &c->lso[p], &c->end[p],
							 &floor, &floor_start);
		/*
		 * An append in flight into a segment of the plan's (one begun
		 * before a roll) may change a verdict when it commits: in flight
		 * are the offsets from the LSO on.
		 */
		if (offsets_may_lie_in(c->lso[p], c->end[p], floor, floor_start, c->segment_ids, n))
			c->appends_in_flight = true;
	}
	MemoryContextSwitchTo(old);
	c->snapshot = RegisterSnapshot(GetLatestSnapshot());
	PushActiveSnapshot(c->snapshot);

	for (int seg = 0; seg < n; seg++)
	{
		c->nsegs = seg + 1;
		if (!scan_segment(c, seg, map_batch, NULL))
		{
			ereport(LOG,
					(errmsg("mqext: compaction of topic \"%s\" mapped %d of its %d cleanable segments",
							topic->name, seg, n),
					 errdetail("The map of keys reached mqext.compaction_buffer_size in segment " INT64_FORMAT ".",
							   topic->segment_ids[seg]),
					 errhint("The segments after it are mapped once these are cleaned; a segment whose keys alone do not fit needs a larger mqext.compaction_buffer_size.")));
			break;
		}
		c->nwhole = seg + 1;
	}
	for (int seg = 0; seg < c->nsegs; seg++)
		scan_segment(c, seg, count_batch, NULL);
	PopActiveSnapshot();
	return c;
}

/*
 * Whether a partition had appends into any of the n segments since its
 * log end was end (MqPartitionPositions).
 */
static bool
appended_since(MqPartitionSlot *slot, int64 end, const int64 *segment_ids, int n)
{
	int64		lso;
	int64		now;
	int64		floor;
	int64		floor_start;

	MqPartitionPositions(slot, &lso, &now, &floor, &floor_start);
	return offsets_may_lie_in(end, now, floor, floor_start, segment_ids, n);
}

static CompactVerdict *
verdict_find(int32 topic_id)
{
	ListCell   *lc;

	foreach(lc, verdicts)
	{
		CompactVerdict *v = lfirst(lc);

		if (v->topic_id == topic_id)
			return v;
	}
	return NULL;
}

static void
verdict_forget(int32 topic_id)
{
	CompactVerdict *v = verdict_find(topic_id);

	if (v != NULL)
	{
		verdicts = list_delete_ptr(verdicts, v);
		pfree(v->segment_ids);
		pfree(v->relids);
		pfree(v->end);
		pfree(v);
	}
}

/* Whether a topic was found not dirty enough on what it has now. */
static bool
verdict_holds(MqTopic *topic, int n, int64 horizon_ms, double ratio)
{
	CompactVerdict *v = verdict_find(topic->topic_id);

	if (v == NULL || v->n != n || v->ratio != ratio ||
		v->budget != (int64) mq_compaction_buffer_kb * 1024 ||
		horizon_ms > v->valid_while_horizon_le)
		return false;
	for (int seg = 0; seg < n; seg++)
		if (v->segment_ids[seg] != topic->segment_ids[seg] ||
			v->relids[seg] != MqSegmentRelid(topic->segment_ids[seg]))
			return false;
	/* an append begun before a roll may have committed into one since */
	if (v->npartitions != topic->partitions)
		return false;
	for (int p = 0; p < v->npartitions; p++)
		if (appended_since(MqTopicPartitionSlot(topic, p), v->end[p], v->segment_ids, n))
			return false;
	return true;
}

static void
verdict_note(CompactPlan *c, int n, double ratio)
{
	MemoryContext old;
	CompactVerdict *v;

	if (verdict_cxt == NULL)
		verdict_cxt = AllocSetContextCreate(TopMemoryContext, "mqext compaction verdicts",
											ALLOCSET_SMALL_SIZES);
	verdict_forget(c->topic_id);
	/* topics come and go: a bound rather than bookkeeping of drops */
	if (list_length(verdicts) >= MQ_COMPACT_MAX_VERDICTS)
	{
		MemoryContextReset(verdict_cxt);
		verdicts = NIL;
	}
	old = MemoryContextSwitchTo(verdict_cxt);
	v = palloc(sizeof(CompactVerdict));
	v->topic_id = c->topic_id;
	v->ratio = ratio;
	v->budget = c->budget;
	v->valid_while_horizon_le = c->tombstones_inactive_ms;
	v->n = n;
	v->segment_ids = palloc(sizeof(int64) * n);
	memcpy(v->segment_ids, c->segment_ids, sizeof(int64) * n);
	v->relids = palloc(sizeof(Oid) * n);
	memcpy(v->relids, c->relids, sizeof(Oid) * n);
	v->npartitions = c->npartitions;
	v->end = palloc(sizeof(int64) * c->npartitions);
	memcpy(v->end, c->end, sizeof(int64) * c->npartitions);
	verdicts = lappend(verdicts, v);
	MemoryContextSwitchTo(old);
}

/*
 * Compact a topic: rewrite the oldest segment with something to remove.
 * ncleanable: how many of its oldest segments may be rewritten (the caller
 * applies min.compaction.lag.ms; the active segment is always kept out).
 * Returns the bytes saved, 0 when nothing was rewritten (not dirty enough).
 */
int64
MqCompactTopic(const char *topic_name, int ncleanable, int64 horizon_ms,
			   double min_dirty_ratio)
{
	MqTopic    *topic = MqTopicLookup(topic_name, false);
	int			n = Min(ncleanable, topic->nsegments - 1);
	CompactPlan *c = current_plan;
	int			seg = -1;
	Rewriter	w;

	if (n <= 0)
		return 0;
	if (c != NULL && c->topic_id == topic->topic_id)
	{
		c->topic = topic;
		c->horizon_ms = horizon_ms;
		seg = plan_next(c, n);
		if (seg == PLAN_DONE)
			plan_mark_clean(c);
		if (seg < 0)
			plan_free();
	}
	if (seg >= 0)
	{
		c->used = true;
		c->snapshot = RegisterSnapshot(GetLatestSnapshot());
	}
	else
	{
		if (verdict_holds(topic, n, horizon_ms, min_dirty_ratio))
		{
			elog(DEBUG1, "mqext: topic \"%s\" not compacted: not dirty enough, its %d cleanable segments unchanged",
				 topic->name, n);
			return 0;
		}
		elog(DEBUG1, "mqext: mapping the keys of topic \"%s\" in %d cleanable segments",
			 topic->name, n);
		/* one map at a time: another topic's plan goes */
		plan_free();
		c = plan_build(topic, n, horizon_ms);
		if (c->total == 0 || c->removable == 0 ||
			(double) c->removable / (double) c->total < min_dirty_ratio)
		{
			/*
			 * Nothing to remove: the segments read whole are clean.  A
			 * verdict would keep the next map, which then begins past them,
			 * from being made; nor is one noted while a record in flight
			 * may change it when it commits.
			 */
			if (!(c->removable == 0 && plan_mark_clean(c)) &&
				!c->above_lso && !c->appends_in_flight)
				verdict_note(c, n, min_dirty_ratio);
			UnregisterSnapshot(c->snapshot);
			MemoryContextDelete(c->cxt);
			return 0;
		}
		verdict_forget(topic->topic_id);
		/* kept for the next segments, in the transactions to come */
		MemoryContextSetParent(c->cxt, TopMemoryContext);
		c->used = true;
		current_plan = c;
		seg = plan_next(c, n);
		if (seg < 0)
		{
			/* its segments were dropped or swapped while it was made */
			UnregisterSnapshot(c->snapshot);
			plan_free();
			return 0;
		}
	}

	PushActiveSnapshot(c->snapshot);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	memset(&w, 0, sizeof(w));
	rewrite_segment(c, seg, &w);
	c->rewritten[seg] = w.newrel;
	SPI_finish();
	/* the last one: the marks commit (or roll back) with its swap */
	CommandCounterIncrement();
	if (plan_next(c, n) == PLAN_DONE)
		plan_mark_clean(c);
	PopActiveSnapshot();
	UnregisterSnapshot(c->snapshot);
	c->snapshot = NULL;
	ereport(LOG,
			(errmsg("mqext: compacted segment " INT64_FORMAT " of topic \"%s\": " INT64_FORMAT " records removed, " INT64_FORMAT " bytes of batches saved",
					c->segment_ids[seg], topic->name,
					c->seg_removable[seg], w.bytes_before - w.bytes_after)));
	return w.bytes_before - w.bytes_after;
}

/*
 * Whether this backend's plan for a topic has segments left to rewrite
 * among its first ncleanable ones.
 */
bool
MqCompactPending(const char *topic_name, int ncleanable)
{
	MqTopic    *topic;

	if (current_plan == NULL)
		return false;
	topic = MqTopicLookup(topic_name, true);
	if (topic == NULL || topic->topic_id != current_plan->topic_id)
		return false;
	current_plan->topic = topic;
	return plan_next(current_plan, Min(ncleanable, topic->nsegments - 1)) >= 0;
}

/*
 * The end of a round of the worker's: a plan no call of the round used
 * (its topic dropped, no longer compacted, compaction turned off) is
 * forgotten, its map with it.
 */
void
MqCompactEndRound(void)
{
	if (current_plan != NULL && !current_plan->used)
		plan_free();
	else if (current_plan != NULL)
		current_plan->used = false;
}
