# kshim/kshim.mk - Linux's own notifier core, compiled in userspace against
# kshim/ (included by the top-level Makefile; docs/architecture.md, "The
# kernel's notifier core").
#
#   make kernel-notifier [KN_VERSION=6.12] [KN_N=1000] [KN_SEED=1]
#       extract the kernel files (scripts/kernel-source, apt-get install
#       linux-source-KN_VERSION if missing) into build/linux-KN_VERSION/,
#       build tests/kernel-notifier/kndiff twice (our core, the kernel's) and
#       compare their logs on KN_N random sequences. Last line:
#       "kernel-notifier: N sequences, M callbacks, D disagreements".
#
# The kernel's files stay in build/ (GPL-2.0, never committed); what is built
# from them lives in $(BUILD_DIR)/kernel-notifier-KN_VERSION/ and is GPL-2.0 too.

KN_VERSION ?= 6.12
KN_N ?= 1000
KN_SEED ?= 1
KN_SKIP_OK ?=
KN_SRC := build/linux-$(KN_VERSION)
KN_DIR := $(BUILD_DIR)/kernel-notifier-$(KN_VERSION)
KN_INC := -Ikshim/include -I$(KN_SRC)/include
# The kernel's files get the kernel's own warning level (-Wall, no -Wextra);
# ours (kshim/*.c, kndiff in kernel mode) the project's.
KN_CFLAGS = -std=gnu11 -D_GNU_SOURCE -Wall -Werror -g -pthread -DCONFIG_MMU_NOTIFIER $(KN_INC) \
	-Iinclude -Isrc $(URCU_CFLAGS) $(DEBUG_FLAGS) $(VARIANT_FLAGS) $(CFLAGS)
KN_KERNEL_SRCS := mm/mmu_notifier.c lib/rbtree.c lib/interval_tree.c
KN_KERNEL_OBJS := $(KN_KERNEL_SRCS:%.c=$(KN_DIR)/linux/%.o)
KN_SHIM_OBJS := $(KN_DIR)/kshim/glue.o $(KN_DIR)/kshim/bridge.o
# Our library without our notifier core.
KN_CORE_OBJS := $(filter-out $(OBJ_DIR)/src/notifier/%,$(LIB_OBJS))
KN_CORE_A := $(KN_DIR)/libsecmmu-core.a
# kndiff sees the cores sleep and wake through these (tests/kernel-notifier/kndiff.c).
# The kit exports sm_wait() and sm_wake_up_all() as secmmu_wait/secmmu_wake_up_all (secmmu/kit/symbols.h).
KN_WRAP := -Wl,--wrap=secmmu_wait,--wrap=secmmu_wake_up_all

.PHONY: kernel-notifier kernel-notifier-source kernel-notifier-run

kernel-notifier:
	@st=0; scripts/kernel-source $(KN_VERSION) $(KN_SRC) || st=$$?; \
	if [ $$st -eq 77 ] && [ -n "$(KN_SKIP_OK)" ]; then \
	  echo "kernel-notifier: SKIPPED: linux-source-$(KN_VERSION) cannot be installed here (see above)"; \
	  exit 0; fi; \
	if [ $$st -ne 0 ]; then echo "kernel-notifier: linux-source-$(KN_VERSION) unavailable" >&2; exit 1; fi; \
	$(MAKE) --no-print-directory kernel-notifier-run

# Every object also depends on the public headers (struct layouts shared with
# libsecmmu): a stale object compiled against an older layout links fine and
# then reads the wrong fields. The kernel's own objects too: kshim's
# linux/mmu_notifier.h lays struct mmu_notifier out as include/secmmu/ does
# (a linux/mm/mmu_notifier.o older than 0b4d428's __core fields gave 939
# false disagreements).
KN_PUBLIC_HDRS := $(wildcard include/secmmu/*.h include/secmmu/*/*.h kshim/compat/secmmu/*.h)

$(KN_DIR)/linux/%.o: $(KN_SRC)/%.c $(KN_SRC)/.stamp $(wildcard kshim/include/*.h kshim/include/*/*.h) $(KN_PUBLIC_HDRS) $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(KN_CFLAGS) -Wno-unused-parameter -c $< -o $@

