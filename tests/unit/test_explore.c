// SPDX-License-Identifier: MIT
/*
 * Self-tests of the interleaving explorer (base/sched_explore.h) on its own
 * substrate: strategies (random, PCT, DFS with sleep-set reduction), waits,
 * thread creation and RCU under control, deterministic deadlock detection,
 * and byte-identical replay (schedule and trace).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/lock.h"
#include "base/rcu.h"
#include "base/sched_explore.h"
#include "base/thread.h"
#include "base/wait.h"
#include "harness.h"
#include "secmmu/err.h"
#include "secmmu/mirror.h"
#include "secmmu/trace.h"
#include "testutil.h"

static void report(const char *what, const struct explore_result *r,
		   const struct explore_run_report *rep)
{
	printf("%s: %lu runs, %lu distinct, %lu failing, %lu pruned, %lu outside%s\n", what,
	       r->runs, rep ? rep->distinct : 0, rep ? rep->fails : 0, r->pruned, r->outside,
	       r->complete ? ", exhausted" : "");
	ASSERT_UEQ(r->outside, 0); /* every thread of every run is controlled */
}

/* ---- lost update: random, PCT, DFS (with and without reduction) ---- */

static int lu_value;

static void lu_setup(void *p)
{
	(void)p;
	lu_value = 0;
}

static void lu_thread(unsigned int id, void *p)
{
	int v;

	(void)id;
	(void)p;
	sched_point("read");
	v = __atomic_load_n(&lu_value, __ATOMIC_RELAXED);
	sched_point("write");
	__atomic_store_n(&lu_value, v + 1, __ATOMIC_RELAXED);
}

static void lu_check(void *p)
{
	(void)p;
	if (lu_value != 2)
		explore_report_failure("lost update: %d", lu_value);
}

static const struct explore_test lu_test = {.name = "lost_update",
					    .nr_threads = 2,
					    .setup = lu_setup,
					    .thread = lu_thread,
					    .check = lu_check};

TEST(explore_lost_update_every_strategy)
{
	struct explore_opts o;
	struct explore_run_report rep;
	struct explore_result r;

	memset(&o, 0, sizeof(o));
	o.strategy = EXPLORE_STRATEGY_RANDOM;
	o.runs = 50;
	o.keep_going = true;
	ASSERT_EQ(explore_run(&lu_test, &o, &r, &rep), 1);
	report("random", &r, &rep);
	ASSERT_UGT(rep.fails, 0);
	free(rep.fail_schedule);

	/* PCT, depth 2: one priority change point, enough for this bug. */
	o.strategy = EXPLORE_STRATEGY_PCT;
	o.depth = 2;
	ASSERT_EQ(explore_run(&lu_test, &o, &r, &rep), 1);
	report("pct d=2", &r, &rep);
	ASSERT_UGT(rep.fails, 0);
	ASSERT_UEQ(r.runs, 50);
	free(rep.fail_schedule);

	/* PCT, depth 1: no change point, a thread is never preempted: no bug. */
	o.depth = 1;
	ASSERT_EQ(explore_run(&lu_test, &o, &r, &rep), 0);
	ASSERT_UEQ(rep.fails, 0);
	ASSERT_UGT(rep.distinct, 1); /* both orders, by the random priorities */

	/*
	 * DFS: 14 schedules within bound 2 without reduction (test_interleave);
	 * with sleep sets the start steps commute (they touch nothing shared
	 * before the first point), the sched_point() steps may touch anything
	 * and keep every order: fewer runs, the bug still found.
	 */
	o.strategy = EXPLORE_STRATEGY_DFS;
	o.bound = 2;
	o.no_reduction = true;
	ASSERT_EQ(explore_run(&lu_test, &o, &r, &rep), 1);
	ASSERT(rep.exhausted);
	ASSERT_UEQ(r.runs, 14);
	free(rep.fail_schedule);
	o.no_reduction = false;
	ASSERT_EQ(explore_run(&lu_test, &o, &r, &rep), 1);
	report("dfs(2)", &r, &rep);
	ASSERT(rep.exhausted);
	ASSERT_UEQ(r.runs, 8);
	ASSERT_UGT(rep.fails, 0);
	free(rep.fail_schedule);

	/* PCT depth beyond the supported maximum is refused. */
	o.strategy = EXPLORE_STRATEGY_PCT;
	o.depth = 1000;
	ASSERT_EQ(explore_run(&lu_test, &o, &r, &rep), -EINVAL);
}

