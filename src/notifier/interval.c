// SPDX-License-Identifier: MIT
/*
 * Interval notifiers: a subscription covers [start, last] of one mm and is
 * told only about invalidations that overlap it. Modelled on the itree half
 * of Linux mm/mmu_notifier.c.
 *
 * WHY COLLISION-RETRY IS CORRECT (the invalidate_seq scheme)
 *
 * A secondary MMU's fault path must never install a translation that an
 * invalidation has already (or is about to) tear down. It cannot hold a lock
 * across "read the primary page table" and "install", because reading the
 * primary table may fault and sleep, and the invalidation path must not wait
 * behind device faults. So instead it reads optimistically and checks, under
 * its own lock, whether anything happened in between:
 *
 *	seq = mmu_interval_read_begin(sub);
 *	... look up the primary PTE (may sleep, may fault) ...
 *	lock(driver);
 *	if (mmu_interval_read_retry(sub, seq)) { unlock; start over; }
 *	install the translation;
 *	unlock(driver);
 *
 * and the invalidate callback does
 *
 *	lock(driver);
 *	mmu_interval_set_seq(sub, cur_seq);
 *	drop the translations of the range;
 *	unlock(driver);
 *
 * Two sequence numbers are involved. subscriptions->invalidate_seq is per mm:
 * even when no invalidation that overlaps any interval is in progress, odd
 * while at least one is. Every interval subscription has its own
 * sub->__core.invalidate_seq, which is always odd: the value of the mm-wide sequence
 * during the last invalidation that touched it (or, for a fresh subscription,
 * an odd value that is not the current one).
 *
 * When an invalidation starts and overlaps some interval, the mm sequence is
 * made odd (if it was even), and each overlapping subscription's callback
 * copies that odd value (cur_seq) into sub->__core.invalidate_seq under the driver
 * lock. Further invalidations that start before the last one ends share the
 * same odd value. When the last active invalidation ends, the mm sequence is
 * incremented to the next even value. Hence, for a given subscription:
 *
 *   - sub->__core.invalidate_seq == subscriptions->invalidate_seq means "an
 *     invalidation that covers me is in progress right now". read_begin
 *     sleeps until the mm sequence moves on, i.e. until every invalidation
 *     that was running has ended; it then returns sub->__core.invalidate_seq as it
 *     was read (an odd value that can no longer be current).
 *
 *   - read_retry(seq) asks, under the driver lock, whether sub->__core.invalidate_seq
 *     is still the value read_begin returned. The callback writes a new value
 *     under that same lock before it drops translations, and it always writes
 *     the odd value current at its start, which differs from any value
 *     read_begin could have returned: read_begin returns only values that are
 *     not current (it waited for that), and the mm sequence only grows. So if
 *     any invalidation overlapping the interval began after read_begin read the
 *     sequence, either its callback has already run (retry sees a new value) or
 *     it has not run yet (it will take the driver lock after we drop it, and
 *     then drop what we installed). Either way nothing stale survives the
 *     invalidation: a translation installed after a passed retry was read from
 *     a primary table no overlapping invalidation had begun to change.
 *
 *   - An invalidation that began before read_begin read the sequence and is
 *     still running is caught by read_begin itself: it set sub's sequence to
 *     the current odd value, read_begin sees equality and waits for the end.
 *     Had the callback not run yet when read_begin sampled, the mm sequence is
 *     already odd and sub's still holds an older odd value; read_begin returns
 *     that older value at once, and the later callback changes it, so the
 *     retry fails. The check is conservative, never unsafe.
 *
 * Retries can be spurious (an overlapping invalidation that changed nothing
 * of interest); they are never missed. No barrier is needed beyond the
 * driver lock: every decision is made under it, and read_begin's answer is
 * only a hint that read_retry confirms.
 *
 * THE TREE AND DEFERRED UPDATES
 *
 * Callbacks run without subscriptions->lock (they may sleep), so the tree is
 * walked lock-free during an invalidation. It is therefore never modified
 * while the mm sequence is odd: inserts and removes that arrive then are put
 * on deferred_list and applied by the last mn_itree_inv_end(), which then
 * wakes read_begin and remove waiters (as rtnl_unlock() runs queued work).
 * A deferred insert starts with the current odd sequence, so a reader that
 * starts before the insert is applied waits for that end, not missing the
 * invalidation it was not told about. A removal waits until the sequence has
 * moved on, so that on return no callback can still be running for it.
 */
