# secmmu - top-level Makefile (GNU Make >= 4.3)
#
#   make                      library, command, tests, examples   -> build/
#   make check [TAP=1]        build everything, run tests/run-all.sh (TAP=1: TAP version 14)
#   make check SANITIZE=address   (ASan+UBSan)                     -> build/address/
#   make check SANITIZE=thread    (TSan, -O1)                      -> build/thread/
#   make kernel-notifier      our notifier core vs Linux's own (kshim/kshim.mk)
#   make bench                bench/*.c, DEBUG=0 -O2 -DNDEBUG      -> build/bench/
#   make demo                 build/secmmu demo
#   make museum               the bug museum: every exhibit found, and clean with its bug off
#   make format | clean | install [PREFIX=/usr/local] [DESTDIR=]
#
# Variants never share objects: each has its own BUILD_DIR.

ifeq ($(origin CC),default)
CC := gcc
endif
AR ?= ar
PKG_CONFIG ?= pkg-config
CLANG_FORMAT ?= clang-format

OPT ?= -O2
DEBUG ?= 1
SANITIZE ?=
BENCH ?=

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
# The version lives in include/secmmu/version.h (one source); the shared
# library is libsecmmu.so.VERSION with soname libsecmmu.so.MAJOR.
VERSION := $(shell sed -n 's/^\#define SECMMU_VERSION_STRING *"\(.*\)"/\1/p' include/secmmu/version.h)
SOVERSION := $(firstword $(subst ., ,$(VERSION)))

URCU_CFLAGS := $(shell $(PKG_CONFIG) --cflags liburcu-memb)
URCU_LIBS := $(shell $(PKG_CONFIG) --libs liburcu-memb)

# ---- variant selection ----
ifneq ($(BENCH),)
  BUILD_DIR := build/bench
  DEBUG := 0
  VARIANT_FLAGS := -O2 -DNDEBUG
else ifeq ($(SANITIZE),address)
  BUILD_DIR := build/address
  VARIANT_FLAGS := $(OPT) -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
  VARIANT_LDFLAGS := -fsanitize=address,undefined
else ifeq ($(SANITIZE),thread)
  BUILD_DIR := build/thread
  VARIANT_FLAGS := $(OPT) -O1 -fsanitize=thread -fno-omit-frame-pointer
  VARIANT_LDFLAGS := -fsanitize=thread
else ifeq ($(SANITIZE),)
  BUILD_DIR := build
  VARIANT_FLAGS := $(OPT)
else
  $(error SANITIZE must be empty, 'address' or 'thread' (got '$(SANITIZE)'))
endif

# make KERNEL_NOTIFIER=6.12: src/mm, the drivers and the tools on Linux's own
# notifier core (kshim/kshim.mk), in BUILD_DIR/kernel-6.12.
KERNEL_NOTIFIER ?=
ifneq ($(KERNEL_NOTIFIER),)
  BUILD_DIR := $(BUILD_DIR)/kernel-$(KERNEL_NOTIFIER)
  KN_VARIANT_INC := -DCONFIG_MMU_NOTIFIER -Ikshim/compat -Ikshim/include \
	-Ibuild/linux-$(KERNEL_NOTIFIER)/include
endif

ifeq ($(DEBUG),0)
  DEBUG_FLAGS := -DSECMMU_DEBUG=0
else
  DEBUG_FLAGS := -DSECMMU_DEBUG=1
endif

CFLAGS ?=
LDFLAGS ?=
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -pthread $(KN_VARIANT_INC) -Iinclude -Isrc \
	$(URCU_CFLAGS) $(DEBUG_FLAGS) $(VARIANT_FLAGS) $(CFLAGS)
DEPFLAGS = -MMD -MP
ALL_LDFLAGS := -pthread $(VARIANT_LDFLAGS) $(LDFLAGS)
LDLIBS := $(URCU_LIBS) -pthread -lm

OBJ_DIR := $(BUILD_DIR)/obj

