/* SPDX-License-Identifier: MIT */
/* Swap device, swap cache, LRU and reverse map: internal interfaces. */
#ifndef SECMMU_MM_SWAP_INTERNAL_H
#define SECMMU_MM_SWAP_INTERNAL_H

#include "mm/internal.h"

/* Swap PTEs: !present, PTE_SWAP, slot in the pfn bits. */
static inline uint64_t swp_pte(unsigned long slot, bool exclusive)
{
	return ((uint64_t)slot << PTE_PFN_SHIFT) | PTE_SWAP | (exclusive ? PTE_SWAP_EXCL : 0);
}

static inline bool pte_is_swap(uint64_t pte)
{
	return !pte_present(pte) && (pte & PTE_SWAP);
}

bool swap_available(void);
/* A free slot with count 1, or -ENOSPC. */
long swap_alloc(void);
void swap_dup(unsigned long slot);
/* The count of @slot (0 when free or out of range). */
unsigned int swap_count(unsigned long slot);
/* Drop one count; at zero the slot is free and its cached page released. */
void swap_free(unsigned long slot);
int swap_writepage(unsigned long slot, struct page *page);
/*
 * swap_writepages() - write @page[i] to @slot[i] for i < @n (@n at most
 * SWAP_PLUG_MAX), as a block plug would: the pages of consecutive slots in
 * one request. The caller owns every slot (a count) and holds every page
 * lock. @err[i]: 0 or -EIO for @page[i] (an injected failure,
 * swap_inject_write_failure(), counts pages in order). Does not sleep on
 * locks; the I/O itself may block.
 */
void swap_writepages(const unsigned long *slot, struct page *const *page, unsigned int n, int *err);
int swap_readpage(unsigned long slot, struct page *page);
/*
 * A free slot with count 1 and @page in the swap cache for it (the cache
 * takes a reference on @page), in one hold of the swap lock; or -ENOSPC.
 * Caller holds the page lock of @page (PG_locked), which is not in the cache.
 */
long swap_alloc_cached(struct page *page);
/*
 * If @page is in the swap cache, take a count on its slot and return it; else
 * -ENOENT. Caller holds the page lock of @page.
 */
long swap_cache_dup(struct page *page);
/* The cached page of @slot with a reference, or NULL. */
struct page *swap_cache_get(unsigned long slot);
/*
 * swap_cache_del_and_free() - end a pageout's use of @slot, in one hold of
 * the swap lock: if @del, remove @page from the swap cache when it has
 * exactly @expected_refs references and no mapping; then drop the caller's
 * count of @slot (swap_free()). Caller holds the page lock of @page.
 * Return: true if @page was removed from the cache.
 */
bool swap_cache_del_and_free(struct page *page, unsigned long slot, bool del, int expected_refs);

/* LRU (lru.c) */
void lru_add(struct page *page);
/* Called by the frame allocator when a page on the LRU is freed. */
void lru_del_freed(struct page *page);
/* Take the coldest page off the LRU with a reference, or NULL. */
struct page *lru_isolate(void);
void lru_putback(struct page *page);

/* Reverse map (rmap.c): call @fn for every (vma, address) that may map @page. */
typedef bool (*rmap_one_fn)(struct vm_area_struct *vma, unsigned long addr, struct page *page,
			    void *arg);
void rmap_walk(struct page *page, rmap_one_fn fn, void *arg);
/*
 * For walks that must find mappings while the page is (temporarily) not
 * mapped -- migration entries -- hold the reverse-map object across them:
 * rmap_get() while the page is mapped, rmap_walk_target() any number of
 * times, rmap_put().
 */
struct rmap_target {
	struct anon_vma *av;
	struct shmem_obj *obj;
};
bool rmap_get(struct page *page, struct rmap_target *t);
void rmap_put(struct rmap_target *t);
void rmap_walk_target(struct page *page, struct rmap_target *t, rmap_one_fn fn, void *arg);
/* Young bits of every mapping, primary and secondary, cleared; how many were young. */
int page_referenced(struct page *page);
/*
 * Unmap @page everywhere: anonymous mappings become swap entries for
 * @slot (one count each), shared ones are cleared; @event for the notifier.
 * Return: the mapcount left (0 on success).
 */
int try_to_unmap(struct page *page, long slot);

#endif /* SECMMU_MM_SWAP_INTERNAL_H */
