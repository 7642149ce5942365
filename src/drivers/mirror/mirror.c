// SPDX-License-Identifier: MIT
/*
 * The mirroring device. See include/secmmu/mirror.h.
 *
 * THE DEVICE PAGE TABLE is a radix tree shaped like the CPU's: three levels
 * of 512-slot directories (bits 47..39, 38..30, 29..21 of the address) above
 * leaves that each map one naturally aligned 2 MiB. A leaf (struct
 * mirror_leaf) is also the unit of coherence: it carries its own interval
 * notifier over exactly its 2 MiB, its own lock, 512 4 KiB translations and
 * one huge (2 MiB) translation. Leaves are created lazily by the first
 * device fault (or migration, or exclusive access) that needs them, as
 * nouveau and amdgpu register an interval per range the device maps, and
 * live until mirror_destroy(): an interval is never removed from its own
 * callback. So an invalidation of one range reaches only the leaves it
 * overlaps, and a fault elsewhere is not retried because of it.
 *
 * Locking and references:
 *   leaf->lock (LOCK_RANK_DRIVER_MMU) the leaf's translations, nr_valid and
 *                                    ptes; taken by the leaf's invalidate
 *                                    callback around mmu_interval_set_seq()
 *                                    and by the fault path around
 *                                    mmu_interval_read_retry(): the
 *                                    collision-retry pair, per leaf
 *   leaf->notifier.mm                mm_count, held by the inserted interval
 *                                    (one per leaf), dropped by
 *                                    mmu_interval_notifier_remove() in
 *                                    mirror_destroy()
 *   m->lock (LOCK_RANK_DRIVER_MMU)   the directories' slots and m->leaves
 *                                    (writers only: a leaf is published with
 *                                    a release store after its interval is
 *                                    linked; lookups read the slots with
 *                                    acquire loads and no lock; nothing is
 *                                    freed before mirror_destroy()); the
 *                                    mirror_lock() range; never nested with
 *                                    a leaf lock
 *   m->aging.mm / m->mm              mm_count, held by the aging notifier
 *                                    until mirror_destroy()
 *   DMA                              mmget_not_zero() for faults only; a
 *                                    transfer through an installed entry
 *                                    holds its leaf's lock across the memcpy,
 *                                    so the invalidation (and the frame's
 *                                    free, which comes after it) waits for it
 *   m->dlock (LOCK_RANK_PHYS)        the free list of device memory
 *                                    (m->free_pages, m->nr_free); a leaf:
 *                                    ->page_free runs wherever the last
 *                                    put_page() of a device page runs
 *   m->queues[i].qlock (LOCK_RANK_WORKQ) a DMA queue's request list
 *   m->qsetup (LOCK_RANK_DRIVER)     starting a queue's engine thread
 *
 * DMA queues: up to MIRROR_QUEUES engine threads per device, each with its
 * own request list. A transfer goes to the least loaded queue (queue 0 when
 * idle), so transfers of different submitting threads run in parallel; each
 * submitter waits for its transfer, so its own transfers stay in order. The
 * engine of queue 0 starts with the device, the others on first use.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

#define MIRROR_FAULT_CHUNK  64 /* pages per hmm_range_fault() call */
#define MIRROR_DEVMEM_PAGES MIRROR_DEVMEM_DEFAULT
#define MIRROR_QUEUES	    4 /* DMA engines (queues) per device, at most */

/* The radix: 512-slot directories, leaves of HPAGE_PMD_NR pages (2 MiB). */
#define LEAF_PAGES HPAGE_PMD_NR
#define LEAF_SIZE  HPAGE_PMD_SIZE
#define LEAF_SHIFT (PAGE_SHIFT + HPAGE_PMD_ORDER)
#define DIR_BITS   9
#define DIR_SLOTS  (1U << DIR_BITS)
#define DIR_LEVELS 3 /* 21 + 3 * 9 = 48 bits > TASK_SIZE */

_Static_assert(LEAF_SHIFT + DIR_LEVELS * DIR_BITS >= 47, "the radix covers the user space");

/* mirror_pte.flags */
#define MPTE_VALID     0x1
#define MPTE_WRITE     0x2
#define MPTE_ACCESSED  0x4 /* the device used it since the last aging pass */
#define MPTE_EXCLUSIVE 0x8 /* make_device_exclusive(): the CPU has no access meanwhile */

/*
 * One translation: a 4 KiB page, or (a leaf's huge entry) the 2 MiB the CPU
 * maps with a PMD (hmm_pfn_to_map_order() == HPAGE_PMD_ORDER): then pfn is
 * the folio's head and gen the head's generation (folio_gen_valid()).
 */
struct mirror_pte {
	unsigned long pfn;
	uint32_t gen;
	uint8_t flags;
};

/*
 * struct mirror_leaf - 2 MiB of the device page table and its interval.
 * @notifier: over [base, base + LEAF_SIZE); holds mm_count while inserted
 * @m:        the device (no reference: the leaf dies with it)
 * @lock:     everything below but @next (LOCK_RANK_DRIVER_MMU)
 * @nr_valid: valid entries of @ptes
 * @huge:     the 2 MiB translation, if MPTE_VALID
 * @ptes:     LEAF_PAGES entries, allocated by the first 4 KiB install, freed
 *            when an unmap or the exit leaves none valid (NULL then)
 * @next:     m->leaves, under m->lock
 */
struct mirror_leaf {
	struct mmu_interval_notifier notifier;
	struct mirror *m;
	unsigned long base;
	struct sm_mutex lock;
	unsigned int nr_valid;
	struct mirror_pte huge;
	struct mirror_pte *ptes;
	struct mirror_leaf *next;
};

/* A directory: slots point to directories of the next level, or to leaves. */
struct mirror_dir {
	_Atomic(void *) slot[DIR_SLOTS];
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
	bool spin; /* the submitter spins for it: the engine spins for the next one too */
	_Atomic bool done;
	struct dma_request *next;
};

/*
 * struct mirror_queue - one DMA engine and its requests.
 * @engine:  the thread, running while @started
 * @qlock:   @queue and @qtail (LOCK_RANK_WORKQ)
 * @qcond:   a request queued (the engine waits on it)
 * @pending: queued, not yet taken by the engine: a hint for spinning (may
 *           be -1 for a moment, see mirror_submit())
 * @load:    submitted, not yet done: how the submitter picks a queue
 */
