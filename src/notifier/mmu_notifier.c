// SPDX-License-Identifier: MIT
/*
 * MMU notifiers: classic subscriptions and the hooks the primary MMU calls.
 *
 * Modelled on Linux mm/mmu_notifier.c (6.x). The read side is RCU with
 * sleepable readers (base/rcu.h over liburcu memb), standing in for the
 * kernel's SRCU: every classic callback runs inside sm_rcu_read_lock(), so a
 * grace period (sm_synchronize_rcu) after unhooking a subscription means no
 * callback of it is running or will run.
 *
 * ->release is called exactly once per registration, by whichever of exit
 * (mmu_notifier_release) and mmu_notifier_unregister claims it first
 * (release_state, a compare-and-swap). Linux may call ->release twice when
 * unregister races with exit; the claim is the fix.
 *
 * The claim does not unhook: as in Linux, the subscription keeps receiving
 * every callback while its ->release runs (a munmap or reclaim in that
 * window must still invalidate it before freeing pages it maps); the
 * claimer only waits a grace period for callbacks already running. Once
 * ->release has returned (MN_RELEASED) no new callback starts; an
 * invalidation whose start was delivered before that still gets its _end
 * (the range remembers the release generation it started under, see
 * mn_range_delivers()).
 */
/* The core: may name the __core storage of the public structs. */
#define SECMMU_NOTIFIER_CORE

#include <errno.h>
#include <limits.h>

#include "base/alloc.h"
#include "base/debug.h"
#include "base/rcu_fast.h"
#include "secmmu/kit/bugs.h"
#include "notifier/subscriptions.h"
#include "secmmu/err.h"
#include "secmmu/trace.h"

_Static_assert(sizeof(((struct mmu_notifier *)0)->__core.rcu) >= sizeof(struct sm_rcu_head),
	       "mmu_notifier->__core.rcu too small for struct sm_rcu_head");
_Static_assert(_Alignof(void *) >= _Alignof(struct sm_rcu_head),
	       "mmu_notifier->__core.rcu misaligned for struct sm_rcu_head");

/*
 * enum mn_release_state - mmu_notifier->release_state
 * @MN_LIVE:           callbacks are delivered.
 * @MN_CLAIMED_EXIT:   mmu_notifier_release() will call ->release.
 * @MN_CLAIMED_UNREG:  mmu_notifier_unregister() will call ->release.
 * @MN_RELEASED:       ->release has returned (or there is none).
 * Subscriptions get callbacks until RELEASED. The transitions are LIVE ->
 * CLAIMED_* (compare-and-swap, exactly one winner) -> RELEASED (by the winner).
 */
enum mn_release_state {
	MN_LIVE = 0,
	MN_CLAIMED_EXIT,
	MN_CLAIMED_UNREG,
	MN_RELEASED,
};

static const char *const event_names[] = {
	[MMU_NOTIFY_UNMAP] = "unmap",
	[MMU_NOTIFY_CLEAR] = "clear",
	[MMU_NOTIFY_PROTECTION_VMA] = "protection_vma",
	[MMU_NOTIFY_PROTECTION_PAGE] = "protection_page",
	[MMU_NOTIFY_SOFT_DIRTY] = "soft_dirty",
	[MMU_NOTIFY_RELEASE] = "release",
	[MMU_NOTIFY_MIGRATE] = "migrate",
	[MMU_NOTIFY_EXCLUSIVE] = "exclusive",
};

/**
 * mmu_notifier_event_name() - a stable lower-case name for @event
 *
 * Return: static storage; "unknown" for a value outside the enum.
 */
const char *mmu_notifier_event_name(enum mmu_notifier_event event)
{
	if ((unsigned int)event >= ARRAY_SIZE(event_names))
		return "unknown";
	return event_names[event];
}

/* --- the RCU list ------------------------------------------------------ */

#define mn_for_each_rcu(sub, subscriptions)                                                        \
	for (sub = sm_rcu_dereference((subscriptions)->list); sub;                                 \
	     sub = sm_rcu_dereference(sub->__core.next))

/* Callbacks other than invalidations: delivered until ->release has returned. */
/* Who holds the subscription's mm_count in the mm's reference tracker. */
static const void *mn_holder(const struct mmu_notifier *subscription)
{
	return subscription->owner ? subscription->owner : (const void *)subscription;
}

static bool mn_live(struct mmu_notifier *subscription)
{
	/* Pairs with the release store in mn_release_done(). */
	return atomic_load_explicit(&subscription->__core.release_state, memory_order_acquire) !=
	       MN_RELEASED;
}

/*
 * Is @range's start (and so its _end) delivered to @subscription? Yes unless
 * its ->release had completed when the start began: range->__core.release_gen is the
 * generation read before the start walked the list, released_gen the one
 * ->release's completion produced; both never change for the range's life,
 * so start and _end always agree.
 */
static bool mn_range_delivers(struct mmu_notifier *subscription,
			      const struct mmu_notifier_range *range)
{
	/* Pairs with the release store in mn_release_done(). */
	unsigned long gen =
		atomic_load_explicit(&subscription->__core.released_gen, memory_order_acquire);

	return !gen || gen > range->__core.release_gen;
}

static bool mn_hooked(struct mmu_notifier *subscription)
{
	return subscription->__core.pprev != NULL;
}

/* hlist_add_head_rcu(). Caller holds subscriptions->lock. */
static void mn_hook(struct mmu_notifier_subscriptions *subscriptions,
		    struct mmu_notifier *subscription)
{
	struct mmu_notifier *first = subscriptions->list;

	lockdep_assert_held(&subscriptions->lock);
	__atomic_store_n(&subscription->__core.next, first, __ATOMIC_RELAXED);
	subscription->__core.pprev = &subscriptions->list;
	if (first)
		first->__core.pprev = &subscription->__core.next;
	/* Publish: pairs with sm_rcu_dereference() in mn_for_each_rcu(). */
	sm_rcu_assign_pointer(subscriptions->list, subscription);
}

/*
 * hlist_del_init_rcu(): a no-op if already unhooked (exit unhooks everything,
 * and unregister or put may come later). ->next is left intact so readers
 * standing on @subscription can continue. Caller holds subscriptions->lock.
 */
