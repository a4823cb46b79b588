/*-------------------------------------------------------------------------
 *
 * src/bgw/launcher.c
 *	  The launcher and the per-database housekeeping workers.
 *
 * Retention, segment rolling and the sweeps of dead group members, leases
 * and ephemeral nodes must run without cron jobs, in every database where
 * mqext is created, with no configuration (pg_cron's and TimescaleDB's
 * launcher pattern):
 *
 *	 launcher (one, static, connected to no database)
 *	   |  every mqext.housekeeping_interval, or at once when CREATE
 *	   |  EXTENSION mqext wakes it, lists pg_database and starts a worker
 *	   v  for each database that has none
 *	 worker (one per database, dynamic)
 *	      connects; if mqext is not installed there, exits, and the launcher
 *	      skips that database until CREATE EXTENSION wakes it (or a minute
 *	      passes); else, every interval, runs mq._housekeeping_sweep(), then
 *	      mq._housekeeping_topic() for each topic (and mq._compact_more()
 *	      while the topic's compaction has segments left, for up to an
 *	      interval per round), each in a transaction of its own (a step
 *	      that fails is reported and the round goes on); exits when the
 *	      extension is dropped.
 *
 * Worker states, per database slot: IDLE -> RUNNING -> (EXITED_NO_EXTENSION
 * | EXITED) -> IDLE.  The postmaster restarts the launcher after a crash;
 * the launcher restarts workers.
 *
 * Lock protocol: MqLauncherState->mutex (spinlock) guards launcher_latch
 * and wakeup; the database table is private to the launcher.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "bgw/launcher.h"
#include "log/compact.h"
#include "shmem/partition_state.h"
#include "guc.h"
#include "mqext.h"

#define MQ_LAUNCHER_MAX_DBS		256
#define MQ_RECHECK_NO_EXTENSION_MS	60000

typedef struct MqLauncherState
{
	slock_t		mutex;
	Latch	   *launcher_latch;
	bool		recheck_all;	/* CREATE EXTENSION happened somewhere */
	int			nabsent;		/* databases whose worker found no mqext */
	Oid			absent[MQ_LAUNCHER_MAX_DBS];
	int			nworkers;		/* running workers: database and pid */
	Oid			worker_db[MQ_LAUNCHER_MAX_DBS];
	pid_t		worker_pid[MQ_LAUNCHER_MAX_DBS];
	Oid			dropping_db;	/* DROP DATABASE in progress: no worker */
	TimestampTz dropping_since;
} MqLauncherState;

static MqLauncherState *LauncherState = NULL;

typedef enum DbWorkerState
{
	DBW_IDLE,
	DBW_RUNNING,
	DBW_NO_EXTENSION
} DbWorkerState;

typedef struct DbWorker
{
	Oid			dboid;
	DbWorkerState state;
	BackgroundWorkerHandle *handle;
	TimestampTz started;
	bool		seen;			/* still in pg_database at the last scan */
} DbWorker;

static DbWorker dbs[MQ_LAUNCHER_MAX_DBS];
static int	ndbs = 0;

Size
MqLauncherShmemSize(void)
{
	return MAXALIGN(sizeof(MqLauncherState));
}

void
MqLauncherShmemInit(void)
{
	bool		found;

	LauncherState = ShmemInitStruct("mqext launcher", MqLauncherShmemSize(), &found);
	if (!found)
	{
		SpinLockInit(&LauncherState->mutex);
		LauncherState->launcher_latch = NULL;
		LauncherState->recheck_all = false;
		LauncherState->nabsent = 0;
		LauncherState->nworkers = 0;
		LauncherState->dropping_db = InvalidOid;
	}
}

static void
worker_forget_self(int code, Datum arg)
{
	SpinLockAcquire(&LauncherState->mutex);
	for (int i = 0; i < LauncherState->nworkers; i++)
	{
		if (LauncherState->worker_pid[i] == MyProcPid)
		{
			LauncherState->nworkers--;
			LauncherState->worker_db[i] = LauncherState->worker_db[LauncherState->nworkers];
			LauncherState->worker_pid[i] = LauncherState->worker_pid[LauncherState->nworkers];
			break;
		}
	}
	SpinLockRelease(&LauncherState->mutex);
}

