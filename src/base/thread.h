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

#endif /* SECMMU_BASE_THREAD_H */
