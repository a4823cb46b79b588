/*-------------------------------------------------------------------------
 *
 * src/group/session.h
 *	  Group members bound to a database session.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_SESSION_H
#define MQ_SESSION_H

#include "datatype/timestamp.h"

extern void MqBindSession(void);
extern bool MqSessionAlive(int pid, TimestampTz started);

#endif							/* MQ_SESSION_H */
