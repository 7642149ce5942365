// SPDX-License-Identifier: MIT
/*
 * Migration to and from device-private memory (Linux's mm/migrate_device.c):
 * migrate_vma_setup/pages/finalize, migrate_device_range for evictions, and
 * make_device_exclusive.
 *
 * A page moves in three steps, driven by its driver:
 *   setup     collect the page (a reference), lock it (PG_locked), and turn
 *             every PTE mapping it, in every mm (through the reverse map),
 *             into a migration entry, each inside an MMU_NOTIFY_MIGRATE
 *             invalidation carrying the driver's owner cookie. A page with
 *             references nobody accounts for (a pin, a GUP in flight) is
 *             restored at once and left behind (src 0).
 *   (driver)  allocate the destination pages and copy
 *   pages     move the page's identity (anon_vma, index, flags) to the new
 *             page; fill empty entries with theirs
 *   finalize  every migration entry becomes a PTE of the new page (a
 *             device-private entry if it is device memory) or, if the page
 *             did not move, of the old one; unlock; drop references
 *
 * Between setup and finalize the state of a collected page is its src entry
 * (VALID|MIGRATE), its PG_locked bit, a reference on its reverse-map object
 * (page->mapping, taken by rmap_get() in setup, dropped in finalize) and the
 * collect reference. Faults on a migration entry wait until finalize.
 *
 * Locks: the caller of migrate_vma_* holds mmap_lock for read; the walks
 * take the anon_vma (or shmem) lock, each mm's rmap_lock for read and its
 * PTL, as every reverse-map walk does.
 */
#include <errno.h>
#include <string.h>

#include "base/wait.h"
#include "secmmu/kit/bugs.h"

#include "mm/swap_internal.h"
#include "secmmu/kit/bugs.h"
#include "secmmu/err.h"
#include "secmmu/migrate.h"
#include "secmmu/trace.h"

struct mv_walk {
	struct page *old, *new; /* new NULL: back to old */
	void *owner;
	int converted;
};

void unlock_page(struct page *page)
{
	BUG_ON(!TestClearPageFlag(page, PG_locked));
	sm_wake_up_var(&page->flags); /* Pairs with wait_on_page_locked(). */
}

static uint64_t migration_entry_of(unsigned long pfn, uint64_t pte)
{
	return ((uint64_t)pfn << PTE_PFN_SHIFT) | PTE_MIGRATING | (pte & PTE_WRITE);
}

/* Replace the mapping of @page at @addr (present or device-private) by a migration entry. */
static bool mv_unmap_one(struct vm_area_struct *vma, unsigned long addr, struct page *page,
			 void *arg)
{
	struct mv_walk *w = arg;
	struct mm_struct *mm = vma->vm_mm;
	unsigned long pfn = page_to_pfn(page);
	struct mmu_notifier_range range;
	bool late_flush = false;
	pte_t *ptep;
	uint64_t pte;

	mmu_notifier_range_init(&range, MMU_NOTIFY_MIGRATE, 0, mm, addr, addr + PAGE_SIZE);
	range.owner = w->owner;
	mmu_notifier_invalidate_range_start(&range);
	sm_mutex_lock(&mm->page_table_lock);
	ptep = pte_offset(mm, addr);
	pte = ptep ? pte_load(ptep) : 0;
	if ((pte_present(pte) || pte_is_device(pte)) && pte_pfn(pte) == pfn) {
		set_pte(mm, ptep, migration_entry_of(pfn, pte));
		/*
		 * Flush under the PTL: a zap that takes it next finds no
		 * present PTE and flushes nothing, so it must find the TLBs
		 * already clean. The museum's migrate-flush-unlocked
		 * (base/bugs.h) flushes after the unlock, as before
		 * "mm/migrate_device.c: flush TLB while holding PTL".
		 */
		late_flush = pte_present(pte) && historic_bug(BUG_MIGRATE_FLUSH_UNLOCKED);
		if (pte_present(pte) && !late_flush)
			mmu_notifier_arch_invalidate_secondary_tlbs(mm, addr, addr + PAGE_SIZE);
		folio_remove_rmap_pte(page);
		w->converted++; /* the PTE's page reference now belongs to the entry */
	}
	sm_mutex_unlock(&mm->page_table_lock);
	if (late_flush)
		mmu_notifier_arch_invalidate_secondary_tlbs(mm, addr, addr + PAGE_SIZE);
	mmu_notifier_invalidate_range_end(&range);
	return true;
}

