// SPDX-License-Identifier: MIT
/*
 * Transparent huge pages: PMD faults, the thp setting and MADV_[NO]HUGEPAGE,
 * every PMD split path with the invalidation ranges it sends (the whole
 * 2 MiB), fork sharing the PMD, huge COW, collapse and khugepaged, pins,
 * mremap, the folio reference model and the invariant checker; the folio
 * split (deferred-split shrinker, reclaim, MADV_PAGEOUT, migration, KSM).
 */
#include <limits.h>

#include "mm/internal.h"
#include "secmmu/check.h"
#include "secmmu/gup.h"
#include "secmmu/migrate.h"
#include "secmmu/mmu_notifier.h"
#include "secmmu/swap.h"
#include "testutil.h"

#define HBASE 0x40000000UL /* 2 MiB-aligned */
#define HSZ   HPAGE_PMD_SIZE

/* --- a recording notifier ------------------------------------------------- */

#define MAX_EV 64

struct ev {
	unsigned long start, end;
	int event;
};

struct rec {
	struct mmu_notifier mn;
	struct ev ev[MAX_EV];
	int n;
	_Atomic int arch;
	unsigned long arch_start[MAX_EV], arch_end[MAX_EV];
};

static int rec_start(struct mmu_notifier *mn, const struct mmu_notifier_range *range)
{
	struct rec *r = container_of(mn, struct rec, mn);

	if (r->n < MAX_EV)
		r->ev[r->n++] = (struct ev){range->start, range->end, range->event};
	return 0;
}

static void rec_end(struct mmu_notifier *mn, const struct mmu_notifier_range *range)
{
	(void)mn, (void)range;
}

static const struct mmu_notifier_ops rec_ops = {
	.invalidate_range_start = rec_start,
	.invalidate_range_end = rec_end,
};

static void rec_register(struct rec *r, struct mm_struct *mm)
{
	memset(r, 0, sizeof(*r));
	r->mn.ops = &rec_ops;
	ASSERT_EQ(mmu_notifier_register(&r->mn, mm), 0);
}

static void rec_unregister(struct rec *r, struct mm_struct *mm)
{
	mmu_notifier_unregister(&r->mn, mm);
}

/* Did an invalidation of exactly [start, end) with @event happen? */
static bool rec_has(struct rec *r, unsigned long start, unsigned long end, int event)
{
	for (int i = 0; i < r->n; i++)
		if (r->ev[i].start == start && r->ev[i].end == end && r->ev[i].event == event)
			return true;
	return false;
}

/* --- helpers ----------------------------------------------------------------- */

static struct mm_stats stats(struct mm_struct *mm)
{
	struct mm_stats st;

	mm_get_stats(mm, &st);
	return st;
}

static bool pmd_is_huge(struct mm_struct *mm, unsigned long addr)
{
	pte_t *pmdp = pmd_offset(mm, addr);

	return pmdp && pmd_trans_huge(pte_load(pmdp));
}

/* A 2 MiB-aligned private rw mapping of @nhuge huge ranges, MADV_HUGEPAGE'd. */
static struct mm_struct *huge_mm(unsigned long nhuge)
{
	struct mm_struct *mm = mm_alloc();

	ASSERT(mm != NULL);
	ASSERT_EQ(mm_mmap(mm, HBASE, nhuge * HSZ, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL, 0),
		  (long)HBASE);
	ASSERT_EQ(mm_madvise(mm, HBASE, nhuge * HSZ, MADV_HUGEPAGE), 0);
	return mm;
}

static void report(void *arg, const char *fmt, va_list ap)
{
	(void)arg;
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static void assert_invariants(void)
{
	ASSERT_UEQ(mm_check_invariants(report, NULL), 0);
}

#define BIG_PHYS (32UL << 20)

/* --- faults ------------------------------------------------------------------ */

TEST(thp_first_write_maps_one_pmd_of_contiguous_frames)
{
	struct mm_struct *mm;
	unsigned long pfn0, pfn;
	bool w;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(1);
	write_pages(mm, HBASE + PG(3), 1, 7);
	ASSERT(pmd_is_huge(mm, HBASE));
	ASSERT_UEQ(stats(mm).thp, 1);
	ASSERT_UEQ(stats(mm).rss, HPAGE_PMD_NR);
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR);
	mmap_read_lock(mm);
	ASSERT_EQ(follow_pfn_pte(mm, HBASE, &pfn0, &w, NULL), 0);
	ASSERT(w);
	ASSERT_UEQ(pfn0 % HPAGE_PMD_NR, 0);
	ASSERT_EQ(follow_pfn_pte(mm, HBASE + HSZ - PAGE_SIZE, &pfn, &w, NULL), 0);
	ASSERT_UEQ(pfn, pfn0 + HPAGE_PMD_NR - 1);
	mmap_read_unlock(mm);
	ASSERT(PageTest(pfn_to_page(pfn0), PG_head));
	ASSERT(compound_head(pfn_to_page(pfn)) == pfn_to_page(pfn0));
	/* One folio reference for the PMD, one PMD mapping counted in every subpage. */
	ASSERT_EQ(page_ref_count(pfn_to_page(pfn)), 1);
	ASSERT_EQ(page_mapcount(pfn_to_page(pfn)), 1);
	check_pages(mm, HBASE + PG(3), 1, 7);
	assert_invariants();
	mmput(mm);
}

TEST(thp_read_fault_maps_the_huge_zero_page_and_a_write_copies_4k)
{
	struct mm_struct *mm, *child;
	unsigned long pfn, pfn2;
	uint8_t b = 0xff;
	struct rec r;
	bool w;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	ASSERT_EQ(thp_get_use_zero_page(), 1);
	mm = huge_mm(2);
	ASSERT_EQ(mm_read(mm, HBASE + 5, &b, 1), 0);
	ASSERT_EQ(b, 0);
	/* One read-only PMD of the huge zero folio, counted in neither rss nor thp. */
	ASSERT(pmd_is_huge(mm, HBASE));
	ASSERT_UEQ(stats(mm).thp, 0);
	ASSERT_UEQ(stats(mm).rss, 0);
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR); /* the huge zero folio */
	mmap_read_lock(mm);
	ASSERT_EQ(follow_pfn_pte(mm, HBASE + PG(3), &pfn, &w, NULL), 0);
	ASSERT(!w);
	mmap_read_unlock(mm);
	/* The second range maps the same folio; fork shares it. */
	ASSERT_EQ(mm_read(mm, HBASE + HSZ, &b, 1), 0);
	mmap_read_lock(mm);
	ASSERT_EQ(follow_pfn_pte(mm, HBASE + HSZ + PG(3), &pfn2, &w, NULL), 0);
	mmap_read_unlock(mm);
	ASSERT_UEQ(pfn2, pfn);
	child = dup_mm(mm);
	ASSERT(!IS_ERR(child));
	ASSERT(pmd_is_huge(child, HBASE));
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR);
	assert_invariants();
	/* A write: split into zero-page PTEs (2 MiB CLEAR), then one 4 KiB copy. */
	rec_register(&r, mm);
	write_pages(mm, HBASE + PG(1), 1, 5);
	ASSERT(rec_has(&r, HBASE, HBASE + HSZ, MMU_NOTIFY_CLEAR));
	ASSERT(!pmd_is_huge(mm, HBASE));
	ASSERT_UEQ(stats(mm).rss, 1);
	ASSERT_UEQ(stats(mm).thp, 0);
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR + 1);
	check_pages(mm, HBASE + PG(1), 1, 5);
	ASSERT_EQ(mm_read(mm, HBASE + PG(2), &b, 1), 0);
	ASSERT_EQ(b, 0);
	assert_invariants();
	rec_unregister(&r, mm);
	/* The last mappings gone: the huge zero folio is freed. */
	mmput(child);
	ASSERT_EQ(mm_munmap(mm, HBASE + HSZ, HSZ), 0);
	ASSERT_UEQ(phys_used_frames(), 1);
	mmput(mm);
}

