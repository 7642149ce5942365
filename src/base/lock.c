// SPDX-License-Identifier: MIT
/*
 * Ranked locks and the lock-order checker. See base/lock.h for the order.
 *
 * The checker is per thread: a small stack of the locks this thread holds.
 * Taking lock L while holding H with rank(H) > rank(L), or with equal rank and
 * equal subclass, is an inversion: two threads doing the opposite could
 * deadlock, whether or not they did this time. That is reported at once, the
 * first time the order is taken, not when the deadlock finally happens.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "base/lock.h"
#include "base/sched_explore.h"
#include "base/wait.h"

/*
 * Interleaving exploration (base/sched_explore.h): while an exploration runs,
 * acquisitions by its registered threads become "point; trylock; if busy,
 * block and yield", and every release is a point. Otherwise this costs one
 * relaxed load and a predicted branch per lock operation.
 */
static inline bool explore_on(void)
{
	return sched_explore_on();
}

static bool try_mutex(void *l)
{
	return !pthread_mutex_trylock(&((struct sm_mutex *)l)->m);
}

static bool try_read(void *l)
{
	return !pthread_rwlock_tryrdlock(&((struct sm_rwsem *)l)->rw);
}

static bool try_write(void *l)
{
	return !pthread_rwlock_trywrlock(&((struct sm_rwsem *)l)->rw);
}

#define MAX_HELD 48

struct held_lock {
	const void *lock;
	const struct lock_class *cls;
	unsigned int subclass;
	enum held_mode mode;
	unsigned int recursion; /* lockdep maps only */
};

static _Thread_local struct held_lock held[MAX_HELD];
static _Thread_local unsigned int nr_held;

static void lockdep_report(const struct held_lock *h, const struct lock_class *cls,
			   unsigned int subclass)
{
	fprintf(stderr,
		"secmmu: lock order inversion: taking %s (rank %d, subclass %u) while holding %s "
		"(rank %d, subclass %u)\n",
		cls->name, cls->rank, subclass, h->cls->name, h->cls->rank, h->subclass);
	for (unsigned int i = 0; i < nr_held; i++)
		fprintf(stderr, "  held #%u: %s\n", i, held[i].cls->name);
	BUG();
}

static void lockdep_acquire(const void *lock, const struct lock_class *cls, unsigned int subclass,
			    enum held_mode mode, bool trylock)
{
	if (!sm_debug)
		return;
	for (unsigned int i = 0; i < nr_held; i++) {
		const struct held_lock *h = &held[i];

		if (h->lock == lock) {
			fprintf(stderr, "secmmu: recursive locking of %s\n", cls->name);
			BUG();
		}
		if (trylock)
			continue;
		if (h->cls->rank > cls->rank ||
		    (h->cls->rank == cls->rank && h->subclass >= subclass))
			lockdep_report(h, cls, subclass);
	}
	BUG_ON(nr_held >= MAX_HELD);
	held[nr_held++] = (struct held_lock){lock, cls, subclass, mode, 0};
}

static void lockdep_release(const void *lock)
{
	if (!sm_debug)
		return;
	for (unsigned int i = nr_held; i-- > 0;) {
		if (held[i].lock != lock)
			continue;
		memmove(&held[i], &held[i + 1], (nr_held - i - 1) * sizeof(held[0]));
		nr_held--;
		return;
	}
	fprintf(stderr, "secmmu: releasing a lock this thread does not hold\n");
	BUG();
}

void __lock_map_acquire(struct lockdep_map *map)
{
	for (unsigned int i = 0; i < nr_held; i++)
		if (held[i].lock == map) {
			held[i].recursion++;
			return;
		}
	lockdep_acquire(map, &map->cls, 0, HELD_WRITE, false);
}

void __lock_map_release(struct lockdep_map *map)
{
	for (unsigned int i = 0; i < nr_held; i++)
		if (held[i].lock == map && held[i].recursion) {
			held[i].recursion--;
			return;
		}
	lockdep_release(map);
}

enum held_mode lockdep_held_mode(const void *lock)
{
	for (unsigned int i = 0; i < nr_held; i++)
		if (held[i].lock == lock)
			return held[i].mode;
	return HELD_NONE;
}

