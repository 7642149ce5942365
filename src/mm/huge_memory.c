// SPDX-License-Identifier: MIT
/*
 * Transparent huge pages (anonymous, PMD-sized), as Linux 6.x does them.
 *
 * Mapping: a first-touch write fault in an aligned 2 MiB range of a private
 * anonymous VMA that may have THPs (thp_vma_allowable(): the system setting
 * `always`, or `madvise` and MADV_HUGEPAGE; never MADV_NOHUGEPAGE) allocates
 * a large folio and maps it with one PMD, writable if the VMA is. A read
 * fault there maps the huge zero page read-only (use_zero_page, on by
 * default as in Linux: thp_set_use_zero_page()); with use_zero_page off it
 * allocates a THP too (what the differential test's reference machine, a
 * kernel booted with pvm_no_zero_page=1, does: its THP scripts never fault
 * by a read first). A write fault on the huge zero PMD falls back as Linux
 * 6.x's do_huge_pmd_wp_page() does: the PMD is split into 512 PTEs of the
 * 4 KiB zero page (a 2 MiB CLEAR) and the retried fault copies one 4 KiB
 * page. The huge zero folio is allocated on first use and counts neither in
 * rss nor in thp=; it is freed when its last mapping goes (Linux keeps it
 * until its shrinker runs). If no aligned block is free, or the PMD already
 * points to a leaf table, the fault falls back to 4 KiB pages.
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
 * split (deferred_split_folio(), Linux's deferred_split_queue), once: when
 * a removal leaves it partially mapped -- some page mapped by nobody, some
 * still PTE-mapped, no PMD (which maps every page) -- whatever removed it:
 * a zap (checked after each leaf table's batch, so a folio zapped whole is
 * freed, not queued, as folio_remove_rmap_ptes() does), a COW copy
 * replacing a page (folio_remove_rmap_pte()), reclaim, migration, KSM, a
 * collapse, or the last PMD going while PTEs (fork's other address space)
 * map part of it (Linux's __folio_remove_rmap() rule; mm_check_invariants()
 * checks it). The deferred-split shrinker (deferred_split_scan(), run by
 * reclaim: try_to_free_pages(), so `pressure N` and allocation failures)
 * splits it (split_folio(), Linux's split_huge_page()) and frees the
 * subpages nobody maps. The folio split sends one MMU_NOTIFY_CLEAR over
 * the folio's extent in each VMA that maps it (try_to_migrate_one()'s:
 * fork gives one or more in each address space, any number of them; a
 * VMA split by a hole gives two). Linux unmaps every mapping to migration
 * entries, one VMA at a time, freezes the refcount, splits and maps the
 * subpages back (remap_page()); here the split holds every mapping address
 * space's PTL at once instead, with all those invalidations open (the
 * PTEs keep their frames; a CPU fault meanwhile waits for a PTL, not on a
 * migration entry), and the refcount frozen (folio_ref_freeze(): no
 * speculative reference can be taken meanwhile).
 *
 * THPs are on the LRU. Swap: reclaim (and MADV_PAGEOUT) splits the folio
 * and pages out 4 KiB pages, as Linux does without CONFIG_THP_SWAP (no THP
 * is swapped whole). Migration: a folio that only PMDs map moves whole, in
 * every address space (migrate_folio_pmds(): new folio, copy, each PMD
 * switched, one 2 MiB CLEAR in each; a fork-shared folio stays shared);
 * with no huge page free, or PTE-mapped too, it is split and the 4 KiB
 * pages move (Linux splits on -ENOMEM); a PTE-mapped THP is split and its
 * pages move one by one. KSM: a THP page is a merge candidate; a folio
 * with a page that may be merged is split first (try_to_merge_one_page()).
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
#include <limits.h>
#include <string.h>

#include "base/alloc.h"
#include "base/sched_explore.h"
#include "secmmu/kit/bugs.h"
#include "mm/internal.h"
#include "mm/swap_internal.h"
#include "secmmu/migrate.h"
#include "secmmu/trace.h"

static _Atomic int thp_mode = THP_MADVISE;
static _Atomic int thp_use_zero_page = 1;

int thp_set_use_zero_page(int on)
{
	if (on != 0 && on != 1)
		return -EINVAL;
	atomic_store(&thp_use_zero_page, on);
	return 0;
}

int thp_get_use_zero_page(void)
{
	return atomic_load(&thp_use_zero_page);
}

/* --- the huge zero page ---------------------------------------------------- */

/*
 * The huge zero folio (mm_get_huge_zero_folio()): a zeroed large folio that
 * read faults map read-only. huge_zero holds the allocation reference while
 * any mapping may find it; each mapping holds one more reference and counts
 * in huge_zero_maps (Linux's huge_zero_refcount). When the count drops to 0
 * huge_zero forgets the folio and drops its reference: a GUP reference taken
 * through a mapping (KVM's fault) may keep the frames a little longer, and
 * its put_page() frees them. The count, not the refcount, decides: a
 * transient reference seen at the last mapping's put must not keep the
 * folio for ever.
 */
