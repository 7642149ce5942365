// SPDX-License-Identifier: MIT
/*
 * Page migration, in the kernel's three steps:
 *   1. every PTE mapping the old frame becomes a migration entry (not
 *      present: faults on it wait), each inside an MMU_NOTIFY_CLEAR
 *      invalidation (as Linux's try_to_migrate_one()), so secondary MMUs drop the old frame first;
 *   2. if nobody but the PTEs and the owner holds the old frame, copy it;
 *   3. every migration entry becomes a PTE of the new frame.
 * If step 2 finds an extra reference (a pin, a GUP in flight) the entries are
 * restored to the old frame and the page is reported busy.
 */
#include <errno.h>
#include <string.h>

#include "mm/swap_internal.h"
#include "secmmu/kit/bugs.h"
#include "secmmu/migrate.h"
#include "secmmu/trace.h"

struct migrate_arg {
	struct page *old, *new;
	int converted; /* PTE references moved to migration entries */
};

static uint64_t migration_entry(struct page *page, uint64_t pte)
{
	return ((uint64_t)page_to_pfn(page) << PTE_PFN_SHIFT) | PTE_MIGRATING | (pte & PTE_WRITE);
}

static bool unmap_one(struct vm_area_struct *vma, unsigned long addr, struct page *page, void *arg)
{
	struct migrate_arg *ma = arg;
	struct mm_struct *mm = vma->vm_mm;
	struct mmu_notifier_range range;
	bool late_flush = false;
	pte_t *ptep;
	uint64_t pte;

	/* try_to_migrate_one(): CPU migration is a CLEAR (MIGRATE is migrate_vma's). */
	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, addr, addr + PAGE_SIZE);
	mmu_notifier_invalidate_range_start(&range);
	sm_mutex_lock(&mm->page_table_lock);
	ptep = pte_offset(mm, addr);
	pte = ptep ? pte_load(ptep) : 0;
	if (pte_present(pte) && pte_pfn(pte) == page_to_pfn(page)) {
		set_pte(mm, ptep, migration_entry(page, pte));
		/*
		 * Flush under the PTL: a zap that takes it next finds no
		 * present PTE and flushes nothing. The museum's
		 * migrate-flush-unlocked (base/bugs.h) flushes after the unlock.
		 */
		late_flush = historic_bug(BUG_MIGRATE_FLUSH_UNLOCKED);
		if (!late_flush)
			mmu_notifier_arch_invalidate_secondary_tlbs(mm, addr, addr + PAGE_SIZE);
		folio_remove_rmap_pte(page);
		ma->converted++; /* the PTE's page reference now belongs to the entry */
	}
	sm_mutex_unlock(&mm->page_table_lock);
	if (late_flush)
		mmu_notifier_arch_invalidate_secondary_tlbs(mm, addr, addr + PAGE_SIZE);
	mmu_notifier_invalidate_range_end(&range);
	return true;
}

/* Turn the migration entries of ma->old into PTEs of @target. */
static bool remap_one(struct vm_area_struct *vma, unsigned long addr, struct page *page, void *arg)
{
	struct migrate_arg *ma = arg;
	struct page *target = ma->new ? ma->new : ma->old;
	struct mm_struct *mm = vma->vm_mm;
	pte_t *ptep;
	uint64_t pte;

	(void)page;
	sm_mutex_lock(&mm->page_table_lock);
	ptep = pte_offset(mm, addr);
	pte = ptep ? pte_load(ptep) : 0;
	if ((pte & PTE_MIGRATING) && pte_pfn(pte) == page_to_pfn(ma->old)) {
		bool write = (pte & PTE_WRITE) && (READ_ONCE(vma->vm_flags) & VM_WRITE);

		if (target != ma->old) {
			get_page(target);
			put_page(ma->old); /* the entry's reference; the caller still holds one */
		}
		atomic_fetch_add(&target->_mapcount, 1);
		set_pte(mm, ptep, pfn_pte(page_to_pfn(target), write));
	}
	sm_mutex_unlock(&mm->page_table_lock);
	return true;
}

/*
 * Migrate one isolated page (the caller holds a reference). Return: 0,
 * -EBUSY (pinned: it will not move), -EAGAIN (a transient reference or lock
 * of somebody else: try again, as Linux's migrate_pages() does), -ENOMEM.
 */
