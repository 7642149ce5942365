// SPDX-License-Identifier: MIT
/*
 * Transparent huge pages (anonymous, PMD-sized), as Linux 6.x does them.
 *
 * Mapping: a first-touch fault (read or write) in an aligned 2 MiB range of a
 * private anonymous VMA that may have THPs (thp_vma_allowable(): the system
 * setting `always`, or `madvise` and MADV_HUGEPAGE; never MADV_NOHUGEPAGE)
 * allocates a large folio and maps it with one PMD, writable if the VMA is.
 * There is no huge zero page: the reference machine of the differential test
 * (6.18 booted with pvm_no_zero_page=1) allocates a THP on a read fault too;
 * stock Linux would map the huge zero page until the first write.
 * If no aligned block is free, or the PMD already points to a leaf table,
 * the fault falls back to 4 KiB pages.
 *
 * Splitting the PMD (__split_huge_pmd): the huge entry becomes a leaf table
 * of HPAGE_PMD_NR PTEs mapping the same subpages, with the same rights,
 * inside an MMU_NOTIFY_CLEAR invalidation over the whole 2 MiB: a secondary
 * MMU that cached one 2 MiB translation must drop all of it. The folio
 * stays whole (PTE-mapped). It happens where Linux does it:
 *   - a VMA split inside a huge PMD (vma_adjust_trans_huge: partial munmap,
 *     mprotect, madvise that changes flags, mremap of part);
 *   - MADV_DONTNEED of part of it (zap_pmd_range), mremap to a place that
 *     is not 2 MiB-congruent (move_page_tables);
 *   - a write fault on a huge PMD whose folio is not exclusive (COW after
 *     fork, Linux 6.x: reuse when exclusive, else split and copy 4 KiB), and
 *     an unsharing fault of a pin (GUP's FOLL_PIN on a shared THP);
 *   - fork, when the folio may be pinned (the child gets copies at once).
 * A folio whose PTE mappings partly went away is queued for a deferred
 * split (deferred_split_folio(), Linux's deferred_split_queue), but the
 * folio split itself (split_huge_page) is NOT modelled yet: the queue is
 * only bookkeeping, and the unmapped subpages stay allocated until the
 * whole folio is freed. For the same reason THPs are never paged out (they
 * are not on the LRU, and pageout() refuses PTE-mapped ones), migrated
 * (left in place) or merged by KSM (skipped) -- where Linux would split
 * them (or, for swap and migration, move them whole).
 *
 * Collapse (khugepaged, MADV_COLLAPSE): 512 PTEs are replaced by one PMD of
 * a new folio holding a copy, under mmap_lock for write and rmap_lock for
 * write (no walker can be inside the leaf table that is freed), inside an
 * MMU_NOTIFY_CLEAR invalidation over the 2 MiB (the notification
 * CVE-2022-48991 was about).
 *
 * Locks: PMD changes happen under the page-table lock, as PTE changes.
 */
#include <errno.h>
#include <string.h>

#include "mm/internal.h"
#include "mm/swap_internal.h"
#include "secmmu/trace.h"

static _Atomic int thp_mode = THP_MADVISE;

int thp_set_mode(int mode)
{
	if (mode != THP_NEVER && mode != THP_MADVISE && mode != THP_ALWAYS)
		return -EINVAL;
	atomic_store(&thp_mode, mode);
	return 0;
}

int thp_get_mode(void)
{
	return atomic_load(&thp_mode);
}

/* thp_vma_suitable_order(): the aligned 2 MiB at @haddr fits in @vma. */
bool thp_vma_suitable(struct vm_area_struct *vma, unsigned long haddr)
{
	if (vma_core(vma)->shm || vma->vm_ops || vma->vm_file || vma_is_shared(vma) ||
	    (vma->vm_flags & (VM_IO | VM_PFNMAP)))
		return false;
	/* No pgoff congruence for anonymous memory (thp_vma_suitable_order()). */
	return haddr >= vma->vm_start && haddr + HPAGE_PMD_SIZE <= vma->vm_end &&
	       haddr + HPAGE_PMD_SIZE > haddr;
}

