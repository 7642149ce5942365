// SPDX-License-Identifier: MIT
/*
 * Interleaving exploration: see base/sched_explore.h.
 *
 * One token: only the controlled thread holding it (T_RUNNING) runs. A thread
 * arriving at a point parks (T_PARKED) and passes the token on through
 * pick(), which chooses among the parked threads. A thread that cannot go on
 * (a busy lock, a wait, a join, a grace period) is T_BLOCKED on an object
 * until a wake-up of that object makes it T_PARKED again. Thread creation is
 * accounted (nr_starting) so that the set pick() chooses from never depends
 * on how fast the OS starts a thread.
 *
 * The explorer's own mutex and condition variable are plain pthread ones:
 * the explorer is what ranked locks and waits call into, so it cannot be one
 * of them (documented exemption; see tests/unit/test_substrate.c). It is
 * never held while a ranked lock is taken (trylocks are done outside it; a
 * release generation closes the window between a failed trylock and
 * blocking).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/debug.h"
#include "base/rcu.h"
#include "base/sched_explore.h"
#include "base/thread.h"

_Atomic bool sched_explore_active;
_Atomic bool sched_explore_lockfree;

enum tstate {
	T_FREE,
	T_STARTING,
	T_PARKED,
	T_RUNNING,
	T_BLOCKED,
	T_DONE
};
enum pkind {
	P_START,
	P_USER,
	P_LOCK,
	P_UNLOCK,
	P_WAKE,
	P_RCU
};
enum strategy {
	S_RANDOM,
	S_PCT,
	S_DFS,
	S_FORCED
};

#define MAX_DEPTH 4096
#define SCHED_BUF 65536
#define MAX_STEPS 200000
#define MAX_FP	  6
#define PCT_MAX_D 16

/* The object of a step that touches nothing shared (the segment after a release). */
static const char ex_local_obj;
#define OBJ_LOCAL ((const void *)&ex_local_obj)
#define OBJ_ANY	  NULL /* a step that may touch anything */

struct ethread {
	pthread_t pt; /* bodies and the root (started here) */
	unsigned int id;
	enum tstate st;
	enum pkind kind;
	const char *point;
	const void *obj; /* what the step from this point touches first */
	const void *blocked_on;
	const char *blocked_name;
	bool on_lock;	      /* blocked on a ranked lock (not a wait) */
	const void *wait_obj; /* sched_explore_prepare_wait(), not woken yet */
	const char *wait_name;
	unsigned int rcu_nesting;
	unsigned long rcu_stamp;
	uint64_t prio; /* PCT */
	char name[SM_THREAD_NAME_MAX];
};

struct choice {
	uint32_t mask;	/* parked threads */
	uint32_t tried; /* DFS: alternatives taken or given up */
	uint32_t done;	/* DFS: alternatives whose subtree was explored */
	uint32_t sleep; /* DFS: the sleep set at this choice */
	uint8_t chosen;
	int8_t cur; /* the thread that held the token before, or -1 */
	uint16_t preempt_before;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	const struct explore_test *test;
	struct ethread th[EXPLORE_MAX_SLOTS];
	unsigned int n, nr_slots, nr_starting;
	int token, last;
	int64_t token_ns;
	unsigned long release_gen;
	unsigned long steps, outside;
	char outside_what[128];
	bool reported;
	unsigned int stuck_ms;
	/* strategy */
	enum strategy strat;
	uint64_t rng;
	unsigned long seed, run;
	unsigned int preempt_bound, preempts;
	unsigned int depth, prefix_len;
	struct choice ch[MAX_DEPTH];
	uint8_t forced[MAX_DEPTH];
	unsigned int nr_forced;
	bool diverged;
	/* DFS sleep sets */
	bool por, redundant;
	uint32_t sleep;
	const void *fp[MAX_FP];
	unsigned int fp_n;
	bool fp_any;
	/* PCT */
	unsigned int pct_d;
	unsigned long pct_k, pct_cp[PCT_MAX_D];
	/* RCU model */
	unsigned long rcu_clock;
	struct sm_rcu_head *cbq_head, **cbq_tail;
	bool cb_started, cb_stop, cb_running;
	struct sm_thread cb_thread;
	/* explore_report_failure() of the current run */
	bool run_failed;
	char run_msg[EXPLORE_MSG_MAX];
	/* the schedule, printable and replayable */
	char sched[SCHED_BUF];
	size_t sched_len;
	bool sched_truncated;
} ex = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Objects of the RCU model, and "every body finished" (addresses only). */
static char rcu_gp_obj, rcu_cbq_obj, rcu_done_obj, bodies_obj;

static pthread_once_t ex_once = PTHREAD_ONCE_INIT;
static _Thread_local struct ethread *ex_self;

static const char *const kind_prefix[] = {"start", "", "lock:", "unlock:", "wake:", "rcu:"};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void ex_init_once(void)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	BUG_ON(pthread_cond_init(&ex.cond, &a));
	pthread_condattr_destroy(&a);
}

bool sched_explore_controlled(void)
{
	return ex_self != NULL;
}

/* ---- the schedule text ---- */

