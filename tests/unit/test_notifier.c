// SPDX-License-Identifier: MIT
/*
 * Classic MMU-notifier subscriptions: registration and its failures,
 * unregister, get/put, release at exit, and the invalidate_range_start/_end
 * dispatch rules (ordering, non-blocking failure and undo, arch TLB-only
 * subscribers, aging).
 *
 * These tests play the primary MMU themselves by calling the hooks directly
 * (as src/mm does), so that each rule is checked in isolation;
 * test_notifier_mm.c checks that the real mm paths call them right.
 */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../harness.h"
#include "base/alloc.h"
#include "base/rcu.h"
#include "base/sched_explore.h"
#include "base/signal.h"
#include "base/thread.h"
#include "mm/mm_types.h"
#include "secmmu/err.h"
#include "secmmu/mmu_notifier.h"
#include "secmmu/mmu_notifier_hooks.h"
#include "sync_util.h"
#include "testutil.h"

/* ---- common setup and leak check ---- */

/* Physical memory and the leak check at teardown (tests/testutil.h). */
static void setup(void)
{
	MM_TEST_SETUP_BYTES(64 << 20);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- a recording subscriber ---- */

enum rec_kind {
	R_START,
	R_END,
	R_RELEASE,
	R_ARCH,
	R_INTERVAL
};

struct rec_entry {
	enum rec_kind kind;
	int who;
	unsigned long start, end;
	enum mmu_notifier_event event;
};

#define LOG_MAX 256
static struct rec_entry rlog[LOG_MAX];
static _Atomic int nlog;

static void log_add(enum rec_kind kind, int who, unsigned long start, unsigned long end,
		    enum mmu_notifier_event event)
{
	int i = atomic_fetch_add(&nlog, 1);

	if (i < LOG_MAX)
		rlog[i] = (struct rec_entry){kind, who, start, end, event};
}

struct rec {
	struct mmu_notifier mn;
	int who;
	_Atomic int start_ret; /* what start returns when non-blockable */
	_Atomic int starts, ends, releases, arch, young_calls, change_ptes;
	_Atomic bool after_release; /* a callback came after ->release */
	_Atomic unsigned int sleep_in_start_ms;
	/* 1: the next start to come waits (it sets 2) until the test stores 0 */
	_Atomic int hold_in_start;
	_Atomic bool in_start, start_done;
	_Atomic uint64_t start_done_ns, release_ns;
	_Atomic int young; /* what the young callbacks answer */
};

static struct rec *to_rec(struct mmu_notifier *mn)
{
	return container_of(mn, struct rec, mn);
}

static void note_callback(struct rec *r)
{
	if (atomic_load(&r->releases))
		atomic_store(&r->after_release, true);
}

static int rec_start(struct mmu_notifier *mn, const struct mmu_notifier_range *range)
{
	struct rec *r = to_rec(mn);

	note_callback(r);
	atomic_fetch_add(&r->starts, 1);
	log_add(R_START, r->who, range->start, range->end, range->event);
	int one = 1;

	if (atomic_compare_exchange_strong(&r->hold_in_start, &one, 2)) {
		/* Held (not slept): a loaded machine cannot outlast the window. */
		test_flag_set(&r->in_start);
		sm_wait_var_event(&r->hold_in_start, !atomic_load(&r->hold_in_start));
	} else if (r->sleep_in_start_ms) {
		test_flag_set(&r->in_start);
		sm_delay_us(r->sleep_in_start_ms * 1000);
		atomic_store(&r->start_done_ns, now_ns());
		atomic_store(&r->start_done, true);
	}
	if (!mmu_notifier_range_blockable(range))
		return r->start_ret;
	return 0;
}

static void rec_end(struct mmu_notifier *mn, const struct mmu_notifier_range *range)
{
	struct rec *r = to_rec(mn);

	/*
	 * Not note_callback(): an _end pairs with a start delivered before
	 * ->release (the core delivers no start after it), and must come even
	 * if ->release ran in between.
	 */
	atomic_fetch_add(&r->ends, 1);
	log_add(R_END, r->who, range->start, range->end, range->event);
}

static void rec_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct rec *r = to_rec(mn);

	(void)mm;
	atomic_store(&r->release_ns, now_ns());
	atomic_fetch_add(&r->releases, 1);
	log_add(R_RELEASE, r->who, 0, 0, MMU_NOTIFY_RELEASE);
}

static int rec_young(struct mmu_notifier *mn, struct mm_struct *mm, unsigned long s,
		     unsigned long e)
{
	struct rec *r = to_rec(mn);

	(void)mm, (void)s, (void)e;
	note_callback(r);
	atomic_fetch_add(&r->young_calls, 1);
	return r->young;
}

static int rec_test_young(struct mmu_notifier *mn, struct mm_struct *mm, unsigned long a)
{
	return rec_young(mn, mm, a, a + PAGE_SIZE);
}

static void rec_change_pte(struct mmu_notifier *mn, struct mm_struct *mm, unsigned long a,
			   unsigned long pfn, bool w)
{
	struct rec *r = to_rec(mn);

	(void)mm, (void)a, (void)pfn, (void)w;
	note_callback(r);
	atomic_fetch_add(&r->change_ptes, 1);
}

static void rec_arch(struct mmu_notifier *mn, struct mm_struct *mm, unsigned long s,
		     unsigned long e)
{
	struct rec *r = to_rec(mn);

	(void)mm;
	note_callback(r);
	atomic_fetch_add(&r->arch, 1);
	log_add(R_ARCH, r->who, s, e, MMU_NOTIFY_UNMAP);
}

