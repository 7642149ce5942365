// SPDX-License-Identifier: MIT
/*
 * The address-space system calls: mmap (MAP_FIXED), munmap, mprotect,
 * madvise, mremap. Argument checks and errno follow Linux (6.x) in the same
 * order, because the order decides which errno wins; see
 * tests/diff for the differential test against the running kernel.
 */
#include <errno.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "secmmu/kit/bugs.h"
#include "mm/internal.h"
#include "secmmu/file.h"

#define PROT_ALL  (PROT_READ | PROT_WRITE | PROT_EXEC)
#define VM_ACCESS (VM_READ | VM_WRITE | VM_EXEC)

static unsigned long prot_to_vm(int prot)
{
	return (prot & PROT_READ ? VM_READ : 0) | (prot & PROT_WRITE ? VM_WRITE : 0) |
	       (prot & PROT_EXEC ? VM_EXEC : 0);
}

static bool range_in_task(unsigned long addr, unsigned long len)
{
	return len <= TASK_SIZE && addr <= TASK_SIZE - len;
}

/* --- mmap ------------------------------------------------------------------ */

static struct vm_area_struct *mmap_new_vma(struct mm_struct *mm, unsigned long addr,
					   unsigned long len, int prot, int flags,
					   struct file *file, unsigned long pgoff, int *err)
{
	struct vm_area_struct *vma = vma_alloc(mm);

	*err = -ENOMEM;
	if (!vma)
		return NULL;
	vma->vm_start = addr;
	vma->vm_end = addr + len;
	/* mm->def_flags: VM_LOCKED (and VM_LOCKONFAULT) after mlockall(MCL_FUTURE). */
	vma->vm_flags = prot_to_vm(prot) | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC |
			atomic_load(&mm->def_flags);
	if (flags & MAP_SHARED)
		vma->vm_flags |= VM_SHARED | VM_MAYSHARE;
	else if (prot & PROT_WRITE)
		vma->vm_flags |= VM_ACCOUNT;
	if (file) {
		vma->vm_file = fget(file); /* Pairs with fput() in vma_free(). */
		vma->vm_pgoff = pgoff;
		*err = file->f_op->mmap ? file->f_op->mmap(file, vma) : -ENODEV;
		if (*err) {
			vma->vm_ops = NULL; /* no close for a VMA that never opened */
			vma_free(vma);
			return NULL;
		}
	} else if (flags & MAP_SHARED) {
		struct shmem_obj *obj = shmem_obj_alloc(len >> PAGE_SHIFT);

		if (!obj) {
			vma_free(vma);
			return NULL;
		}
		vma_set_shm(vma, obj);
		shmem_obj_put(obj); /* the VMA holds it now */
	} else {
		vma->vm_pgoff = addr >> PAGE_SHIFT;
	}
	/* __mmap_region(): special mappings are never locked (nor counted). */
	if (vma->vm_flags & (VM_IO | VM_PFNMAP))
		vma->vm_flags &= ~VM_LOCKED_MASK;
	*err = 0;
	return vma;
}

long mm_mmap(struct mm_struct *mm, unsigned long addr, unsigned long len, int prot, int flags,
	     struct file *file, unsigned long pgoff)
{
	struct vm_area_struct *vma, *detached = NULL;
	int type = flags & (MAP_SHARED | MAP_PRIVATE);
	unsigned long vm_flags = 0;
	int err;

	/*
	 * In do_mmap()'s order: a zero length, the length rounding past the
	 * end, the file offset wrapping, then __get_unmapped_area() (too long,
	 * beyond TASK_SIZE: -ENOMEM before an unaligned address: -EINVAL),
	 * mmap_min_addr (-EPERM), and only then the mapping type.
	 */
	if (!len)
		return -EINVAL;
	if (prot & ~PROT_ALL)
		return -EINVAL;
	len = PAGE_ALIGN(len);
	if (!len)
		return -ENOMEM;
	if (file && pgoff + (len >> PAGE_SHIFT) < pgoff)
		return -EOVERFLOW;
	if (len > TASK_SIZE - MMAP_MIN_ADDR || addr > TASK_SIZE - len)
		return -ENOMEM;
	if (!PAGE_ALIGNED(addr))
		return -EINVAL;
	if (addr < MMAP_MIN_ADDR)
		return -EPERM;
	/* mlockall(MCL_FUTURE): the new mapping must fit under the memlock limit. */
	if (!mlock_future_ok(mm, atomic_load(&mm->def_flags), len))
		return -EAGAIN;
	if (type != MAP_SHARED && type != MAP_PRIVATE)
		return -EINVAL;

	mmap_write_lock(mm);
	vma = mmap_new_vma(mm, addr, len, prot, flags, file, pgoff, &err);
	if (!vma)
		goto out;
	err = do_munmap(mm, addr, len, &detached);
	if (err) {
		vma_core(vma)->next_free = detached;
		detached = vma;
		goto out;
	}
	vm_flags = vma->vm_flags;
	if (vm_flags & VM_LOCKED)
		atomic_fetch_add(&mm->locked_vm, (long)(len >> PAGE_SHIFT));
	vma_link(mm, vma);
	vma_merge_neighbours(mm, vma);
out:
	mmap_write_unlock(mm);
	vma_free_list(detached);
	if (err)
		return err;
	/* vm_mmap_pgoff(): a locked mapping is faulted in, errors ignored. */
	if ((vm_flags & VM_LOCKED_MASK) == VM_LOCKED)
		__mm_populate(mm, addr, len, true);
	return (long)addr;
}

