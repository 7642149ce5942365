// SPDX-License-Identifier: MIT
/*
 * kndiff - differential test of secmmu's notifier core (src/notifier) against
 * Linux's own mm/mmu_notifier.c compiled in userspace (kshim/, make
 * kernel-notifier).
 *
 * This one source is built twice: against include/secmmu/mmu_notifier.h and
 * libsecmmu (kndiff-secmmu), and with -DKN_KERNEL against the kernel's
 * linux/mmu_notifier.h through the shim, linked with the kernel's core
 * (kndiff-kernel-6.12). Both are run with the same seed; each prints one log
 * per random sequence; "kndiff compare" compares the logs.
 *
 *   kndiff run SEED N        run N sequences, print their logs
 *   kndiff compare A B       compare two logs, print the summary line
 *
 * A sequence is one mm, up to 4 classic subscriptions (register/unregister),
 * two get/put ops, up to 6 interval subscriptions, and 3 worker threads
 * that perform the steps: invalidate start (blockable or not, with chosen
 * callbacks refusing or failing) and end, insert, remove, read_begin,
 * read_retry, young/tlb hooks, exit. The main thread hands one step at a time
 * to a worker and waits until the worker finished it or sleeps in the core
 * (read_begin and remove wait for the last overlapping invalidation to end).
 * A sleep is seen through the link-time wrap of sm_wait() (every wait of
 * both cores goes through it, base/wait.h) and a wake-up through the wrap of
 * sm_wake_up_all(); after every step the main thread waits until
 * each woken worker has finished or sleeps again. So the steps, callbacks
 * and results are a deterministic function of the seed and of the core's
 * semantics, and the two logs must be equal line for line, except where a
 * deviation of ours that the comparison knows by name explains the
 * difference (see deviations[] below and docs/architecture.md).
 *
 * Locks: the log's and the subscriptions' driver locks are the kit's ranked
 * locks (secmmu/kit/lock.h; the shim builds the kernel's core on the same
 * substrate). The step machinery (h_lock, h_ev, each worker's go and
 * thread) is raw pthreads, the one exemption in tests/ of the substrate rule
 * (tests/unit/test_substrate.c): it instruments the substrate itself -- the
 * wraps of sm_wait()/sm_wake_up_all() take h_lock inside the cores' waits and
 * wake-ups, under whatever lock the core holds (up to LOCK_RANK_LEAF), and a
 * ranked h_lock or an sm_wait() there would order against and recurse into
 * what it observes; its hang detector needs a timed wait and an abandoned
 * sleeper a detached thread, which the substrate does not offer.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "secmmu/kit/lock.h"

#ifdef KN_KERNEL
#include <linux/mmu_notifier.h>

#include "kshim_bridge.h"
#else
#include "base/wait.h"
#include "secmmu/mmu_notifier.h"
#include "secmmu/mmu_notifier_hooks.h"
#endif
#include "secmmu/err.h"
#include "secmmu/mm.h"
#include "secmmu/page.h"

#define KN_WORKERS   3
#define KN_CLASSIC   4
#define KN_INTERVALS 6
#define KN_GETOPS    2
#define KN_PAGES     64
#define KN_PAGE	     4096UL
#define KN_MAX_OPEN  2
#define KN_HANG_S    20

/* --- log ------------------------------------------------------------- */

/* Spinning, LOCK_RANK_LEAF: callbacks log, non-blockable ones too. */
static struct sm_mutex log_lock;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	va_list ap;

	sm_mutex_lock(&log_lock);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	sm_mutex_unlock(&log_lock);
}

static const char *const ev_names[] = {"unmap",	     "clear",	"protection_vma", "protection_page",
				       "soft_dirty", "release", "migrate",	  "exclusive"};

static void log_range(const char *who, int id, const char *what, const struct mmu_notifier_range *r,
		      const char *extra)
{
	logf_("  cb %s%d %s [%#lx,%#lx) %s %s%s\n", who, id, what, r->start, r->end,
	      ev_names[r->event], mmu_notifier_range_blockable(r) ? "blk" : "nonblk", extra);
}

/* --- workers and the wait/wake wraps ------------------------------------ */

enum op_kind {
	OP_REGISTER,
	OP_UNREGISTER,
	OP_GET,
	OP_PUT,
	OP_INSERT,
	OP_REMOVE,
	OP_READ_BEGIN,
	OP_READ_RETRY,
	OP_START,
	OP_START_NONBLOCK,
	OP_END,
	OP_YOUNG,
	OP_TLB,
	OP_EXIT,
	OP_STOP,
};

struct op {
	enum op_kind kind;
	int idx;		       /* classic slot, get ops, interval */
	unsigned long start, len;      /* insert, invalidations, hooks */
	enum mmu_notifier_event event; /* invalidations */
	unsigned int fail_mask;	       /* start_nonblock: classic slots that refuse */
	unsigned int refuse_mask;      /* start_nonblock: intervals that refuse */
	struct mmu_notifier_range *range;
};

struct worker {
	int id;
	pthread_t thread;
	pthread_cond_t go;
	bool has_op, done, exit;
	struct op op;
	long result;
	/* set by the wraps, under h_lock */
	bool in_wait, woken;
	struct sm_waitq *wait_cond;
};

