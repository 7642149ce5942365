/* SPDX-License-Identifier: MIT */
/*
 * Interleaving exploration: a controlled scheduler for small concurrency tests
 * (in the spirit of CHESS).
 *
 * WHAT IS CONTROLLED. explore_run() runs a test many times. A run is owned by
 * a controlled root thread: it calls the test's setup(), starts the
 * @nr_threads thread bodies, joins them, calls check(), runs the RCU
 * callbacks still queued and joins the explorer's RCU callback thread. Every
 * thread created through the thread API (base/thread.h) by a controlled thread
 * is controlled too: device DMA engines and fault workers, vCPUs, XPMEM node
 * threads started by setup() or by a thread body. Controlled threads run ONE
 * AT A TIME: a thread runs until it reaches a point, where it parks and the
 * explorer chooses which parked thread proceeds. The points are
 *
 *   - every ranked-lock acquisition (sm_mutex_lock*, sm_down_read,
 *     sm_down_write*): "point; trylock; if busy, block until a release";
 *   - every ranked-lock release (a point after the unlock);
 *   - every wait (base/wait.h): the thread blocks in the explorer until a
 *     wake-up of that wait queue, then parks; thread join (blocks until the
 *     thread finished); thread start;
 *   - RCU (base/rcu.h): the outermost sm_rcu_read_lock(), synchronize, barrier;
 *   - explicit sched_point("name") calls (tests, test drivers' callbacks).
 *
 * RCU under exploration is modelled here, not by liburcu: each controlled
 * thread's outermost read-side section is stamped with a logical clock; a
 * grace period that began at stamp S completes when no controlled thread is
 * in a section stamped before S; sm_call_rcu() callbacks run on a controlled
 * thread ("rcu callbacks", created at the first sm_call_rcu() of a run) once
 * their grace period completed, at points the explorer chooses.
 *
 * A blocked thread is runnable again only after the matching wake-up (a
 * release of its lock, a wake-up of its wait queue, the exit of the thread it
 * joins, the end of a read-side section). When every live controlled thread
 * is blocked, the run is a DEADLOCK, reported at once (no timeout): each
 * thread and what it is blocked on, and the schedule; then abort().
 *
 * Nothing is decided by the clock: the same schedule (or seed) replays the
 * identical run. The only timer is a diagnostic: a controlled thread that
 * holds the token for EXPLORE_STUCK_MS without reaching a point is waiting
 * on something the explorer does not see (a raw pthread wait, a sleep); that
 * is reported, naming the thread and its last point, and aborts. A thread
 * that is not controlled (created before the run, or not through the thread
 * API) and takes a ranked lock or waits while a run is active is counted in
 * explore_result.outside and named in the report; the suite keeps it at 0.
 *
 * Strategies: random (a seeded PRNG chooses at each choice); PCT
 * (probabilistic concurrency testing: random thread priorities, the highest
 * runnable runs, and d - 1 priority change points at random steps; a bug of
 * depth d is found with probability >= 1/(n k^(d-1)) per run for n threads
 * and k steps); and bounded DFS (depth-first over the choice sequence with a
 * preemption bound, and sleep sets: a thread whose next step is independent
 * of everything run since an equivalent alternative was explored is not
 * chosen again). Steps are independent when they touch different objects: a
 * lock step touches its lock, a wait step its wait queue, an RCU step the
 * grace-period state; a thread's start and the segment after a release
 * touch nothing shared that another thread touches without a point (data
 * shared outside locks is accessed right after a sched_point(), whose step
 * may touch anything).
 *
 * A failure -- explore_report_failure(), EXPLORE_ASSERT() in a thread body or
 * check, an abort() (BUG) while exploring, or a deadlock -- prints the
 * strategy, seed, run number and the schedule as
 *
 *   EXPLORE_SCHEDULE=1/lock:mmap_lock,0/unlock:mmap_lock,...
 *
 * (the thread chosen at each choice between two or more threads, with the
 * point it was parked at; thread ids are 0..nr_threads-1 for the bodies,
 * nr_threads for the root, then in creation order). explore_opts.replay or
 * that environment variable runs that one schedule (forced choices; where a
 * forced thread is not runnable, the default choice is taken and the
 * divergence is reported).
 *
 * The release cost of a point in library code is one relaxed load of
 * sched_explore_active and a predicted-not-taken branch.
 */
