/*-------------------------------------------------------------------------
 *
 * src/bgw/launcher.h
 *	  The launcher and the per-database housekeeping workers.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_LAUNCHER_H
#define MQ_LAUNCHER_H

#include "fmgr.h"

extern void MqLauncherRegister(void);
extern void MqLauncherWakeup(void);
extern void MqLauncherWakeupAtCommit(void);
extern void MqLauncherXactEnd(bool commit);
extern void MqLauncherReleaseDatabase(Oid dboid);
extern Size MqLauncherShmemSize(void);
extern void MqLauncherShmemInit(void);

extern PGDLLEXPORT void mq_launcher_main(Datum arg);
extern PGDLLEXPORT void mq_worker_main(Datum arg);

#endif							/* MQ_LAUNCHER_H */
