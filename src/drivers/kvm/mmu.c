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

/* Unlink and free *@pp. Caller holds mmu_lock for write and spte_lock. */
static void spte_drop(struct kvm *kvm, struct kvm_spte **pp)
{
	struct kvm_spte *s = *pp;

	lockdep_assert_held_write(&kvm->mmu_lock);
	lockdep_assert_held(&kvm->spte_lock);
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
static void kvm_zap_gfn_range(struct kvm *kvm, unsigned long start, unsigned long end)
{
	lockdep_assert_held_write(&kvm->mmu_lock);
	if (!kvm->nr_sptes || start >= end)
		return;
	sm_mutex_lock(&kvm->spte_lock);
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
				if ((*pp)->gfn >= start && (*pp)->gfn < end)
					spte_drop(kvm, pp);
				else
					pp = &(*pp)->next;
			}
		}
	}
	sm_mutex_unlock(&kvm->spte_lock);
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
static bool mmu_invalidate_retry_gfn(struct kvm *kvm, unsigned long mmu_seq, unsigned long gfn)
{
	lockdep_assert_held(&kvm->mmu_lock);
	if (kvm->mmu_invalidate_in_progress && gfn >= kvm->mmu_invalidate_range_start &&
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
	for (;;) {
		unsigned long mmu_seq, pfn;
		struct page *page;
		uint32_t gen;
		long got;

		/* Pairs with the increment in kvm_mmu_invalidate_end(). */
		mmu_seq = atomic_load_explicit(&kvm->mmu_invalidate_seq, memory_order_acquire);
		mmap_read_lock(mm);
		got = get_user_pages_remote(mm, gpa, 1, write ? FOLL_WRITE : 0, &page);
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
		if (!pin && mmu_invalidate_retry_gfn(kvm, mmu_seq, gfn)) {
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
		ret = kvm_install_spte(kvm, gfn, pfn, gen, write, pin ? page : NULL);
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

int kvm_guest_access_page(struct kvm *kvm, unsigned long gpa, void *buf, size_t len, bool write)
{
	unsigned long gfn = gpa >> PAGE_SHIFT, off = gpa & (PAGE_SIZE - 1);

	for (;;) {
		struct kvm_spte *s;
		int ret;

		sm_down_read(&kvm->mmu_lock);
		s = spte_find(kvm, gfn);
		if (s && (!write || atomic_load(&s->writable))) {
			unsigned long pfn = atomic_load(&s->pfn);
			char *frame;

			if (!page_gen_valid(pfn, atomic_load(&s->gen))) {
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

	atomic_fetch_add_explicit(&kvm->stat_invalidations, 1, memory_order_relaxed);
	if (range->event == MMU_NOTIFY_UNMAP || range->event == MMU_NOTIFY_RELEASE)
		kvm_shadow_forget(kvm, range->start, range->end);
	if (kvm->flags & KVM_VM_BROKEN)
		return 0;
	sm_down_write(&kvm->mmu_lock);
	kvm_mmu_invalidate_begin(kvm, start, end);
	kvm_zap_gfn_range(kvm, start, end);
	sm_up_write(&kvm->mmu_lock);
	return 0;
}

/* Pairs with kvm_mmu_notifier_invalidate_range_start(). */
static void kvm_mmu_notifier_invalidate_range_end(struct mmu_notifier *mn,
						  const struct mmu_notifier_range *range)
{
	struct kvm *kvm = mn_to_kvm(mn);

	(void)range;
	if (kvm->flags & KVM_VM_BROKEN)
		return;
	sm_down_write(&kvm->mmu_lock);
	kvm_mmu_invalidate_end(kvm);
	sm_up_write(&kvm->mmu_lock);
}

/*
 * The legacy change_pte: the PTE at @address now maps @pfn. Called under the
 * page-table lock between invalidate_range_start and _end, so it takes only
 * spte_lock (ranked above the PTL), and finds nothing in a correct VM:
 * start already zapped the spte and no fault can install one before _end.
 * That is the reason Linux 6.10 removed the callback. The count of calls
 * and of hits (an spte really updated) makes that visible. Not built
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
		struct kvm_spte *s = spte_find(kvm, gfn);

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
	sm_up_write(&kvm->mmu_lock);
}

static const struct mmu_notifier_ops kvm_mmu_notifier_ops = {
	.release = kvm_mmu_notifier_release,
	.clear_flush_young = kvm_mmu_notifier_clear_flush_young,
	.clear_young = kvm_mmu_notifier_clear_flush_young,
	.test_young = kvm_mmu_notifier_test_young,
#ifdef MMU_NOTIFIER_HAS_CHANGE_PTE
	.change_pte = kvm_mmu_notifier_change_pte,
#endif
	.invalidate_range_start = kvm_mmu_notifier_invalidate_range_start,
	.invalidate_range_end = kvm_mmu_notifier_invalidate_range_end,
};

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
	if (kvm->flags & KVM_VM_PIN)
		return 0;
	kvm->mmu_notifier.ops = &kvm_mmu_notifier_ops;
	mmu_notifier_set_owner(&kvm->mmu_notifier, kvm);
	ret = mmu_notifier_register(&kvm->mmu_notifier, kvm->mm);
	if (ret)
		goto err_locks;
	return 0;

err_locks:
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
}
