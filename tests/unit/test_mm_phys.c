// SPDX-License-Identifier: MIT
/*
 * Physical memory: frame allocation and exhaustion, the zero page,
 * generations, poisoning, refcount rules.
 */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/debug.h"
#include "mm/internal.h"
#include "secmmu/memremap.h"
#include "testutil.h"

TEST(phys_init_rejects_bad_sizes)
{
	ASSERT_EQ(phys_init(0), -EINVAL);
	ASSERT_EQ(phys_init(PAGE_SIZE * 16 + 1), -EINVAL);
	ASSERT_EQ(phys_init(PAGE_SIZE * 15), -EINVAL);
	ASSERT(!phys_initialized());
	MM_TEST_SETUP();
	ASSERT_EQ(phys_init(TEST_PHYS_BYTES), -EBUSY);
	ASSERT_UEQ(phys_total_frames(), TEST_PHYS_BYTES / PAGE_SIZE - 1);
}

TEST(zero_page_is_not_counted_as_used)
{
	MM_TEST_SETUP();
	ASSERT_UEQ(phys_used_frames(), 0);
	ASSERT_UEQ(phys_free_frames(), phys_total_frames());
	ASSERT(PageTest(zero_page(), PG_reserved));
	ASSERT_UEQ(page_to_pfn(zero_page()), 0);
	ASSERT(mem_is_byte(page_address(zero_page()), PAGE_SIZE, 0));
}

TEST(alloc_until_exhaustion_then_all_frames_come_back)
{
	unsigned long total, n = 0;
	struct page **pages;
	struct page *p;

	MM_TEST_SETUP();
	total = phys_total_frames();
	pages = calloc(total + 1, sizeof(*pages));
	ASSERT_NOT_NULL(pages);
	while ((p = alloc_page()) != NULL) {
		ASSERT(n < total);
		/* Never the zero page, every frame zeroed, refcount 1. */
		ASSERT_UNE(page_to_pfn(p), 0);
		ASSERT_EQ(page_ref_count(p), 1);
		ASSERT(mem_is_byte(page_address(p), PAGE_SIZE, 0));
		/* Dirty it so a missing zeroing on reuse is seen below. */
		memset(page_address(p), 0x77, PAGE_SIZE);
		pages[n++] = p;
	}
	ASSERT_UEQ(n, total);
	ASSERT_UEQ(phys_free_frames(), 0);
	ASSERT_UEQ(phys_used_frames(), total);
	ASSERT_NULL(alloc_page());
	ASSERT_NULL(alloc_page_noreclaim());
	/* Frames are distinct. */
	for (unsigned long i = 1; i < n; i++)
		ASSERT_PTR_NE(pages[i], pages[i - 1]);

	for (unsigned long i = 0; i < n; i++)
		put_page(pages[i]);
	ASSERT_UEQ(phys_used_frames(), 0);
	ASSERT_UEQ(phys_free_frames(), total);

	/* Everything can be allocated again, zeroed. */
	for (unsigned long i = 0; i < n; i++) {
		pages[i] = alloc_page();
		ASSERT_NOT_NULL(pages[i]);
		ASSERT(mem_is_byte(page_address(pages[i]), PAGE_SIZE, 0));
	}
	ASSERT_NULL(alloc_page());
	for (unsigned long i = 0; i < n; i++)
		put_page(pages[i]);
	free(pages);
}

TEST(generation_bumps_on_free_and_on_alloc)
{
	struct page *p, *q;
	unsigned long pfn;
	uint32_t gen;

	MM_TEST_SETUP();
	p = alloc_page();
	ASSERT_NOT_NULL(p);
	pfn = page_to_pfn(p);
	gen = page_gen(p);
	ASSERT(page_gen_valid(pfn, gen));
	get_page(p);
	put_page(p);
	ASSERT(page_gen_valid(pfn, gen)); /* not freed yet */
	put_page(p);
	ASSERT(!page_gen_valid(pfn, gen));
	/* LIFO: the frame freed last is reused first, with yet another generation. */
	q = alloc_page();
	ASSERT_PTR_EQ(q, p);
	ASSERT(!page_gen_valid(pfn, gen));
	ASSERT_UNE(page_gen(q), gen);
	put_page(q);
	ASSERT(!page_gen_valid(phys_total_frames() + 1, 0)); /* out of range */
}

/*
 * Frames freed in ascending order (as a zap frees them) and allocated
 * again come back as one ascending run, whatever the order they were freed
 * in: a DMA copies contiguous frames with one memcpy. (Before, the LIFO
 * stack handed them out in descending order.)
 */
static void alloc_run(struct page **p, int n)
{
	for (int i = 0; i < n; i++) {
		p[i] = alloc_page();
		ASSERT_NOT_NULL(p[i]);
	}
}

