/*-------------------------------------------------------------------------
 *
 * src/catalog/metadata_cache.c
 *	  Backend-local cache of topics, their segments and partitions.
 *
 * The hot paths (produce, fetch) need a topic's id, partition count, a few
 * config values and its segment relations on every call; reading them from
 * the catalog each time would cost more than the append itself.  Entries
 * are loaded on first use and thrown away when the catalog changes:
 * statement triggers on mq.topic, mq.segment and mq.partition send a
 * relcache invalidation for the log root mq_data.log, which every backend
 * receives at its next transaction start or lock acquisition.  The root,
 * not a catalog table: an invalidation of mq.topic would also throw away
 * every cached plan that reads it (this file's own, and those of the
 * PL/pgSQL functions), and a producer would replan after each segment roll
 * or drop; no hot path plans a query on the root.  The callback only marks the
 * cache stale; it is rebuilt at the next MqTopicLookup, so a pointer handed
 * out earlier stays valid until then.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "catalog/pg_authid.h"
#include "miscadmin.h"
#include "utils/snapmgr.h"

#include "catalog/metadata_cache.h"

static MemoryContext cache_cxt = NULL;
static HTAB *topic_cache = NULL;
static bool cache_stale = true;
static Oid	signal_relid = InvalidOid;

static void
mq_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == signal_relid)
		MqMetadataCacheInvalidate();
}

void
MqMetadataCacheInit(void)
{
	CacheRegisterRelcacheCallback(mq_relcache_callback, (Datum) 0);
}

void
MqMetadataCacheInvalidate(void)
{
	cache_stale = true;
}

/* Has the catalog changed since the cache was last rebuilt? */
bool
MqMetadataCacheIsStale(void)
{
	return cache_stale;
}

/* OID of a table in schema mq, or InvalidOid when the extension is absent. */
Oid
MqCatalogRelid(const char *relname)
{
	Oid			nsp = get_namespace_oid(MQ_SCHEMA, true);

	return OidIsValid(nsp) ? get_relname_relid(relname, nsp) : InvalidOid;
}

/*
 * The relation whose relcache invalidation tells backends that the catalog
 * changed (mq_data.log); InvalidOid when the extension is absent.
 */
Oid
MqCacheSignalRelid(void)
{
	Oid			nsp = get_namespace_oid(MQ_DATA_SCHEMA, true);

	return OidIsValid(nsp) ? get_relname_relid("log", nsp) : InvalidOid;
}

static void
cache_reset(void)
{
	HASHCTL		ctl;

	if (cache_cxt == NULL)
		cache_cxt = AllocSetContextCreate(CacheMemoryContext,
										  "mqext topic cache",
										  ALLOCSET_DEFAULT_SIZES);
	else
		MemoryContextReset(cache_cxt);

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = MQ_TOPIC_NAME_MAX + 1;
	ctl.entrysize = sizeof(MqTopic);
	ctl.hcxt = cache_cxt;
	topic_cache = hash_create("mqext topics", 64, &ctl,
							  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	signal_relid = MqCacheSignalRelid();
	cache_stale = false;
}

#define LOAD_TOPIC_SQL \
	"SELECT t.topic_id, t.partitions," \
	"       (c OPERATOR(pg_catalog.->>) 'max.message.bytes')::pg_catalog.int8," \
	"       (c OPERATOR(pg_catalog.->>) 'message.timestamp.type') OPERATOR(pg_catalog.=) 'LogAppendTime'," \
	"       (c OPERATOR(pg_catalog.->>) 'notify')::pg_catalog.bool," \
	"       (c OPERATOR(pg_catalog.->>) 'cleanup.policy') OPERATOR(pg_catalog.~~) 'compact%'," \
	"       ARRAY(SELECT s.segment_id FROM mq.segment s" \
	"              WHERE s.topic_id OPERATOR(pg_catalog.=) t.topic_id ORDER BY s.segment_id)," \
	"       ARRAY(SELECT p.log_start_offset FROM mq.partition p" \
	"              WHERE p.topic_id OPERATOR(pg_catalog.=) t.topic_id ORDER BY p.partition)" \
	"  FROM mq.topic t," \
	"       LATERAL (SELECT mq.default_config() OPERATOR(pg_catalog.||) t.config) AS d(c)" \
	" WHERE t.name OPERATOR(pg_catalog.=) $1"

static SPIPlanPtr load_plan = NULL;

static int64 *
int8_array_copy(Datum d, int *n)
{
	ArrayType  *arr = DatumGetArrayTypeP(d);
	Datum	   *elems;
	bool	   *nulls;
	int64	   *out;

	deconstruct_array(arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &nulls, n);
	out = MemoryContextAlloc(cache_cxt, sizeof(int64) * Max(*n, 1));
	for (int i = 0; i < *n; i++)
		out[i] = DatumGetInt64(elems[i]);
	return out;
}

/*
 * Run mqext's own catalog queries as the bootstrap superuser: a role
 * granted EXECUTE on mq.produce or mq.fetch must not need privileges on
 * the catalog tables (which would let it change them directly).  The
 * queries are fixed and schema-qualified.
 */
void
MqCatalogAccessBegin(MqCatalogAccess *save)
{
	GetUserIdAndSecContext(&save->userid, &save->sec_context);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
						   save->sec_context | SECURITY_LOCAL_USERID_CHANGE);
}