/* The core: may name the __core storage of the public structs. */
#define SECMMU_NOTIFIER_CORE

#include <errno.h>
#include <limits.h>

#include "base/debug.h"
#include "base/sched_explore.h"
#include "secmmu/kit/bugs.h"
#include "notifier/subscriptions.h"

_Static_assert(sizeof(((struct mmu_interval_notifier *)0)->__core.itree) >=
		       sizeof(struct itree_node),
	       "mmu_interval_notifier->__core.itree too small for struct itree_node");
_Static_assert(_Alignof(void *) >= _Alignof(struct itree_node),
	       "mmu_interval_notifier->__core.itree misaligned for struct itree_node");

static struct itree_node *mn_node(struct mmu_interval_notifier *interval_sub)
{
	return (struct itree_node *)(void *)interval_sub->__core.itree;
}

static struct mmu_interval_notifier *mn_interval(struct itree_node *node)
{
	return node ? container_of((void *)node, struct mmu_interval_notifier, __core.itree) : NULL;
}

/* Caller holds subscriptions->lock. */
static bool mn_itree_is_invalidating(struct mmu_notifier_subscriptions *subscriptions)
{
	lockdep_assert_held(&subscriptions->lock);
	return subscriptions->invalidate_seq & 1;
}

/**
 * mn_itree_empty() - no interval subscription is inserted or pending
 *
 * For mmu_notifier_subscriptions_destroy(); takes no lock (the mm is dead).
 */
bool mn_itree_empty(struct mmu_notifier_subscriptions *subscriptions)
{
	return itree_empty(&subscriptions->itree) && !subscriptions->deferred_list;
}

/* --- the invalidation side -------------------------------------------- */

/*
 * The subscriptions whose ->invalidate this thread is running, or NULL: a
 * remove from such a callback would wait for its own invalidation.
 */
static __thread struct mmu_notifier_subscriptions *mn_invalidating;

static bool mn_call_invalidate(struct mmu_notifier_subscriptions *subscriptions,
			       struct mmu_interval_notifier *interval_sub,
			       const struct mmu_notifier_range *range, unsigned long cur_seq)
{
	struct mmu_notifier_subscriptions *outer = mn_invalidating;
	bool ret;

	mn_invalidating = subscriptions;
	/* A non-blockable range: the callback must not sleep (might_sleep()). */
	if (!mmu_notifier_range_blockable(range))
		non_block_start();
	ret = interval_sub->ops->invalidate(interval_sub, range, cur_seq);
	if (!mmu_notifier_range_blockable(range))
		non_block_end();
	mn_invalidating = outer;
	return ret;
}

/*
 * Count one more active invalidation; if it overlaps an interval make the
 * sequence odd and return the first overlapping subscription.
 */
static struct mmu_interval_notifier *
mn_itree_inv_start_range(struct mmu_notifier_subscriptions *subscriptions,
			 const struct mmu_notifier_range *range, unsigned long *seq)
{
	struct itree_node *node;

	sm_mutex_lock(&subscriptions->lock);
	subscriptions->active_invalidate_ranges++;
	node = itree_iter_first(&subscriptions->itree, range->start, range->end - 1);
	if (node)
		subscriptions->invalidate_seq |= 1;
	*seq = subscriptions->invalidate_seq;
	sm_mutex_unlock(&subscriptions->lock);
	return mn_interval(node);
}

/*
 * Lock-free: the tree is frozen while the sequence is odd, and this
 * invalidation keeps it odd until its mn_itree_inv_end().
 */
static struct mmu_interval_notifier *mn_itree_inv_next(struct mmu_interval_notifier *interval_sub,
						       const struct mmu_notifier_range *range)
{
	return mn_interval(itree_iter_next(mn_node(interval_sub), range->start, range->end - 1));
}

