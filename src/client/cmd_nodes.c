/*-------------------------------------------------------------------------
 *
 * src/client/cmd_nodes.c
 *		mqctl nodes get|set|create|delete|ls|watch: the coordination tree.
 *
 * Node data is bytea, sent and received in binary so that any byte value
 * goes through.  watch LISTENs on the node's channel (mq.node_watch) and
 * prints each notification's JSON payload on a line of its own.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include "mqctl.h"

static const char *nodes_help =
"mqctl nodes - the coordination tree\n"
"\n"
"Usage:\n"
"  mqctl nodes get PATH [-n] [-s]\n"
"  mqctl nodes set PATH [DATA|-] [--version V]\n"
"  mqctl nodes create PATH [DATA|-] [-p] [--sequential] [--ttl INTERVAL | --lease ID]\n"
"  mqctl nodes delete PATH [--version V] [-r]\n"
"  mqctl nodes ls PATH\n"
"  mqctl nodes watch PATH [-c COUNT]\n"
"\n"
"DATA \"-\" reads the data from stdin (any bytes).  \"mqctl nodes SUBCOMMAND\n"
"--help\" describes each sub-command.\n"
COMMON_HELP;

static const char *get_help =
"mqctl nodes get - print a node's data\n"
"\n"
"Usage:\n"
"  mqctl nodes get PATH [OPTIONS]\n"
"\n"
"Prints the data as it is, followed by a newline (none with -n; nothing at\n"
"all for null data).\n"
"\n"
"Options:\n"
"  -n, --no-newline        no newline after the data (for binary data)\n"
"  -s, --stat              print the node's versions, children, owner and\n"
"                          times instead of its data\n"
COMMON_HELP;

static const char *set_help =
"mqctl nodes set - set a node's data\n"
"\n"
"Usage:\n"
"  mqctl nodes set PATH [DATA|-] [OPTIONS]\n"
"\n"
"DATA is the argument's bytes; \"-\" or no DATA reads stdin to its end.\n"
"Prints the node's new version.\n"
"\n"
"Options:\n"
"      --version=V         only if the node's version is V (else MQ020)\n"
"      --lease=ID          the lease owning the node, if a lease owns it\n"
COMMON_HELP;

static const char *create_help =
"mqctl nodes create - create a node\n"
"\n"
"Usage:\n"
"  mqctl nodes create PATH [DATA|-] [OPTIONS]\n"
"\n"
"DATA is the argument's bytes; \"-\" reads stdin; none: null data.  Prints\n"
"the path created (with its suffix for a sequential node).\n"
"\n"
"Options:\n"
"  -p, --parents           create missing parents (persistent)\n"
"  -S, --sequential        append a 10-digit sequence number to the name\n"
"      --ttl=INTERVAL      an ephemeral node that lives this long (e.g. '30s')\n"
"      --lease=ID          an ephemeral node owned by an existing lease\n"
COMMON_HELP;

static const char *delete_help =
"mqctl nodes delete - delete a node\n"
"\n"
"Usage:\n"
"  mqctl nodes delete PATH [OPTIONS]\n"
"\n"
"Options:\n"
"      --version=V         only if the node's version is V (else MQ020)\n"
"  -r, --recursive         with its children\n"
"      --lease=ID          the lease owning the node, if a lease owns it\n"
COMMON_HELP;

static const char *ls_help =
"mqctl nodes ls - list a node's children\n"
"\n"
"Usage:\n"
"  mqctl nodes ls PATH\n"
"\n"
"Prints the names of the children, sorted, one a line.\n"
COMMON_HELP;

static const char *watch_help =
"mqctl nodes watch - print the changes of a node as they commit\n"
"\n"
"Usage:\n"
"  mqctl nodes watch PATH [OPTIONS]\n"
"\n"
"Prints one JSON line per change of the node or of its children, e.g.\n"
"  {\"path\" : \"/config/a\", \"event\" : \"changed\", \"version\" : 2}\n"
"  {\"path\" : \"/config\", \"event\" : \"children\", \"cversion\" : 3, ...}\n"
"until interrupted (exit status 0) or after COUNT events.  The node need\n"
"not exist: its creation is an event.\n"
"\n"
"Options:\n"
"  -c, --count=COUNT       stop after COUNT events\n"
COMMON_HELP;

enum
{
	OPT_VERSION = OPT_FIRST_COMMAND,
	OPT_TTL,
	OPT_LEASE
};

/* DATA argument, "-" (stdin) or none (NULL) */
static const char *
read_data(const char *arg, int *len, Buf *b)
{
	if (arg == NULL)
		return NULL;
	if (strcmp(arg, "-") != 0)
	{
		*len = (int) strlen(arg);
		return arg;
	}
	for (;;)
	{
		ssize_t		n;

		buf_reserve(b, 65536);
		n = read(STDIN_FILENO, b->data + b->len, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fatal("could not read standard input: %s", strerror(errno));
		if (n == 0)
			break;
		b->len += n;
		if (b->len > 1024 * 1024 * 1024)
			fatal("standard input is too large for node data");
	}
	*len = (int) b->len;
	return b->data ? b->data : "";
}

static int
nodes_get(int argc, char **argv)
{
	static const struct option opts[] = {
		{"no-newline", no_argument, NULL, 'n'},
		{"stat", no_argument, NULL, 's'},
		COMMON_LONGOPTS
	};
	bool		newline = true;
	bool		stat = false;
	int			c;
	PGconn	   *conn;
	PGresult   *res;
	const char *params[1];

	while ((c = getopt_long(argc, argv, "ns" COMMON_SHORTOPTS, opts, NULL)) != -1)
	{
		if (c == 'n')
			newline = false;
		else if (c == 's')
			stat = true;
		else
			common_option(c, "nodes get", get_help);
	}
	if (optind != argc - 1)
		usage_error("nodes get", "give exactly one path");
	params[0] = argv[optind];
	conn = mq_connect();
	if (stat)
	{
		res = mq_exec(conn,
					  "SELECT path, version, cversion, num_children,"
					  "       coalesce(octet_length(data), -1) AS data_length,"
					  "       coalesce(ephemeral_owner, '') AS ephemeral_owner, ctime, mtime"
					  "  FROM mq.node_get($1)", 1, params);
		for (int i = 0; i < PQnfields(res); i++)
			printf("%s: %s\n", PQfname(res, i), PQgetvalue(res, 0, i));
	}
	else
	{
		res = PQexecParams(conn, "SELECT data FROM mq.node_get($1)", 1, NULL,
						   params, NULL, NULL, 1);
		if (!result_ok(res))
			mq_fail(conn, res, NULL);
		if (!PQgetisnull(res, 0, 0))
		{
			if (!write_all(stdout, PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0)) ||
				(newline && putchar('\n') == EOF))
				fatal("could not write output: %s", strerror(errno));
		}
	}
	PQclear(res);
	PQfinish(conn);
	if (fflush(stdout) != 0)
		fatal("could not write output: %s", strerror(errno));
	return EXIT_OK;
}

