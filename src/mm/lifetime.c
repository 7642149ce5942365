// SPDX-License-Identifier: MIT
/*
 * The lifetime of struct mm_struct: mm_users and mm_count.
 *
 *   mm_alloc()        users=1 count=1
 *   mmget()/mmput()   users; the last mmput() runs __mmput(): exit_mmap()
 *                     (notifier release first, then arch exit hooks, then every
 *                     mapping torn down and every frame freed), then
 *                     mmdrop() of the count all users held together
 *   mmgrab()/mmdrop() count; the last mmdrop() runs __mmdrop(): destroy
 *                     hooks (destroy_context), the notifier subscriptions
 *                     container (which must be empty), the pgd, the struct
 *
 * __mmdrop() may run on liburcu's callback thread (mmu_notifier_put frees
 * through call_rcu and drops the subscription's count there): it must not
 * wait for a grace period.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secmmu/kit/bugs.h"
#include "base/alloc.h"
#include "base/signal.h"
#include "mm/internal.h"

#define MAX_ARCH_HOOKS 16

static const struct mm_arch_hooks *arch_hooks[MAX_ARCH_HOOKS];
static struct sm_mutex hooks_lock;
static LIST_HEAD(mm_list);
static struct sm_mutex mm_list_lock;
static pthread_once_t lifetime_once = PTHREAD_ONCE_INIT;
static _Atomic unsigned long next_mm_id = 1;
static _Atomic int context_slots;

static void lifetime_init(void)
{
	sm_mutex_init(&hooks_lock, "arch_hooks_lock", LOCK_RANK_LEAF);
	sm_mutex_init(&mm_list_lock, "mm_list_lock", LOCK_RANK_LEAF);
}

static void lifetime_init_once(void)
{
	pthread_once(&lifetime_once, lifetime_init);
}

struct mm_struct *mm_alloc_tracked(const void *owner, const char *kind)
{
	struct mm_struct *mm;

	lifetime_init_once();
	if (!phys_initialized())
		return NULL;
	mm = kzalloc(sizeof(*mm));
	if (!mm)
		return NULL;
	mm->pgd = pgd_alloc();
	if (!mm->pgd) {
		kfree(mm);
		return NULL;
	}
	atomic_init(&mm->mm_users, 1);
	atomic_init(&mm->mm_count, 1);
	mm_holders_init(mm);
	mm_holder_get(mm, true, owner, kind);
	mm_holder_get(mm, false, mm, MM_HOLDER_USERS_KIND);
	mm->id = atomic_fetch_add(&next_mm_id, 1);
	snprintf(mm->name, sizeof(mm->name), "mm%lu", mm->id);
	sm_rwsem_init(&mm->mmap_lock, "mmap_lock", LOCK_RANK_MMAP);
	sm_rwsem_init(&mm->rmap_lock, "rmap_lock", LOCK_RANK_RMAP);
	sm_mutex_init(&mm->page_table_lock, "page_table_lock", LOCK_RANK_PTL);
	itree_init(&mm->mm_mt);
	atomic_init(&mm->memlock_limit, 8UL << 20);
	sm_mutex_lock(&mm_list_lock);
	list_add_tail(&mm->mmlist, &mm_list);
	sm_mutex_unlock(&mm_list_lock);
	return mm;
}

struct mm_struct *mm_alloc(void)
{
	return mm_alloc_tracked(NULL, NULL);
}

void mmgrab_tracked(struct mm_struct *mm, const void *owner, const char *kind)
{
	int old = atomic_fetch_add_explicit(&mm->mm_count, 1, memory_order_relaxed);

	BUG_ON(old <= 0); /* grabbing a freed struct */
	mm_holder_get(mm, false, owner, kind);
}

void mmgrab(struct mm_struct *mm)
{
	mmgrab_tracked(mm, NULL, NULL);
}

void mmget_tracked(struct mm_struct *mm, const void *owner, const char *kind)
{
	int old = atomic_fetch_add_explicit(&mm->mm_users, 1, memory_order_relaxed);

	BUG_ON(old <= 0); /* mmget() needs a live user; use mmget_not_zero() */
	mm_holder_get(mm, true, owner, kind);
}

void mmget(struct mm_struct *mm)
{
	mmget_tracked(mm, NULL, NULL);
}

bool mmget_not_zero_tracked(struct mm_struct *mm, const void *owner, const char *kind)
{
	int old = atomic_load_explicit(&mm->mm_users, memory_order_relaxed);

	while (old > 0) {
		/* Acquire pairs with the release in mmput(): see a live address space. */
		if (atomic_compare_exchange_weak_explicit(&mm->mm_users, &old, old + 1,
							  memory_order_acquire,
							  memory_order_relaxed)) {
			mm_holder_get(mm, true, owner, kind);
			return true;
		}
	}
	return false;
}