static const struct mmu_notifier_ops rec_ops = {
	.release = rec_release,
	.invalidate_range_start = rec_start,
	.invalidate_range_end = rec_end,
	.clear_flush_young = rec_young,
	.clear_young = rec_young,
	.test_young = rec_test_young,
	.change_pte = rec_change_pte,
};

/* May fail a non-blockable start, so it has no _end. */
static const struct mmu_notifier_ops rec_failing_ops = {
	.release = rec_release,
	.invalidate_range_start = rec_start,
};

static const struct mmu_notifier_ops rec_arch_ops = {
	.release = rec_release,
	.arch_invalidate_secondary_tlbs = rec_arch,
};

static void rec_init(struct rec *r, const struct mmu_notifier_ops *ops, int who)
{
	memset(r, 0, sizeof(*r));
	r->mn.ops = ops;
	r->who = who;
}

static void invalidate(struct mm_struct *mm, unsigned long start, unsigned long end,
		       enum mmu_notifier_event event)
{
	struct mmu_notifier_range range;

	mmu_notifier_range_init(&range, event, 0, mm, start, end);
	mmu_notifier_invalidate_range_start(&range);
	mmu_notifier_invalidate_range_end(&range);
}

/* ---- registration ---- */

TEST(notifier_register_invalidate_unregister)
{
	struct mm_struct *mm;
	struct rec r;

	setup();
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	ASSERT(!mm_has_notifiers(mm));
	invalidate(mm, 0x10000, 0x20000, MMU_NOTIFY_UNMAP); /* fast path: nothing attached */

	rec_init(&r, &rec_ops, 1);
	ASSERT_EQ(mmu_notifier_register(&r.mn, mm), 0);
	ASSERT(mm_has_notifiers(mm));
	ASSERT_PTR_EQ(r.mn.mm, mm);
	ASSERT_EQ(mm_count_read(mm), 2); /* Pairs with the mmdrop in unregister. */

	invalidate(mm, 0x10000, 0x20000, MMU_NOTIFY_CLEAR);
	ASSERT_EQ(r.starts, 1);
	ASSERT_EQ(r.ends, 1);
	ASSERT_EQ(nlog, 2);
	ASSERT_EQ(rlog[0].kind, R_START);
	ASSERT_UEQ(rlog[0].start, 0x10000);
	ASSERT_UEQ(rlog[0].end, 0x20000);
	ASSERT_EQ(rlog[0].event, MMU_NOTIFY_CLEAR);
	ASSERT_EQ(rlog[1].kind, R_END);

	mmu_notifier_unregister(&r.mn, mm);
	ASSERT_EQ(r.releases, 1);
	ASSERT_EQ(mm_count_read(mm), 1);
	invalidate(mm, 0x10000, 0x20000, MMU_NOTIFY_CLEAR);
	ASSERT_EQ(r.starts, 1);
	mmput(mm);
	ASSERT_EQ(r.releases, 1);
}

TEST(notifier_register_arch_with_start_end_is_einval)
{
	static const struct mmu_notifier_ops bad1 = {
		.arch_invalidate_secondary_tlbs = rec_arch,
		.invalidate_range_start = rec_start,
	};
	static const struct mmu_notifier_ops bad2 = {
		.arch_invalidate_secondary_tlbs = rec_arch,
		.invalidate_range_end = rec_end,
	};
	struct mm_struct *mm;
	struct rec r;

	setup();
	mm = mm_alloc();
	rec_init(&r, &bad1, 1);
	ASSERT_EQ(mmu_notifier_register(&r.mn, mm), -EINVAL);
	rec_init(&r, &bad2, 1);
	ASSERT_EQ(mmu_notifier_register(&r.mn, mm), -EINVAL);
	/* Nothing left behind: no container, no count. */
	ASSERT(!mm_has_notifiers(mm));
	ASSERT_EQ(mm_count_read(mm), 1);

	rec_init(&r, &rec_arch_ops, 1);
	ASSERT_EQ(mmu_notifier_register(&r.mn, mm), 0);
	mmu_notifier_arch_invalidate_secondary_tlbs(mm, 0x10000, 0x11000);
	ASSERT_EQ(r.arch, 1);
	ASSERT_UEQ(rlog[0].start, 0x10000);
	ASSERT_UEQ(rlog[0].end, 0x11000);
	mmu_notifier_unregister(&r.mn, mm);
	mmput(mm);
}

TEST(notifier_register_after_last_mmput_is_einval)
{
	struct mm_struct *mm;
	struct mmu_interval_notifier isub;
	static const struct mmu_interval_notifier_ops iops = {0};
	struct rec r;

	setup();
	mm = mm_alloc();
	mmgrab(mm);
	mmput(mm); /* the last user: exit has run */
	ASSERT_EQ(mm_users_read(mm), 0);
	rec_init(&r, &rec_ops, 1);
	ASSERT_EQ(mmu_notifier_register(&r.mn, mm), -EINVAL);
	ASSERT_EQ(mmu_interval_notifier_insert(&isub, mm, 0x10000, PAGE_SIZE, &iops), -EINVAL);
	ASSERT_EQ(r.releases, 0);
	ASSERT_EQ(mm_count_read(mm), 1);
	mmdrop(mm);
}