static struct page *_Atomic huge_zero;
/*
 * Mappings of huge_zero. Goes up under huge_zero_lock (a new mapping) or
 * under the PTL of a mapping that keeps it above 0 (fork: copy_huge_pmd());
 * goes down under huge_zero_lock.
 */
static _Atomic unsigned long huge_zero_maps;
static struct sm_mutex huge_zero_lock; /* LOCK_RANK_LRU: taken with no PTL held */
static pthread_once_t huge_zero_once = PTHREAD_ONCE_INIT;

static void huge_zero_init(void)
{
	sm_mutex_init(&huge_zero_lock, "huge_zero_lock", LOCK_RANK_LRU);
}

bool is_huge_zero_pmd(uint64_t pmd)
{
	struct page *zero = atomic_load(&huge_zero);

	return pmd_trans_huge(pmd) && zero && pte_pfn(pmd) == page_to_pfn(zero);
}

/* A reference to the huge zero folio for a new mapping (allocated on first use), or NULL. */
static struct page *mm_get_huge_zero_folio(void)
{
	struct page *zero;

	pthread_once(&huge_zero_once, huge_zero_init);
	sm_mutex_lock(&huge_zero_lock);
	zero = atomic_load(&huge_zero);
	if (!zero) {
		zero = alloc_thp_folio(); /* zeroed */
		if (zero)
			atomic_store(&huge_zero, zero); /* takes the allocation reference */
	}
	if (zero) {
		get_page(zero); /* the mapping's */
		atomic_fetch_add(&huge_zero_maps, 1);
	}
	sm_mutex_unlock(&huge_zero_lock);
	return zero;
}

/* Drop a mapping's reference; the last mapping's put lets the folio go. No PTL held. */
static void mm_put_huge_zero_folio(struct page *zero)
{
	pthread_once(&huge_zero_once, huge_zero_init);
	sm_mutex_lock(&huge_zero_lock);
	BUG_ON(atomic_load(&huge_zero) != zero);
	put_page(zero);
	if (atomic_fetch_sub(&huge_zero_maps, 1) == 1) {
		atomic_store(&huge_zero, NULL);
		put_page(zero); /* huge_zero's: frees it, or the last GUP reference will */
	}
	sm_mutex_unlock(&huge_zero_lock);
}

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

/* A read fault: map the huge zero page (set_huge_zero_folio()). */
static int do_huge_zero_page(struct vm_area_struct *vma, unsigned long haddr)
{
	struct mm_struct *mm = vma->vm_mm;
	struct page *zero = mm_get_huge_zero_folio();
	pte_t *pmdp;
	int ret = 0;

	if (!zero)
		return -EAGAIN; /* fall back to 4 KiB pages */
	sm_mutex_lock(&mm->page_table_lock);
	pmdp = pmd_alloc(mm, haddr);
	if (!pmdp) {
		ret = -ENOMEM;
	} else if (!pte_load(pmdp)) {
		/* Read-only, counted nowhere (not rss, not AnonHugePages). */
		set_pte(mm, pmdp, pfn_pte(page_to_pfn(zero), false) | PTE_HUGE);
		zero = NULL;
	} else if (!pmd_trans_huge(pte_load(pmdp))) {
		ret = -EAGAIN;
	}
	sm_mutex_unlock(&mm->page_table_lock);
	if (zero)
		mm_put_huge_zero_folio(zero);
	return ret;
}

int do_huge_pmd_anonymous_page(struct vm_area_struct *vma, unsigned long addr, bool write)
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
	if (!write && thp_get_use_zero_page())
		return do_huge_zero_page(vma, haddr);
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
			lru_add(head); /* reclaim splits it (split_folio()) and swaps its pages */
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
	if (is_huge_zero_pmd(pmd)) {
		/*
		 * __split_huge_zero_page_pmd(): 512 PTEs of the 4 KiB zero page.
		 * The PMD's reference to the huge zero folio is the caller's to
		 * drop (mm_put_huge_zero_folio(), after the PTL).
		 */
		for (unsigned long i = 0; i < HPAGE_PMD_NR; i++)
			atomic_store_explicit(&table[i], pfn_pte(0, false), memory_order_relaxed);
		atomic_fetch_add(&zero_page()->_refcount, HPAGE_PMD_NR);
		pmd_populate(mm, pmdp, table);
		return;
	}
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
	struct page *zero = NULL;

	table = pte_table_alloc();
	if (!table)
		return -ENOMEM;
	TRACE_SCOPE("mm", "split_huge_pmd", "addr=0x%lx mm=%s", haddr, mm_name(mm));
	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, haddr, haddr + HPAGE_PMD_SIZE);
	mmu_notifier_invalidate_range_start(&range);
	sm_mutex_lock(&mm->page_table_lock);
	if (pmd_trans_huge(pte_load(pmdp))) {
		if (is_huge_zero_pmd(pte_load(pmdp)))
			zero = pfn_to_page(pte_pfn(pte_load(pmdp)));
		__split_huge_pmd_locked(mm, pmdp, haddr, table);
		table = NULL;
		/* A device TLB may hold the 2 MiB translation: it goes whole. */
		mmu_notifier_arch_invalidate_secondary_tlbs(mm, haddr, haddr + HPAGE_PMD_SIZE);
	}
	sm_mutex_unlock(&mm->page_table_lock);
	mmu_notifier_invalidate_range_end(&range);
	if (table)
		pte_table_free(table);
	if (zero)
		mm_put_huge_zero_folio(zero); /* the PMD's reference */
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

