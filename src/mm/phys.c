// SPDX-License-Identifier: MIT
/*
 * Physical memory: one real arena of page frames and a struct page per frame.
 *
 * The free list is a LIFO stack of pfns under one mutex (LOCK_RANK_PHYS): a
 * freed frame is the first to be reused, which is the worst case for a
 * secondary MMU that kept a stale translation -- and so the best case for
 * catching one. Every allocation bumps page->gen; a translation recorded as
 * (pfn, gen) is stale as soon as the frame is freed (page_gen_valid()).
 *
 * Runs: frames freed in ascending order (a zap walks up) lie on the stack
 * with the highest on top, so plain pops would hand a new buffer its frames
 * in descending order and no two neighbours would be contiguous (a DMA copies
 * one contiguous run at a time). So an allocation takes, from the top of
 * the stack, the lowest frame of the ascending run that ends there (at most
 * PHYS_RUN_WINDOW deep: the top itself when it was freed alone, so the frame
 * freed last is still the first reused); and a thread that allocates again
 * with no free in between takes the frame after its previous one if that is
 * free and among the top PHYS_RUN_WINDOW of the stack (freed lately).
 *
 * Large folios: free_pos[] remembers where each free pfn sits in the stack
 * and block_free[] how many frames of each HPAGE_PMD_NR block are free, so
 * alloc_thp_folio() finds a wholly free aligned block by counting and takes
 * its frames out of the stack one by one (each swapped with the top).
 *
 * The zero page (pfn 0) is reserved: never allocated, never freed, not
 * counted as used. Read faults on private anonymous memory map it, as Linux
 * maps ZERO_PAGE.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "base/alloc.h"
#include "base/debug.h"
#include "base/lock.h"
#include "mm/internal.h"
#include "mm/swap_internal.h"
#include "secmmu/swap.h"
#include "secmmu/page.h"

#define ARENA_ALIGN (2UL << 20) /* the host's PMD size, as HPAGE_PMD_SIZE here */

struct phys_mem {
	unsigned char *arena;
	struct page *pages;
	unsigned long nr_frames;
	unsigned long *free_stack;
	unsigned long nr_free;	    /* under lock */
	unsigned long *free_pos;    /* pfn -> index in free_stack + 1, 0 if not free; under lock */
	unsigned short *block_free; /* free frames per HPAGE_PMD_NR block; under lock */
	unsigned long nr_blocks;
	unsigned long nr_frees; /* frames ever pushed; under lock */
	struct sm_mutex lock;
	unsigned long (*reclaim)(unsigned long nr_wanted);
	_Atomic unsigned long stale;
	const char *_Atomic stale_path; /* freed_by of the last stale frame */
};

/* The path this thread runs, for page->freed_by (phys_set_free_path()). */
static _Thread_local const char *free_path;

/* How deep in the free stack an ascending run is looked for (see the top). */
#define PHYS_RUN_WINDOW 64

/* The frame this thread took last, and phys.nr_frees then (pick_free_pfn()). */
static _Thread_local unsigned long last_pfn, last_nr_frees;

static struct phys_mem phys;
static _Atomic bool phys_ready;

static void page_reset(struct page *page)
{
	atomic_store(&page->_refcount, 0);
	atomic_store(&page->_mapcount, 0);
	atomic_store(&page->_pincount, 0);
	atomic_store(&page->flags, 0);
	page->mapping = NULL;
	page->index = 0;
	set_page_private(page, 0);
	page->lru_next = page->lru_prev = NULL;
	atomic_store(&page->compound_head, NULL);
	atomic_store(&page->_entire_mapcount, 0);
	page->compound_order = 0;
	page->deferred_next = NULL;
}

/* Push @pfn on the free stack. Under phys.lock. */
static void free_stack_push(unsigned long pfn)
{
	BUG_ON(phys.nr_free >= phys.nr_frames || phys.free_pos[pfn]);
	phys.free_stack[phys.nr_free++] = pfn;
	phys.nr_frees++;
	phys.free_pos[pfn] = phys.nr_free;
	phys.block_free[pfn >> HPAGE_PMD_ORDER]++;
}

