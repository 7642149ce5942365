/* SPDX-License-Identifier: MIT */
/*
 * A KVM-style virtual machine: shadow paging over a process's memory.
 *
 * Guest-physical memory is one memslot covering the whole user address space
 * of the owner's mm: guest physical address == the process's virtual address
 * (gfn == hva >> PAGE_SHIFT). A vCPU (a real thread) reads and writes guest
 * memory with real memcpy through a shadow page table: one spte per guest
 * page, holding the frame (pfn), whether it may be written, an accessed bit,
 * and the frame generation recorded at fault time, checked on every access
 * (page_gen_valid()), so an spte that outlived its frame is caught.
 *
 * A missing or read-only spte is a shadow page fault, resolved as KVM does
 * (kvm_faultin_pfn + direct_map):
 *
 *	mmu_seq = kvm->mmu_invalidate_seq;			(snapshot)
 *	mmap_read_lock; get_user_pages_remote(gfn, write); mmap_read_unlock;
 *	record pfn and generation; put_page() at once		(no pin)
 *	mmu_lock(write)
 *	if (mmu_invalidate_retry_gfn(kvm, mmu_seq, gfn))	retry the fault
 *	install the spte
 *
 * and kept coherent with the primary MMU by a classic MMU notifier (seed 004):
 *   invalidate_range_start  mmu_invalidate_in_progress++, the range joins the
 *                           in-progress range, the sptes of the range are
 *                           zapped; no fault installs an spte in that range
 *                           until the matching _end;
 *   invalidate_range_end    mmu_invalidate_seq++, in_progress--;
 *   clear_flush_young, clear_young, test_young
 *                           answered from the spte accessed bits, so a page
 *                           the guest keeps using survives reclaim;
 *   change_pte (LEGACY)     only with the museum's kvm-change-pte-dead on
 *                           (as Linux 6.10 removed it): updates an spte in
 *                           place. The primary MMU calls it between
 *                           invalidate_range_start and _end, after start has
 *                           zapped the spte, so a correct VM never finds one
 *                           to update. This VM counts the calls and the
 *                           "hits" (an spte actually found); hits stay 0
 *                           unless the VM is KVM_VM_BROKEN.
 *   release                 zaps every spte (the mm is exiting).
 *
 * KVM_VM_PIN is KVM before seed 004: every spte holds a page reference
 * (get_user_pages, not pin_user_pages) until the VM is destroyed, and no
 * notifier is registered. Reclaim can unmap such a page but never free the
 * frame; migration and KSM skip it; the spte never follows the primary MMU.
 *
 * KVM_VM_BROKEN ignores invalidations and release: a documented "broken
 * device" (docs/architecture.md, Broken devices), per VM:
 * its sptes outlive their frames, which the generation check reports (-EIO,
 * phys_stale_count()).
 *
 * Each VM keeps a shadow copy of the guest memory its vCPUs wrote (or first
 * read) for kvm_vcpu_run(): every guest read of a known page is compared
 * with it. An MMU_NOTIFY_UNMAP/RELEASE invalidation forgets the shadow of its
 * range (the memory is gone), and every kvm_vcpu_run() starts with an empty
 * shadow: the host process (or a device) may write or discard guest memory
 * between runs, as QEMU may, without a false mismatch. Within one run the
 * guest's memory must only change by the guest's own writes.
 */
#ifndef SECMMU_KVM_H
#define SECMMU_KVM_H

#include "secmmu/compiler.h"
#include <stddef.h>

#include "secmmu/mm.h"

SECMMU_BEGIN_DECLS

struct kvm;
struct kvm_vcpu;

/*
 * The VM's references in the mm's reference tracker (mm.h), the struct kvm
 * being the owner: its mm_count (kvm->mm, from create to destroy), its
 * notifier's mm_count (kind "mmu_notifier"), and short mm_users references
 * while a vCPU faults or runs.
 */
#define KVM_HOLDER_KIND "kvm"

#define KVM_VM_PIN    0x1U /* legacy: a page reference per spte, no notifier */
#define KVM_VM_BROKEN 0x2U /* a broken device: ignores invalidations and release */

/**
 * kvm_create_vm() - a VM whose guest memory is @mm's address space
 * @mm:    the owner's address space; the caller holds an mm_users reference
 * @flags: 0, KVM_VM_PIN or KVM_VM_BROKEN (not both)
 *
 * The VM holds an mm_count reference (mmgrab, as kvm_create_vm does) until
 * kvm_destroy_vm(); without KVM_VM_PIN its registered notifier holds a
 * second one. Takes mmap_lock for write (mmu_notifier_register). May sleep;
 * the caller holds no lock of rank >= LOCK_RANK_MMAP.
 *
 * Return: the VM, or ERR_PTR(-EINVAL) (bad flags, mm_users already 0),
 * ERR_PTR(-ENOMEM), ERR_PTR(-EINTR) (registration interrupted).
 */
struct kvm *kvm_create_vm(struct mm_struct *mm, unsigned int flags);

/*
 * kvm_create_vm_named() - as kvm_create_vm(); @name (may be NULL) names the
 * vCPU threads in traces: "vcpu NAME" for the first, "vcpu NAME.N" for the
 * others (default "vcpu N").
 */
struct kvm *kvm_create_vm_named(struct mm_struct *mm, unsigned int flags, const char *name);

/**
 * kvm_destroy_vm() - stop and free every vCPU, unregister the notifier
 * (which calls ->release if exit has not: every spte zapped), drop the page
 * references of a KVM_VM_PIN VM, and drop the VM's mm_count references.
 *
 * May sleep (waits for vCPU threads and running callbacks); the caller holds
 * no lock of rank >= LOCK_RANK_MMAP and no vCPU call is in flight.
 */