bool mmget_not_zero(struct mm_struct *mm)
{
	return mmget_not_zero_tracked(mm, NULL, NULL);
}

/* Copy the table, so hooks may sleep and take any lock without the table lock. */
static void snapshot_hooks(const struct mm_arch_hooks **hooks)
{
	sm_mutex_lock(&hooks_lock);
	memcpy(hooks, arch_hooks, sizeof(arch_hooks));
	sm_mutex_unlock(&hooks_lock);
}

static void run_destroy_hooks(struct mm_struct *mm)
{
	const struct mm_arch_hooks *hooks[MAX_ARCH_HOOKS];

	snapshot_hooks(hooks);
	for (int i = 0; i < MAX_ARCH_HOOKS; i++)
		if (hooks[i] && hooks[i]->destroy_context)
			hooks[i]->destroy_context(mm);
}

static void run_exit_hooks(struct mm_struct *mm)
{
	const struct mm_arch_hooks *hooks[MAX_ARCH_HOOKS];

	snapshot_hooks(hooks);
	for (int i = 0; i < MAX_ARCH_HOOKS; i++)
		if (hooks[i] && hooks[i]->exit_mmap)
			hooks[i]->exit_mmap(mm);
}

/* check_mm(): counters that must be zero once the address space is gone. */
static void check_mm(struct mm_struct *mm)
{
	WARN_ON(atomic_load(&mm->rss) != 0);
	WARN_ON(atomic_load(&mm->swapents) != 0);
	WARN_ON(atomic_load(&mm->nr_thp) != 0);
	WARN_ON(atomic_load(&mm->pinned_vm) != 0);
}

static void __mmdrop(struct mm_struct *mm)
{
	run_destroy_hooks(mm);
	mmu_notifier_subscriptions_destroy(mm);
	check_mm(mm);
	sm_mutex_lock(&mm_list_lock);
	list_del(&mm->mmlist);
	sm_mutex_unlock(&mm_list_lock);
	free_pgtables(mm);
	mm_holders_destroy(mm);
	sm_rwsem_destroy(&mm->mmap_lock);
	sm_rwsem_destroy(&mm->rmap_lock);
	sm_mutex_destroy(&mm->page_table_lock);
	kfree_sized(mm, sizeof(*mm));
}

void mmdrop_tracked(struct mm_struct *mm, const void *owner, const char *kind)
{
	int old;

	mm_holder_put(mm, false, owner, kind); /* before: our reference keeps @mm */
	old = atomic_fetch_sub_explicit(&mm->mm_count, 1, memory_order_acq_rel);

	BUG_ON(old <= 0); /* mm_count underflow */
	if (old == 1)
		__mmdrop(mm);
}

void mmdrop(struct mm_struct *mm)
{
	mmdrop_tracked(mm, NULL, NULL);
}

static void __mmput(struct mm_struct *mm)
{
	BUG_ON(atomic_load(&mm->mm_users) != 0);
	atomic_store(&mm->exiting, true);
	exit_mmap(mm);
	/* Pairs with the count all users held since mm_alloc(). */
	mmdrop_tracked(mm, mm, MM_HOLDER_USERS_KIND);
}

void mmput_tracked(struct mm_struct *mm, const void *owner, const char *kind)
{
	int old;

	mm_holder_put(mm, true, owner, kind); /* before: our reference keeps @mm */
	old = atomic_fetch_sub_explicit(&mm->mm_users, 1, memory_order_acq_rel);

	BUG_ON(old <= 0); /* mm_users underflow */
	if (old == 1)
		__mmput(mm);
}

void mmput(struct mm_struct *mm)
{
	mmput_tracked(mm, NULL, NULL);
}

int mm_users_read(const struct mm_struct *mm)
{
	return atomic_load(&((struct mm_struct *)mm)->mm_users);
}

int mm_count_read(const struct mm_struct *mm)
{
	return atomic_load(&((struct mm_struct *)mm)->mm_count);
}

unsigned long mm_id(const struct mm_struct *mm)
{
	return mm->id;
}

const char *mm_name(const struct mm_struct *mm)
{
	return mm->name;
}

void mm_set_name(struct mm_struct *mm, const char *name)
{
	if (name && !mm->named) {
		snprintf(mm->name, sizeof(mm->name), "%s", name);
		mm->named = true;
	}
}

int mm_query_refs(unsigned long id, int *users, int *count)
{
	struct mm_struct *mm;
	int ret = -ESRCH;

	if (WARN_ON_ONCE(!users || !count)) /* API misuse: nowhere to answer */
		return -EINVAL;
	lifetime_init_once();
	/* A struct whose last reference goes in an RCU callback is gone after this. */
	sm_rcu_barrier();
	sm_mutex_lock(&mm_list_lock);
	list_for_each_entry (mm, &mm_list, mmlist) {
		if (mm->id != id)
			continue;
		*users = atomic_load(&mm->mm_users);
		*count = atomic_load(&mm->mm_count);
		ret = 0;
		break;
	}
	sm_mutex_unlock(&mm_list_lock);
	return ret;
}

