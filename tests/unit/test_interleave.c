// SPDX-License-Identifier: MIT
/*
 * Interleaving exploration (base/sched_explore.h) over the seeds' race
 * windows. Each case runs two threads one at a time, switching at ranked-lock
 * acquisitions and releases and at the sched_point()s of the test drivers'
 * callbacks, and checks its rule at the end of every run:
 *
 *   (i)   exit (last mmput) vs mmu_notifier_unregister: ->release exactly
 *         once, and unregister returns only after it ran;
 *   (ii)  a notifier's release vs an IO page fault (mmget_not_zero): after
 *         exit, page requests and DMA are -ESRCH, never a page of a dead mm;
 *   (iii) a mirror device fault vs munmap of its range: no stale translation,
 *         the data right;
 *   (iv)  VFIO container close vs process exit: exactly one release, pins and
 *         locked_vm all back;
 *   (v)   mmu_notifier_put vs a running callback of that notifier:
 *         free_notifier only after the callback returned;
 *   (vi)  a KSM merge vs an SVA device's page walk: the IOTLB never keeps
 *         the duplicate frame the merge frees.
 *
 * Plus self-tests of the explorer: it finds a lost update (random and DFS),
 * DFS with a preemption bound terminates with the expected count, a deadlock
 * is reported, and EXPLORE_SCHEDULE forces a schedule.
 *
 * Every thread of a run is controlled: the devices' DMA engines and fault
 * workers are created in setup() (on the run's root thread) and stopped in
 * check(), so report() asserts, for every case, that nothing ran outside
 * control (explore_result.outside == 0). Iterations are fewer under
 * ThreadSanitizer.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/lock.h"
#include "base/rcu.h"
#include "base/sched_explore.h"
#include "harness.h"
#include "secmmu/err.h"
#include "secmmu/check.h"
#include "secmmu/iommu.h"
#include "secmmu/memremap.h"
#include "secmmu/migrate.h"
#include "secmmu/mirror.h"
#include "secmmu/mmu_notifier.h"
#include "secmmu/sched.h"
#include "secmmu/swap.h"
#include "secmmu/vfio.h"
#include "explore_util.h"
#include "testutil.h"

/* ---- self-tests of the explorer ---- */

struct counter_ctx {
	int value;	    /* racy by design, but only one thread runs at a time */
	unsigned long lost; /* runs that lost an update */
	unsigned long runs;
};

static void counter_setup(void *p)
{
	struct counter_ctx *c = p;

	c->value = 0;
}

static void counter_thread(unsigned int id, void *p)
{
	struct counter_ctx *c = p;
	int v;

	(void)id;
	sched_point("read");
	v = __atomic_load_n(&c->value, __ATOMIC_RELAXED);
	sched_point("write");
	__atomic_store_n(&c->value, v + 1, __ATOMIC_RELAXED);
}

static void counter_check(void *p)
{
	struct counter_ctx *c = p;

	c->runs++;
	if (c->value != 2)
		c->lost++;
}

TEST(interleave_selftest_dfs_finds_lost_update)
{
	struct counter_ctx c = {0};
	struct explore_test t = {.name = "lost_update",
				 .nr_threads = 2,
				 .setup = counter_setup,
				 .thread = counter_thread,
				 .check = counter_check,
				 .ctx = &c};
	struct explore_result r;

	if (getenv("EXPLORE_SCHEDULE"))
		harness_skip("EXPLORE_SCHEDULE set");
	explore_run_dfs(&t, 2, 1000, &r);
	report("lost_update dfs(2)", &r);
	ASSERT(r.complete);
	/*
	 * Each thread runs three segments (start->read, read->write,
	 * write->done): C(6,3) = 20 interleavings. A switch away from a thread
	 * that could go on is a preemption, the switch after a thread finished
	 * is free, so r runs of segments cost r - 2: with at most 2, the
	 * interleavings with 2, 3 or 4 runs: 2 + 4 + 8 = 14.
	 */
	ASSERT_UEQ(r.runs, 14);
	ASSERT_UGT(c.lost, 0);
	ASSERT_ULT(c.lost, c.runs);

	memset(&c, 0, sizeof(c));
	explore_run_dfs(&t, 0, 1000, &r);
	report("lost_update dfs(0)", &r);
	ASSERT(r.complete);
	ASSERT_UEQ(r.runs, 2); /* A then B, B then A */
	ASSERT_UEQ(c.lost, 0); /* without preemption, no update is lost */

	memset(&c, 0, sizeof(c));
	explore_run_random(&t, 1, 50, &r);
	report("lost_update random", &r);
	ASSERT_UEQ(r.runs, 50);
	ASSERT_UGT(c.lost, 0);
}

static void counter_check_report(void *p)
{
	struct counter_ctx *c = p;

	c->runs++;
	if (c->value != 2) {
		c->lost++;
		explore_report_failure("lost update: value %d", c->value);
	}
}

