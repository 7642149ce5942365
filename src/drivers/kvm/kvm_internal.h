/* SPDX-License-Identifier: MIT */
/*
 * The KVM-style VM, shared between the shadow MMU (mmu.c) and the VM/vCPU
 * objects (kvm_main.c). See include/secmmu/kvm.h.
 *
 * Locking (outermost first):
 *   kvm->workload_lock  LOCK_RANK_DRIVER     kvm_vcpu_run() and guest writes:
 *                                            a guest write and its shadow-copy
 *                                            update are one step; held across
 *                                            calls into mm (faults)
 *   mm->mmap_lock       LOCK_RANK_MMAP       the fault path, for gup only;
 *                                            never taken under mmu_lock
 *   kvm->mn_invalidate_lock LOCK_RANK_DRIVER_NOTIFIER
 *                                            mn_active_invalidate_count and
 *                                            the memslot (with mmu_lock: a
 *                                            memslot update holds both);
 *                                            taken by invalidate_range_start
 *                                            and _end around, never inside,
 *                                            their mmu_lock sections
 *   kvm->mmu_lock       LOCK_RANK_DRIVER_MMU rwsem. Write: installs, zaps,
 *                                            mmu_invalidate_in_progress and
 *                                            the in-progress range, seq bumps.
 *                                            Read: a vCPU access (lookup +
 *                                            one page memcpy), aging, stats.
 *                                            Taken inside notifier callbacks.
 *                                            Held only for bounded sections
 *                                            (it stands for Linux's rwlock):
 *                                            a start that waits for it waits
 *                                            for one memcpy at most.
 *   kvm->spte_lock      LOCK_RANK_DEVICE_TLB the spte hash chains, for the
 *                                            legacy change_pte callback, which
 *                                            runs under the page-table lock
 *                                            and so cannot take mmu_lock.
 *                                            Chains change only under both
 *                                            locks; spte fields are atomics.
 *   kvm->shadow_lock    LOCK_RANK_LEAF       the shadow copy (workload oracle)
 *
 * References: kvm->mm holds mm_count (mmgrab) for the VM's lifetime; the
 * registered notifier holds another (not in KVM_VM_PIN mode). A fault holds
 * mm_users (mmget_not_zero) only while it resolves. A KVM_VM_PIN spte holds
 * one page reference (get_page through get_user_pages_remote).
 */
#ifndef SECMMU_DRIVERS_KVM_INTERNAL_H
#define SECMMU_DRIVERS_KVM_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "secmmu/kit/lock.h"
#include "secmmu/kit/thread.h"
#include "secmmu/kit/wait.h"
#include "secmmu/kvm.h"
#include "secmmu/mmu_notifier.h"

/* Short mm_users references in the mm's tracker, owner the struct kvm. */
#define KVM_FAULT_HOLDER "kvm fault"
#define KVM_RUN_HOLDER	 "kvm run"

#define KVM_SPTE_BUCKETS   4096
#define KVM_SHADOW_BUCKETS 1024
#define KVM_MAX_VCPUS	   64

/*
 * A huge spte maps the 2 MiB at gfn (aligned) to the folio at pfn (its
 * head) and gen is the head's generation (folio_gen_valid()); it is hashed
 * under SPTE_HUGE_KEY(gfn), so a 4 KiB spte and a huge one never collide.
 */
#define SPTE_HUGE_NR	 512UL
#define SPTE_HUGE_KEY(g) ((g) | (1UL << 63))
#define SPTE_KEY_GFN(k)	 ((k) & ~(1UL << 63))
#define SPTE_KEY_HUGE(k) (((k) >> 63) != 0)

struct kvm_spte {
	struct kvm_spte *next; /* under mmu_lock(write) + spte_lock */
	unsigned long gfn;     /* the hash key: a gfn, or SPTE_HUGE_KEY(aligned gfn) */
	_Atomic unsigned long pfn;
	_Atomic uint32_t gen;
	_Atomic bool writable;
	_Atomic bool accessed; /* the guest used it since the last aging pass */
	struct page *page;     /* KVM_VM_PIN: the reference this spte holds */
};

/*
 * What the guest expects of one guest page (the workload's oracle), under
 * kvm->shadow_lock. @pfn links aliases: two guest pages reached through the
 * same host frame (a file or shared page mapped twice) are one memory, so a
 * guest write through one is expected through the other. It is the frame of
 * the last access and is cleared (0, unknown) by every invalidation of @gfn,
 * which must come before the frame behind @gfn can change.
 */