bool folio_partially_mapped(struct page *head)
{
	unsigned long mapped = 0;

	if (atomic_load(&head->_entire_mapcount))
		return false; /* a PMD maps every page */
	for (unsigned long i = 0; i < HPAGE_PMD_NR; i++)
		mapped += atomic_load(&head[i]._mapcount) > 0;
	return mapped && mapped < HPAGE_PMD_NR;
}

void folio_check_partially_mapped(struct page *head)
{
	if (PageTest(head, PG_head) && PageTest(head, PG_anon) &&
	    !PageTest(head, PG_deferred_split) && folio_partially_mapped(head))
		deferred_split_folio(head);
}

void folio_remove_rmap_pte(struct page *page)
{
	BUG_ON(atomic_fetch_sub(&page->_mapcount, 1) <= 0);
	/* This PTE was the page's last: the folio may be partially mapped now. */
	if (PageCompound(page) && !atomic_load(&page->_mapcount))
		folio_check_partially_mapped(compound_head(page));
}

/**
 * zap_huge_pmd() - clear the huge PMD at @pmdp and drop what it held
 * @mm: the address space; @pmdp: its PMD slot for @haddr (2 MiB-aligned)
 *
 * Context: the caller holds an invalidation over the 2 MiB and excludes
 * faults there (mmap_lock for write, or the VMA's lock), but not the
 * reverse map: a folio split (deferred split, migration, reclaim, KSM: each
 * holds only this mm's rmap_lock for read and its PTL) may turn the huge
 * PMD into a leaf table between the caller's unlocked look and the PTL
 * taken here, as in Linux, where __pmd_trans_huge_lock() finds no huge PMD.
 * Takes and releases the PTL; may free the folio.
 *
 * Return: true if a huge PMD (or the huge zero PMD) was cleared; false if
 * the entry is no huge PMD any more: the caller zaps the leaf table (Linux's
 * zap_pmd_range() falls through to zap_pte_range()), or the PTEs would
 * outlive the VMA.
 */
bool zap_huge_pmd(struct mm_struct *mm, pte_t *pmdp, unsigned long haddr)
{
	struct page *head = NULL, *zero = NULL;
	uint64_t pmd;

	sm_mutex_lock(&mm->page_table_lock);
	pmd = pte_load(pmdp);
	if (is_huge_zero_pmd(pmd)) {
		zero = pfn_to_page(pte_pfn(pmd));
		set_pte(mm, pmdp, 0);
		mmu_notifier_arch_invalidate_secondary_tlbs(mm, haddr, haddr + HPAGE_PMD_SIZE);
	} else if (pmd_trans_huge(pmd)) {
		head = pfn_to_page(pte_pfn(pmd));
		set_pte(mm, pmdp, 0);
		BUG_ON(atomic_fetch_sub(&head->_entire_mapcount, 1) <= 0);
		atomic_fetch_sub(&mm->rss, HPAGE_PMD_NR);
		atomic_fetch_sub(&mm->nr_thp, 1);
		/* The device TLB must forget the frames before they are freed. */
		mmu_notifier_arch_invalidate_secondary_tlbs(mm, haddr, haddr + HPAGE_PMD_SIZE);
	}
	sm_mutex_unlock(&mm->page_table_lock);
	if (!head && !zero)
		return false;
	/*
	 * The last PMD mapping went while another address space (fork) maps
	 * part of the folio by PTEs: queue it, as __folio_remove_rmap() does
	 * for a PMD whose removal leaves the folio partially mapped.
	 */
	if (head)
		folio_check_partially_mapped(head);
	if (head)
		put_page(head); /* Pairs with the reference the PMD held. */
	if (zero)
		mm_put_huge_zero_folio(zero);
	return true;
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
		flush_secondary_upgrade(mm, haddr, haddr + HPAGE_PMD_SIZE);
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
	/* The huge zero page: split (a 2 MiB CLEAR); the retried fault copies 4 KiB. */
	if (write && is_huge_zero_pmd(pmd))
		return split_huge_pmd_address(vma, addr);
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

	if (is_huge_zero_pmd(pmd)) {
		/* The child's mapping; the parent's (under its PTL) keeps the count above 0. */
		get_page(head);
		atomic_fetch_add(&huge_zero_maps, 1);
		set_pte(dst_mm, dst_pmdp, pmd);
		return 0;
	}
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
	struct page *batch[HPAGE_PMD_NR], *head, *checked = NULL;
	struct mmu_notifier_range range;
	unsigned long none = 0, shared = 0, young = 0, n = 0;
	const char *path;
	bool forget;
	pte_t *pmdp, *table = NULL;
	uint64_t pmd;
	int ret;
	TRACE_SCOPE("mm", "collapse_huge_page", "addr=0x%lx mm=%s", haddr, mm_name(mm));

	mmap_assert_write_locked(mm);
	vma_start_write(vma); /* no fault under the VMA lock fills a PTE being collapsed */
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

	/*
	 * The museum's collapse-no-notifier (base/bugs.h): a primary path that
	 * changes PTEs and frees their pages without telling the secondary
	 * MMUs (CVE-2022-48991, khugepaged's file/shmem collapse).
	 */
	forget = historic_bug(BUG_COLLAPSE_NO_NOTIFIER);
	/* No reverse-map walker (reclaim, migration) may be inside the table we free. */
	sm_down_write(&mm->rmap_lock);
	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, haddr, haddr + HPAGE_PMD_SIZE);
	if (!forget)
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
	lru_add(head);
	head = NULL;
	if (!forget)
		mmu_notifier_arch_invalidate_secondary_tlbs(mm, haddr, haddr + HPAGE_PMD_SIZE);
	sm_mutex_unlock(&mm->page_table_lock);
	pte_table_free(table);
	for (unsigned long i = 0; i < n; i++) {
		struct page *folio = compound_head(batch[i]);

		if (PageCompound(batch[i]) && folio != checked &&
		    !atomic_load(&batch[i]->_mapcount)) {
			folio_check_partially_mapped(folio);
			checked = folio; /* once per folio */
		}
	}
	/* A device caught using one of these frames names this path. */
	path = phys_set_free_path("khugepaged collapse (collapse_huge_page)");
	free_page_batch(batch, n);
	phys_set_free_path(path);
	if (!forget)
		mmu_notifier_invalidate_range_end(&range);
	sm_up_write(&mm->rmap_lock);
	return 0;