/* A failing seed replays the identical schedule. */
TEST(explore_pct_seed_replays)
{
	struct explore_opts o = {.strategy = EXPLORE_STRATEGY_PCT, .depth = 2, .runs = 100};
	struct explore_run_report rep, rep2;
	struct explore_result r;

	ASSERT_EQ(explore_run(&lu_test, &o, &r, &rep), 1);
	o.seed = rep.fail_seed;
	o.runs = 1;
	ASSERT_EQ(explore_run(&lu_test, &o, &r, &rep2), 1);
	ASSERT_STR_EQ(rep2.fail_schedule, rep.fail_schedule);
	free(rep.fail_schedule);
	free(rep2.fail_schedule);
}

/* ---- DFS: sleep sets do not enumerate equivalent schedules ---- */

static struct sm_mutex own_lock[2];
static int own_count[2];

static void own_setup(void *p)
{
	(void)p;
	own_count[0] = own_count[1] = 0;
}

/* Each thread works under its own lock: every interleaving is equivalent. */
static void own_thread(unsigned int id, void *p)
{
	(void)p;
	for (int i = 0; i < 3; i++) {
		sm_mutex_lock(&own_lock[id]);
		own_count[id]++;
		sm_mutex_unlock(&own_lock[id]);
	}
}

static void own_check(void *p)
{
	(void)p;
	if (own_count[0] != 3 || own_count[1] != 3)
		explore_report_failure("count %d %d", own_count[0], own_count[1]);
}

TEST(explore_dfs_reduction_counts)
{
	struct explore_test t = {.name = "independent",
				 .nr_threads = 2,
				 .setup = own_setup,
				 .thread = own_thread,
				 .check = own_check};
	struct explore_opts o = {.strategy = EXPLORE_STRATEGY_DFS, .bound = 3, .runs = 100000};
	struct explore_run_report rep;
	struct explore_result full, reduced;

	sm_mutex_init(&own_lock[0], "own_lock[0]", LOCK_RANK_LEAF);
	sm_mutex_init(&own_lock[1], "own_lock[1]", LOCK_RANK_LEAF);
	o.no_reduction = true;
	ASSERT_EQ(explore_run(&t, &o, &full, &rep), 0);
	report("independent dfs(3), no reduction", &full, &rep);
	ASSERT(rep.exhausted);
	o.no_reduction = false;
	ASSERT_EQ(explore_run(&t, &o, &reduced, &rep), 0);
	report("independent dfs(3), sleep sets", &reduced, &rep);
	ASSERT(rep.exhausted);
	/*
	 * Every step commutes with every step of the other thread (their
	 * locks differ, starts touch nothing shared): one equivalence class,
	 * explored by one run; the others are cut short as redundant.
	 */
	ASSERT_UEQ(full.runs, 266);
	ASSERT_UEQ(reduced.runs - reduced.pruned, 1);
	ASSERT_ULT(reduced.runs * 10, full.runs);
}

/* ... but a shared lock is dependent: both orders are still explored. */
static struct sm_mutex shared_lock;
static int shared_order[2], shared_n;

static void shared_setup(void *p)
{
	(void)p;
	shared_n = 0;
}

static void shared_thread(unsigned int id, void *p)
{
	(void)p;
	sm_mutex_lock(&shared_lock);
	shared_order[shared_n++] = (int)id;
	sm_mutex_unlock(&shared_lock);
}

static int first_seen[2];

static void shared_check(void *p)
{
	(void)p;
	first_seen[shared_order[0]]++;
	if (shared_order[0] == 1)
		explore_report_failure("thread 1 first");
}

TEST(explore_dfs_reduction_keeps_dependent_orders)
{
	struct explore_test t = {.name = "dependent",
				 .nr_threads = 2,
				 .setup = shared_setup,
				 .thread = shared_thread,
				 .check = shared_check};
	struct explore_opts o = {.strategy = EXPLORE_STRATEGY_DFS, .bound = 2, .keep_going = true};
	struct explore_run_report rep;
	struct explore_result r;

	sm_mutex_init(&shared_lock, "shared_lock", LOCK_RANK_LEAF);
	ASSERT_EQ(explore_run(&t, &o, &r, &rep), 1);
	report("dependent dfs(2)", &r, &rep);
	ASSERT(rep.exhausted);
	ASSERT_UGT(first_seen[0], 0);
	ASSERT_UGT(first_seen[1], 0);
	free(rep.fail_schedule);
}

