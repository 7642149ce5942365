/* SPDX-License-Identifier: MIT */
/*
 * base/rcu.h - the library's own view of the driver kit's rcu.h
 * (include/secmmu/kit/rcu.h, installed: out-of-tree drivers use the same
 * primitives).
 *
 * Two implementations of one API. In production every read-side section,
 * grace period and callback is liburcu's (memb flavor): secmmu has no grace-
 * period logic of its own there. Under interleaving exploration
 * (base/sched_explore.h) a controlled thread never calls liburcu: read-side
 * sections are stamped with the explorer's logical clock, a grace period
 * that began at S completes when no controlled thread is in a section that
 * began before S, and sm_call_rcu() callbacks run on the explorer's
 * controlled "rcu callbacks" thread at points the explorer chooses, so grace
 * periods and callbacks are part of the schedule and replay exactly. There,
 * and only there, our own grace-period logic (base/sched_explore.c, "RCU,
 * modelled") is the one that is right: liburcu's threads would run outside
 * the explorer's control, and its grace periods would depend on timing.
 */
#ifndef SECMMU_BASE_RCU_H
#define SECMMU_BASE_RCU_H

#include "secmmu/kit/rcu.h"

/* Has any callback ever been queued through liburcu (by this process)? */
bool sm_rcu_callbacks_queued(void);

#endif /* SECMMU_BASE_RCU_H */