/* --- munmap ---------------------------------------------------------------- */

int mm_munmap(struct mm_struct *mm, unsigned long addr, unsigned long len)
{
	struct vm_area_struct *detached = NULL;
	int err;

	if (!PAGE_ALIGNED(addr))
		return -EINVAL;
	len = PAGE_ALIGN(len);
	if (!len || !range_in_task(addr, len))
		return -EINVAL;
	mmap_write_lock(mm);
	err = do_munmap(mm, addr, len, &detached);
	mmap_write_unlock(mm);
	vma_free_list(detached);
	return err;
}

/* --- protection changes ------------------------------------------------------ */

struct vm_area_struct *vma_modify_flags(struct mm_struct *mm, struct vm_area_struct *vma,
					unsigned long start, unsigned long end,
					unsigned long newflags, int *err)
{
	*err = 0;
	if (vma->vm_flags == newflags)
		return vma;
	if (vma->vm_start < start) {
		*err = vma_split(mm, vma, start);
		if (*err)
			return vma;
		vma = vma_next(vma);
	}
	if (vma->vm_end > end) {
		*err = vma_split(mm, vma, end);
		if (*err)
			return vma;
	}
	vma_start_write(vma); /* faults under its lock read the flags */
	/* Reverse-map walkers read it without mmap_lock (as Linux's rmap does). */
	WRITE_ONCE(vma->vm_flags, newflags);
	return vma;
}

/**
 * change_protection() - apply @vma's (new) protection to its present
 * entries in [start, end)
 *
 * Context: mmap_lock held for write and @vma write-locked (no fault
 * changes the PMDs here), but not the reverse map: a folio split
 * (reclaim, migration, KSM, the deferred split; through another mm's
 * mapping of a fork-shared THP too) may turn a huge PMD of the range into
 * a leaf table at any time, as in Linux (change_pmd_range() finds it with
 * pmd_trans_huge() under the PTL, or falls through to the PTEs). So the
 * first populated PMD is found with pmd_next_present(), for which a huge
 * PMD and the table a split makes of it are the same thing, never by
 * looking for tables and huge PMDs in two passes (a split between them
 * hid the PMD from both: its PTEs kept their write bit in a read-only
 * VMA, outside the invalidation); each huge PMD is changed under the PTL
 * (change_huge_pmd() skips one split meanwhile), and the leaf tables are
 * walked after that, so a table a split left is walked too. Takes the PTL.
 */
static void change_protection(struct vm_area_struct *vma, unsigned long start, unsigned long end)
{
	struct mm_struct *mm = vma->vm_mm;
	bool writable = vma->vm_flags & VM_WRITE;
	unsigned long first = pmd_next_present(mm, start & HPAGE_PMD_MASK, end);
	struct mmu_notifier_range range;

	if (first < start)
		first = start;
	/*
	 * change_pmd_range() starts the invalidation at the first populated
	 * page table only: nothing mapped, nothing to notify.
	 */
	if (first >= end)
		return;
	mmu_notifier_range_init(&range, MMU_NOTIFY_PROTECTION_VMA, 0, mm, first, end);
	mmu_notifier_invalidate_range_start(&range);
	/* Huge PMDs: the VMA split at start and end left only whole ones in the range. */
	for (unsigned long a = first & HPAGE_PMD_MASK; a < end && a >= (first & HPAGE_PMD_MASK);
	     a += HPAGE_PMD_SIZE) {
		pte_t *pmdp = pmd_offset(mm, a);

		if (!pmdp || !pmd_trans_huge(pte_load(pmdp)))
			continue;
		sm_mutex_lock(&mm->page_table_lock);
		change_huge_pmd(vma, pmdp);
		mmu_notifier_arch_invalidate_secondary_tlbs(mm, a, a + HPAGE_PMD_SIZE);
		sm_mutex_unlock(&mm->page_table_lock);
	}
	for (unsigned long a = pte_next_table(mm, first, end); a < end;) {
		unsigned long next = (a + 512 * PAGE_SIZE) & ~(512 * PAGE_SIZE - 1);

		if (next > end || next <= a)
			next = end;
		sm_mutex_lock(&mm->page_table_lock);
		for (unsigned long p = a; p < next; p += PAGE_SIZE) {
			pte_t *ptep = pte_offset(mm, p);
			uint64_t pte = ptep ? pte_load(ptep) : 0, npte = pte;
			struct page *page;

			if (pte_is_device(pte) || pte_is_device_excl(pte)) {
				/* Device entries lose write permission; they never gain it here. */
				if (!writable && pte_write(pte))
					set_pte(mm, ptep, pte & ~PTE_WRITE);
				continue;
			}
			if (!pte_present(pte))
				continue;
			if (!writable) {
				npte &= ~PTE_WRITE;
			} else if (!pte_write(pte) && !is_zero_pfn(pte_pfn(pte))) {
				page = pfn_to_page(pte_pfn(pte));
				/* Upgrade only where no COW is owed (can_change_pte_writable). */
				if (vma_is_shared(vma) || PageTest(page, PG_anon_exclusive))
					npte |= PTE_WRITE;
			}
			if (npte != pte)
				set_pte(mm, ptep, npte);
		}
		mmu_notifier_arch_invalidate_secondary_tlbs(mm, a, next);
		sm_mutex_unlock(&mm->page_table_lock);
		a = pte_next_table(mm, next, end);
	}
	mmu_notifier_invalidate_range_end(&range);
}