/* explore_run(): a failure is reported, not _exit()ed, and its schedule replays. */
TEST(interleave_selftest_explore_run_report_and_replay)
{
	struct counter_ctx c = {0};
	struct explore_test t = {.name = "lost_update_report",
				 .nr_threads = 2,
				 .setup = counter_setup,
				 .thread = counter_thread,
				 .check = counter_check_report,
				 .ctx = &c};
	struct explore_opts o = {.strategy = EXPLORE_STRATEGY_DFS, .bound = 2};
	struct explore_run_report rep;
	struct explore_result r;
	char *sched;

	if (getenv("EXPLORE_SCHEDULE"))
		harness_skip("EXPLORE_SCHEDULE set");
	ASSERT_EQ(explore_run(&t, &o, &r, &rep), 1);
	ASSERT_UEQ(rep.fails, 1);
	ASSERT_UEQ(c.lost, 1);
	ASSERT(rep.fail_schedule != NULL);
	ASSERT(strstr(rep.fail_msg, "lost update") != NULL);
	ASSERT_UEQ(rep.distinct, r.runs);
	ASSERT_UEQ(r.outside, 0);

	/* Replaying the failing schedule loses the update again, every time. */
	sched = rep.fail_schedule;
	for (int i = 0; i < 3; i++) {
		struct explore_opts ro = {.replay = sched};

		memset(&c, 0, sizeof(c));
		ASSERT_EQ(explore_run(&t, &ro, &r, &rep), 1);
		ASSERT_UEQ(r.runs, 1);
		ASSERT_UEQ(r.outside, 0);
		ASSERT_STR_EQ(rep.fail_schedule, sched);
		free(rep.fail_schedule);
	}
	free(sched);

	/* keep_going, no reduction: DFS(2) runs all 14 schedules, each distinct. */
	memset(&c, 0, sizeof(c));
	o.keep_going = true;
	o.no_reduction = true;
	ASSERT_EQ(explore_run(&t, &o, &r, &rep), 1);
	ASSERT(rep.exhausted);
	ASSERT_UEQ(r.runs, 14);
	ASSERT_UEQ(rep.distinct, 14);
	ASSERT_UEQ(rep.fails, c.lost);
	ASSERT_UEQ(r.outside, 0);
	free(rep.fail_schedule);

	/* A schedule that is not one is refused before anything runs. */
	{
		struct explore_opts bad = {.replay = "x/y"};

		memset(&c, 0, sizeof(c));
		ASSERT_EQ(explore_run(&t, &bad, &r, &rep), -EINVAL);
		ASSERT_UEQ(c.runs, 0);
	}
}

static struct sm_mutex dl_lock;

static void leak_lock_thread(unsigned int id, void *p)
{
	(void)p;
	if (id == 0) {
		sm_mutex_lock(&dl_lock);
		return; /* never unlocked: thread 1 can only block */
	}
	sched_point("before");
	sched_point("before2");
	sm_mutex_lock(&dl_lock);
	sm_mutex_unlock(&dl_lock);
}

TEST(interleave_selftest_deadlock_reported)
{
	struct explore_test t = {.name = "deadlock",
				 .nr_threads = 2,
				 .thread = leak_lock_thread,
				 .deadlock_ms = 300};
	struct explore_result r;

	sm_mutex_init(&dl_lock, "dl_lock", LOCK_RANK_LEAF);
	unsetenv("EXPLORE_SCHEDULE");
	/* Thread 0 first: thread 1 then blocks with nothing left to run. */
	setenv("EXPLORE_SCHEDULE", "0", 1);
	harness_expect_crash();
	explore_run_dfs(&t, 0, 10, &r);
	FAIL("the deadlock was not reported");
}

struct order_ctx {
	int order[4];
	int n;
};

static void order_setup(void *p)
{
	struct order_ctx *o = p;

	o->n = 0;
}

static void order_thread(unsigned int id, void *p)
{
	struct order_ctx *o = p;

	sched_point("a");
	o->order[o->n++] = (int)id;
	sched_point("b");
	o->order[o->n++] = (int)id;
}

static void order_check(void *p)
{
	struct order_ctx *o = p;

	EXPLORE_ASSERT_EQ(o->n, 4);
}

TEST(interleave_selftest_forced_schedule)
{
	struct order_ctx o = {{0}, 0};
	struct explore_test t = {.name = "forced",
				 .nr_threads = 2,
				 .setup = order_setup,
				 .thread = order_thread,
				 .check = order_check,
				 .ctx = &o};
	struct explore_result r;

	/* start: 1, 0; then at "a": 1; then 0 runs to "a" and on; then 1. */
	setenv("EXPLORE_SCHEDULE", "1/start,0/start,1/a,0/a,0/b,1/b", 1);
	explore_run_random(&t, 0, 100, &r);
	unsetenv("EXPLORE_SCHEDULE");
	ASSERT_UEQ(r.runs, 1);
	ASSERT_UEQ(r.outside, 0);
	ASSERT_EQ(o.order[0], 1);
	ASSERT_EQ(o.order[1], 0);
	ASSERT_EQ(o.order[2], 0);
	ASSERT_EQ(o.order[3], 1);
}

/* ---- (i) exit vs mmu_notifier_unregister ---- */

struct exit_unreg_ctx {
	struct mm_struct *mm;
	struct mmu_notifier mn;
	_Atomic int releases;
};

static void eu_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct exit_unreg_ctx *c = container_of(mn, struct exit_unreg_ctx, mn);

	(void)mm;
	sched_point("release:enter");
	atomic_fetch_add(&c->releases, 1);
	sched_point("release:exit");
}

static const struct mmu_notifier_ops eu_ops = {.release = eu_release};