#ifndef SECMMU_BASE_SCHED_EXPLORE_H
#define SECMMU_BASE_SCHED_EXPLORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* Diagnostic only: a token held this long without a point is an invisible wait. */
#define EXPLORE_STUCK_MS 20000
/* Thread bodies of one test (the run may create more threads, see EXPLORE_MAX_SLOTS). */
#define EXPLORE_MAX_THREADS 8
/* Controlled threads of one run: bodies, root, and the threads they start. */
#define EXPLORE_MAX_SLOTS 32

/* True while an exploration runs (anyone may read it, relaxed). */
extern _Atomic bool sched_explore_active;

void __sched_point(const char *name);

/* A point at which the explorer may switch threads; no-op outside exploration. */
static inline void sched_point(const char *name)
{
	if (__builtin_expect(atomic_load_explicit(&sched_explore_active, memory_order_relaxed), 0))
		__sched_point(name);
}

/*
 * True while explore_run() runs a test that asked for the points of
 * lock-free code (explore_opts.lockfree).
 */
extern _Atomic bool sched_explore_lockfree;

/*
 * A point inside a lock-free algorithm (between a load and the CAS that
 * validates it, say): only the tests of that algorithm turn these on, so
 * that every other exploration keeps its choices at locks and waits, where
 * the races it looks for are. The same cost as sched_point() otherwise.
 */
static inline void sched_point_lockfree(const char *name)
{
	if (__builtin_expect(atomic_load_explicit(&sched_explore_lockfree, memory_order_relaxed),
			     0))
		__sched_point(name);
}

static inline bool sched_explore_on(void)
{
	return __builtin_expect(atomic_load_explicit(&sched_explore_active, memory_order_relaxed),
				0);
}

/* True when the calling thread is one of the explorer's controlled threads. */
bool sched_explore_controlled(void);

/*
 * Hooks for src/base (call only when sched_explore_on()).
 * sched_explore_acquire(): a point, then @trylock(@lock) until it succeeds,
 * blocking until a release while it fails. Returns false (nothing done) if
 * the caller is not a controlled thread.
 * sched_explore_release(): @lock was released (by anyone): threads blocked on
 * it may retry; then, if @point and the caller is controlled, a point.
 */
bool sched_explore_acquire(void *lock, bool (*trylock)(void *lock), const char *name);
void sched_explore_release(void *lock, const char *name, bool point);

/* After a failed trylock of @lock: block until its release (false: not controlled). */
bool sched_explore_wait_release(void *lock, const char *name);
/* base/wait.c: a controlled thread announces a wait on @obj, then blocks. */
void sched_explore_prepare_wait(const void *obj, const char *name);
void sched_explore_wait(void);
/* Wake every controlled thread waiting on @obj (any caller). */
void sched_explore_wake(const void *obj);

/* base/thread.c. created(): NULL unless the caller is controlled. */
struct ethread *sched_explore_thread_created(const char *name);
void sched_explore_thread_abandon(struct ethread *e);
void sched_explore_thread_start(struct ethread *e);
void sched_explore_thread_exit(struct ethread *e);
void sched_explore_join(struct ethread *e);

/* base/rcu.c, for controlled threads only (sched_explore_controlled()). */
struct sm_rcu_head;
void sched_explore_rcu_read_lock(void);
void sched_explore_rcu_read_unlock(void);
bool sched_explore_rcu_read_ongoing(void);
void sched_explore_synchronize_rcu(void);
void sched_explore_call_rcu(struct sm_rcu_head *head);
void sched_explore_rcu_barrier(void);

struct explore_test {
	const char *name;
	unsigned int nr_threads;
	/* Per run, on the run's root thread (controlled), before the bodies start. */
	void (*setup)(void *ctx);
	/* Body of thread @id, under control. */
	void (*thread)(unsigned int id, void *ctx);
	/*
	 * Per run, on the root thread (controlled), after every body returned:
	 * check the rule, and stop (join) every thread setup() started.
	 */
	void (*check)(void *ctx);
	void *ctx;
	/* Unused (deadlocks are detected when every thread is blocked); kept for the API. */
	unsigned int deadlock_ms;
};

