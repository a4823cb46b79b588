/*-------------------------------------------------------------------------
 *
 * src/api/produce_funcs.c
 *	  SQL entry points of the producer: mq.produce, mq.produce_batch,
 *	  mq.produce_encoded, mq.partition_for.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "broker/headers.h"
#include "broker/idempotence.h"
#include "broker/produce.h"
#include "broker/produce_encoded.h"
#include "codec/murmur2.h"
#include "shmem/shmem.h"

PG_FUNCTION_INFO_V1(mq_produce);
PG_FUNCTION_INFO_V1(mq_produce_text);
PG_FUNCTION_INFO_V1(mq_produce_jsonb);
PG_FUNCTION_INFO_V1(mq_produce_batch);
PG_FUNCTION_INFO_V1(mq_produce_batch_text);
PG_FUNCTION_INFO_V1(mq_produce_encoded);
PG_FUNCTION_INFO_V1(mq_partition_for);
PG_FUNCTION_INFO_V1(mq_init_producer);

/* mq.init_producer(transactional_id text DEFAULT NULL) -> (producer_id, epoch) */
Datum
mq_init_producer(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		producer_id;
	int32		epoch;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (XactReadOnly)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot execute %s in a read-only transaction", "mq.init_producer()")));
	MqInitProducer(PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)),
				   &producer_id, &epoch);
	InitMaterializedSRF(fcinfo, 0);
	values[0] = Int64GetDatum(producer_id);
	values[1] = Int32GetDatum(epoch);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

typedef enum PayloadKind
{
	PAYLOAD_BYTEA,
	PAYLOAD_TEXT,
	PAYLOAD_JSONB
} PayloadKind;

static char *
topic_arg(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("topic must not be null")));
	return text_to_cstring(PG_GETARG_TEXT_PP(0));
}

/* Point p and len at the bytes of a key or value; text is stored as UTF-8. */
static void
payload(Datum d, bool isnull, PayloadKind kind, const uint8_t **p, int32 *len)
{
	if (isnull)
	{
		*p = NULL;
		*len = -1;
		return;
	}
	if (kind == PAYLOAD_JSONB)
	{
		char	   *s = JsonbToCString(NULL, &DatumGetJsonbP(d)->root, -1);

		d = CStringGetTextDatum(s);
		kind = PAYLOAD_TEXT;
	}
	{
		struct varlena *v = PG_DETOAST_DATUM_PACKED(d);
		const char *data = VARDATA_ANY(v);
		int			n = VARSIZE_ANY_EXHDR(v);

		if (kind == PAYLOAD_TEXT && GetDatabaseEncoding() != PG_UTF8)
		{
			/*
			 * A converted string is a new, terminated one; but an empty
			 * string, or any under SQL_ASCII, comes back as it was given:
			 * not terminated, and its length is still n.
			 */
			const char *utf8 = pg_server_to_any(data, n, PG_UTF8);

			if (utf8 != data)
			{
				data = utf8;
				n = strlen(utf8);
			}
		}
		*p = (const uint8_t *) data;
		*len = n;
	}
}

/* producer_id, epoch, sequence: all or none */
static MqProducerArgs *
producer_args(FunctionCallInfo fcinfo, int first, MqProducerArgs *out)
{
	bool		id_null = PG_ARGISNULL(first);
	bool		epoch_null = PG_ARGISNULL(first + 1);
	bool		seq_null = PG_ARGISNULL(first + 2);

	if (id_null && epoch_null && seq_null)
		return NULL;
	if (id_null || epoch_null || seq_null)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("producer_id, epoch and sequence must be given together"),
				 errhint("Get a producer id and epoch from mq.init_producer().")));
	out->producer_id = PG_GETARG_INT64(first);
	out->epoch = PG_GETARG_INT32(first + 1);
	out->sequence = PG_GETARG_INT32(first + 2);
	/* a batch carries the epoch in 16 bits */
	if (out->epoch < 0 || out->epoch > PG_INT16_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("epoch %d is out of range", out->epoch),
				 errdetail("Epochs run from 0 to %d.", PG_INT16_MAX)));
	return out;
}

static int32
partition_arg(FunctionCallInfo fcinfo, int argno)
{
	int32		p;

	if (PG_ARGISNULL(argno))
		return -1;
	p = PG_GETARG_INT32(argno);
	if (p < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("partition must not be negative")));
	return p;
}

/* mq.produce(topic, value, key, headers, partition, ts, producer_id, epoch, sequence) */
static Datum
produce_one(FunctionCallInfo fcinfo, PayloadKind kind)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *topic = topic_arg(fcinfo);
	MqProduceRecord rec;
	MqProduceResult res;
	MqProducerArgs pargs;
	Datum		values[3];
	bool		nulls[3] = {0};

	MqRequirePreload();
	payload(PG_GETARG_DATUM(1), PG_ARGISNULL(1), kind, &rec.value, &rec.value_len);
	payload(PG_GETARG_DATUM(2), PG_ARGISNULL(2),
			kind == PAYLOAD_BYTEA ? PAYLOAD_BYTEA : PAYLOAD_TEXT,
			&rec.key, &rec.key_len);
	rec.headers = NULL;
	rec.num_headers = 0;
	if (!PG_ARGISNULL(3))
		rec.headers = MqHeadersFromJsonb(PG_GETARG_JSONB_P(3), &rec.num_headers);
	rec.has_ts = !PG_ARGISNULL(5);
	rec.ts = rec.has_ts ? PG_GETARG_TIMESTAMPTZ(5) : 0;
	if (rec.has_ts && TIMESTAMP_NOT_FINITE(rec.ts))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("a record's timestamp must be finite")));

	MqProduce(topic, &rec, 1, partition_arg(fcinfo, 4),
			  producer_args(fcinfo, 6, &pargs), &res);

	InitMaterializedSRF(fcinfo, 0);
	values[0] = Int32GetDatum(res.partition);
	values[1] = Int64GetDatum(res.offset);
	values[2] = TimestampTzGetDatum(res.ts);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

