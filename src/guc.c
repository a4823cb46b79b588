/*-------------------------------------------------------------------------
 *
 * src/guc.c
 *	  Every mqext.* GUC, with its range and default.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/guc.h"

#include "guc.h"

int			mq_max_partitions = 65536;
int			mq_max_inflight_appends = 16384;
int			mq_node_max_data_bytes = 1048576;

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

	MarkGUCPrefixReserved("mqext");
}