/* Can @vma hold an aligned 2 MiB anywhere (__thp_vma_allowable_orders(), not in a fault)? */
static bool vma_can_hold_thp(struct vm_area_struct *vma)
{
	return vma->vm_end - vma->vm_start >= HPAGE_PMD_SIZE &&
	       thp_vma_suitable(vma, (vma->vm_end - HPAGE_PMD_SIZE) & HPAGE_PMD_MASK);
}

bool thp_vma_allowable(struct vm_area_struct *vma, bool madv_collapse)
{
	unsigned long flags = READ_ONCE(vma->vm_flags);
	int mode = thp_get_mode();

	if (flags & VM_NOHUGEPAGE)
		return false;
	if (madv_collapse)
		return true; /* MADV_COLLAPSE ignores the system setting */
	return mode == THP_ALWAYS || (mode == THP_MADVISE && (flags & VM_HUGEPAGE));
}

static uint64_t mk_huge_pmd(struct page *head, bool write)
{
	return pfn_pte(page_to_pfn(head), write) | PTE_HUGE | PTE_DIRTY;
}

/* Anonymous rmap of a new folio mapped at @haddr of @vma: exclusive to this mm. */
static void folio_add_new_anon_rmap(struct page *head, struct vm_area_struct *vma,
				    unsigned long haddr)
{
	/* Pairs with the release store in __vma_set_anon_vma(). */
	struct anon_vma *av = __atomic_load_n(&vma_core(vma)->anon_vma, __ATOMIC_ACQUIRE);
	unsigned long index = vma->vm_pgoff + ((haddr - vma->vm_start) >> PAGE_SHIFT);

	for (unsigned long i = 0; i < HPAGE_PMD_NR; i++) {
		SetPageFlag(head + i, PG_anon);
		SetPageFlag(head + i, PG_swapbacked);
		head[i].mapping = av;
		head[i].index = index + i;
	}
	SetPageFlag(head, PG_anon_exclusive);
}

/* Map @head with a fresh PMD at @pmdp. The PMD takes over the caller's reference. Under PTL. */
static void map_huge_pmd(struct mm_struct *mm, pte_t *pmdp, struct page *head, bool write)
{
	atomic_fetch_add(&head->_entire_mapcount, 1);
	atomic_fetch_add(&mm->rss, HPAGE_PMD_NR);
	atomic_fetch_add(&mm->nr_thp, 1);
	set_pte(mm, pmdp, mk_huge_pmd(head, write));
}

int do_huge_pmd_anonymous_page(struct vm_area_struct *vma, unsigned long addr)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long haddr = addr & HPAGE_PMD_MASK;
	struct page *head;
	pte_t *pmdp;
	uint64_t pmd;
	int ret;
	TRACE_SCOPE("mm", "do_huge_pmd_anonymous_page", "addr=0x%lx mm=%s", haddr, mm_name(mm));

	ret = anon_vma_prepare(vma);
	if (ret)
		return ret;
	head = alloc_thp_folio();
	if (!head)
		return -EAGAIN; /* fall back to 4 KiB pages */
	folio_add_new_anon_rmap(head, vma, haddr);
	sm_mutex_lock(&mm->page_table_lock);
	pmdp = pmd_alloc(mm, haddr);
	if (!pmdp) {
		ret = -ENOMEM;
	} else {
		pmd = pte_load(pmdp);
		if (!pmd) {
			map_huge_pmd(mm, pmdp, head, vma->vm_flags & VM_WRITE);
			head = NULL;
		} else if (!pmd_trans_huge(pmd)) {
			ret = -EAGAIN; /* a leaf table is there: 4 KiB pages */
		}
	}
	sm_mutex_unlock(&mm->page_table_lock);
	if (head)
		put_page(head); /* lost a race, or falling back */
	return ret;
}

/*
 * Turn the huge PMD at @pmdp (mapping [haddr, haddr + 2 MiB)) into a leaf
 * table @table of PTEs. Caller holds the PTL and an invalidation over the
 * 2 MiB (or the whole range being torn down), and flushes secondary TLBs.
 */