static void mn_unhook(struct mmu_notifier_subscriptions *subscriptions,
		      struct mmu_notifier *subscription)
{
	struct mmu_notifier *next = subscription->__core.next;

	lockdep_assert_held(&subscriptions->lock);
	if (!mn_hooked(subscription))
		return;
	sm_rcu_assign_pointer(*subscription->__core.pprev, next);
	if (next)
		next->__core.pprev = subscription->__core.pprev;
	subscription->__core.pprev = NULL;
}

/* Is @subscription on @subscriptions' list? Takes subscriptions->lock. */
static bool mn_on_list(struct mmu_notifier_subscriptions *subscriptions,
		       struct mmu_notifier *subscription)
{
	struct mmu_notifier *sub;

	sm_mutex_lock(&subscriptions->lock);
	for (sub = subscriptions->list; sub && sub != subscription; sub = sub->__core.next)
		;
	sm_mutex_unlock(&subscriptions->lock);
	return sub != NULL;
}

static bool mn_list_empty(struct mmu_notifier_subscriptions *subscriptions)
{
	return sm_rcu_dereference(subscriptions->list) == NULL;
}

/* --- ->release claim ------------------------------------------------- */

/* Return: true if the caller won the right (and duty) to call ->release. */
static bool mn_claim_release(struct mmu_notifier *subscription, enum mn_release_state who)
{
	int expected = MN_LIVE;

	return atomic_compare_exchange_strong(&subscription->__core.release_state, &expected,
					      (int)who);
}

/*
 * Call ->release (if any) of @subscription. A second call for one
 * registration is a broken rule (the race of 751efd8610d3; the claim above
 * prevents it), reported to `check` (sm_rule_broken()).
 */
static void mn_call_release(struct mmu_notifier *subscription, struct mm_struct *mm)
{
	if (atomic_fetch_add(&subscription->__core.release_calls, 1))
		sm_rule_broken("->release called twice for one registration");
	if (subscription->ops->release)
		subscription->ops->release(subscription, mm);
}

/* The claimer is done with ->release; wake exit if it waits for us. */
static void mn_release_done(struct mmu_notifier_subscriptions *subscriptions,
			    struct mmu_notifier *subscription)
{
	unsigned long gen;

	sm_mutex_lock(&subscriptions->lock);
	gen = atomic_load_explicit(&subscriptions->release_gen, memory_order_relaxed) + 1;
	/* Pairs with the acquire loads in mn_range_delivers() and the range start. */
	atomic_store_explicit(&subscriptions->release_gen, gen, memory_order_release);
	atomic_store_explicit(&subscription->__core.released_gen, gen, memory_order_release);
	atomic_store_explicit(&subscription->__core.release_state, MN_RELEASED,
			      memory_order_release);
	sm_mutex_unlock(&subscriptions->lock);
	sm_wake_up_all(&subscriptions->wq);
}

/* The classic ranges open now (see subscriptions->open_ranges). Any context. */
static long mn_open_ranges(struct mmu_notifier_subscriptions *subscriptions)
{
	long n = atomic_load(&subscriptions->open_ranges);

	for (unsigned int i = 0; i < SM_THREAD_SLOTS; i++)
		n += atomic_load_explicit(&subscriptions->open_slot[i], memory_order_relaxed);
	return n;
}

/*
 * Before unhooking a subscription whose ->release has run: wait until every
 * classic invalidation whose start may have been delivered to it has had its
 * _end (they find it on the list only while it is hooked). Invalidations
 * that start meanwhile are delivered to no released subscription, and end
 * without waiting for anybody, so the wait ends. Caller holds
 * subscriptions->lock (dropped while this sleeps) and no lock an
 * invalidation takes, and is not in a read-side section.
 *
 * The counts are plain per-thread stores (mn_range_open()/_close()), so
 * nothing orders them against our loads but a grace period. A start counts
 * itself and reads release_gen in one read-side section; an _end uncounts
 * itself and reads unhook_waiting in one. After the grace period below,
 * which began after the caller's release_gen bump and our unhook_waiting
 * increment: a section that began before it has ended, and its count is
 * visible to mn_open_ranges(); one that began after it sees both stores --
 * its start is delivered to no released subscription, and its _end wakes
 * us (under the lock, which we hold from the sum to the sleep: no lost
 * wake-up). Pairs with mn_range_open() and mn_range_close().
 */
static void mn_wait_open_ranges_locked(struct mmu_notifier_subscriptions *subscriptions)
{
	lockdep_assert_held(&subscriptions->lock);
	atomic_fetch_add(&subscriptions->unhook_waiting, 1);
	sm_mutex_unlock(&subscriptions->lock);
	sm_synchronize_rcu();
	sm_mutex_lock(&subscriptions->lock);
	while (mn_open_ranges(subscriptions))
		sm_wait(&subscriptions->wq, &subscriptions->lock);
	atomic_fetch_sub(&subscriptions->unhook_waiting, 1);
}

static void __attribute__((noinline))
mn_wake_unhook(struct mmu_notifier_subscriptions *subscriptions)
{
	sm_mutex_lock(&subscriptions->lock);
	sm_wake_up_all(&subscriptions->wq);
	sm_mutex_unlock(&subscriptions->lock);
}

/*
 * A classic range opens: count it, in the thread's slot when it has one.
 * Inside the read-side section that then reads release_gen (see
 * mn_wait_open_ranges_locked()).
 */
static inline void mn_range_open(struct mmu_notifier_subscriptions *subscriptions,
				 struct mmu_notifier_range *range)
{
	unsigned int slot = sm_thread_slot();

	range->__core.open_slot = slot;
	if (__builtin_expect(slot != 0, 1)) {
		_Atomic long *c = &subscriptions->open_slot[slot - 1];

		/* Only this thread writes its slot: a plain increment. */
		atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
				      memory_order_relaxed);
	} else {
		atomic_fetch_add(&subscriptions->open_ranges, 1);
	}
	/* Under exploration: an unhook may run between the count and release_gen. */
	sched_point("mn_range_counted");
}

/*
 * A counted classic range is over (its _end ran, or its start failed).
 * Inside a read-side section (see mn_wait_open_ranges_locked()). Return:
 * an unhook waits; the caller wakes it (mn_wake_unhook()) after the section.
 */