/*
 * DROP DATABASE (or a rename) needs the database free of connections: stop
 * its worker and keep the launcher from starting another for a minute.
 * Called from the utility hook (mqext.c) before the command runs.
 */
void
MqLauncherReleaseDatabase(Oid dboid)
{
	pid_t		pid = 0;

	if (LauncherState == NULL || !OidIsValid(dboid))
		return;
	SpinLockAcquire(&LauncherState->mutex);
	LauncherState->dropping_db = dboid;
	LauncherState->dropping_since = GetCurrentTimestamp();
	for (int i = 0; i < LauncherState->nworkers; i++)
		if (LauncherState->worker_db[i] == dboid)
			pid = LauncherState->worker_pid[i];
	SpinLockRelease(&LauncherState->mutex);
	if (pid != 0)
		kill(pid, SIGTERM);
}

static bool
is_being_released(Oid dboid, TimestampTz now)
{
	bool		dropping;

	SpinLockAcquire(&LauncherState->mutex);
	dropping = LauncherState->dropping_db == dboid &&
		!TimestampDifferenceExceeds(LauncherState->dropping_since, now, MQ_RECHECK_NO_EXTENSION_MS);
	SpinLockRelease(&LauncherState->mutex);
	return dropping;
}

/* Worker side: mqext is not installed in this database. */
static void
note_absent(Oid dboid)
{
	SpinLockAcquire(&LauncherState->mutex);
	if (LauncherState->nabsent < MQ_LAUNCHER_MAX_DBS)
		LauncherState->absent[LauncherState->nabsent++] = dboid;
	SpinLockRelease(&LauncherState->mutex);
}

/* Launcher side: did that worker report no mqext?  Clears the report. */
static bool
take_absent(Oid dboid)
{
	bool		absent = false;

	SpinLockAcquire(&LauncherState->mutex);
	for (int i = 0; i < LauncherState->nabsent; i++)
	{
		if (LauncherState->absent[i] == dboid)
		{
			LauncherState->absent[i] = LauncherState->absent[--LauncherState->nabsent];
			absent = true;
			break;
		}
	}
	SpinLockRelease(&LauncherState->mutex);
	return absent;
}

void
MqLauncherRegister(void)
{
	BackgroundWorker w;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = 10;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "mqext");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "mq_launcher_main");
	snprintf(w.bgw_name, BGW_MAXLEN, "mqext launcher");
	snprintf(w.bgw_type, BGW_MAXLEN, "mqext launcher");
	RegisterBackgroundWorker(&w);
}

static bool wakeup_at_commit = false;

/*
 * CREATE EXTENSION mqext asks for a worker now; the launcher is told at
 * commit, when the worker can see the extension.
 */
void
MqLauncherWakeupAtCommit(void)
{
	wakeup_at_commit = true;
}

/* Transaction end: pass a pending wake-up on, if the transaction committed. */
void
MqLauncherXactEnd(bool commit)
{
	if (wakeup_at_commit && commit)
		MqLauncherWakeup();
	wakeup_at_commit = false;
}

/* Tell the launcher that mqext was just created in some database. */
void
MqLauncherWakeup(void)
{
	Latch	   *latch = NULL;

	if (LauncherState == NULL)
		return;
	SpinLockAcquire(&LauncherState->mutex);
	LauncherState->recheck_all = true;
	latch = LauncherState->launcher_latch;
	SpinLockRelease(&LauncherState->mutex);
	if (latch)
		SetLatch(latch);
}

static DbWorker *
db_slot(Oid dboid)
{
	for (int i = 0; i < ndbs; i++)
		if (dbs[i].dboid == dboid)
			return &dbs[i];
	if (ndbs >= MQ_LAUNCHER_MAX_DBS)
		return NULL;
	memset(&dbs[ndbs], 0, sizeof(DbWorker));
	dbs[ndbs].dboid = dboid;
	dbs[ndbs].state = DBW_IDLE;
	return &dbs[ndbs++];
}

