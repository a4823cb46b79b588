/*-------------------------------------------------------------------------
 *
 * src/coord/autonomous.c
 *	  Run one statement in a transaction of its own, committed at once.
 *
 * A candidate of an election (or a waiter for a lock or a barrier) must
 * be visible in the line before it starts waiting: the others find their
 * predecessor among committed nodes, and a leader leaving must be able to
 * delete its node while its successor waits.  But mq.elect waits inside
 * the caller's transaction, which cannot commit halfway.  So the node is
 * created by a short-lived background worker in a transaction of its own,
 * and the caller waits for that worker to finish.  (ZooKeeper behaves the
 * same: a candidacy outlives whatever the client was doing; it ends with
 * the session, a resignation or the lease.)
 *
 * The statement and its text arguments travel in a dynamic shared memory
 * segment; so do the result (the first column of the first row, as text)
 * or the error message and SQLSTATE, which are raised again in the caller.
 * The worker connects as the bootstrap superuser: the statements are
 * mqext's own internal functions, which nobody else may execute, chosen
 * by name from a fixed list, and run with a pinned search_path.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "catalog/pg_type.h"

#include "coord/autonomous.h"

#define MQ_AUTONOMOUS_MAX_ARGS	8
#define MQ_AUTONOMOUS_MSG		1024

typedef struct MqAutonomousJob
{
	Oid			dboid;
	int			nargs;
	bool		done;
	bool		failed;
	int			sqlerrcode;
	char		message[MQ_AUTONOMOUS_MSG];
	Size		result_off;		/* result text, or 0 for NULL */
	Size		args_off[MQ_AUTONOMOUS_MAX_ARGS];	/* 0 for NULL */
	Size		sql_off;
	Size		size;
	char		data[FLEXIBLE_ARRAY_MEMBER];	/* sql, args, room for result */
} MqAutonomousJob;

#define MQ_AUTONOMOUS_RESULT_MAX	4096

char *
MqRunAutonomous(const char *sql, int nargs, const char *const *args)
{
	Size		size = offsetof(MqAutonomousJob, data) + strlen(sql) + 1 + MQ_AUTONOMOUS_RESULT_MAX;
	dsm_segment *seg;
	MqAutonomousJob *job;
	Size		pos = 0;
	BackgroundWorker w;
	BackgroundWorkerHandle *handle;
	pid_t		pid;
	char	   *result;

	Assert(nargs <= MQ_AUTONOMOUS_MAX_ARGS);

	/*
	 * The worker's transaction is its own, read-write and not subject to
	 * the caller's: it must not write for a read-only caller, and on a
	 * standby it would never start (BgWorkerStart_RecoveryFinished), the
	 * caller waiting for it till cancelled.
	 */
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot start an autonomous transaction during recovery")));
	PreventCommandIfReadOnly("an autonomous transaction");

	for (int i = 0; i < nargs; i++)
		if (args[i])
			size += strlen(args[i]) + 1;

	seg = dsm_create(size, 0);
	job = dsm_segment_address(seg);
	memset(job, 0, offsetof(MqAutonomousJob, data));
	job->dboid = MyDatabaseId;
	job->nargs = nargs;
	job->size = size;
	job->sql_off = pos;
	strcpy(job->data + pos, sql);
	pos += strlen(sql) + 1;
	for (int i = 0; i < nargs; i++)
	{
		if (args[i] == NULL)
			continue;
		job->args_off[i] = pos + 1;	/* +1: 0 means NULL */
		strcpy(job->data + pos, args[i]);
		pos += strlen(args[i]) + 1;
	}
	job->result_off = pos;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "mqext");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "mq_autonomous_main");
	snprintf(w.bgw_name, BGW_MAXLEN, "mqext autonomous transaction for PID %d", MyProcPid);
	snprintf(w.bgw_type, BGW_MAXLEN, "mqext autonomous");
	w.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	w.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&w, &handle))
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start a background worker for an autonomous transaction"),
				 errhint("Raise max_worker_processes.")));
	PG_TRY();
	{
		if (WaitForBackgroundWorkerStartup(handle, &pid) == BGWH_STARTED)
			(void) WaitForBackgroundWorkerShutdown(handle);
	}
	PG_CATCH();
	{
		/*
		 * Interrupted (a cancel, statement_timeout): the worker must not
		 * commit after we gave up, unknown to our caller, which looks for
		 * what it did once this error reaches it (a lock waiter leaves its
		 * line).  Stop it, and wait till it is gone: then it either
		 * committed or never will.
		 */
		HOLD_INTERRUPTS();
		TerminateBackgroundWorker(handle);
		(void) WaitForBackgroundWorkerShutdown(handle);
		RESUME_INTERRUPTS();
		PG_RE_THROW();
	}
	PG_END_TRY();

	if (!job->done)
	{
		dsm_detach(seg);
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("the background worker of an autonomous transaction ended without an answer")));
	}
	if (job->failed)
	{
		char		msg[MQ_AUTONOMOUS_MSG];
		int			code = job->sqlerrcode;

		strlcpy(msg, job->message, sizeof(msg));
		dsm_detach(seg);
		ereport(ERROR, (errcode(code), errmsg_internal("%s", msg)));
	}
	result = NULL;
	if (job->data[job->result_off] != '\0')
		result = pstrdup(job->data + job->result_off);
	dsm_detach(seg);
	return result;
}

