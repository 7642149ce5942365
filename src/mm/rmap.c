// SPDX-License-Identifier: MIT
/*
 * The reverse map: from a frame to every PTE that maps it.
 *
 * Private anonymous pages: page->mapping is the anon_vma, page->index the
 * linear page offset; each VMA on anon_vma->vmas maps it (if at all) at
 * vm_start + (index - vm_pgoff) pages. Fork shares the anon_vma, mremap keeps
 * vm_pgoff, so the formula survives both.
 * Shared anonymous pages: page->mapping is the shmem object, the same
 * formula over the object's VMA list.
 *
 * Locks: the object's lock (LOCK_RANK_ANON_VMA) keeps every listed VMA, its
 * mm and its page tables alive (VMAs leave the list before they are freed;
 * exit frees page tables only under rmap_lock for write). For each mapping
 * the walker takes that mm's rmap_lock for read -- this is how an
 * invalidation without mmap_lock excludes mmu_notifier_register -- and then
 * the page-table lock.
 */
#include "mm/swap_internal.h"

bool rmap_get(struct page *page, struct rmap_target *t)
{
	t->av = NULL;
	t->obj = NULL;
	if (PageTest(page, PG_anon))
		t->av = page_get_anon_vma(page);
	else
		t->obj = page_get_shmem(page);
	return t->av || t->obj;
}

void rmap_put(struct rmap_target *t)
{
	if (t->av)
		anon_vma_put(t->av); /* Pairs with page_get_anon_vma(). */
	if (t->obj)
		shmem_obj_put(t->obj); /* Pairs with page_get_shmem(). */
}

void rmap_walk_target(struct page *page, struct rmap_target *t, rmap_one_fn fn, void *arg)
{
	struct sm_mutex *lock = t->av ? &t->av->lock : &t->obj->vma_lock;
	struct list_head *vmas = t->av ? &t->av->vmas : &t->obj->vmas;
	struct list_head *pos;

	sm_mutex_lock(lock);
	for (pos = vmas->next; pos != vmas; pos = pos->next) {
		struct vma_core *vc = t->av ? list_entry(pos, struct vma_core, anon_link)
					    : list_entry(pos, struct vma_core, shm_link);
		struct vm_area_struct *vma =
			container_of((void *)vc, struct vm_area_struct, core_priv);
		unsigned long addr;
		bool more;

		if (page->index < vma->vm_pgoff)
			continue;
		addr = vma->vm_start + ((page->index - vma->vm_pgoff) << PAGE_SHIFT);
		if (addr < vma->vm_start || addr >= vma->vm_end)
			continue;
		sm_down_read(&vma->vm_mm->rmap_lock);
		more = fn(vma, addr, page, arg);
		sm_up_read(&vma->vm_mm->rmap_lock);
		if (!more)
			break;
	}
	sm_mutex_unlock(lock);
}

void rmap_walk(struct page *page, rmap_one_fn fn, void *arg)
{
	struct rmap_target t;

	if (!rmap_get(page, &t))
		return; /* not mapped (or its object is dying): nothing to walk */
	rmap_walk_target(page, &t, fn, arg);
	rmap_put(&t);
}

static bool referenced_one(struct vm_area_struct *vma, unsigned long addr, struct page *page,
			   void *arg)
{
	struct mm_struct *mm = vma->vm_mm;
	int *referenced = arg;
	pte_t *ptep;
	uint64_t pte;

	unsigned long end = addr + PAGE_SIZE;

	sm_mutex_lock(&mm->page_table_lock);
	ptep = pte_offset(mm, addr);
	/* A THP's head mapped by a huge PMD: its young bit (pmdp_clear_flush_young_notify()). */
	if (!ptep && !(addr & ~HPAGE_PMD_MASK) && pmd_offset(mm, addr) &&
	    pmd_trans_huge(pte_load(pmd_offset(mm, addr)))) {
		ptep = pmd_offset(mm, addr);
		end = addr + HPAGE_PMD_SIZE;
	}
	pte = ptep ? pte_load(ptep) : 0;
	if (!pte_present(pte) || pte_pfn(pte) != page_to_pfn(page)) {
		sm_mutex_unlock(&mm->page_table_lock);
		return true;
	}
	if (pte & PTE_YOUNG) {
		set_pte(mm, ptep, pte & ~PTE_YOUNG);
		(*referenced)++;
	}
	sm_mutex_unlock(&mm->page_table_lock);
	/* ptep_clear_flush_young_notify(): the secondary MMUs' accessed bits count too. */
	*referenced += mmu_notifier_clear_flush_young(mm, addr, end);
	return true;
}

int page_referenced(struct page *page)
{
	int referenced = 0;

	rmap_walk(page, referenced_one, &referenced);
	return referenced;
}

struct unmap_arg {
	long slot;
};

static bool unmap_one(struct vm_area_struct *vma, unsigned long addr, struct page *page, void *arg)
{
	struct unmap_arg *ua = arg;
	struct mm_struct *mm = vma->vm_mm;
	struct mmu_notifier_range range;
	bool anon = PageTest(page, PG_anon);
	pte_t *ptep;
	uint64_t pte;

	/*
	 * try_to_unmap_one(): a VMA mlocked since reclaim chose the page stops
	 * the walk; the page stays mapped everywhere it still is.
	 */
	if (READ_ONCE(vma->vm_flags) & VM_LOCKED)
		return false;
	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, addr, addr + PAGE_SIZE);
	mmu_notifier_invalidate_range_start(&range);
	sm_mutex_lock(&mm->page_table_lock);
	ptep = pte_offset(mm, addr);
	pte = ptep ? pte_load(ptep) : 0;
	if (pte_present(pte) && pte_pfn(pte) == page_to_pfn(page)) {
		if (anon) {
			swap_dup((unsigned long)ua->slot);
			set_pte(mm, ptep,
				swp_pte((unsigned long)ua->slot,
					PageTest(page, PG_anon_exclusive)));
			atomic_fetch_add(&mm->swapents, 1);
		} else {
			set_pte(mm, ptep, 0); /* shared memory refaults from its object */
		}
		mmu_notifier_arch_invalidate_secondary_tlbs(mm, addr, addr + PAGE_SIZE);
		folio_remove_rmap_pte(page);
		atomic_fetch_sub(&mm->rss, 1);
		sm_mutex_unlock(&mm->page_table_lock);
		put_page(page); /* the PTE's reference; the caller still holds one */
	} else {
		sm_mutex_unlock(&mm->page_table_lock);
	}
	mmu_notifier_invalidate_range_end(&range);
	return page_mapcount(page) > 0;
}

int try_to_unmap(struct page *page, long slot)
{
	struct unmap_arg ua = {.slot = slot};

	rmap_walk(page, unmap_one, &ua);
	return page_mapcount(page);
}