struct mirror_queue {
	struct mirror *m;
	unsigned int id;
	_Atomic bool started; /* set under m->qsetup, read without */
	struct sm_thread engine;
	struct sm_mutex qlock;
	struct sm_waitq qcond;
	struct dma_request *queue, **qtail;
	_Atomic int pending;
	_Atomic unsigned int load;
	/* The next queue's fields on another cache line than @pending and @load. */
	char pad[64];
};

struct mirror {
	struct mmu_notifier aging; /* classic subscription for the young callbacks only */
	struct mm_struct *mm;	   /* = aging.mm: mm_count through it */
	unsigned int flags;
	struct sm_mutex lock;
	struct mirror_dir root;	    /* slots written under lock, read without */
	struct mirror_leaf *leaves; /* every leaf, under lock */
	/*
	 * The counters below are written by faults, copies and invalidations:
	 * on cache lines of their own, away from the read-mostly fields above
	 * (the directory every DMA reads) and below.
	 */
	char pad_counters[64];
	_Atomic unsigned long nr_entries; /* translations (huge ones too): under leaf locks */
	_Atomic unsigned long nr_huge;	  /* huge translations */
	_Atomic unsigned long nr_invalidations;
	_Atomic unsigned long nr_stale;
	_Atomic unsigned long nr_lost_faults;	/* CPU faults whose page could not move back */
	_Atomic unsigned long nr_locked_faults; /* DMA that found a locked page unmapped */
	_Atomic unsigned long nr_faults;	/* device fault calls (each may fill many pages) */
	_Atomic unsigned long nr_retries;	/* collision retries of hmm_range_fault() */
	_Atomic unsigned long nr_leaves;	/* leaves (intervals) created */
	_Atomic unsigned long nr_cpages;	/* pages copied by DMA, migrated, made exclusive */
	char pad_counters_end[64];

	/*
	 * mirror_lock(): [lock_start, lock_end) must stay mapped in the device
	 * until mirror_unlock(); DMA there never faults. lock_pages: the pins
	 * that keep it so. Written under m->lock; the range is read by DMA
	 * without it (under the leaf lock of the page it found unmapped).
	 */
	_Atomic unsigned long lock_start, lock_end;
	struct page *lock_pages[MIRROR_LOCK_PAGES];
	unsigned long lock_npages;

	struct dev_pagemap pgmap; /* device memory; owner = this device */
	struct sm_mutex dlock;
	struct page **free_pages;      /* under dlock */
	_Atomic unsigned long nr_free; /* written under dlock; read without by devmem_evict() */

	char name[SM_THREAD_NAME_MAX]; /* " NAME" or "" */
	struct sm_mutex qsetup;
	struct mirror_queue queues[MIRROR_QUEUES];
	struct mirror *live_next; /* mirror_live; under mirror_live_lock */
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
 *
 * A spinning thread holds a CPU, though: a submitter spinning through the
 * whole of a long transfer, and an engine spinning while its submitter
 * works between requests, made one submitter keep both CPUs of a two-CPU
 * machine busy, so that two submitters on two devices did no better than
 * one (docs/performance.md). So a submitter spins only for a transfer of
 * at most MIRROR_SPIN_BYTES (a longer one outlasts a wake-up many times
 * over) and only while fewer than half the CPUs (at least one) have a
 * spinner; and an engine spins for the next request only after a request
 * whose submitter spun (a stream of short transfers).
 */
#define MIRROR_SPIN	  4000
#define MIRROR_SPIN_BYTES (1UL << 20)

static _Atomic int mirror_spinners; /* submitters spinning now, every device */
static _Atomic int mirror_max_spinners;

static void cpu_relax(void)
{
	__builtin_ia32_pause();
}

/* Return: true if the caller may spin for a transfer of @len (then call spin_end()). */
static bool submitter_spin_begin(size_t len)
{
	int max = atomic_load_explicit(&mirror_max_spinners, memory_order_relaxed);

	if (!sm_may_spin() || len > MIRROR_SPIN_BYTES)
		return false;
	if (!max) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		max = n >= 4 ? (int)(n / 2) : 1;
		atomic_store_explicit(&mirror_max_spinners, max, memory_order_relaxed);
	}
	if (atomic_fetch_add(&mirror_spinners, 1) < max)
		return true;
	atomic_fetch_sub(&mirror_spinners, 1);
	return false;
}

static void submitter_spin_end(void)
{
	atomic_fetch_sub(&mirror_spinners, 1);
}

/* --- the device page table ------------------------------------------------------ */

static unsigned int dir_index(unsigned long addr, int level)
{
	return (addr >> (LEAF_SHIFT + (DIR_LEVELS - 1 - level) * DIR_BITS)) & (DIR_SLOTS - 1);
}

/* The leaf of @addr, or NULL. No lock: slots only ever go from NULL to set. */
static struct mirror_leaf *leaf_lookup(struct mirror *m, unsigned long addr)
{
	struct mirror_dir *dir = &m->root;
	void *p = NULL;

	for (int level = 0; level < DIR_LEVELS && dir; level++) {
		/* Pairs with the release store in leaf_publish(). */
		p = atomic_load_explicit(&dir->slot[dir_index(addr, level)], memory_order_acquire);
		dir = p;
	}
	return p;
}

/* Link @leaf into the radix (and m->leaves). Caller holds m->lock. Return: 0, -ENOMEM. */
static int leaf_publish(struct mirror *m, struct mirror_leaf *leaf)
{
	struct mirror_dir *dir = &m->root;

	lockdep_assert_held(&m->lock);
	for (int level = 0; level < DIR_LEVELS - 1; level++) {
		_Atomic(void *) *slot = &dir->slot[dir_index(leaf->base, level)];
		struct mirror_dir *next = atomic_load_explicit(slot, memory_order_relaxed);

		if (!next) {
			next = kzalloc(sizeof(*next));
			if (!next)
				return -ENOMEM;
			/* Pairs with the acquire load in leaf_lookup(). */
			atomic_store_explicit(slot, next, memory_order_release);
		}
		dir = next;
	}
	leaf->next = m->leaves;
	m->leaves = leaf;
	/* Pairs with the acquire load in leaf_lookup(): the leaf is initialised. */
	atomic_store_explicit(&dir->slot[dir_index(leaf->base, DIR_LEVELS - 1)], leaf,
			      memory_order_release);
	return 0;
}

/* Free the directories of one level (and below). The device is going away. */
static void dir_free(struct mirror_dir *dir, int level)
{
	if (level == DIR_LEVELS - 1)
		return; /* its slots are leaves, freed from m->leaves */
	for (unsigned int i = 0; i < DIR_SLOTS; i++) {
		struct mirror_dir *next = atomic_load_explicit(&dir->slot[i], memory_order_relaxed);

		if (next) {
			dir_free(next, level + 1);
			kfree(next);
		}
	}
}

