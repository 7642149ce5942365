// SPDX-License-Identifier: MIT
/*
 * Demand faults through mm_read/mm_write: zero page, first-write allocation,
 * protection errors, partial writes, shared anonymous objects, MADV_DONTNEED,
 * RSS accounting.
 */
#include "mm/internal.h"
#include "testutil.h"

static unsigned long rss(struct mm_struct *mm)
{
	struct mm_stats st;

	mm_get_stats(mm, &st);
	return st.rss;
}

static uint64_t pte_at(struct mm_struct *mm, unsigned long addr)
{
	pte_t *p = pte_offset(mm, addr);

	return p ? pte_load(p) : 0;
}

TEST(first_read_maps_zero_page_without_a_frame)
{
	struct mm_struct *mm;
	uint8_t buf[PAGE_SIZE];
	unsigned long pfn;
	bool w;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 4, PROT_RW, false);
	ASSERT_UEQ(phys_used_frames(), 0);
	memset(buf, 0xee, sizeof(buf));
	ASSERT_EQ(mm_read(mm, TBASE + PG(1), buf, sizeof(buf)), 0);
	ASSERT(mem_is_byte(buf, sizeof(buf), 0));
	ASSERT_UEQ(phys_used_frames(), 0);
	ASSERT_UEQ(rss(mm), 0);
	mmap_read_lock(mm);
	ASSERT_EQ(follow_pfn_pte(mm, TBASE + PG(1), &pfn, &w, NULL), 0);
	ASSERT_UEQ(pfn, 0);
	ASSERT(!w);
	ASSERT_EQ(follow_pfn_pte(mm, TBASE + PG(2), &pfn, &w, NULL), -ENOENT);
	mmap_read_unlock(mm);
	/* The zero page stays zero after a write elsewhere. */
	ASSERT_EQ(mm_write(mm, TBASE + PG(1), "abc", 3), 0);
	ASSERT(mem_is_byte(page_address(zero_page()), PAGE_SIZE, 0));
	mmput(mm);
}

TEST(first_write_allocates_exactly_one_frame)
{
	struct mm_struct *mm;
	uint8_t buf[16];
	unsigned long pfn;
	bool w;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 4, PROT_RW, false);
	ASSERT_EQ(mm_write(mm, TBASE + PG(2) + 100, "hello", 5), 0);
	ASSERT_UEQ(phys_used_frames(), 1);
	ASSERT_UEQ(rss(mm), 1);
	/* Second write to the same page: no new frame. */
	ASSERT_EQ(mm_write(mm, TBASE + PG(2) + 200, "world", 5), 0);
	ASSERT_UEQ(phys_used_frames(), 1);
	ASSERT_EQ(mm_read(mm, TBASE + PG(2) + 98, buf, 9), 0);
	ASSERT_MEM_EQ(buf, "\0\0hello\0\0", 9);
	mmap_read_lock(mm);
	ASSERT_EQ(follow_pfn_pte(mm, TBASE + PG(2), &pfn, &w, NULL), 0);
	ASSERT_UNE(pfn, 0);
	ASSERT(w);
	ASSERT_EQ(page_mapcount(pfn_to_page(pfn)), 1);
	ASSERT_EQ(page_ref_count(pfn_to_page(pfn)), 1);
	ASSERT(PageTest(pfn_to_page(pfn), PG_anon));
	mmap_read_unlock(mm);
	mmput(mm);
}

TEST(write_after_zero_page_read_allocates_one_frame)
{
	struct mm_struct *mm;
	uint8_t b;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 1, PROT_RW, false);
	ASSERT_EQ(mm_read(mm, TBASE, &b, 1), 0);
	ASSERT_UEQ(phys_used_frames(), 0);
	ASSERT_EQ(mm_write(mm, TBASE, "z", 1), 0);
	ASSERT_UEQ(phys_used_frames(), 1);
	ASSERT_UEQ(rss(mm), 1);
	ASSERT_EQ(mm_read(mm, TBASE, &b, 1), 0);
	ASSERT_EQ(b, 'z');
	mmput(mm);
}