TEST(notifier_register_enomem_leaves_nothing)
{
	struct mm_struct *mm;
	struct rec r;
	unsigned long hits;
	long live;

	setup();
	live = kzalloc_live();
	mm = mm_alloc();
	rec_init(&r, &rec_ops, 1);
	hits = fault_inject_alloc_hits();
	fault_inject_alloc(1); /* the subscriptions container */
	ASSERT_EQ(mmu_notifier_register(&r.mn, mm), -ENOMEM);
	ASSERT_UEQ(fault_inject_alloc_hits(), hits + 1);
	ASSERT(!mm_has_notifiers(mm));
	ASSERT_EQ(mm_count_read(mm), 1);
	ASSERT_EQ(kzalloc_live(), live + 2); /* only the mm and its pgd */

	ASSERT_EQ(mmu_notifier_register(&r.mn, mm), 0);
	mmu_notifier_unregister(&r.mn, mm);
	mmput(mm);
}

struct eintr_ctx {
	struct mm_struct *mm;
	struct rec *r;
	_Atomic(struct sm_sigstate *) sig;
	_Atomic int result;
	_Atomic bool done;
};

static void *eintr_registrar(void *arg)
{
	struct eintr_ctx *c = arg;

	atomic_store(&c->sig, sm_signal_self());
	sm_wake_up_var(&c->sig); /* Pairs with the wait in the test. */
	atomic_store(&c->result, mmu_notifier_register(&c->r->mn, c->mm));
	atomic_store(&c->done, true);
	sm_signal_clear();
	return NULL;
}

TEST(notifier_register_eintr_then_retry)
{
	struct eintr_ctx c = {0};
	struct mm_struct *mm;
	struct sm_thread t;
	struct rec r;
	long live;

	setup();
	live = kzalloc_live();
	mm = mm_alloc();
	rec_init(&r, &rec_ops, 1);
	c.mm = mm;
	c.r = &r;
	c.result = 1;

	sm_down_read(&mm->rmap_lock); /* an invalidator in flight */
	ASSERT_EQ(sm_thread_create(&t, eintr_registrar, &c, "registrar"), 0);
	sm_wait_var_event(&c.sig, atomic_load(&c.sig));
	sm_delay_us(50000);	       /* time to reach the wait in mm_take_all_locks */
	ASSERT(!atomic_load(&c.done)); /* blocked in mm_take_all_locks */
	sm_signal(atomic_load(&c.sig));
	sm_thread_join(&t);
	sm_up_read(&mm->rmap_lock);

	ASSERT_EQ(c.result, -EINTR);
	ASSERT(!mm_has_notifiers(mm));
	ASSERT_EQ(mm_count_read(mm), 1);
	ASSERT_EQ(kzalloc_live(), live + 2); /* the mm and its pgd */

	/* The same thread registers fine once the signal is handled. */
	c.done = false;
	c.sig = NULL;
	ASSERT_EQ(sm_thread_create(&t, eintr_registrar, &c, "registrar"), 0);
	sm_thread_join(&t);
	ASSERT_EQ(c.result, 0);
	mmu_notifier_unregister(&r.mn, mm);
	mmput(mm);
}

/* ---- unregister ---- */

struct inv_thread {
	struct mm_struct *mm;
	unsigned long start, end;
};

static void *invalidate_thread(void *arg)
{
	struct inv_thread *it = arg;

	invalidate(it->mm, it->start, it->end, MMU_NOTIFY_UNMAP);
	return NULL;
}

TEST(notifier_unregister_waits_for_sleeping_callback)
{
	struct inv_thread it;
	struct mm_struct *mm;
	uint64_t returned_ns;
	struct sm_thread t;
	struct rec r;

	setup();
	mm = mm_alloc();
	rec_init(&r, &rec_ops, 1);
	r.sleep_in_start_ms = 100;
	ASSERT_EQ(mmu_notifier_register(&r.mn, mm), 0);

	it = (struct inv_thread){mm, 0x10000, 0x20000};
	ASSERT_EQ(sm_thread_create(&t, invalidate_thread, &it, "invalidate"), 0);
	test_flag_wait(&r.in_start);
	mmu_notifier_unregister(&r.mn, mm);
	returned_ns = now_ns();
	/* Reliable: the sleeping callback had returned before unregister did. */
	ASSERT(atomic_load(&r.start_done));
	ASSERT_ULE(r.start_done_ns, returned_ns);
	/* ->release came after the in-flight callback, and once. */
	ASSERT_EQ(r.releases, 1);
	ASSERT_ULE(r.start_done_ns, r.release_ns);
	sm_thread_join(&t);
	/*
	 * Its _end is delivered if it comes before unregister unhooks, lost
	 * if after (as in Linux); never an _end without a start.
	 */
	ASSERT_EQ(r.starts, 1);
	ASSERT(r.ends <= 1);
	mmput(mm);
}

TEST(notifier_no_callback_after_release_at_exit)
{
	struct mm_struct *mm;
	struct rec r, a;

	setup();
	mm = mm_alloc();
	rec_init(&r, &rec_ops, 1);
	rec_init(&a, &rec_arch_ops, 2);
	ASSERT_EQ(mmu_notifier_register(&r.mn, mm), 0);
	ASSERT_EQ(mmu_notifier_register(&a.mn, mm), 0);
	mmgrab(mm);
	mmput(mm); /* exit: mmu_notifier_release */
	ASSERT_EQ(r.releases, 1);
	ASSERT_EQ(a.releases, 1);

	/* An rmap walker still reaches the dead mm: nothing may be delivered. */
	invalidate(mm, 0x10000, 0x20000, MMU_NOTIFY_CLEAR);
	mmu_notifier_arch_invalidate_secondary_tlbs(mm, 0x10000, 0x20000);
	ASSERT_EQ(mmu_notifier_clear_flush_young(mm, 0, ULONG_MAX), 0);
	ASSERT_EQ(mmu_notifier_test_young(mm, 0x10000), 0);
	mmu_notifier_change_pte(mm, 0x10000, 1, true);
	ASSERT(!r.after_release);
	ASSERT(!a.after_release);
	ASSERT_EQ(r.starts + r.ends + r.young_calls + r.change_ptes, 0);

	mmu_notifier_unregister(&r.mn, mm);
	mmu_notifier_unregister(&a.mn, mm);
	ASSERT_EQ(r.releases, 1); /* not again */
	ASSERT_EQ(a.releases, 1);
	mmdrop(mm);
}