static void __split_huge_pmd_locked(struct mm_struct *mm, pte_t *pmdp, unsigned long haddr,
				    pte_t *table)
{
	uint64_t pmd = pte_load(pmdp);
	unsigned long pfn = pte_pfn(pmd);
	struct page *head = pfn_to_page(pfn);
	bool exclusive = PageTest(head, PG_anon_exclusive);
	uint64_t keep = pmd & (PTE_WRITE | PTE_DIRTY | PTE_YOUNG);

	(void)haddr;
	BUG_ON(!pmd_trans_huge(pmd) || !PageTest(head, PG_head));
	for (unsigned long i = 0; i < HPAGE_PMD_NR; i++) {
		atomic_fetch_add(&head[i]._mapcount, 1);
		if (exclusive)
			SetPageFlag(head + i, PG_anon_exclusive);
		atomic_store_explicit(&table[i],
				      ((uint64_t)(pfn + i) << PTE_PFN_SHIFT) | PTE_PRESENT | keep,
				      memory_order_relaxed);
	}
	/* The PMD's folio reference becomes HPAGE_PMD_NR PTE references. */
	atomic_fetch_add(&head->_refcount, HPAGE_PMD_NR - 1);
	BUG_ON(atomic_fetch_sub(&head->_entire_mapcount, 1) <= 0);
	atomic_fetch_sub(&mm->nr_thp, 1);
	pmd_populate(mm, pmdp, table);
}

int split_huge_pmd_address(struct vm_area_struct *vma, unsigned long addr)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long haddr = addr & HPAGE_PMD_MASK;
	struct mmu_notifier_range range;
	pte_t *pmdp = pmd_offset(mm, haddr), *table;

	if (!pmdp || !pmd_trans_huge(pte_load(pmdp)))
		return 0;
	table = pte_table_alloc();
	if (!table)
		return -ENOMEM;
	TRACE_SCOPE("mm", "split_huge_pmd", "addr=0x%lx mm=%s", haddr, mm_name(mm));
	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, haddr, haddr + HPAGE_PMD_SIZE);
	mmu_notifier_invalidate_range_start(&range);
	sm_mutex_lock(&mm->page_table_lock);
	if (pmd_trans_huge(pte_load(pmdp))) {
		__split_huge_pmd_locked(mm, pmdp, haddr, table);
		table = NULL;
		/* A device TLB may hold the 2 MiB translation: it goes whole. */
		mmu_notifier_arch_invalidate_secondary_tlbs(mm, haddr, haddr + HPAGE_PMD_SIZE);
	}
	sm_mutex_unlock(&mm->page_table_lock);
	mmu_notifier_invalidate_range_end(&range);
	if (table)
		pte_table_free(table);
	return 0;
}

int split_huge_pmd_range(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	/* Only the PMDs at the two edges can be partly covered. */
	unsigned long edge[2] = {start, end - 1};

	for (int i = 0; i < 2; i++) {
		unsigned long haddr = edge[i] & HPAGE_PMD_MASK;
		struct vm_area_struct *vma;
		int ret;

		if (haddr >= start && haddr + HPAGE_PMD_SIZE <= end &&
		    haddr + HPAGE_PMD_SIZE > haddr)
			continue; /* wholly inside: stays huge */
		vma = vma_lookup(mm, edge[i]);
		if (vma) {
			ret = split_huge_pmd_address(vma, haddr);
			if (ret)
				return ret;
		}
	}
	return 0;
}

void zap_huge_pmd(struct mm_struct *mm, pte_t *pmdp, unsigned long haddr)
{
	struct page *head = NULL;
	uint64_t pmd;

	sm_mutex_lock(&mm->page_table_lock);
	pmd = pte_load(pmdp);
	if (pmd_trans_huge(pmd)) {
		head = pfn_to_page(pte_pfn(pmd));
		set_pte(mm, pmdp, 0);
		BUG_ON(atomic_fetch_sub(&head->_entire_mapcount, 1) <= 0);
		atomic_fetch_sub(&mm->rss, HPAGE_PMD_NR);
		atomic_fetch_sub(&mm->nr_thp, 1);
		/* The device TLB must forget the frames before they are freed. */
		mmu_notifier_arch_invalidate_secondary_tlbs(mm, haddr, haddr + HPAGE_PMD_SIZE);
	}
	sm_mutex_unlock(&mm->page_table_lock);
	if (head)
		put_page(head); /* Pairs with the reference the PMD held. */
}

