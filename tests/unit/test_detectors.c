// SPDX-License-Identifier: MIT
/*
 * The kernel's lock-context detectors, reimplemented (base/lock.h):
 *
 *   - might_sleep() inside non_block_start()/non_block_end(): the notifier
 *     core brackets every callback of a non-blockable invalidation, so a
 *     driver that takes a sleeping lock there is reported, whether or not
 *     the lock happened to be free;
 *   - the invalidation lockdep map (the kernel's
 *     __mmu_notifier_invalidate_range_start_map): a driver that holds around
 *     mmu_interval_read_begin() a lock its invalidate callback takes is
 *     reported, in one thread, with no invalidation racing and no deadlock.
 *
 * Each detector has a positive case (it fires) and a negative one (the
 * correct driver passes).
 */
#include <errno.h>
#include <string.h>

#include "base/lock.h"
#include "harness.h"
#include "secmmu/mmu_notifier.h"
#include "secmmu/mmu_notifier_hooks.h"
#include "testutil.h"

/* ---- might_sleep() in a non-blockable callback ---- */

struct sleepy {
	struct mmu_notifier mn;
	struct sm_mutex lock; /* a sleeping lock */
	bool use_trylock;     /* the correct driver: trylock when !blockable */
	int calls;
};

static int sleepy_start(struct mmu_notifier *mn, const struct mmu_notifier_range *range)
{
	struct sleepy *s = container_of(mn, struct sleepy, mn);

	if (s->use_trylock && !mmu_notifier_range_blockable(range)) {
		if (!sm_mutex_trylock(&s->lock))
			return -EAGAIN;
	} else {
		sm_mutex_lock(&s->lock); /* sleeps: wrong when !blockable */
	}
	s->calls++;
	sm_mutex_unlock(&s->lock);
	return 0;
}

static const struct mmu_notifier_ops sleepy_ops = {.invalidate_range_start = sleepy_start};

static void sleepy_invalidate(struct mm_struct *mm, bool blockable)
{
	struct mmu_notifier_range range;

	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, TBASE, TBASE + PG(1));
	mmap_read_lock(mm);
	if (blockable)
		mmu_notifier_invalidate_range_start(&range);
	else
		ASSERT_EQ(mmu_notifier_invalidate_range_start_nonblock(&range), 0);
	mmu_notifier_invalidate_range_end(&range);
	mmap_read_unlock(mm);
}

static void sleepy_run(bool use_trylock, bool blockable)
{
	struct mm_struct *mm = mm_new_mapped(1, PROT_RW, false);
	struct sleepy s;

	memset(&s, 0, sizeof(s));
	sm_mutex_init(&s.lock, "sleepy->lock", LOCK_RANK_DRIVER_MMU);
	s.use_trylock = use_trylock;
	s.mn.ops = &sleepy_ops;
	ASSERT_EQ(mmu_notifier_register(&s.mn, mm), 0);
	sleepy_invalidate(mm, blockable);
	ASSERT_EQ(s.calls, 1);
	mmu_notifier_unregister(&s.mn, mm);
	mmput(mm);
}

TEST(detector_sleep_in_nonblock_callback_reported)
{
	unsigned long before;

	MM_TEST_SETUP();
	might_sleep_set_fatal(false);
	before = might_sleep_reports();
	/* The lock is free: no deadlock, no wait happens; still reported. */
	sleepy_run(false, false);
	ASSERT_UEQ(might_sleep_reports(), before + 1);
}

TEST(detector_sleep_in_nonblock_callback_fatal_by_default)
{
	MM_TEST_SETUP();
	harness_expect_crash();
	sleepy_run(false, false);
	FAIL("a sleeping lock in a non-blockable callback was not reported");
}

TEST(detector_sleep_ok_when_blockable_or_trylock)
{
	MM_TEST_SETUP();
	/* Fatal: any report fails the test. */
	sleepy_run(false, true); /* blockable: may sleep */
	sleepy_run(true, false); /* non-blockable, trylock: correct */
	ASSERT_UEQ(might_sleep_reports(), 0);
}

/* ---- the invalidation lockdep map ---- */

struct greedy {
	struct mmu_interval_notifier sub;
	struct sm_mutex lock;
	int invalidations;
};

