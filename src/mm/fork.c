// SPDX-License-Identifier: MIT
/*
 * fork: dup_mm() and copy_page_range().
 *
 * Private anonymous pages become shared copy-on-write: the parent's PTEs are
 * write-protected inside an MMU_NOTIFY_PROTECTION_PAGE invalidation (a
 * secondary MMU holding a writable translation must drop it, or its writes
 * would land in a page the child now shares). Pages that may be pinned for
 * DMA are copied for the child at once instead (page_needs_cow_for_dma), so
 * the parent keeps the very page the device writes to; a pinned file page of
 * a private mapping is shared like any file page (a write copies it anyway).
 * Shared mappings are not copied: the child faults them in from the object.
 */
#include <errno.h>
#include <string.h>

#include "secmmu/kit/bugs.h"
#include "mm/internal.h"
#include "mm/swap_internal.h"
#include "secmmu/err.h"

/* Copy one present private PTE into the child. Both PTLs are held. */
static int copy_present_pte(struct mm_struct *dst_mm, struct mm_struct *src_mm, pte_t *src_pte,
			    pte_t *dst_pte)
{
	uint64_t pte = pte_load(src_pte);
	unsigned long pfn = pte_pfn(pte);
	struct page *page, *copy;

	if (is_zero_pfn(pfn)) {
		get_page(zero_page());
		set_pte(dst_mm, dst_pte, pte & ~PTE_WRITE);
		return 0;
	}
	page = pfn_to_page(pfn);
	/*
	 * Only an anonymous page is copied for DMA (page_needs_cow_for_dma()):
	 * a file page of a private mapping is the file's, shared as always (a
	 * copy would be an anonymous page whose ->mapping is no anon_vma).
	 * A pinned one is copied for the child now, so that the parent keeps
	 * the pinned frame mapped and writable (70e806e4e645). The museum's
	 * fork-pinned-cow (base/bugs.h) shares it copy-on-write instead: the
	 * parent's next write moves the parent to a copy, away from the pin.
	 */
	if (PageTest(page, PG_anon) && page_maybe_dma_pinned(page) &&
	    !historic_bug(BUG_FORK_PINNED_COW)) {
		copy = alloc_page_noreclaim();
		if (!copy)
			return -ENOMEM;
		copy_frame_data(page_address(copy), page_address(page), PAGE_SIZE);
		atomic_store(&copy->flags, (1UL << PG_anon) | (1UL << PG_swapbacked) |
						   (1UL << PG_anon_exclusive));
		copy->mapping = page->mapping;
		copy->index = page->index;
		atomic_fetch_add(&copy->_mapcount, 1);
		atomic_fetch_add(&dst_mm->rss, 1);
		set_pte(dst_mm, dst_pte, pfn_pte(page_to_pfn(copy), pte_write(pte)) | PTE_DIRTY);
		lru_add(copy);
		return 0;
	}
	get_page(page); /* the child's PTE reference; pairs with zap_pte() */
	atomic_fetch_add(&page->_mapcount, 1);
	ClearPageFlag(page, PG_anon_exclusive);
	if (pte_write(pte))
		set_pte(src_mm, src_pte, pte & ~PTE_WRITE);
	atomic_fetch_add(&dst_mm->rss, 1);
	set_pte(dst_mm, dst_pte, pte & ~PTE_WRITE);
	return 0;
}

