// SPDX-License-Identifier: MIT
/*
 * What /proc/PID/maps and /proc/PID/pagemap show (Linux fs/proc/task_mmu.c):
 * the VMAs of an address space and the state of its pages, for the `maps`
 * and `pagemap` scenario commands and the differential test against the
 * running kernel.
 */
#include <errno.h>

#include "mm/internal.h"
#include "mm/swap_internal.h"

long mm_get_vmas(struct mm_struct *mm, unsigned long start, unsigned long end,
		 struct mm_vma_info *out, unsigned long max)
{
	struct vm_area_struct *vma;
	long n = 0;

	if (end < start)
		return -EINVAL;
	mmap_read_lock(mm);
	for (vma = find_vma(mm, start); vma && vma->vm_start < end; vma = vma_next(vma)) {
		if ((unsigned long)n < max)
			out[n] = (struct mm_vma_info){vma->vm_start, vma->vm_end, vma->vm_flags};
		n++;
	}
	mmap_read_unlock(mm);
	return n;
}

/* pte_to_pagemap_entry(): one PTE as MM_PAGE_* bits. Caller holds the PTL. */
static uint32_t pte_pagemap(uint64_t pte)
{
	struct page *page;

	if (pte_none(pte))
		return 0;
	if (pte_is_device(pte))
		return MM_PAGE_SWAP | MM_PAGE_DEVICE; /* Linux: a swap entry of a device page */
	if (!pte_present(pte))
		return MM_PAGE_SWAP; /* swap, migration, device-exclusive entries, as Linux */
	if (is_zero_pfn(pte_pfn(pte)))
		return MM_PAGE_PRESENT | MM_PAGE_ZERO;
	page = pfn_to_page(pte_pfn(pte));
	return MM_PAGE_PRESENT | (page_mapcount(page) == 1 ? MM_PAGE_EXCLUSIVE : 0);
}

int mm_pagemap(struct mm_struct *mm, unsigned long addr, unsigned long nr_pages, uint32_t *out)
{
	unsigned long len = nr_pages << PAGE_SHIFT;
	struct vm_area_struct *vma;

	if (!PAGE_ALIGNED(addr) || nr_pages > TASK_SIZE >> PAGE_SHIFT || addr > TASK_SIZE - len)
		return -EINVAL;
	mmap_read_lock(mm);
	for (unsigned long i = 0; i < nr_pages; i++) {
		unsigned long a = addr + (i << PAGE_SHIFT);
		pte_t *ptep;

		out[i] = 0;
		vma = find_vma(mm, a);
		if (!vma || vma->vm_start > a)
			continue;
		sm_mutex_lock(&mm->page_table_lock);
		ptep = pte_offset(mm, a);
		out[i] = ptep ? pte_pagemap(pte_load(ptep)) : 0;
		if (!ptep) {
			uint64_t huge;

			/* A PMD-mapped THP: each 4 KiB piece, and the PMD as such. */
			if (follow_huge_pmd(mm, a, &huge))
				out[i] = is_huge_zero_pmd(pte_load(pmd_offset(mm, a)))
						 ? MM_PAGE_PRESENT |
							   MM_PAGE_ZERO /* the huge zero page */
						 : pte_pagemap(huge & ~PTE_HUGE) | MM_PAGE_THP;
		}
		sm_mutex_unlock(&mm->page_table_lock);
	}
	mmap_read_unlock(mm);
	return 0;
}
