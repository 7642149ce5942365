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
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "secmmu/kit/bugs.h"
#include "secmmu/kit/lock.h"
#include "secmmu/kit/alloc.h"
#include "secmmu/kit/thread.h"
#include "secmmu/kit/wait.h"
#include "secmmu/err.h"
#include "secmmu/gup.h"
#include "secmmu/hmm.h"
#include "secmmu/migrate.h"
#include "secmmu/mirror.h"
#include "secmmu/mmu_notifier.h"
#include "secmmu/trace.h"

#define MIRROR_BUCKETS	    4096
#define MIRROR_FAULT_CHUNK  64 /* pages per hmm_range_fault() call */
#define MIRROR_DEVMEM_PAGES MIRROR_DEVMEM_DEFAULT

/*
 * A huge entry translates the 2 MiB at vpn (aligned) where the CPU mapping
 * is a PMD (hmm_pfn_to_map_order() == HPAGE_PMD_ORDER): pfn is the folio's
 * head, gen the head's generation (folio_gen_valid()). It is hashed under
 * HUGE_KEY(vpn), so a 4 KiB entry and a huge one never collide.
 */
#define HUGE_NR	       HPAGE_PMD_NR
#define HUGE_KEY(v)    ((v) | (1UL << 63))
#define KEY_IS_HUGE(k) (((k) >> 63) != 0)
#define KEY_VPN(k)     ((k) & ~(1UL << 63))

struct mirror_entry {
	struct mirror_entry *next;
	unsigned long vpn; /* the hash key: a vpn, or HUGE_KEY(aligned vpn) */
	unsigned long pfn;
	uint32_t gen;
	bool write;
	bool accessed;	/* the device used it since the last aging pass */
	bool exclusive; /* make_device_exclusive(): the CPU has no access meanwhile */
};

#define MIRROR_LOCK_PAGES 16

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
	unsigned long nr_huge; /* huge entries (counted in nr_entries too); under lock */
	_Atomic unsigned long nr_invalidations;
	_Atomic unsigned long nr_stale;
	_Atomic unsigned long nr_lost_faults;	/* CPU faults whose page could not move back */
	_Atomic unsigned long nr_locked_faults; /* DMA that found a locked page unmapped */

	/*
	 * mirror_lock(): [lock_start, lock_end) must stay mapped in the device
	 * until mirror_unlock(); DMA there never faults. lock_pages: the pins
	 * that keep it so. All under m->lock.
	 */
	unsigned long lock_start, lock_end;
	struct page *lock_pages[MIRROR_LOCK_PAGES];
	unsigned long lock_npages;
	_Atomic unsigned long nr_faults; /* device fault calls (each may fill many pages) */
	_Atomic unsigned long nr_cpages; /* pages copied by DMA, migrated, made exclusive */

	struct dev_pagemap pgmap; /* device memory; owner = this device */
	struct sm_mutex dlock;
	struct page **free_pages;      /* under dlock */
	_Atomic unsigned long nr_free; /* written under dlock; read without by devmem_evict() */

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

/* The entry translating @vpn: its own 4 KiB one, else the huge one of its 2 MiB. */
static struct mirror_entry *table_find_any(struct mirror *m, unsigned long vpn)
{
	struct mirror_entry *e = table_find(m, vpn);

	if (!e && m->nr_huge)
		e = table_find(m, HUGE_KEY(vpn & ~(HUGE_NR - 1)));
	return e;
}

static void table_unlink(struct mirror *m, struct mirror_entry **pp)
{
	struct mirror_entry *e = *pp;

	*pp = e->next;
	if (KEY_IS_HUGE(e->vpn))
		m->nr_huge--;
	kfree(e);
	m->nr_entries--;
}

