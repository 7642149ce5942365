// SPDX-License-Identifier: MIT
/*
 * The mirroring device. See include/secmmu/mirror.h.
 *
 * Locking and references:
 *   m->lock (LOCK_RANK_DRIVER_MMU)   the device page table (m->table,
 *                                    m->nr_entries); taken by the invalidate
 *                                    callback around mmu_interval_set_seq()
 *                                    and by the fault path around
 *                                    mmu_interval_read_retry(): the
 *                                    collision-retry pair
 *   m->notifier.mm                   mm_count, held by the inserted notifier
 *   DMA                              mmget_not_zero() for faults only; a
 *                                    transfer through an installed entry
 *                                    holds m->lock across the memcpy, so the
 *                                    invalidation (and the frame's free,
 *                                    which comes after it) waits for it
 *   m->dlock (LOCK_RANK_PHYS)        the free list of device memory
 *                                    (m->free_pages, m->nr_free); a leaf:
 *                                    ->page_free runs wherever the last
 *                                    put_page() of a device page runs
 *
 * Device memory (dmirror's half of lib/test_hmm.c): m->pgmap is a range of
 * device-private pages owned by this device (owner cookie: m itself). The
 * device page table maps a page of a process either to a system frame or to
 * one of its own device pages ("local"). Pages move with migrate_vma_*():
 * mirror_migrate_to_device()/_to_system(), a CPU fault (->migrate_to_ram),
 * and eviction when the device goes away. A migration's own invalidations
 * (MMU_NOTIFY_MIGRATE with this device as owner) are honoured like any
 * other: in this model a migration moves every mapping of a page through
 * the reverse map -- including mappings in other processes (a fork child)
 * whose translations this device may hold -- so skipping them, as dmirror
 * does, could keep a translation of a freed device page.
 */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "secmmu/kit/lock.h"
#include "secmmu/kit/alloc.h"
#include "secmmu/kit/thread.h"
#include "secmmu/kit/wait.h"
#include "secmmu/err.h"
#include "secmmu/hmm.h"
#include "secmmu/migrate.h"
#include "secmmu/mirror.h"
#include "secmmu/mmu_notifier.h"
#include "secmmu/trace.h"

#define MIRROR_BUCKETS	     4096
#define MIRROR_FAULT_RETRIES 10000
#define MIRROR_FAULT_CHUNK   64 /* pages per hmm_range_fault() call */
#define MIRROR_DEVMEM_PAGES  MIRROR_DEVMEM_DEFAULT

struct mirror_entry {
	struct mirror_entry *next;
	unsigned long vpn;
	unsigned long pfn;
	uint32_t gen;
	bool write;
	bool accessed;	/* the device used it since the last aging pass */
	bool exclusive; /* make_device_exclusive(): the CPU has no access meanwhile */
};

enum dma_op {
	DMA_READ,
	DMA_WRITE,
	DMA_STOP
};

struct dma_request {
	enum dma_op op;
	unsigned long addr;
	void *buf;
	size_t len;
	int ret;
	_Atomic bool done;
	struct dma_request *next;
};

struct mirror {
	struct mmu_interval_notifier notifier;
	struct mmu_notifier aging; /* classic subscription for the young callbacks only */
	unsigned int flags;
	struct sm_mutex lock;
	struct mirror_entry *table[MIRROR_BUCKETS];
	unsigned long nr_entries;
	_Atomic unsigned long nr_invalidations;
	_Atomic unsigned long nr_stale;
	_Atomic unsigned long nr_faults; /* device fault calls (each may fill many pages) */
	_Atomic unsigned long nr_cpages; /* pages copied by DMA, migrated, made exclusive */

	struct dev_pagemap pgmap; /* device memory; owner = this device */
	struct sm_mutex dlock;
	struct page **free_pages; /* under dlock */
	unsigned long nr_free;	  /* under dlock */

	struct sm_thread engine;
	struct sm_mutex qlock; /* LOCK_RANK_WORKQ: @queue, @qtail */
	struct sm_waitq qcond; /* a request queued or done */
	struct dma_request *queue, **qtail;
	_Atomic unsigned int pending; /* queued requests: a hint for spinning */
	struct mirror *live_next;     /* mirror_live; under mirror_live_lock */
};

/*
 * Every created, not yet destroyed device, under mirror_live_lock (a leaf):
 * mirror_destroy() recognises a device destroyed already without touching it.
 */
static struct mirror *mirror_live;
static struct sm_mutex mirror_live_lock;
static pthread_once_t mirror_live_once = PTHREAD_ONCE_INIT;

static void mirror_live_init(void)
{
	sm_mutex_init(&mirror_live_lock, "mirror_live_lock", LOCK_RANK_LEAF);
}

static void mirror_live_add(struct mirror *m)
{
	pthread_once(&mirror_live_once, mirror_live_init);
	sm_mutex_lock(&mirror_live_lock);
	m->live_next = mirror_live;
	mirror_live = m;
	sm_mutex_unlock(&mirror_live_lock);
}

