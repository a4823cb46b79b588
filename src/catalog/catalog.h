/*-------------------------------------------------------------------------
 *
 * src/catalog/catalog.h
 *	  Column numbers of the relations mqext's C code reads and writes.
 *
 * Keep in step with sql/mqext--*.sql.  Columns are never dropped: a
 * change rebuilds the relation, so these numbers hold in every segment.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_CATALOG_H
#define MQ_CATALOG_H

/* mq_data.log and every segment under it: one row per record batch */
#define Anum_mq_log_topic_id		1
#define Anum_mq_log_segment_id		2
#define Anum_mq_log_partition		3
#define Anum_mq_log_base_offset		4
#define Anum_mq_log_last_offset		5
#define Anum_mq_log_base_ts			6
#define Anum_mq_log_max_ts			7
#define Anum_mq_log_record_count	8
#define Anum_mq_log_producer_id		9
#define Anum_mq_log_producer_epoch	10
#define Anum_mq_log_base_sequence	11
#define Anum_mq_log_batch			12
#define Natts_mq_log				12

/* the segment index on (partition, last_offset) */
#define Anum_mq_log_idx_partition	1
#define Anum_mq_log_idx_last_offset	2

/*
 * mq.offset_ceiling, written in place: every column fixed-width and NOT
 * NULL, so a row can be read and written through this struct.
 */
typedef struct FormData_mq_offset_ceiling
{
	int32		topic_id;
	int32		partition;
	int64		ceiling;
} FormData_mq_offset_ceiling;

#define Anum_mq_offset_ceiling_topic_id		1
#define Anum_mq_offset_ceiling_partition	2

#endif							/* MQ_CATALOG_H */