static const struct mmu_interval_notifier_ops mirror_notifier_ops;

/*
 * leaf_get() - the leaf of @addr, created (its interval inserted and linked
 * in the mm's interval tree) if there is none yet.
 *
 * A new interval is inserted before the leaf is published, and
 * mmu_interval_read_begin() waits until it is linked (an insert during an
 * invalidation is deferred to its end), so no translation is ever installed
 * in a leaf an invalidation could miss. Caller holds mm_users of m->mm and no
 * lock (not mmap_lock: the insert may take it for write). May sleep.
 * Return: the leaf or ERR_PTR(-ENOMEM / -EINVAL (the mm exited) / -EINTR).
 */
static struct mirror_leaf *leaf_get(struct mirror *m, unsigned long addr)
{
	struct mirror_leaf *leaf = leaf_lookup(m, addr), *other;
	int ret;

	if (leaf)
		return leaf;
	leaf = kzalloc(sizeof(*leaf));
	if (!leaf)
		return ERR_PTR(-ENOMEM);
	leaf->m = m;
	leaf->base = addr & ~(LEAF_SIZE - 1);
	sm_mutex_init(&leaf->lock, "mirror_leaf->lock", LOCK_RANK_DRIVER_MMU);
	mmu_interval_notifier_set_owner(&leaf->notifier, m);
	ret = mmu_interval_notifier_insert(&leaf->notifier, m->mm, leaf->base, LEAF_SIZE,
					   &mirror_notifier_ops);
	if (ret)
		goto err_free;
	(void)mmu_interval_read_begin(&leaf->notifier); /* linked once this returns */
	sm_mutex_lock(&m->lock);
	other = leaf_lookup(m, addr); /* a racing leaf_get() won */
	ret = other ? 0 : leaf_publish(m, leaf);
	sm_mutex_unlock(&m->lock);
	if (!other && !ret) {
		atomic_fetch_add(&m->nr_leaves, 1);
		return leaf;
	}
	mmu_interval_notifier_remove(&leaf->notifier);
err_free:
	sm_mutex_destroy(&leaf->lock);
	kfree(leaf);
	return ret ? ERR_PTR(ret) : other;
}

/* Create the leaves of [start, end) that are missing. Same context as leaf_get(). */
static int leaves_prepare(struct mirror *m, unsigned long start, unsigned long end)
{
	for (unsigned long a = start & ~(LEAF_SIZE - 1); a < end; a += LEAF_SIZE) {
		struct mirror_leaf *leaf = leaf_get(m, a);

		if (IS_ERR(leaf))
			return (int)PTR_ERR(leaf);
	}
	return 0;
}

static unsigned long leaf_end(unsigned long addr)
{
	return (addr & ~(LEAF_SIZE - 1)) + LEAF_SIZE;
}

/*
 * The translation of the page @idx of @leaf: its own 4 KiB one, else the
 * huge one of the leaf. Caller holds leaf->lock.
 */
static struct mirror_pte *leaf_find(struct mirror_leaf *leaf, unsigned long idx)
{
	if (leaf->ptes && (leaf->ptes[idx].flags & MPTE_VALID))
		return &leaf->ptes[idx];
	return leaf->huge.flags & MPTE_VALID ? &leaf->huge : NULL;
}

/* The 4 KiB translation of the page @idx of @leaf only. Caller holds leaf->lock. */
static struct mirror_pte *leaf_find_small(struct mirror_leaf *leaf, unsigned long idx)
{
	if (leaf->ptes && (leaf->ptes[idx].flags & MPTE_VALID))
		return &leaf->ptes[idx];
	return NULL;
}

/*
 * Drop every translation of [start, end) (within @leaf). A huge entry goes
 * whole, even if the range covers only part of it. @free_ptes: the range is
 * unmapped or the mm exits: a leaf left empty frees its entries. Caller holds
 * leaf->lock.
 */
static void leaf_zap(struct mirror_leaf *leaf, unsigned long start, unsigned long end,
		     bool free_ptes)
{
	struct mirror *m = leaf->m;
	unsigned long first, last;

	lockdep_assert_held(&leaf->lock);
	if (leaf->huge.flags & MPTE_VALID) {
		leaf->huge.flags = 0;
		atomic_fetch_sub_explicit(&m->nr_huge, 1, memory_order_relaxed);
		atomic_fetch_sub_explicit(&m->nr_entries, 1, memory_order_relaxed);
	}
	if (!leaf->ptes)
		return;
	first = start <= leaf->base ? 0 : (start - leaf->base) >> PAGE_SHIFT;
	last = end - leaf->base >= LEAF_SIZE ? LEAF_PAGES : (end - leaf->base) >> PAGE_SHIFT;
	if (first == 0 && last == LEAF_PAGES) {
		/* The whole leaf: no need to look at each entry. */
		atomic_fetch_sub_explicit(&m->nr_entries, leaf->nr_valid, memory_order_relaxed);
		leaf->nr_valid = 0;
		if (!free_ptes)
			memset(leaf->ptes, 0, LEAF_PAGES * sizeof(*leaf->ptes));
	} else {
		unsigned long zapped = 0;

		for (unsigned long i = first; i < last && leaf->nr_valid; i++) {
			if (!(leaf->ptes[i].flags & MPTE_VALID))
				continue;
			leaf->ptes[i].flags = 0;
			leaf->nr_valid--;
			zapped++;
		}
		if (zapped)
			atomic_fetch_sub_explicit(&m->nr_entries, zapped, memory_order_relaxed);
	}
	if (free_ptes && !leaf->nr_valid) {
		kfree(leaf->ptes);
		leaf->ptes = NULL;
	}
}

/*
 * Record the huge translation of @leaf (the CPU maps its 2 MiB with a PMD);
 * the 4 KiB entries under it go. @idx: the page @hmm_pfn is of. Caller holds
 * leaf->lock after a successful mmu_interval_read_retry() (so the folio is
 * still mapped: its head's generation can be read).
 */