/* May a write fault reuse the PMD-mapped folio @head in place (wp_can_reuse_anon_folio)? */
static bool can_reuse_huge(struct page *head)
{
	if (!PageTest(head, PG_anon) || PageTest(head, PG_ksm))
		return false;
	if (PageTest(head, PG_anon_exclusive))
		return true;
	/* Only this PMD holds it (the other mm's mapping went away): ours again. */
	if (page_ref_count(head) == 1 && atomic_load(&head->_entire_mapcount) == 1) {
		SetPageFlag(head, PG_anon_exclusive);
		return true;
	}
	return false;
}

int do_huge_pmd_wp_page(struct vm_area_struct *vma, unsigned long addr, uint64_t orig)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long haddr = addr & HPAGE_PMD_MASK;
	pte_t *pmdp;
	bool reused = false;

	sm_mutex_lock(&mm->page_table_lock);
	pmdp = pmd_offset(mm, haddr);
	if (!pmdp || pte_load(pmdp) != orig) {
		sm_mutex_unlock(&mm->page_table_lock);
		return 0; /* changed meanwhile: retry */
	}
	if (can_reuse_huge(pfn_to_page(pte_pfn(orig)))) {
		set_pte(mm, pmdp, orig | PTE_WRITE | PTE_DIRTY | PTE_YOUNG);
		reused = true;
	}
	sm_mutex_unlock(&mm->page_table_lock);
	if (reused)
		return 0;
	/* Shared: split, and the retried fault copies the one 4 KiB page (Linux 6.x). */
	return split_huge_pmd_address(vma, haddr);
}

int huge_pmd_fault(struct vm_area_struct *vma, unsigned long addr, uint64_t pmd, bool write)
{
	if (write && !pte_write(pmd))
		return do_huge_pmd_wp_page(vma, addr, pmd);
	return 0;
}

int copy_huge_pmd(struct mm_struct *dst_mm, struct mm_struct *src_mm, pte_t *dst_pmdp,
		  pte_t *src_pmdp, unsigned long haddr)
{
	uint64_t pmd = pte_load(src_pmdp);
	struct page *head = pfn_to_page(pte_pfn(pmd));
	pte_t *table;

	if (page_maybe_dma_pinned(head)) {
		/*
		 * The device writes into this folio: the parent keeps it and
		 * the child gets copies at once -- 4 KiB ones, after a split of
		 * the parent's PMD (the caller's invalidation covers it).
		 */
		table = pte_table_alloc();
		if (!table)
			return -ENOMEM;
		__split_huge_pmd_locked(src_mm, src_pmdp, haddr, table);
		return -EAGAIN; /* copy the PTEs */
	}
	get_page(head); /* the child's PMD reference; pairs with zap_huge_pmd() */
	atomic_fetch_add(&head->_entire_mapcount, 1);
	ClearPageFlag(head, PG_anon_exclusive);
	if (pte_write(pmd))
		set_pte(src_mm, src_pmdp, pmd & ~PTE_WRITE);
	atomic_fetch_add(&dst_mm->rss, HPAGE_PMD_NR);
	atomic_fetch_add(&dst_mm->nr_thp, 1);
	set_pte(dst_mm, dst_pmdp, pmd & ~PTE_WRITE);
	return 0;
}