int mm_mprotect(struct mm_struct *mm, unsigned long start, unsigned long len, int prot)
{
	struct vm_area_struct *vma;
	unsigned long end, nstart, tmp, newflags;
	int err;

	if (!PAGE_ALIGNED(start))
		return -EINVAL;
	if (!len)
		return 0;
	len = PAGE_ALIGN(len);
	end = start + len;
	if (end <= start)
		return -ENOMEM;
	if (prot & ~PROT_ALL)
		return -EINVAL;

	mmap_write_lock(mm);
	/* Flags and PTEs of these VMAs change: faults under their locks stay out. */
	vma_start_write_range(mm, start, end);
	vma = find_vma(mm, start);
	err = -ENOMEM;
	if (!vma || vma->vm_start > start)
		goto out;
	for (nstart = start;;) {
		newflags = (vma->vm_flags & ~VM_ACCESS) | prot_to_vm(prot);
		/*
		 * Becoming writable charges a private mapping. Becoming read-only
		 * uncharges it only if it is anonymous and no page was ever
		 * written (no anon_vma) -- mprotect_fixup() in Linux.
		 */
		if ((newflags & VM_WRITE) && !(newflags & VM_SHARED))
			newflags |= VM_ACCOUNT;
		else if (!(newflags & VM_WRITE) && !vma->vm_file && !vma->vm_ops &&
			 !vma_core(vma)->shm && !vma_core(vma)->anon_vma)
			newflags &= ~VM_ACCOUNT;
		tmp = vma->vm_end < end ? vma->vm_end : end;
		if (newflags != vma->vm_flags) {
			unsigned long oldflags = vma->vm_flags;

			vma = vma_modify_flags(mm, vma, nstart, tmp, newflags, &err);
			if (err)
				break;
			change_protection(vma, nstart, tmp);
			/*
			 * mprotect_fixup(): a locked private mapping that becomes
			 * writable is faulted in for write at once (COW broken
			 * now, not at the first store). Errors are ignored.
			 */
			if ((oldflags & (VM_WRITE | VM_SHARED | VM_LOCKED)) == VM_LOCKED &&
			    (newflags & VM_WRITE))
				populate_vma_page_range(vma, nstart, tmp);
			vma = vma_merge_neighbours(mm, vma);
		}
		err = 0;
		nstart = tmp;
		if (nstart < vma->vm_end)
			nstart = vma->vm_end;
		if (nstart >= end)
			break;
		vma = find_vma(mm, nstart);
		if (!vma || vma->vm_start != nstart) {
			err = -ENOMEM;
			break;
		}
	}
out:
	mmap_write_unlock(mm);
	return err;
}

/* --- madvise ----------------------------------------------------------------- */

/* MADV_DONTNEED: drop the pages; private memory reads back as zeroes. */
static int madvise_dontneed(struct vm_area_struct *vma, unsigned long start, unsigned long end)
{
	struct mmu_notifier_range range;
	int err;

	/* zap_pmd_range(): a huge PMD only partly in the range is split first. */
	err = split_huge_pmd_range(vma->vm_mm, start, end);
	if (err)
		return err;
	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, vma->vm_mm, start, end);
	mmu_notifier_invalidate_range_start(&range);
	zap_page_range(vma, start, end);
	mmu_notifier_invalidate_range_end(&range);
	return 0;
}

/*
 * The OOM reaper's unmap of one VMA. Fixed (93065ac753e4): inside a
 * non-blockable invalidation; -EAGAIN when a subscriber would have to sleep
 * (nothing unmapped). The museum's oom-reap-no-notifier (base/bugs.h): no
 * notifier at all, as before 4d4bbd8526a8 made the reaper skip mms with
 * notifiers.
 */
static int oom_reap_vma(struct vm_area_struct *vma, unsigned long *reaped)
{
	struct mm_struct *mm = vma->vm_mm;
	struct mmu_notifier_range range;
	bool notify = !historic_bug(BUG_OOM_REAP_NO_NOTIFIER);
	long before = atomic_load(&mm->rss);

	/* Huge PMDs are split first, as zap_pmd_range() would (may sleep: no notifier yet). */
	if (split_huge_pmd_range(mm, vma->vm_start, vma->vm_end))
		return -EAGAIN;
	mmu_notifier_range_init(&range, MMU_NOTIFY_UNMAP, 0, mm, vma->vm_start, vma->vm_end);
	if (notify && mmu_notifier_invalidate_range_start_nonblock(&range))
		return -EAGAIN;
	zap_page_range(vma, vma->vm_start, vma->vm_end);
	if (notify)
		mmu_notifier_invalidate_range_end(&range);
	*reaped += before - atomic_load(&mm->rss);
	return 0;
}

/**
 * mm_oom_reap() - what the OOM reaper does to a victim's address space
 * @mm:     the victim's mm; the caller holds mm_count (mmgrab)
 * @reaped: the number of pages unmapped
 *
 * Unmaps every private anonymous, not mlock()ed VMA, as __oom_reap_task_mm()
 * does, without waiting for the victim's exit: mmap_lock is only tried
 * (read), and each VMA is unmapped inside a non-blockable invalidation. The
 * VMAs stay; later accesses fault in zero pages. May not sleep on a
 * subscriber.
 * Return: 0; -EAGAIN if mmap_lock was busy or some VMA was skipped because a
 * subscriber would have had to sleep (the reaper tries again later).
 */
