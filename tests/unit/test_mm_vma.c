// SPDX-License-Identifier: MIT
/*
 * VMAs: merging and splitting as Linux does, mremap boundary rules, the
 * tree staying valid under a random sequence of operations.
 */
#include <stdlib.h>

#include "mm/internal.h"
#include "testutil.h"

/* Check the tree and the list agree; return the number of VMAs. */
static unsigned long check_vmas(struct mm_struct *mm)
{
	struct vm_area_struct *vma, *prev = NULL;
	unsigned long n = 0;

	mmap_read_lock(mm);
	ASSERT_EQ(itree_verify(&mm->mm_mt), 0);
	for (vma = vma_first(mm); vma; prev = vma, vma = vma_next(vma)) {
		ASSERT(vma->vm_start < vma->vm_end);
		ASSERT(PAGE_ALIGNED(vma->vm_start) && PAGE_ALIGNED(vma->vm_end));
		ASSERT_PTR_EQ(vma->vm_mm, mm);
		if (prev) {
			ASSERT(prev->vm_end <= vma->vm_start); /* sorted, no overlap */
			ASSERT_PTR_EQ(vma_prev(vma), prev);
		}
		ASSERT_PTR_EQ(vma_lookup(mm, vma->vm_start), vma);
		ASSERT_PTR_EQ(vma_lookup(mm, vma->vm_end - 1), vma);
		n++;
	}
	ASSERT_UEQ(mm->map_count, n);
	mmap_read_unlock(mm);
	return n;
}

/* The VMA containing @addr: [start, end) and flags. False if none. */
static bool vma_at(struct mm_struct *mm, unsigned long addr, unsigned long *start,
		   unsigned long *end, unsigned long *flags)
{
	struct vm_area_struct *vma;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	if (vma) {
		*start = vma->vm_start;
		*end = vma->vm_end;
		if (flags)
			*flags = vma->vm_flags;
	}
	mmap_read_unlock(mm);
	return vma != NULL;
}

#define ASSERT_VMA(mm, addr, s, e)                                                                 \
	do {                                                                                       \
		unsigned long vs_, ve_;                                                            \
		ASSERT(vma_at((mm), (addr), &vs_, &ve_, NULL));                                    \
		ASSERT_UEQ(vs_, (s));                                                              \
		ASSERT_UEQ(ve_, (e));                                                              \
	} while (0)

TEST(mmap_argument_errors)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	ASSERT_EQ(mm_mmap(mm, TBASE, 0, PROT_READ, MAP_PRIVATE, NULL, 0), -EINVAL);
	ASSERT_EQ(mm_mmap(mm, TBASE + 1, PAGE_SIZE, PROT_READ, MAP_PRIVATE, NULL, 0), -EINVAL);
	ASSERT_EQ(mm_mmap(mm, TBASE, PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_SHARED, NULL, 0),
		  -EINVAL);
	ASSERT_EQ(mm_mmap(mm, TBASE, PAGE_SIZE, PROT_READ, 0, NULL, 0), -EINVAL);
	ASSERT_EQ(mm_mmap(mm, TBASE, PAGE_SIZE, 0x100, MAP_PRIVATE, NULL, 0), -EINVAL);
	ASSERT_EQ(mm_mmap(mm, TASK_SIZE, PAGE_SIZE, PROT_READ, MAP_PRIVATE, NULL, 0), -ENOMEM);
	ASSERT_EQ(mm_munmap(mm, TBASE + 1, PAGE_SIZE), -EINVAL);
	ASSERT_EQ(mm_munmap(mm, TBASE, 0), -EINVAL);
	ASSERT_EQ(mm_munmap(mm, TBASE, PAGE_SIZE), 0); /* nothing mapped: fine */
	ASSERT_EQ(mm_mprotect(mm, TBASE, PAGE_SIZE, PROT_READ), -ENOMEM);
	ASSERT_EQ(mm_mprotect(mm, TBASE + 1, PAGE_SIZE, PROT_READ), -EINVAL);
	ASSERT_EQ(mm_madvise(mm, TBASE, PAGE_SIZE, MADV_DONTNEED), -ENOMEM);
	ASSERT_EQ(mm_madvise(mm, TBASE, PAGE_SIZE, 12345), -EINVAL);
	ASSERT_EQ(check_vmas(mm), 0);
	mmput(mm);
}