static void eu_setup(void *p)
{
	struct exit_unreg_ctx *c = p;

	c->mm = mm_alloc();
	ASSERT_NOT_NULL(c->mm);
	map_anon(c->mm, TBASE, 1, PROT_RW, false);
	write_pages(c->mm, TBASE, 1, 3);
	memset(&c->mn, 0, sizeof(c->mn));
	c->mn.ops = &eu_ops;
	atomic_store(&c->releases, 0);
	ASSERT_EQ(mmu_notifier_register(&c->mn, c->mm), 0);
}

static void eu_thread(unsigned int id, void *p)
{
	struct exit_unreg_ctx *c = p;

	if (id == 0) {
		mmput(c->mm); /* the last user: exit_mmap calls ->release */
		return;
	}
	mmu_notifier_unregister(&c->mn, c->mm); /* its mm_count keeps the struct */
	EXPLORE_ASSERT_EQ(atomic_load(&c->releases), 1);
}

static void eu_check(void *p)
{
	struct exit_unreg_ctx *c = p;

	EXPLORE_ASSERT_EQ(atomic_load(&c->releases), 1);
	sm_rcu_barrier();
	EXPLORE_ASSERT_EQ(mm_live_count(), 0);
	EXPLORE_ASSERT_EQ(phys_used_frames(), 0);
}

TEST(interleave_exit_vs_unregister)
{
	static struct exit_unreg_ctx c;
	struct explore_test t = {.name = "exit_vs_unregister",
				 .nr_threads = 2,
				 .setup = eu_setup,
				 .thread = eu_thread,
				 .check = eu_check,
				 .ctx = &c};
	struct explore_result r;

	MM_TEST_SETUP();
	explore_run_random(&t, 100, RUNS(8), &r);
	report("exit_vs_unregister random", &r);
	explore_run_dfs(&t, 1, RUNS(40), &r);
	report("exit_vs_unregister dfs(1)", &r);
}

/* ---- (ii) SVA release vs IO page fault ---- */

struct sva_ctx {
	struct mm_struct *mm;
	struct iommu_device *dev;
	struct iommu_sva *bond;
	uint32_t pasid;
};

static void sva_setup(void *p)
{
	struct sva_ctx *c = p;

	/* The device's DMA engine and fault worker: controlled threads of the run. */
	c->dev = iommu_device_create("explore", 0);
	ASSERT(!IS_ERR(c->dev));
	c->mm = mm_alloc();
	ASSERT_NOT_NULL(c->mm);
	map_anon(c->mm, TBASE, 2, PROT_RW, false);
	write_pages(c->mm, TBASE, 1, 21); /* page 1 is left untouched: a real fault */
	c->bond = iommu_sva_bind_device(c->dev, c->mm);
	ASSERT(!IS_ERR(c->bond));
	c->pasid = iommu_sva_get_pasid(c->bond);
}

static void sva_thread(unsigned int id, void *p)
{
	struct sva_ctx *c = p;
	static uint8_t buf[PAGE_SIZE];
	int r;

	if (id == 0) {
		sched_point("exit");
		mmput(c->mm); /* exit: ->release clears the PASID entry */
		return;
	}
	r = iommu_page_request(c->dev, c->pasid, TBASE + PG(1), true);
	EXPLORE_ASSERT(r == 0 || r == -ESRCH);
	sched_point("dma");
	r = iommu_dma_read(c->dev, c->pasid, TBASE, buf, PAGE_SIZE);
	EXPLORE_ASSERT(r == 0 || r == -ESRCH);
	if (r == 0)
		EXPLORE_ASSERT(pattern_diff(buf, PAGE_SIZE, 21) == (size_t)-1);
}

static void sva_check(void *p)
{
	struct sva_ctx *c = p;
	static uint8_t buf[PAGE_SIZE];

	/* After exit: aborted, never a page of the dead mm. */
	EXPLORE_ASSERT_EQ(iommu_page_request(c->dev, c->pasid, TBASE, false), -ESRCH);
	EXPLORE_ASSERT_EQ(iommu_dma_read(c->dev, c->pasid, TBASE, buf, PAGE_SIZE), -ESRCH);
	EXPLORE_ASSERT_EQ(phys_stale_count(), 0);
	iommu_sva_unbind_device(c->bond);
	EXPLORE_ASSERT_EQ(iommu_device_destroy(c->dev), 0); /* joins its threads */
	sm_rcu_barrier();
	EXPLORE_ASSERT_EQ(mm_live_count(), 0);
	EXPLORE_ASSERT_EQ(phys_used_frames(), 0);
}

TEST(interleave_sva_release_vs_io_fault)
{
	static struct sva_ctx c;
	struct explore_test t = {.name = "sva_release_vs_io_fault",
				 .nr_threads = 2,
				 .setup = sva_setup,
				 .thread = sva_thread,
				 .check = sva_check,
				 .ctx = &c};
	struct explore_result r;

	MM_TEST_SETUP();
	explore_run_random(&t, 200, RUNS(6), &r);
	report("sva_release_vs_io_fault random", &r);
	ASSERT_UEQ(r.outside, 0);
}

/* ---- (iii) mirror device fault vs munmap ---- */

struct mirror_ctx {
	struct mm_struct *mm;
	struct mirror *m;
};

static void mir_setup(void *p)
{
	struct mirror_ctx *c = p;

	c->mm = mm_alloc();
	ASSERT_NOT_NULL(c->mm);
	map_anon(c->mm, TBASE, 2, PROT_RW, false);
	write_pages(c->mm, TBASE, 2, 31);
	c->m = mirror_create(c->mm, 0);
	ASSERT(!IS_ERR(c->m));
}