int mm_oom_reap(struct mm_struct *mm, unsigned long *reaped)
{
	struct vm_area_struct *vma;
	int ret = 0;

	*reaped = 0;
	if (!mmap_read_trylock(mm))
		return -EAGAIN;
	for (vma = vma_first(mm); vma; vma = vma_next(vma)) {
		if ((vma->vm_flags & (VM_LOCKED | VM_SHARED | VM_IO | VM_PFNMAP)) || vma->vm_ops ||
		    vma_core(vma)->shm)
			continue;
		if (oom_reap_vma(vma, reaped))
			ret = -EAGAIN;
	}
	mmap_read_unlock(mm);
	return ret;
}

/*
 * MADV_REMOVE: punch holes in the shared memory behind [start, end), VMA by
 * VMA. As Linux's madvise_remove(), the hole is punched without mmap_lock
 * (it unmaps the object from every mm, this one included): the VMAs are
 * checked and their objects referenced under the lock, then each hole is
 * punched. Errors: -EINVAL (locked, or no shared object behind: private
 * anonymous memory), -EACCES (a private file mapping), -ENOMEM (a hole in
 * the range; the rest is still done).
 */
static int madvise_remove_range(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	struct punch {
		struct shmem_obj *obj; /* a reference (shmem_obj_get) */
		unsigned long first, last;
	} *req = NULL;
	size_t n = 0, cap = 0;
	int err = 0, unmapped = 0;
	struct vm_area_struct *vma;

	mmap_read_lock(mm);
	for (vma = find_vma(mm, start); start < end; vma = find_vma(mm, start)) {
		unsigned long s, e;
		struct shmem_obj *obj;

		if (!vma) {
			err = -ENOMEM;
			break;
		}
		if (start < vma->vm_start) {
			unmapped = -ENOMEM;
			start = vma->vm_start;
			if (start >= end)
				break;
		}
		s = start;
		e = vma->vm_end < end ? vma->vm_end : end;
		obj = vma_core(vma)->shm;
		if ((vma->vm_flags & VM_LOCKED) || !obj) {
			err = -EINVAL;
			break;
		}
		if (!vma_is_shared(vma)) {
			err = -EACCES; /* vma_is_shared_maywrite() */
			break;
		}
		if (n == cap) {
			struct punch *bigger =
				krealloc_array(req, cap = cap ? 2 * cap : 4, sizeof(*req));

			if (!bigger) {
				err = -ENOMEM;
				break;
			}
			req = bigger;
		}
		shmem_obj_get(obj); /* Pairs with shmem_obj_put() below. */
		req[n++] = (struct punch){obj, vma->vm_pgoff + ((s - vma->vm_start) >> PAGE_SHIFT),
					  vma->vm_pgoff + ((e - vma->vm_start) >> PAGE_SHIFT)};
		start = e;
	}
	mmap_read_unlock(mm);
	for (size_t i = 0; i < n; i++) {
		/* As Linux's madvise walk: VMAs before a failing one are done. */
		int r = shmem_obj_punch_hole(req[i].obj, req[i].first, req[i].last);

		if (r && !err)
			err = r;
		shmem_obj_put(req[i].obj);
	}
	kfree(req);
	return err ? err : unmapped;
}

static int madvise_vma(struct mm_struct *mm, struct vm_area_struct **vmap, unsigned long start,
		       unsigned long end, int advice)
{
	struct vm_area_struct *vma = *vmap;
	unsigned long newflags = vma->vm_flags;
	int err;

	switch (advice) {
	case MADV_DONTFORK:
	case MADV_DOFORK:
		if (vma->vm_flags & VM_IO)
			return -EINVAL;
		newflags =
			advice == MADV_DONTFORK ? newflags | VM_DONTCOPY : newflags & ~VM_DONTCOPY;
		goto modify;
	case MADV_WIPEONFORK:
		if (vma->vm_file || vma_core(vma)->shm || (vma->vm_flags & VM_SHARED))
			return -EINVAL;
		newflags |= VM_WIPEONFORK;
		goto modify;
	case MADV_KEEPONFORK:
		newflags &= ~VM_WIPEONFORK;
		goto modify;
	case MADV_COLD:
		/* Deactivation only changes LRU order: nothing else to see. */
		return vma->vm_flags & (VM_LOCKED | VM_PFNMAP) ? -EINVAL : 0;
	case MADV_FREE:
		/*
		 * Private anonymous memory only, not locked. The pages stay
		 * mapped until reclaim; secmmu's reclaim pages them out like any
		 * other (Linux may discard clean lazy-free pages instead).
		 */
		if (vma->vm_flags & VM_LOCKED)
			return -EINVAL;
		if (vma->vm_ops || vma->vm_file || vma_core(vma)->shm)
			return -EINVAL;
		return 0;

	case MADV_DONTNEED:
		/* madvise_dontneed_free_valid_vma(): not in locked memory. */
		if (vma->vm_flags & VM_LOCKED)
			return -EINVAL;
		return madvise_dontneed(vma, start, end);
	case MADV_PAGEOUT:
		/* can_madv_lru_vma() */
		if (vma->vm_flags & VM_LOCKED)
			return -EINVAL;
		/* Without a swap device nothing can be paged out, and that is not an error. */
		if (!vma->vm_ops && !(vma->vm_flags & (VM_IO | VM_PFNMAP))) {
			struct swap_plug plug = {.nr = 0};

			for (unsigned long a = start; a < end; a += PAGE_SIZE)
				reclaim_page(vma, a, &plug);
			swap_plug_flush(&plug);
		}
		return 0;
	case MADV_MERGEABLE:
	case MADV_UNMERGEABLE:
		/*
		 * ksm_madvise(): shared and device memory is silently not
		 * mergeable (vma_ksm_compatible()): no flag, no split, 0.
		 */
		if (advice == MADV_MERGEABLE &&
		    (vma->vm_flags & (VM_MERGEABLE | VM_SHARED | VM_MAYSHARE | VM_PFNMAP | VM_IO)))
			return 0;
		if (advice == MADV_UNMERGEABLE && !(vma->vm_flags & VM_MERGEABLE))
			return 0;
		newflags = advice == MADV_MERGEABLE ? vma->vm_flags | VM_MERGEABLE
						    : vma->vm_flags & ~VM_MERGEABLE;
		if (advice == MADV_UNMERGEABLE && (vma->vm_flags & VM_MERGEABLE))
			for (unsigned long a = start; a < end; a += PAGE_SIZE) {
				err = break_ksm(vma, a);
				if (err)
					return err;
			}
		goto modify;
	case MADV_HUGEPAGE:
	case MADV_NOHUGEPAGE:
		/* hugepage_madvise(): VM_IO/VM_PFNMAP areas never get THPs, and say so */
		if (vma->vm_flags & (VM_IO | VM_PFNMAP))
			return advice == MADV_HUGEPAGE ? -EINVAL : 0;
		newflags = advice == MADV_HUGEPAGE ? (vma->vm_flags & ~VM_NOHUGEPAGE) | VM_HUGEPAGE
						   : (vma->vm_flags & ~VM_HUGEPAGE) | VM_NOHUGEPAGE;
		goto modify;
	case MADV_COLLAPSE:
		return madvise_collapse(vma, start, end);
	}
	return -EINVAL;

modify:
	/*
	 * madvise_update_vma(): nothing changes, nothing is split or merged
	 * (two identical neighbours, say a fork child's halves of a VMA its
	 * parent had mlocked in part, stay two).
	 */
	if (newflags == vma->vm_flags)
		return 0;
	vma = vma_modify_flags(mm, vma, start, end, newflags, &err);
	if (err)
		return err;
	*vmap = vma_merge_neighbours(mm, vma);
	return 0;
}

