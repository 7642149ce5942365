// SPDX-License-Identifier: MIT
/*
 * Regression (found by `build/torture --secs 20` with the THP area: BUG
 * in free_frame() in 3 runs of 4, e.g. seed 1; make check's short torture
 * ran with --no-thp until the fix): a folio split against a speculative
 * reference, under the interleaving explorer (base/sched_explore.h).
 *
 * split_folio() hands the folio's references out to its subpages. A
 * speculative get_page_unless_zero() (LRU isolation by reclaim, the
 * deferred-split shrinker: no PTL held) taken between the check "nobody
 * but the mappings and the caller holds it" and the hand-out was lost:
 * its put_page() later freed a subpage that was still mapped (BUG in
 * free_frame(): mapcount, or PG_swapcache after a pageout; the torture
 * with THP, 3 runs in 4). The split freezes the refcount at 0
 * (folio_ref_freeze()) so that no such reference can be taken.
 *
 * The window is one step among a thousand of the split's (DFS and PCT do
 * not reach it in a few hundred runs), so the test forces the schedules
 * that put the speculative get right at it: the shrinker runs alone for N
 * choices (N = 0, 1, ...), then the speculative thread gets its reference,
 * then the shrinker finishes before the put. One N parks the shrinker at
 * the sched_point() in split_folio() after the freeze: the get there must
 * fail (the test asserts some run saw the frozen refcount); before the fix
 * it succeeded and the put freed a mapped page.
 */
#include "base/rcu.h"
#include "base/sched_explore.h"
#include "mm/internal.h"
#include "testutil.h"

#define HBASE 0x40000000UL /* 2 MiB-aligned */

struct split_ctx {
	struct mm_struct *mm;
	struct page *head; /* the folio's head (no reference: the mapping keeps it) */
	bool saw_frozen;   /* a get failed on a folio being split */
};

static uint8_t page_fill(unsigned long i)
{
	return (uint8_t)(i * 7 + 1);
}

static void split_setup(void *p)
{
	struct split_ctx *c = p;
	static uint8_t buf[PAGE_SIZE];
	uint64_t pmd;

	c->mm = mm_alloc();
	ASSERT_NOT_NULL(c->mm);
	ASSERT_EQ(
		mm_mmap(c->mm, HBASE, HPAGE_PMD_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL, 0),
		(long)HBASE);
	ASSERT_EQ(mm_madvise(c->mm, HBASE, HPAGE_PMD_SIZE, MADV_HUGEPAGE), 0);
	for (unsigned long i = 0; i < HPAGE_PMD_NR; i++) {
		memset(buf, page_fill(i), sizeof(buf));
		ASSERT_EQ(mm_write(c->mm, HBASE + PG(i), buf, sizeof(buf)), 0);
	}
	pmd = pte_load(pmd_offset(c->mm, HBASE));
	ASSERT(pmd_trans_huge(pmd));
	c->head = pfn_to_page(pte_pfn(pmd));
	/* Split the PMD and unmap one page: the folio is queued for a deferred split. */
	ASSERT_EQ(mm_madvise(c->mm, HBASE + PG(5), PG(1), MADV_DONTNEED), 0);
	ASSERT_UEQ(deferred_split_count(), 1);
}

static void split_thread(unsigned int id, void *p)
{
	struct split_ctx *c = p;

	if (id == 0) {
		deferred_split_scan(1);
		return;
	}
	/* lru_isolate()'s reference: no PTL, only get_page_unless_zero(). */
	sched_point("speculative get");
	if (get_page_unless_zero(c->head)) {
		sched_point("speculative put");
		put_page(c->head);
	} else if (PageTest(c->head, PG_head) && page_ref_count(c->head) == 0) {
		c->saw_frozen = true;
	}
}

static void split_check(void *p)
{
	struct split_ctx *c = p;
	static uint8_t buf[PAGE_SIZE];

	/* Every page still mapped holds its data (split or not). */
	for (unsigned long i = 0; i < HPAGE_PMD_NR; i++) {
		EXPLORE_ASSERT_EQ(mm_read(c->mm, HBASE + PG(i), buf, sizeof(buf)), 0);
		EXPLORE_ASSERT_EQ(buf[0], i == 5 ? 0 : page_fill(i));
		EXPLORE_ASSERT_EQ(buf[PAGE_SIZE - 1], i == 5 ? 0 : page_fill(i));
	}
	mmput(c->mm);
	sm_rcu_barrier();
	EXPLORE_ASSERT_EQ(mm_live_count(), 0);
	EXPLORE_ASSERT_EQ(phys_used_frames(), 0);
	EXPLORE_ASSERT_EQ(deferred_split_count(), 0);
}

/* Choices before the shrinker passes the window (it is at about 20). */
#define MAX_PREFIX 80

TEST(interleave_folio_split_vs_speculative_reference)
{
	static struct split_ctx c;
	static char sched[4 * MAX_PREFIX + 16];
	struct explore_test t = {.name = "folio_split_vs_speculative_ref",
				 .nr_threads = 2,
				 .setup = split_setup,
				 .thread = split_thread,
				 .check = split_check,
				 .ctx = &c};
	struct explore_opts o = {.replay = sched};
	struct explore_result r;
	unsigned long runs = 0;

	MM_TEST_SETUP();
	for (int n = 0; n < MAX_PREFIX; n++) {
		/* The speculative thread may need one or two choices to reach its get. */
		for (int ones = 1; ones <= 2; ones++) {
			size_t len = 0;

			for (int i = 0; i < n; i++)
				len += (size_t)snprintf(sched + len, sizeof(sched) - len, "0,");
			for (int i = 0; i < ones; i++)
				len += (size_t)snprintf(sched + len, sizeof(sched) - len, "1,");
			snprintf(sched + len, sizeof(sched) - len, "0");
			ASSERT_EQ(explore_run(&t, &o, &r, NULL), 0);
			ASSERT_UEQ(r.outside, 0);
			runs++;
		}
	}
	printf("folio_split_vs_speculative_ref: %lu forced schedules, window %s\n", runs,
	       c.saw_frozen ? "hit" : "missed");
	ASSERT(c.saw_frozen);
}
