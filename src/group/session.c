/*-------------------------------------------------------------------------
 *
 * src/group/session.c
 *	  Group members bound to a database session.
 *
 * A member subscribed without a member id belongs to the session that
 * subscribed it, identified by (pid, backend start time): a pid alone can
 * be reused.  It must leave its groups the moment the session ends:
 *
 *	- a session that ends normally, is terminated, or whose client vanished
 *	  (the backend sees EOF and exits) runs mq._session_exit() from a
 *	  before_shmem_exit callback, in a transaction of its own, as temporary
 *	  relations are dropped; the rebalance it commits wakes the other
 *	  members at once;
 *	- a backend that dies without running callbacks (kill -9, which also
 *	  restarts the server) leaves rows whose session is gone; every
 *	  subscribe and poll of the group sweeps those (MqSessionAlive).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/backend_status.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "group/session.h"
#include "mqext.h"

static bool exit_callback_registered = false;

static void
mq_session_exit(int code, Datum arg)
{
	Oid			save_userid;
	int			save_sec_context;

	if (!OidIsValid(MyDatabaseId))
		return;

	AbortOutOfAnyTransaction();
	StartTransactionCommand();
	PG_TRY();
	{
		/*
		 * Run as the bootstrap superuser: the session's role may hold
		 * EXECUTE on mq.subscribe but not on this internal function.
		 */
		GetUserIdAndSecContext(&save_userid, &save_sec_context);
		SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
							   save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
		if (OidIsValid(get_extension_oid(MQ_EXTENSION_NAME, true)))
		{
			PushActiveSnapshot(GetTransactionSnapshot());
			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");
			SPI_execute("SELECT mq._session_exit()", false, 0);
			SPI_finish();
			PopActiveSnapshot();
		}
		SetUserIdAndSecContext(save_userid, save_sec_context);
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		/*
		 * Leaving is best effort: the sweep removes what we could not.  (While
		 * the process exits, elog turns an ERROR into FATAL, which does not
		 * come back here; the process just ends a little earlier.)
		 */
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
	}
	PG_END_TRY();
}

/* Make sure this session's members leave their groups when it ends. */
void
MqBindSession(void)
{
	if (!exit_callback_registered)
	{
		before_shmem_exit(mq_session_exit, (Datum) 0);
		exit_callback_registered = true;
	}
}

/* Is the session (pid, backend start time) in the backend-status snapshot? */
static bool
session_in_snapshot(int pid, TimestampTz started)
{
	int			n = pgstat_fetch_stat_numbackends();

	for (int i = 1; i <= n; i++)
	{
		LocalPgBackendStatus *local = pgstat_fetch_stat_local_beentry(i);

		if (local != NULL && local->backendStatus.st_procpid == pid)
			return local->backendStatus.st_proc_start_timestamp == started;
	}
	return false;
}

/* Is the session (pid, backend start time) still connected? */
bool
MqSessionAlive(int pid, TimestampTz started)
{
	static TimestampTz last_snapshot = 0;
	TimestampTz now;

	if (pid == MyProcPid)
		return started == MyStartTimestamp;

	/*
	 * The activity snapshot is per transaction, and we need the present;
	 * but a sweep asks for every session-bound member of a group, and
	 * copying every backend's status for each would make a poll cost
	 * members x max_connections.  So a snapshot up to a tenth of a second
	 * old answers "alive" (a session that ended since is swept next time),
	 * but never "gone": the session may have started after it was taken.
	 */
	now = GetCurrentTimestamp();
	if (now - last_snapshot <= 100 * 1000 && session_in_snapshot(pid, started))
		return true;
	pgstat_clear_backend_activity_snapshot();
	last_snapshot = now;
	return session_in_snapshot(pid, started);
}
