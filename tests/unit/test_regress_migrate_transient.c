// SPDX-License-Identifier: MIT
/*
 * REGRESSION (issue 19, "a flaky test blocks a landing"): migrate_range()
 * answered -EBUSY for any extra page reference, while its contract says
 * -EBUSY means pinned; test_mirror_stress failed now and then when a
 * reclaim or KSM pass held a page for a moment. Now a transient reference
 * is retried (up to 10 passes, as Linux's migrate_pages()) and reported as
 * -EAGAIN if it outlasts them; -EBUSY is kept for pins.
 */
#include <errno.h>

#include "harness.h"
#include "secmmu/gup.h"
#include "secmmu/migrate.h"
#include "testutil.h"

TEST(regress_migrate_plain_reference_is_not_ebusy)
{
	struct mm_struct *mm;
	struct page *page;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 2, PROT_RW, false);
	write_pages(mm, TBASE, 2, 9);
	mmap_read_lock(mm);
	ASSERT_EQ(get_user_pages_remote(mm, TBASE, 1, 0, &page), 1);
	mmap_read_unlock(mm);
	/* A reference that does not go away within the passes: busy, not pinned. */
	ASSERT_EQ(migrate_range(mm, TBASE, PG(2)), -EAGAIN);
	put_page(page);
	ASSERT_EQ(migrate_range(mm, TBASE, PG(2)), 0);
	check_pages(mm, TBASE, 2, 9);
	mmput(mm);
}

TEST(migrate_pinned_page_is_ebusy)
{
	struct mm_struct *mm;
	struct page *page;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 2, PROT_RW, false);
	write_pages(mm, TBASE, 2, 10);
	ASSERT_EQ(pin_user_pages_unlocked(mm, TBASE, 1, FOLL_WRITE, &page), 1);
	ASSERT_EQ(migrate_range(mm, TBASE, PG(2)), -EBUSY); /* the other page still moves */
	unpin_user_page(page);
	check_pages(mm, TBASE, 2, 10);
	mmput(mm);
}