fail:
	sm_mutex_unlock(&mm->page_table_lock);
	if (!forget)
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

/* --- folio split ---------------------------------------------------------- */

/* rmap walk callback: split the huge PMD at @addr of @vma if it maps @page's folio. */
static bool split_pmd_one(struct vm_area_struct *vma, unsigned long addr, struct page *page,
			  void *arg)
{
	struct mm_struct *mm = vma->vm_mm;
	pte_t *pmdp = pmd_offset(mm, addr);
	uint64_t pmd = pmdp ? pte_load(pmdp) : 0;
	int *err = arg;

	if ((addr & ~HPAGE_PMD_MASK) || !pmd_trans_huge(pmd) || pte_pfn(pmd) != page_to_pfn(page))
		return true;
	/*
	 * Looked at without the PTL: split_huge_pmd_address() rechecks that
	 * the PMD is huge under it, not that it still maps this folio (Linux
	 * passes the folio to __split_huge_pmd()). Zapped and refilled with
	 * another THP meanwhile (munmap or MADV_DONTNEED, then a fault: this
	 * folio is locked, so no migration replaced it), that PMD is split
	 * for nothing: a 2 MiB CLEAR and 512 PTEs of the same pages, no harm.
	 */
	if (split_huge_pmd_address(vma, addr))
		*err = -ENOMEM;
	return true;
}

/*
 * The part of @vma that may map @head's folio (by the rmap formula), as
 * [*lo, *hi) and the address of the head in it (*base, maybe below *lo).
 * Return: false if the folio's offsets do not overlap the VMA.
 */
static bool folio_span_in_vma(struct vm_area_struct *vma, struct page *head, unsigned long *base,
			      unsigned long *lo, unsigned long *hi)
{
	unsigned long vstart = vma->vm_pgoff,
		      vend = vstart + ((vma->vm_end - vma->vm_start) >> PAGE_SHIFT);
	unsigned long fstart = head->index, fend = fstart + HPAGE_PMD_NR;

	if (fend <= vstart || fstart >= vend)
		return false;
	*base = vma->vm_start + ((fstart - vstart) << PAGE_SHIFT); /* may wrap below vm_start */
	*lo = vma->vm_start + ((fstart > vstart ? fstart - vstart : 0) << PAGE_SHIFT);
	*hi = vma->vm_start + (((fend < vend ? fend : vend) - vstart) << PAGE_SHIFT);
	return true;
}

/* PTEs of @vma mapping a subpage of @head. Under the PTL. */
static unsigned long folio_ptes_in_vma(struct vm_area_struct *vma, struct page *head)
{
	unsigned long base, lo, hi, n = 0, hpfn = page_to_pfn(head);

	if (!folio_span_in_vma(vma, head, &base, &lo, &hi))
		return 0;
	for (unsigned long a = lo; a < hi; a += PAGE_SIZE) {
		pte_t *ptep = pte_offset(vma->vm_mm, a);
		uint64_t pte = ptep ? pte_load(ptep) : 0;

		if (pte_present(pte) && pte_pfn(pte) == hpfn + ((a - base) >> PAGE_SHIFT))
			n++;
	}
	return n;
}

/* Sum of the subpages' PTE mapcounts. */
static unsigned long folio_pte_mapcount(struct page *head)
{
	unsigned long n = 0;

	for (unsigned long i = 0; i < HPAGE_PMD_NR; i++)
		n += (unsigned long)atomic_load(&head[i]._mapcount);
	return n;
}