static int
nodes_set(int argc, char **argv)
{
	static const struct option opts[] = {
		{"version", required_argument, NULL, OPT_VERSION},
		{"lease", required_argument, NULL, OPT_LEASE},
		COMMON_LONGOPTS
	};
	const char *version = "-1";
	const char *lease = NULL;
	int			c;
	PGconn	   *conn;
	PGresult   *res;
	Buf			in;
	const char *values[4];
	int			lengths[4] = {0, 0, 0, 0};
	int			formats[4] = {0, 1, 0, 0};
	Oid			types[4] = {TEXTOID, BYTEAOID, INT4OID, INT8OID};

	while ((c = getopt_long(argc, argv, COMMON_SHORTOPTS, opts, NULL)) != -1)
	{
		if (c == OPT_VERSION)
		{
			parse_int("nodes set", "version", optarg, -1, INT32_MAX);
			version = optarg;
		}
		else if (c == OPT_LEASE)
		{
			parse_int("nodes set", "lease", optarg, 1, INT64_MAX);
			lease = optarg;
		}
		else
			common_option(c, "nodes set", set_help);
	}
	if (optind != argc - 1 && optind != argc - 2)
		usage_error("nodes set", "give a path and the data (\"-\" or none: stdin)");
	/* connected first: a password asked for on stdin comes before the data */
	conn = mq_connect();
	buf_init(&in);
	values[0] = argv[optind];
	values[1] = read_data(optind + 1 < argc ? argv[optind + 1] : "-", &lengths[1], &in);
	values[2] = version;
	values[3] = lease;
	res = mq_exec_binary(conn, "SELECT mq.node_set($1, $2, $3, $4)::text",
						 4, values, lengths, formats, types);
	printf("%s\n", PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(conn);
	buf_free(&in);
	return EXIT_OK;
}

static int
nodes_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{"parents", no_argument, NULL, 'p'},
		{"sequential", no_argument, NULL, 'S'},
		{"ttl", required_argument, NULL, OPT_TTL},
		{"lease", required_argument, NULL, OPT_LEASE},
		COMMON_LONGOPTS
	};
	bool		parents = false;
	bool		sequential = false;
	const char *ttl = NULL;
	const char *lease = NULL;
	int			c;
	PGconn	   *conn;
	PGresult   *res;
	Buf			in;
	const char *values[6];
	int			lengths[6] = {0, 0, 0, 0, 0, 0};
	int			formats[6] = {0, 1, 0, 0, 0, 0};
	Oid			types[6] = {TEXTOID, BYTEAOID, BOOLOID, BOOLOID, 1186 /* interval */ , INT8OID};

	while ((c = getopt_long(argc, argv, "pS" COMMON_SHORTOPTS, opts, NULL)) != -1)
	{
		switch (c)
		{
			case 'p':
				parents = true;
				break;
			case 'S':
				sequential = true;
				break;
			case OPT_TTL:
				ttl = optarg;
				break;
			case OPT_LEASE:
				parse_int("nodes create", "lease", optarg, 1, INT64_MAX);
				lease = optarg;
				break;
			default:
				common_option(c, "nodes create", create_help);
		}
	}
	if (optind != argc - 1 && optind != argc - 2)
		usage_error("nodes create", "give a path and, optionally, the data (\"-\": stdin)");
	if (ttl && lease)
		usage_error("nodes create", "give --ttl or --lease, not both");
	/* connected first: a password asked for on stdin comes before the data */
	conn = mq_connect();
	buf_init(&in);
	values[0] = argv[optind];
	values[1] = read_data(optind + 1 < argc ? argv[optind + 1] : NULL, &lengths[1], &in);
	values[2] = "false";		/* a session-owned node would die with us */
	values[3] = sequential ? "true" : "false";
	values[4] = ttl;
	values[5] = lease;
	res = mq_exec_binary(conn, parents ?
						 "SELECT mq.node_create_all($1, $2, $3, $4, $5, $6)" :
						 "SELECT mq.node_create($1, $2, $3, $4, $5, $6)",
						 6, values, lengths, formats, types);
	printf("%s\n", PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(conn);
	buf_free(&in);
	return EXIT_OK;
}