/* Take @pfn (which is free) out of the stack. Under phys.lock. */
static void free_stack_remove(unsigned long pfn)
{
	unsigned long idx = phys.free_pos[pfn] - 1, top = phys.free_stack[phys.nr_free - 1];

	BUG_ON(!phys.free_pos[pfn]);
	phys.free_stack[idx] = top;
	phys.free_pos[top] = idx + 1;
	phys.nr_free--;
	phys.free_pos[pfn] = 0;
	phys.block_free[pfn >> HPAGE_PMD_ORDER]--;
}

/*
 * The frames' memory: one private anonymous mapping, aligned to 2 MiB and
 * advised to be backed by 2 MiB pages, as the kernel's direct map is mapped
 * with large pages. A copy through page_address() of frames scattered over
 * the arena (a device's DMA, swap I/O, a CPU access) then misses the TLB once
 * per 2 MiB instead of once per frame; with 4 KiB pages the misses were a
 * quarter of a mirror transfer's time (docs/performance.md, dma_copy).
 * Private, not shared: a forked process (a test's child) gets a copy of
 * physical memory instead of writing its parent's.
 *
 * Return: the arena, @bytes long, or NULL (no address space for it).
 */
static unsigned char *arena_map(size_t bytes)
{
	size_t len = bytes + ARENA_ALIGN;
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uintptr_t start, end;

	if (p == MAP_FAILED)
		return NULL;
	start = ((uintptr_t)p + ARENA_ALIGN - 1) & ~(uintptr_t)(ARENA_ALIGN - 1);
	end = start + bytes;
	if (start > (uintptr_t)p)
		munmap(p, start - (uintptr_t)p);
	if ((uintptr_t)p + len > end)
		munmap((void *)end, (uintptr_t)p + len - end);
	/* Advice only: where the host has no THP, the arena is merely slower. */
	madvise((void *)start, bytes, MADV_HUGEPAGE);
	return (unsigned char *)start;
}

int phys_init(size_t bytes)
{
	unsigned long n;

	if (atomic_load(&phys_ready))
		return -EBUSY;
	if (!bytes || bytes % PAGE_SIZE || bytes / PAGE_SIZE < 16 || bytes > (64UL << 30))
		return -EINVAL;
	n = bytes / PAGE_SIZE;
	phys.arena = arena_map(bytes);
	if (!phys.arena)
		return -ENOMEM;
	phys.pages = kcalloc(n, sizeof(*phys.pages));
	phys.free_stack = kcalloc(n, sizeof(*phys.free_stack));
	phys.free_pos = kcalloc(n, sizeof(*phys.free_pos));
	phys.nr_blocks = (n + HPAGE_PMD_NR - 1) >> HPAGE_PMD_ORDER;
	phys.block_free = kcalloc(phys.nr_blocks, sizeof(*phys.block_free));
	if (!phys.pages || !phys.free_stack || !phys.free_pos || !phys.block_free)
		goto err;
	phys.nr_frames = n;
	phys.nr_free = 0;
	for (unsigned long pfn = n; pfn-- > 1;)
		free_stack_push(pfn);
	/* pfn 0 is the zero page. */
	atomic_store(&phys.pages[0]._refcount, 1);
	atomic_store(&phys.pages[0].flags, 1UL << PG_reserved);
	phys.stale = 0;
	phys.stale_path = NULL;
	phys.reclaim = NULL;
	sm_mutex_init(&phys.lock, "phys_lock", LOCK_RANK_PHYS);
	atomic_store(&phys_ready, true);
	return 0;
err:
	kfree(phys.pages);
	kfree(phys.free_stack);
	kfree(phys.free_pos);
	kfree(phys.block_free);
	munmap(phys.arena, bytes);
	memset(&phys, 0, sizeof(phys));
	return -ENOMEM;
}

