// SPDX-License-Identifier: MIT
/*
 * The VM's shadow MMU: sptes, the shadow page fault, guest accesses, and the
 * MMU-notifier callbacks that keep the sptes coherent with the primary MMU
 * (after virt/kvm/kvm_main.c and arch/x86/kvm/mmu). Locking and references:
 * kvm_internal.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/kvm/kvm_internal.h"
#include "secmmu/kit/alloc.h"
#include "secmmu/kit/bugs.h"
#include "secmmu/gup.h"

static unsigned long spte_bucket(unsigned long gfn)
{
	return (gfn * 0x9e3779b97f4a7c15ULL) >> 52;
}

/* Caller holds mmu_lock (read or write) or spte_lock. */
static struct kvm_spte *spte_find(struct kvm *kvm, unsigned long gfn)
{
	struct kvm_spte *s;

	for (s = kvm->sptes[spte_bucket(gfn)]; s; s = s->next)
		if (s->gfn == gfn)
			return s;
	return NULL;
}

/*
 * The spte that translates @gfn: its own 4 KiB one, else the huge one of
 * its 2 MiB. Caller holds mmu_lock (read or write).
 */
static struct kvm_spte *spte_find_any(struct kvm *kvm, unsigned long gfn)
{
	struct kvm_spte *s = spte_find(kvm, gfn);

	if (!s && kvm->nr_huge_sptes)
		s = spte_find(kvm, SPTE_HUGE_KEY(gfn & ~(SPTE_HUGE_NR - 1)));
	return s;
}

/* Unlink and free *@pp. Caller holds mmu_lock for write and spte_lock. */
static void spte_drop(struct kvm *kvm, struct kvm_spte **pp)
{
	struct kvm_spte *s = *pp;

	lockdep_assert_held_write(&kvm->mmu_lock);
	lockdep_assert_held(&kvm->spte_lock);
	if (SPTE_KEY_HUGE(s->gfn))
		kvm->nr_huge_sptes--;
	*pp = s->next;
	if (s->page) {
		put_page(s->page); /* Pairs with get_user_pages_remote() in kvm_mmu_fault(). */
		kvm->nr_page_refs--;
	}
	kfree(s);
	kvm->nr_sptes--;
	atomic_fetch_add_explicit(&kvm->stat_zapped, 1, memory_order_relaxed);
}

/*
 * kvm_zap_gfn_range(): drop every spte of gfns [start, end). Caller holds
 * mmu_lock for write. There is no TLB to flush beyond that: a vCPU uses an
 * spte only under mmu_lock for read, so once the write lock is ours no vCPU
 * is inside an access through a zapped spte (the remote TLB flush's IPI).
 */
static int kvm_install_spte(struct kvm *kvm, unsigned long gfn, unsigned long pfn, uint32_t gen,
			    bool writable, struct page *page);

/* A huge spte taken off the hash by a partial invalidation, to split. */
struct huge_split {
	unsigned long hgfn, pfn;
	uint32_t gen;
	bool writable;
};

/*
 * Drop the huge sptes that [start, end) touches; those it covers only in part
 * are recorded in @split (up to @max) for the caller to split. Caller holds
 * mmu_lock for write and spte_lock.
 */
static unsigned long zap_huge_sptes(struct kvm *kvm, unsigned long start, unsigned long end,
				    struct huge_split *split, unsigned long max)
{
	unsigned long n = 0, hstart = start & ~(SPTE_HUGE_NR - 1);
	/* A short range: look up its 2 MiB keys; a long one: sweep every bucket. */
	bool sweep = (end - hstart) / SPTE_HUGE_NR >= KVM_SPTE_BUCKETS;
	unsigned long nb =
		sweep ? KVM_SPTE_BUCKETS : (end - hstart + SPTE_HUGE_NR - 1) / SPTE_HUGE_NR;

	for (unsigned long b = 0; b < nb && kvm->nr_huge_sptes; b++) {
		unsigned long key = SPTE_HUGE_KEY(hstart + b * SPTE_HUGE_NR);
		struct kvm_spte **pp = &kvm->sptes[sweep ? b : spte_bucket(key)];

		while (*pp) {
			struct kvm_spte *s = *pp;
			unsigned long hgfn = SPTE_KEY_GFN(s->gfn);

			if (!SPTE_KEY_HUGE(s->gfn) || (!sweep && s->gfn != key) ||
			    hgfn + SPTE_HUGE_NR <= start || hgfn >= end) {
				pp = &s->next;
				continue;
			}
			if ((hgfn < start || hgfn + SPTE_HUGE_NR > end) && n < max)
				split[n++] = (struct huge_split){hgfn, atomic_load(&s->pfn),
								 atomic_load(&s->gen),
								 atomic_load(&s->writable)};
			spte_drop(kvm, pp);
		}
	}
	return n;
}

/*
 * Split a huge spte a partial invalidation of [start, end) touched: the
 * pages outside the range keep their translation, now as 4 KiB sptes (the
 * frames are still the folio's: only the range's are changing). A page
 * whose frame is no longer that folio's gets none (it would be stale).
 * Caller holds mmu_lock for write, not spte_lock.
 */
