/*-------------------------------------------------------------------------
 *
 * src/shmem/xact_hooks.h
 *	  Transaction callbacks: end in-flight appends, refuse PREPARE.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_XACT_HOOKS_H
#define MQ_XACT_HOOKS_H

extern void MqXactHooksInit(void);

#endif							/* MQ_XACT_HOOKS_H */