void
MqCatalogAccessEnd(const MqCatalogAccess *save)
{
	SetUserIdAndSecContext(save->userid, save->sec_context);
}

static bool
load_topic(const char *name, MqTopic *t)
{
	Datum		arg = CStringGetTextDatum(name);
	Oid			nsp;
	bool		found = false;
	int			ret;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (load_plan == NULL)
	{
		Oid			argtype = TEXTOID;
		SPIPlanPtr	plan = SPI_prepare(LOAD_TOPIC_SQL, 1, &argtype);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		load_plan = plan;
	}
	/*
	 * Read the catalog as of now, not as of the statement's or the
	 * transaction's snapshot: a producer must see a segment created since
	 * (MqAppenderBegin), whatever its isolation level.
	 */
	ret = SPI_execute_snapshot(load_plan, &arg, NULL, GetLatestSnapshot(),
							   InvalidSnapshot, true, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(ret));

	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int			nparts;

		t->topic_id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		t->partitions = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		t->max_message_bytes = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
		t->log_append_time = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
		t->notify = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));
		t->compacted = DatumGetBool(SPI_getbinval(tup, desc, 6, &isnull));
		t->segment_ids = int8_array_copy(SPI_getbinval(tup, desc, 7, &isnull),
										 &t->nsegments);
		t->log_start = int8_array_copy(SPI_getbinval(tup, desc, 8, &isnull),
									   &nparts);
		if (nparts != t->partitions || t->nsegments < 1)
			elog(ERROR, "catalog of topic \"%s\" is inconsistent", name);

		nsp = get_namespace_oid(MQ_DATA_SCHEMA, false);
		{
			char		relname[NAMEDATALEN];

			snprintf(relname, sizeof(relname), "topic_%d", t->topic_id);
			t->relid = get_relname_relid(relname, nsp);
			if (!OidIsValid(t->relid))
				elog(ERROR, "log relation %s.%s of topic \"%s\" is missing",
					 MQ_DATA_SCHEMA, relname, name);
		}
		t->segment_relids = MemoryContextAlloc(cache_cxt,
											   sizeof(Oid) * t->nsegments);
		for (int i = 0; i < t->nsegments; i++)
		{
			char		relname[NAMEDATALEN];

			snprintf(relname, sizeof(relname), "seg_" INT64_FORMAT,
					 t->segment_ids[i]);
			t->segment_relids[i] = get_relname_relid(relname, nsp);
			if (!OidIsValid(t->segment_relids[i]))
				elog(ERROR, "segment relation %s.%s of topic \"%s\" is missing",
					 MQ_DATA_SCHEMA, relname, name);
		}
		found = true;
	}
	SPI_finish();
	return found;
}

MqTopic *
MqTopicLookup(const char *name, bool missing_ok)
{
	MqTopic    *t;
	bool		found;

	if (strlen(name) > MQ_TOPIC_NAME_MAX)
	{
		if (missing_ok)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("topic \"%s\" does not exist", name)));
	}

	/*
	 * Invalidations are otherwise read only when a lock is first taken: a
	 * transaction that already holds its topics' locks (polls in a loop)
	 * would never learn of a segment rolled since, and would look for
	 * records below the last stable offset in the segments it knows.
	 * Reading them costs a shared counter's check when there are none.
	 */
	AcceptInvalidationMessages();
	if (cache_stale || topic_cache == NULL)
		cache_reset();

	t = hash_search(topic_cache, name, HASH_FIND, &found);
	if (found)
		return t;

	t = hash_search(topic_cache, name, HASH_ENTER, NULL);
	PG_TRY();
	{
		MqCatalogAccess save;

		/* an error restores the user id with the transaction's abort */
		MqCatalogAccessBegin(&save);
		found = load_topic(name, t);
		MqCatalogAccessEnd(&save);
	}
	PG_CATCH();
	{
		hash_search(topic_cache, name, HASH_REMOVE, NULL);
		PG_RE_THROW();
	}
	PG_END_TRY();

	if (!found)
	{
		hash_search(topic_cache, name, HASH_REMOVE, NULL);
		if (missing_ok)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("topic \"%s\" does not exist", name)));
	}
	return t;
}

void
MqCheckPartition(const MqTopic *topic, int32 partition)
{
	if (partition < 0 || partition >= topic->partitions)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("partition %d of topic \"%s\" does not exist", partition,
						topic->name),
				 errdetail("The topic has %d partitions, numbered from 0.",
						   topic->partitions)));
}
