// SPDX-License-Identifier: MIT
/*
 * Interleaving exploration: see base/sched_explore.h.
 *
 * One token: only the thread holding it (state T_RUNNING) runs under
 * control. A thread arriving at a point parks (T_PARKED) and, if it held the
 * token, passes it on through pick(), which chooses among the parked threads.
 * A lock that cannot be taken puts its thread in T_BLOCKED until a release
 * of that lock makes it T_PARKED again. Parked and blocked threads wait with
 * a short timeout and act as the watchdog (tick()): a token holder that has
 * not reached a point within EXPLORE_OUTSIDE_MS is declared T_OUTSIDE (it is
 * in a wait we cannot see) and the token moves on; with nothing runnable,
 * blocked threads retry their lock every EXPLORE_OUTSIDE_MS (its holder may
 * be an uncontrolled thread, or have released it inside pthread_cond_wait);
 * with no progress at all for EXPLORE_DEADLOCK_MS the run is a deadlock.
 *
 * The explorer's own mutex is a plain pthread mutex, never held while taking
 * a ranked lock (trylocks are done outside it; a release generation closes
 * the window between a failed trylock and blocking).
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
#include "base/sched_explore.h"

_Atomic bool sched_explore_active;

enum tstate {
	T_NONE,
	T_PARKED,
	T_RUNNING,
	T_BLOCKED,
	T_OUTSIDE,
	T_DONE
};
enum pkind {
	P_START,
	P_USER,
	P_LOCK,
	P_UNLOCK
};
enum strategy {
	S_RANDOM,
	S_DFS,
	S_FORCED
};

#define MAX_DEPTH 4096
#define SCHED_BUF 65536
#define MAX_STEPS 200000
#define TICK_NS	  (2 * 1000000L)

struct ethread {
	pthread_t pt;
	unsigned int id;
	enum tstate st;
	enum pkind kind;
	const char *point;
	const void *blocked_on;
	const char *blocked_name;
};

struct choice {
	uint8_t mask;  /* parked threads */
	uint8_t tried; /* DFS: alternatives taken so far */
	uint8_t chosen;
	int8_t cur; /* the thread that held the token before, or -1 */
	uint16_t preempt_before;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	const struct explore_test *test;
	struct ethread th[EXPLORE_MAX_THREADS];
	unsigned int n, nr_started;
	int token, last;
	int64_t token_ns, progress_ns, retry_ns;
	unsigned long release_gen;
	unsigned long steps, outside;
	unsigned int outside_ms, deadlock_ms;
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
	/* explore_report_failure() of the current run */
	bool run_failed;
	char run_msg[EXPLORE_MSG_MAX];
	/* the schedule, printable and replayable */
	char sched[SCHED_BUF];
	size_t sched_len;
	bool sched_truncated;
} ex = {.lock = PTHREAD_MUTEX_INITIALIZER};

static pthread_once_t ex_once = PTHREAD_ONCE_INIT;
static _Thread_local struct ethread *ex_self;

static const char *const kind_prefix[] = {"start", "", "lock:", "unlock:"};

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
	return ex.strat == S_RANDOM ? "random" : ex.strat == S_DFS ? "dfs" : "forced";
}

