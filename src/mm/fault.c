// SPDX-License-Identifier: MIT
/*
 * Page faults: demand zero, shared anonymous, copy-on-write, driver VMAs.
 *
 * Locks: the caller holds mmap_lock for read (or write), or only the VMA's
 * per-VMA lock for read (FAULT_FLAG_VMA_LOCK, lock_vma_under_rcu(): then
 * only what needs nothing but the VMA and the page-table lock is done here,
 * the rest returns FAULT_RETRY_MMAP). Page allocation and
 * copying happen without the PTL; the PTE is then installed under the PTL
 * only if it is still what the fault saw, else the fault is simply retried
 * (the "pte_same" rule).
 *
 * COW: a private anonymous page is reused on a write fault if it is
 * exclusive to this mm (PG_anon_exclusive) or its only reference is this
 * PTE; otherwise it is copied. Replacing the PTE is an invalidation
 * (MMU_NOTIFY_CLEAR) with the legacy change_pte call in the middle.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "secmmu/kit/bugs.h"
#include "mm/internal.h"
#include "mm/swap_internal.h"
#include "secmmu/kit/bugs.h"
#include "secmmu/trace.h"

/*
 * A PTE of [start, end) was made writable in place (ptep_set_access_flags):
 * TLBs that cache permissions must drop the read-only entry, the CPU's and
 * the secondary ones (arm64's flush, with the notifier since 6bbd42e2df8f).
 * Caller holds the page-table lock. The museum's iommu-perm-upgrade-no-flush
 * flushes only the CPU's.
 */
void flush_secondary_upgrade(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	if (!historic_bug(BUG_IOMMU_PERM_UPGRADE_NO_FLUSH))
		mmu_notifier_arch_invalidate_secondary_tlbs(mm, start, end);
}

static bool vma_allows(const struct vm_area_struct *vma, bool write)
{
	return vma->vm_flags & (write ? VM_WRITE : VM_READ);
}

/*
 * pte_alloc() for a 4 KiB fault: NULL with *@ret = -ENOMEM when out of
 * memory, NULL with *@ret = 0 when a huge PMD got there first (the caller
 * retries and finds it). Under PTL.
 */
static pte_t *fault_pte_alloc(struct mm_struct *mm, unsigned long addr, int *ret)
{
	pte_t *ptep = pte_alloc(mm, addr), *pmdp;

	if (!ptep) {
		pmdp = pmd_offset(mm, addr);
		*ret = pmdp && pmd_trans_huge(pte_load(pmdp)) ? 0 : -ENOMEM;
	}
	return ptep;
}

static void anon_page_init(struct page *page, struct vm_area_struct *vma, unsigned long addr);
static int alloc_anon_page(struct vm_area_struct *vma, unsigned long addr, struct page **pagep);

/* Map a new page at @ptep: the PTE takes over the caller's page reference. */
static void map_new_page(struct mm_struct *mm, pte_t *ptep, struct page *page, bool write)
{
	atomic_fetch_add(&page->_mapcount, 1);
	atomic_fetch_add(&mm->rss, 1);
	set_pte(mm, ptep, pfn_pte(page_to_pfn(page), write) | (write ? PTE_DIRTY : 0));
}

static int do_anonymous_page(struct vm_area_struct *vma, unsigned long addr, bool write)
{
	struct mm_struct *mm = vma->vm_mm;
	struct page *page;
	pte_t *ptep;
	int ret;

	if (!write) {
		/* Reads of never-written private memory map the zero page. */
		sm_mutex_lock(&mm->page_table_lock);
		ptep = fault_pte_alloc(mm, addr, &ret);
		if (!ptep) {
			sm_mutex_unlock(&mm->page_table_lock);
			return ret;
		}
		if (pte_none(pte_load(ptep))) {
			get_page(zero_page());
			set_pte(mm, ptep, pfn_pte(0, false));
		}
		sm_mutex_unlock(&mm->page_table_lock);
		return 0;
	}
	ret = alloc_anon_page(vma, addr, &page);
	if (ret)
		return ret;
	sm_mutex_lock(&mm->page_table_lock);
	ptep = fault_pte_alloc(mm, addr, &ret);
	if (!ptep) {
		/* ret says it */
	} else if (pte_none(pte_load(ptep))) {
		map_new_page(mm, ptep, page, true);
		lru_add(page);
		page = NULL;
	}
	sm_mutex_unlock(&mm->page_table_lock);
	if (page)
		put_page(page); /* lost a race (or no table): the caller retries */
	return ret;
}

