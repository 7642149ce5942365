// SPDX-License-Identifier: MIT
/*
 * Shared files: shared mappings share the page cache, private ones copy on
 * write (and fork keeps the copies), truncation invalidates every mm before
 * it frees a page, file pages swap.
 */
#include "base/debug.h"
#include "secmmu/file.h"
#include "secmmu/mmu_notifier.h"
#include "secmmu/swap.h"
#include "testutil.h"

struct trunc_rec {
	struct mmu_notifier mn;
	int unmaps;
	unsigned long start, end, frames_at_start;
};

static int trunc_start(struct mmu_notifier *mn, const struct mmu_notifier_range *r)
{
	struct trunc_rec *t = container_of(mn, struct trunc_rec, mn);

	if (r->event == MMU_NOTIFY_CLEAR) { /* truncation, as Linux */
		t->unmaps++;
		t->start = r->start;
		t->end = r->end;
		t->frames_at_start = phys_used_frames();
	}
	return 0;
}

static const struct mmu_notifier_ops trunc_ops = {.invalidate_range_start = trunc_start};

TEST(truncate_invalidates_every_mm_before_freeing)
{
	struct trunc_rec rp = {.mn.ops = &trunc_ops}, rq = {.mn.ops = &trunc_ops};
	struct mm_struct *p, *q;
	struct file *f;
	unsigned long before;
	unsigned char b;

	MM_TEST_SETUP();
	f = shmem_file_create(PG(8));
	ASSERT_NOT_NULL(f);
	p = mm_alloc();
	q = mm_alloc();
	ASSERT(p && q);
	ASSERT_EQ(mm_mmap(p, TBASE, PG(8), PROT_READ | PROT_WRITE, MAP_SHARED, f, 0), (long)TBASE);
	ASSERT_EQ(mm_mmap(q, TBASE, PG(4), PROT_READ | PROT_WRITE, MAP_SHARED, f, 4), (long)TBASE);
	write_pages(p, TBASE, 8, 3);
	check_pages(q, TBASE, 4, 7); /* q's window is the file's pages 4..7 */
	ASSERT_EQ(mmu_notifier_register(&rp.mn, p), 0);
	ASSERT_EQ(mmu_notifier_register(&rq.mn, q), 0);
	before = phys_used_frames();
	ASSERT_EQ(shmem_file_truncate(f, PG(6)), 0);
	ASSERT_EQ(rp.unmaps, 1);
	ASSERT_UEQ(rp.start, TBASE + PG(6));
	ASSERT_UEQ(rp.end, TBASE + PG(8));
	ASSERT_EQ(rq.unmaps, 1);
	ASSERT_UEQ(rq.start, TBASE + PG(2));
	ASSERT_UEQ(rq.end, TBASE + PG(4));
	ASSERT_UEQ(rp.frames_at_start, before); /* nothing freed before the invalidation */
	ASSERT_UEQ(phys_used_frames(), before - 2);
	ASSERT_EQ(mm_read(p, TBASE + PG(6), &b, 1), -EFAULT);
	ASSERT_EQ(mm_read(q, TBASE + PG(2), &b, 1), -EFAULT);
	check_pages(q, TBASE, 2, 7);
	ASSERT_EQ(shmem_file_size(f), (long)PG(6));
	mmu_notifier_unregister(&rp.mn, p);
	mmu_notifier_unregister(&rq.mn, q);
	mmput(p);
	mmput(q);
	fput(f);
}

TEST(private_file_mapping_copies_on_write_and_fork_keeps_the_copy)
{
	struct mm_struct *p, *child, *s;
	unsigned char b = 0x5a;
	struct file *f;

	MM_TEST_SETUP();
	f = shmem_file_create(PG(2));
	p = mm_alloc();
	s = mm_alloc();
	ASSERT(f && p && s);
	ASSERT_EQ(mm_mmap(s, TBASE, PG(2), PROT_READ | PROT_WRITE, MAP_SHARED, f, 0), (long)TBASE);
	write_pages(s, TBASE, 2, 11);
	ASSERT_EQ(mm_mmap(p, TBASE, PG(2), PROT_READ | PROT_WRITE, MAP_PRIVATE, f, 0), (long)TBASE);
	check_pages(p, TBASE, 2, 11);
	ASSERT_EQ(mm_write(p, TBASE, &b, 1), 0); /* a private copy of page 0 */
	ASSERT_EQ(mm_read(s, TBASE, &b, 1), 0);
	ASSERT_EQ(b, pattern_byte(11, 0)); /* the file did not change */
	child = dup_mm(p);
	ASSERT(!IS_ERR(child));
	ASSERT_EQ(mm_read(child, TBASE, &b, 1), 0);
	ASSERT_EQ(b, 0x5a); /* the child inherits the private copy */
	mmput(child);
	mmput(p);
	mmput(s);
	fput(f);
}

TEST(file_pages_swap_out_and_in)
{
	struct mm_struct *p;
	struct file *f;

	MM_TEST_SETUP();
	ASSERT_EQ(swap_on(1 << 20, NULL), 0);
	f = shmem_file_create(PG(4));
	p = mm_alloc();
	ASSERT(f && p);
	ASSERT_EQ(mm_mmap(p, TBASE, PG(4), PROT_READ | PROT_WRITE, MAP_SHARED, f, 0), (long)TBASE);
	write_pages(p, TBASE, 4, 21);
	ASSERT_EQ(mm_madvise(p, TBASE, PG(4), MADV_PAGEOUT), 0);
	ASSERT_UEQ(phys_used_frames(), 0);
	ASSERT_UEQ(swap_slots_used(), 4);
	ASSERT_EQ(shmem_file_truncate(f, PG(2)), 0); /* frees the cut-off slots */
	ASSERT_UEQ(swap_slots_used(), 2);
	check_pages(p, TBASE, 2, 21);
	mmput(p);
	fput(f);
	ASSERT_UEQ(swap_slots_used(), 0);
	ASSERT_EQ(swap_off(), 0);
}

TEST(file_api_refuses_bad_arguments)
{
	struct file *f;

	MM_TEST_SETUP();
	ASSERT_NULL(shmem_file_create(100));
	f = shmem_file_create(PG(1));
	ASSERT_NOT_NULL(f);
	ASSERT_EQ(shmem_file_truncate(f, (1UL << 40) + 1), -EINVAL);
	ASSERT_EQ(shmem_file_truncate(NULL, 0), -EINVAL);
	fput(f);
}