static void sched_append(unsigned int id, const struct ethread *t)
{
	size_t room = SCHED_BUF - ex.sched_len;
	int n;

	if (ex.sched_truncated)
		return;
	n = snprintf(ex.sched + ex.sched_len, room, "%s%u/%s%s", ex.sched_len ? "," : "", id,
		     kind_prefix[t->kind], t->kind == P_START ? "" : t->point);
	if (n < 0 || (size_t)n >= room) {
		ex.sched[ex.sched_len] = '\0';
		ex.sched_truncated = true;
		return;
	}
	/* Names must not break the list: ',' becomes ';'. */
	for (char *p = ex.sched + ex.sched_len + 1; *p; p++)
		if (*p == ',')
			*p = ';';
	ex.sched_len += (size_t)n;
}

static const char *strategy_name(void)
{
	switch (ex.strat) {
	case S_RANDOM:
		return "random";
	case S_PCT:
		return "pct";
	case S_DFS:
		return "dfs";
	default:
		return "forced";
	}
}

static void print_schedule(FILE *f)
{
	fprintf(f, "explore: test=%s strategy=%s seed=%lu run=%lu choices=%u%s\n",
		ex.test ? ex.test->name : "?", strategy_name(), ex.seed, ex.run, ex.depth,
		ex.diverged ? " (diverged from the forced schedule)" : "");
	if (ex.outside)
		fprintf(f, "explore: %lu operation(s) by uncontrolled threads, first: %s\n",
			ex.outside, ex.outside_what);
	fprintf(f, "explore: replay with EXPLORE_SCHEDULE=%s%s\n", ex.sched,
		ex.sched_truncated ? " (truncated)" : "");
	fflush(f);
}