static void anon_page_init(struct page *page, struct vm_area_struct *vma, unsigned long addr)
{
	SetPageFlag(page, PG_anon);
	SetPageFlag(page, PG_swapbacked);
	/* Pairs with the release store in __vma_set_anon_vma() (maybe by another fault). */
	page->mapping = __atomic_load_n(&vma_core(vma)->anon_vma, __ATOMIC_ACQUIRE);
	page->index = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
}

/* A new zeroed private page for @addr, exclusive to @vma's mm (not yet mapped). */
static int alloc_anon_page(struct vm_area_struct *vma, unsigned long addr, struct page **pagep)
{
	int ret = anon_vma_prepare(vma);

	if (ret)
		return ret;
	*pagep = alloc_page();
	if (!*pagep)
		return -ENOMEM;
	anon_page_init(*pagep, vma, addr);
	SetPageFlag(*pagep, PG_anon_exclusive);
	return 0;
}

/*
 * do_swap_page(): the PTE holds a swap entry. Take the page from the swap
 * cache if reclaim left it there (it may be shared: map it read-only, COW
 * decides later), else read the slot into a new page of our own.
 */
static int do_swap_page(struct vm_area_struct *vma, unsigned long addr, uint64_t orig)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long slot = pte_pfn(orig);
	struct page *page;
	bool cached = true, write;
	pte_t *ptep;
	int ret;
	TRACE_SCOPE("mm", "do_swap_page", "addr=0x%lx slot=%lu mm=%s", addr, slot, mm_name(mm));

	ret = anon_vma_prepare(vma);
	if (ret)
		return ret;
	page = swap_cache_get(slot);
	if (page) {
		/*
		 * The entry says whether the page was ours alone when it was
		 * paged out. If fork shared the entry since, every mm that shares
		 * the slot may map this cached page: not exclusive, a write must
		 * copy. If not, it still is ours alone -- and must stay so: a
		 * write in flight through a GUP reference goes on into this very
		 * page, and a COW copy now would lose it.
		 */
		if (orig & PTE_SWAP_EXCL)
			SetPageFlag(page, PG_anon_exclusive);
		else
			ClearPageFlag(page, PG_anon_exclusive);
	} else {
		cached = false;
		page = alloc_page();
		if (!page)
			return -ENOMEM;
		ret = swap_readpage(slot, page);
		if (ret) {
			put_page(page);
			return ret;
		}
		anon_page_init(page, vma, addr);
		SetPageFlag(page, PG_anon_exclusive);
	}
	write = (!cached || (orig & PTE_SWAP_EXCL)) && (vma->vm_flags & VM_WRITE);
	sm_mutex_lock(&mm->page_table_lock);
	ptep = pte_offset(mm, addr);
	if (!ptep || pte_load(ptep) != orig) {
		sm_mutex_unlock(&mm->page_table_lock);
		put_page(page); /* raced with another fault or an unmap: retry */
		return 0;
	}
	atomic_fetch_add(&page->_mapcount, 1);
	atomic_fetch_add(&mm->rss, 1);
	atomic_fetch_sub(&mm->swapents, 1);
	set_pte(mm, ptep, pfn_pte(page_to_pfn(page), write));
	/* Under the PTL: once it is dropped the page may be paged out and freed. */
	if (!cached)
		lru_add(page);
	sm_mutex_unlock(&mm->page_table_lock);
	swap_free(slot); /* this PTE's count on the slot */
	return 0;
}

/* fault_around_bytes (64 KiB): the window a read fault maps from the page cache. */
#define FAULT_AROUND_PAGES 16UL

/*
 * do_fault_around(): a read fault on a file or shared-memory page also maps
 * the neighbours the object already has in memory, read-only: 16 pages from
 * the 64 KiB-aligned address below @addr (or from the VMA's start if that is
 * later), clipped to the VMA and the page table (Linux's do_fault_around()
 * with filemap_map_pages()). PTEs already set are
 * left alone. Caller holds mmap_lock; takes the object's lock, then the PTL.
 */