/*
 * folio_ref_freeze(): if @head's refcount is @count, make it 0, so that no
 * speculative reference (get_page_unless_zero(): LRU isolation, the
 * deferred-split shrinker, which hold no PTL) can be taken while the split
 * hands the references out; a plain store after a check would lose one
 * taken in between (and the folio would be freed while still mapped).
 */
static bool folio_ref_freeze(struct page *head, int count)
{
	return atomic_compare_exchange_strong(&head->_refcount, &count, 0);
}

/*
 * The folio, mapped by PTEs of @mm only, becomes HPAGE_PMD_NR order-0
 * pages. Under @mm's PTL, its refcount frozen (folio_ref_freeze()). Each
 * subpage gets one reference per PTE plus one: the caller's for the page
 * it passed, a temporary one for the others, which the caller drops after
 * unlocking (freeing the unmapped ones). A tail's refcount is set before
 * it stops pointing at the head, the head's last (that unfreezes it);
 * get_page_unless_zero() checks that the page still belongs to the folio
 * it got a reference of. The head keeps PG_locked.
 */
static void __split_folio_locked(struct page *head)
{
	/* Flags a subpage keeps as an order-0 page. */
	const unsigned long keep = (1UL << PG_anon) | (1UL << PG_swapbacked) |
				   (1UL << PG_anon_exclusive) | (1UL << PG_dirty);

	for (unsigned long i = HPAGE_PMD_NR; i-- > 0;) {
		struct page *page = head + i;
		int m = atomic_load(&page->_mapcount);

		/* The caller's page: its reference instead of the temporary one. */
		atomic_store(&page->_refcount, m + 1);
		if (i) {
			atomic_store(&page->flags, atomic_load(&page->flags) & keep);
			atomic_store_explicit(&page->compound_head, NULL, memory_order_release);
		}
	}
	head->compound_order = 0;
	ClearPageFlag(head, PG_head);
}

/*
 * The mappings a folio split or a migration works on at once: one entry
 * per VMA that maps the folio (try_to_migrate_one()'s unit; fork: one or
 * more in each address space), with the range the VMA maps it in and the
 * invalidation over that range. The array grows as needed: there is no
 * limit on how many address spaces map the folio (Linux has none).
 *
 * @e:   kcalloc()/krealloc_array()'d, freed by folio_mms_free()
 * @vma: on the anon_vma's list; it, its mm and its page tables are kept by
 *       the anon_vma lock the caller holds while the set is used
 * @first: the first entry of its mm: it takes that mm's rmap_lock and PTL
 */
struct folio_mms {
	int n, cap;
	struct folio_mm {
		struct vm_area_struct *vma;
		struct mm_struct *mm;
		unsigned long lo, hi;
		bool first;
		struct mmu_notifier_range range;
	} * e;
};

/* Add [lo, hi) of @vma. Return: 0 or -ENOMEM (the set is unchanged). */
static int folio_mms_add(struct folio_mms *set, struct vm_area_struct *vma, unsigned long lo,
			 unsigned long hi)
{
	bool first = true;

	if (set->n == set->cap) {
		int cap = set->cap ? 2 * set->cap : 4;
		struct folio_mm *bigger = krealloc_array(set->e, cap, sizeof(*bigger));

		if (!bigger)
			return -ENOMEM;
		set->e = bigger;
		set->cap = cap;
	}
	for (int i = 0; i < set->n; i++)
		if (set->e[i].mm == vma->vm_mm)
			first = false;
	set->e[set->n++] =
		(struct folio_mm){.vma = vma, .mm = vma->vm_mm, .lo = lo, .hi = hi, .first = first};
	return 0;
}

static void folio_mms_free(struct folio_mms *set)
{
	kfree(set->e);
	set->e = NULL;
	set->n = set->cap = 0;
}

/* Unlock the PTLs that entries [0, n) took. */
static void folio_mms_unlock_ptl(struct folio_mms *set, int n)
{
	while (n-- > 0)
		if (set->e[n].first)
			sm_mutex_unlock(&set->e[n].mm->page_table_lock);
}

/* End the invalidations of entries [0, n) and drop the rmap_locks they took. */
static void folio_mms_end(struct folio_mms *set, int n)
{
	while (n-- > 0) {
		mmu_notifier_invalidate_range_end(&set->e[n].range);
		if (set->e[n].first)
			sm_up_read(&set->e[n].mm->rmap_lock);
	}
}

/*
 * For every mm of @set its rmap_lock for read, and for every entry an
 * MMU_NOTIFY_CLEAR invalidation over its range (try_to_migrate_one()'s,
 * one per mapping VMA), then every mm's page-table lock. The first mm's
 * locks are waited for, the others only tried: nothing orders two address
 * spaces' locks (fork holds its parent's and its child's PTL). Caller
 * holds the anon_vma lock. Return: true with all of it held, or false
 * (-EBUSY for the caller) with nothing held.
 */
