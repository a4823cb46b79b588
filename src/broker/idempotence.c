/*-------------------------------------------------------------------------
 *
 * src/broker/idempotence.c
 *	  Idempotent producers: producer id, epoch and per-partition sequences.
 *
 * Kafka's rules (KIP-98): a producer numbers its records per partition
 * from 0; the broker accepts the next expected sequence, answers a batch
 * it already has with the batch's original offsets, refuses a gap, and
 * refuses an epoch older than the producer's current one (a newer
 * instance with the same transactional id fenced it).  The state of a
 * (producer, partition) is one row of mq.producer_state, locked FOR UPDATE
 * for the rest of the transaction, so that retries of the same batch from
 * two connections serialize; it remembers the last five batches.
 *
 * The state row is written in the same transaction as the batch: if the
 * transaction aborts, neither survives and a retry appends again; if it
 * committed but the client never heard of it, the retry finds the batch.
 *
 * A producer id belongs to the role that got it (and the roles that are
 * members of it): a producer id is a small number, and whoever may
 * produce could otherwise send a batch with another producer's next
 * sequence, which would make that producer's own batch look like a retry
 * and be dropped while it is told it was written; or fence another
 * application by calling init_producer with its transactional id.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "broker/idempotence.h"
#include "catalog/metadata_cache.h"
#include "errors.h"

/*
 * The last four remembered batches of the same epoch (a new epoch starts
 * afresh), to which the new one is appended: five in all, as Kafka keeps.
 */
#define KEEP_RECENT(col) \
	"(CASE WHEN s.epoch OPERATOR(pg_catalog.=) $4" \
	" THEN s." #col "[GREATEST(pg_catalog.cardinality(s." #col ") OPERATOR(pg_catalog.-) 3, 1):]" \
	" ELSE '{}' END)"

static SPIPlanPtr producer_plan = NULL;
static SPIPlanPtr init_find_plan = NULL;
static SPIPlanPtr init_insert_plan = NULL;
static SPIPlanPtr init_bump_plan = NULL;
static SPIPlanPtr init_retire_plan = NULL;
static SPIPlanPtr state_plan = NULL;
static SPIPlanPtr state_insert_plan = NULL;
static SPIPlanPtr state_update_plan = NULL;

static SPIPlanPtr
prepare(SPIPlanPtr *cache, const char *sql, int nargs, Oid *argtypes)
{
	if (*cache == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		*cache = plan;
	}
	return *cache;
}

static int32
next_sequence(int32 seq, int32 count)
{
	/* sequences wrap from INT32_MAX to 0, as in Kafka */
	int64		next = (int64) seq + count;

	return (int32) (next > PG_INT32_MAX ? next - PG_INT32_MAX - 1 : next);
}

/*
 * Check a call against the producer's state.  Returns true when it is a
 * duplicate of a batch already appended, with that batch's base offset and
 * first timestamp; false when it is the next batch and must be appended.
 * Raises the Kafka errors otherwise.
 */