static pthread_mutex_t h_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t h_ev = PTHREAD_COND_INITIALIZER;
static __thread struct worker *self;

void __real_secmmu_wake_up_all(struct sm_waitq *wq);
void __real_secmmu_wait(struct sm_waitq *wq, struct sm_mutex *l);
void __wrap_secmmu_wake_up_all(struct sm_waitq *wq);
void __wrap_secmmu_wait(struct sm_waitq *wq, struct sm_mutex *l);

static struct worker *all_workers[KN_WORKERS];

/* A core wakes its sleepers: mark the workers sleeping on @cond as woken. */
void __wrap_secmmu_wake_up_all(struct sm_waitq *cond)
{
	pthread_mutex_lock(&h_lock);
	for (int i = 0; i < KN_WORKERS; i++) {
		struct worker *w = all_workers[i];

		if (w && w->in_wait && w->wait_cond == cond)
			w->woken = true;
	}
	pthread_mutex_unlock(&h_lock);
	__real_secmmu_wake_up_all(cond);
}

/* A core puts a worker to sleep: tell the main thread. */
void __wrap_secmmu_wait(struct sm_waitq *cond, struct sm_mutex *l)
{
	struct worker *w = self;

	if (!w) {
		__real_secmmu_wait(cond, l);
		return;
	}
	pthread_mutex_lock(&h_lock);
	w->wait_cond = cond;
	w->in_wait = true;
	w->woken = false;
	pthread_cond_broadcast(&h_ev);
	pthread_mutex_unlock(&h_lock);
	__real_secmmu_wait(cond, l);
	pthread_mutex_lock(&h_lock);
	w->in_wait = false;
	pthread_mutex_unlock(&h_lock);
}

/* --- recording subscriptions -------------------------------------------- */

struct kn_classic {
	struct mmu_notifier mn;
	const char *who; /* "C" registered, "G" got */
	int id;
};

struct kn_interval {
	struct mmu_interval_notifier sub;
	int id;
	/* The driver lock of the collision-retry protocol: spinning, LOCK_RANK_DRIVER_MMU. */
	struct sm_mutex lock;
	unsigned long seq; /* last read_begin answer */
};

static struct mm_struct *seq_mm;
static unsigned int fail_mask, refuse_mask;
static unsigned int refused;
static int next_get_id;

static struct kn_classic *kc(struct mmu_notifier *mn)
{
	return (struct kn_classic *)((char *)mn - offsetof(struct kn_classic, mn));
}

static void c_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	(void)mm;
	logf_("  cb %s%d release\n", kc(mn)->who, kc(mn)->id);
}

static int c_clear_flush_young(struct mmu_notifier *mn, struct mm_struct *mm, unsigned long start,
			       unsigned long end)
{
	int young = (int)(((start / KN_PAGE) + (unsigned long)kc(mn)->id) & 1);

	(void)mm;
	logf_("  cb %s%d clear_flush_young [%#lx,%#lx) -> %d\n", kc(mn)->who, kc(mn)->id, start,
	      end, young);
	return young;
}

static int c_clear_young(struct mmu_notifier *mn, struct mm_struct *mm, unsigned long start,
			 unsigned long end)
{
	(void)mm;
	logf_("  cb %s%d clear_young [%#lx,%#lx)\n", kc(mn)->who, kc(mn)->id, start, end);
	return 0;
}

static int c_test_young(struct mmu_notifier *mn, struct mm_struct *mm, unsigned long address)
{
	int young = ((address / KN_PAGE) + (unsigned long)kc(mn)->id) % 3 == 0;

	(void)mm;
	logf_("  cb %s%d test_young %#lx -> %d\n", kc(mn)->who, kc(mn)->id, address, young);
	return young;
}

static int c_start(struct mmu_notifier *mn, const struct mmu_notifier_range *r)
{
	log_range(kc(mn)->who, kc(mn)->id, "start", r, "");
	return 0;
}

/* A start that may fail (so it has no _end, as the contract requires). */
static int c_start_failer(struct mmu_notifier *mn, const struct mmu_notifier_range *r)
{
	bool fail = !mmu_notifier_range_blockable(r) && (fail_mask & (1u << kc(mn)->id));

	log_range(kc(mn)->who, kc(mn)->id, "start", r, fail ? " -> -EAGAIN" : "");
	return fail ? -EAGAIN : 0;
}

static void c_end(struct mmu_notifier *mn, const struct mmu_notifier_range *r)
{
	log_range(kc(mn)->who, kc(mn)->id, "end", r, "");
}

static void c_tlb(struct mmu_notifier *mn, struct mm_struct *mm, unsigned long start,
		  unsigned long end)
{
	(void)mm;
	logf_("  cb %s%d tlb [%#lx,%#lx)\n", kc(mn)->who, kc(mn)->id, start, end);
}

static struct mmu_notifier *g_alloc(struct mm_struct *mm)
{
	struct kn_classic *c = calloc(1, sizeof(*c));

	(void)mm;
	if (!c)
		return ERR_PTR(-ENOMEM);
	c->who = "G";
	c->id = next_get_id++;
	logf_("  cb G%d alloc_notifier\n", c->id);
	return &c->mn;
}

