/*-------------------------------------------------------------------------
 *
 * src/log/segment.h
 *	  Open a segment relation of a topic together with its offset index.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_SEGMENT_H
#define MQ_SEGMENT_H

#include "nodes/execnodes.h"
#include "storage/lockdefs.h"
#include "utils/rel.h"

#include "catalog/metadata_cache.h"

typedef struct MqSegmentRel
{
	int64		segment_id;
	Relation	heap;
	Relation	index;			/* on (partition, last_offset) */
	IndexInfo  *index_info;		/* built only for appends */
} MqSegmentRel;

extern bool MqSegmentOpen(const MqTopic *topic, int seg, LOCKMODE mode,
						  MqSegmentRel *out, bool missing_ok);
extern Oid	MqSegmentRelid(int64 segment_id);
extern void MqSegmentOpenId(const MqTopic *topic, int64 segment_id, LOCKMODE mode,
							MqSegmentRel *out);
extern void MqSegmentLockPolitely(Oid relid, LOCKMODE mode, int timeout_ms);
extern void MqSegmentHoldForTransaction(MqSegmentRel *seg, LOCKMODE mode);
extern void MqSegmentHoldReferenced(MqSegmentRel *seg);
extern void MqSegmentClose(MqSegmentRel *seg);
extern void MqSegmentInit(void);
extern void MqSegmentXactEnd(void);
extern void MqSegmentCheckTruncate(Oid relid);

#endif							/* MQ_SEGMENT_H */
