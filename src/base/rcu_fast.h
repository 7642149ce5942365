/* SPDX-License-Identifier: MIT */
/*
 * base/rcu_fast.h - inline read-side sections for the core's hottest path
 * (the invalidation hooks in src/notifier/mmu_notifier.c).
 *
 * sm_rcu_read_lock()/unlock() (base/rcu.c) are calls into the library that
 * check, each time, whether the explorer controls the thread, whether the
 * thread is registered with liburcu, then call liburcu. Here the common case
 * -- no exploration running, a thread registered already -- is inline:
 * liburcu's own inline read lock (memb flavour: a thread-local counter and a
 * compiler barrier) and our nesting count. Every other case, and every
 * ThreadSanitizer build (base/rcu.c annotates the grace periods for it),
 * takes the out-of-line functions: same semantics, same contract as
 * base/rcu.h.
 *
 * Include it only where the speed matters: it defines _LGPL_SOURCE for the
 * file (liburcu's inline functions) and brings liburcu's names with it.
 */
#ifndef SECMMU_BASE_RCU_FAST_H
#define SECMMU_BASE_RCU_FAST_H

#include "base/rcu.h"
#include "base/sched_explore.h"

#if defined(__SANITIZE_THREAD__)
#define SM_RCU_FAST 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SM_RCU_FAST 0
#endif
#endif
#ifndef SM_RCU_FAST
#define SM_RCU_FAST 1
#endif

#if SM_RCU_FAST
#ifndef _LGPL_SOURCE
#define _LGPL_SOURCE
#endif
#include <urcu/urcu-memb.h>

#endif

/*
 * base/rcu.c's: is this thread registered with liburcu; its read-side
 * nesting. Initial-exec: a direct thread-pointer access, not a call to
 * __tls_get_addr() as the -fPIC default would make each one (five bytes of
 * the static TLS surplus, should the library be dlopen()ed).
 */
#define SM_RCU_TLS _Thread_local __attribute__((tls_model("initial-exec")))
extern SM_RCU_TLS bool sm_rcu_registered;
extern SM_RCU_TLS unsigned int sm_rcu_nesting;

static inline void sm_rcu_read_lock_fast(void)
{
#if SM_RCU_FAST
	if (__builtin_expect(!sched_explore_on() && sm_rcu_registered, 1)) {
		sm_rcu_nesting++;
		urcu_memb_read_lock();
		return;
	}
#endif
	sm_rcu_read_lock();
}

static inline void sm_rcu_read_unlock_fast(void)
{
#if SM_RCU_FAST
	if (__builtin_expect(!sched_explore_on(), 1)) {
		BUG_ON(sm_rcu_nesting == 0);
		sm_rcu_nesting--;
		urcu_memb_read_unlock();
		return;
	}
#endif
	sm_rcu_read_unlock();
}

#endif /* SECMMU_BASE_RCU_FAST_H */