/* ---- waits, threads and RCU are controlled ---- */

struct pc_ctx {
	struct sm_mutex lock;
	struct sm_waitq wq;
	int items;
	bool controlled_child;
};

static struct pc_ctx pc;

static void *pc_child(void *arg)
{
	(void)arg;
	pc.controlled_child = sched_explore_controlled();
	sm_mutex_lock(&pc.lock);
	pc.items++;
	sm_wake_up_all(&pc.wq);
	sm_mutex_unlock(&pc.lock);
	return NULL;
}

static void pc_setup(void *p)
{
	(void)p;
	pc.items = 0;
	pc.controlled_child = false;
}

static void pc_thread(unsigned int id, void *p)
{
	struct sm_thread child;

	(void)p;
	if (id == 0) {
		/* A thread started by a controlled thread is controlled. */
		ASSERT_EQ(sm_thread_create(&child, pc_child, NULL, "producer child"), 0);
		sm_thread_join(&child);
		return;
	}
	sm_mutex_lock(&pc.lock);
	sm_wait_event(&pc.wq, &pc.lock, pc.items > 0);
	sm_mutex_unlock(&pc.lock);
}

static void pc_check(void *p)
{
	(void)p;
	if (!pc.controlled_child || pc.items != 1)
		explore_report_failure("child controlled %d items %d", pc.controlled_child,
				       pc.items);
}

TEST(explore_waits_and_threads_controlled)
{
	struct explore_test t = {.name = "producer_consumer",
				 .nr_threads = 2,
				 .setup = pc_setup,
				 .thread = pc_thread,
				 .check = pc_check};
	struct explore_opts o = {.strategy = EXPLORE_STRATEGY_DFS, .bound = 2};
	struct explore_run_report rep;
	struct explore_result r;

	sm_mutex_init(&pc.lock, "pc.lock", LOCK_RANK_LEAF);
	sm_waitq_init(&pc.wq, "pc.wq");
	ASSERT_EQ(explore_run(&t, &o, &r, &rep), 0);
	report("producer_consumer dfs(2)", &r, &rep);
	ASSERT(rep.exhausted);
	ASSERT_UEQ(r.outside, 0);
	o.strategy = EXPLORE_STRATEGY_RANDOM;
	o.runs = 30;
	ASSERT_EQ(explore_run(&t, &o, &r, &rep), 0);
	ASSERT_UEQ(r.outside, 0);
}

/* A wait nobody will wake: every thread blocked, reported at once. */
static void stuck_thread(unsigned int id, void *p)
{
	(void)p;
	if (id == 1)
		return;
	sm_mutex_lock(&pc.lock);
	sm_wait_event(&pc.wq, &pc.lock, pc.items > 100);
	sm_mutex_unlock(&pc.lock);
}

TEST(explore_deadlock_on_wait_is_deterministic)
{
	struct explore_test t = {
		.name = "stuck", .nr_threads = 2, .setup = pc_setup, .thread = stuck_thread};
	struct explore_opts o = {.strategy = EXPLORE_STRATEGY_DFS};
	struct explore_result r;

	sm_mutex_init(&pc.lock, "pc.lock", LOCK_RANK_LEAF);
	sm_waitq_init(&pc.wq, "pc.wq");
	/* No timer: a huge stuck diagnostic cannot be what reports it. */
	setenv("EXPLORE_STUCK_MS", "3600000", 1);
	harness_expect_crash();
	explore_run(&t, &o, &r, NULL);
	FAIL("the deadlock was not reported");
}

/* RCU: a grace period waits for the readers that began before it. */
struct rcu_obj {
	int val;
	struct sm_rcu_head rh;
};

static struct rcu_obj rcu_a, rcu_b;
static struct rcu_obj *rcu_ptr;
static bool rcu_use_sync, rcu_use_call;
static _Atomic int rcu_bad;

static void rcu_setup(void *p)
{
	(void)p;
	rcu_a.val = 1;
	rcu_b.val = 2;
	rcu_ptr = &rcu_a;
	atomic_store(&rcu_bad, 0);
}

static void rcu_poison(struct sm_rcu_head *h)
{
	struct rcu_obj *o = container_of(h, struct rcu_obj, rh);

	__atomic_store_n(&o->val, -1, __ATOMIC_RELAXED);
}