static void mir_thread(unsigned int id, void *p)
{
	struct mirror_ctx *c = p;
	static uint8_t buf[PAGE_SIZE];
	int r;

	if (id == 0) {
		/* Unmap page 1, map a fresh one there and fill it anew. */
		EXPLORE_ASSERT_EQ(mm_munmap(c->mm, TBASE + PG(1), PG(1)), 0);
		sched_point("remap");
		EXPLORE_ASSERT_EQ(
			mm_mmap(c->mm, TBASE + PG(1), PG(1), PROT_RW, MAP_PRIVATE, NULL, 0),
			(long)(TBASE + PG(1)));
		fill_pattern(buf, PAGE_SIZE, 77);
		EXPLORE_ASSERT_EQ(mm_write(c->mm, TBASE + PG(1), buf, PAGE_SIZE), 0);
		return;
	}
	{
		static uint8_t dbuf[PAGE_SIZE];

		r = mirror_read(c->m, TBASE + PG(1), dbuf, PAGE_SIZE);
		/* The old page, nothing (unmapped), the fresh zero page or the new data. */
		EXPLORE_ASSERT(r == 0 || r == -EFAULT);
		if (r == 0)
			EXPLORE_ASSERT(pattern_diff(dbuf, PAGE_SIZE, 32) == (size_t)-1 ||
				       pattern_diff(dbuf, PAGE_SIZE, 77) == (size_t)-1 ||
				       mem_is_byte(dbuf, PAGE_SIZE, 0));
	}
}

static void mir_check(void *p)
{
	struct mirror_ctx *c = p;
	static uint8_t buf[PAGE_SIZE];

	/* The device must see the new page: no translation of the old one survived. */
	EXPLORE_ASSERT_EQ(mirror_read(c->m, TBASE + PG(1), buf, PAGE_SIZE), 0);
	EXPLORE_ASSERT(pattern_diff(buf, PAGE_SIZE, 77) == (size_t)-1);
	EXPLORE_ASSERT_EQ(mirror_read(c->m, TBASE, buf, PAGE_SIZE), 0);
	EXPLORE_ASSERT(pattern_diff(buf, PAGE_SIZE, 31) == (size_t)-1);
	EXPLORE_ASSERT_EQ(mirror_nr_stale(c->m), 0);
	EXPLORE_ASSERT_EQ(phys_stale_count(), 0);
	mirror_destroy(c->m);
	mmput(c->mm);
	sm_rcu_barrier();
	EXPLORE_ASSERT_EQ(mm_live_count(), 0);
	EXPLORE_ASSERT_EQ(phys_used_frames(), 0);
}

TEST(interleave_mirror_fault_vs_munmap)
{
	static struct mirror_ctx c;
	struct explore_test t = {.name = "mirror_fault_vs_munmap",
				 .nr_threads = 2,
				 .setup = mir_setup,
				 .thread = mir_thread,
				 .check = mir_check,
				 .ctx = &c};
	struct explore_result r;

	MM_TEST_SETUP();
	explore_run_random(&t, 300, RUNS(8), &r);
	report("mirror_fault_vs_munmap random", &r);
}

/* ---- (iii b) migration to device memory vs CPU writes and device reads ---- */

static void mig_setup(void *p)
{
	struct mirror_ctx *c = p;

	c->mm = mm_alloc();
	ASSERT_NOT_NULL(c->mm);
	map_anon(c->mm, TBASE, 2, PROT_RW, false);
	write_pages(c->mm, TBASE, 2, 41);
	c->m = mirror_create(c->mm, 0);
	ASSERT(!IS_ERR(c->m));
}

static void mig_thread(unsigned int id, void *p)
{
	struct mirror_ctx *c = p;
	static uint8_t buf[2][PAGE_SIZE];
	int r;

	if (id == 0) {
		/* The device takes both pages into its memory. */
		r = mirror_migrate_to_device(c->m, TBASE, PG(2));
		EXPLORE_ASSERT(r == 0 || r == -ENOENT); /* a page busy with the CPU stays */
		return;
	}
	/* The CPU writes page 1 (maybe faulting it back from the device)... */
	fill_pattern(buf[1], PAGE_SIZE, 88);
	EXPLORE_ASSERT_EQ(mm_write(c->mm, TBASE + PG(1), buf[1], PAGE_SIZE), 0);
	/* ...and the device reads page 0 wherever it is. */
	EXPLORE_ASSERT_EQ(mirror_read(c->m, TBASE, buf[0], PAGE_SIZE), 0);
	EXPLORE_ASSERT(pattern_diff(buf[0], PAGE_SIZE, 41) == (size_t)-1);
}

static void mig_no_problem(void *arg, const char *fmt, va_list ap)
{
	(void)arg;
	(void)fmt;
	(void)ap;
}