/*
 * Regression (the clean pass of the museum's release-unhooked-first found it):
 * an invalidation whose start reached a subscription just before exit took
 * it off the list must still deliver its _end; without the wait for open
 * ranges, the _end walked the emptied list and the subscriber's
 * in-progress count stayed raised for good. Every schedule with one
 * preemption of an invalidation racing exit.
 */
struct start_end_race {
	struct mm_struct *mm;
	struct rec r;
	unsigned long runs, unpaired, delivered;
};

/* One explored run ended: count it, and report a start that got no _end. */
static void ser_count_run(struct start_end_race *c)
{
	c->runs++;
	if (c->r.starts != c->r.ends) {
		c->unpaired++;
		explore_report_failure("%d starts but %d ends", c->r.starts, c->r.ends);
	}
}

/* Explore @t (a start_end_race in t->ctx) by DFS: complete, more than one run, none unpaired. */
static void ser_explore(const struct explore_test *t, unsigned int bound, unsigned long max_runs)
{
	struct start_end_race *c = t->ctx;
	struct explore_result res;

	if (getenv("EXPLORE_SCHEDULE"))
		harness_skip("EXPLORE_SCHEDULE set");
	setup();
	explore_run_dfs(t, bound, max_runs, &res);
	ASSERT(res.complete);
	ASSERT_UGT(c->runs, 1);
	ASSERT_UEQ(c->unpaired, 0);
}

static void ser_setup(void *ctx)
{
	struct start_end_race *c = ctx;

	c->mm = mm_alloc();
	rec_init(&c->r, &rec_ops, 1);
	if (mmu_notifier_register(&c->r.mn, c->mm))
		explore_report_failure("register failed");
	mmgrab(c->mm); /* the invalidation's rmap walk reaches the mm past exit */
}

static void ser_thread(unsigned int id, void *ctx)
{
	struct start_end_race *c = ctx;

	if (id == 0)
		invalidate(c->mm, 0x10000, 0x20000, MMU_NOTIFY_CLEAR);
	else
		mmput(c->mm); /* exit: mmu_notifier_release */
}

static void ser_check(void *ctx)
{
	struct start_end_race *c = ctx;

	ser_count_run(c);
	mmu_notifier_unregister(&c->r.mn, c->mm);
	mmdrop(c->mm);
}

TEST(notifier_start_delivered_before_exit_unhook_gets_its_end)
{
	static struct start_end_race c;
	struct explore_test t = {.name = "start_end_vs_exit",
				 .nr_threads = 2,
				 .setup = ser_setup,
				 .thread = ser_thread,
				 .check = ser_check,
				 .ctx = &c};

	ser_explore(&t, 1, 2000);
}

/*
 * The open-range count is per thread (a thread slot, base/thread.h) with a
 * shared fallback: the same start/_end window against mmu_notifier_unregister()
 * (which bumps release_gen, waits a grace period, then sums the counts), with
 * up to two preemptions. Every start delivered gets its _end, and the
 * unregister's wait ends (a lost wake-up would be a deadlock, reported).
 */
static void seu_setup(void *ctx)
{
	struct start_end_race *c = ctx;

	c->mm = mm_alloc();
	rec_init(&c->r, &rec_ops, 1);
	if (mmu_notifier_register(&c->r.mn, c->mm))
		explore_report_failure("register failed");
}

static void seu_thread(unsigned int id, void *ctx)
{
	struct start_end_race *c = ctx;

	if (id == 0)
		invalidate(c->mm, 0x10000, 0x20000, MMU_NOTIFY_CLEAR);
	else
		mmu_notifier_unregister(&c->r.mn, c->mm);
}

static void seu_check(void *ctx)
{
	struct start_end_race *c = ctx;

	ser_count_run(c);
	if (c->r.starts)
		c->delivered++;
	mmput(c->mm);
}

TEST(notifier_start_delivered_before_unregister_unhook_gets_its_end)
{
	static struct start_end_race c;
	struct explore_test t = {.name = "start_end_vs_unregister",
				 .nr_threads = 2,
				 .setup = seu_setup,
				 .thread = seu_thread,
				 .check = seu_check,
				 .ctx = &c};

	ser_explore(&t, 2, 5000);
	/* Both outcomes were run: delivered (then ended), and not delivered at all. */
	ASSERT_UGT(c.delivered, 0);
	ASSERT_ULT(c.delivered, c.runs);
}

struct foreign_end {
	struct mm_struct *mm;
	struct mmu_notifier_range range;
	struct test_barrier *bar;
};

static void *start_only(void *arg)
{
	struct foreign_end *f = arg;

	mmu_notifier_range_init(&f->range, MMU_NOTIFY_CLEAR, 0, f->mm, 0x10000, 0x20000);
	mmu_notifier_invalidate_range_start(&f->range);
	return NULL;
}

static void *start_and_end(void *arg)
{
	struct foreign_end *f = arg;

	if (f->bar)
		test_barrier_wait(f->bar); /* every thread alive at once */
	invalidate(f->mm, 0x10000, 0x20000, MMU_NOTIFY_CLEAR);
	return NULL;
}