TEST(adjacent_private_mmaps_merge)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 2, PROT_RW, false);
	map_anon(mm, TBASE + PG(2), 2, PROT_RW, false);
	ASSERT_UEQ(check_vmas(mm), 1);
	ASSERT_VMA(mm, TBASE, TBASE, TBASE + PG(4));
	/* Below, too. */
	map_anon(mm, TBASE - PG(1), 1, PROT_RW, false);
	ASSERT_UEQ(check_vmas(mm), 1);
	/* A different protection does not merge. */
	map_anon(mm, TBASE + PG(4), 1, PROT_READ, false);
	ASSERT_UEQ(check_vmas(mm), 2);
	/* Nor does shared with private. */
	map_anon(mm, TBASE + PG(5), 1, PROT_READ, true);
	ASSERT_UEQ(check_vmas(mm), 3);
	/* Nor a gap. */
	map_anon(mm, TBASE + PG(7), 1, PROT_READ, true);
	ASSERT_UEQ(check_vmas(mm), 4);
	mmput(mm);
}

TEST(adjacent_written_private_mmaps_merge_only_when_compatible)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 2, PROT_RW, false);
	write_pages(mm, TBASE, 2, 10); /* gets an anon_vma */
	map_anon(mm, TBASE + PG(2), 2, PROT_RW, false);
	ASSERT_UEQ(check_vmas(mm), 1);
	write_pages(mm, TBASE + PG(2), 2, 20);
	check_pages(mm, TBASE, 2, 10);
	check_pages(mm, TBASE + PG(2), 2, 20);
	mmput(mm);
}

TEST(mprotect_middle_splits_in_three_and_merges_back)
{
	struct mm_struct *mm;
	unsigned long s, e, f;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 3, PROT_RW, false);
	write_pages(mm, TBASE, 3, 100);
	ASSERT_EQ(mm_mprotect(mm, TBASE + PG(1), PAGE_SIZE, PROT_READ), 0);
	ASSERT_UEQ(check_vmas(mm), 3);
	ASSERT_VMA(mm, TBASE, TBASE, TBASE + PG(1));
	ASSERT_VMA(mm, TBASE + PG(1), TBASE + PG(1), TBASE + PG(2));
	ASSERT_VMA(mm, TBASE + PG(2), TBASE + PG(2), TBASE + PG(3));
	ASSERT(vma_at(mm, TBASE + PG(1), &s, &e, &f));
	ASSERT_UEQ(f & (VM_READ | VM_WRITE | VM_EXEC), VM_READ);
	ASSERT(vma_at(mm, TBASE, &s, &e, &f));
	ASSERT_UEQ(f & (VM_READ | VM_WRITE | VM_EXEC), VM_READ | VM_WRITE);
	/* The protection applies to the PTE too. */
	ASSERT_EQ(mm_write(mm, TBASE + PG(1), "x", 1), -EFAULT);
	ASSERT_EQ(mm_mprotect(mm, TBASE + PG(1), PAGE_SIZE, PROT_RW), 0);
	ASSERT_UEQ(check_vmas(mm), 1);
	ASSERT_VMA(mm, TBASE + PG(1), TBASE, TBASE + PG(3));
	check_pages(mm, TBASE, 3, 100);
	/* Writable again, in place (the page is exclusive: no copy). */
	ASSERT_UEQ(phys_used_frames(), 3);
	ASSERT_EQ(mm_write(mm, TBASE + PG(1), "x", 1), 0);
	ASSERT_UEQ(phys_used_frames(), 3);
	mmput(mm);
}

TEST(mprotect_whole_range_spanning_vmas_and_hole)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 2, PROT_READ, false);
	map_anon(mm, TBASE + PG(2), 2, PROT_RW, false);
	ASSERT_UEQ(check_vmas(mm), 2);
	ASSERT_EQ(mm_mprotect(mm, TBASE, PG(4), PROT_RW), 0);
	ASSERT_UEQ(check_vmas(mm), 1);
	/* A hole: -ENOMEM, but what came before the hole was changed (Linux). */
	map_anon(mm, TBASE + PG(5), 1, PROT_RW, false);
	ASSERT_EQ(mm_mprotect(mm, TBASE, PG(6), PROT_READ), -ENOMEM);
	ASSERT_EQ(mm_write(mm, TBASE, "x", 1), -EFAULT);
	ASSERT_EQ(mm_write(mm, TBASE + PG(5), "x", 1), 0);
	ASSERT_UEQ(check_vmas(mm), 2);
	mmput(mm);
}

