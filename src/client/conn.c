/*-------------------------------------------------------------------------
 *
 * src/client/conn.c
 *		Connecting (a conninfo or URI from -d, the PG* environment variables,
 *		~/.pgpass: whatever libpq does), running queries, reporting errors
 *		with the server's message and SQLSTATE, and interrupting a blocking
 *		query on SIGINT.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "mqctl.h"

volatile sig_atomic_t interrupted = 0;
static PGcancel *volatile cancel_conn = NULL;

/* Print server notices (e.g. add_partitions' warning) like psql does. */
static void
notice_receiver(void *arg, const PGresult *res)
{
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);

	(void) arg;
	if (msg == NULL)
	{
		fprintf(stderr, "%s: %s", progname, PQresultErrorMessage(res));
		return;
	}
	fprintf(stderr, "%s: %s: %s\n", progname, sev ? sev : "NOTICE", msg);
	if (detail)
		fprintf(stderr, "DETAIL:  %s\n", detail);
	if (hint)
		fprintf(stderr, "HINT:  %s\n", hint);
}

/* The terminal's settings while a password prompt has echo off. */
static volatile sig_atomic_t prompt_fd = -1;
static struct termios prompt_saved;

/* A signal at the prompt: give the terminal its echo back, then die of it. */
static void
prompt_signal_handler(int signo)
{
	if (prompt_fd >= 0)
		(void) tcsetattr(prompt_fd, TCSANOW, &prompt_saved);
	signal(signo, SIG_DFL);
	raise(signo);
}

static const int prompt_signals[] = {SIGINT, SIGTERM, SIGQUIT, SIGHUP};
#define NUM_PROMPT_SIGNALS (sizeof(prompt_signals) / sizeof(prompt_signals[0]))

/*
 * Ask for a password as psql does: on the terminal, without echo; with no
 * terminal, on stdin and stderr, but only if use_stdin (-W: stdin may hold
 * records, which a password asked for unawares would eat).  Read a byte at
 * a time: what produce reads from stdin comes right after the password's
 * line.  NULL when there is nowhere to ask, or at the end of the input.
 */
