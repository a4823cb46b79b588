/*-------------------------------------------------------------------------
 *
 * src/mqext.c
 *	  Module entry point: GUCs, shared memory, callbacks.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "utils/acl.h"
#include "miscadmin.h"
#include "commands/dbcommands.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"

#include "catalog/metadata_cache.h"
#include "bgw/launcher.h"
#include "guc.h"
#include "log/segment.h"
#include "shmem/shmem.h"
#include "shmem/xact_hooks.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static ProcessUtility_hook_type prev_process_utility = NULL;

/*
 * DROP DATABASE and ALTER DATABASE ... RENAME need a database without
 * connections, and mqext keeps a worker connected to every database where
 * it is created: let it go first.
 */
static void
mq_process_utility(PlannedStmt *pstmt, const char *queryString,
				   bool readOnlyTree, ProcessUtilityContext context,
				   ParamListInfo params, QueryEnvironment *queryEnv,
				   DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	Oid			release = InvalidOid;

	if (IsA(parsetree, DropdbStmt) && !IsTransactionBlock())
		release = get_database_oid(((DropdbStmt *) parsetree)->dbname, true);
	else if (IsA(parsetree, RenameStmt) &&
			 ((RenameStmt *) parsetree)->renameType == OBJECT_DATABASE)
		release = get_database_oid(((RenameStmt *) parsetree)->subname, true);

	/*
	 * Only for who may run the command: releasing stops the database's
	 * worker for a while, and a role that merely tries to drop a database
	 * it does not own must not stop its housekeeping.
	 */
	if (OidIsValid(release) && pg_database_ownercheck(release, GetUserId()))
		MqLauncherReleaseDatabase(release);

	/* nor may a transaction truncate what it fetched by reference */
	if (IsA(parsetree, TruncateStmt))
	{
		ListCell   *lc;

		foreach(lc, ((TruncateStmt *) parsetree)->relations)
		{
			Oid			relid = RangeVarGetRelid(lfirst_node(RangeVar, lc), NoLock, true);

			if (OidIsValid(relid))
				MqSegmentCheckTruncate(relid);
		}
	}

	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context, params,
							 queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
}

void
_PG_init(void)
{
	/*
	 * Without preloading there is no shared memory for us: the functions
	 * that need it say so (MqRequirePreload); the rest still works.
	 */
	if (process_shared_preload_libraries_in_progress)
	{
		MqGucInit();
		MqShmemInit();
		MqLauncherRegister();
		prev_process_utility = ProcessUtility_hook;
		ProcessUtility_hook = mq_process_utility;
	}
	MqXactHooksInit();
	MqMetadataCacheInit();
	MqSegmentInit();
}