Datum
mq_produce(PG_FUNCTION_ARGS)
{
	return produce_one(fcinfo, PAYLOAD_BYTEA);
}

Datum
mq_produce_text(PG_FUNCTION_ARGS)
{
	return produce_one(fcinfo, PAYLOAD_TEXT);
}

Datum
mq_produce_jsonb(PG_FUNCTION_ARGS)
{
	return produce_one(fcinfo, PAYLOAD_JSONB);
}

static void
array_arg(FunctionCallInfo fcinfo, int argno, Oid elemtype, Datum **elems,
		  bool **nulls, int *n, const char *what)
{
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(argno);
	int16		typlen;
	bool		typbyval;
	char		typalign;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a one-dimensional array", what)));
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(arr, elemtype, typlen, typbyval, typalign, elems, nulls, n);
}

/* mq.produce_batch(topic, values, keys, headers, partition, producer_id, epoch, sequence) */
static Datum
produce_many(FunctionCallInfo fcinfo, PayloadKind kind)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *topic = topic_arg(fcinfo);
	Oid			elemtype = kind == PAYLOAD_BYTEA ? BYTEAOID : TEXTOID;
	Datum	   *vals,
			   *keys = NULL,
			   *hdrs = NULL;
	bool	   *vnulls,
			   *knulls = NULL,
			   *hnulls = NULL;
	int			n,
				nk,
				nh;
	MqProduceRecord *recs;
	MqProduceResult *res;
	MqProducerArgs pargs;

	MqRequirePreload();
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("values must not be null")));
	array_arg(fcinfo, 1, elemtype, &vals, &vnulls, &n, "values");
	if (!PG_ARGISNULL(2))
	{
		array_arg(fcinfo, 2, elemtype, &keys, &knulls, &nk, "keys");
		if (nk != n)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("keys has %d elements but values has %d", nk, n)));
	}
	if (!PG_ARGISNULL(3))
	{
		array_arg(fcinfo, 3, JSONBOID, &hdrs, &hnulls, &nh, "headers");
		if (nh != n)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("headers has %d elements but values has %d", nh, n)));
	}

	recs = palloc0(sizeof(MqProduceRecord) * Max(n, 1));
	res = palloc(sizeof(MqProduceResult) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		payload(vals[i], vnulls[i], kind, &recs[i].value, &recs[i].value_len);
		if (keys)
			payload(keys[i], knulls[i], kind, &recs[i].key, &recs[i].key_len);
		else
			payload((Datum) 0, true, kind, &recs[i].key, &recs[i].key_len);
		if (hdrs && !hnulls[i])
			recs[i].headers = MqHeadersFromJsonb(DatumGetJsonbP(hdrs[i]),
												 &recs[i].num_headers);
	}

	MqProduce(topic, recs, n, partition_arg(fcinfo, 4),
			  producer_args(fcinfo, 5, &pargs), res);

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < n; i++)
	{
		Datum		values[2];
		bool		nulls[2] = {0};

		values[0] = Int32GetDatum(res[i].partition);
		values[1] = Int64GetDatum(res[i].offset);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

Datum
mq_produce_batch(PG_FUNCTION_ARGS)
{
	return produce_many(fcinfo, PAYLOAD_BYTEA);
}

Datum
mq_produce_batch_text(PG_FUNCTION_ARGS)
{
	return produce_many(fcinfo, PAYLOAD_TEXT);
}

/* mq.produce_encoded(topic, partition, batch) */
Datum
mq_produce_encoded(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *topic = topic_arg(fcinfo);
	int32		partition;
	bytea	   *batch;
	Datum		values[2];
	bool		nulls[2] = {0};
	int64		base,
				last;

	MqRequirePreload();
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("partition must not be null"),
				 errdetail("A record batch is appended to the partition it was encoded for.")));
	partition = partition_arg(fcinfo, 1);
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("batch must not be null")));
	/* a copy: the base offset, and maybe the timestamp, are set in place */
	batch = PG_GETARG_BYTEA_P_COPY(2);

	MqProduceEncoded(topic, partition, batch, &base, &last);

	InitMaterializedSRF(fcinfo, 0);
	values[0] = Int64GetDatum(base);
	values[1] = Int64GetDatum(last);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

Datum
mq_partition_for(PG_FUNCTION_ARGS)
{
	bytea	   *key = PG_GETARG_BYTEA_PP(0);
	int32		partitions = PG_GETARG_INT32(1);

	if (partitions < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("partitions must be at least 1")));
	PG_RETURN_INT32(MqPartitionForKey((const uint8_t *) VARDATA_ANY(key),
									  VARSIZE_ANY_EXHDR(key), partitions));
}
