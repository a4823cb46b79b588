/*-------------------------------------------------------------------------
 *
 * src/guc.c
 *	  Every mqext.* GUC, with its range and default.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "guc.h"

int			mq_max_partitions = 65536;
int			mq_max_inflight_appends = 16384;
int			mq_node_max_data_bytes = 1048576;
int			mq_housekeeping_interval_ms = 10000;
int			mq_poll_rebalance_wait_ms = 200;
int			mq_compaction_buffer_kb = 131072;
bool		mq_enable_retention = true;
bool		mq_enable_segment_roll = true;
bool		mq_enable_sweeps = true;
bool		mq_enable_compaction = true;

void
MqGucInit(void)
{
	DefineCustomIntVariable("mqext.max_partitions",
							gettext_noop("Maximum number of partitions, over all topics of all databases, whose state mqext keeps in shared memory."),
							NULL,
							&mq_max_partitions,
							65536, 16, 16777216,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("mqext.max_inflight_appends",
							gettext_noop("Maximum number of (open transaction, partition) pairs with appends at any one time."),
							NULL,
							&mq_max_inflight_appends,
							16384, 64, 16777216,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("mqext.node_max_data_bytes",
							gettext_noop("Largest data a coordination node may hold."),
							NULL,
							&mq_node_max_data_bytes,
							1048576, 0, 1073741823,
							PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomIntVariable("mqext.housekeeping_interval",
							gettext_noop("How often the background workers run retention, segment rolling and the sweeps."),
							NULL,
							&mq_housekeeping_interval_ms,
							10000, 100, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("mqext.enable_retention",
							 gettext_noop("Drop segments past retention.ms and retention.bytes."),
							 NULL, &mq_enable_retention, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);

	DefineCustomBoolVariable("mqext.enable_segment_roll",
							 gettext_noop("Start new segments past segment.ms and segment.bytes."),
							 NULL, &mq_enable_segment_roll, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);

	DefineCustomBoolVariable("mqext.enable_compaction",
							 gettext_noop("Compact topics with cleanup.policy compact."),
							 NULL, &mq_enable_compaction, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("mqext.compaction_buffer_size",
							gettext_noop("Memory for the map of keys a compaction builds (Kafka's log.cleaner.dedupe.buffer.size)."),
							gettext_noop("A compaction maps the oldest cleanable segments up to this and leaves the rest for later."),
							&mq_compaction_buffer_kb,
							131072, 64, MAX_KILOBYTES,
							PGC_SUSET, GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("mqext.enable_sweeps",
							 gettext_noop("Remove expired group members, leases and ephemeral nodes of ended sessions."),
							 NULL, &mq_enable_sweeps, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("mqext.poll_rebalance_wait",
							gettext_noop("How long a poll that finds a rebalance due waits for another transaction already changing the group."),
							gettext_noop("Past it the poll goes on with the assignment it has, and gets the new one at its next poll; 0 does not wait."),
							&mq_poll_rebalance_wait_ms,
							200, 0, 60000,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
	MarkGUCPrefixReserved("mqext");
}
