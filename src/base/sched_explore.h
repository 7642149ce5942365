/* SPDX-License-Identifier: MIT */
/*
 * Interleaving exploration: a controlled scheduler for small concurrency tests
 * (in the spirit of CHESS).
 *
 * explore_run_random() / explore_run_dfs() start the @nr_threads threads of a
 * struct explore_test and run them ONE AT A TIME: a registered thread runs
 * until it reaches a synchronization point, where it parks and the explorer
 * chooses which registered thread proceeds next. The points are
 *
 *   - every ranked-lock acquisition (sm_mutex_lock*, sm_down_read,
 *     sm_down_write*): "sched point; trylock; if busy, block and yield", so
 *     the explorer only ever picks a runnable thread and never deadlocks on a
 *     lock itself;
 *   - every ranked-lock release (a point after the unlock);
 *   - explicit sched_point("name") calls (test code, test drivers' notifier
 *     callbacks and vm_ops).
 *
 * Threads that are not registered (the test's main thread, liburcu's threads,
 * worker threads of the library) run normally. Waits the explorer cannot see
 * (condition variables, liburcu grace periods and its futexes, sleeps) are
 * NOT controlled: if the chosen thread does not reach its next point within
 * EXPLORE_OUTSIDE_MS, it is considered to run outside control and another
 * thread is chosen; it rejoins at its next point. Such segments run truly
 * concurrently, so a schedule that went through one replays only
 * approximately.
 *
 * Strategies: random (a seeded PRNG chooses at each point) and exhaustive
 * (depth-first over the choice sequence with a preemption bound: a schedule
 * may switch away from a thread that could continue at most @preempt_bound
 * times; switches at blocking or exit are free).
 *
 * A failure -- EXPLORE_ASSERT() in a thread body or check, an abort() (BUG)
 * while exploring, or a deadlock (every registered thread blocked on a lock
 * and no progress for EXPLORE_DEADLOCK_MS) -- prints the strategy, seed, run
 * number and the schedule as
 *
 *   EXPLORE_SCHEDULE=1/lock:mmap_lock,0/unlock:mmap_lock,...
 *
 * A deadlock ends with abort() (SIGABRT), an assertion with _exit(1).
 * (The schedule is the thread chosen at each choice between two or more threads, with the
 * point it was parked at). Setting that environment variable makes every
 * explore_run_*() of the test run that one schedule once (forced choices;
 * where a forced thread is not runnable, the default choice is taken and the
 * divergence is reported).
 *
 * The release cost of a point in library code is one relaxed load of
 * sched_explore_active and a predicted-not-taken branch.
 */
#ifndef SECMMU_BASE_SCHED_EXPLORE_H
#define SECMMU_BASE_SCHED_EXPLORE_H

#include <stdatomic.h>
#include <stdbool.h>

/* Milliseconds without a point before a chosen thread is deemed outside control. */
#define EXPLORE_OUTSIDE_MS 20
/* Milliseconds without any progress before a blocked set is reported as a deadlock. */
#define EXPLORE_DEADLOCK_MS 3000
#define EXPLORE_MAX_THREADS 8

/* True while an exploration runs (anyone may read it, relaxed). */
extern _Atomic bool sched_explore_active;

void __sched_point(const char *name);

/* A point at which the explorer may switch threads; no-op outside exploration. */
static inline void sched_point(const char *name)
{
	if (__builtin_expect(atomic_load_explicit(&sched_explore_active, memory_order_relaxed), 0))
		__sched_point(name);
}

/* True when the calling thread is one of the explorer's registered threads. */
bool sched_explore_controlled(void);

/*
 * Hooks for base/lock.c (call only when sched_explore_active).
 * sched_explore_acquire(): a point, then @trylock(@lock) until it succeeds,
 * yielding while it fails. Returns false (nothing done) if the caller is not
 * a registered thread.
 * sched_explore_release(): @lock was released (by anyone): threads blocked on
 * it may retry; then, if @point and the caller is registered, a point.
 */
bool sched_explore_acquire(void *lock, bool (*trylock)(void *lock), const char *name);
void sched_explore_release(void *lock, const char *name, bool point);

struct explore_test {
	const char *name;
	unsigned int nr_threads;
	/* Per run, on the calling thread, before the threads start (uncontrolled). */
	void (*setup)(void *ctx);
	/* Body of thread @id, under control. */
	void (*thread)(unsigned int id, void *ctx);
	/* Per run, after every thread returned: check the rule (uncontrolled). */
	void (*check)(void *ctx);
	void *ctx;
	/* No progress for this long is a deadlock (0: EXPLORE_DEADLOCK_MS). */
	unsigned int deadlock_ms;
};

struct explore_result {
	unsigned long runs;
	unsigned long choices;	 /* choice points over all runs */
	unsigned long max_depth; /* longest choice sequence of a run */
	unsigned long outside;	 /* segments that ran outside control */
	bool complete;		 /* DFS: the bounded space was exhausted */
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
