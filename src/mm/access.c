// SPDX-License-Identifier: MIT
/*
 * CPU access to an address space from outside it: copy_to_user /
 * copy_from_user semantics (access_process_vm), and the PTE lookup that
 * secondary MMUs use under a sequence check.
 */
#include <errno.h>
#include <string.h>

#include "mm/internal.h"

/* Copy within one page. Holds mmap_lock for read and a page reference across the copy. */
static int access_one_page(struct mm_struct *mm, unsigned long addr, void *buf, size_t len,
			   bool write)
{
	struct vm_area_struct *vma;
	struct page *page;
	unsigned long off = addr & (PAGE_SIZE - 1);
	int ret;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	if (!vma) {
		ret = -EFAULT;
		goto out;
	}
	ret = fault_in_page(vma, addr & PAGE_MASK, write, &page);
	if (ret)
		goto out;
	if (write)
		memcpy((char *)page_address(page) + off, buf, len);
	else
		memcpy(buf, (char *)page_address(page) + off, len);
	put_page(page); /* Pairs with get_page() in fault_in_page(). */
out:
	mmap_read_unlock(mm);
	return ret;
}

static int access_range(struct mm_struct *mm, unsigned long addr, void *buf, size_t len, bool write)
{
	if (addr + len < addr || addr + len > TASK_SIZE)
		return -EFAULT;
	while (len) {
		size_t chunk = PAGE_SIZE - (addr & (PAGE_SIZE - 1));
		int ret;

		if (chunk > len)
			chunk = len;
		ret = access_one_page(mm, addr, buf, chunk, write);
		if (ret)
			return ret;
		addr += chunk;
		buf = (char *)buf + chunk;
		len -= chunk;
	}
	return 0;
}

int mm_read(struct mm_struct *mm, unsigned long addr, void *buf, size_t len)
{
	return access_range(mm, addr, buf, len, false);
}

int mm_write(struct mm_struct *mm, unsigned long addr, const void *buf, size_t len)
{
	return access_range(mm, addr, (void *)buf, len, true);
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
	if (!pte_present(pte))
		return -ENOENT;
	*pfn = pte_pfn(pte);
	*writable = pte_write(pte) && (vma->vm_flags & VM_WRITE);
	if (gen)
		*gen = page_gen(pfn_to_page(*pfn));
	return 0;
}
