/* SPDX-License-Identifier: MIT */
/*
 * base/rcu.h - the library's own view of the driver kit's rcu.h
 * (include/secmmu/kit/rcu.h, installed: out-of-tree drivers use the same
 * primitives).
 */
#ifndef SECMMU_BASE_RCU_H
#define SECMMU_BASE_RCU_H

#include "secmmu/kit/rcu.h"

/* Has any callback ever been queued through liburcu (by this process)? */
bool sm_rcu_callbacks_queued(void);

#endif /* SECMMU_BASE_RCU_H */