static void
start_worker(DbWorker *d)
{
	BackgroundWorker w;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;	/* the launcher does */
	snprintf(w.bgw_library_name, BGW_MAXLEN, "mqext");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "mq_worker_main");
	snprintf(w.bgw_name, BGW_MAXLEN, "mqext worker for database %u", d->dboid);
	snprintf(w.bgw_type, BGW_MAXLEN, "mqext worker");
	w.bgw_main_arg = ObjectIdGetDatum(d->dboid);
	w.bgw_notify_pid = MyProcPid;

	if (RegisterDynamicBackgroundWorker(&w, &d->handle))
	{
		d->state = DBW_RUNNING;
		d->started = GetCurrentTimestamp();
	}
	else
	{
		d->handle = NULL;
		ereport(LOG,
				(errmsg("mqext launcher could not start a worker for database %u", d->dboid),
				 errhint("Raise max_worker_processes.")));
	}
}

/* One pass: list the databases, start the workers that are missing. */
static void
launcher_scan(bool recheck_all)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	List	   *found = NIL;		/* databases a worker may connect to */
	List	   *exists = NIL;		/* every database */
	ListCell   *lc;
	TimestampTz now = GetCurrentTimestamp();
	MemoryContext outer = CurrentMemoryContext;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		/* the lists must outlive the transaction */
		MemoryContext old = MemoryContextSwitchTo(outer);

		exists = lappend_oid(exists, db->oid);
		if (db->datallowconn && !db->datistemplate)
			found = lappend_oid(found, db->oid);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	PopActiveSnapshot();
	CommitTransactionCommand();

	for (int i = 0; i < ndbs; i++)
		dbs[i].seen = false;
	foreach(lc, found)
	{
		DbWorker   *d = db_slot(lfirst_oid(lc));
		pid_t		pid;

		if (d == NULL)
			continue;
		d->seen = true;
		if (d->state == DBW_RUNNING)
		{
			if (GetBackgroundWorkerPid(d->handle, &pid) != BGWH_STOPPED)
				continue;
			pfree(d->handle);
			d->handle = NULL;
			d->state = take_absent(d->dboid) ? DBW_NO_EXTENSION : DBW_IDLE;
		}
		if (d->state == DBW_NO_EXTENSION && !recheck_all &&
			!TimestampDifferenceExceeds(d->started, now, MQ_RECHECK_NO_EXTENSION_MS))
			continue;
		if (is_being_released(d->dboid, now))
			continue;
		/* a worker that failed: not again before an interval has passed */
		if (d->state == DBW_IDLE && d->started != 0 &&
			!TimestampDifferenceExceeds(d->started, now, mq_housekeeping_interval_ms))
			continue;
		start_worker(d);
	}
	list_free(found);

	/* forget databases that are gone and have no worker left */
	for (int i = 0; i < ndbs;)
	{
		pid_t		pid;

		if (!dbs[i].seen && dbs[i].state == DBW_RUNNING &&
			GetBackgroundWorkerPid(dbs[i].handle, &pid) == BGWH_STOPPED)
		{
			pfree(dbs[i].handle);
			dbs[i].handle = NULL;
			dbs[i].state = DBW_IDLE;
		}
		if (!dbs[i].seen && dbs[i].state != DBW_RUNNING)
		{
			/*
			 * A database that is gone takes its partitions' state in
			 * shared memory with it; one that only stopped taking new
			 * connections (or became a template) may still have sessions
			 * appending.
			 */
			if (!list_member_oid(exists, dbs[i].dboid))
				MqPartitionForgetDatabase(dbs[i].dboid);
			dbs[i] = dbs[--ndbs];
		}
		else
			i++;
	}
	list_free(exists);
}