/* Turn the migration entries of w->old at @addr into a mapping of the target. */
static bool mv_remap_one(struct vm_area_struct *vma, unsigned long addr, struct page *page,
			 void *arg)
{
	struct mv_walk *w = arg;
	struct page *target = w->new ? w->new : w->old;
	struct mm_struct *mm = vma->vm_mm;
	pte_t *ptep;
	uint64_t pte;

	(void)page;
	sm_mutex_lock(&mm->page_table_lock);
	ptep = pte_offset(mm, addr);
	pte = ptep ? pte_load(ptep) : 0;
	if ((pte & PTE_MIGRATING) && pte_pfn(pte) == page_to_pfn(w->old)) {
		bool write = (pte & PTE_WRITE) && (READ_ONCE(vma->vm_flags) & VM_WRITE);
		unsigned long pfn = page_to_pfn(target);

		if (target != w->old) {
			get_page(target);
			put_page(w->old); /* the entry's reference; the collect one remains */
		}
		atomic_fetch_add(&target->_mapcount, 1);
		set_pte(mm, ptep,
			is_device_private_page(target) ? device_pte(pfn, write)
						       : pfn_pte(pfn, write));
		if (!is_device_private_page(target) && target != w->old &&
		    !PageTest(target, PG_lru))
			lru_add(target); /* under the PTL: it is mapped from now on */
	}
	sm_mutex_unlock(&mm->page_table_lock);
	return true;
}

static struct rmap_target page_rmap_target(struct page *page)
{
	struct rmap_target t = {NULL, NULL};

	/* setup referenced page->mapping with rmap_get(); it stays put while the page is locked. */
	if (PageTest(page, PG_anon))
		t.av = page->mapping;
	else
		t.obj = page->mapping;
	return t;
}

/*
 * Lock @page (unless the caller already holds its lock: @locked_by_caller)
 * and unmap it everywhere. On success the page keeps the caller's collect
 * reference and its rmap_get() reference until finalize. Return: true if it
 * is ready to move.
 */
static bool mv_isolate(struct page *page, void *owner, bool locked_by_caller)
{
	struct mv_walk w = {.old = page, .owner = owner};
	bool shmem = !PageTest(page, PG_anon);
	struct rmap_target t;
	int expected;

	if (page_maybe_dma_pinned(page) || PageTest(page, PG_ksm) || PageTest(page, PG_swapcache))
		return false;
	/* A page of a THP stays where it is: Linux 6.12's migrate_vma_collect_pmd() skips them too.
	 */
	if (PageCompound(page))
		return false;
	if (!locked_by_caller && TestSetPageFlag(page, PG_locked))
		return false;
	if (!rmap_get(page, &t))
		goto unlock; /* not mapped (any more) */
	rmap_walk_target(page, &t, mv_unmap_one, &w);
	/* Ours, the entries', the shared object's, and the faulting CPU's. */
	expected = 1 + w.converted + (shmem ? 1 : 0) + (locked_by_caller ? 1 : 0);
	if (page_ref_count(page) != expected || page_mapcount(page)) {
		rmap_walk_target(page, &t, mv_remap_one, &w); /* restore */
		rmap_put(&t);
		goto unlock;
	}
	if (w.converted > 1) /* mapped by more than one mm: shared from now on */
		ClearPageFlag(page, PG_anon_exclusive);
	return true;
unlock:
	if (!locked_by_caller)
		unlock_page(page);
	return false;
}