static void abort_handler(int sig)
{
	static const char msg[] = "explore: aborted; schedule so far:\nEXPLORE_SCHEDULE=";

	/* Only async-signal-safe calls: the buffer is always NUL-terminated. */
	if (write(2, msg, sizeof(msg) - 1) < 0 || write(2, ex.sched, ex.sched_len) < 0 ||
	    write(2, "\n", 1) < 0) {
		/* nothing more we can do */
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

void explore_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "explore: FAILED at %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	print_schedule(stderr);
	_exit(1);
}

/* ---- choosing ---- */

static uint64_t rng_next(void)
{
	uint64_t x = ex.rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	ex.rng = x;
	return x;
}

static unsigned int lowest(uint32_t mask)
{
	return (unsigned int)__builtin_ctz(mask);
}

static unsigned int default_choice(uint32_t mask, int cur)
{
	if (cur >= 0 && (mask & (1u << cur)))
		return (unsigned int)cur;
	return lowest(mask);
}

static bool indep(const void *a, const void *b)
{
	if (a == OBJ_LOCAL || b == OBJ_LOCAL)
		return true;
	return a && b && a != b;
}

/* Record that the running segment touched @obj (for the sleep sets). */
static void touch(const void *obj)
{
	if (!ex.por || obj == OBJ_LOCAL || !ex_self || ex.token != (int)ex_self->id)
		return;
	if (!obj || ex.fp_n == MAX_FP) {
		ex.fp_any = true;
		return;
	}
	for (unsigned int i = 0; i < ex.fp_n; i++)
		if (ex.fp[i] == obj)
			return;
	ex.fp[ex.fp_n++] = obj;
}

/* The segment that just ended: keep asleep only threads independent of it. */
static void sleep_filter(void)
{
	for (unsigned int u = 0; u < ex.nr_slots; u++) {
		if (!(ex.sleep & (1u << u)))
			continue;
		if (ex.th[u].st != T_PARKED || ex.fp_any) {
			ex.sleep &= ~(1u << u);
			continue;
		}
		for (unsigned int i = 0; i < ex.fp_n; i++)
			if (!indep(ex.th[u].obj, ex.fp[i])) {
				ex.sleep &= ~(1u << u);
				break;
			}
	}
}

static unsigned int pct_choice(uint32_t mask)
{
	unsigned int c = lowest(mask);

	for (unsigned int i = c + 1; i < ex.nr_slots; i++)
		if ((mask & (1u << i)) && ex.th[i].prio > ex.th[c].prio)
			c = i;
	return c;
}

static unsigned int choose(uint32_t mask, int cur)
{
	unsigned int d = ex.depth, c = default_choice(mask, cur);
	bool fresh = true;

	switch (ex.strat) {
	case S_RANDOM: {
		unsigned int k = (unsigned int)(rng_next() % (uint64_t)__builtin_popcount(mask));

		for (c = 0; c < EXPLORE_MAX_SLOTS; c++)
			if ((mask & (1u << c)) && k-- == 0)
				break;
		break;
	}
	case S_PCT:
		c = pct_choice(mask);
		break;
	case S_DFS:
		if (d < ex.prefix_len) {
			fresh = false;
			if (mask & (1u << ex.ch[d].chosen))
				c = ex.ch[d].chosen;
			else
				ex.diverged = true;
		} else if (!ex.redundant) {
			uint32_t awake = mask & ~ex.sleep;

			if (awake)
				c = default_choice(awake, cur);
			else
				ex.redundant = true; /* equivalent to a run already explored */
		}
		break;
	case S_FORCED:
		if (d < ex.nr_forced) {
			if (mask & (1u << ex.forced[d]))
				c = ex.forced[d];
			else
				ex.diverged = true;
		}
		break;
	}
	if (d < MAX_DEPTH) {
		struct choice *k = &ex.ch[d];

		if (fresh) {
			k->tried = 0;
			k->done = 0;
			k->sleep = ex.sleep & mask;
		} else if (k->mask != mask) {
			k->tried &= mask;
			k->done &= mask;
		}
		k->mask = mask;
		k->chosen = (uint8_t)c;
		k->cur = (int8_t)cur;
		k->preempt_before = (uint16_t)ex.preempts;
		k->tried |= 1u << c;
		if (ex.redundant && fresh)
			k->tried = mask; /* nothing below a redundant choice is explored */
		/* Siblings explored before sleep until a dependent step wakes them. */
		if (ex.por)
			ex.sleep = (ex.sleep | k->done) & ~(1u << c);
	}
	if (cur >= 0 && (mask & (1u << cur)) && c != (unsigned int)cur)
		ex.preempts++;
	ex.depth++;
	return c;
}

static void report_deadlock(const char *why);

static bool any_live(void)
{
	for (unsigned int i = 0; i < ex.nr_slots; i++)
		if (ex.th[i].st != T_DONE && ex.th[i].st != T_FREE)
			return true;
	return false;
}

/* Give the token to a parked thread, if there is one. Caller holds ex.lock. */
static void pick(void)
{
	uint32_t mask = 0;
	unsigned int c;

	ex.token = -1;
	if (ex.nr_starting)
		return; /* the thread being created joins the choice once it parked */
	if (ex.por && ex.last >= 0)
		sleep_filter();
	for (unsigned int i = 0; i < ex.nr_slots; i++)
		if (ex.th[i].st == T_PARKED)
			mask |= 1u << i;
	ex.sleep &= mask;
	if (!mask) {
		/*
		 * Nobody can run. With no uncontrolled thread in the game (none
		 * seen in this run, none alive from before it: a worker started
		 * ahead of a `secmmu run` block may be about to wake one), nothing
		 * will ever wake a blocked thread: a deadlock, now. Otherwise the
		 * stuck-token diagnostic in wait_turn() reports it.
		 */
		if (any_live() && !ex.outside && !atomic_load(&sm_threads_uncontrolled))
			report_deadlock("every controlled thread is blocked");
		return;
	}
	if (__builtin_popcount(mask) == 1) {
		c = lowest(mask);
		if (ex.strat == S_DFS && (ex.sleep & mask) && ex.prefix_len <= ex.depth)
			ex.redundant = true;
	} else {
		c = choose(mask, ex.last);
		sched_append(c, &ex.th[c]);
	}
	if (++ex.steps > MAX_STEPS)
		explore_fail(__FILE__, __LINE__, "more than %d steps in one run (livelock?)",
			     MAX_STEPS);
	if (ex.strat == S_PCT)
		for (unsigned int i = 0; i + 1 < ex.pct_d; i++)
			if (ex.pct_cp[i] == ex.steps)
				ex.th[c].prio = ex.pct_d - 1 - i; /* below every initial priority */
	ex.token = (int)c;
	ex.last = (int)c;
	ex.th[c].st = T_RUNNING;
	ex.token_ns = now_ns();
	ex.fp_n = 0;
	ex.fp_any = false;
	if (ex.por) {
		if (ex.th[c].obj == OBJ_ANY)
			ex.fp_any = true;
		else if (ex.th[c].obj != OBJ_LOCAL)
			ex.fp[ex.fp_n++] = ex.th[c].obj;
	}
	pthread_cond_broadcast(&ex.cond);
}

static void report_deadlock(const char *why)
{
	if (ex.reported)
		return;
	ex.reported = true;
	fflush(stdout);
	fprintf(stderr, "explore: DEADLOCK (%s):\n", why);
	for (unsigned int i = 0; i < ex.nr_slots; i++) {
		const struct ethread *t = &ex.th[i];

		if (t->st == T_BLOCKED)
			fprintf(stderr, "  thread %u (%s) blocked on %s (%p)\n", i, t->name,
				t->blocked_name, t->blocked_on);
		else if (t->st == T_RUNNING)
			fprintf(stderr, "  thread %u (%s) running (last point %s%s)\n", i, t->name,
				kind_prefix[t->kind], t->kind == P_START ? "" : t->point);
		else
			fprintf(stderr, "  thread %u (%s) %s\n", i, t->name,
				t->st == T_DONE	    ? "done"
				: t->st == T_PARKED ? "parked"
						    : "starting");
	}
	print_schedule(stderr);
	signal(SIGABRT, SIG_DFL);
	abort();
}

/*
 * Only with uncontrolled threads in the run: one of them may release a lock
 * where the explorer does not see it (pthread_cond_wait() releases the mutex
 * after the release was announced), so threads blocked on a lock retry it
 * when nobody runs. Never with controlled threads only: the decision path
 * has no timer.
 */
static void retry_locks(void)
{
	for (unsigned int i = 0; i < ex.nr_slots; i++) {
		struct ethread *t = &ex.th[i];

		if (t->st == T_BLOCKED && t->on_lock) {
			t->st = T_PARKED;
			t->kind = P_LOCK;
			t->point = t->blocked_name;
			t->obj = t->blocked_on;
		}
	}
	pick();
}

/* Wait until @self holds the token. Caller holds ex.lock. */
static void wait_turn(struct ethread *self)
{
	while (ex.token != (int)self->id) {
		struct timespec ts;
		int64_t t = now_ns() + 100 * 1000000L;

		ts.tv_sec = t / 1000000000L;
		ts.tv_nsec = t % 1000000000L;
		pthread_cond_timedwait(&ex.cond, &ex.lock, &ts);
		if (ex.token == (int)self->id || ex.reported)
			continue;
		if (ex.token < 0 && ex.outside)
			retry_locks();
		if (now_ns() - ex.token_ns < (int64_t)ex.stuck_ms * 1000000L)
			continue;
		/* A diagnostic, never a scheduling decision. */
		if (ex.token >= 0) {
			const struct ethread *t = &ex.th[ex.token];

			ex.reported = true;
			fflush(stdout);
			fprintf(stderr,
				"explore: thread %u (%s) has not reached a point for %u ms since "
				"%s%s: it waits on something the explorer does not control (a "
				"raw pthread wait, a sleep, a thread not created by "
				"sm_thread_create)\n",
				t->id, t->name, ex.stuck_ms, kind_prefix[t->kind],
				t->kind == P_START ? "" : t->point);
			print_schedule(stderr);
			signal(SIGABRT, SIG_DFL);
			abort();
		}
		report_deadlock("no controlled thread can run; uncontrolled threads did not help");
	}
}

/* Caller holds ex.lock and the token (or nobody does). */
static void give_up_token(struct ethread *self)
{
	if (ex.token == (int)self->id || ex.token < 0)
		pick();
}

static void park_locked(struct ethread *self, enum pkind kind, const char *name, const void *obj)
{
	self->st = T_PARKED;
	self->kind = kind;
	self->point = name;
	self->obj = obj;
	give_up_token(self);
	wait_turn(self);
}

static void park(struct ethread *self, enum pkind kind, const char *name, const void *obj)
{
	pthread_mutex_lock(&ex.lock);
	park_locked(self, kind, name, obj);
	pthread_mutex_unlock(&ex.lock);
}

/* Block until a wake-up of @obj, then wait for the token. Caller holds ex.lock. */
static void block_locked(struct ethread *self, const void *obj, const char *name)
{
	self->st = T_BLOCKED;
	self->blocked_on = obj;
	self->blocked_name = name;
	give_up_token(self);
	wait_turn(self);
}

static void wake_locked(const void *obj)
{
	touch(obj);
	for (unsigned int i = 0; i < ex.nr_slots; i++) {
		struct ethread *t = &ex.th[i];

		if (t->st == T_BLOCKED && t->blocked_on == obj) {
			t->st = T_PARKED;
			t->kind = P_WAKE;
			t->point = t->blocked_name;
			t->obj = obj;
		}
		if (t->wait_obj == obj)
			t->wait_obj = NULL;
	}
	if (ex.token < 0)
		pick();
}

/* Caller holds ex.lock. */
static void note_outside(const char *what, const char *name)
{
	if (!ex.outside++)
		snprintf(ex.outside_what, sizeof(ex.outside_what), "%s %s", what,
			 name ? name : "?");
}

unsigned long explore_run_outside(char *what, size_t len)
{
	unsigned long n;

	pthread_mutex_lock(&ex.lock);
	n = ex.outside;
	if (what && len)
		snprintf(what, len, "%s", n ? ex.outside_what : "");
	pthread_mutex_unlock(&ex.lock);
	return n;
}

void __sched_point(const char *name)
{
	if (ex_self)
		park(ex_self, P_USER, name, OBJ_ANY);
}

bool sched_explore_acquire(void *lock, bool (*trylock)(void *lock), const char *name)
{
	struct ethread *self = ex_self;
	unsigned long gen;

	if (!self) {
		pthread_mutex_lock(&ex.lock);
		note_outside("lock", name);
		pthread_mutex_unlock(&ex.lock);
		return false;
	}
	pthread_mutex_lock(&ex.lock);
	park_locked(self, P_LOCK, name, lock);
	for (;;) {
		gen = ex.release_gen;
		pthread_mutex_unlock(&ex.lock);
		if (trylock(lock))
			return true;
		pthread_mutex_lock(&ex.lock);
		if (ex.release_gen != gen)
			continue; /* released meanwhile: try again */
		self->on_lock = true;
		block_locked(self, lock, name);
		self->on_lock = false;
	}
}

void sched_explore_release(void *lock, const char *name, bool point)
{
	struct ethread *self = ex_self;

	pthread_mutex_lock(&ex.lock);
	ex.release_gen++;
	wake_locked(lock);
	if (self && point)
		park_locked(self, P_UNLOCK, name, OBJ_LOCAL);
	pthread_mutex_unlock(&ex.lock);
}

bool sched_explore_wait_release(void *lock, const char *name)
{
	struct ethread *self = ex_self;

	if (!self)
		return false;
	pthread_mutex_lock(&ex.lock);
	block_locked(self, lock, name);
	pthread_mutex_unlock(&ex.lock);
	return true;
}

void sched_explore_prepare_wait(const void *obj, const char *name)
{
	struct ethread *self = ex_self;

	pthread_mutex_lock(&ex.lock);
	self->wait_obj = obj;
	self->wait_name = name;
	pthread_mutex_unlock(&ex.lock);
}

void sched_explore_wait(void)
{
	struct ethread *self = ex_self;

	pthread_mutex_lock(&ex.lock);
	if (self->wait_obj)
		block_locked(self, self->wait_obj, self->wait_name);
	self->wait_obj = NULL;
	pthread_mutex_unlock(&ex.lock);
}

void sched_explore_wake(const void *obj)
{
	pthread_mutex_lock(&ex.lock);
	wake_locked(obj);
	pthread_mutex_unlock(&ex.lock);
}

/* ---- threads ---- */

/* Caller holds ex.lock. */
static struct ethread *slot_alloc(unsigned int id, const char *name)
{
	struct ethread *e = &ex.th[id];

	memset(e, 0, sizeof(*e));
	e->id = id;
	e->st = T_STARTING;
	e->kind = P_START;
	e->point = "start";
	snprintf(e->name, sizeof(e->name), "%s", name);
	if (ex.strat == S_PCT)
		e->prio = (rng_next() >> 1) + PCT_MAX_D; /* above every change-point priority */
	ex.nr_starting++;
	return e;
}

struct ethread *sched_explore_thread_created(const char *name)
{
	struct ethread *e = NULL;

	if (!sched_explore_on())
		return NULL;
	pthread_mutex_lock(&ex.lock);
	if (!ex_self) {
		note_outside("thread creation", name);
	} else {
		if (ex.nr_slots >= EXPLORE_MAX_SLOTS)
			explore_fail(__FILE__, __LINE__, "more than %d threads in one run",
				     EXPLORE_MAX_SLOTS);
		e = slot_alloc(ex.nr_slots++, name);
		touch(OBJ_ANY);
	}
	pthread_mutex_unlock(&ex.lock);
	return e;
}

void sched_explore_thread_abandon(struct ethread *e)
{
	pthread_mutex_lock(&ex.lock);
	e->st = T_DONE;
	ex.nr_starting--;
	pthread_mutex_unlock(&ex.lock);
}

void sched_explore_thread_start(struct ethread *e)
{
	ex_self = e;
	pthread_mutex_lock(&ex.lock);
	e->st = T_PARKED;
	e->obj = OBJ_LOCAL;
	ex.nr_starting--;
	if (ex.token < 0)
		pick();
	wait_turn(e);
	pthread_mutex_unlock(&ex.lock);
}

static bool bodies_done(void)
{
	for (unsigned int i = 0; i < ex.n; i++)
		if (ex.th[i].st != T_DONE)
			return false;
	return true;
}

void sched_explore_thread_exit(struct ethread *e)
{
	BUG_ON(e->rcu_nesting);
	pthread_mutex_lock(&ex.lock);
	e->st = T_DONE;
	wake_locked(e);
	if (e->id < ex.n && bodies_done())
		wake_locked(&bodies_obj);
	if (ex.token == (int)e->id)
		pick();
	pthread_cond_broadcast(&ex.cond);
	pthread_mutex_unlock(&ex.lock);
	ex_self = NULL;
}

void sched_explore_join(struct ethread *e)
{
	struct ethread *self = ex_self;

	pthread_mutex_lock(&ex.lock);
	if (!self) {
		note_outside("join", e->name);
		while (e->st != T_DONE)
			pthread_cond_wait(&ex.cond, &ex.lock);
	} else {
		/* Not a point: a join that need not wait changes nothing. */
		while (e->st != T_DONE)
			block_locked(self, e, e->name);
	}
	pthread_mutex_unlock(&ex.lock);
}

/* ---- RCU, modelled ---- */

/* No controlled thread is in a read-side section that began before @stamp. */
static bool gp_done(unsigned long stamp)
{
	for (unsigned int i = 0; i < ex.nr_slots; i++)
		if (ex.th[i].rcu_nesting && ex.th[i].rcu_stamp < stamp)
			return false;
	return true;
}

void sched_explore_rcu_read_lock(void)
{
	struct ethread *self = ex_self;

	pthread_mutex_lock(&ex.lock);
	if (self->rcu_nesting == 0) {
		park_locked(self, P_RCU, "rcu_read_lock", &rcu_gp_obj);
		self->rcu_stamp = ++ex.rcu_clock;
	}
	self->rcu_nesting++;
	pthread_mutex_unlock(&ex.lock);
}

void sched_explore_rcu_read_unlock(void)
{
	struct ethread *self = ex_self;

	pthread_mutex_lock(&ex.lock);
	BUG_ON(!self->rcu_nesting);
	if (--self->rcu_nesting == 0)
		wake_locked(&rcu_gp_obj);
	pthread_mutex_unlock(&ex.lock);
}

bool sched_explore_rcu_read_ongoing(void)
{
	return ex_self->rcu_nesting > 0;
}

void sched_explore_synchronize_rcu(void)
{
	struct ethread *self = ex_self;
	unsigned long stamp;

	BUG_ON(self->rcu_nesting);
	pthread_mutex_lock(&ex.lock);
	park_locked(self, P_RCU, "synchronize_rcu", &rcu_gp_obj);
	stamp = ++ex.rcu_clock;
	while (!gp_done(stamp))
		block_locked(self, &rcu_gp_obj, "grace period");
	pthread_mutex_unlock(&ex.lock);
}

/* Under exploration a head's liburcu storage holds our queue link and stamp. */
#define CB_NEXT(h)  ((struct sm_rcu_head *)(h)->urcu_head[0])
#define CB_STAMP(h) ((unsigned long)(uintptr_t)(h)->urcu_head[1])

static void *rcu_cb_thread(void *unused)
{
	struct ethread *self = ex_self;

	(void)unused;
	pthread_mutex_lock(&ex.lock);
	for (;;) {
		struct sm_rcu_head *h;

		while (!ex.cbq_head && !ex.cb_stop)
			block_locked(self, &rcu_cbq_obj, "rcu callbacks");
		h = ex.cbq_head;
		if (!h)
			break;
		while (!gp_done(CB_STAMP(h)))
			block_locked(self, &rcu_gp_obj, "grace period");
		ex.cbq_head = CB_NEXT(h);
		if (!ex.cbq_head)
			ex.cbq_tail = &ex.cbq_head;
		ex.cb_running = true;
		pthread_mutex_unlock(&ex.lock);
		h->fn(h);
		pthread_mutex_lock(&ex.lock);
		ex.cb_running = false;
		wake_locked(&rcu_done_obj);
	}
	pthread_mutex_unlock(&ex.lock);
	return NULL;
}

void sched_explore_call_rcu(struct sm_rcu_head *head)
{
	bool start;

	pthread_mutex_lock(&ex.lock);
	head->urcu_head[0] = NULL;
	head->urcu_head[1] = (void *)(uintptr_t)++ex.rcu_clock;
	*ex.cbq_tail = head;
	ex.cbq_tail = (struct sm_rcu_head **)&head->urcu_head[0];
	start = !ex.cb_started;
	ex.cb_started = true;
	wake_locked(&rcu_cbq_obj);
	pthread_mutex_unlock(&ex.lock);
	if (start)
		BUG_ON(sm_thread_create(&ex.cb_thread, rcu_cb_thread, NULL, "rcu callbacks"));
}

void sched_explore_rcu_barrier(void)
{
	struct ethread *self = ex_self;

	BUG_ON(self->rcu_nesting);
	pthread_mutex_lock(&ex.lock);
	park_locked(self, P_RCU, "rcu_barrier", &rcu_cbq_obj);
	while (ex.cbq_head || ex.cb_running)
		block_locked(self, &rcu_done_obj, "rcu_barrier");
	pthread_mutex_unlock(&ex.lock);
}

/* ---- runs ---- */

static void *body_main(void *arg)
{
	struct ethread *self = arg;

	sched_explore_thread_start(self);
	ex.test->thread(self->id, ex.test->ctx);
	sched_explore_thread_exit(self);
	return NULL;
}

/* The run's root: setup, the bodies, check, the RCU callbacks; all controlled. */
static void *root_main(void *arg)
{
	struct ethread *self = arg;
	const struct explore_test *t = ex.test;

	sched_explore_thread_start(self);
	if (t->setup)
		t->setup(t->ctx);
	for (unsigned int i = 0; i < ex.n; i++) {
		pthread_mutex_lock(&ex.lock);
		slot_alloc(i, "body");
		snprintf(ex.th[i].name, sizeof(ex.th[i].name), "body %u", i);
		pthread_mutex_unlock(&ex.lock);
		BUG_ON(pthread_create(&ex.th[i].pt, NULL, body_main, &ex.th[i]));
	}
	/* One wait for all bodies: the root is no candidate until they are done. */
	pthread_mutex_lock(&ex.lock);
	while (!bodies_done())
		block_locked(self, &bodies_obj, "the test's threads");
	pthread_mutex_unlock(&ex.lock);
	for (unsigned int i = 0; i < ex.n; i++)
		BUG_ON(pthread_join(ex.th[i].pt, NULL));
	if (t->check)
		t->check(t->ctx);
	/* Callbacks still queued run now, under control; then their thread ends. */
	if (ex.cb_started) {
		sched_explore_rcu_barrier();
		pthread_mutex_lock(&ex.lock);
		ex.cb_stop = true;
		wake_locked(&rcu_cbq_obj);
		pthread_mutex_unlock(&ex.lock);
		sm_thread_join(&ex.cb_thread);
	}
	pthread_mutex_lock(&ex.lock);
	for (unsigned int i = 0; i < ex.nr_slots; i++) {
		if (i == self->id || ex.th[i].st == T_DONE)
			continue;
		ex.reported = true;
		fflush(stdout);
		fprintf(stderr,
			"explore: thread %u (%s), started in the run, is still running at its "
			"end: the test's check() must stop every thread its setup() started\n",
			i, ex.th[i].name);
		print_schedule(stderr);
		signal(SIGABRT, SIG_DFL);
		abort();
	}
	pthread_mutex_unlock(&ex.lock);
	sched_explore_thread_exit(self);
	return NULL;
}

static void run_once(const struct explore_test *t, struct explore_result *res)
{
	struct sigaction sa, old;
	struct ethread *root;

	BUG_ON(t->nr_threads < 1 || t->nr_threads > EXPLORE_MAX_THREADS);
	pthread_mutex_lock(&ex.lock);
	ex.test = t;
	ex.n = t->nr_threads;
	memset(ex.th, 0, sizeof(ex.th));
	ex.nr_slots = ex.n + 1;
	ex.nr_starting = 0;
	ex.token = -1;
	ex.last = -1;
	ex.steps = 0;
	ex.outside = 0;
	ex.outside_what[0] = '\0';
	ex.reported = false;
	ex.preempts = 0;
	ex.depth = 0;
	ex.diverged = false;
	ex.redundant = false;
	ex.sleep = 0;
	ex.fp_n = 0;
	ex.fp_any = false;
	ex.rcu_clock = 0;
	ex.cbq_head = NULL;
	ex.cbq_tail = &ex.cbq_head;
	ex.cb_started = ex.cb_stop = ex.cb_running = false;
	ex.run_failed = false;
	ex.run_msg[0] = '\0';
	ex.sched[0] = '\0';
	ex.sched_len = 0;
	ex.sched_truncated = false;
	if (ex.strat == S_PCT) {
		for (unsigned int i = 0; i + 1 < ex.pct_d; i++)
			ex.pct_cp[i] = 1 + rng_next() % ex.pct_k;
	}
	root = slot_alloc(ex.n, "root");
	ex.token_ns = now_ns();
	pthread_mutex_unlock(&ex.lock);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = abort_handler;
	sigaction(SIGABRT, &sa, &old);
	atomic_store(&sched_explore_active, true);
	BUG_ON(pthread_create(&root->pt, NULL, root_main, root));
	BUG_ON(pthread_join(root->pt, NULL));
	atomic_store(&sched_explore_active, false);

	if (getenv("EXPLORE_VERBOSE"))
		print_schedule(stdout);
	sigaction(SIGABRT, &old, NULL);

	res->runs++;
	res->choices += ex.depth;
	if (ex.depth > res->max_depth)
		res->max_depth = ex.depth;
	res->outside += ex.outside;
	if (ex.redundant)
		res->pruned++;
}

static void prepare(const struct explore_test *t, struct explore_result *res)
{
	const char *s = getenv("EXPLORE_STUCK_MS");

	pthread_once(&ex_once, ex_init_once);
	memset(res, 0, sizeof(*res));
	ex.test = t;
	ex.stuck_ms = s ? (unsigned int)strtoul(s, NULL, 0) : EXPLORE_STUCK_MS;
	if (!ex.stuck_ms)
		ex.stuck_ms = EXPLORE_STUCK_MS;
	ex.por = false;
	ex.pct_d = 0;
	/*
	 * Callbacks queued through liburcu before the exploration must not run
	 * during a run, on liburcu's (uncontrolled) thread. (Not when there
	 * were none: a fresh process, or a fork child, starts no liburcu thread.)
	 */
	if (sm_rcu_callbacks_queued())
		sm_rcu_barrier();
}

/*
 * Parse a schedule ID[/POINT],ID[/POINT],... into ex.forced. Returns false
 * (ex.forced unspecified) when an element does not start with a thread id
 * below EXPLORE_MAX_SLOTS or the schedule is longer than MAX_DEPTH.
 */
static bool parse_forced(const char *s)
{
	ex.nr_forced = 0;
	while (*s) {
		char *end;
		unsigned long id = strtoul(s, &end, 10);

		if (end == s || id >= EXPLORE_MAX_SLOTS || (*end && *end != '/' && *end != ',') ||
		    ex.nr_forced >= MAX_DEPTH)
			return false;
		ex.forced[ex.nr_forced++] = (uint8_t)id;
		s = strchr(end, ',');
		if (!s)
			break;
		s++;
	}
	return true;
}

/* EXPLORE_SCHEDULE=ID[/POINT],ID[/POINT],...: run that one schedule. */
static bool run_forced(const struct explore_test *t, struct explore_result *res)
{
	const char *s = getenv("EXPLORE_SCHEDULE");

	if (!s || !*s)
		return false;
	ex.strat = S_FORCED;
	BUG_ON(!parse_forced(s));
	ex.seed = 0;
	ex.run = 0;
	run_once(t, res);
	if (ex.diverged)
		printf("explore: %s: the run diverged from EXPLORE_SCHEDULE\n", t->name);
	return true;
}

static void seed_rng(unsigned long seed)
{
	ex.seed = seed;
	ex.rng = seed * 0x9e3779b97f4a7c15ull + 1;
}

void explore_run_random(const struct explore_test *t, unsigned long seed, unsigned long runs,
			struct explore_result *res)
{
	const char *e;

	prepare(t, res);
	if (run_forced(t, res))
		return;
	e = getenv("EXPLORE_SEED");
	if (e)
		seed = strtoul(e, NULL, 0);
	e = getenv("EXPLORE_RUNS");
	if (e)
		runs = strtoul(e, NULL, 0);
	ex.strat = S_RANDOM;
	for (unsigned long i = 0; i < runs; i++) {
		seed_rng(seed + i);
		ex.run = i;
		run_once(t, res);
	}
}

/* Next DFS prefix: the deepest choice with an untried alternative in budget. */
static bool dfs_next(unsigned int bound)
{
	for (int d = (int)(ex.depth < MAX_DEPTH ? ex.depth : MAX_DEPTH) - 1; d >= 0; d--) {
		struct choice *k = &ex.ch[d];
		uint32_t alt = k->mask & ~k->tried & ~k->sleep;

		while (alt) {
			unsigned int c = lowest(alt);
			unsigned int cost = k->preempt_before;

			alt &= ~(1u << c);
			k->tried |= 1u << c;
			if (k->cur >= 0 && (k->mask & (1u << k->cur)) && c != (unsigned int)k->cur)
				cost++;
			if (cost > bound)
				continue;
			k->done |= 1u << k->chosen;
			k->chosen = (uint8_t)c;
			ex.prefix_len = (unsigned int)d + 1;
			return true;
		}
	}
	return false;
}

void explore_run_dfs(const struct explore_test *t, unsigned int preempt_bound,
		     unsigned long max_runs, struct explore_result *res)
{
	prepare(t, res);
	if (run_forced(t, res))
		return;
	ex.strat = S_DFS;
	ex.preempt_bound = preempt_bound;
	ex.prefix_len = 0;
	for (unsigned long i = 0; i < max_runs; i++) {
		ex.seed = preempt_bound;
		ex.run = i;
		run_once(t, res);
		if (!dfs_next(preempt_bound)) {
			res->complete = true;
			return;
		}
	}
}

/* ---- explore_run(): options, failures reported without exiting ---- */

void explore_report_failure(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&ex.lock);
	if (!ex.run_failed) {
		ex.run_failed = true;
		va_start(ap, fmt);
		vsnprintf(ex.run_msg, sizeof(ex.run_msg), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&ex.lock);
}

/* FNV-1a of the schedule text: two runs with the same choices hash alike. */
static uint64_t sched_hash(void)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < ex.sched_len; i++)
		h = (h ^ (unsigned char)ex.sched[i]) * 1099511628211ull;
	return h ? h : 1;
}