TEST(munmap_punches_hole_splits_in_two)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 4, PROT_RW, false);
	write_pages(mm, TBASE, 4, 7);
	ASSERT_UEQ(phys_used_frames(), 4);
	ASSERT_EQ(mm_munmap(mm, TBASE + PG(1), PG(2)), 0);
	ASSERT_UEQ(check_vmas(mm), 2);
	ASSERT_VMA(mm, TBASE, TBASE, TBASE + PG(1));
	ASSERT_VMA(mm, TBASE + PG(3), TBASE + PG(3), TBASE + PG(4));
	ASSERT_UEQ(phys_used_frames(), 2);
	check_pages(mm, TBASE, 1, 7);
	check_pages(mm, TBASE + PG(3), 1, 10);
	ASSERT_EQ(mm_read(mm, TBASE + PG(1), (char[1]){0}, 1), -EFAULT);
	/* Mapping the hole again gives fresh zero memory and merges all back. */
	map_anon(mm, TBASE + PG(1), 2, PROT_RW, false);
	ASSERT(page_reads_zero(mm, TBASE + PG(1)));
	ASSERT(page_reads_zero(mm, TBASE + PG(2)));
	ASSERT_UEQ(check_vmas(mm), 1);
	check_pages(mm, TBASE + PG(3), 1, 10);
	mmput(mm);
}

TEST(munmap_across_several_vmas)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 2, PROT_READ, false);
	map_anon(mm, TBASE + PG(2), 2, PROT_RW, false);
	map_anon(mm, TBASE + PG(4), 2, PROT_READ, true);
	ASSERT_UEQ(check_vmas(mm), 3);
	ASSERT_EQ(mm_munmap(mm, TBASE + PG(1), PG(4)), 0);
	ASSERT_UEQ(check_vmas(mm), 2);
	ASSERT_VMA(mm, TBASE, TBASE, TBASE + PG(1));
	ASSERT_VMA(mm, TBASE + PG(5), TBASE + PG(5), TBASE + PG(6));
	mmput(mm);
}

TEST(mremap_across_two_vmas_is_efault)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 2, PROT_RW, false);
	map_anon(mm, TBASE + PG(2), 2, PROT_READ, false);
	ASSERT_UEQ(check_vmas(mm), 2);
	ASSERT_EQ(mm_mremap(mm, TBASE, PG(4), PG(8), MREMAP_MAYMOVE, 0), -EFAULT);
	ASSERT_EQ(mm_mremap(mm, TBASE + PG(1), PG(2), PG(3), MREMAP_MAYMOVE, 0), -EFAULT);
	/* Unmapped source. */
	ASSERT_EQ(mm_mremap(mm, TBASE + PG(10), PG(1), PG(2), MREMAP_MAYMOVE, 0), -EFAULT);
	ASSERT_UEQ(check_vmas(mm), 2);
	/* Within one VMA it works: grow in place would hit the next VMA -> move. */
	write_pages(mm, TBASE, 2, 50);
	long r = mm_mremap(mm, TBASE, PG(2), PG(3), MREMAP_MAYMOVE, 0);

	ASSERT(r > 0);
	ASSERT_NE(r, (long)TBASE);
	check_pages(mm, (unsigned long)r, 2, 50);
	ASSERT(page_reads_zero(mm, (unsigned long)r + PG(2)));
	ASSERT_EQ(mm_read(mm, TBASE, (char[1]){0}, 1), -EFAULT);
	/* Without MAYMOVE it cannot grow into the neighbour. */
	ASSERT_EQ(mm_mremap(mm, TBASE + PG(2), PG(1), PG(3), 0, 0), -ENOMEM);
	ASSERT_UEQ(check_vmas(mm), 2);
	ASSERT_UEQ(phys_used_frames(), 2);
	mmput(mm);
}