/*
 * A GUP reference (KVM's fault, get_user_pages_remote() then put_page())
 * to the huge zero folio held while its last mapping goes: the folio must
 * still go when that reference does. It used to be kept when the last
 * mapping's put saw a refcount above the huge_zero pointer's own (512
 * frames leaked at teardown: test_thp_stress, 2 runs in 100).
 */
TEST(thp_huge_zero_folio_is_freed_after_a_gup_reference_outlives_its_mappings)
{
	struct mm_struct *mm;
	struct page *page;
	uint8_t b = 0xff;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(1);
	ASSERT_EQ(mm_read(mm, HBASE, &b, 1), 0);
	ASSERT(pmd_is_huge(mm, HBASE));
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR);
	mmap_read_lock(mm);
	ASSERT_EQ(get_user_pages_remote(mm, HBASE + PG(7), 1, 0, &page), 1);
	mmap_read_unlock(mm);
	/* The write splits the huge zero PMD: its last mapping goes. */
	write_pages(mm, HBASE + PG(1), 1, 9);
	ASSERT(!pmd_is_huge(mm, HBASE));
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR + 1); /* our reference keeps it */
	put_page(page);
	ASSERT_UEQ(phys_used_frames(), 1);
	/* A new read fault gets a new huge zero folio, freed with its mapping. */
	ASSERT_EQ(mm_munmap(mm, HBASE, HSZ), 0);
	ASSERT_EQ(mm_mmap(mm, HBASE, HSZ, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL, 0),
		  (long)HBASE);
	ASSERT_EQ(mm_madvise(mm, HBASE, HSZ, MADV_HUGEPAGE), 0);
	ASSERT_EQ(mm_read(mm, HBASE, &b, 1), 0);
	ASSERT(pmd_is_huge(mm, HBASE));
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR);
	assert_invariants();
	mmput(mm);
	ASSERT_UEQ(phys_used_frames(), 0);
}

TEST(thp_without_use_zero_page_a_read_fault_allocates_a_huge_page)
{
	struct mm_struct *mm;
	uint8_t b = 0xff;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	ASSERT_EQ(thp_set_use_zero_page(2), -EINVAL);
	ASSERT_EQ(thp_set_use_zero_page(0), 0);
	mm = huge_mm(1);
	ASSERT_EQ(mm_read(mm, HBASE + 5, &b, 1), 0);
	ASSERT_EQ(b, 0);
	ASSERT_UEQ(stats(mm).thp, 1);
	ASSERT_UEQ(stats(mm).rss, HPAGE_PMD_NR);
	mmput(mm);
	ASSERT_EQ(thp_set_use_zero_page(1), 0);
}

TEST(thp_setting_and_advice_decide_eligibility)
{
	struct mm_struct *mm;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = mm_alloc();
	ASSERT_EQ(mm_mmap(mm, HBASE, 4 * HSZ, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL, 0),
		  (long)HBASE);
	/* madvise mode without the advice: 4 KiB */
	ASSERT_EQ(thp_get_mode(), THP_MADVISE);
	write_pages(mm, HBASE, 1, 1);
	ASSERT_UEQ(stats(mm).thp, 0);
	/* always: any aligned range of an anonymous VMA */
	ASSERT_EQ(thp_set_mode(THP_ALWAYS), 0);
	write_pages(mm, HBASE + HSZ, 1, 2);
	ASSERT_UEQ(stats(mm).thp, 1);
	/* ... but never where MADV_NOHUGEPAGE said so */
	ASSERT_EQ(mm_madvise(mm, HBASE + 2 * HSZ, HSZ, MADV_NOHUGEPAGE), 0);
	write_pages(mm, HBASE + 2 * HSZ, 1, 3);
	ASSERT_UEQ(stats(mm).thp, 1);
	/* never: not even MADV_HUGEPAGE */
	ASSERT_EQ(thp_set_mode(THP_NEVER), 0);
	ASSERT_EQ(mm_madvise(mm, HBASE + 3 * HSZ, HSZ, MADV_HUGEPAGE), 0);
	write_pages(mm, HBASE + 3 * HSZ, 1, 4);
	ASSERT_UEQ(stats(mm).thp, 1);
	ASSERT_EQ(thp_set_mode(7), -EINVAL);
	ASSERT_EQ(thp_set_mode(THP_MADVISE), 0);
	mmput(mm);
}

TEST(thp_unaligned_or_short_range_gets_4k_pages)
{
	struct mm_struct *mm = NULL;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = mm_alloc();
	/* 2 MiB long but not aligned: no aligned 2 MiB fits */
	ASSERT_EQ(mm_mmap(mm, HBASE + PG(1), HSZ, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL, 0),
		  (long)(HBASE + PG(1)));
	ASSERT_EQ(mm_madvise(mm, HBASE + PG(1), HSZ, MADV_HUGEPAGE), 0);
	write_pages(mm, HBASE + PG(1), 1, 1);
	write_pages(mm, HBASE + HSZ, 1, 2);
	ASSERT_UEQ(stats(mm).thp, 0);
	ASSERT_UEQ(stats(mm).rss, 2);
	mmput(mm);
}

TEST(thp_falls_back_to_4k_when_no_aligned_block_is_free)
{
	struct mm_struct *mm;

	MM_TEST_SETUP_BYTES(HSZ + PG(64)); /* block 0 has the zero page: no free block */
	mm = huge_mm(1);
	write_pages(mm, HBASE, 2, 1);
	ASSERT_UEQ(stats(mm).thp, 0);
	ASSERT_UEQ(stats(mm).rss, 2);
	check_pages(mm, HBASE, 2, 1);
	mmput(mm);
}

TEST(thp_madvise_bad_input_changes_nothing)
{
	struct mm_struct *mm;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(1);
	ASSERT_EQ(mm_madvise(mm, HBASE + 1, HSZ, MADV_HUGEPAGE), -EINVAL);
	ASSERT_EQ(mm_madvise(mm, HBASE + 4 * HSZ, HSZ, MADV_HUGEPAGE), -ENOMEM);
	ASSERT_EQ(mm_madvise(mm, HBASE + 4 * HSZ, HSZ, MADV_COLLAPSE), -ENOMEM);
	ASSERT_EQ(mm_collapse(mm, HBASE + 4 * HSZ), -EFAULT);
	ASSERT_EQ(mm_collapse(mm, ~0UL), -EINVAL);
	mmput(mm);
}

/* --- splits: each sends a CLEAR over the whole 2 MiB ------------------------ */

TEST(thp_partial_mprotect_splits_with_2m_invalidation)
{
	struct mm_struct *mm;
	struct rec r;
	uint8_t b;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(1);
	write_pages(mm, HBASE, 4, 10);
	rec_register(&r, mm);
	ASSERT_EQ(mm_mprotect(mm, HBASE + PG(1), PAGE_SIZE, PROT_READ), 0);
	ASSERT(rec_has(&r, HBASE, HBASE + HSZ, MMU_NOTIFY_CLEAR));
	ASSERT(rec_has(&r, HBASE + PG(1), HBASE + PG(2), MMU_NOTIFY_PROTECTION_VMA));
	ASSERT(!pmd_is_huge(mm, HBASE));
	ASSERT_UEQ(stats(mm).thp, 0);
	ASSERT_UEQ(stats(mm).rss, HPAGE_PMD_NR);
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR); /* the folio stays whole */
	ASSERT_EQ(mm_write(mm, HBASE + PG(1), &b, 1), -EFAULT);
	ASSERT_EQ(mm_write(mm, HBASE + PG(2), &b, 1), 0);
	check_pages(mm, HBASE, 1, 10);
	/* 512 PTE mappings, each holding a folio reference, each counted in its subpage */
	{
		unsigned long pfn;
		bool w;

		mmap_read_lock(mm);
		ASSERT_EQ(follow_pfn_pte(mm, HBASE + PG(5), &pfn, &w, NULL), 0);
		mmap_read_unlock(mm);
		ASSERT_EQ(page_ref_count(pfn_to_page(pfn)), (int)HPAGE_PMD_NR);
		ASSERT_EQ(page_mapcount(pfn_to_page(pfn)), 1);
	}
	assert_invariants();
	rec_unregister(&r, mm);
	mmput(mm);
}