static void rcu_thread(unsigned int id, void *p)
{
	(void)p;
	if (id == 0) {
		struct rcu_obj *o;

		sm_rcu_read_lock();
		o = sm_rcu_dereference(rcu_ptr);
		sched_point("in reader");
		if (__atomic_load_n(&o->val, __ATOMIC_RELAXED) < 0)
			atomic_store(&rcu_bad, 1);
		sm_rcu_read_unlock();
		return;
	}
	sm_rcu_assign_pointer(rcu_ptr, &rcu_b);
	if (rcu_use_call) {
		sm_call_rcu(&rcu_a.rh, rcu_poison);
		return;
	}
	if (rcu_use_sync)
		sm_synchronize_rcu();
	rcu_poison(&rcu_a.rh); /* "free" */
}

static void rcu_check(void *p)
{
	(void)p;
	sm_rcu_barrier();
	if (atomic_load(&rcu_bad))
		explore_report_failure("a reader saw a freed object");
	if (rcu_a.val != -1)
		explore_report_failure("the object was never freed");
}

TEST(explore_rcu_grace_periods_modelled)
{
	struct explore_test t = {.name = "rcu",
				 .nr_threads = 2,
				 .setup = rcu_setup,
				 .thread = rcu_thread,
				 .check = rcu_check};
	struct explore_opts o = {.strategy = EXPLORE_STRATEGY_DFS, .bound = 2};
	struct explore_run_report rep;
	struct explore_result r;

	rcu_use_sync = true;
	ASSERT_EQ(explore_run(&t, &o, &r, &rep), 0);
	report("rcu synchronize", &r, &rep);
	ASSERT(rep.exhausted);
	ASSERT_UEQ(r.outside, 0);

	rcu_use_sync = false;
	rcu_use_call = true;
	ASSERT_EQ(explore_run(&t, &o, &r, &rep), 0);
	report("rcu call_rcu", &r, &rep);
	ASSERT(rep.exhausted);
	ASSERT_UEQ(r.outside, 0);

	/* Without a grace period the explorer finds the use after free. */
	rcu_use_call = false;
	ASSERT_EQ(explore_run(&t, &o, &r, &rep), 1);
	ASSERT(strstr(rep.fail_msg, "freed object") != NULL);
	free(rep.fail_schedule);
}

/*
 * ---- sm_wake_up_var()'s fast path: no lock when no waiter is counted ----
 *
 * The waiter counts itself (under the bucket's lock) before it tests its
 * condition; the waker makes the condition true before it reads the count.
 * Every order of the two is explored: the waiter always wakes. The same
 * test with a waker that reads the count first (the broken order) is a
 * lost wake-up, which the explorer reports as a deadlock.
 */
static _Atomic int wv_flag;
static _Atomic int wv_saw_waiter, wv_saw_none;
static bool wv_broken;

static void wv_setup(void *p)
{
	(void)p;
	atomic_store(&wv_flag, 0);
}

static void wv_thread(unsigned int id, void *p)
{
	(void)p;
	if (id == 0) {
		sm_wait_var_event(&wv_flag, atomic_load(&wv_flag));
		return;
	}
	/* Shared data outside locks is touched right after a point (sched_explore.h). */
	sched_point("waker");
	if (wv_broken) {
		bool waiter = sm_var_has_waiters(&wv_flag);

		sched_point("broken waker: counted");
		atomic_store(&wv_flag, 1);
		if (waiter)
			sm_wake_up_var(&wv_flag);
		return;
	}
	atomic_store(&wv_flag, 1);
	atomic_fetch_add(sm_var_has_waiters(&wv_flag) ? &wv_saw_waiter : &wv_saw_none, 1);
	sm_wake_up_var(&wv_flag);
}

static void wv_check(void *p)
{
	(void)p;
	if (!atomic_load(&wv_flag))
		explore_report_failure("the waker did not run");
}

static const struct explore_test wv_test = {.name = "wake_up_var",
					    .nr_threads = 2,
					    .setup = wv_setup,
					    .thread = wv_thread,
					    .check = wv_check};

TEST(explore_wake_up_var_fast_path_loses_no_wakeup)
{
	struct explore_opts o = {.strategy = EXPLORE_STRATEGY_DFS, .bound = 3};
	struct explore_run_report rep;
	struct explore_result r;

	wv_broken = false;
	ASSERT_EQ(explore_run(&wv_test, &o, &r, &rep), 0);
	report("wake_up_var dfs(3)", &r, &rep);
	ASSERT(rep.exhausted);
	/* Both sides of the window were run: a waker that found a waiter, and one that did not. */
	ASSERT(atomic_load(&wv_saw_waiter) > 0);
	ASSERT(atomic_load(&wv_saw_none) > 0);
}

