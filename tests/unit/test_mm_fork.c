// SPDX-License-Identifier: MIT
/*
 * fork (dup_mm) and copy-on-write: frame counts, data isolation, reuse after
 * the child exits, shared mappings, pinned pages copied at fork, and
 * allocation-failure unwinding.
 */
#include <stdlib.h>

#include "mm/internal.h"
#include "testutil.h"

static unsigned long pfn_at(struct mm_struct *mm, unsigned long addr, bool *writable)
{
	unsigned long pfn = ~0UL;
	bool w = false;

	mmap_read_lock(mm);
	ASSERT_EQ(follow_pfn_pte(mm, addr, &pfn, &w, NULL), 0);
	mmap_read_unlock(mm);
	if (writable)
		*writable = w;
	return pfn;
}

TEST(fork_allocates_no_frames_until_write)
{
	struct mm_struct *mm, *child;
	struct mm_stats st;
	bool w;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 4, PROT_RW, false);
	write_pages(mm, TBASE, 4, 1);
	ASSERT_UEQ(phys_used_frames(), 4);
	child = dup_mm(mm);
	ASSERT(!IS_ERR(child));
	ASSERT_EQ(mm_users_read(child), 1);
	ASSERT_EQ(mm_count_read(child), 1);
	ASSERT_UEQ(phys_used_frames(), 4);
	mm_get_stats(child, &st);
	ASSERT_UEQ(st.rss, 4);
	/* Same frames, both read-only now, mapcount 2. */
	for (int i = 0; i < 4; i++) {
		unsigned long p = pfn_at(mm, TBASE + PG(i), &w);

		ASSERT(!w);
		ASSERT_UEQ(pfn_at(child, TBASE + PG(i), &w), p);
		ASSERT(!w);
		ASSERT_EQ(page_mapcount(pfn_to_page(p)), 2);
		ASSERT_EQ(page_ref_count(pfn_to_page(p)), 2);
	}
	/* Reads copy nothing. */
	check_pages(child, TBASE, 4, 1);
	check_pages(mm, TBASE, 4, 1);
	ASSERT_UEQ(phys_used_frames(), 4);
	mmput(child);
	mmput(mm);
}

TEST(child_write_copies_one_frame_parent_keeps_data)
{
	struct mm_struct *mm, *child;
	unsigned long ppfn;
	bool w;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 4, PROT_RW, false);
	write_pages(mm, TBASE, 4, 1);
	child = dup_mm(mm);
	ASSERT(!IS_ERR(child));
	ppfn = pfn_at(mm, TBASE + PG(2), NULL);
	write_pages(child, TBASE + PG(2), 1, 100);
	ASSERT_UEQ(phys_used_frames(), 5);
	ASSERT_UNE(pfn_at(child, TBASE + PG(2), &w), ppfn);
	ASSERT(w);
	ASSERT_UEQ(pfn_at(mm, TBASE + PG(2), NULL), ppfn);
	check_pages(mm, TBASE, 4, 1);
	check_pages(child, TBASE + PG(2), 1, 100);
	check_pages(child, TBASE, 2, 1);
	/* Second write to the same page in the child: no more frames. */
	write_pages(child, TBASE + PG(2), 1, 200);
	ASSERT_UEQ(phys_used_frames(), 5);
	mmput(child);
	ASSERT_UEQ(phys_used_frames(), 4);
	check_pages(mm, TBASE, 4, 1);
	mmput(mm);
}

TEST(parent_write_after_child_exit_reuses_page)
{
	struct mm_struct *mm, *child;
	unsigned long ppfn, frames;
	bool w;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 2, PROT_RW, false);
	write_pages(mm, TBASE, 2, 1);
	child = dup_mm(mm);
	ASSERT(!IS_ERR(child));
	mmput(child);
	frames = phys_used_frames();
	ASSERT_UEQ(frames, 2);
	ppfn = pfn_at(mm, TBASE, &w);
	ASSERT(!w); /* still write-protected from the fork */
	write_pages(mm, TBASE, 1, 50);
	ASSERT_UEQ(phys_used_frames(), frames);
	ASSERT_UEQ(pfn_at(mm, TBASE, &w), ppfn);
	ASSERT(w);
	check_pages(mm, TBASE, 1, 50);
	check_pages(mm, TBASE + PG(1), 1, 2);
	mmput(mm);
}

