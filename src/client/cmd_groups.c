/*-------------------------------------------------------------------------
 *
 * src/client/cmd_groups.c
 *		mqctl groups list|describe|reset-offsets|delete
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "mqctl.h"

static const char *groups_help =
"mqctl groups - consumer groups\n"
"\n"
"Usage:\n"
"  mqctl groups list [--tsv]\n"
"  mqctl groups describe GROUP [--tsv]\n"
"  mqctl groups reset-offsets GROUP --topic TOPIC... --to WHERE [--dry-run]\n"
"  mqctl groups delete GROUP...\n"
"\n"
"\"mqctl groups SUBCOMMAND --help\" describes each sub-command.\n"
COMMON_HELP;

static const char *list_help =
"mqctl groups list - list consumer groups\n"
"\n"
"Usage:\n"
"  mqctl groups list [OPTIONS]\n"
"\n"
"One line per group: state (Empty or Stable), generation, assignment\n"
"strategy, members, and total lag (records between the committed offsets\n"
"and the high watermarks).\n"
"\n"
"Options:\n"
"      --tsv               tab-separated rows without a header\n"
COMMON_HELP;

static const char *describe_help =
"mqctl groups describe - a group's members and lag per partition\n"
"\n"
"Usage:\n"
"  mqctl groups describe GROUP [OPTIONS]\n"
"\n"
"Prints the group, its members with their assignments, and per partition\n"
"the committed offset, the high watermark, the lag and the owning member.\n"
"\n"
"Options:\n"
"      --tsv               tab-separated rows without headers\n"
COMMON_HELP;

static const char *reset_help =
"mqctl groups reset-offsets - move a group's committed offsets\n"
"\n"
"Usage:\n"
"  mqctl groups reset-offsets GROUP --topic TOPIC [--topic TOPIC]... --to WHERE\n"
"\n"
"WHERE is earliest, latest, an offset, or a timestamp (the first record at or\n"
"after it).  Only while the group has no members, as Kafka requires.  All\n"
"topics are reset in one transaction; the new offsets are printed.\n"
"\n"
"Options:\n"
"  -t, --topic=TOPIC       a topic to reset (repeatable)\n"
"      --to=WHERE          earliest, latest, OFFSET or TIMESTAMP\n"
"      --dry-run           print the offsets it would set, change nothing\n"
"      --tsv               tab-separated rows without a header\n"
COMMON_HELP;

static const char *delete_help =
"mqctl groups delete - delete groups without members, and their offsets\n"
"\n"
"Usage:\n"
"  mqctl groups delete GROUP...\n"
COMMON_HELP;

enum
{
	OPT_TSV = OPT_FIRST_COMMAND,
	OPT_TO,
	OPT_DRY_RUN
};

static int
groups_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{"tsv", no_argument, NULL, OPT_TSV},
		COMMON_LONGOPTS
	};
	bool		tsv = false;
	int			c;
	PGconn	   *conn;
	PGresult   *res;

	while ((c = getopt_long(argc, argv, COMMON_SHORTOPTS, opts, NULL)) != -1)
	{
		if (c == OPT_TSV)
			tsv = true;
		else
			common_option(c, "groups list", list_help);
	}
	if (optind < argc)
		usage_error("groups list", "unexpected argument \"%s\"", argv[optind]);
	conn = mq_connect();
	res = mq_exec(conn,
				  "SELECT g.group_id AS group, g.state, g.generation, g.strategy, g.members,"
				  "       coalesce((SELECT sum(l.lag) FROM mq.consumer_lag l"
				  "                  WHERE l.group_id = g.group_id), 0) AS lag"
				  "  FROM mq.groups g ORDER BY g.group_id",
				  0, NULL);
	print_table(res, tsv);
	PQclear(res);
	PQfinish(conn);
	return EXIT_OK;
}

static int
groups_describe(int argc, char **argv)
{
	static const struct option opts[] = {
		{"tsv", no_argument, NULL, OPT_TSV},
		COMMON_LONGOPTS
	};
	bool		tsv = false;
	int			c;
	PGconn	   *conn;
	PGresult   *res;
	const char *params[1];

	while ((c = getopt_long(argc, argv, COMMON_SHORTOPTS, opts, NULL)) != -1)
	{
		if (c == OPT_TSV)
			tsv = true;
		else
			common_option(c, "groups describe", describe_help);
	}
	if (optind != argc - 1)
		usage_error("groups describe", "give exactly one group");
	params[0] = argv[optind];
	conn = mq_connect();
	res = mq_exec(conn,
				  "SELECT group_id, state, generation, strategy, members FROM mq.groups"
				  " WHERE group_id = $1", 1, params);
	if (PQntuples(res) == 0)
	{
		PQclear(res);
		PQfinish(conn);
		fatal("group \"%s\" does not exist", params[0]);
	}
	if (!tsv)
		printf("Group: %s\tState: %s\tGeneration: %s\tStrategy: %s\tMembers: %s\n\n",
			   PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
			   PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4));
	PQclear(res);

	res = mq_exec(conn,
				  "SELECT member_id || coalesce('#' || incarnation, '') AS member_id,"
				  "       session_bound, array_to_string(topics, ',') AS topics,"
				  "       assignment, last_poll"
				  "  FROM mq.group_members WHERE group_id = $1 ORDER BY member_id",
				  1, params);
	if (PQntuples(res) > 0 || !tsv)
	{
		print_table(res, tsv);
		if (!tsv)
			putchar('\n');
	}
	PQclear(res);

	res = mq_exec(conn,
				  "SELECT topic, partition, committed_offset, high_watermark, lag,"
				  "       coalesce(member_id, '') AS member_id"
				  "  FROM mq.consumer_lag WHERE group_id = $1 ORDER BY topic, partition",
				  1, params);
	print_table(res, tsv);
	PQclear(res);
	PQfinish(conn);
	return EXIT_OK;
}

static int
groups_reset_offsets(int argc, char **argv)
{
	static const struct option opts[] = {
		{"topic", required_argument, NULL, 't'},
		{"to", required_argument, NULL, OPT_TO},
		{"dry-run", no_argument, NULL, OPT_DRY_RUN},
		{"tsv", no_argument, NULL, OPT_TSV},
		COMMON_LONGOPTS
	};
	const char **topics = xmalloc(sizeof(char *) * (argc + 1));
	int			ntopics = 0;
	const char *to = NULL;
	bool		dry_run = false;
	bool		tsv = false;
	int			c;
	PGconn	   *conn;
	PGresult   *res;
	const char *params[3];
	Buf			arr;

	while ((c = getopt_long(argc, argv, "t:" COMMON_SHORTOPTS, opts, NULL)) != -1)
	{
		switch (c)
		{
			case 't':
				topics[ntopics++] = optarg;
				break;
			case OPT_TO:
				to = optarg;
				break;
			case OPT_DRY_RUN:
				dry_run = true;
				break;
			case OPT_TSV:
				tsv = true;
				break;
			default:
				common_option(c, "groups reset-offsets", reset_help);
		}
	}
	if (optind != argc - 1)
		usage_error("groups reset-offsets", "give exactly one group");
	if (ntopics == 0)
		usage_error("groups reset-offsets", "give the topics to reset with --topic");
	if (to == NULL)
		usage_error("groups reset-offsets", "give --to earliest, latest, an offset or a timestamp");

	conn = mq_connect();
	PQclear(mq_exec(conn, "BEGIN", 0, NULL));
	params[0] = argv[optind];
	params[2] = to;
	for (int i = 0; i < ntopics; i++)
	{
		params[1] = topics[i];
		res = PQexecParams(conn, "SELECT mq.reset_offsets($1, $2, $3)", 3, NULL,
						   params, NULL, NULL, 0);
		if (!result_ok(res))
		{
			char		ctx[512];

			snprintf(ctx, sizeof(ctx), "topic \"%s\"", topics[i]);
			mq_fail(conn, res, ctx);
		}
		PQclear(res);
	}

	/* the offsets now committed for those topics */
	buf_init(&arr);
	buf_putc(&arr, '{');
	for (int i = 0; i < ntopics; i++)
	{
		if (i)
			buf_putc(&arr, ',');
		buf_putc(&arr, '"');
		for (const char *p = topics[i]; *p; p++)
		{
			if (*p == '"' || *p == '\\')
				buf_putc(&arr, '\\');
			buf_putc(&arr, *p);
		}
		buf_putc(&arr, '"');
	}
	buf_putc(&arr, '}');
	params[1] = arr.data;
	res = mq_exec(conn,
				  "SELECT topic, partition, committed_offset, high_watermark, lag"
				  "  FROM mq.consumer_lag WHERE group_id = $1 AND topic = ANY ($2::text[])"
				  " ORDER BY topic, partition", 2, params);
	PQclear(mq_exec(conn, dry_run ? "ROLLBACK" : "COMMIT", 0, NULL));
	if (dry_run && !tsv)
		printf("(dry run: nothing changed)\n");
	print_table(res, tsv);
	PQclear(res);
	PQfinish(conn);
	buf_free(&arr);
	free(topics);
	return EXIT_OK;
}

static int
groups_delete(int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_LONGOPTS
	};
	int			c;
	PGconn	   *conn;

	while ((c = getopt_long(argc, argv, COMMON_SHORTOPTS, opts, NULL)) != -1)
		common_option(c, "groups delete", delete_help);
	if (optind >= argc)
		usage_error("groups delete", "give the groups to delete");
	conn = mq_connect();
	for (int i = optind; i < argc; i++)
	{
		const char *params[1] = {argv[i]};

		PQclear(mq_exec(conn, "SELECT mq.delete_group($1)", 1, params));
		verbose_msg("group \"%s\" deleted", argv[i]);
	}
	PQfinish(conn);
	return EXIT_OK;
}

int
cmd_groups(int argc, char **argv)
{
	static const struct
	{
		const char *name;
		int			(*fn) (int, char **);
	}			subs[] = {
		{"list", groups_list},
		{"describe", groups_describe},
		{"reset-offsets", groups_reset_offsets},
		{"delete", groups_delete},
	};

	if (argc < 2 || strcmp(argv[1], "--help") == 0)
	{
		fputs(groups_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].fn(argc - 1, argv + 1);
	usage_error("groups", "unknown sub-command \"%s\"", argv[1]);
}