TEST(zero_page_refcount_balanced_after_unmap)
{
	struct mm_struct *mm;
	int before;
	uint8_t b;

	MM_TEST_SETUP();
	mm = mm_alloc();
	before = page_ref_count(zero_page());
	map_anon(mm, TBASE, 8, PROT_RW, false);
	for (int i = 0; i < 8; i++)
		ASSERT_EQ(mm_read(mm, TBASE + PG(i), &b, 1), 0);
	ASSERT_EQ(mm_munmap(mm, TBASE, PG(8)), 0);
	/* Each zero-page PTE took a reference (get_page); unmapping must drop it. */
	ASSERT_EQ(page_ref_count(zero_page()), before);
	mmput(mm);
}

TEST(protection_faults)
{
	struct mm_struct *mm;
	uint8_t b = 0;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 1, PROT_READ, false);
	map_anon(mm, TBASE + PG(2), 1, PROT_NONE, false);
	ASSERT_EQ(mm_write(mm, TBASE, "x", 1), -EFAULT);
	ASSERT_EQ(mm_read(mm, TBASE, &b, 1), 0);
	ASSERT_EQ(mm_write(mm, TBASE + PG(2), "x", 1), -EFAULT);
	ASSERT_EQ(mm_read(mm, TBASE + PG(2), &b, 1), -EFAULT);
	ASSERT_EQ(mm_read(mm, TBASE + PG(1), &b, 1), -EFAULT); /* unmapped */
	ASSERT_UEQ(phys_used_frames(), 0);
	/* handle_mm_fault agrees. */
	mmap_read_lock(mm);
	ASSERT_EQ(handle_mm_fault(vma_lookup(mm, TBASE), TBASE, FAULT_FLAG_WRITE), -EFAULT);
	ASSERT_EQ(handle_mm_fault(vma_lookup(mm, TBASE + PG(2)), TBASE + PG(2), 0), -EFAULT);
	ASSERT_EQ(handle_mm_fault(vma_lookup(mm, TBASE), TBASE, 0), 0);
	mmap_read_unlock(mm);
	mmput(mm);
}

TEST(prot_none_after_populate_still_faults)
{
	struct mm_struct *mm;
	uint8_t buf[8];
	unsigned long pfn;
	bool w;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 1, PROT_RW, false);
	ASSERT_EQ(mm_write(mm, TBASE, "secret!", 8), 0);
	ASSERT_EQ(mm_mprotect(mm, TBASE, PAGE_SIZE, PROT_NONE), 0);
	/* The frame is still mapped (PTE present) but the VMA forbids access. */
	ASSERT_UEQ(phys_used_frames(), 1);
	ASSERT_EQ(mm_read(mm, TBASE, buf, 8), -EFAULT);
	ASSERT_EQ(mm_write(mm, TBASE, "x", 1), -EFAULT);
	mmap_read_lock(mm);
	ASSERT_EQ(follow_pfn_pte(mm, TBASE, &pfn, &w, NULL), -EFAULT);
	mmap_read_unlock(mm);
	ASSERT_EQ(mm_mprotect(mm, TBASE, PAGE_SIZE, PROT_READ), 0);
	ASSERT_EQ(mm_read(mm, TBASE, buf, 8), 0);
	ASSERT_MEM_EQ(buf, "secret!", 8);
	ASSERT_EQ(mm_write(mm, TBASE, "x", 1), -EFAULT);
	mmap_read_lock(mm);
	ASSERT_EQ(follow_pfn_pte(mm, TBASE, &pfn, &w, NULL), 0);
	ASSERT(!w);
	ASSERT(!pte_write(pte_at(mm, TBASE)));
	mmap_read_unlock(mm);
	mmput(mm);
}