static void split_huge_spte(struct kvm *kvm, const struct huge_split *h, unsigned long start,
			    unsigned long end)
{
	for (unsigned long i = 0; i < SPTE_HUGE_NR; i++) {
		unsigned long gfn = h->hgfn + i;

		if ((gfn >= start && gfn < end) || !folio_gen_valid(h->pfn, h->gen, i))
			continue;
		if (kvm_install_spte(kvm, gfn, h->pfn + i, page_gen(pfn_to_page(h->pfn + i)),
				     h->writable, NULL))
			break; /* no memory: the rest refaults */
	}
	atomic_fetch_add_explicit(&kvm->stat_huge_splits, 1, memory_order_relaxed);
}

static void kvm_zap_gfn_range(struct kvm *kvm, unsigned long start, unsigned long end)
{
	struct huge_split split[2]; /* only the two edges can be covered in part */
	unsigned long nsplit = 0;

	lockdep_assert_held_write(&kvm->mmu_lock);
	if (!kvm->nr_sptes || start >= end)
		return;
	sm_mutex_lock(&kvm->spte_lock);
	if (kvm->nr_huge_sptes)
		nsplit = zap_huge_sptes(kvm, start, end, split, 2);
	if (end - start <= KVM_SPTE_BUCKETS) {
		for (unsigned long gfn = start; gfn < end; gfn++) {
			struct kvm_spte **pp = &kvm->sptes[spte_bucket(gfn)];

			for (; *pp; pp = &(*pp)->next) {
				if ((*pp)->gfn == gfn) {
					spte_drop(kvm, pp);
					break;
				}
			}
		}
	} else {
		for (int b = 0; b < KVM_SPTE_BUCKETS; b++) {
			struct kvm_spte **pp = &kvm->sptes[b];

			while (*pp) {
				if (!SPTE_KEY_HUGE((*pp)->gfn) && (*pp)->gfn >= start &&
				    (*pp)->gfn < end)
					spte_drop(kvm, pp);
				else
					pp = &(*pp)->next;
			}
		}
	}
	sm_mutex_unlock(&kvm->spte_lock);
	for (unsigned long i = 0; i < nsplit; i++)
		split_huge_spte(kvm, &split[i], start, end);
}

/*
 * Install (or replace) the spte of @gfn. Caller holds mmu_lock for write.
 * @page is the reference to keep (KVM_VM_PIN) or NULL. Return: 0, -ENOMEM
 * (then @page's reference is still the caller's).
 */
static int kvm_install_spte(struct kvm *kvm, unsigned long gfn, unsigned long pfn, uint32_t gen,
			    bool writable, struct page *page)
{
	struct kvm_spte *s;

	lockdep_assert_held_write(&kvm->mmu_lock);
	s = spte_find(kvm, gfn);
	if (s) {
		if (s->page) {
			put_page(s->page);
			kvm->nr_page_refs--;
		}
	} else {
		s = kzalloc(sizeof(*s));
		if (!s)
			return -ENOMEM;
		s->gfn = gfn;
		sm_mutex_lock(&kvm->spte_lock);
		s->next = kvm->sptes[spte_bucket(gfn)];
		kvm->sptes[spte_bucket(gfn)] = s;
		sm_mutex_unlock(&kvm->spte_lock);
		kvm->nr_sptes++;
	}
	atomic_store(&s->pfn, pfn);
	atomic_store(&s->gen, gen);
	atomic_store(&s->writable, writable);
	atomic_store(&s->accessed, true);
	s->page = page;
	if (page)
		kvm->nr_page_refs++;
	return 0;
}

/* Caller holds mmu_lock or mn_invalidate_lock. */
static bool gfn_in_memslot(struct kvm *kvm, unsigned long gfn)
{
	return gfn >= kvm->slot_start && gfn < kvm->slot_end;
}

/*
 * Install a huge spte for the 2 MiB at @hgfn (aligned), mapping the folio
 * whose head is @pfn; the 4 KiB sptes it replaces go. Caller holds mmu_lock
 * for write. Return: 0 or -ENOMEM.
 */
static int kvm_install_huge_spte(struct kvm *kvm, unsigned long hgfn, unsigned long pfn,
				 uint32_t gen, bool writable)
{
	struct kvm_spte *s;

	lockdep_assert_held_write(&kvm->mmu_lock);
	s = spte_find(kvm, SPTE_HUGE_KEY(hgfn));
	if (!s) {
		s = kzalloc(sizeof(*s));
		if (!s)
			return -ENOMEM;
		s->gfn = SPTE_HUGE_KEY(hgfn);
		sm_mutex_lock(&kvm->spte_lock);
		for (unsigned long i = 0; i < SPTE_HUGE_NR && kvm->nr_sptes; i++) {
			struct kvm_spte **pp = &kvm->sptes[spte_bucket(hgfn + i)];

			for (; *pp; pp = &(*pp)->next)
				if ((*pp)->gfn == hgfn + i) {
					spte_drop(kvm, pp);
					break;
				}
		}
		s->next = kvm->sptes[spte_bucket(s->gfn)];
		kvm->sptes[spte_bucket(s->gfn)] = s;
		kvm->nr_sptes++;
		kvm->nr_huge_sptes++;
		sm_mutex_unlock(&kvm->spte_lock);
	}
	atomic_store(&s->pfn, pfn);
	atomic_store(&s->gen, gen);
	atomic_store(&s->writable, writable);
	atomic_store(&s->accessed, true);
	return 0;
}

