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

static struct var_bucket {
	struct sm_mutex lock;
	struct sm_waitq wq;
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

void sm_wake_up_var(const void *var)
{
	struct var_bucket *b = var_bucket(var);

	/* Taking the lock orders the waker's writes before the waiter's recheck. */
	sm_mutex_lock(&b->lock);
	sm_wake_up_all(&b->wq);
	sm_mutex_unlock(&b->lock);
}

bool sm_may_spin(void)
{
	return !sched_explore_on();
}