/* Apply queued inserts and removes. Caller holds the lock; the sequence is even. */
static void mn_itree_apply_deferred(struct mmu_notifier_subscriptions *subscriptions)
{
	struct mmu_interval_notifier *interval_sub, *next;

	lockdep_assert_held(&subscriptions->lock);
	for (interval_sub = subscriptions->deferred_list; interval_sub; interval_sub = next) {
		/* Each entry is a step: a thread that looks without the lock may run here. */
		sched_point("itree apply deferred");
		next = interval_sub->__core.deferred_next;
		if (!interval_sub->__core.inserted) {
			itree_insert(mn_node(interval_sub), &subscriptions->itree);
			interval_sub->__core.inserted = true;
		} else {
			itree_remove(mn_node(interval_sub), &subscriptions->itree);
			interval_sub->__core.inserted = false;
		}
		interval_sub->__core.deferred_next = NULL;
		/* Read locklessly only by the museum's interval-remove-unlocked-seq. */
		WRITE_ONCE(interval_sub->__core.deferred, false);
	}
	subscriptions->deferred_list = NULL;
}

/**
 * mn_itree_inv_end() - one active invalidation ended
 *
 * The last one returns the sequence to even, applies the deferred tree
 * updates and wakes read_begin and remove waiters. Takes subscriptions->lock.
 */
void mn_itree_inv_end(struct mmu_notifier_subscriptions *subscriptions)
{
	sm_mutex_lock(&subscriptions->lock);
	if (WARN_ON(!subscriptions->active_invalidate_ranges) ||
	    --subscriptions->active_invalidate_ranges || !mn_itree_is_invalidating(subscriptions)) {
		sm_mutex_unlock(&subscriptions->lock);
		return;
	}
	/* Make invalidate_seq even (WRITE_ONCE: see interval-remove-unlocked-seq). */
	WRITE_ONCE(subscriptions->invalidate_seq, subscriptions->invalidate_seq + 1);
	mn_itree_apply_deferred(subscriptions);
	sm_mutex_unlock(&subscriptions->lock);
	/* Pairs with the waits in mmu_interval_read_begin() and _remove(). */
	sm_wake_up_all(&subscriptions->wq);
}

/**
 * mn_itree_invalidate() - call ->invalidate of every overlapping interval
 *
 * Callbacks run with no notifier lock held. Return: 0 (the caller later calls
 * mn_itree_inv_end()), or -EAGAIN when a non-blockable range met a callback
 * that would sleep; the invalidation is then already ended.
 */
int mn_itree_invalidate(struct mmu_notifier_subscriptions *subscriptions,
			const struct mmu_notifier_range *range)
{
	struct mmu_interval_notifier *interval_sub;
	unsigned long cur_seq;

	for (interval_sub = mn_itree_inv_start_range(subscriptions, range, &cur_seq); interval_sub;
	     interval_sub = mn_itree_inv_next(interval_sub, range)) {
		if (mn_call_invalidate(subscriptions, interval_sub, range, cur_seq))
			continue;
		/* Only a non-blockable range may be refused. */
		if (WARN_ON(mmu_notifier_range_blockable(range)))
			continue;
		/* On -EAGAIN the caller does not call _end: end it here. */
		mn_itree_inv_end(subscriptions);
		return -EAGAIN;
	}
	return 0;
}

/**
 * mn_itree_release() - exit: one MMU_NOTIFY_RELEASE invalidation over the
 * whole address space, started and ended. May sleep.
 */
void mn_itree_release(struct mmu_notifier_subscriptions *subscriptions, struct mm_struct *mm)
{
	struct mmu_notifier_range range = {
		.mm = mm,
		.start = 0,
		.end = ULONG_MAX,
		.flags = MMU_NOTIFIER_RANGE_BLOCKABLE,
		.event = MMU_NOTIFY_RELEASE,
	};
	struct mmu_interval_notifier *interval_sub;
	unsigned long cur_seq;

	for (interval_sub = mn_itree_inv_start_range(subscriptions, &range, &cur_seq); interval_sub;
	     interval_sub = mn_itree_inv_next(interval_sub, &range))
		WARN_ON(!mn_call_invalidate(subscriptions, interval_sub, &range, cur_seq));
	mn_itree_inv_end(subscriptions);
}

/* --- the reader side -------------------------------------------------- */