/*
 * mmu_invalidate_retry_gfn() - must a fault that snapshotted @mmu_seq drop
 * what it resolved for @gfn?
 *
 * Yes if an invalidation whose range covers @gfn is in progress (the page
 * gup returned is still mapped, but will be freed without another
 * notification), or if any invalidation ended since the snapshot (it may
 * have freed that page). Caller holds mmu_lock; pairs with
 * kvm_mmu_invalidate_begin()/end(), which change both under it.
 */
static bool mmu_invalidate_retry_gfn(struct kvm *kvm, unsigned long mmu_seq, unsigned long gfn,
				     unsigned long nr)
{
	lockdep_assert_held(&kvm->mmu_lock);
	if (kvm->mmu_invalidate_in_progress && gfn + nr > kvm->mmu_invalidate_range_start &&
	    gfn < kvm->mmu_invalidate_range_end)
		return true;
	return atomic_load_explicit(&kvm->mmu_invalidate_seq, memory_order_relaxed) != mmu_seq;
}

/*
 * kvm_mmu_fault() - the shadow page fault for the page at @gpa
 *
 * Resolves the page through the primary MMU (get_user_pages_remote under
 * mmap_read_lock, breaking COW for a write), then installs the spte under
 * mmu_lock unless mmu_invalidate_retry_gfn() says an invalidation raced:
 * then it starts over, as a vCPU re-enters the guest and refaults. Takes
 * mm_users (mmget_not_zero) for the duration. In KVM_VM_PIN mode the gup
 * reference stays with the spte; otherwise it is dropped right after the
 * pfn and generation are read, exactly what KVM does with its "pfn".
 * Called with no lock held but possibly kvm->workload_lock. May sleep.
 *
 * Return: 0, -ESRCH (the mm has exited), -EFAULT, -ENOMEM.
 */
static int kvm_mmu_fault(struct kvm *kvm, unsigned long gpa, bool write)
{
	struct mm_struct *mm = kvm->mm;
	unsigned long gfn = gpa >> PAGE_SHIFT;
	bool pin = kvm->flags & KVM_VM_PIN;
	int ret;

	lockdep_assert_not_held(&kvm->mmu_lock);
	if (!mmget_not_zero_tracked(mm, kvm, KVM_FAULT_HOLDER))
		return -ESRCH; /* exit has begun: release zapped (or will zap) everything */
	sm_down_read(&kvm->mmu_lock);
	ret = gfn_in_memslot(kvm, gfn) ? 0 : -EFAULT; /* no memslot: KVM exits to userspace */
	sm_up_read(&kvm->mmu_lock);
	if (ret) {
		mmput_tracked(mm, kvm, KVM_FAULT_HOLDER);
		return ret;
	}
	for (;;) {
		unsigned long mmu_seq, pfn, hpfn = 0;
		unsigned int order = 0;
		struct page *page;
		uint32_t gen, hgen = 0;
		bool hwrite = false;
		long got;

		/* Pairs with the increment in kvm_mmu_invalidate_end(). */
		mmu_seq = atomic_load_explicit(&kvm->mmu_invalidate_seq, memory_order_acquire);
		mmap_read_lock(mm);
		got = get_user_pages_remote(mm, gpa, 1, write ? FOLL_WRITE : 0, &page);
		/*
		 * host_pfn_mapping_level(): a huge host PMD of this very folio
		 * lets the spte map 2 MiB (not in pin mode: one reference per page).
		 */
		if (got >= 0 && !pin &&
		    follow_pfn_order(mm, gpa, &hpfn, &hwrite, &hgen, &order) == 0 &&
		    (order != HPAGE_PMD_ORDER || (write && !hwrite) ||
		     page_to_pfn(page) != hpfn + (gfn & (SPTE_HUGE_NR - 1))))
			order = 0;
		mmap_read_unlock(mm);
		if (got < 0) {
			ret = (int)got;
			break;
		}
		pfn = page_to_pfn(page);
		gen = page_gen(page); /* read while our reference keeps the frame */
		if (!pin)
			put_page(page); /* no pin: the notifier keeps us coherent */

		sm_down_write(&kvm->mmu_lock);
		/* The museum's kvm-pfn-no-retry skips this check (base/bugs.h). */
		if (!pin && !historic_bug(BUG_KVM_PFN_NO_RETRY) &&
		    mmu_invalidate_retry_gfn(kvm, mmu_seq, order ? gfn & ~(SPTE_HUGE_NR - 1) : gfn,
					     order ? SPTE_HUGE_NR : 1)) {
			unsigned long cur = atomic_load(&kvm->mmu_invalidate_seq);
			bool running = kvm->mmu_invalidate_in_progress;

			sm_up_write(&kvm->mmu_lock);
			atomic_fetch_add_explicit(&kvm->stat_fault_retries, 1,
						  memory_order_relaxed);
			/*
			 * An invalidation is running: wait for an _end (it bumps the
			 * seq) instead of spinning; one that already ended: retry now.
			 */
			if (running)
				sm_wait_var_event(&kvm->mmu_invalidate_seq,
						  atomic_load(&kvm->mmu_invalidate_seq) != cur);
			continue;
		}
		if (!gfn_in_memslot(kvm, gfn)) { /* the memslot shrank meanwhile */
			ret = -EFAULT;
		} else if (order && gfn_in_memslot(kvm, gfn & ~(SPTE_HUGE_NR - 1)) &&
			   gfn_in_memslot(kvm, gfn | (SPTE_HUGE_NR - 1))) {
			ret = kvm_install_huge_spte(kvm, gfn & ~(SPTE_HUGE_NR - 1), hpfn, hgen,
						    write);
			if (!ret)
				atomic_fetch_add_explicit(&kvm->stat_huge_faults, 1,
							  memory_order_relaxed);
		} else {
			/* A huge spte only where the memslot holds all of it. */
			ret = kvm_install_spte(kvm, gfn, pfn, gen, write, pin ? page : NULL);
		}
		sm_up_write(&kvm->mmu_lock);
		if (ret && pin)
			put_page(page);
		if (!ret)
			atomic_fetch_add_explicit(&kvm->stat_faults, 1, memory_order_relaxed);
		break;
	}
	/* Pairs with mmget_not_zero() above; may run exit if it is the last. */
	mmput_tracked(mm, kvm, KVM_FAULT_HOLDER);
	return ret;
}