/*
 * A range started on one thread and ended on another (the starter has exited
 * meanwhile, and a new thread may own its slot): the _end is uncounted in
 * the shared counter, not in the starter's slot, and the count still comes
 * back to 0 -- unregister's wait for open ranges returns.
 */
TEST(notifier_range_ended_on_another_thread_is_uncounted)
{
	struct foreign_end f = {0};
	struct sm_thread t;
	struct rec r;

	setup();
	f.mm = mm_alloc();
	rec_init(&r, &rec_ops, 1);
	ASSERT_EQ(mmu_notifier_register(&r.mn, f.mm), 0);
	ASSERT_EQ(sm_thread_create(&t, start_only, &f, "starter"), 0);
	sm_thread_join(&t);
	mmu_notifier_invalidate_range_end(&f.range); /* on this thread */
	/* A new thread, likely in the starter's slot, counts its own range there. */
	ASSERT_EQ(sm_thread_create(&t, start_and_end, &f, "next owner"), 0);
	sm_thread_join(&t);
	ASSERT_EQ(atomic_load(&r.starts), 2);
	ASSERT_EQ(atomic_load(&r.ends), 2);
	mmu_notifier_unregister(&r.mn, f.mm); /* hangs if the count is not 0 */
	ASSERT_EQ(atomic_load(&r.releases), 1);
	mmput(f.mm);
}

/* More threads alive than thread slots: the ones without a slot count in the shared counter. */
TEST(notifier_more_threads_than_slots_count_in_the_shared_counter)
{
	enum {
		N = SM_THREAD_SLOTS + 8
	};
	static struct sm_thread t[N];
	struct test_barrier bar;
	struct foreign_end f = {0};
	struct rec r;

	setup();
	f.mm = mm_alloc();
	f.bar = &bar;
	test_barrier_init(&bar, N);
	rec_init(&r, &rec_ops, 1);
	ASSERT_EQ(mmu_notifier_register(&r.mn, f.mm), 0);
	for (int i = 0; i < N; i++)
		ASSERT_EQ(sm_thread_create(&t[i], start_and_end, &f, "inv%d", i), 0);
	for (int i = 0; i < N; i++)
		sm_thread_join(&t[i]);
	ASSERT_EQ(atomic_load(&r.starts), N);
	ASSERT_EQ(atomic_load(&r.ends), N);
	mmu_notifier_unregister(&r.mn, f.mm); /* hangs if the count is not 0 */
	test_barrier_destroy(&bar);
	mmput(f.mm);
}

struct race_ctx {
	struct mm_struct *mm;
	struct rec *r;
	struct test_barrier *bar;
};

static void *race_exit(void *arg)
{
	struct race_ctx *c = arg;

	test_barrier_wait(c->bar);
	mmput(c->mm);
	return NULL;
}

static void *race_unregister(void *arg)
{
	struct race_ctx *c = arg;

	test_barrier_wait(c->bar);
	mmu_notifier_unregister(&c->r->mn, c->mm);
	return NULL;
}

TEST(notifier_unregister_racing_exit_releases_once)
{
	struct test_barrier bar;

	setup();
	test_barrier_init(&bar, 2);
	for (int i = 0; i < 300; i++) {
		struct mm_struct *mm = mm_alloc();
		struct race_ctx c;
		struct sm_thread t1, t2;
		struct rec r;

		rec_init(&r, &rec_ops, 1);
		ASSERT_EQ(mmu_notifier_register(&r.mn, mm), 0);
		mmgrab(mm);
		c = (struct race_ctx){mm, &r, &bar};
		ASSERT_EQ(sm_thread_create(&t1, race_exit, &c, "exit"), 0);
		ASSERT_EQ(sm_thread_create(&t2, race_unregister, &c, "unregister"), 0);
		sm_thread_join(&t1);
		sm_thread_join(&t2);
		ASSERT_EQ(r.releases, 1);
		ASSERT(!r.after_release);
		ASSERT_EQ(mm_count_read(mm), 1);
		mmdrop(mm);
	}
	test_barrier_destroy(&bar);
}

/* Exit must not return (and free pages) before an unregister's ->release ran. */
static _Atomic bool slow_release_running, slow_release_done;

static void slow_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	(void)mm;
	test_flag_set(&slow_release_running);
	sm_delay_us(100000);
	atomic_fetch_add(&to_rec(mn)->releases, 1);
	atomic_store(&slow_release_done, true);
}

static const struct mmu_notifier_ops slow_release_ops = {
	.release = slow_release,
};

static void *unregister_thread(void *arg)
{
	struct race_ctx *c = arg;

	mmu_notifier_unregister(&c->r->mn, c->mm);
	return NULL;
}

TEST(notifier_exit_waits_for_release_claimed_by_unregister)
{
	struct mm_struct *mm;
	struct race_ctx c;
	struct sm_thread t;
	struct rec r;

	setup();
	mm = mm_alloc();
	rec_init(&r, &slow_release_ops, 1);
	ASSERT_EQ(mmu_notifier_register(&r.mn, mm), 0);
	mmgrab(mm);
	c = (struct race_ctx){mm, &r, NULL};
	ASSERT_EQ(sm_thread_create(&t, unregister_thread, &c, "unregister"), 0);
	test_flag_wait(&slow_release_running);
	mmput(mm); /* exit_mmap */
	ASSERT(atomic_load(&slow_release_done));
	sm_thread_join(&t);
	ASSERT_EQ(r.releases, 1);
	mmdrop(mm);
}

/*
 * A reader that sleeps in Y's callback holds the grace period open, so exit
 * sits between claiming ->release of X and calling it. An unregister of X
 * in that window must neither skip X's ->release nor return before it ran.
 */