/**
 * mmu_interval_read_begin() - see include/secmmu/mmu_notifier.h
 *
 * Takes subscriptions->lock; sleeps (with no other notifier lock held) while
 * an invalidation overlapping the interval runs. The caller must not hold a
 * lock that an invalidate callback takes, nor mmap_lock if invalidations of
 * this mm take it for write. Does not loop: the returned sequence may already
 * be stale, read_retry will say so.
 */
unsigned long mmu_interval_read_begin(struct mmu_interval_notifier *interval_sub)
{
	struct mmu_notifier_subscriptions *subscriptions = mn_subscriptions(interval_sub->mm);
	unsigned long seq;

	might_sleep();
	mn_invalidate_map_touch();
	sm_mutex_lock(&subscriptions->lock);
	/* Pairs with mmu_interval_set_seq() in the invalidate callback. */
	seq = atomic_load_explicit(&interval_sub->__core.invalidate_seq, memory_order_relaxed);
	/*
	 * sub's sequence is always odd and the mm's is even when idle, so this
	 * ends once the invalidations running now have all ended.
	 */
	while (seq == subscriptions->invalidate_seq)
		sm_wait(&subscriptions->wq, &subscriptions->lock);
	sm_mutex_unlock(&subscriptions->lock);
	return seq;
}

/* --- insert / remove -------------------------------------------------- */

/* Link into the tree now, or defer while the tree is being walked. */
static void mn_itree_add(struct mmu_notifier_subscriptions *subscriptions,
			 struct mmu_interval_notifier *interval_sub)
{
	unsigned long seq;

	sm_mutex_lock(&subscriptions->lock);
	if (subscriptions->active_invalidate_ranges) {
		if (mn_itree_is_invalidating(subscriptions)) {
			/* Walked right now: the last inv_end links it. */
			interval_sub->__core.deferred = true;
			interval_sub->__core.deferred_next = subscriptions->deferred_list;
			subscriptions->deferred_list = interval_sub;
		} else {
			/*
			 * Running invalidations overlap no interval and walk
			 * nothing, but the pages of this interval may be among
			 * those being changed: make the sequence odd so that a
			 * reader waits for their end.
			 */
			subscriptions->invalidate_seq |= 1;
			itree_insert(mn_node(interval_sub), &subscriptions->itree);
			interval_sub->__core.inserted = true;
		}
		seq = subscriptions->invalidate_seq;
	} else {
		WARN_ON(mn_itree_is_invalidating(subscriptions));
		/*
		 * Odd, not the current value, and far from where the mm
		 * sequence will wrap to.
		 */
		seq = subscriptions->invalidate_seq - 1;
		itree_insert(mn_node(interval_sub), &subscriptions->itree);
		interval_sub->__core.inserted = true;
	}
	atomic_store_explicit(&interval_sub->__core.invalidate_seq, seq, memory_order_relaxed);
	sm_mutex_unlock(&subscriptions->lock);
}

/* Validate and fill in @interval_sub. Return: 0 or -EINVAL. */
static int mn_interval_init(struct mmu_interval_notifier *interval_sub, struct mm_struct *mm,
			    unsigned long start, unsigned long length,
			    const struct mmu_interval_notifier_ops *ops)
{
	struct itree_node *node = mn_node(interval_sub);
	unsigned long last;

	if (WARN_ON_ONCE(!interval_sub || !mm || !ops || !ops->invalidate)) /* API misuse */
		return -EINVAL;
	/* As Linux's mmu_interval_notifier_insert(): an empty or wrapping range. */
	if (!length || __builtin_add_overflow(start, length - 1, &last))
		return -EOVERFLOW;
	/* The caller must hold an mm_users reference. */
	if (WARN_ON(mm_users_read(mm) <= 0))
		return -EINVAL;
	*node = (struct itree_node){.start = start, .last = last};
	interval_sub->start = start;
	interval_sub->last = last;
	interval_sub->ops = ops;
	interval_sub->mm = mm;
	interval_sub->__core.deferred_next = NULL;
	interval_sub->__core.deferred = false;
	interval_sub->__core.inserted = false;
	return 0;
}

/*
 * Is @interval_sub inserted (or pending) in @mm's tree? Exact: looks for the
 * pointer, so an uninitialised struct is never mistaken for an inserted one.
 * Takes subscriptions->lock.
 */
