// SPDX-License-Identifier: MIT
/*
 * DMA engines on several PASIDs and page requests, while a mutator unmaps,
 * remaps, protects and discards under them and processes exit and are
 * replaced (unbind, new mm, new bind, possibly the same PASID again).
 *
 * Oracle: every 8-byte word of a page holds (mm generation << 32 | page << 16
 * | version); the mutator publishes the version (release) after writing the
 * page. A DMA read must return words of the mm the PASID was bound
 * to, of that page, and of a version no older than the one published before
 * the read began -- or fail with -EFAULT (unmapped/protected) or -ESRCH (the
 * mm has exited). A stale IOTLB entry would show an older version, another
 * mm's data, or trip the generation check (-EIO): all fail the test.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "secmmu/iommu.h"
#include "secmmu/mmu_notifier.h"
#include "base/lock.h"
#include "base/thread.h"
#include "testutil.h"

#define NSLOTS	    3
#define NDEVS	    2
#define NPAGES	    8
#define MAX_ROUNDS  400000
#define RUN_SECONDS 2

struct slot {
	struct sm_rwsem lock; /* write: replacing the mm and its bonds */
	struct mm_struct *mm;
	struct iommu_sva *bond[NDEVS];
	uint32_t pasid;
	unsigned int mmgen;
	bool exited;
	_Atomic unsigned int version[NPAGES];
};

static struct iommu_device *devs[NDEVS];
static struct slot slots[NSLOTS];
static _Atomic bool stop;
static _Atomic unsigned long good_reads, stale_reads, exited_reads;
static _Atomic unsigned int next_mmgen = 1;

static uint64_t word_of(unsigned int mmgen, unsigned int page, unsigned int v)
{
	return ((uint64_t)mmgen << 32) | ((uint64_t)page << 16) | v;
}

static void publish(struct slot *s, unsigned int p, unsigned int v)
{
	static uint64_t buf[PAGE_SIZE / 8];

	for (size_t i = 0; i < PAGE_SIZE / 8; i++)
		buf[i] = word_of(s->mmgen, p, v);
	ASSERT_EQ(mm_write(s->mm, TBASE + PG(p), buf, PAGE_SIZE), 0);
	atomic_store_explicit(&s->version[p], v, memory_order_release);
}

/* A new process in @s: mm, mapping, pattern, bonds. Caller holds the write lock. */
static void slot_populate(struct slot *s)
{
	s->mm = mm_alloc();
	ASSERT_NOT_NULL(s->mm);
	s->mmgen = atomic_fetch_add(&next_mmgen, 1);
	s->exited = false;
	map_anon(s->mm, TBASE, NPAGES, PROT_RW, false);
	for (unsigned int p = 0; p < NPAGES; p++)
		publish(s, p, 1);
	for (int d = 0; d < NDEVS; d++) {
		s->bond[d] = iommu_sva_bind_device(devs[d], s->mm);
		ASSERT(!IS_ERR(s->bond[d]));
	}
	s->pasid = iommu_sva_get_pasid(s->bond[0]);
	ASSERT_EQ(iommu_sva_get_pasid(s->bond[1]), s->pasid);
}

/* Unbind and drop the struct of an exited process. Caller holds the write lock. */
static void slot_depopulate(struct slot *s)
{
	for (int d = 0; d < NDEVS; d++)
		iommu_sva_unbind_device(s->bond[d]);
	if (!s->exited)
		mmput(s->mm);
	s->mm = NULL;
}

/*
 * The mutator rewrites pages in place while devices read them, so a read may
 * mix two versions; every word must still be of this mm and page, and none
 * older than @before.
 */
static void check_read(unsigned int mmgen, unsigned int p, unsigned int before, const uint64_t *w,
		       size_t n)
{
	bool stale = false;

	for (size_t i = 0; i < n; i++) {
		if (w[i] == 0)
			continue;	       /* freshly mapped, not yet written */
		ASSERT_UEQ(w[i] >> 32, mmgen); /* another address space's page */
		ASSERT_UEQ((w[i] >> 16) & 0xffff, p);
		if ((w[i] & 0xffff) < before)
			stale = true;
	}
	atomic_fetch_add(stale ? &stale_reads : &good_reads, 1);
}

static void *dma_thread(void *arg)
{
	struct iommu_device *dev = arg;
	unsigned int seed = (unsigned int)(uintptr_t)arg;

	while (!atomic_load(&stop)) {
		struct slot *s = &slots[rand_r(&seed) % NSLOTS];
		unsigned int p = rand_r(&seed) % NPAGES, before, mmgen;
		uint64_t w[16];
		int ret;

		sm_down_read(&s->lock);
		mmgen = s->mmgen;
		before = atomic_load_explicit(&s->version[p], memory_order_acquire);
		ret = iommu_dma_read(dev, s->pasid, TBASE + PG(p) + 64, w, sizeof(w));
		sm_up_read(&s->lock);
		if (ret == -EFAULT)
			continue;
		if (ret == -ESRCH) {
			atomic_fetch_add(&exited_reads, 1);
			continue;
		}
		ASSERT_EQ(ret, 0);
		check_read(mmgen, p, before, w, 16);
	}
	return NULL;
}