static void do_fault_around(struct vm_area_struct *vma, unsigned long addr)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long start = addr & ~(FAULT_AROUND_PAGES * PAGE_SIZE - 1);
	unsigned long pmd_end = (addr | (512 * PAGE_SIZE - 1)) + 1, end;
	struct page *pages[FAULT_AROUND_PAGES];
	unsigned long first, nr;

	/* From the aligned start (or the VMA's), 16 pages, within the VMA and the table. */
	if (start < vma->vm_start)
		start = vma->vm_start;
	end = start + FAULT_AROUND_PAGES * PAGE_SIZE;
	if (end > vma->vm_end)
		end = vma->vm_end;
	if (end > pmd_end)
		end = pmd_end;
	nr = (end - start) >> PAGE_SHIFT;
	first = vma->vm_pgoff + ((start - vma->vm_start) >> PAGE_SHIFT);
	if (!shmem_obj_find_pages(vma_core(vma)->shm, first, nr, pages))
		return;
	sm_mutex_lock(&mm->page_table_lock);
	for (unsigned long i = 0; i < nr; i++) {
		pte_t *ptep;

		if (!pages[i] || start + (i << PAGE_SHIFT) == addr)
			continue; /* the faulting page is mapped by the caller */
		ptep = pte_alloc(mm, start + (i << PAGE_SHIFT));
		if (!ptep || !pte_none(pte_load(ptep)))
			continue;
		map_new_page(mm, ptep, pages[i], false);
		pages[i] = NULL; /* the PTE's reference now */
	}
	sm_mutex_unlock(&mm->page_table_lock);
	for (unsigned long i = 0; i < nr; i++)
		if (pages[i])
			put_page(pages[i]);
}

static int do_shared_page(struct vm_area_struct *vma, unsigned long addr, bool write)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long pgoff = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
	/* A private mapping of a file maps its pages read-only: a write copies. */
	bool writable = (vma->vm_flags & VM_WRITE) && vma_is_shared(vma);
	struct page *page;
	pte_t *ptep;
	uint64_t pte;
	int ret;

	if (!write)
		do_fault_around(vma, addr);
	ret = shmem_obj_get_page(vma_core(vma)->shm, pgoff, &page);
	if (ret)
		return ret;
	sm_mutex_lock(&mm->page_table_lock);
	ptep = pte_alloc(mm, addr);
	if (!ptep) {
		ret = -ENOMEM;
	} else {
		pte = pte_load(ptep);
		if (pte_none(pte)) {
			map_new_page(mm, ptep, page, writable);
			page = NULL;
		} else if (pte_present(pte) && writable && !pte_write(pte)) {
			set_pte(mm, ptep, pte | PTE_WRITE | PTE_DIRTY);
			flush_secondary_upgrade(mm, addr, addr + PAGE_SIZE);
		}
	}
	sm_mutex_unlock(&mm->page_table_lock);
	if (page)
		put_page(page);
	return ret;
}

/*
 * A write fault on a page of a private file mapping that is not mapped yet:
 * copy the file's page into a new anonymous page and map that, in one step
 * (Linux's do_cow_fault()). Mapping the file's page read-only first and
 * copying on a second fault lets reclaim, run by the copy's allocation,
 * evict the file's page in between, again and again: under memory pressure
 * the write never completed. Our reference keeps the file's page while the
 * allocation reclaims. Return: 0 (the caller re-checks the PTE), -ENOMEM,
 * -EFAULT (beyond the end of the file).
 */
static int do_cow_fault(struct vm_area_struct *vma, unsigned long addr)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long pgoff = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
	struct page *page, *new;
	pte_t *ptep;
	int ret;

	ret = shmem_obj_get_page(vma_core(vma)->shm, pgoff, &page);
	if (ret)
		return ret;
	ret = alloc_anon_page(vma, addr, &new);
	if (ret) {
		put_page(page); /* Pairs with shmem_obj_get_page(). */
		return ret;
	}
	copy_frame_data(page_address(new), page_address(page), PAGE_SIZE);
	put_page(page); /* Pairs with shmem_obj_get_page(). */
	sm_mutex_lock(&mm->page_table_lock);
	ptep = pte_alloc(mm, addr);
	if (!ptep) {
		ret = -ENOMEM;
	} else if (pte_none(pte_load(ptep))) {
		map_new_page(mm, ptep, new, true);
		lru_add(new);
		new = NULL;
	}
	sm_mutex_unlock(&mm->page_table_lock);
	if (new)
		put_page(new); /* lost a race (or no table): the caller retries */
	return ret;
}