static bool vma_is_anonymous(const struct vm_area_struct *vma)
{
	return !vma_core((struct vm_area_struct *)vma)->shm && !vma->vm_ops;
}

int migrate_vma_setup(struct migrate_vma *args)
{
	struct vm_area_struct *vma = args->vma;
	struct mm_struct *mm;
	bool anon;
	TRACE_SCOPE("mm", "migrate_vma_setup", "start=0x%lx end=0x%lx flags=%lu", args->start,
		    args->end, args->flags);

	if (!vma || !args->src || !args->dst || !PAGE_ALIGNED(args->start) ||
	    !PAGE_ALIGNED(args->end) || args->end <= args->start || args->start < vma->vm_start ||
	    args->end > vma->vm_end || !args->flags ||
	    (args->flags & ~(MIGRATE_VMA_SELECT_SYSTEM | MIGRATE_VMA_SELECT_DEVICE_PRIVATE)) ||
	    (vma->vm_flags & (VM_IO | VM_PFNMAP)) || vma->vm_ops ||
	    (args->fault_page && !is_device_private_page(args->fault_page)))
		return -EINVAL;
	mm = vma->vm_mm;
	mmap_assert_locked(mm);
	anon = vma_is_anonymous(vma);
	args->npages = (args->end - args->start) >> PAGE_SHIFT;
	args->cpages = 0;
	memset(args->src, 0, args->npages * sizeof(*args->src));
	memset(args->dst, 0, args->npages * sizeof(*args->dst));
	for (unsigned long i = 0; i < args->npages; i++) {
		unsigned long addr = args->start + (i << PAGE_SHIFT), src = 0;
		struct page *page = NULL;
		pte_t *ptep;
		uint64_t pte;

		sm_mutex_lock(&mm->page_table_lock);
		ptep = pte_offset(mm, addr);
		pte = ptep ? pte_load(ptep) : 0;
		if (!ptep && follow_huge_pmd(mm, addr, &pte)) {
			/*
			 * A huge PMD (a THP, or the huge zero page) is no hole:
			 * pte_offset() has no leaf table for it. Its pages stay
			 * where they are (src 0), as a PTE-mapped THP's do (see
			 * mv_isolate()).
			 */
		} else if (pte_none(pte) || (pte_present(pte) && is_zero_pfn(pte_pfn(pte)))) {
			/* An empty (or zero-page) entry of anonymous memory: a new page fills it.
			 */
			if ((args->flags & MIGRATE_VMA_SELECT_SYSTEM) && anon)
				src = MIGRATE_PFN_MIGRATE;
		} else if (pte_present(pte)) {
			if (args->flags & MIGRATE_VMA_SELECT_SYSTEM)
				page = pfn_to_page(pte_pfn(pte));
		} else if (pte_is_device(pte)) {
			struct page *dpage = pfn_to_page(pte_pfn(pte));

			if ((args->flags & MIGRATE_VMA_SELECT_DEVICE_PRIVATE) &&
			    page_pgmap(dpage)->owner == args->pgmap_owner)
				page = dpage;
		}
		if (page) {
			if (!get_page_unless_zero(page))
				page = NULL;
			else
				src = migrate_pfn(page_to_pfn(page)) | MIGRATE_PFN_MIGRATE |
				      (pte_write(pte) && (vma->vm_flags & VM_WRITE)
					       ? MIGRATE_PFN_WRITE
					       : 0);
		}
		sm_mutex_unlock(&mm->page_table_lock);
		if (page && !mv_isolate(page, args->pgmap_owner, page == args->fault_page)) {
			put_page(page);
			src = 0;
		}
		args->src[i] = src;
		if (src & MIGRATE_PFN_MIGRATE)
			args->cpages++;
	}
	return 0;
}

