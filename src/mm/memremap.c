// SPDX-License-Identifier: MIT
/*
 * Device-private memory: the registry of dev_pagemaps and the life of their
 * pages. See include/secmmu/memremap.h.
 *
 * pfns: pagemap slot s owns [DEVICE_PFN_BASE + s * DEV_PAGEMAP_MAX_PAGES,
 * + nr_pages), far above every system frame, so a pfn alone tells system
 * from device memory (as ZONE_DEVICE pfns do). The registry is an array of
 * pointers claimed with compare-and-swap and read with acquire loads: a
 * pagemap is only unregistered once all its pages are free, when no PTE and
 * no reference can name one of its pfns any more.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "base/alloc.h"
#include "base/debug.h"
#include "mm/internal.h"
#include "secmmu/memremap.h"

#define DEVICE_PFN_BASE (1UL << 32)

static struct dev_pagemap *_Atomic registry[DEV_PAGEMAP_SLOTS];
static _Atomic unsigned long device_used, device_total;

int memremap_pages(struct dev_pagemap *pgmap)
{
	int slot = -1;

	if (!pgmap || pgmap->type != MEMORY_DEVICE_PRIVATE || !pgmap->nr_pages ||
	    pgmap->nr_pages > DEV_PAGEMAP_MAX_PAGES || !pgmap->ops || !pgmap->ops->page_free ||
	    !pgmap->ops->migrate_to_ram)
		return -EINVAL;
	pgmap->pages = kcalloc(pgmap->nr_pages, sizeof(*pgmap->pages));
	pgmap->mem = mmap(NULL, pgmap->nr_pages * PAGE_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!pgmap->pages || pgmap->mem == MAP_FAILED) {
		if (pgmap->mem != MAP_FAILED)
			munmap(pgmap->mem, pgmap->nr_pages * PAGE_SIZE);
		kfree(pgmap->pages);
		pgmap->pages = NULL;
		pgmap->mem = NULL;
		return -ENOMEM;
	}
	for (unsigned long i = 0; i < pgmap->nr_pages; i++)
		pgmap->pages[i].pgmap = pgmap;
	for (int s = 0; s < DEV_PAGEMAP_SLOTS && slot < 0; s++) {
		struct dev_pagemap *none = NULL;

		pgmap->slot = s;
		pgmap->pfn_first = DEVICE_PFN_BASE + (unsigned long)s * DEV_PAGEMAP_MAX_PAGES;
		/* Claims the slot and publishes the pagemap: pairs with device_pfn_to_page(). */
		if (atomic_compare_exchange_strong_explicit(
			    &registry[s], &none, pgmap, memory_order_acq_rel, memory_order_relaxed))
			slot = s;
	}
	if (slot >= 0)
		atomic_fetch_add(&device_total, pgmap->nr_pages);
	if (slot < 0) {
		munmap(pgmap->mem, pgmap->nr_pages * PAGE_SIZE);
		kfree(pgmap->pages);
		pgmap->pages = NULL;
		pgmap->mem = NULL;
		return -ENOSPC;
	}
	return 0;
}

void memunmap_pages(struct dev_pagemap *pgmap)
{
	unsigned long busy = 0;

	if (!pgmap || !pgmap->pages)
		return;
	/* A fault waiting on one of our pages reads its struct page: let it go first. */
	sm_wait_var_event(&pgmap->waiters, !atomic_load(&pgmap->waiters));
	for (unsigned long i = 0; i < pgmap->nr_pages; i++)
		if (page_ref_count(&pgmap->pages[i]))
			busy++;
	if (WARN_ON(busy)) {
		fprintf(stderr, "secmmu: memunmap_pages: %lu device pages still in use\n", busy);
		return; /* leaked, never freed under a user */
	}
	atomic_store(&registry[pgmap->slot], NULL);
	atomic_fetch_sub(&device_total, pgmap->nr_pages);
	munmap(pgmap->mem, pgmap->nr_pages * PAGE_SIZE);
	kfree(pgmap->pages);
	pgmap->pages = NULL;
	pgmap->mem = NULL;
}

void zone_device_page_init(struct page *page)
{
	BUG_ON(!is_device_private_page(page));
	BUG_ON(page_ref_count(page) != 0);
	atomic_store(&page->_mapcount, 0);
	atomic_store(&page->_pincount, 0);
	atomic_store(&page->flags, 0);
	page->mapping = NULL;
	page->index = 0;
	set_page_private(page, 0);
	atomic_fetch_add(&page->gen, 1);
	atomic_fetch_add(&device_used, 1);
	atomic_store(&page->_refcount, 1);
}

void device_page_free(struct page *page)
{
	struct dev_pagemap *pgmap = page->pgmap;

	BUG_ON(page_mapcount(page) != 0);
	BUG_ON(atomic_load(&page->_pincount) != 0);
	/* A device translation taken before this point is stale from now on. */
	atomic_fetch_add(&page->gen, 1);
	if (sm_debug)
		memset(page_address(page), PAGE_POISON_BYTE, PAGE_SIZE);
	atomic_store(&page->flags, 0);
	page->mapping = NULL;
	atomic_fetch_sub(&device_used, 1);
	pgmap->ops->page_free(page);
}

bool device_pfn(unsigned long pfn)
{
	return pfn >= DEVICE_PFN_BASE;
}

struct page *device_pfn_to_page(unsigned long pfn)
{
	unsigned long off = pfn - DEVICE_PFN_BASE;
	unsigned long slot = off / DEV_PAGEMAP_MAX_PAGES, idx = off % DEV_PAGEMAP_MAX_PAGES;
	struct dev_pagemap *pgmap;

	if (pfn < DEVICE_PFN_BASE || slot >= DEV_PAGEMAP_SLOTS)
		return NULL;
	pgmap = atomic_load_explicit(&registry[slot], memory_order_acquire);
	if (!pgmap || idx >= pgmap->nr_pages)
		return NULL;
	return &pgmap->pages[idx];
}

unsigned long device_page_to_pfn(const struct page *page)
{
	return page->pgmap->pfn_first + (unsigned long)(page - page->pgmap->pages);
}

void *device_page_address(const struct page *page)
{
	return page->pgmap->mem + (size_t)(page - page->pgmap->pages) * PAGE_SIZE;
}

unsigned long device_pages_used(void)
{
	return atomic_load(&device_used);
}

unsigned long device_pages_total(void)
{
	return atomic_load(&device_total);
}

struct dev_pagemap *device_pagemap_slot(int slot)
{
	if (slot < 0 || slot >= DEV_PAGEMAP_SLOTS)
		return NULL;
	return atomic_load_explicit(&registry[slot], memory_order_acquire);
}