bool
MqIdempotenceCheck(const MqProducerArgs *p, int32 topic_id, int32 partition,
				   int32 count, int64 *base_offset, TimestampTz *first_ts)
{
	Oid			types[3] = {INT8OID, INT4OID, INT4OID};
	Datum		args[3];
	MqCatalogAccess save;
	int32		current_epoch;
	bool		isnull;
	bool		duplicate = false;
	int			ret;

	if (p->sequence < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sequence must not be negative")));

	/* the producer tables are mqext's, not the caller's (metadata_cache.c) */
	MqCatalogAccessBegin(&save);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* FOR SHARE: a concurrent init_producer bumping the epoch waits for us */
	args[0] = Int64GetDatum(p->producer_id);
	ret = SPI_execute_plan(prepare(&producer_plan,
								   "SELECT epoch, owner FROM mq.producer"
								   " WHERE producer_id OPERATOR(pg_catalog.=) $1 FOR SHARE",
								   1, types),
						   args, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_MQ_UNKNOWN_PRODUCER),
				 errmsg("producer id " INT64_FORMAT " does not exist", p->producer_id),
				 errhint("Get a producer id from mq.init_producer().")));
	if (!has_privs_of_role(save.userid,
						   DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
														  SPI_tuptable->tupdesc, 2, &isnull))))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("producer id " INT64_FORMAT " belongs to another role", p->producer_id),
				 errhint("Get a producer id of your own from mq.init_producer().")));
	current_epoch = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
												SPI_tuptable->tupdesc, 1, &isnull));
	/* (past the 16 bits of a batch: an id retired at the epoch rollover) */
	if (p->epoch < current_epoch || current_epoch > PG_INT16_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_MQ_PRODUCER_FENCED),
				 errmsg("producer " INT64_FORMAT " with epoch %d has been fenced",
						p->producer_id, p->epoch),
				 errdetail("The producer's current epoch is %d.", current_epoch),
				 errhint("Another instance called mq.init_producer() with the same transactional id; this one must stop.")));
	if (p->epoch > current_epoch)
		ereport(ERROR,
				(errcode(ERRCODE_MQ_UNKNOWN_PRODUCER),
				 errmsg("epoch %d of producer " INT64_FORMAT " was never issued",
						p->epoch, p->producer_id),
				 errdetail("The producer's current epoch is %d.", current_epoch)));

	args[1] = Int32GetDatum(topic_id);
	args[2] = Int32GetDatum(partition);
	for (int attempt = 0;; attempt++)
	{
		ret = SPI_execute_plan(prepare(&state_plan,
									   "SELECT epoch, last_sequence, batch_first_seq, batch_last_seq,"
									   "       batch_base_offset, batch_ts"
									   "  FROM mq.producer_state"
									   " WHERE producer_id OPERATOR(pg_catalog.=) $1"
									   "   AND topic_id OPERATOR(pg_catalog.=) $2"
									   "   AND partition OPERATOR(pg_catalog.=) $3 FOR UPDATE",
									   3, types),
							   args, NULL, false, 1);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(ret));
		if (SPI_processed > 0 || attempt > 0)
			break;
		/* first batch to this partition: create the row, then lock it */
		ret = SPI_execute_plan(prepare(&state_insert_plan,
									   "INSERT INTO mq.producer_state VALUES"
									   " ($1, $2, $3, -1, -1, '{}', '{}', '{}', '{}')"
									   " ON CONFLICT DO NOTHING",
									   3, types),
							   args, NULL, false, 0);
		if (ret != SPI_OK_INSERT)
			elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(ret));
	}
	if (SPI_processed != 1)
		elog(ERROR, "producer state row vanished");

	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		int32		state_epoch = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		int32		last_seq = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		int32		expected = (state_epoch == p->epoch && last_seq >= 0) ?
			next_sequence(last_seq, 1) : 0;

		if (p->sequence != expected)
		{
			Datum	   *first,
					   *last,
					   *offs,
					   *tss;
			int			n;

			/* is it one of the batches we remember? */
			if (state_epoch == p->epoch)
			{
				deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tup, desc, 3, &isnull)),
								  INT4OID, 4, true, TYPALIGN_INT, &first, NULL, &n);
				deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tup, desc, 4, &isnull)),
								  INT4OID, 4, true, TYPALIGN_INT, &last, NULL, &n);
				deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tup, desc, 5, &isnull)),
								  INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &offs, NULL, &n);
				deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tup, desc, 6, &isnull)),
								  TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &tss, NULL, &n);
				for (int i = 0; i < n; i++)
				{
					if (DatumGetInt32(first[i]) == p->sequence)
					{
						if (DatumGetInt32(last[i]) != next_sequence(p->sequence, count - 1))
							ereport(ERROR,
									(errcode(ERRCODE_MQ_DUPLICATE_SEQUENCE),
									 errmsg("batch with sequence %d of producer " INT64_FORMAT " repeats an earlier batch with a different number of records",
											p->sequence, p->producer_id)));
						*base_offset = DatumGetInt64(offs[i]);
						*first_ts = DatumGetTimestampTz(tss[i]);
						duplicate = true;
						break;
					}
				}
			}
			if (!duplicate)
			{
				bool		older = state_epoch == p->epoch && last_seq >= 0 &&
					p->sequence < expected;

				ereport(ERROR,
						(errcode(older ? ERRCODE_MQ_DUPLICATE_SEQUENCE : ERRCODE_MQ_OUT_OF_ORDER_SEQUENCE),
						 older ?
						 errmsg("sequence %d of producer " INT64_FORMAT " was already written to topic partition %d",
								p->sequence, p->producer_id, partition) :
						 errmsg("out of order sequence %d for producer " INT64_FORMAT " in partition %d",
								p->sequence, p->producer_id, partition),
						 errdetail("The next expected sequence is %d.", expected)));
			}
		}
	}

	SPI_finish();
	MqCatalogAccessEnd(&save);
	return duplicate;
}

/* Remember an appended batch; its state row is locked by the check. */
void
MqIdempotenceRecord(const MqProducerArgs *p, int32 topic_id, int32 partition,
					int32 count, int64 base_offset, TimestampTz first_ts)
{
	Oid			types[8] = {INT8OID, INT4OID, INT4OID, INT4OID, INT4OID, INT4OID,
	INT8OID, TIMESTAMPTZOID};
	Datum		args[8];
	MqCatalogAccess save;
	int			ret;

	MqCatalogAccessBegin(&save);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	args[0] = Int64GetDatum(p->producer_id);
	args[1] = Int32GetDatum(topic_id);
	args[2] = Int32GetDatum(partition);
	args[3] = Int32GetDatum(p->epoch);
	args[4] = Int32GetDatum(p->sequence);
	args[5] = Int32GetDatum(next_sequence(p->sequence, count - 1));
	args[6] = Int64GetDatum(base_offset);
	args[7] = TimestampTzGetDatum(first_ts);
	ret = SPI_execute_plan(prepare(&state_update_plan,
								   "UPDATE mq.producer_state s SET"
								   "  last_sequence = $6,"
								   "  batch_first_seq = " KEEP_RECENT(batch_first_seq) " OPERATOR(pg_catalog.||) $5,"
								   "  batch_last_seq = " KEEP_RECENT(batch_last_seq) " OPERATOR(pg_catalog.||) $6,"
								   "  batch_base_offset = " KEEP_RECENT(batch_base_offset) " OPERATOR(pg_catalog.||) $7,"
								   "  batch_ts = " KEEP_RECENT(batch_ts) " OPERATOR(pg_catalog.||) $8,"
								   "  epoch = $4"
								   " WHERE producer_id OPERATOR(pg_catalog.=) $1"
								   "   AND topic_id OPERATOR(pg_catalog.=) $2"
								   "   AND partition OPERATOR(pg_catalog.=) $3",
								   8, types),
						   args, NULL, false, 0);
	if (ret != SPI_OK_UPDATE || SPI_processed != 1)
		elog(ERROR, "could not record producer state");
	SPI_finish();
	MqCatalogAccessEnd(&save);
}