static void print_schedule(FILE *f)
{
	fprintf(f, "explore: test=%s strategy=%s seed=%lu run=%lu choices=%u%s%s\n",
		ex.test ? ex.test->name : "?", strategy_name(), ex.seed, ex.run, ex.depth,
		ex.diverged ? " (diverged from the forced schedule)" : "",
		ex.outside ? " (some segments ran outside control)" : "");
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

static unsigned int lowest(unsigned int mask)
{
	return (unsigned int)__builtin_ctz(mask);
}

static unsigned int default_choice(unsigned int mask, int cur)
{
	if (cur >= 0 && (mask & (1u << cur)))
		return (unsigned int)cur;
	return lowest(mask);
}

static unsigned int choose(unsigned int mask, int cur)
{
	unsigned int d = ex.depth, c = default_choice(mask, cur);

	switch (ex.strat) {
	case S_RANDOM: {
		unsigned int k = (unsigned int)(rng_next() % (uint64_t)__builtin_popcount(mask));

		for (c = 0; c < EXPLORE_MAX_THREADS; c++)
			if ((mask & (1u << c)) && k-- == 0)
				break;
		break;
	}
	case S_DFS:
		if (d < ex.prefix_len) {
			if (mask & (1u << ex.ch[d].chosen))
				c = ex.ch[d].chosen;
			else
				ex.diverged = true;
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

		if (ex.strat != S_DFS || d >= ex.prefix_len)
			k->tried = 0;
		if (k->mask != mask && d < ex.prefix_len)
			k->tried &= (uint8_t)mask;
		k->mask = (uint8_t)mask;
		k->chosen = (uint8_t)c;
		k->cur = (int8_t)cur;
		k->preempt_before = (uint16_t)ex.preempts;
		k->tried |= (uint8_t)(1u << c);
	}
	if (cur >= 0 && (mask & (1u << cur)) && c != (unsigned int)cur)
		ex.preempts++;
	ex.depth++;
	return c;
}

/* Give the token to a parked thread, if there is one. Caller holds ex.lock. */
static void pick(int64_t now)
{
	unsigned int mask = 0, c;

	if (ex.nr_started < ex.n)
		return;
	for (unsigned int i = 0; i < ex.n; i++)
		if (ex.th[i].st == T_PARKED)
			mask |= 1u << i;
	if (!mask) {
		ex.token = -1;
		return;
	}
	if (__builtin_popcount(mask) == 1) {
		c = lowest(mask);
	} else {
		c = choose(mask, ex.last);
		sched_append(c, &ex.th[c]);
	}
	if (++ex.steps > MAX_STEPS)
		explore_fail(__FILE__, __LINE__, "more than %d steps in one run (livelock?)",
			     MAX_STEPS);
	ex.token = (int)c;
	ex.last = (int)c;
	ex.th[c].st = T_RUNNING;
	ex.token_ns = now;
	pthread_cond_broadcast(&ex.cond);
}

static void report_deadlock(void)
{
	fflush(stdout);
	fprintf(stderr, "explore: DEADLOCK (no progress for %u ms):\n", ex.deadlock_ms);
	for (unsigned int i = 0; i < ex.n; i++) {
		const struct ethread *t = &ex.th[i];

		if (t->st == T_BLOCKED)
			fprintf(stderr, "  thread %u blocked on %s (%p)\n", i, t->blocked_name,
				t->blocked_on);
		else if (t->st == T_OUTSIDE || t->st == T_RUNNING)
			fprintf(stderr, "  thread %u running outside control (last point %s%s)\n",
				i, kind_prefix[t->kind], t->kind == P_START ? "" : t->point);
		else
			fprintf(stderr, "  thread %u %s\n", i, t->st == T_DONE ? "done" : "parked");
	}
	print_schedule(stderr);
	signal(SIGABRT, SIG_DFL);
	abort();
}

/* The watchdog, run by waiting threads. Caller holds ex.lock. */
static void tick(void)
{
	int64_t now = now_ns();
	int64_t outside_ns = (int64_t)ex.outside_ms * 1000000L;
	bool parked = false, blocked = false;

	if (ex.nr_started < ex.n)
		return;
	if (ex.token >= 0 && ex.th[ex.token].st == T_RUNNING && now - ex.token_ns > outside_ns) {
		ex.th[ex.token].st = T_OUTSIDE;
		ex.outside++;
		ex.token = -1;
		pick(now);
	}
	if (ex.token >= 0)
		return;
	for (unsigned int i = 0; i < ex.n; i++) {
		parked |= ex.th[i].st == T_PARKED;
		blocked |= ex.th[i].st == T_BLOCKED;
	}
	if (parked) {
		pick(now);
		return;
	}
	if (now - ex.progress_ns > (int64_t)ex.deadlock_ms * 1000000L)
		report_deadlock();
	if (blocked && now - ex.retry_ns > outside_ns) {
		ex.retry_ns = now;
		for (unsigned int i = 0; i < ex.n; i++)
			if (ex.th[i].st == T_BLOCKED)
				ex.th[i].st = T_PARKED;
		pick(now);
	}
}

/* Wait until @self holds the token. Caller holds ex.lock. */
static void wait_turn(struct ethread *self)
{
	while (ex.token != (int)self->id) {
		struct timespec ts;
		int64_t t = now_ns() + TICK_NS;

		ts.tv_sec = t / 1000000000L;
		ts.tv_nsec = t % 1000000000L;
		pthread_cond_timedwait(&ex.cond, &ex.lock, &ts);
		if (ex.token != (int)self->id)
			tick();
	}
}

static void park(struct ethread *self, enum pkind kind, const char *name)
{
	pthread_mutex_lock(&ex.lock);
	self->st = T_PARKED;
	self->kind = kind;
	self->point = name;
	ex.progress_ns = now_ns();
	if (ex.token == (int)self->id || ex.token < 0) {
		ex.token = -1;
		pick(ex.progress_ns);
	}
	wait_turn(self);
	pthread_mutex_unlock(&ex.lock);
}

void __sched_point(const char *name)
{
	if (ex_self)
		park(ex_self, P_USER, name);
}

bool sched_explore_acquire(void *lock, bool (*trylock)(void *lock), const char *name)
{
	struct ethread *self = ex_self;
	unsigned long gen;

	if (!self)
		return false;
	park(self, P_LOCK, name);
	pthread_mutex_lock(&ex.lock);
	for (;;) {
		gen = ex.release_gen;
		pthread_mutex_unlock(&ex.lock);
		if (trylock(lock)) {
			pthread_mutex_lock(&ex.lock);
			ex.progress_ns = now_ns();
			pthread_mutex_unlock(&ex.lock);
			return true;
		}
		pthread_mutex_lock(&ex.lock);
		if (ex.release_gen != gen)
			continue; /* released meanwhile: try again */
		self->st = T_BLOCKED;
		self->blocked_on = lock;
		self->blocked_name = name;
		if (ex.token == (int)self->id || ex.token < 0) {
			ex.token = -1;
			pick(now_ns());
		}
		wait_turn(self);
	}
}

void sched_explore_release(void *lock, const char *name, bool point)
{
	struct ethread *self = ex_self;

	pthread_mutex_lock(&ex.lock);
	ex.release_gen++;
	for (unsigned int i = 0; i < ex.n; i++) {
		if (ex.th[i].st == T_BLOCKED && ex.th[i].blocked_on == lock)
			ex.th[i].st = T_PARKED;
	}
	if (ex.token < 0)
		pick(now_ns());
	pthread_mutex_unlock(&ex.lock);
	if (self && point)
		park(self, P_UNLOCK, name);
}

/* ---- runs ---- */

static void *thread_main(void *arg)
{
	struct ethread *self = arg;

	ex_self = self;
	pthread_mutex_lock(&ex.lock);
	self->st = T_PARKED;
	self->kind = P_START;
	self->point = "start";
	if (++ex.nr_started == ex.n) {
		ex.progress_ns = now_ns();
		pick(ex.progress_ns);
	}
	wait_turn(self);
	pthread_mutex_unlock(&ex.lock);

	ex.test->thread(self->id, ex.test->ctx);

	pthread_mutex_lock(&ex.lock);
	self->st = T_DONE;
	ex.progress_ns = now_ns();
	if (ex.token == (int)self->id || ex.token < 0) {
		ex.token = -1;
		pick(ex.progress_ns);
	}
	pthread_mutex_unlock(&ex.lock);
	ex_self = NULL;
	return NULL;
}

static void run_once(const struct explore_test *t, struct explore_result *res)
{
	struct sigaction sa, old;

	BUG_ON(t->nr_threads < 1 || t->nr_threads > EXPLORE_MAX_THREADS);
	if (t->setup)
		t->setup(t->ctx);

	pthread_mutex_lock(&ex.lock);
	ex.test = t;
	ex.n = t->nr_threads;
	ex.nr_started = 0;
	ex.token = -1;
	ex.last = -1;
	ex.steps = 0;
	ex.outside = 0;
	ex.preempts = 0;
	ex.depth = 0;
	ex.diverged = false;
	ex.run_failed = false;
	ex.run_msg[0] = '\0';
	ex.sched[0] = '\0';
	ex.sched_len = 0;
	ex.sched_truncated = false;
	ex.progress_ns = ex.retry_ns = now_ns();
	memset(ex.th, 0, sizeof(ex.th));
	pthread_mutex_unlock(&ex.lock);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = abort_handler;
	sigaction(SIGABRT, &sa, &old);
	atomic_store(&sched_explore_active, true);
	for (unsigned int i = 0; i < ex.n; i++) {
		ex.th[i].id = i;
		BUG_ON(pthread_create(&ex.th[i].pt, NULL, thread_main, &ex.th[i]));
	}
	for (unsigned int i = 0; i < ex.n; i++)
		BUG_ON(pthread_join(ex.th[i].pt, NULL));
	atomic_store(&sched_explore_active, false);

	if (getenv("EXPLORE_VERBOSE"))
		print_schedule(stdout);
	if (t->check)
		t->check(t->ctx);
	sigaction(SIGABRT, &old, NULL);

	res->runs++;
	res->choices += ex.depth;
	if (ex.depth > res->max_depth)
		res->max_depth = ex.depth;
	res->outside += ex.outside;
}

static void prepare(const struct explore_test *t, struct explore_result *res)
{
	const char *o = getenv("EXPLORE_OUTSIDE_MS");

	pthread_once(&ex_once, ex_init_once);
	memset(res, 0, sizeof(*res));
	ex.test = t;
	ex.outside_ms = o ? (unsigned int)strtoul(o, NULL, 0) : EXPLORE_OUTSIDE_MS;
	if (!ex.outside_ms)
		ex.outside_ms = EXPLORE_OUTSIDE_MS;
	ex.deadlock_ms = t->deadlock_ms ? t->deadlock_ms : EXPLORE_DEADLOCK_MS;
}

/*
 * Parse a schedule ID[/POINT],ID[/POINT],... into ex.forced. Returns false
 * (ex.forced unspecified) when an element does not start with a thread id
 * below EXPLORE_MAX_THREADS or the schedule is longer than MAX_DEPTH.
 */
static bool parse_forced(const char *s)
{
	ex.nr_forced = 0;
	while (*s) {
		char *end;
		unsigned long id = strtoul(s, &end, 10);

		if (end == s || id >= EXPLORE_MAX_THREADS || (*end && *end != '/' && *end != ',') ||
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
		ex.seed = seed + i;
		ex.run = i;
		ex.rng = (seed + i) * 0x9e3779b97f4a7c15ull + 1;
		run_once(t, res);
	}
}

/* Next DFS prefix: the deepest choice with an untried alternative in budget. */
static bool dfs_next(unsigned int bound)
{
	for (int d = (int)(ex.depth < MAX_DEPTH ? ex.depth : MAX_DEPTH) - 1; d >= 0; d--) {
		struct choice *k = &ex.ch[d];
		unsigned int alt = k->mask & ~k->tried;

		while (alt) {
			unsigned int c = lowest(alt);
			unsigned int cost = k->preempt_before;

			alt &= ~(1u << c);
			k->tried |= (uint8_t)(1u << c);
			if (k->cur >= 0 && (k->mask & (1u << k->cur)) && c != (unsigned int)k->cur)
				cost++;
			if (cost > bound)
				continue;
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
	prepare(t, res);
	if (o->replay) {
		if (!parse_forced(o->replay))
			return -EINVAL;
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
	case EXPLORE_STRATEGY_DFS:
		ex.strat = S_DFS;
		ex.preempt_bound = o->bound ? o->bound : 2;
		ex.prefix_len = 0;
		break;
	default:
		/* PCT is being written (issue 12); until then it is refused. */
		return -EOPNOTSUPP;
	}
	for (unsigned long i = 0; i < runs; i++) {
		bool stop;

		ex.run = i;
		if (ex.strat == S_RANDOM) {
			ex.seed = o->seed + i;
			ex.rng = (o->seed + i) * 0x9e3779b97f4a7c15ull + 1;
		} else {
			ex.seed = ex.preempt_bound;
		}
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
	free(seen.slot);
	return rep->fails ? 1 : 0;
}
