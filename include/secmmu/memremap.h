/* SPDX-License-Identifier: MIT */
/*
 * Device-private memory (Linux's MEMORY_DEVICE_PRIVATE ZONE_DEVICE pages).
 *
 * A driver hands the core a struct dev_pagemap: how many pages of device
 * memory it has, an owner cookie and two callbacks. memremap_pages() gives
 * the range struct pages and pfns of their own (above every system frame)
 * and a backing store that stands for the device's memory. The CPU can never
 * access such a page: where a page of a process lives on the device, its PTE
 * is a non-present "device-private entry", and a CPU fault on it calls the
 * owner's ->migrate_to_ram(), which must move the page back to system memory
 * (migrate_vma_setup() with MIGRATE_VMA_SELECT_DEVICE_PRIVATE).
 *
 * Page lifetime: a free device page has _refcount 0. The driver's allocator
 * takes one with zone_device_page_init() (refcount 1); the PTEs that map it
 * hold a reference each, as for system frames. When the last reference goes,
 * the core calls ->page_free() (under no lock of the core) and the driver
 * puts the page back on its own free list.
 */
#ifndef SECMMU_MEMREMAP_H
#define SECMMU_MEMREMAP_H

#include "secmmu/compiler.h"
#include "secmmu/mm.h"
#include "secmmu/page.h"

SECMMU_BEGIN_DECLS

enum memory_type {
	MEMORY_DEVICE_PRIVATE = 1,
};

/**
 * struct dev_pagemap_ops - the owner's callbacks
 * @page_free:      the last reference to @page is gone. May not sleep on
 *                  anything but a leaf lock (it runs wherever the last
 *                  put_page() runs).
 * @migrate_to_ram: a CPU fault at vmf->address of vmf->vma hit the
 *                  device-private page vmf->page (the caller holds a
 *                  reference on it and mmap_lock for read). Move it to system
 *                  memory and return 0 (the fault is retried), or -ENOMEM /
 *                  -EBUSY (0 is fine too if somebody else moved it first).
 */
struct dev_pagemap_ops {
	void (*page_free)(struct page *page);
	int (*migrate_to_ram)(struct vm_fault *vmf);
};

/**
 * struct dev_pagemap - a range of device memory
 * @type:     MEMORY_DEVICE_PRIVATE
 * @nr_pages: its size in pages (at most DEV_PAGEMAP_MAX_PAGES)
 * @ops:      the callbacks, both required
 * @owner:    the driver's cookie: migrate_vma's pgmap_owner, hmm_range's
 *            dev_private_owner and the notifier range's owner compare with it
 *
 * Set by memremap_pages(): @pfn_first (the pfn of the first page), @pages
 * (the struct pages) and @mem (the backing store). The pagemap must outlive
 * every page of it: memunmap_pages() first.
 */
struct dev_pagemap {
	enum memory_type type;
	unsigned long nr_pages;
	const struct dev_pagemap_ops *ops;
	void *owner;

	unsigned long pfn_first;
	struct page *pages;
	unsigned char *mem;
	int slot; /* in the core's registry */
	/*
	 * CPU faults waiting for one of our pages without holding a reference
	 * to it (do_device_private_fault()); memunmap_pages() waits for none.
	 */
	SECMMU_ATOMIC(int) waiters;
};

#define DEV_PAGEMAP_MAX_PAGES (1UL << 24)

/**
 * memremap_pages() - create @pgmap's device pages, all free (refcount 0)
 *
 * Return: 0; -EINVAL (bad type/size/ops), -ENOSPC (too many pagemaps),
 * -ENOMEM.
 */
int memremap_pages(struct dev_pagemap *pgmap);

/**
 * memunmap_pages() - destroy @pgmap's pages. Every page must be free (the
 * driver evicts them first, see migrate_device_range()); a page still in
 * use is a bug (WARN, and the memory is leaked rather than freed under it).
 */
void memunmap_pages(struct dev_pagemap *pgmap);

/* The pagemap of a device-private page. */
static inline struct dev_pagemap *page_pgmap(const struct page *page)
{
	return page->pgmap;
}

/**
 * zone_device_page_init() - the driver's allocator hands out free page @page
 * (refcount 0 -> 1, a new generation, flags cleared). Counted in
 * device_pages_used() until ->page_free().
 */
void zone_device_page_init(struct page *page);

/* Device-private pages in use (allocated and not yet freed), over all pagemaps. */
unsigned long device_pages_used(void);
/* Device-private pages that exist, over all pagemaps (0: no device memory). */
unsigned long device_pages_total(void);

SECMMU_END_DECLS

#endif /* SECMMU_MEMREMAP_H */
