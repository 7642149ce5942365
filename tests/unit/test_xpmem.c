// SPDX-License-Identifier: MIT
/*
 * XPMEM-style attach: which test proves which rule.
 *
 *   xpmem_importer_follows_exporter  the importer's PTEs map the exporter's
 *                                    frames; munmap -> -EFAULT, remap -> new
 *                                    data; fork/COW -> the exporter's page
 *   xpmem_broken_caught              a segment that skips the zap leaves the
 *                                    importer on the old frame: the pattern
 *                                    check sees it (the correct one does not)
 *   xpmem_no_install_in_progress     no importer PTE is installed while an
 *                                    exporter invalidation over it is in
 *                                    progress (the fault waits for _end)
 *   xpmem_remote_start_waits_ack     a blockable start sleeps until the node
 *                                    acknowledged (timestamps, ack count)
 *   xpmem_nonblock_eagain            a non-blockable start returns -EAGAIN in
 *                                    remote mode (and locally when populated),
 *                                    0 when nothing can need zapping
 *   xpmem_exporter_exit              importer -EFAULT, notifier holds only
 *                                    mm_count, nothing leaks (frames, files)
 *   xpmem_remove_while_attached      remove tears attachments down
 *   xpmem_reclaim_and_migrate        swap-out and migration of exporter pages
 *                                    zap the importer first (rmap-walk
 *                                    invalidations, handed to the node thread)
 */
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "secmmu/migrate.h"
#include "secmmu/mmu_notifier.h"
#include "secmmu/mmu_notifier_hooks.h"
#include "secmmu/swap.h"
#include "secmmu/xpmem.h"
#include "base/thread.h"
#include "base/wait.h"
#include "testutil.h"

#define IBASE 0x20000000UL

struct pair {
	struct mm_struct *exp, *imp;
	struct xpmem_segment *seg;
};

static void setup(struct pair *p, unsigned long npages, unsigned int flags)
{
	MM_TEST_SETUP();
	p->exp = mm_alloc();
	p->imp = mm_alloc();
	ASSERT_NOT_NULL(p->exp);
	ASSERT_NOT_NULL(p->imp);
	map_anon(p->exp, TBASE, npages, PROT_RW, false);
	write_pages(p->exp, TBASE, npages, 100);
	p->seg = xpmem_make(p->exp, TBASE, PG(npages), flags);
	ASSERT(!IS_ERR(p->seg));
	ASSERT_EQ(xpmem_attach(p->seg, p->imp, IBASE), 0);
}

static void teardown(struct pair *p)
{
	xpmem_remove(p->seg);
	mmput(p->imp);
	if (p->exp)
		mmput(p->exp);
}

static long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

TEST(xpmem_importer_follows_exporter)
{
	static uint8_t buf[PAGE_SIZE];
	struct mm_struct *child;
	struct mm_stats st;
	struct pair p;

	setup(&p, 4, 0);
	check_pages(p.imp, IBASE, 4, 100);
	mm_get_stats(p.imp, &st);
	ASSERT_UEQ(st.rss, 4);
	ASSERT_UEQ(phys_used_frames() <= 4 + 16, true); /* no copies: the exporter's frames */
	write_pages(p.imp, IBASE + PG(1), 1, 7);
	check_pages(p.exp, TBASE + PG(1), 1, 7);

	ASSERT_EQ(mm_munmap(p.exp, TBASE, PG(1)), 0);
	mm_get_stats(p.imp, &st);
	ASSERT_UEQ(st.rss, 3);
	ASSERT_EQ(mm_read(p.imp, IBASE, buf, 8), -EFAULT);
	map_anon(p.exp, TBASE, 1, PROT_RW, false);
	write_pages(p.exp, TBASE, 1, 42);
	check_pages(p.imp, IBASE, 1, 42);

	child = dup_mm(p.exp);
	ASSERT(!IS_ERR(child));
	write_pages(p.exp, TBASE, 1, 43); /* the exporter breaks COW */
	check_pages(p.imp, IBASE, 1, 43);
	check_pages(child, TBASE, 1, 42);
	write_pages(p.imp, IBASE + PG(2), 1, 44); /* the importer breaks it for the exporter */
	check_pages(p.exp, TBASE + PG(2), 1, 44);
	check_pages(child, TBASE + PG(2), 1, 102);
	mmput(child);
	ASSERT_UEQ(phys_stale_count(), 0);
	teardown(&p);
}

