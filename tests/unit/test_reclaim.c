// SPDX-License-Identifier: MIT
/*
 * Reclaim, swap, aging, migration and KSM: data survives, every mapping
 * follows, pinned frames stay put, secondary MMUs see each event first.
 */
#include <signal.h>
#include <sys/resource.h>

#include "mm/internal.h"
#include "mm/swap_internal.h"
#include "secmmu/gup.h"
#include "secmmu/migrate.h"
#include "secmmu/mirror.h"
#include "secmmu/swap.h"
#include "secmmu/trace.h"
#include "testutil.h"

static void swap_teardown(void)
{
	ASSERT_UEQ(swap_slots_used(), 0);
	ASSERT_EQ(swap_off(), 0);
	testutil_check_leaks();
}

#define RECLAIM_SETUP(swap_bytes)                                                                  \
	do {                                                                                       \
		ASSERT_EQ(phys_init(TEST_PHYS_BYTES), 0);                                          \
		ASSERT_EQ(swap_on((swap_bytes), NULL), 0);                                         \
		harness_set_teardown(swap_teardown);                                               \
	} while (0)

/* Reclaim until nothing more goes (two passes: the first only ages). */
static unsigned long reclaim_all(void)
{
	unsigned long n = 0, k;

	for (int pass = 0; pass < 4; pass++) {
		k = try_to_free_pages(1UL << 20);
		n += k;
	}
	return n;
}

TEST(swap_out_and_in_keeps_private_data)
{
	struct mm_struct *mm;
	struct mm_stats st;

	RECLAIM_SETUP(1 << 20);
	mm = mm_new_mapped(16, PROT_RW, false);
	write_pages(mm, TBASE, 16, 100);
	ASSERT_UEQ(phys_used_frames(), 16);
	ASSERT_UEQ(reclaim_all(), 16);
	ASSERT_UEQ(phys_used_frames(), 0);
	mm_get_stats(mm, &st);
	ASSERT_UEQ(st.swap, 16);
	ASSERT_UEQ(st.rss, 0);
	ASSERT_UEQ(swap_slots_used(), 16);
	check_pages(mm, TBASE, 16, 100); /* swap-in */
	mm_get_stats(mm, &st);
	ASSERT_UEQ(st.swap, 0);
	ASSERT_UEQ(swap_slots_used(), 0);
	mmput(mm);
}

TEST(swap_survives_fork_and_cow)
{
	struct mm_struct *mm, *child;
	unsigned char x = 0x77;

	RECLAIM_SETUP(1 << 20);
	mm = mm_new_mapped(8, PROT_RW, false);
	write_pages(mm, TBASE, 8, 7);
	child = dup_mm(mm);
	ASSERT(!IS_ERR(child));
	ASSERT_UEQ(reclaim_all(), 8); /* COW-shared frames: both mappings become swap entries */
	ASSERT_UEQ(swap_slots_used(), 8);
	ASSERT_EQ(mm_write(child, TBASE, &x, 1), 0);
	check_pages(mm, TBASE, 8, 7);
	ASSERT_EQ(mm_read(child, TBASE, &x, 1), 0);
	ASSERT_EQ(x, 0x77);
	mmput(child);
	check_pages(mm, TBASE, 8, 7);
	mmput(mm);
}

TEST(swap_shared_anonymous_memory)
{
	struct mm_struct *mm, *child;

	RECLAIM_SETUP(1 << 20);
	mm = mm_new_mapped(4, PROT_RW, true);
	write_pages(mm, TBASE, 4, 40);
	child = dup_mm(mm);
	ASSERT(!IS_ERR(child));
	check_pages(child, TBASE, 4, 40);
	ASSERT_UEQ(reclaim_all(), 4);
	ASSERT_UEQ(phys_used_frames(), 0);
	write_pages(child, TBASE, 4, 50); /* swapped in through the object, shared again */
	check_pages(mm, TBASE, 4, 50);
	mmput(child);
	mmput(mm);
}