$(KN_DIR)/kshim/%.o: kshim/%.c $(KN_SRC)/.stamp $(wildcard kshim/include/*.h kshim/include/*/*.h) $(KN_PUBLIC_HDRS) $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(KN_CFLAGS) -Wextra -c $< -o $@

$(KN_DIR)/kndiff-kernel.o: tests/kernel-notifier/kndiff.c $(KN_SRC)/.stamp $(wildcard kshim/include/*.h) $(KN_PUBLIC_HDRS) $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(KN_CFLAGS) -Wextra -DKN_KERNEL -c $< -o $@

$(KN_DIR)/kndiff-secmmu.o: tests/kernel-notifier/kndiff.c $(KN_PUBLIC_HDRS) $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(KN_CORE_A): $(KN_CORE_OBJS)
	@mkdir -p $(@D)
	@rm -f $@
	$(AR) rcs $@ $(KN_CORE_OBJS)

$(KN_DIR)/kndiff-kernel: $(KN_DIR)/kndiff-kernel.o $(KN_KERNEL_OBJS) $(KN_SHIM_OBJS) $(KN_CORE_A)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(KN_WRAP) $(LDLIBS)

$(KN_DIR)/kndiff-secmmu: $(KN_DIR)/kndiff-secmmu.o $(LIB_A)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(KN_WRAP) $(LDLIBS)

# Abandoned sequences (the named deviation eagain-leaves-itree-open) leak by design.
kernel-notifier-run: $(KN_DIR)/kndiff-secmmu $(KN_DIR)/kndiff-kernel
	@echo "kernel-notifier: $(KN_N) sequences from seed $(KN_SEED), secmmu vs linux-$(KN_VERSION)"
	@ASAN_OPTIONS=detect_leaks=0 ./$(KN_DIR)/kndiff-secmmu run $(KN_SEED) $(KN_N) > $(KN_DIR)/secmmu.log
	@ASAN_OPTIONS=detect_leaks=0 ./$(KN_DIR)/kndiff-kernel run $(KN_SEED) $(KN_N) > $(KN_DIR)/kernel.log
	@./$(KN_DIR)/kndiff-secmmu compare $(KN_DIR)/secmmu.log $(KN_DIR)/kernel.log

# ---- the exhibit: a fixed bug put back, found by the explorer on the real code ----
#   make kernel-notifier-exhibit   (tests/kernel-notifier/exhibit_range_end.c)
KN_EXHIBIT := $(KN_DIR)/exhibit

.PHONY: kernel-notifier-exhibit kernel-notifier-exhibit-run
kernel-notifier-exhibit:
	@st=0; scripts/kernel-source $(KN_VERSION) $(KN_SRC) || st=$$?; \
	if [ $$st -eq 77 ] && [ -n "$(KN_SKIP_OK)" ]; then \
	  echo "kernel-notifier-exhibit: SKIPPED: linux-source-$(KN_VERSION) cannot be installed here"; \
	  exit 0; fi; \
	if [ $$st -ne 0 ]; then echo "kernel-notifier-exhibit: linux-source-$(KN_VERSION) unavailable" >&2; exit 1; fi; \
	$(MAKE) --no-print-directory kernel-notifier-exhibit-run

$(KN_EXHIBIT)/mm/mmu_notifier.c: $(KN_SRC)/mm/mmu_notifier.c kshim/exhibits/range-end-unpaired.sh
	@mkdir -p $(@D)
	sh kshim/exhibits/range-end-unpaired.sh $< $@

$(KN_EXHIBIT)/mm/mmu_notifier.o: $(KN_EXHIBIT)/mm/mmu_notifier.c $(wildcard kshim/include/*.h) $(FLAGS_STAMP)
	$(CC) $(KN_CFLAGS) -Wno-unused-parameter -c $< -o $@

$(KN_EXHIBIT)/exhibit.o: tests/kernel-notifier/exhibit_range_end.c $(KN_SRC)/.stamp $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(KN_CFLAGS) -Wextra -c $< -o $@

KN_LIBS_OBJS := $(filter-out %/mmu_notifier.o,$(KN_KERNEL_OBJS)) $(KN_SHIM_OBJS) $(KN_CORE_A)

$(KN_EXHIBIT)/exhibit-fixed: $(KN_EXHIBIT)/exhibit.o $(KN_DIR)/linux/mm/mmu_notifier.o $(KN_LIBS_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

$(KN_EXHIBIT)/exhibit-bug: $(KN_EXHIBIT)/exhibit.o $(KN_EXHIBIT)/mm/mmu_notifier.o $(KN_LIBS_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

# The fixed code must pass every schedule; with the bug back the explorer must
# report the vCPU blocked for good (a deadlock, with a replayable schedule).
kernel-notifier-exhibit-run: $(KN_EXHIBIT)/exhibit-fixed $(KN_EXHIBIT)/exhibit-bug
	@./$(KN_EXHIBIT)/exhibit-fixed > $(KN_EXHIBIT)/fixed.log 2>&1 || \
	  { cat $(KN_EXHIBIT)/fixed.log; echo "kernel-notifier-exhibit: the kernel's code as shipped FAILED"; exit 1; }
	@tail -n 1 $(KN_EXHIBIT)/fixed.log
	@if ./$(KN_EXHIBIT)/exhibit-bug > $(KN_EXHIBIT)/bug.log 2>&1; then \
	  cat $(KN_EXHIBIT)/bug.log; echo "kernel-notifier-exhibit: the bug was NOT found"; exit 1; fi
	@grep -q DEADLOCK $(KN_EXHIBIT)/bug.log || \
	  { cat $(KN_EXHIBIT)/bug.log; echo "kernel-notifier-exhibit: failed, but not as expected"; exit 1; }
	@grep -E 'DEADLOCK|blocked|EXPLORE_SCHEDULE' $(KN_EXHIBIT)/bug.log | head -n 6
	@echo "kernel-notifier-exhibit: range-end-unpaired (Linux 5.13 fix undone) reproduced by the explorer on linux-$(KN_VERSION)'s mm/mmu_notifier.c"

# ---- the variant: make KERNEL_NOTIFIER=6.12 [SANITIZE=...] (BUILD_DIR/kernel-6.12) ----
# The top-level Makefile swaps src/notifier for the objects below and puts
# kshim/compat (secmmu/mmu_notifier.h -> linux/mmu_notifier.h) first on the
# include path; its check runs kshim/check-variant.sh.
ifneq ($(KERNEL_NOTIFIER),)
KNV_SRC := build/linux-$(KERNEL_NOTIFIER)
KNV_CFLAGS = -std=gnu11 -D_GNU_SOURCE -Wall -Werror -g -pthread $(KN_VARIANT_INC) -Iinclude -Isrc \
	$(URCU_CFLAGS) $(DEBUG_FLAGS) $(VARIANT_FLAGS) $(CFLAGS)

$(KNV_SRC)/.stamp:
	scripts/kernel-source $(KERNEL_NOTIFIER) $(KNV_SRC)

# The same public-header dependency as the kernel-notifier objects above (a
# stale mmu_notifier.o of the variant, older than __core, failed 47 tests).
$(OBJ_DIR)/linux/%.o: $(KNV_SRC)/%.c $(KNV_SRC)/.stamp $(wildcard kshim/include/*.h kshim/include/*/*.h) \
		$(KN_PUBLIC_HDRS) $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(KNV_CFLAGS) -fPIC -fvisibility=hidden -Wno-unused-parameter -c $< -o $@

$(OBJ_DIR)/kshim/%.o: kshim/%.c $(KNV_SRC)/.stamp $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(KNV_CFLAGS) -fPIC -fvisibility=hidden -Wextra -MMD -MP -c $< -o $@

# Every object includes the kernel's header through kshim/compat.
$(ALL_OBJS): | $(KNV_SRC)/.stamp
endif
