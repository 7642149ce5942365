// SPDX-License-Identifier: MIT
/*
 * Several threads, each with its own containers on ONE shared process,
 * register (often the same regions: shared per-mm uses), map, unmap,
 * unregister and close, while another thread munmaps and mmaps unrelated
 * memory of the same process. At the end the process exits with a container
 * or two still open: no pin, no locked_vm, no frame may be left.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "secmmu/sched.h"
#include "secmmu/vfio.h"
#include "base/thread.h"
#include "testutil.h"

#define WORKERS	     4
#define ROUNDS	     40000
#define REGIONS	     4 /* shared window: REGIONS regions of REGION_PAGES */
#define REGION_PAGES 4
#define SCRATCH	     (TBASE + PG(64)) /* the mutator's unrelated memory */

static struct task_struct *task;
static struct mm_struct *mm;
static _Atomic bool stop;
static _Atomic unsigned long ops_ok;

static unsigned long region(unsigned int i)
{
	return TBASE + PG(i * REGION_PAGES);
}

static void *worker(void *arg)
{
	unsigned int seed = (unsigned int)(uintptr_t)arg * 7919u + 1;
	struct tce_container *c = NULL;

	for (int round = 0; round < ROUNDS; round++) {
		unsigned int r = rand_r(&seed) % REGIONS;
		long ret;

		if (!c)
			ASSERT_EQ(vfio_spapr_tce_open(task, &c), 0);
		switch (rand_r(&seed) % 6) {
		case 0:
		case 1:
			ret = tce_iommu_register_pages(c, mm, region(r), PG(REGION_PAGES));
			ASSERT(ret == 0 || ret == -EBUSY);
			break;
		case 2:
			ret = tce_iommu_map(c, mm, PG(r * 16), region(r), PG(2));
			ASSERT(ret == 0 || ret == -EINVAL || ret == -EBUSY);
			break;
		case 3:
			ret = tce_iommu_unmap(c, PG(r * 16), PG(2));
			ASSERT(ret == 0 || ret == -ENOENT);
			break;
		case 4:
			ret = tce_iommu_unregister_pages(c, mm, region(r), PG(REGION_PAGES));
			ASSERT(ret == 0 || ret == -ENOENT || ret == -EBUSY);
			break;
		default:
			if (rand_r(&seed) % 4)
				continue;
			ASSERT_EQ(vfio_container_close(c, task), 0);
			vfio_container_put(c);
			c = NULL;
			continue;
		}
		if (ret == 0)
			atomic_fetch_add(&ops_ok, 1);
	}
	/* Leave the container open: the exit must clean it up. */
	return c;
}

static void *mutator(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		ASSERT_EQ(mm_mmap(mm, SCRATCH, PG(8), PROT_RW, MAP_PRIVATE, NULL, 0),
			  (long)SCRATCH);
		ASSERT_EQ(mm_write(mm, SCRATCH, "scratch", 7), 0);
		ASSERT_EQ(mm_munmap(mm, SCRATCH, PG(8)), 0);
	}
	return NULL;
}

TEST(vfio_stress_containers_race_munmap)
{
	struct sm_thread workers[WORKERS], mut;
	struct tce_container *left[WORKERS];

	MM_TEST_SETUP();
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	map_anon(mm, TBASE, REGIONS * REGION_PAGES, PROT_RW, false);
	task = task_create("shared", mm);
	ASSERT_NOT_NULL(task);
	ASSERT_EQ(sm_thread_create(&mut, mutator, NULL, "mutator"), 0);
	for (uintptr_t i = 0; i < WORKERS; i++)
		ASSERT_EQ(sm_thread_create(&workers[i], worker, (void *)i, "worker %ld", (long)i),
			  0);
	for (int i = 0; i < WORKERS; i++)
		left[i] = sm_thread_join(&workers[i]);
	atomic_store(&stop, true);
	sm_thread_join(&mut);
	ASSERT_UGT(atomic_load(&ops_ok), 0);
	ASSERT_UEQ(phys_pinned_frames() > 0, mm_iommu_nr_regions(mm) > 0);

	ASSERT_EQ(task_exit(task), 0); /* closes whatever is still open */
	/*
	 * A container may map a region another container of the mm registered
	 * (tce_iommu_build_v2 looks it up in the mm's list): whichever of the
	 * two is released first, the region goes with the last of them, so
	 * nothing may be left now, and no release may have warned.
	 */
	ASSERT_UEQ(vfio_release_warnings(), 0);
	ASSERT_UEQ(phys_pinned_frames(), 0);
	for (int i = 0; i < WORKERS; i++)
		if (left[i]) {
			ASSERT(vfio_container_released(left[i]));
			vfio_container_put(left[i]);
		}
	task_free(task);
	sm_rcu_barrier();
	ASSERT_UEQ(phys_pinned_frames(), 0);
	ASSERT_UEQ(phys_used_frames(), 0);
}
