// SPDX-License-Identifier: MIT
/*
 * Per-VMA locks (src/mm/vma.c, lock_vma_under_rcu()): CPU accesses and
 * hmm_range_fault_unlocked() fault a private anonymous VMA under its own
 * read lock, without mmap_lock.
 *
 *   - the fast path is real: a fault on one VMA completes while this thread
 *     holds mmap_lock for write (with mmap_lock it would deadlock: the
 *     harness's timeout fails the test), for a CPU access and for a device
 *     fault through hmm_range_fault_unlocked();
 *   - interleavings (base/sched_explore.h) of the new windows:
 *       (a) a fault under a VMA lock vs mprotect(PROT_READ) of that VMA: no
 *           writable PTE in a read-only VMA afterwards, the write lands
 *           before or fails after;
 *       (a') a fault under a VMA lock vs munmap of its page: nothing mapped
 *           in the hole afterwards, no frame leaked;
 *       (b) a COW fault under a VMA lock (an invalidation) vs the first
 *           interval-notifier registration (mm_take_all_locks()): the
 *           notifier never sees an _end without its start; and with the
 *           museum's take-all-locks-misses on (mm_take_all_locks() without
 *           the VMA write-locks of eeff9a5d47f8) the explorer finds the
 *           broken rule, so the test would fail if the locks went.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/rcu.h"
#include "base/sched_explore.h"
#include "base/thread.h"
#include "harness.h"
#include "mm/internal.h"
#include "secmmu/bugs.h"
#include "secmmu/check.h"
#include "secmmu/hmm.h"
#include "secmmu/mmu_notifier.h"
#include "explore_util.h"
#include "testutil.h"

static void no_problem(void *arg, const char *fmt, va_list ap)
{
	(void)arg;
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/* ---- the fast path is taken: no mmap_lock needed ------------------------ */

#define VMA_B (TBASE + PG(64)) /* a second VMA, apart from the first */

struct fast_ctx {
	struct mm_struct *mm;
	int ret;
};

static void *fast_write(void *p)
{
	struct fast_ctx *c = p;
	char x = 'x';

	/* Page 1 of B was dropped: a real fault (do_anonymous_page). */
	c->ret = mm_write(c->mm, VMA_B + PG(1), &x, 1);
	return NULL;
}

static bool nop_invalidate(struct mmu_interval_notifier *sub,
			   const struct mmu_notifier_range *range, unsigned long cur_seq)
{
	(void)range;
	mmu_interval_set_seq(sub, cur_seq);
	return true;
}

static const struct mmu_interval_notifier_ops nop_ops = {.invalidate = nop_invalidate};

struct fast_hmm_ctx {
	struct mmu_interval_notifier sub;
	unsigned long pfns[2];
	int ret;
};

static void *fast_hmm(void *p)
{
	struct fast_hmm_ctx *c = p;
	struct hmm_range range = {
		.notifier = &c->sub,
		.start = VMA_B,
		.end = VMA_B + PG(2),
		.hmm_pfns = c->pfns,
		.default_flags = HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE,
	};

	range.notifier_seq = mmu_interval_read_begin(&c->sub);
	c->ret = hmm_range_fault_unlocked(&range);
	return NULL;
}

