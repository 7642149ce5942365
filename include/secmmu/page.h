/* SPDX-License-Identifier: MIT */
/*
 * Physical memory: page frames and struct page.
 *
 * Physical memory is one real arena (a private anonymous mapping, backed
 * by 2 MiB pages where the host allows, as the kernel's direct map) of
 * PAGE_SIZE frames; struct page describes each. Devices do real memcpy
 * through page_address() of frames they translated.
 *
 * Reference counting follows the kernel:
 *  - _refcount: every holder of the frame (page tables mapping it, page cache,
 *    swap cache, get_user_pages() references, pins). The frame is freed when
 *    it drops to zero.
 *  - pins (pin_user_pages) add GUP_PIN_COUNTING_BIAS (1024) to _refcount
 *    each, and are counted exactly in _pincount; page_maybe_dma_pinned() is
 *    the kernel's test.
 *  - _mapcount: number of PTEs mapping the frame.
 *
 * Large folios (transparent huge pages): alloc_thp_folio() hands out
 * HPAGE_PMD_NR physically contiguous, naturally aligned frames as one
 * compound page: the first is the head (PG_head, compound_order), the others
 * are tails pointing at it (compound_head). As in Linux 6.x, the folio has
 * one reference count and one pin count, both on the head (get_page(),
 * put_page() and the pin helpers go through compound_head()); every PMD
 * mapping counts once in the head's _entire_mapcount and holds one folio
 * reference; every PTE mapping of a subpage counts in that subpage's
 * _mapcount and also holds one folio reference. page_mapcount() of a
 * subpage is its PTE mappings plus the folio's PMD mappings. The whole folio
 * is freed when its reference count drops to zero.
 *
 * Generation numbers: every allocation of a frame bumps page->gen. A
 * secondary MMU records (pfn, gen) when it installs a translation and checks
 * it on every access (page_gen_valid()): using a translation after the frame
 * was freed (and maybe reused) is thereby caught, in every build. Debug builds
 * also fill freed frames with PAGE_POISON_BYTE.
 */
#ifndef SECMMU_PAGE_H
#define SECMMU_PAGE_H

#include "secmmu/compiler.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

SECMMU_BEGIN_DECLS

/*
 * The page size, under our own prefix. The kernel's short names follow for
 * code written in the kernel's style; libc's <sys/user.h> defines
 * PAGE_SHIFT, PAGE_SIZE and PAGE_MASK too, so ours are guarded and spelled
 * token for token like glibc's: either header may come first. Define
 * SECMMU_NO_PAGE_MACROS to get only the SECMMU_ names.
 */
#define SECMMU_PAGE_SHIFT      12
#define SECMMU_PAGE_SIZE       (1UL << SECMMU_PAGE_SHIFT)
#define SECMMU_PAGE_MASK       (~(SECMMU_PAGE_SIZE - 1))
#define SECMMU_PAGE_ALIGN(x)   (((x) + SECMMU_PAGE_SIZE - 1) & SECMMU_PAGE_MASK)
#define SECMMU_PAGE_ALIGNED(x) (((x) & (SECMMU_PAGE_SIZE - 1)) == 0)

#ifndef SECMMU_NO_PAGE_MACROS
/* clang-format off */
#ifndef PAGE_SHIFT
#define PAGE_SHIFT		12
#endif
#ifndef PAGE_SIZE
#define PAGE_SIZE		(1UL << PAGE_SHIFT)
#endif
#ifndef PAGE_MASK
#define PAGE_MASK		(~(PAGE_SIZE-1))
#endif
/* clang-format on */
#ifndef PAGE_ALIGN
#define PAGE_ALIGN(x) SECMMU_PAGE_ALIGN(x)
#endif
#ifndef PAGE_ALIGNED
#define PAGE_ALIGNED(x) SECMMU_PAGE_ALIGNED(x)
#endif
#endif /* SECMMU_NO_PAGE_MACROS */

#define GUP_PIN_COUNTING_BIAS 1024
#define PAGE_POISON_BYTE      0xaa