static void g_free(struct mmu_notifier *mn)
{
	logf_("  cb G%d free_notifier\n", kc(mn)->id);
	free(kc(mn));
}

/* Slot kinds: C0 and C3 full, C1 a failer, C2 TLB-only. */
static const struct mmu_notifier_ops ops_full = {
	.release = c_release,
	.clear_flush_young = c_clear_flush_young,
	.clear_young = c_clear_young,
	.test_young = c_test_young,
	.invalidate_range_start = c_start,
	.invalidate_range_end = c_end,
};
static const struct mmu_notifier_ops ops_failer = {
	.release = c_release,
	.invalidate_range_start = c_start_failer,
};
static const struct mmu_notifier_ops ops_tlb = {
	.release = c_release,
	.test_young = c_test_young,
	.arch_invalidate_secondary_tlbs = c_tlb,
};
static const struct mmu_notifier_ops ops_get[KN_GETOPS] = {
	{
		.release = c_release,
		.invalidate_range_start = c_start,
		.invalidate_range_end = c_end,
		.alloc_notifier = g_alloc,
		.free_notifier = g_free,
	},
	{
		.clear_flush_young = c_clear_flush_young,
		.invalidate_range_start = c_start,
		.invalidate_range_end = c_end,
		.alloc_notifier = g_alloc,
		.free_notifier = g_free,
	},
};
static const struct mmu_notifier_ops *const slot_ops[KN_CLASSIC] = {&ops_full, &ops_failer,
								    &ops_tlb, &ops_full};

static bool i_invalidate(struct mmu_interval_notifier *sub, const struct mmu_notifier_range *r,
			 unsigned long cur_seq)
{
	struct kn_interval *in =
		(struct kn_interval *)((char *)sub - offsetof(struct kn_interval, sub));
	char extra[64];

	if (!mmu_notifier_range_blockable(r) && (refuse_mask & (1u << in->id))) {
		refused++;
		log_range("I", in->id, "invalidate", r, " -> refused");
		return false;
	}
	sm_mutex_lock(&in->lock);
	mmu_interval_set_seq(sub, cur_seq);
	sm_mutex_unlock(&in->lock);
	snprintf(extra, sizeof(extra), " cur_seq=%lu", cur_seq);
	log_range("I", in->id, "invalidate", r, extra);
	return true;
}

static const struct mmu_interval_notifier_ops iops = {.invalidate = i_invalidate};

/*
 * Per-sequence subscriptions, allocated per sequence: an abandoned sequence
 * (see account()) leaves them referenced by its mm and its workers for good.
 */
struct seq_ctx {
	struct kn_classic classic[KN_CLASSIC];
	struct mmu_notifier *got[KN_GETOPS]; /* the one subscription of ops_get[i] */
	struct kn_interval intervals[KN_INTERVALS];
};

static struct seq_ctx *cx;
#define classic	  (cx->classic)
#define got	  (cx->got)
#define intervals (cx->intervals)

/* --- running a step on a worker ------------------------------------------- */

static long do_op(struct op *op)
{
	struct mmu_notifier *mn;
	struct kn_interval *in;
	long ret = 0;

	switch (op->kind) {
	case OP_REGISTER:
		classic[op->idx].mn.ops = slot_ops[op->idx];
		return mmu_notifier_register(&classic[op->idx].mn, seq_mm);
	case OP_UNREGISTER:
		mmu_notifier_unregister(&classic[op->idx].mn, seq_mm);
		return 0;
	case OP_GET:
		mn = mmu_notifier_get(&ops_get[op->idx], seq_mm);
		if (IS_ERR(mn))
			return PTR_ERR(mn);
		if (got[op->idx] && got[op->idx] != mn)
			return -1000; /* a second subscription for the same ops */
		got[op->idx] = mn;
		return kc(mn)->id;
	case OP_PUT:
		mmu_notifier_put(got[op->idx]);
		/* free_notifier runs now, inside the step (module-unload sync). */
		mmu_notifier_synchronize();
		return 0;
	case OP_INSERT:
		in = &intervals[op->idx];
		return mmu_interval_notifier_insert(&in->sub, seq_mm, op->start, op->len, &iops);
	case OP_REMOVE:
		mmu_interval_notifier_remove(&intervals[op->idx].sub);
		return 0;
	case OP_READ_BEGIN: {
		unsigned long seq;

		in = &intervals[op->idx];
		seq = mmu_interval_read_begin(&in->sub);
		/*
		 * Under in->lock, as OP_READ_RETRY reads it: a worker whose
		 * read_begin waited may finish while another begins afresh.
		 */
		sm_mutex_lock(&in->lock);
		in->seq = seq;
		sm_mutex_unlock(&in->lock);
		return (long)seq;
	}
	case OP_READ_RETRY:
		in = &intervals[op->idx];
		sm_mutex_lock(&in->lock);
		ret = mmu_interval_read_retry(&in->sub, in->seq);
		sm_mutex_unlock(&in->lock);
		return ret;
	case OP_START:
	case OP_START_NONBLOCK:
		memset(op->range, 0, sizeof(*op->range));
		mmu_notifier_range_init(op->range, op->event, 0, seq_mm, op->start,
					op->start + op->len);
		if (op->kind == OP_START) {
			mmu_notifier_invalidate_range_start(op->range);
			return 0;
		}
		fail_mask = op->fail_mask;
		refuse_mask = op->refuse_mask;
		refused = 0;
		ret = mmu_notifier_invalidate_range_start_nonblock(op->range);
		fail_mask = refuse_mask = 0;
		return ret;
	case OP_END:
		mmu_notifier_invalidate_range_end(op->range);
		return 0;
	case OP_YOUNG:
		ret = mmu_notifier_clear_flush_young(seq_mm, op->start, op->start + op->len);
		ret = ret * 10 + mmu_notifier_clear_young(seq_mm, op->start, op->start + op->len);
		return ret * 10 + mmu_notifier_test_young(seq_mm, op->start);
	case OP_TLB:
		mmu_notifier_arch_invalidate_secondary_tlbs(seq_mm, op->start, op->start + op->len);
		return 0;
	case OP_EXIT:
		mmput(seq_mm);
		return 0;
	case OP_STOP:
		break;
	}
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	self = w;
	pthread_mutex_lock(&h_lock);
	for (;;) {
		while (!w->has_op || w->done)
			pthread_cond_wait(&w->go, &h_lock);
		if (w->op.kind == OP_STOP)
			break;
		pthread_mutex_unlock(&h_lock);
		w->result = do_op(&w->op);
		pthread_mutex_lock(&h_lock);
		w->done = true;
		pthread_cond_broadcast(&h_ev);
	}
	pthread_mutex_unlock(&h_lock);
	return NULL;
}

