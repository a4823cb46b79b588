/*-------------------------------------------------------------------------
 *
 * src/broker/watch.c
 *	  The LISTEN/NOTIFY watch API of topics with notify = true.
 *
 * A transaction that appended to such a topic sends, when it commits, one
 * NOTIFY per topic on the topic's channel, with a JSON payload naming the
 * topic and the last offset it wrote in each partition:
 *
 *	 {"topic": "orders", "partitions": {"0": 41, "2": 17}}
 *
 * The notifications are queued in the PRE_COMMIT callback, so PostgreSQL
 * delivers them at commit and drops them on abort.  NOTIFY serializes
 * committing transactions, which is why it is off by default.  Payloads
 * must stay under 8000 bytes: past that the partition list is left out
 * and "truncated": true tells listeners to look at mq.partitions.
 *
 * Channel names are limited to 63 bytes; mq.watch_channel() gives
 * "mq.topic.<name>" when that fits, else a prefix of the name and its MD5.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/async.h"
#include "common/md5.h"
#include "lib/stringinfo.h"
#include "utils/json.h"
#include "utils/memutils.h"

#include "broker/watch.h"
#include "mqext.h"

#define MQ_CHANNEL_PREFIX	"mq.topic."
#define MQ_NOTIFY_PAYLOAD_MAX 7900

typedef struct NotedPartition
{
	int32		partition;
	int64		last_offset;
} NotedPartition;

typedef struct NotedTopic
{
	char	   *name;
	int			nparts;
	int			cap;
	NotedPartition *parts;
} NotedTopic;

static MemoryContext watch_cxt = NULL;
static NotedTopic *noted = NULL;
static int	nnoted = 0;
static int	noted_cap = 0;

char *
MqWatchChannel(const char *topic_name)
{
	size_t		len = strlen(topic_name);
	char		hex[33];
	const char *errstr = NULL;

	if (strlen(MQ_CHANNEL_PREFIX) + len < NAMEDATALEN)
		return psprintf(MQ_CHANNEL_PREFIX "%s", topic_name);
	if (!pg_md5_hash(topic_name, len, hex, &errstr))
		elog(ERROR, "could not compute MD5 of a topic name: %s", errstr);
	/* 9 + 21 + 1 + 32 = 63 bytes */
	return psprintf(MQ_CHANNEL_PREFIX "%.21s.%s", topic_name, hex);
}

void
MqWatchNoteAppend(const char *topic_name, int32 partition, int64 last_offset)
{
	NotedTopic *t = NULL;
	MemoryContext old;

	if (watch_cxt == NULL)
		watch_cxt = AllocSetContextCreate(TopMemoryContext, "mqext watch",
										  ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(watch_cxt);

	for (int i = 0; i < nnoted; i++)
		if (strcmp(noted[i].name, topic_name) == 0)
			t = &noted[i];
	if (t == NULL)
	{
		if (nnoted >= noted_cap)
		{
			noted_cap = Max(4, noted_cap * 2);
			noted = noted ? repalloc(noted, noted_cap * sizeof(NotedTopic)) :
				palloc(noted_cap * sizeof(NotedTopic));
		}
		t = &noted[nnoted++];
		t->name = pstrdup(topic_name);
		t->nparts = 0;
		t->cap = 4;
		t->parts = palloc(t->cap * sizeof(NotedPartition));
	}
	for (int i = 0; i < t->nparts; i++)
	{
		if (t->parts[i].partition == partition)
		{
			t->parts[i].last_offset = Max(t->parts[i].last_offset, last_offset);
			MemoryContextSwitchTo(old);
			return;
		}
	}
	if (t->nparts >= t->cap)
	{
		t->cap *= 2;
		t->parts = repalloc(t->parts, t->cap * sizeof(NotedPartition));
	}
	t->parts[t->nparts].partition = partition;
	t->parts[t->nparts].last_offset = last_offset;
	t->nparts++;
	MemoryContextSwitchTo(old);
}

void
MqWatchNotifyAtPreCommit(void)
{
	for (int i = 0; i < nnoted; i++)
	{
		NotedTopic *t = &noted[i];
		StringInfoData buf;
		int			parts_start;

		initStringInfo(&buf);
		appendStringInfoString(&buf, "{\"topic\": ");
		escape_json(&buf, t->name);
		parts_start = buf.len;
		appendStringInfoString(&buf, ", \"partitions\": {");
		for (int p = 0; p < t->nparts; p++)
			appendStringInfo(&buf, "%s\"%d\": " INT64_FORMAT, p > 0 ? ", " : "",
							 t->parts[p].partition, t->parts[p].last_offset);
		appendStringInfoString(&buf, "}}");
		if (buf.len > MQ_NOTIFY_PAYLOAD_MAX)
		{
			buf.len = parts_start;
			buf.data[buf.len] = '\0';
			appendStringInfoString(&buf, ", \"truncated\": true}");
		}
		Async_Notify(MqWatchChannel(t->name), buf.data);
		pfree(buf.data);
	}
	MqWatchForget();
}

void
MqWatchForget(void)
{
	nnoted = 0;
	noted = NULL;
	noted_cap = 0;
	if (watch_cxt != NULL)
		MemoryContextReset(watch_cxt);
}
