# test/unit/unit.mk
#	  Codec unit tests and fuzzers, outside PGXS.
#
# Usable standalone:   make -f test/unit/unit.mk unittest
#                      make -f test/unit/unit.mk fuzz FUZZ_SECONDS=30
# or from the top-level Makefile with:   include test/unit/unit.mk
# (paths are relative to $(CURDIR), i.e. run make from the repository root).
#
# Targets:
#   unittest     warning check of the codec with every compiler in
#                UNIT_COMPILERS (-Wall -Wextra -Werror plus PostgreSQL's
#                warning flags), then build codec_test with ASan+UBSan per
#                compiler and run it against test/data/kafka.
#   fuzz         build the libFuzzer targets with clang and run
#                fuzz_record_batch for FUZZ_SECONDS and fuzz_varint for
#                FUZZ_VARINT_SECONDS, seeded from the vectors.
#   fuzz-build   only build the fuzzers.
#   unit-clean   remove build/unit and build/fuzz.
#
# Every variable is prefixed UNIT_ or FUZZ_ so as not to collide with PGXS;
# the default goal of an including Makefile is left alone.

UNIT_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

UNIT_ROOT		?= $(CURDIR)
UNIT_BUILD		?= $(UNIT_ROOT)/build/unit
UNIT_DATA		?= $(UNIT_ROOT)/test/data/kafka
UNIT_SRCDIR		:= $(UNIT_ROOT)/test/unit
UNIT_CODEC_DIR	:= $(UNIT_ROOT)/src/codec
UNIT_CODEC_SRC	:= $(addprefix $(UNIT_CODEC_DIR)/,varint.c crc32c.c murmur2.c record_batch.c)
UNIT_CODEC_HDR	:= $(addprefix $(UNIT_CODEC_DIR)/,varint.h crc32c.h murmur2.h record_batch.h)
UNIT_TEST_SRC	:= $(UNIT_SRCDIR)/codec_test.c $(UNIT_SRCDIR)/crc32c_portable.c
UNIT_TEST_HDR	:= $(UNIT_SRCDIR)/batch_util.h
UNIT_PERL		?= perl
UNIT_MUTATIONS	?= 20000

# clang 14 and gcc 12, whichever are installed (the first found of each).
UNIT_COMPILERS	?= $(strip $(firstword $(shell command -v clang-14 clang 2>/dev/null)) \
					$(firstword $(shell command -v gcc-12 gcc 2>/dev/null)))

# PostgreSQL 15's own warning flags (pg_config --cflags) on top of
# -Wall -Wextra, so that the codec also builds cleanly under PGXS.
UNIT_WARN		:= -std=c99 -Wall -Wextra -Werror -Wmissing-prototypes \
				   -Wpointer-arith -Wdeclaration-after-statement -Werror=vla \
				   -Wendif-labels -Wimplicit-fallthrough -Wformat-security \
				   -Wshadow
UNIT_SAN		:= -fsanitize=address,undefined -fno-sanitize-recover=all \
				   -fno-omit-frame-pointer
UNIT_CFLAGS		?= -g -O1
UNIT_RUN_ENV	:= ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1 \
				   UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

UNIT_VECTORS	:= $(UNIT_BUILD)/vectors.txt
UNIT_CC_NAMES	:= $(notdir $(UNIT_COMPILERS))
UNIT_BINS		:= $(foreach c,$(UNIT_CC_NAMES),$(UNIT_BUILD)/$(c)/codec_test)
UNIT_WARN_STAMPS := $(foreach c,$(UNIT_CC_NAMES),$(UNIT_BUILD)/$(c)/warnings.ok)

FUZZ_CC			?= $(firstword $(shell command -v clang-14 clang 2>/dev/null))
FUZZ_BUILD		?= $(UNIT_ROOT)/build/fuzz
FUZZ_SRCDIR		:= $(UNIT_ROOT)/test/fuzz
FUZZ_SECONDS	?= 60
FUZZ_VARINT_SECONDS ?= 10
FUZZ_FLAGS		:= -g -O1 -std=c99 -Wall -Wextra -Werror \
				   -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
				   -I$(UNIT_CODEC_DIR) -I$(UNIT_SRCDIR)
FUZZ_RUN_FLAGS	?= -print_final_stats=1 -timeout=10
FUZZ_TARGETS	:= record_batch varint

.PHONY: unittest fuzz fuzz-build unit-clean

