// SPDX-License-Identifier: MIT
/*
 * KSM: merge identical private anonymous pages of MADV_MERGEABLE areas.
 *
 * A full scan collects candidate pages (present, anonymous, mapped once, not
 * pinned) with a content hash, groups equal hashes, and within a group merges
 * every page whose content is identical into one frame:
 *   write_protect_page()  the frame that becomes the KSM page is made
 *                         read-only (MMU_NOTIFY_CLEAR invalidation)
 *   replace_page()        each duplicate's PTE is write-protected, its
 *                         content compared again under the PTL, then the PTE
 *                         is pointed at the KSM page -- the legacy
 *                         change_pte callback tells secondary MMUs the new
 *                         frame inside the invalidation -- and the
 *                         duplicate frame is freed
 * A write to a KSM page always copies (can_reuse_anon refuses PG_ksm).
 * Pages of a THP are candidates; a folio with a page that may be merged is
 * split first (try_to_merge_one_page()), see ksm_split_candidates().
 * KSM pages are not reclaimed or migrated here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mm/swap_internal.h"
#include "base/alloc.h"
#include "secmmu/migrate.h"
#include "secmmu/trace.h"

struct ksm_item {
	struct mm_struct *mm; /* mm_users held while collected */
	unsigned long addr;
	struct page *page; /* a reference held while collected */
	uint64_t hash;
};

struct ksm_scan {
	struct ksm_item *items;
	size_t n, cap;
};

static uint64_t page_hash(struct page *page)
{
	const uint64_t *p = page_address(page);
	uint64_t h = 0xcbf29ce484222325ULL;

	/* The page may be written meanwhile: the merge compares again after write-protecting. */
	racy_read_begin();
	for (size_t i = 0; i < PAGE_SIZE / sizeof(*p); i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	racy_read_end();
	return h;
}

/* A first, racy comparison (confirmed under the PTL by replace_page()). */
static bool pages_look_same(struct page *a, struct page *b)
{
	bool same;

	racy_read_begin();
	same = !memcmp(page_address(a), page_address(b), PAGE_SIZE);
	racy_read_end();
	return same;
}

static int ksm_collect_vma(struct ksm_scan *sc, struct vm_area_struct *vma)
{
	struct mm_struct *mm = vma->vm_mm;

	for (unsigned long a = vma->vm_start; a < vma->vm_end; a += PAGE_SIZE) {
		struct page *page = NULL;
		pte_t *ptep;
		uint64_t pte;

		sm_mutex_lock(&mm->page_table_lock);
		ptep = pte_offset(mm, a);
		pte = ptep ? pte_load(ptep) : 0;
		/* A PMD-mapped THP's subpages are candidates too (split before a merge). */
		if (!ptep && follow_huge_pmd(mm, a, &pte))
			pte &= ~PTE_HUGE;
		if (pte_present(pte) && !is_zero_pfn(pte_pfn(pte))) {
			page = pfn_to_page(pte_pfn(pte));
			if (!PageTest(page, PG_anon) || page_maybe_dma_pinned(page) ||
			    (!PageTest(page, PG_ksm) && page_mapcount(page) != 1) ||
			    !get_page_unless_zero(page))
				page = NULL;
		}
		sm_mutex_unlock(&mm->page_table_lock);
		if (!page)
			continue;
		if (sc->n == sc->cap) {
			size_t cap = sc->cap ? 2 * sc->cap : 64;
			struct ksm_item *bigger = krealloc_array(sc->items, cap, sizeof(*bigger));

			if (!bigger) {
				put_page(page);
				return -ENOMEM;
			}
			sc->items = bigger;
			sc->cap = cap;
		}
		mmget_tracked(mm, sc, "ksm scan"); /* Pairs with mmput() in ksm_scan_all(). */
		sc->items[sc->n++] = (struct ksm_item){mm, a, page, page_hash(page)};
	}
	return 0;
}

static int ksm_collect_mm(struct mm_struct *mm, void *arg)
{
	struct vm_area_struct *vma;
	int ret = 0;

	mmap_read_lock(mm);
	for (vma = vma_first(mm); vma && !ret; vma = vma_next(vma))
		if ((vma->vm_flags & VM_MERGEABLE) && !vma_is_shared(vma) && !vma->vm_ops)
			ret = ksm_collect_vma(arg, vma);
	mmap_read_unlock(mm);
	return ret;
}

/* Make @it's PTE read-only and its page a KSM page. Return: 0 or -EBUSY. */
static int write_protect_page(struct ksm_item *it)
{
	struct mm_struct *mm = it->mm;
	struct mmu_notifier_range range;
	int ret = -EBUSY;
	pte_t *ptep;
	uint64_t pte;

	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, it->addr, it->addr + PAGE_SIZE);
	mmu_notifier_invalidate_range_start(&range);
	sm_mutex_lock(&mm->page_table_lock);
	ptep = pte_offset(mm, it->addr);
	pte = ptep ? pte_load(ptep) : 0;
	/* Nobody but the mapping(s) and our scan may hold it: no GUP, no pin. */
	if (pte_present(pte) && pte_pfn(pte) == page_to_pfn(it->page) &&
	    page_ref_count(it->page) == page_mapcount(it->page) + 1) {
		if (pte_write(pte)) {
			set_pte(mm, ptep, pte & ~PTE_WRITE);
			mmu_notifier_arch_invalidate_secondary_tlbs(mm, it->addr,
								    it->addr + PAGE_SIZE);
		}
		SetPageFlag(it->page, PG_ksm);
		ClearPageFlag(it->page, PG_anon_exclusive);
		ret = 0;
	}
	sm_mutex_unlock(&mm->page_table_lock);
	mmu_notifier_invalidate_range_end(&range);
	return ret;
}