TEST(mremap_grow_in_place_and_shrink)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 2, PROT_RW, false);
	write_pages(mm, TBASE, 2, 5);
	ASSERT_EQ(mm_mremap(mm, TBASE, PG(2), PG(4), 0, 0), (long)TBASE);
	ASSERT_VMA(mm, TBASE, TBASE, TBASE + PG(4));
	check_pages(mm, TBASE, 2, 5);
	ASSERT(page_reads_zero(mm, TBASE + PG(3)));
	map_anon(mm, TBASE + PG(5), 1, PROT_RW, false);
	ASSERT_EQ(mm_mremap(mm, TBASE, PG(4), PG(6), 0, 0), -ENOMEM);
	ASSERT_EQ(mm_mremap(mm, TBASE, PG(4), PG(1), 0, 0), (long)TBASE);
	ASSERT_VMA(mm, TBASE, TBASE, TBASE + PG(1));
	ASSERT_UEQ(phys_used_frames(), 1);
	ASSERT_UEQ(check_vmas(mm), 2);
	mmput(mm);
}

TEST(madvise_mergeable_splits_and_merges)
{
	struct mm_struct *mm;
	unsigned long s, e, f;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 4, PROT_RW, false);
	ASSERT_EQ(mm_madvise(mm, TBASE + PG(1), PG(2), MADV_MERGEABLE), 0);
	ASSERT_UEQ(check_vmas(mm), 3);
	ASSERT(vma_at(mm, TBASE + PG(1), &s, &e, &f));
	ASSERT_UEQ(s, TBASE + PG(1));
	ASSERT_UEQ(e, TBASE + PG(3));
	ASSERT(f & VM_MERGEABLE);
	ASSERT(vma_at(mm, TBASE, &s, &e, &f));
	ASSERT(!(f & VM_MERGEABLE));
	/* Again: no change. */
	ASSERT_EQ(mm_madvise(mm, TBASE + PG(1), PG(2), MADV_MERGEABLE), 0);
	ASSERT_UEQ(check_vmas(mm), 3);
	ASSERT_EQ(mm_madvise(mm, TBASE, PG(4), MADV_UNMERGEABLE), 0);
	ASSERT_UEQ(check_vmas(mm), 1);
	ASSERT_EQ(mm_madvise(mm, TBASE, PG(4), MADV_MERGEABLE), 0);
	ASSERT_UEQ(check_vmas(mm), 1);
	ASSERT(vma_at(mm, TBASE, &s, &e, &f));
	ASSERT(f & VM_MERGEABLE);
	/* Over a hole: done where mapped, -ENOMEM reported. */
	ASSERT_EQ(mm_munmap(mm, TBASE + PG(1), PAGE_SIZE), 0);
	ASSERT_EQ(mm_madvise(mm, TBASE, PG(4), MADV_UNMERGEABLE), -ENOMEM);
	ASSERT(vma_at(mm, TBASE + PG(3), &s, &e, &f));
	ASSERT(!(f & VM_MERGEABLE));
	mmput(mm);
}

TEST(fork_child_vmas_do_not_merge_with_new_neighbours)
{
	struct mm_struct *mm, *child;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 2, PROT_RW, false);
	write_pages(mm, TBASE, 2, 1);
	child = dup_mm(mm);
	ASSERT(!IS_ERR(child));
	ASSERT_UEQ(check_vmas(child), 1);
	/*
	 * Linux: the child's VMA has its own anon_vma chained to the parent's
	 * (anon_vma_chain not singular), so is_mergeable_anon_vma() refuses
	 * even a new VMA without an anon_vma. The parent's VMA (singular chain)
	 * merges with one.
	 */
	map_anon(child, TBASE + PG(2), 1, PROT_RW, false);
	ASSERT_UEQ(check_vmas(child), 2);
	map_anon(mm, TBASE + PG(2), 1, PROT_RW, false);
	ASSERT_UEQ(check_vmas(mm), 1);
	mmput(child);
	mmput(mm);
}