struct explore_result {
	unsigned long runs;
	unsigned long choices;	 /* choice points over all runs */
	unsigned long max_depth; /* longest choice sequence of a run */
	unsigned long outside;	 /* lock ops/waits by uncontrolled threads during runs */
	bool complete;		 /* DFS: the bounded space was exhausted */
	unsigned long pruned;	 /* DFS: runs whose tail the sleep sets proved redundant */
};

enum explore_strategy {
	EXPLORE_STRATEGY_RANDOM, /* a seeded PRNG picks at every choice */
	EXPLORE_STRATEGY_PCT,	 /* probabilistic concurrency testing, depth d */
	EXPLORE_STRATEGY_DFS,	 /* bounded depth-first search over schedules */
};

/* Options of explore_run(); zero-initialised fields take the defaults. */
struct explore_opts {
	enum explore_strategy strategy;
	unsigned long seed; /* random/pct: run i uses seed + i */
	unsigned long runs; /* at most this many runs (0: 1000) */
	unsigned int depth; /* pct: bug depth d (0: 3) */
	unsigned int bound; /* dfs: preemption bound (0: 2) */
	double timeout_s;   /* stop starting new runs after this long (0: none) */
	const char *replay; /* non-NULL: run exactly this schedule, once */
	bool keep_going;    /* false: stop after the first failing run */
	bool no_reduction;  /* dfs: no sleep sets (every interleaving in the bound) */
	bool lockfree;	    /* sched_point_lockfree()s are points too (else no-ops) */
};

#define EXPLORE_MSG_MAX 512

/* What explore_run() found; the failure fields describe the first failing run. */
struct explore_run_report {
	unsigned long fails;	 /* failing runs */
	unsigned long distinct;	 /* distinct schedules (choice sequences) run */
	bool exhausted;		 /* dfs: the bounded space was exhausted */
	unsigned long fail_run;	 /* index of the first failing run */
	unsigned long fail_seed; /* its seed (random/pct) */
	char fail_msg[EXPLORE_MSG_MAX];
	char *fail_schedule; /* malloc'd replayable schedule string, or NULL; caller frees */
};

/*
 * explore_run - run @t under @o's strategy.
 *
 * Every run calls @t->setup, runs the threads under control, then @t->check.
 * A run fails when explore_report_failure() is called during it (from a
 * controlled thread or from @t->check); EXPLORE_ASSERT still _exit()s.
 * Fills @res (the run statistics) and @rep (may be NULL).
 *
 * Return: 0 when no run failed, 1 when one did, -EINVAL for bad options
 * (an unparsable @o->replay).
 */
int explore_run(const struct explore_test *t, const struct explore_opts *o,
		struct explore_result *res, struct explore_run_report *rep);

/*
 * Mark the current run as failed with a message, without exiting. Only the
 * first report of a run is kept. Callable from a controlled thread or from
 * the test's check().
 */
void explore_report_failure(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * explore_run_outside() - how many lock operations, waits, joins and thread
 * creations uncontrolled threads did in the current run so far (0: nothing
 * ran outside control). The first one is described in @what (@len bytes,
 * if @what is non-NULL). Callable from a controlled thread or the test's
 * check(); the scenario runner fails a run where it is not 0.
 */
unsigned long explore_run_outside(char *what, size_t len);

/* @runs runs, the i-th seeded with seed + i. */
void explore_run_random(const struct explore_test *t, unsigned long seed, unsigned long runs,
			struct explore_result *res);
/* Every schedule with at most @preempt_bound preemptions, up to @max_runs runs. */
void explore_run_dfs(const struct explore_test *t, unsigned int preempt_bound,
		     unsigned long max_runs, struct explore_result *res);

/* Report a failure with the current schedule and _exit(1). */
void explore_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));

#define EXPLORE_ASSERT(cond)                                                                       \
	do {                                                                                       \
		if (!(cond))                                                                       \
			explore_fail(__FILE__, __LINE__, "%s", #cond);                             \
	} while (0)

#define EXPLORE_ASSERT_EQ(a, b)                                                                    \
	do {                                                                                       \
		long long explore_a_ = (long long)(a), explore_b_ = (long long)(b);                \
		if (explore_a_ != explore_b_)                                                      \
			explore_fail(__FILE__, __LINE__, "%s == %s (%lld vs %lld)", #a, #b,        \
				     explore_a_, explore_b_);                                      \
	} while (0)

#endif /* SECMMU_BASE_SCHED_EXPLORE_H */