unsigned long phys_exit(void)
{
	unsigned long leaked;

	if (!atomic_load(&phys_ready))
		return 0;
	leaked = phys_used_frames();
	if (leaked) {
		/*
		 * Refuse: frames in use are still reachable from global state
		 * (the LRU, the swap cache, KSM, shared objects); freeing the
		 * struct page array under them would let the next user of
		 * physical memory write freed memory.
		 */
		fprintf(stderr, "secmmu: phys_exit: %lu frames still in use: kept\n", leaked);
		return leaked;
	}
	atomic_store(&phys_ready, false);
	sm_mutex_destroy(&phys.lock);
	munmap(phys.arena, phys.nr_frames * PAGE_SIZE);
	kfree(phys.pages);
	kfree(phys.free_stack);
	kfree(phys.free_pos);
	kfree(phys.block_free);
	memset(&phys, 0, sizeof(phys));
	return leaked;
}

bool phys_initialized(void)
{
	return atomic_load(&phys_ready);
}

unsigned long phys_total_frames(void)
{
	return phys.nr_frames ? phys.nr_frames - 1 : 0;
}

unsigned long phys_free_frames(void)
{
	unsigned long n;

	if (!phys_initialized())
		return 0;
	sm_mutex_lock(&phys.lock);
	n = phys.nr_free;
	sm_mutex_unlock(&phys.lock);
	return n;
}

unsigned long phys_used_frames(void)
{
	return phys_total_frames() - phys_free_frames();
}

unsigned long phys_pinned_frames(void)
{
	unsigned long n = 0;

	for (unsigned long pfn = 1; pfn < phys.nr_frames; pfn++)
		if (atomic_load(&phys.pages[pfn]._pincount) > 0)
			n++;
	return n;
}

unsigned long phys_total_pins(void)
{
	unsigned long n = 0;

	for (unsigned long pfn = 1; pfn < phys.nr_frames; pfn++)
		n += (unsigned long)atomic_load(&phys.pages[pfn]._pincount);
	return n;
}

void phys_set_reclaim_hook(unsigned long (*reclaim)(unsigned long nr_wanted))
{
	phys.reclaim = reclaim;
}

/*
 * The free frame the next allocation of this thread takes (see "Runs" at
 * the top). Caller holds phys.lock; the stack is not empty.
 */
static unsigned long pick_free_pfn(void)
{
	unsigned long top = phys.nr_free - 1, next = last_pfn + 1, i;

	if (last_pfn && last_nr_frees == phys.nr_frees && next < phys.nr_frames &&
	    phys.free_pos[next] && phys.free_pos[next] + PHYS_RUN_WINDOW > phys.nr_free)
		return next;
	for (i = top; i > 0 && top - i < PHYS_RUN_WINDOW; i--)
		if (phys.free_stack[i - 1] + 1 != phys.free_stack[i])
			break;
	return phys.free_stack[i];
}

static struct page *take_free_frame(void)
{
	struct page *page = NULL;

	sm_mutex_lock(&phys.lock);
	if (phys.nr_free) {
		unsigned long pfn = pick_free_pfn();

		page = &phys.pages[pfn];
		free_stack_remove(pfn);
		last_pfn = pfn;
		last_nr_frees = phys.nr_frees;
	}
	sm_mutex_unlock(&phys.lock);
	if (!page)
		return NULL;
	BUG_ON(page_ref_count(page) != 0);
	page_reset(page);
	atomic_fetch_add(&page->gen, 1);
	atomic_store(&page->_refcount, 1);
	return page;
}

struct page *alloc_page_noreclaim(void)
{
	if (!phys_initialized())
		return NULL;
	return take_free_frame();
}

struct page *alloc_page(void)
{
	struct page *page = alloc_page_noreclaim();

	/* Out of frames: reclaim (swap out cold pages), then try once more. */
	/* Two passes at least: the first may only age young pages. */
	for (int tries = 0; !page && tries < 4; tries++) {
		unsigned long freed = phys.reclaim ? phys.reclaim(32) : try_to_free_pages(32);

		if (!freed && tries >= 1)
			break;
		page = alloc_page_noreclaim();
	}
	if (page)
		memset(page_address(page), 0, PAGE_SIZE);
	return page;
}