void change_huge_pmd(struct vm_area_struct *vma, pte_t *pmdp)
{
	struct mm_struct *mm = vma->vm_mm;
	uint64_t pmd = pte_load(pmdp), npmd = pmd;

	lockdep_assert_held(&mm->page_table_lock);
	if (!pmd_trans_huge(pmd))
		return;
	if (!(vma->vm_flags & VM_WRITE))
		npmd &= ~PTE_WRITE;
	else if (!pte_write(pmd) && PageTest(pfn_to_page(pte_pfn(pmd)), PG_anon_exclusive))
		npmd |= PTE_WRITE; /* no COW owed: can_change_pmd_writable() */
	if (npmd != pmd)
		set_pte(mm, pmdp, npmd);
}

bool move_huge_pmd(struct mm_struct *mm, unsigned long old_addr, unsigned long new_addr)
{
	pte_t *src = pmd_offset(mm, old_addr), *dst;
	uint64_t pmd;

	lockdep_assert_held(&mm->page_table_lock);
	pmd = src ? pte_load(src) : 0;
	if (!pmd_trans_huge(pmd))
		return false;
	dst = pmd_alloc(mm, new_addr);
	if (!dst || pte_load(dst))
		return false; /* a leaf table is in the way: the caller splits */
	set_pte(mm, src, 0);
	set_pte(mm, dst, pmd);
	return true;
}

/* --- the huge translation for walkers ------------------------------------ */

bool follow_huge_pmd(struct mm_struct *mm, unsigned long addr, uint64_t *ptev)
{
	pte_t *pmdp = pmd_offset(mm, addr);
	uint64_t pmd = pmdp ? pte_load(pmdp) : 0;
	unsigned long idx = (addr & ~HPAGE_PMD_MASK) >> PAGE_SHIFT;

	if (!pmd_trans_huge(pmd))
		return false;
	/* The 4 KiB piece as a PTE would say it (HUGE kept so callers know). */
	*ptev = (pmd & ~PTE_PFN_MASK) | ((uint64_t)(pte_pfn(pmd) + idx) << PTE_PFN_SHIFT);
	return true;
}

/* --- collapse ------------------------------------------------------------- */

/* khugepaged's defaults (/sys/kernel/mm/transparent_hugepage/khugepaged/). */
#define MAX_PTES_NONE	511
#define MAX_PTES_SHARED 256

/*
 * Replace the leaf table of [haddr, haddr + 2 MiB) of @vma by a PMD mapping
 * a new folio with a copy of its pages. Caller holds mmap_lock for write.
 * @madv: MADV_COLLAPSE (no limits on none, young and shared pages).
 * Return: 0 (collapsed, or already huge), -ENOMEM (no huge page), -EAGAIN
 * (a page is pinned, referenced by GUP, swapped out, migrating, KSM or
 * shared too widely), -EINVAL (nothing mapped there).
 */