static int do_driver_fault(struct vm_area_struct *vma, unsigned long addr, bool write)
{
	struct mm_struct *mm = vma->vm_mm;
	struct vm_fault vmf = {
		.vma = vma,
		.address = addr,
		.flags = write ? FAULT_FLAG_WRITE : 0,
		.pgoff = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT),
	};
	pte_t *ptep;
	int ret;

	ret = vma->vm_ops->fault(&vmf);
	if (ret)
		return ret;
	sm_mutex_lock(&mm->page_table_lock);
	ptep = pte_alloc(mm, addr);
	if (!ptep) {
		ret = -ENOMEM;
	} else if (vmf.interval_sub &&
		   mmu_interval_check_retry(vmf.interval_sub, vmf.interval_seq)) {
		/* An invalidation began after the driver's check: the page may be stale. */
	} else if (pte_none(pte_load(ptep)) && is_zero_pfn(page_to_pfn(vmf.page))) {
		/*
		 * The driver resolved a read to the zero page (XPMEM's exporter
		 * never wrote there): map it as the zero page, read-only and
		 * neither counted in rss nor mapcount, as zap_pte() expects
		 * when it drops it. The PTE takes over the driver's reference.
		 */
		set_pte(mm, ptep, pfn_pte(0, false));
		vmf.page = NULL;
	} else if (pte_none(pte_load(ptep))) {
		/* A private mapping never writes the driver's page: COW on the next write fault. */
		map_new_page(mm, ptep, vmf.page, (vma->vm_flags & VM_WRITE) && vma_is_shared(vma));
		vmf.page = NULL;
	}
	sm_mutex_unlock(&mm->page_table_lock);
	if (vmf.page)
		put_page(vmf.page);
	return ret;
}

/* May a write fault reuse the private anonymous page @page in place? */
static bool can_reuse_anon(struct page *page)
{
	/* Only anonymous pages are ever reused; file, zero and KSM pages are copied. */
	if (!PageTest(page, PG_anon) || PageTest(page, PG_ksm))
		return false;
	if (PageTest(page, PG_anon_exclusive))
		return true;
	/*
	 * The museum's cow-wrong-way (base/bugs.h): reuse when this is the
	 * only mapping, as before the fix of CVE-2020-29374 -- a GUP reference
	 * another process took while it still shared the page is ignored, and
	 * that process goes on seeing our writes.
	 */
	if (historic_bug(BUG_COW_WRONG_WAY) && page_mapcount(page) == 1) {
		SetPageFlag(page, PG_anon_exclusive);
		return true;
	}
	if (page_ref_count(page) == 1) {
		SetPageFlag(page, PG_anon_exclusive);
		return true;
	}
	return false;
}

/*
 * do_wp_page(): write fault on a present, write-protected private PTE.
 * Either reuse the page (make the PTE writable) or copy it and replace the
 * PTE under an MMU_NOTIFY_CLEAR invalidation.
 *
 * @unshare (FAULT_FLAG_UNSHARE, a read-only pin): the same decision, but a
 * reused page stays write-protected (it only becomes exclusive) and a copy
 * is mapped read-only and clean, as Linux's wp_page_copy() does for it.
 */
static int do_wp_page(struct vm_area_struct *vma, unsigned long addr, uint64_t orig, bool unshare)
{
	struct mm_struct *mm = vma->vm_mm;
	struct mmu_notifier_range range;
	struct page *old = pfn_to_page(pte_pfn(orig)), *new;
	pte_t *ptep;
	int ret;

	sm_mutex_lock(&mm->page_table_lock);
	ptep = pte_offset(mm, addr);
	if (pte_load(ptep) == orig && can_reuse_anon(old)) {
		if (!unshare) {
			set_pte(mm, ptep, orig | PTE_WRITE | PTE_DIRTY | PTE_YOUNG);
			flush_secondary_upgrade(mm, addr, addr + PAGE_SIZE);
		}
		sm_mutex_unlock(&mm->page_table_lock);
		return 0;
	}
	sm_mutex_unlock(&mm->page_table_lock);

	ret = alloc_anon_page(vma, addr, &new);
	if (ret)
		return ret;

	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, addr, addr + PAGE_SIZE);
	mmu_notifier_invalidate_range_start(&range);
	sm_mutex_lock(&mm->page_table_lock);
	if (pte_load(ptep) != orig) {
		sm_mutex_unlock(&mm->page_table_lock);
		mmu_notifier_invalidate_range_end(&range);
		put_page(new);
		return 0; /* someone else resolved it; retry */
	}
	/* The old frame is still mapped (and referenced by the PTE) while we copy. */
	copy_frame_data(page_address(new), page_address(old), PAGE_SIZE);
	set_pte(mm, ptep, 0);
	mmu_notifier_arch_invalidate_secondary_tlbs(mm, addr, addr + PAGE_SIZE);
	mmu_notifier_change_pte(mm, addr, page_to_pfn(new), !unshare);
	atomic_fetch_add(&new->_mapcount, 1);
	set_pte(mm, ptep, pfn_pte(page_to_pfn(new), !unshare) | (unshare ? PTE_YOUNG : PTE_DIRTY));
	if (!is_zero_pfn(pte_pfn(orig))) {
		folio_remove_rmap_pte(old); /* may leave a THP partially mapped */
	} else {
		atomic_fetch_add(&mm->rss, 1); /* the zero page was not counted */
	}
	lru_add(new); /* under the PTL: the PTE's is the only reference to it */
	sm_mutex_unlock(&mm->page_table_lock);
	put_page(old); /* Pairs with the reference the old PTE held. */
	mmu_notifier_invalidate_range_end(&range);
	return 0;
}