static inline bool mn_range_close(struct mmu_notifier_subscriptions *subscriptions,
				  const struct mmu_notifier_range *range)
{
	unsigned int slot = range->__core.open_slot;

	/*
	 * The start's slot is ours if this thread started the range (or owns
	 * the slot since the starter exited): a plain decrement. An _end on
	 * another thread must not write the owner's slot: it uncounts in the
	 * shared counter.
	 */
	if (__builtin_expect(slot != 0 && slot == sm_thread_slot(), 1)) {
		_Atomic long *c = &subscriptions->open_slot[slot - 1];

		atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) - 1,
				      memory_order_relaxed);
	} else {
		atomic_fetch_sub(&subscriptions->open_ranges, 1);
	}
	/* Under exploration: an unhook may run between the uncount and the test. */
	sched_point("mn_range_uncounted");
	return __builtin_expect(
		atomic_load_explicit(&subscriptions->unhook_waiting, memory_order_relaxed) != 0, 0);
}

/*
 * An invalidation walk of the classic list begins (inside the read side).
 * Counted only while the museum's put-free-no-grace is switched on (it is
 * the only reader of the count): the fast path does no atomic
 * read-modify-write for it. Return: the counter used, or MN_WALK_UNCOUNTED.
 */
#define MN_WALK_UNCOUNTED 2u

static inline unsigned int mn_walk_begin(struct mmu_notifier_subscriptions *subscriptions)
{
	unsigned int idx;

	if (!historic_bug(BUG_PUT_FREE_NO_GRACE))
		return MN_WALK_UNCOUNTED;
	idx = atomic_load(&subscriptions->walk_epoch) & 1;
	atomic_fetch_add(&subscriptions->walkers[idx], 1);
	return idx;
}

static inline void mn_walk_end(struct mmu_notifier_subscriptions *subscriptions, unsigned int idx)
{
	if (idx != MN_WALK_UNCOUNTED)
		atomic_fetch_sub(&subscriptions->walkers[idx], 1);
}

/*
 * The museum's put-free-no-grace (base/bugs.h): the last put of
 * @subscription would free it right after unhooking it, with no grace
 * period, as amdkfd's mmu_notifier_unregister_no_release() + kfree did. If
 * an invalidation walk that began before the unhook is still running, it may
 * be standing on the subscription: a use-after-free, reported as a broken
 * rule. (The caller then frees it after a grace period all the same, so that
 * the run stays memory-safe.)
 */
static void mn_check_free_without_grace(struct mmu_notifier_subscriptions *subscriptions)
{
	unsigned int old = atomic_fetch_add(&subscriptions->walk_epoch, 1) & 1;

	if (atomic_load(&subscriptions->walkers[old]))
		sm_rule_broken("a subscription freed without a grace period while an invalidation "
			       "that may hold it walks the list");
}

struct lockdep_map __mmu_notifier_invalidate_range_start_map =
	LOCKDEP_MAP_INIT("mmu_notifier_invalidate_range_start", LOCK_RANK_INVALIDATE_MAP);

/* --- subscriptions container ------------------------------------------ */

static struct mmu_notifier_subscriptions *mn_subscriptions_alloc(void)
{
	struct mmu_notifier_subscriptions *subscriptions;

	subscriptions = kzalloc(sizeof(*subscriptions));
	if (!subscriptions)
		return NULL;
	sm_mutex_init(&subscriptions->lock, "mmu_notifier_subscriptions->lock",
		      LOCK_RANK_NOTIFIER_SUBS);
	sm_waitq_init(&subscriptions->wq, "mmu_notifier_subscriptions->wq");
	itree_init(&subscriptions->itree);
	/* Even means idle; 2 as in Linux, so that "seq - 1" never wraps. */
	subscriptions->invalidate_seq = 2;
	return subscriptions;
}

static void mn_subscriptions_free(struct mmu_notifier_subscriptions *subscriptions)
{
	sm_waitq_destroy(&subscriptions->wq);
	sm_mutex_destroy(&subscriptions->lock);
	kfree_sized(subscriptions, sizeof(*subscriptions));
}

/**
 * mmu_notifier_subscriptions_destroy() - free the container at __mmdrop
 * @mm: the mm whose last mm_count reference is gone
 *
 * Every subscription holds mm_count, so none can be attached any more; one
 * that is (a refcount bug) is warned about. May run on the RCU callback
 * thread: does not sleep and waits for no grace period.
 */
void mmu_notifier_subscriptions_destroy(struct mm_struct *mm)
{
	struct mmu_notifier_subscriptions *subscriptions = mm->notifier_subscriptions;

	if (!subscriptions)
		return;
	WARN_ON(!mn_list_empty(subscriptions));
	WARN_ON(!mn_itree_empty(subscriptions));
	WARN_ON(subscriptions->active_invalidate_ranges);
	mn_subscriptions_free(subscriptions);
	mm->notifier_subscriptions = sm_debug ? SM_POISON_PTR : NULL;
}

/**
 * mm_has_notifiers() - may @mm have subscribers?
 *
 * The caller holds mm_users or mm_count. Cheap: one acquire load.
 */
bool mm_has_notifiers(struct mm_struct *mm)
{
	return mn_subscriptions(mm) != NULL;
}

/* --- registration ----------------------------------------------------- */

static bool mn_ops_valid(const struct mmu_notifier_ops *ops)
{
	/* A TLB-only subscriber shares the CPU page table: no start/end. */
	return !(ops->arch_invalidate_secondary_tlbs &&
		 (ops->invalidate_range_start || ops->invalidate_range_end));
}

/**
 * __mmu_notifier_register() - attach @subscription (or, if NULL, just enable
 * interval subscriptions) to @mm
 * @subscription: the subscription, ops set; or NULL (interval-only)
 * @mm:           the address space; the caller holds an mm_users reference
 *
 * The caller holds mmap_lock for write. Allocates the subscriptions container
 * on first use (before taking the rmap locks: no allocation under them), then
 * takes mm_take_all_locks() (every VMA write-locked, then the rmap locks) so
 * that no invalidation is in flight while the subscription is added. On success takes an mm_count
 * reference (mmgrab), paired with the mmdrop in mmu_notifier_unregister() or
 * mmu_notifier_free_rcu(). May sleep.
 *
 * Return: 0, -EINVAL (bad ops combination, or mm_users is 0), -ENOMEM,
 * -EINTR (signal while waiting for the rmap locks), -EBUSY (@subscription is
 * already registered on @mm: API misuse, warned once). Nothing is left
 * behind on failure.
 */