TEST(write_crossing_into_unmapped_page_is_partial)
{
	struct mm_struct *mm;
	uint8_t buf[PAGE_SIZE];
	uint8_t src[200];

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 1, PROT_RW, false);
	fill_pattern(src, sizeof(src), 9);
	/* 100 bytes fit before the end of the page, 100 would go beyond. */
	ASSERT_EQ(mm_write(mm, TBASE + PAGE_SIZE - 100, src, sizeof(src)), -EFAULT);
	ASSERT_EQ(mm_read(mm, TBASE, buf, PAGE_SIZE), 0);
	ASSERT_MEM_EQ(buf + PAGE_SIZE - 100, src, 100);
	ASSERT(mem_is_byte(buf, PAGE_SIZE - 100, 0));
	/* Same into a read-only page. */
	map_anon(mm, TBASE + PG(1), 1, PROT_READ, false);
	fill_pattern(src, sizeof(src), 10);
	ASSERT_EQ(mm_write(mm, TBASE + PAGE_SIZE - 50, src, sizeof(src)), -EFAULT);
	ASSERT_EQ(mm_read(mm, TBASE + PAGE_SIZE - 50, buf, 100), 0);
	ASSERT_MEM_EQ(buf, src, 50);
	ASSERT(mem_is_byte(buf + 50, 50, 0));
	/* A read that crosses into a hole fails. */
	ASSERT_EQ(mm_read(mm, TBASE + PG(2) - 10, buf, 20), -EFAULT);
	ASSERT_UEQ(phys_used_frames(), 1);
	mmput(mm);
}

TEST(shared_anon_beyond_object_after_mremap_grow_faults)
{
	struct mm_struct *mm;
	uint8_t b = 0;
	long r;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 2, PROT_RW, true);
	ASSERT_EQ(mm_write(mm, TBASE + PG(1), "s", 1), 0);
	/* Grow in place. */
	ASSERT_EQ(mm_mremap(mm, TBASE, PG(2), PG(4), 0, 0), (long)TBASE);
	ASSERT_EQ(mm_read(mm, TBASE + PG(1), &b, 1), 0);
	ASSERT_EQ(b, 's');
	ASSERT_EQ(mm_read(mm, TBASE + PG(2), &b, 1), -EFAULT);
	ASSERT_EQ(mm_write(mm, TBASE + PG(3), "x", 1), -EFAULT);
	ASSERT_UEQ(phys_used_frames(), 1);
	/* Moved and grown: same. */
	map_anon(mm, TBASE + PG(4), 1, PROT_RW, false);
	r = mm_mremap(mm, TBASE, PG(4), PG(6), MREMAP_MAYMOVE, 0);
	ASSERT(r > 0 && r != (long)TBASE);
	ASSERT_EQ(mm_read(mm, (unsigned long)r + PG(1), &b, 1), 0);
	ASSERT_EQ(b, 's');
	ASSERT_EQ(mm_read(mm, (unsigned long)r + PG(5), &b, 1), -EFAULT);
	ASSERT_EQ(mm_write(mm, (unsigned long)r, "y", 1), 0);
	ASSERT_UEQ(phys_used_frames(), 2);
	mmput(mm);
}

TEST(madvise_dontneed_private_zeroes_and_frees)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 4, PROT_RW, false);
	write_pages(mm, TBASE, 4, 30);
	ASSERT_UEQ(phys_used_frames(), 4);
	ASSERT_UEQ(rss(mm), 4);
	ASSERT_EQ(mm_madvise(mm, TBASE + PG(1), PG(2), MADV_DONTNEED), 0);
	ASSERT_UEQ(phys_used_frames(), 2);
	ASSERT_UEQ(rss(mm), 2);
	check_pages(mm, TBASE, 1, 30);
	ASSERT(page_reads_zero(mm, TBASE + PG(1)));
	ASSERT(page_reads_zero(mm, TBASE + PG(2)));
	check_pages(mm, TBASE + PG(3), 1, 33);
	ASSERT_UEQ(phys_used_frames(), 2); /* zero-page reads took no frame */
	mmput(mm);
}

TEST(madvise_dontneed_shared_keeps_data)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 3, PROT_RW, true);
	write_pages(mm, TBASE, 3, 40);
	ASSERT_UEQ(phys_used_frames(), 3);
	ASSERT_UEQ(rss(mm), 3);
	ASSERT_EQ(mm_madvise(mm, TBASE, PG(3), MADV_DONTNEED), 0);
	ASSERT_UEQ(rss(mm), 0);
	ASSERT_UEQ(phys_used_frames(), 3); /* the object still holds them */
	check_pages(mm, TBASE, 3, 40);
	ASSERT_UEQ(rss(mm), 3);
	ASSERT_UEQ(phys_used_frames(), 3);
	mmput(mm);
}