TEST(explore_wake_up_var_broken_order_is_a_lost_wakeup)
{
	struct explore_opts o = {.strategy = EXPLORE_STRATEGY_DFS, .bound = 3};
	struct explore_result r;

	wv_broken = true;
	/* No timer: a huge stuck diagnostic cannot be what reports it. */
	setenv("EXPLORE_STUCK_MS", "3600000", 1);
	harness_expect_crash();
	explore_run(&wv_test, &o, &r, NULL);
	FAIL("the lost wake-up was not reported");
}

/* ---- replay: the identical run, byte-identical trace ---- */

struct mt_ctx {
	struct mm_struct *mm;
	struct mirror *m;
	int read_ret;
};

static struct mt_ctx mt;

static void mt_setup(void *p)
{
	(void)p;
	mt.mm = mm_new_mapped(2, PROT_RW, false);
	write_pages(mt.mm, TBASE, 2, 7);
	mt.m = mirror_create(mt.mm, 0);
	ASSERT(!IS_ERR(mt.m));
}

static void mt_thread(unsigned int id, void *p)
{
	static uint8_t buf[PAGE_SIZE];

	(void)p;
	if (id == 0) {
		EXPLORE_ASSERT_EQ(mm_munmap(mt.mm, TBASE + PG(1), PG(1)), 0);
		return;
	}
	mt.read_ret = mirror_read(mt.m, TBASE + PG(1), buf, PAGE_SIZE);
}

static void mt_check(void *p)
{
	(void)p;
	mirror_destroy(mt.m);
	mmput(mt.mm);
	sm_rcu_barrier();
	if (mt.read_ret == -EFAULT)
		explore_report_failure("the device read after the munmap");
}

static const struct explore_test mt_test = {.name = "mirror_read_vs_munmap",
					    .nr_threads = 2,
					    .setup = mt_setup,
					    .thread = mt_thread,
					    .check = mt_check};

/* In a child process: replay @sched with a logical-clock trace to @path. */
static void replay_traced(const char *sched, const char *path)
{
	pid_t pid = fork();
	int st;

	ASSERT(pid >= 0);
	if (pid == 0) {
		struct explore_opts o = {.replay = sched};
		struct explore_run_report rep;
		struct explore_result r;
		int ret;

		trace_set_logical_clock(true);
		if (trace_open(path))
			_exit(3);
		ret = explore_run(&mt_test, &o, &r, &rep);
		trace_close();
		_exit(ret == 1 && r.outside == 0 ? 0 : 4);
	}
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 0);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	ASSERT_NOT_NULL(f);
	ASSERT_EQ(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	ASSERT(n > 0);
	rewind(f);
	buf = malloc((size_t)n);
	ASSERT_NOT_NULL(buf);
	ASSERT_UEQ(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

TEST(explore_replay_twice_byte_identical_trace)
{
	struct explore_opts o = {.strategy = EXPLORE_STRATEGY_DFS, .bound = 1};
	struct explore_run_report rep;
	struct explore_result r;
	char a[] = "/tmp/secmmu-replay-a-XXXXXX", b[] = "/tmp/secmmu-replay-b-XXXXXX";
	char *ta, *tb;
	size_t la, lb;
	int fa, fb;

	MM_TEST_SETUP();
	ASSERT_EQ(explore_run(&mt_test, &o, &r, &rep), 1);
	report("mirror_read_vs_munmap dfs(1)", &r, &rep);
	ASSERT_UEQ(r.outside, 0);
	ASSERT_NOT_NULL(rep.fail_schedule);
	fa = mkstemp(a);
	fb = mkstemp(b);
	ASSERT(fa >= 0 && fb >= 0);
	close(fa);
	close(fb);
	replay_traced(rep.fail_schedule, a);
	replay_traced(rep.fail_schedule, b);
	ta = slurp(a, &la);
	tb = slurp(b, &lb);
	printf("trace: %zu bytes\n", la);
	ASSERT_UEQ(la, lb);
	ASSERT_EQ(memcmp(ta, tb, la), 0);
	/* The device's DMA engine is in it, on its own track. */
	ASSERT(memmem(ta, la, "mirror dma", 10) != NULL);
	ASSERT(memmem(ta, la, "device_fault", 12) != NULL);
	free(ta);
	free(tb);
	unlink(a);
	unlink(b);
	free(rep.fail_schedule);
}
