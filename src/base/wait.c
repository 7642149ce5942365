// SPDX-License-Identifier: MIT
/*
 * The wait primitive: see base/wait.h.
 *
 * Outside exploration a wait queue is a pthread condition variable used with
 * the ranked mutex's pthread mutex. A controlled thread under exploration
 * never sleeps in pthread_cond_wait(): it announces the wait to the explorer
 * (sched_explore_prepare_wait) while it still holds @l, releases @l, and
 * blocks in the explorer until a wake-up of @wq (sched_explore_wake); a wake
 * between the release and the block is not lost (it cancels the pending
 * wait). A wake-up always does both, so a real sleeper is woken too.
 */
#include <stdint.h>
#include <unistd.h>

#include "base/debug.h"
#include "base/sched_explore.h"
#include "base/wait.h"

void sm_waitq_init(struct sm_waitq *wq, const char *name)
{
	BUG_ON(pthread_cond_init(&wq->cond, NULL));
	wq->name = name;
}

void sm_waitq_destroy(struct sm_waitq *wq)
{
	pthread_cond_destroy(&wq->cond);
}

void sm_wait(struct sm_waitq *wq, struct sm_mutex *l)
{
	lockdep_assert_held(l);
	might_sleep();
	if (sched_explore_on() && sched_explore_controlled()) {
		sched_explore_prepare_wait(wq, wq->name);
		__sm_mutex_unlock_for_wait(l);
		sched_explore_wait();
		sm_mutex_lock(l);
		return;
	}
	__sm_mutex_wait(l, &wq->cond);
}

void sm_wake_up_all(struct sm_waitq *wq)
{
	pthread_cond_broadcast(&wq->cond);
	if (sched_explore_on())
		sched_explore_wake(wq);
}

void sm_delay_us(unsigned int us)
{
	might_sleep();
	if (sched_explore_on() && sched_explore_controlled()) {
		sched_point("delay");
		return;
	}
	usleep(us);
}

/* ---- waits on an address: hashed wait queues ---- */

#define VAR_BUCKETS 64

/*
 * @waiters: sm_wait_var_event() calls between sm_var_wait_begin() and
 * sm_var_wait_end() on this bucket: changed under @lock, read without it by
 * sm_wake_up_var(), which skips @lock and the wake-up when it reads 0.
 */
static struct var_bucket {
	struct sm_mutex lock;
	struct sm_waitq wq;
	_Atomic unsigned int waiters;
} var_buckets[VAR_BUCKETS];

static pthread_once_t var_once = PTHREAD_ONCE_INIT;

static void var_init(void)
{
	for (unsigned int i = 0; i < VAR_BUCKETS; i++) {
		sm_mutex_init(&var_buckets[i].lock, "wait_var", LOCK_RANK_WAITQ);
		/* Held for a test or a wake-up only: woken from non-blocking context. */
		sm_mutex_set_spin(&var_buckets[i].lock);
		sm_waitq_init(&var_buckets[i].wq, "wait_var");
	}
}

static struct var_bucket *var_bucket(const void *var)
{
	uintptr_t h = (uintptr_t)var;

	pthread_once(&var_once, var_init);
	h ^= h >> 17;
	h *= 0x9e3779b97f4a7c15ull;
	return &var_buckets[(h >> 40) % VAR_BUCKETS];
}

struct sm_mutex *sm_var_lock(const void *var)
{
	return &var_bucket(var)->lock;
}

struct sm_waitq *sm_var_waitq(const void *var)
{
	return &var_bucket(var)->wq;
}

/*
 * The waiter side of sm_wait_var_event(): the bucket's lock, then the
 * waiter counted before its first test of the condition. The full fence
 * pairs with the one in sm_wake_up_var(): of a waker that made the
 * condition true and a waiter that counted itself, either the waker sees the
 * count (and wakes under the lock, which the waiter holds until it sleeps)
 * or the waiter's test sees the condition true (the classic store-buffer
 * pairing; Linux's wake_up_var() has the same smp_mb() before its
 * waitqueue_active()).
 */
struct sm_mutex *sm_var_wait_begin(const void *var)
{
	struct var_bucket *b = var_bucket(var);

	sm_mutex_lock(&b->lock);
	atomic_fetch_add_explicit(&b->waiters, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst); /* Pairs with sm_wake_up_var(). */
	/* Under exploration: a waker may run between the count and the test. */
	sched_point("wait_var_counted");
	return &b->lock;
}

void sm_var_wait_end(const void *var)
{
	struct var_bucket *b = var_bucket(var);

	lockdep_assert_held(&b->lock);
	atomic_fetch_sub_explicit(&b->waiters, 1, memory_order_relaxed);
	sm_mutex_unlock(&b->lock);
}

bool sm_var_has_waiters(const void *var)
{
	return atomic_load(&var_bucket(var)->waiters) != 0;
}

void sm_wake_up_var(const void *var)
{
	struct var_bucket *b = var_bucket(var);

	/* Under exploration: a waiter may count itself between our store and the test. */
	sched_point("wake_up_var");
	/*
	 * Pairs with the fence in sm_var_wait_begin(): the caller's store
	 * that made the condition true is ordered before the load of the
	 * count. No waiter counted: none can miss the store, none to wake
	 * (no lock, no wake-up: one fence instead of a lock pair).
	 */
	atomic_thread_fence(memory_order_seq_cst);
	if (!atomic_load_explicit(&b->waiters, memory_order_relaxed))
		return;
	/* Taking the lock orders the waker's writes before the waiter's recheck. */
	sm_mutex_lock(&b->lock);
	sm_wake_up_all(&b->wq);
	sm_mutex_unlock(&b->lock);
}

bool sm_may_spin(void)
{
	return !sched_explore_on();
}
