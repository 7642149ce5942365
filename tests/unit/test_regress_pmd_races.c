// SPDX-License-Identifier: MIT
/*
 * Regressions (found by an audit of every look at a PMD without the
 * page-table lock, after the short torture's exit-vs-split BUG): a PMD
 * that changes between a walker's look and its use, under the
 * interleaving explorer (base/sched_explore.h).
 *
 * A path that holds mmap_lock (or a VMA lock) but not the PTL still sees
 * a PMD change: a THP fault fills an empty one (0 -> huge PMD), and a
 * folio split through the reverse map (reclaim, migration, KSM, the
 * deferred split; through another mm's mapping of a fork-shared THP too:
 * split_folio() holds only this mm's rmap_lock for read and its PTL)
 * makes a huge PMD a leaf table. Each test forces the schedules that run
 * the other thread whole at the N-th choice of the walker, for every N
 * (as test_regress_thp_split_lost_ref does), with the lock-free points on:
 * pmd_load_table() has one right after its load of the PMD slot.
 *
 *  - pte_offset() loaded the PMD slot twice: "is it huge?" and then "the
 *    table it points to". A huge PMD a fault installed in between was
 *    taken for a table pointer (a wild pointer for every lockless walker:
 *    follow_pfn_pte(), hmm_range_fault()'s snapshot, the fault path).
 *  - change_protection() (mprotect) looked for the first leaf table, then
 *    for the first huge PMD: a split between the two looks hid the PMD
 *    from both, and its PTEs kept their write bit in a read-only VMA.
 *  - migrate_addr() looked at the PMD without the PTL; migrate_huge_pmd()
 *    found no huge PMD under it (split meanwhile) and said "nothing huge
 *    here", so the caller skipped the 2 MiB: the page was not migrated,
 *    and migrate_range() said ok.
 */
#include <limits.h>

#include "base/rcu.h"
#include "base/sched_explore.h"
#include "mm/internal.h"
#include "secmmu/migrate.h"
#include "testutil.h"

#define HBASE 0x40000000UL /* 2 MiB-aligned */
#define HSZ   HPAGE_PMD_SIZE

/* Choices of the walker before the other thread runs whole (its window is well inside). */
#define MAX_PREFIX 120

struct race_ctx {
	struct mm_struct *mm, *child;
	struct page *head;    /* the THP's head: a reference for the splitter */
	unsigned long oldpfn; /* migrate: the frame of the page before the run */
	int ret;	      /* the walker's result */
};

static struct mm_struct *thp_mm(unsigned long len)
{
	struct mm_struct *mm = mm_alloc();

	ASSERT_NOT_NULL(mm);
	ASSERT_EQ(mm_mmap(mm, HBASE, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL, 0),
		  (long)HBASE);
	ASSERT_EQ(mm_madvise(mm, HBASE, len, MADV_HUGEPAGE), 0);
	return mm;
}

static void race_teardown(struct race_ctx *c)
{
	if (c->child)
		mmput(c->child);
	mmput(c->mm);
	c->child = NULL;
	sm_rcu_barrier();
	deferred_split_scan(ULONG_MAX);
	EXPLORE_ASSERT_EQ(mm_live_count(), 0);
	EXPLORE_ASSERT_EQ(phys_used_frames(), 0);
}

/*
 * Run @t once per prefix: the walker (thread 0) alone for n choices, then
 * thread 1 whole (the explorer keeps running the current thread once the
 * forced choices end), then the walker's rest.
 */
static void run_prefixes(const struct explore_test *t)
{
	static char sched[4 * MAX_PREFIX + 8];
	struct explore_opts o = {.replay = sched, .lockfree = true};
	struct explore_result r;

	for (int n = 0; n < MAX_PREFIX; n++) {
		size_t len = 0;

		for (int i = 0; i < n; i++)
			len += (size_t)snprintf(sched + len, sizeof(sched) - len, "0,");
		snprintf(sched + len, sizeof(sched) - len, "1");
		ASSERT_EQ(explore_run(t, &o, &r, NULL), 0);
		ASSERT_UEQ(r.outside, 0);
	}
}

/* --- pte_offset() vs a THP fault ---------------------------------------------- */

static void fault_setup(void *p)
{
	struct race_ctx *c = p;

	c->mm = thp_mm(2 * HSZ);
	/* The upper tables exist (a THP in the next 2 MiB); this PMD is empty. */
	ASSERT_EQ(mm_write(c->mm, HBASE + HSZ, "y", 1), 0);
	ASSERT_EQ(pte_load(pmd_offset(c->mm, HBASE)), 0);
}

static void fault_thread(unsigned int id, void *p)
{
	struct race_ctx *c = p;
	unsigned long pfn;
	bool writable;

	if (id == 1) {
		EXPLORE_ASSERT_EQ(mm_write(c->mm, HBASE + PG(3), "x", 1), 0); /* a huge PMD */
		return;
	}
	/* A lockless walker under mmap_lock (KVM's and hmm's look at a PTE). */
	mmap_read_lock(c->mm);
	c->ret = follow_pfn_pte(c->mm, HBASE + PG(3), &pfn, &writable, NULL);
	mmap_read_unlock(c->mm);
}

static void fault_check(void *p)
{
	struct race_ctx *c = p;
	char b = 0;

	EXPLORE_ASSERT(c->ret == 0 || c->ret == -ENOENT);
	EXPLORE_ASSERT(pmd_trans_huge(pte_load(pmd_offset(c->mm, HBASE))));
	EXPLORE_ASSERT_EQ(mm_read(c->mm, HBASE + PG(3), &b, 1), 0);
	EXPLORE_ASSERT_EQ(b, 'x');
	race_teardown(c);
}

