// SPDX-License-Identifier: MIT
/*
 * Notifier stress on the real primary MMU, with real threads.
 *
 * collision_retry: a mirror device keeps a table of (pfn, gen) translations
 * of an interval. Fault threads fill it with the collision-retry protocol
 * (read_begin; follow_pfn_pte under mmap_read_lock; driver lock; read_retry;
 * install); a mutator unmaps, remaps, rewrites and mprotects the range; a
 * checker walks the table. Invariants:
 *   - at install, the frame read from the primary table is still the one
 *     allocated when it was read (page_gen_valid);
 *   - at every moment, every valid entry names a live frame (invalidations
 *     reach the device before frames are freed);
 *   - right after munmap returns, no entry of the range is left.
 *
 * classic_churn: classic subscriptions are registered, unregistered and
 * freed (poisoned) while invalidations run; a missing grace period in
 * unregister shows up as a use-after-free under ASan.
 *
 * exit_vs_unregister: the release claim under real exits with real pages.
 *
 * Iteration counts are kept moderate: CI runs this under ThreadSanitizer.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "../harness.h"
#include "base/alloc.h"
#include "base/debug.h"
#include "base/rcu.h"
#include "secmmu/mmu_notifier.h"
#include "sync_util.h"
#include "testutil.h"

#define BASE   0x100000UL
#define NPAGES 32
#define LEN    (NPAGES * PAGE_SIZE)

/* Physical memory and the leak check at teardown (tests/testutil.h). */
static void setup(void)
{
	MM_TEST_SETUP_BYTES(64 << 20);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the mirror device ---- */

struct entry {
	unsigned long pfn;
	uint32_t gen;
	bool valid;
};

struct mirror {
	struct mmu_interval_notifier sub;
	struct mm_struct *mm;
	struct sm_mutex lock; /* the driver lock: table, set_seq, read_retry */
	struct entry table[NPAGES];
	_Atomic bool stop;
	_Atomic long installs, retries, invalidations, stale;
};

static bool mirror_invalidate(struct mmu_interval_notifier *sub,
			      const struct mmu_notifier_range *range, unsigned long cur_seq)
{
	struct mirror *m = container_of(sub, struct mirror, sub);
	unsigned long start = range->start < BASE ? BASE : range->start;
	unsigned long end = range->end > BASE + LEN ? BASE + LEN : range->end;

	sm_mutex_lock(&m->lock);
	mmu_interval_set_seq(sub, cur_seq);
	for (unsigned long a = start; a < end; a += PAGE_SIZE) {
		struct entry *e = &m->table[(a - BASE) / PAGE_SIZE];

		/* Every page still mapped at start: the entry must be live. */
		if (e->valid && !page_gen_valid(e->pfn, e->gen))
			atomic_fetch_add(&m->stale, 1);
		e->valid = false;
	}
	sm_mutex_unlock(&m->lock);
	atomic_fetch_add(&m->invalidations, 1);
	return true;
}

static const struct mmu_interval_notifier_ops mirror_ops = {.invalidate = mirror_invalidate};

/*
 * One device fault on page @i: the collision-retry protocol. No retry
 * count: every retry follows an invalidation of the range (which
 * mmu_interval_read_begin() waits out) or a CPU fault that mapped the page,
 * so the loop ends when the other threads stop, and an unmapped page ends
 * it at once.
 */
static void mirror_fault(struct mirror *m, unsigned int i)
{
	unsigned long addr = BASE + i * PAGE_SIZE;

	for (;;) {
		unsigned long seq, pfn;
		bool writable;
		uint32_t gen;
		char c;
		int r;

		seq = mmu_interval_read_begin(&m->sub);
		mmap_read_lock(m->mm);
		r = follow_pfn_pte(m->mm, addr, &pfn, &writable, &gen);
		mmap_read_unlock(m->mm);
		if (r) {
			/* Not present: fault it in as the CPU would, or give up if unmapped. */
			if (mm_read(m->mm, addr, &c, 1))
				return;
			continue;
		}
		sm_mutex_lock(&m->lock);
		if (mmu_interval_read_retry(&m->sub, seq)) {
			sm_mutex_unlock(&m->lock);
			atomic_fetch_add(&m->retries, 1);
			continue;
		}
		/* The translation read under no lock must not be stale now. */
		if (!page_gen_valid(pfn, gen))
			atomic_fetch_add(&m->stale, 1);
		m->table[i] = (struct entry){pfn, gen, true};
		sm_mutex_unlock(&m->lock);
		atomic_fetch_add(&m->installs, 1);
		return;
	}
}

static void *fault_thread(void *arg)
{
	struct mirror *m = arg;
	unsigned int x = (unsigned int)(uintptr_t)&x;

	while (!atomic_load(&m->stop)) {
		x = x * 1103515245u + 12345u;
		mirror_fault(m, (x >> 8) % NPAGES);
	}
	return NULL;
}

/* Every valid entry names a live frame, at every moment. */
static void *checker_thread(void *arg)
{
	struct mirror *m = arg;

	while (!atomic_load(&m->stop)) {
		sm_mutex_lock(&m->lock);
		for (int i = 0; i < NPAGES; i++)
			if (m->table[i].valid && !page_gen_valid(m->table[i].pfn, m->table[i].gen))
				atomic_fetch_add(&m->stale, 1);
		sm_mutex_unlock(&m->lock);
		sm_delay_us(100); /* the check period */
	}
	return NULL;
}

static int mirror_entries_in(struct mirror *m, unsigned long start, unsigned long end)
{
	int n = 0;

	sm_mutex_lock(&m->lock);
	for (unsigned long a = start; a < end; a += PAGE_SIZE)
		n += m->table[(a - BASE) / PAGE_SIZE].valid;
	sm_mutex_unlock(&m->lock);
	return n;
}

TEST(stress_interval_collision_retry)
{
	static char buf[LEN];
	struct sm_thread faulters[3], checker;
	struct mirror *m;
	uint64_t deadline;
	int rounds = 0;

	setup();
	m = kzalloc(sizeof(*m));
	/* Taken in the invalidate callback: a driver's table lock. */
	sm_mutex_init(&m->lock, "mirror->lock", LOCK_RANK_DRIVER_MMU);
	m->mm = mm_alloc();
	ASSERT_NOT_NULL(m->mm);
	ASSERT_EQ(mm_mmap(m->mm, BASE, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL, 0),
		  (long)BASE);
	memset(buf, 0x5a, sizeof(buf));
	ASSERT_EQ(mm_write(m->mm, BASE, buf, LEN), 0);
	ASSERT_EQ(mmu_interval_notifier_insert(&m->sub, m->mm, BASE, LEN, &mirror_ops), 0);

	for (int i = 0; i < 3; i++)
		ASSERT_EQ(sm_thread_create(&faulters[i], fault_thread, m, "fault %d", i), 0);
	ASSERT_EQ(sm_thread_create(&checker, checker_thread, m, "checker"), 0);

	deadline = now_ms() + 1500;
	while (now_ms() < deadline && rounds < 2000) {
		unsigned long off = (unsigned long)(rounds % 4) * (LEN / 4);
		unsigned long len = LEN / 4;

		rounds++;
		ASSERT_EQ(mm_munmap(m->mm, BASE + off, len), 0);
		/* Nothing can be mapped now: no translation may remain. */
		ASSERT_EQ(mirror_entries_in(m, BASE + off, BASE + off + len), 0);
		ASSERT_EQ(mm_mmap(m->mm, BASE + off, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL,
				  0),
			  (long)(BASE + off));
		ASSERT_EQ(mm_write(m->mm, BASE + off, buf, len), 0);
		if (rounds % 8 == 0) {
			ASSERT_EQ(mm_mprotect(m->mm, BASE, LEN, PROT_READ), 0);
			ASSERT_EQ(mm_mprotect(m->mm, BASE, LEN, PROT_READ | PROT_WRITE), 0);
		}
		if (rounds % 16 == 0)
			ASSERT_EQ(mm_madvise(m->mm, BASE + off, len, MADV_DONTNEED), 0);
	}
	atomic_store(&m->stop, true);
	for (int i = 0; i < 3; i++)
		sm_thread_join(&faulters[i]);
	sm_thread_join(&checker);

	printf("rounds=%d installs=%ld retries=%ld invalidations=%ld\n", rounds, m->installs,
	       m->retries, m->invalidations);
	ASSERT_EQ(m->stale, 0);
	ASSERT_GT(m->installs, 0);
	ASSERT_GT(m->invalidations, 0);

	mmu_interval_notifier_remove(&m->sub);
	mmput(m->mm);
	sm_mutex_destroy(&m->lock);
	kfree(m);
}

/* ---- classic churn ---- */

struct churn_sub {
	struct mmu_notifier mn;
	_Atomic long calls;
};

static int churn_start(struct mmu_notifier *mn, const struct mmu_notifier_range *range)
{
	(void)range;
	atomic_fetch_add(&container_of(mn, struct churn_sub, mn)->calls, 1);
	return 0;
}

static void churn_end(struct mmu_notifier *mn, const struct mmu_notifier_range *range)
{
	(void)range;
	atomic_fetch_add(&container_of(mn, struct churn_sub, mn)->calls, 1);
}

static const struct mmu_notifier_ops churn_ops = {
	.invalidate_range_start = churn_start,
	.invalidate_range_end = churn_end,
};

struct churn_ctx {
	struct mm_struct *mm;
	_Atomic bool stop;
};

static void *churn_invalidator(void *arg)
{
	struct churn_ctx *c = arg;
	char b = 1;

	while (!atomic_load(&c->stop)) {
		mm_write(c->mm, BASE, &b, 1);
		mm_madvise(c->mm, BASE, PAGE_SIZE, MADV_DONTNEED);
	}
	return NULL;
}

TEST(stress_classic_register_unregister_churn)
{
	struct churn_ctx c = {0};
	struct sm_thread inv[2];
	uint64_t deadline;

	setup();
	c.mm = mm_alloc();
	ASSERT_EQ(mm_mmap(c.mm, BASE, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL, 0),
		  (long)BASE);
	for (int i = 0; i < 2; i++)
		ASSERT_EQ(sm_thread_create(&inv[i], churn_invalidator, &c, "invalidator %d", i), 0);
	deadline = now_ms() + 1000;
	for (int i = 0; i < 400 && now_ms() < deadline; i++) {
		struct churn_sub *s = kzalloc(sizeof(*s));

		s->mn.ops = &churn_ops;
		ASSERT_EQ(mmu_notifier_register(&s->mn, c.mm), 0);
		sm_delay_us(1); /* let the invalidators call it */
		mmu_notifier_unregister(&s->mn, c.mm);
		/* Poisoned at once: a callback still running on it is a use after free. */
		kfree_sized(s, sizeof(*s));
	}
	atomic_store(&c.stop, true);
	for (int i = 0; i < 2; i++)
		sm_thread_join(&inv[i]);
	ASSERT_EQ(mm_count_read(c.mm), 1);
	mmput(c.mm);
}

/* ---- exit vs unregister, with pages ---- */

struct rel_sub {
	struct mmu_notifier mn;
	_Atomic int releases;
	_Atomic unsigned long frames_at_release;
};

static void rel_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct rel_sub *s = container_of(mn, struct rel_sub, mn);

	(void)mm;
	atomic_store(&s->frames_at_release, phys_used_frames());
	atomic_fetch_add(&s->releases, 1);
}