TEST(thp_whole_mprotect_keeps_the_pmd)
{
	struct mm_struct *mm;
	struct rec r;
	uint8_t b = 1;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(1);
	write_pages(mm, HBASE, 1, 10);
	rec_register(&r, mm);
	ASSERT_EQ(mm_mprotect(mm, HBASE, HSZ, PROT_READ), 0);
	ASSERT(!rec_has(&r, HBASE, HBASE + HSZ, MMU_NOTIFY_CLEAR));
	ASSERT(rec_has(&r, HBASE, HBASE + HSZ, MMU_NOTIFY_PROTECTION_VMA));
	ASSERT(pmd_is_huge(mm, HBASE));
	ASSERT_EQ(mm_write(mm, HBASE, &b, 1), -EFAULT);
	ASSERT_EQ(mm_mprotect(mm, HBASE, HSZ, PROT_READ | PROT_WRITE), 0);
	ASSERT_EQ(mm_write(mm, HBASE, &b, 1), 0); /* exclusive: writable again in place */
	ASSERT(pmd_is_huge(mm, HBASE));
	rec_unregister(&r, mm);
	mmput(mm);
}

TEST(thp_partial_munmap_splits_and_defers_the_folio_split)
{
	struct mm_struct *mm;
	struct rec r;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(1);
	write_pages(mm, HBASE, 8, 20);
	rec_register(&r, mm);
	ASSERT_EQ(mm_munmap(mm, HBASE + PG(4), PG(2)), 0);
	ASSERT(rec_has(&r, HBASE, HBASE + HSZ, MMU_NOTIFY_CLEAR));
	ASSERT(rec_has(&r, HBASE + PG(4), HBASE + PG(6), MMU_NOTIFY_UNMAP));
	ASSERT_UEQ(stats(mm).thp, 0);
	ASSERT_UEQ(stats(mm).rss, HPAGE_PMD_NR - 2);
	/* The unmapped subpages stay allocated until the folio is split (deferred). */
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR);
	ASSERT(deferred_split_count() >= 1);
	check_pages(mm, HBASE, 4, 20);
	check_pages(mm, HBASE + PG(6), 2, 26);
	assert_invariants();
	rec_unregister(&r, mm);
	mmput(mm);
	ASSERT_UEQ(deferred_split_count(), 0); /* freeing the folio took it off the queue */
}

TEST(thp_whole_munmap_zaps_the_pmd_without_split)
{
	struct mm_struct *mm;
	struct rec r;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(2);
	write_pages(mm, HBASE, 1, 1);
	write_pages(mm, HBASE + HSZ, 1, 2);
	rec_register(&r, mm);
	ASSERT_EQ(mm_munmap(mm, HBASE, HSZ), 0);
	ASSERT_EQ(r.n, 1);
	ASSERT(rec_has(&r, HBASE, HBASE + HSZ, MMU_NOTIFY_UNMAP));
	ASSERT_UEQ(stats(mm).thp, 1);
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR);
	/* The hole's leaf table went with it: a new mapping there gets a PMD again. */
	ASSERT_EQ(mm_mmap(mm, HBASE, HSZ, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL, 0),
		  (long)HBASE);
	ASSERT_EQ(mm_madvise(mm, HBASE, HSZ, MADV_HUGEPAGE), 0);
	write_pages(mm, HBASE, 1, 3);
	ASSERT_UEQ(stats(mm).thp, 2);
	rec_unregister(&r, mm);
	mmput(mm);
}

TEST(thp_partial_dontneed_splits_then_zaps)
{
	struct mm_struct *mm;
	struct rec r;
	uint8_t buf[PAGE_SIZE];

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(1);
	write_pages(mm, HBASE, 3, 30);
	rec_register(&r, mm);
	ASSERT_EQ(mm_madvise(mm, HBASE + PG(1), PAGE_SIZE, MADV_DONTNEED), 0);
	ASSERT(rec_has(&r, HBASE, HBASE + HSZ, MMU_NOTIFY_CLEAR));
	ASSERT(rec_has(&r, HBASE + PG(1), HBASE + PG(2), MMU_NOTIFY_CLEAR));
	ASSERT_UEQ(stats(mm).thp, 0);
	ASSERT_EQ(mm_read(mm, HBASE + PG(1), buf, PAGE_SIZE), 0);
	ASSERT(mem_is_byte(buf, PAGE_SIZE, 0));
	check_pages(mm, HBASE, 1, 30);
	check_pages(mm, HBASE + PG(2), 1, 32);
	assert_invariants();
	rec_unregister(&r, mm);
	mmput(mm);
}

TEST(thp_partial_hugepage_advice_splits_the_vma_and_the_pmd)
{
	struct mm_struct *mm;
	struct rec r;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(1);
	write_pages(mm, HBASE, 1, 1);
	rec_register(&r, mm);
	ASSERT_EQ(mm_madvise(mm, HBASE + PG(8), PAGE_SIZE, MADV_NOHUGEPAGE), 0);
	ASSERT(rec_has(&r, HBASE, HBASE + HSZ, MMU_NOTIFY_CLEAR));
	ASSERT_UEQ(stats(mm).thp, 0);
	rec_unregister(&r, mm);
	mmput(mm);
}

TEST(thp_mremap_moves_an_aligned_pmd_whole_and_splits_otherwise)
{
	struct mm_struct *mm;
	struct rec r;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(1);
	write_pages(mm, HBASE, 4, 40);
	rec_register(&r, mm);
	ASSERT_EQ(mm_mremap(mm, HBASE, HSZ, HSZ, MREMAP_MAYMOVE | MREMAP_FIXED, HBASE + 4 * HSZ),
		  (long)(HBASE + 4 * HSZ));
	ASSERT(!rec_has(&r, HBASE, HBASE + HSZ, MMU_NOTIFY_CLEAR));
	ASSERT(pmd_is_huge(mm, HBASE + 4 * HSZ));
	ASSERT_UEQ(stats(mm).thp, 1);
	check_pages(mm, HBASE + 4 * HSZ, 4, 40);
	/* To a place that is not 2 MiB-congruent: split first (CLEAR of the 2 MiB). */
	r.n = 0;
	ASSERT_EQ(mm_mremap(mm, HBASE + 4 * HSZ, HSZ, HSZ, MREMAP_MAYMOVE | MREMAP_FIXED,
			    HBASE + PG(1)),
		  (long)(HBASE + PG(1)));
	ASSERT(rec_has(&r, HBASE + 4 * HSZ, HBASE + 5 * HSZ, MMU_NOTIFY_CLEAR));
	ASSERT_UEQ(stats(mm).thp, 0);
	ASSERT_UEQ(stats(mm).rss, HPAGE_PMD_NR);
	check_pages(mm, HBASE + PG(1), 4, 40);
	assert_invariants();
	rec_unregister(&r, mm);
	mmput(mm);
}

/* --- fork and COW ------------------------------------------------------------- */

