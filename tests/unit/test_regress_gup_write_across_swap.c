// SPDX-License-Identifier: MIT
/*
 * Regression (found by the torture, as a page read back partly zero): a CPU
 * write in flight through a get_user_pages reference while reclaim swapped
 * the page out. The page stayed in the swap cache (referenced), a pin then
 * swapped it in from there -- as *not* exclusive -- and broke "COW" on it:
 * the pin and the process moved to a copy taken mid-write, and the rest of
 * the write went into the abandoned frame. The swap entry now remembers
 * that the page was exclusive (Linux's SWP_EXCLUSIVE), so the cached page
 * is mapped back as the process's own and nothing is copied.
 */
#include "secmmu/gup.h"
#include "secmmu/swap.h"
#include "testutil.h"

TEST(gup_write_in_flight_survives_pageout_and_pin)
{
	struct page *gup, *pinned;
	struct mm_struct *mm;
	unsigned char b;

	MM_TEST_SETUP();
	ASSERT_EQ(swap_on(1 << 20, NULL), 0);
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	ASSERT_EQ(mm_mmap(mm, TBASE, PG(1), PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL, 0),
		  (long)TBASE);
	b = 1;
	ASSERT_EQ(mm_write(mm, TBASE, &b, 1), 0);
	/* The writer's reference, as mm_write()/access_process_vm() holds it. */
	mmap_read_lock(mm);
	ASSERT_EQ(get_user_pages_remote(mm, TBASE, 1, FOLL_WRITE, &gup), 1);
	mmap_read_unlock(mm);
	/* Reclaim unmaps it; the extra reference keeps it in the swap cache. */
	ASSERT_EQ(mm_madvise(mm, TBASE, PG(1), MADV_PAGEOUT), 0);
	ASSERT_UEQ(swap_slots_used(), 1);
	/* A pin swaps it back in. It must be the same frame, not a copy. */
	ASSERT_EQ(pin_user_pages_unlocked(mm, TBASE, 1, 0, &pinned), 1);
	ASSERT_PTR_EQ(pinned, gup);
	/* The write in flight finishes: the process and the pin both see it. */
	((unsigned char *)page_address(gup))[0] = 0x77;
	put_page(gup);
	ASSERT_EQ(mm_read(mm, TBASE, &b, 1), 0);
	ASSERT_EQ(b, 0x77);
	unpin_user_page(pinned);
	mmput(mm);
	ASSERT_UEQ(swap_slots_used(), 0);
	ASSERT_EQ(swap_off(), 0);
}