/*
 * MADV_POPULATE_READ/WRITE: fault every page in as a read or a write would
 * (GUP without pinning), in address order, stopping at the first failure:
 * -ENOMEM where nothing is mapped, -EINVAL where the VMA does not allow the
 * access (or is device memory), -EFAULT if the fault fails.
 */
static int madvise_populate(struct mm_struct *mm, unsigned long start, unsigned long end,
			    bool write)
{
	int err = 0;

	mmap_read_lock(mm);
	for (unsigned long a = start; a < end && !err; a += PAGE_SIZE) {
		struct vm_area_struct *vma = vma_lookup(mm, a);

		if (!vma)
			err = -ENOMEM;
		else if ((vma->vm_flags & (VM_IO | VM_PFNMAP)) ||
			 !(vma->vm_flags & (write ? VM_WRITE : VM_READ)))
			err = -EINVAL;
		else /* GUP faults only where the page is not there yet */
			err = populate_one(vma, a, write, false);
	}
	mmap_read_unlock(mm);
	return err;
}

int mm_madvise(struct mm_struct *mm, unsigned long start, unsigned long len_in, int advice)
{
	struct vm_area_struct *vma;
	unsigned long len, end, tmp;
	int unmapped_error = 0, err = 0;

	switch (advice) {
	case MADV_DONTNEED:
	case MADV_PAGEOUT:
	case MADV_MERGEABLE:
	case MADV_UNMERGEABLE:
	case MADV_DONTFORK:
	case MADV_DOFORK:
	case MADV_WIPEONFORK:
	case MADV_KEEPONFORK:
	case MADV_COLD:
	case MADV_FREE:
	case MADV_REMOVE:
	case MADV_POPULATE_READ:
	case MADV_POPULATE_WRITE:
	case MADV_HUGEPAGE:
	case MADV_NOHUGEPAGE:
	case MADV_COLLAPSE:
		break;
	default:
		return -EINVAL;
	}
	if (!PAGE_ALIGNED(start))
		return -EINVAL;
	len = PAGE_ALIGN(len_in);
	if (len_in && !len)
		return -EINVAL;
	end = start + len;
	if (end < start)
		return -EINVAL;
	if (end == start)
		return 0;
	if (advice == MADV_POPULATE_READ || advice == MADV_POPULATE_WRITE)
		return madvise_populate(mm, start, end, advice == MADV_POPULATE_WRITE);
	if (advice == MADV_REMOVE)
		return madvise_remove_range(mm, start, end);

	mmap_write_lock(mm);
	vma_start_write_range(mm, start, end); /* as mprotect */
	vma = find_vma(mm, start);
	for (;;) {
		if (!vma) {
			err = -ENOMEM;
			break;
		}
		if (start < vma->vm_start) {
			unmapped_error = -ENOMEM;
			start = vma->vm_start;
			if (start >= end)
				break;
		}
		tmp = vma->vm_end < end ? vma->vm_end : end;
		err = madvise_vma(mm, &vma, start, tmp, advice);
		if (err)
			break;
		start = tmp;
		if (start < vma->vm_end)
			start = vma->vm_end;
		if (start >= end)
			break;
		vma = find_vma(mm, start);
	}
	mmap_write_unlock(mm);
	return err ? err : unmapped_error;
}

/* --- mremap -------------------------------------------------------------------- */