/* Return: true if @m was live (and is now off the list). */
static bool mirror_live_del(struct mirror *m)
{
	struct mirror **pp;
	bool found;

	pthread_once(&mirror_live_once, mirror_live_init);
	sm_mutex_lock(&mirror_live_lock);
	for (pp = &mirror_live; *pp && *pp != m; pp = &(*pp)->live_next)
		;
	found = *pp != NULL;
	if (found)
		*pp = m->live_next;
	sm_mutex_unlock(&mirror_live_lock);
	return found;
}

/*
 * Hand-offs between a submitter and the engine spin a little before they
 * sleep: a condition-variable wake-up costs tens of microseconds, more than
 * a megabyte of DMA, and back-to-back requests are the common case.
 */
#define MIRROR_SPIN 4000

static void cpu_relax(void)
{
	__builtin_ia32_pause();
}

static unsigned long bucket_of(unsigned long vpn)
{
	return (vpn * 0x9e3779b97f4a7c15ULL) >> 52;
}

static struct mirror_entry *table_find(struct mirror *m, unsigned long vpn)
{
	struct mirror_entry *e;

	lockdep_assert_held(&m->lock);
	for (e = m->table[bucket_of(vpn)]; e; e = e->next)
		if (e->vpn == vpn)
			return e;
	return NULL;
}

static void table_remove_vpn(struct mirror *m, unsigned long vpn)
{
	struct mirror_entry **pp = &m->table[bucket_of(vpn)], *e;

	for (; (e = *pp); pp = &e->next) {
		if (e->vpn == vpn) {
			*pp = e->next;
			kfree(e);
			m->nr_entries--;
			return;
		}
	}
}

/* Drop every translation of [start, end). Caller holds m->lock. */
static void table_zap(struct mirror *m, unsigned long start, unsigned long end)
{
	unsigned long svpn = start >> PAGE_SHIFT, evpn = (end - 1) >> PAGE_SHIFT;

	lockdep_assert_held(&m->lock);
	if (!m->nr_entries)
		return;
	if (evpn - svpn < MIRROR_BUCKETS) {
		for (unsigned long v = svpn; v <= evpn; v++)
			table_remove_vpn(m, v);
		return;
	}
	for (int b = 0; b < MIRROR_BUCKETS; b++) {
		struct mirror_entry **pp = &m->table[b], *e;

		while ((e = *pp)) {
			if (e->vpn >= svpn && e->vpn <= evpn) {
				*pp = e->next;
				kfree(e);
				m->nr_entries--;
			} else {
				pp = &e->next;
			}
		}
	}
}

static int table_install(struct mirror *m, unsigned long vpn, unsigned long hmm_pfn, uint32_t gen,
			 bool exclusive)
{
	struct mirror_entry *e = table_find(m, vpn);

	if (!e) {
		e = kzalloc(sizeof(*e));
		if (!e)
			return -ENOMEM;
		e->vpn = vpn;
		e->next = m->table[bucket_of(vpn)];
		m->table[bucket_of(vpn)] = e;
		m->nr_entries++;
	}
	e->pfn = hmm_pfn_to_pfn(hmm_pfn);
	e->write = hmm_pfn & HMM_PFN_WRITE;
	e->gen = gen;
	e->exclusive = exclusive;
	return 0;
}

/*
 * The invalidate callback. May sleep when the range is blockable; otherwise
 * it only trylocks and reports failure rather than wait.
 */
static bool mirror_invalidate(struct mmu_interval_notifier *sub,
			      const struct mmu_notifier_range *range, unsigned long cur_seq)
{
	struct mirror *m = container_of(sub, struct mirror, notifier);

	if (mmu_notifier_range_blockable(range))
		sm_mutex_lock(&m->lock);
	else if (!sm_mutex_trylock(&m->lock))
		return false;
	/* Pairs with mmu_interval_read_retry() in mirror_fault(), under the same lock. */
	mmu_interval_set_seq(sub, cur_seq);
	atomic_fetch_add(&m->nr_invalidations, 1);
	if (!(m->flags & MIRROR_BROKEN))
		table_zap(m, range->start, range->end);
	sm_mutex_unlock(&m->lock);
	return true;
}

static const struct mmu_interval_notifier_ops mirror_notifier_ops = {
	.invalidate = mirror_invalidate,
};

/* Accessed bits of [start, end), cleared if @clear. Return: how many were set. */
static int mirror_age(struct mirror *m, unsigned long start, unsigned long end, bool clear)
{
	int young = 0;

	sm_mutex_lock(&m->lock);
	for (unsigned long v = start >> PAGE_SHIFT; v <= (end - 1) >> PAGE_SHIFT; v++) {
		struct mirror_entry *e = table_find(m, v);

		if (e && e->accessed) {
			young++;
			if (clear)
				e->accessed = false;
		}
	}
	sm_mutex_unlock(&m->lock);
	return young;
}

/*
 * Aging callbacks: reclaim asks whether the device used a page lately, so a
 * page the device keeps using is not evicted under it. They take m->lock
 * briefly and never wait for anything else.
 */
static int mirror_clear_flush_young(struct mmu_notifier *mn, struct mm_struct *mm,
				    unsigned long start, unsigned long end)
{
	(void)mm;
	return mirror_age(container_of(mn, struct mirror, aging), start, end, true);
}