static void table_remove_vpn(struct mirror *m, unsigned long vpn)
{
	struct mirror_entry **pp = &m->table[bucket_of(vpn)], *e;

	for (; (e = *pp); pp = &e->next) {
		if (e->vpn == vpn) {
			table_unlink(m, pp);
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
		for (unsigned long v = svpn; v <= evpn; v++) {
			table_remove_vpn(m, v);
			/* A huge entry goes whole, even if the range covers only part of it. */
			if (m->nr_huge && (v == svpn || !(v & (HUGE_NR - 1))))
				table_remove_vpn(m, HUGE_KEY(v & ~(HUGE_NR - 1)));
		}
		return;
	}
	for (int b = 0; b < MIRROR_BUCKETS; b++) {
		struct mirror_entry **pp = &m->table[b], *e;

		while ((e = *pp)) {
			unsigned long first = KEY_VPN(e->vpn);
			unsigned long last = first + (KEY_IS_HUGE(e->vpn) ? HUGE_NR - 1 : 0);

			if (last >= svpn && first <= evpn)
				table_unlink(m, pp);
			else
				pp = &e->next;
		}
	}
}

/*
 * Record the huge translation of the 2 MiB around @vpn, whose hmm_pfn says
 * the CPU maps it with a PMD; the 4 KiB entries under it go. Caller holds
 * m->lock after a successful mmu_interval_read_retry() (so the folio is
 * still mapped: its head's generation can be read).
 */
static int table_install_huge(struct mirror *m, unsigned long vpn, unsigned long hmm_pfn)
{
	unsigned long hvpn = vpn & ~(HUGE_NR - 1);
	unsigned long head = hmm_pfn_to_pfn(hmm_pfn) - (vpn - hvpn);
	struct mirror_entry *e = table_find(m, HUGE_KEY(hvpn));

	if (!e) {
		e = kzalloc(sizeof(*e));
		if (!e)
			return -ENOMEM;
		for (unsigned long v = hvpn; v < hvpn + HUGE_NR && m->nr_entries; v++)
			table_remove_vpn(m, v);
		e->vpn = HUGE_KEY(hvpn);
		e->next = m->table[bucket_of(e->vpn)];
		m->table[bucket_of(e->vpn)] = e;
		m->nr_entries++;
		m->nr_huge++;
	}
	e->pfn = head;
	e->write = hmm_pfn & HMM_PFN_WRITE;
	e->gen = page_gen(pfn_to_page(head));
	e->exclusive = false;
	return 0;
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
		struct mirror_entry *e = table_find_any(m, v);

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
 * A collision (-EBUSY from hmm_range_fault(), or mmu_interval_read_retry())
 * always follows an invalidation of the range, and the next
 * mmu_interval_read_begin() sleeps until that invalidation ended: every
 * retry waited for the event that caused it, so there is no retry count (no
 * amount of load or reclaim turns a collision into an error).
 *
 * Caller holds mm_users of the notifier's mm and no lock. Return: 0 with
 * m->lock held and no invalidation of @range since the fault (the caller
 * consumes range->hmm_pfns, then unlocks); or hmm_range_fault()'s error (no
 * lock held). May sleep.
 */
static int mirror_range_fault_lock(struct mirror *m, struct hmm_range *range)
{
	int ret;

	for (;;) {
		range->notifier_seq = mmu_interval_read_begin(&m->notifier);
		memset(range->hmm_pfns, 0, MIRROR_FAULT_CHUNK * sizeof(*range->hmm_pfns));
		/* Per-VMA locks: mprotect/munmap elsewhere in the mm do not stall it. */
		ret = hmm_range_fault_unlocked(range);
		if (ret == -EBUSY)
			continue;
		if (ret)
			return ret;
		sm_mutex_lock(&m->lock);
		if (!mmu_interval_read_retry(&m->notifier, range->notifier_seq))
			return 0;
		sm_mutex_unlock(&m->lock);
	}
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
		for (unsigned long i = 0; !ret && i < (range.end - addr) >> PAGE_SHIFT; i++) {
			unsigned long vpn = (addr >> PAGE_SHIFT) + i;

			/* One entry per 2 MiB the CPU maps with a PMD: at its first page here. */
			if ((hmm_pfns[i] & HMM_PFN_VALID) &&
			    hmm_pfn_to_map_order(hmm_pfns[i]) == HPAGE_PMD_ORDER) {
				if (i == 0 || !(vpn & (HUGE_NR - 1)))
					ret = table_install_huge(m, vpn, hmm_pfns[i]);
			} else {
				ret = table_install(m, vpn, hmm_pfns[i], gens[i], false);
			}
		}
		sm_mutex_unlock(&m->lock);
	}
	mmput_tracked(mm, m, "mirror fault"); /* Pairs with mmget_not_zero() above. */
	return ret;
}