TEST(pinned_pages_are_never_swapped_and_unpin_returns_them)
{
	struct mm_struct *mm;
	struct page *pages[2];

	RECLAIM_SETUP(1 << 20);
	mm = mm_new_mapped(4, PROT_RW, false);
	write_pages(mm, TBASE, 4, 3);
	ASSERT_EQ(pin_user_pages_unlocked(mm, TBASE, 2, FOLL_WRITE | FOLL_LONGTERM, pages), 2);
	ASSERT_UEQ(reclaim_all(), 2);
	ASSERT_UEQ(phys_used_frames(), 2);
	ASSERT_EQ(migrate_range(mm, TBASE, PG(2)), -EBUSY);
	unpin_user_pages(pages, 2);
	ASSERT_UEQ(reclaim_all(), 2);
	ASSERT_UEQ(phys_used_frames(), 0);
	check_pages(mm, TBASE, 4, 3);
	mmput(mm);
}

TEST(no_swap_device_means_nothing_reclaimed)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_new_mapped(4, PROT_RW, false);
	write_pages(mm, TBASE, 4, 1);
	ASSERT_UEQ(reclaim_all(), 0);
	ASSERT_EQ(mm_madvise(mm, TBASE, PG(4), MADV_PAGEOUT), 0);
	ASSERT_UEQ(phys_used_frames(), 4);
	mmput(mm);
}

TEST(madvise_pageout_swaps_the_range)
{
	struct mm_struct *mm;

	RECLAIM_SETUP(1 << 20);
	mm = mm_new_mapped(8, PROT_RW, false);
	write_pages(mm, TBASE, 8, 9);
	ASSERT_EQ(mm_madvise(mm, TBASE + PG(2), PG(4), MADV_PAGEOUT), 0);
	ASSERT_UEQ(phys_used_frames(), 4);
	ASSERT_UEQ(swap_slots_used(), 4);
	check_pages(mm, TBASE, 8, 9);
	mmput(mm);
}

/*
 * The swap plug (struct swap_plug): MADV_PAGEOUT of a range writes the
 * pages of consecutive slots in one request each, at most SWAP_PLUG_MAX
 * pages, as Linux's block plug merges the bios. The requests are traced as
 * "swap_write" instants with their slot= and pages= arguments.
 */
/* Start tracing to a new file at @path (a mkstemp() template). */
static void plug_trace_start(char *path)
{
	int fd = mkstemp(path);

	ASSERT_GE(fd, 0);
	close(fd);
	ASSERT_EQ(trace_open(path), 0);
}