/* --- the pfn cache (a translation kept outside the shadow tables) ----------- */

/*
 * kvm_pfncache_refresh() - resolve the cached gfn again (KVM's
 * hva_to_pfn_retry() of a gfn_to_pfn_cache, or the APIC-access page reload)
 *
 * Like kvm_mmu_fault(): the page is resolved outside mmu_lock, then the
 * cache is filled under it unless mmu_invalidate_retry_gfn() says an
 * invalidation raced. The museum's kvm-gpc-refresh-race instead marks the
 * refresh in flight and fills the cache if no invalidation of the cache
 * itself was seen meanwhile (the 2022 gfn_to_pfn_cache). Called with no lock
 * held, maybe workload_lock. May sleep. Return: 0, -ESRCH, -EFAULT, -ENOMEM.
 */
static int kvm_pfncache_refresh(struct kvm *kvm, bool write)
{
	struct kvm_pfn_cache *gpc = &kvm->gpc;
	bool racy = historic_bug(BUG_KVM_GPC_REFRESH_RACE);
	struct mm_struct *mm = kvm->mm;
	int ret;

	if (!mmget_not_zero_tracked(mm, kvm, KVM_FAULT_HOLDER))
		return -ESRCH;
	for (;;) {
		unsigned long mmu_seq, pfn, gfn;
		struct page *page;
		uint32_t gen;
		long got;

		sm_down_write(&kvm->mmu_lock);
		gfn = gpc->gfn;
		gpc->refreshing = true; /* cleared by an invalidation of gfn */
		sm_up_write(&kvm->mmu_lock);
		/* Pairs with the increment in kvm_mmu_invalidate_end(). */
		mmu_seq = atomic_load_explicit(&kvm->mmu_invalidate_seq, memory_order_acquire);
		mmap_read_lock(mm);
		got = get_user_pages_remote(mm, gfn << PAGE_SHIFT, 1, write ? FOLL_WRITE : 0,
					    &page);
		mmap_read_unlock(mm);
		if (got < 0) {
			ret = (int)got;
			break;
		}
		pfn = page_to_pfn(page);
		gen = page_gen(page); /* read while our reference keeps the frame */
		put_page(page);

		sm_down_write(&kvm->mmu_lock);
		if (racy ? !gpc->refreshing : mmu_invalidate_retry_gfn(kvm, mmu_seq, gfn, 1)) {
			unsigned long cur = atomic_load(&kvm->mmu_invalidate_seq);
			bool running = kvm->mmu_invalidate_in_progress;

			sm_up_write(&kvm->mmu_lock);
			if (running)
				sm_wait_var_event(&kvm->mmu_invalidate_seq,
						  atomic_load(&kvm->mmu_invalidate_seq) != cur);
			continue;
		}
		gpc->refreshing = false;
		gpc->pfn = pfn;
		gpc->gen = gen;
		gpc->writable = write;
		gpc->valid = true;
		sm_up_write(&kvm->mmu_lock);
		ret = 0;
		break;
	}
	mmput_tracked(mm, kvm, KVM_FAULT_HOLDER); /* Pairs with mmget_not_zero_tracked() above. */
	return ret;
}

/* Caller holds mmu_lock for write: the cache of a gfn in [start, end) is stale. */
static void kvm_pfncache_invalidate(struct kvm *kvm, unsigned long start, unsigned long end)
{
	struct kvm_pfn_cache *gpc = &kvm->gpc;

	lockdep_assert_held_write(&kvm->mmu_lock);
	if (gpc->active && gpc->gfn >= start && gpc->gfn < end) {
		gpc->valid = false;
		gpc->refreshing = false;
	}
}

int kvm_pfncache_activate(struct kvm *kvm, unsigned long gpa)
{
	if (gpa & (PAGE_SIZE - 1))
		return -EINVAL;
	sm_down_write(&kvm->mmu_lock);
	kvm->gpc = (struct kvm_pfn_cache){.active = true, .gfn = gpa >> PAGE_SHIFT};
	sm_up_write(&kvm->mmu_lock);
	return 0;
}