TEST(xpmem_broken_caught)
{
	static uint8_t buf[PAGE_SIZE];
	struct pair p;

	setup(&p, 2, XPMEM_BROKEN);
	check_pages(p.imp, IBASE, 1, 100);
	ASSERT_EQ(mm_munmap(p.exp, TBASE, PG(1)), 0);
	map_anon(p.exp, TBASE, 1, PROT_RW, false);
	write_pages(p.exp, TBASE, 1, 5);
	ASSERT_EQ(mm_read(p.imp, IBASE, buf, PAGE_SIZE), 0);
	/* The rule is broken and the pattern check sees it: the old frame. */
	ASSERT_EQ(pattern_diff(buf, PAGE_SIZE, 5) == (size_t)-1, false);
	ASSERT_PATTERN(buf, PAGE_SIZE, 100);
	teardown(&p);
}

struct reader {
	struct mm_struct *mm;
	_Atomic bool done;
	int ret;
	uint8_t buf[16];
};

static void *reader_fn(void *arg)
{
	struct reader *r = arg;

	r->ret = mm_read(r->mm, IBASE, r->buf, sizeof(r->buf));
	atomic_store(&r->done, true);
	return NULL;
}

TEST(xpmem_no_install_in_progress)
{
	struct mmu_notifier_range range;
	struct reader r = {0};
	struct mm_stats st;
	struct sm_thread t;
	struct pair p;

	setup(&p, 2, 0);
	r.mm = p.imp;
	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, p.exp, TBASE, TBASE + PG(1));
	mmap_read_lock(p.exp);
	mmu_notifier_invalidate_range_start(&range);
	mmap_read_unlock(p.exp);
	ASSERT_EQ(sm_thread_create(&t, reader_fn, &r, "reader"), 0);
	/* Time to reach the wait; if the reader is late, nothing is proven. */
	sm_delay_us(100000);
	ASSERT(!atomic_load(&r.done)); /* the importer fault waits for _end */
	mm_get_stats(p.imp, &st);
	ASSERT_UEQ(st.rss, 0);
	mmap_read_lock(p.exp);
	mmu_notifier_invalidate_range_end(&range);
	mmap_read_unlock(p.exp);
	sm_thread_join(&t);
	ASSERT_EQ(r.ret, 0);
	ASSERT_PATTERN(r.buf, sizeof(r.buf), 100);
	mm_get_stats(p.imp, &st);
	ASSERT_UEQ(st.rss, 1);
	teardown(&p);
}

TEST(xpmem_remote_start_waits_ack)
{
	struct xpmem_stats xs;
	struct mm_stats st;
	struct pair p;
	long t0, t1;

	setup(&p, 2, XPMEM_REMOTE);
	check_pages(p.imp, IBASE, 2, 100);
	xpmem_set_ack_delay(p.seg, 150000);
	t0 = now_us();
	ASSERT_EQ(mm_munmap(p.exp, TBASE, PG(1)), 0);
	t1 = now_us();
	ASSERT_GE(t1 - t0, 150000); /* the start slept until the acknowledgement */
	xpmem_get_stats(p.seg, &xs);
	ASSERT_UEQ(xs.messages, 1);
	ASSERT_UEQ(xs.acks, 1);
	mm_get_stats(p.imp, &st);
	ASSERT_UEQ(st.rss, 1); /* zapped before munmap returned */
	xpmem_set_ack_delay(p.seg, 0);
	teardown(&p);
}

static int nonblock_start(struct mm_struct *mm)
{
	struct mmu_notifier_range range;
	int ret;

	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, TBASE, TBASE + PG(1));
	range.flags &= ~MMU_NOTIFIER_RANGE_BLOCKABLE;
	mmap_read_lock(mm);
	ret = mmu_notifier_invalidate_range_start_nonblock(&range);
	if (!ret)
		mmu_notifier_invalidate_range_end(&range);
	mmap_read_unlock(mm);
	return ret;
}