TEST(shared_anon_read_only_mapping_of_object)
{
	struct mm_struct *mm;
	uint8_t b;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 1, PROT_RW, true);
	ASSERT_EQ(mm_write(mm, TBASE, "q", 1), 0);
	ASSERT_EQ(mm_mprotect(mm, TBASE, PAGE_SIZE, PROT_READ), 0);
	ASSERT_EQ(mm_write(mm, TBASE, "r", 1), -EFAULT);
	ASSERT_EQ(mm_read(mm, TBASE, &b, 1), 0);
	ASSERT_EQ(b, 'q');
	ASSERT_EQ(mm_mprotect(mm, TBASE, PAGE_SIZE, PROT_RW), 0);
	ASSERT_EQ(mm_write(mm, TBASE, "r", 1), 0);
	ASSERT_EQ(mm_read(mm, TBASE, &b, 1), 0);
	ASSERT_EQ(b, 'r');
	ASSERT_UEQ(phys_used_frames(), 1);
	mmput(mm);
}

TEST(rss_tracks_present_pages)
{
	struct mm_struct *mm;
	uint8_t b;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 8, PROT_RW, false);
	map_anon(mm, TBASE + PG(10), 2, PROT_RW, true);
	ASSERT_UEQ(rss(mm), 0);
	write_pages(mm, TBASE, 5, 0);
	ASSERT_UEQ(rss(mm), 5);
	ASSERT_EQ(mm_read(mm, TBASE + PG(6), &b, 1), 0); /* zero page: not counted */
	ASSERT_UEQ(rss(mm), 5);
	ASSERT_EQ(mm_write(mm, TBASE + PG(6), "w", 1), 0);
	ASSERT_UEQ(rss(mm), 6);
	ASSERT_EQ(mm_read(mm, TBASE + PG(10), &b, 1), 0); /* shared: a real page */
	ASSERT_UEQ(rss(mm), 7);
	ASSERT_EQ(mm_munmap(mm, TBASE, PG(2)), 0);
	ASSERT_UEQ(rss(mm), 5);
	ASSERT_EQ(mm_mprotect(mm, TBASE + PG(2), PG(2), PROT_NONE), 0);
	ASSERT_UEQ(rss(mm), 5);
	/* mremap moves the pages: rss unchanged. */
	long r = mm_mremap(mm, TBASE + PG(4), PG(4), PG(4), MREMAP_MAYMOVE | MREMAP_FIXED,
			   TBASE + PG(20));

	ASSERT_EQ(r, (long)(TBASE + PG(20)));
	ASSERT_UEQ(rss(mm), 5);
	check_pages(mm, TBASE + PG(20), 1, 4);
	ASSERT_EQ(mm_madvise(mm, TBASE + PG(20), PG(4), MADV_DONTNEED), 0);
	ASSERT_UEQ(rss(mm), 3);
	mmput(mm);
}

TEST(mmap_fixed_over_existing_replaces_pages)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 4, PROT_RW, false);
	write_pages(mm, TBASE, 4, 60);
	map_anon(mm, TBASE + PG(1), 2, PROT_RW, false);
	ASSERT_UEQ(phys_used_frames(), 2);
	check_pages(mm, TBASE, 1, 60);
	ASSERT(page_reads_zero(mm, TBASE + PG(1)));
	ASSERT(page_reads_zero(mm, TBASE + PG(2)));
	check_pages(mm, TBASE + PG(3), 1, 63);
	mmput(mm);
}

TEST(out_of_frames_is_enomem)
{
	struct mm_struct *mm;
	unsigned long total;
	unsigned long i;
	int r = 0;

	MM_TEST_SETUP();
	mm = mm_alloc();
	total = phys_total_frames();
	map_anon(mm, TBASE, total + 8, PROT_RW, false);
	for (i = 0; i < total + 8; i++) {
		r = mm_write(mm, TBASE + PG(i), "m", 1);
		if (r)
			break;
	}
	ASSERT_EQ(r, -ENOMEM);
	ASSERT_UEQ(i, total);
	ASSERT_UEQ(phys_free_frames(), 0);
	/* Reads of untouched memory still work (zero page). */
	ASSERT(page_reads_zero(mm, TBASE + PG(total + 1)));
	ASSERT_EQ(mm_munmap(mm, TBASE, PG(1)), 0);
	ASSERT_EQ(mm_write(mm, TBASE + PG(total), "m", 1), 0);
	mmput(mm);
}
