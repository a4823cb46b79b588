/*-------------------------------------------------------------------------
 *
 * src/client/cmd_topics.c
 *		mqctl topics list|describe|create|drop|alter|add-partitions
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "mqctl.h"

static const char *topics_help =
"mqctl topics - administer topics\n"
"\n"
"Usage:\n"
"  mqctl topics list [-l] [--tsv]\n"
"  mqctl topics describe TOPIC [--tsv]\n"
"  mqctl topics create TOPIC [-p PARTITIONS] [-c KEY=VALUE]... [--if-not-exists]\n"
"  mqctl topics drop TOPIC [--if-exists]\n"
"  mqctl topics alter TOPIC [-c KEY=VALUE]... [--delete-config KEY]...\n"
"  mqctl topics add-partitions TOPIC TOTAL\n"
"\n"
"Topic configs (Kafka's names): retention.ms, retention.bytes, segment.ms,\n"
"segment.bytes, max.message.bytes, message.timestamp.type, cleanup.policy,\n"
"notify.  \"mqctl topics SUBCOMMAND --help\" describes each sub-command.\n"
COMMON_HELP;

static const char *list_help =
"mqctl topics list - list the topics\n"
"\n"
"Usage:\n"
"  mqctl topics list [OPTIONS]\n"
"\n"
"Prints one line per topic: name, partition count, and with -l its creation\n"
"time and effective config (defaults included).\n"
"\n"
"Options:\n"
"  -l, --long              also the creation time and the config\n"
"      --tsv               tab-separated rows without a header, for scripts\n"
COMMON_HELP;

static const char *describe_help =
"mqctl topics describe - a topic's config and partitions\n"
"\n"
"Usage:\n"
"  mqctl topics describe TOPIC [OPTIONS]\n"
"\n"
"Prints the topic's effective config (\"set\" marks keys that differ from the\n"
"default) and, for each partition, its log start offset, high watermark,\n"
"last stable offset, size, time range, segments and the age of its oldest\n"
"open append.\n"
"\n"
"Options:\n"
"      --tsv               tab-separated rows without headers\n"
COMMON_HELP;

static const char *create_help =
"mqctl topics create - create a topic\n"
"\n"
"Usage:\n"
"  mqctl topics create TOPIC [OPTIONS]\n"
"\n"
"Options:\n"
"  -p, --partitions=N      number of partitions (default 1)\n"
"  -c, --config=KEY=VALUE  a topic config, repeatable (e.g. -c retention.ms=3600000)\n"
"      --if-not-exists     succeed if the topic exists already\n"
COMMON_HELP;

static const char *drop_help =
"mqctl topics drop - drop a topic, its log and its catalog rows\n"
"\n"
"Usage:\n"
"  mqctl topics drop TOPIC [OPTIONS]\n"
"\n"
"Options:\n"
"      --if-exists         succeed if there is no such topic\n"
COMMON_HELP;

static const char *alter_help =
"mqctl topics alter - change a topic's config\n"
"\n"
"Usage:\n"
"  mqctl topics alter TOPIC [OPTIONS]\n"
"\n"
"Options:\n"
"  -c, --config=KEY=VALUE  set a config key, repeatable\n"
"      --delete-config=KEY reset a key to its default, repeatable\n"
COMMON_HELP;

static const char *addp_help =
"mqctl topics add-partitions - grow a topic to TOTAL partitions\n"
"\n"
"Usage:\n"
"  mqctl topics add-partitions TOPIC TOTAL\n"
"\n"
"Keyed records map to other partitions afterwards (the server warns).\n"
COMMON_HELP;

enum
{
	OPT_TSV = OPT_FIRST_COMMAND,
	OPT_IF_NOT_EXISTS,
	OPT_IF_EXISTS,
	OPT_DELETE_CONFIG
};

/* Add "key": "value" (or "key": null) to a JSON object being built. */
static void
config_add(Buf *json, const char *cmd, const char *kv, bool reset)
{
	const char *eq = strchr(kv, '=');

	if (reset)
		eq = NULL;
	else if (eq == NULL || eq == kv)
		usage_error(cmd, "config \"%s\" is not KEY=VALUE", kv);
	buf_putc(json, json->len == 1 ? ' ' : ',');
	buf_put_json_string(json, kv, eq ? (size_t) (eq - kv) : strlen(kv));
	buf_putc(json, ':');
	if (eq)
		buf_put_json_string(json, eq + 1, strlen(eq + 1));
	else
		buf_append(json, "null", 4);
}