static char *
prompt_password(const char *user, bool use_stdin)
{
	int			fd_tty = open("/dev/tty", O_RDWR | O_CLOEXEC);
	int			fd_in = fd_tty;
	int			fd_out = fd_tty;
	bool		echo_off;
	struct termios saved;
	struct sigaction old[NUM_PROMPT_SIGNALS];
	char	   *buf;
	size_t		cap = 128;
	size_t		len = 0;
	bool		got_line = false;
	char		prompt[256];

	if (fd_tty < 0)
	{
		if (!use_stdin)
			return NULL;
		fd_in = STDIN_FILENO;
		fd_out = STDERR_FILENO;
	}
	echo_off = isatty(fd_in) && tcgetattr(fd_in, &saved) == 0;
	if (user)
		snprintf(prompt, sizeof(prompt), "Password for user %s: ", user);
	else
		snprintf(prompt, sizeof(prompt), "Password: ");

	/*
	 * Echo off before the prompt shows, as psql does: TCSAFLUSH discards
	 * what was typed before it, never what is typed after the prompt.
	 */
	if (echo_off)
	{
		struct termios noecho = saved;
		struct sigaction sa;

		prompt_saved = saved;
		prompt_fd = fd_in;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = prompt_signal_handler;
		sigemptyset(&sa.sa_mask);
		for (size_t i = 0; i < NUM_PROMPT_SIGNALS; i++)
			sigaction(prompt_signals[i], &sa, &old[i]);
		noecho.c_lflag &= ~ECHO;
		tcsetattr(fd_in, TCSAFLUSH, &noecho);
	}
	if (write(fd_out, prompt, strlen(prompt)) < 0)
	{
		if (echo_off)
			tcsetattr(fd_in, TCSADRAIN, &saved);
		fatal("could not write the password prompt: %s", strerror(errno));
	}
	buf = malloc(cap);
	if (buf == NULL)
		fatal("out of memory");
	for (;;)
	{
		char		c;
		ssize_t		r = read(fd_in, &c, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (c == '\n')
		{
			got_line = true;
			break;
		}
		if (len + 1 >= cap)
		{
			char	   *bigger = realloc(buf, cap * 2);

			if (bigger == NULL)
				fatal("out of memory");
			buf = bigger;
			cap *= 2;
		}
		buf[len++] = c;
	}
	if (echo_off)
	{
		/* TCSADRAIN: what was typed after the password stays to be read */
		tcsetattr(fd_in, TCSADRAIN, &saved);
		prompt_fd = -1;
		for (size_t i = 0; i < NUM_PROMPT_SIGNALS; i++)
			sigaction(prompt_signals[i], &old[i], NULL);
		if (write(fd_out, "\n", 1) < 0)
		{
			/* nothing to do: the prompt's line stays open */
		}
	}
	if (fd_tty >= 0)
		close(fd_tty);
	if (!got_line && len == 0)
	{
		free(buf);
		return NULL;
	}
	while (len > 0 && buf[len - 1] == '\r')
		len--;
	buf[len] = '\0';
	return buf;
}

PGconn *
mq_connect(void)
{
	const char *keywords[10];
	const char *values[10];
	int			n;
	PGconn	   *conn;
	bool		no_password_hint = false;

	if (conn_opts.password_prompt == PROMPT_ALWAYS && conn_opts.password == NULL)
	{
		conn_opts.password = prompt_password(conn_opts.user, true);
		if (conn_opts.password == NULL)
			fatal("no password given");
	}
again:
	n = 0;

	/* dbname first: a conninfo or URI in it is expanded, later ones win */
	if (conn_opts.dbname)
	{
		keywords[n] = "dbname";
		values[n++] = conn_opts.dbname;
	}
	if (conn_opts.host)
	{
		keywords[n] = "host";
		values[n++] = conn_opts.host;
	}
	if (conn_opts.port)
	{
		keywords[n] = "port";
		values[n++] = conn_opts.port;
	}
	if (conn_opts.user)
	{
		keywords[n] = "user";
		values[n++] = conn_opts.user;
	}
	if (conn_opts.password)
	{
		keywords[n] = "password";
		values[n++] = conn_opts.password;
	}
	keywords[n] = "fallback_application_name";
	values[n++] = progname;
	keywords[n] = NULL;
	values[n] = NULL;

	conn = PQconnectdbParams(keywords, values, 1);
	if (conn == NULL)
		fatal("out of memory");
	if (PQstatus(conn) == CONNECTION_BAD && PQconnectionNeedsPassword(conn) &&
		conn_opts.password == NULL && conn_opts.password_prompt != PROMPT_NEVER)
	{
		char	   *password = prompt_password(PQuser(conn), false);

		if (password != NULL)
		{
			PQfinish(conn);
			conn_opts.password = password;
			goto again;
		}
		/* no terminal to ask on: libpq's message, and how to give one */
		no_password_hint = true;
	}
	if (PQstatus(conn) != CONNECTION_OK)
	{
		char	   *msg = xstrdup(PQerrorMessage(conn));
		size_t		len = strlen(msg);

		while (len > 0 && msg[len - 1] == '\n')
			msg[--len] = '\0';
		PQfinish(conn);
		if (no_password_hint)
			fatal("could not connect to the database: %s\n"
				  "HINT:  There is no terminal to ask for the password on: give it with -W (read from stdin), PGPASSWORD or ~/.pgpass.",
				  msg);
		fatal("could not connect to the database: %s", msg);
	}
	PQsetNoticeReceiver(conn, notice_receiver, NULL);
	verbose_msg("connected to database \"%s\" as \"%s\" on %s:%s",
				PQdb(conn), PQuser(conn),
				PQhost(conn) ? PQhost(conn) : "(default)", PQport(conn));
	return conn;
}

bool
result_ok(const PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ||
		st == PGRES_SINGLE_TUPLE;
}

const char *
result_sqlstate(const PGresult *res)
{
	const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return s ? s : "";
}

void
print_result_error(const PGresult *res, const char *context)
{
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
	const char *where = PQresultErrorField(res, PG_DIAG_CONTEXT);

	fflush(stdout);
	fprintf(stderr, "%s: error: ", progname);
	if (context)
		fprintf(stderr, "%s: ", context);
	if (msg)
	{
		fprintf(stderr, "%s", msg);
		if (state)
			fprintf(stderr, " (SQLSTATE %s)", state);
		fputc('\n', stderr);
	}
	else
	{
		/* errors made by libpq itself: lost connection and the like */
		const char *m = PQresultErrorMessage(res);

		fprintf(stderr, "%s", m && *m ? m : "unknown error\n");
	}
	if (detail)
		fprintf(stderr, "DETAIL:  %s\n", detail);
	if (hint)
		fprintf(stderr, "HINT:  %s\n", hint);
	if (where && conn_opts.verbose)
		fprintf(stderr, "CONTEXT:  %s\n", where);
}

void
mq_fail(PGconn *conn, PGresult *res, const char *context)
{
	if (res)
		print_result_error(res, context);
	else
	{
		fflush(stdout);
		fprintf(stderr, "%s: error: %s%s%s", progname,
				context ? context : "", context ? ": " : "",
				PQerrorMessage(conn));
	}
	PQclear(res);
	PQfinish(conn);
	exit(EXIT_ERROR);
}

PGresult *
mq_exec(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	PGresult   *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);

	if (res == NULL || !result_ok(res))
		mq_fail(conn, res, NULL);
	return res;
}