static int
nodes_delete(int argc, char **argv)
{
	static const struct option opts[] = {
		{"version", required_argument, NULL, OPT_VERSION},
		{"recursive", no_argument, NULL, 'r'},
		{"lease", required_argument, NULL, OPT_LEASE},
		COMMON_LONGOPTS
	};
	const char *params[4] = {NULL, "-1", "false", NULL};
	int			c;
	PGconn	   *conn;

	while ((c = getopt_long(argc, argv, "r" COMMON_SHORTOPTS, opts, NULL)) != -1)
	{
		if (c == OPT_VERSION)
		{
			parse_int("nodes delete", "version", optarg, -1, INT32_MAX);
			params[1] = optarg;
		}
		else if (c == 'r')
			params[2] = "true";
		else if (c == OPT_LEASE)
		{
			parse_int("nodes delete", "lease", optarg, 1, INT64_MAX);
			params[3] = optarg;
		}
		else
			common_option(c, "nodes delete", delete_help);
	}
	if (optind != argc - 1)
		usage_error("nodes delete", "give exactly one path");
	params[0] = argv[optind];
	conn = mq_connect();
	PQclear(mq_exec(conn, "SELECT mq.node_delete($1, $2::int, $3::boolean, $4::int8)",
					4, params));
	PQfinish(conn);
	return EXIT_OK;
}