static void mig_check(void *p)
{
	struct mirror_ctx *c = p;
	static uint8_t buf[PAGE_SIZE];

	/* No write lost in the move, both sides agree, nothing stale, books balanced. */
	EXPLORE_ASSERT_EQ(mirror_read(c->m, TBASE + PG(1), buf, PAGE_SIZE), 0);
	EXPLORE_ASSERT(pattern_diff(buf, PAGE_SIZE, 88) == (size_t)-1);
	EXPLORE_ASSERT_EQ(mm_read(c->mm, TBASE + PG(1), buf, PAGE_SIZE), 0);
	EXPLORE_ASSERT(pattern_diff(buf, PAGE_SIZE, 88) == (size_t)-1);
	EXPLORE_ASSERT_EQ(mm_read(c->mm, TBASE, buf, PAGE_SIZE), 0);
	EXPLORE_ASSERT(pattern_diff(buf, PAGE_SIZE, 41) == (size_t)-1);
	EXPLORE_ASSERT_EQ(mirror_nr_stale(c->m), 0);
	EXPLORE_ASSERT_EQ(phys_stale_count(), 0);
	EXPLORE_ASSERT_EQ(mm_check_invariants(mig_no_problem, NULL), 0);
	mirror_destroy(c->m);
	mmput(c->mm);
	sm_rcu_barrier();
	EXPLORE_ASSERT_EQ(mm_live_count(), 0);
	EXPLORE_ASSERT_EQ(phys_used_frames(), 0);
}

TEST(interleave_migrate_to_device_vs_cpu_write)
{
	static struct mirror_ctx c;
	struct explore_test t = {.name = "migrate_to_device_vs_cpu_write",
				 .nr_threads = 2,
				 .setup = mig_setup,
				 .thread = mig_thread,
				 .check = mig_check,
				 .ctx = &c};
	struct explore_result r;

	MM_TEST_SETUP();
	explore_run_random(&t, 400, RUNS(16), &r);
	report("migrate_to_device_vs_cpu_write random", &r);
}

/*
 * ---- (iii c) device-memory eviction (mirror_destroy) vs a CPU fault on a
 * device page ----
 *
 * The CPU fault holds the page locked (->migrate_to_ram) while the device
 * goes away. The eviction must wait for that page and then collect it: before
 * issue 12 it went round 100 times with a yield, which a schedule that never
 * ran the faulting thread meanwhile (DFS, one preemption) exhausted, leaving
 * the page behind (memunmap_pages(): "device pages still in use", a WARN).
 */
static void evict_setup(void *p)
{
	struct mirror_ctx *c = p;

	c->mm = mm_alloc();
	ASSERT_NOT_NULL(c->mm);
	map_anon(c->mm, TBASE, 2, PROT_RW, false);
	write_pages(c->mm, TBASE, 2, 51);
	c->m = mirror_create(c->mm, 0);
	ASSERT(!IS_ERR(c->m));
	ASSERT_EQ(mirror_migrate_to_device(c->m, TBASE, PG(2)), 0);
}

static void evict_thread(unsigned int id, void *p)
{
	struct mirror_ctx *c = p;
	static uint8_t buf[PAGE_SIZE];

	if (id == 0) {
		mirror_destroy(c->m);
		return;
	}
	/* The CPU writes page 1: a fault brings it back from the device. */
	fill_pattern(buf, PAGE_SIZE, 99);
	EXPLORE_ASSERT_EQ(mm_write(c->mm, TBASE + PG(1), buf, PAGE_SIZE), 0);
}

static void evict_check(void *p)
{
	struct mirror_ctx *c = p;
	static uint8_t buf[PAGE_SIZE];
	unsigned long warns = sm_warn_count();

	/* Every device page came back, with its data; nothing left on the device. */
	EXPLORE_ASSERT_EQ(device_pages_used(), 0);
	EXPLORE_ASSERT_EQ(mm_read(c->mm, TBASE, buf, PAGE_SIZE), 0);
	EXPLORE_ASSERT(pattern_diff(buf, PAGE_SIZE, 51) == (size_t)-1);
	EXPLORE_ASSERT_EQ(mm_read(c->mm, TBASE + PG(1), buf, PAGE_SIZE), 0);
	EXPLORE_ASSERT(pattern_diff(buf, PAGE_SIZE, 99) == (size_t)-1);
	EXPLORE_ASSERT_EQ(phys_stale_count(), 0);
	mmput(c->mm);
	sm_rcu_barrier();
	EXPLORE_ASSERT_EQ(mm_live_count(), 0);
	EXPLORE_ASSERT_EQ(phys_used_frames(), 0);
	EXPLORE_ASSERT_EQ(sm_warn_count(), warns);
}

TEST(interleave_devmem_evict_vs_cpu_fault)
{
	static struct mirror_ctx c;
	struct explore_test t = {.name = "devmem_evict_vs_cpu_fault",
				 .nr_threads = 2,
				 .setup = evict_setup,
				 .thread = evict_thread,
				 .check = evict_check,
				 .ctx = &c};
	struct explore_result r;
	unsigned long warns;

	MM_TEST_SETUP();
	warns = sm_warn_count();
	explore_run_dfs(&t, 1, RUNS(200), &r);
	report("devmem_evict_vs_cpu_fault dfs", &r);
	ASSERT_UEQ(r.outside, 0);
	explore_run_random(&t, 800, RUNS(20), &r);
	report("devmem_evict_vs_cpu_fault random", &r);
	ASSERT_UEQ(r.outside, 0);
	ASSERT_UEQ(sm_warn_count(), warns);
}

/* ---- (iv) VFIO container close vs process exit ---- */

struct vfio_ctx {
	struct mm_struct *mm;
	struct task_struct *task;
	struct tce_container *cont;
	unsigned long warn0, dwarn0;
	int close_ret;
};

