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

struct kvm_spte {
	struct kvm_spte *next; /* under mmu_lock(write) + spte_lock */
	unsigned long gfn;
	_Atomic unsigned long pfn;
	_Atomic uint32_t gen;
	_Atomic bool writable;
	_Atomic bool accessed; /* the guest used it since the last aging pass */
	struct page *page;     /* KVM_VM_PIN: the reference this spte holds */
};

struct kvm_shadow_page {
	struct kvm_shadow_page *next;
	unsigned long gfn;
	unsigned char data[PAGE_SIZE];
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
};

/* mmu.c */
int kvm_mmu_init(struct kvm *kvm);
void kvm_mmu_destroy(struct kvm *kvm);
/* One guest access inside one page. May sleep. Return: 0 or -errno. */
int kvm_guest_access_page(struct kvm *kvm, unsigned long gpa, void *buf, size_t len, bool write);

/* kvm_main.c: the workload oracle, called by mmu.c's invalidate callback */
void kvm_shadow_forget(struct kvm *kvm, unsigned long start, unsigned long end);

#endif /* SECMMU_DRIVERS_KVM_INTERNAL_H */
