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
 * Live sm_threads started outside an exploration run (read by the explorer;
 * library-internal, not part of the kit).
 */
extern _Atomic unsigned long sm_threads_uncontrolled;

#endif /* SECMMU_BASE_THREAD_H */