TEST(thp_fork_shares_the_pmd_and_cow_splits_then_copies_4k)
{
	struct mm_struct *mm, *child;
	struct rec r;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(1);
	write_pages(mm, HBASE, 4, 50);
	rec_register(&r, mm);
	child = dup_mm(mm);
	ASSERT(!IS_ERR(child));
	ASSERT(rec_has(&r, HBASE, HBASE + HSZ, MMU_NOTIFY_PROTECTION_PAGE));
	ASSERT(pmd_is_huge(child, HBASE));
	ASSERT_UEQ(stats(child).thp, 1);
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR); /* shared */
	/* A write in the parent: the folio is shared, so split and copy one page. */
	r.n = 0;
	write_pages(mm, HBASE + PG(1), 1, 99);
	ASSERT(rec_has(&r, HBASE, HBASE + HSZ, MMU_NOTIFY_CLEAR));
	ASSERT(rec_has(&r, HBASE + PG(1), HBASE + PG(2), MMU_NOTIFY_CLEAR));
	ASSERT_UEQ(stats(mm).thp, 0);
	ASSERT_UEQ(stats(child).thp, 1);
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR + 1);
	check_pages(child, HBASE, 4, 50);
	check_pages(mm, HBASE + PG(1), 1, 99);
	check_pages(mm, HBASE + PG(2), 2, 52);
	assert_invariants();
	rec_unregister(&r, mm);
	mmput(child);
	mmput(mm);
}

TEST(thp_cow_reuses_the_pmd_once_the_other_mapping_is_gone)
{
	struct mm_struct *mm, *child;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(1);
	write_pages(mm, HBASE, 1, 1);
	child = dup_mm(mm);
	ASSERT(!IS_ERR(child));
	mmput(child);
	write_pages(mm, HBASE, 1, 2);
	ASSERT(pmd_is_huge(mm, HBASE)); /* reused in place, not split */
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR);
	mmput(mm);
}

TEST(thp_fork_of_a_pinned_folio_copies_for_the_child)
{
	struct mm_struct *mm, *child;
	struct page *page;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(1);
	write_pages(mm, HBASE, 2, 60);
	mmap_read_lock(mm);
	ASSERT_EQ(pin_user_pages_remote(mm, HBASE + PG(1), 1, FOLL_WRITE, &page), 1);
	mmap_read_unlock(mm);
	/* The pin counts on the folio: its head, not the subpage. */
	ASSERT(page_maybe_dma_pinned(compound_head(page)));
	ASSERT_EQ(atomic_load(&compound_head(page)->_pincount), 1);
	ASSERT(pmd_is_huge(mm, HBASE)); /* pinning an exclusive THP does not split it */
	child = dup_mm(mm);
	ASSERT(!IS_ERR(child));
	/* copy_huge_pmd() saw the pin: the parent was split, the child got copies. */
	ASSERT_UEQ(stats(mm).thp, 0);
	ASSERT_UEQ(stats(child).thp, 0);
	check_pages(child, HBASE, 2, 60);
	ASSERT_UEQ(phys_used_frames(), 2 * HPAGE_PMD_NR);
	assert_invariants();
	unpin_user_page(page);
	mmput(child);
	mmput(mm);
}

TEST(thp_pin_for_read_of_a_shared_thp_unshares_by_split)
{
	struct mm_struct *mm, *child;
	struct page *page;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(1);
	write_pages(mm, HBASE, 1, 70);
	child = dup_mm(mm);
	ASSERT(!IS_ERR(child));
	mmap_read_lock(mm);
	ASSERT_EQ(pin_user_pages_remote(mm, HBASE, 1, 0, &page), 1);
	mmap_read_unlock(mm);
	/* GUP's unshare: the parent split its PMD and copied the page it pins. */
	ASSERT_UEQ(stats(mm).thp, 0);
	ASSERT(!PageCompound(page));
	ASSERT_UEQ(stats(child).thp, 1);
	check_pages(mm, HBASE, 1, 70);
	unpin_user_page(page);
	mmput(child);
	mmput(mm);
}

/* --- collapse ---------------------------------------------------------------- */

TEST(thp_collapse_replaces_512_ptes_by_a_pmd_inside_a_2m_clear)
{
	struct mm_struct *mm;
	struct rec r;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	ASSERT_EQ(thp_set_mode(THP_NEVER), 0);
	mm = huge_mm(1);
	write_pages(mm, HBASE, 3, 80);
	write_pages(mm, HBASE + HSZ - PAGE_SIZE, 1, 90);
	ASSERT_UEQ(stats(mm).rss, 4);
	/* khugepaged obeys the setting; MADV_COLLAPSE does not */
	ASSERT_EQ(mm_collapse(mm, HBASE), -EINVAL);
	ASSERT_EQ(thp_set_mode(THP_MADVISE), 0);
	rec_register(&r, mm);
	ASSERT_EQ(mm_collapse(mm, HBASE + PG(7)), 0);
	ASSERT(rec_has(&r, HBASE, HBASE + HSZ, MMU_NOTIFY_CLEAR));
	ASSERT(pmd_is_huge(mm, HBASE));
	ASSERT_UEQ(stats(mm).thp, 1);
	ASSERT_UEQ(stats(mm).rss, HPAGE_PMD_NR);
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR); /* the 4 old frames are freed */
	check_pages(mm, HBASE, 3, 80);
	check_pages(mm, HBASE + HSZ - PAGE_SIZE, 1, 90);
	ASSERT_EQ(mm_collapse(mm, HBASE), 0); /* already huge */
	assert_invariants();
	rec_unregister(&r, mm);
	mmput(mm);
}

TEST(thp_madv_collapse_ignores_the_setting_but_not_nohugepage)
{
	struct mm_struct *mm;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	ASSERT_EQ(thp_set_mode(THP_NEVER), 0);
	mm = huge_mm(2);
	write_pages(mm, HBASE, 1, 1);
	write_pages(mm, HBASE + HSZ, 1, 2);
	ASSERT_EQ(mm_madvise(mm, HBASE, 2 * HSZ, MADV_COLLAPSE), 0);
	ASSERT_UEQ(stats(mm).thp, 2);
	ASSERT_EQ(mm_madvise(mm, HBASE, 2 * HSZ, MADV_NOHUGEPAGE), 0);
	ASSERT_EQ(mm_madvise(mm, HBASE, 2 * HSZ, MADV_COLLAPSE), -EINVAL);
	ASSERT_EQ(thp_set_mode(THP_MADVISE), 0);
	mmput(mm);
}

TEST(thp_collapse_refuses_a_pinned_page)
{
	struct mm_struct *mm;
	struct page *page;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	ASSERT_EQ(thp_set_mode(THP_NEVER), 0);
	mm = huge_mm(1);
	write_pages(mm, HBASE, 2, 1);
	ASSERT_EQ(thp_set_mode(THP_MADVISE), 0);
	mmap_read_lock(mm);
	ASSERT_EQ(pin_user_pages_remote(mm, HBASE, 1, FOLL_WRITE, &page), 1);
	mmap_read_unlock(mm);
	ASSERT_EQ(mm_collapse(mm, HBASE), -EAGAIN);
	ASSERT_UEQ(stats(mm).thp, 0);
	ASSERT_UEQ(stats(mm).rss, 2);
	unpin_user_page(page);
	ASSERT_EQ(mm_collapse(mm, HBASE), 0);
	mmput(mm);
}

TEST(thp_khugepaged_collapses_eligible_ranges_up_to_its_budget)
{
	struct mm_struct *mm;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	ASSERT_EQ(thp_set_mode(THP_NEVER), 0);
	mm = huge_mm(3);
	for (int i = 0; i < 3; i++)
		write_pages(mm, HBASE + i * HSZ, 1, i);
	ASSERT_EQ(thp_set_mode(THP_MADVISE), 0);
	ASSERT_UEQ(khugepaged_scan(2), 2);
	ASSERT_UEQ(stats(mm).thp, 2);
	ASSERT_UEQ(khugepaged_scan(8), 1);
	ASSERT_UEQ(khugepaged_scan(8), 0);
	for (int i = 0; i < 3; i++)
		check_pages(mm, HBASE + i * HSZ, 1, i);
	assert_invariants();
	mmput(mm);
}