static bool folio_mms_lock(struct folio_mms *set)
{
	int i;

	for (i = 0; i < set->n; i++) {
		struct folio_mm *e = &set->e[i];

		if (e->first) {
			if (i == 0)
				sm_down_read(&e->mm->rmap_lock);
			else if (!sm_down_read_trylock(&e->mm->rmap_lock))
				goto out_end;
		}
		mmu_notifier_range_init(&e->range, MMU_NOTIFY_CLEAR, 0, e->mm, e->lo, e->hi);
		mmu_notifier_invalidate_range_start(&e->range);
	}
	for (i = 0; i < set->n; i++) {
		if (!set->e[i].first)
			continue;
		if (i == 0)
			sm_mutex_lock(&set->e[i].mm->page_table_lock);
		else if (!sm_mutex_trylock(&set->e[i].mm->page_table_lock))
			break;
	}
	if (i == set->n)
		return true;
	folio_mms_unlock_ptl(set, i);
	i = set->n;
out_end:
	folio_mms_end(set, i);
	return false;
}

/* Secondary TLBs forget every range of @set. Under the PTLs. */
static void folio_mms_flush(struct folio_mms *set)
{
	for (int i = 0; i < set->n; i++)
		mmu_notifier_arch_invalidate_secondary_tlbs(set->e[i].mm, set->e[i].lo,
							    set->e[i].hi);
}

static void folio_mms_unlock(struct folio_mms *set)
{
	folio_mms_unlock_ptl(set, set->n);
	folio_mms_end(set, set->n);
}

/* The VMA of an anon_vma list entry. */
static struct vm_area_struct *anon_entry_vma(struct list_head *pos)
{
	return container_of((void *)list_entry(pos, struct vma_core, anon_link),
			    struct vm_area_struct, core_priv);
}

int split_folio(struct page *page)
{
	struct page *head = compound_head(page), *batch[HPAGE_PMD_NR];
	struct folio_mms set = {0};
	unsigned long mapped = 0, n = 0;
	struct list_head *pos;
	struct rmap_target t;
	int ret = 0;
	TRACE_SCOPE("mm", "split_folio", "pfn=%lu", page_to_pfn(head));

	if (!PageTest(head, PG_head))
		return 0; /* split meanwhile: nothing to do */
	if (!PageTest(head, PG_anon) || page_maybe_dma_pinned(head))
		return -EBUSY;
	if (TestSetPageFlag(head, PG_locked))
		return -EBUSY;
	if (!rmap_get(head, &t) || !t.av) {
		ret = -EBUSY;
		goto out_unlock;
	}
	/* PMD mappings first, in every address space (unmap_folio()'s TTU_SPLIT_HUGE_PMD). */
	if (atomic_load(&head->_entire_mapcount)) {
		rmap_walk_target(head, &t, split_pmd_one, &ret);
		if (ret || atomic_load(&head->_entire_mapcount)) {
			ret = ret ? ret : -EBUSY;
			goto out_put;
		}
	}
	sm_mutex_lock(&t.av->lock);
	/* Which VMAs map it (fork: in several address spaces), and where? */
	for (pos = t.av->vmas.next; pos != &t.av->vmas; pos = pos->next) {
		struct vm_area_struct *vma = anon_entry_vma(pos);
		unsigned long base, vlo, vhi, nr;

		if (!folio_span_in_vma(vma, head, &base, &vlo, &vhi))
			continue;
		sm_down_read(&vma->vm_mm->rmap_lock);
		sm_mutex_lock(&vma->vm_mm->page_table_lock);
		nr = folio_ptes_in_vma(vma, head);
		sm_mutex_unlock(&vma->vm_mm->page_table_lock);
		sm_up_read(&vma->vm_mm->rmap_lock);
		if (nr) {
			ret = folio_mms_add(&set, vma, vlo, vhi);
			if (ret)
				goto out_av;
		}
	}
	if (!set.n) {
		/* Nobody maps it (the caller's and maybe a GUP reference keep it). */
		ret = -EBUSY;
		goto out_av;
	}
	if (!folio_mms_lock(&set)) {
		ret = -EBUSY;
		goto out_av;
	}
	for (int i = 0; i < set.n; i++)
		mapped += folio_ptes_in_vma(set.e[i].vma, head);
	/*
	 * can_split_folio(): every PTE mapping is in one of @set's VMAs
	 * (counted under their PTLs, so none can be added: fork copies under
	 * the parent's; one that came into another VMA meanwhile, mremap,
	 * makes the counts differ), no PMD mapping, and no reference beyond the
	 * mappings and the caller's (GUP); then no new one can be taken.
	 * Linux unmaps the PTEs to migration entries, splits, and maps them
	 * back; holding every PTL has the same effect here: the PTEs keep
	 * their frames, the secondary MMUs lost them to the invalidations.
	 */
	if (atomic_load(&head->_entire_mapcount) || mapped != folio_pte_mapcount(head) ||
	    !folio_ref_freeze(head, (int)mapped + 1)) {
		ret = -EBUSY;
	} else {
		/* The window a lost reference fell into: test_regress_thp_split_lost_ref. */
		sched_point("split_folio: refcount frozen");
		if (PageTest(head, PG_deferred_split))
			deferred_split_del(head);
		__split_folio_locked(head);
		folio_mms_flush(&set);
	}
	folio_mms_unlock(&set);
	if (!ret) {
		/* The subpages still mapped go on the LRU; the others are freed. */
		for (unsigned long i = 0; i < HPAGE_PMD_NR; i++) {
			if (atomic_load(&head[i]._mapcount))
				lru_add(head + i);
			if (head + i != page)
				batch[n++] = head + i;
		}
		/* Unlocked before its temporary reference goes: it may be freed. */
		unlock_page(head);
		free_page_batch(batch, n);
	}
out_av:
	sm_mutex_unlock(&t.av->lock);
	folio_mms_free(&set);
out_put:
	rmap_put(&t);
	if (ret)
		unlock_page(head);
	return ret;
out_unlock:
	unlock_page(head);
	return ret;
}

