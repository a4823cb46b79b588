# mqext: Kafka's model inside PostgreSQL 15, built with PGXS.
#
#   make run     install what is missing, build, install, start a local
#                cluster on 127.0.0.1:$(MQ_PORT) with mqext preloaded, quickstart
#   make stop    stop that cluster
#   make test    the same set-up, then every test suite on throwaway clusters
#   make bench   benchmarks against Postgres' own limits (not part of test)
#   make fuzz    fuzz the RecordBatch decoder (not part of test)

EXTENSION = mqext
MODULE_big = mqext
DATA = $(wildcard sql/mqext--*.sql)
PGFILEDESC = "mqext - Kafka-style partitioned logs inside PostgreSQL"

OBJS = \
	src/mqext.o \
	src/guc.o \
	src/shmem/shmem.o \
	src/shmem/partition_state.o \
	src/shmem/xact_hooks.o \
	src/shmem/waiters.o \
	src/catalog/metadata_cache.o \
	src/codec/crc32c.o \
	src/codec/murmur2.o \
	src/codec/record_batch.o \
	src/codec/varint.o \
	src/log/segment.o \
	src/log/log_append.o \
	src/log/log_read.o \
	src/log/recovery.o \
	src/log/compact.o \
	src/broker/headers.o \
	src/broker/idempotence.o \
	src/broker/produce.o \
	src/broker/produce_encoded.o \
	src/broker/fetch.o \
	src/broker/watch.o \
	src/group/poll_wait.o \
	src/group/session.o \
	src/bgw/launcher.o \
	src/coord/autonomous.o \
	src/api/group_funcs.o \
	src/api/produce_funcs.o \
	src/api/fetch_funcs.o \
	src/api/topic_funcs.o

PG_CPPFLAGS = -I$(srcdir)/src
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare \
	-Wno-missing-field-initializers -Werror

# pg_regress scripts live in sql/ beside the extension scripts (PG15's
# pg_regress reads sql/ and expected/ under one input dir).
REGRESS = topic produce fetch idempotence codec_vectors privileges group coord retention compaction stats batches
ISOLATION = lso lso_batches fetch_batches_held savepoint_inflight serializable aborted multi_topic prepare segment_roll housekeeping_drop group_rebalance group_fencing group_sweep group_poll_wait coord_tree coord_node_wait coord_elect coord_lock compaction_inflight compaction_concurrent create_topic group_static

PG_CONFIG ?= $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifeq ($(PGXS),)
# not installed yet: `make run` / `make test` install it first
all:
	@echo "PostgreSQL 15 server headers are missing: run 'make deps' (as root) first" >&2; exit 1
else
include $(PGXS)
endif

# PGXS tracks no header dependencies: rebuild everything when a header changes.
$(OBJS): $(wildcard src/*.h src/*/*.h)

# mqctl, the command-line client (src/client/): a libpq frontend program with
# its own rule, since PGXS's PROGRAM would take over OBJS, which MODULE_big
# uses.  Built by `make`, installed by `make install` into pg_config --bindir
# (/usr/lib/postgresql/15/bin on Debian), next to psql and pg_ctl.
ifneq ($(PGXS),)
MQCTL = build/mqctl
MQCTL_SRCS = $(wildcard src/client/*.c)
MQCTL_CFLAGS = -O2 -g -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread \
	-I$(shell $(PG_CONFIG) --includedir)
MQCTL_LIBS = -L$(shell $(PG_CONFIG) --libdir) -lpq -pthread

all: $(MQCTL)

$(MQCTL): $(MQCTL_SRCS) $(wildcard src/client/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(MQCTL_CFLAGS) -o $@ $(MQCTL_SRCS) $(MQCTL_LIBS)

install: install-mqctl
install-mqctl: $(MQCTL)
	$(INSTALL_PROGRAM) $(MQCTL) '$(DESTDIR)$(bindir)/mqctl'

uninstall: uninstall-mqctl
uninstall-mqctl:
	rm -f '$(DESTDIR)$(bindir)/mqctl'

clean: clean-mqctl
clean-mqctl:
	rm -f $(MQCTL)

.PHONY: install-mqctl uninstall-mqctl clean-mqctl
endif

MQ_PORT ?= 55432

.PHONY: deps run stop test bench fuzz unittest

deps:
	scripts/deps.sh

run:
	scripts/run.sh start

stop:
	scripts/run.sh stop

test:
	scripts/test.sh

bench:
	scripts/bench.sh

-include test/unit/unit.mk

print-regress:
	@echo $(REGRESS)
print-isolation:
	@echo $(ISOLATION)