/* --- secondary-MMU view ------------------------------------------------------ */

TEST(thp_exit_frees_every_folio)
{
	struct mm_struct *mm;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(3);
	for (int i = 0; i < 3; i++)
		write_pages(mm, HBASE + i * HSZ, 1, i);
	ASSERT_UEQ(phys_used_frames(), 3 * HPAGE_PMD_NR);
	mmput(mm);
	ASSERT_UEQ(phys_used_frames(), 0);
}

/* Regression: the zap walk skipped a huge PMD that followed a range with no table. */
TEST(thp_zap_finds_a_huge_pmd_after_a_hole)
{
	struct mm_struct *mm;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(3);
	write_pages(mm, HBASE + 2 * HSZ, 1, 1);
	ASSERT_UEQ(stats(mm).thp, 1);
	ASSERT_EQ(mm_munmap(mm, HBASE, 3 * HSZ), 0);
	ASSERT_UEQ(stats(mm).thp, 0);
	ASSERT_UEQ(stats(mm).rss, 0);
	ASSERT_UEQ(phys_used_frames(), 0);
	mmput(mm);
}

/* --- folio split: the deferred-split shrinker, swap, migration, KSM ---------- */

/* The pfn mapped at @addr. */
static unsigned long pfn_at(struct mm_struct *mm, unsigned long addr)
{
	unsigned long pfn = 0;
	bool w;

	mmap_read_lock(mm);
	ASSERT_EQ(follow_pfn_pte(mm, addr, &pfn, &w, NULL), 0);
	mmap_read_unlock(mm);
	return pfn;
}

TEST(thp_deferred_split_frees_the_unmapped_subpages)
{
	struct mm_struct *mm;
	unsigned long pfn0;
	struct rec r;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(1);
	write_pages(mm, HBASE, 8, 20);
	pfn0 = pfn_at(mm, HBASE);
	ASSERT_EQ(mm_munmap(mm, HBASE + PG(4), PG(2)), 0);
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR);
	ASSERT_UEQ(deferred_split_count(), 1);
	rec_register(&r, mm);
	ASSERT_UEQ(deferred_split_scan(ULONG_MAX), 1);
	/*
	 * One CLEAR over the folio's extent in each VMA around the hole, as
	 * try_to_migrate_one() sends per VMA; not one across the hole.
	 */
	ASSERT_EQ(r.n, 2);
	ASSERT(rec_has(&r, HBASE, HBASE + PG(4), MMU_NOTIFY_CLEAR));
	ASSERT(rec_has(&r, HBASE + PG(6), HBASE + HSZ, MMU_NOTIFY_CLEAR));
	ASSERT_UEQ(deferred_split_count(), 0);
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR - 2);
	/* Order-0 pages at the same frames, one reference per PTE. */
	ASSERT(!PageCompound(pfn_to_page(pfn0)));
	ASSERT(!PageCompound(pfn_to_page(pfn0 + 7)));
	ASSERT_UEQ(pfn_at(mm, HBASE + PG(7)), pfn0 + 7);
	ASSERT_EQ(page_ref_count(pfn_to_page(pfn0 + 7)), 1);
	ASSERT_EQ(page_mapcount(pfn_to_page(pfn0 + 7)), 1);
	check_pages(mm, HBASE, 4, 20);
	check_pages(mm, HBASE + PG(6), 2, 26);
	assert_invariants();
	rec_unregister(&r, mm);
	mmput(mm);
}

TEST(thp_deferred_split_runs_under_memory_pressure)
{
	struct mm_struct *mm;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(1);
	write_pages(mm, HBASE, 2, 30);
	ASSERT_EQ(mm_madvise(mm, HBASE + PG(256), PG(256), MADV_DONTNEED), 0);
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR);
	/* No swap: the LRU gives nothing, the shrinker frees the 256 subpages. */
	try_to_free_pages(1);
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR - 256);
	ASSERT_UEQ(deferred_split_count(), 0);
	check_pages(mm, HBASE, 2, 30);
	assert_invariants();
	mmput(mm);
}

TEST(thp_deferred_split_waits_for_pins_and_a_second_mm)
{
	struct mm_struct *mm, *child;
	struct page *page;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(1);
	write_pages(mm, HBASE, 1, 40);
	ASSERT_EQ(mm_munmap(mm, HBASE + PG(100), PG(1)), 0);
	mmap_read_lock(mm);
	ASSERT_EQ(pin_user_pages_remote(mm, HBASE, 1, FOLL_WRITE, &page), 1);
	mmap_read_unlock(mm);
	/* Pinned: it stays whole and queued. */
	ASSERT_UEQ(deferred_split_scan(ULONG_MAX), 0);
	ASSERT_UEQ(deferred_split_count(), 1);
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR);
	unpin_user_page(page);
	/* Mapped by PTEs of two address spaces (fork): split in both. */
	child = dup_mm(mm);
	ASSERT(!IS_ERR(child));
	ASSERT_UEQ(deferred_split_scan(ULONG_MAX), 1);
	ASSERT_UEQ(deferred_split_count(), 0);
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR - 1);
	check_pages(child, HBASE, 1, 40);
	mmput(child);
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR - 1);
	check_pages(mm, HBASE, 1, 40);
	assert_invariants();
	mmput(mm);
}

/*
 * Fork shares the PMD. A partial munmap in the child splits the child's PMD
 * (a CLEAR over the 2 MiB in the child only); the folio stays whole while
 * the parent's PMD maps all of it (Linux queues a folio when a removal
 * leaves it partially mapped, and an entire mapping maps every page). The
 * parent's PMD going is such a removal: queued, and the shrinker splits it
 * (a CLEAR over the folio's range in each of the child's VMAs), freeing the page nobody maps.
 */
TEST(thp_fork_shared_partial_unmap_splits_the_pmd_and_queues_when_the_last_pmd_goes)
{
	struct mm_struct *mm, *child;
	struct rec rp, rc;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(1);
	write_pages(mm, HBASE, HPAGE_PMD_NR, 50);
	child = dup_mm(mm);
	ASSERT(!IS_ERR(child));
	ASSERT(pmd_is_huge(child, HBASE));
	rec_register(&rp, mm);
	rec_register(&rc, child);
	ASSERT_EQ(mm_munmap(child, HBASE + PG(10), PG(1)), 0);
	ASSERT(rec_has(&rc, HBASE, HBASE + HSZ, MMU_NOTIFY_CLEAR)); /* the child's PMD split */
	ASSERT_EQ(rp.n, 0);					    /* the parent's PMD stays */
	ASSERT(!pmd_is_huge(child, HBASE));
	ASSERT(pmd_is_huge(mm, HBASE));
	ASSERT_UEQ(deferred_split_count(), 0);
	ASSERT_UEQ(deferred_split_scan(ULONG_MAX), 0);
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR);
	/* The parent's PMD goes: page 10 is mapped by nobody now. */
	ASSERT_EQ(mm_munmap(mm, HBASE, HSZ), 0);
	ASSERT_UEQ(deferred_split_count(), 1);
	rc.n = 0;
	ASSERT_UEQ(deferred_split_scan(ULONG_MAX), 1);
	/* One CLEAR per VMA of the child around the hole. */
	ASSERT_EQ(rc.n, 2);
	ASSERT(rec_has(&rc, HBASE, HBASE + PG(10), MMU_NOTIFY_CLEAR));
	ASSERT(rec_has(&rc, HBASE + PG(11), HBASE + HSZ, MMU_NOTIFY_CLEAR));
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR - 1);
	check_pages(child, HBASE, 10, 50);
	check_pages(child, HBASE + PG(11), HPAGE_PMD_NR - 11, 61);
	assert_invariants();
	rec_unregister(&rc, child);
	rec_unregister(&rp, mm);
	mmput(child);
	mmput(mm);
}

