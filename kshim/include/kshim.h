/* SPDX-License-Identifier: MIT */
/*
 * kshim.h - the kernel environment that Linux's own mm/mmu_notifier.c,
 * lib/rbtree.c and lib/interval_tree.c need, mapped onto secmmu's src/base.
 *
 * Every linux/<name>.h under kshim/include/ is a one-line include of this file:
 * the kernel files are compiled unmodified (see kshim/kshim.mk), and what
 * they get from "the kernel" is defined here, once, with the reason for each
 * mapping next to it. This is our code (MIT); the kernel files it is compiled
 * with stay GPL-2.0 and are never copied into the repository.
 *
 * What must behave as in Linux, and how it does:
 *  - spinlock_t       -> a spinning sm_mutex (sm_mutex_set_spin: taking it is
 *    no sleep for the sleeping-context checker) of rank LOCK_RANK_NOTIFIER_SUBS (the
 *    only spinlock of mmu_notifier.c is subscriptions->lock; our own core
 *    gives that lock the same rank). A sleeping lock where Linux spins: the
 *    critical sections call nothing, so only the cost differs, and the
 *    ranked-lock checker and the explorer see every acquisition.
 *  - SRCU             -> base/rcu.h (liburcu memb, sleepable readers):
 *    srcu_read_lock/unlock -> sm_rcu_read_lock/unlock (the index is 0);
 *    call_srcu -> sm_call_rcu through a trampoline (kshim/glue.c);
 *    synchronize_srcu -> sm_synchronize_rcu + sm_rcu_barrier: Linux's
 *    mmu_notifier_synchronize() relies on synchronize_srcu() running the
 *    callbacks queued by call_srcu() before it (Tree SRCU invokes them in
 *    order); liburcu's synchronize_rcu() does not, the barrier does.
 *  - wait_queue_head_t -> a generation count + a base/wait.h queue slept on
 *    with sm_wait() (the one wait primitive, which the explorer controls, as
 *    src/notifier's). wait_event() samples the generation before
 *    testing the condition and sleeps only while it is unchanged, which is
 *    Linux's prepare_to_wait/schedule protocol: no lost wake-up, and the
 *    condition is evaluated without the queue's lock (it takes the
 *    subscriptions spinlock itself).
 *  - kzalloc/kfree    -> base/alloc.h (fault injection works on the kernel's
 *    allocation of mmu_notifier_subscriptions too).
 *  - mm_struct, mmgrab/mmdrop, mmap_lock, mm_take_all_locks -> secmmu's own
 *    src/mm (struct mm_struct has the fields the kernel file uses:
 *    mm_users, mm_count, mmap_lock, notifier_subscriptions).
 *  - WARN_ON/BUG_ON, container_of, READ_ONCE/WRITE_ONCE -> base/debug.h
 *    (a WARN counts in sm_warn_count(), which tests assert on).
 *  - lockdep: lockdep_assert_held -> base/lock.h's checker; lockdep maps
 *    (lock_map_acquire/release) are no-ops as in a !CONFIG_LOCKDEP kernel:
 *    our checker has no pseudo-locks.
 *  - might_sleep, non_block_start/end -> base/lock.h's sleeping-context
 *    checker: a callback that sleeps in a non-blockable invalidation is
 *    reported (src/notifier does not mark those sections).
 *  - might_lock, pr_info, EXPORT_SYMBOL*: no-ops (kernel debugging and module
 *    plumbing).
 */
#ifndef SECMMU_KSHIM_H
#define SECMMU_KSHIM_H

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/alloc.h"
#include "base/debug.h"
#include "base/list.h"
#include "base/lock.h"
#include "base/rcu.h"
#include "base/wait.h"
#include "mm/mm_types.h"
#include "secmmu/err.h"
#include "secmmu/mm.h"

/*
 * Built with -fvisibility=hidden like the rest of the library: the variant's
 * libsecmmu.so exports, of the kernel's core, exactly the functions that
 * include/secmmu/mmu_notifier.h declares (tests/abi-check.sh).
 */
