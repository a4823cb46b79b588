/*-------------------------------------------------------------------------
 *
 * src/broker/headers.h
 *	  Record headers between jsonb (the SQL API) and Kafka's wire form.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_HEADERS_H
#define MQ_HEADERS_H

#include "utils/jsonb.h"

#include "codec/record_batch.h"

extern MqHeader *MqHeadersFromJsonb(Jsonb *jb, int32 *nheaders);
extern Jsonb *MqHeadersToJsonb(const MqDecodedRecord *rec);

#endif							/* MQ_HEADERS_H */