/*
 * The same page unmapped in the parent and then in the child: each PMD is
 * split in its own address space, and the folio, PTE-mapped by both, is
 * queued when the child's PTE of that page goes. The deferred split works
 * on both address spaces at once (Linux unmaps every mapping to migration
 * entries): one CLEAR over the folio's range in each, then the page is
 * freed, the others stay shared copy-on-write.
 */
TEST(thp_deferred_split_of_a_folio_ptes_of_two_address_spaces_map)
{
	struct mm_struct *mm, *child;
	struct rec rp, rc;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(1);
	write_pages(mm, HBASE, HPAGE_PMD_NR, 20);
	child = dup_mm(mm);
	ASSERT(!IS_ERR(child));
	ASSERT_EQ(mm_madvise(mm, HBASE + PG(7), PG(1), MADV_DONTNEED), 0);
	ASSERT_UEQ(deferred_split_count(), 0); /* the child's PMD maps page 7 */
	ASSERT_EQ(mm_madvise(child, HBASE + PG(7), PG(1), MADV_DONTNEED), 0);
	ASSERT_UEQ(deferred_split_count(), 1);
	rec_register(&rp, mm);
	rec_register(&rc, child);
	ASSERT_UEQ(deferred_split_scan(ULONG_MAX), 1);
	ASSERT_EQ(rp.n, 1);
	ASSERT(rec_has(&rp, HBASE, HBASE + HSZ, MMU_NOTIFY_CLEAR));
	ASSERT_EQ(rc.n, 1);
	ASSERT(rec_has(&rc, HBASE, HBASE + HSZ, MMU_NOTIFY_CLEAR));
	ASSERT_UEQ(deferred_split_count(), 0);
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR - 1);
	ASSERT(!PageCompound(pfn_to_page(pfn_at(mm, HBASE))));
	ASSERT_UEQ(pfn_at(mm, HBASE + PG(100)), pfn_at(child, HBASE + PG(100)));
	check_pages(mm, HBASE, 7, 20);
	check_pages(child, HBASE + PG(8), HPAGE_PMD_NR - 8, 28);
	/* Still shared: a write in the child copies that one page. */
	write_pages(child, HBASE + PG(100), 1, 99);
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR);
	check_pages(mm, HBASE + PG(100), 1, 120);
	check_pages(child, HBASE + PG(100), 1, 99);
	assert_invariants();
	rec_unregister(&rc, child);
	rec_unregister(&rp, mm);
	mmput(child);
	mmput(mm);
}

/*
 * One huge folio written with pattern 10, then PTE-mapped: an mprotect of
 * its first page splits the PMD, and the second merges the VMA back.
 */
static struct mm_struct *pte_mapped_huge_mm(void)
{
	struct mm_struct *mm = huge_mm(1);

	write_pages(mm, HBASE, HPAGE_PMD_NR, 10);
	ASSERT_EQ(mm_mprotect(mm, HBASE, PG(1), PROT_READ), 0);
	ASSERT_EQ(mm_mprotect(mm, HBASE, PG(1), PROT_READ | PROT_WRITE), 0);
	ASSERT(!pmd_is_huge(mm, HBASE));
	return mm;
}

/*
 * A COW fault that replaces the last mapping of a page of a PTE-mapped THP
 * leaves the folio partially mapped: it is queued for a deferred split
 * (Linux: wp_page_copy() -> folio_remove_rmap_pte() -> deferred_split_folio()),
 * once, and the shrinker frees the pages nobody maps.
 */
TEST(thp_cow_of_a_pte_mapped_page_queues_the_folio_for_deferred_split)
{
	struct mm_struct *mm, *child;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = pte_mapped_huge_mm();
	/*
	 * A fork makes every page shared; once the child has gone each page
	 * is mapped once, but a page of a large folio is never reused
	 * (wp_can_reuse_anon_folio()): a write copies it.
	 */
	child = dup_mm(mm);
	ASSERT(!IS_ERR(child));
	mmput(child);
	ASSERT_UEQ(deferred_split_count(), 0);
	write_pages(mm, HBASE + PG(3), 1, 77);
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR + 1);
	ASSERT_UEQ(deferred_split_count(), 1);
	write_pages(mm, HBASE + PG(4), 1, 78);
	ASSERT_UEQ(deferred_split_count(), 1); /* queued once */
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR + 2);
	ASSERT_UEQ(stats(mm).rss, HPAGE_PMD_NR);
	assert_invariants();
	/* The shrinker splits it and frees pages 3 and 4 of the folio. */
	ASSERT_UEQ(deferred_split_scan(ULONG_MAX), 1);
	ASSERT_UEQ(deferred_split_count(), 0);
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR);
	ASSERT_UEQ(stats(mm).rss, HPAGE_PMD_NR);
	check_pages(mm, HBASE, 3, 10);
	check_pages(mm, HBASE + PG(3), 1, 77);
	check_pages(mm, HBASE + PG(4), 1, 78);
	check_pages(mm, HBASE + PG(5), HPAGE_PMD_NR - 5, 15);
	assert_invariants();
	mmput(mm);
}

/*
 * A zap of every page of a PTE-mapped folio leaves it unmapped, not
 * partially mapped: Linux removes the rmap of a folio's PTEs in one batch
 * (folio_remove_rmap_ptes()) and does not queue it; a reference GUP still
 * holds keeps it whole, off the queue, until that reference goes.
 */
TEST(thp_zap_of_a_whole_pte_mapped_folio_does_not_queue_it)
{
	struct mm_struct *mm;
	struct page *page;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = pte_mapped_huge_mm();
	mmap_read_lock(mm);
	ASSERT_EQ(get_user_pages_remote(mm, HBASE + PG(9), 1, 0, &page), 1);
	mmap_read_unlock(mm);
	ASSERT_EQ(mm_munmap(mm, HBASE, HSZ), 0);
	ASSERT_UEQ(deferred_split_count(), 0);
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR);
	assert_invariants();
	put_page(page);
	ASSERT_UEQ(phys_used_frames(), 0);
	mmput(mm);
}

/*
 * A folio mapped by many address spaces (fork) is split like any other:
 * Linux's unmap_folio() walks every mapping, with no limit on how many
 * there are (an earlier fixed set of eight address spaces made this one
 * stay whole and queued for ever).
 */
#define NR_CHILDREN 12

