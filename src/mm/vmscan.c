// SPDX-License-Identifier: MIT
/*
 * Reclaim: aging and page-out.
 *
 * pageout() of an isolated page:
 *   anonymous  allocate a slot, put the page in the swap cache, unmap every
 *              PTE (each becomes a swap entry, inside an invalidation), write
 *              the page, and free it if nobody else holds it; if somebody
 *              does, the page stays in the swap cache and swap-ins share it.
 *              MADV_PAGEOUT and try_to_free_pages() queue the unmapped
 *              pages, still locked, in a swap plug (struct swap_plug) and
 *              write up to SWAP_PLUG_MAX at a time, those of consecutive
 *              slots in one request: Linux's block plug in do_madvise(),
 *              reclaim_pages() and shrink_lruvec(). A page somebody took
 *              meanwhile is not written and stays.
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

/* What became of a page handed to pageout(). */
enum pageout_result {
	PAGEOUT_KEPT,	/* still in use (or not pageable now): the caller keeps it */
	PAGEOUT_FREED,	/* written and out of every cache: the caller's is the last reference */
	PAGEOUT_QUEUED, /* in a swap plug: its lock and the caller's reference went with it */
};

/* Worth a write: unmapped everywhere and held only by us and the swap cache. */
static bool pageout_anon_writable(struct page *page)
{
	return !page_mapcount(page) && page_ref_count(page) == 2;
}

/**
 * swap_plug_flush() - write a plug's pages and finish their pageout
 * @plug: the plug; empty on return
 *
 * Writes the pages still worth it in one swap_writepages() call (runs of
 * consecutive slots merge), then ends each page's pageout, unlocks it
 * (waking a device fault waiting for it) and drops the reference its
 * queuer handed over: a page written and out of the cache is freed
 * there; for an @lru plug, a page not freed goes back to the LRU with
 * it; the pages freed are counted in @plug->freed. May block on the I/O;
 * takes the swap lock per page.
 */
void swap_plug_flush(struct swap_plug *plug)
{
	struct page *wpage[SWAP_PLUG_MAX];
	unsigned long wslot[SWAP_PLUG_MAX];
	int err[SWAP_PLUG_MAX];
	bool write[SWAP_PLUG_MAX];
	unsigned int i, n = 0;

	for (i = 0; i < plug->nr; i++) {
		write[i] = pageout_anon_writable(plug->page[i]);
		if (write[i]) {
			wpage[n] = plug->page[i];
			wslot[n++] = plug->slot[i];
		}
	}
	swap_writepages(wslot, wpage, n, err);
	for (i = 0, n = 0; i < plug->nr; i++) {
		struct page *page = plug->page[i];
		bool written = false, gone;

		if (write[i])
			written = !err[n++]; /* wpage[] holds the written ones, in order */
		/*
		 * A page with a reference beyond ours and the cache's may still
		 * be written by somebody, so it stays, as does one whose write
		 * failed (the swap cache then holds the only copy, and swap-in
		 * finds it there). Our count of the slot goes in any case; at
		 * zero the cache entry goes too.
		 */
		gone = swap_cache_del_and_free(page, plug->slot[i], written, 2);
		plug->freed += gone;
		unlock_page(page);
		if (plug->lru && !gone)
			lru_putback(page); /* with the isolation reference */
		else
			put_page(page); /* the queuer's: reclaim_page()'s or the isolation's */
	}
	plug->nr = 0;
}

/*
 * Page out a locked anonymous page: give it a slot and the swap cache,
 * unmap it everywhere and queue it in @plug, with its lock and the
 * caller's reference; a full plug is flushed.
 */
static enum pageout_result pageout_anon(struct page *page, struct swap_plug *plug)
{
	long slot;