/* Stop tracing; the trace's text (static storage), its file removed. */
static const char *plug_trace_stop(const char *path)
{
	static char buf[1 << 20];
	FILE *f;
	size_t n;

	ASSERT_EQ(trace_close(), 0);
	f = fopen(path, "r");
	ASSERT_NOT_NULL(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	unlink(path);
	return buf;
}

static int count_str(const char *text, const char *pat)
{
	int n = 0;

	for (const char *p = strstr(text, pat); p; p = strstr(p + 1, pat))
		n++;
	return n;
}

TEST(pageout_writes_consecutive_slots_in_one_request)
{
	char path[] = "/tmp/secmmu-test-plug-XXXXXX";
	struct mm_struct *mm;
	const char *text;

	ASSERT_EQ(phys_init(TEST_PHYS_BYTES), 0);
	ASSERT_EQ(swap_on(PG(2 * SWAP_PLUG_MAX + 8), ""), 0);
	harness_set_teardown(swap_teardown);
	mm = mm_new_mapped(2 * SWAP_PLUG_MAX + 3, PROT_RW, false);
	write_pages(mm, TBASE, 2 * SWAP_PLUG_MAX + 3, 41);
	plug_trace_start(path);
	ASSERT_EQ(mm_madvise(mm, TBASE, PG(2 * SWAP_PLUG_MAX + 3), MADV_PAGEOUT), 0);
	text = plug_trace_stop(path);
	/* Two full plugs and the rest: three requests, not one per page. */
	ASSERT_EQ(count_str(text, "\"swap_write\""), 3);
	ASSERT_EQ(count_str(text, "\"pages\":\"32\""), 2);
	ASSERT_EQ(count_str(text, "\"pages\":\"3\""), 1);
	ASSERT_UEQ(phys_used_frames(), 0);
	check_pages(mm, TBASE, 2 * SWAP_PLUG_MAX + 3, 41);
	mmput(mm);
}

/* Reclaim writes through a plug too (Linux's shrink_lruvec() plugs). */
TEST(reclaim_writes_consecutive_slots_in_one_request)
{
	char path[] = "/tmp/secmmu-test-plug-XXXXXX";
	struct mm_struct *mm;
	const char *text;

	RECLAIM_SETUP(PG(SWAP_PLUG_MAX + 8));
	mm = mm_new_mapped(SWAP_PLUG_MAX, PROT_RW, false);
	write_pages(mm, TBASE, SWAP_PLUG_MAX, 43);
	plug_trace_start(path);
	ASSERT_UEQ(reclaim_all(), SWAP_PLUG_MAX);
	text = plug_trace_stop(path);
	ASSERT_EQ(count_str(text, "\"swap_write\""), 1);
	ASSERT_EQ(count_str(text, "\"pages\":\"32\""), 1);
	ASSERT_UEQ(phys_used_frames(), 0);
	check_pages(mm, TBASE, SWAP_PLUG_MAX, 43);
	mmput(mm);
}

/*
 * A page of a reclaim plug whose write fails goes back to the LRU: the
 * next reclaim finds it and frees it.
 */
TEST(reclaim_plug_puts_a_page_it_kept_back_on_the_lru)
{
	struct mm_struct *mm;

	RECLAIM_SETUP(1 << 20);
	mm = mm_new_mapped(8, PROT_RW, false);
	write_pages(mm, TBASE, 8, 8);
	swap_inject_write_failure(2);
	/* The first pass only ages; the second writes the plug, the kept page at its end. */
	ASSERT_UEQ(try_to_free_pages(8) + try_to_free_pages(8), 7);
	ASSERT_UEQ(swap_inject_write_hits(), 1);
	ASSERT_UEQ(phys_used_frames(), 1);
	ASSERT_UEQ(reclaim_all(), 1);
	ASSERT_UEQ(phys_used_frames(), 0);
	check_pages(mm, TBASE, 8, 8);
	mmput(mm);
}

/*
 * A merged request that falls short (the file size limit cuts it after 4 of
 * 8 pages): the pages that reached the device are freed, the others stay
 * in the swap cache, and no byte is lost.
 */
TEST(short_merged_swap_write_keeps_only_the_unwritten_pages)
{
	struct rlimit rl = {PG(4), RLIM_INFINITY};
	struct mm_struct *mm;

	ASSERT_EQ(phys_init(TEST_PHYS_BYTES), 0);
	signal(SIGXFSZ, SIG_IGN);
	ASSERT_EQ(swap_on(PG(16), ""), 0);
	harness_set_teardown(swap_teardown);
	ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &rl), 0);
	mm = mm_new_mapped(8, PROT_RW, false);
	write_pages(mm, TBASE, 8, 5);
	ASSERT_EQ(mm_madvise(mm, TBASE, PG(8), MADV_PAGEOUT), 0);
	ASSERT_UEQ(swap_slots_used(), 8);
	ASSERT_UEQ(phys_used_frames(), 4); /* slots 4-7 are beyond the limit */
	check_pages(mm, TBASE, 8, 5);
	mmput(mm);
}

/* An injected failure of one page of a plug keeps that page; the others are written. */
TEST(injected_swap_write_failure_keeps_only_that_page_of_the_plug)
{
	struct mm_struct *mm;

	RECLAIM_SETUP(1 << 20);
	mm = mm_new_mapped(8, PROT_RW, false);
	write_pages(mm, TBASE, 8, 6);
	swap_inject_write_failure(3);
	ASSERT_EQ(mm_madvise(mm, TBASE, PG(8), MADV_PAGEOUT), 0);
	ASSERT_UEQ(swap_inject_write_hits(), 1);
	ASSERT_UEQ(phys_used_frames(), 1);
	ASSERT_UEQ(swap_slots_used(), 8);
	check_pages(mm, TBASE, 8, 6);
	mmput(mm);
}