TEST(thp_deferred_split_of_a_folio_mapped_by_twelve_forked_children)
{
	struct mm_struct *mm, *child[NR_CHILDREN];
	struct rec r[NR_CHILDREN];
	unsigned long pfn0;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(1);
	write_pages(mm, HBASE, HPAGE_PMD_NR, 20);
	pfn0 = pfn_at(mm, HBASE);
	for (int i = 0; i < NR_CHILDREN; i++) {
		child[i] = dup_mm(mm);
		ASSERT(!IS_ERR(child[i]));
		ASSERT(pmd_is_huge(child[i], HBASE));
	}
	/* Page 7 goes everywhere: the last removal leaves the folio partially mapped. */
	ASSERT_EQ(mm_madvise(mm, HBASE + PG(7), PG(1), MADV_DONTNEED), 0);
	for (int i = 0; i < NR_CHILDREN; i++) {
		ASSERT_UEQ(deferred_split_count(), 0); /* some PMD still maps page 7 */
		ASSERT_EQ(mm_madvise(child[i], HBASE + PG(7), PG(1), MADV_DONTNEED), 0);
	}
	ASSERT_UEQ(deferred_split_count(), 1);
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR);
	for (int i = 0; i < NR_CHILDREN; i++)
		rec_register(&r[i], child[i]);
	ASSERT_UEQ(deferred_split_scan(ULONG_MAX), 1);
	ASSERT_UEQ(deferred_split_count(), 0);
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR - 1);
	ASSERT(!PageCompound(pfn_to_page(pfn0)));
	for (int i = 0; i < NR_CHILDREN; i++) {
		/* One CLEAR over the folio in each address space. */
		ASSERT_EQ(r[i].n, 1);
		ASSERT(rec_has(&r[i], HBASE, HBASE + HSZ, MMU_NOTIFY_CLEAR));
		ASSERT_UEQ(pfn_at(child[i], HBASE + PG(300)), pfn0 + 300);
		check_pages(child[i], HBASE, 7, 20);
		check_pages(child[i], HBASE + PG(8), HPAGE_PMD_NR - 8, 28);
	}
	ASSERT_EQ(page_mapcount(pfn_to_page(pfn0 + 300)), NR_CHILDREN + 1);
	assert_invariants();
	for (int i = 0; i < NR_CHILDREN; i++) {
		rec_unregister(&r[i], child[i]);
		mmput(child[i]);
	}
	check_pages(mm, HBASE + PG(8), HPAGE_PMD_NR - 8, 28);
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR - 1);
	mmput(mm);
}

TEST(thp_pageout_splits_the_folio_and_swaps_4k_pages)
{
	struct mm_struct *mm;
	struct rec r;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	ASSERT_EQ(swap_on(4UL << 20, NULL), 0);
	mm = huge_mm(1);
	write_pages(mm, HBASE, 4, 50);
	rec_register(&r, mm);
	ASSERT_EQ(mm_madvise(mm, HBASE, HSZ, MADV_PAGEOUT), 0);
	/* The PMD split (2 MiB CLEAR), the folio split, then 4 KiB page-outs. */
	ASSERT(rec_has(&r, HBASE, HBASE + HSZ, MMU_NOTIFY_CLEAR));
	ASSERT(rec_has(&r, HBASE + PG(3), HBASE + PG(4), MMU_NOTIFY_CLEAR));
	ASSERT_UEQ(stats(mm).thp, 0);
	ASSERT_UEQ(stats(mm).swap, HPAGE_PMD_NR);
	ASSERT_UEQ(stats(mm).rss, 0);
	ASSERT_UEQ(phys_used_frames(), 0);
	check_pages(mm, HBASE, 4, 50);
	assert_invariants();
	rec_unregister(&r, mm);
	mmput(mm);
	ASSERT_EQ(swap_off(), 0);
}

TEST(thp_reclaim_splits_a_huge_page_from_the_lru)
{
	struct mm_struct *mm;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	ASSERT_EQ(swap_on(4UL << 20, NULL), 0);
	mm = huge_mm(1);
	write_pages(mm, HBASE, 2, 60);
	/* The PMD is young: the first pass only clears its accessed bit (second chance). */
	ASSERT_UEQ(try_to_free_pages(1), 0);
	ASSERT_UEQ(stats(mm).thp, 1);
	ASSERT_UEQ(try_to_free_pages(1), 1);
	ASSERT_UEQ(stats(mm).thp, 0);
	ASSERT_UEQ(stats(mm).swap, 1);
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR - 1);
	/* The other 511 pages are on the LRU now, 4 KiB each (young: a second pass). */
	try_to_free_pages(HPAGE_PMD_NR);
	try_to_free_pages(HPAGE_PMD_NR);
	ASSERT_UEQ(phys_used_frames(), 0);
	ASSERT_UEQ(stats(mm).swap, HPAGE_PMD_NR);
	check_pages(mm, HBASE, 2, 60);
	assert_invariants();
	mmput(mm);
	ASSERT_EQ(swap_off(), 0);
}

TEST(thp_migrate_moves_a_pmd_mapped_folio_whole)
{
	struct mm_struct *mm;
	unsigned long pfn0, pfn1;
	struct rec r;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(1);
	write_pages(mm, HBASE, 3, 70);
	write_pages(mm, HBASE + HSZ - PAGE_SIZE, 1, 80);
	pfn0 = pfn_at(mm, HBASE);
	rec_register(&r, mm);
	ASSERT_EQ(migrate_range(mm, HBASE, HSZ), 0);
	ASSERT_EQ(r.n, 1); /* one CLEAR over the 2 MiB, not 512 */
	ASSERT(rec_has(&r, HBASE, HBASE + HSZ, MMU_NOTIFY_CLEAR));
	ASSERT(pmd_is_huge(mm, HBASE));
	pfn1 = pfn_at(mm, HBASE);
	ASSERT(pfn1 != pfn0);
	ASSERT_UEQ(pfn1 % HPAGE_PMD_NR, 0);
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR);
	ASSERT(PageTest(pfn_to_page(pfn1), PG_anon_exclusive));
	check_pages(mm, HBASE, 3, 70);
	check_pages(mm, HBASE + HSZ - PAGE_SIZE, 1, 80);
	/* Still ours alone: a write reuses it in place. */
	write_pages(mm, HBASE, 1, 90);
	ASSERT(pmd_is_huge(mm, HBASE));
	assert_invariants();
	rec_unregister(&r, mm);
	mmput(mm);
}

/*
 * A folio the PMDs of the parent and a child share (fork) moves whole, as
 * Linux migrates a shared anonymous THP: every mapping loses it inside a
 * CLEAR over its 2 MiB, the folio is copied, both PMDs map the copy (still
 * shared copy-on-write), and the old folio is freed.
 */
TEST(thp_migrate_moves_a_fork_shared_folio_whole_in_every_mapping)
{
	struct mm_struct *mm, *child;
	unsigned long pfn0, pfn1;
	struct rec rp, rc;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(1);
	write_pages(mm, HBASE, 4, 10);
	write_pages(mm, HBASE + HSZ - PAGE_SIZE, 1, 30);
	pfn0 = pfn_at(mm, HBASE);
	child = dup_mm(mm);
	ASSERT(!IS_ERR(child));
	rec_register(&rp, mm);
	rec_register(&rc, child);
	ASSERT_EQ(migrate_range(child, HBASE, HSZ), 0);
	ASSERT_EQ(rp.n, 1); /* one CLEAR over the 2 MiB in each, not 512 */
	ASSERT(rec_has(&rp, HBASE, HBASE + HSZ, MMU_NOTIFY_CLEAR));
	ASSERT_EQ(rc.n, 1);
	ASSERT(rec_has(&rc, HBASE, HBASE + HSZ, MMU_NOTIFY_CLEAR));
	ASSERT(pmd_is_huge(mm, HBASE));
	ASSERT(pmd_is_huge(child, HBASE));
	pfn1 = pfn_at(mm, HBASE);
	ASSERT(pfn1 != pfn0);
	ASSERT_UEQ(pfn1 % HPAGE_PMD_NR, 0);
	ASSERT_UEQ(pfn_at(child, HBASE), pfn1);
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR); /* the old folio is freed */
	ASSERT(!PageTest(pfn_to_page(pfn1), PG_anon_exclusive));
	ASSERT_UEQ(stats(mm).thp, 1);
	ASSERT_UEQ(stats(child).thp, 1);
	check_pages(mm, HBASE, 4, 10);
	check_pages(child, HBASE, 4, 10);
	check_pages(child, HBASE + HSZ - PAGE_SIZE, 1, 30);
	assert_invariants();
	/* Shared: a write in the child splits its PMD and copies 4 KiB. */
	write_pages(child, HBASE + PG(1), 1, 77);
	ASSERT(!pmd_is_huge(child, HBASE));
	ASSERT(pmd_is_huge(mm, HBASE));
	check_pages(mm, HBASE, 4, 10);
	check_pages(child, HBASE + PG(1), 1, 77);
	assert_invariants();
	rec_unregister(&rc, child);
	rec_unregister(&rp, mm);
	mmput(child);
	mmput(mm);
}