unsigned int lockdep_depth(void)
{
	return nr_held;
}

void sm_mutex_init(struct sm_mutex *l, const char *name, enum lock_rank rank)
{
	BUG_ON(pthread_mutex_init(&l->m, NULL));
	l->cls.name = name;
	l->cls.rank = rank;
	l->cls.spin = false;
}

void sm_mutex_destroy(struct sm_mutex *l)
{
	WARN_ON(pthread_mutex_destroy(&l->m) == EBUSY);
}

void sm_mutex_lock_nested(struct sm_mutex *l, unsigned int subclass)
{
	if (!l->cls.spin)
		might_sleep();
	lockdep_acquire(l, &l->cls, subclass, HELD_WRITE, false);
	if (explore_on() && sched_explore_acquire(l, try_mutex, l->cls.name))
		return;
	BUG_ON(pthread_mutex_lock(&l->m));
}

void sm_mutex_lock(struct sm_mutex *l)
{
	sm_mutex_lock_nested(l, 0);
}

bool sm_mutex_trylock(struct sm_mutex *l)
{
	if (pthread_mutex_trylock(&l->m))
		return false;
	lockdep_acquire(l, &l->cls, 0, HELD_WRITE, true);
	return true;
}

void sm_mutex_unlock(struct sm_mutex *l)
{
	lockdep_release(l);
	BUG_ON(pthread_mutex_unlock(&l->m));
	if (explore_on())
		sched_explore_release(l, l->cls.name, true);
}

void sm_mutex_set_spin(struct sm_mutex *l)
{
	l->cls.spin = true;
}

void sm_rwsem_set_spin(struct sm_rwsem *l)
{
	l->cls.spin = true;
}

void __sm_mutex_unlock_for_wait(struct sm_mutex *l)
{
	lockdep_release(l);
	BUG_ON(pthread_mutex_unlock(&l->m));
	if (explore_on())
		sched_explore_release(l, l->cls.name, false);
}

void __sm_mutex_wait(struct sm_mutex *l, pthread_cond_t *cond)
{
	/* An uncontrolled waiter: the wait releases @l, let controlled waiters retry. */
	if (explore_on())
		sched_explore_release(l, l->cls.name, false);
	BUG_ON(pthread_cond_wait(cond, &l->m));
}

/* ---- sleeping context ---- */

struct non_block {
	const char *file;
	int line;
};

static _Thread_local unsigned int non_block_depth;
static _Thread_local struct non_block non_block_where;
static _Atomic unsigned long sleep_reports;
static _Atomic bool sleep_not_fatal;

void __non_block_start(const char *file, int line)
{
	if (non_block_depth++ == 0)
		non_block_where = (struct non_block){file, line};
}

void non_block_end(void)
{
	BUG_ON(non_block_depth == 0);
	non_block_depth--;
}

void __might_sleep(const char *file, int line)
{
	if (!sm_debug || !non_block_depth)
		return;
	atomic_fetch_add(&sleep_reports, 1);
	fprintf(stderr,
		"secmmu: BUG: sleeping function called from non-blocking context at %s:%d "
		"(non_block_start() at %s:%d)\n",
		file, line, non_block_where.file, non_block_where.line);
	for (unsigned int i = 0; i < nr_held; i++)
		fprintf(stderr, "  held #%u: %s\n", i, held[i].cls->name);
	if (!atomic_load(&sleep_not_fatal))
		BUG();
}

unsigned long might_sleep_reports(void)
{
	return atomic_load(&sleep_reports);
}

void might_sleep_set_fatal(bool fatal)
{
	atomic_store(&sleep_not_fatal, !fatal);
}

void sm_rwsem_init(struct sm_rwsem *l, const char *name, enum lock_rank rank)
{
	pthread_rwlockattr_t attr;

	pthread_rwlockattr_init(&attr);
	/* Writers must not starve behind a stream of faulting readers. */
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	BUG_ON(pthread_rwlock_init(&l->rw, &attr));
	pthread_rwlockattr_destroy(&attr);
	l->cls.name = name;
	l->cls.rank = rank;
	l->cls.spin = false;
}

