/* SPDX-License-Identifier: MIT */
/*
 * struct mmu_notifier_subscriptions: the per-mm notifier state, shared by
 * the classic subscriptions (mmu_notifier.c) and the interval subscriptions
 * (interval.c). Private to src/notifier.
 */
#ifndef SECMMU_NOTIFIER_SUBSCRIPTIONS_H
#define SECMMU_NOTIFIER_SUBSCRIPTIONS_H

/* Only the core names __core (include/secmmu/mmu_notifier.h poisons it otherwise). */
#ifndef SECMMU_NOTIFIER_CORE
#error "src/notifier/subscriptions.h is the core's: define SECMMU_NOTIFIER_CORE before any include"
#endif

#include <stdbool.h>

#include "base/itree.h"
#include "base/lock.h"
#include "base/rcu.h"
#include "base/thread.h"
#include "base/wait.h"
#include "mm/mm_types.h"
#include "secmmu/mmu_notifier.h"
#include "secmmu/mmu_notifier_hooks.h"

/*
 * mmu_notifier_range->__core.open: which halves of the invalidation its
 * start opened, so that its _end closes exactly those.
 * @MN_RANGE_HLIST_OPEN: the classic start was delivered and counted in
 *   subscriptions->open_ranges: the _end walks the list and uncounts it.
 * @MN_RANGE_ITREE_OPEN: the start was delivered to the interval tree (so is
 *   its _end).
 */
#define MN_RANGE_HLIST_OPEN (1u << 0)
#define MN_RANGE_ITREE_OPEN (1u << 1)

/*
 * "Held" while invalidate callbacks run, taken for an instant by the calls a
 * driver makes around which it might hold a lock its callbacks take
 * (base/lock.h, LOCK_RANK_INVALIDATE_MAP).
 */
extern struct lockdep_map __mmu_notifier_invalidate_range_start_map;

/* Check the caller holds no lock an invalidate callback may take. */
static inline void mn_invalidate_map_touch(void)
{
	lock_map_acquire(&__mmu_notifier_invalidate_range_start_map);
	lock_map_release(&__mmu_notifier_invalidate_range_start_map);
}

/*
 * struct mmu_notifier_subscriptions - what is attached to one mm
 * @lock:      protects @list updates, @itree, @invalidate_seq,
 *             @active_invalidate_ranges, @deferred_list, every
 *             mmu_notifier->users and ->pprev; it is also the mutex of @wq.
 *             Rank LOCK_RANK_NOTIFIER_SUBS: nothing is called under it.
 * @list:      classic subscriptions, an RCU list (readers: sm_rcu_read_lock,
 *             sm_rcu_dereference; writers: @lock, sm_rcu_assign_pointer).
 * @has_itree: an interval subscription was ever inserted. Set under
 *             mm_take_all_locks(), so every invalidation sees the same value at
 *             its start and its end; read with READ_ONCE.
 * @itree:     interval subscriptions. Changed only under @lock and only while
 *             no invalidation walks it (@invalidate_seq even); walked without
 *             @lock while @invalidate_seq is odd (see interval.c).
 * @invalidate_seq: even when idle, odd while some invalidation overlapping an
 *             interval is in progress. Starts at 2.
 * @active_invalidate_ranges: invalidate_range_start calls not yet ended.
 * @deferred_list: interval subscriptions whose insert or remove waits for
 *             the last active invalidation to end.
 * @wq:        broadcast when @invalidate_seq returns to even and when a
 *             classic ->release claimed by unregister has finished.
 * @release_gen: bumped under @lock each time a classic ->release completes;
 *             read locklessly (acquire) by invalidate_range_start, which
 *             keeps the value in the range so that its _end is delivered to
 *             exactly the subscriptions its start was delivered to.
 * @open_ranges, @open_slot: classic invalidate_range_start calls whose
 *             _end has not run yet are their sum (mn_open_ranges()). A
 *             thread with a thread slot (base/thread.h) counts its starts,
 *             and the _ends it runs of them, in @open_slot[its slot - 1]
 *             with plain stores (only the slot's owner writes it: no
 *             lock-prefixed instruction on the fast path); a thread without
 *             one, and an _end run by another thread than its start, use
 *             @open_ranges (an atomic read-modify-write; it may go below 0).
 *             Counted and uncounted inside the read-side section of the
 *             start's and the _end's walk. Unhooking a subscription that
 *             has had ->release (exit, unregister) first waits until the
 *             sum is 0 (mn_wait_open_ranges_locked(): a grace period, then
 *             on @wq under @lock), so that every _end finds on the list
 *             every subscription its start was delivered to.
 * @unhook_waiting: unhooks in that wait (changed under @lock): an _end
 *             that sees it non-zero wakes @wq.
 */
struct mmu_notifier_subscriptions {
	struct sm_mutex lock;
	struct mmu_notifier *list;
	bool has_itree;
	struct itree_root itree;
	unsigned long invalidate_seq;
	unsigned long active_invalidate_ranges;
	struct mmu_interval_notifier *deferred_list;
	struct sm_waitq wq;
	_Atomic unsigned long release_gen;
	_Atomic long open_ranges;
	_Atomic unsigned int unhook_waiting;
	/*
	 * A detector only (the museum's put-free-no-grace; counted only while
	 * that switch is on): invalidation walks of @list in progress,
	 * counted in walkers[walk_epoch & 1] of the epoch they began in,
	 * SRCU-style. An unhook that flips the epoch and finds the old counter
	 * non-zero knows a walk that may hold the subscription is still
	 * running.
	 */
	_Atomic unsigned long walk_epoch;
	_Atomic unsigned long walkers[2];
	/* Written by the slot's owner only: see @open_ranges. */
	_Atomic long open_slot[SM_THREAD_SLOTS];
};

/*
 * mn_subscriptions() - the published subscriptions of @mm, or NULL.
 * The caller holds mm_users or mm_count; once published the container lives
 * until __mmdrop. Pairs with sm_rcu_assign_pointer() in __mmu_notifier_register().
 */
static inline struct mmu_notifier_subscriptions *mn_subscriptions(struct mm_struct *mm)
{
	return sm_rcu_dereference(mm->notifier_subscriptions);
}

static inline bool mn_has_itree(struct mmu_notifier_subscriptions *subscriptions)
{
	return READ_ONCE(subscriptions->has_itree);
}

/* interval.c: the interval half of invalidate_range_start/_end and release. */
int mn_itree_invalidate(struct mmu_notifier_subscriptions *subscriptions,
			const struct mmu_notifier_range *range);
void mn_itree_inv_end(struct mmu_notifier_subscriptions *subscriptions);
void mn_itree_release(struct mmu_notifier_subscriptions *subscriptions, struct mm_struct *mm);
bool mn_itree_empty(struct mmu_notifier_subscriptions *subscriptions);

#endif /* SECMMU_NOTIFIER_SUBSCRIPTIONS_H */