struct page *alloc_thp_folio(void)
{
	unsigned long block, base;
	struct page *head;

	if (!phys_initialized())
		return NULL;
	sm_mutex_lock(&phys.lock);
	/* Block 0 holds the zero page: never wholly free. */
	for (block = 1; block < phys.nr_blocks; block++)
		if (phys.block_free[block] == HPAGE_PMD_NR)
			break;
	if (block >= phys.nr_blocks) {
		sm_mutex_unlock(&phys.lock);
		return NULL;
	}
	base = block << HPAGE_PMD_ORDER;
	for (unsigned long i = 0; i < HPAGE_PMD_NR; i++)
		free_stack_remove(base + i);
	sm_mutex_unlock(&phys.lock);
	head = &phys.pages[base];
	for (unsigned long i = 0; i < HPAGE_PMD_NR; i++) {
		struct page *page = head + i;

		BUG_ON(atomic_load(&page->_refcount) != 0);
		page_reset(page);
		atomic_fetch_add(&page->gen, 1);
		if (i)
			atomic_store_explicit(&page->compound_head, head, memory_order_release);
	}
	head->compound_order = HPAGE_PMD_ORDER;
	atomic_store(&head->flags, 1UL << PG_head);
	atomic_store(&head->_refcount, 1);
	memset(page_address(head), 0, HPAGE_PMD_SIZE);
	return head;
}

/*
 * folio_try_get() and the check after it: a tail's folio may be split
 * (split_folio()) between compound_head() and the increment, which then
 * went to the former head; give it back and try on the page itself. A
 * folio being split has its refcount frozen at 0: no reference then.
 */
bool get_page_unless_zero(struct page *page)
{
	for (;;) {
		struct page *head = compound_head(page);
		int old = atomic_load(&head->_refcount);

		while (old > 0 && !atomic_compare_exchange_weak(&head->_refcount, &old, old + 1))
			;
		if (old <= 0)
			return false;
		if (compound_head(page) == head)
			return true;
		put_page(head); /* not the folio of @page any more */
	}
}

static void free_frame(struct page *page);

/* The last reference to a large folio is gone: every frame goes back. */
static void free_folio(struct page *head)
{
	unsigned long pfn = page_to_pfn(head);

	BUG_ON(atomic_load(&head->_entire_mapcount) != 0);
	BUG_ON(atomic_load(&head->_pincount) != 0);
	if (PageTest(head, PG_lru))
		lru_del_freed(head);
	if (PageTest(head, PG_deferred_split))
		deferred_split_del(head);
	for (unsigned long i = 0; i < HPAGE_PMD_NR; i++) {
		struct page *page = head + i;

		BUG_ON(atomic_load(&page->_mapcount) != 0);
		atomic_fetch_add(&page->gen, 1);
		atomic_store(&page->flags, 0);
		page->mapping = NULL;
		atomic_store(&page->compound_head, NULL);
	}
	head->compound_order = 0;
	if (sm_debug)
		memset(page_address(head), PAGE_POISON_BYTE, HPAGE_PMD_SIZE);
	sm_mutex_lock(&phys.lock);
	for (unsigned long i = 0; i < HPAGE_PMD_NR; i++)
		free_stack_push(pfn + i);
	sm_mutex_unlock(&phys.lock);
}

static void free_frame(struct page *page)
{
	unsigned long pfn = page_to_pfn(page);

	if (PageTest(page, PG_head)) {
		free_folio(page);
		return;
	}
	BUG_ON(page_mapcount(page) != 0);
	BUG_ON(atomic_load(&page->_pincount) != 0);
	BUG_ON(PageTest(page, PG_swapcache)); /* the cache holds a reference */
	if (PageTest(page, PG_lru))
		lru_del_freed(page);
	/* A translation taken before this point is stale from now on. */
	atomic_fetch_add(&page->gen, 1);
	WRITE_ONCE(page->freed_by, free_path);
	if (sm_debug)
		memset(page_address(page), PAGE_POISON_BYTE, PAGE_SIZE);
	atomic_store(&page->flags, 0);
	page->mapping = NULL;
	sm_mutex_lock(&phys.lock);
	free_stack_push(pfn);
	sm_mutex_unlock(&phys.lock);
}

