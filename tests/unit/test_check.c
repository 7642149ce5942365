// SPDX-License-Identifier: MIT
/* The invariant checker finds broken bookkeeping, and stays quiet when it is right. */
#include <stdio.h>

#include "mm/swap_internal.h"
#include "secmmu/check.h"
#include "secmmu/swap.h"
#include "testutil.h"

static char first[256];

/* Keep the first problem reported. */
static void record(void *arg, const char *fmt, va_list ap)
{
	(void)arg;
	if (!first[0])
		vsnprintf(first, sizeof(first), fmt, ap);
}

static struct mm_struct *populated_mm(void)
{
	struct mm_struct *mm = mm_new_mapped(4, PROT_RW, false);

	ASSERT_EQ(mm_write(mm, TBASE, "abcd", 4), 0);
	return mm;
}

TEST(check_is_quiet_on_a_consistent_system)
{
	struct mm_struct *mm, *child;

	MM_TEST_SETUP();
	ASSERT_EQ(swap_on(1 << 20, NULL), 0);
	mm = populated_mm();
	child = dup_mm(mm);
	ASSERT(!IS_ERR(child));
	ASSERT_EQ(mm_madvise(mm, TBASE, PG(4), MADV_PAGEOUT), 0);
	ASSERT_UEQ(mm_check_invariants(record, NULL), 0);
	mmput(child);
	mmput(mm);
	ASSERT_UEQ(mm_check_invariants(record, NULL), 0);
	ASSERT_EQ(swap_off(), 0);
}

TEST(check_catches_a_wrong_map_count)
{
	struct mm_struct *mm;
	unsigned long pfn;
	bool w;

	MM_TEST_SETUP();
	mm = populated_mm();
	mmap_read_lock(mm);
	ASSERT_EQ(follow_pfn_pte(mm, TBASE, &pfn, &w, NULL), 0);
	mmap_read_unlock(mm);
	atomic_fetch_add(&pfn_to_page(pfn)->_mapcount, 1);
	/* Also "1 references for 2 mappings": the same lie seen from the refcount. */
	ASSERT_UEQ(mm_check_invariants(record, NULL), 2);
	ASSERT(strstr(first, "map count 2 but 1 PTEs map it"));
	atomic_fetch_sub(&pfn_to_page(pfn)->_mapcount, 1);
	mmput(mm);
}

TEST(check_catches_a_leaked_swap_count)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	ASSERT_EQ(swap_on(1 << 20, NULL), 0);
	mm = populated_mm();
	ASSERT_EQ(mm_madvise(mm, TBASE, PG(1), MADV_PAGEOUT), 0);
	ASSERT_UEQ(swap_slots_used(), 1);
	swap_dup(0); /* a count no swap entry accounts for */
	ASSERT_UEQ(mm_check_invariants(record, NULL), 1);
	ASSERT(strstr(first, "swap slot 0: count 2 but 1 swap entries name it"));
	swap_free(0);
	mmput(mm);
	ASSERT_EQ(swap_off(), 0);
}