static void leaf_install_huge(struct mirror_leaf *leaf, unsigned long idx, unsigned long hmm_pfn)
{
	struct mirror *m = leaf->m;
	unsigned long head = hmm_pfn_to_pfn(hmm_pfn) - idx;

	lockdep_assert_held(&leaf->lock);
	if (!(leaf->huge.flags & MPTE_VALID)) {
		if (leaf->nr_valid) {
			atomic_fetch_sub_explicit(&m->nr_entries, leaf->nr_valid,
						  memory_order_relaxed);
			leaf->nr_valid = 0;
			memset(leaf->ptes, 0, LEAF_PAGES * sizeof(*leaf->ptes));
		}
		atomic_fetch_add_explicit(&m->nr_entries, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&m->nr_huge, 1, memory_order_relaxed);
	}
	leaf->huge.pfn = head;
	leaf->huge.gen = page_gen(pfn_to_page(head));
	leaf->huge.flags = MPTE_VALID | (hmm_pfn & HMM_PFN_WRITE ? MPTE_WRITE : 0);
}

/*
 * Record the 4 KiB translation of page @idx of @leaf, counting a new entry
 * in *@nr_new (the caller adds it to m->nr_entries before it unlocks: one
 * atomic add per batch, not per page). Caller holds leaf->lock.
 */
static int __leaf_install(struct mirror_leaf *leaf, unsigned long idx, unsigned long hmm_pfn,
			  uint32_t gen, bool exclusive, unsigned long *nr_new)
{
	struct mirror_pte *pte;

	lockdep_assert_held(&leaf->lock);
	if (!leaf->ptes) {
		leaf->ptes = kcalloc(LEAF_PAGES, sizeof(*leaf->ptes));
		if (!leaf->ptes)
			return -ENOMEM;
	}
	pte = &leaf->ptes[idx];
	if (!(pte->flags & MPTE_VALID)) {
		leaf->nr_valid++;
		(*nr_new)++;
	}
	pte->pfn = hmm_pfn_to_pfn(hmm_pfn);
	pte->gen = gen;
	pte->flags = MPTE_VALID | (hmm_pfn & HMM_PFN_WRITE ? MPTE_WRITE : 0) |
		     (exclusive ? MPTE_EXCLUSIVE : 0);
	return 0;
}

/* __leaf_install() of one page. Caller holds leaf->lock. */
static int leaf_install(struct mirror_leaf *leaf, unsigned long idx, unsigned long hmm_pfn,
			uint32_t gen, bool exclusive)
{
	unsigned long nr_new = 0;
	int ret = __leaf_install(leaf, idx, hmm_pfn, gen, exclusive, &nr_new);

	if (nr_new)
		atomic_fetch_add_explicit(&leaf->m->nr_entries, nr_new, memory_order_relaxed);
	return ret;
}

/* The index of @addr in its leaf. */
static unsigned long leaf_idx(unsigned long addr)
{
	return (addr >> PAGE_SHIFT) & (LEAF_PAGES - 1);
}

/*
 * The invalidate callback of a leaf. May sleep when the range is blockable;
 * otherwise it only trylocks and reports failure rather than wait.
 */
static bool mirror_invalidate(struct mmu_interval_notifier *sub,
			      const struct mmu_notifier_range *range, unsigned long cur_seq)
{
	struct mirror_leaf *leaf = container_of(sub, struct mirror_leaf, notifier);
	struct mirror *m = leaf->m;

	if (mmu_notifier_range_blockable(range))
		sm_mutex_lock(&leaf->lock);
	else if (!sm_mutex_trylock(&leaf->lock))
		return false;
	/* Pairs with mmu_interval_read_retry() in mirror_range_fault_lock(), same lock. */
	mmu_interval_set_seq(sub, cur_seq);
	atomic_fetch_add(&m->nr_invalidations, 1);
	if (!(m->flags & MIRROR_BROKEN))
		leaf_zap(leaf, range->start, range->end,
			 range->event == MMU_NOTIFY_UNMAP || range->event == MMU_NOTIFY_RELEASE);
	sm_mutex_unlock(&leaf->lock);
	return true;
}

static const struct mmu_interval_notifier_ops mirror_notifier_ops = {
	.invalidate = mirror_invalidate,
};

/* Accessed bits of [start, end), cleared if @clear. Return: how many were set. */
static int mirror_age(struct mirror *m, unsigned long start, unsigned long end, bool clear)
{
	int young = 0;

	for (unsigned long a = start; a < end; a = leaf_end(a)) {
		struct mirror_leaf *leaf = leaf_lookup(m, a);
		unsigned long last = end < leaf_end(a) ? end : leaf_end(a);

		if (!leaf)
			continue;
		sm_mutex_lock(&leaf->lock);
		for (unsigned long p = a; p < last; p += PAGE_SIZE) {
			struct mirror_pte *pte = leaf_find(leaf, leaf_idx(p));

			if (pte && (pte->flags & MPTE_ACCESSED)) {
				young++;
				if (clear)
					pte->flags &= ~MPTE_ACCESSED;
			}
		}
		sm_mutex_unlock(&leaf->lock);
	}
	return young;
}

/*
 * Aging callbacks: reclaim asks whether the device used a page lately, so a
 * page the device keeps using is not evicted under it. They take leaf locks
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

/*
 * The end of the chunk of [addr, end) one hmm_range_fault() call covers: at
 * most MIRROR_FAULT_CHUNK pages, never across a leaf (one interval per call).
 */
static unsigned long mirror_chunk_end(unsigned long addr, unsigned long end)
{
	unsigned long e = end - addr > MIRROR_FAULT_CHUNK * PAGE_SIZE
				  ? addr + MIRROR_FAULT_CHUNK * PAGE_SIZE
				  : end;

	return e > leaf_end(addr) ? leaf_end(addr) : e;
}

/*
 * mirror_range_fault_lock() - hmm_range_fault() of @range (at most
 * MIRROR_FAULT_CHUNK pages, within one leaf) with the interval-notifier
 * collision retry of that leaf's interval, as dmirror_range_fault() does.
 *
 * A collision (-EBUSY from hmm_range_fault(), or mmu_interval_read_retry())
 * always follows an invalidation of the leaf, and the next
 * mmu_interval_read_begin() sleeps until that invalidation ended: every
 * retry waited for the event that caused it, so there is no retry count (no
 * amount of load or reclaim turns a collision into an error). Invalidations
 * of other leaves do not touch this leaf's sequence: they cause no retry.
 *
 * Caller holds mm_users of m->mm and no lock. Return: 0 with *@leafp set and
 * its lock held and no invalidation of @range since the fault (the caller
 * consumes range->hmm_pfns, then unlocks); or an error (no lock held): from
 * leaf_get() or hmm_range_fault(). May sleep.
 */
static int mirror_range_fault_lock(struct mirror *m, struct hmm_range *range,
				   struct mirror_leaf **leafp)
{
	struct mirror_leaf *leaf = leaf_get(m, range->start);
	int ret;