static int
nodes_ls(int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_LONGOPTS
	};
	int			c;
	PGconn	   *conn;
	PGresult   *res;
	const char *params[1];

	while ((c = getopt_long(argc, argv, COMMON_SHORTOPTS, opts, NULL)) != -1)
		common_option(c, "nodes ls", ls_help);
	if (optind != argc - 1)
		usage_error("nodes ls", "give exactly one path");
	params[0] = argv[optind];
	conn = mq_connect();
	res = mq_exec(conn, "SELECT * FROM mq.node_children($1)", 1, params);
	for (int i = 0; i < PQntuples(res); i++)
		printf("%s\n", PQgetvalue(res, i, 0));
	PQclear(res);
	PQfinish(conn);
	return EXIT_OK;
}

static int
nodes_watch(int argc, char **argv)
{
	static const struct option opts[] = {
		{"count", required_argument, NULL, 'c'},
		COMMON_LONGOPTS
	};
	long long	count = -1;
	long long	seen = 0;
	int			c;
	PGconn	   *conn;
	PGresult   *res;
	const char *params[1];
	char	   *chan;
	Buf			sql;
	int			status = EXIT_OK;

	while ((c = getopt_long(argc, argv, "c:" COMMON_SHORTOPTS, opts, NULL)) != -1)
	{
		if (c == 'c')
			count = parse_int("nodes watch", "count", optarg, 1, INT64_MAX);
		else
			common_option(c, "nodes watch", watch_help);
	}
	if (optind != argc - 1)
		usage_error("nodes watch", "give exactly one path");
	params[0] = argv[optind];
	conn = mq_connect();
	res = mq_exec(conn, "SELECT mq.node_watch($1)", 1, params);
	chan = PQescapeIdentifier(conn, PQgetvalue(res, 0, 0), strlen(PQgetvalue(res, 0, 0)));
	PQclear(res);
	buf_init(&sql);
	buf_printf(&sql, "LISTEN %s", chan);
	PQfreemem(chan);
	PQclear(mq_exec(conn, sql.data, 0, NULL));
	buf_free(&sql);
	verbose_msg("watching %s", params[0]);
	/* the watch is in place: tell a script waiting for it */
	if (fflush(stdout) != 0)
		fatal("could not write output: %s", strerror(errno));

	signal(SIGPIPE, SIG_IGN);
	install_interrupt_handler(NULL);
	/*
	 * Print what libpq has read first, and wait only when that is nothing:
	 * an event that came with the LISTEN's result waits in libpq's list,
	 * where select() does not see it.
	 */
	for (;;)
	{
		int			sock;
		fd_set		rfds;
		struct timeval tv;
		PGnotify   *nf;

		while ((nf = PQnotifies(conn)) != NULL)
		{
			if (count < 0 || seen < count)
			{
				printf("%s\n", nf->extra);
				seen++;
			}
			PQfreemem(nf);
		}
		if (fflush(stdout) != 0)
		{
			warn_msg("error: could not write output: %s", strerror(errno));
			status = EXIT_ERROR;
			break;
		}
		if (interrupted || (count >= 0 && seen >= count))
			break;
		sock = PQsocket(conn);
		if (sock < 0)
			mq_fail(conn, NULL, "connection lost");
		FD_ZERO(&rfds);
		FD_SET(sock, &rfds);
		/* a finite wait: a signal between the check above and select() */
		tv.tv_sec = 0;
		tv.tv_usec = 500000;
		if (select(sock + 1, &rfds, NULL, NULL, &tv) < 0)
		{
			if (errno == EINTR)
				continue;
			fatal("select() failed: %s", strerror(errno));
		}
		if (!PQconsumeInput(conn))
			mq_fail(conn, NULL, "connection lost");
	}
	PQfinish(conn);
	return status;
}

int
cmd_nodes(int argc, char **argv)
{
	static const struct
	{
		const char *name;
		int			(*fn) (int, char **);
	}			subs[] = {
		{"get", nodes_get},
		{"set", nodes_set},
		{"create", nodes_create},
		{"delete", nodes_delete},
		{"ls", nodes_ls},
		{"watch", nodes_watch},
	};

	if (argc < 2 || strcmp(argv[1], "--help") == 0)
	{
		fputs(nodes_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].fn(argc - 1, argv + 1);
	usage_error("nodes", "unknown sub-command \"%s\"", argv[1]);
}