static bool mn_itree_holds(struct mm_struct *mm, struct mmu_interval_notifier *interval_sub)
{
	struct mmu_notifier_subscriptions *subscriptions = mn_subscriptions(mm);
	struct mmu_interval_notifier *sub;
	struct itree_node *node;
	bool found = false;

	if (!subscriptions || interval_sub->mm != mm)
		return false;
	sm_mutex_lock(&subscriptions->lock);
	for (sub = subscriptions->deferred_list; sub && !found; sub = sub->__core.deferred_next)
		found = sub == interval_sub;
	for (node = itree_iter_first(&subscriptions->itree, interval_sub->start,
				     interval_sub->last);
	     node && !found; node = itree_iter_next(node, interval_sub->start, interval_sub->last))
		found = mn_interval(node) == interval_sub;
	sm_mutex_unlock(&subscriptions->lock);
	return found;
}

static int __mmu_interval_notifier_insert(struct mmu_interval_notifier *interval_sub,
					  struct mm_struct *mm)
{
	struct mmu_notifier_subscriptions *subscriptions = mn_subscriptions(mm);

	/* Pairs with the mmdrop in mmu_interval_notifier_remove(). */
	mmgrab_tracked(mm, interval_sub->owner ? interval_sub->owner : (const void *)interval_sub,
		       MMU_INTERVAL_NOTIFIER_HOLDER_KIND);
	mn_itree_add(subscriptions, interval_sub);
	return 0;
}

/**
 * mmu_interval_notifier_insert() - see include/secmmu/mmu_notifier.h
 *
 * The caller holds an mm_users reference and not mmap_lock; takes mmap_lock
 * for write (and the rmap locks) only to enable interval subscriptions on
 * the mm the first time. May sleep.
 */
int mmu_interval_notifier_insert(struct mmu_interval_notifier *interval_sub, struct mm_struct *mm,
				 unsigned long start, unsigned long length,
				 const struct mmu_interval_notifier_ops *ops)
{
	struct mmu_notifier_subscriptions *subscriptions;
	int ret;

	/* API misuse: inserting twice would corrupt the tree. */
	if (interval_sub && mm && WARN_ON_ONCE(mn_itree_holds(mm, interval_sub)))
		return -EBUSY;
	subscriptions = mn_subscriptions(mm);
	ret = mn_interval_init(interval_sub, mm, start, length, ops);
	if (ret)
		return ret;
	if (!subscriptions || !mn_has_itree(subscriptions)) {
		ret = mmu_notifier_register(NULL, mm);
		if (ret)
			return ret;
	}
	return __mmu_interval_notifier_insert(interval_sub, mm);
}

/**
 * mmu_interval_notifier_insert_locked() - as above; the caller holds
 * mmap_lock for write
 */
int mmu_interval_notifier_insert_locked(struct mmu_interval_notifier *interval_sub,
					struct mm_struct *mm, unsigned long start,
					unsigned long length,
					const struct mmu_interval_notifier_ops *ops)
{
	struct mmu_notifier_subscriptions *subscriptions = mm->notifier_subscriptions;
	int ret;

	mmap_assert_write_locked(mm);
	if (interval_sub && WARN_ON_ONCE(mn_itree_holds(mm, interval_sub)))
		return -EBUSY;
	ret = mn_interval_init(interval_sub, mm, start, length, ops);
	if (ret)
		return ret;
	if (!subscriptions || !mn_has_itree(subscriptions)) {
		ret = __mmu_notifier_register(NULL, mm);
		if (ret)
			return ret;
	}
	return __mmu_interval_notifier_insert(interval_sub, mm);
}

/* Unlink @interval_sub from deferred_list. Caller holds the lock. */
static void mn_itree_undefer(struct mmu_notifier_subscriptions *subscriptions,
			     struct mmu_interval_notifier *interval_sub)
{
	struct mmu_interval_notifier **pp;

	lockdep_assert_held(&subscriptions->lock);
	for (pp = &subscriptions->deferred_list; *pp; pp = &(*pp)->__core.deferred_next) {
		if (*pp != interval_sub)
			continue;
		*pp = interval_sub->__core.deferred_next;
		interval_sub->__core.deferred_next = NULL;
		interval_sub->__core.deferred = false;
		return;
	}
	WARN_ON(1);
}