void sm_rwsem_destroy(struct sm_rwsem *l)
{
	WARN_ON(pthread_rwlock_destroy(&l->rw) == EBUSY);
}

void sm_down_read(struct sm_rwsem *l)
{
	if (!l->cls.spin)
		might_sleep();
	lockdep_acquire(l, &l->cls, 0, HELD_READ, false);
	if (explore_on() && sched_explore_acquire(l, try_read, l->cls.name))
		return;
	BUG_ON(pthread_rwlock_rdlock(&l->rw));
}

bool sm_down_read_trylock(struct sm_rwsem *l)
{
	if (pthread_rwlock_tryrdlock(&l->rw))
		return false;
	lockdep_acquire(l, &l->cls, 0, HELD_READ, true);
	return true;
}

/*
 * sm_rwsem_wait_released() outside exploration is a real wait for a release:
 * while anybody waits (release_waiters), every rwsem release bumps the
 * release generation of its hash bucket and wakes that bucket's waiters
 * (sm_wake_up_var()). A waiter that shares a bucket with another rwsem may be
 * woken by that one's release: its caller then fails its trylock and waits
 * again, after a real release.
 */
#define RELEASE_BUCKETS 64

static _Atomic unsigned long release_gen[RELEASE_BUCKETS];
static _Atomic int release_waiters;

static _Atomic unsigned long *release_gen_of(const struct sm_rwsem *l)
{
	uintptr_t h = (uintptr_t)l;

	h ^= h >> 17;
	h *= 0x9e3779b97f4a7c15ull;
	return &release_gen[(h >> 40) % RELEASE_BUCKETS];
}

static void rwsem_released(struct sm_rwsem *l)
{
	_Atomic unsigned long *gen;

	/*
	 * Pairs with the fence in sm_rwsem_wait_released(): either the waiter's
	 * trylock sees this release, or this load sees the waiter.
	 */
	atomic_thread_fence(memory_order_seq_cst);
	if (!atomic_load_explicit(&release_waiters, memory_order_relaxed))
		return;
	gen = release_gen_of(l);
	atomic_fetch_add(gen, 1);
	sm_wake_up_var(gen);
}

void sm_up_read(struct sm_rwsem *l)
{
	lockdep_release(l);
	BUG_ON(pthread_rwlock_unlock(&l->rw));
	rwsem_released(l);
	if (explore_on())
		sched_explore_release(l, l->cls.name, true);
}

void sm_down_write_nested(struct sm_rwsem *l, unsigned int subclass)
{
	if (!l->cls.spin)
		might_sleep();
	lockdep_acquire(l, &l->cls, subclass, HELD_WRITE, false);
	if (explore_on() && sched_explore_acquire(l, try_write, l->cls.name))
		return;
	BUG_ON(pthread_rwlock_wrlock(&l->rw));
}

void sm_down_write(struct sm_rwsem *l)
{
	sm_down_write_nested(l, 0);
}

void sm_up_write(struct sm_rwsem *l)
{
	lockdep_release(l);
	BUG_ON(pthread_rwlock_unlock(&l->rw));
	rwsem_released(l);
	if (explore_on())
		sched_explore_release(l, l->cls.name, true);
}

void sm_rwsem_wait_released(struct sm_rwsem *l)
{
	_Atomic unsigned long *gen = release_gen_of(l);
	unsigned long seen;

	might_sleep();
	if (explore_on() && sched_explore_wait_release(l, l->cls.name))
		return;
	atomic_fetch_add(&release_waiters, 1);
	seen = atomic_load(gen);
	atomic_thread_fence(memory_order_seq_cst); /* Pairs with rwsem_released(). */
	if (try_read(l)) {
		/* Released since the caller's trylock failed: let it try again. */
		BUG_ON(pthread_rwlock_unlock(&l->rw));
	} else {
		sm_wait_var_event(gen, atomic_load(gen) != seen);
	}
	atomic_fetch_sub(&release_waiters, 1);
}

void sm_rwsem_note_acquired(struct sm_rwsem *l, enum held_mode mode)
{
	lockdep_acquire(l, &l->cls, 0, mode, false);
}
