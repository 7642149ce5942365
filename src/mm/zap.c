// SPDX-License-Identifier: MIT
/*
 * Tearing mappings down: munmap, MADV_DONTNEED, exit.
 *
 * The order is the one seed 004 exists for:
 *
 *   invalidate_range_start   secondary MMUs drop their translations; every
 *                            page of the range is still mapped here
 *   under the PTL: clear PTEs, then arch_invalidate_secondary_tlbs
 *   free the pages           only now may a frame be reused
 *   invalidate_range_end     secondary MMUs may fault again
 */
#include <errno.h>

#include "secmmu/kit/bugs.h"
#include "mm/internal.h"
#include "mm/swap_internal.h"

#define ZAP_BATCH 512 /* one leaf table */

void free_page_batch(struct page **batch, unsigned long n)
{
	for (unsigned long i = 0; i < n; i++)
		put_page(batch[i]); /* Pairs with the reference the PTE held. */
}

void zap_pte(struct mm_struct *mm, pte_t *ptep, struct page **freelist, unsigned long *nfree)
{
	uint64_t pte = pte_load(ptep);
	struct page *page;

	if (pte_none(pte))
		return;
	set_pte(mm, ptep, 0);
	if (pte_is_swap(pte)) {
		atomic_fetch_sub(&mm->swapents, 1);
		swap_free(pte_pfn(pte));
		return;
	}
	if (pte & PTE_MIGRATING) {
		/* Unmapped mid-migration: the entry held the old frame's reference (and counts in
		 * rss). */
		atomic_fetch_sub(&mm->rss, 1);
		put_page(pfn_to_page(pte_pfn(pte)));
		return;
	}
	if (pte_is_device(pte) || pte_is_device_excl(pte)) {
		/* Device memory, or a page a device holds exclusively: mapped like a PTE. */
		page = pfn_to_page(pte_pfn(pte));
		BUG_ON(atomic_fetch_sub(&page->_mapcount, 1) <= 0); /* folio: see zap_pte_table() */
		atomic_fetch_sub(&mm->rss, 1);
		freelist[(*nfree)++] = page;
		return;
	}
	BUG_ON(!pte_present(pte));
	if (is_zero_pfn(pte_pfn(pte))) {
		put_page(zero_page()); /* Pairs with get_page() when it was mapped. */
		return;
	}
	page = pfn_to_page(pte_pfn(pte));
	BUG_ON(!page);
	/* A large folio's deferred split: zap_pte_table() checks after the batch. */
	BUG_ON(atomic_fetch_sub(&page->_mapcount, 1) <= 0);
	atomic_fetch_sub(&mm->rss, 1);
	freelist[(*nfree)++] = page;
}

/* Zap [addr, end) within one leaf table. */
static void zap_pte_table(struct mm_struct *mm, unsigned long addr, unsigned long end)
{
	struct page *batch[ZAP_BATCH], *checked = NULL;
	unsigned long n = 0;
	bool flush = false;

	sm_mutex_lock(&mm->page_table_lock);
	for (unsigned long a = addr; a < end; a += PAGE_SIZE) {
		pte_t *ptep = pte_offset(mm, a);

		if (!ptep)
			continue;
		/* Any translation goes, the zero page's too: not only those we free. */
		flush |= pte_present(pte_load(ptep));
		zap_pte(mm, ptep, batch, &n);
	}
	/*
	 * A large folio some of whose pages lost their last mapping here: split
	 * it later if the zap left it partially mapped. Linux removes the rmap
	 * of a folio's PTEs in one batch (folio_remove_rmap_ptes()), so a folio
	 * zapped whole is freed, not queued; so is it here.
	 */
	for (unsigned long i = 0; i < n; i++) {
		struct page *head = compound_head(batch[i]);

		if (PageCompound(batch[i]) && head != checked &&
		    !atomic_load(&batch[i]->_mapcount)) {
			folio_check_partially_mapped(head);
			checked = head; /* the batch is in address order: once per folio */
		}
	}
	/*
	 * The device TLB must forget the frames before they are freed. The
	 * museum's empty-tlb-range (base/bugs.h) passes [end, end), as arm64's
	 * __flush_tlb_range() did after its loop had advanced start
	 * (f7edb07ad7c6): correct, since drivers then flush everything, but slow.
	 */
	if (flush)
		mmu_notifier_arch_invalidate_secondary_tlbs(
			mm, historic_bug(BUG_EMPTY_TLB_RANGE) ? end : addr, end);
	sm_mutex_unlock(&mm->page_table_lock);
	free_page_batch(batch, n);
}