	if (IS_ERR(leaf))
		return (int)PTR_ERR(leaf);
	range->notifier = &leaf->notifier;
	for (;;) {
		range->notifier_seq = mmu_interval_read_begin(&leaf->notifier);
		memset(range->hmm_pfns, 0, MIRROR_FAULT_CHUNK * sizeof(*range->hmm_pfns));
		/* Per-VMA locks: mprotect/munmap elsewhere in the mm do not stall it. */
		ret = hmm_range_fault_unlocked(range);
		if (ret == -EBUSY) {
			atomic_fetch_add_explicit(&m->nr_retries, 1, memory_order_relaxed);
			continue;
		}
		if (ret)
			return ret;
		sm_mutex_lock(&leaf->lock);
		if (!mmu_interval_read_retry(&leaf->notifier, range->notifier_seq)) {
			*leafp = leaf;
			return 0;
		}
		sm_mutex_unlock(&leaf->lock);
		atomic_fetch_add_explicit(&m->nr_retries, 1, memory_order_relaxed);
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
	struct mm_struct *mm = m->mm;
	unsigned long hmm_pfns[MIRROR_FAULT_CHUNK];
	uint32_t gens[MIRROR_FAULT_CHUNK];
	struct hmm_range range = {
		.hmm_pfns = hmm_pfns,
		.hmm_gens = gens,
		.default_flags = HMM_PFN_REQ_FAULT | (write ? HMM_PFN_REQ_WRITE : 0),
		.dev_private_owner = m,
	};
	unsigned long nr_new;
	int ret = 0;
	TRACE_SCOPE("mirror", "device_fault", "addr=0x%lx pages=%lu write=%d", start,
		    (end - start) >> PAGE_SHIFT, write);

	if (!mmget_not_zero_tracked(mm, m, "mirror fault"))
		return -ESRCH; /* the address space has exited */
	atomic_fetch_add(&m->nr_faults, 1);
	for (unsigned long addr = start; addr < end && !ret; addr = range.end) {
		struct mirror_leaf *leaf;

		range.start = addr;
		range.end = mirror_chunk_end(addr, end);
		ret = mirror_range_fault_lock(m, &range, &leaf);
		if (ret)
			break;
		nr_new = 0;
		for (unsigned long i = 0; !ret && i < (range.end - addr) >> PAGE_SHIFT; i++) {
			unsigned long idx = leaf_idx(addr) + i;

			/* One entry per 2 MiB the CPU maps with a PMD. */
			if ((hmm_pfns[i] & HMM_PFN_VALID) &&
			    hmm_pfn_to_map_order(hmm_pfns[i]) == HPAGE_PMD_ORDER) {
				if (i == 0 || idx == 0)
					leaf_install_huge(leaf, idx, hmm_pfns[i]);
			} else {
				ret = __leaf_install(leaf, idx, hmm_pfns[i], gens[i], false,
						     &nr_new);
			}
		}
		if (nr_new)
			atomic_fetch_add_explicit(&m->nr_entries, nr_new, memory_order_relaxed);
		sm_mutex_unlock(&leaf->lock);
	}
	mmput_tracked(mm, m, "mirror fault"); /* Pairs with mmget_not_zero() above. */
	return ret;
}

/* The frame @pte gives page @idx of @leaf: its own, or its place in the huge entry's folio. */
static unsigned long pte_pfn(struct mirror_leaf *leaf, struct mirror_pte *pte, unsigned long idx)
{
	return pte == &leaf->huge ? pte->pfn + idx : pte->pfn;
}

/* The frame @pte gives page @idx of its leaf, if the frame is still the one it was. */
static int pte_frame(struct mirror *m, struct mirror_leaf *leaf, struct mirror_pte *pte,
		     unsigned long idx, unsigned long *pfnp)
{
	unsigned long pfn = pte_pfn(leaf, pte, idx);
	bool valid = pte == &leaf->huge ? folio_gen_valid(pte->pfn, pte->gen, idx)
					: page_gen_valid(pte->pfn, pte->gen);

	if (!valid) {
		atomic_fetch_add(&m->nr_stale, 1);
		phys_report_stale(pfn, "mirror");
		return -EIO;
	}
	*pfnp = pfn;
	return 0;
}

/*
 * leaf_run() - the run of translations one copy goes through: from page @idx
 * of @leaf, at most @max pages, each usable for the access (valid; writable
 * for a write) and still the frame it was, whose frames follow each other in
 * memory.
 *
 * Every page's generation is checked (the stale-translation detector sees
 * each one), but only the first is looked up: the next 4 KiB translations to
 * the next RAM frames are checked through the memory map found for the first
 * (pfn_to_page_contig()), with no call per page; the pages of a huge
 * translation through folio_gen_valid(). A device-private frame is a run of
 * one. A stale page after the first ends the run unreported: it is the next
 * run's first page, reported there once.
 *
 * Caller holds leaf->lock. Return: the run's length in pages, with *@frame
 * its first frame's bytes; or 0 with *@err -ENOENT (no usable translation at
 * @idx) or -EIO (a stale one there, reported).
 */
static unsigned long leaf_run(struct mirror *m, struct mirror_leaf *leaf, unsigned long idx,
			      unsigned long max, bool write, char **frame, int *err)
{
	struct page *map = NULL;
	unsigned long pfn0 = 0, ram = 0, nr;

	lockdep_assert_held(&leaf->lock);
	for (nr = 0; nr < max; nr++) {
		struct mirror_pte *pte = leaf_find(leaf, idx + nr);
		bool huge = pte == &leaf->huge;

		if (!pte || (write && !(pte->flags & MPTE_WRITE))) {
			if (!nr)
				*err = -ENOENT;
			break;
		}
		if (!nr) {
			*err = pte_frame(m, leaf, pte, idx, &pfn0);
			if (*err)
				return 0;
			map = pfn_to_page_contig(pfn0, &ram);
			*frame = page_address(map ? map : pfn_to_page(pfn0));
		} else {
			if (nr >= ram || pte_pfn(leaf, pte, idx + nr) != pfn0 + nr)
				break; /* not the next frame in memory */
			if (huge ? !folio_gen_valid(pte->pfn, pte->gen, idx + nr)
				 : page_gen(map + nr) != pte->gen)
				break; /* stale: the next run reports it */
		}
		pte->flags |= MPTE_ACCESSED;
	}
	return nr;
}

/*
 * Copy [addr, addr + len) (within one leaf) through the installed
 * translations, run by run (leaf_run()): one memcpy per run of frames
 * consecutive in memory. Caller holds leaf->lock (so an invalidation of the
 * pages waits for the copy). Return: bytes copied; *@err 0 if all of them,
 * else -ENOENT (no usable translation at addr + return value), -EIO (a stale
 * one there).
 */
static size_t mirror_copy_leaf(struct mirror *m, struct mirror_leaf *leaf, unsigned long addr,
			       char *buf, size_t len, bool write, int *err)
{
	size_t done = 0;
	unsigned long nr_pages = 0; /* added to m->nr_cpages once, at the end */

	*err = 0;
	while (done < len) {
		unsigned long a = addr + done, off = a & (PAGE_SIZE - 1);
		unsigned long want = (off + (len - done) + PAGE_SIZE - 1) >> PAGE_SHIFT;
		char *run = NULL;
		unsigned long nr = leaf_run(m, leaf, leaf_idx(a), want, write, &run, err);
		size_t n;

		if (!nr)
			break;
		n = (nr << PAGE_SHIFT) - off;
		if (n > len - done)
			n = len - done;
		if (write)
			copy_frame_data(run + off, buf + done, n);
		else
			copy_frame_data(buf + done, run + off, n);
		done += n;
		nr_pages += nr;
	}
	if (nr_pages)
		atomic_fetch_add_explicit(&m->nr_cpages, nr_pages, memory_order_relaxed);
	return done;
}

/*
 * The transfer, leaf by leaf, each under one hold of its lock for as long
 * as the translations are there; a missing one is faulted in with the lock
 * dropped. A translation faulted in and gone again before the copy was
 * invalidated meanwhile (the leaf lock orders the two): the copy of that
 * page faults again, without a count -- the next fault's read_begin waits
 * out the invalidation.
 */
static int mirror_dma(struct mirror *m, unsigned long addr, void *buf, size_t len, bool write)
{
	int ret = 0;
	TRACE_SCOPE("mirror", write ? "dma_write" : "dma_read", "addr=0x%lx len=%zu", addr, len);

	if (addr + len < addr || addr + len > TASK_SIZE)
		return -EFAULT;
	while (len) {
		struct mirror_leaf *leaf = leaf_lookup(m, addr);
		size_t span = leaf_end(addr) - addr, done = 0;
		unsigned long page;
		bool locked = false;

		if (span > len)
			span = len;
		ret = -ENOENT;
		if (leaf) {
			sm_mutex_lock(&leaf->lock);
			done = mirror_copy_leaf(m, leaf, addr, buf, span, write, &ret);
			if (ret == -ENOENT) {
				unsigned long a = addr + done;

				/* Read under the leaf lock: see the lock range in struct mirror. */
				locked = a >= atomic_load(&m->lock_start) &&
					 a < atomic_load(&m->lock_end);
			}
			sm_mutex_unlock(&leaf->lock);
		} else {
			locked = addr >= atomic_load(&m->lock_start) &&
				 addr < atomic_load(&m->lock_end);
		}
		addr += done;
		buf = (char *)buf + done;
		len -= done;
		if (!ret)
			continue;
		if (ret != -ENOENT)
			break;
		if (locked) {
			/* A locked range: the copy engine takes no retry fault there. */
			atomic_fetch_add(&m->nr_locked_faults, 1);
			ret = -EFAULT;
			break;
		}
		/* The rest of the request at once; then only this page, for a precise error. */
		page = addr & PAGE_MASK;
		ret = mirror_fault(m, page, PAGE_ALIGN(addr + len), write);
		if (ret && ret != -ESRCH && PAGE_ALIGN(addr + len) - page > PAGE_SIZE)
			ret = mirror_fault(m, page, page + PAGE_SIZE, write);
		if (ret)
			break;
		/* retry the copy from this page */
	}
	return ret;
}

/* A DMA engine: a real thread executing the transfers of its queue in order. */
static void *mirror_engine(void *arg)
{
	struct mirror_queue *q = arg;
	struct mirror *m = q->m;

	bool spin = false;

	for (;;) {
		struct dma_request *req;
		enum dma_op op;

		for (int i = 0;
		     spin && sm_may_spin() && i < MIRROR_SPIN && !atomic_load(&q->pending); i++)
			cpu_relax();
		sm_mutex_lock(&q->qlock);
		sm_wait_event(&q->qcond, &q->qlock, q->queue);
		req = q->queue;
		q->queue = req->next;
		if (!q->queue)
			q->qtail = &q->queue;
		atomic_fetch_sub(&q->pending, 1);
		sm_mutex_unlock(&q->qlock);

		op = req->op;
		spin = req->spin;
		if (op == DMA_STOP)
			req->ret = 0;
		else
			req->ret = mirror_dma(m, req->addr, req->buf, req->len, op == DMA_WRITE);
		atomic_fetch_sub(&q->load, 1);
		/*
		 * @req lives on the submitter's stack: not to be touched once
		 * done. The wake-up only hashes the address (a stale one wakes
		 * nobody, or a waiter that rechecks its own condition); it takes
		 * no lock when nobody sleeps, so a spinning submitter that sees
		 * done and submits again does not find qlock held by us.
		 * Pairs with the wait in mirror_submit().
		 */
		atomic_store_explicit(&req->done, true, memory_order_release);
		sm_wake_up_var(&req->done);
		if (op == DMA_STOP)
			return NULL;
	}
}

/* Start the engine of @q. Caller holds m->qsetup. Return: 0 or sm_thread_create()'s error. */
static int queue_start(struct mirror *m, struct mirror_queue *q)
{
	int ret;

	lockdep_assert_held(&m->qsetup);
	if (atomic_load(&q->started))
		return 0;
	ret = q->id ? sm_thread_create(&q->engine, mirror_engine, q, "mirror%s dma%u", m->name,
				       q->id)
		    : sm_thread_create(&q->engine, mirror_engine, q, "mirror%s dma", m->name);
	if (!ret)
		atomic_store(&q->started, true);
	return ret;
}

/*
 * The queue for a new transfer: the first idle one (queue 0 when nothing
 * else runs), else the least loaded; its engine started if need be (queue 0
 * if it cannot be). Counts the transfer in its load.
 */
static struct mirror_queue *queue_pick(struct mirror *m)
{
	struct mirror_queue *q = &m->queues[0];
	unsigned int best = ~0U;