TEST(parent_write_while_child_alive_copies_then_child_reuses)
{
	struct mm_struct *mm, *child;
	unsigned long cpfn;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 1, PROT_RW, false);
	write_pages(mm, TBASE, 1, 1);
	child = dup_mm(mm);
	ASSERT(!IS_ERR(child));
	write_pages(mm, TBASE, 1, 2);
	ASSERT_UEQ(phys_used_frames(), 2);
	check_pages(child, TBASE, 1, 1);
	cpfn = pfn_at(child, TBASE, NULL);
	/* The child is now the only user of the old frame: reused in place. */
	write_pages(child, TBASE, 1, 3);
	ASSERT_UEQ(phys_used_frames(), 2);
	ASSERT_UEQ(pfn_at(child, TBASE, NULL), cpfn);
	check_pages(mm, TBASE, 1, 2);
	check_pages(child, TBASE, 1, 3);
	mmput(mm);
	mmput(child);
}

TEST(grandchild_cow_chain)
{
	struct mm_struct *a, *b, *c;

	MM_TEST_SETUP();
	a = mm_alloc();
	map_anon(a, TBASE, 2, PROT_RW, false);
	write_pages(a, TBASE, 2, 1);
	b = dup_mm(a);
	c = dup_mm(b);
	ASSERT(!IS_ERR(b) && !IS_ERR(c));
	ASSERT_UEQ(phys_used_frames(), 2);
	write_pages(b, TBASE, 1, 10);
	write_pages(c, TBASE + PG(1), 1, 20);
	ASSERT_UEQ(phys_used_frames(), 4);
	check_pages(a, TBASE, 2, 1);
	check_pages(b, TBASE, 1, 10);
	check_pages(b, TBASE + PG(1), 1, 2);
	check_pages(c, TBASE, 1, 1);
	check_pages(c, TBASE + PG(1), 1, 20);
	mmput(b);
	mmput(a);
	check_pages(c, TBASE, 1, 1);
	mmput(c);
}

TEST(fork_of_zero_page_and_untouched_memory)
{
	struct mm_struct *mm, *child;
	uint8_t b;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 2, PROT_RW, false);
	ASSERT_EQ(mm_read(mm, TBASE, &b, 1), 0);
	write_pages(mm, TBASE + PG(1), 1, 5);
	child = dup_mm(mm);
	ASSERT(!IS_ERR(child));
	ASSERT(page_reads_zero(child, TBASE));
	ASSERT_EQ(mm_write(child, TBASE, "c", 1), 0);
	ASSERT(page_reads_zero(mm, TBASE));
	ASSERT_UEQ(phys_used_frames(), 2);
	mmput(child);
	mmput(mm);
}

TEST(shared_anon_is_shared_both_ways)
{
	struct mm_struct *mm, *child;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 2, PROT_RW, true);
	write_pages(mm, TBASE, 1, 1);
	child = dup_mm(mm);
	ASSERT(!IS_ERR(child));
	check_pages(child, TBASE, 1, 1);
	write_pages(child, TBASE, 1, 2);
	check_pages(mm, TBASE, 1, 2);
	/* A page first touched after fork is shared too. */
	write_pages(mm, TBASE + PG(1), 1, 3);
	check_pages(child, TBASE + PG(1), 1, 3);
	write_pages(child, TBASE + PG(1), 1, 4);
	check_pages(mm, TBASE + PG(1), 1, 4);
	ASSERT_UEQ(phys_used_frames(), 2);
	mmput(mm);
	/* The object outlives the parent. */
	check_pages(child, TBASE, 1, 2);
	check_pages(child, TBASE + PG(1), 1, 4);
	mmput(child);
}

TEST(fork_with_pinned_page_copies_for_child)
{
	struct mm_struct *mm, *child;
	unsigned long ppfn, ppfn2;
	struct page *page;
	bool w;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 2, PROT_RW, false);
	write_pages(mm, TBASE, 2, 1);
	ppfn = pfn_at(mm, TBASE, &w);
	ASSERT(w);
	ppfn2 = pfn_at(mm, TBASE + PG(1), NULL);
	page = pfn_to_page(ppfn);
	/* What pin_user_pages() does to the page. */
	atomic_fetch_add(&page->_pincount, 1);
	atomic_fetch_add(&page->_refcount, GUP_PIN_COUNTING_BIAS);

	child = dup_mm(mm);
	ASSERT(!IS_ERR(child));
	/* The child got its own copy at once; the unpinned page is COW-shared. */
	ASSERT_UEQ(phys_used_frames(), 3);
	ASSERT_UNE(pfn_at(child, TBASE, NULL), ppfn);
	ASSERT_UEQ(pfn_at(child, TBASE + PG(1), NULL), ppfn2);
	/* The parent keeps the very page, still writable. */
	ASSERT_UEQ(pfn_at(mm, TBASE, &w), ppfn);
	ASSERT(w);
	ASSERT_EQ(page_mapcount(page), 1);
	check_pages(child, TBASE, 2, 1);
	/* A parent write lands in the pinned page, no copy; the child doesn't see it. */
	write_pages(mm, TBASE, 1, 77);
	ASSERT_UEQ(pfn_at(mm, TBASE, NULL), ppfn);
	ASSERT_UEQ(phys_used_frames(), 3);
	ASSERT_PATTERN(page_address(page), PAGE_SIZE, 77);
	check_pages(child, TBASE, 1, 1);
	/* The child's copy is its own: writing it copies nothing. */
	write_pages(child, TBASE, 1, 88);
	ASSERT_UEQ(phys_used_frames(), 3);
	check_pages(mm, TBASE, 1, 77);

	atomic_fetch_sub(&page->_pincount, 1);
	atomic_fetch_sub(&page->_refcount, GUP_PIN_COUNTING_BIAS);
	mmput(child);
	mmput(mm);
}