static struct worker *workers; /* per sequence, like struct seq_ctx */

/* Under h_lock: wait until @w finished its op or sleeps un-woken in the core. */
static void settle_locked(struct worker *w)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += KN_HANG_S;
	while (w->has_op && !w->done && !(w->in_wait && !w->woken)) {
		if (pthread_cond_timedwait(&h_ev, &h_lock, &until) == ETIMEDOUT) {
			pthread_mutex_unlock(&h_lock);
			logf_("HANG T%d\n", w->id);
			fflush(stdout);
			fprintf(stderr, "kndiff: worker T%d hangs\n", w->id);
			_exit(3);
		}
	}
}

static const char *const op_names[] = {
	[OP_REGISTER] = "register",
	[OP_UNREGISTER] = "unregister",
	[OP_GET] = "get",
	[OP_PUT] = "put",
	[OP_INSERT] = "insert",
	[OP_REMOVE] = "remove",
	[OP_READ_BEGIN] = "read_begin",
	[OP_READ_RETRY] = "read_retry",
	[OP_START] = "start",
	[OP_START_NONBLOCK] = "start_nonblock",
	[OP_END] = "end",
	[OP_YOUNG] = "young",
	[OP_TLB] = "tlb",
	[OP_EXIT] = "exit",
	[OP_STOP] = "stop",
};

static void finish_woken(void);

/*
 * Run @op on worker @t. Return: true if it finished (result in
 * workers[t].result), false if it sleeps in the core.
 */
static bool run_step(int t, struct op *op)
{
	struct worker *w = &workers[t];
	bool done;

	pthread_mutex_lock(&h_lock);
	w->op = *op;
	w->has_op = true;
	w->done = false;
	pthread_cond_signal(&w->go);
	settle_locked(w);
	done = w->done;
	if (done)
		w->has_op = false;
	pthread_mutex_unlock(&h_lock);
	if (done)
		logf_("  -> %ld\n", w->result);
	else
		logf_("  -> sleeps\n");
	finish_woken();
	return done;
}

/* After a step: let woken workers finish or sleep again; log the finished. */
static void finish_woken(void)
{
	bool finished[KN_WORKERS] = {false};

	pthread_mutex_lock(&h_lock);
	for (int i = 0; i < KN_WORKERS; i++) {
		struct worker *w = &workers[i];

		if (!w->has_op)
			continue;
		settle_locked(w);
		if (w->done) {
			w->has_op = false;
			finished[i] = true;
		}
	}
	pthread_mutex_unlock(&h_lock);
	for (int i = 0; i < KN_WORKERS; i++)
		if (finished[i])
			logf_("  T%d %s I%d returns %ld\n", i, op_names[workers[i].op.kind],
			      workers[i].op.idx, workers[i].result);
}

static bool sleeping(int t)
{
	bool s;

	pthread_mutex_lock(&h_lock);
	s = workers[t].has_op;
	pthread_mutex_unlock(&h_lock);
	return s;
}

/* --- the generator ------------------------------------------------------- */

static unsigned long long rng;

static unsigned long rnd(unsigned long n)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (unsigned long)((rng * 2685821657736338717ULL) >> 33) % n;
}

struct open_inv {
	struct mmu_notifier_range range;
	bool open;
	bool with_list; /* the classic list was not empty at its start */
};

struct seq_state {
	bool alive, has_itree;
	bool registered[KN_CLASSIC];
	unsigned int getref[KN_GETOPS];
	bool inserted[KN_INTERVALS], removing[KN_INTERVALS], have_seq[KN_INTERVALS];
	struct open_inv open[KN_WORKERS][KN_MAX_OPEN];
	int nr_open;
};

