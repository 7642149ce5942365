// SPDX-License-Identifier: MIT
/*
 * Four-level page tables: allocation at the extremes of the user address
 * space, lookups, pte_next_table() skipping, teardown.
 */
#include "mm/internal.h"
#include "testutil.h"

static pte_t *alloc_locked(struct mm_struct *mm, unsigned long addr)
{
	pte_t *p;

	sm_mutex_lock(&mm->page_table_lock);
	p = pte_alloc(mm, addr);
	sm_mutex_unlock(&mm->page_table_lock);
	return p;
}

TEST(pte_alloc_and_offset_at_extremes)
{
	const unsigned long lo = MMAP_MIN_ADDR, hi = TASK_SIZE - PAGE_SIZE;
	struct mm_struct *mm;
	pte_t *a, *b;

	MM_TEST_SETUP();
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	ASSERT_NULL(pte_offset(mm, lo));
	ASSERT_NULL(pte_offset(mm, hi));
	a = alloc_locked(mm, lo);
	b = alloc_locked(mm, hi);
	ASSERT_NOT_NULL(a);
	ASSERT_NOT_NULL(b);
	ASSERT_PTR_NE(a, b);
	ASSERT_PTR_EQ(pte_offset(mm, lo), a);
	ASSERT_PTR_EQ(pte_offset(mm, hi), b);
	/* Same leaf table for the neighbour; a slot of its own. */
	ASSERT_PTR_EQ(pte_offset(mm, lo + PAGE_SIZE), a + 1);
	ASSERT_PTR_EQ(pte_offset(mm, hi - PAGE_SIZE), b - 1);
	/* Offsets inside a page map to the same slot. */
	ASSERT_PTR_EQ(pte_offset(mm, hi + 123), b);
	/* Allocation is idempotent. */
	ASSERT_PTR_EQ(alloc_locked(mm, hi), b);
	ASSERT_UEQ(pte_load(a), 0);
	ASSERT_UEQ(pte_load(b), 0);
	/* Nothing in between got a table. */
	ASSERT_NULL(pte_offset(mm, TASK_SIZE / 2));
	mmput(mm);
}

TEST(pte_alloc_requires_ptl)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	harness_expect_crash();
	pte_alloc(mm, TBASE);
	FAIL("pte_alloc without the page-table lock was not caught");
}

TEST(pte_next_table_skips_missing_tables)
{
	const unsigned long span2m = 512 * PAGE_SIZE;
	struct mm_struct *mm;
	unsigned long a1 = TBASE + 3 * span2m + PG(7); /* inside the 4th 2 MiB */
	unsigned long a2 = (1UL << 40) + PG(5);	       /* far away: a different pgd entry */

	MM_TEST_SETUP();
	mm = mm_alloc();
	/* No tables at all: straight to end. */
	ASSERT_UEQ(pte_next_table(mm, MMAP_MIN_ADDR, TASK_SIZE), TASK_SIZE);
	ASSERT_NOT_NULL(alloc_locked(mm, a1));
	ASSERT_NOT_NULL(alloc_locked(mm, a2));
	/* From below: the start of the leaf table's span (2 MiB aligned). */
	ASSERT_UEQ(pte_next_table(mm, TBASE, TASK_SIZE), a1 & ~(span2m - 1));
	/* An address already inside an existing table is returned as is. */
	ASSERT_UEQ(pte_next_table(mm, a1 + PAGE_SIZE, TASK_SIZE), a1 + PAGE_SIZE);
	/* Past it: the next one, several levels up. */
	ASSERT_UEQ(pte_next_table(mm, (a1 | (span2m - 1)) + 1, TASK_SIZE), a2 & ~(span2m - 1));
	/* end bounds the answer */
	ASSERT_UEQ(pte_next_table(mm, TBASE, TBASE + span2m), TBASE + span2m);
	ASSERT_UEQ(pte_next_table(mm, (a1 | (span2m - 1)) + 1, 1UL << 40), 1UL << 40);
	/* Past the last table: end, even at the very top of the space. */
	ASSERT_UEQ(pte_next_table(mm, (a2 | (span2m - 1)) + 1, TASK_SIZE), TASK_SIZE);
	ASSERT_UEQ(pte_next_table(mm, TASK_SIZE - PAGE_SIZE, TASK_SIZE), TASK_SIZE);
	ASSERT_NOT_NULL(alloc_locked(mm, TASK_SIZE - PAGE_SIZE));
	/* The last table spans the 2 MiB below 2^47 (TASK_SIZE is one page less). */
	ASSERT_UEQ(pte_next_table(mm, (a2 | (span2m - 1)) + 1, TASK_SIZE), (1UL << 47) - span2m);
	mmput(mm);
}