int handle_mm_fault(struct vm_area_struct *vma, unsigned long addr, unsigned int flags)
{
	struct mm_struct *mm = vma->vm_mm;
	bool write = flags & FAULT_FLAG_WRITE;
	pte_t *ptep;
	uint64_t pte;
	TRACE_SCOPE("mm", "handle_mm_fault", "addr=0x%lx write=%d remote=%d mm=%s", addr, write,
		    !!(flags & FAULT_FLAG_REMOTE), mm_name(mm));

	if (flags & FAULT_FLAG_VMA_LOCK) {
		vma_assert_locked(vma);
		/* Shared memory, files and drivers' ->fault expect mmap_lock (Linux 6.4). */
		if (vma_core(vma)->shm || vma->vm_ops)
			return FAULT_RETRY_MMAP;
	} else {
		mmap_assert_locked(mm);
	}
	addr &= PAGE_MASK;
	if (addr < vma->vm_start || addr >= vma->vm_end)
		return -EFAULT;
	/* FOLL_FORCE reads need only VM_MAYREAD, which every VMA here has. */
	if (!vma_allows(vma, write) && (write || !(flags & FAULT_FLAG_FORCE)))
		return -EFAULT;
	if (vma_core(vma)->shm && vma_is_shared(vma))
		return do_shared_page(vma, addr, write);

	if (!vma_core(vma)->shm && !vma->vm_ops) {
		unsigned long haddr = addr & HPAGE_PMD_MASK;
		pte_t *pmdp = pmd_offset(mm, haddr);
		/*
		 * A look without the PTL: a split through the reverse map (or
		 * a racing fault) may change the PMD next. Each path below
		 * rechecks under the PTL (do_huge_pmd_wp_page() compares the
		 * whole value, split_huge_pmd_address() and
		 * do_huge_pmd_anonymous_page() look again) and a stale look
		 * ends in a retry: the caller faults again.
		 */
		uint64_t pmd = pmdp ? pte_load(pmdp) : 0;

		/*
		 * A huge PMD is unshared as a write fault breaks it where the VMA
		 * is writable; not in a read-only VMA (not modelled: the pin
		 * takes the folio as it is).
		 */
		if (pmd_trans_huge(pmd))
			return huge_pmd_fault(vma, addr, pmd,
					      write || ((flags & FAULT_FLAG_UNSHARE) &&
							(vma->vm_flags & VM_WRITE)));
		if (!pmd && thp_vma_allowable(vma, false) && thp_vma_suitable(vma, haddr)) {
			int ret = do_huge_pmd_anonymous_page(vma, addr, write);

			if (ret != -EAGAIN)
				return ret;
		}
	}

	ptep = pte_offset(mm, addr);
	pte = ptep ? pte_load(ptep) : 0;
	/* A private file mapping: the file's page read-only, or at once a copy for a write. */
	if (pte_none(pte) && vma_core(vma)->shm)
		return write ? do_cow_fault(vma, addr) : do_shared_page(vma, addr, write);
	if (pte_none(pte) && vma->vm_ops && vma->vm_ops->fault)
		return do_driver_fault(vma, addr, write);
	if (pte_none(pte))
		return do_anonymous_page(vma, addr, write);
	/*
	 * Swap-in, a migration entry's wait and device memory sleep for
	 * events or call a driver: under mmap_lock only (do_swap_page() under
	 * a VMA lock in Linux 6.4 retries the same way).
	 */
	if ((flags & FAULT_FLAG_VMA_LOCK) && !pte_present(pte))
		return FAULT_RETRY_MMAP;
	if (pte & PTE_MIGRATING) {
		/*
		 * Migration in flight (migration_entry_wait()): it holds the old
		 * page locked until the PTEs point at the new frame. Wait for
		 * that, then the caller retries and finds the new PTE.
		 */
		migration_entry_wait(mm, addr, pte);
		return 0;
	}
	if (pte_is_swap(pte))
		return do_swap_page(vma, addr, pte);
	if (pte_is_device(pte))
		return do_device_private_fault(vma, addr, pte, flags);
	if (pte_is_device_excl(pte))
		return do_device_exclusive_fault(vma, addr, pte);
	if (!pte_present(pte))
		return -EFAULT;
	if (write && !pte_write(pte)) {
		if (vma_is_shared(vma)) /* a shared driver mapping mapped read-only */
			return -EFAULT;
		return do_wp_page(vma, addr, pte, false);
	}
	if ((flags & FAULT_FLAG_UNSHARE) && !pte_write(pte) && !vma_is_shared(vma) && !vma->vm_ops)
		return do_wp_page(vma, addr, pte, true);
	return 0;
}