void zap_page_range(struct vm_area_struct *vma, unsigned long start, unsigned long end)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long addr = start;

	BUG_ON(start < vma->vm_start || end > vma->vm_end);
	while (addr < end) {
		unsigned long next = (addr + HPAGE_PMD_SIZE) & HPAGE_PMD_MASK;
		pte_t *pmdp = pmd_offset(mm, addr);

		if (next > end || next <= addr)
			next = end;
		if (pmdp && pmd_trans_huge(pte_load(pmdp))) {
			if (next - addr == HPAGE_PMD_SIZE) {
				if (zap_huge_pmd(mm, pmdp, addr)) {
					addr = next;
					continue;
				}
				/* Split through the reverse map meanwhile: zap its table below. */
			} else {
				/*
				 * Part of a huge PMD: callers split it before their
				 * invalidation; if one did not, split it now (nested).
				 */
				split_huge_pmd_address(vma, addr);
			}
		}
		if (!pmdp || !pmd_pte_table(pmdp)) {
			addr = pmd_next_present(mm, next, end); /* a table or a huge PMD */
			continue;
		}
		zap_pte_table(mm, addr, next);
		addr = next;
	}
}

/*
 * Split so that [start, end) is covered by whole VMAs. Returns the first VMA
 * inside the range, or NULL if none overlaps.
 */
static struct vm_area_struct *isolate_range(struct mm_struct *mm, unsigned long start,
					    unsigned long end, int *err)
{
	struct vm_area_struct *vma = find_vma(mm, start), *last;

	*err = 0;
	if (!vma || vma->vm_start >= end)
		return NULL;
	if (vma->vm_start < start) {
		*err = vma_split(mm, vma, start);
		if (*err)
			return NULL;
		vma = vma_next(vma);
	}
	last = find_vma(mm, end - 1);
	if (last && last->vm_start < end && last->vm_end > end) {
		*err = vma_split(mm, last, end);
		if (*err) {
			/* Undo the first split: a failed call leaves the VMAs as they were. */
			vma_merge_neighbours(mm, vma);
			return NULL;
		}
	}
	return vma;
}

void vma_free_list(struct vm_area_struct *list)
{
	while (list) {
		struct vm_area_struct *next = vma_core(list)->next_free;

		vma_free(list);
		list = next;
	}
}

static void vma_detach(struct mm_struct *mm, struct vm_area_struct *vma,
		       struct vm_area_struct **detached)
{
	vma_unlink(mm, vma);
	vma_core(vma)->next_free = *detached;
	*detached = vma;
}

/*
 * free_pgtables() of munmap: the leaf tables of [start, end) that no VMA
 * uses any more go, so that a later mapping there can get a huge PMD (as
 * in Linux, whose free_pgtables() frees them). Caller holds mmap_lock for
 * write; rmap_lock for write keeps reverse-map walkers out.
 */
static void free_unused_pte_tables(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	unsigned long lo = start & HPAGE_PMD_MASK, hi = (end + HPAGE_PMD_SIZE - 1) & HPAGE_PMD_MASK;
	struct vm_area_struct *prev, *next;

	if (hi < end) /* the top of the address space */
		hi = end & HPAGE_PMD_MASK;
	next = find_vma(mm, start); /* the first VMA after the hole */
	if (next) {
		prev = vma_prev(next);
	} else {
		for (prev = vma_first(mm); prev && vma_next(prev); prev = vma_next(prev))
			;
	}
	/* The 2 MiB blocks shared with a remaining VMA keep their table. */
	if (prev && prev->vm_end > lo)
		lo = (prev->vm_end + HPAGE_PMD_SIZE - 1) & HPAGE_PMD_MASK;
	if (next && next->vm_start < hi)
		hi = next->vm_start & HPAGE_PMD_MASK;
	if (lo >= hi)
		return;
	sm_down_write(&mm->rmap_lock);
	free_pte_tables(mm, lo, hi);
	sm_up_write(&mm->rmap_lock);
}