/* An open-addressing set of schedule hashes (0 = empty slot). */
struct hash_set {
	uint64_t *slot;
	size_t cap, n;
};

static bool hash_set_add(struct hash_set *hs, uint64_t h)
{
	if (2 * (hs->n + 1) > hs->cap) {
		struct hash_set big = {.cap = hs->cap ? 2 * hs->cap : 1024};

		big.slot = calloc(big.cap, sizeof(*big.slot));
		BUG_ON(!big.slot);
		for (size_t i = 0; i < hs->cap; i++)
			if (hs->slot[i])
				hash_set_add(&big, hs->slot[i]);
		free(hs->slot);
		*hs = big;
	}
	for (size_t i = h & (hs->cap - 1);; i = (i + 1) & (hs->cap - 1)) {
		if (hs->slot[i] == h)
			return false;
		if (!hs->slot[i]) {
			hs->slot[i] = h;
			hs->n++;
			return true;
		}
	}
}

/* Account the run just finished; true when the exploration should stop. */
static bool account_run(const struct explore_opts *o, struct explore_run_report *rep,
			struct hash_set *seen)
{
	hash_set_add(seen, sched_hash());
	rep->distinct = seen->n;
	if (!ex.run_failed)
		return false;
	if (rep->fails++ == 0) {
		rep->fail_run = ex.run;
		rep->fail_seed = ex.seed;
		snprintf(rep->fail_msg, sizeof(rep->fail_msg), "%s", ex.run_msg);
		rep->fail_schedule = strdup(ex.sched);
		BUG_ON(!rep->fail_schedule);
	}
	return !o->keep_going;
}