TEST(vma_lock_fault_proceeds_while_mmap_lock_held_for_write)
{
	struct mm_struct *mm;
	struct sm_thread t;
	struct fast_ctx c;
	static struct fast_hmm_ctx h;
	unsigned long hits0, hits1, misses;
	char x = 0;

	MM_TEST_SETUP();
	mm = mm_new_mapped(2, PROT_RW, false);
	map_anon(mm, VMA_B, 2, PROT_RW, false);
	write_pages(mm, TBASE, 2, 1);
	write_pages(mm, VMA_B, 2, 2); /* B gets an anon_vma, and is looked up once */
	/* Both pages of B dropped: the accesses below are real faults. */
	ASSERT_EQ(mm_madvise(mm, VMA_B, PG(2), MADV_DONTNEED), 0);
	ASSERT_EQ(mmu_interval_notifier_insert(&h.sub, mm, VMA_B, PG(2), &nop_ops), 0);

	vma_lock_stats(&hits0, &misses);
	/* An mmap_lock writer (say an mprotect of the first VMA) is in. */
	mmap_write_lock(mm);
	c = (struct fast_ctx){.mm = mm, .ret = -1};
	ASSERT_EQ(sm_thread_create(&t, fast_write, &c, "fast write"), 0);
	sm_thread_join(&t); /* with mmap_lock, this would never return */
	ASSERT_EQ(c.ret, 0);
	/* A device fault of B through hmm_range_fault_unlocked() likewise. */
	h.ret = -1;
	ASSERT_EQ(sm_thread_create(&t, fast_hmm, &h, "fast hmm"), 0);
	sm_thread_join(&t);
	ASSERT_EQ(h.ret, 0);
	ASSERT(h.pfns[0] & HMM_PFN_VALID);
	ASSERT(h.pfns[1] & HMM_PFN_WRITE);
	mmap_write_unlock(mm);
	vma_lock_stats(&hits1, &misses);
	ASSERT(hits1 >= hits0 + 2);

	ASSERT_EQ(mm_read(mm, VMA_B + PG(1), &x, 1), 0);
	ASSERT_EQ(x, 'x');
	check_pages(mm, TBASE, 2, 1);
	ASSERT_UEQ(mm_check_invariants(no_problem, NULL), 0);
	mmu_interval_notifier_remove(&h.sub);
	mmput(mm);
}

/*
 * lock_vma_under_rcu() returns only what it may: not a VMA an mmap_lock
 * writer write-locked (until mmap_write_unlock()), not one without an
 * anon_vma, not an address outside it, not a VMA that was unmapped.
 */
TEST(vma_lock_under_rcu_refuses)
{
	struct mm_struct *mm;
	struct vm_area_struct *vma;

	MM_TEST_SETUP();
	mm = mm_new_mapped(4, PROT_RW, false);
	ASSERT(page_reads_zero(mm, TBASE)); /* looked up, but never written: no anon_vma */
	ASSERT_NULL(lock_vma_under_rcu(mm, TBASE));
	write_pages(mm, TBASE, 1, 1);
	vma = lock_vma_under_rcu(mm, TBASE);
	ASSERT_NOT_NULL(vma);
	ASSERT_UEQ(vma->vm_start, TBASE);
	vma_end_read(vma);

	mmap_write_lock(mm);
	vma_start_write_range(mm, TBASE, TBASE + PG(1));
	ASSERT_NULL(lock_vma_under_rcu(mm, TBASE)); /* write-locked */
	mmap_write_unlock(mm);
	vma = lock_vma_under_rcu(mm, TBASE + PG(3)); /* same VMA, same 2 MiB slot */
	ASSERT_NOT_NULL(vma);
	vma_end_read(vma);

	/* Split: the old VMA shrinks to [0, 2); page 3 is in a new, unknown VMA. */
	ASSERT_EQ(mm_mprotect(mm, TBASE + PG(2), PG(2), PROT_READ), 0);
	ASSERT_NULL(lock_vma_under_rcu(mm, TBASE + PG(3)));
	ASSERT_EQ(mm_munmap(mm, TBASE, PG(4)), 0);
	ASSERT_NULL(lock_vma_under_rcu(mm, TBASE));
	mmput(mm);
}

/* ---- (a) a fault under a VMA lock vs mprotect / munmap of that VMA ------- */

struct race_ctx {
	struct mm_struct *mm;
	bool munmap;   /* (a') munmap page 1, else mprotect the VMA read-only */
	int write_ret; /* thread 0's mm_write() */
	unsigned long violations;
	struct mmu_interval_notifier sub;
};

static void race_setup(void *p)
{
	struct race_ctx *c = p;

	c->mm = mm_alloc();
	ASSERT_NOT_NULL(c->mm);
	map_anon(c->mm, TBASE, 2, PROT_RW, false);
	write_pages(c->mm, TBASE, 2, 41); /* an anon_vma, and the VMA looked up */
	/* Page 1 is gone again: thread 0's write is a fault (do_anonymous_page). */
	ASSERT_EQ(mm_madvise(c->mm, TBASE + PG(1), PG(1), MADV_DONTNEED), 0);
	c->write_ret = 1;
}

