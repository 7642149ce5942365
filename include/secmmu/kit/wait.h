/* SPDX-License-Identifier: MIT */
/*
 * Waiting: the one wait primitive (a wait queue used with a ranked mutex, a
 * condition variable in pthread terms).
 *
 *	sm_mutex_lock(&obj->lock);
 *	sm_wait_event(&obj->wq, &obj->lock, obj->done);   // may sleep
 *	sm_mutex_unlock(&obj->lock);
 *
 *	sm_mutex_lock(&obj->lock);
 *	obj->done = true;
 *	sm_wake_up_all(&obj->wq);                        // pairs with the wait
 *	sm_mutex_unlock(&obj->lock);
 *
 * The condition is always rechecked under the mutex: wake-ups may be
 * spurious. Every wait of the library goes through here (or through
 * sm_wait_var_event(), a wait on any address with hashed wait queues, like
 * the kernel's wait_var_event()/wake_up_var()), so the interleaving explorer
 * sees every wait: a controlled thread that waits is blocked in the explorer
 * until a wake-up of that queue, and a run whose every thread is blocked is a
 * deadlock, reported at once.
 */
#ifndef SECMMU_KIT_WAIT_H
#define SECMMU_KIT_WAIT_H

#include "secmmu/compiler.h"
#include "secmmu/kit/symbols.h"

#include <pthread.h>
#include <stdbool.h>

#include "secmmu/kit/lock.h"

SECMMU_BEGIN_DECLS

/*
 * May a hand-off spin (poll) before it sleeps? Not under exploration: only
 * the spinner would run, so the spin could never succeed.
 */
bool sm_may_spin(void);

struct sm_waitq {
	pthread_cond_t cond;
	const char *name;
};

void sm_waitq_init(struct sm_waitq *wq, const char *name);
void sm_waitq_destroy(struct sm_waitq *wq);

/**
 * sm_wait() - sleep on @wq until woken
 * @l: held by the caller; released while sleeping, held again on return
 *
 * May sleep (might_sleep()). Wake-ups may be spurious: use sm_wait_event().
 */
void sm_wait(struct sm_waitq *wq, struct sm_mutex *l);

/* Wake every waiter of @wq. Any context; usually with the waiters' mutex held. */
void sm_wake_up_all(struct sm_waitq *wq);

/*
 * Let @us microseconds pass (an injected delay, not a wait for an event).
 * Under exploration it is a point: time passing is other threads running.
 */
void sm_delay_us(unsigned int us);

/* Sleep on @wq, with @l held, until @cond (evaluated under @l) is true. */
#define sm_wait_event(wq, l, cond)                                                                 \
	do {                                                                                       \
		while (!(cond))                                                                    \
			sm_wait(wq, l);                                                            \
	} while (0)

/*
 * Waits on an address, with no wait queue of the waiter's own (the kernel's
 * wait_var_event()/wake_up_var()): the waker calls sm_wake_up_var(@var)
 * after making @cond true; the waiter, holding no lock, sleeps until it is.
 * @cond is evaluated under the bucket's lock (LOCK_RANK_WAITQ): it must only
 * read atomics, which the waker writes before it calls sm_wake_up_var()
 * (a waker that finds no waiter counted takes no lock: its full fence is
 * what orders the write before the waiter's test, see base/wait.c).
 *
 * sm_var_wait_begin() takes the bucket's lock and counts the waiter;
 * sm_var_wait_end() uncounts it and drops the lock. sm_var_lock() and
 * sm_var_waitq() name the bucket's lock and queue.
 */
struct sm_mutex *sm_var_lock(const void *var);
struct sm_waitq *sm_var_waitq(const void *var);
struct sm_mutex *sm_var_wait_begin(const void *var);
void sm_var_wait_end(const void *var);
void sm_wake_up_var(const void *var);

#define sm_wait_var_event(var, cond)                                                               \
	do {                                                                                       \
		struct sm_mutex *wv_l_ = sm_var_wait_begin(var);                                   \
		sm_wait_event(sm_var_waitq(var), wv_l_, cond);                                     \
		sm_var_wait_end(var);                                                              \
	} while (0)

SECMMU_END_DECLS

#endif /* SECMMU_KIT_WAIT_H */