static int collapse_huge_page(struct vm_area_struct *vma, unsigned long haddr, bool madv)
{
	struct mm_struct *mm = vma->vm_mm;
	struct page *batch[HPAGE_PMD_NR], *head;
	struct mmu_notifier_range range;
	unsigned long none = 0, shared = 0, young = 0, n = 0;
	pte_t *pmdp, *table = NULL;
	uint64_t pmd;
	int ret;
	TRACE_SCOPE("mm", "collapse_huge_page", "addr=0x%lx mm=%s", haddr, mm_name(mm));

	mmap_assert_write_locked(mm);
	pmdp = pmd_offset(mm, haddr);
	pmd = pmdp ? pte_load(pmdp) : 0;
	if (pmd_trans_huge(pmd))
		return 0;
	if (!pmd)
		return -EINVAL; /* SCAN_PMD_NULL */
	ret = anon_vma_prepare(vma);
	if (ret)
		return ret;
	head = alloc_thp_folio();
	if (!head)
		return -ENOMEM;
	folio_add_new_anon_rmap(head, vma, haddr);

	/* No reverse-map walker (reclaim, migration) may be inside the table we free. */
	sm_down_write(&mm->rmap_lock);
	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, haddr, haddr + HPAGE_PMD_SIZE);
	mmu_notifier_invalidate_range_start(&range);
	sm_mutex_lock(&mm->page_table_lock);
	table = pmd_pte_table(pmdp);
	ret = -EINVAL;
	if (!table)
		goto fail;
	ret = -EAGAIN;
	for (unsigned long i = 0; i < HPAGE_PMD_NR; i++) {
		uint64_t pte = pte_load(&table[i]);
		struct page *page;

		if (pte_none(pte) || (pte_present(pte) && is_zero_pfn(pte_pfn(pte)))) {
			none++;
			continue;
		}
		if (!pte_present(pte))
			goto fail; /* swapped out or migrating: not swapped in here */
		page = pfn_to_page(pte_pfn(pte));
		if (!PageTest(page, PG_anon) || PageTest(page, PG_ksm) ||
		    page_maybe_dma_pinned(page))
			goto fail;
		/* A reference beyond the mappings: GUP holds it (SCAN_PAGE_COUNT). */
		if (!PageCompound(page) && page_ref_count(page) != page_mapcount(page))
			goto fail;
		if (page_mapcount(page) > 1)
			shared++;
		if (pte & PTE_YOUNG)
			young++;
	}
	if (!madv && none > MAX_PTES_NONE) {
		ret = -EINVAL; /* SCAN_EXCEED_NONE_PTE: MADV_COLLAPSE has no such limit */
		goto fail;
	}
	if (!madv && (shared > MAX_PTES_SHARED || !young))
		goto fail;
	for (unsigned long i = 0; i < HPAGE_PMD_NR; i++) {
		uint64_t pte = pte_load(&table[i]);
		struct page *page;

		if (pte_none(pte))
			continue;
		atomic_store_explicit(&table[i], 0, memory_order_relaxed);
		if (is_zero_pfn(pte_pfn(pte))) {
			put_page(zero_page()); /* Pairs with get_page() when it was mapped. */
			continue;
		}
		page = pfn_to_page(pte_pfn(pte));
		copy_frame_data(page_address(head + i), page_address(page), PAGE_SIZE);
		BUG_ON(atomic_fetch_sub(&page->_mapcount, 1) <= 0);
		atomic_fetch_sub(&mm->rss, 1);
		batch[n++] = page;
	}
	map_huge_pmd(mm, pmdp, head, vma->vm_flags & VM_WRITE);
	head = NULL;
	mmu_notifier_arch_invalidate_secondary_tlbs(mm, haddr, haddr + HPAGE_PMD_SIZE);
	sm_mutex_unlock(&mm->page_table_lock);
	pte_table_free(table);
	for (unsigned long i = 0; i < n; i++)
		if (PageCompound(batch[i]) && page_mapcount(batch[i]) == 0)
			deferred_split_folio(compound_head(batch[i]));
	free_page_batch(batch, n);
	mmu_notifier_invalidate_range_end(&range);
	sm_up_write(&mm->rmap_lock);
	return 0;
fail:
	sm_mutex_unlock(&mm->page_table_lock);
	mmu_notifier_invalidate_range_end(&range);
	sm_up_write(&mm->rmap_lock);
	put_page(head);
	return ret;
}

int madvise_collapse(struct vm_area_struct *vma, unsigned long start, unsigned long end)
{
	int last = 0;

	unsigned long hstart = (start + HPAGE_PMD_SIZE - 1) & HPAGE_PMD_MASK;

	if (!thp_vma_allowable(vma, true) || !vma_can_hold_thp(vma))
		return -EINVAL;
	/*
	 * Linux (6.18) compares the collapsed count with (hend - hstart) >>
	 * PMD_SHIFT: a piece of a VMA with no aligned 2 MiB is 0 ranges (ok) if
	 * hstart == hend, and a failure if the piece lies inside one 2 MiB.
	 */
	if (hstart > (end & HPAGE_PMD_MASK))
		return -EINVAL;
	for (unsigned long a = hstart; a + HPAGE_PMD_SIZE <= end && a + HPAGE_PMD_SIZE > a;
	     a += HPAGE_PMD_SIZE) {
		int ret;

		if (!thp_vma_suitable(vma, a)) {
			last = -EINVAL;
			continue;
		}
		ret = collapse_huge_page(vma, a, true);
		if (ret == -ENOMEM)
			return -ENOMEM;
		/* madvise_collapse(): go on after a failure, report the last one. */
		if (ret)
			last = ret;
	}
	return last;
}