unittest: $(UNIT_WARN_STAMPS) $(UNIT_BINS) $(UNIT_VECTORS)
	@test -n "$(UNIT_BINS)" || { echo "unittest: no C compiler found" >&2; exit 1; }
	@set -e; for b in $(UNIT_BINS); do \
		echo "# running $$b"; \
		$(UNIT_RUN_ENV) $$b $(UNIT_VECTORS) $(UNIT_MUTATIONS); \
	done

$(UNIT_VECTORS): $(UNIT_SRCDIR)/vectors.pl $(wildcard $(UNIT_DATA)/*.json)
	@mkdir -p $(@D)
	$(UNIT_PERL) $(UNIT_SRCDIR)/vectors.pl $(UNIT_DATA) > $@.tmp
	@mv $@.tmp $@

# Compile the codec alone with the strict flags and no sanitizers (-O2, as
# the extension is built), once per compiler; -Werror makes a warning fail.
$(UNIT_BUILD)/%/warnings.ok: $(UNIT_CODEC_SRC) $(UNIT_CODEC_HDR)
	@mkdir -p $(@D)
	@set -e; for f in $(UNIT_CODEC_SRC); do \
		$(firstword $(filter %/$* $*,$(UNIT_COMPILERS))) $(UNIT_WARN) -O2 -fPIC -c $$f \
			-o $(@D)/$$(basename $$f .c).o; \
	done
	@echo "# codec compiles warning-free with $*"
	@touch $@

$(UNIT_BUILD)/%/codec_test: $(UNIT_CODEC_SRC) $(UNIT_CODEC_HDR) $(UNIT_TEST_SRC) $(UNIT_TEST_HDR)
	@mkdir -p $(@D)
	$(firstword $(filter %/$* $*,$(UNIT_COMPILERS))) $(UNIT_WARN) $(UNIT_CFLAGS) $(UNIT_SAN) \
		-I$(UNIT_CODEC_DIR) -o $@ $(UNIT_CODEC_SRC) $(UNIT_TEST_SRC)

fuzz-build: $(foreach t,$(FUZZ_TARGETS),$(FUZZ_BUILD)/fuzz_$(t))

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_SRCDIR)/fuzz_%.c $(UNIT_CODEC_SRC) $(UNIT_CODEC_HDR) $(UNIT_TEST_HDR) $(UNIT_SRCDIR)/crc32c_portable.c
	@test -n "$(FUZZ_CC)" || { echo "fuzz: clang not found" >&2; exit 1; }
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(UNIT_CODEC_SRC) $(UNIT_SRCDIR)/crc32c_portable.c

# Seeds are regenerated from the vectors into a scratch directory on every
# run; the working corpus (what libFuzzer found) persists in build/fuzz.
fuzz: fuzz-build
	@rm -rf $(FUZZ_BUILD)/seed
	@mkdir -p $(FUZZ_BUILD)/seed $(FUZZ_BUILD)/artifacts
	$(UNIT_PERL) $(UNIT_SRCDIR)/vectors.pl --corpus $(UNIT_DATA) $(FUZZ_BUILD)/seed
	@set -e; \
	run() { \
		mkdir -p $(FUZZ_BUILD)/corpus-$$1; \
		echo "# fuzz_$$1 for $$2 s"; \
		$(FUZZ_BUILD)/fuzz_$$1 $(FUZZ_RUN_FLAGS) -max_total_time=$$2 \
			-artifact_prefix=$(FUZZ_BUILD)/artifacts/$$1- \
			$(FUZZ_BUILD)/corpus-$$1 $(FUZZ_BUILD)/seed/$$1 \
			> $(FUZZ_BUILD)/fuzz_$$1.log 2>&1 || { \
				tail -n 60 $(FUZZ_BUILD)/fuzz_$$1.log; \
				echo "fuzz_$$1: FINDING, see $(FUZZ_BUILD)/artifacts" >&2; \
				exit 1; }; \
		grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::new_units_added)' \
			$(FUZZ_BUILD)/fuzz_$$1.log || true; \
		echo "# fuzz_$$1: no findings"; \
	}; \
	run record_batch $(FUZZ_SECONDS); \
	run varint $(FUZZ_VARINT_SECONDS)

unit-clean:
	rm -rf $(UNIT_BUILD) $(FUZZ_BUILD)

.DEFAULT_GOAL := $(UNIT_SAVED_DEFAULT_GOAL)