void
mq_autonomous_main(Datum arg)
{
	dsm_segment *seg;
	MqAutonomousJob *job;
	Oid			types[MQ_AUTONOMOUS_MAX_ARGS];
	Datum		values[MQ_AUTONOMOUS_MAX_ARGS];
	char		nulls[MQ_AUTONOMOUS_MAX_ARGS];

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	seg = dsm_attach(DatumGetUInt32(arg));
	if (seg == NULL)
		proc_exit(1);
	job = dsm_segment_address(seg);
	BackgroundWorkerInitializeConnectionByOid(job->dboid, InvalidOid, 0);
	/* a superuser: not the database owner's search_path (see launcher.c) */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);

	for (int i = 0; i < job->nargs; i++)
	{
		types[i] = TEXTOID;
		nulls[i] = job->args_off[i] ? ' ' : 'n';
		values[i] = job->args_off[i] ?
			CStringGetTextDatum(job->data + job->args_off[i] - 1) : (Datum) 0;
	}

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		int			ret;

		PushActiveSnapshot(GetTransactionSnapshot());
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		ret = SPI_execute_with_args(job->data + job->sql_off, job->nargs, types,
									values, nulls, false, 1);
		if (ret < 0)
			elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(ret));
		if (SPI_processed > 0 && SPI_tuptable != NULL)
		{
			char	   *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

			if (v)
				strlcpy(job->data + job->result_off, v, MQ_AUTONOMOUS_RESULT_MAX);
		}
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(TopMemoryContext);
		edata = CopyErrorData();
		FlushErrorState();
		job->failed = true;
		job->sqlerrcode = edata->sqlerrcode;
		strlcpy(job->message, edata->message ? edata->message : "error", sizeof(job->message));
		AbortCurrentTransaction();
	}
	PG_END_TRY();
	job->done = true;
	pg_memory_barrier();
	dsm_detach(seg);
	proc_exit(0);
}

PG_FUNCTION_INFO_V1(mq_autonomous);

/*
 * The statements an autonomous transaction may run, by name.  The worker
 * runs as the bootstrap superuser: taking SQL text from the caller would
 * make mq._autonomous a way to run anything as a superuser for whoever
 * was granted EXECUTE on it (a GRANT ... ON ALL FUNCTIONS IN SCHEMA mq,
 * say).
 */
static const struct
{
	const char *name;
	int			nargs;
	const char *sql;
}			autonomous_statements[] =
{
	{"sweep_nodes", 0, "SELECT mq._sweep_nodes()"},
	{"join_line", 6, "SELECT mq._join_line($1, $2, $3, $4, $5, $6)"},
	{"leave_line", 1, "SELECT mq._leave_line($1)"},
	{"leave_barrier", 3, "SELECT mq._leave_barrier($1, $2, $3)"},
};

/*
 * mq._autonomous(statement text, args text[]) -> the first column of the
 * first row of one of the statements above, run with args.
 */
Datum
mq_autonomous(PG_FUNCTION_ARGS)
{
	const char *sql = NULL;
	char	   *name;
	int			want = 0;
	Datum	   *elems = NULL;
	bool	   *enulls = NULL;
	int			n = 0;
	const char *args[MQ_AUTONOMOUS_MAX_ARGS];
	char	   *result;

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("mq._autonomous is internal to mqext")));
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("statement must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	for (int i = 0; i < lengthof(autonomous_statements); i++)
		if (strcmp(name, autonomous_statements[i].name) == 0)
		{
			sql = autonomous_statements[i].sql;
			want = autonomous_statements[i].nargs;
		}
	if (sql == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown autonomous statement \"%s\"", name)));
	if (!PG_ARGISNULL(1))
		deconstruct_array(PG_GETARG_ARRAYTYPE_P(1), TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &enulls, &n);
	if (n != want)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg_plural("autonomous statement \"%s\" takes %d argument, not %d",
							   "autonomous statement \"%s\" takes %d arguments, not %d",
							   want, name, want, n)));
	for (int i = 0; i < n; i++)
		args[i] = enulls[i] ? NULL : TextDatumGetCString(elems[i]);
	result = MqRunAutonomous(sql, n, args);
	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(result));
}

PG_FUNCTION_INFO_V1(mq_xid_is_mine);

/*
 * mq._xid_is_mine(xid): was a row version written by this transaction or
 * one of its subtransactions?  An autonomous transaction must not be
 * waited for by a caller that holds what it may need.
 */
Datum
mq_xid_is_mine(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(TransactionIdIsCurrentTransactionId(DatumGetTransactionId(PG_GETARG_DATUM(0))));
}