static void race_thread(unsigned int id, void *p)
{
	struct race_ctx *c = p;
	char x = 'x';

	if (id == 0) {
		c->write_ret = mm_write(c->mm, TBASE + PG(1), &x, 1);
		/* Before the change (done), or after it (a read-only or no VMA). */
		EXPLORE_ASSERT(c->write_ret == 0 || c->write_ret == -EFAULT);
		return;
	}
	if (c->munmap)
		EXPLORE_ASSERT_EQ(mm_munmap(c->mm, TBASE + PG(1), PG(1)), 0);
	else
		EXPLORE_ASSERT_EQ(mm_mprotect(c->mm, TBASE, PG(2), PROT_READ), 0);
}

static void race_check(void *p)
{
	struct race_ctx *c = p;
	static uint8_t buf[PAGE_SIZE];
	char x = 0;

	if (c->munmap) {
		pte_t *ptep;

		/* Nothing may be mapped in the hole: a fault that used the old VMA would have. */
		sm_mutex_lock(&c->mm->page_table_lock);
		ptep = pte_offset(c->mm, TBASE + PG(1));
		if (ptep && !pte_none(pte_load(ptep)))
			explore_report_failure("a PTE in the unmapped hole: 0x%llx (write %d)",
					       (unsigned long long)pte_load(ptep), c->write_ret);
		sm_mutex_unlock(&c->mm->page_table_lock);
		EXPLORE_ASSERT_EQ(mm_read(c->mm, TBASE + PG(1), &x, 1), -EFAULT);
	} else {
		/*
		 * Read-only now: no PTE of the VMA may allow a write (the raw
		 * PTE: follow_pfn_pte() would mask it with the VMA's flags).
		 */
		sm_mutex_lock(&c->mm->page_table_lock);
		for (unsigned long i = 0; i < 2; i++) {
			pte_t *ptep = pte_offset(c->mm, TBASE + PG(i));

			if (ptep && pte_present(pte_load(ptep)) && pte_write(pte_load(ptep)))
				explore_report_failure("page %lu writable in a read-only VMA "
						       "(write %d)",
						       i, c->write_ret);
		}
		sm_mutex_unlock(&c->mm->page_table_lock);
		EXPLORE_ASSERT_EQ(mm_read(c->mm, TBASE + PG(1), &x, 1), 0);
		EXPLORE_ASSERT_EQ(x, c->write_ret == 0 ? 'x' : 0);
	}
	EXPLORE_ASSERT_EQ(mm_read(c->mm, TBASE, buf, PAGE_SIZE), 0);
	EXPLORE_ASSERT(pattern_diff(buf, PAGE_SIZE, 41) == (size_t)-1);
	EXPLORE_ASSERT_EQ(mm_check_invariants(no_problem, NULL), 0);
	mmput(c->mm);
	sm_rcu_barrier();
	EXPLORE_ASSERT_EQ(mm_live_count(), 0);
	/* A page a stale fault mapped outside every VMA would be left over. */
	if (phys_used_frames())
		explore_report_failure("%lu frames leaked", phys_used_frames());
}

static void race_run(bool munmap, const char *name)
{
	static struct race_ctx c;
	struct explore_test t = {.name = name,
				 .nr_threads = 2,
				 .setup = race_setup,
				 .thread = race_thread,
				 .check = race_check,
				 .ctx = &c};
	struct explore_opts o = {.strategy = EXPLORE_STRATEGY_DFS, .bound = 2, .runs = RUNS(400)};
	struct explore_result r;
	struct explore_run_report rep = {0};

	c.munmap = munmap;
	for (int pass = 0; pass < 2; pass++) {
		int ret = explore_run(&t, &o, &r, &rep);

		if (ret)
			printf("%s: %s\n%s\n", name, rep.fail_msg,
			       rep.fail_schedule ? rep.fail_schedule : "");
		free(rep.fail_schedule);
		rep.fail_schedule = NULL;
		ASSERT_EQ(ret, 0);
		report(name, &r);
		o = (struct explore_opts){
			.strategy = EXPLORE_STRATEGY_RANDOM, .seed = 500, .runs = RUNS(200)};
	}
}

