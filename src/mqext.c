/*-------------------------------------------------------------------------
 *
 * src/mqext.c
 *	  Module entry point: GUCs, shared memory, callbacks.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

#include "catalog/metadata_cache.h"
#include "bgw/launcher.h"
#include "guc.h"
#include "shmem/shmem.h"
#include "shmem/xact_hooks.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

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
	}
	MqXactHooksInit();
	MqMetadataCacheInit();
}