int do_munmap(struct mm_struct *mm, unsigned long start, unsigned long len,
	      struct vm_area_struct **detached)
{
	struct mmu_notifier_range range;
	struct vm_area_struct *vma, *next;
	unsigned long end = start + len;
	int err;

	mmap_assert_write_locked(mm);
	/* No fault under a per-VMA lock may refill what is zapped below. */
	vma_start_write_range(mm, start, end);
	vma = isolate_range(mm, start, end, &err);
	if (!vma)
		return err;
	mlock_unaccount_range(mm, vma, end);
	mmu_notifier_range_init(&range, MMU_NOTIFY_UNMAP, 0, mm, start, end);
	mmu_notifier_invalidate_range_start(&range);
	for (next = vma; next && next->vm_start < end; next = vma_next(next))
		zap_page_range(next, next->vm_start, next->vm_end);
	mmu_notifier_invalidate_range_end(&range);
	while (vma && vma->vm_start < end) {
		next = vma_next(vma);
		vma_detach(mm, vma, detached);
		vma = next;
	}
	free_unused_pte_tables(mm, start, end);
	return 0;
}

/**
 * exit_mmap() - tear down an address space whose last user is gone
 *
 * Seed 004's promise and seed 002's workaround both rest on this order:
 * ->release of every subscriber runs before a single page is unmapped or
 * freed, then the arch exit hooks (arch_exit_mmap), then everything is
 * unmapped under one MMU_NOTIFY_UNMAP invalidation over the whole space.
 * mm_users is 0; only reverse-map walkers and mmget_not_zero() callers (who
 * fail) can still look at the mm.
 */
void exit_mmap(struct mm_struct *mm)
{
	struct mmu_notifier_range range;
	struct vm_area_struct *vma, *next, *detached = NULL;

	mmu_notifier_release(mm);
	mm_run_exit_hooks(mm);
	mmap_write_lock(mm);
	vma = vma_first(mm);
	if (vma) {
		mlock_unaccount_range(mm, vma, ~0UL);
		mmu_notifier_range_init(&range, MMU_NOTIFY_UNMAP, 0, mm, 0, ~0UL);
		mmu_notifier_invalidate_range_start(&range);
		for (next = vma; next; next = vma_next(next))
			zap_page_range(next, next->vm_start, next->vm_end);
		mmu_notifier_invalidate_range_end(&range);
	}
	while (vma) {
		next = vma_next(vma);
		vma_detach(mm, vma, &detached);
		vma = next;
	}
	/*
	 * The page tables go with the address space, not with the struct: a
	 * lazy-TLB holder of mm_count keeps only the pgd. Reverse-map walkers
	 * hold rmap_lock, so they cannot be inside a table being freed.
	 */
	sm_down_write(&mm->rmap_lock);
	free_pgtables_below_pgd(mm);
	sm_up_write(&mm->rmap_lock);
	mmap_write_unlock(mm);
	vma_free_list(detached);
}

int zap_vma_ptes(struct vm_area_struct *vma, unsigned long address, unsigned long size)
{
	struct mm_struct *mm = vma->vm_mm;
	struct mmu_notifier_range range;

	if (!vma->vm_ops || !PAGE_ALIGNED(address) || !PAGE_ALIGNED(size) || !size ||
	    address < vma->vm_start || address + size > vma->vm_end || address + size < address)
		return -EINVAL;
	/* Excludes registration (mm_take_all_locks) and exit's page-table freeing. */
	sm_down_read(&mm->rmap_lock);
	if (mm->pgd) {
		mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, address, address + size);
		mmu_notifier_invalidate_range_start(&range);
		zap_page_range(vma, address, address + size);
		mmu_notifier_invalidate_range_end(&range);
	}
	sm_up_read(&mm->rmap_lock);
	return 0;
}