/* Point @dup's PTE at @kpage and free @dup's frame. Return: true if merged. */
static bool replace_page(struct ksm_item *dup, struct page *kpage)
{
	struct mm_struct *mm = dup->mm;
	struct mmu_notifier_range range;
	bool merged = false;
	pte_t *ptep;
	uint64_t pte;

	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, dup->addr, dup->addr + PAGE_SIZE);
	mmu_notifier_invalidate_range_start(&range);
	sm_mutex_lock(&mm->page_table_lock);
	ptep = pte_offset(mm, dup->addr);
	pte = ptep ? pte_load(ptep) : 0;
	if (pte_present(pte) && pte_pfn(pte) == page_to_pfn(dup->page) &&
	    page_ref_count(dup->page) == 2 && page_mapcount(dup->page) == 1) {
		/* Write-protected first, so the comparison below stays true. */
		set_pte(mm, ptep, pte & ~PTE_WRITE);
		mmu_notifier_arch_invalidate_secondary_tlbs(mm, dup->addr, dup->addr + PAGE_SIZE);
		if (!memcmp(page_address(dup->page), page_address(kpage), PAGE_SIZE)) {
			/*
			 * ptep_clear_flush(), then set_pte_at_notify(): the
			 * secondary TLBs are flushed AFTER the PTE stops pointing
			 * at @dup's frame, which is freed below. A device walk
			 * that read the write-protected PTE after the flush
			 * above would otherwise cache the frame with no later
			 * invalidation to drop it (or to fail its fill).
			 */
			set_pte(mm, ptep, 0);
			mmu_notifier_arch_invalidate_secondary_tlbs(mm, dup->addr,
								    dup->addr + PAGE_SIZE);
			mmu_notifier_change_pte(mm, dup->addr, page_to_pfn(kpage), false);
			get_page(kpage); /* the PTE's reference */
			atomic_fetch_add(&kpage->_mapcount, 1);
			set_pte(mm, ptep, pfn_pte(page_to_pfn(kpage), false));
			folio_remove_rmap_pte(dup->page);
			merged = true;
		}
	}
	sm_mutex_unlock(&mm->page_table_lock);
	if (merged)
		put_page(dup->page); /* the old PTE's reference; ours frees it below */
	mmu_notifier_invalidate_range_end(&range);
	return merged;
}

static int cmp_hash(const void *a, const void *b)
{
	const struct ksm_item *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	/* KSM pages first in a group: they are the merge targets. */
	return (int)PageTest(y->page, PG_ksm) - (int)PageTest(x->page, PG_ksm);
}

static unsigned long ksm_merge_group(struct ksm_item *g, size_t n)
{
	unsigned long merged = 0;
	bool *done = kcalloc(n, sizeof(*done));
	TRACE_SCOPE("mm", "ksm_merge", "pages=%zu", n);

	if (!done)
		return 0;
	for (size_t i = 0; i < n; i++) {
		struct ksm_item *target = &g[i];

		if (done[i] || !target->page)
			continue;
		done[i] = true;
		for (size_t j = i + 1; j < n; j++) {
			if (done[j] || !g[j].page || g[j].page == target->page ||
			    !pages_look_same(g[j].page, target->page))
				continue;
			done[j] = true;
			mmap_read_lock(target->mm);
			bool ok = PageTest(target->page, PG_ksm) || !write_protect_page(target);
			mmap_read_unlock(target->mm);
			if (!ok)
				break;
			mmap_read_lock(g[j].mm);
			if (replace_page(&g[j], target->page))
				merged++;
			mmap_read_unlock(g[j].mm);
		}
	}
	kfree(done);
	return merged;
}