/*
 * Copy through the installed translation of @addr, if there is a usable one.
 * Caller holds m->lock (so an invalidation of the page waits for the copy).
 * Return: 0 copied, -ENOENT no usable translation, -EIO stale translation.
 */
static int mirror_copy_locked(struct mirror *m, unsigned long addr, void *buf, size_t len,
			      bool write)
{
	unsigned long vpn = addr >> PAGE_SHIFT, pfn;
	struct mirror_entry *e = table_find_any(m, vpn);
	bool valid;
	char *frame;

	if (!e || (write && !e->write))
		return -ENOENT;
	if (KEY_IS_HUGE(e->vpn)) {
		valid = folio_gen_valid(e->pfn, e->gen, vpn & (HUGE_NR - 1));
		pfn = e->pfn + (vpn & (HUGE_NR - 1));
	} else {
		valid = page_gen_valid(e->pfn, e->gen);
		pfn = e->pfn;
	}
	if (!valid) {
		atomic_fetch_add(&m->nr_stale, 1);
		phys_report_stale(pfn, "mirror");
		return -EIO;
	}
	frame = (char *)page_address(pfn_to_page(pfn)) + (addr & (PAGE_SIZE - 1));
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
 * A translation faulted in and gone again before the copy was invalidated
 * meanwhile (m->lock orders the two): the copy of that page faults again,
 * without a count -- the next fault's read_begin waits out the invalidation.
 */
static int mirror_dma(struct mirror *m, unsigned long addr, void *buf, size_t len, bool write)
{
	int ret = 0;
	TRACE_SCOPE("mirror", write ? "dma_write" : "dma_read", "addr=0x%lx len=%zu", addr, len);

	if (addr + len < addr || addr + len > TASK_SIZE)
		return -EFAULT;
	sm_mutex_lock(&m->lock);
	while (len) {
		size_t chunk = PAGE_SIZE - (addr & (PAGE_SIZE - 1));

		if (chunk > len)
			chunk = len;
		ret = mirror_copy_locked(m, addr, buf, chunk, write);
		if (ret == -ENOENT && addr >= m->lock_start && addr < m->lock_end) {
			/* A locked range: the copy engine takes no retry fault there. */
			atomic_fetch_add(&m->nr_locked_faults, 1);
			ret = -EFAULT;
			break;
		}
		if (ret == -ENOENT) {
			unsigned long page = addr & PAGE_MASK;

			sm_mutex_unlock(&m->lock);
			/* The rest of the request at once; then only this page, for a precise
			 * error. */
			ret = mirror_fault(m, page, PAGE_ALIGN(addr + len), write);
			if (ret && ret != -ESRCH && PAGE_ALIGN(addr + len) - page > PAGE_SIZE)
				ret = mirror_fault(m, page, page + PAGE_SIZE, write);
			sm_mutex_lock(&m->lock);
			if (ret)
				break;
			continue; /* retry the copy of this page */
		}
		if (ret)
			break;
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
	sm_wake_up_var(&m->nr_free); /* Pairs with the wait in devmem_evict(). */
}

/*
 * The device-page side of a migration to system memory: new frames, copies.
 * Return: how many collected pages stay on the device (no system frame).
 */
static unsigned long devmem_alloc_and_copy_to_ram(unsigned long *src, unsigned long *dst,
						  unsigned long npages)
{
	unsigned long stay = 0;

	for (unsigned long i = 0; i < npages; i++) {
		struct page *dpage = migrate_pfn_to_page(src[i]), *spage;

		dst[i] = 0;
		if (!dpage || !(src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		spage = alloc_page();
		if (!spage) {
			stay++; /* stays on the device */
			continue;
		}
		copy_frame_data(page_address(spage), page_address(dpage), PAGE_SIZE);
		dst[i] = migrate_pfn(page_to_pfn(spage));
	}
	return stay;
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
	/*
	 * The faulting page could not be isolated: someone else holds a
	 * reference (another CPU fault that took one before the page lock);
	 * the fault retries. Counted, because enough faulting threads make it
	 * a livelock (the museum's devmem-fault-ref-before-lock).
	 */
	if (fault_page && args.npages && !(src[0] & MIGRATE_PFN_MIGRATE)) {
		atomic_fetch_add(&m->nr_lost_faults, 1);
	}
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
 * Is @page (one of our device pages) settled: unlocked and referenced by its
 * mappings only (free: no reference, no mapping), so that a migration can
 * collect it? Reads atomics only: the condition of a wait on @page->flags,
 * which unlock_page() and every put_page() of a device page wake.
 */
static bool devmem_page_settled(const struct page *page)
{
	return !PageTest(page, PG_locked) && page_ref_count(page) == page_mapcount(page);
}

/* Device pages not on the free list, read without m->dlock (a wait's condition). */
static unsigned long device_pages_in_use_racy(struct mirror *m)
{
	return m->pgmap.nr_pages - atomic_load(&m->nr_free);
}

/* A device page somebody still references, or NULL. */
static struct page *devmem_busy_page(struct mirror *m)
{
	for (unsigned long i = 0; i < m->pgmap.nr_pages; i++)
		if (page_ref_count(&m->pgmap.pages[i]))
			return &m->pgmap.pages[i];
	return NULL;
}

/*
 * Evict every page of our device memory, wherever it is mapped (the device
 * is going away), as dmirror_device_evict_chunk() does, pass after pass
 * until none is left. A pass cannot collect a page that a CPU fault or a
 * migration holds at that instant (locked, or an extra reference): the next
 * pass comes after a wait until that page is settled (devmem_page_settled():
 * unlock_page() and put_page() wake it) -- a wait for the event, not a
 * retry count, so no amount of load leaves a page behind. A page left behind
 * for lack of system memory, or one that is settled and still not collected
 * twice in a row (nothing to wait for), stays: memunmap_pages() reports it.
 * Caller holds no lock. May sleep.
 */
static void devmem_evict(struct mirror *m)
{
	unsigned long src[MIRROR_FAULT_CHUNK], dst[MIRROR_FAULT_CHUNK];
	struct page *settled_before = NULL;

	for (;;) {
		unsigned long stay = 0, freed_seen = atomic_load(&m->nr_free);
		struct page *busy;

		for (unsigned long off = 0; off < m->pgmap.nr_pages; off += MIRROR_FAULT_CHUNK) {
			unsigned long n = m->pgmap.nr_pages - off;

			if (n > MIRROR_FAULT_CHUNK)
				n = MIRROR_FAULT_CHUNK;
			if (migrate_device_range(src, m->pgmap.pfn_first + off, n))
				return;
			stay += devmem_alloc_and_copy_to_ram(src, dst, n);
			migrate_device_pages(src, dst, n);
			migrate_device_finalize(src, dst, n);
		}
		if (!device_pages_in_use(m) || stay)
			return;
		busy = devmem_busy_page(m);
		if (!busy) {
			/* Only last references being dropped: wait for mirror_devmem_free(). */
			sm_wait_var_event(&m->nr_free, atomic_load(&m->nr_free) != freed_seen ||
							       !device_pages_in_use_racy(m));
			continue;
		}
		if (devmem_page_settled(busy)) {
			if (busy == settled_before)
				return; /* nothing to wait for: memunmap_pages() reports it */
			settled_before = busy; /* it settled after the pass saw it busy */
			continue;
		}
		settled_before = NULL;
		sm_wait_var_event(&busy->flags, devmem_page_settled(busy));
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
	return ret;
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
	mirror_unlock(m); /* -ENOENT if nothing is locked */
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

unsigned long mirror_nr_huge_entries(struct mirror *m)
{
	unsigned long n;

	sm_mutex_lock(&m->lock);
	n = m->nr_huge;
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

int mirror_lock(struct mirror *m, unsigned long addr, size_t len)
{
	struct page *pages[MIRROR_LOCK_PAGES];
	unsigned long npages = len >> PAGE_SHIFT;
	long pinned = 0;
	int ret;

	if (!len || (addr | len) & (PAGE_SIZE - 1) || addr + len < addr || addr + len > TASK_SIZE ||
	    npages > MIRROR_LOCK_PAGES)
		return -EINVAL;
	sm_mutex_lock(&m->lock);
	ret = m->lock_end ? -EBUSY : 0;
	sm_mutex_unlock(&m->lock);
	if (ret)
		return ret;
	/*
	 * Pinned, so that nothing but an unmap of the range invalidates it
	 * (migration, compaction, reclaim and KSM leave pinned pages alone).
	 * The museum's mirror-lock-not-pinned only registers the range.
	 */
	if (!historic_bug(BUG_MIRROR_LOCK_NOT_PINNED)) {
		struct mm_struct *mm = m->notifier.mm;

		if (!mmget_not_zero_tracked(mm, m, "mirror lock"))
			return -ESRCH;
		pinned = pin_user_pages_unlocked(mm, addr, npages, 0, pages);
		mmput_tracked(mm, m, "mirror lock");
		if (pinned < 0)
			return (int)pinned;
	}
	ret = mirror_fault(m, addr, addr + len, false);
	if (ret) {
		unpin_user_pages(pages, (unsigned long)pinned);
		return ret;
	}
	sm_mutex_lock(&m->lock);
	memcpy(m->lock_pages, pages, (size_t)pinned * sizeof(*pages));
	m->lock_npages = (unsigned long)pinned;
	m->lock_start = addr;
	m->lock_end = addr + len;
	sm_mutex_unlock(&m->lock);
	return 0;
}

int mirror_unlock(struct mirror *m)
{
	struct page *pages[MIRROR_LOCK_PAGES];
	unsigned long n;

	sm_mutex_lock(&m->lock);
	if (!m->lock_end) {
		sm_mutex_unlock(&m->lock);
		return -ENOENT;
	}
	n = m->lock_npages;
	memcpy(pages, m->lock_pages, n * sizeof(*pages));
	m->lock_npages = 0;
	m->lock_start = m->lock_end = 0;
	sm_mutex_unlock(&m->lock);
	unpin_user_pages(pages, n);
	return 0;
}

unsigned long mirror_locked_pages(struct mirror *m)
{
	unsigned long n = 0;

	sm_mutex_lock(&m->lock);
	/* A pin of the zero page takes no pin count (see pin_user_pages()). */
	for (unsigned long i = 0; i < m->lock_npages; i++)
		n += !PageTest(m->lock_pages[i], PG_reserved);
	sm_mutex_unlock(&m->lock);
	return n;
}

unsigned long mirror_nr_locked_faults(struct mirror *m)
{
	return atomic_load(&m->nr_locked_faults);
}

unsigned long mirror_nr_lost_faults(struct mirror *m)
{
	return atomic_load(&m->nr_lost_faults);
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
