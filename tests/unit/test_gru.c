// SPDX-License-Identifier: MIT
/*
 * The GRU-style TLB-only device: which test proves which rule.
 *
 *   gru_data_coherent            device and CPU see the same bytes
 *   gru_flushes_on_invalidation  munmap/mprotect/DONTNEED flush the TLB entry
 *                                before the frame is freed; the next access
 *                                sees the new frame (seed 004)
 *   gru_broken_stale_caught      a GRU that does not flush is caught by the
 *                                frame generation check (-EIO, stale count)
 *   gru_no_refill_in_progress    no TLB entry is installed between
 *                                invalidate_range_start and _end
 *   gru_aging                    clear_flush_young/test_young report the
 *                                device's accessed bits
 *   gru_exit_release             after exit: -ESRCH, TLB empty, no leak
 *   gru_round_robin              the TLB holds GRU_TLB_ENTRIES entries
 */
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "secmmu/gru.h"
#include "secmmu/mmu_notifier.h"
#include "secmmu/mmu_notifier_hooks.h"
#include "base/thread.h"
#include "base/wait.h"
#include "testutil.h"

static struct mm_struct *setup(unsigned long npages, struct gru **g, unsigned int flags)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	map_anon(mm, TBASE, npages, PROT_RW, false);
	write_pages(mm, TBASE, npages, 100);
	*g = gru_create(mm, flags);
	ASSERT(!IS_ERR(*g));
	return mm;
}

TEST(gru_data_coherent)
{
	static uint8_t buf[PAGE_SIZE];
	struct gru *g;
	struct mm_struct *mm = setup(4, &g, 0);

	ASSERT_EQ(gru_read(g, TBASE + PG(1), buf, PAGE_SIZE), 0);
	ASSERT_PATTERN(buf, PAGE_SIZE, 101);
	fill_pattern(buf, PAGE_SIZE, 7);
	ASSERT_EQ(gru_write(g, TBASE + PG(2), buf, PAGE_SIZE), 0);
	check_pages(mm, TBASE + PG(2), 1, 7);
	write_pages(mm, TBASE + PG(2), 1, 8);
	ASSERT_EQ(gru_read(g, TBASE + PG(2), buf, PAGE_SIZE), 0);
	ASSERT_PATTERN(buf, PAGE_SIZE, 8);
	gru_destroy(g);
	mmput(mm);
}

TEST(gru_flushes_on_invalidation)
{
	static uint8_t buf[PAGE_SIZE];
	struct gru_stats st;
	struct gru *g;
	struct mm_struct *mm = setup(4, &g, 0);

	ASSERT_EQ(gru_read(g, TBASE, buf, 8), 0);
	ASSERT_EQ(mm_munmap(mm, TBASE, PG(1)), 0);
	gru_get_stats(g, &st);
	ASSERT_UEQ(st.tlb, 0);
	ASSERT_UEQ(st.flushes, 1);
	ASSERT_EQ(gru_read(g, TBASE, buf, 8), -EFAULT);
	map_anon(mm, TBASE, 1, PROT_RW, false);
	write_pages(mm, TBASE, 1, 55);
	ASSERT_EQ(gru_read(g, TBASE, buf, PAGE_SIZE), 0);
	ASSERT_PATTERN(buf, PAGE_SIZE, 55);

	ASSERT_EQ(gru_write(g, TBASE + PG(1), "w", 1), 0);
	ASSERT_EQ(mm_mprotect(mm, TBASE + PG(1), PG(1), PROT_READ), 0);
	ASSERT_EQ(gru_write(g, TBASE + PG(1), "w", 1), -EFAULT);
	ASSERT_EQ(gru_read(g, TBASE + PG(1), buf, 1), 0);
	ASSERT_EQ(buf[0], 'w');

	ASSERT_EQ(mm_madvise(mm, TBASE, PG(1), MADV_DONTNEED), 0);
	ASSERT_EQ(gru_read(g, TBASE, buf, PAGE_SIZE), 0);
	ASSERT(mem_is_byte(buf, PAGE_SIZE, 0));
	ASSERT_UEQ(phys_stale_count(), 0);
	gru_destroy(g);
	mmput(mm);
}

TEST(gru_broken_stale_caught)
{
	static uint8_t buf[PAGE_SIZE];
	struct gru_stats st;
	struct gru *g;
	struct mm_struct *mm = setup(2, &g, GRU_BROKEN);

	ASSERT_EQ(gru_read(g, TBASE, buf, 8), 0);
	ASSERT_EQ(mm_munmap(mm, TBASE, PG(1)), 0);
	write_pages(mm, TBASE + PG(1), 1, 9); /* the freed frame may be reused */
	ASSERT_EQ(gru_read(g, TBASE, buf, 8), -EIO);
	gru_get_stats(g, &st);
	ASSERT_UEQ(st.stale, 1);
	ASSERT_UGE(phys_stale_count(), 1);
	gru_destroy(g);
	mmput(mm);
}

