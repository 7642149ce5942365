// SPDX-License-Identifier: MIT
/*
 * Four-level page tables: 48-bit virtual addresses, 4 KiB pages, 512 entries
 * per table, as x86-64. Upper levels hold pointers to the next table; the leaf
 * level holds PTEs (see internal.h for the encoding).
 *
 * A PMD slot (level 1) holds either a pointer to a leaf table or, for a
 * transparent huge page, a huge leaf entry (PTE_PRESENT | PTE_HUGE and the
 * head pfn): table pointers never have bit 0 set, so pmd_trans_huge() tells
 * them apart. pte_offset() and pte_next_table() treat a huge PMD as "no leaf
 * table"; the callers that may meet one look at the PMD first.
 *
 * Tables are allocated under the page-table lock and published with a
 * release store, so lockless walkers (who hold mmap_lock or mm_users) see a
 * fully initialised table. Tables are freed only when the mm is torn down
 * (free_pgtables), when no walker can exist: a walker never sees a table go.
 * Two exceptions, both under mmap_lock for write plus rmap_lock for write
 * (which excludes every walker): munmap frees the leaf tables no VMA
 * needs any more (free_pte_tables()), and a collapse replaces a leaf table
 * by a huge PMD.
 */
#include <stdlib.h>

#include "mm/internal.h"
#include "base/alloc.h"
#include "base/sched_explore.h"

#define PT_ENTRIES	      512
#define PT_SHIFT(level)	      (PAGE_SHIFT + 9 * (level)) /* level 3 = pgd ... 0 = pte */
#define PT_INDEX(addr, level) (((addr) >> PT_SHIFT(level)) & (PT_ENTRIES - 1))

static pte_t *table_alloc(void)
{
	return kcalloc(PT_ENTRIES, sizeof(pte_t));
}

pte_t *pgd_alloc(void)
{
	return table_alloc();
}

static pte_t *entry_table(pte_t *slot)
{
	return (pte_t *)(uintptr_t)atomic_load_explicit(slot, memory_order_acquire);
}

static void free_level(pte_t *table, int level)
{
	if (level > 0) {
		for (int i = 0; i < PT_ENTRIES; i++) {
			pte_t *next;

			BUG_ON(level == 1 &&
			       pmd_trans_huge(pte_load(&table[i]))); /* zapped first */
			next = entry_table(&table[i]);

			if (next)
				free_level(next, level - 1);
		}
	} else {
		for (int i = 0; i < PT_ENTRIES; i++)
			BUG_ON(pte_load(&table[i]) != 0); /* exit_mmap zaps first */
	}
	kfree(table);
}

void free_pgtables_below_pgd(struct mm_struct *mm)
{
	for (int i = 0; i < PT_ENTRIES; i++) {
		pte_t *next = entry_table(&mm->pgd[i]);

		if (!next)
			continue;
		atomic_store_explicit(&mm->pgd[i], 0, memory_order_release);
		free_level(next, 2);
	}
}

void free_pgtables(struct mm_struct *mm)
{
	if (mm->pgd)
		free_level(mm->pgd, 3);
	mm->pgd = NULL;
}

/*
 * The leaf table the PMD slot @pmdp points to, or NULL (none, or a huge
 * PMD), from ONE load of the slot. A walker without the PTL (mmap_lock or
 * a VMA lock for read, rmap_lock for read) may see the slot change under
 * it: 0 -> huge PMD (a THP fault), 0 -> table (a 4 KiB fault), huge PMD ->
 * table (a split, also one through the reverse map of another mm). Testing
 * "huge?" on one load and following the pointer of a second load would
 * take a huge PMD installed in between for a table pointer. (A table never
 * becomes a huge PMD or goes away under such a walker: collapse and munmap
 * hold mmap_lock and rmap_lock for write.)
 */
static pte_t *pmd_load_table(pte_t *pmdp)
{
	uint64_t v = pte_load(pmdp); /* acquire: pairs with pmd_populate()'s release */

	/* The window between a look at the slot and a use of it (explorer tests). */
	sched_point_lockfree("pmd loaded");
	return v && !pmd_trans_huge(v) ? (pte_t *)(uintptr_t)v : NULL;
}

pte_t *pmd_offset(struct mm_struct *mm, unsigned long addr)
{
	pte_t *table = mm->pgd;

	for (int level = 3; level > 1; level--) {
		table = entry_table(&table[PT_INDEX(addr, level)]);
		if (!table)
			return NULL;
	}
	return &table[PT_INDEX(addr, 1)];
}