static int
topics_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{"long", no_argument, NULL, 'l'},
		{"tsv", no_argument, NULL, OPT_TSV},
		COMMON_LONGOPTS
	};
	bool		lng = false;
	bool		tsv = false;
	int			c;
	PGconn	   *conn;
	PGresult   *res;

	while ((c = getopt_long(argc, argv, "l" COMMON_SHORTOPTS, opts, NULL)) != -1)
	{
		if (c == 'l')
			lng = true;
		else if (c == OPT_TSV)
			tsv = true;
		else
			common_option(c, "topics list", list_help);
	}
	if (optind < argc)
		usage_error("topics list", "unexpected argument \"%s\"", argv[optind]);

	conn = mq_connect();
	res = mq_exec(conn, lng ?
				  "SELECT topic, partitions, created_at, config FROM mq.topics ORDER BY topic" :
				  "SELECT topic, partitions FROM mq.topics ORDER BY topic",
				  0, NULL);
	print_table(res, tsv);
	PQclear(res);
	PQfinish(conn);
	return EXIT_OK;
}

static int
topics_describe(int argc, char **argv)
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
			common_option(c, "topics describe", describe_help);
	}
	if (optind != argc - 1)
		usage_error("topics describe", "give exactly one topic");
	params[0] = argv[optind];

	conn = mq_connect();
	res = mq_exec(conn,
				  "SELECT topic, partitions, created_at FROM mq.topics WHERE topic = $1",
				  1, params);
	if (PQntuples(res) == 0)
	{
		PQclear(res);
		PQfinish(conn);
		fatal("topic \"%s\" does not exist", params[0]);
	}
	if (!tsv)
		printf("Topic: %s\tPartitions: %s\tCreated: %s\n\n",
			   PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
	PQclear(res);

	res = mq_exec(conn,
				  "SELECT c.key, c.value #>> '{}' AS value,"
				  "       CASE WHEN mq.default_config() -> c.key = c.value"
				  "            THEN 'default' ELSE 'set' END AS source"
				  "  FROM mq.topics t, jsonb_each(t.config) c"
				  " WHERE t.topic = $1 ORDER BY c.key",
				  1, params);
	print_table(res, tsv);
	PQclear(res);
	if (!tsv)
		putchar('\n');

	res = mq_exec(conn,
				  "SELECT partition, log_start_offset, high_watermark, last_stable_offset,"
				  "       size_bytes, first_ts, last_ts, segments,"
				  "       oldest_open_transaction_age AS oldest_open_append"
				  "  FROM mq.partitions WHERE topic = $1 ORDER BY partition",
				  1, params);
	print_table(res, tsv);
	PQclear(res);
	PQfinish(conn);
	return EXIT_OK;
}

static int
topics_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{"partitions", required_argument, NULL, 'p'},
		{"config", required_argument, NULL, 'c'},
		{"if-not-exists", no_argument, NULL, OPT_IF_NOT_EXISTS},
		COMMON_LONGOPTS
	};
	const char *partitions = "1";
	bool		if_not_exists = false;
	Buf			config;
	int			c;
	PGconn	   *conn;
	PGresult   *res;
	const char *params[4];

	buf_init(&config);
	buf_putc(&config, '{');
	while ((c = getopt_long(argc, argv, "p:c:" COMMON_SHORTOPTS, opts, NULL)) != -1)
	{
		switch (c)
		{
			case 'p':
				parse_int("topics create", "partition count", optarg, 1, 10000);
				partitions = optarg;
				break;
			case 'c':
				config_add(&config, "topics create", optarg, false);
				break;
			case OPT_IF_NOT_EXISTS:
				if_not_exists = true;
				break;
			default:
				common_option(c, "topics create", create_help);
		}
	}
	buf_putc(&config, '}');
	if (optind != argc - 1)
		usage_error("topics create", "give exactly one topic");

	params[0] = argv[optind];
	params[1] = partitions;
	params[2] = config.data;
	params[3] = if_not_exists ? "true" : "false";
	conn = mq_connect();
	res = mq_exec(conn, "SELECT mq.create_topic($1, $2::int, $3::jsonb, $4::boolean)",
				  4, params);
	verbose_msg("topic \"%s\" created with %s partitions", params[0], partitions);
	PQclear(res);
	PQfinish(conn);
	buf_free(&config);
	return EXIT_OK;
}