int __mmu_notifier_register(struct mmu_notifier *subscription, struct mm_struct *mm)
{
	struct mmu_notifier_subscriptions *subscriptions = NULL;
	int ret;

	mmap_assert_write_locked(mm);
	if (subscription && WARN_ON_ONCE(!subscription->ops || !mn_ops_valid(subscription->ops)))
		return -EINVAL;
	if (mm_users_read(mm) <= 0)
		return -EINVAL;
	/* Hooking it twice would make the list a loop. */
	if (subscription && mm->notifier_subscriptions &&
	    WARN_ON_ONCE(mn_on_list(mm->notifier_subscriptions, subscription)))
		return -EBUSY;

	/* mm->notifier_subscriptions cannot change while we hold mmap_lock for write. */
	if (!mm->notifier_subscriptions) {
		subscriptions = mn_subscriptions_alloc();
		if (!subscriptions)
			return -ENOMEM;
	}

	ret = mm_take_all_locks(mm);
	if (ret)
		goto out_free;

	/*
	 * Release store: lock-free readers (mn_subscriptions()) see an
	 * initialised container. mmu_notifier_release cannot run concurrently:
	 * we hold an mm_users reference.
	 */
	if (subscriptions)
		sm_rcu_assign_pointer(mm->notifier_subscriptions, subscriptions);
	subscriptions = mm->notifier_subscriptions;

	if (subscription) {
		/* Pairs with the mmdrop in mmu_notifier_unregister() / mmu_notifier_free_rcu(). */
		mmgrab_tracked(mm, mn_holder(subscription), MMU_NOTIFIER_HOLDER_KIND);
		subscription->mm = mm;
		subscription->__core.users = 0; /* not counted: mmu_notifier_get() sets 1 */
		atomic_store_explicit(&subscription->__core.release_state, MN_LIVE,
				      memory_order_relaxed);
		atomic_store_explicit(&subscription->__core.released_gen, 0, memory_order_relaxed);
		atomic_store_explicit(&subscription->__core.release_calls, 0, memory_order_relaxed);
		sm_mutex_lock(&subscriptions->lock);
		mn_hook(subscriptions, subscription);
		sm_mutex_unlock(&subscriptions->lock);
	} else {
		WRITE_ONCE(subscriptions->has_itree, true);
	}

	mm_drop_all_locks(mm);
	return 0;

out_free:
	if (subscriptions)
		mn_subscriptions_free(subscriptions);
	return ret;
}

/**
 * mmu_notifier_register() - see include/secmmu/mmu_notifier.h
 *
 * Takes mmap_lock for write around __mmu_notifier_register(). May sleep.
 */
int mmu_notifier_register(struct mmu_notifier *subscription, struct mm_struct *mm)
{
	int ret;

	mn_invalidate_map_touch();
	mmap_write_lock(mm);
	ret = __mmu_notifier_register(subscription, mm);
	mmap_write_unlock(mm);
	return ret;
}

/**
 * mmu_notifier_unregister() - detach @subscription from @mm
 *
 * The caller holds whatever keeps @mm's struct alive besides the
 * subscription's own mm_count (the subscription's reference suffices until
 * the final mmdrop here). Calls ->release unless exit claimed it, in which
 * case it waits for exit's ->release to return; unhooks; waits a grace period
 * so that no callback runs on return; drops the mm_count taken at
 * registration. May sleep; takes no lock of the caller's.
 */
void mmu_notifier_unregister(struct mmu_notifier *subscription, struct mm_struct *mm)
{
	struct mmu_notifier_subscriptions *subscriptions;

	/*
	 * API misuse: never registered, already unregistered (->mm is cleared
	 * below) or another mm: dropping mm_count again would free the mm
	 * under its user.
	 */
	if (WARN_ON_ONCE(!subscription || !mm || subscription->mm != mm))
		return;
	/* Subscriptions from mmu_notifier_get() are released with _put(). */
	if (WARN_ON_ONCE(subscription->__core.users))
		return;
	subscriptions = mn_subscriptions(mm);
	BUG_ON(mm_count_read(mm) <= 0);
	BUG_ON(!subscriptions);
	might_sleep();
	mn_invalidate_map_touch();

	if (mn_claim_release(subscription, MN_CLAIMED_UNREG)) {
		/*
		 * Callbacks already running finish before ->release; the
		 * subscription stays hooked, so invalidations keep coming
		 * while ->release runs.
		 */
		sm_synchronize_rcu();
		mn_call_release(subscription, mm);
		/* Pairs with the wait in mn_wait_unregister_releases(). */
		mn_release_done(subscriptions, subscription);
	} else if (historic_bug(BUG_UNREGISTER_RELEASE_TWICE) &&
		   atomic_load(&subscription->__core.release_state) == MN_CLAIMED_EXIT) {
		/*
		 * The museum's unregister-release-twice (base/bugs.h): as
		 * Linux after d34883d4e35c, unregister calls ->release of a
		 * subscription still on the list even though exit is calling
		 * it too.
		 */
		sm_synchronize_rcu();
		mn_call_release(subscription, mm);
	}

	sm_mutex_lock(&subscriptions->lock);
	/* Exit claimed ->release: return only once it has run. */
	while (atomic_load(&subscription->__core.release_state) != MN_RELEASED)
		sm_wait(&subscriptions->wq, &subscriptions->lock);
	mn_wait_open_ranges_locked(subscriptions);
	mn_unhook(subscriptions, subscription);
	sm_mutex_unlock(&subscriptions->lock);

	/* Wait for any callback still running, ->release by exit included. */
	sm_synchronize_rcu();

	subscription->mm = NULL; /* a second unregister is caught above */
	BUG_ON(mm_count_read(mm) <= 0);
	/* Pairs with the mmgrab in __mmu_notifier_register(). */
	mmdrop_tracked(mm, mn_holder(subscription), MMU_NOTIFIER_HOLDER_KIND);
}