static int open_count(struct seq_state *s, int t)
{
	int n = 0;

	for (int k = 0; k < KN_MAX_OPEN; k++)
		n += s->open[t][k].open;
	return n;
}

/* Is an invalidation open that started while the classic list was not empty? */
static bool open_classic(struct seq_state *s)
{
	for (int t = 0; t < KN_WORKERS; t++)
		for (int k = 0; k < KN_MAX_OPEN; k++)
			if (s->open[t][k].open && s->open[t][k].with_list)
				return true;
	return false;
}

static void describe(int step, int t, const struct op *op)
{
	switch (op->kind) {
	case OP_REGISTER:
	case OP_UNREGISTER:
		logf_("step %d T%d %s C%d\n", step, t, op_names[op->kind], op->idx);
		break;
	case OP_GET:
	case OP_PUT:
		logf_("step %d T%d %s ops%d\n", step, t, op_names[op->kind], op->idx);
		break;
	case OP_INSERT:
		logf_("step %d T%d insert I%d start=%#lx len=%#lx\n", step, t, op->idx, op->start,
		      op->len);
		break;
	case OP_REMOVE:
	case OP_READ_BEGIN:
	case OP_READ_RETRY:
		logf_("step %d T%d %s I%d\n", step, t, op_names[op->kind], op->idx);
		break;
	case OP_START:
	case OP_START_NONBLOCK:
		logf_("step %d T%d %s [%#lx,%#lx) %s fail=%#x refuse=%#x\n", step, t,
		      op_names[op->kind], op->start, op->start + op->len, ev_names[op->event],
		      op->fail_mask, op->refuse_mask);
		break;
	case OP_END:
		logf_("step %d T%d end [%#lx,%#lx)\n", step, t, op->range->start, op->range->end);
		break;
	default:
		logf_("step %d T%d %s [%#lx,%#lx)\n", step, t, op_names[op->kind], op->start,
		      op->start + op->len);
	}
}

static void random_range(struct op *op)
{
	op->start = rnd(KN_PAGES) * KN_PAGE;
	op->len = (1 + rnd(16)) * KN_PAGE;
}

/*
 * One random legal step for an idle worker, or false if the drawn kind does
 * not apply now. Legal means as the kernel's callers behave: registration
 * (and the first insert, which registers) only while the mm has users and no
 * invalidation is open (mm_take_all_locks excludes them); sleeping calls only
 * from a thread that has no invalidation open; no insert/register after exit.
 */
static bool gen_op(struct seq_state *s, int t, struct op *op)
{
	bool quiet = s->nr_open == 0, empty = true;
	unsigned long k;

	for (int i = 0; i < KN_CLASSIC; i++)
		empty &= !s->registered[i];
	for (int i = 0; i < KN_GETOPS; i++)
		empty &= !s->getref[i];
	for (int i = 0; i < KN_INTERVALS; i++)
		empty &= !s->inserted[i];
	/* Nothing subscribed: mostly subscribe (the first 34 are the subscription steps). */
	k = empty && s->alive && rnd(4) ? rnd(34) : rnd(100);

	memset(op, 0, sizeof(*op));
	if (k < 8) {
		op->kind = OP_REGISTER;
		op->idx = (int)rnd(KN_CLASSIC);
		return s->alive && quiet && !s->registered[op->idx];
	}
	if (k < 13) {
		op->kind = OP_UNREGISTER;
		op->idx = (int)rnd(KN_CLASSIC);
		return s->registered[op->idx] && open_count(s, t) == 0;
	}
	if (k < 18) {
		op->kind = OP_GET;
		op->idx = (int)rnd(KN_GETOPS);
		return s->alive && quiet;
	}
	if (k < 22) {
		op->kind = OP_PUT;
		op->idx = (int)rnd(KN_GETOPS);
		return s->getref[op->idx] && open_count(s, t) == 0;
	}
	if (k < 34) {
		op->kind = OP_INSERT;
		op->idx = (int)rnd(KN_INTERVALS);
		random_range(op);
		/* Now and then a bad length (zero, or wrapping): named deviation insert-errno. */
		if (s->has_itree && rnd(20) == 0)
			op->len = rnd(2) ? 0 : ULONG_MAX - op->start + 2 * KN_PAGE;
		return s->alive && (s->has_itree || quiet) && !s->inserted[op->idx] &&
		       !s->removing[op->idx];
	}
	if (k < 42) {
		op->kind = OP_REMOVE;
		op->idx = (int)rnd(KN_INTERVALS);
		return s->inserted[op->idx] && !s->removing[op->idx] && open_count(s, t) == 0;
	}
	if (k < 52) {
		op->kind = OP_READ_BEGIN;
		op->idx = (int)rnd(KN_INTERVALS);
		return s->inserted[op->idx] && !s->removing[op->idx] && open_count(s, t) == 0;
	}
	if (k < 60) {
		op->kind = OP_READ_RETRY;
		op->idx = (int)rnd(KN_INTERVALS);
		return s->inserted[op->idx] && !s->removing[op->idx] && s->have_seq[op->idx];
	}
	if (k < 78) {
		op->kind = rnd(3) ? OP_START : OP_START_NONBLOCK;
		random_range(op);
		op->event = (enum mmu_notifier_event)rnd(8);
		if (op->event == MMU_NOTIFY_RELEASE)
			op->event = MMU_NOTIFY_CLEAR;
		if (op->kind == OP_START_NONBLOCK) {
			/*
			 * A classic start that fails while interval subscriptions
			 * exist is where Linux leaves the interval side open (named
			 * deviation eagain-leaves-itree-open): rarely.
			 */
			if (!s->has_itree || rnd(8) == 0)
				op->fail_mask = rnd(2) ? 1u << 1 : 0;
			op->refuse_mask = rnd(3) == 0 ? 1u << rnd(KN_INTERVALS) : 0;
		}
		return open_count(s, t) < KN_MAX_OPEN;
	}
	if (k < 90) {
		int n = open_count(s, t);

		op->kind = OP_END;
		return n > 0;
	}
	if (k < 94) {
		op->kind = OP_YOUNG;
		random_range(op);
		return true;
	}
	if (k < 97) {
		op->kind = OP_TLB;
		random_range(op);
		return true;
	}
	op->kind = OP_EXIT;
	return s->alive && rnd(3) == 0;
}