TEST(allocation_reclaims_before_failing)
{
	unsigned long total;
	struct mm_struct *mm;
	unsigned char b = 1;

	RECLAIM_SETUP(32 << 20);
	total = phys_total_frames();
	mm = mm_new_mapped(total + 64, PROT_RW, false);
	for (unsigned long i = 0; i < total + 64; i++)
		ASSERT_EQ(mm_write(mm, TBASE + PG(i), &b, 1), 0);
	ASSERT_UGE(swap_slots_used(), 64);
	mmput(mm);
}

TEST(out_of_memory_without_swap_is_enomem)
{
	unsigned long total;
	struct mm_struct *mm;
	unsigned char b = 1;
	int ret = 0;

	MM_TEST_SETUP();
	total = phys_total_frames();
	mm = mm_new_mapped(total + 1, PROT_RW, false);
	for (unsigned long i = 0; i <= total && !ret; i++)
		ret = mm_write(mm, TBASE + PG(i), &b, 1);
	ASSERT_EQ(ret, -ENOMEM);
	mmput(mm);
}

/* Aging: the page a device keeps using survives; the idle one goes. */
TEST(device_hot_page_survives_pressure)
{
	struct mm_struct *mm;
	struct mirror *m;
	unsigned char b;
	unsigned long pfn;
	bool w;

	RECLAIM_SETUP(1 << 20);
	mm = mm_new_mapped(2, PROT_RW, false);
	write_pages(mm, TBASE, 2, 11);
	m = mirror_create(mm, 0);
	ASSERT(!IS_ERR(m));
	ASSERT_EQ(mirror_read(m, TBASE, &b, 1), 0);
	ASSERT_UEQ(try_to_free_pages(2), 0); /* both were young in the CPU PTE: second chance */
	for (int round = 0; round < 3; round++) {
		ASSERT_EQ(mirror_read(m, TBASE, &b, 1), 0); /* the device keeps using page 0 */
		try_to_free_pages(2);
	}
	mmap_read_lock(mm);
	ASSERT_EQ(follow_pfn_pte(mm, TBASE, &pfn, &w, NULL), 0);	       /* still resident */
	ASSERT_EQ(follow_pfn_pte(mm, TBASE + PG(1), &pfn, &w, NULL), -ENOENT); /* swapped */
	mmap_read_unlock(mm);
	check_pages(mm, TBASE, 2, 11);
	mirror_destroy(m);
	mmput(mm);
}

/* A recording subscriber: which events and ranges, and whether change_pte came. */
struct recorder {
	struct mmu_notifier mn;
	int events[8];
	int change_pte;
};

static int rec_start(struct mmu_notifier *mn, const struct mmu_notifier_range *r)
{
	struct recorder *rec = container_of(mn, struct recorder, mn);

	rec->events[r->event]++;
	return 0;
}

static void rec_change_pte(struct mmu_notifier *mn, struct mm_struct *mm, unsigned long addr,
			   unsigned long pfn, bool writable)
{
	(void)mm;
	(void)addr;
	(void)pfn;
	ASSERT(!writable);
	container_of(mn, struct recorder, mn)->change_pte++;
}

static const struct mmu_notifier_ops rec_ops = {
	.invalidate_range_start = rec_start,
	.change_pte = rec_change_pte,
};