static int mirror_test_young(struct mmu_notifier *mn, struct mm_struct *mm, unsigned long addr)
{
	(void)mm;
	return mirror_age(container_of(mn, struct mirror, aging), addr, addr + PAGE_SIZE, false);
}

static const struct mmu_notifier_ops mirror_aging_ops = {
	.clear_flush_young = mirror_clear_flush_young,
	.clear_young = mirror_clear_flush_young,
	.test_young = mirror_test_young,
};

/* The end of the chunk of [addr, end) one hmm_range_fault() call covers. */
static unsigned long mirror_chunk_end(unsigned long addr, unsigned long end)
{
	return end - addr > MIRROR_FAULT_CHUNK * PAGE_SIZE ? addr + MIRROR_FAULT_CHUNK * PAGE_SIZE
							   : end;
}

/*
 * mirror_range_fault_lock() - hmm_range_fault() of @range (at most
 * MIRROR_FAULT_CHUNK pages) with the interval-notifier collision retry, as
 * dmirror_range_fault() does.
 *
 * Caller holds mm_users of the notifier's mm and no lock. Return: 0 with
 * m->lock held and no invalidation of @range since the fault (the caller
 * consumes range->hmm_pfns, then unlocks); -EBUSY after MIRROR_FAULT_RETRIES
 * collisions; or hmm_range_fault()'s error (no lock held). May sleep.
 */
static int mirror_range_fault_lock(struct mirror *m, struct hmm_range *range)
{
	struct mm_struct *mm = m->notifier.mm;
	int ret = -EBUSY;

	for (int tries = 0; tries < MIRROR_FAULT_RETRIES; tries++) {
		range->notifier_seq = mmu_interval_read_begin(&m->notifier);
		memset(range->hmm_pfns, 0, MIRROR_FAULT_CHUNK * sizeof(*range->hmm_pfns));
		mmap_read_lock(mm);
		ret = hmm_range_fault(range);
		mmap_read_unlock(mm);
		if (ret == -EBUSY)
			continue;
		if (ret)
			return ret;
		sm_mutex_lock(&m->lock);
		if (!mmu_interval_read_retry(&m->notifier, range->notifier_seq))
			return 0;
		sm_mutex_unlock(&m->lock);
		ret = -EBUSY;
	}
	return ret;
}

/*
 * A device page fault: fill the translations of [start, end) through
 * hmm_range_fault(), MIRROR_FAULT_CHUNK pages at a time, as dmirror does.
 * Device pages of this device are mapped as they are; any other device's
 * come back to system memory first.
 */
static int mirror_fault(struct mirror *m, unsigned long start, unsigned long end, bool write)
{
	struct mm_struct *mm = m->notifier.mm;
	unsigned long hmm_pfns[MIRROR_FAULT_CHUNK];
	uint32_t gens[MIRROR_FAULT_CHUNK];
	struct hmm_range range = {
		.notifier = &m->notifier,
		.hmm_pfns = hmm_pfns,
		.hmm_gens = gens,
		.default_flags = HMM_PFN_REQ_FAULT | (write ? HMM_PFN_REQ_WRITE : 0),
		.dev_private_owner = m,
	};
	int ret = 0;
	TRACE_SCOPE("mirror", "device_fault", "addr=0x%lx pages=%lu write=%d", start,
		    (end - start) >> PAGE_SHIFT, write);

	if (!mmget_not_zero_tracked(mm, m, "mirror fault"))
		return -ESRCH; /* the address space has exited */
	atomic_fetch_add(&m->nr_faults, 1);
	for (unsigned long addr = start; addr < end && !ret; addr = range.end) {
		range.start = addr;
		range.end = mirror_chunk_end(addr, end);
		ret = mirror_range_fault_lock(m, &range);
		if (ret)
			break;
		for (unsigned long i = 0; !ret && i < (range.end - addr) >> PAGE_SHIFT; i++)
			ret = table_install(m, (addr >> PAGE_SHIFT) + i, hmm_pfns[i], gens[i],
					    false);
		sm_mutex_unlock(&m->lock);
	}
	mmput_tracked(mm, m, "mirror fault"); /* Pairs with mmget_not_zero() above. */
	return ret == -EBUSY ? -EAGAIN : ret;
}

/*
 * Copy through the installed translation of @addr, if there is a usable one.
 * Caller holds m->lock (so an invalidation of the page waits for the copy).
 * Return: 0 copied, -ENOENT no usable translation, -EIO stale translation.
 */
static int mirror_copy_locked(struct mirror *m, unsigned long addr, void *buf, size_t len,
			      bool write)
{
	struct mirror_entry *e = table_find(m, addr >> PAGE_SHIFT);
	char *frame;

	if (!e || (write && !e->write))
		return -ENOENT;
	if (!page_gen_valid(e->pfn, e->gen)) {
		atomic_fetch_add(&m->nr_stale, 1);
		phys_report_stale(e->pfn, "mirror");
		return -EIO;
	}
	frame = (char *)page_address(pfn_to_page(e->pfn)) + (addr & (PAGE_SIZE - 1));
	if (write)
		copy_frame_data(frame, buf, len);
	else
		copy_frame_data(buf, frame, len);
	e->accessed = true;
	return 0;
}