static void vf_setup(void *p)
{
	struct vfio_ctx *c = p;

	c->mm = mm_alloc();
	ASSERT_NOT_NULL(c->mm);
	map_anon(c->mm, TBASE, 4, PROT_RW, false);
	write_pages(c->mm, TBASE, 4, 41);
	c->task = task_create("p", c->mm);
	ASSERT_NOT_NULL(c->task);
	mmgrab(c->mm); /* to read locked_vm after the exit */
	ASSERT_EQ(vfio_spapr_tce_open(c->task, &c->cont), 0);
	ASSERT_EQ(tce_iommu_register_pages(c->cont, c->mm, TBASE, PG(4)), 0);
	ASSERT_EQ(tce_iommu_map(c->cont, c->mm, 0, TBASE, PG(2)), 0);
	ASSERT_UEQ(phys_total_pins(), 4);
	c->warn0 = vfio_release_warnings();
	c->dwarn0 = vfio_destroy_context_warnings();
}

static void vf_thread(unsigned int id, void *p)
{
	struct vfio_ctx *c = p;

	if (id == 0) {
		EXPLORE_ASSERT_EQ(task_exit(c->task), 0); /* exit_mm, then exit_files */
		return;
	}
	c->close_ret = vfio_container_close(c->cont, c->task);
	EXPLORE_ASSERT(c->close_ret == 0 || c->close_ret == -EBADF);
}

static void vf_check(void *p)
{
	struct vfio_ctx *c = p;
	struct mm_stats st;

	EXPLORE_ASSERT(vfio_container_released(c->cont));
	EXPLORE_ASSERT(!vfio_container_holds_mm(c->cont));
	EXPLORE_ASSERT_EQ(phys_total_pins(), 0);
	mm_get_stats(c->mm, &st);
	EXPLORE_ASSERT_EQ(st.locked_vm, 0);
	EXPLORE_ASSERT_EQ(st.pinned_vm, 0);
	EXPLORE_ASSERT_EQ(vfio_release_warnings(), c->warn0);
	EXPLORE_ASSERT_EQ(vfio_destroy_context_warnings(), c->dwarn0);
	vfio_container_put(c->cont);
	task_free(c->task);
	mmdrop(c->mm);
	sm_rcu_barrier();
	EXPLORE_ASSERT_EQ(mm_live_count(), 0);
	EXPLORE_ASSERT_EQ(phys_used_frames(), 0);
}

TEST(interleave_vfio_close_vs_exit)
{
	static struct vfio_ctx c;
	struct explore_test t = {.name = "vfio_close_vs_exit",
				 .nr_threads = 2,
				 .setup = vf_setup,
				 .thread = vf_thread,
				 .check = vf_check,
				 .ctx = &c};
	struct explore_result r;

	MM_TEST_SETUP();
	explore_run_random(&t, 400, RUNS(10), &r);
	report("vfio_close_vs_exit random", &r);
	explore_run_dfs(&t, 1, RUNS(30), &r);
	report("vfio_close_vs_exit dfs(1)", &r);
}

/* ---- (v) mmu_notifier_put vs a running callback ---- */

struct put_ctx {
	struct mm_struct *mm;
	struct mmu_notifier *sub;
	struct mmu_notifier obj;
	_Atomic int in_callback, callbacks, frees;
	_Atomic bool freed_while_running;
};

static struct put_ctx put_c;

static struct mmu_notifier *pc_alloc(struct mm_struct *mm)
{
	(void)mm;
	memset(&put_c.obj, 0, sizeof(put_c.obj));
	return &put_c.obj;
}

static void pc_free(struct mmu_notifier *mn)
{
	(void)mn;
	/* On liburcu's callback thread: record, the check asserts. */
	if (atomic_load(&put_c.in_callback))
		atomic_store(&put_c.freed_while_running, true);
	atomic_fetch_add(&put_c.frees, 1);
}

static int pc_start(struct mmu_notifier *mn, const struct mmu_notifier_range *r)
{
	(void)mn;
	(void)r;
	atomic_fetch_add(&put_c.in_callback, 1);
	sched_point("callback:enter");
	atomic_fetch_add(&put_c.callbacks, 1);
	sched_point("callback:exit");
	atomic_fetch_sub(&put_c.in_callback, 1);
	return 0;
}

static const struct mmu_notifier_ops pc_ops = {
	.invalidate_range_start = pc_start,
	.alloc_notifier = pc_alloc,
	.free_notifier = pc_free,
};

static void pc_setup(void *p)
{
	struct put_ctx *c = p;

	c->mm = mm_alloc();
	ASSERT_NOT_NULL(c->mm);
	map_anon(c->mm, TBASE, 1, PROT_RW, false);
	write_pages(c->mm, TBASE, 1, 51);
	atomic_store(&c->in_callback, 0);
	atomic_store(&c->callbacks, 0);
	atomic_store(&c->frees, 0);
	atomic_store(&c->freed_while_running, false);
	c->sub = mmu_notifier_get(&pc_ops, c->mm);
	ASSERT(!IS_ERR(c->sub));
}

static void pc_thread(unsigned int id, void *p)
{
	struct put_ctx *c = p;

	if (id == 0) {
		EXPLORE_ASSERT_EQ(mm_madvise(c->mm, TBASE, PG(1), MADV_DONTNEED), 0);
		return;
	}
	sched_point("put");
	mmu_notifier_put(c->sub);
}

static void pc_check(void *p)
{
	struct put_ctx *c = p;

	mmu_notifier_synchronize();
	EXPLORE_ASSERT_EQ(atomic_load(&c->frees), 1);
	EXPLORE_ASSERT(!atomic_load(&c->freed_while_running));
	EXPLORE_ASSERT_EQ(atomic_load(&c->in_callback), 0);
	mmput(c->mm);
	sm_rcu_barrier();
	EXPLORE_ASSERT_EQ(mm_live_count(), 0);
}

