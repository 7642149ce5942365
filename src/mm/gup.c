// SPDX-License-Identifier: MIT
/* get_user_pages / pin_user_pages; see include/secmmu/gup.h. */
#include <errno.h>

#include "mm/internal.h"
#include "secmmu/gup.h"

/* is_cow_mapping(): private and may become writable (read-only private VMAs too). */
static bool is_cow_mapping(const struct vm_area_struct *vma)
{
	return (vma->vm_flags & (VM_SHARED | VM_MAYWRITE)) == VM_MAYWRITE;
}

/*
 * gup_must_unshare(): must a read-only pin (FOLL_PIN without FOLL_WRITE)
 * of @page break its sharing first, as Linux's gup_must_unshare() decides?
 *
 * An anonymous page that is not exclusive to this mm (COW-shared after
 * fork, KSM) must, whatever the VMA's protection: otherwise the next COW
 * write fault gives the process a new page and the pin keeps the old one,
 * and the device and the process diverge. A page that is not anonymous
 * (the zero page, a private file mapping's file page) must only for a
 * FOLL_LONGTERM pin in a COW mapping: a short-term R/O pin has no promise
 * to see later writes through the page tables. (A write pin needs no
 * unshare: the write fault already made the page exclusive.)
 */
static bool gup_must_unshare(struct vm_area_struct *vma, unsigned int flags, struct page *page)
{
	struct page *head = compound_head(page);

	if (flags & FOLL_WRITE)
		return false;
	if (vma->vm_ops) /* driver VMAs: the driver's own pages */
		return false;
	if (!PageTest(head, PG_anon))
		return (flags & FOLL_LONGTERM) && is_cow_mapping(vma);
	/* A PMD-mapped folio keeps PageAnonExclusive on its head. */
	if (PageTest(head, PG_head) && atomic_load(&head->_entire_mapcount))
		return !PageTest(head, PG_anon_exclusive);
	return !PageTest(page, PG_anon_exclusive);
}

static int gup_one(struct mm_struct *mm, unsigned long addr, unsigned int flags, bool pin,
		   struct page **pagep)
{
	struct vm_area_struct *vma = vma_lookup(mm, addr);
	bool write = flags & FOLL_WRITE;
	struct page *page;
	int ret;

	if (!vma || (vma->vm_flags & (VM_IO | VM_PFNMAP)))
		return -EFAULT;
	ret = fault_in_page(vma, addr, write, &page);
	if (ret)
		return ret;
	/*
	 * Unshare (FAULT_FLAG_UNSHARE) and look again: a racing fork may share
	 * the page anew, so loop -- with no count: a retry follows a fork that
	 * shared the new page. A THP in a read-only VMA is not unshared (see
	 * handle_mm_fault()): the same page, still shared, comes back, and is
	 * pinned as it is.
	 */
	while (pin && gup_must_unshare(vma, flags, page)) {
		struct page *shared = page;

		put_page(page);
		ret = handle_mm_fault(vma, addr, FAULT_FLAG_UNSHARE);
		if (!ret)
			ret = fault_in_page(vma, addr, false, &page);
		if (ret)
			return ret;
		if (page == shared && !(vma->vm_flags & VM_WRITE))
			break; /* a THP in a read-only VMA: never unshared */
	}
	if (pin && PageTest(page, PG_reserved)) {
		/*
		 * The zero page is never freed, moved or written: as in Linux
		 * (try_grab_folio()), a pin of it takes nothing, and
		 * unpin_user_page() gives nothing back.
		 */
		put_page(page);
	} else if (pin) {
		/* Convert the fault's reference into a pin: bias + exact count. */
		/* A large folio is pinned as a whole: the counts are on its head. */
		atomic_fetch_add(&compound_head(page)->_refcount, GUP_PIN_COUNTING_BIAS - 1);
		atomic_fetch_add(&compound_head(page)->_pincount, 1);
	}
	*pagep = page;
	return 0;
}

/* @errp (may be NULL): the error that stopped a short count, 0 if none. */
static long __gup(struct mm_struct *mm, unsigned long start, unsigned long nr_pages,
		  unsigned int flags, struct page **pages, bool pin, int *errp)
{
	unsigned long i;

	if (errp)
		*errp = 0;
	if (WARN_ON_ONCE(!mm || !pages)) /* API misuse: nowhere to put the pages */
		return -EINVAL;
	mmap_assert_locked(mm);
	if (!PAGE_ALIGNED(start) || !nr_pages || flags & ~(FOLL_WRITE | FOLL_LONGTERM))
		return -EINVAL;
	if (start + (nr_pages << PAGE_SHIFT) < start ||
	    start + (nr_pages << PAGE_SHIFT) > TASK_SIZE)
		return -EFAULT;
	for (i = 0; i < nr_pages; i++) {
		int ret = gup_one(mm, start + (i << PAGE_SHIFT), flags, pin, &pages[i]);

		if (ret) {
			if (errp)
				*errp = ret;
			return i ? (long)i : ret;
		}
	}
	return (long)i;
}

long get_user_pages_remote(struct mm_struct *mm, unsigned long start, unsigned long nr_pages,
			   unsigned int gup_flags, struct page **pages)
{
	return __gup(mm, start, nr_pages, gup_flags, pages, false, NULL);
}

long pin_user_pages_remote(struct mm_struct *mm, unsigned long start, unsigned long nr_pages,
			   unsigned int gup_flags, struct page **pages)
{
	return __gup(mm, start, nr_pages, gup_flags, pages, true, NULL);
}

long pin_user_pages_unlocked(struct mm_struct *mm, unsigned long start, unsigned long nr_pages,
			     unsigned int gup_flags, struct page **pages)
{
	long ret;
	int err;

	if (WARN_ON_ONCE(!mm)) /* API misuse */
		return -EINVAL;
	mmap_read_lock(mm);
	ret = __gup(mm, start, nr_pages, gup_flags, pages, true, &err);
	mmap_read_unlock(mm);
	if (ret >= 0 && (unsigned long)ret < nr_pages) {
		unpin_user_pages(pages, (unsigned long)ret);
		/* All or nothing: the error of the page that stopped it (-ENOMEM ...). */
		ret = err ? err : -EFAULT;
	}
	return ret;
}

void unpin_user_page(struct page *page)
{
	int old;

	if (PageTest(page, PG_reserved))
		return; /* the zero page was not pinned: see gup_one() */
	old = atomic_fetch_sub(&compound_head(page)->_pincount, 1);

	BUG_ON(old <= 0); /* unpin without a pin */
	put_page_refs(page, GUP_PIN_COUNTING_BIAS);
}

void unpin_user_pages(struct page **pages, unsigned long npages)
{
	for (unsigned long i = 0; i < npages; i++)
		unpin_user_page(pages[i]);
}

void unpin_user_pages_dirty_lock(struct page **pages, unsigned long npages, bool make_dirty)
{
	for (unsigned long i = 0; i < npages; i++) {
		if (make_dirty)
			SetPageFlag(pages[i], PG_dirty);
		unpin_user_page(pages[i]);
	}
}