# Rebuild a variant's objects when its flags change (e.g. make DEBUG=0 after make).
FLAGS_STAMP := $(OBJ_DIR)/.flags
# The library's own compile flags (LIB_CFLAGS) are part of the stamp too, so
# that changing them (as -fvisibility=hidden did) rebuilds every object.
LIB_CFLAGS := -fPIC -fvisibility=hidden
FLAGS_LINE := $(CC) $(ALL_CFLAGS) [lib: $(LIB_CFLAGS)] | $(ALL_LDFLAGS) $(LDLIBS)
ifeq ($(filter clean format,$(MAKECMDGOALS)),)
$(shell mkdir -p $(OBJ_DIR) && (echo '$(FLAGS_LINE)' | cmp -s - $(FLAGS_STAMP) || \
	echo '$(FLAGS_LINE)' > $(FLAGS_STAMP)))
endif

# ---- sources ----
LIB_SRCS := $(sort $(shell find src -name '*.c' 2>/dev/null))
TOOL_SRCS := $(sort $(wildcard tools/*.c))
UNIT_SRCS := $(sort $(wildcard tests/unit/*.c))
STRESS_SRCS := $(sort $(wildcard tests/stress/*.c))
EXAMPLE_SRCS := $(sort $(wildcard examples/*.c))
BENCH_SRCS := $(sort $(wildcard bench/*.c))
HARNESS_SRC := tests/harness.c

ifneq ($(KERNEL_NOTIFIER),)
# Our notifier core out, the kernel's in (kshim/kshim.mk); only the tests that
# use the public API (stress, the short torture) are built.
LIB_SRCS := $(filter-out src/notifier/%,$(LIB_SRCS))
UNIT_SRCS := $(filter tests/unit/test_torture_short.c,$(UNIT_SRCS))
endif
LIB_OBJS := $(LIB_SRCS:%.c=$(OBJ_DIR)/%.o)
ifneq ($(KERNEL_NOTIFIER),)
LIB_OBJS += $(OBJ_DIR)/linux/mm/mmu_notifier.o $(OBJ_DIR)/linux/lib/rbtree.o \
	$(OBJ_DIR)/linux/lib/interval_tree.o $(OBJ_DIR)/kshim/glue.o $(OBJ_DIR)/kshim/bridge.o
endif
TOOL_OBJS := $(TOOL_SRCS:%.c=$(OBJ_DIR)/%.o)
HARNESS_OBJ := $(OBJ_DIR)/tests/harness.o

# Built-in scenarios: scenarios/*.scn are embedded into the secmmu command as
# sim_builtins[] (src/sim/sim.h) by scripts/embed-scenarios. The directory is
# a prerequisite so that adding or removing a file regenerates the table.
SCENARIO_FILES := $(sort $(wildcard scenarios/*.scn))
SCENARIOS_C := $(BUILD_DIR)/gen/scenarios.c
SCENARIOS_OBJ := $(OBJ_DIR)/gen/scenarios.o
TOOL_OBJS += $(if $(TOOL_SRCS),$(SCENARIOS_OBJ))

LIB_A := $(BUILD_DIR)/libsecmmu.a
LIB_SO := $(BUILD_DIR)/libsecmmu.so
LIB_SO_REAL := $(BUILD_DIR)/libsecmmu.so.$(VERSION)
LIB_SO_NAME := libsecmmu.so.$(SOVERSION)
SECMMU := $(if $(TOOL_SRCS),$(BUILD_DIR)/secmmu)
TEST_BINS := $(UNIT_SRCS:tests/%.c=$(BUILD_DIR)/tests/%) $(STRESS_SRCS:tests/%.c=$(BUILD_DIR)/tests/%)
EXAMPLE_BINS := $(EXAMPLE_SRCS:examples/%.c=$(BUILD_DIR)/examples/%)
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(BUILD_DIR)/bench/%)

ALL_OBJS := $(LIB_OBJS) $(TOOL_OBJS) $(HARNESS_OBJ) \
	$(UNIT_SRCS:%.c=$(OBJ_DIR)/%.o) $(STRESS_SRCS:%.c=$(OBJ_DIR)/%.o) \
	$(EXAMPLE_SRCS:%.c=$(OBJ_DIR)/%.o) $(BENCH_SRCS:%.c=$(OBJ_DIR)/%.o) \
	$(OBJ_DIR)/tests/torture/torture.o

.PHONY: all lib tests examples check demo museum bench bench-build bench-run format clean install \
	uninstall print-vars
.DEFAULT_GOAL := all
.DELETE_ON_ERROR:

all: lib $(SECMMU) tests examples

lib: $(LIB_A) $(LIB_SO)

tests: $(TEST_BINS)

examples: $(EXAMPLE_BINS)

# ---- compile ----
# Everything is -fPIC so the same objects go into the .a and the .so.
# -fvisibility=hidden: libsecmmu.so exports only what the public headers
# declare (they bracket their declarations with SECMMU_BEGIN_DECLS, which
# restores default visibility); tests/abi-check.sh checks the result.
$(OBJ_DIR)/src/%.o: src/%.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LIB_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(OBJ_DIR)/tools/%.o: tools/%.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(OBJ_DIR)/tests/%.o: tests/%.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests $(DEPFLAGS) -c $< -o $@

$(OBJ_DIR)/examples/%.o: examples/%.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(OBJ_DIR)/bench/%.o: bench/%.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Ibench $(DEPFLAGS) -c $< -o $@

$(SCENARIOS_C): $(SCENARIO_FILES) $(wildcard scenarios) scripts/embed-scenarios
	@mkdir -p $(@D)
	sh scripts/embed-scenarios $(SCENARIO_FILES) > $@

$(SCENARIOS_OBJ): $(SCENARIOS_C) $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# ---- libraries ----
# With no sources yet, the archive is empty and the .so is built from nothing.
$(LIB_A): $(LIB_OBJS)
	@mkdir -p $(@D)
	@rm -f $@
	$(AR) rcs $@ $(LIB_OBJS)

# libsecmmu.so.VERSION, with the symlinks libsecmmu.so.MAJOR (the soname,
# what programs load) and libsecmmu.so (what -lsecmmu finds).
$(LIB_SO_REAL): $(LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-soname,$(LIB_SO_NAME) -Wl,--no-undefined $(ALL_LDFLAGS) -o $@ \
		$(LIB_OBJS) $(LDLIBS)

$(LIB_SO): $(LIB_SO_REAL)
	ln -sf $(notdir $(LIB_SO_REAL)) $(BUILD_DIR)/$(LIB_SO_NAME)
	ln -sf $(LIB_SO_NAME) $@

# ---- programs ----
$(BUILD_DIR)/secmmu: $(TOOL_OBJS) $(LIB_A)
	$(CC) $(ALL_LDFLAGS) -o $@ $(TOOL_OBJS) $(LIB_A) $(LDLIBS)

$(BUILD_DIR)/tests/%: $(OBJ_DIR)/tests/%.o $(HARNESS_OBJ) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(HARNESS_OBJ) $(LIB_A) $(LDLIBS)

$(BUILD_DIR)/examples/%: $(OBJ_DIR)/examples/%.o $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIB_A) $(LDLIBS)

$(BUILD_DIR)/bench/%: $(OBJ_DIR)/bench/%.o $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIB_A) $(LDLIBS)

# Keep objects: the pattern rules above would otherwise treat them as intermediates.
.SECONDARY: $(ALL_OBJS)

# ---- running ----
# Then the kernel-notifier comparison and exhibit (kshim/kshim.mk), skipped with a message
# when linux-source-$(KN_VERSION) cannot be installed; KN_CHECK=0 leaves it out.
KN_CHECK ?= 1
check: all
ifeq ($(KERNEL_NOTIFIER),)
	@bash tests/run-all.sh $(BUILD_DIR)
	@if [ "$(KN_CHECK)" != 0 ]; then $(MAKE) --no-print-directory kernel-notifier KN_SKIP_OK=1 && \
	  $(MAKE) --no-print-directory kernel-notifier-exhibit KN_SKIP_OK=1; fi
else
	@bash kshim/check-variant.sh $(BUILD_DIR)
endif

# The bug museum (docs/museum.md): every museum/NAME.scn found with its bug on,
# clean with it off (MUSEUM_RUNS schedules, default 200; the full table wants 10000).
museum: lib $(SECMMU)
	@bash scripts/museum.sh $(BUILD_DIR)

demo: lib $(SECMMU)
	@test -n "$(SECMMU)" || { echo "make demo: no tools/*.c yet, no secmmu command" >&2; exit 1; }
	$(SECMMU) demo

# The bench variant lives in build/bench (DEBUG=0, -O2, -DNDEBUG).
bench:
	@$(MAKE) --no-print-directory BENCH=1 SANITIZE= bench-run

bench-build: $(if $(BENCH_BINS),lib $(BENCH_BINS))

# Every benchmark, then the report (scripts/bench-report): build/bench.txt,
# build/bench.csv (name,ours_ns,ref_ns,ratio), the scaling tables
# build/bench-*.dat and the plots build/bench.png (gnuplot, if installed).
# BENCH_SMOKE=1: one tiny run each, written to build/bench-smoke/ so that the
# real results are never overwritten.
BENCH_OUT := $(if $(filter-out 0,$(BENCH_SMOKE)),build/bench-smoke,build)
# Linux's own notifier core (the KERNEL_NOTIFIER variant's notifier bench:
# the dispatch cases only) joins the run when its source is extracted (make
# kernel-notifier): the floor of the notifier_dispatch targets.
KN_BENCH_BIN = $(if $(wildcard build/linux-$(KN_VERSION)/include/linux),build/bench/kernel-$(KN_VERSION)/bench/notifier)
bench-run: bench-build
	$(if $(KN_BENCH_BIN),@$(MAKE) --no-print-directory KERNEL_NOTIFIER=$(KN_VERSION) BENCH=1 SANITIZE= bench-build)
	@bash scripts/bench-report $(BENCH_OUT) $(BENCH_BINS) $(KN_BENCH_BIN)

# ---- housekeeping ----
FORMAT_DIRS := src include tools tests bench examples kshim

format:
	@files=$$(find $(FORMAT_DIRS) -type f \( -name '*.c' -o -name '*.h' \) 2>/dev/null); \
	if [ -n "$$files" ]; then $(CLANG_FORMAT) -i $$files; fi

clean:
	rm -rf build

$(BUILD_DIR)/secmmu.pc: secmmu.pc.in Makefile
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' $< > $@

# secmmu.pc is written straight from secmmu.pc.in so that it always has this PREFIX.
install: lib $(SECMMU)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/secmmu \
		$(DESTDIR)$(BINDIR)
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/libsecmmu.a
	install -m 755 $(LIB_SO_REAL) $(DESTDIR)$(LIBDIR)/$(notdir $(LIB_SO_REAL))
	ln -sf $(notdir $(LIB_SO_REAL)) $(DESTDIR)$(LIBDIR)/$(LIB_SO_NAME)
	ln -sf $(LIB_SO_NAME) $(DESTDIR)$(LIBDIR)/libsecmmu.so
	@set -e; for h in $$(find include/secmmu -name '*.h' 2>/dev/null); do \
		d=$(DESTDIR)$(INCLUDEDIR)/$${h#include/}; \
		echo "install -m 644 $$h $$d"; \
		install -D -m 644 $$h $$d; \
	done
	$(if $(SECMMU),install -m 755 $(SECMMU) $(DESTDIR)$(BINDIR)/secmmu)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' secmmu.pc.in \
	    > $(DESTDIR)$(LIBDIR)/pkgconfig/secmmu.pc
	chmod 644 $(DESTDIR)$(LIBDIR)/pkgconfig/secmmu.pc
	install -D -m 644 man/secmmu.1 $(DESTDIR)$(MANDIR)/man1/secmmu.1
	$(if $(wildcard man/libsecmmu.3),install -D -m 644 man/libsecmmu.3 $(DESTDIR)$(MANDIR)/man3/libsecmmu.3)
	install -D -m 644 tools/secmmu.bash-completion \
		$(DESTDIR)$(BASHCOMPDIR)/secmmu

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libsecmmu.a $(DESTDIR)$(LIBDIR)/libsecmmu.so \
		$(DESTDIR)$(LIBDIR)/$(LIB_SO_NAME) $(DESTDIR)$(LIBDIR)/$(notdir $(LIB_SO_REAL)) \
		$(DESTDIR)$(LIBDIR)/pkgconfig/secmmu.pc $(DESTDIR)$(BINDIR)/secmmu \
		$(DESTDIR)$(MANDIR)/man1/secmmu.1 $(DESTDIR)$(MANDIR)/man3/libsecmmu.3 \
		$(DESTDIR)$(BASHCOMPDIR)/secmmu
	rm -rf $(DESTDIR)$(INCLUDEDIR)/secmmu

print-vars:
	@echo BUILD_DIR=$(BUILD_DIR)
	@echo CC=$(CC)
	@echo CFLAGS=$(ALL_CFLAGS)
	@echo LDFLAGS=$(ALL_LDFLAGS)
	@echo LDLIBS=$(LDLIBS)
	@echo LIB_SRCS=$(LIB_SRCS)
	@echo TEST_BINS=$(TEST_BINS)
	@echo EXAMPLE_BINS=$(EXAMPLE_BINS)
	@echo BENCH_BINS=$(BENCH_BINS)

-include $(ALL_OBJS:.o=.d)

# ---- the differential test against the running kernel (tests/diff) ----
#   make difftest [DIFF_SEEDS=5000] [DIFF_N=100] [DIFF_JOBS=4] [DIFF_MIXES='basic remap ...']
# make check runs the short mode (8 seeds of each mix).
DIFF_SEEDS ?= 5000
DIFF_N ?= 100
DIFF_JOBS ?= 4
.PHONY: difftest
difftest: all
	DIFF_JOBS=$(DIFF_JOBS) bash tests/diff/run.sh $(BUILD_DIR) $(DIFF_SEEDS) $(DIFF_N)

include kshim/kshim.mk

# ---- torture and fuzzing (tests/torture, tests/fuzz; see docs/testing.md) ----
#   make torture [TORTURE_S=600] [TORTURE_ARGS='--seed S --threads T']
#   make fuzz [FUZZ_S=60]        clang + libFuzzer + ASan/UBSan, into build/fuzz/
TORTURE_S ?= 600
TORTURE_ARGS ?=
TORTURE_BIN := $(BUILD_DIR)/torture

$(TORTURE_BIN): $(OBJ_DIR)/tests/torture/torture.o $(LIB_A)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIB_A) $(LDLIBS)

.PHONY: torture fuzz fuzz-build
torture: $(TORTURE_BIN)
	./$(TORTURE_BIN) --secs $(TORTURE_S) $(TORTURE_ARGS)

FUZZ_S ?= 60
FUZZ_CC ?= clang
FUZZ_DIR := build/fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -g -O1 -pthread -Iinclude -Isrc -Itests \
	$(URCU_CFLAGS) -DSECMMU_DEBUG=1 $(FUZZ_SAN)
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_DIR)/%)
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FUZZ_DIR)/obj/%.o) $(FUZZ_DIR)/obj/gen/scenarios.o

$(FUZZ_DIR)/obj/src/%.o: src/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_DIR)/gen/scenarios.c: $(SCENARIO_FILES) scripts/embed-scenarios
	@mkdir -p $(@D)
	sh scripts/embed-scenarios $(SCENARIO_FILES) > $@

$(FUZZ_DIR)/obj/gen/scenarios.o: $(FUZZ_DIR)/gen/scenarios.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_DIR)/obj/tests/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Werror -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.o $(FUZZ_LIB_OBJS)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -pthread -o $@ $< $(FUZZ_LIB_OBJS) $(URCU_LIBS) -lm

fuzz-build: $(FUZZ_BINS)

.SECONDARY: $(FUZZ_LIB_OBJS) $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_DIR)/obj/tests/fuzz/%.o) $(FUZZ_DIR)/gen/scenarios.c

# Each harness runs FUZZ_S seconds on a copy of its seed corpus (build/fuzz/corpus/);
# crashes are written to build/fuzz/crash-* and fail the target.
fuzz: fuzz-build
	@set -e; for f in $(FUZZ_BINS); do n=$${f##*/}; \
	  mkdir -p $(FUZZ_DIR)/corpus/$$n; cp -n tests/fuzz/corpus/$$n/* $(FUZZ_DIR)/corpus/$$n/ 2>/dev/null || true; \
	  echo "== $$n ($(FUZZ_S)s)"; \
	  ASAN_OPTIONS=detect_leaks=1 $$f -max_total_time=$(FUZZ_S) -timeout=20 -rss_limit_mb=4096 \
	    -max_len=4096 -artifact_prefix=$(FUZZ_DIR)/crash-$$n- $(FUZZ_DIR)/corpus/$$n \
	    tests/fuzz/corpus/$$n > $(FUZZ_DIR)/$$n.log 2>&1 || { tail -n 60 $(FUZZ_DIR)/$$n.log; echo "fuzz: $$n failed"; exit 1; }; \
	  tail -n 3 $(FUZZ_DIR)/$$n.log; done

# ---- scenario fuzzing (scripts/fuzz-scenarios; see docs/testing.md) ----
#   make fuzz-scenarios [FUZZ_SCN_N=200] [FUZZ_SCN_TSAN_N=20] [FUZZ_SCN_LINES=200]
#                       [FUZZ_SCN_SEED=1] [FUZZ_SCN_JOBS=4] [FUZZ_SCN_ARGS=...]
# Generated scenarios through build/address/secmmu (ASan+UBSan), then
# build/thread/secmmu (TSan); findings, minimized, in build/fuzz-scenarios/.
FUZZ_SCN_N ?= 200
FUZZ_SCN_TSAN_N ?= 20
FUZZ_SCN_LINES ?= 200
FUZZ_SCN_SEED ?= 1
FUZZ_SCN_JOBS ?= 4
FUZZ_SCN_ARGS ?=

.PHONY: fuzz-scenarios
fuzz-scenarios:
	$(MAKE) SANITIZE=address build/address/secmmu
	$(MAKE) SANITIZE=thread build/thread/secmmu
	@st=0; \
	scripts/fuzz-scenarios --bin build/address/secmmu --count $(FUZZ_SCN_N) \
	  --lines $(FUZZ_SCN_LINES) --seed $(FUZZ_SCN_SEED) --jobs $(FUZZ_SCN_JOBS) \
	  --out build/fuzz-scenarios/address $(FUZZ_SCN_ARGS) || st=1; \
	scripts/fuzz-scenarios --bin build/thread/secmmu --count $(FUZZ_SCN_TSAN_N) \
	  --lines $(FUZZ_SCN_LINES) --seed $(FUZZ_SCN_SEED) --jobs $(FUZZ_SCN_JOBS) \
	  --out build/fuzz-scenarios/thread $(FUZZ_SCN_ARGS) || st=1; \
	exit $$st

-include $(wildcard $(FUZZ_DIR)/obj/*/*.d $(FUZZ_DIR)/obj/*/*/*.d $(FUZZ_DIR)/obj/*/*/*/*.d)