TEST(fork_with_pinned_page_and_no_free_frame_fails_cleanly)
{
	struct mm_struct *mm, *child;
	struct page *page, **hog;
	unsigned long n = 0, frames;
	long live;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 1, PROT_RW, false);
	write_pages(mm, TBASE, 1, 1);
	page = pfn_to_page(pfn_at(mm, TBASE, NULL));
	atomic_fetch_add(&page->_pincount, 1);
	atomic_fetch_add(&page->_refcount, GUP_PIN_COUNTING_BIAS);
	hog = calloc(phys_total_frames(), sizeof(*hog));
	while ((hog[n] = alloc_page()) != NULL)
		n++;
	frames = phys_used_frames();
	live = kzalloc_live();
	child = dup_mm(mm);
	ASSERT(IS_ERR(child));
	ASSERT_EQ(PTR_ERR(child), -ENOMEM);
	sm_rcu_barrier();
	ASSERT_UEQ(phys_used_frames(), frames);
	ASSERT_EQ(kzalloc_live(), live);
	ASSERT_UEQ(mm_live_count(), 1);
	check_pages(mm, TBASE, 1, 1);
	for (unsigned long i = 0; i < n; i++)
		put_page(hog[i]);
	free(hog);
	atomic_fetch_sub(&page->_pincount, 1);
	atomic_fetch_sub(&page->_refcount, GUP_PIN_COUNTING_BIAS);
	mmput(mm);
}

TEST(dup_mm_allocation_failures_leak_nothing)
{
	struct mm_struct *mm, *child = NULL;
	unsigned long frames;
	unsigned long nth;
	long live;

	MM_TEST_SETUP();
	mm = mm_alloc();
	/* Several VMAs of every kind, some written, some COW-shared. */
	map_anon(mm, TBASE, 3, PROT_RW, false);
	map_anon(mm, TBASE + PG(4), 2, PROT_READ, false);
	map_anon(mm, TBASE + PG(7), 2, PROT_RW, true);
	map_anon(mm, TBASE + PG(10), 4, PROT_RW, false);
	write_pages(mm, TBASE, 3, 1);
	write_pages(mm, TBASE + PG(7), 2, 2);
	write_pages(mm, TBASE + PG(10), 4, 3);
	ASSERT_EQ(mm_mprotect(mm, TBASE + PG(11), PAGE_SIZE, PROT_READ), 0);
	frames = phys_used_frames();
	for (nth = 1; nth < 1000; nth++) {
		sm_rcu_barrier();
		live = kzalloc_live();
		fault_inject_alloc(nth);
		child = dup_mm(mm);
		fault_inject_alloc(0);
		if (!IS_ERR(child))
			break;
		ASSERT_EQ(PTR_ERR(child), -ENOMEM);
		sm_rcu_barrier();
		ASSERT_EQ(kzalloc_live(), live);
		ASSERT_UEQ(phys_used_frames(), frames);
		ASSERT_UEQ(mm_live_count(), 1);
		/* The parent is intact. */
		check_pages(mm, TBASE, 3, 1);
		check_pages(mm, TBASE + PG(7), 2, 2);
		check_pages(mm, TBASE + PG(10), 4, 3);
	}
	ASSERT(nth > 4); /* at least mm + each VMA could fail */
	ASSERT(!IS_ERR(child));
	check_pages(child, TBASE, 3, 1);
	check_pages(child, TBASE + PG(7), 2, 2);
	check_pages(child, TBASE + PG(10), 4, 3);
	write_pages(child, TBASE + PG(7), 1, 9);
	check_pages(mm, TBASE + PG(7), 1, 9);
	mmput(child);
	mmput(mm);
}