/* page->flags bits */
enum pageflags {
	PG_locked,     /* being swapped/migrated: faults wait */
	PG_dirty,      /* content differs from swap/file copy */
	PG_referenced, /* aging: seen young once */
	PG_swapbacked, /* anonymous or shared-anonymous memory */
	PG_anon,       /* private anonymous: mapping is an anon_vma */
	PG_swapcache,  /* in the swap cache: private is the swap slot */
	PG_lru,	       /* on an LRU list */
	PG_ksm,	       /* a KSM-merged frame */
	PG_reserved,   /* never freed (the zero page) */
	PG_uptodate,
	PG_anon_exclusive, /* private anonymous, mapped by one mm only: may be reused on write */
	PG_head,	   /* the head page of a large folio (a THP) */
	PG_deferred_split, /* head: queued for a deferred split (partially unmapped) */
};

struct dev_pagemap;
#define HPAGE_PMD_ORDER 9
#define HPAGE_PMD_NR	(1UL << HPAGE_PMD_ORDER)
#define HPAGE_PMD_SIZE	(PAGE_SIZE << HPAGE_PMD_ORDER)
#define HPAGE_PMD_MASK	(~(HPAGE_PMD_SIZE - 1))

struct page {
	SECMMU_ATOMIC(int) _refcount;
	SECMMU_ATOMIC(int) _mapcount; /* number of PTEs mapping this frame */
	SECMMU_ATOMIC(int) _pincount; /* exact number of pins */
	SECMMU_ATOMIC(unsigned long) flags;
	SECMMU_ATOMIC(uint32_t) gen; /* bumped at every allocation */
	void *mapping;		     /* anon_vma (PG_anon) or owning object; under PG_locked/ptl */
	unsigned long index;	     /* linear page offset within mapping */
	unsigned long
		private_data; /* core-private: the swap slot when PG_swapcache (page_private()) */
	struct page *lru_next, *lru_prev; /* LRU list, under the LRU lock */
	/*
	 * Device-private pages only (include/secmmu/memremap.h): the pagemap
	 * the page belongs to (set once by memremap_pages(), never changes),
	 * and the owning driver's data, which the core never touches.
	 */
	struct dev_pagemap *pgmap;
	void *zone_device_data;
	/*
	 * Large folios: a tail points at its head (set at allocation, cleared
	 * by a folio split; NULL for the head and for order-0 pages). The head
	 * keeps the order and the count of PMD mappings.
	 */
	SECMMU_ATOMIC(struct page *) compound_head;
	SECMMU_ATOMIC(int) _entire_mapcount; /* head: PMD mappings of the folio */
	unsigned int compound_order;	     /* head: HPAGE_PMD_ORDER; else 0 */
	struct page *deferred_next;	     /* head: on the deferred split queue (its lock) */
	/*
	 * The primary-MMU path that last freed the frame, if it names itself
	 * (phys_set_free_path()): the stale-translation detector reports it.
	 * Written at free, read by the detector; static strings only.
	 */
	const char *freed_by;
};

/* A device-private page: memory on a device, which the CPU cannot access. */
static inline bool is_device_private_page(const struct page *page)
{
	return page->pgmap != NULL;
}

/* The head of @page's folio (@page itself unless it is a tail). */
static inline struct page *compound_head(const struct page *page)
{
	struct page *head =
		secmmu_atomic_load(&((struct page *)page)->compound_head, SECMMU_MO_ACQUIRE);

	return head ? head : (struct page *)page;
}

/* Is @page part of a large folio (head or tail)? */
static inline bool PageCompound(const struct page *page)
{
	return secmmu_atomic_load(&compound_head(page)->flags, SECMMU_MO_SEQ_CST) &
	       (1UL << PG_head);
}

/**
 * phys_init() - create physical memory
 * @bytes: size, a multiple of PAGE_SIZE, at least 16 pages
 *
 * Return: 0, -EINVAL (bad size), -EBUSY (already initialized), -ENOMEM.
 */
int phys_init(size_t bytes);

/**
 * phys_exit() - destroy physical memory
 *
 * Only when every frame is free: frames still in use (leaked) are reported
 * on stderr and physical memory is kept as it is (global state such as the
 * LRU still points into it), so a later world in the same process is safe;
 * free them and call again.
 * Return: 0 (destroyed, or there was none), or the number of frames still
 * in use (nothing destroyed).
 */