/* --- get / put ------------------------------------------------------- */

/* A reference on the subscription of @ops, or NULL, or ERR_PTR(-EOVERFLOW). */
static struct mmu_notifier *find_get_mmu_notifier(struct mm_struct *mm,
						  const struct mmu_notifier_ops *ops)
{
	struct mmu_notifier_subscriptions *subscriptions = mm->notifier_subscriptions;
	struct mmu_notifier *subscription;

	sm_mutex_lock(&subscriptions->lock);
	for (subscription = subscriptions->list; subscription;
	     subscription = subscription->__core.next) {
		/* users == 0: registered with mmu_notifier_register(), not ours */
		if (subscription->ops != ops || !subscription->__core.users)
			continue;
		/* Pairs with the decrement in mmu_notifier_put(). */
		if (subscription->__core.users != UINT_MAX)
			subscription->__core.users++;
		else
			subscription = ERR_PTR(-EOVERFLOW);
		break;
	}
	sm_mutex_unlock(&subscriptions->lock);
	return subscription;
}

/**
 * mmu_notifier_get_locked() - see include/secmmu/mmu_notifier.h
 *
 * The caller holds mmap_lock for write and an mm_users reference. Calls
 * ops->alloc_notifier (under mmap_lock) when @mm has no subscription of
 * @ops; a registration failure frees it again with ops->free_notifier.
 * Return: a referenced subscription, or ERR_PTR(-errno).
 */
struct mmu_notifier *mmu_notifier_get_locked(const struct mmu_notifier_ops *ops,
					     struct mm_struct *mm)
{
	struct mmu_notifier *subscription;
	int ret;

	mmap_assert_write_locked(mm);
	/* API misuse: get needs both to create and to free the subscription. */
	if (WARN_ON_ONCE(!ops || !ops->alloc_notifier || !ops->free_notifier))
		return ERR_PTR(-EINVAL);

	if (mm->notifier_subscriptions) {
		subscription = find_get_mmu_notifier(mm, ops);
		if (subscription)
			return subscription;
	}

	subscription = ops->alloc_notifier(mm);
	if (IS_ERR(subscription))
		return subscription;
	subscription->ops = ops;
	ret = __mmu_notifier_register(subscription, mm);
	if (ret)
		goto out_free;
	/* Pairs with the decrement in mmu_notifier_put(). */
	sm_mutex_lock(&mm->notifier_subscriptions->lock);
	subscription->__core.users = 1;
	sm_mutex_unlock(&mm->notifier_subscriptions->lock);
	return subscription;

out_free:
	ops->free_notifier(subscription);
	return ERR_PTR(ret);
}

/**
 * mmu_notifier_get() - mmu_notifier_get_locked() under mmap_lock for write
 */
struct mmu_notifier *mmu_notifier_get(const struct mmu_notifier_ops *ops, struct mm_struct *mm)
{
	struct mmu_notifier *subscription;

	mmap_write_lock(mm);
	subscription = mmu_notifier_get_locked(ops, mm);
	mmap_write_unlock(mm);
	return subscription;
}

/* After the grace period: nobody can see @subscription any more. */
static void mmu_notifier_free_rcu(struct sm_rcu_head *rcu)
{
	struct mmu_notifier *subscription = container_of(rcu, struct mmu_notifier, __core.rcu);
	struct mm_struct *mm = subscription->mm;
	const void *holder = mn_holder(subscription); /* a key only: read before the free */

	subscription->ops->free_notifier(subscription);
	/* Pairs with the mmgrab in __mmu_notifier_register(). */
	mmdrop_tracked(mm, holder, MMU_NOTIFIER_HOLDER_KIND);
}

/**
 * mmu_notifier_put() - see include/secmmu/mmu_notifier.h
 *
 * Takes subscriptions->lock only. The last reference unhooks (a no-op if exit
 * did already) and queues mmu_notifier_free_rcu() behind a grace period.
 */
void mmu_notifier_put(struct mmu_notifier *subscription)
{
	struct mm_struct *mm = subscription ? subscription->mm : NULL;
	struct mmu_notifier_subscriptions *subscriptions;

	if (WARN_ON_ONCE(!mm)) /* API misuse: not registered */
		return;
	subscriptions = mn_subscriptions(mm);
	sm_mutex_lock(&subscriptions->lock);
	/*
	 * Pairs with the increment in find_get_mmu_notifier() / users = 1 in
	 * mmu_notifier_get_locked(). users == 0: a subscription of
	 * mmu_notifier_register() (API misuse: it holds no get reference,
	 * and has no free_notifier to call), or one put once too often.
	 */
	if (WARN_ON_ONCE(!subscription->__core.users) || --subscription->__core.users) {
		sm_mutex_unlock(&subscriptions->lock);
		return;
	}
	mn_unhook(subscriptions, subscription);
	sm_mutex_unlock(&subscriptions->lock);

	if (historic_bug(BUG_PUT_FREE_NO_GRACE))
		mn_check_free_without_grace(subscriptions);
	sm_call_rcu((struct sm_rcu_head *)(void *)subscription->__core.rcu, mmu_notifier_free_rcu);
}

/**
 * mmu_notifier_synchronize() - wait for every mmu_notifier_free_rcu() queued
 * so far (module unload). May sleep; not from an RCU callback.
 */
void mmu_notifier_synchronize(void)
{
	mn_invalidate_map_touch();
	sm_rcu_barrier();
}

/* --- release (exit) --------------------------------------------------- */

/* Claim ->release of every live classic subscription for exit. */
static bool mn_hlist_claim_all(struct mmu_notifier_subscriptions *subscriptions)
{
	struct mmu_notifier *subscription;
	bool claimed = false;

	sm_mutex_lock(&subscriptions->lock);
	for (subscription = subscriptions->list; subscription;
	     subscription = subscription->__core.next)
		claimed |= mn_claim_release(subscription, MN_CLAIMED_EXIT);
	sm_mutex_unlock(&subscriptions->lock);
	return claimed;
}

