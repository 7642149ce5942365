// SPDX-License-Identifier: MIT
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#define _LGPL_SOURCE
#include <urcu/urcu-memb.h>

#include "base/debug.h"
#include "base/rcu.h"
#include "base/rcu_fast.h"
#include "base/lock.h"
#include "base/sched_explore.h"

/* A controlled thread of a running exploration: RCU is the explorer's model. */
static inline bool explored(void)
{
	return sched_explore_on() && sched_explore_controlled();
}

#if defined(__SANITIZE_THREAD__)
#define SM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SM_TSAN 1
#endif
#endif

#ifdef SM_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
void __tsan_ignore_thread_begin(void);
void __tsan_ignore_thread_end(void);
static char gp_token;

/*
 * liburcu is not instrumented: its own handoffs (call_rcu queue, barrier
 * completion, futex wakeups) are invisible to TSan. Silence only what its
 * own code does; our objects are covered by the annotations below.
 */
/*
 * Default visibility: the library is built with -fvisibility=hidden, and the
 * TSan runtime looks this hook up dynamically; hidden, it is never called
 * and liburcu's internals are reported.
 */
const char *__tsan_default_suppressions(void) __attribute__((visibility("default")));
const char *__tsan_default_suppressions(void)
{
	return "called_from_lib:liburcu-memb.so\ncalled_from_lib:liburcu-common.so\n";
}
#define gp_release()  __tsan_release(&gp_token)
#define gp_acquire()  __tsan_acquire(&gp_token)
#define cb_release(h) __tsan_release(h)
#define cb_acquire(h) __tsan_acquire(h)
/* liburcu's inline wake_up_gp() reads its futex word non-atomically. */
#define urcu_ignore_begin() __tsan_ignore_thread_begin()
#define urcu_ignore_end()   __tsan_ignore_thread_end()
#else
#define cb_release(h)                                                                              \
	do {                                                                                       \
	} while (0)
#define cb_acquire(h)                                                                              \
	do {                                                                                       \
	} while (0)
#define urcu_ignore_begin()                                                                        \
	do {                                                                                       \
	} while (0)
#define urcu_ignore_end()                                                                          \
	do {                                                                                       \
	} while (0)
#define gp_release()                                                                               \
	do {                                                                                       \
	} while (0)
#define gp_acquire()                                                                               \
	do {                                                                                       \
	} while (0)
#endif

_Static_assert(sizeof(((struct sm_rcu_head *)0)->urcu_head) >= sizeof(struct rcu_head),
	       "sm_rcu_head too small for liburcu's rcu_head");

static pthread_key_t reg_key;
static pthread_once_t reg_once = PTHREAD_ONCE_INIT;
/* Not static: base/rcu_fast.h reads and counts them inline. */
SM_RCU_TLS bool sm_rcu_registered;
SM_RCU_TLS unsigned int sm_rcu_nesting;
static _Atomic unsigned long nr_queued; /* callbacks ever queued, for sm_rcu_barrier() */

static void unregister_thread(void *unused)
{
	(void)unused;
	if (sm_rcu_registered) {
		urcu_memb_unregister_thread();
		sm_rcu_registered = false;
	}
}

static void make_key(void)
{
	BUG_ON(pthread_key_create(&reg_key, unregister_thread));
}

static void ensure_registered(void)
{
	if (__builtin_expect(sm_rcu_registered, 1))
		return;
	pthread_once(&reg_once, make_key);
	urcu_memb_register_thread();
	sm_rcu_registered = true;
	/* Any non-NULL value makes the destructor run at thread exit. */
	pthread_setspecific(reg_key, (void *)1);
}

void sm_rcu_read_lock(void)
{
	if (explored()) {
		sched_explore_rcu_read_lock();
		return;
	}
	ensure_registered();
	sm_rcu_nesting++;
	urcu_memb_read_lock();
}

void sm_rcu_read_unlock(void)
{
	if (explored()) {
		sched_explore_rcu_read_unlock();
		return;
	}
	BUG_ON(sm_rcu_nesting == 0);
	sm_rcu_nesting--;
	gp_release(); /* Pairs with gp_acquire() after the grace period. */
	urcu_ignore_begin();
	urcu_memb_read_unlock();
	urcu_ignore_end();
}

bool sm_rcu_read_ongoing(void)
{
	if (explored())
		return sched_explore_rcu_read_ongoing();
	return sm_rcu_nesting > 0;
}

void sm_synchronize_rcu(void)
{
	might_sleep();
	if (explored()) {
		sched_explore_synchronize_rcu();
		return;
	}
	BUG_ON(sm_rcu_nesting);
	urcu_memb_synchronize_rcu();
	gp_acquire(); /* Pairs with gp_release() in sm_rcu_read_unlock(). */
}

static void rcu_trampoline(struct rcu_head *head)
{
	struct sm_rcu_head *h = (struct sm_rcu_head *)(void *)head;

	gp_acquire();  /* Pairs with gp_release() in sm_rcu_read_unlock(). */
	cb_acquire(h); /* Pairs with cb_release() in sm_call_rcu(). */
	/*
	 * liburcu's callback thread is registered by liburcu itself: a callback
	 * that reads (or queues another callback) must not register it again.
	 */
	sm_rcu_registered = true;
	h->fn(h);
}

void sm_call_rcu(struct sm_rcu_head *head, void (*fn)(struct sm_rcu_head *head))
{
	head->fn = fn;
	if (explored()) {
		sched_explore_call_rcu(head);
		return;
	}
	ensure_registered();
	atomic_fetch_add(&nr_queued, 1);
	cb_release(head); /* Pairs with cb_acquire() in rcu_trampoline(). */
	urcu_memb_call_rcu((struct rcu_head *)(void *)head->urcu_head, rcu_trampoline);
}

bool sm_rcu_callbacks_queued(void)
{
	return atomic_load(&nr_queued) != 0;
}

void sm_rcu_barrier(void)
{
	unsigned long before;

	might_sleep();
	if (explored()) {
		sched_explore_rcu_barrier();
		return;
	}
	BUG_ON(sm_rcu_nesting);
	ensure_registered();
	/*
	 * A callback may queue another (a notifier's free drops the last
	 * mm_count, whose teardown frees an object through RCU): wait again
	 * until a whole round queued nothing new.
	 */
	do {
		before = atomic_load(&nr_queued);
		urcu_memb_barrier();
	} while (atomic_load(&nr_queued) != before);
	gp_acquire();
}