struct kvm_shadow_page {
	struct kvm_shadow_page *next;
	unsigned long gfn;
	unsigned long pfn;
	unsigned char data[PAGE_SIZE];
};

/*
 * A translation cached outside the shadow tables (KVM's gfn_to_pfn_cache, and
 * the APIC-access page address cached in the VMCS): while @active, every
 * guest access to @gfn goes through @pfn instead of an spte. Fields under
 * mmu_lock (write to change, read to use); see kvm_pfncache_activate().
 */
struct kvm_pfn_cache {
	bool active;
	bool valid;	 /* @pfn/@gen may be used; cleared by invalidations of @gfn */
	bool refreshing; /* kvm-gpc-refresh-race: a refresh in flight, no invalidation seen */
	bool writable;
	unsigned long gfn;
	unsigned long pfn;
	uint32_t gen;
};

struct kvm {
	struct mmu_notifier mmu_notifier;
	struct mm_struct *mm; /* mm_count held (mmgrab) */
	unsigned int flags;
	char name[32]; /* for trace track names; set at create, then read-only */

	struct sm_rwsem mmu_lock;
	struct sm_mutex spte_lock;
	struct kvm_spte *sptes[KVM_SPTE_BUCKETS];
	unsigned long nr_sptes;
	unsigned long nr_page_refs;

	/* Under mmu_lock(write); the seq is also read locklessly by faults. */
	long mmu_invalidate_in_progress;
	_Atomic unsigned long mmu_invalidate_seq;
	unsigned long mmu_invalidate_range_start; /* gfn range of in-progress invalidations */
	unsigned long mmu_invalidate_range_end;

	struct kvm_pfn_cache gpc; /* under mmu_lock */

	/*
	 * The memslot: guest pages [slot_start, slot_end) (gfns); the whole
	 * address space unless kvm_set_memslot() narrowed it. Written under
	 * mn_invalidate_lock and mmu_lock(write); read under either.
	 * mn_active_invalidate_count: invalidations between start and end
	 * (whether or not they touch the memslot), under mn_invalidate_lock; a
	 * memslot update waits on mn_memslots_update until it is 0.
	 */
	struct sm_mutex mn_invalidate_lock;
	struct sm_waitq mn_memslots_update;
	unsigned long mn_active_invalidate_count;
	unsigned long slot_start, slot_end;

	struct sm_mutex workload_lock;
	struct sm_mutex shadow_lock;
	struct kvm_shadow_page *shadow[KVM_SHADOW_BUCKETS];

	struct sm_mutex vcpus_lock; /* LOCK_RANK_LEAF: the vCPU array */
	struct kvm_vcpu *vcpus[KVM_MAX_VCPUS];
	int nr_vcpus;

	_Atomic unsigned long stat_faults;
	_Atomic unsigned long stat_fault_retries;
	_Atomic unsigned long stat_invalidations;
	_Atomic unsigned long stat_zapped;
	_Atomic unsigned long stat_change_pte_calls;
	_Atomic unsigned long stat_change_pte_hits;
	_Atomic unsigned long stat_young;
	_Atomic unsigned long stat_stale;
	_Atomic unsigned long stat_mismatches;
	_Atomic unsigned long stat_huge_faults; /* huge sptes installed */
	_Atomic unsigned long stat_huge_splits; /* huge sptes split by a partial invalidation */
	unsigned long nr_huge_sptes;		/* under mmu_lock(write) + spte_lock */
};

/* mmu.c */
int kvm_mmu_init(struct kvm *kvm);
void kvm_mmu_destroy(struct kvm *kvm);
/*
 * One guest access inside one page. May sleep. @pfnp (may be NULL): the host
 * frame accessed. Return: 0 or -errno.
 */
int kvm_guest_access_page(struct kvm *kvm, unsigned long gpa, void *buf, size_t len, bool write,
			  unsigned long *pfnp);

/* kvm_main.c: the workload oracle, called by mmu.c's invalidate callback */
void kvm_shadow_forget(struct kvm *kvm, unsigned long start, unsigned long end);
void kvm_shadow_unlink(struct kvm *kvm, unsigned long start, unsigned long end);

#endif /* SECMMU_DRIVERS_KVM_INTERNAL_H */