void put_page_refs(struct page *page, int nr)
{
	int old;

	if (is_device_private_page(page)) {
		old = atomic_fetch_sub_explicit(&page->_refcount, nr, memory_order_acq_rel);
		BUG_ON(old < nr);
		if (old == nr)
			device_page_free(page);
		/*
		 * A device page's struct page outlives its references (the pgmap
		 * owns it): a driver evicting its memory waits on it for the
		 * references of a fault or migration in flight to go (the fsdax
		 * put_devmap_managed_page() wake-up's role).
		 */
		sm_wake_up_var(&page->flags);
		return;
	}

	page = compound_head(page);
	if (PageTest(page, PG_reserved)) {
		atomic_fetch_sub(&page->_refcount, nr); /* the zero page is never freed */
		return;
	}
	old = atomic_fetch_sub_explicit(&page->_refcount, nr, memory_order_acq_rel);
	BUG_ON(old < nr); /* refcount underflow */
	if (old == nr)
		free_frame(page);
}

void put_page(struct page *page)
{
	put_page_refs(page, 1);
}

void copy_frame_data(void *dst, const void *src, size_t n)
{
	racy_read_begin();
	memcpy(dst, src, n);
	racy_read_end();
}

void *page_address(const struct page *page)
{
	if (is_device_private_page(page))
		return device_page_address(page);
	return phys.arena + (size_t)page_to_pfn(page) * PAGE_SIZE;
}

unsigned long page_to_pfn(const struct page *page)
{
	if (is_device_private_page(page))
		return device_page_to_pfn(page);
	return (unsigned long)(page - phys.pages);
}

bool pfn_valid(unsigned long pfn)
{
	if (device_pfn(pfn))
		return device_pfn_to_page(pfn) != NULL;
	return phys_initialized() && pfn < phys.nr_frames;
}

struct page *pfn_to_page(unsigned long pfn)
{
	if (device_pfn(pfn))
		return device_pfn_to_page(pfn);
	return phys_initialized() && pfn < phys.nr_frames ? &phys.pages[pfn] : NULL;
}

struct page *pfn_to_page_contig(unsigned long pfn, unsigned long *nr)
{
	struct page *page = device_pfn(pfn) ? NULL : pfn_to_page(pfn);

	*nr = page ? phys.nr_frames - pfn : 0;
	return page;
}

struct page *zero_page(void)
{
	return &phys.pages[0];
}

bool page_gen_valid(unsigned long pfn, uint32_t gen)
{
	struct page *page = pfn_to_page(pfn);

	return page && page_gen(page) == gen;
}

bool folio_gen_valid(unsigned long head_pfn, uint32_t gen, unsigned long idx)
{
	struct page *head = pfn_to_page(head_pfn), *page;

	if (!head || idx >= HPAGE_PMD_NR || page_gen(head) != gen || !PageTest(head, PG_head))
		return false;
	page = pfn_to_page(head_pfn + idx);
	return page && compound_head(page) == head;
}

void phys_report_stale(unsigned long pfn, const char *who)
{
	struct page *page = pfn_to_page(pfn);
	const char *path = page ? READ_ONCE(page->freed_by) : NULL;

	atomic_store(&phys.stale_path, path);
	atomic_fetch_add(&phys.stale, 1);
	fprintf(stderr, "secmmu: %s used a stale translation of pfn %lu%s%s\n", who, pfn,
		path ? ", freed by " : "", path ? path : "");
}

const char *phys_stale_path(void)
{
	return atomic_load(&phys.stale_path);
}

const char *phys_set_free_path(const char *path)
{
	const char *old = free_path;

	free_path = path;
	return old;
}

unsigned long phys_stale_count(void)
{
	return atomic_load(&phys.stale);
}
