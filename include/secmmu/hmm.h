/* SPDX-License-Identifier: MIT */
/*
 * hmm_range_fault(): how a secondary MMU reads the primary page table to fill
 * its own, without pinning anything.
 *
 * The caller pairs it with an interval notifier:
 *
 *	again:
 *	  range.notifier_seq = mmu_interval_read_begin(range.notifier);
 *	  mmap_read_lock(mm);
 *	  ret = hmm_range_fault(&range);
 *	  mmap_read_unlock(mm);
 *	  if (ret == -EBUSY) goto again;
 *	  take_lock(driver->update);
 *	  if (mmu_interval_read_retry(range.notifier, range.notifier_seq)) {
 *	    release_lock(driver->update); goto again;
 *	  }
 *	  install range.hmm_pfns[] in the device page table;
 *	  release_lock(driver->update);
 *
 * (or, without the mmap_read_lock()/unlock() pair, hmm_range_fault_unlocked(),
 * which takes per-VMA locks itself). The pfns are only guaranteed to be the ones the CPU maps until
 *the next invalidation of the range, which the driver learns about in its
 * ->invalidate callback under the same lock.
 */
#ifndef SECMMU_HMM_H
#define SECMMU_HMM_H

#include "secmmu/compiler.h"
#include <stdint.h>

#include "secmmu/mmu_notifier.h"

SECMMU_BEGIN_DECLS

/* Output bits of hmm_pfns[] */
#define HMM_PFN_VALID (1UL << 63)
#define HMM_PFN_WRITE (1UL << 62)
#define HMM_PFN_ERROR (1UL << 61)
/* Input bits: fault the page in (for a write) if it is not present */
#define HMM_PFN_REQ_FAULT (1UL << 60)
#define HMM_PFN_REQ_WRITE (1UL << 59)
/*
 * Output: the order of the CPU mapping the page is part of (0: a 4K PTE; 9:
 * a PMD), so a device may map a larger page at once.
 */
#define HMM_PFN_ORDER_SHIFT 54
#define HMM_PFN_ORDER_MASK  (0x1fUL << HMM_PFN_ORDER_SHIFT)
#define HMM_PFN_FLAGS                                                                              \
	(HMM_PFN_VALID | HMM_PFN_WRITE | HMM_PFN_ERROR | HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE |   \
	 HMM_PFN_ORDER_MASK)

static inline unsigned long hmm_pfn_to_pfn(unsigned long hmm_pfn)
{
	return hmm_pfn & ~HMM_PFN_FLAGS;
}

static inline unsigned int hmm_pfn_to_map_order(unsigned long hmm_pfn)
{
	return (hmm_pfn & HMM_PFN_ORDER_MASK) >> HMM_PFN_ORDER_SHIFT;
}

/**
 * struct hmm_range
 * @notifier:      the interval notifier covering the range
 * @notifier_seq:  from mmu_interval_read_begin()
 * @start, @end:   page-aligned [start, end)
 * @hmm_pfns:      one entry per page: in, request bits (combined with
 *                 @default_flags); out, pfn | HMM_PFN_VALID [| HMM_PFN_WRITE]
 * @hmm_gens:      optional: the frame generation of each valid entry, for
 *                 stale-translation checks (page_gen_valid())
 * @default_flags: request bits applied to every page
 * @dev_private_owner: device-private pages whose pagemap owner is this
 *                 cookie are reported as they are (their device pfn), not
 *                 faulted back: they are the caller's own memory. Device
 *                 pages of any other owner are faulted back to system memory
 *                 when a fault is requested, else reported as not present.
 */
struct hmm_range {
	struct mmu_interval_notifier *notifier;
	unsigned long notifier_seq;
	unsigned long start;
	unsigned long end;
	unsigned long *hmm_pfns;
	uint32_t *hmm_gens;
	unsigned long default_flags;
	void *dev_private_owner;
};

/**
 * hmm_range_fault() - snapshot (and fault in) the primary PTEs of a range
 *
 * Caller holds mmap_lock for read and an mm_users reference. Takes no page
 * reference. Return: 0; -EBUSY if an invalidation began since
 * @notifier_seq (retry); -EFAULT if a requested page cannot be accessed
 * (no VMA, or a VMA that cannot be read); -EPERM for a write request on a
 * VMA without write permission (as Linux); -ENOMEM.
 */
int hmm_range_fault(struct hmm_range *range);

/**
 * hmm_range_fault_unlocked() - hmm_range_fault() without the caller's mmap_lock
 *
 * The same snapshot and the same return values, but the caller holds no
 * mmap_lock (only an mm_users reference): each VMA of the range is walked
 * under its per-VMA lock (Linux's lock_vma_under_rcu(), as a CPU fault
 * does), so mprotect/munmap/mmap of other VMAs, which hold mmap_lock for
 * write, do not stall it and it does not stall them. Where that is not
 * possible (a VMA not looked up without mmap_lock yet, one that an mmap_lock
 * writer holds, not private anonymous memory, or a fault that needs
 * mmap_lock: swap-in, migration, device memory) the rest of the range is
 * walked under mmap_lock for read, taken and released here. May sleep.
 */
int hmm_range_fault_unlocked(struct hmm_range *range);

SECMMU_END_DECLS

#endif /* SECMMU_HMM_H */