/* Fill the empty entry at @addr with @new (migrate_vma_pages() of a hole). */
static bool mv_insert_page(struct migrate_vma *args, unsigned long addr, struct page *new)
{
	struct vm_area_struct *vma = args->vma;
	struct mm_struct *mm = vma->vm_mm;
	bool write = vma->vm_flags & VM_WRITE, ok = false, zero = false;
	struct mmu_notifier_range range;
	pte_t *ptep;
	uint64_t pte;

	if (anon_vma_prepare(vma))
		return false;
	SetPageFlag(new, PG_anon);
	SetPageFlag(new, PG_swapbacked);
	SetPageFlag(new, PG_anon_exclusive);
	/* Pairs with the release store in __vma_set_anon_vma(). */
	new->mapping = __atomic_load_n(&vma_core(vma)->anon_vma, __ATOMIC_ACQUIRE);
	new->index = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
	mmu_notifier_range_init(&range, MMU_NOTIFY_MIGRATE, 0, mm, addr, addr + PAGE_SIZE);
	range.owner = args->pgmap_owner;
	mmu_notifier_invalidate_range_start(&range);
	sm_mutex_lock(&mm->page_table_lock);
	/*
	 * NULL: out of memory, or a THP fault mapped a huge PMD over the hole
	 * since migrate_vma_setup() looked (mmap_lock for read does not keep
	 * faults out): nothing to fill, the page is not migrated.
	 */
	ptep = pte_alloc(mm, addr);
	pte = ptep ? pte_load(ptep) : 0;
	if (ptep && (pte_none(pte) || (pte_present(pte) && is_zero_pfn(pte_pfn(pte))))) {
		unsigned long pfn = page_to_pfn(new);

		zero = !pte_none(pte);
		get_page(new); /* the PTE's reference; the driver's goes in finalize */
		atomic_fetch_add(&new->_mapcount, 1);
		atomic_fetch_add(&mm->rss, 1);
		set_pte(mm, ptep,
			is_device_private_page(new) ? device_pte(pfn, write)
						    : pfn_pte(pfn, write) | PTE_DIRTY);
		if (zero)
			mmu_notifier_arch_invalidate_secondary_tlbs(mm, addr, addr + PAGE_SIZE);
		if (!is_device_private_page(new))
			lru_add(new);
		ok = true;
	}
	sm_mutex_unlock(&mm->page_table_lock);
	if (zero)
		put_page(zero_page()); /* Pairs with get_page() when it was mapped. */
	mmu_notifier_invalidate_range_end(&range);
	return ok;
}

/* Hand @old's identity to @new. Return: false if this kind of page may not go there. */
static bool mv_move_state(struct page *old, struct page *new)
{
	unsigned long keep = (1UL << PG_anon) | (1UL << PG_swapbacked) |
			     (1UL << PG_anon_exclusive) | (1UL << PG_dirty) | (1UL << PG_uptodate);

	/* Shared memory (shmem, file pages) stays in system memory, as in Linux. */
	if (!PageTest(old, PG_anon))
		return false;
	atomic_fetch_or(&new->flags, atomic_load(&old->flags) & keep);
	new->mapping = old->mapping;
	new->index = old->index;
	return true;
}

