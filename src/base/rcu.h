/* SPDX-License-Identifier: MIT */
/*
 * RCU for secmmu: a thin layer over liburcu's memb flavor.
 *
 * Why a layer and not liburcu directly:
 *  - every thread that reads must be registered with liburcu; sm_rcu_read_lock()
 *    registers the calling thread on first use and unregisters it at thread
 *    exit, so device threads, vCPUs and tests need no ceremony;
 *  - ThreadSanitizer does not understand liburcu's grace periods. Under TSan,
 *    each read-side unlock "releases" and each grace period end "acquires" one
 *    token, which is exactly the ordering RCU guarantees (everything a reader
 *    did happens before whatever the updater does after the grace period);
 *  - pointer publication uses C11 release/acquire, which TSan understands and
 *    which costs nothing on x86.
 *
 * Under interleaving exploration (base/sched_explore.h), a controlled thread
 * does not use liburcu at all: read-side sections, grace periods
 * (sm_synchronize_rcu, sm_rcu_barrier) and sm_call_rcu() callbacks are
 * modelled by the explorer, so they are part of the schedule. That model
 * (base/sched_explore.c, "RCU, modelled") is the one place in secmmu with
 * grace-period logic of our own; production always runs liburcu's.
 *
 * Read-side sections may sleep (memb flavor): this is the SRCU semantics the
 * MMU-notifier read side needs. synchronize and barrier must not be called
 * inside a read-side section nor from a call_rcu callback.
 */
#ifndef SECMMU_BASE_RCU_H
#define SECMMU_BASE_RCU_H

#include <stdbool.h>

struct rcu_head;

struct sm_rcu_head {
	void *urcu_head[2]; /* storage for liburcu's struct rcu_head */
	void (*fn)(struct sm_rcu_head *head);
};

void sm_rcu_read_lock(void);
void sm_rcu_read_unlock(void);
bool sm_rcu_read_ongoing(void);
void sm_synchronize_rcu(void);
/* Run @fn after a grace period, on liburcu's callback thread. */
void sm_call_rcu(struct sm_rcu_head *head, void (*fn)(struct sm_rcu_head *head));
/* Has any callback ever been queued through liburcu (by this process)? */
bool sm_rcu_callbacks_queued(void);
/* Wait until every callback queued so far has run, and those they queued. */
void sm_rcu_barrier(void);

#define sm_rcu_dereference(p)	    __atomic_load_n(&(p), __ATOMIC_ACQUIRE)
#define sm_rcu_assign_pointer(p, v) __atomic_store_n(&(p), (v), __ATOMIC_RELEASE)

#endif /* SECMMU_BASE_RCU_H */
