// SPDX-License-Identifier: MIT
/*
 * The out-of-line half of kshim.h: SRCU callbacks and wait queues for the
 * kernel's mm/mmu_notifier.c, on src/base.
 */
#include "kshim.h"

/* call_srcu() callbacks queued and not yet run (kshim_synchronize_srcu()). */
static _Atomic long srcu_pending;

/* sm_call_rcu() calls back with the struct sm_rcu_head at offset 0. */
static void kshim_srcu_trampoline(struct sm_rcu_head *sm)
{
	struct rcu_head *head = container_of(sm, struct rcu_head, sm);

	head->func(head);
	/* Pairs with the load in kshim_synchronize_srcu(). */
	atomic_fetch_sub_explicit(&srcu_pending, 1, memory_order_release);
}

/**
 * kshim_call_srcu() - call_srcu(): run @func(@head) after a grace period,
 * on liburcu's callback thread. Does not sleep.
 */
void kshim_call_srcu(struct rcu_head *head, rcu_callback_t func)
{
	head->func = func;
	atomic_fetch_add_explicit(&srcu_pending, 1, memory_order_relaxed);
	sm_call_rcu(&head->sm, kshim_srcu_trampoline);
}

/**
 * kshim_synchronize_srcu() - synchronize_srcu(): wait for a grace period,
 * then for every callback queued before it (see kshim.h). May sleep; not
 * from an RCU callback. The barrier is skipped when no callback is pending
 * (the common case: unregister, exit), as it costs a round trip to every
 * callback thread.
 */
void kshim_synchronize_srcu(void)
{
	sm_synchronize_rcu();
	if (atomic_load_explicit(&srcu_pending, memory_order_acquire))
		sm_rcu_barrier();
}

void init_waitqueue_head(wait_queue_head_t *wq)
{
	sm_mutex_init(&wq->lock, "wait_queue_head->lock", LOCK_RANK_LEAF);
	wq->gen = 0;
	sm_waitq_init(&wq->wq, "mmu_notifier_subscriptions->wq");
}

/* The generation to sleep on; read before the waiter tests its condition. */
unsigned long kshim_wait_prepare(wait_queue_head_t *wq)
{
	unsigned long gen;

	sm_mutex_lock(&wq->lock);
	gen = wq->gen;
	sm_mutex_unlock(&wq->lock);
	return gen;
}

/* Sleep until a wake_up_all() after kshim_wait_prepare() returned @gen. */
void kshim_wait_sleep(wait_queue_head_t *wq, unsigned long gen)
{
	sm_mutex_lock(&wq->lock);
	sm_wait_event(&wq->wq, &wq->lock, wq->gen != gen);
	sm_mutex_unlock(&wq->lock);
}

/**
 * wake_up_all() - wake every wait_event() sleeper of @wq; they re-test
 * their conditions. Takes @wq->lock (a leaf); does not sleep.
 */
void wake_up_all(wait_queue_head_t *wq)
{
	sm_mutex_lock(&wq->lock);
	wq->gen++;
	sm_wake_up_all(&wq->wq);
	sm_mutex_unlock(&wq->lock);
}
