// SPDX-License-Identifier: MIT
/*
 * The GRU-style TLB-only device. See include/secmmu/gru.h.
 *
 * Why invalidate_range_start/end and not arch_invalidate_secondary_tlbs:
 *   the device TLB is refilled by software (the CPU resolves every miss), so
 *   the fault path needs to know that an invalidation is in flight, not only
 *   that one has happened: between _start and _end the primary PTE may still
 *   map the old frame (at _start every page is still mapped), and a miss
 *   resolved in that window would install a translation that the invalidation
 *   has already flushed past. The in-progress count, raised in _start and
 *   dropped in _end, makes such a fault wait and retry (seed 004: "no
 *   secondary MMU page fault is allowed to map any spte or secondary tlb
 *   reference while the VM is in the middle of range_begin/end").
 *   arch_invalidate_secondary_tlbs runs under the page-table lock after the
 *   PTE changed and has no "end", so it cannot express that window; it also
 *   may not be combined with start/end in one subscription, and the aging
 *   callbacks need a classic subscription anyway. This is what grutlbpurge.c
 *   does (gru_invalidate_range_start/end around ms_range_active).
 *
 * Locking and references:
 *   g->lock (LOCK_RANK_DRIVER_MMU)  the TLB, g->seq, g->in_progress. It is a
 *                                   spinlock in spirit: held only for TLB
 *                                   lookups and page-sized memcpys, never
 *                                   across anything that sleeps, so the
 *                                   non-blockable _start may take it (as KVM
 *                                   takes mmu_lock); _start therefore never
 *                                   fails, which is what allows an _end.
 *   g->range_done                   waited on (under g->lock) by faults while
 *                                   in_progress != 0; broadcast by _end
 *   g->mn.mm                        mm_count, held by the registered notifier
 *   faults                          mmget_not_zero() for the duration; an
 *                                   access through an installed entry holds
 *                                   g->lock across the memcpy, so _start (and
 *                                   the frame's free, which comes after it)
 *                                   waits for it
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "secmmu/kit/bugs.h"
#include "secmmu/kit/lock.h"
#include "secmmu/kit/alloc.h"
#include "secmmu/kit/wait.h"
#include "secmmu/err.h"
#include "secmmu/gru.h"
#include "secmmu/gup.h"
#include "secmmu/mmu_notifier.h"

struct gru_tlb_entry {
	bool valid;
	bool write;
	bool accessed; /* used since the last aging pass */
	unsigned long vpn;
	unsigned long pfn;
	uint32_t gen;
};

struct gru {
	struct mmu_notifier mn;
	unsigned int flags;
	struct sm_mutex lock;
	struct sm_waitq range_done;
	unsigned long seq;	  /* bumped by every _start; under lock */
	unsigned int in_progress; /* _start seen, _end not yet; under lock */
	bool released;		  /* ->release ran: the mm is gone */
	struct gru_tlb_entry tlb[GRU_TLB_ENTRIES];
	unsigned int next_victim;      /* round-robin replacement */
	unsigned long misses, flushes; /* under lock */
	_Atomic unsigned long stale;
};

static struct gru_tlb_entry *tlb_find(struct gru *g, unsigned long vpn)
{
	lockdep_assert_held(&g->lock);
	for (int i = 0; i < GRU_TLB_ENTRIES; i++)
		if (g->tlb[i].valid && g->tlb[i].vpn == vpn)
			return &g->tlb[i];
	return NULL;
}

/* Flush the entries of [start, end). Caller holds g->lock. */
static void tlb_flush_range(struct gru *g, unsigned long start, unsigned long end)
{
	lockdep_assert_held(&g->lock);
	for (int i = 0; i < GRU_TLB_ENTRIES; i++) {
		struct gru_tlb_entry *e = &g->tlb[i];

		if (e->valid && e->vpn >= (start >> PAGE_SHIFT) &&
		    e->vpn <= ((end - 1) >> PAGE_SHIFT)) {
			e->valid = false;
			g->flushes++;
		}
	}
}

/* Install (or refresh) the entry of @vpn, evicting round-robin. Caller holds g->lock. */
static void tlb_install(struct gru *g, unsigned long vpn, unsigned long pfn, uint32_t gen,
			bool write)
{
	struct gru_tlb_entry *e = tlb_find(g, vpn);

	if (!e) {
		for (int i = 0; i < GRU_TLB_ENTRIES && !e; i++)
			if (!g->tlb[i].valid)
				e = &g->tlb[i];
	}
	if (!e) {
		e = &g->tlb[g->next_victim];
		g->next_victim = (g->next_victim + 1) % GRU_TLB_ENTRIES;
	}
	*e = (struct gru_tlb_entry){
		.valid = true,
		.write = write,
		.vpn = vpn,
		.pfn = pfn,
		.gen = gen,
	};
}

/*
 * invalidate_range_start: flush, and forbid refills until the matching _end.
 * Never sleeps beyond the short g->lock section, so it never fails.
 */