/*
 * Move the PTEs of [old, old+len) to [new, new+len); the destination is empty.
 *
 * Every destination page table is allocated before the first PTE moves, so
 * a failed allocation (-ENOMEM) leaves every PTE where it was: a move is
 * all or nothing (Linux moves the done part back instead). Tables allocated
 * before the failure stay, empty, until the mm is torn down.
 * Caller holds mmap_lock for write; takes rmap_lock for write.
 */
static int move_page_tables(struct mm_struct *mm, unsigned long old, unsigned long new,
			    unsigned long len)
{
	struct mmu_notifier_range range;
	unsigned long off;
	int err = 0;

	/*
	 * Huge PMDs move whole only if both places are 2 MiB-aligned, the range
	 * covers them and the destination slot is empty (move_huge_pmd()); the
	 * others are split first, before the destination tables are allocated.
	 * These looks are without the PTL and before rmap_lock: a PMD split
	 * through the reverse map meanwhile is a leaf table below, which the
	 * allocation (under rmap_lock, where no split can come) sees as such.
	 */
	for (unsigned long base = old & HPAGE_PMD_MASK; base < old + len; base += HPAGE_PMD_SIZE) {
		pte_t *pmdp = pmd_offset(mm, base), *dst_pmdp;
		unsigned long dst = new + (base - old);

		if (!pmdp || !pmd_trans_huge(pte_load(pmdp)))
			continue;
		dst_pmdp = base >= old ? pmd_offset(mm, dst) : NULL;
		if (base < old || base + HPAGE_PMD_SIZE > old + len || (dst & ~HPAGE_PMD_MASK) ||
		    (dst_pmdp && pte_load(dst_pmdp))) {
			struct vm_area_struct *vma = vma_lookup(mm, base < old ? old : base);

			err = vma ? split_huge_pmd_address(vma, base) : 0;
			if (err)
				return err;
		}
	}
	/*
	 * From the allocation to the last move, no reverse-map walker may work
	 * here (Linux's take_rmap_locks()): a folio split (deferred split,
	 * migration, reclaim, KSM, each through another mm's mapping of a
	 * fork-shared THP) could turn a huge PMD counted below as "moves
	 * whole, needs only a PMD slot" into a leaf table whose PTEs then have
	 * no destination table; and a walker must not find a page at neither
	 * place. Pairs with sm_down_read(&mm->rmap_lock) in the walkers.
	 */
	sm_down_write(&mm->rmap_lock);
	sm_mutex_lock(&mm->page_table_lock);
	for (off = 0; off < len; off += PAGE_SIZE) {
		pte_t *src = pte_offset(mm, old + off);
		uint64_t huge;

		if ((src && !pte_none(pte_load(src)) && !pte_alloc(mm, new + off)) ||
		    (!src && follow_huge_pmd(mm, old + off, &huge) && !pmd_alloc(mm, new + off))) {
			sm_mutex_unlock(&mm->page_table_lock);
			sm_up_write(&mm->rmap_lock);
			return -ENOMEM;
		}
	}
	sm_mutex_unlock(&mm->page_table_lock);

	mmu_notifier_range_init(&range, MMU_NOTIFY_UNMAP, 0, mm, old, old + len);
	mmu_notifier_invalidate_range_start(&range);
	sm_mutex_lock(&mm->page_table_lock);
	for (off = 0; off < len; off += PAGE_SIZE) {
		pte_t *src, *dst;
		uint64_t pte;

		if (!((old + off) & ~HPAGE_PMD_MASK) && len - off >= HPAGE_PMD_SIZE &&
		    move_huge_pmd(mm, old + off, new + off)) {
			off += HPAGE_PMD_SIZE - PAGE_SIZE;
			continue;
		}
		src = pte_offset(mm, old + off);
		pte = src ? pte_load(src) : 0;
		if (pte_none(pte))
			continue;
		dst = pte_offset(mm, new + off); /* allocated above; nothing frees tables */
		BUG_ON(!dst);
		set_pte(mm, src, 0);
		set_pte(mm, dst, pte);
	}
	mmu_notifier_arch_invalidate_secondary_tlbs(mm, old, old + len);
	sm_mutex_unlock(&mm->page_table_lock);
	mmu_notifier_invalidate_range_end(&range);
	sm_up_write(&mm->rmap_lock);
	return 0;
}

/*
 * move_vma(): map [new_addr, new_addr+new_len) with @vma's attributes, move
 * the pages of [old_addr, old_addr+old_len) there, unmap the old range.
 * On failure nothing has changed: the new VMA is taken out again (onto
 * @detached, freed by the caller after mmap_lock is dropped), and if the
 * unmap of the old range fails (splitting its VMA needs memory) the pages
 * move back first -- into the old range's page tables, which are still
 * there, so moving back allocates nothing and cannot fail. That is why the
 * old range is unmapped before the new VMA merges with its neighbours (a
 * merged VMA could not be taken out again without a split); the VMAs that
 * result are the same as merging first, as Linux's copy_vma() does, since
 * what is left of the old VMA is what the new one would have merged with.
 *
 * MREMAP_DONTUNMAP (@dontunmap): the old range stays mapped, empty. The
 * whole old VMA loses VM_LOCKED (not split first: as the 6.18 reference
 * kernel does), the new one keeps it; and a VMA that was exactly the old
 * range drops its anon_vma and becomes unfaulted again, keeping its pgoff,
 * as Linux's dontunmap_complete() leaves it, unmerged. locked_vm follows
 * the locked VMAs (Linux leaves it at the old count: see
 * docs/architecture.md).
 */