void kvm_destroy_vm(struct kvm *kvm);

/**
 * kvm_create_vcpu() - a vCPU: a real thread that executes guest accesses
 *
 * Freed by kvm_destroy_vm(). Return: the vCPU or ERR_PTR(-ENOMEM / -EAGAIN).
 */
struct kvm_vcpu *kvm_create_vcpu(struct kvm *kvm);

/**
 * kvm_vcpu_read() / kvm_vcpu_write() - a guest access of [gpa, gpa+len)
 *
 * Runs on the vCPU's thread through the shadow page table, faulting sptes in
 * as needed (the caller waits). A write also updates the VM's shadow copy of
 * pages it already knows. One vCPU runs one request at a time; different
 * vCPUs run concurrently. May sleep; call with no lock held.
 *
 * Return: 0; -EFAULT (no VMA, or it does not allow the access); -ESRCH (the
 * owner's mm has exited: release zapped every spte and no fault can be
 * resolved); -ENOMEM; -EIO (an spte outlived its frame: only a
 * KVM_VM_BROKEN VM does that). A write that fails part-way has written the
 * pages before the failing one.
 */
int kvm_vcpu_read(struct kvm_vcpu *vcpu, unsigned long gpa, void *buf, size_t len);
int kvm_vcpu_write(struct kvm_vcpu *vcpu, unsigned long gpa, const void *buf, size_t len);

/**
 * kvm_vcpu_run() - a guest workload: @n random accesses, each checked
 * @n:    number of accesses (reads and writes of 1..64 bytes inside one page)
 * @seed: the pseudo-random sequence
 *
 * Addresses are drawn from the readable VMAs of the owner's mm at the start
 * of the run (writes only in writable ones). The shadow copy starts empty;
 * every read of a page it knows is compared with it; a page not yet known is
 * first read whole through the vCPU and learned. Runs on the vCPU's thread, holding the
 * VM's workload lock (LOCK_RANK_DRIVER) so runs and writes of different
 * vCPUs do not interleave. May sleep.
 *
 * Return: 0; -EIO (a read returned bytes other than the guest last wrote, or
 * a stale spte was detected); -EINVAL (no readable guest memory); or the
 * errno of the first failing access (-EFAULT, -ESRCH, -ENOMEM).
 */
int kvm_vcpu_run(struct kvm_vcpu *vcpu, unsigned long n, unsigned long seed);

/**
 * kvm_set_memslot() - make [@gpa, @gpa + @len) the VM's only memslot
 *
 * Guest pages outside it are no guest memory: their sptes are zapped and
 * accesses fail with -EFAULT. Invalidations that do not meet the memslot do
 * not take mmu_lock or raise mmu_invalidate_in_progress; the update waits
 * until no invalidation is between its start and end, so that both see the
 * same memslot. May sleep.
 *
 * Return: 0, -EINVAL (unaligned, empty, or wrapping).
 */
int kvm_set_memslot(struct kvm *kvm, unsigned long gpa, unsigned long len);

/**
 * kvm_pfncache_activate() - cache the translation of the page at @gpa outside
 * the shadow tables, as KVM's gfn_to_pfn_cache and the APIC-access page
 * address in the VMCS do: from now on every guest access to that page uses
 * the cached pfn, resolved (outside mmu_lock, with the invalidation retry) on
 * first use and again after every invalidation of the page. One cache per VM;
 * a second call moves it. May sleep briefly (mmu_lock).
 *
 * Return: 0, -EINVAL (@gpa not page-aligned).
 */
int kvm_pfncache_activate(struct kvm *kvm, unsigned long gpa);

/**
 * struct kvm_stats - counters of a VM (a snapshot)
 * @sptes:            installed sptes
 * @page_refs:        page references held by sptes (KVM_VM_PIN only)
 * @faults:           shadow page faults that installed an spte
 * @fault_retries:    faults discarded by mmu_invalidate_retry_gfn()
 * @invalidations:    invalidate_range_start calls seen
 * @zapped:           sptes dropped by invalidations and release
 * @change_pte_calls: legacy change_pte calls seen
 * @change_pte_hits:  ... of which found an spte to update (0 when correct)
 * @young:            aging queries answered "young"
 * @stale:            accesses through an spte whose frame was freed
 * @mismatches:       kvm_vcpu_run() reads that differed from the shadow copy
 * @huge_sptes:       installed sptes that map 2 MiB (counted in @sptes too)
 * @huge_faults:      faults that installed a huge spte (the host PMD was huge)
 * @huge_splits:      huge sptes split into 4 KiB ones by a partial invalidation
 */
struct kvm_stats {
	unsigned long sptes;
	unsigned long page_refs;
	unsigned long faults;
	unsigned long fault_retries;
	unsigned long invalidations;
	unsigned long zapped;
	unsigned long change_pte_calls;
	unsigned long change_pte_hits;
	unsigned long young;
	unsigned long stale;
	unsigned long mismatches;
	unsigned long huge_sptes;
	unsigned long huge_faults;
	unsigned long huge_splits;
};

/* A snapshot of @kvm's counters; takes mmu_lock for read briefly. */
void kvm_get_stats(struct kvm *kvm, struct kvm_stats *st);

/* Installed sptes (kvm_get_stats()'s @sptes). */
unsigned long kvm_nr_sptes(struct kvm *kvm);

/* mmu_invalidate_in_progress right now (for tests that watch a collision). */
long kvm_mmu_invalidate_in_progress(struct kvm *kvm);

SECMMU_END_DECLS

#endif /* SECMMU_KVM_H */