/* A stack per thread: START pushes, END pops (the newest open one). */
static struct open_inv *open_slot(struct seq_state *s, int t, bool want_open)
{
	int n = open_count(s, t);

	if (want_open)
		return n ? &s->open[t][n - 1] : NULL;
	return n < KN_MAX_OPEN ? &s->open[t][n] : NULL;
}

/* Apply the outcome of a finished or sleeping step to the generator state. */
static bool account(struct seq_state *s, int t, struct op *op, bool done, long ret)
{
	switch (op->kind) {
	case OP_REGISTER:
		s->registered[op->idx] = ret == 0;
		break;
	case OP_UNREGISTER:
		s->registered[op->idx] = false;
		break;
	case OP_GET:
		if (ret >= 0)
			s->getref[op->idx]++;
		break;
	case OP_PUT:
		if (!--s->getref[op->idx])
			got[op->idx] = NULL;
		break;
	case OP_INSERT:
		if (ret == 0) {
			s->inserted[op->idx] = true;
			s->has_itree = true;
			s->have_seq[op->idx] = false;
		}
		break;
	case OP_REMOVE:
		s->inserted[op->idx] = false;
		s->removing[op->idx] = !done;
		break;
	case OP_READ_BEGIN:
		s->have_seq[op->idx] = true;
		break;
	case OP_START:
	case OP_START_NONBLOCK:
		if (ret == 0) {
			struct open_inv *o = open_slot(s, t, false);

			o->open = true;
			o->range = *op->range;
			o->with_list = false;
			for (int i = 0; i < KN_CLASSIC; i++)
				o->with_list |= s->registered[i];
			for (int i = 0; i < KN_GETOPS; i++)
				o->with_list |= s->getref[i] != 0;
			s->nr_open++;
		} else if (s->has_itree && !refused) {
			/*
			 * The interval side started and was not refused, a classic
			 * start failed: Linux returns -EAGAIN leaving the interval
			 * invalidation open forever (readers and removers of its
			 * intervals would sleep for good); ours ends it. Abandon the
			 * sequence here on both sides.
			 */
			logf_("deviation eagain-leaves-itree-open\n");
			return false;
		}
		break;
	case OP_END:
		break;
	case OP_EXIT:
		s->alive = false;
		break;
	default:
		break;
	}
	return true;
}

static void worker_start(int i)
{
	struct worker *w = &workers[i];

	w->id = i;
	pthread_cond_init(&w->go, NULL);
	pthread_mutex_lock(&h_lock);
	all_workers[i] = w;
	pthread_mutex_unlock(&h_lock);
	if (pthread_create(&w->thread, NULL, worker_main, w)) {
		perror("kndiff: starting a worker");
		exit(3);
	}
}

static void workers_stop(bool join)
{
	for (int i = 0; i < KN_WORKERS; i++) {
		struct worker *w = &workers[i];

		pthread_mutex_lock(&h_lock);
		all_workers[i] = NULL;
		if (join) {
			w->op.kind = OP_STOP;
			w->has_op = true;
			w->done = false;
			pthread_cond_signal(&w->go);
		}
		pthread_mutex_unlock(&h_lock);
		if (join) {
			pthread_join(w->thread, NULL);
			pthread_cond_destroy(&w->go);
		} else {
			pthread_detach(w->thread);
		}
	}
}

/* A finished step's result, applied; false if the sequence is abandoned. */
static bool step(struct seq_state *s, int *nstep, int t, struct op *op)
{
	bool done;

	describe((*nstep)++, t, op);
	done = run_step(t, op);
	if (op->kind == OP_END) {
		struct open_inv *o = open_slot(s, t, true);

		o->open = false;
		s->nr_open--;
	}
	return account(s, t, op, done, done ? workers[t].result : 0);
}

