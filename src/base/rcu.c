// SPDX-License-Identifier: MIT
#include <pthread.h>
#include <stddef.h>

#define _LGPL_SOURCE
#include <urcu/urcu-memb.h>

#include "base/debug.h"
#include "base/rcu.h"

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
static char gp_token;
#define gp_release() __tsan_release(&gp_token)
#define gp_acquire() __tsan_acquire(&gp_token)
#else
#define gp_release() do { } while (0)
#define gp_acquire() do { } while (0)
#endif

_Static_assert(sizeof(((struct sm_rcu_head *)0)->urcu_head) >= sizeof(struct rcu_head),
	       "sm_rcu_head too small for liburcu's rcu_head");

static pthread_key_t reg_key;
static pthread_once_t reg_once = PTHREAD_ONCE_INIT;
static _Thread_local bool registered;
static _Thread_local unsigned int nesting;

static void unregister_thread(void *unused)
{
	(void)unused;
	if (registered) {
		urcu_memb_unregister_thread();
		registered = false;
	}
}

static void make_key(void)
{
	BUG_ON(pthread_key_create(&reg_key, unregister_thread));
}

static void ensure_registered(void)
{
	if (__builtin_expect(registered, 1))
		return;
	pthread_once(&reg_once, make_key);
	urcu_memb_register_thread();
	registered = true;
	/* Any non-NULL value makes the destructor run at thread exit. */
	pthread_setspecific(reg_key, (void *)1);
}

void sm_rcu_read_lock(void)
{
	ensure_registered();
	nesting++;
	urcu_memb_read_lock();
}

void sm_rcu_read_unlock(void)
{
	BUG_ON(nesting == 0);
	nesting--;
	gp_release(); /* Pairs with gp_acquire() after the grace period. */
	urcu_memb_read_unlock();
}

bool sm_rcu_read_ongoing(void)
{
	return nesting > 0;
}

void sm_synchronize_rcu(void)
{
	BUG_ON(nesting);
	urcu_memb_synchronize_rcu();
	gp_acquire(); /* Pairs with gp_release() in sm_rcu_read_unlock(). */
}

static void rcu_trampoline(struct rcu_head *head)
{
	struct sm_rcu_head *h = (struct sm_rcu_head *)(void *)head;

	gp_acquire(); /* Pairs with gp_release() in sm_rcu_read_unlock(). */
	h->fn(h);
}

void sm_call_rcu(struct sm_rcu_head *head, void (*fn)(struct sm_rcu_head *head))
{
	ensure_registered();
	head->fn = fn;
	urcu_memb_call_rcu((struct rcu_head *)(void *)head->urcu_head, rcu_trampoline);
}

void sm_rcu_barrier(void)
{
	BUG_ON(nesting);
	ensure_registered();
	urcu_memb_barrier();
	gp_acquire();
}