TEST(interleave_notifier_put_vs_callback)
{
	struct explore_test t = {.name = "notifier_put_vs_callback",
				 .nr_threads = 2,
				 .setup = pc_setup,
				 .thread = pc_thread,
				 .check = pc_check,
				 .ctx = &put_c};
	struct explore_result r;

	MM_TEST_SETUP();
	explore_run_random(&t, 500, RUNS(10), &r);
	report("notifier_put_vs_callback random", &r);
	explore_run_dfs(&t, 2, RUNS(60), &r);
	report("notifier_put_vs_callback dfs(2)", &r);
}

/*
 * ---- (vi) the ->release window: unregister vs munmap, exit vs reclaim ----
 *
 * A subscriber "maps" the mm's page 0 (a translation it drops on an
 * invalidation covering it or in ->release). Once ->release is claimed and
 * until it has returned the subscription must still get invalidations: a
 * munmap or a reclaim in that window frees the page, and the subscriber must
 * have been told before. Checked where the page is known to be freed (after
 * munmap returns; after reclaim freed a frame): the subscriber maps nothing.
 * No _end comes without its start; an invalidation whose start came in the
 * window may lose its _end when the subscription is unhooked right after
 * ->release (as in Linux), so at most one stays open.
 */
struct window_ctx {
	struct mm_struct *mm;
	struct mmu_notifier mn;
	_Atomic int mapped;   /* the subscriber's translation of page 0 */
	_Atomic int releases; /* ->release calls */
	_Atomic int open;     /* starts minus ends delivered */
	_Atomic int stale;    /* a page freed while the subscriber mapped it */
	bool exit_case;	      /* exit vs reclaim (else unregister vs munmap) */
};

static void win_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct window_ctx *c = container_of(mn, struct window_ctx, mn);

	(void)mm;
	atomic_fetch_add(&c->releases, 1);
	sched_point("release:window"); /* claimed, translation still there */
	atomic_store(&c->mapped, 0);
}

static int win_start(struct mmu_notifier *mn, const struct mmu_notifier_range *range)
{
	struct window_ctx *c = container_of(mn, struct window_ctx, mn);

	atomic_fetch_add(&c->open, 1);
	if (range->start <= TBASE && range->end > TBASE)
		atomic_store(&c->mapped, 0);
	return 0;
}

static void win_end(struct mmu_notifier *mn, const struct mmu_notifier_range *range)
{
	struct window_ctx *c = container_of(mn, struct window_ctx, mn);

	(void)range;
	if (atomic_fetch_sub(&c->open, 1) <= 0)
		atomic_store(&c->stale, 1); /* an _end without its start */
}

static const struct mmu_notifier_ops win_ops = {
	.release = win_release,
	.invalidate_range_start = win_start,
	.invalidate_range_end = win_end,
};

static void win_setup(void *p)
{
	struct window_ctx *c = p;

	c->mm = mm_alloc();
	ASSERT_NOT_NULL(c->mm);
	map_anon(c->mm, TBASE, 1, PROT_RW, false);
	write_pages(c->mm, TBASE, 1, 51);
	memset(&c->mn, 0, sizeof(c->mn));
	c->mn.ops = &win_ops;
	atomic_store(&c->mapped, 1);
	atomic_store(&c->releases, 0);
	atomic_store(&c->open, 0);
	atomic_store(&c->stale, 0);
	ASSERT_EQ(mmu_notifier_register(&c->mn, c->mm), 0);
	if (c->exit_case) {
		mmgrab(c->mm); /* the struct outlives the exit for the unregister */
		/* Take the page's referenced bit: the next scan reclaims it. */
		ASSERT_UEQ(try_to_free_pages(1), 0);
	}
}

static void win_thread(unsigned int id, void *p)
{
	struct window_ctx *c = p;

	if (c->exit_case) {
		if (id == 0) {
			mmput(c->mm); /* exit: exit_mmap claims and calls ->release */
			return;
		}
		/* Page 0 is the only page on the LRU: a freed frame is it. */
		if (try_to_free_pages(1) && atomic_load(&c->mapped))
			atomic_store(&c->stale, 1);
		return;
	}
	if (id == 0) {
		mmu_notifier_unregister(&c->mn, c->mm);
		return;
	}
	EXPLORE_ASSERT_EQ(mm_munmap(c->mm, TBASE, PG(1)), 0);
	if (atomic_load(&c->mapped))
		atomic_store(&c->stale, 1);
}

static void win_check(void *p)
{
	struct window_ctx *c = p;

	EXPLORE_ASSERT_EQ(atomic_load(&c->stale), 0);
	EXPLORE_ASSERT(atomic_load(&c->open) == 0 || atomic_load(&c->open) == 1);
	if (c->exit_case) {
		EXPLORE_ASSERT_EQ(atomic_load(&c->releases), 1);
		mmu_notifier_unregister(&c->mn, c->mm); /* ->release was exit's */
		EXPLORE_ASSERT_EQ(atomic_load(&c->releases), 1);
		mmdrop(c->mm);
	} else {
		EXPLORE_ASSERT_EQ(atomic_load(&c->releases), 1);
		mmput(c->mm);
	}
	sm_rcu_barrier();
	EXPLORE_ASSERT_EQ(mm_live_count(), 0);
	EXPLORE_ASSERT_EQ(phys_used_frames(), 0);
}