/*
 * mq.init_producer: a new producer id (epoch 0) owned by the calling role;
 * with a transactional id, the same id with its epoch bumped, which fences
 * the instances that hold an older one.  The epoch is stored in batches as
 * a 16-bit number: once it is used up, the transactional id gets a new
 * producer id at epoch 0 (as in Kafka), and the old id stays, fenced.
 */
void
MqInitProducer(const char *transactional_id, int64 *producer_id, int32 *epoch)
{
	Oid			types[2] = {TEXTOID, REGROLEOID};
	Datum		args[2];
	char		nulls[2] = {' ', ' '};
	MqCatalogAccess save;
	bool		isnull;
	int			ret;

	MqCatalogAccessBegin(&save);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	args[0] = transactional_id ? CStringGetTextDatum(transactional_id) : (Datum) 0;
	nulls[0] = transactional_id ? ' ' : 'n';
	args[1] = ObjectIdGetDatum(save.userid);

	for (;;)
	{
		if (transactional_id != NULL)
		{
			int64		id;
			int32		cur;

			ret = SPI_execute_plan(prepare(&init_find_plan,
										   "SELECT producer_id, epoch, owner FROM mq.producer"
										   " WHERE transactional_id OPERATOR(pg_catalog.=) $1 FOR UPDATE",
										   1, types),
								   args, nulls, false, 1);
			if (ret != SPI_OK_SELECT)
				elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(ret));
			if (SPI_processed == 1)
			{
				HeapTuple	tup = SPI_tuptable->vals[0];
				TupleDesc	desc = SPI_tuptable->tupdesc;
				Oid			idtype = INT8OID;
				Datum		idarg;

				id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
				cur = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
				if (!has_privs_of_role(save.userid, DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull))))
					ereport(ERROR,
							(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
							 errmsg("transactional id \"%s\" belongs to another role", transactional_id),
							 errdetail("Its producer was initialized by a role this one is not a member of; initializing it again would fence that producer.")));
				idarg = Int64GetDatum(id);
				if (cur < PG_INT16_MAX)
				{
					ret = SPI_execute_plan(prepare(&init_bump_plan,
												   "UPDATE mq.producer SET epoch = epoch OPERATOR(pg_catalog.+) 1"
												   " WHERE producer_id OPERATOR(pg_catalog.=) $1 RETURNING producer_id, epoch",
												   1, &idtype),
										   &idarg, NULL, false, 1);
					if (ret != SPI_OK_UPDATE_RETURNING || SPI_processed != 1)
						elog(ERROR, "could not bump the epoch of producer " INT64_FORMAT, id);
					break;
				}
				else
				{
					/*
					 * Epochs used up: the transactional id moves to a new
					 * producer id (below), and the old one stays, fenced
					 * for good (an epoch past any an instance holds), so
					 * that an old instance is told it was fenced, not that
					 * its producer is unknown (whose hint, to initialize
					 * again, would fence the new instance).
					 */
					ret = SPI_execute_plan(prepare(&init_retire_plan,
												   "UPDATE mq.producer SET transactional_id = NULL,"
												   " epoch = epoch OPERATOR(pg_catalog.+) 1"
												   " WHERE producer_id OPERATOR(pg_catalog.=) $1",
												   1, &idtype),
										   &idarg, NULL, false, 0);
					if (ret != SPI_OK_UPDATE)
						elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(ret));
				}
			}
		}
		ret = SPI_execute_plan(prepare(&init_insert_plan,
									   "INSERT INTO mq.producer (transactional_id, owner) VALUES ($1, $2)"
									   " ON CONFLICT (transactional_id) DO NOTHING RETURNING producer_id, epoch",
									   2, types),
							   args, nulls, false, 0);
		if (ret != SPI_OK_INSERT_RETURNING)
			elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(ret));
		if (SPI_processed == 1)
			break;
		/* another session created it meanwhile: bump that one */
	}
	*producer_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	*epoch = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	SPI_finish();
	MqCatalogAccessEnd(&save);
}