static int move_vma(struct mm_struct *mm, struct vm_area_struct *vma, unsigned long old_addr,
		    unsigned long old_len, unsigned long new_len, unsigned long new_addr,
		    bool dontunmap, struct vm_area_struct **detached)
{
	struct vm_area_struct *new;
	int err;

	new = vma_dup(vma);
	if (!new)
		return -ENOMEM;
	/* copy_vma(): an unfaulted anonymous VMA takes the pgoff of its new place. */
	if (!vma->vm_file && !vma_core(vma)->shm && !vma_core(vma)->anon_vma)
		vma_set_bounds(new, new_addr, new_addr + new_len, new_addr >> PAGE_SHIFT);
	else
		vma_set_bounds(new, new_addr, new_addr + new_len,
			       vma->vm_pgoff + ((old_addr - vma->vm_start) >> PAGE_SHIFT));
	vma_link(mm, new);
	err = move_page_tables(mm, old_addr, new_addr, old_len);
	if (err) {
		vma_unlink(mm, new);
		vma_core(new)->next_free = *detached;
		*detached = new;
		return err;
	}
	if (!dontunmap && old_len) {
		err = do_munmap(mm, old_addr, old_len, detached);
		if (err) {
			/* Nothing was unmapped: undo the move (no allocation, see above). */
			BUG_ON(move_page_tables(mm, new_addr, old_addr, old_len));
			vma_unlink(mm, new);
			vma_core(new)->next_free = *detached;
			*detached = new;
			return err;
		}
	}
	new = vma_merge_new_range(mm, new, false);
	if (dontunmap) {
		/*
		 * The new VMA may have merged with what is left of the old one
		 * (the destination was carved out of the same VMA): then there
		 * is no old VMA of its own to unlock or unfault.
		 */
		vma = vma_lookup(mm, old_addr);
		if (!vma || vma == new) {
			if (new->vm_flags & VM_LOCKED)
				atomic_fetch_add(&mm->locked_vm, (long)(new_len >> PAGE_SHIFT));
			return 0;
		}
		if (vma->vm_flags & VM_LOCKED)
			atomic_fetch_add(
				&mm->locked_vm,
				(long)(new_len >> PAGE_SHIFT) -
					(long)((vma->vm_end - vma->vm_start) >> PAGE_SHIFT));
		WRITE_ONCE(vma->vm_flags, vma->vm_flags & ~VM_LOCKED_MASK);
		/* unlink_anon_vmas(): its pgoff stays (a later merge needs it to line up). */
		if (vma->vm_start == old_addr && vma->vm_end == old_addr + old_len)
			vma_drop_anon_vma(vma);
		return 0;
	}
	if (new->vm_flags & VM_LOCKED)
		atomic_fetch_add(&mm->locked_vm, (long)(new_len >> PAGE_SHIFT));
	return 0;
}

/* check_prep_vma(): may [addr, addr+old_len) be resized to new_len? */
static int mremap_check_vma(struct vm_area_struct *vma, unsigned long addr, unsigned long old_len,
			    unsigned long new_len, int flags)
{
	if (!vma)
		return -EFAULT;
	if (!old_len && !vma_is_shared(vma))
		return -EINVAL;
	if ((flags & MREMAP_DONTUNMAP) && (vma->vm_flags & (VM_PFNMAP | VM_IO)))
		return -EINVAL;
	if (old_len > new_len)
		old_len = new_len; /* a shrink may cross VMA boundaries in the dropped part */
	if (old_len > vma->vm_end - addr)
		return -EFAULT;
	if (new_len == old_len)
		return 0;
	if (vma->vm_flags & (VM_PFNMAP | VM_IO))
		return -EFAULT;
	/* Growing a locked mapping: the growth must fit under the memlock limit. */
	if (!mlock_future_ok(vma->vm_mm, vma->vm_flags, new_len - old_len))
		return -EAGAIN;
	return 0;
}

/*
 * remap_move(): MREMAP_FIXED with equal lengths may move several VMAs (and
 * the holes between them keep their offsets), as Linux >= 6.17 does, with
 * MREMAP_DONTUNMAP too (each VMA's part stays mapped, empty). Only the
 * destination pieces that receive a mapping are cleared.
 */
static int remap_move(struct mm_struct *mm, unsigned long addr, unsigned long len,
		      unsigned long new_addr, bool dontunmap, struct vm_area_struct **detached)
{
	unsigned long end = addr + len, pos = addr;
	struct vm_area_struct *vma = vma_lookup(mm, addr);
	int err;

	if (!vma)
		return -EFAULT;
	while (vma && vma->vm_start < end) {
		unsigned long s = vma->vm_start > pos ? vma->vm_start : pos;
		unsigned long e = vma->vm_end < end ? vma->vm_end : end;
		unsigned long dst = new_addr + (s - addr);

		err = do_munmap(mm, dst, e - s, detached);
		if (err)
			return err;
		vma = vma_lookup(mm, s);
		if (!vma)
			return -EFAULT;
		if (dontunmap && (vma->vm_flags & (VM_PFNMAP | VM_IO)))
			return -EINVAL;
		err = move_vma(mm, vma, s, e - s, e - s, dst, dontunmap, detached);
		if (err)
			return err;
		pos = e;
		/* With DONTUNMAP the old VMA is still there: never look back before pos. */
		vma = pos < end ? find_vma(mm, pos) : NULL;
	}
	return 0;
}

static unsigned long get_unmapped_area(struct mm_struct *mm, unsigned long len)
{
	unsigned long addr = (TASK_SIZE / 4) & PAGE_MASK;
	struct vm_area_struct *vma;

	for (vma = find_vma(mm, addr); vma; vma = vma_next(vma)) {
		if (addr + len <= vma->vm_start)
			break;
		addr = vma->vm_end;
	}
	return range_in_task(addr, len) ? addr : 0;
}