/*
 * Two PMDs of one folio in one address space. No anonymous path makes this
 * (in Linux nor here: an mremap moves the PMD, MREMAP_DONTUNMAP leaves the
 * old range empty, fork gives a new address space), but the rmap says
 * nothing against it: the old VMA left by MREMAP_DONTUNMAP of part of it
 * and the new one have the same vm_pgoff and anon_vma, so the reverse map
 * finds the folio at both places. The test builds that state by hand. Linux's
 * try_to_migrate() would make each PMD a migration entry and map the new
 * folio at both: migration works per PMD mapping, not per address space
 * (it used to split the folio instead).
 */
TEST(thp_migrate_moves_a_folio_two_pmds_of_one_mm_map_whole)
{
	unsigned long dst = HBASE + 4 * HSZ, pfn0, pfn1;
	struct mm_struct *mm;
	struct page *head;
	pte_t *old, *new;
	struct rec r;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(2); /* the old VMA keeps its anon_vma: only part of it moves */
	write_pages(mm, HBASE, 4, 10);
	pfn0 = pfn_at(mm, HBASE);
	ASSERT_EQ(mm_mremap(mm, HBASE, HSZ, HSZ, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP,
			    dst),
		  (long)dst);
	ASSERT(pmd_is_huge(mm, dst));
	ASSERT_UEQ(stats(mm).rss, HPAGE_PMD_NR);
	/* The second PMD, at the old place, with its reference and counts. */
	head = pfn_to_page(pfn0);
	mmap_write_lock(mm);
	sm_mutex_lock(&mm->page_table_lock);
	new = pmd_offset(mm, dst);
	old = pmd_alloc(mm, HBASE);
	ASSERT(old != NULL && !pte_load(old));
	get_page(head);
	atomic_fetch_add(&head->_entire_mapcount, 1);
	atomic_fetch_add(&mm->rss, HPAGE_PMD_NR);
	atomic_fetch_add(&mm->nr_thp, 1);
	set_pte(mm, old, pte_load(new));
	sm_mutex_unlock(&mm->page_table_lock);
	mmap_write_unlock(mm);
	assert_invariants();
	rec_register(&r, mm);
	ASSERT_EQ(migrate_range(mm, dst, HSZ), 0);
	/* One CLEAR over each PMD's 2 MiB; both map the new folio, still huge. */
	ASSERT_EQ(r.n, 2);
	ASSERT(rec_has(&r, HBASE, HBASE + HSZ, MMU_NOTIFY_CLEAR));
	ASSERT(rec_has(&r, dst, dst + HSZ, MMU_NOTIFY_CLEAR));
	ASSERT(pmd_is_huge(mm, HBASE));
	ASSERT(pmd_is_huge(mm, dst));
	pfn1 = pfn_at(mm, dst);
	ASSERT(pfn1 != pfn0);
	ASSERT_UEQ(pfn_at(mm, HBASE), pfn1);
	ASSERT_EQ(atomic_load(&pfn_to_page(pfn1)->_entire_mapcount), 2);
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR); /* the old folio is freed */
	ASSERT_UEQ(stats(mm).thp, 2);
	check_pages(mm, HBASE, 4, 10);
	check_pages(mm, dst, 4, 10);
	assert_invariants();
	rec_unregister(&r, mm);
	mmput(mm);
	ASSERT_UEQ(phys_used_frames(), 0);
}

TEST(thp_migrate_with_no_huge_page_free_splits_and_moves_4k)
{
	struct mm_struct *mm, *filler;
	unsigned long pfn0;

	/* Two aligned blocks besides block 0: the THP takes one, the filler's pages the other. */
	MM_TEST_SETUP_BYTES(3 * HSZ);
	mm = huge_mm(1);
	write_pages(mm, HBASE, 2, 100);
	pfn0 = pfn_at(mm, HBASE);
	filler = mm_alloc();
	ASSERT_EQ(mm_mmap(filler, TBASE, PG(520), PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL, 0),
		  (long)TBASE);
	write_pages(filler, TBASE, 520, 1);
	ASSERT(alloc_thp_folio() == NULL);
	ASSERT_EQ(migrate_range(mm, HBASE, PG(1)), 0);
	ASSERT_UEQ(stats(mm).thp, 0);
	ASSERT(pfn_at(mm, HBASE) != pfn0);
	ASSERT(!PageCompound(pfn_to_page(pfn0 + 1)));
	ASSERT_UEQ(pfn_at(mm, HBASE + PG(1)), pfn0 + 1); /* the rest stays where it was */
	check_pages(mm, HBASE, 2, 100);
	assert_invariants();
	mmput(filler);
	mmput(mm);
}

TEST(thp_ksm_splits_a_huge_page_before_merging_it)
{
	struct mm_struct *mm;
	struct rec r;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(2);
	ASSERT_EQ(mm_madvise(mm, HBASE, 2 * HSZ, MADV_MERGEABLE), 0);
	/* Every page differs: nothing to merge, both stay huge. */
	write_pages(mm, HBASE, HPAGE_PMD_NR, 1000);
	write_pages(mm, HBASE + HSZ, HPAGE_PMD_NR, 2000);
	ASSERT_UEQ(ksm_scan_all(), 0);
	ASSERT_UEQ(stats(mm).thp, 2);
	/* One page of the second equals one of the first: both folios split, one merge. */
	write_pages(mm, HBASE + HSZ + PG(5), 1, 1007);
	rec_register(&r, mm);
	ASSERT_UEQ(ksm_scan_all(), 1);
	ASSERT(rec_has(&r, HBASE, HBASE + HSZ, MMU_NOTIFY_CLEAR));
	ASSERT(rec_has(&r, HBASE + HSZ, HBASE + 2 * HSZ, MMU_NOTIFY_CLEAR));
	ASSERT_UEQ(stats(mm).thp, 0);
	ASSERT_UEQ(phys_used_frames(), 2 * HPAGE_PMD_NR - 1);
	ASSERT_UEQ(pfn_at(mm, HBASE + PG(7)), pfn_at(mm, HBASE + HSZ + PG(5)));
	check_pages(mm, HBASE + HSZ + PG(5), 1, 1007);
	check_pages(mm, HBASE + PG(7), 1, 1007);
	assert_invariants();
	rec_unregister(&r, mm);
	mmput(mm);
}

/* Regression: the reference split_folio()'s caller holds is on the page it passed, not the head. */
TEST(thp_pageout_of_one_inner_page_splits_and_swaps_just_it)
{
	struct mm_struct *mm;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	ASSERT_EQ(swap_on(4UL << 20, NULL), 0);
	mm = huge_mm(1);
	write_pages(mm, HBASE + PG(40), 3, 110);
	ASSERT_EQ(mm_madvise(mm, HBASE + PG(41), PG(1), MADV_PAGEOUT), 0);
	ASSERT_UEQ(stats(mm).thp, 0);
	ASSERT_UEQ(stats(mm).swap, 1);
	ASSERT_UEQ(stats(mm).rss, HPAGE_PMD_NR - 1);
	ASSERT_UEQ(phys_used_frames(), HPAGE_PMD_NR - 1);
	check_pages(mm, HBASE + PG(40), 3, 110);
	assert_invariants();
	mmput(mm);
	ASSERT_EQ(swap_off(), 0);
}
