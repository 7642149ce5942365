/* SPDX-License-Identifier: MIT */
/*
 * Ranked locks.
 *
 * Every lock in secmmu has a rank from enum lock_rank. A thread may only take
 * a lock whose rank is strictly greater than every lock it already holds
 * (equal ranks are allowed only with a distinct nesting subclass, as
 * mmap_write_lock_nested() in fork). Debug builds keep a per-thread stack of
 * held locks and abort on an inversion, naming both locks; release builds pay
 * nothing. lockdep_assert_held() and friends turn "caller holds X" comments
 * into checks.
 *
 * THE LOCK ORDER (outermost first) -- the one place it is written down:
 *
 *   LOCK_RANK_SIM          a program's world state, outermost: the scenario
 *                          runner's world lock (src/sim), a test's
 *                          stop-the-world lock (tests/torture)
 *   LOCK_RANK_SIM_SLOT     one process of such a world, held under the world
 *                          lock around calls into the library (a torture or
 *                          stress test's process slot; fork takes two, the
 *                          second with subclass 1)
 *   LOCK_RANK_SIM_OBJECT   an object of that process, under its slot, around
 *                          calls into the library (the torture oracle's page
 *                          writer, a pin set, a borrowing kthread, the KSM
 *                          exclusion); none nests in another
 *   LOCK_RANK_DRIVER       a driver's object lock held across calls into mm:
 *                          VFIO container->lock, SVA bind lock, XPMEM segment,
 *                          KVM slots_lock
 *   LOCK_RANK_TASK         task_struct->lock (files table, active_mm)
 *   LOCK_RANK_MMAP         mm->mmap_lock (rwsem). fork takes the parent's, then
 *                          the child's with subclass 1.
 *   LOCK_RANK_VMA          a VMA's per-VMA lock (vma_lock.lock, src/mm): read
 *                          by page faults that do not hold mmap_lock
 *                          (lock_vma_under_rcu), write for an instant by
 *                          mmap_lock writers (vma_start_write), e.g. by
 *                          mm_take_all_locks().
 *   LOCK_RANK_ANON_VMA     anon_vma->lock: its VMA list. Reverse-map walks hold
 *                          it across invalidate_range_start/end, as Linux's
 *                          try_to_unmap holds the anon_vma rwsem.
 *   LOCK_RANK_RMAP         mm->rmap_lock: read by invalidators without
 *                          mmap_lock, write by mm_take_all_locks()
 *   LOCK_RANK_NOTIFIER_REG the notifier registration mutex (get/put lookup)
 *   LOCK_RANK_INVALIDATE_MAP not a lock: the MMU-notifier invalidation map
 *                          (the kernel's __mmu_notifier_invalidate_range_start_map),
 *                          "held" while invalidate callbacks run and taken for an
 *                          instant by mmu_interval_read_begin(), register,
 *                          unregister, interval remove and synchronize: a lock a
 *                          callback takes must rank above it, a lock held around
 *                          those calls below it, so a driver that does both is
 *                          reported even if no invalidation ever runs concurrently.
 *   LOCK_RANK_DRIVER_NOTIFIER a secondary MMU's lock around its notifier
 *                          bookkeeping, taken in callbacks and held around
 *                          its table lock (KVM mn_invalidate_lock)
 *   LOCK_RANK_DRIVER_MMU   a secondary MMU's own table lock, taken inside
 *                          notifier callbacks (KVM mmu_lock, mirror->lock)
 *   LOCK_RANK_SHMEM        shared-anonymous object page index
 *   LOCK_RANK_PTL          mm->page_table_lock
 *   LOCK_RANK_DEVICE_TLB   a device TLB lock taken from
 *                          arch_invalidate_secondary_tlbs (under the PTL)
 *   LOCK_RANK_NOTIFIER_SUBS mmu_notifier_subscriptions->lock (leaf-like)
 *   LOCK_RANK_LRU          LRU lists
 *   LOCK_RANK_SWAP         swap device slot map
 *   LOCK_RANK_PHYS         frame allocator free list
 *   LOCK_RANK_WORKQ        a device's hand-off queue (DMA engine, fault worker,
 *                          vCPU and XPMEM node request queues): held only
 *                          around queue manipulation and the wait/wake-up
 *   LOCK_RANK_WAITQ        the hashed wait-queue buckets of sm_wait_var_event()
 *   LOCK_RANK_LEAF         statistics, registries that call out to nothing
 *
 * Not ranked, by design (documented exemptions, checked by
 * tests/unit/test_substrate.c): the interleaving explorer's own mutex
 * (base/sched_explore.c: ranked locks and waits call into it, so it is under
 * all of them) and the trace writer's mutex (base/trace.c: a leaf that may be
 * taken under any lock, and must stay invisible to the explorer so that a
 * traced run takes the same schedule as an untraced one).
 *
 * Sleeping context (debug builds): non_block_start()/non_block_end() bracket
 * code that must not sleep (an MMU-notifier callback called with
 * MMU_NOTIFIER_RANGE_BLOCKABLE clear); might_sleep() -- called by every wait,
 * every thread join and every sleeping lock acquisition -- reports a sleep
 * inside such a section and BUG()s. Locks initialised with sm_spin_init() are
 * spinning locks (the kernel's spinlock_t / rwlock_t, e.g. KVM's mmu_lock):
 * taking one does not sleep.
 */
#ifndef SECMMU_KIT_LOCK_H
#define SECMMU_KIT_LOCK_H

#include "secmmu/compiler.h"
#include "secmmu/kit/symbols.h"

#include <pthread.h>
#include <stdbool.h>