/*
 * A guest access to the cached gfn: through the cached pfn, refreshed first
 * when invalid (or read-only for a write). The generation check catches a
 * cache that outlived its frame (-EIO). Return as kvm_guest_access_page().
 */
static int kvm_pfncache_access(struct kvm *kvm, unsigned long off, void *buf, size_t len,
			       bool write, unsigned long *pfnp)
{
	struct kvm_pfn_cache *gpc = &kvm->gpc;

	for (;;) {
		int ret;

		sm_down_read(&kvm->mmu_lock);
		if (gpc->valid && (!write || gpc->writable)) {
			char *frame;

			if (!page_gen_valid(gpc->pfn, gpc->gen)) {
				unsigned long pfn = gpc->pfn;

				sm_up_read(&kvm->mmu_lock);
				atomic_fetch_add(&kvm->stat_stale, 1);
				phys_report_stale(pfn, "kvm pfn cache");
				return -EIO;
			}
			frame = (char *)page_address(pfn_to_page(gpc->pfn)) + off;
			if (write)
				copy_frame_data(frame, buf, len);
			else
				copy_frame_data(buf, frame, len);
			if (pfnp)
				*pfnp = gpc->pfn;
			sm_up_read(&kvm->mmu_lock);
			return 0;
		}
		sm_up_read(&kvm->mmu_lock);
		ret = kvm_pfncache_refresh(kvm, write);
		if (ret)
			return ret;
	}
}

int kvm_guest_access_page(struct kvm *kvm, unsigned long gpa, void *buf, size_t len, bool write,
			  unsigned long *pfnp)
{
	unsigned long gfn = gpa >> PAGE_SHIFT, off = gpa & (PAGE_SIZE - 1);
	bool cached;

	sm_down_read(&kvm->mmu_lock);
	cached = kvm->gpc.active && kvm->gpc.gfn == gfn;
	sm_up_read(&kvm->mmu_lock);
	if (cached)
		return kvm_pfncache_access(kvm, off, buf, len, write, pfnp);
	for (;;) {
		struct kvm_spte *s;
		int ret;

		sm_down_read(&kvm->mmu_lock);
		s = spte_find_any(kvm, gfn);
		if (s && (!write || atomic_load(&s->writable))) {
			unsigned long pfn = atomic_load(&s->pfn);
			bool valid;
			char *frame;

			if (SPTE_KEY_HUGE(s->gfn)) {
				unsigned long idx = gfn & (SPTE_HUGE_NR - 1);

				valid = folio_gen_valid(pfn, atomic_load(&s->gen), idx);
				pfn += idx;
			} else {
				valid = page_gen_valid(pfn, atomic_load(&s->gen));
			}
			if (!valid) {
				sm_up_read(&kvm->mmu_lock);
				atomic_fetch_add(&kvm->stat_stale, 1);
				phys_report_stale(pfn, "kvm");
				return -EIO;
			}
			frame = (char *)page_address(pfn_to_page(pfn)) + off;
			if (write)
				copy_frame_data(frame, buf, len);
			else
				copy_frame_data(buf, frame, len);
			atomic_store_explicit(&s->accessed, true, memory_order_relaxed);
			sm_up_read(&kvm->mmu_lock);
			if (pfnp)
				*pfnp = pfn;
			return 0;
		}
		sm_up_read(&kvm->mmu_lock);
		ret = kvm_mmu_fault(kvm, gpa & PAGE_MASK, write);
		if (ret)
			return ret;
	}
}

/* --- the MMU notifier --------------------------------------------------- */

static struct kvm *mn_to_kvm(struct mmu_notifier *mn)
{
	return container_of(mn, struct kvm, mmu_notifier);
}

/* Does the gfn range [start, end) meet the memslot? Caller holds mn_invalidate_lock. */
static bool range_in_memslot(struct kvm *kvm, unsigned long start, unsigned long end)
{
	lockdep_assert_held(&kvm->mn_invalidate_lock);
	return start < kvm->slot_end && end > kvm->slot_start;
}

/* kvm_mmu_invalidate_begin() + range_add(). Caller holds mmu_lock for write. */
static void kvm_mmu_invalidate_begin(struct kvm *kvm, unsigned long start, unsigned long end)
{
	lockdep_assert_held_write(&kvm->mmu_lock);
	if (kvm->mmu_invalidate_in_progress++ == 0) {
		kvm->mmu_invalidate_range_start = start;
		kvm->mmu_invalidate_range_end = end;
		return;
	}
	/* Overlapping invalidations: cover their union until all have ended. */
	if (start < kvm->mmu_invalidate_range_start)
		kvm->mmu_invalidate_range_start = start;
	if (end > kvm->mmu_invalidate_range_end)
		kvm->mmu_invalidate_range_end = end;
}