/* Call ->release of the subscriptions exit claimed, inside the read side. */
static void mn_hlist_call_release(struct mmu_notifier_subscriptions *subscriptions,
				  struct mm_struct *mm)
{
	struct mmu_notifier *subscription;

	sm_rcu_read_lock();
	mn_for_each_rcu(subscription, subscriptions)
	{
		if (atomic_load(&subscription->__core.release_state) != MN_CLAIMED_EXIT)
			continue;
		/*
		 * The only way for the driver to drop its translations and stop
		 * creating new ones before exit frees the pages.
		 */
		mn_call_release(subscription, mm);
		mn_release_done(subscriptions, subscription);
	}
	sm_rcu_read_unlock();
}

/*
 * The museum's release-unhooked-first (base/bugs.h): exit as it was before
 * 3ad3d901bbcf. Each subscription is taken off the list first and only then
 * does its ->release run, so an invalidation in between (reclaim unmapping a
 * page through the rmap, which does not care that mm_users is 0) reaches
 * nobody, and the page is freed while the device still maps it.
 */
static void mn_hlist_call_release_unhooked(struct mmu_notifier_subscriptions *subscriptions,
					   struct mm_struct *mm)
{
	struct mmu_notifier *subscription;

	sm_mutex_lock(&subscriptions->lock);
	while ((subscription = subscriptions->list)) {
		mn_unhook(subscriptions, subscription);
		sm_mutex_unlock(&subscriptions->lock);
		if (atomic_load(&subscription->__core.release_state) == MN_CLAIMED_EXIT) {
			sm_rcu_read_lock();
			mn_call_release(subscription, mm);
			sm_rcu_read_unlock();
			mn_release_done(subscriptions, subscription);
		}
		sm_mutex_lock(&subscriptions->lock);
	}
	sm_mutex_unlock(&subscriptions->lock);
}

/*
 * Wait for ->release calls claimed by concurrent unregisters, then unhook
 * everything. Pairs with mn_release_done() in mmu_notifier_unregister(); an
 * unregister unhooks only after its ->release is done, so every pending one is
 * still on the list.
 */
static void mn_wait_unregister_releases(struct mmu_notifier_subscriptions *subscriptions)
{
	struct mmu_notifier *subscription;

	sm_mutex_lock(&subscriptions->lock);
again:
	for (subscription = subscriptions->list; subscription;
	     subscription = subscription->__core.next) {
		int state = atomic_load(&subscription->__core.release_state);

		if (state == MN_RELEASED)
			continue;
		/* LIVE here means a registration raced with exit: a caller bug. */
		WARN_ON(state != MN_CLAIMED_UNREG);
		if (state == MN_LIVE)
			continue;
		sm_wait(&subscriptions->wq, &subscriptions->lock);
		goto again;
	}
	mn_wait_open_ranges_locked(subscriptions);
	while (subscriptions->list)
		mn_unhook(subscriptions, subscriptions->list);
	sm_mutex_unlock(&subscriptions->lock);
}

static void mn_hlist_release(struct mmu_notifier_subscriptions *subscriptions, struct mm_struct *mm)
{
	/*
	 * Callbacks already running finish before ->release; the subscriptions
	 * stay hooked, so invalidations (reclaim, ...) keep coming while
	 * ->release runs.
	 */
	if (mn_hlist_claim_all(subscriptions))
		sm_synchronize_rcu();
	if (historic_bug(BUG_RELEASE_UNHOOKED_FIRST))
		mn_hlist_call_release_unhooked(subscriptions, mm);
	else
		mn_hlist_call_release(subscriptions, mm);
	mn_wait_unregister_releases(subscriptions);
	/*
	 * No callback of an unhooked subscription runs once this returns, so
	 * exit_mmap may free the pages.
	 */
	sm_synchronize_rcu();
}

/**
 * mmu_notifier_release() - the mm is being torn down (exit_mmap)
 * @mm: mm_users is 0; the caller (exit) holds mm_count
 *
 * Interval subscriptions get one MMU_NOTIFY_RELEASE invalidation over the
 * whole address space; every classic subscription gets ->release, exactly
 * once across exit and unregister; then all classic ones are unhooked and a
 * grace period passes. On return no secondary MMU translates any page of @mm.
 * Called before any page is freed. May sleep; the caller holds no lock that a
 * callback takes.
 */
void mmu_notifier_release(struct mm_struct *mm)
{
	struct mmu_notifier_subscriptions *subscriptions = mn_subscriptions(mm);
	TRACE_SCOPE("notifier", "mmu_notifier_release", "mm=%s", mm_name(mm));

	if (!subscriptions)
		return;
	if (mn_has_itree(subscriptions))
		mn_itree_release(subscriptions, mm);
	if (!mn_list_empty(subscriptions))
		mn_hlist_release(subscriptions, mm);
}

/* --- aging ----------------------------------------------------------- */

/**
 * mmu_notifier_clear_flush_young() - age [start, end) in every secondary MMU
 *
 * Called with the page-table lock or rmap lock the aging path holds; the
 * callbacks may not sleep. Return: nonzero if any subscriber saw it young.
 */
/* Call the clear_flush_young (@flush) or clear_young ops of every live subscriber. */
static int mn_clear_young(struct mm_struct *mm, unsigned long start, unsigned long end, bool flush)
{
	struct mmu_notifier_subscriptions *subscriptions = mn_subscriptions(mm);
	struct mmu_notifier *subscription;
	int young = 0;

	if (!subscriptions || mn_list_empty(subscriptions))
		return 0;
	sm_rcu_read_lock();
	mn_for_each_rcu(subscription, subscriptions)
	{
		int (*fn)(struct mmu_notifier *, struct mm_struct *, unsigned long, unsigned long) =
			flush ? subscription->ops->clear_flush_young
			      : subscription->ops->clear_young;

		if (fn && mn_live(subscription))
			young |= fn(subscription, mm, start, end);
	}
	sm_rcu_read_unlock();
	return young;
}

int mmu_notifier_clear_flush_young(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	return mn_clear_young(mm, start, end, true);
}

/**
 * mmu_notifier_clear_young() - as mmu_notifier_clear_flush_young(), no flush
 */
int mmu_notifier_clear_young(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	return mn_clear_young(mm, start, end, false);
}

