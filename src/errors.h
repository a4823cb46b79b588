/*-------------------------------------------------------------------------
 *
 * src/errors.h
 *	  mqext's own SQLSTATE class "MQ" for domain errors.
 *
 * Generic failures use PostgreSQL's codes (22023 for a bad argument,
 * 42704 for an unknown topic, 54000 for an oversized record, 55000 when
 * mqext is not preloaded).  Errors a Kafka client would see as a distinct
 * exception get a code of their own so that applications can catch them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_ERRORS_H
#define MQ_ERRORS_H

#include "utils/elog.h"

/* MQ001: the producer's epoch is older than the current one (fenced). */
#define ERRCODE_MQ_PRODUCER_FENCED			MAKE_SQLSTATE('M','Q','0','0','1')
/* MQ002: a sequence number is not the next one expected. */
#define ERRCODE_MQ_OUT_OF_ORDER_SEQUENCE	MAKE_SQLSTATE('M','Q','0','0','2')
/* MQ003: a duplicate batch too old to be answered with its offsets. */
#define ERRCODE_MQ_DUPLICATE_SEQUENCE		MAKE_SQLSTATE('M','Q','0','0','3')
/* MQ004: unknown producer id, or an epoch never issued. */
#define ERRCODE_MQ_UNKNOWN_PRODUCER			MAKE_SQLSTATE('M','Q','0','0','4')
/* MQ005: a stored record batch failed validation. */
#define ERRCODE_MQ_CORRUPT_BATCH			MAKE_SQLSTATE('M','Q','0','0','5')

#endif							/* MQ_ERRORS_H */