static void assert_ascending_run(struct page **p, int n)
{
	for (int i = 1; i < n; i++)
		ASSERT_UEQ(page_to_pfn(p[i]), page_to_pfn(p[i - 1]) + 1);
}

TEST(frames_freed_in_any_order_come_back_as_an_ascending_run)
{
	enum {
		N = 32
	};
	struct page *p[N];
	unsigned long first;

	MM_TEST_SETUP();
	alloc_run(p, N);
	assert_ascending_run(p, N);
	first = page_to_pfn(p[0]);
	/* Ascending frees: the highest ends on top of the stack. */
	for (int i = 0; i < N; i++)
		put_page(p[i]);
	alloc_run(p, N);
	assert_ascending_run(p, N);
	ASSERT_UEQ(page_to_pfn(p[0]), first); /* the same frames, recently freed */
	/* Descending frees. */
	for (int i = N; i-- > 0;)
		put_page(p[i]);
	alloc_run(p, N);
	assert_ascending_run(p, N);
	ASSERT_UEQ(page_to_pfn(p[0]), first);
	for (int i = 0; i < N; i++)
		put_page(p[i]);
}

TEST(freed_frame_is_poisoned_in_debug_builds)
{
	struct page *p;
	uint8_t *va;

	MM_TEST_SETUP();
	ASSERT(sm_debug);
	p = alloc_page();
	ASSERT_NOT_NULL(p);
	va = page_address(p);
	memset(va, 0x11, PAGE_SIZE);
	put_page(p);
	ASSERT(mem_is_byte(va, PAGE_SIZE, PAGE_POISON_BYTE));
	ASSERT_EQ(page_ref_count(p), 0);
}

TEST(freed_frame_flags_are_cleared)
{
	struct page *p, *q;

	MM_TEST_SETUP();
	p = alloc_page();
	SetPageFlag(p, PG_anon);
	SetPageFlag(p, PG_dirty);
	p->mapping = (void *)p;
	put_page(p);
	q = alloc_page();
	ASSERT_PTR_EQ(q, p);
	ASSERT_UEQ(atomic_load(&q->flags), 0);
	ASSERT_NULL(q->mapping);
	ASSERT_EQ(page_mapcount(q), 0);
	put_page(q);
}

TEST(put_page_twice_is_a_bug)
{
	struct page *p;

	MM_TEST_SETUP();
	p = alloc_page();
	ASSERT_NOT_NULL(p);
	put_page(p);
	harness_expect_crash();
	put_page(p);
	FAIL("refcount underflow was not caught");
}

TEST(get_page_unless_zero)
{
	struct page *p;

	MM_TEST_SETUP();
	p = alloc_page();
	ASSERT(get_page_unless_zero(p));
	ASSERT_EQ(page_ref_count(p), 2);
	put_page(p);
	put_page(p);
	ASSERT_UEQ(phys_used_frames(), 0);
	ASSERT(!get_page_unless_zero(p));
	ASSERT_EQ(page_ref_count(p), 0);
	ASSERT_UEQ(phys_used_frames(), 0);
}

TEST(pfn_helpers)
{
	struct page *p;

	MM_TEST_SETUP();
	p = alloc_page();
	ASSERT_PTR_EQ(pfn_to_page(page_to_pfn(p)), p);
	ASSERT(pfn_valid(page_to_pfn(p)));
	ASSERT(!pfn_valid(phys_total_frames() + 1));
	ASSERT_NULL(pfn_to_page(phys_total_frames() + 1));
	ASSERT_UEQ((uintptr_t)page_address(p) - (uintptr_t)page_address(zero_page()),
		   page_to_pfn(p) * PAGE_SIZE);
	put_page(p);
}

static void contig_page_free(struct page *page)
{
	(void)page;
}

static int contig_migrate_to_ram(struct vm_fault *vmf)
{
	(void)vmf;
	return -ENOMEM;
}

static const struct dev_pagemap_ops contig_dev_ops = {
	.page_free = contig_page_free,
	.migrate_to_ram = contig_migrate_to_ram,
};