/* Random mmap/munmap/mprotect/mremap in a window, the tree checked after each. */
TEST(vma_tree_stays_valid_under_random_ops)
{
	const unsigned long npages = 64;
	struct mm_struct *mm;
	static const int prots[] = {PROT_NONE, PROT_READ, PROT_RW, PROT_READ | PROT_EXEC};
	/* A model: per page, -1 = unmapped, else prot. */
	int model[64];
	unsigned int seed = 12345;

	MM_TEST_SETUP();
	mm = mm_alloc();
	for (unsigned long i = 0; i < npages; i++)
		model[i] = -1;
	for (int step = 0; step < 3000; step++) {
		unsigned long p = (unsigned long)rand_r(&seed) % npages;
		unsigned long n = 1 + (unsigned long)rand_r(&seed) % 8;
		int prot = prots[rand_r(&seed) % 4];
		int op = rand_r(&seed) % 4;
		bool hole = false;

		if (p + n > npages)
			n = npages - p;
		for (unsigned long i = p; i < p + n; i++)
			hole |= model[i] < 0;
		switch (op) {
		case 0:
			map_anon(mm, TBASE + PG(p), n, prot, false);
			for (unsigned long i = p; i < p + n; i++)
				model[i] = prot;
			break;
		case 1:
			ASSERT_EQ(mm_munmap(mm, TBASE + PG(p), PG(n)), 0);
			for (unsigned long i = p; i < p + n; i++)
				model[i] = -1;
			break;
		case 2: {
			int r = mm_mprotect(mm, TBASE + PG(p), PG(n), prot);

			if (hole) {
				ASSERT_EQ(r, -ENOMEM);
				for (unsigned long i = p; i < p + n && model[i] >= 0; i++)
					model[i] = prot;
			} else {
				ASSERT_EQ(r, 0);
				for (unsigned long i = p; i < p + n; i++)
					model[i] = prot;
			}
			break;
		}
		case 3: {
			/* Touch a page the way the model says is allowed. */
			char c = 1;
			int r = mm_write(mm, TBASE + PG(p), &c, 1);

			ASSERT_EQ(r, model[p] >= 0 && (model[p] & PROT_WRITE) ? 0 : -EFAULT);
			r = mm_read(mm, TBASE + PG(p), &c, 1);
			ASSERT_EQ(r, model[p] >= 0 && (model[p] & PROT_READ) ? 0 : -EFAULT);
			break;
		}
		}
		unsigned long nv = check_vmas(mm);

		/*
		 * Every maximal run of same-prot pages is at least one VMA;
		 * the count is bounded by the number of pages.
		 */
		unsigned long runs = 0;

		for (unsigned long i = 0; i < npages; i++)
			if (model[i] >= 0 && (i == 0 || model[i - 1] != model[i]))
				runs++;
		ASSERT(nv >= runs);
		ASSERT(nv <= npages);
		/* The tree agrees with the model page by page. */
		mmap_read_lock(mm);
		for (unsigned long i = 0; i < npages; i++) {
			struct vm_area_struct *vma = vma_lookup(mm, TBASE + PG(i));

			if (model[i] < 0) {
				ASSERT_NULL(vma);
				continue;
			}
			ASSERT_NOT_NULL(vma);
			unsigned long want = (model[i] & PROT_READ ? VM_READ : 0) |
					     (model[i] & PROT_WRITE ? VM_WRITE : 0) |
					     (model[i] & PROT_EXEC ? VM_EXEC : 0);

			ASSERT_UEQ(vma->vm_flags & (VM_READ | VM_WRITE | VM_EXEC), want);
		}
		mmap_read_unlock(mm);
	}
	mmput(mm);
}

/* ---- file-backed VMAs (a driver's file with its own fault handler) ---- */

static int drv_releases, drv_opens, drv_closes, drv_faults;
static struct page *drv_page;

static void drv_open(struct vm_area_struct *vma)
{
	(void)vma;
	drv_opens++;
}

static void drv_close(struct vm_area_struct *vma)
{
	(void)vma;
	drv_closes++;
}

static int drv_fault(struct vm_fault *vmf)
{
	drv_faults++;
	if (vmf->pgoff != 7)
		return -EFAULT;
	get_page(drv_page);
	vmf->page = drv_page;
	return 0;
}

static const struct vm_operations_struct drv_vm_ops = {
	.open = drv_open,
	.close = drv_close,
	.fault = drv_fault,
	.name = "drv",
};

static int drv_mmap(struct file *file, struct vm_area_struct *vma)
{
	(void)file;
	vma->vm_ops = &drv_vm_ops;
	return 0;
}

static int drv_mmap_fail(struct file *file, struct vm_area_struct *vma)
{
	(void)file;
	(void)vma;
	return -ENODEV;
}

static int drv_release(struct file *file)
{
	(void)file;
	drv_releases++;
	return 0;
}

static const struct file_operations drv_fops = {
	.name = "drv",
	.release = drv_release,
	.mmap = drv_mmap,
};