	for (unsigned int i = 0; i < MIRROR_QUEUES; i++) {
		unsigned int load = atomic_load(&m->queues[i].load);

		if (load < best) {
			best = load;
			q = &m->queues[i];
		}
		if (!load)
			break;
	}
	if (!atomic_load(&q->started)) {
		int ret;

		sm_mutex_lock(&m->qsetup);
		ret = queue_start(m, q);
		sm_mutex_unlock(&m->qsetup);
		if (ret)
			q = &m->queues[0];
	}
	atomic_fetch_add(&q->load, 1);
	return q;
}

static int mirror_submit(struct mirror_queue *q, enum dma_op op, unsigned long addr, void *buf,
			 size_t len)
{
	struct dma_request req = {.op = op, .addr = addr, .buf = buf, .len = len};

	req.spin = submitter_spin_begin(len);
	sm_mutex_lock(&q->qlock);
	*q->qtail = &req;
	q->qtail = &req.next;
	sm_wake_up_all(&q->qcond); /* Pairs with the wait in mirror_engine(). */
	sm_mutex_unlock(&q->qlock);
	/*
	 * Counted after the unlock: an engine spinning on @pending then finds
	 * qlock free, instead of sleeping on it in the kernel while we finish
	 * the wake-up (a futex sleep and wake per transfer). An engine woken
	 * by the wake-up may take the request first: @pending is then -1 for
	 * a moment, which only ends a spin early.
	 */
	atomic_fetch_add(&q->pending, 1);
	/* Pairs with the release store of done by the engine: req.ret is visible. */
	for (int i = 0; req.spin && i < MIRROR_SPIN; i++) {
		if (atomic_load_explicit(&req.done, memory_order_acquire))
			break;
		cpu_relax();
	}
	if (req.spin)
		submitter_spin_end();
	if (!atomic_load_explicit(&req.done, memory_order_acquire))
		sm_wait_var_event(&req.done, atomic_load_explicit(&req.done, memory_order_acquire));
	return req.ret;
}

int mirror_read(struct mirror *m, unsigned long addr, void *buf, size_t len)
{
	return mirror_submit(queue_pick(m), DMA_READ, addr, buf, len);
}

int mirror_write(struct mirror *m, unsigned long addr, const void *buf, size_t len)
{
	return mirror_submit(queue_pick(m), DMA_WRITE, addr, (void *)buf, len);
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
	struct mirror_leaf *leaf = NULL;

	for (unsigned long i = 0; i < args->npages; i++) {
		struct page *dpage = migrate_pfn_to_page(args->dst[i]);
		unsigned long addr = args->start + (i << PAGE_SHIFT);

		if (!dpage || !(args->src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		if (!leaf || leaf->base != (addr & ~(LEAF_SIZE - 1))) {
			if (leaf)
				sm_mutex_unlock(&leaf->lock);
			/* Created by leaves_prepare() before the migration. */
			leaf = leaf_lookup(m, addr);
			if (WARN_ON_ONCE(!leaf))
				return;
			sm_mutex_lock(&leaf->lock);
		}
		if (!leaf_install(leaf, leaf_idx(addr),
				  page_to_pfn(dpage) | HMM_PFN_VALID |
					  (args->dst[i] & MIGRATE_PFN_WRITE ? HMM_PFN_WRITE : 0),
				  page_gen(dpage), false))
			atomic_fetch_add(&m->nr_cpages, 1);
	}
	if (leaf)
		sm_mutex_unlock(&leaf->lock);
}

/* Is every page of [start, end) in this device's memory (per its page table)? */
static bool range_on_device(struct mirror *m, unsigned long start, unsigned long end)
{
	bool all = true;

	for (unsigned long a = start; a < end && all; a += PAGE_SIZE) {
		struct mirror_leaf *leaf = leaf_lookup(m, a);
		struct mirror_pte *pte;
		struct page *page = NULL;

		if (leaf) {
			sm_mutex_lock(&leaf->lock);
			pte = leaf_find_small(leaf, leaf_idx(a));
			page = pte ? pfn_to_page(pte->pfn) : NULL;
			sm_mutex_unlock(&leaf->lock);
		}
		all = page && is_device_private_page(page) && page_pgmap(page) == &m->pgmap;
	}
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
	struct mm_struct *mm = m->mm;
	unsigned long src[MIRROR_FAULT_CHUNK], dst[MIRROR_FAULT_CHUNK];
	unsigned long end = addr + len, next;
	int ret = check_range(addr, len), err = 0;
	TRACE_SCOPE("mirror", "migrate_to_device", "addr=0x%lx len=%zu", addr, len);

	if (ret)
		return ret;
	if (!mmget_not_zero_tracked(mm, m, "mirror fault"))
		return -ESRCH;
	/* The leaves the moved pages will be mapped in: not under mmap_lock. */
	ret = leaves_prepare(m, addr, end);
	if (ret) {
		mmput_tracked(mm, m, "mirror fault");
		return ret;
	}
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
	struct mm_struct *mm = m->mm;
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
	struct mm_struct *mm = m->mm;
	unsigned long end = addr + len;
	int ret = check_range(addr, len);
	TRACE_SCOPE("mirror", "exclusive", "addr=0x%lx len=%zu", addr, len);

	if (ret)
		return ret;
	if (!mmget_not_zero_tracked(mm, m, "mirror fault"))
		return -ESRCH;
	ret = leaves_prepare(m, addr, end); /* not under mmap_lock */
	if (ret) {
		mmput_tracked(mm, m, "mirror fault");
		return ret;
	}
	mmap_read_lock(mm);
	for (; addr < end; addr += PAGE_SIZE) {
		struct page *page = make_device_exclusive(mm, addr, m);
		struct mirror_leaf *leaf = leaf_lookup(m, addr);

		if (IS_ERR(page)) {
			ret = PTR_ERR(page);
			break;
		}
		/*
		 * The page is locked: a CPU fault that would take our access away
		 * waits for it, so the entry goes in before its invalidation.
		 */
		sm_mutex_lock(&leaf->lock);
		ret = leaf_install(leaf, leaf_idx(addr),
				   page_to_pfn(page) | HMM_PFN_VALID | HMM_PFN_WRITE,
				   page_gen(page), true);
		sm_mutex_unlock(&leaf->lock);
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

/* Caller holds leaf->lock (@leaf: the leaf of @addr). */
static unsigned char snapshot_prot(struct mirror *m, struct mirror_leaf *leaf, unsigned long addr,
				   unsigned long hmm_pfn)
{
	struct mirror_pte *pte;
	struct page *page;

	if (hmm_pfn & HMM_PFN_ERROR)
		return MIRROR_PROT_ERROR;
	if (!(hmm_pfn & HMM_PFN_VALID)) {
		/* Not visible to the CPU: maybe because we hold it exclusively. */
		pte = leaf_find_small(leaf, leaf_idx(addr));
		return pte && (pte->flags & MPTE_EXCLUSIVE)
			       ? MIRROR_PROT_EXCLUSIVE | MIRROR_PROT_WRITE
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
	struct mm_struct *mm = m->mm;
	unsigned long hmm_pfns[MIRROR_FAULT_CHUNK];
	struct hmm_range range = {
		.hmm_pfns = hmm_pfns,
		.dev_private_owner = m,
	};
	struct mirror_leaf *leaf;
	unsigned long end = addr + len;
	int ret = check_range(addr, len);

	if (ret)
		return ret;
	if (!mmget_not_zero_tracked(mm, m, "mirror fault"))
		return -ESRCH;
	for (unsigned long a = addr; a < end && !ret; a = range.end) {
		range.start = a;
		range.end = mirror_chunk_end(a, end);
		ret = mirror_range_fault_lock(m, &range, &leaf);
		if (ret)
			break;
		for (unsigned long i = 0; i < (range.end - a) >> PAGE_SHIFT; i++) {
			struct mirror_snap *out = &snap[((a - addr) >> PAGE_SHIFT) + i];

			out->prot = snapshot_prot(m, leaf, a + (i << PAGE_SHIFT), hmm_pfns[i]);
			out->order =
				hmm_pfns[i] & HMM_PFN_VALID ? hmm_pfn_to_map_order(hmm_pfns[i]) : 0;
		}
		sm_mutex_unlock(&leaf->lock);
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
	m->mm = mm;
	snprintf(m->name, sizeof(m->name), "%s%s", name ? " " : "", name ? name : "");
	sm_mutex_init(&m->lock, "mirror->lock", LOCK_RANK_DRIVER_MMU);
	ret = devmem_init(m, device_pages);
	if (ret) {
		sm_mutex_destroy(&m->lock);
		sm_mutex_destroy(&m->dlock);
		kfree(m);
		return ERR_PTR(ret);
	}
	sm_mutex_init(&m->qsetup, "mirror->qsetup", LOCK_RANK_DRIVER);
	for (unsigned int i = 0; i < MIRROR_QUEUES; i++) {
		struct mirror_queue *q = &m->queues[i];

		q->m = m;
		q->id = i;
		sm_mutex_init(&q->qlock, "mirror->qlock", LOCK_RANK_WORKQ);
		sm_waitq_init(&q->qcond, "mirror->qcond");
		q->qtail = &q->queue;
	}
	mmu_notifier_set_owner(&m->aging, m);
	/* The leaves' intervals come with the first device faults (leaf_get()). */
	m->aging.ops = &mirror_aging_ops;
	ret = mmu_notifier_register(&m->aging, mm);
	if (ret)
		goto err_free;
	sm_mutex_lock(&m->qsetup);
	ret = queue_start(m, &m->queues[0]);
	sm_mutex_unlock(&m->qsetup);
	if (ret)
		goto err_unregister;
	mirror_live_add(m);
	return m;

err_unregister:
	mmu_notifier_unregister(&m->aging, mm);
err_free:
	for (unsigned int i = 0; i < MIRROR_QUEUES; i++) {
		sm_waitq_destroy(&m->queues[i].qcond);
		sm_mutex_destroy(&m->queues[i].qlock);
	}
	sm_mutex_destroy(&m->qsetup);
	devmem_exit(m);
	sm_mutex_destroy(&m->lock);
	kfree(m);
	return ERR_PTR(ret);
}

struct mirror *mirror_create(struct mm_struct *mm, unsigned int flags)
{
	return mirror_create_devmem(mm, flags, MIRROR_DEVMEM_PAGES);
}

/* Remove every leaf's interval (waiting for its callbacks), then free the table. */
static void table_destroy(struct mirror *m)
{
	struct mirror_leaf *leaf, *next;

	/* Waits for a running invalidate callback; none comes after it. */
	for (leaf = m->leaves; leaf; leaf = leaf->next)
		mmu_interval_notifier_remove(&leaf->notifier);
	for (leaf = m->leaves; leaf; leaf = next) {
		next = leaf->next;
		sm_mutex_lock(&leaf->lock);
		leaf_zap(leaf, leaf->base, leaf->base + LEAF_SIZE, true);
		sm_mutex_unlock(&leaf->lock);
		sm_mutex_destroy(&leaf->lock);
		kfree(leaf);
	}
	m->leaves = NULL;
	dir_free(&m->root, 0);
}

void mirror_destroy(struct mirror *m)
{
	/* API misuse: destroyed already (or never created): @m may be freed. */
	if (WARN_ON_ONCE(!m || !mirror_live_del(m)))
		return;
	for (unsigned int i = 0; i < MIRROR_QUEUES; i++) {
		struct mirror_queue *q = &m->queues[i];

		if (!atomic_load(&q->started))
			continue;
		atomic_fetch_add(&q->load, 1);
		mirror_submit(q, DMA_STOP, 0, NULL, 0);
		sm_thread_join(&q->engine);
	}
	mirror_unlock(m); /* -ENOENT if nothing is locked */
	/* Our memory goes away: every page on it comes back first (the notifier still zaps). */
	devmem_evict(m);
	mmu_notifier_unregister(&m->aging, m->mm);
	table_destroy(m);
	for (unsigned int i = 0; i < MIRROR_QUEUES; i++) {
		sm_waitq_destroy(&m->queues[i].qcond);
		sm_mutex_destroy(&m->queues[i].qlock);
	}
	sm_mutex_destroy(&m->qsetup);
	devmem_exit(m);
	sm_mutex_destroy(&m->lock);
	kfree(m);
}

unsigned long mirror_nr_entries(struct mirror *m)
{
	return atomic_load(&m->nr_entries);
}

unsigned long mirror_nr_huge_entries(struct mirror *m)
{
	return atomic_load(&m->nr_huge);
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
		struct mm_struct *mm = m->mm;

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
	atomic_store(&m->lock_start, addr);
	atomic_store(&m->lock_end, addr + len);
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
	atomic_store(&m->lock_end, 0);
	atomic_store(&m->lock_start, 0);
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

unsigned long mirror_nr_fault_retries(struct mirror *m)
{
	return atomic_load(&m->nr_retries);
}

unsigned long mirror_nr_intervals(struct mirror *m)
{
	return atomic_load(&m->nr_leaves);
}

unsigned long mirror_nr_cpages(struct mirror *m)
{
	return atomic_load(&m->nr_cpages);
}

unsigned long mirror_device_pages(struct mirror *m)
{
	return device_pages_in_use(m);
}