int mm_collapse(struct mm_struct *mm, unsigned long addr)
{
	unsigned long haddr = addr & HPAGE_PMD_MASK;
	struct vm_area_struct *vma;
	int ret;

	if (addr >= TASK_SIZE)
		return -EINVAL;
	mmap_write_lock(mm);
	vma = vma_lookup(mm, addr);
	if (!vma)
		ret = -EFAULT;
	else if (!thp_vma_allowable(vma, false) || !vma_can_hold_thp(vma) ||
		 !thp_vma_suitable(vma, haddr))
		ret = -EINVAL;
	else
		ret = collapse_huge_page(vma, haddr, false);
	mmap_write_unlock(mm);
	return ret;
}

struct khugepaged_scan {
	unsigned long budget, collapsed;
};

static int khugepaged_scan_mm(struct mm_struct *mm, void *arg)
{
	struct khugepaged_scan *sc = arg;
	struct vm_area_struct *vma;

	mmap_write_lock(mm);
	for (vma = vma_first(mm); vma && sc->collapsed < sc->budget; vma = vma_next(vma)) {
		if (!thp_vma_allowable(vma, false))
			continue;
		for (unsigned long a = (vma->vm_start + HPAGE_PMD_SIZE - 1) & HPAGE_PMD_MASK;
		     a + HPAGE_PMD_SIZE <= vma->vm_end && sc->collapsed < sc->budget;
		     a += HPAGE_PMD_SIZE) {
			pte_t *pmdp = pmd_offset(mm, a);

			if (!thp_vma_suitable(vma, a) || !pmdp || !pmd_pte_table(pmdp))
				continue;
			if (!collapse_huge_page(vma, a, false))
				sc->collapsed++;
		}
	}
	mmap_write_unlock(mm);
	return 0;
}

unsigned long khugepaged_scan(unsigned long max_collapse)
{
	struct khugepaged_scan sc = {.budget = max_collapse};

	if (max_collapse)
		mm_for_each_live(khugepaged_scan_mm, &sc);
	return sc.collapsed;
}

/* --- deferred split ------------------------------------------------------- */

/*
 * The queue of partially unmapped folios (Linux's deferred_split_queue). It
 * holds no reference: free_folio() takes a folio off it.
 */
static struct page *deferred_head;
static unsigned long deferred_len;
static struct sm_mutex deferred_lock;
static pthread_once_t deferred_once = PTHREAD_ONCE_INIT;

static void deferred_init(void)
{
	sm_mutex_init(&deferred_lock, "deferred_split_lock", LOCK_RANK_LRU);
}

void deferred_split_folio(struct page *head)
{
	pthread_once(&deferred_once, deferred_init);
	sm_mutex_lock(&deferred_lock);
	if (!TestSetPageFlag(head, PG_deferred_split)) {
		head->deferred_next = deferred_head;
		deferred_head = head;
		deferred_len++;
	}
	sm_mutex_unlock(&deferred_lock);
}

/* Take @head off the queue if it is on it. Under deferred_lock. */
static void __deferred_split_del(struct page *head)
{
	for (struct page **pp = &deferred_head; *pp; pp = &(*pp)->deferred_next)
		if (*pp == head) {
			*pp = head->deferred_next;
			head->deferred_next = NULL;
			deferred_len--;
			ClearPageFlag(head, PG_deferred_split);
			return;
		}
}

void deferred_split_del(struct page *head)
{
	pthread_once(&deferred_once, deferred_init);
	sm_mutex_lock(&deferred_lock);
	__deferred_split_del(head);
	sm_mutex_unlock(&deferred_lock);
}

unsigned long deferred_split_count(void)
{
	unsigned long n;

	pthread_once(&deferred_once, deferred_init);
	sm_mutex_lock(&deferred_lock);
	n = deferred_len;
	sm_mutex_unlock(&deferred_lock);
	return n;
}
