/*-------------------------------------------------------------------------
 *
 * src/guc.h
 *	  mqext.* configuration parameters.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_GUC_H
#define MQ_GUC_H

extern int	mq_max_partitions;
extern int	mq_max_inflight_appends;
extern int	mq_node_max_data_bytes;
extern int	mq_housekeeping_interval_ms;
extern int	mq_poll_rebalance_wait_ms;
extern int	mq_compaction_buffer_kb;
extern bool mq_enable_retention;
extern bool mq_enable_segment_roll;
extern bool mq_enable_sweeps;
extern bool mq_enable_compaction;

extern void MqGucInit(void);

#endif							/* MQ_GUC_H */