/*
 * mq_exec for the statements of a loop that an interrupt ends: NULL if our
 * own SIGINT handler canceled it (the caller winds up cleanly), a failure
 * as mq_exec otherwise.
 */
PGresult *
mq_exec_interruptible(PGconn *conn, const char *sql, int nparams,
					  const char *const *params)
{
	PGresult   *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);

	if (res != NULL && !result_ok(res) && canceled_by_us(res))
	{
		PQclear(res);
		return NULL;
	}
	if (res == NULL || !result_ok(res))
		mq_fail(conn, res, NULL);
	return res;
}

PGresult *
mq_exec_binary(PGconn *conn, const char *sql, int nparams,
			   const char *const *values, const int *lengths,
			   const int *formats, const Oid *types)
{
	PGresult   *res = PQexecParams(conn, sql, nparams, types, values, lengths,
								   formats, 1);

	if (res == NULL || !result_ok(res))
		mq_fail(conn, res, NULL);
	return res;
}

/*
 * First SIGINT or SIGTERM: note it and cancel the query in progress, so a
 * blocking poll returns at once; the command then finishes cleanly (commits
 * what it printed).  A second one kills the process.
 */
static void
interrupt_handler(int signo)
{
	int			save_errno = errno;
	char		errbuf[256];

	if (interrupted)
	{
		signal(signo, SIG_DFL);
		raise(signo);
	}
	interrupted = 1;
	if (cancel_conn != NULL)
		(void) PQcancel(cancel_conn, errbuf, sizeof(errbuf));
	errno = save_errno;
}

void
install_interrupt_handler(PGconn *conn)
{
	struct sigaction sa;

	if (conn != NULL)
		cancel_conn = PQgetCancel(conn);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = interrupt_handler;
	sigemptyset(&sa.sa_mask);
	/*
	 * SA_RESTART, so that a write to a full pipe (stdout into a pager) is
	 * not cut short by the signal and taken for an output error: Linux
	 * never restarts select(), poll() or nanosleep() whatever the flag, so
	 * the waits still return at once and the loops see "interrupted".
	 */
	sa.sa_flags = SA_RESTART;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* After this, an interrupt no longer cancels queries (the final commit). */
void
forget_interrupt_connection(void)
{
	PGcancel   *c = cancel_conn;

	cancel_conn = NULL;
	if (c)
		PQfreeCancel(c);
}

bool
canceled_by_us(const PGresult *res)
{
	return interrupted && strcmp(result_sqlstate(res), "57014") == 0;
}

int64_t
now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
sleep_usec(int64_t usec)
{
	struct timespec ts;

	if (usec <= 0)
		return;
	ts.tv_sec = usec / 1000000;
	ts.tv_nsec = (usec % 1000000) * 1000;
	/* returns early on a signal: callers check "interrupted" */
	(void) nanosleep(&ts, NULL);
}
