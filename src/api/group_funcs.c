/*-------------------------------------------------------------------------
 *
 * src/api/group_funcs.c
 *	  C helpers of the consumer-group functions (which are PL/pgSQL in
 *	  mqext--*.sql): blocking wait, session binding, watch channels.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "broker/watch.h"
#include "group/poll_wait.h"
#include "group/session.h"
#include "shmem/shmem.h"
#include "shmem/waiters.h"

PG_FUNCTION_INFO_V1(mq_watch_channel);
PG_FUNCTION_INFO_V1(mq_watch_forget);
PG_FUNCTION_INFO_V1(mq_wait_for_records);
PG_FUNCTION_INFO_V1(mq_bind_session);
PG_FUNCTION_INFO_V1(mq_session_start);
PG_FUNCTION_INFO_V1(mq_session_alive);
PG_FUNCTION_INFO_V1(mq_note_key_change);
PG_FUNCTION_INFO_V1(mq_note_topic_change);
PG_FUNCTION_INFO_V1(mq_key_epoch);
PG_FUNCTION_INFO_V1(mq_wait_key);
PG_FUNCTION_INFO_V1(mq_note_assignment_locked);
PG_FUNCTION_INFO_V1(mq_assignment_locked);

/* mq._note_assignment_locked(): see MqNoteAssignmentLocked */
Datum
mq_note_assignment_locked(PG_FUNCTION_ARGS)
{
	MqNoteAssignmentLocked();
	PG_RETURN_VOID();
}

/* mq._assignment_locked() -> has this transaction locked assignment rows? */
Datum
mq_assignment_locked(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(MqAssignmentLocked());
}

/*
 * Keys: a group id, or "node:<path>" for the coordination tree.  A waiter
 * reads a key's epoch before it looks at what it waits for; a transaction
 * that changed it notes the key, and its commit bumps the epoch and wakes
 * the key's waiters.
 */
Datum
mq_key_epoch(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64((int64) MqGroupEpoch(MqGroupHash(text_to_cstring(PG_GETARG_TEXT_PP(0)))));
}

/* mq._wait_key(key, epoch, timeout_ms): true when the epoch moved */
Datum
mq_wait_key(PG_FUNCTION_ARGS)
{
	char	   *key = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int64		epoch = PG_GETARG_INT64(1);
	int32		timeout_ms = PG_GETARG_INT32(2);

	MqRequirePreload();
	if (timeout_ms <= 0)
		PG_RETURN_BOOL(MqGroupEpoch(MqGroupHash(key)) != (uint64) epoch);
	PG_RETURN_BOOL(MqWaitForRecords(key, (uint64) epoch, 0, NULL, NULL, NULL,
									timeout_ms));
}

Datum
mq_watch_channel(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(MqWatchChannel(text_to_cstring(PG_GETARG_TEXT_PP(0)))));
}

/* mq._watch_forget(topic): its appends in this transaction go unannounced */
Datum
mq_watch_forget(PG_FUNCTION_ARGS)
{
	MqWatchForgetTopic(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}

/* mq._wait_for_records(group_id, epoch, topics text[], partitions int[], positions bigint[], timeout_ms) */
Datum
mq_wait_for_records(PG_FUNCTION_ARGS)
{
	char	   *group_id = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Datum	   *tdat,
			   *pdat,
			   *odat;
	int			nt,
				np,
				no;
	char	  **topics;
	int32	   *parts;
	int64	   *positions;
	int64		epoch = PG_GETARG_INT64(1);
	int32		timeout_ms = PG_GETARG_INT32(5);

	MqRequirePreload();
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(2), TEXTOID, -1, false, TYPALIGN_INT,
					  &tdat, NULL, &nt);
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(3), INT4OID, 4, true, TYPALIGN_INT,
					  &pdat, NULL, &np);
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(4), INT8OID, 8, FLOAT8PASSBYVAL,
					  TYPALIGN_DOUBLE, &odat, NULL, &no);
	if (nt != np || nt != no)
		elog(ERROR, "mq._wait_for_records: arrays of different lengths");
	topics = palloc(sizeof(char *) * Max(nt, 1));
	parts = palloc(sizeof(int32) * Max(nt, 1));
	positions = palloc(sizeof(int64) * Max(nt, 1));
	for (int i = 0; i < nt; i++)
	{
		topics[i] = TextDatumGetCString(tdat[i]);
		parts[i] = DatumGetInt32(pdat[i]);
		positions[i] = DatumGetInt64(odat[i]);
	}
	if (timeout_ms <= 0)
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(MqWaitForRecords(group_id, (uint64) epoch, nt, topics, parts,
									positions, timeout_ms));
}

Datum
mq_bind_session(PG_FUNCTION_ARGS)
{
	MqBindSession();
	PG_RETURN_VOID();
}

Datum
mq_session_start(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(MyStartTimestamp);
}

Datum
mq_session_alive(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(MqSessionAlive(PG_GETARG_INT32(0), PG_GETARG_TIMESTAMPTZ(1)));
}

/* Wake the key's waiters (a group's pollers) once this transaction commits. */
Datum
mq_note_key_change(PG_FUNCTION_ARGS)
{
	MqRequirePreload();
	MqNoteGroupChange(MqGroupHash(text_to_cstring(PG_GETARG_TEXT_PP(0))));
	PG_RETURN_VOID();
}

/*
 * Wake the pollers of a topic once this transaction commits, as an append
 * would: used when its partition count grows, so that groups reading it
 * rebalance without waiting for their poll timeout.
 */
Datum
mq_note_topic_change(PG_FUNCTION_ARGS)
{
	if (MqPreloaded)
		MqNoteAppend(PG_GETARG_INT32(0));
	PG_RETURN_VOID();
}