struct reader {
	struct gru *g;
	_Atomic bool done;
	int ret;
	uint8_t buf[8];
};

static void *reader_fn(void *arg)
{
	struct reader *r = arg;

	r->ret = gru_read(r->g, TBASE, r->buf, sizeof(r->buf));
	atomic_store(&r->done, true);
	return NULL;
}

TEST(gru_no_refill_in_progress)
{
	struct mmu_notifier_range range;
	struct reader r = {0};
	struct gru_stats st;
	struct sm_thread t;
	struct gru *g;
	struct mm_struct *mm = setup(2, &g, 0);

	r.g = g;
	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, TBASE, TBASE + PG(1));
	mmap_read_lock(mm);
	mmu_notifier_invalidate_range_start(&range);
	mmap_read_unlock(mm);
	ASSERT_EQ(sm_thread_create(&t, reader_fn, &r, "reader"), 0);
	/* Time to reach the wait; if the reader is late, nothing is proven. */
	sm_delay_us(100000);
	ASSERT(!atomic_load(&r.done)); /* the miss waits for _end */
	gru_get_stats(g, &st);
	ASSERT_UEQ(st.tlb, 0);
	mmap_read_lock(mm);
	mmu_notifier_invalidate_range_end(&range);
	mmap_read_unlock(mm);
	sm_thread_join(&t);
	ASSERT_EQ(r.ret, 0);
	ASSERT_PATTERN(r.buf, sizeof(r.buf), 100);
	gru_get_stats(g, &st);
	ASSERT_UEQ(st.tlb, 1);
	gru_destroy(g);
	mmput(mm);
}

TEST(gru_aging)
{
	uint8_t b;
	struct gru *g;
	struct mm_struct *mm = setup(4, &g, 0);

	ASSERT_EQ(gru_read(g, TBASE + PG(3), &b, 1), 0);
	ASSERT_EQ(mmu_notifier_test_young(mm, TBASE + PG(3)), 1);
	ASSERT_EQ(mmu_notifier_test_young(mm, TBASE + PG(2)), 0);
	ASSERT_EQ(mmu_notifier_clear_flush_young(mm, TBASE, TBASE + PG(4)), 1);
	ASSERT_EQ(mmu_notifier_test_young(mm, TBASE + PG(3)), 0);
	ASSERT_EQ(gru_read(g, TBASE + PG(3), &b, 1), 0);
	ASSERT_EQ(mmu_notifier_clear_young(mm, TBASE, TBASE + PG(4)), 1);
	gru_destroy(g);
	mmput(mm);
}

TEST(gru_exit_release)
{
	uint8_t b;
	struct gru_stats st;
	struct gru *g;
	struct mm_struct *mm = setup(2, &g, 0);
	unsigned long id = mm_id(mm);
	int users, count;

	ASSERT_EQ(gru_read(g, TBASE, &b, 1), 0);
	ASSERT_EQ(mm_count_read(mm), 2); /* the notifier holds mm_count, not mm_users */
	ASSERT_EQ(mm_users_read(mm), 1);
	mmput(mm);
	ASSERT_UEQ(phys_used_frames(), 0);
	gru_get_stats(g, &st);
	ASSERT_UEQ(st.tlb, 0);
	ASSERT_EQ(gru_read(g, TBASE, &b, 1), -ESRCH);
	ASSERT_EQ(mm_query_refs(id, &users, &count), 0);
	ASSERT_EQ(count, 1);
	gru_destroy(g);
	ASSERT_EQ(mm_query_refs(id, &users, &count), -ESRCH);
}

TEST(gru_round_robin)
{
	uint8_t b;
	struct gru_stats st;
	struct gru *g;
	struct mm_struct *mm = setup(GRU_TLB_ENTRIES + 4, &g, 0);

	for (int round = 0; round < 3; round++)
		for (int i = 0; i < GRU_TLB_ENTRIES + 4; i++) {
			ASSERT_EQ(gru_read(g, TBASE + PG(i), &b, 1), 0);
			ASSERT_EQ(b, pattern_byte(100 + i, 0));
		}
	gru_get_stats(g, &st);
	ASSERT_UEQ(st.tlb, GRU_TLB_ENTRIES);
	ASSERT_UEQ(st.misses, 3 * (GRU_TLB_ENTRIES + 4));
	ASSERT(IS_ERR(gru_create(mm, 0x80)));
	gru_destroy(g);
	mmput(mm);
}