/* --- migration ------------------------------------------------------------ */

/*
 * Move the PMD-mapped folio @head (the caller holds a reference) whole to
 * a new folio, in every address space that maps it by a PMD (fork: the
 * parent and its children share it): as Linux's migrate_pages() of a
 * PMD-mapped THP (try_to_migrate() makes each PMD a migration entry inside
 * a CLEAR over its 2 MiB, the folio is copied, remove_migration_ptes()
 * maps the new one). Here every PMD is switched under all the PTLs at once
 * (the same effect: no CPU reaches the folio while it is copied, every
 * secondary MMU lost it first). Return: 0 (moved), 1 (not PMD-mapped only:
 * the caller splits it), -EAGAIN (a transient reference or lock), -ENOMEM.
 */
static int migrate_folio_pmds(struct page *head)
{
	struct folio_mms set = {0};
	unsigned long nr_pmds = 0;
	struct page *new = NULL;
	struct list_head *pos;
	struct rmap_target t;
	bool exclusive;
	int ret = 0;

	if (TestSetPageFlag(head, PG_locked))
		return -EAGAIN;
	if (!rmap_get(head, &t) || !t.av) {
		unlock_page(head);
		return -EAGAIN;
	}
	sm_mutex_lock(&t.av->lock);
	for (pos = t.av->vmas.next; pos != &t.av->vmas; pos = pos->next) {
		struct vm_area_struct *vma = anon_entry_vma(pos);
		unsigned long base, vlo, vhi;
		pte_t *pmdp;

		if (!folio_span_in_vma(vma, head, &base, &vlo, &vhi) || vlo != base ||
		    vhi != base + HPAGE_PMD_SIZE || (base & ~HPAGE_PMD_MASK))
			continue;
		sm_down_read(&vma->vm_mm->rmap_lock);
		sm_mutex_lock(&vma->vm_mm->page_table_lock);
		pmdp = pmd_offset(vma->vm_mm, base);
		/* Each PMD mapping it, however many address spaces and VMAs. */
		if (pmdp && pmd_trans_huge(pte_load(pmdp)) &&
		    pte_pfn(pte_load(pmdp)) == page_to_pfn(head))
			ret = folio_mms_add(&set, vma, base, base + HPAGE_PMD_SIZE);
		sm_mutex_unlock(&vma->vm_mm->page_table_lock);
		sm_up_read(&vma->vm_mm->rmap_lock);
		if (ret)
			goto out_av;
	}
	if (!set.n || (unsigned long)set.n != (unsigned long)atomic_load(&head->_entire_mapcount) ||
	    folio_pte_mapcount(head)) {
		ret = 1; /* also PTE-mapped, or a PMD we did not find: split */
		goto out_av;
	}
	new = alloc_thp_folio();
	if (!new) {
		ret = -ENOMEM;
		goto out_av;
	}
	if (!folio_mms_lock(&set)) {
		ret = -EAGAIN;
		goto out_av;
	}
	/* Only the PMDs and we hold it: nobody can reach it but through these PTLs. */
	for (int i = 0; i < set.n; i++) {
		pte_t *pmdp = pmd_offset(set.e[i].mm, set.e[i].lo);

		if (pmdp && pmd_trans_huge(pte_load(pmdp)) &&
		    pte_pfn(pte_load(pmdp)) == page_to_pfn(head))
			nr_pmds++;
	}
	if (nr_pmds != (unsigned long)set.n || atomic_load(&head->_entire_mapcount) != set.n ||
	    folio_pte_mapcount(head) || page_ref_count(head) != set.n + 1) {
		ret = -EAGAIN;
		goto out_unlock;
	}
	exclusive = set.n == 1 && PageTest(head, PG_anon_exclusive);
	copy_frame_data(page_address(new), page_address(head), HPAGE_PMD_SIZE);
	for (unsigned long i = 0; i < HPAGE_PMD_NR; i++) {
		atomic_fetch_or(&new[i].flags, atomic_load(&head[i].flags) &
						       ((1UL << PG_anon) | (1UL << PG_swapbacked) |
							(1UL << PG_dirty)));
		new[i].mapping = head[i].mapping;
		new[i].index = head[i].index;
	}
	if (exclusive)
		SetPageFlag(new, PG_anon_exclusive);
	/* Each PMD's reference: the allocation's for the first. */
	atomic_store(&new->_entire_mapcount, set.n);
	atomic_fetch_add(&new->_refcount, set.n - 1);
	for (int i = 0; i < set.n; i++) {
		pte_t *pmdp = pmd_offset(set.e[i].mm, set.e[i].lo);
		uint64_t pmd = pte_load(pmdp);

		set_pte(set.e[i].mm, pmdp,
			(pmd & ~PTE_PFN_MASK) | ((uint64_t)page_to_pfn(new) << PTE_PFN_SHIFT));
	}
	folio_mms_flush(&set);
	atomic_store(&head->_entire_mapcount, 0);
	lru_add(new);
	new = NULL;
out_unlock:
	folio_mms_unlock(&set);
	if (!ret)
		put_page_refs(head, set.n); /* the PMDs' references; the caller's frees it */
out_av:
	sm_mutex_unlock(&t.av->lock);
	folio_mms_free(&set);
	rmap_put(&t);
	unlock_page(head);
	if (new)
		put_page(new);
	return ret;
}

