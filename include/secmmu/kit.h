/* SPDX-License-Identifier: MIT */
/*
 * secmmu/kit.h - the driver kit: what a secondary-MMU driver needs besides
 * the public API, the same primitives the library's own drivers use.
 *
 * A driver (src/drivers/ in-tree, or out of tree against the installed
 * headers) includes the public headers of what it drives (secmmu/mm.h,
 * secmmu/mmu_notifier.h, secmmu/hmm.h, secmmu/gup.h ...) and, for its own
 * objects, this kit:
 *
 *   secmmu/kit/lock.h    ranked mutexes and rwsems (struct sm_mutex,
 *                        struct sm_rwsem) with the lock-order checker: every
 *                        lock has a rank (enum lock_rank; a driver's object
 *                        locks are LOCK_RANK_DRIVER, locks its notifier
 *                        callbacks take LOCK_RANK_DRIVER_MMU), and taking a
 *                        lock of lower or equal rank than one held is a BUG
 *                        in debug builds; might_sleep(), lockdep_assert_*().
 *   secmmu/kit/wait.h    the one wait primitive: sm_waitq with
 *                        sm_wait_event()/sm_wake_up_all(), and
 *                        sm_wait_var_event()/sm_wake_up_var().
 *   secmmu/kit/thread.h  named threads: sm_thread_create()/sm_thread_join().
 *   secmmu/kit/rcu.h     RCU read sections, synchronize and call_rcu over
 *                        liburcu (sm_rcu_read_lock(), sm_call_rcu() ...).
 *   secmmu/kit/alloc.h   kzalloc()/kcalloc()/kfree() with fault injection
 *                        (fault_inject_alloc(N) makes the Nth fail) and a
 *                        live count for leak checks.
 *   secmmu/kit/list.h    <linux/list.h>-style lists.
 *   secmmu/kit/debug.h   BUG_ON(), WARN_ON(), container_of(), READ_ONCE().
 *
 * Why drivers must use these rather than pthreads and calloc: the
 * interleaving explorer (secmmu explore) controls exactly the threads,
 * locks, waits and grace periods that go through the kit, so a driver built
 * on it is explored deterministically like ours; the order checker sees its
 * locks among the core's (mmap_lock, the page-table lock ...); and the
 * fault-injection walk reaches its allocations.
 *
 * The kit is GNU C (statement expressions in WARN_ON()); it is usable from
 * C++ too. Its functions are exported from libsecmmu.so as secmmu_*
 * (secmmu/kit/symbols.h): a driver calls sm_mutex_lock(), the linker sees
 * secmmu_mutex_lock.
 */
#ifndef SECMMU_KIT_H
#define SECMMU_KIT_H

#include "secmmu/kit/alloc.h"
#include "secmmu/kit/bugs.h"
#include "secmmu/kit/debug.h"
#include "secmmu/kit/list.h"
#include "secmmu/kit/lock.h"
#include "secmmu/kit/rcu.h"
#include "secmmu/kit/thread.h"
#include "secmmu/kit/wait.h"

#endif /* SECMMU_KIT_H */
