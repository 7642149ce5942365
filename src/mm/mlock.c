// SPDX-License-Identifier: MIT
/*
 * mlock, munlock, mlockall, munlockall (Linux 6.x mm/mlock.c and the
 * populate half of mm/gup.c).
 *
 * A locked VMA carries VM_LOCKED (and VM_LOCKONFAULT for MLOCK_ONFAULT /
 * MCL_ONFAULT). Its pages are charged to mm->locked_vm as VMA pages, not
 * as present pages: mlock_fixup() adds the range when VM_LOCKED appears and
 * takes it away when it goes; munmap, mremap and exit keep the count in
 * step. The limit (RLIMIT_MEMLOCK, mm->memlock_limit) is checked up front
 * by the callers, never by the fixup, as in Linux.
 *
 * Locks: everything that changes VMAs runs under mmap_lock for write;
 * faulting in (populate) runs under mmap_lock for read after the change,
 * so a munlock racing with it simply finds fewer pages to fault.
 * locked_vm is an atomic: VFIO's account_locked_vm() changes it without
 * mmap_lock.
 *
 * No notifier events of their own: the only invalidations an mlock causes
 * are those of its faults (a COW break is an MMU_NOTIFY_CLEAR), exactly as
 * in Linux, where mlock_vma_pages_range() only moves folios between LRUs.
 */
#include <errno.h>

#include "mm/internal.h"
#include "mm/swap_internal.h"

/* can_do_mlock(): a memlock limit above 0, or CAP_IPC_LOCK. */
static bool can_do_mlock(struct mm_struct *mm)
{
	return atomic_load(&mm->memlock_limit) || atomic_load(&mm->cap_ipc_lock);
}

static unsigned long memlock_limit_pages(struct mm_struct *mm)
{
	return atomic_load(&mm->memlock_limit) >> PAGE_SHIFT;
}

bool mlock_future_ok(struct mm_struct *mm, unsigned long flags, unsigned long bytes)
{
	unsigned long locked;

	if (!(flags & VM_LOCKED) || atomic_load(&mm->cap_ipc_lock))
		return true;
	locked = (bytes >> PAGE_SHIFT) + (unsigned long)atomic_load(&mm->locked_vm);
	return locked <= memlock_limit_pages(mm);
}

static unsigned long vma_npages(const struct vm_area_struct *vma)
{
	return (vma->vm_end - vma->vm_start) >> PAGE_SHIFT;
}

void mlock_unaccount_range(struct mm_struct *mm, struct vm_area_struct *vma, unsigned long end)
{
	long pages = 0;

	for (; vma && vma->vm_start < end; vma = vma_next(vma))
		if (vma->vm_flags & VM_LOCKED)
			pages += (long)vma_npages(vma);
	if (pages)
		WARN_ON(atomic_fetch_sub(&mm->locked_vm, pages) < pages);
}

int populate_one(struct vm_area_struct *vma, unsigned long addr, bool write, bool force)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned int flags = (write ? FAULT_FLAG_WRITE : 0) | (force ? FAULT_FLAG_FORCE : 0);

	/*
	 * No retry count (fault_in_page()'s reasoning): handle_mm_fault()
	 * returning 0 installed the PTE, or waited for what blocked it, or lost
	 * a race to another thread's change of it; every retry follows an event.
	 */
	for (;;) {
		pte_t *ptep;
		uint64_t pte = 0, huge;
		bool done;
		int ret;

		sm_mutex_lock(&mm->page_table_lock);
		ptep = pte_offset(mm, addr);
		if (ptep) {
			pte = pte_load(ptep);
			done = pte_present(pte) && (!write || pte_write(pte));
		} else {
			done = follow_huge_pmd(mm, addr, &huge) && (!write || pte_write(huge));
		}
		sm_mutex_unlock(&mm->page_table_lock);
		if (done)
			return 0;
		ret = handle_mm_fault(vma, addr, flags);
		if (ret)
			return ret;
	}
}

int populate_vma_page_range(struct vm_area_struct *vma, unsigned long start, unsigned long end)
{
	bool write;

	mmap_assert_locked(vma->vm_mm);
	/* VM_LOCKONFAULT never faulted anything in; nor was PROT_NONE ever. */
	if (vma->vm_flags & VM_LOCKONFAULT)
		return 0;
	if (!(vma->vm_flags & (VM_READ | VM_WRITE | VM_EXEC)))
		return -EFAULT;
	/* A write fault breaks COW in private writable memory; shared memory is only read. */
	write = (vma->vm_flags & (VM_WRITE | VM_SHARED)) == VM_WRITE;
	for (unsigned long a = start; a < end; a += PAGE_SIZE) {
		int ret = populate_one(vma, a, write, !write);

		if (ret)
			return ret;
	}
	return 0;
}

