// SPDX-License-Identifier: MIT
/* The bookkeeping invariants of frames and swap slots; see include/secmmu/check.h. */
#include <errno.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "mm/swap_internal.h"
#include "secmmu/check.h"
#include "secmmu/err.h"
#include "secmmu/memremap.h"
#include "secmmu/swap.h"

struct check_ctx {
	check_report_fn report;
	void *arg;
	unsigned long problems;
	unsigned int *maps;			/* PTEs mapping each pfn */
	unsigned int *swaps;			/* swap entries naming each slot */
	unsigned int *dmaps[DEV_PAGEMAP_SLOTS]; /* device entries naming each device page */
	struct dev_pagemap *pgmaps[DEV_PAGEMAP_SLOTS];
	unsigned long nr_frames, nr_slots;
	struct shmem_obj **objs; /* shared objects already counted */
	size_t nr_objs, cap_objs;
	unsigned long nr_huge; /* huge PMDs seen */
	bool enomem;	       /* some count could not be taken: compare nothing */
};

/* Count a shared object's swapped pages once, however many VMAs map it. */
static void count_shmem(struct check_ctx *c, struct shmem_obj *obj)
{
	for (size_t i = 0; i < c->nr_objs; i++)
		if (c->objs[i] == obj)
			return;
	if (c->nr_objs == c->cap_objs) {
		size_t cap = c->cap_objs ? 2 * c->cap_objs : 16;
		struct shmem_obj **bigger = krealloc_array(c->objs, cap, sizeof(*bigger));

		if (!bigger) {
			c->enomem = true;
			return;
		}
		c->objs = bigger;
		c->cap_objs = cap;
	}
	c->objs[c->nr_objs++] = obj;
	sm_mutex_lock(&obj->lock);
	shmem_for_each_present(obj, i, 0, obj->cap)
	{
		unsigned long slot = *shmem_swap_slot(obj, i, false);

		if (slot && slot - 1 < c->nr_slots)
			c->swaps[slot - 1]++;
	}
	sm_mutex_unlock(&obj->lock);
}

static void problem(struct check_ctx *c, const char *fmt, ...)
{
	va_list ap;

	c->problems++;
	va_start(ap, fmt);
	c->report(c->arg, fmt, ap);
	va_end(ap);
}

static void count_pte(struct check_ctx *c, struct mm_struct *mm, uint64_t pte)
{
	if (pte_present(pte)) {
		unsigned long pfn = pte_pfn(pte);

		if (pfn >= c->nr_frames)
			problem(c, "mm %lu: a PTE maps pfn %lu outside physical memory", mm_id(mm),
				pfn);
		else if (!is_zero_pfn(pfn))
			c->maps[pfn]++;
	} else if (pte_is_device_excl(pte)) {
		/* The page stays in system memory; the device holds it exclusively. */
		if (pte_pfn(pte) >= c->nr_frames || is_zero_pfn(pte_pfn(pte)))
			problem(c, "mm %lu: a device-exclusive entry names pfn %lu", mm_id(mm),
				pte_pfn(pte));
		else
			c->maps[pte_pfn(pte)]++;
	} else if (pte_is_device(pte)) {
		struct page *page = pfn_to_page(pte_pfn(pte));
		struct dev_pagemap *pgmap = page ? page_pgmap(page) : NULL;

		if (!pgmap || pgmap->slot < 0 || pgmap->slot >= DEV_PAGEMAP_SLOTS ||
		    c->pgmaps[pgmap->slot] != pgmap || !c->dmaps[pgmap->slot])
			problem(c, "mm %lu: a device entry names pfn 0x%lx of no device memory",
				mm_id(mm), pte_pfn(pte));
		else
			c->dmaps[pgmap->slot][page - pgmap->pages]++;
	} else if (pte_is_swap(pte)) {
		if (pte_pfn(pte) >= c->nr_slots)
			problem(c, "mm %lu: a swap entry names slot %lu beyond the device",
				mm_id(mm), pte_pfn(pte));
		else
			c->swaps[pte_pfn(pte)]++;
	}
}