TEST(regress_pte_offset_vs_thp_fault_loads_the_pmd_once)
{
	static struct race_ctx c;
	struct explore_test t = {.name = "pte_offset_vs_thp_fault",
				 .nr_threads = 2,
				 .setup = fault_setup,
				 .thread = fault_thread,
				 .check = fault_check,
				 .ctx = &c};

	MM_TEST_SETUP();
	run_prefixes(&t);
}

/* --- mprotect vs a folio split through the reverse map ------------------------- */

static void mprotect_setup(void *p)
{
	struct race_ctx *c = p;
	uint64_t pmd;

	c->mm = thp_mm(HSZ);
	ASSERT_EQ(mm_write(c->mm, HBASE, "x", 1), 0);
	pmd = pte_load(pmd_offset(c->mm, HBASE));
	ASSERT(pmd_trans_huge(pmd) && pte_write(pmd));
	c->head = pfn_to_page(pte_pfn(pmd));
	get_page(c->head); /* reclaim's isolation reference */
}

static void mprotect_thread(unsigned int id, void *p)
{
	struct race_ctx *c = p;

	if (id == 1) {
		/* Reclaim splits it (pageout()): no mmap_lock, only the rmap's locks. */
		split_folio(c->head);
		put_page(c->head);
		return;
	}
	c->ret = mm_mprotect(c->mm, HBASE, HSZ, PROT_READ);
}

static void mprotect_check(void *p)
{
	struct race_ctx *c = p;

	EXPLORE_ASSERT_EQ(c->ret, 0);
	/* Split or not: no entry of the read-only VMA may be writable. */
	for (unsigned long a = HBASE; a < HBASE + HSZ; a += PAGE_SIZE) {
		pte_t *ptep = pte_offset(c->mm, a);
		uint64_t pte = ptep ? pte_load(ptep) : pte_load(pmd_offset(c->mm, a));

		if (pte_write(pte)) {
			explore_report_failure("a writable %s at 0x%lx after mprotect(PROT_READ)",
					       ptep ? "PTE" : "huge PMD", a);
			break;
		}
	}
	race_teardown(c);
}

TEST(regress_mprotect_vs_rmap_split_leaves_no_writable_pte)
{
	static struct race_ctx c;
	struct explore_test t = {.name = "mprotect_vs_rmap_split",
				 .nr_threads = 2,
				 .setup = mprotect_setup,
				 .thread = mprotect_thread,
				 .check = mprotect_check,
				 .ctx = &c};

	MM_TEST_SETUP();
	run_prefixes(&t);
}

/* --- migration of a fork child's huge PMD vs a split through the parent --------- */

static unsigned long pfn_at(struct mm_struct *mm, unsigned long addr)
{
	pte_t *ptep = pte_offset(mm, addr);
	uint64_t v;

	if (ptep)
		return pte_present(pte_load(ptep)) ? pte_pfn(pte_load(ptep)) : 0;
	return follow_huge_pmd(mm, addr, &v) ? pte_pfn(v) : 0;
}

static void migrate_setup(void *p)
{
	struct race_ctx *c = p;
	uint64_t pmd;

	c->mm = thp_mm(HSZ);
	ASSERT_EQ(mm_write(c->mm, HBASE + PG(1), "m", 1), 0);
	c->child = dup_mm(c->mm);
	ASSERT(!IS_ERR(c->child));
	/* The parent maps the folio by PTEs now, the child still by its PMD. */
	ASSERT_EQ(mm_munmap(c->mm, HBASE + PG(16), PG(1)), 0);
	pmd = pte_load(pmd_offset(c->child, HBASE));
	ASSERT(pmd_trans_huge(pmd));
	c->head = pfn_to_page(pte_pfn(pmd));
	c->oldpfn = pfn_at(c->child, HBASE + PG(1));
	get_page(c->head); /* the parent's migration holds one */
}

static void migrate_thread(unsigned int id, void *p)
{
	struct race_ctx *c = p;

	if (id == 1) {
		/* A migration in the parent splits the folio, the child's PMD too. */
		split_folio(c->head);
		put_page(c->head);
		return;
	}
	c->ret = migrate_range(c->child, HBASE + PG(1), PG(1));
}

static void migrate_check(void *p)
{
	struct race_ctx *c = p;
	char b = 0;

	/* A page busy through every retry is reported; ok means it moved. */
	EXPLORE_ASSERT(c->ret == 0 || c->ret == -EAGAIN);
	if (!c->ret && pfn_at(c->child, HBASE + PG(1)) == c->oldpfn)
		explore_report_failure("migrate_range() said ok, the page stayed at pfn %lu",
				       c->oldpfn);
	EXPLORE_ASSERT_EQ(mm_read(c->child, HBASE + PG(1), &b, 1), 0);
	EXPLORE_ASSERT_EQ(b, 'm');
	race_teardown(c);
}

TEST(regress_migrate_of_a_pmd_split_meanwhile_moves_the_4k_page)
{
	static struct race_ctx c;
	struct explore_test t = {.name = "migrate_vs_rmap_split",
				 .nr_threads = 2,
				 .setup = migrate_setup,
				 .thread = migrate_thread,
				 .check = migrate_check,
				 .ctx = &c};

	MM_TEST_SETUP();
	run_prefixes(&t);
}