struct mmu_notifier;
struct mmu_notifier_ops;
struct mmu_interval_notifier;
struct mmu_interval_notifier_ops;
#pragma GCC visibility push(default)
int mmu_notifier_register(struct mmu_notifier *subscription, struct mm_struct *mm);
int __mmu_notifier_register(struct mmu_notifier *subscription, struct mm_struct *mm);
void mmu_notifier_unregister(struct mmu_notifier *subscription, struct mm_struct *mm);
struct mmu_notifier *mmu_notifier_get_locked(const struct mmu_notifier_ops *ops,
					     struct mm_struct *mm);
void mmu_notifier_put(struct mmu_notifier *subscription);
void mmu_notifier_synchronize(void);
unsigned long mmu_interval_read_begin(struct mmu_interval_notifier *interval_sub);
int mmu_interval_notifier_insert(struct mmu_interval_notifier *interval_sub, struct mm_struct *mm,
				 unsigned long start, unsigned long length,
				 const struct mmu_interval_notifier_ops *ops);
int mmu_interval_notifier_insert_locked(struct mmu_interval_notifier *interval_sub,
					struct mm_struct *mm, unsigned long start,
					unsigned long length,
					const struct mmu_interval_notifier_ops *ops);
void mmu_interval_notifier_remove(struct mmu_interval_notifier *interval_sub);
#pragma GCC visibility pop

/* --- compiler and types (linux/compiler.h, linux/types.h) ------------- */
#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#define __must_check		    __attribute__((warn_unused_result))
#define __rcu			    /* sparse annotation */
#define EXPORT_SYMBOL(s)	    /* no modules */
#define EXPORT_SYMBOL_GPL(s)	    /* no modules */
#define check_add_overflow(a, b, d) __builtin_add_overflow(a, b, d)
typedef uint8_t u8;
typedef uint32_t u32;
typedef uint64_t u64;
typedef unsigned int gfp_t;
#define GFP_KERNEL   0u
#define LIST_POISON1 SM_POISON_PTR

/* --- atomics and barriers: the C11/GCC builtins ---------------------- */
#define atomic_read(p)		 atomic_load(p) /* mm_users/mm_count are _Atomic int */
#define smp_store_release(p, v)	 __atomic_store_n(p, v, __ATOMIC_RELEASE)
#define smp_load_acquire(p)	 __atomic_load_n(p, __ATOMIC_ACQUIRE)
#define rcu_assign_pointer(p, v) sm_rcu_assign_pointer(p, v)
#define rcu_dereference_raw(p)	 sm_rcu_dereference(p)
#define RCU_INIT_POINTER(p, v)	 WRITE_ONCE(p, v)

/* --- debugging that is a no-op here ---------------------------------- */
#define might_lock(l)	    ((void)(l))
#define lock_map_acquire(m) ((void)0)
#define lock_map_release(m) ((void)0)
#define lockdep_is_held(l)  (lockdep_held_mode(l) != HELD_NONE)
#define pr_info(...)	    ((void)0)

/* --- allocation: base/alloc.h (one-argument kzalloc, exported as secmmu_kzalloc) --- */
#undef kzalloc
#define kzalloc(size, ...) secmmu_kzalloc(size)

/* --- spinlock_t: a ranked, spinning sm_mutex ------------------------- */
typedef struct sm_mutex spinlock_t;
static inline void spin_lock_init(spinlock_t *l)
{
	sm_mutex_init(l, "mmu_notifier_subscriptions->lock", LOCK_RANK_NOTIFIER_SUBS);
	sm_mutex_set_spin(l); /* taking it does not sleep (base/lock.h) */
}
#define spin_lock(l)   sm_mutex_lock(l)
#define spin_unlock(l) sm_mutex_unlock(l)

/* --- RCU / SRCU ------------------------------------------------------ */
/* Laid out as struct sm_rcu_head followed by the kernel-style callback. */
struct callback_head {
	struct sm_rcu_head sm;
	void (*func)(struct callback_head *head);
};
#define rcu_head callback_head
typedef void (*rcu_callback_t)(struct rcu_head *head);

struct srcu_struct {
	int unused; /* one global domain: base/rcu.h */
};
#define DEFINE_STATIC_SRCU(name) static struct srcu_struct name
static inline int srcu_read_lock(struct srcu_struct *ssp)
{
	(void)ssp;
	sm_rcu_read_lock();
	return 0;
}
static inline void srcu_read_unlock(struct srcu_struct *ssp, int idx)
{
	(void)ssp;
	(void)idx;
	sm_rcu_read_unlock();
}
#define srcu_read_lock_held(ssp) sm_rcu_read_ongoing()
void kshim_synchronize_srcu(void);
#define synchronize_srcu(ssp) kshim_synchronize_srcu()
void kshim_call_srcu(struct rcu_head *head, rcu_callback_t func);
#define call_srcu(ssp, head, func) kshim_call_srcu(head, func)

