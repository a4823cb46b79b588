/*
 * bench/bench_util.h: what the libpq clients of `make bench` share
 * (bench/groups.c, bench/ops.c, bench/batches.c): dying with a message,
 * the two clocks, and connecting under an application name.  Each client
 * sets bench_prog first, for its messages.
 */
#ifndef MQ_BENCH_UTIL_H
#define MQ_BENCH_UTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <libpq-fe.h>

static const char *bench_prog = "bench";

static inline void die(const char *fmt,...) __attribute__((noreturn, format(printf, 1, 2)));

static inline void
die(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s: ", bench_prog);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

/* seconds on the monotonic clock, for durations */
static inline double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* seconds since the epoch, to set against server log lines and record times */
static inline double
wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline PGconn *
connect_db(const char *conninfo, const char *appname)
{
	char		buf[1024];
	PGconn	   *c;

	snprintf(buf, sizeof(buf), "%s application_name=%s", conninfo, appname);
	c = PQconnectdb(buf);
	if (PQstatus(c) != CONNECTION_OK)
		die("connect: %s", PQerrorMessage(c));
	return c;
}

#endif							/* MQ_BENCH_UTIL_H */