static void mv_pages(struct vm_area_struct *vma, struct migrate_vma *args, unsigned long *src,
		     unsigned long *dst, unsigned long npages)
{
	for (unsigned long i = 0; i < npages; i++) {
		struct page *new = migrate_pfn_to_page(dst[i]);
		struct page *old = migrate_pfn_to_page(src[i]);

		if (!(src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		if (!new) {
			src[i] &= ~MIGRATE_PFN_MIGRATE;
			continue;
		}
		if (!old) {
			if (!vma || !mv_insert_page(args, args->start + (i << PAGE_SHIFT), new))
				src[i] &= ~MIGRATE_PFN_MIGRATE;
			continue;
		}
		if (!mv_move_state(old, new))
			src[i] &= ~MIGRATE_PFN_MIGRATE;
	}
}

void migrate_vma_pages(struct migrate_vma *args)
{
	mv_pages(args->vma, args, args->src, args->dst, args->npages);
}

static void mv_finalize(unsigned long *src, unsigned long *dst, unsigned long npages,
			struct page *fault_page)
{
	for (unsigned long i = 0; i < npages; i++) {
		struct page *old = migrate_pfn_to_page(src[i]);
		struct page *new = migrate_pfn_to_page(dst[i]);

		if (old) {
			struct mv_walk w = {.old = old};
			struct rmap_target t = page_rmap_target(old);

			if ((src[i] & MIGRATE_PFN_MIGRATE) && new)
				w.new = new;
			rmap_walk_target(old, &t, mv_remap_one, &w);
			rmap_put(&t); /* Pairs with rmap_get() in mv_isolate(). */
			if (old != fault_page)
				unlock_page(old);
			put_page(old); /* the collect reference; the last one frees a moved page */
		}
		if (new)
			put_page(new); /* the driver's allocation reference */
	}
}

void migrate_vma_finalize(struct migrate_vma *args)
{
	mv_finalize(args->src, args->dst, args->npages, args->fault_page);
}

int migrate_device_range(unsigned long *src, unsigned long start_pfn, unsigned long npages)
{
	for (unsigned long i = 0; i < npages; i++) {
		struct page *page = pfn_to_page(start_pfn + i);

		src[i] = 0;
		if (!page || !is_device_private_page(page))
			return -EINVAL;
		if (!get_page_unless_zero(page))
			continue; /* free */
		if (!mv_isolate(page, page_pgmap(page)->owner, false)) {
			put_page(page);
			continue;
		}
		src[i] = migrate_pfn(start_pfn + i) | MIGRATE_PFN_MIGRATE;
	}
	return 0;
}

void migrate_device_pages(unsigned long *src, unsigned long *dst, unsigned long npages)
{
	mv_pages(NULL, NULL, src, dst, npages);
}

void migrate_device_finalize(unsigned long *src, unsigned long *dst, unsigned long npages)
{
	mv_finalize(src, dst, npages, NULL);
}

/* --- device-exclusive access ---------------------------------------------- */

struct page *make_device_exclusive(struct mm_struct *mm, unsigned long addr, void *owner)
{
	struct mmu_notifier_range range;
	struct vm_area_struct *vma;
	struct page *page;
	pte_t *ptep;
	uint64_t pte;
	int ret;

	mmap_assert_locked(mm);
	addr &= PAGE_MASK;
	vma = vma_lookup(mm, addr);
	if (!vma || (vma->vm_flags & (VM_IO | VM_PFNMAP)))
		return ERR_PTR(-EFAULT);
	if (!(vma->vm_flags & VM_WRITE))
		return ERR_PTR(-EPERM);
	if (!vma_is_anonymous(vma) && !(vma_core(vma)->shm && !vma_is_shared(vma)))
		return ERR_PTR(-EBUSY); /* only private memory: its pages are anonymous */
	ret = fault_in_page(vma, addr, true, &page);
	if (ret)
		return ERR_PTR(ret);
	if (!PageTest(page, PG_anon) || TestSetPageFlag(page, PG_locked)) {
		put_page(page);
		return ERR_PTR(-EBUSY);
	}
	mmu_notifier_range_init(&range, MMU_NOTIFY_EXCLUSIVE, 0, mm, addr, addr + PAGE_SIZE);
	range.owner = owner;
	mmu_notifier_invalidate_range_start(&range);
	sm_mutex_lock(&mm->page_table_lock);
	ptep = pte_offset(mm, addr);
	pte = ptep ? pte_load(ptep) : 0;
	ret = -EBUSY; /* changed under us (COW, unmap): the caller may retry */
	if (pte_present(pte) && pte_write(pte) && pte_pfn(pte) == page_to_pfn(page)) {
		set_pte(mm, ptep,
			((uint64_t)pte_pfn(pte) << PTE_PFN_SHIFT) | PTE_DEVICE_EXCL | PTE_WRITE |
				PTE_DIRTY);
		mmu_notifier_arch_invalidate_secondary_tlbs(mm, addr, addr + PAGE_SIZE);
		ret = 0;
	}
	sm_mutex_unlock(&mm->page_table_lock);
	mmu_notifier_invalidate_range_end(&range);
	if (ret) {
		unlock_page(page);
		put_page(page);
		return ERR_PTR(ret);
	}
	return page;
}

/*
 * restore_exclusive_pte(): a CPU touched a page a device holds exclusively.
 * The device must let go first (an MMU_NOTIFY_EXCLUSIVE invalidation without
 * an owner, so no driver skips it), then the PTE is present again. Waits for
 * the page lock a make_device_exclusive() caller may still hold.
 */
int do_device_exclusive_fault(struct vm_area_struct *vma, unsigned long addr, uint64_t orig)
{
	struct mm_struct *mm = vma->vm_mm;
	struct mmu_notifier_range range;
	struct page *page = pfn_to_page(pte_pfn(orig));
	pte_t *ptep;

	sm_mutex_lock(&mm->page_table_lock);
	ptep = pte_offset(mm, addr);
	if (!ptep || pte_load(ptep) != orig) {
		sm_mutex_unlock(&mm->page_table_lock);
		return 0; /* resolved meanwhile: retry */
	}
	get_page(page);
	sm_mutex_unlock(&mm->page_table_lock);
	if (TestSetPageFlag(page, PG_locked)) {
		/* The device is still taking it (or a migration holds it): wait, then retry. */
		wait_on_page_locked(page);
		put_page(page);
		return 0;
	}
	mmu_notifier_range_init(&range, MMU_NOTIFY_EXCLUSIVE, 0, mm, addr, addr + PAGE_SIZE);
	mmu_notifier_invalidate_range_start(&range);
	sm_mutex_lock(&mm->page_table_lock);
	if (pte_load(ptep) == orig)
		set_pte(mm, ptep,
			pfn_pte(pte_pfn(orig), (orig & PTE_WRITE) && (vma->vm_flags & VM_WRITE)) |
				(orig & PTE_DIRTY));
	sm_mutex_unlock(&mm->page_table_lock);
	mmu_notifier_invalidate_range_end(&range);
	unlock_page(page);
	put_page(page);
	return 0;
}

/* A wait on a device page of @pgmap ended (pairs with memunmap_pages()). */
static void device_page_unwait(struct dev_pagemap *pgmap)
{
	atomic_fetch_sub(&pgmap->waiters, 1);
	sm_wake_up_var(&pgmap->waiters); /* @pgmap may be gone: only its address is used */
}

void migration_entry_wait(struct mm_struct *mm, unsigned long addr, uint64_t orig)
{
	struct page *page = pfn_to_page(pte_pfn(orig));
	struct dev_pagemap *pgmap = NULL;
	pte_t *ptep;

	if (is_device_private_page(page)) {
		sm_mutex_lock(&mm->page_table_lock);
		ptep = pte_offset(mm, addr);
		if (!ptep || pte_load(ptep) != orig) {
			sm_mutex_unlock(&mm->page_table_lock);
			return; /* migrated meanwhile: retry */
		}
		/* The migration entry still names it (PTL): its pagemap is alive. */
		pgmap = page_pgmap(page);
		atomic_fetch_add(&pgmap->waiters, 1);
		sm_mutex_unlock(&mm->page_table_lock);
	}
	wait_on_page_locked(page);
	if (pgmap)
		device_page_unwait(pgmap);
}

/*
 * do_device_private_fault(): the CPU touched a page that lives in device
 * memory. Lock it and ask its owner to bring it back (->migrate_to_ram);
 * the fault is then retried and finds a present PTE.
 *
 * The page lock is tried under the page-table lock, before the reference is
 * taken: a fault that finds the page locked waits without a reference (the
 * pgmap keeps the struct page), so the lock holder's migration never fails
 * on another fault's transient reference -- which, with enough faulting
 * threads, livelocks ("mm/migrate: Trylock device page in do_swap_page").
 * The museum's devmem-fault-ref-before-lock takes the reference first.
 */
int do_device_private_fault(struct vm_area_struct *vma, unsigned long addr, uint64_t orig,
			    unsigned int flags)
{
	struct mm_struct *mm = vma->vm_mm;
	struct page *page = pfn_to_page(pte_pfn(orig));
	struct vm_fault vmf = {
		.vma = vma,
		.address = addr,
		.flags = flags,
		.pgoff = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT),
		.page = page,
	};
	pte_t *ptep;
	int ret;
	TRACE_SCOPE("mm", "device_private_fault", "addr=0x%lx mm=%s", addr, mm_name(mm));

	sm_mutex_lock(&mm->page_table_lock);
	ptep = pte_offset(mm, addr);
	if (!ptep || pte_load(ptep) != orig) {
		sm_mutex_unlock(&mm->page_table_lock);
		return 0;
	}
	if (historic_bug(BUG_DEVMEM_FAULT_REF_BEFORE_LOCK)) {
		/* The museum's devmem-fault-ref-before-lock: the reference first, then the lock. */
		get_page(page);
		sm_mutex_unlock(&mm->page_table_lock);
		if (TestSetPageFlag(page, PG_locked)) {
			wait_on_page_locked(page);
			put_page(page);
			return 0;
		}
		goto locked;
	}
	if (TestSetPageFlag(page, PG_locked)) {
		/*
		 * Being migrated by somebody else: wait for it, then retry the
		 * fault -- without a reference, as Linux's trylock_page() before
		 * get_page(): one held while waiting would make that migration
		 * fail. The PTE still maps the page (PTL), so its pagemap is
		 * alive until pgmap->waiters lets it go.
		 */
		struct dev_pagemap *pgmap = page_pgmap(page);

		atomic_fetch_add(&pgmap->waiters, 1);
		sm_mutex_unlock(&mm->page_table_lock);
		wait_on_page_locked(page);
		device_page_unwait(pgmap);
		return 0;
	}
	get_page(page); /* mapped here (PTL): not free. Pairs with put_page() below. */
	sm_mutex_unlock(&mm->page_table_lock);
locked:
	ret = page_pgmap(page)->ops->migrate_to_ram(&vmf);
	unlock_page(page);
	if (!ret) {
		struct dev_pagemap *pgmap = page_pgmap(page);
		bool moved;

		sm_mutex_lock(&mm->page_table_lock);
		ptep = pte_offset(mm, addr);
		moved = !ptep || pte_load(ptep) != orig;
		sm_mutex_unlock(&mm->page_table_lock);
		if (moved) {
			put_page(page);
			return 0;
		}
		/*
		 * Not moved: at that instant somebody else held a reference (a
		 * migration collecting the page, another fault). Retrying at once
		 * would spin for as long as they are not scheduled. Wait, without
		 * our reference (a reference held while waiting is what makes the
		 * other side fail), until no reference but the mappings' is left
		 * or somebody locked the page (migrating it: the retried fault
		 * waits for that); put_page() and unlock_page() wake us. The
		 * struct page stays: memunmap_pages() waits for pgmap->waiters.
		 */
		atomic_fetch_add(&pgmap->waiters, 1);
		put_page(page);
		sm_wait_var_event(&page->flags,
				  PageTest(page, PG_locked) ||
					  page_ref_count(page) <= page_mapcount(page));
		device_page_unwait(pgmap);
		return 0;
	}
	put_page(page);
	return ret;
}