/*
 * The transfer, page by page under one hold of m->lock for as long as the
 * translations are there; a missing one is faulted in with the lock dropped.
 */
static int mirror_dma(struct mirror *m, unsigned long addr, void *buf, size_t len, bool write)
{
	int ret = 0, faults = 0;
	TRACE_SCOPE("mirror", write ? "dma_write" : "dma_read", "addr=0x%lx len=%zu", addr, len);

	if (addr + len < addr || addr + len > TASK_SIZE)
		return -EFAULT;
	sm_mutex_lock(&m->lock);
	while (len) {
		size_t chunk = PAGE_SIZE - (addr & (PAGE_SIZE - 1));

		if (chunk > len)
			chunk = len;
		ret = mirror_copy_locked(m, addr, buf, chunk, write);
		if (ret == -ENOENT) {
			unsigned long page = addr & PAGE_MASK;

			sm_mutex_unlock(&m->lock);
			/* The rest of the request at once; then only this page, for a precise
			 * error. */
			ret = faults++ < MIRROR_FAULT_RETRIES
				      ? mirror_fault(m, page, PAGE_ALIGN(addr + len), write)
				      : -EAGAIN;
			if (ret && ret != -EAGAIN && ret != -ESRCH &&
			    PAGE_ALIGN(addr + len) - page > PAGE_SIZE)
				ret = mirror_fault(m, page, page + PAGE_SIZE, write);
			sm_mutex_lock(&m->lock);
			if (ret && ret != -EAGAIN)
				break;
			if (faults > MIRROR_FAULT_RETRIES)
				break;
			continue; /* retry the copy of this page */
		}
		if (ret)
			break;
		faults = 0;
		if (((addr + chunk) & (PAGE_SIZE - 1)) == 0 || chunk == len)
			atomic_fetch_add(&m->nr_cpages, 1);
		addr += chunk;
		buf = (char *)buf + chunk;
		len -= chunk;
	}
	sm_mutex_unlock(&m->lock);
	return ret;
}

/* The DMA engine: a real thread executing queued transfers in order. */
static void *mirror_engine(void *arg)
{
	struct mirror *m = arg;

	for (;;) {
		struct dma_request *req;
		enum dma_op op;

		for (int spin = 0; sm_may_spin() && spin < MIRROR_SPIN && !atomic_load(&m->pending);
		     spin++)
			cpu_relax();
		sm_mutex_lock(&m->qlock);
		sm_wait_event(&m->qcond, &m->qlock, m->queue);
		req = m->queue;
		m->queue = req->next;
		if (!m->queue)
			m->qtail = &m->queue;
		atomic_fetch_sub(&m->pending, 1);
		sm_mutex_unlock(&m->qlock);

		op = req->op;
		if (op == DMA_STOP)
			req->ret = 0;
		else
			req->ret = mirror_dma(m, req->addr, req->buf, req->len, op == DMA_WRITE);
		/* @req lives on the submitter's stack: not to be touched once done. */
		sm_mutex_lock(&m->qlock);
		atomic_store_explicit(&req->done, true, memory_order_release);
		sm_wake_up_all(&m->qcond); /* Pairs with the wait in mirror_submit(). */
		sm_mutex_unlock(&m->qlock);
		if (op == DMA_STOP)
			return NULL;
	}
}

static int mirror_submit(struct mirror *m, enum dma_op op, unsigned long addr, void *buf,
			 size_t len)
{
	struct dma_request req = {.op = op, .addr = addr, .buf = buf, .len = len};

	sm_mutex_lock(&m->qlock);
	*m->qtail = &req;
	m->qtail = &req.next;
	atomic_fetch_add(&m->pending, 1);
	sm_wake_up_all(&m->qcond); /* Pairs with the wait in mirror_engine(). */
	sm_mutex_unlock(&m->qlock);
	/* Pairs with the release store of done by the engine: req.ret is visible. */
	for (int spin = 0; sm_may_spin() && spin < MIRROR_SPIN; spin++) {
		if (atomic_load_explicit(&req.done, memory_order_acquire))
			return req.ret;
		cpu_relax();
	}
	sm_mutex_lock(&m->qlock);
	sm_wait_event(&m->qcond, &m->qlock, atomic_load(&req.done));
	sm_mutex_unlock(&m->qlock);
	return req.ret;
}

int mirror_read(struct mirror *m, unsigned long addr, void *buf, size_t len)
{
	return mirror_submit(m, DMA_READ, addr, buf, len);
}

int mirror_write(struct mirror *m, unsigned long addr, const void *buf, size_t len)
{
	return mirror_submit(m, DMA_WRITE, addr, (void *)buf, len);
}

/* --- device memory ------------------------------------------------------------ */

static unsigned long device_pages_in_use(struct mirror *m);

static struct mirror *pgmap_to_mirror(struct dev_pagemap *pgmap)
{
	return container_of(pgmap, struct mirror, pgmap);
}

/* A free device page with a reference, or NULL when device memory is exhausted. */
static struct page *devmem_alloc(struct mirror *m)
{
	struct page *page = NULL;

	sm_mutex_lock(&m->dlock);
	if (m->nr_free)
		page = m->free_pages[--m->nr_free];
	sm_mutex_unlock(&m->dlock);
	if (page)
		zone_device_page_init(page);
	return page;
}