	if (!swap_available())
		return PAGEOUT_KEPT;
	slot = swap_cache_dup(page);
	if (slot < 0) {
		slot = swap_alloc_cached(page);
		if (slot < 0)
			return PAGEOUT_KEPT;
	}
	try_to_unmap(page, slot);
	plug->page[plug->nr] = page;
	plug->slot[plug->nr++] = (unsigned long)slot;
	if (plug->nr == SWAP_PLUG_MAX)
		swap_plug_flush(plug);
	return PAGEOUT_QUEUED;
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

/*
 * Page out an isolated page; the caller holds a reference, which @plug
 * takes over with the page lock when it queues the page (an anonymous
 * one); the caller flushes @plug.
 */
static enum pageout_result pageout(struct page *page, struct swap_plug *plug)
{
	enum pageout_result ret = PAGEOUT_KEPT;
	TRACE_SCOPE("mm", "pageout", "pfn=%lu", page_to_pfn(page));

	if (page_maybe_dma_pinned(page) || PageTest(page, PG_ksm))
		return PAGEOUT_KEPT;
	/*
	 * A THP is split first and its 4 KiB pages swapped one by one (Linux
	 * without CONFIG_THP_SWAP: shrink_folio_list() splits when
	 * add_to_swap() cannot take the folio whole); this page, the former
	 * head, goes on, the others are on the LRU now.
	 */
	if (PageCompound(page) && split_folio(page))
		return PAGEOUT_KEPT;
	/* Mapped in a VM_LOCKED VMA: unevictable, as on Linux's unevictable LRU. */
	if (page_mlocked(page))
		return PAGEOUT_KEPT;
	if (TestSetPageFlag(page, PG_locked))
		return PAGEOUT_KEPT;
	if (PageTest(page, PG_anon)) {
		ret = pageout_anon(page, plug);
		if (ret == PAGEOUT_QUEUED)
			return ret; /* locked until the plug's flush */
	} else if (PageTest(page, PG_swapbacked) && pageout_shmem(page)) {
		ret = PAGEOUT_FREED;
	}
	unlock_page(page); /* wakes a device fault waiting for it */
	return ret;
}

unsigned long try_to_free_pages(unsigned long nr_pages)
{
	/* One pass over the list: a referenced page gets its second chance until the next call. */
	struct swap_plug plug = {.lru = true};
	unsigned long reclaimed = 0, budget;

	/*
	 * The deferred-split shrinker runs with the others (shrink_slab()):
	 * partly unmapped THPs are split and their unmapped subpages freed. As
	 * in Linux, those frames are not counted as reclaimed.
	 */
	deferred_split_scan(ULONG_MAX);
	budget = lru_nr_pages();

	/* Queued pages count as reclaimed until their flush says otherwise. */
	while (reclaimed + plug.freed + plug.nr < nr_pages && budget--) {
		struct page *page = lru_isolate();
		enum pageout_result ret;

		if (!page)
			break;
		/* Second chance: a page used since the last look (by a CPU or a device) stays. */
		if (page_maybe_dma_pinned(page) || PageTest(page, PG_ksm) ||
		    page_referenced(page)) {
			lru_putback(page);
			continue;
		}
		ret = pageout(page, &plug);
		if (ret == PAGEOUT_QUEUED)
			continue; /* the plug holds the isolation reference now */
		if (ret != PAGEOUT_FREED) {
			lru_putback(page);
			continue;
		}
		put_page(page); /* the isolation reference: the frame is free now */
		reclaimed++;
	}
	swap_plug_flush(&plug);
	return reclaimed + plug.freed;
}

/**
 * reclaim_page() - MADV_PAGEOUT of one page mapped at @addr of @vma
 * @plug: where an anonymous page waits for its write (see struct
 *	swap_plug); the caller flushes it
 *
 * Only pages mapped once are paged out (as Linux does), regardless of their
 * young bits. Caller holds mmap_lock.
 */
void reclaim_page(struct vm_area_struct *vma, unsigned long addr, struct swap_plug *plug)
{
	struct mm_struct *mm = vma->vm_mm;
	struct page *page = NULL;
	pte_t *ptep;
	uint64_t pte;

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
		return;
	/* madvise_cold_or_pageout_pte_range(): a THP mapped once is split first. */
	if (PageCompound(page)) {
		bool split = !split_folio(page);

		put_page(page);
		/* Now a 4 KiB page mapped by a PTE: look again. */
		if (split)
			reclaim_page(vma, addr, plug);
		return;
	}
	if (pageout(page, plug) != PAGEOUT_QUEUED)
		put_page(page);
}