/*
 * The museum's interval-remove-unlocked-seq (base/bugs.h): the wait of
 * mmu_interval_notifier_remove() before 319561669a59, which read
 * invalidate_seq without the lock. mn_itree_inv_end() makes the sequence even
 * before it walks the deferred list, so the wait can end while
 * @interval_sub is still on that list; the caller then frees it under the
 * walk. The moment that happens is reported as a broken rule; then, so that
 * the run stays memory-safe, the caller waits as the fix does. Called and
 * returns with subscriptions->lock held (drops it meanwhile).
 */
static void mn_itree_remove_wait_unlocked(struct mmu_notifier_subscriptions *subscriptions,
					  struct mmu_interval_notifier *interval_sub,
					  unsigned long seq)
{
	sm_mutex_unlock(&subscriptions->lock);
	for (;;) {
		sched_point("interval remove: invalidate_seq read without the lock");
		if (READ_ONCE(subscriptions->invalidate_seq) != seq)
			break;
		sm_mutex_lock(&subscriptions->lock);
		if (subscriptions->invalidate_seq == seq)
			sm_wait(&subscriptions->wq, &subscriptions->lock);
		sm_mutex_unlock(&subscriptions->lock);
	}
	if (READ_ONCE(interval_sub->__core.deferred))
		sm_rule_broken("mmu_interval_notifier_remove() returns while its subscription is "
			       "still on the deferred list (the caller frees it under the walk)");
	sm_mutex_lock(&subscriptions->lock);
}

/**
 * mmu_interval_notifier_remove() - see include/secmmu/mmu_notifier.h
 *
 * Takes subscriptions->lock; if an invalidation walks the tree, queues the
 * removal and sleeps until the mm sequence moves on, so that no ->invalidate
 * of @interval_sub runs on return. Then drops the mm_count taken by insert.
 * Must not be called from an invalidate callback nor with a lock that one
 * takes.
 */
void mmu_interval_notifier_remove(struct mmu_interval_notifier *interval_sub)
{
	struct mm_struct *mm = interval_sub ? interval_sub->mm : NULL;
	struct mmu_notifier_subscriptions *subscriptions;
	unsigned long seq = 0;

	/* API misuse: never inserted, or removed already (->mm cleared below). */
	if (WARN_ON_ONCE(!mm))
		return;
	subscriptions = mn_subscriptions(mm);
	/* API misuse: from an invalidate callback of this mm, on its thread. */
	if (WARN_ON_ONCE(mn_invalidating == subscriptions))
		return;
	might_sleep();
	mn_invalidate_map_touch();
	sm_mutex_lock(&subscriptions->lock);
	if (WARN_ON_ONCE(!interval_sub->__core.inserted && !interval_sub->__core.deferred)) {
		sm_mutex_unlock(&subscriptions->lock);
		return;
	}
	if (mn_itree_is_invalidating(subscriptions)) {
		if (!interval_sub->__core.inserted) {
			/* Insert still deferred: it never became visible. */
			mn_itree_undefer(subscriptions, interval_sub);
		} else {
			interval_sub->__core.deferred = true;
			interval_sub->__core.deferred_next = subscriptions->deferred_list;
			subscriptions->deferred_list = interval_sub;
			seq = subscriptions->invalidate_seq;
		}
	} else {
		WARN_ON(!interval_sub->__core.inserted);
		itree_remove(mn_node(interval_sub), &subscriptions->itree);
		interval_sub->__core.inserted = false;
	}
	if (seq && historic_bug(BUG_INTERVAL_REMOVE_UNLOCKED_SEQ))
		mn_itree_remove_wait_unlocked(subscriptions, interval_sub, seq);
	/* Pairs with sm_wake_up_all() in mn_itree_inv_end(). */
	while (seq && subscriptions->invalidate_seq == seq)
		sm_wait(&subscriptions->wq, &subscriptions->lock);
	interval_sub->mm = NULL; /* a second remove is caught above */
	sm_mutex_unlock(&subscriptions->lock);

	/* Pairs with the mmgrab in __mmu_interval_notifier_insert(). */
	mmdrop_tracked(mm, interval_sub->owner ? interval_sub->owner : (const void *)interval_sub,
		       MMU_INTERVAL_NOTIFIER_HOLDER_KIND);
}