/*
 * Collect the holders of mm @id into @holders. The snapshot storage is on
 * the stack for as many holding slots as the first table has (the common
 * case); more need a buffer allocated outside mm_list_lock (a leaf lock: no
 * allocation under it), sized for every slot of the chain
 * (mm_holders_slots()), and the collect retried while the chain grew.
 */
static int peek_holders(unsigned long id, struct mm_holder *holders, int max, bool barrier)
{
	struct holder_snap stack_snap[MM_HOLDER_SLOTS + 1], *snap = stack_snap;
	int cap = MM_HOLDER_SLOTS + 1;
	struct mm_struct *mm;
	int ret;

	if (WARN_ON_ONCE(!holders && max > 0)) /* API misuse: nowhere to answer */
		return -EINVAL;
	if (max < 0)
		max = 0;
	lifetime_init_once();
	if (barrier)
		sm_rcu_barrier(); /* as mm_query_refs() */
	for (;;) {
		int need = 0;

		ret = -ESRCH;
		sm_mutex_lock(&mm_list_lock);
		list_for_each_entry (mm, &mm_list, mmlist) {
			if (mm->id != id)
				continue;
			ret = mm_holders_collect(mm, snap, cap, holders, max);
			if (ret == -EAGAIN)
				need = mm_holders_slots(mm);
			break;
		}
		sm_mutex_unlock(&mm_list_lock);
		if (ret != -EAGAIN)
			break;
		if (snap != stack_snap)
			kfree(snap);
		snap = kcalloc((size_t)need, sizeof(*snap));
		if (!snap)
			return -ENOMEM;
		cap = need;
	}
	if (snap != stack_snap)
		kfree(snap);
	return ret;
}

int mm_query_holders(unsigned long id, struct mm_holder *holders, int max)
{
	return peek_holders(id, holders, max, true);
}

int mm_peek_holders(unsigned long id, struct mm_holder *holders, int max)
{
	return peek_holders(id, holders, max, false);
}

unsigned long mm_live_count(void)
{
	struct mm_struct *mm;
	unsigned long n = 0;

	lifetime_init_once();
	sm_mutex_lock(&mm_list_lock);
	list_for_each_entry (mm, &mm_list, mmlist)
		n++;
	sm_mutex_unlock(&mm_list_lock);
	return n;
}

int mm_register_arch_hooks(const struct mm_arch_hooks *hooks)
{
	int ret = -ENOSPC;

	lifetime_init_once();
	sm_mutex_lock(&hooks_lock);
	for (int i = 0; i < MAX_ARCH_HOOKS; i++) {
		if (!arch_hooks[i]) {
			arch_hooks[i] = hooks;
			ret = 0;
			break;
		}
	}
	sm_mutex_unlock(&hooks_lock);
	return ret;
}

void mm_unregister_arch_hooks(const struct mm_arch_hooks *hooks)
{
	lifetime_init_once();
	sm_mutex_lock(&hooks_lock);
	for (int i = 0; i < MAX_ARCH_HOOKS; i++)
		if (arch_hooks[i] == hooks)
			arch_hooks[i] = NULL;
	sm_mutex_unlock(&hooks_lock);
}

void mm_run_exit_hooks(struct mm_struct *mm)
{
	run_exit_hooks(mm);
}

int mm_context_slot_alloc(void)
{
	int slot = atomic_fetch_add(&context_slots, 1);

	if (slot >= MM_CONTEXT_SLOTS) {
		atomic_fetch_sub(&context_slots, 1);
		return -ENOSPC;
	}
	return slot;
}

void *mm_context_get(struct mm_struct *mm, int slot)
{
	BUG_ON(slot < 0 || slot >= MM_CONTEXT_SLOTS);
	return atomic_load(&mm->context[slot]);
}

void mm_context_set(struct mm_struct *mm, int slot, void *value)
{
	BUG_ON(slot < 0 || slot >= MM_CONTEXT_SLOTS);
	atomic_store(&mm->context[slot], value);
}

/* --- mmap_lock ------------------------------------------------------------ */

void mmap_read_lock(struct mm_struct *mm)
{
	sm_down_read(&mm->mmap_lock);
}

bool mmap_read_trylock(struct mm_struct *mm)
{
	return sm_down_read_trylock(&mm->mmap_lock);
}

void mmap_lock_wait_released(struct mm_struct *mm)
{
	sm_rwsem_wait_released(&mm->mmap_lock);
}

