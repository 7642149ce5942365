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

/*
 * A lockdep map: an ordering point that is no lock (nothing is ever waited
 * for). Acquiring it checks and records it like a lock; it may be re-acquired
 * by the thread holding it (nested invalidations of another mm). See
 * LOCK_RANK_INVALIDATE_MAP in secmmu/kit/lock.h.
 */
struct lockdep_map {
	struct lock_class cls;
};
#define LOCKDEP_MAP_INIT(n, r)                                                                     \
	{                                                                                          \
		.cls = {.name = (n), .rank = (r) }                                                 \
	}
void __lock_map_acquire(struct lockdep_map *map);
void __lock_map_release(struct lockdep_map *map);

/* Debug builds only: elsewhere no call is left (sm_debug is a constant). */
static inline void lock_map_acquire(struct lockdep_map *map)
{
	if (sm_debug)
		__lock_map_acquire(map);
}

static inline void lock_map_release(struct lockdep_map *map)
{
	if (sm_debug)
		__lock_map_release(map);
}

#endif /* SECMMU_BASE_LOCK_H */