TEST(migration_moves_frames_and_notifies)
{
	struct recorder rec = {.mn.ops = &rec_ops};
	unsigned long before[4], after, pfn;
	struct mm_struct *mm, *child;
	struct mirror *m;
	unsigned char b;
	bool w;

	MM_TEST_SETUP();
	mm = mm_new_mapped(4, PROT_RW, false);
	write_pages(mm, TBASE, 4, 21);
	child = dup_mm(mm); /* page 0..3 COW-shared: migration must move both mappings */
	ASSERT(!IS_ERR(child));
	ASSERT_EQ(mmu_notifier_register(&rec.mn, mm), 0);
	m = mirror_create(mm, 0);
	ASSERT(!IS_ERR(m));
	ASSERT_EQ(mirror_read(m, TBASE, &b, 1), 0);
	mmap_read_lock(mm);
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(follow_pfn_pte(mm, TBASE + PG(i), &before[i], &w, NULL), 0);
	mmap_read_unlock(mm);
	ASSERT_EQ(migrate_range(mm, TBASE, PG(4)), 0);
	/* One CLEAR per page of this mm (the child's go to the child), as Linux. */
	ASSERT_EQ(rec.events[MMU_NOTIFY_MIGRATE], 0);
	ASSERT_EQ(rec.events[MMU_NOTIFY_CLEAR], 4);
	ASSERT_UEQ(mirror_nr_entries(m), 0);
	for (int i = 0; i < 4; i++) {
		mmap_read_lock(mm);
		ASSERT_EQ(follow_pfn_pte(mm, TBASE + PG(i), &after, &w, NULL), 0);
		mmap_read_unlock(mm);
		ASSERT_UNE(after, before[i]);
		mmap_read_lock(child);
		ASSERT_EQ(follow_pfn_pte(child, TBASE + PG(i), &pfn, &w, NULL), 0);
		mmap_read_unlock(child);
		ASSERT_UEQ(pfn, after); /* still shared, on the new frame */
	}
	check_pages(mm, TBASE, 4, 21);
	check_pages(child, TBASE, 4, 21);
	ASSERT_UEQ(phys_used_frames(), 4);
	mirror_destroy(m);
	mmu_notifier_unregister(&rec.mn, mm);
	mmput(child);
	mmput(mm);
}

TEST(ksm_merges_identical_pages_and_cow_breaks_them)
{
	struct recorder rec = {.mn.ops = &rec_ops};
	struct mm_struct *a, *b;
	unsigned char buf[PAGE_SIZE], x = 9;
	struct page *pinned;

	MM_TEST_SETUP();
	a = mm_new_mapped(4, PROT_RW, false);
	b = mm_new_mapped(4, PROT_RW, false);
	fill_pattern(buf, sizeof(buf), 5);
	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(mm_write(a, TBASE + PG(i), buf, sizeof(buf)), 0);
		ASSERT_EQ(mm_write(b, TBASE + PG(i), buf, sizeof(buf)), 0);
	}
	ASSERT_EQ(ksm_scan_all(), 0); /* not mergeable yet */
	ASSERT_EQ(mm_madvise(a, TBASE, PG(4), MADV_MERGEABLE), 0);
	ASSERT_EQ(mm_madvise(b, TBASE, PG(4), MADV_MERGEABLE), 0);
	/* A pinned page is never merged. */
	ASSERT_EQ(pin_user_pages_unlocked(b, TBASE + PG(3), 1, 0, &pinned), 1);
	ASSERT_EQ(mmu_notifier_register(&rec.mn, b), 0);
	ASSERT_UEQ(ksm_scan_all(), 6);
	ASSERT_UEQ(phys_used_frames(), 2);
	ASSERT_GT(rec.change_pte, 0); /* the legacy in-place update was offered */
	ASSERT_GT(rec.events[MMU_NOTIFY_CLEAR], 0);
	ASSERT_EQ(mm_write(a, TBASE, &x, 1), 0); /* COW: a gets its own copy */
	ASSERT_UEQ(phys_used_frames(), 3);
	ASSERT_EQ(mm_read(b, TBASE, &x, 1), 0);
	ASSERT_EQ(x, buf[0]);
	ASSERT_EQ(mm_madvise(b, TBASE, PG(4), MADV_UNMERGEABLE), 0);
	ASSERT_UEQ(phys_used_frames(), 6);
	unpin_user_page(pinned);
	mmu_notifier_unregister(&rec.mn, b);
	mmput(a);
	mmput(b);
}

TEST(swap_file_device)
{
	struct mm_struct *mm;

	ASSERT_EQ(phys_init(TEST_PHYS_BYTES), 0);
	ASSERT_EQ(swap_on(1 << 20, ""), 0);
	ASSERT_EQ(swap_on(1 << 20, NULL), -EBUSY);
	harness_set_teardown(swap_teardown);
	mm = mm_new_mapped(4, PROT_RW, false);
	write_pages(mm, TBASE, 4, 77);
	ASSERT_UEQ(reclaim_all(), 4);
	ASSERT_EQ(swap_off(), -EBUSY);
	check_pages(mm, TBASE, 4, 77);
	mmput(mm);
}