int __mm_populate(struct mm_struct *mm, unsigned long start, unsigned long len, bool ignore_errors)
{
	unsigned long end = start + len, nstart, nend;
	int ret = 0;

	mmap_read_lock(mm);
	for (nstart = start; nstart < end; nstart = nend) {
		struct vm_area_struct *vma = find_vma(mm, nstart);

		if (!vma || vma->vm_start >= end)
			break;
		nend = vma->vm_end < end ? vma->vm_end : end;
		if (vma->vm_flags & (VM_IO | VM_PFNMAP))
			continue;
		if (nstart < vma->vm_start)
			nstart = vma->vm_start;
		ret = populate_vma_page_range(vma, nstart, nend);
		if (ret && !ignore_errors)
			break;
		ret = 0;
	}
	mmap_read_unlock(mm);
	return ret;
}

/*
 * mlock_fixup(): give [start, end) of @vma the flags @newflags (its
 * VM_LOCKED_MASK bits changed), splitting and merging, and keep locked_vm
 * in step. Special VMAs (VM_IO, VM_PFNMAP) are left alone and not counted.
 * Caller holds mmap_lock for write. Return: the VMA now covering @start
 * (in *@vmap) and 0, or -ENOMEM from a split.
 */
static int mlock_fixup(struct mm_struct *mm, struct vm_area_struct **vmap, unsigned long start,
		       unsigned long end, unsigned long newflags)
{
	struct vm_area_struct *vma = *vmap;
	unsigned long oldflags = vma->vm_flags;
	long nr_pages;
	int err;

	if (newflags == oldflags || (oldflags & (VM_IO | VM_PFNMAP)))
		return 0;
	vma = vma_modify_flags(mm, vma, start, end, newflags, &err);
	if (err)
		return err;
	vma = vma_merge_neighbours(mm, vma);
	*vmap = vma;
	nr_pages = (long)((end - start) >> PAGE_SHIFT);
	if (!(newflags & VM_LOCKED))
		nr_pages = -nr_pages;
	else if (oldflags & VM_LOCKED)
		nr_pages = 0;
	atomic_fetch_add(&mm->locked_vm, nr_pages);
	return 0;
}

/* apply_vma_lock_flags(): the VMAs of [start, start+len) get @flags as their lock bits. */
static int apply_vma_lock_flags(struct mm_struct *mm, unsigned long start, unsigned long len,
				unsigned long flags)
{
	unsigned long end = start + len, nstart, tmp;
	struct vm_area_struct *vma;
	int err;

	if (end < start)
		return -EINVAL;
	if (end == start)
		return 0;
	vma = vma_lookup(mm, start);
	if (!vma)
		return -ENOMEM;
	nstart = start;
	tmp = vma->vm_start;
	for (; vma && vma->vm_start < end; vma = vma_next(vma)) {
		if (vma->vm_start != tmp)
			return -ENOMEM;
		tmp = vma->vm_end < end ? vma->vm_end : end;
		err = mlock_fixup(mm, &vma, nstart, tmp, (vma->vm_flags & ~VM_LOCKED_MASK) | flags);
		if (err)
			return err;
		tmp = vma->vm_end;
		nstart = tmp;
	}
	return tmp < end ? -ENOMEM : 0;
}

/* count_mm_mlocked_page_nr(): pages of [start, start+len) already locked (Linux's arithmetic). */
static unsigned long count_mm_mlocked_page_nr(struct mm_struct *mm, unsigned long start,
					      unsigned long len)
{
	unsigned long end = start + len, count = 0;
	struct vm_area_struct *vma;

	if (end < start)
		end = ~0UL;
	for (vma = find_vma(mm, start); vma && vma->vm_start < end; vma = vma_next(vma)) {
		if (!(vma->vm_flags & VM_LOCKED))
			continue;
		if (start > vma->vm_start)
			count -= start - vma->vm_start;
		if (end < vma->vm_end) {
			count += end - vma->vm_start;
			break;
		}
		count += vma->vm_end - vma->vm_start;
	}
	return count >> PAGE_SHIFT;
}

/* __mlock_posix_error_return(): POSIX wants -ENOMEM and -EAGAIN here. */
static int mlock_posix_error(int err)
{
	if (err == -EFAULT)
		return -ENOMEM;
	if (err == -ENOMEM)
		return -EAGAIN;
	return err;
}