/* The table @slot points to, allocated and published if none (PTL held). */
static pte_t *entry_table_alloc(pte_t *slot)
{
	pte_t *next = entry_table(slot);

	if (!next) {
		next = table_alloc();
		if (!next)
			return NULL;
		/* Pairs with the acquire in entry_table(). */
		atomic_store_explicit(slot, (uint64_t)(uintptr_t)next, memory_order_release);
	}
	return next;
}

pte_t *pmd_alloc(struct mm_struct *mm, unsigned long addr)
{
	pte_t *table = mm->pgd;

	lockdep_assert_held(&mm->page_table_lock);
	for (int level = 3; level > 1; level--) {
		table = entry_table_alloc(&table[PT_INDEX(addr, level)]);
		if (!table)
			return NULL;
	}
	return &table[PT_INDEX(addr, 1)];
}

pte_t *pte_offset(struct mm_struct *mm, unsigned long addr)
{
	pte_t *table = mm->pgd;

	for (int level = 3; level > 0; level--) {
		table = level == 1 ? pmd_load_table(&table[PT_INDEX(addr, 1)])
				   : entry_table(&table[PT_INDEX(addr, level)]);
		if (!table)
			return NULL;
	}
	return &table[PT_INDEX(addr, 0)];
}

pte_t *pte_alloc(struct mm_struct *mm, unsigned long addr)
{
	pte_t *pmd = pmd_alloc(mm, addr), *table;

	if (!pmd || pmd_trans_huge(pte_load(pmd)))
		return NULL; /* callers split, or check for a huge PMD, first */
	table = entry_table_alloc(pmd);
	return table ? &table[PT_INDEX(addr, 0)] : NULL;
}

unsigned long pte_next_table(struct mm_struct *mm, unsigned long addr, unsigned long end)
{
	while (addr < end) {
		pte_t *table = mm->pgd;
		int level;

		for (level = 3; level > 0; level--) {
			table = level == 1 ? pmd_load_table(&table[PT_INDEX(addr, 1)])
					   : entry_table(&table[PT_INDEX(addr, level)]);
			if (!table)
				break;
		}
		if (level == 0)
			return addr;
		/* Skip the whole span the missing table would have covered. */
		unsigned long span = 1UL << PT_SHIFT(level);
		unsigned long next = (addr & ~(span - 1)) + span;

		if (next <= addr)
			return end;
		addr = next;
	}
	return end;
}

pte_t *pmd_pte_table(pte_t *pmdp)
{
	return pmd_load_table(pmdp);
}

pte_t *pte_table_alloc(void)
{
	return table_alloc();
}

void pte_table_free(pte_t *table)
{
	kfree(table);
}

void pmd_populate(struct mm_struct *mm, pte_t *pmdp, pte_t *table)
{
	lockdep_assert_held(&mm->page_table_lock);
	/* Pairs with the acquire in entry_table(). */
	atomic_store_explicit(pmdp, (uint64_t)(uintptr_t)table, memory_order_release);
}

void free_pte_tables(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	lockdep_assert_held(&mm->rmap_lock);
	for (unsigned long a = pmd_next_present(mm, start & HPAGE_PMD_MASK, end); a < end;
	     a = pmd_next_present(mm, a + HPAGE_PMD_SIZE, end)) {
		pte_t *pmdp = pmd_offset(mm, a), *table;

		if (a + HPAGE_PMD_SIZE > end || a + HPAGE_PMD_SIZE < a)
			break;
		table = pmdp && a >= start ? pmd_pte_table(pmdp) : NULL;
		if (!table)
			continue;
		for (int i = 0; i < PT_ENTRIES; i++)
			BUG_ON(pte_load(&table[i]) != 0); /* zapped first */
		sm_mutex_lock(&mm->page_table_lock);
		set_pte(mm, pmdp, 0);
		sm_mutex_unlock(&mm->page_table_lock);
		kfree(table);
		if (a + HPAGE_PMD_SIZE < a)
			break;
	}
}

unsigned long pmd_next_present(struct mm_struct *mm, unsigned long addr, unsigned long end)
{
	while (addr < end) {
		pte_t *table = mm->pgd;
		int level;
		unsigned long span, next;

		for (level = 3; level > 1; level--) {
			table = entry_table(&table[PT_INDEX(addr, level)]);
			if (!table)
				break;
		}
		if (level == 1 && pte_load(&table[PT_INDEX(addr, 1)]))
			return addr;
		span = 1UL << PT_SHIFT(level);
		next = (addr & ~(span - 1)) + span;
		if (next <= addr)
			return end;
		addr = next;
	}
	return end;
}