/* Caller holds mmu_lock for write. */
static void kvm_mmu_invalidate_end(struct kvm *kvm)
{
	lockdep_assert_held_write(&kvm->mmu_lock);
	/*
	 * The seq is bumped before in_progress drops, so that a fault that
	 * snapshotted the old seq retries even after in_progress reaches 0.
	 * Pairs with the acquire load in kvm_mmu_fault().
	 */
	atomic_fetch_add_explicit(&kvm->mmu_invalidate_seq, 1, memory_order_release);
	BUG_ON(kvm->mmu_invalidate_in_progress <= 0);
	kvm->mmu_invalidate_in_progress--;
	sm_wake_up_var(&kvm->mmu_invalidate_seq); /* Pairs with the wait in kvm_mmu_fault(). */
}

/*
 * kvm_mmu_notifier_invalidate_range_start(): every page of the range is
 * still mapped; from here until _end no fault may map any of them. Never
 * fails: mmu_lock is held only for bounded sections, as Linux's rwlock.
 */
static int kvm_mmu_notifier_invalidate_range_start(struct mmu_notifier *mn,
						   const struct mmu_notifier_range *range)
{
	struct kvm *kvm = mn_to_kvm(mn);
	unsigned long start = range->start >> PAGE_SHIFT, end = range->end >> PAGE_SHIFT;

	bool hit;

	atomic_fetch_add_explicit(&kvm->stat_invalidations, 1, memory_order_relaxed);
	if (range->event == MMU_NOTIFY_UNMAP || range->event == MMU_NOTIFY_RELEASE)
		kvm_shadow_forget(kvm, range->start, range->end);
	else
		kvm_shadow_unlink(kvm, range->start, range->end); /* the frames may change */
	if (kvm->flags & KVM_VM_BROKEN)
		return 0;
	/*
	 * Count every invalidation, so that a memslot update waits for its end;
	 * take mmu_lock only when the range meets the memslot. _end decides
	 * again: the two decisions agree because the memslot cannot change in
	 * between (52ac8b358b0c).
	 */
	sm_mutex_lock(&kvm->mn_invalidate_lock);
	kvm->mn_active_invalidate_count++;
	hit = range_in_memslot(kvm, start, end);
	sm_mutex_unlock(&kvm->mn_invalidate_lock);
	if (!hit)
		return 0;
	if (historic_bug(BUG_KVM_GPC_REFRESH_RACE)) {
		/* 2022: the pfn caches were invalidated before the count was raised. */
		sm_down_write(&kvm->mmu_lock);
		kvm_pfncache_invalidate(kvm, start, end);
		sm_up_write(&kvm->mmu_lock);
	}
	sm_down_write(&kvm->mmu_lock);
	kvm_mmu_invalidate_begin(kvm, start, end);
	kvm_zap_gfn_range(kvm, start, end);
	/*
	 * The pfn cache after the count is raised, so that a refresh that
	 * resolved the old page retries (mmu_invalidate_retry_gfn()). The
	 * museum's kvm-apic-invalidate-page leaves it alone: its reload was
	 * hooked to the removed invalidate_page callback.
	 */
	if (!historic_bug(BUG_KVM_APIC_INVALIDATE_PAGE))
		kvm_pfncache_invalidate(kvm, start, end);
	sm_up_write(&kvm->mmu_lock);
	return 0;
}

/* Pairs with kvm_mmu_notifier_invalidate_range_start(). */
static void kvm_mmu_notifier_invalidate_range_end(struct mmu_notifier *mn,
						  const struct mmu_notifier_range *range)
{
	struct kvm *kvm = mn_to_kvm(mn);
	unsigned long start = range->start >> PAGE_SHIFT, end = range->end >> PAGE_SHIFT;
	bool hit;

	if (kvm->flags & KVM_VM_BROKEN)
		return;
	sm_mutex_lock(&kvm->mn_invalidate_lock);
	hit = range_in_memslot(kvm, start, end);
	sm_mutex_unlock(&kvm->mn_invalidate_lock);
	if (hit) {
		sm_down_write(&kvm->mmu_lock);
		kvm_mmu_invalidate_end(kvm);
		sm_up_write(&kvm->mmu_lock);
	}
	sm_mutex_lock(&kvm->mn_invalidate_lock);
	/* Pairs with the wait in kvm_set_memslot(). */
	if (--kvm->mn_active_invalidate_count == 0)
		sm_wake_up_all(&kvm->mn_memslots_update);
	sm_mutex_unlock(&kvm->mn_invalidate_lock);
}

int kvm_set_memslot(struct kvm *kvm, unsigned long gpa, unsigned long len)
{
	unsigned long start = gpa >> PAGE_SHIFT, end;

	if (!len || (gpa | len) & (PAGE_SIZE - 1) || gpa + len < gpa)
		return -EINVAL;
	end = (gpa + len) >> PAGE_SHIFT;
	sm_mutex_lock(&kvm->mn_invalidate_lock);
	/*
	 * No update while an invalidation is between start and end: they must
	 * see the same memslot. The museum's kvm-memslot-mid-invalidate does
	 * not wait.
	 */
	if (!historic_bug(BUG_KVM_MEMSLOT_MID_INVALIDATE))
		sm_wait_event(&kvm->mn_memslots_update, &kvm->mn_invalidate_lock,
			      !kvm->mn_active_invalidate_count);
	sm_down_write(&kvm->mmu_lock);
	kvm->slot_start = start;
	kvm->slot_end = end;
	/* What left the memslot is no longer guest memory. */
	kvm_zap_gfn_range(kvm, 0, start);
	kvm_zap_gfn_range(kvm, end, ~0UL);
	sm_up_write(&kvm->mmu_lock);
	sm_mutex_unlock(&kvm->mn_invalidate_lock);
	return 0;
}