static struct window_ctx win_c;

TEST(interleave_release_window_unregister_vs_munmap)
{
	struct explore_test t = {.name = "release_window_unregister_vs_munmap",
				 .nr_threads = 2,
				 .setup = win_setup,
				 .thread = win_thread,
				 .check = win_check,
				 .ctx = &win_c};
	struct explore_result r;

	MM_TEST_SETUP();
	win_c.exit_case = false;
	explore_run_dfs(&t, 1, RUNS(400), &r);
	report("release_window_unregister_vs_munmap dfs(1)", &r);
	explore_run_random(&t, 600, RUNS(20), &r);
	report("release_window_unregister_vs_munmap random", &r);
}

TEST(interleave_release_window_exit_vs_reclaim)
{
	struct explore_test t = {.name = "release_window_exit_vs_reclaim",
				 .nr_threads = 2,
				 .setup = win_setup,
				 .thread = win_thread,
				 .check = win_check,
				 .ctx = &win_c};
	struct explore_result r;

	MM_TEST_SETUP();
	ASSERT_EQ(swap_on(PG(64), NULL), 0);
	win_c.exit_case = true;
	/* One preemption suffices (exit parked in ->release, reclaim runs): exhaust it. */
	explore_run_dfs(&t, 1, RUNS(400), &r);
	report("release_window_exit_vs_reclaim dfs(1)", &r);
	explore_run_random(&t, 700, RUNS(20), &r);
	report("release_window_exit_vs_reclaim random", &r);
	ASSERT_EQ(swap_off(), 0);
}

/* ---- (vi) KSM merge vs an SVA device's page walk ---- */

/*
 * replace_page() write-protects the duplicate's PTE and flushes, compares,
 * then points the PTE at the KSM page and frees the duplicate. A walk of the
 * IOMMU in between reads the write-protected PTE after that flush: only a
 * flush after the PTE stops pointing at the duplicate (ptep_clear_flush())
 * fails its IOTLB fill. Without it the IOTLB kept the freed frame ("iommu
 * used a stale translation", -EIO: test_thp_stress under TSan).
 */
static void ksm_sva_setup(void *p)
{
	struct sva_ctx *c = p;
	static uint8_t buf[PAGE_SIZE];

	c->dev = iommu_device_create("explore", 0);
	ASSERT(!IS_ERR(c->dev));
	c->mm = mm_alloc();
	ASSERT_NOT_NULL(c->mm);
	map_anon(c->mm, TBASE, 2, PROT_RW, false);
	ASSERT_EQ(mm_madvise(c->mm, TBASE, PG(2), MADV_MERGEABLE), 0);
	fill_pattern(buf, PAGE_SIZE, 31);
	ASSERT_EQ(mm_write(c->mm, TBASE, buf, PAGE_SIZE), 0);
	ASSERT_EQ(mm_write(c->mm, TBASE + PG(1), buf, PAGE_SIZE), 0);
	c->bond = iommu_sva_bind_device(c->dev, c->mm);
	ASSERT(!IS_ERR(c->bond));
	c->pasid = iommu_sva_get_pasid(c->bond);
}

static void ksm_sva_thread(unsigned int id, void *p)
{
	struct sva_ctx *c = p;
	static uint8_t buf[PAGE_SIZE];

	if (id == 0) {
		sched_point("ksm");
		ksm_scan_all();
		return;
	}
	for (unsigned long i = 0; i < 2; i++) {
		EXPLORE_ASSERT_EQ(iommu_dma_read(c->dev, c->pasid, TBASE + PG(i), buf, PAGE_SIZE),
				  0);
		EXPLORE_ASSERT(pattern_diff(buf, PAGE_SIZE, 31) == (size_t)-1);
	}
}

static void ksm_sva_check(void *p)
{
	struct sva_ctx *c = p;
	static uint8_t buf[PAGE_SIZE];

	/* Through whatever the IOTLB kept: never the duplicate freed by the merge. */
	for (unsigned long i = 0; i < 2; i++) {
		EXPLORE_ASSERT_EQ(iommu_dma_read(c->dev, c->pasid, TBASE + PG(i), buf, PAGE_SIZE),
				  0);
		EXPLORE_ASSERT(pattern_diff(buf, PAGE_SIZE, 31) == (size_t)-1);
	}
	EXPLORE_ASSERT_EQ(phys_stale_count(), 0);
	iommu_sva_unbind_device(c->bond);
	mmput(c->mm);
	EXPLORE_ASSERT_EQ(iommu_device_destroy(c->dev), 0); /* joins its threads */
	sm_rcu_barrier();
	EXPLORE_ASSERT_EQ(mm_live_count(), 0);
	EXPLORE_ASSERT_EQ(phys_used_frames(), 0);
}

TEST(interleave_ksm_merge_vs_sva_walk)
{
	static struct sva_ctx c;
	struct explore_test t = {.name = "ksm_merge_vs_sva_walk",
				 .nr_threads = 2,
				 .setup = ksm_sva_setup,
				 .thread = ksm_sva_thread,
				 .check = ksm_sva_check,
				 .ctx = &c};
	struct explore_result r;

	MM_TEST_SETUP();
	explore_run_random(&t, 900, RUNS(60), &r);
	report("ksm_merge_vs_sva_walk random", &r);
	ASSERT_UEQ(r.outside, 0);
}