static void *prq_thread(void *arg)
{
	unsigned int seed = 777;

	(void)arg;
	while (!atomic_load(&stop)) {
		struct slot *s = &slots[rand_r(&seed) % NSLOTS];
		unsigned int p = rand_r(&seed) % (NPAGES + 2);
		int ret;

		sm_down_read(&s->lock);
		ret = iommu_page_request(devs[rand_r(&seed) % NDEVS], s->pasid, TBASE + PG(p),
					 rand_r(&seed) & 1);
		sm_up_read(&s->lock);
		ASSERT(ret == 0 || ret == -EFAULT || ret == -ESRCH);
	}
	return NULL;
}

static void mutate(unsigned int round)
{
	struct slot *s = &slots[round % NSLOTS];
	unsigned int p = (round / NSLOTS) % NPAGES;
	unsigned int v = atomic_load(&s->version[p]) % 60000 + 1;

	if (s->exited || round % 97 == 0) {
		/* Exit races the devices (no lock), then replace the process. */
		if (!s->exited) {
			mmput(s->mm);
			s->exited = true;
			return;
		}
		sm_down_write(&s->lock);
		slot_depopulate(s);
		memset(s->version, 0, sizeof(s->version));
		slot_populate(s);
		sm_up_write(&s->lock);
		return;
	}
	switch (round % 4) {
	case 0: /* replace the page: the old frame is freed */
		ASSERT_EQ(mm_munmap(s->mm, TBASE + PG(p), PG(1)), 0);
		ASSERT_EQ(mm_mmap(s->mm, TBASE + PG(p), PG(1), PROT_RW, MAP_PRIVATE, NULL, 0),
			  (long)(TBASE + PG(p)));
		break;
	case 1: /* discard */
		ASSERT_EQ(mm_madvise(s->mm, TBASE + PG(p), PG(1), MADV_DONTNEED), 0);
		break;
	case 2: /* protect, then open again */
		ASSERT_EQ(mm_mprotect(s->mm, TBASE + PG(p), PG(1), PROT_NONE), 0);
		ASSERT_EQ(mm_mprotect(s->mm, TBASE + PG(p), PG(1), PROT_RW), 0);
		break;
	default:
		break;
	}
	publish(s, p, v + 1);
}

TEST(iommu_stress_dma_prq_vs_mutations_and_exit)
{
	struct sm_thread dma[NDEVS * 2], prq;
	unsigned long stale = phys_stale_count();
	struct timespec t0, now;

	MM_TEST_SETUP();
	for (int d = 0; d < NDEVS; d++) {
		devs[d] = iommu_device_create("stress", 0);
		ASSERT(!IS_ERR(devs[d]));
	}
	for (int i = 0; i < NSLOTS; i++) {
		/* A process slot: held around binds, exits and DMA. */
		sm_rwsem_init(&slots[i].lock, "slot->lock", LOCK_RANK_SIM_SLOT);
		slot_populate(&slots[i]);
	}
	for (int t = 0; t < NDEVS * 2; t++)
		ASSERT_EQ(sm_thread_create(&dma[t], dma_thread, devs[t % NDEVS], "dma %d", t), 0);
	ASSERT_EQ(sm_thread_create(&prq, prq_thread, NULL, "prq"), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned int r = 1; r <= MAX_ROUNDS; r++) {
		mutate(r);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= RUN_SECONDS)
			break;
	}
	atomic_store(&stop, true);
	for (int t = 0; t < NDEVS * 2; t++)
		sm_thread_join(&dma[t]);
	sm_thread_join(&prq);

	printf("good=%lu stale=%lu exited=%lu\n", atomic_load(&good_reads),
	       atomic_load(&stale_reads), atomic_load(&exited_reads));
	ASSERT_UEQ(atomic_load(&stale_reads), 0);
	ASSERT_UEQ(phys_stale_count(), stale);
	ASSERT(atomic_load(&good_reads) > 0);
	for (int i = 0; i < NSLOTS; i++) {
		slot_depopulate(&slots[i]);
		sm_rwsem_destroy(&slots[i].lock);
	}
	for (int d = 0; d < NDEVS; d++)
		ASSERT_EQ(iommu_device_destroy(devs[d]), 0);
	mmu_notifier_synchronize();
	ASSERT_UEQ(iommu_pasid_nr_allocated(), 0); /* no PASID leak */
	/* The frame and mm leak checks run in the teardown (MM_TEST_SETUP). */
}