unsigned long phys_exit(void);

bool phys_initialized(void);
unsigned long phys_total_frames(void);
unsigned long phys_free_frames(void);
unsigned long phys_used_frames(void);
/* Frames with at least one pin. */
unsigned long phys_pinned_frames(void);
/* Pins outstanding over all frames (a frame pinned twice counts twice). */
unsigned long phys_total_pins(void);

/**
 * alloc_page() - allocate one frame, zero-filled
 *
 * The frame comes back with _refcount 1 and a new generation. May try
 * reclaim (through the hook installed by the reclaim code) before failing.
 * Does not sleep on locks the caller may hold, except the allocator lock.
 *
 * Return: the page, or NULL when no frame can be had.
 */
struct page *alloc_page(void);
/* As alloc_page() but never reclaims and does not zero. */
struct page *alloc_page_noreclaim(void);

/**
 * alloc_thp_folio() - allocate a zeroed large folio of HPAGE_PMD_NR frames
 *
 * Physically contiguous and aligned to HPAGE_PMD_SIZE; the head comes back
 * with _refcount 1. Never reclaims (a THP fault falls back to 4 KiB pages
 * instead, as Linux does without direct compaction).
 *
 * Return: the head page, or NULL when no aligned free block exists.
 */
struct page *alloc_thp_folio(void);

static inline void get_page(struct page *page)
{
	secmmu_atomic_fetch_add(&compound_head(page)->_refcount, 1, SECMMU_MO_RELAXED);
}

/* Take a reference only if the frame is not already on its way to free. */
bool get_page_unless_zero(struct page *page);

/**
 * put_page() - drop a reference; the last one frees the frame
 *
 * Freeing poisons the frame (debug builds) and returns it to the free list.
 * A refcount underflow is a BUG.
 */
void put_page(struct page *page);
/* Drop @nr references at once (an unpin drops GUP_PIN_COUNTING_BIAS). */
void put_page_refs(struct page *page, int nr);

/* The core's private word of a page (the swap slot while PG_swapcache). */
static inline unsigned long page_private(const struct page *page)
{
	return page->private_data;
}

static inline void set_page_private(struct page *page, unsigned long v)
{
	page->private_data = v;
}

/* The folio's reference count (the head's). */
static inline int page_ref_count(const struct page *page)
{
	return secmmu_atomic_load(&compound_head(page)->_refcount, SECMMU_MO_SEQ_CST);
}

/* PTE mappings of @page plus PMD mappings of its folio (Linux's page_mapcount()). */
static inline int page_mapcount(const struct page *page)
{
	struct page *head = compound_head(page);
	int n = secmmu_atomic_load(&((struct page *)page)->_mapcount, SECMMU_MO_SEQ_CST);

	if (secmmu_atomic_load(&head->flags, SECMMU_MO_SEQ_CST) & (1UL << PG_head))
		n += secmmu_atomic_load(&head->_entire_mapcount, SECMMU_MO_SEQ_CST);
	return n;
}

/* Pinned? A pin of any subpage pins the whole folio (the count is on the head). */
static inline bool page_maybe_dma_pinned(const struct page *page)
{
	return secmmu_atomic_load(&compound_head(page)->_pincount, SECMMU_MO_SEQ_CST) > 0;
}

static inline bool PageTest(const struct page *page, enum pageflags bit)
{
	return secmmu_atomic_load(&((struct page *)page)->flags, SECMMU_MO_SEQ_CST) & (1UL << bit);
}

static inline void SetPageFlag(struct page *page, enum pageflags bit)
{
	secmmu_atomic_fetch_or(&page->flags, 1UL << bit, SECMMU_MO_SEQ_CST);
}

static inline void ClearPageFlag(struct page *page, enum pageflags bit)
{
	secmmu_atomic_fetch_and(&page->flags, ~(1UL << bit), SECMMU_MO_SEQ_CST);
}