static int copy_page_range(struct vm_area_struct *dst, struct vm_area_struct *src)
{
	struct mm_struct *dst_mm = dst->vm_mm, *src_mm = src->vm_mm;
	struct mmu_notifier_range range;
	int err = 0;

	mmu_notifier_range_init(&range, MMU_NOTIFY_PROTECTION_PAGE, 0, src_mm, src->vm_start,
				src->vm_end);
	mmu_notifier_invalidate_range_start(&range);
	sm_mutex_lock(&src_mm->page_table_lock);
	sm_mutex_lock_nested(&dst_mm->page_table_lock, 1);
	for (unsigned long a = pmd_next_present(src_mm, src->vm_start, src->vm_end);
	     a < src->vm_end && !err; a += PAGE_SIZE) {
		pte_t *sp, *dp;

		if (!(a & ~HPAGE_PMD_MASK)) {
			/* A huge PMD is shared whole (copy_huge_pmd), unless the folio may be
			 * pinned. */
			pte_t *spmd = pmd_offset(src_mm, a), *dpmd;

			if (spmd && pmd_trans_huge(pte_load(spmd))) {
				dpmd = pmd_alloc(dst_mm, a);
				err = dpmd ? copy_huge_pmd(dst_mm, src_mm, dpmd, spmd, a) : -ENOMEM;
				if (err == -EAGAIN) {
					err = 0; /* split: copy its PTEs below */
				} else {
					a += HPAGE_PMD_SIZE - PAGE_SIZE;
					continue;
				}
			}
		}
		sp = pte_offset(src_mm, a);
		if (!sp) {
			/* Next 2 MiB with a table or a huge PMD (aligned: handled above). */
			a = pmd_next_present(src_mm, (a + HPAGE_PMD_SIZE) & HPAGE_PMD_MASK,
					     src->vm_end) -
			    PAGE_SIZE;
			continue;
		}
		uint64_t spte = pte_load(sp);

		if (pte_is_swap(spte)) {
			dp = pte_alloc(dst_mm, a);
			if (!dp) {
				err = -ENOMEM;
				break;
			}
			swap_dup(pte_pfn(spte)); /* the child's count on the slot */
			/* Shared with the child from now on: neither entry is exclusive. */
			set_pte(src_mm, sp, spte & ~PTE_SWAP_EXCL);
			set_pte(dst_mm, dp, spte & ~PTE_SWAP_EXCL);
			atomic_fetch_add(&dst_mm->swapents, 1);
			continue;
		}
		if (spte & PTE_MIGRATING) {
			/*
			 * The migration will find the child's entry through the
			 * shared anon_vma. Both entries lose their write bit, as a
			 * present PTE would: whatever frame they come back to is
			 * shared copy-on-write from now on.
			 */
			struct page *page = pfn_to_page(pte_pfn(spte));

			dp = pte_alloc(dst_mm, a);
			if (!dp) {
				err = -ENOMEM;
				break;
			}
			get_page(page);
			ClearPageFlag(page, PG_anon_exclusive);
			set_pte(src_mm, sp, spte & ~PTE_WRITE);
			set_pte(dst_mm, dp, spte & ~PTE_WRITE);
			atomic_fetch_add(&dst_mm->rss,
					 1); /* entries count in rss, as the PTE did */
			continue;
		}
		if (pte_is_device(spte)) {
			/* A page in device memory: shared copy-on-write, as a present one. */
			struct page *page = pfn_to_page(pte_pfn(spte));

			dp = pte_alloc(dst_mm, a);
			if (!dp) {
				err = -ENOMEM;
				break;
			}
			get_page(page); /* the child's entry; pairs with zap_pte() */
			atomic_fetch_add(&page->_mapcount, 1);
			ClearPageFlag(page, PG_anon_exclusive);
			set_pte(src_mm, sp, spte & ~PTE_WRITE);
			set_pte(dst_mm, dp, spte & ~PTE_WRITE);
			atomic_fetch_add(&dst_mm->rss, 1);
			continue;
		}
		if (pte_is_device_excl(spte)) {
			/*
			 * The device loses exclusive access (the invalidation above
			 * told it): the parent's PTE is present again, then copied.
			 */
			spte = pfn_pte(pte_pfn(spte), spte & PTE_WRITE) | (spte & PTE_DIRTY);
			set_pte(src_mm, sp, spte);
		}
		if (!pte_present(spte))
			continue;
		dp = pte_alloc(dst_mm, a);
		err = dp ? copy_present_pte(dst_mm, src_mm, sp, dp) : -ENOMEM;
	}
	mmu_notifier_arch_invalidate_secondary_tlbs(src_mm, src->vm_start, src->vm_end);
	sm_mutex_unlock(&dst_mm->page_table_lock);
	sm_mutex_unlock(&src_mm->page_table_lock);
	mmu_notifier_invalidate_range_end(&range);
	return err;
}

struct mm_struct *dup_mm(struct mm_struct *oldmm)
{
	struct vm_area_struct *vma, *new;
	struct mm_struct *mm = mm_alloc();
	int err = 0;

	if (!mm)
		return ERR_PTR(-ENOMEM);
	atomic_store(&mm->memlock_limit, atomic_load(&oldmm->memlock_limit));
	atomic_store(&mm->cap_ipc_lock, atomic_load(&oldmm->cap_ipc_lock));

	mmap_write_lock(oldmm);
	sm_down_write_nested(&mm->mmap_lock, 1);
	for (vma = vma_first(oldmm); vma && !err; vma = vma_next(vma)) {
		/*
		 * dup_mmap(): the parent's VMAs are write-locked, so no fault
		 * under a per-VMA lock changes the PTEs being copied.
		 */
		vma_start_write(vma);
		if (vma->vm_flags & VM_DONTCOPY)
			continue;
		new = __vma_dup(vma, mm, true);
		if (!new) {
			err = -ENOMEM;
			break;
		}
		/* dup_mmap(): locks are not inherited (nor MCL_FUTURE: def_flags stay 0). */
		/* The rmap walk (page_mlocked()) may already see @new: WRITE_ONCE. */
		WRITE_ONCE(new->vm_flags, new->vm_flags & ~VM_LOCKED_MASK);
		vma_link(mm, new);
		/* Private memory (anonymous, or a file's private copies) is copied COW. */
		if (vma_core(vma)->anon_vma && !vma_is_shared(vma) && !vma->vm_ops &&
		    !(vma->vm_flags & VM_WIPEONFORK))
			err = copy_page_range(new, vma);
	}
	vma_end_write_all(mm);
	sm_up_write(&mm->mmap_lock);
	mmap_write_unlock(oldmm);
	if (err) {
		mmput(mm); /* tears down whatever was copied */
		return ERR_PTR(err);
	}
	return mm;
}