struct exit_ctx {
	struct mm_struct *mm;
	_Atomic bool done;
};

static void *exit_thread(void *arg)
{
	struct exit_ctx *c = arg;

	mmput(c->mm);
	atomic_store(&c->done, true);
	return NULL;
}

TEST(notifier_unregister_during_exit_grace_period_still_releases)
{
	struct inv_thread it;
	struct exit_ctx ec;
	struct mm_struct *mm;
	struct sm_thread t1, t2;
	struct rec x, y;

	setup();
	mm = mm_alloc();
	rec_init(&x, &rec_ops, 1);
	rec_init(&y, &rec_ops, 2);
	ASSERT_EQ(mmu_notifier_register(&y.mn, mm), 0);
	ASSERT_EQ(mmu_notifier_register(&x.mn, mm), 0);
	y.sleep_in_start_ms = 200;
	mmgrab(mm);
	it = (struct inv_thread){mm, 0x10000, 0x20000};
	ASSERT_EQ(sm_thread_create(&t1, invalidate_thread, &it, "invalidate"), 0);
	test_flag_wait(&y.in_start);
	ec = (struct exit_ctx){mm, false};
	ASSERT_EQ(sm_thread_create(&t2, exit_thread, &ec, "exit"), 0);
	sm_delay_us(30000); /* exit has claimed X and Y and waits for the grace period */
	mmu_notifier_unregister(&x.mn, mm);
	ASSERT_EQ(x.releases, 1); /* exit ran it, and unregister waited for that */
	sm_thread_join(&t1);
	sm_thread_join(&t2);
	ASSERT_EQ(x.releases, 1);
	ASSERT_EQ(y.releases, 1);
	mmu_notifier_unregister(&y.mn, mm);
	ASSERT_EQ(y.releases, 1);
	mmdrop(mm);
}

struct unreg_ctx {
	struct mm_struct *mm;
	struct rec *r;
	_Atomic bool done;
};

static void *unreg_thread(void *arg)
{
	struct unreg_ctx *c = arg;

	mmu_notifier_unregister(&c->r->mn, c->mm);
	atomic_store(&c->done, true);
	return NULL;
}

/*
 * While unregister has claimed ->release and not finished it, the
 * subscription still gets every callback (as Linux, where it stays hooked):
 * a munmap or reclaim in that window frees pages the subscriber may map.
 */
TEST(notifier_callbacks_delivered_until_unregister_release_done)
{
	struct unreg_ctx uc;
	struct inv_thread it;
	struct mm_struct *mm;
	struct sm_thread t1, t2;
	struct rec x, y;
	int starts, ends;

	setup();
	mm = mm_alloc();
	rec_init(&x, &rec_ops, 1);
	rec_init(&y, &rec_ops, 2);
	ASSERT_EQ(mmu_notifier_register(&y.mn, mm), 0);
	ASSERT_EQ(mmu_notifier_register(&x.mn, mm), 0);
	/*
	 * Y holds the invalidating thread (its reader) in start until the
	 * checks below are done: no sleep of fixed length to outlast.
	 */
	atomic_store(&y.hold_in_start, 1);
	it = (struct inv_thread){mm, 0x10000, 0x20000};
	ASSERT_EQ(sm_thread_create(&t1, invalidate_thread, &it, "invalidate"), 0);
	test_flag_wait(&y.in_start);
	uc = (struct unreg_ctx){mm, &x, false};
	ASSERT_EQ(sm_thread_create(&t2, unreg_thread, &uc, "unregister"), 0);
	sm_delay_us(30000); /* mostly: unregister has claimed X's ->release, waits for the reader */
	ASSERT(!atomic_load(&uc.done)); /* the reader is held */
	starts = x.starts;
	ends = x.ends;
	invalidate(mm, 0x10000, 0x20000, MMU_NOTIFY_CLEAR);
	ASSERT_EQ(mmu_notifier_clear_young(mm, 0x10000, 0x20000), 0);
	ASSERT_EQ(x.starts, starts + 1); /* X is being released: still told */
	ASSERT_EQ(x.ends, ends + 1);
	ASSERT_EQ(x.young_calls, 1);
	ASSERT(!atomic_load(&uc.done));
	atomic_store(&y.hold_in_start, 0);
	sm_wake_up_var(&y.hold_in_start); /* Pairs with the wait in rec_start(). */
	sm_thread_join(&t1);
	sm_thread_join(&t2);
	ASSERT_EQ(x.releases, 1);
	ASSERT(!x.after_release);
	mmu_notifier_unregister(&y.mn, mm);
	mmput(mm);
}

/* ---- get / put ---- */

struct got {
	struct mmu_notifier mn;
	int id;
};

static _Atomic int allocs, frees;

static struct mmu_notifier *got_alloc(struct mm_struct *mm)
{
	struct got *g = kzalloc(sizeof(*g));

	(void)mm;
	if (!g)
		return ERR_PTR(-ENOMEM);
	g->id = atomic_fetch_add(&allocs, 1);
	return &g->mn;
}

static void got_free(struct mmu_notifier *mn)
{
	atomic_fetch_add(&frees, 1);
	kfree(container_of(mn, struct got, mn));
}

static _Atomic int got_releases;

static void got_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	(void)mn, (void)mm;
	atomic_fetch_add(&got_releases, 1);
}

static const struct mmu_notifier_ops got_ops = {
	.release = got_release,
	.invalidate_range_start = NULL,
	.alloc_notifier = got_alloc,
	.free_notifier = got_free,
};

static const struct mmu_notifier_ops got_ops2 = {
	.alloc_notifier = got_alloc,
	.free_notifier = got_free,
};