/*
 * Under mmap_lock for write. *@populate is set to the start of a grown part
 * of a locked mapping (new_len - old_len bytes) that the caller faults in
 * after dropping the lock, or left 0.
 */
static long mremap_locked(struct mm_struct *mm, unsigned long addr, unsigned long old_len,
			  unsigned long new_len, int flags, unsigned long new_addr,
			  struct vm_area_struct **detached, unsigned long *populate)
{
	struct vm_area_struct *vma = vma_lookup(mm, addr), *next;
	bool dontunmap = flags & MREMAP_DONTUNMAP;
	int err;

	if (!vma)
		return -EFAULT;
	if ((flags & MREMAP_FIXED) && old_len == new_len) {
		err = remap_move(mm, addr, old_len, new_addr, dontunmap, detached);
		return err ? err : (long)new_addr;
	}
	/*
	 * In place, same size or smaller: nothing new is mapped, so the old
	 * range need not lie in one VMA (check_prep_vma() checks the boundary
	 * only when new pages will be mapped); a shrink unmaps the tail, holes
	 * and other VMAs included.
	 */
	if (!(flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) && new_len <= old_len) {
		if (new_len < old_len) {
			err = do_munmap(mm, addr + new_len, old_len - new_len, detached);
			if (err)
				return err;
		}
		return (long)addr;
	}
	err = mremap_check_vma(vma, addr, old_len, new_len, flags);
	if (err)
		return err;
	if (flags & MREMAP_FIXED) {
		err = do_munmap(mm, new_addr, new_len, detached);
		if (err)
			return err;
		/*
		 * The destination may have covered the source (old_len 0 of a
		 * shared mapping): look it up again, -EFAULT if it is gone
		 * (mremap_to() in Linux).
		 */
		if (!vma_lookup(mm, addr))
			return -EFAULT;
	}
	if (old_len > new_len) {
		err = do_munmap(mm, addr + new_len, old_len - new_len, detached);
		if (err)
			return err;
		old_len = new_len;
		if (!(flags & MREMAP_FIXED))
			return (long)addr;
	}
	vma = vma_lookup(mm, addr);
	if (!(flags & MREMAP_FIXED)) {
		if (old_len == new_len && !dontunmap)
			return (long)addr;
		/* Grow in place if the space after the VMA is free. */
		next = vma_next(vma);
		if (!dontunmap && vma->vm_end == addr + old_len && range_in_task(addr, new_len) &&
		    (!next || next->vm_start >= addr + new_len)) {
			vma_unlink(mm, vma);
			vma_set_bounds(vma, vma->vm_start, addr + new_len, vma->vm_pgoff);
			vma_link(mm, vma);
			if (vma->vm_flags & VM_LOCKED) {
				atomic_fetch_add(&mm->locked_vm,
						 (long)((new_len - old_len) >> PAGE_SHIFT));
				*populate = addr + old_len;
			}
			/* vma_merge_extend(): only the next VMA may join. */
			vma_merge_new_range(mm, vma, true);
			return (long)addr;
		}
		if (!(flags & MREMAP_MAYMOVE))
			return -ENOMEM;
		new_addr = get_unmapped_area(mm, new_len);
		if (!new_addr)
			return -ENOMEM;
	}
	if ((vma->vm_flags & VM_LOCKED) && !dontunmap && new_len > old_len)
		*populate = new_addr + old_len;
	err = move_vma(mm, vma, addr, old_len, new_len, new_addr, dontunmap, detached);
	if (err)
		*populate = 0;
	return err ? err : (long)new_addr;
}

long mm_mremap(struct mm_struct *mm, unsigned long addr, unsigned long old_len,
	       unsigned long new_len, int flags, unsigned long new_addr)
{
	struct vm_area_struct *detached = NULL;
	unsigned long populate = 0;
	long ret;

	if (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP))
		return -EINVAL;
	if ((flags & MREMAP_FIXED) && !(flags & MREMAP_MAYMOVE))
		return -EINVAL;
	/* MREMAP_DONTUNMAP is always a move, and never a resize. */
	if ((flags & MREMAP_DONTUNMAP) && (!(flags & MREMAP_MAYMOVE) || old_len != new_len))
		return -EINVAL;
	if (!PAGE_ALIGNED(addr))
		return -EINVAL;
	old_len = PAGE_ALIGN(old_len);
	new_len = PAGE_ALIGN(new_len);
	if (!new_len)
		return -EINVAL;
	if (!range_in_task(addr, old_len))
		return -EFAULT;
	if (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) {
		if (!PAGE_ALIGNED(new_addr))
			return -EINVAL;
		if (!range_in_task(new_addr, new_len))
			return -EINVAL;
		if (addr + old_len > new_addr && new_addr + new_len > addr)
			return -EINVAL;
	}
	mmap_write_lock(mm);
	/* The source's PTEs move away, its bounds change; the destination is unmapped first. */
	vma_start_write_range(mm, addr, addr + (old_len ? old_len : PAGE_SIZE));
	ret = mremap_locked(mm, addr, old_len, new_len, flags, new_addr, &detached, &populate);
	mmap_write_unlock(mm);
	vma_free_list(detached);
	/* The grown part of a locked mapping is faulted in, errors ignored. */
	if (ret >= 0 && populate)
		__mm_populate(mm, populate, new_len - old_len, true);
	return ret;
}