/* One lookup gives the memory map and the bytes of every RAM frame after it. */
TEST(pfn_to_page_contig_covers_ram_only)
{
	struct dev_pagemap pgmap = {
		.type = MEMORY_DEVICE_PRIVATE, .nr_pages = 2, .ops = &contig_dev_ops};
	unsigned long end, nr = 99, pfn;
	struct page *p, *map;

	MM_TEST_SETUP();
	p = alloc_page();
	pfn = page_to_pfn(p);
	map = pfn_to_page_contig(pfn, &nr);
	ASSERT_PTR_EQ(map, p);
	/* Every frame up to the end of RAM, and not one more. */
	end = pfn + nr;
	ASSERT(pfn_valid(end - 1));
	ASSERT(!pfn_valid(end));
	for (unsigned long i = 0; i < nr; i += nr / 7 + 1) {
		ASSERT_PTR_EQ(pfn_to_page(pfn + i), map + i);
		ASSERT_PTR_EQ(page_address(map + i), (char *)page_address(map) + i * PAGE_SIZE);
	}
	ASSERT_PTR_EQ(pfn_to_page_contig(end - 1, &nr), pfn_to_page(end - 1));
	ASSERT_UEQ(nr, 1);
	/* Past the end of RAM, and device memory: nothing. */
	nr = 99;
	ASSERT_NULL(pfn_to_page_contig(end, &nr));
	ASSERT_UEQ(nr, 0);
	pgmap.owner = &pgmap;
	ASSERT_EQ(memremap_pages(&pgmap), 0);
	nr = 99;
	ASSERT_NULL(pfn_to_page_contig(pgmap.pfn_first, &nr));
	ASSERT_UEQ(nr, 0);
	memunmap_pages(&pgmap);
	put_page(p);
}

/*
 * The frames are a private mapping aligned like a 2 MiB page (a direct map
 * with large pages): a forked process (a test's child, a replay) writes its
 * own copy of physical memory, never its parent's.
 */
TEST(arena_is_aligned_and_private_to_the_process)
{
	struct page *p;
	char *bytes;
	pid_t pid;
	int st;

	MM_TEST_SETUP();
	ASSERT_UEQ((uintptr_t)page_address(zero_page()) % (2UL << 20), 0);
	p = alloc_page();
	bytes = page_address(p);
	memset(bytes, 'P', 16);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		memset(bytes, 'C', 16);
		_exit(bytes[0] == 'C' ? 0 : 1);
	}
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 0);
	for (int i = 0; i < 16; i++)
		ASSERT_EQ(bytes[i], 'P');
	put_page(p);
}

TEST(pinned_frame_counted)
{
	struct page *p;

	MM_TEST_SETUP();
	p = alloc_page();
	ASSERT_UEQ(phys_pinned_frames(), 0);
	atomic_fetch_add(&p->_pincount, 1);
	atomic_fetch_add(&p->_refcount, GUP_PIN_COUNTING_BIAS);
	ASSERT(page_maybe_dma_pinned(p));
	ASSERT_UEQ(phys_pinned_frames(), 1);
	atomic_fetch_sub(&p->_pincount, 1);
	atomic_fetch_sub(&p->_refcount, GUP_PIN_COUNTING_BIAS);
	ASSERT_UEQ(phys_pinned_frames(), 0);
	put_page(p);
}

TEST(freeing_a_pinned_frame_is_a_bug)
{
	struct page *p;

	MM_TEST_SETUP();
	p = alloc_page();
	atomic_fetch_add(&p->_pincount, 1);
	harness_expect_crash();
	put_page(p);
	FAIL("a frame with pins was freed");
}

TEST(phys_exit_reports_leaks)
{
	struct page *p;

	ASSERT_EQ(phys_init(TEST_PHYS_BYTES), 0);
	p = alloc_page();
	ASSERT_NOT_NULL(p);
	ASSERT_UEQ(phys_exit(), 1); /* refused: the frame is still in use */
	ASSERT(phys_initialized());
	put_page(p);
	ASSERT_UEQ(phys_exit(), 0);
	ASSERT(!phys_initialized());
	ASSERT_NULL(alloc_page());
	/* And it can be created again, empty. */
	ASSERT_EQ(phys_init(TEST_PHYS_BYTES), 0);
	ASSERT_UEQ(phys_used_frames(), 0);
	ASSERT_UEQ(phys_exit(), 0);
}

/*
 * REGRESSION (issue 19): phys_exit() with a mapped frame still on the
 * global LRU freed the struct page array under it; the next world's first
 * fault linked a page next to the freed one (heap-use-after-free under
 * ASan). A process that runs several worlds must be safe.
 */
TEST(regress_phys_exit_with_lru_pages_leaves_no_dangling_state)
{
	struct mm_struct *mm;

	ASSERT_EQ(phys_init(TEST_PHYS_BYTES), 0);
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	map_anon(mm, TBASE, 2, PROT_RW, false);
	write_pages(mm, TBASE, 2, 5); /* both frames on the LRU */
	ASSERT_UEQ(phys_exit(), 2);   /* refused */
	mmput(mm);
	ASSERT_UEQ(phys_exit(), 0);
	/* The next world. */
	ASSERT_EQ(phys_init(TEST_PHYS_BYTES), 0);
	mm = mm_alloc();
	map_anon(mm, TBASE, 2, PROT_RW, false);
	write_pages(mm, TBASE, 2, 6);
	check_pages(mm, TBASE, 2, 6);
	mmput(mm);
	ASSERT_UEQ(phys_exit(), 0);
}