/**
 * mmu_notifier_test_young() - is @address young in some secondary MMU?
 *
 * Stops at the first subscriber that says yes. Callbacks may not sleep.
 */
int mmu_notifier_test_young(struct mm_struct *mm, unsigned long address)
{
	struct mmu_notifier_subscriptions *subscriptions = mn_subscriptions(mm);
	struct mmu_notifier *subscription;
	int young = 0;

	if (!subscriptions || mn_list_empty(subscriptions))
		return 0;
	sm_rcu_read_lock();
	mn_for_each_rcu(subscription, subscriptions)
	{
		if (!subscription->ops->test_young || !mn_live(subscription))
			continue;
		young = subscription->ops->test_young(subscription, mm, address);
		if (young)
			break;
	}
	sm_rcu_read_unlock();
	return young;
}

/**
 * mmu_notifier_change_pte() - LEGACY (removed from Linux in 6.10)
 *
 * The PTE at @address now maps @pfn. Called by the primary MMU between
 * invalidate_range_start and _end, under the page-table lock: callbacks may
 * not sleep.
 */
void mmu_notifier_change_pte(struct mm_struct *mm, unsigned long address, unsigned long pfn,
			     bool writable)
{
	struct mmu_notifier_subscriptions *subscriptions = mn_subscriptions(mm);
	struct mmu_notifier *subscription;

	if (!subscriptions || mn_list_empty(subscriptions))
		return;
	sm_rcu_read_lock();
	mn_for_each_rcu(subscription, subscriptions)
	{
		if (subscription->ops->change_pte && mn_live(subscription))
			subscription->ops->change_pte(subscription, mm, address, pfn, writable);
	}
	sm_rcu_read_unlock();
}

/**
 * mmu_notifier_arch_invalidate_secondary_tlbs() - flush TLB-only secondary
 * MMUs for [start, end)
 *
 * Called under the page-table lock after the PTEs changed and before the
 * frames can be freed. Callbacks may not sleep.
 */
void mmu_notifier_arch_invalidate_secondary_tlbs(struct mm_struct *mm, unsigned long start,
						 unsigned long end)
{
	struct mmu_notifier_subscriptions *subscriptions = mn_subscriptions(mm);
	struct mmu_notifier *subscription;

	/* The performance detector of f7edb07ad7c6: drivers flush all, or nothing, for it. */
	if (__builtin_expect(start >= end, 0))
		sm_rule_broken("an empty secondary-TLB invalidation [0x%lx, 0x%lx)", start, end);
	if (!subscriptions || mn_list_empty(subscriptions))
		return;
	sm_rcu_read_lock();
	unsigned int walk = mn_walk_begin(subscriptions);
	mn_for_each_rcu(subscription, subscriptions)
	{
		if (subscription->ops->arch_invalidate_secondary_tlbs && mn_live(subscription))
			subscription->ops->arch_invalidate_secondary_tlbs(subscription, mm, start,
									  end);
	}
	mn_walk_end(subscriptions, walk);
	sm_rcu_read_unlock();
}

/* --- invalidate_range_start / _end ------------------------------------ */

/*
 * Is @range delivered to @subscription (mn_range_delivers())? A range that
 * started before any classic ->release of the mm completed (release_gen 0,
 * the common case) is delivered to every subscription on the list: no load
 * per subscriber.
 */
static inline bool mn_range_delivers_fast(struct mmu_notifier *subscription,
					  const struct mmu_notifier_range *range)
{
	return !range->__core.release_gen || mn_range_delivers(subscription, range);
}

/* After a failed non-blocking start: end every classic start that succeeded. */
static void mn_hlist_undo_start(struct mmu_notifier_subscriptions *subscriptions,
				const struct mmu_notifier_range *range)
{
	struct mmu_notifier *subscription;

	mn_for_each_rcu(subscription, subscriptions)
	{
		/* A subscriber with _end cannot fail _start: it was started. */
		if (subscription->ops->invalidate_range_end &&
		    mn_range_delivers_fast(subscription, range))
			subscription->ops->invalidate_range_end(subscription, range);
	}
}

/*
 * The classic start, in a read-side section of its own: the section ends
 * with the walk, not at the range's _end, because a grace period
 * (mmu_notifier_unregister()'s before ->release) waits only for callbacks
 * running, never for an invalidation in progress (docs/performance.md).
 */
static inline __attribute__((always_inline)) int
mn_hlist_invalidate_range_start(struct mmu_notifier_subscriptions *subscriptions,
				struct mmu_notifier_range *range)
{
	bool blockable = mmu_notifier_range_blockable(range);
	struct mmu_notifier *subscription;
	bool wake = false;
	unsigned int walk;
	int ret = 0;

	sm_rcu_read_lock_fast();
	/* Before the generation, in this section: see mn_wait_open_ranges_locked(). */
	mn_range_open(subscriptions, range);
	range->__core.open |= MN_RANGE_HLIST_OPEN;
	/* Pairs with the release store in mn_release_done(). */
	range->__core.release_gen =
		atomic_load_explicit(&subscriptions->release_gen, memory_order_acquire);
	walk = mn_walk_begin(subscriptions);

	mn_for_each_rcu(subscription, subscriptions)
	{
		const struct mmu_notifier_ops *ops = subscription->ops;
		int r;

		if (!ops->invalidate_range_start || !mn_range_delivers_fast(subscription, range))
			continue;
		if (!blockable)
			non_block_start();
		r = ops->invalidate_range_start(subscription, range);
		if (!blockable)
			non_block_end();
		if (!r)
			continue;
		/* Only a non-blockable start may fail, and only with -EAGAIN. */
		WARN_ON(blockable || r != -EAGAIN);
		/* The caller cannot tell who failed: a failing start has no _end. */
		WARN_ON(ops->invalidate_range_end);
		if (!blockable)
			ret = -EAGAIN;
	}
	/* Every notifier was called; now undo the ones that started. */
	if (__builtin_expect(ret, 0)) {
		mn_hlist_undo_start(subscriptions, range);
		/* A failed start has no _end: every started subscriber was ended. */
		range->__core.open &= ~MN_RANGE_HLIST_OPEN;
		wake = mn_range_close(subscriptions, range);
	}
	mn_walk_end(subscriptions, walk);
	sm_rcu_read_unlock_fast();
	if (__builtin_expect(wake, 0))
		mn_wake_unhook(subscriptions);
	return ret;
}