/**
 * fault_in_page() - make @addr accessible for a read or a write and return
 * the page with a reference (get_page)
 *
 * Faults until the PTE allows the access, with no retry count (GUP's
 * faultin_page() loop): handle_mm_fault() returning 0 either installed the
 * PTE, or slept until what blocked it went away (a migration entry waits for
 * the migration's page lock, a device-private page for its migration back),
 * or lost a race to another thread's change of the PTE -- every retry follows
 * an event, so no amount of load or reclaim turns a valid access into an
 * error. Exhaustion ends it with -ENOMEM from the fault.
 *
 * Caller holds mmap_lock, or (@fault_flags has FAULT_FLAG_VMA_LOCK) @vma's
 * per-VMA lock for read. May sleep. Return: 0, -EFAULT, -ENOMEM, or
 * FAULT_RETRY_MMAP (VMA lock only: nothing was taken, fault again under
 * mmap_lock).
 */
int __fault_in_page(struct vm_area_struct *vma, unsigned long addr, bool write,
		    unsigned int fault_flags, struct page **pagep)
{
	struct mm_struct *mm = vma->vm_mm;

	/* A present PTE does not override the VMA: PROT_NONE has PTEs too. */
	if (!vma_allows(vma, write))
		return -EFAULT;
	for (;;) {
		pte_t *ptep;
		uint64_t pte = 0, huge;
		int ret;

		sm_mutex_lock(&mm->page_table_lock);
		ptep = pte_offset(mm, addr);
		if (ptep) {
			pte = pte_load(ptep);
		} else if (follow_huge_pmd(mm, addr, &huge) && (!write || pte_write(huge))) {
			/* A huge PMD: the subpage, with a reference on its folio. */
			struct page *page = pfn_to_page(pte_pfn(huge));
			pte_t *pmdp = pmd_offset(mm, addr);

			get_page(page); /* Pairs with put_page() by the caller. */
			set_pte(mm, pmdp, pte_load(pmdp) | PTE_YOUNG | (write ? PTE_DIRTY : 0));
			sm_mutex_unlock(&mm->page_table_lock);
			*pagep = page;
			return 0;
		}
		if (pte_present(pte) && (!write || pte_write(pte))) {
			struct page *page = pfn_to_page(pte_pfn(pte));

			get_page(page); /* Pairs with put_page() by the caller. */
			set_pte(mm, ptep, pte | PTE_YOUNG | (write ? PTE_DIRTY : 0));
			sm_mutex_unlock(&mm->page_table_lock);
			*pagep = page;
			return 0;
		}
		sm_mutex_unlock(&mm->page_table_lock);
		ret = handle_mm_fault(vma, addr, (write ? FAULT_FLAG_WRITE : 0) | fault_flags);
		if (ret)
			return ret;
	}
}

int fault_in_page(struct vm_area_struct *vma, unsigned long addr, bool write, struct page **pagep)
{
	return __fault_in_page(vma, addr, write, 0, pagep);
}