static const struct file_operations drv_fops_fail = {
	.name = "drv-fail",
	.release = drv_release,
	.mmap = drv_mmap_fail,
};

TEST(file_mapping_holds_file_and_uses_driver_fault)
{
	struct mm_struct *mm, *child;
	struct file *f;
	uint8_t b = 0;

	MM_TEST_SETUP();
	mm = mm_alloc();
	drv_page = alloc_page();
	memset(page_address(drv_page), 0x42, PAGE_SIZE);
	f = file_alloc(&drv_fops, NULL);
	ASSERT_EQ(mm_mmap(mm, TBASE, PG(4), PROT_READ, MAP_SHARED, f, 5), (long)TBASE);
	ASSERT_EQ(atomic_load(&f->f_count), 2);
	fput(f); /* "close": the VMA keeps it open */
	ASSERT_EQ(drv_releases, 0);
	ASSERT_EQ(mm_read(mm, TBASE + PG(2), &b, 1), 0); /* pgoff 5 + 2 = 7 */
	ASSERT_EQ(b, 0x42);
	ASSERT_EQ(mm_read(mm, TBASE + PG(1), &b, 1), -EFAULT);	 /* the driver said no */
	ASSERT_EQ(mm_write(mm, TBASE + PG(2), "x", 1), -EFAULT); /* read-only VMA */
	/* A split duplicates the VMA: open, and one more file reference. */
	ASSERT_EQ(mm_munmap(mm, TBASE + PG(1), PAGE_SIZE), 0);
	ASSERT_EQ(drv_opens, 2);  /* split twice (isolate both edges)... */
	ASSERT_EQ(drv_closes, 1); /* ...and the middle closed */
	ASSERT_EQ(check_vmas(mm), 2);
	child = dup_mm(mm);
	ASSERT(!IS_ERR(child));
	ASSERT_EQ(mm_read(child, TBASE + PG(2), &b, 1), 0);
	ASSERT_EQ(b, 0x42);
	mmput(child);
	ASSERT_EQ(drv_releases, 0);
	mmput(mm);
	ASSERT_EQ(drv_releases, 1);
	ASSERT_EQ(drv_closes, drv_opens + 1); /* the mmap itself had no ->open */
	put_page(drv_page);
}

TEST(file_mmap_failure_leaks_nothing)
{
	struct mm_struct *mm;
	struct file *f;

	MM_TEST_SETUP();
	mm = mm_alloc();
	f = file_alloc(&drv_fops_fail, NULL);
	map_anon(mm, TBASE, 2, PROT_RW, false);
	write_pages(mm, TBASE, 2, 1);
	ASSERT_EQ(mm_mmap(mm, TBASE, PG(2), PROT_READ, MAP_SHARED, f, 0), -ENODEV);
	ASSERT_EQ(atomic_load(&f->f_count), 1);
	ASSERT_EQ(drv_closes, 0);
	/* Nothing was unmapped by the failed call. */
	check_pages(mm, TBASE, 2, 1);
	ASSERT_EQ(check_vmas(mm), 1);
	fput(f);
	ASSERT_EQ(drv_releases, 1);
	mmput(mm);
}

/*
 * MAP_PRIVATE of a file: a write must give the process its own copy (COW),
 * never modify the file's page that every other mapping sees.
 */
TEST(private_file_mapping_write_does_not_reach_the_file)
{
	struct mm_struct *mm;
	struct file *f;
	uint8_t b = 0;
	int r;

	MM_TEST_SETUP();
	mm = mm_alloc();
	drv_page = alloc_page();
	memset(page_address(drv_page), 0x42, PAGE_SIZE);
	f = file_alloc(&drv_fops, NULL);
	ASSERT_EQ(mm_mmap(mm, TBASE, PG(1), PROT_RW, MAP_PRIVATE, f, 7), (long)TBASE);
	fput(f);
	ASSERT_EQ(mm_read(mm, TBASE, &b, 1), 0);
	ASSERT_EQ(b, 0x42);
	r = mm_write(mm, TBASE, "x", 1);
	/* Linux: 0, and the file page is untouched. */
	ASSERT_EQ(*(uint8_t *)page_address(drv_page), 0x42);
	ASSERT_EQ(r, 0);
	ASSERT_EQ(mm_read(mm, TBASE, &b, 1), 0);
	ASSERT_EQ(b, 'x');
	mmput(mm);
	put_page(drv_page);
}