/* --- hlist (linux/list.h, linux/rculist.h): our own implementation ---- */
struct hlist_head {
	struct hlist_node *first;
};
struct hlist_node {
	struct hlist_node *next, **pprev;
};
#define INIT_HLIST_HEAD(h)	       ((h)->first = NULL)
#define hlist_entry(ptr, type, member) container_of(ptr, type, member)
#define hlist_entry_safe(ptr, type, member)                                                        \
	({                                                                                         \
		__typeof__(ptr) ____p = (ptr);                                                     \
		____p ? hlist_entry(____p, type, member) : NULL;                                   \
	})
static inline bool hlist_unhashed(const struct hlist_node *n)
{
	return !READ_ONCE(n->pprev);
}
static inline bool hlist_empty(const struct hlist_head *h)
{
	return !READ_ONCE(h->first);
}
static inline void hlist_add_head(struct hlist_node *n, struct hlist_head *h)
{
	n->next = h->first;
	if (n->next)
		n->next->pprev = &n->next;
	WRITE_ONCE(n->pprev, &h->first);
	WRITE_ONCE(h->first, n);
}
/* As above, publishing @n to lockless readers (release). */
static inline void hlist_add_head_rcu(struct hlist_node *n, struct hlist_head *h)
{
	n->next = h->first;
	WRITE_ONCE(n->pprev, &h->first);
	sm_rcu_assign_pointer(h->first, n);
	if (n->next)
		n->next->pprev = &n->next;
}
/* Unlink, leaving ->next for readers that stand on @n. */
static inline void __hlist_del(struct hlist_node *n)
{
	if (n->next)
		n->next->pprev = n->pprev;
	WRITE_ONCE(*n->pprev, n->next);
}
static inline void hlist_del(struct hlist_node *n)
{
	__hlist_del(n);
	n->next = SM_POISON_PTR;
	n->pprev = SM_POISON_PTR;
}
static inline void hlist_del_init_rcu(struct hlist_node *n)
{
	if (!hlist_unhashed(n)) {
		__hlist_del(n);
		WRITE_ONCE(n->pprev, NULL);
	}
}
#define hlist_for_each_entry_safe(pos, n, head, member)                                            \
	for (pos = hlist_entry_safe((head)->first, __typeof__(*pos), member);                      \
	     pos && ({                                                                             \
		     n = pos->member.next;                                                         \
		     1;                                                                            \
	     });                                                                                   \
	     pos = hlist_entry_safe(n, __typeof__(*pos), member))
/* The fourth argument (the lockdep condition) is not checked. */
#define hlist_for_each_entry_rcu(pos, head, member, ...)                                           \
	for (pos = hlist_entry_safe(sm_rcu_dereference((head)->first), __typeof__(*pos), member);  \
	     pos; pos = hlist_entry_safe(sm_rcu_dereference(pos->member.next), __typeof__(*pos),   \
					 member))

/* --- wait queues: base/wait.h ---------------------------------------- */
typedef struct wait_queue_head {
	struct sm_mutex lock; /* rank LOCK_RANK_LEAF: guards @gen, nothing nests */
	unsigned long gen;    /* bumped by every wake_up_all() */
	struct sm_waitq wq;   /* slept on with sm_wait() */
} wait_queue_head_t;
void init_waitqueue_head(wait_queue_head_t *wq);
void wake_up_all(wait_queue_head_t *wq);
unsigned long kshim_wait_prepare(wait_queue_head_t *wq);
void kshim_wait_sleep(wait_queue_head_t *wq, unsigned long gen);
#define wait_event(wq, cond)                                                                       \
	do {                                                                                       \
		for (;;) {                                                                         \
			unsigned long __gen = kshim_wait_prepare(&(wq));                           \
			if (cond)                                                                  \
				break;                                                             \
			kshim_wait_sleep(&(wq), __gen);                                            \
		}                                                                                  \
	} while (0)

#endif /* SECMMU_KSHIM_H */