static int gru_invalidate_range_start(struct mmu_notifier *mn,
				      const struct mmu_notifier_range *range)
{
	struct gru *g = container_of(mn, struct gru, mn);

	sm_mutex_lock(&g->lock);
	/* Pairs with the seq/in_progress check in gru_fault(), under the same lock. */
	g->seq++;
	g->in_progress++;
	if (!(g->flags & GRU_BROKEN))
		tlb_flush_range(g, range->start, range->end);
	sm_mutex_unlock(&g->lock);
	return 0;
}

static void gru_invalidate_range_end(struct mmu_notifier *mn,
				     const struct mmu_notifier_range *range)
{
	struct gru *g = container_of(mn, struct gru, mn);

	(void)range;
	sm_mutex_lock(&g->lock);
	BUG_ON(g->in_progress == 0);
	if (--g->in_progress == 0)
		sm_wake_up_all(&g->range_done); /* Pairs with the wait in gru_fault(). */
	sm_mutex_unlock(&g->lock);
}

/* The mm is torn down: nothing may be reached through the TLB any more. */
static void gru_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct gru *g = container_of(mn, struct gru, mn);

	(void)mm;
	sm_mutex_lock(&g->lock);
	g->released = true;
	g->seq++;
	tlb_flush_range(g, 0, ~0UL & PAGE_MASK);
	sm_mutex_unlock(&g->lock);
}

/* Accessed bits of [start, end), cleared if @clear. Return: how many were set. */
static int gru_age(struct gru *g, unsigned long start, unsigned long end, bool clear)
{
	int young = 0;

	sm_mutex_lock(&g->lock);
	for (int i = 0; i < GRU_TLB_ENTRIES; i++) {
		struct gru_tlb_entry *e = &g->tlb[i];

		if (!e->valid || !e->accessed || e->vpn < (start >> PAGE_SHIFT) ||
		    e->vpn > ((end - 1) >> PAGE_SHIFT))
			continue;
		young++;
		if (clear)
			e->accessed = false; /* the next access through the entry sets it again */
	}
	sm_mutex_unlock(&g->lock);
	return young;
}

static int gru_clear_flush_young(struct mmu_notifier *mn, struct mm_struct *mm, unsigned long start,
				 unsigned long end)
{
	(void)mm;
	return gru_age(container_of(mn, struct gru, mn), start, end, true);
}

static int gru_test_young(struct mmu_notifier *mn, struct mm_struct *mm, unsigned long addr)
{
	(void)mm;
	return gru_age(container_of(mn, struct gru, mn), addr, addr + PAGE_SIZE, false);
}

static const struct mmu_notifier_ops gru_mmuops = {
	.release = gru_release,
	.clear_flush_young = gru_clear_flush_young,
	.clear_young = gru_clear_flush_young,
	.test_young = gru_test_young,
	.invalidate_range_start = gru_invalidate_range_start,
	.invalidate_range_end = gru_invalidate_range_end,
};

/*
 * A TLB miss, resolved by the CPU: wait until no invalidation is in
 * progress, fault the page in on the primary MMU and take a reference to it
 * (get_user_pages_remote(): a reference, not a pin), read its PTE, and
 * install it unless an invalidation began meanwhile (the collision-retry
 * rule). The reference keeps the frame while we look at it: reclaim may
 * unmap the page meanwhile -- its invalidation bumps g->seq and we retry
 * once it ended -- but cannot free it, so a miss never spins on a page that
 * is reclaimed again and again under memory pressure: every retry follows a
 * real invalidation of the range, waited for. Nothing is pinned after the
 * fault: the notifier keeps the TLB coherent.
 */
static int gru_fault(struct gru *g, unsigned long addr, bool write)
{
	struct mm_struct *mm = g->mn.mm;
	int ret;

	if (!mmget_not_zero_tracked(mm, g, "gru fault"))
		return -ESRCH; /* the address space has exited */
	for (;;) {
		unsigned long seq, pfn;
		struct page *page;
		bool writable;
		uint32_t gen;
		long n;

		sm_mutex_lock(&g->lock);
		sm_wait_event(&g->range_done, &g->lock, !g->in_progress);
		seq = g->seq;
		sm_mutex_unlock(&g->lock);

		mmap_read_lock(mm);
		n = get_user_pages_remote(mm, addr, 1, write ? FOLL_WRITE : 0, &page);
		if (n == 1 &&
		    (follow_pfn_pte(mm, addr, &pfn, &writable, &gen) || pfn != page_to_pfn(page)))
			writable = write; /* unmapped meanwhile: the seq check decides */
		mmap_read_unlock(mm);
		if (n <= 0) {
			ret = n ? (int)n : -EFAULT;
			break;
		}
		pfn = page_to_pfn(page);
		gen = page_gen(page); /* read while our reference keeps the frame */

		sm_mutex_lock(&g->lock);
		/* The museum's gru-fault-no-retry skips this check (base/bugs.h). */
		if (!historic_bug(BUG_GRU_FAULT_NO_RETRY) && (g->in_progress || g->seq != seq)) {
			sm_mutex_unlock(&g->lock);
			put_page(page); /* Pairs with get_user_pages_remote(). */
			continue;
		}
		tlb_install(g, addr >> PAGE_SHIFT, pfn, gen, writable || write);
		g->misses++;
		sm_mutex_unlock(&g->lock);
		put_page(page); /* Pairs with get_user_pages_remote(). */
		ret = 0;
		break;
	}
	mmput_tracked(mm, g, "gru fault"); /* Pairs with mmget_not_zero() above. */
	return ret;
}