void
mq_launcher_main(Datum arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("mqext launcher");

	SpinLockAcquire(&LauncherState->mutex);
	LauncherState->launcher_latch = MyLatch;
	LauncherState->recheck_all = true;
	SpinLockRelease(&LauncherState->mutex);

	for (;;)
	{
		bool		recheck;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		SpinLockAcquire(&LauncherState->mutex);
		recheck = LauncherState->recheck_all;
		LauncherState->recheck_all = false;
		SpinLockRelease(&LauncherState->mutex);

		launcher_scan(recheck);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 (long) mq_housekeeping_interval_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * Start a transaction of its own and run one SELECT in it, leaving its
 * result in SPI_tuptable until step_end commits.
 */
static void
step_begin(const char *sql, bool read_only)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, sql);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(sql, read_only, 0) != SPI_OK_SELECT)
		elog(ERROR, "%s failed", sql);
}

static void
step_end(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
}

static bool
extension_installed(void)
{
	bool		installed;

	StartTransactionCommand();
	installed = OidIsValid(get_extension_oid(MQ_EXTENSION_NAME, true));
	CommitTransactionCommand();
	return installed;
}

/*
 * The first topic whose id is above `after`, as its id and name (palloc'd
 * in the caller's context); false when there is none.
 */
static bool
next_topic(int32 after, int32 *topic_id, char **name)
{
	MemoryContext cxt = CurrentMemoryContext;
	char		sql[128];
	bool		found;

	snprintf(sql, sizeof(sql),
			 "SELECT topic_id, name FROM mq.topic WHERE topic_id > %d ORDER BY topic_id LIMIT 1",
			 after);
	step_begin(sql, true);
	found = SPI_processed == 1;
	if (found)
	{
		bool		isnull;

		*topic_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		*name = MemoryContextStrdup(cxt, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2));
	}
	step_end();
	return found;
}

/*
 * run_step; if it fails, its transaction is rolled back and its error is
 * handed back in *error (false) for the caller to report.  *result, if
 * asked for, is the boolean the statement returned (false for NULL).
 */
static bool
run_step_caught(const char *sql, bool *result, ErrorData **error)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool ok = false;

	PG_TRY();
	{
		step_begin(sql, false);
		if (result != NULL)
		{
			bool		isnull = true;

			if (SPI_processed == 1)
				*result = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
													 SPI_tuptable->tupdesc, 1, &isnull));
			if (isnull)
				*result = false;
		}
		step_end();
		ok = true;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		*error = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(cxt);
		pgstat_report_activity(STATE_IDLE, NULL);
	}
	PG_END_TRY();
	return ok;
}

/*
 * A failed step: nothing to report when DROP EXTENSION came between our
 * check and the step (false: the worker leaves quietly); else a WARNING,
 * since the worker goes on, with the error's SQLSTATE, detail, hint and
 * context, under what the step was doing.
 */
static bool
step_failed(ErrorData *error, const char *what)
{
	bool		here = extension_installed();

	if (here)
		ereport(WARNING,
				(errcode(error->sqlerrcode),
				 errmsg("mqext: %s failed: %s", what, error->message),
				 error->detail ? errdetail_internal("%s", error->detail) : 0,
				 error->hint ? errhint("%s", error->hint) : 0,
				 error->context ? errcontext("%s", error->context) : 0));
	FreeErrorData(error);
	return here;
}

/*
 * One round: the sweeps first, then every topic, one step (one
 * transaction) each, so that a roll or a drop holds its locks briefly.  A
 * step that fails is reported and the round goes on with the next topic:
 * one topic whose housekeeping keeps failing must not stop retention of all
 * the topics after it (which a worker that died at it every round would).
 * After a topic's step, the rest of its compaction plan is carried out, one
 * segment per transaction, while the round is younger than an interval:
 * the later topics' retention and rolls wait at most that long (the sweeps
 * never do), and a compaction left over goes on at the next round.  False
 * when mqext was dropped meanwhile.  (Not inlined into worker_run_once,
 * whose PG_TRY would then cover this frame's locals.)
 */
