/* SPDX-License-Identifier: MIT */
/*
 * base/wait.h - the library's own view of the driver kit's wait.h
 * (include/secmmu/kit/wait.h, installed: out-of-tree drivers use the same
 * primitives), plus what only src/base uses.
 */
#ifndef SECMMU_BASE_WAIT_H
#define SECMMU_BASE_WAIT_H

#include "secmmu/kit/wait.h"

#include "base/lock.h"
#include "base/sched_explore.h"

/* Is a sm_wait_var_event() counted in @var's bucket? For tests. */
bool sm_var_has_waiters(const void *var);

#endif /* SECMMU_BASE_WAIT_H */