static int do_mlock(struct mm_struct *mm, unsigned long start, unsigned long len,
		    unsigned long flags)
{
	unsigned long locked, limit = memlock_limit_pages(mm);
	int err = -ENOMEM;

	if (!can_do_mlock(mm))
		return -EPERM;
	len = PAGE_ALIGN(len + (start & ~PAGE_MASK));
	start &= PAGE_MASK;
	locked = len >> PAGE_SHIFT;
	mmap_write_lock(mm);
	locked += (unsigned long)atomic_load(&mm->locked_vm);
	if (locked > limit && !atomic_load(&mm->cap_ipc_lock))
		locked -= count_mm_mlocked_page_nr(mm, start, len);
	if (locked <= limit || atomic_load(&mm->cap_ipc_lock)) {
		vma_start_write_range(mm, start, start + len); /* their flags change */
		err = apply_vma_lock_flags(mm, start, len, flags);
	}
	mmap_write_unlock(mm);
	if (err)
		return err;
	err = __mm_populate(mm, start, len, false);
	return err ? mlock_posix_error(err) : 0;
}

int mm_mlock(struct mm_struct *mm, unsigned long start, unsigned long len, unsigned int flags)
{
	if (flags & ~MLOCK_ONFAULT)
		return -EINVAL;
	return do_mlock(mm, start, len, VM_LOCKED | (flags & MLOCK_ONFAULT ? VM_LOCKONFAULT : 0));
}

int mm_munlock(struct mm_struct *mm, unsigned long start, unsigned long len)
{
	int err;

	len = PAGE_ALIGN(len + (start & ~PAGE_MASK));
	start &= PAGE_MASK;
	mmap_write_lock(mm);
	vma_start_write_range(mm, start, start + len); /* their flags change */
	err = apply_vma_lock_flags(mm, start, len, 0);
	mmap_write_unlock(mm);
	return err;
}

/* apply_mlockall_flags(): errors of single VMAs are ignored, as in Linux. */
static void apply_mlockall_flags(struct mm_struct *mm, int flags)
{
	unsigned long to_add = 0, def = 0;
	struct vm_area_struct *vma;

	if (flags & MCL_FUTURE)
		def = VM_LOCKED | (flags & MCL_ONFAULT ? VM_LOCKONFAULT : 0);
	atomic_store(&mm->def_flags, def);
	if ((flags & MCL_FUTURE) && !(flags & MCL_CURRENT))
		return;
	vma_start_write_range(mm, 0, ~0UL); /* every VMA's flags change */
	if (flags & MCL_CURRENT)
		to_add = VM_LOCKED | (flags & MCL_ONFAULT ? VM_LOCKONFAULT : 0);
	for (vma = vma_first(mm); vma; vma = vma_next(vma))
		mlock_fixup(mm, &vma, vma->vm_start, vma->vm_end,
			    (vma->vm_flags & ~VM_LOCKED_MASK) | to_add);
}

int mm_mlockall(struct mm_struct *mm, int flags)
{
	unsigned long total = 0;
	int ret = -ENOMEM;

	if (!flags || (flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)) || flags == MCL_ONFAULT)
		return -EINVAL;
	if (!can_do_mlock(mm))
		return -EPERM;
	mmap_write_lock(mm);
	for (struct vm_area_struct *vma = vma_first(mm); vma; vma = vma_next(vma))
		total += vma_npages(vma); /* total_vm */
	if (!(flags & MCL_CURRENT) || total <= memlock_limit_pages(mm) ||
	    atomic_load(&mm->cap_ipc_lock)) {
		apply_mlockall_flags(mm, flags);
		ret = 0;
	}
	mmap_write_unlock(mm);
	if (!ret && (flags & MCL_CURRENT))
		__mm_populate(mm, 0, TASK_SIZE, true);
	return ret;
}

int mm_munlockall(struct mm_struct *mm)
{
	mmap_write_lock(mm);
	apply_mlockall_flags(mm, 0);
	mmap_write_unlock(mm);
	return 0;
}

/* --- reclaim: mlocked pages stay -------------------------------------------- */

static bool mlocked_one(struct vm_area_struct *vma, unsigned long addr, struct page *page,
			void *arg)
{
	struct mm_struct *mm = vma->vm_mm;
	bool *found = arg;
	pte_t *ptep;
	uint64_t pte;

	if (!(READ_ONCE(vma->vm_flags) & VM_LOCKED))
		return true;
	sm_mutex_lock(&mm->page_table_lock);
	ptep = pte_offset(mm, addr);
	pte = ptep ? pte_load(ptep) : 0;
	*found = pte_present(pte) && pte_pfn(pte) == page_to_pfn(page);
	sm_mutex_unlock(&mm->page_table_lock);
	return !*found;
}

/*
 * Linux keeps such a folio on the unevictable LRU (mlock_folio()), where
 * reclaim never looks; here reclaim asks the reverse map.
 */
bool page_mlocked(struct page *page)
{
	bool found = false;

	rmap_walk(page, mlocked_one, &found);
	return found;
}