static int
topics_drop(int argc, char **argv)
{
	static const struct option opts[] = {
		{"if-exists", no_argument, NULL, OPT_IF_EXISTS},
		COMMON_LONGOPTS
	};
	bool		if_exists = false;
	int			c;
	PGconn	   *conn;
	PGresult   *res;
	const char *params[2];

	while ((c = getopt_long(argc, argv, COMMON_SHORTOPTS, opts, NULL)) != -1)
	{
		if (c == OPT_IF_EXISTS)
			if_exists = true;
		else
			common_option(c, "topics drop", drop_help);
	}
	if (optind != argc - 1)
		usage_error("topics drop", "give exactly one topic");
	params[0] = argv[optind];
	params[1] = if_exists ? "true" : "false";
	conn = mq_connect();
	res = mq_exec(conn, "SELECT mq.drop_topic($1, $2::boolean)", 2, params);
	verbose_msg("topic \"%s\" dropped", params[0]);
	PQclear(res);
	PQfinish(conn);
	return EXIT_OK;
}

static int
topics_alter(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"delete-config", required_argument, NULL, OPT_DELETE_CONFIG},
		COMMON_LONGOPTS
	};
	Buf			config;
	int			c;
	PGconn	   *conn;
	PGresult   *res;
	const char *params[2];

	buf_init(&config);
	buf_putc(&config, '{');
	while ((c = getopt_long(argc, argv, "c:" COMMON_SHORTOPTS, opts, NULL)) != -1)
	{
		if (c == 'c')
			config_add(&config, "topics alter", optarg, false);
		else if (c == OPT_DELETE_CONFIG)
			config_add(&config, "topics alter", optarg, true);
		else
			common_option(c, "topics alter", alter_help);
	}
	buf_putc(&config, '}');
	if (optind != argc - 1)
		usage_error("topics alter", "give exactly one topic");
	if (config.len == 2)
		usage_error("topics alter", "nothing to change: give -c KEY=VALUE or --delete-config KEY");
	params[0] = argv[optind];
	params[1] = config.data;
	conn = mq_connect();
	res = mq_exec(conn, "SELECT mq.alter_topic($1, $2::jsonb)", 2, params);
	verbose_msg("topic \"%s\" altered: %s", params[0], config.data);
	PQclear(res);
	PQfinish(conn);
	buf_free(&config);
	return EXIT_OK;
}

static int
topics_add_partitions(int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_LONGOPTS
	};
	int			c;
	PGconn	   *conn;
	PGresult   *res;
	const char *params[2];

	while ((c = getopt_long(argc, argv, COMMON_SHORTOPTS, opts, NULL)) != -1)
		common_option(c, "topics add-partitions", addp_help);
	if (optind != argc - 2)
		usage_error("topics add-partitions", "give a topic and the new total of partitions");
	params[0] = argv[optind];
	params[1] = argv[optind + 1];
	parse_int("topics add-partitions", "partition count", params[1], 1, 10000);
	conn = mq_connect();
	res = mq_exec(conn, "SELECT mq.add_partitions($1, $2::int)", 2, params);
	PQclear(res);
	PQfinish(conn);
	return EXIT_OK;
}

int
cmd_topics(int argc, char **argv)
{
	static const struct
	{
		const char *name;
		int			(*fn) (int, char **);
	}			subs[] = {
		{"list", topics_list},
		{"describe", topics_describe},
		{"create", topics_create},
		{"drop", topics_drop},
		{"alter", topics_alter},
		{"add-partitions", topics_add_partitions},
	};

	if (argc < 2 || strcmp(argv[1], "--help") == 0)
	{
		fputs(topics_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].fn(argc - 1, argv + 1);
	usage_error("topics", "unknown sub-command \"%s\"", argv[1]);
}