TEST(notifier_get_put_shares_and_frees_after_grace_period)
{
	struct mmu_notifier *a, *b, *c;
	struct mm_struct *mm;

	setup();
	mm = mm_alloc();
	a = mmu_notifier_get(&got_ops, mm);
	ASSERT(!IS_ERR(a));
	b = mmu_notifier_get(&got_ops, mm);
	ASSERT_PTR_EQ(a, b);
	c = mmu_notifier_get(&got_ops2, mm);
	ASSERT(!IS_ERR(c));
	ASSERT_PTR_NE(a, c);
	ASSERT_EQ(allocs, 2);
	ASSERT_EQ(mm_count_read(mm), 3);

	mmu_notifier_put(b);
	mmu_notifier_synchronize();
	ASSERT_EQ(frees, 0); /* a reference remains */
	mmu_notifier_put(a);
	mmu_notifier_put(c);
	mmu_notifier_synchronize();
	ASSERT_EQ(frees, 2);
	ASSERT_EQ(mm_count_read(mm), 1);
	ASSERT_EQ(got_releases, 0); /* put never calls ->release */

	/* A new get after the last put allocates afresh. */
	a = mmu_notifier_get(&got_ops, mm);
	ASSERT_EQ(allocs, 3);
	mmu_notifier_put(a);
	mmu_notifier_synchronize();
	ASSERT_EQ(frees, 3);
	mmput(mm);
	ASSERT_EQ(got_releases, 0);
}

TEST(notifier_get_enomem_frees_nothing_twice)
{
	struct mmu_notifier *a;
	struct mm_struct *mm;

	setup();
	mm = mm_alloc();
	fault_inject_alloc(1); /* the driver's object */
	a = mmu_notifier_get(&got_ops, mm);
	ASSERT_EQ(PTR_ERR(a), -ENOMEM);
	fault_inject_alloc(2); /* the subscriptions container */
	a = mmu_notifier_get(&got_ops, mm);
	ASSERT_EQ(PTR_ERR(a), -ENOMEM);
	ASSERT_EQ(frees, 1); /* free_notifier undid the allocation */
	ASSERT_EQ(mm_count_read(mm), 1);
	mmput(mm);
}

TEST(notifier_put_after_exit_frees_struct_from_rcu_callback)
{
	struct mmu_notifier *a;
	struct mm_struct *mm;
	unsigned long id;
	int users, count;

	setup();
	mm = mm_alloc();
	id = mm_id(mm);
	a = mmu_notifier_get(&got_ops, mm);
	ASSERT(!IS_ERR(a));
	mmput(mm); /* release runs, the struct lives on the subscription's count */
	ASSERT_EQ(got_releases, 1);
	ASSERT_EQ(mm_query_refs(id, &users, &count), 0);
	ASSERT_EQ(users, 0);
	ASSERT_EQ(count, 1);
	mmu_notifier_put(a); /* the last mmdrop happens in the RCU callback */
	mmu_notifier_synchronize();
	ASSERT_EQ(frees, 1);
	ASSERT_EQ(mm_query_refs(id, &users, &count), -ESRCH);
	ASSERT_EQ(got_releases, 1);
}

/* ---- dispatch ---- */

TEST(notifier_nonblock_eagain_ends_the_started_ones_only)
{
	struct mmu_notifier_range range;
	struct rec a, b, c;
	struct mm_struct *mm;

	setup();
	mm = mm_alloc();
	rec_init(&a, &rec_ops, 1);
	rec_init(&b, &rec_failing_ops, 2);
	rec_init(&c, &rec_ops, 3);
	b.start_ret = -EAGAIN;
	ASSERT_EQ(mmu_notifier_register(&a.mn, mm), 0);
	ASSERT_EQ(mmu_notifier_register(&b.mn, mm), 0);
	ASSERT_EQ(mmu_notifier_register(&c.mn, mm), 0);

	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, 0x10000, 0x30000);
	ASSERT_EQ(mmu_notifier_invalidate_range_start_nonblock(&range), -EAGAIN);
	ASSERT(!mmu_notifier_range_blockable(&range));
	ASSERT_EQ(a.starts, 1);
	ASSERT_EQ(a.ends, 1);
	ASSERT_EQ(b.starts, 1);
	ASSERT_EQ(b.ends, 0);
	ASSERT_EQ(c.starts, 1);
	ASSERT_EQ(c.ends, 1);
	ASSERT_EQ(nlog, 5); /* three starts, two ends, nothing else */
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(rlog[i].kind, R_START);
	for (int i = 3; i < 5; i++) {
		ASSERT_EQ(rlog[i].kind, R_END);
		ASSERT_NE(rlog[i].who, 2);
		ASSERT_UEQ(rlog[i].start, 0x10000);
		ASSERT_UEQ(rlog[i].end, 0x30000);
	}

	/* Success path of the non-blocking start. */
	b.start_ret = 0;
	ASSERT_EQ(mmu_notifier_invalidate_range_start_nonblock(&range), 0);
	mmu_notifier_invalidate_range_end(&range);
	ASSERT_EQ(a.ends, 2);
	ASSERT_EQ(c.ends, 2);

	mmu_notifier_unregister(&a.mn, mm);
	mmu_notifier_unregister(&b.mn, mm);
	mmu_notifier_unregister(&c.mn, mm);
	mmput(mm);
}

static bool irec_invalidate(struct mmu_interval_notifier *sub,
			    const struct mmu_notifier_range *range, unsigned long cur_seq)
{
	mmu_interval_set_seq(sub, cur_seq);
	log_add(R_INTERVAL, 0, range->start, range->end, range->event);
	return true;
}