static bool greedy_invalidate(struct mmu_interval_notifier *sub,
			      const struct mmu_notifier_range *range, unsigned long cur_seq)
{
	struct greedy *g = container_of(sub, struct greedy, sub);

	(void)range;
	sm_mutex_lock(&g->lock);
	mmu_interval_set_seq(sub, cur_seq);
	g->invalidations++;
	sm_mutex_unlock(&g->lock);
	return true;
}

static const struct mmu_interval_notifier_ops greedy_ops = {.invalidate = greedy_invalidate};

static struct mm_struct *greedy_setup(struct greedy *g, enum lock_rank rank)
{
	struct mm_struct *mm = mm_new_mapped(1, PROT_RW, false);

	memset(g, 0, sizeof(*g));
	sm_mutex_init(&g->lock, "greedy->lock", rank);
	ASSERT_EQ(mmu_interval_notifier_insert(&g->sub, mm, TBASE, PG(1), &greedy_ops), 0);
	return mm;
}

static void greedy_teardown(struct greedy *g, struct mm_struct *mm)
{
	mmu_interval_notifier_remove(&g->sub);
	mmput(mm);
}

/* The correct driver: read_begin with no lock held, the lock only to commit. */
TEST(detector_invalidate_map_correct_driver_passes)
{
	struct greedy g;
	struct mm_struct *mm;
	unsigned long seq;

	MM_TEST_SETUP();
	mm = greedy_setup(&g, LOCK_RANK_DRIVER_MMU);
	seq = mmu_interval_read_begin(&g.sub);
	sm_mutex_lock(&g.lock);
	ASSERT(!mmu_interval_read_retry(&g.sub, seq));
	sm_mutex_unlock(&g.lock);
	ASSERT_EQ(mm_madvise(mm, TBASE, PG(1), MADV_DONTNEED), 0);
	ASSERT_EQ(g.invalidations, 1);
	greedy_teardown(&g, mm);
}

/*
 * The callback's lock held around mmu_interval_read_begin(): read_begin
 * would wait for an invalidation that waits for the lock. No invalidation
 * runs here at all; the map reports the order at read_begin.
 */
TEST(detector_invalidate_map_lock_held_around_read_begin)
{
	struct greedy g;
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = greedy_setup(&g, LOCK_RANK_DRIVER_MMU);
	/* The callback took it once: the lock ranks above the map. */
	ASSERT_EQ(mm_madvise(mm, TBASE, PG(1), MADV_DONTNEED), 0);
	harness_expect_crash();
	sm_mutex_lock(&g.lock);
	(void)mmu_interval_read_begin(&g.sub);
	FAIL("a callback's lock held around mmu_interval_read_begin() was not reported");
}

/*
 * The other way round: a lock ranked to be held around read_begin (just
 * below the map, above every lock the invalidation path holds) that the
 * callback takes is reported at the first invalidation -- against the map --
 * although nobody holds it then.
 */
TEST(detector_invalidate_map_callback_takes_outer_lock)
{
	struct greedy g;
	struct mm_struct *mm;
	unsigned long seq;

	MM_TEST_SETUP();
	mm = greedy_setup(&g, (enum lock_rank)(LOCK_RANK_INVALIDATE_MAP - 1));
	sm_mutex_lock(&g.lock);
	seq = mmu_interval_read_begin(&g.sub); /* allowed: it ranks below the map */
	ASSERT(!mmu_interval_read_retry(&g.sub, seq));
	sm_mutex_unlock(&g.lock);
	harness_expect_crash();
	ASSERT_EQ(mm_madvise(mm, TBASE, PG(1), MADV_DONTNEED), 0);
	FAIL("an outer lock taken inside an invalidate callback was not reported");
}

/* unregister and synchronize are checked the same way. */
TEST(detector_invalidate_map_lock_held_around_synchronize)
{
	struct sm_mutex l;

	MM_TEST_SETUP();
	sm_mutex_init(&l, "callback lock", LOCK_RANK_DRIVER_MMU);
	harness_expect_crash();
	sm_mutex_lock(&l);
	mmu_notifier_synchronize();
	FAIL("a callback-rank lock held around mmu_notifier_synchronize() was not reported");
}