/* A huge PMD maps every subpage of its folio once (page_mapcount() counts it in each). */
static void count_huge_pmd(struct check_ctx *c, struct mm_struct *mm, struct vm_area_struct *vma,
			   unsigned long addr, uint64_t huge)
{
	unsigned long haddr = addr & HPAGE_PMD_MASK;
	unsigned long pfn = pte_pfn(huge) - ((addr - haddr) >> PAGE_SHIFT);
	struct page *head = pfn_to_page(pfn);

	if (is_huge_zero_pmd(pte_load(pmd_offset(mm, haddr))))
		return; /* the huge zero page: no mapcount, not in nr_thp */
	c->nr_huge++;
	if (haddr < vma->vm_start || haddr + HPAGE_PMD_SIZE > vma->vm_end)
		problem(c, "mm %lu: a huge PMD at 0x%lx crosses its VMA's bounds", mm_id(mm),
			haddr);
	if (!head || pfn + HPAGE_PMD_NR > c->nr_frames || !PageTest(head, PG_head)) {
		problem(c, "mm %lu: the huge PMD at 0x%lx maps pfn %lu, not a large folio's head",
			mm_id(mm), haddr, pfn);
		return;
	}
	for (unsigned long i = 0; i < HPAGE_PMD_NR; i++)
		c->maps[pfn + i]++;
}

static int count_mm(struct mm_struct *mm, void *arg)
{
	struct check_ctx *c = arg;
	struct vm_area_struct *vma;

	unsigned long huge_before = c->nr_huge;

	mmap_read_lock(mm);
	for (vma = vma_first(mm); vma; vma = vma_next(vma)) {
		struct shmem_obj *obj = vma_core(vma)->shm;

		sm_mutex_lock(&mm->page_table_lock);
		for (unsigned long a = pmd_next_present(mm, vma->vm_start, vma->vm_end);
		     a < vma->vm_end; a += PAGE_SIZE) {
			pte_t *ptep = pte_offset(mm, a);
			uint64_t huge;

			if (!ptep && follow_huge_pmd(mm, a, &huge)) {
				count_huge_pmd(c, mm, vma, a, huge);
				a = (a & HPAGE_PMD_MASK) + HPAGE_PMD_SIZE - PAGE_SIZE;
				continue;
			}
			if (!ptep) {
				a = pmd_next_present(mm, (a + HPAGE_PMD_SIZE) & HPAGE_PMD_MASK,
						     vma->vm_end) -
				    PAGE_SIZE;
				continue;
			}
			count_pte(c, mm, pte_load(ptep));
		}
		sm_mutex_unlock(&mm->page_table_lock);
		if (obj && c->nr_slots)
			count_shmem(c, obj);
	}
	/* Every huge PMD lies inside a VMA: those found there are all there are. */
	if (c->nr_huge - huge_before != (unsigned long)atomic_load(&mm->nr_thp))
		problem(c, "mm %lu: %lu huge PMDs inside VMAs but %ld counted", mm_id(mm),
			c->nr_huge - huge_before, atomic_load(&mm->nr_thp));
	mmap_read_unlock(mm);
	return 0;
}

/*
 * Device-private pages: every page in use belongs to a registered pagemap
 * with an owner, is mapped exactly by the device entries that name it, holds
 * at least a reference per mapping, and a free page is mapped nowhere; the
 * pages in use add up to device_pages_used().
 */
static void check_device_pages(struct check_ctx *c)
{
	unsigned long used = 0;

	for (int s = 0; s < DEV_PAGEMAP_SLOTS; s++) {
		struct dev_pagemap *pgmap = c->pgmaps[s];

		if (!pgmap || !c->dmaps[s])
			continue;
		if (!pgmap->owner)
			problem(c, "device memory at pfn 0x%lx has no owner", pgmap->pfn_first);
		for (unsigned long i = 0; i < pgmap->nr_pages; i++) {
			struct page *page = &pgmap->pages[i];
			int refs = page_ref_count(page), maps = page_mapcount(page);
			unsigned long pfn = pgmap->pfn_first + i;

			if (refs)
				used++;
			if (page->pgmap != pgmap)
				problem(c, "device page 0x%lx: not owned by its pagemap", pfn);
			if (c->dmaps[s][i] != (unsigned int)maps)
				problem(c, "device page 0x%lx: map count %d but %u entries map it",
					pfn, maps, c->dmaps[s][i]);
			if (!refs && (maps || c->dmaps[s][i]))
				problem(c, "device page 0x%lx: free but mapped %u times", pfn,
					c->dmaps[s][i]);
			if (refs && refs < maps)
				problem(c, "device page 0x%lx: %d references for %d mappings", pfn,
					refs, maps);
			if (maps && !page->mapping)
				problem(c, "device page 0x%lx: mapped but has no reverse map", pfn);
		}
	}
	if (used != device_pages_used())
		problem(c, "device memory: %lu pages in use but %lu counted", used,
			device_pages_used());
}