int migrate_huge_pmd(struct vm_area_struct *vma, unsigned long haddr)
{
	struct mm_struct *mm = vma->vm_mm;
	struct page *head;
	pte_t *pmdp;
	uint64_t pmd;
	int ret;
	TRACE_SCOPE("mm", "migrate_huge_pmd", "addr=0x%lx mm=%lu", haddr, mm_id(mm));

	sm_mutex_lock(&mm->page_table_lock);
	pmdp = pmd_offset(mm, haddr);
	pmd = pmdp ? pte_load(pmdp) : 0;
	if (!pmd_trans_huge(pmd)) {
		/*
		 * The caller looked without the PTL: a folio split through the
		 * reverse map (deferred split, migration, reclaim, KSM, from
		 * another mm of a fork-shared THP too) or a write fault on the
		 * huge zero PMD made it a leaf table since (or it went): its
		 * 4 KiB pages are the caller's to migrate, as Linux's walk falls
		 * through to the PTEs when pmd_trans_huge() fails under the lock.
		 */
		sm_mutex_unlock(&mm->page_table_lock);
		return 1;
	}
	head = is_huge_zero_pmd(pmd) ? NULL : pfn_to_page(pte_pfn(pmd));
	if (head && !get_page_unless_zero(head))
		head = NULL;
	sm_mutex_unlock(&mm->page_table_lock);
	if (!head)
		return 0; /* the huge zero page: nothing to move */
	if (page_maybe_dma_pinned(head)) {
		ret = -EBUSY;
		goto out_put;
	}
	ret = migrate_folio_pmds(head);
	if (ret == 1 || ret == -ENOMEM) {
		/* Also PTE-mapped, or no huge page free: Linux splits the folio and retries. */
		ret = split_folio(head);
		if (!ret)
			ret = 1; /* now 4 KiB pages: the caller migrates them one by one */
		else
			/*
			 * Pinned: for good. Otherwise busy for now (its lock or a
			 * PTL held by another split or migration, a GUP reference):
			 * the caller tries again, then reports it; never a silent
			 * success with the 2 MiB left where it was.
			 */
			ret = page_maybe_dma_pinned(head) ? -EBUSY : -EAGAIN;
	}
out_put:
	put_page(head);
	return ret;
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

#define DEFERRED_BUSY_MAX 64

unsigned long deferred_split_scan(unsigned long nr_to_scan)
{
	/*
	 * Busy folios go back on the queue after the pass, each with our
	 * reference until then; a zap may queue one again meanwhile, so they
	 * are kept here, not linked through deferred_next.
	 */
	struct page *busy[DEFERRED_BUSY_MAX];
	unsigned long split = 0, todo, nbusy = 0;

	pthread_once(&deferred_once, deferred_init);
	sm_mutex_lock(&deferred_lock);
	todo = deferred_len < nr_to_scan ? deferred_len : nr_to_scan;
	sm_mutex_unlock(&deferred_lock);
	while (todo--) {
		struct page *head;

		sm_mutex_lock(&deferred_lock);
		head = deferred_head;
		if (head) {
			__deferred_split_del(head);
			/* Freed meanwhile (free_folio() waits for this lock to take it off). */
			if (!get_page_unless_zero(head))
				head = NULL;
		}
		sm_mutex_unlock(&deferred_lock);
		if (!head) {
			if (!deferred_head)
				break;
			continue;
		}
		if (!split_folio(head)) {
			split++;
		} else if (PageTest(head, PG_head) && folio_pte_mapcount(head)) {
			/* Busy (pinned, a PTL or lock taken): back on the queue after this pass. */
			if (nbusy < DEFERRED_BUSY_MAX) {
				busy[nbusy++] = head;
				continue; /* keeps our reference until then */
			}
			deferred_split_folio(head);
		}
		put_page(head); /* Pairs with get_page_unless_zero(): may free it */
	}
	for (unsigned long i = 0; i < nbusy; i++) {
		deferred_split_folio(busy[i]);
		put_page(busy[i]);
	}
	return split;
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