static const struct mmu_interval_notifier_ops irec_ops = {.invalidate = irec_invalidate};

TEST(notifier_interval_subscribers_before_classic)
{
	struct mmu_interval_notifier isub;
	struct mm_struct *mm;
	struct rec r;

	setup();
	mm = mm_alloc();
	rec_init(&r, &rec_ops, 1);
	ASSERT_EQ(mmu_notifier_register(&r.mn, mm), 0);
	ASSERT_EQ(mmu_interval_notifier_insert(&isub, mm, 0x10000, 0x10000, &irec_ops), 0);
	invalidate(mm, 0x18000, 0x19000, MMU_NOTIFY_UNMAP);
	ASSERT_EQ(nlog, 3);
	ASSERT_EQ(rlog[0].kind, R_INTERVAL);
	ASSERT_EQ(rlog[1].kind, R_START);
	ASSERT_EQ(rlog[2].kind, R_END);
	mmu_interval_notifier_remove(&isub);
	mmu_notifier_unregister(&r.mn, mm);
	mmput(mm);
}

TEST(notifier_classic_failure_ends_interval_invalidation)
{
	struct mmu_notifier_range range;
	struct mmu_interval_notifier isub;
	struct mm_struct *mm;
	unsigned long seq;
	struct rec b;

	setup();
	mm = mm_alloc();
	rec_init(&b, &rec_failing_ops, 2);
	b.start_ret = -EAGAIN;
	ASSERT_EQ(mmu_interval_notifier_insert(&isub, mm, 0x10000, 0x10000, &irec_ops), 0);
	ASSERT_EQ(mmu_notifier_register(&b.mn, mm), 0);
	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, 0x10000, 0x11000);
	ASSERT_EQ(mmu_notifier_invalidate_range_start_nonblock(&range), -EAGAIN);
	/* No _end will come: the interval side must be idle again, not stuck odd. */
	seq = mmu_interval_read_begin(&isub); /* would sleep forever otherwise */
	ASSERT(mmu_interval_read_retry(&isub, seq) == false);
	mmu_notifier_unregister(&b.mn, mm);
	mmu_interval_notifier_remove(&isub);
	mmput(mm);
}

static _Atomic int warned_start_calls;

static int bad_start(struct mmu_notifier *mn, const struct mmu_notifier_range *range)
{
	(void)mn, (void)range;
	atomic_fetch_add(&warned_start_calls, 1);
	return -ENOMEM;
}

static const struct mmu_notifier_ops bad_start_ops = {.invalidate_range_start = bad_start};

TEST(notifier_start_error_other_than_eagain_warns)
{
	struct mmu_notifier_range range;
	struct mm_struct *mm;
	unsigned long warns;
	struct rec r;

	setup();
	mm = mm_alloc();
	rec_init(&r, &bad_start_ops, 1);
	ASSERT_EQ(mmu_notifier_register(&r.mn, mm), 0);
	warns = sm_warn_count();
	invalidate(mm, 0x10000, 0x11000, MMU_NOTIFY_CLEAR); /* blockable: must not fail */
	ASSERT_UGT(sm_warn_count(), warns);
	warns = sm_warn_count();
	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, 0x10000, 0x11000);
	ASSERT_EQ(mmu_notifier_invalidate_range_start_nonblock(&range), -EAGAIN);
	ASSERT_UGT(sm_warn_count(), warns);
	ASSERT_EQ(warned_start_calls, 2);
	mmu_notifier_unregister(&r.mn, mm);
	mmput(mm);
}

TEST(notifier_young_aggregates)
{
	struct mm_struct *mm;
	struct rec a, b;

	setup();
	mm = mm_alloc();
	ASSERT_EQ(mmu_notifier_clear_young(mm, 0, PAGE_SIZE), 0);
	rec_init(&a, &rec_ops, 1);
	rec_init(&b, &rec_ops, 2);
	ASSERT_EQ(mmu_notifier_register(&a.mn, mm), 0);
	ASSERT_EQ(mmu_notifier_register(&b.mn, mm), 0);
	ASSERT_EQ(mmu_notifier_clear_flush_young(mm, 0x10000, 0x11000), 0);
	ASSERT_EQ(a.young_calls + b.young_calls, 2);
	b.young = 1;
	ASSERT_NE(mmu_notifier_clear_flush_young(mm, 0x10000, 0x11000), 0);
	ASSERT_NE(mmu_notifier_clear_young(mm, 0x10000, 0x11000), 0);
	ASSERT_EQ(a.young_calls + b.young_calls, 6); /* every subscriber is aged */
	a.young = 1;
	ASSERT_NE(mmu_notifier_test_young(mm, 0x10000), 0);
	ASSERT_EQ(a.young_calls + b.young_calls, 7); /* test_young stops at the first yes */
	mmu_notifier_change_pte(mm, 0x10000, 5, false);
	ASSERT_EQ(a.change_ptes, 1);
	ASSERT_EQ(b.change_ptes, 1);
	mmu_notifier_unregister(&a.mn, mm);
	mmu_notifier_unregister(&b.mn, mm);
	mmput(mm);
}

TEST(notifier_event_names)
{
	ASSERT_STR_EQ(mmu_notifier_event_name(MMU_NOTIFY_UNMAP), "unmap");
	ASSERT_STR_EQ(mmu_notifier_event_name(MMU_NOTIFY_PROTECTION_PAGE), "protection_page");
	ASSERT_STR_EQ(mmu_notifier_event_name(MMU_NOTIFY_RELEASE), "release");
	ASSERT_STR_EQ(mmu_notifier_event_name((enum mmu_notifier_event)99), "unknown");
}