int explore_run(const struct explore_test *t, const struct explore_opts *o,
		struct explore_result *res, struct explore_run_report *rep)
{
	struct explore_run_report dummy;
	struct hash_set seen = {0};
	unsigned long runs = o->runs ? o->runs : 1000;
	int64_t deadline = o->timeout_s > 0 ? now_ns() + (int64_t)(o->timeout_s * 1e9) : 0;

	if (!rep)
		rep = &dummy;
	memset(rep, 0, sizeof(*rep));
	if (o->replay && !parse_forced(o->replay))
		return -EINVAL;
	if (o->strategy == EXPLORE_STRATEGY_PCT && o->depth > PCT_MAX_D)
		return -EINVAL;
	prepare(t, res);
	atomic_store(&sched_explore_lockfree, o->lockfree);
	if (o->replay) {
		ex.strat = S_FORCED;
		ex.seed = 0;
		ex.run = 0;
		run_once(t, res);
		account_run(o, rep, &seen);
		goto out;
	}
	switch (o->strategy) {
	case EXPLORE_STRATEGY_RANDOM:
		ex.strat = S_RANDOM;
		break;
	case EXPLORE_STRATEGY_PCT: {
		struct explore_result cal;

		/*
		 * PCT's k (steps per run) from one run under the default schedule:
		 * fixed before the first seed, so a seed replays alone.
		 */
		memset(&cal, 0, sizeof(cal));
		ex.strat = S_FORCED;
		ex.nr_forced = 0;
		ex.run = 0;
		run_once(t, &cal);
		ex.pct_k = ex.steps ? ex.steps : 1;
		ex.strat = S_PCT;
		ex.pct_d = o->depth ? o->depth : 3;
		break;
	}
	case EXPLORE_STRATEGY_DFS:
		ex.strat = S_DFS;
		ex.preempt_bound = o->bound ? o->bound : 2;
		ex.prefix_len = 0;
		ex.por = !o->no_reduction;
		break;
	default:
		atomic_store(&sched_explore_lockfree, false);
		return -EINVAL;
	}
	for (unsigned long i = 0; i < runs; i++) {
		bool stop;

		ex.run = i;
		if (ex.strat == S_DFS)
			ex.seed = ex.preempt_bound;
		else
			seed_rng(o->seed + i);
		run_once(t, res);
		stop = account_run(o, rep, &seen);
		if (ex.strat == S_DFS && !dfs_next(ex.preempt_bound)) {
			rep->exhausted = res->complete = true;
			break;
		}
		if (stop || (deadline && now_ns() > deadline))
			break;
	}
out:
	atomic_store(&sched_explore_lockfree, false);
	free(seen.slot);
	return rep->fails ? 1 : 0;
}