TEST(xpmem_nonblock_eagain)
{
	struct xpmem_stats xs;
	struct pair p, q;

	setup(&p, 2, XPMEM_REMOTE);
	ASSERT_EQ(nonblock_start(p.exp), -EAGAIN); /* remote: a message must be waited for */
	xpmem_get_stats(p.seg, &xs);
	ASSERT_UEQ(xs.eagain, 1);
	ASSERT_UEQ(xs.messages, 0);
	teardown(&p);

	q.exp = mm_alloc();
	q.imp = mm_alloc();
	map_anon(q.exp, TBASE, 2, PROT_RW, false);
	q.seg = xpmem_make(q.exp, TBASE, PG(2), 0);
	ASSERT(!IS_ERR(q.seg));
	ASSERT_EQ(xpmem_attach(q.seg, q.imp, IBASE), 0);
	ASSERT_EQ(nonblock_start(q.exp), 0); /* local, nothing mapped: nothing to wait for */
	write_pages(q.imp, IBASE, 1, 3);
	ASSERT_EQ(nonblock_start(q.exp), -EAGAIN);
	check_pages(q.imp, IBASE, 1, 3); /* the refused invalidation changed nothing */
	teardown(&q);
}

TEST(xpmem_exporter_exit)
{
	static uint8_t buf[PAGE_SIZE];
	struct pair p;
	unsigned long id;
	int users, count;

	setup(&p, 3, 0);
	id = mm_id(p.exp);
	check_pages(p.imp, IBASE, 3, 100);
	ASSERT_EQ(mm_users_read(p.exp), 1);
	ASSERT_EQ(mm_count_read(p.exp), 2);
	mmput(p.exp);
	p.exp = NULL;
	ASSERT_EQ(mm_read(p.imp, IBASE, buf, 8), -EFAULT);
	ASSERT_EQ(mm_write(p.imp, IBASE + PG(2), "x", 1), -EFAULT);
	ASSERT_EQ(mm_query_refs(id, &users, &count), 0);
	ASSERT_EQ(users, 0);
	ASSERT_EQ(count, 1);
	ASSERT_UEQ(phys_stale_count(), 0);
	teardown(&p);
	ASSERT_EQ(mm_query_refs(id, &users, &count), -ESRCH);
}

TEST(xpmem_remove_while_attached)
{
	static uint8_t buf[PAGE_SIZE];
	struct xpmem_stats xs;
	struct pair p;

	setup(&p, 2, 0);
	check_pages(p.imp, IBASE, 2, 100);
	xpmem_get_stats(p.seg, &xs);
	ASSERT_UEQ(xs.attached, 1);
	ASSERT_EQ(xpmem_attach(p.seg, p.exp, IBASE), -EINVAL);
	ASSERT_EQ(xpmem_detach(p.imp, IBASE + PG(1)), -EINVAL);
	xpmem_remove(p.seg);
	ASSERT_EQ(mm_read(p.imp, IBASE, buf, 8), -EFAULT);
	ASSERT_EQ(xpmem_detach(p.imp, IBASE), 0);
	mmput(p.imp);
	mmput(p.exp);
}

TEST(xpmem_reclaim_and_migrate)
{
	struct mm_stats st;
	struct pair p;

	setup(&p, 8, 0);
	ASSERT_EQ(swap_on(1 << 20, NULL), 0);
	check_pages(p.imp, IBASE, 8, 100);
	ASSERT_EQ(migrate_range(p.exp, TBASE, PG(8)), 0);
	mm_get_stats(p.imp, &st);
	ASSERT_UEQ(st.rss, 0);
	check_pages(p.imp, IBASE, 8, 100);
	/* MADV_PAGEOUT leaves pages mapped twice alone, as Linux does. */
	ASSERT_EQ(mm_madvise(p.exp, TBASE, PG(8), MADV_PAGEOUT), 0);
	mm_get_stats(p.exp, &st);
	ASSERT_UEQ(st.swap, 0);
	/* LRU reclaim unmaps through the exporter's rmap: the importer is zapped first. */
	for (int i = 0; i < 8 && !st.swap; i++) {
		try_to_free_pages(64);
		mm_get_stats(p.exp, &st);
	}
	ASSERT_UGT(st.swap, 0);
	mm_get_stats(p.imp, &st);
	ASSERT_ULT(st.rss, 8);
	check_pages(p.imp, IBASE, 8, 100);
	check_pages(p.exp, TBASE, 8, 100);
	ASSERT_UEQ(phys_stale_count(), 0);
	teardown(&p);
	ASSERT_EQ(swap_off(), 0);
}