static void refresh_sleepers(struct seq_state *s)
{
	for (int i = 0; i < KN_INTERVALS; i++)
		if (s->removing[i]) {
			bool any = false;

			for (int t = 0; t < KN_WORKERS; t++)
				any |= sleeping(t) && workers[t].op.kind == OP_REMOVE &&
				       workers[t].op.idx == i;
			s->removing[i] = any;
		}
}

/* The lowest-numbered worker not sleeping in the core, or -1. */
static int awake_worker(void)
{
	for (int t = 0; t < KN_WORKERS; t++)
		if (!sleeping(t))
			return t;
	return -1;
}

static bool any_sleeping(void)
{
	for (int t = 0; t < KN_WORKERS; t++)
		if (sleeping(t))
			return true;
	return false;
}

/* A teardown step on an awake worker; false (sequence abandoned) if none is. */
static bool teardown_step(struct seq_state *s, int *nstep, struct op *op)
{
	int t = awake_worker();

	if (t < 0) {
		logf_("every worker sleeps\n");
		workers_stop(false);
		logf_("abandoned\n");
		return false;
	}
	step(s, nstep, t, op);
	return true;
}

static void run_sequence(unsigned long n)
{
	struct seq_state s = {.alive = true};
	int nsteps = 10 + (int)rnd(40), nstep = 0;
	bool ok = true;
	struct op op;

	logf_("sequence %lu\n", n);
	seq_mm = mm_alloc();
	if (!seq_mm) {
		fprintf(stderr, "kndiff: mm_alloc failed\n");
		exit(3);
	}
	mmgrab(seq_mm); /* for the steps after exit */
	cx = calloc(1, sizeof(*cx));
	workers = calloc(KN_WORKERS, sizeof(*workers));
	if (!cx || !workers) {
		fprintf(stderr, "kndiff: out of memory\n");
		exit(3);
	}
	for (int i = 0; i < KN_CLASSIC; i++) {
		classic[i].who = "C";
		classic[i].id = i;
	}
	for (int i = 0; i < KN_INTERVALS; i++) {
		intervals[i].id = i;
		sm_mutex_init(&intervals[i].lock, "kn_interval->lock", LOCK_RANK_DRIVER_MMU);
		sm_mutex_set_spin(&intervals[i].lock);
	}
	next_get_id = 0;
	for (int i = 0; i < KN_WORKERS; i++)
		worker_start(i);

	while (ok && nstep < nsteps) {
		int t = (int)rnd(KN_WORKERS);

		refresh_sleepers(&s);
		if (awake_worker() < 0) {
			/* Cannot happen with a correct core: sleepers own no invalidation. */
			logf_("every worker sleeps\n");
			ok = false;
			break;
		}
		if (sleeping(t) || !gen_op(&s, t, &op))
			continue;
		if ((op.kind == OP_UNREGISTER || op.kind == OP_EXIT) && open_classic(&s)) {
			/*
			 * Ours waits for the open classic invalidations before it
			 * unhooks a released subscription (so that each _end
			 * reaches every subscriber its start did); Linux returns at
			 * once. Stop the sequence here on both sides.
			 */
			logf_("deviation release-waits-open-ranges\n");
			ok = false;
			break;
		}
		if (op.kind == OP_START || op.kind == OP_START_NONBLOCK) {
			op.range = &open_slot(&s, t, false)->range;
		} else if (op.kind == OP_END) {
			op.range = &open_slot(&s, t, true)->range;
		}
		ok = step(&s, &nstep, t, &op);
	}
	if (!ok) {
		/* Abandoned: leave everything (the kernel side could not tear down). */
		workers_stop(false);
		logf_("abandoned\n");
		return;
	}

	/* Teardown, logged and compared as well, on a worker that is awake. */
	logf_("teardown\n");
	for (int t = 0; t < KN_WORKERS; t++)
		while (open_count(&s, t)) {
			memset(&op, 0, sizeof(op));
			op.kind = OP_END;
			op.range = &open_slot(&s, t, true)->range;
			step(&s, &nstep, t, &op);
		}
	refresh_sleepers(&s);
	for (int i = 0; i < KN_INTERVALS; i++)
		if (s.inserted[i]) {
			memset(&op, 0, sizeof(op));
			op.kind = OP_REMOVE;
			op.idx = i;
			if (!teardown_step(&s, &nstep, &op))
				return;
		}
	for (int i = 0; i < KN_CLASSIC; i++)
		if (s.registered[i]) {
			memset(&op, 0, sizeof(op));
			op.kind = OP_UNREGISTER;
			op.idx = i;
			if (!teardown_step(&s, &nstep, &op))
				return;
		}
	for (int i = 0; i < KN_GETOPS; i++)
		while (s.getref[i]) {
			memset(&op, 0, sizeof(op));
			op.kind = OP_PUT;
			op.idx = i;
			if (!teardown_step(&s, &nstep, &op))
				return;
		}
	if (s.alive) {
		memset(&op, 0, sizeof(op));
		op.kind = OP_EXIT;
		if (!teardown_step(&s, &nstep, &op))
			return;
	}
	if (any_sleeping()) {
		logf_("a worker still sleeps after teardown\n");
		workers_stop(false);
		logf_("abandoned\n");
		return;
	}
	workers_stop(true);
	mmdrop(seq_mm);
	seq_mm = NULL;
	for (int i = 0; i < KN_INTERVALS; i++)
		sm_mutex_destroy(&intervals[i].lock);
	free(workers);
	free(cx);
}