/* Returns the old value of the bit. */
static inline bool TestSetPageFlag(struct page *page, enum pageflags bit)
{
	return secmmu_atomic_fetch_or(&page->flags, 1UL << bit, SECMMU_MO_SEQ_CST) & (1UL << bit);
}

static inline bool TestClearPageFlag(struct page *page, enum pageflags bit)
{
	return secmmu_atomic_fetch_and(&page->flags, ~(1UL << bit), SECMMU_MO_SEQ_CST) &
	       (1UL << bit);
}

/*
 * The frame's bytes. For a device-private page this is the device's own
 * memory: only its driver may touch it (the CPU never maps it).
 */
void *page_address(const struct page *page);

/**
 * copy_frame_data() - memcpy to or from the contents of frames
 *
 * User memory is shared by CPUs and devices that may legitimately race on
 * it (two threads writing one page; a device reading what a CPU writes), as
 * in a real machine. What secmmu's synchronisation guarantees is which frame
 * each of them reaches, not the order of their bytes, so ThreadSanitizer is
 * told not to judge the bytes; every other build pays nothing.
 */
void copy_frame_data(void *dst, const void *src, size_t n);
unsigned long page_to_pfn(const struct page *page);
/* NULL for a pfn outside physical memory (and outside device memory). */
struct page *pfn_to_page(unsigned long pfn);
bool pfn_valid(unsigned long pfn);

/**
 * pfn_to_page_contig() - the memory map from a RAM frame on, for a walk of
 * consecutive frames with one lookup
 * @pfn: a frame
 * @nr:  out: how many frames from @pfn on are RAM (0 if @pfn is not)
 *
 * Over RAM the memory map and the frames' bytes are contiguous, as the
 * kernel's vmemmap and direct map are: for i < *@nr, pfn_to_page(@pfn + i)
 * is the returned page + i, and page_address() of it is page_address() of
 * the returned page + i * PAGE_SIZE. A bulk user (a device's DMA over a run
 * of translations) looks up once, then checks each page_gen().
 *
 * Return: pfn_to_page(@pfn) for a RAM frame; NULL for a device-private
 * frame or no frame.
 */
struct page *pfn_to_page_contig(unsigned long pfn, unsigned long *nr);

static inline uint32_t page_gen(const struct page *page)
{
	return secmmu_atomic_load(&((struct page *)page)->gen, SECMMU_MO_SEQ_CST);
}

/**
 * page_gen_valid() - is a translation (pfn, gen) taken earlier still good?
 *
 * False if the frame has been freed (and maybe reallocated) since @gen was
 * read: a secondary MMU that still uses it has missed an invalidation.
 */
bool page_gen_valid(unsigned long pfn, uint32_t gen);

/**
 * folio_gen_valid() - is a huge translation taken earlier still good for
 * its 4 KiB piece @idx?
 * @head_pfn: the first frame of the 2 MiB translation (the folio's head)
 * @gen: page_gen() of the head when the translation was taken
 *
 * True while the head has that generation and frame @head_pfn + @idx is
 * still a page of that folio: a folio freed, or split (a split sends an
 * invalidation over the folio first), makes every huge translation of it
 * stale.
 */
bool folio_gen_valid(unsigned long head_pfn, uint32_t gen, unsigned long idx);

/* Counters of stale-translation detections (see page_gen_valid users). */
void phys_report_stale(unsigned long pfn, const char *who);
unsigned long phys_stale_count(void);
/*
 * The path that freed the frame of the last stale translation a device used,
 * when that path named itself (phys_set_free_path()); NULL otherwise.
 */
const char *phys_stale_path(void);
/*
 * Name the primary-MMU path the calling thread runs (a static string, or
 * NULL): frames it frees remember it, and a device caught using one of them
 * afterwards names it. Return: the previous name, to restore.
 */
const char *phys_set_free_path(const char *path);

/**
 * phys_set_reclaim_hook() - install the function alloc_page() calls when
 * no frame is free. It should free frames and return how many it freed.
 */
void phys_set_reclaim_hook(unsigned long (*reclaim)(unsigned long nr_wanted));

SECMMU_END_DECLS

#endif /* SECMMU_PAGE_H */
