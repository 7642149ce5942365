// SPDX-License-Identifier: MIT
/*
 * REGRESSION (found by build/torture --seed 1, 4 threads, within seconds):
 * the last mmdrop() can run inside an RCU callback (mmu_notifier_put ->
 * free_notifier -> mmdrop after a grace period, e.g. on SVA unbind after
 * exit). __mmdrop runs destroy_context hooks; VFIO's destroy_context calls
 * sm_call_rcu(), whose ensure_registered() calls urcu_memb_register_thread()
 * on liburcu's own call_rcu worker thread, which liburcu has already
 * registered: liburcu asserts "!URCU_TLS(rcu_reader).registered" and the
 * process aborts. Any sm_rcu_read_lock()/sm_call_rcu() from an RCU callback
 * hits it (src/base/rcu.c: `registered` is private to the TU and does not
 * know the callback thread is registered).
 *
 * These tests fail (SIGABRT) until src/base/rcu.c is fixed.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "base/rcu.h"
#include "harness.h"
#include "secmmu/err.h"
#include "secmmu/iommu.h"
#include "secmmu/sched.h"
#include "secmmu/vfio.h"
#include "testutil.h"

static struct sm_rcu_head outer, inner;
static atomic_int inner_ran;

static void inner_cb(struct sm_rcu_head *h)
{
	(void)h;
	atomic_store(&inner_ran, 1);
}

static void outer_cb(struct sm_rcu_head *h)
{
	(void)h;
	/* e.g. __mmdrop -> destroy_context -> call_rcu, from a callback */
	sm_rcu_read_lock();
	sm_rcu_read_unlock();
	sm_call_rcu(&inner, inner_cb);
}

TEST(regress_call_rcu_from_rcu_callback)
{
	sm_call_rcu(&outer, outer_cb);
	sm_rcu_barrier();
	sm_rcu_barrier();
	ASSERT_EQ(atomic_load(&inner_ran), 1);
}

/* The same through the public API only: VFIO prereg + SVA bond, exit, unbind. */
TEST(regress_sva_unbind_after_exit_with_vfio_ctx)
{
	struct tce_container *c;
	struct iommu_device *dev;
	struct iommu_sva *bond;
	struct task_struct *t;
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	map_anon(mm, TBASE, 4, PROT_RW, false);
	t = task_create("p", mm);
	ASSERT_NOT_NULL(t);
	dev = iommu_device_create("d", 0);
	ASSERT(!IS_ERR(dev));
	ASSERT_EQ(vfio_spapr_tce_open(t, &c), 0);
	ASSERT_EQ(tce_iommu_register_pages(c, mm, TBASE, PG(4)), 0);
	bond = iommu_sva_bind_device(dev, mm);
	ASSERT(!IS_ERR(bond));
	ASSERT_EQ(task_exit(t), 0); /* closes the container too */
	vfio_container_put(c);
	iommu_sva_unbind_device(bond); /* last mmdrop now runs from an RCU callback */
	sm_rcu_barrier();
	sm_rcu_barrier();
	ASSERT_EQ(iommu_device_destroy(dev), 0);
	task_free(t);
}
