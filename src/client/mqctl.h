/*-------------------------------------------------------------------------
 *
 * src/client/mqctl.h
 *		Declarations shared by the files of mqctl, mqext's command-line
 *		client: connection and error handling (conn.c), output formatting
 *		and small buffers (format.c), and the sub-commands (cmd_*.c).
 *
 * mqctl is a frontend program: plain libc and libpq, no backend headers.
 *
 * Exit status: 0 success, 1 error (server, connection, input/output),
 * 2 usage error.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQCTL_H
#define MQCTL_H

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "libpq-fe.h"

#define MQCTL_VERSION "1.0"

#define EXIT_OK		0
#define EXIT_ERROR	1
#define EXIT_USAGE	2

/* OIDs of the types sent or received in binary (fixed in pg_type.dat) */
#define BOOLOID			16
#define BYTEAOID		17
#define INT4OID			23
#define INT8OID			20
#define TEXTOID			25
#define JSONBOID		3802

/* ---------------------------------------------------------------------
 * Options common to every command (conn.c).
 * --------------------------------------------------------------------- */

typedef struct MqConnOpts
{
	const char *dbname;			/* -d: a database name, conninfo or URI */
	const char *host;
	const char *port;
	const char *user;
	int			verbose;		/* -v, repeatable */
	int			password_prompt;	/* PROMPT_*: -w never, -W before connecting */
	char	   *password;		/* once asked for, for every connection */
} MqConnOpts;

enum
{
	PROMPT_IF_ASKED = 0,		/* when the server asks for one (psql's default) */
	PROMPT_NEVER,				/* -w */
	PROMPT_ALWAYS				/* -W */
};

extern MqConnOpts conn_opts;
extern const char *progname;

/*
 * Every command's getopt tables end with these entries; a command's switch
 * passes unknown letters to common_option().  Long-only options use values
 * from 1000 up.
 */
enum
{
	OPT_HOST = 1000,
	OPT_PORT,
	OPT_HELP,
	OPT_FIRST_COMMAND			/* commands number their own from here */
};

#define COMMON_SHORTOPTS "d:U:vwW"
#define COMMON_LONGOPTS \
	{"dbname", required_argument, NULL, 'd'}, \
	{"host", required_argument, NULL, OPT_HOST}, \
	{"port", required_argument, NULL, OPT_PORT}, \
	{"username", required_argument, NULL, 'U'}, \
	{"no-password", no_argument, NULL, 'w'}, \
	{"password", no_argument, NULL, 'W'}, \
	{"verbose", no_argument, NULL, 'v'}, \
	{"help", no_argument, NULL, OPT_HELP}, \
	{NULL, 0, NULL, 0}

#define COMMON_HELP \
	"\nConnection options (as every libpq tool; PG* environment variables and\n" \
	"~/.pgpass are honoured):\n" \
	"  -d, --dbname=CONNINFO   database name, conninfo string or postgresql:// URI\n" \
	"      --host=HOST         server host or socket directory\n" \
	"      --port=PORT         server port\n" \
	"  -U, --username=USER     user name\n" \
	"  -w, --no-password       never prompt for a password (else asked on the\n" \
	"                          terminal when the server wants one)\n" \
	"  -W, --password          prompt for a password before connecting: on the\n" \
	"                          terminal, or on stdin when there is none (the\n" \
	"                          data a command reads from stdin comes after it)\n" \
	"  -v, --verbose           say more on stderr\n" \
	"      --help              show this help and exit\n"

/*
 * Handle an option common to every command: returns true if it was one.
 * For '?' (getopt's unknown option) it exits with the usage status.
 * OPT_HELP prints help_text and exits 0.
 */
extern bool common_option(int c, const char *cmd, const char *help_text);

/* usage error: message, "Try ... --help", exit 2 */
extern void usage_error(const char *cmd, const char *fmt,...)
			__attribute__((format(printf, 2, 3), noreturn));
/* error without a server: message on stderr, exit 1 */
extern void fatal(const char *fmt,...)
			__attribute__((format(printf, 1, 2), noreturn));
/* message on stderr, no exit */
extern void warn_msg(const char *fmt,...)
			__attribute__((format(printf, 1, 2)));
extern void verbose_msg(const char *fmt,...)
			__attribute__((format(printf, 1, 2)));

/* Parse numbers strictly, or fail with a usage error naming the option. */
extern long long parse_int(const char *cmd, const char *what, const char *s,
						   long long min, long long max);
extern double parse_double(const char *cmd, const char *what, const char *s,
						   double min);

/* ---------------------------------------------------------------------
 * Connections and queries (conn.c).
 * --------------------------------------------------------------------- */

