// SPDX-License-Identifier: MIT
/*
 * Reclaim: aging and page-out.
 *
 * pageout() of an isolated page:
 *   anonymous  allocate a slot, put the page in the swap cache, unmap every
 *              PTE (each becomes a swap entry, inside an invalidation), write
 *              the page, and free it if nobody else holds it; if somebody
 *              does, the page stays in the swap cache and swap-ins share it
 *   shared     unmap every PTE (they refault from the object), write the
 *              page to a slot the object remembers, free the page
 * Pinned and KSM pages, and pages mapped in a VM_LOCKED VMA, are never
 * paged out.
 */
#include <errno.h>
#include <limits.h>

#include "mm/swap_internal.h"
#include "secmmu/migrate.h"
#include "secmmu/swap.h"
#include "secmmu/trace.h"

static bool pageout_anon(struct page *page)
{
	bool freed, written;
	long slot;

	if (!swap_available())
		return false;
	slot = swap_cache_dup(page);
	if (slot < 0) {
		slot = swap_alloc_cached(page);
		if (slot < 0)
			return false;
	}
	try_to_unmap(page, slot);
	/*
	 * A reference beyond ours and the cache's: somebody may still write it,
	 * so it stays. A failed write keeps it too: the swap cache then holds
	 * the only copy, and swap-in finds it there.
	 */
	written = !page_mapcount(page) && page_ref_count(page) == 2 &&
		  !swap_writepage((unsigned long)slot, page);
	/* Our count goes in any case; at zero the cache entry goes too. */
	freed = swap_cache_del_and_free(page, (unsigned long)slot, written, 2);
	return freed;
}

static bool pageout_shmem(struct page *page)
{
	unsigned long idx = page->index;
	struct shmem_obj *obj;
	bool freed = false;
	long slot;

	if (!swap_available())
		return false;
	obj = page_get_shmem(page);
	if (!obj)
		return false; /* the object is going away, and the page with it */
	slot = swap_alloc();
	if (slot < 0) {
		shmem_obj_put(obj);
		return false;
	}
	if (try_to_unmap(page, -1) == 0) {
		sm_mutex_lock(&obj->lock);
		struct page **pp = shmem_page_slot(obj, idx, false);

		if (pp && *pp == page && page_ref_count(page) == 2 && !page_mapcount(page) &&
		    !swap_writepage((unsigned long)slot, page)) {
			*pp = NULL;
			*shmem_swap_slot(obj, idx, false) = (unsigned long)slot + 1;
			freed = true;
		}
		sm_mutex_unlock(&obj->lock);
	}
	if (freed)
		put_page(page); /* the object's reference; ours still keeps it */
	else
		swap_free((unsigned long)slot);
	shmem_obj_put(obj); /* Pairs with page_get_shmem(). */
	return freed;
}

/* Page out an isolated page (the caller holds a reference). */
static bool pageout(struct page *page)
{
	bool freed;
	TRACE_SCOPE("mm", "pageout", "pfn=%lu", page_to_pfn(page));

	if (page_maybe_dma_pinned(page) || PageTest(page, PG_ksm))
		return false;
	/*
	 * A THP is split first and its 4 KiB pages swapped one by one (Linux
	 * without CONFIG_THP_SWAP: shrink_folio_list() splits when
	 * add_to_swap() cannot take the folio whole); this page, the former
	 * head, goes on, the others are on the LRU now.
	 */
	if (PageCompound(page) && split_folio(page))
		return false;
	/* Mapped in a VM_LOCKED VMA: unevictable, as on Linux's unevictable LRU. */
	if (page_mlocked(page))
		return false;
	if (TestSetPageFlag(page, PG_locked))
		return false;
	if (PageTest(page, PG_anon))
		freed = pageout_anon(page);
	else if (PageTest(page, PG_swapbacked))
		freed = pageout_shmem(page);
	else
		freed = false;
	unlock_page(page); /* wakes a device fault waiting for it */
	return freed;
}

unsigned long try_to_free_pages(unsigned long nr_pages)
{
	/* One pass over the list: a referenced page gets its second chance until the next call. */
	unsigned long reclaimed = 0, budget;

	/*
	 * The deferred-split shrinker runs with the others (shrink_slab()):
	 * partly unmapped THPs are split and their unmapped subpages freed. As
	 * in Linux, those frames are not counted as reclaimed.
	 */
	deferred_split_scan(ULONG_MAX);
	budget = lru_nr_pages();

	while (reclaimed < nr_pages && budget--) {
		struct page *page = lru_isolate();

		if (!page)
			break;
		/* Second chance: a page used since the last look (by a CPU or a device) stays. */
		if (page_maybe_dma_pinned(page) || PageTest(page, PG_ksm) ||
		    page_referenced(page) || !pageout(page)) {
			lru_putback(page);
			continue;
		}
		put_page(page); /* the isolation reference: the frame is free now */
		reclaimed++;
	}
	return reclaimed;
}

/**
 * reclaim_page() - MADV_PAGEOUT of one page mapped at @addr of @vma
 *
 * Only pages mapped once are paged out (as Linux does), regardless of their
 * young bits. Caller holds mmap_lock. Return: true if the frame was freed.
 */
bool reclaim_page(struct vm_area_struct *vma, unsigned long addr)
{
	struct mm_struct *mm = vma->vm_mm;
	struct page *page = NULL;
	pte_t *ptep;
	uint64_t pte;
	bool freed;

	sm_mutex_lock(&mm->page_table_lock);
	ptep = pte_offset(mm, addr);
	pte = ptep ? pte_load(ptep) : 0;
	if (!ptep && follow_huge_pmd(mm, addr, &pte))
		pte &= ~PTE_HUGE; /* a PMD-mapped THP: split below, then paged out 4 KiB-wise */
	if (pte_present(pte) && !is_zero_pfn(pte_pfn(pte))) {
		page = pfn_to_page(pte_pfn(pte));
		if (page_mapcount(page) != 1 || !get_page_unless_zero(page))
			page = NULL;
	}
	sm_mutex_unlock(&mm->page_table_lock);
	if (!page)
		return false;
	/* madvise_cold_or_pageout_pte_range(): a THP mapped once is split first. */
	if (PageCompound(page)) {
		bool split = !split_folio(page);

		put_page(page);
		/* Now a 4 KiB page mapped by a PTE: look again. */
		return split && reclaim_page(vma, addr);
	}
	freed = pageout(page);
	put_page(page);
	return freed;
}
