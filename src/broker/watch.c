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
 * "mq.topic.<name>" when that fits, else a prefix of the name, '#' and
 * its MD5.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"

#include "access/xact.h"
#include "commands/async.h"
#include "common/md5.h"
#include "lib/stringinfo.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/memutils.h"

#include "broker/watch.h"
#include "mqext.h"

#define MQ_CHANNEL_PREFIX	"mq.topic."
#define MQ_NOTIFY_PAYLOAD_MAX 7900

/*
 * One (topic, partition) appended to, with the subtransaction level that
 * made the note: an append rolled back to a savepoint must not be
 * announced.  The notes are kept in the order they were made, so their
 * levels never decrease along the list, and a hash finds a note by its
 * key at once: a transaction may append many times, each in a savepoint
 * of its own (psql's ON_ERROR_ROLLBACK, a driver's autosave), and must not
 * pay for the notes of the others each time.
 */
typedef struct NoteKey
{
	char		topic[MQ_TOPIC_NAME_MAX + 1];	/* zero-padded: hashed as bytes */
	int32		partition;
	int32		level;
} NoteKey;

typedef struct Note
{
	NoteKey		key;			/* must be first */
	int64		last_offset;
} Note;

static MemoryContext watch_cxt = NULL;
static HTAB *note_hash = NULL;
static Note **notes = NULL;		/* in the order they were made */
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
	 * topic name is ASCII, but this is callable with any text).  '#' is
	 * not a character of topic names, so no shorter name's channel looks
	 * like this.
	 */
	return psprintf(MQ_CHANNEL_PREFIX "%.*s#%s",
					pg_mbcliplen(topic_name, (int) len, 21), topic_name, hex);
}

static void
note_key(NoteKey *key, const char *topic_name, int32 partition, int level)
{
	memset(key, 0, sizeof(NoteKey));
	strlcpy(key->topic, topic_name, sizeof(key->topic));
	key->partition = partition;
	key->level = level;
}

void
MqWatchNoteAppend(const char *topic_name, int32 partition, int64 last_offset)
{
	NoteKey		key;
	Note	   *note;
	bool		found;

	if (watch_cxt == NULL)
		watch_cxt = AllocSetContextCreate(TopMemoryContext, "mqext watch",
										  ALLOCSET_SMALL_SIZES);
	if (note_hash == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(NoteKey);
		ctl.entrysize = sizeof(Note);
		ctl.hcxt = watch_cxt;
		note_hash = hash_create("mqext watch notes", 16, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	/* room first: an entry made must make it into the list */
	if (nnotes >= notes_cap)
	{
		int			cap = Max(16, notes_cap * 2);

		notes = notes ? repalloc(notes, cap * sizeof(Note *)) :
			MemoryContextAlloc(watch_cxt, cap * sizeof(Note *));
		notes_cap = cap;
	}
	note_key(&key, topic_name, partition, GetCurrentTransactionNestLevel());
	note = hash_search(note_hash, &key, HASH_ENTER, &found);
	if (found)
	{
		note->last_offset = Max(note->last_offset, last_offset);
		return;
	}
	note->last_offset = last_offset;
	notes[nnotes++] = note;
}

/*
 * A topic dropped, or its notify turned off, in this transaction: its
 * appends are not announced.  (Were that rolled back to a savepoint, they
 * stay unannounced: a notification is a hint, and a blocking poll does not
 * need it.)
 */
void
MqWatchForgetTopic(const char *topic_name)
{
	int			kept = 0;

	for (int i = 0; i < nnotes; i++)
	{
		if (strcmp(notes[i]->key.topic, topic_name) == 0)
			hash_search(note_hash, &notes[i]->key, HASH_REMOVE, NULL);
		else
			notes[kept++] = notes[i];
	}
	nnotes = kept;
}

/*
 * A subtransaction ended: forget its notes, or hand them to its parent,
 * merged with the parent's note of the same partition.  Its notes are the
 * tail of the list (levels never decrease along it).
 */
void
MqWatchSubXactEnd(bool commit)
{
	int			level = GetCurrentTransactionNestLevel();
	int			first = nnotes;
	int			kept;

	while (first > 0 && notes[first - 1]->key.level >= level)
		first--;
	if (first == nnotes)
		return;
	kept = first;
	for (int i = first; i < nnotes; i++)
	{
		NoteKey		up;
		int64		last = notes[i]->last_offset;
		Note	   *parent;
		bool		found;

		/* (the key built anew: its padding is hashed too) */
		note_key(&up, notes[i]->key.topic, notes[i]->key.partition, level - 1);
		hash_search(note_hash, &notes[i]->key, HASH_REMOVE, NULL);
		if (!commit)
			continue;
		parent = hash_search(note_hash, &up, HASH_ENTER, &found);
		if (found)
			parent->last_offset = Max(parent->last_offset, last);
		else
		{
			parent->last_offset = last;
			notes[kept++] = parent;
		}
	}
	nnotes = kept;
}

static int
note_cmp(const void *a, const void *b)
{
	const Note *x = *(Note *const *) a;
	const Note *y = *(Note *const *) b;
	int			c = strcmp(x->key.topic, y->key.topic);

	if (c != 0)
		return c;
	return (x->key.partition > y->key.partition) - (x->key.partition < y->key.partition);
}

/*
 * One NOTIFY per topic, with the last offset written in each partition.
 * (No catalog lookup here: an error would fail the COMMIT.  A topic whose
 * notify was turned off, or that was dropped, forgot its notes then:
 * MqWatchForgetTopic.)
 */
void
MqWatchNotifyAtPreCommit(void)
{
	int			i = 0;

	if (nnotes == 0)
		return;
	qsort(notes, nnotes, sizeof(Note *), note_cmp);
	while (i < nnotes)
	{
		const char *topic = notes[i]->key.topic;
		StringInfoData buf;
		int			parts_start;
		bool		first = true;

		initStringInfo(&buf);
		appendStringInfoString(&buf, "{\"topic\": ");
		escape_json(&buf, topic);
		parts_start = buf.len;
		appendStringInfoString(&buf, ", \"partitions\": {");
		while (i < nnotes && strcmp(notes[i]->key.topic, topic) == 0)
		{
			int32		partition = notes[i]->key.partition;
			int64		last = notes[i]->last_offset;

			for (; i < nnotes && strcmp(notes[i]->key.topic, topic) == 0 &&
				 notes[i]->key.partition == partition; i++)
				last = Max(last, notes[i]->last_offset);
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
	note_hash = NULL;
	if (watch_cxt != NULL)
		MemoryContextReset(watch_cxt);
}