/*
 * The legacy change_pte: the PTE at @address now maps @pfn. Called under the
 * page-table lock between invalidate_range_start and _end, so it takes only
 * spte_lock (ranked above the PTL), and finds nothing in a correct VM:
 * start already zapped the spte and no fault can install one before _end.
 * That is the reason Linux 6.10 removed the callback, and this VM registers
 * it only with the museum's kvm-change-pte-dead on: the count of calls and of
 * hits (an spte really updated) makes the dead callback visible. Not built
 * against a notifier core without the callback (make KERNEL_NOTIFIER=6.12).
 */
#ifdef MMU_NOTIFIER_HAS_CHANGE_PTE
static void kvm_mmu_notifier_change_pte(struct mmu_notifier *mn, struct mm_struct *mm,
					unsigned long address, unsigned long pfn, bool writable)
{
	struct kvm *kvm = mn_to_kvm(mn);
	struct page *page = pfn_to_page(pfn);
	struct kvm_spte *s;

	(void)mm;
	atomic_fetch_add_explicit(&kvm->stat_change_pte_calls, 1, memory_order_relaxed);
	sm_mutex_lock(&kvm->spte_lock);
	s = spte_find(kvm, address >> PAGE_SHIFT);
	if (s && page) {
		atomic_store(&s->gen, page_gen(page));
		atomic_store(&s->pfn, pfn);
		atomic_store(&s->writable, writable);
		atomic_fetch_add_explicit(&kvm->stat_change_pte_hits, 1, memory_order_relaxed);
	}
	sm_mutex_unlock(&kvm->spte_lock);
}
#endif

/* Accessed bits of gfns [start, end), cleared if @clear. Return: how many were set. */
static int kvm_age_gfn_range(struct kvm *kvm, unsigned long start, unsigned long end, bool clear)
{
	int young = 0;

	sm_down_read(&kvm->mmu_lock);
	for (unsigned long gfn = start; gfn < end && kvm->nr_sptes; gfn++) {
		struct kvm_spte *s = spte_find_any(kvm, gfn);

		if (!s)
			continue;
		if (clear ? atomic_exchange(&s->accessed, false) : atomic_load(&s->accessed))
			young++;
	}
	sm_up_read(&kvm->mmu_lock);
	if (young)
		atomic_fetch_add_explicit(&kvm->stat_young, 1, memory_order_relaxed);
	return young;
}

/*
 * Aging (kvm_mmu_notifier_clear_flush_young and friends): reclaim asks
 * whether the guest used the page lately. Clearing an accessed bit needs no
 * flush here: the next vCPU access sets it again under mmu_lock. They take
 * mmu_lock for read briefly and never wait for anything else.
 */
static int kvm_mmu_notifier_clear_flush_young(struct mmu_notifier *mn, struct mm_struct *mm,
					      unsigned long start, unsigned long end)
{
	(void)mm;
	return kvm_age_gfn_range(mn_to_kvm(mn), start >> PAGE_SHIFT,
				 (end + PAGE_SIZE - 1) >> PAGE_SHIFT, true);
}

static int kvm_mmu_notifier_test_young(struct mmu_notifier *mn, struct mm_struct *mm,
				       unsigned long address)
{
	(void)mm;
	return kvm_age_gfn_range(mn_to_kvm(mn), address >> PAGE_SHIFT, (address >> PAGE_SHIFT) + 1,
				 false);
}

/*
 * kvm_mmu_notifier_release(): the mm is exiting (or the VM unregisters).
 * Every spte goes before any page is freed; later faults fail with -ESRCH
 * (mmget_not_zero). A KVM_VM_BROKEN VM ignores it, too.
 */
static void kvm_mmu_notifier_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct kvm *kvm = mn_to_kvm(mn);

	(void)mm;
	if (kvm->flags & KVM_VM_BROKEN)
		return;
	sm_down_write(&kvm->mmu_lock);
	kvm_zap_gfn_range(kvm, 0, ~0UL);
	kvm_pfncache_invalidate(kvm, 0, ~0UL);
	sm_up_write(&kvm->mmu_lock);
}

/* Linux >= 6.10: no change_pte. */
static const struct mmu_notifier_ops kvm_mmu_notifier_ops = {
	.release = kvm_mmu_notifier_release,
	.clear_flush_young = kvm_mmu_notifier_clear_flush_young,
	.clear_young = kvm_mmu_notifier_clear_flush_young,
	.test_young = kvm_mmu_notifier_test_young,
	.invalidate_range_start = kvm_mmu_notifier_invalidate_range_start,
	.invalidate_range_end = kvm_mmu_notifier_invalidate_range_end,
};