/*
 * try_to_merge_one_page() splits a THP before merging a page of it: split
 * every folio with a page in a group of equal hashes. The scan's references
 * on its pages are dropped for the split (split_folio() wants only its
 * caller's) and taken again on the 4 KiB pages; a page gone meanwhile
 * leaves the scan (page = NULL).
 */
static void ksm_split_candidates(struct ksm_scan *sc)
{
	for (size_t i = 0; i < sc->n; i++) {
		struct ksm_item *it = &sc->items[i];
		bool dup = (i > 0 && sc->items[i - 1].hash == it->hash) ||
			   (i + 1 < sc->n && sc->items[i + 1].hash == it->hash);
		struct page *head;
		unsigned long hpfn;

		if (!dup || !it->page || !PageCompound(it->page))
			continue;
		head = compound_head(it->page);
		hpfn = page_to_pfn(head);
		get_page(head); /* for split_folio(); the items' references keep it until then */
		for (size_t j = 0; j < sc->n; j++)
			if (sc->items[j].page &&
			    page_to_pfn(sc->items[j].page) - hpfn < HPAGE_PMD_NR)
				put_page(sc->items[j].page);
		/* If it fails (a pin, a GUP reference, a lock), the merge finds it busy. */
		split_folio(head);
		for (size_t j = 0; j < sc->n; j++) {
			struct page *page = sc->items[j].page;

			if (page && page_to_pfn(page) - hpfn < HPAGE_PMD_NR &&
			    !get_page_unless_zero(page))
				sc->items[j].page = NULL;
		}
		put_page(head);
	}
}

unsigned long ksm_scan_all(void)
{
	struct ksm_scan sc = {0};
	unsigned long merged = 0;
	TRACE_SCOPE("mm", "ksm_scan_all", NULL);

	mm_for_each_live(ksm_collect_mm, &sc);
	if (sc.n) {
		qsort(sc.items, sc.n, sizeof(*sc.items), cmp_hash);
		ksm_split_candidates(&sc);
	}
	for (size_t i = 0; i < sc.n;) {
		size_t j = i + 1;

		while (j < sc.n && sc.items[j].hash == sc.items[i].hash)
			j++;
		if (j - i > 1)
			merged += ksm_merge_group(&sc.items[i], j - i);
		i = j;
	}
	for (size_t i = 0; i < sc.n; i++) {
		if (sc.items[i].page)
			put_page(sc.items[i].page);
		mmput_tracked(sc.items[i].mm, &sc, "ksm scan");
	}
	kfree(sc.items);
	return merged;
}

/**
 * break_ksm() - give @vma its own copy of a KSM page at @addr
 * (MADV_UNMERGEABLE). Caller holds mmap_lock for write.
 */
int break_ksm(struct vm_area_struct *vma, unsigned long addr)
{
	struct mm_struct *mm = vma->vm_mm;
	struct mmu_notifier_range range;
	struct page *kpage, *copy;
	pte_t *ptep;
	uint64_t pte;

	/*
	 * No PTL yet (rechecked below): a huge PMD (NULL here) never maps a
	 * KSM page -- KSM splits a folio before it merges a page of it -- so
	 * neither does the table a split may make of it meanwhile.
	 */
	ptep = pte_offset(mm, addr);
	pte = ptep ? pte_load(ptep) : 0;
	if (!pte_present(pte) || is_zero_pfn(pte_pfn(pte)))
		return 0;
	kpage = pfn_to_page(pte_pfn(pte));
	if (!PageTest(kpage, PG_ksm))
		return 0;
	copy = alloc_page();
	if (!copy)
		return -ENOMEM;
	copy_frame_data(page_address(copy), page_address(kpage), PAGE_SIZE);
	atomic_store(&copy->flags,
		     (1UL << PG_anon) | (1UL << PG_swapbacked) | (1UL << PG_anon_exclusive));
	copy->mapping = vma_core(vma)->anon_vma;
	copy->index = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, addr, addr + PAGE_SIZE);
	mmu_notifier_invalidate_range_start(&range);
	sm_mutex_lock(&mm->page_table_lock);
	if (pte_load(ptep) == pte) {
		set_pte(mm, ptep, 0);
		mmu_notifier_arch_invalidate_secondary_tlbs(mm, addr, addr + PAGE_SIZE);
		atomic_fetch_add(&copy->_mapcount, 1);
		set_pte(mm, ptep, pfn_pte(page_to_pfn(copy), vma->vm_flags & VM_WRITE));
		folio_remove_rmap_pte(kpage);
		lru_add(copy); /* under the PTL: the PTE's is the only reference to it */
		sm_mutex_unlock(&mm->page_table_lock);
		put_page(kpage);
	} else {
		sm_mutex_unlock(&mm->page_table_lock);
		put_page(copy);
	}
	mmu_notifier_invalidate_range_end(&range);
	return 0;
}