static const struct mmu_notifier_ops rel_ops = {.release = rel_release};

struct race {
	struct mm_struct *mm;
	struct rel_sub *s;
	struct test_barrier *bar;
};

static void *race_exit(void *arg)
{
	struct race *r = arg;

	test_barrier_wait(r->bar);
	mmput(r->mm);
	return NULL;
}

static void *race_unregister(void *arg)
{
	struct race *r = arg;

	test_barrier_wait(r->bar);
	mmu_notifier_unregister(&r->s->mn, r->mm);
	return NULL;
}

TEST(stress_exit_vs_unregister_release_once)
{
	static char buf[4 * PAGE_SIZE];
	struct test_barrier bar;
	uint64_t deadline;

	setup();
	test_barrier_init(&bar, 2);
	memset(buf, 7, sizeof(buf));
	deadline = now_ms() + 1500;
	for (int i = 0; i < 200 && now_ms() < deadline; i++) {
		struct mm_struct *mm = mm_alloc();
		struct rel_sub s = {.mn.ops = &rel_ops};
		struct race r = {mm, &s, &bar};
		unsigned long before;
		struct sm_thread t1, t2;

		ASSERT_EQ(mm_mmap(mm, BASE, sizeof(buf), PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL,
				  0),
			  (long)BASE);
		ASSERT_EQ(mm_write(mm, BASE, buf, sizeof(buf)), 0);
		ASSERT_EQ(mmu_notifier_register(&s.mn, mm), 0);
		mmgrab(mm);
		before = phys_used_frames();
		ASSERT_EQ(sm_thread_create(&t1, race_exit, &r, "exit"), 0);
		ASSERT_EQ(sm_thread_create(&t2, race_unregister, &r, "unregister"), 0);
		sm_thread_join(&t1);
		sm_thread_join(&t2);
		ASSERT_EQ(s.releases, 1);
		/* Whoever called it, ->release ran before exit freed a frame. */
		ASSERT_UEQ(s.frames_at_release, before);
		mmdrop(mm);
	}
	test_barrier_destroy(&bar);
}