TEST(faults_at_address_space_extremes)
{
	const unsigned long lo = MMAP_MIN_ADDR, hi = TASK_SIZE - PAGE_SIZE;
	struct mm_struct *mm;
	uint8_t buf[64];

	MM_TEST_SETUP();
	mm = mm_alloc();
	ASSERT_EQ(mm_mmap(mm, lo, PAGE_SIZE, PROT_RW, MAP_PRIVATE, NULL, 0), (long)lo);
	ASSERT_EQ(mm_mmap(mm, hi, PAGE_SIZE, PROT_RW, MAP_PRIVATE, NULL, 0), (long)hi);
	ASSERT_EQ(mm_mmap(mm, lo - PAGE_SIZE, PAGE_SIZE, PROT_RW, MAP_PRIVATE, NULL, 0), -EPERM);
	ASSERT_EQ(mm_mmap(mm, hi, 2 * PAGE_SIZE, PROT_RW, MAP_PRIVATE, NULL, 0), -ENOMEM);
	fill_pattern(buf, sizeof(buf), 1);
	ASSERT_EQ(mm_write(mm, lo, buf, sizeof(buf)), 0);
	fill_pattern(buf, sizeof(buf), 2);
	ASSERT_EQ(mm_write(mm, hi + PAGE_SIZE - sizeof(buf), buf, sizeof(buf)), 0);
	/* Crossing TASK_SIZE is a fault, not a wrap. */
	ASSERT_EQ(mm_write(mm, hi + PAGE_SIZE - 8, buf, 16), -EFAULT);
	ASSERT_UEQ(phys_used_frames(), 2);
	ASSERT_EQ(mm_read(mm, lo, buf, sizeof(buf)), 0);
	ASSERT_PATTERN(buf, sizeof(buf), 1);
	ASSERT_EQ(mm_read(mm, hi + PAGE_SIZE - sizeof(buf), buf, sizeof(buf)), 0);
	ASSERT_PATTERN(buf, sizeof(buf), 2);
	ASSERT_NOT_NULL(pte_offset(mm, lo));
	ASSERT_NOT_NULL(pte_offset(mm, hi));
	ASSERT(pte_present(pte_load(pte_offset(mm, hi))));
	mmput(mm);
	ASSERT_UEQ(phys_used_frames(), 0);
}

TEST(teardown_frees_tables_and_frames)
{
	struct mm_struct *mm;
	unsigned long id;
	int users, count;

	MM_TEST_SETUP();
	mm = mm_alloc();
	id = mm_id(mm);
	/* Pages scattered over several leaf tables and pgd entries. */
	for (int i = 0; i < 8; i++) {
		unsigned long a = TBASE + (unsigned long)i * (3UL << 30) + PG(i);

		map_anon(mm, a, 1, PROT_RW, false);
		write_pages(mm, a, 1, (unsigned long)i);
	}
	ASSERT_UEQ(phys_used_frames(), 8);
	mmgrab(mm);
	mmput(mm);
	/* The pages go at the last mmput; every PTE is clear. */
	ASSERT_UEQ(phys_used_frames(), 0);
	for (int i = 0; i < 8; i++) {
		pte_t *p = pte_offset(mm, TBASE + (unsigned long)i * (3UL << 30) + PG(i));

		ASSERT(!p || pte_none(pte_load(p)));
	}
	ASSERT_EQ(mm_query_refs(id, &users, &count), 0);
	mmdrop(mm);
	ASSERT_EQ(mm_query_refs(id, &users, &count), -ESRCH);
}