#ifdef MMU_NOTIFIER_HAS_CHANGE_PTE
/* The museum's kvm-change-pte-dead: the same, with the legacy change_pte. */
static const struct mmu_notifier_ops kvm_mmu_notifier_ops_change_pte = {
	.release = kvm_mmu_notifier_release,
	.clear_flush_young = kvm_mmu_notifier_clear_flush_young,
	.clear_young = kvm_mmu_notifier_clear_flush_young,
	.test_young = kvm_mmu_notifier_test_young,
	.change_pte = kvm_mmu_notifier_change_pte,
	.invalidate_range_start = kvm_mmu_notifier_invalidate_range_start,
	.invalidate_range_end = kvm_mmu_notifier_invalidate_range_end,
};
#endif

/*
 * kvm_mmu_init() - set up the shadow MMU and, unless KVM_VM_PIN, register
 * the notifier (kvm_init_mmu_notifier). The caller holds mm_users on
 * kvm->mm. Return: 0 or mmu_notifier_register()'s error.
 */
int kvm_mmu_init(struct kvm *kvm)
{
	int ret;

	sm_rwsem_init(&kvm->mmu_lock, "kvm->mmu_lock", LOCK_RANK_DRIVER_MMU);
	sm_rwsem_set_spin(&kvm->mmu_lock); /* KVM's is an rwlock_t: taken in non-blocking context */
	sm_mutex_init(&kvm->spte_lock, "kvm->spte_lock", LOCK_RANK_DEVICE_TLB);
	sm_mutex_init(&kvm->mn_invalidate_lock, "kvm->mn_invalidate_lock",
		      LOCK_RANK_DRIVER_NOTIFIER);
	sm_mutex_set_spin(&kvm->mn_invalidate_lock); /* a spinlock in Linux */
	sm_waitq_init(&kvm->mn_memslots_update, "kvm->mn_memslots_update");
	kvm->slot_start = 0;
	kvm->slot_end = ~0UL;
	if (kvm->flags & KVM_VM_PIN)
		return 0;
	kvm->mmu_notifier.ops = &kvm_mmu_notifier_ops;
	mmu_notifier_set_owner(&kvm->mmu_notifier, kvm);
#ifdef MMU_NOTIFIER_HAS_CHANGE_PTE
	if (historic_bug(BUG_KVM_CHANGE_PTE_DEAD))
		kvm->mmu_notifier.ops = &kvm_mmu_notifier_ops_change_pte;
#endif
	ret = mmu_notifier_register(&kvm->mmu_notifier, kvm->mm);
	if (ret)
		goto err_locks;
	return 0;

err_locks:
	sm_waitq_destroy(&kvm->mn_memslots_update);
	sm_mutex_destroy(&kvm->mn_invalidate_lock);
	sm_mutex_destroy(&kvm->spte_lock);
	sm_rwsem_destroy(&kvm->mmu_lock);
	return ret;
}

/*
 * kvm_mmu_destroy() - unregister (->release if exit has not run it: every
 * spte zapped; waits for running callbacks), then drop whatever is left:
 * the page references of a KVM_VM_PIN VM, the sptes of a broken one.
 */
void kvm_mmu_destroy(struct kvm *kvm)
{
	if (!(kvm->flags & KVM_VM_PIN))
		mmu_notifier_unregister(&kvm->mmu_notifier, kvm->mm);
	sm_down_write(&kvm->mmu_lock);
	kvm_zap_gfn_range(kvm, 0, ~0UL);
	sm_up_write(&kvm->mmu_lock);
	sm_waitq_destroy(&kvm->mn_memslots_update);
	sm_mutex_destroy(&kvm->mn_invalidate_lock);
	sm_mutex_destroy(&kvm->spte_lock);
	sm_rwsem_destroy(&kvm->mmu_lock);
}

unsigned long kvm_nr_sptes(struct kvm *kvm)
{
	unsigned long n;

	sm_down_read(&kvm->mmu_lock);
	n = kvm->nr_sptes;
	sm_up_read(&kvm->mmu_lock);
	return n;
}

long kvm_mmu_invalidate_in_progress(struct kvm *kvm)
{
	long n;

	sm_down_read(&kvm->mmu_lock);
	n = kvm->mmu_invalidate_in_progress;
	sm_up_read(&kvm->mmu_lock);
	return n;
}

void kvm_get_stats(struct kvm *kvm, struct kvm_stats *st)
{
	sm_down_read(&kvm->mmu_lock);
	st->sptes = kvm->nr_sptes;
	st->page_refs = kvm->nr_page_refs;
	sm_up_read(&kvm->mmu_lock);
	st->faults = atomic_load(&kvm->stat_faults);
	st->fault_retries = atomic_load(&kvm->stat_fault_retries);
	st->invalidations = atomic_load(&kvm->stat_invalidations);
	st->zapped = atomic_load(&kvm->stat_zapped);
	st->change_pte_calls = atomic_load(&kvm->stat_change_pte_calls);
	st->change_pte_hits = atomic_load(&kvm->stat_change_pte_hits);
	st->young = atomic_load(&kvm->stat_young);
	st->stale = atomic_load(&kvm->stat_stale);
	st->mismatches = atomic_load(&kvm->stat_mismatches);
	sm_down_read(&kvm->mmu_lock);
	st->huge_sptes = kvm->nr_huge_sptes;
	sm_up_read(&kvm->mmu_lock);
	st->huge_faults = atomic_load(&kvm->stat_huge_faults);
	st->huge_splits = atomic_load(&kvm->stat_huge_splits);
}
