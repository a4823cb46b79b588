/*-------------------------------------------------------------------------
 *
 * src/client/mqctl.c
 *		mqctl: the command-line client of mqext.  main(), the dispatch to
 *		sub-commands, the top-level help, and the helpers every command
 *		uses for options and messages.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "mqctl.h"

const char *progname = "mqctl";
MqConnOpts	conn_opts;

static const char *main_help =
"mqctl - command-line client of mqext (Kafka's model inside PostgreSQL)\n"
"\n"
"Usage:\n"
"  mqctl [CONNECTION OPTIONS] COMMAND [SUBCOMMAND] [OPTIONS] [ARGS]\n"
"\n"
"Commands:\n"
"  topics list|describe|create|drop|alter|add-partitions\n"
"                          administer topics and their configs\n"
"  produce TOPIC [FILE...] append records read from stdin (one a line) or files\n"
"  consume TOPIC...        print records, as a group member (-g) or from\n"
"                          given partitions and offsets\n"
"  groups list|describe|reset-offsets|delete\n"
"                          consumer groups, their members and lag\n"
"  nodes get|set|create|delete|ls|watch\n"
"                          the coordination tree\n"
"  bench produce|consume|latency\n"
"                          load generator: throughput and latency percentiles\n"
"\n"
"\"mqctl COMMAND --help\" describes each command and its options.\n"
COMMON_HELP
"      --version           show the version and exit\n"
"\n"
"Exit status: 0 on success, 1 on an error (the server's message and SQLSTATE\n"
"are printed on stderr), 2 on a usage error.\n"
"\n"
"Examples:\n"
"  mqctl -d postgresql://postgres@127.0.0.1:55432/mqext topics list\n"
"  printf 'k1:hello\\nk2:world\\n' | mqctl produce orders -K:\n"
"  mqctl consume orders -g billing -f '%p/%o %k=%s\\n'\n";

bool
common_option(int c, const char *cmd, const char *help_text)
{
	switch (c)
	{
		case 'd':
			conn_opts.dbname = optarg;
			return true;
		case 'U':
			conn_opts.user = optarg;
			return true;
		case OPT_HOST:
			conn_opts.host = optarg;
			return true;
		case OPT_PORT:
			conn_opts.port = optarg;
			return true;
		case 'v':
			conn_opts.verbose++;
			return true;
		case 'w':
			conn_opts.password_prompt = PROMPT_NEVER;
			return true;
		case 'W':
			conn_opts.password_prompt = PROMPT_ALWAYS;
			return true;
		case OPT_HELP:
			fputs(help_text, stdout);
			exit(EXIT_OK);
		case '?':
			/* getopt has printed what was wrong */
			fprintf(stderr, "Try \"%s %s --help\" for more information.\n",
					progname, cmd);
			exit(EXIT_USAGE);
		default:
			return false;
	}
}

void
usage_error(const char *cmd, const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "%s %s: ", progname, cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry \"%s %s --help\" for more information.\n",
			progname, cmd);
	exit(EXIT_USAGE);
}

void
fatal(const char *fmt,...)
{
	va_list		ap;

	fflush(stdout);
	fprintf(stderr, "%s: error: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_ERROR);
}

void
warn_msg(const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
verbose_msg(const char *fmt,...)
{
	va_list		ap;

	if (!conn_opts.verbose)
		return;
	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

long long
parse_int(const char *cmd, const char *what, const char *s,
		  long long min, long long max)
{
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		usage_error(cmd, "invalid %s \"%s\": not an integer", what, s);
	if (v < min || v > max)
		usage_error(cmd, "invalid %s \"%s\": must be between %lld and %lld",
					what, s, min, max);
	return v;
}

double
parse_double(const char *cmd, const char *what, const char *s, double min)
{
	char	   *end;
	double		v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || v != v)
		usage_error(cmd, "invalid %s \"%s\": not a number", what, s);
	if (v < min)
		usage_error(cmd, "invalid %s \"%s\": must be at least %g", what, s, min);
	return v;
}

/*
 * Peak resident set size of this program, in kB.  VmHWM of /proc/self/status
 * rather than getrusage(): ru_maxrss survives execve(), so it would include
 * the memory of the process that forked us.
 */
long
peak_rss_kb(void)
{
	FILE	   *f = fopen("/proc/self/status", "r");
	struct rusage ru;

	if (f != NULL)
	{
		char		line[256];
		long		kb = -1;

		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
				break;
		fclose(f);
		if (kb >= 0)
			return kb;
	}
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return ru.ru_maxrss;
}

static const struct
{
	const char *name;
	int			(*fn) (int argc, char **argv);
}			commands[] =
{
	{"topics", cmd_topics},
	{"produce", cmd_produce},
	{"consume", cmd_consume},
	{"groups", cmd_groups},
	{"nodes", cmd_nodes},
	{"bench", cmd_bench},
};

int
main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"version", no_argument, NULL, 'V'},
		COMMON_LONGOPTS
	};
	int			c;

	/* stdout is flushed explicitly where it matters */
	while ((c = getopt_long(argc, argv, "+" COMMON_SHORTOPTS,
							long_options, NULL)) != -1)
	{
		if (c == 'V')
		{
			printf("mqctl %s (libpq %d)\n", MQCTL_VERSION, PQlibVersion());
			return EXIT_OK;
		}
		if (c == '?')
		{
			fprintf(stderr, "Try \"%s --help\" for more information.\n", progname);
			return EXIT_USAGE;
		}
		if (c == OPT_HELP)
		{
			fputs(main_help, stdout);
			return EXIT_OK;
		}
		common_option(c, "", main_help);
	}

	if (optind >= argc)
	{
		fprintf(stderr, "%s: no command given\n"
				"Try \"%s --help\" for more information.\n", progname, progname);
		return EXIT_USAGE;
	}
	if (strcmp(argv[optind], "help") == 0)
	{
		fputs(main_help, stdout);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
	{
		if (strcmp(argv[optind], commands[i].name) == 0)
		{
			int			sub_argc = argc - optind;
			char	  **sub_argv = argv + optind;

			int			rc;

			optind = 0;			/* reinitialize getopt for the command */
			rc = commands[i].fn(sub_argc, sub_argv);

			/*
			 * What a command printed with stdio may still sit in its buffer,
			 * or have failed unnoticed (a full disk, a closed pipe): an
			 * output error is an error, whatever the command did.
			 */
			if ((fflush(stdout) != 0 || ferror(stdout)) && rc == EXIT_OK)
			{
				fprintf(stderr, "%s: error: could not write output: %s\n",
						progname, strerror(errno ? errno : EIO));
				rc = EXIT_ERROR;
			}
			return rc;
		}
	}
	fprintf(stderr, "%s: unknown command \"%s\"\n"
			"Try \"%s --help\" for more information.\n",
			progname, argv[optind], progname);
	return EXIT_USAGE;
}