/* --- compare ------------------------------------------------------------- */

/*
 * Named deviations: ours differs from Linux on purpose. A rule gets the two
 * differing lines and says whether its deviation explains them.
 */
static bool dev_insert_errno(const char *ours, const char *kern, const char *prev)
{
	/* Ours: -EINVAL for a zero or wrapping length; Linux: -EOVERFLOW. */
	return prev && strstr(prev, " insert ") && !strcmp(ours, "  -> -22\n") &&
	       !strcmp(kern, "  -> -75\n");
}

static const struct {
	const char *name;
	bool (*explains)(const char *ours, const char *kern, const char *prev);
} deviations[] = {
	{"insert-errno", dev_insert_errno},
};

#define KN_LINE 512

static bool read_line(FILE *f, char *buf)
{
	return fgets(buf, KN_LINE, f) != NULL;
}

static int compare(const char *a, const char *b)
{
	FILE *fa = fopen(a, "r"), *fb = fopen(b, "r");
	char la[KN_LINE], lb[KN_LINE], prev[KN_LINE] = "";
	unsigned long sequences = 0, cbs = 0, disagreements = 0, shown = 0;
	unsigned long dev_count[sizeof(deviations) / sizeof(deviations[0])] = {0};
	unsigned long abandoned = 0, waited = 0;
	bool bad_seq = false;

	if (!fa || !fb) {
		fprintf(stderr, "kndiff compare: cannot open %s\n", !fa ? a : b);
		return 2;
	}
	for (;;) {
		bool ea = !read_line(fa, la), eb = !read_line(fb, lb);

		if (ea || eb) {
			if (ea != eb) {
				disagreements++;
				printf("kernel-notifier: logs end differently (%s ends first)\n",
				       ea ? a : b);
			}
			break;
		}
		if (!strncmp(la, "sequence ", 9)) {
			sequences++;
			bad_seq = false;
		}
		if (!strncmp(la, "  cb ", 5))
			cbs++;
		if (!strcmp(la, "deviation eagain-leaves-itree-open\n"))
			abandoned++;
		if (!strcmp(la, "deviation release-waits-open-ranges\n"))
			waited++;
		if (!bad_seq && strcmp(la, lb)) {
			bool known = false;

			for (size_t i = 0; i < sizeof(deviations) / sizeof(deviations[0]); i++)
				if (deviations[i].explains(la, lb, prev)) {
					dev_count[i]++;
					known = true;
					break;
				}
			if (!known) {
				disagreements++;
				bad_seq = true;
				if (shown++ < 5)
					printf("kernel-notifier: disagreement in sequence %lu "
					       "after "
					       "'%.*s'\n  secmmu: %s  kernel: %s",
					       sequences - 1, (int)strcspn(prev, "\n"), prev, la,
					       lb);
			}
		}
		/* Resynchronise on sequence boundaries after a disagreement. */
		while (bad_seq && strncmp(la, "sequence ", 9) && read_line(fa, la))
			;
		while (bad_seq && strncmp(lb, "sequence ", 9) && read_line(fb, lb))
			;
		if (bad_seq && !strncmp(la, "sequence ", 9)) {
			/* la/lb hold the next sequence headers: account for them. */
			sequences++;
			bad_seq = strcmp(la, lb) != 0;
		}
		if (strncmp(la, "  -> ", 5))
			strcpy(prev, la);
	}
	for (size_t i = 0; i < sizeof(deviations) / sizeof(deviations[0]); i++)
		printf("kernel-notifier: deviation %s: %lu\n", deviations[i].name, dev_count[i]);
	printf("kernel-notifier: deviation eagain-leaves-itree-open: %lu (sequences abandoned)\n",
	       abandoned);
	printf("kernel-notifier: deviation release-waits-open-ranges: %lu (sequences stopped)\n",
	       waited);
	printf("kernel-notifier: %lu sequences, %lu callbacks, %lu disagreements\n", sequences, cbs,
	       disagreements);
	fclose(fa);
	fclose(fb);
	return disagreements ? 1 : 0;
}

int main(int argc, char **argv)
{
	unsigned long seed, n;

	if (argc == 4 && !strcmp(argv[1], "compare"))
		return compare(argv[2], argv[3]);
	if (argc != 4 || strcmp(argv[1], "run")) {
		fprintf(stderr,
			"usage: kndiff run SEED N | kndiff compare LOG_SECMMU LOG_KERNEL\n");
		return 2;
	}
	seed = strtoul(argv[2], NULL, 0);
	n = strtoul(argv[3], NULL, 0);
	sm_mutex_init(&log_lock, "kndiff log", LOCK_RANK_LEAF);
	sm_mutex_set_spin(&log_lock);
	if (phys_init(16UL << 20)) {
		fprintf(stderr, "kndiff: phys_init failed\n");
		return 3;
	}
	for (unsigned long i = 0; i < n; i++) {
		rng = (seed + i) * 0x9E3779B97F4A7C15ULL | 1;
		run_sequence(i);
		fflush(stdout);
	}
	return 0;
}
