/* SPDX-License-Identifier: MIT */
/*
 * base/lock.h - the library's own view of the driver kit's lock.h
 * (include/secmmu/kit/lock.h, installed: out-of-tree drivers use the same
 * primitives), plus what only src/base uses.
 */
#ifndef SECMMU_BASE_LOCK_H
#define SECMMU_BASE_LOCK_H

#include "secmmu/kit/lock.h"

/* For base/wait.c only: release @l for a wait / wait on @cond with @l held. */
void __sm_mutex_unlock_for_wait(struct sm_mutex *l);
void __sm_mutex_wait(struct sm_mutex *l, pthread_cond_t *cond);

#endif /* SECMMU_BASE_LOCK_H */
