/*-------------------------------------------------------------------------
 *
 * src/coord/autonomous.h
 *	  Run one statement in a transaction of its own, committed at once.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_AUTONOMOUS_H
#define MQ_AUTONOMOUS_H

#include "fmgr.h"

extern char *MqRunAutonomous(const char *sql, int nargs, const char *const *args);

extern PGDLLEXPORT void mq_autonomous_main(Datum arg);

#endif							/* MQ_AUTONOMOUS_H */