/* connect with conn_opts or exit 1 with libpq's message */
extern PGconn *mq_connect(void);

/* print a failed result: message, SQLSTATE, detail, hint */
extern void print_result_error(const PGresult *res, const char *context);

/*
 * Run a query with text parameters; exit 1 with the server's error unless
 * it succeeded.  mq_exec_ok returns NULL on error instead (after printing
 * nothing), leaving the result in *err if err is not NULL.
 */
extern PGresult *mq_exec(PGconn *conn, const char *sql, int nparams,
						 const char *const *params);
extern PGresult *mq_exec_interruptible(PGconn *conn, const char *sql, int nparams,
									   const char *const *params);
extern PGresult *mq_exec_binary(PGconn *conn, const char *sql, int nparams,
								const char *const *values, const int *lengths,
								const int *formats, const Oid *types);
extern void mq_fail(PGconn *conn, PGresult *res, const char *context)
			__attribute__((noreturn));
extern bool result_ok(const PGresult *res);
extern const char *result_sqlstate(const PGresult *res);

/*
 * SIGINT/SIGTERM: set interrupted, cancel the query in progress on the
 * registered connection (PQcancel is async-signal-safe), and let a second
 * signal kill the process.
 */
extern volatile sig_atomic_t interrupted;
extern void install_interrupt_handler(PGconn *conn);
extern void forget_interrupt_connection(void);

/* Was this result a query canceled by our own SIGINT handler? */
extern bool canceled_by_us(const PGresult *res);

/* monotonic clock in microseconds */
extern int64_t now_usec(void);
extern void sleep_usec(int64_t usec);

/* ---------------------------------------------------------------------
 * Buffers and output (format.c).
 * --------------------------------------------------------------------- */

typedef struct Buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Buf;

extern void buf_init(Buf *b);
extern void buf_free(Buf *b);
extern void buf_reset(Buf *b);
extern void buf_reserve(Buf *b, size_t extra);
extern void buf_append(Buf *b, const void *data, size_t len);
extern void buf_putc(Buf *b, char c);
extern void buf_printf(Buf *b, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
extern void buf_put_be32(Buf *b, uint32_t v);
extern void buf_put_json_string(Buf *b, const char *s, size_t len);

extern void *xmalloc(size_t n);
extern void *xrealloc(void *p, size_t n);
extern char *xstrdup(const char *s);

/* network-order decoding of binary results */
extern int32_t get_be32(const char *p);
extern int64_t get_be64(const char *p);

/* Parse "\n", "\t", "\0", "\xHH", "\\" escapes; returns the length. */
extern size_t unescape(const char *in, char *out);

/* How %k and %s print bytes. */
typedef enum
{
	BYTES_RAW,					/* as they are (kcat's way) */
	BYTES_ESCAPE,				/* printable ASCII as is, \n \t \\ \xHH otherwise */
	BYTES_HEX,					/* lowercase hex */
	BYTES_BASE64
} BytesMode;

/* One record as it is printed by consume. */
typedef struct MqRecordOut
{
	const char *topic;
	int32_t		partition;
	int64_t		offset;
	int64_t		ts_ms;
	const char *key;			/* NULL: null key */
	int			key_len;
	const char *value;			/* NULL: null value (a tombstone) */
	int			value_len;
	const char *headers;		/* headers as JSON text, NULL if none */
	int			headers_len;
} MqRecordOut;

typedef struct MqFormat MqFormat;

/* Compile a kcat-style format; NULL and *errmsg on a bad one. */
extern MqFormat *format_compile(const char *spec, BytesMode mode,
								bool null_as_word, const char **errmsg);
/* Append one record to out. */
extern void format_record(const MqFormat *f, const MqRecordOut *r, Buf *out);

extern bool parse_bytes_mode(const char *s, BytesMode *mode);

/* write all of a buffer to a FILE; false (errno set) on failure */
extern bool write_all(FILE *fp, const void *data, size_t len);

/*
 * Print a text-format result as an aligned table with a header, or as
 * tab-separated rows without one (tsv).
 */
extern void print_table(const PGresult *res, bool tsv);

/* ---------------------------------------------------------------------
 * Sub-commands.
 * --------------------------------------------------------------------- */

extern int	cmd_topics(int argc, char **argv);
extern int	cmd_produce(int argc, char **argv);
extern int	cmd_consume(int argc, char **argv);
extern int	cmd_groups(int argc, char **argv);
extern int	cmd_nodes(int argc, char **argv);
extern int	cmd_bench(int argc, char **argv);

/* peak resident set size of this process, in kB */
extern long peak_rss_kb(void);

#endif							/* MQCTL_H */