TEST(interleave_vma_lock_fault_vs_mprotect)
{
	MM_TEST_SETUP();
	race_run(false, "vma_lock_fault_vs_mprotect");
}

TEST(interleave_vma_lock_fault_vs_munmap)
{
	MM_TEST_SETUP();
	race_run(true, "vma_lock_fault_vs_munmap");
}

/* ---- (b) mmu_notifier registration vs a COW fault under a VMA lock ------- */

static void reg_setup(void *p)
{
	struct race_ctx *c = p;

	c->mm = mm_alloc();
	ASSERT_NOT_NULL(c->mm);
	map_anon(c->mm, TBASE, 2, PROT_RW, false);
	write_pages(c->mm, TBASE, 1, 51);	       /* an anon_vma */
	ASSERT(page_reads_zero(c->mm, TBASE + PG(1))); /* the zero page, read-only */
	c->violations = secmmu_rule_violations(NULL, 0);
}

static void reg_thread(unsigned int id, void *p)
{
	struct race_ctx *c = p;
	char y = 'y';

	if (id == 0) {
		/* COW of the zero page under the VMA lock: an invalidation start/end. */
		EXPLORE_ASSERT_EQ(mm_write(c->mm, TBASE + PG(1), &y, 1), 0);
		return;
	}
	/* The mm's first subscription: mmap_lock for write plus mm_take_all_locks(). */
	EXPLORE_ASSERT_EQ(mmu_interval_notifier_insert(&c->sub, c->mm, TBASE, PG(2), &nop_ops), 0);
}

static void reg_check(void *p)
{
	struct race_ctx *c = p;
	char first[256] = "";
	unsigned long now = secmmu_rule_violations(first, sizeof(first));
	char y = 0;

	if (now != c->violations)
		explore_report_failure("%lu contract violations: %s", now - c->violations, first);
	secmmu_rule_violations_forget_first();
	EXPLORE_ASSERT_EQ(mm_read(c->mm, TBASE + PG(1), &y, 1), 0);
	EXPLORE_ASSERT_EQ(y, 'y');
	mmu_interval_notifier_remove(&c->sub);
	mmput(c->mm);
	sm_rcu_barrier();
	EXPLORE_ASSERT_EQ(mm_live_count(), 0);
	EXPLORE_ASSERT_EQ(phys_used_frames(), 0);
}

static int reg_run(struct explore_result *r, struct explore_run_report *rep, unsigned long runs)
{
	static struct race_ctx c;
	struct explore_test t = {.name = "vma_lock_cow_fault_vs_register",
				 .nr_threads = 2,
				 .setup = reg_setup,
				 .thread = reg_thread,
				 .check = reg_check,
				 .ctx = &c};
	struct explore_opts o = {.strategy = EXPLORE_STRATEGY_DFS, .bound = 2, .runs = runs};

	return explore_run(&t, &o, r, rep);
}

TEST(interleave_vma_lock_cow_fault_vs_register)
{
	struct explore_result r;
	struct explore_run_report rep = {0};

	MM_TEST_SETUP();
	ASSERT_EQ(reg_run(&r, &rep, RUNS(400)), 0);
	report("vma_lock_cow_fault_vs_register", &r);
}

/*
 * The same with mm_take_all_locks() as before eeff9a5d47f8 (the museum's
 * take-all-locks-misses: no VMA write-locks): the explorer must find the
 * _end without its start, or the test above proves nothing.
 */
TEST(interleave_vma_lock_register_without_vma_locks_breaks)
{
	struct explore_result r;
	struct explore_run_report rep = {0};
	int ret;

	MM_TEST_SETUP();
	ASSERT_EQ(secmmu_bug_set("take-all-locks-misses", true), 0);
	ret = reg_run(&r, &rep, 2000);
	secmmu_bug_reset_all();
	printf("found after %lu runs: %s\n", rep.fail_run + 1, rep.fail_msg);
	free(rep.fail_schedule);
	ASSERT_EQ(ret, 1);
	ASSERT(strstr(rep.fail_msg, "without its start") != NULL);
}