/* ->page_free: the last reference to one of our pages is gone. */
static void mirror_devmem_free(struct page *page)
{
	struct mirror *m = pgmap_to_mirror(page_pgmap(page));

	sm_mutex_lock(&m->dlock);
	m->free_pages[m->nr_free++] = page;
	sm_mutex_unlock(&m->dlock);
}

/* The device-page side of a migration to system memory: new frames, copies. */
static void devmem_alloc_and_copy_to_ram(unsigned long *src, unsigned long *dst,
					 unsigned long npages)
{
	for (unsigned long i = 0; i < npages; i++) {
		struct page *dpage = migrate_pfn_to_page(src[i]), *spage;

		dst[i] = 0;
		if (!dpage || !(src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		spage = alloc_page();
		if (!spage)
			continue; /* stays on the device */
		copy_frame_data(page_address(spage), page_address(dpage), PAGE_SIZE);
		dst[i] = migrate_pfn(page_to_pfn(spage));
	}
}

/*
 * Move [start, end) of @vma from this device's memory to system memory.
 * Caller holds mmap_lock for read. @fault_page: the page of a CPU fault.
 * Return: 0, -EINVAL, -ENOMEM (no system frame: the pages stay).
 */
static int devmem_migrate_to_ram(struct mirror *m, struct vm_area_struct *vma, unsigned long start,
				 unsigned long end, struct page *fault_page, unsigned long *moved)
{
	unsigned long src[MIRROR_FAULT_CHUNK], dst[MIRROR_FAULT_CHUNK];
	struct migrate_vma args = {
		.vma = vma,
		.src = src,
		.dst = dst,
		.start = start,
		.end = end,
		.pgmap_owner = m,
		.flags = MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
		.fault_page = fault_page,
	};
	int ret = migrate_vma_setup(&args);

	if (ret)
		return ret;
	devmem_alloc_and_copy_to_ram(src, dst, args.npages);
	migrate_vma_pages(&args);
	for (unsigned long i = 0; i < args.npages; i++) {
		if ((src[i] & MIGRATE_PFN_MIGRATE) && dst[i])
			(*moved)++;
		else if (src[i] & MIGRATE_PFN_MIGRATE)
			ret = -ENOMEM;
	}
	migrate_vma_finalize(&args);
	return ret;
}

/* ->migrate_to_ram: a CPU touched one of our pages (in any process). */
static int mirror_devmem_fault(struct vm_fault *vmf)
{
	struct mirror *m = pgmap_to_mirror(page_pgmap(vmf->page));
	unsigned long moved = 0;
	TRACE_SCOPE("mirror", "migrate_to_ram", "addr=0x%lx", vmf->address);

	return devmem_migrate_to_ram(m, vmf->vma, vmf->address, vmf->address + PAGE_SIZE, vmf->page,
				     &moved);
}

static const struct dev_pagemap_ops mirror_devmem_ops = {
	.page_free = mirror_devmem_free,
	.migrate_to_ram = mirror_devmem_fault,
};

/*
 * Evict every page of our device memory, wherever it is mapped (the device
 * is going away). Pages another migration holds at this instant are tried
 * again; a page that never frees is reported by memunmap_pages().
 */
static void devmem_evict(struct mirror *m)
{
	unsigned long src[MIRROR_FAULT_CHUNK], dst[MIRROR_FAULT_CHUNK];

	for (int round = 0; round < 100 && device_pages_in_use(m); round++) {
		for (unsigned long off = 0; off < m->pgmap.nr_pages; off += MIRROR_FAULT_CHUNK) {
			unsigned long n = m->pgmap.nr_pages - off;

			if (n > MIRROR_FAULT_CHUNK)
				n = MIRROR_FAULT_CHUNK;
			if (migrate_device_range(src, m->pgmap.pfn_first + off, n))
				break;
			devmem_alloc_and_copy_to_ram(src, dst, n);
			migrate_device_pages(src, dst, n);
			migrate_device_finalize(src, dst, n);
		}
		if (device_pages_in_use(m))
			sched_yield(); /* a CPU fault or migration held a page: go round again */
	}
}

static unsigned long device_pages_in_use(struct mirror *m)
{
	unsigned long used;

	sm_mutex_lock(&m->dlock);
	used = m->pgmap.nr_pages - m->nr_free;
	sm_mutex_unlock(&m->dlock);
	return used;
}

static int devmem_init(struct mirror *m, unsigned long nr_pages)
{
	int ret;

	sm_mutex_init(&m->dlock, "mirror->dlock", LOCK_RANK_PHYS);
	m->pgmap.type = MEMORY_DEVICE_PRIVATE;
	m->pgmap.nr_pages = nr_pages;
	m->pgmap.ops = &mirror_devmem_ops;
	m->pgmap.owner = m;
	m->free_pages = kcalloc(nr_pages, sizeof(*m->free_pages));
	if (!m->free_pages)
		return -ENOMEM;
	ret = memremap_pages(&m->pgmap);
	if (ret) {
		kfree(m->free_pages);
		return ret;
	}
	/* LIFO: the first page out is the lowest. */
	for (unsigned long i = nr_pages; i-- > 0;)
		m->free_pages[m->nr_free++] = &m->pgmap.pages[i];
	return 0;
}

static void devmem_exit(struct mirror *m)
{
	devmem_evict(m);
	memunmap_pages(&m->pgmap);
	kfree(m->free_pages);
	sm_mutex_destroy(&m->dlock);
}

/* --- migration, exclusive access, snapshots (dmirror's ioctls) ---------------- */

/* System pages (and empty anonymous ones) of the range: new device pages, copies. */
static unsigned long devmem_alloc_and_copy(struct mirror *m, struct migrate_vma *args, int *err)
{
	unsigned long n = 0;

	for (unsigned long i = 0; i < args->npages; i++) {
		struct page *spage = migrate_pfn_to_page(args->src[i]), *dpage;

		if (!(args->src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		dpage = devmem_alloc(m);
		if (!dpage) {
			*err = -ENOMEM; /* device memory is exhausted: the rest stays */
			break;
		}
		if (spage)
			copy_frame_data(page_address(dpage), page_address(spage), PAGE_SIZE);
		else
			memset(page_address(dpage), 0, PAGE_SIZE);
		args->dst[i] = migrate_pfn(page_to_pfn(dpage));
		if ((args->src[i] & MIGRATE_PFN_WRITE) ||
		    (!spage && (args->vma->vm_flags & VM_WRITE)))
			args->dst[i] |= MIGRATE_PFN_WRITE;
		n++;
	}
	return n;
}

/*
 * Map the pages that moved in the device page table, before
 * migrate_vma_finalize(): until then the CPU PTEs are migration entries and
 * the pages locked, so nothing can move them back under us (a later
 * invalidation zaps what we install here, as always).
 */
static void devmem_map_migrated(struct mirror *m, struct migrate_vma *args)
{
	sm_mutex_lock(&m->lock);
	for (unsigned long i = 0; i < args->npages; i++) {
		struct page *dpage = migrate_pfn_to_page(args->dst[i]);
		unsigned long addr = args->start + (i << PAGE_SHIFT);

		if (!dpage || !(args->src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		if (!table_install(m, addr >> PAGE_SHIFT,
				   page_to_pfn(dpage) | HMM_PFN_VALID |
					   (args->dst[i] & MIGRATE_PFN_WRITE ? HMM_PFN_WRITE : 0),
				   page_gen(dpage), false))
			atomic_fetch_add(&m->nr_cpages, 1);
	}
	sm_mutex_unlock(&m->lock);
}

/* Is every page of [start, end) in this device's memory (per its page table)? */
static bool range_on_device(struct mirror *m, unsigned long start, unsigned long end)
{
	bool all = true;

	sm_mutex_lock(&m->lock);
	for (unsigned long a = start; a < end && all; a += PAGE_SIZE) {
		struct mirror_entry *e = table_find(m, a >> PAGE_SHIFT);
		struct page *page = e ? pfn_to_page(e->pfn) : NULL;

		all = page && is_device_private_page(page) && page_pgmap(page) == &m->pgmap;
	}
	sm_mutex_unlock(&m->lock);
	return all;
}

static int check_range(unsigned long addr, size_t len)
{
	if (!PAGE_ALIGNED(addr) || !len || !PAGE_ALIGNED(len) || addr + len < addr ||
	    addr + len > TASK_SIZE)
		return -EINVAL;
	return 0;
}

int mirror_migrate_to_device(struct mirror *m, unsigned long addr, size_t len)
{
	struct mm_struct *mm = m->notifier.mm;
	unsigned long src[MIRROR_FAULT_CHUNK], dst[MIRROR_FAULT_CHUNK];
	unsigned long end = addr + len, next;
	int ret = check_range(addr, len), err = 0;
	TRACE_SCOPE("mirror", "migrate_to_device", "addr=0x%lx len=%zu", addr, len);

	if (ret)
		return ret;
	if (!mmget_not_zero_tracked(mm, m, "mirror fault"))
		return -ESRCH;
	mmap_read_lock(mm);
	for (; addr < end && !ret && !err; addr = next) {
		struct vm_area_struct *vma = vma_lookup(mm, addr);
		struct migrate_vma args = {
			.src = src,
			.dst = dst,
			.pgmap_owner = m,
			.flags = MIGRATE_VMA_SELECT_SYSTEM,
		};

		if (!vma || !(vma->vm_flags & VM_READ)) {
			ret = -EINVAL;
			break;
		}
		next = end - addr > MIRROR_FAULT_CHUNK * PAGE_SIZE
			       ? addr + MIRROR_FAULT_CHUNK * PAGE_SIZE
			       : end;
		if (next > vma->vm_end)
			next = vma->vm_end;
		args.vma = vma;
		args.start = addr;
		args.end = next;
		ret = migrate_vma_setup(&args);
		if (ret)
			break;
		devmem_alloc_and_copy(m, &args, &err);
		migrate_vma_pages(&args);
		devmem_map_migrated(m, &args);
		migrate_vma_finalize(&args);
	}
	mmap_read_unlock(mm);
	mmput_tracked(mm, m, "mirror fault"); /* Pairs with mmget_not_zero() above. */
	if (ret || err)
		return ret ? ret : err;
	/* As dmirror's read-back: every page must now be in our memory. */
	return range_on_device(m, end - len, end) ? 0 : -ENOENT;
}

int mirror_migrate_to_system(struct mirror *m, unsigned long addr, size_t len)
{
	struct mm_struct *mm = m->notifier.mm;
	unsigned long end = addr + len, next, moved = 0;
	int ret = check_range(addr, len);
	TRACE_SCOPE("mirror", "migrate_to_system", "addr=0x%lx len=%zu", addr, len);

	if (ret)
		return ret;
	if (!mmget_not_zero_tracked(mm, m, "mirror fault"))
		return -ESRCH;
	mmap_read_lock(mm);
	for (; addr < end && !ret; addr = next) {
		struct vm_area_struct *vma = vma_lookup(mm, addr);

		if (!vma || !(vma->vm_flags & VM_READ)) {
			ret = -EINVAL;
			break;
		}
		next = end - addr > MIRROR_FAULT_CHUNK * PAGE_SIZE
			       ? addr + MIRROR_FAULT_CHUNK * PAGE_SIZE
			       : end;
		if (next > vma->vm_end)
			next = vma->vm_end;
		ret = devmem_migrate_to_ram(m, vma, addr, next, NULL, &moved);
	}
	mmap_read_unlock(mm);
	mmput_tracked(mm, m, "mirror fault"); /* Pairs with mmget_not_zero() above. */
	atomic_fetch_add(&m->nr_cpages, moved);
	return ret;
}

int mirror_exclusive(struct mirror *m, unsigned long addr, size_t len)
{
	struct mm_struct *mm = m->notifier.mm;
	unsigned long end = addr + len;
	int ret = check_range(addr, len);
	TRACE_SCOPE("mirror", "exclusive", "addr=0x%lx len=%zu", addr, len);

	if (ret)
		return ret;
	if (!mmget_not_zero_tracked(mm, m, "mirror fault"))
		return -ESRCH;
	mmap_read_lock(mm);
	for (; addr < end; addr += PAGE_SIZE) {
		struct page *page = make_device_exclusive(mm, addr, m);

		if (IS_ERR(page)) {
			ret = PTR_ERR(page);
			break;
		}
		/*
		 * The page is locked: a CPU fault that would take our access away
		 * waits for it, so the entry goes in before its invalidation.
		 */
		sm_mutex_lock(&m->lock);
		ret = table_install(m, addr >> PAGE_SHIFT,
				    page_to_pfn(page) | HMM_PFN_VALID | HMM_PFN_WRITE,
				    page_gen(page), true);
		sm_mutex_unlock(&m->lock);
		unlock_page(page);
		put_page(page); /* Pairs with make_device_exclusive()'s reference. */
		if (ret)
			break;
		atomic_fetch_add(&m->nr_cpages, 1);
	}
	mmap_read_unlock(mm);
	mmput_tracked(mm, m, "mirror fault"); /* Pairs with mmget_not_zero() above. */
	return ret;
}

static unsigned char snapshot_prot(struct mirror *m, unsigned long addr, unsigned long hmm_pfn)
{
	struct mirror_entry *e;
	struct page *page;

	if (hmm_pfn & HMM_PFN_ERROR)
		return MIRROR_PROT_ERROR;
	if (!(hmm_pfn & HMM_PFN_VALID)) {
		/* Not visible to the CPU: maybe because we hold it exclusively. */
		e = table_find(m, addr >> PAGE_SHIFT);
		return e && e->exclusive ? MIRROR_PROT_EXCLUSIVE | MIRROR_PROT_WRITE
					 : MIRROR_PROT_NONE;
	}
	page = pfn_to_page(hmm_pfn_to_pfn(hmm_pfn));
	if (page && is_device_private_page(page))
		return (page_pgmap(page) == &m->pgmap ? MIRROR_PROT_DEV_PRIVATE_LOCAL
						      : MIRROR_PROT_DEV_PRIVATE_REMOTE) |
		       (hmm_pfn & HMM_PFN_WRITE ? MIRROR_PROT_WRITE : MIRROR_PROT_READ);
	if (hmm_pfn_to_pfn(hmm_pfn) == 0) /* the zero page */
		return MIRROR_PROT_ZERO | MIRROR_PROT_READ;
	return hmm_pfn & HMM_PFN_WRITE ? MIRROR_PROT_WRITE : MIRROR_PROT_READ;
}

int mirror_snapshot(struct mirror *m, unsigned long addr, size_t len, struct mirror_snap *snap)
{
	struct mm_struct *mm = m->notifier.mm;
	unsigned long hmm_pfns[MIRROR_FAULT_CHUNK];
	struct hmm_range range = {
		.notifier = &m->notifier,
		.hmm_pfns = hmm_pfns,
		.dev_private_owner = m,
	};
	unsigned long end = addr + len;
	int ret = check_range(addr, len);

	if (ret)
		return ret;
	if (!mmget_not_zero_tracked(mm, m, "mirror fault"))
		return -ESRCH;
	for (unsigned long a = addr; a < end && !ret; a = range.end) {
		range.start = a;
		range.end = mirror_chunk_end(a, end);
		ret = mirror_range_fault_lock(m, &range);
		if (ret)
			break;
		for (unsigned long i = 0; i < (range.end - a) >> PAGE_SHIFT; i++) {
			struct mirror_snap *out = &snap[((a - addr) >> PAGE_SHIFT) + i];

			out->prot = snapshot_prot(m, a + (i << PAGE_SHIFT), hmm_pfns[i]);
			out->order =
				hmm_pfns[i] & HMM_PFN_VALID ? hmm_pfn_to_map_order(hmm_pfns[i]) : 0;
		}
		sm_mutex_unlock(&m->lock);
	}
	mmput_tracked(mm, m, "mirror fault"); /* Pairs with mmget_not_zero() above. */
	if (!ret)
		atomic_fetch_add(&m->nr_cpages, len >> PAGE_SHIFT);
	return ret == -EBUSY ? -EAGAIN : ret;
}

struct mirror *mirror_create_devmem(struct mm_struct *mm, unsigned int flags,
				    unsigned long device_pages)
{
	return mirror_create_named(mm, flags, device_pages, NULL);
}

struct mirror *mirror_create_named(struct mm_struct *mm, unsigned int flags,
				   unsigned long device_pages, const char *name)
{
	struct mirror *m;
	int ret;

	if ((flags & ~MIRROR_BROKEN) || !device_pages || device_pages > DEV_PAGEMAP_MAX_PAGES)
		return ERR_PTR(-EINVAL);
	m = kzalloc(sizeof(*m));
	if (!m)
		return ERR_PTR(-ENOMEM);
	m->flags = flags;
	sm_mutex_init(&m->lock, "mirror->lock", LOCK_RANK_DRIVER_MMU);
	ret = devmem_init(m, device_pages);
	if (ret) {
		sm_mutex_destroy(&m->lock);
		sm_mutex_destroy(&m->dlock);
		kfree(m);
		return ERR_PTR(ret);
	}
	sm_mutex_init(&m->qlock, "mirror->qlock", LOCK_RANK_WORKQ);
	sm_waitq_init(&m->qcond, "mirror->qcond");
	m->qtail = &m->queue;
	mmu_interval_notifier_set_owner(&m->notifier, m);
	mmu_notifier_set_owner(&m->aging, m);
	ret = mmu_interval_notifier_insert(&m->notifier, mm, MMAP_MIN_ADDR,
					   TASK_SIZE - MMAP_MIN_ADDR, &mirror_notifier_ops);
	if (ret)
		goto err_free;
	m->aging.ops = &mirror_aging_ops;
	ret = mmu_notifier_register(&m->aging, mm);
	if (ret)
		goto err_remove;
	ret = sm_thread_create(&m->engine, mirror_engine, m, "mirror%s%s dma", name ? " " : "",
			       name ? name : "");
	if (ret)
		goto err_unregister;
	mirror_live_add(m);
	return m;

err_unregister:
	mmu_notifier_unregister(&m->aging, mm);
err_remove:
	mmu_interval_notifier_remove(&m->notifier);
err_free:
	sm_waitq_destroy(&m->qcond);
	sm_mutex_destroy(&m->qlock);
	devmem_exit(m);
	sm_mutex_destroy(&m->lock);
	kfree(m);
	return ERR_PTR(ret);
}

struct mirror *mirror_create(struct mm_struct *mm, unsigned int flags)
{
	return mirror_create_devmem(mm, flags, MIRROR_DEVMEM_PAGES);
}

void mirror_destroy(struct mirror *m)
{
	/* API misuse: destroyed already (or never created): @m may be freed. */
	if (WARN_ON_ONCE(!m || !mirror_live_del(m)))
		return;
	mirror_submit(m, DMA_STOP, 0, NULL, 0);
	sm_thread_join(&m->engine);
	/* Our memory goes away: every page on it comes back first (the notifier still zaps). */
	devmem_evict(m);
	mmu_notifier_unregister(&m->aging, m->notifier.mm);
	/* Waits for a running invalidate callback; none comes after it. */
	mmu_interval_notifier_remove(&m->notifier);
	sm_mutex_lock(&m->lock);
	table_zap(m, 0, ~0UL);
	sm_mutex_unlock(&m->lock);
	sm_waitq_destroy(&m->qcond);
	sm_mutex_destroy(&m->qlock);
	devmem_exit(m);
	sm_mutex_destroy(&m->lock);
	kfree(m);
}

unsigned long mirror_nr_entries(struct mirror *m)
{
	unsigned long n;

	sm_mutex_lock(&m->lock);
	n = m->nr_entries;
	sm_mutex_unlock(&m->lock);
	return n;
}

unsigned long mirror_nr_invalidations(struct mirror *m)
{
	return atomic_load(&m->nr_invalidations);
}

unsigned long mirror_nr_stale(struct mirror *m)
{
	return atomic_load(&m->nr_stale);
}

unsigned long mirror_nr_faults(struct mirror *m)
{
	return atomic_load(&m->nr_faults);
}

unsigned long mirror_nr_cpages(struct mirror *m)
{
	return atomic_load(&m->nr_cpages);
}

unsigned long mirror_device_pages(struct mirror *m)
{
	return device_pages_in_use(m);
}