static int migrate_page(struct page *old)
{
	struct migrate_arg ma = {.old = old};
	bool shmem = !PageTest(old, PG_anon);
	struct rmap_target t;
	struct page *new;
	int expected, ret = 0;
	TRACE_SCOPE("mm", "migrate_page", "pfn=%lu", page_to_pfn(old));

	if (page_maybe_dma_pinned(old))
		return -EBUSY;
	if (PageTest(old, PG_ksm) || PageTest(old, PG_swapcache))
		return 0; /* not movable here: left in place */
	/*
	 * A PTE-mapped THP: split, then this 4 KiB page moves (see
	 * migrate_huge_pmd()). A split that failed met a pin (for good) or a
	 * lock, PTL or reference somebody holds for now (another split or
	 * migration of the folio): tried again, then reported, never a
	 * silent success with the page left in place.
	 */
	if (PageCompound(old) && split_folio(old))
		return page_maybe_dma_pinned(old) ? -EBUSY : -EAGAIN;
	/* Held across the walks: after the first one the page is not mapped. */
	if (!rmap_get(old, &t))
		return 0; /* not mapped any more */
	new = alloc_page();
	if (!new) {
		ret = -ENOMEM;
		goto out_put;
	}
	if (TestSetPageFlag(old, PG_locked)) {
		put_page(new);
		ret = -EAGAIN; /* being reclaimed or migrated right now */
		goto out_put;
	}
	rmap_walk_target(old, &t, unmap_one, &ma);
	/* Ours, the converted PTEs', and the shared-memory object's. */
	expected = 1 + ma.converted + (shmem ? 1 : 0);
	if (page_ref_count(old) != expected || page_mapcount(old)) {
		put_page(new);
		ma.new = NULL;
		rmap_walk_target(old, &t, remap_one, &ma); /* back to the old frame */
		unlock_page(old);			   /* wakes a device fault waiting for it */
		/* A pin is for good; any other extra reference passes. */
		ret = page_maybe_dma_pinned(old) ? -EBUSY : -EAGAIN;
		goto out_put;
	}
	copy_frame_data(page_address(new), page_address(old), PAGE_SIZE);
	atomic_store(&new->flags,
		     atomic_load(&old->flags) & ~((1UL << PG_locked) | (1UL << PG_lru)));
	/* Mapped more than once (a fork may even have copied an entry meanwhile): shared. */
	if (ma.converted > 1)
		ClearPageFlag(new, PG_anon_exclusive);
	new->mapping = old->mapping;
	new->index = old->index;
	if (shmem) {
		sm_mutex_lock(&t.obj->lock);
		struct page **pp = shmem_page_slot(t.obj, old->index, false);

		if (pp && *pp == old) {
			*pp = new;
			get_page(new); /* the object's reference moves to the new frame */
			put_page(old);
		}
		sm_mutex_unlock(&t.obj->lock);
	}
	ma.new = new;
	rmap_walk_target(old, &t, remap_one, &ma);
	unlock_page(old); /* wakes a device fault waiting for it */
	lru_add(new);
	put_page(new); /* the allocation reference; mappings hold their own */
out_put:
	rmap_put(&t);
	return ret;
}

/* Passes over a page whose migration met a transient reference (Linux: 10). */
#define NR_MAX_MIGRATE_PAGES_RETRY 10

/*
 * Migrate the page at @addr, if any; a huge PMD moves whole, and *@huge
 * says so (the caller skips the rest of its 2 MiB). The look at the PMD is
 * without the PTL: migrate_huge_pmd() rechecks under it and returns 1 if a
 * split (through the reverse map, by another mm) made it a leaf table
 * meanwhile, and the 4 KiB page at @addr is migrated here. Caller holds no
 * lock. Return: as migrate_page().
 */
static int migrate_addr(struct mm_struct *mm, unsigned long addr, bool *huge)
{
	struct vm_area_struct *vma;
	struct page *page = NULL;
	pte_t *ptep;
	uint64_t pte;
	int err;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	if (vma && !pte_offset(mm, addr) && pmd_offset(mm, addr) &&
	    pmd_trans_huge(pte_load(pmd_offset(mm, addr)))) {
		err = migrate_huge_pmd(vma, addr & HPAGE_PMD_MASK);
		if (err != 1) {
			*huge = !err;
			mmap_read_unlock(mm);
			return err;
		}
	}
	sm_mutex_lock(&mm->page_table_lock);
	ptep = pte_offset(mm, addr);
	pte = ptep ? pte_load(ptep) : 0;
	if (pte_present(pte) && !is_zero_pfn(pte_pfn(pte))) {
		page = pfn_to_page(pte_pfn(pte));
		if (!get_page_unless_zero(page))
			page = NULL;
	}
	sm_mutex_unlock(&mm->page_table_lock);
	err = page ? migrate_page(page) : 0;
	mmap_read_unlock(mm);
	if (page)
		put_page(page);
	return err;
}

int migrate_range(struct mm_struct *mm, unsigned long start, unsigned long len)
{
	unsigned long end = start + len;
	int ret = 0;

	if (!PAGE_ALIGNED(start) || !len || end < start || end > TASK_SIZE)
		return -EINVAL;
	for (unsigned long addr = start; addr < end; addr += PAGE_SIZE) {
		bool huge = false;
		int err, pass = 0;

		/*
		 * A transient reference (a reclaim or KSM pass, a device's
		 * short-term get) is retried, as Linux's migrate_pages()
		 * does; only a pin makes the page -EBUSY at once.
		 */
		do
			err = migrate_addr(mm, addr, &huge);
		while (err == -EAGAIN && ++pass < NR_MAX_MIGRATE_PAGES_RETRY);
		if (huge) /* the whole folio moved: on past its 2 MiB */
			addr = (addr | ~HPAGE_PMD_MASK) - (PAGE_SIZE - 1);
		if (err == -ENOMEM)
			return err;
		if (err)
			ret = err;
	}
	return ret;
}