/* Access within one page through the TLB, taking misses as needed. */
static int gru_access_page(struct gru *g, unsigned long addr, void *buf, size_t len, bool write)
{
	unsigned long vpn = addr >> PAGE_SHIFT, off = addr & (PAGE_SIZE - 1);

	/* Each retry follows an invalidation that flushed the entry just installed. */
	for (;;) {
		struct gru_tlb_entry *e;
		int ret;

		sm_mutex_lock(&g->lock);
		e = tlb_find(g, vpn);
		if (e && (!write || e->write)) {
			char *frame;

			if (!page_gen_valid(e->pfn, e->gen)) {
				e->valid = false;
				sm_mutex_unlock(&g->lock);
				atomic_fetch_add(&g->stale, 1);
				phys_report_stale(e->pfn, "gru");
				return -EIO;
			}
			frame = (char *)page_address(pfn_to_page(e->pfn)) + off;
			if (write)
				copy_frame_data(frame, buf, len);
			else
				copy_frame_data(buf, frame, len);
			e->accessed = true;
			sm_mutex_unlock(&g->lock);
			return 0;
		}
		sm_mutex_unlock(&g->lock);
		ret = gru_fault(g, addr & PAGE_MASK, write);
		if (ret)
			return ret;
	}
}

static int gru_read_page(void *g, unsigned long addr, void *buf, size_t n)
{
	return gru_access_page(g, addr, buf, n, false);
}

static int gru_write_page(void *g, unsigned long addr, void *buf, size_t n)
{
	return gru_access_page(g, addr, buf, n, true);
}

int gru_read(struct gru *g, unsigned long addr, void *buf, size_t len)
{
	return for_each_page_chunk(addr, buf, len, gru_read_page, g);
}

int gru_write(struct gru *g, unsigned long addr, const void *buf, size_t len)
{
	return for_each_page_chunk(addr, (void *)buf, len, gru_write_page, g);
}

struct gru *gru_create(struct mm_struct *mm, unsigned int flags)
{
	struct gru *g;
	int ret;

	if (flags & ~GRU_BROKEN)
		return ERR_PTR(-EINVAL);
	g = kzalloc(sizeof(*g));
	if (!g)
		return ERR_PTR(-ENOMEM);
	g->flags = flags;
	sm_mutex_init(&g->lock, "gru->lock", LOCK_RANK_DRIVER_MMU);
	sm_mutex_set_spin(&g->lock); /* a spinlock in spirit: see the top of this file */
	sm_waitq_init(&g->range_done, "gru->range_done");
	g->mn.ops = &gru_mmuops;
	mmu_notifier_set_owner(&g->mn, g);
	ret = mmu_notifier_register(&g->mn, mm); /* takes mm_count */
	if (ret)
		goto err_free;
	return g;

err_free:
	sm_waitq_destroy(&g->range_done);
	sm_mutex_destroy(&g->lock);
	kfree(g);
	return ERR_PTR(ret);
}

void gru_destroy(struct gru *g)
{
	/* Runs ->release if exit did not, waits for callbacks, drops mm_count. */
	mmu_notifier_unregister(&g->mn, g->mn.mm);
	/*
	 * Every _start we saw has had its _end: unregister (and exit) wait for
	 * the open invalidations before they unhook us (unlike Linux, which
	 * unhooks at once and loses such an _end; the museum's
	 * release-unhooked-first found it, docs/museum.md). On Linux's own
	 * core (make KERNEL_NOTIFIER=...) that _end can be lost, as in the
	 * kernel: nothing waits on our TLB any more, so it is not a bug there.
	 */
#ifndef CONFIG_MMU_NOTIFIER
	BUG_ON(g->in_progress);
#endif
	sm_waitq_destroy(&g->range_done);
	sm_mutex_destroy(&g->lock);
	kfree(g);
}

void gru_get_stats(struct gru *g, struct gru_stats *st)
{
	memset(st, 0, sizeof(*st));
	sm_mutex_lock(&g->lock);
	for (int i = 0; i < GRU_TLB_ENTRIES; i++) {
		st->tlb += g->tlb[i].valid;
		st->young += g->tlb[i].valid && g->tlb[i].accessed;
	}
	st->misses = g->misses;
	st->flushes = g->flushes;
	sm_mutex_unlock(&g->lock);
	st->stale = atomic_load(&g->stale);
}