static pg_noinline bool
worker_round(MemoryContext round_cxt)
{
	int32		topic_id = 0;
	char	   *name;
	char		sql[64];
	ErrorData  *error;
	TimestampTz started = GetCurrentTimestamp();

	/* (each transaction's end leaves us in TopMemoryContext: come back) */
	MemoryContextSwitchTo(round_cxt);
	if (!run_step_caught("SELECT mq._housekeeping_sweep()", NULL, &error) &&
		!step_failed(error, "the sweep of members, leases and nodes"))
		return false;
	for (;;)
	{
		MemoryContextSwitchTo(round_cxt);
		if (!next_topic(topic_id, &topic_id, &name))
			break;
		MemoryContextSwitchTo(round_cxt);
		snprintf(sql, sizeof(sql), "SELECT mq._housekeeping_topic(%d)", topic_id - 1);
		if (!run_step_caught(sql, NULL, &error) &&
			!step_failed(error, psprintf("housekeeping of topic \"%s\"", name)))
			return false;
		CHECK_FOR_INTERRUPTS();

		snprintf(sql, sizeof(sql), "SELECT mq._compact_more(%d)", topic_id);
		while (!TimestampDifferenceExceeds(started, GetCurrentTimestamp(),
										   mq_housekeeping_interval_ms))
		{
			bool		more = false;

			MemoryContextSwitchTo(round_cxt);
			if (!run_step_caught(sql, &more, &error))
			{
				if (!step_failed(error, psprintf("compaction of topic \"%s\"", name)))
					return false;
				break;
			}
			CHECK_FOR_INTERRUPTS();
			/* mqext.enable_compaction turned off meanwhile, say */
			if (ConfigReloadPending)
			{
				ConfigReloadPending = false;
				ProcessConfigFile(PGC_SIGHUP);
			}
			if (!more)
				break;
		}
	}
	MqCompactEndRound();
	return true;
}

/* One round of housekeeping; false when mqext is not (any more) here. */
static bool
worker_run_once(void)
{
	static MemoryContext round_cxt = NULL;
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool here;

	if (round_cxt == NULL)
		round_cxt = AllocSetContextCreate(TopMemoryContext, "mqext housekeeping round",
										  ALLOCSET_DEFAULT_SIZES);
	MemoryContextReset(round_cxt);
	/* the partition state of topics dropped with the extension */
	StartTransactionCommand();
	MqPartitionForgetVanished();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	if (!extension_installed())
		return false;
	PG_TRY();
	{
		here = worker_round(round_cxt);
	}
	PG_CATCH();
	{
		/*
		 * Listing the topics failed: if DROP EXTENSION came between our
		 * check and the list, leave quietly; anything else is the worker's
		 * end (the launcher starts another after an interval).
		 */
		MemoryContextSwitchTo(cxt);
		AbortCurrentTransaction();
		if (extension_installed())
			PG_RE_THROW();
		FlushErrorState();
		here = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	if (here)
		pgstat_report_stat(true);
	return here;
}

void
mq_worker_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	pgstat_report_appname("mqext worker");

	/*
	 * Housekeeping decides on what it reads and then re-reads under locks
	 * (a drop recounts its segment), which needs a fresh snapshot per
	 * statement whatever the database's default isolation level.
	 */
	SetConfigOption("default_transaction_isolation", "read committed",
					PGC_SUSET, PGC_S_OVERRIDE);

	/*
	 * The worker runs as the bootstrap superuser, and a database's owner
	 * sets its search_path (ALTER DATABASE ... SET): the worker's own
	 * queries must not resolve a name through it, as autovacuum's do not.
	 */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);

	SpinLockAcquire(&LauncherState->mutex);
	if (LauncherState->nworkers < MQ_LAUNCHER_MAX_DBS)
	{
		LauncherState->worker_db[LauncherState->nworkers] = dboid;
		LauncherState->worker_pid[LauncherState->nworkers] = MyProcPid;
		LauncherState->nworkers++;
	}
	SpinLockRelease(&LauncherState->mutex);
	on_shmem_exit(worker_forget_self, (Datum) 0);

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (!worker_run_once())
		{
			/* mqext was dropped (maybe during the round): its topics too */
			StartTransactionCommand();
			MqPartitionForgetVanished();
			CommitTransactionCommand();
			note_absent(dboid);
			proc_exit(0);
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 (long) mq_housekeeping_interval_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
