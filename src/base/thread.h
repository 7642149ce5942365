/* SPDX-License-Identifier: MIT */
/*
 * base/thread.h - the library's own view of the driver kit's thread.h
 * (include/secmmu/kit/thread.h, installed: out-of-tree drivers use the same
 * primitives).
 */
#ifndef SECMMU_BASE_THREAD_H
#define SECMMU_BASE_THREAD_H

#include "secmmu/kit/thread.h"
#include <stdatomic.h>

/*
 * Library threads alive that the explorer does not control (started outside
 * a run, e.g. a device created before it). While there are any, "every
 * controlled thread is blocked" is not proof of a deadlock: one of them may
 * still wake a controlled thread. Library-internal, not part of the kit.
 */
extern _Atomic int sm_threads_uncontrolled;

/*
 * Thread slots: a small index per live thread, for per-thread counters that
 * only their thread writes (plain stores, no lock-prefixed read-modify-write;
 * the notifier's open-range counts, src/notifier). A thread gets a free slot
 * at its first sm_thread_slot() and gives it back when it exits; a later
 * thread may get the same slot, and with it the counts left in it (a count
 * written by its owner only stays consistent across owners: the slot's
 * release at exit and its next claim are a release/acquire pair). A thread
 * that finds every slot taken (more than SM_THREAD_SLOTS alive) gets none
 * and must use a shared atomic counter instead.
 */
#define SM_THREAD_SLOTS 64
#define SM_THREAD_TLS	_Thread_local __attribute__((tls_model("initial-exec")))

/* 0: not asked yet; SM_THREAD_NO_SLOT: none; else the slot + 1. */
#define SM_THREAD_NO_SLOT (~0u)
extern SM_THREAD_TLS unsigned int sm_thread_slot_plus1;
unsigned int sm_thread_slot_claim(void);

/*
 * sm_thread_slot() - the calling thread's slot + 1, or 0 if it has none.
 * Stable until the thread exits (or its TLS destructors run). Never sleeps.
 */
static inline unsigned int sm_thread_slot(void)
{
	unsigned int s = sm_thread_slot_plus1;

	if (__builtin_expect(s == 0, 0))
		s = sm_thread_slot_claim();
	return s == SM_THREAD_NO_SLOT ? 0 : s;
}

#endif /* SECMMU_BASE_THREAD_H */
