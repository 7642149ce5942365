// SPDX-License-Identifier: MIT
/*
 * hmm_range_fault(): a pin-free snapshot of the primary page table.
 *
 * Correctness rests on the interval notifier's sequence count, not on page
 * references: the result may be stale the moment the PTL is dropped, and the
 * caller finds out with mmu_interval_read_retry() under its own lock.
 */
#include <errno.h>

#include "mm/internal.h"
#include "secmmu/hmm.h"
#include "secmmu/memremap.h"

/*
 * The current PTE of @addr as an hmm pfn, or 0 if it does not satisfy @req
 * (a fault is needed, or there is nothing to report).
 */
static unsigned long hmm_snapshot(struct hmm_range *range, struct vm_area_struct *vma,
				  unsigned long addr, unsigned long req, uint32_t *gen)
{
	struct mm_struct *mm = vma->vm_mm;
	pte_t *ptep = pte_offset(mm, addr);
	uint64_t pte = ptep ? pte_load(ptep) : 0;
	unsigned long order = 0;
	bool writable;

	/*
	 * No PTL: a split through the reverse map may turn the huge PMD into
	 * a leaf table between these looks (then nothing is reported for the
	 * page, or its huge order). The split is inside an MMU_NOTIFY_CLEAR
	 * over the 2 MiB, so the interval sequence makes the caller retry.
	 */
	if (!ptep && follow_huge_pmd(mm, addr, &pte))
		order = HPAGE_PMD_ORDER; /* hmm_vma_handle_pmd() */

	if (pte_is_device(pte)) {
		struct page *page = pfn_to_page(pte_pfn(pte));

		/* Only the owner's own memory is reported; any other device's comes back. */
		if (!range->dev_private_owner ||
		    page_pgmap(page)->owner != range->dev_private_owner)
			return 0;
	} else if (!pte_present(pte)) {
		return 0;
	}
	writable = pte_write(pte) && (vma->vm_flags & VM_WRITE);
	if ((req & HMM_PFN_REQ_WRITE) && !writable)
		return 0;
	if (gen)
		*gen = page_gen(pfn_to_page(pte_pfn(pte)));
	return pte_pfn(pte) | HMM_PFN_VALID | (writable ? HMM_PFN_WRITE : 0) |
	       (order << HMM_PFN_ORDER_SHIFT);
}

static int hmm_vma_fault(struct hmm_range *range, struct vm_area_struct *vma, unsigned long addr,
			 unsigned long req, unsigned int fault_flags)
{
	bool write = req & HMM_PFN_REQ_WRITE;

	(void)range;
	if (!(vma->vm_flags & VM_READ))
		return -EFAULT;
	if (write && !(vma->vm_flags & VM_WRITE))
		return -EPERM;
	return handle_mm_fault(vma, addr,
			       (write ? FAULT_FLAG_WRITE : 0) | FAULT_FLAG_REMOTE | fault_flags);
}

/*
 * hmm_walk() - hmm_range_fault() of the pages [start, end) of @range
 * @locked_vma: NULL: the caller holds mmap_lock for read, and each page's
 *              VMA is looked up (and remembered for lock_vma_under_rcu()).
 *              Else the VMA covering [start, end), which the caller holds
 *              read-locked (per-VMA lock, not mmap_lock); faults run with
 *              FAULT_FLAG_VMA_LOCK.
 *
 * Return: 0, -EBUSY, -EFAULT, -EPERM, -ENOMEM (see hmm_range_fault()), or
 * FAULT_RETRY_MMAP (@locked_vma only): a fault needs mmap_lock; the pages
 * from @start on must be walked again under it.
 */
static int hmm_walk(struct hmm_range *range, unsigned long start, unsigned long end,
		    struct vm_area_struct *locked_vma)
{
	struct mm_struct *mm = range->notifier->mm;
	unsigned int fault_flags = locked_vma ? FAULT_FLAG_VMA_LOCK : 0;
	struct vm_area_struct *vma = locked_vma, *cached = NULL;

	for (unsigned long addr = start; addr < end; addr += PAGE_SIZE) {
		unsigned long i = (addr - range->start) >> PAGE_SHIFT;
		unsigned long req = (range->hmm_pfns[i] | range->default_flags) &
				    (HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE);
		uint32_t *gen = range->hmm_gens ? &range->hmm_gens[i] : NULL;
		unsigned long v;
		int ret;

		if (mmu_interval_check_retry(range->notifier, range->notifier_seq))
			return -EBUSY;
		if (!locked_vma) {
			vma = vma_lookup(mm, addr);
			if (vma && vma != cached) {
				vma_cache_install(mm, addr, vma);
				cached = vma;
			}
		}
		if (!vma || !(vma->vm_flags & VM_READ)) {
			if (req & HMM_PFN_REQ_FAULT)
				return -EFAULT;
			range->hmm_pfns[i] = HMM_PFN_ERROR;
			continue;
		}
		/*
		 * Fault until the snapshot sees the page. No count: a fault that
		 * returned 0 installed the PTE, or waited for what blocked it (a
		 * migration's page lock), or lost a race to another thread's change
		 * of it; a PTE taken away again after it was installed was
		 * invalidated (unmap, reclaim, migration), which the sequence shows:
		 * -EBUSY, and the caller's next mmu_interval_read_begin() waits that
		 * invalidation out.
		 */
		for (;;) {
			v = hmm_snapshot(range, vma, addr, req, gen);
			if (v || !(req & HMM_PFN_REQ_FAULT))
				break;
			ret = hmm_vma_fault(range, vma, addr, req, fault_flags);
			if (ret)
				return ret;
			if (mmu_interval_check_retry(range->notifier, range->notifier_seq))
				return -EBUSY;
		}
		range->hmm_pfns[i] = v;
	}
	return 0;
}

static bool hmm_range_valid(const struct hmm_range *range)
{
	return PAGE_ALIGNED(range->start) && PAGE_ALIGNED(range->end) && range->end > range->start;
}

int hmm_range_fault(struct hmm_range *range)
{
	struct mm_struct *mm = range->notifier->mm;
	int ret;

	mmap_assert_locked(mm);
	if (!hmm_range_valid(range))
		return -EINVAL;
	ret = hmm_walk(range, range->start, range->end, NULL);
	if (ret)
		return ret;
	/* Everything read above is only as good as the sequence. */
	return mmu_interval_check_retry(range->notifier, range->notifier_seq) ? -EBUSY : 0;
}

int hmm_range_fault_unlocked(struct hmm_range *range)
{
	struct mm_struct *mm = range->notifier->mm;
	unsigned long addr, end;
	int ret = 0;

	if (!hmm_range_valid(range))
		return -EINVAL;
	for (addr = range->start; addr < range->end && !ret; addr = end) {
		struct vm_area_struct *vma = lock_vma_under_rcu(mm, addr);

		if (vma) {
			end = vma->vm_end < range->end ? vma->vm_end : range->end;
			ret = hmm_walk(range, addr, end, vma);
			vma_end_read(vma);
			if (ret != FAULT_RETRY_MMAP)
				continue;
		}
		/* Not cached, contended, or a fault needs more: the rest as hmm_range_fault(). */
		mmap_read_lock(mm);
		ret = hmm_walk(range, addr, range->end, NULL);
		mmap_read_unlock(mm);
		end = range->end;
	}
	if (ret)
		return ret;
	/* Everything read above is only as good as the sequence. */
	return mmu_interval_check_retry(range->notifier, range->notifier_seq) ? -EBUSY : 0;
}