/* Tracing: the span from invalidate_range_start to _end (or a failed start). */
static inline void trace_invalidate_begin(const struct mmu_notifier_range *range)
{
	trace_begin("notifier", "invalidate_range", "event=%s start=0x%lx end=0x%lx mm=%s%s",
		    mmu_notifier_event_name(range->event), range->start, range->end,
		    mm_name(range->mm), mmu_notifier_range_blockable(range) ? "" : " nonblock");
}

/* Inlined in both starts: no call on the fast path. */
static inline __attribute__((always_inline)) int
__mmu_notifier_invalidate_range_start(struct mmu_notifier_range *range)
{
	struct mmu_notifier_subscriptions *subscriptions = mn_subscriptions(range->mm);
	bool itree = false;
	int ret;

	if (!subscriptions)
		return 0;
	/* Interval subscribers first, as in Linux. */
	if (mn_has_itree(subscriptions)) {
		ret = mn_itree_invalidate(subscriptions, range);
		if (ret)
			return ret;
		itree = true;
		range->__core.open |= MN_RANGE_ITREE_OPEN;
	}
	if (mn_list_empty(subscriptions))
		return 0;
	ret = mn_hlist_invalidate_range_start(subscriptions, range);
	/*
	 * Linux leaves the interval invalidation open here; the caller will
	 * not call _end, so end it now or readers would wait forever.
	 */
	if (ret && itree) {
		range->__core.open &= ~MN_RANGE_ITREE_OPEN;
		mn_itree_inv_end(subscriptions);
	}
	return ret;
}

/**
 * mmu_notifier_invalidate_range_start() - the PTEs of @range are about to
 * change; blockable, always succeeds
 *
 * The caller holds mmap_lock or the mm's rmap_lock (so that registration,
 * which takes both for write, never sees half an invalidation) and no
 * spinning lock: callbacks may sleep. Every page of the range is still
 * mapped. Must be followed by mmu_notifier_invalidate_range_end(@range).
 */
void mmu_notifier_invalidate_range_start(struct mmu_notifier_range *range)
{
	if (__builtin_expect(range->start >= range->end, 0))
		sm_rule_broken("an empty invalidation [0x%lx, 0x%lx)", range->start, range->end);
	range->flags |= MMU_NOTIFIER_RANGE_BLOCKABLE;
	might_sleep();
	trace_invalidate_begin(range);
	lock_map_acquire(&__mmu_notifier_invalidate_range_start_map);
	__mmu_notifier_invalidate_range_start(range);
	lock_map_release(&__mmu_notifier_invalidate_range_start_map);
}

/**
 * mmu_notifier_invalidate_range_start_nonblock() - as above, callbacks may
 * not sleep
 *
 * Return: 0 (then call _end), or -EAGAIN: some subscriber would have to sleep;
 * every subscriber that did start has been ended, the caller must change no
 * PTE and must not call _end.
 */
int mmu_notifier_invalidate_range_start_nonblock(struct mmu_notifier_range *range)
{
	int ret;

	range->flags &= ~MMU_NOTIFIER_RANGE_BLOCKABLE;
	trace_invalidate_begin(range);
	lock_map_acquire(&__mmu_notifier_invalidate_range_start_map);
	ret = __mmu_notifier_invalidate_range_start(range);
	lock_map_release(&__mmu_notifier_invalidate_range_start_map);
	if (ret)
		trace_end(); /* no _end will come */
	return ret;
}

/* The classic _end, in a read-side section of its own. */
static inline __attribute__((always_inline)) void
mn_hlist_invalidate_end(struct mmu_notifier_subscriptions *subscriptions,
			const struct mmu_notifier_range *range)
{
	bool blockable = mmu_notifier_range_blockable(range);
	struct mmu_notifier *subscription;
	unsigned int walk;
	bool wake;

	sm_rcu_read_lock_fast();
	walk = mn_walk_begin(subscriptions);

	mn_for_each_rcu(subscription, subscriptions)
	{
		if (!subscription->ops->invalidate_range_end ||
		    !mn_range_delivers_fast(subscription, range))
			continue;
		if (!blockable)
			non_block_start();
		subscription->ops->invalidate_range_end(subscription, range);
		if (!blockable)
			non_block_end();
	}
	mn_walk_end(subscriptions, walk);
	/* After the walk, in its section: see mn_wait_open_ranges_locked(). */
	wake = mn_range_close(subscriptions, range);
	sm_rcu_read_unlock_fast();
	if (__builtin_expect(wake, 0))
		mn_wake_unhook(subscriptions);
}

/**
 * mmu_notifier_invalidate_range_end() - the change of @range is done
 *
 * Same locks as the matching start. The pages may already be freed. The
 * interval side ends first (as in Linux): when the last active invalidation
 * ends, invalidate_seq becomes even again, deferred inserts/removes are
 * applied and mmu_interval_read_begin() waiters wake. Then classic _end.
 */
void mmu_notifier_invalidate_range_end(struct mmu_notifier_range *range)
{
	struct mmu_notifier_subscriptions *subscriptions = mn_subscriptions(range->mm);
	TRACE_END_AT_RETURN(); /* of the span trace_invalidate_begin() opened */

	if (!subscriptions)
		return;
	if (range->__core.open & MN_RANGE_ITREE_OPEN) {
		range->__core.open &= ~MN_RANGE_ITREE_OPEN;
		mn_itree_inv_end(subscriptions);
	} else if (mn_has_itree(subscriptions)) {
		/*
		 * Interval subscriptions appeared between the start and now:
		 * registration (which takes mm_take_all_locks()) ran while an
		 * invalidation was in flight, so this _end has no start.
		 */
		sm_rule_broken(
			"invalidate_range_end [0x%lx, 0x%lx) without its start: a registration "
			"raced an invalidation",
			range->start, range->end);
	}
	if (range->__core.open & MN_RANGE_HLIST_OPEN) {
		mn_hlist_invalidate_end(subscriptions, range);
		range->__core.open &= ~MN_RANGE_HLIST_OPEN;
	}
}