/*
 * The locks are POSIX's (pthread_rwlock_t inside), which a strict -std=c11
 * build hides. `pkg-config --cflags secmmu` defines _POSIX_C_SOURCE; a build
 * without it says so here rather than at an unknown type name.
 */
#if !defined(_POSIX_C_SOURCE) || _POSIX_C_SOURCE < 200112L
#error "secmmu/kit/lock.h needs POSIX.1-2001: compile with `pkg-config --cflags secmmu`, or define _POSIX_C_SOURCE 200809L (or _GNU_SOURCE) before the first #include"
#endif

#include "secmmu/kit/debug.h"

SECMMU_BEGIN_DECLS

enum lock_rank {
	LOCK_RANK_SIM = 10,
	LOCK_RANK_SIM_SLOT = 12,
	LOCK_RANK_SIM_OBJECT = 14,
	LOCK_RANK_DRIVER = 20,
	LOCK_RANK_TASK = 30,
	LOCK_RANK_MMAP = 40,
	LOCK_RANK_VMA = 41,
	LOCK_RANK_ANON_VMA = 42,
	LOCK_RANK_RMAP = 44,
	LOCK_RANK_NOTIFIER_REG = 45,
	LOCK_RANK_INVALIDATE_MAP = 47,
	LOCK_RANK_DRIVER_NOTIFIER = 48,
	LOCK_RANK_DRIVER_MMU = 50,
	LOCK_RANK_SHMEM = 55,
	LOCK_RANK_PTL = 60,
	LOCK_RANK_DEVICE_TLB = 65,
	LOCK_RANK_NOTIFIER_SUBS = 70,
	LOCK_RANK_LRU = 80,
	LOCK_RANK_SWAP = 85,
	LOCK_RANK_PHYS = 90,
	LOCK_RANK_WORKQ = 92,
	LOCK_RANK_WAITQ = 95,
	LOCK_RANK_LEAF = 100,
};

enum held_mode {
	HELD_NONE = 0,
	HELD_READ = 1,
	HELD_WRITE = 2
};

/* Common header of every ranked lock, used by the order checker. */
struct lock_class {
	const char *name;
	enum lock_rank rank;
	bool spin; /* a spinning lock: taking it does not sleep */
};

struct sm_mutex {
	pthread_mutex_t m;
	struct lock_class cls;
};

struct sm_rwsem {
	pthread_rwlock_t rw;
	struct lock_class cls;
};

void sm_mutex_init(struct sm_mutex *l, const char *name, enum lock_rank rank);
void sm_mutex_destroy(struct sm_mutex *l);
void sm_mutex_lock(struct sm_mutex *l);
void sm_mutex_lock_nested(struct sm_mutex *l, unsigned int subclass);
bool sm_mutex_trylock(struct sm_mutex *l);
void sm_mutex_unlock(struct sm_mutex *l);
/* Mark @l a spinning lock (after sm_mutex_init()): its lock does not might_sleep(). */
void sm_mutex_set_spin(struct sm_mutex *l);
/* The same for an rwsem (KVM's mmu_lock is an rwlock_t). */
void sm_rwsem_set_spin(struct sm_rwsem *l);

void sm_rwsem_init(struct sm_rwsem *l, const char *name, enum lock_rank rank);
void sm_rwsem_destroy(struct sm_rwsem *l);
void sm_down_read(struct sm_rwsem *l);
bool sm_down_read_trylock(struct sm_rwsem *l);
void sm_up_read(struct sm_rwsem *l);
void sm_down_write(struct sm_rwsem *l);
void sm_down_write_nested(struct sm_rwsem *l, unsigned int subclass);
void sm_up_write(struct sm_rwsem *l);
/*
 * After a failed read trylock of @l: sleep until @l was released (returns at
 * once if it is free for a reader already), then the caller tries again.
 * Under exploration the explorer blocks the thread until a release. May sleep.
 */
void sm_rwsem_wait_released(struct sm_rwsem *l);
/* Record an rwsem acquired by other means (timed waits); checks the order. */
void sm_rwsem_note_acquired(struct sm_rwsem *l, enum held_mode mode);

/* Sleeping-context checks (debug builds); see the top of this file. */
void __might_sleep(const char *file, int line);
/* A check of debug builds only: elsewhere no call is left (sm_debug is a constant). */
#define might_sleep()                                                                              \
	do {                                                                                       \
		if (sm_debug)                                                                      \
			__might_sleep(__FILE__, __LINE__);                                         \
	} while (0)
void __non_block_start(const char *file, int line);
#define non_block_start() __non_block_start(__FILE__, __LINE__)
void non_block_end(void);
/* Sleeps reported so far (tests: a detector that fired). */
unsigned long might_sleep_reports(void);
/* Report (false) or BUG (true, the default) on a sleep in a non-blocking section. */
void might_sleep_set_fatal(bool fatal);

/* Lock-order checker (debug builds). */
enum held_mode lockdep_held_mode(const void *lock);
unsigned int lockdep_depth(void);

#define lockdep_assert_held(l)	     DEBUG_BUG_ON(lockdep_held_mode(l) == HELD_NONE)
#define lockdep_assert_held_write(l) DEBUG_BUG_ON(lockdep_held_mode(l) != HELD_WRITE)
#define lockdep_assert_not_held(l)   DEBUG_BUG_ON(lockdep_held_mode(l) != HELD_NONE)
/* The thread holds no lock at all (e.g. before a callback that may sleep). */
#define lockdep_assert_none_held() DEBUG_BUG_ON(lockdep_depth() != 0)

SECMMU_END_DECLS

#endif /* SECMMU_KIT_LOCK_H */