void mmap_read_unlock(struct mm_struct *mm)
{
	sm_up_read(&mm->mmap_lock);
}

void mmap_write_lock(struct mm_struct *mm)
{
	sm_down_write(&mm->mmap_lock);
}

void mmap_write_unlock(struct mm_struct *mm)
{
	vma_end_write_all(mm);
	sm_up_write(&mm->mmap_lock);
}

void mmap_assert_locked(struct mm_struct *mm)
{
	lockdep_assert_held(&mm->mmap_lock);
}

void mmap_assert_write_locked(struct mm_struct *mm)
{
	lockdep_assert_held_write(&mm->mmap_lock);
}

int mm_take_all_locks(struct mm_struct *mm)
{
	mmap_assert_write_locked(mm);
	/*
	 * The museum's take-all-locks-misses (base/bugs.h): neither the VMA
	 * locks nor the rmap lock are taken, as mm_take_all_locks() missed the
	 * per-VMA locks page faults hold before eeff9a5d47f8: an invalidation
	 * under such a lock alone (a COW fault's under its VMA lock, reclaim's
	 * through the reverse map under rmap_lock) runs across registration.
	 */
	if (historic_bug(BUG_TAKE_ALL_LOCKS_MISSES))
		return 0;
	/*
	 * eeff9a5d47f8: every VMA write-locked, so no fault under a per-VMA
	 * lock is inside an invalidation now, and none starts one until
	 * mmap_write_unlock() (they fall back to mmap_lock and wait).
	 */
	vma_start_write_range(mm, 0, ~0UL);
	return sm_down_write_killable(&mm->rmap_lock);
}

void mm_drop_all_locks(struct mm_struct *mm)
{
	mmap_assert_write_locked(mm);
	if (historic_bug(BUG_TAKE_ALL_LOCKS_MISSES))
		return;
	sm_up_write(&mm->rmap_lock);
}

/* --- accounting ------------------------------------------------------------ */

void mm_get_stats(struct mm_struct *mm, struct mm_stats *st)
{
	st->rss = atomic_load(&mm->rss);
	st->swap = atomic_load(&mm->swapents);
	st->thp = atomic_load(&mm->nr_thp);
	st->locked_vm = atomic_load(&mm->locked_vm);
	st->pinned_vm = atomic_load(&mm->pinned_vm);
}

void mm_set_memlock_limit(struct mm_struct *mm, unsigned long bytes)
{
	atomic_store(&mm->memlock_limit, bytes);
}

unsigned long mm_memlock_limit(struct mm_struct *mm)
{
	return atomic_load(&mm->memlock_limit);
}

void mm_set_cap_ipc_lock(struct mm_struct *mm, bool cap)
{
	atomic_store(&mm->cap_ipc_lock, cap);
}

int account_locked_vm(struct mm_struct *mm, unsigned long npages, bool inc)
{
	long old = atomic_load(&mm->locked_vm);

	if (!inc) {
		old = atomic_fetch_sub(&mm->locked_vm, (long)npages);
		WARN_ON(old < (long)npages); /* uncharging more than was charged */
		return 0;
	}
	for (;;) {
		unsigned long limit = atomic_load(&mm->memlock_limit) >> PAGE_SHIFT;

		if (!atomic_load(&mm->cap_ipc_lock) && (unsigned long)old + npages > limit)
			return -ENOMEM;
		if (atomic_compare_exchange_weak(&mm->locked_vm, &old, old + (long)npages))
			return 0;
	}
}

void mm_pinned_vm_add(struct mm_struct *mm, long npages)
{
	long old = atomic_fetch_add(&mm->pinned_vm, npages);

	WARN_ON(old + npages < 0);
}

int mm_for_each_live(int (*fn)(struct mm_struct *mm, void *arg), void *arg)
{
	struct mm_struct **mms = NULL, *mm;
	size_t n = 0, cap = 0;
	int ret = 0;

	lifetime_init_once();
	sm_mutex_lock(&mm_list_lock);
	list_for_each_entry (mm, &mm_list, mmlist) {
		if (n == cap) {
			struct mm_struct **bigger =
				krealloc_array(mms, cap = cap ? 2 * cap : 16, sizeof(*mms));

			if (!bigger) {
				ret = -ENOMEM;
				break;
			}
			mms = bigger;
		}
		if (mmget_not_zero_tracked(mm, &mm_list, "mm walk")) /* Pairs with mmput() below. */
			mms[n++] = mm;
	}
	sm_mutex_unlock(&mm_list_lock);
	for (size_t i = 0; i < n; i++) {
		if (!ret)
			ret = fn(mms[i], arg);
		mmput_tracked(mms[i], &mm_list, "mm walk");
	}
	kfree(mms);
	return ret;
}
