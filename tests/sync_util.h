/* SPDX-License-Identifier: MIT */
/*
 * sync_util.h - synchronisation helpers for tests, built on the substrate
 * (base/lock.h, base/wait.h, base/thread.h) so that tests, like the library,
 * start no raw pthread and wait on no raw condition variable: the rank
 * checker sees their locks, the explorer their threads and waits, and TSan
 * the same happens-before edges as for the library (tests/unit/test_substrate.c).
 *
 *   struct test_barrier      pthread_barrier_t for N threads (a generation
 *                            count under a ranked mutex, a wait queue)
 *   test_flag_set/_wait      a one-shot event on an _Atomic bool (the
 *                            kernel's wait_var_event()/wake_up_var())
 *   TEST_EVENTUALLY(cond)    for a condition nobody signals (a statistic a
 *                            driver counts without a wake-up): re-read it
 *                            every millisecond, for at most 5 s; true if it
 *                            held. Never a stand-in for a wait the code under
 *                            test or the test itself could provide.
 */
#ifndef SECMMU_TESTS_SYNC_UTIL_H
#define SECMMU_TESTS_SYNC_UTIL_H

#include <stdatomic.h>
#include <stdbool.h>

#include "base/lock.h"
#include "base/thread.h"
#include "base/wait.h"

/*
 * struct test_barrier - @count threads meet; the last one to arrive wakes
 * the others. @lock (LOCK_RANK_LEAF: held around the count only, a waiter
 * holds no other lock) guards @arrived and @generation; @wq is woken when
 * @generation moves on. Reusable, as pthread_barrier_t.
 */
struct test_barrier {
	struct sm_mutex lock;
	struct sm_waitq wq;
	unsigned int count;
	unsigned int arrived;
	unsigned long generation;
};

static inline void test_barrier_init(struct test_barrier *b, unsigned int count)
{
	sm_mutex_init(&b->lock, "test barrier", LOCK_RANK_LEAF);
	sm_waitq_init(&b->wq, "test barrier");
	b->count = count;
	b->arrived = 0;
	b->generation = 0;
}

static inline void test_barrier_destroy(struct test_barrier *b)
{
	sm_waitq_destroy(&b->wq);
	sm_mutex_destroy(&b->lock);
}

/* Wait until @b->count threads called this. May sleep; hold no lock. */
static inline void test_barrier_wait(struct test_barrier *b)
{
	unsigned long gen;

	sm_mutex_lock(&b->lock);
	gen = b->generation;
	if (++b->arrived == b->count) {
		b->arrived = 0;
		b->generation++;
		sm_wake_up_all(&b->wq); /* Pairs with the wait below. */
	} else {
		sm_wait_event(&b->wq, &b->lock, b->generation != gen);
	}
	sm_mutex_unlock(&b->lock);
}

/* Make @flag true and wake its waiters (pairs with test_flag_wait()). */
static inline void test_flag_set(_Atomic bool *flag)
{
	atomic_store(flag, true);
	sm_wake_up_var(flag);
}

/* Sleep until @flag is true. May sleep; hold no lock ranked at or above WAITQ. */
static inline void test_flag_wait(_Atomic bool *flag)
{
	sm_wait_var_event(flag, atomic_load(flag));
}

/* See the top of this file. sm_delay_us() is a scheduling point under exploration. */
#define TEST_EVENTUALLY(cond)                                                                      \
	({                                                                                         \
		unsigned int ev_ms_ = 0;                                                           \
		while (!(cond) && ev_ms_++ < 5000)                                                 \
			sm_delay_us(1000);                                                         \
		(bool)(cond);                                                                      \
	})

#endif /* SECMMU_TESTS_SYNC_UTIL_H */
