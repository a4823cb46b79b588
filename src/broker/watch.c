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

#include "mb/pg_wchar.h"

#include "access/xact.h"
#include "commands/async.h"
#include "common/md5.h"
#include "lib/stringinfo.h"
#include "utils/json.h"
#include "utils/memutils.h"

#include "broker/watch.h"
#include "mqext.h"

#define MQ_CHANNEL_PREFIX	"mq.topic."
#define MQ_NOTIFY_PAYLOAD_MAX 7900

/*
 * One append to remember, with the subtransaction level that made it: an
 * append rolled back to a savepoint must not be announced.
 */
typedef struct Note
{
	char	   *topic;
	int32		partition;
	int64		last_offset;
	int			level;
} Note;

static MemoryContext watch_cxt = NULL;
static Note *notes = NULL;
static int	nnotes = 0;
static int	notes_cap = 0;

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
	/*
	 * 9 + at most 21 + 1 + 32 = 63 bytes; cut at a character boundary (a
	 * topic name is ASCII, but this is callable with any text)
	 */
	return psprintf(MQ_CHANNEL_PREFIX "%.*s.%s",
					pg_mbcliplen(topic_name, (int) len, 21), topic_name, hex);
}

void
MqWatchNoteAppend(const char *topic_name, int32 partition, int64 last_offset)
{
	int			level = GetCurrentTransactionNestLevel();
	MemoryContext old;

	/* same topic, partition and level as the last note: just move it on */
	for (int i = nnotes - 1; i >= 0 && notes[i].level == level; i--)
	{
		if (notes[i].partition == partition && strcmp(notes[i].topic, topic_name) == 0)
		{
			notes[i].last_offset = Max(notes[i].last_offset, last_offset);
			return;
		}
	}

	if (watch_cxt == NULL)
		watch_cxt = AllocSetContextCreate(TopMemoryContext, "mqext watch",
										  ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(watch_cxt);
	if (nnotes >= notes_cap)
	{
		notes_cap = Max(8, notes_cap * 2);
		notes = notes ? repalloc(notes, notes_cap * sizeof(Note)) :
			palloc(notes_cap * sizeof(Note));
	}
	notes[nnotes].topic = pstrdup(topic_name);
	notes[nnotes].partition = partition;
	notes[nnotes].last_offset = last_offset;
	notes[nnotes].level = level;
	nnotes++;
	MemoryContextSwitchTo(old);
}

/* A subtransaction ended: forget its notes, or hand them to its parent. */
void
MqWatchSubXactEnd(bool commit)
{
	int			level = GetCurrentTransactionNestLevel();
	int			kept = 0;

	for (int i = 0; i < nnotes; i++)
	{
		if (notes[i].level >= level)
		{
			if (!commit)
				continue;
			notes[i].level = level - 1;
		}
		notes[kept++] = notes[i];
	}
	nnotes = kept;
}

static int
note_cmp(const void *a, const void *b)
{
	const Note *x = (const Note *) a;
	const Note *y = (const Note *) b;
	int			c = strcmp(x->topic, y->topic);

	if (c != 0)
		return c;
	return (x->partition > y->partition) - (x->partition < y->partition);
}

/* One NOTIFY per topic, with the last offset written in each partition. */
void
MqWatchNotifyAtPreCommit(void)
{
	int			i = 0;

	if (nnotes == 0)
		return;
	qsort(notes, nnotes, sizeof(Note), note_cmp);
	while (i < nnotes)
	{
		const char *topic = notes[i].topic;
		StringInfoData buf;
		int			parts_start;
		bool		first = true;

		initStringInfo(&buf);
		appendStringInfoString(&buf, "{\"topic\": ");
		escape_json(&buf, topic);
		parts_start = buf.len;
		appendStringInfoString(&buf, ", \"partitions\": {");
		while (i < nnotes && strcmp(notes[i].topic, topic) == 0)
		{
			int32		partition = notes[i].partition;
			int64		last = notes[i].last_offset;

			for (; i < nnotes && strcmp(notes[i].topic, topic) == 0 &&
				 notes[i].partition == partition; i++)
				last = Max(last, notes[i].last_offset);
			appendStringInfo(&buf, "%s\"%d\": " INT64_FORMAT, first ? "" : ", ",
							 partition, last);
			first = false;
		}
		appendStringInfoString(&buf, "}}");
		if (buf.len > MQ_NOTIFY_PAYLOAD_MAX)
		{
			buf.len = parts_start;
			buf.data[buf.len] = '\0';
			appendStringInfoString(&buf, ", \"truncated\": true}");
		}
		Async_Notify(MqWatchChannel(topic), buf.data);
		pfree(buf.data);
	}
	MqWatchForget();
}

void
MqWatchForget(void)
{
	nnotes = 0;
	notes = NULL;
	notes_cap = 0;
	if (watch_cxt != NULL)
		MemoryContextReset(watch_cxt);
}
