// SPDX-License-Identifier: MIT
/*
 * CPU access to an address space from outside it: copy_to_user /
 * copy_from_user semantics (access_process_vm), and the PTE lookup that
 * secondary MMUs use under a sequence check.
 */
#include <errno.h>
#include <string.h>

#include "mm/internal.h"

static void copy_one_page(struct page *page, unsigned long off, void *buf, size_t len, bool write)
{
	if (write)
		copy_frame_data((char *)page_address(page) + off, buf, len);
	else
		copy_frame_data(buf, (char *)page_address(page) + off, len);
	put_page(page); /* Pairs with get_page() in fault_in_page(). */
}

/*
 * Copy within one page, as a CPU access faults: first under the VMA's
 * per-VMA lock alone (lock_vma_under_rcu(), Linux's do_user_addr_fault()),
 * so that mmap_lock writers working on other VMAs do not hold it up; if
 * that is not possible, or the fault needs more, under mmap_lock for read.
 * Holds the lock and a page reference across the copy. The caller holds
 * mm_users.
 */
static int access_one_page(struct mm_struct *mm, unsigned long addr, void *buf, size_t len,
			   bool write)
{
	struct vm_area_struct *vma;
	struct page *page;
	unsigned long off = addr & (PAGE_SIZE - 1);
	int ret;

	vma = lock_vma_under_rcu(mm, addr);
	if (vma) {
		ret = __fault_in_page(vma, addr & PAGE_MASK, write, FAULT_FLAG_VMA_LOCK, &page);
		if (!ret)
			copy_one_page(page, off, buf, len, write);
		vma_end_read(vma);
		if (ret != FAULT_RETRY_MMAP)
			return ret;
	}
	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	if (!vma) {
		ret = -EFAULT;
		goto out;
	}
	vma_cache_install(mm, addr, vma); /* the next access may go without mmap_lock */
	ret = fault_in_page(vma, addr & PAGE_MASK, write, &page);
	if (!ret)
		copy_one_page(page, off, buf, len, write);
out:
	mmap_read_unlock(mm);
	return ret;
}

int for_each_page_chunk(unsigned long addr, void *buf, size_t len,
			int (*fn)(void *ctx, unsigned long addr, void *buf, size_t n), void *ctx)
{
	if (addr + len < addr || addr + len > TASK_SIZE)
		return -EFAULT;
	while (len) {
		size_t chunk = PAGE_SIZE - (addr & (PAGE_SIZE - 1));
		int ret;

		if (chunk > len)
			chunk = len;
		ret = fn(ctx, addr, buf, chunk);
		if (ret)
			return ret;
		addr += chunk;
		buf = (char *)buf + chunk;
		len -= chunk;
	}
	return 0;
}

static int read_one_page(void *mm, unsigned long addr, void *buf, size_t n)
{
	return access_one_page(mm, addr, buf, n, false);
}

static int write_one_page(void *mm, unsigned long addr, void *buf, size_t n)
{
	return access_one_page(mm, addr, buf, n, true);
}

int mm_read(struct mm_struct *mm, unsigned long addr, void *buf, size_t len)
{
	return for_each_page_chunk(addr, buf, len, read_one_page, mm);
}

int mm_write(struct mm_struct *mm, unsigned long addr, const void *buf, size_t len)
{
	return for_each_page_chunk(addr, (void *)buf, len, write_one_page, mm);
}

int follow_pfn_order(struct mm_struct *mm, unsigned long addr, unsigned long *pfn, bool *writable,
		     uint32_t *gen, unsigned int *order)
{
	struct vm_area_struct *vma;
	pte_t *pmdp;
	uint64_t pmd;

	mmap_assert_locked(mm);
	*order = 0;
	vma = vma_lookup(mm, addr);
	if (!vma || !(vma->vm_flags & VM_READ))
		return -EFAULT;
	/*
	 * No PTL (as follow_pfn_pte()): a huge PMD split meanwhile is read as
	 * a table and its PTE followed; a 2 MiB answer that a split makes
	 * stale is caught by the caller's invalidation sequence (the split is
	 * inside an MMU_NOTIFY_CLEAR of the 2 MiB).
	 */
	pmdp = pte_offset(mm, addr) ? NULL : pmd_offset(mm, addr);
	pmd = pmdp ? pte_load(pmdp) : 0;
	if (!pmd_trans_huge(pmd))
		return follow_pfn_pte(mm, addr, pfn, writable, gen);
	*order = HPAGE_PMD_ORDER;
	*pfn = pte_pfn(pmd);
	*writable = pte_write(pmd) && (vma->vm_flags & VM_WRITE);
	if (gen)
		*gen = page_gen(pfn_to_page(*pfn));
	return 0;
}

int follow_pfn_pte(struct mm_struct *mm, unsigned long addr, unsigned long *pfn, bool *writable,
		   uint32_t *gen)
{
	struct vm_area_struct *vma;
	pte_t *ptep;
	uint64_t pte;

	mmap_assert_locked(mm);
	vma = vma_lookup(mm, addr);
	if (!vma || !(vma->vm_flags & VM_READ))
		return -EFAULT;
	ptep = pte_offset(mm, addr);
	pte = ptep ? pte_load(ptep) : 0;
	if (!ptep)
		follow_huge_pmd(mm, addr, &pte); /* the 4 KiB piece of a huge PMD */
	if (!pte_present(pte))
		return -ENOENT;
	*pfn = pte_pfn(pte);
	*writable = pte_write(pte) && (vma->vm_flags & VM_WRITE);
	if (gen)
		*gen = page_gen(pfn_to_page(*pfn));
	return 0;
}