unsigned long mm_check_invariants(check_report_fn report, void *arg)
{
	struct check_ctx c = {.report = report, .arg = arg};

	if (!phys_initialized())
		return 0;
	c.nr_frames = phys_total_frames() + 1;
	c.nr_slots = swap_slots_total();
	c.maps = kcalloc(c.nr_frames, sizeof(*c.maps));
	c.swaps = kcalloc(c.nr_slots ? c.nr_slots : 1, sizeof(*c.swaps));
	if (!c.maps || !c.swaps) {
		kfree(c.maps);
		kfree(c.swaps);
		problem(&c, "out of memory: the invariants were not checked");
		return c.problems;
	}
	if (phys_used_frames() + phys_free_frames() != phys_total_frames())
		problem(&c, "frames: %lu used + %lu free != %lu total", phys_used_frames(),
			phys_free_frames(), phys_total_frames());
	for (int s = 0; s < DEV_PAGEMAP_SLOTS; s++) {
		c.pgmaps[s] = device_pagemap_slot(s);
		if (c.pgmaps[s]) {
			c.dmaps[s] = kcalloc(c.pgmaps[s]->nr_pages, sizeof(*c.dmaps[s]));
			c.enomem |= !c.dmaps[s];
		}
	}
	if (mm_for_each_live(count_mm, &c) == -ENOMEM)
		c.enomem = true;
	/*
	 * Shared objects nobody maps (a file whose last mapping went) still
	 * own swap slots: count every live object, once.
	 */
	if (c.nr_slots) {
		size_t nr;
		struct shmem_obj **objs = shmem_obj_get_all(&nr);

		if (IS_ERR(objs)) {
			c.enomem = true;
		} else {
			for (size_t i = 0; i < nr; i++)
				count_shmem(&c, objs[i]);
			shmem_obj_put_all(objs, nr);
		}
	}
	if (c.enomem) {
		/* A partial count would report problems that are not there. */
		problem(&c, "out of memory: the invariants were not checked");
		goto out;
	}
	check_device_pages(&c);
	for (unsigned long pfn = 1; pfn < c.nr_frames; pfn++) {
		struct page *page = pfn_to_page(pfn);
		int refs = page_ref_count(page), maps = page_mapcount(page);
		int pins = atomic_load(&compound_head(page)->_pincount);

		if (PageTest(page, PG_head)) {
			/* The folio: a reference per PTE and per PMD mapping, and the pins. */
			long fmaps = atomic_load(&page->_entire_mapcount);

			for (unsigned long i = 0; i < HPAGE_PMD_NR; i++)
				fmaps += atomic_load(&page[i]._mapcount);
			if (refs && refs < fmaps + (long)pins * GUP_PIN_COUNTING_BIAS)
				problem(&c, "folio %lu: %d references for %ld mappings and %d pins",
					pfn, refs, fmaps, pins);
			/* __folio_remove_rmap(): whatever unmapped part of it queued it. */
			if (refs && PageTest(page, PG_anon) && folio_partially_mapped(page) &&
			    !PageTest(page, PG_deferred_split))
				problem(&c,
					"folio %lu: partially mapped but not queued for a "
					"deferred split",
					pfn);
		} else if (PageCompound(page) &&
			   compound_head(page) + ((pfn & (HPAGE_PMD_NR - 1))) != page) {
			problem(&c, "frame %lu: a tail page of a misaligned folio", pfn);
		}

		/* Exited mms have no PTEs left, so every PTE is in a live mm. */
		if (c.maps[pfn] != (unsigned int)maps)
			problem(&c, "frame %lu: map count %d but %u PTEs map it", pfn, maps,
				c.maps[pfn]);
		if (refs && refs < maps + pins * GUP_PIN_COUNTING_BIAS)
			problem(&c, "frame %lu: %d references for %d mappings and %d pins", pfn,
				refs, maps, pins);
		if (!refs && (maps || pins))
			problem(&c, "frame %lu: free but mapped %d times, pinned %d times", pfn,
				maps, pins);
	}
	for (unsigned long slot = 0; slot < c.nr_slots; slot++)
		if (swap_count(slot) != c.swaps[slot])
			problem(&c, "swap slot %lu: count %u but %u swap entries name it", slot,
				swap_count(slot), c.swaps[slot]);
out:
	for (int s = 0; s < DEV_PAGEMAP_SLOTS; s++)
		kfree(c.dmaps[s]);
	kfree(c.objs);
	kfree(c.maps);
	kfree(c.swaps);
	return c.problems;
}
